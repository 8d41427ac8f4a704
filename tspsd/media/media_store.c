/*
 * media_store.c - the voicemail store: one WAV per message under
 * <data>/voicemail/<user>/<id>.wav, metadata in an LMDB environment at
 * <data>/voicemail/.meta (key "<user>/<id>", value a versioned record:
 * rec_encode() below; records written before 0.4 are the raw C struct and
 * are still read).
 *
 * A message is durable before tspsd_media__store_put_many() returns: the
 * WAV is written to <data>/voicemail/.tmp, synced, renamed into the user's
 * folder (and the folder fsynced), then the metadata committed. Any failure
 * removes what was written, so the user's folder never holds a
 * half-written file. Many messages at once (callers hanging up together)
 * share one sync of the file system, one fsync per folder and one LMDB
 * commit: a group commit.
 */
#include "media_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

struct mf_store {
    char dir[3072]; /* <data>/voicemail */
    MDB_env *env;
    MDB_dbi dbi;
    pthread_mutex_t id_lock;
    uint64_t last_id;
};

bool tspsd_media__safe_name(const char *s)
{
    size_t n = 0;

    if (s == NULL || s[0] == '\0' || s[0] == '.')
        return false;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '+' || c == '@'))
            return false;
    }
    return n < 64;
}

static int mkdir_p1(const char *path)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int tspsd_media__store_open(const char *data_dir, mf_store **out)
{
    mf_store *st = NULL;
    char path[4096];
    MDB_txn *txn = NULL;
    int rc = TSPSD_MEDIA_EIO;

    *out = NULL;
    if (data_dir == NULL || strlen(data_dir) > 2048)
        return TSPSD_MEDIA_EINVAL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return TSPSD_MEDIA_ENOMEM;
    pthread_mutex_init(&st->id_lock, NULL);
    snprintf(st->dir, sizeof(st->dir), "%s/voicemail", data_dir);
    snprintf(path, sizeof(path), "%s/.meta", st->dir);
    if (mkdir_p1(data_dir) != 0 || mkdir_p1(st->dir) != 0 ||
        mkdir_p1(path) != 0)
        goto cleanup;
    if (mdb_env_create(&st->env) != 0)
        goto cleanup;
    mdb_env_set_mapsize(st->env, (size_t)256 << 20);
    if (mdb_env_open(st->env, path, MDB_NOTLS, 0640) != 0)
        goto cleanup;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        goto cleanup;
    if (mdb_dbi_open(txn, NULL, 0, &st->dbi) != 0 || mdb_txn_commit(txn) != 0) {
        txn = NULL;
        goto cleanup;
    }
    txn = NULL;
    snprintf(path, sizeof(path), "%s/.tmp", st->dir);
    if (mkdir_p1(path) != 0)
        goto cleanup;
    *out = st;
    st = NULL;
    rc = TSPSD_MEDIA_OK;
cleanup:
    if (txn != NULL)
        mdb_txn_abort(txn);
    tspsd_media__store_close(st);
    return rc;
}

void tspsd_media__store_close(mf_store *st)
{
    if (st == NULL)
        return;
    if (st->env != NULL)
        mdb_env_close(st->env);
    pthread_mutex_destroy(&st->id_lock);
    free(st);
}

static int make_key(char *buf, size_t len, const char *user, const char *id)
{
    int n = snprintf(buf, len, "%s/%s", user, id != NULL ? id : "");

    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

/* ---- the message record: "TVM1", heard (1 byte), time (8, LE),
 * duration_ms (4, LE), then id, caller, contact, code, history_id each as
 * a 2-byte LE length and the bytes. A later version appends fields after
 * these (readers ignore what follows) or changes the magic. ---- */

#define REC_MAGIC "TVM1"
#define REC_MAX   512

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

size_t tspsd_media__rec_encode(const tspsd_media_message *m, unsigned char *b,
                               size_t len)
{
    const char *f[5] = {m->id, m->caller, m->contact, m->code, m->history_id};
    size_t o = 17;

    if (len < o)
        return 0;
    memcpy(b, REC_MAGIC, 4);
    b[4] = m->heard ? 1 : 0;
    put_le(b + 5, (uint64_t)m->time, 8);
    put_le(b + 13, m->duration_ms, 4);
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(f[i]);
        if (o + 2 + n > len)
            return 0;
        put_le(b + o, n, 2);
        memcpy(b + o + 2, f[i], n);
        o += 2 + n;
    }
    return o;
}

int tspsd_media__rec_decode(const void *data, size_t size,
                            tspsd_media_message *m)
{
    const unsigned char *b = data;
    char *f[5];
    size_t cap[5], o = 17;

    memset(m, 0, sizeof(*m));
    if (size >= 4 && memcmp(b, REC_MAGIC, 4) == 0) {
        if (size < o)
            return -1;
        f[0] = m->id, cap[0] = sizeof(m->id);
        f[1] = m->caller, cap[1] = sizeof(m->caller);
        f[2] = m->contact, cap[2] = sizeof(m->contact);
        f[3] = m->code, cap[3] = sizeof(m->code);
        f[4] = m->history_id, cap[4] = sizeof(m->history_id);
        m->heard = b[4] != 0;
        m->time = (int64_t)get_le(b + 5, 8);
        m->duration_ms = (uint32_t)get_le(b + 13, 4);
        for (int i = 0; i < 5; i++) {
            if (o + 2 > size)
                return -1;
            size_t n = (size_t)get_le(b + o, 2);
            if (n >= cap[i] || o + 2 + n > size ||
                memchr(b + o + 2, '\0', n) != NULL)
                return -1;
            memcpy(f[i], b + o + 2, n);
            o += 2 + n;
        }
        return m->id[0] != '\0' ? 0 : -1;
    }
    /* before 0.4: the struct itself (an id is hex text, never "TVM1") */
    if (size != sizeof(*m))
        return -1;
    memcpy(m, data, sizeof(*m));
    m->id[sizeof(m->id) - 1] = m->caller[sizeof(m->caller) - 1] = '\0';
    m->contact[sizeof(m->contact) - 1] = m->code[sizeof(m->code) - 1] = '\0';
    m->history_id[sizeof(m->history_id) - 1] = '\0';
    m->heard = m->heard != 0;
    return m->id[0] != '\0' ? 0 : -1;
}

/* Call fn for each readable message of `user`, oldest first (ids grow with
 * time); a record that does not decode is skipped. fn returns 0 to go on. */
static int walk(mf_store *st, const char *user,
                int (*fn)(void *arg, const tspsd_media_message *m), void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char prefix[128];
    int plen, mrc;

    if (!tspsd_media__safe_name(user))
        return TSPSD_MEDIA_EINVAL;
    plen = make_key(prefix, sizeof(prefix), user, NULL);
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    if (mdb_cursor_open(txn, st->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return TSPSD_MEDIA_EIO;
    }
    k.mv_data = prefix;
    k.mv_size = (size_t)plen;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        tspsd_media_message m;
        if (k.mv_size < (size_t)plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (tspsd_media__rec_decode(v.mv_data, v.mv_size, &m) != 0)
            continue;
        if (fn(arg, &m) != 0)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return TSPSD_MEDIA_OK;
}

typedef struct counts {
    unsigned nnew, nold;
} counts;

static int count_one(void *arg, const tspsd_media_message *m)
{
    counts *c = arg;
    if (m->heard)
        c->nold++;
    else
        c->nnew++;
    return 0;
}

int tspsd_media__store_count(mf_store *st, const char *user, unsigned *nnew,
                             unsigned *nold)
{
    counts c = {0, 0};
    int rc = walk(st, user, count_one, &c);

    *nnew = c.nnew;
    *nold = c.nold;
    return rc;
}

typedef struct lister {
    tspsd_media_message *msgs;
    size_t max, total, idx;
} lister;

static int list_count(void *arg, const tspsd_media_message *m)
{
    (void)m;
    ((lister *)arg)->total++;
    return 0;
}

static int list_fill(void *arg, const tspsd_media_message *m)
{
    lister *l = arg;
    size_t pos = l->total - 1 - l->idx++; /* newest first */

    if (pos < l->max)
        l->msgs[pos] = *m;
    return l->idx >= l->total;
}

int tspsd_media__store_list(mf_store *st, const char *user,
                            tspsd_media_message *msgs, size_t max, size_t *n)
{
    lister l = {msgs, max, 0, 0};
    int rc = walk(st, user, list_count, &l);

    *n = 0;
    if (rc == TSPSD_MEDIA_OK && l.total > 0 && max > 0)
        rc = walk(st, user, list_fill, &l);
    if (rc != TSPSD_MEDIA_OK)
        return rc;
    /* a message stored between the two walks is seen next time */
    *n = l.total;
    return l.total > max ? TSPSD_MEDIA_ENOBUFS : TSPSD_MEDIA_OK;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* One message of a group: write its WAV to .tmp (not yet synced). */
static int write_tmp(mf_store *st, mf_store_item *it, char *tmp, size_t tlen,
                     int *fdp)
{
    SF_INFO info = {.samplerate = 8000,
                    .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf;
    int fd;

    snprintf(tmp, tlen, "%s/.tmp/%s-%s.wav", st->dir, it->ci->user, it->msg.id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    *fdp = fd;
    sf = sf_open_fd(fd, SFM_WRITE, &info, 0);
    if (sf == NULL)
        return -1;
    if (sf_write_short(sf, it->pcm, (sf_count_t)it->n) != (sf_count_t)it->n) {
        sf_close(sf);
        return -1;
    }
    return sf_close(sf) == 0 ? 0 : -1;
}

static uint64_t next_id(mf_store *st)
{
    struct timespec now;
    uint64_t id;

    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&st->id_lock);
    id = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
    if (id <= st->last_id)
        id = st->last_id + 1;
    st->last_id = id;
    pthread_mutex_unlock(&st->id_lock);
    return id;
}

int tspsd_media__store_put_many(mf_store *st, mf_store_item *items, size_t n,
                                unsigned quota)
{
    char(*tmp)[4096] = NULL, (*fin)[4096] = NULL;
    int *fd = NULL, *stage = NULL; /* 0 failed, 1 tmp written, 2 renamed */
    char udir[4096], key[128];
    unsigned char rec[REC_MAX];
    MDB_txn *txn = NULL;
    MDB_val k, v;
    size_t ok = 0;
    int rc = TSPSD_MEDIA_EIO;

    if (n == 0)
        return TSPSD_MEDIA_OK;
    tmp = calloc(n, sizeof(*tmp));
    fin = calloc(n, sizeof(*fin));
    fd = calloc(n, sizeof(*fd));
    stage = calloc(n, sizeof(*stage));
    for (size_t i = 0; i < n; i++) {
        items[i].rc = TSPSD_MEDIA_EIO;
        if (fd != NULL)
            fd[i] = -1;
    }
    if (tmp == NULL || fin == NULL || fd == NULL || stage == NULL) {
        for (size_t i = 0; i < n; i++)
            items[i].rc = TSPSD_MEDIA_ENOMEM;
        rc = TSPSD_MEDIA_ENOMEM;
        goto cleanup;
    }
    /* 1. every WAV to .tmp, not yet synced */
    for (size_t i = 0; i < n; i++) {
        mf_store_item *it = &items[i];
        const tspsd_media_call_info *ci = it->ci;
        unsigned nnew, nold, here = 0;

        memset(&it->msg, 0, sizeof(it->msg));
        if (!tspsd_media__safe_name(ci->user)) {
            it->rc = TSPSD_MEDIA_EINVAL;
            continue;
        }
        for (size_t j = 0; j < i; j++) /* earlier ones of this group */
            here += stage[j] != 0 && strcmp(items[j].ci->user, ci->user) == 0;
        if (quota > 0 &&
            tspsd_media__store_count(st, ci->user, &nnew, &nold) == 0 &&
            nnew + nold + here >= quota) {
            it->rc = TSPSD_MEDIA_ENOBUFS;
            continue;
        }
        snprintf(it->msg.id, sizeof(it->msg.id), "%016" PRIx64, next_id(st));
        snprintf(it->msg.caller, sizeof(it->msg.caller), "%s", ci->caller);
        snprintf(it->msg.contact, sizeof(it->msg.contact), "%s", ci->contact);
        snprintf(it->msg.code, sizeof(it->msg.code), "%s", ci->code);
        snprintf(it->msg.history_id, sizeof(it->msg.history_id), "%s",
                 ci->history_id);
        it->msg.time = (int64_t)time(NULL);
        it->msg.duration_ms = (uint32_t)(it->n / 8);
        snprintf(udir, sizeof(udir), "%s/%s", st->dir, ci->user);
        snprintf(fin[i], sizeof(fin[i]), "%s/%s.wav", udir, it->msg.id);
        if (mkdir_p1(udir) != 0 ||
            write_tmp(st, it, tmp[i], sizeof(tmp[i]), &fd[i]) != 0)
            continue;
        stage[i] = 1;
    }
    /* 2. their data on disk: one fsync for one message, else one sync of
     * the file system for all of them (a group commit) */
    for (size_t i = 0; i < n; i++)
        ok += stage[i] != 0;
    if (ok == 1) {
        for (size_t i = 0; i < n; i++)
            if (stage[i] != 0 && fsync(fd[i]) != 0)
                stage[i] = 0;
    } else if (ok > 1) {
        size_t first = 0;
        while (stage[first] == 0)
            first++;
        if (syncfs(fd[first]) != 0)
            for (size_t i = 0; i < n; i++)
                stage[i] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (fd[i] >= 0 && close(fd[i]) != 0)
            stage[i] = 0;
        fd[i] = -1;
    }
    /* 3. into the users' folders; each folder fsynced once */
    for (size_t i = 0; i < n; i++)
        if (stage[i] == 1 && rename(tmp[i], fin[i]) == 0)
            stage[i] = 2;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        if (stage[i] != 2)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = stage[j] == 2 &&
                   strcmp(items[j].ci->user, items[i].ci->user) == 0;
        if (seen)
            continue;
        snprintf(udir, sizeof(udir), "%s/%s", st->dir, items[i].ci->user);
        if (fsync_dir(udir) != 0)
            for (size_t j = i; j < n; j++)
                if (strcmp(items[j].ci->user, items[i].ci->user) == 0 &&
                    stage[j] == 2)
                    stage[j] = -2; /* renamed, not durable: removed below */
    }
    /* 4. one LMDB commit for the group */
    ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += stage[i] == 2;
    if (ok == 0) {
        rc = TSPSD_MEDIA_EIO;
        goto cleanup;
    }
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        size_t rl;
        if (stage[i] != 2)
            continue;
        make_key(key, sizeof(key), items[i].ci->user, items[i].msg.id);
        rl = tspsd_media__rec_encode(&items[i].msg, rec, sizeof(rec));
        k.mv_data = key;
        k.mv_size = strlen(key);
        v.mv_data = rec;
        v.mv_size = rl;
        if (rl == 0 || mdb_put(txn, st->dbi, &k, &v, MDB_NOOVERWRITE) != 0) {
            mdb_txn_abort(txn);
            goto cleanup;
        }
    }
    if (mdb_txn_commit(txn) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (stage[i] == 2)
            items[i].rc = TSPSD_MEDIA_OK;
    rc = TSPSD_MEDIA_OK;
cleanup:
    for (size_t i = 0; fd != NULL && i < n; i++) {
        if (fd[i] >= 0)
            close(fd[i]);
        if (items[i].rc == TSPSD_MEDIA_OK)
            continue;
        if (tmp != NULL && tmp[i][0] != '\0') /* written, or half */
            unlink(tmp[i]);
        if (stage != NULL && (stage[i] == 2 || stage[i] == -2))
            unlink(fin[i]);
        if (items[i].rc != TSPSD_MEDIA_EINVAL &&
            items[i].rc != TSPSD_MEDIA_ENOBUFS &&
            items[i].rc != TSPSD_MEDIA_ENOMEM)
            items[i].rc = TSPSD_MEDIA_EIO;
    }
    free(tmp);
    free(fin);
    free(fd);
    free(stage);
    return rc;
}

int tspsd_media__store_put(mf_store *st, const tspsd_media_call_info *ci,
                           const int16_t *pcm, size_t n, unsigned quota,
                           tspsd_media_message *out)
{
    mf_store_item it = {.ci = ci, .pcm = pcm, .n = n};

    tspsd_media__store_put_many(st, &it, 1, quota);
    *out = it.msg;
    if (it.rc != TSPSD_MEDIA_OK)
        memset(out, 0, sizeof(*out));
    return it.rc;
}

int tspsd_media__store_open_wav(mf_store *st, const char *user, const char *id,
                                int *fd)
{
    char path[4096];

    *fd = -1;
    if (!tspsd_media__safe_name(user) || !tspsd_media__safe_name(id))
        return TSPSD_MEDIA_EINVAL;
    snprintf(path, sizeof(path), "%s/%s/%s.wav", st->dir, user, id);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return errno == ENOENT ? TSPSD_MEDIA_ENOTFOUND : TSPSD_MEDIA_EIO;
    return TSPSD_MEDIA_OK;
}

/* Update or delete one record; `del` removes the WAV after the commit. */
static int modify(mf_store *st, const char *user, const char *id, int del)
{
    char key[128], path[4096];
    MDB_txn *txn = NULL;
    MDB_val k, v;
    tspsd_media_message m;
    unsigned char rec[REC_MAX];
    int mrc;

    if (!tspsd_media__safe_name(user) || !tspsd_media__safe_name(id))
        return TSPSD_MEDIA_EINVAL;
    if (make_key(key, sizeof(key), user, id) < 0)
        return TSPSD_MEDIA_EINVAL;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    k.mv_data = key;
    k.mv_size = strlen(key);
    mrc = mdb_get(txn, st->dbi, &k, &v);
    if (mrc != 0 || tspsd_media__rec_decode(v.mv_data, v.mv_size, &m) != 0) {
        mdb_txn_abort(txn);
        return mrc == MDB_NOTFOUND ? TSPSD_MEDIA_ENOTFOUND : TSPSD_MEDIA_EIO;
    }
    if (del) {
        mrc = mdb_del(txn, st->dbi, &k, NULL);
    } else {
        m.heard = 1; /* written in today's format */
        v.mv_data = rec;
        v.mv_size = tspsd_media__rec_encode(&m, rec, sizeof(rec));
        mrc =
            v.mv_size == 0 ? MDB_BAD_VALSIZE : mdb_put(txn, st->dbi, &k, &v, 0);
    }
    if (mrc != 0) {
        mdb_txn_abort(txn);
        return TSPSD_MEDIA_EIO;
    }
    if (mdb_txn_commit(txn) != 0)
        return TSPSD_MEDIA_EIO;
    if (del) {
        snprintf(path, sizeof(path), "%s/%s/%s.wav", st->dir, user, id);
        unlink(path);
    }
    return TSPSD_MEDIA_OK;
}

int tspsd_media__store_mark(mf_store *st, const char *user, const char *id)
{
    return modify(st, user, id, 0);
}

int tspsd_media__store_delete(mf_store *st, const char *user, const char *id)
{
    return modify(st, user, id, 1);
}

/* ---- small records beside the messages (IVR menus): key "!<kind>/<user>",
 * never matching a "<user>/" message prefix ('!' is not a name char) ---- */

static int rec_key(char *buf, size_t len, const char *kind, const char *user)
{
    int n;

    if (!tspsd_media__safe_name(user))
        return -1;
    n = snprintf(buf, len, "!%s/%s", kind, user);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int tspsd_media__store_rec_put(mf_store *st, const char *kind, const char *user,
                               const void *val, size_t len)
{
    MDB_txn *txn = NULL;
    MDB_val k, v;
    char key[128];
    int kl = rec_key(key, sizeof(key), kind, user);

    if (kl < 0)
        return TSPSD_MEDIA_EINVAL;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    k.mv_data = key;
    k.mv_size = (size_t)kl;
    v.mv_data = (void *)val;
    v.mv_size = len;
    if (mdb_put(txn, st->dbi, &k, &v, 0) != 0) {
        mdb_txn_abort(txn);
        return TSPSD_MEDIA_EIO;
    }
    return mdb_txn_commit(txn) == 0 ? TSPSD_MEDIA_OK : TSPSD_MEDIA_EIO;
}

int tspsd_media__store_rec_get(mf_store *st, const char *kind, const char *user,
                               char *buf, size_t buflen, size_t *len)
{
    MDB_txn *txn = NULL;
    MDB_val k, v;
    char key[128];
    int kl = rec_key(key, sizeof(key), kind, user), rc;

    *len = 0;
    if (kl < 0)
        return TSPSD_MEDIA_EINVAL;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    k.mv_data = key;
    k.mv_size = (size_t)kl;
    rc = mdb_get(txn, st->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = TSPSD_MEDIA_ENOTFOUND;
    } else if (rc != 0) {
        rc = TSPSD_MEDIA_EIO;
    } else {
        *len = v.mv_size;
        if (v.mv_size >= buflen) {
            rc = TSPSD_MEDIA_ENOBUFS;
        } else {
            memcpy(buf, v.mv_data, v.mv_size);
            buf[v.mv_size] = '\0';
            rc = TSPSD_MEDIA_OK;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int tspsd_media__store_rec_del(mf_store *st, const char *kind, const char *user)
{
    MDB_txn *txn = NULL;
    MDB_val k;
    char key[128];
    int kl = rec_key(key, sizeof(key), kind, user), rc;

    if (kl < 0)
        return TSPSD_MEDIA_EINVAL;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    k.mv_data = key;
    k.mv_size = (size_t)kl;
    rc = mdb_del(txn, st->dbi, &k, NULL);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? TSPSD_MEDIA_ENOTFOUND : TSPSD_MEDIA_EIO;
    }
    return mdb_txn_commit(txn) == 0 ? TSPSD_MEDIA_OK : TSPSD_MEDIA_EIO;
}

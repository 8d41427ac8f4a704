/*
 * media_store.c - the voicemail store: one WAV per message under
 * <data>/voicemail/<user>/<id>.wav, metadata in an LMDB environment at
 * <data>/voicemail/.meta (key "<user>/<id>", value a tspsd_media_message).
 *
 * A message is durable before tspsd_media__store_put() returns: the WAV is
 * written to <data>/voicemail/.tmp, fsynced, renamed into the user's folder
 * (and the folder fsynced), then the metadata committed. Any failure removes
 * what was written, so the user's folder never holds a half-written file.
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

int tspsd_media__store_count(mf_store *st, const char *user, unsigned *nnew,
                             unsigned *nold)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char prefix[128];
    int plen, mrc;

    *nnew = *nold = 0;
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
        if (v.mv_size != sizeof(m))
            continue;
        memcpy(&m, v.mv_data, sizeof(m));
        if (m.heard)
            (*nold)++;
        else
            (*nnew)++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return TSPSD_MEDIA_OK;
}

int tspsd_media__store_list(mf_store *st, const char *user,
                            tspsd_media_message *msgs, size_t max, size_t *n)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char prefix[128];
    int plen, mrc;
    size_t total = 0;

    *n = 0;
    if (!tspsd_media__safe_name(user))
        return TSPSD_MEDIA_EINVAL;
    plen = make_key(prefix, sizeof(prefix), user, NULL);
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TSPSD_MEDIA_EIO;
    if (mdb_cursor_open(txn, st->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return TSPSD_MEDIA_EIO;
    }
    /* ids grow with time: count, then fill newest first */
    k.mv_data = prefix;
    k.mv_size = (size_t)plen;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < (size_t)plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (v.mv_size != sizeof(tspsd_media_message))
            continue;
        total++;
    }
    /* second pass, newest first: fill from the back */
    if (total > 0 && max > 0) {
        size_t idx = 0;
        k.mv_data = prefix;
        k.mv_size = (size_t)plen;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            size_t pos;
            if (k.mv_size < (size_t)plen ||
                memcmp(k.mv_data, prefix, plen) != 0)
                break;
            if (v.mv_size != sizeof(tspsd_media_message))
                continue;
            pos = total - 1 - idx++;
            if (pos < max)
                memcpy(&msgs[pos], v.mv_data, sizeof(*msgs));
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    *n = total;
    return total > max ? TSPSD_MEDIA_ENOBUFS : TSPSD_MEDIA_OK;
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

int tspsd_media__store_put(mf_store *st, const tspsd_media_call_info *ci,
                           const int16_t *pcm, size_t n, unsigned quota,
                           tspsd_media_message *out)
{
    char tmp[4096], udir[4096], final[4096], key[128];
    SF_INFO info = {.samplerate = 8000,
                    .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = NULL;
    MDB_txn *txn = NULL;
    MDB_val k, v;
    struct timespec now;
    uint64_t id;
    unsigned nnew, nold;
    int fd = -1, rc = TSPSD_MEDIA_EIO, renamed = 0;

    memset(out, 0, sizeof(*out));
    if (!tspsd_media__safe_name(ci->user))
        return TSPSD_MEDIA_EINVAL;
    if (quota > 0 &&
        tspsd_media__store_count(st, ci->user, &nnew, &nold) == 0 &&
        nnew + nold >= quota)
        return TSPSD_MEDIA_ENOBUFS;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&st->id_lock);
    id = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
    if (id <= st->last_id)
        id = st->last_id + 1;
    st->last_id = id;
    pthread_mutex_unlock(&st->id_lock);
    snprintf(out->id, sizeof(out->id), "%016" PRIx64, id);
    snprintf(out->caller, sizeof(out->caller), "%s", ci->caller);
    snprintf(out->contact, sizeof(out->contact), "%s", ci->contact);
    snprintf(out->code, sizeof(out->code), "%s", ci->code);
    snprintf(out->history_id, sizeof(out->history_id), "%s", ci->history_id);
    out->time = now.tv_sec;
    out->duration_ms = (uint32_t)(n / 8);

    snprintf(tmp, sizeof(tmp), "%s/.tmp/%s-%s.wav", st->dir, ci->user, out->id);
    snprintf(udir, sizeof(udir), "%s/%s", st->dir, ci->user);
    snprintf(final, sizeof(final), "%s/%s.wav", udir, out->id);
    if (mkdir_p1(udir) != 0)
        goto cleanup;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        goto cleanup;
    sf = sf_open_fd(fd, SFM_WRITE, &info, 0);
    if (sf == NULL)
        goto cleanup;
    if (sf_write_short(sf, pcm, (sf_count_t)n) != (sf_count_t)n)
        goto cleanup;
    if (sf_close(sf) != 0) {
        sf = NULL;
        goto cleanup;
    }
    sf = NULL;
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, final) != 0)
        goto cleanup;
    renamed = 1;
    if (fsync_dir(udir) != 0)
        goto cleanup;
    make_key(key, sizeof(key), ci->user, out->id);
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        goto cleanup;
    k.mv_data = key;
    k.mv_size = strlen(key);
    v.mv_data = out;
    v.mv_size = sizeof(*out);
    if (mdb_put(txn, st->dbi, &k, &v, MDB_NOOVERWRITE) != 0) {
        mdb_txn_abort(txn);
        goto cleanup;
    }
    if (mdb_txn_commit(txn) != 0)
        goto cleanup;
    rc = TSPSD_MEDIA_OK;
cleanup:
    if (sf != NULL)
        sf_close(sf);
    if (fd >= 0)
        close(fd);
    if (rc != TSPSD_MEDIA_OK) {
        unlink(tmp);
        if (renamed)
            unlink(final);
    }
    return rc;
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
    if (mrc != 0 || v.mv_size != sizeof(m)) {
        mdb_txn_abort(txn);
        return mrc == MDB_NOTFOUND ? TSPSD_MEDIA_ENOTFOUND : TSPSD_MEDIA_EIO;
    }
    if (del) {
        mrc = mdb_del(txn, st->dbi, &k, NULL);
    } else {
        memcpy(&m, v.mv_data, sizeof(m));
        m.heard = 1;
        v.mv_data = &m;
        v.mv_size = sizeof(m);
        mrc = mdb_put(txn, st->dbi, &k, &v, 0);
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

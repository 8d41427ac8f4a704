/* The imap adapter's header index: a server SEARCH FROM/TO/CC is a scan
 * of the mailbox's header cache on Dovecot (seconds at 20,000+ messages),
 * so with ?index=DIR the adapter keeps its own map from an address to the
 * messages that name it, and a lookup reads that map and asks the server
 * only about the UIDs that arrived since it was refreshed.
 *
 * Storage: one LMDB file DIR/imap-<hash of server and user>.mdb (mode
 * 0600: it holds addresses), two tables:
 *   addr  "<mailbox>\0<address>" -> sorted duplicates of 12 bytes:
 *         big-endian Date: (sign bit flipped) then big-endian UID, so a
 *         key's last duplicates are its newest mails
 *   msg   "<mailbox>\0" + big-endian UID -> the parsed message (Date:,
 *         subject, from, to, snippet, Message-ID, attachment names, the
 *         addresses with their role), so a lookup needs no FETCH: the
 *         first FETCH of a new IMAP session costs Dovecot seconds on a
 *         large mailbox, a lookup must not wait for it
 *   meta  "<mailbox>" -> {UIDVALIDITY, first UID not yet indexed}
 * Refresh, per mailbox: STATUS (UIDVALIDITY UIDNEXT); a new UIDVALIDITY
 * drops the mailbox's entries; then the UIDs from the first not indexed
 * to UIDNEXT-1 are listed 1,000 at a time (UID SEARCH UID a:b) and each
 * message's first 64 KiB fetched (the URL form ;UID=n;PARTIAL, one
 * request each on a kept connection, as a lookup without the index
 * would) and parsed with GMime; one transaction per 1,000 UIDs, with the
 * new position, so a stop loses at most that. Then the indexed UIDs are
 * listed again, 1,000 at a time, and the messages expunged since are
 * dropped.
 *
 * Threads: the background thread and cmsb_changes() refresh under
 * `rmu` with the index's own curl handle; lookups only open LMDB read
 * transactions (MDB_NOTLS) on the caller's thread, so a refresh never
 * blocks a lookup. The thread never logs (the log callback runs on the
 * caller's thread): its last error is kept for the next lookup to log. */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "imap.h"

#define IX_CHUNK    1000 /* UIDs per search and per transaction */
#define IX_MAPSIZE  ((size_t)1 << 32)
#define IX_KEY_MAX  511 /* LMDB's default key size limit */
#define IX_VAL_SIZE 12

struct im_index {
    MDB_env *env;
    MDB_dbi addr, meta, msg;
    pthread_mutex_t rmu; /* one refresh at a time */
    pthread_mutex_t mu;  /* err, the condition (stop is atomic) */
    pthread_cond_t cond;
    pthread_t thread;
    int have_thread;
    int refresh_s;
    atomic_int stop;
    char err[256];
    CURL *curl; /* the refresh's connection (under rmu) */
    char cerr[CURL_ERROR_SIZE];
};

typedef struct ix_meta {
    uint64_t uidvalidity;
    uint64_t next; /* first UID not yet indexed */
} ix_meta;

typedef struct ix_ent {
    uint64_t date; /* sign-flipped */
    uint32_t uid;
} ix_ent;

static size_t make_key(char *k, const char *mbox, const char *addr)
{
    size_t ml = strlen(mbox), al = strlen(addr);

    if (ml + 1 + al > IX_KEY_MAX)
        return 0;
    memcpy(k, mbox, ml);
    k[ml] = '\0';
    memcpy(k + ml + 1, addr, al);
    return ml + 1 + al;
}

/* "<mailbox>\0" + 4-byte big-endian UID */
static size_t msg_key(unsigned char *k, const char *mbox, unsigned long uid)
{
    size_t ml = strlen(mbox);

    memcpy(k, mbox, ml);
    k[ml] = '\0';
    im_put_be(k + ml + 1, (uint64_t)uid, 4);
    return ml + 5;
}

static void set_err(im_index *ix, const char *fmt, const char *a, const char *b)
{
    pthread_mutex_lock(&ix->mu);
    snprintf(ix->err, sizeof(ix->err), fmt, a, b);
    pthread_mutex_unlock(&ix->mu);
}

static int map_mdb(int mrc)
{
    return mrc == ENOMEM ? CMSB_ENOMEM : CMSB_EIO;
}

/* Drop every entry of one mailbox from one table (a new UIDVALIDITY). */
static int drop_prefix(MDB_txn *txn, MDB_dbi dbi, const char *mbox)
{
    size_t ml = strlen(mbox) + 1;
    MDB_cursor *cur;
    MDB_val k = {ml, (void *)mbox}, v;
    int mrc = mdb_cursor_open(txn, dbi, &cur);

    if (mrc != 0)
        return mrc;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size >= ml && memcmp(k.mv_data, mbox, ml) == 0) {
        mrc = mdb_cursor_del(cur, MDB_NODUPDATA);
        k.mv_size = ml;
        k.mv_data = (void *)mbox;
        if (mrc == 0) /* again from the prefix: the next one left */
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    return mrc == MDB_NOTFOUND ? 0 : mrc;
}

static int drop_mailbox(im_index *ix, MDB_txn *txn, const char *mbox)
{
    int mrc = drop_prefix(txn, ix->addr, mbox);

    return mrc != 0 ? mrc : drop_prefix(txn, ix->msg, mbox);
}

static int read_meta(im_index *ix, MDB_txn *txn, const char *mbox, ix_meta *m)
{
    MDB_val k = {strlen(mbox), (void *)mbox}, v;
    int mrc = mdb_get(txn, ix->meta, &k, &v);

    memset(m, 0, sizeof(*m));
    if (mrc == 0 && v.mv_size == sizeof(*m))
        memcpy(m, v.mv_data, sizeof(*m));
    return mrc == 0 && v.mv_size == sizeof(*m);
}

static int write_meta(im_index *ix, MDB_txn *txn, const char *mbox,
                      const ix_meta *m)
{
    MDB_val k = {strlen(mbox), (void *)mbox}, v = {sizeof(*m), (void *)m};

    return mdb_put(txn, ix->meta, &k, &v, 0);
}

/* Index the messages of uids[0..n) into one transaction, and the new
 * position. */
static int index_chunk(im_source *s, const im_conn *cn, const char *mbox,
                       const char *esc, const unsigned long *uids, size_t n,
                       const ix_meta *after)
{
    im_index *ix = s->ix;
    MDB_txn *txn = NULL;
    im_buf b = {0};
    char key[IX_KEY_MAX + 1];
    int mrc, rc = CMSB_OK;

    mrc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (mrc != 0)
        return map_mdb(mrc);
    for (size_t i = 0; i < n && !ix->stop; i++) {
        char url[1200];
        rel_mail m;
        CURLcode cc;
        b.n = 0;
        snprintf(url, sizeof(url), "%s/%s/;UID=%lu/;PARTIAL=0.%d", s->base_url,
                 esc, uids[i], IM_FETCH_BYTES);
        cc = im_perform(s, cn, im_now_ms() + s->timeout_ms, url, NULL, &b);
        if (cc == CURLE_REMOTE_FILE_NOT_FOUND)
            continue; /* expunged meanwhile */
        if (cc != CURLE_OK) {
            set_err(ix, "fetch in %s: %s", mbox, curl_easy_strerror(cc));
            rc = cc == CURLE_OPERATION_TIMEDOUT ? CMSB_ETIMEDOUT
                 : cc == CURLE_LOGIN_DENIED     ? CMSB_EAUTH
                                                : CMSB_EIO;
            goto out;
        }
        if (b.n == 0 || rel_mail_parse(b.p, b.n, &m) != CMSB_OK)
            continue; /* nothing readable: not indexed */
        {
            unsigned char mk[IX_KEY_MAX + 1];
            size_t rl = 0;
            unsigned char *rec = im_rec_encode(&m, &rl);
            MDB_val k = {msg_key(mk, mbox, uids[i]), mk}, v = {rl, rec};
            if (rec == NULL) {
                rel_mail_free(&m);
                rc = CMSB_ENOMEM;
                goto out;
            }
            mrc = mdb_put(txn, ix->msg, &k, &v, 0);
            free(rec);
            if (mrc != 0) {
                rel_mail_free(&m);
                rc = map_mdb(mrc);
                goto out;
            }
        }
        for (size_t a = 0; a < m.naddrs; a++) {
            unsigned char val[IX_VAL_SIZE];
            size_t kl = make_key(key, mbox, m.addrs[a]);
            MDB_val k = {kl, key}, v = {sizeof(val), val};
            if (kl == 0 || m.addrs[a][0] == '\0')
                continue;
            im_put_be(val, im_flip(m.date), 8);
            im_put_be(val + 8, (uint64_t)uids[i], 4);
            mrc = mdb_put(txn, ix->addr, &k, &v, MDB_NODUPDATA);
            if (mrc != 0 && mrc != MDB_KEYEXIST) {
                rel_mail_free(&m);
                rc = map_mdb(mrc);
                goto out;
            }
        }
        rel_mail_free(&m);
    }
    if (ix->stop) {
        rc = CMSB_ECANCELED;
        goto out;
    }
    mrc = write_meta(ix, txn, mbox, after);
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc != 0)
        rc = map_mdb(mrc);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    free(b.p);
    return rc;
}

static int sweep(im_source *s, const im_conn *cn, const char *mbox,
                 const char *url, unsigned long next);

static int refresh_mailbox(im_source *s, const im_conn *cn, const char *mbox)
{
    im_index *ix = s->ix;
    char *esc = curl_easy_escape(cn->curl, mbox, 0);
    char url[1024], cmd[320];
    im_buf b = {0};
    ix_meta m, now;
    unsigned long uidnext;
    MDB_txn *txn = NULL;
    CURLcode cc;
    int mrc, rc = CMSB_OK;

    if (esc == NULL)
        return CMSB_ENOMEM;
    if (strchr(mbox, '"') != NULL || strlen(mbox) > 255)
        goto out; /* not searchable either: see one_mailbox() */
    snprintf(url, sizeof(url), "%s/%s", s->base_url, esc);
    snprintf(cmd, sizeof(cmd), "STATUS \"%s\" (UIDVALIDITY UIDNEXT)", mbox);
    /* NOOP first: on a kept connection the mailbox may be selected, and
     * STATUS would answer from before the server noticed new mail */
    cc = im_perform(s, cn, im_now_ms() + s->timeout_ms, url, "NOOP", &b);
    b.n = 0;
    if (cc == CURLE_OK)
        cc = im_perform(s, cn, im_now_ms() + s->timeout_ms, url, cmd, &b);
    if (cc == CURLE_QUOTE_ERROR || cc == CURLE_REMOTE_FILE_NOT_FOUND ||
        (cc == CURLE_LOGIN_DENIED && strstr(cn->err, "Select failed")))
        goto out; /* no such mailbox */
    if (cc != CURLE_OK) {
        set_err(ix, "status of %s: %s", mbox, curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? CMSB_ETIMEDOUT
             : cc == CURLE_LOGIN_DENIED     ? CMSB_EAUTH
                                            : CMSB_EIO;
        goto out;
    }
    now.uidvalidity = im_parse_num(b.p, "UIDVALIDITY ");
    uidnext = im_parse_num(b.p, "UIDNEXT ");
    if (now.uidvalidity == 0 || uidnext == 0) {
        set_err(ix, "status of %s: %s", mbox, "no UIDVALIDITY/UIDNEXT");
        rc = CMSB_EIO;
        goto out;
    }
    mrc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (mrc == 0 &&
        (!read_meta(ix, txn, mbox, &m) || m.uidvalidity != now.uidvalidity)) {
        m.uidvalidity = now.uidvalidity;
        m.next = 1;
        mrc = drop_mailbox(ix, txn, mbox);
        if (mrc == 0)
            mrc = write_meta(ix, txn, mbox, &m);
    }
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc != 0) {
        rc = map_mdb(mrc);
        goto out;
    }
    while (m.next < uidnext && !ix->stop) {
        unsigned long hi = m.next + IX_CHUNK - 1, *uids = NULL;
        size_t n;
        if (hi >= uidnext)
            hi = uidnext - 1;
        b.n = 0;
        snprintf(cmd, sizeof(cmd), "UID SEARCH UID %lu:%lu",
                 (unsigned long)m.next, hi);
        cc = im_perform(s, cn, im_now_ms() + s->timeout_ms, url, cmd, &b);
        if (cc != CURLE_OK) {
            set_err(ix, "listing %s: %s", mbox, curl_easy_strerror(cc));
            rc = CMSB_EIO;
            goto out;
        }
        n = im_parse_search(b.p ? b.p : "", &uids);
        if (n == (size_t)-1) {
            rc = CMSB_ENOMEM;
            goto out;
        }
        now = m;
        now.next = hi + 1;
        rc = index_chunk(s, cn, mbox, esc, uids, n, &now);
        free(uids);
        if (rc != CMSB_OK)
            goto out;
        m = now;
    }
    if (rc == CMSB_OK && !ix->stop)
        rc = sweep(s, cn, mbox, url, (unsigned long)m.next);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    curl_free(esc);
    free(b.p);
    return rc;
}

static int cmp_ul(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

/* Remove one message's record and its address entries (cursor on it). */
static int drop_msg(im_index *ix, MDB_txn *txn, MDB_cursor *cur,
                    const char *mbox, unsigned long uid, const MDB_val *rec)
{
    rel_mail m;
    char key[IX_KEY_MAX + 1];
    int d = im_rec_decode(rec->mv_data, rec->mv_size, &m), mrc;

    if (d < 0)
        return ENOMEM;
    for (size_t a = 0; d == 1 && a < m.naddrs; a++) {
        unsigned char val[IX_VAL_SIZE];
        size_t kl = make_key(key, mbox, m.addrs[a]);
        MDB_val k = {kl, key}, v = {sizeof(val), val};
        if (kl == 0)
            continue;
        im_put_be(val, im_flip(m.date), 8);
        im_put_be(val + 8, (uint64_t)uid, 4);
        mrc = mdb_del(txn, ix->addr, &k, &v);
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            rel_mail_free(&m);
            return mrc;
        }
    }
    if (d == 1)
        rel_mail_free(&m);
    return mdb_cursor_del(cur, 0);
}

/* Drop the messages expunged since they were indexed: the indexed UIDs
 * are listed on the server again, 1,000 at a time (ranges without an
 * indexed message are skipped). */
static int sweep(im_source *s, const im_conn *cn, const char *mbox,
                 const char *url, unsigned long next)
{
    im_index *ix = s->ix;
    size_t ml = strlen(mbox) + 1;
    unsigned long a = 1;
    im_buf b = {0};
    int rc = CMSB_OK;

    while (a < next && !ix->stop && rc == CMSB_OK) {
        unsigned char mk[IX_KEY_MAX + 1];
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        unsigned long hi, *live = NULL;
        size_t nlive;
        char cmd[64];
        CURLcode cc;
        int mrc;

        /* the first indexed UID at or after a */
        k.mv_size = msg_key(mk, mbox, a);
        k.mv_data = mk;
        mrc = mdb_txn_begin(ix->env, NULL, 0, &txn);
        if (mrc == 0)
            mrc = mdb_cursor_open(txn, ix->msg, &cur);
        if (mrc == 0)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == MDB_NOTFOUND ||
            (mrc == 0 && (k.mv_size != ml + 4 || memcmp(k.mv_data, mbox, ml))))
            mrc = MDB_NOTFOUND; /* nothing more in this mailbox */
        if (mrc != 0) {
            mdb_txn_abort(txn);
            rc = mrc == MDB_NOTFOUND ? CMSB_OK : map_mdb(mrc);
            break;
        }
        a = (unsigned long)im_get_be((const unsigned char *)k.mv_data + ml, 4);
        hi = a + IX_CHUNK - 1;
        /* the server's answer comes first: no transaction held over I/O */
        mdb_txn_abort(txn);
        b.n = 0;
        snprintf(cmd, sizeof(cmd), "UID SEARCH UID %lu:%lu", a, hi);
        cc = im_perform(s, cn, im_now_ms() + s->timeout_ms, url, cmd, &b);
        if (cc != CURLE_OK) {
            set_err(ix, "listing %s: %s", mbox, curl_easy_strerror(cc));
            rc = CMSB_EIO;
            break;
        }
        nlive = im_parse_search(b.p ? b.p : "", &live);
        if (nlive == (size_t)-1) {
            rc = CMSB_ENOMEM;
            break;
        }
        if (nlive > 1)
            qsort(live, nlive, sizeof(*live), cmp_ul);
        k.mv_size = msg_key(mk, mbox, a);
        k.mv_data = mk;
        mrc = mdb_txn_begin(ix->env, NULL, 0, &txn);
        if (mrc == 0)
            mrc = mdb_cursor_open(txn, ix->msg, &cur);
        if (mrc == 0)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (mrc == 0 && k.mv_size == ml + 4 &&
               memcmp(k.mv_data, mbox, ml) == 0) {
            unsigned long uid = (unsigned long)im_get_be(
                (const unsigned char *)k.mv_data + ml, 4);
            if (uid > hi)
                break;
            if (nlive == 0 ||
                bsearch(&uid, live, nlive, sizeof(*live), cmp_ul) == NULL) {
                mrc = drop_msg(ix, txn, cur, mbox, uid, &v);
                if (mrc != 0)
                    break;
                k.mv_size = msg_key(mk, mbox, uid + 1);
                k.mv_data = mk;
                mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                continue;
            }
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        free(live);
        if (mrc == 0 || mrc == MDB_NOTFOUND)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (mrc != 0)
            rc = map_mdb(mrc);
        a = hi + 1;
    }
    free(b.p);
    return rc;
}

int im_index_mail(im_source *s, const char *mbox, unsigned long uidvalidity,
                  unsigned long uid, rel_mail *m)
{
    im_index *ix = s->ix;
    unsigned char mk[IX_KEY_MAX + 1];
    MDB_txn *txn;
    MDB_val k, v;
    int mrc, rc;

    memset(m, 0, sizeof(*m));
    if (strlen(mbox) > 255)
        return 0;
    k.mv_size = msg_key(mk, mbox, uid);
    k.mv_data = mk;
    mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0)
        return map_mdb(mrc);
    {
        /* only under the UIDVALIDITY the message was indexed with: after
         * a new one, UID n is another message */
        ix_meta meta;
        if (uidvalidity == 0 || !read_meta(ix, txn, mbox, &meta) ||
            meta.uidvalidity != uidvalidity) {
            mdb_txn_abort(txn);
            return 0;
        }
    }
    mrc = mdb_get(txn, ix->msg, &k, &v);
    if (mrc == 0)
        rc = im_rec_decode(v.mv_data, v.mv_size, m);
    else
        rc = mrc == MDB_NOTFOUND ? 0 : map_mdb(mrc);
    mdb_txn_abort(txn);
    return rc;
}

int im_index_refresh(im_source *s)
{
    im_index *ix = s->ix;
    im_conn cn;
    int rc = CMSB_OK;

    pthread_mutex_lock(&ix->rmu);
    cn = (im_conn){ix->curl, ix->cerr, &ix->stop};
    for (size_t i = 0; i < s->nmbox && rc == CMSB_OK && !ix->stop; i++)
        rc = refresh_mailbox(s, &cn, s->mbox[i]);
    pthread_mutex_unlock(&ix->rmu);
    if (rc == CMSB_OK && ix->stop)
        rc = CMSB_ECANCELED;
    return rc;
}

static void *ix_thread(void *arg)
{
    im_source *s = arg;
    im_index *ix = s->ix;

    for (;;) {
        struct timespec ts;
        im_index_refresh(s);
        pthread_mutex_lock(&ix->mu);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ix->refresh_s;
        while (!ix->stop &&
               pthread_cond_timedwait(&ix->cond, &ix->mu, &ts) != ETIMEDOUT)
            ;
        if (ix->stop) {
            pthread_mutex_unlock(&ix->mu);
            return NULL;
        }
        pthread_mutex_unlock(&ix->mu);
    }
}

static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

int im_index_open(im_source *s, const char *dir, int refresh_s)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    im_index *ix = calloc(1, sizeof(*ix));
    char path[1200];
    MDB_txn *txn = NULL;
    int mrc;

    if (ix == NULL)
        return CMSB_ENOMEM;
    s->ix = ix;
    ix->refresh_s = refresh_s;
    atomic_init(&ix->stop, 0);
    pthread_mutex_init(&ix->rmu, NULL);
    pthread_mutex_init(&ix->mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ix->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    ix->curl = curl_easy_init();
    if (ix->curl == NULL)
        return CMSB_ENOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cmsb_source_log(&s->base, TSPS_LOG_ERROR,
                        "msg=\"imap: index folder not created\" dir=\"%s\" "
                        "reason=\"%s\"",
                        dir, strerror(errno));
        return CMSB_EIO;
    }
    snprintf(
        path, sizeof(path), "%s/imap-%016llx.mdb", dir,
        (unsigned long long)fnv(s->base_url, o->username ? o->username : ""));
    mrc = mdb_env_create(&ix->env);
    if (mrc == 0)
        mrc = mdb_env_set_maxdbs(ix->env, 3);
    if (mrc == 0)
        mrc = mdb_env_set_mapsize(ix->env, IX_MAPSIZE);
    if (mrc == 0)
        mrc = mdb_env_open(ix->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    if (mrc == 0)
        mrc = mdb_txn_begin(ix->env, NULL, 0, &txn);
    if (mrc == 0)
        mrc = mdb_dbi_open(txn, "addr", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                           &ix->addr);
    if (mrc == 0)
        mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta);
    if (mrc == 0)
        mrc = mdb_dbi_open(txn, "msg", MDB_CREATE, &ix->msg);
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (mrc != 0) {
        cmsb_source_log(&s->base, TSPS_LOG_ERROR,
                        "msg=\"imap: index not opened\" file=\"%s\" "
                        "reason=\"%s\"",
                        path, mdb_strerror(mrc));
        return map_mdb(mrc);
    }
    if (refresh_s > 0) {
        if (pthread_create(&ix->thread, NULL, ix_thread, s) != 0)
            return CMSB_EIO;
        ix->have_thread = 1;
    }
    return CMSB_OK;
}

void im_index_close(im_source *s)
{
    im_index *ix = s->ix;

    if (ix == NULL)
        return;
    if (ix->have_thread) {
        pthread_mutex_lock(&ix->mu);
        atomic_store(&ix->stop, 1);
        pthread_cond_signal(&ix->cond);
        pthread_mutex_unlock(&ix->mu);
        pthread_join(ix->thread, NULL);
    }
    if (ix->env != NULL)
        mdb_env_close(ix->env);
    if (ix->curl != NULL)
        curl_easy_cleanup(ix->curl);
    pthread_cond_destroy(&ix->cond);
    pthread_mutex_destroy(&ix->mu);
    pthread_mutex_destroy(&ix->rmu);
    free(ix);
    s->ix = NULL;
}

int im_index_take_error(im_source *s, char *buf, size_t len)
{
    im_index *ix = s->ix;
    int had;

    pthread_mutex_lock(&ix->mu);
    had = ix->err[0] != '\0';
    if (had)
        snprintf(buf, len, "%s", ix->err);
    ix->err[0] = '\0';
    pthread_mutex_unlock(&ix->mu);
    return had;
}

static int cmp_ent_desc(const void *a, const void *b)
{
    const ix_ent *x = a, *y = b;

    if (x->date != y->date)
        return x->date < y->date ? 1 : -1;
    return x->uid < y->uid ? 1 : x->uid > y->uid ? -1 : 0;
}

int im_index_lookup(im_source *s, const char *mbox, unsigned long uidvalidity,
                    const rel_who *w, int64_t since, int64_t until, size_t max,
                    unsigned long **uids, size_t *n, unsigned long *next)
{
    im_index *ix = s->ix;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    ix_meta m;
    ix_ent *v = NULL;
    size_t nv = 0, cap = 0;
    char key[IX_KEY_MAX + 1];
    int mrc, rc = 1;

    *uids = NULL;
    *n = 0;
    *next = 0;
    mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0)
        return map_mdb(mrc);
    if (!read_meta(ix, txn, mbox, &m) || uidvalidity == 0 ||
        m.uidvalidity != uidvalidity) {
        rc = 0;
        goto out;
    }
    *next = (unsigned long)m.next;
    mrc = mdb_cursor_open(txn, ix->addr, &cur);
    if (mrc != 0) {
        rc = map_mdb(mrc);
        goto out;
    }
    for (size_t a = 0; a < w->nemails; a++) {
        size_t kl = make_key(key, mbox, w->emails[a]), taken = 0;
        MDB_val k = {kl, key}, d;
        if (kl == 0)
            continue;
        mrc = mdb_cursor_get(cur, &k, &d, MDB_SET);
        if (mrc == 0)
            mrc = mdb_cursor_get(cur, &k, &d, MDB_LAST_DUP);
        for (; mrc == 0 && taken < max;
             mrc = mdb_cursor_get(cur, &k, &d, MDB_PREV_DUP)) {
            ix_ent e;
            int64_t date;
            if (d.mv_size != IX_VAL_SIZE)
                continue;
            e.date = im_get_be(d.mv_data, 8);
            e.uid =
                (uint32_t)im_get_be((const unsigned char *)d.mv_data + 8, 4);
            date = im_unflip(e.date);
            if (until != 0 && date >= until)
                continue;
            if (since != 0 && date < since)
                break;
            if (nv == cap) {
                size_t nc = cap ? cap * 2 : 64;
                ix_ent *nn = realloc(v, nc * sizeof(*nn));
                if (nn == NULL) {
                    rc = CMSB_ENOMEM;
                    goto out;
                }
                v = nn;
                cap = nc;
            }
            v[nv++] = e;
            taken++;
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = map_mdb(mrc);
            goto out;
        }
    }
    if (nv > 0) {
        unsigned long *u = malloc(nv * sizeof(*u));
        size_t k = 0;
        if (u == NULL) {
            rc = CMSB_ENOMEM;
            goto out;
        }
        qsort(v, nv, sizeof(*v), cmp_ent_desc);
        for (size_t i = 0; i < nv && k < max; i++) {
            int dup = 0;
            for (size_t j = 0; j < k && !dup; j++)
                dup = u[j] == v[i].uid;
            if (!dup)
                u[k++] = v[i].uid;
        }
        *uids = u;
        *n = k;
    }
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(v);
    if (rc < 0) {
        free(*uids);
        *uids = NULL;
        *n = 0;
    }
    return rc;
}

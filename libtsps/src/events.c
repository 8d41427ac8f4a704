/* Calendar event instances and write batches.
 *
 * An event is stored as pieces of at most TSPS__EV_CHUNK seconds, each keyed
 * by (user, piece end, uid hash) and carrying the whole event. Routing asks
 * "what overlaps now or starts within the window": seek to the first piece
 * ending after now and walk until piece ends pass now + window + chunk; no
 * piece beyond that can start in the window. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static void ev_key(uint8_t kb[20], uint32_t uid, int64_t end, uint64_t h)
{
    tsps__be32(kb, uid);
    tsps__be64(kb + 4, (uint64_t)end);
    tsps__be64(kb + 12, h);
}

static size_t evuid_key(uint8_t *kb, uint32_t uid, const char *euid)
{
    size_t n = strlen(euid);
    tsps__be32(kb, uid);
    memcpy(kb + 4, euid, n);
    return 4 + n;
}

void tsps_event_init(tsps_event *e)
{
    if (e == NULL)
        return;
    memset(e, 0, sizeof(*e));
    e->version = TSPS_EVENT_VERSION;
}

int tsps__event_del_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const char *euid)
{
    uint8_t kb[4 + TSPS_UID_MAX], ek[20];
    MDB_val k = {evuid_key(kb, uid, euid), kb}, v;
    uint64_t h = tsps__fnv64(euid, strlen(euid));
    int rc = mdb_get(txn, eng->dbi[DB_EVUID], &k, &v);

    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    tsps__uj_mark(eng, uid);
    for (size_t off = 0; off + 8 <= v.mv_size; off += 8) {
        MDB_val k2 = {20, ek};
        ev_key(ek, uid, (int64_t)tsps__rd64((uint8_t *)v.mv_data + off), h);
        rc = mdb_del(txn, eng->dbi[DB_EVENTS], &k2, NULL);
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
            return tsps__mdb_err(rc);
    }
    return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_EVUID], &k, NULL));
}

static int check_event(const tsps_event *e)
{
    if (e->version < 1 || e->version > TSPS_EVENT_VERSION)
        return TSPS_EVERSION;
    if (strnlen(e->uid, TSPS_UID_MAX) == 0 ||
        strnlen(e->uid, TSPS_UID_MAX) == TSPS_UID_MAX ||
        strnlen(e->source, TSPS_SOURCE_MAX) == TSPS_SOURCE_MAX ||
        strnlen(e->summary, TSPS_NAME_MAX) == TSPS_NAME_MAX || e->start < 0 ||
        e->end <= e->start || e->end - e->start > 400LL * 86400 ||
        (unsigned)e->busy > 3 || e->nattendees > TSPS_MAX_ATTENDEES)
        return TSPS_EINVAL;
    for (int i = 0; i < e->nattendees; i++)
        if (strnlen(e->attendees[i], TSPS_EMAIL_MAX) == TSPS_EMAIL_MAX)
            return TSPS_EINVAL;
    return TSPS_OK;
}

int tsps__event_put_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const tsps_event *in)
{
    tsps_event e;
    uint8_t vb[8192], kb[4 + TSPS_UID_MAX], ek[20];
    uint8_t *ends = NULL;
    tsps__wbuf w = {vb, sizeof(vb), 0, 0};
    uint64_t h;
    size_t nchunks, i = 0;
    MDB_val k, v;
    int rc = check_event(in);

    if (rc != TSPS_OK)
        return rc;
    e = *in;
    for (int a = 0; a < e.nattendees; a++)
        for (char *p = e.attendees[a]; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    rc = tsps__event_del_txn(eng, txn, uid, e.uid);
    if (rc != TSPS_OK && rc != TSPS_ENOTFOUND)
        return rc;
    tsps__enc_event(&w, &e);
    if (w.overflow)
        return TSPS_EINVAL;
    tsps__uj_mark(eng, uid);
    h = tsps__fnv64(e.uid, strlen(e.uid));
    nchunks = (size_t)((e.end - e.start + TSPS__EV_CHUNK - 1) / TSPS__EV_CHUNK);
    ends = tsps__malloc(eng, nchunks * 8);
    if (ends == NULL)
        return TSPS_ENOMEM;
    for (int64_t cs = e.start; cs < e.end; cs += TSPS__EV_CHUNK, i++) {
        int64_t ce = cs + TSPS__EV_CHUNK < e.end ? cs + TSPS__EV_CHUNK : e.end;
        ev_key(ek, uid, ce, h);
        k.mv_size = 20;
        k.mv_data = ek;
        v.mv_size = w.len;
        v.mv_data = vb;
        rc = mdb_put(txn, eng->dbi[DB_EVENTS], &k, &v, 0);
        if (rc != MDB_SUCCESS)
            goto out;
        tsps__be64(ends + i * 8, (uint64_t)ce);
    }
    k.mv_size = evuid_key(kb, uid, e.uid);
    k.mv_data = kb;
    v.mv_size = nchunks * 8;
    v.mv_data = ends;
    rc = mdb_put(txn, eng->dbi[DB_EVUID], &k, &v, 0);
out:
    tsps__free(eng, ends);
    return tsps__mdb_err(rc);
}

struct ev_arg {
    const char *user_id;
    const tsps_event *e;
    const char *euid;
};

static int event_put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct ev_arg *a = arg;
    uint32_t uid;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    return rc == TSPS_OK ? tsps__event_put_txn(eng, txn, uid, a->e) : rc;
}

int tsps_event_put(tsps_engine *eng, const char *user_id, const tsps_event *e)
{
    struct ev_arg a = {user_id, e, NULL};
    if (eng == NULL || e == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, event_put_fn, &a);
}

static int event_del_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct ev_arg *a = arg;
    uint32_t uid;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    return rc == TSPS_OK ? tsps__event_del_txn(eng, txn, uid, a->euid) : rc;
}

int tsps_event_delete(tsps_engine *eng, const char *user_id, const char *uid)
{
    struct ev_arg a = {user_id, NULL, uid};
    if (eng == NULL || !tsps__valid_id(user_id) || uid == NULL ||
        uid[0] == '\0' || strnlen(uid, TSPS_UID_MAX) == TSPS_UID_MAX)
        return TSPS_EINVAL;
    return tsps__write(eng, 0, event_del_fn, &a);
}

int tsps_event_list(tsps_engine *eng, const char *user_id, int64_t from,
                    int64_t to, tsps_event_cb cb, void *arg)
{
    tsps__user_read ur;
    MDB_val k, v;
    uint8_t kb[20];
    tsps_event e;
    int rc;

    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id) || from < 0 ||
        to <= from)
        return TSPS_EINVAL;
    rc = tsps__user_read_begin(eng, user_id, DB_EVENTS, &ur);
    if (rc != TSPS_OK)
        return rc;
    ev_key(kb, ur.uid, from + 1, 0);
    k.mv_size = 20;
    k.mv_data = kb;
    rc = mdb_cursor_get(ur.cur, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && k.mv_size == 20 &&
           tsps__rd32(k.mv_data) == ur.uid) {
        int64_t ce = (int64_t)tsps__rd64((uint8_t *)k.mv_data + 4);
        if (ce > to + TSPS__EV_CHUNK)
            break;
        if (tsps__dec_event(v.mv_data, v.mv_size, &e) == TSPS_OK &&
            e.start < to && e.end > from) {
            /* Report each event once: from the piece holding the first
             * instant of it inside the window. */
            int64_t p = e.start > from ? e.start : from;
            int64_t piece_start =
                e.start +
                ((ce - e.start - 1) / TSPS__EV_CHUNK) * TSPS__EV_CHUNK;
            if (piece_start <= p && p < ce && cb(arg, &e) != 0)
                break;
        }
        rc = mdb_cursor_get(ur.cur, &k, &v, MDB_NEXT);
    }
    return tsps__user_read_end(eng, &ur, rc);
}

/* ---- batches
 * ------------------------------------------------------------------ */

int tsps_batch_begin(tsps_engine *eng, tsps_batch **out)
{
    tsps_batch *b;
    int rc;

    if (out == NULL)
        return TSPS_EINVAL;
    *out = NULL;
    if (eng == NULL)
        return TSPS_EINVAL;
    if (eng->flags & TSPS_OPEN_RDONLY)
        return TSPS_ESTATE;
    if (atomic_load(&eng->batch_owner) == (unsigned long)pthread_self())
        return TSPS_EBUSY; /* one batch per thread at a time */
    b = tsps__calloc(eng, 1, sizeof(*b));
    if (b == NULL)
        return TSPS_ENOMEM;
    b->eng = eng;
    pthread_mutex_lock(&eng->wlock);
    {
        MDB_envinfo info;
        MDB_stat st;
        mdb_env_info(eng->env, &info);
        mdb_env_stat(eng->env, &st);
        if ((uint64_t)(info.me_last_pgno + 1) * st.ms_psize >
            (uint64_t)eng->map_size / 2)
            tsps__grow(eng);
    }
    rc = mdb_txn_begin(eng->env, NULL, 0, &b->txn);
    if (rc != MDB_SUCCESS) {
        pthread_mutex_unlock(&eng->wlock);
        tsps__free(eng, b);
        return tsps__mdb_err(rc);
    }
    tsps__cj_reset(eng);
    tsps__uj_reset(eng);
    eng->open_batch = b;
    atomic_store(&eng->batch_owner, (unsigned long)pthread_self());
    *out = b;
    return TSPS_OK;
}

static int batch_user(tsps_batch *b, const char *user_id)
{
    int rc;
    if (b == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    if (b->failed)
        return TSPS_ESTATE;
    if (strcmp(b->user_id, user_id) == 0)
        return TSPS_OK;
    rc = tsps__uid(b->eng, b->txn, user_id, &b->uid);
    if (rc == TSPS_OK)
        rc = tsps__user_load(b->eng, b->txn, b->uid, &b->user);
    if (rc == TSPS_OK)
        strcpy(b->user_id, user_id);
    else
        b->user_id[0] = '\0';
    return rc;
}

/* A storage failure poisons the batch: LMDB's txn may be unusable. */
int tsps__batch_result(tsps_batch *b, int rc)
{
    if (rc == TSPS_ESTORE || rc == TSPS_ENOSPC || rc == TSPS_ENOMEM)
        b->failed = rc;
    return rc;
}

int tsps_batch_contact_put(tsps_batch *b, const char *user_id,
                           const tsps_contact *c)
{
    int rc = batch_user(b, user_id);
    if (rc != TSPS_OK)
        return rc;
    if (c == NULL)
        return TSPS_EINVAL;
    return tsps__batch_result(
        b, tsps__contact_put_txn(b->eng, b->txn, b->uid, &b->user, c, b));
}

int tsps_batch_contact_delete(tsps_batch *b, const char *user_id,
                              const char *uid)
{
    int rc = batch_user(b, user_id);
    if (rc != TSPS_OK)
        return rc;
    char key[TSPS_UID_MAX];
    if (uid == NULL || uid[0] == '\0')
        return TSPS_EINVAL;
    rc = tsps__batch_flush(b);
    if (rc == TSPS_OK) /* the whole uid or its key, as tsps_contact_delete */
        rc = tsps__contact_del_txn(
            b->eng, b->txn, b->uid,
            tsps__contact_lookup_uid(b->eng, b->txn, b->uid, uid, key));
    return tsps__batch_result(b, rc == TSPS_ENOTFOUND ? TSPS_OK : rc);
}

int tsps_batch_event_put(tsps_batch *b, const char *user_id,
                         const tsps_event *e)
{
    int rc = batch_user(b, user_id);
    if (rc != TSPS_OK)
        return rc;
    if (e == NULL)
        return TSPS_EINVAL;
    return tsps__batch_result(b,
                              tsps__event_put_txn(b->eng, b->txn, b->uid, e));
}

int tsps_batch_event_delete(tsps_batch *b, const char *user_id, const char *uid)
{
    int rc = batch_user(b, user_id);
    if (rc != TSPS_OK)
        return rc;
    if (uid == NULL || uid[0] == '\0' ||
        strnlen(uid, TSPS_UID_MAX) == TSPS_UID_MAX)
        return TSPS_EINVAL;
    rc = tsps__event_del_txn(b->eng, b->txn, b->uid, uid);
    return tsps__batch_result(b, rc == TSPS_ENOTFOUND ? TSPS_OK : rc);
}

/* Collect then delete: deleting while walking one DB and writing others
 * keeps the cursor logic simple. Contacts (events == 0) or events of one
 * source; an event's pieces are adjacent enough that a look back over the
 * last few uids drops most repeats, and a repeat that slips through is
 * harmless (already deleted). */
static int clear_source(tsps_batch *b, const char *source, int events)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t pfx[4];
    char(*uids)[TSPS_UID_MAX] = NULL;
    size_t n = 0, cap = 0;
    int rc;

    rc = tsps__batch_flush(b);
    if (rc != TSPS_OK)
        return rc;
    tsps__be32(pfx, b->uid);
    rc = mdb_cursor_open(b->txn, b->eng->dbi[events ? DB_EVENTS : DB_CONTACTS],
                         &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    k.mv_size = 4;
    k.mv_data = pfx;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && k.mv_size > 4 &&
           memcmp(k.mv_data, pfx, 4) == 0) {
        union {
            tsps_contact c;
            tsps_event e;
        } u;
        const char *src = events ? u.e.source : u.c.source;
        const char *uid = events ? u.e.uid : u.c.uid;
        int ok = events ? tsps__dec_event(v.mv_data, v.mv_size, &u.e)
                        : tsps__dec_contact(v.mv_data, v.mv_size, &u.c);
        int seen = 0;
        if (ok == TSPS_OK && strcmp(src, source) == 0) {
            for (size_t i = n; i > 0 && i + 8 > n && !seen; i--)
                seen = strcmp(uids[i - 1], uid) == 0;
            if (!seen && n == cap) {
                void *nu;
                cap = cap ? cap * 2 : 64;
                nu = realloc(uids, cap * sizeof(*uids));
                if (nu == NULL) {
                    rc = ENOMEM;
                    break;
                }
                uids = nu;
            }
            if (!seen)
                strcpy(uids[n++], uid);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    rc = rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
    for (size_t i = 0; i < n && rc == TSPS_OK; i++) {
        rc = events ? tsps__event_del_txn(b->eng, b->txn, b->uid, uids[i])
                    : tsps__contact_del_txn(b->eng, b->txn, b->uid, uids[i]);
        if (rc == TSPS_ENOTFOUND)
            rc = TSPS_OK;
    }
    free(uids);
    return rc;
}

int tsps_batch_source_clear(tsps_batch *b, const char *user_id,
                            const char *source, int contacts, int events)
{
    int rc = batch_user(b, user_id);
    if (rc != TSPS_OK)
        return rc;
    if (source == NULL || strnlen(source, TSPS_SOURCE_MAX) == TSPS_SOURCE_MAX)
        return TSPS_EINVAL;
    if (contacts)
        rc = clear_source(b, source, 0);
    if (rc == TSPS_OK && events)
        rc = clear_source(b, source, 1);
    return tsps__batch_result(b, rc);
}

int tsps_batch_cursor_set(tsps_batch *b, const char *key, const void *val,
                          size_t len)
{
    MDB_val k, v;
    size_t kl;
    if (b == NULL || key == NULL || (val == NULL && len != 0))
        return TSPS_EINVAL;
    if (b->failed)
        return TSPS_ESTATE;
    kl = strnlen(key, 500);
    if (kl == 0 || kl == 500 || len > (4u << 20))
        return TSPS_EINVAL;
    k.mv_size = kl;
    k.mv_data = (void *)key;
    v.mv_size = len;
    v.mv_data = (void *)val;
    return tsps__batch_result(
        b, tsps__mdb_err(mdb_put(b->txn, b->eng->dbi[DB_CURSORS], &k, &v, 0)));
}

int tsps_batch_commit(tsps_batch *b)
{
    tsps_engine *eng;
    int rc;
    if (b == NULL)
        return TSPS_EINVAL;
    eng = b->eng;
    if (!b->failed)
        tsps__batch_flush(b);
    if (b->ccur != NULL)
        mdb_cursor_close(b->ccur);
    atomic_store(&eng->batch_owner, 0);
    eng->open_batch = NULL;
    if (b->failed) {
        rc = b->failed;
        mdb_txn_abort(b->txn);
    } else {
        rc = tsps__mdb_err(mdb_txn_commit(b->txn));
    }
    if (rc == TSPS_OK) {
        tsps__cj_commit(eng);
        tsps__uj_commit(eng);
    } else {
        tsps__cj_reset(eng);
        tsps__uj_reset(eng);
    }
    if (rc == TSPS_OK && b->config_dirty)
        atomic_fetch_add(&eng->gen, 1);
    if (rc == TSPS_ENOSPC)
        tsps__grow(eng); /* so that the caller's retry fits */
    pthread_mutex_unlock(&eng->wlock);
    if (rc == TSPS_OK)
        tsps__readers_release(eng);
    free(b->defer);
    tsps__free(eng, b);
    return rc;
}

void tsps_batch_abort(tsps_batch *b)
{
    tsps_engine *eng;
    if (b == NULL)
        return;
    eng = b->eng;
    if (b->ccur != NULL)
        mdb_cursor_close(b->ccur);
    atomic_store(&eng->batch_owner, 0);
    eng->open_batch = NULL;
    mdb_txn_abort(b->txn);
    tsps__cj_reset(eng);
    tsps__uj_reset(eng);
    if (b->failed == TSPS_ENOSPC)
        tsps__grow(eng);
    pthread_mutex_unlock(&eng->wlock);
    free(b->defer);
    tsps__free(eng, b);
}

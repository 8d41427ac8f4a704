/* Call history: every call with its decision, trace and outcome. */
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define REC_MAX (48 * 1024)

static void enc_record(tsps__wbuf *w, const tsps_call_record *r,
                       int has_original)
{
    tsps__w8(w, 1);
    tsps__w64(w, (uint64_t)r->start);
    tsps__w64(w, (uint64_t)r->end);
    tsps__w8(w, (uint8_t)r->outcome);
    tsps__wstr(w, r->note);
    tsps__enc_decision(w, &r->decision);
    tsps__w8(w, (uint8_t)has_original);
    if (has_original)
        tsps__enc_decision(w, &r->original);
}

static int dec_record(const void *p, size_t n, uint64_t id, tsps_call_record *r)
{
    tsps__rbuf b = {p, n, 0, 0};
    memset(r, 0, sizeof(*r));
    r->id = id;
    if (tsps__r8(&b) != 1)
        return TSPS_ESTORE;
    r->start = (int64_t)tsps__r64(&b);
    r->end = (int64_t)tsps__r64(&b);
    r->outcome = (tsps_outcome)tsps__r8(&b);
    tsps__rstr(&b, r->note, sizeof(r->note));
    tsps__dec_decision(&b, &r->decision);
    if (tsps__r8(&b) == 1)
        tsps__dec_decision(&b, &r->original);
    return b.bad ? TSPS_ESTORE : TSPS_OK;
}

static size_t user_key(uint8_t *kb, const char *user, int64_t start,
                       uint64_t id)
{
    size_t n = strlen(user);
    memcpy(kb, user, n);
    kb[n] = 0;
    tsps__be64(kb + n + 1, (uint64_t)start);
    tsps__be64(kb + n + 9, id);
    return n + 17;
}

static size_t caller_key(uint8_t *kb, const char *user, uint64_t caller,
                         int64_t start, uint64_t id)
{
    size_t n = strlen(user);
    memcpy(kb, user, n);
    kb[n] = 0;
    tsps__be64(kb + n + 1, caller);
    tsps__be64(kb + n + 9, (uint64_t)start);
    tsps__be64(kb + n + 17, id);
    return n + 25;
}

struct hist_arg {
    tsps_call_record *rec;
    uint8_t *buf;
    uint64_t id;
    int has_original;
    /* override */
    const tsps_method *m;
    const char *actor;
    int64_t now;
    tsps_decision *out;
    /* set outcome */
    tsps_outcome outcome;
    int64_t end;
    const char *note;
};

static int put_record(tsps_engine *eng, MDB_txn *txn, struct hist_arg *a)
{
    tsps__wbuf w = {a->buf, REC_MAX, 0, 0};
    uint8_t kb[8];
    MDB_val k = {8, kb}, v;
    enc_record(&w, a->rec, a->has_original);
    if (w.overflow)
        return TSPS_EINVAL;
    tsps__be64(kb, a->id);
    v.mv_size = w.len;
    v.mv_data = a->buf;
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST], &k, &v, 0));
}

/* One decision encodes to well under this (every field at its cap). */
#define APPEND_MAX (12 * 1024)

struct append_arg {
    const tsps_decision *d;
    int64_t start;
    const uint8_t *rec;
    size_t len;
    uint64_t id;
};

/* Call ids come from a sequence that is never handed out twice, even when
 * the write that took an id is lost (aborted batch, full disk, kill -9):
 * - in this process, eng->call_next only grows, whatever is committed;
 * - across restarts, "callresv" in the store says up to where ids may have
 *   been handed out: it is raised by CALL_RESERVE whenever an id reaches
 *   it, in the same transaction, and a fresh process starts above it.
 * A restart therefore skips the rest of the reserved block (gaps are
 * harmless); ids go past the durable reservation only if raising it failed
 * too (a store that accepts no write at all), which the caller sees as a
 * failed write. */
#define CALL_RESERVE 1024

static uint64_t meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(txn, dbi, &k, &v) == MDB_SUCCESS && v.mv_size == 8)
        return tsps__rd64(v.mv_data);
    return 0;
}

/* The first of `n` next ids of the sequence, given what the store says. */
static uint64_t seq_take_n(tsps_engine *eng, uint64_t next, uint64_t resv,
                           uint64_t n)
{
    uint_fast64_t cur = atomic_load(&eng->call_next);
    for (;;) {
        /* first call id of this process: above the stored reservation */
        uint64_t id = cur != 0 ? cur : (resv > next ? resv : next);
        if (id < next)
            id = next;
        if (id == 0)
            id = 1;
        if (atomic_compare_exchange_weak(&eng->call_next, &cur, id + n))
            return id;
    }
}

static uint64_t seq_take(tsps_engine *eng, uint64_t next, uint64_t resv)
{
    return seq_take_n(eng, next, resv, 1);
}

static int next_call_id(tsps_engine *eng, MDB_txn *txn, uint64_t *id)
{
    uint64_t next = meta_u64(txn, eng->dbi[DB_META], "nextcall");
    uint64_t resv = meta_u64(txn, eng->dbi[DB_META], "callresv");
    uint8_t nb[8];
    MDB_val k = {8, "callresv"}, v = {8, nb};

    *id = seq_take(eng, next, resv);
    if (*id + 1 < resv)
        return TSPS_OK;
    tsps__be64(nb, *id + CALL_RESERVE);
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_META], &k, &v, 0));
}

uint64_t tsps_history_take_id(tsps_engine *eng)
{
    uint64_t next = 0, resv = 0;
    MDB_txn *txn = NULL;

    if (eng == NULL)
        return 0;
    if (atomic_load(&eng->call_next) == 0 &&
        tsps__read_begin(eng, &txn) == TSPS_OK) {
        next = meta_u64(txn, eng->dbi[DB_META], "nextcall");
        resv = meta_u64(txn, eng->dbi[DB_META], "callresv");
        tsps__read_end(eng, txn);
    }
    return seq_take(eng, next, resv);
}

static int append_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct append_arg *a = arg;
    const tsps_decision *d = a->d;
    MDB_val mk = {8, "nextcall"}, mv, k, v = {0, NULL};
    uint8_t nb[8], kb[TSPS_ID_MAX + 32];
    uint64_t caller = tsps__e164_key(d->caller);
    int rc;

    rc = next_call_id(eng, txn, &a->id);
    if (rc != TSPS_OK)
        return rc;
    tsps__be64(nb, a->id + 1);
    mv.mv_size = 8;
    mv.mv_data = nb;
    rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_META], &mk, &mv, 0));
    if (rc != TSPS_OK)
        return rc;
    tsps__be64(nb, a->id);
    k.mv_size = 8;
    k.mv_data = nb;
    mv.mv_size = a->len;
    mv.mv_data = (void *)a->rec;
    rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST], &k, &mv, 0));
    if (rc != TSPS_OK || d->user[0] == '\0')
        return rc;
    k.mv_size = user_key(kb, d->user, a->start, a->id);
    k.mv_data = kb;
    rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST_USER], &k, &v, 0));
    if (rc != TSPS_OK || caller == 0)
        return rc;
    k.mv_size = caller_key(kb, d->user, caller, a->start, a->id);
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST_CALLER], &k, &v, 0));
}

/* Outcomes after which nothing more happens to the call. */
static int outcome_final(tsps_outcome o)
{
    return o != TSPS_OUTCOME_ROUTED && o != TSPS_OUTCOME_PENDING;
}

/* Encode an appended call into buf (no allocation). */
static int encode_append(const tsps_decision *d, tsps_outcome outcome,
                         uint8_t *buf, size_t cap, struct append_arg *a)
{
    tsps__wbuf w = {buf, cap, 0, 0};
    int64_t start = d->at != 0 ? d->at : (int64_t)time(NULL);

    tsps__w8(&w, 1);
    tsps__w64(&w, (uint64_t)start);
    tsps__w64(&w, (uint64_t)(outcome_final(outcome) ? start : 0));
    tsps__w8(&w, (uint8_t)outcome);
    tsps__wstr(&w, "");
    tsps__enc_decision(&w, d);
    tsps__w8(&w, 0); /* no original: not overridden yet */
    if (w.overflow)
        return TSPS_EINVAL;
    a->d = d;
    a->start = start;
    a->rec = buf;
    a->len = w.len;
    a->id = 0;
    return TSPS_OK;
}

static int append_args_ok(const tsps_decision *d, tsps_outcome outcome,
                          uint64_t *id)
{
    if (id != NULL)
        *id = 0;
    return d != NULL && id != NULL && (unsigned)outcome < TSPS_OUTCOME__COUNT &&
           strnlen(d->user, TSPS_ID_MAX) < TSPS_ID_MAX;
}

int tsps_history_append(tsps_engine *eng, const tsps_decision *d,
                        tsps_outcome outcome, uint64_t *id)
{
    uint8_t buf[APPEND_MAX];
    struct append_arg a;
    int rc;

    if (!append_args_ok(d, outcome, id) || eng == NULL)
        return TSPS_EINVAL;
    /* Encoded here, outside the write lock, with no allocation: the
     * record of a redirect server's every call. */
    rc = encode_append(d, outcome, buf, sizeof(buf), &a);
    if (rc == TSPS_OK)
        rc = tsps__write(eng, 0, append_fn, &a);
    if (rc == TSPS_OK)
        *id = a.id;
    return rc;
}

int tsps_batch_history_append(tsps_batch *b, const tsps_decision *d,
                              tsps_outcome outcome, uint64_t *id)
{
    uint8_t buf[APPEND_MAX];
    struct append_arg a;
    int rc;

    if (!append_args_ok(d, outcome, id) || b == NULL)
        return TSPS_EINVAL;
    if (b->failed)
        return TSPS_ESTATE;
    rc = encode_append(d, outcome, buf, sizeof(buf), &a);
    if (rc == TSPS_OK)
        rc = tsps__batch_result(b, append_fn(b->eng, b->txn, &a));
    if (rc == TSPS_OK)
        *id = a.id;
    return rc;
}

/* ---- prepared records: encoded by one thread, written by another ----
 * Blob: 'P' 1, start (8), caller key (8), user length (1), user, record. */

#define PREP_HEAD (1 + 8 + 8 + 1)

int tsps_history_prepare(const tsps_decision *d, tsps_outcome outcome,
                         void *buf, size_t cap, size_t *len)
{
    struct append_arg a;
    uint8_t *p = buf;
    size_t ul;
    int rc;

    if (len != NULL)
        *len = 0;
    if (d == NULL || buf == NULL || len == NULL ||
        (unsigned)outcome >= TSPS_OUTCOME__COUNT)
        return TSPS_EINVAL;
    ul = strnlen(d->user, TSPS_ID_MAX);
    if (ul >= TSPS_ID_MAX || ul > 255 || cap < PREP_HEAD + ul + 1)
        return TSPS_EINVAL;
    rc =
        encode_append(d, outcome, p + PREP_HEAD + ul, cap - PREP_HEAD - ul, &a);
    if (rc != TSPS_OK)
        return rc;
    p[0] = 'P';
    tsps__be64(p + 1, (uint64_t)a.start);
    tsps__be64(p + 9, tsps__e164_key(d->caller));
    p[17] = (uint8_t)ul;
    memcpy(p + PREP_HEAD, d->user, ul);
    *len = PREP_HEAD + ul + a.len;
    return TSPS_OK;
}

struct put_arg {
    uint64_t id;
    int64_t start;
    uint64_t caller;
    char user[TSPS_ID_MAX];
    const uint8_t *rec;
    size_t len;
};

static int put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct put_arg *a = arg;
    uint8_t nb[8], kb[TSPS_ID_MAX + 32];
    MDB_val k = {8, nb}, v = {a->len, (void *)a->rec}, e = {0, NULL};
    int rc;

    tsps__be64(nb, a->id);
    rc = mdb_put(txn, eng->dbi[DB_HIST], &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return TSPS_EEXIST;
    if ((rc = tsps__mdb_err(rc)) != TSPS_OK || a->user[0] == '\0')
        return rc;
    k.mv_size = user_key(kb, a->user, a->start, a->id);
    k.mv_data = kb;
    rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST_USER], &k, &e, 0));
    if (rc != TSPS_OK || a->caller == 0)
        return rc;
    k.mv_size = caller_key(kb, a->user, a->caller, a->start, a->id);
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_HIST_CALLER], &k, &e, 0));
}

int tsps_batch_history_put(tsps_batch *b, uint64_t id, const void *blob,
                           size_t len)
{
    const uint8_t *p = blob;
    struct put_arg a;
    tsps_call_record *r;
    int rc;

    if (b == NULL || blob == NULL || id == 0 || len < PREP_HEAD + 1 ||
        p[0] != 'P' || len < PREP_HEAD + (size_t)p[17] + 1 ||
        len > PREP_HEAD + 255 + APPEND_MAX)
        return TSPS_EINVAL;
    if (b->failed)
        return TSPS_ESTATE;
    a.id = id;
    a.start = (int64_t)tsps__rd64(p + 1);
    a.caller = tsps__rd64(p + 9);
    memcpy(a.user, p + PREP_HEAD, p[17]);
    a.user[p[17]] = '\0';
    if (memchr(a.user, '\0', p[17]) != NULL)
        return TSPS_EINVAL;
    a.rec = p + PREP_HEAD + p[17];
    a.len = len - PREP_HEAD - p[17];
    /* what lands in history must read back: check the record itself */
    r = tsps__malloc(b->eng, sizeof(*r));
    if (r == NULL)
        return TSPS_ENOMEM;
    rc = dec_record(a.rec, a.len, id, r);
    if (rc == TSPS_OK && strcmp(r->decision.user, a.user) != 0)
        rc = TSPS_EINVAL;
    tsps__free(b->eng, r);
    if (rc != TSPS_OK)
        return TSPS_EINVAL;
    return tsps__batch_result(b, put_fn(b->eng, b->txn, &a));
}

struct resv_arg {
    unsigned n;
    uint64_t first;
};

static int reserve_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct resv_arg *a = arg;
    uint64_t next = meta_u64(txn, eng->dbi[DB_META], "nextcall");
    uint64_t resv = meta_u64(txn, eng->dbi[DB_META], "callresv");
    uint8_t nb[8];
    MDB_val k = {8, "callresv"}, v = {8, nb};

    a->first = seq_take_n(eng, next, resv, a->n);
    if (a->first + a->n <= resv)
        return TSPS_OK;
    tsps__be64(nb, a->first + a->n);
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_META], &k, &v, 0));
}

int tsps_history_reserve_ids(tsps_engine *eng, unsigned n, uint64_t *first)
{
    struct resv_arg a = {n, 0};
    int rc;

    if (first != NULL)
        *first = 0;
    if (eng == NULL || first == NULL || n == 0 || n > (1u << 20))
        return TSPS_EINVAL;
    rc = tsps__write(eng, 0, reserve_fn, &a);
    if (rc == TSPS_OK)
        *first = a.first;
    return rc;
}

static int load_record(tsps_engine *eng, MDB_txn *txn, uint64_t id,
                       tsps_call_record *r, int *has_original)
{
    uint8_t kb[8];
    MDB_val k = {8, kb}, v;
    int rc;
    tsps__be64(kb, id);
    rc = mdb_get(txn, eng->dbi[DB_HIST], &k, &v);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = dec_record(v.mv_data, v.mv_size, id, r);
    if (has_original != NULL)
        *has_original = r->original.version != 0;
    return rc;
}

static int outcome_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct hist_arg *a = arg;
    int rc = load_record(eng, txn, a->id, a->rec, &a->has_original);
    if (rc != TSPS_OK)
        return rc;
    a->rec->outcome = a->outcome;
    a->rec->end = a->end;
    if (a->note != NULL)
        tsps__stcopy(a->rec->note, sizeof(a->rec->note), a->note);
    return put_record(eng, txn, a);
}

static int override_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct hist_arg *a = arg;
    int rc = load_record(eng, txn, a->id, a->rec, &a->has_original);
    if (rc != TSPS_OK)
        return rc;
    if (!a->has_original) {
        a->rec->original = a->rec->decision;
        a->has_original = 1;
    }
    *a->out = a->rec->decision;
    rc = tsps_route_override(eng, &a->rec->decision, a->m, a->actor, a->now,
                             a->out);
    if (rc != TSPS_OK)
        return rc;
    a->rec->decision = *a->out;
    return put_record(eng, txn, a);
}

static int run_update(tsps_engine *eng, struct hist_arg *a, tsps__write_fn fn)
{
    int rc;
    a->rec = tsps__calloc(eng, 1, sizeof(*a->rec));
    a->buf = tsps__malloc(eng, REC_MAX);
    if (a->rec == NULL || a->buf == NULL)
        rc = TSPS_ENOMEM;
    else
        rc = tsps__write(eng, 0, fn, a);
    tsps__free(eng, a->rec);
    tsps__free(eng, a->buf);
    return rc;
}

int tsps_history_set_outcome(tsps_engine *eng, uint64_t id,
                             tsps_outcome outcome, int64_t end,
                             const char *note)
{
    struct hist_arg a;
    if (eng == NULL || id == 0 || (unsigned)outcome >= TSPS_OUTCOME__COUNT)
        return TSPS_EINVAL;
    memset(&a, 0, sizeof(a));
    a.id = id;
    a.outcome = outcome;
    a.end = end;
    a.note = note;
    return run_update(eng, &a, outcome_fn);
}

int tsps_history_override(tsps_engine *eng, uint64_t id, const tsps_method *m,
                          const char *actor, int64_t now, tsps_decision *out)
{
    struct hist_arg a;
    if (eng == NULL || id == 0 || m == NULL || actor == NULL || out == NULL)
        return TSPS_EINVAL;
    memset(&a, 0, sizeof(a));
    a.id = id;
    a.m = m;
    a.actor = actor;
    a.now = now != 0 ? now : (int64_t)time(NULL);
    a.out = out;
    return run_update(eng, &a, override_fn);
}

int tsps_history_get(tsps_engine *eng, uint64_t id, tsps_call_record *out)
{
    MDB_txn *txn = NULL;
    int rc;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || id == 0 || out == NULL)
        return TSPS_EINVAL;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = load_record(eng, txn, id, out, NULL);
    tsps__read_end(eng, txn);
    return rc;
}

/* Walk index keys between lo and hi backwards (newest first). */
static int walk_index(tsps_engine *eng, int dbi, const uint8_t *lo,
                      size_t lolen, const uint8_t *hi, size_t hilen,
                      size_t limit, tsps_history_cb cb, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = {hilen, (void *)hi}, v;
    tsps_call_record *rec = NULL;
    size_t count = 0;
    int rc;

    rec = tsps__malloc(eng, sizeof(*rec));
    if (rec == NULL)
        return TSPS_ENOMEM;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK) {
        tsps__free(eng, rec);
        return rc;
    }
    rc = mdb_cursor_open(txn, eng->dbi[dbi], &cur);
    if (rc != MDB_SUCCESS)
        goto out;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    while (rc == MDB_SUCCESS) {
        size_t cmplen = k.mv_size < lolen ? k.mv_size : lolen;
        if (k.mv_size < 8 || memcmp(k.mv_data, lo, cmplen) < 0 ||
            (cmplen == lolen && k.mv_size < lolen))
            break;
        if (k.mv_size != lolen) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
            continue;
        }
        if (load_record(eng, txn,
                        tsps__rd64((uint8_t *)k.mv_data + k.mv_size - 8), rec,
                        NULL) == TSPS_OK) {
            count++;
            if (cb(arg, rec) != 0 || (limit != 0 && count >= limit))
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    if (rc == MDB_NOTFOUND)
        rc = MDB_SUCCESS;
out:
    mdb_cursor_close(cur);
    tsps__read_end(eng, txn);
    tsps__free(eng, rec);
    return tsps__mdb_err(rc);
}

int tsps_history_query(tsps_engine *eng, const char *user_id, int64_t from,
                       int64_t to, size_t limit, tsps_history_cb cb, void *arg)
{
    uint8_t lo[TSPS_ID_MAX + 32], hi[TSPS_ID_MAX + 32];
    size_t n;
    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id) || to <= from ||
        from < 0)
        return TSPS_EINVAL;
    n = user_key(lo, user_id, from, 0);
    user_key(hi, user_id, to, 0);
    return walk_index(eng, DB_HIST_USER, lo, n, hi, n, limit, cb, arg);
}

int tsps_history_by_caller(tsps_engine *eng, const char *user_id,
                           const char *caller, size_t limit, tsps_history_cb cb,
                           void *arg)
{
    uint8_t lo[TSPS_ID_MAX + 40], hi[TSPS_ID_MAX + 40];
    tsps_user u;
    tsps_number num;
    uint64_t key;
    size_t n;
    int rc;

    if (eng == NULL || cb == NULL || caller == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    key = tsps__e164_key(caller);
    if (key == 0) {
        rc = tsps_user_get(eng, user_id, &u);
        if (rc != TSPS_OK)
            return rc;
        if (tsps_normalize(caller, &u.dialplan, &num) != TSPS_OK ||
            num.kind != TSPS_NUM_E164)
            return TSPS_ENUMBER;
        key = tsps__e164_key(num.e164);
    }
    n = caller_key(lo, user_id, key, 0, 0);
    caller_key(hi, user_id, key, INT64_MAX, UINT64_MAX);
    return walk_index(eng, DB_HIST_CALLER, lo, n, hi, n, limit, cb, arg);
}

/* The configuration snapshot (users, numbers, rules, manual status, zone
 * tables) that routing reads from memory, and the pool of readers.
 *
 * Configuration changes are rare next to calls, so each change bumps a
 * generation and the next reader rebuilds the whole snapshot once; readers
 * hold a reference to the snapshot they use, so an old one is freed only
 * after its last reader let go. */
#include <stdlib.h>
#include <time.h>

#include "internal.h"

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 16;
    while (c < n * 2)
        c <<= 1;
    return c;
}

static uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static uint64_t hash_rule(uint32_t uid, unsigned st, const char *code)
{
    uint64_t h = tsps__fnv64(code, strlen(code));
    return tsps__mix64(h ^ ((uint64_t)uid << 8) ^ st) | 1;
}

static void snap_free(tsps_engine *eng, tsps__snap *s)
{
    tsps__tz *z, *next;
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->nuids; i++)
        tsps__free(eng, s->by_uid[i]);
    tsps__free(eng, s->by_uid);
    tsps__free(eng, s->name_slots);
    tsps__free(eng, s->nums);
    tsps__free(eng, s->rslots);
    tsps__free(eng, s->rules);
    for (z = s->zones; z != NULL; z = next) {
        next = z->next;
        tsps__tz_free(z);
    }
    tsps__free(eng, s);
}

void tsps__snap_release(tsps_engine *eng, tsps__snap *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
        snap_free(eng, s);
}

static uint64_t count_entries(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat(txn, dbi, &st) == MDB_SUCCESS ? st.ms_entries : 0;
}

static const tsps__tz *zone_for(tsps__snap *s, const char *name, int64_t now)
{
    tsps__tz *z;
    for (z = s->zones; z != NULL; z = z->next)
        if (strcmp(z->name, name) == 0)
            return z;
    /* A table from a year back to ten years ahead covers every call. */
    if (tsps__tz_load(name, now - 366 * 86400LL, now + 3653 * 86400LL, &z) !=
        TSPS_OK)
        return NULL;
    z->next = s->zones;
    s->zones = z;
    return z;
}

static int load_users(tsps_engine *eng, MDB_txn *txn, tsps__snap *s)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int64_t now = (int64_t)time(NULL);
    uint32_t max_uid = 0;
    int rc;

    rc = mdb_cursor_open(txn, eng->dbi[DB_USERS], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS && k.mv_size == 4)
        memcpy(&max_uid, k.mv_data, 4);
    s->nuids = max_uid + 1;
    s->by_uid = tsps__calloc(eng, s->nuids, sizeof(*s->by_uid));
    s->name_mask = pow2_at_least(s->nuids) - 1;
    s->name_slots = tsps__calloc(eng, s->name_mask + 1, sizeof(uint32_t));
    if (s->by_uid == NULL || s->name_slots == NULL) {
        mdb_cursor_close(cur);
        return TSPS_ENOMEM;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        uint32_t uid;
        tsps__ucache *uc;
        memcpy(&uid, k.mv_data, 4);
        uc = tsps__calloc(eng, 1, sizeof(*uc));
        if (uc == NULL) {
            mdb_cursor_close(cur);
            return TSPS_ENOMEM;
        }
        if (uid >= s->nuids ||
            tsps__dec_user(v.mv_data, v.mv_size, &uc->user) != TSPS_OK) {
            tsps__logf(eng, TSPS_LOG_WARN,
                       "msg=\"skipping unreadable user record\" uid=%u", uid);
            tsps__free(eng, uc);
        } else {
            uint32_t h =
                (uint32_t)tsps__fnv64(uc->user.id, strlen(uc->user.id));
            uc->uid = uid;
            uc->tz = zone_for(s, uc->user.tz, now);
            s->by_uid[uid] = uc;
            while (s->name_slots[h & s->name_mask] != 0)
                h++;
            s->name_slots[h & s->name_mask] = uid + 1;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

static int load_numbers(tsps_engine *eng, MDB_txn *txn, tsps__snap *s)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = count_entries(txn, eng->dbi[DB_NUMBERS]);
    int rc;

    s->num_mask = pow2_at_least((uint32_t)n) - 1;
    s->nums = tsps__calloc(eng, s->num_mask + 1, sizeof(*s->nums));
    if (s->nums == NULL)
        return TSPS_ENOMEM;
    rc = mdb_cursor_open(txn, eng->dbi[DB_NUMBERS], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        if (k.mv_size == 8 && v.mv_size == 4) {
            uint64_t key = tsps__rd64(k.mv_data);
            uint32_t h = hash_u64(key);
            while (s->nums[h & s->num_mask].key != 0)
                h++;
            s->nums[h & s->num_mask].key = key;
            s->nums[h & s->num_mask].uid = tsps__rd32(v.mv_data);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

static int load_rules(tsps_engine *eng, MDB_txn *txn, tsps__snap *s)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = count_entries(txn, eng->dbi[DB_CODES]);
    int rc;

    s->rule_mask = pow2_at_least((uint32_t)n) - 1;
    s->rslots = tsps__calloc(eng, s->rule_mask + 1, sizeof(*s->rslots));
    s->rules = tsps__calloc(eng, n + 1, sizeof(*s->rules));
    if (s->rslots == NULL || s->rules == NULL)
        return TSPS_ENOMEM;
    rc = mdb_cursor_open(txn, eng->dbi[DB_CODES], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        size_t cl = k.mv_size > 5 ? k.mv_size - 5 : 0;
        if (cl > 0 && cl < TSPS_CODE_MAX) {
            tsps__rule tmp;
            tsps__rbuf rb = {v.mv_data, v.mv_size, 0, 0};
            const uint8_t *kb = k.mv_data;
            memset(&tmp, 0, sizeof(tmp));
            tmp.uid = tsps__rd32(kb);
            tmp.status = kb[4];
            tmp.used = 1;
            memcpy(tmp.code, kb + 5, cl);
            tsps__dec_method(&rb, &tmp.m);
            if (!rb.bad && s->nrules <= n) {
                uint64_t h = hash_rule(tmp.uid, tmp.status, tmp.code);
                uint32_t i = (uint32_t)h;
                while (s->rslots[i & s->rule_mask].h != 0)
                    i++;
                s->rslots[i & s->rule_mask].h = h;
                s->rslots[i & s->rule_mask].idx = s->nrules;
                s->rules[s->nrules++] = tmp;
                if (tmp.uid < s->nuids && s->by_uid[tmp.uid] != NULL) {
                    tsps__ucache *uc = s->by_uid[tmp.uid];
                    if (uc->nrix < TSPS__RIX) {
                        uc->rix[uc->nrix].h = h;
                        uc->rix[uc->nrix++].idx = s->nrules - 1;
                    } else {
                        uc->nrix = TSPS__RIX + 1; /* too many: slots */
                    }
                }
                if (tmp.uid < s->nuids && s->by_uid[tmp.uid] != NULL &&
                    tmp.status < 16) {
                    s->by_uid[tmp.uid]->rule_statuses |= 1u << tmp.status;
                    if (strcmp(tmp.code, TSPS_CODE_ANY) == 0)
                        s->by_uid[tmp.uid]->wild_statuses |= 1u << tmp.status;
                }
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

static int load_status(tsps_engine *eng, MDB_txn *txn, tsps__snap *s)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, eng->dbi[DB_STATUS], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        uint32_t uid;
        tsps__rbuf rb = {v.mv_data, v.mv_size, 0, 0};
        memcpy(&uid, k.mv_data, 4);
        if (uid < s->nuids && s->by_uid[uid] != NULL && tsps__r8(&rb) == 1) {
            tsps__ucache *uc = s->by_uid[uid];
            uc->manual = (tsps_status)tsps__r8(&rb);
            uc->manual_until = (int64_t)tsps__r64(&rb);
            tsps__rstr(&rb, uc->manual_note, sizeof(uc->manual_note));
            uc->has_manual = !rb.bad && uc->manual > TSPS_STATUS_ANY &&
                             uc->manual < TSPS_STATUS__COUNT;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

static int snap_build(tsps_engine *eng, MDB_txn *txn, uint64_t gen,
                      tsps__snap **out)
{
    tsps__snap *s = tsps__calloc(eng, 1, sizeof(*s));
    int rc;

    *out = NULL;
    if (s == NULL)
        return TSPS_ENOMEM;
    atomic_init(&s->refs, 1);
    s->gen = gen;
    rc = load_users(eng, txn, s);
    if (rc == TSPS_OK)
        rc = load_numbers(eng, txn, s);
    if (rc == TSPS_OK)
        rc = load_rules(eng, txn, s);
    if (rc == TSPS_OK)
        rc = load_status(eng, txn, s);
    if (rc != TSPS_OK) {
        snap_free(eng, s);
        return rc;
    }
    *out = s;
    return TSPS_OK;
}

const tsps__ucache *tsps__snap_user_by_name(const tsps__snap *s, const char *id)
{
    uint32_t h = (uint32_t)tsps__fnv64(id, strlen(id));
    for (;; h++) {
        uint32_t slot = s->name_slots[h & s->name_mask];
        const tsps__ucache *uc;
        if (slot == 0)
            return NULL;
        uc = s->by_uid[slot - 1];
        if (uc != NULL && strcmp(uc->user.id, id) == 0)
            return uc;
    }
}

uint32_t tsps__snap_uid_by_number(const tsps__snap *s, uint64_t key)
{
    uint32_t h = hash_u64(key);
    for (;; h++) {
        const struct tsps__nslot *e = &s->nums[h & s->num_mask];
        if (e->key == 0)
            return UINT32_MAX;
        if (e->key == key)
            return e->uid;
    }
}

const tsps__ucache *tsps__snap_user_by_number(const tsps__snap *s, uint64_t key)
{
    uint32_t h = hash_u64(key);
    for (;; h++) {
        const struct tsps__nslot *e = &s->nums[h & s->num_mask];
        if (e->key == 0)
            return NULL;
        if (e->key == key)
            return e->uid < s->nuids ? s->by_uid[e->uid] : NULL;
    }
}

const tsps_method *tsps__snap_rule(const tsps__snap *s, uint32_t uid,
                                   tsps_status st, const char *code)
{
    uint64_t h = hash_rule(uid, (unsigned)st, code);
    for (uint32_t i = (uint32_t)h;; i++) {
        const struct tsps__rslot *e = &s->rslots[i & s->rule_mask];
        const tsps__rule *r;
        if (e->h == 0)
            return NULL;
        if (e->h != h)
            continue;
        r = &s->rules[e->idx];
        /* the caller copies the whole method: load its lines side by side
         * instead of one after the other */
        for (size_t o = 64; o < sizeof(*r); o += 64)
            __builtin_prefetch((const char *)r + o);
        if (r->uid == uid && r->status == (uint8_t)st &&
            strcmp(r->code, code) == 0)
            return &r->m;
    }
}

const tsps_method *tsps__snap_rule_of(const tsps__snap *s,
                                      const tsps__ucache *uc, tsps_status st,
                                      const char *code)
{
    uint64_t h;
    if (uc->nrix > TSPS__RIX)
        return tsps__snap_rule(s, uc->uid, st, code);
    h = hash_rule(uc->uid, (unsigned)st, code);
    for (int i = 0; i < uc->nrix; i++) {
        const tsps__rule *r;
        if (uc->rix[i].h != h)
            continue;
        r = &s->rules[uc->rix[i].idx];
        for (size_t o = 64; o < sizeof(*r); o += 64)
            __builtin_prefetch((const char *)r + o);
        if (r->uid == uc->uid && r->status == (uint8_t)st &&
            strcmp(r->code, code) == 0)
            return &r->m;
    }
    return NULL;
}

void tsps__snap_rules_prefetch(const tsps__snap *s, const tsps__ucache *uc)
{
    if (uc->nrix > TSPS__RIX)
        return;
    for (int i = 0; i < uc->nrix; i++)
        __builtin_prefetch(&s->rules[uc->rix[i].idx]);
}

/* ---- readers
 * ------------------------------------------------------------------ */

void tsps__reader_free(tsps_engine *eng, tsps__reader *r)
{
    if (r == NULL)
        return;
    if (r->cur_cidx != NULL)
        mdb_cursor_close(r->cur_cidx);
    if (r->cur_events != NULL)
        mdb_cursor_close(r->cur_events);
    if (r->cur_regs != NULL)
        mdb_cursor_close(r->cur_regs);
    if (r->txn != NULL)
        mdb_txn_abort(r->txn);
    tsps__snap_release(eng, r->snap);
    tsps__free(eng, r);
}

static int reader_new(tsps_engine *eng, tsps__reader **out)
{
    tsps__reader *r = tsps__calloc(eng, 1, sizeof(*r));
    int rc;

    *out = NULL;
    if (r == NULL)
        return TSPS_ENOMEM;
    rc = mdb_txn_begin(eng->env, NULL, MDB_RDONLY, &r->txn);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(r->txn, eng->dbi[DB_CIDX], &r->cur_cidx);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(r->txn, eng->dbi[DB_EVENTS], &r->cur_events);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(r->txn, eng->dbi[DB_REGS], &r->cur_regs);
    if (rc != MDB_SUCCESS) {
        tsps__reader_free(eng, r);
        return tsps__mdb_err(rc);
    }
    r->live = 1;
    *out = r;
    return TSPS_OK;
}

/* Take a reader with a live read txn and a current snapshot. Holds the map
 * lock shared until tsps__reader_put(). */
int tsps__reader_get(tsps_engine *eng, tsps__reader **out)
{
    tsps__reader *r;
    uint64_t gen;
    int rc, fresh_txn = 1;

    *out = NULL;
    /* Read the generation before the txn starts: the txn then sees at
     * least every change that generation stands for. */
    gen = atomic_load(&eng->gen);
    pthread_rwlock_rdlock(&eng->maplock);
    pthread_mutex_lock(&eng->pool_lock);
    r = eng->pool;
    if (r != NULL)
        eng->pool = r->next;
    pthread_mutex_unlock(&eng->pool_lock);
    if (r == NULL) {
        rc = reader_new(eng, &r);
        if (rc != TSPS_OK)
            goto fail;
    } else {
        /* An idle reader keeps its txn while nothing was written since:
         * renewing costs a lookup per named database. */
        int current = 0;
        if (r->live) {
            MDB_envinfo info;
            mdb_env_info(eng->env, &info);
            current = info.me_last_txnid == mdb_txn_id(r->txn);
            if (!current)
                mdb_txn_reset(r->txn);
        }
        fresh_txn = !current;
        if (!current) {
            rc = mdb_txn_renew(r->txn);
            if (rc != MDB_SUCCESS) {
                r->live = 0;
                tsps__reader_free(eng, r);
                rc = tsps__mdb_err(rc);
                goto fail;
            }
            r->stale = 0x7; /* cursors renewed on first use */
        }
    }
    r->live = 1;
    if ((eng->flags & TSPS_OPEN_RDONLY) && (fresh_txn || r->snap == NULL)) {
        /* Another process writes this store: follow the configuration
         * generation it commits with its changes. */
        uint64_t stored = tsps__stored_gen(eng, r->txn) + 1;
        uint64_t cur = atomic_load(&eng->gen);
        while (stored > cur &&
               !atomic_compare_exchange_weak(&eng->gen, &cur, stored))
            ;
        if (stored > gen)
            gen = stored;
    }
    if (r->snap == NULL || r->snap->gen < gen) {
        tsps__snap *old = r->snap;
        pthread_mutex_lock(&eng->snap_lock);
        if (eng->snap == NULL || eng->snap->gen < gen) {
            tsps__snap *fresh = NULL;
            rc = snap_build(eng, r->txn, gen, &fresh);
            if (rc != TSPS_OK) {
                pthread_mutex_unlock(&eng->snap_lock);
                tsps__reader_free(eng, r);
                goto fail;
            }
            tsps__snap_release(eng, eng->snap);
            eng->snap = fresh;
        }
        atomic_fetch_add(&eng->snap->refs, 1);
        r->snap = eng->snap;
        pthread_mutex_unlock(&eng->snap_lock);
        tsps__snap_release(eng, old);
    }
    *out = r;
    return TSPS_OK;
fail:
    pthread_rwlock_unlock(&eng->maplock);
    return rc;
}

MDB_cursor *tsps__reader_cursor(tsps__reader *r, int which)
{
    MDB_cursor *c = which == 0   ? r->cur_cidx
                    : which == 1 ? r->cur_events
                                 : r->cur_regs;
    if (r->stale & (1u << which)) {
        if (mdb_cursor_renew(r->txn, c) != MDB_SUCCESS)
            return NULL;
        r->stale &= ~(1u << which);
    }
    return c;
}

void tsps__readers_release(tsps_engine *eng)
{
    pthread_mutex_lock(&eng->pool_lock);
    for (tsps__reader *r = eng->pool; r != NULL; r = r->next)
        if (r->live) {
            mdb_txn_reset(r->txn);
            r->live = 0;
        }
    pthread_mutex_unlock(&eng->pool_lock);
}

void tsps__reader_put(tsps_engine *eng, tsps__reader *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&eng->pool_lock);
    r->next = eng->pool;
    eng->pool = r;
    pthread_mutex_unlock(&eng->pool_lock);
    pthread_rwlock_unlock(&eng->maplock);
}

/* Which rule applies to a call (the precedence table of docs/engine.md),
 * and the one-time migration of rule sets stored under the old order.
 *
 * The order, best first:
 *   1. (code, status)   the caller's code, for the status now
 *   2. (code, any)      the caller's code, whatever the status
 *   3. (*, status)      every code, for the status now
 *   4. (*, any)         every code, whatever the status
 * A rule naming the caller's code beats a wildcard code; the status decides
 * only between rules of the same code. So BLOCK/any is never weakened by a
 * status rule: only a BLOCK/<status> rule, which names BLOCK explicitly,
 * can change what happens to a blocked caller.
 *
 * Libraries before rule order 2 put (*, status) before (code, any). */
#include <inttypes.h>

#include "internal.h"

/* Stored in the meta database: the rule order the stored rules were
 * written for. Absent = 1 (every store written before it existed). */
#define RULE_ORDER_KEY     "rule_order"
#define RULE_ORDER_VERSION 2u

static int tier_has_code(int tier)
{
    return tier == TSPS__TIER_CODE_STATUS || tier == TSPS__TIER_CODE_ANY;
}

static int tier_has_status(int tier)
{
    return tier == TSPS__TIER_CODE_STATUS || tier == TSPS__TIER_ANY_STATUS;
}

const char *tsps__tier_reason(int tier, int over_tier)
{
    if (tier_has_code(tier) && !tier_has_code(over_tier))
        return "a rule naming the caller's code beats a wildcard code";
    if (tier_has_status(tier) && !tier_has_status(over_tier))
        return "for the same code, a rule for the status now beats an "
               "any-status rule";
    return "it comes first in the rule order";
}

/* ---- migration
 * ------------------------------------------------------------------ */

static int code_exists(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, tsps_status st,
                       const char *code, MDB_val *val)
{
    uint8_t kb[5 + TSPS_CODE_MAX];
    size_t n = strlen(code);
    MDB_val k = {5 + n, kb}, v;
    tsps__be32(kb, uid);
    kb[4] = (uint8_t)st;
    memcpy(kb + 5, code, n);
    if (mdb_get(txn, dbi, &k, &v) != MDB_SUCCESS)
        return 0;
    if (val != NULL)
        *val = v;
    return 1;
}

static int code_copy(MDB_txn *txn, MDB_dbi dbi, uint32_t uid, tsps_status st,
                     const char *code, const MDB_val *val)
{
    uint8_t kb[5 + TSPS_CODE_MAX], vb[1024];
    size_t n = strlen(code);
    MDB_val k = {5 + n, kb}, v = {val->mv_size, vb};
    if (val->mv_size > sizeof(vb))
        return MDB_BAD_VALSIZE;
    /* copy first: the source points into the map, which the put may move */
    memcpy(vb, val->mv_data, val->mv_size);
    tsps__be32(kb, uid);
    kb[4] = (uint8_t)st;
    memcpy(kb + 5, code, n);
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Under the old order a status rule for every code, (*, S), beat a code's
 * own any-status rule, (C, any). The new order turns that round. Of these
 * decisions, the ones for callers the user never tagged — unknown,
 * withheld, ambiguous callers, who get the user's default codes — were
 * what the user meant ("in a meeting, strangers go to voicemail") and are
 * kept by writing (D, S) = (*, S) for the default code D. The ones for a
 * contact's code are the surprises the new order fixes (a blocked caller
 * reaching voicemail during a meeting, a VIP sent to voicemail off hours);
 * each is logged. */
static int migrate_user(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const tsps_user *u, int *wrote)
{
    MDB_dbi dbi = eng->dbi[DB_CODES];
    const char *defaults[2] = {u->unknown_code, u->withheld_code};
    uint8_t pfx[4];
    MDB_cursor *cur = NULL;
    MDB_val k = {4, pfx}, v;
    int rc;

    for (int i = 0; i < 2; i++) {
        const char *d = defaults[i];
        if (d[0] == '\0' || (i == 1 && strcmp(d, defaults[0]) == 0) ||
            !code_exists(txn, dbi, uid, TSPS_STATUS_ANY, d, NULL))
            continue;
        for (int st = 1; st < TSPS_STATUS__COUNT; st++) {
            MDB_val wild;
            if (!code_exists(txn, dbi, uid, (tsps_status)st, TSPS_CODE_ANY,
                             &wild) ||
                code_exists(txn, dbi, uid, (tsps_status)st, d, NULL))
                continue;
            rc = code_copy(txn, dbi, uid, (tsps_status)st, d, &wild);
            if (rc != MDB_SUCCESS)
                return tsps__mdb_err(rc);
            *wrote = 1;
            tsps__logf(eng, TSPS_LOG_INFO,
                       "msg=\"rule order 2: kept the status rule for callers "
                       "without a contact code\" user=%s rule=%s/%s "
                       "copied_from=*/%s",
                       u->id, d, tsps_status_name((tsps_status)st),
                       tsps_status_name((tsps_status)st));
        }
    }
    /* The decisions that change: log them so an operator can see them. */
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    tsps__be32(pfx, uid);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && k.mv_size > 5 &&
           memcmp(k.mv_data, pfx, 4) == 0) {
        const uint8_t *kb = k.mv_data;
        char code[TSPS_CODE_MAX];
        size_t n = k.mv_size - 5;
        if (kb[4] != TSPS_STATUS_ANY)
            break; /* any-status rules sort first (status byte 0) */
        if (n < TSPS_CODE_MAX) {
            memcpy(code, kb + 5, n);
            code[n] = '\0';
            for (int st = 1; st < TSPS_STATUS__COUNT; st++)
                if (strcmp(code, TSPS_CODE_ANY) != 0 &&
                    code_exists(txn, dbi, uid, (tsps_status)st, TSPS_CODE_ANY,
                                NULL) &&
                    !code_exists(txn, dbi, uid, (tsps_status)st, code, NULL))
                    tsps__logf(eng, TSPS_LOG_INFO,
                               "msg=\"rule order 2: the code's rule now beats "
                               "the status rule\" user=%s rule=%s/any "
                               "over=*/%s",
                               u->id, code, tsps_status_name((tsps_status)st));
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? TSPS_OK
                                                   : tsps__mdb_err(rc);
}

int tsps__rules_migrate(tsps_engine *eng, MDB_txn *txn)
{
    MDB_val key = {sizeof(RULE_ORDER_KEY) - 1, (void *)RULE_ORDER_KEY}, val;
    MDB_cursor *cur = NULL;
    uint8_t b[8];
    int rc, wrote = 0;

    rc = mdb_get(txn, eng->dbi[DB_META], &key, &val);
    if (rc == MDB_SUCCESS && val.mv_size == 8 &&
        tsps__rd64(val.mv_data) >= RULE_ORDER_VERSION)
        return TSPS_OK;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_open(txn, eng->dbi[DB_USERS], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    {
        MDB_val k, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (mrc == MDB_SUCCESS) {
            tsps_user u;
            uint32_t uid;
            if (k.mv_size == 4 &&
                tsps__dec_user(v.mv_data, v.mv_size, &u) == TSPS_OK) {
                memcpy(&uid, k.mv_data, 4);
                rc = migrate_user(eng, txn, uid, &u, &wrote);
                if (rc != TSPS_OK) {
                    mdb_cursor_close(cur);
                    return rc;
                }
            }
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (mrc != MDB_NOTFOUND)
            return tsps__mdb_err(mrc);
    }
    tsps__be64(b, RULE_ORDER_VERSION);
    val.mv_size = 8;
    val.mv_data = b;
    rc = mdb_put(txn, eng->dbi[DB_META], &key, &val, 0);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    if (wrote)
        tsps__bump_gen(eng, txn);
    return TSPS_OK;
}

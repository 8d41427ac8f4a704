/* Pipeline step 3: the caller's contact and code from the contact index,
 * in the table in memory (cmem.c) or in DB_CIDX. The table lookup is done
 * in three steps that route.c spreads over the route, so that memory
 * latency overlaps its other work (see tsps__contact_ref). */
#include "internal.h"

/* The index entries for (user, key) in DB_CIDX. 0 if there are none; *val
 * is the first in LMDB's order. */
static int cidx_store(tsps__reader *r, uint32_t uid, uint64_t key,
                      tsps__cidx_hit *hit, const uint8_t **val, size_t *vlen)
{
    uint8_t kb[12];
    MDB_val k = {12, kb}, v;
    size_t cnt = 1;
    MDB_cursor *cur = tsps__reader_cursor(r, RCUR_CIDX);

    hit->n = 0;
    hit->disagree = 0;
    tsps__be32(kb, uid);
    tsps__be64(kb + 4, key);
    if (cur == NULL || mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) != MDB_SUCCESS)
        return 0;
    *val = v.mv_data;
    *vlen = v.mv_size;
    hit->n = 1;
    if (mdb_cursor_count(cur, &cnt) == MDB_SUCCESS && cnt > 1) {
        const uint8_t *p = *val;
        size_t cl = *vlen >= 2 ? p[1] : 0;
        hit->n = (int)cnt;
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP) == MDB_SUCCESS) {
            const uint8_t *q = v.mv_data;
            if (v.mv_size < 2 + cl || q[1] != cl ||
                memcmp(q + 2, p + 2, cl) != 0)
                hit->disagree = 1;
        }
    }
    return hit->n;
}

/* Caller kind, code and name from the caller's index entries. */
static void contact_fill(tsps_decision *d, const tsps__ucache *uc, int at,
                         const tsps__cidx_hit *hit, const uint8_t *p,
                         size_t vlen)
{
    tsps__cidx_parts f;

    if (hit->n == 0 || vlen < 3) {
        d->caller_kind = TSPS_CALLER_UNKNOWN;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.unknown_code);
        tsps__trace_at(d, at, TSPS_STEP_CONTACT, TSPS_TR_NOTFOUND, 0, 0,
                       d->caller, d->code);
        return;
    }
    if (tsps__cidx_split(p, vlen, &f) != 0) {
        d->caller_kind = TSPS_CALLER_UNKNOWN;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.unknown_code);
        tsps__trace_at(d, at, TSPS_STEP_CONTACT, TSPS_TR_ERROR, 0, 0, d->caller,
                       "unreadable index entry");
        return;
    }
    if (hit->disagree) {
        d->caller_kind = TSPS_CALLER_AMBIGUOUS;
        tsps__trace_at(d, at, TSPS_STEP_CONTACT, TSPS_TR_AMBIGUOUS, hit->n, 0,
                       d->caller,
                       "contacts with this number carry different codes");
        d->contact_uid[0] = '\0';
        d->caller_name[0] = '\0';
        d->code_source = TSPS_CODE_SRC_NONE;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.unknown_code);
        return;
    }
    d->code_source = (tsps_code_source)f.src;
    memcpy(d->code, f.code, f.cl);
    d->code[f.cl] = '\0';
    memcpy(d->caller_name, f.name, f.nl);
    d->caller_name[f.nl] = '\0';
    memcpy(d->contact_uid, f.uid, f.ul);
    d->contact_uid[f.ul] = '\0';
    d->caller_kind = TSPS_CALLER_KNOWN;
    tsps__trace_at(d, at, TSPS_STEP_CONTACT, TSPS_TR_OK, hit->n,
                   (int32_t)d->code_source, d->caller, d->caller_name);
}

static void contact_from_store(tsps__reader *r, const tsps__ucache *uc,
                               tsps_decision *d, int at)
{
    tsps__cidx_hit hit;
    const uint8_t *p = NULL;
    size_t vlen = 0;

    cidx_store(r, uc->uid, tsps__e164_key(d->caller), &hit, &p, &vlen);
    contact_fill(d, uc, at, &hit, p, vlen);
}

/* Step 3 begins: reserve the trace step and start the table lookup (or
 * read the store when the table is not in use). */
void tsps__contact_begin(tsps_engine *eng, tsps__reader *r,
                         const tsps__ucache *uc, tsps_decision *d,
                         tsps__contact_ref *cr)
{
    cr->pending = 0;
    cr->tslot = -1;
    if (d->caller[0] == '\0')
        return;
    if (d->ntrace < TSPS_MAX_TRACE)
        cr->tslot = d->ntrace++;
    if (tsps__cmem_begin(eng, uc->uid, tsps__e164_key(d->caller), &cr->v))
        cr->pending = 1;
    else
        contact_from_store(r, uc, d, cr->tslot);
}

/* Step 3 ends: read the entry, fill name and contact, drop the lock. */
void tsps__contact_end(tsps_engine *eng, tsps__reader *r,
                       const tsps__ucache *uc, tsps_decision *d,
                       tsps__contact_ref *cr)
{
    tsps__cidx_hit hit;

    (void)eng;
    (void)r;
    if (!cr->pending)
        return;
    cr->pending = 0;
    tsps__cmem_end(&cr->v, &hit);
    contact_fill(d, uc, cr->tslot, &hit, hit.val, hit.vlen);
}

/* The caller's kind and code for the rule, from the slots alone when they
 * say enough. */
void tsps__contact_code(tsps_engine *eng, tsps__reader *r,
                        const tsps__ucache *uc, tsps_decision *d,
                        tsps__contact_ref *cr)
{
    if (!cr->pending)
        return;
    tsps__cmem_probe(&cr->v);
    if (cr->v.need_entry) {
        tsps__contact_end(eng, r, uc, d, cr);
    } else if (cr->v.n == 0 || cr->v.disagree) {
        d->caller_kind =
            cr->v.n == 0 ? TSPS_CALLER_UNKNOWN : TSPS_CALLER_AMBIGUOUS;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.unknown_code);
    } else {
        d->caller_kind = TSPS_CALLER_KNOWN;
        tsps__stcopy(d->code, sizeof(d->code), cr->v.code);
    }
}

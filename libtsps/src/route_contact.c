/* Pipeline step 3: the caller's contact and code from the contact index,
 * in the table in memory (cmem.c) or in DB_CIDX. The table lookup is done
 * in three steps that route.c spreads over the route, so that memory
 * latency overlaps its other work (see tsps__contact_ref). */
#include "internal.h"

/* Append one name to hit->names; 0 once there is no more room. */
static int name_add(tsps__cidx_hit *hit, size_t *len, const uint8_t *name,
                    size_t nl)
{
    static const char more[] = "...";
    size_t cap = sizeof(hit->names);

    if (*len + 2 + nl + sizeof(more) > cap) {
        /* no room for this name and a possible "...": say there is more */
        if (*len + sizeof(more) <= cap)
            memcpy(hit->names + *len, more, sizeof(more));
        return 0;
    }
    if (*len > 0) {
        memcpy(hit->names + *len, ", ", 2);
        *len += 2;
    }
    memcpy(hit->names + *len, name, nl);
    *len += nl;
    hit->names[*len] = '\0';
    return 1;
}

static int name_cmp(const tsps__cidx_parts *a, const tsps__cidx_parts *b)
{
    int c = memcmp(a->name, b->name, a->nl < b->nl ? a->nl : b->nl);
    return c != 0 ? c : (a->nl > b->nl) - (a->nl < b->nl);
}

/* Name order; equal names in LMDB's order of the whole values. */
static int entry_cmp(const tsps__cidx_parts *a, const uint8_t *av, size_t al,
                     const tsps__cidx_parts *b, const uint8_t *bv, size_t bl)
{
    int c = name_cmp(a, b);
    if (c != 0)
        return c;
    c = memcmp(av, bv, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

int tsps__cidx_names(tsps__cidx_hit *hit, const uint8_t *const *vals,
                     const size_t *lens, int n)
{
    tsps__cidx_parts f[TSPS__NAMES_MAX];
    int idx[TSPS__NAMES_MAX];
    size_t len = 0;
    int k = 0;

    hit->names[0] = '\0';
    for (int i = 0; i < n && k < TSPS__NAMES_MAX; i++) {
        tsps__cidx_parts t;
        int j;
        if (tsps__cidx_split(vals[i], lens[i], &t) != 0 || t.nl == 0)
            continue;
        /* by name (a few entries: insertion sort) */
        for (j = k; j > 0 && entry_cmp(&t, vals[i], lens[i], &f[j - 1],
                                       vals[idx[j - 1]], lens[idx[j - 1]]) < 0;
             j--) {
            f[j] = f[j - 1];
            idx[j] = idx[j - 1];
        }
        f[j] = t;
        idx[j] = i;
        k++;
    }
    for (int i = 0; i < k; i++)
        if (!name_add(hit, &len, f[i].name, f[i].nl))
            break;
    return k > 0 ? idx[0] : -1;
}

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
    hit->names[0] = '\0';
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
        const uint8_t *vals[TSPS__NAMES_MAX];
        size_t lens[TSPS__NAMES_MAX];
        int nv = 1;
        hit->n = (int)cnt;
        vals[0] = p;
        lens[0] = *vlen;
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP) == MDB_SUCCESS) {
            const uint8_t *q = v.mv_data;
            if (v.mv_size < 2 + cl || q[1] != cl ||
                memcmp(q + 2, p + 2, cl) != 0)
                hit->disagree = 1;
            if (nv < TSPS__NAMES_MAX) {
                vals[nv] = q;
                lens[nv++] = v.mv_size;
            }
        }
        /* the values stay valid while the read txn lives; the contact
         * named first stands for them all */
        nv = tsps__cidx_names(hit, vals, lens, nv);
        if (nv >= 0) {
            *val = vals[nv];
            *vlen = lens[nv];
        }
    }
    return hit->n;
}

/* The caller's display name when several contacts have the number: "Acme
 * Ltd — one of 3 contacts: Acme Ltd, Ann Lee, Bob Roe" (the contact first
 * in name order, then all of them), or "one of 3 contacts: ..." when they
 * disagree. Cut at a UTF-8 boundary when it does not fit. */
static void shared_name(tsps_decision *d, const uint8_t *first, size_t fl,
                        const tsps__cidx_hit *hit)
{
    char *o = d->caller_name;
    size_t cap = sizeof(d->caller_name) - 1, len = 0;
    char num[12];
    int n = hit->n, w = 0;
    const char *parts[4];

    /* the count in decimal without printf (this is the routing path) */
    do {
        num[sizeof(num) - 2 - w++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && w < 10);
    num[sizeof(num) - 1] = '\0';
    parts[0] = fl > 0 ? " \xe2\x80\x94 one of " : "one of ";
    parts[1] = num + sizeof(num) - 1 - w;
    parts[2] = " contacts: ";
    parts[3] = hit->names;
    if (fl > 0) {
        len = fl < cap ? fl : cap;
        memcpy(o, first, len);
    }
    for (int i = 0; i < 4 && len < cap; i++) {
        size_t pl = strlen(parts[i]);
        if (pl > cap - len)
            pl = cap - len;
        memcpy(o + len, parts[i], pl);
        len += pl;
    }
    /* do not leave half a UTF-8 sequence at the end */
    if (len == cap) {
        size_t k = len;
        while (k > 0 && ((unsigned char)o[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)o[k - 1] & 0x80) != 0) {
            unsigned char lead = (unsigned char)o[k - 1];
            size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (len - (k - 1) < want)
                len = k - 1;
        }
    }
    o[len] = '\0';
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
        tsps__trace_lz(d, at, TSPS_STEP_CONTACT, TSPS_TR_NOTFOUND, 0, 0,
                       TSPS__LZ_CALLER, d->caller, TSPS__LZ_CODE, d->code);
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
                       hit->names[0] != '\0'
                           ? hit->names
                           : "contacts with this number carry different codes");
        d->contact_uid[0] = '\0';
        shared_name(d, NULL, 0, hit);
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
    if (hit->n > 1) {
        /* several contacts share the number and agree on the code: route
         * by that code, but do not pretend to know which of them calls */
        d->caller_kind = TSPS_CALLER_AMBIGUOUS;
        d->flags |= TSPS_DEC_SHARED_NUMBER;
        tsps__trace_at(d, at, TSPS_STEP_CONTACT, TSPS_TR_OK, hit->n,
                       (int32_t)d->code_source, d->caller,
                       hit->names[0] != '\0' ? hit->names : d->caller_name);
        shared_name(d, f.name, f.nl, hit);
        return;
    }
    d->caller_kind = TSPS_CALLER_KNOWN;
    tsps__trace_lz(d, at, TSPS_STEP_CONTACT, TSPS_TR_OK, hit->n,
                   (int32_t)d->code_source, TSPS__LZ_CALLER, d->caller,
                   TSPS__LZ_CALLER_NAME, d->caller_name);
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

/* The contact index in memory: (user, caller number) -> the index entry
 * routing needs (code source, code, name, contact uid).
 *
 * A route's one big lookup is "which of this user's contacts has this
 * number". In LMDB that is a B-tree descent over every user's entries:
 * about ten cache misses at a million contacts. Here it is one probe of an
 * open-addressing table whose slot holds the key, the user and the offset
 * of the entry's bytes in an arena.
 *
 * The table mirrors DB_CIDX exactly and only ever shows committed data:
 * writers record each index change in a journal while their transaction
 * runs (contacts.c, users.c), and the journal is applied under the table's
 * write lock after the commit succeeds, or dropped when the transaction is
 * aborted (a nested transaction inside a batch rewinds to its mark). If
 * memory runs out the table is switched off and routing reads the store,
 * as it always does for a read-only engine (another process writes then).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

enum { J_PUT = 1, J_DEL = 2, J_DROP = 3 };

/* A slot: the number (50 bits hold any E.164 number) with the entry's
 * code id above it, so that the route can pick its rule from the slot
 * alone while the entry's bytes (name, contact uid) come from memory. */
struct cslot {
    uint64_t kc; /* number | code id << NUM_BITS; 0 = empty */
    uint32_t uid;
    uint32_t rec; /* arena offset of [u16 len][value] */
};

#define NUM_BITS   50
#define NUM_MASK   ((UINT64_C(1) << NUM_BITS) - 1)
#define CODE_NONE  0      /* no code */
#define CODE_BAD   0x3FFE /* unreadable value: the route reports it */
#define CODE_OTHER 0x3FFF /* too many distinct codes: read the entry */
#define CODES_MAX  0x3FF0

struct tsps__cmem {
    pthread_rwlock_t lock; /* writers preferred: readers hold it a route long */
    int on;
    struct cslot *slots;
    uint64_t mask, used;
    uint8_t *arena;
    size_t alen, acap, dead;
    /* interned codes: id -> code, and a small hash code -> id */
    char (*codes)[TSPS_CODE_MAX];
    uint32_t ncodes, codes_cap;
    uint16_t *code_slots;
    uint32_t code_mask;
    /* journal of the open write (writer only, under the engine's wlock) */
    uint8_t *jbuf;
    size_t jlen, jcap, jputs, jahead;
    int jbad;
};

#define ARENA_MAX 0xFFFFFFF0u

/* ---- big blocks ---------------------------------------------------------
 * The slot array and the arena are tens of megabytes per million contacts.
 * Without allocator hooks they are mapped directly, with transparent huge
 * pages where the kernel allows them (far fewer page faults while a bulk
 * load grows them, far fewer TLB misses per lookup), and the arena grows
 * with mremap instead of a copy. With hooks, the hooks allocate. */

#define BIG_ALIGN ((size_t)2 << 20)

static size_t big_len(size_t n)
{
    return (n + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1);
}

/* Zeroed memory of n bytes. */
static void *big_alloc(tsps_engine *eng, size_t n)
{
    void *p;
    if (eng->amalloc != NULL)
        return tsps__calloc(eng, 1, n);
    p = mmap(NULL, big_len(n), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, big_len(n), MADV_HUGEPAGE);
    return p;
}

static void big_free(tsps_engine *eng, void *p, size_t n)
{
    if (p == NULL)
        return;
    if (eng->amalloc != NULL)
        tsps__free(eng, p);
    else
        munmap(p, big_len(n));
}

/* Grow a block from `old` to `n` bytes, keeping its contents. */
static void *big_grow(tsps_engine *eng, void *p, size_t old, size_t n)
{
    void *q;
    if (p == NULL)
        return big_alloc(eng, n);
    if (eng->amalloc == NULL) {
        q = mremap(p, big_len(old), big_len(n), MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            return NULL;
        madvise(q, big_len(n), MADV_HUGEPAGE);
        return q;
    }
    q = tsps__malloc(eng, n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old);
    tsps__free(eng, p);
    return q;
}

static uint64_t slot_hash(uint32_t uid, uint64_t key)
{
    return tsps__mix64(key + (uint64_t)uid * 0x9E3779B97F4A7C15ull);
}

static const uint8_t *rec_val(const struct tsps__cmem *m, uint32_t rec,
                              size_t *len)
{
    const uint8_t *p = m->arena + rec;
    *len = (size_t)p[0] << 8 | p[1];
    return p + 2;
}

/* The code of an index value ([src][len][code]...), NULL if unreadable. */
static const uint8_t *code_of(const uint8_t *v, size_t vl, size_t *cl)
{
    if (vl < 2 || (size_t)2 + v[1] > vl)
        return NULL;
    *cl = v[1];
    return v + 2;
}

/* LMDB's order of duplicates: bytes, then length. */
static int val_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* ---- table ------------------------------------------------------------- */

static void slots_insert(struct cslot *slots, uint64_t mask,
                         const struct cslot *s)
{
    for (uint64_t i = slot_hash(s->uid, s->kc & NUM_MASK);; i++) {
        struct cslot *e = &slots[i & mask];
        if (e->kc == 0) {
            *e = *s;
            return;
        }
    }
}

/* Rebuild the slot array at `cap` slots, leaving out one user's entries
 * (drop_uid) unless drop_uid is UINT32_MAX. */
static int resize(tsps_engine *eng, struct tsps__cmem *m, uint64_t cap,
                  uint32_t drop_uid)
{
    struct cslot *n = big_alloc(eng, cap * sizeof(*n));
    uint64_t used = 0;

    if (n == NULL)
        return TSPS_ENOMEM;
    for (uint64_t i = 0; m->slots != NULL && i <= m->mask; i++) {
        const struct cslot *s = &m->slots[i];
        if (s->kc == 0)
            continue;
        if (s->uid == drop_uid) {
            size_t len;
            rec_val(m, s->rec, &len);
            m->dead += 2 + len;
            continue;
        }
        slots_insert(n, cap - 1, s);
        used++;
    }
    if (m->slots != NULL)
        big_free(eng, m->slots, (m->mask + 1) * sizeof(*m->slots));
    /* atomic: tsps__cmem_hint() reads them without the lock */
    __atomic_store_n(&m->slots, n, __ATOMIC_RELAXED);
    __atomic_store_n(&m->mask, cap - 1, __ATOMIC_RELAXED);
    m->used = used;
    return TSPS_OK;
}

/* Copy the live entries into a fresh arena (when half of it is dead). */
static int compact(tsps_engine *eng, struct tsps__cmem *m)
{
    size_t cap = m->alen - m->dead + 4096, len = 0;
    uint8_t *a = big_alloc(eng, cap);

    if (a == NULL)
        return TSPS_ENOMEM;
    for (uint64_t i = 0; i <= m->mask; i++) {
        struct cslot *s = &m->slots[i];
        size_t vl;
        if (s->kc == 0)
            continue;
        rec_val(m, s->rec, &vl);
        memcpy(a + len, m->arena + s->rec, 2 + vl);
        s->rec = (uint32_t)len;
        len += 2 + vl;
    }
    big_free(eng, m->arena, m->acap);
    m->arena = a;
    m->alen = len;
    m->acap = cap;
    m->dead = 0;
    return TSPS_OK;
}

static uint32_t code_hash(const uint8_t *c, size_t n)
{
    return (uint32_t)tsps__fnv64(c, n);
}

/* The id of a code, interning it; CODE_OTHER when the table is full. */
static uint32_t code_id(tsps_engine *eng, struct tsps__cmem *m,
                        const uint8_t *c, size_t n)
{
    uint32_t h;

    if (n == 0)
        return CODE_NONE;
    if (n >= TSPS_CODE_MAX)
        return CODE_BAD;
    for (h = code_hash(c, n); m->code_slots != NULL; h++) {
        uint16_t id = m->code_slots[h & m->code_mask];
        if (id == 0)
            break;
        if (strncmp(m->codes[id], (const char *)c, n) == 0 &&
            m->codes[id][n] == '\0')
            return id;
    }
    if (m->ncodes + 1 >= CODES_MAX)
        return CODE_OTHER;
    if (m->ncodes + 1 >= m->codes_cap || (m->ncodes + 2) * 2 > m->code_mask) {
        uint32_t cap = m->codes_cap != 0 ? m->codes_cap * 2 : 64;
        char(*nc)[TSPS_CODE_MAX] = tsps__calloc(eng, cap, TSPS_CODE_MAX);
        uint16_t *ns = tsps__calloc(eng, (size_t)cap * 2, sizeof(*ns));
        if (nc == NULL || ns == NULL) {
            tsps__free(eng, nc);
            tsps__free(eng, ns);
            return CODE_OTHER;
        }
        if (m->codes != NULL)
            memcpy(nc, m->codes, (size_t)m->codes_cap * TSPS_CODE_MAX);
        for (uint32_t id = 1; id <= m->ncodes; id++)
            for (uint32_t j =
                     code_hash((const uint8_t *)nc[id], strlen(nc[id]));
                 ; j++)
                if (ns[j & (cap * 2 - 1)] == 0) {
                    ns[j & (cap * 2 - 1)] = (uint16_t)id;
                    break;
                }
        tsps__free(eng, m->codes);
        tsps__free(eng, m->code_slots);
        m->codes = nc;
        m->code_slots = ns;
        m->codes_cap = cap;
        m->code_mask = cap * 2 - 1;
    }
    m->ncodes++;
    memcpy(m->codes[m->ncodes], c, n);
    m->codes[m->ncodes][n] = '\0';
    for (h = code_hash(c, n);; h++)
        if (m->code_slots[h & m->code_mask] == 0) {
            m->code_slots[h & m->code_mask] = (uint16_t)m->ncodes;
            break;
        }
    return m->ncodes;
}

/* The code id for an index value (CODE_BAD if it cannot be read the way
 * the route reads it). */
static uint32_t value_code(tsps_engine *eng, struct tsps__cmem *m,
                           const uint8_t *v, size_t vl)
{
    tsps__cidx_parts f;
    if (tsps__cidx_split(v, vl, &f) != 0)
        return CODE_BAD;
    return code_id(eng, m, f.code, f.cl);
}

static int put(tsps_engine *eng, struct tsps__cmem *m, uint32_t uid,
               uint64_t key, const uint8_t *val, size_t vlen)
{
    struct cslot s;

    if (key == 0 || key > NUM_MASK)
        return TSPS_OK; /* not an E.164 key: routing never asks for it */
    for (uint64_t i = slot_hash(uid, key);; i++) {
        const struct cslot *e = &m->slots[i & m->mask];
        size_t el;
        const uint8_t *ev;
        if (e->kc == 0)
            break;
        if ((e->kc & NUM_MASK) != key || e->uid != uid)
            continue;
        ev = rec_val(m, e->rec, &el);
        if (el == vlen && memcmp(ev, val, vlen) == 0)
            return TSPS_OK; /* already there (MDB_NODUPDATA) */
    }
    if ((m->used + 1) * 2 > m->mask + 1 &&
        resize(eng, m, (m->mask + 1) * 2, UINT32_MAX) != TSPS_OK)
        return TSPS_ENOMEM;
    if (m->alen + 2 + vlen > m->acap) {
        size_t cap = m->acap != 0 ? m->acap : 1 << 16;
        uint8_t *a;
        while (cap < m->alen + 2 + vlen)
            cap *= 2;
        if (cap > ARENA_MAX)
            cap = ARENA_MAX;
        if (m->alen + 2 + vlen > cap)
            return TSPS_ENOMEM;
        a = big_grow(eng, m->arena, m->acap, cap);
        if (a == NULL)
            return TSPS_ENOMEM;
        m->arena = a;
        m->acap = cap;
    }
    m->arena[m->alen] = (uint8_t)(vlen >> 8);
    m->arena[m->alen + 1] = (uint8_t)vlen;
    memcpy(m->arena + m->alen + 2, val, vlen);
    s.kc = key | (uint64_t)value_code(eng, m, val, vlen) << NUM_BITS;
    s.uid = uid;
    s.rec = (uint32_t)m->alen;
    m->alen += 2 + vlen;
    slots_insert(m->slots, m->mask, &s);
    m->used++;
    return TSPS_OK;
}

static void del(struct tsps__cmem *m, uint32_t uid, uint64_t key,
                const uint8_t *val, size_t vlen)
{
    uint64_t i = slot_hash(uid, key), j;

    for (;; i++) {
        const struct cslot *e = &m->slots[i & m->mask];
        size_t el;
        const uint8_t *ev;
        if (e->kc == 0)
            return;
        if ((e->kc & NUM_MASK) != key || e->uid != uid)
            continue;
        ev = rec_val(m, e->rec, &el);
        if (el == vlen && memcmp(ev, val, vlen) == 0)
            break;
    }
    m->dead += 2 + vlen;
    m->used--;
    /* backward-shift deletion: no tombstones, probes stay short */
    i &= m->mask;
    j = i;
    for (;;) {
        uint64_t home;
        j = (j + 1) & m->mask;
        if (m->slots[j].kc == 0)
            break;
        home = slot_hash(m->slots[j].uid, m->slots[j].kc & NUM_MASK) & m->mask;
        /* move j back to i if its home is not in (i, j] cyclically */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].kc = 0;
}

static void cmem_clear(tsps_engine *eng, struct tsps__cmem *m)
{
    if (m->slots != NULL)
        big_free(eng, m->slots, (m->mask + 1) * sizeof(*m->slots));
    big_free(eng, m->arena, m->acap);
    __atomic_store_n(&m->slots, NULL, __ATOMIC_RELAXED);
    m->arena = NULL;
    __atomic_store_n(&m->mask, 0, __ATOMIC_RELAXED);
    m->used = 0;
    m->alen = m->acap = m->dead = 0;
    tsps__free(eng, m->codes);
    tsps__free(eng, m->code_slots);
    m->codes = NULL;
    m->code_slots = NULL;
    m->ncodes = m->codes_cap = m->code_mask = 0;
}

/* Load every entry of DB_CIDX (write lock held, or not yet shared). */
static int load(tsps_engine *eng, struct tsps__cmem *m)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_stat st;
    uint64_t cap = 1024;
    int rc;

    cmem_clear(eng, m);
    rc = mdb_txn_begin(eng->env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_SUCCESS)
        rc = mdb_stat(txn, eng->dbi[DB_CIDX], &st);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(txn, eng->dbi[DB_CIDX], &cur);
    if (rc != MDB_SUCCESS) {
        rc = tsps__mdb_err(rc);
        goto out;
    }
    while (cap < st.ms_entries * 2 + 2)
        cap *= 2;
    rc = resize(eng, m, cap, UINT32_MAX);
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         mrc == MDB_SUCCESS && rc == TSPS_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size != 12 || v.mv_size > 0xFFFF)
            continue;
        rc = put(eng, m, tsps__rd32(kp), tsps__rd64(kp + 4), v.mv_data,
                 v.mv_size);
    }
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != TSPS_OK)
        cmem_clear(eng, m);
    return rc;
}

/* ---- lifecycle --------------------------------------------------------- */

int tsps__cmem_open(tsps_engine *eng)
{
    struct tsps__cmem *m;
    int rc;

    if (eng->flags & (TSPS_OPEN_RDONLY | TSPS_OPEN_NO_CONTACT_CACHE))
        return TSPS_OK;
    m = tsps__calloc(eng, 1, sizeof(*m));
    if (m == NULL)
        return TSPS_ENOMEM;
    tsps__rwlock_init_writer(&m->lock);
    rc = load(eng, m);
    if (rc == TSPS_OK) {
        m->on = 1;
        tsps__logf(eng, TSPS_LOG_INFO,
                   "msg=\"contact index in memory\" entries=%llu bytes=%llu",
                   (unsigned long long)m->used,
                   (unsigned long long)((m->mask + 1) * sizeof(struct cslot) +
                                        m->acap));
    } else {
        tsps__logf(eng, TSPS_LOG_WARN,
                   "msg=\"contact index not held in memory; routing reads "
                   "the store\" err=%s",
                   tsps_strerror(rc));
    }
    eng->cmem = m;
    return TSPS_OK;
}

void tsps__cmem_close(tsps_engine *eng)
{
    struct tsps__cmem *m = eng->cmem;

    if (m == NULL)
        return;
    cmem_clear(eng, m);
    tsps__free(eng, m->jbuf);
    pthread_rwlock_destroy(&m->lock);
    tsps__free(eng, m);
    eng->cmem = NULL;
}

/* ---- journal (writers) ------------------------------------------------- */

static void journal(tsps_engine *eng, int op, uint32_t uid, uint64_t key,
                    const uint8_t *val, size_t vlen)
{
    struct tsps__cmem *m = eng->cmem;
    uint8_t *p;

    if (m == NULL || !m->on || m->jbad)
        return;
    if (m->jlen + 15 + vlen > m->jcap) {
        size_t cap = m->jcap != 0 ? m->jcap * 2 : 1 << 14;
        uint8_t *n;
        while (cap < m->jlen + 15 + vlen)
            cap *= 2;
        n = tsps__malloc(eng, cap);
        if (n == NULL) {
            m->jbad = 1; /* the table is reloaded after the commit */
            return;
        }
        if (m->jlen > 0)
            memcpy(n, m->jbuf, m->jlen);
        tsps__free(eng, m->jbuf);
        m->jbuf = n;
        m->jcap = cap;
    }
    p = m->jbuf + m->jlen;
    p[0] = (uint8_t)op;
    tsps__be32(p + 1, uid);
    tsps__be64(p + 5, key);
    p[13] = (uint8_t)(vlen >> 8);
    p[14] = (uint8_t)vlen;
    if (vlen > 0)
        memcpy(p + 15, val, vlen);
    m->jlen += 15 + vlen;
    m->jputs += op == J_PUT;
}

void tsps__cj_put(tsps_engine *eng, uint32_t uid, uint64_t key, const void *val,
                  size_t vlen)
{
    journal(eng, J_PUT, uid, key, val, vlen);
}

void tsps__cj_del(tsps_engine *eng, uint32_t uid, uint64_t key, const void *val,
                  size_t vlen)
{
    journal(eng, J_DEL, uid, key, val, vlen);
}

void tsps__cj_drop_user(tsps_engine *eng, uint32_t uid)
{
    journal(eng, J_DROP, uid, 0, NULL, 0);
}

size_t tsps__cj_mark(tsps_engine *eng)
{
    return eng->cmem != NULL ? eng->cmem->jlen : 0;
}

void tsps__cj_rewind(tsps_engine *eng, size_t mark)
{
    if (eng->cmem != NULL && mark <= eng->cmem->jlen)
        eng->cmem->jlen = mark;
}

void tsps__cj_reset(tsps_engine *eng)
{
    struct tsps__cmem *m = eng->cmem;
    if (m == NULL)
        return;
    m->jlen = 0;
    m->jputs = 0;
    m->jbad = 0;
    if (m->jcap > (1u << 24)) { /* do not keep a bulk load's journal */
        tsps__free(eng, m->jbuf);
        m->jbuf = NULL;
        m->jcap = 0;
    }
}

/* Prefetch the home slot of the journal entry at `o`; the next offset. */
static size_t prefetch_entry(const struct tsps__cmem *m, size_t o)
{
    const uint8_t *p = m->jbuf + o;
    if (p[0] != J_DROP)
        __builtin_prefetch(
            &m->slots[slot_hash(tsps__rd32(p + 1), tsps__rd64(p + 5)) &
                      m->mask]);
    return o + 15 + ((size_t)p[13] << 8 | p[14]);
}

void tsps__cj_commit(tsps_engine *eng)
{
    struct tsps__cmem *m = eng->cmem;
    int rc = TSPS_OK;

    if (m == NULL || !m->on || (m->jlen == 0 && !m->jbad)) {
        tsps__cj_reset(eng);
        return;
    }
    pthread_rwlock_wrlock(&m->lock);
    if (m->jbad) {
        rc = load(eng, m);
    } else {
        /* one resize for the whole commit, not a doubling every so often */
        uint64_t cap = m->mask + 1;
        while ((m->used + m->jputs) * 2 > cap)
            cap *= 2;
        if (cap > m->mask + 1)
            rc = resize(eng, m, cap, UINT32_MAX);
        /* `ahead` runs a few entries in front and prefetches their slots,
         * so that a bulk load does not wait for each slot in turn (a
         * resize in between only makes some prefetches useless) */
        size_t ahead = 0;
        for (int i = 0; i < 8 && ahead < m->jlen; i++)
            ahead = prefetch_entry(m, ahead);
        for (size_t o = 0; o < m->jlen && rc == TSPS_OK;) {
            const uint8_t *p = m->jbuf + o;
            uint32_t uid = tsps__rd32(p + 1);
            uint64_t key = tsps__rd64(p + 5);
            size_t vlen = (size_t)p[13] << 8 | p[14];
            if (ahead < m->jlen)
                ahead = prefetch_entry(m, ahead);
            if (p[0] == J_PUT)
                rc = put(eng, m, uid, key, p + 15, vlen);
            else if (p[0] == J_DEL)
                del(m, uid, key, p + 15, vlen);
            else
                rc = resize(eng, m, m->mask + 1, uid);
            o += 15 + vlen;
        }
        m->jahead = ahead; /* (keeps the compiler from dropping the walk) */
        if (rc == TSPS_OK && m->dead > (1u << 20) && m->dead * 2 > m->alen)
            rc = compact(eng, m);
    }
    if (rc != TSPS_OK) {
        cmem_clear(eng, m);
        m->on = 0;
    }
    pthread_rwlock_unlock(&m->lock);
    if (rc != TSPS_OK)
        tsps__logf(eng, TSPS_LOG_WARN,
                   "msg=\"contact index dropped from memory; routing reads "
                   "the store\" err=%s",
                   tsps_strerror(rc));
    tsps__cj_reset(eng);
}

/* ---- lookup (readers) ------------------------------------------------- */

/* Fold the entries of (uid, key) found at the offsets into `hit`. */
static void fold(const struct tsps__cmem *m, const uint32_t *recs, int n,
                 tsps__cidx_hit *hit)
{
    const uint8_t *best = NULL;
    size_t bestlen = 0;

    hit->n = n;
    hit->disagree = 0;
    hit->vlen = 0;
    for (int i = 0; i < n; i++) {
        size_t vl;
        const uint8_t *v = rec_val(m, recs[i], &vl);
        if (best != NULL) {
            size_t al = 0, bl = 0;
            const uint8_t *a = code_of(v, vl, &al);
            const uint8_t *b = code_of(best, bestlen, &bl);
            if (a == NULL || b == NULL || al != bl || memcmp(a, b, al) != 0)
                hit->disagree = 1;
        }
        if (best == NULL || val_cmp(v, vl, best, bestlen) < 0) {
            best = v;
            bestlen = vl;
        }
    }
    hit->names[0] = '\0';
    if (n > 1) {
        const uint8_t *vals[TSPS__NAMES_MAX];
        size_t lens[TSPS__NAMES_MAX];
        int k = n < TSPS__NAMES_MAX ? n : TSPS__NAMES_MAX;
        int first;
        for (int i = 0; i < k; i++)
            vals[i] = rec_val(m, recs[i], &lens[i]);
        first = tsps__cidx_names(hit, vals, lens, k);
        if (first >= 0) {
            best = vals[first]; /* the contact named first */
            bestlen = lens[first];
        }
    }
    if (best != NULL) {
        if (bestlen > sizeof(hit->val))
            bestlen = sizeof(hit->val);
        memcpy(hit->val, best, bestlen);
        hit->vlen = bestlen;
    }
}

int tsps__cmem_begin(tsps_engine *eng, uint32_t uid, uint64_t key,
                     tsps__cview *v)
{
    struct tsps__cmem *m = eng->cmem;

    if (m == NULL || key == 0 || key > NUM_MASK)
        return 0;
    pthread_rwlock_rdlock(&m->lock);
    if (!m->on) {
        pthread_rwlock_unlock(&m->lock);
        return 0;
    }
    v->m = m;
    v->uid = uid;
    v->key = key;
    v->probed = 0;
    __builtin_prefetch(&m->slots[slot_hash(uid, key) & m->mask]);
    return 1;
}

void tsps__cmem_hint(tsps_engine *eng, uint32_t uid, uint64_t key)
{
    const struct tsps__cmem *m = eng->cmem;
    const struct cslot *slots;
    uint64_t mask;

    if (m == NULL || key == 0 || key > NUM_MASK)
        return;
    /* No lock: a prefetch of a table being replaced is only wasted. */
    slots = __atomic_load_n(&m->slots, __ATOMIC_RELAXED);
    mask = __atomic_load_n(&m->mask, __ATOMIC_RELAXED);
    if (slots != NULL)
        __builtin_prefetch(&slots[slot_hash(uid, key) & mask]);
}

void tsps__cmem_probe(tsps__cview *v)
{
    const struct tsps__cmem *m = v->m;
    uint32_t first = 0;

    if (v->probed)
        return;
    v->probed = 1;
    v->n = 0;
    v->disagree = 0;
    v->code = "";
    v->need_entry = 0;
    for (uint64_t i = slot_hash(v->uid, v->key);; i++) {
        const struct cslot *e = &m->slots[i & m->mask];
        uint32_t id;
        if (e->kc == 0)
            break;
        if ((e->kc & NUM_MASK) != v->key || e->uid != v->uid)
            continue;
        id = (uint32_t)(e->kc >> NUM_BITS);
        if (v->n < TSPS__VIEW_RECS) {
            v->rec[v->n] = e->rec;
            __builtin_prefetch(m->arena + e->rec);
        }
        if (v->n == 0)
            first = id;
        else if (id != first)
            v->disagree = 1;
        if (id == CODE_BAD || id == CODE_OTHER)
            v->need_entry = 1;
        v->n++;
    }
    if (v->n > TSPS__VIEW_RECS)
        v->need_entry = 1;
    if (v->n > 0 && first != CODE_BAD && first != CODE_OTHER)
        v->code = m->codes != NULL && first != CODE_NONE ? m->codes[first] : "";
}

void tsps__cmem_end(tsps__cview *v, tsps__cidx_hit *hit)
{
    struct tsps__cmem *m = v->m;

    tsps__cmem_probe(v);
    if (v->n <= TSPS__VIEW_RECS) {
        fold(m, v->rec, v->n, hit);
    } else {
        uint32_t many[64];
        int n = 0;
        for (uint64_t i = slot_hash(v->uid, v->key);; i++) {
            const struct cslot *e = &m->slots[i & m->mask];
            if (e->kc == 0)
                break;
            if ((e->kc & NUM_MASK) == v->key && e->uid == v->uid && n < 64)
                many[n++] = e->rec;
        }
        fold(m, many, n, hit);
        hit->n = v->n;
    }
    pthread_rwlock_unlock(&m->lock);
}

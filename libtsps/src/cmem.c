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

struct cslot {
    uint64_t key; /* e164 key; 0 = empty */
    uint32_t uid;
    uint32_t rec; /* arena offset of [u16 len][value] */
};

struct tsps__cmem {
    pthread_rwlock_t lock;
    int on;
    struct cslot *slots;
    uint64_t mask, used;
    uint8_t *arena;
    size_t alen, acap, dead;
    uint64_t gen; /* moves whenever the table changes */
    /* journal of the open write (writer only, under the engine's wlock) */
    uint8_t *jbuf;
    size_t jlen, jcap, jputs;
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
    uint64_t x = key + (uint64_t)uid * 0x9E3779B97F4A7C15ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
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
    for (uint64_t i = slot_hash(s->uid, s->key);; i++) {
        struct cslot *e = &slots[i & mask];
        if (e->key == 0) {
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
        if (s->key == 0)
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
    m->slots = n;
    m->mask = cap - 1;
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
        if (s->key == 0)
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

static int put(tsps_engine *eng, struct tsps__cmem *m, uint32_t uid,
               uint64_t key, const uint8_t *val, size_t vlen)
{
    struct cslot s;

    for (uint64_t i = slot_hash(uid, key);; i++) {
        const struct cslot *e = &m->slots[i & m->mask];
        size_t el;
        const uint8_t *ev;
        if (e->key == 0)
            break;
        if (e->key != key || e->uid != uid)
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
    s.key = key;
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
        if (e->key == 0)
            return;
        if (e->key != key || e->uid != uid)
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
        if (m->slots[j].key == 0)
            break;
        home = slot_hash(m->slots[j].uid, m->slots[j].key) & m->mask;
        /* move j back to i if its home is not in (i, j] cyclically */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
}

static void cmem_clear(tsps_engine *eng, struct tsps__cmem *m)
{
    if (m->slots != NULL)
        big_free(eng, m->slots, (m->mask + 1) * sizeof(*m->slots));
    big_free(eng, m->arena, m->acap);
    m->slots = NULL;
    m->arena = NULL;
    m->mask = m->used = 0;
    m->alen = m->acap = m->dead = 0;
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
    pthread_rwlock_init(&m->lock, NULL);
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
        for (size_t o = 0; o < m->jlen && rc == TSPS_OK;) {
            const uint8_t *p = m->jbuf + o;
            uint32_t uid = tsps__rd32(p + 1);
            uint64_t key = tsps__rd64(p + 5);
            size_t vlen = (size_t)p[13] << 8 | p[14];
            if (p[0] == J_PUT)
                rc = put(eng, m, uid, key, p + 15, vlen);
            else if (p[0] == J_DEL)
                del(m, uid, key, p + 15, vlen);
            else
                rc = resize(eng, m, m->mask + 1, uid);
            o += 15 + vlen;
        }
        if (rc == TSPS_OK && m->dead > (1u << 20) && m->dead * 2 > m->alen)
            rc = compact(eng, m);
    }
    if (rc != TSPS_OK) {
        cmem_clear(eng, m);
        m->on = 0;
    }
    m->gen++;
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
    if (best != NULL) {
        if (bestlen > sizeof(hit->val))
            bestlen = sizeof(hit->val);
        memcpy(hit->val, best, bestlen);
        hit->vlen = bestlen;
    }
}

/* Walk the probe sequence of (uid, key); the offsets of up to `cap`
 * entries go to recs, the count of all of them is returned. */
static int walk(const struct tsps__cmem *m, uint32_t uid, uint64_t key,
                uint32_t *recs, int cap)
{
    int n = 0;
    for (uint64_t i = slot_hash(uid, key);; i++) {
        const struct cslot *e = &m->slots[i & m->mask];
        if (e->key == 0)
            return n;
        if (e->key == key && e->uid == uid) {
            if (n < cap)
                recs[n] = e->rec;
            n++;
        }
    }
}

int tsps__cmem_probe(tsps_engine *eng, uint32_t uid, uint64_t key,
                     tsps__cidx_ticket *t)
{
    struct tsps__cmem *m = eng->cmem;

    if (m == NULL)
        return 0;
    pthread_rwlock_rdlock(&m->lock);
    if (!m->on) {
        pthread_rwlock_unlock(&m->lock);
        return 0;
    }
    t->uid = uid;
    t->key = key;
    t->gen = m->gen;
    t->n = walk(m, uid, key, t->rec, TSPS__TICKET_RECS);
    for (int i = 0; i < t->n && i < TSPS__TICKET_RECS; i++)
        __builtin_prefetch(m->arena + t->rec[i]);
    pthread_rwlock_unlock(&m->lock);
    return 1;
}

int tsps__cmem_fetch(tsps_engine *eng, tsps__cidx_ticket *t,
                     tsps__cidx_hit *hit)
{
    struct tsps__cmem *m = eng->cmem;
    uint32_t many[64];

    pthread_rwlock_rdlock(&m->lock);
    if (!m->on) {
        pthread_rwlock_unlock(&m->lock);
        return 0;
    }
    if (t->gen != m->gen || t->n > TSPS__TICKET_RECS) {
        /* the table changed since the probe, or many entries: again */
        int n = walk(m, t->uid, t->key, many, 64);
        fold(m, many, n < 64 ? n : 64, hit);
        hit->n = n;
    } else {
        fold(m, t->rec, t->n, hit);
    }
    pthread_rwlock_unlock(&m->lock);
    return 1;
}

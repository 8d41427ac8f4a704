/* Each user's calendar pieces and registrations in memory, as the contact
 * index is (cmem.c): what a route reads for steps 4 and 7 without walking
 * DB_EVENTS and DB_REGS.
 *
 * Per user one immutable block: the event pieces' keys, the few fields of
 * each that decide whether it matters now (start, end, busy, cancelled),
 * its summary and uid (what a busy piece reports) and how many attendees
 * it has; and the registrations' values whole (they are small and a
 * "ring" reads every one). An event with attendees is read from the
 * route's read txn only when the caller must be looked for among them; a
 * piece the txn no longer has is skipped.
 *
 * Writers mark the users whose events or registrations they change while
 * their txn runs. After the commit, still under the writer lock, each
 * marked user's block is rebuilt from a read txn of the committed state
 * and swapped in under the table's write lock; an aborted txn drops the
 * marks. A mark that stays after a nested txn is aborted only rebuilds a
 * block that did not change. If memory runs out the table is switched off
 * and routing reads the store, as it always does for a read-only engine
 * (another process writes then). */
#include <stdlib.h>

#include "internal.h"

/* More users marked by one write than this: load the whole table anew. */
#define TSPS__UJ_MARKS_MAX 4096

struct tsps__umem {
    pthread_rwlock_t lock; /* writers preferred: readers hold it a route */
    int on;
    uint32_t cap;                /* by_uid has cap entries */
    struct tsps__ublob **by_uid; /* NULL: no events, no registrations */
    /* users marked by the open write (writer only, under the wlock) */
    uint32_t *marks;
    size_t nmarks, mcap;
    int all; /* too many marks, or a change of unknown users: reload */
};

/* ---- building a user's block ------------------------------------------ */

static int piece_of(const MDB_val *k, const MDB_val *v, tsps__upiece *p)
{
    const uint8_t *kp = k->mv_data, *vp = v->mv_data;
    if (k->mv_size != 20)
        return 0;
    p->ce = (int64_t)tsps__rd64(kp + 4);
    p->h = tsps__rd64(kp + 12);
    p->valid = v->mv_size >= 19 && vp[0] == 1;
    p->text = 0;
    p->natt = 0;
    if (p->valid) {
        p->start = (int64_t)tsps__rd64(vp + 1);
        p->end = (int64_t)tsps__rd64(vp + 9);
        p->busy = vp[17];
        p->cancelled = vp[18];
    } else {
        p->start = p->end = 0;
        p->busy = p->cancelled = 0;
    }
    return 1;
}

/* The block of user `uid` from the committed state in `txn`; *out NULL when
 * the user has neither events nor registrations. */
static int build(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                 tsps__ublob **out)
{
    MDB_cursor *ce = NULL, *cr = NULL;
    MDB_val k, v;
    uint8_t pfx[4];
    size_t nev = 0, nreg = 0, bytes = 0, size;
    tsps__ublob *b = NULL;
    tsps_event *e = NULL;
    int rc, pass;

    *out = NULL;
    tsps__be32(pfx, uid);
    rc = tsps__mdb_err(mdb_cursor_open(txn, eng->dbi[DB_EVENTS], &ce));
    if (rc == TSPS_OK)
        rc = tsps__mdb_err(mdb_cursor_open(txn, eng->dbi[DB_REGS], &cr));
    /* pass 0 counts, pass 1 fills */
    for (pass = 0; pass < 2 && rc == TSPS_OK; pass++) {
        size_t ie = 0, ir = 0, off = 0;
        int mrc;
        k.mv_size = 4;
        k.mv_data = pfx;
        mrc = mdb_cursor_get(cr, &k, &v, MDB_SET_RANGE);
        while (mrc == MDB_SUCCESS && k.mv_size > 4 &&
               memcmp(k.mv_data, pfx, 4) == 0) {
            if (pass == 1 && ir < nreg && off + v.mv_size <= bytes) {
                b->reg[ir].off = (uint32_t)off;
                b->reg[ir].len = (uint32_t)v.mv_size;
                memcpy(b->bytes + off, v.mv_data, v.mv_size);
            }
            ir++;
            off += v.mv_size;
            mrc = mdb_cursor_get(cr, &k, &v, MDB_NEXT);
        }
        if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
            rc = tsps__mdb_err(mrc);
            break;
        }
        k.mv_size = 4;
        k.mv_data = pfx;
        mrc = mdb_cursor_get(ce, &k, &v, MDB_SET_RANGE);
        while (mrc == MDB_SUCCESS && k.mv_size > 4 &&
               memcmp(k.mv_data, pfx, 4) == 0) {
            tsps__upiece p;
            if (piece_of(&k, &v, &p)) {
                /* the summary and uid a busy piece reports, and whether
                 * the route must read attendees at all */
                size_t sl = 0, ul = 0;
                if (p.valid && e == NULL)
                    e = tsps__malloc(eng, sizeof(*e));
                if (p.valid && e == NULL) {
                    rc = TSPS_ENOMEM;
                    break;
                }
                if (p.valid &&
                    tsps__dec_event(v.mv_data, v.mv_size, e) == TSPS_OK) {
                    sl = strlen(e->summary);
                    ul = strlen(e->uid);
                    p.natt = (uint8_t)e->nattendees;
                } else {
                    p.valid = 0; /* the route could not read it either */
                }
                p.text = (uint32_t)off;
                if (pass == 1 && ie < nev && off + sl + ul + 2 <= bytes) {
                    memcpy(b->bytes + off, e->summary, sl + 1);
                    memcpy(b->bytes + off + sl + 1, e->uid, ul + 1);
                }
                if (p.valid)
                    off += sl + ul + 2;
                if (pass == 1 && ie < nev)
                    b->ev[ie] = p;
                ie++;
            }
            mrc = mdb_cursor_get(ce, &k, &v, MDB_NEXT);
        }
        if (rc != TSPS_OK)
            break;
        if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
            rc = tsps__mdb_err(mrc);
            break;
        }
        if (pass == 0) {
            nev = ie;
            nreg = ir;
            bytes = off;
            if (nev == 0 && nreg == 0)
                break;
            if (nev > UINT32_MAX / 2 || nreg > UINT32_MAX / 2 ||
                bytes > UINT32_MAX) {
                rc = TSPS_ENOMEM;
                break;
            }
            size = sizeof(*b) + nev * sizeof(tsps__upiece) +
                   nreg * sizeof(tsps__ureg) + bytes;
            b = tsps__malloc(eng, size);
            if (b == NULL) {
                rc = TSPS_ENOMEM;
                break;
            }
            b->nev = (uint32_t)nev;
            b->nreg = (uint32_t)nreg;
            b->ev = (tsps__upiece *)(b + 1);
            b->reg = (tsps__ureg *)(b->ev + nev);
            b->bytes = (uint8_t *)(b->reg + nreg);
        } else if (ie != nev || ir != nreg || off != bytes) {
            /* cannot happen in one txn; do not hand out a torn block */
            rc = TSPS_ESTORE;
        }
    }
    tsps__free(eng, e);
    if (ce != NULL)
        mdb_cursor_close(ce);
    if (cr != NULL)
        mdb_cursor_close(cr);
    if (rc != TSPS_OK) {
        tsps__free(eng, b);
        return rc;
    }
    *out = b;
    return TSPS_OK;
}

static int ensure_cap(tsps_engine *eng, struct tsps__umem *m, uint32_t uid)
{
    uint32_t cap = m->cap != 0 ? m->cap : 64;
    tsps__ublob **n;
    if (uid < m->cap)
        return TSPS_OK;
    while (cap <= uid)
        cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    n = tsps__calloc(eng, cap, sizeof(*n));
    if (n == NULL)
        return TSPS_ENOMEM;
    if (m->by_uid != NULL)
        memcpy(n, m->by_uid, m->cap * sizeof(*n));
    tsps__free(eng, m->by_uid);
    m->by_uid = n;
    m->cap = cap;
    return TSPS_OK;
}

static void clear(tsps_engine *eng, struct tsps__umem *m)
{
    for (uint32_t i = 0; i < m->cap; i++)
        tsps__free(eng, m->by_uid[i]);
    tsps__free(eng, m->by_uid);
    m->by_uid = NULL;
    m->cap = 0;
}

/* Every user with events or registrations (caller holds the write lock or
 * is the only user of `m`). */
static int load(tsps_engine *eng, struct tsps__umem *m)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = tsps__read_begin(eng, &txn);

    clear(eng, m);
    for (int db = 0; db < 2 && rc == TSPS_OK; db++) {
        MDB_val k, v;
        uint8_t pfx[4];
        int mrc;
        rc = tsps__mdb_err(mdb_cursor_open(
            txn, eng->dbi[db == 0 ? DB_EVENTS : DB_REGS], &cur));
        if (rc != TSPS_OK)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (mrc == MDB_SUCCESS && rc == TSPS_OK) {
            uint32_t uid;
            if (k.mv_size < 4) {
                mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                continue;
            }
            uid = tsps__rd32(k.mv_data);
            rc = ensure_cap(eng, m, uid);
            if (rc == TSPS_OK && m->by_uid[uid] == NULL)
                rc = build(eng, txn, uid, &m->by_uid[uid]);
            if (rc != TSPS_OK || uid == UINT32_MAX)
                break;
            /* on to the next user */
            tsps__be32(pfx, uid + 1);
            k.mv_size = 4;
            k.mv_data = pfx;
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        }
        if (rc == TSPS_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            rc = tsps__mdb_err(mrc);
        mdb_cursor_close(cur);
        cur = NULL;
    }
    if (txn != NULL)
        tsps__read_end(eng, txn);
    if (rc != TSPS_OK)
        clear(eng, m);
    return rc;
}

int tsps__umem_open(tsps_engine *eng)
{
    struct tsps__umem *m;
    int rc;

    if (eng->flags & (TSPS_OPEN_RDONLY | TSPS_OPEN_NO_CONTACT_CACHE))
        return TSPS_OK;
    m = tsps__calloc(eng, 1, sizeof(*m));
    if (m == NULL)
        return TSPS_ENOMEM;
    tsps__rwlock_init_writer(&m->lock);
    rc = load(eng, m);
    if (rc == TSPS_OK)
        m->on = 1;
    else
        tsps__logf(eng, TSPS_LOG_WARN,
                   "msg=\"events and registrations not held in memory; "
                   "routing reads the store\" err=%s",
                   tsps_strerror(rc));
    eng->umem = m;
    return TSPS_OK;
}

void tsps__umem_close(tsps_engine *eng)
{
    struct tsps__umem *m = eng->umem;
    if (m == NULL)
        return;
    clear(eng, m);
    tsps__free(eng, m->marks);
    pthread_rwlock_destroy(&m->lock);
    tsps__free(eng, m);
    eng->umem = NULL;
}

/* ---- writers ------------------------------------------------------------ */

void tsps__uj_mark(tsps_engine *eng, uint32_t uid)
{
    struct tsps__umem *m = eng->umem;
    if (m == NULL || !m->on || m->all)
        return;
    /* a write touches one user again and again: skip the last few */
    for (size_t i = m->nmarks; i > 0 && i + 4 > m->nmarks; i--)
        if (m->marks[i - 1] == uid)
            return;
    if (m->nmarks == m->mcap) {
        size_t cap = m->mcap != 0 ? m->mcap * 2 : 16;
        uint32_t *n;
        if (cap > TSPS__UJ_MARKS_MAX) {
            m->all = 1; /* cheaper to reload than to rebuild one by one */
            return;
        }
        n = tsps__malloc(eng, cap * sizeof(*n));
        if (n == NULL) {
            m->all = 1;
            return;
        }
        if (m->marks != NULL)
            memcpy(n, m->marks, m->nmarks * sizeof(*n));
        tsps__free(eng, m->marks);
        m->marks = n;
        m->mcap = cap;
    }
    m->marks[m->nmarks++] = uid;
}

void tsps__uj_mark_all(tsps_engine *eng)
{
    struct tsps__umem *m = eng->umem;
    if (m != NULL && m->on)
        m->all = 1;
}

void tsps__uj_reset(tsps_engine *eng)
{
    struct tsps__umem *m = eng->umem;
    if (m == NULL)
        return;
    m->nmarks = 0;
    m->all = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void tsps__uj_commit(tsps_engine *eng)
{
    struct tsps__umem *m = eng->umem;
    MDB_txn *txn = NULL;
    tsps__ublob **fresh = NULL;
    struct tsps__umem tab; /* only cap and by_uid used */
    size_t n;
    int rc;

    memset(&tab, 0, sizeof(tab));
    if (m == NULL || !m->on || (m->nmarks == 0 && !m->all)) {
        tsps__uj_reset(eng);
        return;
    }
    if (m->all) {
        /* a whole new table, built outside the lock, swapped in */
        rc = load(eng, &tab);
        pthread_rwlock_wrlock(&m->lock);
        if (rc == TSPS_OK) {
            uint32_t cap = m->cap;
            tsps__ublob **by_uid = m->by_uid;
            m->cap = tab.cap;
            m->by_uid = tab.by_uid;
            tab.cap = cap; /* the old one, freed after the lock */
            tab.by_uid = by_uid;
        }
        goto done;
    }
    qsort(m->marks, m->nmarks, sizeof(*m->marks), cmp_u32);
    n = 0;
    for (size_t i = 0; i < m->nmarks; i++)
        if (n == 0 || m->marks[n - 1] != m->marks[i])
            m->marks[n++] = m->marks[i];
    m->nmarks = n;
    /* build outside the table's lock: routes go on meanwhile */
    fresh = tsps__calloc(eng, n, sizeof(*fresh));
    rc = fresh != NULL ? tsps__read_begin(eng, &txn) : TSPS_ENOMEM;
    for (size_t i = 0; i < n && rc == TSPS_OK; i++)
        rc = build(eng, txn, m->marks[i], &fresh[i]);
    if (txn != NULL)
        tsps__read_end(eng, txn);
    pthread_rwlock_wrlock(&m->lock);
    if (rc == TSPS_OK)
        rc = ensure_cap(eng, m, m->marks[n - 1]);
    for (size_t i = 0; i < n && rc == TSPS_OK; i++) {
        tsps__ublob *old = m->by_uid[m->marks[i]];
        m->by_uid[m->marks[i]] = fresh[i];
        fresh[i] = old; /* freed below, after the lock */
    }
done:
    if (rc != TSPS_OK) {
        clear(eng, m);
        m->on = 0;
    }
    pthread_rwlock_unlock(&m->lock);
    clear(eng, &tab);
    if (fresh != NULL) {
        for (size_t i = 0; i < m->nmarks; i++)
            tsps__free(eng, fresh[i]);
        tsps__free(eng, fresh);
    }
    if (rc != TSPS_OK)
        tsps__logf(eng, TSPS_LOG_WARN,
                   "msg=\"events and registrations dropped from memory; "
                   "routing reads the store\" err=%s",
                   tsps_strerror(rc));
    tsps__uj_reset(eng);
}

/* ---- readers ------------------------------------------------------------ */

int tsps__umem_begin(tsps_engine *eng, uint32_t uid, const tsps__ublob **out)
{
    struct tsps__umem *m = eng->umem;

    *out = NULL;
    if (m == NULL)
        return 0;
    pthread_rwlock_rdlock(&m->lock);
    if (!m->on) {
        pthread_rwlock_unlock(&m->lock);
        return 0;
    }
    *out = uid < m->cap ? m->by_uid[uid] : NULL;
    return 1;
}

void tsps__umem_end(tsps_engine *eng)
{
    pthread_rwlock_unlock(&eng->umem->lock);
}

size_t tsps__umem_seek(const tsps__ublob *b, int64_t after)
{
    size_t lo = 0, hi = b != NULL ? b->nev : 0;
    /* the first piece ending after `after` (keys sort by end, unsigned) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)b->ev[mid].ce <= (uint64_t)after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Registrations: device bindings of a user, with expiry. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void tsps_registration_init(tsps_registration *r)
{
    if (r == NULL)
        return;
    memset(r, 0, sizeof(*r));
    r->version = TSPS_REG_VERSION;
    r->q = 1000;
}

static size_t reg_key(uint8_t *kb, uint32_t uid, const char *key)
{
    size_t n = strlen(key);
    tsps__be32(kb, uid);
    memcpy(kb + 4, key, n);
    return 4 + n;
}

struct reg_arg {
    const char *user_id;
    const tsps_registration *r;
    const char *key;
    int64_t now;
    size_t removed;
};

static int reg_put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct reg_arg *a = arg;
    uint8_t kb[4 + TSPS_URI_MAX], vb[2048];
    tsps__wbuf w = {vb, sizeof(vb), 0, 0};
    const char *key =
        a->r->instance[0] != '\0' ? a->r->instance : a->r->contact;
    uint32_t uid;
    MDB_val k, v;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);

    if (rc != TSPS_OK)
        return rc;
    tsps__enc_reg(&w, a->r);
    if (w.overflow)
        return TSPS_EINVAL;
    k.mv_size = reg_key(kb, uid, key);
    k.mv_data = kb;
    v.mv_size = w.len;
    v.mv_data = vb;
    tsps__uj_mark(eng, uid);
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_REGS], &k, &v, 0));
}

int tsps_registration_put(tsps_engine *eng, const char *user_id,
                          const tsps_registration *r)
{
    struct reg_arg a = {user_id, r, NULL, 0, 0};
    if (eng == NULL || r == NULL || !tsps__valid_id(user_id) ||
        r->version < 1 || r->version > TSPS_REG_VERSION ||
        r->contact[0] == '\0' ||
        strnlen(r->contact, TSPS_URI_MAX) == TSPS_URI_MAX ||
        strnlen(r->instance, TSPS_URI_MAX) == TSPS_URI_MAX ||
        strnlen(r->label, TSPS_LABEL_MAX) == TSPS_LABEL_MAX ||
        strnlen(r->call_id, TSPS_URI_MAX) == TSPS_URI_MAX ||
        strnlen(r->user_agent, TSPS_NAME_MAX) == TSPS_NAME_MAX || r->q > 1000)
        return TSPS_EINVAL;
    return tsps__write(eng, 0, reg_put_fn, &a);
}

static int reg_remove_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct reg_arg *a = arg;
    uint8_t kb[4 + TSPS_URI_MAX];
    uint32_t uid;
    MDB_val k;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    if (rc != TSPS_OK)
        return rc;
    tsps__uj_mark(eng, uid);
    if (a->key == NULL) {
        uint8_t pfx[4];
        tsps__be32(pfx, uid);
        return tsps__del_prefix(txn, eng->dbi[DB_REGS], pfx, 4);
    }
    k.mv_size = reg_key(kb, uid, a->key);
    k.mv_data = kb;
    return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_REGS], &k, NULL));
}

int tsps_registration_remove(tsps_engine *eng, const char *user_id,
                             const char *key)
{
    struct reg_arg a = {user_id, NULL, key, 0, 0};
    if (eng == NULL || !tsps__valid_id(user_id) || key == NULL ||
        key[0] == '\0' || strnlen(key, TSPS_URI_MAX) == TSPS_URI_MAX)
        return TSPS_EINVAL;
    return tsps__write(eng, 0, reg_remove_fn, &a);
}

int tsps_registration_clear(tsps_engine *eng, const char *user_id)
{
    struct reg_arg a = {user_id, NULL, NULL, 0, 0};
    if (eng == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, reg_remove_fn, &a);
}

static int cmp_reg(const void *a, const void *b)
{
    const tsps_registration *x = a, *y = b;
    if (x->q != y->q)
        return x->q > y->q ? -1 : 1;
    return strcmp(x->contact, y->contact);
}

struct reg_walk {
    tsps_engine *eng;
    int64_t now;
    tsps_registration *regs;
    size_t n, cap;
    int nomem;
};

static int reg_walk_fn(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct reg_walk *w = arg;
    tsps_registration r;
    (void)k;
    if (tsps__dec_reg(v->mv_data, v->mv_size, &r) != TSPS_OK ||
        r.expires <= w->now)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        /* through the engine's allocator hooks (no realloc hook: copy) */
        tsps_registration *nr = tsps__malloc(w->eng, cap * sizeof(*nr));
        if (nr == NULL) {
            w->nomem = 1;
            return 1;
        }
        if (w->n > 0)
            memcpy(nr, w->regs, w->n * sizeof(*nr));
        tsps__free(w->eng, w->regs);
        w->regs = nr;
        w->cap = cap;
    }
    w->regs[w->n++] = r;
    return 0;
}

/* Collected first and called back after the read txn ends, best q first,
 * so the callback may write (e.g. refresh a binding). */
int tsps_registration_list(tsps_engine *eng, const char *user_id, int64_t now,
                           tsps_registration_cb cb, void *arg)
{
    struct reg_walk w = {eng, now, NULL, 0, 0, 0};
    int rc;

    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    rc = tsps__walk_user(eng, DB_REGS, user_id, reg_walk_fn, &w);
    if (rc == TSPS_OK && w.nomem)
        rc = TSPS_ENOMEM;
    if (rc == TSPS_OK && w.n > 0) {
        qsort(w.regs, w.n, sizeof(*w.regs), cmp_reg);
        for (size_t i = 0; i < w.n; i++)
            if (cb(arg, &w.regs[i]) != 0)
                break;
    }
    tsps__free(eng, w.regs);
    return rc;
}

static int purge_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct reg_arg *a = arg;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, eng->dbi[DB_REGS], &cur);
    a->removed = 0;
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        tsps_registration r;
        if (tsps__dec_reg(v.mv_data, v.mv_size, &r) != TSPS_OK ||
            r.expires <= a->now) {
            if (k.mv_size >= 4)
                tsps__uj_mark(eng, tsps__rd32(k.mv_data));
            else
                tsps__uj_mark_all(eng);
            rc = mdb_cursor_del(cur, 0);
            if (rc != MDB_SUCCESS)
                break;
            a->removed++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == MDB_SUCCESS)
                continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

int tsps_registration_purge(tsps_engine *eng, int64_t now, size_t *removed)
{
    struct reg_arg a = {NULL, NULL, NULL, now, 0};
    int rc;
    if (removed != NULL)
        *removed = 0;
    if (eng == NULL)
        return TSPS_EINVAL;
    rc = tsps__write(eng, 0, purge_fn, &a);
    if (rc == TSPS_OK && removed != NULL)
        *removed = a.removed;
    return rc;
}

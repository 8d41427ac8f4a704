/* Engine lifecycle: the LMDB environment, writes with map growth, logging,
 * the allocator hooks, sync cursors and the small kv store. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "internal.h"

static const char *const db_names[DB__COUNT] = {
    "meta",      "users",       "unames",  "numbers", "contacts", "cidx",
    "codes",     "status",      "events",  "evuid",   "regs",     "hist",
    "hist_user", "hist_caller", "cursors", "kv"};

void *tsps__malloc(tsps_engine *eng, size_t n)
{
    if (eng != NULL && eng->amalloc != NULL)
        return eng->amalloc(eng->aarg, n);
    return malloc(n);
}

void tsps__rwlock_init_writer(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(l, &a);
    pthread_rwlockattr_destroy(&a);
}

void *tsps__calloc(tsps_engine *eng, size_t n, size_t sz)
{
    void *p;
    if (sz != 0 && n > SIZE_MAX / sz)
        return NULL;
    p = tsps__malloc(eng, n * sz);
    if (p != NULL)
        memset(p, 0, n * sz);
    return p;
}

void tsps__free(tsps_engine *eng, void *p)
{
    if (p == NULL)
        return;
    if (eng != NULL && eng->afree != NULL)
        eng->afree(eng->aarg, p);
    else
        free(p);
}

void tsps__logf(tsps_engine *eng, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (eng == NULL || eng->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    eng->log(eng->log_arg, level, buf);
}

int tsps__mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return TSPS_OK;
    case MDB_NOTFOUND:
        return TSPS_ENOTFOUND;
    case MDB_MAP_FULL:
        return TSPS_ENOSPC;
    case MDB_KEYEXIST:
        return TSPS_EEXIST;
    case ENOMEM:
        return TSPS_ENOMEM;
    case MDB_BAD_VALSIZE:
        return TSPS_EINVAL;
    default:
        return TSPS_ESTORE;
    }
}

void tsps__e164_from_key(uint64_t k, char out[TSPS_E164_MAX])
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + k % 10);
        k /= 10;
    } while (k != 0 && n < 20);
    out[0] = '+';
    for (int i = 0; i < n && i < TSPS_E164_MAX - 2; i++)
        out[i + 1] = tmp[n - 1 - i];
    out[n < TSPS_E164_MAX - 2 ? n + 1 : TSPS_E164_MAX - 1] = '\0';
}

static int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *k, uint64_t *v)
{
    MDB_val key = {strlen(k), (void *)k}, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc != MDB_SUCCESS)
        return rc;
    if (val.mv_size != 8)
        return MDB_CORRUPTED;
    *v = tsps__rd64(val.mv_data);
    return MDB_SUCCESS;
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *k, uint64_t v)
{
    uint8_t b[8];
    MDB_val key = {strlen(k), (void *)k}, val = {8, b};
    tsps__be64(b, v);
    return mdb_put(txn, dbi, &key, &val, 0);
}

uint64_t tsps__stored_gen(tsps_engine *eng, MDB_txn *txn)
{
    uint64_t g = 0;
    meta_get_u64(txn, eng->dbi[DB_META], "gen", &g);
    return g;
}

void tsps__bump_gen(tsps_engine *eng, MDB_txn *txn)
{
    meta_put_u64(txn, eng->dbi[DB_META], "gen", tsps__stored_gen(eng, txn) + 1);
}

static int setup_store(tsps_engine *eng)
{
    MDB_txn *txn = NULL;
    uint64_t schema = 0, gen = 0;
    int rc, ro = (eng->flags & TSPS_OPEN_RDONLY) != 0;

    rc = mdb_txn_begin(eng->env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    for (int i = 0; i < DB__COUNT; i++) {
        unsigned fl = ro ? 0 : MDB_CREATE;
        if (i == DB_CIDX)
            fl |= MDB_DUPSORT;
        if (i == DB_USERS || i == DB_STATUS)
            fl |= MDB_INTEGERKEY;
        rc = mdb_dbi_open(txn, db_names[i], fl, &eng->dbi[i]);
        if (rc != MDB_SUCCESS) {
            tsps__logf(eng, TSPS_LOG_ERROR,
                       "msg=\"cannot open database\" db=%s err=\"%s\"",
                       db_names[i], mdb_strerror(rc));
            goto fail;
        }
    }
    rc = meta_get_u64(txn, eng->dbi[DB_META], "schema", &schema);
    if (rc == MDB_NOTFOUND && !ro) {
        schema = TSPS_SCHEMA_VERSION;
        rc = meta_put_u64(txn, eng->dbi[DB_META], "schema", schema);
    }
    if (rc != MDB_SUCCESS)
        goto fail;
    if (schema > TSPS_SCHEMA_VERSION) {
        tsps__logf(eng, TSPS_LOG_ERROR,
                   "msg=\"store schema is newer than this library\" "
                   "store_schema=%" PRIu64 " library_schema=%u",
                   schema, TSPS_SCHEMA_VERSION);
        mdb_txn_abort(txn);
        return TSPS_ESCHEMA;
    }
    if (!ro) {
        int mrc = tsps__rules_migrate(eng, txn);
        if (mrc != TSPS_OK) {
            tsps__logf(eng, TSPS_LOG_ERROR,
                       "msg=\"cannot bring the stored rules to the current "
                       "rule order\" err=%s",
                       tsps_errname(mrc));
            mdb_txn_abort(txn);
            return mrc;
        }
    }
    gen = tsps__stored_gen(eng, txn);
    atomic_store(&eng->gen, gen + 1);
    rc = mdb_txn_commit(txn);
    return tsps__mdb_err(rc);
fail:
    mdb_txn_abort(txn);
    return tsps__mdb_err(rc);
}

int tsps_engine_open(const tsps_config *cfg, tsps_engine **out)
{
    tsps_engine *eng = NULL;
    unsigned envfl = MDB_NOTLS | MDB_NORDAHEAD;
    int rc;

    if (out == NULL)
        return TSPS_EINVAL;
    *out = NULL;
    if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0')
        return TSPS_EINVAL;
    if (cfg->version < 1 || cfg->version > TSPS_CONFIG_VERSION)
        return TSPS_EVERSION;
    if ((cfg->alloc_malloc == NULL) != (cfg->alloc_free == NULL))
        return TSPS_EINVAL;

    eng = cfg->alloc_malloc != NULL
              ? cfg->alloc_malloc(cfg->alloc_arg, sizeof(*eng))
              : malloc(sizeof(*eng));
    if (eng == NULL)
        return TSPS_ENOMEM;
    memset(eng, 0, sizeof(*eng));
    eng->amalloc = cfg->alloc_malloc;
    eng->afree = cfg->alloc_free;
    eng->aarg = cfg->alloc_arg;
    eng->log = cfg->log;
    eng->log_arg = cfg->log_arg;
    eng->flags = cfg->flags;
    eng->map_size = cfg->map_size != 0 ? cfg->map_size : (size_t)1 << 30;
    eng->map_max = cfg->map_max != 0 ? cfg->map_max : (size_t)64 << 30;
    if (eng->map_size > eng->map_max)
        eng->map_size = eng->map_max;
    eng->lockfd = -1;
    pthread_mutex_init(&eng->wlock, NULL);
    pthread_rwlock_init(&eng->maplock, NULL);
    pthread_mutex_init(&eng->snap_lock, NULL);
    pthread_mutex_init(&eng->pool_lock, NULL);
    if (cfg->region != NULL && cfg->region[0] != '\0') {
        rc = tsps_dialplan_for_region(cfg->region, &eng->site);
        if (rc != TSPS_OK)
            goto cleanup;
    }

    if ((cfg->flags & TSPS_OPEN_RDONLY) == 0 && mkdir(cfg->path, 0700) != 0 &&
        errno != EEXIST) {
        tsps__logf(eng, TSPS_LOG_ERROR,
                   "msg=\"cannot create store directory\" path=\"%s\" "
                   "errno=%d",
                   cfg->path, errno);
        rc = TSPS_ESTORE;
        goto cleanup;
    }
    /* One writing engine per store: the configuration snapshot and the
     * contact index in memory are only kept current by this process's own
     * writes, so a second writer (another tspsd, a tool) is refused. */
    if ((cfg->flags & TSPS_OPEN_RDONLY) == 0) {
        char lp[4096];
        snprintf(lp, sizeof(lp), "%s/writer.lock", cfg->path);
        eng->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (eng->lockfd < 0) {
            tsps__logf(eng, TSPS_LOG_ERROR,
                       "msg=\"cannot open the writer lock\" path=\"%s\" "
                       "errno=%d",
                       lp, errno);
            rc = TSPS_ESTORE;
            goto cleanup;
        }
        if (flock(eng->lockfd, LOCK_EX | LOCK_NB) != 0) {
            tsps__logf(eng, TSPS_LOG_ERROR,
                       "msg=\"store is open for writing elsewhere (another "
                       "process or engine); open it read-only or stop the "
                       "other writer\" path=\"%s\"",
                       cfg->path);
            rc = errno == EWOULDBLOCK ? TSPS_EBUSY : TSPS_ESTORE;
            goto cleanup;
        }
    }
    rc = mdb_env_create(&eng->env);
    if (rc != MDB_SUCCESS) {
        eng->env = NULL;
        rc = tsps__mdb_err(rc);
        goto cleanup;
    }
    mdb_env_set_maxdbs(eng->env, DB__COUNT + 2);
    mdb_env_set_maxreaders(eng->env,
                           cfg->max_readers != 0 ? cfg->max_readers : 126);
    mdb_env_set_mapsize(eng->env, eng->map_size);
    if (cfg->flags & TSPS_OPEN_NOSYNC)
        envfl |= MDB_NOSYNC;
    if (cfg->flags & TSPS_OPEN_RDONLY)
        envfl |= MDB_RDONLY;
    rc = mdb_env_open(eng->env, cfg->path, envfl, 0600);
    if (rc != MDB_SUCCESS) {
        tsps__logf(eng, TSPS_LOG_ERROR,
                   "msg=\"cannot open store\" path=\"%s\" err=\"%s\"",
                   cfg->path, mdb_strerror(rc));
        rc = rc == EINVAL ? TSPS_ESCHEMA : TSPS_ESTORE;
        goto cleanup;
    }
    {
        /* A truncated data file faults (SIGBUS) on the first read of a
         * missing page: refuse it here with a reason. */
        char why[256];
        if (!tsps__store_size_ok(cfg->path, eng->env, why, sizeof(why))) {
            tsps__logf(eng, TSPS_LOG_ERROR,
                       "msg=\"cannot open store\" path=\"%s\" err=\"%s\"",
                       cfg->path, why);
            rc = TSPS_ESTORE;
            goto cleanup;
        }
    }
    {
        /* A store written by an earlier run may have a bigger map. */
        MDB_envinfo info;
        mdb_env_info(eng->env, &info);
        if (info.me_mapsize > eng->map_size)
            eng->map_size = info.me_mapsize;
    }
    rc = setup_store(eng);
    if (rc == TSPS_OK)
        rc = tsps__cmem_open(eng);
    if (rc == TSPS_OK)
        rc = tsps__umem_open(eng);
    if (rc != TSPS_OK)
        goto cleanup;
    *out = eng;
    eng = NULL;
cleanup:
    tsps_engine_close(eng);
    return rc;
}

void tsps_engine_close(tsps_engine *eng)
{
    tsps__reader *r, *next;

    if (eng == NULL)
        return;
    for (r = eng->pool; r != NULL; r = next) {
        next = r->next;
        tsps__reader_free(eng, r);
    }
    tsps__snap_release(eng, eng->snap);
    tsps__cmem_close(eng);
    tsps__umem_close(eng);
    if (eng->env != NULL)
        mdb_env_close(eng->env);
    if (eng->lockfd >= 0)
        close(eng->lockfd); /* releases the writer lock */
    pthread_mutex_destroy(&eng->wlock);
    pthread_rwlock_destroy(&eng->maplock);
    pthread_mutex_destroy(&eng->snap_lock);
    pthread_mutex_destroy(&eng->pool_lock);
    if (eng->afree != NULL)
        eng->afree(eng->aarg, eng);
    else
        free(eng);
}

int tsps__grow(tsps_engine *eng)
{
    size_t next = eng->map_size * 2;
    int rc;

    if (eng->map_size >= eng->map_max)
        return TSPS_ENOSPC;
    if (next > eng->map_max)
        next = eng->map_max;
    /* No transaction of this process may be active: take the map lock
     * exclusively (readers hold it shared while their txn is live). */
    pthread_rwlock_wrlock(&eng->maplock);
    tsps__readers_release(eng);
    rc = mdb_env_set_mapsize(eng->env, next);
    pthread_rwlock_unlock(&eng->maplock);
    if (rc != MDB_SUCCESS) {
        tsps__logf(eng, TSPS_LOG_ERROR,
                   "msg=\"map growth failed\" bytes=%zu err=\"%s\"", next,
                   mdb_strerror(rc));
        return TSPS_ESTORE;
    }
    tsps__logf(eng, TSPS_LOG_INFO, "msg=\"store map grown\" bytes=%zu", next);
    eng->map_size = next;
    return TSPS_OK;
}

/* Grow ahead of need when more than 3/4 of the map is in use, so that a
 * long batch rarely meets MDB_MAP_FULL. */
static void maybe_grow(tsps_engine *eng)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(eng->env, &info);
    mdb_env_stat(eng->env, &st);
    if ((uint64_t)(info.me_last_pgno + 1) * st.ms_psize >
        (uint64_t)eng->map_size / 4 * 3)
        tsps__grow(eng);
}

/* A write from the thread that holds the open batch: a nested txn inside
 * the batch's, so it commits (or is dropped) with the batch. */
static int write_in_batch(tsps_engine *eng, int config, tsps__write_fn fn,
                          void *arg)
{
    struct tsps_batch *b = eng->open_batch;
    MDB_txn *child = NULL;
    size_t mark;
    int rc;

    if (b->failed)
        return TSPS_ESTATE;
    /* a joined write may read or delete index entries still queued */
    rc = tsps__batch_flush(b);
    if (rc != TSPS_OK)
        return rc;
    mark = tsps__cj_mark(eng);
    rc = tsps__mdb_err(mdb_txn_begin(eng->env, b->txn, 0, &child));
    if (rc == TSPS_OK) {
        rc = fn(eng, child, arg);
        if (rc == TSPS_OK && config)
            tsps__bump_gen(eng, child);
        if (rc != TSPS_OK)
            mdb_txn_abort(child);
        else
            rc = tsps__mdb_err(mdb_txn_commit(child));
    }
    if (rc != TSPS_OK)
        tsps__cj_rewind(eng, mark); /* the child's index changes are gone */
    if (rc == TSPS_OK && config) {
        b->config_dirty = 1;
        b->user_id[0] = '\0'; /* the batch's user cache may be stale */
    }
    if (rc == TSPS_ENOSPC || rc == TSPS_ESTORE)
        b->failed = rc;
    return rc;
}

int tsps__write(tsps_engine *eng, int config, tsps__write_fn fn, void *arg)
{
    int rc = TSPS_OK;

    if (eng->flags & TSPS_OPEN_RDONLY)
        return TSPS_ESTATE;
    if (atomic_load(&eng->batch_owner) == (unsigned long)pthread_self())
        return write_in_batch(eng, config, fn, arg);
    pthread_mutex_lock(&eng->wlock);
    maybe_grow(eng);
    for (int attempt = 0; attempt < 8; attempt++) {
        MDB_txn *txn = NULL;
        int mrc = mdb_txn_begin(eng->env, NULL, 0, &txn);
        tsps__cj_reset(eng);
        tsps__uj_reset(eng);
        if (mrc != MDB_SUCCESS) {
            rc = tsps__mdb_err(mrc);
            break;
        }
        rc = fn(eng, txn, arg);
        if (rc == TSPS_OK && config)
            tsps__bump_gen(eng, txn);
        if (rc != TSPS_OK) {
            mdb_txn_abort(txn);
        } else {
            mrc = mdb_txn_commit(txn);
            rc = tsps__mdb_err(mrc);
        }
        if (rc != TSPS_ENOSPC)
            break;
        if (tsps__grow(eng) != TSPS_OK)
            break;
    }
    if (rc == TSPS_OK) {
        tsps__cj_commit(eng);
        tsps__uj_commit(eng);
    } else {
        tsps__cj_reset(eng);
        tsps__uj_reset(eng);
    }
    if (rc == TSPS_OK && config)
        atomic_fetch_add(&eng->gen, 1);
    pthread_mutex_unlock(&eng->wlock);
    if (rc == TSPS_OK)
        tsps__readers_release(eng);
    return rc;
}

int tsps__read_begin(tsps_engine *eng, MDB_txn **txn)
{
    int rc;
    pthread_rwlock_rdlock(&eng->maplock);
    rc = mdb_txn_begin(eng->env, NULL, MDB_RDONLY, txn);
    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&eng->maplock);
        *txn = NULL;
        return tsps__mdb_err(rc);
    }
    return TSPS_OK;
}

void tsps__read_end(tsps_engine *eng, MDB_txn *txn)
{
    if (txn == NULL)
        return;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&eng->maplock);
}

int tsps__del_prefix(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {plen, (void *)prefix}, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && k.mv_size >= plen &&
           memcmp(k.mv_data, prefix, plen) == 0) {
        rc = mdb_cursor_del(cur, MDB_NODUPDATA);
        if (rc != MDB_SUCCESS)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == MDB_NOTFOUND || rc == EINVAL)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? TSPS_OK
                                                   : tsps__mdb_err(rc);
}

/* ---- stats -------------------------------------------------------------- */

int tsps_engine_stats(tsps_engine *eng, tsps_stats *out)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    MDB_envinfo info;
    uint64_t *fields[DB__COUNT] = {0};
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || out == NULL)
        return TSPS_EINVAL;
    fields[DB_USERS] = &out->users;
    fields[DB_NUMBERS] = &out->numbers;
    fields[DB_CONTACTS] = &out->contacts;
    fields[DB_CIDX] = &out->contact_numbers;
    fields[DB_EVUID] = &out->events;
    fields[DB_REGS] = &out->registrations;
    fields[DB_HIST] = &out->calls;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    for (int i = 0; i < DB__COUNT; i++) {
        if (fields[i] == NULL)
            continue;
        if (mdb_stat(txn, eng->dbi[i], &st) == MDB_SUCCESS)
            *fields[i] = st.ms_entries;
    }
    mdb_env_info(eng->env, &info);
    mdb_env_stat(eng->env, &st);
    out->map_size = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    out->config_generation = tsps__stored_gen(eng, txn);
    tsps__read_end(eng, txn);
    return TSPS_OK;
}

/* ---- cursors and kv ------------------------------------------------------ */

struct kv_put {
    int dbi;
    const char *key;
    const void *val;
    size_t len;
};

static int kv_put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct kv_put *a = arg;
    MDB_val k = {strlen(a->key), (void *)a->key};
    MDB_val v = {a->len, (void *)a->val};
    int rc;
    if (a->val == NULL) {
        rc = mdb_del(txn, eng->dbi[a->dbi], &k, NULL);
        return rc == MDB_NOTFOUND ? TSPS_ENOTFOUND : tsps__mdb_err(rc);
    }
    return tsps__mdb_err(mdb_put(txn, eng->dbi[a->dbi], &k, &v, 0));
}

static int valid_key(const char *key)
{
    size_t n;
    if (key == NULL)
        return 0;
    n = strnlen(key, 512);
    return n > 0 && n < 500;
}

static int kv_get(tsps_engine *eng, int dbi, const char *key, void *buf,
                  size_t buflen, size_t *len)
{
    MDB_txn *txn = NULL;
    MDB_val k, v;
    int rc;

    if (len != NULL)
        *len = 0;
    if (eng == NULL || !valid_key(key) || len == NULL ||
        (buf == NULL && buflen != 0))
        return TSPS_EINVAL;
    k.mv_size = strlen(key);
    k.mv_data = (void *)key;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = tsps__mdb_err(mdb_get(txn, eng->dbi[dbi], &k, &v));
    if (rc == TSPS_OK) {
        *len = v.mv_size;
        if (v.mv_size > buflen)
            rc = TSPS_ENOBUFS;
        else if (v.mv_size > 0)
            memcpy(buf, v.mv_data, v.mv_size);
    }
    tsps__read_end(eng, txn);
    return rc;
}

int tsps_cursor_get(tsps_engine *eng, const char *key, void *buf, size_t buflen,
                    size_t *len)
{
    return kv_get(eng, DB_CURSORS, key, buf, buflen, len);
}

int tsps_cursor_delete(tsps_engine *eng, const char *key)
{
    struct kv_put a = {DB_CURSORS, key, NULL, 0};
    if (eng == NULL || !valid_key(key))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, kv_put_fn, &a);
}

int tsps_kv_put(tsps_engine *eng, const char *key, const void *val, size_t len)
{
    struct kv_put a = {DB_KV, key, val, len};
    if (eng == NULL || !valid_key(key) || len > (1u << 20))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, kv_put_fn, &a);
}

int tsps_kv_get(tsps_engine *eng, const char *key, void *buf, size_t buflen,
                size_t *len)
{
    return kv_get(eng, DB_KV, key, buf, buflen, len);
}

int tsps_kv_list(tsps_engine *eng, const char *prefix, tsps_kv_cb cb, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char key[512];
    size_t plen;
    int rc;

    if (eng == NULL || prefix == NULL || cb == NULL)
        return TSPS_EINVAL;
    plen = strnlen(prefix, 500);
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = mdb_cursor_open(txn, eng->dbi[DB_KV], &cur);
    if (rc != MDB_SUCCESS) {
        tsps__read_end(eng, txn);
        return tsps__mdb_err(rc);
    }
    k.mv_size = plen;
    k.mv_data = (void *)prefix;
    rc = plen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                  : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS && k.mv_size >= plen &&
           memcmp(k.mv_data, prefix, plen) == 0) {
        size_t n = k.mv_size < sizeof(key) - 1 ? k.mv_size : sizeof(key) - 1;
        memcpy(key, k.mv_data, n);
        key[n] = '\0';
        if (cb(arg, key, v.mv_data, v.mv_size) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    tsps__read_end(eng, txn);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? TSPS_OK
                                                   : tsps__mdb_err(rc);
}

int tsps__walk_user(tsps_engine *eng, int dbi, const char *user_id,
                    tsps__walk_fn fn, void *arg)
{
    tsps__user_read ur;
    MDB_val k, v;
    uint8_t pfx[4];
    int rc = tsps__user_read_begin(eng, user_id, dbi, &ur);

    if (rc != TSPS_OK)
        return rc;
    tsps__be32(pfx, ur.uid);
    k.mv_size = 4;
    k.mv_data = pfx;
    rc = mdb_cursor_get(ur.cur, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && k.mv_size > 4 &&
           memcmp(k.mv_data, pfx, 4) == 0) {
        if (fn(arg, &k, &v) != 0)
            break;
        rc = mdb_cursor_get(ur.cur, &k, &v, MDB_NEXT);
    }
    return tsps__user_read_end(eng, &ur, rc);
}

int tsps__user_read_begin(tsps_engine *eng, const char *user_id, int dbi,
                          tsps__user_read *ur)
{
    int rc = tsps__read_begin(eng, &ur->txn);

    ur->cur = NULL;
    if (rc != TSPS_OK)
        return rc;
    rc = tsps__uid(eng, ur->txn, user_id, &ur->uid);
    if (rc == TSPS_OK)
        rc = tsps__mdb_err(mdb_cursor_open(ur->txn, eng->dbi[dbi], &ur->cur));
    if (rc != TSPS_OK) {
        tsps__read_end(eng, ur->txn);
        ur->txn = NULL;
        ur->cur = NULL;
    }
    return rc;
}

int tsps__user_read_end(tsps_engine *eng, tsps__user_read *ur, int mdb_rc)
{
    if (ur->cur != NULL)
        mdb_cursor_close(ur->cur);
    tsps__read_end(eng, ur->txn);
    ur->cur = NULL;
    ur->txn = NULL;
    return mdb_rc == MDB_SUCCESS || mdb_rc == MDB_NOTFOUND
               ? TSPS_OK
               : tsps__mdb_err(mdb_rc);
}

void tsps__sb_add(tsps__sb *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->len < b->cap ? b->buf + b->len : NULL,
                  b->len < b->cap ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

int tsps__sb_done(tsps__sb *b, size_t *needed)
{
    if (needed != NULL)
        *needed = b->len + 1;
    if (b->len >= b->cap) {
        if (b->cap > 0)
            b->buf[0] = '\0';
        return TSPS_ENOBUFS;
    }
    return TSPS_OK;
}

/*
 * verify.c - read every page of a store once, to find corruption before a
 * daemon relies on the store.
 *
 * LMDB trusts its pages: a damaged branch or leaf page makes it read
 * outside the map (SIGSEGV, SIGBUS) or fail an assertion (abort). Neither
 * can be caught in-process, so tsps_store_verify() is meant to run where a
 * crash costs nothing (tspsd runs it in a child process before it opens
 * the store) and reports what it can: a file shorter than its pages say,
 * a meta page LMDB refuses, or a cursor error on the way.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void say(tsps_log_fn log, void *arg, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(tsps_log_fn log, void *arg, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log(arg, level, buf);
}

int tsps__store_size_ok(const char *dir, MDB_env *env, char *why, size_t whylen)
{
    char path[4096];
    struct stat sb;
    MDB_envinfo info;
    MDB_stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &sb) != 0 || mdb_env_info(env, &info) != MDB_SUCCESS ||
        mdb_env_stat(env, &st) != MDB_SUCCESS)
        return 1; /* nothing to compare: LMDB says what it thinks */
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)sb.st_size >= need)
        return 1;
    snprintf(why, whylen,
             "data.mdb is %" PRIu64 " bytes but its pages need %" PRIu64
             " (truncated)",
             (uint64_t)sb.st_size, need);
    return 0;
}

/* Walk one database: every key and value byte (overflow pages too). */
static int walk(MDB_txn *txn, MDB_dbi dbi, uint64_t *entries, unsigned *sum)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != MDB_SUCCESS)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
        const unsigned char *p = v.mv_data;
        for (size_t i = 0; i < v.mv_size; i += 64)
            *sum += p[i];
        if (v.mv_size > 0)
            *sum += p[v.mv_size - 1];
        (*entries)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

int tsps_store_verify(const char *path, tsps_log_fn log, void *log_arg)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *names = NULL;
    MDB_val k, v;
    char why[256], name[256];
    uint64_t entries = 0;
    unsigned sum = 0;
    int rc, dbs = 0;

    if (path == NULL || path[0] == '\0')
        return TSPS_EINVAL;
    rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    mdb_env_set_maxdbs(env, 64);
    /* The map only has to cover the file: LMDB takes the larger size. */
    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0600);
    if (rc != MDB_SUCCESS) {
        say(log, log_arg, TSPS_LOG_ERROR,
            "msg=\"store check: LMDB refuses the store\" path=\"%s\" "
            "err=\"%s\"",
            path, mdb_strerror(rc));
        rc = TSPS_ESTORE;
        goto done;
    }
    if (!tsps__store_size_ok(path, env, why, sizeof(why))) {
        say(log, log_arg, TSPS_LOG_ERROR, "msg=\"store check: %s\" path=\"%s\"",
            why, path);
        rc = TSPS_ESTORE;
        goto done;
    }
    MDB_dbi main_dbi = 0, free_dbi = 0; /* LMDB's free-page DB is dbi 0 */
    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_SUCCESS)
        rc = walk(txn, free_dbi, &entries, &sum);
    if (rc == MDB_SUCCESS)
        rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(txn, main_dbi, &names);
    /* The main database lists the named ones; walk each. */
    while (rc == MDB_SUCCESS &&
           (rc = mdb_cursor_get(names, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
        MDB_dbi dbi;
        entries++;
        if (k.mv_size == 0 || k.mv_size >= sizeof(name) ||
            memchr(k.mv_data, '\0', k.mv_size) != NULL)
            continue; /* a plain key in the main DB, not a name */
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        int orc = mdb_dbi_open(txn, name, 0, &dbi);
        if (orc == MDB_INCOMPATIBLE)
            continue; /* a plain key after all */
        if (orc != MDB_SUCCESS) {
            rc = orc;
            break;
        }
        rc = walk(txn, dbi, &entries, &sum);
        dbs++;
    }
    if (rc == MDB_NOTFOUND)
        rc = MDB_SUCCESS;
    if (rc == MDB_SUCCESS) {
        /* Damage can also look like a valid page with fewer entries: every
         * store tsps ever wrote has "meta" with its schema version. */
        MDB_dbi meta;
        MDB_val sk = {6, (void *)"schema"}, sv;
        int mrc = mdb_dbi_open(txn, "meta", 0, &meta);
        if (mrc == MDB_SUCCESS)
            mrc = mdb_get(txn, meta, &sk, &sv);
        if (mrc != MDB_SUCCESS || sv.mv_size != 8) {
            say(log, log_arg, TSPS_LOG_ERROR,
                "msg=\"store check: the store lost its meta database or "
                "schema version\" path=\"%s\" err=\"%s\"",
                path, mrc != MDB_SUCCESS ? mdb_strerror(mrc) : "bad size");
            rc = TSPS_ESTORE;
            goto done;
        }
    }
    if (rc != MDB_SUCCESS) {
        say(log, log_arg, TSPS_LOG_ERROR,
            "msg=\"store check: cannot read the store\" path=\"%s\" "
            "err=\"%s\"",
            path, mdb_strerror(rc));
        rc = TSPS_ESTORE;
        goto done;
    }
    say(log, log_arg, TSPS_LOG_DEBUG,
        "msg=\"store check passed\" path=\"%s\" databases=%d entries=%" PRIu64
        " sum=%u",
        path, dbs, entries, sum & 0xffu);
    rc = TSPS_OK;
done:
    if (names != NULL)
        mdb_cursor_close(names);
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

/*
 * etcd.h - a small etcd v3 client over etcd's JSON gateway (/v3/kv/put,
 * /v3/kv/range, /v3/kv/deleterange, /v3/watch), with libcurl and jansson.
 * Part of the cluster room (tspsd/cluster/): it includes only the base.
 *
 * Keys and values are bytes; the gateway carries them base64-encoded and
 * revisions as decimal strings. Every answer of etcd is parsed defensively:
 * a damaged or unexpected document is TSPSD_ETCD_EPROTO, never a crash
 * (tests/fuzz/fuzz_etcd_watch.c).
 */
#ifndef TSPSD_ETCD_H
#define TSPSD_ETCD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Result codes (append only). */
enum {
    TSPSD_ETCD_OK = 0,
    TSPSD_ETCD_EINVAL = -1,       /* bad argument (empty key, bad URL) */
    TSPSD_ETCD_ENOMEM = -2,       /* out of memory */
    TSPSD_ETCD_EUNREACHABLE = -3, /* no connection, timeout, reset, or
                                     HTTP 5xx (no leader...): try again */
    TSPSD_ETCD_EPROTO = -4,       /* an answer that is not what etcd sends */
    TSPSD_ETCD_ESERVER = -5,      /* etcd answered with an error */
    TSPSD_ETCD_ECOMPACTED = -6,   /* watch: the start revision is compacted */
    TSPSD_ETCD_ESTOPPED = -7      /* watch: the stop flag was raised */
};

/** Event types of a watch or a range (a range only gives PUT). */
enum { TSPSD_ETCD_PUT = 0, TSPSD_ETCD_DELETE = 1 };

typedef struct tspsd_etcd tspsd_etcd;

/** Words for a TSPSD_ETCD_* code. Thread-safety: pure. */
const char *tspsd_etcd_strerror(int rc);

/**
 * A client of the etcd at `url` ("http://127.0.0.1:2379"; several
 * endpoints: comma-separated, tried in turn). `timeout_ms` bounds each
 * unary request (put, delete, range); watches have no overall timeout.
 * @return TSPSD_ETCD_OK and *out, TSPSD_ETCD_EINVAL, TSPSD_ETCD_ENOMEM
 * Thread-safety: a handle may be used by several threads at once (each
 * request has its own curl handle).
 */
int tspsd_etcd_new(const char *url, long timeout_ms, tspsd_etcd **out);

/** Free a client (NULL is fine). No request may be running. */
void tspsd_etcd_free(tspsd_etcd *e);

/**
 * Put `key` = `val` (`len` bytes). *rev (may be NULL) = the revision of
 * the write. `err` gets words on failure.
 * @return TSPSD_ETCD_OK, _EINVAL, _EUNREACHABLE, _ESERVER, _EPROTO, _ENOMEM
 * Thread-safety: any thread.
 */
int tspsd_etcd_put(tspsd_etcd *e, const char *key, const void *val, size_t len,
                   int64_t *rev, char *err, size_t errlen);

/**
 * tspsd_etcd_put() with the key attached to lease `lease` (0: none): the
 * key goes when the lease expires.
 */
int tspsd_etcd_put_lease(tspsd_etcd *e, const char *key, const void *val,
                         size_t len, int64_t lease, int64_t *rev, char *err,
                         size_t errlen);

/**
 * Grant a lease of `ttl_s` seconds: *id its ID (0 on failure).
 * Codes as tspsd_etcd_put(). Thread-safety: any thread.
 */
int tspsd_etcd_lease_grant(tspsd_etcd *e, int ttl_s, int64_t *id, char *err,
                           size_t errlen);

/**
 * Renew lease `id` once: *ttl = its TTL now, 0 when etcd no longer knows
 * it (expired: grant a new one and put the keys again).
 * Codes as tspsd_etcd_put(). Thread-safety: any thread.
 */
int tspsd_etcd_lease_keepalive(tspsd_etcd *e, int64_t id, int64_t *ttl,
                               char *err, size_t errlen);

/**
 * Delete `key` (with `prefix` 1: every key starting with it). *rev (may be
 * NULL) = the revision after it. Codes as tspsd_etcd_put().
 */
int tspsd_etcd_delete(tspsd_etcd *e, const char *key, int prefix, int64_t *rev,
                      char *err, size_t errlen);

/**
 * A transaction: when `key`'s mod revision is `mod_rev` (0: the key does
 * not exist), put `key` = `val`, put each pair of `puts` (key, text
 * value, ..., NULL; may be NULL) and delete each key of `dels` (NULL-
 * terminated, may be NULL; a key ending in '/' deletes every key under
 * it), all at one revision. *won = 1 when the compare held (the writes
 * were made), 0 when the key changed meanwhile (nothing written). *rev
 * (may be NULL) = the revision after it. Codes as tspsd_etcd_put().
 * Thread-safety: any thread.
 */
int tspsd_etcd_cas(tspsd_etcd *e, const char *key, int64_t mod_rev,
                   const void *val, size_t len, const char *const *puts,
                   const char *const *dels, int *won, int64_t *rev, char *err,
                   size_t errlen);

/**
 * One key-value of a range or one event of a watch. `key` and `val` are
 * valid during the call only (val NULL for a DELETE). Return 0 to go on,
 * non-zero to stop (the call returns TSPSD_ETCD_ESTOPPED).
 */
typedef int (*tspsd_etcd_event_cb)(void *arg, int type, const char *key,
                                   size_t klen, const void *val, size_t vlen,
                                   int64_t mod_rev);

/**
 * Every key starting with `prefix`, in key order, through `cb`, read in
 * pages of TSPSD_ETCD_PAGE keys, all at one revision: `at_rev`, or (0) the
 * current one. *rev (may be NULL) = the revision the range was read at
 * (pass it as `at_rev` to read other prefixes at the same point).
 * Codes as tspsd_etcd_put(), _ESTOPPED when cb stopped it; a revision
 * compacted meanwhile is _ESERVER (read again from the start).
 */
int tspsd_etcd_range(tspsd_etcd *e, const char *prefix, int64_t at_rev,
                     tspsd_etcd_event_cb cb, void *arg, int64_t *rev, char *err,
                     size_t errlen);

/** Keys per page of tspsd_etcd_range(). */
#define TSPSD_ETCD_PAGE 1000

/** What one message of a watch stream said besides its events. */
typedef struct tspsd_etcd_watch_msg {
    int created;         /* the watch was created */
    int canceled;        /* the watch was cancelled by etcd */
    int64_t header_rev;  /* the store's revision in the header (0: none) */
    int64_t compact_rev; /* >0: start revision compacted up to this */
    size_t nevents;      /* events passed to the callback */
    char error[160];     /* etcd's error or cancel reason, "" if none */
} tspsd_etcd_watch_msg;

/**
 * Parse one JSON message of a watch stream (`{"result":{...}}` or
 * `{"error":{...}}`), calling `cb` for each event in order. Any input is
 * safe: bytes that are not such a message give TSPSD_ETCD_EPROTO.
 * @return TSPSD_ETCD_OK, _EPROTO, _ESERVER (an error message: msg->error),
 *         _ECOMPACTED (msg->compact_rev), _ESTOPPED (cb stopped), _ENOMEM
 * Thread-safety: pure apart from cb.
 */
int tspsd_etcd_watch_parse(const char *json, size_t len, tspsd_etcd_event_cb cb,
                           void *arg, tspsd_etcd_watch_msg *msg);

/**
 * Watch every key starting with `prefix` from `start_rev` (1 = from the
 * beginning), streaming: `cb` gets each event in revision order as it
 * comes. Blocks until an error, a cancel by etcd, or `*stop` becomes
 * non-zero (checked at least every 500 ms). *last_rev (may be NULL) = the
 * newest revision the stream reported (header or event).
 * @return _ESTOPPED (stop flag or cb), _EUNREACHABLE (connection lost),
 *         _ECOMPACTED, _ESERVER, _EPROTO, _EINVAL, _ENOMEM
 * Thread-safety: any thread; one watch per call.
 */
int tspsd_etcd_watch(tspsd_etcd *e, const char *prefix, int64_t start_rev,
                     tspsd_etcd_event_cb cb, void *arg, atomic_int *stop,
                     int64_t *last_rev, char *err, size_t errlen);

#endif

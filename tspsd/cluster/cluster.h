/*
 * cluster.h - replication of configuration through etcd (docs/cluster.md).
 * Part of the cluster room: knows etcd and nothing of the daemon; the app
 * (cluster_wire.c) tells it how to apply and persist through the ops.
 *
 * Two threads: the publisher sends queued writes to etcd in order (a write
 * waits in the queue, bounded, while etcd is away, and is retried with
 * backoff); the watcher follows every key under the prefix from the last
 * applied revision and hands each event to ops->apply in revision order,
 * then ops->applied with the revision. A watcher cut off reconnects with
 * backoff and carries on from that revision. Nothing here is ever waited
 * for by a call: routing reads the local store only.
 */
#ifndef TSPSD_CLUSTER_H
#define TSPSD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tspsd_cluster tspsd_cluster;

/** What the app does for the cluster. Every hook runs on a cluster thread. */
typedef struct tspsd_cluster_ops {
    void *arg;
    /* Apply one event: `key` is relative to the prefix ("user/alice"),
     * `val` NULL for a delete. Errors are the app's to log; the watcher
     * moves on (a bad record must not stop replication). */
    void (*apply)(void *arg, const char *key, const void *val, size_t len,
                  int64_t rev);
    /* Every event up to `rev` is applied: persist it (the restart point). */
    void (*applied)(void *arg, int64_t rev);
    /* Optional: a queued write is kept (seq) / sent and dropped, so queued
     * writes survive a restart while etcd is away. */
    void (*queue_save)(void *arg, uint64_t seq, const char *key,
                       const void *val, size_t len, int del);
    void (*queue_drop)(void *arg, uint64_t seq);
    /* Optional (needs cfg->lease_ttl_s): this node's record for the
     * registry, e.g. a JSON object with its shard, address, applied
     * revision (stats.config_rev) and drain state, into buf; its length,
     * 0 for none. Called about twice a second; a change is written. */
    size_t (*node_info)(void *arg, char *buf, size_t len);
    /* Optional (needs the registry): called about twice a second on the
     * registry's thread, for the app's timers (move-user's grace). */
    void (*tick)(void *arg);
} tspsd_cluster_ops;

typedef struct tspsd_cluster_config {
    const char *etcd;   /* endpoints, comma-separated */
    const char *prefix; /* "/tsps": keys live under "/tsps/" */
    const char *node;   /* this node's name (logs, the node key) */
    int64_t start_rev;  /* last applied revision (0: fresh: range first) */
    size_t max_queue;   /* writes waiting for etcd at most (0: 100000) */
    long timeout_ms;    /* one etcd request (0: 2000) */
    /* A fresh member (or one compacted past) reads the whole state: these
     * parts under the prefix ("user/", "number/", ...), in this order, all
     * at one revision, so that what others depend on comes first; NULL-
     * terminated. NULL: the whole prefix in key order. */
    const char *const *range_order;
    /* The node registry (docs/cluster.md): with ops->node_info, the node
     * keeps "node/<node>" under a lease of this many seconds, kept alive
     * while it runs, and "member/<node>" (no lease: the last record of a
     * node whose lease expired). 0: no registry. Neither part is applied
     * through ops->apply. */
    int lease_ttl_s;
} tspsd_cluster_config;

typedef struct tspsd_cluster_stats {
    int etcd_up;           /* the last request to etcd succeeded */
    int watching;          /* the watch stream is open */
    int64_t applied_rev;   /* newest revision applied here */
    int64_t etcd_rev;      /* newest revision etcd reported */
    uint64_t queued;       /* writes waiting for etcd */
    uint64_t published;    /* writes etcd took */
    uint64_t applied;      /* events applied */
    uint64_t dropped;      /* writes refused: queue full */
    uint64_t reconnects;   /* watch streams re-opened */
    int64_t config_rev;    /* newest configuration revision applied here
                              (registry keys not counted) */
    int registered;        /* our node key is in etcd under a live lease */
    int64_t down_since;    /* etcd_up == 0: since when (UTC ms), else 0 */
    uint64_t echo_skipped; /* our own writes' echoes not applied again */
} tspsd_cluster_stats;

/**
 * Make a cluster member (threads not yet started). `ops` is copied.
 * @return 0 and *out, -1 (bad config, memory; logged)
 * Thread-safety: any thread.
 */
int tspsd_cluster_new(const tspsd_cluster_config *cfg,
                      const tspsd_cluster_ops *ops, tspsd_cluster **out);

/**
 * Queue a write kept from before (ops->queue_save of a previous run) ahead
 * of new ones. Before tspsd_cluster_start only.
 */
int tspsd_cluster_requeue(tspsd_cluster *c, uint64_t seq, const char *key,
                          const void *val, size_t len, int del);

/** Start the publisher and the watcher. @return 0 or -1 (logged). */
int tspsd_cluster_start(tspsd_cluster *c);

/**
 * Publish a write: `key` relative to the prefix, `val`/`len` the state (a
 * put) or `del` 1 (a delete; with a key ending in '/', every key under
 * it). Never blocks on etcd: the write is queued.
 * @return 0, or -1 when the queue is full (counted, logged).
 * Thread-safety: any thread.
 */
int tspsd_cluster_publish(tspsd_cluster *c, const char *key, const void *val,
                          size_t len, int del);

/**
 * Read every key under `part` (relative to the prefix: "rule/alice/") from
 * etcd now, through cb(arg, key relative to the prefix, value, length,
 * mod revision). Waits for etcd (a timeout of its own): the watcher's
 * thread when a user moves in, a worker for history's node list; never
 * the loop. Thread-safety: any thread.
 * @return 0, or -1 (etcd unreachable or refused; logged).
 */
int tspsd_cluster_read(tspsd_cluster *c, const char *part,
                       void (*cb)(void *arg, const char *key, const void *val,
                                  size_t len, int64_t rev),
                       void *arg);

/** Counters and state. Thread-safety: any thread. */
void tspsd_cluster_stats_get(tspsd_cluster *c, tspsd_cluster_stats *st);

/** The node name. */
const char *tspsd_cluster_node(const tspsd_cluster *c);

/**
 * Stop the threads (a watch in progress ends within about 1 s; queued
 * writes stay with ops->queue_save) and free. NULL is fine.
 */
void tspsd_cluster_free(tspsd_cluster *c);

#endif

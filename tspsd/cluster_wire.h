/*
 * cluster_wire.h - the cluster room (tspsd/cluster) wired into tspsd:
 * write requests that succeed are published to etcd as state keys, and
 * every event of the watch is applied to the local store through the same
 * handlers, as an internal admin that publishes nothing. Part of the app
 * (docs/cluster.md); the core knows nothing of it.
 */
#ifndef TSPSD_CLUSTER_WIRE_H
#define TSPSD_CLUSTER_WIRE_H

#include <stddef.h>

typedef struct tspsd tspsd;

/**
 * When [cluster] enabled: wrap the write handlers (user.put/delete,
 * number.add/remove, code.set/delete, status.set, delegate,
 * source.add/remove, device.add/remove) so that each success is published
 * (the web UI's hours page goes through user.put), restore queued writes and
 * the applied revision from the store, start the publisher and the watcher, and
 * register the metrics front "cluster". Call after tspsd_handlers_register().
 * @return 0 (also when disabled), -1 logged.
 * Thread-safety: the loop thread, at start.
 */
int tspsd_cluster_wire_start(tspsd *d);

/**
 * Stop the threads and free (queued writes stay in the store). After the
 * worker pool is closed (no handler can publish any more), before the
 * engine and the loop close. NULL-safe when off.
 */
void tspsd_cluster_wire_stop(tspsd *d);

/**
 * The state of this member as text lines "key value" (node, etcd_up,
 * applied_revision, etcd_revision, queued_writes, ...). @return bytes
 * written (0 when the cluster is off). Thread-safety: any thread.
 */
size_t tspsd_cluster_wire_status(tspsd *d, char *buf, size_t len);

#endif

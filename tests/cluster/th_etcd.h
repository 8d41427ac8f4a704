/* th_etcd.h - a real etcd for a test: free loopback ports, a throwaway
 * data dir, started and killed by PID. */
#ifndef TSPS_TH_ETCD_H
#define TSPS_TH_ETCD_H

#include <sys/types.h>

typedef struct th_etcd {
    char dir[300];
    char url[64];
    int client_port, peer_port;
    pid_t pid;
} th_etcd;

/** Start etcd in dir/etcd (ports chosen on first start, kept after). */
void th_etcd_start(th_etcd *e, const char *dir);
/** SIGKILL and wait (a crash, not a shutdown). */
void th_etcd_kill(th_etcd *e);

/**
 * A TCP relay on a free 127.0.0.1 port to `port` (etcd's client port), for
 * a partition: one node talks to etcd through it, the others directly.
 * Each connection is relayed in its own thread; bounded to TH_RELAY_MAX.
 */
#define TH_RELAY_MAX 64
typedef struct th_relay th_relay;
/** Start it; the port to give the node is th_relay_port(). */
th_relay *th_relay_start(int port);
int th_relay_port(const th_relay *r);
/** Cut (1: every relayed connection closed, new ones closed at once) or
 * heal (0). */
void th_relay_cut(th_relay *r, int cut);
/** Stop and free (NULL is fine). */
void th_relay_stop(th_relay *r);

#endif

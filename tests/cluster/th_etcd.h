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

#endif

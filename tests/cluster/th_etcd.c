/* th_etcd.c - a real etcd for the cluster tests (th_etcd.h). */
#include "th_etcd.h"

#include "etcd.h"
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ETCD_BIN
#define ETCD_BIN "/usr/bin/etcd"
#endif

void th_etcd_start(th_etcd *e, const char *dir)
{
    char data[400], curl[64], purl[64], init[120], logp[400];
    if (e->client_port == 0) {
        e->client_port = th_free_port();
        do
            e->peer_port = th_free_port();
        while (e->peer_port == e->client_port);
        snprintf(e->dir, sizeof(e->dir), "%s", dir);
    }
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->client_port);
    snprintf(data, sizeof(data), "%s/etcd", e->dir);
    snprintf(logp, sizeof(logp), "%s/etcd.log", e->dir);
    snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", e->client_port);
    snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", e->peer_port);
    snprintf(init, sizeof(init), "t=%s", purl);
    e->pid = fork();
    ck_assert_int_ge(e->pid, 0);
    if (e->pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(ETCD_BIN, "etcd", "--name", "t", "--data-dir", data,
              "--listen-client-urls", curl, "--advertise-client-urls", curl,
              "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
              "--initial-cluster", init, "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    /* up when a put goes through: up to 15 s */
    tspsd_etcd *c = NULL;
    ck_assert_int_eq(tspsd_etcd_new(e->url, 500, &c), 0);
    for (int i = 0; i < 300; i++) {
        char err[200];
        if (tspsd_etcd_put(c, "/th/ready", "1", 1, NULL, err, sizeof(err)) ==
            TSPSD_ETCD_OK) {
            tspsd_etcd_free(c);
            return;
        }
        int st;
        ck_assert_msg(waitpid(e->pid, &st, WNOHANG) == 0,
                      "etcd exited early (see %s)", logp);
        th_sleep_ms(50);
    }
    tspsd_etcd_free(c);
    ck_abort_msg("etcd did not come up (see %s)", logp);
}

void th_etcd_kill(th_etcd *e)
{
    int st;
    if (e->pid <= 0)
        return;
    kill(e->pid, SIGKILL);
    waitpid(e->pid, &st, 0);
    e->pid = 0;
}

/* ---- the relay: one thread, poll over the listener and every pair ---- */

struct th_relay {
    int lfd, port, target;
    pthread_t th;
    atomic_int stop, cut;
    int fds[TH_RELAY_MAX][2]; /* client, upstream; -1 = free */
};

static int relay_dial(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* shutdown, not only close: a daemon forked meanwhile may hold a copy */
static void relay_close(th_relay *r, int i)
{
    for (int k = 0; k < 2; k++) {
        shutdown(r->fds[i][k], SHUT_RDWR);
        close(r->fds[i][k]);
    }
    r->fds[i][0] = r->fds[i][1] = -1;
}

static void *relay_main(void *arg)
{
    th_relay *r = arg;
    struct pollfd p[1 + 2 * TH_RELAY_MAX];
    char buf[16384];
    while (!atomic_load(&r->stop)) {
        int n = 0;
        p[n++] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
        for (int i = 0; i < TH_RELAY_MAX; i++) {
            if (r->fds[i][0] >= 0 && atomic_load(&r->cut))
                relay_close(r, i);
            for (int k = 0; k < 2; k++)
                p[n++] = (struct pollfd){.fd = r->fds[i][k], .events = POLLIN};
        }
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC), slot = -1;
            for (int i = 0; i < TH_RELAY_MAX && slot < 0; i++)
                if (r->fds[i][0] < 0)
                    slot = i;
            int u = c >= 0 && slot >= 0 && !atomic_load(&r->cut)
                        ? relay_dial(r->target)
                        : -1;
            if (u < 0) {
                if (c >= 0)
                    close(c);
            } else {
                r->fds[slot][0] = c;
                r->fds[slot][1] = u;
            }
        }
        for (int i = 0; i < TH_RELAY_MAX; i++)
            for (int k = 0; k < 2; k++) {
                struct pollfd *q = &p[1 + 2 * i + k];
                if (q->fd < 0 || r->fds[i][k] != q->fd ||
                    !(q->revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t got = read(q->fd, buf, sizeof(buf));
                if (got <= 0 ||
                    write(r->fds[i][1 - k], buf, (size_t)got) != got)
                    relay_close(r, i);
            }
    }
    for (int i = 0; i < TH_RELAY_MAX; i++)
        if (r->fds[i][0] >= 0)
            relay_close(r, i);
    return NULL;
}

th_relay *th_relay_start(int port)
{
    th_relay *r = calloc(1, sizeof(*r));
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    ck_assert_ptr_nonnull(r);
    memset(r->fds, -1, sizeof(r->fds));
    r->target = port;
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(r->lfd, 64), 0);
    getsockname(r->lfd, (struct sockaddr *)&sa, &sl);
    r->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&r->th, NULL, relay_main, r), 0);
    return r;
}

int th_relay_port(const th_relay *r)
{
    return r->port;
}

void th_relay_cut(th_relay *r, int cut)
{
    atomic_store(&r->cut, cut);
}

void th_relay_stop(th_relay *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
    free(r);
}

/* th_etcd.c - a real etcd for the cluster tests (th_etcd.h). */
#include "th_etcd.h"

#include "etcd.h"
#include "harness.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

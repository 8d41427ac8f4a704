/* The imap/imaps adapters against a real Dovecot started on free loopback
 * ports (tests/related/dovecot.sh) with a throwaway Maildir holding the
 * generated corpus: decoding, every address, date criteria (SENTSINCE /
 * SENTBEFORE), the open link, IMAPS and STARTTLS with a test CA, wrong
 * credentials (never logged), no command injection through an address,
 * and a server that stops or stalls in the middle of a lookup. */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "cmsb_test.h"
#include "related_test.h"
#include "tsps_check.h"

static char g_dir[512];
static int g_port, g_sport;
static int g_timeout_ms = 15000; /* generous: a loaded CI machine */

static int start_dovecot(const char *dir, int tls, int *port, int *sport)
{
    char cmd[1200];
    FILE *p;
    int rc;

    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh start '%s' %s",
             TSPS_SOURCE_DIR, dir, tls ? "tls" : "");
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (fscanf(p, "%d %d", port, sport) != 2)
        *port = 0;
    rc = pclose(p);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
        return 77;
    return (rc == 0 && *port > 0) ? 0 : -1;
}

static void stop_dovecot(const char *dir)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh stop '%s'",
             TSPS_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "dovecot stop failed\n");
}

typedef struct fx {
    cmsb_registry *reg;
    cmsb_source *src;
    test_logbuf log;
    cmsb_options o;
} fx;

static int fx_open(fx *f, const char *uri, const char *pass, int ca)
{
    char ca_file[600];

    memset(f, 0, sizeof(*f));
    f->o = (cmsb_options)CMSB_OPTIONS_INIT;
    f->o.log = test_log;
    f->o.log_arg = &f->log;
    f->o.username = "alice";
    f->o.password = pass;
    f->o.timeout_ms = g_timeout_ms;
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", g_dir);
    if (ca)
        f->o.ca_file = ca_file;
    ck_assert_int_eq(cmsb_registry_open(&f->reg), CMSB_OK);
    return cmsb_source_open(f->reg, uri, &f->o, &f->src);
}

static void fx_close(fx *f)
{
    cmsb_source_close(f->src);
    cmsb_registry_close(f->reg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *d, size_t s, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), add = s * n;

    if (have + add >= 65536)
        add = 65535 - have;
    memcpy(buf + have, d, add);
    buf[have + add] = '\0';
    return s * n;
}

START_TEST(test_imap_corpus)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];
    static char body[65536];
    CURL *c;

    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&anna);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    rt_check_corpus(&g);
    /* the link opens the very message (RFC 5092 form with UIDVALIDITY) */
    ck_assert_ptr_nonnull(strstr(g.url[3], ";UIDVALIDITY="));
    ck_assert_ptr_nonnull(strstr(g.url[3], "/;UID="));
    body[0] = '\0';
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, g.url[3]);
    curl_easy_setopt(c, CURLOPT_USERNAME, "alice");
    curl_easy_setopt(c, CURLOPT_PASSWORD, "secret");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    ck_assert_ptr_nonnull(strstr(body, "Message-ID: <m1@example.org>"));
    /* the password never reaches the log */
    ck_assert_ptr_null(strstr(f.log.text, "secret"));
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_dates_and_limit)
{
    fx f;
    tsps_contact anna;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    rt_got g = {0};
    char uri[200];

    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&mailbox=Sent", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&anna);
    q.since = T_NOV01;
    q.until = T_NOV26;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.title[0], "Vertrag – Entwurf 2");
    ck_assert_str_eq(g.title[1], "Grüße aus Berlin");
    memset(&g, 0, sizeof(g));
    q.since = q.until = 0;
    q.limit = 1;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "Kick-off");
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_only_inbox_and_missing_mailbox)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];

    /* a mailbox that does not exist is skipped, not an error */
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&mailbox=Archive2019", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&anna);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 4); /* not the one in Sent */
    ck_assert_ptr_nonnull(strstr(f.log.text, "Archive2019"));
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_wrong_password)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];

    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "Wr0ngPa55-x7", 0), CMSB_OK);
    rt_anna(&anna);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_EAUTH);
    ck_assert_int_eq(g.n, 0);
    ck_assert_ptr_nonnull(strstr(f.log.text, "imap request failed"));
    ck_assert_ptr_null(strstr(f.log.text, "Wr0ngPa55"));
    fx_close(&f);
}
END_TEST

START_TEST(test_imaps_test_ca)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];

    rt_anna(&anna);
    snprintf(uri, sizeof(uri), "imaps://127.0.0.1:%d/", g_sport);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 1), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    rt_check_corpus(&g);
    ck_assert_ptr_nonnull(strstr(g.url[0], "imaps://127.0.0.1:"));
    fx_close(&f);
    /* without the test CA the certificate is refused: nothing is sent */
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_EIO);
    ck_assert_int_eq(g.n, 0);
    ck_assert_ptr_nonnull(strstr(f.log.text, "certificate"));
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_starttls)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];

    rt_anna(&anna);
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/?starttls=1", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 1), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 5);
    fx_close(&f);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_EIO);
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_uri_and_injection)
{
    fx f;
    tsps_contact c;
    rt_got g = {0};
    char uri[200];

    snprintf(uri, sizeof(uri), "imap://alice:secret@127.0.0.1:%d/", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_EINVAL);
    ck_assert_ptr_null(strstr(f.log.text, "secret"));
    cmsb_registry_close(f.reg);
    ck_assert_int_eq(fx_open(&f, "imap:127.0.0.1", "secret", 0), CMSB_EINVAL);
    cmsb_registry_close(f.reg);
    /* options without a path ("host:port?...") */
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d?mailbox=Sent", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&c);
    ck_assert_int_eq(cmsb_related_for(f.src, &c, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.where[0], "Sent");
    fx_close(&f);
    memset(&g, 0, sizeof(g));
    /* an address that would widen the search must not match everything */
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    tsps_contact_init(&c);
    c.nemails = 2;
    snprintf(c.emails[0], sizeof(c.emails[0]), "x\" OR ALL \"y@z");
    snprintf(c.emails[1], sizeof(c.emails[1]), "a@b\r\nA1 LOGOUT");
    ck_assert_int_eq(cmsb_related_for(f.src, &c, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_close(&f);
}
END_TEST

#define BULK 2000

/* BULK messages from one sender in the mailbox "Bulk" (written before the
 * server starts) */
static void write_bulk(const char *root)
{
    char dir[800], name[64], msg[512];

    snprintf(dir, sizeof(dir), "%s/.Bulk/cur", root);
    for (int i = 0; i < BULK; i++) {
        snprintf(name, sizeof(name), "%d.M%dP1.bulk:2,S", 1790000000 + i, i);
        snprintf(msg, sizeof(msg),
                 "From: bulk@example.org\r\nTo: alice@example.net\r\n"
                 "Subject: bulk %d\r\nDate: Sun, 01 Nov 2026 10:00:00 "
                 "+0000\r\nMessage-ID: <bulk%d@example.org>\r\n\r\nx\r\n",
                 i, i);
        rt_put(dir, name, msg);
    }
}

START_TEST(test_imap_many_matches_newest_uids)
{
    fx f;
    tsps_contact c;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    rt_got g = {0};
    char uri[200];

    /* more matches than one response line of a few hundred: the newest
     * (highest UIDs) are fetched, not the first ones listed */
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/?mailbox=Bulk", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    tsps_contact_init(&c);
    c.nemails = 1;
    snprintf(c.emails[0], sizeof(c.emails[0]), "bulk@example.org");
    q.limit = 3;
    ck_assert_int_eq(cmsb_related_for(f.src, &c, &q, rt_collect, &g), CMSB_OK);
    ck_assert_int_eq(g.n, 3);
    for (int i = 0; i < g.n; i++) {
        const char *u = strstr(g.url[i], ";UID=");
        ck_assert_ptr_nonnull(u);
        ck_assert_int_gt(atoi(u + 5), BULK - 100);
    }
    fx_close(&f);
}
END_TEST

/* ---- a server that stops in the middle of a lookup ---- */

typedef struct proxy {
    int lfd, port, up_port;
    int mode; /* 1 = cut both sides at the first FETCH, 2 = stall there,
                 3 = stall a SEARCH by address (FROM) */
    atomic_int stop;
    pthread_t th;
    pthread_t conn_th[64];
    int nconn;
} proxy;

typedef struct proxy_conn {
    proxy *p;
    int cfd;
} proxy_conn;

static void *proxy_pipe(void *arg)
{
    proxy_conn *pc = arg;
    proxy *p = pc->p;
    int cfd = pc->cfd, sfd, stalled = 0;
    struct sockaddr_in up = {0};

    free(pc);
    sfd = socket(AF_INET, SOCK_STREAM, 0);
    up.sin_family = AF_INET;
    up.sin_port = htons((uint16_t)p->up_port);
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sfd, (struct sockaddr *)&up, sizeof(up)) != 0) {
        close(cfd);
        close(sfd);
        return NULL;
    }
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        char buf[16384];
        ssize_t n;
        if (stalled) {
            usleep(50000);
            continue;
        }
        if (poll(fds, 2, 100) <= 0)
            continue;
        if (fds[0].revents) {
            n = read(cfd, buf, sizeof(buf) - 1);
            if (n <= 0)
                break;
            buf[n] = '\0';
            if (p->mode != 3 && strstr(buf, "FETCH") != NULL) {
                if (p->mode == 1)
                    break; /* the server is gone */
                stalled = 1;
                continue;
            }
            if (p->mode == 3 && strstr(buf, "SEARCH") != NULL &&
                strstr(buf, " FROM ") != NULL) {
                stalled = 1;
                continue;
            }
            if (write(sfd, buf, (size_t)n) != n)
                break;
        }
        if (fds[1].revents) {
            n = read(sfd, buf, sizeof(buf));
            if (n <= 0 || write(cfd, buf, (size_t)n) != n)
                break;
        }
    }
    close(cfd);
    close(sfd);
    return NULL;
}

/* Accepts up to 64 connections, each piped on its own thread. */
static void *proxy_run(void *arg)
{
    proxy *p = arg;

    while (!atomic_load(&p->stop)) {
        struct pollfd pl = {p->lfd, POLLIN, 0};
        proxy_conn *pc;
        int cfd;
        if (poll(&pl, 1, 100) <= 0)
            continue;
        cfd = accept(p->lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        pc = malloc(sizeof(*pc));
        if (p->nconn == 64 || pc == NULL) {
            free(pc);
            close(cfd);
            continue;
        }
        pc->p = p;
        pc->cfd = cfd;
        if (pthread_create(&p->conn_th[p->nconn], NULL, proxy_pipe, pc) != 0) {
            free(pc);
            close(cfd);
            continue;
        }
        p->nconn++;
    }
    for (int i = 0; i < p->nconn; i++)
        pthread_join(p->conn_th[i], NULL);
    return NULL;
}

static void proxy_start(proxy *p, int mode)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);

    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->up_port = g_port;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(p->lfd, 4), 0);
    getsockname(p->lfd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&p->th, NULL, proxy_run, p), 0);
}

static void proxy_stop(proxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
}

START_TEST(test_imap_server_gone_mid_search)
{
    fx f;
    proxy px;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];
    double t0;

    proxy_start(&px, 1);
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", px.port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&anna);
    t0 = now_s();
    {
        int rc = cmsb_related_for(f.src, &anna, NULL, rt_collect, &g);
        if (rc != CMSB_EIO)
            fprintf(stderr, "unexpected rc=%d items=%d log:\n%s\n", rc, g.n,
                    f.log.text);
        ck_assert_int_eq(rc, CMSB_EIO);
    }
    ck_assert_double_lt(now_s() - t0, 30.0); /* bounded, not hung */
    ck_assert_int_eq(g.n, 0);
    /* the log says where and why */
    ck_assert_ptr_nonnull(strstr(f.log.text, "step=fetch"));
    ck_assert_ptr_nonnull(strstr(f.log.text, "reason="));
    fx_close(&f);
    proxy_stop(&px);
}
END_TEST

START_TEST(test_imap_server_stalls_mid_search)
{
    fx f;
    proxy px;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];
    double t0, took;

    proxy_start(&px, 2);
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", px.port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    cmsb_source_close(f.src);
    f.o.timeout_ms = 1000;
    ck_assert_int_eq(cmsb_source_open(f.reg, uri, &f.o, &f.src), CMSB_OK);
    rt_anna(&anna);
    t0 = now_s();
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_ETIMEDOUT);
    took = now_s() - t0;
    /* one request's timeout (1 s), well under the 3 x bound plus slack */
    ck_assert_double_ge(took, 0.5);
    ck_assert_double_lt(took, 30.0);
    ck_assert_ptr_nonnull(strstr(f.log.text, "step=fetch"));
    fx_close(&f);
    proxy_stop(&px);
}
END_TEST

START_TEST(test_imap_server_stopped)
{
    char dir[512], root[700];
    int port = 0, sport = 0;
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char uri[200];
    double t0;

    /* a Dovecot of its own, stopped between two lookups */
    tsps_check_tmpdir(dir, sizeof(dir));
    snprintf(root, sizeof(root), "%s/mail/alice", dir);
    rt_corpus(root);
    ck_assert_int_eq(start_dovecot(dir, 0, &port, &sport), 0);
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/", port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    rt_anna(&anna);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 5);
    stop_dovecot(dir);
    memset(&g, 0, sizeof(g));
    t0 = now_s();
    {
        int rc = cmsb_related_for(f.src, &anna, NULL, rt_collect, &g);
        if (rc != CMSB_EIO)
            fprintf(stderr, "unexpected rc=%d items=%d log:\n%s\n", rc, g.n,
                    f.log.text);
        ck_assert_int_eq(rc, CMSB_EIO);
    }
    ck_assert_double_lt(now_s() - t0, 30.0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_ptr_nonnull(strstr(f.log.text, "imap request failed"));
    fx_close(&f);
    tsps_check_rmdir(dir);
}
END_TEST

/* ---- the adapter-kept header index (?index=DIR) ---- */

static int ix_count_cb(void *arg, const cmsb_change *ch)
{
    (void)ch;
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_imap_index_serves_lookups_without_server_search)
{
    fx f;
    proxy px;
    tsps_contact anna;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    rt_got g;
    char uri[900];
    int rc = -1, tries = 0;

    /* a server whose address SEARCH never answers (the proxy stalls it):
     * once the background thread has built the index, lookups are
     * answered from it, with the same items, dates and open links a
     * server search gives */
    proxy_start(&px, 3);
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&mailbox=Sent&index=%s/ix3&"
             "refresh=1",
             px.port, g_dir);
    g_timeout_ms = 1000;
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    g_timeout_ms = 15000;
    rt_anna(&anna);
    /* bounded wait for the first build (60 tries of at most ~3 s) */
    for (; tries < 60; tries++) {
        memset(&g, 0, sizeof(g));
        rc = cmsb_related_for(f.src, &anna, NULL, rt_collect, &g);
        if (rc == CMSB_OK)
            break;
        /* the stalled search failed (timeout; curl may also report the
         * dropped connection otherwise): not built yet, try again */
        ck_assert_int_ne(rc, CMSB_EINVAL);
        usleep(200000);
    }
    ck_assert_int_eq(rc, CMSB_OK);
    rt_check_corpus(&g);
    ck_assert_ptr_nonnull(strstr(g.url[3], ";UIDVALIDITY="));
    /* the same index file from a new source with generous timeouts (a
     * loaded machine), the address search still stalled */
    fx_close(&f);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    rt_check_corpus(&g);
    /* date criteria from the index */
    memset(&g, 0, sizeof(g));
    q.since = T_NOV01;
    q.until = T_NOV26;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.title[0], "Vertrag – Entwurf 2");
    ck_assert_str_eq(g.title[1], "Grüße aus Berlin");
    memset(&g, 0, sizeof(g));
    q.since = q.until = 0;
    q.limit = 1;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "Kick-off");
    ck_assert_ptr_null(strstr(f.log.text, "secret"));
    fx_close(&f);
    proxy_stop(&px);
}
END_TEST

START_TEST(test_imap_index_new_mail_and_reopen)
{
    fx f;
    tsps_contact zoe;
    rt_got g = {0};
    char uri[900], root[700], cmd[1200];
    int n = 0;
    struct stat st;

    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&index=%s/ix4&refresh=0",
             g_port, g_dir);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(f.src, NULL, ix_count_cb, &n), CMSB_OK);
    ck_assert_int_eq(n, 1); /* one checkpoint, no contacts */
    tsps_contact_init(&zoe);
    zoe.nemails = 1;
    snprintf(zoe.emails[0], sizeof(zoe.emails[0]), "zoe@example.org");
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    /* a mail arrives after the refresh: found all the same (the UIDs
     * after the indexed ones are searched on the server) */
    snprintf(root, sizeof(root), "%s/mail/alice/new", g_dir);
    rt_put(root, "1795000000.M1P1.zoe",
           "From: Zoe <ZOE@example.org>\r\nTo: alice@example.net\r\n"
           "Subject: new one\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n"
           "Message-ID: <zoe1@example.org>\r\n\r\nhello\r\n");
    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh own '%s'",
             TSPS_SOURCE_DIR, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    if (g.n != 1)
        fprintf(stderr, "log: %s\n", f.log.text);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "new one");
    /* indexed now; a new source on the same file finds it too */
    ck_assert_int_eq(cmsb_changes(f.src, NULL, ix_count_cb, &n), CMSB_OK);
    fx_close(&f);
    snprintf(root, sizeof(root), "%s/ix4", g_dir);
    ck_assert_int_eq(stat(root, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0); /* addresses: owner only */
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "new one");
    ck_assert_str_eq(g.why[0], "from zoe@example.org");
    /* another mail arrives (seen by the server at the next lookup) and is
     * deleted before the refresh: the search of the UIDs after the index
     * ("n:*") must not bring zoe's mail a second time */
    snprintf(root, sizeof(root), "%s/mail/alice/new", g_dir);
    rt_put(root, "1795000001.M2P1.other",
           "From: other@example.org\r\nTo: alice@example.net\r\n"
           "Subject: other\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
           "Message-ID: <other1@example.org>\r\n\r\nx\r\n");
    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh own '%s'",
             TSPS_SOURCE_DIR, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    snprintf(cmd, sizeof(cmd),
             "grep -l -r 'other1@example.org' '%s/mail/alice/cur' "
             "'%s/mail/alice/new' | xargs rm -f",
             g_dir, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    /* the mail is deleted on the server: gone after the next refresh
     * (a lookup reads the stored message, so the index must drop it) */
    snprintf(cmd, sizeof(cmd),
             "grep -l -r 'zoe1@example.org' '%s/mail/alice/cur' "
             "'%s/mail/alice/new' | xargs rm -f",
             g_dir, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(cmsb_changes(f.src, NULL, ix_count_cb, &n), CMSB_OK);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &zoe, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_close(&f);
}
END_TEST

static void rb_mail(const char *name, const char *subject)
{
    char dir[700], msg[400];

    snprintf(dir, sizeof(dir), "%s/mail/alice/.Rb/cur", g_dir);
    snprintf(msg, sizeof(msg),
             "From: ren@example.org\r\nTo: alice@example.net\r\n"
             "Subject: %s\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\n"
             "Message-ID: <%s@example.org>\r\n\r\nx\r\n",
             subject, name);
    rt_put(dir, name, msg);
}

START_TEST(test_imap_index_new_uidvalidity)
{
    fx f;
    tsps_contact ren;
    rt_got g = {0};
    char uri[900], cmd[2400];
    int n = 0;

    /* a mailbox whose UIDs start again (new UIDVALIDITY): the old
     * messages indexed under UID 1 must not be shown for the new UID 1 */
    rb_mail("1796000000.M1P1.rb:2,S", "old one");
    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh own '%s'",
             TSPS_SOURCE_DIR, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=Rb&index=%s/ix6&refresh=0", g_port,
             g_dir);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(f.src, NULL, ix_count_cb, &n), CMSB_OK);
    tsps_contact_init(&ren);
    ren.nemails = 1;
    snprintf(ren.emails[0], sizeof(ren.emails[0]), "ren@example.org");
    ck_assert_int_eq(cmsb_related_for(f.src, &ren, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "old one");
    fx_close(&f);
    /* the mailbox is rebuilt: Dovecot forgets its UIDs and starts again */
    snprintf(
        cmd, sizeof(cmd),
        "rm -f '%s'/mail/alice/.Rb/cur/* '%s'/mail/alice/.Rb/dovecot-uidlist "
        "'%s'/mail/alice/.Rb/dovecot.index*",
        g_dir, g_dir, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    sleep(1); /* Dovecot's UIDVALIDITY is a time in seconds */
    rb_mail("1796000001.M2P1.rb:2,S", "new one");
    snprintf(cmd, sizeof(cmd), "%s/tests/related/dovecot.sh own '%s'",
             TSPS_SOURCE_DIR, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_OK);
    memset(&g, 0, sizeof(g));
    /* before the refresh (server search) and after it (the index) */
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(cmsb_related_for(f.src, &ren, NULL, rt_collect, &g),
                         CMSB_OK);
        ck_assert_int_eq(g.n, 1);
        ck_assert_str_eq(g.title[0], "new one");
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(cmsb_changes(f.src, NULL, ix_count_cb, &n), CMSB_OK);
    }
    fx_close(&f);
}
END_TEST

START_TEST(test_imap_index_bad_folder)
{
    fx f;
    char uri[900];

    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/?index=relative/dir",
             g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_EINVAL);
    cmsb_registry_close(f.reg);
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/?index=%s/ix5&refresh=x",
             g_port, g_dir);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_EINVAL);
    cmsb_registry_close(f.reg);
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?index=/proc/no-such/ix&refresh=0", g_port);
    ck_assert_int_eq(fx_open(&f, uri, "secret", 0), CMSB_EIO);
    ck_assert_ptr_nonnull(strstr(f.log.text, "index folder not created"));
    cmsb_registry_close(f.reg);
}
END_TEST

static Suite *related_imap_suite(void)
{
    Suite *s = suite_create("related_imap");
    TCase *tc = tcase_create("dovecot");
    TCase *tf = tcase_create("failures");

    tcase_set_timeout(tc, 120);
    tcase_set_timeout(tf, 120);
    tcase_add_test(tc, test_imap_corpus);
    tcase_add_test(tc, test_imap_dates_and_limit);
    tcase_add_test(tc, test_imap_only_inbox_and_missing_mailbox);
    tcase_add_test(tc, test_imaps_test_ca);
    tcase_add_test(tc, test_imap_starttls);
    tcase_add_test(tc, test_imap_uri_and_injection);
    tcase_add_test(tc, test_imap_many_matches_newest_uids);
    tcase_add_test(tc, test_imap_index_serves_lookups_without_server_search);
    tcase_add_test(tc, test_imap_index_new_mail_and_reopen);
    tcase_add_test(tc, test_imap_index_new_uidvalidity);
    tcase_add_test(tc, test_imap_index_bad_folder);
    tcase_add_test(tf, test_imap_server_gone_mid_search);
    tcase_add_test(tf, test_imap_server_stalls_mid_search);
    tcase_add_test(tf, test_imap_server_stopped);
    /* last: Dovecot delays logins from an address after a failed one */
    tcase_add_test(tf, test_imap_wrong_password);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tf);
    return s;
}

int main(void)
{
    char root[700];
    SRunner *sr;
    const char *tap = getenv("TSPS_TAP");
    int rc, nf;

    tsps_check_tmpdir(g_dir, sizeof(g_dir));
    snprintf(root, sizeof(root), "%s/mail/alice", g_dir);
    rt_corpus(root);
    write_bulk(root);
    rc = start_dovecot(g_dir, 1, &g_port, &g_sport);
    if (rc != 0) {
        fprintf(stderr, "check_related_imap: %s\n",
                rc == 77 ? "SKIPPED: Dovecot (dovecot-imapd) not installed"
                         : "Dovecot did not start");
        tsps_check_rmdir(g_dir);
        return rc == 77 ? 77 : EXIT_FAILURE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sr = srunner_create(related_imap_suite());
    if (tap != NULL && *tap != '\0')
        srunner_set_tap(sr, tap);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    stop_dovecot(g_dir);
    tsps_check_rmdir(g_dir);
    curl_global_cleanup();
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

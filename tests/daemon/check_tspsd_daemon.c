/*
 * check_tspsd_daemon.c - tspsd end to end: tspsctl against a real daemon,
 * live calls with watchers and actions, bad frames and bad TLS peers (only
 * that connection closes, with a logged reason), SIGHUP and SIGTERM,
 * metrics, the embedded default.
 */
#include "fixture.h"
#include "frame.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];

/* ---------------------------------------------------------------- tspsctl */

START_TEST(test_ctl_route_prints_trace)
{
    int rc = th_ctl(&fx, "ann", "route --from +13125550003 --to " ANN_NUMBER,
                    out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_msg(strstr(out, "method    ask timeout=600 then voicemail") !=
                      NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "belongs to user ann") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "code UNKNOWN") != NULL, "%s", out);
    rc = th_ctl(&fx, "ann", "--json route --from +13125550003 --to " ANN_NUMBER,
                out, sizeof(out));
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strncmp(out, "{\"id\":", 6) == 0, "%s", out);
    ck_assert_msg(strstr(out, "\"json\":{") != NULL, "%s", out);
}
END_TEST

START_TEST(test_ctl_exit_codes)
{
    /* 2: refused */
    int rc = th_ctl(&fx, "bob", "history ann", out, sizeof(out));
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
    ck_assert_msg(strstr(out, "permission denied") != NULL, "%s", out);
    rc = th_ctl(&fx, NULL, "user list", out, sizeof(out));
    ck_assert_msg(rc == 2, "anonymous: rc %d: %s", rc, out);
    /* 3: not found */
    rc = th_ctl(&fx, "admin", "explain 999999", out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d: %s", rc, out);
    /* 1: usage */
    rc = th_ctl(&fx, "admin", "route --from 1", out, sizeof(out));
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "admin", "frobnicate", out, sizeof(out));
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    /* 5: invalid argument */
    rc = th_ctl(&fx, "ann", "code set ann VIP fly to the moon", out,
                sizeof(out));
    ck_assert_msg(rc == 5, "rc %d: %s", rc, out);
    /* 4: nothing listening */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "--port %d whoami", th_free_port());
    rc = th_ctl(&fx, "admin", cmd, out, sizeof(out));
    ck_assert_msg(rc == 4, "rc %d: %s", rc, out);
    /* 0 */
    rc = th_ctl(&fx, "ann", "whoami", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "role      user"), "%s", out);
    rc = th_ctl(&fx, "att", "whoami", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "role      attendant"), "%s", out);
}
END_TEST

START_TEST(test_ctl_provision_and_route)
{
    int rc =
        th_ctl(&fx, "admin",
               "user add cy --name 'Cy Young' --region US --tz "
               "America/Chicago --number +13125550100 --voicemail sip:vm@x",
               out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin", "code set cy UNKNOWN forward +13125550999", out,
                sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin", "code set cy UNKNOWN voicemail --status dnd", out,
                sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin", "code list cy", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "forward +13125550999") &&
                      strstr(out, "dnd"),
                  "%s", out);
    rc = th_ctl(&fx, "admin", "route --from +12125550123 --to +13125550100",
                out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "method    forward +13125550999"),
                  "%s", out);
    rc = th_ctl(&fx, "admin", "status set cy dnd --note lunch", out,
                sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin", "status get cy", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "cy is dnd (manual): lunch"), "%s",
                  out);
    rc = th_ctl(&fx, "admin", "route --from +12125550123 --to +13125550100",
                out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "method    voicemail"), "%s", out);
    rc = th_ctl(&fx, "admin", "user show cy", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "+13125550100"), "%s", out);
    rc = th_ctl(&fx, "admin", "number add cy +12125550100", out, sizeof(out));
    ck_assert_msg(rc == 5, "ann's number given to cy: rc %d %s", rc, out);
}
END_TEST

/* -------------------------------------------------------------- live calls */

static int next_event(tspsd_client *c, const char *kind, uint64_t call,
                      char *outcome, size_t len)
{
    for (int i = 0; i < 10; i++) {
        Tsps__Response *r = NULL;
        if (tspsd_client_recv(c, &r, 3000) != 0)
            return 0;
        int ok = r->event != NULL && strcmp(r->event->kind, kind) == 0 &&
                 (call == 0 || r->event->call_id == call);
        if (ok && outcome != NULL)
            snprintf(outcome, len, "%s", r->event->outcome);
        tsps__response__free_unpacked(r, NULL);
        if (ok)
            return 1;
    }
    return 0;
}

START_TEST(test_live_call_watch_and_act)
{
    tspsd_client *w = th_connect(&fx, "att", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    char oc[32];
    uint64_t id = 0;

    sub.user = (char *)"ann";
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(w, &req, NULL), TSPS__CODE__OK);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_route(a, "+13125550004", ANN_NUMBER, 1, &id), 0);
    ck_assert(next_event(w, "call.offered", id, oc, sizeof(oc)));
    ck_assert_str_eq(oc, "pending");
    /* The attendant sees it live and forwards it. */
    int rc = th_ctl(&fx, "att", "calls ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "+13125550004"), "%s", out);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "act %llu forward +12125550199",
             (unsigned long long)id);
    rc = th_ctl(&fx, "att", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "method    forward +12125550199") &&
                      strstr(out, "by        att"),
                  "rc %d %s", rc, out);
    ck_assert(next_event(w, "call.updated", id, oc, sizeof(oc)));
    ck_assert(next_event(w, "call.ended", id, oc, sizeof(oc)));
    ck_assert_str_eq(oc, "redirected");
    /* Acting again: no longer pending. */
    rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d %s", rc, out);
    /* History keeps the override and who did it; explain shows it. */
    snprintf(cmd, sizeof(cmd), "explain %llu", (unsigned long long)id);
    rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "by        att") &&
                      strstr(out, "outcome   redirected"),
                  "%s", out);
    rc = th_ctl(&fx, "ann", "history ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "redirected"), "%s", out);
    /* bob's watcher does not see ann's calls (bob may not subscribe). */
    tspsd_client *b = th_connect(&fx, "bob", NULL);
    ck_assert_int_eq(th_call(b, &req, NULL), TSPS__CODE__DENIED);
    tspsd_client_close(b);
    tspsd_client_close(a);
    tspsd_client_close(w);
}
END_TEST

/* tspsctl watch streams events as lines (and as JSON with --json). */
START_TEST(test_ctl_watch_streams_events)
{
    char cmd[1200], c[300], k[300];
    uint64_t id = 0;
    th_cert_paths(&fx, "att", c, k, sizeof(c));
    for (int json = 0; json <= 1; json++) {
        snprintf(cmd, sizeof(cmd),
                 "TSPS_DATA=/nonexistent TSPS_HOST=127.0.0.1 TSPS_PORT=%d "
                 "TSPS_CA=%s TSPS_CERT=%s TSPS_KEY=%s timeout -s INT 3 %s %s "
                 "watch ann 2>/dev/null",
                 fx.port, fx.ca, c, k, TSPSCTL_BIN, json ? "--json" : "");
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        usleep(700000); /* subscribed by now */
        tspsd_client *a = th_connect(&fx, "admin", NULL);
        ck_assert_int_eq(fx_route(a, "+13125550014", ANN_NUMBER, 1, &id), 0);
        tspsd_client_close(a);
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        char want[64];
        snprintf(want, sizeof(want),
                 json ? "\"kind\":\"call.offered\",\"call_id\":%llu"
                      : "call.offered  call=%llu user=ann",
                 (unsigned long long)id);
        ck_assert_msg(strstr(out, want) != NULL, "no '%s' in: %s", want, out);
    }
}
END_TEST

START_TEST(test_live_call_timeout_fallback)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    uint64_t id = 0;
    ck_assert_int_eq(
        fx_code_set(a, "ann", "UNKNOWN", "any", "ask timeout=1 then voicemail"),
        0);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(a, &req, NULL), TSPS__CODE__OK);
    ck_assert_int_eq(fx_route(a, "+13125550005", ANN_NUMBER, 1, &id), 0);
    char oc[32];
    ck_assert(next_event(a, "call.ended", id, oc, sizeof(oc)));
    ck_assert_str_eq(oc, "timeout");
    tspsd_client_close(a);
}
END_TEST

/* ---------------------------------------------------------- bad input */

static void assert_other_client_works(void)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_route(a, "+13125550006", ANN_NUMBER, 0, NULL), 0);
    tspsd_client_close(a);
}

static void bad_bytes(const void *buf, size_t len, const char *reason)
{
    tspsd_client *keep = th_connect(&fx, "ann", NULL);
    tspsd_client *c = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(tspsd_client_send_raw(c, buf, len), 0);
    /* The daemon closes this connection ... */
    Tsps__Response *r = NULL;
    ck_assert_int_ne(tspsd_client_recv(c, &r, 3000), 0);
    ck_assert_msg(th_log_has(&fx, reason), "no '%s' in the log", reason);
    tspsd_client_close(c);
    /* ... and only this one. */
    ck_assert_int_eq(fx_route(keep, "+13125550007", ANN_NUMBER, 0, NULL), 0);
    tspsd_client_close(keep);
    assert_other_client_works();
}

START_TEST(test_bad_frame_oversized)
{
    uint8_t hdr[4];
    tspsd_frame_header(hdr, 16u << 20);
    bad_bytes(hdr, 4, "reason=\"frame too large (16777216 bytes)\"");
}
END_TEST

START_TEST(test_bad_frame_empty)
{
    uint8_t hdr[4] = {0, 0, 0, 0};
    bad_bytes(hdr, 4, "reason=\"empty frame");
}
END_TEST

START_TEST(test_bad_frame_garbage)
{
    uint8_t f[12] = {0,    0,    0,    8,    0xff, 0xff,
                     0xff, 0xff, 0xff, 0xff, 0xff, 0x07};
    bad_bytes(f, sizeof(f), "reason=\"undecodable request (8 bytes)\"");
}
END_TEST

START_TEST(test_bad_frame_truncated_message)
{
    /* A route request cut in the middle of a string field. */
    uint8_t f[] = {0, 0, 0, 6, 0xe2, 0x01, 0x20, 0x0a, 0x10, '+'};
    bad_bytes(f, sizeof(f), "reason=\"undecodable request (6 bytes)\"");
}
END_TEST

START_TEST(test_bad_frame_before_hello)
{
    tspsd_client_opts o = {0};
    tspsd_client *c = NULL;
    char err[200], cert[300], key[300];
    th_cert_paths(&fx, "admin", cert, key, sizeof(cert));
    o.host = "127.0.0.1";
    o.port = fx.port;
    o.ca = fx.ca;
    o.cert = cert;
    o.key = key;
    o.no_hello = 1;
    ck_assert_int_eq(tspsd_client_connect(&o, &c, err, sizeof(err)), 0);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserList ul = TSPS__USER_LIST__INIT;
    req.body_case = TSPS__REQUEST__BODY_USER_LIST;
    req.user_list = &ul;
    ck_assert_int_eq(tspsd_client_send(c, &req), 0);
    Tsps__Response *r = NULL;
    ck_assert_int_ne(tspsd_client_recv(c, &r, 3000), 0);
    ck_assert(th_log_has(&fx, "reason=\"request before hello\""));
    tspsd_client_close(c);
    assert_other_client_works();
}
END_TEST

static Tsps__Response *raw_hello(const uint8_t *f, size_t n)
{
    tspsd_client_opts o = {0};
    tspsd_client *c = NULL;
    char err[200];
    Tsps__Response *r = NULL;
    o.host = "127.0.0.1";
    o.port = fx.port;
    o.ca = fx.ca;
    o.no_hello = 1;
    ck_assert_int_eq(tspsd_client_connect(&o, &c, err, sizeof(err)), 0);
    ck_assert_int_eq(tspsd_client_send_raw(c, f, n), 0);
    ck_assert_int_eq(tspsd_client_recv(c, &r, 3000), 0);
    tspsd_client_close(c);
    return r;
}

START_TEST(test_hello_version_and_unknown_fields)
{
    /* Hello{version=2}: refused with VERSION. */
    uint8_t v2[] = {0, 0, 0, 6, 0x08, 0x01, 0x52, 0x02, 0x08, 0x02};
    Tsps__Response *r = raw_hello(v2, sizeof(v2));
    ck_assert_int_eq(r->code, TSPS__CODE__VERSION);
    ck_assert_msg(strstr(r->error, "server speaks 1") != NULL, "%s", r->error);
    tsps__response__free_unpacked(r, NULL);
    /* Hello{version=1, field 15 = 5 (unknown)}: accepted. */
    uint8_t v1[] = {0, 0, 0, 8, 0x08, 0x01, 0x52, 0x04, 0x08, 0x01, 0x78, 0x05};
    r = raw_hello(v1, sizeof(v1));
    ck_assert_int_eq(r->code, TSPS__CODE__OK);
    ck_assert_ptr_nonnull(r->hello);
    ck_assert_uint_eq(r->hello->version, 1);
    ck_assert_str_eq(r->hello->role, "anonymous");
    tsps__response__free_unpacked(r, NULL);
}
END_TEST

/* A client that sends many requests before reading: the daemon stops
 * reading it while 4 MiB of replies wait, then answers every one, in
 * order. */
START_TEST(test_pipelined_backpressure_all_answered)
{
    tspsd_client *c = th_connect(&fx, "admin", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    const uint32_t n = 8000;
    r.from = (char *)"+13125550013";
    r.to = (char *)ANN_NUMBER;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    for (uint32_t i = 1; i <= n; i++) {
        req.id = 1000 + i;
        ck_assert_int_eq(tspsd_client_send(c, &req), 0);
    }
    for (uint32_t i = 1; i <= n; i++) {
        Tsps__Response *resp = NULL;
        ck_assert_int_eq(tspsd_client_recv(c, &resp, 10000), 0);
        ck_assert_uint_eq(resp->id, 1000 + i);
        ck_assert_int_eq(resp->code, TSPS__CODE__OK);
        tsps__response__free_unpacked(resp, NULL);
    }
    tspsd_client_close(c);
}
END_TEST

START_TEST(test_bad_partial_frame_then_close)
{
    tspsd_client *c = th_connect(&fx, "admin", NULL);
    uint8_t f[] = {0, 0, 1, 0, 1, 2, 3};
    ck_assert_int_eq(tspsd_client_send_raw(c, f, sizeof(f)), 0);
    tspsd_client_close(c);
    ck_assert(th_log_has(&fx, "msg=\"control connection closed\""));
    assert_other_client_works();
}
END_TEST

START_TEST(test_bad_plaintext)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char buf[256];
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)fx.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char *http = "GET /metrics HTTP/1.0\r\n\r\n";
    ck_assert(write(fd, http, strlen(http)) > 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n;
    size_t total = 0;
    errno = 0;
    buf[0] = '\0';
    while ((n = read(fd, buf, sizeof(buf) - 1)) > 0)
        total += (size_t)n;
    /* Closed (EOF or reset), not timed out; no HTTP answer. */
    ck_assert_msg(n == 0 || errno == ECONNRESET, "connection not closed: %s",
                  strerror(errno));
    ck_assert(total == 0 || strstr(buf, "HTTP/1") == NULL);
    ck_assert(th_log_has(&fx, "SSL routines::http request"));
    close(fd);
    ck_assert(th_log_has(&fx, "TLS handshake failed"));
    assert_other_client_works();
}
END_TEST

static void bad_cert(const char *who)
{
    char cert[300], key[300], err[200];
    tspsd_client *c = NULL;
    th_cert_paths(&fx, who, cert, key, sizeof(cert));
    int rc = th_try_connect(&fx, cert, key, NULL, &c, err, sizeof(err));
    ck_assert_msg(rc == TSPSD_CLIENT_ECONN, "%s: rc %d", who, rc);
    ck_assert_ptr_null(c);
    assert_other_client_works();
}

START_TEST(test_bad_cert_unknown_ca)
{
    bad_cert("stranger");
    ck_assert(th_log_has(&fx, "certificate verify failed"));
}
END_TEST

START_TEST(test_bad_cert_expired)
{
    bad_cert("expired");
    ck_assert(th_log_has(&fx, "certificate verify failed"));
}
END_TEST

START_TEST(test_bad_unknown_request_kind)
{
    /* A request from a newer client (field 99 in the oneof) gets
     * UNSUPPORTED and the connection stays. */
    tspsd_client *c = th_connect(&fx, "admin", NULL);
    uint8_t f[] = {0, 0, 0, 5, 0x08, 0x07, 0x9a, 0x06, 0x00};
    ck_assert_int_eq(tspsd_client_send_raw(c, f, sizeof(f)), 0);
    Tsps__Response *r = NULL;
    ck_assert_int_eq(tspsd_client_recv(c, &r, 3000), 0);
    ck_assert_int_eq(r->code, TSPS__CODE__UNSUPPORTED);
    ck_assert_uint_eq(r->id, 7);
    tsps__response__free_unpacked(r, NULL);
    ck_assert_int_eq(fx_route(c, "+13125550008", ANN_NUMBER, 0, NULL), 0);
    tspsd_client_close(c);
}
END_TEST

/* ---------------------------------------------------------- lifecycle */

START_TEST(test_sighup_keeps_connections_and_calls)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    tspsd_client *b = th_connect(&fx, "bob", NULL);
    /* bob is not an admin ... */
    ck_assert_int_eq(fx_user_put(b, "dee", NULL), TSPS__CODE__DENIED);
    /* ... until the config says so. */
    FILE *f = fopen(fx.conf, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "identities = admin, bob\n");
    fclose(f);
    ck_assert_int_eq(kill(fx.pid, SIGHUP), 0);
    ck_assert(th_log_has(&fx, "msg=\"config reloaded\""));
    /* Existing connections and the held call survive. */
    ck_assert_int_eq(fx_route(a, "+13125550009", ANN_NUMBER, 0, NULL), 0);
    int rc = th_ctl(&fx, "admin", "calls ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "+13125550001"), "%s", out);
    tspsd_client *b2 = th_connect(&fx, "bob", NULL);
    ck_assert_str_eq(tspsd_client_hello(b2)->role, "admin");
    ck_assert_int_eq(fx_user_put(b2, "dee", NULL), TSPS__CODE__OK);
    /* A broken config is refused; the running one stays. */
    f = fopen(fx.conf, "a");
    fprintf(f, "[bogus]\nx = 1\n");
    fclose(f);
    kill(fx.pid, SIGHUP);
    ck_assert(th_log_has(&fx, "reload failed: keeping the running config"));
    ck_assert_int_eq(fx_route(b, "+13125550010", BOB_NUMBER, 0, NULL), 0);
    tspsd_client_close(b2);
    tspsd_client_close(b);
    tspsd_client_close(a);
}
END_TEST

START_TEST(test_sigterm_clean_exit)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(th_stop(&fx), 0);
    ck_assert(th_log_has(&fx, "msg=\"stopped\""));
    tspsd_client_close(a);
}
END_TEST

START_TEST(test_metrics_endpoint)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_route(a, "+13125550011", ANN_NUMBER, 0, NULL), 0);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "tspsd_calls_routed_total{method=\"ask\"}") !=
                      NULL,
                  "%s", out);
    ck_assert(strstr(out, "tspsd_route_latency_seconds_count") != NULL);
    ck_assert(strstr(out, "tspsd_connected_clients 1") != NULL);
    tspsd_client_close(a);
}
END_TEST

/* The embedded default: no config, a data dir made on first start. */
START_TEST(test_embedded_default_demo_call)
{
    char dir[256], cmd[1024];
    tsps_check_tmpdir(dir, sizeof(dir));
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && timeout --preserve-status -s TERM 8 %s --data data --port %d "
        "--sip-port 0 --metrics-port -1 --demo-call +13125550012 "
        "+12125550100 2>tspsd.log",
        dir, TSPSD_BIN, th_free_port());
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st,
                  out);
    ck_assert_msg(strstr(out, "TSPS_TOKEN=tsps_") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "demo call +13125550012 -> +12125550100") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "belongs to user demo") != NULL, "%s", out);
    char path[400];
    snprintf(path, sizeof(path), "%s/data/tls/admin.pem", dir);
    ck_assert_int_eq(access(path, R_OK), 0);
    /* A second start prints no new token. */
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "TSPS_TOKEN") == NULL, "%s", out);
    snprintf(path, sizeof(path), "%s/tspsd.log", dir);
    FILE *lf = fopen(path, "r");
    n = fread(out, 1, sizeof(out) - 1, lf);
    out[n] = '\0';
    fclose(lf);
    ck_assert_msg(strstr(out, "msg=\"stopped\"") != NULL, "%s", out);
    tsps_check_rmdir(dir);
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("tspsd_daemon");
    struct {
        const char *name;
        const TTest *tests[16];
    } groups[] = {
        {"tspsctl",
         {test_ctl_route_prints_trace, test_ctl_exit_codes,
          test_ctl_provision_and_route, NULL}},
        {"live",
         {test_live_call_watch_and_act, test_live_call_timeout_fallback,
          test_ctl_watch_streams_events, NULL}},
        {"bad_input",
         {test_bad_frame_oversized, test_bad_frame_empty,
          test_bad_frame_garbage, test_bad_frame_truncated_message,
          test_bad_frame_before_hello, test_bad_partial_frame_then_close,
          test_bad_plaintext, test_bad_cert_unknown_ca, test_bad_cert_expired,
          test_bad_unknown_request_kind, test_hello_version_and_unknown_fields,
          test_pipelined_backpressure_all_answered, NULL}},
        {"lifecycle",
         {test_sighup_keeps_connections_and_calls, test_sigterm_clean_exit,
          test_metrics_endpoint, NULL}},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
        tcase_set_timeout(tc, 60);
        for (int i = 0; groups[g].tests[i] != NULL; i++)
            _tcase_add_test(tc, groups[g].tests[i], 0, 0, 0, 1);
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("embedded");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_embedded_default_demo_call);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(daemon_suite)

/*
 * check_tspsd_sip_calls.c - the pending-call table fed by the SIP front: a
 * real INVITE over UDP to a real tspsd is held ("ask"), shows in `tspsctl
 * calls`, and an attendant's `tspsctl act` answers it with a redirect; an
 * ignored one falls back when its timeout expires.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef TSPSD_WITH_SIP

static int sip_port, ufd, lport;
static char out[65536];

static int free_udp_port(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

static void setup(void)
{
    char extra[256];
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    sip_port = free_udp_port();
    snprintf(extra, sizeof(extra),
             "[sip]\nenabled = true\nlisten = 127.0.0.1\nudp_port = %d\n"
             "tcp_port = 0\n",
             sip_port);
    th_start(&fx, extra);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_code_set(a, "ann", "UNKNOWN", "any",
                                 "ask timeout=30 then voicemail"),
                     0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, NULL), 0);
    tspsd_client_close(a);
    ufd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(ufd, (struct sockaddr *)&sa, &sl);
    lport = ntohs(sa.sin_port);
    struct timeval tv = {5, 0};
    setsockopt(ufd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void teardown(void)
{
    close(ufd);
    fx_teardown();
}

static void send_invite(const char *callid, const char *from)
{
    char msg[1024];
    struct sockaddr_in to;
    int n = snprintf(msg, sizeof(msg),
                     "INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:%s@127.0.0.1>;tag=t-%s\r\n"
                     "To: <sip:%s@127.0.0.1>\r\n"
                     "Call-ID: %s@127.0.0.1\r\n"
                     "CSeq: 1 INVITE\r\n"
                     "Contact: <sip:caller@127.0.0.1:%d>\r\n"
                     "Content-Length: 0\r\n\r\n",
                     ANN_NUMBER, sip_port, lport, callid, from, callid,
                     ANN_NUMBER, callid, lport);
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)sip_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(
        sendto(ufd, msg, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
}

/* Next SIP response with a status >= min (provisional ones skipped). */
static int recv_status(int min, char *buf, size_t len)
{
    for (int i = 0; i < 10; i++) {
        ssize_t n = recv(ufd, buf, len - 1, 0);
        if (n <= 0)
            return -1;
        buf[n] = '\0';
        int code = 0;
        if (sscanf(buf, "SIP/2.0 %d", &code) == 1 && code >= min)
            return code;
    }
    return -1;
}

START_TEST(test_sip_held_call_act_forward)
{
    char buf[4096], cmd[128];
    unsigned long long id = 0;

    send_invite("held-1", "+13125550042");
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    const char *h = strstr(buf, "X-Tsps-Call-Id: ");
    ck_assert_ptr_nonnull(h);
    id = strtoull(h + 16, NULL, 10);
    ck_assert(id != 0);
    /* The attendant sees it pending ... */
    int rc = th_ctl(&fx, "att", "calls ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "+13125550042") &&
                      strstr(out, "pending"),
                  "%s", out);
    /* ... and forwards it: the held INVITE gets its redirect. */
    snprintf(cmd, sizeof(cmd), "act %llu forward +12125550199", id);
    rc = th_ctl(&fx, "att", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    int code = recv_status(200, buf, sizeof(buf));
    ck_assert_msg(code == 302, "final %d: %s", code, buf);
    ck_assert_msg(strstr(buf, "12125550199") != NULL, "%s", buf);
    rc = th_ctl(&fx, "att", "calls ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "+13125550042") == NULL, "%s", out);
    snprintf(cmd, sizeof(cmd), "explain %llu", id);
    rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "by        att"), "%s", out);
    /* Acting again: the call is over. */
    snprintf(cmd, sizeof(cmd), "act %llu voicemail", id);
    rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d: %s", rc, out);
}
END_TEST

START_TEST(test_sip_held_call_refused_for_other_user)
{
    char buf[4096], cmd[128];
    send_invite("held-2", "+13125550043");
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    const char *h = strstr(buf, "X-Tsps-Call-Id: ");
    ck_assert_ptr_nonnull(h);
    snprintf(cmd, sizeof(cmd), "act %llu reject", strtoull(h + 16, NULL, 10));
    /* To those who may not see it, the call does not exist (exit 3). */
    int rc = th_ctl(&fx, "bob", cmd, out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "attno", cmd, out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d: %s", rc, out);
    /* Still held: ann rejects it herself. */
    rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    int code = recv_status(200, buf, sizeof(buf));
    ck_assert_msg(code >= 400, "final %d: %s", code, buf);
}
END_TEST

START_TEST(test_sip_held_call_times_out)
{
    char buf[4096];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(
        fx_code_set(a, "ann", "UNKNOWN", "any", "ask timeout=1 then voicemail"),
        0);
    tspsd_client_close(a);
    send_invite("held-3", "+13125550044");
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    int code = recv_status(200, buf, sizeof(buf));
    ck_assert_msg(code == 302 && strstr(buf, "sip:vm@127.0.0.1"),
                  "final %d: %s", code, buf);
    int rc = th_ctl(&fx, "ann", "calls ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "(no calls)"), "%s", out);
}
END_TEST

/* The value of one metrics line (-1 when absent). */
static long metric(const char *name)
{
    char cmd[256], line[512];
    long v = -1;
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p) != NULL)
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ' ')
            v = atol(line + strlen(name) + 1);
    pclose(p);
    return v;
}

/* tspsd_calls_routed_total counts calls that came over SIP (by method),
 * and not dry runs of `tspsctl route`. */
START_TEST(test_sip_call_counted_in_metrics)
{
    static const char ask[] = "tspsd_calls_routed_total{method=\"ask\"}";
    char buf[4096];
    ck_assert_int_eq(metric(ask), 0);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_route(a, "+13125550045", ANN_NUMBER, 0, NULL), 0);
    tspsd_client_close(a);
    ck_assert_int_eq(metric(ask), 0); /* a dry run is no call */
    send_invite("counted-1", "+13125550046");
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    ck_assert_int_eq(metric(ask), 1);
    /* A retransmission is the same call. */
    send_invite("counted-1", "+13125550046");
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    ck_assert_int_eq(metric(ask), 1);
}
END_TEST

#endif

static Suite *sip_calls_suite(void)
{
    Suite *s = suite_create("tspsd_sip_calls");
#ifdef TSPSD_WITH_SIP
    TCase *tc = tcase_create("held");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sip_held_call_act_forward);
    tcase_add_test(tc, test_sip_held_call_refused_for_other_user);
    tcase_add_test(tc, test_sip_held_call_times_out);
    tcase_add_test(tc, test_sip_call_counted_in_metrics);
    suite_add_tcase(s, tc);
#endif
    return s;
}

TSPS_CHECK_MAIN(sip_calls_suite)

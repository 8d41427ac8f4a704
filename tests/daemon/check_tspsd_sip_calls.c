/*
 * check_tspsd_sip_calls.c - the pending-call table fed by the SIP front: a
 * real INVITE over UDP to a real tspsd is held ("ask"), shows in `tspsctl
 * calls`, and an attendant's `tspsctl act` answers it with a redirect; an
 * ignored one falls back when its timeout expires. And the kill -9 test:
 * tspsd killed during SIP bursts larger than one response batch loses no
 * call that got a response naming it, and never gives a call id twice.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <tsps/tsps.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sip_port, ufd, lport;
static char sip_extra[512];
static char out[65536];

static void setup(void)
{
    char extra[256];
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    sip_port = th_free_udp_port();
    snprintf(extra, sizeof(extra),
             "[web]\nlisten = 127.0.0.1\nport = 0\n"
             "[sip]\nenabled = true\nlisten = 127.0.0.1\nudp_port = %d\n"
             "tcp_port = 0\n",
             sip_port);
    snprintf(sip_extra, sizeof(sip_extra), "%s", extra);
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

/* ---- event order of a held SIP call --------------------------------------
 * Screens follow a held call by its events: `call.offered`, then any
 * `call.updated`, then exactly one `call.ended`, and nothing after it. A
 * call resolved from the web API, from tspsctl and by its timeout must all
 * show that order (resolving a SIP call used to send updated, ended,
 * updated). */

/* Subscribe as admin to every call event. */
static tspsd_client *watch_all(void)
{
    tspsd_client *w = th_connect(&fx, "admin", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(w, &req, NULL), TSPS__CODE__OK);
    return w;
}

/* Collect the kinds of call `id`'s events until its `call.ended` and then
 * for `grace_ms` more (a late event would show there), space-separated. */
static void collect_events(tspsd_client *w, uint64_t id, int grace_ms,
                           char *kinds, size_t len)
{
    int ended = 0;
    kinds[0] = '\0';
    for (int i = 0; i < 50; i++) {
        Tsps__Response *r = NULL;
        if (tspsd_client_recv(w, &r, ended ? grace_ms : 15000) != 0)
            break;
        if (r->event != NULL && r->event->call_id == id) {
            size_t n = strlen(kinds);
            snprintf(kinds + n, len - n, "%s%s", n ? " " : "", r->event->kind);
            if (strcmp(r->event->kind, "call.ended") == 0)
                ended = 1;
        }
        tsps__response__free_unpacked(r, NULL);
    }
}

/* offered, then updated*, then one ended, last. */
static int order_ok(const char *kinds)
{
    const char *p = kinds;
    if (strncmp(p, "call.offered", 12) != 0)
        return 0;
    p += 12;
    while (strncmp(p, " call.updated", 13) == 0)
        p += 13;
    return strcmp(p, " call.ended") == 0;
}

static uint64_t held_invite(const char *callid, const char *from)
{
    char buf[4096];
    send_invite(callid, from);
    ck_assert_int_eq(recv_status(180, buf, sizeof(buf)), 180);
    const char *h = strstr(buf, "X-Tsps-Call-Id: ");
    ck_assert_ptr_nonnull(h);
    return strtoull(h + 16, NULL, 10);
}

static void json_field(const char *json, const char *key, char *dst, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    dst[0] = '\0';
    if (p == NULL)
        return;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    if (n >= len)
        n = len - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

START_TEST(test_sip_held_event_order_ctl)
{
    char buf[4096], cmd[128], kinds[512];
    tspsd_client *w = watch_all();
    uint64_t id = held_invite("order-ctl", "+13125550051");
    snprintf(cmd, sizeof(cmd), "act %llu forward +12125550199",
             (unsigned long long)id);
    int rc = th_ctl(&fx, "att", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_int_eq(recv_status(200, buf, sizeof(buf)), 302);
    collect_events(w, id, 1500, kinds, sizeof(kinds));
    ck_assert_msg(order_ok(kinds), "events of call %llu: %s",
                  (unsigned long long)id, kinds);
    tspsd_client_close(w);
}
END_TEST

START_TEST(test_sip_held_event_order_web)
{
    char buf[4096], kinds[512], cookie[80], csrf[80], path[80];
    char page[8192];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "ann", cookie, sizeof(cookie));
    tspsd_client_close(a);
    ck_assert_int_eq(th_web_req(&fx, "GET", "/api/me", cookie, NULL, NULL, page,
                                sizeof(page)),
                     200);
    json_field(page, "csrf", csrf, sizeof(csrf));
    ck_assert(csrf[0] != '\0');
    tspsd_client *w = watch_all();
    uint64_t id = held_invite("order-web", "+13125550052");
    snprintf(path, sizeof(path), "/api/call/%llu/act", (unsigned long long)id);
    int st = th_web_req(&fx, "POST", path, cookie, csrf,
                        "{\"action\":\"voicemail\"}", page, sizeof(page));
    ck_assert_msg(st == 200, "status %d: %s", st, page);
    ck_assert_int_eq(recv_status(200, buf, sizeof(buf)), 302);
    collect_events(w, id, 1500, kinds, sizeof(kinds));
    ck_assert_msg(order_ok(kinds), "events of call %llu: %s",
                  (unsigned long long)id, kinds);
    tspsd_client_close(w);
}
END_TEST

START_TEST(test_sip_held_event_order_timeout)
{
    char buf[4096], kinds[512];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(
        fx_code_set(a, "ann", "UNKNOWN", "any", "ask timeout=1 then voicemail"),
        0);
    tspsd_client_close(a);
    tspsd_client *w = watch_all();
    uint64_t id = held_invite("order-to", "+13125550053");
    ck_assert_int_eq(recv_status(200, buf, sizeof(buf)), 302);
    collect_events(w, id, 1500, kinds, sizeof(kinds));
    ck_assert_msg(order_ok(kinds), "events of call %llu: %s",
                  (unsigned long long)id, kinds);
    tspsd_client_close(w);
}
END_TEST

/* [held] user.<id>: one user's held calls wait that long, whatever the
 * rule's timeout (30 s here); others keep theirs. */
START_TEST(test_sip_held_timeout_per_user)
{
    char buf[4096], extra[512];
    th_stop(&fx);
    snprintf(extra, sizeof(extra), "%s[held]\nuser.ann = 1\nuser.zed = 9\n",
             sip_extra);
    th_start(&fx, extra);
    uint64_t id = held_invite("per-user-1", "+13125550061");
    ck_assert(id != 0);
    int code = recv_status(200, buf, sizeof(buf));
    ck_assert_msg(code == 302 && strstr(buf, "sip:vm@127.0.0.1"),
                  "final %d: %s", code, buf);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "explain %llu", (unsigned long long)id);
    int rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "timeout"), "%s", out);
}
END_TEST

/* ---- kill -9 during SIP bursts ------------------------------------------ */

#define KILL_MAX_CALLS 200000

typedef struct kcall {
    uint64_t id; /* X-Tsps-Call-Id seen in a response, 0 = none */
    unsigned caller;
    int64_t ack_ns; /* CLOCK_MONOTONIC when that response was read */
    int lost;       /* async: within the window of a kill, not recorded */
} kcall;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static kcall *kcalls;
static unsigned nkcalls;

static void send_raw(const char *msg, size_t n)
{
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)sip_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)sendto(ufd, msg, n, 0, (struct sockaddr *)&to, sizeof(to));
}

/* One INVITE of call number k (Call-ID "kill-<k>", caller +1312<k>). */
static void send_kill_invite(unsigned k)
{
    char msg[1024];
    int n = snprintf(msg, sizeof(msg),
                     "INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-k%u\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:+1312%07u@127.0.0.1>;tag=k%u\r\n"
                     "To: <sip:%s@127.0.0.1>\r\n"
                     "Call-ID: kill-%u@127.0.0.1\r\n"
                     "CSeq: 1 INVITE\r\n"
                     "Content-Length: 0\r\n\r\n",
                     ANN_NUMBER, sip_port, lport, k, k, k, ANN_NUMBER, k);
    kcalls[k].caller = k;
    send_raw(msg, (size_t)n);
}

/* Read every response waiting (wait_ms for the first), noting ids. */
static int drain_responses(int wait_ms)
{
    char buf[8192];
    int got = 0;
    for (;;) {
        struct timeval tv = {0, (wait_ms > 0 ? wait_ms : 1) * 1000};
        setsockopt(ufd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t n = recv(ufd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            break;
        buf[n] = '\0';
        got++;
        const char *cid = strstr(buf, "Call-ID: kill-");
        const char *x = strstr(buf, "X-Tsps-Call-Id: ");
        if (cid == NULL || x == NULL)
            continue;
        unsigned k = (unsigned)strtoul(cid + 14, NULL, 10);
        uint64_t id = strtoull(x + 16, NULL, 10);
        if (k >= nkcalls)
            continue;
        ck_assert_msg(kcalls[k].id == 0 || kcalls[k].id == id,
                      "call %u named id %llu and %llu", k,
                      (unsigned long long)kcalls[k].id, (unsigned long long)id);
        if (kcalls[k].id == 0)
            kcalls[k].ack_ns = now_ns();
        kcalls[k].id = id;
    }
    struct timeval tv = {5, 0};
    setsockopt(ufd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return got;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every call that got an id is in the store's history with its caller;
 * with commit = async, every call acknowledged before `must_before_ns`
 * (the kill minus the documented window and a commit's time): those after
 * it may be lost (counted in *lost), never misattributed. */
static void check_history_has_acknowledged(unsigned *checked,
                                           int64_t must_before_ns,
                                           unsigned *lost)
{
    char path[400];
    tsps_engine *eng = NULL;
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_call_record *r = malloc(sizeof(*r));
    ck_assert_ptr_nonnull(r);
    snprintf(path, sizeof(path), "%s/data/store", fx.dir);
    cfg.path = path;
    ck_assert_int_eq(tsps_engine_open(&cfg, &eng), TSPS_OK);
    for (unsigned k = 0; k < nkcalls; k++) {
        char want[16];
        if (kcalls[k].id == 0 || kcalls[k].lost)
            continue;
        int rc = tsps_history_get(eng, kcalls[k].id, r);
        if (rc == TSPS_ENOTFOUND && must_before_ns != 0 &&
            kcalls[k].ack_ns >= must_before_ns) {
            (*lost)++;
            kcalls[k].lost = 1; /* within the window: may be gone, but its
                                   id is never given again (checked below) */
            continue;
        }
        ck_assert_msg(rc == TSPS_OK,
                      "call %u was answered naming id %llu, which is not in "
                      "history after kill -9 (%s; acknowledged %.0f ms "
                      "before the line)",
                      k, (unsigned long long)kcalls[k].id, tsps_errname(rc),
                      must_before_ns != 0
                          ? (double)(must_before_ns - kcalls[k].ack_ns) / 1e6
                          : 0.0);
        snprintf(want, sizeof(want), "%07u", kcalls[k].caller);
        ck_assert_msg(strstr(r->decision.caller, want) != NULL,
                      "id %llu is call %u (caller ...%s) but history says "
                      "caller %s",
                      (unsigned long long)kcalls[k].id, k, want,
                      r->decision.caller);
        (*checked)++;
    }
    tsps_engine_close(eng);
    free(r);
}

/* kill -9 while answering SIP bursts. commit = burst (async 0): held
 * calls, nothing acknowledged may be lost. commit = async (window_ms):
 * calls answered at once (302); those acknowledged more than the window
 * plus a commit's time before the kill must be in history, the rest may
 * be lost; no id is ever given twice, across every restart. */
#define ASYNC_SLACK_MS 1000 /* a commit's time, on a loaded machine */

static void kill9_run(int window_ms)
{
    const char *env = getenv("TSPS_SIP_KILLS");
    int kills = env != NULL ? atoi(env) : 6;
    unsigned checked = 0, lost = 0, burst = 48; /* x2 responses > 32 */
    int rcvbuf = 8 << 20;
    struct timespec seed;

    if (kills < 1)
        kills = 1;
    clock_gettime(CLOCK_MONOTONIC, &seed);
    srand((unsigned)seed.tv_nsec);
    kcalls = calloc(KILL_MAX_CALLS, sizeof(*kcalls));
    ck_assert_ptr_nonnull(kcalls);
    setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    /* every call of a barrage held (not refused by the caps), so that
       every burst answers 100 + 180 naming its calls */
    th_stop(&fx);
    strncat(sip_extra, "max_held_per_user = 4000\nmax_held = 4000\n",
            sizeof(sip_extra) - strlen(sip_extra) - 1);
    if (window_ms > 0) {
        char h[96];
        snprintf(h, sizeof(h),
                 "[history]\ncommit = async\nasync_window_ms = "
                 "%d\n",
                 window_ms);
        strncat(sip_extra, h, sizeof(sip_extra) - strlen(sip_extra) - 1);
    }
    th_start(&fx, sip_extra);
    if (window_ms > 0) { /* answered at once: the async path */
        tspsd_client *a = th_connect(&fx, "admin", NULL);
        ck_assert_int_eq(
            fx_code_set(a, "ann", "UNKNOWN", "any", "forward +4930123"), 0);
        tspsd_client_close(a);
    }
    for (int round = 0; round < kills; round++) {
        /* bursts answered one by one, then a barrage queued while the
           daemon is stopped, so that it reads full batches (32 INVITEs,
           64 responses) and is killed while answering them */
        int calm = 1 + rand() % 3, barrage = 6 + rand() % 14;
        for (int b = 0; b < calm; b++) {
            unsigned first = nkcalls;
            for (unsigned i = 0; i < burst && nkcalls < KILL_MAX_CALLS; i++)
                send_kill_invite(nkcalls++);
            /* each calm burst answered before the next (a commit may
               wait long for a busy disk: up to 5 s, not 20 ms of quiet) */
            int64_t until = now_ns() + 5000000000LL;
            unsigned named = 0;
            while (named < nkcalls - first && now_ns() < until) {
                drain_responses(20);
                named = 0;
                for (unsigned k = first; k < nkcalls; k++)
                    named += kcalls[k].id != 0;
            }
        }
        if (window_ms > 0) { /* the calm calls' window passes */
            struct timespec w = {0, 0};
            int64_t ms = window_ms + ASYNC_SLACK_MS + 100;
            w.tv_sec = ms / 1000;
            w.tv_nsec = (ms % 1000) * 1000000L;
            nanosleep(&w, NULL);
            drain_responses(1);
        }
        kill(fx.pid, SIGSTOP);
        for (int b = 0; b < barrage; b++)
            for (unsigned i = 0; i < burst && nkcalls < KILL_MAX_CALLS; i++)
                send_kill_invite(nkcalls++);
        kill(fx.pid, SIGCONT);
        struct timespec ts = {0, (long)(rand() % 40000) * 1000};
        nanosleep(&ts, NULL);
        int64_t killed_ns = now_ns();
        kill(fx.pid, SIGKILL);
        int st;
        waitpid(fx.pid, &st, 0);
        fx.pid = 0;
        drain_responses(200); /* what left before the kill */
        check_history_has_acknowledged(
            &checked,
            window_ms > 0
                ? killed_ns - (int64_t)(window_ms + ASYNC_SLACK_MS) * 1000000LL
                : 0,
            &lost);
        th_start(&fx, sip_extra);
    }
    /* no id was given to two calls, across every restart */
    uint64_t *ids = malloc(sizeof(*ids) * (nkcalls + 1));
    unsigned n = 0;
    ck_assert_ptr_nonnull(ids);
    for (unsigned k = 0; k < nkcalls; k++)
        if (kcalls[k].id != 0)
            ids[n++] = kcalls[k].id;
    qsort(ids, n, sizeof(*ids), cmp_u64);
    for (unsigned i = 1; i < n; i++)
        ck_assert_msg(ids[i] != ids[i - 1], "id %llu given to two calls",
                      (unsigned long long)ids[i]);
    fprintf(stderr,
            "kill -9 test (%s): %d kills, %u INVITEs sent, %u answered with "
            "an id; %u history look-ups found, %u within the window lost\n",
            window_ms > 0 ? "async" : "burst", kills, nkcalls, n, checked,
            lost);
    ck_assert_msg(n > 0, "no call was answered");
    /* the test means something only if calls outside the window were
       checked */
    ck_assert_msg(checked > 0, "no acknowledged call was checked");
    free(ids);
    free(kcalls);
    kcalls = NULL;
    nkcalls = 0;
}

START_TEST(test_sip_kill9_loses_no_acknowledged_call)
{
    kill9_run(0);
}
END_TEST

START_TEST(test_sip_kill9_async_loses_at_most_the_window)
{
    kill9_run(50);
}
END_TEST

/* New devices need a password that is not trivially guessed. */
START_TEST(test_sip_device_weak_password_refused)
{
    static const char *const weak[] = {"x", "1234567890", "aaaaaaaaaaab",
                                       "ann-desk-pw1"};
    char cmd[256];
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        snprintf(cmd, sizeof(cmd), "device add ann ann-desk --password %s",
                 weak[i]);
        int rc = th_ctl(&fx, "ann", cmd, out, sizeof(out));
        ck_assert_msg(rc != 0 && strstr(out, "too weak") != NULL,
                      "password %s: rc %d: %s", weak[i], rc, out);
    }
    int rc = th_ctl(&fx, "ann", "device add ann ann-desk --password Tq7-vm2Lp",
                    out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
}
END_TEST

/* Without an auth_register line, REGISTER needs digest auth. */
START_TEST(test_sip_register_needs_auth_by_default)
{
    char msg[1024], buf[4096];
    int rc = th_ctl(&fx, "ann", "device add ann ann-desk --password Tq7-vm2Lp",
                    out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    int n = snprintf(msg, sizeof(msg),
                     "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-reg1\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:ann-desk@127.0.0.1>;tag=r1\r\n"
                     "To: <sip:ann-desk@127.0.0.1>\r\n"
                     "Call-ID: reg-default@127.0.0.1\r\n"
                     "CSeq: 1 REGISTER\r\n"
                     "Contact: <sip:evil@127.0.0.1:6666>\r\n"
                     "Expires: 600\r\n"
                     "Content-Length: 0\r\n\r\n",
                     lport);
    send_raw(msg, (size_t)n);
    int code = recv_status(100, buf, sizeof(buf));
    ck_assert_msg(code == 401 && strstr(buf, "WWW-Authenticate: Digest"),
                  "%d: %s", code, buf);
    /* the SIP front's counters are in /metrics */
    char cmd[200];
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "tspsd_sip_history_failed_total 0") != NULL &&
                      strstr(out, "tspsd_sip_auth_failed_total") != NULL &&
                      strstr(out, "tspsd_sip_held_calls") != NULL,
                  "%s", out);
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

static Suite *sip_calls_suite(void)
{
    Suite *s = suite_create("tspsd_sip_calls");
    TCase *tc = tcase_create("held");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sip_held_call_act_forward);
    tcase_add_test(tc, test_sip_held_call_refused_for_other_user);
    tcase_add_test(tc, test_sip_held_call_times_out);
    tcase_add_test(tc, test_sip_device_weak_password_refused);
    tcase_add_test(tc, test_sip_register_needs_auth_by_default);
    tcase_add_test(tc, test_sip_call_counted_in_metrics);
    tcase_add_test(tc, test_sip_held_event_order_ctl);
    tcase_add_test(tc, test_sip_held_event_order_web);
    tcase_add_test(tc, test_sip_held_event_order_timeout);
    tcase_add_test(tc, test_sip_held_timeout_per_user);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("kill");
    tcase_add_checked_fixture(tk, setup, teardown);
    tcase_set_timeout(tk, 1200);
    tcase_add_test(tk, test_sip_kill9_loses_no_acknowledged_call);
    tcase_add_test(tk, test_sip_kill9_async_loses_at_most_the_window);
    suite_add_tcase(s, tk);
    return s;
}

TSPS_CHECK_MAIN(sip_calls_suite)

/*
 * check_tspsd_hardening.c - a hostile user against a real tspsd: taking
 * over another user's device name (control protocol and web), guessing web
 * passwords (interleaved, with made-up names, in parallel).
 */
#include "fixture.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char web_conf[] = "[web]\nlisten = 127.0.0.1\nport = 0\n";

static void fx_setup_web(void)
{
    fx_setup_with(web_conf);
}

static int device_add(tspsd_client *c, const char *user, const char *name,
                      const char *password, char *msg, size_t msglen)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__DeviceAdd da = TSPS__DEVICE_ADD__INIT;
    Tsps__Response *resp = NULL;
    da.user = (char *)user;
    da.username = (char *)name;
    da.label = (char *)"desk";
    da.password = (char *)password;
    req.body_case = TSPS__REQUEST__BODY_DEVICE_ADD;
    req.device_add = &da;
    int code = th_call(c, &req, &resp);
    if (msg != NULL)
        snprintf(msg, msglen, "%s",
                 resp != NULL && resp->error ? resp->error : "");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    return code;
}

static int device_remove(tspsd_client *c, const char *user, const char *name)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__DeviceRemove dr = TSPS__DEVICE_REMOVE__INIT;
    dr.user = (char *)user;
    dr.username = (char *)name;
    req.body_case = TSPS__REQUEST__BODY_DEVICE_REMOVE;
    req.device_remove = &dr;
    return th_call(c, &req, NULL);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The value of "key":"..." in a JSON text, into out. */
static void json_str(const char *text, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    ck_assert_msg(p != NULL, "no %s in %s", key, text);
    p = strchr(p + strlen(pat), '"');
    ck_assert_ptr_nonnull(p);
    size_t n = strcspn(p + 1, "\"");
    ck_assert(n < len);
    memcpy(out, p + 1, n);
    out[n] = '\0';
}

/* ---- device names belong to their user ---- */

/* Bob cannot take ann's device name over the control protocol: refused
 * (EXISTS), and it stays ann's (bob cannot remove it either, ann can). */
START_TEST(test_device_name_taken_ctl)
{
    char msg[256];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    tspsd_client *bob = th_connect(&fx, "bob", NULL);

    ck_assert_int_eq(device_add(a, "ann", "ann-desk", "ann-pass-1", NULL, 0),
                     TSPS__CODE__OK);
    ck_assert_int_eq(
        device_add(bob, "bob", "ann-desk", "bob-pass-1", msg, sizeof(msg)),
        TSPS__CODE__EXISTS);
    ck_assert_msg(strstr(msg, "taken") != NULL, "%s", msg);
    ck_assert(th_log_has(&fx, "msg=\"device name taken\""));
    /* Not even an admin moves it to another user without removing it. */
    ck_assert_int_eq(device_add(a, "bob", "ann-desk", "bob-pass-1", NULL, 0),
                     TSPS__CODE__EXISTS);
    /* Bob's attempt to remove it looks like a missing device. */
    ck_assert_int_eq(device_remove(bob, "bob", "ann-desk"),
                     TSPS__CODE__NOT_FOUND);
    /* Ann still owns it: she may change its password and remove it. */
    ck_assert_int_eq(device_add(ann, "ann", "ann-desk", "ann-pass-2", NULL, 0),
                     TSPS__CODE__OK);
    /* Bob's own names work. */
    ck_assert_int_eq(device_add(bob, "bob", "bob-desk", "bob-pass-1", NULL, 0),
                     TSPS__CODE__OK);
    ck_assert_int_eq(device_remove(ann, "ann", "ann-desk"), TSPS__CODE__OK);
    /* Free again: now bob may have it. */
    ck_assert_int_eq(device_add(bob, "bob", "ann-desk", "bob-pass-1", NULL, 0),
                     TSPS__CODE__OK);
    tspsd_client_close(bob);
    tspsd_client_close(ann);
    tspsd_client_close(a);
}
END_TEST

/* The same through the web UI's /api/rpc/device_add. */
START_TEST(test_device_name_taken_web)
{
    char bob[80], out[8192], csrf[80];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(device_add(a, "ann", "ann-desk", "ann-pass-1", NULL, 0),
                     TSPS__CODE__OK);
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", csrf, sizeof(csrf));
    int st = th_web_req(&fx, "POST", "/api/rpc/device_add", bob, csrf,
                        "{\"user\":\"bob\",\"username\":\"ann-desk\","
                        "\"label\":\"desk\",\"password\":\"bob-pass-1\"}",
                        out, sizeof(out));
    ck_assert_msg(st == 409, "status %d: %s", st, out);
    /* Still ann's: bob's web remove is "not found", ann's works. */
    st = th_web_req(&fx, "POST", "/api/rpc/device_remove", bob, csrf,
                    "{\"user\":\"bob\",\"username\":\"ann-desk\"}", out,
                    sizeof(out));
    ck_assert_msg(st == 404, "status %d: %s", st, out);
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    ck_assert_int_eq(device_remove(ann, "ann", "ann-desk"), TSPS__CODE__OK);
    tspsd_client_close(ann);
    tspsd_client_close(a);
}
END_TEST

/* ---- someone else's call looks like no call ---- */

static int call_req(tspsd_client *c, int act, uint64_t id, char *err,
                    size_t errlen)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Explain ex = TSPS__EXPLAIN__INIT;
    Tsps__CallAct ca = TSPS__CALL_ACT__INIT;
    Tsps__Response *resp = NULL;
    if (act) {
        ca.call_id = id;
        ca.action = (char *)"voicemail";
        req.body_case = TSPS__REQUEST__BODY_CALL_ACT;
        req.call_act = &ca;
    } else {
        ex.call_id = id;
        req.body_case = TSPS__REQUEST__BODY_EXPLAIN;
        req.explain = &ex;
    }
    int code = th_call(c, &req, &resp);
    snprintf(err, errlen, "%s", resp != NULL && resp->error ? resp->error : "");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    return code;
}

/* Bob explaining or acting on ann's calls gets the very answer he gets
 * for a call id that was never used: nothing says the call exists or
 * whose it is. The audit line keeps the real reason. */
START_TEST(test_foreign_call_is_not_found)
{
    char got[256], want[256];
    const uint64_t none = fx_pending_call + fx_past_call + 1000;
    tspsd_client *bob = th_connect(&fx, "bob", NULL);
    const uint64_t ids[] = {fx_past_call, fx_pending_call};

    for (int act = 0; act <= 1; act++) {
        for (size_t i = 0; i < 2; i++) {
            ck_assert_int_eq(call_req(bob, act, ids[i], got, sizeof(got)),
                             TSPS__CODE__NOT_FOUND);
            ck_assert_int_eq(call_req(bob, act, none, want, sizeof(want)),
                             TSPS__CODE__NOT_FOUND);
            /* Same text but for the number. */
            char idtxt[32];
            snprintf(idtxt, sizeof(idtxt), "%llu", (unsigned long long)ids[i]);
            char *p = strstr(got, idtxt);
            ck_assert_msg(p != NULL, "%s", got);
            char norm[300];
            snprintf(norm, sizeof(norm), "%.*s%llu%s", (int)(p - got), got,
                     (unsigned long long)none, p + strlen(idtxt));
            ck_assert_msg(strcmp(norm, want) == 0, "'%s' vs '%s'", got, want);
            ck_assert_msg(strstr(got, "ann") == NULL, "%s", got);
        }
    }
    ck_assert(th_log_has(&fx, "identity=bob request=explain code=denied"));
    /* Ann herself still sees it. */
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    ck_assert_int_eq(call_req(ann, 0, fx_past_call, got, sizeof(got)),
                     TSPS__CODE__OK);
    tspsd_client_close(ann);
    tspsd_client_close(bob);
}
END_TEST

/* The web UI's RPC path answers 404 with the same body. */
START_TEST(test_foreign_call_is_not_found_web)
{
    char bob[80], out[8192], csrf[80], body[128], a1[512], a2[512];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    tspsd_client_close(a);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", csrf, sizeof(csrf));
    snprintf(body, sizeof(body), "{\"call_id\":%llu}",
             (unsigned long long)fx_past_call);
    ck_assert_int_eq(th_web_req(&fx, "POST", "/api/rpc/explain", bob, csrf,
                                body, out, sizeof(out)),
                     404);
    json_str(out, "error", a1, sizeof(a1));
    snprintf(body, sizeof(body), "{\"call_id\":%llu}",
             (unsigned long long)fx_past_call + 999);
    ck_assert_int_eq(th_web_req(&fx, "POST", "/api/rpc/explain", bob, csrf,
                                body, out, sizeof(out)),
                     404);
    json_str(out, "error", a2, sizeof(a2));
    ck_assert_msg(strstr(a1, "no call") == a1 && strstr(a2, "no call") == a2,
                  "'%s' vs '%s'", a1, a2);
    snprintf(body, sizeof(body), "{\"action\":\"voicemail\"}");
    char path[64];
    snprintf(path, sizeof(path), "/api/call/%llu/act",
             (unsigned long long)fx_pending_call);
    ck_assert_int_eq(
        th_web_req(&fx, "POST", path, bob, csrf, body, out, sizeof(out)), 404);
}
END_TEST

/* ---- logout is a POST with the CSRF token ---- */

/* GET /api/logout (an image tag on any page) must not end the session,
 * nor a POST without the session's CSRF token; the POST with it does. */
START_TEST(test_logout_post_only)
{
    char bob[80], out[8192], csrf[80];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    tspsd_client_close(a);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", csrf, sizeof(csrf));
    ck_assert_int_eq(th_web_req(&fx, "GET", "/api/logout", bob, NULL, NULL, out,
                                sizeof(out)),
                     405);
    ck_assert_msg(strstr(out, "Allow: POST") != NULL, "%s", out);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 200);
    ck_assert_int_eq(
        th_web_req(&fx, "POST", "/api/logout", bob, NULL, NULL, NULL, 0), 403);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 200);
    ck_assert_int_eq(
        th_web_req(&fx, "POST", "/api/logout", bob, csrf, NULL, NULL, 0), 200);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 401);
}
END_TEST

/* ---- TLS 1.2: AEAD suites only ---- */

/* openssl s_client against 127.0.0.1:port in TLS 1.2 with the given
 * suites: the negotiated cipher into out ("" when the handshake failed). */
static void s_client(int port, const char *suites, char *out, size_t len)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof(cmd),
             "openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher '%s' "
             "</dev/null 2>&1",
             port, suites);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *c = strstr(line, "Cipher is ");
        if (c != NULL && out[0] == '\0') {
            snprintf(out, len, "%s", c + strlen("Cipher is "));
            out[strcspn(out, "\r\n")] = '\0';
            if (strcmp(out, "(NONE)") == 0)
                out[0] = '\0';
        }
    }
    pclose(p);
}

/* Control socket and web UI: a TLS 1.2 client offering only CBC suites
 * gets no handshake; one offering everything gets an AEAD suite. */
START_TEST(test_tls12_aead_only)
{
    static const char cbc[] =
        "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
        "ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:"
        "ECDHE-RSA-AES128-SHA256:AES128-SHA:AES256-SHA:AES128-SHA256";
    char got[128];
    const int ports[] = {fx.port, th_web_port(&fx)};
    for (int i = 0; i < 2; i++) {
        s_client(ports[i], cbc, got, sizeof(got));
        ck_assert_msg(got[0] == '\0', "port %d accepted CBC suite %s", ports[i],
                      got);
        s_client(ports[i], "ALL", got, sizeof(got));
        ck_assert_msg(strstr(got, "GCM") != NULL ||
                          strstr(got, "CHACHA20") != NULL,
                      "port %d: suite '%s'", ports[i], got);
    }
}
END_TEST

/* ---- web password guessing ---- */

static void set_password(const char *user, const char *pw)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__WebPassword wp = TSPS__WEB_PASSWORD__INIT;
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    wp.user = (char *)user;
    wp.password = (char *)pw;
    req.body_case = TSPS__REQUEST__BODY_WEB_PASSWORD;
    req.web_password = &wp;
    ck_assert_int_eq(th_call(a, &req, NULL), TSPS__CODE__OK);
    tspsd_client_close(a);
}

/* The pre-login CSRF token: into tok, and the cookie line to send it. */
static void pre_csrf(char *tok, size_t toklen, char *cookie, size_t cookielen)
{
    char out[4096];
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/csrf", NULL, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", tok, toklen);
    /* th_web_req sends "Cookie: tsps_session=<cookie>". */
    snprintf(cookie, cookielen, "none; tsps_pre=%s", tok);
}

static int login(const char *user, const char *pw)
{
    char tok[80], cookie[160], body[256];
    pre_csrf(tok, sizeof(tok), cookie, sizeof(cookie));
    snprintf(body, sizeof(body), "{\"user\":\"%s\",\"password\":\"%s\"}", user,
             pw);
    return th_web_req(&fx, "POST", "/api/login", cookie, tok, body, NULL, 0);
}

/* One wrong guess for a made-up user after every four for ann does not
 * keep ann's lock from triggering: her fifth failure locks her, and then
 * even the right password gets 429. Other accounts are not locked. */
START_TEST(test_login_throttle_interleaved)
{
    char pw[32];
    set_password("ann", "ann-right-pw");
    set_password("bob", "bob-right-pw");
    for (int i = 0; i < 4; i++) {
        snprintf(pw, sizeof(pw), "wrong-%d", i);
        ck_assert_int_eq(login("ann", pw), 401);
    }
    ck_assert_int_eq(login("nosuchuser1", "wrong"), 401);
    ck_assert_int_eq(login("ann", "wrong-4"), 401);
    ck_assert_int_eq(login("ann", "ann-right-pw"), 429);
    ck_assert(th_log_has(&fx, "user=ann msg=\"web login throttled\""));
    /* Each failure names the address (for fail2ban). */
    ck_assert(th_log_has(&fx, "msg=\"web login failed\" audit=1 user=ann "
                              "addr=127.0.0.1"));
    ck_assert_int_eq(login("bob", "bob-right-pw"), 200);
}
END_TEST

/* Made-up names count against the source address: after 20 failures from
 * one address, whatever names they used, that address is refused, even
 * for a right password. */
START_TEST(test_login_throttle_unknown_users)
{
    char user[32];
    set_password("bob", "bob-right-pw");
    for (int i = 0; i < 20; i++) {
        snprintf(user, sizeof(user), "ghost%d", i);
        ck_assert_int_eq(login(user, "wrong"), 401);
    }
    ck_assert_int_eq(login("ghost-x", "wrong"), 429);
    ck_assert_int_eq(login("bob", "bob-right-pw"), 429);
    ck_assert(th_log_has(&fx, "addr=127.0.0.1 failures=20"));
}
END_TEST

#define PARALLEL 100

/* 100 guesses at once for ann: at most 5 are checked (401), the others
 * are refused at once (429), and ann is locked afterwards. */
START_TEST(test_login_throttle_parallel)
{
    char tok[80], cookie[160], body[128], out[4096];
    static th_http *h[PARALLEL];
    int checked = 0, refused = 0;

    set_password("ann", "ann-right-pw");
    pre_csrf(tok, sizeof(tok), cookie, sizeof(cookie));
    /* All connections up first, then all requests, then all replies. */
    for (int i = 0; i < PARALLEL; i++)
        h[i] = th_web_conn(&fx);
    for (int i = 0; i < PARALLEL; i++) {
        snprintf(body, sizeof(body),
                 "{\"user\":\"ann\",\"password\":\"guess-%d\"}", i);
        th_web_write(h[i], "POST", "/api/login", cookie, tok, body);
    }
    for (int i = 0; i < PARALLEL; i++) {
        int st = th_web_recv(h[i], out, sizeof(out));
        ck_assert_msg(st == 401 || st == 429, "status %d: %s", st, out);
        checked += st == 401;
        refused += st == 429;
    }
    ck_assert_msg(checked >= 1 && checked <= 5, "%d guesses checked", checked);
    ck_assert_int_eq(checked + refused, PARALLEL);
    ck_assert_int_eq(login("ann", "ann-right-pw"), 429);
}
END_TEST

/* ---- web event streams and chat guests ---- */

/* One session opens at most 4 event streams, one identity 16 (over its
 * sessions); past that 429, and other users still get theirs. */
START_TEST(test_web_streams_capped_per_session_and_identity)
{
    char sess[5][80], bob[80], out[4096];
    th_http *st[20];
    int n = 0;
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    for (int i = 0; i < 5; i++)
        th_web_login(&fx, a, "ann", sess[i], sizeof(sess[i]));
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    tspsd_client_close(a);
    for (int i = 0; i < 4; i++)
        st[n++] = th_sse_open(&fx, sess[0]);
    int code = th_web_req(&fx, "GET", "/api/events", sess[0], NULL, NULL, out,
                          sizeof(out));
    ck_assert_msg(code == 429, "5th stream of one session: %d %s", code, out);
    for (int k = 1; k < 4; k++)
        for (int i = 0; i < 4; i++)
            st[n++] = th_sse_open(&fx, sess[k]);
    code = th_web_req(&fx, "GET", "/api/events", sess[4], NULL, NULL, out,
                      sizeof(out));
    ck_assert_msg(code == 429, "17th stream of ann: %d %s", code, out);
    ck_assert(th_log_has(&fx, "msg=\"event stream refused\""));
    th_http *b = th_sse_open(&fx, bob); /* others are not starved */
    th_http_close(b);
    /* A closed stream frees its place. */
    th_http_close(st[0]);
    st[0] = NULL;
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        th_http *h = th_web_conn(&fx);
        th_web_write(h, "GET", "/api/events", sess[0], NULL, NULL);
        char buf[256];
        /* The refusal is a whole reply; a stream only sends headers and a
         * hello: read what comes within a second. */
        int stc = th_web_recv_head(h, buf, sizeof(buf), 2000);
        ok = stc == 200;
        th_http_close(h);
        if (!ok)
            pause_ms(100);
    }
    ck_assert_msg(ok, "a closed stream's place stayed taken");
    for (int i = 1; i < n; i++)
        th_http_close(st[i]);
}
END_TEST

/* One chat invitation admits 4 guests; the 5th is sent to the login page
 * with "invite-full". */
START_TEST(test_chat_invitation_guest_cap)
{
    char ann[80], out[8192], csrf[80], path[200], url[400];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "ann", ann, sizeof(ann));
    tspsd_client_close(a);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", ann, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", csrf, sizeof(csrf));
    snprintf(path, sizeof(path), "/api/chat/%llu",
             (unsigned long long)fx_pending_call);
    ck_assert_int_eq(
        th_web_req(&fx, "POST", path, ann, csrf, "{}", out, sizeof(out)), 200);
    snprintf(path, sizeof(path), "/api/chat/%llu/invite",
             (unsigned long long)fx_pending_call);
    ck_assert_int_eq(
        th_web_req(&fx, "POST", path, ann, csrf, "{}", out, sizeof(out)), 200);
    json_str(out, "invite_url", url, sizeof(url));
    const char *t = strstr(url, "/chat/join?t=");
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "%s&name=g%d", t, i);
        ck_assert_int_eq(
            th_web_req(&fx, "GET", path, NULL, NULL, NULL, out, sizeof(out)),
            303);
        if (i < 4)
            ck_assert_msg(strstr(out, "Location: /chat.html") != NULL,
                          "guest %d: %s", i, out);
        else
            ck_assert_msg(strstr(out, "error=invite-full") != NULL &&
                              strstr(out, "tsps_session=") == NULL,
                          "5th guest: %s", out);
    }
}
END_TEST

/* ---- control connection slots ---- */

/* A plain TCP connection to the control port that says nothing. */
static int raw_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* 1 when the server closes fd within ms, else 0. */
static int raw_closed(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char b[64];
    if (poll(&p, 1, ms) <= 0)
        return 0;
    return recv(fd, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

static void fx_setup_short_handshake(void)
{
    fx_setup_with("[control]\nhandshake_timeout = 1\n");
}

/* A connection that never authenticates is closed after handshake_timeout
 * (TCP only, or TLS with an anonymous Hello); an authenticated one stays. */
START_TEST(test_ctl_unauthenticated_closed)
{
    int fd = raw_connect(fx.port);
    tspsd_client *anon = th_connect(&fx, NULL, NULL);
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    ck_assert_msg(raw_closed(fd, 15000), "idle TCP connection kept");
    ck_assert_int_eq(tspsd_client_alive(anon, 15000), 0);
    ck_assert(th_log_has(&fx, "reason=\"not authenticated within 1 s\""));
    ck_assert_int_eq(tspsd_client_alive(ann, 2500), 1);
    close(fd);
    tspsd_client_close(anon);
    tspsd_client_close(ann);
}
END_TEST

static void fx_setup_per_address(void)
{
    fx_setup_with("[control]\nmax_unauthenticated_per_address = 4\n"
                  "handshake_timeout = 60\n");
}

/* One address holds at most 4 connections that have not authenticated:
 * the 5th is closed at once; authenticated ones do not count. */
START_TEST(test_ctl_per_address_limit)
{
    int fds[4];
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    for (int i = 0; i < 4; i++)
        fds[i] = raw_connect(fx.port);
    int fifth = raw_connect(fx.port);
    ck_assert_msg(raw_closed(fifth, 10000), "5th idle connection kept");
    ck_assert(th_log_has(&fx, "reason=max_unauthenticated_per_address"));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(raw_closed(fds[i], 0), 0);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    close(fifth);
    /* Once they are gone, this address may connect again (the server sees
     * the closes asynchronously: bounded retries). */
    tspsd_client *a = NULL;
    char c[300], k[300], err[256];
    th_cert_paths(&fx, "admin", c, k, sizeof(c));
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = th_try_connect(&fx, c, k, NULL, &a, err, sizeof(err));
        if (rc != 0)
            pause_ms(100);
    }
    ck_assert_msg(rc == 0, "%s", err);
    tspsd_client_close(a);
    tspsd_client_close(ann);
}
END_TEST

/* Wait (bounded) until the daemon counts n control connections. */
static void wait_clients(long n)
{
    char cmd[200], line[256];
    long got = -1;
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    for (int i = 0; i < 100 && got != n; i++) {
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        while (fgets(line, sizeof(line), p) != NULL)
            if (strncmp(line, "tspsd_connected_clients ", 24) == 0)
                got = atol(line + 24);
        pclose(p);
        if (got != n)
            pause_ms(100);
    }
    ck_assert_msg(got == n, "%ld control connections, want %ld", got, n);
}

static void fx_setup_few_slots(void)
{
    fx_setup_with("[control]\nmax_clients = 10\nadmin_reserved = 2\n"
                  "max_unauthenticated_per_address = 100\n"
                  "handshake_timeout = 60\n");
}

/* All 10 slots taken by idle connections: an admin still gets in (the
 * oldest idle one gives its slot). Authenticated users take at most 8:
 * the 9th is refused, and an admin still gets in. */
START_TEST(test_ctl_slots_kept_for_admins)
{
    int fds[10];
    char c[300], k[300], err[256];
    wait_clients(0);
    for (int i = 0; i < 10; i++)
        fds[i] = raw_connect(fx.port);
    wait_clients(10); /* all accepted: every slot taken */
    tspsd_client *a = NULL;
    th_cert_paths(&fx, "admin", c, k, sizeof(c));
    int rc = th_try_connect(&fx, c, k, NULL, &a, err, sizeof(err));
    ck_assert_msg(rc == 0, "admin kept out by idle connections: %s", err);
    ck_assert_int_eq(fx_user_put(a, "carl", NULL), 0);
    ck_assert(raw_closed(fds[0], 5000)); /* the oldest gave its slot */
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    tspsd_client_close(a);
    wait_clients(0);

    tspsd_client *bobs[9] = {0};
    th_cert_paths(&fx, "bob", c, k, sizeof(c));
    for (int i = 0; i < 8; i++) {
        rc = -1;
        for (int j = 0; j < 50 && rc != 0; j++) {
            rc = th_try_connect(&fx, c, k, NULL, &bobs[i], err, sizeof(err));
            if (rc != 0)
                pause_ms(100); /* closed idle ones may still count */
        }
        ck_assert_msg(rc == 0, "bob #%d: %s", i, err);
    }
    rc = th_try_connect(&fx, c, k, NULL, &bobs[8], err, sizeof(err));
    ck_assert_msg(rc != 0, "9th user connection got an admin slot");
    ck_assert_msg(strstr(err, "kept for admins") != NULL, "%s", err);
    th_cert_paths(&fx, "admin", c, k, sizeof(c));
    rc = th_try_connect(&fx, c, k, NULL, &a, err, sizeof(err));
    ck_assert_msg(rc == 0, "admin kept out by users: %s", err);
    ck_assert_int_eq(fx_user_put(a, "dora", NULL), 0);
    tspsd_client_close(a);
    for (int i = 0; i < 9; i++)
        tspsd_client_close(bobs[i]);
}
END_TEST

static Suite *hardening_suite(void)
{
    Suite *s = suite_create("tspsd_hardening");
    TCase *tc = tcase_create("web");
    tcase_add_checked_fixture(tc, fx_setup_web, fx_teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_device_name_taken_ctl);
    tcase_add_test(tc, test_device_name_taken_web);
    tcase_add_test(tc, test_foreign_call_is_not_found);
    tcase_add_test(tc, test_foreign_call_is_not_found_web);
    tcase_add_test(tc, test_logout_post_only);
    tcase_add_test(tc, test_tls12_aead_only);
    tcase_add_test(tc, test_web_streams_capped_per_session_and_identity);
    tcase_add_test(tc, test_chat_invitation_guest_cap);
    tcase_add_test(tc, test_login_throttle_interleaved);
    tcase_add_test(tc, test_login_throttle_unknown_users);
    tcase_add_test(tc, test_login_throttle_parallel);
    suite_add_tcase(s, tc);
    {
        TCase *t1 = tcase_create("slots_timeout");
        tcase_add_checked_fixture(t1, fx_setup_short_handshake, fx_teardown);
        tcase_set_timeout(t1, 120);
        tcase_add_test(t1, test_ctl_unauthenticated_closed);
        suite_add_tcase(s, t1);
        TCase *t2 = tcase_create("slots_address");
        tcase_add_checked_fixture(t2, fx_setup_per_address, fx_teardown);
        tcase_set_timeout(t2, 120);
        tcase_add_test(t2, test_ctl_per_address_limit);
        suite_add_tcase(s, t2);
        TCase *t3 = tcase_create("slots_admins");
        tcase_add_checked_fixture(t3, fx_setup_few_slots, fx_teardown);
        tcase_set_timeout(t3, 120);
        tcase_add_test(t3, test_ctl_slots_kept_for_admins);
        suite_add_tcase(s, t3);
    }
    return s;
}

TSPS_CHECK_MAIN(hardening_suite)

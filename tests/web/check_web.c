/*
 * check_web.c - the web UI's C parts without a browser: JSON <-> control
 * protocol messages, web passwords, cookies, login links and sessions over
 * a real engine store: idle timeouts, last-use refreshes, revocation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tsps_check.h"
#include "web/web_internal.h"

static char dir[512];
static tspsd d;

static void setup(void)
{
    char store[600];
    tsps_config ec = TSPS_CONFIG_INIT;
    tsps_check_tmpdir(dir, sizeof(dir));
    snprintf(store, sizeof(store), "%s/store", dir);
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tspsd_web_attach(&d), 0); /* forgets sessions */
    tspsd_config_defaults(&d.cfg);
    ec.path = store;
    ck_assert_int_eq(tsps_engine_open(&ec, &d.eng), TSPS_OK);
}

static int count_cb(void *arg, const char *key, const void *val, size_t len)
{
    (void)key;
    (void)val;
    (void)len;
    (*(int *)arg)++;
    return 0;
}

static void teardown(void)
{
    tsps_engine_close(d.eng);
    tsps_check_rmdir(dir);
}

START_TEST(json_to_request_and_back)
{
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__CodeSet *cs = tspsd_arena_alloc(&a, sizeof(*cs));
    char err[200] = "";
    json_t *j = json_loads("{\"rule\": {\"user\": \"ann\", \"code\": \"VIP\","
                           " \"status\": \"busy\", \"method\": \"voicemail\"}}",
                           0, NULL);
    tsps__code_set__init(cs);
    ck_assert_int_eq(web_pb_from_json(&a, j, &cs->base, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(cs->rule);
    ck_assert_str_eq(cs->rule->user, "ann");
    ck_assert_str_eq(cs->rule->method, "voicemail");
    /* The same message packs and unpacks as the control protocol would. */
    uint8_t buf[256];
    size_t n = tsps__code_set__pack(cs, buf);
    Tsps__CodeSet *back = tsps__code_set__unpack(NULL, n, buf);
    ck_assert_str_eq(back->rule->status, "busy");
    json_t *out = web_pb_to_json(&back->base);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(out, "rule"), "code")),
                     "VIP");
    json_decref(out);
    tsps__code_set__free_unpacked(back, NULL);
    json_decref(j);
    tspsd_arena_free(&a);
}
END_TEST

START_TEST(json_bad_input_is_refused)
{
    static const char *const bad[] = {
        "{\"call_id\": \"12x\"}", "{\"call_id\": -1}",  "{\"action\": 5}",
        "{\"nope\": 1}",          "{\"call_id\": [1]}", "[1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tspsd_arena a = TSPSD_ARENA_INIT;
        Tsps__CallAct act = TSPS__CALL_ACT__INIT;
        char err[200] = "";
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(web_pb_from_json(&a, j, &act.base, err, sizeof(err)) != 0,
                      "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
        json_decref(j);
        tspsd_arena_free(&a);
    }
    /* A call id as a string (JS numbers lose precision past 2^53). */
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__CallAct act = TSPS__CALL_ACT__INIT;
    char err[200];
    json_t *j = json_loads("{\"call_id\": \"18446744073709551615\"}", 0, NULL);
    ck_assert_int_eq(web_pb_from_json(&a, j, &act.base, err, sizeof(err)), 0);
    ck_assert(act.call_id == UINT64_MAX);
    json_decref(j);
    tspsd_arena_free(&a);
}
END_TEST

START_TEST(password_hash_and_check)
{
    char val[300];
    size_t n = 0;
    ck_assert_int_eq(tspsd_web_set_password(&d, "ann", "short"), TSPS_EINVAL);
    ck_assert_int_eq(tspsd_web_set_password(&d, "a/b", "long enough"),
                     TSPS_EINVAL);
    ck_assert_int_eq(tspsd_web_set_password(&d, "ann", "correct horse"),
                     TSPS_OK);
    ck_assert_int_eq(tspsd_web_check_password(&d, "ann", "correct horse"), 1);
    ck_assert_int_eq(tspsd_web_check_password(&d, "ann", "correct horsE"), 0);
    ck_assert_int_eq(tspsd_web_check_password(&d, "bob", "correct horse"), 0);
    /* Stored hashed and salted, never in clear. */
    ck_assert_int_eq(
        tsps_kv_get(d.eng, "tspsd/webpw/ann", val, sizeof(val) - 1, &n),
        TSPS_OK);
    val[n] = '\0';
    ck_assert(strncmp(val, "pbkdf2-sha256$", 14) == 0);
    ck_assert_ptr_null(strstr(val, "horse"));
    ck_assert_int_eq(tspsd_web_set_password(&d, "ann", ""), TSPS_OK);
    ck_assert_int_eq(tspsd_web_check_password(&d, "ann", "correct horse"), 0);
}
END_TEST

START_TEST(cookies_parse)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    char buf[80];
    evhttp_add_header(evhttp_request_get_input_headers(req), "Cookie",
                      "a=1; tsps_session=abc; tsps_pre=zz;x=");
    ck_assert_str_eq(web_cookie(req, "tsps_session", buf, sizeof(buf)), "abc");
    ck_assert_str_eq(web_cookie(req, "tsps_pre", buf, sizeof(buf)), "zz");
    ck_assert_ptr_null(web_cookie(req, "tsps", buf, sizeof(buf)));
    ck_assert_str_eq(web_cookie(req, "x", buf, sizeof(buf)), "");
    ck_assert_ptr_null(web_cookie(req, "a", buf, 1)); /* too long for buf */
    evhttp_request_free(req);
}
END_TEST

START_TEST(session_round_trip_and_expiry)
{
    tspsd_web w;
    web_session s, got;
    struct evhttp_request *out = evhttp_request_new(NULL, NULL);
    struct evhttp_request *in = evhttp_request_new(NULL, NULL);
    char cookie[200];

    memset(&w, 0, sizeof(w));
    w.d = &d;
    d.cfg.web_session_s = 60;
    ck_assert_int_eq(web_session_create(&w, out, "ann", 0, NULL, &s), 0);
    const char *sc = evhttp_find_header(evhttp_request_get_output_headers(out),
                                        "Set-Cookie");
    ck_assert_ptr_nonnull(sc);
    ck_assert_ptr_nonnull(strstr(sc, "HttpOnly"));
    ck_assert_ptr_nonnull(strstr(sc, "Secure"));
    ck_assert_ptr_nonnull(strstr(sc, "SameSite=Strict"));
    snprintf(cookie, sizeof(cookie), "%.*s", (int)(strchr(sc, ';') - sc), sc);
    evhttp_add_header(evhttp_request_get_input_headers(in), "Cookie", cookie);
    ck_assert_int_eq(web_session_get(&w, in, &got), 0);
    ck_assert_str_eq(got.identity, "ann");
    ck_assert_str_eq(got.csrf, s.csrf);
    /* CSRF: header must match the session's token. */
    ck_assert_int_eq(web_csrf_ok(in, &got), 0);
    evhttp_add_header(evhttp_request_get_input_headers(in), "X-CSRF-Token",
                      s.csrf);
    ck_assert_int_eq(web_csrf_ok(in, &got), 1);
    web_session_destroy(&w, &got);
    ck_assert_int_eq(web_session_get(&w, in, &got), -1);
    evhttp_request_free(out);
    evhttp_request_free(in);
}
END_TEST

/* A request carrying session id sid in its cookie. */
static int get_sid(tspsd_web *w, const char *sid, web_session *out)
{
    char cookie[120];
    struct evhttp_request *in = evhttp_request_new(NULL, NULL);
    snprintf(cookie, sizeof(cookie), WEB_COOKIE "=%s", sid);
    evhttp_add_header(evhttp_request_get_input_headers(in), "Cookie", cookie);
    int rc = web_session_get(w, in, out);
    evhttp_request_free(in);
    return rc;
}

/* Store a session as a daemon before idle timeouts did (v1), logged in
 * `age` seconds ago; its id into sid. */
static void put_v1_session(const char *identity, int64_t age, char sid[65])
{
    char h[65], key[128], val[300];
    int64_t now = (int64_t)time(NULL);
    ck_assert_int_eq(web_random_hex(sid, 32), 0);
    web_sha256_hex(sid, h);
    snprintf(key, sizeof(key), "tspsd/websess/%s", h);
    int n = snprintf(val, sizeof(val), "v1\t%s\t%lld\t%064d\t0\t", identity,
                     (long long)(now - age + d.cfg.web_session_s), 7);
    ck_assert_int_eq(tsps_kv_put(d.eng, key, val, (size_t)n), TSPS_OK);
}

static int seen_at(const char *sid, int64_t *at)
{
    char h[65], key[128], v[32];
    size_t n = 0;
    web_sha256_hex(sid, h);
    snprintf(key, sizeof(key), "tspsd/webseen/%s", h);
    int rc = tsps_kv_get(d.eng, key, v, sizeof(v) - 1, &n);
    if (rc == TSPS_OK) {
        v[n] = '\0';
        *at = strtoll(v, NULL, 10);
    }
    return rc;
}

/* Last use is written at most once per interval, and an idle session is
 * refused and deleted. */
START_TEST(session_idle_timeout_and_refresh)
{
    tspsd_web w;
    web_session s;
    char old[65], idle[65], h[65], key[128];
    int64_t at = 0, now = (int64_t)time(NULL);

    memset(&w, 0, sizeof(w));
    w.d = &d;
    d.cfg.web_session_idle_s = 1800;
    ck_assert_int_eq(web_touch_interval(&d.cfg), 60);
    /* Used 2 minutes ago, within the idle timeout: valid, and its last
     * use is written now (no worker here: inline). */
    put_v1_session("ann", 120, old);
    ck_assert_int_eq(get_sid(&w, old, &s), 0);
    ck_assert_str_eq(s.identity, "ann");
    ck_assert_int_eq(seen_at(old, &at), TSPS_OK);
    ck_assert(at >= now);
    /* More requests within the minute write nothing more. */
    web_sha256_hex(old, h);
    snprintf(key, sizeof(key), "tspsd/webseen/%s", h);
    ck_assert_int_eq(tsps_kv_put(d.eng, key, NULL, 0), TSPS_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(get_sid(&w, old, &s), 0);
    ck_assert_int_eq(seen_at(old, &at), TSPS_ENOTFOUND);
    /* Unused for longer than the idle timeout: refused, and gone. */
    put_v1_session("ann", 1801, idle);
    ck_assert_int_eq(get_sid(&w, idle, &s), -1);
    d.cfg.web_session_idle_s = 0; /* even with the timeout off now */
    ck_assert_int_eq(get_sid(&w, idle, &s), -1);
    /* 0 = no idle timeout: only the lifetime counts. */
    put_v1_session("ann", 7200, idle);
    ck_assert_int_eq(get_sid(&w, idle, &s), 0);
    d.cfg.web_session_idle_s = 2;
    ck_assert_int_eq(web_touch_interval(&d.cfg), 1);
}
END_TEST

/* tspsd_web_revoke: every session and login link of that identity, no
 * other (not "bobby", not guests). */
START_TEST(revoke_sessions_of_one_identity)
{
    tspsd_web w;
    web_session s;
    char b1[65], b2[65], a1[65], bb[65], g1[65], url[600];
    size_t n = 99;

    memset(&w, 0, sizeof(w));
    w.d = &d;
    d.web = &w;
    snprintf(w.base_url, sizeof(w.base_url), "https://127.0.0.1:1");
    ck_assert_int_eq(web_session_new(&w, "bob", 0, NULL, &s, b1), 0);
    ck_assert_int_eq(web_session_new(&w, "bob", 0, NULL, &s, b2), 0);
    ck_assert_int_eq(web_session_new(&w, "ann", 0, NULL, &s, a1), 0);
    ck_assert_int_eq(web_session_new(&w, "bobby", 0, NULL, &s, bb), 0);
    ck_assert_int_eq(web_session_new(&w, "", 7, "bob", &s, g1), 0);
    ck_assert_int_eq(tspsd_web_login_link(&d, "bob", url, sizeof(url)),
                     TSPS_OK);
    ck_assert_int_eq(tspsd_web_login_link(&d, "ann", url, sizeof(url)),
                     TSPS_OK);

    ck_assert_int_eq(tspsd_web_revoke(&d, "bob", &n), TSPS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(get_sid(&w, b1, &s), -1);
    ck_assert_int_eq(get_sid(&w, b2, &s), -1);
    ck_assert_int_eq(get_sid(&w, a1, &s), 0);
    ck_assert_int_eq(get_sid(&w, bb, &s), 0);
    ck_assert_int_eq(get_sid(&w, g1, &s), 0);
    ck_assert_uint_eq(s.guest_call, 7);
    /* bob's login link went too, ann's did not: the link ann's URL names
     * still logs in (one link left in the store). */
    int links = 0;
    ck_assert_int_eq(tsps_kv_list(d.eng, "tspsd/weblink/", count_cb, &links),
                     TSPS_OK);
    ck_assert_int_eq(links, 1);
    ck_assert_int_eq(tspsd_web_revoke(&d, "bob", &n), TSPS_OK);
    ck_assert_uint_eq(n, 0);
    d.web = NULL;
}
END_TEST

/* A deleted user loses every token (however many), session and password. */
START_TEST(identity_revoke_everything)
{
    tspsd_web w;
    web_session s;
    char tok[80], first[80], sid[65], id[64];
    size_t nt = 0, ns = 0;
    int admin = 0;

    memset(&w, 0, sizeof(w));
    w.d = &d;
    for (int i = 0; i < 70; i++) /* more than one batch of 64 */
        ck_assert_int_eq(tspsd_token_issue(&d, "bob", 0, i ? tok : first, 80),
                         TSPS_OK);
    ck_assert_int_eq(tspsd_token_issue(&d, "ann", 0, tok, sizeof(tok)),
                     TSPS_OK);
    ck_assert_int_eq(tspsd_web_set_password(&d, "bob", "long enough pw"),
                     TSPS_OK);
    ck_assert_int_eq(web_session_new(&w, "bob", 0, NULL, &s, sid), 0);
    ck_assert_int_eq(tspsd_token_check(&d, first, id, sizeof(id), &admin), 0);

    ck_assert_int_eq(tspsd_identity_revoke(&d, "bob", 1, &nt, &ns), TSPS_OK);
    ck_assert_uint_eq(nt, 70);
    ck_assert_uint_eq(ns, 1);
    ck_assert_int_eq(tspsd_token_check(&d, first, id, sizeof(id), &admin), -1);
    ck_assert_int_eq(tspsd_token_check(&d, tok, id, sizeof(id), &admin), 0);
    ck_assert_str_eq(id, "ann");
    ck_assert_int_eq(tspsd_web_check_password(&d, "bob", "long enough pw"), 0);
    ck_assert_int_eq(get_sid(&w, sid, &s), -1);
    ck_assert_int_eq(tspsd_identity_revoke(&d, "a/b", 0, &nt, &ns),
                     TSPS_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("web");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120); /* PBKDF2 is slow on purpose (and under ASan) */
    tcase_add_test(tc, json_to_request_and_back);
    tcase_add_test(tc, json_bad_input_is_refused);
    tcase_add_test(tc, password_hash_and_check);
    tcase_add_test(tc, cookies_parse);
    tcase_add_test(tc, session_round_trip_and_expiry);
    tcase_add_test(tc, session_idle_timeout_and_refresh);
    tcase_add_test(tc, revoke_sessions_of_one_identity);
    tcase_add_test(tc, identity_revoke_everything);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(suite)

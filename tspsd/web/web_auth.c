/*
 * web_auth.c - web passwords (PBKDF2-HMAC-SHA256), one-time login links,
 * sessions and CSRF tokens. Everything durable lives in the engine's kv
 * store under hashed keys ("tspsd/webpw/<id>", "tspsd/weblink/<sha256>",
 * "tspsd/websess/<sha256>"): a copy of the store reveals no usable secret.
 */
#include "web_internal.h"

#include "../log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PBKDF2_ITER 100000
#define PW_MIN      8
#define PW_MAX      256
#define LINK_PREFIX "tspsd/weblink/"
#define SESS_PREFIX "tspsd/websess/"
#define PW_PREFIX   "tspsd/webpw/"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void hexify(const unsigned char *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int pbkdf2(const char *pw, const unsigned char *salt, size_t sl,
                  int iter, unsigned char out[32])
{
    return PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)sl, iter,
                             EVP_sha256(), 32, out) == 1
               ? 0
               : -1;
}

int tspsd_web_set_password(tspsd *d, const char *identity, const char *password)
{
    char key[128], val[256], sh[33], hh[65];
    unsigned char salt[16], h[32];

    if (!tspsd_identity_valid(identity))
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), PW_PREFIX "%s", identity);
    if (password == NULL || password[0] == '\0') {
        int rc = tsps_kv_put(d->eng, key, NULL, 0);
        return rc == TSPS_ENOTFOUND ? TSPS_OK : rc;
    }
    if (strlen(password) < PW_MIN || strlen(password) > PW_MAX)
        return TSPS_EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        pbkdf2(password, salt, sizeof(salt), PBKDF2_ITER, h) != 0)
        return TSPS_ESTORE;
    hexify(salt, sizeof(salt), sh);
    hexify(h, sizeof(h), hh);
    int n = snprintf(val, sizeof(val), "pbkdf2-sha256$%d$%s$%s", PBKDF2_ITER,
                     sh, hh);
    return tsps_kv_put(d->eng, key, val, (size_t)n);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return s[2 * n] == '\0' || s[2 * n] == '$' ? 0 : -1;
}

int tspsd_web_check_password(tspsd *d, const char *identity,
                             const char *password)
{
    char key[128], val[256];
    size_t vl = 0;
    unsigned char salt[16], want[32], got[32];
    int iter;

    if (!tspsd_identity_valid(identity) || password == NULL ||
        strlen(password) > PW_MAX)
        return 0;
    snprintf(key, sizeof(key), PW_PREFIX "%s", identity);
    if (tsps_kv_get(d->eng, key, val, sizeof(val) - 1, &vl) != TSPS_OK)
        return 0;
    val[vl] = '\0';
    char *p = strchr(val, '$'), *q = p ? strchr(p + 1, '$') : NULL,
         *r = q ? strchr(q + 1, '$') : NULL;
    if (r == NULL || strncmp(val, "pbkdf2-sha256$", 14) != 0)
        return 0;
    iter = atoi(p + 1);
    if (iter < 1000 || iter > 10000000 || unhex(q + 1, salt, 16) != 0 ||
        unhex(r + 1, want, 32) != 0 ||
        pbkdf2(password, salt, sizeof(salt), iter, got) != 0)
        return 0;
    return CRYPTO_memcmp(want, got, 32) == 0;
}

int tspsd_web_login_link(tspsd *d, const char *identity, char *url, size_t len)
{
    char tok[65], h[65], key[128], val[128];

    if (d->web == NULL)
        return TSPS_ESTATE;
    if (!tspsd_identity_valid(identity) || web_random_hex(tok, 32) != 0)
        return TSPS_EINVAL;
    web_sha256_hex(tok, h);
    snprintf(key, sizeof(key), LINK_PREFIX "%s", h);
    int n = snprintf(val, sizeof(val), "%s\t%lld", identity,
                     (long long)(now_s() + d->cfg.web_link_s));
    int rc = tsps_kv_put(d->eng, key, val, (size_t)n);
    if (rc != TSPS_OK)
        return rc;
    snprintf(url, len, "%s/login?t=%s", d->web->base_url, tok);
    return TSPS_OK;
}

/* ---- sessions ---- */

static void sess_key(const char *sid, char *key, size_t len)
{
    char h[65];
    web_sha256_hex(sid, h);
    snprintf(key, len, SESS_PREFIX "%s", h);
}

int web_session_new(tspsd_web *w, const char *identity, uint64_t guest_call,
                    const char *guest_name, web_session *out, char sid[65])
{
    char val[400];

    memset(out, 0, sizeof(*out));
    if (web_random_hex(sid, 32) != 0 || web_random_hex(out->csrf, 32) != 0)
        return -1;
    snprintf(out->identity, sizeof(out->identity), "%s",
             identity != NULL ? identity : "");
    out->guest_call = guest_call;
    if (guest_name != NULL) {
        size_t j = 0;
        for (const char *p = guest_name; *p && j + 1 < sizeof(out->guest_name);
             p++)
            if ((unsigned char)*p >= 0x20 && *p != '\t' && *p != 0x7f)
                out->guest_name[j++] = *p;
        out->guest_name[j] = '\0';
    }
    out->expires = now_s() + w->d->cfg.web_session_s;
    out->admin =
        guest_call == 0 && tspsd_config_is_admin(&w->d->cfg, out->identity);
    sess_key(sid, out->key, sizeof(out->key));
    int n = snprintf(val, sizeof(val), "v1\t%s\t%lld\t%s\t%llu\t%s",
                     out->identity, (long long)out->expires, out->csrf,
                     (unsigned long long)guest_call, out->guest_name);
    return tsps_kv_put(w->d->eng, out->key, val, (size_t)n) == TSPS_OK ? 0 : -1;
}

int web_session_create(tspsd_web *w, struct evhttp_request *req,
                       const char *identity, uint64_t guest_call,
                       const char *guest_name, web_session *out)
{
    char sid[65];
    if (web_session_new(w, identity, guest_call, guest_name, out, sid) != 0)
        return -1;
    web_set_cookie(req, WEB_COOKIE, sid, w->d->cfg.web_session_s);
    return 0;
}

int web_session_get(tspsd_web *w, struct evhttp_request *req, web_session *out)
{
    char sid[80], val[400], *f[6];
    size_t vl = 0;
    int nf = 0;

    memset(out, 0, sizeof(*out));
    if (web_cookie(req, WEB_COOKIE, sid, sizeof(sid)) == NULL ||
        strlen(sid) != 64)
        return -1;
    sess_key(sid, out->key, sizeof(out->key));
    if (tsps_kv_get(w->d->eng, out->key, val, sizeof(val) - 1, &vl) != TSPS_OK)
        return -1;
    val[vl] = '\0';
    for (char *p = val; nf < 6; nf++) {
        f[nf] = p;
        p = strchr(p, '\t');
        if (p == NULL) {
            nf++;
            break;
        }
        *p++ = '\0';
    }
    if (nf < 6 || strcmp(f[0], "v1") != 0)
        return -1;
    snprintf(out->identity, sizeof(out->identity), "%s", f[1]);
    out->expires = strtoll(f[2], NULL, 10);
    snprintf(out->csrf, sizeof(out->csrf), "%s", f[3]);
    out->guest_call = strtoull(f[4], NULL, 10);
    snprintf(out->guest_name, sizeof(out->guest_name), "%s", f[5]);
    if (out->expires <= now_s()) {
        tsps_kv_put(w->d->eng, out->key, NULL, 0);
        return -1;
    }
    out->admin = out->guest_call == 0 &&
                 tspsd_config_is_admin(&w->d->cfg, out->identity);
    return 0;
}

void web_session_destroy(tspsd_web *w, const web_session *s)
{
    tsps_kv_put(w->d->eng, s->key, NULL, 0);
}

int web_csrf_ok(struct evhttp_request *req, const web_session *s)
{
    const char *t =
        evhttp_find_header(evhttp_request_get_input_headers(req), WEB_CSRF_HDR);
    return t != NULL && strlen(t) == 64 && strlen(s->csrf) == 64 &&
           CRYPTO_memcmp(t, s->csrf, 64) == 0;
}

/* ---- housekeeping: expired sessions, links and chat invitations ---- */

typedef struct purge_ctx {
    int64_t now;
    char (*keys)[128];
    size_t n, cap;
} purge_ctx;

/* Expiry of a stored value: sessions "v1\tid\tEXP...", links and
 * invitations "x\tEXP". */
static int64_t value_expiry(const char *key, const char *v, size_t len)
{
    char buf[400];
    const char *p;
    if (len >= sizeof(buf))
        return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    p = strchr(buf, '\t');
    if (p != NULL && strncmp(key, SESS_PREFIX, strlen(SESS_PREFIX)) == 0)
        p = strchr(p + 1, '\t');
    return p != NULL ? strtoll(p + 1, NULL, 10) : 0;
}

static int purge_cb(void *arg, const char *key, const void *val, size_t len)
{
    purge_ctx *pc = arg;
    if (value_expiry(key, val, len) > pc->now || pc->n >= pc->cap)
        return 0;
    snprintf(pc->keys[pc->n++], 128, "%s", key);
    return 0;
}

void web_purge_expired(tspsd_web *w)
{
    static const char *const prefixes[] = {SESS_PREFIX, LINK_PREFIX,
                                           "tspsd/chatinv/"};
    purge_ctx pc = {now_s(), NULL, 0, 256};
    pc.keys = calloc(pc.cap, sizeof(*pc.keys));
    if (pc.keys == NULL)
        return;
    for (size_t i = 0; i < 3; i++) {
        pc.n = 0;
        /* Collect first: no writes inside the listing's read txn. */
        tsps_kv_list(w->d->eng, prefixes[i], purge_cb, &pc);
        for (size_t k = 0; k < pc.n; k++)
            tsps_kv_put(w->d->eng, pc.keys[k], NULL, 0);
    }
    free(pc.keys);
}

/* ---- handlers ---- */

void web_h_precsrf(tspsd_web *w, struct evhttp_request *req)
{
    char tok[65];
    (void)w;
    if (web_random_hex(tok, 32) != 0) {
        web_send_error(req, 500, "no randomness");
        return;
    }
    web_set_cookie(req, WEB_PRE_COOKIE, tok, 900);
    web_send_json(req, 200, json_pack("{s:s}", "csrf", tok));
}

static json_t *me_json(const web_session *s)
{
    return json_pack("{s:s, s:b, s:s, s:I, s:s}", "identity", s->identity,
                     "admin", s->admin, "csrf", s->csrf, "guest_call",
                     (json_int_t)s->guest_call, "guest_name", s->guest_name);
}

/* Password guessing: after 5 failures for one identity, refuse it for
 * 5 minutes (loop thread only). */
#define THROTTLE_FAILS 5
#define THROTTLE_S     300

static int throttle_slot(tspsd_web *w, const char *user, int create)
{
    int free_slot = -1, oldest = 0;
    int64_t now = now_s();
    for (int i = 0; i < 64; i++) {
        if (strcmp(w->throttle[i].user, user) == 0)
            return i;
        if (w->throttle[i].user[0] == '\0' || w->throttle[i].until < now - 3600)
            free_slot = free_slot < 0 ? i : free_slot;
        if (w->throttle[i].until < w->throttle[oldest].until)
            oldest = i;
    }
    if (!create)
        return -1;
    int i = free_slot >= 0 ? free_slot : oldest;
    memset(&w->throttle[i], 0, sizeof(w->throttle[i]));
    snprintf(w->throttle[i].user, sizeof(w->throttle[i].user), "%s", user);
    return i;
}

static void login_done(web_job *j)
{
    tspsd_web *w = j->w;
    int i = throttle_slot(w, j->user, j->status == 401);
    if (i < 0)
        return;
    if (j->status == 200) {
        w->throttle[i].user[0] = '\0';
        w->throttle[i].fails = 0;
        return;
    }
    if (j->status == 401 && ++w->throttle[i].fails >= THROTTLE_FAILS) {
        w->throttle[i].until = now_s() + THROTTLE_S;
        w->throttle[i].fails = 0;
        tspsd_log(TSPSD_LOG_WARN, 0, j->user, "web login throttled",
                  "audit=1 seconds=%d", THROTTLE_S);
    }
}

/* On the worker: PBKDF2 takes tens of milliseconds by design. */
static void login_run(web_job *j)
{
    char q[80];
    web_session s;
    int ok = tspsd_web_check_password(j->w->d, j->user, j->secret);

    OPENSSL_cleanse(j->secret, sizeof(j->secret));
    if (!ok) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "web login failed",
                  "audit=1 user=%s", tspsd_log_quote(j->user, q, sizeof(q)));
        j->status = 401;
        j->out = json_pack("{s:s}", "error", "wrong user or password");
        return;
    }
    if (web_session_new(j->w, j->user, 0, NULL, &s, j->cookie) != 0) {
        j->cookie[0] = '\0';
        j->status = 500;
        j->out = json_pack("{s:s}", "error", "cannot store the session");
        return;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, j->user, "web login", "method=password");
    j->cookie_age = j->w->d->cfg.web_session_s;
    j->clear_pre = 1;
    j->status = 200;
    j->out = me_json(&s);
}

void web_h_login(tspsd_web *w, struct evhttp_request *req)
{
    char pre[80];
    const char *hdr, *user, *pw;
    json_t *b;
    web_job *j;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        web_send_error(req, 405, "POST only");
        return;
    }
    /* Before a session exists: the double-submit token from /api/csrf. */
    hdr =
        evhttp_find_header(evhttp_request_get_input_headers(req), WEB_CSRF_HDR);
    if (web_cookie(req, WEB_PRE_COOKIE, pre, sizeof(pre)) == NULL ||
        hdr == NULL || strlen(pre) != 64 || strlen(hdr) != 64 ||
        CRYPTO_memcmp(pre, hdr, 64) != 0) {
        web_send_error(req, 403, "missing or wrong CSRF token");
        return;
    }
    b = web_body_json(req);
    if (b == NULL) {
        web_send_error(req, 400, "body must be a JSON object");
        return;
    }
    user = json_string_value(json_object_get(b, "user"));
    pw = json_string_value(json_object_get(b, "password"));
    if (user == NULL || pw == NULL || !tspsd_identity_valid(user) ||
        strlen(pw) > PW_MAX) {
        json_decref(b);
        web_send_error(req, 401, "wrong user or password");
        return;
    }
    int t = throttle_slot(w, user, 0);
    if (t >= 0 && w->throttle[t].until > now_s()) {
        json_decref(b);
        web_send_error(req, 429, "too many failed logins: try again later");
        return;
    }
    j = web_job_new(w, req, login_run);
    if (j == NULL) {
        json_decref(b);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->done = login_done;
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->secret, sizeof(j->secret), "%s", pw);
    json_decref(b);
    web_job_submit(j);
}

void web_h_logout(tspsd_web *w, struct evhttp_request *req)
{
    web_session s;
    if (web_session_get(w, req, &s) == 0)
        web_session_destroy(w, &s);
    web_set_cookie(req, WEB_COOKIE, "x", 0);
    web_send_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void redirect(struct evhttp_request *req, const char *to)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", to);
    evhttp_send_reply(req, 303, "See Other", NULL);
}

void web_h_link(tspsd_web *w, struct evhttp_request *req)
{
    char tok[80], h[65], key[128], val[128];
    size_t vl = 0;
    web_session s;

    if (web_query(req, "t", tok, sizeof(tok)) == NULL || strlen(tok) != 64) {
        redirect(req, "/login.html?error=link");
        return;
    }
    web_sha256_hex(tok, h);
    snprintf(key, sizeof(key), LINK_PREFIX "%s", h);
    if (tsps_kv_get(w->d->eng, key, val, sizeof(val) - 1, &vl) != TSPS_OK) {
        redirect(req, "/login.html?error=link");
        return;
    }
    val[vl] = '\0';
    tsps_kv_put(w->d->eng, key, NULL, 0); /* one time only */
    char *tab = strchr(val, '\t');
    if (tab == NULL || strtoll(tab + 1, NULL, 10) <= now_s()) {
        redirect(req, "/login.html?error=expired");
        return;
    }
    *tab = '\0';
    if (web_session_create(w, req, val, 0, NULL, &s) != 0) {
        web_send_error(req, 500, "cannot store the session");
        return;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, val, "web login", "method=link");
    redirect(req, "/");
}

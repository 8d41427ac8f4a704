/*
 * web_auth.c - web passwords (PBKDF2-HMAC-SHA256), one-time login links,
 * sessions and CSRF tokens. Everything durable lives in the engine's kv
 * store under hashed keys (TSPSD_KEY_WEBPW "<id>", TSPSD_KEY_WEBLINK
 * "<sha256>", TSPSD_KEY_WEBSESS "<sha256>", its last use in TSPSD_KEY_WEBSEEN
 * "<sha256>"): a copy of the store reveals no usable secret. Sessions end at
 * their lifetime, after [web] session_idle_timeout without use, at logout, and
 * when their identity is revoked (tspsd_web_revoke).
 */
#include "web_internal.h"
#include "../store_keys.h"

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
#define LINK_PREFIX TSPSD_KEY_WEBLINK
#define SESS_PREFIX TSPSD_KEY_WEBSESS
#define PW_PREFIX   TSPSD_KEY_WEBPW
#define SEEN_PREFIX TSPSD_KEY_WEBSEEN

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

/* ---- sessions ----
 *
 * TSPSD_KEY_WEBSESS "<sha256(id)>" = "v2\tIDENTITY\tEXPIRES\tCSRF\tGUEST_CALL\t
 * GUEST_NAME\tCREATED" (v1: without CREATED). The last use lives apart, in
 * TSPSD_KEY_WEBSEEN "<sha256(id)>" = "UNIX_TIME": a refresh written after the
 * session was revoked only leaves an orphan there (purged), it never
 * brings the session back. */

enum { SESS_OK = 0, SESS_GONE = -1, SESS_EXPIRED = -2, SESS_IDLE = -3 };

static const char *key_hash(const char *key)
{
    size_t n = strlen(SESS_PREFIX);
    return strncmp(key, SESS_PREFIX, n) == 0 ? key + n : key;
}

static void seen_key(const char *key, char *out, size_t len)
{
    snprintf(out, len, SEEN_PREFIX "%s", key_hash(key));
}

static void sess_key(const char *sid, char *key, size_t len)
{
    char h[65];
    web_sha256_hex(sid, h);
    snprintf(key, len, SESS_PREFIX "%s", h);
}

int web_touch_interval(const tspsd_config *cfg)
{
    /* Often enough that an active session never looks idle, at most once
     * a minute: a quarter of the idle timeout, clamped to 1..60 s. */
    int iv = cfg->web_session_idle_s > 0 ? cfg->web_session_idle_s / 4 : 60;
    return iv < 1 ? 1 : iv > 60 ? 60 : iv;
}

static size_t touch_slot(const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 4 && hash[i] != '\0'; i++)
        v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0'
                                               : (hash[i] | 0x20) - 'a' + 10);
    return v % WEB_TOUCH_SLOTS;
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
    out->created = out->last_used = now_s();
    out->expires = out->created + w->d->cfg.web_session_s;
    out->admin =
        guest_call == 0 && tspsd_config_is_admin(&w->d->cfg, out->identity);
    sess_key(sid, out->key, sizeof(out->key));
    int n = snprintf(val, sizeof(val), "v2\t%s\t%lld\t%s\t%llu\t%s\t%lld",
                     out->identity, (long long)out->expires, out->csrf,
                     (unsigned long long)guest_call, out->guest_name,
                     (long long)out->created);
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

/* Split a stored session value into at most 7 tab-separated fields. */
static int split_fields(char *val, char *f[7])
{
    int nf = 0;
    for (char *p = val; nf < 7; nf++) {
        f[nf] = p;
        p = strchr(p, '\t');
        if (p == NULL)
            return nf + 1;
        *p++ = '\0';
    }
    return nf;
}

/* Read the session under key into out; say whether it may still be used.
 * Reads only (any thread), except for the loop's touch cache. */
static int session_load(tspsd_web *w, const char *key, web_session *out)
{
    char val[400], seen[128], sv[32], *f[7];
    size_t vl = 0, sl = 0;
    int64_t now = now_s();
    int nf, idle = w->d->cfg.web_session_idle_s;

    memset(out, 0, sizeof(*out));
    snprintf(out->key, sizeof(out->key), "%s", key);
    if (tsps_kv_get(w->d->eng, key, val, sizeof(val) - 1, &vl) != TSPS_OK)
        return SESS_GONE;
    val[vl] = '\0';
    nf = split_fields(val, f);
    if (!((nf == 6 && strcmp(f[0], "v1") == 0) ||
          (nf == 7 && strcmp(f[0], "v2") == 0)))
        return SESS_GONE;
    snprintf(out->identity, sizeof(out->identity), "%s", f[1]);
    out->expires = strtoll(f[2], NULL, 10);
    snprintf(out->csrf, sizeof(out->csrf), "%s", f[3]);
    out->guest_call = strtoull(f[4], NULL, 10);
    snprintf(out->guest_name, sizeof(out->guest_name), "%s", f[5]);
    /* v1 sessions (before idle timeouts) count from their login time. */
    out->created = nf == 7 ? strtoll(f[6], NULL, 10)
                           : out->expires - w->d->cfg.web_session_s;
    out->last_used = out->created;
    seen_key(key, seen, sizeof(seen));
    if (tsps_kv_get(w->d->eng, seen, sv, sizeof(sv) - 1, &sl) == TSPS_OK) {
        sv[sl] = '\0';
        int64_t t = strtoll(sv, NULL, 10);
        if (t > out->last_used)
            out->last_used = t;
    }
    size_t slot = touch_slot(key_hash(key));
    if (strcmp(w->touched[slot].hash, key_hash(key)) == 0 &&
        w->touched[slot].at > out->last_used)
        out->last_used = w->touched[slot].at;
    out->admin = out->guest_call == 0 &&
                 tspsd_config_is_admin(&w->d->cfg, out->identity);
    if (out->expires <= now)
        return SESS_EXPIRED;
    /* A page waiting on its event stream is in use (its last use is
     * written by the stream's heartbeat). */
    if (idle > 0 && now - out->last_used >= idle &&
        !web_sse_has_session(w, key))
        return SESS_IDLE;
    return SESS_OK;
}

static void session_delete(tspsd_web *w, const char *key)
{
    char seen[128];
    seen_key(key, seen, sizeof(seen));
    tsps_kv_put(w->d->eng, key, NULL, 0);
    tsps_kv_put(w->d->eng, seen, NULL, 0);
}

/* A session that ran out: delete it (a rare small write on the loop, like
 * a logout) and say why, without its id. */
static void session_end(tspsd_web *w, const web_session *s, int state)
{
    session_delete(w, s->key);
    tspsd_log(TSPSD_LOG_INFO, 0, s->guest_call ? NULL : s->identity,
              "web session ended", "reason=%s guest=%d",
              state == SESS_IDLE ? "idle" : "lifetime", s->guest_call != 0);
}

static void touch_run(web_job *j)
{
    char v[32];
    int n = snprintf(v, sizeof(v), "%lld", (long long)j->id);
    tsps_kv_put(j->w->d->eng, j->key, v, (size_t)n);
}

/* Record a use: in the loop's cache at once, in the store (web worker) at
 * most once per web_touch_interval() per session. */
static void touch(tspsd_web *w, web_session *s)
{
    int64_t now = now_s();
    const char *h = key_hash(s->key);
    size_t slot = touch_slot(h);
    web_job *j;

    /* last_used already counts what this loop queued (the cache). */
    if (now - s->last_used < web_touch_interval(&w->d->cfg))
        return;
    snprintf(w->touched[slot].hash, sizeof(w->touched[slot].hash), "%s", h);
    w->touched[slot].at = now;
    s->last_used = now;
    j = web_job_new(w, NULL, touch_run);
    if (j == NULL)
        return;
    j->id = (uint64_t)now;
    seen_key(s->key, j->key, sizeof(j->key));
    web_job_submit(j);
}

int web_session_get(tspsd_web *w, struct evhttp_request *req, web_session *out)
{
    char sid[80], key[96];
    int st;

    memset(out, 0, sizeof(*out));
    if (web_cookie(req, WEB_COOKIE, sid, sizeof(sid)) == NULL ||
        strlen(sid) != 64)
        return -1;
    sess_key(sid, key, sizeof(key));
    st = session_load(w, key, out);
    if (st == SESS_GONE)
        return -1;
    if (st != SESS_OK) {
        session_end(w, out, st);
        return -1;
    }
    touch(w, out);
    return 0;
}

int web_session_recheck(tspsd_web *w, const char *key, web_session *out)
{
    int st = session_load(w, key, out);
    if (st == SESS_GONE)
        return -1;
    if (st == SESS_EXPIRED) {
        session_end(w, out, st);
        return -1;
    }
    touch(w, out); /* SESS_IDLE cannot be: the stream is open */
    return 0;
}

void web_session_destroy(tspsd_web *w, const web_session *s)
{
    session_delete(w, s->key);
}

int web_csrf_ok(struct evhttp_request *req, const web_session *s)
{
    const char *t =
        evhttp_find_header(evhttp_request_get_input_headers(req), WEB_CSRF_HDR);
    return t != NULL && strlen(t) == 64 && strlen(s->csrf) == 64 &&
           CRYPTO_memcmp(t, s->csrf, 64) == 0;
}

/* ---- revocation: every session and login link of one identity ---- */

typedef struct key_list {
    char (*keys)[128];
    size_t n, cap;
    const char *identity; /* keep only values of this identity */
    int sessions;         /* values are sessions ("vN\tID..."), not links */
    int nomem;
} key_list;

static int key_push(key_list *kl, const char *key)
{
    if (kl->n == kl->cap) {
        size_t cap = kl->cap ? kl->cap * 2 : 32;
        char(*nk)[128] = realloc(kl->keys, cap * sizeof(*nk));
        if (nk == NULL) {
            kl->nomem = 1;
            return 1;
        }
        kl->keys = nk;
        kl->cap = cap;
    }
    snprintf(kl->keys[kl->n++], sizeof(kl->keys[0]), "%s", key);
    return 0;
}

/* The identity field of a stored value: sessions "vN\tID\t...", login
 * links "ID\tEXP". */
static int value_is(const key_list *kl, const void *val, size_t len)
{
    const char *v = val, *end = v + len, *id = v;
    size_t il = strlen(kl->identity);
    if (kl->sessions) {
        id = memchr(v, '\t', len);
        if (id == NULL)
            return 0;
        id++;
    }
    return (size_t)(end - id) > il && memcmp(id, kl->identity, il) == 0 &&
           id[il] == '\t';
}

static int collect_cb(void *arg, const char *key, const void *val, size_t len)
{
    key_list *kl = arg;
    if (kl->identity != NULL && !value_is(kl, val, len))
        return 0;
    return key_push(kl, key);
}

int tspsd_web_revoke(tspsd *d, const char *identity, size_t *sessions)
{
    key_list kl = {NULL, 0, 0, identity, 1, 0};
    char seen[128];
    int rc;

    *sessions = 0;
    if (!tspsd_identity_valid(identity))
        return TSPS_EINVAL;
    /* Collect first: no writes inside the listing's read transaction. */
    rc = tsps_kv_list(d->eng, SESS_PREFIX, collect_cb, &kl);
    for (size_t i = 0; rc == TSPS_OK && i < kl.n; i++) {
        seen_key(kl.keys[i], seen, sizeof(seen));
        rc = tsps_kv_put(d->eng, kl.keys[i], NULL, 0);
        if (rc == TSPS_OK)
            (*sessions)++;
        if (rc == TSPS_ENOTFOUND) /* logged out or expired meanwhile */
            rc = TSPS_OK;
        if (rc == TSPS_OK)
            tsps_kv_put(d->eng, seen, NULL, 0);
    }
    /* An unused login link would open a new session. */
    kl.n = 0;
    kl.sessions = 0;
    if (rc == TSPS_OK)
        rc = tsps_kv_list(d->eng, LINK_PREFIX, collect_cb, &kl);
    for (size_t i = 0; rc == TSPS_OK && i < kl.n; i++) {
        rc = tsps_kv_put(d->eng, kl.keys[i], NULL, 0);
        if (rc == TSPS_ENOTFOUND)
            rc = TSPS_OK;
    }
    if (rc == TSPS_OK && kl.nomem)
        rc = TSPS_ENOMEM;
    free(kl.keys);
    return rc;
}

/* ---- housekeeping: expired sessions, links and chat invitations ---- */

/* Expiry of a stored link or invitation: "x\tEXP". */
static int64_t value_expiry(const char *v, size_t len)
{
    char buf[400];
    const char *p;
    if (len >= sizeof(buf))
        return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    p = strchr(buf, '\t');
    return p != NULL ? strtoll(p + 1, NULL, 10) : 0;
}

typedef struct purge_ctx {
    int64_t now;
    key_list kl;
} purge_ctx;

static int purge_cb(void *arg, const char *key, const void *val, size_t len)
{
    purge_ctx *pc = arg;
    if (value_expiry(val, len) > pc->now)
        return 0;
    return key_push(&pc->kl, key);
}

void web_purge_expired(tspsd_web *w)
{
    static const char *const prefixes[] = {LINK_PREFIX, TSPSD_KEY_CHATINV};
    purge_ctx pc = {now_s(), {NULL, 0, 0, NULL, 0, 0}};
    web_session s;
    char key[128];

    for (size_t i = 0; i < 2; i++) {
        pc.kl.n = 0;
        /* Collect first: no writes inside the listing's read txn. */
        tsps_kv_list(w->d->eng, prefixes[i], purge_cb, &pc);
        for (size_t k = 0; k < pc.kl.n; k++)
            tsps_kv_put(w->d->eng, pc.kl.keys[k], NULL, 0);
    }
    /* Sessions past their lifetime or idle, by the same rules as a
     * request (their last use lives in another key). */
    pc.kl.n = 0;
    tsps_kv_list(w->d->eng, SESS_PREFIX, collect_cb, &pc.kl);
    for (size_t k = 0; k < pc.kl.n; k++) {
        int st = session_load(w, pc.kl.keys[k], &s);
        if (st == SESS_GONE || st == SESS_EXPIRED || st == SESS_IDLE)
            session_delete(w, pc.kl.keys[k]);
    }
    /* Last-use records whose session is gone. */
    pc.kl.n = 0;
    tsps_kv_list(w->d->eng, SEEN_PREFIX, collect_cb, &pc.kl);
    for (size_t k = 0; k < pc.kl.n; k++) {
        char v[8];
        size_t vl = 0;
        snprintf(key, sizeof(key), SESS_PREFIX "%s",
                 pc.kl.keys[k] + strlen(SEEN_PREFIX));
        if (tsps_kv_get(w->d->eng, key, v, sizeof(v), &vl) == TSPS_ENOTFOUND)
            tsps_kv_put(w->d->eng, pc.kl.keys[k], NULL, 0);
    }
    free(pc.kl.keys);
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

static void login_done(web_job *j)
{
    web_login_end(j->w, j->user, j->addr,
                  j->status == 200   ? 1
                  : j->status == 401 ? 0
                                     : -1);
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
                  "audit=1 user=%s addr=%s",
                  tspsd_log_quote(j->user, q, sizeof(q)), j->addr);
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
    char pre[80], addr[64];
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
    web_peer_addr(req, addr, sizeof(addr));
    if (user == NULL || pw == NULL || !tspsd_identity_valid(user) ||
        strlen(pw) > PW_MAX) {
        /* A name that cannot exist still counts against the address. */
        json_decref(b);
        if (web_login_begin(w, NULL, addr) != 0) {
            web_send_error(req, 429, "too many failed logins: try again later");
            return;
        }
        web_login_end(w, NULL, addr, 0);
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "web login failed",
                  "audit=1 user=(invalid) addr=%s", addr);
        web_send_error(req, 401, "wrong user or password");
        return;
    }
    if (web_login_begin(w, user, addr) != 0) {
        json_decref(b);
        web_send_error(req, 429, "too many failed logins: try again later");
        return;
    }
    j = web_job_new(w, req, login_run);
    if (j == NULL) {
        web_login_end(w, user, addr, -1);
        json_decref(b);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->done = login_done;
    snprintf(j->addr, sizeof(j->addr), "%s", addr);
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->secret, sizeof(j->secret), "%s", pw);
    json_decref(b);
    web_job_submit(j);
}

void web_h_logout(tspsd_web *w, struct evhttp_request *req)
{
    web_session s;
    /* A GET must not end a session: an image tag on any page could log the
     * user out. POST carries the session's CSRF token (checked before). */
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "POST");
        web_send_error(req, 405, "POST only");
        return;
    }
    if (web_session_get(w, req, &s) == 0) {
        web_session_destroy(w, &s);
        web_sse_close_session(w, s.key);
    }
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

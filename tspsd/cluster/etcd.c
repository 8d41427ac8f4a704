/*
 * etcd.c - etcd v3 over its JSON gateway (etcd.h): libcurl carries the
 * requests, jansson reads the answers, OpenSSL's base64 codes keys and
 * values. Nothing here trusts etcd's JSON: every field is checked for its
 * type and every length for its bounds.
 */
#include "etcd.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_MAX_ENDPOINTS 8
#define ETCD_IDLE_HANDLES  2           /* publisher and watcher ranges */
#define ETCD_MAX_ANSWER    (64u << 20) /* a unary answer larger: EPROTO */
#define ETCD_MAX_LINE      (16u << 20) /* one watch message larger: EPROTO */

struct tspsd_etcd {
    char *urls[ETCD_MAX_ENDPOINTS];
    int nurls;
    atomic_int cur; /* the endpoint that answered last */
    long timeout_ms;
    /* Idle curl handles for requests: each keeps its connections open, so
     * a burst of puts is one TCP connection, not one each. */
    pthread_mutex_t hmu;
    CURL *idle[ETCD_IDLE_HANDLES];
    int nidle;
};

const char *tspsd_etcd_strerror(int rc)
{
    switch (rc) {
    case TSPSD_ETCD_OK:
        return "ok";
    case TSPSD_ETCD_EINVAL:
        return "invalid argument";
    case TSPSD_ETCD_ENOMEM:
        return "out of memory";
    case TSPSD_ETCD_EUNREACHABLE:
        return "etcd unreachable";
    case TSPSD_ETCD_EPROTO:
        return "unexpected answer from etcd";
    case TSPSD_ETCD_ESERVER:
        return "etcd refused the request";
    case TSPSD_ETCD_ECOMPACTED:
        return "revision compacted";
    case TSPSD_ETCD_ESTOPPED:
        return "stopped";
    default:
        return "unknown error";
    }
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tspsd_etcd_new(const char *url, long timeout_ms, tspsd_etcd **out)
{
    *out = NULL;
    if (url == NULL || url[0] == '\0' || strlen(url) > 4096)
        return TSPSD_ETCD_EINVAL;
    tspsd_etcd *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return TSPSD_ETCD_ENOMEM;
    e->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    pthread_mutex_init(&e->hmu, NULL);
    const char *p = url;
    while (*p != '\0') {
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            if (e->nurls == ETCD_MAX_ENDPOINTS ||
                (strncmp(p, "http://", 7) != 0 &&
                 strncmp(p, "https://", 8) != 0)) {
                tspsd_etcd_free(e);
                return TSPSD_ETCD_EINVAL;
            }
            e->urls[e->nurls] = strndup(p, n);
            if (e->urls[e->nurls] == NULL) {
                tspsd_etcd_free(e);
                return TSPSD_ETCD_ENOMEM;
            }
            /* no trailing slash: paths are appended */
            size_t l = strlen(e->urls[e->nurls]);
            while (l > 0 && e->urls[e->nurls][l - 1] == '/')
                e->urls[e->nurls][--l] = '\0';
            e->nurls++;
        }
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (e->nurls == 0) {
        tspsd_etcd_free(e);
        return TSPSD_ETCD_EINVAL;
    }
    *out = e;
    return TSPSD_ETCD_OK;
}

void tspsd_etcd_free(tspsd_etcd *e)
{
    if (e == NULL)
        return;
    for (int i = 0; i < e->nurls; i++)
        free(e->urls[i]);
    for (int i = 0; i < e->nidle; i++)
        curl_easy_cleanup(e->idle[i]);
    pthread_mutex_destroy(&e->hmu);
    free(e);
}

/* A request handle: an idle one (its connections still open), or new. */
static CURL *handle_take(tspsd_etcd *e)
{
    CURL *h = NULL;
    pthread_mutex_lock(&e->hmu);
    if (e->nidle > 0)
        h = e->idle[--e->nidle];
    pthread_mutex_unlock(&e->hmu);
    if (h != NULL) {
        curl_easy_reset(h); /* options only: the connection cache stays */
        return h;
    }
    return curl_easy_init();
}

static void handle_give(tspsd_etcd *e, CURL *h)
{
    pthread_mutex_lock(&e->hmu);
    if (e->nidle < ETCD_IDLE_HANDLES) {
        e->idle[e->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&e->hmu);
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* ---- base64 ---- */

static char *b64_enc(const void *p, size_t n)
{
    if (n > (1u << 28))
        return NULL;
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (o == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)o, p, (int)n);
    return o;
}

/* Decode into a fresh buffer (NUL-terminated for keys); -1 on bad input. */
static int b64_dec(const char *s, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (n % 4 != 0 || n > (1u << 28))
        return -1;
    char *o = malloc(n / 4 * 3 + 1);
    if (o == NULL)
        return -1;
    if (n == 0) {
        o[0] = '\0';
        *out = o;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                 (c == '=' && i >= n - 2);
        if (!ok || (c != '=' && i > 0 && s[i - 1] == '=')) {
            free(o);
            return -1;
        }
    }
    int r =
        EVP_DecodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(o);
        return -1;
    }
    size_t pad = (s[n - 1] == '=') + (s[n - 2] == '=');
    *outlen = (size_t)r - pad;
    o[*outlen] = '\0';
    *out = o;
    return 0;
}

/* The end of a prefix range: the prefix with its last byte + 1. */
static char *range_end(const char *prefix, size_t *n)
{
    size_t l = strlen(prefix);
    char *o = malloc(l + 1);
    if (o == NULL)
        return NULL;
    memcpy(o, prefix, l + 1);
    while (l > 0) {
        unsigned char c = (unsigned char)o[l - 1];
        if (c < 0xff) {
            o[l - 1] = (char)(c + 1);
            break;
        }
        l--; /* 0xff: drop it and carry */
    }
    o[l] = '\0';
    *n = l;
    return o;
}

/* An int64 field that etcd writes as a decimal string (or a number). */
static int64_t jint(json_t *o, const char *name)
{
    json_t *v = json_is_object(o) ? json_object_get(o, name) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (s[0] < '0' || s[0] > '9')
            return 0;
        long long x = strtoll(s, &end, 10);
        return *end == '\0' && x >= 0 ? (int64_t)x : 0;
    }
    return 0;
}

/* ---- HTTP ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
    size_t max;
} buf;

static int buf_add(buf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->max)
        return -1;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static size_t collect(char *p, size_t sz, size_t nm, void *arg)
{
    return buf_add(arg, p, sz * nm) == 0 ? sz * nm : 0;
}

/* POST body to path; on success *doc = the parsed answer (HTTP 200). */
static int post(tspsd_etcd *e, const char *path, const char *body, json_t **doc,
                char *err, size_t errlen)
{
    int rc = TSPSD_ETCD_EUNREACHABLE;
    *doc = NULL;
    for (int t = 0; t < e->nurls; t++) {
        int i = (atomic_load(&e->cur) + t) % e->nurls;
        char url[4200];
        buf b = {NULL, 0, 0, ETCD_MAX_ANSWER};
        long code = 0;
        snprintf(url, sizeof(url), "%s%s", e->urls[i], path);
        CURL *h = handle_take(e);
        if (h == NULL)
            return TSPSD_ETCD_ENOMEM;
        struct curl_slist *hd =
            curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(hd);
        if (cc != CURLE_OK) {
            /* its connection may be half dead: not kept */
            curl_easy_cleanup(h);
            seterr(err, errlen, "%s: %s", e->urls[i], curl_easy_strerror(cc));
            free(b.p);
            rc = TSPSD_ETCD_EUNREACHABLE;
            continue; /* the next endpoint */
        }
        handle_give(e, h);
        atomic_store(&e->cur, i);
        json_error_t je;
        json_t *d = b.p != NULL ? json_loadb(b.p, b.n, 0, &je) : NULL;
        if (code != 200) {
            json_t *m = json_object_get(d, "message");
            if (!json_is_string(m))
                m = json_object_get(d, "error");
            seterr(err, errlen, "%s: HTTP %ld: %.120s", e->urls[i], code,
                   json_is_string(m) ? json_string_value(m) : "no message");
            json_decref(d);
            free(b.p);
            /* 5xx: no leader, shutting down, overloaded: try again later */
            return code >= 500 ? TSPSD_ETCD_EUNREACHABLE : TSPSD_ETCD_ESERVER;
        }
        free(b.p);
        if (!json_is_object(d)) {
            seterr(err, errlen, "%s: answer is not a JSON object", e->urls[i]);
            json_decref(d);
            return TSPSD_ETCD_EPROTO;
        }
        *doc = d;
        return TSPSD_ETCD_OK;
    }
    return rc;
}

static char *body_of(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

int tspsd_etcd_put(tspsd_etcd *e, const char *key, const void *val, size_t len,
                   int64_t *rev, char *err, size_t errlen)
{
    return tspsd_etcd_put_lease(e, key, val, len, 0, rev, err, errlen);
}

int tspsd_etcd_put_lease(tspsd_etcd *e, const char *key, const void *val,
                         size_t len, int64_t lease, int64_t *rev, char *err,
                         size_t errlen)
{
    json_t *doc = NULL;
    if (rev != NULL)
        *rev = 0;
    if (e == NULL || key == NULL || key[0] == '\0' || (val == NULL && len > 0))
        return TSPSD_ETCD_EINVAL;
    char *k = b64_enc(key, strlen(key)), *v = b64_enc(val ? val : "", len);
    char *body = NULL;
    int rc = TSPSD_ETCD_ENOMEM;
    if (k == NULL || v == NULL)
        goto cleanup;
    char ls[24];
    snprintf(ls, sizeof(ls), "%" PRId64, lease);
    body = body_of(lease > 0 ? json_pack("{s:s,s:s,s:s}", "key", k, "value", v,
                                         "lease", ls)
                             : json_pack("{s:s,s:s}", "key", k, "value", v));
    if (body == NULL)
        goto cleanup;
    rc = post(e, "/v3/kv/put", body, &doc, err, errlen);
    if (rc == TSPSD_ETCD_OK && rev != NULL)
        *rev = jint(json_object_get(doc, "header"), "revision");
cleanup:
    json_decref(doc);
    free(body);
    free(k);
    free(v);
    return rc;
}

/* A lease request: POST body (consumed) to path, *ttl = the TTL etcd
 * answered (0: the lease is gone), *id = the lease ID (may be NULL). */
static int lease_call(tspsd_etcd *e, const char *path, json_t *o, int64_t *id,
                      int64_t *ttl, char *err, size_t errlen)
{
    json_t *doc = NULL;
    char *body = body_of(o);
    *ttl = 0;
    if (body == NULL)
        return TSPSD_ETCD_ENOMEM;
    int rc = post(e, path, body, &doc, err, errlen);
    free(body);
    if (rc != TSPSD_ETCD_OK)
        return rc;
    /* keepalive is a stream: its one answer comes as {"result":{...}} */
    json_t *r = json_object_get(doc, "result");
    if (!json_is_object(r))
        r = doc;
    *ttl = jint(r, "TTL");
    if (id != NULL)
        *id = jint(r, "ID");
    json_decref(doc);
    return TSPSD_ETCD_OK;
}

int tspsd_etcd_lease_grant(tspsd_etcd *e, int ttl_s, int64_t *id, char *err,
                           size_t errlen)
{
    int64_t ttl = 0;
    *id = 0;
    if (e == NULL || ttl_s <= 0)
        return TSPSD_ETCD_EINVAL;
    int rc = lease_call(e, "/v3/lease/grant", json_pack("{s:i}", "TTL", ttl_s),
                        id, &ttl, err, errlen);
    if (rc == TSPSD_ETCD_OK && (*id <= 0 || ttl <= 0)) {
        seterr(err, errlen, "lease grant: no ID or TTL in the answer");
        *id = 0;
        return TSPSD_ETCD_EPROTO;
    }
    return rc;
}

int tspsd_etcd_lease_keepalive(tspsd_etcd *e, int64_t id, int64_t *ttl,
                               char *err, size_t errlen)
{
    char ids[24];
    *ttl = 0;
    if (e == NULL || id <= 0)
        return TSPSD_ETCD_EINVAL;
    snprintf(ids, sizeof(ids), "%" PRId64, id);
    return lease_call(e, "/v3/lease/keepalive", json_pack("{s:s}", "ID", ids),
                      NULL, ttl, err, errlen);
}

int tspsd_etcd_delete(tspsd_etcd *e, const char *key, int prefix, int64_t *rev,
                      char *err, size_t errlen)
{
    json_t *doc = NULL, *o = NULL;
    char *k = NULL, *re = NULL, *reb = NULL, *body = NULL;
    size_t ren = 0;
    int rc = TSPSD_ETCD_ENOMEM;
    if (rev != NULL)
        *rev = 0;
    if (e == NULL || key == NULL || key[0] == '\0')
        return TSPSD_ETCD_EINVAL;
    k = b64_enc(key, strlen(key));
    if (k == NULL)
        goto cleanup;
    o = json_pack("{s:s}", "key", k);
    if (o == NULL)
        goto cleanup;
    if (prefix) {
        re = range_end(key, &ren);
        reb = re != NULL ? b64_enc(re, ren) : NULL;
        if (reb == NULL ||
            json_object_set_new(o, "range_end", json_string(reb)) != 0)
            goto cleanup;
    }
    body = body_of(o);
    o = NULL;
    if (body == NULL)
        goto cleanup;
    rc = post(e, "/v3/kv/deleterange", body, &doc, err, errlen);
    if (rc == TSPSD_ETCD_OK && rev != NULL)
        *rev = jint(json_object_get(doc, "header"), "revision");
cleanup:
    json_decref(o);
    json_decref(doc);
    free(body);
    free(k);
    free(re);
    free(reb);
    return rc;
}

/* One kv object of a range or an event: decode and call back. */
/* A request_delete_range of a txn: `key`, or every key under it when it
 * ends in '/'. NULL on no memory. */
static json_t *txn_delete(const char *key)
{
    size_t kl = strlen(key), ren = 0;
    char *k = b64_enc(key, kl), *re = NULL, *reb = NULL;
    json_t *o = k != NULL ? json_pack("{s:s}", "key", k) : NULL;
    if (o != NULL && kl > 0 && key[kl - 1] == '/') {
        re = range_end(key, &ren);
        reb = re != NULL ? b64_enc(re, ren) : NULL;
        if (reb == NULL ||
            json_object_set_new(o, "range_end", json_string(reb)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    free(k);
    free(re);
    free(reb);
    return o != NULL ? json_pack("{s:o}", "request_delete_range", o) : NULL;
}

int tspsd_etcd_cas(tspsd_etcd *e, const char *key, int64_t mod_rev,
                   const void *val, size_t len, const char *const *puts,
                   const char *const *dels, int *won, int64_t *rev, char *err,
                   size_t errlen)
{
    json_t *doc = NULL, *ops = NULL, *o = NULL;
    char *k = NULL, *v = NULL, *body = NULL;
    char mr[24];
    int rc = TSPSD_ETCD_ENOMEM;
    *won = 0;
    if (rev != NULL)
        *rev = 0;
    if (e == NULL || key == NULL || key[0] == '\0' || mod_rev < 0 ||
        (val == NULL && len > 0))
        return TSPSD_ETCD_EINVAL;
    k = b64_enc(key, strlen(key));
    v = b64_enc(val ? val : "", len);
    ops = json_array();
    if (k == NULL || v == NULL || ops == NULL ||
        json_array_append_new(ops, json_pack("{s:{s:s,s:s}}", "request_put",
                                             "key", k, "value", v)) != 0)
        goto cleanup;
    for (size_t i = 0; puts != NULL && puts[i] != NULL; i += 2) {
        char *pk = NULL, *pv = NULL;
        int bad =
            puts[i][0] == '\0' || puts[i + 1] == NULL ||
            (pk = b64_enc(puts[i], strlen(puts[i]))) == NULL ||
            (pv = b64_enc(puts[i + 1], strlen(puts[i + 1]))) == NULL ||
            json_array_append_new(ops, json_pack("{s:{s:s,s:s}}", "request_put",
                                                 "key", pk, "value", pv)) != 0;
        free(pk);
        free(pv);
        if (bad) {
            rc = puts[i][0] == '\0' || puts[i + 1] == NULL ? TSPSD_ETCD_EINVAL
                                                           : TSPSD_ETCD_ENOMEM;
            goto cleanup;
        }
    }
    for (size_t i = 0; dels != NULL && dels[i] != NULL; i++)
        if (dels[i][0] == '\0' ||
            json_array_append_new(ops, txn_delete(dels[i])) != 0)
            goto cleanup;
    /* a key that does not exist has mod_revision 0 */
    snprintf(mr, sizeof(mr), "%" PRId64, mod_rev);
    o = json_pack("{s:[{s:s,s:s,s:s,s:s}],s:O,s:[]}", "compare", "key", k,
                  "result", "EQUAL", "target", "MOD", "mod_revision", mr,
                  "success", ops, "failure");
    body = o != NULL ? body_of(o) : NULL;
    o = NULL;
    if (body == NULL)
        goto cleanup;
    rc = post(e, "/v3/kv/txn", body, &doc, err, errlen);
    if (rc == TSPSD_ETCD_OK) {
        *won = json_is_true(json_object_get(doc, "succeeded"));
        if (rev != NULL)
            *rev = jint(json_object_get(doc, "header"), "revision");
    }
cleanup:
    json_decref(o);
    json_decref(ops);
    json_decref(doc);
    free(body);
    free(k);
    free(v);
    return rc;
}

static int one_kv(json_t *kv, int type, tspsd_etcd_event_cb cb, void *arg)
{
    json_t *jk = json_object_get(kv, "key"), *jv = json_object_get(kv, "value");
    char *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    int rc = TSPSD_ETCD_EPROTO;
    if (!json_is_object(kv) || !json_is_string(jk) ||
        (jv != NULL && !json_is_string(jv)))
        return TSPSD_ETCD_EPROTO;
    if (b64_dec(json_string_value(jk), json_string_length(jk), &k, &kl) != 0)
        goto cleanup;
    if (kl == 0 || memchr(k, '\0', kl) != NULL)
        goto cleanup; /* keys are text here */
    if (type == TSPSD_ETCD_PUT &&
        b64_dec(jv ? json_string_value(jv) : "",
                jv ? json_string_length(jv) : 0, &v, &vl) != 0)
        goto cleanup;
    rc = cb(arg, type, k, kl, type == TSPSD_ETCD_PUT ? v : NULL, vl,
            jint(kv, "mod_revision")) != 0
             ? TSPSD_ETCD_ESTOPPED
             : TSPSD_ETCD_OK;
cleanup:
    free(k);
    free(v);
    return rc;
}

/* The key just after `k` (klen bytes): k + "\0". */
static char *key_after(const char *k, size_t klen, size_t *n)
{
    char *o = malloc(klen + 1);
    if (o == NULL)
        return NULL;
    memcpy(o, k, klen);
    o[klen] = '\0';
    *n = klen + 1;
    return o;
}

typedef struct page_ctx {
    tspsd_etcd_event_cb cb;
    void *arg;
    char *last; /* last key seen */
    size_t lastlen;
    int oom;
} page_ctx;

static int page_kv(void *arg, int type, const char *key, size_t klen,
                   const void *val, size_t vlen, int64_t mod_rev)
{
    page_ctx *p = arg;
    char *k = malloc(klen);
    if (k == NULL) {
        p->oom = 1;
        return 1;
    }
    memcpy(k, key, klen);
    free(p->last);
    p->last = k;
    p->lastlen = klen;
    return p->cb(p->arg, type, key, klen, val, vlen, mod_rev);
}

int tspsd_etcd_range(tspsd_etcd *e, const char *prefix, int64_t at_rev,
                     tspsd_etcd_event_cb cb, void *arg, int64_t *rev, char *err,
                     size_t errlen)
{
    json_t *doc = NULL;
    char *from = NULL, *fromb = NULL, *re = NULL, *reb = NULL, *body = NULL;
    size_t ren = 0, fromn = 0;
    int rc = TSPSD_ETCD_ENOMEM;
    page_ctx pc = {cb, arg, NULL, 0, 0};
    int64_t pinned = at_rev > 0 ? at_rev : 0;

    if (rev != NULL)
        *rev = 0;
    if (e == NULL || prefix == NULL || prefix[0] == '\0' || cb == NULL ||
        at_rev < 0)
        return TSPSD_ETCD_EINVAL;
    re = range_end(prefix, &ren);
    reb = re != NULL ? b64_enc(re, ren) : NULL;
    from = strdup(prefix);
    fromn = strlen(prefix);
    if (reb == NULL || from == NULL)
        goto cleanup;
    for (;;) {
        char srev[32];
        snprintf(srev, sizeof(srev), "%" PRId64, pinned);
        free(fromb);
        fromb = b64_enc(from, fromn);
        if (fromb == NULL)
            goto cleanup;
        free(body);
        body =
            body_of(json_pack("{s:s,s:s,s:i,s:s}", "key", fromb, "range_end",
                              reb, "limit", TSPSD_ETCD_PAGE, "revision", srev));
        if (body == NULL)
            goto cleanup;
        json_decref(doc);
        doc = NULL;
        rc = post(e, "/v3/kv/range", body, &doc, err, errlen);
        if (rc != TSPSD_ETCD_OK)
            goto cleanup;
        if (pinned == 0)
            pinned = jint(json_object_get(doc, "header"), "revision");
        json_t *kvs = json_object_get(doc, "kvs");
        if (kvs != NULL && !json_is_array(kvs)) {
            seterr(err, errlen, "range: kvs is not an array");
            rc = TSPSD_ETCD_EPROTO;
            goto cleanup;
        }
        for (size_t i = 0; kvs != NULL && i < json_array_size(kvs); i++) {
            rc = one_kv(json_array_get(kvs, i), TSPSD_ETCD_PUT, page_kv, &pc);
            if (pc.oom)
                rc = TSPSD_ETCD_ENOMEM;
            if (rc != TSPSD_ETCD_OK) {
                if (rc == TSPSD_ETCD_EPROTO)
                    seterr(err, errlen, "range: damaged key-value %zu", i);
                goto cleanup;
            }
        }
        if (!json_is_true(json_object_get(doc, "more")) || pc.last == NULL ||
            json_array_size(kvs) == 0)
            break;
        free(from);
        from = key_after(pc.last, pc.lastlen, &fromn);
        if (from == NULL)
            goto cleanup;
    }
    if (rev != NULL)
        *rev = pinned;
    rc = TSPSD_ETCD_OK;
cleanup:
    json_decref(doc);
    free(body);
    free(from);
    free(fromb);
    free(re);
    free(reb);
    free(pc.last);
    return rc;
}

/* ---- watch ---- */

int tspsd_etcd_watch_parse(const char *json, size_t len, tspsd_etcd_event_cb cb,
                           void *arg, tspsd_etcd_watch_msg *msg)
{
    json_error_t je;
    int rc = TSPSD_ETCD_OK;
    memset(msg, 0, sizeof(*msg));
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        snprintf(msg->error, sizeof(msg->error), "not a JSON object: %s",
                 doc == NULL ? je.text : "other value");
        json_decref(doc);
        return TSPSD_ETCD_EPROTO;
    }
    json_t *er = json_object_get(doc, "error");
    if (er != NULL) {
        json_t *m = json_object_get(er, "message");
        snprintf(msg->error, sizeof(msg->error), "%s",
                 json_is_string(m) ? json_string_value(m) : "error");
        json_decref(doc);
        return TSPSD_ETCD_ESERVER;
    }
    json_t *r = json_object_get(doc, "result");
    if (!json_is_object(r)) {
        snprintf(msg->error, sizeof(msg->error), "no result object");
        json_decref(doc);
        return TSPSD_ETCD_EPROTO;
    }
    msg->header_rev = jint(json_object_get(r, "header"), "revision");
    msg->created = json_is_true(json_object_get(r, "created"));
    msg->canceled = json_is_true(json_object_get(r, "canceled"));
    msg->compact_rev = jint(r, "compact_revision");
    if (msg->canceled) {
        json_t *why = json_object_get(r, "cancel_reason");
        snprintf(msg->error, sizeof(msg->error), "%s",
                 json_is_string(why) ? json_string_value(why)
                                     : "watch cancelled");
    }
    if (msg->compact_rev > 0) {
        json_decref(doc);
        return TSPSD_ETCD_ECOMPACTED;
    }
    json_t *evs = json_object_get(r, "events");
    if (evs != NULL && !json_is_array(evs)) {
        snprintf(msg->error, sizeof(msg->error), "events is not an array");
        json_decref(doc);
        return TSPSD_ETCD_EPROTO;
    }
    for (size_t i = 0; evs != NULL && i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        json_t *t = json_object_get(ev, "type");
        int type;
        if (!json_is_object(ev)) {
            rc = TSPSD_ETCD_EPROTO;
            break;
        }
        /* PUT is the enum's zero: the gateway leaves it out */
        if (t == NULL ||
            (json_is_string(t) && strcmp(json_string_value(t), "PUT") == 0))
            type = TSPSD_ETCD_PUT;
        else if (json_is_string(t) &&
                 strcmp(json_string_value(t), "DELETE") == 0)
            type = TSPSD_ETCD_DELETE;
        else {
            rc = TSPSD_ETCD_EPROTO;
            break;
        }
        rc = one_kv(json_object_get(ev, "kv"), type, cb, arg);
        if (rc != TSPSD_ETCD_OK)
            break;
        msg->nevents++;
    }
    if (rc == TSPSD_ETCD_EPROTO && msg->error[0] == '\0')
        snprintf(msg->error, sizeof(msg->error), "damaged event %zu",
                 msg->nevents);
    if (rc == TSPSD_ETCD_OK && msg->canceled)
        rc = TSPSD_ETCD_ESERVER;
    json_decref(doc);
    return rc;
}

typedef struct watch_ctx {
    buf line;
    tspsd_etcd_event_cb cb;
    void *arg;
    atomic_int *stop;
    int64_t last_rev;
    int rc; /* first failure of a message, else OK */
    char *err;
    size_t errlen;
} watch_ctx;

typedef struct rev_track {
    tspsd_etcd_event_cb cb;
    void *arg;
    int64_t *last;
} rev_track;

static int track(void *arg, int type, const char *key, size_t klen,
                 const void *val, size_t vlen, int64_t mod_rev)
{
    rev_track *t = arg;
    int r = t->cb(t->arg, type, key, klen, val, vlen, mod_rev);
    if (r == 0 && mod_rev > *t->last)
        *t->last = mod_rev;
    return r;
}

static int watch_message(watch_ctx *w, const char *p, size_t n)
{
    tspsd_etcd_watch_msg msg;
    rev_track t = {w->cb, w->arg, &w->last_rev};
    int rc = tspsd_etcd_watch_parse(p, n, track, &t, &msg);
    if (rc == TSPSD_ETCD_OK && msg.nevents == 0 && msg.header_rev > 0 &&
        !msg.created && msg.header_rev > w->last_rev)
        w->last_rev = msg.header_rev; /* a progress notification */
    if (rc != TSPSD_ETCD_OK) {
        w->rc = rc;
        if (rc == TSPSD_ETCD_ECOMPACTED)
            seterr(w->err, w->errlen, "watch: compacted up to %" PRId64,
                   msg.compact_rev);
        else
            seterr(w->err, w->errlen, "watch: %s", msg.error);
        return -1;
    }
    return 0;
}

static size_t watch_write(char *p, size_t sz, size_t nm, void *arg)
{
    watch_ctx *w = arg;
    size_t n = sz * nm;
    if (buf_add(&w->line, p, n) != 0) {
        w->rc = TSPSD_ETCD_EPROTO;
        seterr(w->err, w->errlen, "watch: message larger than %u bytes",
               ETCD_MAX_LINE);
        return 0;
    }
    /* newline-separated JSON messages */
    char *start = w->line.p, *nl;
    while ((nl = memchr(start, '\n',
                        w->line.n - (size_t)(start - w->line.p))) != NULL) {
        size_t len = (size_t)(nl - start);
        if (len > 0 && watch_message(w, start, len) != 0)
            return 0;
        start = nl + 1;
    }
    size_t rest = w->line.n - (size_t)(start - w->line.p);
    memmove(w->line.p, start, rest);
    w->line.n = rest;
    w->line.p[rest] = '\0';
    return n;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
                          curl_off_t d)
{
    watch_ctx *w = arg;
    (void)a, (void)b, (void)c, (void)d;
    return w->stop != NULL && atomic_load(w->stop) ? 1 : 0;
}

int tspsd_etcd_watch(tspsd_etcd *e, const char *prefix, int64_t start_rev,
                     tspsd_etcd_event_cb cb, void *arg, atomic_int *stop,
                     int64_t *last_rev, char *err, size_t errlen)
{
    char *k = NULL, *re = NULL, *reb = NULL, *body = NULL, srev[32];
    size_t ren = 0;
    int rc = TSPSD_ETCD_ENOMEM;
    watch_ctx w = {{NULL, 0, 0, ETCD_MAX_LINE},
                   cb,
                   arg,
                   stop,
                   0,
                   TSPSD_ETCD_OK,
                   err,
                   errlen};
    if (last_rev != NULL)
        *last_rev = 0;
    if (e == NULL || prefix == NULL || prefix[0] == '\0' || cb == NULL ||
        start_rev < 0)
        return TSPSD_ETCD_EINVAL;
    k = b64_enc(prefix, strlen(prefix));
    re = range_end(prefix, &ren);
    reb = re != NULL ? b64_enc(re, ren) : NULL;
    snprintf(srev, sizeof(srev), "%" PRId64, start_rev);
    if (k == NULL || reb == NULL)
        goto cleanup;
    body = body_of(json_pack("{s:{s:s,s:s,s:s}}", "create_request", "key", k,
                             "range_end", reb, "start_revision", srev));
    if (body == NULL)
        goto cleanup;
    int i = atomic_load(&e->cur) % e->nurls;
    char url[4200];
    snprintf(url, sizeof(url), "%s/v3/watch", e->urls[i]);
    CURL *h = curl_easy_init();
    if (h == NULL)
        goto cleanup;
    struct curl_slist *hd =
        curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (w.rc != TSPSD_ETCD_OK)
        rc = w.rc;
    else if (stop != NULL && atomic_load(stop))
        rc = TSPSD_ETCD_ESTOPPED;
    else if (cc != CURLE_OK) {
        seterr(err, errlen, "%s: %s", e->urls[i], curl_easy_strerror(cc));
        atomic_store(&e->cur, (i + 1) % e->nurls); /* next time: another */
        rc = TSPSD_ETCD_EUNREACHABLE;
    } else if (code != 200) {
        seterr(err, errlen, "%s: watch: HTTP %ld", e->urls[i], code);
        rc = TSPSD_ETCD_ESERVER;
    } else {
        seterr(err, errlen, "%s: watch stream ended", e->urls[i]);
        rc = TSPSD_ETCD_EUNREACHABLE;
    }
cleanup:
    if (last_rev != NULL)
        *last_rev = w.last_rev;
    free(w.line.p);
    free(body);
    free(k);
    free(re);
    free(reb);
    return rc;
}

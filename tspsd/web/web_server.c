/*
 * web_server.c - the HTTPS listener (evhttp over bufferevent_openssl with
 * the daemon's certificate), request routing, static assets, security
 * headers and small helpers shared by the web sources.
 */
#include "web_internal.h"

#include "../handlers.h"

#include "../log.h"
#include "../tls.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";

static void common_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void web_send_fd(struct evhttp_request *req, int fd, const char *type)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct stat sb;

    if (b == NULL || fstat(fd, &sb) != 0 ||
        evbuffer_add_file(b, fd, 0, sb.st_size) != 0) {
        /* evbuffer_add_file owns fd only when it succeeded */
        close(fd);
        if (b != NULL)
            evbuffer_free(b);
        web_send_error(req, 500, "cannot read the file");
        return;
    }
    common_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

void web_send_json(struct evhttp_request *req, int status, json_t *j)
{
    struct evbuffer *b = evbuffer_new();
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    common_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (b != NULL) {
        evbuffer_add_printf(b, "%s\n", s != NULL ? s : "{}");
        evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", b);
        evbuffer_free(b);
    } else {
        evhttp_send_error(req, 500, NULL);
    }
    free(s);
    json_decref(j);
}

void web_send_download(struct evhttp_request *req, struct evbuffer *body,
                       const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char plain[256], enc[768], cd[1100];
    size_t o = 0, e = 0;

    /* filename="..." in ASCII (anything else '_'), and the exact name as
     * filename*=UTF-8''... (RFC 6266): nothing can end the header. */
    for (const unsigned char *p = (const unsigned char *)name;
         *p != '\0' && o + 1 < sizeof(plain); p++)
        plain[o++] =
            (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%')
                ? (char)*p
                : '_';
    plain[o] = '\0';
    for (const unsigned char *p = (const unsigned char *)name;
         *p != '\0' && e + 4 < sizeof(enc); p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
            enc[e++] = (char)*p;
        } else {
            enc[e++] = '%';
            enc[e++] = hex[*p >> 4];
            enc[e++] = hex[*p & 15];
        }
    }
    enc[e] = '\0';
    snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"; filename*=UTF-8''%s",
             plain[0] ? plain : "document", enc);
    common_headers(req);
    evhttp_add_header(h, "Content-Type", "application/octet-stream");
    evhttp_add_header(h, "Content-Disposition", cd);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", body);
}

void web_send_error(struct evhttp_request *req, int status, const char *msg)
{
    web_send_json(req, status, json_pack("{s:s}", "error", msg));
}

json_t *web_body_json(struct evhttp_request *req)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    json_error_t e;

    if (n == 0)
        return json_object();
    if (n > WEB_MAX_BODY)
        return NULL;
    const char *p = (const char *)evbuffer_pullup(b, (ev_ssize_t)n);
    if (p == NULL)
        return NULL;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *web_cookie(struct evhttp_request *req, const char *name, char *buf,
                       size_t len)
{
    const char *h =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    size_t nl = strlen(name);

    if (h == NULL)
        return NULL;
    for (const char *p = h; *p != '\0';) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t seg = end != NULL ? (size_t)(end - p) : strlen(p);
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = seg - nl - 1;
            if (vl >= len)
                return NULL;
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        p += seg;
    }
    return NULL;
}

void web_set_cookie(struct evhttp_request *req, const char *name,
                    const char *value, long max_age)
{
    char c[400];
    snprintf(c, sizeof(c),
             "%s=%s; Path=/; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict",
             name, value, max_age);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

const char *web_query(struct evhttp_request *req, const char *key, char *buf,
                      size_t len)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
    struct evkeyvalq kv;
    const char *v;

    if (q == NULL)
        return NULL;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) != 0) {
        evhttp_clear_headers(&kv);
        return NULL;
    }
    v = evhttp_find_header(&kv, key);
    if (v != NULL && strlen(v) < len)
        snprintf(buf, len, "%s", v);
    else
        v = NULL;
    evhttp_clear_headers(&kv);
    return v != NULL ? buf : NULL;
}

void web_conn_init(tspsd *d, tspsd_asker *c, const web_session *s)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->id = (1ull << 62) | (d->web != NULL ? ++d->web->next_conn_id : 0);
    if (s != NULL && s->guest_call == 0)
        tspsd_asker_set(c, s->identity,
                        tspsd_config_is_admin(&d->cfg, s->identity), 0);
}

void web_peer_addr(struct evhttp_request *req, char *out, size_t len)
{
    struct evhttp_connection *con = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (con != NULL)
        evhttp_connection_get_peer(con, &host, &port);
    snprintf(out, len, "%s", host != NULL ? host : "unknown");
}

int web_random_hex(char *out, size_t bytes)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char b[64];
    if (bytes > sizeof(b) || RAND_bytes(b, (int)bytes) != 1)
        return -1;
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * bytes] = '\0';
    return 0;
}

void web_sha256_hex(const char *in, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int n = 0;
    if (EVP_Digest(in, strlen(in), md, &n, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}

static void serve_asset(struct evhttp_request *req, const char *path)
{
    const web_asset *a =
        web_asset_find(strcmp(path, "/") == 0 ? "/index.html" : path);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b;

    if (a == NULL) {
        web_send_error(req, 404, "not found");
        return;
    }
    b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    common_headers(req);
    evhttp_add_header(h, "Content-Type", a->type);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evbuffer_add(b, a->data, a->len);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static int is_write(enum evhttp_cmd_type m)
{
    return m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT ||
           m == EVHTTP_REQ_DELETE || m == EVHTTP_REQ_PATCH;
}

static void route(struct evhttp_request *req, void *arg)
{
    tspsd_web *w = arg;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    web_session s;

    if (path == NULL || path[0] != '/' || strstr(path, "..") != NULL) {
        web_send_error(req, 400, "bad path");
        return;
    }
    if (strcmp(path, "/login") == 0) {
        web_h_link(w, req);
        return;
    }
    if (strcmp(path, "/chat/join") == 0) {
        web_h_chat_join(w, req);
        return;
    }
    if (strncmp(path, "/api/", 5) != 0) {
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
            web_send_error(req, 405, "method not allowed");
            return;
        }
        serve_asset(req, path);
        return;
    }
    if (strcmp(path, "/api/csrf") == 0) {
        web_h_precsrf(w, req);
        return;
    }
    if (strcmp(path, "/api/login") == 0) {
        web_h_login(w, req);
        return;
    }
    if (web_session_get(w, req, &s) != 0) {
        web_send_error(req, 401, "not logged in");
        return;
    }
    /* Every state-changing request carries the session's CSRF token. */
    if (is_write(m) && !web_csrf_ok(req, &s)) {
        char why[160], q[200];
        snprintf(why, sizeof(why), "%s %s without a valid CSRF token",
                 m == EVHTTP_REQ_POST ? "POST" : "write", path);
        tspsd_log(TSPSD_LOG_WARN, 0, s.identity, "web request refused",
                  "audit=1 reason=%s", tspsd_log_quote(why, q, sizeof(q)));
        web_send_error(req, 403, "missing or wrong CSRF token");
        return;
    }
    if (strcmp(path, "/api/logout") == 0) {
        web_h_logout(w, req);
        return;
    }
    if (strcmp(path, "/api/events") == 0) {
        web_sse_open(w, req, &s);
        return;
    }
    if (strncmp(path, "/api/chat/", 10) == 0) {
        web_chat(w, req, path + 10, &s);
        return;
    }
    if (s.guest_call != 0 && strcmp(path, "/api/me") != 0) {
        web_send_error(req, 403, "chat guests may only chat");
        return;
    }
    web_api(w, req, path + 5, &s);
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    tspsd_web *w = arg;
    SSL *ssl = SSL_new(w->ssl);
    if (ssl == NULL)
        return NULL;
    return bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *make_ctx(const tspsd_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    if (tspsd_tls_server_harden(ctx) != 0 ||
        SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        unsigned long e = ERR_get_error();
        ERR_error_string_n(e, err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
                    &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- the web UI as a listener of the core (callfront.h) ---- */

static void web_l_publish(void *arg, const tspsd_event *ev)
{
    if (ev->vm_user != NULL) {
        web_sse_publish_voicemail(arg, ev);
        return;
    }
    if (ev->related_status != NULL) {
        web_sse_publish_related(arg, ev);
        return;
    }
    tspsd_web_publish(arg, ev->kind, ev->call_id, ev->dec, ev->outcome,
                      ev->src);
}

static size_t web_l_access_end(void *arg, const char *identity)
{
    return tspsd_web_close_streams(arg, identity);
}

static int web_l_forget(tspsd *d, const char *identity, int password, size_t *n)
{
    int rc = tspsd_web_revoke(d, identity, n);
    if (rc == TSPS_OK && password)
        rc = tspsd_web_set_password(d, identity, NULL);
    return rc;
}

static const tspsd_listener_ops web_listener = {"web", "streams", web_l_publish,
                                                web_l_access_end, web_l_forget};

int tspsd_web_attach(tspsd *d)
{
    /* Its control-protocol requests (written to the store: a worker). */
    tspsd_handler_add(d, TSPS__REQUEST__BODY_LOGIN_LINK, "login-link",
                      tspsd_h_login_link, 1, 1);
    tspsd_handler_add(d, TSPS__REQUEST__BODY_WEB_PASSWORD, "web-password",
                      tspsd_h_web_password, 1, 1);
    return tspsd_listener_add(d, &web_listener, d);
}

int tspsd_web_open(tspsd *d)
{
    tspsd_web *w;
    struct evhttp_bound_socket *bs;
    char err[256], path[TSPSD_PATH_MAX + 16];
    FILE *f;

    /* Registered even when off: sessions in the store are still forgotten
     * when an identity is revoked. */
    if (tspsd_web_attach(d) != 0)
        return -1;
    if (d->cfg.web_port < 0)
        return 0;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->d = d;
    d->web = w;
    w->ssl = make_ctx(&d->cfg, err, sizeof(err));
    if (w->ssl == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "web UI: TLS setup failed",
                  "cert=%s error=\"%s\"", d->cfg.cert, err);
        tspsd_web_close(d);
        return -1;
    }
    w->http = evhttp_new(d->base);
    if (w->http == NULL) {
        tspsd_web_close(d);
        return -1;
    }
    evhttp_set_bevcb(w->http, bevcb, w);
    evhttp_set_gencb(w->http, route, w);
    evhttp_set_max_body_size(w->http, WEB_MAX_BODY);
    evhttp_set_max_headers_size(w->http, 16384);
    evhttp_set_timeout(w->http, 60);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_HEAD);
    bs = evhttp_bind_socket_with_handle(w->http, d->cfg.web_listen,
                                        (ev_uint16_t)d->cfg.web_port);
    if (bs == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "web UI: cannot listen",
                  "listen=%s port=%d", d->cfg.web_listen, d->cfg.web_port);
        tspsd_web_close(d);
        return -1;
    }
    w->port = bound_port(bs);
    {
        /* Accepted connections inherit it (Linux): without it a response
         * written as several TLS records (headers, body; an SSE event)
         * waits for the browser's delayed ACK, tens of ms per request */
        int one = 1;
        setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY,
                   &one, sizeof(one));
    }
    if (d->cfg.web_public_url[0] != '\0')
        snprintf(w->base_url, sizeof(w->base_url), "%s", d->cfg.web_public_url);
    else
        snprintf(w->base_url, sizeof(w->base_url), "https://%s:%d",
                 strchr(d->cfg.web_listen, ':') != NULL ? "localhost"
                 : strcmp(d->cfg.web_listen, "0.0.0.0") == 0
                     ? "localhost"
                     : d->cfg.web_listen,
                 w->port);
    if (web_sse_start(w) != 0 || web_work_start(w) != 0) {
        tspsd_web_close(d);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/web.url", d->cfg.data_dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "%s\n", w->base_url);
        fclose(f);
    }
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "web UI listening",
              "listen=%s port=%d url=%s", d->cfg.web_listen, w->port,
              w->base_url);
    return 0;
}

void tspsd_web_reload_tls(tspsd *d)
{
    tspsd_web *w = d->web;
    char err[256];
    SSL_CTX *ctx;

    if (w == NULL)
        return;
    ctx = make_ctx(&d->cfg, err, sizeof(err));
    if (ctx == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "web UI: new certificate refused, keeping the old one",
                  "cert=%s error=\"%s\"", d->cfg.cert, err);
        return;
    }
    /* Live connections keep a reference to the old context. */
    SSL_CTX_free(w->ssl);
    w->ssl = ctx;
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "web UI: certificate reloaded",
              "cert=%s", d->cfg.cert);
}

void tspsd_web_close(tspsd *d)
{
    tspsd_web *w = d != NULL ? d->web : NULL;
    if (w == NULL)
        return;
    web_work_stop(w); /* answers what the worker finished */
    web_sse_close_all(w);
    if (w->http != NULL)
        evhttp_free(w->http);
    if (w->ssl != NULL)
        SSL_CTX_free(w->ssl);
    for (size_t i = 0; i < WEB_RING; i++)
        free(w->ring[i].data);
    free(w);
    d->web = NULL;
}

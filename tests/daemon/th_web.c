/* th_web.c - a small HTTPS client for the daemon's web UI (see harness.h):
 * one request per connection, and event streams read as raw bytes. */
#include "harness.h"

#include "tls.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct th_http {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[65536];
    size_t len;
};

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int th_web_port(th_daemon *t)
{
    char path[400], url[300];
    /* The daemon writes data/web.url once it listens: up to 5 s. */
    snprintf(path, sizeof(path), "%s/data/web.url", t->dir);
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            char *got = fgets(url, sizeof(url), f);
            fclose(f);
            const char *colon = got != NULL ? strrchr(url, ':') : NULL;
            if (colon != NULL && atoi(colon + 1) > 0)
                return atoi(colon + 1);
        }
        msleep(50);
    }
    ck_abort_msg("no %s: is [web] port set?", path);
    return -1;
}

void th_http_close(th_http *h)
{
    if (h == NULL)
        return;
    if (h->ssl != NULL)
        SSL_free(h->ssl);
    if (h->fd >= 0)
        close(h->fd);
    SSL_CTX_free(h->ctx);
    free(h);
}

static th_http *http_connect(th_daemon *t)
{
    struct sockaddr_in sa;
    char err[256];
    th_http *h = calloc(1, sizeof(*h));

    ck_assert_ptr_nonnull(h);
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)th_web_port(t));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    h->ctx = tspsd_tls_client_ctx(t->ca, NULL, NULL, err, sizeof(err));
    ck_assert_msg(h->ctx != NULL, "%s", err);
    h->ssl = SSL_new(h->ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl), "127.0.0.1");
    SSL_set_fd(h->ssl, h->fd);
    ck_assert_msg(SSL_connect(h->ssl) == 1, "web TLS handshake failed");
    return h;
}

static void http_send(th_http *h, const char *method, const char *path,
                      const char *cookie, const char *csrf, const char *body)
{
    char req[8192];
    int n =
        snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "%s%s%s%s%s%s"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 method, path, cookie ? "Cookie: tsps_session=" : "",
                 cookie ? cookie : "", cookie ? "\r\n" : "",
                 csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "",
                 csrf ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    ck_assert(n > 0 && (size_t)n < sizeof(req));
    ck_assert_int_eq(SSL_write(h->ssl, req, n), n);
}

/* Read more into h->buf: bytes read, 0 at the end of the stream (closed),
 * -1 when nothing came within timeout_ms. */
static int http_fill(th_http *h, int timeout_ms)
{
    if (h->len + 1 >= sizeof(h->buf)) { /* keep the tail only */
        memmove(h->buf, h->buf + sizeof(h->buf) / 2,
                h->len - sizeof(h->buf) / 2);
        h->len -= sizeof(h->buf) / 2;
    }
    if (!SSL_has_pending(h->ssl)) {
        struct pollfd pfd = {h->fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
            return -1;
    }
    int r =
        SSL_read(h->ssl, h->buf + h->len, (int)(sizeof(h->buf) - 1 - h->len));
    if (r <= 0) {
        int e = SSL_get_error(h->ssl, r);
        ERR_clear_error();
        /* Records split across reads: not the end yet. */
        return e == SSL_ERROR_WANT_READ ? -1 : 0;
    }
    h->len += (size_t)r;
    h->buf[h->len] = '\0';
    return r;
}

int th_web_req(th_daemon *t, const char *method, const char *path,
               const char *cookie, const char *csrf, const char *body,
               char *out, size_t outlen)
{
    th_http *h = http_connect(t);
    long long end = now_ms() + 10000;
    int status = -1;

    http_send(h, method, path, cookie, csrf, body);
    /* Connection: close: the reply ends with the stream. */
    while (now_ms() < end && http_fill(h, (int)(end - now_ms())) != 0)
        ;
    if (h->len > 9 && strncmp(h->buf, "HTTP/1.", 7) == 0)
        status = atoi(h->buf + 9);
    if (out != NULL && outlen > 0)
        snprintf(out, outlen, "%s", h->len > 0 ? h->buf : "");
    th_http_close(h);
    return status;
}

th_http *th_web_conn(th_daemon *t)
{
    return http_connect(t);
}

void th_web_write(th_http *h, const char *method, const char *path,
                  const char *cookie, const char *csrf, const char *body)
{
    http_send(h, method, path, cookie, csrf, body);
}

int th_web_recv(th_http *h, char *out, size_t outlen)
{
    long long end = now_ms() + 30000;
    int status = -1;
    while (now_ms() < end && http_fill(h, (int)(end - now_ms())) != 0)
        ;
    if (h->len > 9 && strncmp(h->buf, "HTTP/1.", 7) == 0)
        status = atoi(h->buf + 9);
    if (out != NULL && outlen > 0)
        snprintf(out, outlen, "%s", h->len > 0 ? h->buf : "");
    th_http_close(h);
    return status;
}

int th_web_recv_head(th_http *h, char *out, size_t outlen, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (strstr(h->buf, "\r\n\r\n") == NULL && now_ms() < end)
        if (http_fill(h, (int)(end - now_ms())) == 0)
            break;
    if (out != NULL && outlen > 0)
        snprintf(out, outlen, "%s", h->buf);
    return h->len > 9 && strncmp(h->buf, "HTTP/1.", 7) == 0 ? atoi(h->buf + 9)
                                                            : -1;
}

void th_web_login(th_daemon *t, tspsd_client *admin, const char *identity,
                  char *cookie, size_t len)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__LoginLink ll = TSPS__LOGIN_LINK__INIT;
    Tsps__Response *resp = NULL;
    char path[300], out[4096];

    ll.user = (char *)identity;
    req.body_case = TSPS__REQUEST__BODY_LOGIN_LINK;
    req.login_link = &ll;
    ck_assert_int_eq(th_call(admin, &req, &resp), TSPS__CODE__OK);
    const char *p = strstr(resp->token, "/login?t=");
    ck_assert_ptr_nonnull(p);
    snprintf(path, sizeof(path), "%s", p);
    tsps__response__free_unpacked(resp, NULL);
    ck_assert_int_eq(
        th_web_req(t, "GET", path, NULL, NULL, NULL, out, sizeof(out)), 303);
    const char *c = strstr(out, "Set-Cookie: tsps_session=");
    ck_assert_msg(c != NULL, "no session cookie in %s", out);
    c += strlen("Set-Cookie: tsps_session=");
    size_t n = strcspn(c, ";\r\n");
    ck_assert(n == 64 && n < len);
    memcpy(cookie, c, n);
    cookie[n] = '\0';
}

th_http *th_sse_open(th_daemon *t, const char *cookie)
{
    th_http *h = http_connect(t);
    long long end = now_ms() + 5000;

    http_send(h, "GET", "/api/events", cookie, NULL, NULL);
    /* Up when the headers and the hello comment are in. */
    while (strstr(h->buf, ": hello") == NULL && now_ms() < end)
        if (http_fill(h, (int)(end - now_ms())) == 0)
            break;
    ck_assert_msg(strncmp(h->buf, "HTTP/1.1 200", 12) == 0 &&
                      strstr(h->buf, ": hello") != NULL,
                  "event stream not open: %s", h->buf);
    h->len = 0;
    h->buf[0] = '\0';
    return h;
}

int th_sse_wait(th_http *h, const char *needle, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        if (strstr(h->buf, needle) != NULL)
            return 1;
        long long left = end - now_ms();
        if (left <= 0)
            return 0;
        if (http_fill(h, (int)left) == 0)
            return strstr(h->buf, needle) != NULL ? 1 : -1;
    }
}

int th_sse_ended(th_http *h, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0)
            return 0;
        if (http_fill(h, (int)left) == 0)
            return 1;
    }
}

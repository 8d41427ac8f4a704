/* client.c - blocking control-protocol client over OpenSSL. */
#include "client.h"

#include "frame.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tspsd_client {
    int fd;
    SSL_CTX *ctx;
    int own_ctx;
    SSL *ssl;
    int timeout_ms;
    uint32_t next_id;
    Tsps__HelloReply *hello; /* owned, from the Hello response */
    Tsps__Response *hello_resp;
    uint8_t *rbuf;
    size_t rlen, rcap;
};

static int tcp_connect(const char *host, int port, int timeout_ms, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    int fd = -1;

    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof(ps), "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int tspsd_client_send_raw(tspsd_client *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        int w =
            SSL_write(c->ssl, p, (int)(len > (1u << 30) ? (1u << 30) : len));
        if (w <= 0)
            return TSPSD_CLIENT_ECONN;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tspsd_client_send(tspsd_client *c, Tsps__Request *req)
{
    uint8_t stackbuf[4096], *buf = stackbuf;
    size_t n;
    int rc;

    if (req->id == 0)
        req->id = ++c->next_id;
    n = tsps__request__get_packed_size(req);
    if (n + 4 > sizeof(stackbuf)) {
        buf = malloc(n + 4);
        if (buf == NULL)
            return TSPSD_CLIENT_ECONN;
    }
    tspsd_frame_header(buf, (uint32_t)n);
    tsps__request__pack(req, buf + 4);
    rc = tspsd_client_send_raw(c, buf, n + 4);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static int fill(tspsd_client *c, size_t want, int timeout_ms)
{
    while (c->rlen < want) {
        if (c->rcap < want) {
            size_t cap = want < 16384 ? 16384 : want;
            uint8_t *nb = realloc(c->rbuf, cap);
            if (nb == NULL)
                return TSPSD_CLIENT_ECONN;
            c->rbuf = nb;
            c->rcap = cap;
        }
        if (!SSL_has_pending(c->ssl) && timeout_ms >= 0) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int pr = poll(&pfd, 1, timeout_ms);
            if (pr <= 0)
                return TSPSD_CLIENT_ECONN;
        }
        int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
        if (r <= 0)
            return TSPSD_CLIENT_ECONN;
        c->rlen += (size_t)r;
    }
    return 0;
}

int tspsd_client_recv(tspsd_client *c, Tsps__Response **resp, int timeout_ms)
{
    uint32_t n;
    int rc;

    *resp = NULL;
    if (timeout_ms < 0)
        timeout_ms = c->timeout_ms;
    rc = fill(c, 4, timeout_ms);
    if (rc != 0)
        return rc;
    n = tspsd_frame_len(c->rbuf);
    if (n == 0 || n > (64u << 20))
        return TSPSD_CLIENT_EPROTO;
    rc = fill(c, 4 + (size_t)n, timeout_ms);
    if (rc != 0)
        return rc;
    *resp = tsps__response__unpack(NULL, n, c->rbuf + 4);
    memmove(c->rbuf, c->rbuf + 4 + n, c->rlen - 4 - n);
    c->rlen -= 4 + (size_t)n;
    return *resp != NULL ? 0 : TSPSD_CLIENT_EPROTO;
}

int tspsd_client_call(tspsd_client *c, Tsps__Request *req,
                      Tsps__Response **resp, char *err, size_t errlen)
{
    int rc;

    *resp = NULL;
    req->id = 0;
    rc = tspsd_client_send(c, req);
    if (rc != 0) {
        snprintf(err, errlen, "connection lost while sending");
        return rc;
    }
    for (;;) {
        Tsps__Response *r;
        rc = tspsd_client_recv(c, &r, -1);
        if (rc != 0) {
            snprintf(err, errlen,
                     rc == TSPSD_CLIENT_EPROTO
                         ? "undecodable reply"
                         : "connection closed by the daemon");
            return rc;
        }
        if (r->id == req->id) {
            *resp = r;
            return 0;
        }
        tsps__response__free_unpacked(r, NULL); /* an event: not ours */
    }
}

static int is_ip(const char *h)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

int tspsd_client_connect(const tspsd_client_opts *o, tspsd_client **out,
                         char *err, size_t errlen)
{
    tspsd_client *c = calloc(1, sizeof(*c));
    const char *host = o->host != NULL && *o->host ? o->host : "127.0.0.1";
    int port = o->port > 0 ? o->port : 7443;
    int rc = TSPSD_CLIENT_ECONN;

    *out = NULL;
    if (c == NULL)
        return TSPSD_CLIENT_ECONN;
    c->fd = -1;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    if (o->ctx != NULL) {
        c->ctx = o->ctx;
    } else {
        c->ctx = tspsd_tls_client_ctx(o->ca, o->cert, o->key, err, errlen);
        if (c->ctx == NULL)
            goto fail;
        c->own_ctx = 1;
    }
    c->fd = tcp_connect(host, port, c->timeout_ms, err, errlen);
    if (c->fd < 0)
        goto fail;
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL)
        goto fail;
    if (is_ip(host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, host);
        SSL_set1_host(c->ssl, host);
    }
    SSL_set_fd(c->ssl, c->fd);
    ERR_clear_error();
    if (SSL_connect(c->ssl) != 1) {
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK)
            snprintf(err, errlen, "TLS: server certificate: %s",
                     X509_verify_cert_error_string(vr));
        else {
            char e[200];
            snprintf(err, errlen, "TLS handshake failed: %s",
                     tspsd_tls_error(e, sizeof(e)));
        }
        goto fail;
    }
    if (!o->no_hello) {
        Tsps__Request req = TSPS__REQUEST__INIT;
        Tsps__Hello h = TSPS__HELLO__INIT;
        Tsps__Response *resp = NULL;
        h.version = TSPS__CONSTANTS__PROTOCOL_VERSION;
        h.token = (char *)(o->token != NULL ? o->token : "");
        h.client = (char *)"tspsd-client "
                           "0.1.0";
        req.body_case = TSPS__REQUEST__BODY_HELLO;
        req.hello = &h;
        rc = tspsd_client_call(c, &req, &resp, err, errlen);
        if (rc != 0) {
            /* A TLS 1.3 client learns that its certificate was refused only
             * when it reads. */
            if (rc == TSPSD_CLIENT_ECONN)
                snprintf(err, errlen,
                         "connection closed during hello "
                         "(certificate refused?)");
            goto fail;
        }
        if (resp->code != TSPS__CODE__OK) {
            rc = (int)resp->code;
            snprintf(err, errlen, "%s", resp->error);
            tsps__response__free_unpacked(resp, NULL);
            goto fail;
        }
        c->hello_resp = resp;
        c->hello = resp->hello;
    }
    *out = c;
    return 0;
fail:
    tspsd_client_close(c);
    return rc;
}

const Tsps__HelloReply *tspsd_client_hello(const tspsd_client *c)
{
    return c->hello;
}

int tspsd_client_alive(tspsd_client *c, int wait_ms)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (SSL_has_pending(c->ssl))
        return 1;
    int pr = poll(&pfd, 1, wait_ms);
    if (pr <= 0)
        return 1; /* nothing happened: still open */
    char b;
    int r = SSL_peek(c->ssl, &b, 1);
    return r > 0;
}

void tspsd_client_close(tspsd_client *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    if (c->own_ctx)
        SSL_CTX_free(c->ctx);
    if (c->hello_resp != NULL)
        tsps__response__free_unpacked(c->hello_resp, NULL);
    free(c->rbuf);
    free(c);
}

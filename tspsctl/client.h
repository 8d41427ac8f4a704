/*
 * client.h - a blocking client of the tspsd control protocol (TLS +
 * frames + Hello), used by tspsctl, the integration tests and ctl_bench.
 */
#ifndef TSPSD_CLIENT_H
#define TSPSD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tsps.pb-c.h"

typedef struct tspsd_client tspsd_client;

typedef struct tspsd_client_opts {
    const char *host; /* default 127.0.0.1 */
    int port;         /* default 7443 */
    const char *ca;   /* CA that signed the server certificate */
    const char *cert; /* client certificate (optional) */
    const char *key;
    const char *token; /* token (optional) */
    int timeout_ms;    /* per read/write, default 10000 */
    int no_hello;      /* tests: connect and handshake only */
    SSL_CTX *ctx;      /* optional shared context (bench); not owned */
} tspsd_client_opts;

/* Results beyond Tsps__Code values (which are >= 0). */
#define TSPSD_CLIENT_ECONN  (-1) /* connect, TLS or I/O failure */
#define TSPSD_CLIENT_EPROTO (-2) /* undecodable reply */

/**
 * Connect, handshake TLS, send Hello. On a refused Hello returns its code.
 * @return 0 (TSPS__CODE__OK), a Tsps__Code, or TSPSD_CLIENT_E*; *out is
 *         set only on 0. err gets one line on failure.
 */
int tspsd_client_connect(const tspsd_client_opts *o, tspsd_client **out,
                         char *err, size_t errlen);

/** The server's Hello reply (identity, role). */
const Tsps__HelloReply *tspsd_client_hello(const tspsd_client *c);

/**
 * Send one request (id assigned if 0) and wait for its response. The
 * response is freed with tsps__response__free_unpacked(resp, NULL).
 * @return 0 with *resp set (check (*resp)->code), or TSPSD_CLIENT_E*.
 */
int tspsd_client_call(tspsd_client *c, Tsps__Request *req,
                      Tsps__Response **resp, char *err, size_t errlen);

/** Send one request without waiting. @return 0 or TSPSD_CLIENT_ECONN. */
int tspsd_client_send(tspsd_client *c, Tsps__Request *req);

/** Send raw bytes (tests: bad frames). */
int tspsd_client_send_raw(tspsd_client *c, const void *buf, size_t len);

/**
 * Receive the next response (any id). timeout_ms < 0 = the default.
 * @return 0, TSPSD_CLIENT_ECONN (also on timeout/close), TSPSD_CLIENT_EPROTO
 */
int tspsd_client_recv(tspsd_client *c, Tsps__Response **resp, int timeout_ms);

/** Is the connection still open (peer has not closed)? */
int tspsd_client_alive(tspsd_client *c, int wait_ms);

void tspsd_client_close(tspsd_client *c);

#endif

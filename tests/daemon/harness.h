/*
 * harness.h - start a real tspsd for a test: a temp dir with test
 * certificates (made here), a config on a free loopback port, the daemon
 * as a child process, clients as any identity; stop it by PID.
 */
#ifndef TSPSD_TEST_HARNESS_H
#define TSPSD_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "client.h"

typedef struct th_daemon {
    char dir[256];
    char conf[300], log[300];
    char ca[300], ca_key[300];
    int port, metrics_port;
    pid_t pid;
} th_daemon;

/** Make certificates for these identities (CN) in dir/certs. */
void th_make_certs(th_daemon *t);
/** Write the config (extra: appended text, may be NULL) and start. */
void th_start(th_daemon *t, const char *extra);
/** SIGTERM, wait (bounded); returns the exit status (-1 if killed). */
int th_stop(th_daemon *t);
/** A tspsd started by the test itself: SIGTERM, wait (10 s), SIGKILL. */
void th_stop_pid(pid_t pid);
/** Does the file contain needle (one look, no waiting)? */
int th_file_has(const char *path, const char *needle);
void th_sleep_ms(int ms);
/** rm -rf the temp dir. */
void th_cleanup(th_daemon *t);

/** Connect as a certificate identity ("admin", "ann", ...; NULL = none). */
tspsd_client *th_connect(th_daemon *t, const char *identity, const char *token);
/** Same, returning the connect result (for refusals). */
int th_try_connect(th_daemon *t, const char *cert, const char *key,
                   const char *token, tspsd_client **out, char *err,
                   size_t errlen);
/** Path of an identity's cert/key made by th_make_certs. */
void th_cert_paths(th_daemon *t, const char *identity, char *cert, char *key,
                   size_t len);

/** Send one request; returns the response code (or -100 on I/O error). */
int th_call(tspsd_client *c, Tsps__Request *req, Tsps__Response **out);

/** Does the daemon log contain `needle` (polls up to ~2 s)? */
int th_log_has(th_daemon *t, const char *needle);

/** Run tspsctl with args (shell words) as identity; output into buf. */
int th_ctl(th_daemon *t, const char *identity, const char *args, char *out,
           size_t outlen);

/** A free TCP port on 127.0.0.1. */
int th_free_port(void);
/** A free UDP port on 127.0.0.1 (a SIP front's). */
int th_free_udp_port(void);

/* ---- th_web.c: the web UI over HTTPS (needs [web] port = 0) ---- */
typedef struct th_http th_http;

/** The web UI's port (from data/web.url; waits up to 5 s). */
int th_web_port(th_daemon *t);
/**
 * One request on its own connection (cookie: the tsps_session value, csrf:
 * X-CSRF-Token; each may be NULL). The raw response goes into out.
 * @return the HTTP status, or -1.
 */
int th_web_req(th_daemon *t, const char *method, const char *path,
               const char *cookie, const char *csrf, const char *body,
               char *out, size_t outlen);
/** Requests in parallel: th_web_conn opens a connection (TLS up),
 * th_web_write sends one request on it and returns at once, th_web_recv
 * reads the reply (30 s at most), closes the connection and returns the
 * HTTP status (or -1). */
th_http *th_web_conn(th_daemon *t);
void th_web_write(th_http *h, const char *method, const char *path,
                  const char *cookie, const char *csrf, const char *body);
int th_web_recv(th_http *h, char *out, size_t outlen);
/** Wait (at most timeout_ms) for the status line and headers only, for a
 * reply that stays open (an event stream); the status, or -1. Leaves the
 * connection open. */
int th_web_recv_head(th_http *h, char *out, size_t outlen, int timeout_ms);
/** Log identity in with a one-time link issued through admin; the
 * session cookie's value (64 hex) into cookie. */
void th_web_login(th_daemon *t, tspsd_client *admin, const char *identity,
                  char *cookie, size_t len);
/** Open GET /api/events as that session (asserts 200 and the hello). */
th_http *th_sse_open(th_daemon *t, const char *cookie);
/** Wait for needle in the stream: 1 seen, 0 not within timeout_ms, -1 the
 * stream ended without it. */
int th_sse_wait(th_http *h, const char *needle, int timeout_ms);
/** 1 when the server ends the stream (closes) within timeout_ms, else 0. */
int th_sse_ended(th_http *h, int timeout_ms);
void th_http_close(th_http *h);

#endif

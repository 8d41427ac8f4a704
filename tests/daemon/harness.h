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

#endif

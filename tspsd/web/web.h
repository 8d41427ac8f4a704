/*
 * web.h - the HTTPS web UI of tspsd: login (password or one-time link),
 * sessions, CSRF, a JSON API over the control-protocol handlers, live
 * events as server-sent events, the call pop-up, the attendant console and
 * web chat. Loop thread only. See docs/webui.md.
 */
#ifndef TSPSD_WEB_H
#define TSPSD_WEB_H

#include <stddef.h>
#include <stdint.h>

#include <tsps/tsps.h>

#include "tsps.pb-c.h"

typedef struct tspsd tspsd;
typedef struct tspsd_web tspsd_web;

/**
 * Register the web UI as a listener of the core (callfront.h): it gets
 * every event, ends streams of a revoked identity, and forgets its stored
 * sessions, links and password. tspsd_web_open() calls it, also when the
 * UI is off (the store keeps sessions). @return 0 or -1.
 * Thread-safety: loop thread, before events flow. Since: 0.2
 */
int tspsd_web_attach(tspsd *d);

/**
 * Start the web UI when [web] port >= 0 (0 = a free port). Writes
 * data_dir/web.url with the base URL. @return 0, or -1 (logged).
 */
int tspsd_web_open(tspsd *d);

/** SIGHUP: take the (renewed) certificate for new connections. */
void tspsd_web_reload_tls(tspsd *d);

/** Stop serving; ends every event stream. NULL-safe. */
void tspsd_web_close(tspsd *d);

/** Feed one daemon event (call.offered/updated/ended, sync) to streams. */
void tspsd_web_publish(tspsd *d, const char *kind, uint64_t call_id,
                       const tsps_decision *dec, tsps_outcome outcome,
                       const Tsps__Source *src);

/**
 * Issue a one-time login link for `identity`.
 * @return TSPS_OK and the URL in url, or a TSPS_E* code.
 */
int tspsd_web_login_link(tspsd *d, const char *identity, char *url, size_t len);

/**
 * Set (or, with "" or NULL, remove) the web password of `identity`:
 * PBKDF2-HMAC-SHA256 with a random salt, in the engine's kv store.
 * @return TSPS_OK, TSPS_EINVAL (too short, bad identity), TSPS_ESTORE.
 */
int tspsd_web_set_password(tspsd *d, const char *identity,
                           const char *password);

/** Check a password. @return 1 when it matches, else 0. */
int tspsd_web_check_password(tspsd *d, const char *identity,
                             const char *password);

/**
 * Delete every web session and unused one-time login link of `identity`
 * from the store (works whether or not the web UI runs). The password is
 * kept. Thread-safety: any thread (store writes: call it on a worker).
 * @return TSPS_OK or a TSPS_E* code; *sessions = sessions deleted.
 */
int tspsd_web_revoke(tspsd *d, const char *identity, size_t *sessions);

/**
 * End the open event streams of `identity` (not guests'). NULL-safe when
 * the web UI is off. @return how many. Thread-safety: loop thread only.
 */
size_t tspsd_web_close_streams(tspsd *d, const char *identity);

#endif

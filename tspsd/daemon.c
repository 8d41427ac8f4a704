/*
 * daemon.c - open, reload (SIGHUP) and close the daemon context. A reload
 * re-reads the config file and applies what can change without dropping
 * connections or pending calls: log level, admins, TLS certificates (new
 * connections), sources, SIP settings. Listen addresses need a restart.
 */
#include "cluster_wire.h"
#include "daemon.h"
#include "log.h"
#include "media_wire.h"
#include "pool.h"
#include "related.h"
#include "sip/sip_front.h"
#include "tls.h"
#include "web/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void tspsd_engine_log(void *arg, int level, const char *msg)
{
    (void)arg;
    tspsd_log_fragment(level, msg);
}

/* ---- the SIP front, wired in as a call front (callfront.h) ---- */

static void sip_call_event(void *arg, int kind, uint64_t call_id,
                           const tsps_decision *d, tsps_outcome outcome)
{
    tspsd *dm = arg;
    tspsd_front_call(dm->sip_front, kind, call_id, d, outcome);
}

static void sip_log(void *arg, int level, const char *msg)
{
    (void)arg;
    tspsd_log_fragment(level, msg);
}

/* A voicemail or IVR target that names tsps itself: a signed URI of the
 * media front for this call (media_wire.h), -1 when the front is off. */
static int sip_media_uri(void *arg, tsps_method_kind kind, uint64_t call_id,
                         const tsps_decision *dec, char *out, size_t n)
{
    tspsd *d = arg;
    char tok[1024];

    if (tspsd_media_wire_token(d, dec->user, dec->caller, dec->caller_name,
                               dec->code, call_id, "", (int64_t)time(NULL), tok,
                               sizeof(tok)) < 0)
        return -1;
    return tspsd_media_wire_uri(d, kind == TSPS_METHOD_IVR, tok, out, n);
}

/* SUBSCRIBE message-summary: the mailbox's counts now (media_wire.h). */
static int sip_mwi_body(void *arg, const char *user, const char *account,
                        char *out, size_t n)
{
    return tspsd_media_wire_mwi_body(arg, user, account, out, n);
}

static void sip_config(const tspsd_config *c, tspsd_sip_config *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->listen = c->sip_listen;
    sc->udp_port = c->sip_udp_port;
    sc->tcp_port = c->sip_tcp_port;
    sc->domain = c->sip_domain[0] ? c->sip_domain : NULL;
    sc->realm = c->sip_realm[0] ? c->sip_realm : NULL;
    sc->auth_register =
        tspsd_sip_auth_default(c->sip_auth_register, c->demo, c->sip_listen);
    sc->nonce_any_address = c->sip_nonce_any_address;
    sc->auth_max_failures = c->sip_auth_max_failures;
    sc->auth_fail_window_s = c->sip_auth_fail_window_s;
    sc->auth_lockout_s = c->sip_auth_lockout_s;
    sc->max_held_per_user = c->sip_max_held_per_user;
    sc->max_held = c->sip_max_held;
    sc->tcp_max_per_address = c->sip_tcp_max_per_address;
    sc->tcp_handshake_s = c->sip_tcp_handshake_s;
    sc->max_bindings_per_aor = c->sip_max_bindings_per_aor;
    sc->history_async = c->history_async;
    sc->history_window_ms = c->history_window_ms;
    sc->media_in_place = c->media_in_place && c->media_enabled;
    sc->min_expires = c->sip_min_expires;
    sc->max_expires = c->sip_max_expires;
    sc->default_expires = c->sip_default_expires;
    sc->ask_timeout_s = c->sip_ask_timeout_s;
    sc->digest_algorithms =
        c->sip_digest_algorithms[0] ? c->sip_digest_algorithms : NULL;
}

static int sip_answer(void *arg, uint64_t call_id, const tsps_decision *dec,
                      int timeout, tsps_outcome *outcome)
{
    tspsd *d = arg;
    return tspsd_sip_answer(d->sip, call_id, dec, timeout, outcome);
}

static int sip_reload(void *arg, const tspsd_config *cfg)
{
    tspsd *d = arg;
    tspsd_sip_config sc;
    sip_config(cfg, &sc);
    return tspsd_sip_reconfigure(d->sip, &sc);
}

static int sip_metrics(void *arg, char *buf, size_t len)
{
    tspsd *d = arg;
    return tspsd_sip_metrics(d->sip, buf, len);
}

static void sip_stop(void *arg)
{
    tspsd *d = arg;
    tspsd_sip_close(d->sip);
    d->sip = NULL;
    d->sip_front = NULL;
}

static int sip_draining(void *arg)
{
    tspsd *d = arg;
    return atomic_load(&d->draining);
}

static int sip_route_note(void *arg, char *what, size_t wlen, char *text,
                          size_t tlen)
{
    tspsd *d = arg;
    return d->route_note != NULL && d->route_note(d, what, wlen, text, tlen);
}

static const tspsd_front_ops sip_front_ops = {"sip", sip_answer, sip_reload,
                                              sip_metrics, sip_stop};

static int sip_start(tspsd *d)
{
    tspsd_sip_config sc;
    tspsd_sip_hooks hooks = {d,
                             sip_call_event,
                             sip_log,
                             sip_media_uri,
                             sip_mwi_body,
                             sip_draining,
                             sip_route_note};
    if (!d->cfg.sip_enabled)
        return 0;
    sip_config(&d->cfg, &sc);
    int rc = tspsd_sip_open(d->base, d->eng, &sc, &hooks, &d->sip);
    if (rc != TSPS_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "SIP front did not start",
                  "listen=%s udp_port=%d tcp_port=%d error=\"%s\"",
                  d->cfg.sip_listen, d->cfg.sip_udp_port, d->cfg.sip_tcp_port,
                  tsps_strerror(rc));
        return -1;
    }
    if (tspsd_front_add(d, &sip_front_ops, d, &d->sip_front) != 0) {
        tspsd_sip_close(d->sip);
        d->sip = NULL;
        return -1;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "SIP front listening",
              "listen=%s udp_port=%d tcp_port=%d", d->cfg.sip_listen,
              d->cfg.sip_udp_port, d->cfg.sip_tcp_port);
    return 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[TSPSD_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return (mkdir(tmp, 0700) == 0 || errno == EEXIST) ? 0 : -1;
}

/* 1 = carry on without that part (warned), 0 = stop (error logged). */
static int skip_part(int optional, const char *part)
{
    if (!optional) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot start",
                  "part=\"%s\" hint=\"free the port or set another one in the "
                  "config (see the line above)\"",
                  part);
        return 0;
    }
    tspsd_log(TSPSD_LOG_WARN, 0, NULL, "running without a part",
              "part=\"%s\" hint=\"embedded default: its port is busy; "
              "--sip-port N, --metrics-port N or a config file choose others\"",
              part);
    return 1;
}

/* What to do about a damaged store, said where the operator looks. */
#define STORE_RECOVERY                                                         \
    "stop tspsd; copy what LMDB can still read: mdb_copy -c STORE "            \
    "STORE.copy (package lmdb-utils); if that works, move STORE away and "     \
    "STORE.copy into its place; if not, restore STORE from your last "         \
    "backup. Contacts and calendars sync again from their sources; users, "    \
    "rules, devices and call history come from the copy or the backup"

static void store_refused(const char *store, const char *reason)
{
    char q1[400], q2[900], rec[700], *p;
    /* STORE -> the real path in the steps */
    snprintf(rec, sizeof(rec), "%s", STORE_RECOVERY);
    char out[1400] = "";
    const char *r = rec;
    while ((p = strstr(r, "STORE")) != NULL) {
        strncat(out, r, (size_t)(p - r));
        strncat(out, store, sizeof(out) - strlen(out) - 1);
        r = p + 5;
    }
    strncat(out, r, sizeof(out) - strlen(out) - 1);
    char msg[500];
    snprintf(msg, sizeof(msg), "cannot open the store: %s", reason);
    tspsd_log(TSPSD_LOG_ERROR, 0, NULL, msg, "path=%s recovery=%s",
              tspsd_log_quote(store, q1, sizeof(q1)),
              tspsd_log_quote(out, q2, sizeof(q2)));
}

/* Read every page of an existing store in a child process first: LMDB
 * faults or aborts on some damaged pages, and a crash there must become a
 * clear error here, not a dead daemon. 0 = sound. */
static int check_store(const char *store)
{
    char why[160];
    int st = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0; /* cannot check: open as before */
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore); /* no core file of a known crash */
        int rc = tsps_store_verify(store, tspsd_engine_log, NULL);
        _exit(rc == TSPS_OK ? 0 : 3);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st))
        snprintf(why, sizeof(why),
                 "damaged pages (reading them crashed the check with %s)",
                 strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
        snprintf(why, sizeof(why), "damaged store (see the line above)");
    else
        snprintf(why, sizeof(why), "damaged pages (the check failed, exit %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    store_refused(store, why);
    return -1;
}

int tspsd_open(tspsd *d, const tspsd_config *cfg, const char *config_path)
{
    char err[300], q[320], store[TSPSD_PATH_MAX + 16];
    struct stat sb;
    tsps_config ec = TSPS_CONFIG_INIT;
    int rc, first;

    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    snprintf(d->config_path, sizeof(d->config_path), "%s",
             config_path != NULL ? config_path : "");
    tspsd_log_set_level(d->cfg.log_level);
    if (mkdir_p(d->cfg.data_dir) != 0) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot create data dir",
                  "dir=%s error=\"%s\"", d->cfg.data_dir, strerror(errno));
        return -1;
    }
    if (tspsd_bootstrap_tls(&d->cfg, err, sizeof(err)) != 0) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "TLS bootstrap failed", "error=%s",
                  tspsd_log_quote(err, q, sizeof(q)));
        return -1;
    }
    snprintf(store, sizeof(store), "%s/store", d->cfg.data_dir);
    first = stat(store, &sb) != 0;
    if (!first && check_store(store) != 0)
        return -1;
    ec.path = store;
    ec.log = tspsd_engine_log;
    rc = tsps_engine_open(&ec, &d->eng);
    if (rc == TSPS_ESTORE) {
        store_refused(store, tsps_strerror(rc));
        return -1;
    }
    if (rc != TSPS_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot open the store",
                  "path=%s error=\"%s\"", store, tsps_strerror(rc));
        return -1;
    }
    if (tspsd_bootstrap_store(d, first) != 0)
        return -1;
    d->base = event_base_new();
    if (d->base == NULL)
        return -1;
    tspsd_handlers_register(d);
    tspsd_media_ctl_register(d);
    if (tspsd_pool_open(d) != 0 || tspsd_pending_open(d) != 0 ||
        tspsd_jobs_open(d) != 0 || tspsd_ctl_start(d) != 0 ||
        tspsd_sync_open(d) != 0 || tspsd_related_open(d) != 0)
        return -1;
    /* A config file means the operator asked for these ports (demo = true
     * or not): a busy one is an error at start. Only the embedded default
     * (no -c: a demo on someone's laptop) carries on without that part,
     * and says so loudly. */
    int optional = d->config_path[0] == '\0';
    if (tspsd_metrics_start(d) != 0 && !skip_part(optional, "metrics"))
        return -1;
    /* [cluster]: before the loop serves a request, so that every write
     * goes through the publishing handlers. */
    if (tspsd_cluster_wire_start(d) != 0)
        return -1;
    /* The media front first: the SIP front's 302 points at it. */
    if (tspsd_media_wire_start(d) != 0 && !skip_part(optional, "media front"))
        return -1;
    if (sip_start(d) != 0 && !skip_part(optional, "SIP front"))
        return -1;
    if (tspsd_web_open(d) != 0 && !skip_part(optional, "web UI"))
        return -1;
    tspsd_bootstrap_client_conf(d);
    return 0;
}

int tspsd_reload(tspsd *d)
{
    tspsd_config nc;
    char err[300], q[320];

    if (d->config_path[0] == '\0') {
        tspsd_log(TSPSD_LOG_INFO, 0, NULL,
                  "reload: embedded default, nothing to re-read", NULL);
        tspsd_ctl_reload_tls(d);
        tspsd_web_reload_tls(d);
        return 0;
    }
    tspsd_config_defaults(&nc);
    if (tspsd_config_load(d->config_path, &nc, err, sizeof(err)) != 0) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "reload failed: keeping the running config", "error=%s",
                  tspsd_log_quote(err, q, sizeof(q)));
        return -1;
    }
    if (strcmp(nc.data_dir, d->cfg.data_dir) != 0 ||
        strcmp(nc.ctl_listen, d->cfg.ctl_listen) != 0 ||
        nc.ctl_port != d->cfg.ctl_port ||
        nc.metrics_port != d->cfg.metrics_port ||
        nc.sip_enabled != d->cfg.sip_enabled ||
        nc.sip_udp_port != d->cfg.sip_udp_port ||
        nc.sip_tcp_port != d->cfg.sip_tcp_port)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "reload: data_dir, listen addresses and ports change "
                  "only on restart",
                  NULL);
    /* Keep what needs a restart, take the rest. */
    snprintf(nc.data_dir, sizeof(nc.data_dir), "%s", d->cfg.data_dir);
    snprintf(nc.ctl_listen, sizeof(nc.ctl_listen), "%s", d->cfg.ctl_listen);
    nc.ctl_port = d->cfg.ctl_port;
    nc.metrics_port = d->cfg.metrics_port;
    nc.sip_enabled = d->cfg.sip_enabled;
    nc.sip_udp_port = d->cfg.sip_udp_port;
    nc.sip_tcp_port = d->cfg.sip_tcp_port;
    snprintf(nc.sip_listen, sizeof(nc.sip_listen), "%s", d->cfg.sip_listen);
    if (nc.cert[0] == '\0')
        snprintf(nc.cert, sizeof(nc.cert), "%s", d->cfg.cert);
    if (nc.key[0] == '\0')
        snprintf(nc.key, sizeof(nc.key), "%s", d->cfg.key);
    if (nc.ca[0] == '\0')
        snprintf(nc.ca, sizeof(nc.ca), "%s", d->cfg.ca);
    d->cfg = nc;
    tspsd_log_set_level(nc.log_level);
    tspsd_ctl_reload_tls(d);
    tspsd_web_reload_tls(d);
    /* An identity taken off [admin] identities loses the role on its live
     * connections too, not only on new ones. */
    tspsd_ctl_reapply_admins(d);
    tspsd_sync_set_config_sources(d);
    tspsd_fronts_reload(d);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "config reloaded",
              "path=%s sources=%d admins=%d", d->config_path, d->cfg.nsources,
              d->cfg.nadmins);
    return 0;
}

void tspsd_close(tspsd *d)
{
    /* The core answers held calls with their fallback, then the fronts
     * close. */
    tspsd_fronts_stop(d);
    tspsd_web_close(d);
    tspsd_sync_close(d);
    tspsd_jobs_close(d); /* queued writes finish before connections go */
    tspsd_ctl_stop(d);
    tspsd_metrics_stop(d);
    tspsd_pending_close(d);
    tspsd_pool_close(d);        /* every lane drained above */
    tspsd_cluster_wire_stop(d); /* no handler publishes any more */
    tspsd_related_close(d);
    if (d->sig_term != NULL)
        event_free(d->sig_term);
    if (d->sig_int != NULL)
        event_free(d->sig_int);
    if (d->sig_hup != NULL)
        event_free(d->sig_hup);
    d->sig_term = d->sig_int = d->sig_hup = NULL;
    if (d->base != NULL)
        event_base_free(d->base);
    d->base = NULL;
    tsps_engine_close(d->eng);
    d->eng = NULL;
}

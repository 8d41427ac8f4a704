/*
 * daemon.h - the tspsd context: everything hangs off one `tspsd`, owned by
 * the loop thread. Parts: control server (ctl_server.c), handler registry
 * (ctl_registry.c + h_*.c), authorisation (authz.c), pending calls and
 * events (pending.c), background sync (sync.c), metrics (metrics.c).
 */
#ifndef TSPSD_DAEMON_H
#define TSPSD_DAEMON_H

#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <tsps/tsps.h>

#include "arena.h"
#include "callfront.h"
#include "config.h"
#include "tsps.pb-c.h"

typedef struct tspsd_sip tspsd_sip; /* sip/sip_front.h, wired in daemon.c */

typedef struct tspsd tspsd;
typedef struct tspsd_conn tspsd_conn;
typedef struct tspsd_sync tspsd_sync;
typedef struct tspsd_pending tspsd_pending;
typedef struct tspsd_web tspsd_web; /* web/web.h */

#define TSPSD_VERSION "0.1.0"

/* Rights an identity may hold on a user's data. */
enum {
    TSPSD_RIGHT_OWN = 0,     /* the user themself or an admin only */
    TSPSD_RIGHT_MONITOR = 1, /* + attendants granted "monitor" */
    TSPSD_RIGHT_ACT = 2,     /* + attendants granted "act" */
    TSPSD_RIGHT_ADMIN = 3,   /* admins only */
    TSPSD_RIGHT_RELATED = 4  /* + attendants granted "related" (e-mails
                                and documents are private: monitor alone
                                does not give them) */
};
/* Voicemail messages are private like e-mails: the delegation's `related`
 * grant opens them too (the Delegation message has no voicemail flag). */
#define TSPSD_RIGHT_VOICEMAIL TSPSD_RIGHT_RELATED

/** One control connection. */
struct tspsd_conn {
    tspsd_asker a; /* who is asking: what the handlers see */
    struct bufferevent *bev;
    char peer[64]; /* "127.0.0.1:5555" */
    char cert_identity[TSPSD_IDENT_MAX];
    int hello_done;
    int tls_up;
    int job_inflight;    /* a request runs on the write worker */
    int close_after_job; /* closed meanwhile: free when it returns */
    int subscribed;
    uint32_t sub_id;
    char sub_user[TSPSD_IDENT_MAX]; /* "" = everything allowed */
    tspsd_conn *prev, *next;
};

/** Handler of one request kind: fills resp, returns a Tsps__Code. */
typedef int (*tspsd_handler_fn)(tspsd_asker *c, const Tsps__Request *req,
                                Tsps__Response *resp);

typedef struct tspsd_handler {
    const char *name; /* for logs and audit lines: "route", "user.put" */
    tspsd_handler_fn fn;
    int need_auth; /* anonymous callers are refused */
    int offload;   /* where it runs: TSPSD_OFFLOAD_* below */
    /* Optional: where this request runs (TSPSD_OFFLOAD_*), instead of
     * `offload`. A merged history waits on other nodes (related lane); a
     * peer's local one runs where history always ran (control lane), so
     * a job that waits on peers never holds the lane a peer's request
     * needs, and two nodes asking each other cannot deadlock. */
    int (*offload_for)(const Tsps__Request *req);
} tspsd_handler;

#define TSPSD_MAX_HANDLERS 64

/* tspsd_handler.offload: where the handler runs. */
#define TSPSD_OFFLOAD_LOOP    0 /* on the loop (reads) */
#define TSPSD_OFFLOAD_WRITE   1 /* control lane (web lane from the web UI) */
#define TSPSD_OFFLOAD_SYNC    2 /* sync lane: talks to a contact manager */
#define TSPSD_OFFLOAD_RELATED 3 /* related lane: waits on mail/doc servers */

/* Route latency histogram bounds in microseconds (+Inf implied). */
#define TSPSD_LAT_BUCKETS 10

typedef struct tspsd_metrics {
    atomic_ulong routed[TSPS_METHOD__COUNT];
    atomic_ulong lat_bucket[TSPSD_LAT_BUCKETS + 1];
    atomic_ulong lat_count;
    atomic_ulong lat_sum_us;
    atomic_ulong requests;
    atomic_ulong refused;
    atomic_ulong bad_frames;
    atomic_long clients;
    atomic_ulong tls_failures;
} tspsd_metrics;

struct tspsd {
    struct event_base *base;
    tsps_engine *eng;
    tspsd_config cfg;
    char config_path[TSPSD_PATH_MAX]; /* "" = embedded default */
    SSL_CTX *ssl_ctx;
    struct evconnlistener *listener;
    int ctl_port; /* the bound port */
    struct evhttp *http;
    int metrics_port;
    tspsd_sip *sip; /* opaque to the core: reached through its front */
    struct tspsd_front *sip_front;
    struct tspsd_media_wire *media; /* media_wire.c (app), NULL when off */
    struct tspsd_front *media_front;
    struct tspsd_cluster_wire *cluster; /* cluster_wire.c (app), NULL = off */
    /* Told of the web UI's preference writes (POST /api/prefs), which no
     * request handler makes: the cluster (app) publishes them while it
     * runs. NULL = nobody. Called on a worker. */
    /* Set by the cluster (app): a note for a route's trace when the
     * configuration may be stale (etcd unreachable), as tsps_decision_note
     * takes it; 1, or 0 when current. Any thread; cheap (every SIP call). */
    int (*route_note)(tspsd *d, char *what, size_t wlen, char *text,
                      size_t tlen);
    /* Set by the cluster (app), NULL when off. This node's name, put in
     * the calls a history reply carries (Decision.node). */
    const char *node_name;
    /* Set by the cluster: add the calls of the user's other live nodes to
     * a history reply that holds this node's (newest first, at most
     * `want`), and say in resp->message which nodes did not answer. `dl`:
     * the attendant's delegation the request was authorised with (NULL:
     * the user herself or an admin), passed on to the peers. Runs on a
     * worker (the history handler is offloaded while it is set). */
    void (*history_merge)(tspsd_asker *c, const Tsps__History *h,
                          const Tsps__Delegation *dl, Tsps__Response *resp,
                          size_t want, int64_t cur_start, const char *cur_node,
                          uint64_t cur_id);
    /* Set by the cluster: 1 when a Hello token is the cluster's peer
     * secret (compared in constant time). */
    int (*peer_check)(tspsd *d, const char *token);
    void (*prefs_written)(tspsd *d, const char *identity, const char *json,
                          size_t len);
    const tspsd_inbox_ops *inbox; /* callfront.h: voicemail, NULL = none */
    void *inbox_arg;
    struct tspsd_front *fronts[TSPSD_MAX_FRONTS]; /* callfront.h */
    int nfronts;
    struct {
        const tspsd_listener_ops *ops;
        void *arg;
    } listeners[TSPSD_MAX_LISTEN];
    int nlisteners;
    tspsd_sync *sync;
    struct tspsd_related *related; /* related.h: related items, NULL = none */
    tspsd_pending *pending;
    struct tspsd_pool *pool; /* pool.h: the one worker pool */
    tspsd_web *web;          /* web UI, NULL when off */
    tspsd_conn *conns;
    uint64_t next_conn_id;
    tspsd_handler handlers[TSPSD_MAX_HANDLERS]; /* by request body case */
    tspsd_metrics metrics;
    struct event *sig_term, *sig_int, *sig_hup;
    int stopping;
    /* Drain (`tspsctl cluster drain`): call fronts answer health probes
     * (SIP OPTIONS) 503 so that a proxy sends new calls elsewhere; calls
     * already here finish. Any thread. */
    atomic_int draining;
    atomic_uint held_now; /* held calls now (pending.c), for any thread */
};

/* ---- daemon.c ---- */
int tspsd_open(tspsd *d, const tspsd_config *cfg, const char *config_path);
int tspsd_reload(tspsd *d);
void tspsd_close(tspsd *d);
/** Engine log callback (logfmt fragments). */
void tspsd_engine_log(void *arg, int level, const char *msg);

/* ---- ctl_server.c ---- */
int tspsd_ctl_start(tspsd *d);
void tspsd_ctl_stop(tspsd *d);
/** Queue one Response on a connection (framed). @return 0 or -1. */
int tspsd_conn_send(tspsd_conn *c, const Tsps__Response *resp);
/** Swap the TLS context (SIGHUP); new connections use the new one. */
int tspsd_ctl_reload_tls(tspsd *d);
/**
 * Close every control connection authenticated as `identity`: it reads no
 * further request from now on, the reply of a request in flight still goes
 * out, then it closes (within 5 s even if the peer does not read).
 * @return how many connections. Thread-safety: loop thread only.
 */
size_t tspsd_ctl_close_identity(tspsd *d, const char *identity);
/**
 * After Hello: may this authenticated connection keep a slot? Non-admins
 * take at most [control] max_clients - admin_reserved. -1 = no (why set;
 * the connection closes after the reply). Loop thread.
 */
int tspsd_ctl_admit(tspsd_conn *c, char *why, size_t whylen);
/** SIGHUP: re-derive the admin role of certificate-authenticated
 * connections from [admin] identities. @return how many lost it. */
size_t tspsd_ctl_reapply_admins(tspsd *d);

/* ---- jobs.c: control requests that write the store, on the pool ---- */
int tspsd_jobs_open(tspsd *d);
/** Finish queued jobs of the control lane; free what is left. */
void tspsd_jobs_close(tspsd *d);
/** Run h on the pool lane of `offload` (TSPSD_OFFLOAD_*); owns req from
 * here on. 0, -1, or -2 (the related lane is full). */
int tspsd_jobs_submit(tspsd *d, tspsd_conn *c, Tsps__Request *req, int offload,
                      const tspsd_handler *h);

/* ---- ctl_server.c (continued) ---- */
/** On the loop: a job of c finished with resp; send it, resume reading. */
void tspsd_conn_job_done(tspsd_conn *c, const Tsps__Response *resp);
/** Free a connection whose job was pending at shutdown. */
void tspsd_conn_destroy(tspsd_conn *c);

/* ---- registry.c (core): handlers shared by control and web ---- */
/** Register the core's handlers (h_*.c). */
void tspsd_handlers_register(tspsd *d);
/** Register one handler (a room adds its own: hello, login-link...). */
void tspsd_handler_add(tspsd *d, int kind, const char *name,
                       tspsd_handler_fn fn, int need_auth, int offload);

/* ---- ctl_registry.c (control) ---- */
/** The control session's handlers: hello, subscribe. */
void tspsd_ctl_handlers_register(tspsd *d);
/**
 * Decode and run one request payload. @return 0, 1 when the request went
 * to the write worker (read no further frames until it returns), or -1 to
 * close the connection (undecodable or out-of-order frame: why).
 */
int tspsd_dispatch(tspsd_conn *c, const uint8_t *buf, size_t len, char *why,
                   size_t whylen);
/** Map a TSPS_E* code to a protocol code. */
int tspsd_code_from_tsps(int rc);
/** Set resp->code/error (the message lives in the connection's arena). */
int tspsd_reply(tspsd_asker *c, Tsps__Response *resp, int code, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
/** Refuse: error reply + audit log line. Returns the code. */
int tspsd_refuse(tspsd_asker *c, Tsps__Response *resp, const char *request,
                 const char *user, int code, const char *why);

/* ---- authz.c ---- */
/**
 * May this connection touch `user`'s data with `right`? `code` (may be
 * NULL) is the call's handling code for attendant code filters.
 * @return 1 allowed, 0 denied (reason in why).
 */
int tspsd_authz(const tspsd_asker *c, const char *user, int right,
                const char *code, char *why, size_t whylen);
int tspsd_token_issue(tspsd *d, const char *identity, int admin, char *token,
                      size_t len);
/** Delete every token of an identity; *count = how many. */
int tspsd_token_revoke(tspsd *d, const char *identity, size_t *count);
/** @return 0 and identity/admin filled, or -1 (unknown token). */
int tspsd_token_check(tspsd *d, const char *token, char *identity, size_t len,
                      int *admin);
int tspsd_delegation_put(tspsd *d, const Tsps__Delegation *dl);
int tspsd_delegation_delete(tspsd *d, const char *user, const char *attendant);
/** Read one delegation; caller frees with tsps__delegation__free_unpacked. */
int tspsd_delegation_get(tspsd *d, const char *user, const char *attendant,
                         Tsps__Delegation **out);
/**
 * Does delegation `dl` (read once with tspsd_delegation_get) give `right`
 * on a call routed with `code`, now? The same test tspsd_authz() makes for
 * an attendant, for a scan over many calls of one user that must not read
 * the store for each. 1 or 0.
 */
int tspsd_deleg_allows(const Tsps__Delegation *dl, int right, const char *code);
/** Is `id` a valid identity name (same charset as user ids)? */
int tspsd_identity_valid(const char *id);
/**
 * Remove the stored credentials of an identity that loses its access:
 * every token, every web session and one-time login link, and with
 * `password` also its web password. Any thread (store writes: a worker).
 * Live connections and event streams are closed by tspsd_access_end().
 * @return TSPS_OK or a TSPS_E* code; counts of what was removed.
 */
int tspsd_identity_revoke(tspsd *d, const char *identity, int password,
                          size_t *tokens, size_t *sessions);
/**
 * End what an identity was already granted: close its control connections
 * (after an in-flight reply) and its web event streams, and log how many
 * (reason: "token.revoke", "user.delete"). Loop thread only.
 */
void tspsd_access_end(tspsd *d, const char *identity, const char *reason);
/**
 * tspsd_asker_recheck_admin() for a connection after its Hello (logged).
 * @return 1 when it just lost the admin role, else 0.
 * Thread-safety: loop thread, no job of c in flight.
 */
int tspsd_conn_recheck_admin(tspsd_conn *c);

/* ---- h_voicemail.c: the inbox over the seam (callfront.h) ---- */
/**
 * Every message of `user`, newest first, in a malloc'd array (*out, free
 * it). @return TSPS_OK, TSPS_ESTATE (no inbox), TSPS_ENOMEM, or the
 * inbox's code. Any thread.
 */
int tspsd_vm_list(tspsd *d, const char *user, tspsd_vm_msg **out, size_t *n);
/** One message of `user` by id. @return TSPS_OK, TSPS_ENOTFOUND, ... */
int tspsd_vm_find(tspsd *d, const char *user, const char *id, tspsd_vm_msg *m);
/** Open a message's WAV (no rights checked). @return TSPS_OK or TSPS_E*. */
int tspsd_vm_open(tspsd *d, const char *user, const char *id, int *fd);
/**
 * As voicemail.get for whoever asks (rights, code filter, audit) but hand
 * back the open WAV (*fd, the caller closes it) and the message, for
 * streaming (the web UI). @return TSPS__CODE__OK or the code of the reply
 * filled in resp.
 */
int tspsd_vm_asker_open(tspsd_asker *c, Tsps__Response *resp, const char *user,
                        const char *id, int *fd, tspsd_vm_msg *m);

/* ---- convert.c ---- */
Tsps__Decision *tspsd_decision_msg(tspsd_arena *a, const tsps_decision *d,
                                   uint64_t call_id, int with_text);
Tsps__Decision *tspsd_record_msg(tspsd_arena *a, const tsps_call_record *r);

/* ---- pending.c: the one owner of held calls ---- */
int tspsd_pending_open(tspsd *d);
void tspsd_pending_close(tspsd *d);
/** Decision of a held call, or NULL. */
const tsps_decision *tspsd_pending_get(tspsd *d, uint64_t call_id);
int tspsd_pending_is_held(tspsd *d, uint64_t call_id);
typedef int (*tspsd_pending_cb)(void *arg, uint64_t call_id,
                                const tsps_decision *dec, int64_t since);
void tspsd_pending_each(tspsd *d, tspsd_pending_cb cb, void *arg);
/**
 * Answer a held call with a live decision (already in history through
 * tsps_history_override): its front answers it, then `call.updated` and
 * one `call.ended` go out. TSPS_ENOTFOUND when it is not held (any more).
 */
int tspsd_pending_resolve(tspsd *d, uint64_t call_id, const tsps_decision *dec);
/**
 * How long a held call of this decision waits for someone to act: [held]
 * user.<id> for that user, else the rule's `timeout=` (libtsps stores 20
 * for an `ask` naming none), else [held] timeout_s, else [sip]
 * ask_timeout_s (default 20). Thread-safety: pure.
 */
unsigned tspsd_held_timeout(const tspsd_config *cfg, const tsps_decision *dec);
/** Answer every held call with its fallback (actor `why`): shutdown. */
void tspsd_pending_drain(tspsd *d, const char *why);

/* ---- front.c: registry of fronts and listeners (core-internal) ---- */
tspsd *tspsd_front_daemon(const tspsd_front *f);
const char *tspsd_front_name(const tspsd_front *f);
/** ops->answer, or TSPS_ESTATE when the front has none (dry runs). */
int tspsd_front_answer(tspsd_front *f, uint64_t call_id,
                       const tsps_decision *dec, int timeout,
                       tsps_outcome *outcome);
/** Every listener's access_end; `what` lists "connections=N streams=M". */
size_t tspsd_listeners_access_end(tspsd *d, const char *identity, char *what,
                                  size_t len);
/** Every listener's forget; *n = sum. Any thread. */
int tspsd_listeners_forget(tspsd *d, const char *identity, int password,
                           size_t *n);

/* ---- sync.c ---- */
int tspsd_sync_open(tspsd *d);
void tspsd_sync_close(tspsd *d);
/** Replace the config-file sources (start, SIGHUP). */
void tspsd_sync_set_config_sources(tspsd *d);
int tspsd_sync_add(tspsd *d, const Tsps__Source *s, int persist);
int tspsd_sync_remove(tspsd *d, const char *name);
/** Queue a sync now ("" or NULL = every source). TSPS_ENOTFOUND if none. */
int tspsd_sync_now(tspsd *d, const char *name);
/** Snapshot of sources into arena messages. */
int tspsd_sync_list(tspsd *d, tspsd_arena *a, Tsps__Source ***out, size_t *n);
/** 1 when every source has finished its first (or queued) sync. */
int tspsd_sync_settled(tspsd *d);
/** Write a contact's code back to its source (worker). */
int tspsd_sync_write_code(tspsd *d, const char *user, const char *uid,
                          const char *code, char *why, size_t whylen);

/**
 * Add a new contact to one of the user's sources (`source`, or "" for the
 * first that can add cards) through its adapter, then queue that source's
 * sync: the engine sees the contact only after it. Blocks on the source's
 * I/O: call it on the pool's sync lane. Returns CMSB_OK or a CMSB_E* code
 * (ENOTFOUND: no such source of the user; ENOTSUP: none can add cards;
 * EINVAL, EAUTH, EIO, ECONFLICT from the adapter); `why` says it in words,
 * `src_out` names the source written to.
 * Thread-safety: any worker thread.
 */
int tspsd_sync_create_contact(tspsd *d, const char *user, const char *source,
                              const tsps_contact *c, const char *code,
                              char *src_out, size_t src_len,
                              char uid_out[TSPS_UID_MAX], char *why,
                              size_t whylen);

/* ---- metrics.c ---- */
int tspsd_metrics_start(tspsd *d);
void tspsd_metrics_stop(tspsd *d);
/** A tsps_route() that took us microseconds (any request: latency only). */
void tspsd_metrics_route(tspsd *d, const tsps_decision *dec, uint64_t us);
/** A call routed for real (SIP, or route --live): counted by method in
 * tspsd_calls_routed_total. Dry runs are not calls. Any thread. */
void tspsd_metrics_call(tspsd *d, const tsps_decision *dec);

/* ---- bootstrap.c ---- */
/**
 * Prepare the data dir: directories, TLS material (CA, server cert, admin
 * client cert), first admin token (printed once on stdout), demo user.
 */
int tspsd_bootstrap_tls(tspsd_config *cfg, char *err, size_t errlen);
int tspsd_bootstrap_store(tspsd *d, int first_start);
/** Write data_dir/client.conf so tspsctl finds the daemon. */
int tspsd_bootstrap_client_conf(tspsd *d);

#endif

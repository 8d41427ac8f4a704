/*
 * callfront.h - the seams of the tspsd core (docs/architecture.md).
 *
 * Two kinds of parts plug into the core, each through one struct of hooks
 * it registers (in the spirit of nng's transport ops or SQLite's VFS); the
 * core calls no front or server by name:
 *
 * - A call front brings calls in and answers held ones: the SIP front
 *   (tspsd/sip), the dry-run path (`tspsctl route --live`, built into the
 *   core), the media front (voicemail/IVR, tspsd/media). It registers a
 *   tspsd_front_ops and reports each call with tspsd_front_call(). The core
 *   owns every held ("ask") call: the table, the one timeout policy, the
 *   fallback, the events; it answers a held call through ops->answer.
 *
 * - A listener shows events and holds sessions of identities: the control
 *   server (subscriptions) and the web UI (event streams, sessions). It
 *   registers a tspsd_listener_ops; every event goes out through the one
 *   publish hook, tspsd_events_publish(), to every listener.
 *
 * Request handlers (h_*.c) receive a tspsd_asker ("who is asking"), never
 * a control connection: the control server and the web UI each fill one.
 *
 * Wiring a third front (the media front's narrow tspsd_media_host ops) is
 * a small adapter in daemon.c: fill a tspsd_front_ops whose answer hook
 * hands the decision to the media engine, and forward its "call offered /
 * ended" callbacks to tspsd_front_call().
 *
 * Thread-safety: everything here runs on the loop thread unless a hook
 * says otherwise.
 */
#ifndef TSPSD_CALLFRONT_H
#define TSPSD_CALLFRONT_H

#include <stddef.h>
#include <stdint.h>

#include <tsps/tsps.h>

#include "arena.h"
#include "config.h"
#include "tsps.pb-c.h"

typedef struct tspsd tspsd;
typedef struct tspsd_front tspsd_front;

#define TSPSD_IDENT_MAX  64
#define TSPSD_MAX_FRONTS 8
#define TSPSD_MAX_LISTEN 8

/** Kinds of call events a front reports (and the core publishes). */
enum {
    TSPSD_CALL_OFFERED = 0, /* routed; held by the core when PENDING */
    TSPSD_CALL_UPDATED = 1, /* a held call got its final decision */
    TSPSD_CALL_ENDED = 2    /* over (answered, cancelled, timed out...) */
};

/** One voicemail message as the core sees it (the inbox seam below). */
typedef struct tspsd_vm_msg {
    char id[32]; /* unique within the user */
    char caller[64];
    char contact[128]; /* contact name, "" = unknown */
    char code[32];
    char history_id[64]; /* decimal, "" = none */
    int64_t time;        /* unix seconds */
    uint32_t duration_ms;
    int heard;
} tspsd_vm_msg;

/** One event, as every listener receives it. */
typedef struct tspsd_event {
    const char *kind;         /* "call.offered", "call.updated",
                                 "call.ended", "sync" */
    uint64_t call_id;         /* call events: the history id */
    const tsps_decision *dec; /* call events, else NULL */
    tsps_outcome outcome;
    const Tsps__Source *src; /* source events, else NULL */
    /* "call.related" (with dec): the items, and "" or the reason a source
     * failed; listeners show it only to those with TSPSD_RIGHT_RELATED */
    Tsps__RelatedItem *const *related;
    size_t nrelated;
    const char *related_status; /* non-NULL only on "call.related" */
    /* "voicemail.new", "voicemail.changed": the mailbox, the message (on
     * "deleted" only its id is known), what changed ("new", "heard",
     * "deleted") and the mailbox's counts after it; listeners show it to
     * those with TSPSD_RIGHT_VOICEMAIL on vm_user for the message's code */
    const char *vm_user; /* non-NULL only on voicemail events */
    const tspsd_vm_msg *vm;
    const char *vm_change;
    unsigned vm_new, vm_old;
} tspsd_event;

/** The hooks of one call front. Unused hooks are NULL. */
typedef struct tspsd_front_ops {
    const char *name; /* "sip", "live", "media": logs and metrics */
    /*
     * Answer held call `call_id` of this front with decision `dec`, already
     * recorded with tsps_history_override(). `timeout` is 1 when the
     * core's held-call timer expired. The front sends its final answer,
     * records the outcome in history and sets *outcome. It reports
     * nothing back through tspsd_front_call(): the core announces the
     * update and the end. @return TSPS_OK, or TSPS_ENOTFOUND when the
     * call is gone (the front reported its end already).
     * NULL: the front has no transport (dry runs): the core records the
     * outcome itself.
     */
    int (*answer)(void *arg, uint64_t call_id, const tsps_decision *dec,
                  int timeout, tsps_outcome *outcome);
    /* SIGHUP: apply settings that need no rebind. */
    int (*reload)(void *arg, const tspsd_config *cfg);
    /* Prometheus text of the front's own counters; bytes written. */
    int (*metrics)(void *arg, char *buf, size_t len);
    /* Close. Called after the core answered every held call. */
    void (*stop)(void *arg);
} tspsd_front_ops;

/**
 * Register a front; `ops` and `arg` must outlive it. @return 0 and *out,
 * or -1 (too many fronts).
 */
int tspsd_front_add(tspsd *d, const tspsd_front_ops *ops, void *arg,
                    tspsd_front **out);

/**
 * A front reports a call. OFFERED with outcome PENDING hands the call to
 * the core, which holds it until someone acts, the timeout policy
 * answers it, or the front reports its end (CANCEL: ENDED). `dec` is read
 * during the call only.
 */
void tspsd_front_call(tspsd_front *f, int kind, uint64_t call_id,
                      const tsps_decision *dec, tsps_outcome outcome);

/** The built-in front of live routes (`route --live`): no transport. */
tspsd_front *tspsd_front_live(tspsd *d);

/** SIGHUP: each front's reload hook. */
void tspsd_fronts_reload(tspsd *d);

/** Concatenate the fronts' metrics. @return bytes written. */
size_t tspsd_fronts_metrics(tspsd *d, char *buf, size_t len);

/**
 * Shutdown: answer every held call with its fallback (actor "shutdown"),
 * then stop every front, last registered first.
 */
void tspsd_fronts_stop(tspsd *d);

/** The hooks of one listener (control server, web UI). */
typedef struct tspsd_listener_ops {
    const char *name;  /* "control", "web" */
    const char *count; /* what access_end counts: "connections" */
    /* One event; the listener filters by who may see it (tspsd_authz). */
    void (*publish)(void *arg, const tspsd_event *ev);
    /* Close the live sessions of `identity`. @return how many. */
    size_t (*access_end)(void *arg, const char *identity);
    /* Delete stored credentials of `identity` (with `password`, also its
     * password) that this listener keeps; *n = how many. Any thread (a
     * worker): store writes only. Called even when the listener does not
     * serve (the web UI off still has sessions in the store). */
    int (*forget)(tspsd *d, const char *identity, int password, size_t *n);
} tspsd_listener_ops;

/** Register a listener; `ops`/`arg` outlive it. @return 0 or -1. */
int tspsd_listener_add(tspsd *d, const tspsd_listener_ops *ops, void *arg);

/** Unregister (at its close). */
void tspsd_listener_remove(tspsd *d, const tspsd_listener_ops *ops);

/**
 * The one publish hook: send an event to every listener. Loop thread.
 */
void tspsd_events_publish(tspsd *d, const char *kind, uint64_t call_id,
                          const tsps_decision *dec, tsps_outcome outcome,
                          const Tsps__Source *src);

/**
 * Publish "call.related" (loop thread): the related items of a call,
 * fetched beside it (related.c); same filter as call events, but with the
 * related right.
 */
void tspsd_events_publish_related(tspsd *d, uint64_t call_id,
                                  const tsps_decision *dec,
                                  Tsps__RelatedItem *const *items, size_t n,
                                  const char *status);

/**
 * Publish a voicemail event (loop thread): `kind` "voicemail.new" or
 * "voicemail.changed", `change` "new", "heard" or "deleted".
 */
void tspsd_events_publish_voicemail(tspsd *d, const char *kind,
                                    const char *user, const tspsd_vm_msg *m,
                                    const char *change, unsigned nnew,
                                    unsigned nold);

/**
 * The inbox seam: the voicemail messages a media front stored, reached by
 * the handlers (h_voicemail.c) without naming the front. The app registers
 * it with tspsd_inbox_set() (media_wire.c). Every hook returns TSPS_OK or
 * a TSPS_E* code (TSPS_ENOTFOUND: no such message of that user) and may be
 * called from the loop or a worker, concurrently. heard and remove also
 * publish the change and update the lamps (MWI) of the user's phones.
 */
typedef struct tspsd_inbox_ops {
    /* newest first; *n = all messages, TSPS_ENOBUFS when *n > max */
    int (*list)(void *arg, const char *user, tspsd_vm_msg *msgs, size_t max,
                size_t *n);
    /* the message's WAV, read-only; the caller closes *fd */
    int (*open)(void *arg, const char *user, const char *id, int *fd);
    int (*heard)(void *arg, const char *user, const char *id);
    int (*remove)(void *arg, const char *user, const char *id);
    int (*count)(void *arg, const char *user, unsigned *nnew, unsigned *nold);
} tspsd_inbox_ops;

/** Register (ops NULL: unregister) the inbox. Loop thread, at start/stop. */
void tspsd_inbox_set(tspsd *d, const tspsd_inbox_ops *ops, void *arg);

/** Roles of whoever asks. */
enum {
    TSPSD_ROLE_NONE = 0,      /* anonymous (before Hello, a chat guest) */
    TSPSD_ROLE_USER = 1,      /* a provisioned user: their own data */
    TSPSD_ROLE_ATTENDANT = 2, /* an identity that is no user: only what
                                 users delegated to it */
    TSPSD_ROLE_ADMIN = 3
};

/**
 * Who is asking: what request handlers and tspsd_authz() see. Filled by
 * the control server for a connection (at Hello) and by the web UI for a
 * session; handlers never see either. Delegation rights are not copied
 * here: tspsd_authz() reads the delegation of each target user from the
 * store at each check, so a revoked delegation counts at once (a user may
 * be an attendant of others too).
 */
typedef struct tspsd_asker {
    tspsd *d;
    uint64_t id;                    /* audit lines: connection or request */
    char identity[TSPSD_IDENT_MAX]; /* "" = anonymous */
    int admin;                      /* role == TSPSD_ROLE_ADMIN */
    int role;                       /* TSPSD_ROLE_* */
    int via_token; /* role from a token: not re-derived from [admin] */
    int peer;      /* a cluster peer (Hello with the cluster's peer
                      secret): may ask history for another identity */
    /* Set by a handler that ended this identity's access (token.revoke,
     * user.delete), possibly on a worker; the server applies it on the
     * loop (tspsd_asker_end_access) before the reply goes out. */
    char end_access[TSPSD_IDENT_MAX];
    const char *end_reason; /* static: "token.revoke", "user.delete" */
    tspsd_arena arena;      /* replies live here until sent */
    void *session;          /* the control connection, for the session handlers
                               (hello, subscribe) only; NULL from the web UI */
} tspsd_asker;

/**
 * Set identity, admin and role ("" = anonymous; role USER when the
 * identity is a provisioned user, else ATTENDANT). Loop thread or worker.
 */
void tspsd_asker_set(tspsd_asker *a, const char *identity, int admin,
                     int via_token);

/** Apply a->end_access, if a handler set it. Loop thread only. */
void tspsd_asker_end_access(tspsd_asker *a);

/**
 * Re-derive the admin role from [admin] identities (each request, after
 * SIGHUP), unless it came from a token. @return 1 when it just lost the
 * admin role, else 0. Loop thread.
 */
int tspsd_asker_recheck_admin(tspsd_asker *a);

#endif

/*
 * sip_front.h - the SIP front of tspsd: registrar, redirect server and
 * hold-for-decision, on the daemon's libevent loop. Internal to tspsd.
 *
 * The daemon (tspsd/daemon.c) opens it with the engine and a set of hooks
 * and registers it with the core as a call front (tspsd/callfront.h); the
 * front reports every call through hooks->call_event, and the core, which
 * owns held ("ask") calls and their timeout, answers them through
 * tspsd_sip_answer().
 */
#ifndef TSPSD_SIP_FRONT_H
#define TSPSD_SIP_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <tsps/tsps.h>

typedef struct tspsd_sip tspsd_sip;

/** SIP settings ([sip] section of tspsd.conf). */
typedef struct tspsd_sip_config {
    const char *listen;  /* address, default "127.0.0.1" */
    int udp_port;        /* 0 = no UDP, default 5060 */
    int tcp_port;        /* 0 = no TCP, default 5060 */
    const char *domain;  /* our SIP domain (for URIs), default listen */
    const char *realm;   /* digest realm, default domain */
    int auth_register;   /* 1 = REGISTER needs digest auth */
    int min_expires;     /* default 60 */
    int max_expires;     /* default 7200 */
    int default_expires; /* default 3600 */
    int ask_timeout_s;   /* not read by the front since 0.2: the owner of
                            held calls times them out (tspsd: pending.c) */
    /* appended after 0.1 (NULL/0 = defaults): */
    const char *digest_algorithms; /* challenge order, "SHA-256,MD5"
                                      (default, RFC 8760), "MD5,SHA-256" for
                                      clients that only read the first, or
                                      one of them alone */
    /* hardening (0 = the default given): */
    int nonce_any_address;    /* 1 = a nonce is not bound to the client's
                                 address (default: bound) */
    int auth_max_failures;    /* digest failures per address before a
                                 lockout, 10; per device name twice that;
                                 -1 = no limit */
    int auth_fail_window_s;   /* failures counted within, 60 */
    int auth_lockout_s;       /* lockout length, 300 */
    int max_held_per_user;    /* held (ask) calls per user, 32 */
    int max_held;             /* held calls in total, 2048 */
    int tcp_max_per_address;  /* SIP-TCP connections per address, 32 */
    int tcp_handshake_s;      /* a TCP connection must send its first
                                 request within, 10 */
    int max_bindings_per_aor; /* registrar: bindings of one AOR, 16 */
    /* history durability (docs/sip.md "History durability"): */
    int history_async;     /* 0 = burst: a UDP burst's calls are committed
                              before its responses leave; 1 = async: a
                              writer thread commits them within
                              history_window_ms, responses never wait */
    int history_window_ms; /* async: at most this long, default 10 */
    int media_in_place;    /* 1: calls for tsps's media front are relayed
                              to it (tspsd is the caller's first hop)
                              instead of answered 302 (sip_relay.c) */
} tspsd_sip_config;

/**
 * Whether REGISTER needs digest auth: `configured` (0/1) when set (>= 0),
 * else on — except for the embedded demo (`demo`) listening on a loopback
 * address, the documented exception (docs/sip.md, Security).
 * Thread-safety: pure.
 */
int tspsd_sip_auth_default(int configured, int demo, const char *listen);

/** Shortest password accepted for a new device. */
#define TSPSD_SIP_MIN_PASSWORD 8

/**
 * 1 if `password` is strong enough for a new SIP device named `username`:
 * at least TSPSD_SIP_MIN_PASSWORD characters, 5 different ones, not only
 * digits, and not containing the device name. Else 0 and `why` (for the
 * operator) says what is missing.
 * Thread-safety: pure.
 */
int tspsd_sip_password_ok(const char *password, const char *username, char *why,
                          size_t n);

/** Kinds of call events. */
enum {
    TSPSD_SIP_CALL_OFFERED = 0, /* routed; held when outcome is PENDING:
                                   the hook's owner must answer it
                                   (tspsd_sip_answer) - the front keeps
                                   no timer for it */
    TSPSD_SIP_CALL_UPDATED = 1, /* unused since 0.2 (the owner of a held
                                   call announces its update) */
    TSPSD_SIP_CALL_ENDED = 2    /* over without the owner asking: not held
                                   (redirected, rejected at once), CANCEL of
                                   a held call, or a held call left at
                                   close (480) */
};

typedef struct tspsd_sip_hooks {
    void *arg;
    /* Every routed INVITE, and each change of a held call. `call_id` is the
     * history id; `d` is valid during the call only. Runs on the loop. */
    void (*call_event)(void *arg, int kind, uint64_t call_id,
                       const tsps_decision *d, tsps_outcome outcome);
    /* logfmt fragment (no ts/level), never with secrets. */
    void (*log)(void *arg, int level, const char *msg);
    /* Optional (NULL: such targets are dropped, 480 if none is left). A
     * target that names tsps's own media front (tspsd_sip_media_kind()):
     * write the URI of this call's voicemail box or IVR (`kind`
     * TSPS_METHOD_VOICEMAIL or _IVR) into `out` and return its length,
     * or -1 to drop the target. Runs on the loop. Since: 0.4 */
    int (*media_uri)(void *arg, tsps_method_kind kind, uint64_t call_id,
                     const tsps_decision *d, char *out, size_t n);
    /* Optional (NULL: SUBSCRIBE for message-summary gets 489). The RFC
     * 3842 message-summary body of `user`'s mailbox now, for the account
     * URI `account`, into `out`: its length, or -1 (no mailbox). Runs on
     * the loop. Since: 0.4 */
    int (*mwi_body)(void *arg, const char *user, const char *account, char *out,
                    size_t n);
    /* Optional (NULL: never). Non-zero while the node drains: OPTIONS
     * (a proxy's health probe) gets 503 so that new calls go to another
     * node; calls go on being answered. Any thread. Since: 0.5 */
    int (*draining)(void *arg);
    /* Optional (NULL: none). A note for the trace of every routed call,
     * kept in its history: `what` and `text` (tsps_decision_note), 1 when
     * there is one, 0 when not (a cluster node whose rules may be stale
     * says so). Runs on the loop for each INVITE: must be cheap. Since:
     * 0.5 */
    int (*route_note)(void *arg, char *what, size_t wlen, char *text,
                      size_t tlen);
} tspsd_sip_hooks;

/**
 * Whether a target of `kind` with text `target` names tsps's own media
 * front: "tsps:voicemail" for voicemail; "tsps:ivr" or a menu name (no
 * ':' and no '@') for an IVR. Returns `kind` then, else
 * TSPS_METHOD_NONE (a URI elsewhere: sent as it is).
 * Thread-safety: pure. Since: 0.4
 */
tsps_method_kind tspsd_sip_media_kind(tsps_method_kind kind,
                                      const char *target);

/** Open the front: binds the sockets, adds events to `base`. */
int tspsd_sip_open(struct event_base *base, tsps_engine *eng,
                   const tspsd_sip_config *cfg, const tspsd_sip_hooks *hooks,
                   tspsd_sip **out);

/**
 * The mailbox of `user` changed (a new message, heard, deleted): send a
 * NOTIFY with the counts now (hooks->mwi_body) to each device subscribed
 * to it (SUBSCRIBE, Event message-summary). Subscriptions that ran out are
 * dropped. NULL s: nothing.
 * Thread-safety: on the loop's thread. Since: 0.4
 */
void tspsd_sip_mwi_changed(tspsd_sip *s, const char *user);

/** Apply new settings that do not need a rebind (SIGHUP). */
int tspsd_sip_reconfigure(tspsd_sip *s, const tspsd_sip_config *cfg);

/**
 * Send the final response of a held call with decision `d` (after an
 * override recorded by tsps_history_override()) and record the outcome in
 * history (`timeout` 1: outcome timeout, reason no-answer). The front does
 * not report this end through hooks->call_event: whoever owns the held
 * call and asked for the answer announces it. *outcome (may be NULL) gets
 * the outcome recorded.
 * @return TSPS_OK, TSPS_ENOTFOUND if the call is not held (already
 * answered or cancelled), TSPS_EINVAL.
 * Thread-safety: on the loop's thread. Since: 0.2
 */
int tspsd_sip_answer(tspsd_sip *s, uint64_t call_id, const tsps_decision *d,
                     int timeout, tsps_outcome *outcome);

/** tspsd_sip_answer(s, call_id, d, 0, NULL). */
int tspsd_sip_resolve(tspsd_sip *s, uint64_t call_id, const tsps_decision *d);

/**
 * Provision / remove digest credentials for a device of a user (stored in
 * the engine's kv store, as HA1 values for MD5 and SHA-256 only; the
 * password itself is not kept). `label` is the device label (desk, mobile).
 */
int tspsd_sip_device_set(tsps_engine *eng, const char *realm,
                         const char *username, const char *user_id,
                         const char *label, const char *password);
int tspsd_sip_device_remove(tsps_engine *eng, const char *username);

/** Counters of the front (for /metrics). */
typedef struct tspsd_sip_stats {
    uint64_t rx, tx, bad;    /* messages received, sent, malformed */
    uint64_t history_failed; /* calls answered but not recorded (full disk) */
    uint64_t auth_failed;    /* digest failures (wrong or replayed) */
    uint64_t auth_locked;    /* requests refused by an auth lockout */
    uint64_t held;           /* calls held now */
    uint64_t held_refused;   /* INVITEs refused by the held-call caps */
} tspsd_sip_stats;

/** Read the counters. Thread-safety: on the loop's thread. */
void tspsd_sip_stats_get(const tspsd_sip *s, tspsd_sip_stats *out);

/** The counters as Prometheus text (tspsd_sip_*); bytes written.
 *  Thread-safety: on the loop's thread. */
int tspsd_sip_metrics(const tspsd_sip *s, char *buf, size_t len);

/** Close: held calls still left get 480 (the owner should have answered
 * them with their fallback first), frees everything. */
void tspsd_sip_close(tspsd_sip *s);

#endif

/*
 * sip_front.h - the SIP front of tspsd: registrar, redirect server and
 * hold-for-decision, on the daemon's libevent loop. Internal to tspsd.
 *
 * The daemon (tspsd/main.c and friends) opens it with the engine and a set
 * of hooks; the front reports every call through hooks->call_event and the
 * daemon resolves held ("ask") calls through tspsd_sip_resolve().
 */
#ifndef TSPSD_SIP_FRONT_H
#define TSPSD_SIP_FRONT_H

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
    int ask_timeout_s;   /* for ASK methods without a timeout, 20 */
    /* appended after 0.1 (NULL/0 = defaults): */
    const char *digest_algorithms; /* challenge order, "SHA-256,MD5"
                                      (default, RFC 8760), "MD5,SHA-256" for
                                      clients that only read the first, or
                                      one of them alone */
} tspsd_sip_config;

/** Kinds of call events. */
enum {
    TSPSD_SIP_CALL_OFFERED = 0, /* routed; held when outcome is PENDING */
    TSPSD_SIP_CALL_UPDATED = 1, /* a held call got its final decision */
    TSPSD_SIP_CALL_ENDED = 2    /* transaction over (answered, cancelled,
                                   redirected, rejected, timed out) */
};

typedef struct tspsd_sip_hooks {
    void *arg;
    /* Every routed INVITE, and each change of a held call. `call_id` is the
     * history id; `d` is valid during the call only. Runs on the loop. */
    void (*call_event)(void *arg, int kind, uint64_t call_id,
                       const tsps_decision *d, tsps_outcome outcome);
    /* logfmt fragment (no ts/level), never with secrets. */
    void (*log)(void *arg, int level, const char *msg);
} tspsd_sip_hooks;

/** Open the front: binds the sockets, adds events to `base`. */
int tspsd_sip_open(struct event_base *base, tsps_engine *eng,
                   const tspsd_sip_config *cfg, const tspsd_sip_hooks *hooks,
                   tspsd_sip **out);

/** Apply new settings that do not need a rebind (SIGHUP). */
int tspsd_sip_reconfigure(tspsd_sip *s, const tspsd_sip_config *cfg);

/**
 * Send the final response of a held call with decision `d` (after an
 * override recorded by tsps_history_override()). TSPS_ENOTFOUND if the
 * call is not held (already answered, cancelled, timed out).
 */
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

/** The counters as Prometheus text (tspsd_sip_*); bytes written. */
int tspsd_sip_metrics(const tspsd_sip *s, char *buf, size_t len);

/** Close: answers held calls with the fallback, frees everything. */
void tspsd_sip_close(tspsd_sip *s);

#endif

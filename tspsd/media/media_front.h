/*
 * media_front.h - the media front of tspsd: answers the calls the engine
 * sends to `voicemail` (greeting, beep, record, store, MWI) over SIP/UDP and
 * RTP (G.711 PCMU/PCMA, RFC 4733 telephone-event), on its own thread with its
 * own event loop, so media pacing never shares a loop with routing.
 *
 * The front is a room: it talks to the rest of tspsd only through the
 * tspsd_media_host operations below, which the host (tspsd, or the test host
 * in tests/media) implements. See docs/media.md for the two call flows.
 */
#ifndef TSPSD_MEDIA_FRONT_H
#define TSPSD_MEDIA_FRONT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes of the media front (append-only). */
#define TSPSD_MEDIA_OK        0
#define TSPSD_MEDIA_EINVAL    (-1) /* bad argument or config */
#define TSPSD_MEDIA_ENOMEM    (-2) /* out of memory */
#define TSPSD_MEDIA_EIO       (-3) /* socket, file or store error */
#define TSPSD_MEDIA_ENOTFOUND (-4) /* no such message */
#define TSPSD_MEDIA_ENOBUFS   (-5) /* caller buffer too small */
#define TSPSD_MEDIA_ESTATE    (-6) /* front not started / already started */

/** Text for a TSPSD_MEDIA_* code. Never NULL. Thread-safety: safe. */
const char *tspsd_media_strerror(int err);

#define TSPSD_MEDIA_CONFIG_VERSION 1

/** Settings of the `[media]` section. Fill from TSPSD_MEDIA_CONFIG_INIT. */
typedef struct tspsd_media_config {
    int version;          /* TSPSD_MEDIA_CONFIG_VERSION */
    const char *data_dir; /* greetings, voicemail/, prompt cache (required) */
    const char *sip_addr; /* IPv4 address to bind, "127.0.0.1" */
    uint16_t sip_port;    /* SIP/UDP port; 0 = any free port */
    uint16_t rtp_port_min, rtp_port_max; /* even RTP ports, RTCP = RTP+1 */
    unsigned max_calls;           /* refuse new calls with 486 above this */
    unsigned rtp_timeout_ms;      /* no RTP for this long ends the call */
    unsigned max_message_ms;      /* recording stops (and is kept) here */
    unsigned silence_ms;          /* this much silence ends the recording */
    unsigned quota_messages;      /* per user; 0 = unlimited */
    unsigned no_answer_ms;        /* no ACK for the 200 after this: hang up */
    const char *default_language; /* espeak-ng voice when the token has none */
    int rt_priority; /* >0: media thread runs SCHED_RR at this priority
                        (needs CAP_SYS_NICE; falls back with a warning) */
} tspsd_media_config;

/* clang-format off */
#define TSPSD_MEDIA_CONFIG_INIT                                              \
    { TSPSD_MEDIA_CONFIG_VERSION, NULL, "127.0.0.1", 5064, 20000, 20999,     \
      1000, 15000, 120000, 10000, 100, 32000, "en", 0 }
/* clang-format on */

/** What a call token says (decoded and verified by the host). */
typedef struct tspsd_media_call_info {
    char user[64];       /* mailbox owner (tsps user id) */
    char caller[64];     /* caller number, E.164 or as received */
    char contact[128];   /* contact name, "" when unknown */
    char code[32];       /* handling code (e.g. FAMILY, UNKNOWN) */
    char history_id[64]; /* the call's history id, "" when none */
    char language[16];   /* espeak-ng voice, "" = config default */
} tspsd_media_call_info;

#define TSPSD_MEDIA_HOST_VERSION 2

/**
 * Everything the media front needs from the rest of tspsd. Every op is
 * called on the front's media thread unless said otherwise, must not block
 * for long (no network, no LMDB write transaction of the engine), and may
 * be called concurrently with the host's own threads.
 */
typedef struct tspsd_media_host {
    int version; /* TSPSD_MEDIA_HOST_VERSION it was built against */

    /**
     * Verify and decode the token the 302's Contact carried (the user part
     * of the Request-URI, without the "vm." prefix). Return 0 and fill
     * *out when the signature is good and the token has not expired;
     * any other value makes the front answer 403. The front never logs
     * the token. Required.
     */
    int (*verify_token)(void *host_ctx, const char *token,
                        tspsd_media_call_info *out);

    /**
     * Publish an event to subscribed clients: `kind` is "voicemail.new",
     * "voicemail.heard" or "voicemail.deleted"; `user` the mailbox; `json`
     * a complete JSON object describing the message. Optional (NULL).
     * Called on one of the front's storage threads (several may call at
     * once) or on the thread calling tspsd_media_inbox_mark_heard/_delete.
     */
    void (*publish)(void *host_ctx, const char *kind, const char *user,
                    const char *json);

    /**
     * List the SIP contact URIs of `user`'s registered devices, for MWI
     * NOTIFY. Call `cb(cb_arg, uri)` once per device, then return 0.
     * Optional (NULL: no unsolicited NOTIFY). Called on a storage thread or
     * on the thread calling tspsd_media_inbox_mark_heard/_delete, one call
     * at a time (the front serialises MWI).
     */
    int (*list_devices)(void *host_ctx, const char *user,
                        void (*cb)(void *cb_arg, const char *uri),
                        void *cb_arg);

    /**
     * Log one line (level: 0 error, 1 warn, 2 info, 3 debug). Optional:
     * NULL writes to stderr. Called from any of the front's threads, also
     * concurrently.
     */
    void (*log)(void *host_ctx, int level, const char *line);

    /**
     * Route an IVR choice (Since: 0.4, host version 2). `menu_path` is the
     * path of menu names ("main/sales"), `digit` the key pressed ("1", "#")
     * or "default" when the menu's replays ran out, `action` the menu's
     * action for it (an engine method in text form, e.g. "ring
     * devices=mobile"). Write the SIP URI the call goes to into `target`
     * (the front answers the INVITE with a 302 to it) and a one-line trace
     * for the log into `trace` (e.g. "IVR digit 1 -> ring mobile"), then
     * return 0; any other value makes the front answer 500. Required for
     * IVR calls (without it, ivr.<token> INVITEs get 501).
     */
    int (*route_digit)(void *host_ctx, const tspsd_media_call_info *call,
                       const char *menu_path, const char *digit,
                       const char *action, char *target, size_t target_len,
                       char *trace, size_t trace_len);
} tspsd_media_host;

typedef struct tspsd_media_front tspsd_media_front;

/**
 * Create a media front: opens the message store in data_dir, binds the SIP
 * socket. Does not start the thread (see tspsd_media_front_start()).
 *
 * @param cfg       settings; strings are copied
 * @param host      host operations; must outlive the front
 * @param host_ctx  passed to every host op
 * @param[out] out  the front, NULL on failure
 * @return TSPSD_MEDIA_OK, _EINVAL, _ENOMEM, _EIO
 * Thread-safety: any thread.
 * Since: 0.3
 */
int tspsd_media_front_new(const tspsd_media_config *cfg,
                          const tspsd_media_host *host, void *host_ctx,
                          tspsd_media_front **out);

/**
 * Start the media thread and the storage thread.
 * @return TSPSD_MEDIA_OK, _ESTATE, _EIO
 * Thread-safety: one thread at a time with _stop/_free.
 * Since: 0.3
 */
int tspsd_media_front_start(tspsd_media_front *mf);

/**
 * Stop: end every call (BYE), finish pending message writes, join threads.
 * Thread-safety: one thread at a time with _start/_free.
 * Since: 0.3
 */
void tspsd_media_front_stop(tspsd_media_front *mf);

/** Stop if running, then free. NULL is a no-op. Since: 0.3 */
void tspsd_media_front_free(tspsd_media_front *mf);

/** The bound SIP port (useful when cfg->sip_port was 0). Since: 0.3 */
uint16_t tspsd_media_front_sip_port(const tspsd_media_front *mf);

/** Counters of a running front (monotonic since _new). */
typedef struct tspsd_media_stats {
    uint64_t calls_answered, calls_active, messages_stored, store_failures;
    uint64_t frames_sent, frames_received, frames_dropped_source;
    /* send lateness against each frame's 20 ms schedule, in 0.1 ms bins
     * (bin 199 holds everything >= 19.9 ms) */
    uint64_t late_hist[200];
} tspsd_media_stats;

/**
 * Snapshot the counters.
 * Thread-safety: safe from any thread (relaxed atomic reads).
 * Since: 0.3
 */
void tspsd_media_front_stats(tspsd_media_front *mf, tspsd_media_stats *out);

/** One stored message, as listed. */
typedef struct tspsd_media_message {
    char id[32]; /* unique within the user */
    char caller[64];
    char contact[128];
    char code[32];
    char history_id[64];
    int64_t time; /* unix seconds when recorded */
    uint32_t duration_ms;
    int heard; /* 0 new, 1 heard */
} tspsd_media_message;

/**
 * List `user`'s messages, newest first, into a caller-owned array.
 * @param[out] n  number of messages (all of them, even beyond max)
 * @return TSPSD_MEDIA_OK, _ENOBUFS (when *n > max; the first max are
 *         filled), _EIO
 * Thread-safety: safe from any thread (own LMDB read transaction).
 * Since: 0.3
 */
int tspsd_media_inbox_list(tspsd_media_front *mf, const char *user,
                           tspsd_media_message *msgs, size_t max, size_t *n);

/**
 * Open a message's WAV (8 kHz 16-bit mono) for streaming as audio/wav.
 * @param[out] fd  read-only descriptor owned by the caller
 * @return TSPSD_MEDIA_OK, _ENOTFOUND, _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.3
 */
int tspsd_media_inbox_open(tspsd_media_front *mf, const char *user,
                           const char *id, int *fd);

/**
 * Mark a message heard (publishes voicemail.heard, updates MWI).
 * @return TSPSD_MEDIA_OK, _ENOTFOUND, _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.3
 */
int tspsd_media_inbox_mark_heard(tspsd_media_front *mf, const char *user,
                                 const char *id);

/**
 * Delete a message: metadata and file (publishes voicemail.deleted).
 * @return TSPSD_MEDIA_OK, _ENOTFOUND, _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.3
 */
int tspsd_media_inbox_delete(tspsd_media_front *mf, const char *user,
                             const char *id);

/**
 * Count `user`'s new and heard messages (for badges and MWI).
 * @return TSPSD_MEDIA_OK, _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.3
 */
int tspsd_media_inbox_count(tspsd_media_front *mf, const char *user,
                            unsigned *new_msgs, unsigned *old_msgs);

/**
 * Build the RFC 3842 message-summary body for the given counts into buf.
 * @param account  "sip:alice@example.org" or NULL (no Message-Account line)
 * @return the body length, or -1 when buflen is too small
 * Thread-safety: safe. Since: 0.3
 */
int tspsd_media_mwi_body(unsigned new_msgs, unsigned old_msgs,
                         const char *account, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif

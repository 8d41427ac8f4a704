/*
 * sip_internal.h - internals of the SIP front shared by its files and by the
 * fuzz target. Not for the rest of tspsd (it codes against sip_front.h).
 */
#ifndef TSPSD_SIP_INTERNAL_H
#define TSPSD_SIP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip_front.h"

#define SIP_MAX_MSG     65535 /* largest message accepted (UDP datagram) */
#define SIP_MAX_VIAS    72    /* Via header lines echoed in a response */
#define SIP_MAX_REQUIRE 4     /* Require header lines kept */
#define SIP_METHOD_MAX  64    /* longest method name accepted */
#define SIP_MAX_RESP    8192  /* largest response we build */
#define SIP_UDP_BATCH   32    /* recvmmsg/sendmmsg batch */
#define SIP_CACHE_SLOTS 8192  /* recent final responses (retransmissions) */
#define SIP_EVQ         80    /* call events held until a burst commits */
#define SIP_T1_MS       500
#define SIP_T2_MS       4000
#define SIP_TH_MS       (64 * SIP_T1_MS)

enum { SIP_PROTO_UDP = 0, SIP_PROTO_TCP = 1 };

/* Where a message came from, and where its responses go. */
typedef struct sip_src {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int proto;        /* SIP_PROTO_* */
    uint64_t conn_id; /* TCP connection; 0 for UDP */
} sip_src;

/* A span of the message buffer (not NUL-terminated). */
typedef struct sip_span {
    const char *p;
    size_t n;
} sip_span;

/*
 * The raw view of a message: what is needed to frame it (TCP), to match it to
 * a transaction and to address a response, found without a full parse.
 */
typedef struct sip_raw {
    const char *buf; /* the message scanned */
    size_t len;
    int is_response;
    sip_span method;            /* request method */
    sip_span ruri;              /* request URI */
    sip_span via[SIP_MAX_VIAS]; /* whole Via lines, value part */
    int nvia;
    sip_span from, to, call_id, cseq; /* values, trimmed */
    sip_span branch;                  /* top Via branch parameter */
    sip_span max_forwards;
    sip_span pai;                      /* P-Asserted-Identity */
    sip_span require[SIP_MAX_REQUIRE]; /* Require values */
    int nrequire;
    int line_bad;        /* extra or trailing SP in the request line */
    int version_bad;     /* SIP version other than 2.0 */
    long content_length; /* -1 if absent */
    size_t hdr_len;      /* bytes up to and including the blank line */
    int bad;             /* SIP_RAW_* reason the message is malformed */
} sip_raw;

enum {
    SIP_RAW_OK = 0,
    SIP_RAW_JUNK,      /* not a SIP message at all: drop */
    SIP_RAW_NOHDREND,  /* headers not terminated */
    SIP_RAW_TOOBIG,    /* header line or message over the limits */
    SIP_RAW_MISSING,   /* a mandatory header is missing */
    SIP_RAW_BADCSEQ,   /* CSeq not "<number> <method>" or method mismatch */
    SIP_RAW_BADLINE,   /* request line not "M SP URI SP SIP/2.0" */
    SIP_RAW_BADADDR,   /* From/To: bad display name or quoting */
    SIP_RAW_BADVERSION /* SIP version other than 2.0 (505) */
};

/* Scan a message. Returns SIP_RAW_OK or a SIP_RAW_* reason (out->bad). */
int sip_raw_scan(const char *buf, size_t len, sip_raw *out);

/* 1 if the message can be answered (Via, From, To, Call-ID, CSeq found). */
int sip_raw_addressable(const sip_raw *r);

/*
 * TCP framing: length of the first complete message in buf (headers plus
 * Content-Length body) in *msglen. Returns 1 complete, 0 need more, -1 bad
 * framing (close the connection). Leading CRLF keep-alives are reported as a
 * message of only CR/LF bytes.
 */
int sip_raw_frame(const char *buf, size_t len, size_t *msglen);

/* CSeq number, or -1 if not a number. */
long sip_raw_cseq_num(const sip_raw *r);

int sip_span_eq(sip_span s, const char *lit); /* case-insensitive */

/* A fixed-capacity output buffer; overflow sets err and stops writing. */
typedef struct sip_buf {
    char *p;
    size_t len, cap;
    int err;
} sip_buf;

void sb_put(sip_buf *b, const char *p, size_t n);
void sb_puts(sip_buf *b, const char *s);
void sb_span(sip_buf *b, sip_span s);
void sb_printf(sip_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Start a response to the request `r` from `src`: status line, Via lines (the
 * top one with received/rport), From, To (with our tag when it has none),
 * Call-ID, CSeq. The caller appends headers and ends with sip_resp_end().
 */
void sip_resp_begin(sip_buf *b, const sip_raw *r, const sip_src *src, int code,
                    const char *reason);
/* Server, Content-Length: 0 and the blank line. */
void sip_resp_end(sip_buf *b);
const char *sip_reason(int code);

/* 64-bit FNV-1a, for tags, cache keys and nonces. */
uint64_t sip_hash(uint64_t h, const void *p, size_t n);
#define SIP_HASH_INIT 1469598103934665603ull

/* ---- digest (sip_digest.c) ---------------------------------------------- */

enum { SIP_ALG_MD5 = 0, SIP_ALG_SHA256 = 1 };

/* Lower-case hex digest of data (MD5: 32 chars, SHA-256: 64) into out. */
int sip_digest_hex(int alg, const char *data, size_t n, char out[65]);

/* The response a client should send (RFC 7616 / 8760). */
int sip_digest_response(int alg, const char *ha1, const char *nonce,
                        const char *nc, const char *cnonce, const char *qop,
                        const char *method, const char *uri, char out[65]);

/* A stored device credential ("sip/dev/<username>" in the kv store). */
typedef struct sip_cred {
    char user_id[TSPS_ID_MAX];
    char label[TSPS_LABEL_MAX];
    char realm[128];
    char ha1_md5[33];
    char ha1_sha256[65];
} sip_cred;

int sip_cred_get(tsps_engine *eng, const char *username, sip_cred *out);

/* ---- guard (sip_guard.c): nonces, failure limits ----------------------- */

#define SIP_NONCE_SLOTS 16384 /* nonces in flight */
#define SIP_NONCE_TTL   300   /* seconds a nonce lives */
#define SIP_GUARD_SLOTS 8192  /* addresses and device names tracked */
#define SIP_GUARD_KEY   136

typedef struct sip_nonce_slot {
    uint64_t serial; /* the nonce that owns the slot */
    uint64_t nc;     /* highest nonce count accepted with it */
    uint64_t txn_h;  /* transaction (branch, Call-ID, CSeq) it accepted */
} sip_nonce_slot;

typedef struct sip_guard_ent {
    char key[SIP_GUARD_KEY]; /* "a<ip>" or "u<device name>"; "" = free */
    int failures;
    int64_t window_start, locked_until;
} sip_guard_ent;

enum { SIP_NONCE_BAD = 0, SIP_NONCE_OK = 1, SIP_NONCE_STALE = -1 };

/* The client's address as text ("-" if unknown). */
void sip_src_ip(const sip_src *src, char *out, size_t n);
/* A fresh nonce for a client. */
int sip_nonce_make(tspsd_sip *s, const sip_src *src, int64_t now, char *out,
                   size_t n);
/* SIP_NONCE_*; *slot set when OK. */
int sip_nonce_check(tspsd_sip *s, const char *nonce, const sip_src *src,
                    int64_t now, sip_nonce_slot **slot);
/* Accept nonce count nc_hex (qop=auth) or a single use for the request
 * whose transaction hash is txn_h; 1 = a retransmission of the request
 * that used it last (same transaction), -1 = a replay. */
int sip_nonce_use(sip_nonce_slot *slot, const char *nc_hex, int has_qop,
                  uint64_t txn_h);
/* Seconds an address or device name is still locked out, 0 if not. */
int64_t sip_guard_locked(tspsd_sip *s, const sip_src *src, const char *user,
                         int64_t now);
/* Count (and log) one authentication failure. */
void sip_guard_fail(tspsd_sip *s, const sip_src *src, const char *user,
                    const char *reason, int64_t now);

/* ---- the front ------------------------------------------------------------
 */

typedef struct sip_held sip_held;
typedef struct sip_conn sip_conn;
typedef struct sip_cache_ent sip_cache_ent;

/* Sink for responses; the socket layer, or a capture in tests/fuzzing. */
typedef void (*sip_send_fn)(tspsd_sip *s, const sip_src *dst, const char *p,
                            size_t n);

struct tspsd_sip {
    struct event_base *base;
    tsps_engine *eng;
    tspsd_sip_config cfg;
    char listen[64], domain[128], realm[128];
    tspsd_sip_hooks hooks;
    int algs[2]; /* digest challenge order (SIP_ALG_*) */
    int nalgs;

    int udp_fd;
    struct event *udp_ev;
    struct evconnlistener *tcp_lis;
    sip_conn *conns;
    uint64_t next_conn_id;
    int nconns;

    char *in_buf;     /* SIP_UDP_BATCH receive buffers */
    sip_send_fn send; /* default: the sockets */
    void *send_arg;   /* for a capture sink */

    /* UDP responses queued while a batch is processed (sendmmsg). */
    int batching;
    tsps_batch *burst;           /* the UDP burst's group commit, NULL if none
                                    (always NULL with [history] commit = async) */
    struct sip_hist *hist;       /* commit = async: the writer (sip_hist.c) */
    struct sip_relay_ent *relay; /* answer_in_place: relayed calls */
    unsigned burst_calls;        /* calls recorded in it so far */
    struct sip_event *evq;       /* SIP_EVQ events waiting for the commit */
    int nevq;
    int nout;
    sip_src out_dst[SIP_UDP_BATCH];
    size_t out_len[SIP_UDP_BATCH];
    char (*out_buf)[SIP_MAX_RESP];

    sip_held *held; /* held (ask) and retransmitting INVITE transactions */
    int nheld;
    sip_held **held_idx; /* 3 x held_buckets chain heads (sip_txn.c) */
    size_t held_buckets;
    int64_t held_refused_logged; /* last log line about the caps */
    sip_cache_ent *cache;        /* SIP_CACHE_SLOTS recent final responses */

    struct event *purge_ev;
    unsigned char secret[32]; /* nonce signing key, random per open */
    uint64_t nonce_serial;
    sip_nonce_slot *nonces; /* SIP_NONCE_SLOTS */
    sip_guard_ent *guard;   /* SIP_GUARD_SLOTS */

    struct sip_mwi_sub *mwi; /* SIP_MWI_MAX subscriptions (sip_mwi.c) */
    uint64_t stat_rx, stat_tx, stat_bad;
    uint64_t stat_hist_fail; /* calls answered but not in history */
    uint64_t stat_auth_fail, stat_auth_locked, stat_held_refused;
};

/* A call event for the daemon (hooks.call_event). While a UDP burst is
 * open its events wait for the burst's commit, like its responses: the
 * daemon never hears of a call id whose history may still be lost. */
void sip_emit(tspsd_sip *s, int kind, uint64_t id, const tsps_decision *d,
              tsps_outcome oc);

/* Process one message (the pure path used by sockets and the fuzzer). */
void sip_process(tspsd_sip *s, const char *buf, size_t len, const sip_src *src);

/* Send a response to dst through s->send. */
/* A response with just a status line (reason NULL = the standard one)
 * and optional extra header lines; logged and dropped if too large. */
void sip_respond_simple(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                        int code, const char *reason, const char *extra);
void sip_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n);

void sip_log(tspsd_sip *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* AOR (a user part) -> user id: a device name, a public number or a user
 * id (sip_registrar.c). TSPS_OK or TSPS_ENOTFOUND. */
int sip_aor_user(tspsd_sip *s, const char *aor, char user_id[TSPS_ID_MAX],
                 sip_cred *aor_cred);
/* SUBSCRIBE (sip_mwi.c): message-summary subscriptions of registered
 * devices; other event packages 489. */
void sip_subscribe(tspsd_sip *s, void *msg, const sip_raw *r,
                   const sip_src *src);
/* Registrar (sip_registrar.c). */
void sip_register(tspsd_sip *s, void *msg, const sip_raw *r,
                  const sip_src *src);

/* Redirect (sip_redirect.c): build the final response for a decision. */
typedef struct sip_final {
    int code;
    tsps_outcome outcome;
} sip_final;
void sip_redirect_build(tspsd_sip *s, sip_buf *b, const sip_raw *r,
                        const sip_src *src, const tsps_decision *d,
                        uint64_t call_id, int64_t now, const char *ruri_key,
                        int timeout, sip_final *out);
void sip_invite(tspsd_sip *s, void *msg, const sip_raw *r, const sip_src *src);
/* INVITE from the raw scan alone; 0 = handled, -1 = needs the full parse. */
int sip_invite_fast(tspsd_sip *s, const sip_raw *r, const sip_src *src);

/* A URI's parts (sip_uri.c): spans into the text, no allocation. */
typedef struct sip_uri {
    sip_span scheme, user, host, port;
} sip_uri;
/* name-addr or addr-spec -> URI and display name (quotes removed). */
int sip_addr_split(sip_span v, sip_span *uri, sip_span *display);
int sip_uri_split(sip_span uri, sip_uri *out);
/* "user@host[:port]", host lower-case, no port when 5060 or none. */
int sip_uri_key(sip_span uri, char *out, size_t n);

/* Transactions (sip_txn.c). */
int sip_txn_absorb(tspsd_sip *s, const sip_raw *r, const sip_src *src);
void sip_txn_cancel(tspsd_sip *s, const sip_raw *r, const sip_src *src);
void sip_txn_ack(tspsd_sip *s, const sip_raw *r);
int sip_txn_hold(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                 const tsps_decision *d, uint64_t id, const char *ruri_key);
void sip_txn_remember(tspsd_sip *s, const sip_raw *r, const char *resp,
                      size_t n);
void sip_txn_close_all(tspsd_sip *s);
int sip_txn_index_init(tspsd_sip *s);
void sip_txn_index_free(tspsd_sip *s);
/* 0 if a call with decision d may be held, else the code to answer
 * (486: the user's share is full, 503: all held slots are) and the
 * Retry-After seconds. */
int sip_txn_hold_room(tspsd_sip *s, const tsps_decision *d, int *retry_after);
int sip_txn_cache_init(tspsd_sip *s);
void sip_txn_cache_free(tspsd_sip *s);
int sip_txn_key(const sip_raw *r, char *buf, size_t len);

/* Sockets (sip_net.c). */
void sip_net_flush(tspsd_sip *s);
int sip_net_open(tspsd_sip *s);
void sip_net_close(tspsd_sip *s);
void sip_net_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n);

/* Commit the burst's group commit now (before a handler that must read
 * its own writes back, e.g. the registrar's 200 listing the bindings). */
void sip_burst_end(tspsd_sip *s);
/* Begin the burst's group commit (commit = burst only). */
void sip_burst_begin(tspsd_sip *s);

/* [media] answer_in_place (sip_relay.c): calls for tsps's media front
 * relayed to it instead of a 302. start: relay the INVITE (0), or -1 when
 * it cannot (then answer 302); request/response: 1 when the message
 * belonged to a relayed call and was handled. */
typedef struct sip_relay_ent sip_relay_ent;
int sip_relay_open(tspsd_sip *s);
void sip_relay_close(tspsd_sip *s);
int sip_relay_start(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                    const char *media_uri);
int sip_relay_request(tspsd_sip *s, const sip_raw *r, const sip_src *src);
int sip_relay_response(tspsd_sip *s, const sip_raw *r);

/* [history] commit = async (sip_hist.c). Without it (commit = burst),
 * sip_hist_record() is tsps_history_append() in the burst's batch. */
typedef struct sip_hist sip_hist;
int sip_hist_open(tspsd_sip *s);
void sip_hist_close(tspsd_sip *s);
/* Record a call answered at once: its id now, the record within the
 * window. Loop thread. */
int sip_hist_record(tspsd_sip *s, const tsps_decision *d, tsps_outcome oc,
                    uint64_t *id);
/* Calls the writer could not record (any thread). */
uint64_t sip_hist_failed(const tspsd_sip *s);

#endif

/*
 * tsps.h - the tsps routing engine (libtsps), public API.
 *
 * libtsps turns (called number, caller number, time) into a routing decision
 * with a trace that says why, from data held in an LMDB store. It has no event
 * loop and does no network I/O. This header is the authoritative reference.
 *
 * Conventions (see docs/style.md):
 *  - every function returns TSPS_OK (0) or a negative TSPS_E* code;
 *  - out-parameters come last and are cleared on failure;
 *  - input structs start with `int version` and are set from an initializer;
 *  - strings are NUL-terminated UTF-8; fixed-size fields are truncated
 *    never, an overlong input is refused with TSPS_EINVAL.
 */
#ifndef TSPS_TSPS_H
#define TSPS_TSPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TSPS_STATIC)
#define TSPS_API
#elif defined(TSPS_BUILDING)
#define TSPS_API __attribute__((visibility("default")))
#else
#define TSPS_API
#endif

#define TSPS_VERSION_MAJOR 0
#define TSPS_VERSION_MINOR 2
#define TSPS_VERSION_PATCH 0
#define TSPS_VERSION_HEX                                                       \
    ((TSPS_VERSION_MAJOR << 16) | (TSPS_VERSION_MINOR << 8) |                  \
     (TSPS_VERSION_PATCH))

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Append-only: never renumber, never reuse. TSPS_E* codes stay within
 * -99 .. -1; libcmsbridge's CMSB_E* lie in -199 .. -101. */
/* clang-format off */
#define TSPS_ERRNO_MAP(X)                                                  \
    X(ENOTFOUND, -1,  "no matching entry")                                 \
    X(EINVAL,    -2,  "invalid argument")                                  \
    X(ENOMEM,    -3,  "out of memory")                                     \
    X(ENOBUFS,   -4,  "caller buffer too small")                           \
    X(ESTORE,    -5,  "storage error")                                     \
    X(ENOSPC,    -6,  "store is full")                                     \
    X(ESCHEMA,   -7,  "store has a newer schema than this library")        \
    X(EEXIST,    -8,  "entry already exists")                              \
    X(EBUSY,     -9,  "resource busy")                                     \
    X(ETZ,       -10, "unknown time zone")                                 \
    X(ENUMBER,   -11, "number cannot be normalised")                       \
    X(EREGION,   -12, "unknown region")                                    \
    X(ESTATE,    -13, "operation not valid in the current state")          \
    X(EVERSION,  -14, "unsupported struct version")
/* clang-format on */

typedef enum {
    TSPS_OK = 0,
#define X(name, val, msg) TSPS_##name = (val),
    TSPS_ERRNO_MAP(X)
#undef X
} tsps_err;

/**
 * Describe an error code.
 *
 * @param err  TSPS_OK or a TSPS_E* code (other values give "unknown error")
 * @return a static string, never NULL
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_strerror(int err);

/**
 * Symbolic name of an error code ("TSPS_ENOTFOUND").
 *
 * @return a static string, never NULL
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_errname(int err);

/**
 * Runtime version of the library, e.g. "0.2.0".
 *
 * @return a static string
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_version(void);

/**
 * Runtime version as TSPS_VERSION_HEX.
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API unsigned tsps_version_hex(void);

/* ------------------------------------------------------------------------ */
/* Sizes of fixed fields (bytes including the NUL)                          */
/* ------------------------------------------------------------------------ */

#define TSPS_ID_MAX        64  /* user id: [a-z0-9._@-], 1..63 chars */
#define TSPS_NAME_MAX      128 /* display names, summaries */
#define TSPS_E164_MAX      17  /* "+" and up to 15 digits */
#define TSPS_EXT_MAX       16  /* extension digits */
#define TSPS_CODE_MAX      32  /* handling code: [A-Z0-9_-], 1..31 chars */
#define TSPS_UID_MAX       128 /* contact / event uid from the source */
#define TSPS_SOURCE_MAX    64  /* source name */
#define TSPS_URI_MAX       256 /* SIP/tel URIs, targets */
#define TSPS_LABEL_MAX     16  /* device label: desk, mobile, softphone */
#define TSPS_EMAIL_MAX     128 /* e-mail address */
#define TSPS_TZ_MAX        64  /* IANA time zone name */
#define TSPS_DETAIL_MAX    128 /* short free text in records and traces */
#define TSPS_MAX_NUMBERS   8   /* numbers per contact */
#define TSPS_MAX_EMAILS    6   /* emails per contact */
#define TSPS_MAX_ATTENDEES 24  /* attendees per event */
#define TSPS_MAX_TARGETS   8   /* targets per decision */
#define TSPS_MAX_TRACE     16  /* trace steps per decision */
#define TSPS_MAX_DEVICES   4   /* device labels a ring method may name */

/* ------------------------------------------------------------------------ */
/* Engine                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tsps_engine tsps_engine;

/** Log levels passed to tsps_log_fn. */
typedef enum {
    TSPS_LOG_ERROR = 0,
    TSPS_LOG_WARN = 1,
    TSPS_LOG_INFO = 2,
    TSPS_LOG_DEBUG = 3
} tsps_log_level;

/**
 * Log callback. `msg` is a logfmt fragment without timestamp or level
 * (e.g. `msg="map grown" bytes=536870912`) and never contains secrets.
 * Called from whichever thread triggered the event; never with a lock held.
 */
typedef void (*tsps_log_fn)(void *arg, int level, const char *msg);

/** Engine open flags. */
#define TSPS_OPEN_NOSYNC 0x1u /* do not fsync on commit (benchmarks, tests) */
#define TSPS_OPEN_RDONLY 0x2u /* read-only: route and query, no writes */
/* Do not hold the contact index in memory. By default an engine that
 * writes keeps a copy of the (user, number) -> contact index in RAM (about
 * 100 bytes per contact number, built at open: ~0.3 s per million), which
 * halves routing latency; a read-only engine always reads the store. Since
 * 0.2 the flag also keeps each user's events and registrations out of
 * memory (held by default as well: 40 bytes per event piece plus its
 * summary and uid, and each registration's stored bytes). */
#define TSPS_OPEN_NO_CONTACT_CACHE 0x4u

#define TSPS_CONFIG_VERSION 1

/** Engine settings; set from TSPS_CONFIG_INIT, then fill what you need. */
typedef struct tsps_config {
    int version;          /* TSPS_CONFIG_VERSION */
    const char *path;     /* directory of the LMDB environment (created) */
    size_t map_size;      /* initial map size; 0 = 64 MiB */
    size_t map_max;       /* growth limit; 0 = 64 GiB; past it: TSPS_ENOSPC */
    unsigned flags;       /* TSPS_OPEN_* */
    unsigned max_readers; /* concurrent reader threads; 0 = 126 */
    tsps_log_fn log;      /* optional */
    void *log_arg;
    /* Optional allocator hooks; all three or none. */
    void *(*alloc_malloc)(void *arg, size_t n);
    void (*alloc_free)(void *arg, void *p);
    void *alloc_arg;
    const char *region; /* site region (ISO 3166) for called numbers that
                           arrive in national form; NULL = only
                           international forms are understood */
} tsps_config;

#define TSPS_CONFIG_INIT                                                       \
    {                                                                          \
        TSPS_CONFIG_VERSION, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL,   \
            NULL                                                               \
    }

/**
 * Open (creating if needed) a store and its engine.
 *
 * @param cfg       settings; cfg->path required
 * @param[out] out  the engine; NULL on failure
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOMEM, TSPS_ESTORE, TSPS_ESCHEMA
 *         (the store was written by a newer libtsps), TSPS_EVERSION,
 *         TSPS_EBUSY (another engine, in this process or another, has the
 *         store open for writing: one writer per store; read-only engines
 *         may be open anywhere and follow the writer's commits)
 * Thread-safety: safe; open one engine per store per process.
 * Since: 0.1
 */
TSPS_API int tsps_engine_open(const tsps_config *cfg, tsps_engine **out);

/**
 * Read every page of the store at `path` once (each database, each key and
 * value), to find damage before an engine relies on it: a data file shorter
 * than its pages, meta pages LMDB refuses, or a read error on the way are
 * reported through `log` and answered TSPS_ESTORE.
 *
 * LMDB trusts its pages: some damaged pages make it fault (SIGSEGV, SIGBUS)
 * or abort on an assertion instead of returning an error. Run this where a
 * crash costs nothing — tspsd runs it in a child process before it opens
 * the store and treats a crash as "corrupt". Opens the store read-only
 * without LMDB's lock file: run it while no writer is active.
 *
 * @param path     the store directory (as tsps_config.path)
 * @param log      optional, as tsps_config.log
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOMEM, TSPS_ESTORE
 * Thread-safety: safe; touches no engine.
 * Since: 0.2
 */
TSPS_API int tsps_store_verify(const char *path, tsps_log_fn log,
                               void *log_arg);

/**
 * Close an engine. NULL is a no-op. No call may be in flight on it.
 *
 * Thread-safety: not concurrent with any other call on `eng`.
 * Since: 0.1
 */
TSPS_API void tsps_engine_close(tsps_engine *eng);

/** Store statistics. */
typedef struct tsps_stats {
    uint64_t users, numbers, contacts, contact_numbers, events, registrations,
        calls;
    uint64_t map_size;   /* current map size in bytes */
    uint64_t used_bytes; /* pages in use * page size */
    uint64_t config_generation;
} tsps_stats;

/**
 * Counts of what the store holds.
 *
 * @return TSPS_OK, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_engine_stats(tsps_engine *eng, tsps_stats *out);

/* ------------------------------------------------------------------------ */
/* Number normalisation                                                     */
/* ------------------------------------------------------------------------ */

/** How to read national and international numbers in one region. */
typedef struct tsps_dialplan {
    char region[3]; /* ISO 3166-1 alpha-2, upper case ("DE") */
    char cc[4];     /* country calling code digits ("49") */
    char trunk[4];  /* national (trunk) prefix ("0"; "" if none) */
    char intl[8];   /* international prefix ("00"; "011" for NANP) */
} tsps_dialplan;

/**
 * Fill a dial plan from the built-in region table.
 *
 * @param region  ISO 3166-1 alpha-2 code, any case
 * @return TSPS_OK, TSPS_EINVAL, TSPS_EREGION
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_dialplan_for_region(const char *region, tsps_dialplan *out);

/** Kinds of normalised numbers. */
typedef enum {
    TSPS_NUM_E164 = 0, /* a full international number */
    TSPS_NUM_WITHHELD, /* no CLI: empty, anonymous, restricted ... */
    TSPS_NUM_LOCAL     /* a subscriber number without area code: not
                          resolvable to one E.164 number */
} tsps_number_kind;

/** A normalised number. */
typedef struct tsps_number {
    tsps_number_kind kind;
    char e164[TSPS_E164_MAX]; /* "+4930123456" when kind == TSPS_NUM_E164;
                                 the digits as dialled for TSPS_NUM_LOCAL */
    char ext[TSPS_EXT_MAX];   /* extension digits, "" if none */
} tsps_number;

/**
 * Normalise a number as written or signalled to E.164.
 *
 * Accepts "+49 30 1234-567", "0049...", "030 1234567" (national, trunk
 * prefix), "(202) 555-0143" (NANP), "tel:+1-202-555-0143;ext=12",
 * "sip:+4930123@host;user=phone", extensions ";ext=", "x123", "ext. 123",
 * and withheld forms ("", "anonymous", "restricted", "unavailable",
 * "private", "withheld", "unknown", "sip:anonymous@anonymous.invalid").
 * No allocation; about 100 ns.
 *
 * @param input  the number; NULL is treated as withheld
 * @param dp     dial plan of the party whose view the number is in
 * @param[out] out  result; cleared on failure
 * @return TSPS_OK, TSPS_EINVAL (dp NULL), TSPS_ENUMBER (not a number:
 *         letters, too long, too short, unknown country code)
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_normalize(const char *input, const tsps_dialplan *dp,
                            tsps_number *out);

/**
 * Normalise a number with no dial plan ("no region"): only international
 * forms succeed — "+49 30 1234567", "++49...", "tel:+49-30-1234567",
 * "tel:1234567;phone-context=+49-30", "sip:+4930...@host" — and withheld
 * forms give TSPS_NUM_WITHHELD. National numbers, IDD prefixes ("0049...")
 * and local numbers are TSPS_ENUMBER: without a plan they mean nothing.
 * For callers that know no region, instead of tsps_dialplan_for_region()'s
 * TSPS_EREGION. Same rules, no allocation.
 *
 * @param input  the number; NULL is treated as withheld
 * @param[out] out  the result; cleared on error
 * @return TSPS_OK, TSPS_ENUMBER, TSPS_EINVAL (out NULL)
 * Thread-safety: safe.
 * Since: 0.2
 */
TSPS_API int tsps_normalize_intl(const char *input, tsps_number *out);

/* ------------------------------------------------------------------------ */
/* Statuses and handling methods                                            */
/* ------------------------------------------------------------------------ */

/** A user's presence. TSPS_STATUS_ANY only names "every status" in rules. */
typedef enum {
    TSPS_STATUS_ANY = 0,
    TSPS_STATUS_AVAILABLE = 1,
    TSPS_STATUS_BUSY = 2,
    TSPS_STATUS_DND = 3,
    TSPS_STATUS_AWAY = 4,
    TSPS_STATUS_IN_MEETING = 5,
    TSPS_STATUS_OFF_HOURS = 6,
    TSPS_STATUS__COUNT = 7
} tsps_status;

/**
 * Name of a status: "available", "busy", "dnd", "away", "meeting",
 * "off-hours", "any".
 *
 * @param st  a tsps_status
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_status_name(tsps_status st);
/**
 * Parse a status name (the names of tsps_status_name(), case-insensitive;
 * also "in-meeting", "in_meeting", "off_hours", "offhours", and "default"
 * or "*" for TSPS_STATUS_ANY).
 *
 * @param name  the name; NULL gives -1
 * @return the tsps_status, or -1 if the name is unknown
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_status_parse(const char *name);

/** Handling method kinds. */
typedef enum {
    TSPS_METHOD_NONE = 0, /* no method: e.g. the called number is unknown */
    TSPS_METHOD_RING,     /* ring the user's registered devices */
    TSPS_METHOD_FORWARD,  /* forward to a number or URI */
    TSPS_METHOD_VOICEMAIL,
    TSPS_METHOD_IVR,
    TSPS_METHOD_ATTENDANT,
    TSPS_METHOD_REJECT,
    TSPS_METHOD_ASK, /* hold the call and ask the user, then fallback */
    TSPS_METHOD__COUNT
} tsps_method_kind;

/**
 * Name of a method kind: "none", "ring", "forward", "voicemail", "ivr",
 * "attendant", "reject", "ask".
 *
 * @param k  a tsps_method_kind
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_method_kind_name(tsps_method_kind k);

typedef enum {
    TSPS_RING_PARALLEL = 0,
    TSPS_RING_SEQUENTIAL = 1
} tsps_ring_mode;

typedef enum {
    TSPS_REJECT_BUSY = 0,       /* SIP 486 */
    TSPS_REJECT_DECLINE = 1,    /* SIP 603 */
    TSPS_REJECT_UNAVAILABLE = 2 /* SIP 480 */
} tsps_reject_reason;

/** The part of a method that can also serve as a fallback. */
typedef struct tsps_action {
    tsps_method_kind kind;    /* never TSPS_METHOD_ASK */
    tsps_ring_mode ring_mode; /* RING */
    uint16_t step_timeout_s;  /* RING sequential: seconds per device */
    uint8_t ndevices;         /* RING: 0 = every registered device */
    char devices[TSPS_MAX_DEVICES][TSPS_LABEL_MAX]; /* RING: device labels,
                                                       rung in this order */
    tsps_reject_reason reject;                      /* REJECT */
    char target[TSPS_URI_MAX]; /* FORWARD number/URI; VOICEMAIL, IVR,
                                  ATTENDANT: optional override of the
                                  user's URI (IVR: menu id) */
} tsps_action;

/**
 * A handling method: what to do with a call. For TSPS_METHOD_ASK,
 * `ask_timeout_s` and `fallback` say what happens if nobody acts; for RING,
 * an optional `fallback` (kind != NONE) follows when no device answers.
 */
typedef struct tsps_method {
    tsps_action a;
    tsps_method_kind kind;  /* == a.kind except for ASK */
    uint16_t ask_timeout_s; /* ASK: seconds before fallback */
    tsps_action fallback;   /* kind NONE = no fallback */
} tsps_method;

/**
 * Parse a method from its text form. Grammar (words case-insensitive):
 *
 *   method   = action [ "then" action ]
 *            | "ask" [ "timeout=" N ] [ "then" action ]
 *   action   = "ring" [ "parallel" | "sequential" ] [ "timeout=" N ]
 *                     [ "devices=" label { "," label } ]
 *            | "forward" TARGET | "voicemail" [ URI ] | "ivr" MENU
 *            | "attendant" [ URI ]
 *            | "reject" [ "busy" | "decline" | "unavailable" ]
 *
 * e.g. "ring sequential timeout=15 devices=desk,mobile then voicemail",
 * "ask timeout=20 then attendant", "forward +4930123456", "reject decline".
 *
 * @param spec  text form
 * @param[out] out  parsed method
 * @param err   optional buffer for a one-line reason on failure
 * @return TSPS_OK, TSPS_EINVAL
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_method_parse(const char *spec, tsps_method *out, char *err,
                               size_t errlen);

/**
 * Write the text form of a method (parseable by tsps_method_parse()).
 *
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOBUFS (with *needed set, if non-NULL)
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_method_format(const tsps_method *m, char *buf, size_t buflen,
                                size_t *needed);

/* ------------------------------------------------------------------------ */
/* Users                                                                    */
/* ------------------------------------------------------------------------ */

#define TSPS_USER_VERSION 1

/** Working hours: up to two ranges per weekday, minutes since midnight. */
typedef struct tsps_hours {
    /* [weekday 0=Sunday..6][range 0..1] = {start, end}; start == end: none */
    uint16_t range[7][2][2];
} tsps_hours;

/** User flags. */
#define TSPS_USER_EXPECTED_RINGS_THROUGH                                       \
    0x1u /* attendees of the current                                           \
             meeting are treated as if                                         \
             the user were available */
/* No working hours: never off-hours. Since 0.2 an input only:
 * tsps_user_put() stores it as hours "mon-sun 00:00-24:00" and clears it,
 * so the hours read back are the hours that apply and new hours saved over
 * them take effect (records stored with the flag read back the same way). */
#define TSPS_USER_NO_HOURS 0x2u

/** A user (a person whose calls are routed). */
typedef struct tsps_user {
    int version;          /* TSPS_USER_VERSION */
    char id[TSPS_ID_MAX]; /* required, stable */
    char display_name[TSPS_NAME_MAX];
    tsps_dialplan dialplan;            /* region required; cc/trunk/intl
                                          filled from the region if empty */
    char tz[TSPS_TZ_MAX];              /* IANA zone, default "UTC" */
    tsps_hours hours;                  /* default Mon-Fri 09:00-17:00 */
    char unknown_code[TSPS_CODE_MAX];  /* code for unknown callers,
                                          default "UNKNOWN" */
    char withheld_code[TSPS_CODE_MAX]; /* code for withheld CLI,
                                          default "WITHHELD" */
    char attendant_uri[TSPS_URI_MAX];  /* used by TSPS_METHOD_ATTENDANT */
    char voicemail_uri[TSPS_URI_MAX];  /* used by TSPS_METHOD_VOICEMAIL */
    uint32_t expected_window_s;        /* meeting starting within this is
                                          "now" for expected callers;
                                          default 900 */
    unsigned flags;                    /* TSPS_USER_*; default
                                          EXPECTED_RINGS_THROUGH */
} tsps_user;

/**
 * Fill a user with defaults (version, hours, codes, window, flags).
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API void tsps_user_init(tsps_user *u);

/**
 * Parse working hours text, e.g. "mon-fri 09:00-12:00,13:00-17:30; sat
 * 10:00-12:00". Days not named have no hours. "none" clears all.
 *
 * @return TSPS_OK, TSPS_EINVAL
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_hours_parse(const char *text, tsps_hours *out);

/**
 * Write working hours in the text form of tsps_hours_parse() (Monday first,
 * equal consecutive days grouped; "none" when there are no hours). The
 * output is NUL-terminated.
 *
 * @param h         the hours
 * @param buf       output buffer (may be NULL when buflen is 0)
 * @param buflen    size of buf
 * @param[out] needed  optional: bytes needed including the NUL
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOBUFS (*needed set, if non-NULL)
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_hours_format(const tsps_hours *h, char *buf, size_t buflen,
                               size_t *needed);

/**
 * Create or replace a user. Committed before return.
 *
 * @return TSPS_OK, TSPS_EINVAL (bad id, region or fields), TSPS_ETZ,
 *         TSPS_EREGION, TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_user_put(tsps_engine *eng, const tsps_user *u);

/**
 * Read a user.
 *
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_user_get(tsps_engine *eng, const char *id, tsps_user *out);

/**
 * Delete a user and everything of theirs (numbers, contacts, codes, status,
 * events, registrations). Call history is kept.
 *
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_user_delete(tsps_engine *eng, const char *id);

/** Callback for listings: return 0 to go on, non-zero to stop. */
typedef int (*tsps_user_cb)(void *arg, const tsps_user *u);

/**
 * List users in id order. The struct passed to `cb` is valid during the
 * call only. The callback runs inside a read transaction: it must not call
 * back into write functions of the engine.
 *
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_user_list(tsps_engine *eng, tsps_user_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Numbers (DID -> user)                                                    */
/* ------------------------------------------------------------------------ */

/**
 * Assign a public number to a user (one-number service). The number is
 * normalised with the user's dial plan.
 *
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EEXIST (number
 *         belongs to another user), TSPS_ENUMBER, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_number_add(tsps_engine *eng, const char *user_id,
                             const char *number);

/**
 * Remove a public number from whichever user has it. Committed before
 * return.
 *
 * @param e164  the number in E.164 form ("+4930123456")
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ENUMBER (not E.164),
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_number_remove(tsps_engine *eng, const char *e164);

/**
 * Find the user a public number (E.164) belongs to.
 *
 * @param[out] user_id  buffer of at least TSPS_ID_MAX bytes
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ENUMBER
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_number_lookup(tsps_engine *eng, const char *e164,
                                char user_id[TSPS_ID_MAX]);

typedef int (*tsps_number_cb)(void *arg, const char *e164);

/**
 * List the public numbers of a user, in key order. The string passed to `cb`
 * is valid during the call only; `cb` returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param cb       called once per number
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOTFOUND (no such user), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_number_list(tsps_engine *eng, const char *user_id,
                              tsps_number_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Contacts                                                                 */
/* ------------------------------------------------------------------------ */

/** Where a contact's handling code came from. */
typedef enum {
    TSPS_CODE_SRC_NONE = 0,
    TSPS_CODE_SRC_PROPERTY, /* a vCard property such as X-TSPS-CODE */
    TSPS_CODE_SRC_CATEGORY, /* a CATEGORIES value */
    TSPS_CODE_SRC_GROUP,    /* membership of a group named like the code */
    TSPS_CODE_SRC_NOTE,     /* a marker such as [tsps:VIP] in a text field */
    TSPS_CODE_SRC_MANUAL,   /* set through the API / tspsctl */
    TSPS_CODE_SRC__COUNT
} tsps_code_source;

/**
 * Name of a code source: "none", "property", "category", "group", "note",
 * "manual".
 *
 * @param s  a tsps_code_source
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_code_source_name(tsps_code_source s);

#define TSPS_CONTACT_VERSION 1

/** A contact of one user. */
typedef struct tsps_contact {
    int version;                  /* TSPS_CONTACT_VERSION */
    char uid[TSPS_UID_MAX];       /* stable id within the user */
    char source[TSPS_SOURCE_MAX]; /* name of the source it came from */
    char name[TSPS_NAME_MAX];     /* formatted name */
    char org[TSPS_NAME_MAX];
    char code[TSPS_CODE_MAX]; /* "" = no code */
    tsps_code_source code_source;
    char code_detail[TSPS_DETAIL_MAX]; /* e.g. the precedence decision */
    uint8_t nnumbers;
    char numbers[TSPS_MAX_NUMBERS][TSPS_E164_MAX + 8]; /* any format on
                                            put (normalised with the user's
                                            dial plan); E.164 on get */
    uint8_t nemails;
    char emails[TSPS_MAX_EMAILS][TSPS_EMAIL_MAX]; /* stored lower case */
} tsps_contact;

/**
 * Clear a contact and set its version. NULL is a no-op.
 *
 * @param[out] c  the contact to initialise
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API void tsps_contact_init(tsps_contact *c);

/**
 * The key under which a contact with a uid of any length is stored. A uid
 * shorter than TSPS_UID_MAX - 24 bytes is its own key; a longer one (some
 * contact managers write uids of hundreds of bytes) is keyed by its first
 * 86 bytes, "~" and 16 hex digits of a hash of the whole uid. Adapters
 * store contacts under this key; tsps_contact_get(), tsps_contact_delete()
 * and tsps_contact_set_code() take either the key or the whole uid. The
 * whole uid stays in the source (the card's UID).
 *
 * @param uid  `len` bytes, no NUL among them
 * @param[out] out  the key, NUL-terminated
 * @return TSPS_OK, TSPS_EINVAL
 * Thread-safety: safe.
 * Since: 0.2
 */
TSPS_API int tsps_uid_key(const char *uid, size_t len, char out[TSPS_UID_MAX]);

/**
 * Create or replace a contact (by uid). Numbers that cannot be normalised
 * are dropped and logged; a contact left without numbers is still stored
 * (for e-mail matching).
 *
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL,
 *         TSPS_EVERSION, TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_contact_put(tsps_engine *eng, const char *user_id,
                              const tsps_contact *c);

/**
 * Read one contact by uid (the whole uid or its tsps_uid_key()). Numbers
 * read back in E.164 form.
 *
 * @param user_id   the user
 * @param uid       the contact's uid or key
 * @param[out] out  the contact; cleared on failure
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user or contact), TSPS_EINVAL,
 *         TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_contact_get(tsps_engine *eng, const char *user_id,
                              const char *uid, tsps_contact *out);

/**
 * Delete one contact by uid (the whole uid or its tsps_uid_key()).
 * Committed before return.
 *
 * @param user_id  the user
 * @param uid      the contact's uid or key
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user or contact), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_contact_delete(tsps_engine *eng, const char *user_id,
                                 const char *uid);

/**
 * Set a contact's handling code; "" clears it. The source is `src`, or
 * TSPS_CODE_SRC_MANUAL when `src` is TSPS_CODE_SRC_NONE. Committed before
 * return.
 *
 * @param user_id  the user
 * @param uid      the contact's uid or key (see tsps_uid_key())
 * @param code     [A-Z0-9_-]{1,31} or ""
 * @param src      where the code came from
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user or contact), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_contact_set_code(tsps_engine *eng, const char *user_id,
                                   const char *uid, const char *code,
                                   tsps_code_source src);

typedef int (*tsps_contact_cb)(void *arg, const tsps_contact *c);

/**
 * List a user's contacts in uid order, or only those whose name, org, e-mail
 * or number contains `query` (case-insensitive; NULL or "" = all). The
 * struct passed to `cb` is valid during the call only; `cb` returns 0 to go
 * on, non-zero to stop.
 *
 * @param user_id  the user
 * @param query    optional filter
 * @param cb       called once per contact
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOMEM, TSPS_ENOTFOUND (no such user),
 *         TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_contact_list(tsps_engine *eng, const char *user_id,
                               const char *query, tsps_contact_cb cb,
                               void *arg);

/**
 * Every contact of a user that has `number` (any format; normalised with the
 * user's dial plan). The struct passed to `cb` is valid during the call only;
 * `cb` returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param number   the number in any format
 * @param cb       called once per matching contact
 * @return TSPS_OK (also when no contact matches), TSPS_EINVAL,
 *         TSPS_ENOTFOUND (no such user), TSPS_ENUMBER (not a full number),
 *         TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_contact_find_number(tsps_engine *eng, const char *user_id,
                                      const char *number, tsps_contact_cb cb,
                                      void *arg);

/* ------------------------------------------------------------------------ */
/* Calendar events (instances: recurrences are expanded by the source)      */
/* ------------------------------------------------------------------------ */

typedef enum {
    TSPS_BUSY_BUSY = 0,      /* opaque: the user is in a meeting */
    TSPS_BUSY_FREE = 1,      /* transparent: does not make the user busy */
    TSPS_BUSY_TENTATIVE = 2, /* counts as in a meeting */
    TSPS_BUSY_OOF = 3        /* out of office: the user is away */
} tsps_busy;

#define TSPS_EVENT_VERSION 1

/** One instance of a calendar event. */
typedef struct tsps_event {
    int version;            /* TSPS_EVENT_VERSION */
    char uid[TSPS_UID_MAX]; /* event UID (+ RECURRENCE-ID for
                               instances: unique per instance) */
    char source[TSPS_SOURCE_MAX];
    int64_t start, end; /* UTC seconds, end > start */
    char summary[TSPS_NAME_MAX];
    tsps_busy busy;
    int cancelled; /* STATUS:CANCELLED */
    uint8_t nattendees;
    char attendees[TSPS_MAX_ATTENDEES][TSPS_EMAIL_MAX]; /* organizer and
                                     attendees, e-mail or tel:, lower case */
} tsps_event;

/**
 * Clear an event and set its version. NULL is a no-op.
 *
 * @param[out] e  the event to initialise
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API void tsps_event_init(tsps_event *e);

/**
 * Create or replace one event instance (by uid). Committed before return.
 *
 * @param user_id  the user
 * @param e        the event (end > start, at most 400 days)
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL,
 *         TSPS_EVERSION, TSPS_ENOMEM,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_event_put(tsps_engine *eng, const char *user_id,
                            const tsps_event *e);
/**
 * Delete one event instance by uid. Committed before return.
 *
 * @param user_id  the user
 * @param uid      the event instance's uid
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_event_delete(tsps_engine *eng, const char *user_id,
                               const char *uid);

typedef int (*tsps_event_cb)(void *arg, const tsps_event *e);

/**
 * A user's events overlapping [from, to), in order of their end time, each
 * reported once. The struct passed to `cb` is valid during the call only;
 * `cb` returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param from     start of the window (UTC s, >= 0)
 * @param to       end of the window (UTC s, > from)
 * @param cb       called once per event
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOTFOUND (no such user), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_event_list(tsps_engine *eng, const char *user_id,
                             int64_t from, int64_t to, tsps_event_cb cb,
                             void *arg);

/* ------------------------------------------------------------------------ */
/* Manual status                                                            */
/* ------------------------------------------------------------------------ */

/** Where the effective status came from. */
typedef enum {
    TSPS_STATUS_SRC_DEFAULT = 0, /* nothing said otherwise: available */
    TSPS_STATUS_SRC_MANUAL,      /* set by the user or attendant */
    TSPS_STATUS_SRC_CALENDAR,    /* an event now */
    TSPS_STATUS_SRC_HOURS        /* outside working hours */
} tsps_status_source;

/**
 * Name of a status source: "default", "manual", "calendar", "hours".
 *
 * @param s  a tsps_status_source
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_status_source_name(tsps_status_source s);

/** The effective status of a user at a time. */
typedef struct tsps_status_info {
    tsps_status status;
    tsps_status_source source;
    int64_t until;                /* manual: expiry (0 = none); calendar:
                                     end of the event */
    char detail[TSPS_DETAIL_MAX]; /* manual note or event summary */
    char event_uid[TSPS_UID_MAX]; /* calendar: the event */
} tsps_status_info;

/**
 * Set a manual status, optionally until a time (UTC seconds, 0 = until
 * cleared), with an optional note. TSPS_STATUS_ANY clears it.
 *
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_status_set(tsps_engine *eng, const char *user_id,
                             tsps_status st, int64_t until, const char *note);

/**
 * The effective status of a user at `now` (UTC seconds; 0 = the current
 * time): manual, else calendar, else working hours, else available.
 *
 * @param user_id   the user
 * @param now       the time
 * @param[out] out  the status and where it came from; cleared on failure
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_status_get(tsps_engine *eng, const char *user_id, int64_t now,
                             tsps_status_info *out);

/* ------------------------------------------------------------------------ */
/* Handling codes -> methods                                                */
/* ------------------------------------------------------------------------ */

/** The wildcard code: a rule for every code (used per status). */
#define TSPS_CODE_ANY "*"

/**
 * Map a code to a method, for one status or for TSPS_STATUS_ANY. When a call
 * is routed, the first rule found wins, in this order:
 *   (code, status), (code, any), ("*", status), ("*", any).
 * A rule naming the caller's code beats a wildcard code; the status decides
 * between rules of the same code (so BLOCK/any is only ever changed by a
 * BLOCK/<status> rule). Since 0.2 (rule order 2; before, ("*", status) came
 * before (code, any)): stores are migrated at open, see docs/engine.md.
 *
 * @param code  [A-Z0-9_-]{1,31} (lower case is upper-cased) or "*"
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_code_set(tsps_engine *eng, const char *user_id,
                           const char *code, tsps_status st,
                           const tsps_method *m);

/**
 * Read one rule: the method for exactly (code, status), no fallback to
 * wildcards.
 *
 * @param user_id   the user
 * @param code      the code or TSPS_CODE_ANY
 * @param st        the status or TSPS_STATUS_ANY
 * @param[out] out  the method; cleared on failure
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user or rule), TSPS_EINVAL,
 *         TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_code_get(tsps_engine *eng, const char *user_id,
                           const char *code, tsps_status st, tsps_method *out);

/**
 * Delete one rule (code, status). Committed before return.
 *
 * @param user_id  the user
 * @param code     the code or TSPS_CODE_ANY
 * @param st       the status or TSPS_STATUS_ANY
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user or rule), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_code_delete(tsps_engine *eng, const char *user_id,
                              const char *code, tsps_status st);

typedef int (*tsps_code_cb)(void *arg, const char *code, tsps_status st,
                            const tsps_method *m);

/**
 * List a user's rules (code order, then status). The method passed to `cb`
 * is valid during the call only; `cb` returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param cb       called once per rule
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOTFOUND (no such user), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_code_list(tsps_engine *eng, const char *user_id,
                            tsps_code_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Registrations (location bindings)                                        */
/* ------------------------------------------------------------------------ */

#define TSPS_REG_VERSION 1

/** One device binding of a user. */
typedef struct tsps_registration {
    int version;                 /* TSPS_REG_VERSION */
    char contact[TSPS_URI_MAX];  /* where to reach the device */
    char instance[TSPS_URI_MAX]; /* +sip.instance, "" if none; when set it
                                    identifies the binding, else contact */
    char label[TSPS_LABEL_MAX];  /* desk, mobile, softphone ... */
    uint16_t q;                  /* preference 0..1000 (q=0.5 -> 500) */
    int64_t expires;             /* absolute UTC seconds */
    char call_id[TSPS_URI_MAX];  /* of the REGISTER that made it */
    uint32_t cseq;
    char user_agent[TSPS_NAME_MAX];
} tsps_registration;

/**
 * Clear a registration, set its version and q = 1000. NULL is a no-op.
 *
 * @param[out] r  the registration to initialise
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API void tsps_registration_init(tsps_registration *r);

/**
 * Create or refresh a binding (identified by instance if set, else by
 * contact URI). Committed before return.
 *
 * @param user_id  the user
 * @param r        the binding; contact required, q <= 1000
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_registration_put(tsps_engine *eng, const char *user_id,
                                   const tsps_registration *r);

/**
 * Remove one binding. Committed before return.
 *
 * @param user_id  the user
 * @param key      the binding's instance if it has one, else its contact URI
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_registration_remove(tsps_engine *eng, const char *user_id,
                                      const char *key);

/**
 * Remove every binding of a user. Committed before return.
 *
 * @param user_id  the user
 * @return TSPS_OK, TSPS_ENOTFOUND (no such user), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_registration_clear(tsps_engine *eng, const char *user_id);

typedef int (*tsps_registration_cb)(void *arg, const tsps_registration *r);

/**
 * Bindings of a user that expire after `now`, best q first. The
 * bindings are copied out first, so `cb` runs after the read transaction
 * has ended; the struct passed to it is valid during the call only. `cb`
 * returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param now      the time (UTC s)
 * @param cb       called once per binding
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOMEM, TSPS_ENOTFOUND (no such user),
 *         TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_registration_list(tsps_engine *eng, const char *user_id,
                                    int64_t now, tsps_registration_cb cb,
                                    void *arg);

/**
 * Delete every binding, of every user, whose expiry is at or before `now`
 * (and any stored binding that cannot be decoded). Committed before return.
 *
 * @param now           the time (UTC s)
 * @param[out] removed  optional: how many were deleted (0 on failure)
 * @return TSPS_OK, TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_registration_purge(tsps_engine *eng, int64_t now,
                                     size_t *removed);

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */
/* ------------------------------------------------------------------------ */

/* Version 2 (since 0.2) appends `flags`; a version 1 struct is still
 * accepted and routes as if flags were 0. */
#define TSPS_CALL_VERSION 2

/* Record the trace as step codes and arguments and leave the text of each
 * step's `what` and `found` to tsps_decision_trace_render(): the decision
 * carries TSPS_DEC_TRACE_PENDING until then. tsps_decision_explain(),
 * tsps_decision_json(), tsps_route_override() and the history render it
 * themselves. For callers that show the trace only now and then. Since: 0.2 */
#define TSPS_CALL_TRACE_LAZY 0x1u

/** The facts of one incoming call. */
typedef struct tsps_call {
    int version;             /* TSPS_CALL_VERSION */
    const char *called;      /* dialled number or URI (required) */
    const char *caller;      /* CLI or URI; NULL/"" = withheld */
    const char *caller_name; /* display name signalled, optional */
    int64_t now;             /* UTC seconds; 0 = the current time */
    unsigned flags;          /* TSPS_CALL_*; version >= 2 (since 0.2) */
} tsps_call;

#define TSPS_CALL_INIT                                                         \
    {                                                                          \
        TSPS_CALL_VERSION, NULL, NULL, NULL, 0, 0                              \
    }

/** Who the caller is, to this user. */
typedef enum {
    TSPS_CALLER_KNOWN = 0, /* one contact has the number */
    TSPS_CALLER_UNKNOWN,   /* no contact has the number */
    TSPS_CALLER_WITHHELD,  /* no CLI */
    TSPS_CALLER_AMBIGUOUS  /* several contacts have the number (since 0.2
                              also when their codes agree: then that code
                              applies, flag TSPS_DEC_SHARED_NUMBER), or a
                              local number that cannot be placed */
} tsps_caller_kind;

/**
 * Name of a caller kind: "known", "unknown", "withheld", "ambiguous".
 *
 * @param k  a tsps_caller_kind
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_caller_kind_name(tsps_caller_kind k);

/** Steps of the pipeline, in order (docs/design.md, step 4). */
typedef enum {
    TSPS_STEP_CALLED = 0, /* called number -> user */
    TSPS_STEP_CALLER,     /* caller number normalised */
    TSPS_STEP_CONTACT,    /* (user, caller) -> contact and code */
    TSPS_STEP_STATUS,     /* user -> status */
    TSPS_STEP_CALENDAR,   /* caller attends the current meeting? */
    TSPS_STEP_RULE,       /* (code, status) -> method */
    TSPS_STEP_TARGETS,    /* method -> targets (registrations, URIs) */
    TSPS_STEP_OVERRIDE,   /* a live action superseded the code */
    TSPS_STEP_NOTE,       /* the application's note (tsps_decision_note);
                             since 0.2 */
    TSPS_STEP__COUNT
} tsps_step;

/**
 * Name of a pipeline step: "called", "caller", "contact", "status",
 * "calendar", "rule", "targets", "override", "note".
 *
 * @param s  a tsps_step
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_step_name(tsps_step s);

/** Outcome of one trace step. */
typedef enum {
    TSPS_TR_OK = 0,    /* found what it looked for */
    TSPS_TR_NOTFOUND,  /* looked, found nothing: a default applies */
    TSPS_TR_DEFAULT,   /* nothing to look up: default used */
    TSPS_TR_AMBIGUOUS, /* several answers: none picked */
    TSPS_TR_FALLBACK,  /* the chosen method could not apply: fallback */
    TSPS_TR_ERROR      /* bad input at this step */
} tsps_trace_outcome;

/**
 * One step of a decision's trace. `what` names the key looked up, `found`
 * the result, `n` a count where one matters (matches, targets).
 */
typedef struct tsps_trace_step {
    uint8_t step;    /* tsps_step */
    uint8_t outcome; /* tsps_trace_outcome */
    uint16_t n;
    int32_t arg; /* step specific: status source, rule kind ... */
    char what[48];
    char found[TSPS_DETAIL_MAX];
} tsps_trace_step;

/** One place to send the call. */
typedef struct tsps_target {
    char uri[TSPS_URI_MAX]; /* sip:/tel: URI, or "+E164" for forwards */
    char label[TSPS_LABEL_MAX];
    uint16_t q;         /* 0..1000 */
    uint16_t order;     /* 0 = together; 1, 2 ... = in this order */
    uint16_t timeout_s; /* ring time for this step, 0 = default */
    int64_t expires;    /* registration expiry, 0 = n/a */
    uint8_t fallback;   /* 1: this target is the method's fallback */
} tsps_target;

/** Flags on a decision. */
#define TSPS_DEC_UNKNOWN_NUMBER 0x1u /* called number not provisioned */
#define TSPS_DEC_EXPECTED       0x2u /* caller attends the meeting now */
#define TSPS_DEC_OVERRIDDEN     0x4u /* a live action decided */
#define TSPS_DEC_FALLBACK       0x8u /* the method's fallback applies */
/* Several contacts share the caller's number and agree on the code: the
 * code applies, caller_kind is TSPS_CALLER_AMBIGUOUS and caller_name reads
 * "Acme Ltd — one of 3 contacts: Acme Ltd, Ann Lee, Bob Roe". Since: 0.2 */
#define TSPS_DEC_SHARED_NUMBER 0x10u
/* Routed with TSPS_CALL_TRACE_LAZY: the trace steps' `what` and `found`
 * are not filled in yet (they read as empty strings); call
 * tsps_decision_trace_render() before reading them. Since: 0.2 */
#define TSPS_DEC_TRACE_PENDING 0x20u

#define TSPS_DECISION_VERSION 1

/**
 * A routing decision and its trace. Caller-owned and fixed-size, so routing
 * never allocates. Strings are empty where not applicable.
 */
typedef struct tsps_decision {
    int version;    /* set by tsps_route() */
    unsigned flags; /* TSPS_DEC_* */
    int64_t at;     /* time of the decision (UTC s) */
    char user[TSPS_ID_MAX];
    char called[TSPS_E164_MAX];
    char caller[TSPS_E164_MAX];      /* E.164, "" when withheld */
    char caller_name[TSPS_NAME_MAX]; /* contact name, else signalled */
    tsps_caller_kind caller_kind;
    char contact_uid[TSPS_UID_MAX];
    char code[TSPS_CODE_MAX]; /* code used for the rule */
    tsps_code_source code_source;
    tsps_status status; /* effective status */
    tsps_status_source status_source;
    tsps_status rule_status;       /* status of the rule that matched
                                      (TSPS_STATUS_ANY for defaults) */
    char rule_code[TSPS_CODE_MAX]; /* code of the rule that matched */
    tsps_method method;            /* what to do */
    char actor[TSPS_ID_MAX];       /* override: who decided */
    uint8_t ntargets;
    tsps_target targets[TSPS_MAX_TARGETS];
    uint8_t ntrace;
    tsps_trace_step trace[TSPS_MAX_TRACE];
} tsps_decision;

/**
 * Route one call: called number -> user; caller -> contact and code;
 * user -> status (manual, calendar, working hours); caller attends the
 * current meeting?; (code, status) -> method; method -> targets.
 *
 * A pure function of (call, store contents, call->now). Point lookups in
 * one read transaction; no allocation after the first call on a thread.
 * An unknown called number gives TSPS_OK with method NONE and flag
 * TSPS_DEC_UNKNOWN_NUMBER. A user without a matching rule gets "ring".
 *
 * @param call      facts; called required
 * @param[out] out  decision; filled on TSPS_OK
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_route(tsps_engine *eng, const tsps_call *call,
                        tsps_decision *out);

/**
 * Decide anew for a call with a method chosen live (an override): targets
 * are computed for `m`, the trace gains a TSPS_STEP_OVERRIDE step naming
 * `actor`. Does not write history (see tsps_history_override()).
 *
 * @param prev  the decision being superseded
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_route_override(tsps_engine *eng, const tsps_decision *prev,
                                 const tsps_method *m, const char *actor,
                                 int64_t now, tsps_decision *out);

/**
 * Fill in the text (`what`, `found`) of every trace step of a decision
 * routed with TSPS_CALL_TRACE_LAZY and clear TSPS_DEC_TRACE_PENDING. The
 * text is exactly what tsps_route() writes without the flag. Does nothing
 * to a decision without TSPS_DEC_TRACE_PENDING. Needs no engine: the text
 * comes from the decision itself, so it may run any time later, as long
 * as the decision was not changed in between.
 *
 * @param d  the decision
 * @return TSPS_OK, TSPS_EINVAL (d NULL)
 * Thread-safety: safe (one decision, one thread at a time).
 * Since: 0.2
 */
TSPS_API int tsps_decision_trace_render(tsps_decision *d);

/**
 * Add the application's note to a decision's trace, as its last step
 * (TSPS_STEP_NOTE; the explanation reads "note: what: text"): something
 * the reader of the trace must know that routing itself cannot see, e.g.
 * that the rules may be older than another node's. Recorded in history
 * with the decision. Longer texts are cut (what: 47 bytes, text:
 * TSPS_DETAIL_MAX - 1).
 *
 * @return TSPS_OK, TSPS_EINVAL (NULL argument), TSPS_ENOSPC (the trace
 *         already has TSPS_MAX_TRACE steps; the decision is unchanged)
 * Thread-safety: safe (touches only `d`).
 * Since: 0.2
 */
TSPS_API int tsps_decision_note(tsps_decision *d, const char *what,
                                const char *text);

/**
 * The trace in plain words, one step per line ("1. called +4930...: user
 * alice").
 *
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOBUFS (*needed set if non-NULL)
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_decision_explain(const tsps_decision *d, char *buf,
                                   size_t buflen, size_t *needed);

/**
 * The decision as one JSON object (user, caller, contact, code, status,
 * method, targets, trace).
 *
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOBUFS (*needed set if non-NULL)
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API int tsps_decision_json(const tsps_decision *d, char *buf,
                                size_t buflen, size_t *needed);

/* ------------------------------------------------------------------------ */
/* Call history                                                             */
/* ------------------------------------------------------------------------ */

/** What finally happened to a call. */
typedef enum {
    TSPS_OUTCOME_ROUTED = 0, /* decision sent, nothing more known */
    TSPS_OUTCOME_PENDING,    /* held for a decision */
    TSPS_OUTCOME_ANSWERED,
    TSPS_OUTCOME_REDIRECTED,
    TSPS_OUTCOME_REJECTED,
    TSPS_OUTCOME_MISSED,  /* caller hung up (CANCEL) */
    TSPS_OUTCOME_TIMEOUT, /* nobody acted: fallback applied */
    TSPS_OUTCOME_FAILED,
    TSPS_OUTCOME__COUNT
} tsps_outcome;

/**
 * Name of a call outcome: "routed", "pending", "answered", "redirected",
 * "rejected", "missed", "timeout", "failed".
 *
 * @param o  a tsps_outcome
 * @return a static string, never NULL; "invalid" for a value out of range
 * Thread-safety: safe.
 * Since: 0.1
 */
TSPS_API const char *tsps_outcome_name(tsps_outcome o);

/** A call in history. */
typedef struct tsps_call_record {
    uint64_t id;        /* assigned by tsps_history_append() */
    int64_t start, end; /* UTC seconds; end 0 while open */
    tsps_outcome outcome;
    char note[TSPS_DETAIL_MAX]; /* free text, e.g. SIP response sent */
    tsps_decision decision;     /* the decision in force (after any
                                   override, with the whole trace) */
    tsps_decision original;     /* the first decision, if overridden */
} tsps_call_record;

/**
 * Append a call to history; committed before return. The call starts at
 * d->at; a final outcome (anything but ROUTED or PENDING) also ends it
 * there, so a call answered at once needs no second write. No allocation.
 *
 * @param[out] id  the call id (never 0)
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_history_append(tsps_engine *eng, const tsps_decision *d,
                                 tsps_outcome outcome, uint64_t *id);

/**
 * Take the next call id without writing a record: for a call that could not
 * be recorded (full disk) and is answered all the same, so that its id is
 * one no other call gets. Ids come from the sequence tsps_history_append()
 * uses, which never hands an id out twice (a restart skips the block of
 * ids reserved in the store; only when the store accepted no write for
 * more than that block can a restart give such an unrecorded id again).
 *
 * @return the id (never 0), 0 if eng is NULL
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.2
 */
TSPS_API uint64_t tsps_history_take_id(tsps_engine *eng);

/**
 * Set the outcome, end time and note of a call in history. Committed before
 * return.
 *
 * @param id       the call id
 * @param outcome  the outcome
 * @param end      end of the call (UTC s)
 * @param note     optional free text (e.g. the SIP response sent)
 * @return TSPS_OK, TSPS_ENOTFOUND (no such call), TSPS_EINVAL,
 *         TSPS_ENOMEM,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_history_set_outcome(tsps_engine *eng, uint64_t id,
                                      tsps_outcome outcome, int64_t end,
                                      const char *note);

/**
 * Record a live decision for a call: computes the decision for `m` (as
 * tsps_route_override() does), stores it in the call's record with who
 * did it, keeps the first decision, and returns the new one.
 *
 * @return TSPS_OK, TSPS_ENOTFOUND (no such call), TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_history_override(tsps_engine *eng, uint64_t id,
                                   const tsps_method *m, const char *actor,
                                   int64_t now, tsps_decision *out);

/**
 * Read one call.
 *
 * @param id        the call id
 * @param[out] out  the record; cleared on failure
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL (id 0), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_history_get(tsps_engine *eng, uint64_t id,
                              tsps_call_record *out);

typedef int (*tsps_history_cb)(void *arg, const tsps_call_record *r);

/**
 * A user's calls with start in [from, to), newest first, at most `limit`
 * (0 = no limit). The record passed to `cb` is valid during the call only;
 * `cb` returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user (calls of deleted users are still found)
 * @param from     start of the window (UTC s, >= 0)
 * @param to       end of the window (UTC s, > from)
 * @param limit    most records to report, 0 = all
 * @param cb       called once per call
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_history_query(tsps_engine *eng, const char *user_id,
                                int64_t from, int64_t to, size_t limit,
                                tsps_history_cb cb, void *arg);

/**
 * A user's calls from one caller, newest first, at most `limit` (0 = no
 * limit). A caller not in E.164 form is normalised with the user's dial
 * plan. The record passed to `cb` is valid during the call only; `cb`
 * returns 0 to go on, non-zero to stop.
 *
 * @param user_id  the user
 * @param caller   the caller's number, any format
 * @param limit    most records to report, 0 = all
 * @param cb       called once per call
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ENOTFOUND (no such user, when the
 *         caller needed the dial plan), TSPS_ENUMBER, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_history_by_caller(tsps_engine *eng, const char *user_id,
                                    const char *caller, size_t limit,
                                    tsps_history_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Batches (for sync): many writes, one transaction                        */
/* ------------------------------------------------------------------------ */

typedef struct tsps_batch tsps_batch;

/**
 * Begin a write batch: every write through it lands in one LMDB write
 * transaction, committed by tsps_batch_commit() or dropped by
 * tsps_batch_abort(). Other threads' writes wait until it ends; readers do
 * not. While it is open, the engine's other write functions called from
 * the same thread join it: they return at once and are committed (or
 * dropped) with the batch — group commit for a burst of calls.
 *
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE, TSPS_ENOMEM, TSPS_EBUSY (this
 *         thread already has a batch open)
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_begin(tsps_engine *eng, tsps_batch **out);

/**
 * Contact put inside a batch (as tsps_contact_put()); lands when the batch
 * commits. A storage failure marks the batch failed: later calls give
 * TSPS_ESTATE and tsps_batch_commit() returns the failure.
 *
 * @param user_id  the user
 * @param c        the contact
 * @return TSPS_OK, TSPS_EVERSION, TSPS_EINVAL, TSPS_ESTATE (the batch
 *         failed before), TSPS_ENOTFOUND (no such user), TSPS_ESTORE,
 *         TSPS_ENOSPC, TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_contact_put(tsps_batch *b, const char *user_id,
                                    const tsps_contact *c);
/**
 * Contact delete inside a batch; deleting a missing contact is TSPS_OK.
 * As tsps_contact_delete(), `uid` may be the whole uid, however long, or
 * its stored key (tsps_uid_key()).
 *
 * @param user_id  the user
 * @param uid      the contact's uid, whole or as its key
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTATE (the batch failed before),
 *         TSPS_ENOTFOUND (no such user), TSPS_ESTORE, TSPS_ENOSPC,
 *         TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_contact_delete(tsps_batch *b, const char *user_id,
                                       const char *uid);
/**
 * Event put inside a batch (as tsps_event_put()).
 *
 * @param user_id  the user
 * @param e        the event
 * @return TSPS_OK, TSPS_EVERSION, TSPS_EINVAL, TSPS_ESTATE (the batch
 *         failed before), TSPS_ENOTFOUND (no such user), TSPS_ESTORE,
 *         TSPS_ENOSPC, TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_event_put(tsps_batch *b, const char *user_id,
                                  const tsps_event *e);
/**
 * Event delete inside a batch; deleting a missing event is TSPS_OK.
 *
 * @param user_id  the user
 * @param uid      the event instance's uid
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTATE (the batch failed before),
 *         TSPS_ENOTFOUND (no such user), TSPS_ESTORE, TSPS_ENOSPC,
 *         TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_event_delete(tsps_batch *b, const char *user_id,
                                     const char *uid);
/**
 * Delete every contact (contacts != 0) and/or event (events != 0) of a user
 * that came from `source` (full resync).
 *
 * @param user_id   the user
 * @param source    the source name
 * @param contacts  non-zero: clear the source's contacts
 * @param events    non-zero: clear the source's events
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTATE (the batch failed before),
 *         TSPS_ENOTFOUND (no such user), TSPS_ESTORE, TSPS_ENOSPC,
 *         TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_source_clear(tsps_batch *b, const char *user_id,
                                     const char *source, int contacts,
                                     int events);
/**
 * Store a sync cursor under a key (e.g. the source name) in the same
 * transaction as the data, so that a crash never separates them.
 *
 * @param key  1..499 bytes
 * @param val  `len` bytes (at most 4 MiB; NULL only with len 0)
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTATE (the batch failed before),
 *         TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_cursor_set(tsps_batch *b, const char *key,
                                   const void *val, size_t len);

/**
 * Append a call to history inside a batch (group commit, e.g. every call
 * of one receive burst): the id is assigned now, the record is durable
 * when the batch commits and gone if it is aborted. Call ids are never
 * given twice, also not after an aborted batch, a failed commit or a
 * crash (a restart skips at most 1024 ids). Answer the calls only after
 * tsps_batch_commit().
 *
 * @param[out] id  the call id (never 0)
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTATE (the batch failed before),
 *         TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_history_append(tsps_batch *b, const tsps_decision *d,
                                       tsps_outcome outcome, uint64_t *id);

/**
 * Durably reserve `n` consecutive call ids for a writer that records calls
 * later (tsps_batch_history_put(), e.g. on another thread): one committed
 * write raises the stored reservation, so a restart — also after kill -9 —
 * never hands out any of them again, whether or not their records were
 * written. The ids are taken from the sequence tsps_history_append() uses.
 *
 * @param n         1 .. 1048576
 * @param[out] first the first id; the block is first .. first + n - 1
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.2
 */
TSPS_API int tsps_history_reserve_ids(tsps_engine *eng, unsigned n,
                                      uint64_t *first);

/**
 * Encode a call for history without writing it (no lock, no allocation):
 * a self-contained blob that tsps_batch_history_put() writes later, e.g.
 * on a thread that commits many calls at once. Same record as
 * tsps_history_append() would write.
 *
 * @param buf       where the blob goes; 16 KiB always suffices
 * @param[out] len  the blob's length
 * @return TSPS_OK, TSPS_EINVAL (bad argument, or buf too small)
 * Thread-safety: safe (no shared state).
 * Since: 0.2
 */
TSPS_API int tsps_history_prepare(const tsps_decision *d, tsps_outcome outcome,
                                  void *buf, size_t cap, size_t *len);

/**
 * Write a blob of tsps_history_prepare() as call `id` (from
 * tsps_history_reserve_ids() or tsps_history_take_id()) inside the batch.
 * The blob is checked (a damaged one is refused, nothing written).
 *
 * @return TSPS_OK, TSPS_EINVAL (bad blob or id 0), TSPS_EEXIST (a call
 *         with this id is already recorded), TSPS_ESTATE (the batch failed
 *         before), TSPS_ENOMEM, TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.2
 */
TSPS_API int tsps_batch_history_put(tsps_batch *b, uint64_t id,
                                    const void *blob, size_t len);

/**
 * Commit the batch; it is freed whatever the result (do not use `b` after).
 * If an earlier write in it failed, everything is dropped and that error is
 * returned.
 *
 * @return TSPS_OK, TSPS_EINVAL (b NULL), TSPS_ESTORE, TSPS_ENOSPC (the map
 *         is grown, so a retry may fit), TSPS_ENOMEM
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API int tsps_batch_commit(tsps_batch *b);

/**
 * Drop every write of the batch and free it. NULL is a no-op.
 *
 * @param b  the batch
 * Thread-safety: a batch belongs to the thread that began it.
 * Since: 0.1
 */
TSPS_API void tsps_batch_abort(tsps_batch *b);

/**
 * Read a sync cursor (as stored by tsps_batch_cursor_set()).
 *
 * @param key       the key
 * @param buf       output buffer (may be NULL when buflen is 0)
 * @param[out] len  bytes of the cursor (0 on other failures)
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ENOBUFS (*len = size
 *         needed), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_cursor_get(tsps_engine *eng, const char *key, void *buf,
                             size_t buflen, size_t *len);

/**
 * Delete a sync cursor (e.g. when a source is removed). Committed before
 * return.
 *
 * @param key  the key
 * @return TSPS_OK, TSPS_ENOTFOUND (no such cursor), TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_cursor_delete(tsps_engine *eng, const char *key);

/**
 * A key/value store for the users of the engine (the daemon keeps sources,
 * credentials, delegations here): small values (at most 1 MiB), committed
 * before return. Keys are namespaced by the caller ("tspsd/..."). `val` NULL
 * deletes.
 *
 * @param key  the key
 * @param val  `len` bytes, or NULL to delete
 * @return TSPS_OK, TSPS_ENOTFOUND (delete of a missing key),
 *         TSPS_EINVAL,
 *         TSPS_ESTATE (read-only engine, or this thread's open batch
 *         failed), TSPS_ESTORE, TSPS_ENOSPC
 * Thread-safety: safe concurrently on one engine (writes are serialised).
 * Since: 0.1
 */
TSPS_API int tsps_kv_put(tsps_engine *eng, const char *key, const void *val,
                         size_t len);
/**
 * Read a value stored by tsps_kv_put().
 *
 * @param key       the key
 * @param buf       output buffer (may be NULL when buflen is 0)
 * @param[out] len  bytes of the value (0 on other failures)
 * @return TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ENOBUFS (*len = size
 *         needed), TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine.
 * Since: 0.1
 */
TSPS_API int tsps_kv_get(tsps_engine *eng, const char *key, void *buf,
                         size_t buflen, size_t *len);

typedef int (*tsps_kv_cb)(void *arg, const char *key, const void *val,
                          size_t len);

/**
 * Every key starting with `prefix` ("" = all), in key order. Key and value
 * passed to `cb` are valid during the call only; `cb` returns 0 to go on,
 * non-zero to stop.
 *
 * @param prefix  the key prefix
 * @param cb      called once per key
 * @return TSPS_OK, TSPS_EINVAL, TSPS_ESTORE
 * Thread-safety: safe concurrently on one engine; `cb` runs inside a read
 * transaction and must not call write functions of the engine.
 * Since: 0.1
 */
TSPS_API int tsps_kv_list(tsps_engine *eng, const char *prefix, tsps_kv_cb cb,
                          void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TSPS_TSPS_H */

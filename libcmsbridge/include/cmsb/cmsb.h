/*
 * cmsb.h - libcmsbridge, the seam between tsps and contact managers.
 *
 * A source (a folder of vCard/iCalendar files, a CardDAV server ...) is
 * opened from a URI whose scheme picks an adapter from a registry. Its
 * contacts and calendar events are synced into a libtsps store with
 * cmsb_sync(); a handling code can be written back to one contact, and items
 * related to a contact (events, mails, documents) can be listed.
 *
 * Conventions (docs/style.md): every function returns CMSB_OK (0) or a negative
 * CMSB_E* code; out-parameters come last and are cleared on failure; input
 * structs start with `int version` and are set from an initializer; nothing
 * is global: each registry holds its own adapters. Adapter authors also
 * include <cmsb/adapter.h>.
 */
#ifndef CMSB_CMSB_H
#define CMSB_CMSB_H

#include <stddef.h>
#include <stdint.h>

#include <tsps/tsps.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CMSB_STATIC)
#define CMSB_API
#elif defined(CMSB_BUILDING)
#define CMSB_API __attribute__((visibility("default")))
#else
#define CMSB_API
#endif

#define CMSB_VERSION_MAJOR 1
#define CMSB_VERSION_MINOR 0
#define CMSB_VERSION_PATCH 0
#define CMSB_VERSION_HEX                                                       \
    ((CMSB_VERSION_MAJOR << 16) | (CMSB_VERSION_MINOR << 8) |                  \
     (CMSB_VERSION_PATCH))

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* CMSB_E* codes lie in -199 .. -101, apart from TSPS_E* (-99 .. -1), so a
 * code of one library passed on by mistake never reads as a code of the
 * other (renumbered from -1 .. -14 in 1.0: the soname went to 1). From
 * here on append-only: never renumber, never reuse. */
/* clang-format off */
#define CMSB_ERRNO_MAP(X)                                                  \
    X(ENOTSUP,   -101, "operation not supported by this adapter")          \
    X(EVERSION,  -102, "unsupported adapter or struct version")            \
    X(EEXIST,    -103, "an adapter for this scheme is already registered") \
    X(EINVAL,    -104, "invalid argument")                                 \
    X(ENOMEM,    -105, "out of memory")                                    \
    X(EIO,       -106, "input/output error")                               \
    X(EPARSE,    -107, "malformed input")                                  \
    X(ENOTFOUND, -108, "no such entry")                                    \
    X(ECONFLICT, -109, "the item changed underneath the operation")        \
    X(ENOSCHEME, -110, "no adapter registered for the URI scheme")         \
    X(ESTORE,    -111, "the tsps engine refused a write")                  \
    X(ECANCELED, -112, "stopped by the callback")                          \
    X(ETIMEDOUT, -113, "the source did not answer in time")                \
    X(EAUTH,     -114, "the source refused the credentials")
/* clang-format on */

typedef enum {
    CMSB_OK = 0,
#define X(name, val, msg) CMSB_##name = (val),
    CMSB_ERRNO_MAP(X)
#undef X
} cmsb_err;

/**
 * Describe an error code.
 *
 * @param err  CMSB_OK or a CMSB_E* code (others give "unknown error")
 * @return a static string, never NULL
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API const char *cmsb_strerror(int err);

/**
 * Symbolic name of an error code ("CMSB_EPARSE").
 *
 * @return a static string, never NULL
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API const char *cmsb_errname(int err);

/**
 * Runtime version of the library, e.g. "1.0.0".
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API const char *cmsb_version(void);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Log callback: level is a tsps_log_level, msg a logfmt fragment such as
 * `msg="skipped card" file=a.vcf line=12 reason="no END:VCARD"`. Called on
 * the thread that called into the library, never with a lock held.
 */
typedef void (*cmsb_log_fn)(void *arg, int level, const char *msg);

/** Code forms (cmsb_options.forms bits). */
#define CMSB_FORM_PROPERTY 0x1u /* a property such as X-TSPS-CODE:VIP */
#define CMSB_FORM_CATEGORY 0x2u /* CATEGORIES:VIP or CATEGORIES:tsps:VIP */
#define CMSB_FORM_GROUP    0x4u /* member of a group card named VIP */
#define CMSB_FORM_NOTE     0x8u /* a marker [tsps:VIP] in NOTE */
#define CMSB_FORM_ALL      0xfu

#define CMSB_OPTIONS_VERSION 1

/**
 * Options for one source; set from CMSB_OPTIONS_INIT, then change what you
 * need. Strings are borrowed for the duration of cmsb_source_open() only
 * (the source keeps copies). Fields are only ever appended.
 */
typedef struct cmsb_options {
    int version;                 /* CMSB_OPTIONS_VERSION */
    const char *code_property;   /* property name; NULL = "X-TSPS-CODE" */
    const char *category_prefix; /* NULL = "" (bare: CATEGORIES:VIP); or
                                    e.g. "tsps:" (CATEGORIES:tsps:VIP) */
    const char *note_prefix;     /* NOTE marker opener; NULL = "[tsps:" (the
                                    marker ends with "]") */
    const char *known_codes;     /* optional comma list ("VIP,FAMILY"): a bare
                                    category or a group name counts as a code
                                    only when listed; NULL = when written in
                                    capitals (VIP counts, myContacts and
                                    Friends do not) */
    unsigned forms;              /* CMSB_FORM_* enabled; 0 = CMSB_FORM_ALL */
    int64_t event_past_s;        /* window of expanded events before now;
                                    0 = 30 days */
    int64_t event_future_s;      /* after now; 0 = 180 days */
    const char *tz;              /* zone for floating times and all-day events;
                                    NULL = "UTC" */
    int64_t now;                 /* UTC seconds; 0 = the clock (tests) */
    cmsb_log_fn log;             /* optional */
    void *log_arg;
    /* For network adapters (ignored by vcard-dir). */
    const char *username;
    const char *password;
    const char *ca_file; /* PEM bundle to verify the server */
    int timeout_ms;      /* per request; 0 = adapter default */
} cmsb_options;

#define CMSB_OPTIONS_INIT                                                      \
    {                                                                          \
        CMSB_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, 0, NULL,  \
            NULL, NULL, NULL, NULL, 0                                          \
    }

/* ------------------------------------------------------------------------ */
/* Registry and sources                                                     */
/* ------------------------------------------------------------------------ */

typedef struct cmsb_registry cmsb_registry;
typedef struct cmsb_source cmsb_source;
typedef struct cmsb_adapter cmsb_adapter;

/**
 * Create a registry holding the built-in adapters ("vcard-dir").
 *
 * @param[out] out  the registry; NULL on failure
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ENOMEM
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API int cmsb_registry_open(cmsb_registry **out);

/**
 * Free a registry. NULL is a no-op. Every source opened from it must have
 * been closed.
 *
 * Thread-safety: not concurrent with any other call on `reg`.
 * Since: 0.1
 */
CMSB_API void cmsb_registry_close(cmsb_registry *reg);

/**
 * Register an adapter. The registry borrows `ad`, which must outlive it
 * and is never written to.
 *
 * @return CMSB_OK; CMSB_EINVAL (NULL, missing required method, bad scheme,
 *         source_size too small, a capability without its method);
 *         CMSB_EVERSION (ad->version outside 1..CMSB_ADAPTER_VERSION);
 *         CMSB_EEXIST (scheme already registered); CMSB_ENOMEM
 * Thread-safety: not concurrent with other calls on `reg`.
 * Since: 0.1
 */
CMSB_API int cmsb_register(cmsb_registry *reg, const cmsb_adapter *ad);

/**
 * The adapter registered for a scheme ("vcard-dir"), or NULL.
 *
 * Thread-safety: safe concurrently with other lookups and opens.
 * Since: 0.1
 */
CMSB_API const cmsb_adapter *cmsb_registry_find(cmsb_registry *reg,
                                                const char *scheme);

/**
 * Open a source from a URI: the part before the first ':' is the scheme
 * that picks the adapter ("vcard-dir:/home/ann/contacts").
 *
 * @param opt       NULL = defaults
 * @param[out] out  the source; NULL on failure
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ENOSCHEME, CMSB_EVERSION (opt),
 *         CMSB_ENOMEM, or the adapter's error (CMSB_EIO, ...)
 * May block (adapters may touch the disk or the network).
 * Thread-safety: safe concurrently on one registry once registration ended.
 * Since: 0.1
 */
CMSB_API int cmsb_source_open(cmsb_registry *reg, const char *uri,
                              const cmsb_options *opt, cmsb_source **out);

/**
 * Close a source. NULL is a no-op.
 *
 * Thread-safety: not concurrent with any other call on `src`.
 * Since: 0.1
 */
CMSB_API void cmsb_source_close(cmsb_source *src);

/** Capability bits of a source's adapter (CMSB_CAP_* in adapter.h). */
#define CMSB_CAP_CHANGES 0x1u  /* incremental changes since a cursor */
#define CMSB_CAP_EVENTS  0x2u  /* calendar events in a window */
#define CMSB_CAP_WRITE   0x4u  /* write a code back */
#define CMSB_CAP_RELATED 0x8u  /* related items for a contact */
#define CMSB_CAP_WATCH   0x10u /* a pollable change notification fd */
#define CMSB_CAP_RELATED_FOR                                                   \
    0x20u /* items related to a person given by                                \
             addresses, numbers and names (mail,                               \
             documents); since adapter version 2 */
#define CMSB_CAP_CREATE                                                        \
    0x40u /* add a new contact (cmsb_create_contact);                          \
             since adapter version 3 */

/**
 * Capabilities (CMSB_CAP_*) of the source's adapter.
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API unsigned cmsb_source_caps(const cmsb_source *src);

/**
 * The scheme of the source's adapter ("vcard-dir").
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API const char *cmsb_source_scheme(const cmsb_source *src);

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Called once per contact. The struct is valid during the call only.
 * contact->code_source says which form the code came from, code_detail how
 * precedence decided ("X-TSPS-CODE=VIP wins over CATEGORIES=FAMILY").
 * Return 0 to go on, non-zero to stop (the call then returns
 * CMSB_ECANCELED).
 */
typedef int (*cmsb_contact_cb)(void *arg, const tsps_contact *contact);

/** Called once per event instance; same rules as cmsb_contact_cb. */
typedef int (*cmsb_event_cb)(void *arg, const tsps_event *event);

/**
 * Every contact of the source.
 *
 * @return CMSB_OK, CMSB_EIO, CMSB_ECANCELED, ... (malformed entries are
 *         skipped and logged, not errors)
 * Blocks on I/O. Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_contacts(cmsb_source *src, cmsb_contact_cb cb, void *arg);

/**
 * Event instances overlapping [from, to), recurrences expanded; an
 * instance's uid is the event UID + "/" + its original start in UTC
 * ("abc@x/20260105T090000Z").
 *
 * @return CMSB_OK, CMSB_ENOTSUP (no CMSB_CAP_EVENTS), CMSB_EINVAL, ...
 * Blocks on I/O. Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_events(cmsb_source *src, int64_t from, int64_t to,
                         cmsb_event_cb cb, void *arg);

/** Kinds of change records passed to cmsb_change_cb. */
typedef enum {
    CMSB_CHANGE_CONTACT_PUT = 1, /* contact: added or changed */
    CMSB_CHANGE_CONTACT_DELETE,  /* uid: gone */
    CMSB_CHANGE_EVENT_PUT,       /* event: instance added or changed */
    CMSB_CHANGE_EVENT_DELETE,    /* uid: instance gone */
    CMSB_CHANGE_CHECKPOINT,      /* cursor: every record before this one
                                    is reflected in it */
    CMSB_CHANGE_ERROR            /* a malformed entry was skipped: file,
                                    line, reason */
} cmsb_change_kind;

/** One change record; pointers are valid during the callback only. */
typedef struct cmsb_change {
    cmsb_change_kind kind;
    const tsps_contact *contact; /* CONTACT_PUT */
    const tsps_event *event;     /* EVENT_PUT */
    const char *uid;             /* *_DELETE */
    const char *cursor;          /* CHECKPOINT: opaque NUL-terminated */
    const char *file;            /* ERROR: where (adapter-specific) */
    int line;                    /* ERROR: 1-based, 0 = unknown */
    const char *reason;          /* ERROR */
} cmsb_change;

/** Change callback: 0 to go on, non-zero to stop. */
typedef int (*cmsb_change_cb)(void *arg, const cmsb_change *ch);

/**
 * Changes since a cursor: puts, deletions, errors and checkpoints, ending
 * with a CHECKPOINT whose cursor is the one to pass next time. `since` NULL
 * means "from nothing": every contact and event is reported as a put.
 * An unknown or damaged cursor is treated as NULL, with a warning logged.
 *
 * @return CMSB_OK, CMSB_ENOTSUP (no CMSB_CAP_CHANGES), CMSB_EIO,
 *         CMSB_ECANCELED, ...
 * Blocks on I/O. Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_changes(cmsb_source *src, const char *since,
                          cmsb_change_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Writing and related items                                                */
/* ------------------------------------------------------------------------ */

/**
 * Write a handling code back to one contact in the contact manager. Only
 * the code field changes: the form the current code came from, or the
 * property form (X-TSPS-CODE) if the contact had none. "" clears the code
 * from every form that carries one.
 *
 * @param code  [A-Za-z0-9_-]{0,31} (upper-cased)
 * @return CMSB_OK, CMSB_ENOTSUP (no CMSB_CAP_WRITE), CMSB_ENOTFOUND (no
 *         such uid), CMSB_EINVAL, CMSB_EIO, CMSB_ECONFLICT (the item
 *         changed during the write; nothing written)
 * Blocks on I/O. Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_write_code(cmsb_source *src, const char *uid,
                             const char *code);

/**
 * Add a new contact to the contact manager ("add to contacts" for an
 * unknown caller): one new card with the name `c->name` (the first
 * number when the name is empty), `c->org`, `c->numbers` and `c->emails`
 * as given, and the handling code `code` in the form the source reads
 * (the property, X-TSPS-CODE by default; else a category; else the note
 * marker). The uid is generated (a random UUID; `c->uid` is not used) and
 * returned in `uid_out`. Nothing is written to the tsps engine: the next
 * cmsb_sync() of the source brings the contact in, and the next call from
 * its number is routed with `code`. To change the code later, call
 * cmsb_write_code() with that uid.
 *
 * vcard-dir writes `<folder>/<uid>.vcf` atomically (temp file, fsync,
 * hard link that never replaces a file). carddav PUTs `<uid>.vcf` into
 * the first address book of the source with `If-None-Match: *` (a 412,
 * the name taken, retries with a new uid).
 *
 * @param c     the contact (name, org, numbers, emails); a value with a
 *              control character other than a line break is refused
 * @param code  [A-Za-z0-9_-]{0,31} (upper-cased); "" = no code
 * @param[out] uid_out  the new contact's uid (NUL-terminated); may be NULL
 * @return CMSB_OK; CMSB_ENOTSUP (the adapter has no CMSB_CAP_CREATE, or
 *         the source reads codes from group cards only and code is not
 *         ""); CMSB_EINVAL (NULL src/c/code, a bad code, nothing to name
 *         the card by: no name, number or email); CMSB_ENOTFOUND (carddav:
 *         no address book found); CMSB_EAUTH (the server refused the
 *         credentials or the write, 401/403); CMSB_EIO (the write failed,
 *         logged); CMSB_ENOMEM
 * Blocks on I/O (the network for carddav, bounded by the source's
 * timeout). Thread-safety: one thread at a time per source (the same
 * rule as every call on a source).
 * Since: 0.2
 */
CMSB_API int cmsb_create_contact(cmsb_source *src, const tsps_contact *c,
                                 const char *code, char uid_out[TSPS_UID_MAX]);

/** Kinds of related items (bits in cmsb_criteria.kinds). */
#define CMSB_ITEM_EMAIL    0x1u
#define CMSB_ITEM_EVENT    0x2u
#define CMSB_ITEM_DOCUMENT 0x4u

#define CMSB_CRITERIA_VERSION 1

/** What related items to list. */
typedef struct cmsb_criteria {
    int version;    /* CMSB_CRITERIA_VERSION */
    unsigned kinds; /* CMSB_ITEM_* bits; 0 = all */
    int64_t from;   /* UTC seconds; items overlapping [from, to); both 0 =
                       the source's event window around now */
    int64_t to;     /* 0 = from + 365 days */
    size_t limit;   /* 0 = no limit */
} cmsb_criteria;

#define CMSB_CRITERIA_INIT                                                     \
    {                                                                          \
        CMSB_CRITERIA_VERSION, 0, 0, 0, 0                                      \
    }

/** One item related to a contact. */
typedef struct cmsb_item {
    unsigned kind;             /* one CMSB_ITEM_* bit */
    char uid[TSPS_UID_MAX];    /* event instance uid, message id, path */
    char title[TSPS_NAME_MAX]; /* summary, subject, file name */
    int64_t start, end;        /* UTC seconds (mail/doc: end == start) */
    char role[TSPS_LABEL_MAX]; /* "organizer", "attendee", "from" ... */
    char ref[TSPS_URI_MAX];    /* where it lives (file, URL) */
} cmsb_item;

/** Called once per related item; valid during the call only. */
typedef int (*cmsb_item_cb)(void *arg, const cmsb_item *item);

/**
 * Items related to one contact under criteria, in start order. vcard-dir
 * returns the event instances whose organizer or attendee is one of the
 * contact's e-mail addresses.
 *
 * @return CMSB_OK, CMSB_ENOTSUP, CMSB_ENOTFOUND (no such contact),
 *         CMSB_EINVAL, CMSB_EIO, CMSB_ECANCELED
 * Blocks on I/O. Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_related(cmsb_source *src, const char *contact_uid,
                          const cmsb_criteria *crit, cmsb_item_cb cb,
                          void *arg);

/* ---- related items for a person (mail, documents) ---- */

#define CMSB_RELATED_QUERY_VERSION 1

/**
 * Date criteria and limits for cmsb_related_for(); set from
 * CMSB_RELATED_QUERY_INIT. Fields are only ever appended.
 */
typedef struct cmsb_related_query {
    int version;    /* CMSB_RELATED_QUERY_VERSION */
    unsigned kinds; /* CMSB_ITEM_* bits; 0 = every kind the source has */
    int64_t since;  /* UTC seconds, items dated at or after; 0 = no bound */
    int64_t until;  /* UTC seconds, items dated before; 0 = no bound */
    size_t limit;   /* at most this many, newest first; 0 = 50 */
} cmsb_related_query;

#define CMSB_RELATED_QUERY_INIT                                                \
    {                                                                          \
        CMSB_RELATED_QUERY_VERSION, 0, 0, 0, 0                                 \
    }

/** Most attachment names reported per item. */
#define CMSB_RELATED_ATTACH_MAX 16

/**
 * One related e-mail, document or event, as shown in a pop-up. Plain
 * data: every string is UTF-8 (MIME encoded words and charsets decoded),
 * NUL-terminated, never NULL ("" when unknown), and owned by the adapter,
 * valid during the callback only.
 */
typedef struct cmsb_related_item {
    unsigned kind;       /* one CMSB_ITEM_* bit */
    int64_t date;        /* UTC seconds: Date: header, file mtime, start */
    const char *title;   /* subject, document title or file name */
    const char *from;    /* "Anna Berg <anna@example.org>"; doc: "" */
    const char *to;      /* recipients (To and Cc), comma-separated */
    const char *snippet; /* start of the text, whitespace folded, <= 200
                            bytes (whole UTF-8 characters) */
    size_t nattachments;
    const char *const *attachments; /* file names of the attachments */
    const char *url;   /* opens the item: imap://host/INBOX;UIDVALIDITY=
                          v/;UID=n (RFC 5092), file:///path */
    const char *id;    /* stable within the source: Message-ID, path */
    const char *where; /* mailbox or folder ("INBOX", "Projects/ACME") */
    const char *why;   /* what matched: "from anna@example.org",
                          "number +4930123456 in text" */
} cmsb_related_item;

/** Called once per item, newest first; 0 to go on, non-zero to stop. */
typedef int (*cmsb_related_cb)(void *arg, const cmsb_related_item *item);

/**
 * Items related to a person: mails from, to or cc any of `who`'s e-mail
 * addresses (imap, maildir), documents naming its e-mail, a phone number
 * (any written form) or its name/organisation (docs-dir), dated in
 * [since, until), newest first, at most q->limit. `who` is usually the
 * contact as synced into the store (tsps_contact_get()): the source need
 * not know it. A source without CMSB_CAP_RELATED_FOR returns CMSB_ENOTSUP
 * (older adapters keep working: the call is version-guarded).
 *
 * @param who  uid is not used; name, org, numbers (E.164), emails are
 * @param q    NULL = CMSB_RELATED_QUERY_INIT
 * @return CMSB_OK, CMSB_ENOTSUP, CMSB_EINVAL, CMSB_EVERSION (q),
 *         CMSB_EIO, CMSB_ETIMEDOUT, CMSB_EAUTH, CMSB_ECANCELED
 * Blocks on I/O (a mail server: bounded by cmsb_options.timeout_ms per
 * request and 3 x timeout_ms in all): never call it on an event-loop
 * thread. Thread-safety: one thread at a time per source.
 * Since: 0.2
 */
CMSB_API int cmsb_related_for(cmsb_source *src, const tsps_contact *who,
                              const cmsb_related_query *q, cmsb_related_cb cb,
                              void *arg);

/**
 * A file descriptor that becomes readable when the source may have changed
 * (vcard-dir: inotify on the folder). Poll it for reading, then call
 * cmsb_watch_drain() and, if it says so, cmsb_sync(). The fd is owned by the
 * source: do not close it.
 *
 * @param[out] fd  the descriptor; -1 on failure
 * @return CMSB_OK, CMSB_ENOTSUP, CMSB_EIO
 * Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_watch_fd(cmsb_source *src, int *fd);

/**
 * Consume pending notifications without blocking.
 *
 * @return 1 if something relevant changed, 0 if not, or a CMSB_E* code
 * Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API int cmsb_watch_drain(cmsb_source *src);

/* ------------------------------------------------------------------------ */
/* Sync into libtsps                                                        */
/* ------------------------------------------------------------------------ */

/** Most store writes per LMDB transaction during cmsb_sync(). */
#define CMSB_SYNC_BATCH_MAX 5000

/** What a sync did. */
typedef struct cmsb_sync_stats {
    uint64_t contacts_put, contacts_deleted;
    uint64_t events_put, events_deleted;
    uint64_t errors;  /* entries skipped as malformed or refused */
    uint64_t batches; /* transactions committed */
    int full;         /* 1 if a full resync ran */
} cmsb_sync_stats;

/**
 * Sync a source into the store for one user. Incremental by default: the
 * cursor stored under "cmsb/<user_id>/<source_name>" (in the same
 * transaction as the data it covers) says what the store holds, so a crash
 * mid-sync resumes from the last committed batch. What the adapter hands
 * over is staged in memory (at most CMSB_SYNC_BATCH_MAX records, 3.5 KB
 * each) and written in short transactions at the adapter's
 * checkpoints: the engine's write lock is never held while the adapter
 * reads its files or waits on its server, so other writers (a daemon's
 * call history) wait at most for one batch's writes. A full resync of a
 * source that already has records clears them in its first transaction,
 * whose length grows with the source (about 1.3 us per record). `full` (or an
 * adapter without CMSB_CAP_CHANGES) clears the source's contacts and events and
 * reloads them. Contacts and events are stored with tsps source = source_name.
 * Malformed entries are skipped, logged with file, line and reason, and
 * counted; the rest syncs. Running it again with nothing changed writes nothing
 * but the cursor.
 *
 * @param out  optional
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ESTORE (engine error; the user must
 *         exist), CMSB_EIO, CMSB_ENOMEM; batches committed before an
 *         error stay (with their cursor)
 * An adapter without CMSB_CAP_CHANGES is listed whole into memory first,
 * then cleared and reloaded in one transaction.
 * Blocks on I/O and on the engine's write lock: never call it on an
 * event-loop thread.
 * Thread-safety: one thread at a time per source; one sync per source.
 * Since: 0.1
 */
CMSB_API int cmsb_sync(cmsb_source *src, tsps_engine *eng, const char *user_id,
                       const char *source_name, int full, cmsb_sync_stats *out);

/**
 * The store key of a sync cursor ("cmsb/<user_id>/<source_name>"), e.g. to
 * delete it with tsps_cursor_delete() when a source is removed.
 *
 * @return CMSB_OK, CMSB_EINVAL (buf too small or bad names)
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API int cmsb_cursor_key(const char *user_id, const char *source_name,
                             char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif

/* Per-code criteria and the result cache (since 0.2). */
#include <cmsb/related.h>

#endif /* CMSB_CMSB_H */

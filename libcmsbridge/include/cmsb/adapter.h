/*
 * adapter.h - writing a libcmsbridge adapter (for adapter authors).
 *
 * An adapter is one const cmsb_adapter struct, modelled on sqlite3_vfs:
 * `version` says which methods exist, methods are only ever appended, the
 * core allocates each source instance (`source_size` bytes, zeroed) and the
 * adapter's own struct begins with `cmsb_source base`. A registry picks the
 * adapter by URI scheme. See docs/adapters.md for a walk-through and
 * examples/adapter/ for a small complete one.
 *
 * Rules every method follows (the core relies on them):
 *  - The core serialises calls on one source: a method is never entered
 *    twice at once for the same source. Different sources of one adapter
 *    may be used from different threads at the same time, so an adapter
 *    keeps no mutable state outside its source struct.
 *  - Methods may block (disk, network). tspsd never calls them on its
 *    event-loop thread.
 *  - Pointers passed to callbacks are owned by the adapter and valid only
 *    during the callback. A callback returning non-zero stops the method,
 *    which then returns CMSB_ECANCELED.
 *  - Methods return CMSB_OK or a negative CMSB_E* code, never print, abort
 *    or exit; they log through cmsb_source_log().
 */
#ifndef CMSB_ADAPTER_H
#define CMSB_ADAPTER_H

#include <stdarg.h>

#include <cmsb/cmsb.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The newest adapter struct version this library knows. */
#define CMSB_ADAPTER_VERSION 3

/** The base of every source; the adapter's struct embeds it first. */
struct cmsb_source {
    const struct cmsb_adapter *adapter; /* set by x_open (see below) */
};

/**
 * An adapter. The core never writes to it. Required: x_open, x_close,
 * x_contacts. A CMSB_CAP_* bit in `caps` requires its method.
 */
struct cmsb_adapter {
    int version;        /* CMSB_ADAPTER_VERSION it was built against */
    size_t source_size; /* sizeof the adapter's cmsb_source subclass */
    const char *scheme; /* URI scheme, [a-z0-9.+-]{1,31}: "vcard-dir" */
    unsigned caps;      /* CMSB_CAP_* */

    /* ---- version 1 ---- */

    /**
     * Open a source. `src` is zeroed memory of source_size bytes. Set
     * src->adapter = ad once there is something to close (even if the
     * open then fails): the core calls x_close only when it is set.
     * `opt` has every default filled in; the strings in it stay valid
     * until x_close (cmsb_source_options() returns the same struct).
     * Ownership: `uri` is borrowed for the call; what the adapter
     * allocates into `src` is its own until x_close.
     * Blocking: may block. Threads: any thread, once per source.
     */
    int (*x_open)(const struct cmsb_adapter *ad, const char *uri,
                  const cmsb_options *opt, cmsb_source *src);

    /**
     * Release everything the source holds (not `src` itself: the core
     * frees it). Must not fail. Blocking: should not block for long.
     * Threads: no other call on `src` is in flight.
     */
    void (*x_close)(cmsb_source *src);

    /**
     * Every contact, each once, through cb. Fields the adapter does not
     * know stay zero; code/code_source/code_detail report the handling
     * code and which form it came from.
     * Ownership: the contact is the adapter's, valid during the callback.
     * Blocking: may block. Threads: serialised per source by the core.
     */
    int (*x_contacts)(cmsb_source *src, cmsb_contact_cb cb, void *arg);

    /**
     * (CMSB_CAP_CHANGES) Changes since the opaque cursor `since` (NULL =
     * from nothing). Emit puts/deletes of contacts and event instances,
     * ERROR records for skipped entries, and CHECKPOINT records whose
     * cursor reflects every record before it; the last record must be a
     * CHECKPOINT. Checkpoints every few thousand records let a crashed
     * sync resume. A cursor the adapter does not understand is treated as
     * NULL.
     * Ownership: `since` is borrowed for the call; records (and cursors
     * in them) are the adapter's, valid during the callback.
     * Blocking: may block. Threads: serialised per source by the core.
     */
    int (*x_changes)(cmsb_source *src, const char *since, cmsb_change_cb cb,
                     void *arg);

    /**
     * (CMSB_CAP_EVENTS) Event instances overlapping [from, to), recurrences
     * expanded, uid = event UID + "/" + original start (UTC, basic ISO).
     * Ownership: events are the adapter's, valid during the callback.
     * Blocking: may block. Threads: serialised per source by the core.
     */
    int (*x_events)(cmsb_source *src, int64_t from, int64_t to,
                    cmsb_event_cb cb, void *arg);

    /**
     * (CMSB_CAP_WRITE) Write `code` (valid, upper case, "" = clear) to the
     * contact `uid`, changing nothing else, atomically where the store
     * allows (files: temp + rename). Ownership: arguments are borrowed.
     * Blocking: may block. Threads: serialised per source by the core.
     */
    int (*x_write_code)(cmsb_source *src, const char *uid, const char *code);

    /**
     * (CMSB_CAP_RELATED) Items related to contact `uid` under `crit` (the
     * core fills kinds, from and to), in start order, at most crit->limit
     * (0 = all). Ownership: items are the adapter's, valid during the
     * callback. Blocking: may block. Threads: serialised per source.
     */
    int (*x_related)(cmsb_source *src, const char *uid,
                     const cmsb_criteria *crit, cmsb_item_cb cb, void *arg);

    /**
     * (CMSB_CAP_WATCH) A pollable fd (*fd), readable when something may
     * have changed. Ownership: the source owns and closes it.
     * Blocking: never. Threads: serialised per source.
     */
    int (*x_watch_fd)(cmsb_source *src, int *fd);

    /**
     * (CMSB_CAP_WATCH) Consume notifications; 1 = relevant change, 0 =
     * none. Blocking: never. Threads: serialised per source.
     */
    int (*x_watch_drain)(cmsb_source *src);

    /* ---- version 2 ---- */

    /**
     * (CMSB_CAP_RELATED_FOR) Items related to the person `who` (its
     * emails, numbers, name, org; its uid need not be known here) dated
     * in [q->since, q->until) (0 = open end), newest first, at most
     * q->limit (the core turns 0 into 50; kinds 0 into every kind).
     * Ownership: `who` and `q` are borrowed for the call; the item and
     * every string in it are the adapter's, valid during the callback.
     * Blocking: may block on disk or network, bounded: a network adapter
     * gives up after its timeout (opt->timeout_ms) and returns
     * CMSB_ETIMEDOUT or CMSB_EIO with a log line saying why; it never
     * logs credentials. Threads: any thread (tspsd: a worker, never the
     * event loop), serialised per source by the core.
     */
    int (*x_related_for)(cmsb_source *src, const tsps_contact *who,
                         const cmsb_related_query *q, cmsb_related_cb cb,
                         void *arg);

    /* ---- version 3 ---- */

    /**
     * (CMSB_CAP_CREATE) Add a new contact `c` (name, org, numbers,
     * emails) with the handling code `code` (valid, upper case, "" =
     * none) under a new uid the adapter makes up, which it copies into
     * uid_out (TSPS_UID_MAX bytes, NUL-terminated). Never replaces an
     * existing entry; atomic where the store allows (files: temp + link;
     * DAV: PUT with If-None-Match: *). The contact reaches the engine by
     * the next sync, not by this call.
     * Ownership: arguments are borrowed for the call.
     * Blocking: may block, bounded by opt->timeout_ms for a network
     * adapter. Threads: serialised per source by the core.
     */
    int (*x_create_contact)(cmsb_source *src, const tsps_contact *c,
                            const char *code, char *uid_out);
};

/**
 * The options the source was opened with, every default filled in
 * (code_property, prefixes, forms, window, tz, now are never NULL/0).
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API const cmsb_options *cmsb_source_options(const cmsb_source *src);

/**
 * The current time for this source: options->now if set, else the clock.
 *
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API int64_t cmsb_source_now(const cmsb_source *src);

/**
 * Log through the source's log callback (no-op without one). The message
 * is printf-formatted into a logfmt fragment of at most 512 bytes.
 *
 * Thread-safety: one thread at a time per source.
 * Since: 0.1
 */
CMSB_API void cmsb_source_log(const cmsb_source *src, int level,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Check a handling code ([A-Za-z0-9_-]{1,31}) and copy it upper-cased.
 *
 * @param len  bytes of `s` to use (the code need not be NUL-terminated)
 * @return 1 if valid (out filled), 0 if not
 * Thread-safety: safe.
 * Since: 0.1
 */
CMSB_API int cmsb_code_normalize(const char *s, size_t len,
                                 char out[TSPS_CODE_MAX]);

/**
 * The built-in "vcard-dir" adapter (registered by cmsb_registry_open()):
 * `vcard-dir:/path/to/folder` holds .vcf and .ics files, any depth.
 *
 * Since: 0.1
 */
CMSB_API extern const cmsb_adapter cmsb_vcard_dir_adapter;

/**
 * The "carddav" and "caldav" adapters (built with CMSB_WITH_CARDDAV, then
 * registered by cmsb_registry_open()): `carddav:https://host/base` syncs
 * the address books found from a base URL (or the collections named),
 * `caldav:` the calendars; credentials and the CA file come from
 * cmsb_options. See docs/dav.md.
 *
 * Since: 0.1
 */
CMSB_API extern const cmsb_adapter cmsb_carddav_adapter;
CMSB_API extern const cmsb_adapter cmsb_caldav_adapter;

/**
 * Related-item adapters (docs/related.md), registered by
 * cmsb_registry_open() when built: "maildir" (CMSB_WITH_MAILDIR, GMime),
 * "imap"/"imaps" (CMSB_WITH_IMAP, libcurl + GMime), "docs-dir"
 * (CMSB_WITH_DOCS, poppler-glib, libxml2, libzip, GMime). They have no
 * contacts; they answer cmsb_related_for().
 *
 * Since: 0.2
 */
CMSB_API extern const cmsb_adapter cmsb_maildir_adapter;
CMSB_API extern const cmsb_adapter cmsb_imap_adapter;
CMSB_API extern const cmsb_adapter cmsb_imaps_adapter;
CMSB_API extern const cmsb_adapter cmsb_docs_dir_adapter;

/**
 * The "docs-dav" related-item adapter (docs/related.md): documents in a
 * WebDAV collection (PROPFIND, GET of changed etags), matched as
 * "docs-dir" does. Registered by cmsb_registry_open() when built with
 * both CMSB_WITH_DOCS and CMSB_WITH_CARDDAV.
 *
 * Thread-safety: a source is used by one thread at a time.
 * Since: 0.2
 */
CMSB_API extern const cmsb_adapter cmsb_docs_dav_adapter;

/* ABI pins: the layout of the vtable is append-only. */
_Static_assert(offsetof(struct cmsb_adapter, x_open) ==
                   3 * sizeof(void *) + sizeof(unsigned) +
                       (sizeof(void *) - sizeof(unsigned)),
               "cmsb_adapter layout changed");
_Static_assert(offsetof(struct cmsb_adapter, x_watch_drain) ==
                   offsetof(struct cmsb_adapter, x_open) +
                       8 * sizeof(void (*)(void)),
               "cmsb_adapter methods must only be appended");
_Static_assert(offsetof(struct cmsb_adapter, x_related_for) ==
                   offsetof(struct cmsb_adapter, x_open) +
                       9 * sizeof(void (*)(void)),
               "cmsb_adapter methods must only be appended (version 2)");
_Static_assert(offsetof(struct cmsb_adapter, x_create_contact) ==
                   offsetof(struct cmsb_adapter, x_open) +
                       10 * sizeof(void (*)(void)),
               "cmsb_adapter methods must only be appended (version 3)");

#ifdef __cplusplus
}
#endif
#endif /* CMSB_ADAPTER_H */

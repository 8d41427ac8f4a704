/*
 * related.h - related e-mails and documents of a caller, for the pop-up
 * and the `related` request (docs/related.md, "In tspsd"). The sources are
 * the [related NAME] sections (libcmsbridge related-item adapters), the
 * criteria the user's [related_criteria] rules; results are kept in a TTL
 * cache per (user, caller). Lookups block on mail servers: they run on the
 * worker pool's related lane only, never on the loop.
 */
#ifndef TSPSD_RELATED_H
#define TSPSD_RELATED_H

#include <cmsb/cmsb.h>
#include <stddef.h>
#include <stdint.h>
#include <tsps/tsps.h>

#include "arena.h"
#include "tsps.pb-c.h"

typedef struct tspsd tspsd;
typedef struct tspsd_related tspsd_related;

/** Time to live of a cached result (every source answered). */
#define TSPSD_RELATED_TTL_MS 60000

/**
 * Open the sources of the config (none: still 0, d->related stays NULL).
 * Sources open on first use, on a worker.
 * @return 0, or -1 (out of memory; logged)
 * Thread-safety: loop thread, at start.
 */
int tspsd_related_open(tspsd *d);

/** Close (after the pool's related lane is drained). NULL-safe. */
void tspsd_related_close(tspsd *d);

/** Does `user` have at least one [related NAME] source? Thread-safe. */
int tspsd_related_has_sources(tspsd *d, const char *user);

/**
 * Who is `caller` for `user`: the stored contact with that number (any
 * written form), e-mail address or uid, else a contact holding only the
 * number or address (an unknown caller). *known is 1 for a stored one.
 * @return TSPS_OK, TSPS_EINVAL (empty or too long caller)
 * Thread-safety: safe (store reads).
 */
int tspsd_related_who(tspsd *d, const char *user, const char *caller,
                      tsps_contact *who, int *known);

/**
 * Related items of `who` for `user`: the user's criteria for who->code
 * (since/until override them when non-zero), from every source of the
 * user, merged newest first; from the cache when there. *items is a new
 * list (release it) even when some source failed; status gets "" or
 * "mail unavailable (timed out)" for the first failed source.
 * @return TSPS_OK, TSPS_ENOTFOUND (the criteria say "none" for this code:
 *         *items is an empty list), TSPS_ENOMEM
 * Thread-safety: any worker thread; each source is used by one thread at
 * a time. Blocks on I/O: never on the loop.
 */
int tspsd_related_get(tspsd *d, const char *user, const tsps_contact *who,
                      int64_t since, int64_t until, cmsb_related_list **items,
                      char *status, size_t statuslen);

/**
 * A call was offered (loop thread, from tspsd_front_call): when its user
 * has sources, look its caller up on the related lane and publish
 * "call.related" when the items arrive. Never waits; a full lane drops
 * the lookup (logged; the pop-up can still ask with the call id).
 */
void tspsd_related_on_offer(tspsd *d, uint64_t call_id,
                            const tsps_decision *dec);

/**
 * Open a related document (or a Maildir mail) for download: `url` must be
 * the exact link (file://...) of an item that a lookup for `who` in one of
 * `user`'s docs-dir (documents) or maildir (mails) sources gives, any
 * date. The file is that link's path, resolved with symbolic links and
 * refused when it lies outside the source's folder (logged), or is not a
 * regular file. A mail's name is "mail-<file name>.eml".
 * @param[out] fd    an open read-only descriptor (close it), or -1
 * @param[out] name  the file's name (for Content-Disposition)
 * @param[out] size  its size in bytes
 * @return TSPS_OK, TSPS_EINVAL (not a file:// link), TSPS_ENOTFOUND (not a
 *         related item of this caller, gone, or refused)
 * Thread-safety: any worker thread (blocks on the source's lock): never on
 * the loop.
 */
int tspsd_related_doc_open(tspsd *d, const char *user, const tsps_contact *who,
                           const char *url, int *fd, char *name, size_t namelen,
                           int64_t *size);

/**
 * A webmail link for a mail: the template (a [related NAME] `webmail=`
 * option) with {uid}, {mailbox}, {uidvalidity} and {message_id} filled
 * from the item's imap:// URL (RFC 5092) and Message-ID, percent-encoded.
 * @return 0, or -1 (not an IMAP URL, or out did not hold it)
 * Thread-safety: safe.
 */
int tspsd_related_webmail_link(const char *tpl, const char *imap_url,
                               const char *message_id, char *out, size_t len);

/** One item as a protocol message in the arena (NULL: out of memory). */
Tsps__RelatedItem *tspsd_related_item_msg(tspsd_arena *a,
                                          const cmsb_related_item *it);

/** "email", "document", "event" for a CMSB_ITEM_* bit. */
const char *tspsd_related_kind_name(unsigned kind);

#endif

/*
 * libcmsbridge: what a daemon needs around cmsb_related_for() - the user's
 * per-code date criteria (a settings string parsed into a policy) and a
 * TTL cache of related results per (user, caller). Included by cmsb.h.
 *
 * Conventions as in cmsb.h: CMSB_OK (0) or a negative CMSB_E* code;
 * out-parameters last, cleared on failure.
 */
#ifndef CMSB_RELATED_API_H
#define CMSB_RELATED_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Per-code criteria                                                        */
/* ------------------------------------------------------------------------ */

/**
 * A user's related-item criteria per handling code, parsed from the
 * settings string (docs/related.md, "Criteria per code"):
 *
 *     *:      last 30 days, limit 20
 *     FAMILY: last 30 days, mail
 *     CLIENT: last 180 days, mail + documents, limit 50
 *     VIP:    last 90 days and next 14 days
 *
 * One rule per line or separated by ';'; `#` starts a comment. A rule is
 * CODE ':' clauses separated by ',' or "and"; CODE is a handling code
 * ([A-Za-z0-9_-], 1..31, matched without regard to case) or '*' (every
 * code without its own rule, and callers without a code). Clauses:
 *   last N UNIT | last all     items dated from now - N on (all: no bound)
 *   next N UNIT | next all     and until now + N (default: no bound)
 *   limit N                    at most N items (1..1000)
 *   KIND [+ KIND ...]          mail (email), documents (docs), events;
 *                              or "all"
 *   none                       nothing for this code
 * UNIT: hour(s)/h, day(s)/d, week(s)/w, month(s) (30 days), year(s)/y
 * (365 days). What a code's rule leaves out comes from the '*' rule, then
 * from the defaults: last 30 days, no upper bound, every kind, limit 20.
 * Opaque; immutable once parsed.
 */
typedef struct cmsb_related_policy cmsb_related_policy;

/** Most rules in one policy. */
#define CMSB_RELATED_POLICY_MAX_RULES 64

/**
 * Parse a settings string into a policy. NULL or "" gives the defaults.
 *
 * @param text     the settings string (UTF-8; at most 64 KiB)
 * @param[out] out the policy (free with cmsb_related_policy_free()); NULL
 *                 on failure
 * @param err      optional buffer for a one-line reason on CMSB_EPARSE,
 *                 e.g. "line 2: unknown word \"lst\" (expected last, next,
 *                 limit, mail, documents, events, all, none)"
 * @param errlen   its size
 * @return CMSB_OK, CMSB_EPARSE (bad text; nothing logged by the library:
 *         show err to the user), CMSB_EINVAL (out NULL), CMSB_ENOMEM
 * Thread-safety: safe (no shared state).
 * Since: 0.2
 */
CMSB_API int cmsb_related_policy_parse(const char *text,
                                       cmsb_related_policy **out, char *err,
                                       size_t errlen);

/** Free a policy (NULL is fine). Since: 0.2 */
CMSB_API void cmsb_related_policy_free(cmsb_related_policy *p);

/**
 * The query for a caller with handling code `code` at time `now`: since,
 * until, kinds and limit from the code's rule, the '*' rule and the
 * defaults. A rule "none" gives CMSB_ENOTFOUND: ask no source.
 *
 * @param p     a policy (NULL = the defaults)
 * @param code  the caller's code; NULL or "" = no code ('*' applies)
 * @param now   UTC seconds
 * @param[out] q filled completely (version CMSB_RELATED_QUERY_VERSION)
 * @return CMSB_OK, CMSB_ENOTFOUND ("none"), CMSB_EINVAL (q NULL)
 * Thread-safety: safe; a policy may be shared by threads.
 * Since: 0.2
 */
CMSB_API int cmsb_related_policy_query(const cmsb_related_policy *p,
                                       const char *code, int64_t now,
                                       cmsb_related_query *q);

/**
 * The policy written back in the canonical form (one rule per line,
 * '*' first), e.g. to show in settings after a save.
 *
 * @return the number of bytes the text needs (without the NUL); the text
 *         is cut to fit buf (NUL-terminated when buflen > 0)
 * Thread-safety: safe.
 * Since: 0.2
 */
CMSB_API size_t cmsb_related_policy_format(const cmsb_related_policy *p,
                                           char *buf, size_t buflen);

/* ------------------------------------------------------------------------ */
/* Item lists and the result cache                                          */
/* ------------------------------------------------------------------------ */

/**
 * An owned copy of related items (deep copies of cmsb_related_item), kept
 * in the order added. Reference-counted: cmsb_related_cache_get() hands out
 * a reference that stays valid after the entry expires or is dropped.
 */
typedef struct cmsb_related_list cmsb_related_list;

/**
 * A new empty list (one reference).
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ENOMEM
 * Thread-safety: safe. Since: 0.2
 */
CMSB_API int cmsb_related_list_new(cmsb_related_list **out);

/**
 * Append a deep copy of one item. Also usable directly as the
 * cmsb_related_cb of cmsb_related_for() with the list as `arg` (it then
 * returns 0, or non-zero to stop when out of memory - check
 * cmsb_related_list_failed()).
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ENOMEM
 * Thread-safety: one writer, before the list is shared. Since: 0.2
 */
CMSB_API int cmsb_related_list_add(cmsb_related_list *l,
                                   const cmsb_related_item *it);
CMSB_API int cmsb_related_list_cb(void *list, const cmsb_related_item *it);
/** 1 if an add ran out of memory. Since: 0.2 */
CMSB_API int cmsb_related_list_failed(const cmsb_related_list *l);

/** Number of items. Thread-safety: safe on a shared list. Since: 0.2 */
CMSB_API size_t cmsb_related_list_count(const cmsb_related_list *l);
/**
 * Item i (0-based), or NULL past the end; valid while the caller holds
 * its reference. Thread-safety: safe on a shared list. Since: 0.2
 */
CMSB_API const cmsb_related_item *
cmsb_related_list_get(const cmsb_related_list *l, size_t i);
/** Drop one reference (NULL is fine). Thread-safety: safe. Since: 0.2 */
CMSB_API void cmsb_related_list_release(cmsb_related_list *l);

/**
 * A cache of related results per (user, caller key) with a time to live:
 * the caller key is what the daemon looks items up by (the contact's uid,
 * or the caller's E.164 number for an unknown caller). Holds at most
 * max_entries; beyond that the least recently used entry goes. An entry
 * also records the lookup's status, so a failure ("mail unavailable:
 * CMSB_ETIMEDOUT") can be cached briefly too.
 */
typedef struct cmsb_related_cache cmsb_related_cache;

/**
 * @param max_entries  1..1,000,000
 * @param ttl_ms       default time to live (> 0)
 * @return CMSB_OK, CMSB_EINVAL, CMSB_ENOMEM
 * Thread-safety: safe. Since: 0.2
 */
CMSB_API int cmsb_related_cache_open(size_t max_entries, int64_t ttl_ms,
                                     cmsb_related_cache **out);
/** Free the cache; lists handed out stay valid. Since: 0.2 */
CMSB_API void cmsb_related_cache_close(cmsb_related_cache *c);

/**
 * Store a result, replacing any entry for (user, caller). The cache takes
 * its own reference to `items` (the caller keeps theirs: release it).
 *
 * @param status  CMSB_OK or the lookup's error (items may then be NULL)
 * @param ttl_ms  this entry's time to live; 0 = the cache's default
 * @return CMSB_OK, CMSB_EINVAL (NULL/empty user or caller, key over 255
 *         bytes, ttl < 0), CMSB_ENOMEM
 * Thread-safety: safe. Since: 0.2
 */
CMSB_API int cmsb_related_cache_put(cmsb_related_cache *c, const char *user,
                                    const char *caller, int status,
                                    cmsb_related_list *items, int64_t ttl_ms);

/**
 * A live entry: *items gets a new reference (release it; NULL if the
 * stored result had none) and *status the stored status.
 *
 * @return CMSB_OK, CMSB_ENOTFOUND (none, or expired), CMSB_EINVAL
 * Thread-safety: safe. Since: 0.2
 */
CMSB_API int cmsb_related_cache_get(cmsb_related_cache *c, const char *user,
                                    const char *caller,
                                    cmsb_related_list **items, int *status);

/**
 * Drop entries: one (user, caller), every entry of a user (caller NULL),
 * or all (user NULL), e.g. when a contact, a source or the user's
 * criteria change.
 *
 * @return the number of entries dropped
 * Thread-safety: safe. Since: 0.2
 */
CMSB_API size_t cmsb_related_cache_invalidate(cmsb_related_cache *c,
                                              const char *user,
                                              const char *caller);

/** Live entries now (expired ones not counted). Since: 0.2 */
CMSB_API size_t cmsb_related_cache_size(cmsb_related_cache *c);

/**
 * Tests: a clock in milliseconds (monotonic) instead of CLOCK_MONOTONIC;
 * NULL restores it. Thread-safety: set before sharing the cache.
 * Since: 0.2
 */
CMSB_API void cmsb_related_cache_set_clock(cmsb_related_cache *c,
                                           int64_t (*now_ms)(void *arg),
                                           void *arg);

#ifdef __cplusplus
}
#endif
#endif /* CMSB_RELATED_API_H */

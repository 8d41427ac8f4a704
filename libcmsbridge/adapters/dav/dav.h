/* carddav:/caldav: adapter internals: HTTP (libcurl), the multistatus
 * parser (libxml2), the per-collection sync state and its cursor, the
 * change engine. The vCard parser, code forms, write-back edits and the
 * iCalendar expansion are the vcard-dir ones (vcard.h). */
#ifndef CMSB_DAV_H
#define CMSB_DAV_H

#include <stddef.h>
#include <stdint.h>

#include "vcard.h"

/* The adapters themselves: cmsb_carddav_adapter, cmsb_caldav_adapter
 * (<cmsb/adapter.h>). */

/* ---- multistatus (dav_xml.c) ---- */

#define DAV_RT_COLLECTION  0x1u
#define DAV_RT_ADDRESSBOOK 0x2u
#define DAV_RT_CALENDAR    0x4u
#define DAV_RT_PRINCIPAL   0x8u

#define DAV_REP_SYNC     0x1u /* sync-collection */
#define DAV_REP_MULTIGET 0x2u /* addressbook-multiget / calendar-multiget */
#define DAV_REP_LISTED   0x4u /* a supported-report-set was present */

#define DAV_ERR_SYNC_TOKEN 0x1u /* DAV:valid-sync-token */
#define DAV_ERR_LIMITS     0x2u /* DAV:number-of-matches-within-limits */

/* One <response>. Strings are NUL-terminated copies or NULL. */
typedef struct dav_resp dav_resp;
struct dav_resp {
    char *href; /* as sent, origin stripped ("/alice/book/a.vcf") */
    int status; /* response-level <status> (404 = deleted), 0 = none */
    char *etag; /* getetag (quotes kept) */
    char *data; /* address-data or calendar-data */
    size_t data_len;
    unsigned rtype;   /* DAV_RT_* */
    unsigned reports; /* DAV_REP_* */
    char *sync_token; /* the sync-token property */
    char *ctag;       /* CS:getctag */
    char *principal;  /* current-user-principal href */
    char *ab_home;    /* addressbook-home-set href */
    char *cal_home;   /* calendar-home-set href */
    char *name;       /* displayname */
    int64_t modified; /* getlastmodified, seconds (0 = none or unreadable) */
    int64_t length;   /* getcontentlength (-1 = none) */
    int data_refused; /* address-data / calendar-data came in a non-2xx
                       * propstat (the streaming parser only) */
};

typedef struct dav_ms {
    dav_resp *r;
    size_t n, cap;
    char *sync_token; /* top-level sync-token (sync-collection) */
    int truncated;    /* a 507 response: continue with sync_token */
    unsigned errors;  /* DAV_ERR_* from a <DAV:error> body or a 507 */
} dav_ms;

/*
 * Parse a multistatus (or a DAV:error) body, namespace-aware. A document
 * with a DOCTYPE is refused (no entities, no external loads).
 * Returns CMSB_OK, CMSB_EPARSE, CMSB_ENOMEM. *ms is freed with dav_ms_free
 * in every case.
 */
int dav_ms_parse(const char *buf, size_t len, dav_ms *ms);
void dav_ms_free(dav_ms *ms);
/* The path of an href: "https://h:1/a/b" -> "/a/b"; else the href. */
const char *dav_href_path(const char *href);
/* Same collection or resource, ignoring one trailing '/' and %-case. */
int dav_href_eq(const char *a, const char *b);

/* ---- the item map: href -> etag + the uids it produced (dav_state.c) ---- */

/* What a resource produced, one '\n'-terminated line each:
 *   C<uid>   a contact
 *   A<code>  after a C line: the group code that contact was sent with
 *            (none = no A line)
 *   E<uid>   an event instance
 *   G<code>  a group card whose name is a code ...
 *   M<uid>   ... and each of its members (after G, at most
 *            DAV_GROUP_MAX_MEMBERS per group card)
 * A/G/M lines exist only with CMSB_FORM_GROUP (dav_group.c). */
typedef struct dav_item {
    char *href;
    char *etag; /* NULL = unknown (fetch again) */
    char *uids; /* the lines above, or NULL */
    int seen;   /* marked during a full listing */
    struct dav_item *next;
} dav_item;

typedef struct dav_map {
    dav_item **b;
    size_t nb, n;
} dav_map;

dav_item *dav_map_get(const dav_map *m, const char *href);
/* Find or add (etag/uids NULL). NULL on ENOMEM. */
dav_item *dav_map_add(dav_map *m, const char *href);
void dav_map_del(dav_map *m, const char *href);
void dav_map_free(dav_map *m);
int dav_set(char **field, const char *val); /* strdup into *field */

/* A list of hrefs (copies). */
typedef struct dav_hrefs {
    char **v;
    size_t n, cap;
} dav_hrefs;

int dav_hrefs_add(dav_hrefs *h, const char *href); /* CMSB_OK, ENOMEM */
void dav_hrefs_free(dav_hrefs *h);

enum { DAV_BOOK = 'a', DAV_CAL = 'c' };

typedef struct dav_coll {
    char *href;        /* path of the collection */
    int kind;          /* DAV_BOOK or DAV_CAL */
    int sync;          /* 1 = sync-collection, 0 = ctag/etag listing */
    char *token;       /* sync-token; NULL/"" = none yet */
    char *ctag;        /* last getctag (listing mode) */
    int64_t exp;       /* calendars: when the window was last expanded */
    int64_t nodata_at; /* when the server last refused card data in a
                        * sync-collection REPORT (0 = never): asked for
                        * etags only until DAV_NODATA_RETRY later */
    int gone;          /* vanished from the server: its items are deleted */
    dav_map items;
} dav_coll;

typedef struct dav_state {
    dav_coll *c;
    size_t n, cap;
    int64_t disc_at;  /* when collections were discovered */
    int64_t audit_at; /* when every etag was last compared (the audit) */
} dav_state;

dav_coll *dav_state_coll(dav_state *st, const char *href, int kind);
void dav_state_free(dav_state *st);
/* A copy of the collections of `from` (href, kind, sync mode; no tokens,
 * no items) and its discovery time into the empty `to`: what the open
 * discovered, for the first sync. CMSB_OK or CMSB_ENOMEM (to emptied). */
int dav_state_colls(dav_state *to, const dav_state *from);
/* Cursor text <-> state. parse: 1 = ours and same fingerprint, 0 = ours
 * but another config (items kept, etags and tokens dropped), -1 = not a
 * cursor of this adapter or malformed (state empty). A version 1 cursor
 * (before group cards were kept) loads with the etags of address book
 * items that produced nothing dropped, and their collection's ctag, so
 * those resources (group cards among them) are fetched once again. */
int dav_state_parse(dav_state *st, const char *cursor, uint64_t fp);
int dav_state_write(const dav_state *st, uint64_t fp, vc_buf *out);

/* ---- group cards across resources (dav_group.c) ---- */

#define DAV_GROUP_MAX_MEMBERS 20000 /* members kept per group card */

/* member uid -> group code from the G/M lines of every address book item
 * of st (the lowest code when a uid is in several coded groups, as
 * vcard-dir does). *map is emptied first. CMSB_OK or CMSB_ENOMEM. */
int dav_groups_build(const dav_state *st, vc_map *map);
/* Does the item hold a contact sent with another group code (A line)
 * than map gives its uid? */
int dav_group_stale(const dav_item *it, const vc_map *map);
/* Add to out the hrefs of the items of c that dav_group_stale() finds. */
int dav_group_stale_hrefs(const dav_coll *c, const vc_map *map, dav_hrefs *out);
/* Same G/M lines (in order) in both line lists (NULL = none)? */
int dav_group_same(const char *a, const char *b);
/* Does a line list hold a G line? */
int dav_group_any(const char *lines);
/* Append to *out the G blocks (G + its M lines) of `old` whose code has
 * no G line in out: a resource that failed to parse keeps its groups. */
int dav_group_keep(const char *old, vc_buf *out);

/* ---- the source ---- */

typedef struct dav_src {
    cmsb_source base;
    int kind;     /* what discovery looks for: DAV_BOOK / DAV_CAL */
    char *origin; /* "https://host:port" */
    char **urls;  /* the URLs of the URI (base or collections) */
    size_t nurls;
    int nosync;       /* "#nosync": never use sync-collection */
    int64_t audit_s;  /* "#audit=N": compare every etag each N s (0 = never) */
    int anon;         /* no username: no principal to ask for */
    int has_user;     /* credentials were given */
    int digest;       /* the server asked for digest auth */
    int no_answer;    /* the last request got no HTTP answer at all */
    int timed_out;    /* ... because it timed out */
    long timeout_ms;  /* per request */
    size_t mg_batch;  /* hrefs per multiget now (adapts to answer time) */
    int no_query;     /* "#noquery", or an addressbook-query failed once:
                       * multigets only */
    size_t sync_data; /* "#syncdata=N": bytes of card data kept from one
                       * sync-collection answer (0 = none asked) */
    vc_conf conf;
    void *curl; /* CURL *, one per source (keep-alive) */
    char errbuf[256];
    dav_state st; /* last known state (after x_changes) */
    int have_st;
    vc_buf st_cur; /* the cursor text st serialises to (the last one the
                    * last good sync handed out): the next sync whose
                    * `since` is exactly this starts from st, without
                    * parsing the cursor again */
} dav_src;

/* ---- HTTP (dav_http.c) ---- */

/* ---- streaming etag listings (dav_stream.c) ---- */

typedef int (*dav_resp_fn)(void *arg, dav_resp *r);
typedef struct dav_stream dav_stream;
/* A push parser of a multistatus: fn gets each <response> as soon as it
 * is complete, with href (origin stripped), status (response level, 0 =
 * none) and etag (of a 2xx propstat, NULL = none) only; the strings are
 * valid during the call. A non-zero return stops the parse. */
int dav_stream_open(dav_stream **st, dav_resp_fn fn, void *arg);
/* The same, also handing out the address-data / calendar-data of a 2xx
 * propstat (r->data, r->data_len; raw text, NUL-terminated) as long as
 * the data handed out in all stays within `budget` bytes: a member whose
 * data would go over it comes without (r->data NULL; the caller fetches
 * it another way). The parser itself holds at most one member's data. */
int dav_stream_open_data(dav_stream **st, dav_resp_fn fn, void *arg,
                         size_t budget);
/* The top-level DAV:sync-token read so far (trimmed), NULL = none. */
const char *dav_stream_sync_token(const dav_stream *st);
/* CMSB_OK, CMSB_EPARSE (malformed, not a DAV:multistatus, a DOCTYPE),
 * CMSB_ECANCELED (fn stopped it), CMSB_ENOMEM; the first error sticks. */
int dav_stream_feed(dav_stream *st, const char *p, size_t n);
int dav_stream_finish(dav_stream *st); /* the end: same codes */
void dav_stream_free(dav_stream *st);  /* NULL is a no-op */

typedef struct dav_reply {
    long status; /* HTTP status; 0 = no answer */
    vc_buf body; /* NUL-terminated when len > 0 */
    char etag[256];
    char location[1024];
    int digest;       /* a WWW-Authenticate: Digest challenge came */
    dav_stream *sink; /* dav_request_stream: a 207 body goes here */
    void *curl;       /* ... (to read the status as the body arrives) */
    int sunk;         /* the body went to the sink */
    int sink_rc;      /* what the sink said */
} dav_reply;

int dav_http_open(dav_src *s, const cmsb_options *o);
void dav_http_close(dav_src *s);
/* The full URL of an href or URL. */
int dav_url(const dav_src *s, const char *href, vc_buf *out);
/*
 * One request. `depth` may be NULL, `body` NULL for none, `if_match` an
 * etag or NULL. Returns CMSB_OK when an HTTP answer came (any status, in
 * r->status), CMSB_EIO when none (logged), CMSB_ENOMEM. Free r->body.
 */
int dav_request(dav_src *s, const char *method, const char *href,
                const char *depth, const char *body, const char *if_match,
                dav_reply *r);
/* The same, a 207 answer fed to `sink` as it arrives instead of kept in
 * r->body (another status is kept as usual). Returns as dav_request, and
 * also what the sink said: CMSB_EPARSE (logged), CMSB_ECANCELED. */
int dav_request_stream(dav_src *s, const char *method, const char *href,
                       const char *depth, const char *body, dav_stream *sink,
                       dav_reply *r);
/* The same with an If-None-Match header (NULL = none): "*" makes a PUT
 * create only, never replace. */
int dav_request_cond(dav_src *s, const char *method, const char *href,
                     const char *depth, const char *body, const char *if_match,
                     const char *if_none_match, dav_reply *r);
void dav_reply_free(dav_reply *r);

/* ---- discovery and changes (dav_sync.c, dav_fetch.c) ---- */

int dav_discover(dav_src *s, dav_state *st);
int dav_changes(dav_src *s, const char *since, cmsb_change_cb cb, void *arg);
/* REPORT / PROPFIND helpers: request + 207 + parse. *http_status gets
 * the status when not 207 (then CMSB_OK with ms empty). */
int dav_report(dav_src *s, const char *method, const char *href,
               const char *depth, const char *body, dav_ms *ms,
               long *http_status);
/* A sync-collection REPORT (Depth 0) whose 207 answer is parsed as it
 * arrives (dav_stream_open_data): ms gets every member (href, status,
 * etag; 507 sets truncated), the top-level sync-token, and the card data
 * of members while the data kept stays within `budget` bytes (members
 * past it come without: fetch them). Never holds the whole answer.
 * Returns as dav_report (a malformed answer: CMSB_EIO, logged). */
/* A server that answered a sync-collection's card data with a non-2xx
 * propstat (Xandikos 0.2.8) is asked for etags only in that collection,
 * and asked for the data again this many seconds later (an upgrade). */
#define DAV_NODATA_RETRY      86400
#define DAV_SYNC_DATA_DEFAULT ((size_t)32 << 20)
#define DAV_SYNC_DATA_MAX     ((size_t)512 << 20) /* "#syncdata=" at most */
int dav_sync_report(dav_src *s, const char *href, const char *body,
                    size_t budget, dav_ms *ms, long *http_status);
/* A Depth 1 PROPFIND whose 207 answer is parsed as it arrives
 * (dav_stream): fn per member. CMSB_OK with *http_status (fn was called
 * only for a 207), CMSB_EIO (no answer, or a malformed one: logged),
 * CMSB_ECANCELED (fn stopped), CMSB_ENOMEM. */
int dav_list_stream(dav_src *s, const char *href, const char *body,
                    dav_resp_fn fn, void *arg, long *http_status);
/* Fetch the data of hrefs of one collection with a multiget, in chunks;
 * cb per answer. */
int dav_multiget(dav_src *s, const dav_coll *c, char **hrefs, size_t n,
                 dav_resp_fn fn, void *arg);
/* One multiget of the first hrefs (at most s->mg_batch of them); *taken
 * says how many it covered. The batch adapts to the server: it doubles
 * while answers come in well under the timeout (DAV_MG_MAX at most) and
 * halves when one is slow; a chunk that times out is asked again at half
 * the size (down to DAV_MG_MIN), so a slow server still gets through. */
#define DAV_MG_START 100
#define DAV_MG_MIN   5
#define DAV_MG_MAX   1000
int dav_multiget_some(dav_src *s, const dav_coll *c, char **hrefs, size_t n,
                      dav_resp_fn fn, void *arg, size_t *taken);
/* Every card of an address book with its data, in one addressbook-query
 * REPORT (no filter): what a full sync needs, where a server's multigets
 * slow down as the book grows (Xandikos: 70 ms per href at 10k cards).
 * fn per member (group cards first; the collection itself skipped).
 * CMSB_OK with *status the HTTP status (only a 207 calls fn), CMSB_EIO
 * when no answer came (s->timed_out says whether it timed out),
 * CMSB_ECANCELED when fn stopped, CMSB_ENOMEM. */
int dav_book_query(dav_src *s, const dav_coll *c, dav_resp_fn fn, void *arg,
                   long *status);
int dav_cal_query(dav_src *s, const dav_coll *c, int64_t from, int64_t to,
                  int with_data, dav_resp_fn fn, void *arg);

/* ---- write-back (dav_write.c) ---- */

int dav_write_code(cmsb_source *base, const char *uid, const char *code);
/* A new card in the first address book (CMSB_CAP_CREATE), dav_write.c */
int dav_create_contact(cmsb_source *base, const tsps_contact *c,
                       const char *code, char *uid_out);

#endif

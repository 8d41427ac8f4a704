/* Shared by the imap adapter's files (imap.c: lookups; imap_index.c: the
 * adapter-kept header index). Not installed. */
#ifndef CMSB_IMAP_H
#define CMSB_IMAP_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdint.h>

#include "related.h"

#define IM_MAILBOXES   8
#define IM_TIMEOUT_MS  5000
#define IM_RESP_MAX    (1024 * 1024)
#define IM_FETCH_BYTES 65536 /* fetched per message: header, text, parts */

typedef struct im_index im_index;

typedef struct im_source {
    cmsb_source base;
    char *base_url; /* imap[s]://host[:port] */
    char *mbox[IM_MAILBOXES];
    size_t nmbox;
    int starttls;
    int timeout_ms;
    CURL *curl; /* kept: the connection is reused between lookups */
    char err[CURL_ERROR_SIZE];
    im_index *ix; /* NULL = no index (no ?index= in the URI) */
} im_source;

typedef struct im_buf {
    char *p;
    size_t n, cap;
    int over;
} im_buf;

/* One connection: a curl handle, its error buffer, and an optional flag
 * that aborts a transfer when set (the index thread at close). */
typedef struct im_conn {
    CURL *curl;
    char *err; /* CURL_ERROR_SIZE bytes */
    const atomic_int *stop;
} im_conn;

int64_t im_now_ms(void);
/* One request on `c`: url (mailbox part escaped by the caller), optional
 * custom command; the response body appended to *b. Bounded by the
 * source's per-request timeout and by `deadline` (monotonic ms). */
CURLcode im_perform(const im_source *s, const im_conn *c, int64_t deadline,
                    const char *url, const char *custom, im_buf *b);
/* The numbers of the untagged "* SEARCH ..." lines, malloc'd in *out;
 * returns the count or (size_t)-1 when out of memory. */
size_t im_parse_search(const char *resp, unsigned long **out);
/* The number after `key` ("UIDVALIDITY ") in a response, or 0. */
unsigned long im_parse_num(const char *resp, const char *key);

/* ---- the header index (imap_index.c) ----
 * An LMDB file DIR/imap-<hash of server and user>.mdb: for each mailbox,
 * address -> (Date:, UID) of the messages that name it in From/To/Cc, and
 * per mailbox the UIDVALIDITY and the first UID not yet indexed. Built
 * and kept current by a background thread (every refresh_s seconds; 0 =
 * only through cmsb_changes()) with its own connection; a lookup only
 * reads it. */

/* CMSB_OK, CMSB_EIO (the file cannot be opened or the thread started),
 * CMSB_ENOMEM. */
int im_index_open(im_source *s, const char *dir, int refresh_s);
void im_index_close(im_source *s);
/* Bring the index up to date now, on the caller's thread (serialised with
 * the background refresh). CMSB_OK or the first error. */
int im_index_refresh(im_source *s);
/* The indexed UIDs of messages naming one of w's addresses, dated in
 * [since, until) (0 = open), newest Date: first, at most `max`. Returns 1
 * and fills *uids (malloc'd), *n and *next (the first UID not indexed:
 * the caller searches from there) when the mailbox is indexed under this
 * UIDVALIDITY; 0 when it is not (the caller searches the server); a
 * negative CMSB_E* code on error. */
int im_index_lookup(im_source *s, const char *mbox, unsigned long uidvalidity,
                    const rel_who *w, int64_t since, int64_t until, size_t max,
                    unsigned long **uids, size_t *n, unsigned long *next);
/* The indexed message `uid` of `mbox`, parsed: 1 (fills *m: free with
 * rel_mail_free), 0 when not indexed or indexed under another
 * UIDVALIDITY (0 = unknown: never), CMSB_ENOMEM or CMSB_EIO. */
int im_index_mail(im_source *s, const char *mbox, unsigned long uidvalidity,
                  unsigned long uid, rel_mail *m);
/* ---- the stored record (imap_record.c) ---- */
void im_put_be(unsigned char *p, uint64_t v, int n);
uint64_t im_get_be(const unsigned char *p, int n);
/* a Date: with the sign bit flipped: sorts as unsigned bytes */
uint64_t im_flip(int64_t d);
int64_t im_unflip(uint64_t d);
/* A parsed message as one record (malloc'd; NULL = ENOMEM). */
unsigned char *im_rec_encode(const rel_mail *m, size_t *len);
/* 1 = decoded into *m, 0 = damaged record, CMSB_ENOMEM */
int im_rec_decode(const unsigned char *r, size_t len, rel_mail *m);

/* The background refresh's last failure, once (for the caller's thread to
 * log): 1 and the reason in buf, or 0. */
int im_index_take_error(im_source *s, char *buf, size_t len);

#endif

/* Shared by the related-item adapters (maildir, imap, docs-dir): a set of
 * owned items sorted newest first, the person to match, and the MIME
 * message reader over GMime. Not installed. */
#ifndef CMSB_RELATED_H
#define CMSB_RELATED_H

#include <stddef.h>
#include <stdint.h>

#include <cmsb/adapter.h>

#define REL_SNIPPET_MAX 200

/* ---- an owned item and a set of them (related_items.c) ---- */

typedef struct rel_item {
    unsigned kind;
    int64_t date;
    char *title, *from, *to, *snippet, *url, *id, *where, *why;
    char **att;
    size_t natt;
} rel_item;

typedef struct rel_set {
    rel_item *v;
    size_t n, cap;
} rel_set;

/* Take ownership of *it (cleared) into the set. CMSB_OK or CMSB_ENOMEM
 * (then *it is freed). */
int rel_set_take(rel_set *set, rel_item *it);
void rel_item_free(rel_item *it);
void rel_set_free(rel_set *set);
/* Sort newest first (ties by id), emit at most `limit`. */
int rel_set_emit(rel_set *set, size_t limit, cmsb_related_cb cb, void *arg);

/* Whitespace folded, control characters dropped, cut at `max` bytes on a
 * UTF-8 character boundary. Returns a malloc'd string (NULL = ENOMEM). */
char *rel_fold(const char *text, size_t len, size_t max);
/* Lower-case ASCII copy (malloc'd). */
char *rel_lower(const char *s);
/* Case-insensitive (ASCII) search of needle in hay[0..n). */
const char *rel_memcasemem(const char *hay, size_t n, const char *needle);

/* ---- the person (related_items.c) ---- */

typedef struct rel_who {
    char emails[TSPS_MAX_EMAILS][TSPS_EMAIL_MAX]; /* lower case */
    size_t nemails;
    char numbers[TSPS_MAX_NUMBERS][TSPS_E164_MAX]; /* E.164 */
    size_t nnumbers;
    char name[TSPS_NAME_MAX]; /* lower case, whitespace folded */
    char org[TSPS_NAME_MAX];
} rel_who;

void rel_who_from(rel_who *w, const tsps_contact *c);
/* Index of `addr` (any case) among the person's e-mails, or -1. */
int rel_who_email(const rel_who *w, const char *addr);

/* ---- a MIME message (related_mime.c, GMime) ---- */

#define REL_ROLE_FROM 1
#define REL_ROLE_TO   2
#define REL_ROLE_CC   3

typedef struct rel_mail {
    char *subject, *from, *to, *snippet, *msgid; /* UTF-8, never NULL */
    int64_t date;                                /* 0 = no Date: */
    char **att;
    size_t natt;
    char **addrs; /* every mailbox address of From/To/Cc, lower case */
    int *roles;   /* REL_ROLE_* per address */
    size_t naddrs;
} rel_mail;

/* Initialise GMime once per process (pthread_once; GMime's own init is
 * process-wide and is never undone). */
void rel_gmime_init(void);
/* Parse a message (or its first part: a truncated one is fine). Headers
 * decoded (RFC 2047 encoded words, charsets), the first text part folded
 * into a snippet, attachment names. CMSB_OK, CMSB_EPARSE, CMSB_ENOMEM. */
int rel_mail_parse(const char *buf, size_t len, rel_mail *out);
void rel_mail_free(rel_mail *m);
/* Does the mail involve the person? Fills why ("from a@b") and returns
 * 1, else 0. */
int rel_mail_match(const rel_mail *m, const rel_who *w, char *why,
                   size_t whylen);
/* Move the mail's strings into an item (the mail is left empty). */
int rel_item_from_mail(rel_item *it, rel_mail *m);

#endif

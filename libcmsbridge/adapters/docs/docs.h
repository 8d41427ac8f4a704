/* The docs-dir adapter: a folder tree of documents indexed into a file,
 * looked up by e-mail, phone number, name and organisation. Not
 * installed. */
#ifndef CMSB_DOCS_H
#define CMSB_DOCS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "related.h"

#define DOCS_TEXT_MAX  (64 * 1024)        /* indexed text per document */
#define DOCS_FILE_MAX  (32 * 1024 * 1024) /* larger files: name only */
#define DOCS_PAGES_MAX 200                /* PDF pages read */

/* Kinds of files read (by extension). */
typedef enum {
    DOCS_NONE = 0,
    DOCS_TEXT, /* .txt .text .md .markdown .csv */
    DOCS_EML,  /* .eml */
    DOCS_PDF,  /* .pdf */
    DOCS_ODT,  /* .odt .ods .odp */
    DOCS_DOCX  /* .docx */
} docs_kind;

docs_kind docs_kind_of(const char *name);

/* docs_extract.c: the text of a document in memory. *text (malloc'd,
 * UTF-8, may be long; not folded) and *title (malloc'd or NULL). Returns
 * CMSB_OK, CMSB_EPARSE (with *reason, static), CMSB_ENOMEM. The fuzz
 * target tests/fuzz/fuzz_docs.c drives it. */
int docs_extract_mem(docs_kind kind, const char *buf, size_t len, char **text,
                     size_t *textlen, char **title, const char **reason);

/* One indexed document. */
typedef struct docs_entry {
    char *path;    /* relative to the root */
    int64_t mtime; /* ns */
    int64_t size;
    int64_t date;  /* seconds (the file's mtime) */
    char *title;   /* folded */
    char *snippet; /* folded, <= REL_SNIPPET_MAX */
    char *numbers; /* E.164 found, space-separated ("+49301 +4930...") */
    char *text;    /* lower case, folded, <= DOCS_TEXT_MAX */
    size_t textlen;
    int seen; /* during a scan */
} docs_entry;

typedef struct docs_index {
    docs_entry *v;
    size_t n, cap;
    uint64_t generation; /* bumped by every change written */
} docs_index;

typedef struct docs_scan_stats {
    size_t files, extracted, removed, failed;
} docs_scan_stats;

/* docs_index.c */
void docs_entry_free(docs_entry *e);
void docs_index_free(docs_index *ix);
/* Load from a file: CMSB_OK, CMSB_ENOTFOUND (no file), CMSB_EPARSE. */
int docs_index_load(docs_index *ix, const char *file);
/* Write atomically (temp + rename). */
int docs_index_save(const docs_index *ix, const char *file);

typedef void (*docs_fail_fn)(void *arg, const char *path, const char *reason);

/* Bring the index up to date with the tree: files whose mtime or size
 * changed (or new ones) are read again, missing ones dropped. region
 * ("" = none) is the dial plan for numbers written without '+'. */
int docs_index_scan(docs_index *ix, const char *root, const char *region,
                    docs_fail_fn fail, void *arg, docs_scan_stats *st);

/* Fill e (path/mtime/size set) from the file's content. */
int docs_index_read(docs_entry *e, const char *full, const char *region,
                    const char **reason);
/* Same from bytes in memory (the docs-dav adapter). buf NULL = no content
 * (then why_none is the reason): the entry is indexed by name only.
 * CMSB_OK, CMSB_EPARSE (indexed by name, *reason set), CMSB_ENOMEM. */
int docs_index_read_mem(docs_entry *e, const char *buf, size_t len,
                        const char *region, const char *why_none,
                        const char **reason);
/* A new zeroed entry at the end (NULL on ENOMEM); sort before a find. */
docs_entry *docs_index_add(docs_index *ix);
/* The entry of a path in a sorted index, or NULL. */
docs_entry *docs_index_find(docs_index *ix, const char *path);
/* Sort by path. */
void docs_index_sort(docs_index *ix);
/* A listed file: mark its entry in `ix` seen. Unchanged (same mtime and
 * size): *out = NULL. Otherwise *out is the entry to re-read, its mtime
 * and size already set (a new one is added to `add`, merged later).
 * CMSB_OK, CMSB_ENOMEM. */
int docs_index_touch(docs_index *ix, docs_index *add, const char *path,
                     int64_t mtime, int64_t size, docs_entry **out);

/* docs_match.c: the person's documents (as docs-dir matches them: e-mail
 * in path or text, a number found in the file, name or organisation as
 * whole words in file name, folder or text), filtered by q's dates,
 * emitted newest first. url(ctx, e) gives the item's URL (malloc'd). */
typedef char *(*docs_url_fn)(void *ctx, const docs_entry *e);
int docs_related(const docs_index *ix, const tsps_contact *who,
                 const cmsb_related_query *q, docs_url_fn url, void *ctx,
                 cmsb_related_cb cb, void *arg);
/* The URL-safe form of a path: what is not unreserved (or '/') is
 * percent-encoded. Appended at u[o], which has room for 3 x strlen(p)
 * + 1 bytes; returns the new length. */
size_t docs_url_escape(char *u, size_t o, const char *p);

#endif

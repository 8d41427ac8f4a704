/* The "docs-dav" adapter: documents related to a person in a WebDAV
 * collection (docs-dav:https://dav.example.org/docs/#depth=3&region=DE
 * &index=/var/lib/tsps/ann-dav.idx).
 *
 * cmsb_changes() lists the collection with PROPFIND Depth: 1 (and its
 * sub-collections the same way, at most `depth` levels below, default 4,
 * at most DAV_DOCS_COLLS collections), GETs only the documents whose etag
 * (or length) changed since the last listing, reads their text with the
 * docs-dir extractors and drops the documents that are gone. Matching is
 * docs-dir's (docs_match.c); a lookup reads the index in memory, never
 * the server. Every request is bounded by cmsb_options.timeout_ms (default
 * 30 s); TLS certificates are verified (cmsb_options.ca_file for a private
 * CA); credentials come from cmsb_options and are never logged. A 401/403
 * is CMSB_EAUTH, no answer CMSB_EIO: then the index is left as it was.
 *
 * The index is docs-dir's file format: the change stamp ("mtime") of an
 * entry is an FNV-1a 64 hash of the etag (without one: of the
 * getlastmodified and length), its date the getlastmodified
 * time. Built only with CMSB_WITH_CARDDAV (the DAV HTTP code). */
#ifdef CMSB_WITH_CARDDAV
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>

#include "dav.h"
#include "docs.h"

#define DAV_DOCS_DEPTH_DEFAULT 4
#define DAV_DOCS_DEPTH_MAX     16
#define DAV_DOCS_COLLS         10000 /* collections listed per refresh */

typedef struct ddav_source {
    dav_src d;        /* first: its base is the cmsb_source */
    char *root;       /* path of the collection, ends with '/' */
    char *index_file; /* NULL = in memory only */
    char region[3];
    int depth;
    docs_index ix;
} ddav_source;

static const char PROPFIND_BODY[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/><d:getetag/>"
    "<d:getlastmodified/><d:getcontentlength/></d:prop></d:propfind>";

static int parse_fragment(ddav_source *s, const char *f)
{
    while (*f != '\0') {
        size_t n = strcspn(f, "&");
        if (n > 6 && strncmp(f, "depth=", 6) == 0) {
            int v = 0;
            for (size_t i = 6; i < n; i++) {
                if (f[i] < '0' || f[i] > '9' || v > DAV_DOCS_DEPTH_MAX)
                    return CMSB_EINVAL;
                v = v * 10 + (f[i] - '0');
            }
            if (v > DAV_DOCS_DEPTH_MAX)
                return CMSB_EINVAL;
            s->depth = v;
        } else if (n == 9 && strncmp(f, "region=", 7) == 0) {
            s->region[0] = (char)toupper((unsigned char)f[7]);
            s->region[1] = (char)toupper((unsigned char)f[8]);
        } else if (n > 6 && strncmp(f, "index=", 6) == 0) {
            free(s->index_file);
            s->index_file = strndup(f + 6, n - 6);
            if (s->index_file == NULL)
                return CMSB_ENOMEM;
        } else {
            cmsb_source_log(&s->d.base, TSPS_LOG_ERROR,
                            "msg=\"docs-dav: unknown URI option\" "
                            "option=\"%.*s\"",
                            (int)n, f);
            return CMSB_EINVAL;
        }
        f += n;
        if (*f == '&' && *++f == '\0')
            return CMSB_EINVAL;
    }
    return CMSB_OK;
}

static int ddav_open(const cmsb_adapter *ad, const char *uri,
                     const cmsb_options *opt, cmsb_source *base)
{
    ddav_source *s = (ddav_source *)base;
    const char *u = strchr(uri, ':') + 1;
    const char *hash = strchr(u, '#');
    size_t n = hash ? (size_t)(hash - u) : strlen(u), k;
    cmsb_options none = {0};
    int rc;

    base->adapter = ad;
    s->d.kind = 0;
    s->depth = DAV_DOCS_DEPTH_DEFAULT;
    if (n > 8 && strncmp(u, "https://", 8) == 0)
        k = 8;
    else if (n > 7 && strncmp(u, "http://", 7) == 0)
        k = 7;
    else
        return CMSB_EINVAL;
    if (k >= n || u[k] == '/')
        return CMSB_EINVAL;
    while (k < n && u[k] != '/') {
        /* no userinfo (credentials go in options), no query */
        if (u[k] == '@' || u[k] == '?' || (unsigned char)u[k] <= ' ')
            return CMSB_EINVAL;
        k++;
    }
    for (size_t i = k; i < n; i++)
        if (u[i] == '?' || (unsigned char)u[i] <= ' ')
            return CMSB_EINVAL;
    s->d.origin = strndup(u, k);
    /* the collection path, with one trailing '/' */
    s->root = malloc(n - k + 3);
    if (s->d.origin == NULL || s->root == NULL)
        return CMSB_ENOMEM;
    snprintf(s->root, n - k + 3, "%.*s", (int)(n - k), k < n ? u + k : "/");
    if (s->root[strlen(s->root) - 1] != '/')
        strcat(s->root, "/");
    if (hash != NULL) {
        rc = parse_fragment(s, hash + 1);
        if (rc != CMSB_OK)
            return rc;
    }
    if (s->region[0] != '\0') {
        tsps_dialplan dp;
        if (tsps_dialplan_for_region(s->region, &dp) != TSPS_OK)
            return CMSB_EINVAL;
    }
    rc = dav_http_open(&s->d, opt != NULL ? opt : &none);
    if (rc != CMSB_OK)
        return rc;
    if (s->index_file != NULL) {
        rc = docs_index_load(&s->ix, s->index_file);
        if (rc == CMSB_EPARSE || rc == CMSB_EIO)
            cmsb_source_log(base, TSPS_LOG_WARN,
                            "msg=\"docs-dav index unreadable, rebuilt on the "
                            "next sync\" file=\"%s\"",
                            s->index_file);
        else if (rc == CMSB_ENOMEM)
            return rc;
    }
    return CMSB_OK;
}

static void ddav_close(cmsb_source *base)
{
    ddav_source *s = (ddav_source *)base;

    dav_http_close(&s->d);
    docs_index_free(&s->ix);
    free(s->d.origin);
    free(s->root);
    free(s->index_file);
}

static int ddav_contacts(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    (void)base;
    (void)cb;
    (void)arg;
    return CMSB_OK; /* documents are not contacts */
}

/* The change stamp of a listed document: a hash of its etag, or without
 * one of its getlastmodified and length (a server with neither gives no
 * way to see a change: such a document is read once). */
static int64_t change_stamp(const dav_resp *r)
{
    uint64_t h = 1469598103934665603ULL;
    char alt[64];
    const char *p = r->etag;

    if (p == NULL || p[0] == '\0') {
        snprintf(alt, sizeof(alt), "m%lld/%lld", (long long)r->modified,
                 (long long)r->length);
        p = alt;
    }
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return (int64_t)(h >> 1);
}

/* The decoded path of an href below the root ("a%20b/c.pdf" ->
 * "a b/c.pdf"), malloc'd, or NULL when it is not below it or holds
 * what an index line cannot (tab, newline, NUL). */
static char *rel_of(const ddav_source *s, const char *href)
{
    char *dec = xmlURIUnescapeString(href, 0, NULL);
    char *root = xmlURIUnescapeString(s->root, 0, NULL);
    size_t rl = root != NULL ? strlen(root) : 0;
    char *out = NULL;

    if (dec != NULL && root != NULL && strncmp(dec, root, rl) == 0 &&
        dec[rl] != '\0' && strpbrk(dec + rl, "\t\r\n") == NULL)
        out = strdup(dec + rl);
    xmlFree(dec);
    xmlFree(root);
    if (out != NULL) {
        size_t l = strlen(out);
        while (l > 0 && out[l - 1] == '/')
            out[--l] = '\0';
    }
    return out;
}

typedef struct walk {
    ddav_source *s;
    cmsb_change_cb cb;
    void *arg;
    int stop, changed;
    dav_hrefs todo; /* collections to list, with their depth below */
    int *todo_depth;
    docs_index add;
    docs_scan_stats st;
} walk;

static int http_error(ddav_source *s, const char *what, long status)
{
    if (status == 401 || status == 403)
        return CMSB_EAUTH;
    cmsb_source_log(&s->d.base, TSPS_LOG_WARN,
                    "msg=\"docs-dav: %s failed\" status=%ld", what, status);
    return CMSB_EIO;
}

static void failed_doc(walk *w, const char *rel, const char *reason)
{
    cmsb_change ch = {.kind = CMSB_CHANGE_ERROR, .file = rel, .reason = reason};

    w->st.failed++;
    cmsb_source_log(&w->s->d.base, TSPS_LOG_WARN,
                    "msg=\"docs-dav: text not read, indexed by name\" "
                    "file=\"%s\" reason=\"%s\"",
                    rel, reason);
    if (!w->stop && w->cb(w->arg, &ch) != 0)
        w->stop = 1;
}

static int fetch_doc(walk *w, docs_entry *e, const char *href)
{
    dav_reply r;
    const char *reason;
    int rc;

    if (e->size > DOCS_FILE_MAX) {
        /* too large to read: not downloaded, indexed by name */
        w->st.extracted++;
        w->changed = 1;
        rc = docs_index_read_mem(e, NULL, 0, w->s->region,
                                 "file too large (indexed by name only)",
                                 &reason);
        if (rc == CMSB_EPARSE) {
            failed_doc(w, e->path, reason);
            rc = CMSB_OK;
        }
        return rc;
    }
    rc = dav_request(&w->s->d, "GET", href, NULL, NULL, NULL, &r);
    if (rc != CMSB_OK)
        return rc;
    if (r.status == 401 || r.status == 403) {
        dav_reply_free(&r);
        return CMSB_EAUTH;
    }
    w->st.extracted++;
    w->changed = 1;
    if (r.status != 200) {
        char why[64];
        snprintf(why, sizeof(why), "GET answered %ld", r.status);
        rc = docs_index_read_mem(e, NULL, 0, w->s->region, why, &reason);
    } else if (r.body.len > DOCS_FILE_MAX) {
        rc = docs_index_read_mem(e, NULL, 0, w->s->region,
                                 "file too large (indexed by name only)",
                                 &reason);
    } else {
        rc = docs_index_read_mem(e, r.body.len ? r.body.p : "", r.body.len,
                                 w->s->region, NULL, &reason);
    }
    dav_reply_free(&r);
    if (rc == CMSB_EPARSE) {
        failed_doc(w, e->path, reason);
        rc = CMSB_OK;
    }
    return rc;
}

static int on_doc(walk *w, const dav_resp *r, const char *rel)
{
    int64_t stamp = change_stamp(r);
    docs_entry *e;
    int rc;

    w->st.files++;
    rc = docs_index_touch(&w->s->ix, &w->add, rel, stamp, r->length, &e);
    if (rc != CMSB_OK || e == NULL)
        return rc;
    e->date = r->modified != 0 ? r->modified : cmsb_source_now(&w->s->d.base);
    return fetch_doc(w, e, r->href);
}

static int list_one(walk *w, const char *href, int depth)
{
    dav_ms ms = {0};
    long status = 0;
    int rc = dav_report(&w->s->d, "PROPFIND", href, "1", PROPFIND_BODY, &ms,
                        &status);

    if (rc == CMSB_OK && status != 207)
        rc = http_error(w->s, "PROPFIND", status);
    for (size_t i = 0; i < ms.n && rc == CMSB_OK && !w->stop; i++) {
        const dav_resp *r = &ms.r[i];
        char *rel;
        const char *name;
        if (dav_href_eq(r->href, href) || (r->status != 0 && r->status != 200))
            continue;
        rel = rel_of(w->s, r->href);
        if (rel == NULL || rel[0] == '\0') {
            free(rel);
            continue;
        }
        name = strrchr(rel, '/');
        name = name != NULL ? name + 1 : rel;
        if (name[0] == '.' || name[0] == '~') {
            /* hidden files and writers' temp files, as docs-dir */
        } else if (r->rtype & DAV_RT_COLLECTION) {
            if (depth < w->s->depth && w->todo.n < DAV_DOCS_COLLS) {
                int *p = realloc(w->todo_depth,
                                 (w->todo.n + 1) * sizeof(*w->todo_depth));
                if (p == NULL) {
                    rc = CMSB_ENOMEM;
                } else {
                    w->todo_depth = p;
                    p[w->todo.n] = depth + 1;
                    rc = dav_hrefs_add(&w->todo, r->href);
                }
            }
        } else if (docs_kind_of(name) != DOCS_NONE) {
            rc = on_doc(w, r, rel);
        }
        free(rel);
    }
    dav_ms_free(&ms);
    return rc;
}

static int ddav_changes(cmsb_source *base, const char *since, cmsb_change_cb cb,
                        void *arg)
{
    ddav_source *s = (ddav_source *)base;
    walk w = {.s = s, .cb = cb, .arg = arg};
    char cur[64];
    cmsb_change ch = {.kind = CMSB_CHANGE_CHECKPOINT, .cursor = cur};
    size_t o = 0;
    int rc;

    (void)since;
    for (size_t i = 0; i < s->ix.n; i++)
        s->ix.v[i].seen = 0;
    w.todo_depth = malloc(sizeof(int));
    rc = w.todo_depth != NULL ? dav_hrefs_add(&w.todo, s->root) : CMSB_ENOMEM;
    if (rc == CMSB_OK)
        w.todo_depth[0] = 0;
    for (size_t i = 0; rc == CMSB_OK && i < w.todo.n && !w.stop; i++)
        rc = list_one(&w, w.todo.v[i], w.todo_depth[i]);
    dav_hrefs_free(&w.todo);
    free(w.todo_depth);
    /* new entries join the index even after an error (they were read);
     * nothing is dropped unless every listing came through */
    for (size_t i = 0; i < w.add.n; i++) {
        docs_entry *e = docs_index_add(&s->ix);
        if (e == NULL) {
            docs_entry_free(&w.add.v[i]);
            rc = CMSB_ENOMEM;
            continue;
        }
        *e = w.add.v[i];
    }
    free(w.add.v);
    if (rc == CMSB_OK && !w.stop) {
        for (size_t i = 0; i < s->ix.n; i++) {
            if (!s->ix.v[i].seen) {
                docs_entry_free(&s->ix.v[i]);
                w.st.removed++;
                w.changed = 1;
                continue;
            }
            s->ix.v[o++] = s->ix.v[i];
        }
        s->ix.n = o;
    }
    docs_index_sort(&s->ix);
    /* a server that lists a document twice: once in the index */
    o = 0;
    for (size_t i = 0; i < s->ix.n; i++) {
        if (o > 0 && strcmp(s->ix.v[o - 1].path, s->ix.v[i].path) == 0) {
            docs_entry_free(&s->ix.v[i]);
            continue;
        }
        s->ix.v[o++] = s->ix.v[i];
    }
    s->ix.n = o;
    if (w.changed)
        s->ix.generation++;
    if (w.changed && s->index_file != NULL &&
        docs_index_save(&s->ix, s->index_file) != CMSB_OK) {
        cmsb_source_log(base, TSPS_LOG_ERROR,
                        "msg=\"docs-dav: index not written\" file=\"%s\"",
                        s->index_file);
        if (rc == CMSB_OK)
            rc = CMSB_EIO;
    }
    if (rc != CMSB_OK) {
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"docs-dav: refresh failed, index kept\" "
                        "err=%s",
                        cmsb_errname(rc));
        return rc;
    }
    cmsb_source_log(base, TSPS_LOG_INFO,
                    "msg=\"docs-dav indexed\" files=%zu read=%zu removed=%zu "
                    "unreadable=%zu",
                    w.st.files, w.st.extracted, w.st.removed, w.st.failed);
    if (w.stop)
        return CMSB_ECANCELED;
    snprintf(cur, sizeof(cur), "docs-dav %llu",
             (unsigned long long)s->ix.generation);
    return cb(arg, &ch) != 0 ? CMSB_ECANCELED : CMSB_OK;
}

/* origin + root + the path, percent-encoded */
static char *dav_doc_url(void *ctx, const docs_entry *e)
{
    const ddav_source *s = ctx;
    size_t n = strlen(s->d.origin) + strlen(s->root) + strlen(e->path) * 3 + 2;
    char *u = malloc(n);

    if (u == NULL)
        return NULL;
    snprintf(u, n, "%s%s", s->d.origin, s->root);
    docs_url_escape(u, strlen(u), e->path);
    return u;
}

static int ddav_related_for(cmsb_source *base, const tsps_contact *who,
                            const cmsb_related_query *q, cmsb_related_cb cb,
                            void *arg)
{
    ddav_source *s = (ddav_source *)base;

    return docs_related(&s->ix, who, q, dav_doc_url, s, cb, arg);
}

const cmsb_adapter cmsb_docs_dav_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(ddav_source),
    .scheme = "docs-dav",
    .caps = CMSB_CAP_CHANGES | CMSB_CAP_RELATED_FOR,
    .x_open = ddav_open,
    .x_close = ddav_close,
    .x_contacts = ddav_contacts,
    .x_changes = ddav_changes,
    .x_related_for = ddav_related_for,
};
#endif

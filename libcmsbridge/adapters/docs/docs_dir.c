/* The "docs-dir" adapter: documents related to a person in a folder tree
 * (docs-dir:/srv/docs/ann?region=DE&index=/var/lib/tsps/ann.idx).
 *
 * A document is related when the person's e-mail address, one of their
 * phone numbers (written in any form the normaliser reads) or their name
 * or organisation (whole words, any case) appears in its file name, its
 * folder path or its text. The text comes from the index; cmsb_changes()
 * (and so cmsb_sync(), which tspsd runs when the watch fd fires) brings
 * the index up to date, re-reading only changed files. A lookup reads the
 * index in memory, never the files. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docs.h"
#include "internal.h"

typedef struct dd_source {
    cmsb_source base;
    char *root;
    char *index_file;
    char region[3];
    docs_index ix;
    int ino_fd;
} dd_source;

static int dd_open(const cmsb_adapter *ad, const char *uri,
                   const cmsb_options *opt, cmsb_source *base)
{
    dd_source *s = (dd_source *)base;
    const char *path = strchr(uri, ':') + 1;
    const char *q;
    size_t n;
    struct stat sb;
    int rc;

    (void)opt;
    base->adapter = ad;
    s->ino_fd = -1;
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    if (path[0] != '/')
        return CMSB_EINVAL;
    q = strchr(path, '?');
    n = q ? (size_t)(q - path) : strlen(path);
    s->root = strndup(path, n);
    if (s->root == NULL)
        return CMSB_ENOMEM;
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    for (const char *p = q ? q + 1 : NULL; p != NULL && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (strncmp(p, "region=", 7) == 0 && len == 9) {
            s->region[0] = (char)toupper((unsigned char)p[7]);
            s->region[1] = (char)toupper((unsigned char)p[8]);
        } else if (strncmp(p, "index=", 6) == 0 && len > 6) {
            free(s->index_file);
            s->index_file = strndup(p + 6, len - 6);
            if (s->index_file == NULL)
                return CMSB_ENOMEM;
        } else {
            cmsb_source_log(base, TSPS_LOG_ERROR,
                            "msg=\"docs-dir: unknown URI option\" "
                            "option=\"%.*s\"",
                            (int)len, p);
            return CMSB_EINVAL;
        }
        p = amp ? amp + 1 : NULL;
    }
    if (s->region[0] != '\0') {
        tsps_dialplan dp;
        if (tsps_dialplan_for_region(s->region, &dp) != TSPS_OK)
            return CMSB_EINVAL;
    }
    if (stat(s->root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        cmsb_source_log(base, TSPS_LOG_ERROR,
                        "msg=\"docs-dir root is not a folder\" path=\"%s\"",
                        s->root);
        return CMSB_EIO;
    }
    if (s->index_file == NULL) {
        size_t l = strlen(s->root) + 32;
        s->index_file = malloc(l);
        if (s->index_file == NULL)
            return CMSB_ENOMEM;
        snprintf(s->index_file, l, "%s/.tsps-docs-index", s->root);
    }
    rc = docs_index_load(&s->ix, s->index_file);
    if (rc == CMSB_EPARSE || rc == CMSB_EIO)
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"docs-dir index unreadable, rebuilt on the next "
                        "sync\" file=\"%s\"",
                        s->index_file);
    else if (rc == CMSB_ENOMEM)
        return rc;
    return CMSB_OK;
}

static void dd_close(cmsb_source *base)
{
    dd_source *s = (dd_source *)base;

    if (s->ino_fd >= 0)
        close(s->ino_fd);
    docs_index_free(&s->ix);
    free(s->root);
    free(s->index_file);
}

static int dd_contacts(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    (void)base;
    (void)cb;
    (void)arg;
    return CMSB_OK; /* documents are not contacts */
}

typedef struct fail_ctx {
    dd_source *s;
    cmsb_change_cb cb;
    void *arg;
    int stop;
} fail_ctx;

static void on_fail(void *arg, const char *path, const char *reason)
{
    fail_ctx *f = arg;
    cmsb_change ch = {
        .kind = CMSB_CHANGE_ERROR, .file = path, .reason = reason};

    cmsb_source_log(&f->s->base, TSPS_LOG_WARN,
                    "msg=\"docs-dir: text not read, indexed by name\" "
                    "file=\"%s\" reason=\"%s\"",
                    path, reason);
    if (!f->stop && f->cb(f->arg, &ch) != 0)
        f->stop = 1;
}

/* The index is the adapter's own state: `since` only says what the
 * caller saw; every call brings the index up to date. */
static int dd_changes(cmsb_source *base, const char *since, cmsb_change_cb cb,
                      void *arg)
{
    dd_source *s = (dd_source *)base;
    fail_ctx f = {s, cb, arg, 0};
    docs_scan_stats st;
    char cur[64];
    cmsb_change ch = {.kind = CMSB_CHANGE_CHECKPOINT, .cursor = cur};
    int rc;

    (void)since;
    rc = docs_index_scan(&s->ix, s->root, s->region, on_fail, &f, &st);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        int wrc = docs_index_save(&s->ix, s->index_file);
        if (wrc != CMSB_OK) {
            cmsb_source_log(base, TSPS_LOG_ERROR,
                            "msg=\"docs-dir: index not written\" file=\"%s\"",
                            s->index_file);
            return wrc;
        }
    }
    cmsb_source_log(base, TSPS_LOG_INFO,
                    "msg=\"docs-dir indexed\" files=%zu read=%zu removed=%zu "
                    "unreadable=%zu",
                    st.files, st.extracted, st.removed, st.failed);
    if (f.stop)
        return CMSB_ECANCELED;
    snprintf(cur, sizeof(cur), "docs-dir %llu",
             (unsigned long long)s->ix.generation);
    return cb(arg, &ch) != 0 ? CMSB_ECANCELED : CMSB_OK;
}

/* ---- lookup (docs_match.c) ---- */

/* file:// URL of a path, with what a URL cannot hold percent-encoded */
static char *file_url(void *ctx, const docs_entry *e)
{
    const dd_source *s = ctx;
    size_t n = (strlen(s->root) + strlen(e->path)) * 3 + 16, o;
    char *u = malloc(n);

    if (u == NULL)
        return NULL;
    o = (size_t)snprintf(u, n, "file://");
    o = docs_url_escape(u, o, s->root);
    u[o++] = '/';
    docs_url_escape(u, o, e->path);
    return u;
}

static int dd_related_for(cmsb_source *base, const tsps_contact *who,
                          const cmsb_related_query *q, cmsb_related_cb cb,
                          void *arg)
{
    dd_source *s = (dd_source *)base;

    return docs_related(&s->ix, who, q, file_url, s, cb, arg);
}

/* ---- change notification (inotify), as vcard-dir ---- */

static int docs_file(const char *name)
{
    return docs_kind_of(name) != DOCS_NONE;
}

static int dd_watch_fd(cmsb_source *base, int *fd)
{
    dd_source *s = (dd_source *)base;

    if (s->ino_fd < 0) {
        /* the index walks 16 folders deep */
        int rc = cmsb__watch_open(s->root, 16, &s->ino_fd);
        if (rc != CMSB_OK)
            return rc;
    }
    *fd = s->ino_fd;
    return CMSB_OK;
}

static int dd_watch_drain(cmsb_source *base)
{
    return cmsb__watch_drain(((dd_source *)base)->ino_fd, docs_file);
}

const cmsb_adapter cmsb_docs_dir_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(dd_source),
    .scheme = "docs-dir",
    .caps = CMSB_CAP_CHANGES | CMSB_CAP_WATCH | CMSB_CAP_RELATED_FOR,
    .x_open = dd_open,
    .x_close = dd_close,
    .x_contacts = dd_contacts,
    .x_changes = dd_changes,
    .x_watch_fd = dd_watch_fd,
    .x_watch_drain = dd_watch_drain,
    .x_related_for = dd_related_for,
};

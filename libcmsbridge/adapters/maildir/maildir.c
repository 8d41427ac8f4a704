/* The "maildir" adapter: related mails from a local Maildir tree
 * (maildir:/home/ann/Maildir). Every folder below the root that has cur/
 * or new/ is read (Maildir++ ".Sent", or Dovecot's LAYOUT=fs "Sent/").
 * A lookup reads each message's header block, keeps those naming one of
 * the person's addresses, and parses only those with GMime. It has no
 * contacts of its own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "related.h"

#define MD_DEPTH    8
#define MD_HEAD_MAX (64 * 1024)  /* header block read for the pre-check */
#define MD_MSG_MAX  (256 * 1024) /* parsed for snippet and attachments */

typedef struct md_source {
    cmsb_source base;
    char *root;
} md_source;

typedef struct md_ctx {
    md_source *s;
    const rel_who *who;
    const cmsb_related_query *q;
    rel_set set;
    char *buf; /* MD_MSG_MAX + 1 */
    size_t scanned, parsed;
} md_ctx;

static int md_open(const cmsb_adapter *ad, const char *uri,
                   const cmsb_options *opt, cmsb_source *base)
{
    md_source *s = (md_source *)base;
    const char *path = strchr(uri, ':') + 1;
    struct stat sb;
    size_t n;

    (void)opt;
    if (strncmp(path, "//", 2) == 0) /* maildir:///path */
        path += 2;
    if (path[0] != '/')
        return CMSB_EINVAL;
    base->adapter = ad;
    s->root = strdup(path);
    if (s->root == NULL)
        return CMSB_ENOMEM;
    n = strlen(s->root);
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    if (stat(s->root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        cmsb_source_log(base, TSPS_LOG_ERROR,
                        "msg=\"maildir root is not a folder\" path=\"%s\"",
                        s->root);
        return CMSB_EIO;
    }
    return CMSB_OK;
}

static void md_close(cmsb_source *base)
{
    free(((md_source *)base)->root);
}

static int md_contacts(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    (void)base;
    (void)cb;
    (void)arg;
    return CMSB_OK; /* a mail store has no contacts */
}

/* Read up to max bytes; returns the count or -1. */
static ssize_t read_upto(const char *path, char *buf, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0)
        return -1;
    while (got < max) {
        ssize_t r = read(fd, buf + got, max - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (ssize_t)got;
}

static size_t header_len(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == '\n' && b[i + 1] == '\n')
            return i + 1;
        if (b[i] == '\n' && b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
            return i + 1;
    }
    return n;
}

static int md_message(md_ctx *c, const char *path, const char *folder)
{
    ssize_t n = read_upto(path, c->buf, MD_HEAD_MAX);
    size_t hl;
    int hit = 0;
    rel_mail m;
    rel_item it = {0};
    char why[TSPS_EMAIL_MAX + 8];
    int rc;

    c->scanned++;
    if (n <= 0)
        return CMSB_OK; /* gone meanwhile (a move to cur/): skip */
    hl = header_len(c->buf, (size_t)n);
    for (size_t i = 0; i < c->who->nemails && !hit; i++)
        hit = rel_memcasemem(c->buf, hl, c->who->emails[i]) != NULL;
    if (!hit)
        return CMSB_OK;
    if ((size_t)n == MD_HEAD_MAX) {
        n = read_upto(path, c->buf, MD_MSG_MAX);
        if (n <= 0)
            return CMSB_OK;
    }
    c->parsed++;
    rc = rel_mail_parse(c->buf, (size_t)n, &m);
    if (rc == CMSB_EPARSE) {
        cmsb_source_log(&c->s->base, TSPS_LOG_WARN,
                        "msg=\"skipped unreadable message\" file=\"%s\"", path);
        return CMSB_OK;
    }
    if (rc != CMSB_OK)
        return rc;
    /* the pre-check matched bytes; the parsed addresses decide */
    if (!rel_mail_match(&m, c->who, why, sizeof(why)) ||
        (c->q->since != 0 && m.date < c->q->since) ||
        (c->q->until != 0 && m.date >= c->q->until)) {
        rel_mail_free(&m);
        return CMSB_OK;
    }
    rel_item_from_mail(&it, &m);
    rel_mail_free(&m);
    it.url = malloc(strlen(path) + 8);
    it.where = strdup(folder);
    it.why = strdup(why);
    if (it.url == NULL || it.where == NULL || it.why == NULL) {
        rel_item_free(&it);
        return CMSB_ENOMEM;
    }
    snprintf(it.url, strlen(path) + 8, "file://%s", path);
    if (it.id[0] == '\0') {
        free(it.id);
        it.id = strdup(strrchr(path, '/') + 1);
        if (it.id == NULL) {
            rel_item_free(&it);
            return CMSB_ENOMEM;
        }
    }
    return rel_set_take(&c->set, &it);
}

static int md_files(md_ctx *c, const char *dir, const char *folder)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = CMSB_OK;

    if (d == NULL)
        return CMSB_OK;
    while (rc == CMSB_OK && (de = readdir(d)) != NULL) {
        char path[4096];
        if (de->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
                sizeof(path))
            continue;
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
            continue;
        rc = md_message(c, path, folder);
    }
    closedir(d);
    return rc;
}

/* A folder: its cur/ and new/, then the folders below it. */
static int md_walk(md_ctx *c, const char *dir, const char *folder, int depth)
{
    char sub[4096];
    DIR *d;
    struct dirent *de;
    int rc = CMSB_OK;

    if (depth > MD_DEPTH)
        return CMSB_OK;
    snprintf(sub, sizeof(sub), "%s/cur", dir);
    rc = md_files(c, sub, folder);
    snprintf(sub, sizeof(sub), "%s/new", dir);
    if (rc == CMSB_OK)
        rc = md_files(c, sub, folder);
    d = opendir(dir);
    if (d == NULL)
        return rc;
    while (rc == CMSB_OK && (de = readdir(d)) != NULL) {
        char name[1024];
        const char *n = de->d_name;
        struct stat sb;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
            strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 ||
            strcmp(n, "tmp") == 0 ||
            (size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, n) >=
                sizeof(sub) ||
            stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        /* Maildir++ ".Sent" / ".Work.ACME" at the root; fs layout below */
        if (n[0] == '.')
            snprintf(name, sizeof(name), "%s", n + 1);
        else if (strcmp(folder, "INBOX") == 0)
            snprintf(name, sizeof(name), "%s", n);
        else
            snprintf(name, sizeof(name), "%s/%s", folder, n);
        rc = md_walk(c, sub, name, depth + 1);
    }
    closedir(d);
    return rc;
}

static int md_related_for(cmsb_source *base, const tsps_contact *who,
                          const cmsb_related_query *q, cmsb_related_cb cb,
                          void *arg)
{
    md_source *s = (md_source *)base;
    rel_who w;
    md_ctx c = {s, &w, q, {0}, NULL, 0, 0};
    int rc;

    if (!(q->kinds & CMSB_ITEM_EMAIL))
        return CMSB_OK;
    rel_who_from(&w, who);
    if (w.nemails == 0)
        return CMSB_OK;
    c.buf = malloc(MD_MSG_MAX + 1);
    if (c.buf == NULL)
        return CMSB_ENOMEM;
    rc = md_walk(&c, s->root, "INBOX", 0);
    if (rc == CMSB_OK)
        rc = rel_set_emit(&c.set, q->limit, cb, arg);
    cmsb_source_log(base, TSPS_LOG_DEBUG,
                    "msg=\"maildir lookup\" scanned=%zu parsed=%zu found=%zu",
                    c.scanned, c.parsed, c.set.n);
    rel_set_free(&c.set);
    free(c.buf);
    return rc;
}

const cmsb_adapter cmsb_maildir_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(md_source),
    .scheme = "maildir",
    .caps = CMSB_CAP_RELATED_FOR,
    .x_open = md_open,
    .x_close = md_close,
    .x_contacts = md_contacts,
    .x_related_for = md_related_for,
};

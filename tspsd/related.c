/*
 * related.c - related e-mails and documents of a caller (related.h): the
 * [related NAME] sources, each opened on first use and used by one worker
 * at a time, the users' criteria parsed once at start, and the TTL cache.
 */
#include "related.h"

#include "daemon.h"
#include "log.h"
#include "pool.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct rel_src {
    tspsd_source_cfg cfg;
    pthread_mutex_t mu; /* one thread at a time per source */
    cmsb_source *src;   /* opened on first use */
    int docs;           /* docs-dir/docs-dav: an index to keep up to date */
    int wfd;            /* docs-dir: its watch fd (inotify), or -1 */
    int64_t refreshed;  /* monotonic seconds of the last index refresh */
} rel_src;

typedef struct rel_crit {
    char user[64];
    cmsb_related_policy *pol;
} rel_crit;

struct tspsd_related {
    cmsb_registry *reg;
    cmsb_related_cache *cache;
    int nsrc, ncrit;
    rel_src *srcs;
    rel_crit *crit;
};

static void rel_log(void *arg, int level, const char *msg)
{
    (void)arg;
    tspsd_log_fragment(level, msg);
}

int tspsd_related_open(tspsd *d)
{
    const tspsd_config *c = &d->cfg;
    tspsd_related *r;

    d->related = NULL;
    if (c->nrelated == 0)
        return 0;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    r->srcs = calloc((size_t)c->nrelated, sizeof(*r->srcs));
    r->crit = calloc((size_t)c->ncriteria + 1, sizeof(*r->crit));
    if (r->srcs == NULL || r->crit == NULL ||
        cmsb_registry_open(&r->reg) != CMSB_OK ||
        cmsb_related_cache_open(4096, TSPSD_RELATED_TTL_MS, &r->cache) !=
            CMSB_OK) {
        d->related = r;
        tspsd_related_close(d);
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "related items: cannot start",
                  NULL);
        return -1;
    }
    for (int i = 0; i < c->nrelated; i++) {
        r->srcs[i].cfg = c->related[i];
        r->srcs[i].wfd = -1;
        pthread_mutex_init(&r->srcs[i].mu, NULL);
        r->nsrc++;
    }
    /* Checked at load: a parse failure here is out of memory only. */
    for (int i = 0; i < c->ncriteria; i++) {
        rel_crit *k = &r->crit[r->ncrit];
        if (cmsb_related_policy_parse(c->criteria[i].text, &k->pol, NULL, 0) !=
            CMSB_OK)
            continue;
        snprintf(k->user, sizeof(k->user), "%s", c->criteria[i].user);
        r->ncrit++;
    }
    d->related = r;
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "related items",
              "sources=%d criteria=%d", r->nsrc, r->ncrit);
    return 0;
}

void tspsd_related_close(tspsd *d)
{
    tspsd_related *r = d->related;

    if (r == NULL)
        return;
    for (int i = 0; i < r->nsrc; i++) {
        cmsb_source_close(r->srcs[i].src);
        pthread_mutex_destroy(&r->srcs[i].mu);
    }
    for (int i = 0; i < r->ncrit; i++)
        cmsb_related_policy_free(r->crit[i].pol);
    cmsb_related_cache_close(r->cache);
    if (r->reg != NULL)
        cmsb_registry_close(r->reg);
    free(r->srcs);
    free(r->crit);
    free(r);
    d->related = NULL;
}

int tspsd_related_has_sources(tspsd *d, const char *user)
{
    tspsd_related *r = d->related;

    for (int i = 0; r != NULL && user != NULL && i < r->nsrc; i++)
        if (strcmp(r->srcs[i].cfg.user, user) == 0)
            return 1;
    return 0;
}

const char *tspsd_related_kind_name(unsigned kind)
{
    switch (kind) {
    case CMSB_ITEM_EMAIL:
        return "email";
    case CMSB_ITEM_DOCUMENT:
        return "document";
    case CMSB_ITEM_EVENT:
        return "event";
    default:
        return "other";
    }
}

typedef struct find_ctx {
    tsps_contact *who;
    int found;
} find_ctx;

static int find_cb(void *arg, const tsps_contact *c)
{
    find_ctx *f = arg;
    if (!f->found) {
        *f->who = *c;
        f->found = 1;
    }
    return 1; /* the first is enough */
}

int tspsd_related_who(tspsd *d, const char *user, const char *caller,
                      tsps_contact *who, int *known)
{
    find_ctx f = {who, 0};
    size_t n = caller != NULL ? strlen(caller) : 0;

    tsps_contact_init(who);
    *known = 0;
    if (n == 0 || n >= TSPS_EMAIL_MAX)
        return TSPS_EINVAL;
    if (strchr(caller, '@') != NULL) {
        /* By e-mail: a stored contact's uid is not an address; the
         * address alone finds the mails of an unknown sender. */
        who->nemails = 1;
        for (size_t i = 0; i <= n; i++)
            who->emails[0][i] = (char)(caller[i] >= 'A' && caller[i] <= 'Z'
                                           ? caller[i] - 'A' + 'a'
                                           : caller[i]);
        return TSPS_OK;
    }
    if (tsps_contact_find_number(d->eng, user, caller, find_cb, &f) ==
            TSPS_OK &&
        f.found) {
        *known = 1;
        return TSPS_OK;
    }
    if (tsps_contact_get(d->eng, user, caller, who) == TSPS_OK) {
        *known = 1;
        return TSPS_OK;
    }
    tsps_contact_init(who);
    if (n >= sizeof(who->numbers[0]))
        return TSPS_EINVAL;
    who->nnumbers = 1;
    memcpy(who->numbers[0], caller, n + 1);
    return TSPS_OK;
}

/* Open a source on first use (its lock held). */
static int open_src(tspsd_related *r, rel_src *s)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char un[128], pw[128], ca[TSPSD_PATH_MAX], tmo[16];
    int rc;

    if (s->src != NULL)
        return CMSB_OK;
    o.username =
        *tspsd_source_option(&s->cfg, "username", un, sizeof(un)) ? un : NULL;
    o.password =
        *tspsd_source_option(&s->cfg, "password", pw, sizeof(pw)) ? pw : NULL;
    o.ca_file =
        *tspsd_source_option(&s->cfg, "ca_file", ca, sizeof(ca)) ? ca : NULL;
    o.timeout_ms =
        atoi(tspsd_source_option(&s->cfg, "timeout_ms", tmo, sizeof(tmo)));
    o.log = rel_log;
    rc = cmsb_source_open(r->reg, s->cfg.uri, &o, &s->src);
    memset(pw, 0, sizeof(pw));
    if (rc == CMSB_OK) {
        s->docs = strncmp(s->cfg.uri, "docs-", 5) == 0 &&
                  (cmsb_source_caps(s->src) & CMSB_CAP_CHANGES) != 0;
        if (s->docs && cmsb_watch_fd(s->src, &s->wfd) != CMSB_OK)
            s->wfd = -1;
    }
    if (rc != CMSB_OK)
        tspsd_log(TSPSD_LOG_WARN, 0, s->cfg.user, "related source unavailable",
                  "source=%s error=\"%s\"", s->cfg.name, cmsb_strerror(rc));
    return rc;
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static int no_change(void *arg, const cmsb_change *ch)
{
    (void)arg;
    (void)ch;
    return 0;
}

/* A document source's index (its lock held): built at first use, then
 * brought up to date when the folder's watch fd says something changed
 * (docs-dir) or every interval= seconds (docs-dav; default 300, 0 =
 * never again). Lookups between refreshes read the index only. */
static void refresh_src(rel_src *s)
{
    int due = s->refreshed == 0;

    if (!s->docs || s->src == NULL)
        return;
    if (!due && s->wfd >= 0) {
        struct pollfd p = {s->wfd, POLLIN, 0};
        due = poll(&p, 1, 0) == 1 && cmsb_watch_drain(s->src) == 1;
    } else if (!due && s->cfg.interval_s > 0) {
        due = mono_s() - s->refreshed >= s->cfg.interval_s;
    }
    if (!due)
        return;
    int rc = cmsb_changes(s->src, NULL, no_change, NULL);
    s->refreshed = mono_s();
    if (rc != CMSB_OK)
        tspsd_log(TSPSD_LOG_WARN, 0, s->cfg.user, "related index not refreshed",
                  "source=%s error=\"%s\"", s->cfg.name, cmsb_strerror(rc));
}

static const cmsb_related_policy *policy_of(tspsd_related *r, const char *user)
{
    for (int i = 0; i < r->ncrit; i++)
        if (strcmp(r->crit[i].user, user) == 0)
            return r->crit[i].pol;
    return NULL; /* the defaults */
}

static const char *what_of(const char *uri)
{
    return strncmp(uri, "docs", 4) == 0 ? "documents" : "mail";
}

/* Append to out[*o] (len bytes) the text of v, percent-encoded except for
 * unreserved characters (RFC 3986) and, with keep_pct, existing %XX.
 * Returns 0, or -1 when it did not fit. */
static int url_put(char *out, size_t len, size_t *o, const char *v, size_t n,
                   int keep_pct)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n && *o + 4 < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_pct && c == '%' && i + 2 < n &&
             isxdigit((unsigned char)v[i + 1]) &&
             isxdigit((unsigned char)v[i + 2]))) {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
    return i == n ? 0 : -1;
}

int tspsd_related_webmail_link(const char *tpl, const char *imap_url,
                               const char *message_id, char *out, size_t len)
{
    const char *mb = NULL, *uv = NULL, *uid = NULL;
    size_t mbn = 0, uvn = 0, uidn = 0, o = 0;
    const char *p;

    if (len < 16)
        return -1;
    out[0] = '\0';
    /* imap://host:port/MAILBOX;UIDVALIDITY=v/;UID=n (RFC 5092) */
    if (strncmp(imap_url, "imap://", 7) == 0 ||
        strncmp(imap_url, "imaps://", 8) == 0) {
        p = strchr(imap_url + 8, '/');
        if (p != NULL) {
            mb = p + 1;
            mbn = strcspn(mb, ";/");
        }
        if ((p = strstr(imap_url, ";UIDVALIDITY=")) != NULL) {
            uv = p + 13;
            uvn = strspn(uv, "0123456789");
        }
        if ((p = strstr(imap_url, ";UID=")) != NULL) {
            uid = p + 5;
            uidn = strspn(uid, "0123456789");
        }
    }
    if (uid == NULL || uidn == 0)
        return -1; /* not an IMAP message: keep its own link */
    if (message_id == NULL)
        message_id = "";
    if (message_id[0] == '<') {
        message_id++;
    }
    size_t midn = strcspn(message_id, ">");
    for (p = tpl; *p != '\0' && o + 4 < len; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            size_t k = e != NULL ? (size_t)(e - p - 1) : 0;
            int put = 1;
            if (k == 3 && strncmp(p + 1, "uid", 3) == 0)
                put = url_put(out, len, &o, uid, uidn, 0);
            else if (k == 7 && strncmp(p + 1, "mailbox", 7) == 0)
                put = url_put(out, len, &o, mb != NULL ? mb : "", mbn, 1);
            else if (k == 11 && strncmp(p + 1, "uidvalidity", 11) == 0)
                put = url_put(out, len, &o, uv != NULL ? uv : "", uvn, 0);
            else if (k == 10 && strncmp(p + 1, "message_id", 10) == 0)
                put = url_put(out, len, &o, message_id, midn, 0);
            if (put < 0)
                return -1; /* a value did not fit */
            if (put == 0) {
                p = e;
                continue;
            }
        }
        out[o++] = *p;
        out[o] = '\0';
    }
    return *p == '\0' ? 0 : -1; /* cut short: no link rather than a wrong one */
}

static int file_root(const char *uri, char *out, size_t len);
static int url_path(const char *url, char *out, size_t len);

/* An item of a folder source (docs-dir, maildir) whose file, links
 * resolved, lies outside the folder: a symbolic link inside it to another
 * place. Its text must not show (nor can it be downloaded). A file that no
 * longer resolves (gone since the index saw it) is not "outside". */
static int outside_root(const rel_src *s, const cmsb_related_item *it)
{
    char root[TSPSD_PATH_MAX], path[PATH_MAX], rr[PATH_MAX], rp[PATH_MAX];
    size_t l;

    if (strncmp(it->url, "file://", 7) != 0 ||
        file_root(s->cfg.uri, root, sizeof(root)) != 0)
        return 0;
    if (url_path(it->url, path, sizeof(path)) != 0)
        return 1;
    if (realpath(root, rr) == NULL || realpath(path, rp) == NULL)
        return 0;
    l = strlen(rr);
    return strncmp(rp, rr, l) != 0 || rp[l] != '/';
}

/* Merge per-source lists (each newest first) into out, at most limit; a
 * mail from a source with a webmail= template links to the webmail; items
 * outside their source's folder are left out (logged). */
static int merge(tspsd_related *r, const char *user, const int *srcof,
                 cmsb_related_list **lists, int n, size_t limit,
                 cmsb_related_list *out)
{
    size_t at[TSPSD_MAX_RELATED] = {0}, k = 0;
    char tpl[512], link[1024];
    int dropped = 0;

    while (k < limit) {
        int best = -1;
        const cmsb_related_item *bi = NULL;
        for (int i = 0; i < n; i++) {
            const cmsb_related_item *it =
                lists[i] != NULL ? cmsb_related_list_get(lists[i], at[i])
                                 : NULL;
            if (it != NULL && (bi == NULL || it->date > bi->date)) {
                best = i;
                bi = it;
            }
        }
        if (best < 0)
            break;
        at[best]++;
        if (outside_root(&r->srcs[srcof[best]], bi)) {
            dropped++;
            continue;
        }
        cmsb_related_item copy = *bi;
        if (bi->kind == CMSB_ITEM_EMAIL &&
            *tspsd_source_option(&r->srcs[srcof[best]].cfg, "webmail", tpl,
                                 sizeof(tpl)) != '\0' &&
            tspsd_related_webmail_link(tpl, bi->url, bi->id, link,
                                       sizeof(link)) == 0)
            copy.url = link;
        if (cmsb_related_list_add(out, &copy) != CMSB_OK)
            return TSPS_ENOMEM;
        k++;
    }
    if (dropped > 0)
        tspsd_log(TSPSD_LOG_WARN, 0, user, "related items left out",
                  "count=%d reason=\"a link to a file outside its folder\"",
                  dropped);
    return TSPS_OK;
}

int tspsd_related_get(tspsd *d, const char *user, const tsps_contact *who,
                      int64_t since, int64_t until, cmsb_related_list **items,
                      char *status, size_t statuslen)
{
    tspsd_related *r = d->related;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    cmsb_related_list *lists[TSPSD_MAX_RELATED] = {0};
    const char *key = who->uid[0] != '\0' ? who->uid
                      : who->nnumbers > 0 ? who->numbers[0]
                      : who->nemails > 0  ? who->emails[0]
                                          : "";
    int override = since != 0 || until != 0, failed = 0, cst = 0, n = 0;
    int srcof[TSPSD_MAX_RELATED] = {0};
    int rc = TSPS_OK;

    *items = NULL;
    status[0] = '\0';
    if (cmsb_related_list_new(items) != CMSB_OK)
        return TSPS_ENOMEM;
    if (r == NULL)
        return TSPS_OK;
    if (cmsb_related_policy_query(policy_of(r, user), who->code,
                                  (int64_t)time(NULL), &q) == CMSB_ENOTFOUND)
        return TSPS_ENOTFOUND;
    if (since != 0)
        q.since = since;
    if (until != 0)
        q.until = until;
    if (q.until != 0 && q.until <= q.since)
        q.until = 0;
    if (!override && *key != '\0') {
        cmsb_related_list *hit = NULL;
        if (cmsb_related_cache_get(r->cache, user, key, &hit, &cst) ==
            CMSB_OK) {
            cmsb_related_list_release(*items);
            if (hit == NULL)
                cmsb_related_list_new(&hit);
            *items = hit;
            return *items != NULL ? TSPS_OK : TSPS_ENOMEM;
        }
    }
    for (int i = 0; i < r->nsrc && n < TSPSD_MAX_RELATED; i++) {
        rel_src *s = &r->srcs[i];
        if (strcmp(s->cfg.user, user) != 0)
            continue;
        if (cmsb_related_list_new(&lists[n]) != CMSB_OK) {
            rc = TSPS_ENOMEM;
            break;
        }
        pthread_mutex_lock(&s->mu);
        int e = open_src(r, s);
        refresh_src(s);
        if (e == CMSB_OK)
            e = cmsb_related_for(s->src, who, &q, cmsb_related_list_cb,
                                 lists[n]);
        pthread_mutex_unlock(&s->mu);
        srcof[n++] = i;
        if (e != CMSB_OK && e != CMSB_ENOTSUP) {
            if (!failed)
                snprintf(status, statuslen, "%s unavailable (%s)",
                         what_of(s->cfg.uri), cmsb_strerror(e));
            failed = 1;
            tspsd_log(TSPSD_LOG_WARN, 0, user, "related lookup failed",
                      "source=%s error=\"%s\"", s->cfg.name, cmsb_strerror(e));
        }
    }
    if (rc == TSPS_OK)
        rc =
            merge(r, user, srcof, lists, n, q.limit > 0 ? q.limit : 20, *items);
    for (int i = 0; i < n; i++)
        cmsb_related_list_release(lists[i]);
    /* Only a complete answer is cached: a source that failed is asked
     * again at the next call (each lookup is bounded by its timeout). */
    if (rc == TSPS_OK && !failed && !override && *key != '\0')
        cmsb_related_cache_put(r->cache, user, key, CMSB_OK, *items, 0);
    return rc;
}

/* ---- a related document or mail file, downloaded through the web UI ---- */

typedef struct doc_find {
    const char *url;
    unsigned kind;
    int found;
} doc_find;

static int doc_find_cb(void *arg, const cmsb_related_item *it)
{
    doc_find *f = arg;
    if (strcmp(it->url, f->url) != 0)
        return 0;
    f->kind = it->kind;
    f->found = 1;
    return 1; /* the lookup stops here (CMSB_ECANCELED) */
}

/* The folder of a docs-dir: or maildir: URI, as the adapters read it. */
static int file_root(const char *uri, char *out, size_t len)
{
    const char *p;
    size_t n;

    if (strncmp(uri, "docs-dir:", 9) == 0)
        p = uri + 9;
    else if (strncmp(uri, "maildir:", 8) == 0)
        p = uri + 8;
    else
        return -1;
    if (strncmp(p, "//", 2) == 0)
        p += 2;
    n = strcspn(p, "?");
    if (p[0] != '/' || n >= len)
        return -1;
    memcpy(out, p, n);
    while (n > 1 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The path of a file:// URL (percent-decoded; no NUL, no empty host
 * other than ""), or -1. */
static int url_path(const char *url, char *out, size_t len)
{
    const char *p = url + 7;
    size_t o = 0;

    if (strncmp(url, "file://", 7) != 0 || *p != '/')
        return -1;
    for (; *p != '\0'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = hi * 16 + lo;
            p += 2;
        }
        if (o + 1 >= len)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int tspsd_related_doc_open(tspsd *d, const char *user, const tsps_contact *who,
                           const char *url, int *fd, char *name, size_t namelen,
                           int64_t *size)
{
    tspsd_related *r = d->related;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;

    *fd = -1;
    name[0] = '\0';
    *size = 0;
    if (url == NULL || strncmp(url, "file://", 7) != 0 ||
        strlen(url) >= TSPSD_PATH_MAX * 3)
        return TSPS_EINVAL;
    q.limit = 1000;
    for (int i = 0; r != NULL && i < r->nsrc; i++) {
        rel_src *s = &r->srcs[i];
        char root[TSPSD_PATH_MAX], path[PATH_MAX];
        char rroot[PATH_MAX], rpath[PATH_MAX];
        doc_find f = {url, 0, 0};
        struct stat st;

        if (strcmp(s->cfg.user, user) != 0 ||
            file_root(s->cfg.uri, root, sizeof(root)) != 0)
            continue;
        /* Only an item this caller's lookup gives (any date), by its exact
         * link: the link is the adapter's, checked against its folder. */
        q.kinds = strncmp(s->cfg.uri, "maildir:", 8) == 0 ? CMSB_ITEM_EMAIL
                                                          : CMSB_ITEM_DOCUMENT;
        pthread_mutex_lock(&s->mu);
        int e = open_src(r, s);
        refresh_src(s);
        if (e == CMSB_OK)
            cmsb_related_for(s->src, who, &q, doc_find_cb, &f);
        pthread_mutex_unlock(&s->mu);
        if (!f.found)
            continue;
        if (url_path(url, path, sizeof(path)) != 0 ||
            realpath(root, rroot) == NULL || realpath(path, rpath) == NULL)
            return TSPS_ENOTFOUND; /* gone since the lookup saw it */
        size_t rl = strlen(rroot);
        if (strncmp(rpath, rroot, rl) != 0 || rpath[rl] != '/') {
            /* a link inside the folder to a file outside it */
            tspsd_log(TSPSD_LOG_WARN, 0, user, "related document refused",
                      "source=%s reason=\"outside the folder\"", s->cfg.name);
            return TSPS_ENOTFOUND;
        }
        *fd = open(rpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (*fd < 0)
            return TSPS_ENOTFOUND;
        if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(*fd);
            *fd = -1;
            return TSPS_ENOTFOUND;
        }
        *size = (int64_t)st.st_size;
        /* a Maildir file's name says nothing: "mail-<name>.eml" */
        snprintf(
            name, namelen, "%s%s%s", f.kind == CMSB_ITEM_EMAIL ? "mail-" : "",
            strrchr(rpath, '/') + 1, f.kind == CMSB_ITEM_EMAIL ? ".eml" : "");
        return TSPS_OK;
    }
    return TSPS_ENOTFOUND;
}

Tsps__RelatedItem *tspsd_related_item_msg(tspsd_arena *a,
                                          const cmsb_related_item *it)
{
    Tsps__RelatedItem *m = tspsd_arena_alloc(a, sizeof(*m));
    if (m == NULL)
        return NULL;
    tsps__related_item__init(m);
    m->kind = (char *)tspsd_related_kind_name(it->kind);
    m->date = it->date;
    m->title = tspsd_arena_strdup(a, it->title);
    m->from = tspsd_arena_strdup(a, it->from);
    m->to = tspsd_arena_strdup(a, it->to);
    m->snippet = tspsd_arena_strdup(a, it->snippet);
    m->url = tspsd_arena_strdup(a, it->url);
    m->where = tspsd_arena_strdup(a, it->where);
    m->why = tspsd_arena_strdup(a, it->why);
    m->source = (char *)"";
    if (m->title == NULL || m->from == NULL || m->to == NULL ||
        m->snippet == NULL || m->url == NULL || m->where == NULL ||
        m->why == NULL)
        return NULL;
    for (size_t i = 0; i < it->nattachments; i++)
        tspsd_arena_push(a, (void ***)&m->attachments, &m->n_attachments,
                         tspsd_arena_strdup(a, it->attachments[i]));
    return m;
}

/* ---- at ring time: beside the call, on the related lane ---- */

typedef struct ring_job {
    tspsd_work w; /* first: the pool hands this back */
    tspsd *d;
    uint64_t call_id;
    tsps_decision dec;
    cmsb_related_list *items;
    char status[200];
    int skip; /* nothing to publish ("none" for this code) */
} ring_job;

static void ring_run(tspsd_work *w)
{
    ring_job *j = (ring_job *)w;
    const char *caller =
        j->dec.contact_uid[0] != '\0' ? j->dec.contact_uid : j->dec.caller;
    tsps_contact who;
    int known = 0;

    if (tspsd_related_who(j->d, j->dec.user, caller, &who, &known) != TSPS_OK) {
        j->skip = 1;
        return;
    }
    int rc = tspsd_related_get(j->d, j->dec.user, &who, 0, 0, &j->items,
                               j->status, sizeof(j->status));
    j->skip = rc == TSPS_ENOTFOUND || j->items == NULL;
}

static void ring_done(tspsd_work *w)
{
    ring_job *j = (ring_job *)w;
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__RelatedItem **arr = NULL;
    size_t n = 0;

    if (!j->skip) {
        for (size_t i = 0; i < cmsb_related_list_count(j->items); i++) {
            Tsps__RelatedItem *m =
                tspsd_related_item_msg(&a, cmsb_related_list_get(j->items, i));
            if (m == NULL || tspsd_arena_push(&a, (void ***)&arr, &n, m) != 0)
                break;
        }
        tspsd_events_publish_related(j->d, j->call_id, &j->dec, arr, n,
                                     j->status);
        tspsd_log(TSPSD_LOG_DEBUG, j->call_id, j->dec.user, "related items",
                  "count=%zu status=\"%s\"", n, j->status);
    }
    tspsd_arena_free(&a);
    cmsb_related_list_release(j->items);
    free(j);
}

void tspsd_related_on_offer(tspsd *d, uint64_t call_id,
                            const tsps_decision *dec)
{
    ring_job *j;

    if (dec == NULL || !tspsd_related_has_sources(d, dec->user) ||
        (dec->caller[0] == '\0' && dec->contact_uid[0] == '\0'))
        return;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return;
    j->w.run = ring_run;
    j->w.done = ring_done;
    j->w.lane = TSPSD_LANE_RELATED;
    j->d = d;
    j->call_id = call_id;
    j->dec = *dec;
    int rc = tspsd_pool_submit(d, &j->w);
    if (rc != 0) {
        tspsd_log(TSPSD_LOG_WARN, call_id, dec->user, "related lookup dropped",
                  "reason=%s", rc == -2 ? "queue full" : "no pool");
        free(j);
    }
}

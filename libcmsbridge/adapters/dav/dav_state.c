/* The DAV sync state: per collection its sync token (or ctag) and a map
 * href -> etag + the uids the resource produced, so that a 404 member (or
 * a member gone from a listing) becomes deletions of the right uids, and
 * the group cards it holds (dav_group.c). It is the cursor, serialised as
 * text lines:
 *   davsync 2 <fingerprint hex> <discovered-at> [<audited-at>]
 *   K <kind a|c> <sync 0|1> <expanded-at> <href> <token|-> <ctag|->
 *     [<nodata-at>]
 *   I <href> <etag|-> [C<uid> [A<code>] | E<uid> | G<code> [M<uid>]...]...
 * Fields are %-escaped (space, tab, CR, LF, '%'). Version 1 had no A, G
 * and M fields (group cards were skipped); it still loads. <audited-at>
 * came later within version 2 (absent = never: the next sync audits), and
 * so did <nodata-at> (when the server last refused card data in a
 * sync-collection; written only when set, ignored by older readers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

#define CURSOR_VERSION 2

int dav_set(char **field, const char *val)
{
    char *p = NULL;

    if (val != NULL) {
        p = strdup(val);
        if (p == NULL)
            return CMSB_ENOMEM;
    }
    free(*field);
    *field = p;
    return CMSB_OK;
}

static size_t bucket(const dav_map *m, const char *href)
{
    return (size_t)vc_hash(href, strlen(href)) & (m->nb - 1);
}

dav_item *dav_map_get(const dav_map *m, const char *href)
{
    if (m->nb == 0)
        return NULL;
    for (dav_item *it = m->b[bucket(m, href)]; it != NULL; it = it->next)
        if (strcmp(it->href, href) == 0)
            return it;
    return NULL;
}

static int grow(dav_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 256;
    dav_item **b = calloc(nb, sizeof(*b));
    dav_map nm = {b, nb, m->n};

    if (b == NULL)
        return CMSB_ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        dav_item *it = m->b[i], *next;
        for (; it != NULL; it = next) {
            size_t k = bucket(&nm, it->href);
            next = it->next;
            it->next = b[k];
            b[k] = it;
        }
    }
    free(m->b);
    *m = nm;
    return CMSB_OK;
}

dav_item *dav_map_add(dav_map *m, const char *href)
{
    dav_item *it = dav_map_get(m, href);
    size_t k;

    if (it != NULL)
        return it;
    if (m->n + 1 > m->nb && grow(m) != CMSB_OK)
        return NULL;
    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return NULL;
    it->href = strdup(href);
    if (it->href == NULL) {
        free(it);
        return NULL;
    }
    k = bucket(m, href);
    it->next = m->b[k];
    m->b[k] = it;
    m->n++;
    return it;
}

static void item_free(dav_item *it)
{
    free(it->href);
    free(it->etag);
    free(it->uids);
    free(it);
}

void dav_map_del(dav_map *m, const char *href)
{
    dav_item **pp;

    if (m->nb == 0)
        return;
    for (pp = &m->b[bucket(m, href)]; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->href, href) == 0) {
            dav_item *it = *pp;
            *pp = it->next;
            item_free(it);
            m->n--;
            return;
        }
    }
}

void dav_map_free(dav_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        dav_item *it = m->b[i], *next;
        for (; it != NULL; it = next) {
            next = it->next;
            item_free(it);
        }
    }
    free(m->b);
    memset(m, 0, sizeof(*m));
}

int dav_hrefs_add(dav_hrefs *h, const char *href)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **p = realloc(h->v, cap * sizeof(*p));
        if (p == NULL)
            return CMSB_ENOMEM;
        h->v = p;
        h->cap = cap;
    }
    h->v[h->n] = strdup(href);
    return h->v[h->n++] != NULL ? CMSB_OK : CMSB_ENOMEM;
}

void dav_hrefs_free(dav_hrefs *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i]);
    free(h->v);
    memset(h, 0, sizeof(*h));
}

dav_coll *dav_state_coll(dav_state *st, const char *href, int kind)
{
    dav_coll *c;

    for (size_t i = 0; i < st->n; i++)
        if (dav_href_eq(st->c[i].href, href))
            return &st->c[i];
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 4;
        dav_coll *p = realloc(st->c, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        st->c = p;
        st->cap = cap;
    }
    c = &st->c[st->n];
    memset(c, 0, sizeof(*c));
    c->href = strdup(href);
    if (c->href == NULL)
        return NULL;
    c->kind = kind;
    c->sync = 1;
    st->n++;
    return c;
}

int dav_state_colls(dav_state *to, const dav_state *from)
{
    for (size_t i = 0; i < from->n; i++) {
        dav_coll *c = dav_state_coll(to, from->c[i].href, from->c[i].kind);
        if (c == NULL) {
            dav_state_free(to);
            return CMSB_ENOMEM;
        }
        c->sync = from->c[i].sync;
    }
    to->disc_at = from->disc_at;
    return CMSB_OK;
}

void dav_state_free(dav_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->c[i].href);
        free(st->c[i].token);
        free(st->c[i].ctag);
        dav_map_free(&st->c[i].items);
    }
    free(st->c);
    memset(st, 0, sizeof(*st));
}

/* ---- serialisation ---- */

static int esc(vc_buf *b, const char *s)
{
    const char *p = s;

    if (s == NULL || s[0] == '\0')
        return vc_buf_add(b, "-", 1);
    if (s[0] == '-' && s[1] == '\0')
        return vc_buf_add(b, "%2D", 3);
    /* plain runs in one copy: the cursor of 10k contacts is ~1 MB */
    while (*p != '\0') {
        size_t n = strcspn(p, " \t\r\n%");
        if (n > 0 && vc_buf_add(b, p, n) != CMSB_OK)
            return CMSB_ENOMEM;
        p += n;
        if (*p != '\0') {
            if (vc_buf_printf(b, "%%%02X", (unsigned char)*p) != CMSB_OK)
                return CMSB_ENOMEM;
            p++;
        }
    }
    return CMSB_OK;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Unescape a field in place; "-" becomes "". */
static void unesc(char *s)
{
    char *o = s;

    if (s[0] == '-' && s[1] == '\0') {
        s[0] = '\0';
        return;
    }
    for (char *p = s; *p != '\0'; p++) {
        if (p[0] == '%' && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
            *o++ = (char)(hexv(p[1]) * 16 + hexv(p[2]));
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

int dav_state_write(const dav_state *st, uint64_t fp, vc_buf *out)
{
    int rc;

    out->len = 0;
    rc = vc_buf_printf(out, "davsync %d %016llx %lld %lld\n", CURSOR_VERSION,
                       (unsigned long long)fp, (long long)st->disc_at,
                       (long long)st->audit_at);
    for (size_t i = 0; i < st->n && rc == CMSB_OK; i++) {
        const dav_coll *c = &st->c[i];
        rc = vc_buf_printf(out, "K %c %d %lld ", c->kind, c->sync,
                           (long long)c->exp);
        if (rc == CMSB_OK)
            rc = esc(out, c->href);
        if (rc == CMSB_OK)
            rc = vc_buf_add(out, " ", 1);
        if (rc == CMSB_OK)
            rc = esc(out, c->token);
        if (rc == CMSB_OK)
            rc = vc_buf_add(out, " ", 1);
        if (rc == CMSB_OK)
            rc = esc(out, c->ctag);
        if (rc == CMSB_OK && c->nodata_at != 0)
            rc = vc_buf_printf(out, " %lld", (long long)c->nodata_at);
        if (rc == CMSB_OK)
            rc = vc_buf_add(out, "\n", 1);
        for (size_t k = 0; k < c->items.nb && rc == CMSB_OK; k++) {
            for (dav_item *it = c->items.b[k]; it != NULL && rc == CMSB_OK;
                 it = it->next) {
                rc = vc_buf_add(out, "I ", 2);
                if (rc == CMSB_OK)
                    rc = esc(out, it->href);
                if (rc == CMSB_OK)
                    rc = vc_buf_add(out, " ", 1);
                if (rc == CMSB_OK)
                    rc = esc(out, it->etag);
                for (const char *u = it->uids;
                     u != NULL && *u != '\0' && rc == CMSB_OK;) {
                    const char *nl = strchr(u, '\n');
                    size_t n = nl != NULL ? (size_t)(nl - u) : strlen(u);
                    char one[TSPS_UID_MAX + 2];
                    vc_copy(one, sizeof(one), u, n);
                    rc = vc_buf_add(out, " ", 1);
                    if (rc == CMSB_OK)
                        rc = esc(out, one);
                    u = nl != NULL ? nl + 1 : u + n;
                }
                if (rc == CMSB_OK)
                    rc = vc_buf_add(out, "\n", 1);
            }
        }
    }
    if (rc == CMSB_OK)
        rc = vc_buf_add(out, "", 1); /* NUL, not counted */
    if (rc == CMSB_OK)
        out->len--;
    return rc;
}

/* Split a line into at most max space-separated fields (in place). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *t = strtok_r(line, " ", &save); t != NULL && n < max;
         t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    return n;
}

/* A code as vc_resolve_code() gives it: [A-Z0-9_-]{1,31}. */
static int code_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= TSPS_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* One field of an I line after the etag, given the tag before it:
 * A only after C, M only after G or M (version 1: C and E only). */
static int field_ok(const char *u, char prev, int ver)
{
    size_t n = strlen(u);

    if (n < 2 || n > TSPS_UID_MAX)
        return 0;
    switch (u[0]) {
    case 'C':
    case 'E':
        return 1;
    case 'A':
        return ver >= 2 && prev == 'C' && code_ok(u + 1);
    case 'G':
        return ver >= 2 && code_ok(u + 1);
    case 'M':
        return ver >= 2 && (prev == 'G' || prev == 'M');
    default:
        return 0;
    }
}

static int parse_item(dav_coll *c, char *rest, int same, int ver)
{
    char *save = NULL;
    char *href = strtok_r(rest, " ", &save);
    char *etag = strtok_r(NULL, " ", &save);
    dav_item *it;
    vc_buf uids = {0};
    int rc = CMSB_OK;
    char prev = 0;

    if (href == NULL || etag == NULL)
        return CMSB_EPARSE;
    unesc(href);
    unesc(etag);
    it = dav_map_add(&c->items, href);
    if (it == NULL)
        return CMSB_ENOMEM;
    if (same && etag[0] != '\0')
        rc = dav_set(&it->etag, etag);
    for (char *u = strtok_r(NULL, " ", &save); u != NULL && rc == CMSB_OK;
         u = strtok_r(NULL, " ", &save)) {
        unesc(u);
        /* '\n' separates the lines in memory */
        if (!field_ok(u, prev, ver) || strchr(u, '\n') != NULL) {
            rc = CMSB_EPARSE;
            break;
        }
        prev = u[0];
        rc = vc_buf_str(&uids, u);
        if (rc == CMSB_OK)
            rc = vc_buf_add(&uids, "\n", 1);
    }
    if (rc == CMSB_OK && uids.len > 0 && vc_buf_add(&uids, "", 1) == CMSB_OK) {
        free(it->uids);
        it->uids = uids.p;
        uids.p = NULL;
    }
    vc_buf_free(&uids);
    return rc;
}

/* Version 1 cursors come from before group cards were kept: a resource
 * that produced nothing may be a group card. Fetch those once again
 * (etag unknown; no ctag, so a listing does not stop at an unchanged
 * one). */
static void forget_silent(dav_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        dav_coll *c = &st->c[i];
        int any = 0;
        if (c->kind != DAV_BOOK)
            continue;
        for (size_t k = 0; k < c->items.nb; k++)
            for (dav_item *it = c->items.b[k]; it != NULL; it = it->next)
                if (it->uids == NULL && it->etag != NULL) {
                    free(it->etag);
                    it->etag = NULL;
                    any = 1;
                }
        if (any) {
            free(c->ctag);
            c->ctag = NULL;
        }
    }
}

int dav_state_parse(dav_state *st, const char *cursor, uint64_t fp)
{
    char *text, *line, *save = NULL;
    unsigned long long cfp = 0;
    long long disc = 0, audit = 0;
    int same, ver = 0, rc = CMSB_OK;
    dav_coll *c = NULL;

    memset(st, 0, sizeof(*st));
    if (cursor == NULL ||
        sscanf(cursor, "davsync %d %llx %lld\n", &ver, &cfp, &disc) != 3 ||
        ver < 1 || ver > CURSOR_VERSION)
        return -1;
    same = cfp == (unsigned long long)fp;
    /* the header's own line only ("%*[ ]" does not cross '\n') */
    if (sscanf(cursor, "davsync %*d %*x %*d%*[ ]%lld", &audit) != 1)
        audit = 0;
    text = strdup(cursor);
    if (text == NULL)
        return -1;
    line = strtok_r(text, "\n", &save); /* header */
    for (line = strtok_r(NULL, "\n", &save); line != NULL && rc == CMSB_OK;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == 'K' && line[1] == ' ') {
            char *f[8];
            int nf = split(line, f, 8);
            if (nf < 7 || (f[1][0] != DAV_BOOK && f[1][0] != DAV_CAL)) {
                rc = CMSB_EPARSE;
                break;
            }
            unesc(f[4]);
            unesc(f[5]);
            unesc(f[6]);
            c = dav_state_coll(st, f[4], f[1][0]);
            if (c == NULL) {
                rc = CMSB_ENOMEM;
                break;
            }
            c->sync = f[2][0] == '1';
            if (same) {
                c->exp = strtoll(f[3], NULL, 10);
                c->nodata_at = nf > 7 ? strtoll(f[7], NULL, 10) : 0;
                if (dav_set(&c->token, f[5]) != CMSB_OK ||
                    dav_set(&c->ctag, f[6]) != CMSB_OK)
                    rc = CMSB_ENOMEM;
            }
        } else if (line[0] == 'I' && line[1] == ' ' && c != NULL) {
            rc = parse_item(c, line + 2, same, ver);
        } else {
            rc = CMSB_EPARSE;
        }
    }
    free(text);
    if (rc != CMSB_OK) {
        dav_state_free(st);
        return -1;
    }
    st->disc_at = same ? disc : 0;
    st->audit_at = same ? audit : 0;
    if (same && ver < 2)
        forget_silent(st);
    return same ? 1 : 0;
}

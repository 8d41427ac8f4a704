/* The WebDAV multistatus parser shared by carddav: and caldav: (and the
 * DAV:error body of a refused REPORT). Namespace-aware: servers differ in
 * prefixes (Radicale: default xmlns="DAV:" and CR: for CardDAV), so
 * elements are matched by namespace URI + local name, never by prefix. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "dav.h"

#define NS_DAV  "DAV:"
#define NS_CARD "urn:ietf:params:xml:ns:carddav"
#define NS_CAL  "urn:ietf:params:xml:ns:caldav"
#define NS_CS   "http://calendarserver.org/ns/"

static int is(const xmlNode *n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
    for (const xmlNode *c = n != NULL ? n->children : NULL; c != NULL;
         c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

/* Text of a node, trimmed (trim=1) or raw; NULL on ENOMEM. */
static char *text(const xmlNode *n, int trim, size_t *len)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s, *p, *e;

    if (t == NULL) {
        s = strdup("");
        if (len != NULL)
            *len = 0;
        return s;
    }
    p = (char *)t;
    e = p + strlen(p);
    if (trim) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                         e[-1] == '\n'))
            e--;
    }
    s = malloc((size_t)(e - p) + 1);
    if (s != NULL) {
        memcpy(s, p, (size_t)(e - p));
        s[e - p] = '\0';
        if (len != NULL)
            *len = (size_t)(e - p);
    }
    xmlFree(t);
    return s;
}

/* "HTTP/1.1 404 Not Found" -> 404; 0 if not a status line. */
static int status_code(const xmlNode *n)
{
    char *t = text(n, 1, NULL);
    const char *sp;
    int code = 0;

    if (t == NULL)
        return -1;
    sp = strchr(t, ' ');
    if (strncmp(t, "HTTP/", 5) == 0 && sp != NULL && sp[1] >= '1' &&
        sp[1] <= '5' && sp[2] >= '0' && sp[2] <= '9' && sp[3] >= '0' &&
        sp[3] <= '9')
        code = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    free(t);
    return code;
}

const char *dav_href_path(const char *href)
{
    const char *p;

    if (strncmp(href, "http://", 7) == 0)
        p = href + 7;
    else if (strncmp(href, "https://", 8) == 0)
        p = href + 8;
    else
        return href;
    p = strchr(p, '/');
    return p != NULL ? p : "/";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Next byte of an href with %XX decoded; advances *i. */
static int next_byte(const char *s, size_t n, size_t *i)
{
    if (s[*i] == '%' && *i + 2 < n + 1 && hexval(s[*i + 1]) >= 0 &&
        hexval(s[*i + 2]) >= 0) {
        int v = hexval(s[*i + 1]) * 16 + hexval(s[*i + 2]);
        *i += 3;
        return v;
    }
    return (unsigned char)s[(*i)++];
}

int dav_href_eq(const char *a, const char *b)
{
    size_t na, nb, i = 0, j = 0;

    a = dav_href_path(a);
    b = dav_href_path(b);
    na = strlen(a);
    nb = strlen(b);
    if (na > 1 && a[na - 1] == '/')
        na--;
    if (nb > 1 && b[nb - 1] == '/')
        nb--;
    while (i < na && j < nb)
        if (next_byte(a, na, &i) != next_byte(b, nb, &j))
            return 0;
    return i == na && j == nb;
}

static int set_text(char **dst, const xmlNode *n)
{
    free(*dst);
    *dst = text(n, 1, NULL);
    return *dst != NULL ? CMSB_OK : CMSB_ENOMEM;
}

static int set_href(char **dst, const xmlNode *n)
{
    const xmlNode *h = child(n, NS_DAV, "href");

    if (h == NULL)
        return CMSB_OK;
    free(*dst);
    *dst = text(h, 1, NULL);
    if (*dst == NULL)
        return CMSB_ENOMEM;
    memmove(*dst, dav_href_path(*dst), strlen(dav_href_path(*dst)) + 1);
    return CMSB_OK;
}

static void read_rtype(dav_resp *r, const xmlNode *rt)
{
    for (const xmlNode *c = rt->children; c != NULL; c = c->next) {
        if (is(c, NS_DAV, "collection"))
            r->rtype |= DAV_RT_COLLECTION;
        else if (is(c, NS_CARD, "addressbook"))
            r->rtype |= DAV_RT_ADDRESSBOOK;
        else if (is(c, NS_CAL, "calendar"))
            r->rtype |= DAV_RT_CALENDAR;
        else if (is(c, NS_DAV, "principal"))
            r->rtype |= DAV_RT_PRINCIPAL;
    }
}

static void read_reports(dav_resp *r, const xmlNode *set)
{
    r->reports |= DAV_REP_LISTED;
    for (const xmlNode *sr = set->children; sr != NULL; sr = sr->next) {
        /* RFC 3253: supported-report/report/<name>; Xandikos leaves the
         * <report> wrapper out (supported-report/<name>) */
        const xmlNode *rep = child(sr, NS_DAV, "report");
        if (rep == NULL)
            rep = sr;
        for (const xmlNode *c = rep->children; c != NULL; c = c->next) {
            if (is(c, NS_DAV, "sync-collection"))
                r->reports |= DAV_REP_SYNC;
            else if (is(c, NS_CARD, "addressbook-multiget") ||
                     is(c, NS_CAL, "calendar-multiget"))
                r->reports |= DAV_REP_MULTIGET;
        }
    }
}

/* The properties of a propstat whose status is 2xx. */
static int read_prop(dav_resp *r, const xmlNode *prop)
{
    int rc = CMSB_OK;

    for (const xmlNode *p = prop->children; p != NULL && rc == CMSB_OK;
         p = p->next) {
        if (p->type != XML_ELEMENT_NODE)
            continue;
        if (is(p, NS_DAV, "getetag")) {
            rc = set_text(&r->etag, p);
        } else if (is(p, NS_CARD, "address-data") ||
                   is(p, NS_CAL, "calendar-data")) {
            free(r->data);
            r->data = text(p, 0, &r->data_len);
            rc = r->data != NULL ? CMSB_OK : CMSB_ENOMEM;
        } else if (is(p, NS_DAV, "resourcetype")) {
            read_rtype(r, p);
        } else if (is(p, NS_DAV, "supported-report-set")) {
            read_reports(r, p);
        } else if (is(p, NS_DAV, "sync-token")) {
            rc = set_text(&r->sync_token, p);
        } else if (is(p, NS_CS, "getctag")) {
            rc = set_text(&r->ctag, p);
        } else if (is(p, NS_DAV, "displayname")) {
            rc = set_text(&r->name, p);
        } else if (is(p, NS_DAV, "getlastmodified")) {
            char *t = text(p, 1, NULL);
            time_t when = t != NULL ? curl_getdate(t, NULL) : -1;
            free(t);
            r->modified = when > 0 ? (int64_t)when : 0;
        } else if (is(p, NS_DAV, "getcontentlength")) {
            char *t = text(p, 1, NULL), *end = NULL;
            long long v = t != NULL ? strtoll(t, &end, 10) : -1;
            r->length =
                (t != NULL && end != t && *end == '\0' && v >= 0) ? v : -1;
            free(t);
        } else if (is(p, NS_DAV, "current-user-principal")) {
            rc = set_href(&r->principal, p);
        } else if (is(p, NS_CARD, "addressbook-home-set")) {
            rc = set_href(&r->ab_home, p);
        } else if (is(p, NS_CAL, "calendar-home-set")) {
            rc = set_href(&r->cal_home, p);
        }
    }
    return rc;
}

static unsigned read_error(const xmlNode *err)
{
    unsigned bits = 0;

    for (const xmlNode *c = err != NULL ? err->children : NULL; c != NULL;
         c = c->next) {
        if (is(c, NS_DAV, "valid-sync-token"))
            bits |= DAV_ERR_SYNC_TOKEN;
        else if (is(c, NS_DAV, "number-of-matches-within-limits"))
            bits |= DAV_ERR_LIMITS;
    }
    return bits;
}

static void resp_free(dav_resp *r)
{
    free(r->href);
    free(r->etag);
    free(r->data);
    free(r->sync_token);
    free(r->ctag);
    free(r->principal);
    free(r->ab_home);
    free(r->cal_home);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

static int read_response(dav_ms *ms, const xmlNode *resp)
{
    dav_resp *r;
    const xmlNode *h = child(resp, NS_DAV, "href");
    int rc = CMSB_OK;

    if (h == NULL)
        return CMSB_OK; /* RFC 4918 requires one: skip the element */
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 16;
        dav_resp *p = realloc(ms->r, cap * sizeof(*p));
        if (p == NULL)
            return CMSB_ENOMEM;
        ms->r = p;
        ms->cap = cap;
    }
    r = &ms->r[ms->n++];
    memset(r, 0, sizeof(*r));
    r->length = -1;
    rc = set_text(&r->href, h);
    if (rc != CMSB_OK)
        return rc;
    memmove(r->href, dav_href_path(r->href),
            strlen(dav_href_path(r->href)) + 1);
    for (const xmlNode *c = resp->children; c != NULL && rc == CMSB_OK;
         c = c->next) {
        if (is(c, NS_DAV, "status")) {
            r->status = status_code(c);
        } else if (is(c, NS_DAV, "error")) {
            ms->errors |= read_error(c);
        } else if (is(c, NS_DAV, "propstat")) {
            const xmlNode *st = child(c, NS_DAV, "status");
            const xmlNode *prop = child(c, NS_DAV, "prop");
            int code = st != NULL ? status_code(st) : 200;
            if (prop != NULL && code >= 200 && code < 300)
                rc = read_prop(r, prop);
        }
    }
    if (r->status == 507) {
        ms->truncated = 1;
        resp_free(r); /* the marker is not a member */
        ms->n--;
    }
    return rc;
}

static void quiet_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void quiet_structured(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

int dav_ms_parse(const char *buf, size_t len, dav_ms *ms)
{
    xmlDoc *doc;
    const xmlNode *root;
    int rc = CMSB_OK;

    memset(ms, 0, sizeof(*ms));
    if (buf == NULL || len == 0 || len > (size_t)1 << 30)
        return CMSB_EPARSE;
    /* No DTDs at all: no entity expansion, nothing external. */
    for (size_t i = 0; i + 9 <= len; i++)
        if (buf[i] == '<' && buf[i + 1] == '!' &&
            memcmp(buf + i, "<!DOCTYPE", 9) == 0)
            return CMSB_EPARSE;
    {
        /* A library never prints: libxml2 reports some errors (encoding)
         * through its per-thread generic handlers whatever the options
         * say, so silence them for this parse and put them back. */
        xmlGenericErrorFunc og = xmlGenericError;
        void *ogc = xmlGenericErrorContext;
        xmlStructuredErrorFunc os = xmlStructuredError;
        void *osc = xmlStructuredErrorContext;
        xmlSetGenericErrorFunc(NULL, quiet_generic);
        xmlSetStructuredErrorFunc(NULL, quiet_structured);
        doc = xmlReadMemory(buf, (int)len, "multistatus.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
        xmlSetGenericErrorFunc(ogc, og);
        xmlSetStructuredErrorFunc(osc, os);
    }
    if (doc == NULL)
        return CMSB_EPARSE;
    root = xmlDocGetRootElement(doc);
    if (is(root, NS_DAV, "error")) {
        ms->errors |= read_error(root);
    } else if (is(root, NS_DAV, "multistatus")) {
        for (const xmlNode *c = root->children; c != NULL && rc == CMSB_OK;
             c = c->next) {
            if (is(c, NS_DAV, "response"))
                rc = read_response(ms, c);
            else if (is(c, NS_DAV, "sync-token"))
                rc = set_text(&ms->sync_token, c);
        }
    } else {
        rc = CMSB_EPARSE;
    }
    xmlFreeDoc(doc);
    if (ms->truncated)
        ms->errors |= DAV_ERR_LIMITS;
    return rc;
}

void dav_ms_free(dav_ms *ms)
{
    for (size_t i = 0; i < ms->n; i++)
        resp_free(&ms->r[i]);
    free(ms->r);
    free(ms->sync_token);
    memset(ms, 0, sizeof(*ms));
}

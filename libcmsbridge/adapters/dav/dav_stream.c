/* A streaming reader of etag listings (the Depth 1 PROPFIND of a listing
 * sync) and of sync-collection answers: libxml2's push parser with SAX2
 * callbacks, fed as the answer arrives, handing out each <response>
 * (href, response status, the etag of a 2xx propstat, and with
 * dav_stream_open_data its card data) as soon as it is complete. No tree
 * is built: on a 10k-card book the 2.4 MB answer cost 20-30 ms to parse
 * into a tree and walk, on every poll that found the ctag changed; and a
 * sync-collection answer carrying every card of a big book is never held
 * whole (the data handed out is capped). Namespace-aware like dav_xml.c;
 * a DOCTYPE is refused (no entities, nothing external). */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "dav.h"

#define NS_DAV    "DAV:"
#define NS_CARD   "urn:ietf:params:xml:ns:carddav"
#define NS_CAL    "urn:ietf:params:xml:ns:caldav"
#define FIELD_MAX 16384 /* bytes of one href, etag or status */
#define DEPTH_MAX 64

struct dav_stream {
    xmlParserCtxtPtr ctx;
    dav_resp_fn fn;
    void *arg;
    int depth;
    int rc;      /* CMSB_OK, or why the parse stopped */
    int root_ok; /* the root is DAV:multistatus */
    int in_resp; /* inside a <response> (at depth 2) */
    int in_ps;   /* inside its <propstat> (depth 3) */
    vc_buf *cap; /* the field being read, or NULL */
    vc_buf href, status, etag, ps_status, ps_etag;
    int has_etag; /* etag holds a 2xx propstat's getetag */
    int ps_has;   /* this propstat had a getetag */
    /* dav_stream_open_data: address-data / calendar-data */
    int want_data;
    size_t budget;        /* bytes of data still to hand out */
    vc_buf data, ps_data; /* of the response, of the propstat being read */
    int has_data;         /* data holds a 2xx propstat's data */
    int data_refused;     /* data was in a non-2xx propstat */
    int ps_has_data;      /* this propstat had data ... */
    int ps_over;          /* ... more than the budget left: dropped */
    vc_buf token;         /* the top-level DAV:sync-token */
    int has_token;
};

static int is_ns(const xmlChar *name, const xmlChar *uri, const char *ns,
                 const char *want)
{
    return uri != NULL && strcmp((const char *)uri, ns) == 0 &&
           strcmp((const char *)name, want) == 0;
}

static int is(const xmlChar *name, const xmlChar *uri, const char *want)
{
    return is_ns(name, uri, NS_DAV, want);
}

static int is_data(const xmlChar *name, const xmlChar *uri)
{
    return is_ns(name, uri, NS_CARD, "address-data") ||
           is_ns(name, uri, NS_CAL, "calendar-data");
}

static void stop(dav_stream *st, int rc)
{
    if (st->rc == CMSB_OK)
        st->rc = rc;
    xmlStopParser(st->ctx);
}

static void capture(dav_stream *st, vc_buf *b)
{
    b->len = 0;
    if (vc_buf_add(b, "", 0) != CMSB_OK) /* a NUL-terminated empty text */
        stop(st, CMSB_ENOMEM);
    st->cap = b;
}

static void on_start(void *c, const xmlChar *name, const xmlChar *prefix,
                     const xmlChar *uri, int nns, const xmlChar **ns, int nattr,
                     int ndef, const xmlChar **attrs)
{
    dav_stream *st = c;

    (void)prefix, (void)nns, (void)ns, (void)nattr, (void)ndef, (void)attrs;
    if (st->cap == &st->ps_data)
        st->ps_over = 1; /* markup inside card data: not a card, fetch it */
    st->cap = NULL;
    if (++st->depth > DEPTH_MAX) {
        stop(st, CMSB_EPARSE);
        return;
    }
    if (st->depth == 1) {
        st->root_ok = is(name, uri, "multistatus");
        if (!st->root_ok)
            stop(st, CMSB_EPARSE);
    } else if (st->depth == 2 && is(name, uri, "response")) {
        st->in_resp = 1;
        st->has_etag = st->has_data = st->data_refused = 0;
        st->href.len = st->status.len = st->etag.len = st->data.len = 0;
    } else if (st->depth == 2 && is(name, uri, "sync-token")) {
        st->has_token = 1;
        capture(st, &st->token);
    } else if (st->in_resp && st->depth == 3) {
        if (is(name, uri, "href"))
            capture(st, &st->href);
        else if (is(name, uri, "status"))
            capture(st, &st->status);
        else if (is(name, uri, "propstat")) {
            st->in_ps = 1;
            st->ps_has = st->ps_has_data = st->ps_over = 0;
            st->ps_status.len = st->ps_etag.len = st->ps_data.len = 0;
        }
    } else if (st->in_ps && st->depth == 4 && is(name, uri, "status")) {
        capture(st, &st->ps_status);
    } else if (st->in_ps && st->depth == 5 && is(name, uri, "getetag")) {
        st->ps_has = 1;
        capture(st, &st->ps_etag);
    } else if (st->want_data && st->in_ps && st->depth == 5 &&
               is_data(name, uri)) {
        st->ps_has_data = 1;
        st->ps_over = st->budget == 0;
        if (!st->ps_over)
            capture(st, &st->ps_data);
    }
}

static void on_chars(void *c, const xmlChar *ch, int len)
{
    dav_stream *st = c;

    if (st->cap == NULL || len <= 0)
        return;
    if (st->cap == &st->ps_data) {
        /* card data: within what is left of the budget, else dropped
         * (the caller fetches that member another way) */
        if (st->ps_data.len + (size_t)len > st->budget) {
            st->ps_over = 1;
            st->cap = NULL;
            vc_buf_free(&st->ps_data);
        } else if (vc_buf_add(st->cap, ch, (size_t)len) != CMSB_OK) {
            stop(st, CMSB_ENOMEM);
        }
        return;
    }
    if (st->cap->len + (size_t)len > FIELD_MAX)
        stop(st, CMSB_EPARSE);
    else if (vc_buf_add(st->cap, ch, (size_t)len) != CMSB_OK)
        stop(st, CMSB_ENOMEM);
}

/* Trimmed text of a field: NUL-terminated in place; returns its start. */
static char *trim(vc_buf *b)
{
    char *p, *e;

    if (b->p == NULL && vc_buf_add(b, "", 0) != CMSB_OK)
        return NULL;
    p = b->p;
    e = p + b->len;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    while (e > p &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    *e = '\0';
    return p;
}

/* "HTTP/1.1 404 Not Found" -> 404; 0 if not a status line. */
static int code_of(const char *t)
{
    const char *sp = strchr(t, ' ');

    if (strncmp(t, "HTTP/", 5) == 0 && sp != NULL && sp[1] >= '1' &&
        sp[1] <= '5' && sp[2] >= '0' && sp[2] <= '9' && sp[3] >= '0' &&
        sp[3] <= '9')
        return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    return 0;
}

static void on_end(void *c, const xmlChar *name, const xmlChar *prefix,
                   const xmlChar *uri)
{
    dav_stream *st = c;

    (void)prefix;
    st->cap = NULL;
    if (st->in_ps && st->depth == 3 && is(name, uri, "propstat")) {
        char *t = trim(&st->ps_status);
        int code = t == NULL ? 0 : t[0] != '\0' ? code_of(t) : 200;
        char *e = trim(&st->ps_etag);
        st->in_ps = 0;
        if (t == NULL || e == NULL) {
            stop(st, CMSB_ENOMEM);
        } else if (code >= 200 && code < 300) {
            if (st->ps_has && e[0] != '\0') {
                st->etag.len = 0;
                if (vc_buf_str(&st->etag, e) != CMSB_OK)
                    stop(st, CMSB_ENOMEM);
                st->has_etag = 1;
            }
            if (st->ps_has_data && !st->ps_over) {
                vc_buf sw = st->data; /* keep it, without a copy */
                st->data = st->ps_data;
                st->ps_data = sw;
                st->ps_data.len = 0;
                if (st->data.p == NULL && vc_buf_add(&st->data, "", 0) != 0)
                    stop(st, CMSB_ENOMEM);
                st->has_data = 1;
            }
        } else if (st->ps_has_data) {
            st->data_refused = 1; /* Xandikos: 404 for address-data */
        }
    } else if (st->depth == 2 && st->has_token && is(name, uri, "sync-token")) {
        char *t = trim(&st->token);
        if (t == NULL) {
            stop(st, CMSB_ENOMEM);
        } else {
            memmove(st->token.p, t, strlen(t) + 1);
            st->token.len = strlen(st->token.p);
        }
    } else if (st->in_resp && st->depth == 2 && is(name, uri, "response")) {
        dav_resp r;
        char *h = trim(&st->href), *s = trim(&st->status);
        st->in_resp = 0;
        if (h == NULL || s == NULL) {
            stop(st, CMSB_ENOMEM);
        } else if (h[0] != '\0') {
            memset(&r, 0, sizeof(r));
            r.href = (char *)dav_href_path(h);
            r.status = s[0] != '\0' ? code_of(s) : 0;
            r.etag = st->has_etag ? st->etag.p : NULL;
            r.data_refused = st->data_refused && !st->has_data;
            if (st->has_data && st->data.len <= st->budget) {
                r.data = st->data.p;
                r.data_len = st->data.len;
                st->budget -= st->data.len;
            }
            if (st->fn(st->arg, &r) != 0)
                stop(st, CMSB_ECANCELED);
        }
    }
    st->depth--;
}

/* A DOCTYPE: refused, as dav_ms_parse does */
static void on_dtd(void *c, const xmlChar *name, const xmlChar *ext,
                   const xmlChar *sys)
{
    (void)name, (void)ext, (void)sys;
    stop(c, CMSB_EPARSE);
}

static void on_error(void *c, const char *msg, ...)
{
    (void)c;
    (void)msg;
}

static void quiet_structured(void *c, xmlErrorPtr err)
{
    (void)c;
    (void)err;
}

int dav_stream_open_data(dav_stream **out, dav_resp_fn fn, void *arg,
                         size_t budget)
{
    int rc = dav_stream_open(out, fn, arg);

    if (rc == CMSB_OK) {
        (*out)->want_data = 1;
        (*out)->budget = budget;
    }
    return rc;
}

const char *dav_stream_sync_token(const dav_stream *st)
{
    /* trimmed at its end tag */
    return st->has_token && st->token.p != NULL ? st->token.p : NULL;
}

int dav_stream_open(dav_stream **out, dav_resp_fn fn, void *arg)
{
    xmlSAXHandler sax;
    dav_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return CMSB_ENOMEM;
    memset(&sax, 0, sizeof(sax));
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_chars;
    sax.cdataBlock = on_chars;
    sax.internalSubset = on_dtd;
    sax.externalSubset = on_dtd;
    sax.error = on_error;
    sax.warning = on_error;
    sax.fatalError = on_error;
    sax.serror = quiet_structured;
    st->fn = fn;
    st->arg = arg;
    st->ctx = xmlCreatePushParserCtxt(&sax, st, NULL, 0, "listing.xml");
    if (st->ctx == NULL) {
        free(st);
        return CMSB_ENOMEM;
    }
    xmlCtxtUseOptions(st->ctx, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                   XML_PARSE_NOWARNING);
    *out = st;
    return CMSB_OK;
}

static int feed(dav_stream *st, const char *p, size_t n, int end)
{
    /* libxml2 reports some errors through its per-thread generic
     * handlers whatever the options say: silence them for this chunk */
    xmlGenericErrorFunc og = xmlGenericError;
    void *ogc = xmlGenericErrorContext;
    xmlStructuredErrorFunc os = xmlStructuredError;
    void *osc = xmlStructuredErrorContext;
    int xr;

    if (st->rc != CMSB_OK)
        return st->rc;
    if (n > (size_t)1 << 30)
        return CMSB_EPARSE;
    xmlSetGenericErrorFunc(NULL, on_error);
    xmlSetStructuredErrorFunc(NULL, quiet_structured);
    xr = xmlParseChunk(st->ctx, p, (int)n, end);
    xmlSetGenericErrorFunc(ogc, og);
    xmlSetStructuredErrorFunc(osc, os);
    if (st->rc == CMSB_OK && (xr != 0 || !st->ctx->wellFormed))
        st->rc = CMSB_EPARSE;
    if (st->rc == CMSB_OK && end && !st->root_ok)
        st->rc = CMSB_EPARSE;
    return st->rc;
}

int dav_stream_feed(dav_stream *st, const char *p, size_t n)
{
    return feed(st, p, n, 0);
}

int dav_stream_finish(dav_stream *st)
{
    return feed(st, NULL, 0, 1);
}

void dav_stream_free(dav_stream *st)
{
    if (st == NULL)
        return;
    if (st->ctx != NULL) {
        if (st->ctx->myDoc != NULL)
            xmlFreeDoc(st->ctx->myDoc);
        xmlFreeParserCtxt(st->ctx);
    }
    vc_buf_free(&st->href);
    vc_buf_free(&st->status);
    vc_buf_free(&st->etag);
    vc_buf_free(&st->ps_status);
    vc_buf_free(&st->ps_etag);
    vc_buf_free(&st->data);
    vc_buf_free(&st->ps_data);
    vc_buf_free(&st->token);
    free(st);
}

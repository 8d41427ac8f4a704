/* HTTP for the DAV adapters: one libcurl easy handle per source (the
 * connection is reused), TLS verification on unless the server is plain
 * http, basic or digest auth, no automatic redirects (discovery follows
 * them itself, keeping credentials on the same origin). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "dav.h"

#define DAV_MAX_BODY ((size_t)512 << 20)

int dav_http_open(dav_src *s, const cmsb_options *o)
{
    CURL *c;
    long tmo = o->timeout_ms > 0 ? o->timeout_ms : 30000;

    /* Reference-counted and thread-safe since curl 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CMSB_EIO;
    c = curl_easy_init();
    if (c == NULL) {
        curl_global_cleanup();
        return CMSB_ENOMEM;
    }
    s->curl = c;
    s->timeout_ms = tmo;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, tmo < 10000 ? tmo : 10000);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libcmsbridge-dav/0.1");
    if (o->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    if (o->username != NULL) {
        s->has_user = 1;
        curl_easy_setopt(c, CURLOPT_USERNAME, o->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD,
                         o->password != NULL ? o->password : "");
        /* Basic, sent with the first request (with several methods allowed
         * curl would first probe without credentials: a second round trip
         * on every request). A server that answers 401 with a Digest
         * challenge switches the source to digest (dav_request). */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    return CMSB_OK;
}

void dav_http_close(dav_src *s)
{
    if (s->curl != NULL) {
        curl_easy_cleanup(s->curl);
        s->curl = NULL;
        curl_global_cleanup();
    }
}

int dav_url(const dav_src *s, const char *href, vc_buf *out)
{
    out->len = 0;
    if (strncmp(href, "http://", 7) == 0 || strncmp(href, "https://", 8) == 0)
        return vc_buf_str(out, href) == CMSB_OK ? vc_buf_add(out, "", 1)
                                                : CMSB_ENOMEM;
    if (vc_buf_printf(out, "%s%s%s", s->origin, href[0] == '/' ? "" : "/",
                      href) != CMSB_OK ||
        vc_buf_add(out, "", 1) != CMSB_OK)
        return CMSB_ENOMEM;
    return CMSB_OK;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    dav_reply *r = arg;

    if (r->sink != NULL) {
        long st = 0;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &st);
        if (st == 207) {
            /* the answer we wait for: parsed as it arrives */
            r->sunk = 1;
            r->sink_rc = dav_stream_feed(r->sink, p, sz * n);
            return r->sink_rc == CMSB_OK ? sz * n : 0;
        }
    }

    if (r->body.len + sz * n > DAV_MAX_BODY ||
        vc_buf_add(&r->body, p, sz * n) != CMSB_OK)
        return 0;
    return sz * n;
}

static void header_value(const char *p, size_t n, const char *name, char *dst,
                         size_t cap)
{
    size_t k = strlen(name);

    if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
        return;
    p += k + 1;
    n -= k + 1;
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
        n--;
    vc_copy(dst, cap, p, n);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    dav_reply *r = arg;

    /* a new status line (after a 401 or 100) starts a new answer */
    if (sz * n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        r->etag[0] = '\0';
        r->location[0] = '\0';
    }
    header_value(p, sz * n, "ETag", r->etag, sizeof(r->etag));
    header_value(p, sz * n, "Location", r->location, sizeof(r->location));
    {
        char auth[16] = "";
        header_value(p, sz * n, "WWW-Authenticate", auth, sizeof(auth));
        if (strncasecmp(auth, "Digest", 6) == 0)
            r->digest = 1;
    }
    return sz * n;
}

static int request(dav_src *s, const char *method, const char *href,
                   const char *depth, const char *body, const char *if_match,
                   const char *if_none_match, dav_reply *r);

int dav_request(dav_src *s, const char *method, const char *href,
                const char *depth, const char *body, const char *if_match,
                dav_reply *r)
{
    return dav_request_cond(s, method, href, depth, body, if_match, NULL, r);
}

int dav_request_cond(dav_src *s, const char *method, const char *href,
                     const char *depth, const char *body, const char *if_match,
                     const char *if_none_match, dav_reply *r)
{
    memset(r, 0, sizeof(*r));
    return request(s, method, href, depth, body, if_match, if_none_match, r);
}

int dav_request_stream(dav_src *s, const char *method, const char *href,
                       const char *depth, const char *body, dav_stream *sink,
                       dav_reply *r)
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->sink = sink;
    r->curl = s->curl;
    rc = request(s, method, href, depth, body, NULL, NULL, r);
    if (rc == CMSB_OK && r->sunk)
        rc = dav_stream_finish(sink);
    else if (rc != CMSB_OK && r->sunk && r->sink_rc != CMSB_OK)
        rc = r->sink_rc; /* the parse (or its callback) stopped it */
    return rc;
}

static int request(dav_src *s, const char *method, const char *href,
                   const char *depth, const char *body, const char *if_match,
                   const char *if_none_match, dav_reply *r)
{
    CURL *c = s->curl;
    struct curl_slist *h = NULL, *t;
    vc_buf url = {0}, line = {0};
    CURLcode cc;
    int rc = CMSB_OK;

    s->no_answer = 0;
    s->timed_out = 0;
    rc = dav_url(s, href, &url);
    if (rc != CMSB_OK)
        return rc;
#define ADD(...)                                                               \
    do {                                                                       \
        line.len = 0;                                                          \
        if (rc == CMSB_OK && (vc_buf_printf(&line, __VA_ARGS__) != CMSB_OK ||  \
                              (t = curl_slist_append(h, line.p)) == NULL))     \
            rc = CMSB_ENOMEM;                                                  \
        else if (rc == CMSB_OK)                                                \
            h = t;                                                             \
    } while (0)
    ADD("Expect:");
    /* no Accept (curl's default says nothing): bytes on every poll */
    ADD("Accept:");
    if (depth != NULL)
        ADD("Depth: %s", depth);
    if (if_match != NULL)
        ADD("If-Match: %s", if_match);
    if (if_none_match != NULL)
        ADD("If-None-Match: %s", if_none_match);
    if (body != NULL)
        ADD("Content-Type: %s", /* only vCards are PUT */
            strcmp(method, "PUT") == 0 ? "text/vcard; charset=utf-8"
                                       : "application/xml; charset=utf-8");
#undef ADD
    if (rc != CMSB_OK)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body != NULL ? strlen(body) : 0));
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK && r->digest && !s->digest && s->has_user) {
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (st == 401) {
            /* the server wants digest: from now on, for this source */
            s->digest = 1;
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
            r->body.len = 0;
            cc = curl_easy_perform(c);
        }
    }
    if (cc != CURLE_OK) {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: request failed\" method=%s url=\"%s\" "
                        "err=\"%s\"",
                        method, url.p,
                        s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
        s->errbuf[0] = '\0';
        s->no_answer = 1;
        s->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
        rc = cc == CURLE_WRITE_ERROR && r->sunk ? r->sink_rc
             : cc == CURLE_WRITE_ERROR && r->body.len < DAV_MAX_BODY
                 ? CMSB_ENOMEM
                 : CMSB_EIO;
        if (rc == CMSB_EPARSE)
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"dav: malformed multistatus\" method=%s "
                            "href=\"%s\"",
                            method, href);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    {
        /* what went over the wire: the benchmark sums it (idle poll
         * bytes), the tests read which requests a sync made */
        curl_off_t down = 0, us = 0;
        long hdr = 0, req = 0; /* req: request line, headers and body */
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
        curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &hdr);
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
        cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                        "msg=\"dav: http\" method=%s depth=%s href=\"%s\" "
                        "status=%ld bytes_up=%lld bytes_down=%lld ms=%lld",
                        method, depth != NULL ? depth : "-", href, r->status,
                        (long long)req, (long long)(hdr + down),
                        (long long)(us / 1000));
    }
    if (vc_buf_add(&r->body, "", 1) != CMSB_OK) {
        rc = CMSB_ENOMEM;
        goto out;
    }
    r->body.len--;
    if (r->status == 401 || r->status == 403)
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: refused\" method=%s url=\"%s\" status=%ld",
                        method, url.p, r->status);
out:
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    vc_buf_free(&url);
    vc_buf_free(&line);
    if (rc != CMSB_OK)
        dav_reply_free(r);
    return rc;
}

void dav_reply_free(dav_reply *r)
{
    vc_buf_free(&r->body);
    r->body.len = 0;
}

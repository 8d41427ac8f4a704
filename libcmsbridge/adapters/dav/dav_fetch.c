/* Requests that return a multistatus: PROPFIND, REPORTs (multiget,
 * calendar-query), and discovery of the collections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dav.h"

#define MAX_REDIRECTS 5

int dav_report(dav_src *s, const char *method, const char *href,
               const char *depth, const char *body, dav_ms *ms,
               long *http_status)
{
    dav_reply r;
    int rc;

    memset(ms, 0, sizeof(*ms));
    *http_status = 0;
    rc = dav_request(s, method, href, depth, body, NULL, &r);
    if (rc != CMSB_OK)
        return rc;
    *http_status = r.status;
    if (r.status == 207) {
        rc = dav_ms_parse(r.body.p, r.body.len, ms);
        if (rc == CMSB_EPARSE) {
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"dav: malformed multistatus\" method=%s "
                            "href=\"%s\"",
                            method, href);
            dav_ms_free(ms);
            rc = CMSB_EIO;
        }
    } else if (r.body.len > 0) {
        /* a DAV:error body says why (valid-sync-token ...) */
        dav_ms tmp;
        if (dav_ms_parse(r.body.p, r.body.len, &tmp) == CMSB_OK)
            ms->errors = tmp.errors;
        dav_ms_free(&tmp);
    }
    dav_reply_free(&r);
    return rc;
}

/* dav_sync_report: each streamed member into the dav_ms */
typedef struct sync_sink {
    dav_ms *ms;
    int rc;
} sync_sink;

static int on_sync_member(void *arg, dav_resp *r)
{
    sync_sink *k = arg;
    dav_ms *ms = k->ms;
    dav_resp *x;

    if (r->status == 507) { /* the truncation marker, not a member */
        ms->truncated = 1;
        ms->errors |= DAV_ERR_LIMITS;
        return 0;
    }
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 16;
        dav_resp *p = realloc(ms->r, cap * sizeof(*p));
        if (p == NULL) {
            k->rc = CMSB_ENOMEM;
            return 1;
        }
        ms->r = p;
        ms->cap = cap;
    }
    x = &ms->r[ms->n];
    memset(x, 0, sizeof(*x));
    x->length = -1;
    x->status = r->status;
    x->data_refused = r->data_refused;
    x->href = strdup(r->href);
    x->etag = r->etag != NULL ? strdup(r->etag) : NULL;
    if (r->data != NULL && (x->data = malloc(r->data_len + 1)) != NULL) {
        memcpy(x->data, r->data, r->data_len);
        x->data[r->data_len] = '\0';
        x->data_len = r->data_len;
    }
    ms->n++; /* dav_ms_free frees what was copied */
    if (x->href == NULL || (r->etag != NULL && x->etag == NULL) ||
        (r->data != NULL && x->data == NULL)) {
        k->rc = CMSB_ENOMEM;
        return 1;
    }
    return 0;
}

int dav_sync_report(dav_src *s, const char *href, const char *body,
                    size_t budget, dav_ms *ms, long *http_status)
{
    dav_stream *st = NULL;
    sync_sink k = {ms, CMSB_OK};
    dav_reply r;
    int rc;

    memset(ms, 0, sizeof(*ms));
    *http_status = 0;
    rc = dav_stream_open_data(&st, on_sync_member, &k, budget);
    if (rc != CMSB_OK)
        return rc;
    rc = dav_request_stream(s, "REPORT", href, "0", body, st, &r);
    if (rc == CMSB_OK) {
        *http_status = r.status;
        if (r.status == 207 && !r.sunk) {
            rc = CMSB_EPARSE; /* a 207 without a body */
        } else if (r.status == 207) {
            const char *t = dav_stream_sync_token(st);
            if (t != NULL && (ms->sync_token = strdup(t)) == NULL)
                rc = CMSB_ENOMEM;
        } else if (r.body.len > 0) {
            /* a DAV:error body says why (valid-sync-token ...) */
            dav_ms tmp;
            if (dav_ms_parse(r.body.p, r.body.len, &tmp) == CMSB_OK)
                ms->errors = tmp.errors;
            dav_ms_free(&tmp);
        }
    }
    if (rc == CMSB_ECANCELED && k.rc != CMSB_OK)
        rc = k.rc;
    if (rc == CMSB_EPARSE) {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: malformed multistatus\" method=REPORT "
                        "href=\"%s\"",
                        href);
        rc = CMSB_EIO;
    }
    if (rc != CMSB_OK)
        dav_ms_free(ms);
    dav_reply_free(&r);
    dav_stream_free(st);
    return rc;
}

int dav_list_stream(dav_src *s, const char *href, const char *body,
                    dav_resp_fn fn, void *arg, long *http_status)
{
    dav_stream *st = NULL;
    dav_reply r;
    int rc = dav_stream_open(&st, fn, arg);

    *http_status = 0;
    if (rc != CMSB_OK)
        return rc;
    rc = dav_request_stream(s, "PROPFIND", href, "1", body, st, &r);
    if (rc == CMSB_OK) {
        *http_status = r.status;
        if (r.status == 207 && !r.sunk) {
            /* a 207 without a body */
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"dav: malformed multistatus\" "
                            "method=PROPFIND href=\"%s\"",
                            href);
            rc = CMSB_EPARSE;
        }
    }
    if (rc == CMSB_EPARSE)
        rc = CMSB_EIO;
    dav_reply_free(&r);
    dav_stream_free(st);
    return rc;
}

static int xml_text(vc_buf *b, const char *s)
{
    int rc = CMSB_OK;

    for (; *s != '\0' && rc == CMSB_OK; s++) {
        switch (*s) {
        case '<':
            rc = vc_buf_str(b, "&lt;");
            break;
        case '>':
            rc = vc_buf_str(b, "&gt;");
            break;
        case '&':
            rc = vc_buf_str(b, "&amp;");
            break;
        case '"':
            rc = vc_buf_str(b, "&quot;");
            break;
        default:
            rc = vc_buf_add(b, s, 1);
        }
    }
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The multiget body for hrefs[0..n). */
static int multiget_body(int card, char **hrefs, size_t n, vc_buf *b)
{
    int rc = vc_buf_printf(b,
                           "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                           "<X:%s xmlns:D=\"DAV:\" xmlns:X=\"%s\">"
                           "<D:prop><D:getetag/><X:%s/></D:prop>",
                           card ? "addressbook-multiget" : "calendar-multiget",
                           card ? "urn:ietf:params:xml:ns:carddav"
                                : "urn:ietf:params:xml:ns:caldav",
                           card ? "address-data" : "calendar-data");

    for (size_t k = 0; k < n && rc == CMSB_OK; k++) {
        rc = vc_buf_str(b, "<D:href>");
        if (rc == CMSB_OK)
            rc = xml_text(b, hrefs[k]);
        if (rc == CMSB_OK)
            rc = vc_buf_str(b, "</D:href>");
    }
    if (rc == CMSB_OK)
        rc = vc_buf_printf(b, "</X:%s>%c",
                           card ? "addressbook-multiget" : "calendar-multiget",
                           '\0');
    return rc;
}

int dav_multiget_some(dav_src *s, const dav_coll *c, char **hrefs, size_t n,
                      dav_resp_fn fn, void *arg, size_t *taken)
{
    int card = c->kind == DAV_BOOK;
    int64_t slow = s->timeout_ms / 4, quick = s->timeout_ms / 16;
    dav_ms ms;
    long st = 0;
    size_t k;
    int rc;

    *taken = 0;
    if (s->mg_batch < DAV_MG_MIN || s->mg_batch > DAV_MG_MAX)
        s->mg_batch = DAV_MG_START;
    for (;;) {
        vc_buf b = {0};
        int64_t t0 = mono_ms(), dt;
        k = n < s->mg_batch ? n : s->mg_batch;
        rc = multiget_body(card, hrefs, k, &b);
        if (rc == CMSB_OK) {
            cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                            "msg=\"dav: multiget\" href=\"%s\" n=%zu", c->href,
                            k);
            rc = dav_report(s, "REPORT", c->href, "1", b.p, &ms, &st);
        }
        vc_buf_free(&b);
        dt = mono_ms() - t0;
        if (rc == CMSB_EIO && s->timed_out && k > DAV_MG_MIN) {
            /* too much for the server within the timeout: ask again for
             * less (bounded: the batch halves down to DAV_MG_MIN) */
            s->mg_batch = k / 2 > DAV_MG_MIN ? k / 2 : DAV_MG_MIN;
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"dav: multiget timed out, smaller batch\" "
                            "href=\"%s\" n=%zu batch=%zu",
                            c->href, k, s->mg_batch);
            continue;
        }
        if (rc != CMSB_OK)
            return rc;
        if (dt > slow && s->mg_batch > DAV_MG_MIN)
            s->mg_batch =
                s->mg_batch / 2 > DAV_MG_MIN ? s->mg_batch / 2 : DAV_MG_MIN;
        else if (dt < quick && k == s->mg_batch && s->mg_batch < DAV_MG_MAX)
            s->mg_batch =
                s->mg_batch * 2 < DAV_MG_MAX ? s->mg_batch * 2 : DAV_MG_MAX;
        break;
    }
    if (st != 207) {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: multiget refused\" href=\"%s\" "
                        "status=%ld",
                        c->href, st);
        rc = CMSB_EIO;
    }
    /* group cards first, so that members in the same answer resolve
     * their group code at once */
    for (size_t j = 0; j < 2 * ms.n && rc == CMSB_OK; j++) {
        dav_resp *x = &ms.r[j % ms.n];
        int grp = card && x->data != NULL && vc_has_kind(x->data, x->data_len);
        if (grp == (j < ms.n) && fn(arg, x) != 0)
            rc = CMSB_ECANCELED;
    }
    dav_ms_free(&ms);
    if (rc == CMSB_OK)
        *taken = k;
    return rc;
}

int dav_multiget(dav_src *s, const dav_coll *c, char **hrefs, size_t n,
                 dav_resp_fn fn, void *arg)
{
    int rc = CMSB_OK;

    for (size_t i = 0, k = 0; i < n && rc == CMSB_OK; i += k)
        rc = dav_multiget_some(s, c, hrefs + i, n - i, fn, arg, &k);
    return rc;
}

/* The whole address book in one addressbook-query (no filter: every
 * card, with its etag and data). */
static const char BOOK_QUERY[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<C:addressbook-query xmlns:D=\"DAV:\" "
    "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
    "<D:prop><D:getetag/><C:address-data/></D:prop>"
    "</C:addressbook-query>";

int dav_book_query(dav_src *s, const dav_coll *c, dav_resp_fn fn, void *arg,
                   long *status)
{
    int64_t t0 = mono_ms();
    dav_ms ms;
    int rc;

    cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                    "msg=\"dav: addressbook-query\" href=\"%s\"", c->href);
    rc = dav_report(s, "REPORT", c->href, "1", BOOK_QUERY, &ms, status);
    if (rc != CMSB_OK)
        return rc;
    if (*status != 207) {
        dav_ms_free(&ms);
        return CMSB_OK;
    }
    cmsb_source_log(&s->base, TSPS_LOG_INFO,
                    "msg=\"dav: whole book fetched by addressbook-query\" "
                    "href=\"%s\" resources=%zu ms=%lld",
                    c->href, ms.n, (long long)(mono_ms() - t0));
    /* group cards first, as in a multiget */
    for (size_t j = 0; j < 2 * ms.n && rc == CMSB_OK; j++) {
        dav_resp *x = &ms.r[j % ms.n];
        int grp = x->data != NULL && vc_has_kind(x->data, x->data_len);
        if (grp != (j < ms.n) || dav_href_eq(x->href, c->href))
            continue;
        if (fn(arg, x) != 0)
            rc = CMSB_ECANCELED;
    }
    dav_ms_free(&ms);
    return rc;
}

static void utc_stamp(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

int dav_cal_query(dav_src *s, const dav_coll *c, int64_t from, int64_t to,
                  int with_data, dav_resp_fn fn, void *arg)
{
    char a[32], b[32];
    vc_buf q = {0};
    dav_ms ms;
    long st;
    int rc;

    utc_stamp(from, a, sizeof(a));
    utc_stamp(to, b, sizeof(b));
    rc = vc_buf_printf(
        &q,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<C:calendar-query xmlns:D=\"DAV:\" "
        "xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
        "<D:prop><D:getetag/>%s</D:prop>"
        "<C:filter><C:comp-filter name=\"VCALENDAR\">"
        "<C:comp-filter name=\"VEVENT\">"
        "<C:time-range start=\"%s\" end=\"%s\"/>"
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>%c",
        with_data ? "<C:calendar-data/>" : "", a, b, '\0');
    if (rc == CMSB_OK)
        rc = dav_report(s, "REPORT", c->href, "1", q.p, &ms, &st);
    vc_buf_free(&q);
    if (rc != CMSB_OK)
        return rc;
    if (st != 207) {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: calendar-query refused\" href=\"%s\" "
                        "status=%ld",
                        c->href, st);
        rc = CMSB_EIO;
    }
    for (size_t k = 0; k < ms.n && rc == CMSB_OK; k++)
        if (!dav_href_eq(ms.r[k].href, c->href) && fn(arg, &ms.r[k]) != 0)
            rc = CMSB_ECANCELED;
    dav_ms_free(&ms);
    return rc;
}

/* ---- discovery ---- */

static const char PROPFIND_START[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\" "
    "xmlns:A=\"urn:ietf:params:xml:ns:carddav\" "
    "xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
    "<D:prop><D:resourcetype/><D:current-user-principal/>"
    "<A:addressbook-home-set/><C:calendar-home-set/>"
    "<D:supported-report-set/></D:prop></D:propfind>";

/* Anonymous: no current-user-principal (Radicale answers 401 to it). */
static const char PROPFIND_START_ANON[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\" "
    "xmlns:A=\"urn:ietf:params:xml:ns:carddav\" "
    "xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
    "<D:prop><D:resourcetype/>"
    "<A:addressbook-home-set/><C:calendar-home-set/>"
    "<D:supported-report-set/></D:prop></D:propfind>";

static const char PROPFIND_COLLS[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\" xmlns:S=\"http://calendarserver.org/ns/\">"
    "<D:prop><D:resourcetype/><D:displayname/><D:sync-token/><S:getctag/>"
    "<D:supported-report-set/></D:prop></D:propfind>";

static unsigned want_rt(int kind)
{
    return kind == DAV_BOOK ? DAV_RT_ADDRESSBOOK : DAV_RT_CALENDAR;
}

/* Add the collections of the wanted kind among the answers. */
static int take_colls(dav_src *s, dav_state *st, const dav_ms *ms, int any)
{
    int found = 0;

    for (size_t i = 0; i < ms->n; i++) {
        const dav_resp *r = &ms->r[i];
        int kind = 0;
        dav_coll *c;
        if (r->rtype & want_rt(s->kind))
            kind = s->kind;
        else if (any && (r->rtype & (DAV_RT_ADDRESSBOOK | DAV_RT_CALENDAR)))
            kind = (r->rtype & DAV_RT_ADDRESSBOOK) ? DAV_BOOK : DAV_CAL;
        if (kind == 0)
            continue;
        c = dav_state_coll(st, r->href, kind);
        if (c == NULL)
            return CMSB_ENOMEM;
        c->gone = 0;
        if (s->nosync ||
            ((r->reports & DAV_REP_LISTED) && !(r->reports & DAV_REP_SYNC)))
            c->sync = 0;
        else
            c->sync = 1;
        found++;
        cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                        "msg=\"dav: collection\" href=\"%s\" kind=%c sync=%d",
                        c->href, c->kind, c->sync);
    }
    return found;
}

/* PROPFIND Depth 0 on a URL, following up to MAX_REDIRECTS redirects
 * (/.well-known/ answers 301). */
static int probe(dav_src *s, const char *url, dav_ms *ms, long *stc,
                 vc_buf *where)
{
    char cur[1024];
    int rc = CMSB_OK;

    snprintf(cur, sizeof(cur), "%s", url);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
        dav_reply r;
        rc = dav_request(s, "PROPFIND", cur, "0",
                         s->anon ? PROPFIND_START_ANON : PROPFIND_START, NULL,
                         &r);
        if (rc != CMSB_OK)
            return rc;
        *stc = r.status;
        if (r.status >= 300 && r.status < 400 && r.location[0] != '\0') {
            /* keep the same origin: credentials go nowhere else */
            const char *loc = r.location;
            vc_buf u = {0};
            if (strncmp(loc, "http", 4) == 0 &&
                strncmp(loc, s->origin, strlen(s->origin)) != 0) {
                cmsb_source_log(&s->base, TSPS_LOG_WARN,
                                "msg=\"dav: redirect to another origin "
                                "ignored\" location=\"%s\"",
                                loc);
                dav_reply_free(&r);
                return CMSB_OK;
            }
            rc = dav_url(s, dav_href_path(loc), &u);
            if (rc == CMSB_OK)
                snprintf(cur, sizeof(cur), "%s", u.p);
            vc_buf_free(&u);
            dav_reply_free(&r);
            if (rc != CMSB_OK)
                return rc;
            continue;
        }
        if (r.status == 207) {
            rc = dav_ms_parse(r.body.p, r.body.len, ms);
            if (rc == CMSB_EPARSE)
                rc = CMSB_OK, dav_ms_free(ms);
        }
        dav_reply_free(&r);
        where->len = 0;
        if (vc_buf_str(where, cur) != CMSB_OK ||
            vc_buf_add(where, "", 1) != CMSB_OK)
            return CMSB_ENOMEM;
        return rc;
    }
    return CMSB_OK;
}

/* From one start URL: collections found (>= 0) or an error. */
static int discover_from(dav_src *s, dav_state *st, const char *url)
{
    dav_ms ms;
    long code = 0;
    vc_buf where = {0}, home = {0};
    char *principal = NULL;
    int rc, found = 0;

    memset(&ms, 0, sizeof(ms));
    rc = probe(s, url, &ms, &code, &where);
    if (rc != CMSB_OK)
        goto out;
    if (code == 401) {
        rc = CMSB_EIO;
        goto out;
    }
    /* the URL is a collection itself: configured, any kind */
    rc = take_colls(s, st, &ms, 1);
    if (rc != 0) {
        found = rc > 0 ? rc : 0;
        rc = rc > 0 ? CMSB_OK : rc;
        goto out;
    }
    for (size_t i = 0; i < ms.n; i++) {
        const char *h =
            s->kind == DAV_BOOK ? ms.r[i].ab_home : ms.r[i].cal_home;
        if (h != NULL && home.len == 0)
            rc = vc_buf_str(&home, h) == CMSB_OK ? vc_buf_add(&home, "", 1)
                                                 : CMSB_ENOMEM;
        if (ms.r[i].principal != NULL && principal == NULL)
            principal = strdup(ms.r[i].principal);
    }
    dav_ms_free(&ms);
    if (home.len == 0 && principal != NULL) {
        rc = probe(s, principal, &ms, &code, &where);
        for (size_t i = 0; i < ms.n && rc == CMSB_OK; i++) {
            const char *h =
                s->kind == DAV_BOOK ? ms.r[i].ab_home : ms.r[i].cal_home;
            if (h != NULL && home.len == 0)
                rc = vc_buf_str(&home, h) == CMSB_OK ? vc_buf_add(&home, "", 1)
                                                     : CMSB_ENOMEM;
        }
        dav_ms_free(&ms);
    }
    if (rc == CMSB_OK && home.len > 0) {
        rc = dav_report(s, "PROPFIND", home.p, "1", PROPFIND_COLLS, &ms, &code);
        if (rc == CMSB_OK) {
            int k = take_colls(s, st, &ms, 0);
            if (k < 0)
                rc = k;
            else
                found += k;
        }
        dav_ms_free(&ms);
    }
out:
    dav_ms_free(&ms);
    vc_buf_free(&where);
    vc_buf_free(&home);
    free(principal);
    return rc != CMSB_OK ? rc : found;
}

int dav_discover(dav_src *s, dav_state *st)
{
    int total = 0, rc = CMSB_OK;

    for (size_t i = 0; i < st->n; i++)
        st->c[i].gone = 1;
    for (size_t i = 0; i < s->nurls && rc == CMSB_OK; i++) {
        int k = discover_from(s, st, s->urls[i]);
        if (k == 0 && s->nurls == 1) {
            /* RFC 6764: the well-known URI on the same origin */
            vc_buf wk = {0};
            if (vc_buf_printf(&wk, "%s/.well-known/%s%c", s->origin,
                              s->kind == DAV_BOOK ? "carddav" : "caldav",
                              '\0') != CMSB_OK)
                k = CMSB_ENOMEM;
            else
                k = discover_from(s, st, wk.p);
            vc_buf_free(&wk);
        }
        if (k < 0)
            rc = k;
        else
            total += k;
    }
    if (rc == CMSB_OK && total == 0) {
        cmsb_source_log(
            &s->base, TSPS_LOG_WARN, "msg=\"dav: no %s found\" url=\"%s\"",
            s->kind == DAV_BOOK ? "address book" : "calendar", s->urls[0]);
        rc = CMSB_ENOTFOUND;
    }
    if (rc == CMSB_OK)
        st->disc_at = cmsb_source_now(&s->base);
    return rc;
}

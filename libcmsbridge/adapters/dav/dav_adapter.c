/* The carddav: and caldav: adapters: URI parsing, open/close, the vtables.
 *
 * URI: `carddav:<url>[ <url>...][#nosync]` (same for caldav:), where <url>
 * is http(s)://host[:port]/path. A URL that is a collection (an address
 * book or a calendar) is synced as it is; any other URL starts discovery
 * (current-user-principal, then addressbook-home-set / calendar-home-set,
 * then /.well-known/carddav|caldav). `carddav://host/path` is short for
 * `carddav:https://host/path`. `#nosync` never uses sync-collection (ctag
 * and etag listing instead); `#audit=N` compares every etag with the
 * server every N seconds (default 86400, 0 = never; `#nosync&audit=N`
 * for both); `#noquery` fetches by multiget only (no addressbook-query of
 * the whole book on a full sync); `#syncdata=BYTES` caps the card data
 * kept from one sync-collection answer (default 32 MiB; 0 = the REPORT
 * asks etags only). Credentials and the CA file come from
 * cmsb_options. */
#include <stdlib.h>
#include <string.h>

#include "dav.h"

static int add_url(dav_src *s, const char *u, size_t n)
{
    char **p = realloc(s->urls, (s->nurls + 1) * sizeof(*p));

    if (p == NULL)
        return CMSB_ENOMEM;
    s->urls = p;
    s->urls[s->nurls] = strndup(u, n);
    if (s->urls[s->nurls] == NULL)
        return CMSB_ENOMEM;
    s->nurls++;
    return CMSB_OK;
}

/* "https://host:port/x" -> origin "https://host:port"; 0 if not http(s) */
static size_t origin_len(const char *u, size_t n)
{
    size_t k;

    if (n > 7 && strncmp(u, "http://", 7) == 0)
        k = 7;
    else if (n > 8 && strncmp(u, "https://", 8) == 0)
        k = 8;
    else
        return 0;
    if (k >= n || u[k] == '/' || u[k] == '?' || u[k] == '@')
        return 0;
    while (k < n && u[k] != '/') {
        if (u[k] == '?' || u[k] == '#' || u[k] == '@' ||
            (unsigned char)u[k] <= ' ')
            return 0; /* no query, no userinfo (credentials go in options) */
        k++;
    }
    return k;
}

#define DAV_AUDIT_MAX_S   (10LL * 365 * 86400)
#define DAV_AUDIT_DEFAULT 86400 /* seconds: daily */

/* The fragment: options separated by '&': "nosync", "noquery",
 * "audit=SECONDS" (0 = never), "syncdata=BYTES" (card data kept from one
 * sync-collection answer; 0 = ask none). Anything else is refused. */
static int parse_fragment(dav_src *s, const char *f)
{
    while (*f != '\0') {
        size_t n = strcspn(f, "&");
        if (n == 6 && strncmp(f, "nosync", 6) == 0) {
            s->nosync = 1;
        } else if (n == 7 && strncmp(f, "noquery", 7) == 0) {
            s->no_query = 1;
        } else if (n > 6 && strncmp(f, "audit=", 6) == 0) {
            long long v = 0;
            for (size_t i = 6; i < n; i++) {
                if (f[i] < '0' || f[i] > '9' || v > DAV_AUDIT_MAX_S)
                    return CMSB_EINVAL;
                v = v * 10 + (f[i] - '0');
            }
            if (v > DAV_AUDIT_MAX_S)
                return CMSB_EINVAL;
            s->audit_s = v;
        } else if (n > 9 && strncmp(f, "syncdata=", 9) == 0) {
            unsigned long long v = 0;
            for (size_t i = 9; i < n; i++) {
                if (f[i] < '0' || f[i] > '9' || v > DAV_SYNC_DATA_MAX)
                    return CMSB_EINVAL;
                v = v * 10 + (unsigned)(f[i] - '0');
            }
            if (v > DAV_SYNC_DATA_MAX)
                return CMSB_EINVAL;
            s->sync_data = (size_t)v;
        } else {
            return CMSB_EINVAL;
        }
        f += n;
        if (*f == '&' && *++f == '\0')
            return CMSB_EINVAL;
    }
    return CMSB_OK;
}

static int parse_uri(dav_src *s, const char *uri)
{
    const char *p = strchr(uri, ':') + 1;
    const char *end = p + strlen(p);
    const char *hash = strrchr(p, '#');
    vc_buf tmp = {0};
    int rc = CMSB_OK;

    s->audit_s = DAV_AUDIT_DEFAULT;
    s->sync_data = DAV_SYNC_DATA_DEFAULT;
    if (hash != NULL) {
        rc = parse_fragment(s, hash + 1);
        if (rc != CMSB_OK)
            return rc;
        end = hash;
    }
    if (strncmp(p, "//", 2) == 0) {
        if (vc_buf_printf(&tmp, "https:%.*s", (int)(end - p), p) != CMSB_OK ||
            vc_buf_add(&tmp, "", 1) != CMSB_OK) {
            vc_buf_free(&tmp);
            return CMSB_ENOMEM;
        }
        p = tmp.p;
        end = p + strlen(p);
    }
    while (p < end && rc == CMSB_OK) {
        const char *q = p;
        size_t n, ol;
        while (q < end && *q != ' ')
            q++;
        n = (size_t)(q - p);
        if (n > 0) {
            ol = origin_len(p, n);
            if (ol == 0 || n > 2000)
                rc = CMSB_EINVAL;
            else if (s->origin == NULL)
                s->origin = strndup(p, ol);
            else if (strlen(s->origin) != ol || strncmp(s->origin, p, ol) != 0)
                rc = CMSB_EINVAL; /* one server per source */
            if (rc == CMSB_OK && s->origin == NULL)
                rc = CMSB_ENOMEM;
            if (rc == CMSB_OK)
                rc = add_url(s, p, n);
        }
        p = q + 1;
    }
    vc_buf_free(&tmp);
    if (rc == CMSB_OK && s->nurls == 0)
        rc = CMSB_EINVAL;
    return rc;
}

static int open_common(const cmsb_adapter *ad, const char *uri,
                       const cmsb_options *opt, cmsb_source *base, int kind)
{
    dav_src *s = (dav_src *)base;
    int rc;

    s->kind = kind;
    rc = parse_uri(s, uri);
    s->base.adapter = ad; /* from here on x_close frees what we hold */
    if (rc != CMSB_OK)
        return rc;
    s->anon = opt->username == NULL;
    s->conf.code_prop = opt->code_property;
    s->conf.cat_prefix = opt->category_prefix;
    s->conf.note_prefix = opt->note_prefix;
    s->conf.known = opt->known_codes;
    s->conf.forms = opt->forms;
    rc = dav_http_open(s, opt);
    if (rc != CMSB_OK)
        return rc;
    /* Find the collections now: a wrong URL or password fails the open.
     * A server that does not answer at all (down, unreachable) does not:
     * the first sync discovers, and fails with CMSB_EIO until it is back,
     * leaving the store as it was. */
    rc = dav_discover(s, &s->st);
    if (rc == CMSB_EIO && s->no_answer) {
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"dav: server not answering, discovery at the "
                        "first sync\" url=\"%s\"",
                        s->urls[0]);
        dav_state_free(&s->st);
        return CMSB_OK;
    }
    if (rc != CMSB_OK)
        cmsb_source_log(base, TSPS_LOG_ERROR,
                        "msg=\"dav: cannot open\" url=\"%s\" err=%s",
                        s->urls[0], cmsb_errname(rc));
    return rc;
}

static int open_card(const cmsb_adapter *ad, const char *uri,
                     const cmsb_options *opt, cmsb_source *base)
{
    return open_common(ad, uri, opt, base, DAV_BOOK);
}

static int open_cal(const cmsb_adapter *ad, const char *uri,
                    const cmsb_options *opt, cmsb_source *base)
{
    return open_common(ad, uri, opt, base, DAV_CAL);
}

static void close_src(cmsb_source *base)
{
    dav_src *s = (dav_src *)base;

    dav_http_close(s);
    dav_state_free(&s->st);
    vc_buf_free(&s->st_cur);
    for (size_t i = 0; i < s->nurls; i++)
        free(s->urls[i]);
    free(s->urls);
    free(s->origin);
}

static int changes_src(cmsb_source *base, const char *since, cmsb_change_cb cb,
                       void *arg)
{
    return dav_changes((dav_src *)base, since, cb, arg);
}

static int contacts_src(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    vc_list_ctx l = {cb, arg};

    return dav_changes((dav_src *)base, NULL, vc_only_contacts, &l);
}

/* ---- events in a window: calendar-query, expanded locally ---- */

typedef struct ev_ctx {
    dav_src *s;
    int64_t from, to;
    cmsb_event_cb cb;
    void *arg;
    const char *href;
    int rc;
} ev_ctx;

static void ev_err(void *arg, int line, const char *reason)
{
    ev_ctx *e = arg;

    cmsb_source_log(&e->s->base, TSPS_LOG_WARN,
                    "msg=\"skipped malformed entry\" href=\"%s\" line=%d "
                    "reason=\"%s\"",
                    e->href, line, reason);
}

static int ev_fwd(void *arg, const tsps_event *ev, const char *org)
{
    ev_ctx *e = arg;

    (void)org;
    return e->cb(e->arg, ev);
}

static int on_cal_resp(void *arg, dav_resp *r)
{
    ev_ctx *e = arg;
    const cmsb_options *o = cmsb_source_options(&e->s->base);

    if (r->data == NULL)
        return 0;
    e->href = r->href;
    e->rc = vc_ical_expand(r->data, r->data_len, e->from, e->to, o->tz, ev_fwd,
                           ev_err, e);
    return e->rc != CMSB_OK;
}

static int events_src(cmsb_source *base, int64_t from, int64_t to,
                      cmsb_event_cb cb, void *arg)
{
    dav_src *s = (dav_src *)base;
    ev_ctx e = {s, from, to, cb, arg, NULL, CMSB_OK};
    int rc = CMSB_OK;

    if (s->st.n == 0)
        rc = dav_discover(s, &s->st);
    for (size_t i = 0; i < s->st.n && rc == CMSB_OK; i++) {
        if (s->st.c[i].kind != DAV_CAL)
            continue;
        rc = dav_cal_query(s, &s->st.c[i], from, to, 1, on_cal_resp, &e);
        if (rc == CMSB_ECANCELED && e.rc != CMSB_OK)
            rc = e.rc;
    }
    return rc;
}

const cmsb_adapter cmsb_carddav_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(dav_src),
    .scheme = "carddav",
    .caps = CMSB_CAP_CHANGES | CMSB_CAP_WRITE | CMSB_CAP_CREATE,
    .x_open = open_card,
    .x_close = close_src,
    .x_contacts = contacts_src,
    .x_changes = changes_src,
    .x_write_code = dav_write_code,
    .x_create_contact = dav_create_contact,
};

const cmsb_adapter cmsb_caldav_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(dav_src),
    .scheme = "caldav",
    .caps = CMSB_CAP_CHANGES | CMSB_CAP_EVENTS | CMSB_CAP_WRITE,
    .x_open = open_cal,
    .x_close = close_src,
    .x_contacts = contacts_src,
    .x_changes = changes_src,
    .x_events = events_src,
    .x_write_code = dav_write_code,
};

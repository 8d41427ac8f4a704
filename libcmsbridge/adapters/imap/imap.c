/* The "imap" and "imaps" adapters: related mails from an IMAP4rev1
 * server through libcurl's IMAP support, headers parsed with GMime.
 *
 *   imaps://mail.example.org/?mailbox=INBOX&mailbox=Sent
 *   imap://127.0.0.1:10143/?starttls=1        (STARTTLS, required)
 *
 * A lookup per mailbox: one UID SEARCH (SENTSINCE/SENTBEFORE from the
 * query - the Date: header, not the arrival date SINCE would use - and
 * FROM/TO/CC per address, OR-ed), one STATUS for UIDVALIDITY (the open
 * link), then per found message the first 64 KiB through the URL form
 * (;UID=n;PARTIAL=0.65536: header, first text part, attachment names of
 * the parts that start within it). Credentials come from cmsb_options,
 * go to curl through CURLOPT_USERNAME/PASSWORD and never into a URL or a
 * log line. Each request is bounded by timeout_ms (default 5 s), a whole
 * lookup by 3 x timeout_ms.
 *
 * With ?index=/dir[&refresh=S] the adapter keeps a header index
 * (imap_index.c): a lookup then takes the UIDs and the parsed messages
 * from it and asks the server only about UIDs newer than its last
 * refresh (NOOP + STATUS UIDVALIDITY UIDNEXT first). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap.h"

#define IM_FETCH_MAX 200 /* messages fetched per mailbox and lookup */

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
    im_buf *b = arg;
    size_t n = sz * nm;

    if (b->n + n + 1 > IM_RESP_MAX) {
        b->over = 1;
        return 0;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->n + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static int qparam(const char *q, const char *key, char *out, size_t outlen,
                  const char **next)
{
    size_t kl = strlen(key);

    for (const char *p = q; p != NULL && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= outlen)
                return -1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            if (next)
                *next = amp ? amp + 1 : p + len;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

static int is_loopback(const char *hostport)
{
    return strncmp(hostport, "127.", 4) == 0 ||
           strncmp(hostport, "localhost", 9) == 0 ||
           strncmp(hostport, "[::1]", 5) == 0;
}

static int im_open(const cmsb_adapter *ad, const char *uri,
                   const cmsb_options *opt, cmsb_source *base)
{
    im_source *s = (im_source *)base;
    const char *colon = strchr(uri, ':');
    const char *auth, *slash, *q;
    char hostport[256], val[256];
    const char *next;
    size_t hl;

    base->adapter = ad;
    if (strncmp(colon, "://", 3) != 0)
        return CMSB_EINVAL;
    auth = colon + 3;
    slash = auth + strcspn(auth, "/?");
    hl = (size_t)(slash - auth);
    if (hl == 0 || hl >= sizeof(hostport))
        return CMSB_EINVAL;
    memcpy(hostport, auth, hl);
    hostport[hl] = '\0';
    /* credentials belong in the options, not in a URI that gets logged */
    if (strchr(hostport, '@') != NULL) {
        cmsb_source_log(base, TSPS_LOG_ERROR,
                        "msg=\"imap: put the user name and password in the "
                        "source options, not in the URI\"");
        return CMSB_EINVAL;
    }
    for (const char *c = hostport; *c; c++)
        if (*c <= ' ' || *c == '"' || *c == '\\')
            return CMSB_EINVAL;
    s->base_url = malloc(hl + 16);
    if (s->base_url == NULL)
        return CMSB_ENOMEM;
    snprintf(s->base_url, hl + 16, "%.*s://%s", (int)(colon - uri), uri,
             hostport);
    q = strchr(slash, '?');
    q = q ? q + 1 : NULL;
    for (next = q; next != NULL && s->nmbox < IM_MAILBOXES;) {
        int r = qparam(next, "mailbox", val, sizeof(val), &next);
        if (r < 0)
            return CMSB_EINVAL;
        if (r == 0)
            break;
        s->mbox[s->nmbox] = strdup(val);
        if (s->mbox[s->nmbox] == NULL)
            return CMSB_ENOMEM;
        s->nmbox++;
    }
    if (s->nmbox == 0) {
        s->mbox[0] = strdup("INBOX");
        s->mbox[1] = strdup("Sent");
        if (s->mbox[0] == NULL || s->mbox[1] == NULL)
            return CMSB_ENOMEM;
        s->nmbox = 2;
    }
    if (qparam(q, "starttls", val, sizeof(val), NULL) == 1)
        s->starttls = strcmp(val, "0") != 0 && strcmp(val, "no") != 0;
    s->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : IM_TIMEOUT_MS;
    if (strcmp(ad->scheme, "imap") == 0 && !s->starttls &&
        opt->password != NULL && !is_loopback(hostport))
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"imap: password sent without TLS; use imaps: "
                        "or ?starttls=1\" host=\"%s\"",
                        hostport);
    s->curl = curl_easy_init();
    if (s->curl == NULL)
        return CMSB_ENOMEM;
    if (qparam(q, "index", val, sizeof(val), NULL) == 1) {
        int refresh_s = 60;
        char rv[32];
        if (val[0] != '/') {
            cmsb_source_log(base, TSPS_LOG_ERROR,
                            "msg=\"imap: index= needs an absolute folder\"");
            return CMSB_EINVAL;
        }
        if (qparam(q, "refresh", rv, sizeof(rv), NULL) == 1) {
            char *e;
            long v = strtol(rv, &e, 10);
            if (*e != '\0' || e == rv || v < 0 || v > 86400)
                return CMSB_EINVAL;
            refresh_s = (int)v;
        }
        return im_index_open(s, val, refresh_s);
    }
    return CMSB_OK;
}

static void im_close(cmsb_source *base)
{
    im_source *s = (im_source *)base;

    im_index_close(s);
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    free(s->base_url);
    for (size_t i = 0; i < s->nmbox; i++)
        free(s->mbox[i]);
}

/* With ?index=: bring the header index up to date now (the background
 * thread does it every refresh= seconds too). No contacts or events. */
static int im_changes(cmsb_source *base, const char *since, cmsb_change_cb cb,
                      void *arg)
{
    im_source *s = (im_source *)base;
    cmsb_change ch = {.kind = CMSB_CHANGE_CHECKPOINT, .cursor = "imap"};
    int rc;

    (void)since;
    if (s->ix != NULL) {
        rc = im_index_refresh(s);
        if (rc != CMSB_OK) {
            char why[256];
            if (im_index_take_error(s, why, sizeof(why)))
                cmsb_source_log(base, TSPS_LOG_WARN,
                                "msg=\"imap index refresh failed\" "
                                "server=\"%s\" reason=\"%s\"",
                                s->base_url, why);
            return rc;
        }
    }
    return cb(arg, &ch) != 0 ? CMSB_ECANCELED : CMSB_OK;
}

static int im_contacts(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    (void)base;
    (void)cb;
    (void)arg;
    return CMSB_OK;
}

int64_t im_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct im_req {
    im_source *s;
    int64_t deadline; /* monotonic ms */
} im_req;

static int map_curl(im_source *s, CURLcode cc, const char *what,
                    const char *mbox)
{
    cmsb_source_log(&s->base, TSPS_LOG_WARN,
                    "msg=\"imap request failed\" step=%s mailbox=\"%s\" "
                    "server=\"%s\" reason=\"%s%s%s\"",
                    what, mbox, s->base_url, curl_easy_strerror(cc),
                    s->err[0] ? ": " : "", s->err);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return CMSB_ETIMEDOUT;
    case CURLE_LOGIN_DENIED:
        return CMSB_EAUTH;
    case CURLE_OUT_OF_MEMORY:
        return CMSB_ENOMEM;
    default:
        return CMSB_EIO;
    }
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    const atomic_int *stop = arg;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return atomic_load(stop) ? 1 : 0;
}

CURLcode im_perform(const im_source *s, const im_conn *cn, int64_t deadline,
                    const char *url, const char *custom, im_buf *b)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    CURL *c = cn->curl;
    int64_t left = deadline - im_now_ms();

    if (left <= 0)
        return CURLE_OPERATION_TIMEDOUT;
    if (left > s->timeout_ms)
        left = s->timeout_ms;
    curl_easy_reset(c);
    cn->err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cn->err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cn->stop != NULL) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cn->stop);
    }
    if (o->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    if (s->starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (o->username != NULL)
        curl_easy_setopt(c, CURLOPT_USERNAME, o->username);
    if (o->password != NULL)
        curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
    if (custom != NULL)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom);
    return curl_easy_perform(c);
}

static CURLcode perform(im_req *r, const char *url, const char *custom,
                        im_buf *b)
{
    im_conn cn = {r->s->curl, r->s->err, NULL};

    return im_perform(r->s, &cn, r->deadline, url, custom, b);
}

/* An address as an IMAP quoted string: only what an address may hold
 * (no quote, backslash, control or space), so nothing can be injected
 * into the command. */
static int addr_ok(const char *a)
{
    for (; *a; a++)
        if ((unsigned char)*a <= ' ' || *a == '"' || *a == '\\' ||
            (unsigned char)*a >= 0x7f)
            return 0;
    return 1;
}

static void imap_date(char *out, size_t n, int64_t t)
{
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(out, n, "%d-%s-%04d", tm.tm_mday, mon[tm.tm_mon],
             tm.tm_year + 1900);
}

/* "UID SEARCH [UID n:*] [SENTSINCE d] [SENTBEFORE d] OR a OR b c" with a/b/c
 * each "OR OR FROM x TO x CC x". SENTSINCE/SENTBEFORE have day granularity: the
 * exact bounds are applied again to the parsed Date:. */
static char *search_cmd(const rel_who *w, const cmsb_related_query *q,
                        unsigned long from_uid)
{
    size_t cap = 64 + w->nemails * (3 * TSPS_EMAIL_MAX + 40);
    char *cmd = malloc(cap);
    size_t o;
    size_t n = 0;
    char d[32];

    if (cmd == NULL)
        return NULL;
    o = (size_t)snprintf(cmd, cap, "UID SEARCH");
    if (from_uid != 0)
        o += (size_t)snprintf(cmd + o, cap - o, " UID %lu:*", from_uid);
    if (q->since != 0) {
        imap_date(d, sizeof(d), q->since);
        o += (size_t)snprintf(cmd + o, cap - o, " SENTSINCE %s", d);
    }
    if (q->until != 0) {
        /* SENTBEFORE is exclusive of its day: the day after until's */
        imap_date(d, sizeof(d), q->until + 86399);
        o += (size_t)snprintf(cmd + o, cap - o, " SENTBEFORE %s", d);
    }
    for (size_t i = 0; i < w->nemails; i++)
        n += addr_ok(w->emails[i]);
    for (size_t i = 0, k = 0; i < w->nemails; i++) {
        const char *a = w->emails[i];
        if (!addr_ok(a))
            continue;
        k++;
        o += (size_t)snprintf(cmd + o, cap - o,
                              "%s OR OR FROM \"%s\" TO \"%s\" CC \"%s\"",
                              k < n ? " OR" : "", a, a, a);
    }
    return cmd;
}

static int cmp_desc(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The numbers of the untagged "* SEARCH ..." lines (every one: servers
 * answer in ascending order and the newest are wanted). *out is
 * malloc'd; returns the count, or (size_t)-1 when out of memory. */
size_t im_parse_search(const char *resp, unsigned long **out)
{
    size_t n = 0, cap = 0;
    unsigned long *v = NULL;

    *out = NULL;
    for (const char *l = resp; l != NULL && *l;) {
        const char *eol = strchr(l, '\n');
        if (strncmp(l, "* SEARCH", 8) == 0) {
            const char *p = l + 8;
            const char *end = eol ? eol : p + strlen(p);
            while (p < end) {
                char *e;
                unsigned long u = strtoul(p, &e, 10);
                if (e == p) {
                    p++;
                    continue;
                }
                p = e;
                if (u == 0)
                    continue;
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 256;
                    unsigned long *nv = realloc(v, nc * sizeof(*nv));
                    if (nv == NULL) {
                        free(v);
                        return (size_t)-1;
                    }
                    v = nv;
                    cap = nc;
                }
                v[n++] = u;
            }
        }
        l = eol ? eol + 1 : NULL;
    }
    *out = v;
    return n;
}

unsigned long im_parse_num(const char *resp, const char *key)
{
    const char *p = resp ? strstr(resp, key) : NULL;
    return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

static int mailbox_missing(const im_source *s, CURLcode cc)
{
    /* curl reports a refused SELECT as CURLE_LOGIN_DENIED ("Select
     * failed"): a missing mailbox, not bad credentials */
    return cc == CURLE_QUOTE_ERROR || cc == CURLE_REMOTE_FILE_NOT_FOUND ||
           (cc == CURLE_LOGIN_DENIED && strstr(s->err, "Select failed"));
}

/* UID SEARCH on the server (from_uid: only UIDs from there on); the UIDs
 * appended to *uids and *n. CURLE_OK or the failure. */
static CURLcode server_search(im_req *r, const char *url, const rel_who *w,
                              const cmsb_related_query *q,
                              unsigned long from_uid, unsigned long **uids,
                              size_t *n, int *nomem)
{
    char *cmd = search_cmd(w, q, from_uid);
    im_buf b = {0};
    unsigned long *v = NULL;
    size_t k;
    CURLcode cc;

    *nomem = 0;
    if (cmd == NULL) {
        *nomem = 1;
        return CURLE_OUT_OF_MEMORY;
    }
    cc = perform(r, url, cmd, &b);
    free(cmd);
    if (b.over)
        cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                        "msg=\"imap: search response over 1 MiB cut\"");
    if (cc != CURLE_OK) {
        free(b.p);
        return cc;
    }
    k = im_parse_search(b.p ? b.p : "", &v);
    free(b.p);
    if (k == (size_t)-1) {
        *nomem = 1;
        return CURLE_OUT_OF_MEMORY;
    }
    if (k > 0) {
        unsigned long *nv = realloc(*uids, (*n + k) * sizeof(*nv));
        if (nv == NULL) {
            free(v);
            *nomem = 1;
            return CURLE_OUT_OF_MEMORY;
        }
        memcpy(nv + *n, v, k * sizeof(*v));
        *uids = nv;
        *n += k;
    }
    free(v);
    return CURLE_OK;
}

/* The UIDs to fetch, best first, at most `want`: from the header index
 * when it covers the mailbox (plus a server search over the UIDs that
 * arrived since it was refreshed: a short scan), else from a server
 * search. *uidvalidity for the open link (0 = unknown). */
static int find_uids(im_req *r, const char *mbox, const char *url,
                     const rel_who *w, const cmsb_related_query *q, size_t want,
                     unsigned long **uids, size_t *n,
                     unsigned long *uidvalidity)
{
    im_source *s = r->s;
    char st[300];
    im_buf b = {0};
    CURLcode cc = CURLE_OK;
    int nomem = 0, indexed = 0;
    unsigned long next = 0, uidnext = 0;

    *uids = NULL;
    *n = 0;
    *uidvalidity = 0;
    snprintf(st, sizeof(st), "STATUS \"%s\" (UIDVALIDITY UIDNEXT)", mbox);
    if (s->ix != NULL && strchr(mbox, '"') == NULL) {
        /* a kept connection has the mailbox selected: NOOP lets the
         * server notice new mail first, or STATUS would answer stale */
        cc = perform(r, url, "NOOP", &b);
        b.n = 0;
        if (cc == CURLE_OK)
            cc = perform(r, url, st, &b);
        if (cc == CURLE_OK) {
            *uidvalidity = im_parse_num(b.p, "UIDVALIDITY ");
            uidnext = im_parse_num(b.p, "UIDNEXT ");
        }
        free(b.p);
        b = (im_buf){0};
        if (cc != CURLE_OK)
            goto failed;
        indexed = im_index_lookup(s, mbox, *uidvalidity, w, q->since, q->until,
                                  want, uids, n, &next);
        if (indexed < 0)
            return indexed;
        if (indexed && uidnext > next) {
            unsigned long *fresh = NULL;
            size_t nf = 0;
            cc = server_search(r, url, w, q, next, &fresh, &nf, &nomem);
            if (cc == CURLE_OK) {
                /* "n:*" also matches the highest UID when n is past it
                 * (RFC 3501): keep only the UIDs the index lacks */
                size_t k = 0;
                for (size_t i = 0; i < nf; i++)
                    if (fresh[i] >= next)
                        fresh[k++] = fresh[i];
                nf = k;
            }
            if (cc == CURLE_OK && nf > 0) {
                /* arrived after the refresh: newer than anything indexed */
                unsigned long *all = malloc((nf + *n) * sizeof(*all));
                if (all == NULL) {
                    free(fresh);
                    return CMSB_ENOMEM;
                }
                qsort(fresh, nf, sizeof(*fresh), cmp_desc);
                memcpy(all, fresh, nf * sizeof(*all));
                if (*n > 0)
                    memcpy(all + nf, *uids, *n * sizeof(*all));
                free(*uids);
                *uids = all;
                *n += nf;
            }
            free(fresh);
            if (nomem)
                return CMSB_ENOMEM;
            if (cc != CURLE_OK)
                goto failed;
        }
    }
    if (!indexed) {
        cc = server_search(r, url, w, q, 0, uids, n, &nomem);
        if (nomem)
            return CMSB_ENOMEM;
        if (cc != CURLE_OK)
            goto failed;
        /* newest (highest UID) first; the Date: order is restored later */
        if (*n > 1)
            qsort(*uids, *n, sizeof(**uids), cmp_desc);
        if (*n > 0 && s->ix == NULL) {
            snprintf(st, sizeof(st), "STATUS \"%s\" (UIDVALIDITY)", mbox);
            cc = strchr(mbox, '"') == NULL ? perform(r, url, st, &b)
                                           : CURLE_QUOTE_ERROR;
            *uidvalidity =
                cc == CURLE_OK ? im_parse_num(b.p, "UIDVALIDITY ") : 0;
            free(b.p);
        }
    }
    if (*n > want)
        *n = want;
    return CMSB_OK;
failed:
    free(*uids);
    *uids = NULL;
    *n = 0;
    if (mailbox_missing(s, cc)) {
        /* "NO Mailbox doesn't exist": not every account has a Sent */
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"imap mailbox skipped\" mailbox=\"%s\" "
                        "reason=\"%s\"",
                        mbox, curl_easy_strerror(cc));
        return CMSB_OK;
    }
    return map_curl(s, cc, "search", mbox);
}

static int one_mailbox(im_req *r, const char *mbox, const rel_who *w,
                       const cmsb_related_query *q, rel_set *set)
{
    im_source *s = r->s;
    char *esc = curl_easy_escape(s->curl, mbox, 0);
    size_t ulen = strlen(s->base_url) + (esc ? strlen(esc) : 0) + 96;
    char *url = malloc(ulen);
    unsigned long *uids = NULL;
    unsigned long uidvalidity;
    im_buf b = {0};
    size_t n, want = q->limit * 2 + 16;
    CURLcode cc;
    int rc = CMSB_ENOMEM;

    if (want > IM_FETCH_MAX)
        want = IM_FETCH_MAX;
    if (esc == NULL || url == NULL)
        goto cleanup;
    snprintf(url, ulen, "%s/%s", s->base_url, esc);
    rc = find_uids(r, mbox, url, w, q, want, &uids, &n, &uidvalidity);
    if (rc != CMSB_OK || n == 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        char furl[1024], why[TSPS_EMAIL_MAX + 8];
        rel_mail m;
        rel_item it = {0};
        b.n = 0;
        /* indexed: parsed when it was indexed, no FETCH */
        rc = s->ix != NULL ? im_index_mail(s, mbox, uidvalidity, uids[i], &m)
                           : 0;
        if (rc < 0)
            goto cleanup;
        if (rc == 0) {
            snprintf(furl, sizeof(furl), "%s/%s/;UID=%lu/;PARTIAL=0.%d",
                     s->base_url, esc, uids[i], IM_FETCH_BYTES);
            cc = perform(r, furl, NULL, &b);
            if (cc == CURLE_REMOTE_FILE_NOT_FOUND)
                continue; /* expunged since it was found */
            if (cc != CURLE_OK) {
                rc = map_curl(s, cc, "fetch", mbox);
                goto cleanup;
            }
            rc = rel_mail_parse(b.p ? b.p : "", b.n, &m);
        } else {
            rc = CMSB_OK;
        }
        if (rc == CMSB_EPARSE) {
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"imap: skipped unreadable message\" "
                            "mailbox=\"%s\" uid=%lu",
                            mbox, uids[i]);
            continue;
        }
        if (rc != CMSB_OK)
            goto cleanup;
        if (!rel_mail_match(&m, w, why, sizeof(why)) ||
            (q->since != 0 && m.date < q->since) ||
            (q->until != 0 && m.date >= q->until)) {
            rel_mail_free(&m);
            continue;
        }
        rel_item_from_mail(&it, &m);
        rel_mail_free(&m);
        if (uidvalidity != 0)
            snprintf(furl, sizeof(furl), "%s/%s;UIDVALIDITY=%lu/;UID=%lu",
                     s->base_url, esc, uidvalidity, uids[i]);
        else
            snprintf(furl, sizeof(furl), "%s/%s/;UID=%lu", s->base_url, esc,
                     uids[i]);
        it.url = strdup(furl);
        it.where = strdup(mbox);
        it.why = strdup(why);
        if (it.url == NULL || it.where == NULL || it.why == NULL) {
            rel_item_free(&it);
            rc = CMSB_ENOMEM;
            goto cleanup;
        }
        rc = rel_set_take(set, &it);
        if (rc != CMSB_OK)
            goto cleanup;
    }
    rc = CMSB_OK;
cleanup:
    if (b.over && rc == CMSB_OK)
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"imap: response over 1 MiB cut\" mailbox=\"%s\"",
                        mbox);
    curl_free(esc);
    free(url);
    free(uids);
    free(b.p);
    return rc;
}

static int im_related_for(cmsb_source *base, const tsps_contact *who,
                          const cmsb_related_query *q, cmsb_related_cb cb,
                          void *arg)
{
    im_source *s = (im_source *)base;
    im_req r = {s, im_now_ms() + 3 * (int64_t)s->timeout_ms};
    rel_set set = {0};
    rel_who w;
    size_t usable = 0;
    int rc = CMSB_OK;

    if (s->ix != NULL) {
        char why[256];
        if (im_index_take_error(s, why, sizeof(why)))
            cmsb_source_log(base, TSPS_LOG_WARN,
                            "msg=\"imap index refresh failed\" "
                            "server=\"%s\" reason=\"%s\"",
                            s->base_url, why);
    }
    if (!(q->kinds & CMSB_ITEM_EMAIL))
        return CMSB_OK;
    rel_who_from(&w, who);
    for (size_t i = 0; i < w.nemails; i++)
        usable += addr_ok(w.emails[i]);
    if (usable == 0)
        return CMSB_OK;
    for (size_t i = 0; i < s->nmbox && rc == CMSB_OK; i++)
        rc = one_mailbox(&r, s->mbox[i], &w, q, &set);
    if (rc == CMSB_OK)
        rc = rel_set_emit(&set, q->limit, cb, arg);
    rel_set_free(&set);
    return rc;
}

const cmsb_adapter cmsb_imap_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(im_source),
    .scheme = "imap",
    .caps = CMSB_CAP_RELATED_FOR | CMSB_CAP_CHANGES,
    .x_open = im_open,
    .x_close = im_close,
    .x_contacts = im_contacts,
    .x_changes = im_changes,
    .x_related_for = im_related_for,
};

const cmsb_adapter cmsb_imaps_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(im_source),
    .scheme = "imaps",
    .caps = CMSB_CAP_RELATED_FOR | CMSB_CAP_CHANGES,
    .x_open = im_open,
    .x_close = im_close,
    .x_contacts = im_contacts,
    .x_changes = im_changes,
    .x_related_for = im_related_for,
};

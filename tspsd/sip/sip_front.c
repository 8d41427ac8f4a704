/*
 * sip_front.c - the SIP front: open/close, and the message path that every
 * transport feeds (sip_process): raw scan, malformed-message handling,
 * transaction matching, then dispatch by method.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "sip_internal.h"

#define SIP_ALLOW "INVITE, ACK, CANCEL, OPTIONS, REGISTER, SUBSCRIBE"

static pthread_once_t osip_once = PTHREAD_ONCE_INIT;
static void osip_init_once(void)
{
    parser_init();
    /* osip traces to stderr; our own log line says what was wrong */
    for (int l = 0; l < END_TRACE_LEVEL; l++)
        osip_trace_disable_level((osip_trace_level_t)l);
}

void sip_log(tspsd_sip *s, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (s->hooks.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->hooks.log(s->hooks.arg, level, msg);
}

void sip_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n)
{
    s->stat_tx++;
    if (s->send != NULL)
        s->send(s, dst, p, n);
}

void sip_respond_simple(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                        int code, const char *reason, const char *extra)
{
    char out[SIP_MAX_RESP];
    sip_buf b = {out, 0, sizeof(out), 0};
    sip_resp_begin(&b, r, src, code, reason);
    if (extra != NULL)
        sb_puts(&b, extra);
    sip_resp_end(&b);
    if (b.err) {
        sip_log(s, TSPS_LOG_WARN, "msg=\"sip response too large\" code=%d",
                code);
        return;
    }
    sip_send(s, src, out, b.len);
}

static const char *raw_reason(int bad)
{
    switch (bad) {
    case SIP_RAW_NOHDREND:
        return "truncated";
    case SIP_RAW_TOOBIG:
        return "too-large";
    case SIP_RAW_MISSING:
        return "missing-header";
    case SIP_RAW_BADCSEQ:
        return "bad-cseq";
    case SIP_RAW_BADLINE:
        return "bad-request-line";
    case SIP_RAW_BADADDR:
        return "bad-address";
    case SIP_RAW_BADVERSION:
        return "bad-version";
    default:
        return "junk";
    }
}

static void malformed(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                      size_t len)
{
    s->stat_bad++;
    if (sip_raw_addressable(r)) {
        char reason[64];
        int code = r->bad == SIP_RAW_BADVERSION ? 505 : 400;
        snprintf(reason, sizeof(reason), "%s (%s)", sip_reason(code),
                 raw_reason(r->bad));
        sip_respond_simple(s, r, src, code, reason, NULL);
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"malformed sip request answered 400\" reason=%s "
                "bytes=%zu",
                raw_reason(r->bad), len);
    } else {
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"malformed sip message dropped\" reason=%s bytes=%zu",
                raw_reason(r->bad), len);
    }
}

/* Max-Forwards value, -1 if absent, -2 if not a number. */
static long max_forwards(const sip_raw *r)
{
    long v = 0;
    if (r->max_forwards.p == NULL)
        return -1;
    if (r->max_forwards.n == 0 || r->max_forwards.n > 10)
        return -2;
    for (size_t i = 0; i < r->max_forwards.n; i++) {
        char c = r->max_forwards.p[i];
        if (c < '0' || c > '9')
            return -2;
        v = v * 10 + (c - '0'); /* leading zeros allowed ("0068") */
    }
    return v > 255 ? 255 : v;
}

static int is_known_method(const sip_raw *r)
{
    static const char *const known[] = {"BYE",     "PRACK",     "UPDATE",
                                        "INFO",    "SUBSCRIBE", "NOTIFY",
                                        "MESSAGE", "REFER",     "PUBLISH"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (sip_span_eq(r->method, known[i]))
            return 1;
    return 0;
}

/* sip:, sips: or tel: (case-insensitive). */
static int uri_scheme_ok(sip_span u)
{
    const char *colon = memchr(u.p, ':', u.n);
    if (colon == NULL)
        return 0;
    sip_span sc = {u.p, (size_t)(colon - u.p)};
    return sip_span_eq(sc, "sip") || sip_span_eq(sc, "sips") ||
           sip_span_eq(sc, "tel");
}

void sip_process(tspsd_sip *s, const char *buf, size_t len, const sip_src *src)
{
    sip_raw r;
    size_t i = 0;

    s->stat_rx++;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n' || buf[i] == ' '))
        i++;
    if (i == len)
        return; /* keep-alive */
    int rc = sip_raw_scan(buf, len, &r);
    if (r.is_response && rc != SIP_RAW_JUNK) {
        /* responses to what we relayed; other stray ones are ignored */
        if (rc == SIP_RAW_OK)
            (void)sip_relay_response(s, &r);
        return;
    }
    if (rc == SIP_RAW_OK && s->relay != NULL && sip_relay_request(s, &r, src))
        return; /* a later request of a call relayed to the media front */
    if (rc == SIP_RAW_OK && sip_span_eq(r.method, "ACK")) {
        sip_txn_ack(s, &r);
        return;
    }
    if (rc != SIP_RAW_OK) {
        malformed(s, &r, src, len);
        return;
    }
    int invite = sip_span_eq(r.method, "INVITE");
    if (invite && sip_txn_absorb(s, &r, src))
        return;
    if (sip_span_eq(r.method, "CANCEL")) {
        sip_txn_cancel(s, &r, src);
        return;
    }
    long mf = max_forwards(&r);
    if (mf == -2) {
        r.bad = SIP_RAW_MISSING;
        malformed(s, &r, src, len);
        return;
    }
    int reg = sip_span_eq(r.method, "REGISTER");
    int sub = sip_span_eq(r.method, "SUBSCRIBE");
    if (!invite && !reg && !sub && !sip_span_eq(r.method, "OPTIONS")) {
        int code = is_known_method(&r) ? 405 : 501;
        sip_respond_simple(s, &r, src, code, NULL, "Allow: " SIP_ALLOW "\r\n");
        return;
    }
    /* RFC 3261 8.2.2.1: a Request-URI scheme we do not serve -> 416 */
    if (!uri_scheme_ok(r.ruri)) {
        sip_respond_simple(s, &r, src, 416, NULL, NULL);
        return;
    }
    /* 8.2.2.3: we support no extension, so any Require gets 420 listing
       what it asked for (Proxy-Require is for proxies: ignored) */
    if (r.nrequire > 0) {
        char hdr[1024];
        sip_buf hb = {hdr, 0, sizeof(hdr), 0};
        for (int k = 0; k < r.nrequire; k++) {
            sb_puts(&hb, "Unsupported: ");
            sb_span(&hb, r.require[k]);
            sb_puts(&hb, "\r\n");
        }
        sip_respond_simple(s, &r, src, 420, NULL, hb.err ? NULL : hdr);
        return;
    }
    if (sip_span_eq(r.method, "OPTIONS")) {
        if (s->hooks.draining != NULL && s->hooks.draining(s->hooks.arg)) {
            sip_respond_simple(s, &r, src, 503, NULL, "Retry-After: 5\r\n");
            return;
        }
        sip_respond_simple(s, &r, src, 200, NULL,
                           "Allow: " SIP_ALLOW
                           "\r\nAccept: application/sdp\r\n");
        return;
    }
    if (invite && mf == 0) {
        sip_respond_simple(s, &r, src, 483, NULL, NULL);
        return;
    }

    /* INVITEs take the fast path (raw scan + sip_uri.c) unless their
       addresses need the full parser */
    if (invite && sip_invite_fast(s, &r, src) == 0)
        return;

    osip_message_t *m = NULL;
    if (osip_message_init(&m) != 0) {
        sip_respond_simple(s, &r, src, 500, NULL, NULL);
        return;
    }
    if (osip_message_parse(m, buf, len) != 0 || m->sip_method == NULL ||
        m->req_uri == NULL || m->from == NULL || m->from->url == NULL ||
        m->to == NULL) {
        r.bad = SIP_RAW_JUNK;
        s->stat_bad++;
        sip_respond_simple(s, &r, src, 400, "Bad Request (unparseable)", NULL);
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"unparseable sip request answered 400\" bytes=%zu", len);
    } else if (invite) {
        sip_invite(s, m, &r, src);
    } else if (sub) {
        sip_subscribe(s, m, &r, src);
    } else {
        sip_register(s, m, &r, src);
    }
    osip_message_free(m);
}

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_sip *s = arg;
    size_t n = 0;
    int rc = tsps_registration_purge(s->eng, (int64_t)time(NULL), &n);
    if (rc != TSPS_OK)
        sip_log(s, TSPS_LOG_WARN, "msg=\"registration purge failed\" err=%s",
                tsps_errname(rc));
    else if (n > 0)
        sip_log(s, TSPS_LOG_INFO, "msg=\"expired bindings purged\" n=%zu", n);
}

static void copy_str(char *dst, size_t n, const char *src, const char *dflt)
{
    snprintf(dst, n, "%s", src != NULL && *src != '\0' ? src : dflt);
}

static int apply_config(tspsd_sip *s, const tspsd_sip_config *cfg)
{
    tspsd_sip_config c = *cfg;
    if (c.min_expires <= 0)
        c.min_expires = 60;
    if (c.max_expires <= 0)
        c.max_expires = 7200;
    if (c.default_expires <= 0)
        c.default_expires = 3600;
    if (c.ask_timeout_s <= 0)
        c.ask_timeout_s = 20;
    if (c.auth_max_failures == 0)
        c.auth_max_failures = 10;
    if (c.auth_fail_window_s <= 0)
        c.auth_fail_window_s = 60;
    if (c.auth_lockout_s <= 0)
        c.auth_lockout_s = 300;
    if (c.max_held_per_user <= 0)
        c.max_held_per_user = 32;
    if (c.max_held <= 0)
        c.max_held = 2048;
    if (c.tcp_max_per_address <= 0)
        c.tcp_max_per_address = 32;
    if (c.tcp_handshake_s <= 0)
        c.tcp_handshake_s = 10;
    if (c.max_bindings_per_aor <= 0)
        c.max_bindings_per_aor = 16;
    if (c.min_expires > c.max_expires || c.default_expires < c.min_expires ||
        c.default_expires > c.max_expires)
        return TSPS_EINVAL;
    const char *algs =
        c.digest_algorithms != NULL && *c.digest_algorithms != '\0'
            ? c.digest_algorithms
            : "SHA-256,MD5";
    int nalgs = 0, order[2];
    char tmp[64], *save = NULL;
    snprintf(tmp, sizeof(tmp), "%s", algs);
    for (char *t = strtok_r(tmp, ", ", &save); t != NULL;
         t = strtok_r(NULL, ", ", &save)) {
        int a = strcasecmp(t, "SHA-256") == 0 ? SIP_ALG_SHA256
                : strcasecmp(t, "MD5") == 0   ? SIP_ALG_MD5
                                              : -1;
        if (a < 0 || nalgs == 2 || (nalgs == 1 && order[0] == a))
            return TSPS_EINVAL;
        order[nalgs++] = a;
    }
    if (nalgs == 0)
        return TSPS_EINVAL;
    memcpy(s->algs, order, sizeof(order));
    s->nalgs = nalgs;
    c.digest_algorithms = NULL;
    copy_str(s->listen, sizeof(s->listen), c.listen, "127.0.0.1");
    copy_str(s->domain, sizeof(s->domain), c.domain, s->listen);
    copy_str(s->realm, sizeof(s->realm), c.realm, s->domain);
    c.listen = s->listen;
    c.domain = s->domain;
    c.realm = s->realm;
    s->cfg = c;
    return TSPS_OK;
}

int tspsd_sip_open(struct event_base *base, tsps_engine *eng,
                   const tspsd_sip_config *cfg, const tspsd_sip_hooks *hooks,
                   tspsd_sip **out)
{
    tspsd_sip *s = NULL;
    int rc;

    *out = NULL;
    if (base == NULL || eng == NULL || cfg == NULL)
        return TSPS_EINVAL;
    pthread_once(&osip_once, osip_init_once);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return TSPS_ENOMEM;
    s->base = base;
    s->eng = eng;
    s->udp_fd = -1;
    if (hooks != NULL)
        s->hooks = *hooks;
    s->send = sip_net_send;
    rc = apply_config(s, cfg);
    if (rc != TSPS_OK)
        goto cleanup;
    if (RAND_bytes(s->secret, sizeof(s->secret)) != 1) {
        rc = TSPS_EINVAL;
        goto cleanup;
    }
    s->out_buf = malloc(sizeof(*s->out_buf) * SIP_UDP_BATCH);
    s->nonces = calloc(SIP_NONCE_SLOTS, sizeof(*s->nonces));
    s->guard = calloc(SIP_GUARD_SLOTS, sizeof(*s->guard));
    if (sip_txn_cache_init(s) != TSPS_OK || sip_txn_index_init(s) != 0 ||
        s->out_buf == NULL || s->nonces == NULL || s->guard == NULL) {
        rc = TSPS_ENOMEM;
        goto cleanup;
    }
    rc = sip_hist_open(s);
    if (rc == TSPS_OK)
        rc = sip_relay_open(s);
    if (rc == TSPS_OK)
        rc = sip_net_open(s);
    if (rc != TSPS_OK)
        goto cleanup;
    s->purge_ev = event_new(base, -1, EV_PERSIST, purge_cb, s);
    if (s->purge_ev == NULL) {
        rc = TSPS_ENOMEM;
        goto cleanup;
    }
    struct timeval tv = {30, 0};
    event_add(s->purge_ev, &tv);
    if (!s->cfg.auth_register)
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"sip REGISTER accepted without digest auth\" "
                "listen=%s hint=\"set [sip] auth_register = true\"",
                s->cfg.listen);
    *out = s;
    s = NULL;
cleanup:
    tspsd_sip_close(s);
    return rc;
}

int tspsd_sip_reconfigure(tspsd_sip *s, const tspsd_sip_config *cfg)
{
    if (s == NULL || cfg == NULL)
        return TSPS_EINVAL;
    tspsd_sip_config keep = s->cfg;
    char listen[64];
    memcpy(listen, s->listen, sizeof(listen));
    int rc = apply_config(s, cfg);
    if (rc != TSPS_OK)
        return rc;
    /* sockets stay bound where they are */
    memcpy(s->listen, listen, sizeof(listen));
    s->cfg.listen = s->listen;
    s->cfg.udp_port = keep.udp_port;
    s->cfg.tcp_port = keep.tcp_port;
    return TSPS_OK;
}

int tspsd_sip_auth_default(int configured, int demo, const char *listen)
{
    if (configured >= 0)
        return configured != 0;
    if (!demo || listen == NULL)
        return 1;
    return strncmp(listen, "127.", 4) == 0 || strcmp(listen, "::1") == 0 ||
                   strcmp(listen, "localhost") == 0
               ? 0
               : 1;
}

void tspsd_sip_stats_get(const tspsd_sip *s, tspsd_sip_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return;
    out->rx = s->stat_rx;
    out->tx = s->stat_tx;
    out->bad = s->stat_bad;
    out->history_failed = s->stat_hist_fail + sip_hist_failed(s);
    out->auth_failed = s->stat_auth_fail;
    out->auth_locked = s->stat_auth_locked;
    out->held = (uint64_t)s->nheld;
    out->held_refused = s->stat_held_refused;
}

int tspsd_sip_metrics(const tspsd_sip *s, char *buf, size_t len)
{
    tspsd_sip_stats st;
    tspsd_sip_stats_get(s, &st);
    int n = snprintf(
        buf, len,
        "# TYPE tspsd_sip_messages_received_total counter\n"
        "tspsd_sip_messages_received_total %llu\n"
        "# TYPE tspsd_sip_malformed_total counter\n"
        "tspsd_sip_malformed_total %llu\n"
        "# HELP tspsd_sip_history_failed_total Calls answered but not "
        "recorded in history (store full or failing).\n"
        "# TYPE tspsd_sip_history_failed_total counter\n"
        "tspsd_sip_history_failed_total %llu\n"
        "# TYPE tspsd_sip_auth_failed_total counter\n"
        "tspsd_sip_auth_failed_total %llu\n"
        "# TYPE tspsd_sip_auth_locked_total counter\n"
        "tspsd_sip_auth_locked_total %llu\n"
        "# TYPE tspsd_sip_held_calls gauge\n"
        "tspsd_sip_held_calls %llu\n"
        "# TYPE tspsd_sip_held_refused_total counter\n"
        "tspsd_sip_held_refused_total %llu\n",
        (unsigned long long)st.rx, (unsigned long long)st.bad,
        (unsigned long long)st.history_failed,
        (unsigned long long)st.auth_failed, (unsigned long long)st.auth_locked,
        (unsigned long long)st.held, (unsigned long long)st.held_refused);
    return n < 0 ? 0 : (size_t)n >= len ? (int)len - 1 : n;
}

void tspsd_sip_close(tspsd_sip *s)
{
    if (s == NULL)
        return;
    sip_txn_close_all(s);
    if (s->purge_ev != NULL)
        event_free(s->purge_ev);
    sip_net_close(s);
    sip_hist_close(s); /* what the writer holds is committed first */
    sip_relay_close(s);
    sip_txn_cache_free(s);
    sip_txn_index_free(s);
    free(s->out_buf);
    free(s->nonces);
    free(s->guard);
    free(s->mwi);
    free(s);
}

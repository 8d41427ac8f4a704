/*
 * sip_redirect.c - the redirect server (RFC 3261 8.3, 21.3): an INVITE is
 * routed by the engine and the decision becomes a final response:
 *   ring -> 302 (one target) / 300 (several; parallel = equal q,
 *           sequential = descending q, a fallback last with the lowest q);
 *   forward/voicemail/ivr/attendant -> 302 + Diversion (RFC 5806);
 *   reject -> 486 / 603 / 480; unknown called number -> 404;
 *   ask -> held (sip_txn.c) until resolved or timed out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "sip_internal.h"

/* "user@host[:port]", lower-case host, port omitted when 5060 or none. */
static void uri_key(const osip_uri_t *u, char *out, size_t n)
{
    char host[128];
    size_t i = 0;
    const char *h = u->host != NULL ? u->host : "";
    for (; h[i] != '\0' && i + 1 < sizeof(host); i++)
        host[i] = (char)tolower((unsigned char)h[i]);
    host[i] = '\0';
    int port = u->port != NULL ? atoi(u->port) : 5060;
    if (port == 5060 || port <= 0)
        snprintf(out, n, "%s@%s", u->username != NULL ? u->username : "", host);
    else
        snprintf(out, n, "%s@%s:%d", u->username != NULL ? u->username : "",
                 host, port);
}

/* Write the SIP URI for a target: "+E164" -> sip:+E164@domain;user=phone. */
static void target_uri(const tspsd_sip *s, const char *t, char *out, size_t n)
{
    if (strncasecmp(t, "sip:", 4) == 0 || strncasecmp(t, "sips:", 5) == 0 ||
        strncasecmp(t, "tel:", 4) == 0)
        snprintf(out, n, "%s", t);
    else if (t[0] == '+')
        snprintf(out, n, "sip:%s@%s;user=phone", t, s->domain);
    else if (strchr(t, '@') != NULL)
        snprintf(out, n, "sip:%s", t);
    else
        snprintf(out, n, "sip:%s@%s", t, s->domain);
}

tsps_method_kind tspsd_sip_media_kind(tsps_method_kind kind, const char *target)
{
    if (kind == TSPS_METHOD_VOICEMAIL && strcmp(target, "tsps:voicemail") == 0)
        return kind;
    if (kind == TSPS_METHOD_IVR &&
        (strcmp(target, "tsps:ivr") == 0 ||
         (target[0] != '\0' && strchr(target, ':') == NULL &&
          strchr(target, '@') == NULL)))
        return kind;
    return TSPS_METHOD_NONE;
}

static int is_loop(const char *uri, const char *ruri_key)
{
    char key[512];
    if (ruri_key == NULL || *ruri_key == '\0')
        return 0;
    if (sip_uri_key((sip_span){uri, strlen(uri)}, key, sizeof(key)) != 0)
        return 0;
    return strcmp(key, ruri_key) == 0;
}

static const char *diversion_reason(const tsps_decision *d, int timeout)
{
    if (timeout)
        return "no-answer";
    if (d->flags & TSPS_DEC_OVERRIDDEN)
        return "deflection";
    if (d->flags & TSPS_DEC_FALLBACK)
        return "unavailable";
    switch (d->status) {
    case TSPS_STATUS_BUSY:
        return "user-busy";
    case TSPS_STATUS_DND:
        return "do-not-disturb";
    case TSPS_STATUS_AWAY:
        return "away";
    case TSPS_STATUS_OFF_HOURS:
        return "time-of-day";
    case TSPS_STATUS_IN_MEETING:
        return "unavailable";
    default:
        return "unconditional";
    }
}

typedef struct contact {
    char uri[TSPS_URI_MAX + 128];
    int q;         /* 0..1000 */
    long expires;  /* seconds, -1 = not given */
    int timeout_s; /* sequential step: ring time, 0 = not given */
} contact;

static int cmp_target(const void *a, const void *b)
{
    const tsps_target *x = *(tsps_target *const *)a;
    const tsps_target *y = *(tsps_target *const *)b;
    if (x->fallback != y->fallback)
        return x->fallback - y->fallback;
    if (x->order != y->order)
        return (int)x->order - (int)y->order;
    return (int)y->q - (int)x->q;
}

/* The contacts of a decision, best first, loops removed. */
static int contacts_of(const tspsd_sip *s, const tsps_decision *d,
                       uint64_t call_id, const char *ruri_key, int64_t now,
                       contact out[TSPS_MAX_TARGETS], int *looped, int *media)
{
    const tsps_target *t[TSPS_MAX_TARGETS];
    int n = 0,
        nt = d->ntargets < TSPS_MAX_TARGETS ? d->ntargets : TSPS_MAX_TARGETS;
    tsps_target fake;

    *looped = 0;
    *media = 0;
    for (int i = 0; i < nt; i++)
        t[i] = &d->targets[i];
    if (nt == 0 && d->method.a.target[0] != '\0' &&
        d->method.a.kind != TSPS_METHOD_RING) {
        memset(&fake, 0, sizeof(fake));
        snprintf(fake.uri, sizeof(fake.uri), "%s", d->method.a.target);
        t[0] = &fake;
        nt = 1;
    }
    qsort(t, (size_t)nt, sizeof(t[0]), cmp_target);
    int lowest = 1000;
    for (int i = 0; i < nt; i++) {
        if (t[i]->uri[0] == '\0')
            continue;
        contact *c = &out[n];
        tsps_method_kind mk = tspsd_sip_media_kind(
            t[i]->fallback ? d->method.fallback.kind : d->method.a.kind,
            t[i]->uri);
        if (mk == TSPS_METHOD_NONE)
            target_uri(s, t[i]->uri, c->uri, sizeof(c->uri));
        else if (s->hooks.media_uri == NULL ||
                 s->hooks.media_uri(s->hooks.arg, mk, call_id, d, c->uri,
                                    sizeof(c->uri)) < 0) {
            sip_log((tspsd_sip *)s, TSPS_LOG_WARN,
                    "msg=\"media target dropped: no media front\" user=%s "
                    "method=%s",
                    d->user, tsps_method_kind_name(mk));
            continue;
        } else {
            (*media)++;
        }
        if (is_loop(c->uri, ruri_key)) {
            (*looped)++;
            continue;
        }
        if (t[i]->fallback && n > 0)
            c->q = lowest > 100 ? lowest - 100 : 0;
        else if (t[i]->order == 0)
            c->q = 1000;
        else
            c->q = t[i]->order > 9 ? 100 : 1000 - 100 * (t[i]->order - 1);
        if (c->q < lowest)
            lowest = c->q;
        c->expires = t[i]->expires > now ? (long)(t[i]->expires - now) : -1;
        c->timeout_s = t[i]->order > 0 && !t[i]->fallback ? t[i]->timeout_s : 0;
        n++;
    }
    return n;
}

static int reject_code(tsps_reject_reason r)
{
    switch (r) {
    case TSPS_REJECT_BUSY:
        return 486;
    case TSPS_REJECT_DECLINE:
        return 603;
    default:
        return 480;
    }
}

typedef struct plan {
    sip_final fin;
    int n;
    int media; /* contacts that are tsps's media front (carry the call id) */
    contact cs[TSPS_MAX_TARGETS];
} plan;

static void make_plan(const tspsd_sip *s, const tsps_decision *d,
                      uint64_t call_id, const char *ruri_key, int64_t now,
                      int timeout, plan *p)
{
    int looped = 0;
    tsps_method_kind k = d->method.a.kind;

    p->n = 0;
    p->media = 0;
    p->fin.outcome = TSPS_OUTCOME_REDIRECTED;
    if (d->flags & TSPS_DEC_UNKNOWN_NUMBER) {
        p->fin.code = 404;
        p->fin.outcome = TSPS_OUTCOME_FAILED;
    } else if (k == TSPS_METHOD_REJECT) {
        p->fin.code = reject_code(d->method.a.reject);
        p->fin.outcome = TSPS_OUTCOME_REJECTED;
    } else if (k == TSPS_METHOD_RING || k == TSPS_METHOD_FORWARD ||
               k == TSPS_METHOD_VOICEMAIL || k == TSPS_METHOD_IVR ||
               k == TSPS_METHOD_ATTENDANT) {
        p->n = contacts_of(s, d, call_id, ruri_key, now, p->cs, &looped,
                           &p->media);
        if (p->n == 0) {
            p->fin.code = looped > 0 ? 482 : 480;
            p->fin.outcome = TSPS_OUTCOME_REJECTED;
        } else {
            p->fin.code = p->n == 1 ? 302 : 300;
        }
    } else {
        p->fin.code = 480; /* none, or ask without a resolution */
        p->fin.outcome = TSPS_OUTCOME_REJECTED;
    }
    if (timeout)
        p->fin.outcome = TSPS_OUTCOME_TIMEOUT;
}

static void render(const tspsd_sip *s, sip_buf *b, const sip_raw *r,
                   const sip_src *src, const tsps_decision *d, const plan *p,
                   uint64_t call_id, const char *ruri_key, int timeout)
{
    tsps_method_kind k = d->method.a.kind;

    sip_resp_begin(b, r, src, p->fin.code, NULL);
    for (int i = 0; i < p->n; i++) {
        const contact *c = &p->cs[i];
        sb_printf(b, "Contact: <%s>;q=%d.%03d", c->uri, c->q / 1000,
                  c->q % 1000);
        if (c->expires >= 0)
            sb_printf(b, ";expires=%ld", c->expires);
        if (c->timeout_s > 0) /* docs/sip.md, "Ranking (q)" */
            sb_printf(b, ";tsps-timeout=%d", c->timeout_s);
        sb_puts(b, "\r\n");
    }
    if (p->n > 0 && k != TSPS_METHOD_RING) {
        char div[TSPS_URI_MAX + 128];
        if (d->called[0] != '\0')
            target_uri(s, d->called, div, sizeof(div));
        else
            snprintf(div, sizeof(div), "sip:%s", ruri_key);
        sb_printf(b, "Diversion: <%s>;reason=%s;counter=1;tsps-method=%s\r\n",
                  div, diversion_reason(d, timeout), tsps_method_kind_name(k));
    }
    if (call_id != 0)
        sb_printf(b, "X-Tsps-Call-Id: %llu\r\n", (unsigned long long)call_id);
    sip_resp_end(b);
}

void sip_redirect_build(tspsd_sip *s, sip_buf *b, const sip_raw *r,
                        const sip_src *src, const tsps_decision *d,
                        uint64_t call_id, int64_t now, const char *ruri_key,
                        int timeout, sip_final *out)
{
    plan p;
    make_plan(s, d, call_id, ruri_key, now, timeout, &p);
    render(s, b, r, src, d, &p, call_id, ruri_key, timeout);
    *out = p.fin;
}

/* User part of a URI (or the whole tel: number); "" if none. */
static void uri_user(osip_uri_t *u, char *out, size_t n)
{
    out[0] = '\0';
    if (u == NULL)
        return;
    if (u->username != NULL)
        snprintf(out, n, "%s", u->username);
    else if (u->scheme != NULL && strcasecmp(u->scheme, "tel") == 0 &&
             u->string != NULL)
        snprintf(out, n, "tel:%s", u->string);
    else if (u->string != NULL)
        snprintf(out, n, "%s", u->string);
}

static void display_name(const char *dn, char *out, size_t n)
{
    out[0] = '\0';
    if (dn == NULL)
        return;
    while (*dn == ' ')
        dn++;
    size_t len = strlen(dn);
    if (len >= 2 && dn[0] == '"' && dn[len - 1] == '"') {
        dn++;
        len -= 2;
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, dn, len);
    out[len] = '\0';
}

/* Caller: P-Asserted-Identity when present, else From. */
static void caller_of(osip_message_t *m, char *num, size_t nn, char *name,
                      size_t namen)
{
    osip_header_t *h = NULL;
    uri_user(m->from->url, num, nn);
    display_name(m->from->displayname, name, namen);
    if (osip_message_header_get_byname(m, "p-asserted-identity", 0, &h) >= 0 &&
        h != NULL && h->hvalue != NULL) {
        osip_from_t *pai = NULL;
        if (osip_from_init(&pai) == 0) {
            if (osip_from_parse(pai, h->hvalue) == 0 && pai->url != NULL) {
                uri_user(pai->url, num, nn);
                if (pai->displayname != NULL)
                    display_name(pai->displayname, name, namen);
            }
            osip_from_free(pai);
        }
    }
}

/* Route an INVITE and answer it (or hold it): the part both parses share. */
static void invite_route(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                         const char *called, const char *caller,
                         const char *name, const char *ruri_key)
{
    char out[SIP_MAX_RESP];
    tsps_decision d;
    tsps_call c = TSPS_CALL_INIT;
    uint64_t id = 0;
    int64_t now = (int64_t)time(NULL);
    sip_buf b = {out, 0, sizeof(out), 0};

    if (called[0] == '\0') {
        sip_resp_begin(&b, r, src, 404, NULL);
        sip_resp_end(&b);
        sip_send(s, src, out, b.len);
        return;
    }
    c.called = called;
    c.caller = caller;
    c.caller_name = name;
    c.now = now;
    int rc = tsps_route(s->eng, &c, &d);
    char nw[48], nt[TSPS_DETAIL_MAX];
    if (rc == TSPS_OK && s->hooks.route_note != NULL &&
        s->hooks.route_note(s->hooks.arg, nw, sizeof(nw), nt, sizeof(nt)))
        tsps_decision_note(&d, nw, nt); /* a full trace keeps its steps */
    if (rc != TSPS_OK) {
        sip_log(s, TSPS_LOG_ERROR, "msg=\"route failed\" err=%s",
                tsps_errname(rc));
        sip_resp_begin(&b, r, src, 500, NULL);
        sip_resp_end(&b);
        sip_send(s, src, out, b.len);
        return;
    }
    if (d.method.kind == TSPS_METHOD_ASK &&
        !(d.flags & TSPS_DEC_UNKNOWN_NUMBER)) {
        int retry = 0, code = sip_txn_hold_room(s, &d, &retry);
        if (code != 0) {
            /* over the held-call caps (a flood of INVITEs for a user who
               decides by hand): refused at once, not recorded */
            char hdr[48];
            s->stat_held_refused++;
            if (now != s->held_refused_logged) {
                s->held_refused_logged = now;
                sip_log(s, TSPS_LOG_WARN,
                        "msg=\"held calls full, INVITE refused\" code=%d "
                        "user=%s held=%d refused_total=%llu",
                        code, d.user, s->nheld,
                        (unsigned long long)s->stat_held_refused);
            }
            snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
            sip_resp_begin(&b, r, src, code, NULL);
            sb_puts(&b, hdr);
            sip_resp_end(&b);
            sip_send(s, src, out, b.len);
            sip_txn_remember(s, r, out, b.len);
            return;
        }
        rc = tsps_history_append(s->eng, &d, TSPS_OUTCOME_PENDING, &id);
        if (rc == TSPS_OK && s->burst != NULL)
            s->burst_calls++;
        if (rc == TSPS_OK &&
            sip_txn_hold(s, r, src, &d, id, ruri_key) == TSPS_OK)
            return;
        sip_log(s, TSPS_LOG_ERROR, "msg=\"cannot hold call\" err=%s",
                tsps_errname(rc));
    }

    /* the outcome is known before the response: write history first, so
       the response can carry the call's id */
    plan p;
    make_plan(s, &d, 0, ruri_key, now, 0, &p);
    sip_final fin = p.fin;
    if (id == 0) {
        rc = sip_hist_record(s, &d, fin.outcome, &id);
        if (rc != TSPS_OK) {
            /* answered all the same (full disk ...), with an id no other
               call gets; counted for the metrics */
            id = tsps_history_take_id(s->eng);
            s->stat_hist_fail++;
            sip_log(s, TSPS_LOG_ERROR,
                    "msg=\"call not recorded in history, answered "
                    "unrecorded\" call=%llu err=%s",
                    (unsigned long long)id, tsps_errname(rc));
        } else if (s->burst != NULL) {
            s->burst_calls++;
        }
    } else {
        tsps_history_set_outcome(s->eng, id, fin.outcome, now, NULL);
    }
    if (p.media > 0) /* the media front's token names the history id */
        make_plan(s, &d, id, ruri_key, now, 0, &p);
    /* tspsd is the first hop: the media front answers the call itself */
    if (p.media > 0 && s->relay != NULL && p.n > 0 &&
        (strncmp(p.cs[0].uri, "sip:vm.", 7) == 0 ||
         strncmp(p.cs[0].uri, "sip:ivr.", 8) == 0) &&
        sip_relay_start(s, r, src, p.cs[0].uri) == 0) {
        sip_log(s, TSPS_LOG_INFO,
                "msg=\"call relayed to the media front\" call=%llu user=%s",
                (unsigned long long)id, d.user);
        sip_emit(s, TSPSD_SIP_CALL_OFFERED, id, &d, fin.outcome);
        sip_emit(s, TSPSD_SIP_CALL_ENDED, id, &d, fin.outcome);
        return;
    }
    render(s, &b, r, src, &d, &p, id, ruri_key, 0);
    if (b.err) {
        sip_log(s, TSPS_LOG_ERROR, "msg=\"sip response too large\" code=%d",
                fin.code);
        return;
    }
    sip_send(s, src, out, b.len);
    sip_txn_remember(s, r, out, b.len);
    sip_emit(s, TSPSD_SIP_CALL_OFFERED, id, &d, fin.outcome);
    sip_emit(s, TSPSD_SIP_CALL_ENDED, id, &d, fin.outcome);
}

void sip_invite(tspsd_sip *s, void *msg, const sip_raw *r, const sip_src *src)
{
    osip_message_t *m = msg;
    char called[TSPS_URI_MAX], caller[TSPS_URI_MAX], name[TSPS_NAME_MAX];
    char ruri_key[512];

    uri_user(m->req_uri, called, sizeof(called));
    caller_of(m, caller, sizeof(caller), name, sizeof(name));
    uri_key(m->req_uri, ruri_key, sizeof(ruri_key));
    invite_route(s, r, src, called, caller, name, ruri_key);
}

static int span_copy(char *dst, size_t n, sip_span sp)
{
    if (sp.n >= n)
        return -1;
    if (sp.n > 0)
        memcpy(dst, sp.p, sp.n);
    dst[sp.n] = '\0';
    return 0;
}

/* The user part of a URI as tsps_route() wants it ("tel:" kept). */
static int user_of(sip_span uri, char *out, size_t n)
{
    sip_uri u;
    if (sip_uri_split(uri, &u) != 0)
        return -1;
    if (sip_span_eq(u.scheme, "tel")) {
        if (u.user.n + 4 >= n)
            return -1;
        memcpy(out, "tel:", 4);
        return span_copy(out + 4, n - 4, u.user);
    }
    return span_copy(out, n, u.user);
}

int sip_invite_fast(tspsd_sip *s, const sip_raw *r, const sip_src *src)
{
    char called[TSPS_URI_MAX], caller[TSPS_URI_MAX], name[TSPS_NAME_MAX];
    char ruri_key[512];
    sip_span uri, disp;

    if (user_of(r->ruri, called, sizeof(called)) != 0 ||
        sip_addr_split(r->from, &uri, &disp) != 0 ||
        user_of(uri, caller, sizeof(caller)) != 0)
        return -1;
    if (span_copy(name, sizeof(name), disp) != 0)
        name[0] = '\0';
    if (r->pai.p != NULL) {
        sip_span puri, pdisp;
        if (sip_addr_split(r->pai, &puri, &pdisp) != 0 ||
            user_of(puri, caller, sizeof(caller)) != 0)
            return -1;
        if (pdisp.n > 0 && span_copy(name, sizeof(name), pdisp) != 0)
            name[0] = '\0';
    }
    if (sip_uri_key(r->ruri, ruri_key, sizeof(ruri_key)) != 0)
        ruri_key[0] = '\0';
    invite_route(s, r, src, called, caller, name, ruri_key);
    return 0;
}

/*
 * sip_mwi.c - message-waiting subscriptions (RFC 3842 over RFC 6665): a
 * registered device's SUBSCRIBE for Event `message-summary` gets 200 and
 * at once a NOTIFY with the mailbox's counts (hooks.mwi_body), then a
 * NOTIFY at each change (tspsd_sip_mwi_changed) until it expires or is
 * ended with Expires: 0. Other event packages get 489. Only a device with
 * a live binding of the mailbox's user may subscribe: the registrar's
 * authentication is what protects the counts. NOTIFYs are sent once (no
 * retransmission); the next change corrects a lost one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "sip_internal.h"

#define SIP_MWI_MAX 1024 /* subscriptions held at once */

struct sip_mwi_sub {
    char user[TSPS_ID_MAX];
    char call_id[256];
    char remote[512]; /* the subscriber's From (with tag): our To */
    char local[512];  /* the subscription's To with our tag: our From */
    char target[TSPS_URI_MAX]; /* its Contact: our Request-URI */
    sip_src dst;               /* where its SUBSCRIBE came from */
    uint32_t cseq;
    int64_t expires; /* unix seconds; 0 = free slot */
};

static void copy_span(char *dst, size_t n, sip_span sp)
{
    size_t k = sp.n < n - 1 ? sp.n : n - 1;
    memcpy(dst, sp.p, k);
    dst[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if (dst[i] == '\r' || dst[i] == '\n')
            dst[i] = ' ';
}

static int has_tag(const char *v)
{
    for (const char *p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, "tag=", 4) == 0)
            return 1;
    }
    return 0;
}

/* The event package of a SUBSCRIBE: "message-summary" (1), other (0). */
static int event_is_mwi(osip_message_t *m)
{
    osip_header_t *h = NULL;
    if (osip_message_header_get_byname(m, "event", 0, &h) < 0 || h == NULL ||
        h->hvalue == NULL)
        osip_message_header_get_byname(m, "o", 0, &h); /* compact form */
    if (h == NULL || h->hvalue == NULL)
        return 0;
    const char *v = h->hvalue;
    while (*v == ' ')
        v++;
    size_t n = strcspn(v, "; \t");
    return n == 15 && strncasecmp(v, "message-summary", 15) == 0;
}

static long header_num(osip_message_t *m, const char *name, long dflt)
{
    osip_header_t *h = NULL;
    char *end = NULL;
    if (osip_message_header_get_byname(m, name, 0, &h) < 0 || h == NULL ||
        h->hvalue == NULL)
        return dflt;
    long v = strtol(h->hvalue, &end, 10);
    if (end == h->hvalue || v < 0)
        return -1;
    return v;
}

typedef struct bind_match {
    const char *key; /* "user@host[:port]" of the SUBSCRIBE's Contact */
    const char *ip;  /* the address the SUBSCRIBE came from */
    int found;
} bind_match;

static int match_binding(void *arg, const tsps_registration *r)
{
    bind_match *bm = arg;
    char key[TSPS_URI_MAX];
    sip_span sp = {r->contact, strlen(r->contact)};
    sip_uri u;
    /* The binding, and sent from the host it names: NOTIFYs go back to
     * where the SUBSCRIBE came from, so a Contact copied from someone
     * else's binding does not draw their counts elsewhere. */
    if (sip_uri_key(sp, key, sizeof(key)) == 0 &&
        strcasecmp(key, bm->key) == 0 && sip_uri_split(sp, &u) == 0 &&
        u.host.n == strlen(bm->ip) &&
        strncasecmp(u.host.p, bm->ip, u.host.n) == 0)
        bm->found = 1;
    return 0;
}

static struct sip_mwi_sub *find_sub(tspsd_sip *s, const char *call_id,
                                    const char *remote)
{
    for (int i = 0; i < SIP_MWI_MAX && s->mwi != NULL; i++) {
        struct sip_mwi_sub *u = &s->mwi[i];
        if (u->expires != 0 && strcmp(u->call_id, call_id) == 0 &&
            strcmp(u->remote, remote) == 0)
            return u;
    }
    return NULL;
}

static struct sip_mwi_sub *free_sub(tspsd_sip *s, int64_t now)
{
    if (s->mwi == NULL) {
        s->mwi = calloc(SIP_MWI_MAX, sizeof(*s->mwi));
        if (s->mwi == NULL)
            return NULL;
    }
    for (int i = 0; i < SIP_MWI_MAX; i++)
        if (s->mwi[i].expires == 0 || s->mwi[i].expires <= now)
            return &s->mwi[i];
    return NULL;
}

/* Send one NOTIFY of `u` with the mailbox's counts now. `left` = seconds
 * of the subscription left, 0 = the last one (terminated). */
static void send_notify(tspsd_sip *s, struct sip_mwi_sub *u, int64_t left)
{
    char out[SIP_MAX_RESP], body[512], account[TSPS_URI_MAX + 8];
    sip_buf b = {out, 0, sizeof(out), 0};
    int port =
        u->dst.proto == SIP_PROTO_TCP ? s->cfg.tcp_port : s->cfg.udp_port;
    uint64_t br = sip_hash(SIP_HASH_INIT, u->call_id, strlen(u->call_id));

    snprintf(account, sizeof(account), "sip:%s@%s", u->user, s->domain);
    int blen =
        s->hooks.mwi_body(s->hooks.arg, u->user, account, body, sizeof(body));
    if (blen < 0) {
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"mwi: no counts for the mailbox\" user=%s", u->user);
        return;
    }
    u->cseq++;
    br = sip_hash(br, &u->cseq, sizeof(u->cseq));
    br = sip_hash(br, &s->stat_tx, sizeof(s->stat_tx));
    sb_printf(&b, "NOTIFY %s SIP/2.0\r\n", u->target);
    sb_printf(&b, "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%016llx;rport\r\n",
              u->dst.proto == SIP_PROTO_TCP ? "TCP" : "UDP", s->listen, port,
              (unsigned long long)br);
    sb_printf(&b,
              "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
              "CSeq: %u NOTIFY\r\nContact: <sip:tspsd@%s:%d>\r\n"
              "Event: message-summary\r\n",
              u->local, u->remote, u->call_id, (unsigned)u->cseq, s->listen,
              port);
    if (left > 0)
        sb_printf(&b, "Subscription-State: active;expires=%lld\r\n",
                  (long long)left);
    else
        sb_puts(&b, "Subscription-State: terminated;reason=timeout\r\n");
    sb_printf(&b,
              "Content-Type: application/simple-message-summary\r\n"
              "Content-Length: %d\r\n\r\n",
              blen);
    sb_put(&b, body, (size_t)blen);
    if (b.err) {
        sip_log(s, TSPS_LOG_WARN, "msg=\"mwi: NOTIFY too large\" user=%s",
                u->user);
        return;
    }
    sip_send(s, &u->dst, out, b.len);
}

void sip_subscribe(tspsd_sip *s, void *msg, const sip_raw *r,
                   const sip_src *src)
{
    osip_message_t *m = msg;
    osip_contact_t *ct = NULL;
    char user[TSPS_ID_MAX], key[TSPS_URI_MAX], call_id[256], remote[512];
    char local[512], extra[256], ip[64];
    sip_cred cred;
    char *uri = NULL;
    int64_t now = (int64_t)time(NULL);

    if (!event_is_mwi(m) || s->hooks.mwi_body == NULL) {
        sip_respond_simple(s, r, src, 489, NULL,
                           "Allow-Events: message-summary\r\n");
        return;
    }
    if (m->req_uri->username == NULL ||
        sip_aor_user(s, m->req_uri->username, user, &cred) != TSPS_OK) {
        sip_respond_simple(s, r, src, 404, NULL, NULL);
        return;
    }
    if (osip_message_get_contact(m, 0, &ct) < 0 || ct == NULL ||
        ct->url == NULL || osip_uri_to_str(ct->url, &uri) != 0 || uri == NULL ||
        strlen(uri) >= TSPS_URI_MAX) {
        osip_free(uri);
        sip_respond_simple(s, r, src, 400, "Bad Request (no Contact)", NULL);
        return;
    }
    /* Only a device registered to this mailbox's user subscribes. */
    sip_src_ip(src, ip, sizeof(ip));
    bind_match bm = {key, ip, 0};
    sip_span usp = {uri, strlen(uri)};
    if (sip_uri_key(usp, key, sizeof(key)) == 0)
        tsps_registration_list(s->eng, user, now, match_binding, &bm);
    if (!bm.found) {
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"mwi: SUBSCRIBE from no registered device of the "
                "mailbox refused\" user=%s ip=%s",
                user, ip);
        osip_free(uri);
        sip_respond_simple(s, r, src, 403,
                           "Forbidden (register this device first)", NULL);
        return;
    }
    long exp = header_num(m, "expires", 3600);
    if (exp < 0) {
        osip_free(uri);
        sip_respond_simple(s, r, src, 400, "Bad Request (Expires)", NULL);
        return;
    }
    if (exp > 0 && exp < s->cfg.min_expires) {
        osip_free(uri);
        snprintf(extra, sizeof(extra), "Min-Expires: %d\r\n",
                 s->cfg.min_expires);
        sip_respond_simple(s, r, src, 423, NULL, extra);
        return;
    }
    if (exp > s->cfg.max_expires)
        exp = s->cfg.max_expires;
    copy_span(call_id, sizeof(call_id), r->call_id);
    copy_span(remote, sizeof(remote), r->from);
    copy_span(local, sizeof(local), r->to);
    if (!has_tag(local)) {
        /* the tag sip_resp_begin() gives the 200 */
        uint64_t h = sip_hash(SIP_HASH_INIT, r->call_id.p, r->call_id.n);
        h = sip_hash(h, r->from.p, r->from.n);
        size_t n = strlen(local);
        snprintf(local + n, sizeof(local) - n, ";tag=%016llx",
                 (unsigned long long)h);
    }
    struct sip_mwi_sub *u = find_sub(s, call_id, remote);
    if (u == NULL && exp > 0)
        u = free_sub(s, now);
    if (u == NULL && exp > 0) {
        osip_free(uri);
        sip_respond_simple(s, r, src, 503, NULL, "Retry-After: 60\r\n");
        return;
    }
    snprintf(extra, sizeof(extra),
             "Expires: %ld\r\nContact: <sip:tspsd@%s:%d>\r\n", exp, s->listen,
             src->proto == SIP_PROTO_TCP ? s->cfg.tcp_port : s->cfg.udp_port);
    sip_respond_simple(s, r, src, 200, NULL, extra);
    if (u == NULL) { /* Expires: 0 of nothing we hold: 200, a last NOTIFY */
        struct sip_mwi_sub once;
        memset(&once, 0, sizeof(once));
        u = &once;
        snprintf(u->user, sizeof(u->user), "%s", user);
        snprintf(u->call_id, sizeof(u->call_id), "%s", call_id);
        snprintf(u->remote, sizeof(u->remote), "%s", remote);
        snprintf(u->local, sizeof(u->local), "%s", local);
        snprintf(u->target, sizeof(u->target), "%s", uri);
        u->dst = *src;
        send_notify(s, u, 0);
        osip_free(uri);
        return;
    }
    int fresh = u->expires == 0 || u->expires <= now;
    if (fresh) {
        memset(u, 0, sizeof(*u));
        snprintf(u->call_id, sizeof(u->call_id), "%s", call_id);
        snprintf(u->remote, sizeof(u->remote), "%s", remote);
    }
    snprintf(u->user, sizeof(u->user), "%s", user);
    snprintf(u->local, sizeof(u->local), "%s", local);
    snprintf(u->target, sizeof(u->target), "%s", uri);
    u->dst = *src;
    osip_free(uri);
    sip_log(s, TSPS_LOG_INFO, "msg=\"mwi subscription %s\" user=%s expires=%ld",
            exp == 0 ? "ended"
            : fresh  ? "started"
                     : "refreshed",
            user, exp);
    if (exp == 0) {
        send_notify(s, u, 0);
        u->expires = 0;
        return;
    }
    u->expires = now + exp;
    send_notify(s, u, exp);
}

void tspsd_sip_mwi_changed(tspsd_sip *s, const char *user)
{
    int64_t now = (int64_t)time(NULL);
    if (s == NULL || s->mwi == NULL || user == NULL ||
        s->hooks.mwi_body == NULL)
        return;
    for (int i = 0; i < SIP_MWI_MAX; i++) {
        struct sip_mwi_sub *u = &s->mwi[i];
        if (u->expires == 0 || strcmp(u->user, user) != 0)
            continue;
        if (u->expires <= now) {
            u->expires = 0; /* ran out: the phone did not refresh */
            continue;
        }
        send_notify(s, u, u->expires - now);
    }
}

/*
 * sip_relay.c - "answered in place": when tspsd is the caller's first hop
 * ([media] answer_in_place = true), a call the engine sends to tsps's own
 * voicemail or IVR is not answered 302 (a phone calling tspsd directly
 * would not follow it) but relayed to the media front, statelessly:
 *
 *   - the INVITE goes to the media front with its signed URI as the
 *     Request-URI and our Via on top; the caller's Vias stay below;
 *   - every later request of that Call-ID the caller sends to us (ACK,
 *     CANCEL, BYE, re-INVITE: user agents that send everything to their
 *     outbound proxy) goes the same way;
 *   - responses that come back with our Via on top lose it and go to the
 *     caller's address (the one its INVITE came from: symmetric, for NAT).
 *
 * The media front's own Contact is in its 200, so a caller that follows
 * RFC 3261 sends in-dialog requests to it directly; both work. Media (RTP)
 * never passes through here. Loop thread only.
 */
#include "sip_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RELAY_SLOTS  1024
#define RELAY_IDLE_S 7200 /* a relayed call forgotten after this idle */
#define RELAY_BRANCH "z9hG4bK-tr"

struct sip_relay_ent {
    uint64_t h; /* Call-ID hash, 0 = free */
    char call_id[128];
    sip_src caller;
    struct sockaddr_in media;
    char uri[TSPS_URI_MAX + 128];
    int64_t used;
};

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static uint64_t cid_hash(sip_span cid)
{
    uint64_t h = sip_hash(1469598103934665603ULL, cid.p, cid.n);
    return h != 0 ? h : 1;
}

static sip_relay_ent *find(tspsd_sip *s, sip_span cid)
{
    if (s->relay == NULL || cid.n == 0 || cid.n >= sizeof(s->relay[0].call_id))
        return NULL;
    uint64_t h = cid_hash(cid);
    for (int i = 0; i < 8; i++) {
        sip_relay_ent *e = &s->relay[(h + (uint64_t)i) % RELAY_SLOTS];
        if (e->h == h && strlen(e->call_id) == cid.n &&
            memcmp(e->call_id, cid.p, cid.n) == 0)
            return e;
    }
    return NULL;
}

/* "sip:user@1.2.3.4:5064" -> IPv4 address and port. */
static int media_addr(const char *uri, struct sockaddr_in *out)
{
    const char *at = strchr(uri, '@');
    char host[64];
    unsigned port = 5060;

    if (at == NULL)
        return -1;
    at++;
    size_t n = strcspn(at, ":;>");
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, at, n);
    host[n] = '\0';
    if (at[n] == ':')
        port = (unsigned)strtoul(at + n + 1, NULL, 10);
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return port > 0 && port < 65536 &&
                   inet_pton(AF_INET, host, &out->sin_addr) == 1
               ? 0
               : -1;
}

/* Send `r` (a request of the relayed call) to the media front: request
 * line with the media URI, our Via, then the caller's headers and body. */
static void forward(tspsd_sip *s, const sip_raw *r, const sip_relay_ent *e)
{
    const char *eol = memchr(r->buf, '\n', r->len);
    char *out;
    sip_src dst;
    int n;

    if (eol == NULL)
        return;
    size_t rest = r->len - (size_t)(eol + 1 - r->buf);
    out = malloc(rest + TSPS_URI_MAX + 512);
    if (out == NULL)
        return;
    uint64_t bh = sip_hash(cid_hash(r->call_id), r->branch.p, r->branch.n);
    n = snprintf(out, TSPS_URI_MAX + 512,
                 "%.*s %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%d;branch=" RELAY_BRANCH
                 "%016llx;rport\r\n",
                 (int)r->method.n, r->method.p, e->uri,
                 strcmp(s->listen, "0.0.0.0") == 0 ? "127.0.0.1" : s->listen,
                 s->cfg.udp_port, (unsigned long long)bh);
    if (n < 0 || n >= TSPS_URI_MAX + 512) {
        free(out);
        return;
    }
    memcpy(out + n, eol + 1, rest);
    memset(&dst, 0, sizeof(dst));
    memcpy(&dst.addr, &e->media, sizeof(e->media));
    dst.addrlen = sizeof(e->media);
    dst.proto = SIP_PROTO_UDP;
    sip_net_send(s, &dst, out, (size_t)n + rest);
    free(out);
}

int sip_relay_open(tspsd_sip *s)
{
    if (!s->cfg.media_in_place)
        return TSPS_OK;
    s->relay = calloc(RELAY_SLOTS, sizeof(*s->relay));
    return s->relay != NULL ? TSPS_OK : TSPS_ENOMEM;
}

void sip_relay_close(tspsd_sip *s)
{
    free(s->relay);
    s->relay = NULL;
}

int sip_relay_start(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                    const char *media_uri)
{
    struct sockaddr_in m;
    int64_t now = mono_s();

    if (s->relay == NULL || s->cfg.udp_port <= 0 ||
        r->call_id.n >= sizeof(s->relay[0].call_id) ||
        strlen(media_uri) >= sizeof(s->relay[0].uri) ||
        media_addr(media_uri, &m) != 0)
        return -1;
    sip_relay_ent *e = find(s, r->call_id);
    if (e == NULL) { /* a free or the stalest of the 8 slots */
        uint64_t h = cid_hash(r->call_id);
        for (int i = 0; i < 8; i++) {
            sip_relay_ent *c = &s->relay[(h + (uint64_t)i) % RELAY_SLOTS];
            if (e == NULL || c->h == 0 || c->used < e->used ||
                now - c->used > RELAY_IDLE_S) {
                e = c;
                if (c->h == 0)
                    break;
            }
        }
        memset(e, 0, sizeof(*e));
        e->h = h;
        memcpy(e->call_id, r->call_id.p, r->call_id.n);
    }
    e->caller = *src;
    e->media = m;
    snprintf(e->uri, sizeof(e->uri), "%s", media_uri);
    e->used = now;
    forward(s, r, e);
    return 0;
}

int sip_relay_request(tspsd_sip *s, const sip_raw *r, const sip_src *src)
{
    sip_relay_ent *e = find(s, r->call_id);
    if (e == NULL)
        return 0;
    e->caller = *src;
    e->used = mono_s();
    forward(s, r, e);
    return 1;
}

int sip_relay_response(tspsd_sip *s, const sip_raw *r)
{
    if (s->relay == NULL || r->nvia < 2 || r->branch.n < strlen(RELAY_BRANCH) ||
        strncmp(r->branch.p, RELAY_BRANCH, strlen(RELAY_BRANCH)) != 0)
        return 0;
    sip_relay_ent *e = find(s, r->call_id);
    if (e == NULL)
        return 1; /* ours, but the call is forgotten: dropped */
    /* drop the first Via line (ours) */
    const char *p = r->buf, *end = r->buf + r->len, *line = NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        if (nl + 1 - p <= 2) /* blank line: end of headers */
            break;
        if ((size_t)(end - p) > 4 &&
            (strncasecmp(p, "Via:", 4) == 0 || strncasecmp(p, "v:", 2) == 0)) {
            line = p;
            p = nl + 1;
            break;
        }
        p = nl + 1;
    }
    if (line == NULL)
        return 1;
    char *out = malloc(r->len);
    if (out == NULL)
        return 1;
    size_t a = (size_t)(line - r->buf), b = (size_t)(end - p);
    memcpy(out, r->buf, a);
    memcpy(out + a, p, b);
    e->used = mono_s();
    sip_net_send(s, &e->caller, out, a + b);
    free(out);
    return 1;
}

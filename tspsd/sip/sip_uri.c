/*
 * sip_uri.c - the small URI reader of the INVITE fast path: name-addr /
 * addr-spec split and sip:/sips:/tel: URI parts, as spans, no allocation.
 * Anything it does not understand is refused, and the caller falls back to
 * the full osip parse.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip_internal.h"

static sip_span trim(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (sip_span){p, n};
}

int sip_addr_split(sip_span v, sip_span *uri, sip_span *display)
{
    int q = 0;
    size_t lt = v.n;
    *display = (sip_span){v.p, 0};
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] == '"' && (i == 0 || v.p[i - 1] != '\\'))
            q = !q;
        else if (v.p[i] == '<' && !q) {
            lt = i;
            break;
        }
    }
    if (q)
        return -1;
    if (lt < v.n) {
        const char *gt = memchr(v.p + lt, '>', v.n - lt);
        if (gt == NULL)
            return -1;
        *uri = trim(v.p + lt + 1, (size_t)(gt - v.p) - lt - 1);
        sip_span d = trim(v.p, lt);
        if (d.n >= 2 && d.p[0] == '"' && d.p[d.n - 1] == '"')
            d = (sip_span){d.p + 1, d.n - 2};
        *display = d;
    } else {
        /* addr-spec: header parameters follow the first ';' */
        const char *semi = memchr(v.p, ';', v.n);
        *uri = trim(v.p, semi == NULL ? v.n : (size_t)(semi - v.p));
    }
    return uri->n > 0 ? 0 : -1;
}

int sip_uri_split(sip_span u, sip_uri *o)
{
    memset(o, 0, sizeof(*o));
    const char *colon = memchr(u.p, ':', u.n);
    if (colon == NULL)
        return -1;
    o->scheme = (sip_span){u.p, (size_t)(colon - u.p)};
    const char *p = colon + 1, *end = u.p + u.n;
    o->user = (sip_span){p, 0};
    int tel = sip_span_eq(o->scheme, "tel");
    if (!tel && !sip_span_eq(o->scheme, "sip") &&
        !sip_span_eq(o->scheme, "sips"))
        return -1;
    const char *stop = p;
    while (stop < end && *stop != ';' && *stop != '?' && *stop != '>')
        stop++;
    if (tel) {
        o->user = (sip_span){p, (size_t)(stop - p)};
        return o->user.n > 0 ? 0 : -1;
    }
    size_t rest = u.n - (size_t)(p - u.p);
    const char *at = memchr(p, '@', rest);
    const char *h = p;
    if (at != NULL) {
        const char *ue = at;
        const char *pw = memchr(p, ':', (size_t)(at - p));
        if (pw != NULL)
            ue = pw;
        o->user = (sip_span){p, (size_t)(ue - p)};
        h = at + 1;
        stop = h;
        while (stop < end && *stop != ';' && *stop != '?' && *stop != '>')
            stop++;
    }
    if (h < stop && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(stop - h));
        if (rb == NULL)
            return -1;
        o->host = (sip_span){h, (size_t)(rb - h) + 1};
        h = rb + 1;
    } else {
        const char *c = memchr(h, ':', (size_t)(stop - h));
        o->host = (sip_span){h, (size_t)((c != NULL ? c : stop) - h)};
        h = c != NULL ? c : stop;
    }
    if (h < stop && *h == ':')
        o->port = (sip_span){h + 1, (size_t)(stop - h - 1)};
    for (size_t i = 0; i < o->port.n; i++)
        if (!isdigit((unsigned char)o->port.p[i]))
            return -1;
    return o->host.n > 0 && o->port.n <= 5 ? 0 : -1;
}

int sip_uri_key(sip_span uri, char *out, size_t n)
{
    sip_uri u;
    char host[128];
    if (sip_uri_split(uri, &u) != 0 || u.host.n == 0 ||
        u.host.n >= sizeof(host))
        return -1;
    for (size_t i = 0; i < u.host.n; i++)
        host[i] = (char)tolower((unsigned char)u.host.p[i]);
    host[u.host.n] = '\0';
    int port = 0;
    for (size_t i = 0; i < u.port.n; i++)
        port = port * 10 + (u.port.p[i] - '0');
    int k;
    if (port == 5060 || port == 0)
        k = snprintf(out, n, "%.*s@%s", (int)u.user.n, u.user.p, host);
    else
        k = snprintf(out, n, "%.*s@%s:%d", (int)u.user.n, u.user.p, host, port);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

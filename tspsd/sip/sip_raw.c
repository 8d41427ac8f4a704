/*
 * sip_raw.c - a raw scan of SIP messages: framing, the headers a response
 * echoes, and the response header block. The full parse (osip) happens later
 * and only for requests that need it; this scan must accept any bytes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip_internal.h"

#define MAX_LINE 8192 /* one header line (with folding) */

uint64_t sip_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

int sip_span_eq(sip_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static int is_token_char(int c)
{
    return c != 0 && (isalnum(c) || strchr("-.!%*_+`'~", c) != NULL);
}

static int is_lws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static sip_span trim(const char *p, size_t n)
{
    while (n > 0 && is_lws((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' ||
                     p[n - 1] == '\n'))
        n--;
    return (sip_span){p, n};
}

/* End of the line starting at p (index of '\n'), or len if none. */
static size_t line_end(const char *buf, size_t pos, size_t len)
{
    const char *nl = memchr(buf + pos, '\n', len - pos);
    return nl == NULL ? len : (size_t)(nl - buf);
}

static int name_is(sip_span name, const char *full, char compact)
{
    if (compact != 0 && name.n == 1 &&
        tolower((unsigned char)name.p[0]) == compact)
        return 1;
    return sip_span_eq(name, full);
}

/* Request-Line: Method SP Request-URI SP SIP-Version (RFC 3261 25.1):
 * exactly one SP between the three and none after the version, else
 * r->line_bad (answered 400); a version other than 2.0, r->version_bad
 * (answered 505). Both still scan the headers so that the request can be
 * answered. */
static int parse_first_line(const char *buf, size_t n, sip_raw *r)
{
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    sip_span l = {buf, n};
    if (l.n >= 8 && memcmp(l.p, "SIP/2.0 ", 8) == 0) {
        r->is_response = 1;
        return SIP_RAW_OK;
    }
    size_t i = 0;
    while (i < l.n && i < SIP_METHOD_MAX &&
           is_token_char((unsigned char)l.p[i]))
        i++;
    if (i == 0 || i >= l.n || l.p[i] != ' ')
        return SIP_RAW_JUNK;
    r->method = (sip_span){l.p, i};
    size_t u = i + 1;
    while (u < l.n && l.p[u] == ' ') {
        r->line_bad = 1;
        u++;
    }
    const char *sp = memchr(l.p + u, ' ', l.n - u);
    if (sp == NULL || u >= l.n)
        return SIP_RAW_JUNK;
    r->ruri = (sip_span){l.p + u, (size_t)(sp - (l.p + u))};
    size_t v = (size_t)(sp - l.p) + 1;
    while (v < l.n && l.p[v] == ' ') {
        r->line_bad = 1;
        v++;
    }
    size_t ve = l.n;
    while (ve > v && (l.p[ve - 1] == ' ' || l.p[ve - 1] == '\t')) {
        r->line_bad = 1; /* RFC 4475 3.1.2.10 (trws) */
        ve--;
    }
    sip_span ver = {l.p + v, ve - v};
    if (ver.n < 5 || strncasecmp(ver.p, "SIP/", 4) != 0 ||
        memchr(ver.p, ' ', ver.n) != NULL)
        return SIP_RAW_JUNK;
    if (!sip_span_eq(ver, "SIP/2.0"))
        r->version_bad = 1;
    return SIP_RAW_OK;
}

/*
 * A From/To value (name-addr or addr-spec): a display name is a quoted
 * string (balanced, with quoted-pairs) or tokens and LWS, followed by
 * "<...>". 0 = well-formed enough to be answered, -1 = not (RFC 4475
 * 3.1.2.6 quotbal, 3.1.2.12 baddn).
 */
static int addr_check(sip_span v)
{
    size_t i = 0;
    while (i < v.n && is_lws((unsigned char)v.p[i]))
        i++;
    if (i < v.n && v.p[i] == '"') {
        for (i++; i < v.n && v.p[i] != '"'; i++)
            if (v.p[i] == '\\')
                i++;
        if (i >= v.n)
            return -1; /* unterminated */
        i++;
        while (i < v.n && is_lws((unsigned char)v.p[i]))
            i++;
        if (i >= v.n || v.p[i] != '<')
            return -1;
    } else {
        const char *lt = memchr(v.p + i, '<', v.n - i);
        if (lt == NULL)
            return memchr(v.p, '"', v.n) != NULL ? -1 : 0; /* addr-spec */
        for (; v.p + i < lt; i++)
            if (!is_token_char((unsigned char)v.p[i]) &&
                !is_lws((unsigned char)v.p[i]))
                return -1; /* e.g. an unquoted comma */
    }
    return memchr(v.p + i, '>', v.n - i) != NULL ? 0 : -1;
}

/* Value of a parameter `name` in a header value (";name=value"). */
static sip_span param(sip_span v, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 < v.n; i++) {
        if (v.p[i] != ';')
            continue;
        size_t j = i + 1;
        while (j < v.n && (v.p[j] == ' ' || v.p[j] == '\t'))
            j++;
        if (j + nl < v.n && strncasecmp(v.p + j, name, nl) == 0 &&
            v.p[j + nl] == '=') {
            size_t s = j + nl + 1, e = s;
            while (e < v.n && strchr(";, \t\r\n", v.p[e]) == NULL)
                e++;
            return (sip_span){v.p + s, e - s};
        }
    }
    return (sip_span){NULL, 0};
}

/* The first value of a Via line (up to a comma outside quotes). */
static sip_span via_first(sip_span v)
{
    int q = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] == '"')
            q = !q;
        else if (v.p[i] == ',' && !q)
            return trim(v.p, i);
    }
    return v;
}

static void take_header(sip_raw *r, sip_span name, sip_span val, int *dup)
{
    if (name.n == 0 || name.n > 19)
        return;
    switch (tolower((unsigned char)name.p[0])) {
    case 'r':
    case 'v':
    case 'f':
    case 't':
    case 'i':
    case 'c':
    case 'm':
    case 'p':
    case 'l':
        break;
    default:
        return; /* none of the headers the scan keeps */
    }
    if (name_is(name, "via", 'v')) {
        if (r->nvia < SIP_MAX_VIAS)
            r->via[r->nvia++] = val;
        else
            *dup = 1;
    } else if (name_is(name, "from", 'f')) {
        *dup |= r->from.p != NULL;
        r->from = val;
    } else if (name_is(name, "to", 't')) {
        *dup |= r->to.p != NULL;
        r->to = val;
    } else if (name_is(name, "call-id", 'i')) {
        *dup |= r->call_id.p != NULL;
        r->call_id = val;
    } else if (name_is(name, "cseq", 0)) {
        *dup |= r->cseq.p != NULL;
        r->cseq = val;
    } else if (name_is(name, "max-forwards", 0)) {
        r->max_forwards = val;
    } else if (name_is(name, "p-asserted-identity", 0)) {
        if (r->pai.p == NULL)
            r->pai = val;
    } else if (name_is(name, "require", 0)) {
        if (r->nrequire < SIP_MAX_REQUIRE)
            r->require[r->nrequire++] = val;
    } else if (name_is(name, "content-length", 'l')) {
        long cl = 0;
        *dup |= r->content_length != -1; /* RFC 4475 3.1.2.17 (mcl01) */
        if (val.n == 0 || val.n > 9)
            cl = -2;
        for (size_t i = 0; i < val.n && cl >= 0; i++)
            cl = isdigit((unsigned char)val.p[i]) ? cl * 10 + (val.p[i] - '0')
                                                  : -2;
        r->content_length = cl;
    }
}

long sip_raw_cseq_num(const sip_raw *r)
{
    long n = 0;
    size_t i = 0;
    if (r->cseq.p == NULL)
        return -1;
    while (i < r->cseq.n && isdigit((unsigned char)r->cseq.p[i]) && i < 10)
        n = n * 10 + (r->cseq.p[i++] - '0');
    if (i == 0 || i >= r->cseq.n || n > 0x7fffffffL ||
        !is_lws((unsigned char)r->cseq.p[i]))
        return -1;
    return n;
}

static int cseq_ok(const sip_raw *r)
{
    if (sip_raw_cseq_num(r) < 0)
        return 0;
    const char *sp = r->cseq.p;
    size_t n = r->cseq.n;
    while (n > 0 && isdigit((unsigned char)*sp)) {
        sp++;
        n--;
    }
    sip_span m = trim(sp, n);
    if (m.n == 0)
        return 0;
    if (r->is_response)
        return 1;
    return m.n == r->method.n && memcmp(m.p, r->method.p, m.n) == 0;
}

int sip_raw_scan(const char *buf, size_t len, sip_raw *r)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = len;
    r->content_length = -1;
    if (len == 0 || len > SIP_MAX_MSG)
        return r->bad = len == 0 ? SIP_RAW_JUNK : SIP_RAW_TOOBIG;
    size_t e = line_end(buf, 0, len);
    if (e == len || e > MAX_LINE)
        return r->bad = SIP_RAW_JUNK;
    int rc = parse_first_line(buf, e, r);
    if (rc != SIP_RAW_OK)
        return r->bad = rc;

    int dup = 0, toobig = 0;
    size_t pos = e + 1;
    sip_span name = {NULL, 0};
    const char *vstart = NULL;
    for (;;) {
        if (pos >= len) {
            r->bad = SIP_RAW_NOHDREND;
            break;
        }
        e = line_end(buf, pos, len);
        int blank = (e == pos) || (e == pos + 1 && buf[pos] == '\r');
        int fold = !blank && (buf[pos] == ' ' || buf[pos] == '\t');
        if (!fold && name.p != NULL) {
            size_t vend = pos;
            if (vend - (size_t)(vstart - buf) > MAX_LINE)
                toobig = 1;
            take_header(r, name, trim(vstart, vend - (size_t)(vstart - buf)),
                        &dup);
            name.p = NULL;
        }
        if (e == len && !blank) {
            r->bad = SIP_RAW_NOHDREND;
            break;
        }
        if (blank) {
            r->hdr_len = e + 1;
            break;
        }
        if (!fold) {
            const char *colon = memchr(buf + pos, ':', e - pos);
            if (colon == NULL) {
                /* a line that is no header: junk inside the message */
                r->bad = SIP_RAW_JUNK;
                if (r->via[0].p == NULL)
                    return SIP_RAW_JUNK;
                pos = e + 1;
                continue;
            }
            name = trim(buf + pos, (size_t)(colon - buf) - pos);
            vstart = colon + 1;
        }
        pos = e + 1;
    }

    if (r->nvia > 0) {
        sip_span top = via_first(r->via[0]);
        r->branch = param(top, "branch");
    }
    if (r->bad != SIP_RAW_OK)
        return r->bad;
    if (toobig)
        return r->bad = SIP_RAW_TOOBIG;
    if (r->nvia == 0 || r->from.p == NULL || r->to.p == NULL ||
        r->call_id.p == NULL || r->call_id.n == 0 || r->cseq.p == NULL || dup)
        return r->bad = SIP_RAW_MISSING;
    if (!cseq_ok(r))
        return r->bad = SIP_RAW_BADCSEQ;
    if (r->version_bad)
        return r->bad = SIP_RAW_BADVERSION;
    if (r->line_bad)
        return r->bad = SIP_RAW_BADLINE;
    if (!r->is_response && (addr_check(r->from) != 0 || addr_check(r->to) != 0))
        return r->bad = SIP_RAW_BADADDR;
    if (r->content_length == -2 ||
        (r->content_length > 0 && (size_t)r->content_length > len - r->hdr_len))
        return r->bad = SIP_RAW_NOHDREND;
    return SIP_RAW_OK;
}

int sip_raw_addressable(const sip_raw *r)
{
    return !r->is_response && r->method.p != NULL && r->nvia > 0 &&
           r->from.p != NULL && r->to.p != NULL && r->call_id.p != NULL &&
           r->call_id.n > 0 && r->cseq.p != NULL &&
           !sip_span_eq(r->method, "ACK");
}

int sip_raw_frame(const char *buf, size_t len, size_t *msglen)
{
    size_t i = 0;
    *msglen = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i > 0) {
        *msglen = i;
        return 1;
    }
    const char *end = NULL;
    size_t scan = len < SIP_MAX_MSG ? len : SIP_MAX_MSG;
    for (size_t k = 0; k + 3 < scan; k++) {
        if (buf[k] == '\r' && memcmp(buf + k, "\r\n\r\n", 4) == 0) {
            end = buf + k + 4;
            break;
        }
    }
    if (end == NULL)
        return len >= SIP_MAX_MSG ? -1 : 0;
    sip_raw r;
    size_t hl = (size_t)(end - buf);
    sip_raw_scan(buf, hl, &r);
    if (r.hdr_len == 0)
        r.hdr_len = hl;
    long cl = r.content_length;
    if (cl == -2)
        return -1;
    if (cl < 0)
        cl = 0; /* RFC 3261 18.3: required on TCP; treat absent as 0 */
    if (hl + (size_t)cl > SIP_MAX_MSG)
        return -1;
    if (len < hl + (size_t)cl)
        return 0;
    *msglen = hl + (size_t)cl;
    return 1;
}

/* ---- output -------------------------------------------------------------- */

void sb_put(sip_buf *b, const char *p, size_t n)
{
    if (b->err || n == 0)
        return;
    if (b->len + n >= b->cap) {
        b->err = 1;
        return;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_puts(sip_buf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* A header value as received, folding (CR/LF) turned into spaces. */
static void sb_put_lws(sip_buf *b, const char *p, size_t n)
{
    size_t start = b->len;
    sb_put(b, p, n);
    if (b->err)
        return;
    for (size_t i = start; i < b->len; i++)
        if (b->p[i] == '\r' || b->p[i] == '\n')
            b->p[i] = ' ';
}

void sb_span(sip_buf *b, sip_span s)
{
    sb_put_lws(b, s.p, s.n);
}

void sb_printf(sip_buf *b, const char *fmt, ...)
{
    if (b->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->err = 1;
        if (b->len < b->cap)
            b->p[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

const char *sip_reason(int code)
{
    switch (code) {
    case 100:
        return "Trying";
    case 180:
        return "Ringing";
    case 200:
        return "OK";
    case 300:
        return "Multiple Choices";
    case 302:
        return "Moved Temporarily";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 416:
        return "Unsupported URI Scheme";
    case 420:
        return "Bad Extension";
    case 423:
        return "Interval Too Brief";
    case 480:
        return "Temporarily Unavailable";
    case 481:
        return "Call/Transaction Does Not Exist";
    case 482:
        return "Loop Detected";
    case 483:
        return "Too Many Hops";
    case 486:
        return "Busy Here";
    case 487:
        return "Request Terminated";
    case 500:
        return "Server Internal Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "Version Not Supported";
    case 513:
        return "Message Too Large";
    case 603:
        return "Decline";
    default:
        return "Unknown";
    }
}

static void src_ip(const sip_src *src, char *ip, size_t n, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (src->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&src->addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)n);
        *port = ntohs(a->sin_port);
    } else if (src->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)&src->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)n);
        *port = ntohs(a->sin6_port);
    }
}

/* Top Via with received= (RFC 3261 18.2.1) and rport= (RFC 3581). */
static void top_via(sip_buf *b, sip_span line, const sip_src *src)
{
    sip_span v = via_first(line);
    char ip[64];
    int port;
    src_ip(src, ip, sizeof(ip), &port);

    /* sent-protocol, then sent-by up to the first ';' */
    const char *semi = memchr(v.p, ';', v.n);
    size_t head = semi == NULL ? v.n : (size_t)(semi - v.p);
    sb_put_lws(b, v.p, head);
    sip_span sentby = trim(v.p, head);
    const char *sp = NULL;
    for (size_t i = sentby.n; i > 0; i--) {
        if (sentby.p[i - 1] == ' ' || sentby.p[i - 1] == '\t') {
            sp = sentby.p + i;
            break;
        }
    }
    sip_span host = {NULL, 0};
    if (sp != NULL) {
        host.p = sp;
        host.n = (size_t)(sentby.p + sentby.n - sp);
        const char *colon =
            host.n > 0 && host.p[0] != '[' ? memchr(host.p, ':', host.n) : NULL;
        if (colon != NULL)
            host.n = (size_t)(colon - host.p);
    }
    int have_received = 0;
    size_t i = head;
    while (i < v.n) {
        size_t s = i + 1, e = s;
        while (e < v.n && v.p[e] != ';')
            e++;
        sip_span prm = trim(v.p + s, e - s);
        if (sip_span_eq(prm, "rport") && ip[0] != '\0') {
            sb_printf(b, ";rport=%d", port);
        } else if (prm.n >= 9 && strncasecmp(prm.p, "received=", 9) == 0) {
            have_received = 1;
            sb_put_lws(b, v.p + i, e - i);
        } else {
            sb_put_lws(b, v.p + i, e - i);
        }
        i = e;
    }
    if (!have_received && ip[0] != '\0' && !sip_span_eq(host, ip))
        sb_printf(b, ";received=%s", ip);
    if (v.n < line.n)
        sb_put_lws(b, v.p + v.n, line.n - (size_t)(v.p + v.n - line.p));
}

static int has_tag(sip_span to)
{
    const char *gt = NULL;
    for (size_t i = to.n; i > 0; i--) {
        if (to.p[i - 1] == '>') {
            gt = to.p + i;
            break;
        }
    }
    sip_span params =
        gt == NULL ? to : (sip_span){gt, to.n - (size_t)(gt - to.p)};
    return param(params, "tag").p != NULL;
}

void sip_resp_begin(sip_buf *b, const sip_raw *r, const sip_src *src, int code,
                    const char *reason)
{
    sb_printf(b, "SIP/2.0 %d %s\r\n", code,
              reason != NULL ? reason : sip_reason(code));
    for (int i = 0; i < r->nvia; i++) {
        sb_puts(b, "Via: ");
        if (i == 0)
            top_via(b, r->via[0], src);
        else
            sb_span(b, r->via[i]);
        sb_puts(b, "\r\n");
    }
    sb_puts(b, "From: ");
    sb_span(b, r->from);
    sb_puts(b, "\r\nTo: ");
    sb_span(b, r->to);
    if (code > 100 && !has_tag(r->to)) {
        uint64_t h = sip_hash(SIP_HASH_INIT, r->call_id.p, r->call_id.n);
        h = sip_hash(h, r->from.p, r->from.n);
        sb_printf(b, ";tag=%016llx", (unsigned long long)h);
    }
    sb_puts(b, "\r\nCall-ID: ");
    sb_span(b, r->call_id);
    sb_puts(b, "\r\nCSeq: ");
    sb_span(b, r->cseq);
    sb_puts(b, "\r\n");
}

void sip_resp_end(sip_buf *b)
{
    sb_puts(b, "Server: tspsd\r\nContent-Length: 0\r\n\r\n");
}

/*
 * media_sdp.c - SDP offer/answer for the media front (RFC 3264): libosip2's
 * SDP parser, then our choice of PCMU/PCMA and telephone-event/8000.
 */
#include "media_internal.h"

#include <arpa/inet.h>
#include <osipparser2/sdp_message.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int set_err(char *err, size_t errlen, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", why);
    return MF_SDP_MALFORMED;
}

static int parse_dir(sdp_message_t *sdp, int pos_media, int dflt)
{
    const char *name;

    for (int i = 0;
         (name = sdp_message_a_att_field_get(sdp, pos_media, i)) != NULL; i++) {
        if (strcasecmp(name, "sendrecv") == 0)
            return MF_DIR_SENDRECV;
        if (strcasecmp(name, "sendonly") == 0)
            return MF_DIR_SENDONLY;
        if (strcasecmp(name, "recvonly") == 0)
            return MF_DIR_RECVONLY;
        if (strcasecmp(name, "inactive") == 0)
            return MF_DIR_INACTIVE;
    }
    return dflt;
}

/* rtpmap value "101 telephone-event/8000" -> 101 when it is that codec. */
static int rtpmap_is(const char *val, const char *codec)
{
    char *end;
    long pt = strtol(val, &end, 10);
    size_t cl = strlen(codec);

    if (end == val || pt < 0 || pt > 127 || *end != ' ')
        return -1;
    while (*end == ' ')
        end++;
    if (strncasecmp(end, codec, cl) != 0 || end[cl] != '/')
        return -1;
    if (strncmp(end + cl + 1, "8000", 4) != 0)
        return -1;
    return (int)pt;
}

static int parse_pt(const char *s)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 127)
        return -1;
    return (int)v;
}

/* Count space-separated non-empty tokens of [p, end); -1 on an empty one. */
static int tokens(const char *p, const char *end)
{
    int n = 0;
    const char *t = p;

    for (const char *q = p; q <= end; q++) {
        if (q == end || *q == ' ') {
            if (q == t)
                return -1;
            n++;
            t = q + 1;
        }
    }
    return n;
}

/*
 * libosip2's SDP parser trusts the shape of some lines (it was seen to read
 * past the buffer on an m= line without formats, found by fuzz_media_sdp),
 * so the offer is checked line by line first: "x=value" lines of text,
 * LF or CRLF, and the fields of o=, c= and m= all present.
 */
static int precheck(const char *b, size_t len, char *err, size_t errlen)
{
    const char *p = b, *end = b + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        int need = 0, got;

        if (le > p && le[-1] == '\r')
            le--;
        if (le == p) { /* empty line: only allowed as the very last */
            if (nl == NULL || nl + 1 == end)
                break;
            return set_err(err, errlen, "empty line inside SDP");
        }
        if (le - p < 2 || p[0] < 'a' || p[0] > 'z' || p[1] != '=')
            return set_err(err, errlen, "SDP line is not type=value");
        for (const char *q = p; q < le; q++) {
            unsigned char ch = (unsigned char)*q;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ch == '\r')
                return set_err(err, errlen, "control character in SDP");
        }
        switch (p[0]) {
        case 'o':
            need = 6;
            break;
        case 'c':
            need = 3;
            break;
        case 'm':
            need = 4;
            break;
        default:
            break;
        }
        if (need > 0) {
            got = tokens(p + 2, le);
            if (got < need || (p[0] != 'm' && got != need))
                return set_err(err, errlen, "SDP o=, c= or m= line incomplete");
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return 0;
}

int tspsd_media__sdp_negotiate(const char *body, size_t len, mf_sdp_offer *out,
                               char *err, size_t errlen)
{
    sdp_message_t *sdp = NULL;
    char *copy = NULL;
    int rc = MF_SDP_MALFORMED, audio = -1, sess_dir;
    const char *addr, *port_s, *m;
    long port;

    memset(out, 0, sizeof(*out));
    out->pt = -1;
    out->te_pt = -1;
    if (body == NULL || len == 0)
        return set_err(err, errlen, "empty SDP body");
    if (len > 16384)
        return set_err(err, errlen, "SDP body too large");
    if (memchr(body, '\0', len) != NULL)
        return set_err(err, errlen, "NUL byte in SDP");
    if (precheck(body, len, err, errlen) != 0)
        return MF_SDP_MALFORMED;
    copy = malloc(len + 3);
    if (copy == NULL)
        return set_err(err, errlen, "out of memory");
    memcpy(copy, body, len);
    copy[len] = '\0';
    if (body[len - 1] != '\n') /* the parser wants the last line ended */
        memcpy(copy + len, "\r\n", 3);
    if (sdp_message_init(&sdp) != 0) {
        rc = set_err(err, errlen, "out of memory");
        goto cleanup;
    }
    if (sdp_message_parse(sdp, copy) != 0) {
        rc = set_err(err, errlen, "SDP does not parse");
        goto cleanup;
    }
    for (int i = 0; !sdp_message_endof_media(sdp, i); i++) {
        m = sdp_message_m_media_get(sdp, i);
        if (m != NULL && strcasecmp(m, "audio") == 0) {
            audio = i;
            break;
        }
    }
    if (audio < 0) {
        rc = set_err(err, errlen, "no m=audio line");
        goto cleanup;
    }
    m = sdp_message_m_proto_get(sdp, audio);
    if (m == NULL || strcasecmp(m, "RTP/AVP") != 0) {
        /* RTP/SAVP and friends: we have no common profile */
        rc = MF_SDP_NOCODEC;
        set_err(err, errlen, "unsupported media profile");
        goto cleanup;
    }
    addr = sdp_message_c_addr_get(sdp, audio, 0);
    if (addr == NULL)
        addr = sdp_message_c_addr_get(sdp, -1, 0);
    if (addr == NULL) {
        rc = set_err(err, errlen, "no c= line");
        goto cleanup;
    }
    m = sdp_message_c_addrtype_get(sdp, audio, 0);
    if (m == NULL)
        m = sdp_message_c_addrtype_get(sdp, -1, 0);
    if (m != NULL && strcasecmp(m, "IP4") != 0) {
        rc = MF_SDP_NOCODEC;
        set_err(err, errlen, "only IP4 media addresses");
        goto cleanup;
    }
    out->remote.sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &out->remote.sin_addr) != 1) {
        rc = set_err(err, errlen, "c= address is not an IPv4 address");
        goto cleanup;
    }
    port_s = sdp_message_m_port_get(sdp, audio);
    port = port_s != NULL ? strtol(port_s, NULL, 10) : -1;
    if (port < 0 || port > 65535) {
        rc = set_err(err, errlen, "bad m=audio port");
        goto cleanup;
    }
    out->remote.sin_port = htons((uint16_t)port);
    /* the first of the offerer's formats that we support wins */
    for (int i = 0; (m = sdp_message_m_payload_get(sdp, audio, i)) != NULL;
         i++) {
        int pt = parse_pt(m);
        if (pt < 0) {
            rc = set_err(err, errlen, "bad payload type in m= line");
            goto cleanup;
        }
        if (out->pt < 0 && (pt == 0 || pt == 8))
            out->pt = pt;
    }
    for (int i = 0; (m = sdp_message_a_att_field_get(sdp, audio, i)) != NULL;
         i++) {
        const char *v = sdp_message_a_att_value_get(sdp, audio, i);
        int pt;
        if (strcasecmp(m, "rtpmap") != 0 || v == NULL)
            continue;
        pt = rtpmap_is(v, "telephone-event");
        if (pt >= 96 && out->te_pt < 0)
            out->te_pt = pt;
        /* dynamic payloads named PCMU/PCMA */
        if (out->pt < 0 && rtpmap_is(v, "PCMU") >= 0)
            out->pt = 0;
        if (out->pt < 0 && rtpmap_is(v, "PCMA") >= 0)
            out->pt = 8;
    }
    if (port == 0 || out->pt < 0) {
        rc = MF_SDP_NOCODEC;
        set_err(err, errlen,
                port == 0 ? "audio stream refused (port 0)"
                          : "no PCMU or PCMA offered");
        goto cleanup;
    }
    sess_dir = parse_dir(sdp, -1, MF_DIR_SENDRECV);
    out->dir = parse_dir(sdp, audio, sess_dir);
    if (out->remote.sin_addr.s_addr == htonl(INADDR_ANY))
        out->dir = MF_DIR_INACTIVE; /* RFC 2543 hold */
    rc = MF_SDP_OK;
cleanup:
    sdp_message_free(sdp);
    free(copy);
    return rc;
}

int tspsd_media__sdp_answer(const mf_sdp_offer *o, const char *addr,
                            uint16_t port, uint64_t sess_ver, int our_dir,
                            char *buf, size_t buflen)
{
    static const char *dirs[] = {"sendrecv", "sendonly", "recvonly",
                                 "inactive"};
    char fmts[32], maps[160];
    int n;

    if (o == NULL) { /* our offer (re-INVITE without SDP) */
        snprintf(fmts, sizeof(fmts), "0 8 101");
        snprintf(maps, sizeof(maps),
                 "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                 "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n");
    } else if (o->te_pt >= 0) {
        snprintf(fmts, sizeof(fmts), "%d %d", o->pt, o->te_pt);
        snprintf(maps, sizeof(maps),
                 "a=rtpmap:%d %s/8000\r\na=rtpmap:%d telephone-event/8000\r\n"
                 "a=fmtp:%d 0-16\r\n",
                 o->pt, o->pt == 0 ? "PCMU" : "PCMA", o->te_pt, o->te_pt);
    } else {
        snprintf(fmts, sizeof(fmts), "%d", o->pt);
        snprintf(maps, sizeof(maps), "a=rtpmap:%d %s/8000\r\n", o->pt,
                 o->pt == 0 ? "PCMU" : "PCMA");
    }
    if (our_dir < 0 || our_dir > MF_DIR_INACTIVE)
        our_dir = MF_DIR_SENDRECV;
    n = snprintf(buf, buflen,
                 "v=0\r\no=tsps %llu %llu IN IP4 %s\r\ns=tsps\r\n"
                 "c=IN IP4 %s\r\nt=0 0\r\nm=audio %u RTP/AVP %s\r\n%s"
                 "a=ptime:20\r\na=%s\r\n",
                 (unsigned long long)(sess_ver >> 8),
                 (unsigned long long)sess_ver, addr, addr, (unsigned)port, fmts,
                 maps, dirs[our_dir]);
    if (n < 0 || (size_t)n >= buflen)
        return -1;
    return n;
}

/*
 * media_rtp.c - the RTP (RFC 3550) and RFC 4733 telephone-event readers.
 * They see every packet from the network, so they check every length
 * before they read (and are a fuzz target: tests/fuzz/fuzz_media_rtp.c).
 */
#include "media_internal.h"

#include <string.h>

int tspsd_media__rtp_parse(const uint8_t *buf, size_t len, mf_rtp_pkt *out)
{
    size_t off = 12;
    unsigned cc, pad = 0;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < 12 || (buf[0] >> 6) != 2)
        return -1;
    cc = buf[0] & 0x0f;
    off += 4u * cc;
    if (off > len)
        return -1;
    if (buf[0] & 0x10) { /* header extension: 4 bytes + length words */
        size_t words;
        if (off + 4 > len)
            return -1;
        words = ((size_t)buf[off + 2] << 8) | buf[off + 3];
        off += 4 + 4 * words;
        if (off > len)
            return -1;
    }
    if (buf[0] & 0x20) { /* padding: last byte counts itself */
        pad = buf[len - 1];
        if (pad == 0 || pad > len - off)
            return -1;
    }
    out->marker = (buf[1] >> 7) & 1;
    out->pt = buf[1] & 0x7f;
    /* RTCP packet types 200-204 land on 72-76 with the marker bit set */
    if (out->pt >= 72 && out->pt <= 76)
        return -1;
    out->seq = (uint16_t)((buf[2] << 8) | buf[3]);
    out->ts = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) |
              ((uint32_t)buf[6] << 8) | buf[7];
    out->ssrc = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) |
                ((uint32_t)buf[10] << 8) | buf[11];
    out->payload = buf + off;
    out->plen = len - off - pad;
    return 0;
}

int tspsd_media__rfc4733_parse(const uint8_t *p, size_t len, mf_dtmf_evt *out)
{
    memset(out, 0, sizeof(*out));
    if (p == NULL || len < 4)
        return -1;
    out->event = p[0];
    out->end = (p[1] >> 7) & 1;
    out->volume = p[1] & 0x3f;
    out->duration = (uint16_t)((p[2] << 8) | p[3]);
    if (out->event > 15)
        return -1; /* not a DTMF digit (RFC 4733 events 16+ are tones) */
    return 0;
}

char tspsd_media__dtmf_char(int event)
{
    static const char map[] = "0123456789*#ABCD";

    if (event < 0 || event > 15)
        return 0;
    return map[event];
}

void tspsd_media__rtp_header(uint8_t *buf, int pt, int marker, uint16_t seq,
                             uint32_t ts, uint32_t ssrc)
{
    buf[0] = 0x80;
    buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(ts >> 24);
    buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
}

/* frame.c - length-prefixed frames. */
#include "frame.h"

uint32_t tspsd_frame_len(const uint8_t hdr[4])
{
    return ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) |
           ((uint32_t)hdr[2] << 8) | (uint32_t)hdr[3];
}

void tspsd_frame_header(uint8_t hdr[4], uint32_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

int tspsd_frame_next(const uint8_t *buf, size_t len, size_t max,
                     const uint8_t **payload, size_t *plen, size_t *consumed)
{
    uint32_t n;

    *payload = NULL;
    *plen = 0;
    *consumed = 0;
    if (len < TSPSD_FRAME_HDR)
        return TSPSD_FRAME_MORE;
    n = tspsd_frame_len(buf);
    if (n == 0)
        return TSPSD_FRAME_EEMPTY;
    if (n > max)
        return TSPSD_FRAME_ETOOBIG; /* decided on the header alone */
    if (len - TSPSD_FRAME_HDR < n)
        return TSPSD_FRAME_MORE;
    *payload = buf + TSPSD_FRAME_HDR;
    *plen = n;
    *consumed = TSPSD_FRAME_HDR + n;
    return TSPSD_FRAME_OK;
}

const char *tspsd_frame_strerror(int rc)
{
    switch (rc) {
    case TSPSD_FRAME_EEMPTY:
        return "empty frame";
    case TSPSD_FRAME_ETOOBIG:
        return "frame too large";
    default:
        return "frame error";
    }
}

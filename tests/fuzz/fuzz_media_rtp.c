/*
 * fuzz_media_rtp.c - the media front's RTP header and RFC 4733
 * telephone-event readers: every byte off the RTP port goes through them.
 */
#include "media_internal.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_rtp_pkt p;
    mf_dtmf_evt ev;

    if (tspsd_media__rtp_parse(data, size, &p) == 0) {
        /* the payload must lie inside the packet */
        if (p.payload < data || p.payload + p.plen > data + size)
            __builtin_trap();
        if (tspsd_media__rfc4733_parse(p.payload, p.plen, &ev) == 0 &&
            tspsd_media__dtmf_char(ev.event) == 0)
            __builtin_trap();
    }
    (void)tspsd_media__rfc4733_parse(data, size, &ev);
    return 0;
}

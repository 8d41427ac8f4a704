/*
 * fuzz_media_sdp.c - the media front's SDP offer reader (libosip2's SDP
 * parser plus our codec and direction choice) and the answer writer.
 */
#include "media_internal.h"

#include <osipparser2/osip_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    mf_sdp_offer o;
    char err[128], ans[1024];

    if (!init) {
        parser_init();
        init = 1;
    }
    if (tspsd_media__sdp_negotiate((const char *)data, size, &o, err,
                                   sizeof(err)) == MF_SDP_OK) {
        if ((o.pt != 0 && o.pt != 8) || o.te_pt > 127 || o.dir < 0 ||
            o.dir > MF_DIR_INACTIVE)
            __builtin_trap();
        if (tspsd_media__sdp_answer(&o, "127.0.0.1", 20000, 1, o.dir, ans,
                                    sizeof(ans)) < 0)
            __builtin_trap();
    }
    return 0;
}

/*
 * fuzz_ctl_frame - the control socket's input path: split a byte stream
 * into length-prefixed frames (tspsd_frame_next, 64 KiB cap here) and
 * decode each as a tsps.Request, as tspsd does, and as a tsps.Response, as
 * the client does; re-encode what decodes.
 */
#include "frame.h"
#include "tsps.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        const uint8_t *payload;
        size_t plen, used;
        int rc = tspsd_frame_next(data + off, size - off, 65536, &payload,
                                  &plen, &used);
        if (rc != TSPSD_FRAME_OK)
            break; /* MORE: wait (end of input); < 0: connection closed */
        Tsps__Request *req = tsps__request__unpack(NULL, plen, payload);
        if (req != NULL) {
            /* Re-encoding must write exactly the size it announced. (Not
             * that it decodes again: protobuf-c keeps an overlong tag 0 as
             * an unknown field and re-packs it short, which it then
             * refuses; the daemon never re-encodes requests.) */
            size_t n = tsps__request__get_packed_size(req);
            uint8_t *buf = malloc(n + 1);
            if (buf != NULL) {
                if (tsps__request__pack(req, buf) != n)
                    abort();
                free(buf);
            }
            tsps__request__free_unpacked(req, NULL);
        }
        Tsps__Response *resp = tsps__response__unpack(NULL, plen, payload);
        if (resp != NULL)
            tsps__response__free_unpacked(resp, NULL);
        off += used;
    }
    return 0;
}

/*
 * fuzz_media_rec.c - the voicemail store's message record reader: every
 * record read back from the store's LMDB file goes through it (a damaged
 * or foreign file must give "skip this record", never a crash), and what
 * it accepts must survive a write and a read unchanged.
 */
#include "media_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tspsd_media_message m, again;
    unsigned char buf[512];
    size_t n;

    if (tspsd_media__rec_decode(data, size, &m) != 0)
        return 0;
    /* every string is terminated inside its field */
    if (strnlen(m.id, sizeof(m.id)) == sizeof(m.id) ||
        strnlen(m.caller, sizeof(m.caller)) == sizeof(m.caller) ||
        strnlen(m.contact, sizeof(m.contact)) == sizeof(m.contact) ||
        strnlen(m.code, sizeof(m.code)) == sizeof(m.code) ||
        strnlen(m.history_id, sizeof(m.history_id)) == sizeof(m.history_id))
        __builtin_trap();
    n = tspsd_media__rec_encode(&m, buf, sizeof(buf));
    if (n == 0 || tspsd_media__rec_decode(buf, n, &again) != 0 ||
        strcmp(m.id, again.id) != 0 || strcmp(m.caller, again.caller) != 0 ||
        strcmp(m.contact, again.contact) != 0 ||
        strcmp(m.code, again.code) != 0 ||
        strcmp(m.history_id, again.history_id) != 0 || m.time != again.time ||
        m.duration_ms != again.duration_ms ||
        (m.heard != 0) != (again.heard != 0))
        __builtin_trap();
    return 0;
}

/*
 * fuzz_media_ivr.c - the IVR menu text parser and canonical writer: no
 * crash on any input, and whatever parses writes a text that parses back
 * to the same canonical text.
 */
#include "media_ivr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tspsd_ivr a, b;
    static char ta[TSPSD_IVR_TEXT_MAX * 2], tb[TSPSD_IVR_TEXT_MAX * 2];
    char err[256];
    size_t na = 0, nb = 0;

    if (tspsd_ivr_parse((const char *)data, size, &a, err, sizeof(err)) !=
        TSPSD_MEDIA_OK) {
        if (err[0] == '\0' || a.nmenus != 0)
            __builtin_trap(); /* a refusal always says why, leaves nothing */
        return 0;
    }
    if (a.nmenus == 0 || a.nmenus > TSPSD_IVR_MAX_MENUS)
        __builtin_trap();
    if (tspsd_ivr_format(&a, ta, sizeof(ta), &na) != TSPSD_MEDIA_OK)
        __builtin_trap();
    if (tspsd_ivr_parse(ta, na, &b, err, sizeof(err)) != TSPSD_MEDIA_OK)
        __builtin_trap();
    if (tspsd_ivr_format(&b, tb, sizeof(tb), &nb) != TSPSD_MEDIA_OK ||
        na != nb || memcmp(ta, tb, na) != 0)
        __builtin_trap();
    return 0;
}

/* libFuzzer target for tsps_normalize(): the input bytes as one NUL-
 * terminated string, read in a few dial plans; checks the result
 * invariants (abort() on a violation is how a fuzzer reports). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsps/tsps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, const tsps_number *n)
{
    size_t len;

    if (rc != TSPS_OK) {
        if (rc != TSPS_ENUMBER || n->e164[0] != '\0' || n->ext[0] != '\0')
            abort();
        return;
    }
    len = strnlen(n->e164, sizeof(n->e164));
    if (len >= sizeof(n->e164))
        abort();
    switch (n->kind) {
    case TSPS_NUM_E164:
        if (n->e164[0] != '+' || len < 2 || len > 16)
            abort();
        for (size_t i = 1; i < len; i++)
            if (n->e164[i] < '0' || n->e164[i] > '9')
                abort();
        if (n->e164[1] == '0')
            abort();
        break;
    case TSPS_NUM_LOCAL:
        if (len < 2)
            abort();
        for (size_t i = 0; i < len; i++)
            if (n->e164[i] < '0' || n->e164[i] > '9')
                abort();
        break;
    case TSPS_NUM_WITHHELD:
        if (len != 0 || n->ext[0] != '\0')
            abort();
        break;
    default:
        abort();
    }
    for (const char *p = n->ext; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const regions[] = {"DE", "US", "IT", "BR", "AR",
                                          "MX", "AU", "JP", "HU", "SG"};
    char buf[1024];
    tsps_dialplan dp;
    tsps_number n, again;

    if (size >= sizeof(buf))
        size = sizeof(buf) - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
        int rc;
        if (tsps_dialplan_for_region(regions[r], &dp) != TSPS_OK)
            abort();
        rc = tsps_normalize(buf, &dp, &n);
        check(rc, &n);
        /* an E.164 result is a fixed point in every plan */
        if (rc == TSPS_OK && n.kind == TSPS_NUM_E164) {
            if (tsps_normalize(n.e164, &dp, &again) != TSPS_OK ||
                again.kind != TSPS_NUM_E164 || strcmp(again.e164, n.e164))
                abort();
        }
    }
    /* no dial plan: never a local number; an E.164 result is a fixed
     * point and what any plan reads the same input as */
    {
        int rc = tsps_normalize_intl(buf, &n);
        check(rc, &n);
        if (rc == TSPS_OK && n.kind == TSPS_NUM_LOCAL)
            abort();
        if (rc == TSPS_OK && n.kind == TSPS_NUM_E164) {
            if (tsps_normalize_intl(n.e164, &again) != TSPS_OK ||
                strcmp(again.e164, n.e164))
                abort();
            if (tsps_normalize(buf, &dp, &again) != TSPS_OK ||
                strcmp(again.e164, n.e164) || strcmp(again.ext, n.ext))
                abort();
        }
    }
    return 0;
}

/* libtsps internals shared between its .c files. Not installed. */
#ifndef TSPS_INTERNAL_H
#define TSPS_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "tsps/tsps.h"

/* Copy a NUL-terminated string into a fixed field; TSPS_EINVAL if it does
 * not fit (we refuse rather than truncate). */
static inline int tsps__scopy(char *dst, size_t cap, const char *src)
{
    size_t n;
    if (src == NULL) {
        dst[0] = '\0';
        return TSPS_OK;
    }
    n = strnlen(src, cap);
    if (n >= cap)
        return TSPS_EINVAL;
    memcpy(dst, src, n + 1);
    return TSPS_OK;
}

/* Copy, truncating at a UTF-8 boundary (for display text in traces). */
static inline void tsps__stcopy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
    if (n == cap - 1)
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* E.164 "+4930123" -> 4930123 (digits as an integer; E.164 never starts
 * with 0 so this is lossless). 0 if not "+digits" of 1..15 digits. */
static inline uint64_t tsps__e164_key(const char *e164)
{
    uint64_t v = 0;
    int n = 0;
    if (e164 == NULL || e164[0] != '+')
        return 0;
    for (const char *p = e164 + 1; *p != '\0'; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 15)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return n > 0 ? v : 0;
}

#endif

/* libFuzzer: the iCalendar path (libical parse, recurrence expansion into
 * a window, attendees, busy state) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../libcmsbridge/adapters/vcard/vcard.h"

static int on_event(void *arg, const tsps_event *ev, const char *org)
{
    (void)arg;
    (void)org;
    /* what the store relies on */
    if (ev->end <= ev->start || ev->uid[0] == '\0' ||
        ev->nattendees > TSPS_MAX_ATTENDEES)
        abort();
    return 0;
}

static void on_err(void *arg, int line, const char *reason)
{
    (void)arg;
    (void)line;
    (void)reason;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* 2026-01-01 .. +90 days */
    vc_ical_expand(buf, size, 1767225600LL, 1767225600LL + 90 * 86400,
                   "Europe/Berlin", on_event, on_err, NULL);
    free(buf);
    return 0;
}

/* libFuzzer target: the DAV multistatus parser (carddav:/caldav:), as it
 * reads server answers: PROPFIND, sync-collection, multiget, DAV:error
 * (and the docs-dav listing: getlastmodified, getcontentlength). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dav_ms ms;
    char *buf = malloc(size + 1);

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (dav_ms_parse(buf, size, &ms) == CMSB_OK) {
        for (size_t i = 0; i < ms.n; i++) {
            const dav_resp *r = &ms.r[i];
            /* what the engine does with each answer */
            (void)dav_href_eq(r->href, "/alice/book/");
            if (r->data != NULL && strlen(r->data) > r->data_len)
                abort();
            /* docs-dav: a length is -1 (none) or a size, a date >= 0 */
            if (r->length < -1 || r->modified < 0)
                abort();
        }
    }
    dav_ms_free(&ms);
    free(buf);
    return 0;
}

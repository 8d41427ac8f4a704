/* libFuzzer target: the DAV multistatus parsers (carddav:/caldav:), as
 * they read server answers: the tree parser (PROPFIND, sync-collection,
 * multiget, DAV:error; the docs-dav listing's getlastmodified and
 * getcontentlength) and the streaming etag-listing parser, fed in chunks
 * whose size the first byte picks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

static int on_member(void *arg, dav_resp *r)
{
    /* what the listing does with each member */
    if (r->href == NULL || (r->etag != NULL && strlen(r->etag) > 16384))
        abort();
    (void)dav_href_eq(r->href, "/alice/book/");
    ++*(size_t *)arg;
    return 0;
}

static void stream(const uint8_t *data, size_t size)
{
    dav_stream *st = NULL;
    size_t step = size > 0 ? (size_t)data[0] % 97 + 1 : 1, n = 0;
    int rc;

    if (dav_stream_open(&st, on_member, &n) != CMSB_OK)
        return;
    rc = CMSB_OK;
    for (size_t i = 0; i < size && rc == CMSB_OK; i += step)
        rc = dav_stream_feed(st, (const char *)data + i,
                             size - i < step ? size - i : step);
    if (rc == CMSB_OK)
        (void)dav_stream_finish(st);
    dav_stream_free(st);
}

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
    stream(data, size);
    return 0;
}

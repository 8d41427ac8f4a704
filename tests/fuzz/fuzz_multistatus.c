/* libFuzzer target: the DAV multistatus parsers (carddav:/caldav:), as
 * they read server answers: the tree parser (PROPFIND, sync-collection,
 * multiget, DAV:error; the docs-dav listing's getlastmodified and
 * getcontentlength) and the streaming parser (etag listings, and
 * sync-collection answers with card data under a budget), fed in chunks
 * whose size the first byte picks; the second picks the data budget. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

typedef struct seen {
    size_t n, budget, data; /* members, the data budget, data handed out */
} seen;

static int on_member(void *arg, dav_resp *r)
{
    seen *s = arg;
    /* what the listing and the sync do with each member */
    if (r->href == NULL || (r->etag != NULL && strlen(r->etag) > 16384))
        abort();
    if (r->data != NULL &&
        (strlen(r->data) > r->data_len || r->data[r->data_len] != '\0'))
        abort();
    s->data += r->data != NULL ? r->data_len : 0;
    if (s->data > s->budget)
        abort(); /* never more data than the budget */
    (void)dav_href_eq(r->href, "/alice/book/");
    s->n++;
    return 0;
}

static void stream(const uint8_t *data, size_t size, int with_data)
{
    dav_stream *st = NULL;
    size_t step = size > 0 ? (size_t)data[0] % 97 + 1 : 1;
    seen s = {0, size > 1 ? (size_t)data[1] * 8 : 0, 0};
    int rc;

    if ((with_data ? dav_stream_open_data(&st, on_member, &s, s.budget)
                   : dav_stream_open(&st, on_member, &s)) != CMSB_OK)
        return;
    rc = CMSB_OK;
    for (size_t i = 0; i < size && rc == CMSB_OK; i += step)
        rc = dav_stream_feed(st, (const char *)data + i,
                             size - i < step ? size - i : step);
    if (rc == CMSB_OK)
        (void)dav_stream_finish(st);
    if (dav_stream_sync_token(st) != NULL)
        (void)strlen(dav_stream_sync_token(st));
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
    stream(data, size, 0);
    stream(data, size, 1);
    return 0;
}

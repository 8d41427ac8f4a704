/* libFuzzer target: the DAV adapter's sync cursor ("davsync 1|2 ..."), as
 * cmsb_sync hands it back from the store: any bytes must load or be refused
 * whole, and whatever loads must write back a cursor that loads again and
 * says the same (items may come in another order: they live in a hash map;
 * the cursor is rewritten every page of a sync). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The cursor text with the item lines of each collection sorted. */
static char *canonical(const char *text)
{
    size_t n = strlen(text), nl = 0, k = 0;
    char *copy = strdup(text), *out = malloc(n + 2), **lines;
    char *save = NULL, *p = out;

    if (copy == NULL || out == NULL) {
        free(copy);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        nl += text[i] == '\n';
    lines = calloc(nl + 2, sizeof(*lines));
    if (lines == NULL) {
        free(copy);
        free(out);
        return NULL;
    }
    for (char *l = strtok_r(copy, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save))
        lines[k++] = l;
    for (size_t i = 0; i < k;) {
        size_t j = i + 1;
        while (j < k && lines[j][0] == 'I')
            j++;
        qsort(lines + i + 1, j - i - 1, sizeof(*lines), cmp_line);
        i = j;
    }
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(lines[i]);
        memcpy(p, lines[i], l);
        p += l;
        *p++ = '\n';
    }
    *p = '\0';
    free(lines);
    free(copy);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dav_state a, b;
    vc_buf one = {0}, two = {0};
    char *buf = malloc(size + 1);
    int rc;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    rc = dav_state_parse(&a, buf, 7);
    if (rc >= 0 && dav_state_write(&a, 7, &one) == CMSB_OK) {
        char *c1, *c2;
        if (dav_state_parse(&b, one.p, 7) != 1)
            abort(); /* our own cursor, our fingerprint */
        if (dav_state_write(&b, 7, &two) != CMSB_OK)
            abort();
        c1 = canonical(one.p);
        c2 = canonical(two.p);
        if (c1 != NULL && c2 != NULL && strcmp(c1, c2) != 0)
            abort();
        free(c1);
        free(c2);
        dav_state_free(&b);
    }
    dav_state_free(&a);
    vc_buf_free(&one);
    vc_buf_free(&two);
    free(buf);
    return 0;
}

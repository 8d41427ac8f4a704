/* libFuzzer: the document text extractors of docs-dir on arbitrary bytes.
 * The first byte picks the reader (text, .eml, PDF through poppler, ODF
 * and DOCX through libzip + libxml2); the rest is the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const docs_kind kinds[] = {DOCS_TEXT, DOCS_EML, DOCS_PDF, DOCS_ODT,
                                      DOCS_DOCX};
    char *text = NULL, *title = NULL;
    const char *reason = NULL;
    size_t len = 0;
    int rc;

    if (size < 1)
        return 0;
    rc = docs_extract_mem(kinds[data[0] % 5], (const char *)data + 1, size - 1,
                          &text, &len, &title, &reason);
    if (rc == CMSB_OK) {
        if (text == NULL || strlen(text) != len)
            abort();
        free(rel_fold(text, len, REL_SNIPPET_MAX));
    } else if (text != NULL || title != NULL || reason == NULL) {
        abort();
    }
    free(text);
    free(title);
    return 0;
}

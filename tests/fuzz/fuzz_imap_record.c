/* libFuzzer: the imap index's stored message record (imap_record.c), as
 * read back from the LMDB file - a damaged file must give "damaged", never
 * a crash; what decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rel_mail m;
    int rc = im_rec_decode(data, size, &m);

    if (rc == 1) {
        size_t len = 0;
        unsigned char *again = im_rec_encode(&m, &len);
        /* a record carries nothing after its last string, so the bytes
         * read are a prefix of the input and re-encode identically */
        if (again == NULL || len > size || memcmp(again, data, len) != 0)
            abort();
        free(again);
        rel_mail_free(&m);
    }
    return 0;
}

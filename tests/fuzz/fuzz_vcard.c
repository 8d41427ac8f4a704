/* libFuzzer: the vCard parser, code resolution and the write-back editor
 * on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../libcmsbridge/adapters/vcard/vcard.h"

typedef struct fz {
    const vc_conf *conf;
    const char *buf;
    size_t len;
    char first_uid[TSPS_UID_MAX];
} fz;

static int on_card(void *arg, vc_card *k)
{
    fz *f = arg;

    vc_resolve_code(f->conf, k, k->nmembers > 0 ? "VIP" : NULL);
    if (f->first_uid[0] == '\0' && !k->is_group)
        memcpy(f->first_uid, k->c.uid, sizeof(f->first_uid));
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
    vc_conf conf = {"X-TSPS-CODE", size % 2 ? "tsps:" : "", "[tsps:", NULL,
                    CMSB_FORM_ALL};
    char *buf = malloc(size + 1);
    fz f;
    vc_buf out = {0};

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    memset(&f, 0, sizeof(f));
    f.conf = &conf;
    f.buf = buf;
    f.len = size;
    vc_parse(buf, size, &conf, "fuzz", on_card, on_err, &f);
    if (f.first_uid[0] != '\0') {
        vc_edit_code(buf, size, &conf, f.first_uid, TSPS_CODE_SRC_PROPERTY,
                     "SALES", 0, &out);
        vc_edit_code(buf, size, &conf, f.first_uid, TSPS_CODE_SRC_NONE, "",
                     CMSB_FORM_ALL, &out);
        vc_edit_code(buf, size, &conf, f.first_uid, TSPS_CODE_SRC_CATEGORY,
                     "VIP", 0, &out);
        vc_edit_code(buf, size, &conf, f.first_uid, TSPS_CODE_SRC_NOTE, "VIP",
                     0, &out);
        vc_edit_member(buf, size, &conf, "VIP", f.first_uid, size % 3 == 0,
                       &out);
    }
    vc_buf_free(&out);
    free(buf);
    return 0;
}

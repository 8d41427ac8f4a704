/* libFuzzer: the MIME path of the mail adapters on arbitrary bytes:
 * GMime's parser behind rel_mail_parse() (headers, RFC 2047 encoded
 * words, RFC 2231 parameters, charsets, multipart walking, snippet
 * folding), then matching the parsed addresses against a person. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "related.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rel_mail m;
    rel_who w;
    tsps_contact c;
    char why[TSPS_EMAIL_MAX + 8];
    rel_item it = {0};

    tsps_contact_init(&c);
    c.nemails = 2;
    strcpy(c.emails[0], "anna@example.org");
    strcpy(c.emails[1], "b@x.y");
    rel_who_from(&w, &c);
    if (rel_mail_parse((const char *)data, size, &m) != CMSB_OK)
        return 0;
    /* the invariants the adapters rely on */
    if (m.subject == NULL || m.from == NULL || m.to == NULL ||
        m.snippet == NULL || m.msgid == NULL ||
        strlen(m.snippet) > REL_SNIPPET_MAX || m.natt > CMSB_RELATED_ATTACH_MAX)
        abort();
    (void)rel_mail_match(&m, &w, why, sizeof(why));
    rel_item_from_mail(&it, &m);
    rel_mail_free(&m);
    rel_item_free(&it);
    /* folding on the raw bytes too */
    free(rel_fold((const char *)data, size, 64));
    return 0;
}

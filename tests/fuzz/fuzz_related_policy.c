/* libFuzzer: the per-code related-item criteria parser. Whatever parses
 * must write back (cmsb_related_policy_format) to a text that parses to
 * the same queries and writes back identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/cmsb.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *codes[] = {"*", "VIP", "FAMILY", "X", "", NULL};
    char *text = malloc(size + 1);
    char err[256], *f1 = NULL, *f2 = NULL;
    cmsb_related_policy *p = NULL, *p2 = NULL;
    size_t n1, n2;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cmsb_related_policy_parse(text, &p, err, sizeof(err)) != CMSB_OK) {
        if (err[0] == '\0' || strncmp(err, "line ", 5) != 0)
            abort(); /* every failure says where */
        free(text);
        return 0;
    }
    n1 = cmsb_related_policy_format(p, NULL, 0);
    f1 = malloc(n1 + 1);
    if (f1 == NULL || cmsb_related_policy_format(p, f1, n1 + 1) != n1)
        abort();
    if (cmsb_related_policy_parse(f1, &p2, err, sizeof(err)) != CMSB_OK)
        abort(); /* the canonical form must parse */
    n2 = cmsb_related_policy_format(p2, NULL, 0);
    f2 = malloc(n2 + 1);
    if (f2 == NULL || cmsb_related_policy_format(p2, f2, n2 + 1) != n2 ||
        strcmp(f1, f2) != 0)
        abort();
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        cmsb_related_query a, b;
        int ra = cmsb_related_policy_query(p, codes[i], 1796000000, &a);
        int rb = cmsb_related_policy_query(p2, codes[i], 1796000000, &b);
        if (ra != rb || (ra == CMSB_OK && memcmp(&a, &b, sizeof(a)) != 0))
            abort();
    }
    cmsb_related_policy_free(p);
    cmsb_related_policy_free(p2);
    free(f1);
    free(f2);
    free(text);
    return 0;
}

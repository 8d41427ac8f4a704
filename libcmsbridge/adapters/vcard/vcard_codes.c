/* Which handling code a card carries, and why: the precedence
 * property > note marker > category > group (docs/adapters.md). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vcard.h"

int vc_code_known(const vc_conf *conf, const char *raw, size_t len)
{
    const char *s = conf->known;

    if (s == NULL) {
        for (size_t i = 0; i < len; i++)
            if (raw[i] >= 'a' && raw[i] <= 'z')
                return 0;
        return len > 0;
    }
    while (*s != '\0') {
        const char *e = strchr(s, ',');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        const char *t = s;
        while (n > 0 && *t == ' ') {
            t++;
            n--;
        }
        while (n > 0 && t[n - 1] == ' ')
            n--;
        if (n == len && strncasecmp(t, raw, n) == 0)
            return 1;
        if (e == NULL)
            break;
        s = e + 1;
    }
    return 0;
}

int vc_label_code(const vc_conf *conf, const char *label, size_t len,
                  char out[TSPS_CODE_MAX])
{
    size_t pl = strlen(conf->cat_prefix);

    out[0] = '\0';
    if (len <= pl || (pl > 0 && strncasecmp(label, conf->cat_prefix, pl) != 0))
        return 0;
    if (!cmsb_code_normalize(label + pl, len - pl, out) ||
        (pl == 0 && !vc_code_known(conf, label, len))) {
        out[0] = '\0';
        return 0;
    }
    return 1;
}

typedef struct form {
    tsps_code_source src;
    const char *code;
    char desc[64];
} form;

void vc_resolve_code(const vc_conf *conf, vc_card *k, const char *group_code)
{
    form f[4];
    int n = 0, win = -1;
    size_t o;
    char *d = k->c.code_detail;
    size_t cap = sizeof(k->c.code_detail);

    /* In precedence order: an explicit property is only ever written on
     * purpose by a tsps-aware tool; a NOTE marker is an explicit tsps
     * marker typed by the user; categories and groups are general-purpose
     * labels that may mean something else too, groups the most so. */
    if (k->prop_code[0] != '\0') {
        f[n].src = TSPS_CODE_SRC_PROPERTY;
        f[n].code = k->prop_code;
        snprintf(f[n++].desc, sizeof(f[0].desc), "%s=%s", conf->code_prop,
                 k->prop_code);
    }
    if (k->note_code[0] != '\0') {
        f[n].src = TSPS_CODE_SRC_NOTE;
        f[n].code = k->note_code;
        snprintf(f[n++].desc, sizeof(f[0].desc), "NOTE %s%s]",
                 conf->note_prefix, k->note_code);
    }
    if (k->cat_code[0] != '\0') {
        f[n].src = TSPS_CODE_SRC_CATEGORY;
        f[n].code = k->cat_code;
        snprintf(f[n++].desc, sizeof(f[0].desc), "CATEGORIES=%s", k->cat_token);
    }
    if (group_code != NULL && group_code[0] != '\0' &&
        (conf->forms & CMSB_FORM_GROUP)) {
        f[n].src = TSPS_CODE_SRC_GROUP;
        f[n].code = group_code;
        snprintf(f[n++].desc, sizeof(f[0].desc), "group %s", group_code);
    }
    k->c.code[0] = '\0';
    k->c.code_source = TSPS_CODE_SRC_NONE;
    d[0] = '\0';
    if (n == 0)
        return;
    win = 0;
    snprintf(k->c.code, sizeof(k->c.code), "%s", f[win].code);
    k->c.code_source = f[win].src;
    o = (size_t)snprintf(d, cap, "%s", f[win].desc);
    for (int i = 1; i < n && o < cap; i++) {
        if (strcmp(f[i].code, f[win].code) == 0)
            continue;
        o += (size_t)snprintf(d + o, cap - o, "%s%s",
                              strstr(d, " wins over ") ? ", " : " wins over ",
                              f[i].desc);
    }
}

/* Test helper: a canonical text dump of what the vCard parser makes of a
 * file (cards with code resolution, group cards, skipped entries). The
 * corpus tests compare it with tests/data/vcard/<name>.expected. */
#ifndef CMSB_DUMP_H
#define CMSB_DUMP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcard.h"

typedef struct dump_ctx {
    vc_conf conf;
    vc_map groups; /* member uid -> group code (pass 1) */
    vc_buf out;
} dump_ctx;

static int dump_group_pass(void *arg, vc_card *k)
{
    dump_ctx *d = arg;
    const char *m = k->members.p;

    if (!k->is_group || k->group_code[0] == '\0')
        return 0;
    for (size_t i = 0; i < k->nmembers; i++, m += strlen(m) + 1)
        vc_map_put(&d->groups, m, k->group_code);
    return 0;
}

static int dump_card(void *arg, vc_card *k)
{
    dump_ctx *d = arg;

    if (k->is_group) {
        vc_buf_printf(&d->out, "group line=%d name=%s code=%s members=%zu\n",
                      k->line, k->group_name, k->group_code, k->nmembers);
        return 0;
    }
    vc_resolve_code(&d->conf, k, vc_map_get(&d->groups, k->c.uid));
    vc_buf_printf(&d->out, "card line=%d version=%d\n", k->line, k->vers);
    vc_buf_printf(&d->out, "  uid=%s\n  name=%s\n  org=%s\n", k->c.uid,
                  k->c.name, k->c.org);
    vc_buf_printf(&d->out, "  code=%s source=%s\n  detail=%s\n", k->c.code,
                  tsps_code_source_name(k->c.code_source), k->c.code_detail);
    for (int i = 0; i < k->c.nnumbers; i++)
        vc_buf_printf(&d->out, "  tel=%s types=%s label=%s\n", k->c.numbers[i],
                      k->tel_types[i], k->tel_label[i]);
    for (int i = 0; i < k->c.nemails; i++)
        vc_buf_printf(&d->out, "  email=%s\n", k->c.emails[i]);
    return 0;
}

static void dump_err(void *arg, int line, const char *reason)
{
    dump_ctx *d = arg;

    vc_buf_printf(&d->out, "error line=%d reason=%s\n", line, reason);
}

static void dump_quiet(void *arg, int line, const char *reason)
{
    (void)arg;
    (void)line;
    (void)reason;
}

/* Dump a buffer; the caller frees the returned string. */
static char *dump_vcard(const char *buf, size_t len, const char *prefix,
                        const char *known)
{
    dump_ctx d;
    char *s;

    memset(&d, 0, sizeof(d));
    d.conf.code_prop = "X-TSPS-CODE";
    d.conf.cat_prefix = prefix;
    d.conf.note_prefix = "[tsps:";
    d.conf.known = known;
    d.conf.forms = CMSB_FORM_ALL;
    vc_parse(buf, len, &d.conf, "file", dump_group_pass, dump_quiet, &d);
    vc_parse(buf, len, &d.conf, "file", dump_card, dump_err, &d);
    vc_map_free(&d.groups);
    s = d.out.p != NULL ? d.out.p : strdup("");
    return s;
}

#endif

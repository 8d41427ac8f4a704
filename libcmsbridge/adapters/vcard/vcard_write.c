/* Editing a handling code inside a vCard file: only the bytes of the code
 * field change; everything else is copied through untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcard.h"

typedef struct edit {
    size_t start, end; /* replace in[start, end) ... */
    vc_buf rep;        /* ... with this */
} edit;

typedef struct find_ctx {
    const char *uid;
    const char *code; /* for groups: the group name */
    int group;
    vc_card card;
    int found;
} find_ctx;

static int on_find(void *arg, vc_card *k)
{
    find_ctx *f = arg;

    if (f->group ? (k->is_group && strcmp(k->group_code, f->code) == 0)
                 : (!k->is_group && strcmp(k->c.uid, f->uid) == 0)) {
        f->card = *k;
        memset(&f->card.members, 0, sizeof(f->card.members));
        f->found = 1;
        return 1;
    }
    return 0;
}

static void no_err(void *arg, int line, const char *reason)
{
    (void)arg;
    (void)line;
    (void)reason;
}

static const char *colon_of(const char *s, size_t n)
{
    int q = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q = !q;
        else if (s[i] == ':' && !q)
            return s + i;
    }
    return NULL;
}

/* The line ending a span ends with. */
static const char *ending(const char *in, const vc_span *sp)
{
    if (sp->end >= sp->start + 2 && in[sp->end - 2] == '\r' &&
        in[sp->end - 1] == '\n')
        return "\r\n";
    if (sp->end > sp->start && in[sp->end - 1] == '\n')
        return "\n";
    return "";
}

static const char *find_ci(const char *h, size_t n, const char *needle)
{
    return vc_memcasemem(h, n, needle);
}

static int edit_property(const char *in, const vc_conf *cf, vc_card *k,
                         const char *code, edit *e)
{
    const vc_span *sp = &k->prop_span;

    if (k->prop_code[0] == '\0') {
        /* a new property just before END:VCARD */
        e->start = e->end = k->end_start;
        return vc_buf_printf(&e->rep, "%s:%s%s", cf->code_prop, code,
                             k->line_end);
    }
    e->start = sp->start;
    e->end = sp->end;
    if (code[0] == '\0')
        return vc_buf_add(&e->rep, "", 0);
    {
        const char *c = colon_of(in + sp->start, sp->end - sp->start);
        if (c == NULL)
            return CMSB_ENOTSUP;
        if (vc_buf_add(&e->rep, in + sp->start,
                       (size_t)(c + 1 - (in + sp->start))) != CMSB_OK)
            return CMSB_ENOMEM;
        return vc_buf_printf(&e->rep, "%s%s", code, ending(in, sp));
    }
}

static int edit_note(const char *in, const vc_conf *cf, vc_card *k,
                     const char *code, edit *e)
{
    const vc_span *sp = &k->note_span;
    char old[96];
    const char *m;
    size_t ml, s0, s1;

    snprintf(old, sizeof(old), "%s%s]", cf->note_prefix, k->note_code);
    m = find_ci(in + sp->start, sp->end - sp->start, old);
    if (m == NULL)
        return CMSB_ENOTSUP; /* folded or encoded across the marker */
    ml = strlen(old);
    s0 = (size_t)(m - in);
    s1 = s0 + ml;
    if (code[0] == '\0') {
        /* drop one separating space with the marker */
        if (s0 > sp->start && in[s0 - 1] == ' ')
            s0--;
        else if (s1 < sp->end && in[s1] == ' ')
            s1++;
        e->start = s0;
        e->end = s1;
        return vc_buf_add(&e->rep, "", 0);
    }
    e->start = s0;
    e->end = s1;
    /* keep the opener as the user wrote it */
    if (vc_buf_add(&e->rep, m, strlen(cf->note_prefix)) != CMSB_OK)
        return CMSB_ENOMEM;
    return vc_buf_printf(&e->rep, "%s]", code);
}

static int edit_category(const char *in, const vc_conf *cf, vc_card *k,
                         const char *code, edit *e)
{
    const vc_span *sp = &k->cat_span;
    const char *line = in + sp->start;
    size_t n = sp->end - sp->start, tl = strlen(k->cat_token);
    const char *c = colon_of(line, n);
    size_t pl = strlen(cf->cat_prefix);
    const char *end = line + n;

    while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (c == NULL)
        return CMSB_ENOTSUP;
    for (const char *p = c + 1; p + tl <= end; p++) {
        const char *b = p, *a = p + tl;
        if (strncasecmp(p, k->cat_token, tl) != 0)
            continue;
        while (b > c + 1 && b[-1] == ' ')
            b--;
        while (a < end && *a == ' ')
            a++;
        if (!(b == c + 1 || b[-1] == ',') || !(a == end || *a == ','))
            continue;
        if (code[0] != '\0') {
            e->start = (size_t)(p - in);
            e->end = (size_t)(p + tl - in);
            if (vc_buf_add(&e->rep, p, pl) != CMSB_OK)
                return CMSB_ENOMEM;
            return vc_buf_str(&e->rep, code);
        }
        if (b == c + 1 && a == end) { /* the only category: drop the line */
            e->start = sp->start;
            e->end = sp->end;
        } else if (a < end) { /* "X,VIP,Y" -> "X,Y" */
            e->start = (size_t)(b - in);
            e->end = (size_t)(a + 1 - in);
        } else { /* last: take the comma before it */
            e->start = (size_t)(b - 1 - in);
            e->end = (size_t)(a - in);
        }
        return vc_buf_add(&e->rep, "", 0);
    }
    return CMSB_ENOTSUP;
}

static int cmp_edit(const void *a, const void *b)
{
    const edit *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int apply(const char *in, size_t len, edit *e, int n, vc_buf *out)
{
    size_t pos = 0;
    int rc = CMSB_OK;

    qsort(e, (size_t)n, sizeof(edit), cmp_edit);
    out->len = 0;
    for (int i = 0; i < n && rc == CMSB_OK; i++) {
        if (e[i].start < pos)
            return CMSB_ENOTSUP; /* overlapping: refuse, do not guess */
        rc = vc_buf_add(out, in + pos, e[i].start - pos);
        if (rc == CMSB_OK)
            rc = vc_buf_add(out, e[i].rep.p, e[i].rep.len);
        pos = e[i].end;
    }
    if (rc == CMSB_OK)
        rc = vc_buf_add(out, in + pos, len - pos);
    return rc;
}

int vc_edit_code(const char *in, size_t len, const vc_conf *conf,
                 const char *uid, int set_form, const char *code,
                 unsigned clear, vc_buf *out)
{
    find_ctx f;
    edit e[3];
    int n = 0, rc;

    memset(&f, 0, sizeof(f));
    memset(e, 0, sizeof(e));
    f.uid = uid;
    rc = vc_parse(in, len, conf, "", on_find, no_err, &f);
    if (rc != CMSB_OK && rc != CMSB_ECANCELED)
        return rc;
    if (!f.found)
        return CMSB_ENOTFOUND;
    rc = CMSB_OK;
    if (set_form == TSPS_CODE_SRC_PROPERTY)
        rc = edit_property(in, conf, &f.card, code, &e[n++]);
    else if ((clear & CMSB_FORM_PROPERTY) && f.card.prop_code[0] != '\0')
        rc = edit_property(in, conf, &f.card, "", &e[n++]);
    if (rc == CMSB_OK) {
        if (set_form == TSPS_CODE_SRC_NOTE)
            rc = edit_note(in, conf, &f.card, code, &e[n++]);
        else if ((clear & CMSB_FORM_NOTE) && f.card.note_code[0] != '\0')
            rc = edit_note(in, conf, &f.card, "", &e[n++]);
    }
    if (rc == CMSB_OK) {
        if (set_form == TSPS_CODE_SRC_CATEGORY)
            rc = edit_category(in, conf, &f.card, code, &e[n++]);
        else if ((clear & CMSB_FORM_CATEGORY) && f.card.cat_code[0] != '\0')
            rc = edit_category(in, conf, &f.card, "", &e[n++]);
    }
    if (rc == CMSB_OK)
        rc = apply(in, len, e, n, out);
    for (int i = 0; i < 3; i++)
        vc_buf_free(&e[i].rep);
    return rc;
}

int vc_edit_member(const char *in, size_t len, const vc_conf *conf,
                   const char *code, const char *uid, int add, vc_buf *out)
{
    find_ctx f;
    edit e;
    int rc;

    memset(&f, 0, sizeof(f));
    memset(&e, 0, sizeof(e));
    f.code = code;
    f.group = 1;
    rc = vc_parse(in, len, conf, "", on_find, no_err, &f);
    if (rc != CMSB_OK && rc != CMSB_ECANCELED)
        return rc;
    if (!f.found)
        return CMSB_ENOTFOUND;
    if (add) {
        e.start = e.end = f.card.end_start;
        rc = vc_buf_printf(&e.rep, "%s:urn:uuid:%s%s",
                           f.card.apple_group ? "X-ADDRESSBOOKSERVER-MEMBER"
                                              : "MEMBER",
                           uid, f.card.line_end);
    } else {
        /* find the member line among the card's lines */
        const char *p = in + f.card.start, *end = in + f.card.end;
        rc = CMSB_ENOTFOUND;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl != NULL ? nl + 1 : end;
            const char *c = colon_of(p, (size_t)(le - p));
            size_t vl;
            if (c != NULL &&
                (strncasecmp(p, "MEMBER", 6) == 0 ||
                 strncasecmp(p, "X-ADDRESSBOOKSERVER-MEMBER", 26) == 0)) {
                const char *v = c + 1;
                vl = (size_t)(le - v);
                while (vl > 0 && (v[vl - 1] == '\n' || v[vl - 1] == '\r'))
                    vl--;
                if (vl > 9 && strncasecmp(v, "urn:uuid:", 9) == 0) {
                    v += 9;
                    vl -= 9;
                }
                if (vl == strlen(uid) && memcmp(v, uid, vl) == 0) {
                    e.start = (size_t)(p - in);
                    e.end = (size_t)(le - in);
                    rc = vc_buf_add(&e.rep, "", 0);
                    break;
                }
            }
            p = le;
        }
    }
    if (rc == CMSB_OK)
        rc = apply(in, len, &e, 1, out);
    vc_buf_free(&e.rep);
    return rc;
}

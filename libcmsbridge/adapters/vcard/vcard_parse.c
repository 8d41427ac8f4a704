/* The vCard 2.1/3.0/4.0 parser: unfolding, quoted-printable (soft line
 * breaks), CHARSET, escaping, grouped properties, TYPE params in every
 * spelling; one callback per card, with a located error per skipped card. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcard.h"

typedef struct prop {
    const char *group, *name, *params, *value;
    size_t glen, nlen, plen, vlen;
    size_t start, end;
    int line;
    int stray; /* a line without ':' */
} prop;

typedef struct params {
    int qp, b64, uri, pref;
    char charset[24];
    char types[40];
} params;

typedef struct pctx {
    const char *buf;
    size_t len, pos;
    int lineno;
    vc_buf fold; /* unfolded logical line when it spans lines */
    vc_buf dec;  /* decoded value */
    const vc_conf *conf;
} pctx;

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The physical line at pos: [*ls, *le) without CR/LF; returns the offset
 * of the next line. */
static size_t phys_line(const pctx *x, size_t pos, size_t *le)
{
    const char *nl = memchr(x->buf + pos, '\n', x->len - pos);
    size_t end = nl != NULL ? (size_t)(nl - x->buf) : x->len;
    size_t next = nl != NULL ? end + 1 : x->len;

    if (end > pos && x->buf[end - 1] == '\r')
        end--;
    *le = end;
    return next;
}

static const char *find_colon(const char *s, size_t n)
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

/* Append the physical line at `at` (from `skip` bytes in) to the logical
 * line being built; switches to the fold buffer on first use. */
static int join(pctx *x, const char **line, size_t *llen, int *folded,
                size_t at, size_t skip, size_t *next)
{
    size_t cle, cnext = phys_line(x, at, &cle);

    if (!*folded) {
        x->fold.len = 0;
        if (vc_buf_add(&x->fold, *line, *llen) != CMSB_OK)
            return CMSB_ENOMEM;
        *folded = 1;
    }
    if (cle > at + skip &&
        vc_buf_add(&x->fold, x->buf + at + skip, cle - at - skip) != CMSB_OK)
        return CMSB_ENOMEM;
    x->lineno++;
    *next = cnext;
    *line = x->fold.p;
    *llen = x->fold.len;
    return CMSB_OK;
}

static void split_head(prop *p, const char *line, const char *colon)
{
    const char *head = line;
    size_t hlen = (size_t)(colon - line);
    const char *semi = memchr(head, ';', hlen);
    size_t nlen = semi != NULL ? (size_t)(semi - head) : hlen;
    const char *dot = NULL;

    for (size_t i = 0; i < nlen; i++)
        if (head[i] == '.')
            dot = head + i;
    if (dot != NULL) {
        p->group = head;
        p->glen = (size_t)(dot - head);
        p->name = dot + 1;
        p->nlen = nlen - p->glen - 1;
    } else {
        p->name = head;
        p->nlen = nlen;
    }
    if (semi != NULL) {
        p->params = semi + 1;
        p->plen = hlen - nlen - 1;
    }
}

/* Read the next logical line into p; 0 at end of input, <0 on ENOMEM. */
static int next_prop(pctx *x, prop *p)
{
    size_t ls, le, next, off;
    const char *line, *colon;
    size_t llen;
    int folded = 0, qp;

    for (;;) {
        if (x->pos >= x->len)
            return 0;
        ls = x->pos;
        next = phys_line(x, ls, &le);
        x->lineno++;
        if (le > ls)
            break;
        x->pos = next; /* blank line */
    }
    memset(p, 0, sizeof(*p));
    p->start = ls;
    p->line = x->lineno;
    line = x->buf + ls;
    llen = le - ls;
    colon = find_colon(line, llen);
    /* the encoding is a parameter: only a head with ';' can have it */
    qp = colon != NULL && memchr(line, ';', (size_t)(colon - line)) != NULL &&
         vc_memcasemem(line, (size_t)(colon - line), "QUOTED-PRINTABLE");
    off = colon != NULL ? (size_t)(colon - line) : 0;
    while (next < x->len) {
        if (qp && llen > off + 1 && line[llen - 1] == '=') {
            /* vCard 2.1 quoted-printable soft break: the next line is
             * content as it stands, leading spaces included */
            if (!folded) {
                x->fold.len = 0;
                if (vc_buf_add(&x->fold, line, llen) != CMSB_OK)
                    return CMSB_ENOMEM;
                folded = 1;
            }
            x->fold.len--;
            if (join(x, &line, &llen, &folded, next, 0, &next) != CMSB_OK)
                return CMSB_ENOMEM;
        } else if (is_ws(x->buf[next])) {
            /* RFC 6350 folding: CRLF + one space or tab disappear */
            if (join(x, &line, &llen, &folded, next, 1, &next) != CMSB_OK)
                return CMSB_ENOMEM;
        } else {
            break;
        }
    }
    x->pos = next;
    p->end = next;
    if (colon == NULL) {
        /* the first physical line had no ':'; the name may be folded */
        colon = find_colon(line, llen);
        if (colon == NULL) {
            p->stray = 1;
            p->value = line;
            p->vlen = llen;
            return 1;
        }
    } else {
        colon = line + off;
    }
    p->value = colon + 1;
    p->vlen = llen - (size_t)(colon + 1 - line);
    split_head(p, line, colon);
    return 1;
}

static void add_type(params *pa, const char *s, size_t n)
{
    char t[24];
    size_t cur = strlen(pa->types), i;

    while (n > 0 && (is_ws(*s) || *s == '"')) {
        s++;
        n--;
    }
    while (n > 0 && (is_ws(s[n - 1]) || s[n - 1] == '"'))
        n--;
    if (n == 0 || n >= sizeof(t))
        return;
    for (i = 0; i < n; i++)
        t[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    t[n] = '\0';
    /* no duplicates */
    for (const char *q = pa->types; *q != '\0';) {
        const char *c = strchr(q, ',');
        size_t l = c != NULL ? (size_t)(c - q) : strlen(q);
        if (l == n && memcmp(q, t, n) == 0)
            return;
        q += l + (c != NULL);
    }
    if (cur + n + 2 > sizeof(pa->types))
        return;
    if (cur > 0)
        pa->types[cur++] = ',';
    memcpy(pa->types + cur, t, n + 1);
}

static void parse_params(const prop *p, params *pa)
{
    const char *s = p->params;
    size_t n = p->plen, i = 0;

    memset(pa, 0, sizeof(*pa));
    while (i < n) {
        size_t st = i, eq = 0;
        int q = 0;
        while (i < n && (q || s[i] != ';')) {
            if (s[i] == '"')
                q = !q;
            if (s[i] == '=' && eq == 0 && !q)
                eq = i;
            i++;
        }
        if (eq != 0) {
            const char *k = s + st, *v = s + eq + 1;
            size_t kl = eq - st, vl = i - eq - 1;
            if (vc_strncaseeq(k, kl, "TYPE")) {
                size_t a = 0;
                while (a <= vl) {
                    size_t b = a;
                    while (b < vl && v[b] != ',')
                        b++;
                    add_type(pa, v + a, b - a);
                    a = b + 1;
                }
            } else if (vc_strncaseeq(k, kl, "ENCODING")) {
                if (vc_strncaseeq(v, vl, "QUOTED-PRINTABLE"))
                    pa->qp = 1;
                else if (vc_strncaseeq(v, vl, "B") ||
                         vc_strncaseeq(v, vl, "BASE64"))
                    pa->b64 = 1;
            } else if (vc_strncaseeq(k, kl, "CHARSET")) {
                vc_copy(pa->charset, sizeof(pa->charset), v, vl);
            } else if (vc_strncaseeq(k, kl, "VALUE")) {
                pa->uri = vc_strncaseeq(v, vl, "uri");
            } else if (vc_strncaseeq(k, kl, "PREF")) {
                add_type(pa, "pref", 4);
            }
        } else if (i > st) {
            const char *k = s + st;
            size_t kl = i - st;
            if (vc_strncaseeq(k, kl, "QUOTED-PRINTABLE"))
                pa->qp = 1;
            else if (vc_strncaseeq(k, kl, "BASE64"))
                pa->b64 = 1;
            else if (!vc_strncaseeq(k, kl, "7BIT") &&
                     !vc_strncaseeq(k, kl, "8BIT"))
                add_type(pa, k, kl); /* vCard 2.1 bare: TEL;WORK;VOICE */
        }
        i++;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int is_latin1(const char *cs)
{
    return vc_strncaseeq(cs, strlen(cs), "ISO-8859-1") ||
           vc_strncaseeq(cs, strlen(cs), "ISO-8859-15") ||
           vc_strncaseeq(cs, strlen(cs), "LATIN1") ||
           vc_strncaseeq(cs, strlen(cs), "WINDOWS-1252") ||
           vc_strncaseeq(cs, strlen(cs), "CP1252");
}

/*
 * Decode a value into x->dec: quoted-printable, then charset to UTF-8, then
 * backslash escapes. An unescaped `sep` (';' or ',') becomes '\x1f' so the
 * caller can split components. Returns CMSB_OK or CMSB_ENOMEM.
 */
static int decode(pctx *x, const prop *p, const params *pa, char sep)
{
    vc_buf tmp = {0};
    const char *v = p->value;
    size_t n = p->vlen;
    int rc = CMSB_OK;

    x->dec.len = 0;
    if (pa->qp) {
        for (size_t i = 0; i < n && rc == CMSB_OK; i++) {
            int h, l;
            if (v[i] == '=' && i + 2 < n && (h = hexval(v[i + 1])) >= 0 &&
                (l = hexval(v[i + 2])) >= 0) {
                char c = (char)(h * 16 + l);
                rc = vc_buf_add(&tmp, &c, 1);
                i += 2;
            } else {
                rc = vc_buf_add(&tmp, v + i, 1);
            }
        }
        if (rc != CMSB_OK)
            goto out;
        v = tmp.p != NULL ? tmp.p : "";
        n = tmp.len;
    }
    if (pa->charset[0] != '\0' && is_latin1(pa->charset)) {
        vc_buf u = {0};
        for (size_t i = 0; i < n && rc == CMSB_OK; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c < 0x80) {
                rc = vc_buf_add(&u, v + i, 1);
            } else {
                char two[2] = {(char)(0xC0 | (c >> 6)),
                               (char)(0x80 | (c & 0x3F))};
                rc = vc_buf_add(&u, two, 2);
            }
        }
        vc_buf_free(&tmp);
        tmp = u;
        if (rc != CMSB_OK)
            goto out;
        v = tmp.p != NULL ? tmp.p : "";
        n = tmp.len;
    }
    /* unescape straight into the buffer: this loop sees every value */
    if (x->dec.cap < n + 1) {
        rc = vc_buf_add(&x->dec, v, n); /* grows it; overwritten below */
        if (rc != CMSB_OK)
            goto out;
    }
    {
        char *o = x->dec.p;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            char c = v[i];
            if (c == '\\' && i + 1 < n) {
                char e = v[++i];
                c = (e == 'n' || e == 'N') ? '\n' : e;
            } else if (sep != 0 && c == sep) {
                c = '\x1f';
            }
            o[k++] = c;
        }
        o[k] = '\0';
        x->dec.len = k;
    }
out:
    vc_buf_free(&tmp);
    return rc;
}

/* Trim spaces; returns the trimmed length and moves *s. */
static size_t trim(const char **s, size_t n)
{
    while (n > 0 && (is_ws(**s) || **s == '\n' || **s == '\r')) {
        (*s)++;
        n--;
    }
    while (n > 0 &&
           (is_ws((*s)[n - 1]) || (*s)[n - 1] == '\n' || (*s)[n - 1] == '\r'))
        n--;
    return n;
}

static size_t strip_prefix(const char **s, size_t n, const char *pre)
{
    size_t pl = strlen(pre);

    if (n >= pl && vc_strncaseeq(*s, pl, pre)) {
        *s += pl;
        return n - pl;
    }
    return n;
}

#define NAME_IS(p, lit) vc_strncaseeq((p)->name, (p)->nlen, lit)

static void set_span(vc_span *sp, const prop *p)
{
    sp->start = p->start;
    sp->end = p->end;
    sp->line = p->line;
}

static void on_tel(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const char *v;
    size_t n;
    char tmp[64];
    int i = k->c.nnumbers;

    if (i >= TSPS_MAX_NUMBERS || decode(x, p, pa, 0) != CMSB_OK)
        return;
    v = x->dec.p;
    n = trim(&v, x->dec.len);
    n = strip_prefix(&v, n, "tel:");
    if (n == 0)
        return;
    if (n >= sizeof(k->c.numbers[0])) {
        /* too long for the record: drop the punctuation */
        size_t o = 0;
        for (size_t j = 0; j < n && o + 1 < sizeof(tmp); j++)
            if (!strchr(" -.()/", v[j]))
                tmp[o++] = v[j];
        v = tmp;
        n = o;
        if (n >= sizeof(k->c.numbers[0]))
            return;
    }
    memcpy(k->c.numbers[i], v, n);
    k->c.numbers[i][n] = '\0';
    memcpy(k->tel_types[i], pa->types, sizeof(k->tel_types[i]));
    vc_copy(k->tel_group[i], sizeof(k->tel_group[i]),
            p->group != NULL ? p->group : "", p->glen);
    k->c.nnumbers++;
}

static void on_email(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const char *v;
    size_t n;
    int i = k->c.nemails;

    if (i >= TSPS_MAX_EMAILS || decode(x, p, pa, 0) != CMSB_OK)
        return;
    v = x->dec.p;
    n = trim(&v, x->dec.len);
    n = strip_prefix(&v, n, "mailto:");
    if (n == 0 || n >= TSPS_EMAIL_MAX || memchr(v, '@', n) == NULL)
        return;
    for (size_t j = 0; j < n; j++)
        k->c.emails[i][j] =
            (char)(v[j] >= 'A' && v[j] <= 'Z' ? v[j] - 'A' + 'a' : v[j]);
    k->c.emails[i][n] = '\0';
    for (int j = 0; j < i; j++)
        if (strcmp(k->c.emails[j], k->c.emails[i]) == 0)
            return;
    k->c.nemails++;
}

static void on_categories(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const vc_conf *cf = x->conf;
    char *s, *e;

    if (k->cat_code[0] != '\0' || decode(x, p, pa, ',') != CMSB_OK)
        return;
    for (s = x->dec.p; s != NULL; s = e != NULL ? e + 1 : NULL) {
        const char *t = s;
        size_t n;
        char code[TSPS_CODE_MAX];
        e = strchr(s, '\x1f');
        n = trim(&t, e != NULL ? (size_t)(e - s) : strlen(s));
        if (!vc_label_code(cf, t, n, code))
            continue;
        memcpy(k->cat_code, code, sizeof(code));
        vc_copy(k->cat_token, sizeof(k->cat_token), t, n);
        set_span(&k->cat_span, p);
        return;
    }
}

static void on_note(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const char *pre = x->conf->note_prefix;
    const char *m, *close;

    if (k->note_code[0] != '\0' || decode(x, p, pa, 0) != CMSB_OK)
        return;
    m = vc_memcasemem(x->dec.p, x->dec.len, pre);
    if (m == NULL)
        return;
    m += strlen(pre);
    close = strchr(m, ']');
    if (close == NULL ||
        !cmsb_code_normalize(m, (size_t)(close - m), k->note_code)) {
        k->note_code[0] = '\0';
        return;
    }
    set_span(&k->note_span, p);
}

static void on_label(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const char *v;
    size_t n;
    int i = k->nlabels;

    if (p->group == NULL || i >= VC_MAX_LABELS ||
        decode(x, p, pa, 0) != CMSB_OK)
        return;
    v = x->dec.p;
    n = trim(&v, x->dec.len);
    /* Apple writes built-in labels as _$!<Work>!$_ */
    if (n > 8 && memcmp(v, "_$!<", 4) == 0 &&
        memcmp(v + n - 4, ">!$_", 4) == 0) {
        v += 4;
        n -= 8;
    }
    vc_copy(k->label_group[i], sizeof(k->label_group[i]), p->group, p->glen);
    vc_copy(k->label_text[i], sizeof(k->label_text[i]), v, n);
    k->nlabels++;
}

static int on_member(pctx *x, vc_card *k, const prop *p, const params *pa)
{
    const char *v;
    size_t n;
    char uid[TSPS_UID_MAX];

    if (decode(x, p, pa, 0) != CMSB_OK)
        return CMSB_ENOMEM;
    v = x->dec.p;
    n = trim(&v, x->dec.len);
    n = strip_prefix(&v, n, "urn:uuid:");
    if (n == 0)
        return CMSB_OK;
    vc_make_uid(uid, sizeof(uid), v, n);
    k->nmembers++;
    return vc_buf_add(&k->members, uid, strlen(uid) + 1);
}

/* Handle one property of a card; returns an error text or NULL. */
static const char *on_prop(pctx *x, vc_card *k, const prop *p)
{
    params pa;
    const char *v;
    size_t n;

    if (p->nlen == 0)
        return "property without a name";
    parse_params(p, &pa);
    if (NAME_IS(p, "TEL")) {
        on_tel(x, k, p, &pa);
    } else if (NAME_IS(p, "EMAIL")) {
        on_email(x, k, p, &pa);
    } else if (NAME_IS(p, "FN") || NAME_IS(p, "ORG") || NAME_IS(p, "N")) {
        char *dst = NAME_IS(p, "ORG") ? k->c.org : k->c.name;
        char *f;
        if (decode(x, p, &pa, ';') != CMSB_OK)
            return "out of memory";
        if (NAME_IS(p, "N")) {
            /* N: family;given;additional;prefix;suffix -> "given family",
             * used when there is no FN */
            char *given = strchr(x->dec.p, '\x1f');
            const char *fam = x->dec.p;
            size_t fl = given != NULL ? (size_t)(given - fam) : x->dec.len;
            const char *gv = given != NULL ? given + 1 : "";
            char *ge = strchr(gv, '\x1f');
            size_t gl = ge != NULL ? (size_t)(ge - gv) : strlen(gv);
            char nm[TSPS_NAME_MAX];
            fl = trim(&fam, fl);
            gl = trim(&gv, gl);
            snprintf(nm, sizeof(nm), "%.*s%s%.*s", (int)gl, gv,
                     gl > 0 && fl > 0 ? " " : "", (int)fl, fam);
            if (k->n_name[0] == '\0')
                snprintf(k->n_name, sizeof(k->n_name), "%s", nm);
            return NULL;
        }
        f = strchr(x->dec.p, '\x1f');
        v = x->dec.p;
        n = trim(&v, f != NULL ? (size_t)(f - x->dec.p) : x->dec.len);
        if (dst[0] == '\0')
            vc_copy(dst, TSPS_NAME_MAX, v, n);
    } else if (NAME_IS(p, "UID")) {
        if (decode(x, p, &pa, 0) != CMSB_OK)
            return "out of memory";
        v = x->dec.p;
        n = trim(&v, x->dec.len);
        n = strip_prefix(&v, n, "urn:uuid:");
        if (n > 0) {
            vc_make_uid(k->c.uid, sizeof(k->c.uid), v, n);
            k->has_uid = 1;
        }
    } else if (NAME_IS(p, "VERSION")) {
        v = p->value;
        n = trim(&v, p->vlen);
        if (vc_strncaseeq(v, n, "2.1"))
            k->vers = 21;
        else if (vc_strncaseeq(v, n, "3.0"))
            k->vers = 30;
        else if (vc_strncaseeq(v, n, "4.0"))
            k->vers = 40;
        else
            return "unsupported VERSION";
    } else if (NAME_IS(p, "CATEGORIES")) {
        if (x->conf->forms & CMSB_FORM_CATEGORY)
            on_categories(x, k, p, &pa);
    } else if (NAME_IS(p, "NOTE")) {
        if (x->conf->forms & CMSB_FORM_NOTE)
            on_note(x, k, p, &pa);
    } else if (NAME_IS(p, "KIND") || NAME_IS(p, "X-ADDRESSBOOKSERVER-KIND")) {
        v = p->value;
        n = trim(&v, p->vlen);
        k->is_group = vc_strncaseeq(v, n, "group");
        k->apple_group = k->is_group && p->nlen > 4;
    } else if (NAME_IS(p, "MEMBER") ||
               NAME_IS(p, "X-ADDRESSBOOKSERVER-MEMBER")) {
        if (on_member(x, k, p, &pa) != CMSB_OK)
            return "out of memory";
    } else if (NAME_IS(p, "X-ABLABEL")) {
        on_label(x, k, p, &pa);
    } else if ((x->conf->forms & CMSB_FORM_PROPERTY) &&
               vc_strncaseeq(p->name, p->nlen, x->conf->code_prop)) {
        if (k->prop_code[0] == '\0' && decode(x, p, &pa, 0) == CMSB_OK) {
            v = x->dec.p;
            n = trim(&v, x->dec.len);
            if (cmsb_code_normalize(v, n, k->prop_code))
                set_span(&k->prop_span, p);
        }
    }
    return NULL;
}

static void card_reset(vc_card *k)
{
    vc_buf members = k->members;

    memset(k, 0, offsetof(vc_card, members));
    memset((char *)k + offsetof(vc_card, nmembers), 0,
           sizeof(*k) - offsetof(vc_card, nmembers));
    members.len = 0;
    if (members.p != NULL)
        members.p[0] = '\0';
    k->members = members;
    tsps_contact_init(&k->c);
}

static void card_finish(vc_card *k, const vc_conf *cf, const char *uid_base,
                        int index)
{
    if (k->c.name[0] == '\0')
        snprintf(k->c.name, sizeof(k->c.name), "%s",
                 k->n_name[0] != '\0' ? k->n_name : k->c.org);
    if (!k->has_uid) {
        char u[TSPS_UID_MAX + 16];
        snprintf(u, sizeof(u), "%s#%d", uid_base, index);
        vc_make_uid(k->c.uid, sizeof(k->c.uid), u, strlen(u));
    }
    if (k->is_group) {
        snprintf(k->group_name, sizeof(k->group_name), "%s", k->c.name);
        /* the rule of categories: "tsps:FAMILY" with that prefix set */
        vc_label_code(cf, k->group_name, strlen(k->group_name), k->group_code);
    } else {
        k->group_name[0] = '\0';
    }
    for (int i = 0; i < k->c.nnumbers; i++)
        for (int j = 0; j < k->nlabels; j++)
            if (k->tel_group[i][0] != '\0' &&
                strcmp(k->tel_group[i], k->label_group[j]) == 0)
                snprintf(k->tel_label[i], sizeof(k->tel_label[i]), "%s",
                         k->label_text[j]);
}

int vc_parse(const char *buf, size_t len, const vc_conf *conf,
             const char *uid_base, vc_card_fn card_fn, vc_err_fn err_fn,
             void *arg)
{
    pctx x;
    prop p;
    vc_card *k;
    int in_card = 0, bad = 0, index = 0, outside = 0, prev_b64 = 0;
    int rc = CMSB_OK, r;
    const char *why = NULL;
    int why_line = 0;

    memset(&x, 0, sizeof(x));
    x.buf = buf;
    x.len = len;
    x.conf = conf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        x.pos = 3; /* UTF-8 BOM */
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return CMSB_ENOMEM;

    while ((r = next_prop(&x, &p)) > 0) {
        if (p.stray) {
            if (in_card && prev_b64)
                continue; /* 2.1 base64 body lines without indent */
            if (in_card && !bad) {
                bad = 1;
                why = "line without ':'";
                why_line = p.line;
            } else if (!in_card && !outside) {
                outside = 1;
                err_fn(arg, p.line, "text outside BEGIN:VCARD/END:VCARD");
            }
            continue;
        }
        prev_b64 = 0;
        if (NAME_IS(&p, "BEGIN")) {
            const char *v = p.value;
            size_t n = trim(&v, p.vlen);
            if (!vc_strncaseeq(v, n, "VCARD")) {
                if (in_card && !bad) {
                    bad = 1;
                    why = "nested BEGIN";
                    why_line = p.line;
                }
                continue;
            }
            if (in_card)
                err_fn(arg, p.line,
                       bad ? why : "missing END:VCARD before BEGIN:VCARD");
            card_reset(k);
            in_card = 1;
            bad = 0;
            outside = 0;
            k->line = p.line;
            k->start = p.start;
            snprintf(k->line_end, sizeof(k->line_end), "%s",
                     p.end >= 2 && buf[p.end - 2] == '\r' ? "\r\n" : "\n");
            continue;
        }
        if (NAME_IS(&p, "END")) {
            const char *v = p.value;
            size_t n = trim(&v, p.vlen);
            if (!vc_strncaseeq(v, n, "VCARD"))
                continue;
            if (!in_card) {
                err_fn(arg, p.line, "END:VCARD without BEGIN:VCARD");
                continue;
            }
            in_card = 0;
            index++;
            if (bad) {
                char msg[96];
                snprintf(msg, sizeof(msg), "%s (card skipped)", why);
                err_fn(arg, why_line, msg);
                continue;
            }
            k->end = p.end;
            k->end_start = p.start;
            card_finish(k, conf, uid_base, index);
            if (card_fn(arg, k) != 0) {
                rc = CMSB_ECANCELED;
                break;
            }
            continue;
        }
        if (!in_card) {
            if (!outside) {
                outside = 1;
                err_fn(arg, p.line, "property outside BEGIN:VCARD/END:VCARD");
            }
            continue;
        }
        if (bad)
            continue;
        prev_b64 =
            p.params != NULL && (vc_memcasemem(p.params, p.plen, "BASE64") ||
                                 vc_memcasemem(p.params, p.plen, "ENCODING=B"));
        why = on_prop(&x, k, &p);
        if (why != NULL) {
            bad = 1;
            why_line = p.line;
        }
    }
    if (r < 0)
        rc = r;
    else if (in_card && rc == CMSB_OK)
        err_fn(arg, k->line, bad ? why : "missing END:VCARD (card skipped)");
    vc_buf_free(&k->members);
    free(k);
    vc_buf_free(&x.fold);
    vc_buf_free(&x.dec);
    return rc;
}

int vc_on_hit(void *arg, vc_card *k)
{
    vc_card_hit *h = arg;

    if (k->is_group || strcmp(k->c.uid, h->uid) != 0)
        return 0;
    h->card = *k;
    memset(&h->card.members, 0, sizeof(h->card.members));
    h->found = 1;
    return 1;
}

void vc_quiet(void *arg, int line, const char *reason)
{
    (void)arg;
    (void)line;
    (void)reason;
}

int vc_only_contacts(void *arg, const cmsb_change *ch)
{
    vc_list_ctx *l = arg;

    if (ch->kind != CMSB_CHANGE_CONTACT_PUT)
        return 0;
    return l->cb(l->arg, ch->contact);
}

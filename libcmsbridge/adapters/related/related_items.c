/* Related items: an owned set sorted newest first, text folding, and the
 * person an item is matched against. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "related.h"

void rel_item_free(rel_item *it)
{
    if (it == NULL)
        return;
    free(it->title);
    free(it->from);
    free(it->to);
    free(it->snippet);
    free(it->url);
    free(it->id);
    free(it->where);
    free(it->why);
    for (size_t i = 0; i < it->natt; i++)
        free(it->att[i]);
    free(it->att);
    memset(it, 0, sizeof(*it));
}

int rel_set_take(rel_set *set, rel_item *it)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        rel_item *p = realloc(set->v, cap * sizeof(*p));
        if (p == NULL) {
            rel_item_free(it);
            return CMSB_ENOMEM;
        }
        set->v = p;
        set->cap = cap;
    }
    set->v[set->n++] = *it;
    memset(it, 0, sizeof(*it));
    return CMSB_OK;
}

void rel_set_free(rel_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        rel_item_free(&set->v[i]);
    free(set->v);
    memset(set, 0, sizeof(*set));
}

static int cmp_newest(const void *a, const void *b)
{
    const rel_item *x = a, *y = b;

    if (x->date != y->date)
        return x->date > y->date ? -1 : 1;
    return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

int rel_set_emit(rel_set *set, size_t limit, cmsb_related_cb cb, void *arg)
{
    if (set->n > 1)
        qsort(set->v, set->n, sizeof(set->v[0]), cmp_newest);
    for (size_t i = 0; i < set->n && i < limit; i++) {
        const rel_item *r = &set->v[i];
        cmsb_related_item it = {
            .kind = r->kind,
            .date = r->date,
            .title = nz(r->title),
            .from = nz(r->from),
            .to = nz(r->to),
            .snippet = nz(r->snippet),
            .nattachments = r->natt,
            .attachments = (const char *const *)r->att,
            .url = nz(r->url),
            .id = nz(r->id),
            .where = nz(r->where),
            .why = nz(r->why),
        };
        if (cb(arg, &it) != 0)
            return CMSB_ECANCELED;
    }
    return CMSB_OK;
}

char *rel_fold(const char *text, size_t len, size_t max)
{
    char *out = malloc(max + 1);
    size_t o = 0;
    int space = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
            c == '\v') {
            space = o > 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            continue;
        if (space) {
            if (o + 1 > max)
                break;
            out[o++] = ' ';
            space = 0;
        }
        if (o + 1 > max)
            break;
        out[o++] = (char)c;
    }
    /* do not end inside a UTF-8 sequence: drop a cut lead + continuation */
    if (o > 0 && ((unsigned char)out[o - 1] & 0x80)) {
        size_t k = o;
        while (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0xc0) {
            unsigned char lead = (unsigned char)out[k - 1];
            size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
            if (o - (k - 1) < need)
                o = k - 1;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

char *rel_lower(const char *s)
{
    char *d = strdup(s != NULL ? s : "");

    if (d == NULL)
        return NULL;
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

const char *rel_memcasemem(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    int first;

    if (m == 0 || m > n)
        return NULL;
    first = tolower((unsigned char)needle[0]);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k;
        if (tolower((unsigned char)hay[i]) != first)
            continue;
        for (k = 1; k < m; k++)
            if (tolower((unsigned char)hay[i + k]) !=
                tolower((unsigned char)needle[k]))
                break;
        if (k == m)
            return hay + i;
    }
    return NULL;
}

static void fold_lower(char *dst, size_t cap, const char *src)
{
    char *f = rel_fold(src, strlen(src), cap - 1);
    size_t i = 0;

    dst[0] = '\0';
    if (f == NULL)
        return;
    for (; f[i] != '\0' && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)f[i]);
    dst[i] = '\0';
    free(f);
}

void rel_who_from(rel_who *w, const tsps_contact *c)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < c->nemails && i < TSPS_MAX_EMAILS; i++) {
        const char *e = c->emails[i];
        size_t n = strnlen(e, TSPS_EMAIL_MAX - 1);
        /* an address needs a local part, '@' and a domain */
        if (n < 3 || memchr(e, '@', n) == NULL)
            continue;
        for (size_t k = 0; k < n; k++)
            w->emails[w->nemails][k] = (char)tolower((unsigned char)e[k]);
        w->emails[w->nemails][n] = '\0';
        w->nemails++;
    }
    for (size_t i = 0; i < c->nnumbers && i < TSPS_MAX_NUMBERS; i++) {
        const char *e = c->numbers[i];
        size_t n = strnlen(e, sizeof(c->numbers[i]));
        /* E.164 as the store gives it: '+' and 7..15 digits */
        if (n < 8 || n >= TSPS_E164_MAX || e[0] != '+')
            continue;
        memcpy(w->numbers[w->nnumbers], e, n);
        w->numbers[w->nnumbers][n] = '\0';
        w->nnumbers++;
    }
    fold_lower(w->name, sizeof(w->name),
               strnlen(c->name, TSPS_NAME_MAX) < TSPS_NAME_MAX ? c->name : "");
    fold_lower(w->org, sizeof(w->org),
               strnlen(c->org, TSPS_NAME_MAX) < TSPS_NAME_MAX ? c->org : "");
}

int rel_who_email(const rel_who *w, const char *addr)
{
    for (size_t i = 0; i < w->nemails; i++)
        if (strcasecmp(w->emails[i], addr) == 0)
            return (int)i;
    return -1;
}

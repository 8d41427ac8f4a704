/* Which indexed documents are related to a person, shared by the
 * docs-dir and docs-dav adapters: the person's e-mail address, one of
 * their phone numbers (found in the file in any written form) or their
 * name or organisation (whole words, any case, at least NAME_MIN bytes)
 * in the file name, the folder path or the text. Reads the index only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docs.h"

#define NAME_MIN 4 /* shorter names and organisations match too much */

static int word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* needle (lower case) in hay as whole words */
static int has_words(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    const char *p = hay;

    if (m == 0)
        return 0;
    while ((size_t)(p - hay) + m <= n) {
        const char *hit = memmem(p, n - (size_t)(p - hay), needle, m);
        if (hit == NULL)
            return 0;
        if ((hit == hay || !word_char((unsigned char)hit[-1])) &&
            ((size_t)(hit - hay) + m == n || !word_char((unsigned char)hit[m])))
            return 1;
        p = hit + 1;
    }
    return 0;
}

static int has_number(const char *list, const char *e164)
{
    size_t m = strlen(e164);

    for (const char *p = strstr(list, e164); p != NULL; p = strstr(p + 1, e164))
        if ((p == list || p[-1] == ' ') && (p[m] == ' ' || p[m] == '\0'))
            return 1;
    return 0;
}

/* Lower case, separators ("_", "-", ".") read as spaces: "Anna_Berg.pdf"
 * names Anna Berg. */
static void path_words(const char *in, char *out, size_t cap)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < cap; i++) {
        char c = (char)tolower((unsigned char)in[i]);
        out[i] = (c == '_' || c == '-' || c == '.') ? ' ' : c;
    }
    out[i] = '\0';
}

static int match(const docs_entry *e, const rel_who *w, char *why, size_t wl)
{
    char pw[4096], dir[4096];
    const char *base = strrchr(e->path, '/');
    size_t dl = base ? (size_t)(base - e->path) : 0;
    const char *what[2] = {w->name, w->org};
    static const char *const label[2] = {"name", "organisation"};

    path_words(e->path, pw, sizeof(pw));
    /* where: 0 file name, 1 folder, 2 text */
    for (size_t i = 0; i < w->nemails; i++) {
        const char *a = w->emails[i];
        size_t al = strlen(a);
        const char *hit = rel_memcasemem(e->path, strlen(e->path), a);
        if (hit != NULL) {
            snprintf(why, wl, "email %s in %s", a,
                     (size_t)(hit - e->path) < dl ? "folder" : "file name");
            return 1;
        }
        if (memmem(e->text, e->textlen, a, al) != NULL) {
            snprintf(why, wl, "email %s in text", a);
            return 1;
        }
    }
    for (size_t i = 0; i < w->nnumbers; i++)
        if (has_number(e->numbers, w->numbers[i])) {
            snprintf(why, wl, "number %s in file", w->numbers[i]);
            return 1;
        }
    memcpy(dir, pw, dl);
    dir[dl] = '\0';
    for (int k = 0; k < 2; k++) {
        const char *n = what[k];
        if (strlen(n) < NAME_MIN)
            continue;
        if (has_words(pw + (base ? dl + 1 : 0),
                      strlen(pw + (base ? dl + 1 : 0)), n)) {
            snprintf(why, wl, "%s \"%s\" in file name", label[k], n);
            return 1;
        }
        if (dl > 0 && has_words(dir, dl, n)) {
            snprintf(why, wl, "%s \"%s\" in folder", label[k], n);
            return 1;
        }
        if (has_words(e->text, e->textlen, n)) {
            snprintf(why, wl, "%s \"%s\" in text", label[k], n);
            return 1;
        }
    }
    return 0;
}

size_t docs_url_escape(char *u, size_t o, const char *p)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || strchr("/-._~", c) != NULL) {
            u[o++] = (char)c;
        } else {
            u[o++] = '%';
            u[o++] = hex[c >> 4];
            u[o++] = hex[c & 15];
        }
    }
    u[o] = '\0';
    return o;
}

int docs_related(const docs_index *ix, const tsps_contact *who,
                 const cmsb_related_query *q, docs_url_fn url, void *ctx,
                 cmsb_related_cb cb, void *arg)
{
    rel_set set = {0};
    rel_who w;
    int rc = CMSB_OK;

    if (!(q->kinds & CMSB_ITEM_DOCUMENT))
        return CMSB_OK;
    rel_who_from(&w, who);
    for (size_t i = 0; i < ix->n && rc == CMSB_OK; i++) {
        const docs_entry *e = &ix->v[i];
        char why[TSPS_NAME_MAX + 64];
        rel_item it = {0};
        const char *sl;
        if ((q->since != 0 && e->date < q->since) ||
            (q->until != 0 && e->date >= q->until) ||
            !match(e, &w, why, sizeof(why)))
            continue;
        sl = strrchr(e->path, '/');
        it.kind = CMSB_ITEM_DOCUMENT;
        it.date = e->date;
        it.title = strdup(e->title);
        it.from = strdup("");
        it.to = strdup("");
        it.snippet = strdup(e->snippet);
        it.url = url(ctx, e);
        it.id = strdup(e->path);
        it.where = sl ? strndup(e->path, (size_t)(sl - e->path)) : strdup("");
        it.why = strdup(why);
        if (!it.title || !it.from || !it.to || !it.snippet || !it.url ||
            !it.id || !it.where || !it.why) {
            rel_item_free(&it);
            rc = CMSB_ENOMEM;
            break;
        }
        rc = rel_set_take(&set, &it);
    }
    if (rc == CMSB_OK)
        rc = rel_set_emit(&set, q->limit, cb, arg);
    rel_set_free(&set);
    return rc;
}

/* Group cards across DAV resources. On a CardDAV server every card is its
 * own resource, so a member's resource does not say which groups hold
 * it. The state keeps, per resource, the code and member uids of its
 * group cards (G/M lines) and, per contact, the group code it was sent
 * with (A line). A sync builds member uid -> group code from every G/M
 * line and fetches again the resources whose contacts were sent with
 * another code (dav_sync.c). Because each contact records what it was
 * sent with, a sync stopped between a group change and the re-sending of
 * its members is caught up by the next one. */
#include <string.h>

#include "dav.h"

/* The next line of a '\n'-separated list, *n its length without the
 * '\n'; NULL at the end. */
static const char *next_line(const char **p, size_t *n)
{
    const char *s = *p, *nl;

    if (s == NULL || *s == '\0')
        return NULL;
    nl = strchr(s, '\n');
    *n = nl != NULL ? (size_t)(nl - s) : strlen(s);
    *p = nl != NULL ? nl + 1 : s + *n;
    return s;
}

/* The text of a line after its tag. */
static void field(char *dst, size_t cap, const char *line, size_t n)
{
    n = n > 0 ? n - 1 : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, line + 1, n);
    dst[n] = '\0';
}

int dav_groups_build(const dav_state *st, vc_map *map)
{
    vc_map_free(map);
    for (size_t i = 0; i < st->n; i++) {
        const dav_coll *c = &st->c[i];
        if (c->kind != DAV_BOOK)
            continue;
        for (size_t k = 0; k < c->items.nb; k++) {
            for (const dav_item *it = c->items.b[k]; it != NULL;
                 it = it->next) {
                char code[TSPS_CODE_MAX] = "", uid[TSPS_UID_MAX];
                const char *p = it->uids, *l, *old;
                size_t n;
                while ((l = next_line(&p, &n)) != NULL) {
                    if (l[0] == 'G') {
                        field(code, sizeof(code), l, n);
                        continue;
                    }
                    if (l[0] != 'M' || code[0] == '\0') {
                        code[0] = '\0';
                        continue;
                    }
                    field(uid, sizeof(uid), l, n);
                    old = vc_map_get(map, uid);
                    if ((old == NULL || strcmp(code, old) < 0) &&
                        vc_map_put(map, uid, code) != CMSB_OK)
                        return CMSB_ENOMEM;
                }
            }
        }
    }
    return CMSB_OK;
}

static int differs(const vc_map *map, const char *uid, const char *applied)
{
    const char *want = vc_map_get(map, uid);

    return strcmp(want != NULL ? want : "", applied) != 0;
}

int dav_group_stale(const dav_item *it, const vc_map *map)
{
    char uid[TSPS_UID_MAX], applied[TSPS_CODE_MAX];
    const char *p = it->uids, *l;
    size_t n;
    int have = 0;

    while ((l = next_line(&p, &n)) != NULL) {
        if (l[0] == 'A' && have) {
            field(applied, sizeof(applied), l, n);
            continue;
        }
        if (have && differs(map, uid, applied))
            return 1;
        have = l[0] == 'C';
        if (have) {
            field(uid, sizeof(uid), l, n);
            applied[0] = '\0';
        }
    }
    return have && differs(map, uid, applied);
}

int dav_group_stale_hrefs(const dav_coll *c, const vc_map *map, dav_hrefs *out)
{
    int rc = CMSB_OK;

    for (size_t k = 0; k < c->items.nb && rc == CMSB_OK; k++)
        for (const dav_item *it = c->items.b[k]; it != NULL && rc == CMSB_OK;
             it = it->next)
            if (dav_group_stale(it, map))
                rc = dav_hrefs_add(out, it->href);
    return rc;
}

static const char *next_gm(const char **p, size_t *n)
{
    const char *l;

    while ((l = next_line(p, n)) != NULL)
        if (l[0] == 'G' || l[0] == 'M')
            return l;
    return NULL;
}

int dav_group_same(const char *a, const char *b)
{
    for (;;) {
        size_t na = 0, nb = 0;
        const char *x = next_gm(&a, &na), *y = next_gm(&b, &nb);
        if (x == NULL || y == NULL)
            return x == y;
        if (na != nb || memcmp(x, y, na) != 0)
            return 0;
    }
}

int dav_group_any(const char *lines)
{
    const char *p = lines, *l;
    size_t n;

    while ((l = next_line(&p, &n)) != NULL)
        if (l[0] == 'G')
            return 1;
    return 0;
}

/* Is the G line `g` (n bytes) among the first len bytes of lines? */
static int has_group(const char *lines, size_t len, const char *g, size_t n)
{
    for (size_t o = 0; o + n <= len;) {
        const char *nl = memchr(lines + o, '\n', len - o);
        size_t m = nl != NULL ? (size_t)(nl - (lines + o)) : len - o;
        if (m == n && memcmp(lines + o, g, n) == 0)
            return 1;
        o += m + 1;
    }
    return 0;
}

int dav_group_keep(const char *old, vc_buf *out)
{
    const char *p = old, *l;
    size_t n, had = out->len;
    int copy = 0;

    while ((l = next_line(&p, &n)) != NULL) {
        if (l[0] == 'G')
            copy = !has_group(out->p, had, l, n);
        else if (l[0] != 'M')
            copy = 0;
        if (copy && (vc_buf_add(out, l, n) != CMSB_OK ||
                     vc_buf_add(out, "\n", 1) != CMSB_OK))
            return CMSB_ENOMEM;
    }
    return CMSB_OK;
}

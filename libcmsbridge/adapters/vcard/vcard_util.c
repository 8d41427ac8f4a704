/* Growable buffers, a small hash map and string helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcard.h"

int vc_buf_add(vc_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->len + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL)
            return CMSB_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return CMSB_OK;
}

int vc_buf_str(vc_buf *b, const char *s)
{
    return vc_buf_add(b, s, strlen(s));
}

int vc_buf_printf(vc_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return CMSB_EINVAL;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    return vc_buf_add(b, tmp, (size_t)n);
}

void vc_buf_free(vc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint64_t vc_hash(const void *p, size_t n)
{
    /* Content identity for change detection (not adversarial): a word at
     * a time, multiply and fold. */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h ^= w;
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t map_slot(const vc_map *m, const char *key)
{
    size_t i = (size_t)vc_hash(key, strlen(key)) & (m->cap - 1);

    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(vc_map *m)
{
    vc_map nm = {0};

    nm.cap = m->cap ? m->cap * 2 : 64;
    nm.keys = calloc(nm.cap, sizeof(char *));
    nm.vals = calloc(nm.cap, sizeof(char *));
    if (nm.keys == NULL || nm.vals == NULL) {
        free(nm.keys);
        free(nm.vals);
        return CMSB_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL) {
            size_t j = map_slot(&nm, m->keys[i]);
            nm.keys[j] = m->keys[i];
            nm.vals[j] = m->vals[i];
        }
    }
    nm.n = m->n;
    free(m->keys);
    free(m->vals);
    *m = nm;
    return CMSB_OK;
}

int vc_map_put(vc_map *m, const char *key, const char *val)
{
    size_t i;
    char *v;

    if ((m->n + 1) * 2 > m->cap && map_grow(m) != CMSB_OK)
        return CMSB_ENOMEM;
    i = map_slot(m, key);
    v = strdup(val);
    if (v == NULL)
        return CMSB_ENOMEM;
    if (m->keys[i] == NULL) {
        m->keys[i] = strdup(key);
        if (m->keys[i] == NULL) {
            free(v);
            return CMSB_ENOMEM;
        }
        m->n++;
    } else {
        free(m->vals[i]);
    }
    m->vals[i] = v;
    return CMSB_OK;
}

const char *vc_map_get(const vc_map *m, const char *key)
{
    size_t i;

    if (m->cap == 0)
        return NULL;
    i = map_slot(m, key);
    return m->keys[i] != NULL ? m->vals[i] : NULL;
}

void vc_map_free(vc_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int vc_strncaseeq(const char *a, size_t alen, const char *b)
{
    size_t i;

    for (i = 0; i < alen; i++)
        if (b[i] == '\0' ||
            lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return b[i] == '\0';
}

const char *vc_memcasemem(const char *h, size_t hlen, const char *n)
{
    size_t nlen = strlen(n);

    if (nlen == 0 || nlen > hlen)
        return NULL;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        size_t j = 0;
        while (j < nlen &&
               lower((unsigned char)h[i + j]) == lower((unsigned char)n[j]))
            j++;
        if (j == nlen)
            return h + i;
    }
    return NULL;
}

void vc_copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap == 0)
        return;
    if (n >= cap) {
        n = cap - 1;
        /* back off to the start of a UTF-8 sequence */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void vc_make_uid(char *dst, size_t cap, const char *src, size_t n)
{
    /* Leave room for "/YYYYMMDDTHHMMSSZ" on event instances. */
    size_t max = cap > 24 ? cap - 24 : 1;
    size_t i, o = 0;

    /* Too long for the field: the engine's key for it, so that lookups by
     * the whole uid find the contact (tsps_uid_key()). */
    if (n >= max && cap == TSPS_UID_MAX && tsps_uid_key(src, n, dst) == TSPS_OK)
        return;
    if (n >= max) {
        char tail[20];
        snprintf(tail, sizeof(tail), "~%016llx",
                 (unsigned long long)vc_hash(src, n));
        n = max - 1 - strlen(tail);
        for (i = 0; i < n; i++)
            dst[o++] = (unsigned char)src[i] < 0x20 ? '_' : src[i];
        memcpy(dst + o, tail, strlen(tail) + 1);
        return;
    }
    for (i = 0; i < n; i++)
        dst[o++] =
            (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '_' : src[i];
    dst[o] = '\0';
}

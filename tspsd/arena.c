/* arena.c - bump allocator for replies. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tspsd_arena_chunk {
    tspsd_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define CHUNK_MIN 8192u

void *tspsd_arena_alloc(tspsd_arena *a, size_t n)
{
    tspsd_arena_chunk *c = a->head;

    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *tspsd_arena_strdup(tspsd_arena *a, const char *s)
{
    size_t n;
    char *p;

    if (s == NULL)
        s = "";
    n = strlen(s);
    p = tspsd_arena_alloc(a, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

char *tspsd_arena_printf(tspsd_arena *a, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = tspsd_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

int tspsd_arena_push(tspsd_arena *a, void ***arr, size_t *n, void *item)
{
    /* Capacity is implicit: grow at powers of two. */
    size_t cur = *n;
    if (cur == 0 || (cur & (cur - 1)) == 0) {
        size_t cap = cur == 0 ? 4 : cur * 2;
        void **na = tspsd_arena_alloc(a, cap * sizeof(void *));
        if (na == NULL)
            return -1;
        if (cur > 0)
            memcpy(na, *arr, cur * sizeof(void *));
        *arr = na;
    }
    (*arr)[cur] = item;
    *n = cur + 1;
    return 0;
}

void tspsd_arena_reset(tspsd_arena *a)
{
    tspsd_arena_chunk *c = a->head;
    if (c == NULL)
        return;
    /* Keep the oldest (last) chunk if it is a standard one. */
    while (c->next != NULL) {
        tspsd_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    if (c->cap > CHUNK_MIN) {
        free(c);
        a->head = NULL;
        return;
    }
    c->used = 0;
    a->head = c;
}

void tspsd_arena_free(tspsd_arena *a)
{
    tspsd_arena_chunk *c = a->head;
    while (c != NULL) {
        tspsd_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

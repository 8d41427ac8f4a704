/*
 * arena.h - a bump allocator for building one protobuf response: every
 * string and sub-message of a reply lives in the arena and goes in one
 * tspsd_arena_reset(). Not thread-safe; one per connection or request.
 */
#ifndef TSPSD_ARENA_H
#define TSPSD_ARENA_H

#include <stddef.h>

typedef struct tspsd_arena_chunk tspsd_arena_chunk;

typedef struct tspsd_arena {
    tspsd_arena_chunk *head;
} tspsd_arena;

#define TSPSD_ARENA_INIT                                                       \
    {                                                                          \
        NULL                                                                   \
    }

/** Zeroed memory, or NULL when out of memory. */
void *tspsd_arena_alloc(tspsd_arena *a, size_t n);
/** Copy of s (NULL -> ""), or NULL when out of memory. */
char *tspsd_arena_strdup(tspsd_arena *a, const char *s);
/** Formatted string in the arena. */
char *tspsd_arena_printf(tspsd_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/**
 * Append `item` to a growing pointer array (*arr, *n) kept in the arena.
 * @return 0, or -1 when out of memory.
 */
int tspsd_arena_push(tspsd_arena *a, void ***arr, size_t *n, void *item);
/** Free everything but keep the first chunk for reuse. */
void tspsd_arena_reset(tspsd_arena *a);
/** Free everything. */
void tspsd_arena_free(tspsd_arena *a);

#endif

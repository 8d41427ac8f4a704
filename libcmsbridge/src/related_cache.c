/* Related-item lists (deep copies, reference-counted) and a TTL cache of
 * them per (user, caller): a hash table of entries chained per bucket
 * plus a least-recently-used list, all under one mutex. Lists are
 * immutable once shared, so readers use them without the lock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmsb/cmsb.h>

#define RC_KEY_MAX 255

struct cmsb_related_list {
    atomic_int refs;
    int failed;
    cmsb_related_item *v;
    size_t n, cap;
};

typedef struct rc_entry {
    struct rc_entry *next;                /* bucket chain */
    struct rc_entry *lru_prev, *lru_next; /* most recent at the head */
    uint64_t hash;
    char *user, *caller;
    int status;
    cmsb_related_list *items;
    int64_t expires; /* monotonic ms */
} rc_entry;

struct cmsb_related_cache {
    pthread_mutex_t mu;
    rc_entry **buckets;
    size_t nbuckets, n, max;
    rc_entry *lru_head, *lru_tail;
    int64_t ttl_ms;
    int64_t (*now_fn)(void *arg);
    void *now_arg;
};

/* ---- lists ---- */

int cmsb_related_list_new(cmsb_related_list **out)
{
    cmsb_related_list *l;

    if (out == NULL)
        return CMSB_EINVAL;
    l = calloc(1, sizeof(*l));
    *out = l;
    if (l == NULL)
        return CMSB_ENOMEM;
    atomic_init(&l->refs, 1);
    return CMSB_OK;
}

static void item_free(cmsb_related_item *it)
{
    free((char *)it->title);
    free((char *)it->from);
    free((char *)it->to);
    free((char *)it->snippet);
    free((char *)it->url);
    free((char *)it->id);
    free((char *)it->where);
    free((char *)it->why);
    for (size_t i = 0; i < it->nattachments; i++)
        free((char *)it->attachments[i]);
    free((void *)it->attachments);
}

static char *dup0(const char *s)
{
    return strdup(s != NULL ? s : "");
}

int cmsb_related_list_add(cmsb_related_list *l, const cmsb_related_item *it)
{
    cmsb_related_item c;
    size_t na;

    if (l == NULL || it == NULL)
        return CMSB_EINVAL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        cmsb_related_item *nv = realloc(l->v, nc * sizeof(*nv));
        if (nv == NULL)
            goto nomem;
        l->v = nv;
        l->cap = nc;
    }
    memset(&c, 0, sizeof(c));
    c.kind = it->kind;
    c.date = it->date;
    na = it->attachments != NULL ? it->nattachments : 0;
    if (na > CMSB_RELATED_ATTACH_MAX)
        na = CMSB_RELATED_ATTACH_MAX;
    c.title = dup0(it->title);
    c.from = dup0(it->from);
    c.to = dup0(it->to);
    c.snippet = dup0(it->snippet);
    c.url = dup0(it->url);
    c.id = dup0(it->id);
    c.where = dup0(it->where);
    c.why = dup0(it->why);
    if (na > 0) {
        const char **a = calloc(na, sizeof(*a));
        c.attachments = a;
        if (a != NULL)
            for (size_t i = 0; i < na; i++, c.nattachments++)
                if ((a[i] = dup0(it->attachments[i])) == NULL)
                    break;
    }
    if (c.title == NULL || c.from == NULL || c.to == NULL ||
        c.snippet == NULL || c.url == NULL || c.id == NULL || c.where == NULL ||
        c.why == NULL ||
        (na > 0 && (c.attachments == NULL || c.nattachments != na))) {
        item_free(&c);
        goto nomem;
    }
    l->v[l->n++] = c;
    return CMSB_OK;
nomem:
    l->failed = 1;
    return CMSB_ENOMEM;
}

int cmsb_related_list_cb(void *list, const cmsb_related_item *it)
{
    return cmsb_related_list_add(list, it) == CMSB_OK ? 0 : 1;
}

int cmsb_related_list_failed(const cmsb_related_list *l)
{
    return l != NULL && l->failed;
}

size_t cmsb_related_list_count(const cmsb_related_list *l)
{
    return l != NULL ? l->n : 0;
}

const cmsb_related_item *cmsb_related_list_get(const cmsb_related_list *l,
                                               size_t i)
{
    return l != NULL && i < l->n ? &l->v[i] : NULL;
}

void cmsb_related_list_release(cmsb_related_list *l)
{
    if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    for (size_t i = 0; i < l->n; i++)
        item_free(&l->v[i]);
    free(l->v);
    free(l);
}

/* ---- the cache ---- */

static int64_t mono_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const char *user, const char *caller)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = user; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* a byte no UTF-8 text has */
    for (const char *p = caller; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

int cmsb_related_cache_open(size_t max_entries, int64_t ttl_ms,
                            cmsb_related_cache **out)
{
    cmsb_related_cache *c;
    size_t nb = 16;

    if (out == NULL)
        return CMSB_EINVAL;
    *out = NULL;
    if (max_entries < 1 || max_entries > 1000000 || ttl_ms <= 0)
        return CMSB_EINVAL;
    while (nb < max_entries)
        nb *= 2;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CMSB_ENOMEM;
    c->buckets = calloc(nb, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return CMSB_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->nbuckets = nb;
    c->max = max_entries;
    c->ttl_ms = ttl_ms;
    c->now_fn = mono_ms;
    *out = c;
    return CMSB_OK;
}

static void entry_free(rc_entry *e)
{
    cmsb_related_list_release(e->items);
    free(e->user);
    free(e->caller);
    free(e);
}

static void lru_unlink(cmsb_related_cache *c, rc_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_front(cmsb_related_cache *c, rc_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (c->lru_tail == NULL)
        c->lru_tail = e;
}

/* Unlink e from its bucket and the LRU list and free it. */
static void entry_drop(cmsb_related_cache *c, rc_entry *e)
{
    rc_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    lru_unlink(c, e);
    c->n--;
    entry_free(e);
}

static rc_entry *lookup(cmsb_related_cache *c, const char *user,
                        const char *caller, uint64_t h)
{
    for (rc_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->user, user) == 0 &&
            strcmp(e->caller, caller) == 0)
            return e;
    return NULL;
}

void cmsb_related_cache_close(cmsb_related_cache *c)
{
    if (c == NULL)
        return;
    while (c->lru_head != NULL)
        entry_drop(c, c->lru_head);
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}

static int key_ok(const char *s)
{
    return s != NULL && *s != '\0' && strnlen(s, RC_KEY_MAX + 1) <= RC_KEY_MAX;
}

int cmsb_related_cache_put(cmsb_related_cache *c, const char *user,
                           const char *caller, int status,
                           cmsb_related_list *items, int64_t ttl_ms)
{
    uint64_t h;
    rc_entry *e, *old;

    if (c == NULL || !key_ok(user) || !key_ok(caller) || ttl_ms < 0)
        return CMSB_EINVAL;
    h = key_hash(user, caller);
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return CMSB_ENOMEM;
    e->user = strdup(user);
    e->caller = strdup(caller);
    if (e->user == NULL || e->caller == NULL) {
        entry_free(e);
        return CMSB_ENOMEM;
    }
    e->hash = h;
    e->status = status;
    if (items != NULL) {
        atomic_fetch_add(&items->refs, 1);
        e->items = items;
    }
    pthread_mutex_lock(&c->mu);
    e->expires = c->now_fn(c->now_arg) + (ttl_ms > 0 ? ttl_ms : c->ttl_ms);
    old = lookup(c, user, caller, h);
    if (old != NULL)
        entry_drop(c, old);
    while (c->n >= c->max && c->lru_tail != NULL)
        entry_drop(c, c->lru_tail);
    e->next = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    lru_front(c, e);
    c->n++;
    pthread_mutex_unlock(&c->mu);
    return CMSB_OK;
}

int cmsb_related_cache_get(cmsb_related_cache *c, const char *user,
                           const char *caller, cmsb_related_list **items,
                           int *status)
{
    uint64_t h;
    rc_entry *e;
    int rc = CMSB_ENOTFOUND;

    if (items != NULL)
        *items = NULL;
    if (c == NULL || !key_ok(user) || !key_ok(caller) || items == NULL)
        return CMSB_EINVAL;
    h = key_hash(user, caller);
    pthread_mutex_lock(&c->mu);
    e = lookup(c, user, caller, h);
    if (e != NULL && e->expires <= c->now_fn(c->now_arg)) {
        entry_drop(c, e);
        e = NULL;
    }
    if (e != NULL) {
        if (e->items != NULL) {
            atomic_fetch_add(&e->items->refs, 1);
            *items = e->items;
        }
        if (status != NULL)
            *status = e->status;
        lru_unlink(c, e);
        lru_front(c, e);
        rc = CMSB_OK;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

size_t cmsb_related_cache_invalidate(cmsb_related_cache *c, const char *user,
                                     const char *caller)
{
    size_t dropped = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    for (rc_entry *e = c->lru_head, *nx; e != NULL; e = nx) {
        nx = e->lru_next;
        if ((user == NULL || strcmp(e->user, user) == 0) &&
            (user == NULL || caller == NULL ||
             strcmp(e->caller, caller) == 0)) {
            entry_drop(c, e);
            dropped++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return dropped;
}

size_t cmsb_related_cache_size(cmsb_related_cache *c)
{
    size_t n = 0;
    int64_t now;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    now = c->now_fn(c->now_arg);
    for (rc_entry *e = c->lru_head; e != NULL; e = e->lru_next)
        n += e->expires > now;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void cmsb_related_cache_set_clock(cmsb_related_cache *c,
                                  int64_t (*now_ms)(void *arg), void *arg)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->now_fn = now_ms != NULL ? now_ms : mono_ms;
    c->now_arg = now_ms != NULL ? arg : NULL;
    pthread_mutex_unlock(&c->mu);
}

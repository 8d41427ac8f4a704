/*
 * related.c - related e-mails and documents of a caller (related.h): the
 * [related NAME] sources, each opened on first use and used by one worker
 * at a time, the users' criteria parsed once at start, and the TTL cache.
 */
#include "related.h"

#include "daemon.h"
#include "log.h"
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct rel_src {
    tspsd_source_cfg cfg;
    pthread_mutex_t mu; /* one thread at a time per source */
    cmsb_source *src;   /* opened on first use */
} rel_src;

typedef struct rel_crit {
    char user[64];
    cmsb_related_policy *pol;
} rel_crit;

struct tspsd_related {
    cmsb_registry *reg;
    cmsb_related_cache *cache;
    int nsrc, ncrit;
    rel_src *srcs;
    rel_crit *crit;
};

static void rel_log(void *arg, int level, const char *msg)
{
    (void)arg;
    tspsd_log_fragment(level, msg);
}

int tspsd_related_open(tspsd *d)
{
    const tspsd_config *c = &d->cfg;
    tspsd_related *r;

    d->related = NULL;
    if (c->nrelated == 0)
        return 0;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    r->srcs = calloc((size_t)c->nrelated, sizeof(*r->srcs));
    r->crit = calloc((size_t)c->ncriteria + 1, sizeof(*r->crit));
    if (r->srcs == NULL || r->crit == NULL ||
        cmsb_registry_open(&r->reg) != CMSB_OK ||
        cmsb_related_cache_open(4096, TSPSD_RELATED_TTL_MS, &r->cache) !=
            CMSB_OK) {
        d->related = r;
        tspsd_related_close(d);
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "related items: cannot start",
                  NULL);
        return -1;
    }
    for (int i = 0; i < c->nrelated; i++) {
        r->srcs[i].cfg = c->related[i];
        pthread_mutex_init(&r->srcs[i].mu, NULL);
        r->nsrc++;
    }
    /* Checked at load: a parse failure here is out of memory only. */
    for (int i = 0; i < c->ncriteria; i++) {
        rel_crit *k = &r->crit[r->ncrit];
        if (cmsb_related_policy_parse(c->criteria[i].text, &k->pol, NULL, 0) !=
            CMSB_OK)
            continue;
        snprintf(k->user, sizeof(k->user), "%s", c->criteria[i].user);
        r->ncrit++;
    }
    d->related = r;
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "related items",
              "sources=%d criteria=%d", r->nsrc, r->ncrit);
    return 0;
}

void tspsd_related_close(tspsd *d)
{
    tspsd_related *r = d->related;

    if (r == NULL)
        return;
    for (int i = 0; i < r->nsrc; i++) {
        cmsb_source_close(r->srcs[i].src);
        pthread_mutex_destroy(&r->srcs[i].mu);
    }
    for (int i = 0; i < r->ncrit; i++)
        cmsb_related_policy_free(r->crit[i].pol);
    cmsb_related_cache_close(r->cache);
    if (r->reg != NULL)
        cmsb_registry_close(r->reg);
    free(r->srcs);
    free(r->crit);
    free(r);
    d->related = NULL;
}

int tspsd_related_has_sources(tspsd *d, const char *user)
{
    tspsd_related *r = d->related;

    for (int i = 0; r != NULL && user != NULL && i < r->nsrc; i++)
        if (strcmp(r->srcs[i].cfg.user, user) == 0)
            return 1;
    return 0;
}

const char *tspsd_related_kind_name(unsigned kind)
{
    switch (kind) {
    case CMSB_ITEM_EMAIL:
        return "email";
    case CMSB_ITEM_DOCUMENT:
        return "document";
    case CMSB_ITEM_EVENT:
        return "event";
    default:
        return "other";
    }
}

typedef struct find_ctx {
    tsps_contact *who;
    int found;
} find_ctx;

static int find_cb(void *arg, const tsps_contact *c)
{
    find_ctx *f = arg;
    if (!f->found) {
        *f->who = *c;
        f->found = 1;
    }
    return 1; /* the first is enough */
}

int tspsd_related_who(tspsd *d, const char *user, const char *caller,
                      tsps_contact *who, int *known)
{
    find_ctx f = {who, 0};
    size_t n = caller != NULL ? strlen(caller) : 0;

    tsps_contact_init(who);
    *known = 0;
    if (n == 0 || n >= TSPS_EMAIL_MAX)
        return TSPS_EINVAL;
    if (strchr(caller, '@') != NULL) {
        /* By e-mail: a stored contact's uid is not an address; the
         * address alone finds the mails of an unknown sender. */
        who->nemails = 1;
        for (size_t i = 0; i <= n; i++)
            who->emails[0][i] = (char)(caller[i] >= 'A' && caller[i] <= 'Z'
                                           ? caller[i] - 'A' + 'a'
                                           : caller[i]);
        return TSPS_OK;
    }
    if (tsps_contact_find_number(d->eng, user, caller, find_cb, &f) ==
            TSPS_OK &&
        f.found) {
        *known = 1;
        return TSPS_OK;
    }
    if (tsps_contact_get(d->eng, user, caller, who) == TSPS_OK) {
        *known = 1;
        return TSPS_OK;
    }
    tsps_contact_init(who);
    if (n >= sizeof(who->numbers[0]))
        return TSPS_EINVAL;
    who->nnumbers = 1;
    memcpy(who->numbers[0], caller, n + 1);
    return TSPS_OK;
}

/* Open a source on first use (its lock held). */
static int open_src(tspsd_related *r, rel_src *s)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char un[128], pw[128], ca[TSPSD_PATH_MAX], tmo[16];
    int rc;

    if (s->src != NULL)
        return CMSB_OK;
    o.username =
        *tspsd_source_option(&s->cfg, "username", un, sizeof(un)) ? un : NULL;
    o.password =
        *tspsd_source_option(&s->cfg, "password", pw, sizeof(pw)) ? pw : NULL;
    o.ca_file =
        *tspsd_source_option(&s->cfg, "ca_file", ca, sizeof(ca)) ? ca : NULL;
    o.timeout_ms =
        atoi(tspsd_source_option(&s->cfg, "timeout_ms", tmo, sizeof(tmo)));
    o.log = rel_log;
    rc = cmsb_source_open(r->reg, s->cfg.uri, &o, &s->src);
    memset(pw, 0, sizeof(pw));
    if (rc != CMSB_OK)
        tspsd_log(TSPSD_LOG_WARN, 0, s->cfg.user, "related source unavailable",
                  "source=%s error=\"%s\"", s->cfg.name, cmsb_strerror(rc));
    return rc;
}

static const cmsb_related_policy *policy_of(tspsd_related *r, const char *user)
{
    for (int i = 0; i < r->ncrit; i++)
        if (strcmp(r->crit[i].user, user) == 0)
            return r->crit[i].pol;
    return NULL; /* the defaults */
}

static const char *what_of(const char *uri)
{
    return strncmp(uri, "docs", 4) == 0 ? "documents" : "mail";
}

/* Merge per-source lists (each newest first) into out, at most limit. */
static int merge(cmsb_related_list **lists, int n, size_t limit,
                 cmsb_related_list *out)
{
    size_t at[TSPSD_MAX_RELATED] = {0};

    for (size_t k = 0; k < limit; k++) {
        int best = -1;
        const cmsb_related_item *bi = NULL;
        for (int i = 0; i < n; i++) {
            const cmsb_related_item *it =
                lists[i] != NULL ? cmsb_related_list_get(lists[i], at[i])
                                 : NULL;
            if (it != NULL && (bi == NULL || it->date > bi->date)) {
                best = i;
                bi = it;
            }
        }
        if (best < 0)
            break;
        if (cmsb_related_list_add(out, bi) != CMSB_OK)
            return TSPS_ENOMEM;
        at[best]++;
    }
    return TSPS_OK;
}

int tspsd_related_get(tspsd *d, const char *user, const tsps_contact *who,
                      int64_t since, int64_t until, cmsb_related_list **items,
                      char *status, size_t statuslen)
{
    tspsd_related *r = d->related;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    cmsb_related_list *lists[TSPSD_MAX_RELATED] = {0};
    const char *key = who->uid[0] != '\0' ? who->uid
                      : who->nnumbers > 0 ? who->numbers[0]
                      : who->nemails > 0  ? who->emails[0]
                                          : "";
    int override = since != 0 || until != 0, failed = 0, cst = 0, n = 0;
    int rc = TSPS_OK;

    *items = NULL;
    status[0] = '\0';
    if (cmsb_related_list_new(items) != CMSB_OK)
        return TSPS_ENOMEM;
    if (r == NULL)
        return TSPS_OK;
    if (cmsb_related_policy_query(policy_of(r, user), who->code,
                                  (int64_t)time(NULL), &q) == CMSB_ENOTFOUND)
        return TSPS_ENOTFOUND;
    if (since != 0)
        q.since = since;
    if (until != 0)
        q.until = until;
    if (q.until != 0 && q.until <= q.since)
        q.until = 0;
    if (!override && *key != '\0') {
        cmsb_related_list *hit = NULL;
        if (cmsb_related_cache_get(r->cache, user, key, &hit, &cst) ==
            CMSB_OK) {
            cmsb_related_list_release(*items);
            if (hit == NULL)
                cmsb_related_list_new(&hit);
            *items = hit;
            return *items != NULL ? TSPS_OK : TSPS_ENOMEM;
        }
    }
    for (int i = 0; i < r->nsrc && n < TSPSD_MAX_RELATED; i++) {
        rel_src *s = &r->srcs[i];
        if (strcmp(s->cfg.user, user) != 0)
            continue;
        if (cmsb_related_list_new(&lists[n]) != CMSB_OK) {
            rc = TSPS_ENOMEM;
            break;
        }
        pthread_mutex_lock(&s->mu);
        int e = open_src(r, s);
        if (e == CMSB_OK)
            e = cmsb_related_for(s->src, who, &q, cmsb_related_list_cb,
                                 lists[n]);
        pthread_mutex_unlock(&s->mu);
        n++;
        if (e != CMSB_OK && e != CMSB_ENOTSUP) {
            if (!failed)
                snprintf(status, statuslen, "%s unavailable (%s)",
                         what_of(s->cfg.uri), cmsb_strerror(e));
            failed = 1;
            tspsd_log(TSPSD_LOG_WARN, 0, user, "related lookup failed",
                      "source=%s error=\"%s\"", s->cfg.name, cmsb_strerror(e));
        }
    }
    if (rc == TSPS_OK)
        rc = merge(lists, n, q.limit > 0 ? q.limit : 20, *items);
    for (int i = 0; i < n; i++)
        cmsb_related_list_release(lists[i]);
    /* Only a complete answer is cached: a source that failed is asked
     * again at the next call (each lookup is bounded by its timeout). */
    if (rc == TSPS_OK && !failed && !override && *key != '\0')
        cmsb_related_cache_put(r->cache, user, key, CMSB_OK, *items, 0);
    return rc;
}

Tsps__RelatedItem *tspsd_related_item_msg(tspsd_arena *a,
                                          const cmsb_related_item *it)
{
    Tsps__RelatedItem *m = tspsd_arena_alloc(a, sizeof(*m));
    if (m == NULL)
        return NULL;
    tsps__related_item__init(m);
    m->kind = (char *)tspsd_related_kind_name(it->kind);
    m->date = it->date;
    m->title = tspsd_arena_strdup(a, it->title);
    m->from = tspsd_arena_strdup(a, it->from);
    m->to = tspsd_arena_strdup(a, it->to);
    m->snippet = tspsd_arena_strdup(a, it->snippet);
    m->url = tspsd_arena_strdup(a, it->url);
    m->where = tspsd_arena_strdup(a, it->where);
    m->why = tspsd_arena_strdup(a, it->why);
    m->source = (char *)"";
    if (m->title == NULL || m->from == NULL || m->to == NULL ||
        m->snippet == NULL || m->url == NULL || m->where == NULL ||
        m->why == NULL)
        return NULL;
    for (size_t i = 0; i < it->nattachments; i++)
        tspsd_arena_push(a, (void ***)&m->attachments, &m->n_attachments,
                         tspsd_arena_strdup(a, it->attachments[i]));
    return m;
}

/* ---- at ring time: beside the call, on the related lane ---- */

typedef struct ring_job {
    tspsd_work w; /* first: the pool hands this back */
    tspsd *d;
    uint64_t call_id;
    tsps_decision dec;
    cmsb_related_list *items;
    char status[200];
    int skip; /* nothing to publish ("none" for this code) */
} ring_job;

static void ring_run(tspsd_work *w)
{
    ring_job *j = (ring_job *)w;
    const char *caller =
        j->dec.contact_uid[0] != '\0' ? j->dec.contact_uid : j->dec.caller;
    tsps_contact who;
    int known = 0;

    if (tspsd_related_who(j->d, j->dec.user, caller, &who, &known) != TSPS_OK) {
        j->skip = 1;
        return;
    }
    int rc = tspsd_related_get(j->d, j->dec.user, &who, 0, 0, &j->items,
                               j->status, sizeof(j->status));
    j->skip = rc == TSPS_ENOTFOUND || j->items == NULL;
}

static void ring_done(tspsd_work *w)
{
    ring_job *j = (ring_job *)w;
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__RelatedItem **arr = NULL;
    size_t n = 0;

    if (!j->skip) {
        for (size_t i = 0; i < cmsb_related_list_count(j->items); i++) {
            Tsps__RelatedItem *m =
                tspsd_related_item_msg(&a, cmsb_related_list_get(j->items, i));
            if (m == NULL || tspsd_arena_push(&a, (void ***)&arr, &n, m) != 0)
                break;
        }
        tspsd_events_publish_related(j->d, j->call_id, &j->dec, arr, n,
                                     j->status);
        tspsd_log(TSPSD_LOG_DEBUG, j->call_id, j->dec.user, "related items",
                  "count=%zu status=\"%s\"", n, j->status);
    }
    tspsd_arena_free(&a);
    cmsb_related_list_release(j->items);
    free(j);
}

void tspsd_related_on_offer(tspsd *d, uint64_t call_id,
                            const tsps_decision *dec)
{
    ring_job *j;

    if (dec == NULL || !tspsd_related_has_sources(d, dec->user) ||
        (dec->caller[0] == '\0' && dec->contact_uid[0] == '\0'))
        return;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return;
    j->w.run = ring_run;
    j->w.done = ring_done;
    j->w.lane = TSPSD_LANE_RELATED;
    j->d = d;
    j->call_id = call_id;
    j->dec = *dec;
    int rc = tspsd_pool_submit(d, &j->w);
    if (rc != 0) {
        tspsd_log(TSPSD_LOG_WARN, call_id, dec->user, "related lookup dropped",
                  "reason=%s", rc == -2 ? "queue full" : "no pool");
        free(j);
    }
}

/*
 * cluster.c - the publisher and the watcher of a cluster member
 * (cluster.h). One mutex guards the queue and the counters; etcd requests
 * run without it.
 */
#include "cluster.h"

#include "etcd.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define PREFIX_MAX     256

/* A write of ours on its way: its echo (the watch bringing it back) is
 * skipped when nothing else touched the key in between. */
typedef struct own {
    struct own *next;
    char *key;   /* full etcd key */
    int64_t rev; /* the revision etcd gave it; 0 not yet known */
    int tainted; /* another event of the key came since we applied it */
    int seen;    /* its echo came before etcd's answer to our put */
    int del;     /* what we wrote: a delete, or val/len */
    void *val;
    size_t len;
} own;

#define OWN_MAX 10000 /* more writes in flight: their echoes are applied */

typedef struct qent {
    struct qent *next;
    own *own; /* NULL: the echo is applied */
    uint64_t seq;
    char *key; /* full etcd key */
    void *val;
    size_t len;
    int del;
} qent;

struct tspsd_cluster {
    tspsd_cluster_ops ops;
    tspsd_etcd *etcd;
    char prefix[PREFIX_MAX]; /* "/tsps/" */
    char node[128];
    const char *const *order; /* cfg->range_order (static) */
    size_t max_queue;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qent *head, *tail;
    uint64_t next_seq;
    atomic_int stop;
    int started;
    pthread_t pub, watch, keep;
    int lease_ttl_s;
    int64_t start_rev;
    tspsd_cluster_stats st; /* under mu */
    own *owns;              /* under mu */
    size_t nown;
    int64_t seen_rev; /* the watcher has looked at events up to here (mu) */
};

/* Unlink and free o; mu held. */
static void own_drop(tspsd_cluster *c, own *o)
{
    for (own **p = &c->owns; *p != NULL; p = &(*p)->next)
        if (*p == o) {
            *p = o->next;
            c->nown--;
            free(o->key);
            free(o->val);
            free(o);
            return;
        }
}

const char *tspsd_cluster_node(const tspsd_cluster *c)
{
    return c->node;
}

int tspsd_cluster_new(const tspsd_cluster_config *cfg,
                      const tspsd_cluster_ops *ops, tspsd_cluster **out)
{
    *out = NULL;
    if (cfg == NULL || ops == NULL || ops->apply == NULL ||
        ops->applied == NULL || cfg->prefix == NULL || cfg->prefix[0] != '/' ||
        strlen(cfg->prefix) + 2 > PREFIX_MAX || cfg->node == NULL ||
        cfg->node[0] == '\0' || strlen(cfg->node) >= 128) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cluster: bad configuration",
                  "hint=\"[cluster] prefix must start with / and node must "
                  "be set\"");
        return -1;
    }
    tspsd_cluster *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    int rc = tspsd_etcd_new(cfg->etcd, cfg->timeout_ms, &c->etcd);
    if (rc != TSPSD_ETCD_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cluster: bad etcd endpoints",
                  "etcd=\"%.200s\" error=\"%s\" hint=\"[cluster] etcd: "
                  "http:// or https:// URLs, comma-separated (at most 8)\"",
                  cfg->etcd ? cfg->etcd : "", tspsd_etcd_strerror(rc));
        free(c);
        return -1;
    }
    c->ops = *ops;
    size_t pl = strlen(cfg->prefix);
    while (pl > 1 && cfg->prefix[pl - 1] == '/')
        pl--;
    snprintf(c->prefix, sizeof(c->prefix), "%.*s/", (int)pl, cfg->prefix);
    snprintf(c->node, sizeof(c->node), "%s", cfg->node);
    c->max_queue = cfg->max_queue ? cfg->max_queue : 100000;
    c->order = cfg->range_order != NULL && cfg->range_order[0] != NULL
                   ? cfg->range_order
                   : NULL;
    c->start_rev = cfg->start_rev > 0 ? cfg->start_rev : 0;
    c->st.applied_rev = c->start_rev;
    c->st.config_rev = c->start_rev;
    c->lease_ttl_s = ops->node_info != NULL ? cfg->lease_ttl_s : 0;
    c->next_seq = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return 0;
}

/* A queue entry (not yet linked). */
static qent *qent_new(tspsd_cluster *c, uint64_t seq, const char *key,
                      const void *val, size_t len, int del)
{
    qent *q = calloc(1, sizeof(*q));
    size_t kl = strlen(c->prefix) + strlen(key) + 1;
    if (q == NULL)
        return NULL;
    q->key = malloc(kl);
    q->val = malloc(len ? len : 1);
    if (q->key == NULL || q->val == NULL) {
        free(q->key);
        free(q->val);
        free(q);
        return NULL;
    }
    snprintf(q->key, kl, "%s%s", c->prefix, key);
    if (len)
        memcpy(q->val, val, len);
    q->len = len;
    q->del = del;
    q->seq = seq;
    return q;
}

/* Link at the tail; mu held. */
static void qent_link(tspsd_cluster *c, qent *q)
{
    if (c->tail != NULL)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
}

int tspsd_cluster_requeue(tspsd_cluster *c, uint64_t seq, const char *key,
                          const void *val, size_t len, int del)
{
    qent *q = qent_new(c, seq, key, val, len, del);
    if (q == NULL)
        return -1;
    pthread_mutex_lock(&c->mu);
    qent_link(c, q);
    c->st.queued++;
    if (seq >= c->next_seq)
        c->next_seq = seq + 1;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int tspsd_cluster_publish(tspsd_cluster *c, const char *key, const void *val,
                          size_t len, int del)
{
    uint64_t seq = 0;
    qent *q = NULL;
    if (c == NULL || key == NULL || key[0] == '\0' || (!del && val == NULL))
        return -1;
    /* Reserve a place and a number, keep the write (ops->queue_save)
     * before the publisher can see it, so that its queue_drop always comes
     * after the save: a write sent is never sent again after a restart. */
    pthread_mutex_lock(&c->mu);
    int full = c->st.queued >= c->max_queue;
    if (full)
        c->st.dropped++;
    else {
        seq = c->next_seq++;
        c->st.queued++;
    }
    pthread_mutex_unlock(&c->mu);
    if (!full)
        q = qent_new(c, seq, key, val, len, del);
    if (q == NULL) {
        if (!full) {
            pthread_mutex_lock(&c->mu);
            c->st.queued--;
            c->st.dropped++;
            pthread_mutex_unlock(&c->mu);
        }
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "cluster: write not published: queue full",
                  "key=\"%.200s\" max_queue=%zu hint=\"etcd has been away "
                  "long; the write is applied on this node only\"",
                  key, c->max_queue);
        return -1;
    }
    if (c->ops.queue_save != NULL)
        c->ops.queue_save(c->ops.arg, seq, key, val, len, del);
    /* The caller applied this write already: its echo need not be, unless
     * another event of the key comes first (not for a prefix delete). */
    size_t kl = strlen(key);
    own *o = key[kl - 1] != '/' ? calloc(1, sizeof(*o)) : NULL;
    if (o != NULL) {
        o->del = del;
        o->len = del ? 0 : len;
        o->key = strdup(q->key);
        o->val = o->len > 0 ? malloc(o->len) : NULL;
        if (o->key == NULL || (o->len > 0 && o->val == NULL)) {
            free(o->key);
            free(o->val);
            free(o);
            o = NULL;
        } else if (o->len > 0)
            memcpy(o->val, val, len);
    }
    pthread_mutex_lock(&c->mu);
    if (o != NULL && c->nown < OWN_MAX) {
        o->next = c->owns;
        c->owns = o;
        c->nown++;
        q->own = o;
    } else if (o != NULL) {
        free(o->key);
        free(o);
    }
    qent_link(c, q);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void tspsd_cluster_stats_get(tspsd_cluster *c, tspsd_cluster_stats *st)
{
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    pthread_mutex_unlock(&c->mu);
}

typedef struct reader {
    tspsd_cluster *c;
    void (*cb)(void *arg, const char *key, const void *val, size_t len,
               int64_t rev);
    void *arg;
} reader;

static int read_one(void *arg, int type, const char *key, size_t klen,
                    const void *val, size_t vlen, int64_t mod_rev)
{
    reader *r = arg;
    char k[700];
    size_t pl = strlen(r->c->prefix);
    (void)type;
    if (klen <= pl || klen - pl >= sizeof(k))
        return 0;
    memcpy(k, key + pl, klen - pl);
    k[klen - pl] = '\0';
    r->cb(r->arg, k, val, vlen, mod_rev);
    return 0;
}

int tspsd_cluster_read(tspsd_cluster *c, const char *part,
                       void (*cb)(void *arg, const char *key, const void *val,
                                  size_t len, int64_t rev),
                       void *arg)
{
    char sub[PREFIX_MAX + 300], err[300];
    reader r = {c, cb, arg};
    if (strlen(part) >= 300)
        return -1;
    snprintf(sub, sizeof(sub), "%s%s", c->prefix, part);
    int rc =
        tspsd_etcd_range(c->etcd, sub, 0, read_one, &r, NULL, err, sizeof(err));
    if (rc != TSPSD_ETCD_OK) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: cannot read from etcd",
                  "node=%s keys=\"%.200s\" error=\"%.200s\"", c->node, sub,
                  err);
        return -1;
    }
    return 0;
}

/* Sleep ms or until stop. */
static void nap(tspsd_cluster *c, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!atomic_load(&c->stop) &&
           pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&c->mu);
}

static void set_up(tspsd_cluster *c, int up, const char *what, const char *err)
{
    pthread_mutex_lock(&c->mu);
    int was = c->st.etcd_up;
    c->st.etcd_up = up;
    if (was && !up) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->st.down_since = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    } else if (up) {
        c->st.down_since = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (was && !up)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: etcd unreachable; routing goes on from the local "
                  "store, writes are queued",
                  "node=%s during=%s error=\"%.200s\"", c->node, what,
                  err ? err : "");
    else if (!was && up)
        tspsd_log(TSPSD_LOG_INFO, 0, NULL, "cluster: etcd reachable", "node=%s",
                  c->node);
}

static void *publisher(void *arg)
{
    tspsd_cluster *c = arg;
    long backoff = BACKOFF_MIN_MS;
    char err[300];

    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (c->head == NULL && !atomic_load(&c->stop))
            pthread_cond_wait(&c->cv, &c->mu);
        qent *q = c->head;
        pthread_mutex_unlock(&c->mu);
        if (atomic_load(&c->stop))
            break; /* what is queued stays saved (queue_save) */
        int64_t rev = 0;
        size_t kl = strlen(q->key);
        int rc = q->del ? tspsd_etcd_delete(c->etcd, q->key,
                                            kl > 0 && q->key[kl - 1] == '/',
                                            &rev, err, sizeof(err))
                        : tspsd_etcd_put(c->etcd, q->key, q->val, q->len, &rev,
                                         err, sizeof(err));
        if (rc == TSPSD_ETCD_EUNREACHABLE) {
            set_up(c, 0, "publish", err);
            nap(c, backoff);
            backoff =
                backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = BACKOFF_MIN_MS;
        if (rc != TSPSD_ETCD_OK)
            /* etcd refused it (too large...): retrying will not help */
            tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                      "cluster: etcd refused a write; applied on this node "
                      "only",
                      "node=%s key=\"%.200s\" error=\"%.200s\"", c->node,
                      q->key, err);
        else
            set_up(c, 1, "publish", NULL);
        pthread_mutex_lock(&c->mu);
        c->head = q->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->st.queued--;
        if (q->own != NULL) {
            /* the watcher may have seen the echo already: then it applied
             * it, and there is nothing left to skip */
            if (rc == TSPSD_ETCD_OK && rev > c->seen_rev && !q->own->seen)
                q->own->rev = rev;
            else
                own_drop(c, q->own);
        }
        if (rc == TSPSD_ETCD_OK) {
            c->st.published++;
            if (rev > c->st.etcd_rev)
                c->st.etcd_rev = rev;
        }
        pthread_mutex_unlock(&c->mu);
        if (c->ops.queue_drop != NULL)
            c->ops.queue_drop(c->ops.arg, q->seq);
        free(q->key);
        free(q->val);
        free(q);
    }
    return NULL;
}

/* The registry's keys (relative to the prefix): node/, member/. */
static int registry_key(const char *k, size_t n)
{
    return (n > 5 && memcmp(k, "node/", 5) == 0) ||
           (n > 7 && memcmp(k, "member/", 7) == 0);
}

/* The event writes what o wrote. */
static int same_write(const own *o, int type, const void *val, size_t vlen)
{
    if (type != TSPSD_ETCD_PUT)
        return o->del;
    return !o->del && vlen == o->len &&
           (vlen == 0 || memcmp(val, o->val, vlen) == 0);
}

typedef struct applier {
    tspsd_cluster *c;
    int64_t rev;
    int ranging; /* a full read: keys come in key order, not revision order */
    int64_t cfg_max; /* a full read: the newest configuration key's mod_rev */
} applier;

static int on_event(void *arg, int type, const char *key, size_t klen,
                    const void *val, size_t vlen, int64_t mod_rev)
{
    applier *a = arg;
    tspsd_cluster *c = a->c;
    size_t pl = strlen(c->prefix);
    if (atomic_load(&c->stop))
        return 1;
    int ours = klen > pl && memcmp(key, c->prefix, pl) == 0;
    int reg = ours && registry_key(key + pl, klen - pl);
    int echo = 0;
    pthread_mutex_lock(&c->mu);
    if (!a->ranging) {
        if (mod_rev > c->seen_rev)
            c->seen_rev = mod_rev;
        for (own *o = c->owns, *n; o != NULL; o = n) {
            n = o->next;
            if (strlen(o->key) != klen || memcmp(o->key, key, klen) != 0)
                continue;
            if (o->rev == mod_rev) { /* our write's echo */
                echo = !o->tainted;
                own_drop(c, o);
            } else if (o->rev == 0 && !o->seen && !o->tainted &&
                       same_write(o, type, val, vlen)) {
                /* our write's echo before etcd's answer to the put (or
                 * another writer's identical write: skipping it changes
                 * nothing either); the publisher drops o */
                echo = 1;
                o->seen = 1;
            } else {
                o->tainted = 1; /* another write of the key first */
            }
        }
    } else {
        for (own *o = c->owns; o != NULL; o = o->next)
            o->tainted = 1; /* a full read applies every key */
    }
    if (echo)
        c->st.echo_skipped++;
    pthread_mutex_unlock(&c->mu);
    if (ours && !reg && !echo)
        c->ops.apply(c->ops.arg, key + pl, type == TSPSD_ETCD_PUT ? val : NULL,
                     vlen, mod_rev);
    if (a->ranging && ours && !reg && mod_rev > a->cfg_max)
        a->cfg_max = mod_rev;
    if (!a->ranging && mod_rev > a->rev) {
        a->rev = mod_rev;
        c->ops.applied(c->ops.arg, mod_rev);
    }
    pthread_mutex_lock(&c->mu);
    if (!reg)
        c->st.applied++;
    if (!a->ranging && mod_rev > c->st.applied_rev)
        c->st.applied_rev = mod_rev;
    if (!a->ranging && !reg && mod_rev > c->st.config_rev)
        c->st.config_rev = mod_rev;
    if (mod_rev > c->st.etcd_rev)
        c->st.etcd_rev = mod_rev;
    int was_up = c->st.etcd_up;
    pthread_mutex_unlock(&c->mu);
    if (!was_up) /* an event: etcd is back */
        set_up(c, 1, "watch", NULL);
    return 0;
}

static void *watcher(void *arg)
{
    tspsd_cluster *c = arg;
    applier a = {c, c->start_rev, 0, 0};
    long backoff = BACKOFF_MIN_MS;
    char err[300];

    while (!atomic_load(&c->stop)) {
        int rc;
        if (a.rev == 0) {
            /* Fresh (or compacted past us): the whole state at one
             * revision, part by part, then the watch from there. */
            int64_t hrev = 0;
            char sub[PREFIX_MAX + 64];
            a.ranging = 1;
            a.cfg_max = 0;
            rc = TSPSD_ETCD_OK;
            for (size_t i = 0;
                 rc == TSPSD_ETCD_OK &&
                 (i == 0 || (c->order != NULL && c->order[i] != NULL));
                 i++) {
                snprintf(sub, sizeof(sub), "%s%s", c->prefix,
                         c->order != NULL ? c->order[i] : "");
                rc = tspsd_etcd_range(c->etcd, sub, hrev, on_event, &a, &hrev,
                                      err, sizeof(err));
            }
            a.ranging = 0;
            if (atomic_load(&c->stop))
                break;
            if (rc == TSPSD_ETCD_OK) {
                set_up(c, 1, "range", NULL);
                if (hrev > a.rev)
                    a.rev = hrev;
                c->ops.applied(c->ops.arg, a.rev);
                pthread_mutex_lock(&c->mu);
                c->st.applied_rev = a.rev;
                /* Not the read's revision: that counts registry writes too,
                 * and a node that only watched would seem behind us. */
                if (a.cfg_max > c->st.config_rev)
                    c->st.config_rev = a.cfg_max;
                if (hrev > c->st.etcd_rev)
                    c->st.etcd_rev = hrev;
                pthread_mutex_unlock(&c->mu);
                tspsd_log(TSPSD_LOG_INFO, 0, NULL,
                          "cluster: full state read from etcd",
                          "node=%s revision=%" PRId64, c->node, a.rev);
            } else if (rc != TSPSD_ETCD_ESTOPPED) {
                set_up(c, 0, "range", err);
                nap(c, backoff);
                backoff =
                    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
        }
        if (atomic_load(&c->stop))
            break;
        pthread_mutex_lock(&c->mu);
        c->st.watching = 1;
        c->st.reconnects++;
        pthread_mutex_unlock(&c->mu);
        int64_t last = 0;
        rc = tspsd_etcd_watch(c->etcd, c->prefix, a.rev + 1, on_event, &a,
                              &c->stop, &last, err, sizeof(err));
        pthread_mutex_lock(&c->mu);
        c->st.watching = 0;
        if (last > c->st.etcd_rev)
            c->st.etcd_rev = last;
        pthread_mutex_unlock(&c->mu);
        if (rc == TSPSD_ETCD_ESTOPPED)
            break;
        if (rc == TSPSD_ETCD_ECOMPACTED) {
            tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                      "cluster: our revision is compacted in etcd; reading "
                      "the whole state",
                      "node=%s revision=%" PRId64 " error=\"%.200s\"", c->node,
                      a.rev, err);
            a.rev = 0;
            continue;
        }
        set_up(c, 0, "watch", err);
        nap(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void set_registered(tspsd_cluster *c, int on)
{
    pthread_mutex_lock(&c->mu);
    c->st.registered = on;
    pthread_mutex_unlock(&c->mu);
}

/* The registry: node/<node> under a lease, renewed every third of its
 * TTL, rewritten (with member/<node>) when ops->node_info changes. */
static void *keeper(void *arg)
{
    tspsd_cluster *c = arg;
    char nkey[PREFIX_MAX + 160], mkey[PREFIX_MAX + 160], err[300];
    char cur[2048], last[2048] = "";
    int64_t lease = 0;
    double next_ka = 0;
    int failing = 0;

    snprintf(nkey, sizeof(nkey), "%snode/%s", c->prefix, c->node);
    snprintf(mkey, sizeof(mkey), "%smember/%s", c->prefix, c->node);
    while (!atomic_load(&c->stop)) {
        size_t n = c->ops.node_info(c->ops.arg, cur, sizeof(cur) - 1);
        int rc = TSPSD_ETCD_OK;
        int asked = 1; /* a request went to etcd this round */
        cur[n < sizeof(cur) ? n : sizeof(cur) - 1] = '\0';
        if (lease == 0) {
            rc = tspsd_etcd_lease_grant(c->etcd, c->lease_ttl_s, &lease, err,
                                        sizeof(err));
            last[0] = '\0'; /* put the record under the new lease */
            next_ka = mono_ms() + c->lease_ttl_s * 1000.0 / 3;
        } else if (mono_ms() >= next_ka) {
            int64_t ttl = 0;
            rc = tspsd_etcd_lease_keepalive(c->etcd, lease, &ttl, err,
                                            sizeof(err));
            next_ka = mono_ms() + c->lease_ttl_s * 1000.0 / 3;
            if (rc == TSPSD_ETCD_OK && ttl <= 0) {
                tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                          "cluster: our lease expired (etcd away too long); "
                          "registering again",
                          "node=%s", c->node);
                lease = 0;
                set_registered(c, 0);
                continue;
            }
        } else {
            asked = 0;
        }
        if (rc == TSPSD_ETCD_OK && lease != 0 && strcmp(cur, last) != 0) {
            rc = tspsd_etcd_put_lease(c->etcd, nkey, cur, strlen(cur), lease,
                                      NULL, err, sizeof(err));
            if (rc == TSPSD_ETCD_OK)
                rc = tspsd_etcd_put(c->etcd, mkey, cur, strlen(cur), NULL, err,
                                    sizeof(err));
            if (rc == TSPSD_ETCD_OK) {
                memcpy(last, cur, strlen(cur) + 1);
                set_registered(c, 1);
            }
            asked = 1;
        }
        /* etcd answers again: the watch, back too, may bring nothing */
        if (asked && rc == TSPSD_ETCD_OK)
            set_up(c, 1, "registry", NULL);
        if (rc != TSPSD_ETCD_OK && !failing)
            tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                      "cluster: node record not kept in etcd; retrying",
                      "node=%s error=\"%.200s\"", c->node, err);
        else if (rc == TSPSD_ETCD_OK && failing)
            tspsd_log(TSPSD_LOG_INFO, 0, NULL, "cluster: node record kept",
                      "node=%s", c->node);
        failing = rc != TSPSD_ETCD_OK;
        if (failing && rc != TSPSD_ETCD_EUNREACHABLE)
            lease = 0; /* refused: start over with a new lease */
        if (c->ops.tick != NULL)
            c->ops.tick(c->ops.arg);
        nap(c, 500);
    }
    if (lease != 0) /* a clean stop: we are gone at once, not in a TTL */
        tspsd_etcd_delete(c->etcd, nkey, 0, NULL, err, sizeof(err));
    return NULL;
}

int tspsd_cluster_start(tspsd_cluster *c)
{
    c->st.etcd_up = 1; /* until a request says otherwise: one log line */
    if (pthread_create(&c->pub, NULL, publisher, c) != 0)
        return -1;
    if (pthread_create(&c->watch, NULL, watcher, c) != 0) {
        atomic_store(&c->stop, 1);
        pthread_cond_broadcast(&c->cv);
        pthread_join(c->pub, NULL);
        return -1;
    }
    if (c->lease_ttl_s > 0 && pthread_create(&c->keep, NULL, keeper, c) != 0) {
        atomic_store(&c->stop, 1);
        pthread_cond_broadcast(&c->cv);
        pthread_join(c->pub, NULL);
        pthread_join(c->watch, NULL);
        return -1;
    }
    c->started = 1;
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "cluster: member started",
              "node=%s prefix=%s revision=%" PRId64 " queued=%" PRIu64, c->node,
              c->prefix, c->start_rev, c->st.queued);
    return 0;
}

void tspsd_cluster_free(tspsd_cluster *c)
{
    if (c == NULL)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        atomic_store(&c->stop, 1);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->pub, NULL);
        pthread_join(c->watch, NULL);
        if (c->lease_ttl_s > 0)
            pthread_join(c->keep, NULL);
    }
    while (c->owns != NULL)
        own_drop(c, c->owns);
    for (qent *q = c->head, *n; q != NULL; q = n) {
        n = q->next;
        free(q->key);
        free(q->val);
        free(q);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    tspsd_etcd_free(c->etcd);
    free(c);
}

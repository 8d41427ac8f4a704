/*
 * sync.c - background sync of every source on the worker pool (sync lane, never
 * the loop thread): on a schedule (interval), on demand, with exponential
 * backoff after failures. Results go back to the loop through an event
 * (sync status events, logs); metrics read the table under its lock.
 *
 * Sources come from the config file ([source NAME]) and from the control
 * socket (persisted in the store under TSPSD_KEY_SOURCE "<name>").
 */
#include "daemon.h"
#include "store_keys.h"
#include "pool.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmsb/cmsb.h>

#define SYNC_WORKERS  2
#define MAX_SOURCES   64
#define MAX_WRITES    64
#define BACKOFF_MIN_S 5
#define BACKOFF_MAX_S 600
#define CREATE_WAIT_S 30 /* a contact creation waits for a busy source */

typedef struct code_write {
    char uid[TSPS_UID_MAX];
    char code[TSPS_CODE_MAX];
} code_write;

typedef struct src_state {
    char name[64], uri[TSPSD_PATH_MAX], user[TSPS_ID_MAX];
    char options[1024]; /* "k=v\n" */
    int interval_s;
    int from_config;
    int removed; /* freed by whoever holds it last */
    int busy;    /* a worker has it */
    int queued;
    int full;          /* next sync is a full one */
    const char *state; /* "idle", "syncing", "ok", "failed" */
    int64_t last_ok, last_attempt, next_attempt, busy_since;
    char last_error[200];
    unsigned failures;
    uint64_t contacts, events;
    code_write writes[MAX_WRITES];
    int nwrites;
    cmsb_source *src;
    /* Change notification (vcard-dir: inotify): the fd is the source's;
     * the event lives on the loop and is re-armed after each sync. */
    int watch_fd;
    int drain; /* the watch fired: drain it before syncing */
    struct event *watch_ev;
    struct tspsd_sync *owner;
} src_state;

typedef struct note {
    Tsps__Source s;
    char name[64], user[TSPS_ID_MAX], state[16], err[200];
} note;

struct tspsd_sync {
    tspsd *d;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* close: the last sync job retired; a source freed */
    int inflight;      /* sync jobs on the pool (at most SYNC_WORKERS) */
    int creating;      /* contact creations holding a source */
    int stop;
    src_state *srcs[MAX_SOURCES];
    int n;
    struct event *tick;
    struct event *done;
    char finished[MAX_SOURCES][64]; /* names to report on the loop */
    int nfinished;
    cmsb_registry *reg;
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static src_state *find(tspsd_sync *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!s->srcs[i]->removed && strcmp(s->srcs[i]->name, name) == 0)
            return s->srcs[i];
    return NULL;
}

static void src_free(src_state *st)
{
    if (st->watch_ev != NULL)
        event_free(st->watch_ev); /* before the source closes its fd */
    cmsb_source_close(st->src);
    free(st);
}

/* Drop removed, idle entries from the table (lock held). Loop thread only:
 * freeing a source frees its watch event, which must not race the loop. */
static void compact(tspsd_sync *s)
{
    int j = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->srcs[i]->removed && !s->srcs[i]->busy)
            src_free(s->srcs[i]);
        else
            s->srcs[j++] = s->srcs[i];
    }
    s->n = j;
}

static const char *opt(const src_state *st, const char *key, char *buf,
                       size_t len)
{
    tspsd_source_cfg tmp;
    memcpy(tmp.options, st->options, sizeof(tmp.options));
    return tspsd_source_option(&tmp, key, buf, len);
}

static void sync_log(void *arg, int level, const char *msg)
{
    (void)arg;
    tspsd_log_fragment(level, msg);
}

/* Open the source on first use (worker, no lock). 0 or -1 (err). */
static int open_src(tspsd_sync *s, src_state *st, char *err, size_t errlen)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char prop[64], cat[64], note_[64], known[256], tz[64], un[128], pw[128],
        ca[TSPSD_PATH_MAX], tmo[16];
    int rc;

    if (st->src != NULL)
        return 0;
    o.code_property =
        *opt(st, "code_property", prop, sizeof(prop)) ? prop : NULL;
    o.category_prefix =
        *opt(st, "category_prefix", cat, sizeof(cat)) ? cat : NULL;
    o.note_prefix =
        *opt(st, "note_prefix", note_, sizeof(note_)) ? note_ : NULL;
    o.known_codes =
        *opt(st, "known_codes", known, sizeof(known)) ? known : NULL;
    o.tz = *opt(st, "tz", tz, sizeof(tz)) ? tz : NULL;
    o.username = *opt(st, "username", un, sizeof(un)) ? un : NULL;
    o.password = *opt(st, "password", pw, sizeof(pw)) ? pw : NULL;
    o.ca_file = *opt(st, "ca_file", ca, sizeof(ca)) ? ca : NULL;
    o.timeout_ms = atoi(opt(st, "timeout_ms", tmo, sizeof(tmo)));
    o.log = sync_log;
    rc = cmsb_source_open(s->reg, st->uri, &o, &st->src);
    memset(pw, 0, sizeof(pw));
    if (rc != CMSB_OK) {
        snprintf(err, errlen, "open %s: %s", st->uri, cmsb_strerror(rc));
        return -1;
    }
    int fd = -1;
    if ((cmsb_source_caps(st->src) & CMSB_CAP_WATCH) != 0 &&
        cmsb_watch_fd(st->src, &fd) == CMSB_OK && fd >= 0) {
        pthread_mutex_lock(&s->mu);
        st->watch_fd = fd; /* armed on the loop after this sync */
        pthread_mutex_unlock(&s->mu);
    }
    return 0;
}

/* What the store holds from one source (not what the last sync changed:
 * an incremental sync with nothing new changes nothing, and the gauge and
 * `source list` must still say how many contacts the source gave). */
typedef struct count_ctx {
    const char *source;
    uint64_t n;
} count_ctx;

static int count_contact(void *arg, const tsps_contact *c)
{
    count_ctx *k = arg;
    k->n += strcmp(c->source, k->source) == 0;
    return 0;
}

static int count_event(void *arg, const tsps_event *e)
{
    count_ctx *k = arg;
    k->n += strcmp(e->source, k->source) == 0;
    return 0;
}

static void source_totals(tsps_engine *eng, const src_state *st,
                          uint64_t *contacts, uint64_t *events)
{
    count_ctx kc = {st->name, 0}, ke = {st->name, 0};
    if (tsps_contact_list(eng, st->user, NULL, count_contact, &kc) == TSPS_OK)
        *contacts = kc.n;
    if (tsps_event_list(eng, st->user, INT64_MIN, INT64_MAX, count_event,
                        &ke) == TSPS_OK)
        *events = ke.n;
}

/* One sync run, on a worker, without the lock. Returns 0 or -1 (err). */
static int run_one(tspsd_sync *s, src_state *st, char *err, size_t errlen,
                   uint64_t *contacts, uint64_t *events)
{
    if (open_src(s, st, err, errlen) != 0)
        return -1;
    cmsb_sync_stats stats;
    pthread_mutex_lock(&s->mu);
    int drain = st->drain;
    st->drain = 0;
    pthread_mutex_unlock(&s->mu);
    if (drain)
        cmsb_watch_drain(st->src);
    int rc =
        cmsb_sync(st->src, s->d->eng, st->user, st->name, st->full, &stats);
    if (rc != CMSB_OK) {
        snprintf(err, errlen, "sync: %s", cmsb_strerror(rc));
        return -1;
    }
    *contacts = stats.contacts_put;
    *events = stats.events_put;
    source_totals(s->d->eng, st, contacts, events);
    return 0;
}

static void run_writes(tspsd_sync *s, src_state *st, code_write *w, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = st->src != NULL ? cmsb_write_code(st->src, w[i].uid, w[i].code)
                                 : CMSB_EIO;
        tspsd_log(rc == CMSB_OK ? TSPSD_LOG_INFO : TSPSD_LOG_WARN, 0, st->user,
                  rc == CMSB_OK ? "code written back"
                                : "code write-back failed",
                  "source=%s uid=%s code=%s error=\"%s\"", st->name, w[i].uid,
                  w[i].code[0] ? w[i].code : "-",
                  rc == CMSB_OK ? "" : cmsb_strerror(rc));
    }
}

/* One job of the pool's sync lane: runs ready sources until none is left
 * (or the daemon stops), then retires. */
typedef struct sync_job {
    tspsd_work w; /* first */
    tspsd_sync *s;
} sync_job;

static void sync_job_run(tspsd_work *w)
{
    tspsd_sync *s = ((sync_job *)w)->s;

    free(w); /* owned by this run (no done hook) */
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        src_state *st = NULL;
        for (int i = 0; i < s->n; i++) {
            src_state *c = s->srcs[i];
            if (!c->removed && !c->busy && (c->queued || c->nwrites > 0)) {
                st = c;
                break;
            }
        }
        if (st == NULL)
            break;
        code_write writes[MAX_WRITES];
        int nw = st->nwrites, do_sync = st->queued;
        memcpy(writes, st->writes, sizeof(code_write) * (size_t)nw);
        st->nwrites = 0;
        st->busy = 1;
        st->queued = 0;
        if (do_sync) {
            st->state = "syncing";
            st->busy_since = now_s();
            st->last_attempt = st->busy_since;
        }
        pthread_mutex_unlock(&s->mu);

        char err[200] = "";
        uint64_t nc = 0, ne = 0;
        int rc = 0;
        if (do_sync)
            rc = run_one(s, st, err, sizeof(err), &nc, &ne);
        if (nw > 0) {
            char werr[200];
            if (open_src(s, st, werr, sizeof(werr)) != 0)
                tspsd_log(TSPSD_LOG_WARN, 0, st->user, "code write-back failed",
                          "source=%s", st->name);
            else
                run_writes(s, st, writes, nw);
        }

        pthread_mutex_lock(&s->mu);
        st->busy = 0;
        pthread_cond_broadcast(&s->cv); /* a contact creation may wait */
        if (do_sync) {
            int64_t t = now_s();
            if (rc == 0) {
                st->state = "ok";
                st->failures = 0;
                st->last_ok = t;
                st->last_error[0] = '\0';
                st->contacts = nc;
                st->events = ne;
                st->full = 0;
                st->next_attempt = st->interval_s > 0 ? t + st->interval_s : 0;
            } else {
                unsigned f = ++st->failures;
                int64_t back = BACKOFF_MIN_S;
                for (unsigned i = 1; i < f && back < BACKOFF_MAX_S; i++)
                    back *= 2;
                if (back > BACKOFF_MAX_S)
                    back = BACKOFF_MAX_S;
                st->state = "failed";
                snprintf(st->last_error, sizeof(st->last_error), "%s", err);
                st->next_attempt = t + back;
            }
            if (s->nfinished < MAX_SOURCES)
                snprintf(s->finished[s->nfinished++], 64, "%s", st->name);
            event_active(s->done, EV_READ, 0);
        }
    }
    s->inflight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Locked: is a source waiting for a sync job? */
static int any_ready(const tspsd_sync *s)
{
    for (int i = 0; i < s->n; i++) {
        const src_state *c = s->srcs[i];
        if (!c->removed && !c->busy && (c->queued || c->nwrites > 0))
            return 1;
    }
    return 0;
}

/* Locked: put sync jobs on the pool for ready sources (at most
 * SYNC_WORKERS at a time; a job picks sources until none is ready). */
static void kick(tspsd_sync *s)
{
    while (!s->stop && s->inflight < SYNC_WORKERS && any_ready(s)) {
        sync_job *j = calloc(1, sizeof(*j));
        if (j == NULL)
            return;
        j->w.run = sync_job_run;
        j->w.lane = TSPSD_LANE_SYNC;
        j->s = s;
        s->inflight++;
        if (tspsd_pool_submit(s->d, &j->w) != 0) {
            s->inflight--;
            free(j);
            return;
        }
    }
}

static void fill_msg(tspsd_arena *a, const src_state *st, Tsps__Source *m)
{
    tsps__source__init(m);
    m->name = tspsd_arena_strdup(a, st->name);
    m->uri = tspsd_arena_strdup(a, st->uri);
    m->user = tspsd_arena_strdup(a, st->user);
    m->interval_s = (uint32_t)st->interval_s;
    m->on_demand = st->interval_s == 0;
    m->state = (char *)st->state;
    m->last_ok = st->last_ok;
    m->last_attempt = st->last_attempt;
    m->last_error = tspsd_arena_strdup(a, st->last_error);
    m->failures = st->failures;
    m->contacts = st->contacts;
    m->events = st->events;
    m->next_attempt = st->next_attempt;
    /* Options are listed by key only when they hold a secret. */
    const char *p = st->options;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char line[300];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        if (strncmp(line, "password=", 9) == 0)
            snprintf(line, sizeof(line), "password=(set)");
        tspsd_arena_push(a, (void ***)&m->options, &m->n_options,
                         tspsd_arena_strdup(a, line));
        p += len + (nl != NULL);
    }
}

/* On the loop: a watched source changed. Sync it (the worker drains the
 * notification first); the event is armed again after that sync. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    src_state *st = arg;
    tspsd_sync *s = st->owner;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    if (!st->removed) {
        st->queued = 1;
        st->drain = 1;
        kick(s);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Lock held, on the loop: (re)arm the watch of a source after a sync. */
static void arm_watch(tspsd_sync *s, src_state *st)
{
    if (st->watch_fd < 0 || st->removed)
        return;
    if (st->watch_ev == NULL)
        st->watch_ev =
            event_new(s->d->base, st->watch_fd, EV_READ, watch_cb, st);
    if (st->watch_ev != NULL && !event_pending(st->watch_ev, EV_READ, NULL))
        event_add(st->watch_ev, NULL);
}

/* On the loop: report finished syncs. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_sync *s = arg;
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__Source *msgs[MAX_SOURCES];
    int n = 0;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nfinished; i++) {
        src_state *st = find(s, s->finished[i]);
        if (st == NULL)
            continue;
        msgs[n] = tspsd_arena_alloc(&a, sizeof(Tsps__Source));
        if (msgs[n] == NULL)
            break;
        arm_watch(s, st);
        fill_msg(&a, st, msgs[n]);
        n++;
    }
    s->nfinished = 0;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        char q[260];
        tspsd_log(strcmp(msgs[i]->state, "ok") == 0 ? TSPSD_LOG_INFO
                                                    : TSPSD_LOG_WARN,
                  0, msgs[i]->user, "source synced",
                  "source=%s state=%s contacts=%llu events=%llu failures=%u "
                  "error=%s",
                  msgs[i]->name, msgs[i]->state,
                  (unsigned long long)msgs[i]->contacts,
                  (unsigned long long)msgs[i]->events, msgs[i]->failures,
                  tspsd_log_quote(msgs[i]->last_error, q, sizeof(q)));
        tspsd_events_publish(s->d, "sync", 0, NULL, TSPS_OUTCOME_ROUTED,
                             msgs[i]);
    }
    tspsd_arena_free(&a);
}

/* Every second on the loop: queue what is due, flag stalled syncs. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_sync *s = arg;
    int64_t t = now_s();
    int wake = 0;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    compact(s);
    for (int i = 0; i < s->n; i++) {
        src_state *st = s->srcs[i];
        /* A source that hangs is reported; routing goes on from the store
         * and the other worker serves the other sources. */
        if (st->busy && st->busy_since != 0 && t - st->busy_since > 120 &&
            strcmp(st->state, "syncing") == 0)
            st->state = "stalled";
        if (st->removed || st->busy || st->queued)
            continue;
        if (st->next_attempt != 0 && t >= st->next_attempt) {
            st->queued = 1;
            wake = 1;
        }
    }
    if (wake)
        kick(s);
    pthread_mutex_unlock(&s->mu);
}

static int add_locked(tspsd_sync *s, const char *name, const char *uri,
                      const char *user, int interval, const char *options,
                      int from_config)
{
    src_state *st;
    if (find(s, name) != NULL)
        return TSPS_EEXIST;
    if (s->n >= MAX_SOURCES)
        return TSPS_ENOSPC;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return TSPS_ENOMEM;
    snprintf(st->name, sizeof(st->name), "%s", name);
    snprintf(st->uri, sizeof(st->uri), "%s", uri);
    snprintf(st->user, sizeof(st->user), "%s", user);
    snprintf(st->options, sizeof(st->options), "%s", options);
    st->interval_s = interval;
    st->from_config = from_config;
    st->watch_fd = -1;
    st->owner = s;
    st->state = "idle";
    st->queued = 1; /* first sync right away */
    s->srcs[s->n++] = st;
    kick(s);
    return TSPS_OK;
}

static int load_cb(void *arg, const char *key, const void *val, size_t len)
{
    tspsd_sync *s = arg;
    Tsps__Source *m = tsps__source__unpack(NULL, len, val);
    char opts[1024] = "";
    (void)key;
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < m->n_options; i++) {
        size_t used = strlen(opts);
        snprintf(opts + used, sizeof(opts) - used, "%s\n", m->options[i]);
    }
    add_locked(s, m->name, m->uri, m->user, (int)m->interval_s, opts, 0);
    tsps__source__free_unpacked(m, NULL);
    return 0;
}

int tspsd_sync_open(tspsd *d)
{
    tspsd_sync *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    s->d = d;
    d->sync = s;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (cmsb_registry_open(&s->reg) != CMSB_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot open adapter registry",
                  NULL);
        return -1;
    }
    s->done = event_new(d->base, -1, 0, done_cb, s);
    s->tick = event_new(d->base, -1, EV_PERSIST, tick_cb, s);
    if (s->done == NULL || s->tick == NULL)
        return -1;
    struct timeval one = {1, 0};
    event_add(s->tick, &one);
    pthread_mutex_lock(&s->mu);
    tsps_kv_list(d->eng, TSPSD_KEY_SOURCE, load_cb, s);
    pthread_mutex_unlock(&s->mu);
    tspsd_sync_set_config_sources(d);
    pthread_mutex_lock(&s->mu);
    kick(s); /* first syncs */
    pthread_mutex_unlock(&s->mu);
    return d->pool != NULL ? 0 : -1;
}

void tspsd_sync_close(tspsd *d)
{
    tspsd_sync *s = d->sync;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    /* A sync in progress finishes its current batch first. */
    while (s->inflight > 0 || s->creating > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++)
        src_free(s->srcs[i]);
    if (s->tick != NULL)
        event_free(s->tick);
    if (s->done != NULL)
        event_free(s->done);
    cmsb_registry_close(s->reg);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    d->sync = NULL;
}

void tspsd_sync_set_config_sources(tspsd *d)
{
    tspsd_sync *s = d->sync;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        src_state *st = s->srcs[i];
        int keep = 0;
        if (!st->from_config || st->removed)
            continue;
        for (int j = 0; j < d->cfg.nsources; j++) {
            const tspsd_source_cfg *c = &d->cfg.sources[j];
            if (strcmp(c->name, st->name) == 0 &&
                strcmp(c->uri, st->uri) == 0 &&
                strcmp(c->user, st->user) == 0 &&
                strcmp(c->options, st->options) == 0) {
                keep = 1;
                st->interval_s = c->interval_s;
            }
        }
        if (!keep)
            st->removed = 1;
    }
    compact(s);
    for (int j = 0; j < d->cfg.nsources; j++) {
        const tspsd_source_cfg *c = &d->cfg.sources[j];
        if (find(s, c->name) == NULL)
            add_locked(s, c->name, c->uri, c->user, c->interval_s, c->options,
                       1);
    }
    pthread_mutex_unlock(&s->mu);
}

int tspsd_sync_add(tspsd *d, const Tsps__Source *m, int persist)
{
    tspsd_sync *s = d->sync;
    char opts[1024] = "", key[128];
    int rc;

    for (size_t i = 0; i < m->n_options; i++) {
        size_t used = strlen(opts);
        if (strchr(m->options[i], '=') == NULL ||
            strchr(m->options[i], '\n') != NULL)
            return TSPS_EINVAL;
        int n =
            snprintf(opts + used, sizeof(opts) - used, "%s\n", m->options[i]);
        if (n < 0 || (size_t)n >= sizeof(opts) - used)
            return TSPS_EINVAL;
    }
    if (strlen(m->uri) >= TSPSD_PATH_MAX)
        return TSPS_EINVAL;
    /* As in the config file, 0 = only on demand; a client that sets no
     * interval at all (proto3 cannot tell 0 from unset) gets 300 s. */
    int interval = m->on_demand ? 0 : m->interval_s ? (int)m->interval_s : 300;
    pthread_mutex_lock(&s->mu);
    rc = add_locked(s, m->name, m->uri, m->user, interval, opts, 0);
    pthread_mutex_unlock(&s->mu);
    if (rc != TSPS_OK || !persist)
        return rc;
    /* Only the definition is stored (status is runtime state). */
    Tsps__Source def = TSPS__SOURCE__INIT;
    def.name = m->name;
    def.uri = m->uri;
    def.user = m->user;
    def.interval_s = (uint32_t)interval;
    def.on_demand = interval == 0;
    def.n_options = m->n_options;
    def.options = m->options;
    size_t n = tsps__source__get_packed_size(&def);
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL)
        return TSPS_ENOMEM;
    tsps__source__pack(&def, buf);
    snprintf(key, sizeof(key), TSPSD_KEY_SOURCE "%s", m->name);
    rc = tsps_kv_put(d->eng, key, buf, n);
    free(buf);
    return rc;
}

int tspsd_sync_remove(tspsd *d, const char *name)
{
    tspsd_sync *s = d->sync;
    char key[128];
    int from_config = 0;

    pthread_mutex_lock(&s->mu);
    src_state *st = find(s, name);
    if (st != NULL) {
        from_config = st->from_config;
        if (!from_config)
            st->removed = 1; /* freed by the loop's tick */
    }
    pthread_mutex_unlock(&s->mu);
    if (st == NULL)
        return TSPS_ENOTFOUND;
    if (from_config)
        return TSPS_ESTATE; /* defined in the config file: edit it there */
    snprintf(key, sizeof(key), TSPSD_KEY_SOURCE "%s", name);
    tsps_kv_put(d->eng, key, NULL, 0);
    return TSPS_OK;
}

int tspsd_sync_now(tspsd *d, const char *name)
{
    tspsd_sync *s = d->sync;
    int found = 0;

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        src_state *st = s->srcs[i];
        if (st->removed)
            continue;
        if (name == NULL || *name == '\0' || strcmp(st->name, name) == 0) {
            st->queued = 1;
            found = 1;
        }
    }
    if (found)
        kick(s);
    pthread_mutex_unlock(&s->mu);
    return found ? TSPS_OK : TSPS_ENOTFOUND;
}

int tspsd_sync_list(tspsd *d, tspsd_arena *a, Tsps__Source ***out, size_t *n)
{
    tspsd_sync *s = d->sync;
    int rc = 0;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n && rc == 0; i++) {
        if (s->srcs[i]->removed)
            continue;
        Tsps__Source *m = tspsd_arena_alloc(a, sizeof(*m));
        if (m == NULL) {
            rc = -1;
            break;
        }
        fill_msg(a, s->srcs[i], m);
        rc = tspsd_arena_push(a, (void ***)out, n, m);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int tspsd_sync_write_code(tspsd *d, const char *user, const char *uid,
                          const char *code, char *why, size_t whylen)
{
    tspsd_sync *s = d->sync;
    tsps_contact k;
    int rc = tsps_contact_get(d->eng, user, uid, &k);

    if (rc != TSPS_OK) {
        snprintf(why, whylen, "code set; contact not found for write-back");
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    src_state *st = find(s, k.source);
    if (st == NULL) {
        pthread_mutex_unlock(&s->mu);
        snprintf(why, whylen,
                 "code set in tsps only (no source %s to write "
                 "back to)",
                 k.source[0] ? k.source : "-");
        return -1;
    }
    if (st->nwrites >= MAX_WRITES) {
        pthread_mutex_unlock(&s->mu);
        snprintf(why, whylen, "code set; write-back queue full");
        return -1;
    }
    code_write *w = &st->writes[st->nwrites++];
    snprintf(w->uid, sizeof(w->uid), "%s", uid);
    snprintf(w->code, sizeof(w->code), "%s", code);
    kick(s);
    pthread_mutex_unlock(&s->mu);
    snprintf(why, whylen, "code set; write-back to %s queued", st->name);
    return 0;
}

/* Locked: wait (bounded) until st is free, then hold it. 0, or -1 when
 * the daemon stops, the source goes or it stays busy too long. */
static int claim(tspsd_sync *s, src_state *st)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CREATE_WAIT_S;
    while (st->busy && !s->stop && !st->removed)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
            break;
    if (st->busy || s->stop || st->removed)
        return -1;
    st->busy = 1;
    s->creating++;
    return 0;
}

/* Locked: give st back; sync it when asked. */
static void release(tspsd_sync *s, src_state *st, int sync)
{
    st->busy = 0;
    s->creating--;
    if (sync && !st->removed) {
        st->queued = 1;
        kick(s);
    }
    pthread_cond_broadcast(&s->cv);
}

int tspsd_sync_create_contact(tspsd *d, const char *user, const char *source,
                              const tsps_contact *c, const char *code,
                              char *src_out, size_t src_len,
                              char uid_out[TSPS_UID_MAX], char *why,
                              size_t whylen)
{
    tspsd_sync *s = d->sync;
    char names[MAX_SOURCES][64];
    int n = 0, rc = CMSB_ENOTFOUND, tried = 0;

    snprintf(why, whylen, "no source of %s can add contacts", user);
    if (s == NULL)
        return CMSB_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        const src_state *st = s->srcs[i];
        if (st->removed || strcmp(st->user, user) != 0)
            continue;
        if (source != NULL && *source != '\0' && strcmp(st->name, source) != 0)
            continue;
        snprintf(names[n++], sizeof(names[0]), "%s", st->name);
    }
    pthread_mutex_unlock(&s->mu);
    if (n == 0 && source != NULL && *source != '\0')
        snprintf(why, whylen, "%s has no source %s", user, source);
    /* The named source, or the user's sources in order until one can add
     * a card; one at a time, the source held like a sync holds it. */
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&s->mu);
        src_state *st = find(s, names[i]);
        if (st == NULL || claim(s, st) != 0) {
            pthread_mutex_unlock(&s->mu);
            rc = CMSB_EIO;
            snprintf(why, whylen, "source %s is busy or gone", names[i]);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        char err[200] = "";
        int created = 0;
        if (open_src(s, st, err, sizeof(err)) != 0) {
            rc = CMSB_EIO;
            snprintf(why, whylen, "%s", err);
        } else if ((cmsb_source_caps(st->src) & CMSB_CAP_CREATE) == 0) {
            if (tried == 0 && rc != CMSB_EIO) {
                rc = CMSB_ENOTSUP;
                snprintf(why, whylen, "source %s cannot add contacts",
                         st->name);
            }
        } else {
            tried = 1;
            rc = cmsb_create_contact(st->src, c, code, uid_out);
            created = rc == CMSB_OK;
            if (created) {
                snprintf(src_out, src_len, "%s", st->name);
                snprintf(why, whylen, "contact %s added to %s; syncing",
                         uid_out, st->name);
            } else {
                snprintf(why, whylen, "%s refused the contact: %s", st->name,
                         cmsb_strerror(rc));
            }
            tspsd_log(created ? TSPSD_LOG_INFO : TSPSD_LOG_WARN, 0, user,
                      created ? "contact added" : "contact add failed",
                      "source=%s uid=%s code=%s error=\"%s\"", st->name,
                      created ? uid_out : "-", code[0] ? code : "-",
                      created ? "" : cmsb_strerror(rc));
        }
        pthread_mutex_lock(&s->mu);
        release(s, st, created);
        pthread_mutex_unlock(&s->mu);
        if (tried)
            break; /* created, or the writable source refused: say so */
    }
    return rc;
}

/* For metrics.c: one line per source. */
int tspsd_sync_metrics(tspsd *d, char *buf, size_t len);
int tspsd_sync_metrics(tspsd *d, char *buf, size_t len)
{
    tspsd_sync *s = d->sync;
    size_t o = 0;
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n && o < len; i++) {
        src_state *st = s->srcs[i];
        if (st->removed)
            continue;
        int n = snprintf(
            buf + o, len - o,
            "tspsd_sync_ok{source=\"%s\"} %d\n"
            "tspsd_sync_failures{source=\"%s\"} %u\n"
            "tspsd_sync_last_success_timestamp_seconds{source=\"%s\"} %lld\n"
            "tspsd_sync_contacts{source=\"%s\"} %llu\n",
            st->name, strcmp(st->state, "ok") == 0, st->name, st->failures,
            st->name, (long long)st->last_ok, st->name,
            (unsigned long long)st->contacts);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    pthread_mutex_unlock(&s->mu);
    return (int)(o < len ? o : len);
}

int tspsd_sync_settled(tspsd *d)
{
    tspsd_sync *s = d->sync;
    int settled = 1;
    if (s == NULL)
        return 1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        const src_state *st = s->srcs[i];
        if (!st->removed &&
            (st->queued || st->busy || strcmp(st->state, "idle") == 0))
            settled = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return settled;
}

/*
 * pool.c - the one worker pool (pool.h): a FIFO of jobs, workers that take
 * the oldest job whose lane has a free slot, and a list of finished jobs
 * handed back on the loop through one event.
 */
#include "pool.h"

#include "daemon.h"

#include <pthread.h>
#include <stdlib.h>

static const int lane_slots[TSPSD_LANES] = {1, 1, 2, 2};
#define POOL_THREADS 6 /* the sum of lane_slots */

struct tspsd_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* workers: a job or stop */
    pthread_cond_t idle; /* drain: a lane went quiet */
    pthread_t th[POOL_THREADS];
    int nthreads, stop;
    tspsd_work *q, **qtail;
    tspsd_work *done, **donetail;
    int running[TSPSD_LANES];
    int pending[TSPSD_LANES]; /* queued + running */
    struct event *done_ev;
};

static void push(tspsd_work ***tail, tspsd_work *w)
{
    w->next = NULL;
    **tail = w;
    *tail = &w->next;
}

/* The oldest queued job whose lane has a free slot, unlinked. Locked. */
static tspsd_work *take(tspsd_pool *p)
{
    for (tspsd_work **pp = &p->q; *pp != NULL; pp = &(*pp)->next) {
        tspsd_work *w = *pp;
        if (p->running[w->lane] >= lane_slots[w->lane])
            continue;
        *pp = w->next;
        if (*pp == NULL)
            p->qtail = pp;
        p->running[w->lane]++;
        return w;
    }
    return NULL;
}

static void *worker(void *arg)
{
    tspsd_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        tspsd_work *w = take(p);
        if (w == NULL) {
            if (p->stop && p->q == NULL)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        int lane = w->lane;
        int owned = w->done == NULL;
        w->run(w); /* with done == NULL, w may be gone now */
        pthread_mutex_lock(&p->mu);
        p->running[lane]--;
        if (!owned) {
            push(&p->donetail, w);
            event_active(p->done_ev, EV_READ, 0);
        } else {
            p->pending[lane]--;
        }
        pthread_cond_broadcast(&p->idle);
        pthread_cond_broadcast(&p->cv); /* a lane slot is free */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Finished jobs of `lane` (all lanes: -1), unlinked. Locked. */
static tspsd_work *take_done(tspsd_pool *p, int lane)
{
    tspsd_work *out = NULL, **otail = &out;
    tspsd_work **pp = &p->done;
    while (*pp != NULL) {
        tspsd_work *w = *pp;
        if (lane >= 0 && w->lane != lane) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        p->pending[w->lane]--;
        push(&otail, w);
    }
    p->donetail = &p->done;
    while (*p->donetail != NULL)
        p->donetail = &(*p->donetail)->next;
    pthread_cond_broadcast(&p->idle);
    return out;
}

static void finish(tspsd_work *list, void (*fin)(tspsd_work *w))
{
    while (list != NULL) {
        tspsd_work *w = list;
        list = w->next;
        if (fin != NULL)
            fin(w);
        else
            w->done(w);
    }
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_pool *p = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&p->mu);
    tspsd_work *list = take_done(p, -1);
    pthread_mutex_unlock(&p->mu);
    finish(list, NULL);
}

int tspsd_pool_open(tspsd *d)
{
    tspsd_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    d->pool = p;
    p->qtail = &p->q;
    p->donetail = &p->done;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->done_ev = event_new(d->base, -1, 0, done_cb, p);
    if (p->done_ev == NULL)
        return -1;
    for (int i = 0; i < POOL_THREADS; i++)
        if (pthread_create(&p->th[i], NULL, worker, p) == 0)
            p->nthreads++;
    return p->nthreads == POOL_THREADS ? 0 : -1;
}

int tspsd_pool_submit(tspsd *d, tspsd_work *w)
{
    tspsd_pool *p = d->pool;
    if (p == NULL || p->nthreads == 0 || w->lane < 0 || w->lane >= TSPSD_LANES)
        return -1;
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    if (w->lane == TSPSD_LANE_RELATED &&
        p->pending[w->lane] >= TSPSD_RELATED_QUEUE_MAX) {
        pthread_mutex_unlock(&p->mu);
        return -2;
    }
    p->pending[w->lane]++;
    push(&p->qtail, w);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void tspsd_pool_drain(tspsd *d, int lane, void (*fin)(tspsd_work *w))
{
    tspsd_pool *p = d->pool;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int inflight = 0;
        for (tspsd_work *w = p->done; w != NULL; w = w->next)
            inflight += w->lane == lane;
        if (p->pending[lane] - inflight <= 0)
            break;
        pthread_cond_wait(&p->idle, &p->mu);
    }
    tspsd_work *list = take_done(p, lane);
    pthread_mutex_unlock(&p->mu);
    finish(list, fin);
}

void tspsd_pool_close(tspsd *d)
{
    tspsd_pool *p = d->pool;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1; /* the queue drains first: acknowledged means done */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    finish(take_done(p, -1), NULL);
    if (p->done_ev != NULL)
        event_free(p->done_ev);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->idle);
    free(p);
    d->pool = NULL;
}

/*
 * jobs.c - requests that write the store (provisioning, codes, status,
 * delegations, tokens, sources, devices) run on a worker thread, so that an
 * fsync never stalls the loop that also carries SIP and routing (docs/style.md
 * §8). One worker: writes are serialised inside LMDB anyway. The loop stops
 * reading from a connection while its job runs, which keeps replies in
 * request order; results come back through an event.
 */
#include "daemon.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    tspsd_conn *c;
    Tsps__Request *req;
    const tspsd_handler *h;
    Tsps__Response resp;
    struct job *next;
} job;

struct tspsd_jobs {
    tspsd *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop;
    job *q, **qtail;       /* to run */
    job *done, **donetail; /* to answer on the loop */
    struct event *done_ev;
};

static void push(job ***tail, job *j)
{
    j->next = NULL;
    **tail = j;
    *tail = &j->next;
}

static void *worker(void *arg)
{
    struct tspsd_jobs *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        job *j = w->q;
        if (j == NULL) {
            if (w->stop)
                break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        w->q = j->next;
        if (w->q == NULL)
            w->qtail = &w->q;
        pthread_mutex_unlock(&w->mu);
        /* The connection's arena and fields are ours until it returns:
         * the loop neither reads from it nor frees it meanwhile. */
        j->h->fn(&j->c->a, j->req, &j->resp);
        pthread_mutex_lock(&w->mu);
        push(&w->donetail, j);
        event_active(w->done_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tspsd_jobs *w = arg;
    job *list;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->mu);
    list = w->done;
    w->done = NULL;
    w->donetail = &w->done;
    pthread_mutex_unlock(&w->mu);
    while (list != NULL) {
        job *j = list;
        list = j->next;
        tspsd_conn_job_done(j->c, &j->resp);
        tsps__request__free_unpacked(j->req, NULL);
        free(j);
    }
}

int tspsd_jobs_open(tspsd *d)
{
    struct tspsd_jobs *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    d->jobs = w;
    w->d = d;
    w->qtail = &w->q;
    w->donetail = &w->done;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done_ev = event_new(d->base, -1, 0, done_cb, w);
    if (w->done_ev == NULL || pthread_create(&w->th, NULL, worker, w) != 0)
        return -1;
    w->started = 1;
    return 0;
}

int tspsd_jobs_submit(tspsd *d, tspsd_conn *c, Tsps__Request *req,
                      const tspsd_handler *h)
{
    struct tspsd_jobs *w = d->jobs;
    job *j = calloc(1, sizeof(*j));

    if (j == NULL || w == NULL || !w->started) {
        free(j);
        return -1;
    }
    j->c = c;
    j->req = req;
    j->h = h;
    tsps__response__init(&j->resp);
    j->resp.id = req->id;
    c->job_inflight = 1;
    pthread_mutex_lock(&w->mu);
    push(&w->qtail, j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void tspsd_jobs_close(tspsd *d)
{
    struct tspsd_jobs *w = d->jobs;
    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1; /* the queue drains first: acknowledged means done */
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
    }
    /* Answer what finished; connections closed meanwhile go away. */
    while (w->done != NULL) {
        job *j = w->done;
        w->done = j->next;
        j->c->job_inflight = 0;
        if (j->c->close_after_job)
            tspsd_conn_destroy(j->c);
        tsps__request__free_unpacked(j->req, NULL);
        free(j);
    }
    if (w->done_ev != NULL)
        event_free(w->done_ev);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    d->jobs = NULL;
}

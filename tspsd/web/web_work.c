/*
 * web_work.c - one worker thread for the web requests that would stall the
 * loop (which also carries SIP and routing): password hashing (login,
 * password changes) and control-protocol requests that write the store
 * (handlers registered with `offload`), and sessions' last-use records
 * (jobs without a request: nothing to answer). The worker fills a status and a
 * JSON reply; the loop sends it. A browser that hangs up meanwhile leaves
 * the evhttp request detached, and replying to it then frees it.
 */
#include "web_internal.h"

#include "../log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct web_work {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop;
    web_job *q, **qtail;
    web_job *done, **donetail;
    struct event *done_ev;
};

static void push(web_job ***tail, web_job *j)
{
    j->next = NULL;
    **tail = j;
    *tail = &j->next;
}

static void *worker(void *arg)
{
    web_work *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        web_job *j = k->q;
        if (j == NULL) {
            if (k->stop)
                break;
            pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        k->q = j->next;
        if (k->q == NULL)
            k->qtail = &k->q;
        pthread_mutex_unlock(&k->mu);
        j->run(j);
        pthread_mutex_lock(&k->mu);
        push(&k->donetail, j);
        event_active(k->done_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

void web_job_free(web_job *j)
{
    if (j == NULL)
        return;
    json_decref(j->out);
    json_decref(j->in);
    tspsd_arena_free(&j->a);
    tspsd_arena_free(&j->c.arena);
    free(j);
}

static void answer(web_job *j)
{
    if (j->done != NULL)
        j->done(j);
    /* A request that revoked an identity: close its live connections and
     * streams before the reply says so. */
    tspsd_asker_end_access(&j->c);
    if (j->req == NULL) { /* housekeeping, nobody to answer */
        web_job_free(j);
        return;
    }
    if (j->cookie[0] != '\0')
        web_set_cookie(j->req, WEB_COOKIE, j->cookie, j->cookie_age);
    if (j->clear_pre)
        web_set_cookie(j->req, WEB_PRE_COOKIE, "x", 0);
    web_send_json(j->req, j->status, j->out);
    j->out = NULL; /* web_send_json took it */
    web_job_free(j);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    web_work *k = arg;
    web_job *list;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&k->mu);
    list = k->done;
    k->done = NULL;
    k->donetail = &k->done;
    pthread_mutex_unlock(&k->mu);
    while (list != NULL) {
        web_job *j = list;
        list = j->next;
        answer(j);
    }
}

web_job *web_job_new(tspsd_web *w, struct evhttp_request *req,
                     void (*run)(web_job *j))
{
    web_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->w = w;
    j->req = req;
    j->run = run;
    j->status = 500;
    return j;
}

void web_job_submit(web_job *j)
{
    web_work *k = j->w->work;
    if (k == NULL || !k->started) {
        j->run(j); /* no worker: run inline */
        answer(j);
        return;
    }
    pthread_mutex_lock(&k->mu);
    push(&k->qtail, j);
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

int web_work_start(tspsd_web *w)
{
    web_work *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -1;
    w->work = k;
    k->qtail = &k->q;
    k->donetail = &k->done;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->done_ev = event_new(w->d->base, -1, 0, done_cb, k);
    if (k->done_ev == NULL || pthread_create(&k->th, NULL, worker, k) != 0)
        return -1;
    k->started = 1;
    return 0;
}

void web_work_stop(tspsd_web *w)
{
    web_work *k = w->work;
    if (k == NULL)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = 1; /* the queue drains first */
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->th, NULL);
    }
    while (k->done != NULL) {
        web_job *j = k->done;
        k->done = j->next;
        answer(j);
    }
    if (k->done_ev != NULL)
        event_free(k->done_ev);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
    w->work = NULL;
}

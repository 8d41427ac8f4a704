/*
 * web_work.c - the web requests that would stall the loop (which also
 * carries SIP and routing), on the worker pool's web lane (pool.h): password
 * hashing (login,
 * password changes) and control-protocol requests that write the store
 * (handlers registered with `offload`), and sessions' last-use records
 * (jobs without a request: nothing to answer). The worker fills a status and a
 * JSON reply; the loop sends it. A browser that hangs up meanwhile leaves
 * the evhttp request detached, and replying to it then frees it.
 */
#include "web_internal.h"

#include "../log.h"

#include <stdlib.h>
#include <string.h>

void web_job_free(web_job *j)
{
    if (j == NULL)
        return;
    json_decref(j->out);
    json_decref(j->in);
    if (j->file != NULL)
        evbuffer_free(j->file);
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

static void pool_run(tspsd_work *pw)
{
    web_job *j = (web_job *)pw;
    j->run(j);
}

static void pool_done(tspsd_work *pw)
{
    answer((web_job *)pw);
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
    j->pw.run = pool_run;
    j->pw.done = pool_done;
    j->pw.lane = j->lane != 0 ? j->lane : TSPSD_LANE_WEB;
    int rc = j->w->d != NULL ? tspsd_pool_submit(j->w->d, &j->pw) : -1;
    if (rc == -2) { /* the related lane is full: never on the loop */
        j->status = 503;
        j->out = json_pack("{s:s,s:s}", "code", "INTERNAL", "error",
                           "busy: too many lookups queued, try again");
        answer(j);
    } else if (rc != 0) {
        j->run(j); /* no pool (unit tests): run inline */
        answer(j);
    }
}

int web_work_start(tspsd_web *w)
{
    (void)w;
    return 0;
}

void web_work_stop(tspsd_web *w)
{
    /* Requests in flight finish; their answers go out now. */
    tspsd_pool_drain(w->d, TSPSD_LANE_WEB, NULL);
    tspsd_pool_drain(w->d, TSPSD_LANE_RELATED, NULL);
    /* contact.create from the web UI runs on the sync lane. */
    tspsd_pool_drain(w->d, TSPSD_LANE_SYNC, NULL);
}

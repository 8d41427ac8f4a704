/*
 * jobs.c - control requests that write the store (provisioning, codes,
 * status, delegations, tokens, sources, devices) run on the worker pool's
 * control lane (pool.h: one worker), so that an fsync never stalls the
 * loop that also carries SIP and routing (docs/style.md §8). The loop
 * stops reading from a connection while its job runs, which keeps replies
 * in request order; results come back on the loop.
 */
#include "daemon.h"
#include "log.h"
#include "pool.h"

#include <stdlib.h>

typedef struct job {
    tspsd_work w; /* first: the pool hands this back */
    tspsd_conn *c;
    Tsps__Request *req;
    const tspsd_handler *h;
    Tsps__Response resp;
} job;

static void run(tspsd_work *w)
{
    job *j = (job *)w;
    /* The connection's arena and fields are ours until it returns: the
     * loop neither reads from it nor frees it meanwhile. */
    j->h->fn(&j->c->a, j->req, &j->resp);
}

static void done(tspsd_work *w)
{
    job *j = (job *)w;
    tspsd_conn_job_done(j->c, &j->resp);
    tsps__request__free_unpacked(j->req, NULL);
    free(j);
}

/* At close: connections closed meanwhile go away, nothing is sent. */
static void done_at_close(tspsd_work *w)
{
    job *j = (job *)w;
    j->c->job_inflight = 0;
    if (j->c->close_after_job)
        tspsd_conn_destroy(j->c);
    tsps__request__free_unpacked(j->req, NULL);
    free(j);
}

int tspsd_jobs_open(tspsd *d)
{
    return d->pool != NULL ? 0 : -1;
}

int tspsd_jobs_submit(tspsd *d, tspsd_conn *c, Tsps__Request *req, int offload,
                      const tspsd_handler *h)
{
    job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return -1;
    j->w.run = run;
    j->w.done = done;
    j->w.lane = offload == TSPSD_OFFLOAD_RELATED ? TSPSD_LANE_RELATED
                : offload == TSPSD_OFFLOAD_SYNC  ? TSPSD_LANE_SYNC
                                                 : TSPSD_LANE_CONTROL;
    j->c = c;
    j->req = req;
    j->h = h;
    tsps__response__init(&j->resp);
    j->resp.id = req->id;
    c->job_inflight = 1;
    int rc = tspsd_pool_submit(d, &j->w);
    if (rc != 0) {
        c->job_inflight = 0;
        free(j);
        return rc; /* -2: the lane is full */
    }
    return 0;
}

void tspsd_jobs_close(tspsd *d)
{
    /* Queued writes finish first: acknowledged means done. */
    tspsd_pool_drain(d, TSPSD_LANE_CONTROL, done_at_close);
    /* The related lane also carries ring-time lookups (related.c): their
     * own done hooks, and ours (the connections are still open). */
    tspsd_pool_drain(d, TSPSD_LANE_RELATED, NULL);
    /* contact.create runs on the sync lane; the syncs have stopped. */
    tspsd_pool_drain(d, TSPSD_LANE_SYNC, done_at_close);
}

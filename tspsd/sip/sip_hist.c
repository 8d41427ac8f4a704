/*
 * sip_hist.c - [history] commit = async: the calls the SIP front answers
 * at once are recorded by a writer thread, so a response never waits for
 * the disk.
 *
 * The loop thread gives each call an id from a block reserved durably in
 * advance (tsps_history_reserve_ids: a restart never hands those ids out
 * again, whatever was lost), encodes its record (tsps_history_prepare, no
 * lock), appends it to the active one of two buffers and sends the
 * response. The writer swaps the buffers at most `window_ms` after the
 * first record of the active one arrived (sooner when it is half full),
 * writes the records in one batch and commits. A power loss or kill -9
 * loses at most the records of the last window (plus one commit's time);
 * their ids are never reused.
 *
 * Held (ask) calls and outcome changes stay synchronous: they are rare,
 * and their later writes must find the record.
 */
#include "sip_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_BUF      (4u << 20) /* bytes per buffer */
#define HIST_REC_MAX  (16u << 10)
#define HIST_RESERVE  4096 /* ids reserved per durable write */
#define HIST_ENTRY_HD (8 + 4)

struct sip_hist {
    tspsd_sip *s;
    tsps_engine *eng;
    unsigned window_ms;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work, space;
    uint8_t *buf[2];
    size_t used[2];
    int active;       /* the buffer the loop appends to */
    int64_t first_ns; /* when the active buffer's first record came */
    int stop;
    uint64_t next_id, end_id; /* reserved block, loop thread only */
    atomic_ullong failed, written, commits;
    uint8_t rec[HIST_REC_MAX]; /* the loop's encoding space */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t write_group(sip_hist *h, const uint8_t *p, size_t used,
                          unsigned *nrec)
{
    tsps_batch *b = NULL;
    size_t off = 0;
    unsigned n = 0, bad = 0;
    int rc = tsps_batch_begin(h->eng, &b);

    while (off + HIST_ENTRY_HD <= used) {
        uint64_t id;
        uint32_t len;
        memcpy(&id, p + off, 8);
        memcpy(&len, p + off + 8, 4);
        if (rc == TSPS_OK) {
            int r = tsps_batch_history_put(b, id, p + off + HIST_ENTRY_HD, len);
            if (r == TSPS_EINVAL || r == TSPS_EEXIST)
                bad++; /* that record only; the batch goes on */
            else if (r != TSPS_OK)
                rc = r;
        }
        off += HIST_ENTRY_HD + len;
        n++;
    }
    if (rc == TSPS_OK)
        rc = tsps_batch_commit(b);
    else if (b != NULL)
        tsps_batch_abort(b);
    *nrec = n;
    if (rc != TSPS_OK) {
        atomic_fetch_add(&h->failed, n);
        sip_log(h->s, TSPS_LOG_ERROR,
                "msg=\"sip history commit failed, calls answered "
                "unrecorded\" calls=%u err=%s",
                n, tsps_errname(rc));
        return 0;
    }
    if (bad > 0) {
        atomic_fetch_add(&h->failed, bad);
        sip_log(h->s, TSPS_LOG_ERROR,
                "msg=\"sip history records refused\" calls=%u", bad);
    }
    atomic_fetch_add(&h->written, n - bad);
    atomic_fetch_add(&h->commits, 1);
    return n;
}

static void *writer(void *arg)
{
    sip_hist *h = arg;

    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->used[h->active] == 0)
            pthread_cond_wait(&h->work, &h->mu);
        if (h->used[h->active] == 0 && h->stop)
            break;
        /* let the window fill: group commit */
        int64_t due = h->first_ns + (int64_t)h->window_ms * 1000000LL;
        while (!h->stop && h->used[h->active] < HIST_BUF / 2) {
            int64_t now = mono_ns();
            if (now >= due)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t at =
                (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + (due - now);
            ts.tv_sec = (time_t)(at / 1000000000LL);
            ts.tv_nsec = (long)(at % 1000000000LL);
            if (pthread_cond_timedwait(&h->work, &h->mu, &ts) == ETIMEDOUT)
                break;
        }
        int mine = h->active;
        size_t used = h->used[mine];
        h->active = !mine;
        pthread_cond_broadcast(&h->space);
        pthread_mutex_unlock(&h->mu);

        unsigned n = 0;
        (void)write_group(h, h->buf[mine], used, &n);

        pthread_mutex_lock(&h->mu);
        h->used[mine] = 0;
        pthread_cond_broadcast(&h->space);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int sip_hist_open(tspsd_sip *s)
{
    if (!s->cfg.history_async)
        return TSPS_OK;
    sip_hist *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return TSPS_ENOMEM;
    h->s = s;
    h->eng = s->eng;
    h->window_ms =
        s->cfg.history_window_ms > 0 ? (unsigned)s->cfg.history_window_ms : 10;
    h->buf[0] = malloc(HIST_BUF);
    h->buf[1] = malloc(HIST_BUF);
    if (h->buf[0] == NULL || h->buf[1] == NULL ||
        pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h->buf[0]);
        free(h->buf[1]);
        free(h);
        return TSPS_ENOMEM;
    }
    pthread_cond_init(&h->work, NULL);
    pthread_cond_init(&h->space, NULL);
    if (pthread_create(&h->th, NULL, writer, h) != 0) {
        s->hist = h;
        sip_hist_close(s);
        return TSPS_ENOMEM;
    }
    h->started = 1;
    s->hist = h;
    sip_log(s, TSPS_LOG_INFO, "msg=\"sip history commit async\" window_ms=%u",
            h->window_ms);
    return TSPS_OK;
}

void sip_hist_close(tspsd_sip *s)
{
    sip_hist *h = s->hist;
    if (h == NULL)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_broadcast(&h->work);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->th, NULL); /* writes what is queued first */
    }
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->space);
    pthread_mutex_destroy(&h->mu);
    free(h->buf[0]);
    free(h->buf[1]);
    free(h);
    s->hist = NULL;
}

int sip_hist_record(tspsd_sip *s, const tsps_decision *d, tsps_outcome oc,
                    uint64_t *id)
{
    sip_hist *h = s->hist;
    size_t len = 0;
    int rc;

    *id = 0;
    if (h == NULL)
        return tsps_history_append(s->eng, d, oc, id);
    rc = tsps_history_prepare(d, oc, h->rec, sizeof(h->rec), &len);
    if (rc != TSPS_OK)
        return rc;
    if (h->next_id == h->end_id) {
        uint64_t first = 0;
        rc = tsps_history_reserve_ids(s->eng, HIST_RESERVE, &first);
        if (rc != TSPS_OK)
            return rc;
        h->next_id = first;
        h->end_id = first + HIST_RESERVE;
    }
    *id = h->next_id++;
    uint32_t l32 = (uint32_t)len;
    pthread_mutex_lock(&h->mu);
    /* backpressure, bounded by one commit: the writer frees a buffer */
    while (h->used[h->active] + HIST_ENTRY_HD + len > HIST_BUF) {
        pthread_cond_signal(&h->work);
        pthread_cond_wait(&h->space, &h->mu);
    }
    uint8_t *p = h->buf[h->active] + h->used[h->active];
    memcpy(p, id, 8);
    memcpy(p + 8, &l32, 4);
    memcpy(p + HIST_ENTRY_HD, h->rec, len);
    if (h->used[h->active] == 0) {
        h->first_ns = mono_ns();
        pthread_cond_signal(&h->work);
    }
    h->used[h->active] += HIST_ENTRY_HD + len;
    if (h->used[h->active] >= HIST_BUF / 2)
        pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
    return TSPS_OK;
}

uint64_t sip_hist_failed(const tspsd_sip *s)
{
    return s->hist != NULL ? atomic_load(&s->hist->failed) : 0;
}

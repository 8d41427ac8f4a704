/*
 * pool.h - the one worker pool of tspsd (docs/architecture.md, "Worker
 * pool"). Work that would stall the loop runs here: control requests that
 * write the store, the web UI's password hashing and store writes, and
 * source syncs. Each kind has a lane with its own limit of workers, so a
 * stalled sync never holds up a control write:
 *
 *   lane      workers  what
 *   control   1        control requests registered with `offload`
 *   web       1        web logins, password changes, offloaded requests
 *   sync      2        source syncs and code write-backs
 *   related   2        related e-mails and documents (mail servers): a
 *                      bounded queue (TSPSD_RELATED_QUEUE_MAX), so a slow
 *                      IMAP server never starves syncs or writes
 *
 * A job runs on a worker (run), then its done hook runs on the loop.
 * Thread-safety: submit from any thread; open, drain and close on the
 * loop thread.
 */
#ifndef TSPSD_POOL_H
#define TSPSD_POOL_H

typedef struct tspsd tspsd;
typedef struct tspsd_pool tspsd_pool;

enum {
    TSPSD_LANE_CONTROL = 0,
    TSPSD_LANE_WEB = 1,
    TSPSD_LANE_SYNC = 2,
    TSPSD_LANE_RELATED = 3,
    TSPSD_LANES = 4
};

/** Most related jobs queued or running; tspsd_pool_submit() refuses more. */
#define TSPSD_RELATED_QUEUE_MAX 64

typedef struct tspsd_work tspsd_work;
struct tspsd_work {
    void (*run)(tspsd_work *w);  /* on a worker */
    void (*done)(tspsd_work *w); /* on the loop; may be NULL (then the job
                                    owns itself: run frees or keeps it) */
    int lane;                    /* TSPSD_LANE_* */
    tspsd_work *next;            /* the pool's */
};

/** Start the pool's workers (one per lane slot) on d->base. 0 or -1. */
int tspsd_pool_open(tspsd *d);

/**
 * Queue a job. @return 0, -1 when no pool runs (run it yourself), or -2
 * when the related lane's queue is full (drop it or say busy).
 */
int tspsd_pool_submit(tspsd *d, tspsd_work *w);

/**
 * Wait until no job of `lane` is queued or running, then hand each
 * finished one to `fin` (NULL: its done hook) right here. For a part
 * that closes before the pool does.
 */
void tspsd_pool_drain(tspsd *d, int lane, void (*fin)(tspsd_work *w));

/** Drain every lane (done hooks run), stop the workers, free. */
void tspsd_pool_close(tspsd *d);

#endif

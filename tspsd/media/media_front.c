/*
 * media_front.c - lifecycle of the media front: the SIP socket, the media
 * thread (own event_base: SIP, RTP, a 2 ms CLOCK_MONOTONIC timerfd for
 * pacing) and the storage thread (prompt rendering, WAV + LMDB writes, MWI),
 * which hands results back through an eventfd. Also the inbox API.
 */
#include "media_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

const char *tspsd_media_strerror(int err)
{
    switch (err) {
    case TSPSD_MEDIA_OK:
        return "ok";
    case TSPSD_MEDIA_EINVAL:
        return "invalid argument";
    case TSPSD_MEDIA_ENOMEM:
        return "out of memory";
    case TSPSD_MEDIA_EIO:
        return "i/o error";
    case TSPSD_MEDIA_ENOTFOUND:
        return "no such message";
    case TSPSD_MEDIA_ENOBUFS:
        return "buffer too small";
    case TSPSD_MEDIA_ESTATE:
        return "wrong state";
    default:
        return "unknown error";
    }
}

int64_t tspsd_media__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tspsd_media__log(tspsd_media_front *mf, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (mf != NULL && mf->host != NULL && mf->host->log != NULL) {
        mf->host->log(mf->host_ctx, level, line);
        return;
    }
    fprintf(stderr, "level=%s room=media %s\n",
            level == 0   ? "error"
            : level == 1 ? "warn"
            : level == 2 ? "info"
                         : "debug",
            line);
}

static char *dupstr(const char *s, const char *dflt)
{
    return strdup(s != NULL ? s : dflt);
}

/* ---- storage thread ---- */

void tspsd_media__job_free(mf_job *job)
{
    if (job == NULL)
        return;
    tspsd_media__pcm_free(&job->greeting);
    tspsd_media__pcm_free(&job->beep);
    tspsd_media__pcm_free(&job->unavailable);
    tspsd_media__pcm_free(&job->rec);
    free(job);
}

void tspsd_media__job_submit(tspsd_media_front *mf, mf_job *job)
{
    pthread_mutex_lock(&mf->qlock);
    job->next = NULL;
    if (mf->todo_tail != NULL)
        mf->todo_tail->next = job;
    else
        mf->todo = job;
    mf->todo_tail = job;
    pthread_cond_signal(&mf->qcond);
    pthread_mutex_unlock(&mf->qlock);
}

/* Greeting: greetings/<user>/<CODE>.wav, then greetings/<user>/default.wav,
 * then the default text rendered in the caller's language. */
static void job_prepare(tspsd_media_front *mf, mf_job *job)
{
    const tspsd_media_call_info *ci = &job->call->info;
    const char *lang = ci->language[0] ? ci->language : mf->default_language;
    char path[4096];
    unsigned nnew = 0, nold = 0;

    if (job->call->ivr != NULL) {
        tspsd_media__ivr_prepare(mf, job->call);
        return;
    }
    if (mf->cfg.quota_messages > 0 &&
        tspsd_media__store_count(mf->store, ci->user, &nnew, &nold) == 0 &&
        nnew + nold >= mf->cfg.quota_messages)
        job->full = 1;
    if (job->full) {
        (void)tspsd_media__tts(mf->cache_dir, lang,
                               tspsd_media__prompt_text(lang, "full"),
                               &job->greeting);
        snprintf(job->greeting_src, sizeof(job->greeting_src), "prompt:full");
        return;
    }
    if (tspsd_media__safe_name(ci->code)) {
        snprintf(path, sizeof(path), "%s/%s/%s.wav", mf->greet_dir, ci->user,
                 ci->code);
        if (tspsd_media__wav_load(path, &job->greeting) == 0)
            snprintf(job->greeting_src, sizeof(job->greeting_src), "user:%s",
                     ci->code);
    }
    if (job->greeting.s == NULL) {
        snprintf(path, sizeof(path), "%s/%s/default.wav", mf->greet_dir,
                 ci->user);
        if (tspsd_media__wav_load(path, &job->greeting) == 0)
            snprintf(job->greeting_src, sizeof(job->greeting_src),
                     "user:default");
    }
    if (job->greeting.s == NULL &&
        tspsd_media__tts(mf->cache_dir, lang,
                         tspsd_media__prompt_text(lang, "greeting"),
                         &job->greeting) == 0)
        snprintf(job->greeting_src, sizeof(job->greeting_src), "tts:%s", lang);
    (void)tspsd_media__beep(&job->beep);
    (void)tspsd_media__tts(mf->cache_dir, lang,
                           tspsd_media__prompt_text(lang, "unavailable"),
                           &job->unavailable);
}

static void publish_new(tspsd_media_front *mf, const char *user,
                        const tspsd_media_message *m)
{
    char json[1024];

    if (mf->host->publish == NULL)
        return;
    /* fields are plain (checked at entry or made by us) except the names */
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"user\":\"%s\",\"caller\":\"%s\",\"code\":\"%s\","
             "\"history_id\":\"%s\",\"time\":%lld,\"duration_ms\":%u}",
             m->id, user, m->caller, m->code, m->history_id, (long long)m->time,
             m->duration_ms);
    mf->host->publish(mf->host_ctx, "voicemail.new", user, json);
}

/* Store a group of recordings (callers who hung up together) with one
 * group commit, then tell each caller's call and the host. */
static void job_store_many(tspsd_media_front *mf, mf_job **jobs, size_t n)
{
    mf_store_item items[MF_STORE_GROUP];

    for (size_t i = 0; i < n; i++) {
        memset(&items[i], 0, sizeof(items[i]));
        items[i].ci = &jobs[i]->call->info;
        items[i].pcm = jobs[i]->rec.s;
        items[i].n = jobs[i]->rec.n;
    }
    tspsd_media__store_put_many(mf->store, items, n, mf->cfg.quota_messages);
    for (size_t i = 0; i < n; i++) {
        mf_job *job = jobs[i];
        const tspsd_media_call_info *ci = items[i].ci;
        job->rc = items[i].rc;
        job->msg = items[i].msg;
        if (job->rc == TSPSD_MEDIA_OK) {
            atomic_fetch_add_explicit(&mf->st_stored, 1, memory_order_relaxed);
            tspsd_media__log(
                mf, 2,
                "msg=\"voicemail stored\" user=%s id=%s duration_ms=%u "
                "code=%s group=%zu",
                ci->user, job->msg.id, job->msg.duration_ms, ci->code, n);
            publish_new(mf, ci->user, &job->msg);
            tspsd_media__mwi_notify(mf, ci->user);
        } else {
            atomic_fetch_add_explicit(&mf->st_store_fail, 1,
                                      memory_order_relaxed);
            tspsd_media__log(mf, 0,
                             "msg=\"voicemail not stored\" user=%s "
                             "err=\"%s\"",
                             ci->user, tspsd_media_strerror(job->rc));
        }
    }
}

/* Take the first job and, when it is a store, up to MF_STORE_GROUP - 1
 * more stores queued behind it (qlock held). */
static size_t take_jobs(tspsd_media_front *mf, mf_job **out)
{
    mf_job *job = mf->todo, **pp;
    size_t n = 1;

    mf->todo = job->next;
    out[0] = job;
    if (job->kind == JOB_STORE) {
        pp = &mf->todo;
        while (*pp != NULL && n < MF_STORE_GROUP) {
            if ((*pp)->kind == JOB_STORE) {
                out[n++] = *pp;
                *pp = (*pp)->next;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    mf->todo_tail = NULL;
    for (mf_job *j = mf->todo; j != NULL; j = j->next)
        mf->todo_tail = j;
    return n;
}

static void *worker_main(void *arg)
{
    tspsd_media_front *mf = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&mf->qlock);
    for (;;) {
        mf_job *jobs[MF_STORE_GROUP];
        size_t n;
        while (mf->todo == NULL && !mf->worker_stop)
            pthread_cond_wait(&mf->qcond, &mf->qlock);
        if (mf->todo == NULL && mf->worker_stop)
            break;
        n = take_jobs(mf, jobs);
        pthread_mutex_unlock(&mf->qlock);
        if (jobs[0]->kind == JOB_PREPARE)
            job_prepare(mf, jobs[0]);
        else
            job_store_many(mf, jobs, n);
        pthread_mutex_lock(&mf->qlock);
        for (size_t i = 0; i < n; i++) {
            mf_job *job = jobs[i];
            job->next = NULL;
            if (mf->done_tail != NULL)
                mf->done_tail->next = job;
            else
                mf->done = job;
            mf->done_tail = job;
        }
        if (write(mf->wake_fd, &one, sizeof(one)) < 0) {
            /* eventfd counter full cannot happen at this rate */
        }
    }
    pthread_mutex_unlock(&mf->qlock);
    return NULL;
}

/* media thread: results back from the storage thread */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    tspsd_media_front *mf = arg;
    uint64_t cnt;
    mf_job *list;

    if (read(fd, &cnt, sizeof(cnt)) < 0) {
        /* EAGAIN: spurious */
    }
    pthread_mutex_lock(&mf->qlock);
    list = mf->done;
    mf->done = mf->done_tail = NULL;
    pthread_mutex_unlock(&mf->qlock);
    while (list != NULL) {
        mf_job *job = list;
        list = job->next;
        job->call->job_pending = 0;
        if (job->kind == JOB_PREPARE)
            tspsd_media__call_prepared(job->call, job);
        else
            tspsd_media__call_stored(job->call, job);
        tspsd_media__job_free(job);
    }
}

/* ---- lifecycle ---- */

int tspsd_media_front_new(const tspsd_media_config *cfg,
                          const tspsd_media_host *host, void *host_ctx,
                          tspsd_media_front **out)
{
    tspsd_media_front *mf = NULL;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int rc = TSPSD_MEDIA_EINVAL;

    *out = NULL;
    if (cfg == NULL || cfg->version < 1 || cfg->data_dir == NULL ||
        host == NULL || host->version < 1 || host->verify_token == NULL ||
        cfg->rtp_port_min == 0 || cfg->rtp_port_max < cfg->rtp_port_min + 1)
        return TSPSD_MEDIA_EINVAL;
    mf = calloc(1, sizeof(*mf));
    if (mf == NULL)
        return TSPSD_MEDIA_ENOMEM;
    mf->sip_fd = mf->tick_fd = mf->wake_fd = -1;
    pthread_mutex_init(&mf->qlock, NULL);
    pthread_mutex_init(&mf->mwi_lock, NULL);
    pthread_cond_init(&mf->qcond, NULL);
    mf->cfg = *cfg;
    mf->host = host;
    mf->host_ctx = host_ctx;
    mf->data_dir = dupstr(cfg->data_dir, "");
    mf->sip_addr = dupstr(cfg->sip_addr, "127.0.0.1");
    mf->default_language = dupstr(cfg->default_language, "en");
    if (mf->data_dir == NULL || mf->sip_addr == NULL ||
        mf->default_language == NULL) {
        rc = TSPSD_MEDIA_ENOMEM;
        goto cleanup;
    }
    mf->cfg.data_dir = mf->data_dir;
    mf->cfg.sip_addr = mf->sip_addr;
    mf->cfg.default_language = mf->default_language;
    if (mf->cfg.rtp_timeout_ms == 0)
        mf->cfg.rtp_timeout_ms = 15000;
    if (mf->cfg.no_answer_ms == 0)
        mf->cfg.no_answer_ms = 32000;
    mf->next_port = (uint16_t)(cfg->rtp_port_min & ~1u);
    snprintf(mf->cache_dir, sizeof(mf->cache_dir), "%s/cache", mf->data_dir);
    snprintf(mf->greet_dir, sizeof(mf->greet_dir), "%s/greetings",
             mf->data_dir);
    rc = tspsd_media__store_open(mf->data_dir, &mf->store);
    if (rc != TSPSD_MEDIA_OK)
        goto cleanup;
    rc = TSPSD_MEDIA_EIO;
    if (mkdir(mf->cache_dir, 0750) != 0 && errno != EEXIST)
        goto cleanup;
    parser_init();
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg->sip_port);
    if (inet_pton(AF_INET, mf->sip_addr, &sa.sin_addr) != 1) {
        rc = TSPSD_MEDIA_EINVAL;
        goto cleanup;
    }
    mf->sip_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (mf->sip_fd < 0 ||
        bind(mf->sip_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(mf->sip_fd, (struct sockaddr *)&sa, &sl) != 0) {
        tspsd_media__log(
            mf, 0, "msg=\"cannot bind media SIP socket\" port=%u errno=%d",
            (unsigned)cfg->sip_port, errno);
        goto cleanup;
    }
    mf->sip_port = ntohs(sa.sin_port);
    {
        /* hundreds of callers hang up at once: room for their BYEs
         * (the kernel caps it at net.core.rmem_max) */
        int rcv = 2 << 20;
        (void)setsockopt(mf->sip_fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    }
    *out = mf;
    mf = NULL;
    rc = TSPSD_MEDIA_OK;
cleanup:
    tspsd_media_front_free(mf);
    return rc;
}

uint16_t tspsd_media_front_sip_port(const tspsd_media_front *mf)
{
    return mf != NULL ? mf->sip_port : 0;
}

static void *media_main(void *arg)
{
    tspsd_media_front *mf = arg;

    if (mf->cfg.rt_priority > 0) {
        /* pacing wants prompt wakeups on a busy host; optional */
        struct sched_param sp = {.sched_priority = mf->cfg.rt_priority};
        int err = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
        if (err != 0)
            tspsd_media__log(mf, 1,
                             "msg=\"media thread stays at normal priority\" "
                             "errno=%d",
                             err);
    }
    event_base_dispatch(mf->base);
    return NULL;
}

/* Storage threads finish every queued job, then exit. */
static void join_workers(tspsd_media_front *mf)
{
    pthread_mutex_lock(&mf->qlock);
    mf->worker_stop = 1;
    pthread_cond_broadcast(&mf->qcond);
    pthread_mutex_unlock(&mf->qlock);
    for (int i = 0; i < mf->nworkers; i++)
        pthread_join(mf->worker[i], NULL);
    mf->nworkers = 0;
}

int tspsd_media_front_start(tspsd_media_front *mf)
{
    struct itimerspec its;

    if (mf == NULL || mf->running)
        return TSPSD_MEDIA_ESTATE;
    mf->base = event_base_new();
    if (mf->base == NULL || event_base_priority_init(mf->base, 2) != 0)
        goto fail;
    mf->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    mf->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mf->base == NULL || mf->tick_fd < 0 || mf->wake_fd < 0)
        goto fail;
    /* absolute ticks on a fixed grid: every call's frames are scheduled on
     * this grid, so a frame's lateness is only the wakeup latency */
    mf->tick_base = tspsd_media__now_ns() + MF_TICK_NS;
    memset(&its, 0, sizeof(its));
    its.it_interval.tv_nsec = MF_TICK_NS;
    its.it_value.tv_sec = (time_t)(mf->tick_base / 1000000000LL);
    its.it_value.tv_nsec = (long)(mf->tick_base % 1000000000LL);
    if (timerfd_settime(mf->tick_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        goto fail;
    mf->sip_ev = event_new(mf->base, mf->sip_fd, EV_READ | EV_PERSIST,
                           tspsd_media__sip_read, mf);
    mf->tick_ev = event_new(mf->base, mf->tick_fd, EV_READ | EV_PERSIST,
                            tspsd_media__tick, mf);
    mf->wake_ev =
        event_new(mf->base, mf->wake_fd, EV_READ | EV_PERSIST, on_wake, mf);
    /* the pacing tick (and signalling) run before RTP reads that became
     * ready in the same loop turn; RTP events get the default, 1 */
    if (mf->tick_ev == NULL || event_priority_set(mf->tick_ev, 0) != 0 ||
        mf->sip_ev == NULL || event_priority_set(mf->sip_ev, 0) != 0)
        goto fail;
    if (mf->sip_ev == NULL || mf->tick_ev == NULL || mf->wake_ev == NULL ||
        event_add(mf->sip_ev, NULL) != 0 || event_add(mf->tick_ev, NULL) != 0 ||
        event_add(mf->wake_ev, NULL) != 0)
        goto fail;
    mf->worker_stop = 0;
    for (mf->nworkers = 0; mf->nworkers < MF_WORKERS; mf->nworkers++)
        if (pthread_create(&mf->worker[mf->nworkers], NULL, worker_main, mf) !=
            0)
            break;
    if (mf->nworkers == 0 ||
        pthread_create(&mf->thread, NULL, media_main, mf) != 0) {
        join_workers(mf);
        goto fail;
    }
    mf->running = 1;
    tspsd_media__log(mf, 2, "msg=\"media front started\" sip_port=%u rtp=%u-%u",
                     (unsigned)mf->sip_port, (unsigned)mf->cfg.rtp_port_min,
                     (unsigned)mf->cfg.rtp_port_max);
    return TSPSD_MEDIA_OK;
fail:
    tspsd_media__log(mf, 0, "msg=\"media front did not start\" errno=%d",
                     errno);
    return TSPSD_MEDIA_EIO;
}

static void free_events(tspsd_media_front *mf)
{
    if (mf->sip_ev != NULL)
        event_free(mf->sip_ev);
    if (mf->tick_ev != NULL)
        event_free(mf->tick_ev);
    if (mf->wake_ev != NULL)
        event_free(mf->wake_ev);
    mf->sip_ev = mf->tick_ev = mf->wake_ev = NULL;
    if (mf->base != NULL)
        event_base_free(mf->base);
    mf->base = NULL;
    if (mf->tick_fd >= 0)
        close(mf->tick_fd);
    if (mf->wake_fd >= 0)
        close(mf->wake_fd);
    mf->tick_fd = mf->wake_fd = -1;
}

void tspsd_media_front_stop(tspsd_media_front *mf)
{
    if (mf == NULL || !mf->running) {
        if (mf != NULL)
            free_events(mf);
        return;
    }
    /* the media loop ends its calls when it sees `stopping` (tick) */
    atomic_store(&mf->stopping, 1);
    pthread_join(mf->thread, NULL);
    join_workers(mf);
    /* results of the last jobs: a caller whose BYE waited for the store
     * still gets its 200; then the calls are freed */
    while (mf->done != NULL) {
        mf_job *j = mf->done;
        mf->done = j->next;
        j->call->job_pending = 0;
        if (j->kind == JOB_STORE && !j->call->dead)
            tspsd_media__call_stored(j->call, j);
        j->call->dead = 0;
        tspsd_media__call_free(j->call);
        tspsd_media__job_free(j);
    }
    mf->done_tail = NULL;
    for (int i = 0; i < MF_HASH; i++) {
        while (mf->hash[i] != NULL)
            tspsd_media__call_free(mf->hash[i]);
    }
    free_events(mf);
    mf->running = 0;
}

void tspsd_media_front_free(tspsd_media_front *mf)
{
    if (mf == NULL)
        return;
    tspsd_media_front_stop(mf);
    if (mf->sip_fd >= 0)
        close(mf->sip_fd);
    tspsd_media__store_close(mf->store);
    pthread_mutex_destroy(&mf->qlock);
    pthread_mutex_destroy(&mf->mwi_lock);
    pthread_cond_destroy(&mf->qcond);
    free(mf->data_dir);
    free(mf->sip_addr);
    free(mf->default_language);
    free(mf);
}

void tspsd_media_front_stats(tspsd_media_front *mf, tspsd_media_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (mf == NULL)
        return;
#define LD(x) atomic_load_explicit(&mf->x, memory_order_relaxed)
    out->calls_answered = LD(st_answered);
    out->calls_active = LD(st_active);
    out->messages_stored = LD(st_stored);
    out->store_failures = LD(st_store_fail);
    out->frames_sent = LD(st_sent);
    out->frames_received = LD(st_recv);
    out->frames_dropped_source = LD(st_dropped);
    for (int i = 0; i < 200; i++)
        out->late_hist[i] = LD(st_late[i]);
#undef LD
}

/* ---- inbox ---- */

int tspsd_media_inbox_list(tspsd_media_front *mf, const char *user,
                           tspsd_media_message *msgs, size_t max, size_t *n)
{
    if (mf == NULL || n == NULL || (msgs == NULL && max > 0))
        return TSPSD_MEDIA_EINVAL;
    return tspsd_media__store_list(mf->store, user, msgs, max, n);
}

int tspsd_media_inbox_open(tspsd_media_front *mf, const char *user,
                           const char *id, int *fd)
{
    if (mf == NULL || fd == NULL)
        return TSPSD_MEDIA_EINVAL;
    return tspsd_media__store_open_wav(mf->store, user, id, fd);
}

static void publish_simple(tspsd_media_front *mf, const char *kind,
                           const char *user, const char *id)
{
    char json[256];

    if (mf->host->publish == NULL)
        return;
    snprintf(json, sizeof(json), "{\"id\":\"%s\",\"user\":\"%s\"}", id, user);
    mf->host->publish(mf->host_ctx, kind, user, json);
}

int tspsd_media_inbox_mark_heard(tspsd_media_front *mf, const char *user,
                                 const char *id)
{
    int rc;

    if (mf == NULL)
        return TSPSD_MEDIA_EINVAL;
    rc = tspsd_media__store_mark(mf->store, user, id);
    if (rc == TSPSD_MEDIA_OK) {
        publish_simple(mf, "voicemail.heard", user, id);
        tspsd_media__mwi_notify(mf, user);
    }
    return rc;
}

int tspsd_media_inbox_delete(tspsd_media_front *mf, const char *user,
                             const char *id)
{
    int rc;

    if (mf == NULL)
        return TSPSD_MEDIA_EINVAL;
    rc = tspsd_media__store_delete(mf->store, user, id);
    if (rc == TSPSD_MEDIA_OK) {
        publish_simple(mf, "voicemail.deleted", user, id);
        tspsd_media__mwi_notify(mf, user);
    }
    return rc;
}

int tspsd_media_inbox_count(tspsd_media_front *mf, const char *user,
                            unsigned *new_msgs, unsigned *old_msgs)
{
    if (mf == NULL || new_msgs == NULL || old_msgs == NULL)
        return TSPSD_MEDIA_EINVAL;
    return tspsd_media__store_count(mf->store, user, new_msgs, old_msgs);
}

/*
 * pending.c - the one owner of held calls. A call front reports a call
 * with tspsd_front_call(); an "ask" call (outcome PENDING) is held here
 * until someone acts (tspsd_pending_resolve), the timeout policy answers
 * it with its fallback, or its front reports its end (a SIP CANCEL). The
 * front only answers when told to (its answer hook); the events of a held
 * call go out from here, in this order: call.offered, call.updated (the
 * final decision), one call.ended. Loop thread only.
 *
 * Timeout policy (docs/operator.md, "Held calls"): [held] user.<id> for
 * that user's calls, else the rule's `timeout=` (libtsps stores 20 for an
 * `ask` that names none), else [held] timeout_s, else [sip] ask_timeout_s.
 * On timeout the rule's fallback applies, else a reject "unavailable"
 * (SIP 480).
 */
#include "daemon.h"
#include "related.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pend {
    uint64_t id;
    tsps_decision dec;
    int64_t since;
    tspsd_front *front;
    struct event *timer;
    tspsd *d;
    struct pend *next;
} pend;

struct tspsd_pending {
    pend *head;
    size_t n;
    tspsd_front *live; /* the built-in front of route --live */
};

static const tspsd_front_ops live_ops = {"live", NULL, NULL, NULL, NULL};

int tspsd_pending_open(tspsd *d)
{
    d->pending = calloc(1, sizeof(*d->pending));
    if (d->pending == NULL)
        return -1;
    return tspsd_front_add(d, &live_ops, d, &d->pending->live);
}

tspsd_front *tspsd_front_live(tspsd *d)
{
    return d->pending != NULL ? d->pending->live : NULL;
}

static void pend_free(pend *p)
{
    if (p->timer != NULL)
        event_free(p->timer);
    free(p);
}

void tspsd_pending_close(tspsd *d)
{
    if (d->pending == NULL)
        return;
    pend *p = d->pending->head;
    while (p != NULL) {
        pend *n = p->next;
        pend_free(p);
        p = n;
    }
    free(d->pending);
    d->pending = NULL;
}

static pend *find(tspsd *d, uint64_t id, pend ***link)
{
    pend **pp = &d->pending->head;
    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            if (link != NULL)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

static void unlink_free(tspsd *d, uint64_t id)
{
    pend **link = NULL;
    pend *p = find(d, id, &link);
    if (p == NULL)
        return;
    *link = p->next;
    d->pending->n--;
    atomic_store(&d->held_now, (unsigned)d->pending->n);
    pend_free(p);
}

const tsps_decision *tspsd_pending_get(tspsd *d, uint64_t call_id)
{
    pend *p = find(d, call_id, NULL);
    return p != NULL ? &p->dec : NULL;
}

int tspsd_pending_is_held(tspsd *d, uint64_t call_id)
{
    return find(d, call_id, NULL) != NULL;
}

void tspsd_pending_each(tspsd *d, tspsd_pending_cb cb, void *arg)
{
    for (pend *p = d->pending->head; p != NULL; p = p->next)
        if (cb(arg, p->id, &p->dec, p->since) != 0)
            break;
}

unsigned tspsd_held_timeout(const tspsd_config *cfg, const tsps_decision *dec)
{
    for (int i = 0; i < cfg->nheld_users; i++)
        if (strcmp(cfg->held_users[i].user, dec->user) == 0)
            return (unsigned)cfg->held_users[i].timeout_s;
    if (dec->method.ask_timeout_s > 0)
        return dec->method.ask_timeout_s;
    if (cfg->held_timeout_s > 0)
        return (unsigned)cfg->held_timeout_s;
    return cfg->sip_ask_timeout_s > 0 ? (unsigned)cfg->sip_ask_timeout_s : 20;
}

static void publish_call(tspsd *d, int kind, uint64_t id,
                         const tsps_decision *dec, tsps_outcome oc)
{
    static const char *const names[] = {"call.offered", "call.updated",
                                        "call.ended"};
    tspsd_events_publish(d, names[kind < 0 || kind > 2 ? 2 : kind], id, dec, oc,
                         NULL);
}

/* Answer p with dec through its front (or record the outcome ourselves
 * for a front without transport), then announce it: updated, ended. */
static int answer(tspsd *d, pend *p, const tsps_decision *dec, int timeout,
                  const char *note)
{
    uint64_t id = p->id;
    tsps_decision out = *dec;
    tsps_outcome oc = timeout ? TSPS_OUTCOME_TIMEOUT
                      : dec->method.kind == TSPS_METHOD_REJECT
                          ? TSPS_OUTCOME_REJECTED
                          : TSPS_OUTCOME_REDIRECTED;

    if (p->timer != NULL)
        event_del(p->timer);
    int rc = tspsd_front_answer(p->front, id, &out, timeout, &oc);
    if (rc == TSPS_ESTATE) {
        rc =
            tsps_history_set_outcome(d->eng, id, oc, (int64_t)time(NULL), note);
        if (rc != TSPS_OK)
            tspsd_log(TSPSD_LOG_WARN, id, out.user, "history outcome not saved",
                      "error=\"%s\"", tsps_strerror(rc));
        rc = TSPS_OK;
    }
    if (rc != TSPS_OK) {
        /* Gone meanwhile: its front reported (or reports) the end. */
        unlink_free(d, id);
        return rc;
    }
    unlink_free(d, id); /* p is gone from here on */
    publish_call(d, TSPSD_CALL_UPDATED, id, &out, oc);
    publish_call(d, TSPSD_CALL_ENDED, id, &out, oc);
    tspsd_log(TSPSD_LOG_INFO, id, out.user, "call ended", "outcome=%s",
              tsps_outcome_name(oc));
    return TSPS_OK;
}

/* The fallback of a held call (actor: "timeout", "shutdown"). */
static void apply_fallback(tspsd *d, pend *p, const char *actor)
{
    tsps_method m;
    tsps_decision out;
    char note[TSPS_DETAIL_MAX];
    int timeout = strcmp(actor, "timeout") == 0;

    memset(&m, 0, sizeof(m));
    m.a = p->dec.method.fallback;
    if (m.a.kind == TSPS_METHOD_NONE || m.a.kind == TSPS_METHOD_ASK) {
        memset(&m.a, 0, sizeof(m.a));
        m.a.kind = TSPS_METHOD_REJECT;
        m.a.reject = TSPS_REJECT_UNAVAILABLE;
    }
    m.kind = m.a.kind;
    int rc = tsps_history_override(d->eng, p->id, &m, actor,
                                   (int64_t)time(NULL), &out);
    if (rc != TSPS_OK) {
        tspsd_log(TSPSD_LOG_WARN, p->id, p->dec.user,
                  "fallback override not saved", "error=\"%s\"",
                  tsps_strerror(rc));
        out = p->dec;
        out.method = m;
        out.ntargets = 0;
        out.flags |= TSPS_DEC_FALLBACK;
    }
    snprintf(note, sizeof(note), "no action within %us: %s",
             tspsd_held_timeout(&d->cfg, &p->dec),
             tsps_method_kind_name(m.kind));
    tspsd_log(TSPSD_LOG_INFO, p->id, out.user,
              timeout ? "pending call timed out" : "pending call answered",
              "by=%s fallback=%s front=%s", actor,
              tsps_method_kind_name(m.kind), tspsd_front_name(p->front));
    answer(d, p, &out, timeout, note);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    pend *p = arg;
    (void)fd;
    (void)what;
    apply_fallback(p->d, p, "timeout");
}

void tspsd_pending_drain(tspsd *d, const char *why)
{
    if (d->pending == NULL)
        return;
    while (d->pending->head != NULL)
        apply_fallback(d, d->pending->head, why);
}

static void hold(tspsd *d, tspsd_front *f, uint64_t call_id,
                 const tsps_decision *dec)
{
    pend *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, call_id, dec->user,
                  "out of memory: held call not tracked", NULL);
        return;
    }
    p->id = call_id;
    p->dec = *dec;
    p->since = (int64_t)time(NULL);
    p->front = f;
    p->d = d;
    struct timeval tv = {(time_t)tspsd_held_timeout(&d->cfg, dec), 0};
    p->timer = evtimer_new(d->base, timeout_cb, p);
    if (p->timer != NULL)
        evtimer_add(p->timer, &tv);
    p->next = d->pending->head;
    d->pending->head = p;
    d->pending->n++;
    atomic_store(&d->held_now, (unsigned)d->pending->n);
}

void tspsd_front_call(tspsd_front *f, int kind, uint64_t call_id,
                      const tsps_decision *dec, tsps_outcome outcome)
{
    tspsd *d = tspsd_front_daemon(f);
    pend *p = find(d, call_id, NULL);

    if (kind == TSPSD_CALL_OFFERED) {
        tspsd_metrics_call(d, dec);
        tspsd_log(TSPSD_LOG_INFO, call_id, dec->user, "call offered",
                  "method=%s code=%s outcome=%s front=%s",
                  tsps_method_kind_name(dec->method.kind),
                  dec->code[0] ? dec->code : "-", tsps_outcome_name(outcome),
                  tspsd_front_name(f));
        if (outcome == TSPS_OUTCOME_PENDING && p == NULL)
            hold(d, f, call_id, dec);
    } else if (kind == TSPSD_CALL_UPDATED) {
        if (p != NULL)
            p->dec = *dec;
        tspsd_log(TSPSD_LOG_INFO, call_id, dec->user, "call updated",
                  "method=%s outcome=%s",
                  tsps_method_kind_name(dec->method.kind),
                  tsps_outcome_name(outcome));
    } else {
        unlink_free(d, call_id);
        tspsd_log(TSPSD_LOG_INFO, call_id, dec->user, "call ended",
                  "outcome=%s", tsps_outcome_name(outcome));
    }
    publish_call(d, kind, call_id, dec, outcome);
    /* Beside the call, never in its way: a job on the related lane. */
    if (kind == TSPSD_CALL_OFFERED)
        tspsd_related_on_offer(d, call_id, dec);
}

int tspsd_pending_resolve(tspsd *d, uint64_t call_id, const tsps_decision *dec)
{
    pend *p = find(d, call_id, NULL);
    if (p == NULL)
        return TSPS_ENOTFOUND;
    return answer(d, p, dec, 0, "resolved live");
}

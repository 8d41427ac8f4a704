/*
 * pending.c - the pending-call table ("ask" calls held for a live choice)
 * and event fan-out to subscribers. Fed by the SIP front's hooks and by
 * live routes from the control socket (which have no SIP transaction, so
 * their timeout is ours). Loop thread only.
 */
#include "daemon.h"
#include "log.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pend {
    uint64_t id;
    tsps_decision dec;
    int64_t since;
    int simulated;
    struct event *timer;
    tspsd *d;
    struct pend *next;
} pend;

struct tspsd_pending {
    pend *head;
    size_t n;
};

int tspsd_pending_open(tspsd *d)
{
    d->pending = calloc(1, sizeof(*d->pending));
    return d->pending != NULL ? 0 : -1;
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

static int may_see(tspsd_conn *c, const char *user, const char *code)
{
    char why[160];
    if (c->sub_user[0] != '\0' && strcmp(c->sub_user, user) != 0)
        return 0;
    return tspsd_authz(c, user, TSPSD_RIGHT_MONITOR, code, why, sizeof(why));
}

void tspsd_events_publish(tspsd *d, const char *kind, uint64_t call_id,
                          const tsps_decision *dec, tsps_outcome outcome,
                          const Tsps__Source *src)
{
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__Event ev = TSPS__EVENT__INIT;
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    int any = 0;

    tspsd_web_publish(d, kind, call_id, dec, outcome, src);
    for (tspsd_conn *c = d->conns; c != NULL; c = c->next)
        any |= c->subscribed;
    if (!any)
        return;
    ev.kind = (char *)kind;
    ev.call_id = call_id;
    ev.at = (int64_t)time(NULL);
    if (dec != NULL) {
        ev.user = (char *)dec->user;
        ev.decision = tspsd_decision_msg(&a, dec, call_id, 1);
        ev.outcome = (char *)tsps_outcome_name(outcome);
        if (ev.decision == NULL)
            goto done;
        ev.decision->outcome = ev.outcome;
    } else if (src != NULL) {
        ev.user = src->user;
        ev.source = (Tsps__Source *)src;
    }
    resp.event = &ev;
    for (tspsd_conn *c = d->conns; c != NULL; c = c->next) {
        if (!c->subscribed)
            continue;
        if (dec != NULL && !may_see(c, dec->user, dec->code))
            continue;
        if (src != NULL && !c->admin && strcmp(src->user, c->identity) != 0)
            continue;
        resp.id = c->sub_id;
        tspsd_conn_send(c, &resp);
    }
done:
    tspsd_arena_free(&a);
}

static void publish_call(tspsd *d, int kind, uint64_t id,
                         const tsps_decision *dec, tsps_outcome oc)
{
    static const char *const names[] = {"call.offered", "call.updated",
                                        "call.ended"};
    tspsd_events_publish(d, names[kind < 0 || kind > 2 ? 2 : kind], id, dec, oc,
                         NULL);
}

/* A held call of ours timed out: its fallback applies. */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    pend *p = arg;
    tspsd *d = p->d;
    uint64_t id = p->id;
    tsps_method m;
    tsps_decision out;
    char note[TSPS_DETAIL_MAX];

    (void)fd;
    (void)what;
    memset(&m, 0, sizeof(m));
    m.a = p->dec.method.fallback;
    if (m.a.kind == TSPS_METHOD_NONE || m.a.kind == TSPS_METHOD_ASK)
        m.a.kind = TSPS_METHOD_VOICEMAIL;
    m.kind = m.a.kind;
    if (tsps_route_override(d->eng, &p->dec, &m, "timeout", (int64_t)time(NULL),
                            &out) != TSPS_OK)
        out = p->dec;
    snprintf(note, sizeof(note), "no action within %us: %s",
             (unsigned)p->dec.method.ask_timeout_s,
             tsps_method_kind_name(m.kind));
    tsps_history_set_outcome(d->eng, id, TSPS_OUTCOME_TIMEOUT,
                             (int64_t)time(NULL), note);
    tspsd_log(TSPSD_LOG_INFO, id, out.user, "pending call timed out",
              "fallback=%s", tsps_method_kind_name(m.kind));
    publish_call(d, 1, id, &out, TSPS_OUTCOME_TIMEOUT);
    publish_call(d, 2, id, &out, TSPS_OUTCOME_TIMEOUT);
    unlink_free(d, id);
}

void tspsd_call_event(tspsd *d, int kind, uint64_t call_id,
                      const tsps_decision *dec, tsps_outcome outcome,
                      int simulated)
{
    pend *p = find(d, call_id, NULL);

    if (kind == 0) {
        tspsd_log(TSPSD_LOG_INFO, call_id, dec->user, "call offered",
                  "method=%s code=%s outcome=%s%s",
                  tsps_method_kind_name(dec->method.kind),
                  dec->code[0] ? dec->code : "-", tsps_outcome_name(outcome),
                  simulated ? " live=ctl" : "");
        if (outcome == TSPS_OUTCOME_PENDING && p == NULL) {
            p = calloc(1, sizeof(*p));
            if (p != NULL) {
                p->id = call_id;
                p->dec = *dec;
                p->since = (int64_t)time(NULL);
                p->simulated = simulated;
                p->d = d;
                if (simulated) {
                    unsigned t = dec->method.ask_timeout_s
                                     ? dec->method.ask_timeout_s
                                     : (unsigned)d->cfg.sip_ask_timeout_s;
                    struct timeval tv = {(time_t)t, 0};
                    p->timer = evtimer_new(d->base, timeout_cb, p);
                    if (p->timer != NULL)
                        evtimer_add(p->timer, &tv);
                }
                p->next = d->pending->head;
                d->pending->head = p;
                d->pending->n++;
            }
        }
    } else if (kind == 1) {
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
}

int tspsd_pending_resolve(tspsd *d, uint64_t call_id, const tsps_decision *dec)
{
    pend *p = find(d, call_id, NULL);
    tsps_outcome oc = dec->method.kind == TSPS_METHOD_REJECT
                          ? TSPS_OUTCOME_REJECTED
                          : TSPS_OUTCOME_REDIRECTED;

    if (p == NULL)
        return TSPS_ENOTFOUND;
    if (!p->simulated) {
#ifdef TSPSD_WITH_SIP
        int rc = d->sip != NULL ? tspsd_sip_resolve(d->sip, call_id, dec)
                                : TSPS_ENOTFOUND;
        if (rc != TSPS_OK) {
            unlink_free(d, call_id);
            return rc;
        }
#endif
        /* The SIP front reports the end through its hook. */
        publish_call(d, 1, call_id, dec, oc);
        unlink_free(d, call_id);
        return TSPS_OK;
    }
    tsps_history_set_outcome(d->eng, call_id, oc, (int64_t)time(NULL),
                             "resolved live");
    publish_call(d, 1, call_id, dec, oc);
    publish_call(d, 2, call_id, dec, oc);
    unlink_free(d, call_id);
    return TSPS_OK;
}

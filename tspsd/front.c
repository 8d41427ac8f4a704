/*
 * front.c - the registry behind callfront.h: call fronts and listeners
 * plug in here, and the one publish hook hands every event to every
 * listener. Loop thread only (listener forget hooks: any thread).
 */
#include "daemon.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

struct tspsd_front {
    tspsd *d;
    const tspsd_front_ops *ops;
    void *arg;
};

int tspsd_front_add(tspsd *d, const tspsd_front_ops *ops, void *arg,
                    tspsd_front **out)
{
    tspsd_front *f;

    *out = NULL;
    if (d->nfronts >= TSPSD_MAX_FRONTS || (f = calloc(1, sizeof(*f))) == NULL)
        return -1;
    f->d = d;
    f->ops = ops;
    f->arg = arg;
    d->fronts[d->nfronts++] = f;
    *out = f;
    return 0;
}

tspsd *tspsd_front_daemon(const tspsd_front *f)
{
    return f->d;
}

int tspsd_front_answer(tspsd_front *f, uint64_t call_id,
                       const tsps_decision *dec, int timeout,
                       tsps_outcome *outcome)
{
    if (f->ops->answer == NULL)
        return TSPS_ESTATE;
    return f->ops->answer(f->arg, call_id, dec, timeout, outcome);
}

const char *tspsd_front_name(const tspsd_front *f)
{
    return f->ops->name;
}

void tspsd_fronts_reload(tspsd *d)
{
    for (int i = 0; i < d->nfronts; i++)
        if (d->fronts[i]->ops->reload != NULL)
            d->fronts[i]->ops->reload(d->fronts[i]->arg, &d->cfg);
}

size_t tspsd_fronts_metrics(tspsd *d, char *buf, size_t len)
{
    size_t n = 0;
    for (int i = 0; i < d->nfronts; i++) {
        if (d->fronts[i]->ops->metrics == NULL || n >= len)
            continue;
        int w = d->fronts[i]->ops->metrics(d->fronts[i]->arg, buf + n, len - n);
        if (w > 0)
            n += (size_t)w < len - n ? (size_t)w : len - n - 1;
    }
    return n;
}

void tspsd_fronts_stop(tspsd *d)
{
    tspsd_pending_drain(d, "shutdown");
    while (d->nfronts > 0) {
        tspsd_front *f = d->fronts[--d->nfronts];
        d->fronts[d->nfronts] = NULL;
        if (f->ops->stop != NULL)
            f->ops->stop(f->arg);
        free(f);
    }
}

int tspsd_listener_add(tspsd *d, const tspsd_listener_ops *ops, void *arg)
{
    for (int i = 0; i < d->nlisteners; i++) {
        if (d->listeners[i].ops == ops) {
            d->listeners[i].arg = arg;
            return 0;
        }
    }
    if (d->nlisteners >= TSPSD_MAX_LISTEN)
        return -1;
    d->listeners[d->nlisteners].ops = ops;
    d->listeners[d->nlisteners].arg = arg;
    d->nlisteners++;
    return 0;
}

void tspsd_listener_remove(tspsd *d, const tspsd_listener_ops *ops)
{
    for (int i = 0; i < d->nlisteners; i++) {
        if (d->listeners[i].ops == ops) {
            memmove(&d->listeners[i], &d->listeners[i + 1],
                    (size_t)(d->nlisteners - i - 1) * sizeof(d->listeners[0]));
            d->nlisteners--;
            return;
        }
    }
}

void tspsd_events_publish(tspsd *d, const char *kind, uint64_t call_id,
                          const tsps_decision *dec, tsps_outcome outcome,
                          const Tsps__Source *src)
{
    tspsd_event ev = {kind, call_id, dec,  outcome, src, NULL, 0,
                      NULL, NULL,    NULL, NULL,    0,   0};
    for (int i = 0; i < d->nlisteners; i++)
        if (d->listeners[i].ops->publish != NULL)
            d->listeners[i].ops->publish(d->listeners[i].arg, &ev);
}

void tspsd_events_publish_related(tspsd *d, uint64_t call_id,
                                  const tsps_decision *dec,
                                  Tsps__RelatedItem *const *items, size_t n,
                                  const char *status)
{
    tspsd_event ev = {"call.related",
                      call_id,
                      dec,
                      TSPS_OUTCOME_PENDING,
                      NULL,
                      items,
                      n,
                      status != NULL ? status : "",
                      NULL,
                      NULL,
                      NULL,
                      0,
                      0};
    for (int i = 0; i < d->nlisteners; i++)
        if (d->listeners[i].ops->publish != NULL)
            d->listeners[i].ops->publish(d->listeners[i].arg, &ev);
}

void tspsd_events_publish_voicemail(tspsd *d, const char *kind,
                                    const char *user, const tspsd_vm_msg *m,
                                    const char *change, unsigned nnew,
                                    unsigned nold)
{
    tspsd_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.outcome = TSPS_OUTCOME_ROUTED;
    ev.vm_user = user;
    ev.vm = m;
    ev.vm_change = change;
    ev.vm_new = nnew;
    ev.vm_old = nold;
    for (int i = 0; i < d->nlisteners; i++)
        if (d->listeners[i].ops->publish != NULL)
            d->listeners[i].ops->publish(d->listeners[i].arg, &ev);
}

void tspsd_inbox_set(tspsd *d, const tspsd_inbox_ops *ops, void *arg)
{
    d->inbox = ops;
    d->inbox_arg = ops != NULL ? arg : NULL;
}

size_t tspsd_listeners_access_end(tspsd *d, const char *identity, char *what,
                                  size_t len)
{
    size_t total = 0, off = 0;
    what[0] = '\0';
    for (int i = 0; i < d->nlisteners; i++) {
        const tspsd_listener_ops *o = d->listeners[i].ops;
        if (o->access_end == NULL)
            continue;
        size_t n = o->access_end(d->listeners[i].arg, identity);
        total += n;
        if (off < len) {
            int w = snprintf(what + off, len - off, "%s%s=%zu", off ? " " : "",
                             o->count, n);
            if (w > 0)
                off += (size_t)w;
        }
    }
    return total;
}

int tspsd_listeners_forget(tspsd *d, const char *identity, int password,
                           size_t *n)
{
    *n = 0;
    for (int i = 0; i < d->nlisteners; i++) {
        const tspsd_listener_ops *o = d->listeners[i].ops;
        size_t k = 0;
        if (o->forget == NULL)
            continue;
        int rc = o->forget(d, identity, password, &k);
        *n += k;
        if (rc != TSPS_OK)
            return rc;
    }
    return TSPS_OK;
}

/*
 * ctl_registry.c - the control server's part of the handler registry (its
 * session handlers, hello and subscribe) and the dispatch of one decoded
 * frame: order (Hello first), authentication, reply, audit of refusals.
 */
#include "daemon.h"
#include "handlers.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

/* The control session's own handlers: they see the connection. */
void tspsd_ctl_handlers_register(tspsd *d)
{
    tspsd_handler_add(d, TSPS__REQUEST__BODY_HELLO, "hello", tspsd_h_hello, 0,
                      0);
    tspsd_handler_add(d, TSPS__REQUEST__BODY_SUBSCRIBE, "subscribe",
                      tspsd_h_subscribe, 1, 0);
}

int tspsd_dispatch(tspsd_conn *c, const uint8_t *buf, size_t len, char *why,
                   size_t whylen)
{
    tspsd *d = c->a.d;
    Tsps__Request *req = tsps__request__unpack(NULL, len, buf);
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    const tspsd_handler *h = NULL;
    int rc = 0, jrc = 0, off = 0;

    if (req == NULL) {

        snprintf(why, whylen, "undecodable request (%zu bytes)", len);
        return -1;
    }
    if (!c->hello_done && req->body_case != TSPS__REQUEST__BODY_HELLO) {
        snprintf(why, whylen, "request before hello");
        rc = -1;
        goto done;
    }
    if (c->hello_done && req->body_case == TSPS__REQUEST__BODY_HELLO) {
        snprintf(why, whylen, "second hello");
        rc = -1;
        goto done;
    }
    atomic_fetch_add(&d->metrics.requests, 1);
    resp.id = req->id;
    /* Rights come from the store and the config at each request, never
     * only from what was true at hello. */
    tspsd_conn_recheck_admin(c);
    if ((int)req->body_case > 0 && (int)req->body_case < TSPSD_MAX_HANDLERS)
        h = &d->handlers[req->body_case];
    if (h == NULL || h->fn == NULL) {
        /* A newer client's request, or none: say so, keep the link. */
        tspsd_reply(&c->a, &resp, TSPS__CODE__UNSUPPORTED,
                    "unknown request (field %d)", (int)req->body_case);
    } else if (h->need_auth && c->a.identity[0] == '\0') {
        tspsd_refuse(&c->a, &resp, h->name, NULL, TSPS__CODE__UNAUTHENTICATED,
                     "anonymous clients may only say hello");
    } else if ((off = h->offload_for != NULL ? h->offload_for(req)
                                             : h->offload) != 0 &&
               (jrc = tspsd_jobs_submit(d, c, req, off, h)) == 0) {
        return 1; /* the worker answers; it owns req now */
    } else if (jrc == -2) {
        /* Never on the loop: a lookup that may wait on a mail server. */
        tspsd_reply(&c->a, &resp, TSPS__CODE__INTERNAL,
                    "busy: too many %s requests queued, try again", h->name);
    } else {
        h->fn(&c->a, req, &resp);
        tspsd_asker_end_access(&c->a);
    }
    if (tspsd_conn_send(c, &resp) != 0) {
        snprintf(why, whylen, "cannot queue reply");
        rc = -1;
    }
done:
    tsps__request__free_unpacked(req, NULL);
    return rc;
}

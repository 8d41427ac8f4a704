/*
 * ctl_session.c - the handlers of a control session itself: the Hello that
 * authenticates a connection (certificate or token) and the subscription
 * that turns it into an event stream. They are the only handlers that see
 * the connection (tspsd_asker.session); every other handler sees only who
 * is asking.
 */
#include "handlers.h"
#include "log.h"

#include <event2/bufferevent.h>
#include <stdio.h>
#include <string.h>

TSPSD_HANDLER(tspsd_h_hello)
{
    tspsd_conn *cn = c->session;
    if (cn == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__UNSUPPORTED,
                           "hello needs a control connection");
    const Tsps__Hello *h = req->hello;
    char ident[TSPSD_IDENT_MAX] = "";
    int admin = 0;
    Tsps__HelloReply *m;

    if (h->version != TSPS__CONSTANTS__PROTOCOL_VERSION)
        return tspsd_reply(c, resp, TSPS__CODE__VERSION,
                           "protocol version %u not supported (server "
                           "speaks %d)",
                           h->version, TSPS__CONSTANTS__PROTOCOL_VERSION);
    int peer = h->token[0] != '\0' && c->d->peer_check != NULL &&
               c->d->peer_check(c->d, h->token);
    if (peer) {
        /* Another node of the cluster: no user can have this name (a space),
         * and it has no rights of its own; it may ask history for an
         * identity it authenticated (History.for_identity). */
        snprintf(ident, sizeof(ident), "cluster peer");
    } else if (h->token[0] != '\0') {
        if (tspsd_token_check(c->d, h->token, ident, sizeof(ident), &admin) !=
            0)
            return tspsd_refuse(c, resp, "hello", NULL,
                                TSPS__CODE__UNAUTHENTICATED,
                                "unknown or revoked token");
    } else if (cn->cert_identity[0] != '\0') {
        snprintf(ident, sizeof(ident), "%s", cn->cert_identity);
        admin = tspsd_config_is_admin(&c->d->cfg, ident);
    }
    cn->hello_done = 1;
    tspsd_asker_set(c, ident, admin, h->token[0] != '\0');
    c->peer = peer;
    char busy[160];
    if (tspsd_ctl_admit(cn, busy, sizeof(busy)) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__DENIED, "%s", busy);
    m = tspsd_arena_alloc(&c->arena, sizeof(*m));
    if (m == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    tsps__hello_reply__init(m);
    m->version = TSPS__CONSTANTS__PROTOCOL_VERSION;
    m->identity = TSPSD_STR(a, ident);
    m->role = (char *)(c->role == TSPSD_ROLE_ADMIN       ? "admin"
                       : c->role == TSPSD_ROLE_USER      ? "user"
                       : c->role == TSPSD_ROLE_ATTENDANT ? "attendant"
                                                         : "anonymous");
    m->server = (char *)"tspsd " TSPSD_VERSION;
    resp->hello = m;
    tspsd_log(TSPSD_LOG_DEBUG, 0, NULL, "client authenticated",
              "conn=%llu peer=%s identity=%s role=%s via=%s",
              (unsigned long long)c->id, cn->peer,
              ident[0] ? ident : "anonymous", m->role,
              peer          ? "peer secret"
              : h->token[0] ? "token"
              : ident[0]    ? "certificate"
                            : "none");
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_subscribe)
{
    tspsd_conn *cn = c->session;
    const char *user = req->subscribe->user;
    if (user[0] != '\0')
        TSPSD_AUTHZ(c, resp, "subscribe", user, TSPSD_RIGHT_MONITOR, NULL);
    if (cn == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__UNSUPPORTED,
                           "subscribe needs a control connection");
    cn->subscribed = 1;
    cn->sub_id = req->id;
    snprintf(cn->sub_user, sizeof(cn->sub_user), "%s", user);
    /* A watcher may stay silent for hours. */
    bufferevent_set_timeouts(cn->bev, NULL, NULL);
    resp->message = (char *)"subscribed";
    return TSPS__CODE__OK;
}

/*
 * ctl_registry.c - the request-handler registry (docs/style.md §8) and the
 * dispatch of one decoded frame: order (Hello first), authentication,
 * reply, audit of refusals.
 */
#include "daemon.h"
#include "handlers.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void reg(tspsd *d, Tsps__Request__BodyCase kind, const char *name,
                tspsd_handler_fn fn, int need_auth, int offload)
{
    if ((int)kind <= 0 || (int)kind >= TSPSD_MAX_HANDLERS)
        return;
    d->handlers[kind].name = name;
    d->handlers[kind].fn = fn;
    d->handlers[kind].need_auth = need_auth;
    d->handlers[kind].offload = offload;
}

void tspsd_handlers_register(tspsd *d)
{
    /* clang-format off */
    /* R: runs on the loop (reads, or loop-only state such as pending
     * calls); W: writes the store, runs on the write worker. */
#define R(K, name, fn) reg(d, TSPS__REQUEST__BODY_##K, name, fn, 1, 0)
#define W(K, name, fn) reg(d, TSPS__REQUEST__BODY_##K, name, fn, 1, 1)
    reg(d, TSPS__REQUEST__BODY_HELLO, "hello", tspsd_h_hello, 0, 0);
    W(USER_PUT,         "user.put",        tspsd_h_user_put);
    R(USER_GET,         "user.get",        tspsd_h_user_get);
    R(USER_LIST,        "user.list",       tspsd_h_user_list);
    W(USER_DELETE,      "user.delete",     tspsd_h_user_delete);
    W(NUMBER_ADD,       "number.add",      tspsd_h_number_add);
    W(NUMBER_REMOVE,    "number.remove",   tspsd_h_number_remove);
    W(CODE_SET,         "code.set",        tspsd_h_code_set);
    W(CODE_DELETE,      "code.delete",     tspsd_h_code_delete);
    R(CODE_LIST,        "code.list",       tspsd_h_code_list);
    W(STATUS_SET,       "status.set",      tspsd_h_status_set);
    R(STATUS_GET,       "status.get",      tspsd_h_status_get);
    R(CONTACT_LIST,     "contact.list",    tspsd_h_contact_list);
    W(CONTACT_SET_CODE, "contact.code",    tspsd_h_contact_set_code);
    W(SOURCE_ADD,       "source.add",      tspsd_h_source_add);
    W(SOURCE_REMOVE,    "source.remove",   tspsd_h_source_remove);
    R(SOURCE_LIST,      "source.list",     tspsd_h_source_list);
    R(SOURCE_SYNC,      "source.sync",     tspsd_h_source_sync);
    R(ROUTE,            "route",           tspsd_h_route);
    R(EXPLAIN,          "explain",         tspsd_h_explain);
    R(HISTORY,          "history",         tspsd_h_history);
    R(CALLS_LIVE,       "calls.live",      tspsd_h_calls_live);
    R(CALL_ACT,         "call.act",        tspsd_h_call_act);
    W(DELEGATE,         "delegate",        tspsd_h_delegate);
    R(DELEGATION_LIST,  "delegation.list", tspsd_h_delegation_list);
    W(TOKEN_ISSUE,      "token.issue",     tspsd_h_token_issue);
    W(TOKEN_REVOKE,     "token.revoke",    tspsd_h_token_revoke);
    W(DEVICE_ADD,       "device.add",      tspsd_h_device_add);
    W(DEVICE_REMOVE,    "device.remove",   tspsd_h_device_remove);
    R(SUBSCRIBE,        "subscribe",       tspsd_h_subscribe);
    W(LOGIN_LINK,       "login-link",      tspsd_h_login_link);
    W(WEB_PASSWORD,     "web-password",    tspsd_h_web_password);
#undef R
#undef W
    /* clang-format on */
}

int tspsd_code_from_tsps(int rc)
{
    switch (rc) {
    case TSPS_OK:
        return TSPS__CODE__OK;
    case TSPS_ENOTFOUND:
        return TSPS__CODE__NOT_FOUND;
    case TSPS_EINVAL:
    case TSPS_ETZ:
    case TSPS_ENUMBER:
    case TSPS_EREGION:
    case TSPS_ESTATE:
    case TSPS_EVERSION:
        return TSPS__CODE__INVALID;
    case TSPS_EEXIST:
        return TSPS__CODE__EXISTS;
    default:
        return TSPS__CODE__INTERNAL;
    }
}

int tspsd_reply(tspsd_asker *c, Tsps__Response *resp, int code, const char *fmt,
                ...)
{
    char buf[512];
    va_list ap;

    resp->code = (Tsps__Code)code;
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        resp->error = tspsd_arena_strdup(&c->arena, buf);
        if (resp->error == NULL)
            resp->error = (char *)"";
    }
    return code;
}

int tspsd_refuse(tspsd_asker *c, Tsps__Response *resp, const char *request,
                 const char *user, int code, const char *why)
{
    char q1[200], q2[80];
    atomic_fetch_add(&c->d->metrics.refused, 1);
    tspsd_log(TSPSD_LOG_WARN, 0, user, "request refused",
              "audit=1 conn=%llu identity=%s request=%s code=%s reason=%s",
              (unsigned long long)c->id,
              tspsd_log_quote(c->identity[0] ? c->identity : "anonymous", q2,
                              sizeof(q2)),
              request,
              code == TSPS__CODE__UNAUTHENTICATED ? "unauthenticated"
                                                  : "denied",
              tspsd_log_quote(why, q1, sizeof(q1)));
    return tspsd_reply(c, resp, code, "%s: %s",
                       code == TSPS__CODE__UNAUTHENTICATED
                           ? "not authenticated"
                           : "permission denied",
                       why);
}

int tspsd_dispatch(tspsd_conn *c, const uint8_t *buf, size_t len, char *why,
                   size_t whylen)
{
    tspsd *d = c->a.d;
    Tsps__Request *req = tsps__request__unpack(NULL, len, buf);
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    const tspsd_handler *h = NULL;
    int rc = 0;

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
    } else if (h->offload && tspsd_jobs_submit(d, c, req, h) == 0) {
        return 1; /* the worker answers; it owns req now */
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

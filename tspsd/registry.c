/*
 * registry.c - the request-handler registry (docs/style.md §8) shared by
 * the control server and the web UI, and the reply helpers every handler
 * uses. Handlers see who is asking (tspsd_asker), never a connection.
 */
#include "daemon.h"
#include "handlers.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tspsd_handler_add(tspsd *d, int kind, const char *name,
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
     * calls); W: writes the store, runs on the pool's control lane (or the
     * web lane, from the web UI). The control server adds hello and
     * subscribe, the web UI its login-link and web-password. */
#define R(K, name, fn) tspsd_handler_add(d, TSPS__REQUEST__BODY_##K, name, fn, 1, 0)
#define W(K, name, fn) tspsd_handler_add(d, TSPS__REQUEST__BODY_##K, name, fn, 1, 1)
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
    /* A filtered history scans the user's whole history (~1 µs a call):
     * off the loop that carries SIP. */
    W(HISTORY,          "history",         tspsd_h_history);
    R(CALLS_LIVE,       "calls.live",      tspsd_h_calls_live);
    R(CALL_ACT,         "call.act",        tspsd_h_call_act);
    W(DELEGATE,         "delegate",        tspsd_h_delegate);
    R(DELEGATION_LIST,  "delegation.list", tspsd_h_delegation_list);
    W(TOKEN_ISSUE,      "token.issue",     tspsd_h_token_issue);
    W(TOKEN_REVOKE,     "token.revoke",    tspsd_h_token_revoke);
    R(CLUSTER_DRAIN,    "cluster.drain",   tspsd_h_cluster_drain);
    W(DEVICE_ADD,       "device.add",      tspsd_h_device_add);
    W(DEVICE_REMOVE,    "device.remove",   tspsd_h_device_remove);
    /* Voicemail: the list reads LMDB (R); get reads a file, act writes
     * the media store and sends MWI (W). */
    R(VOICEMAIL_LIST,   "voicemail.list",  tspsd_h_voicemail_list);
    W(VOICEMAIL_GET,    "voicemail.get",   tspsd_h_voicemail_get);
    W(VOICEMAIL_ACT,    "voicemail.act",   tspsd_h_voicemail_act);
    /* Waits on mail servers: the pool's related lane. */
    tspsd_handler_add(d, TSPS__REQUEST__BODY_RELATED, "related", tspsd_h_related, 1, TSPSD_OFFLOAD_RELATED);
    tspsd_handler_add(d, TSPS__REQUEST__BODY_CONTACT_CREATE, "contact.create", tspsd_h_contact_create, 1, TSPSD_OFFLOAD_SYNC);
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

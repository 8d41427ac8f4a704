/*
 * handlers.h - request handlers (h_*.c), registered in ctl_registry.c and
 * called by the control server and the web UI alike: each receives who is
 * asking (tspsd_asker, callfront.h), never a connection.
 */
#ifndef TSPSD_HANDLERS_H
#define TSPSD_HANDLERS_H

#include "daemon.h"

#define TSPSD_HANDLER(name)                                                    \
    int name(tspsd_asker *c, const Tsps__Request *req, Tsps__Response *resp)

/* ctl_session.c (the control server: they see the connection) */
TSPSD_HANDLER(tspsd_h_hello);
TSPSD_HANDLER(tspsd_h_subscribe);

/* h_admin.c */
TSPSD_HANDLER(tspsd_h_token_issue);
TSPSD_HANDLER(tspsd_h_token_revoke);
TSPSD_HANDLER(tspsd_h_cluster_drain);
TSPSD_HANDLER(tspsd_h_delegate);
TSPSD_HANDLER(tspsd_h_delegation_list);
TSPSD_HANDLER(tspsd_h_source_add);
TSPSD_HANDLER(tspsd_h_source_remove);
TSPSD_HANDLER(tspsd_h_source_list);
TSPSD_HANDLER(tspsd_h_source_sync);
TSPSD_HANDLER(tspsd_h_device_add);
TSPSD_HANDLER(tspsd_h_device_remove);

/**
 * A device's stored credential record (what device.add keeps: the owner,
 * label, realm and digest HA1s, never the password) into rec; *len its
 * size. @return TSPS_OK, TSPS_ENOTFOUND, TSPS_ENOBUFS or the store's
 * error. Any thread (the cluster publishes it after a device.add).
 */
int tspsd_device_record_get(tsps_engine *eng, const char *username, char *rec,
                            size_t cap, size_t *len);

/**
 * Write (rec != NULL) or remove (rec == NULL) a device's credential record
 * as another node stored it, under the same lock as device.add. The record
 * must be one tspsd_device_record_get() returned (checked: version, owner).
 * @return TSPS_OK, TSPS_EINVAL (not a record), or the store's error.
 * Thread-safety: any thread.
 */
int tspsd_device_record_put(tsps_engine *eng, const char *username,
                            const char *rec, size_t len);

/* h_users.c */
TSPSD_HANDLER(tspsd_h_user_put);
TSPSD_HANDLER(tspsd_h_user_get);
TSPSD_HANDLER(tspsd_h_user_list);
TSPSD_HANDLER(tspsd_h_user_delete);
TSPSD_HANDLER(tspsd_h_number_add);
TSPSD_HANDLER(tspsd_h_number_remove);
TSPSD_HANDLER(tspsd_h_code_set);
TSPSD_HANDLER(tspsd_h_code_delete);
TSPSD_HANDLER(tspsd_h_code_list);
TSPSD_HANDLER(tspsd_h_status_set);
TSPSD_HANDLER(tspsd_h_status_get);
TSPSD_HANDLER(tspsd_h_contact_list);
TSPSD_HANDLER(tspsd_h_contact_set_code);

/* h_calls.c */
TSPSD_HANDLER(tspsd_h_route);
TSPSD_HANDLER(tspsd_h_explain);
TSPSD_HANDLER(tspsd_h_history);
TSPSD_HANDLER(tspsd_h_calls_live);
TSPSD_HANDLER(tspsd_h_call_act);

/* h_related.c */
TSPSD_HANDLER(tspsd_h_related);
/* h_contact_create.c */
TSPSD_HANDLER(tspsd_h_contact_create);

/* h_voicemail.c */
TSPSD_HANDLER(tspsd_h_voicemail_list);
TSPSD_HANDLER(tspsd_h_voicemail_get);
TSPSD_HANDLER(tspsd_h_voicemail_act);

/* web/h_web.c */
TSPSD_HANDLER(tspsd_h_login_link);
TSPSD_HANDLER(tspsd_h_web_password);

/* Authorise or refuse: on refusal sends nothing, fills resp, audits. */
#define TSPSD_AUTHZ(c, resp, reqname, user, right, code)                       \
    do {                                                                       \
        char why_[160];                                                        \
        if (!tspsd_authz((c), (user), (right), (code), why_, sizeof(why_)))    \
            return tspsd_refuse((c), (resp), (reqname), (user),                \
                                TSPS__CODE__DENIED, why_);                     \
    } while (0)

#define TSPSD_STR(a, s) tspsd_arena_strdup(&(c)->arena, (s))

#endif

/*
 * h_related.c - the `related` request: a caller's related e-mails and
 * documents for one user (docs/related.md, "In tspsd"). Runs on the
 * worker pool's related lane (control) or web lane (web UI), never on the
 * loop: a lookup may wait on a mail server. Who may ask: the user, an
 * admin, an attendant whose delegation grants `related` (e-mails are
 * private: the monitor right alone does not show them).
 */
#include "daemon.h"
#include "handlers.h"
#include "log.h"
#include "related.h"

#include <string.h>

TSPSD_HANDLER(tspsd_h_related)
{
    const Tsps__RelatedGet *r = req->related;
    const char *user = r->user, *caller = r->caller;
    tsps_call_record rec;
    tsps_contact who;
    cmsb_related_list *items = NULL;
    char status[200];
    int known = 0, rc;

    if (r->call_id != 0) {
        /* The call names both; the caller's rights decide below, and a
         * call one may not see is "no call", as for explain. */
        if (tsps_history_get(c->d->eng, r->call_id, &rec) != TSPS_OK)
            return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND, "no call %llu",
                               (unsigned long long)r->call_id);
        user = rec.decision.user;
        caller = rec.decision.contact_uid[0] != '\0' ? rec.decision.contact_uid
                                                     : rec.decision.caller;
        if (!tspsd_authz(c, user, TSPSD_RIGHT_RELATED, NULL, status,
                         sizeof(status))) {
            tspsd_refuse(c, resp, "related", user, TSPS__CODE__DENIED, status);
            return (int)resp->code;
        }
    }
    /* First without a code (no store read for strangers), then with the
     * caller's code for delegations limited to some codes. */
    TSPSD_AUTHZ(c, resp, "related", user, TSPSD_RIGHT_RELATED, NULL);
    if (caller == NULL || caller[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "related: name a caller (number, e-mail or uid) "
                           "or a call id");
    if (tspsd_related_who(c->d, user, caller, &who, &known) != TSPS_OK)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "related: bad caller");
    TSPSD_AUTHZ(c, resp, "related", user, TSPSD_RIGHT_RELATED, who.code);
    if (!tspsd_related_has_sources(c->d, user)) {
        resp->message =
            tspsd_arena_printf(&c->arena, "no related sources for %s", user);
        return TSPS__CODE__OK;
    }
    rc = tspsd_related_get(c->d, user, &who, r->since, r->until, &items, status,
                           sizeof(status));
    if (rc == TSPS_ENOMEM)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    for (size_t i = 0; items != NULL && i < cmsb_related_list_count(items);
         i++) {
        Tsps__RelatedItem *m =
            tspsd_related_item_msg(&c->arena, cmsb_related_list_get(items, i));
        if (m == NULL || tspsd_arena_push(&c->arena, (void ***)&resp->related,
                                          &resp->n_related, m) != 0)
            break;
    }
    cmsb_related_list_release(items);
    resp->related_status = tspsd_arena_strdup(&c->arena, status);
    if (resp->related_status == NULL)
        resp->related_status = (char *)"";
    return TSPS__CODE__OK;
}

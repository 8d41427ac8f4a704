/*
 * media_ctl.c - the media front's control requests (app: it sees the core's
 * handler table and the media room): ivr.get and ivr.put, a user's IVR
 * menus as their documented text form (docs/media.md, "IVR menus").
 * Registered in the one handler table, so tspsctl and the web UI's
 * /api/rpc/ bridge reach them with the same authorisation and audit.
 *
 * Both run on the loop: the media front is stopped from the loop at
 * shutdown, so a handler never sees it half freed; a menu write is one
 * small LMDB transaction, and menu edits are rare.
 */
#include "handlers.h"
#include "log.h"
#include "media/media_ivr.h"
#include "media_wire.h"

#include <stdlib.h>
#include <string.h>

static int media_code(int rc)
{
    switch (rc) {
    case TSPSD_MEDIA_EINVAL:
        return TSPS__CODE__INVALID;
    case TSPSD_MEDIA_ENOTFOUND:
        return TSPS__CODE__NOT_FOUND;
    default:
        return TSPS__CODE__INTERNAL;
    }
}

/* The user must exist: menus of a misspelt user would never play. */
static int user_known(tspsd_asker *c, Tsps__Response *resp, const char *user)
{
    tsps_user u;
    int rc = tsps_user_get(c->d->eng, user, &u);
    if (rc == TSPS_OK)
        return 1;
    tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "user %s: %s", user,
                tsps_strerror(rc));
    return 0;
}

/* The stored set in canonical text form into resp->ivr. */
static int answer_menus(tspsd_asker *c, Tsps__Response *resp,
                        tspsd_media_front *mf, const char *user)
{
    size_t len = 0;
    char *buf = tspsd_arena_alloc(&c->arena, TSPSD_IVR_TEXT_MAX + 1);
    if (buf == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    int rc = tspsd_media_ivr_get(mf, user, buf, TSPSD_IVR_TEXT_MAX + 1, &len);
    if (rc == TSPSD_MEDIA_ENOTFOUND)
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "%s has no IVR menus", user);
    if (rc != TSPSD_MEDIA_OK)
        return tspsd_reply(c, resp, media_code(rc), "cannot read menus: %s",
                           tspsd_media_strerror(rc));
    resp->ivr = buf;
    return TSPS__CODE__OK;
}

static TSPSD_HANDLER(h_ivr_get)
{
    const char *user = req->ivr_get->user;
    tspsd_media_front *mf;

    if (user == NULL || user[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    TSPSD_AUTHZ(c, resp, "ivr.get", user, TSPSD_RIGHT_MONITOR, NULL);
    if ((mf = tspsd_media_wire_front(c->d)) == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__UNSUPPORTED,
                           "the media front is off ([media] enabled = false)");
    if (!user_known(c, resp, user))
        return resp->code;
    return answer_menus(c, resp, mf, user);
}

static TSPSD_HANDLER(h_ivr_put)
{
    const Tsps__IvrPut *r = req->ivr_put;
    tspsd_media_front *mf;
    char err[200] = "";
    int rc;

    if (r->user == NULL || r->user[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    TSPSD_AUTHZ(c, resp, "ivr.put", r->user, TSPSD_RIGHT_OWN, NULL);
    if ((mf = tspsd_media_wire_front(c->d)) == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__UNSUPPORTED,
                           "the media front is off ([media] enabled = false)");
    if (!user_known(c, resp, r->user))
        return resp->code;
    if (r->remove) {
        rc = tspsd_media_ivr_delete(mf, r->user);
        if (rc != TSPSD_MEDIA_OK)
            return tspsd_reply(c, resp, media_code(rc), "%s",
                               rc == TSPSD_MEDIA_ENOTFOUND
                                   ? "no IVR menus to remove"
                                   : tspsd_media_strerror(rc));
        tspsd_log(TSPSD_LOG_INFO, 0, r->user, "ivr menus removed", "by=%s",
                  c->identity);
        resp->message = (char *)"IVR menus removed";
        return TSPS__CODE__OK;
    }
    size_t len = r->text != NULL ? strlen(r->text) : 0;
    if (len == 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "menu text required (or remove)");
    if (len > TSPSD_IVR_TEXT_MAX)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "menu text too long (%zu bytes, at most %d)", len,
                           TSPSD_IVR_TEXT_MAX);
    rc = tspsd_media_ivr_put(mf, r->user, r->text, len, err, sizeof(err));
    if (rc != TSPSD_MEDIA_OK) {
        tspsd_log(TSPSD_LOG_INFO, 0, r->user, "ivr menus refused",
                  "by=%s error=\"%s\"", c->identity,
                  err[0] != '\0' ? err : tspsd_media_strerror(rc));
        return tspsd_reply(c, resp, media_code(rc), "%s",
                           err[0] != '\0' ? err : tspsd_media_strerror(rc));
    }
    tspsd_log(TSPSD_LOG_INFO, 0, r->user, "ivr menus stored", "by=%s bytes=%zu",
              c->identity, len);
    resp->message = (char *)"IVR menus stored";
    return answer_menus(c, resp, mf, r->user);
}

void tspsd_media_ctl_register(tspsd *d)
{
    tspsd_handler_add(d, TSPS__REQUEST__BODY_IVR_GET, "ivr.get", h_ivr_get, 1,
                      TSPSD_OFFLOAD_LOOP);
    tspsd_handler_add(d, TSPS__REQUEST__BODY_IVR_PUT, "ivr.put", h_ivr_put, 1,
                      TSPSD_OFFLOAD_LOOP);
}

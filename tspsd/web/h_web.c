/*
 * h_web.c - control-protocol handlers for the web UI: a one-time login link
 * (`tspsctl user login-link USER`) and a user's web password (`tspsctl
 * user web-password USER PASSWORD`). The user themself or an admin only.
 */
#include "../handlers.h"
#include "../log.h"
#include "web.h"

#include <stdio.h>
#include <string.h>

TSPSD_HANDLER(tspsd_h_login_link)
{
    const char *user = req->login_link->user;
    char url[512];
    int rc;

    if (!tspsd_identity_valid(user))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    TSPSD_AUTHZ(c, resp, "login-link", user, TSPSD_RIGHT_OWN, NULL);
    if (c->d->web == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__UNSUPPORTED,
                           "the web UI is off ([web] port)");
    rc = tspsd_web_login_link(c->d, user, url, sizeof(url));
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "login-link: %s",
                           tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, user, "web login link issued", "by=%s",
              c->identity);
    resp->token = TSPSD_STR(a, url); /* printed bare, like a token */
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_web_password)
{
    const Tsps__WebPassword *r = req->web_password;
    int rc;

    if (!tspsd_identity_valid(r->user))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    TSPSD_AUTHZ(c, resp, "web-password", r->user, TSPSD_RIGHT_OWN, NULL);
    rc = tspsd_web_set_password(c->d, r->user, r->password);
    if (rc != TSPS_OK)
        return tspsd_reply(
            c, resp, tspsd_code_from_tsps(rc), "web-password: %s",
            rc == TSPS_EINVAL ? "8 to 256 characters" : tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, r->user, "web password set", "by=%s",
              c->identity);
    resp->message =
        (char *)(r->password[0] ? "password set" : "password removed");
    return TSPS__CODE__OK;
}

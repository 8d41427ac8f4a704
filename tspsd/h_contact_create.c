/*
 * h_contact_create.c - contact.create: "add to contacts" for an unknown
 * caller. Writes a new card with the chosen code to one of the user's
 * sources through its adapter (libcmsbridge), then queues that source's
 * sync, so the next call from the number routes with the code. Registered
 * to run on the worker pool's sync lane: it waits on the contact manager.
 */
#include "handlers.h"
#include "log.h"

#include <cmsb/cmsb.h>

#include <stdio.h>
#include <string.h>

static int code_from_cmsb(int rc)
{
    switch (rc) {
    case CMSB_EINVAL:
        return TSPS__CODE__INVALID;
    case CMSB_ENOTFOUND:
    case CMSB_ENOTSUP:
        return TSPS__CODE__NOT_FOUND;
    case CMSB_EAUTH:
        return TSPS__CODE__DENIED;
    case CMSB_ECONFLICT:
        return TSPS__CODE__EXISTS;
    default:
        return TSPS__CODE__INTERNAL;
    }
}

TSPSD_HANDLER(tspsd_h_contact_create)
{
    const Tsps__ContactCreate *r = req->contact_create;
    tsps_contact k;
    char uid[TSPS_UID_MAX] = "", src[TSPS_SOURCE_MAX] = "", why[300] = "";

    if (r == NULL || r->user == NULL || r->user[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    /* An attendant limited to some codes may file callers under those. */
    TSPSD_AUTHZ(c, resp, "contact.create", r->user, TSPSD_RIGHT_ACT, r->code);
    tsps_contact_init(&k);
    if (strlen(r->name) >= sizeof(k.name) ||
        strlen(r->number) >= sizeof(k.numbers[0]) ||
        strlen(r->email) >= sizeof(k.emails[0]) ||
        strlen(r->code) >= TSPS_CODE_MAX)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "name, number, email or code too long");
    if (r->name[0] == '\0' && r->number[0] == '\0' && r->email[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "a name, number or email is required");
    snprintf(k.name, sizeof(k.name), "%s", r->name);
    if (r->number[0] != '\0')
        snprintf(k.numbers[k.nnumbers++], sizeof(k.numbers[0]), "%s",
                 r->number);
    if (r->email[0] != '\0')
        snprintf(k.emails[k.nemails++], sizeof(k.emails[0]), "%s", r->email);
    int rc = tspsd_sync_create_contact(c->d, r->user, r->source, &k, r->code,
                                       src, sizeof(src), uid, why, sizeof(why));
    if (rc != CMSB_OK)
        return tspsd_reply(c, resp, code_from_cmsb(rc), "%s", why);
    Tsps__Contact *m = tspsd_arena_alloc(&c->arena, sizeof(*m));
    if (m == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    tsps__contact__init(m);
    m->uid = TSPSD_STR(a, uid);
    m->source = TSPSD_STR(a, src);
    m->name = TSPSD_STR(a, r->name);
    m->code = TSPSD_STR(a, r->code);
    if (m->uid == NULL || m->source == NULL || m->name == NULL ||
        m->code == NULL ||
        tspsd_arena_push(&c->arena, (void ***)&resp->contacts,
                         &resp->n_contacts, m) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    resp->message = TSPSD_STR(a, why);
    if (resp->message == NULL)
        resp->message = (char *)"";
    return TSPS__CODE__OK;
}

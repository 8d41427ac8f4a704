/*
 * h_users.c - handlers for users, numbers, codes, status and contacts.
 * Thin: check rights, translate, call libtsps.
 */
#include "handlers.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int cpy(char *dst, size_t n, const char *src)
{
    size_t l = src != NULL ? strlen(src) : 0;
    if (l >= n)
        return -1;
    memcpy(dst, src != NULL ? src : "", l + 1);
    return 0;
}

static int engine_err(tspsd_asker *c, Tsps__Response *resp, int rc,
                      const char *what)
{
    return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "%s: %s", what,
                       tsps_strerror(rc));
}

/* ---------------------------------------------------------------- users */

typedef struct num_ctx {
    tspsd_asker *c;
    Tsps__User *u;
} num_ctx;

static int num_cb(void *arg, const char *e164)
{
    num_ctx *nc = arg;
    char *s = tspsd_arena_strdup(&nc->c->arena, e164);
    if (s == NULL)
        return 1;
    return tspsd_arena_push(&nc->c->arena, (void ***)&nc->u->numbers,
                            &nc->u->n_numbers, s) != 0;
}

static Tsps__User *user_msg(tspsd_asker *c, const tsps_user *u)
{
    Tsps__User *m = tspsd_arena_alloc(&c->arena, sizeof(*m));
    char hours[256];
    if (m == NULL)
        return NULL;
    tsps__user__init(m);
    m->id = TSPSD_STR(a, u->id);
    m->display_name = TSPSD_STR(a, u->display_name);
    m->region = TSPSD_STR(a, u->dialplan.region);
    m->tz = TSPSD_STR(a, u->tz);
    if (tsps_hours_format(&u->hours, hours, sizeof(hours), NULL) != TSPS_OK)
        hours[0] = '\0';
    m->hours = TSPSD_STR(a, hours);
    m->attendant_uri = TSPSD_STR(a, u->attendant_uri);
    m->voicemail_uri = TSPSD_STR(a, u->voicemail_uri);
    num_ctx nc = {c, m};
    tsps_number_list(c->d->eng, u->id, num_cb, &nc);
    return m;
}

TSPSD_HANDLER(tspsd_h_user_put)
{
    const Tsps__User *in = req->user_put->user;
    tsps_user u;
    int rc;

    TSPSD_AUTHZ(c, resp, "user.put", in != NULL ? in->id : NULL,
                TSPSD_RIGHT_ADMIN, NULL);
    if (in == NULL || !tspsd_identity_valid(in->id))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "user id required "
                           "([a-z0-9._@-])");
    tsps_user_init(&u);
    if (cpy(u.id, sizeof(u.id), in->id) != 0 ||
        cpy(u.display_name, sizeof(u.display_name), in->display_name) != 0 ||
        cpy(u.attendant_uri, sizeof(u.attendant_uri), in->attendant_uri) != 0 ||
        cpy(u.voicemail_uri, sizeof(u.voicemail_uri), in->voicemail_uri) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "field too long");
    rc = tsps_dialplan_for_region(in->region[0] ? in->region : "US",
                                  &u.dialplan);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, "region");
    if (in->tz[0] != '\0' && cpy(u.tz, sizeof(u.tz), in->tz) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "tz too long");
    if (in->hours[0] != '\0') {
        rc = tsps_hours_parse(in->hours, &u.hours);
        if (rc != TSPS_OK)
            return engine_err(c, resp, rc, "hours");
    }
    rc = tsps_user_put(c->d->eng, &u);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, "user");
    for (size_t i = 0; i < in->n_numbers; i++) {
        rc = tsps_number_add(c->d->eng, u.id, in->numbers[i]);
        if (rc != TSPS_OK)
            return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                               "number %s: %s", in->numbers[i],
                               tsps_strerror(rc));
    }
    tspsd_log(TSPSD_LOG_INFO, 0, u.id, "user provisioned", "by=%s",
              c->identity);
    return tspsd_reply(c, resp, TSPS__CODE__OK, NULL);
}

TSPSD_HANDLER(tspsd_h_user_get)
{
    const char *id = req->user_get->id;
    tsps_user u;
    int rc;

    TSPSD_AUTHZ(c, resp, "user.get", id, TSPSD_RIGHT_MONITOR, NULL);
    rc = tsps_user_get(c->d->eng, id, &u);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, id);
    Tsps__User *m = user_msg(c, &u);
    if (m == NULL || tspsd_arena_push(&c->arena, (void ***)&resp->users,
                                      &resp->n_users, m) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    return TSPS__CODE__OK;
}

typedef struct list_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    tsps_user *users;
    size_t n, cap;
    int failed;
} list_ctx;

static int user_cb(void *arg, const tsps_user *u)
{
    list_ctx *lc = arg;
    /* Copy out: no engine calls inside the read transaction callback. */
    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 16;
        tsps_user *nu = tspsd_arena_alloc(&lc->c->arena, cap * sizeof(*nu));
        if (nu == NULL) {
            lc->failed = 1;
            return 1;
        }
        if (lc->n)
            memcpy(nu, lc->users, lc->n * sizeof(*nu));
        lc->users = nu;
        lc->cap = cap;
    }
    lc->users[lc->n++] = *u;
    return 0;
}

TSPSD_HANDLER(tspsd_h_user_list)
{
    list_ctx lc = {c, resp, NULL, 0, 0, 0};
    int rc;

    if (!c->admin) {
        /* Non-admins see themselves only. */
        tsps_user u;
        if (tsps_user_get(c->d->eng, c->identity, &u) == TSPS_OK) {
            Tsps__User *m = user_msg(c, &u);
            if (m != NULL)
                tspsd_arena_push(&c->arena, (void ***)&resp->users,
                                 &resp->n_users, m);
        }
        return TSPS__CODE__OK;
    }
    rc = tsps_user_list(c->d->eng, user_cb, &lc);
    if (rc != TSPS_OK || lc.failed)
        return engine_err(c, resp, rc != TSPS_OK ? rc : TSPS_ENOMEM, "list");
    for (size_t i = 0; i < lc.n; i++) {
        Tsps__User *m = user_msg(c, &lc.users[i]);
        if (m == NULL || tspsd_arena_push(&c->arena, (void ***)&resp->users,
                                          &resp->n_users, m) != 0)
            return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    }
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_user_delete)
{
    const char *id = req->user_delete->id;
    size_t nt = 0, ns = 0;
    TSPSD_AUTHZ(c, resp, "user.delete", id, TSPSD_RIGHT_ADMIN, NULL);
    int rc = tsps_user_delete(c->d->eng, id);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, id);
    /* A deleted user's identity loses every credential (tokens, web
     * sessions, login links, web password) and, on the loop before this
     * reply, its live connections and event streams. */
    rc = tspsd_identity_revoke(c->d, id, 1, &nt, &ns);
    snprintf(c->end_access, sizeof(c->end_access), "%s", id);
    c->end_reason = "user.delete";
    tspsd_log(TSPSD_LOG_INFO, 0, id, "user deleted",
              "by=%s tokens=%zu web_sessions=%zu", c->identity, nt, ns);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                           "%s deleted, but revoking its credentials failed: "
                           "%s",
                           id, tsps_strerror(rc));
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_number_add)
{
    const Tsps__NumberAdd *r = req->number_add;
    TSPSD_AUTHZ(c, resp, "number.add", r->user, TSPSD_RIGHT_ADMIN, NULL);
    int rc = tsps_number_add(c->d->eng, r->user, r->number);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->number);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_number_remove)
{
    const Tsps__NumberRemove *r = req->number_remove;
    tsps_user u;
    tsps_number n;
    char owner[TSPS_ID_MAX];
    int rc;

    TSPSD_AUTHZ(c, resp, "number.remove", r->user, TSPSD_RIGHT_ADMIN, NULL);
    rc = tsps_user_get(c->d->eng, r->user, &u);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->user);
    rc = tsps_normalize(r->number, &u.dialplan, &n);
    if (rc != TSPS_OK || n.kind != TSPS_NUM_E164)
        return engine_err(c, resp, rc != TSPS_OK ? rc : TSPS_ENUMBER,
                          r->number);
    rc = tsps_number_lookup(c->d->eng, n.e164, owner);
    if (rc != TSPS_OK || strcmp(owner, r->user) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "%s is not a number of %s", n.e164, r->user);
    rc = tsps_number_remove(c->d->eng, n.e164);
    return rc == TSPS_OK ? TSPS__CODE__OK : engine_err(c, resp, rc, n.e164);
}

/* ---------------------------------------------------------------- codes */

static int parse_status(const char *s)
{
    if (s == NULL || *s == '\0')
        return TSPS_STATUS_ANY;
    return tsps_status_parse(s);
}

TSPSD_HANDLER(tspsd_h_code_set)
{
    const Tsps__Rule *r = req->code_set->rule;
    tsps_method m;
    char err[160];
    int st, rc;

    if (r == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "rule required");
    TSPSD_AUTHZ(c, resp, "code.set", r->user, TSPSD_RIGHT_OWN, NULL);
    st = parse_status(r->status);
    if (st < 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "unknown status %s",
                           r->status);
    err[0] = '\0';
    rc = tsps_method_parse(r->method, &m, err, sizeof(err));
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "method: %s",
                           err[0] ? err : tsps_strerror(rc));
    rc = tsps_code_set(c->d->eng, r->user, r->code, (tsps_status)st, &m);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->code);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_code_delete)
{
    const Tsps__Rule *r = req->code_delete->rule;
    int st;
    if (r == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "rule required");
    TSPSD_AUTHZ(c, resp, "code.delete", r->user, TSPSD_RIGHT_OWN, NULL);
    st = parse_status(r->status);
    if (st < 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "unknown status %s",
                           r->status);
    int rc = tsps_code_delete(c->d->eng, r->user, r->code, (tsps_status)st);
    return rc == TSPS_OK ? TSPS__CODE__OK : engine_err(c, resp, rc, r->code);
}

typedef struct rule_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    const char *user;
} rule_ctx;

static int rule_cb(void *arg, const char *code, tsps_status st,
                   const tsps_method *m)
{
    rule_ctx *rc = arg;
    tspsd_arena *a = &rc->c->arena;
    char text[512];
    Tsps__Rule *r = tspsd_arena_alloc(a, sizeof(*r));
    if (r == NULL)
        return 1;
    tsps__rule__init(r);
    if (tsps_method_format(m, text, sizeof(text), NULL) != TSPS_OK)
        snprintf(text, sizeof(text), "%s", tsps_method_kind_name(m->kind));
    r->user = tspsd_arena_strdup(a, rc->user);
    r->code = tspsd_arena_strdup(a, code);
    r->status = (char *)tsps_status_name(st);
    r->method = tspsd_arena_strdup(a, text);
    return tspsd_arena_push(a, (void ***)&rc->resp->rules, &rc->resp->n_rules,
                            r) != 0;
}

TSPSD_HANDLER(tspsd_h_code_list)
{
    const char *user = req->code_list->user;
    rule_ctx rc = {c, resp, user};
    TSPSD_AUTHZ(c, resp, "code.list", user, TSPSD_RIGHT_MONITOR, NULL);
    int e = tsps_code_list(c->d->eng, user, rule_cb, &rc);
    return e == TSPS_OK ? TSPS__CODE__OK : engine_err(c, resp, e, user);
}

/* ---------------------------------------------------------------- status */

TSPSD_HANDLER(tspsd_h_status_set)
{
    const Tsps__StatusSet *r = req->status_set;
    int st = tsps_status_parse(r->status);
    TSPSD_AUTHZ(c, resp, "status.set", r->user, TSPSD_RIGHT_ACT, NULL);
    if (st < 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "unknown status %s",
                           r->status);
    int rc =
        tsps_status_set(c->d->eng, r->user, (tsps_status)st, r->until, r->note);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->user);
    tspsd_log(TSPSD_LOG_INFO, 0, r->user, "status set", "status=%s by=%s",
              tsps_status_name((tsps_status)st), c->identity);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_status_get)
{
    const Tsps__StatusGet *r = req->status_get;
    tsps_status_info si;
    TSPSD_AUTHZ(c, resp, "status.get", r->user, TSPSD_RIGHT_MONITOR, NULL);
    int rc = tsps_status_get(c->d->eng, r->user,
                             r->at ? r->at : (int64_t)time(NULL), &si);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->user);
    Tsps__StatusInfo *m = tspsd_arena_alloc(&c->arena, sizeof(*m));
    if (m == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    tsps__status_info__init(m);
    m->user = TSPSD_STR(a, r->user);
    m->status = (char *)tsps_status_name(si.status);
    m->source = (char *)tsps_status_source_name(si.source);
    m->until = si.until;
    m->detail = TSPSD_STR(a, si.detail);
    resp->status = m;
    return TSPS__CODE__OK;
}

/* ---------------------------------------------------------------- contacts */

typedef struct contact_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    size_t limit;
} contact_ctx;

static int contact_cb(void *arg, const tsps_contact *k)
{
    contact_ctx *cc = arg;
    tspsd_arena *a = &cc->c->arena;
    Tsps__Contact *m;

    if (cc->limit != 0 && cc->resp->n_contacts >= cc->limit)
        return 1;
    m = tspsd_arena_alloc(a, sizeof(*m));
    if (m == NULL)
        return 1;
    tsps__contact__init(m);
    m->uid = tspsd_arena_strdup(a, k->uid);
    m->source = tspsd_arena_strdup(a, k->source);
    m->name = tspsd_arena_strdup(a, k->name);
    m->org = tspsd_arena_strdup(a, k->org);
    m->code = tspsd_arena_strdup(a, k->code);
    m->code_source = (char *)tsps_code_source_name(k->code_source);
    for (unsigned i = 0; i < k->nnumbers && i < TSPS_MAX_NUMBERS; i++)
        tspsd_arena_push(a, (void ***)&m->numbers, &m->n_numbers,
                         tspsd_arena_strdup(a, k->numbers[i]));
    for (unsigned i = 0; i < k->nemails && i < TSPS_MAX_EMAILS; i++)
        tspsd_arena_push(a, (void ***)&m->emails, &m->n_emails,
                         tspsd_arena_strdup(a, k->emails[i]));
    return tspsd_arena_push(a, (void ***)&cc->resp->contacts,
                            &cc->resp->n_contacts, m) != 0;
}

TSPSD_HANDLER(tspsd_h_contact_list)
{
    const Tsps__ContactList *r = req->contact_list;
    contact_ctx cc = {c, resp, r->limit};
    TSPSD_AUTHZ(c, resp, "contact.list", r->user, TSPSD_RIGHT_MONITOR, NULL);
    int rc = tsps_contact_list(c->d->eng, r->user, r->query, contact_cb, &cc);
    return rc == TSPS_OK ? TSPS__CODE__OK : engine_err(c, resp, rc, r->user);
}

TSPSD_HANDLER(tspsd_h_contact_set_code)
{
    const Tsps__ContactSetCode *r = req->contact_set_code;
    char why[200] = "";
    TSPSD_AUTHZ(c, resp, "contact.code", r->user, TSPSD_RIGHT_OWN, NULL);
    int rc = tsps_contact_set_code(c->d->eng, r->user, r->uid, r->code,
                                   TSPS_CODE_SRC_MANUAL);
    if (rc != TSPS_OK)
        return engine_err(c, resp, rc, r->uid);
    /* Write back to the contact manager, so the code lives where the user
     * keeps it; the engine already has it, so a failure is a warning. */
    rc =
        tspsd_sync_write_code(c->d, r->user, r->uid, r->code, why, sizeof(why));
    /* Queued or not written back: why says which. */
    (void)rc;
    resp->message = tspsd_arena_printf(&c->arena, "%s", why);
    if (resp->message == NULL)
        resp->message = (char *)"";
    return TSPS__CODE__OK;
}

/*
 * h_admin.c - handlers for the handshake, tokens, delegations, sources and
 * SIP devices.
 */
#include "handlers.h"
#include "store_keys.h"
#include "sip/sip_front.h" /* device credentials: pure store functions */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TSPSD_HANDLER(tspsd_h_token_issue)
{
    const Tsps__TokenIssue *r = req->token_issue;
    char token[80];
    int admin;

    TSPSD_AUTHZ(c, resp, "token.issue", NULL, TSPSD_RIGHT_ADMIN, NULL);
    if (!tspsd_identity_valid(r->identity))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "identity required ([A-Za-z0-9._@-], < 64)");
    if (r->role[0] != '\0' && strcmp(r->role, "admin") != 0 &&
        strcmp(r->role, "user") != 0 && strcmp(r->role, "attendant") != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "role must be admin, user or attendant");
    admin = strcmp(r->role, "admin") == 0;
    int rc = tspsd_token_issue(c->d, r->identity, admin, token, sizeof(token));
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "token: %s",
                           tsps_strerror(rc));
    resp->token = TSPSD_STR(a, token);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "token issued",
              "audit=1 by=%s identity=%s role=%s", c->identity, r->identity,
              admin ? "admin" : "user");
    return TSPS__CODE__OK;
}

/* Revoking an identity's tokens ends its access: the tokens and its web
 * sessions go from the store here (on the write worker), and its live
 * control connections and event streams close on the loop before this
 * reply leaves (c->end_access), whether they used a token or not. */
TSPSD_HANDLER(tspsd_h_token_revoke)
{
    const char *identity = req->token_revoke->identity;
    size_t n = 0, ns = 0;

    TSPSD_AUTHZ(c, resp, "token.revoke", NULL, TSPSD_RIGHT_ADMIN, NULL);
    if (!tspsd_identity_valid(identity))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "identity required");
    int rc = tspsd_identity_revoke(c->d, identity, 0, &n, &ns);
    /* Even after a partial failure, what is already granted ends. */
    snprintf(c->end_access, sizeof(c->end_access), "%s", identity);
    c->end_reason = "token.revoke";
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "revoke: %s",
                           tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "tokens revoked",
              "audit=1 by=%s identity=%s count=%zu web_sessions=%zu",
              c->identity, identity, n, ns);
    if (n == 0 && ns == 0)
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND, "no token for %s",
                           identity);
    resp->message = tspsd_arena_printf(
        &c->arena, "%zu token%s revoked, %zu web session%s ended", n,
        n == 1 ? "" : "s", ns, ns == 1 ? "" : "s");
    if (resp->message == NULL)
        resp->message = (char *)"";
    return TSPS__CODE__OK;
}

/* Drain: the SIP front's OPTIONS answer says 503 (daemon.c's draining
 * hook) while calls already here go on. State only: the cluster's node
 * key carries it (cluster_wire.c). */
TSPSD_HANDLER(tspsd_h_cluster_drain)
{
    TSPSD_AUTHZ(c, resp, "cluster.drain", NULL, TSPSD_RIGHT_ADMIN, NULL);
    int on = !req->cluster_drain->undo;
    int was = atomic_exchange(&c->d->draining, on);
    unsigned held = atomic_load(&c->d->held_now);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, on ? "node draining" : "drain ended",
              "audit=1 by=%s was=%d held_calls=%u", c->identity, was, held);
    resp->message = tspsd_arena_printf(&c->arena, "%s (%u held call%s)",
                                       on ? (held == 0 ? "drained" : "draining")
                                          : "in service",
                                       held, held == 1 ? "" : "s");
    if (resp->message == NULL)
        resp->message = (char *)"";
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_delegate)
{
    const Tsps__Delegate *r = req->delegate;
    const Tsps__Delegation *dl = r->delegation;
    int rc;

    if (dl == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "delegation required");
    TSPSD_AUTHZ(c, resp, "delegate", dl->user, TSPSD_RIGHT_OWN, NULL);
    if (!tspsd_identity_valid(dl->attendant) ||
        strcmp(dl->attendant, dl->user) == 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "attendant identity required (not the user)");
    if (r->remove) {
        rc = tspsd_delegation_delete(c->d, dl->user, dl->attendant);
    } else {
        tsps_user u;
        rc = tsps_user_get(c->d->eng, dl->user, &u);
        if (rc == TSPS_OK)
            rc = tspsd_delegation_put(c->d, dl);
    }
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "delegation: %s",
                           tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, dl->user,
              r->remove ? "delegation removed" : "delegation granted",
              "audit=1 by=%s attendant=%s monitor=%d act=%d related=%d "
              "codes=%zu",
              c->identity, dl->attendant, dl->monitor, dl->act, dl->related,
              dl->n_codes);
    return TSPS__CODE__OK;
}

typedef struct deleg_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    const char *user;
} deleg_ctx;

static int deleg_cb(void *arg, const char *key, const void *val, size_t len)
{
    deleg_ctx *dc = arg;
    tspsd_arena *a = &dc->c->arena;
    Tsps__Delegation *dl = tsps__delegation__unpack(NULL, len, val);
    (void)key;
    if (dl == NULL)
        return 0;
    int mine = dc->c->admin || strcmp(dl->user, dc->c->identity) == 0 ||
               strcmp(dl->attendant, dc->c->identity) == 0;
    int match = dc->user[0] == '\0' || strcmp(dl->user, dc->user) == 0;
    if (mine && match) {
        Tsps__Delegation *m = tspsd_arena_alloc(a, sizeof(*m));
        if (m != NULL) {
            tsps__delegation__init(m);
            m->user = tspsd_arena_strdup(a, dl->user);
            m->attendant = tspsd_arena_strdup(a, dl->attendant);
            m->monitor = dl->monitor;
            m->act = dl->act;
            m->not_before = dl->not_before;
            m->not_after = dl->not_after;
            for (size_t i = 0; i < dl->n_codes; i++)
                tspsd_arena_push(a, (void ***)&m->codes, &m->n_codes,
                                 tspsd_arena_strdup(a, dl->codes[i]));
            tspsd_arena_push(a, (void ***)&dc->resp->delegations,
                             &dc->resp->n_delegations, m);
        }
    }
    tsps__delegation__free_unpacked(dl, NULL);
    return 0;
}

TSPSD_HANDLER(tspsd_h_delegation_list)
{
    deleg_ctx dc = {c, resp, req->delegation_list->user};
    int rc = tsps_kv_list(c->d->eng, TSPSD_KEY_DELEG, deleg_cb, &dc);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "%s",
                           tsps_strerror(rc));
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_source_add)
{
    const Tsps__Source *s = req->source_add->source;
    TSPSD_AUTHZ(c, resp, "source.add", NULL, TSPSD_RIGHT_ADMIN, NULL);
    if (s == NULL || !tspsd_identity_valid(s->name) || s->uri[0] == '\0' ||
        !tspsd_identity_valid(s->user))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "source needs name, uri and user");
    int rc = tspsd_sync_add(c->d, s, 1);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "source %s: %s",
                           s->name, tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, s->user, "source added",
              "audit=1 by=%s source=%s", c->identity, s->name);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_source_remove)
{
    const char *name = req->source_remove->name;
    TSPSD_AUTHZ(c, resp, "source.remove", NULL, TSPSD_RIGHT_ADMIN, NULL);
    int rc = tspsd_sync_remove(c->d, name);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "source %s: %s",
                           name, tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "source removed",
              "audit=1 by=%s source=%s", c->identity, name);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_source_list)
{
    Tsps__Source **all = NULL;
    size_t n = 0;
    (void)req;
    if (tspsd_sync_list(c->d, &c->arena, &all, &n) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        /* Users see the sources that feed them. */
        if (!c->admin && strcmp(all[i]->user, c->identity) != 0)
            continue;
        tspsd_arena_push(&c->arena, (void ***)&resp->sources, &resp->n_sources,
                         all[i]);
    }
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_source_sync)
{
    const char *name = req->source_sync->name;
    if (!c->admin) {
        /* A user may sync a source that feeds them, by name. */
        Tsps__Source **all = NULL;
        size_t n = 0;
        int ok = 0;
        tspsd_sync_list(c->d, &c->arena, &all, &n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(all[i]->name, name) == 0 &&
                strcmp(all[i]->user, c->identity) == 0)
                ok = 1;
        if (!ok)
            return tspsd_refuse(c, resp, "source.sync", NULL,
                                TSPS__CODE__DENIED,
                                "admin, or the source's own user");
    }
    int rc = tspsd_sync_now(c->d, name);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "source %s: %s",
                           name[0] ? name : "(all)", tsps_strerror(rc));
    resp->message = (char *)"sync queued";
    return TSPS__CODE__OK;
}

/* SIP usernames are one namespace for the whole daemon (a REGISTER names
 * only the username), so a device name belongs to the user who provisioned
 * it first. The check and the write go under one lock, or two users adding
 * the same name at once could both pass the check. */
static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;

/* Owner of device `username` into owner (""): TSPS_OK, TSPS_ENOTFOUND, or
 * the store's error. Reads the record tspsd_sip_device_set() writes:
 * "v1\n<user>\n..." under TSPSD_KEY_SIPDEV "<username>". */
static int device_owner(tsps_engine *eng, const char *username, char *owner,
                        size_t len)
{
    char key[160], rec[512];
    size_t n = 0;
    owner[0] = '\0';
    if (strlen(username) >= 128)
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    int rc = tsps_kv_get(eng, key, rec, sizeof(rec) - 1, &n);
    if (rc == TSPS_ENOBUFS)
        return TSPS_ESTORE;
    if (rc != TSPS_OK)
        return rc;
    rec[n] = '\0';
    char *u = strchr(rec, '\n');
    char *end = u != NULL ? strchr(u + 1, '\n') : NULL;
    if (strncmp(rec, "v1\n", 3) != 0 || end == NULL ||
        (size_t)(end - u - 1) >= len)
        return TSPS_ESTORE;
    memcpy(owner, u + 1, (size_t)(end - u - 1));
    owner[end - u - 1] = '\0';
    return TSPS_OK;
}

int tspsd_device_record_get(tsps_engine *eng, const char *username, char *rec,
                            size_t cap, size_t *len)
{
    char key[160];
    if (username == NULL || username[0] == '\0' || strlen(username) >= 128 ||
        strchr(username, '/') != NULL)
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    pthread_mutex_lock(&device_lock);
    int rc = tsps_kv_get(eng, key, rec, cap, len);
    pthread_mutex_unlock(&device_lock);
    return rc;
}

int tspsd_device_record_put(tsps_engine *eng, const char *username,
                            const char *rec, size_t len)
{
    char key[160], copy[512];
    if (username == NULL || username[0] == '\0' || strlen(username) >= 128 ||
        strchr(username, '/') != NULL)
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    if (rec == NULL) {
        pthread_mutex_lock(&device_lock);
        int rc = tsps_kv_put(eng, key, NULL, 0);
        pthread_mutex_unlock(&device_lock);
        return rc;
    }
    /* "v1\n<owner>\n<label>\n<realm>\n<ha1 md5>\n<ha1 sha256>\n" */
    if (len < 4 || len >= sizeof(copy) || memchr(rec, '\0', len) != NULL)
        return TSPS_EINVAL;
    memcpy(copy, rec, len);
    copy[len] = '\0';
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += copy[i] == '\n';
    char *owner = copy + 3, *nl = strchr(owner, '\n');
    if (strncmp(copy, "v1\n", 3) != 0 || lines != 6 || nl == NULL ||
        copy[len - 1] != '\n')
        return TSPS_EINVAL;
    *nl = '\0';
    if (!tspsd_identity_valid(owner))
        return TSPS_EINVAL;
    pthread_mutex_lock(&device_lock);
    int rc = tsps_kv_put(eng, key, rec, len);
    pthread_mutex_unlock(&device_lock);
    return rc;
}

TSPSD_HANDLER(tspsd_h_device_add)
{
    const Tsps__DeviceAdd *r = req->device_add;
    TSPSD_AUTHZ(c, resp, "device.add", r->user, TSPSD_RIGHT_OWN, NULL);
    if (r->username[0] == '\0' || r->password[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "username and password required");
    char why[96];
    if (!tspsd_sip_password_ok(r->password, r->username, why, sizeof(why)))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "password too weak: %s", why);
    const tspsd_config *cfg = &c->d->cfg;
    const char *realm = cfg->sip_realm[0]    ? cfg->sip_realm
                        : cfg->sip_domain[0] ? cfg->sip_domain
                                             : cfg->sip_listen;
    char owner[TSPS_ID_MAX + 1];
    pthread_mutex_lock(&device_lock);
    int rc = device_owner(c->d->eng, r->username, owner, sizeof(owner));
    if (rc == TSPS_OK && strcmp(owner, r->user) != 0) {
        /* Taken by someone else: never overwrite it (the owner's phone
         * would be locked out and its calls would follow the new owner),
         * not even for an admin, who removes it first. */
        pthread_mutex_unlock(&device_lock);
        tspsd_log(TSPSD_LOG_WARN, 0, r->user, "device name taken",
                  "audit=1 by=%s username=%s", c->identity, r->username);
        return tspsd_reply(c, resp, TSPS__CODE__EXISTS,
                           "device %s is taken by another user: choose "
                           "another name",
                           r->username);
    }
    if (rc == TSPS_OK || rc == TSPS_ENOTFOUND)
        rc = tspsd_sip_device_set(c->d->eng, realm, r->username, r->user,
                                  r->label, r->password);
    pthread_mutex_unlock(&device_lock);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "device: %s",
                           tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, r->user, "device provisioned",
              "audit=1 by=%s username=%s label=%s", c->identity, r->username,
              r->label);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_device_remove)
{
    const Tsps__DeviceRemove *r = req->device_remove;
    /* A user removes their own devices; an admin removes any. */
    TSPSD_AUTHZ(c, resp, "device.remove", r->user, TSPSD_RIGHT_OWN, NULL);
    char owner[TSPS_ID_MAX + 1];
    pthread_mutex_lock(&device_lock);
    int rc = device_owner(c->d->eng, r->username, owner, sizeof(owner));
    /* Someone else's device answers as a missing one: no leak of whose
     * names exist. */
    if (rc == TSPS_OK && !c->admin && strcmp(owner, r->user) != 0)
        rc = TSPS_ENOTFOUND;
    if (rc == TSPS_OK)
        rc = tspsd_sip_device_remove(c->d->eng, r->username);
    pthread_mutex_unlock(&device_lock);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "device %s: %s",
                           r->username, tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, owner, "device removed",
              "audit=1 by=%s username=%s", c->identity, r->username);
    return TSPS__CODE__OK;
}

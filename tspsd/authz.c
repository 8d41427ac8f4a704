/*
 * authz.c - who may do what. Admins do everything; a user reaches only
 * their own data; an attendant only the users who delegated to them, only
 * with the rights granted (monitor, act), optionally only for some handling
 * codes and within a time window. Tokens and delegations live in the
 * engine's kv store (TSPSD_KEY_TOKEN "<sha256>", TSPSD_KEY_DELEG
 * "<user>/<att>"). Delegations (and [admin] roles) are read at each request and
 * event; a token only at the hello, so revoking an identity must also end what
 * it was granted: its credentials leave the store (tspsd_identity_revoke, on a
 * worker), then its live control connections and web streams close
 * (tspsd_access_end, on the loop).
 */
#include "daemon.h"
#include "store_keys.h"
#include "log.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tspsd_identity_valid(const char *id)
{
    size_t n = 0;
    if (id == NULL)
        return 0;
    for (const char *p = id; *p != '\0'; p++, n++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '_' || ch == '@' ||
              ch == '-'))
            return 0;
    }
    return n > 0 && n < TSPSD_IDENT_MAX;
}

static void hexify(const unsigned char *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int token_key(const char *token, char *key, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char hex[65];

    if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return -1;
    hexify(md, 32, hex);
    snprintf(key, len, TSPSD_KEY_TOKEN "%s", hex);
    return 0;
}

int tspsd_token_issue(tspsd *d, const char *identity, int admin, char *token,
                      size_t len)
{
    unsigned char rnd[24];
    char hex[49], key[96], val[96];

    if (len < 54 || !tspsd_identity_valid(identity) ||
        RAND_bytes(rnd, sizeof(rnd)) != 1)
        return TSPS_EINVAL;
    hexify(rnd, sizeof(rnd), hex);
    snprintf(token, len, "tsps_%s", hex);
    if (token_key(token, key, sizeof(key)) != 0)
        return TSPS_EINVAL;
    int n = snprintf(val, sizeof(val), "%s\n%s", admin ? "admin" : "user",
                     identity);
    /* Only the hash is stored: a copy of the store reveals no token. */
    return tsps_kv_put(d->eng, key, val, (size_t)n);
}

int tspsd_token_check(tspsd *d, const char *token, char *identity, size_t len,
                      int *admin)
{
    char key[96], val[128];
    size_t vl = 0;

    if (strncmp(token, "tsps_", 5) != 0 || strlen(token) > 100 ||
        token_key(token, key, sizeof(key)) != 0)
        return -1;
    if (tsps_kv_get(d->eng, key, val, sizeof(val) - 1, &vl) != TSPS_OK)
        return -1;
    val[vl] = '\0';
    char *nl = strchr(val, '\n');
    if (nl == NULL)
        return -1;
    *nl = '\0';
    *admin = strcmp(val, "admin") == 0;
    snprintf(identity, len, "%s", nl + 1);
    return 0;
}

typedef struct revoke_ctx {
    const char *identity;
    char (*keys)[96];
    size_t n, cap;
    int nomem;
} revoke_ctx;

static int revoke_cb(void *arg, const char *key, const void *val, size_t len)
{
    revoke_ctx *rc = arg;
    const char *nl = memchr(val, '\n', len);
    size_t il = strlen(rc->identity);
    if (nl == NULL || (size_t)((const char *)val + len - (nl + 1)) != il ||
        memcmp(nl + 1, rc->identity, il) != 0)
        return 0;
    if (rc->n == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 16;
        char(*nk)[96] = realloc(rc->keys, cap * sizeof(*nk));
        if (nk == NULL) {
            rc->nomem = 1;
            return 1;
        }
        rc->keys = nk;
        rc->cap = cap;
    }
    snprintf(rc->keys[rc->n++], sizeof(rc->keys[0]), "%s", key);
    return 0;
}

int tspsd_token_revoke(tspsd *d, const char *identity, size_t *count)
{
    revoke_ctx rc = {identity, NULL, 0, 0, 0};
    int err;

    *count = 0;
    /* Collect first: no writes inside the listing's read transaction.
     * Every token goes, however many: a revocation that leaves some
     * behind is no revocation. */
    err = tsps_kv_list(d->eng, TSPSD_KEY_TOKEN, revoke_cb, &rc);
    if (err == TSPS_OK && rc.nomem)
        err = TSPS_ENOMEM;
    for (size_t i = 0; err == TSPS_OK && i < rc.n; i++) {
        err = tsps_kv_put(d->eng, rc.keys[i], NULL, 0);
        if (err == TSPS_ENOTFOUND) /* gone meanwhile */
            err = TSPS_OK;
        else if (err == TSPS_OK)
            (*count)++;
    }
    free(rc.keys);
    return err;
}

int tspsd_identity_revoke(tspsd *d, const char *identity, int password,
                          size_t *tokens, size_t *sessions)
{
    int rc;

    *tokens = *sessions = 0;
    if (!tspsd_identity_valid(identity))
        return TSPS_EINVAL;
    rc = tspsd_token_revoke(d, identity, tokens);
    if (rc == TSPS_OK) /* web sessions, links and password (listeners) */
        rc = tspsd_listeners_forget(d, identity, password, sessions);
    return rc;
}

void tspsd_access_end(tspsd *d, const char *identity, const char *reason)
{
    char what[160];

    if (identity == NULL || identity[0] == '\0')
        return;
    /* The control server's connections, the web UI's streams. */
    tspsd_listeners_access_end(d, identity, what, sizeof(what));
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "access ended",
              "audit=1 identity=%s reason=%s %s", identity,
              reason != NULL ? reason : "revoked", what);
}

void tspsd_asker_end_access(tspsd_asker *a)
{
    char id[TSPSD_IDENT_MAX];

    if (a->end_access[0] == '\0')
        return;
    /* Copy first: a's own session may be among those being closed. */
    snprintf(id, sizeof(id), "%s", a->end_access);
    a->end_access[0] = '\0';
    tspsd_access_end(a->d, id, a->end_reason);
}

void tspsd_asker_set(tspsd_asker *a, const char *identity, int admin,
                     int via_token)
{
    tsps_user u;

    if (identity != a->identity) /* a recheck passes a's own */
        snprintf(a->identity, sizeof(a->identity), "%s",
                 identity != NULL ? identity : "");
    a->admin = admin;
    a->via_token = via_token;
    if (admin)
        a->role = TSPSD_ROLE_ADMIN;
    else if (a->identity[0] == '\0')
        a->role = TSPSD_ROLE_NONE;
    else if (a->d != NULL && a->d->eng != NULL &&
             tsps_user_get(a->d->eng, a->identity, &u) == TSPS_OK)
        a->role = TSPSD_ROLE_USER;
    else
        a->role = TSPSD_ROLE_ATTENDANT;
}

int tspsd_asker_recheck_admin(tspsd_asker *a)
{
    int admin;

    if (a->via_token || a->identity[0] == '\0')
        return 0;
    admin = tspsd_config_is_admin(&a->d->cfg, a->identity);
    if (admin == a->admin)
        return 0;
    tspsd_asker_set(a, a->identity, admin, 0);
    return !admin;
}

static void deleg_key(char *key, size_t len, const char *user, const char *att)
{
    snprintf(key, len, TSPSD_KEY_DELEG "%s/%s", user, att != NULL ? att : "");
}

int tspsd_delegation_put(tspsd *d, const Tsps__Delegation *dl)
{
    char key[200];
    uint8_t buf[2048];
    size_t n = tsps__delegation__get_packed_size(dl);

    if (n > sizeof(buf))
        return TSPS_EINVAL;
    tsps__delegation__pack(dl, buf);
    deleg_key(key, sizeof(key), dl->user, dl->attendant);
    return tsps_kv_put(d->eng, key, buf, n);
}

int tspsd_delegation_delete(tspsd *d, const char *user, const char *attendant)
{
    char key[200];
    size_t n = 0;
    uint8_t b[1];
    deleg_key(key, sizeof(key), user, attendant);
    int rc = tsps_kv_get(d->eng, key, b, sizeof(b), &n);
    if (rc == TSPS_ENOTFOUND)
        return rc;
    return tsps_kv_put(d->eng, key, NULL, 0);
}

int tspsd_delegation_get(tspsd *d, const char *user, const char *attendant,
                         Tsps__Delegation **out)
{
    char key[200];
    uint8_t buf[2048];
    size_t n = 0;
    int rc;

    *out = NULL;
    deleg_key(key, sizeof(key), user, attendant);
    rc = tsps_kv_get(d->eng, key, buf, sizeof(buf), &n);
    if (rc != TSPS_OK)
        return rc;
    *out = tsps__delegation__unpack(NULL, n, buf);
    return *out != NULL ? TSPS_OK : TSPS_ESTORE;
}

static int deleg_allows(const Tsps__Delegation *dl, int right, const char *code,
                        char *why, size_t whylen)
{
    int64_t now = (int64_t)time(NULL);

    if (right == TSPSD_RIGHT_MONITOR && !dl->monitor) {
        snprintf(why, whylen, "delegation from %s lacks monitor", dl->user);
        return 0;
    }
    if (right == TSPSD_RIGHT_ACT && !dl->act) {
        snprintf(why, whylen, "delegation from %s lacks act", dl->user);
        return 0;
    }
    if (right == TSPSD_RIGHT_RELATED && !dl->related) {
        snprintf(why, whylen, "delegation from %s lacks related", dl->user);
        return 0;
    }
    if ((dl->not_before != 0 && now < dl->not_before) ||
        (dl->not_after != 0 && now >= dl->not_after)) {
        snprintf(why, whylen, "outside the delegation window of %s", dl->user);
        return 0;
    }
    if (code != NULL && dl->n_codes > 0) {
        for (size_t i = 0; i < dl->n_codes; i++)
            if (strcasecmp(dl->codes[i], code) == 0)
                return 1;
        snprintf(why, whylen, "code %s not delegated by %s",
                 *code ? code : "(none)", dl->user);
        return 0;
    }
    return 1;
}

int tspsd_deleg_allows(const Tsps__Delegation *dl, int right, const char *code)
{
    char why[160];
    return deleg_allows(dl, right, code, why, sizeof(why));
}

int tspsd_authz(const tspsd_asker *c, const char *user, int right,
                const char *code, char *why, size_t whylen)
{
    Tsps__Delegation *dl = NULL;
    int ok;

    if (c->admin)
        return 1;
    if (c->identity[0] == '\0') {
        snprintf(why, whylen, "anonymous");
        return 0;
    }
    if (right == TSPSD_RIGHT_ADMIN) {
        snprintf(why, whylen, "admin only");
        return 0;
    }
    if (user == NULL || *user == '\0') {
        snprintf(why, whylen, "no user named (admin only)");
        return 0;
    }
    if (strcmp(user, c->identity) == 0)
        return 1;
    if (right == TSPSD_RIGHT_OWN) {
        snprintf(why, whylen, "only %s or an admin", user);
        return 0;
    }
    if (tspsd_delegation_get(c->d, user, c->identity, &dl) != TSPS_OK) {
        snprintf(why, whylen, "no delegation from %s", user);
        return 0;
    }
    ok = deleg_allows(dl, right, code, why, whylen);
    tsps__delegation__free_unpacked(dl, NULL);
    return ok;
}

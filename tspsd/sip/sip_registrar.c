/*
 * sip_registrar.c - the registrar (RFC 3261 10.3): digest authentication
 * (SHA-256 and MD5, RFC 7616/8760), bindings with expiry, q, +sip.instance
 * and a device label, stored through the engine's registration API.
 *
 * Nonces, replay protection and failure limits: sip_guard.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "sip_internal.h"

#define MAX_BINDINGS 32

typedef struct bind_list {
    int n;
    tsps_registration r[MAX_BINDINGS];
} bind_list;

static int collect(void *arg, const tsps_registration *r)
{
    bind_list *l = arg;
    if (l->n < MAX_BINDINGS)
        l->r[l->n++] = *r;
    return 0;
}

static void unquote(const char *in, char *out, size_t n)
{
    out[0] = '\0';
    if (in == NULL)
        return;
    size_t len = strlen(in);
    if (len >= 2 && in[0] == '"' && in[len - 1] == '"') {
        in++;
        len -= 2;
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, in, len);
    out[len] = '\0';
}

static void challenge(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                      int stale, int64_t now)
{
    char nonce[96], hdr[1024];
    size_t k = 0;
    sip_nonce_make(s, src, now, nonce, sizeof(nonce));
    hdr[0] = '\0';
    for (int i = 0; i < s->nalgs && k < sizeof(hdr); i++) {
        int n = snprintf(hdr + k, sizeof(hdr) - k,
                         "WWW-Authenticate: Digest realm=\"%s\", "
                         "nonce=\"%s\", algorithm=%s, qop=\"auth\"%s\r\n",
                         s->realm, nonce,
                         s->algs[i] == SIP_ALG_SHA256 ? "SHA-256" : "MD5",
                         stale ? ", stale=true" : "");
        if (n < 0)
            break;
        k += (size_t)n;
    }
    sip_respond_simple(s, r, src, 401, NULL, hdr);
}

static int alg_enabled(const tspsd_sip *s, int alg)
{
    for (int i = 0; i < s->nalgs; i++)
        if (s->algs[i] == alg)
            return 1;
    return 0;
}

/*
 * Check the Authorization header. Returns 0 when authenticated (cred filled),
 * else the response already sent.
 */
static int authenticate(tspsd_sip *s, osip_message_t *m, const sip_raw *r,
                        const sip_src *src, const char *user_id, sip_cred *cred,
                        int64_t now)
{
    osip_authorization_t *a = NULL;
    char realm[128], user[128], nonce[96], uri[TSPS_URI_MAX], resp[80];
    char alg[16], qop[16], nc[16], cnonce[128], expect[65];
    sip_nonce_slot *slot = NULL;

    for (int i = 0; osip_message_get_authorization(m, i, &a) >= 0; i++) {
        unquote(a->realm, realm, sizeof(realm));
        if (a->auth_type != NULL && strcasecmp(a->auth_type, "Digest") == 0 &&
            strcmp(realm, s->realm) == 0)
            break;
        a = NULL;
    }
    if (a != NULL)
        unquote(a->username, user, sizeof(user));
    else
        user[0] = '\0';
    /* a locked-out address or device name is refused before any check:
       guesses made meanwhile are not even tried */
    int64_t locked = sip_guard_locked(s, src, user, now);
    if (locked > 0) {
        char hdr[64];
        s->stat_auth_locked++;
        snprintf(hdr, sizeof(hdr), "Retry-After: %lld\r\n", (long long)locked);
        sip_respond_simple(s, r, src, 403, "Forbidden (too many failures)",
                           hdr);
        return -1;
    }
    if (a == NULL) {
        challenge(s, r, src, 0, now);
        return -1;
    }
    unquote(a->nonce, nonce, sizeof(nonce));
    unquote(a->uri, uri, sizeof(uri));
    unquote(a->response, resp, sizeof(resp));
    unquote(a->algorithm, alg, sizeof(alg));
    unquote(a->message_qop, qop, sizeof(qop));
    unquote(a->nonce_count, nc, sizeof(nc));
    unquote(a->cnonce, cnonce, sizeof(cnonce));
    int algo = alg[0] == '\0' || strcasecmp(alg, "MD5") == 0 ? SIP_ALG_MD5
               : strcasecmp(alg, "SHA-256") == 0             ? SIP_ALG_SHA256
                                                             : -1;
    int nv = sip_nonce_check(s, nonce, src, now, &slot);
    if (algo < 0 || !alg_enabled(s, algo) || nv == SIP_NONCE_BAD) {
        challenge(s, r, src, 0, now);
        return -1;
    }
    if (sip_cred_get(s->eng, user, cred) != TSPS_OK ||
        strcmp(cred->realm, s->realm) != 0) {
        sip_guard_fail(s, src, user, "unknown-device", now);
        sip_respond_simple(s, r, src, 403, NULL, NULL);
        return -1;
    }
    const char *ha1 = algo == SIP_ALG_SHA256 ? cred->ha1_sha256 : cred->ha1_md5;
    if (qop[0] != '\0' && strcasecmp(qop, "auth") != 0) {
        challenge(s, r, src, 0, now);
        return -1;
    }
    sip_digest_response(algo, ha1, nonce, nc, cnonce, qop, "REGISTER", uri,
                        expect);
    size_t el = strlen(expect);
    unsigned char diff = strlen(resp) != el;
    for (size_t i = 0; i < el && resp[i] != '\0'; i++)
        diff |= (unsigned char)(tolower((unsigned char)resp[i]) ^ expect[i]);
    if (diff != 0) {
        sip_guard_fail(s, src, user, "bad-response", now);
        sip_respond_simple(s, r, src, 403, NULL, NULL);
        return -1;
    }
    if (nv == SIP_NONCE_STALE) {
        challenge(s, r, src, 1, now);
        return -1;
    }
    /* the right answer, but to a nonce (and count) already used by
       another request: a captured request replayed, or a client that
       reordered; either way a fresh challenge, and counted */
    char tk[512];
    int tkl = sip_txn_key(r, tk, sizeof(tk));
    uint64_t th = tkl > 0 ? sip_hash(SIP_HASH_INIT, tk, (size_t)tkl) : 0;
    /* a retransmission of the accepted request passes (the registrar's
       CSeq rule answers it); another request with the same nc is a replay */
    if (sip_nonce_use(slot, nc, qop[0] != '\0', th) < 0) {
        sip_guard_fail(s, src, user, "replay", now);
        challenge(s, r, src, 0, now);
        return -1;
    }
    if (strcmp(cred->user_id, user_id) != 0) {
        sip_guard_fail(s, src, user, "foreign-aor", now);
        sip_respond_simple(s, r, src, 403, NULL, NULL);
        return -1;
    }
    return 0;
}

/* AOR (To user) -> user id: a device name, a public number or a user id. */
static int aor_user(tspsd_sip *s, const char *aor, char user_id[TSPS_ID_MAX],
                    sip_cred *aor_cred)
{
    tsps_user u;
    if (sip_cred_get(s->eng, aor, aor_cred) == TSPS_OK) {
        snprintf(user_id, TSPS_ID_MAX, "%s", aor_cred->user_id);
        return TSPS_OK;
    }
    if ((aor[0] == '+' || isdigit((unsigned char)aor[0])) &&
        tsps_number_lookup(s->eng, aor, user_id) == TSPS_OK)
        return TSPS_OK;
    if (strlen(aor) < TSPS_ID_MAX &&
        tsps_user_get(s->eng, aor, &u) == TSPS_OK) {
        snprintf(user_id, TSPS_ID_MAX, "%s", aor);
        return TSPS_OK;
    }
    return TSPS_ENOTFOUND;
}

static const char *gparam(osip_contact_t *c, const char *name)
{
    osip_generic_param_t *p = NULL;
    if (osip_generic_param_get_byname(&c->gen_params, (char *)name, &p) >= 0 &&
        p != NULL)
        return p->gvalue != NULL ? p->gvalue : "";
    return NULL;
}

static int parse_q(const char *v)
{
    if (v == NULL)
        return 1000;
    double q = atof(v);
    if (q < 0 || q > 1)
        return -1;
    return (int)(q * 1000 + 0.5);
}

typedef struct req_binding {
    tsps_registration r;
    long expires; /* seconds from now, 0 = remove */
} req_binding;

static const tsps_registration *existing(const bind_list *l,
                                         const tsps_registration *r)
{
    for (int i = 0; i < l->n; i++) {
        const tsps_registration *e = &l->r[i];
        if (r->instance[0] != '\0' && strcmp(e->instance, r->instance) == 0)
            return e;
        if (r->instance[0] == '\0' && e->instance[0] == '\0' &&
            strcmp(e->contact, r->contact) == 0)
            return e;
    }
    return NULL;
}

static void ok_response(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                        const char *user_id, int64_t now)
{
    char out[SIP_MAX_RESP];
    sip_buf b = {out, 0, sizeof(out), 0};
    bind_list *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        sip_respond_simple(s, r, src, 500, NULL, NULL);
        return;
    }
    tsps_registration_list(s->eng, user_id, now, collect, l);
    sip_resp_begin(&b, r, src, 200, NULL);
    for (int i = 0; i < l->n; i++) {
        const tsps_registration *e = &l->r[i];
        sb_printf(&b, "Contact: <%s>;expires=%lld;q=%d.%03d", e->contact,
                  (long long)(e->expires - now), e->q / 1000, e->q % 1000);
        if (e->instance[0] != '\0')
            sb_printf(&b, ";+sip.instance=\"%s\"", e->instance);
        if (e->label[0] != '\0')
            sb_printf(&b, ";label=%s", e->label);
        sb_puts(&b, "\r\n");
    }
    free(l);
    sip_resp_end(&b);
    if (!b.err)
        sip_send(s, src, out, b.len);
    else
        sip_respond_simple(s, r, src, 500, NULL, NULL);
}

static void copy_span(char *dst, size_t n, sip_span sp)
{
    size_t k = sp.n < n - 1 ? sp.n : n - 1;
    memcpy(dst, sp.p, k);
    dst[k] = '\0';
}

void sip_register(tspsd_sip *s, void *msg, const sip_raw *r, const sip_src *src)
{
    sip_burst_end(s); /* the 200 lists the bindings just written */
    osip_message_t *m = msg;
    int64_t now = (int64_t)time(NULL);
    char user_id[TSPS_ID_MAX], label[TSPS_LABEL_MAX] = "", hdr[128];
    sip_cred cred, aor_cred;
    osip_header_t *h = NULL;
    long hdr_expires = -1;
    req_binding *rb = NULL;
    bind_list *cur = NULL;
    int nb = 0, star = 0;
    long cseq = sip_raw_cseq_num(r);

    if (m->to->url == NULL || m->to->url->username == NULL ||
        aor_user(s, m->to->url->username, user_id, &aor_cred) != TSPS_OK) {
        sip_respond_simple(s, r, src, 404, NULL, NULL);
        return;
    }
    if (s->cfg.auth_register) {
        if (authenticate(s, m, r, src, user_id, &cred, now) != 0)
            return;
        snprintf(label, sizeof(label), "%s", cred.label);
    }
    if (osip_message_header_get_byname(m, "expires", 0, &h) >= 0 && h != NULL &&
        h->hvalue != NULL) {
        char *end = NULL;
        hdr_expires = strtol(h->hvalue, &end, 10);
        if (end == h->hvalue || hdr_expires < 0)
            hdr_expires = s->cfg.default_expires;
    }
    if (label[0] == '\0' &&
        osip_message_header_get_byname(m, "x-tsps-label", 0, &h) >= 0 &&
        h != NULL && h->hvalue != NULL)
        snprintf(label, sizeof(label), "%s", h->hvalue);
    if (label[0] == '\0')
        snprintf(label, sizeof(label), "%s", aor_cred.label);

    int nc = osip_list_size(&m->contacts);
    if (nc > MAX_BINDINGS) {
        sip_respond_simple(s, r, src, 400, NULL, NULL);
        return;
    }
    rb = calloc((size_t)(nc > 0 ? nc : 1), sizeof(*rb));
    cur = calloc(1, sizeof(*cur));
    if (rb == NULL || cur == NULL) {
        sip_respond_simple(s, r, src, 500, NULL, NULL);
        goto done;
    }
    tsps_registration_list(s->eng, user_id, now, collect, cur);

    for (int i = 0; i < nc; i++) {
        osip_contact_t *c = osip_list_get(&m->contacts, i);
        if (c->displayname != NULL && strcmp(c->displayname, "*") == 0) {
            star = 1;
            continue;
        }
        if (c->url == NULL) {
            sip_respond_simple(s, r, src, 400, NULL, NULL);
            goto done;
        }
        req_binding *b = &rb[nb];
        tsps_registration_init(&b->r);
        char *uri = NULL;
        if (osip_uri_to_str(c->url, &uri) != 0 || uri == NULL ||
            strlen(uri) >= TSPS_URI_MAX) {
            osip_free(uri);
            sip_respond_simple(s, r, src, 400, NULL, NULL);
            goto done;
        }
        snprintf(b->r.contact, sizeof(b->r.contact), "%s", uri);
        osip_free(uri);
        const char *ev = gparam(c, "expires");
        b->expires = ev != NULL         ? atol(ev)
                     : hdr_expires >= 0 ? hdr_expires
                                        : s->cfg.default_expires;
        if (b->expires < 0)
            b->expires = s->cfg.default_expires;
        int q = parse_q(gparam(c, "q"));
        if (q < 0) {
            sip_respond_simple(s, r, src, 400, NULL, NULL);
            goto done;
        }
        b->r.q = (uint16_t)q;
        char inst[TSPS_URI_MAX];
        unquote(gparam(c, "+sip.instance"), inst, sizeof(inst));
        snprintf(b->r.instance, sizeof(b->r.instance), "%s", inst);
        const char *lp = gparam(c, "label");
        snprintf(b->r.label, sizeof(b->r.label), "%s",
                 lp != NULL && *lp != '\0' && !s->cfg.auth_register ? lp
                                                                    : label);
        copy_span(b->r.call_id, sizeof(b->r.call_id), r->call_id);
        b->r.cseq = (uint32_t)cseq;
        if (osip_message_header_get_byname(m, "user-agent", 0, &h) >= 0 &&
            h != NULL && h->hvalue != NULL)
            snprintf(b->r.user_agent, sizeof(b->r.user_agent), "%s", h->hvalue);
        if (b->expires > 0 && b->expires < s->cfg.min_expires) {
            snprintf(hdr, sizeof(hdr), "Min-Expires: %d\r\n",
                     s->cfg.min_expires);
            sip_respond_simple(s, r, src, 423, NULL, hdr);
            goto done;
        }
        if (b->expires > s->cfg.max_expires)
            b->expires = s->cfg.max_expires;
        const tsps_registration *e = existing(cur, &b->r);
        if (e != NULL && strcmp(e->call_id, b->r.call_id) == 0 &&
            (long)e->cseq >= cseq) {
            sip_respond_simple(s, r, src, 500, NULL,
                               "Warning: 399 tspsd \"stale CSeq\"\r\n");
            goto done;
        }
        nb++;
    }
    if (!star) {
        /* bindings of the address of record after this REGISTER: within
           the limit, or nothing is changed */
        int after = cur->n, limit = s->cfg.max_bindings_per_aor < MAX_BINDINGS
                                        ? s->cfg.max_bindings_per_aor
                                        : MAX_BINDINGS;
        for (int i = 0; i < nb; i++) {
            const tsps_registration *e = existing(cur, &rb[i].r);
            if (rb[i].expires == 0)
                after -= e != NULL;
            else
                after += e == NULL;
        }
        if (after > limit && after > cur->n) {
            char ip[64];
            sip_src_ip(src, ip, sizeof(ip));
            sip_log(s, TSPS_LOG_WARN,
                    "msg=\"register refused: too many bindings\" user=%s "
                    "bindings=%d limit=%d src=%s",
                    user_id, cur->n, limit, ip);
            sip_respond_simple(s, r, src, 403, "Forbidden (too many bindings)",
                               NULL);
            goto done;
        }
    }
    if (star) {
        if (nb > 0 || hdr_expires != 0) {
            sip_respond_simple(s, r, src, 400, NULL, NULL);
            goto done;
        }
        char cid[TSPS_URI_MAX];
        copy_span(cid, sizeof(cid), r->call_id);
        for (int i = 0; i < cur->n; i++) {
            if (strcmp(cur->r[i].call_id, cid) == 0 &&
                (long)cur->r[i].cseq >= cseq) {
                sip_respond_simple(s, r, src, 500, NULL,
                                   "Warning: 399 tspsd \"stale CSeq\"\r\n");
                goto done;
            }
        }
        int rc = tsps_registration_clear(s->eng, user_id);
        if (rc != TSPS_OK && rc != TSPS_ENOTFOUND) {
            sip_respond_simple(s, r, src, 500, NULL, NULL);
            goto done;
        }
        sip_log(s, TSPS_LOG_INFO, "msg=\"bindings removed\" user=%s n=%d",
                user_id, cur->n);
    }
    for (int i = 0; i < nb; i++) {
        req_binding *b = &rb[i];
        int rc;
        if (b->expires == 0) {
            rc = tsps_registration_remove(
                s->eng, user_id,
                b->r.instance[0] != '\0' ? b->r.instance : b->r.contact);
            if (rc == TSPS_ENOTFOUND)
                rc = TSPS_OK;
        } else {
            b->r.expires = now + b->expires;
            rc = tsps_registration_put(s->eng, user_id, &b->r);
        }
        if (rc != TSPS_OK) {
            sip_log(s, TSPS_LOG_ERROR, "msg=\"binding not saved\" err=%s",
                    tsps_errname(rc));
            sip_respond_simple(s, r, src, 500, NULL, NULL);
            goto done;
        }
        sip_log(s, TSPS_LOG_INFO,
                "msg=\"binding %s\" user=%s contact=\"%s\" expires=%ld",
                b->expires == 0 ? "removed" : "saved", user_id, b->r.contact,
                b->expires);
    }
    ok_response(s, r, src, user_id, now);
done:
    free(rb);
    free(cur);
}

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
int sip_aor_user(tspsd_sip *s, const char *aor, char user_id[TSPS_ID_MAX],
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

/* One REGISTER in progress: what its steps share. Each step returns 0, or
 * -1 once it has answered the request itself. */
typedef struct reg_req {
    tspsd_sip *s;
    osip_message_t *m;
    const sip_raw *r;
    const sip_src *src;
    int64_t now;
    long cseq;
    long hdr_expires; /* Expires header, -1 = none */
    char user_id[TSPS_ID_MAX];
    char label[TSPS_LABEL_MAX]; /* device label for the bindings */
    bind_list *cur;             /* bindings stored before this request */
    req_binding *rb;            /* bindings this request names */
    int nb, star;
} reg_req;

/* The address of record, its digest auth, Expires and the device label. */
static int reg_identify(reg_req *q)
{
    tspsd_sip *s = q->s;
    osip_message_t *m = q->m;
    sip_cred cred, aor_cred;
    osip_header_t *h = NULL;

    if (m->to->url == NULL || m->to->url->username == NULL ||
        sip_aor_user(s, m->to->url->username, q->user_id, &aor_cred) !=
            TSPS_OK) {
        sip_respond_simple(s, q->r, q->src, 404, NULL, NULL);
        return -1;
    }
    if (s->cfg.auth_register) {
        if (authenticate(s, m, q->r, q->src, q->user_id, &cred, q->now) != 0)
            return -1;
        snprintf(q->label, sizeof(q->label), "%s", cred.label);
    }
    if (osip_message_header_get_byname(m, "expires", 0, &h) >= 0 && h != NULL &&
        h->hvalue != NULL) {
        char *end = NULL;
        q->hdr_expires = strtol(h->hvalue, &end, 10);
        if (end == h->hvalue || q->hdr_expires < 0)
            q->hdr_expires = s->cfg.default_expires;
    }
    if (q->label[0] == '\0' &&
        osip_message_header_get_byname(m, "x-tsps-label", 0, &h) >= 0 &&
        h != NULL && h->hvalue != NULL)
        snprintf(q->label, sizeof(q->label), "%s", h->hvalue);
    if (q->label[0] == '\0')
        snprintf(q->label, sizeof(q->label), "%s", aor_cred.label);
    return 0;
}

/* One Contact of the request into b. */
static int reg_read_contact(reg_req *q, osip_contact_t *c, req_binding *b)
{
    tspsd_sip *s = q->s;
    osip_header_t *h = NULL;
    char hdr[128], *uri = NULL;

    if (c->url == NULL) {
        sip_respond_simple(s, q->r, q->src, 400, NULL, NULL);
        return -1;
    }
    tsps_registration_init(&b->r);
    if (osip_uri_to_str(c->url, &uri) != 0 || uri == NULL ||
        strlen(uri) >= TSPS_URI_MAX) {
        osip_free(uri);
        sip_respond_simple(s, q->r, q->src, 400, NULL, NULL);
        return -1;
    }
    snprintf(b->r.contact, sizeof(b->r.contact), "%s", uri);
    osip_free(uri);
    const char *ev = gparam(c, "expires");
    b->expires = ev != NULL            ? atol(ev)
                 : q->hdr_expires >= 0 ? q->hdr_expires
                                       : s->cfg.default_expires;
    if (b->expires < 0)
        b->expires = s->cfg.default_expires;
    int qv = parse_q(gparam(c, "q"));
    if (qv < 0) {
        sip_respond_simple(s, q->r, q->src, 400, NULL, NULL);
        return -1;
    }
    b->r.q = (uint16_t)qv;
    char inst[TSPS_URI_MAX];
    unquote(gparam(c, "+sip.instance"), inst, sizeof(inst));
    snprintf(b->r.instance, sizeof(b->r.instance), "%s", inst);
    const char *lp = gparam(c, "label");
    snprintf(b->r.label, sizeof(b->r.label), "%s",
             lp != NULL && *lp != '\0' && !s->cfg.auth_register ? lp
                                                                : q->label);
    copy_span(b->r.call_id, sizeof(b->r.call_id), q->r->call_id);
    b->r.cseq = (uint32_t)q->cseq;
    if (osip_message_header_get_byname(q->m, "user-agent", 0, &h) >= 0 &&
        h != NULL && h->hvalue != NULL)
        snprintf(b->r.user_agent, sizeof(b->r.user_agent), "%s", h->hvalue);
    if (b->expires > 0 && b->expires < s->cfg.min_expires) {
        snprintf(hdr, sizeof(hdr), "Min-Expires: %d\r\n", s->cfg.min_expires);
        sip_respond_simple(s, q->r, q->src, 423, NULL, hdr);
        return -1;
    }
    if (b->expires > s->cfg.max_expires)
        b->expires = s->cfg.max_expires;
    const tsps_registration *e = existing(q->cur, &b->r);
    if (e != NULL && strcmp(e->call_id, b->r.call_id) == 0 &&
        (long)e->cseq >= q->cseq) {
        sip_respond_simple(s, q->r, q->src, 500, NULL,
                           "Warning: 399 tspsd \"stale CSeq\"\r\n");
        return -1;
    }
    return 0;
}

/* Every Contact of the request ("*" sets q->star). */
static int reg_read_contacts(reg_req *q, int nc)
{
    for (int i = 0; i < nc; i++) {
        osip_contact_t *c = osip_list_get(&q->m->contacts, i);
        if (c->displayname != NULL && strcmp(c->displayname, "*") == 0) {
            q->star = 1;
            continue;
        }
        if (reg_read_contact(q, c, &q->rb[q->nb]) != 0)
            return -1;
        q->nb++;
    }
    return 0;
}

/* Bindings of the address of record after this REGISTER: within the
 * limit, or nothing is changed. */
static int reg_check_limit(reg_req *q)
{
    tspsd_sip *s = q->s;
    int after = q->cur->n, limit = s->cfg.max_bindings_per_aor < MAX_BINDINGS
                                       ? s->cfg.max_bindings_per_aor
                                       : MAX_BINDINGS;
    for (int i = 0; i < q->nb; i++) {
        const tsps_registration *e = existing(q->cur, &q->rb[i].r);
        if (q->rb[i].expires == 0)
            after -= e != NULL;
        else
            after += e == NULL;
    }
    if (after > limit && after > q->cur->n) {
        char ip[64];
        sip_src_ip(q->src, ip, sizeof(ip));
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"register refused: too many bindings\" user=%s "
                "bindings=%d limit=%d src=%s",
                q->user_id, q->cur->n, limit, ip);
        sip_respond_simple(s, q->r, q->src, 403,
                           "Forbidden (too many bindings)", NULL);
        return -1;
    }
    return 0;
}

/* "Contact: *" with Expires: 0 removes every binding. */
static int reg_clear_all(reg_req *q)
{
    tspsd_sip *s = q->s;
    char cid[TSPS_URI_MAX];

    if (q->nb > 0 || q->hdr_expires != 0) {
        sip_respond_simple(s, q->r, q->src, 400, NULL, NULL);
        return -1;
    }
    copy_span(cid, sizeof(cid), q->r->call_id);
    for (int i = 0; i < q->cur->n; i++) {
        if (strcmp(q->cur->r[i].call_id, cid) == 0 &&
            (long)q->cur->r[i].cseq >= q->cseq) {
            sip_respond_simple(s, q->r, q->src, 500, NULL,
                               "Warning: 399 tspsd \"stale CSeq\"\r\n");
            return -1;
        }
    }
    int rc = tsps_registration_clear(s->eng, q->user_id);
    if (rc != TSPS_OK && rc != TSPS_ENOTFOUND) {
        sip_respond_simple(s, q->r, q->src, 500, NULL, NULL);
        return -1;
    }
    sip_log(s, TSPS_LOG_INFO, "msg=\"bindings removed\" user=%s n=%d",
            q->user_id, q->cur->n);
    return 0;
}

/* Store (or remove, expires 0) each binding of the request. */
static int reg_apply(reg_req *q)
{
    tspsd_sip *s = q->s;
    for (int i = 0; i < q->nb; i++) {
        req_binding *b = &q->rb[i];
        int rc;
        if (b->expires == 0) {
            rc = tsps_registration_remove(
                s->eng, q->user_id,
                b->r.instance[0] != '\0' ? b->r.instance : b->r.contact);
            if (rc == TSPS_ENOTFOUND)
                rc = TSPS_OK;
        } else {
            b->r.expires = q->now + b->expires;
            rc = tsps_registration_put(s->eng, q->user_id, &b->r);
        }
        if (rc != TSPS_OK) {
            sip_log(s, TSPS_LOG_ERROR, "msg=\"binding not saved\" err=%s",
                    tsps_errname(rc));
            sip_respond_simple(s, q->r, q->src, 500, NULL, NULL);
            return -1;
        }
        sip_log(s, TSPS_LOG_INFO,
                "msg=\"binding %s\" user=%s contact=\"%s\" expires=%ld",
                b->expires == 0 ? "removed" : "saved", q->user_id, b->r.contact,
                b->expires);
    }
    return 0;
}

void sip_register(tspsd_sip *s, void *msg, const sip_raw *r, const sip_src *src)
{
    reg_req q;

    sip_burst_end(s); /* the 200 lists the bindings just written */
    memset(&q, 0, sizeof(q));
    q.s = s;
    q.m = msg;
    q.r = r;
    q.src = src;
    q.now = (int64_t)time(NULL);
    q.cseq = sip_raw_cseq_num(r);
    q.hdr_expires = -1;
    if (reg_identify(&q) != 0)
        return;
    int nc = osip_list_size(&q.m->contacts);
    if (nc > MAX_BINDINGS) {
        sip_respond_simple(s, r, src, 400, NULL, NULL);
        return;
    }
    q.rb = calloc((size_t)(nc > 0 ? nc : 1), sizeof(*q.rb));
    q.cur = calloc(1, sizeof(*q.cur));
    if (q.rb == NULL || q.cur == NULL) {
        sip_respond_simple(s, r, src, 500, NULL, NULL);
        goto done;
    }
    tsps_registration_list(s->eng, q.user_id, q.now, collect, q.cur);
    if (reg_read_contacts(&q, nc) != 0)
        goto done;
    if (!q.star && reg_check_limit(&q) != 0)
        goto done;
    if (q.star && reg_clear_all(&q) != 0)
        goto done;
    if (reg_apply(&q) != 0)
        goto done;
    ok_response(s, r, src, q.user_id, q.now);
done:
    free(q.rb);
    free(q.cur);
}

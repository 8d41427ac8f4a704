/*
 * h_calls.c - handlers for routing (dry run or live), explain, history,
 * live (pending) calls, acting on a pending call, event subscriptions.
 */
#include "handlers.h"
#include "log.h"

#include <ctype.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int push_call(tspsd_asker *c, Tsps__Response *resp, Tsps__Decision *m)
{
    if (m == NULL || tspsd_arena_push(&c->arena, (void ***)&resp->calls,
                                      &resp->n_calls, m) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_route)
{
    const Tsps__Route *r = req->route;
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision dec;
    uint64_t t0, id = 0;
    int rc;

    if (r->to == NULL || r->to[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "called number (to) required");
    call.called = r->to;
    call.caller = r->from;
    call.caller_name = r->caller_name[0] ? r->caller_name : NULL;
    call.now = r->at;
    t0 = now_us();
    rc = tsps_route(c->d->eng, &call, &dec);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "route: %s",
                           tsps_strerror(rc));
    tspsd_metrics_route(c->d, &dec, now_us() - t0);
    /* the trace says when the rules may be older than the cluster's */
    char nw[48], nt[TSPS_DETAIL_MAX];
    if (c->d->route_note != NULL &&
        c->d->route_note(c->d, nw, sizeof(nw), nt, sizeof(nt)))
        tsps_decision_note(&dec, nw, nt);
    /* Who may see the decision: the called user and their monitors; an
     * unprovisioned number reveals nothing, so admins only. */
    TSPSD_AUTHZ(c, resp, r->live ? "route.live" : "route", dec.user,
                r->live ? TSPSD_RIGHT_ADMIN : TSPSD_RIGHT_MONITOR, dec.code);
    if (r->live) {
        tsps_outcome oc = dec.method.kind == TSPS_METHOD_ASK
                              ? TSPS_OUTCOME_PENDING
                              : TSPS_OUTCOME_ROUTED;
        rc = tsps_history_append(c->d->eng, &dec, oc, &id);
        if (rc != TSPS_OK)
            return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "history: %s",
                               tsps_strerror(rc));
        tspsd_front_call(tspsd_front_live(c->d), TSPSD_CALL_OFFERED, id, &dec,
                         oc);
    }
    Tsps__Decision *m = tspsd_decision_msg(&c->arena, &dec, id, !r->brief);
    if (m != NULL && r->live)
        m->outcome =
            (char *)(dec.method.kind == TSPS_METHOD_ASK ? "pending" : "routed");
    return push_call(c, resp, m);
}

/* Authorise a request on one call. Someone who may not even see the call
 * gets exactly the answer for a call that does not exist ("no call N"):
 * "no delegation from ann" would tell a stranger that the call exists and
 * whose it is. Someone who sees it but lacks the right gets the reason.
 * The audit line keeps the real reason for the operator. */
static int call_refused(tspsd_asker *c, Tsps__Response *resp,
                        const char *reqname, const char *user, int right,
                        const char *code, const char *notfound_fmt, uint64_t id)
{
    char why[160], why2[160];
    if (tspsd_authz(c, user, right, code, why, sizeof(why)))
        return 0;
    tspsd_refuse(c, resp, reqname, user, TSPS__CODE__DENIED, why);
    if (right == TSPSD_RIGHT_MONITOR ||
        !tspsd_authz(c, user, TSPSD_RIGHT_MONITOR, code, why2, sizeof(why2)))
        tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND, notfound_fmt,
                    (unsigned long long)id);
    return 1;
}

#define CALL_AUTHZ(c, resp, reqname, user, right, ccode, nf_fmt, id)           \
    do {                                                                       \
        if (call_refused((c), (resp), (reqname), (user), (right), (ccode),     \
                         (nf_fmt), (id)))                                      \
            return (int)(resp)->code;                                          \
    } while (0)

TSPSD_HANDLER(tspsd_h_explain)
{
    tsps_call_record rec;
    int rc = tsps_history_get(c->d->eng, req->explain->call_id, &rec);
    if (rc == TSPS_ENOTFOUND) {
        /* Same answer whether the call exists for someone else or not at
         * all would hide it from non-admins; a not-found is no leak. */
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND, "no call %llu",
                           (unsigned long long)req->explain->call_id);
    }
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "%s",
                           tsps_strerror(rc));
    CALL_AUTHZ(c, resp, "explain", rec.decision.user, TSPSD_RIGHT_MONITOR,
               rec.decision.code, "no call %llu", req->explain->call_id);
    return push_call(c, resp, tspsd_record_msg(&c->arena, &rec));
}

/* The call log's outcome words (History.outcome), one per call: what the
 * log page shows ("missed" covers the caller hanging up and nobody
 * acting; a call that was only routed is named after what tsps did). */
enum {
    LOG_HELD,
    LOG_MISSED,
    LOG_ANSWERED,
    LOG_RANG,
    LOG_FORWARDED,
    LOG_VOICEMAIL,
    LOG_ATTENDANT,
    LOG_IVR,
    LOG_REJECTED,
    LOG_FAILED,
    LOG_ROUTED,
    LOG__COUNT
};

static const char *const log_words[LOG__COUNT] = {
    "held",      "missed", "answered", "rang",   "forwarded", "voicemail",
    "attendant", "ivr",    "rejected", "failed", "routed"};

static int log_outcome(const tsps_call_record *r)
{
    switch (r->outcome) {
    case TSPS_OUTCOME_PENDING:
        return LOG_HELD;
    case TSPS_OUTCOME_MISSED:
    case TSPS_OUTCOME_TIMEOUT:
        return LOG_MISSED;
    case TSPS_OUTCOME_ANSWERED:
        return LOG_ANSWERED;
    case TSPS_OUTCOME_REJECTED:
        return LOG_REJECTED;
    case TSPS_OUTCOME_FAILED:
        return LOG_FAILED;
    default:
        break;
    }
    switch (r->decision.method.kind) {
    case TSPS_METHOD_RING:
        return LOG_RANG;
    case TSPS_METHOD_FORWARD:
        return LOG_FORWARDED;
    case TSPS_METHOD_VOICEMAIL:
        return LOG_VOICEMAIL;
    case TSPS_METHOD_ATTENDANT:
        return LOG_ATTENDANT;
    case TSPS_METHOD_IVR:
        return LOG_IVR;
    case TSPS_METHOD_REJECT:
        return LOG_REJECTED;
    default:
        return LOG_ROUTED;
    }
}

/* "missed,voicemail" -> a bit per word; 0 and a message for a bad word. */
static unsigned parse_outcomes(const char *s, char *err, size_t errlen)
{
    unsigned mask = 0;
    while (*s != '\0') {
        const char *e = strchr(s, ',');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        int k = -1;
        while (n > 0 && *s == ' ')
            s++, n--;
        while (n > 0 && s[n - 1] == ' ')
            n--;
        for (int i = 0; i < LOG__COUNT && n > 0; i++)
            if (strlen(log_words[i]) == n &&
                strncasecmp(s, log_words[i], n) == 0)
                k = i;
        if (k < 0 && n == 7 && strncasecmp(s, "pending", 7) == 0)
            k = LOG_HELD;
        if (k < 0) {
            snprintf(err, errlen,
                     "outcome: unknown word \"%.*s\" (one of held, missed, "
                     "answered, rang, forwarded, voicemail, attendant, ivr, "
                     "rejected, failed, routed; comma-separated)",
                     (int)(n < 40 ? n : 40), s);
            return 0;
        }
        mask |= 1u << k;
        if (e == NULL)
            break;
        s = e + 1;
        if (*s == '\0') {
            snprintf(err, errlen, "outcome: empty word after a comma");
            return 0;
        }
    }
    return mask;
}

typedef struct hist_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    size_t n;            /* calls in the reply */
    int failed;          /* out of memory: resp says so */
    const char *caller;  /* "" = every caller */
    unsigned outcomes;   /* bit per LOG_*; 0 = any */
    const char *contact; /* contact uid, "" = any */
    const char *code;    /* "" = any */
    char text[128];      /* lower case, "" = any */
    char digits[64];     /* text without separators, "" = not a number */
    int64_t cur_start;   /* cursor: only calls before (cur_start, cur_id) */
    uint64_t cur_id;     /* 0 = no cursor */
    /* A cursor across nodes (start, node, id): this node's name against
     * the cursor's, <0, 0 or >0 (0 also for a cursor of this node). */
    int cur_node_cmp;
    const char *cur_node;       /* the cursor's node ("" = this one) */
    const Tsps__Delegation *dl; /* attendant's delegation, NULL = all */
    size_t want;                /* stop after this many matches */
} hist_ctx;

/* Does number `a` equal `b` ignoring spaces, dashes, dots, parentheses? */
static int same_number(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ' || *a == '-' || *a == '.' || *a == '(' || *a == ')')
            a++;
        while (*b == ' ' || *b == '-' || *b == '.' || *b == '(' || *b == ')')
            b++;
        if (*a != *b)
            return 0;
        if (*a == '\0')
            return 1;
        a++;
        b++;
    }
}

/* Is lower-case `needle` in `hay`, ASCII letters in any case? */
static int has_text(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        size_t i = 0;
        while (i < n && hay[i] != '\0' &&
               tolower((unsigned char)hay[i]) == (unsigned char)needle[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static int hist_match(const hist_ctx *h, const tsps_call_record *r)
{
    const tsps_decision *d = &r->decision;
    /* Newest first by (start, node, id): keep what sorts below the cursor. */
    if (h->cur_id != 0 && (r->start > h->cur_start ||
                           (r->start == h->cur_start &&
                            (h->cur_node_cmp > 0 ||
                             (h->cur_node_cmp == 0 && r->id >= h->cur_id)))))
        return 0;
    if (h->caller[0] != '\0' && !same_number(d->caller, h->caller))
        return 0;
    if (h->outcomes != 0 && !(h->outcomes & (1u << log_outcome(r))))
        return 0;
    if (h->contact[0] != '\0' && strcmp(d->contact_uid, h->contact) != 0)
        return 0;
    if (h->code[0] != '\0' && strcasecmp(d->code, h->code) != 0)
        return 0;
    if (h->text[0] != '\0' && !has_text(d->caller_name, h->text) &&
        !(h->digits[0] != '\0' && strstr(d->caller, h->digits) != NULL))
        return 0;
    /* Attendants with a code filter see only those calls (and their
     * page is full of calls they may see). */
    if (h->dl != NULL &&
        !tspsd_deleg_allows(h->dl, TSPSD_RIGHT_MONITOR, d->code))
        return 0;
    return 1;
}

/* A match goes into the reply at once (a message is a few KiB; the
 * record it comes from is 13 KiB). */
static int hist_cb(void *arg, const tsps_call_record *r)
{
    hist_ctx *h = arg;
    if (!hist_match(h, r))
        return 0;
    if (h->n >= h->want)
        return 1;
    Tsps__Decision *m = tspsd_record_msg(&h->c->arena, r);
    if (m != NULL && h->c->d->node_name != NULL)
        m->node = (char *)h->c->d->node_name;
    if (push_call(h->c, h->resp, m) != TSPS__CODE__OK) {
        h->failed = 1;
        return 1;
    }
    h->n++;
    return 0;
}

/* Most calls in one reply; a larger limit is cut to this. */
#define HISTORY_LIMIT_MAX 1000

/* Check and copy the request's filters into h; an error reply or OK. */
static int hist_filters(tspsd_asker *c, Tsps__Response *resp,
                        const Tsps__History *r, hist_ctx *h)
{
    char err[300], code[TSPS_CODE_MAX];
    const char *s;
    size_t n = 0;

    if (r->outcome != NULL && r->outcome[0] != '\0') {
        h->outcomes = parse_outcomes(r->outcome, err, sizeof(err));
        if (h->outcomes == 0)
            return tspsd_reply(c, resp, TSPS__CODE__INVALID, "%s", err);
    }
    if (strlen(h->contact) >= TSPS_UID_MAX)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "contact: a contact uid is at most %d bytes",
                           TSPS_UID_MAX - 1);
    if (strlen(h->code) >= sizeof(code))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "code: at most %d characters", TSPS_CODE_MAX - 1);
    for (s = h->code; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                               "code: \"%s\" is not a code (letters, digits, "
                               "_ and - only)",
                               h->code);
    s = r->text != NULL ? r->text : "";
    if (strlen(s) >= sizeof(h->text))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "text: at most %zu bytes", sizeof(h->text) - 1);
    for (size_t i = 0; s[i] != '\0'; i++)
        h->text[i] = (char)tolower((unsigned char)s[i]);
    /* A text of digits (with +, spaces, dashes...) also finds numbers. */
    for (; *s != '\0' && n + 1 < sizeof(h->digits); s++) {
        if (isdigit((unsigned char)*s) || (*s == '+' && n == 0))
            h->digits[n++] = *s;
        else if (*s != ' ' && *s != '-' && *s != '.' && *s != '(' &&
                 *s != ')') {
            n = 0;
            break;
        }
    }
    h->digits[n] = '\0';
    if (r->from < 0 || r->to < 0 || (r->to != 0 && r->to <= r->from))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "from/to: need 0 <= from < to (to 0 = no end)");
    return TSPS__CODE__OK;
}

/* The cursor: the last call of the previous page. Paging by (start, id)
 * from there is stable while new calls arrive. Narrows *to. */
static int hist_cursor(tspsd_asker *c, Tsps__Response *resp,
                       const Tsps__History *r, hist_ctx *h, int64_t *to)
{
    tsps_call_record *cur = tspsd_arena_alloc(&c->arena, sizeof(*cur));
    int rc;
    if (cur == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    rc = tsps_history_get(c->d->eng, r->before_id, cur);
    /* Another user's call, or one an attendant may not see, is no call
     * at all for this request. */
    if (rc == TSPS_OK &&
        (strcmp(cur->decision.user, r->user) != 0 ||
         (h->dl != NULL &&
          !tspsd_deleg_allows(h->dl, TSPSD_RIGHT_MONITOR, cur->decision.code))))
        rc = TSPS_ENOTFOUND;
    if (rc == TSPS_ENOTFOUND)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "before_id: no call %llu of %s",
                           (unsigned long long)r->before_id, r->user);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "history: %s",
                           tsps_strerror(rc));
    h->cur_start = cur->start;
    h->cur_id = r->before_id;
    if (cur->start < INT64_MAX && cur->start + 1 < *to)
        *to = cur->start + 1;
    return TSPS__CODE__OK;
}

/* A cursor of another node (before_node): no lookup, the client gave the
 * whole sort key. Narrows *to. */
static int hist_node_cursor(tspsd_asker *c, Tsps__Response *resp,
                            const Tsps__History *r, hist_ctx *h, int64_t *to)
{
    const char *me = c->d->node_name != NULL ? c->d->node_name : "";
    if (r->before_id == 0)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "before_node needs before_id (and before_start)");
    h->cur_start = r->before_start;
    h->cur_id = r->before_id;
    h->cur_node = r->before_node;
    h->cur_node_cmp = strcmp(me, r->before_node);
    if (r->before_start < INT64_MAX && r->before_start + 1 < *to)
        *to = r->before_start + 1;
    return TSPS__CODE__OK;
}

static int history_run(tspsd_asker *c, const Tsps__Request *req,
                       Tsps__Response *resp);

TSPSD_HANDLER(tspsd_h_history)
{
    const Tsps__History *r = req->history;
    if (r->for_identity[0] == '\0')
        return history_run(c, req, resp);
    /* A cluster peer asks for the identity it authenticated: that
     * identity's rights (users and delegations are replicated) apply. */
    if (!c->peer)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "for_identity: for cluster peers only");
    char ident[TSPSD_IDENT_MAX];
    int admin = c->admin, role = c->role, via = c->via_token;
    snprintf(ident, sizeof(ident), "%s", c->identity);
    tspsd_asker_set(c, r->for_identity, r->for_admin, 1);
    c->peer = 1;
    int rc = history_run(c, req, resp);
    snprintf(c->identity, sizeof(c->identity), "%s", ident);
    c->admin = admin;
    c->role = role;
    c->via_token = via;
    return rc;
}

static int history_run(tspsd_asker *c, const Tsps__Request *req,
                       Tsps__Response *resp)
{
    const Tsps__History *r = req->history;
    hist_ctx h;
    Tsps__Delegation *dl = NULL;
    int64_t to;
    int rc;

    memset(&h, 0, sizeof(h));
    h.c = c;
    h.resp = resp;
    h.caller = r->caller != NULL ? r->caller : "";
    h.contact = r->contact != NULL ? r->contact : "";
    h.code = r->code != NULL ? r->code : "";
    if (r->user[0] == '\0')
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "user required");
    /* A peer passes the delegation it authorised an attendant with: this
     * node may be one the user moved away from (it keeps her calls, not
     * her delegations). */
    const Tsps__Delegation *peer_dl = c->peer && !c->admin &&
                                              r->for_delegation != NULL &&
                                              strcmp(c->identity, r->user) != 0
                                          ? r->for_delegation
                                          : NULL;
    if (peer_dl != NULL) {
        if (strcmp(peer_dl->user, r->user) != 0 ||
            strcmp(peer_dl->attendant, c->identity) != 0 ||
            !tspsd_deleg_allows(peer_dl, TSPSD_RIGHT_MONITOR, NULL))
            return tspsd_refuse(c, resp, "history", r->user, TSPS__CODE__DENIED,
                                "the peer's delegation does not cover this");
    } else
        TSPSD_AUTHZ(c, resp, "history", r->user, TSPSD_RIGHT_MONITOR, NULL);
    if (hist_filters(c, resp, r, &h) != TSPS__CODE__OK)
        return resp->code;
    h.want = r->limit != 0 ? r->limit : 100;
    if (h.want > HISTORY_LIMIT_MAX)
        h.want = HISTORY_LIMIT_MAX;
    to = r->to != 0 ? r->to : INT64_MAX;
    /* An attendant's delegation, read once: its code filter applies to
     * every call of the scan. */
    if (peer_dl != NULL)
        h.dl = peer_dl;
    else if (!c->admin && strcmp(c->identity, r->user) != 0) {
        if (tspsd_delegation_get(c->d, r->user, c->identity, &dl) != TSPS_OK)
            return tspsd_reply(c, resp, TSPS__CODE__DENIED,
                               "no delegation from %s", r->user);
        h.dl = dl;
    }
    rc = TSPS_OK;
    h.cur_node = "";
    if (r->before_node[0] != '\0' &&
        hist_node_cursor(c, resp, r, &h, &to) != TSPS__CODE__OK)
        h.failed = 1; /* resp says why */
    else if (r->before_node[0] == '\0' && r->before_id != 0 &&
             hist_cursor(c, resp, r, &h, &to) != TSPS__CODE__OK)
        h.failed = 1;
    /* Every filter is applied in hist_cb over the whole window, so the
     * engine's limit cannot apply: hist_cb stops the scan at `want`. */
    else if (to > r->from)
        rc =
            tsps_history_query(c->d->eng, r->user, r->from, to, 0, hist_cb, &h);
    int code = TSPS__CODE__OK;
    if (h.failed)
        code = resp->code;
    else if (rc != TSPS_OK)
        code = tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "history: %s",
                           tsps_strerror(rc));
    /* The other nodes of the user's shard (cluster): their calls too. */
    else if (!r->local && c->d->history_merge != NULL)
        c->d->history_merge(c, r, h.dl, resp, h.want, h.cur_start,
                            h.cur_node[0] != '\0'     ? h.cur_node
                            : c->d->node_name != NULL ? c->d->node_name
                                                      : "",
                            h.cur_id);
    if (dl != NULL) /* after the merge: h.dl went to the peers */
        tsps__delegation__free_unpacked(dl, NULL);
    return code;
}

typedef struct live_ctx {
    tspsd_asker *c;
    Tsps__Response *resp;
    const char *user;
} live_ctx;

static int live_cb(void *arg, uint64_t id, const tsps_decision *dec,
                   int64_t since)
{
    live_ctx *lc = arg;
    char why[160];
    if (lc->user[0] != '\0' && strcmp(lc->user, dec->user) != 0)
        return 0;
    if (!tspsd_authz(lc->c, dec->user, TSPSD_RIGHT_MONITOR, dec->code, why,
                     sizeof(why)))
        return 0;
    Tsps__Decision *m = tspsd_decision_msg(&lc->c->arena, dec, id, 0);
    if (m == NULL)
        return 1;
    m->outcome = (char *)"pending";
    m->start = since;
    return push_call(lc->c, lc->resp, m) != TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_calls_live)
{
    const char *user = req->calls_live->user;
    live_ctx lc = {c, resp, user};
    if (user[0] != '\0')
        TSPSD_AUTHZ(c, resp, "calls.live", user, TSPSD_RIGHT_MONITOR, NULL);
    tspsd_pending_each(c->d, live_cb, &lc);
    return resp->code;
}

/* "take desk" -> "ring devices=desk"; other words are method text. */
static int action_method(const char *action, tsps_method *m, char *err,
                         size_t errlen)
{
    char spec[300];
    if (strncmp(action, "take ", 5) == 0)
        snprintf(spec, sizeof(spec), "ring devices=%s", action + 5);
    else if (strcmp(action, "take") == 0)
        snprintf(spec, sizeof(spec), "ring");
    else
        snprintf(spec, sizeof(spec), "%s", action);
    int rc = tsps_method_parse(spec, m, err, errlen);
    if (rc == TSPS_OK && m->kind == TSPS_METHOD_ASK) {
        snprintf(err, errlen, "a held call cannot be asked again");
        return TSPS_EINVAL;
    }
    return rc;
}

TSPSD_HANDLER(tspsd_h_call_act)
{
    const Tsps__CallAct *r = req->call_act;
    const tsps_decision *cur = tspsd_pending_get(c->d, r->call_id);
    tsps_method m;
    tsps_decision out;
    char err[200] = "";
    int rc;

    if (cur == NULL) {
        tsps_call_record rec;
        /* Tell the user-visible difference: over, or never existed. */
        if (tsps_history_get(c->d->eng, r->call_id, &rec) == TSPS_OK) {
            CALL_AUTHZ(c, resp, "call.act", rec.decision.user, TSPSD_RIGHT_ACT,
                       rec.decision.code, "no pending call %llu", r->call_id);
            return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                               "call %llu is no longer pending (%s)",
                               (unsigned long long)r->call_id,
                               tsps_outcome_name(rec.outcome));
        }
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "no pending call %llu",
                           (unsigned long long)r->call_id);
    }
    CALL_AUTHZ(c, resp, "call.act", cur->user, TSPSD_RIGHT_ACT, cur->code,
               "no pending call %llu", r->call_id);
    rc = action_method(r->action, &m, err, sizeof(err));
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "action: %s",
                           err[0] ? err : tsps_strerror(rc));
    rc = tsps_history_override(c->d->eng, r->call_id, &m, c->identity,
                               (int64_t)time(NULL), &out);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "override: %s",
                           tsps_strerror(rc));
    rc = tspsd_pending_resolve(c->d, r->call_id, &out);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "call %llu: %s",
                           (unsigned long long)r->call_id,
                           rc == TSPS_ENOTFOUND ? "no longer held"
                                                : tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, r->call_id, out.user, "call overridden",
              "by=%s method=%s", c->identity,
              tsps_method_kind_name(out.method.kind));
    return push_call(c, resp,
                     tspsd_decision_msg(&c->arena, &out, r->call_id, 1));
}

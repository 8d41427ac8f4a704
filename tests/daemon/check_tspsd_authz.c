/*
 * check_tspsd_authz.c - the authorisation matrix: every request kind x
 * (anonymous, the user, another user, an attendant with the right, an
 * attendant without it, admin) against a real tspsd, asserting allowed or
 * refused (and, for refusals, the code and an audit log line); and
 * revocation: revoked tokens, deleted users, withdrawn delegations and
 * admin roles end the access already granted (control connections, web
 * sessions and event streams), and idle web sessions end.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char out[8192];

enum { ANON = 1, ANN = 2, BOB = 4, ATT = 8, ATTNO = 16, ADMIN = 32 };
#define ALL_AUTH (ANN | BOB | ATT | ATTNO | ADMIN)
#define OWN      (ANN | ADMIN)
#define MON      (ANN | ATT | ADMIN)

static const struct {
    const char *name;
    int who;
} ids[] = {{NULL, ANON}, {"ann", ANN},     {"bob", BOB},
           {"att", ATT}, {"attno", ATTNO}, {"admin", ADMIN}};

typedef struct bodies {
    Tsps__User user;
    Tsps__UserPut user_put;
    Tsps__UserGet user_get;
    Tsps__UserList user_list;
    Tsps__UserDelete user_delete;
    Tsps__NumberAdd number_add;
    Tsps__NumberRemove number_remove;
    Tsps__Rule rule;
    Tsps__CodeSet code_set;
    Tsps__CodeDelete code_delete;
    Tsps__CodeList code_list;
    Tsps__StatusSet status_set;
    Tsps__StatusGet status_get;
    Tsps__ContactList contact_list;
    Tsps__ContactSetCode contact_set_code;
    Tsps__Source source;
    Tsps__SourceAdd source_add;
    Tsps__SourceRemove source_remove;
    Tsps__SourceList source_list;
    Tsps__SourceSync source_sync;
    Tsps__Route route;
    Tsps__Explain explain;
    Tsps__History history;
    Tsps__CallsLive calls_live;
    Tsps__CallAct call_act;
    Tsps__Delegation delegation;
    Tsps__Delegate delegate;
    Tsps__DelegationList delegation_list;
    Tsps__TokenIssue token_issue;
    Tsps__DeviceAdd device_add;
    Tsps__DeviceRemove device_remove;
    Tsps__Subscribe subscribe;
    Tsps__TokenRevoke token_revoke;
    Tsps__RelatedGet related;
    Tsps__ContactCreate contact_create;
    Tsps__VoicemailList voicemail_list;
    Tsps__VoicemailGet voicemail_get;
    Tsps__VoicemailAct voicemail_act;
    Tsps__IvrGet ivr_get;
    Tsps__IvrPut ivr_put;
} bodies;

#define SET(KIND, field, type, init)                                           \
    do {                                                                       \
        type tmp_ = init;                                                      \
        b->field = tmp_;                                                       \
        req->body_case = TSPS__REQUEST__BODY_##KIND;                           \
        req->field = &b->field;                                                \
    } while (0)

/* The matrix: request i -> who may do it. */
static const struct {
    const char *name;
    int allowed;
} rows[] = {
    {"user.put", ADMIN},
    {"user.get", MON},
    {"user.list", ALL_AUTH},
    {"user.delete", ADMIN},
    {"number.add", ADMIN},
    {"number.remove", ADMIN},
    {"code.set", OWN},
    {"code.delete", OWN},
    {"code.list", MON},
    {"status.set", MON},
    {"status.get", MON},
    {"contact.list", MON},
    {"contact.code", OWN},
    {"source.add", ADMIN},
    {"source.remove", ADMIN},
    {"source.list", ALL_AUTH},
    {"source.sync", ADMIN},
    {"route", MON},
    {"route.live", ADMIN},
    {"explain", MON},
    {"history", MON},
    {"calls.live", MON},
    {"call.act", MON},
    {"delegate", OWN},
    {"delegation.list", ALL_AUTH},
    {"token.issue", ADMIN},
    {"device.add", OWN},
    {"device.remove", OWN},
    {"subscribe", MON},
    {"token.revoke", ADMIN},
    /* E-mails are private: att (monitor + act) may not see them. */
    {"related", OWN},
    {"contact.create", MON},
    /* Voicemail is private like e-mails: the related right, which att
     * (monitor + act) lacks. (No media front here: those allowed get an
     * empty list, or NOT_FOUND, after the check.) */
    {"voicemail.list", OWN},
    {"voicemail.get", OWN},
    {"voicemail.act", OWN},
    /* IVR menus are the user's settings: read as monitor, write as owner. */
    {"ivr.get", MON},
    {"ivr.put", OWN},
};
#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

static void build(int i, Tsps__Request *req, bodies *b)
{
    tsps__request__init(req);
    switch (i) {
    case 0:
        SET(USER_PUT, user_put, Tsps__UserPut, TSPS__USER_PUT__INIT);
        tsps__user__init(&b->user);
        b->user.id = (char *)"zed";
        b->user.region = (char *)"US";
        b->user_put.user = &b->user;
        break;
    case 1:
        SET(USER_GET, user_get, Tsps__UserGet, TSPS__USER_GET__INIT);
        b->user_get.id = (char *)"ann";
        break;
    case 2:
        SET(USER_LIST, user_list, Tsps__UserList, TSPS__USER_LIST__INIT);
        break;
    case 3:
        SET(USER_DELETE, user_delete, Tsps__UserDelete,
            TSPS__USER_DELETE__INIT);
        b->user_delete.id = (char *)"nobody-here";
        break;
    case 4:
        SET(NUMBER_ADD, number_add, Tsps__NumberAdd, TSPS__NUMBER_ADD__INIT);
        b->number_add.user = (char *)"ann";
        b->number_add.number = (char *)"+12125550177";
        break;
    case 5:
        SET(NUMBER_REMOVE, number_remove, Tsps__NumberRemove,
            TSPS__NUMBER_REMOVE__INIT);
        b->number_remove.user = (char *)"ann";
        b->number_remove.number = (char *)"+12125550188";
        break;
    case 6:
        SET(CODE_SET, code_set, Tsps__CodeSet, TSPS__CODE_SET__INIT);
        tsps__rule__init(&b->rule);
        b->rule.user = (char *)"ann";
        b->rule.code = (char *)"VIP";
        b->rule.method = (char *)"ring";
        b->code_set.rule = &b->rule;
        break;
    case 7:
        SET(CODE_DELETE, code_delete, Tsps__CodeDelete,
            TSPS__CODE_DELETE__INIT);
        tsps__rule__init(&b->rule);
        b->rule.user = (char *)"ann";
        b->rule.code = (char *)"NOPE";
        b->code_delete.rule = &b->rule;
        break;
    case 8:
        SET(CODE_LIST, code_list, Tsps__CodeList, TSPS__CODE_LIST__INIT);
        b->code_list.user = (char *)"ann";
        break;
    case 9:
        SET(STATUS_SET, status_set, Tsps__StatusSet, TSPS__STATUS_SET__INIT);
        b->status_set.user = (char *)"ann";
        b->status_set.status = (char *)"available";
        break;
    case 10:
        SET(STATUS_GET, status_get, Tsps__StatusGet, TSPS__STATUS_GET__INIT);
        b->status_get.user = (char *)"ann";
        break;
    case 11:
        SET(CONTACT_LIST, contact_list, Tsps__ContactList,
            TSPS__CONTACT_LIST__INIT);
        b->contact_list.user = (char *)"ann";
        break;
    case 12:
        SET(CONTACT_SET_CODE, contact_set_code, Tsps__ContactSetCode,
            TSPS__CONTACT_SET_CODE__INIT);
        b->contact_set_code.user = (char *)"ann";
        b->contact_set_code.uid = (char *)"no-such-uid";
        b->contact_set_code.code = (char *)"VIP";
        break;
    case 13:
        SET(SOURCE_ADD, source_add, Tsps__SourceAdd, TSPS__SOURCE_ADD__INIT);
        tsps__source__init(&b->source);
        b->source.name = (char *)"annbook";
        b->source.uri = (char *)"vcard-dir:/nonexistent";
        b->source.user = (char *)"ann";
        b->source_add.source = &b->source;
        break;
    case 14:
        SET(SOURCE_REMOVE, source_remove, Tsps__SourceRemove,
            TSPS__SOURCE_REMOVE__INIT);
        b->source_remove.name = (char *)"nosuch";
        break;
    case 15:
        SET(SOURCE_LIST, source_list, Tsps__SourceList,
            TSPS__SOURCE_LIST__INIT);
        break;
    case 16:
        SET(SOURCE_SYNC, source_sync, Tsps__SourceSync,
            TSPS__SOURCE_SYNC__INIT);
        b->source_sync.name = (char *)"nosuch";
        break;
    case 17:
    case 18:
        SET(ROUTE, route, Tsps__Route, TSPS__ROUTE__INIT);
        b->route.from = (char *)"+13125550002";
        b->route.to = (char *)ANN_NUMBER;
        b->route.live = i == 18;
        break;
    case 19:
        SET(EXPLAIN, explain, Tsps__Explain, TSPS__EXPLAIN__INIT);
        b->explain.call_id = fx_past_call;
        break;
    case 20:
        SET(HISTORY, history, Tsps__History, TSPS__HISTORY__INIT);
        b->history.user = (char *)"ann";
        break;
    case 21:
        SET(CALLS_LIVE, calls_live, Tsps__CallsLive, TSPS__CALLS_LIVE__INIT);
        b->calls_live.user = (char *)"ann";
        break;
    case 22:
        /* "ask" is refused as an action after authorisation: allowed
         * callers get INVALID, and the call stays pending for the rest. */
        SET(CALL_ACT, call_act, Tsps__CallAct, TSPS__CALL_ACT__INIT);
        b->call_act.call_id = fx_pending_call;
        b->call_act.action = (char *)"ask";
        break;
    case 23:
        SET(DELEGATE, delegate, Tsps__Delegate, TSPS__DELEGATE__INIT);
        tsps__delegation__init(&b->delegation);
        b->delegation.user = (char *)"ann";
        b->delegation.attendant = (char *)"carol";
        b->delegation.monitor = 1;
        b->delegate.delegation = &b->delegation;
        break;
    case 24:
        SET(DELEGATION_LIST, delegation_list, Tsps__DelegationList,
            TSPS__DELEGATION_LIST__INIT);
        break;
    case 25:
        SET(TOKEN_ISSUE, token_issue, Tsps__TokenIssue,
            TSPS__TOKEN_ISSUE__INIT);
        b->token_issue.identity = (char *)"ann";
        break;
    case 26:
        SET(DEVICE_ADD, device_add, Tsps__DeviceAdd, TSPS__DEVICE_ADD__INIT);
        b->device_add.user = (char *)"ann";
        b->device_add.username = (char *)"ann-desk";
        b->device_add.label = (char *)"desk";
        b->device_add.password = (char *)"s3cret-pw";
        break;
    case 27:
        SET(DEVICE_REMOVE, device_remove, Tsps__DeviceRemove,
            TSPS__DEVICE_REMOVE__INIT);
        b->device_remove.user = (char *)"ann";
        b->device_remove.username = (char *)"ann-desk";
        break;
    case 28:
        SET(SUBSCRIBE, subscribe, Tsps__Subscribe, TSPS__SUBSCRIBE__INIT);
        b->subscribe.user = (char *)"ann";
        break;
    case 29:
        SET(TOKEN_REVOKE, token_revoke, Tsps__TokenRevoke,
            TSPS__TOKEN_REVOKE__INIT);
        b->token_revoke.identity = (char *)"nobody-has-tokens";
        break;
    case 30:
        SET(RELATED, related, Tsps__RelatedGet, TSPS__RELATED_GET__INIT);
        b->related.user = (char *)"ann";
        b->related.caller = (char *)"+13125550001";
        break;
    case 31: /* allowed: "no source"; nothing is written */
        SET(CONTACT_CREATE, contact_create, Tsps__ContactCreate,
            TSPS__CONTACT_CREATE__INIT);
        b->contact_create.user = (char *)"ann";
        b->contact_create.source = (char *)"nosuch";
        b->contact_create.number = (char *)"+12125550177";
        break;
    case 32:
        SET(VOICEMAIL_LIST, voicemail_list, Tsps__VoicemailList,
            TSPS__VOICEMAIL_LIST__INIT);
        b->voicemail_list.user = (char *)"ann";
        break;
    case 33:
        SET(VOICEMAIL_GET, voicemail_get, Tsps__VoicemailGet,
            TSPS__VOICEMAIL_GET__INIT);
        b->voicemail_get.user = (char *)"ann";
        b->voicemail_get.id = (char *)"m1";
        break;
    case 34:
        SET(VOICEMAIL_ACT, voicemail_act, Tsps__VoicemailAct,
            TSPS__VOICEMAIL_ACT__INIT);
        b->voicemail_act.user = (char *)"ann";
        b->voicemail_act.id = (char *)"m1";
        b->voicemail_act.action = (char *)"delete";
        break;
    case 35: /* allowed: "media front off" here */
        SET(IVR_GET, ivr_get, Tsps__IvrGet, TSPS__IVR_GET__INIT);
        b->ivr_get.user = (char *)"ann";
        break;
    case 36:
        SET(IVR_PUT, ivr_put, Tsps__IvrPut, TSPS__IVR_PUT__INIT);
        b->ivr_put.user = (char *)"ann";
        b->ivr_put.text = (char *)"menu main\nprompt text Hello\n";
        break;
    default:
        ck_abort_msg("no request %d", i);
    }
}

START_TEST(test_authz_matrix)
{
    const int row = _i;
    char audit[128];

    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        Tsps__Request req;
        bodies b;
        tspsd_client *c = th_connect(&fx, ids[k].name, NULL);
        build(row, &req, &b);
        int code = th_call(c, &req, NULL);
        int want = (rows[row].allowed & ids[k].who) != 0;
        const char *who = ids[k].name != NULL ? ids[k].name : "anonymous";
        ck_assert_msg(code >= 0, "%s as %s: connection failed", rows[row].name,
                      who);
        if (want) {
            ck_assert_msg(code != TSPS__CODE__DENIED &&
                              code != TSPS__CODE__UNAUTHENTICATED,
                          "%s as %s: refused (code %d), should be allowed",
                          rows[row].name, who, code);
        } else {
            /* On one call, those who may not see it are told it does not
             * exist (no leak of whose it is). */
            int on_call = strcmp(rows[row].name, "explain") == 0 ||
                          strcmp(rows[row].name, "call.act") == 0;
            int expect = ids[k].who == ANON ? TSPS__CODE__UNAUTHENTICATED
                         : on_call          ? TSPS__CODE__NOT_FOUND
                                            : TSPS__CODE__DENIED;
            ck_assert_msg(code == expect,
                          "%s as %s: code %d, should be refused (%d)",
                          rows[row].name, who, code, expect);
            /* Anonymous callers are refused before the handler looks at
             * the body, so "route.live" is audited as "route". */
            snprintf(audit, sizeof(audit), "identity=%s request=%s", who,
                     ids[k].who == ANON &&
                             strcmp(rows[row].name, "route.live") == 0
                         ? "route"
                         : rows[row].name);
            ck_assert_msg(th_log_has(&fx, audit), "no audit line for %s",
                          audit);
        }
        tspsd_client_close(c);
    }
}
END_TEST

/* An attendant's code filter and time window narrow what they see. */
START_TEST(test_authz_attendant_code_filter)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, "VIP"), 0);
    tspsd_client *t = th_connect(&fx, "att", NULL);
    Tsps__Request req;
    bodies b;
    /* The held call's code is UNKNOWN: not delegated, so to att the call
     * does not exist. */
    build(22, &req, &b);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__NOT_FOUND);
    build(19, &req, &b);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__NOT_FOUND);
    /* History is filtered to the delegated codes: nothing here. */
    Tsps__Response *resp = NULL;
    build(20, &req, &b);
    ck_assert_int_eq(th_call(t, &req, &resp), TSPS__CODE__OK);
    ck_assert_uint_eq(resp->n_calls, 0);
    tsps__response__free_unpacked(resp, NULL);
    ck_assert(th_log_has(&fx, "code UNKNOWN not delegated by ann"));

    /* A window that ended yesterday refuses everything. */
    Tsps__Request dreq = TSPS__REQUEST__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    dl.user = (char *)"ann";
    dl.attendant = (char *)"att";
    dl.monitor = dl.act = 1;
    dl.not_after = 86400; /* 1970 */
    dg.delegation = &dl;
    dreq.body_case = TSPS__REQUEST__BODY_DELEGATE;
    dreq.delegate = &dg;
    ck_assert_int_eq(th_call(a, &dreq, NULL), TSPS__CODE__OK);
    build(8, &req, &b);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__DENIED);
    /* Removing the delegation leaves nothing either. */
    dg.remove = 1;
    ck_assert_int_eq(th_call(a, &dreq, NULL), TSPS__CODE__OK);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__DENIED);
    ck_assert(th_log_has(&fx, "reason=\"no delegation from ann\""));
    tspsd_client_close(t);
    tspsd_client_close(a);
}
END_TEST

/* A token issued by an admin authenticates as its identity. */
START_TEST(test_authz_token_identity)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__TokenIssue ti = TSPS__TOKEN_ISSUE__INIT;
    Tsps__Response *resp = NULL;
    char token[128], err[200];
    ti.identity = (char *)"bob";
    req.body_case = TSPS__REQUEST__BODY_TOKEN_ISSUE;
    req.token_issue = &ti;
    ck_assert_int_eq(th_call(a, &req, &resp), TSPS__CODE__OK);
    snprintf(token, sizeof(token), "%s", resp->token);
    tsps__response__free_unpacked(resp, NULL);
    ck_assert(strncmp(token, "tsps_", 5) == 0);
    tspsd_client *b = th_connect(&fx, NULL, token);
    ck_assert_str_eq(tspsd_client_hello(b)->identity, "bob");
    ck_assert_str_eq(tspsd_client_hello(b)->role, "user");
    tspsd_client_close(b);
    /* A wrong token is refused at hello, with an audit line. */
    tspsd_client *x = NULL;
    int rc = th_try_connect(&fx, NULL, NULL, "tsps_0000", &x, err, sizeof(err));
    ck_assert_int_eq(rc, TSPS__CODE__UNAUTHENTICATED);
    ck_assert(th_log_has(&fx, "unknown or revoked token"));
    /* The token itself is never logged. */
    ck_assert(!th_log_has(&fx, token + 5));
    /* Revoked: the token no longer authenticates. */
    int code = th_ctl(&fx, "admin", "token revoke bob", out, sizeof(out));
    ck_assert_msg(code == 0 && strstr(out, "1 token revoked"), "%s", out);
    rc = th_try_connect(&fx, NULL, NULL, token, &x, err, sizeof(err));
    ck_assert_int_eq(rc, TSPS__CODE__UNAUTHENTICATED);
    code = th_ctl(&fx, "admin", "token revoke bob", out, sizeof(out));
    ck_assert_msg(code == 3, "rc %d: %s", code, out);
    tspsd_client_close(a);
}
END_TEST

/* ---- revocation: what was granted ends with the grant ---- */

static const char web_conf[] =
    "[web]\nlisten = 127.0.0.1\nport = 0\nsession_idle_timeout = 3\n";

static void fx_setup_web(void)
{
    fx_setup_with(web_conf);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void issue_token(tspsd_client *a, const char *identity, const char *role,
                        char *token, size_t len)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__TokenIssue ti = TSPS__TOKEN_ISSUE__INIT;
    Tsps__Response *resp = NULL;
    ti.identity = (char *)identity;
    if (role != NULL)
        ti.role = (char *)role;
    req.body_case = TSPS__REQUEST__BODY_TOKEN_ISSUE;
    req.token_issue = &ti;
    ck_assert_int_eq(th_call(a, &req, &resp), TSPS__CODE__OK);
    snprintf(token, len, "%s", resp->token);
    tsps__response__free_unpacked(resp, NULL);
}

/* token.revoke; the reply's message into msg (may be NULL). */
static int revoke_tokens(tspsd_client *a, const char *identity, char *msg,
                         size_t len)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__TokenRevoke tr = TSPS__TOKEN_REVOKE__INIT;
    Tsps__Response *resp = NULL;
    tr.identity = (char *)identity;
    req.body_case = TSPS__REQUEST__BODY_TOKEN_REVOKE;
    req.token_revoke = &tr;
    int code = th_call(a, &req, &resp);
    if (msg != NULL)
        snprintf(msg, len, "%s", resp != NULL ? resp->message : "");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    return code;
}

static int user_get(tspsd_client *c, const char *id)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserGet ug = TSPS__USER_GET__INIT;
    ug.id = (char *)id;
    req.body_case = TSPS__REQUEST__BODY_USER_GET;
    req.user_get = &ug;
    return th_call(c, &req, NULL);
}

static int user_delete(tspsd_client *c, const char *id)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserDelete ud = TSPS__USER_DELETE__INIT;
    ud.id = (char *)id;
    req.body_case = TSPS__REQUEST__BODY_USER_DELETE;
    req.user_delete = &ud;
    return th_call(c, &req, NULL);
}

/* The next request on a revoked connection fails because the daemon closed
 * it, not because it stopped answering (the client would time out at 5 s). */
static void assert_cut(tspsd_client *c, const char *who)
{
    long long t0 = mono_ms();
    int code = user_get(c, "bob");
    long long took = mono_ms() - t0;
    ck_assert_msg(code == -100, "%s: request served after revocation (%d)", who,
                  code);
    ck_assert_msg(took < 3000, "%s: no close, the request timed out", who);
    ck_assert_msg(tspsd_client_alive(c, 1000) == 0, "%s: still open", who);
}

/* A user's open control connections, by token or by certificate, close
 * when an admin revokes their tokens; other users' stay. */
START_TEST(test_revoke_closes_control_connections)
{
    char tok[128], msg[200], err[200];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    issue_token(a, "bob", NULL, tok, sizeof(tok));
    tspsd_client *bt = th_connect(&fx, NULL, tok);
    tspsd_client *bc = th_connect(&fx, "bob", NULL);
    tspsd_client *an = th_connect(&fx, "ann", NULL);
    ck_assert_int_eq(user_get(bt, "bob"), TSPS__CODE__OK);
    ck_assert_int_eq(user_get(bc, "bob"), TSPS__CODE__OK);
    ck_assert_int_eq(user_get(an, "ann"), TSPS__CODE__OK);
    ck_assert_int_eq(tspsd_client_alive(bt, 200), 1);

    ck_assert_int_eq(revoke_tokens(a, "bob", msg, sizeof(msg)), TSPS__CODE__OK);
    ck_assert_msg(strstr(msg, "1 token revoked") != NULL, "%s", msg);
    /* At once, without waiting: the reply left only after bob's
     * connections stopped reading. */
    assert_cut(bt, "bob by token");
    ck_assert_int_eq(tspsd_client_alive(bc, 3000), 0);
    assert_cut(bc, "bob by certificate");
    ck_assert_int_eq(user_get(an, "ann"), TSPS__CODE__OK);
    ck_assert_int_eq(user_get(a, "bob"), TSPS__CODE__OK);
    tspsd_client *x = NULL;
    ck_assert_int_eq(th_try_connect(&fx, NULL, NULL, tok, &x, err, sizeof(err)),
                     TSPS__CODE__UNAUTHENTICATED);
    ck_assert(th_log_has(&fx, "msg=\"access ended\" audit=1 identity=bob "
                              "reason=token.revoke connections=2 streams=0"));
    ck_assert(th_log_has(&fx, "msg=\"tokens revoked\""));
    ck_assert(!th_log_has(&fx, tok + 5));
    tspsd_client_close(bt);
    tspsd_client_close(bc);
    tspsd_client_close(an);
    tspsd_client_close(a);
}
END_TEST

/* An admin revoking its own identity gets its reply, then the close. */
START_TEST(test_revoke_self_reply_then_close)
{
    char tok[128], msg[200];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    issue_token(a, "ops", "admin", tok, sizeof(tok));
    tspsd_client *o = th_connect(&fx, NULL, tok);
    ck_assert_str_eq(tspsd_client_hello(o)->role, "admin");
    ck_assert_int_eq(revoke_tokens(o, "ops", msg, sizeof(msg)), TSPS__CODE__OK);
    ck_assert_msg(strstr(msg, "1 token revoked") != NULL, "%s", msg);
    ck_assert_int_eq(tspsd_client_alive(o, 3000), 0);
    ck_assert_int_eq(user_get(a, "ann"), TSPS__CODE__OK);
    tspsd_client_close(o);
    tspsd_client_close(a);
}
END_TEST

/* Web: revoking bob ends his session (the cookie gets 401) and his event
 * stream; ann's session and stream carry on. */
START_TEST(test_revoke_ends_web_session_and_stream)
{
    char bob[80], ann[80], msg[200];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    th_web_login(&fx, a, "ann", ann, sizeof(ann));
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 200);
    th_http *bs = th_sse_open(&fx, bob);
    th_http *as = th_sse_open(&fx, ann);
    /* Bob's stream carries his calls. */
    ck_assert_int_eq(fx_route(a, "+13125550002", BOB_NUMBER, 1, NULL),
                     TSPS__CODE__OK);
    ck_assert_int_eq(th_sse_wait(bs, "event: call.", 3000), 1);

    /* No token, but a web session: revoked all the same. */
    ck_assert_int_eq(revoke_tokens(a, "bob", msg, sizeof(msg)), TSPS__CODE__OK);
    ck_assert_msg(strstr(msg, "1 web session ended") != NULL, "%s", msg);
    ck_assert_msg(th_sse_ended(bs, 3000) == 1, "bob's stream still open");
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 401);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", ann, NULL, NULL, NULL, 0), 200);
    ck_assert_int_eq(fx_route(a, "+13125550003", ANN_NUMBER, 1, NULL),
                     TSPS__CODE__OK);
    ck_assert_int_eq(th_sse_wait(as, "13125550003", 3000), 1);
    ck_assert(th_log_has(&fx, "identity=bob reason=token.revoke connections=0 "
                              "streams=1"));
    ck_assert(!th_log_has(&fx, bob));
    /* Nothing left to revoke. */
    ck_assert_int_eq(revoke_tokens(a, "bob", NULL, 0), TSPS__CODE__NOT_FOUND);
    th_http_close(bs);
    th_http_close(as);
    tspsd_client_close(a);
}
END_TEST

/* Deleting a user ends its identity's access as a revocation does. */
START_TEST(test_user_delete_ends_access)
{
    char tok[128], bob[80], ann[80], err[200];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    issue_token(a, "bob", NULL, tok, sizeof(tok));
    tspsd_client *bt = th_connect(&fx, NULL, tok);
    tspsd_client *bc = th_connect(&fx, "bob", NULL);
    tspsd_client *an = th_connect(&fx, "ann", NULL);
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    th_web_login(&fx, a, "ann", ann, sizeof(ann));
    th_http *bs = th_sse_open(&fx, bob);
    ck_assert_int_eq(user_get(bt, "bob"), TSPS__CODE__OK);

    ck_assert_int_eq(user_delete(a, "bob"), TSPS__CODE__OK);
    assert_cut(bt, "bob by token");
    assert_cut(bc, "bob by certificate");
    ck_assert_msg(th_sse_ended(bs, 3000) == 1, "bob's stream still open");
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", bob, NULL, NULL, NULL, 0), 401);
    tspsd_client *x = NULL;
    ck_assert_int_eq(th_try_connect(&fx, NULL, NULL, tok, &x, err, sizeof(err)),
                     TSPS__CODE__UNAUTHENTICATED);
    ck_assert_int_eq(user_get(an, "ann"), TSPS__CODE__OK);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", ann, NULL, NULL, NULL, 0), 200);
    ck_assert(th_log_has(&fx, "user=bob msg=\"user deleted\" by=admin tokens=1 "
                              "web_sessions=1"));
    ck_assert(th_log_has(&fx, "identity=bob reason=user.delete connections=2 "
                              "streams=1"));
    th_http_close(bs);
    tspsd_client_close(bt);
    tspsd_client_close(bc);
    tspsd_client_close(an);
    tspsd_client_close(a);
}
END_TEST

/* Wait on a subscription for an event of call id (1), or not (0). */
static int got_event(tspsd_client *c, uint64_t id, int timeout_ms)
{
    long long end = mono_ms() + timeout_ms;
    for (;;) {
        Tsps__Response *r = NULL;
        long long left = end - mono_ms();
        if (left <= 0 || tspsd_client_recv(c, &r, (int)left) != 0)
            return 0;
        int hit = r->event != NULL && r->event->call_id == id;
        tsps__response__free_unpacked(r, NULL);
        if (hit)
            return 1;
    }
}

/* An attendant keeps its connection and stream when ann withdraws the
 * delegation, but loses what it granted: no more of ann's events, and
 * requests on ann's data are refused. */
START_TEST(test_delegation_removed_live)
{
    char att[80], want[64];
    uint64_t c1 = 0, c2 = 0;
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    tspsd_client *t = th_connect(&fx, "att", NULL);
    tspsd_client *an = th_connect(&fx, "ann", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    sub.user = (char *)"ann";
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__OK);
    th_web_login(&fx, a, "att", att, sizeof(att));
    th_http *ts = th_sse_open(&fx, att);

    ck_assert_int_eq(fx_route(a, "+13125550004", ANN_NUMBER, 1, &c1),
                     TSPS__CODE__OK);
    ck_assert_int_eq(got_event(t, c1, 3000), 1);
    snprintf(want, sizeof(want), "\"call_id\":%llu", (unsigned long long)c1);
    ck_assert_int_eq(th_sse_wait(ts, want, 3000), 1);

    Tsps__Request dreq = TSPS__REQUEST__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    dl.user = (char *)"ann";
    dl.attendant = (char *)"att";
    dg.delegation = &dl;
    dg.remove = 1;
    dreq.body_case = TSPS__REQUEST__BODY_DELEGATE;
    dreq.delegate = &dg;
    ck_assert_int_eq(th_call(an, &dreq, NULL), TSPS__CODE__OK);

    ck_assert_int_eq(fx_route(a, "+13125550005", ANN_NUMBER, 1, &c2),
                     TSPS__CODE__OK);
    ck_assert_int_eq(got_event(t, c2, 1500), 0);
    snprintf(want, sizeof(want), "\"call_id\":%llu", (unsigned long long)c2);
    ck_assert_int_eq(th_sse_wait(ts, want, 1500), 0);
    ck_assert_int_eq(user_get(t, "ann"), TSPS__CODE__DENIED);
    ck_assert_int_eq(tspsd_client_alive(t, 100), 1);
    th_http_close(ts);
    tspsd_client_close(an);
    tspsd_client_close(t);
    tspsd_client_close(a);
}
END_TEST

/* [web] session_idle_timeout = 3: a session unused for longer is refused,
 * one in use is not, and an open event stream is a use. */
START_TEST(test_web_idle_timeout)
{
    char idle[80], busy[80], watch[80];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    th_web_login(&fx, a, "ann", idle, sizeof(idle));
    th_web_login(&fx, a, "ann", busy, sizeof(busy));
    th_web_login(&fx, a, "ann", watch, sizeof(watch));
    th_http *ws = th_sse_open(&fx, watch);
    for (int i = 0; i < 10; i++) { /* 5 s, past the idle timeout */
        pause_ms(500);
        ck_assert_int_eq(
            th_web_req(&fx, "GET", "/api/me", busy, NULL, NULL, NULL, 0), 200);
    }
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", idle, NULL, NULL, NULL, 0), 401);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", busy, NULL, NULL, NULL, 0), 200);
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", watch, NULL, NULL, NULL, 0), 200);
    ck_assert(th_log_has(&fx, "msg=\"web session ended\" reason=idle"));
    /* Refused for good, not only once. */
    ck_assert_int_eq(
        th_web_req(&fx, "GET", "/api/me", idle, NULL, NULL, NULL, 0), 401);
    th_http_close(ws);
    tspsd_client_close(a);
}
END_TEST

/* An identity taken off [admin] identities (SIGHUP) is no admin on its
 * open connection either. */
START_TEST(test_admin_removed_on_reload)
{
    char conf[8192];
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "zed", NULL), TSPS__CODE__OK);
    FILE *f = fopen(fx.conf, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(conf, 1, sizeof(conf) - 1, f);
    fclose(f);
    conf[n] = '\0';
    char *p = strstr(conf, "identities = admin");
    ck_assert_ptr_nonnull(p);
    memcpy(p, "identities = other", strlen("identities = other"));
    f = fopen(fx.conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs(conf, f);
    fclose(f);
    kill(fx.pid, SIGHUP);
    ck_assert(th_log_has(&fx, "msg=\"config reloaded\""));
    ck_assert_int_eq(fx_user_put(a, "zed2", NULL), TSPS__CODE__DENIED);
    ck_assert(th_log_has(&fx, "admin role withdrawn from a live connection"));
    tspsd_client_close(a);
}
END_TEST

static Suite *authz_suite(void)
{
    Suite *s = suite_create("tspsd_authz");
    TCase *tc = tcase_create("matrix");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_authz_matrix, 0, NROWS);
    suite_add_tcase(s, tc);
    tc = tcase_create("attendant");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_authz_attendant_code_filter);
    tcase_add_test(tc, test_authz_token_identity);
    suite_add_tcase(s, tc);
    tc = tcase_create("revocation");
    tcase_add_checked_fixture(tc, fx_setup_web, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_revoke_closes_control_connections);
    tcase_add_test(tc, test_revoke_self_reply_then_close);
    tcase_add_test(tc, test_revoke_ends_web_session_and_stream);
    tcase_add_test(tc, test_user_delete_ends_access);
    tcase_add_test(tc, test_delegation_removed_live);
    tcase_add_test(tc, test_web_idle_timeout);
    tcase_add_test(tc, test_admin_removed_on_reload);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(authz_suite)

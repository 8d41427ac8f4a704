/*
 * check_tspsd_authz.c - the authorisation matrix: every request kind x
 * (anonymous, the user, another user, an attendant with the right, an
 * attendant without it, admin) against a real tspsd, asserting allowed or
 * refused (and, for refusals, the code and an audit log line).
 */
#include "fixture.h"
#include "tsps_check.h"

#include <stdio.h>
#include <string.h>

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
    {"device.remove", ADMIN},
    {"subscribe", MON},
    {"token.revoke", ADMIN},
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
            int expect = ids[k].who == ANON ? TSPS__CODE__UNAUTHENTICATED
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
    /* The held call's code is UNKNOWN: not delegated. */
    build(22, &req, &b);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__DENIED);
    build(19, &req, &b);
    ck_assert_int_eq(th_call(t, &req, NULL), TSPS__CODE__DENIED);
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
    return s;
}

TSPS_CHECK_MAIN(authz_suite)

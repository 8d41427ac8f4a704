/* fixture.c - see fixture.h. */
#include "fixture.h"

#include "tsps_check.h"

#include <string.h>

th_daemon fx;
uint64_t fx_pending_call, fx_past_call;

int fx_user_put(tspsd_client *c, const char *id, const char *number)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserPut up = TSPS__USER_PUT__INIT;
    Tsps__User u = TSPS__USER__INIT;
    char *nums[1] = {(char *)number};
    u.id = (char *)id;
    u.region = (char *)"US";
    u.tz = (char *)"America/New_York";
    u.hours = (char *)"mon-sun 00:00-23:59";
    u.voicemail_uri = (char *)"sip:vm@127.0.0.1";
    u.n_numbers = number != NULL ? 1 : 0;
    u.numbers = nums;
    up.user = &u;
    req.body_case = TSPS__REQUEST__BODY_USER_PUT;
    req.user_put = &up;
    return th_call(c, &req, NULL);
}

int fx_code_set(tspsd_client *c, const char *user, const char *code,
                const char *status, const char *method)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__CodeSet cs = TSPS__CODE_SET__INIT;
    Tsps__Rule r = TSPS__RULE__INIT;
    r.user = (char *)user;
    r.code = (char *)code;
    r.status = (char *)status;
    r.method = (char *)method;
    cs.rule = &r;
    req.body_case = TSPS__REQUEST__BODY_CODE_SET;
    req.code_set = &cs;
    return th_call(c, &req, NULL);
}

int fx_delegate(tspsd_client *c, const char *user, const char *att, int monitor,
                int act, const char *code)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    char *codes[1] = {(char *)code};
    dl.user = (char *)user;
    dl.attendant = (char *)att;
    dl.monitor = monitor;
    dl.act = act;
    if (code != NULL) {
        dl.n_codes = 1;
        dl.codes = codes;
    }
    dg.delegation = &dl;
    req.body_case = TSPS__REQUEST__BODY_DELEGATE;
    req.delegate = &dg;
    return th_call(c, &req, NULL);
}

int fx_route(tspsd_client *c, const char *from, const char *to, int live,
             uint64_t *call_id)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    Tsps__Response *resp = NULL;
    r.from = (char *)from;
    r.to = (char *)to;
    r.live = live;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    int code = th_call(c, &req, &resp);
    if (call_id != NULL)
        *call_id = 0;
    if (code == TSPS__CODE__OK && call_id != NULL && resp->n_calls == 1)
        *call_id = resp->calls[0]->call_id;
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    return code;
}

void fx_setup(void)
{
    fx_setup_with(NULL);
}

void fx_setup_with(const char *extra)
{
    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    th_start(&fx, extra);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_user_put(a, "bob", BOB_NUMBER), 0);
    ck_assert_int_eq(fx_code_set(a, "ann", "UNKNOWN", "any",
                                 "ask timeout=600 then voicemail"),
                     0);
    ck_assert_int_eq(fx_code_set(a, "ann", "WITHHELD", "any", "voicemail"), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, NULL), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "attno", 0, 0, NULL), 0);
    /* A call held for a decision, and a routed one in history. */
    ck_assert_int_eq(
        fx_route(a, "+13125550001", ANN_NUMBER, 1, &fx_pending_call), 0);
    ck_assert_int_eq(fx_route(a, "", ANN_NUMBER, 1, &fx_past_call), 0);
    ck_assert(fx_pending_call != 0 && fx_past_call != 0);
    tspsd_client_close(a);
}

void fx_teardown(void)
{
    th_cleanup(&fx);
}

/* Rule precedence (docs/engine.md, "Which rule applies"): the cases a user
 * runs into, the explanation in the trace, a property test over random rule
 * sets against a reference written from the documented table, and the
 * migration of rule sets stored under the old order. */
#include <lmdb.h>

#include "tsps_fixture.h"

#define T_WORK T_AT(0, 9, 0) /* Monday 10:00 Berlin */
#define DID    "+49301234567"

/* callers: one per code the property test uses, plus strangers */
#define N_CODES 3
static const char *const codes[N_CODES] = {"VIP", "BLOCK", "FAMILY"};
static const char *const numbers[N_CODES] = {"+498911111", "+442079460000",
                                             "+49302222222"};
#define NOCODE_NUMBER  "+4940333333"
#define UNKNOWN_NUMBER "+12025550143"

static void setup(void)
{
    fx_setup();
    fx_contact("alice", "c-vip", "Victor", "VIP", numbers[0], NULL);
    fx_contact("alice", "c-block", "Spam", "BLOCK", numbers[1], NULL);
    fx_contact("alice", "c-fam", "Mum", "FAMILY", numbers[2], NULL);
    fx_contact("alice", "c-plain", "Paul", NULL, NOCODE_NUMBER, NULL);
    fx_register("alice", "sip:alice@10.0.0.5", "desk", 500, T_WORK + 7 * 86400);
}

static void set_status(tsps_status st)
{
    ck_assert_int_eq(tsps_status_set(fx_eng, "alice", st, 0, NULL), TSPS_OK);
}

/* ---- the cases of the issue ----------------------------------------- */

START_TEST(test_rules_block_not_weakened_by_meeting)
{
    tsps_decision d;
    char text[2048];
    fx_rule("alice", "BLOCK", TSPS_STATUS_ANY, "reject decline");
    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "voicemail");
    set_status(TSPS_STATUS_IN_MEETING);
    d = fx_route(numbers[1], DID, T_WORK);
    ck_assert_int_eq(d.status, TSPS_STATUS_IN_MEETING);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    ck_assert_str_eq(d.rule_code, "BLOCK");
    ck_assert_int_eq(d.rule_status, TSPS_STATUS_ANY);
    ck_assert_int_eq(tsps_decision_explain(&d, text, sizeof(text), NULL),
                     TSPS_OK);
    ck_assert_msg(strstr(text, "rule BLOCK/any chosen over */meeting because "
                               "a rule naming the caller's code beats a "
                               "wildcard code") != NULL,
                  "%s", text);
    /* strangers still get the meeting rule */
    d = fx_route(NOCODE_NUMBER, DID, T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    /* ... and the user can say explicitly that BLOCK changes in meetings */
    fx_rule("alice", "BLOCK", TSPS_STATUS_IN_MEETING, "voicemail");
    d = fx_route(numbers[1], DID, T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert_int_eq(d.rule_status, TSPS_STATUS_IN_MEETING);
    tsps_decision_explain(&d, text, sizeof(text), NULL);
    ck_assert_msg(strstr(text, "rule BLOCK/meeting chosen over BLOCK/any "
                               "because for the same code, a rule for the "
                               "status now beats") != NULL,
                  "%s", text);
}
END_TEST

START_TEST(test_rules_vip_rings_off_hours)
{
    tsps_decision d;
    char json[16384];
    fx_rule("alice", "VIP", TSPS_STATUS_ANY, "ring");
    fx_rule("alice", "*", TSPS_STATUS_OFF_HOURS, "voicemail");
    /* Saturday noon: off hours by the working hours, no manual status */
    d = fx_route(numbers[0], DID, T_AT(5, 11, 0));
    ck_assert_int_eq(d.status, TSPS_STATUS_OFF_HOURS);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_str_eq(d.rule_code, "VIP");
    ck_assert_int_eq(tsps_decision_json(&d, json, sizeof(json), NULL), TSPS_OK);
    ck_assert_msg(strstr(json, "rule VIP/any chosen over */off-hours") != NULL,
                  "%s", json);
    /* a caller without a rule of their own: the status rule */
    d = fx_route(numbers[2], DID, T_AT(5, 11, 0));
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert_str_eq(d.rule_code, "*");
    ck_assert_int_eq(d.rule_status, TSPS_STATUS_OFF_HOURS);
}
END_TEST

START_TEST(test_rules_single_rule_says_applies)
{
    tsps_decision d;
    char text[2048];
    fx_rule("alice", "VIP", TSPS_STATUS_ANY, "ring");
    d = fx_route(numbers[0], DID, T_WORK);
    tsps_decision_explain(&d, text, sizeof(text), NULL);
    ck_assert_msg(strstr(text, "rule VIP/any applies: ring") != NULL, "%s",
                  text);
    ck_assert_ptr_null(strstr(text, "chosen over"));
}
END_TEST

/* ---- property: the chosen rule is the documented one ------------------ */

/* A small deterministic generator (the seed is printed on failure). */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The rule set of one round: present[c][st], c = 0..N_CODES-1 the codes,
 * N_CODES = UNKNOWN, N_CODES + 1 = "*". */
#define N_RCODES (N_CODES + 2)
typedef struct ruleset {
    int present[N_RCODES][TSPS_STATUS__COUNT];
} ruleset;

static const char *rcode_name(int c)
{
    return c < N_CODES ? codes[c] : c == N_CODES ? "UNKNOWN" : "*";
}

/* The reference, written from the table in docs/engine.md rather than from
 * the engine's loop: of the rules that apply to (code, status) — the code
 * is the caller's or "*", the status is the one now or "any" — the one
 * naming the code wins; between those, the one naming the status.
 * `old_order` is the order before rule order 2 (status first). Returns the
 * rule's code index and status through rc and rst; 0 if none applies. */
static int reference(const ruleset *rs, int code, tsps_status st, int old_order,
                     int *rc, tsps_status *rst)
{
    int best = -1;
    for (int c = 0; c < N_RCODES; c++)
        for (int s = 0; s < TSPS_STATUS__COUNT; s++) {
            int names_code = c == code, names_status = s == (int)st, score;
            if (!rs->present[c][s])
                continue;
            if (!(names_code || c == N_CODES + 1) ||
                !(names_status || s == TSPS_STATUS_ANY))
                continue;
            score = old_order ? names_status * 2 + names_code
                              : names_code * 2 + names_status;
            if (score > best) {
                best = score;
                *rc = c;
                *rst = (tsps_status)s;
            }
        }
    return best >= 0;
}

/* Each rule forwards to a number of its own, so the method says which
 * rule was used. */
static void rule_method(int c, int s, char *spec, size_t n)
{
    snprintf(spec, n, "forward +4917100%02d%02d", c, s);
}

static void write_ruleset(uint64_t *seed, ruleset *rs)
{
    char spec[64];
    for (int c = 0; c < N_RCODES; c++)
        for (int s = 0; s < TSPS_STATUS__COUNT; s++) {
            int want = rng_next(seed) % 3 == 0;
            if (rs->present[c][s] && !want)
                ck_assert_int_eq(tsps_code_delete(fx_eng, "alice",
                                                  rcode_name(c),
                                                  (tsps_status)s),
                                 TSPS_OK);
            if (want && !rs->present[c][s]) {
                rule_method(c, s, spec, sizeof(spec));
                fx_rule("alice", rcode_name(c), (tsps_status)s, spec);
            }
            rs->present[c][s] = want;
        }
}

/* Route a caller of code index `code` (N_CODES = a stranger) in status st
 * and check the rule against the reference. `same_method`: only the
 * method must be the reference rule's (the migration copies rules). */
static void check_call(const ruleset *rs, int code, tsps_status st,
                       int old_order, int same_method, uint64_t seed)
{
    const char *num = code < N_CODES ? numbers[code] : UNKNOWN_NUMBER;
    tsps_decision d = fx_route(num, DID, T_WORK);
    int rc = -1;
    tsps_status rst = TSPS_STATUS_ANY;
    char want[64];

    ck_assert_int_eq(d.status, st);
    if (!reference(rs, code, st, old_order, &rc, &rst)) {
        ck_assert_msg(fx_step(&d, TSPS_STEP_RULE)->outcome == TSPS_TR_DEFAULT,
                      "seed %llu: %s/%s: a rule was used where none applies",
                      (unsigned long long)seed, rcode_name(code),
                      tsps_status_name(st));
        return;
    }
    rule_method(rc, rst, want, sizeof(want));
    ck_assert_msg(
        d.method.kind == TSPS_METHOD_FORWARD &&
            strcmp(d.method.a.target, want + 8) == 0 &&
            (same_method || (strcmp(d.rule_code, rcode_name(rc)) == 0 &&
                             d.rule_status == rst)),
        "seed %llu: caller %s in %s (%s order): engine chose %s/%s "
        "(%s), the documented rule is %s/%s",
        (unsigned long long)seed, rcode_name(code), tsps_status_name(st),
        old_order ? "old" : "new", d.rule_code, tsps_status_name(d.rule_status),
        d.method.a.target, rcode_name(rc), tsps_status_name(rst));
}

static void clear_rules(ruleset *rs)
{
    for (int c = 0; c < N_RCODES; c++)
        for (int s = 0; s < TSPS_STATUS__COUNT; s++)
            if (rs->present[c][s])
                ck_assert_int_eq(tsps_code_delete(fx_eng, "alice",
                                                  rcode_name(c),
                                                  (tsps_status)s),
                                 TSPS_OK);
    memset(rs, 0, sizeof(*rs));
}

START_TEST(test_rules_property_random_rule_sets)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull, start = seed;
    ruleset rs;
    memset(&rs, 0, sizeof(rs));
    for (int round = 0; round < 120; round++) {
        write_ruleset(&seed, &rs);
        for (int st = 1; st < TSPS_STATUS__COUNT; st++) {
            set_status((tsps_status)st);
            for (int code = 0; code <= N_CODES; code++)
                check_call(&rs, code, (tsps_status)st, 0, 0, start);
        }
        start = seed;
    }
}
END_TEST

/* ---- migration ------------------------------------------------------- */

/* Make the store look as the library before rule order 2 left it: no
 * "rule_order" key in the meta database. */
static void make_old_store(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {10, "rule_order"};
    int rc;
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ck_assert_int_eq(mdb_env_open(env, fx_dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    rc = mdb_del(txn, dbi, &k, NULL);
    ck_assert(rc == 0 || rc == MDB_NOTFOUND);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void reopen(void)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    cfg.path = fx_dir;
    cfg.flags = TSPS_OPEN_NOSYNC;
    if (getenv("TSPS_TEST_NO_CONTACT_CACHE") != NULL)
        cfg.flags |= TSPS_OPEN_NO_CONTACT_CACHE;
    cfg.map_size = 16u << 20;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
}

START_TEST(test_rules_migration_keeps_strangers_decisions)
{
    tsps_decision d;
    tsps_method m;
    fx_rule("alice", "UNKNOWN", TSPS_STATUS_ANY, "ask then voicemail");
    fx_rule("alice", "BLOCK", TSPS_STATUS_ANY, "reject decline");
    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "voicemail");
    make_old_store();
    reopen();
    /* under the old order an unknown caller in a meeting got voicemail:
     * the migration kept it with an explicit rule */
    ck_assert_int_eq(
        tsps_code_get(fx_eng, "alice", "UNKNOWN", TSPS_STATUS_IN_MEETING, &m),
        TSPS_OK);
    ck_assert_int_eq(m.kind, TSPS_METHOD_VOICEMAIL);
    set_status(TSPS_STATUS_IN_MEETING);
    d = fx_route(UNKNOWN_NUMBER, DID, T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    /* the surprise is gone: the blocked caller is rejected */
    d = fx_route(numbers[1], DID, T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    /* a store already at rule order 2 is left alone */
    ck_assert_int_eq(
        tsps_code_delete(fx_eng, "alice", "UNKNOWN", TSPS_STATUS_IN_MEETING),
        TSPS_OK);
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    reopen();
    ck_assert_int_eq(
        tsps_code_get(fx_eng, "alice", "UNKNOWN", TSPS_STATUS_IN_MEETING, &m),
        TSPS_ENOTFOUND);
}
END_TEST

/* For random rule sets written under the old order: after the migration,
 * strangers (the user's unknown code) get exactly the old decisions, and
 * contacts with a code get the documented new ones. */
START_TEST(test_rules_property_migration)
{
    uint64_t seed = 0xD1B54A32D192ED03ull, start = seed;
    ruleset rs;
    memset(&rs, 0, sizeof(rs));
    for (int round = 0; round < 25; round++) {
        write_ruleset(&seed, &rs);
        make_old_store();
        reopen();
        for (int st = 1; st < TSPS_STATUS__COUNT; st++) {
            set_status((tsps_status)st);
            check_call(&rs, N_CODES, (tsps_status)st, 1, 1, start);
            for (int code = 0; code < N_CODES; code++)
                check_call(&rs, code, (tsps_status)st, 0, 0, start);
        }
        /* the rules the migration added go too */
        for (int s = 1; s < TSPS_STATUS__COUNT; s++) {
            tsps_method m;
            rs.present[N_CODES][s] |=
                tsps_code_get(fx_eng, "alice", "UNKNOWN", (tsps_status)s, &m) ==
                TSPS_OK;
        }
        clear_rules(&rs);
        start = seed;
    }
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("precedence");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rules_block_not_weakened_by_meeting);
    tcase_add_test(tc, test_rules_vip_rings_off_hours);
    tcase_add_test(tc, test_rules_single_rule_says_applies);
    tcase_add_test(tc, test_rules_property_random_rule_sets);
    tcase_add_test(tc, test_rules_migration_keeps_strangers_decisions);
    tcase_add_test(tc, test_rules_property_migration);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(rules_suite)

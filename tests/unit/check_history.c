/* Call history: append, query by time and by caller, overrides, outcomes. */
#include "tsps_fixture.h"

static void setup(void)
{
    fx_setup();
    fx_contact("alice", "c-vip", "Victor", "VIP", "+4989111111", NULL);
    fx_rule("alice", "VIP", TSPS_STATUS_ANY, "ring");
    fx_rule("alice", "UNKNOWN", TSPS_STATUS_ANY,
            "ask timeout=10 then voicemail");
}

static uint64_t record(const char *from, int64_t at)
{
    tsps_decision d = fx_route(from, "+49301234567", at);
    uint64_t id = 0;
    ck_assert_int_eq(tsps_history_append(fx_eng, &d, TSPS_OUTCOME_ROUTED, &id),
                     TSPS_OK);
    ck_assert_uint_ne(id, 0);
    return id;
}

typedef struct seen {
    int n;
    uint64_t ids[16];
} seen;

static int collect(void *arg, const tsps_call_record *r)
{
    seen *s = arg;
    if (s->n < 16)
        s->ids[s->n++] = r->id;
    return 0;
}

START_TEST(test_history_query_by_time_newest_first)
{
    uint64_t a = record("+4989111111", T_MONDAY + 100);
    uint64_t b = record("+15551234567", T_MONDAY + 200);
    uint64_t c = record("+4989111111", T_MONDAY + 300);
    seen s = {0};
    ck_assert_int_eq(tsps_history_query(fx_eng, "alice", T_MONDAY,
                                        T_MONDAY + 1000, 0, collect, &s),
                     TSPS_OK);
    ck_assert_int_eq(s.n, 3);
    ck_assert_uint_eq(s.ids[0], c);
    ck_assert_uint_eq(s.ids[1], b);
    ck_assert_uint_eq(s.ids[2], a);
    memset(&s, 0, sizeof(s));
    tsps_history_query(fx_eng, "alice", T_MONDAY + 150, T_MONDAY + 300, 0,
                       collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(s.ids[0], b);
    memset(&s, 0, sizeof(s));
    tsps_history_query(fx_eng, "alice", T_MONDAY, T_MONDAY + 1000, 2, collect,
                       &s);
    ck_assert_int_eq(s.n, 2);
}
END_TEST

START_TEST(test_history_by_caller_any_format)
{
    uint64_t a = record("+4989111111", T_MONDAY + 100);
    record("+15551234567", T_MONDAY + 200);
    uint64_t c = record("089 111111", T_MONDAY + 300);
    seen s = {0};
    ck_assert_int_eq(tsps_history_by_caller(fx_eng, "alice", "0049 89 111111",
                                            0, collect, &s),
                     TSPS_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(s.ids[0], c);
    ck_assert_uint_eq(s.ids[1], a);
}
END_TEST

START_TEST(test_history_override_keeps_first_decision)
{
    uint64_t id = record("+15551234567", T_MONDAY + 100);
    tsps_method m = fx_method("forward +4917100000");
    tsps_decision d;
    tsps_call_record r;
    ck_assert_int_eq(tsps_history_override(fx_eng, id, &m, "attendant-ann",
                                           T_MONDAY + 105, &d),
                     TSPS_OK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_FORWARD);
    ck_assert_int_eq(tsps_history_set_outcome(fx_eng, id,
                                              TSPS_OUTCOME_REDIRECTED,
                                              T_MONDAY + 106, "302 sent"),
                     TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &r), TSPS_OK);
    ck_assert_int_eq(r.outcome, TSPS_OUTCOME_REDIRECTED);
    ck_assert_str_eq(r.note, "302 sent");
    ck_assert_int_eq(r.end, T_MONDAY + 106);
    ck_assert_int_eq(r.decision.method.kind, TSPS_METHOD_FORWARD);
    ck_assert_str_eq(r.decision.actor, "attendant-ann");
    ck_assert(r.decision.flags & TSPS_DEC_OVERRIDDEN);
    ck_assert_int_eq(r.original.method.kind, TSPS_METHOD_ASK);
    /* a second override keeps the very first decision as original */
    m = fx_method("voicemail");
    ck_assert_int_eq(
        tsps_history_override(fx_eng, id, &m, "alice", T_MONDAY + 107, &d),
        TSPS_OK);
    tsps_history_get(fx_eng, id, &r);
    ck_assert_int_eq(r.original.method.kind, TSPS_METHOD_ASK);
    ck_assert_int_eq(r.decision.method.kind, TSPS_METHOD_VOICEMAIL);
    /* the trace explains both actions */
    {
        char buf[4096];
        ck_assert_int_eq(
            tsps_decision_explain(&r.decision, buf, sizeof(buf), NULL),
            TSPS_OK);
        ck_assert_ptr_nonnull(strstr(buf, "attendant-ann overrode"));
        ck_assert_ptr_nonnull(strstr(buf, "alice overrode"));
    }
    ck_assert_int_eq(tsps_history_get(fx_eng, 999999, &r), TSPS_ENOTFOUND);
    /* a call redirected at once is closed by its one write */
    {
        tsps_decision d2 =
            fx_route("+4989111111", "+49301234567", T_MONDAY + 500);
        uint64_t id2;
        ck_assert_int_eq(
            tsps_history_append(fx_eng, &d2, TSPS_OUTCOME_REDIRECTED, &id2),
            TSPS_OK);
        ck_assert_int_eq(tsps_history_get(fx_eng, id2, &r), TSPS_OK);
        ck_assert_int_eq(r.start, T_MONDAY + 500);
        ck_assert_int_eq(r.end, T_MONDAY + 500);
        ck_assert_int_eq(r.outcome, TSPS_OUTCOME_REDIRECTED);
        ck_assert_int_eq(r.original.version, 0);
    }
    ck_assert_int_eq(tsps_history_override(fx_eng, 999999, &m, "alice", 0, &d),
                     TSPS_ENOTFOUND);
}
END_TEST

START_TEST(test_history_survives_reopen)
{
    uint64_t id = record("+4989111111", T_MONDAY + 100);
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_call_record r;
    tsps_engine_close(fx_eng);
    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &r), TSPS_OK);
    ck_assert_str_eq(r.decision.caller_name, "Victor");
    ck_assert_str_eq(r.decision.code, "VIP");
    {
        /* the stored trace is the whole trace of a fresh route */
        tsps_decision d =
            fx_route("+4989111111", "+49301234567", T_MONDAY + 100);
        ck_assert_int_eq(r.decision.ntrace, d.ntrace);
        for (int i = 0; i < d.ntrace; i++) {
            ck_assert_int_eq(r.decision.trace[i].step, d.trace[i].step);
            ck_assert_int_eq(r.decision.trace[i].outcome, d.trace[i].outcome);
            ck_assert_int_eq(r.decision.trace[i].arg, d.trace[i].arg);
            ck_assert_str_eq(r.decision.trace[i].what, d.trace[i].what);
            ck_assert_str_eq(r.decision.trace[i].found, d.trace[i].found);
        }
    }
}
END_TEST

START_TEST(test_history_group_commit)
{
    tsps_batch *b;
    uint64_t ids[3], after;
    tsps_call_record r;
    tsps_decision d = fx_route("+4989111111", "+49301234567", T_MONDAY + 10);

    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(
            tsps_batch_history_append(b, &d, TSPS_OUTCOME_REDIRECTED, &ids[i]),
            TSPS_OK);
    ck_assert_uint_eq(ids[1], ids[0] + 1);
    ck_assert_uint_eq(ids[2], ids[0] + 2);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tsps_history_get(fx_eng, ids[i], &r), TSPS_OK);
        ck_assert_str_eq(r.decision.code, "VIP");
    }
    /* an aborted batch leaves no calls behind */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(
        tsps_batch_history_append(b, &d, TSPS_OUTCOME_ROUTED, &after), TSPS_OK);
    tsps_batch_abort(b);
    ck_assert_int_eq(tsps_history_get(fx_eng, after, &r), TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_batch_history_append(NULL, &d, 0, &after),
                     TSPS_EINVAL);
}
END_TEST

/* While a batch is open, the same thread's plain writes join it. */
START_TEST(test_history_writes_join_open_batch)
{
    tsps_batch *b, *b2;
    tsps_contact c;
    tsps_decision d;
    uint64_t id;
    tsps_call_record r;

    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b2), TSPS_EBUSY);
    d = fx_route("+4989111111", "+49301234567", T_MONDAY);
    ck_assert_int_eq(tsps_history_append(fx_eng, &d, TSPS_OUTCOME_ROUTED, &id),
                     TSPS_OK);
    fx_contact("alice", "c-new", "Nina New", "VIP", "+4940777777", NULL);
    fx_rule("alice", "VIP", TSPS_STATUS_ANY, "voicemail");
    /* not visible to readers before the commit */
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "c-new", &c),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &r), TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "c-new", &c), TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &r), TSPS_OK);
    /* the rule changed inside the batch applies after it */
    d = fx_route("+4940777777", "+49301234567", T_MONDAY);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    /* and an aborted batch drops what joined it */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_contact_delete(fx_eng, "alice", "c-new"), TSPS_OK);
    tsps_batch_abort(b);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "c-new", &c), TSPS_OK);
}
END_TEST

/* A call id is never given twice: not after an aborted batch (a commit
 * that failed, e.g. on a full disk, after the calls were answered) and not
 * after a restart that lost uncommitted calls (kill -9). */
START_TEST(test_history_ids_never_reused)
{
    tsps_batch *b;
    uint64_t lost[3], next, prev;
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_decision d = fx_route("+4989111111", "+49301234567", T_MONDAY + 10);

    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(
            tsps_batch_history_append(b, &d, TSPS_OUTCOME_REDIRECTED, &lost[i]),
            TSPS_OK);
    tsps_batch_abort(b);
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
        TSPS_OK);
    ck_assert_uint_gt(next, lost[2]);
    /* an id taken for a call that could not be recorded is not given
       to a recorded call */
    prev = tsps_history_take_id(fx_eng);
    ck_assert_uint_gt(prev, next);
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
        TSPS_OK);
    ck_assert_uint_gt(next, prev);
    /* ids taken by a batch that never committed, then a restart */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(
            tsps_batch_history_append(b, &d, TSPS_OUTCOME_REDIRECTED, &lost[i]),
            TSPS_OK);
    tsps_batch_abort(b);
    tsps_engine_close(fx_eng);
    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    prev = lost[2];
    for (int i = 0; i < 2100; i++) { /* across reservation blocks */
        ck_assert_int_eq(
            tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
            TSPS_OK);
        ck_assert_uint_gt(next, prev);
        prev = next;
    }
    tsps_engine_close(fx_eng);
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
        TSPS_OK);
    ck_assert_uint_gt(next, prev);
}
END_TEST

static uint64_t found_id;
static int found;

static int find_cb(void *arg, const tsps_call_record *r)
{
    (void)arg;
    found |= r->id == found_id;
    return 0;
}

/* commit = async's parts: a block of ids reserved durably, records
 * prepared on one thread and written on another with those ids. */
START_TEST(test_history_reserved_ids_and_prepared_records)
{
    tsps_batch *b;
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_decision d = fx_route("+4989111111", "+49301234567", T_MONDAY + 10);
    tsps_call_record *r = malloc(sizeof(*r));
    uint8_t blob[16384];
    size_t len = 0;
    uint64_t first = 0, second = 0, next = 0, before = 0;

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &before),
        TSPS_OK);
    ck_assert_int_eq(tsps_history_reserve_ids(fx_eng, 100, &first), TSPS_OK);
    ck_assert_uint_gt(first, before);
    ck_assert_int_eq(tsps_history_reserve_ids(fx_eng, 0, &second), TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_reserve_ids(fx_eng, 10, &second), TSPS_OK);
    ck_assert_uint_ge(second, first + 100); /* blocks never overlap */
    /* other writers go on after the blocks */
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
        TSPS_OK);
    ck_assert_uint_ge(next, second + 10);

    ck_assert_int_eq(tsps_history_prepare(&d, TSPS_OUTCOME_REDIRECTED, blob,
                                          sizeof(blob), &len),
                     TSPS_OK);
    ck_assert_int_eq(
        tsps_history_prepare(&d, TSPS_OUTCOME_REDIRECTED, blob, 8, &len),
        TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_prepare(&d, TSPS_OUTCOME_REDIRECTED, blob,
                                          sizeof(blob), &len),
                     TSPS_OK);
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_history_put(b, first + 5, blob, len), TSPS_OK);
    /* the same id twice: refused, the batch goes on */
    ck_assert_int_eq(tsps_batch_history_put(b, first + 5, blob, len),
                     TSPS_EEXIST);
    ck_assert_int_eq(tsps_batch_history_put(b, 0, blob, len), TSPS_EINVAL);
    /* a damaged blob is refused, nothing written */
    uint8_t bad[16384];
    memcpy(bad, blob, len);
    bad[0] = 'X';
    ck_assert_int_eq(tsps_batch_history_put(b, first + 6, bad, len),
                     TSPS_EINVAL);
    memcpy(bad, blob, len);
    ck_assert_int_eq(tsps_batch_history_put(b, first + 6, bad, len / 2),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, first + 5, r), TSPS_OK);
    ck_assert_str_eq(r->decision.caller, d.caller);
    ck_assert_str_eq(r->decision.user, d.user);
    ck_assert_int_eq(r->outcome, TSPS_OUTCOME_REDIRECTED);
    ck_assert_int_eq(tsps_history_get(fx_eng, first + 6, r), TSPS_ENOTFOUND);
    /* found by its caller like an appended call */
    found_id = first + 5;
    found = 0;
    ck_assert_int_eq(tsps_history_by_caller(fx_eng, d.user, "+4989111111", 100,
                                            find_cb, NULL),
                     TSPS_OK);
    ck_assert_msg(found, "the put call is not found by its caller");

    /* a restart (kill -9 before any record of the block was written)
       never gives a reserved id again */
    tsps_engine_close(fx_eng);
    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &d, TSPS_OUTCOME_REDIRECTED, &next),
        TSPS_OK);
    ck_assert_uint_ge(next, second + 10);
    free(r);
}
END_TEST

static Suite *history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("history");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_add_test(tc, test_history_query_by_time_newest_first);
    tcase_add_test(tc, test_history_by_caller_any_format);
    tcase_add_test(tc, test_history_override_keeps_first_decision);
    tcase_add_test(tc, test_history_survives_reopen);
    tcase_add_test(tc, test_history_group_commit);
    tcase_add_test(tc, test_history_writes_join_open_batch);
    tcase_add_test(tc, test_history_ids_never_reused);
    tcase_add_test(tc, test_history_reserved_ids_and_prepared_records);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(history_suite)

/* route(): each pipeline step and each method/status combination. */
#include "tsps_fixture.h"

/* Monday 10:00 in Berlin (UTC+1 in November). */
#define T_WORK T_AT(0, 9, 0)

static void setup(void)
{
    fx_setup();
    fx_contact("alice", "c-vip", "Victor Important", "VIP", "+49 89 111111",
               "victor@example.org");
    fx_contact("alice", "c-fam", "Mum", "FAMILY", "030 2222222", NULL);
    fx_contact("alice", "c-block", "Spam Caller", "BLOCK", "+44 20 7946 0000",
               NULL);
    fx_contact("alice", "c-nocode", "Plain Paul", NULL, "+49 40 333333",
               "paul@example.org");
    fx_rule("alice", "VIP", TSPS_STATUS_ANY, "ring parallel");
    fx_rule("alice", "FAMILY", TSPS_STATUS_ANY,
            "ring sequential timeout=10 then voicemail");
    fx_rule("alice", "BLOCK", TSPS_STATUS_ANY, "reject decline");
    fx_rule("alice", "UNKNOWN", TSPS_STATUS_ANY,
            "ask timeout=15 then voicemail");
    fx_rule("alice", "WITHHELD", TSPS_STATUS_ANY, "reject unavailable");
    fx_register("alice", "sip:alice@10.0.0.5:5060", "desk", 500, T_WORK + 3600);
    fx_register("alice", "sip:alice@10.0.0.9:5060", "mobile", 900,
                T_WORK + 3600);
}

START_TEST(test_route_unknown_called_number)
{
    tsps_decision d = fx_route("+49 89 111111", "+49 30 9999999", T_WORK);
    ck_assert(d.flags & TSPS_DEC_UNKNOWN_NUMBER);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_NONE);
    ck_assert_str_eq(d.user, "");
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CALLED)->outcome, TSPS_TR_NOTFOUND);
}
END_TEST

START_TEST(test_route_vip_rings_all_devices_best_q_first)
{
    tsps_decision d = fx_route("+49 89 111111", "+49301234567", T_WORK);
    ck_assert_str_eq(d.user, "alice");
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
    ck_assert_str_eq(d.caller_name, "Victor Important");
    ck_assert_str_eq(d.contact_uid, "c-vip");
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.code_source, TSPS_CODE_SRC_PROPERTY);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_int_eq(d.ntargets, 2);
    ck_assert_str_eq(d.targets[0].label, "mobile");
    ck_assert_int_eq(d.targets[0].q, 900);
    ck_assert_int_eq(d.targets[0].order, 0);
    ck_assert_int_eq(d.targets[1].order, 0);
}
END_TEST

START_TEST(test_route_national_caller_matches_contact)
{
    /* Mum's card says "030 2222222"; the CLI arrives as 0049... */
    tsps_decision d = fx_route("0049 30 2222222", "+49 30 1234567", T_WORK);
    ck_assert_str_eq(d.caller, "+49302222222");
    ck_assert_str_eq(d.code, "FAMILY");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    /* sequential: mobile (q .9) first, then desk, then voicemail */
    ck_assert_int_eq(d.ntargets, 3);
    ck_assert_int_eq(d.targets[0].order, 1);
    ck_assert_int_eq(d.targets[0].timeout_s, 10);
    ck_assert_int_eq(d.targets[1].order, 2);
    ck_assert_str_eq(d.targets[2].uri, "sip:vm-alice@pbx.example");
    ck_assert_int_eq(d.targets[2].fallback, 1);
    ck_assert_int_eq(d.targets[2].order, 3);
}
END_TEST

START_TEST(test_route_unknown_and_withheld_callers)
{
    tsps_decision d = fx_route("+1 202 555 0143", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_UNKNOWN);
    ck_assert_str_eq(d.code, "UNKNOWN");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_ASK);
    ck_assert_int_eq(d.method.ask_timeout_s, 15);
    ck_assert_int_eq(d.ntargets, 1);
    ck_assert_int_eq(d.targets[0].fallback, 1);

    d = fx_route("anonymous", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_WITHHELD);
    ck_assert_str_eq(d.code, "WITHHELD");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    ck_assert_int_eq(d.method.a.reject, TSPS_REJECT_UNAVAILABLE);

    d = fx_route(NULL, "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_WITHHELD);
}
END_TEST

START_TEST(test_route_blocked_caller_rejected)
{
    tsps_decision d = fx_route("+442079460000", "+49301234567", T_WORK);
    ck_assert_str_eq(d.code, "BLOCK");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    ck_assert_int_eq(d.method.a.reject, TSPS_REJECT_DECLINE);
    ck_assert_int_eq(d.ntargets, 0);
}
END_TEST

START_TEST(test_route_known_contact_without_code_uses_wildcard)
{
    tsps_decision d = fx_route("+4940333333", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
    ck_assert_str_eq(d.code, "");
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_RULE)->outcome, TSPS_TR_DEFAULT);
    fx_rule("alice", "*", TSPS_STATUS_ANY, "forward +49 171 5555555");
    d = fx_route("+4940333333", "+49301234567", T_WORK);
    ck_assert_str_eq(d.rule_code, "*");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_FORWARD);
    ck_assert_str_eq(d.targets[0].uri, "+491715555555");
}
END_TEST

START_TEST(test_route_sequential_devices_ring_in_written_order)
{
    tsps_decision d;
    /* setup: desk q=.5, mobile q=.9; a laptop with the lowest q and a
     * second desk binding */
    fx_register("alice", "sip:alice@10.0.0.7:5060", "laptop", 100,
                T_WORK + 3600);
    fx_register("alice", "sip:alice@10.0.0.6:5060", "desk", 700, T_WORK + 3600);
    fx_rule("alice", "VIP", TSPS_STATUS_ANY,
            "ring sequential timeout=12 devices=laptop,desk then voicemail");
    d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    /* the order written (laptop, then the desks by q), mobile left out,
     * then the fallback */
    ck_assert_int_eq(d.ntargets, 4);
    ck_assert_str_eq(d.targets[0].label, "laptop");
    ck_assert_int_eq(d.targets[0].order, 1);
    ck_assert_int_eq(d.targets[0].timeout_s, 12);
    ck_assert_str_eq(d.targets[1].uri, "sip:alice@10.0.0.6:5060");
    ck_assert_int_eq(d.targets[1].order, 2);
    ck_assert_str_eq(d.targets[2].uri, "sip:alice@10.0.0.5:5060");
    ck_assert_int_eq(d.targets[2].order, 3);
    ck_assert_int_eq(d.targets[2].timeout_s, 12);
    ck_assert_int_eq(d.targets[3].fallback, 1);
    ck_assert_int_eq(d.targets[3].order, 4);
    /* the other way round */
    fx_rule("alice", "VIP", TSPS_STATUS_ANY,
            "ring sequential devices=mobile,laptop");
    d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert_int_eq(d.ntargets, 2);
    ck_assert_str_eq(d.targets[0].label, "mobile");
    ck_assert_str_eq(d.targets[1].label, "laptop");
    ck_assert_int_eq(d.targets[1].order, 2);
    ck_assert_int_eq(d.targets[1].timeout_s, 20); /* documented default */
    fx_rule("alice", "VIP", TSPS_STATUS_ANY,
            "ring sequential devices=laptop,mobile");
    d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert_str_eq(d.targets[0].label, "laptop");
    ck_assert_str_eq(d.targets[1].label, "mobile");
}
END_TEST

START_TEST(test_route_rule_precedence_per_status)
{
    tsps_decision d;
    ck_assert_int_eq(
        tsps_status_set(fx_eng, "alice", TSPS_STATUS_DND, 0, "focus"), TSPS_OK);
    fx_rule("alice", "*", TSPS_STATUS_DND, "voicemail");
    /* (*, dnd) applies to a contact without a rule of its own ... */
    d = fx_route("+4940333333", "+49301234567", T_WORK);
    ck_assert_int_eq(d.status, TSPS_STATUS_DND);
    ck_assert_int_eq(d.status_source, TSPS_STATUS_SRC_MANUAL);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert_str_eq(d.rule_code, "*");
    ck_assert_int_eq(d.rule_status, TSPS_STATUS_DND);
    /* ... but (FAMILY, any) names the caller's code and beats it */
    d = fx_route("+49302222222", "+49301234567", T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_str_eq(d.rule_code, "FAMILY");
    ck_assert_int_eq(d.rule_status, TSPS_STATUS_ANY);
    /* (VIP, dnd) beats (*, dnd) */
    fx_rule("alice", "VIP", TSPS_STATUS_DND, "ring devices=mobile");
    d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_int_eq(d.ntargets, 1);
    ck_assert_str_eq(d.targets[0].label, "mobile");
    /* clearing the status restores the code's own rule */
    ck_assert_int_eq(tsps_status_set(fx_eng, "alice", TSPS_STATUS_ANY, 0, NULL),
                     TSPS_OK);
    d = fx_route("+49302222222", "+49301234567", T_WORK);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
}
END_TEST

START_TEST(test_route_manual_status_expires)
{
    tsps_decision d;
    ck_assert_int_eq(tsps_status_set(fx_eng, "alice", TSPS_STATUS_AWAY,
                                     T_WORK + 600, "lunch"),
                     TSPS_OK);
    d = fx_route("+4989111111", "+49301234567", T_WORK + 599);
    ck_assert_int_eq(d.status, TSPS_STATUS_AWAY);
    d = fx_route("+4989111111", "+49301234567", T_WORK + 600);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
}
END_TEST

START_TEST(test_route_working_hours_in_user_zone)
{
    tsps_status_info si;
    /* 08:30 UTC = 09:30 Berlin on Monday: working */
    ck_assert_int_eq(tsps_status_get(fx_eng, "alice", T_AT(0, 8, 30), &si),
                     TSPS_OK);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
    /* 07:30 UTC = 08:30 Berlin: before hours */
    tsps_status_get(fx_eng, "alice", T_AT(0, 7, 30), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_OFF_HOURS);
    ck_assert_int_eq(si.source, TSPS_STATUS_SRC_HOURS);
    /* Friday 15:59 UTC = 16:59 Berlin: working; 16:00 UTC: off */
    tsps_status_get(fx_eng, "alice", T_AT(4, 15, 59), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
    tsps_status_get(fx_eng, "alice", T_AT(4, 16, 0), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_OFF_HOURS);
    /* Saturday noon: off */
    tsps_status_get(fx_eng, "alice", T_AT(5, 11, 0), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_OFF_HOURS);
}
END_TEST

START_TEST(test_route_no_hours_then_hours_saved_take_effect)
{
    tsps_user u;
    tsps_status_info si;
    char text[128];
    /* "no working hours" (the demo user is made so) */
    ck_assert_int_eq(tsps_user_get(fx_eng, "alice", &u), TSPS_OK);
    u.flags |= TSPS_USER_NO_HOURS;
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    tsps_status_get(fx_eng, "alice", T_AT(5, 11, 0), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
    /* the hours shown are the hours that apply */
    ck_assert_int_eq(tsps_user_get(fx_eng, "alice", &u), TSPS_OK);
    ck_assert_int_eq(tsps_hours_format(&u.hours, text, sizeof(text), NULL),
                     TSPS_OK);
    ck_assert_str_eq(text, "mon-sun 00:00-24:00");
    /* hours saved the way the settings page saves them (get, change the
     * hours, put) take effect */
    ck_assert_int_eq(tsps_hours_parse("mon-fri 09:00-17:00", &u.hours),
                     TSPS_OK);
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    tsps_status_get(fx_eng, "alice", T_AT(5, 11, 0), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_OFF_HOURS);
    ck_assert_int_eq(si.source, TSPS_STATUS_SRC_HOURS);
    tsps_status_get(fx_eng, "alice", T_AT(0, 9, 0), &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
}
END_TEST

START_TEST(test_route_working_hours_across_dst)
{
    tsps_status_info si;
    /* Monday 2026-03-30, Berlin on summer time (UTC+2) since Sunday:
     * 07:30 UTC = 09:30 local is working; a week earlier (UTC+1) the
     * same UTC time is 08:30 local, before hours. */
    const int64_t mon_summer = 1774742400LL + 86400; /* 2026-03-30 */
    tsps_status_get(fx_eng, "alice", mon_summer + 7 * 3600 + 1800, &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
    tsps_status_get(fx_eng, "alice", mon_summer - 7 * 86400 + 7 * 3600 + 1800,
                    &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_OFF_HOURS);
}
END_TEST

static void add_event(const char *uid, int64_t start, int64_t end,
                      tsps_busy busy, int cancelled, const char *attendee)
{
    tsps_event e;
    tsps_event_init(&e);
    strcpy(e.uid, uid);
    strcpy(e.source, "test");
    strcpy(e.summary, "Project sync");
    e.start = start;
    e.end = end;
    e.busy = busy;
    e.cancelled = cancelled;
    if (attendee != NULL) {
        strcpy(e.attendees[0], attendee);
        e.nattendees = 1;
    }
    ck_assert_int_eq(tsps_event_put(fx_eng, "alice", &e), TSPS_OK);
}

START_TEST(test_route_calendar_meeting_and_expected_caller)
{
    tsps_decision d;
    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "voicemail");
    add_event("ev1", T_WORK - 1800, T_WORK + 1800, TSPS_BUSY_BUSY, 0,
              "mailto:Victor@Example.org");
    /* Paul (no code of his own) is not in the meeting: voicemail */
    d = fx_route("+4940333333", "+49301234567", T_WORK);
    ck_assert_int_eq(d.status, TSPS_STATUS_IN_MEETING);
    ck_assert_int_eq(d.status_source, TSPS_STATUS_SRC_CALENDAR);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert(!(d.flags & TSPS_DEC_EXPECTED));
    /* Victor attends: rings through as if available */
    d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert(d.flags & TSPS_DEC_EXPECTED);
    ck_assert_int_eq(d.status, TSPS_STATUS_IN_MEETING);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CALENDAR)->outcome, TSPS_TR_OK);
    /* after the meeting: available again */
    d = fx_route("+49302222222", "+49301234567", T_WORK + 1800);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
}
END_TEST

START_TEST(test_route_calendar_free_cancelled_oof)
{
    tsps_status_info si;
    add_event("free", T_WORK - 60, T_WORK + 60, TSPS_BUSY_FREE, 0, NULL);
    add_event("cancel", T_WORK - 60, T_WORK + 60, TSPS_BUSY_BUSY, 1, NULL);
    tsps_status_get(fx_eng, "alice", T_WORK, &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AVAILABLE);
    /* a week of holiday spans many chunks and still counts mid-way */
    add_event("oof", T_WORK - 2 * 86400, T_WORK + 5 * 86400, TSPS_BUSY_OOF, 0,
              NULL);
    tsps_status_get(fx_eng, "alice", T_WORK + 3 * 86400, &si);
    ck_assert_int_eq(si.status, TSPS_STATUS_AWAY);
    ck_assert_str_eq(si.event_uid, "oof");
    ck_assert_int_eq(tsps_event_delete(fx_eng, "alice", "oof"), TSPS_OK);
    tsps_status_get(fx_eng, "alice", T_WORK + 3 * 86400, &si);
    ck_assert_int_ne(si.status, TSPS_STATUS_AWAY);
}
END_TEST

START_TEST(test_route_expected_caller_before_meeting_starts)
{
    tsps_decision d;
    /* meeting in 10 minutes (window 15): caller flagged expected */
    add_event("soon", T_WORK + 600, T_WORK + 4200, TSPS_BUSY_BUSY, 0,
              "mailto:paul@example.org");
    d = fx_route("+4940333333", "+49301234567", T_WORK);
    ck_assert(d.flags & TSPS_DEC_EXPECTED);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    /* 20 minutes before: not yet */
    d = fx_route("+4940333333", "+49301234567", T_WORK - 600);
    ck_assert(!(d.flags & TSPS_DEC_EXPECTED));
}
END_TEST

START_TEST(test_route_ambiguous_number_is_not_guessed)
{
    tsps_decision d;
    /* the office line is on two cards with different codes */
    fx_contact("alice", "c-o1", "Office A", "SALES", "+49 69 777777", NULL);
    fx_contact("alice", "c-o2", "Office B", "VIP", "+49 69 777777", NULL);
    d = fx_route("+4969777777", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_AMBIGUOUS);
    ck_assert_str_eq(d.code, "UNKNOWN");
    ck_assert_str_eq(d.contact_uid, "");
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CONTACT)->outcome,
                     TSPS_TR_AMBIGUOUS);
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CONTACT)->n, 2);
    ck_assert_str_eq(d.caller_name, "one of 2 contacts: Office A, Office B");
}
END_TEST

START_TEST(test_route_shared_number_agreeing_codes_is_ambiguous)
{
    tsps_decision d;
    tsps_call_record rec;
    uint64_t id;
    char *text = malloc(16384);
    const char *name =
        "Acme Ltd \xe2\x80\x94 one of 3 contacts: Acme Ltd, Ann Lee, Bob Roe";
    /* a switchboard number on three cards that agree on the code */
    fx_rule("alice", "SALES", TSPS_STATUS_ANY, "forward +49 171 5555555");
    fx_contact("alice", "c-s2", "Bob Roe", "SALES", "+49 69 777777", NULL);
    fx_contact("alice", "c-s1", "Ann Lee", "SALES", "+49 69 777777", NULL);
    fx_contact("alice", "c-s0", "Acme Ltd", "SALES", "+49 69 777777", NULL);
    d = fx_route("+4969777777", "+49301234567", T_WORK);
    /* routed by the agreed code ... */
    ck_assert_str_eq(d.code, "SALES");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_FORWARD);
    /* ... but reported as ambiguous: decision, trace, text, JSON */
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_AMBIGUOUS);
    ck_assert(d.flags & TSPS_DEC_SHARED_NUMBER);
    ck_assert_str_eq(d.caller_name, name);
    ck_assert_str_eq(d.contact_uid, "c-s0"); /* the contact named first */
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CONTACT)->outcome, TSPS_TR_OK);
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CONTACT)->n, 3);
    ck_assert_str_eq(fx_step(&d, TSPS_STEP_CONTACT)->found,
                     "Acme Ltd, Ann Lee, Bob Roe");
    ck_assert_int_eq(tsps_decision_explain(&d, text, 16384, NULL), TSPS_OK);
    ck_assert_msg(strstr(text, "+4969777777 is one of 3 contacts (Acme Ltd, "
                               "Ann Lee, Bob Roe): the caller is ambiguous; "
                               "they agree on code SALES") != NULL,
                  "%s", text);
    ck_assert_int_eq(tsps_decision_json(&d, text, 16384, NULL), TSPS_OK);
    ck_assert_msg(strstr(text, "\"caller_kind\":\"ambiguous\"") != NULL &&
                      strstr(text, "\"shared_number\":true") != NULL &&
                      strstr(text, name) != NULL,
                  "%s", text);
    /* history keeps it as routed */
    ck_assert_int_eq(tsps_history_append(fx_eng, &d, TSPS_OUTCOME_ROUTED, &id),
                     TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &rec), TSPS_OK);
    ck_assert_str_eq(rec.decision.caller_name, name);
    ck_assert_int_eq(rec.decision.caller_kind, TSPS_CALLER_AMBIGUOUS);
    /* one card left: known again */
    ck_assert_int_eq(tsps_contact_delete(fx_eng, "alice", "c-s0"), TSPS_OK);
    ck_assert_int_eq(tsps_contact_delete(fx_eng, "alice", "c-s1"), TSPS_OK);
    d = fx_route("+4969777777", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
    ck_assert(!(d.flags & TSPS_DEC_SHARED_NUMBER));
    ck_assert_str_eq(d.caller_name, "Bob Roe");
    free(text);
}
END_TEST

START_TEST(test_route_shared_number_many_names_cut_short)
{
    tsps_decision d;
    char uid[32], nm[64];
    for (int i = 0; i < 12; i++) {
        snprintf(uid, sizeof(uid), "c-many-%02d", i);
        snprintf(nm, sizeof(nm), "Colleague number %02d \xc3\xa9", i);
        fx_contact("alice", uid, nm, "SALES", "+49 69 888888", NULL);
    }
    d = fx_route("+4969888888", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_AMBIGUOUS);
    ck_assert_str_eq(d.code, "SALES");
    ck_assert_int_eq(fx_step(&d, TSPS_STEP_CONTACT)->n, 12);
    ck_assert(strstr(fx_step(&d, TSPS_STEP_CONTACT)->found, "...") != NULL);
    ck_assert(
        strncmp(
            d.caller_name,
            "Colleague number 00 \xc3\xa9 \xe2\x80\x94 one of 12 contacts: ",
            47) == 0);
    ck_assert(strlen(d.caller_name) < TSPS_NAME_MAX);
}
END_TEST

START_TEST(test_route_local_number_is_ambiguous)
{
    /* a subscriber number without area code cannot be placed */
    tsps_decision d = fx_route("2222222", "+49301234567", T_WORK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_AMBIGUOUS);
    ck_assert_str_eq(d.code, "UNKNOWN");
}
END_TEST

START_TEST(test_route_ring_without_devices_falls_back)
{
    tsps_decision d;
    /* registrations expired */
    d = fx_route("+4989111111", "+49301234567", T_WORK + 7200);
    ck_assert(d.flags & TSPS_DEC_FALLBACK);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert_str_eq(d.targets[0].uri, "sip:vm-alice@pbx.example");
    /* without a voicemail box: reject as unavailable */
    {
        tsps_user u;
        ck_assert_int_eq(tsps_user_get(fx_eng, "alice", &u), TSPS_OK);
        u.voicemail_uri[0] = '\0';
        ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    }
    d = fx_route("+4989111111", "+49301234567", T_WORK + 7200);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    ck_assert_int_eq(d.method.a.reject, TSPS_REJECT_UNAVAILABLE);
}
END_TEST

START_TEST(test_route_each_method_gives_its_targets)
{
    static const struct {
        const char *spec;
        tsps_method_kind kind;
        const char *uri;
    } cases[] = {
        {"forward 0171 5555555", TSPS_METHOD_FORWARD, "+491715555555"},
        {"forward sip:desk@pbx.example", TSPS_METHOD_FORWARD,
         "sip:desk@pbx.example"},
        {"voicemail", TSPS_METHOD_VOICEMAIL, "sip:vm-alice@pbx.example"},
        {"voicemail sip:other-vm@pbx", TSPS_METHOD_VOICEMAIL,
         "sip:other-vm@pbx"},
        {"ivr sales-menu", TSPS_METHOD_IVR, "sales-menu"},
        {"attendant", TSPS_METHOD_ATTENDANT, "sip:reception@pbx.example"},
        {"reject busy", TSPS_METHOD_REJECT, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tsps_decision d;
        fx_rule("alice", "SALES", TSPS_STATUS_ANY, cases[i].spec);
        fx_contact("alice", "c-sales", "Sam Sales", "SALES", "+4922155555",
                   NULL);
        d = fx_route("+4922155555", "+49301234567", T_WORK);
        ck_assert_msg(d.method.kind == cases[i].kind, "case %s", cases[i].spec);
        if (cases[i].uri == NULL) {
            ck_assert_int_eq(d.ntargets, 0);
        } else {
            ck_assert_int_eq(d.ntargets, 1);
            ck_assert_str_eq(d.targets[0].uri, cases[i].uri);
        }
    }
}
END_TEST

START_TEST(test_route_every_status_selects_its_rule)
{
    /* one rule per status for FAMILY; set each status manually */
    static const char *const specs[TSPS_STATUS__COUNT] = {NULL,
                                                          "ring",
                                                          "voicemail",
                                                          "reject busy",
                                                          "forward +4917100001",
                                                          "attendant",
                                                          "ivr night"};
    static const tsps_method_kind kinds[TSPS_STATUS__COUNT] = {
        0,
        TSPS_METHOD_RING,
        TSPS_METHOD_VOICEMAIL,
        TSPS_METHOD_REJECT,
        TSPS_METHOD_FORWARD,
        TSPS_METHOD_ATTENDANT,
        TSPS_METHOD_IVR};
    for (int st = 1; st < TSPS_STATUS__COUNT; st++)
        fx_rule("alice", "FAMILY", (tsps_status)st, specs[st]);
    for (int st = 1; st < TSPS_STATUS__COUNT; st++) {
        tsps_decision d;
        ck_assert_int_eq(
            tsps_status_set(fx_eng, "alice", (tsps_status)st, 0, NULL),
            TSPS_OK);
        d = fx_route("+49302222222", "+49301234567", T_WORK);
        ck_assert_int_eq(d.status, st);
        ck_assert_int_eq(d.rule_status, st);
        ck_assert_msg(d.method.kind == kinds[st], "status %s",
                      tsps_status_name((tsps_status)st));
    }
}
END_TEST

START_TEST(test_route_override_supersedes_code)
{
    tsps_decision d = fx_route("+1 202 555 0143", "+49301234567", T_WORK), o;
    tsps_method m = fx_method("forward +49 171 2345678");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_ASK);
    ck_assert_int_eq(
        tsps_route_override(fx_eng, &d, &m, "alice", T_WORK + 5, &o), TSPS_OK);
    ck_assert(o.flags & TSPS_DEC_OVERRIDDEN);
    ck_assert_str_eq(o.actor, "alice");
    ck_assert_int_eq(o.method.kind, TSPS_METHOD_FORWARD);
    ck_assert_str_eq(o.targets[0].uri, "+491712345678");
    ck_assert_int_eq(fx_step(&o, TSPS_STEP_OVERRIDE)->outcome, TSPS_TR_OK);
    /* the original trace is kept in front of the override */
    ck_assert_int_eq(o.trace[0].step, TSPS_STEP_CALLED);
}
END_TEST

START_TEST(test_route_explain_and_json)
{
    char buf[8192];
    size_t need = 0;
    tsps_decision d = fx_route("+4989111111", "+49301234567", T_WORK);
    ck_assert_int_eq(tsps_decision_explain(&d, buf, sizeof(buf), &need),
                     TSPS_OK);
    ck_assert_ptr_nonnull(strstr(buf, "Victor Important"));
    ck_assert_ptr_nonnull(strstr(buf, "belongs to user alice"));
    ck_assert_ptr_nonnull(strstr(buf, "=> ring parallel"));
    ck_assert_int_eq(tsps_decision_explain(&d, buf, 10, &need), TSPS_ENOBUFS);
    ck_assert_uint_gt(need, 10);
    ck_assert_int_eq(tsps_decision_json(&d, buf, sizeof(buf), NULL), TSPS_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"code\":\"VIP\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"caller_kind\":\"known\""));
    /* names that are not UTF-8, or carry quotes and controls, stay JSON */
    fx_contact("alice", "c-bad", "Bad \xff\xfe \"Name\"\n\x01", "VIP",
               "+4930555000", NULL);
    d = fx_route("+4930555000", "+49301234567", T_WORK);
    ck_assert_int_eq(tsps_decision_json(&d, buf, sizeof(buf), NULL), TSPS_OK);
    ck_assert_ptr_nonnull(
        strstr(buf, "Bad \\ufffd\\ufffd \\\"Name\\\"\\u000a\\u0001"));
}
END_TEST

/* Route with and without TSPS_CALL_TRACE_LAZY; the decisions must read the
 * same (fx_same_decision). Returns the lazy one, still pending. */
static tsps_decision route_both(const char *from, const char *to, int64_t at)
{
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision eager, lazy;
    char text[4096];

    call.caller = from;
    call.called = to;
    call.now = at;
    ck_assert_int_eq(tsps_route(fx_eng, &call, &eager), TSPS_OK);
    call.flags = TSPS_CALL_TRACE_LAZY;
    ck_assert_int_eq(tsps_route(fx_eng, &call, &lazy), TSPS_OK);
    ck_assert(lazy.flags & TSPS_DEC_TRACE_PENDING);
    /* text of a pending step reads as empty until rendered (the called
     * number and the user are only recorded) */
    if (!(eager.flags & TSPS_DEC_UNKNOWN_NUMBER))
        ck_assert_str_eq(lazy.trace[0].what, "");
    fx_same_decision(&eager, &lazy);
    /* the explanation renders a copy: the decision stays pending */
    ck_assert_int_eq(tsps_decision_explain(&lazy, text, sizeof(text), NULL),
                     TSPS_OK);
    ck_assert(lazy.flags & TSPS_DEC_TRACE_PENDING);
    return lazy;
}

START_TEST(test_route_lazy_trace_renders_as_eager)
{
    static const char *const callers[] = {
        "+49 89 111111",         /* VIP, ring */
        "030 2222222",           /* national form, family */
        "+44 20 7946 0000",      /* blocked */
        "+49 40 333333",         /* no code: default rule */
        "+1 202 555 0143",       /* unknown: ask */
        "",                      /* withheld */
        NULL,                    /* withheld */
        "2222222",               /* local: ambiguous */
        "\xff\xfe garbage \x01", /* not a number */
        "+49 69 777777",         /* shared number, agreeing codes */
        "+49 69 666666",         /* two cards, different codes */
        "sip:+498911111@pbx.example;user=phone"};
    static const int64_t times[] = {T_WORK, T_WORK + 600, T_WORK + 7200,
                                    T_AT(0, 22, 0), T_AT(5, 11, 0)};
    tsps_decision lazy, eager, o1, o2;
    tsps_call_record rec;
    tsps_method m = fx_method("forward +49 171 2345678");
    uint64_t id;

    fx_rule("alice", "SALES", TSPS_STATUS_ANY, "forward +49 171 5555555");
    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "voicemail");
    fx_rule("alice", "*", TSPS_STATUS_OFF_HOURS, "attendant");
    fx_contact("alice", "c-s1", "Ann Lee", "SALES", "+49 69 777777", NULL);
    fx_contact("alice", "c-s0", "Acme Ltd", "SALES", "+49 69 777777", NULL);
    fx_contact("alice", "c-d1", "Desk One", "SALES", "+49 69 666666", NULL);
    fx_contact("alice", "c-d2", "Desk Two", "VIP", "+49 69 666666", NULL);
    add_event("mtg", T_WORK + 300, T_WORK + 1800, TSPS_BUSY_BUSY, 0,
              "mailto:victor@example.org");
    for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++)
        for (size_t c = 0; c < sizeof(callers) / sizeof(callers[0]); c++)
            route_both(callers[c], "+49301234567", times[t]);
    /* called numbers no user has, or that are not numbers */
    route_both("+49 89 111111", "+49 30 9999999", T_WORK);
    route_both("+49 89 111111", "not a number", T_WORK);
    /* a manual status with a note */
    ck_assert_int_eq(tsps_status_set(fx_eng, "alice", TSPS_STATUS_DND,
                                     T_WORK + 3600, "at the dentist"),
                     TSPS_OK);
    route_both("+49 40 333333", "+49301234567", T_WORK);
    /* overridden: the override renders the pending trace first, so the
     * old steps keep the targets they named */
    lazy = route_both("+1 202 555 0143", "+49301234567", T_WORK);
    {
        tsps_call call = TSPS_CALL_INIT;
        call.caller = "+1 202 555 0143";
        call.called = "+49301234567";
        call.now = T_WORK;
        ck_assert_int_eq(tsps_route(fx_eng, &call, &eager), TSPS_OK);
    }
    ck_assert_int_eq(
        tsps_route_override(fx_eng, &lazy, &m, "alice", T_WORK + 5, &o1),
        TSPS_OK);
    ck_assert_int_eq(
        tsps_route_override(fx_eng, &eager, &m, "alice", T_WORK + 5, &o2),
        TSPS_OK);
    ck_assert(!(o1.flags & TSPS_DEC_TRACE_PENDING));
    fx_same_decision(&o1, &o2);
    /* history keeps the text, not the sources */
    ck_assert_int_eq(
        tsps_history_append(fx_eng, &lazy, TSPS_OUTCOME_ROUTED, &id), TSPS_OK);
    ck_assert_int_eq(tsps_history_get(fx_eng, id, &rec), TSPS_OK);
    ck_assert(!(rec.decision.flags & TSPS_DEC_TRACE_PENDING));
    fx_same_decision(&rec.decision, &eager);
    ck_assert_str_eq(rec.decision.trace[0].what, "+49301234567");
    /* rendering twice, or an eager decision, changes nothing */
    ck_assert_int_eq(tsps_decision_trace_render(&o1), TSPS_OK);
    fx_same_decision(&o1, &o2);
    ck_assert_int_eq(tsps_decision_trace_render(NULL), TSPS_EINVAL);
}
END_TEST

START_TEST(test_route_bad_arguments)
{
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d;
    ck_assert_int_eq(tsps_route(NULL, &call, &d), TSPS_EINVAL);
    ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_EINVAL);
    call.called = "+49301234567";
    call.version = 99;
    ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_EVERSION);
    call.version = TSPS_CALL_VERSION;
    call.caller = "\xff\xfe garbage \x01";
    ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_OK);
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_UNKNOWN);
    call.called = "not a number";
    ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_OK);
    ck_assert(d.flags & TSPS_DEC_UNKNOWN_NUMBER);
}
END_TEST

static Suite *route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_add_test(tc, test_route_unknown_called_number);
    tcase_add_test(tc, test_route_vip_rings_all_devices_best_q_first);
    tcase_add_test(tc, test_route_national_caller_matches_contact);
    tcase_add_test(tc, test_route_unknown_and_withheld_callers);
    tcase_add_test(tc, test_route_blocked_caller_rejected);
    tcase_add_test(tc, test_route_known_contact_without_code_uses_wildcard);
    tcase_add_test(tc, test_route_sequential_devices_ring_in_written_order);
    tcase_add_test(tc, test_route_rule_precedence_per_status);
    tcase_add_test(tc, test_route_manual_status_expires);
    tcase_add_test(tc, test_route_working_hours_in_user_zone);
    tcase_add_test(tc, test_route_working_hours_across_dst);
    tcase_add_test(tc, test_route_no_hours_then_hours_saved_take_effect);
    tcase_add_test(tc, test_route_calendar_meeting_and_expected_caller);
    tcase_add_test(tc, test_route_calendar_free_cancelled_oof);
    tcase_add_test(tc, test_route_expected_caller_before_meeting_starts);
    tcase_add_test(tc, test_route_ambiguous_number_is_not_guessed);
    tcase_add_test(tc, test_route_shared_number_agreeing_codes_is_ambiguous);
    tcase_add_test(tc, test_route_shared_number_many_names_cut_short);
    tcase_add_test(tc, test_route_local_number_is_ambiguous);
    tcase_add_test(tc, test_route_ring_without_devices_falls_back);
    tcase_add_test(tc, test_route_each_method_gives_its_targets);
    tcase_add_test(tc, test_route_every_status_selects_its_rule);
    tcase_add_test(tc, test_route_override_supersedes_code);
    tcase_add_test(tc, test_route_explain_and_json);
    tcase_add_test(tc, test_route_bad_arguments);
    tcase_add_test(tc, test_route_lazy_trace_renders_as_eager);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(route_suite)

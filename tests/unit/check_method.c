/* Text forms: handling methods and working hours. */
#include <tsps/tsps.h>

#include "tsps_check.h"

static void round_trip(const char *in, const char *want)
{
    tsps_method m, m2;
    char buf[512], err[128];
    ck_assert_msg(tsps_method_parse(in, &m, err, sizeof(err)) == TSPS_OK,
                  "parse '%s': %s", in, err);
    ck_assert_int_eq(tsps_method_format(&m, buf, sizeof(buf), NULL), TSPS_OK);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(tsps_method_parse(buf, &m2, NULL, 0), TSPS_OK);
    ck_assert_int_eq(memcmp(&m, &m2, sizeof(m)), 0);
}

START_TEST(test_method_parse_round_trips)
{
    round_trip("ring", "ring parallel");
    round_trip("RING Sequential timeout=15 devices=Desk,mobile then voicemail",
               "ring sequential timeout=15 devices=desk,mobile then voicemail");
    round_trip("forward +49 30 1234567", "forward +49301234567");
    round_trip("forward sip:bob@example.org", "forward sip:bob@example.org");
    round_trip("voicemail", "voicemail");
    round_trip("voicemail sip:vm@pbx", "voicemail sip:vm@pbx");
    round_trip("ivr main", "ivr main");
    round_trip("attendant", "attendant");
    round_trip("reject", "reject busy");
    round_trip("reject decline", "reject decline");
    round_trip("reject unavailable", "reject unavailable");
    round_trip("ask", "ask timeout=20");
    round_trip("ask timeout=30 then attendant",
               "ask timeout=30 then attendant");
}
END_TEST

START_TEST(test_method_parse_errors)
{
    static const char *const bad[] = {"",
                                      "   ",
                                      "teleport",
                                      "ring timeout=0",
                                      "ring timeout=999",
                                      "ring devices=a,b,c,d,e",
                                      "ring bogus=1",
                                      "forward",
                                      "ivr",
                                      "reject maybe",
                                      "ask timeout=x",
                                      "ask then ask",
                                      "voicemail then ring",
                                      "ring then",
                                      "ring then voicemail extra words",
                                      "forward <script>alert(1)</script>",
                                      "forward t hen"};
    tsps_method m;
    char err[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(tsps_method_parse(bad[i], &m, err, sizeof(err)) ==
                          TSPS_EINVAL,
                      "'%s' parsed", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for '%s'", bad[i]);
        ck_assert_int_eq(m.kind, TSPS_METHOD_NONE);
    }
    ck_assert_int_eq(tsps_method_parse(NULL, &m, NULL, 0), TSPS_EINVAL);
}
END_TEST

START_TEST(test_method_format_small_buffer)
{
    tsps_method m;
    char buf[4];
    size_t need = 0;
    ck_assert_int_eq(
        tsps_method_parse("ask timeout=30 then voicemail", &m, NULL, 0),
        TSPS_OK);
    ck_assert_int_eq(tsps_method_format(&m, buf, sizeof(buf), &need),
                     TSPS_ENOBUFS);
    ck_assert_uint_eq(need, strlen("ask timeout=30 then voicemail") + 1);
}
END_TEST

START_TEST(test_hours_parse_format)
{
    tsps_hours h;
    char buf[256];
    ck_assert_int_eq(
        tsps_hours_parse("mon-fri 09:00-12:00,13:00-17:30; sat 10:00-12:00",
                         &h),
        TSPS_OK);
    ck_assert_uint_eq(h.range[1][0][0], 9 * 60);
    ck_assert_uint_eq(h.range[5][1][1], 17 * 60 + 30);
    ck_assert_uint_eq(h.range[6][0][0], 10 * 60);
    ck_assert_uint_eq(h.range[0][0][1], 0);
    ck_assert_int_eq(tsps_hours_format(&h, buf, sizeof(buf), NULL), TSPS_OK);
    ck_assert_str_eq(buf, "mon-fri 09:00-12:00,13:00-17:30; sat 10:00-12:00");
    ck_assert_int_eq(tsps_hours_parse("fri-mon 20:00-24:00", &h), TSPS_OK);
    ck_assert_uint_eq(h.range[0][0][1], 24 * 60);
    ck_assert_uint_eq(h.range[3][0][1], 0);
    ck_assert_int_eq(tsps_hours_parse("none", &h), TSPS_OK);
    ck_assert_int_eq(tsps_hours_format(&h, buf, sizeof(buf), NULL), TSPS_OK);
    ck_assert_str_eq(buf, "none");
    ck_assert_int_eq(tsps_hours_parse("mon 17:00-09:00", &h), TSPS_EINVAL);
    ck_assert_int_eq(tsps_hours_parse("funday 09:00-10:00", &h), TSPS_EINVAL);
    ck_assert_int_eq(tsps_hours_parse("mon 25:00-26:00", &h), TSPS_EINVAL);
    ck_assert_int_eq(
        tsps_hours_parse("mon 09:00-10:00,11:00-12:00,13:00-14:00", &h),
        TSPS_EINVAL);
}
END_TEST

START_TEST(test_status_names)
{
    for (int i = 0; i < TSPS_STATUS__COUNT; i++)
        ck_assert_int_eq(tsps_status_parse(tsps_status_name((tsps_status)i)),
                         i);
    ck_assert_int_eq(tsps_status_parse("In-Meeting"), TSPS_STATUS_IN_MEETING);
    ck_assert_int_eq(tsps_status_parse("asleep"), -1);
    ck_assert_str_eq(tsps_method_kind_name(TSPS_METHOD_ASK), "ask");
    ck_assert_str_eq(tsps_method_kind_name((tsps_method_kind)99), "invalid");
    ck_assert_str_eq(tsps_status_source_name(TSPS_STATUS_SRC_HOURS), "hours");
    ck_assert_str_eq(tsps_status_source_name((tsps_status_source)9), "invalid");
    ck_assert_str_eq(tsps_caller_kind_name(TSPS_CALLER_AMBIGUOUS), "ambiguous");
    ck_assert_str_eq(tsps_caller_kind_name((tsps_caller_kind)-1), "invalid");
}
END_TEST

static Suite *method_suite(void)
{
    Suite *s = suite_create("method");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_method_parse_round_trips);
    tcase_add_test(tc, test_method_parse_errors);
    tcase_add_test(tc, test_method_format_small_buffer);
    tcase_add_test(tc, test_hours_parse_format);
    tcase_add_test(tc, test_status_names);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(method_suite)

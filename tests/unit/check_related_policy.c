/* Per-code related-item criteria: the settings language parsed by
 * cmsb_related_policy_parse() into the query the daemon asks sources
 * with (cmsb_related_policy_query()), inheritance from the '*' rule and
 * the defaults, clear errors with line numbers, and the canonical form
 * written back (cmsb_related_policy_format()). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/cmsb.h>

#include "tsps_check.h"

#define NOW 1796000000LL
#define DAY 86400LL

static cmsb_related_policy *parse_ok(const char *text)
{
    cmsb_related_policy *p = NULL;
    char err[256];
    int rc = cmsb_related_policy_parse(text, &p, err, sizeof(err));

    if (rc != CMSB_OK)
        fprintf(stderr, "parse failed: %s\n", err);
    ck_assert_int_eq(rc, CMSB_OK);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void parse_bad(const char *text, const char *want)
{
    cmsb_related_policy *p = (cmsb_related_policy *)1;
    char err[256];

    ck_assert_int_eq(cmsb_related_policy_parse(text, &p, err, sizeof(err)),
                     CMSB_EPARSE);
    ck_assert_ptr_null(p);
    if (strstr(err, want) == NULL)
        ck_abort_msg("for \"%s\": error \"%s\" lacks \"%s\"", text, err, want);
}

START_TEST(test_policy_defaults)
{
    cmsb_related_policy *p = parse_ok(NULL);
    cmsb_related_query q;

    ck_assert_int_eq(cmsb_related_policy_query(p, "VIP", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.version, CMSB_RELATED_QUERY_VERSION);
    ck_assert_int_eq(q.since, NOW - 30 * DAY);
    ck_assert_int_eq(q.until, 0);
    ck_assert_uint_eq(q.limit, 20);
    ck_assert_uint_eq(q.kinds, 0);
    cmsb_related_policy_free(p);
    /* no policy at all: the same */
    ck_assert_int_eq(cmsb_related_policy_query(NULL, NULL, NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 30 * DAY);
    ck_assert_int_eq(cmsb_related_policy_query(NULL, NULL, NOW, NULL),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_policy_parse("", NULL, NULL, 0), CMSB_EINVAL);
}
END_TEST

START_TEST(test_policy_per_code)
{
    cmsb_related_policy *p = parse_ok(
        "# the user's settings\n"
        "*:      last 60 days, limit 10\n"
        "FAMILY: last 30 days, mail\n"
        "client: 180 days + documents; VIP: last 90 days and next 14\n"
        "  OFFICE : last 2w, next 12 hours, mail + events, limit 50  # x\n");
    cmsb_related_query q;

    /* a code without a rule, and no code: the '*' rule */
    ck_assert_int_eq(cmsb_related_policy_query(p, "UNKNOWN", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 60 * DAY);
    ck_assert_int_eq(q.until, 0);
    ck_assert_uint_eq(q.limit, 10);
    ck_assert_uint_eq(q.kinds, 0);
    ck_assert_int_eq(cmsb_related_policy_query(p, "", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 60 * DAY);
    /* FAMILY: own window and kinds, the limit from '*' */
    ck_assert_int_eq(cmsb_related_policy_query(p, "FAMILY", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 30 * DAY);
    ck_assert_uint_eq(q.kinds, CMSB_ITEM_EMAIL);
    ck_assert_uint_eq(q.limit, 10);
    /* codes match without regard to case; a bare duration is "last" */
    ck_assert_int_eq(cmsb_related_policy_query(p, "CLIENT", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 180 * DAY);
    ck_assert_uint_eq(q.kinds, CMSB_ITEM_DOCUMENT);
    ck_assert_int_eq(cmsb_related_policy_query(p, "vip", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 90 * DAY);
    ck_assert_int_eq(q.until, NOW + 14 * DAY); /* no unit: days */
    ck_assert_int_eq(cmsb_related_policy_query(p, "OFFICE", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, NOW - 14 * DAY);
    ck_assert_int_eq(q.until, NOW + 12 * 3600);
    ck_assert_uint_eq(q.kinds, CMSB_ITEM_EMAIL | CMSB_ITEM_EVENT);
    ck_assert_uint_eq(q.limit, 50);
    cmsb_related_policy_free(p);
}
END_TEST

START_TEST(test_policy_none_and_all)
{
    cmsb_related_policy *p =
        parse_ok("*: none\nVIP: last all, all\nBOSS: 1 year");
    cmsb_related_query q;

    /* nothing for callers without their own rule */
    ck_assert_int_eq(cmsb_related_policy_query(p, "FAMILY", NOW, &q),
                     CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_related_policy_query(p, NULL, NOW, &q),
                     CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_related_policy_query(p, "VIP", NOW, &q), CMSB_OK);
    ck_assert_int_eq(q.since, 0); /* all time */
    ck_assert_uint_eq(q.kinds, 0);
    ck_assert_uint_eq(q.limit, 20); /* the default: '*' says none only */
    cmsb_related_policy_free(p);
    parse_bad("BOSS: 1 year, 3 months", "\"last\" given twice");
    p = parse_ok("BLOCK: none");
    ck_assert_int_eq(cmsb_related_policy_query(p, "block", NOW, &q),
                     CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_related_policy_query(p, "VIP", NOW, &q), CMSB_OK);
    cmsb_related_policy_free(p);
}
END_TEST

START_TEST(test_policy_errors)
{
    char big[128 * 72 + 1];
    size_t o = 0;

    parse_bad("VIP last 3 days", "line 1: expected CODE: criteria");
    parse_bad("*: last 3d\n\nVIP: lst 3 days",
              "line 3: unknown word \"lst\" (expected last, next");
    parse_bad("VIP: last 3 fortnights", "unknown word \"fortnights\"");
    parse_bad("VIP: last 3x", "unknown unit \"x\"");
    parse_bad("VIP: last", "\"last\" needs a duration");
    parse_bad("VIP: last soon", "expected a number or \"all\"");
    parse_bad("VIP: last 3d\nvip: next 1d", "line 2: code \"vip\" has two");
    parse_bad("VIP: limit 0", "limit \"0\" out of range (1..1000)");
    parse_bad("VIP: limit 1001", "out of range");
    parse_bad("VIP: limit", "\"limit\" needs a number");
    parse_bad("VIP: none, last 3d", "\"none\" cannot be combined");
    parse_bad("V I P: last 3d", "bad code \"V I P\"");
    parse_bad(": last 3d", "bad code \"\"");
    parse_bad("VIP:", "rule \"VIP\" has no criteria");
    parse_bad("VIP: last 99999999999999999999 days", "too long");
    parse_bad("VIP: last 36501 days", "too long");
    parse_bad("VIP: last 3d; next 2d", "expected CODE: criteria");
    parse_bad("VIP: last 3d = 4", "unexpected character '='");
    parse_bad("VIP: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              "word too long");
    parse_bad("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789: last 1d", "bad code");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "C%d: last 1d\n", i);
    parse_bad(big, "line 65: more than 64 rules");
}
END_TEST

START_TEST(test_policy_format_round_trip)
{
    cmsb_related_policy *p =
        parse_ok("vip: next 14, last 90d and mail,events; *: limit 5\n"
                 "OFF: none\nX: last 36 hours, all, limit 1000");
    cmsb_related_policy *p2;
    char text[512], again[512], small[8];
    cmsb_related_query a, b;
    size_t n = cmsb_related_policy_format(p, text, sizeof(text));

    ck_assert_uint_eq(n, strlen(text));
    ck_assert_str_eq(text, "*: limit 5\n"
                           "VIP: last 90 days, next 14 days, mail + events\n"
                           "OFF: none\n"
                           "X: last 36 hours, all, limit 1000\n");
    p2 = parse_ok(text);
    ck_assert_uint_eq(cmsb_related_policy_format(p2, again, sizeof(again)), n);
    ck_assert_str_eq(again, text);
    for (int i = 0; i < 4; i++) {
        const char *codes[] = {"VIP", "OFF", "X", "OTHER"};
        int ra = cmsb_related_policy_query(p, codes[i], NOW, &a);
        int rb = cmsb_related_policy_query(p2, codes[i], NOW, &b);
        ck_assert_int_eq(ra, rb);
        ck_assert_mem_eq(&a, &b, sizeof(a));
    }
    /* a small buffer: cut, terminated, the size needed returned */
    ck_assert_uint_eq(cmsb_related_policy_format(p, small, sizeof(small)), n);
    ck_assert_str_eq(small, "*: limi");
    cmsb_related_policy_free(p);
    cmsb_related_policy_free(p2);
}
END_TEST

static Suite *related_policy_suite(void)
{
    Suite *s = suite_create("related_policy");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_policy_defaults);
    tcase_add_test(tc, test_policy_per_code);
    tcase_add_test(tc, test_policy_none_and_all);
    tcase_add_test(tc, test_policy_errors);
    tcase_add_test(tc, test_policy_format_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_policy_suite)

/*
 * iCalendar expansion (tests/data/ical/meetings.ics, an Outlook-shaped
 * export): RRULE in a VTIMEZONE'd TZID across a DST change, EXDATE, a
 * RECURRENCE-ID override that moves one instance, a cancelled instance,
 * an all-day OOF event, TRANSP/STATUS/X-MICROSOFT-CDO-BUSYSTATUS, RDATE,
 * attendees lower-cased, malformed events skipped with their line.
 */
#include "cmsb_test.h"

#include "vcard.h"

typedef struct evs {
    int n;
    tsps_event e[64];
    char org[64][TSPS_EMAIL_MAX];
    char errors[1024];
} evs;

static int on_ev(void *arg, const tsps_event *e, const char *org)
{
    evs *v = arg;
    if (v->n < 64) {
        v->e[v->n] = *e;
        snprintf(v->org[v->n], TSPS_EMAIL_MAX, "%s", org);
    }
    v->n++;
    return 0;
}

static void on_err(void *arg, int line, const char *reason)
{
    evs *v = arg;
    size_t n = strlen(v->errors);
    snprintf(v->errors + n, sizeof(v->errors) - n, "line=%d %s\n", line,
             reason);
}

static const tsps_event *find(const evs *v, const char *uid)
{
    for (int i = 0; i < v->n && i < 64; i++)
        if (strcmp(v->e[i].uid, uid) == 0)
            return &v->e[i];
    return NULL;
}

/* 2026-01-01T00:00:00Z and friends */
#define JAN1  1767225600LL
#define MAR1  1772323200LL
#define MAR20 1773964800LL
#define APR1  1775001600LL

static evs *expand(int64_t from, int64_t to)
{
    char path[512], *data;
    size_t len;
    evs *v = calloc(1, sizeof(*v));

    snprintf(path, sizeof(path), "%s/tests/data/ical/meetings.ics",
             TSPS_SOURCE_DIR);
    data = test_read(path, &len);
    ck_assert_int_eq(
        vc_ical_expand(data, len, from, to, "Europe/Berlin", on_ev, on_err, v),
        CMSB_OK);
    free(data);
    return v;
}

START_TEST(test_weekly_rrule_exdate_override)
{
    evs *v = expand(JAN1, APR1);
    const tsps_event *e;
    int weekly = 0;

    for (int i = 0; i < v->n; i++)
        weekly += strncmp(v->e[i].uid, "weekly-sync@", 12) == 0;
    /* 13 Mondays Jan 5 .. Mar 30, minus the EXDATE (Jan 19) = 12, one of
     * them moved, one cancelled (still reported, flagged) */
    ck_assert_int_eq(weekly, 12);
    ck_assert_ptr_null(find(v, "weekly-sync@example.com/20260119T090000Z"));
    /* 10:00 Berlin = 09:00Z in winter ... */
    e = find(v, "weekly-sync@example.com/20260105T090000Z");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->start, 1767603600LL);
    ck_assert_int_eq(e->end - e->start, 3600);
    ck_assert_int_eq(e->busy, TSPS_BUSY_BUSY);
    ck_assert_int_eq(e->nattendees, 3);
    ck_assert_str_eq(e->attendees[0], "alice@example.com");
    ck_assert_str_eq(e->attendees[1], "anna.schmidt@example.org");
    /* ... and 08:00Z after the switch to summer time */
    ck_assert_ptr_nonnull(find(v, "weekly-sync@example.com/20260330T080000Z"));
    /* the override keeps the original instance id, with its own time */
    e = find(v, "weekly-sync@example.com/20260126T090000Z");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->start, 1769518800LL); /* Jan 27 14:00 CET */
    ck_assert_str_eq(e->summary, "Weekly sync (moved)");
    e = find(v, "weekly-sync@example.com/20260202T090000Z");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->cancelled, 1);
    free(v);
}
END_TEST

START_TEST(test_busy_states_and_all_day)
{
    evs *v = expand(JAN1, APR1);
    const tsps_event *e;

    e = find(v, "offsite@example.com/20260209T230000Z");
    ck_assert_ptr_nonnull(e); /* all-day in Europe/Berlin */
    ck_assert_int_eq(e->busy, TSPS_BUSY_OOF);
    ck_assert_int_eq(e->end - e->start, 2 * 86400);
    e = find(v, "lunch@example.com/20260106T110000Z");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->busy, TSPS_BUSY_FREE);
    ck_assert_ptr_nonnull(find(v, "lunch@example.com/20260108T110000Z"));
    e = find(v, "maybe@example.com/20260107T090000Z");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->busy, TSPS_BUSY_TENTATIVE);
    ck_assert_int_eq(e->end - e->start, 1800);
    free(v);
}
END_TEST

START_TEST(test_malformed_events_located)
{
    evs *v = expand(JAN1, APR1);

    ck_assert_ptr_nonnull(strstr(v->errors, "line=71 VEVENT without UID"));
    ck_assert_ptr_nonnull(
        strstr(v->errors, "line=75 VEVENT without a valid DTSTART"));
    free(v);
}
END_TEST

START_TEST(test_window_clips)
{
    evs *v = expand(MAR1, MAR20);
    int weekly = 0;

    for (int i = 0; i < v->n; i++) {
        ck_assert_int_lt(v->e[i].start, MAR20);
        ck_assert_int_gt(v->e[i].end, MAR1);
        weekly += strncmp(v->e[i].uid, "weekly-sync@", 12) == 0;
    }
    ck_assert_int_eq(weekly, 3); /* Mar 2, 9, 16 */
    free(v);
}
END_TEST

START_TEST(test_not_icalendar)
{
    evs *v = calloc(1, sizeof(*v));
    const char *junk = "this is not a calendar\n";

    ck_assert_int_eq(
        vc_ical_expand(junk, strlen(junk), JAN1, APR1, "UTC", on_ev, on_err, v),
        CMSB_OK);
    ck_assert_int_eq(v->n, 0);
    ck_assert_ptr_nonnull(strstr(v->errors, "line=1"));
    free(v);
}
END_TEST

START_TEST(test_unbounded_rule_is_bounded)
{
    evs *v = calloc(1, sizeof(*v));
    const char *ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\n"
                      "DTSTART:19000101T000000Z\nDTEND:19000101T000001Z\n"
                      "RRULE:FREQ=SECONDLY\nEND:VEVENT\nEND:VCALENDAR\n";

    ck_assert_int_eq(
        vc_ical_expand(ics, strlen(ics), JAN1, APR1, "UTC", on_ev, on_err, v),
        CMSB_OK);
    ck_assert_int_le(v->n, 5001);
    free(v);
}
END_TEST

/* Two RRULEs, two EXDATEs and two RDATEs on one event: every rule is
 * expanded and every exclusion applies (libical's one-cursor-per-component
 * used to make the EXDATE lookup end the RRULE walk after the first rule). */
START_TEST(test_several_rules_and_exdates)
{
    evs *v = calloc(1, sizeof(*v));
    const char *ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:multi\n"
                      "DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\n"
                      "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4\n"
                      "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4\n"
                      "EXDATE:20260112T090000Z\nEXDATE:20260115T090000Z\n"
                      "RDATE:20260203T090000Z\nRDATE:20260204T090000Z\n"
                      "END:VEVENT\nEND:VCALENDAR\n";

    ck_assert_int_eq(
        vc_ical_expand(ics, strlen(ics), JAN1, APR1, "UTC", on_ev, on_err, v),
        CMSB_OK);
    /* Mondays 5, 12x, 19, 26; Thursdays 8, 15x, 22, 29; RDATEs 3 Feb, 4 Feb */
    ck_assert_int_eq(v->n, 8);
    ck_assert_ptr_nonnull(find(v, "multi/20260129T090000Z"));
    ck_assert_ptr_nonnull(find(v, "multi/20260204T090000Z"));
    ck_assert_ptr_null(find(v, "multi/20260112T090000Z"));
    ck_assert_ptr_null(find(v, "multi/20260115T090000Z"));
    free(v);
}
END_TEST

/* A rule libical cannot use is reported and the next one still runs (the
 * error lookup moved libical's cursor: the walk ended early, or, when the
 * event carried X-LIC-ERROR lines, started over forever). */
START_TEST(test_bad_rule_then_good_rule)
{
    evs *v = calloc(1, sizeof(*v));
    const char *ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:bad\n"
                      "DTSTART:20260105T090000Z\nDTEND:20260105T100000Z\n"
                      "RRULE:FREQ=DAILY;BYWEEKNO=2\n"
                      "RRULE:FREQ=DAILY;COUNT=3\n"
                      "END:VEVENT\nEND:VCALENDAR\n";

    ck_assert_int_eq(
        vc_ical_expand(ics, strlen(ics), JAN1, APR1, "UTC", on_ev, on_err, v),
        CMSB_OK);
    ck_assert_int_eq(v->n, 3);
    ck_assert_ptr_nonnull(find(v, "bad/20260107T090000Z"));
    free(v);
}
END_TEST

static Suite *ical_suite(void)
{
    Suite *s = suite_create("cmsb_ical");
    TCase *tc = tcase_create("expand");

    tcase_add_test(tc, test_weekly_rrule_exdate_override);
    tcase_add_test(tc, test_busy_states_and_all_day);
    tcase_add_test(tc, test_malformed_events_located);
    tcase_add_test(tc, test_window_clips);
    tcase_add_test(tc, test_not_icalendar);
    tcase_add_test(tc, test_unbounded_rule_is_bounded);
    tcase_add_test(tc, test_several_rules_and_exdates);
    tcase_add_test(tc, test_bad_rule_then_good_rule);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(ical_suite)

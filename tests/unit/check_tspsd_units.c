/* check_tspsd_units.c - the daemon's pure parts: framing, config parsing,
 * the reply arena, logfmt quoting. */
#include "arena.h"
#include "config.h"
#include "frame.h"
#include "log.h"
#include "related.h"
#include "tsps_check.h"

#include <stdio.h>
#include <string.h>

START_TEST(test_frame_next_complete_and_partial)
{
    uint8_t buf[16] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0};
    const uint8_t *p;
    size_t n, used;
    ck_assert_int_eq(tspsd_frame_next(buf, 3, 100, &p, &n, &used),
                     TSPSD_FRAME_MORE);
    ck_assert_int_eq(tspsd_frame_next(buf, 6, 100, &p, &n, &used),
                     TSPSD_FRAME_MORE);
    ck_assert_int_eq(tspsd_frame_next(buf, 9, 100, &p, &n, &used),
                     TSPSD_FRAME_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(used, 7);
    ck_assert(memcmp(p, "abc", 3) == 0);
}
END_TEST

START_TEST(test_frame_next_rejects_empty_and_oversized)
{
    uint8_t z[4] = {0, 0, 0, 0}, big[4];
    const uint8_t *p;
    size_t n, used;
    ck_assert_int_eq(tspsd_frame_next(z, 4, 100, &p, &n, &used),
                     TSPSD_FRAME_EEMPTY);
    tspsd_frame_header(big, 101);
    /* Decided on the header alone: no need to wait for 101 bytes. */
    ck_assert_int_eq(tspsd_frame_next(big, 4, 100, &p, &n, &used),
                     TSPSD_FRAME_ETOOBIG);
    ck_assert_uint_eq(tspsd_frame_len(big), 101);
}
END_TEST

static char dir[256];

static const char *write_conf(const char *text)
{
    static char path[300];
    snprintf(path, sizeof(path), "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_config_load_sections)
{
    tspsd_config c;
    char err[256], v[64];
    tsps_check_tmpdir(dir, sizeof(dir));
    tspsd_config_defaults(&c);
    const char *p = write_conf("[tspsd]\ndata_dir = /tmp/x\nlog_level = "
                               "debug\n[control]\nport = 0\n[metrics]\nport "
                               "= -1\n[admin]\nidentities = a, b\n"
                               "[source book]\nuri = vcard-dir:/x\nuser = "
                               "ann\ninterval = 30\ntz = Europe/Berlin\n");
    ck_assert_msg(tspsd_config_load(p, &c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.data_dir, "/tmp/x");
    ck_assert_int_eq(c.log_level, TSPSD_LOG_DEBUG);
    ck_assert_int_eq(c.ctl_port, 0);
    ck_assert_int_eq(c.metrics_port, -1);
    ck_assert_int_eq(c.nadmins, 2);
    ck_assert(tspsd_config_is_admin(&c, "b"));
    ck_assert(!tspsd_config_is_admin(&c, "c"));
    ck_assert_int_eq(c.nsources, 1);
    ck_assert_int_eq(c.sources[0].interval_s, 30);
    ck_assert_str_eq(tspsd_source_option(&c.sources[0], "tz", v, sizeof(v)),
                     "Europe/Berlin");
    tsps_check_rmdir(dir);
}
END_TEST

START_TEST(test_config_load_errors_name_the_line)
{
    tspsd_config c;
    char err[256];
    tsps_check_tmpdir(dir, sizeof(dir));
    tspsd_config_defaults(&c);
    const char *p = write_conf("[control]\nport = 99999\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ":2: [control] port: bad value") != NULL, "%s",
                  err);
    p = write_conf("[tspsd]\nfoo = 1\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "unknown key") != NULL, "%s", err);
    p = write_conf("[source x]\nuser = ann\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "needs uri= and user=") != NULL, "%s", err);
    tspsd_config_defaults(&c);
    p = write_conf("[source x]\nuri = vcard-dir:/x\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), -1);
    ck_assert_int_eq(
        tspsd_config_load("/nonexistent/x.conf", &c, err, sizeof(err)), -1);
    tsps_check_rmdir(dir);
}
END_TEST

START_TEST(test_config_related_webmail)
{
    tspsd_config c;
    char err[256];
    tsps_check_tmpdir(dir, sizeof(dir));
    tspsd_config_defaults(&c);
    const char *p =
        write_conf("[related m]\nuri = imap://127.0.0.1/\nuser = ann\n"
                   "webmail = https://mail.example.org/?_uid={uid}\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), 0);
    tspsd_config_defaults(&c);
    p = write_conf("[related m]\nuri = imap://127.0.0.1/\nuser = ann\n"
                   "webmail = javascript:alert(1)//{uid}\n");
    ck_assert_int_eq(tspsd_config_load(p, &c, err, sizeof(err)), -1);
    ck_assert_msg(
        strstr(err, "[related m] webmail= must start with https://") != NULL,
        "%s", err);
    tsps_check_rmdir(dir);
}
END_TEST

START_TEST(test_related_webmail_link)
{
    char out[256];
    const char *u = "imap://127.0.0.1:1143/Sent%20Items;UIDVALIDITY=77/;UID=42";

    ck_assert_int_eq(
        tspsd_related_webmail_link(
            "https://wm.example.org/?_mbox={mailbox}&_uid={uid}&v={uidvalidity}"
            "&m={message_id}&{other}",
            u, "<a b&c@example.org>", out, sizeof(out)),
        0);
    ck_assert_str_eq(out, "https://wm.example.org/?_mbox=Sent%20Items&_uid=42&"
                          "v=77&m=a%20b%26c%40example.org&{other}");
    /* a mailbox name cannot add URL syntax */
    ck_assert_int_eq(
        tspsd_related_webmail_link("https://w/?m={mailbox}",
                                   "imaps://h/a&b=c\"x;UIDVALIDITY=1/;UID=2",
                                   "", out, sizeof(out)),
        0);
    ck_assert_str_eq(out, "https://w/?m=a%26b%3Dc%22x");
    /* not an IMAP message (maildir file://): no webmail link */
    ck_assert_int_eq(tspsd_related_webmail_link("https://w/{uid}",
                                                "file:///m/cur/1", "", out,
                                                sizeof(out)),
                     -1);
    /* a value at the end that does not fit: no link rather than a cut one */
    ck_assert_int_eq(tspsd_related_webmail_link("https://w/?m={message_id}", u,
                                                "<0123456789abcdef@x>", out,
                                                24),
                     -1);
    /* does not fit: no link rather than a cut one */
    ck_assert_int_eq(
        tspsd_related_webmail_link(
            "https://a-long-host.example.org/?_uid={uid}", u, "", out, 24),
        -1);
}
END_TEST

START_TEST(test_arena_push_and_reset)
{
    tspsd_arena a = TSPSD_ARENA_INIT;
    void **arr = NULL;
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(
            tspsd_arena_push(&a, &arr, &n, tspsd_arena_printf(&a, "%d", i)), 0);
    ck_assert_uint_eq(n, 1000);
    ck_assert_str_eq((char *)arr[999], "999");
    ck_assert_str_eq((char *)arr[0], "0");
    char *big = tspsd_arena_alloc(&a, 100000);
    ck_assert_ptr_nonnull(big);
    tspsd_arena_reset(&a);
    ck_assert_str_eq(tspsd_arena_strdup(&a, NULL), "");
    tspsd_arena_free(&a);
}
END_TEST

START_TEST(test_log_quote)
{
    char b[64];
    ck_assert_str_eq(tspsd_log_quote("plain", b, sizeof(b)), "plain");
    ck_assert_str_eq(tspsd_log_quote("a b", b, sizeof(b)), "\"a b\"");
    ck_assert_str_eq(tspsd_log_quote("x\"y\n", b, sizeof(b)), "\"x\\\"y\"");
    ck_assert_str_eq(tspsd_log_quote("", b, sizeof(b)), "\"\"");
}
END_TEST

static Suite *units_suite(void)
{
    Suite *s = suite_create("tspsd_units");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, test_frame_next_complete_and_partial);
    tcase_add_test(tc, test_frame_next_rejects_empty_and_oversized);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, test_config_load_sections);
    tcase_add_test(tc, test_config_load_errors_name_the_line);
    tcase_add_test(tc, test_config_related_webmail);
    tcase_add_test(tc, test_related_webmail_link);
    suite_add_tcase(s, tc);
    tc = tcase_create("misc");
    tcase_add_test(tc, test_arena_push_and_reset);
    tcase_add_test(tc, test_log_quote);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(units_suite)

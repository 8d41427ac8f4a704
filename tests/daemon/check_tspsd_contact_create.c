/*
 * check_tspsd_contact_create.c - "add to contacts" (contact.create, tspsctl
 * contact add) against a real tspsd with a vcard-dir source: the card is
 * written with the chosen code, the source syncs, and the next call from
 * the number routes with that code; who may add, and the errors in words
 * (no source that can add, a source that is not the user's, bad input).
 * The CardDAV path against a real Radicale is in the web browser test.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536], book[300];

#define CALLER "+12125550188"

static void setup(void)
{
    char extra[1024];
    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    snprintf(book, sizeof(book), "%s/book", fx.dir);
    ck_assert_int_eq(mkdir(book, 0700), 0);
    snprintf(extra, sizeof(extra),
             "[source annbook]\nuri = vcard-dir:%s\nuser = ann\n"
             "interval = 0\n",
             book);
    th_start(&fx, extra);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_user_put(a, "bob", BOB_NUMBER), 0);
    ck_assert_int_eq(fx_code_set(a, "ann", "FAMILY", "any", "forward +1999"),
                     0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, NULL), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "attno", 1, 0, NULL), 0);
    tspsd_client_close(a);
}

/* Number of .vcf files in the book. */
static int cards(void)
{
    int n = 0;
    DIR *d = opendir(book);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".vcf") != NULL;
    closedir(d);
    return n;
}

/* Route a call from `from` to ann as `who` until its code is `code`
 * (the sync that follows the add runs on a worker). */
static int routes_with(const char *from, const char *code)
{
    char cmd[200], want[64];
    snprintf(cmd, sizeof(cmd), "route --from %s --to " ANN_NUMBER, from);
    snprintf(want, sizeof(want), "code      %s", code);
    for (int i = 0; i < 200; i++) {
        if (th_ctl(&fx, "ann", cmd, out, sizeof(out)) == 0 &&
            strstr(out, want) != NULL)
            return 1;
        usleep(50000);
    }
    return 0;
}

START_TEST(test_contact_add_writes_card_and_next_call_routes_with_code)
{
    /* Unknown before. */
    int rc = th_ctl(&fx, "ann", "route --from " CALLER " --to " ANN_NUMBER, out,
                    sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "code      FAMILY") == NULL, "%s",
                  out);
    rc = th_ctl(&fx, "ann",
                "contact add ann --number " CALLER
                " --name \"Fiona Family\" --code FAMILY",
                out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "added to annbook"), "rc %d: %s", rc,
                  out);
    ck_assert_int_eq(cards(), 1);
    ck_assert(routes_with(CALLER, "FAMILY"));
    rc = th_ctl(&fx, "ann", "contact list ann Fiona", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "Fiona Family"), "%s", out);
}
END_TEST

START_TEST(test_contact_add_rights)
{
    /* An attendant with the act right may; one with monitor only, another
     * user, may not; an admin may. Refusals write nothing. */
    int rc = th_ctl(&fx, "attno",
                    "contact add ann --number +12125550191 --code FAMILY", out,
                    sizeof(out));
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "bob",
                "contact add ann --number +12125550192 --code FAMILY", out,
                sizeof(out));
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
    ck_assert_int_eq(cards(), 0);
    rc = th_ctl(&fx, "att",
                "contact add ann --number +12125550193 --code FAMILY", out,
                sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "admin",
                "contact add ann --number +12125550194 --code FAMILY", out,
                sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_int_eq(cards(), 2);
    ck_assert(routes_with("+12125550193", "FAMILY"));
    /* An attendant delegated VIP callers only files callers under VIP. */
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_code_set(a, "ann", "VIP", "any", "forward +1998"), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, "VIP"), 0);
    tspsd_client_close(a);
    rc = th_ctl(&fx, "att",
                "contact add ann --number +12125550198 --code FAMILY", out,
                sizeof(out));
    ck_assert_msg(rc == 2 && strstr(out, "code FAMILY not delegated"),
                  "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "att", "contact add ann --number +12125550198 --code VIP",
                out, sizeof(out));
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_int_eq(cards(), 3);
}
END_TEST

START_TEST(test_contact_add_errors_in_words)
{
    /* bob has no source. */
    int rc = th_ctl(&fx, "bob", "contact add bob --number +12125550195", out,
                    sizeof(out));
    ck_assert_msg(rc == 3 && strstr(out, "no source of bob can add contacts"),
                  "rc %d: %s", rc, out);
    /* A source that is not ann's. */
    rc = th_ctl(&fx, "ann",
                "contact add ann --number +12125550196 --source other", out,
                sizeof(out));
    ck_assert_msg(rc == 3 && strstr(out, "ann has no source other"),
                  "rc %d: %s", rc, out);
    /* Nothing to name the card by; a bad code. */
    rc = th_ctl(&fx, "ann", "contact add ann", out, sizeof(out));
    ck_assert_msg(rc == 5 && strstr(out, "a name, number or email"),
                  "rc %d: %s", rc, out);
    rc = th_ctl(&fx, "ann",
                "contact add ann --number +12125550197 --code \"A B\"", out,
                sizeof(out));
    ck_assert_msg(rc == 5 && strstr(out, "refused the contact"), "rc %d: %s",
                  rc, out);
    ck_assert_int_eq(cards(), 0);
}
END_TEST

static Suite *contact_create_suite(void)
{
    Suite *s = suite_create("tspsd_contact_create");
    TCase *tc = tcase_create("add");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   test_contact_add_writes_card_and_next_call_routes_with_code);
    tcase_add_test(tc, test_contact_add_rights);
    tcase_add_test(tc, test_contact_add_errors_in_words);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(contact_create_suite)

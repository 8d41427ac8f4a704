/* The maildir adapter on a Maildir++ tree made by the test: decoded
 * headers, snippets and attachment names, every address of the person,
 * date criteria, the limit, bad messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/adapter.h>

#include "cmsb_test.h"
#include "related_test.h"
#include "tsps_check.h"

typedef struct fx {
    char dir[512], root[600];
    cmsb_registry *reg;
    cmsb_source *src;
    test_logbuf log;
} fx;

static void fx_open(fx *f)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char uri[700];

    memset(f, 0, sizeof(*f));
    tsps_check_tmpdir(f->dir, sizeof(f->dir));
    snprintf(f->root, sizeof(f->root), "%s/Maildir", f->dir);
    rt_corpus(f->root);
    o.log = test_log;
    o.log_arg = &f->log;
    ck_assert_int_eq(cmsb_registry_open(&f->reg), CMSB_OK);
    snprintf(uri, sizeof(uri), "maildir:%s", f->root);
    ck_assert_int_eq(cmsb_source_open(f->reg, uri, &o, &f->src), CMSB_OK);
}

static void fx_close(fx *f)
{
    cmsb_source_close(f->src);
    cmsb_registry_close(f->reg);
    tsps_check_rmdir(f->dir);
}

START_TEST(test_maildir_corpus)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};

    fx_open(&f);
    rt_anna(&anna);
    ck_assert_uint_eq(cmsb_source_caps(f.src) & CMSB_CAP_RELATED_FOR,
                      CMSB_CAP_RELATED_FOR);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    rt_check_corpus(&g);
    ck_assert_ptr_nonnull(strstr(g.url[3], "file:///"));
    ck_assert_ptr_nonnull(strstr(g.url[3], "/cur/1795000001.M1P1.test:2,S"));
    fx_close(&f);
}
END_TEST

START_TEST(test_maildir_dates_and_limit)
{
    fx f;
    tsps_contact anna;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    rt_got g = {0};

    fx_open(&f);
    rt_anna(&anna);
    q.since = T_NOV01;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 4); /* not the October lunch */
    memset(&g, 0, sizeof(g));
    q.until = T_NOV26;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.title[0], "Vertrag – Entwurf 2");
    ck_assert_str_eq(g.title[1], "Grüße aus Berlin");
    memset(&g, 0, sizeof(g));
    q.since = q.until = 0;
    q.limit = 2;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.title[0], "Kick-off");
    /* documents only: a mail store has none */
    memset(&g, 0, sizeof(g));
    q.limit = 0;
    q.kinds = CMSB_ITEM_DOCUMENT;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_close(&f);
}
END_TEST

START_TEST(test_maildir_one_address)
{
    fx f;
    tsps_contact c;
    rt_got g = {0};

    fx_open(&f);
    /* only the work address, written in another case than in the mail */
    rt_anna(&c);
    c.nemails = 1;
    snprintf(c.emails[0], sizeof(c.emails[0]), "Anna.Berg@WORK.example.com");
    ck_assert_int_eq(cmsb_related_for(f.src, &c, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.title[0], "Vertrag – Entwurf 2");
    /* no address at all: nothing, not everything */
    memset(&g, 0, sizeof(g));
    c.nemails = 0;
    ck_assert_int_eq(cmsb_related_for(f.src, &c, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_close(&f);
}
END_TEST

START_TEST(test_maildir_bad_messages)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char cur[700];
    char big[70000];

    fx_open(&f);
    rt_anna(&anna);
    snprintf(cur, sizeof(cur), "%s/cur", f.root);
    /* binary junk naming her, an empty file, a header without end, a
     * header block longer than the first read */
    rt_put(cur, "junk:2,S", "From: anna@example.org\r\n\x01\x02\xff\xfe");
    rt_put(cur, "empty:2,S", "");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "From: anna@example.org\r\nX-Long: ", 32);
    rt_put(cur, "long:2,S", big);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    /* the five real ones are still there, newest first */
    ck_assert_int_ge(g.n, 5);
    ck_assert_str_eq(g.title[0], "Kick-off");
    fx_close(&f);
}
END_TEST

START_TEST(test_maildir_open_errors)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_int_eq(cmsb_source_open(reg, "maildir:relative/path", NULL, &src),
                     CMSB_EINVAL);
    ck_assert_int_eq(
        cmsb_source_open(reg, "maildir:/nonexistent/tsps/x", NULL, &src),
        CMSB_EIO);
    ck_assert_ptr_null(src);
    cmsb_registry_close(reg);
}
END_TEST

static Suite *related_maildir_suite(void)
{
    Suite *s = suite_create("related_maildir");
    TCase *tc = tcase_create("maildir");

    tcase_add_test(tc, test_maildir_corpus);
    tcase_add_test(tc, test_maildir_dates_and_limit);
    tcase_add_test(tc, test_maildir_one_address);
    tcase_add_test(tc, test_maildir_bad_messages);
    tcase_add_test(tc, test_maildir_open_errors);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_maildir_suite)

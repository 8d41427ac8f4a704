/* The docs-dir adapter on a documents folder made by the test: PDF (made
 * with cairo, read by poppler), ODT and DOCX (zip made with libzip), Markdown,
 * plain text, .eml, an unreadable PDF; matched by e-mail, phone number in
 * any written form, name and organisation in file name, folder or text;
 * indexed incrementally on change; a lookup reads only the index. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "cmsb_test.h"
#include "related_docs.h"
#include "related_test.h"
#include "tsps_check.h"

typedef struct fx {
    char dir[512], root[600];
    cmsb_registry *reg;
    cmsb_source *src;
    test_logbuf log;
    int errors;
    char error_file[256], error_reason[256];
} fx;

static int on_change(void *arg, const cmsb_change *ch)
{
    fx *f = arg;

    if (ch->kind == CMSB_CHANGE_ERROR) {
        f->errors++;
        snprintf(f->error_file, sizeof(f->error_file), "%s", ch->file);
        snprintf(f->error_reason, sizeof(f->error_reason), "%s", ch->reason);
    }
    return 0;
}

static void fx_reopen(fx *f, const char *opts)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char uri[800];

    cmsb_source_close(f->src);
    f->src = NULL;
    o.log = test_log;
    o.log_arg = &f->log;
    snprintf(uri, sizeof(uri), "docs-dir:%s%s", f->root, opts);
    ck_assert_int_eq(cmsb_source_open(f->reg, uri, &o, &f->src), CMSB_OK);
}

static void fx_open(fx *f, const char *opts)
{
    memset(f, 0, sizeof(*f));
    tsps_check_tmpdir(f->dir, sizeof(f->dir));
    snprintf(f->root, sizeof(f->root), "%s/docs", f->dir);
    make_docs(f->root);
    ck_assert_int_eq(cmsb_registry_open(&f->reg), CMSB_OK);
    fx_reopen(f, opts);
}

static void fx_sync(fx *f)
{
    f->log.text[0] = '\0';
    ck_assert_int_eq(cmsb_changes(f->src, NULL, on_change, f), CMSB_OK);
}

static void fx_close(fx *f)
{
    cmsb_source_close(f->src);
    cmsb_registry_close(f->reg);
    tsps_check_rmdir(f->dir);
}

START_TEST(test_docs_match)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    /* the unreadable PDF is reported, and still indexed by its name */
    ck_assert_int_eq(f.errors, 1);
    ck_assert_str_eq(f.error_file, "Anna_Berg_CV.pdf");
    ck_assert_ptr_nonnull(strstr(f.error_reason, "PDF"));
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=9 read=9"));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    /* a mail store's kind only: nothing */
    {
        cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
        rt_got e = {0};
        q.kinds = CMSB_ITEM_EMAIL;
        ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &e),
                         CMSB_OK);
        ck_assert_int_eq(e.n, 0);
    }
    fx_close(&f);
}
END_TEST

START_TEST(test_docs_without_region)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};

    /* no dial plan: "(030) 123 45-67" cannot be read, "+49 30 ..." can */
    fx_open(&f, "");
    rt_anna(&anna);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 6);
    ck_assert_int_lt(find(&g, "/call-notes.txt"), 0);
    ck_assert_int_ge(find(&g, "/brief.docx"), 0);
    fx_close(&f);
}
END_TEST

static int wait_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 10000) == 1;
}

START_TEST(test_docs_incremental)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char d[800], p[900];
    int fd = -1;

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_watch_fd(f.src, &fd), CMSB_OK);
    ck_assert_int_ge(fd, 0);
    /* nothing changed: nothing read again */
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=9 read=0 removed=0"));
    /* bob's notes now name her; the CV goes */
    snprintf(d, sizeof(d), "%s/other", f.root);
    rt_put(d, "bob.md", "# Bob\n\nmet Anna Berg today\n");
    snprintf(p, sizeof(p), "%s/Anna_Berg_CV.pdf", f.root);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert(wait_readable(fd));
    ck_assert_int_eq(cmsb_watch_drain(f.src), 1);
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=8 read=1 removed=1"));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 7);
    ck_assert_int_ge(find(&g, "/other/bob.md"), 0);
    ck_assert_int_lt(find(&g, "/Anna_Berg_CV.pdf"), 0);
    /* a new folder with a document in it */
    snprintf(d, sizeof(d), "%s/new/deeper", f.root);
    rt_put(d, "n.md", "anna@example.org\n");
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "read=1 removed=0"));
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 8);
    fx_close(&f);
}
END_TEST

START_TEST(test_docs_lookup_reads_the_index_only)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char moved[700];

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    /* the files are gone from where they were: the lookup still answers
     * from the index */
    snprintf(moved, sizeof(moved), "%s/elsewhere", f.dir);
    ck_assert_int_eq(rename(f.root, moved), 0);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    ck_assert_int_eq(rename(moved, f.root), 0);
    /* a source opened again reads the saved index, no sync needed */
    fx_reopen(&f, "?region=DE");
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    fx_close(&f);
}
END_TEST

static void set_mtime(const char *root, const char *rel, int64_t t)
{
    char p[900];
    struct timespec ts[2] = {{(time_t)t, 0}, {(time_t)t, 0}};

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
}

START_TEST(test_docs_dates)
{
    fx f;
    tsps_contact anna;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    rt_got g = {0};

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    set_mtime(f.root, "contracts/Vertrag.pdf", T_NOV01 + 3600);
    set_mtime(f.root, "contracts/brief.docx", T_NOV26 + 3600);
    set_mtime(f.root, "mail/thread.eml", T_NOV01 - 86400);
    fx_sync(&f);
    q.since = T_NOV01;
    q.until = T_NOV26;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_ptr_nonnull(strstr(g.url[0], "/Vertrag.pdf"));
    ck_assert_int_eq(g.date[0], T_NOV01 + 3600);
    /* newest first, limited */
    memset(&g, 0, sizeof(g));
    q.since = q.until = 0;
    q.limit = 3;
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, &q, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 3);
    ck_assert_int_ge(g.date[0], g.date[1]);
    ck_assert_int_ge(g.date[1], g.date[2]);
    fx_close(&f);
}
END_TEST

START_TEST(test_docs_bad_index_and_uri)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char idx[800];
    cmsb_source *s2 = NULL;
    char uri[1400];

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    /* a damaged index: logged, rebuilt by the next sync */
    snprintf(idx, sizeof(idx), "%s/.tsps-docs-index", f.root);
    rt_put(f.root, ".tsps-docs-index",
           "tsps-docs-index 1 3\nD 1 2 3 999999 x\n");
    f.log.text[0] = '\0';
    fx_reopen(&f, "?region=DE");
    ck_assert_ptr_nonnull(strstr(f.log.text, "index unreadable"));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    /* the index elsewhere */
    snprintf(uri, sizeof(uri), "docs-dir:%s?region=DE&index=%s/idx2", f.root,
             f.dir);
    ck_assert_int_eq(cmsb_source_open(f.reg, uri, NULL, &s2), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(s2, NULL, on_change, &f), CMSB_OK);
    cmsb_source_close(s2);
    snprintf(idx, sizeof(idx), "%s/idx2", f.dir);
    ck_assert_int_eq(access(idx, R_OK), 0);
    /* bad URIs */
    snprintf(uri, sizeof(uri), "docs-dir:%s?colour=blue", f.root);
    ck_assert_int_eq(cmsb_source_open(f.reg, uri, NULL, &s2), CMSB_EINVAL);
    snprintf(uri, sizeof(uri), "docs-dir:%s?region=QQ", f.root);
    ck_assert_int_eq(cmsb_source_open(f.reg, uri, NULL, &s2), CMSB_EINVAL);
    ck_assert_int_eq(
        cmsb_source_open(f.reg, "docs-dir:/nonexistent/tsps-x", NULL, &s2),
        CMSB_EIO);
    ck_assert_ptr_null(s2);
    fx_close(&f);
}
END_TEST

START_TEST(test_docs_nul_bytes)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char p[900];
    static const char text[] = "header\0\0\0 then anna@example.org later";
    FILE *fp;

    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    /* a NUL early in a text file does not hide the rest (found by
     * fuzz_docs) */
    snprintf(p, sizeof(p), "%s/other/export.txt", f.root);
    fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, fp), sizeof(text) - 1);
    fclose(fp);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_ge(find(&g, "/other/export.txt"), 0);
    fx_close(&f);
}
END_TEST

START_TEST(test_docs_through_cmsb_sync)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    tsps_engine *eng;
    cmsb_sync_stats st;

    /* what tspsd's sync worker runs when the watch fd fires: the index is
     * brought up to date, the damaged file counted, nothing stored */
    fx_open(&f, "?region=DE");
    rt_anna(&anna);
    eng = test_engine(f.dir);
    ck_assert_int_eq(cmsb_sync(f.src, eng, TEST_USER, "docs", 0, &st), CMSB_OK);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(st.contacts_put, 0);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    ck_assert_int_eq(cmsb_sync(f.src, eng, TEST_USER, "docs", 0, &st), CMSB_OK);
    tsps_engine_close(eng);
    fx_close(&f);
}
END_TEST

static Suite *related_docs_suite(void)
{
    Suite *s = suite_create("related_docs");
    TCase *tc = tcase_create("docs-dir");

    tcase_add_test(tc, test_docs_match);
    tcase_add_test(tc, test_docs_without_region);
    tcase_add_test(tc, test_docs_incremental);
    tcase_add_test(tc, test_docs_lookup_reads_the_index_only);
    tcase_add_test(tc, test_docs_dates);
    tcase_add_test(tc, test_docs_bad_index_and_uri);
    tcase_add_test(tc, test_docs_nul_bytes);
    tcase_add_test(tc, test_docs_through_cmsb_sync);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_docs_suite)

/* The docs-dav adapter against a real WebDAV server: Apache httpd with
 * mod_dav_fs (tests/related/apache_dav.sh) on a free loopback port, Basic
 * auth, serving the documents folder the docs-dir suite uses (PDF, ODT,
 * DOCX, Markdown, text, .eml). Found for the caller as docs-dir finds
 * them; a changed, a deleted and a new document seen after a refresh and
 * only those fetched again; wrong password = CMSB_EAUTH without the
 * password in the log; a stopped or stalled server = a bounded CMSB_EIO
 * with the index kept; HTTPS verified against a test CA. Exit 77 when apache2
 * is not installed. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "cmsb_test.h"
#include "related_docs.h"
#include "related_test.h"
#include "tsps_check.h"

static char g_dir[512];
static int g_port, g_sport;
static const int g_timeout_ms = 15000; /* generous: a loaded CI machine */

static int start_apache(const char *dir, int *port, int *sport)
{
    char cmd[1200];
    FILE *p;
    int rc;

    snprintf(cmd, sizeof(cmd), "%s/tests/related/apache_dav.sh start '%s'",
             TSPS_SOURCE_DIR, dir);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (fscanf(p, "%d %d", port, sport) != 2)
        *port = 0;
    rc = pclose(p);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
        return 77;
    return (rc == 0 && *port > 0) ? 0 : -1;
}

static void stop_apache(const char *dir)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "%s/tests/related/apache_dav.sh stop '%s'",
             TSPS_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "apache stop failed\n");
}

typedef struct fx {
    char root[700]; /* the folder the server serves as /docs/<name>/ */
    char name[64];
    int port;
    int tls;      /* https on port with the test CA as ca_file */
    char ca[600]; /* "" = no ca_file */
    cmsb_registry *reg;
    cmsb_source *src;
    test_logbuf log;
    int errors;
} fx;

static int on_change(void *arg, const cmsb_change *ch)
{
    fx *f = arg;

    if (ch->kind == CMSB_CHANGE_ERROR)
        f->errors++;
    return 0;
}

static int fx_open_as(fx *f, const char *user, const char *pass,
                      const char *frag, int timeout_ms)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    char uri[900];

    cmsb_source_close(f->src);
    f->src = NULL;
    o.log = test_log;
    o.log_arg = &f->log;
    o.username = user;
    o.password = pass;
    o.timeout_ms = timeout_ms;
    o.ca_file = f->ca[0] != '\0' ? f->ca : NULL;
    snprintf(uri, sizeof(uri), "docs-dav:%s://127.0.0.1:%d/docs/%s/%s",
             f->tls ? "https" : "http", f->port, f->name, frag);
    return cmsb_source_open(f->reg, uri, &o, &f->src);
}

static void fx_open(fx *f, const char *name, const char *frag)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->root, sizeof(f->root), "%s/docs/%s", g_dir, name);
    f->port = g_port;
    make_docs(f->root);
    ck_assert_int_eq(cmsb_registry_open(&f->reg), CMSB_OK);
    ck_assert_int_eq(fx_open_as(f, "alice", "secret", frag, g_timeout_ms),
                     CMSB_OK);
}

static int fx_sync_rc(fx *f)
{
    f->log.text[0] = '\0';
    return cmsb_changes(f->src, NULL, on_change, f);
}

static void fx_sync(fx *f)
{
    ck_assert_int_eq(fx_sync_rc(f), CMSB_OK);
}

static void fx_close(fx *f)
{
    cmsb_source_close(f->src);
    cmsb_registry_close(f->reg);
}

START_TEST(test_dav_docs_match)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char prefix[200];

    fx_open(&f, "match", "#region=DE");
    rt_anna(&anna);
    /* before the first refresh the index is empty */
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=9 read=9 removed=0"));
    ck_assert_int_eq(f.errors, 1); /* the CV that is not a PDF */
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    /* the links open the document on the server */
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/docs/match/", f.port);
    for (int i = 0; i < g.n; i++)
        ck_assert_msg(strncmp(g.url[i], prefix, strlen(prefix)) == 0, "%s",
                      g.url[i]);
    /* nobody else's */
    {
        tsps_contact bob;
        rt_got gb = {0};
        tsps_contact_init(&bob);
        snprintf(bob.uid, sizeof(bob.uid), "bob");
        snprintf(bob.name, sizeof(bob.name), "Carl Unrelated");
        ck_assert_int_eq(cmsb_related_for(f.src, &bob, NULL, rt_collect, &gb),
                         CMSB_OK);
        ck_assert_int_eq(gb.n, 0);
    }
    fx_close(&f);
}
END_TEST

START_TEST(test_dav_docs_incremental)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char d[800], p[900];

    fx_open(&f, "incr", "#region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    /* nothing changed: nothing fetched again */
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=9 read=0 removed=0"));
    ck_assert_ptr_null(strstr(f.log.text, "method=GET"));
    /* bob's notes now name her; the CV goes */
    snprintf(d, sizeof(d), "%s/other", f.root);
    rt_put(d, "bob.md", "# Bob\n\nmet Anna Berg today at the fair\n");
    snprintf(p, sizeof(p), "%s/Anna_Berg_CV.pdf", f.root);
    ck_assert_int_eq(unlink(p), 0);
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
    chmod(d, 0755);
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "read=1 removed=0"));
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 8);
    ck_assert_int_ge(find(&g, "/new/deeper/n.md"), 0);
    fx_close(&f);
}
END_TEST

/* depth=1: the root and its folders, not the folders below them */
START_TEST(test_dav_docs_depth_and_index_file)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char frag[900];

    fx_open(&f, "depth", "#depth=1&region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    /* Projects/ACME Logistics/offer.md is two levels down */
    ck_assert_int_eq(g.n, 6);
    ck_assert_int_lt(find(&g, "/offer.md"), 0);
    /* an index file: a reopened source answers before any refresh */
    snprintf(frag, sizeof(frag), "#region=DE&index=%s/../depth.idx", f.root);
    ck_assert_int_eq(fx_open_as(&f, "alice", "secret", frag, g_timeout_ms),
                     CMSB_OK);
    fx_sync(&f);
    ck_assert_int_eq(fx_open_as(&f, "alice", "secret", frag, g_timeout_ms),
                     CMSB_OK);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=9 read=0 removed=0"));
    fx_close(&f);
}
END_TEST

START_TEST(test_dav_docs_wrong_password)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};

    fx_open(&f, "auth", "#region=DE");
    rt_anna(&anna);
    fx_sync(&f);
    ck_assert_int_eq(
        fx_open_as(&f, "alice", "Wr0ngPassw0rd", "#region=DE", g_timeout_ms),
        CMSB_OK);
    ck_assert_int_eq(fx_sync_rc(&f), CMSB_EAUTH);
    ck_assert_ptr_null(strstr(f.log.text, "Wr0ngPassw0rd"));
    ck_assert_int_eq(fx_open_as(&f, NULL, NULL, "#region=DE", g_timeout_ms),
                     CMSB_OK);
    ck_assert_int_eq(fx_sync_rc(&f), CMSB_EAUTH);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    fx_close(&f);
}
END_TEST

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server of its own, stopped after the first refresh: the next one
 * fails with CMSB_EIO and the index stays as it was. */
START_TEST(test_dav_docs_server_down)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char dir[512];
    int port = 0, sport = 0;

    tsps_check_tmpdir(dir, sizeof(dir));
    ck_assert_int_eq(start_apache(dir, &port, &sport), 0);
    memset(&f, 0, sizeof(f));
    snprintf(f.name, sizeof(f.name), "down");
    snprintf(f.root, sizeof(f.root), "%s/docs/down", dir);
    f.port = port;
    make_docs(f.root);
    ck_assert_int_eq(cmsb_registry_open(&f.reg), CMSB_OK);
    ck_assert_int_eq(fx_open_as(&f, "alice", "secret", "#region=DE", 5000),
                     CMSB_OK);
    rt_anna(&anna);
    fx_sync(&f);
    stop_apache(dir);
    ck_assert_int_eq(fx_sync_rc(&f), CMSB_EIO);
    ck_assert_ptr_nonnull(strstr(f.log.text, "index kept"));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    fx_close(&f);
    tsps_check_rmdir(dir);
}
END_TEST

/* A server that accepts the connection and never answers: the refresh
 * ends with CMSB_EIO after about timeout_ms, not never. */
START_TEST(test_dav_docs_server_stalled)
{
    fx f;
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int64_t t0, ms;

    ck_assert_int_ge(ls, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(ls, 8), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    memset(&f, 0, sizeof(f));
    snprintf(f.name, sizeof(f.name), "stalled");
    f.port = ntohs(a.sin_port);
    ck_assert_int_eq(cmsb_registry_open(&f.reg), CMSB_OK);
    ck_assert_int_eq(fx_open_as(&f, "alice", "secret", "", 1000), CMSB_OK);
    t0 = now_ms();
    ck_assert_int_eq(fx_sync_rc(&f), CMSB_EIO);
    ms = now_ms() - t0;
    /* bounded: one request's timeout, far from a hang (generous) */
    ck_assert_int_lt(ms, 60000);
    ck_assert_ptr_nonnull(strstr(f.log.text, "request failed"));
    ck_assert_ptr_null(strstr(f.log.text, "secret"));
    fx_close(&f);
    close(ls);
}
END_TEST

START_TEST(test_dav_docs_bad_uri)
{
    cmsb_registry *reg;
    cmsb_source *s = NULL;
    static const char *const bad[] = {
        "docs-dav:ftp://127.0.0.1/docs/",
        "docs-dav:http://alice:secret@127.0.0.1/docs/",
        "docs-dav:http://127.0.0.1/docs/?x=1",
        "docs-dav:http:///docs/",
        "docs-dav:http://127.0.0.1/docs/#depth=99",
        "docs-dav:http://127.0.0.1/docs/#nonsense",
        "docs-dav:http://127.0.0.1/docs/#region=ZZ",
    };

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cmsb_source_open(reg, bad[i], NULL, &s) == CMSB_EINVAL,
                      "%s", bad[i]);
    ck_assert_int_eq(
        cmsb_source_open(reg, "docs-dav:https://127.0.0.1/d", NULL, &s),
        CMSB_OK);
    cmsb_source_close(s);
    cmsb_registry_close(reg);
}
END_TEST

/* A document over 32 MiB (by its getcontentlength) is not downloaded:
 * indexed by its name, reported as an ERROR record. */
START_TEST(test_dav_docs_large_file_not_fetched)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char p[900];
    int i;

    fx_open(&f, "large", "#region=DE");
    snprintf(p, sizeof(p), "%s/other/Anna_Berg_scan.pdf", f.root);
    ck_assert_int_eq(truncate(p, 0) == 0 || errno == ENOENT, 1);
    {
        FILE *fp = fopen(p, "wb");
        ck_assert_ptr_nonnull(fp);
        fclose(fp);
    }
    ck_assert_int_eq(truncate(p, 33LL * 1024 * 1024), 0);
    chmod(p, 0644);
    rt_anna(&anna);
    fx_sync(&f);
    ck_assert_ptr_nonnull(strstr(f.log.text, "files=10 read=10"));
    /* the other documents were fetched (the log shows GETs), not this one */
    ck_assert_ptr_nonnull(strstr(f.log.text, "method=GET"));
    ck_assert_ptr_nonnull(strstr(f.log.text, "minutes.odt\" status=200"));
    ck_assert_ptr_null(strstr(f.log.text, "Anna_Berg_scan.pdf\" status"));
    ck_assert_int_eq(f.errors, 2);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    i = find(&g, "/Anna_Berg_scan.pdf");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g.why[i], "name \"anna berg\" in file name");
    fx_close(&f);
}
END_TEST

/* HTTPS: the server's certificate is checked (the test CA as ca_file);
 * without the CA the refresh fails, nothing is indexed. */
START_TEST(test_dav_docs_tls)
{
    fx f;
    tsps_contact anna;
    rt_got g = {0};
    char prefix[200];

    fx_open(&f, "tls", "#region=DE");
    f.tls = 1;
    f.port = g_sport;
    rt_anna(&anna);
    /* no CA: the system roots do not know the test CA */
    ck_assert_int_eq(fx_open_as(&f, "alice", "secret", "#region=DE", 5000),
                     CMSB_OK);
    ck_assert_int_eq(fx_sync_rc(&f), CMSB_EIO);
    ck_assert_ptr_nonnull(strstr(f.log.text, "request failed"));
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    ck_assert_int_eq(g.n, 0);
    /* with the CA */
    snprintf(f.ca, sizeof(f.ca), "%s/ca.pem", g_dir);
    ck_assert_int_eq(
        fx_open_as(&f, "alice", "secret", "#region=DE", g_timeout_ms), CMSB_OK);
    fx_sync(&f);
    ck_assert_int_eq(cmsb_related_for(f.src, &anna, NULL, rt_collect, &g),
                     CMSB_OK);
    check_anna(&g);
    snprintf(prefix, sizeof(prefix), "https://127.0.0.1:%d/docs/tls/", f.port);
    for (int i = 0; i < g.n; i++)
        ck_assert_msg(strncmp(g.url[i], prefix, strlen(prefix)) == 0, "%s",
                      g.url[i]);
    fx_close(&f);
}
END_TEST

static Suite *related_dav_docs_suite(void)
{
    Suite *s = suite_create("related_dav_docs");
    TCase *tc = tcase_create("docs-dav");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_dav_docs_match);
    tcase_add_test(tc, test_dav_docs_incremental);
    tcase_add_test(tc, test_dav_docs_depth_and_index_file);
    tcase_add_test(tc, test_dav_docs_wrong_password);
    tcase_add_test(tc, test_dav_docs_server_down);
    tcase_add_test(tc, test_dav_docs_server_stalled);
    tcase_add_test(tc, test_dav_docs_tls);
    tcase_add_test(tc, test_dav_docs_bad_uri);
    tcase_add_test(tc, test_dav_docs_large_file_not_fetched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    const char *tap = getenv("TSPS_TAP");
    int rc, nf;

    tsps_check_tmpdir(g_dir, sizeof(g_dir));
    rc = start_apache(g_dir, &g_port, &g_sport);
    if (rc != 0) {
        fprintf(stderr, "check_related_dav_docs: %s\n",
                rc == 77 ? "SKIPPED: apache2 not installed"
                         : "apache2 did not start");
        tsps_check_rmdir(g_dir);
        return rc == 77 ? 77 : EXIT_FAILURE;
    }
    sr = srunner_create(related_dav_docs_suite());
    if (tap != NULL && *tap != '\0')
        srunner_set_tap(sr, tap);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    stop_apache(g_dir);
    tsps_check_rmdir(g_dir);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

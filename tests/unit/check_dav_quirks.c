/*
 * Server behaviour Radicale never shows, from a scripted stub
 * (tests/dav/stub_dav.py): Google's refusal of an empty initial sync token
 * (listing fallback, then incremental from the listed token), a 507
 * truncated sync-collection continued with its token, iCloud listing the
 * collection itself among the changes, a 404 member as a deletion, a
 * slow multiget (the batch adapts), sabre/dav 4.x handing back a token
 * lower than ours (full resync). The
 * Radicale suites (check_dav, check_dav_conformance) test everything else
 * against the real server.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "tsps_check.h"

typedef struct stub {
    char dir[512];
    int port, pid;
} stub;

static stub plain, digest; /* plain: the quirks; digest: digest auth */
static int port;

static int digest_port(void)
{
    return digest.port;
}
static char logbuf[262144];

static void t_log(void *arg, int level, const char *msg)
{
    size_t n = strlen(logbuf);
    (void)arg;
    (void)level;
    snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

typedef struct acc {
    int puts, deletes;
    char names[8][TSPS_NAME_MAX];
    char deleted[8][TSPS_UID_MAX];
    char cursor[8192];
} acc;

static int on_ch(void *arg, const cmsb_change *ch)
{
    acc *a = arg;
    if (ch->kind == CMSB_CHANGE_CONTACT_PUT && a->puts < 8)
        snprintf(a->names[a->puts++], TSPS_NAME_MAX, "%s", ch->contact->name);
    if (ch->kind == CMSB_CHANGE_CONTACT_DELETE && a->deletes < 8)
        snprintf(a->deleted[a->deletes++], TSPS_UID_MAX, "%s", ch->uid);
    if (ch->kind == CMSB_CHANGE_CHECKPOINT)
        snprintf(a->cursor, sizeof(a->cursor), "%s", ch->cursor);
    return 0;
}

static char last_cursor[16384];

static int count_ch(void *arg, const cmsb_change *ch)
{
    if (ch->kind == CMSB_CHANGE_CONTACT_PUT)
        (*(int *)arg)++;
    if (ch->kind == CMSB_CHANGE_CHECKPOINT)
        snprintf(last_cursor, sizeof(last_cursor), "%s", ch->cursor);
    return 0;
}

/* POST to the stub (its controls); the HTTP status */
static long stub_post(int p, const char *path)
{
    char cmd[300];
    long st = 0;
    FILE *fp;

    snprintf(cmd, sizeof(cmd),
             "curl -s -o /dev/null -w '%%{http_code}' -X POST "
             "http://127.0.0.1:%d%s",
             p, path);
    fp = popen(cmd, "r");
    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld", &st) != 1)
        st = 0;
    pclose(fp);
    return st;
}

START_TEST(test_google_507_icloud)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    acc *a = calloc(1, sizeof(*a));
    char uri[200], cur[8192];

    o.log = t_log;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/book/", port);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_OK);

    /* empty token refused: listing + multiget, token from the listing */
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_OK);
    ck_assert_msg(strstr(logbuf, "sync-collection refused, listing"), "%s",
                  logbuf);
    ck_assert_int_eq(a->puts, 2);
    ck_assert_int_eq(a->deletes, 0);
    ck_assert_ptr_nonnull(strstr(a->cursor, " t1 "));

    /* t1: a page with a change and a 507; continued with t2: the collection
     * itself (skipped) and a 404 (deleted); ends at t3 */
    snprintf(cur, sizeof(cur), "%s", a->cursor);
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, cur, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 1);
    ck_assert_str_eq(a->names[0], "Anna Changed");
    ck_assert_int_eq(a->deletes, 1);
    ck_assert_str_eq(a->deleted[0], "b");
    ck_assert_ptr_nonnull(strstr(a->cursor, " t3 "));

    /* t3: nothing */
    snprintf(cur, sizeof(cur), "%s", a->cursor);
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, cur, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts + a->deletes, 0);
    free(a);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

/* A server that wants digest: the first (Basic) request gets a digest
 * challenge, the source switches and the sync works; a wrong password
 * fails the open. */
START_TEST(test_digest_auth)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    acc *a = calloc(1, sizeof(*a));
    char uri[200];

    o.log = t_log;
    o.username = "alice";
    o.password = "secret";
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/book/",
             digest_port());
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 2);
    cmsb_source_close(src);
    o.password = "wrong";
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_EIO);
    ck_assert_ptr_null(src);
    free(a);
    cmsb_registry_close(reg);
}
END_TEST

/* Nobody listening at open: the open still succeeds (a daemon starting
 * while the server is down keeps its source), the sync fails with
 * CMSB_EIO without a single record, and keeps failing until it answers. */
START_TEST(test_server_down_at_open)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    acc *a = calloc(1, sizeof(*a));

    o.log = t_log;
    o.timeout_ms = 2000;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    /* port 9 (discard) on loopback: nothing listens here */
    ck_assert_int_eq(
        cmsb_source_open(reg, "carddav:http://127.0.0.1:9/book/", &o, &src),
        CMSB_OK);
    ck_assert_msg(strstr(logbuf, "server not answering"), "%s", logbuf);
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_EIO);
    ck_assert_int_eq(a->puts + a->deletes, 0);
    ck_assert_str_eq(a->cursor, "");
    ck_assert_int_eq(cmsb_write_code(src, "a", "VIP"), CMSB_EIO);
    cmsb_source_close(src);
    free(a);
    cmsb_registry_close(reg);
}
END_TEST

/* A server without addressbook-query whose multiget takes 50 ms per card
 * (Xandikos at 10k cards is like that) and a 3 s timeout: a fixed batch of 200
 * (10 s) never gets through. The batch halves on a timeout and shrinks while
 * answers are slow; every card arrives, and the next sync fetches nothing. */
static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_slow_multiget_adapts)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    acc *a = calloc(1, sizeof(*a));
    char uri[200], *cur;
    int puts = 0;

    logbuf[0] = '\0';
    o.log = t_log;
    o.timeout_ms = 3000;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/slow/", port);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(src, NULL, count_ch, &puts), CMSB_OK);
    ck_assert_int_eq(puts, 120);
    /* the whole-book query is refused (501): multigets instead, and the
     * query is not asked again on this source */
    ck_assert_int_eq(count_str(logbuf, "addressbook-query failed, "
                                       "multigets instead"),
                     1);
    ck_assert_msg(strstr(logbuf, "multiget timed out, smaller batch") != NULL,
                  "%s", logbuf);
    cur = strdup(last_cursor);
    puts = 0;
    ck_assert_int_eq(cmsb_changes(src, cur, count_ch, &puts), CMSB_OK);
    ck_assert_int_eq(puts, 0);
    free(cur);
    free(a);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

/* sabre/dav 4.x restored from an older backup: our token (5) is ahead of
 * its counter; it answers 207 with no changes and hands back token 3.
 * Taking that as "nothing changed" would keep y, deleted meanwhile,
 * routing forever: a token going backwards means a full resync. */
START_TEST(test_token_backwards_resyncs)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    acc *a = calloc(1, sizeof(*a));
    char uri[200], cur[8192];
    long st;

    logbuf[0] = '\0';
    o.log = t_log;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/sabre4/", port);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 2);
    ck_assert_ptr_nonnull(strstr(a->cursor, "sync/5 "));
    snprintf(cur, sizeof(cur), "%s", a->cursor);
    st = stub_post(port, "/restore");
    ck_assert_int_eq(st, 204);
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, cur, on_ch, a), CMSB_OK);
    ck_assert_msg(strstr(logbuf, "sync token went backwards") != NULL, "%s",
                  logbuf);
    ck_assert_int_eq(a->puts, 0); /* x unchanged */
    ck_assert_int_eq(a->deletes, 1);
    ck_assert_str_eq(a->deleted[0], "y");
    ck_assert_ptr_nonnull(strstr(a->cursor, "sync/3 "));
    free(a);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

static Suite *quirks_suite(void)
{
    Suite *s = suite_create("dav_quirks");
    TCase *tc = tcase_create("stub");
    tcase_add_test(tc, test_google_507_icloud);
    tcase_add_test(tc, test_digest_auth);
    tcase_add_test(tc, test_server_down_at_open);
    tcase_add_test(tc, test_slow_multiget_adapts);
    tcase_add_test(tc, test_token_backwards_resyncs);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

static int stub_start(stub *st, const char *mode)
{
    char cmd[1200], path[600];
    FILE *fp;

    tsps_check_tmpdir(st->dir, sizeof(st->dir));
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/dav/stub_dav.py '%s' %s &",
             TSPS_SOURCE_DIR, st->dir, mode);
    if (system(cmd) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/port", st->dir);
    for (int i = 0; i < 200 && st->port == 0; i++) {
        fp = fopen(path, "r");
        if (fp != NULL) {
            if (fscanf(fp, "%d", &st->port) != 1)
                st->port = 0;
            fclose(fp);
        }
        if (st->port == 0)
            usleep(25000);
    }
    snprintf(path, sizeof(path), "%s/pid", st->dir);
    fp = fopen(path, "r");
    if (fp != NULL) {
        if (fscanf(fp, "%d", &st->pid) != 1)
            st->pid = 0;
        fclose(fp);
    }
    return st->port > 0 && st->pid > 0 ? 0 : -1;
}

static void stub_stop(stub *st)
{
    if (st->pid > 0)
        kill(st->pid, SIGTERM);
    tsps_check_rmdir(st->dir);
}

int main(void)
{
    int nf;
    SRunner *sr;

    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "SKIP: /usr/bin/python3 missing\n");
        return 77;
    }
    if (stub_start(&plain, "") != 0 || stub_start(&digest, "digest") != 0) {
        fprintf(stderr, "FAIL: stub did not start\n");
        stub_stop(&plain);
        stub_stop(&digest);
        return 1;
    }
    port = plain.port;
    sr = srunner_create(quirks_suite());
    if (getenv("TSPS_TAP") != NULL && *getenv("TSPS_TAP") != '\0')
        srunner_set_tap(sr, getenv("TSPS_TAP"));
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    stub_stop(&plain);
    stub_stop(&digest);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

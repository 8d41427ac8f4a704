/*
 * check_tspsd_store.c - a store with truncated or overwritten pages never
 * crashes tspsd: it starts (the damage was in unused pages) or stops with
 * "cannot open the store: ..." and the recovery steps (mdb_copy, restore).
 */
#include "fixture.h"
#include "tsps_check.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static th_daemon t;

static void setup(void)
{
    memset(&t, 0, sizeof(t));
    tsps_check_tmpdir(t.dir, sizeof(t.dir));
    th_make_certs(&t);
}

static void teardown(void)
{
    th_cleanup(&t);
}

/* Start tspsd on the harness config; wait until it is up (then SIGTERM:
 * 0) or has exited (its exit status; 128 + signal when killed). */
static int start_or_exit(const char *log)
{
    unlink(log);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execl(TSPSD_BIN, "tspsd", "-c", t.conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (th_file_has(log, "msg=\"tspsd started\"")) {
            th_stop_pid(pid);
            return 0;
        }
        th_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("tspsd neither started nor exited (see %s)", log);
    return -1;
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert(in != NULL && out != NULL);
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* Overwrite pages [first, first + n) of path with bytes from seed. */
static void garble(const char *path, long first, long n, unsigned seed)
{
    unsigned char page[4096];
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    for (long p = first; p < first + n; p++) {
        for (size_t i = 0; i < sizeof(page); i++) {
            seed = seed * 1103515245u + 12345u;
            page[i] = (unsigned char)(seed >> 16);
        }
        ck_assert_int_eq(fseek(f, p * 4096L, SEEK_SET), 0);
        ck_assert_uint_eq(fwrite(page, 1, sizeof(page), f), sizeof(page));
    }
    fclose(f);
}

static long file_pages(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (long)(sb.st_size / 4096);
}

/* The daemon refused the store with the recovery steps, and did not die
 * of a signal. */
static void assert_refused(int rc, const char *log, const char *what)
{
    if (!th_file_has(log, "msg=\"cannot open the store: ")) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "echo rc=%d; tail -5 %s >&2", rc, log);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot show %s\n", log);
    }
    ck_assert_msg(rc > 0 && rc < 128, "%s: tspsd rc %d (see %s)", what, rc,
                  log);
    ck_assert_msg(th_file_has(log, "msg=\"cannot open the store: "),
                  "%s: no clear error (see %s)", what, log);
    ck_assert_msg(th_file_has(log, "mdb_copy -c"), "%s: no recovery (see %s)",
                  what, log);
    ck_assert_msg(th_file_has(log, "last backup"), "%s: no restore (see %s)",
                  what, log);
}

/* A store with truncated or overwritten pages never crashes tspsd: it
 * starts (the damage was in unused pages) or stops with "cannot open the
 * store: ..." and the recovery steps, exit status 2. */
START_TEST(test_damaged_store_is_a_clear_error)
{
    char data[400], pristine[400], log[400];
    th_start(&t, NULL);
    tspsd_client *a = th_connect(&t, "admin", NULL);
    for (int i = 0; i < 150; i++) { /* a few dozen pages of data */
        char id[32], num[32];
        snprintf(id, sizeof(id), "user%03d", i);
        snprintf(num, sizeof(num), "+1212555%04d", 1000 + i);
        ck_assert_int_eq(fx_user_put(a, id, num), 0);
    }
    tspsd_client_close(a);
    ck_assert_int_eq(th_stop(&t), 0);
    snprintf(data, sizeof(data), "%s/data/store/data.mdb", t.dir);
    snprintf(pristine, sizeof(pristine), "%s/pristine.mdb", t.dir);
    snprintf(log, sizeof(log), "%s/damaged.log", t.dir);
    copy_file(data, pristine);
    long pages = file_pages(data);
    ck_assert_int_gt(pages, 8);

    /* The undamaged store opens. */
    ck_assert_int_eq(start_or_exit(log), 0);

    /* Cut in half. */
    copy_file(pristine, data);
    ck_assert_int_eq(truncate(data, (pages / 2) * 4096L), 0);
    assert_refused(start_or_exit(log), log, "truncated");

    /* Every page after the two meta pages overwritten. */
    copy_file(pristine, data);
    garble(data, 2, pages - 2, 7);
    assert_refused(start_or_exit(log), log, "all data pages");

    /* A few pages here and there: clean start or clear error, never a
     * crash. */
    int refused = 0;
    for (unsigned seed = 1; seed <= 10; seed++) {
        copy_file(pristine, data);
        for (int k = 0; k < 3; k++) {
            unsigned r = seed * 2654435761u + (unsigned)k * 40503u;
            garble(data, 2 + (long)(r % (unsigned)(pages - 2)), 1, r);
        }
        int rc = start_or_exit(log);
        if (rc != 0) {
            assert_refused(rc, log, "some pages");
            refused++;
        }
    }
    ck_assert_msg(refused > 0, "no damage found in 10 damaged stores");
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("tspsd_store");
    TCase *tc = tcase_create("damaged");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_damaged_store_is_a_clear_error);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(store_suite)

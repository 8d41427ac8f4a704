/* A writer killed with SIGKILL mid-write never corrupts the store, and every
 * write it acknowledged is there after reopening. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "tsps_fixture.h"

/* Child: write forever, acknowledging each committed write on the pipe. */
static void writer(int fd, int use_batches)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *e;
    cfg.path = fx_dir;
    if (tsps_engine_open(&cfg, &e) != TSPS_OK)
        _exit(2);
    for (uint32_t i = 0; i < 1000000; i++) {
        if (use_batches) {
            tsps_batch *b;
            char cur[32];
            if (tsps_batch_begin(e, &b) != TSPS_OK)
                _exit(3);
            for (uint32_t j = 0; j < 20; j++) {
                tsps_contact c;
                tsps_contact_init(&c);
                snprintf(c.uid, sizeof(c.uid), "b%u-%u", i, j);
                strcpy(c.source, "crash");
                snprintf(c.numbers[0], sizeof(c.numbers[0]), "+4940%07u",
                         i * 20 + j);
                c.nnumbers = 1;
                if (tsps_batch_contact_put(b, "alice", &c) != TSPS_OK)
                    _exit(4);
            }
            snprintf(cur, sizeof(cur), "%u", i);
            tsps_batch_cursor_set(b, "crash", cur, strlen(cur));
            if (tsps_batch_commit(b) != TSPS_OK)
                _exit(5);
        } else {
            tsps_decision d;
            tsps_call call = TSPS_CALL_INIT;
            uint64_t id;
            char from[32];
            snprintf(from, sizeof(from), "+4989%07u", i);
            call.caller = from;
            call.called = "+49301234567";
            call.now = T_MONDAY + i;
            if (tsps_route(e, &call, &d) != TSPS_OK ||
                tsps_history_append(e, &d, TSPS_OUTCOME_ROUTED, &id) != TSPS_OK)
                _exit(6);
            i = (uint32_t)id; /* ack the call id */
        }
        if (write(fd, &i, sizeof(i)) != sizeof(i))
            _exit(7);
    }
    _exit(0);
}

static uint32_t kill_writer_after(int use_batches, int acks_before_kill)
{
    int p[2];
    pid_t pid;
    uint32_t v, last = 0;
    int n = 0, st;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        writer(p[1], use_batches);
    }
    close(p[1]);
    while (n < acks_before_kill && read(p[0], &v, sizeof(v)) == sizeof(v)) {
        last = v;
        n++;
    }
    kill(pid, SIGKILL);
    /* acknowledgements already in the pipe count too */
    while (read(p[0], &v, sizeof(v)) == sizeof(v))
        last = v;
    close(p[0]);
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFSIGNALED(st), "writer exited early: %d", WEXITSTATUS(st));
    ck_assert_int_gt(n, 0);
    return last;
}

START_TEST(test_crash_mid_batch_keeps_acknowledged)
{
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    for (int round = 0; round < 3; round++) {
        tsps_config cfg = TSPS_CONFIG_INIT;
        char cur[32];
        size_t len;
        uint32_t last = kill_writer_after(1, 20 + round * 37);
        tsps_contact c;
        cfg.path = fx_dir;
        ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
        for (uint32_t i = 0; i <= last; i++)
            for (uint32_t j = 0; j < 20; j += 19) {
                char uid[32];
                snprintf(uid, sizeof(uid), "b%u-%u", i, j);
                ck_assert_msg(tsps_contact_get(fx_eng, "alice", uid, &c) ==
                                  TSPS_OK,
                              "acknowledged contact %s lost", uid);
            }
        /* the cursor is never behind the data it describes */
        ck_assert_int_eq(
            tsps_cursor_get(fx_eng, "crash", cur, sizeof(cur) - 1, &len),
            TSPS_OK);
        cur[len] = '\0';
        ck_assert_uint_ge((uint32_t)strtoul(cur, NULL, 10), last);
        /* and the store still routes */
        {
            tsps_decision d =
                fx_route("+49400000019", "+49301234567", T_MONDAY);
            ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
        }
        tsps_engine_close(fx_eng);
        fx_eng = NULL;
    }
}
END_TEST

START_TEST(test_crash_mid_history_keeps_acknowledged)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    uint32_t last;
    tsps_call_record r;
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    last = kill_writer_after(0, 150);
    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    for (uint64_t id = 1; id <= last; id++)
        ck_assert_msg(tsps_history_get(fx_eng, id, &r) == TSPS_OK,
                      "acknowledged call %llu lost", (unsigned long long)id);
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("kill9");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_crash_mid_batch_keeps_acknowledged);
    tcase_add_test(tc, test_crash_mid_history_keeps_acknowledged);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(crash_suite)

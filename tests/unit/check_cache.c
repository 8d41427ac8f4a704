/*
 * The contact index held in memory must always say what the store says:
 * after any mix of writes, batches (committed or aborted, with writes that
 * join them), code changes, source clears and user deletion, every route
 * decides exactly as an engine reading LMDB's index decides, and it never
 * shows what an aborted transaction wrote.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>

#include "tsps_fixture.h"

#define NUSERS   3
#define NNUMBERS 24
#define NUIDS    40

static const char *const codes[] = {"", "VIP", "FAMILY", "BLOCK"};

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void pool_number(int i, char *out, size_t len)
{
    snprintf(out, len, "+4917%08d", 1000 + i * 7919);
}

static void make_user(tsps_engine *e, int u)
{
    tsps_user usr;
    char num[32];
    tsps_user_init(&usr);
    snprintf(usr.id, sizeof(usr.id), "u%d", u);
    strcpy(usr.dialplan.region, "DE");
    strcpy(usr.tz, "Europe/Berlin");
    strcpy(usr.voicemail_uri, "sip:vm@pbx.example");
    ck_assert_int_eq(tsps_user_put(e, &usr), TSPS_OK);
    snprintf(num, sizeof(num), "+49305550%03d", u);
    ck_assert_int_eq(tsps_number_add(e, usr.id, num), TSPS_OK);
}

static void random_contact(tsps_contact *c)
{
    tsps_contact_init(c);
    snprintf(c->uid, sizeof(c->uid), "c%02d", (int)(rnd() % NUIDS));
    snprintf(c->name, sizeof(c->name), "Name %d", (int)(rnd() % 1000));
    snprintf(c->source, sizeof(c->source), "src%d", (int)(rnd() % 2));
    strcpy(c->code, codes[rnd() % 4]);
    c->code_source = c->code[0] != '\0' ? TSPS_CODE_SRC_PROPERTY : 0;
    c->nnumbers = 1 + (int)(rnd() % 3);
    for (int i = 0; i < c->nnumbers; i++)
        pool_number((int)(rnd() % NNUMBERS), c->numbers[i],
                    sizeof(c->numbers[i]));
}

/* What a route says about a caller, as one comparable line. */
typedef char verdict[768];

static void decide_all(tsps_engine *e, verdict *out)
{
    for (int u = 0; u < NUSERS; u++)
        for (int n = 0; n < NNUMBERS; n++) {
            tsps_call call = TSPS_CALL_INIT;
            tsps_decision d;
            char caller[32], called[32];
            pool_number(n, caller, sizeof(caller));
            snprintf(called, sizeof(called), "+49305550%03d", u);
            call.caller = caller;
            call.called = called;
            call.now = T_AT(0, 10, 0);
            ck_assert_int_eq(tsps_route(e, &call, &d), TSPS_OK);
            snprintf(out[u * NNUMBERS + n], sizeof(verdict),
                     "%s kind=%s code=%s name=%s contact=%s n=%d", d.user,
                     tsps_caller_kind_name(d.caller_kind), d.code,
                     d.caller_name, d.contact_uid,
                     d.ntrace > 2 ? d.trace[2].n : -1);
        }
}

static tsps_engine *reopen(tsps_engine *e, unsigned flags)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *n = NULL;
    tsps_engine_close(e);
    cfg.path = fx_dir;
    cfg.flags = TSPS_OPEN_NOSYNC | flags;
    ck_assert_int_eq(tsps_engine_open(&cfg, &n), TSPS_OK);
    return n;
}

static void random_write(tsps_engine *e)
{
    char user[8];
    tsps_contact c;
    uint64_t op = rnd() % 100;

    snprintf(user, sizeof(user), "u%d", (int)(rnd() % NUSERS));
    if (op < 40) {
        random_contact(&c);
        ck_assert_int_eq(tsps_contact_put(e, user, &c), TSPS_OK);
    } else if (op < 55) {
        char uid[8];
        int rc;
        snprintf(uid, sizeof(uid), "c%02d", (int)(rnd() % NUIDS));
        rc = tsps_contact_delete(e, user, uid);
        ck_assert(rc == TSPS_OK || rc == TSPS_ENOTFOUND);
    } else if (op < 65) {
        char uid[8];
        int rc;
        snprintf(uid, sizeof(uid), "c%02d", (int)(rnd() % NUIDS));
        rc = tsps_contact_set_code(e, user, uid, codes[rnd() % 4],
                                   TSPS_CODE_SRC_MANUAL);
        ck_assert(rc == TSPS_OK || rc == TSPS_ENOTFOUND);
    } else if (op < 98) {
        /* a batch: puts, deletes, a source clear, a write that joins it;
         * one in four is aborted */
        tsps_batch *b;
        int n = 1 + (int)(rnd() % 12);
        ck_assert_int_eq(tsps_batch_begin(e, &b), TSPS_OK);
        for (int i = 0; i < n; i++) {
            uint64_t k = rnd() % 10;
            if (k < 6) {
                random_contact(&c);
                ck_assert_int_eq(tsps_batch_contact_put(b, user, &c), TSPS_OK);
            } else if (k < 8) {
                char uid[8];
                snprintf(uid, sizeof(uid), "c%02d", (int)(rnd() % NUIDS));
                tsps_batch_contact_delete(b, user, uid);
            } else if (k < 9) {
                ck_assert_int_eq(tsps_batch_source_clear(b, user, "src1", 1, 0),
                                 TSPS_OK);
            } else {
                random_contact(&c);
                ck_assert_int_eq(tsps_contact_put(e, user, &c), TSPS_OK);
            }
        }
        if (rnd() % 4 == 0)
            tsps_batch_abort(b);
        else
            ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    } else {
        ck_assert_int_eq(tsps_user_delete(e, user), TSPS_OK);
        make_user(e, user[1] - '0');
    }
}

START_TEST(test_cache_matches_store)
{
    verdict *cached = calloc(NUSERS * NNUMBERS, sizeof(verdict));
    verdict *stored = calloc(NUSERS * NNUMBERS, sizeof(verdict));
    int known = 0, ambiguous = 0;

    rng_state = 0x2545F4914F6CDD1Dull + (uint64_t)_i;
    for (int u = 0; u < NUSERS; u++)
        make_user(fx_eng, u);
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 120; i++)
            random_write(fx_eng);
        decide_all(fx_eng, cached);
        /* the same store, routing from LMDB's index */
        fx_eng = reopen(fx_eng, TSPS_OPEN_NO_CONTACT_CACHE);
        decide_all(fx_eng, stored);
        for (int i = 0; i < NUSERS * NNUMBERS; i++) {
            ck_assert_msg(strcmp(cached[i], stored[i]) == 0,
                          "round %d: memory says '%s', store says '%s'", round,
                          cached[i], stored[i]);
            known += strstr(cached[i], "kind=known ") != NULL;
            ambiguous += strstr(cached[i], "kind=ambiguous ") != NULL;
        }
        /* and a table rebuilt at open says the same */
        fx_eng = reopen(fx_eng, 0);
        decide_all(fx_eng, stored);
        for (int i = 0; i < NUSERS * NNUMBERS; i++)
            ck_assert_str_eq(cached[i], stored[i]);
    }
    /* the mix really exercised known and ambiguous callers */
    ck_assert_int_gt(known, 50);
    ck_assert_int_gt(ambiguous, 10);
    free(cached);
    free(stored);
}
END_TEST

static tsps_decision call_from(const char *caller)
{
    return fx_route(caller, "+49 30 1234567", T_AT(0, 10, 0));
}

START_TEST(test_aborted_writes_never_shown)
{
    tsps_batch *b;
    tsps_contact c;

    tsps_contact_init(&c);
    strcpy(c.uid, "x1");
    strcpy(c.name, "Xavier");
    strcpy(c.code, "VIP");
    c.code_source = TSPS_CODE_SRC_PROPERTY;
    strcpy(c.numbers[0], "+4915111111111");
    c.nnumbers = 1;
    /* a batch put, and a put that joined the batch, both dropped */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    strcpy(c.uid, "x2");
    strcpy(c.numbers[0], "+4915122222222");
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    tsps_batch_abort(b);
    ck_assert_int_eq(call_from("+4915111111111").caller_kind,
                     TSPS_CALLER_UNKNOWN);
    ck_assert_int_eq(call_from("+4915122222222").caller_kind,
                     TSPS_CALLER_UNKNOWN);
    /* the same, committed: both known at once */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    strcpy(c.uid, "x1");
    strcpy(c.numbers[0], "+4915111111111");
    ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    strcpy(c.uid, "x2");
    strcpy(c.numbers[0], "+4915122222222");
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(call_from("+4915111111111").caller_kind,
                     TSPS_CALLER_KNOWN);
    ck_assert_str_eq(call_from("+4915122222222").caller_name, "Xavier");
    /* a contact that moves to a new number stops matching the old one */
    strcpy(c.numbers[0], "+4915133333333");
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    ck_assert_int_eq(call_from("+4915122222222").caller_kind,
                     TSPS_CALLER_UNKNOWN);
    ck_assert_str_eq(call_from("+4915133333333").code, "VIP");
    /* a deleted user's contacts are gone with it, also for a new user of
     * the same name */
    ck_assert_int_eq(tsps_user_delete(fx_eng, "alice"), TSPS_OK);
    fx_teardown();
    fx_setup();
    ck_assert_int_eq(call_from("+4915111111111").caller_kind,
                     TSPS_CALLER_UNKNOWN);
}
END_TEST

static char logged[4096];
static void log_cb(void *arg, int level, const char *msg)
{
    size_t n = strlen(logged);
    (void)arg;
    (void)level;
    snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

/* Many contacts: the table grows, contacts are rewritten until half the
 * arena is dead and compacted; every contact is still found, with its
 * latest name. The open says in its log that the table is in use. */
START_TEST(test_growth_and_compaction)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    char msg[64];

    for (int round = 0; round < 3; round++) {
        tsps_batch *b;
        ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
        for (int i = 0; i < 20000; i++) {
            tsps_contact c;
            tsps_contact_init(&c);
            snprintf(c.uid, sizeof(c.uid), "bulk-%05d", i);
            snprintf(c.name, sizeof(c.name), "Round %d person %d", round, i);
            snprintf(c.numbers[0], sizeof(c.numbers[0]), "+4916%09d", i);
            c.nnumbers = 1;
            ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
        }
        ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    }
    for (int i = 0; i < 20000; i += 997) {
        char num[32], want[64];
        tsps_decision d;
        snprintf(num, sizeof(num), "+4916%09d", i);
        snprintf(want, sizeof(want), "Round 2 person %d", i);
        d = call_from(num);
        ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
        ck_assert_str_eq(d.caller_name, want);
    }
    tsps_engine_close(fx_eng);
    logged[0] = '\0';
    cfg.path = fx_dir;
    cfg.log = log_cb;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    snprintf(msg, sizeof(msg), "contact index in memory\" entries=%d", 20000);
    ck_assert_ptr_nonnull(strstr(logged, msg));
    tsps_engine_close(fx_eng);
    logged[0] = '\0';
    cfg.flags = TSPS_OPEN_RDONLY;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    ck_assert_ptr_null(strstr(logged, "contact index in memory"));
    ck_assert_str_eq(call_from("+4916000000997").caller_name,
                     "Round 2 person 997");
}
END_TEST

/* Routers on two threads while a writer flips contacts between two
 * versions, one at a time and in batches of fifty: every route sees one
 * version whole (code and name from the same commit), never a mix, never
 * an unknown caller, and nothing deadlocks. */
#define FLIP_CONTACTS 50

static atomic_int flip_stop;

static void flip_contact(tsps_contact *c, int i, int version)
{
    tsps_contact_init(c);
    snprintf(c->uid, sizeof(c->uid), "flip-%02d", i);
    snprintf(c->name, sizeof(c->name), "%s person %d",
             version ? "Blocked" : "Vip", i);
    strcpy(c->code, version ? "BLOCK" : "VIP");
    c->code_source = TSPS_CODE_SRC_PROPERTY;
    snprintf(c->numbers[0], sizeof(c->numbers[0]), "+4915900000%03d", i);
    c->nnumbers = 1;
}

static void *router(void *arg)
{
    long bad = 0, routes = 0;
    (void)arg;
    for (int n = 0; n < 200000 && !atomic_load(&flip_stop); n++) {
        char caller[32];
        tsps_decision d;
        int i = n % FLIP_CONTACTS;
        snprintf(caller, sizeof(caller), "+4915900000%03d", i);
        d = call_from(caller);
        routes++;
        if (d.caller_kind != TSPS_CALLER_KNOWN ||
            (strcmp(d.code, "VIP") == 0) !=
                (strncmp(d.caller_name, "Vip ", 4) == 0) ||
            (strcmp(d.code, "BLOCK") == 0) !=
                (strncmp(d.caller_name, "Blocked ", 8) == 0))
            bad++;
    }
    return (void *)(bad > 0 ? -bad : routes);
}

START_TEST(test_concurrent_routes_and_writes)
{
    pthread_t th[2];
    tsps_contact c;
    void *res;

    for (int i = 0; i < FLIP_CONTACTS; i++) {
        flip_contact(&c, i, 0);
        ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    }
    atomic_store(&flip_stop, 0);
    fx_lazy_check = 0; /* the writer flips contacts between two routes */
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, router, NULL), 0);
    for (int round = 0; round < 200; round++) {
        int version = round % 2;
        if (round % 4 < 2) {
            for (int i = 0; i < FLIP_CONTACTS; i++) {
                flip_contact(&c, i, version);
                ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c),
                                 TSPS_OK);
            }
        } else {
            tsps_batch *b;
            ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
            for (int i = 0; i < FLIP_CONTACTS; i++) {
                flip_contact(&c, i, version);
                ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c),
                                 TSPS_OK);
            }
            ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
        }
    }
    atomic_store(&flip_stop, 1);
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_join(th[t], &res), 0);
        ck_assert_msg((long)res > 0, "a router saw %ld mixed decisions",
                      -(long)res);
    }
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("contact_cache");
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_cache_matches_store, 0, 3);
    tcase_add_test(tc, test_aborted_writes_never_shown);
    tcase_add_test(tc, test_growth_and_compaction);
    tcase_add_test(tc, test_concurrent_routes_and_writes);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(cache_suite)

/*
 * Events and registrations held in memory (umem.c) must always say what the
 * store says: after any mix of event and registration writes, batches
 * (committed or aborted, with writes that join them), source clears,
 * purges and user deletion, every route decides exactly as an engine
 * reading DB_EVENTS and DB_REGS decides, a block rebuilt at open agrees,
 * and no route shows what an aborted transaction wrote.
 */
#include <pthread.h>
#include <unistd.h>
#include <stdatomic.h>

#include "tsps_fixture.h"

#define NUSERS  3
#define NEVENTS 12
#define NDEVS   5

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Callers: a contact whose e-mail attends some events, one whose number
 * does, and a stranger. */
static const char *const callers[] = {"+491701111111", "+491702222222",
                                      "+491709999999"};
/* Times the routes are made at: the events fall around them. */
static const int64_t times[] = {T_AT(0, 10, 0), T_AT(0, 10, 20), T_AT(0, 13, 0),
                                T_AT(1, 9, 55)};

static void make_user(tsps_engine *e, int u)
{
    tsps_user usr;
    tsps_contact c;
    char num[32];
    tsps_method m;

    tsps_user_init(&usr);
    snprintf(usr.id, sizeof(usr.id), "u%d", u);
    strcpy(usr.dialplan.region, "DE");
    strcpy(usr.tz, "Europe/Berlin");
    strcpy(usr.voicemail_uri, "sip:vm@pbx.example");
    ck_assert_int_eq(tsps_user_put(e, &usr), TSPS_OK);
    snprintf(num, sizeof(num), "+49305550%03d", u);
    ck_assert_int_eq(tsps_number_add(e, usr.id, num), TSPS_OK);
    ck_assert_int_eq(tsps_method_parse("voicemail", &m, NULL, 0), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(e, usr.id, "*", TSPS_STATUS_IN_MEETING, &m),
                     TSPS_OK);
    ck_assert_int_eq(tsps_method_parse("ring devices=mobile,desk", &m, NULL, 0),
                     TSPS_OK);
    ck_assert_int_eq(tsps_code_set(e, usr.id, "VIP", TSPS_STATUS_ANY, &m),
                     TSPS_OK);
    tsps_contact_init(&c);
    strcpy(c.uid, "c-ann");
    strcpy(c.name, "Ann");
    strcpy(c.code, "VIP");
    c.code_source = TSPS_CODE_SRC_PROPERTY;
    strcpy(c.numbers[0], callers[0]);
    c.nnumbers = 1;
    strcpy(c.emails[0], "ann@example.org");
    c.nemails = 1;
    ck_assert_int_eq(tsps_contact_put(e, usr.id, &c), TSPS_OK);
}

static void random_event(tsps_event *ev)
{
    static const char *const who[] = {"mailto:Ann@Example.org",
                                      "tel:+491702222222",
                                      "mailto:bob@example.org"};
    tsps_event_init(ev);
    snprintf(ev->uid, sizeof(ev->uid), "ev%02d", (int)(rnd() % NEVENTS));
    snprintf(ev->source, sizeof(ev->source), "src%d", (int)(rnd() % 2));
    snprintf(ev->summary, sizeof(ev->summary), "Meeting %d",
             (int)(rnd() % 1000));
    /* from two hours before the first time to a day after it, 5 min to 9 h
     * long (several pieces) */
    ev->start = T_AT(0, 8, 0) + (int64_t)(rnd() % (26 * 12)) * 300;
    ev->end = ev->start + 300 + (int64_t)(rnd() % 108) * 300;
    ev->busy = (tsps_busy)(rnd() % 4);
    ev->cancelled = rnd() % 6 == 0;
    ev->nattendees = (int)(rnd() % 3);
    for (int i = 0; i < ev->nattendees; i++)
        strcpy(ev->attendees[i], who[rnd() % 3]);
}

static void random_reg(tsps_registration *r)
{
    static const char *const labels[] = {"desk", "mobile", "softphone"};
    int d = (int)(rnd() % NDEVS);
    tsps_registration_init(r);
    snprintf(r->contact, sizeof(r->contact), "sip:dev%d@10.0.0.%d:5060", d,
             d + 1);
    strcpy(r->label, labels[rnd() % 3]);
    r->q = (uint16_t)(rnd() % 1001);
    /* some expire before some of the times */
    r->expires = T_AT(0, 9, 0) + (int64_t)(rnd() % 30) * 3600;
}

/* What routes and status say, as comparable lines. */
typedef char verdict[4400];
#define NVERDICTS                                                              \
    (NUSERS * (int)(sizeof(times) / sizeof(times[0])) *                        \
     ((int)(sizeof(callers) / sizeof(callers[0])) + 1))

static void decide_all(tsps_engine *e, verdict *out)
{
    int k = 0;
    for (int u = 0; u < NUSERS; u++)
        for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
            char user[8];
            tsps_status_info si;
            snprintf(user, sizeof(user), "u%d", u);
            ck_assert_int_eq(tsps_status_get(e, user, times[t], &si), TSPS_OK);
            snprintf(out[k++], sizeof(verdict),
                     "%s status=%s src=%s %s %s %lld", user,
                     tsps_status_name(si.status),
                     tsps_status_source_name(si.source), si.detail,
                     si.event_uid, (long long)si.until);
            for (size_t c = 0; c < sizeof(callers) / sizeof(callers[0]); c++) {
                tsps_call call = TSPS_CALL_INIT;
                tsps_decision d;
                char called[32], text[4096];
                snprintf(called, sizeof(called), "+49305550%03d", u);
                call.caller = callers[c];
                call.called = called;
                call.now = times[t];
                ck_assert_int_eq(tsps_route(e, &call, &d), TSPS_OK);
                ck_assert_int_eq(
                    tsps_decision_explain(&d, text, sizeof(text), NULL),
                    TSPS_OK);
                snprintf(out[k++], sizeof(verdict), "%s at %lld from %s: %s",
                         user, (long long)times[t], callers[c], text);
            }
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
    char user[8], uid[16];
    tsps_event ev;
    tsps_registration r;
    uint64_t op = rnd() % 100;
    int rc;

    snprintf(user, sizeof(user), "u%d", (int)(rnd() % NUSERS));
    snprintf(uid, sizeof(uid), "ev%02d", (int)(rnd() % NEVENTS));
    if (op < 30) {
        random_event(&ev);
        ck_assert_int_eq(tsps_event_put(e, user, &ev), TSPS_OK);
    } else if (op < 40) {
        rc = tsps_event_delete(e, user, uid);
        ck_assert(rc == TSPS_OK || rc == TSPS_ENOTFOUND);
    } else if (op < 60) {
        random_reg(&r);
        ck_assert_int_eq(tsps_registration_put(e, user, &r), TSPS_OK);
    } else if (op < 66) {
        char key[64];
        int d = (int)(rnd() % NDEVS);
        snprintf(key, sizeof(key), "sip:dev%d@10.0.0.%d:5060", d, d + 1);
        rc = tsps_registration_remove(e, user, key);
        ck_assert(rc == TSPS_OK || rc == TSPS_ENOTFOUND);
    } else if (op < 68) {
        ck_assert_int_eq(tsps_registration_clear(e, user), TSPS_OK);
    } else if (op < 71) {
        ck_assert_int_eq(
            tsps_registration_purge(
                e, T_AT(0, 9, 0) + (int64_t)(rnd() % 8) * 3600, NULL),
            TSPS_OK);
    } else if (op < 98) {
        /* a batch: event puts and deletes, a source clear, writes that
         * join it; one in four is aborted */
        tsps_batch *b;
        int n = 1 + (int)(rnd() % 10);
        ck_assert_int_eq(tsps_batch_begin(e, &b), TSPS_OK);
        for (int i = 0; i < n; i++) {
            uint64_t k = rnd() % 10;
            if (k < 5) {
                random_event(&ev);
                ck_assert_int_eq(tsps_batch_event_put(b, user, &ev), TSPS_OK);
            } else if (k < 7) {
                snprintf(uid, sizeof(uid), "ev%02d", (int)(rnd() % NEVENTS));
                tsps_batch_event_delete(b, user, uid);
            } else if (k < 8) {
                ck_assert_int_eq(tsps_batch_source_clear(b, user, "src1", 0, 1),
                                 TSPS_OK);
            } else if (k < 9) {
                random_reg(&r);
                ck_assert_int_eq(tsps_registration_put(e, user, &r), TSPS_OK);
            } else {
                random_event(&ev);
                ck_assert_int_eq(tsps_event_put(e, user, &ev), TSPS_OK);
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

START_TEST(test_memory_matches_store)
{
    verdict *mem = calloc(NVERDICTS, sizeof(verdict));
    verdict *store = calloc(NVERDICTS, sizeof(verdict));
    int meeting = 0, expected = 0, ringing = 0, away = 0;

    rng_state = 0x9E3779B97F4A7C15ull + (uint64_t)_i * 7919;
    for (int u = 0; u < NUSERS; u++)
        make_user(fx_eng, u);
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 80; i++)
            random_write(fx_eng);
        decide_all(fx_eng, mem);
        /* the same store, routing from LMDB */
        fx_eng = reopen(fx_eng, TSPS_OPEN_NO_CONTACT_CACHE);
        decide_all(fx_eng, store);
        for (int i = 0; i < NVERDICTS; i++) {
            ck_assert_msg(strcmp(mem[i], store[i]) == 0,
                          "round %d: memory says\n%s\nstore says\n%s", round,
                          mem[i], store[i]);
            meeting += strstr(mem[i], "user is meeting") != NULL;
            expected += strstr(mem[i], "caller is an attendee") != NULL;
            ringing += strstr(mem[i], "ring: ") != NULL;
            away += strstr(mem[i], "status=away") != NULL;
        }
        /* and blocks built at open say the same */
        fx_eng = reopen(fx_eng, 0);
        decide_all(fx_eng, store);
        for (int i = 0; i < NVERDICTS; i++)
            ck_assert_str_eq(mem[i], store[i]);
    }
    /* the mix really exercised meetings, expected callers and devices */
    ck_assert_int_gt(meeting, 20);
    ck_assert_int_gt(expected, 5);
    ck_assert_int_gt(ringing, 20);
    ck_assert_int_gt(away, 2);
    free(mem);
    free(store);
}
END_TEST

static tsps_decision ann_calls(int64_t at)
{
    return fx_route(callers[0], "+49 30 1234567", at);
}

START_TEST(test_aborted_writes_never_shown)
{
    tsps_batch *b;
    tsps_event ev;
    tsps_registration r;
    tsps_contact c;
    tsps_decision d;
    int64_t t = T_AT(0, 10, 0);

    tsps_contact_init(&c);
    strcpy(c.uid, "c-ann");
    strcpy(c.name, "Ann");
    strcpy(c.numbers[0], callers[0]);
    c.nnumbers = 1;
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "voicemail");
    d = ann_calls(t);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    /* an aborted batch: its meeting and device never show */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    tsps_event_init(&ev);
    strcpy(ev.uid, "m1");
    strcpy(ev.summary, "Board");
    ev.start = t - 600;
    ev.end = t + 600;
    ck_assert_int_eq(tsps_batch_event_put(b, "alice", &ev), TSPS_OK);
    random_reg(&r);
    r.expires = t + 3600;
    ck_assert_int_eq(tsps_registration_put(fx_eng, "alice", &r), TSPS_OK);
    tsps_batch_abort(b);
    d = ann_calls(t);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL); /* no device */
    ck_assert(d.flags & TSPS_DEC_FALLBACK);
    /* committed: both show at once */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_event_put(b, "alice", &ev), TSPS_OK);
    ck_assert_int_eq(tsps_registration_put(fx_eng, "alice", &r), TSPS_OK);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    d = ann_calls(t);
    ck_assert_int_eq(d.status, TSPS_STATUS_IN_MEETING);
    ck_assert_str_eq(fx_step(&d, TSPS_STEP_STATUS)->found, "Board");
    d = ann_calls(t + 3000); /* after the meeting: the device rings */
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_RING);
    ck_assert_str_eq(d.targets[0].uri, r.contact);
    /* deleted user, same name again: nothing of the old one */
    ck_assert_int_eq(tsps_user_delete(fx_eng, "alice"), TSPS_OK);
    {
        tsps_user u;
        tsps_user_init(&u);
        strcpy(u.id, "alice");
        strcpy(u.dialplan.region, "DE");
        ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
        ck_assert_int_eq(tsps_number_add(fx_eng, "alice", "+49 30 1234567"),
                         TSPS_OK);
    }
    d = ann_calls(t);
    ck_assert_int_eq(d.status, TSPS_STATUS_AVAILABLE);
    ck_assert_int_eq(d.ntargets, 0);
}
END_TEST

/* Routers on two threads while a writer moves a meeting and swaps the
 * devices, alone and in batches: every route sees one version whole (the
 * meeting's summary with its device), and nothing deadlocks. */
static atomic_int stop;
static atomic_int started; /* routers that have routed once */

static void *router(void *arg)
{
    long bad = 0, routes = 0;
    (void)arg;
    for (int n = 0; n < 100000 && !atomic_load(&stop); n++) {
        tsps_call call = TSPS_CALL_INIT;
        tsps_decision d;
        call.caller = callers[1];
        call.called = "+49301234567";
        call.now = T_AT(0, 10, 0);
        ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_OK);
        if (routes++ == 0)
            atomic_fetch_add(&started, 1);
        /* version 0: "Plan A" and dev0; version 1: "Plan B" and dev1 */
        {
            const tsps_trace_step *s = fx_step(&d, TSPS_STEP_STATUS);
            int va = strcmp(s->found, "Plan A") == 0;
            int vb = strcmp(s->found, "Plan B") == 0;
            if ((!va && !vb) || d.ntargets != 1 ||
                strncmp(d.targets[0].uri, va ? "sip:dev0@" : "sip:dev1@", 9) !=
                    0)
                bad++;
        }
    }
    return (void *)(bad > 0 ? -bad : routes);
}

static void version(int v, int batch)
{
    tsps_event ev;
    tsps_registration r;
    tsps_batch *b = NULL;

    tsps_event_init(&ev);
    strcpy(ev.uid, "plan");
    strcpy(ev.summary, v ? "Plan B" : "Plan A");
    ev.start = T_AT(0, 9, 0) + v * 60;
    ev.end = T_AT(0, 11, 0);
    ev.busy = TSPS_BUSY_TENTATIVE;
    tsps_registration_init(&r);
    snprintf(r.contact, sizeof(r.contact), "sip:dev%d@10.0.0.1", v);
    strcpy(r.instance, "phone");
    r.expires = T_AT(0, 12, 0);
    /* one commit either way: the batch's own event write, or writes that
     * join the batch */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    if (batch)
        ck_assert_int_eq(tsps_batch_event_put(b, "alice", &ev), TSPS_OK);
    else
        ck_assert_int_eq(tsps_event_put(fx_eng, "alice", &ev), TSPS_OK);
    ck_assert_int_eq(tsps_registration_put(fx_eng, "alice", &r), TSPS_OK);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
}

START_TEST(test_concurrent_routes_and_writes)
{
    pthread_t th[2];
    void *res;

    fx_rule("alice", "*", TSPS_STATUS_IN_MEETING, "ring");
    version(0, 1);
    atomic_store(&stop, 0);
    atomic_store(&started, 0);
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, router, NULL), 0);
    /* the writes start once both routers route (on a loaded machine the
     * 300 writes could otherwise end before a router ran at all) */
    for (int i = 0; i < 100000 && atomic_load(&started) < 2; i++)
        usleep(100);
    ck_assert_int_eq(atomic_load(&started), 2);
    for (int round = 0; round < 300; round++)
        version(round % 2, round % 4 < 2);
    atomic_store(&stop, 1);
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_join(th[t], &res), 0);
        ck_assert_msg((long)res > 0, "a router saw %ld mixed decisions",
                      -(long)res);
    }
}
END_TEST

/* A write that touches more users than are rebuilt one by one (a purge
 * across thousands of users) loads the whole table anew: memory and store
 * still agree, before and after. */
START_TEST(test_purge_across_many_users_reloads)
{
    enum { N = 4200 };
    tsps_batch *b;
    size_t removed = 0;
    int64_t t = T_AT(0, 10, 0);

    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int u = 0; u < N; u++) {
        tsps_user usr;
        tsps_registration r;
        char num[32];
        tsps_user_init(&usr);
        snprintf(usr.id, sizeof(usr.id), "p%04d", u);
        strcpy(usr.dialplan.region, "DE");
        ck_assert_int_eq(tsps_user_put(fx_eng, &usr), TSPS_OK);
        snprintf(num, sizeof(num), "+4940777%04d", u);
        ck_assert_int_eq(tsps_number_add(fx_eng, usr.id, num), TSPS_OK);
        /* every user has an expired device, every other one a live one */
        tsps_registration_init(&r);
        snprintf(r.contact, sizeof(r.contact), "sip:old%04d@10.1.0.1", u);
        r.expires = t - 60;
        ck_assert_int_eq(tsps_registration_put(fx_eng, usr.id, &r), TSPS_OK);
        if (u % 2) {
            snprintf(r.contact, sizeof(r.contact), "sip:p%04d@10.1.0.1", u);
            r.expires = t + 3600;
            ck_assert_int_eq(tsps_registration_put(fx_eng, usr.id, &r),
                             TSPS_OK);
        }
    }
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(tsps_registration_purge(fx_eng, t, &removed), TSPS_OK);
    ck_assert_int_eq((int)removed, N);
    for (int pass = 0; pass < 2; pass++) {
        for (int u = 0; u < N; u += 97) {
            char num[32];
            tsps_decision d;
            snprintf(num, sizeof(num), "+4940777%04d", u);
            d = fx_route("+491709999999", num, t - 120);
            /* the purged devices are gone even where they had not expired
             * yet at the time of the call */
            ck_assert_int_eq(d.ntargets, (u % 2 ? 1 : 0));
        }
        /* the same from LMDB */
        fx_eng = reopen(fx_eng, TSPS_OPEN_NO_CONTACT_CACHE);
    }
}
END_TEST

static Suite *umem_suite(void)
{
    Suite *s = suite_create("user_memory");
    TCase *tc = tcase_create("umem");

    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_memory_matches_store, 0, 3);
    tcase_add_test(tc, test_aborted_writes_never_shown);
    tcase_add_test(tc, test_concurrent_routes_and_writes);
    tcase_add_test(tc, test_purge_across_many_users_reloads);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(umem_suite)

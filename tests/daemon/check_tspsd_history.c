/*
 * check_tspsd_history.c - the call log over the whole durable history
 * through tspsd's `history` request: a few hundred calls of ann (and some
 * of bob) over three years are written into the store before the daemon
 * starts; every filter (outcome words, contact, code, name/number text,
 * caller, date range, combined) must return exactly the calls the test
 * computes from what it wrote, page by page with the before_id cursor;
 * paging visits every call once while new calls arrive; attendants with a
 * code filter get full pages of their codes; bad filter values get a clear
 * error; tspsctl history passes the filters.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <tsps/tsps.h>

#define NCALLS 420
#define SPAN   (3 * 365 * 86400LL)

/* The log words as the test means them (its own model, not the daemon's). */
enum {
    W_MISSED,
    W_ANSWERED,
    W_RANG,
    W_FORWARDED,
    W_VOICEMAIL,
    W_ATTENDANT,
    W_REJECTED,
    W_FAILED
};

static const struct {
    int word;
    tsps_outcome oc;
    tsps_method_kind kind;
} kinds[] = {
    {W_MISSED, TSPS_OUTCOME_MISSED, TSPS_METHOD_RING},
    {W_MISSED, TSPS_OUTCOME_TIMEOUT, TSPS_METHOD_VOICEMAIL},
    {W_ANSWERED, TSPS_OUTCOME_ANSWERED, TSPS_METHOD_RING},
    {W_RANG, TSPS_OUTCOME_ROUTED, TSPS_METHOD_RING},
    {W_FORWARDED, TSPS_OUTCOME_REDIRECTED, TSPS_METHOD_FORWARD},
    {W_VOICEMAIL, TSPS_OUTCOME_ROUTED, TSPS_METHOD_VOICEMAIL},
    {W_ATTENDANT, TSPS_OUTCOME_ROUTED, TSPS_METHOD_ATTENDANT},
    {W_REJECTED, TSPS_OUTCOME_REJECTED, TSPS_METHOD_REJECT},
    {W_REJECTED, TSPS_OUTCOME_ROUTED, TSPS_METHOD_REJECT},
    {W_FAILED, TSPS_OUTCOME_FAILED, TSPS_METHOD_FORWARD},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const char *const codes[] = {"VIP", "FAMILY", "UNKNOWN", "WORK",
                                    "WITHHELD"};
static const struct {
    const char *uid, *name, *number;
} contacts[] = {
    {"c-anna", "Anna Example", "+13125550101"},
    {"c-bert", "Bert Brown", "+13125550102"},
    {"c-carla", "Carla Client", "+13125550103"},
    {"c-dora", "Dora Dietrich", "+13125550104"},
    {"c-emil", "Emil Ernst", "+13125550105"},
    {"c-fritz", "Fritz Anders", "+13125550106"},
};
#define NCONTACTS (sizeof(contacts) / sizeof(contacts[0]))

typedef struct call {
    uint64_t id;
    int64_t start;
    int word;
    char user[8], code[16], uid[16], name[32], number[20];
} call;

static call calls[NCALLS + 8];
static size_t ncalls;
static int64_t base;

static uint32_t rnd_state;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xffffff;
}

static void write_history(void)
{
    char path[400];
    tsps_engine *eng = NULL;
    tsps_batch *b = NULL;
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_decision *d = calloc(1, sizeof(*d));
    ck_assert_ptr_nonnull(d);
    snprintf(path, sizeof(path), "%s/data/store", fx.dir);
    cfg.path = path;
    ck_assert_int_eq(tsps_engine_open(&cfg, &eng), TSPS_OK);
    ck_assert_int_eq(tsps_batch_begin(eng, &b), TSPS_OK);
    rnd_state = 12;
    base = (int64_t)time(NULL) - SPAN - 86400;
    for (size_t i = 0; i < NCALLS; i++) {
        call *c = &calls[ncalls++];
        size_t k = rnd() % NKINDS, ct = rnd() % (NCONTACTS + 3);
        memset(c, 0, sizeof(*c));
        /* every 9th call starts in the same second as the one before it */
        c->start = i % 9 == 8
                       ? calls[i - 1].start
                       : base + (int64_t)((((uint64_t)rnd() << 24) | rnd()) %
                                          (uint64_t)SPAN);
        c->word = kinds[k].word;
        snprintf(c->user, sizeof(c->user), "%s", i % 7 == 3 ? "bob" : "ann");
        snprintf(c->code, sizeof(c->code), "%s",
                 codes[rnd() % (sizeof(codes) / sizeof(codes[0]))]);
        memset(d, 0, sizeof(*d));
        if (ct < NCONTACTS) {
            snprintf(c->uid, sizeof(c->uid), "%s", contacts[ct].uid);
            snprintf(c->name, sizeof(c->name), "%s", contacts[ct].name);
            snprintf(c->number, sizeof(c->number), "%s", contacts[ct].number);
            d->caller_kind = TSPS_CALLER_KNOWN;
        } else {
            snprintf(c->number, sizeof(c->number), "+1646555%04u",
                     (unsigned)(rnd() % 10000));
            d->caller_kind = TSPS_CALLER_UNKNOWN;
        }
        d->at = c->start;
        snprintf(d->user, sizeof(d->user), "%s", c->user);
        snprintf(d->called, sizeof(d->called), "%s",
                 strcmp(c->user, "ann") == 0 ? ANN_NUMBER : BOB_NUMBER);
        snprintf(d->caller, sizeof(d->caller), "%s", c->number);
        snprintf(d->caller_name, sizeof(d->caller_name), "%s", c->name);
        snprintf(d->contact_uid, sizeof(d->contact_uid), "%s", c->uid);
        snprintf(d->code, sizeof(d->code), "%s", c->code);
        d->method.kind = kinds[k].kind;
        d->method.a.kind = kinds[k].kind;
        ck_assert_int_eq(tsps_batch_history_append(b, d, kinds[k].oc, &c->id),
                         TSPS_OK);
        ck_assert(c->id != 0);
    }
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    tsps_engine_close(eng);
    free(d);
}

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    ncalls = 0;
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    th_start(&fx, NULL); /* makes the store */
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_user_put(a, "bob", BOB_NUMBER), 0);
    tspsd_client_close(a);
    ck_assert_int_eq(th_stop(&fx), 0);
    write_history();
    th_start(&fx, NULL);
}

static void teardown(void)
{
    /* a clean stop, and no sanitizer report (in an ASan+UBSan build) */
    int st = th_stop(&fx);
    int san = th_file_has(fx.log, "Sanitizer") ||
              th_file_has(fx.log, "runtime error");
    th_cleanup(&fx);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(!san, "tspsd's log has a sanitizer report");
}

/* ---- the test's own model of each filter ---- */

typedef struct filt {
    const char *user;
    unsigned words; /* bit per W_*, 0 = any */
    const char *outcome, *contact, *code, *text, *caller;
    int64_t from, to;
} filt;

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int model_match(const filt *f, const call *c)
{
    if (strcmp(c->user, f->user) != 0)
        return 0;
    if (f->words && !(f->words & (1u << c->word)))
        return 0;
    if (f->contact && strcmp(f->contact, c->uid) != 0)
        return 0;
    if (f->code && strcasecmp(f->code, c->code) != 0)
        return 0;
    if (f->text && !ci_contains(c->name, f->text) &&
        !(isdigit((unsigned char)f->text[0]) && strstr(c->number, f->text)))
        return 0;
    if (f->caller && strcmp(f->caller, c->number) != 0)
        return 0;
    if (c->start < f->from || (f->to != 0 && c->start >= f->to))
        return 0;
    return 1;
}

static int newest_first(const void *pa, const void *pb)
{
    const call *a = *(call *const *)pa, *b = *(call *const *)pb;
    if (a->start != b->start)
        return a->start > b->start ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

/* The expected ids, newest first. */
static size_t expect(const filt *f, uint64_t *ids)
{
    call *sel[NCALLS + 8];
    size_t n = 0;
    for (size_t i = 0; i < ncalls; i++)
        if (model_match(f, &calls[i]))
            sel[n++] = &calls[i];
    qsort(sel, n, sizeof(sel[0]), newest_first);
    for (size_t i = 0; i < n; i++)
        ids[i] = sel[i]->id;
    return n;
}

/* ---- the daemon ---- */

static int history(tspsd_client *cl, const filt *f, uint32_t limit,
                   uint64_t before, Tsps__Response **out)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__History h = TSPS__HISTORY__INIT;
    h.user = (char *)f->user;
    h.limit = limit;
    h.from = f->from;
    h.to = f->to;
    if (f->outcome)
        h.outcome = (char *)f->outcome;
    if (f->contact)
        h.contact = (char *)f->contact;
    if (f->code)
        h.code = (char *)f->code;
    if (f->text)
        h.text = (char *)f->text;
    if (f->caller)
        h.caller = (char *)f->caller;
    h.before_id = before;
    req.body_case = TSPS__REQUEST__BODY_HISTORY;
    req.history = &h;
    return th_call(cl, &req, out);
}

/* Every page of limit calls; the ids in order into ids, the count. */
static size_t page_all(tspsd_client *cl, const filt *f, uint32_t limit,
                       uint64_t *ids, size_t max, unsigned *pages)
{
    size_t n = 0;
    uint64_t before = 0;
    *pages = 0;
    for (;;) {
        Tsps__Response *r = NULL;
        int code = history(cl, f, limit, before, &r);
        ck_assert_msg(code == TSPS__CODE__OK, "history: %d %s", code,
                      r && r->error ? r->error : "");
        (*pages)++;
        size_t got = r->n_calls;
        for (size_t i = 0; i < got; i++) {
            ck_assert_msg(n < max, "more calls than there are");
            ck_assert_str_eq(r->calls[i]->user, f->user);
            ids[n++] = r->calls[i]->call_id;
        }
        if (got > 0)
            before = r->calls[got - 1]->call_id;
        tsps__response__free_unpacked(r, NULL);
        ck_assert_msg(got <= limit, "page of %zu > limit %u", got, limit);
        if (got < limit)
            return n;
    }
}

static void check_filter(tspsd_client *cl, const filt *f, uint32_t limit,
                         const char *what)
{
    static uint64_t want[NCALLS + 8], got[NCALLS + 8];
    unsigned pages;
    size_t nw = expect(f, want);
    size_t ng = page_all(cl, f, limit, got, NCALLS + 8, &pages);
    ck_assert_msg(nw > 0, "%s: the model selects nothing (a useless check)",
                  what);
    ck_assert_msg(ng == nw, "%s: %zu calls, want %zu", what, ng, nw);
    for (size_t i = 0; i < nw; i++)
        ck_assert_msg(got[i] == want[i], "%s: call %zu is %llu, want %llu",
                      what, i, (unsigned long long)got[i],
                      (unsigned long long)want[i]);
}

START_TEST(test_history_each_filter_exact)
{
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    int64_t y1 = base + 365 * 86400LL, y2 = base + 2 * 365 * 86400LL;
    filt all = {.user = "ann"};
    uint64_t ids[NCALLS];
    unsigned pages;

    /* Everything, in more than one page, and in one page of 1000. */
    check_filter(ann, &all, 50, "all");
    ck_assert_uint_gt(page_all(ann, &all, 50, ids, NCALLS, &pages), 300);
    ck_assert_uint_ge(pages, 7);
    check_filter(ann, &all, 1000, "all in one");

    filt f = {.user = "ann", .outcome = "missed", .words = 1u << W_MISSED};
    check_filter(ann, &f, 20, "missed");
    f.outcome = "voicemail, rejected";
    f.words = 1u << W_VOICEMAIL | 1u << W_REJECTED;
    check_filter(ann, &f, 20, "voicemail,rejected");
    f.outcome = "FORWARDED";
    f.words = 1u << W_FORWARDED;
    check_filter(ann, &f, 7, "forwarded");
    f.outcome = "rang,answered,attendant,failed";
    f.words =
        1u << W_RANG | 1u << W_ANSWERED | 1u << W_ATTENDANT | 1u << W_FAILED;
    check_filter(ann, &f, 33, "rang,answered,attendant,failed");

    filt c = {.user = "ann", .contact = "c-carla"};
    check_filter(ann, &c, 10, "contact c-carla");
    filt k = {.user = "ann", .code = "VIP"};
    check_filter(ann, &k, 10, "code VIP");
    k.code = "family";
    check_filter(ann, &k, 10, "code family (any case)");
    filt t = {.user = "ann", .text = "anders"};
    check_filter(ann, &t, 10, "text anders (Fritz Anders)");
    t.text = "AN"; /* Anna, Anders: any case, within names */
    check_filter(ann, &t, 25, "text AN");
    t.text = "6465551";
    check_filter(ann, &t, 5, "text digits");
    filt n = {.user = "ann", .caller = "+1 312 555-0104"};
    filt n2 = {.user = "ann", .caller = "+13125550104"};
    /* the caller filter ignores separators: same calls as written plainly */
    {
        static uint64_t a1[NCALLS], a2[NCALLS];
        size_t m1 = page_all(ann, &n, 9, a1, NCALLS, &pages);
        size_t m2 = expect(&n2, a2);
        ck_assert_uint_eq(m1, m2);
        ck_assert(m1 > 0 && memcmp(a1, a2, m1 * sizeof(a1[0])) == 0);
    }
    filt r = {.user = "ann", .from = y1, .to = y2};
    check_filter(ann, &r, 40, "second year");
    filt all3 = {.user = "ann",
                 .outcome = "missed",
                 .words = 1u << W_MISSED,
                 .code = "UNKNOWN",
                 .from = y1};
    check_filter(ann, &all3, 3, "missed + UNKNOWN + since y1");
    filt b = {.user = "bob"};
    tspsd_client *bob = th_connect(&fx, "bob", NULL);
    check_filter(bob, &b, 25, "bob's own");
    tspsd_client_close(bob);
    tspsd_client_close(ann);
}
END_TEST

START_TEST(test_history_paging_stable_while_calls_arrive)
{
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    tspsd_client *adm = th_connect(&fx, "admin", NULL);
    filt all = {.user = "ann"};
    static uint64_t want[NCALLS + 8], got[NCALLS + 8];
    size_t n = 0, nw;
    uint64_t before = 0, fresh = 0, past = 0;
    unsigned page = 0;
    int64_t mid = 0;

    for (;;) {
        Tsps__Response *r = NULL;
        ck_assert_int_eq(history(ann, &all, 40, before, &r), TSPS__CODE__OK);
        size_t got_n = r->n_calls;
        for (size_t i = 0; i < got_n; i++)
            got[n++] = r->calls[i]->call_id;
        if (got_n > 0) {
            before = r->calls[got_n - 1]->call_id;
            mid = r->calls[got_n - 1]->start;
        }
        tsps__response__free_unpacked(r, NULL);
        if (++page == 2) {
            /* Two calls arrive: one now (newer than every page: not in this
             * walk), one dated a day before the walk's position (older:
             * the walk must meet it exactly once). */
            Tsps__Request req = TSPS__REQUEST__INIT;
            Tsps__Route rt = TSPS__ROUTE__INIT;
            Tsps__Response *rr = NULL;
            ck_assert_int_eq(
                fx_route(adm, "+17185550199", ANN_NUMBER, 1, &fresh),
                TSPS__CODE__OK);
            rt.from = (char *)"+17185550198";
            rt.to = (char *)ANN_NUMBER;
            rt.live = 1;
            rt.at = mid - 86400;
            req.body_case = TSPS__REQUEST__BODY_ROUTE;
            req.route = &rt;
            ck_assert_int_eq(th_call(adm, &req, &rr), TSPS__CODE__OK);
            ck_assert_uint_eq(rr->n_calls, 1);
            past = rr->calls[0]->call_id;
            ck_assert_int_eq(rr->calls[0]->at, mid - 86400);
            tsps__response__free_unpacked(rr, NULL);
            ck_assert(fresh != 0 && past != 0);
            calls[ncalls] = (call){.id = past, .start = mid - 86400};
            snprintf(calls[ncalls].user, sizeof(calls[ncalls].user), "ann");
            ncalls++;
        }
        if (got_n < 40)
            break;
    }
    ck_assert_uint_ge(page, 3);
    nw = expect(&all, want);
    ck_assert_msg(n == nw, "paging visited %zu calls, want %zu", n, nw);
    for (size_t i = 0; i < nw; i++) {
        ck_assert_msg(got[i] == want[i], "call %zu is %llu, want %llu", i,
                      (unsigned long long)got[i], (unsigned long long)want[i]);
        ck_assert(got[i] != fresh);
    }
    /* A new walk from the top starts with the call that arrived now. */
    Tsps__Response *r = NULL;
    ck_assert_int_eq(history(ann, &all, 1, 0, &r), TSPS__CODE__OK);
    ck_assert_uint_eq(r->n_calls, 1);
    ck_assert_uint_eq(r->calls[0]->call_id, fresh);
    tsps__response__free_unpacked(r, NULL);
    tspsd_client_close(adm);
    tspsd_client_close(ann);
}
END_TEST

START_TEST(test_history_attendant_code_filter_full_pages)
{
    tspsd_client *adm = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_delegate(adm, "ann", "att", 1, 0, "WORK"), 0);
    tspsd_client_close(adm);
    tspsd_client *att = th_connect(&fx, "att", NULL);
    filt f = {.user = "ann", .code = "WORK"}; /* the model of what att sees */
    static uint64_t want[NCALLS], got[NCALLS];
    unsigned pages;
    size_t nw = expect(&f, want);
    filt asked = {.user = "ann"}; /* att asks for everything */
    size_t ng = page_all(att, &asked, 10, got, NCALLS, &pages);
    ck_assert_uint_gt(nw, 20);
    ck_assert_uint_eq(ng, nw);
    ck_assert(memcmp(got, want, nw * sizeof(want[0])) == 0);
    ck_assert_uint_eq(pages, nw / 10 + 1);
    /* a cursor on a call att may not see is no call for att */
    uint64_t vip = 0;
    for (size_t i = 0; i < ncalls && vip == 0; i++)
        if (strcmp(calls[i].user, "ann") == 0 &&
            strcmp(calls[i].code, "VIP") == 0)
            vip = calls[i].id;
    Tsps__Response *r = NULL;
    ck_assert_int_eq(history(att, &asked, 10, vip, &r), TSPS__CODE__INVALID);
    ck_assert(strstr(r->error, "before_id: no call") != NULL);
    tsps__response__free_unpacked(r, NULL);
    tspsd_client_close(att);
}
END_TEST

static void expect_invalid(tspsd_client *cl, const filt *f, uint64_t before,
                           const char *needle)
{
    Tsps__Response *r = NULL;
    int code = history(cl, f, 10, before, &r);
    ck_assert_msg(code == TSPS__CODE__INVALID, "code %d for %s", code, needle);
    ck_assert_msg(r->error != NULL && strstr(r->error, needle) != NULL,
                  "error \"%s\" lacks \"%s\"", r->error ? r->error : "",
                  needle);
    tsps__response__free_unpacked(r, NULL);
}

START_TEST(test_history_bad_filters_and_tspsctl)
{
    char out[65536], args[300];
    tspsd_client *ann = th_connect(&fx, "ann", NULL);
    filt f = {.user = "ann", .outcome = "missed,sunk"};
    expect_invalid(ann, &f, 0, "unknown word \"sunk\"");
    f.outcome = "missed,";
    expect_invalid(ann, &f, 0, "outcome");
    filt k = {.user = "ann", .code = "V I P"};
    expect_invalid(ann, &k, 0, "is not a code");
    filt a = {.user = "ann"};
    expect_invalid(ann, &a, 999999, "before_id: no call 999999");
    uint64_t bobs = 0;
    for (size_t i = 0; i < ncalls && bobs == 0; i++)
        if (strcmp(calls[i].user, "bob") == 0)
            bobs = calls[i].id;
    expect_invalid(ann, &a, bobs, "before_id: no call"); /* not ann's */
    filt r = {.user = "ann", .from = 100, .to = 50};
    expect_invalid(ann, &r, 0, "from/to");
    tspsd_client_close(ann);

    /* tspsctl: --missed --code, the cursor, and its own errors */
    filt m = {.user = "ann", .words = 1u << W_MISSED, .code = "VIP"};
    static uint64_t want[NCALLS];
    size_t nw = expect(&m, want);
    ck_assert_uint_gt(nw, 3);
    snprintf(args, sizeof(args),
             "--json history ann --missed --code vip --limit 2 --before %llu",
             (unsigned long long)want[0]);
    ck_assert_int_eq(th_ctl(&fx, "ann", args, out, sizeof(out)), 0);
    char id1[40], id2[40], id3[40];
    snprintf(id1, sizeof(id1), "\"call_id\":%llu", (unsigned long long)want[1]);
    snprintf(id2, sizeof(id2), "\"call_id\":%llu", (unsigned long long)want[2]);
    snprintf(id3, sizeof(id3), "\"call_id\":%llu", (unsigned long long)want[0]);
    ck_assert_msg(strstr(out, id1) && strstr(out, id2) && !strstr(out, id3),
                  "tspsctl page: %s", out);
    ck_assert_int_eq(
        th_ctl(&fx, "ann", "history ann --outcome sunk", out, sizeof(out)), 5);
    ck_assert_msg(strstr(out, "unknown word") != NULL, "%s", out);
    ck_assert_int_eq(th_ctl(&fx, "ann", "history ann --missed --outcome rang",
                            out, sizeof(out)),
                     1);
}
END_TEST

static Suite *history_suite(void)
{
    Suite *s = suite_create("tspsd_history");
    TCase *tc = tcase_create("history");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_history_each_filter_exact);
    tcase_add_test(tc, test_history_paging_stable_while_calls_arrive);
    tcase_add_test(tc, test_history_attendant_code_filter_full_pages);
    tcase_add_test(tc, test_history_bad_filters_and_tspsctl);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(history_suite)

/*
 * check_tspsd_sync.c - background sync against a real tspsd: config
 * sources sync on the worker, a broken one is reported (and routing goes
 * on), sync on demand and the folder watch pick up new cards, sync events
 * reach watchers,
 * a contact's code is written back to its vCard, sources added at run
 * time persist and can be removed.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char out[65536], book[300];

static void write_card(const char *file, const char *uid, const char *name,
                       const char *tel, const char *code)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", book, file);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nTEL:%s\r\n"
            "%s%s%sEND:VCARD\r\n",
            uid, name, tel, code ? "X-TSPS-CODE:" : "", code ? code : "",
            code ? "\r\n" : "");
    fclose(f);
}

static void setup(void)
{
    char extra[1024];
    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    snprintf(book, sizeof(book), "%s/book", fx.dir);
    ck_assert_int_eq(mkdir(book, 0700), 0);
    write_card("vera.vcf", "vera-1", "Vera Important", "+1 212 555 0177",
               "VIP");
    snprintf(extra, sizeof(extra),
             "[source annbook]\nuri = vcard-dir:%s\nuser = ann\n"
             "interval = 0\n"
             "[source broken]\nuri = vcard-dir:%s/missing\nuser = ann\n"
             "interval = 1\n",
             book, fx.dir);
    th_start(&fx, extra);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_code_set(a, "ann", "VIP", "any", "forward +1999"), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, NULL), 0);
    tspsd_client_close(a);
}

/* State of a source as the daemon reports it ("" if not listed). */
static void source_state(const char *name, char *state, size_t len,
                         unsigned *failures, char *err, size_t errlen)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__SourceList sl = TSPS__SOURCE_LIST__INIT;
    Tsps__Response *r = NULL;
    req.body_case = TSPS__REQUEST__BODY_SOURCE_LIST;
    req.source_list = &sl;
    ck_assert_int_eq(th_call(a, &req, &r), 0);
    state[0] = '\0';
    for (size_t i = 0; i < r->n_sources; i++) {
        if (strcmp(r->sources[i]->name, name) != 0)
            continue;
        snprintf(state, len, "%s", r->sources[i]->state);
        if (failures != NULL)
            *failures = r->sources[i]->failures;
        if (err != NULL)
            snprintf(err, errlen, "%s", r->sources[i]->last_error);
    }
    tsps__response__free_unpacked(r, NULL);
    tspsd_client_close(a);
}

static int wait_state(const char *name, const char *want)
{
    char st[32];
    for (int i = 0; i < 100; i++) {
        source_state(name, st, sizeof(st), NULL, NULL, 0);
        if (strcmp(st, want) == 0)
            return 1;
        usleep(50000);
    }
    return 0;
}

static void sync_now(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "source sync %s", name);
    int rc = th_ctl(&fx, "admin", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
}

START_TEST(test_sync_config_source_feeds_routing)
{
    /* The first sync ran before ann existed; a sync on demand fixes it. */
    sync_now("annbook");
    ck_assert(wait_state("annbook", "ok"));
    int rc = th_ctl(&fx, "ann", "route --from +12125550177 --to " ANN_NUMBER,
                    out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "code      VIP") &&
                      strstr(out, "Vera Important"),
                  "%s", out);
    rc = th_ctl(&fx, "att", "contact list ann vera", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "vera-1"), "%s", out);
}
END_TEST

START_TEST(test_sync_broken_source_reported_routing_goes_on)
{
    char st[32], err[256];
    unsigned failures = 0;
    ck_assert(wait_state("broken", "failed"));
    source_state("broken", st, sizeof(st), &failures, err, sizeof(err));
    ck_assert_uint_ge(failures, 1);
    ck_assert_msg(strstr(err, "missing") != NULL, "%s", err);
    ck_assert(th_log_has(&fx, "source=broken state=failed"));
    /* Routing is not held up by it. */
    int rc = th_ctl(&fx, "ann", "route --from +13125550001 --to " ANN_NUMBER,
                    out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    /* Metrics say so too. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "tspsd_sync_ok{source=\"broken\"} 0") != NULL,
                  "%s", out);
}
END_TEST

START_TEST(test_sync_on_demand_and_event)
{
    sync_now("annbook");
    ck_assert(wait_state("annbook", "ok"));
    tspsd_client *w = th_connect(&fx, "ann", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(w, &req, NULL), TSPS__CODE__OK);
    write_card("nora.vcf", "nora-1", "Nora New", "+1 212 555 0178", NULL);
    sync_now("annbook");
    int got = 0;
    for (int i = 0; i < 10 && !got; i++) {
        Tsps__Response *r = NULL;
        if (tspsd_client_recv(w, &r, 3000) != 0)
            break;
        got = r->event != NULL && strcmp(r->event->kind, "sync") == 0 &&
              r->event->source != NULL &&
              strcmp(r->event->source->name, "annbook") == 0 &&
              strcmp(r->event->source->state, "ok") == 0;
        tsps__response__free_unpacked(r, NULL);
    }
    ck_assert_msg(got, "no sync event");
    tspsd_client_close(w);
    int rc = th_ctl(&fx, "ann", "contact list ann", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "Nora New"), "%s", out);
}
END_TEST

/* vcard-dir sources are watched: a new card is synced without asking. */
START_TEST(test_sync_watch_picks_up_changes)
{
    sync_now("annbook");
    ck_assert(wait_state("annbook", "ok"));
    usleep(200000); /* the watch is armed after that sync */
    write_card("walt.vcf", "walt-1", "Walt Watched", "+1 212 555 0179", "VIP");
    int found = 0;
    for (int i = 0; i < 50 && !found; i++) {
        int rc = th_ctl(&fx, "ann", "contact list ann walt", out, sizeof(out));
        found = rc == 0 && strstr(out, "Walt Watched") != NULL;
        if (!found)
            usleep(100000);
    }
    ck_assert_msg(found, "%s", out);
    int rc = th_ctl(&fx, "ann", "route --from +12125550179 --to " ANN_NUMBER,
                    out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "code      VIP"), "%s", out);
}
END_TEST

START_TEST(test_sync_code_written_back)
{
    char path[400], text[4096];
    sync_now("annbook");
    ck_assert(wait_state("annbook", "ok"));
    int rc =
        th_ctl(&fx, "ann", "contact code ann vera-1 FAMILY", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "write-back to annbook queued"), "%s",
                  out);
    /* Routing sees it at once ... */
    rc = th_ctl(&fx, "ann", "route --from +12125550177 --to " ANN_NUMBER, out,
                sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "code      FAMILY"), "%s", out);
    /* ... and the vCard gets it from the worker. */
    snprintf(path, sizeof(path), "%s/vera.vcf", book);
    int ok = 0;
    for (int i = 0; i < 60 && !ok; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f != NULL ? fread(text, 1, sizeof(text) - 1, f) : 0;
        text[n] = '\0';
        if (f != NULL)
            fclose(f);
        ok = strstr(text, "X-TSPS-CODE:FAMILY") != NULL;
        if (!ok)
            usleep(50000);
    }
    ck_assert_msg(ok, "%s", text);
    /* Only the owner (or an admin) sets codes. */
    rc = th_ctl(&fx, "att", "contact code ann vera-1 VIP", out, sizeof(out));
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
}
END_TEST

START_TEST(test_sync_source_add_remove_persist)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "source add extra vcard-dir:%s --user ann --interval 0 "
             "--option known_codes=VIP",
             book);
    int rc = th_ctl(&fx, "admin", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert(wait_state("extra", "ok"));
    rc = th_ctl(&fx, "ann", "source list", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "extra"), "%s", out);
    rc = th_ctl(&fx, "bob", "source list", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "extra") == NULL, "%s", out);
    /* Kept across a restart. */
    ck_assert_int_eq(th_stop(&fx), 0);
    th_start(&fx, NULL);
    rc = th_ctl(&fx, "admin", "source list", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "extra"), "%s", out);
    rc = th_ctl(&fx, "admin", "source remove extra", out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin", "source list", out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "extra") == NULL, "%s", out);
    rc = th_ctl(&fx, "admin", "source remove extra", out, sizeof(out));
    ck_assert_msg(rc == 3, "rc %d: %s", rc, out);
}
END_TEST

/* Sync name on demand and wait for its "sync ok" event; the source's
 * contact count as the event reports it. */
static uint64_t sync_and_wait(const char *name)
{
    tspsd_client *w = th_connect(&fx, "ann", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(w, &req, NULL), TSPS__CODE__OK);
    /* Only a sync that started after the call counts: one queued or
     * running from before (the start-up sync, an earlier call) may end
     * first and still show the old cards. Attempts are stamped in whole
     * seconds, so start in a fresh second. */
    time_t t0 = time(NULL);
    while (time(NULL) == t0)
        usleep(20000);
    sync_now(name);
    int got = 0;
    uint64_t contacts = 0;
    for (int i = 0; i < 20 && !got; i++) {
        Tsps__Response *r = NULL;
        if (tspsd_client_recv(w, &r, 5000) != 0)
            break;
        got = r->event != NULL && strcmp(r->event->kind, "sync") == 0 &&
              r->event->source != NULL &&
              strcmp(r->event->source->name, name) == 0 &&
              strcmp(r->event->source->state, "ok") == 0 &&
              r->event->source->last_attempt > (int64_t)t0;
        if (got)
            contacts = r->event->source->contacts;
        tsps__response__free_unpacked(r, NULL);
    }
    ck_assert_msg(got, "no sync event for %s", name);
    tspsd_client_close(w);
    return contacts;
}

static const Tsps__Source *find_source(Tsps__Response *r, const char *name)
{
    for (size_t i = 0; i < r->n_sources; i++)
        if (strcmp(r->sources[i]->name, name) == 0)
            return r->sources[i];
    return NULL;
}

static Tsps__Response *list_sources(tspsd_client *a)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__SourceList sl = TSPS__SOURCE_LIST__INIT;
    Tsps__Response *r = NULL;
    req.body_case = TSPS__REQUEST__BODY_SOURCE_LIST;
    req.source_list = &sl;
    ck_assert_int_eq(th_call(a, &req, &r), 0);
    return r;
}

/* `source list`, sync events and the tspsd_sync_contacts gauge give the
 * contacts the source holds, also after a sync that changed nothing. */
START_TEST(test_sync_counts_are_totals)
{
    ck_assert_uint_eq(sync_and_wait("annbook"), 1);
    write_card("nora.vcf", "nora-1", "Nora New", "+1 212 555 0178", NULL);
    ck_assert_uint_eq(sync_and_wait("annbook"), 2);
    /* Nothing changed since: still 2, not 0. */
    ck_assert_uint_eq(sync_and_wait("annbook"), 2);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    Tsps__Response *r = list_sources(a);
    const Tsps__Source *src = find_source(r, "annbook");
    ck_assert_ptr_nonnull(src);
    ck_assert_uint_eq(src->contacts, 2);
    tsps__response__free_unpacked(r, NULL);
    tspsd_client_close(a);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s --max-time 5 http://127.0.0.1:%d/metrics",
             fx.metrics_port);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "tspsd_sync_contacts{source=\"annbook\"} 2\n") !=
                      NULL,
                  "%s", out);
}
END_TEST

/* `source add --interval 0` means "only on demand", as interval = 0 in the
 * config file; without --interval the default is 300 s. */
START_TEST(test_sync_source_add_interval_zero_on_demand)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "source add od vcard-dir:%s --user ann --interval 0", book);
    int rc = th_ctl(&fx, "admin", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(cmd, sizeof(cmd), "source add dflt vcard-dir:%s --user ann", book);
    rc = th_ctl(&fx, "admin", cmd, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    rc = th_ctl(&fx, "admin",
                "source add bad vcard-dir:/x --user ann "
                "--interval -3",
                out, sizeof(out));
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    for (int round = 0; round < 2; round++) {
        tspsd_client *a = th_connect(&fx, "admin", NULL);
        Tsps__Response *r = list_sources(a);
        const Tsps__Source *od = find_source(r, "od");
        const Tsps__Source *df = find_source(r, "dflt");
        ck_assert(od != NULL && df != NULL);
        ck_assert_uint_eq(od->interval_s, 0);
        ck_assert(od->on_demand);
        ck_assert_int_eq(od->next_attempt, 0);
        ck_assert_uint_eq(df->interval_s, 300);
        tsps__response__free_unpacked(r, NULL);
        tspsd_client_close(a);
        /* The same after a restart (the stored definition). */
        ck_assert_int_eq(th_stop(&fx), 0);
        th_start(&fx, NULL);
    }
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("tspsd_sync");
    TCase *tc = tcase_create("sources");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sync_config_source_feeds_routing);
    tcase_add_test(tc, test_sync_broken_source_reported_routing_goes_on);
    tcase_add_test(tc, test_sync_on_demand_and_event);
    tcase_add_test(tc, test_sync_code_written_back);
    tcase_add_test(tc, test_sync_watch_picks_up_changes);
    tcase_add_test(tc, test_sync_source_add_remove_persist);
    tcase_add_test(tc, test_sync_counts_are_totals);
    tcase_add_test(tc, test_sync_source_add_interval_zero_on_demand);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(sync_suite)

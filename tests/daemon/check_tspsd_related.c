/*
 * check_tspsd_related.c - related e-mails and documents through tspsd: a
 * real daemon with a [related NAME] maildir for ann and a vcard-dir
 * contact source, asked with the `related` request and tspsctl. Covers who
 * may see them (the user, an admin, an attendant granted `related`; not
 * another user, not an attendant with monitor alone, not anonymous), the
 * lookup by number in any written form, by e-mail and by call id, the
 * criteria, and a user without sources; the web UI's download of a related
 * Maildir mail (GET /api/related/doc) and its refusals.
 */
#include "fixture.h"
#include "tsps_check.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char out[65536], book[300], mail[300];

static void mkdirs(const char *base, const char *sub)
{
    char p[400];
    snprintf(p, sizeof(p), "%s%s", base, sub);
    ck_assert_int_eq(mkdir(p, 0700), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A message from `from`, `days` ago, into the maildir's cur/. */
static void write_mail(int n, const char *from, const char *subject, int days)
{
    char path[400], date[64], text[1024];
    time_t t = time(NULL) - (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(path, sizeof(path), "%s/cur/%ld.%d.test:2,S", mail, (long)t, n);
    snprintf(text, sizeof(text),
             "From: %s\r\nTo: Ann <ann@example.org>\r\nSubject: %s\r\n"
             "Date: %s\r\nMessage-ID: <m%d@example.org>\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n\r\n"
             "Hello Ann, about the <offer> we discussed.\r\n",
             from, subject, date, n);
    write_file(path, text);
}

static void setup(void)
{
    char extra[2048], path[400];
    memset(&fx, 0, sizeof(fx));
    tsps_check_tmpdir(fx.dir, sizeof(fx.dir));
    th_make_certs(&fx);
    snprintf(book, sizeof(book), "%s/book", fx.dir);
    snprintf(mail, sizeof(mail), "%s/Maildir", fx.dir);
    ck_assert_int_eq(mkdir(book, 0700), 0);
    mkdirs(mail, "");
    mkdirs(mail, "/cur");
    mkdirs(mail, "/new");
    mkdirs(mail, "/tmp");
    snprintf(path, sizeof(path), "%s/carla.vcf", book);
    write_file(path, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:carla-1\r\n"
                     "FN:Carla Client\r\nTEL:+1 312 555 0142\r\n"
                     "EMAIL:Carla@Client.example\r\nEND:VCARD\r\n");
    write_mail(1, "Carla Client <carla@client.example>", "Offer for Q3", 2);
    write_mail(2, "Carla Client <carla@client.example>", "Old thread", 200);
    write_mail(3, "Someone Else <other@example.net>", "Unrelated", 1);
    write_mail(4, "Dora Stranger <dora@unknown.example>", "Hi from Dora", 3);
    snprintf(extra, sizeof(extra),
             "[source annbook]\nuri = vcard-dir:%s\nuser = ann\n"
             "interval = 0\n"
             "[related annmail]\nuri = maildir:%s\nuser = ann\n"
             "[related_criteria]\nann = *: last 30 days; NOMAIL: none\n"
             "[web]\nport = 0\n",
             book, mail);
    th_start(&fx, extra);
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    ck_assert_int_eq(fx_user_put(a, "ann", ANN_NUMBER), 0);
    ck_assert_int_eq(fx_user_put(a, "bob", BOB_NUMBER), 0);
    ck_assert_int_eq(fx_delegate(a, "ann", "att", 1, 1, NULL), 0);
    tspsd_client_close(a);
    /* The first sync ran before ann existed: sync again, wait for Carla. */
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(
            th_ctl(&fx, "admin", "source sync annbook", out, sizeof(out)), 0);
        if (th_ctl(&fx, "ann", "contact list ann", out, sizeof(out)) == 0 &&
            strstr(out, "carla-1") != NULL)
            return;
        usleep(100000);
    }
    ck_abort_msg("contact never synced: %s", out);
}

static void teardown(void)
{
    th_cleanup(&fx);
}

static int related(const char *who, const char *user, const char *caller,
                   uint64_t call_id, Tsps__Response **resp)
{
    tspsd_client *c = th_connect(&fx, who, NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__RelatedGet g = TSPS__RELATED_GET__INIT;
    g.user = (char *)(user != NULL ? user : "");
    g.caller = (char *)(caller != NULL ? caller : "");
    g.call_id = call_id;
    req.body_case = TSPS__REQUEST__BODY_RELATED;
    req.related = &g;
    int code = th_call(c, &req, resp);
    tspsd_client_close(c);
    return code;
}

static int has_title(const Tsps__Response *r, const char *title)
{
    for (size_t i = 0; i < r->n_related; i++)
        if (strcmp(r->related[i]->title, title) == 0)
            return 1;
    return 0;
}

static int set_delegation(int monitor, int related_right, const char *code)
{
    tspsd_client *an = th_connect(&fx, "ann", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    char *codes[1] = {(char *)code};
    dl.user = (char *)"ann";
    dl.attendant = (char *)"att";
    dl.monitor = monitor;
    dl.act = 1;
    dl.related = related_right;
    if (code != NULL) {
        dl.n_codes = 1;
        dl.codes = codes;
    }
    dg.delegation = &dl;
    req.body_case = TSPS__REQUEST__BODY_DELEGATE;
    req.delegate = &dg;
    int rc = th_call(an, &req, NULL);
    tspsd_client_close(an);
    return rc;
}

/* A known contact, asked by a number written another way: the mail from
 * its address within the criteria (last 30 days), not the old one, not
 * another sender's; subject, sender, snippet and link come along. */
START_TEST(test_related_contact_by_number)
{
    Tsps__Response *r = NULL;
    ck_assert_int_eq(related("ann", "ann", "(312) 555-0142", 0, &r),
                     TSPS__CODE__OK);
    ck_assert_msg(has_title(r, "Offer for Q3"), "items: %zu", r->n_related);
    ck_assert(!has_title(r, "Old thread"));
    ck_assert(!has_title(r, "Unrelated"));
    ck_assert_str_eq(r->related_status, "");
    for (size_t i = 0; i < r->n_related; i++) {
        const Tsps__RelatedItem *it = r->related[i];
        if (strcmp(it->title, "Offer for Q3") != 0)
            continue;
        ck_assert_str_eq(it->kind, "email");
        ck_assert(strstr(it->from, "carla@client.example") != NULL);
        ck_assert(strstr(it->snippet, "<offer>") != NULL);
        ck_assert(strncmp(it->url, "file://", 7) == 0);
    }
    tsps__response__free_unpacked(r, NULL);
    /* Asked again: the same answer (from the cache). */
    ck_assert_int_eq(related("ann", "ann", "+13125550142", 0, &r),
                     TSPS__CODE__OK);
    ck_assert(has_title(r, "Offer for Q3"));
    tsps__response__free_unpacked(r, NULL);
}
END_TEST

/* An unknown caller by e-mail address; a range overriding the criteria. */
START_TEST(test_related_by_email_and_range)
{
    Tsps__Response *r = NULL;
    ck_assert_int_eq(related("ann", "ann", "dora@unknown.example", 0, &r),
                     TSPS__CODE__OK);
    ck_assert(has_title(r, "Hi from Dora"));
    ck_assert(!has_title(r, "Offer for Q3"));
    tsps__response__free_unpacked(r, NULL);

    int rc = th_ctl(&fx, "ann",
                    "related --user ann --caller +13125550142 --since "
                    "2000-01-01T00:00:00Z",
                    out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "Old thread") != NULL &&
                      strstr(out, "Offer for Q3") != NULL,
                  "%s", out);
}
END_TEST

/* Who may see them. E-mails are private: monitor alone is not enough. */
START_TEST(test_related_refusals)
{
    Tsps__Response *r = NULL;
    ck_assert_int_eq(related("admin", "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__OK);
    ck_assert_int_eq(related(NULL, "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__UNAUTHENTICATED);
    ck_assert_int_eq(related("bob", "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__DENIED);
    ck_assert(th_log_has(&fx, "identity=bob request=related"));
    /* att holds monitor + act from the fixture, not related. */
    ck_assert_int_eq(related("att", "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__DENIED);
    ck_assert(th_log_has(&fx, "identity=att request=related"));
    ck_assert(th_log_has(&fx, "lacks related"));
    ck_assert_int_eq(related("attno", "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__DENIED);
    int rc = th_ctl(&fx, "att", "related --user ann --caller +13125550142", out,
                    sizeof(out));
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);

    /* Granted: att sees them. */
    ck_assert_int_eq(set_delegation(0, 1, NULL), TSPS__CODE__OK);
    ck_assert_int_eq(related("att", "ann", "+13125550142", 0, &r),
                     TSPS__CODE__OK);
    ck_assert(has_title(r, "Offer for Q3"));
    tsps__response__free_unpacked(r, NULL);
    /* Limited to code VIP: Carla has no code, so not hers. */
    ck_assert_int_eq(set_delegation(0, 1, "VIP"), TSPS__CODE__OK);
    ck_assert_int_eq(related("att", "ann", "+13125550142", 0, NULL),
                     TSPS__CODE__DENIED);
}
END_TEST

/* By call id: the call's user and caller; one may not see: refused. */
START_TEST(test_related_by_call)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    uint64_t call = 0;
    Tsps__Response *r = NULL;
    ck_assert_int_eq(fx_route(a, "+13125550142", ANN_NUMBER, 1, &call),
                     TSPS__CODE__OK);
    tspsd_client_close(a);
    ck_assert(call != 0);
    ck_assert_int_eq(related("ann", NULL, NULL, call, &r), TSPS__CODE__OK);
    ck_assert(has_title(r, "Offer for Q3"));
    tsps__response__free_unpacked(r, NULL);
    ck_assert_int_eq(related("bob", NULL, NULL, call, NULL),
                     TSPS__CODE__DENIED);
    ck_assert_int_eq(related("ann", NULL, NULL, 987654321, NULL),
                     TSPS__CODE__NOT_FOUND);
    snprintf(out, sizeof(out), "related --call %llu", (unsigned long long)call);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "%s", out);
    ck_assert_int_eq(th_ctl(&fx, "ann", cmd, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "Offer for Q3") != NULL, "%s", out);
}
END_TEST

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tspsd_client *subscribe(const char *who)
{
    tspsd_client *c = th_connect(&fx, who, NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Subscribe sub = TSPS__SUBSCRIBE__INIT;
    sub.user = (char *)"ann";
    req.body_case = TSPS__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &sub;
    ck_assert_int_eq(th_call(c, &req, NULL), TSPS__CODE__OK);
    return c;
}

/* Wait for `kind` of call `id`: 1 and *title = the first item's title
 * (when kind is call.related), 0 when not within timeout_ms. */
static int wait_event(tspsd_client *c, const char *kind, uint64_t id,
                      int timeout_ms, char *title, size_t tlen)
{
    long long end = mono_ms() + timeout_ms;
    for (;;) {
        Tsps__Response *r = NULL;
        long long left = end - mono_ms();
        if (left <= 0 || tspsd_client_recv(c, &r, (int)left) != 0)
            return 0;
        int hit = r->event != NULL && r->event->call_id == id &&
                  strcmp(r->event->kind, kind) == 0;
        if (hit && title != NULL)
            snprintf(title, tlen, "%s",
                     r->event->n_related > 0 ? r->event->related[0]->title
                                             : "");
        tsps__response__free_unpacked(r, NULL);
        if (hit)
            return 1;
    }
}

/* At ring time the items follow the call as "call.related", to those who
 * may see them: ann, not att with monitor alone (who still sees the call),
 * then att once granted. */
START_TEST(test_related_at_ring)
{
    char title[200] = "";
    uint64_t c1 = 0, c2 = 0;
    tspsd_client *an = subscribe("ann");
    tspsd_client *at = subscribe("att");
    tspsd_client *a = th_connect(&fx, "admin", NULL);

    ck_assert_int_eq(fx_route(a, "+13125550142", ANN_NUMBER, 1, &c1),
                     TSPS__CODE__OK);
    ck_assert_int_eq(
        wait_event(an, "call.related", c1, 30000, title, sizeof(title)), 1);
    ck_assert_str_eq(title, "Offer for Q3");
    ck_assert_int_eq(wait_event(at, "call.offered", c1, 30000, NULL, 0), 1);
    /* ann had it; att's stream got nothing more for c1 meanwhile. */
    ck_assert_int_eq(wait_event(at, "call.related", c1, 1000, NULL, 0), 0);

    ck_assert_int_eq(set_delegation(1, 1, NULL), TSPS__CODE__OK);
    ck_assert_int_eq(fx_route(a, "+13125550142", ANN_NUMBER, 1, &c2),
                     TSPS__CODE__OK);
    ck_assert_int_eq(
        wait_event(at, "call.related", c2, 30000, title, sizeof(title)), 1);
    ck_assert_str_eq(title, "Offer for Q3");
    tspsd_client_close(a);
    tspsd_client_close(at);
    tspsd_client_close(an);
}
END_TEST

/* A user without sources is told so; a bad request is INVALID. */
START_TEST(test_related_no_sources_and_bad_input)
{
    Tsps__Response *r = NULL;
    ck_assert_int_eq(related("bob", "bob", "+13125550142", 0, &r),
                     TSPS__CODE__OK);
    ck_assert_uint_eq(r->n_related, 0);
    ck_assert(strstr(r->message, "no related sources") != NULL);
    tsps__response__free_unpacked(r, NULL);
    ck_assert_int_eq(related("ann", "ann", "", 0, NULL), TSPS__CODE__INVALID);
    ck_assert_int_eq(th_ctl(&fx, "ann", "related --user ann", out, sizeof(out)),
                     1);
}
END_TEST

/* The link of the item titled `title` among `caller`'s items (any date). */
static void item_url(const char *caller, const char *title, char *url,
                     size_t len)
{
    tspsd_client *c = th_connect(&fx, "ann", NULL);
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__RelatedGet g = TSPS__RELATED_GET__INIT;
    Tsps__Response *r = NULL;
    g.user = (char *)"ann";
    g.caller = (char *)caller;
    g.since = 1;
    req.body_case = TSPS__REQUEST__BODY_RELATED;
    req.related = &g;
    ck_assert_int_eq(th_call(c, &req, &r), TSPS__CODE__OK);
    tspsd_client_close(c);
    url[0] = '\0';
    for (size_t i = 0; i < r->n_related; i++)
        if (strcmp(r->related[i]->title, title) == 0)
            snprintf(url, len, "%s", r->related[i]->url);
    tsps__response__free_unpacked(r, NULL);
    ck_assert_msg(strncmp(url, "file:///", 8) == 0, "%s: %s", title, url);
}

/* GET /api/related/doc?call=ID&url=... for that link (percent-encoded). */
static int doc_get(uint64_t call, const char *url, const char *cookie)
{
    static const char hex[] = "0123456789ABCDEF";
    char path[4096];
    size_t o = (size_t)snprintf(
        path, sizeof(path),
        "/api/related/doc?call=%llu&url=", (unsigned long long)call);
    for (const unsigned char *p = (const unsigned char *)url;
         *p != '\0' && o + 4 < sizeof(path); p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
            path[o++] = (char)*p;
        } else {
            path[o++] = '%';
            path[o++] = hex[*p >> 4];
            path[o++] = hex[*p & 15];
        }
    }
    path[o] = '\0';
    return th_web_req(&fx, "GET", path, cookie, NULL, NULL, out, sizeof(out));
}

/* The web UI serves a related mail of a Maildir source as a download,
 * only the call's caller's items, only to whom may see them. */
START_TEST(test_related_web_download)
{
    tspsd_client *a = th_connect(&fx, "admin", NULL);
    char ann[80], att[80], bob[80], offer[1024], old[1024], dora[1024];
    char bad[1200];
    uint64_t call = 0;

    ck_assert_int_eq(fx_route(a, "+13125550142", ANN_NUMBER, 1, &call),
                     TSPS__CODE__OK);
    th_web_login(&fx, a, "ann", ann, sizeof(ann));
    th_web_login(&fx, a, "att", att, sizeof(att));
    th_web_login(&fx, a, "bob", bob, sizeof(bob));
    tspsd_client_close(a);
    item_url("+13125550142", "Offer for Q3", offer, sizeof(offer));
    item_url("+13125550142", "Old thread", old, sizeof(old));
    item_url("dora@unknown.example", "Hi from Dora", dora, sizeof(dora));

    ck_assert_int_eq(doc_get(call, offer, ann), 200);
    ck_assert_msg(
        strstr(out, "Content-Disposition: attachment; filename=\"mail-") !=
                NULL &&
            strstr(out, "Content-Type: application/octet-stream") != NULL,
        "%s", out);
    ck_assert_msg(strstr(out, "\r\n\r\nFrom: Carla Client") != NULL &&
                      strstr(out, "Subject: Offer for Q3") != NULL,
                  "%s", out);
    /* any date: the old thread too */
    ck_assert_int_eq(doc_get(call, old, ann), 200);
    ck_assert(strstr(out, "Subject: Old thread") != NULL);
    /* another sender's mail, through this call: not found */
    ck_assert_int_eq(doc_get(call, dora, ann), 404);
    ck_assert(strstr(out, "Hi from Dora") == NULL);
    /* ../ out of the Maildir, a file elsewhere, not a file link */
    snprintf(bad, sizeof(bad), "file://%s/cur/../../book/carla.vcf", mail);
    ck_assert_int_eq(doc_get(call, bad, ann), 404);
    ck_assert_int_eq(doc_get(call, "file:///etc/passwd", ann), 404);
    ck_assert_int_eq(doc_get(call, "imap://127.0.0.1/INBOX", ann), 400);
    ck_assert_int_eq(doc_get(987654321, offer, ann), 404);
    /* att: monitor and act, not related; bob: another user; no session */
    ck_assert_int_eq(doc_get(call, offer, att), 403);
    ck_assert(th_log_has(&fx, "related document refused"));
    ck_assert_int_eq(doc_get(call, offer, bob), 404);
    ck_assert_int_eq(doc_get(call, offer, NULL), 401);
    ck_assert(strstr(out, "Offer for Q3") == NULL);
    /* granted related: att gets it */
    ck_assert_int_eq(set_delegation(1, 1, NULL), TSPS__CODE__OK);
    ck_assert_int_eq(doc_get(call, offer, att), 200);
}
END_TEST

static Suite *related_suite(void)
{
    Suite *s = suite_create("tspsd_related");
    TCase *tc = tcase_create("related");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_related_contact_by_number);
    tcase_add_test(tc, test_related_by_email_and_range);
    tcase_add_test(tc, test_related_refusals);
    tcase_add_test(tc, test_related_by_call);
    tcase_add_test(tc, test_related_at_ring);
    tcase_add_test(tc, test_related_no_sources_and_bad_input);
    tcase_add_test(tc, test_related_web_download);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_suite)

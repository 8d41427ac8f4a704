/*
 * The same conformance checks of the carddav:/caldav: adapters on every
 * DAV server users run: Radicale, Xandikos (behind Basic auth) and
 * sabre/dav 1.8 (the Baikal/Nextcloud engine, here without
 * sync-collection: ctag/etag listing). DAV_SERVER=radicale|xandikos|sabre
 * picks the server (tests/dav.cmake runs the suite once for each); every
 * test starts its own server (tests/dav/dav_server.sh: a free loopback
 * port, a throwaway folder, user alice:secret) and stops it.
 *
 * Discovery from the base URL (once for a new source), full sync,
 * add/edit/delete incremental, idle polls of one small request, cards in
 * Apple/Google/Outlook/Thunderbird dialects (tests/data/vcard), group
 * codes, write-back with If-Match and a 412 merge, refused and reset
 * tokens, the etag audit repairing drift, a calendar synced by etags, and
 * the server killed in the middle of a sync (nothing lost, calls still
 * routed from the mirror, the next sync completes the rest).
 * Without the server installed the suite exits 77 (skipped, loudly).
 */
#include <cmsb/adapter.h>

#include "dav_harness.h"

static th_server S;

typedef struct t_ctx {
    char dir[512];
    tsps_engine *eng;
    cmsb_registry *reg;
} t_ctx;

static t_ctx T;
static const char *U = "alice";

/* Log lines, plus a hook run on the nth matching line. */
static char logbuf[1 << 20];
static const char *hook_on;
static int hook_n;
static void (*hook_fn)(void);

static void t_log(void *arg, int level, const char *msg)
{
    size_t n = strlen(logbuf);
    (void)arg;
    (void)level;
    if (n + strlen(msg) + 2 < sizeof(logbuf))
        snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
    if (hook_on != NULL && strstr(msg, hook_on) != NULL && --hook_n <= 0) {
        hook_on = NULL;
        hook_fn();
    }
}

/* DAV_TEST_LOG=file: the log of each test is appended there */
static void dump_log(void)
{
    const char *f = getenv("DAV_TEST_LOG");
    FILE *fp = f != NULL ? fopen(f, "a") : NULL;
    if (fp != NULL) {
        fputs(logbuf, fp);
        fclose(fp);
    }
}

/* the end of the log: what fits in a failure message */
static const char *log_tail(void)
{
    size_t n = strlen(logbuf);
    return n > 3000 ? logbuf + n - 3000 : logbuf;
}

static int count_in(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static int is_sabre(void)
{
    return strcmp(th_kind(&S), "sabre") == 0;
}

/* Each test has a server of its own, started and stopped by the runner
 * process around it (an unchecked fixture), so a failing test never
 * leaves a server behind. */
static void srv_up(void)
{
    S.dir[0] = '\0';
    if (th_start(&S, 0) != 0) {
        fprintf(stderr, "FAIL: %s did not start\n", th_kind(&S));
        exit(EXIT_FAILURE);
    }
}

static void srv_down(void)
{
    S.pid = 0; /* the test may have restarted it: stop by its pid file */
    th_stop(&S);
    tsps_check_rmdir(S.dir);
}

static void t_setup(void)
{
    logbuf[0] = '\0';
    hook_on = NULL;
    T.eng = th_store(T.dir, sizeof(T.dir), U);
    ck_assert_int_eq(cmsb_registry_open(&T.reg), CMSB_OK);
}

static void t_teardown(void)
{
    tsps_engine_close(T.eng);
    cmsb_registry_close(T.reg);
    tsps_check_rmdir(T.dir);
}

/* path: "" = the server root; else what follows the origin */
static cmsb_source *t_open(const char *scheme, const char *path,
                           const char *frag, int64_t now)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    cmsb_source *src = NULL;
    char uri[700];
    int rc;

    o.username = U;
    o.password = "secret";
    o.log = t_log;
    o.tz = "Europe/Berlin";
    o.now = now;
    o.timeout_ms = 20000;
    snprintf(uri, sizeof(uri), "%s:http://127.0.0.1:%d%s%s", scheme, S.port,
             path[0] ? path : "/", frag != NULL ? frag : "");
    rc = cmsb_source_open(T.reg, uri, &o, &src);
    ck_assert_msg(rc == CMSB_OK, "open %s: %s\n%s", uri, cmsb_errname(rc),
                  log_tail());
    return src;
}

static void t_sync(cmsb_source *src, cmsb_sync_stats *st)
{
    int rc = cmsb_sync(src, T.eng, U, "dav", 0, st);
    ck_assert_msg(rc == CMSB_OK, "sync: %s\n%s", cmsb_errname(rc), log_tail());
}

static char *book(const char *name)
{
    static char p[300];
    th_coll_path(&S, U, name, 0, p, sizeof(p));
    return p;
}

static int count_cb(void *arg, const tsps_contact *c)
{
    (void)c;
    (*(int *)arg)++;
    return 0;
}

static int t_count(void)
{
    int n = 0;
    ck_assert_int_eq(tsps_contact_list(T.eng, U, NULL, count_cb, &n), TSPS_OK);
    return n;
}

static void t_code(const char *uid, const char *code)
{
    tsps_contact c;
    ck_assert_msg(tsps_contact_get(T.eng, U, uid, &c) == TSPS_OK, "%s missing",
                  uid);
    ck_assert_msg(strcmp(c.code, code) == 0, "%s: code %s, want %s", uid,
                  c.code, code);
}

static void t_rule(const char *code, const char *spec)
{
    tsps_method m;
    char err[128];
    ck_assert_int_eq(tsps_method_parse(spec, &m, err, sizeof(err)), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(T.eng, U, code, TSPS_STATUS_ANY, &m),
                     TSPS_OK);
}

static void t_route(const char *caller, tsps_decision *d)
{
    tsps_call call = TSPS_CALL_INIT;
    call.called = "+49 30 5550000";
    call.caller = caller;
    call.now = 1768208400;
    ck_assert_int_eq(tsps_route(T.eng, &call, d), TSPS_OK);
}

/* PUT raw text at a path (2xx asserted) */
static void t_put_raw(const char *path, const char *ctype, const char *text)
{
    long st = th_http(&S, U, "PUT", path, ctype, text, NULL, NULL, 0);
    ck_assert_msg(st / 100 == 2, "PUT %s -> %ld", path, st);
}

/* ---- discovery ---- */

START_TEST(test_discovery_from_base_once)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    cmsb_options o = CMSB_OPTIONS_INIT;
    char line[400], uri[300];

    t_setup();
    th_mkbook(&S, U, "personal");
    th_mkbook(&S, U, "work");
    th_mkcal(&S, U, "meetings");
    th_put_card(&S, U, "personal", "p1", "Anna", "+49 30 1111111", NULL);
    th_put_card(&S, U, "work", "w1", "Bernd", "+49 30 2222222", NULL);
    /* from the server root: principal -> home set -> both books, not the
     * calendar */
    src = t_open("carddav", "", NULL, 0);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 2);
    ck_assert_int_eq(t_count(), 2);
    /* found at the open, not found again at the first sync */
    snprintf(line, sizeof(line), "msg=\"dav: collection\" href=\"%s\"",
             book("personal"));
    ck_assert_msg(count_in(logbuf, line) == 1, "%d discoveries:\n%s",
                  count_in(logbuf, line), log_tail());
    /* each server says what it supports: sync-collection everywhere but
     * on sabre/dav 1.8 (Xandikos lists it without the <report> wrapper) */
    ck_assert_msg(strstr(logbuf, is_sabre() ? "sync=0" : "sync=1") != NULL,
                  "%s", log_tail());
    ck_assert_ptr_null(strstr(logbuf, is_sabre() ? "sync=1" : "sync=0"));
    cmsb_source_close(src);
    /* from /.well-known/carddav (a redirect) */
    src = t_open("carddav", "/.well-known/carddav", NULL, 0);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 2);
    cmsb_source_close(src);
    /* a wrong password fails the open */
    o.username = U;
    o.password = "wrong";
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/", S.port);
    src = (cmsb_source *)&o;
    ck_assert_int_ne(cmsb_source_open(T.reg, uri, &o, &src), CMSB_OK);
    ck_assert_ptr_null(src);
    t_teardown();
}
END_TEST

/* ---- full + incremental; an idle poll is one small request ---- */

/* the requests of the last sync: after `mark` in logbuf */
static int requests_since(size_t mark)
{
    return count_in(logbuf + mark, "msg=\"dav: http\"");
}

static int is_kind(const char *k)
{
    return strcmp(th_kind(&S), k) == 0;
}

/* The adapter's account of a sync-collection answer (its DEBUG line
 * "dav: sync-collection page"): did the REPORT ask for card data, how
 * many members were deleted, came with their data (and how many bytes
 * of it), need a fetch. n = how many such lines; the first is read. */
typedef struct page {
    int n, asked;
    size_t deleted, with_data, bytes, to_fetch;
} page;

static page t_page(const char *l)
{
    page pg;
    const char *p = strstr(l, "msg=\"dav: sync-collection page\"");

    memset(&pg, 0, sizeof(pg));
    pg.n = count_in(l, "msg=\"dav: sync-collection page\"");
    if (p != NULL)
        p = strstr(p, "asked_data=");
    ck_assert_msg(p != NULL, "no sync-collection page in\n%s", l);
    ck_assert_int_eq(sscanf(p,
                            "asked_data=%d deleted=%zu with_data=%zu "
                            "data_bytes=%zu to_fetch=%zu",
                            &pg.asked, &pg.deleted, &pg.with_data, &pg.bytes,
                            &pg.to_fetch),
                     5);
    return pg;
}

/* What a sync of `changed` edited or added cards and `deleted` deleted
 * ones cost, from its log after `mark`. Radicale sends the cards in the
 * sync-collection REPORT we ask them in: that one request, no multiget.
 * Xandikos answers address-data there with a 404 propstat: the REPORT,
 * then one multiget of exactly the changed cards. sabre/dav 1.8 (no
 * sync-collection): the Depth 0 ctag, the Depth 1 etag listing, one
 * multiget of the changed cards. */
static void t_one_round_trip(size_t mark, size_t changed, size_t deleted,
                             int first)
{
    const char *l = logbuf + mark;
    char mg[64];
    page pg;

    snprintf(mg, sizeof(mg), "msg=\"dav: multiget\" href=\"%s\" n=%zu",
             book("book"), changed);
    if (is_kind("radicale") || changed == 0) {
        ck_assert_msg(requests_since(mark) == (is_sabre() ? 2 : 1), "%s", l);
        ck_assert_msg(count_in(l, "msg=\"dav: multiget\"") == 0, "%s", l);
    } else {
        ck_assert_msg(requests_since(mark) == (is_sabre() ? 3 : 2), "%s", l);
        ck_assert_msg(count_in(l, "msg=\"dav: multiget\"") == 1, "%s", l);
        ck_assert_msg(strstr(l, mg) != NULL, "want %s in\n%s", mg, l);
    }
    if (is_sabre())
        return;
    pg = t_page(l);
    /* Xandikos' refusal is learned at the first sync: etags only after */
    ck_assert_msg(pg.n == 1 && pg.deleted == deleted, "%s", l);
    ck_assert_msg(pg.asked == (is_kind("xandikos") && !first ? 0 : 1), "%s", l);
    ck_assert_msg(pg.with_data == (is_kind("radicale") ? changed : 0), "%s", l);
    ck_assert_msg(pg.to_fetch == (is_kind("radicale") ? 0 : changed), "%s", l);
}

START_TEST(test_full_incremental_idle)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    size_t mark;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1234567",
                "X-TSPS-CODE:VIP\r\n");
    th_put_card(&S, U, "book", "u2", "Bob", "030 2222222", NULL);
    th_put_card(&S, U, "book", "u3", "Carla", "+1 415 555 0101", NULL);
    src = t_open("carddav", book("book"), NULL, 0);
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 1);
    ck_assert_uint_eq(st.contacts_put, 3);
    t_code("u1", "VIP");
    /* the full sync too: the cards in the REPORT (Radicale), else one
     * multiget of the three */
    t_one_round_trip(mark, 3, 0, 1);

    th_put_card(&S, U, "book", "u2", "Bob Baker", "030 2222222",
                "CATEGORIES:SALES\r\n");
    th_put_card(&S, U, "book", "u4", "Dora", "+49 30 4444444",
                "NOTE:call me [tsps:FAMILY]\r\n");
    th_delete(&S, U, "book", "u3.vcf");
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_uint_eq(st.contacts_put, 2);
    ck_assert_uint_eq(st.contacts_deleted, 1);
    ck_assert_int_eq(t_count(), 3);
    t_code("u2", "SALES");
    t_code("u4", "FAMILY");
    t_one_round_trip(mark, 2, 1, 0);

    /* one edit alone, then one delete alone */
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1234567",
                "X-TSPS-CODE:BOSS\r\n");
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 1);
    ck_assert_uint_eq(st.contacts_deleted, 0);
    t_code("u1", "BOSS");
    t_one_round_trip(mark, 1, 0, 0);
    th_delete(&S, U, "book", "u4.vcf");
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 0);
    ck_assert_uint_eq(st.contacts_deleted, 1);
    ck_assert_int_eq(t_count(), 2);
    t_one_round_trip(mark, 0, 1, 0);

    /* nothing changed: nothing written, and one request (sync-collection
     * REPORT, or sabre's Depth 0 PROPFIND of the ctag: no listing) */
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 0);
    ck_assert_uint_eq(st.contacts_deleted, 0);
    ck_assert_msg(requests_since(mark) == 1, "%s", logbuf + mark);
    if (is_sabre())
        ck_assert_msg(strstr(logbuf + mark, "method=PROPFIND depth=0") != NULL,
                      "%s", logbuf + mark);
    else
        ck_assert_msg(strstr(logbuf + mark, "method=REPORT depth=0") != NULL,
                      "%s", logbuf + mark);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- cards as Apple, Google, Outlook and Thunderbird write them ---- */

typedef struct want {
    char name[128], code[32];
    int found, skip;
} want;

static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p != '\0'; p++) {
        int n = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
        if (n < 0)
            return 0;
        for (int k = 1; k <= n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

/* PUT one card of the corpus. Outlook's vCard 2.1 export in
 * windows-1252 is not what a CardDAV client sends (RFC 6352: UTF-8,
 * vCard 3 or later; Outlook sync tools convert): such a card is left
 * out, and so is a 2.1 card the server refuses. Everything else must be
 * accepted. */
static void put_card(const char *res, const char *text, want *w)
{
    int v21 = strstr(text, "\nVERSION:2.1") != NULL;
    long st;

    if (v21 && !utf8_ok(text)) {
        w->skip = 1;
        return;
    }
    st = th_http(&S, U, "PUT", res, "text/vcard; charset=utf-8", text, NULL,
                 NULL, 0);
    if (v21 && st / 100 == 4) {
        fprintf(stderr, "%s: vCard 2.1 refused (%ld): %s\n", th_kind(&S), st,
                res);
        w->skip = 1;
        return;
    }
    ck_assert_msg(st / 100 == 2, "PUT %s -> %ld", res, st);
}

static int find_cb(void *arg, const tsps_contact *c)
{
    want *w = arg;
    for (; w->name[0] != '\0'; w++)
        if (strcmp(w->name, c->name) == 0) {
            if (w->skip)
                continue;
            if (strcmp(w->code, c->code) != 0)
                dump_log();
            ck_assert_msg(strcmp(w->code, c->code) == 0, "%s: code %s, want %s",
                          c->name, c->code, w->code);
            w->found = 1;
        }
    return 0;
}

/* The name and code the vcard-dir corpus expects of each card of a file
 * (tests/data/vcard/NAME.expected), in file order; groups are entries
 * too (what[k] = NULL: no contact). Returns the number of entries. */
static size_t expected(const char *file, want *w, size_t *nw, want **what,
                       size_t max)
{
    char path[600], line[512];
    size_t n = 0;
    want *cur = NULL;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/tests/data/vcard/%s.expected",
             TSPS_SOURCE_DIR, file);
    fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "card ", 5) == 0) {
            ck_assert_uint_lt(n, max);
            ck_assert_uint_lt(*nw, 63);
            cur = what[n++] = &w[(*nw)++];
        } else if (strncmp(line, "group ", 6) == 0) {
            ck_assert_uint_lt(n, max);
            cur = what[n++] = NULL;
        } else if (cur != NULL && strncmp(line, "  name=", 7) == 0) {
            snprintf(cur->name, sizeof(cur->name), "%.127s", line + 7);
        } else if (cur != NULL && strncmp(line, "  code=", 7) == 0) {
            snprintf(cur->code, sizeof(cur->code), "%.*s",
                     (int)strcspn(line + 7, " "), line + 7);
        }
    }
    fclose(fp);
    return n;
}

START_TEST(test_dialects)
{
    /* thunderbird3 needs the "tsps:" category prefix of its own */
    static const char *files[] = {"apple", "google", "outlook", "thunderbird4"};
    static want w[64];
    size_t nw = 0;
    int ncards = 0, nput = 0;
    cmsb_source *src;
    cmsb_sync_stats st;

    t_setup();
    th_mkbook(&S, U, "book");
    memset(w, 0, sizeof(w));
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[600], line[512], *text = NULL;
        size_t len = 0, cap = 0, k = 0, nent;
        want *what[32];
        FILE *fp;
        nent = expected(files[f], w, &nw, what, 32);
        /* each card its own resource, CRLF, no BOM (as a client PUTs) */
        snprintf(path, sizeof(path), "%s/tests/data/vcard/%s.vcf",
                 TSPS_SOURCE_DIR, files[f]);
        fp = fopen(path, "r");
        ck_assert_ptr_nonnull(fp);
        while (fgets(line, sizeof(line), fp) != NULL) {
            char *l = line;
            size_t n;
            if (strncmp(l, "\xEF\xBB\xBF", 3) == 0)
                l += 3;
            n = strcspn(l, "\r\n");
            if (len + n + 64 > cap) {
                cap = (len + n + 64) * 2;
                text = realloc(text, cap);
                ck_assert_ptr_nonnull(text);
            }
            memcpy(text + len, l, n);
            len += n;
            memcpy(text + len, "\r\n", 3);
            len += 2;
            if (strncmp(l, "END:VCARD", 9) == 0) {
                char res[400];
                want dummy = {0};
                snprintf(res, sizeof(res), "%s%s-%d.vcf", book("book"),
                         files[f], ++ncards);
                /* RFC 6352 wants a UID on the server (the file corpus
                 * has cards without): as a client adds it */
                if (strstr(text, "\nUID:") == NULL)
                    snprintf(text + len - strlen("END:VCARD\r\n"), 64,
                             "UID:%s-%d\r\nEND:VCARD\r\n", files[f], ncards);
                ck_assert_uint_lt(k, nent);
                put_card(res, text, what[k] != NULL ? what[k] : &dummy);
                k++;
                len = 0;
            }
        }
        ck_assert_uint_eq(k, nent);
        fclose(fp);
        free(text);
    }
    src = t_open("carddav", "", NULL, 0);
    t_sync(src, &st);
    ck_assert_int_eq(tsps_contact_list(T.eng, U, NULL, find_cb, w), TSPS_OK);
    for (size_t i = 0; i < nw; i++)
        ck_assert_msg(w[i].found || w[i].skip, "%s not synced\n%s", w[i].name,
                      log_tail());
    for (size_t i = 0; i < nw; i++)
        nput += !w[i].skip;
    ck_assert_int_eq(t_count(), nput);
    /* every card but Outlook's windows-1252 one, at least */
    ck_assert_int_ge(nput, (int)nw - 1);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- group codes across resources ---- */

static void put_group(const char *members)
{
    char path[400], text[1024];
    snprintf(path, sizeof(path), "%sgroup-vip.vcf", book("book"));
    snprintf(text, sizeof(text),
             "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:group-vip\r\nN:VIP\r\n"
             "FN:VIP\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n%sEND:VCARD\r\n",
             members);
    t_put_raw(path, "text/vcard; charset=utf-8", text);
}

START_TEST(test_group_codes)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "m1", "Mia", "+49 30 1000001", NULL);
    th_put_card(&S, U, "book", "m2", "Max", "+49 30 1000002", NULL);
    put_group("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m1\r\n"
              "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m2\r\n");
    src = t_open("carddav", "", NULL, 0);
    t_sync(src, &st);
    t_code("m1", "VIP");
    t_code("m2", "VIP");
    ck_assert_int_eq(tsps_contact_get(T.eng, U, "m1", &c), TSPS_OK);
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_GROUP);
    /* m2 leaves the group: only m2 changes, on the next incremental sync */
    put_group("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m1\r\n");
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("m1", "VIP");
    t_code("m2", "");
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- write-back: If-Match, a concurrent edit merged (412) ---- */

static void concurrent_edit(void)
{
    th_put_card(&S, U, "book", "anna", "Anna Meier", "+49 30 1234567",
                "EMAIL:anna.meier@example.org\r\n");
}

static int line_in(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') &&
            (p[n] == '\r' || p[n] == '\n' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

START_TEST(test_write_back_412_merged)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    char *after, path[400];

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "anna", "Anna Schmidt", "+49 30 1234567",
                "ORG:Example GmbH\r\n");
    src = t_open("carddav", "", NULL, 0);
    t_sync(src, &st);
    hook_on = "msg=\"dav: put\"";
    hook_n = 1;
    hook_fn = concurrent_edit;
    ck_assert_int_eq(cmsb_write_code(src, "anna", "VIP"), CMSB_OK);
    ck_assert_ptr_null(hook_on); /* the edit did happen in between */
    ck_assert_msg(strstr(logbuf, "reapplying") != NULL, "%s", log_tail());
    snprintf(path, sizeof(path), "%sanna.vcf", book("book"));
    ck_assert_int_eq(th_http(&S, U, "GET", path, NULL, NULL, &after, NULL, 0),
                     200);
    /* both edits are there */
    ck_assert_msg(line_in(after, "FN:Anna Meier"), "%s", after);
    ck_assert_msg(line_in(after, "EMAIL:anna.meier@example.org"), "%s", after);
    ck_assert_msg(line_in(after, "X-TSPS-CODE:VIP"), "%s", after);
    free(after);
    t_sync(src, &st);
    t_code("anna", "VIP");
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- tokens: refused, and a book re-created under the same URL ---- */

typedef struct acc {
    int puts, deletes;
    char *cursor;
} acc;

static int on_ch(void *arg, const cmsb_change *ch)
{
    acc *a = arg;
    if (ch->kind == CMSB_CHANGE_CONTACT_PUT)
        a->puts++;
    if (ch->kind == CMSB_CHANGE_CONTACT_DELETE)
        a->deletes++;
    if (ch->kind == CMSB_CHANGE_CHECKPOINT) {
        free(a->cursor);
        a->cursor = strdup(ch->cursor);
    }
    return 0;
}

static void acc_reset(acc *a)
{
    free(a->cursor);
    memset(a, 0, sizeof(*a));
}

/* Replace field `f` (0-based after "K") of the K line: 4 token, 5 ctag */
static char *with_field(const char *cursor, int f, const char *val)
{
    const char *k = strstr(cursor, "\nK ");
    const char *p, *e;
    char *out;
    ck_assert_ptr_nonnull(k);
    p = k + 1;
    for (int i = 0; i <= f; i++)
        p = strchr(p, ' ') + 1;
    e = p + strcspn(p, " \n");
    out = malloc(strlen(cursor) + strlen(val) + 1);
    sprintf(out, "%.*s%s%s", (int)(p - cursor), cursor, val, e);
    return out;
}

START_TEST(test_refused_token_resyncs)
{
    cmsb_source *src;
    acc a = {0};
    char *c1, *c2;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1", NULL);
    th_put_card(&S, U, "book", "u2", "Bob", "+49 30 2", NULL);
    src = t_open("carddav", "", NULL, 0);
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, &a), CMSB_OK);
    ck_assert_int_eq(a.puts, 2);
    /* the server does not know our token (nor our ctag), and u2 went
     * away: Radicale answers 403, Xandikos 500, sabre lists */
    c1 = with_field(a.cursor, 4, is_sabre() ? "-" : "bogus-token");
    c2 = with_field(c1, 5, "bogus-ctag");
    th_delete(&S, U, "book", "u2.vcf");
    acc_reset(&a);
    ck_assert_int_eq(cmsb_changes(src, c2, on_ch, &a), CMSB_OK);
    if (!is_sabre())
        ck_assert_msg(strstr(logbuf, "sync token refused") != NULL, "%s",
                      log_tail());
    ck_assert_int_eq(a.puts, 0); /* u1 unchanged: same etag */
    ck_assert_int_eq(a.deletes, 1);
    free(c1);
    free(c2);
    free(a.cursor);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

START_TEST(test_recreated_book)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    long code;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1111111", NULL);
    th_put_card(&S, U, "book", "u2", "Bob", "+49 30 2222222", NULL);
    th_put_card(&S, U, "book", "u3", "Carl", "+49 30 3333333", NULL);
    src = t_open("carddav", book("book"), NULL, 0);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 3);
    /* deleted and made again with one card: the old token or ctag points
     * into a history that is gone */
    code = th_http(&S, U, "DELETE", book("book"), NULL, NULL, NULL, NULL, 0);
    ck_assert_msg(code / 100 == 2, "DELETE -> %ld", code);
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1111111", NULL);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 1);
    t_code("u1", "");
    ck_assert_int_eq(st.contacts_deleted, 2);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* Field i of the cursor's K line ("K" itself is 0), a copy; NULL when
 * the line has fewer fields. */
static char *k_field(const char *cursor, int i)
{
    const char *p = strstr(cursor, "\nK ");
    size_t n;

    ck_assert_msg(p != NULL, "%s", cursor);
    p++;
    for (;;) {
        n = strcspn(p, " \n");
        if (i-- == 0)
            return n > 0 ? strndup(p, n) : NULL;
        if (p[n] != ' ')
            return NULL;
        p += n + 1;
    }
}

/* The nodata-at field of the cursor's K line (0 = none). */
static long long t_nodata_at(const char *cursor)
{
    char *f = k_field(cursor, 6), *at;
    long long v;

    ck_assert_msg(f != NULL, "%s", cursor);
    free(f);
    at = k_field(cursor, 7);
    v = at != NULL ? atoll(at) : 0;
    free(at);
    return v;
}

/* A book of Anna and Bob at t0, synced once; the source stays open. */
static cmsb_source *two_cards_synced(int64_t t0, acc *a)
{
    cmsb_source *src;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1", NULL);
    th_put_card(&S, U, "book", "u2", "Bob", "+49 30 2", NULL);
    src = t_open("carddav", book("book"), NULL, t0);
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_OK);
    return src;
}

/* A server that answers the card data of a sync-collection with a 404
 * propstat (Xandikos) is asked for etags only from then on (the cursor
 * keeps when it refused), and asked again a day later; a server that
 * gives the data (Radicale, here with a cursor saying it refused) is
 * asked again after the day and the refusal is forgotten. */
START_TEST(test_sync_data_refusal_learned)
{
    const int64_t t0 = 1767225600; /* 2026-01-01 */
    cmsb_source *src;
    acc a = {0};
    char *c1, *k, *c2;
    size_t mark;
    page pg;
    int xan = is_kind("xandikos");

    if (is_sabre())
        return; /* no sync-collection */
    src = two_cards_synced(t0, &a);
    ck_assert_int_eq(a.puts, 2);
    cmsb_source_close(src);
    ck_assert_msg(t_nodata_at(a.cursor) == (xan ? t0 : 0), "%s", a.cursor);
    ck_assert_msg((strstr(logbuf, "refuses card data") != NULL) == xan, "%s",
                  log_tail());
    c1 = a.cursor;
    a.cursor = NULL;
    if (!xan) { /* as if Radicale had refused it the last time */
        k = strstr(c1, "\nK ");
        k = k + strcspn(k + 1, "\n") + 1;
        c2 = malloc(strlen(c1) + 32);
        sprintf(c2, "%.*s %lld%s", (int)(k - c1), c1, (long long)t0, k);
        free(c1);
        c1 = c2;
    }
    /* ten minutes later, an edit: the REPORT asks for etags only, the card
     * comes by multiget */
    th_put_card(&S, U, "book", "u1", "Anna", "+49 30 1", "X-TSPS-CODE:VIP\r\n");
    src = t_open("carddav", book("book"), NULL, t0 + 600);
    mark = strlen(logbuf);
    acc_reset(&a);
    ck_assert_int_eq(cmsb_changes(src, c1, on_ch, &a), CMSB_OK);
    cmsb_source_close(src);
    ck_assert_int_eq(a.puts, 1);
    pg = t_page(logbuf + mark);
    ck_assert_msg(pg.asked == 0 && pg.with_data == 0 && pg.to_fetch == 1, "%s",
                  logbuf + mark);
    ck_assert_msg(count_in(logbuf + mark, "method=REPORT") == 2, "%s",
                  logbuf + mark);
    ck_assert_msg(t_nodata_at(a.cursor) == t0, "%s", a.cursor);
    free(c1);
    c1 = a.cursor;
    a.cursor = NULL;
    /* a day later: asked again; Xandikos still refuses (learned anew),
     * Radicale gives it (forgotten) */
    th_put_card(&S, U, "book", "u2", "Bob", "+49 30 2", "X-TSPS-CODE:BOSS\r\n");
    src = t_open("carddav", book("book"), NULL, t0 + 86400 + 60);
    mark = strlen(logbuf);
    acc_reset(&a);
    ck_assert_int_eq(cmsb_changes(src, c1, on_ch, &a), CMSB_OK);
    cmsb_source_close(src);
    ck_assert_int_eq(a.puts, 1);
    pg = t_page(logbuf + mark);
    ck_assert_msg(pg.asked == 1 && pg.with_data == (xan ? 0 : 1), "%s",
                  logbuf + mark);
    /* (and a discovery: more than an hour went by) */
    ck_assert_msg(count_in(logbuf + mark, "method=REPORT") == (xan ? 2 : 1),
                  "%s", logbuf + mark);
    ck_assert_msg(t_nodata_at(a.cursor) == (xan ? t0 + 86400 + 60 : 0), "%s",
                  a.cursor);
    if (!xan)
        ck_assert_msg(strstr(logbuf + mark, "gives card data again") != NULL,
                      "%s", logbuf + mark);
    free(c1);
    acc_reset(&a);
    t_teardown();
}
END_TEST

/* ---- the audit: every etag compared now and then ---- */

START_TEST(test_audit_repairs_drift)
{
    const int64_t t0 = 1767225600; /* 2026-01-01 */
    cmsb_source *src;
    acc a = {0};
    char *c1, *drift, *tok, *ctag;

    src = two_cards_synced(t0, &a);
    c1 = a.cursor;
    a.cursor = NULL;
    /* changes the next sync sees ... */
    th_put_card(&S, U, "book", "u1", "Anna Changed", "+49 30 1", NULL);
    th_delete(&S, U, "book", "u2.vcf");
    ck_assert_int_eq(cmsb_changes(src, c1, on_ch, &a), CMSB_OK);
    cmsb_source_close(src);
    /* ... a mirror that missed them although its token and ctag are
     * current (drift: a server that lost history, a bug) */
    tok = k_field(a.cursor, 5);
    ctag = k_field(a.cursor, 6);
    ck_assert_msg(tok != NULL && ctag != NULL, "%s", a.cursor);
    {
        char *t = with_field(c1, 4, tok);
        free(c1);
        c1 = t;
    }
    drift = with_field(c1, 5, ctag);
    /* no audit due: the drift stays */
    src = t_open("carddav", book("book"), NULL, t0 + 600);
    acc_reset(&a);
    ck_assert_int_eq(cmsb_changes(src, drift, on_ch, &a), CMSB_OK);
    ck_assert_int_eq(a.puts + a.deletes, 0);
    cmsb_source_close(src);
    /* audits off (#audit=0): still nothing, a day later */
    src = t_open("carddav", book("book"), "#audit=0", t0 + 2 * 86400);
    ck_assert_int_eq(cmsb_changes(src, drift, on_ch, &a), CMSB_OK);
    ck_assert_int_eq(a.puts + a.deletes, 0);
    cmsb_source_close(src);
    /* the daily audit (default) repairs it */
    src = t_open("carddav", book("book"), NULL, t0 + 2 * 86400);
    ck_assert_int_eq(cmsb_changes(src, drift, on_ch, &a), CMSB_OK);
    ck_assert_msg(a.puts == 1 && a.deletes == 1, "puts %d deletes %d\n%s",
                  a.puts, a.deletes, log_tail());
    ck_assert_msg(strstr(logbuf, "audit found drift") != NULL, "%s",
                  log_tail());
    /* and records when: the next sync does not audit again */
    free(drift);
    drift = a.cursor;
    a.cursor = NULL;
    acc_reset(&a);
    logbuf[0] = '\0';
    ck_assert_int_eq(cmsb_changes(src, drift, on_ch, &a), CMSB_OK);
    ck_assert_ptr_null(strstr(logbuf, "dav: audit"));
    free(a.cursor);
    free(drift);
    free(c1);
    free(tok);
    free(ctag);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- a calendar synced by etags (listing, as on sabre/dav) ---- */

static void put_event(const char *name, const char *summary, int day)
{
    char path[400], text[1024];
    th_coll_path(&S, U, "work", 1, path, sizeof(path));
    snprintf(path + strlen(path), 100, "%s.ics", name);
    snprintf(text, sizeof(text),
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tsps//test//EN\r\n"
             "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
             "SUMMARY:%s\r\nDTSTART:202601%02dT090000Z\r\n"
             "DTEND:202601%02dT100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
             name, summary, day, day);
    t_put_raw(path, "text/calendar; charset=utf-8", text);
}

START_TEST(test_calendar_by_etags)
{
    const int64_t now = 1767225600; /* 2026-01-01 */
    cmsb_source *src;
    cmsb_sync_stats st;
    char path[400];
    long code;

    t_setup();
    th_mkcal(&S, U, "work");
    put_event("e1", "Standup", 5);
    put_event("e2", "Review", 6);
    th_coll_path(&S, U, "work", 1, path, sizeof(path));
    /* #nosync: listing on every server, as sabre/dav does anyway */
    src = t_open("caldav", path, "#nosync", now);
    t_sync(src, &st);
    ck_assert_uint_eq(st.events_put, 2);
    /* one event changes: only it is fetched and written again */
    put_event("e2", "Review moved", 7);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_uint_eq(st.events_put, 1);
    ck_assert_uint_eq(st.events_deleted, 1); /* its old instance */
    /* nothing changes: nothing written */
    t_sync(src, &st);
    ck_assert_uint_eq(st.events_put, 0);
    ck_assert_uint_eq(st.events_deleted, 0);
    /* deleted */
    snprintf(path + strlen(path), 100, "e1.ics");
    code = th_http(&S, U, "DELETE", path, NULL, NULL, NULL, NULL, 0);
    ck_assert_msg(code / 100 == 2, "DELETE -> %ld", code);
    t_sync(src, &st);
    ck_assert_uint_eq(st.events_put, 0);
    ck_assert_uint_eq(st.events_deleted, 1);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- the server dies in the middle of a sync ---- */

static void kill_server(void)
{
    th_stop(&S);
}

START_TEST(test_killed_mid_sync)
{
    enum { N = 150 };
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_decision d;
    int rc;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "anna", "Anna", "+49 30 1111111",
                "X-TSPS-CODE:VIP\r\n");
    t_rule("VIP", "voicemail");
    /* #nosync: listing, #noquery: multigets, on every server */
    src = t_open("carddav", book("book"), "#nosync&noquery", 0);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 1);
    for (int i = 0; i < N; i++) {
        char uid[32], tel[32];
        snprintf(uid, sizeof(uid), "c%03d", i);
        snprintf(tel, sizeof(tel), "+49 40 %07d", 1000000 + i);
        th_put_card(&S, U, "book", uid, uid, tel, NULL);
    }
    /* the server goes away after the first multiget answer */
    hook_on = "msg=\"dav: multiget\"";
    hook_n = 2;
    hook_fn = kill_server;
    rc = cmsb_sync(src, T.eng, U, "dav", 0, &st);
    ck_assert_ptr_null(hook_on);
    ck_assert_int_eq(rc, CMSB_EIO);
    /* calls are still routed from the mirror */
    t_route("+49301111111", &d);
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);
    ck_assert_int_ge(t_count(), 1);
    /* back (same port, same data): the next sync completes the rest */
    ck_assert_int_eq(th_start(&S, S.port), 0);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_int_eq(t_count(), N + 1);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 0);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- a full sync fetches the whole book in one addressbook-query ---- */

static void put_many(int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char uid[32], tel[32];
        snprintf(uid, sizeof(uid), "%s%03d", prefix, i);
        snprintf(tel, sizeof(tel), "+49 40 %07d", 2000000 + i);
        th_put_card(&S, U, "book", uid, uid, tel,
                    i % 10 == 0 ? "X-TSPS-CODE:VIP\r\n" : NULL);
    }
}

/* Xandikos answers a multiget in time growing with the book (a 10k full
 * sync took an hour by multigets): the cards come in one query of the
 * whole book, in both modes (sync-collection and listing), every card
 * stored with its code; no multiget. */
START_TEST(test_full_sync_by_query)
{
    enum { N = 120 };
    const char *frags[] = {NULL, "#nosync"};
    cmsb_source *src;
    cmsb_sync_stats st;

    t_setup();
    th_mkbook(&S, U, "book");
    put_many(N, "q");
    for (size_t f = 0; f < 2; f++) {
        size_t mark = strlen(logbuf);
        src = t_open("carddav", book("book"), frags[f], 0);
        t_sync(src, &st);
        ck_assert_int_eq(st.full, 1);
        ck_assert_uint_eq(st.contacts_put, N);
        ck_assert_int_eq(t_count(), N);
        t_code("q010", "VIP");
        ck_assert_msg(count_in(logbuf + mark, "msg=\"dav: multiget\"") == 0,
                      "%s", logbuf + mark);
        /* Radicale's sync-collection carries the cards: no query needed */
        if (frags[f] != NULL || !is_kind("radicale"))
            ck_assert_msg(count_in(logbuf + mark,
                                   "whole book fetched by addressbook-query") ==
                              1,
                          "%s", logbuf + mark);
        /* the cursor covers it all: the next sync fetches nothing */
        t_sync(src, &st);
        ck_assert_uint_eq(st.contacts_put, 0);
        cmsb_source_close(src);
        /* the next mode starts from an empty store */
        tsps_engine_close(T.eng);
        tsps_check_rmdir(T.dir);
        T.eng = th_store(T.dir, sizeof(T.dir), U);
    }
    t_teardown();
}
END_TEST

/* The card data kept from one sync-collection answer is capped
 * (#syncdata=BYTES, default 32 MiB): the members past the cap are
 * fetched by multiget, every card arrives; #syncdata=0 asks the etags
 * alone. Radicale is the server that sends the data; Xandikos never does
 * (the same fetch), sabre/dav has no sync-collection (nothing to test). */
START_TEST(test_sync_data_cap)
{
    enum { N = 6 };
    cmsb_options o = CMSB_OPTIONS_INIT;
    cmsb_source *src;
    cmsb_sync_stats st;
    char uri[700], mg[64];
    size_t mark;
    page pg;

    if (is_sabre())
        return;
    t_setup();
    th_mkbook(&S, U, "book");
    put_many(N, "d");
    /* room for the data of a card or two (each is over 100 bytes) */
    src = t_open("carddav", book("book"), "#syncdata=300", 0);
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, N);
    ck_assert_int_eq(t_count(), N);
    t_code("d000", "VIP");
    pg = t_page(logbuf + mark);
    ck_assert_msg(pg.asked == 1 && pg.bytes <= 300 &&
                      pg.with_data + pg.to_fetch == N,
                  "%s", logbuf + mark);
    if (is_kind("radicale"))
        ck_assert_msg(pg.with_data >= 1 && pg.to_fetch >= 1, "%s",
                      logbuf + mark);
    else
        ck_assert_msg(pg.with_data == 0, "%s", logbuf + mark);
    snprintf(mg, sizeof(mg), "msg=\"dav: multiget\" href=\"%s\" n=%zu",
             book("book"), pg.to_fetch);
    ck_assert_msg(strstr(logbuf + mark, mg) != NULL, "want %s in\n%s", mg,
                  logbuf + mark);
    /* one edit fits: one request on Radicale */
    th_put_card(&S, U, "book", "d001", "d001", "+49 40 2000001",
                "X-TSPS-CODE:BOSS\r\n");
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("d001", "BOSS");
    ck_assert_msg(requests_since(mark) == (is_kind("radicale") ? 1 : 2), "%s",
                  logbuf + mark);
    cmsb_source_close(src);

    /* #syncdata=0: the REPORT asks the etags alone, the cards come by
     * multiget (a fresh store: a full sync) */
    tsps_engine_close(T.eng);
    tsps_check_rmdir(T.dir);
    T.eng = th_store(T.dir, sizeof(T.dir), U);
    src = t_open("carddav", book("book"), "#syncdata=0", 0);
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, N);
    t_code("d001", "BOSS");
    pg = t_page(logbuf + mark);
    ck_assert_msg(pg.asked == 0 && pg.with_data == 0 && pg.to_fetch == N, "%s",
                  logbuf + mark);
    th_put_card(&S, U, "book", "d002", "d002", "+49 40 2000002",
                "X-TSPS-CODE:FAMILY\r\n");
    mark = strlen(logbuf);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("d002", "FAMILY");
    ck_assert_msg(requests_since(mark) == 2, "%s", logbuf + mark);
    cmsb_source_close(src);

    /* a cap that is not a number, or past 512 MiB: refused */
    o.username = U;
    o.password = "secret";
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d%s#syncdata=1k",
             S.port, book("book"));
    src = NULL;
    ck_assert_int_eq(cmsb_source_open(T.reg, uri, &o, &src), CMSB_EINVAL);
    snprintf(uri, sizeof(uri),
             "carddav:http://127.0.0.1:%d%s#syncdata=536870913", S.port,
             book("book"));
    ck_assert_int_eq(cmsb_source_open(T.reg, uri, &o, &src), CMSB_EINVAL);
    t_teardown();
}
END_TEST

/* The server dies while it answers the whole-book query: the sync fails,
 * nothing is lost, the next sync (server back) stores every card. */
START_TEST(test_killed_in_query)
{
    enum { N = 100 };
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_decision d;
    int rc;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "anna", "Anna", "+49 30 1111111",
                "X-TSPS-CODE:VIP\r\n");
    t_rule("VIP", "voicemail");
    src = t_open("carddav", book("book"), "#nosync", 0);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 1);
    put_many(N, "k");
    hook_on = "msg=\"dav: addressbook-query\"";
    hook_n = 1;
    hook_fn = kill_server;
    rc = cmsb_sync(src, T.eng, U, "dav", 0, &st);
    ck_assert_ptr_null(hook_on);
    ck_assert_int_eq(rc, CMSB_EIO);
    t_route("+49301111111", &d);
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(t_count(), 1);
    ck_assert_int_eq(th_start(&S, S.port), 0);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_int_eq(t_count(), N + 1);
    t_code("k010", "VIP");
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 0);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- "add to contacts": a new card for an unknown caller ---- */

/* The card is PUT (If-None-Match: *) into the address book discovery
 * finds from the server root, with the chosen code; it is on the server
 * as any client sees it, and the next sync routes the caller with the
 * code; the code is then changed like any other contact's. */
START_TEST(test_create_contact)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;
    tsps_decision d;
    char uid[TSPS_UID_MAX] = "", path[600], *text = NULL;

    t_setup();
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "anna", "Anna", "+49 30 1111111", NULL);
    t_rule("VIP", "voicemail");
    src = t_open("carddav", "", NULL, 0); /* discovery from the root */
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 1);
    t_route("+49407654321", &d);
    ck_assert_str_ne(d.code, "VIP");

    tsps_contact_init(&c);
    snprintf(c.name, sizeof(c.name), "Victoria Price");
    snprintf(c.numbers[0], sizeof(c.numbers[0]), "+49 40 7654321");
    c.nnumbers = 1;
    ck_assert_msg(cmsb_create_contact(src, &c, "vip", uid) == CMSB_OK, "%s",
                  log_tail());
    ck_assert_uint_eq(strlen(uid), 36);
    ck_assert_msg(strstr(logbuf, "dav: contact created") != NULL, "%s",
                  log_tail());
    /* on the server, where every client sees it */
    snprintf(path, sizeof(path), "%s%s.vcf", book("book"), uid);
    ck_assert_int_eq(th_http(&S, U, "GET", path, NULL, NULL, &text, NULL, 0),
                     200);
    ck_assert_ptr_nonnull(strstr(text, "X-TSPS-CODE:VIP"));
    ck_assert_ptr_nonnull(strstr(text, "Victoria Price"));
    free(text);

    /* the next sync brings it in; the next call is routed with VIP */
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code(uid, "VIP");
    t_route("+49407654321", &d);
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_VOICEMAIL);

    /* a second one is another card; a changed code is written back */
    ck_assert_int_eq(cmsb_create_contact(src, &c, "", path), CMSB_OK);
    ck_assert_str_ne(path, uid);
    ck_assert_int_eq(cmsb_write_code(src, uid, "FAMILY"), CMSB_OK);
    t_sync(src, &st);
    ck_assert_int_eq(t_count(), 3);
    t_code(uid, "FAMILY");
    ck_assert_int_eq(cmsb_create_contact(src, &c, "no code", path),
                     CMSB_EINVAL);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

static Suite *servers_suite(void)
{
    const struct {
        const char *name;
        const TTest *t;
    } tests[] = {
        {"discovery", test_discovery_from_base_once},
        {"incremental", test_full_incremental_idle},
        {"dialects", test_dialects},
        {"groups", test_group_codes},
        {"write_back", test_write_back_412_merged},
        {"refused_token", test_refused_token_resyncs},
        {"recreated_book", test_recreated_book},
        {"audit", test_audit_repairs_drift},
        {"calendar", test_calendar_by_etags},
        {"killed_mid_sync", test_killed_mid_sync},
        {"full_by_query", test_full_sync_by_query},
        {"sync_data_cap", test_sync_data_cap},
        {"sync_data_refusal", test_sync_data_refusal_learned},
        {"killed_in_query", test_killed_in_query},
        {"create_contact", test_create_contact},
    };
    Suite *s = suite_create("dav_servers");

    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        TCase *tc = tcase_create(tests[i].name);
        tcase_set_timeout(tc, 120);
        tcase_add_unchecked_fixture(tc, srv_up, srv_down);
        tcase_add_test(tc, tests[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    const char *k = getenv("DAV_SERVER");

    S.kind = k != NULL && *k != '\0' ? k : "radicale";
    S.port = -1; /* one server per test */
    return th_run_suite(&S, servers_suite);
}

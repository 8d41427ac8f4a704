/*
 * Sync into the engine: a contact tagged in each of the four ways routes by
 * its code through tsps_route(); precedence shows in the stored detail;
 * malformed cards are skipped with file/line/reason and nothing stored is
 * lost; a sync stopped mid-way resumes from its last committed batch;
 * events sync and go away with their file; related items.
 */
#include "cmsb_test.h"

#include <errno.h>
#include <pthread.h>

#include "vcard_dir.h"

static char dir[512], book[600];
static cmsb_registry *reg;
static tsps_engine *eng;
static test_logbuf logs;
static const char *cat_prefix; /* category_prefix of open_book() */

static void setup(void)
{
    tsps_check_tmpdir(dir, sizeof(dir));
    snprintf(book, sizeof(book), "%s/book", dir);
    mkdir(book, 0700);
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    eng = test_engine(dir);
    memset(&logs, 0, sizeof(logs));
}

static void teardown(void)
{
    cat_prefix = NULL;
    tsps_engine_close(eng);
    cmsb_registry_close(reg);
    tsps_check_rmdir(dir);
}

static void put(const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", book, name);
    test_write(path, text);
}

static cmsb_source *open_book(void)
{
    cmsb_options opt = CMSB_OPTIONS_INIT;
    cmsb_source *src = NULL;
    char uri[700];

    opt.category_prefix = cat_prefix;
    opt.log = test_log;
    opt.log_arg = &logs;
    opt.now = 1768208400; /* 2026-01-12 09:00Z, a Monday */
    snprintf(uri, sizeof(uri), "vcard-dir:%s", book);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &opt, &src), CMSB_OK);
    return src;
}

static void sync_ok(cmsb_source *src, int full, cmsb_sync_stats *st)
{
    int rc = cmsb_sync(src, eng, TEST_USER, "book", full, st);
    if (rc != CMSB_OK)
        fprintf(stderr, "sync: %s\n%s", cmsb_strerror(rc), logs.text);
    ck_assert_int_eq(rc, CMSB_OK);
}

static const char *four_forms =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Prop Erty\r\nTEL:+49 30 1000001\r\n"
    "X-TSPS-CODE:VIP\r\nUID:c-prop\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cat Egory\r\nTEL:030 1000002\r\n"
    "CATEGORIES:Friends,FAMILY\r\nUID:c-cat\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grou Pmember\r\n"
    "TEL;VALUE=uri:tel:+49-30-1000003\r\nUID:urn:uuid:c-group\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:SALES\r\n"
    "MEMBER:urn:uuid:c-group\r\nUID:urn:uuid:g-sales\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Te\r\nTEL:+49 30 1000004\r\n"
    "NOTE:annoying caller [tsps:BLOCK]\r\nUID:c-note\r\nEND:VCARD\r\n";

static void rule(const char *code, const char *spec)
{
    tsps_method m;
    char err[128];
    ck_assert_int_eq(tsps_method_parse(spec, &m, err, sizeof(err)), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(eng, TEST_USER, code, TSPS_STATUS_ANY, &m),
                     TSPS_OK);
}

static void route_from(const char *caller, const char *code,
                       tsps_code_source src, tsps_method_kind kind)
{
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d;

    call.called = "+49 30 5550000";
    call.caller = caller;
    call.now = 1768208400;
    ck_assert_int_eq(tsps_route(eng, &call, &d), TSPS_OK);
    ck_assert_str_eq(d.code, code);
    ck_assert_int_eq(d.code_source, src);
    ck_assert_int_eq(d.method.kind, kind);
}

START_TEST(test_four_forms_route_by_code)
{
    cmsb_source *src;
    cmsb_sync_stats st;

    put("contacts.vcf", four_forms);
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.contacts_put, 4);
    ck_assert_uint_eq(st.errors, 0);
    {
        tsps_user u;
        ck_assert_int_eq(tsps_user_get(eng, TEST_USER, &u), TSPS_OK);
        snprintf(u.voicemail_uri, sizeof(u.voicemail_uri), "sip:vm@pbx");
        snprintf(u.attendant_uri, sizeof(u.attendant_uri), "sip:desk@pbx");
        ck_assert_int_eq(tsps_user_put(eng, &u), TSPS_OK);
    }
    ck_assert_int_eq(tsps_number_add(eng, TEST_USER, "+49 30 5550000"),
                     TSPS_OK);
    rule("VIP", "forward +4930999999");
    rule("FAMILY", "voicemail");
    rule("SALES", "attendant");
    rule("BLOCK", "reject decline");
    route_from("+49301000001", "VIP", TSPS_CODE_SRC_PROPERTY,
               TSPS_METHOD_FORWARD);
    route_from("+49301000002", "FAMILY", TSPS_CODE_SRC_CATEGORY,
               TSPS_METHOD_VOICEMAIL);
    route_from("+49301000003", "SALES", TSPS_CODE_SRC_GROUP,
               TSPS_METHOD_ATTENDANT);
    route_from("+49301000004", "BLOCK", TSPS_CODE_SRC_NOTE, TSPS_METHOD_REJECT);
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_apple_group_and_group_change)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;

    put("emil.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Emil\nTEL:+49 30 2\n"
                    "UID:0C1D2E3F\nEND:VCARD\n");
    put("groups.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:VIP\n"
                      "X-ADDRESSBOOKSERVER-KIND:group\n"
                      "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:0C1D2E3F\n"
                      "UID:g1\nEND:VCARD\n");
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "0C1D2E3F", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_GROUP);
    /* only the group file changes: the member is re-sent without code */
    put("groups.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:VIP\n"
                      "X-ADDRESSBOOKSERVER-KIND:group\nUID:g1\nEND:VCARD\n");
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.contacts_put, 1);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "0C1D2E3F", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "");
    cmsb_source_close(src);
}
END_TEST

/* One rule for categories and group names: with the prefix "tsps:" set,
 * a group card named "tsps:FAMILY" gives FAMILY like CATEGORIES:tsps:FAMILY;
 * a bare "VIP" group, like a bare category, does not. */
START_TEST(test_prefixed_group_name_gives_code)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;

    cat_prefix = "tsps:";
    put("people.vcf",
        "BEGIN:VCARD\nVERSION:3.0\nFN:Emil\nTEL:+49 30 2\nUID:0C1D2E3F\n"
        "END:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nFN:Vera\nTEL:+49 30 3\n"
        "UID:urn:uuid:c-vera\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Cato\nTEL:+49 30 4\n"
        "CATEGORIES:Work,TSPS:family\nUID:c-cato\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bart\nTEL:+49 30 5\n"
        "CATEGORIES:VIP\nUID:c-bart\nEND:VCARD\n");
    put("groups.vcf",
        /* Apple group, prefixed name */
        "BEGIN:VCARD\nVERSION:3.0\nFN:tsps:FAMILY\n"
        "X-ADDRESSBOOKSERVER-KIND:group\n"
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:0C1D2E3F\nUID:g1\nEND:VCARD\n"
        /* vCard 4 group, prefixed in another case */
        "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:TSPS:vip\n"
        "MEMBER:urn:uuid:c-vera\nUID:urn:uuid:g2\nEND:VCARD\n"
        /* bare name: not a code with a prefix configured */
        "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:BLOCK\n"
        "MEMBER:urn:uuid:c-bart\nUID:urn:uuid:g3\nEND:VCARD\n");
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "0C1D2E3F", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "FAMILY");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_GROUP);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "c-vera", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_GROUP);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "c-cato", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "FAMILY");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_CATEGORY);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "c-bart", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "");
    cmsb_source_close(src);
}
END_TEST

static int found_uid(void *arg, const tsps_contact *c)
{
    snprintf(arg, TSPS_UID_MAX, "%s", c->uid);
    return 0;
}

/* A TEL written as a vanity number is stored and matched (issue 13). */
START_TEST(test_vanity_tel_stored_and_matched)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;
    char found[TSPS_UID_MAX];

    put("apple.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Apple Support\n"
                     "TEL;TYPE=WORK:+1-800-MY-APPLE\nX-TSPS-CODE:VIP\n"
                     "UID:c-apple\nEND:VCARD\n");
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "c-apple", &c), TSPS_OK);
    ck_assert_int_eq(c.nnumbers, 1);
    found[0] = '\0';
    ck_assert_int_eq(tsps_contact_find_number(eng, TEST_USER, "+18006927753",
                                              found_uid, found),
                     TSPS_OK);
    ck_assert_str_eq(found, "c-apple");
    /* and a call from it routes by the card's code */
    ck_assert_int_eq(tsps_number_add(eng, TEST_USER, "+49 30 5550000"),
                     TSPS_OK);
    rule("VIP", "forward +4930999999");
    route_from("+1 800 692 7753", "VIP", TSPS_CODE_SRC_PROPERTY,
               TSPS_METHOD_FORWARD);
    cmsb_source_close(src);
}
END_TEST

/* A uid longer than the store's field (Exchange writes hundreds of bytes):
 * the contact is stored under tsps_uid_key() and found by the whole uid. */
START_TEST(test_long_uid_found_whole)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;
    char uid[301], key[TSPS_UID_MAX], card[1024];

    for (int i = 0; i < 300; i++)
        uid[i] = (char)('A' + i % 26);
    uid[300] = '\0';
    snprintf(card, sizeof(card),
             "BEGIN:VCARD\nVERSION:3.0\nFN:Long Uid\nTEL:+49 30 7\n"
             "X-TSPS-CODE:VIP\nUID:%s\nEND:VCARD\n",
             uid);
    put("long.vcf", card);
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(tsps_uid_key(uid, strlen(uid), key), TSPS_OK);
    ck_assert_uint_lt(strlen(key), TSPS_UID_MAX);
    ck_assert(strncmp(key, uid, 86) == 0 && key[86] == '~');
    /* found by the whole uid and by its key */
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, uid, &c), TSPS_OK);
    ck_assert_str_eq(c.uid, key);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, key, &c), TSPS_OK);
    ck_assert_int_eq(
        tsps_contact_set_code(eng, TEST_USER, uid, "BLOCK", TSPS_CODE_SRC_NONE),
        TSPS_OK);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, key, &c), TSPS_OK);
    ck_assert_str_eq(c.code, "BLOCK");
    /* another long uid with the same first bytes is another contact */
    uid[299] = '!';
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, uid, &c), TSPS_ENOTFOUND);
    uid[299] = 'N';
    ck_assert_int_eq(tsps_contact_delete(eng, TEST_USER, uid), TSPS_OK);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, key, &c), TSPS_ENOTFOUND);
    /* the same in a batch: deleting by the whole uid deletes the contact */
    sync_ok(src, 1, &st);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, uid, &c), TSPS_OK);
    {
        tsps_batch *b;
        ck_assert_int_eq(tsps_batch_begin(eng, &b), TSPS_OK);
        ck_assert_int_eq(tsps_batch_contact_delete(b, TEST_USER, uid), TSPS_OK);
        ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    }
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, key, &c), TSPS_ENOTFOUND);
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_precedence_detail_stored)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;

    put("a.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:A\nTEL:+49 30 1\n"
                 "CATEGORIES:FAMILY\nX-TSPS-CODE:VIP\nUID:a\nEND:VCARD\n");
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "a", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_PROPERTY);
    ck_assert_str_eq(c.code_detail,
                     "X-TSPS-CODE=VIP wins over CATEGORIES=FAMILY");
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_malformed_skipped_nothing_lost)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;

    put("a.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Good One\nTEL:+49 30 1\n"
                 "UID:good\nEND:VCARD\n"
                 "BEGIN:VCARD\nVERSION:3.0\nFN:Fragile\nTEL:+49 30 2\n"
                 "UID:fragile\nEND:VCARD\n");
    put("b.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Other\nTEL:+49 30 3\n"
                 "UID:other\nEND:VCARD\n");
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_int_eq(test_count_contacts(eng), 3);
    /* the second card breaks, the first changes, b.vcf is untouched */
    put("a.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Good One Renamed\n"
                 "TEL:+49 30 1\nUID:good\nEND:VCARD\n"
                 "BEGIN:VCARD\nVERSION:3.0\nFN:Fragile\nTEL:+49 30 2\n"
                 "broken line\nUID:fragile\nEND:VCARD\n");
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_ptr_nonnull(strstr(logs.text, "file=\"a.vcf\" line=11 "
                                            "reason=\"line without ':'"));
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "good", &c), TSPS_OK);
    ck_assert_str_eq(c.name, "Good One Renamed");
    /* the broken card stays as it was */
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "fragile", &c), TSPS_OK);
    ck_assert_str_eq(c.name, "Fragile");
    ck_assert_int_eq(test_count_contacts(eng), 3);
    /* once fixed and then removed, it goes */
    put("a.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Good One Renamed\n"
                 "TEL:+49 30 1\nUID:good\nEND:VCARD\n");
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "fragile", &c),
                     TSPS_ENOTFOUND);
    cmsb_source_close(src);
}
END_TEST

/* `files` vCard files of `per` cards each (uids p0, p1, ...); returns the
 * number of cards. */
static int put_card_files(int files, int per)
{
    int total = 0;

    for (int f = 0; f < files; f++) {
        char name[32], *text = malloc((size_t)per * 200);
        size_t o = 0;
        ck_assert_ptr_nonnull(text);
        for (int i = 0; i < per; i++, total++)
            o += (size_t)sprintf(text + o,
                                 "BEGIN:VCARD\nVERSION:3.0\nFN:P%d\n"
                                 "TEL:+49 30 %07d\nUID:p%d\nEND:VCARD\n",
                                 total, total, total);
        snprintf(name, sizeof(name), "f%d.vcf", f);
        put(name, text);
        free(text);
    }
    return total;
}

/* An adapter that is vcard-dir but "crashes" (stops) after its first
 * committed batch: the store must then hold exactly that batch and its
 * cursor, and a normal sync must finish the job without redoing it. */
static int crash_after;

typedef struct crash_ctx {
    cmsb_change_cb cb;
    void *arg;
    int cps;
} crash_ctx;

static int crash_fwd(void *arg, const cmsb_change *ch)
{
    crash_ctx *c = arg;

    if (c->cps >= crash_after)
        return 1;
    if (ch->kind == CMSB_CHANGE_CHECKPOINT)
        c->cps++;
    return c->cb(c->arg, ch);
}

static int crash_changes(cmsb_source *s, const char *since, cmsb_change_cb cb,
                         void *arg)
{
    crash_ctx c = {cb, arg, 0};
    return cmsb_vcard_dir_adapter.x_changes(s, since, crash_fwd, &c);
}

START_TEST(test_resume_after_crash)
{
    cmsb_adapter crashy = cmsb_vcard_dir_adapter;
    cmsb_source *src = NULL, *good;
    cmsb_sync_stats st;
    char uri[700];

    /* 8 files x 1000 cards: checkpoints every 2500 records */
    ck_assert_int_eq(put_card_files(8, 1000), 8000);
    crashy.scheme = "crashy";
    crashy.x_changes = crash_changes;
    ck_assert_int_eq(cmsb_register(reg, &crashy), CMSB_OK);
    snprintf(uri, sizeof(uri), "crashy:%s", book);
    ck_assert_int_eq(cmsb_source_open(reg, uri, NULL, &src), CMSB_OK);
    crash_after = 1;
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st),
                     CMSB_ECANCELED);
    ck_assert_uint_eq(st.batches, 1);
    ck_assert_int_eq(test_count_contacts(eng), 3000);
    cmsb_source_close(src);

    good = open_book();
    sync_ok(good, 0, &st);
    ck_assert_int_eq(st.full, 0); /* resumed from the stored cursor */
    ck_assert_uint_eq(st.contacts_put, 5000);
    ck_assert_int_eq(test_count_contacts(eng), 8000);
    ck_assert_uint_ge(st.batches, 2);
    cmsb_source_close(good);
}
END_TEST

/* An adapter whose server stalls in the middle of a sync (vcard-dir that
 * waits after its 100th record until the test lets it go, at most 10 s).
 * While it waits, another thread writes to the store: the write must not
 * wait for the adapter. It did when the sync held its write transaction
 * across the adapter's I/O (a 50k-card CardDAV sync then delayed SIP
 * history writes by up to a quarter of a second per batch). */
static pthread_mutex_t stall_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stall_cv = PTHREAD_COND_INITIALIZER;
static int stall_blocked, stall_released, stall_timed_out;

static int stall_fwd(void *arg, const cmsb_change *ch)
{
    crash_ctx *c = arg;

    if (ch->kind != CMSB_CHANGE_CHECKPOINT && ++c->cps == 100) {
        struct timespec until;
        int rc = 0;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&stall_mu);
        stall_blocked = 1;
        pthread_cond_broadcast(&stall_cv);
        while (!stall_released && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&stall_cv, &stall_mu, &until);
        if (!stall_released)
            stall_timed_out = 1;
        pthread_mutex_unlock(&stall_mu);
    }
    return c->cb(c->arg, ch);
}

static int stall_changes(cmsb_source *s, const char *since, cmsb_change_cb cb,
                         void *arg)
{
    crash_ctx c = {cb, arg, 0};
    return cmsb_vcard_dir_adapter.x_changes(s, since, stall_fwd, &c);
}

typedef struct stall_sync {
    cmsb_source *src;
    cmsb_sync_stats st;
    int rc;
} stall_sync;

static void *stall_sync_main(void *arg)
{
    stall_sync *ss = arg;
    ss->rc = cmsb_sync(ss->src, eng, TEST_USER, "book", 0, &ss->st);
    return NULL;
}

START_TEST(test_sync_never_holds_the_store_across_adapter_io)
{
    cmsb_adapter stall = cmsb_vcard_dir_adapter;
    stall_sync ss;
    pthread_t th;
    tsps_method m;
    char uri[700];
    int total, timed_out;

    total = put_card_files(3, 1000);
    stall.scheme = "stall";
    stall.x_changes = stall_changes;
    ck_assert_int_eq(cmsb_register(reg, &stall), CMSB_OK);
    snprintf(uri, sizeof(uri), "stall:%s", book);
    memset(&ss, 0, sizeof(ss));
    ck_assert_int_eq(cmsb_source_open(reg, uri, NULL, &ss.src), CMSB_OK);
    stall_blocked = stall_released = stall_timed_out = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, stall_sync_main, &ss), 0);

    pthread_mutex_lock(&stall_mu);
    while (!stall_blocked)
        pthread_cond_wait(&stall_cv, &stall_mu);
    pthread_mutex_unlock(&stall_mu);
    /* the adapter now waits on its "server": a write from another thread
     * (a rule change here; history and bindings on the call path) */
    ck_assert_int_eq(tsps_method_parse("voicemail", &m, NULL, 0), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(eng, TEST_USER, "VIP", TSPS_STATUS_ANY, &m),
                     TSPS_OK);
    pthread_mutex_lock(&stall_mu);
    timed_out = stall_timed_out;
    stall_released = 1;
    pthread_cond_broadcast(&stall_cv);
    pthread_mutex_unlock(&stall_mu);
    ck_assert_int_eq(pthread_join(th, NULL), 0);

    ck_assert_msg(!timed_out, "a store write waited until the adapter gave "
                              "up: the sync held the write lock across the "
                              "adapter's I/O");
    ck_assert_int_eq(ss.rc, CMSB_OK);
    ck_assert_uint_eq(ss.st.contacts_put, (uint64_t)total);
    ck_assert_int_eq(test_count_contacts(eng), total);
    cmsb_source_close(ss.src);
}
END_TEST

static const char *meeting =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:standup\r\n"
    "SUMMARY:Standup\r\nDTSTART;TZID=Europe/Berlin:20260105T100000\r\n"
    "DTEND;TZID=Europe/Berlin:20260105T101500\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\n"
    "ORGANIZER:mailto:alice@example.com\r\n"
    "ATTENDEE:mailto:Anna@Example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

static int count_ev(void *arg, const tsps_event *e)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

static int first_item(void *arg, const cmsb_item *it)
{
    cmsb_item *out = arg;
    if (out->kind == 0)
        *out = *it;
    return 0;
}

START_TEST(test_events_sync_and_related)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    cmsb_criteria crit = CMSB_CRITERIA_INIT;
    cmsb_item it;
    char path[700];
    int n = 0;

    put("anna.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Anna\nTEL:+49 30 7\n"
                    "EMAIL:anna@example.org\nUID:anna\nEND:VCARD\n");
    put("cal.ics", meeting);
    src = open_book();
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.events_put, 6);
    ck_assert_int_eq(
        tsps_event_list(eng, TEST_USER, 0, INT64_MAX / 2, count_ev, &n),
        TSPS_OK);
    ck_assert_int_eq(n, 6);

    memset(&it, 0, sizeof(it));
    crit.from = 1767225600; /* 2026-01-01 */
    crit.to = 1767225600 + 20 * 86400;
    ck_assert_int_eq(cmsb_related(src, "anna", &crit, first_item, &it),
                     CMSB_OK);
    ck_assert_uint_eq(it.kind, CMSB_ITEM_EVENT);
    ck_assert_str_eq(it.uid, "standup/20260105T090000Z");
    ck_assert_str_eq(it.title, "Standup");
    ck_assert_str_eq(it.role, "attendee");
    ck_assert_int_eq(cmsb_related(src, "nobody", &crit, first_item, &it),
                     CMSB_ENOTFOUND);

    snprintf(path, sizeof(path), "%s/cal.ics", book);
    unlink(path);
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.events_deleted, 6);
    n = 0;
    ck_assert_int_eq(
        tsps_event_list(eng, TEST_USER, 0, INT64_MAX / 2, count_ev, &n),
        TSPS_OK);
    ck_assert_int_eq(n, 0);
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_sync_bad_args)
{
    cmsb_source *src = open_book();
    cmsb_sync_stats st;
    char key[128];

    ck_assert_int_eq(cmsb_sync(NULL, eng, TEST_USER, "b", 0, &st), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_sync(src, eng, "", "b", 0, &st), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_sync(src, eng, "nosuchuser", "b", 0, &st) == CMSB_OK,
                     0);
    ck_assert_int_eq(cmsb_cursor_key("u", "s", key, sizeof(key)), CMSB_OK);
    ck_assert_str_eq(key, "cmsb/u/s");
    ck_assert_int_eq(cmsb_cursor_key("u", "s", key, 4), CMSB_EINVAL);
    cmsb_source_close(src);
}
END_TEST

/* The same card in two files (a whole-book export beside a single card):
 * removing one file must not remove the contact. */
START_TEST(test_same_uid_in_two_files)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_contact c;
    char path[700];
    const char *card = "BEGIN:VCARD\nVERSION:3.0\nFN:Twice\nTEL:+49 30 9\n"
                       "UID:twice\nEND:VCARD\n";

    put("all.vcf", card);
    put("twice.vcf", card);
    src = open_book();
    sync_ok(src, 0, &st);
    snprintf(path, sizeof(path), "%s/all.vcf", book);
    unlink(path);
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.contacts_deleted, 0);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "twice", &c), TSPS_OK);
    snprintf(path, sizeof(path), "%s/twice.vcf", book);
    unlink(path);
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.contacts_deleted, 1);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "twice", &c),
                     TSPS_ENOTFOUND);
    cmsb_source_close(src);
}
END_TEST

/* The demo data tspsd's embedded default syncs: each code form once. */
START_TEST(test_demo_data)
{
    cmsb_options opt = CMSB_OPTIONS_INIT;
    cmsb_source *src = NULL;
    cmsb_sync_stats st;
    tsps_contact c;
    char uri[600];
    int n = 0;
    /* clang-format off */
    static const struct { const char *uid, *code; tsps_code_source src; }
    want[] = {
        {"demo-victoria-price", "VIP", TSPS_CODE_SRC_PROPERTY},
        {"demo-frank-miller", "FAMILY", TSPS_CODE_SRC_CATEGORY},
        {"9b0c2a7e-1d5f-4e3a-8c61-0d2f4b7a5c03", "SALES", TSPS_CODE_SRC_GROUP},
        {"demo-robo-caller", "BLOCK", TSPS_CODE_SRC_NOTE},
        {"demo-nina-ortiz", "", TSPS_CODE_SRC_NONE},
    };
    /* clang-format on */

    opt.now = 1768208400; /* 2026-01-12 */
    opt.log = test_log;
    opt.log_arg = &logs;
    snprintf(uri, sizeof(uri), "vcard-dir:%s/examples/data", TSPS_SOURCE_DIR);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &opt, &src), CMSB_OK);
    sync_ok(src, 0, &st);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.contacts_put, 5);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, want[i].uid, &c),
                         TSPS_OK);
        ck_assert_str_eq(c.code, want[i].code);
        ck_assert_int_eq(c.code_source, want[i].src);
    }
    /* the weekly 1:1 has Victoria as attendee */
    ck_assert_int_eq(tsps_event_list(eng, TEST_USER, 1768208400,
                                     1768208400 + 7 * 86400, count_ev, &n),
                     TSPS_OK);
    ck_assert_int_ge(n, 6); /* 5 standups + the 1:1 */
    {
        cmsb_criteria crit = CMSB_CRITERIA_INIT;
        cmsb_item it;
        memset(&it, 0, sizeof(it));
        crit.from = 1768208400;
        crit.to = 1768208400 + 7 * 86400;
        ck_assert_int_eq(
            cmsb_related(src, "demo-victoria-price", &crit, first_item, &it),
            CMSB_OK);
        ck_assert_str_eq(it.title, "Weekly 1:1 with Victoria");
        ck_assert_str_eq(it.role, "attendee");
    }
    cmsb_source_close(src);
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("cmsb_sync");
    TCase *tc = tcase_create("sync");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_four_forms_route_by_code);
    tcase_add_test(tc, test_apple_group_and_group_change);
    tcase_add_test(tc, test_precedence_detail_stored);
    tcase_add_test(tc, test_malformed_skipped_nothing_lost);
    tcase_add_test(tc, test_resume_after_crash);
    tcase_add_test(tc, test_sync_never_holds_the_store_across_adapter_io);
    tcase_add_test(tc, test_events_sync_and_related);
    tcase_add_test(tc, test_sync_bad_args);
    tcase_add_test(tc, test_demo_data);
    tcase_add_test(tc, test_same_uid_in_two_files);
    tcase_add_test(tc, test_prefixed_group_name_gives_code);
    tcase_add_test(tc, test_vanity_tel_stored_and_matched);
    tcase_add_test(tc, test_long_uid_found_whole);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(sync_suite)

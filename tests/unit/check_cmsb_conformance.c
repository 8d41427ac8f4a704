/*
 * The adapter conformance suite: every adapter in the tree must pass it.
 * Each test runs once per fixture (vcard-dir, the example CSV adapter); a
 * fixture knows how to put and delete a contact in its adapter's format.
 * Optional features are tested when the adapter's caps claim them.
 */
#include "cmsb_test.h"

#include "csv_adapter.h"

typedef struct fixture {
    const char *name;
    const cmsb_adapter *ad;
    void (*uri)(const char *dir, char *buf, size_t len);
    void (*put)(const char *dir, const char *uid, const char *name,
                const char *number, const char *code);
    void (*del)(const char *dir, const char *uid);
    /* the file that holds uid (for the byte-for-byte write check) */
    void (*file_of)(const char *dir, const char *uid, char *buf, size_t len);
    /* a weekly meeting, 4 Mondays from 2026-01-05 09:00Z, with attendee
     * <uid>@example.com (adapters with CMSB_CAP_EVENTS) */
    void (*put_meeting)(const char *dir, const char *uid);
} fixture;

/* ---- vcard-dir: one card per file ---- */

static void vcd_uri(const char *dir, char *buf, size_t len)
{
    snprintf(buf, len, "vcard-dir:%s/book", dir);
    char d[600];
    snprintf(d, sizeof(d), "%s/book", dir);
    mkdir(d, 0700);
}

static void vcd_file(const char *dir, const char *uid, char *buf, size_t len)
{
    snprintf(buf, len, "%s/book/%s.vcf", dir, uid);
}

static void vcd_put(const char *dir, const char *uid, const char *name,
                    const char *number, const char *code)
{
    char path[700], text[1024];
    vcd_file(dir, uid, path, sizeof(path));
    snprintf(text, sizeof(text),
             "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:%s\r\nN:;%s;;;\r\n"
             "TEL;TYPE=CELL:%s\r\nNOTE:keep these bytes\\, please\r\n"
             "EMAIL:%s@example.com\r\n%s%s%sUID:%s\r\nEND:VCARD\r\n",
             name, name, number, uid, code[0] ? "X-TSPS-CODE:" : "", code,
             code[0] ? "\r\n" : "", uid);
    test_write(path, text);
}

static void vcd_meeting(const char *dir, const char *uid)
{
    char path[700], text[1024];
    snprintf(path, sizeof(path), "%s/book/meeting.ics", dir);
    snprintf(text, sizeof(text),
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
             "UID:weekly\r\nSUMMARY:Weekly\r\n"
             "DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"
             "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
             "ATTENDEE:mailto:%s@Example.com\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n",
             uid);
    test_write(path, text);
}

static void vcd_del(const char *dir, const char *uid)
{
    char path[700];
    vcd_file(dir, uid, path, sizeof(path));
    ck_assert_int_eq(unlink(path), 0);
}

/* ---- csv: one file, one line per contact ---- */

static void csv_file(const char *dir, const char *uid, char *buf, size_t len)
{
    (void)uid;
    snprintf(buf, len, "%s/phones.csv", dir);
}

static void csv_uri(const char *dir, char *buf, size_t len)
{
    char path[700];
    csv_file(dir, "", path, sizeof(path));
    if (access(path, F_OK) != 0)
        test_write(path, "uid,name,number,code\n");
    snprintf(buf, len, "csv:%s", path);
}

static void csv_edit(const char *dir, const char *uid, const char *line)
{
    char path[700], key[140];
    char *old, *out, *p;
    size_t len, o = 0;

    csv_file(dir, uid, path, sizeof(path));
    old = test_read(path, &len);
    out = calloc(1, len + 512);
    snprintf(key, sizeof(key), "%s,", uid);
    for (p = old; *p != '\0';) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (strncmp(p, key, strlen(key)) != 0) {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    if (line != NULL)
        o += (size_t)sprintf(out + o, "%s\n", line);
    test_write(path, out);
    free(old);
    free(out);
}

static void csv_put(const char *dir, const char *uid, const char *name,
                    const char *number, const char *code)
{
    char line[512];
    snprintf(line, sizeof(line), "%s,%s,%s,%s", uid, name, number, code);
    csv_edit(dir, uid, line);
}

static void csv_del(const char *dir, const char *uid)
{
    csv_edit(dir, uid, NULL);
}

/* More fixtures from another build of this file: CMSB_CONFORMANCE_EXTRA
 * names a header defining them as CMSB_CONFORMANCE_FIXTURES (and, with
 * CMSB_CONFORMANCE_MAIN, its own main(), e.g. to start a server). */
#ifdef CMSB_CONFORMANCE_EXTRA
#include CMSB_CONFORMANCE_EXTRA
#endif

static const fixture fixtures[] = {
    {"vcard-dir", &cmsb_vcard_dir_adapter, vcd_uri, vcd_put, vcd_del, vcd_file,
     vcd_meeting},
    {"csv", &csv_phone_list_adapter, csv_uri, csv_put, csv_del, csv_file, NULL},
#ifdef CMSB_CONFORMANCE_FIXTURES
    CMSB_CONFORMANCE_FIXTURES
#endif
};
#define NFIX ((int)(sizeof(fixtures) / sizeof(fixtures[0])))

/* ---- per-test state ---- */

static char dir[512];
static cmsb_registry *reg;

static void setup(void)
{
    tsps_check_tmpdir(dir, sizeof(dir));
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    /* the example adapter registers at run time, like any third party */
    ck_assert_int_eq(cmsb_register(reg, &csv_phone_list_adapter), CMSB_OK);
}

static void teardown(void)
{
    cmsb_registry_close(reg);
    tsps_check_rmdir(dir);
}

static cmsb_source *open_fix(const fixture *f)
{
    char uri[700];
    cmsb_source *src = NULL;

    f->uri(dir, uri, sizeof(uri));
    ck_assert_int_eq(cmsb_source_open(reg, uri, NULL, &src), CMSB_OK);
    ck_assert_ptr_nonnull(src);
    return src;
}

/* Collect contacts by uid. */
typedef struct seen {
    int n;
    tsps_contact c[16];
} seen;

static int collect(void *arg, const tsps_contact *c)
{
    seen *s = arg;
    if (s->n < 16)
        s->c[s->n] = *c;
    s->n++;
    return 0;
}

static const tsps_contact *by_uid(const seen *s, const char *uid)
{
    for (int i = 0; i < s->n && i < 16; i++)
        if (strcmp(s->c[i].uid, uid) == 0)
            return &s->c[i];
    return NULL;
}

START_TEST(test_open_close)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);

    ck_assert_str_eq(cmsb_source_scheme(src), f->ad->scheme);
    ck_assert_uint_eq(cmsb_source_caps(src), f->ad->caps);
    cmsb_source_close(src);
    cmsb_source_close(NULL);
}
END_TEST

START_TEST(test_open_missing_fails)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = (cmsb_source *)&src;
    char uri[700];

    snprintf(uri, sizeof(uri), "%s:%s/no/such/place", f->ad->scheme, dir);
    ck_assert_int_ne(cmsb_source_open(reg, uri, NULL, &src), CMSB_OK);
    ck_assert_ptr_null(src);
    ck_assert_int_eq(cmsb_source_open(reg, "nosuchscheme:/x", NULL, &src),
                     CMSB_ENOSCHEME);
    ck_assert_int_eq(cmsb_source_open(reg, "no-colon", NULL, &src),
                     CMSB_EINVAL);
}
END_TEST

START_TEST(test_register_checks)
{
    const fixture *f = &fixtures[_i];
    cmsb_registry *r2 = NULL;
    cmsb_adapter bad;

    ck_assert_int_eq(cmsb_registry_open(&r2), CMSB_OK);
    bad = *f->ad;
    bad.scheme = "fresh";
    bad.x_contacts = NULL;
    ck_assert_int_eq(cmsb_register(r2, &bad), CMSB_EINVAL);
    bad = *f->ad;
    bad.scheme = "fresh";
    bad.version = 0;
    ck_assert_int_eq(cmsb_register(r2, &bad), CMSB_EVERSION);
    bad.version = CMSB_ADAPTER_VERSION + 1;
    ck_assert_int_eq(cmsb_register(r2, &bad), CMSB_EVERSION);
    bad = *f->ad;
    bad.scheme = "fresh";
    bad.caps |= CMSB_CAP_RELATED;
    bad.x_related = NULL;
    ck_assert_int_eq(cmsb_register(r2, &bad), CMSB_EINVAL);
    bad = *f->ad;
    bad.scheme = "Bad Scheme";
    ck_assert_int_eq(cmsb_register(r2, &bad), CMSB_EINVAL);
    /* first registration wins, the second is refused */
    if (cmsb_registry_find(r2, f->ad->scheme) == NULL)
        ck_assert_int_eq(cmsb_register(r2, f->ad), CMSB_OK);
    ck_assert_int_eq(cmsb_register(r2, f->ad), CMSB_EEXIST);
    ck_assert_ptr_eq(cmsb_registry_find(r2, f->ad->scheme), f->ad);
    cmsb_registry_close(r2);
}
END_TEST

START_TEST(test_full_listing)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    seen s = {0};
    const tsps_contact *c;

    f->put(dir, "u1", "Anna Schmidt", "+49 30 1234567", "VIP");
    f->put(dir, "u2", "Bob Baker", "+1 415 555 0101", "");
    f->put(dir, "u3", "Carla Diaz", "030 7654321", "sales");
    ck_assert_int_eq(cmsb_contacts(src, collect, &s), CMSB_OK);
    ck_assert_int_eq(s.n, 3);
    c = by_uid(&s, "u1");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->name, "Anna Schmidt");
    ck_assert_int_eq(c->nnumbers, 1);
    ck_assert_str_eq(c->numbers[0], "+49 30 1234567");
    ck_assert_str_eq(c->code, "VIP");
    ck_assert_int_eq(c->code_source, TSPS_CODE_SRC_PROPERTY);
    c = by_uid(&s, "u2");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->code, "");
    ck_assert_int_eq(c->code_source, TSPS_CODE_SRC_NONE);
    c = by_uid(&s, "u3");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->code, "SALES");
    cmsb_source_close(src);
}
END_TEST

static int stop_now(void *arg, const tsps_contact *c)
{
    (void)c;
    (*(int *)arg)++;
    return 1;
}

START_TEST(test_callback_stops)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    int calls = 0;

    f->put(dir, "u1", "Anna", "+49 30 1234567", "");
    f->put(dir, "u2", "Bob", "+49 30 1234568", "");
    ck_assert_int_eq(cmsb_contacts(src, stop_now, &calls), CMSB_ECANCELED);
    ck_assert_int_eq(calls, 1);
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_sync_incremental)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    tsps_engine *eng = test_engine(dir);
    cmsb_sync_stats st;
    tsps_contact c;

    f->put(dir, "u1", "Anna", "+49 30 1234567", "VIP");
    f->put(dir, "u2", "Bob", "+49 30 2222222", "");
    f->put(dir, "u3", "Carla", "+49 30 3333333", "");
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st), CMSB_OK);
    ck_assert_int_eq(st.full, 1);
    ck_assert_uint_eq(st.contacts_put, 3);
    ck_assert_int_eq(test_count_contacts(eng), 3);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "u1", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_str_eq(c.source, "book");

    /* add one, change one, delete one */
    sleep(0); /* mtime granularity is ns; the size changes anyway */
    f->put(dir, "u4", "Dora", "+49 30 4444444", "FAMILY");
    f->put(dir, "u2", "Bob Baker", "+49 30 2222222", "SALES");
    f->del(dir, "u3");
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st), CMSB_OK);
    ck_assert_int_eq(test_count_contacts(eng), 3);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "u3", &c),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "u2", &c), TSPS_OK);
    ck_assert_str_eq(c.name, "Bob Baker");
    ck_assert_str_eq(c.code, "SALES");
    ck_assert_int_eq(tsps_contact_get(eng, TEST_USER, "u4", &c), TSPS_OK);
    ck_assert_str_eq(c.code, "FAMILY");
    if (f->ad->caps & CMSB_CAP_CHANGES) {
        /* only what changed was sent */
        ck_assert_int_eq(st.full, 0);
        ck_assert_uint_eq(st.contacts_put, 2);
        ck_assert_uint_eq(st.contacts_deleted, 1);
    }

    /* idempotent: nothing changed, nothing written, same store */
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st), CMSB_OK);
    ck_assert_int_eq(test_count_contacts(eng), 3);
    if (f->ad->caps & CMSB_CAP_CHANGES) {
        ck_assert_uint_eq(st.contacts_put, 0);
        ck_assert_uint_eq(st.contacts_deleted, 0);
    }
    /* a forced full resync gives the same store */
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 1, &st), CMSB_OK);
    ck_assert_int_eq(st.full, 1);
    ck_assert_int_eq(test_count_contacts(eng), 3);
    tsps_engine_close(eng);
    cmsb_source_close(src);
}
END_TEST

/* Helpers for test_changes_records. */
typedef struct change_acc {
    int puts, deletes, cps, last_is_cp;
    char cursor[65536];
} change_acc;

static int on_change(void *arg, const cmsb_change *ch)
{
    change_acc *a = arg;

    a->last_is_cp = ch->kind == CMSB_CHANGE_CHECKPOINT;
    if (ch->kind == CMSB_CHANGE_CONTACT_PUT)
        a->puts++;
    if (ch->kind == CMSB_CHANGE_CONTACT_DELETE)
        a->deletes++;
    if (ch->kind == CMSB_CHANGE_CHECKPOINT) {
        a->cps++;
        snprintf(a->cursor, sizeof(a->cursor), "%s", ch->cursor);
    }
    return 0;
}

START_TEST(test_changes_records)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    change_acc *a = calloc(1, sizeof(*a));
    char cursor[65536];

    if (!(f->ad->caps & CMSB_CAP_CHANGES)) {
        ck_assert_int_eq(cmsb_changes(src, NULL, on_change, a), CMSB_ENOTSUP);
        goto out;
    }
    f->put(dir, "u1", "Anna", "+49 30 1234567", "VIP");
    f->put(dir, "u2", "Bob", "+49 30 2222222", "");
    ck_assert_int_eq(cmsb_changes(src, NULL, on_change, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 2);
    ck_assert_int_eq(a->last_is_cp, 1);
    snprintf(cursor, sizeof(cursor), "%s", a->cursor);
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, cursor, on_change, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 0);
    ck_assert_int_eq(a->deletes, 0);
    ck_assert_int_eq(a->last_is_cp, 1);
    f->del(dir, "u2");
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, cursor, on_change, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 0);
    ck_assert_int_eq(a->deletes, 1);
    /* a cursor the adapter does not know means "from nothing" */
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(cmsb_changes(src, "garbage", on_change, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 1);
out:
    free(a);
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_write_back)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    char path[700];
    char *before, *after;
    size_t lb, la, pre = 0, suf = 0;
    seen s = {0};

    f->put(dir, "u1", "Anna", "+49 30 1234567", "VIP");
    f->put(dir, "u2", "Bob", "+49 30 2222222", "");
    if (!(f->ad->caps & CMSB_CAP_WRITE)) {
        ck_assert_int_eq(cmsb_write_code(src, "u1", "SALES"), CMSB_ENOTSUP);
        cmsb_source_close(src);
        return;
    }
    f->file_of(dir, "u1", path, sizeof(path));
    before = test_read(path, &lb);
    ck_assert_int_eq(cmsb_write_code(src, "u1", "sales"), CMSB_OK);
    after = test_read(path, &la);
    /* only the code changed: common prefix + suffix cover the rest */
    while (pre < lb && pre < la && before[pre] == after[pre])
        pre++;
    while (suf < lb - pre && suf < la - pre &&
           before[lb - 1 - suf] == after[la - 1 - suf])
        suf++;
    ck_assert_uint_le(lb - pre - suf, 3); /* "VIP" */
    ck_assert_uint_le(la - pre - suf, 5); /* "SALES" */
    ck_assert_int_eq(cmsb_contacts(src, collect, &s), CMSB_OK);
    ck_assert_str_eq(by_uid(&s, "u1")->code, "SALES");
    ck_assert_int_eq(by_uid(&s, "u1")->code_source, TSPS_CODE_SRC_PROPERTY);
    /* a contact without a code gets one; unknown uid; bad code */
    ck_assert_int_eq(cmsb_write_code(src, "u2", "BLOCK"), CMSB_OK);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cmsb_contacts(src, collect, &s), CMSB_OK);
    ck_assert_str_eq(by_uid(&s, "u2")->code, "BLOCK");
    ck_assert_str_eq(by_uid(&s, "u2")->name, "Bob");
    ck_assert_int_eq(cmsb_write_code(src, "nobody", "VIP"), CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_write_code(src, "u1", "not a code"), CMSB_EINVAL);
    free(before);
    free(after);
    cmsb_source_close(src);
}
END_TEST

typedef struct ev_acc {
    int n;
    char uids[16][TSPS_UID_MAX];
} ev_acc;

static int on_ev(void *arg, const tsps_event *e)
{
    ev_acc *a = arg;
    if (a->n < 16)
        snprintf(a->uids[a->n], TSPS_UID_MAX, "%s", e->uid);
    a->n++;
    ck_assert_int_gt(e->end, e->start);
    return 0;
}

static int on_item(void *arg, const cmsb_item *it)
{
    ck_assert_uint_eq(it->kind, CMSB_ITEM_EVENT);
    (*(int *)arg)++;
    return 0;
}

#define JAN1 1767225600LL /* 2026-01-01T00:00Z */

START_TEST(test_events_window)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    ev_acc a = {0};

    if (!(f->ad->caps & CMSB_CAP_EVENTS)) {
        ck_assert_int_eq(cmsb_events(src, 0, 10, on_ev, &a), CMSB_ENOTSUP);
        cmsb_source_close(src);
        return;
    }
    ck_assert_int_eq(cmsb_events(src, 10, 10, on_ev, &a), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_events(src, JAN1, JAN1 + 60 * 86400, on_ev, &a),
                     CMSB_OK);
    ck_assert_int_eq(a.n, 0);
    ck_assert_ptr_nonnull(f->put_meeting);
    f->put_meeting(dir, "u1");
    ck_assert_int_eq(cmsb_events(src, JAN1, JAN1 + 60 * 86400, on_ev, &a),
                     CMSB_OK);
    ck_assert_int_eq(a.n, 4); /* recurrences expanded */
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ck_assert_str_ne(a.uids[i], a.uids[j]);
    memset(&a, 0, sizeof(a)); /* Jan 10 .. Jan 20: the 12th and 19th */
    ck_assert_int_eq(
        cmsb_events(src, JAN1 + 9 * 86400, JAN1 + 19 * 86400, on_ev, &a),
        CMSB_OK);
    ck_assert_int_eq(a.n, 2);
    if (f->ad->caps & CMSB_CAP_RELATED) {
        cmsb_criteria crit = CMSB_CRITERIA_INIT;
        int n = 0;
        f->put(dir, "u1", "Anna", "+49 30 1234567", "");
        crit.from = JAN1;
        crit.to = JAN1 + 60 * 86400;
        crit.limit = 3;
        ck_assert_int_eq(cmsb_related(src, "u1", &crit, on_item, &n), CMSB_OK);
        ck_assert_int_eq(n, 3); /* 4 related, limited to 3 */
    }
    cmsb_source_close(src);
}
END_TEST

START_TEST(test_related_and_watch_guards)
{
    const fixture *f = &fixtures[_i];
    cmsb_source *src = open_fix(f);
    cmsb_criteria crit = CMSB_CRITERIA_INIT;
    int fd = 0;

    if (!(f->ad->caps & CMSB_CAP_RELATED))
        ck_assert_int_eq(
            cmsb_related(src, "u1", &crit, (cmsb_item_cb)stop_now, NULL),
            CMSB_ENOTSUP);
    if (!(f->ad->caps & CMSB_CAP_WATCH)) {
        ck_assert_int_eq(cmsb_watch_fd(src, &fd), CMSB_ENOTSUP);
        ck_assert_int_eq(fd, -1);
    } else {
        ck_assert_int_eq(cmsb_watch_fd(src, &fd), CMSB_OK);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(cmsb_watch_drain(src), 0);
        f->put(dir, "w1", "Watch", "+49 30 5555555", "");
        ck_assert_int_eq(cmsb_watch_drain(src), 1);
        ck_assert_int_eq(cmsb_watch_drain(src), 0);
    }
    cmsb_source_close(src);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("cmsb_conformance");
    TCase *tc = tcase_create("adapters");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_open_close, 0, NFIX);
    tcase_add_loop_test(tc, test_open_missing_fails, 0, NFIX);
    tcase_add_loop_test(tc, test_register_checks, 0, NFIX);
    tcase_add_loop_test(tc, test_full_listing, 0, NFIX);
    tcase_add_loop_test(tc, test_callback_stops, 0, NFIX);
    tcase_add_loop_test(tc, test_sync_incremental, 0, NFIX);
    tcase_add_loop_test(tc, test_changes_records, 0, NFIX);
    tcase_add_loop_test(tc, test_write_back, 0, NFIX);
    tcase_add_loop_test(tc, test_events_window, 0, NFIX);
    tcase_add_loop_test(tc, test_related_and_watch_guards, 0, NFIX);
    suite_add_tcase(s, tc);
    return s;
}

#ifndef CMSB_CONFORMANCE_MAIN
TSPS_CHECK_MAIN(conformance_suite)
#endif

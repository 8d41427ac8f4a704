/*
 * Write-back through vcard-dir: only the code field changes, byte for
 * byte, in the form the code came from (property, NOTE marker, category,
 * group membership) or as a new property; "" clears; files are replaced
 * atomically and keep their mode. A new contact (cmsb_create_contact) is
 * a new file whose code routes the next call after a sync.
 */
#include <dirent.h>

#include "cmsb_test.h"

static char dir[512];
static cmsb_registry *reg;
static cmsb_source *src;

static void setup(void)
{
    tsps_check_tmpdir(dir, sizeof(dir));
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    src = NULL;
}

static void teardown(void)
{
    cmsb_source_close(src);
    cmsb_registry_close(reg);
    tsps_check_rmdir(dir);
}

static void put(const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    test_write(path, text);
}

static void expect(const char *name, const char *text)
{
    char path[700], *got;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    got = test_read(path, NULL);
    ck_assert_str_eq(got, text);
    free(got);
}

static void open_src(const char *prefix)
{
    cmsb_options opt = CMSB_OPTIONS_INIT;
    char uri[600];

    opt.category_prefix = prefix;
    snprintf(uri, sizeof(uri), "vcard-dir:%s", dir);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &opt, &src), CMSB_OK);
}

typedef struct one {
    const char *uid;
    tsps_contact c;
} one;

static int pick(void *arg, const tsps_contact *c)
{
    one *o = arg;
    if (strcmp(c->uid, o->uid) == 0)
        o->c = *c;
    return 0;
}

static tsps_contact get(const char *uid)
{
    one o;
    memset(&o, 0, sizeof(o));
    o.uid = uid;
    ck_assert_int_eq(cmsb_contacts(src, pick, &o), CMSB_OK);
    ck_assert_str_eq(o.c.uid, uid);
    return o.c;
}

#define CARD(uid, extra)                                                       \
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" uid "\r\nTEL:+49 30 1\r\n" extra       \
    "UID:" uid "\r\nEND:VCARD\r\n"

START_TEST(test_write_property_in_place)
{
    put("a.vcf", CARD("a1", "X-TSPS-CODE:VIP\r\n") CARD("a2", "NOTE:x\r\n"));
    open_src(NULL);
    ck_assert_int_eq(cmsb_write_code(src, "a1", "SALES"), CMSB_OK);
    expect("a.vcf",
           CARD("a1", "X-TSPS-CODE:SALES\r\n") CARD("a2", "NOTE:x\r\n"));
    /* a card without a code gets the property before its END */
    ck_assert_int_eq(cmsb_write_code(src, "a2", "vip"), CMSB_OK);
    expect(
        "a.vcf",
        CARD("a1",
             "X-TSPS-CODE:SALES\r\n") "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a2\r\n"
                                      "TEL:+49 30 1\r\nNOTE:x\r\nUID:a2\r\n"
                                      "X-TSPS-CODE:VIP\r\nEND:VCARD\r\n");
    ck_assert_str_eq(get("a2").code, "VIP");
}
END_TEST

START_TEST(test_write_note_marker)
{
    put("n.vcf", CARD("n1", "NOTE:call me [tsps:vip] later\\, ok\r\n"));
    open_src(NULL);
    ck_assert_int_eq(cmsb_write_code(src, "n1", "FAMILY"), CMSB_OK);
    expect("n.vcf", CARD("n1", "NOTE:call me [tsps:FAMILY] later\\, ok\r\n"));
    ck_assert_int_eq(get("n1").code_source, TSPS_CODE_SRC_NOTE);
    ck_assert_int_eq(cmsb_write_code(src, "n1", ""), CMSB_OK);
    expect("n.vcf", CARD("n1", "NOTE:call me later\\, ok\r\n"));
    ck_assert_str_eq(get("n1").code, "");
}
END_TEST

START_TEST(test_write_category)
{
    put("c.vcf", CARD("c1", "CATEGORIES:Friends,VIP,Work\r\n")
                     CARD("c2", "CATEGORIES:VIP\r\n"));
    open_src(NULL);
    ck_assert_int_eq(cmsb_write_code(src, "c1", "SALES"), CMSB_OK);
    expect("c.vcf", CARD("c1", "CATEGORIES:Friends,SALES,Work\r\n")
                        CARD("c2", "CATEGORIES:VIP\r\n"));
    ck_assert_int_eq(get("c1").code_source, TSPS_CODE_SRC_CATEGORY);
    ck_assert_int_eq(cmsb_write_code(src, "c1", ""), CMSB_OK);
    ck_assert_int_eq(cmsb_write_code(src, "c2", ""), CMSB_OK);
    expect("c.vcf", CARD("c1", "CATEGORIES:Friends,Work\r\n") CARD("c2", ""));
}
END_TEST

START_TEST(test_write_prefixed_category)
{
    put("p.vcf", CARD("p1", "CATEGORIES:Kunden,TSPS:vip\r\n"));
    open_src("tsps:");
    ck_assert_int_eq(get("p1").code_source, TSPS_CODE_SRC_CATEGORY);
    ck_assert_int_eq(cmsb_write_code(src, "p1", "BLOCK"), CMSB_OK);
    expect("p.vcf", CARD("p1", "CATEGORIES:Kunden,TSPS:BLOCK\r\n"));
}
END_TEST

#define GROUP(name, members)                                                   \
    "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:" name "\n" members              \
    "UID:urn:uuid:g-" name "\nEND:VCARD\n"

START_TEST(test_write_group_moves_membership)
{
    const char *person = "BEGIN:VCARD\nVERSION:4.0\nFN:Gus\nTEL:+49 30 9\n"
                         "UID:urn:uuid:gus\nEND:VCARD\n";
    put("gus.vcf", person);
    put("groups.vcf", GROUP("SALES", "MEMBER:urn:uuid:gus\n")
                          GROUP("VIP", "MEMBER:urn:uuid:other\n"));
    open_src(NULL);
    ck_assert_int_eq(get("gus").code_source, TSPS_CODE_SRC_GROUP);
    ck_assert_int_eq(cmsb_write_code(src, "gus", "VIP"), CMSB_OK);
    expect("gus.vcf", person);
    expect("groups.vcf",
           GROUP("SALES", "") "BEGIN:VCARD\nVERSION:4.0\nKIND:group\n"
                              "FN:VIP\nMEMBER:urn:uuid:other\n"
                              "UID:urn:uuid:g-VIP\nMEMBER:urn:uuid:gus\n"
                              "END:VCARD\n");
    ck_assert_str_eq(get("gus").code, "VIP");
    /* no group of that name: leave the group, take the property */
    ck_assert_int_eq(cmsb_write_code(src, "gus", "BLOCK"), CMSB_OK);
    expect("groups.vcf",
           GROUP("SALES", "") GROUP("VIP", "MEMBER:urn:uuid:other\n"));
    ck_assert_str_eq(get("gus").code, "BLOCK");
    ck_assert_int_eq(get("gus").code_source, TSPS_CODE_SRC_PROPERTY);
}
END_TEST

START_TEST(test_write_qp_note_falls_back_to_property)
{
    const char *before = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Q\r\n"
                         "NOTE;ENCODING=QUOTED-PRINTABLE:a [tsps:=\r\nVIP]\r\n"
                         "UID:q1\r\nEND:VCARD\r\n";
    put("q.vcf", before);
    open_src(NULL);
    ck_assert_str_eq(get("q1").code, "VIP");
    ck_assert_int_eq(cmsb_write_code(src, "q1", "SALES"), CMSB_OK);
    expect("q.vcf", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Q\r\n"
                    "NOTE;ENCODING=QUOTED-PRINTABLE:a [tsps:=\r\nVIP]\r\n"
                    "UID:q1\r\nX-TSPS-CODE:SALES\r\nEND:VCARD\r\n");
    ck_assert_str_eq(get("q1").code, "SALES");
}
END_TEST

START_TEST(test_write_atomic_keeps_mode)
{
    char path[700];
    struct stat sb;
    DIR *d;
    struct dirent *de;
    int files = 0;

    put("m.vcf", CARD("m1", ""));
    snprintf(path, sizeof(path), "%s/m.vcf", dir);
    chmod(path, 0640);
    open_src(NULL);
    ck_assert_int_eq(cmsb_write_code(src, "m1", "VIP"), CMSB_OK);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    d = opendir(dir);
    while ((de = readdir(d)) != NULL)
        files += de->d_name[0] != '.' || strstr(de->d_name, "tsps-") != NULL;
    closedir(d);
    ck_assert_int_eq(files, 1); /* no temp file left behind */
    ck_assert_int_eq(cmsb_write_code(src, "m1", "no spaces"), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_write_code(src, "zz", "VIP"), CMSB_ENOTFOUND);
}
END_TEST

/* ---- a new contact ("add to contacts" for an unknown caller) ---- */

static int count_files(int *tmp)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    *tmp = 0;
    while ((de = readdir(d)) != NULL) {
        n += strstr(de->d_name, ".vcf") != NULL;
        *tmp += strstr(de->d_name, "tsps-") != NULL;
    }
    closedir(d);
    return n;
}

/* The caller's number and the chosen code go into a new file of the
 * folder; the next sync brings the contact into the engine and the next
 * call from that number is routed with the code. */
START_TEST(test_create_routes_next_call)
{
    char edir[512], path[700], uid[TSPS_UID_MAX] = "", *text;
    tsps_engine *eng;
    tsps_contact c;
    tsps_method m;
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d;
    cmsb_sync_stats st;
    char err[128];
    int tmp;

    tsps_check_tmpdir(edir, sizeof(edir));
    eng = test_engine(edir);
    ck_assert_int_eq(tsps_number_add(eng, TEST_USER, "+49 30 5550000"),
                     TSPS_OK);
    ck_assert_int_eq(tsps_method_parse("reject", &m, err, sizeof(err)),
                     TSPS_OK);
    ck_assert_int_eq(tsps_code_set(eng, TEST_USER, "VIP", TSPS_STATUS_ANY, &m),
                     TSPS_OK);
    put("old.vcf", CARD("o1", ""));
    open_src(NULL);
    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st), CMSB_OK);
    ck_assert_uint_eq(st.contacts_put, 1);

    tsps_contact_init(&c);
    snprintf(c.numbers[0], sizeof(c.numbers[0]), "+49 40 7654321");
    c.nnumbers = 1;
    ck_assert_int_eq(cmsb_create_contact(src, &c, "vip", uid), CMSB_OK);
    ck_assert_uint_eq(strlen(uid), 36);
    snprintf(path, sizeof(path), "%s/%s.vcf", dir, uid);
    text = test_read(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\r\nX-TSPS-CODE:VIP\r\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\r\nTEL;TYPE=VOICE:+49 40 7654321\r\n"));
    free(text);
    ck_assert_int_eq(count_files(&tmp), 2);
    ck_assert_int_eq(tmp, 0); /* no temp file left behind */

    ck_assert_int_eq(cmsb_sync(src, eng, TEST_USER, "book", 0, &st), CMSB_OK);
    ck_assert_uint_eq(st.contacts_put, 1);
    call.called = "+49 30 5550000";
    call.caller = "+49407654321";
    call.now = 1768208400;
    ck_assert_int_eq(tsps_route(eng, &call, &d), TSPS_OK);
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    /* named by its number; the code can be changed like any other */
    ck_assert_str_eq(get(uid).name, "+49 40 7654321");
    ck_assert_int_eq(cmsb_write_code(src, uid, "FAMILY"), CMSB_OK);
    ck_assert_str_eq(get(uid).code, "FAMILY");
    tsps_engine_close(eng);
    tsps_check_rmdir(edir);
}
END_TEST

/* Names with vCard's special characters and long enough to be folded
 * read back the same; the code goes in the form the source reads. */
START_TEST(test_create_escapes_and_forms)
{
    const char *name = "Price, Victoria; Head of \\ Procurement and "
                       "Strategic Sourcing, Europe (Zürich office) -- "
                       "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    char uid[TSPS_UID_MAX], uid2[TSPS_UID_MAX];
    tsps_contact c, got;
    cmsb_options opt = CMSB_OPTIONS_INIT;
    char uri[600];

    open_src(NULL);
    tsps_contact_init(&c);
    snprintf(c.name, sizeof(c.name), "%s", name);
    snprintf(c.org, sizeof(c.org), "ACME; Inc.");
    snprintf(c.numbers[0], sizeof(c.numbers[0]), "030 1234567");
    snprintf(c.emails[0], sizeof(c.emails[0]), "vp@example.org");
    c.nnumbers = 1;
    c.nemails = 1;
    ck_assert_int_eq(cmsb_create_contact(src, &c, "", uid), CMSB_OK);
    got = get(uid);
    ck_assert_str_eq(got.name, name);
    ck_assert_str_eq(got.org, "ACME; Inc.");
    ck_assert_str_eq(got.code, "");
    ck_assert_int_eq(got.nemails, 1);
    /* two calls, two contacts */
    ck_assert_int_eq(cmsb_create_contact(src, &c, "", uid2), CMSB_OK);
    ck_assert_str_ne(uid, uid2);

    /* bad input: refused, nothing written */
    ck_assert_int_eq(cmsb_create_contact(src, &c, "not a code", uid),
                     CMSB_EINVAL);
    c.name[0] = '\0';
    c.nnumbers = 0;
    c.nemails = 0;
    ck_assert_int_eq(cmsb_create_contact(src, &c, "VIP", uid), CMSB_EINVAL);
    snprintf(c.name, sizeof(c.name), "bad\x01name");
    ck_assert_int_eq(cmsb_create_contact(src, &c, "VIP", uid), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_create_contact(src, NULL, "VIP", uid), CMSB_EINVAL);
    cmsb_source_close(src);

    /* a source that reads codes from categories only (prefix tsps:) */
    opt.forms = CMSB_FORM_CATEGORY;
    opt.category_prefix = "tsps:";
    snprintf(uri, sizeof(uri), "vcard-dir:%s", dir);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &opt, &src), CMSB_OK);
    snprintf(c.name, sizeof(c.name), "Cat");
    ck_assert_int_eq(cmsb_create_contact(src, &c, "SALES", uid), CMSB_OK);
    ck_assert_str_eq(get(uid).code, "SALES");
    cmsb_source_close(src);
    /* ... and one that reads them from group cards only: no way to put a
     * code on a single new card */
    opt.forms = CMSB_FORM_GROUP;
    ck_assert_int_eq(cmsb_source_open(reg, uri, &opt, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_create_contact(src, &c, "SALES", uid), CMSB_ENOTSUP);
    ck_assert_int_eq(cmsb_create_contact(src, &c, "", uid), CMSB_OK);
}
END_TEST

static Suite *write_suite(void)
{
    Suite *s = suite_create("cmsb_write");
    TCase *tc = tcase_create("write");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_property_in_place);
    tcase_add_test(tc, test_write_note_marker);
    tcase_add_test(tc, test_write_category);
    tcase_add_test(tc, test_write_prefixed_category);
    tcase_add_test(tc, test_write_group_moves_membership);
    tcase_add_test(tc, test_write_qp_note_falls_back_to_property);
    tcase_add_test(tc, test_write_atomic_keeps_mode);
    tcase_add_test(tc, test_create_routes_next_call);
    tcase_add_test(tc, test_create_escapes_and_forms);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(write_suite)

/*
 * Write-back through vcard-dir: only the code field changes, byte for
 * byte, in the form the code came from (property, NOTE marker, category,
 * group membership) or as a new property; "" clears; files are replaced
 * atomically and keep their mode.
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
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(write_suite)

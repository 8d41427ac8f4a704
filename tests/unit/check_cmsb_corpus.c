/*
 * The vCard corpus: exports in the shapes Outlook (2.1, quoted-printable,
 * Windows-1252), Google (3.0, grouped item1.X-ABLabel, BOM), Apple (3.0,
 * X-ABUID, folded base64 PHOTO, X-ADDRESSBOOKSERVER groups) and
 * Thunderbird (4.0 KIND:group/MEMBER, VALUE=uri; 3.0) produce, each parsed
 * and compared with its .expected file; plus parser edge cases.
 */
#include "cmsb_test.h"

#include "cmsb_dump.h"

static void check_file(const char *name, const char *prefix)
{
    char path[512], exp[512];
    char *data, *want, *got;
    size_t len;

    snprintf(path, sizeof(path), "%s/tests/data/vcard/%s.vcf", TSPS_SOURCE_DIR,
             name);
    snprintf(exp, sizeof(exp), "%s/tests/data/vcard/%s.expected",
             TSPS_SOURCE_DIR, name);
    data = test_read(path, &len);
    want = test_read(exp, NULL);
    got = dump_vcard(data, len, prefix, NULL);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "--- %s: got\n%s--- want\n%s", name, got, want);
    ck_assert_str_eq(got, want);
    free(data);
    free(want);
    free(got);
}

START_TEST(test_corpus_outlook)
{
    check_file("outlook", "");
}
END_TEST

START_TEST(test_corpus_google)
{
    check_file("google", "");
}
END_TEST

START_TEST(test_corpus_apple)
{
    check_file("apple", "");
}
END_TEST

START_TEST(test_corpus_thunderbird4)
{
    check_file("thunderbird4", "");
}
END_TEST

START_TEST(test_corpus_thunderbird3)
{
    check_file("thunderbird3", "tsps:");
}
END_TEST

START_TEST(test_corpus_malformed)
{
    check_file("malformed", "");
}
END_TEST

/* One card through the dump, as a string. */
static char *dump_str(const char *text)
{
    return dump_vcard(text, strlen(text), "", NULL);
}

START_TEST(test_parse_qp_soft_breaks)
{
    /* a soft break inside the marker: "[tsps:" "VIP]" on two lines, and a
     * continuation line that starts with a space (content, not a fold) */
    char *s = dump_str("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\n"
                       "NOTE;ENCODING=QUOTED-PRINTABLE:x [tsps:=\r\n"
                       "VIP] y=\r\n z\r\nEND:VCARD\r\n");
    ck_assert_ptr_nonnull(strstr(s, "code=VIP source=note"));
    free(s);
    s = dump_str("BEGIN:VCARD\nVERSION:2.1\n"
                 "FN;CHARSET=UTF-8;QUOTED-PRINTABLE:J=C3=BCrgen=20=\nM=C3=BC"
                 "ller\nEND:VCARD\n");
    ck_assert_ptr_nonnull(strstr(s, "name=Jürgen Müller"));
    free(s);
}
END_TEST

START_TEST(test_parse_folding_and_escapes)
{
    char *s = dump_str("BEGIN:VCARD\nVERSION:3.0\nFN:Long Na\n me\n"
                       "ORG:A\\, B\\; C;Dept\nX-TSPS-\n CODE:vip\n"
                       "EMAIL:MAILTO:X@Y.Z\nEND:VCARD\n");
    ck_assert_ptr_nonnull(strstr(s, "name=Long Name"));
    ck_assert_ptr_nonnull(strstr(s, "org=A, B; C\n"));
    ck_assert_ptr_nonnull(strstr(s, "code=VIP source=property"));
    ck_assert_ptr_nonnull(strstr(s, "email=x@y.z"));
    free(s);
}
END_TEST

START_TEST(test_parse_type_spellings)
{
    char *s = dump_str("BEGIN:VCARD\nVERSION:3.0\nFN:T\n"
                       "TEL;TYPE=work,voice:1\nTEL;TYPE=WORK;TYPE=VOICE:2\n"
                       "TEL;WORK;VOICE:3\nTEL;TYPE=\"cell,pref\":4\n"
                       "TEL;VALUE=uri;TYPE=home:tel:+1-555-555-5555;ext=5\n"
                       "END:VCARD\n");
    ck_assert_ptr_nonnull(strstr(s, "tel=1 types=work,voice"));
    ck_assert_ptr_nonnull(strstr(s, "tel=2 types=work,voice"));
    ck_assert_ptr_nonnull(strstr(s, "tel=3 types=work,voice"));
    ck_assert_ptr_nonnull(strstr(s, "tel=4 types=cell,pref"));
    ck_assert_ptr_nonnull(strstr(s, "tel=+1-555-555-5555;ext=5 types=home"));
    free(s);
}
END_TEST

START_TEST(test_parse_many_cards_and_no_trailing_newline)
{
    char *s = dump_str("BEGIN:VCARD\nVERSION:3.0\nFN:A\nEND:VCARD\n\n\n"
                       "BEGIN:VCARD\nVERSION:4.0\nFN:B\nEND:VCARD");
    ck_assert_ptr_nonnull(strstr(s, "name=A"));
    ck_assert_ptr_nonnull(strstr(s, "name=B"));
    ck_assert_ptr_null(strstr(s, "error"));
    free(s);
}
END_TEST

START_TEST(test_parse_bad_input_is_located)
{
    char *s = dump_str("garbage\nBEGIN:VCARD\nVERSION:3.0\nFN:A\n");
    ck_assert_ptr_nonnull(strstr(s, "error line=1 reason=text outside"));
    ck_assert_ptr_nonnull(strstr(s, "error line=2 reason=missing END:VCARD"));
    ck_assert_ptr_null(strstr(s, "card line"));
    free(s);
}
END_TEST

START_TEST(test_parse_known_codes)
{
    char *s;
    const char *t = "BEGIN:VCARD\nVERSION:3.0\nFN:A\n"
                    "CATEGORIES:Friends,VIP\nEND:VCARD\n";

    s = dump_vcard(t, strlen(t), "", "FAMILY");
    ck_assert_ptr_nonnull(strstr(s, "code= source=none"));
    free(s);
    s = dump_vcard(t, strlen(t), "", "friends,vip");
    ck_assert_ptr_nonnull(strstr(s, "code=FRIENDS source=category"));
    free(s);
    s = dump_vcard(t, strlen(t), "", NULL); /* capitals only */
    ck_assert_ptr_nonnull(strstr(s, "code=VIP source=category"));
    free(s);
}
END_TEST

static Suite *corpus_suite(void)
{
    Suite *s = suite_create("cmsb_corpus");
    TCase *tc = tcase_create("corpus");
    TCase *tp = tcase_create("parser");

    tcase_add_test(tc, test_corpus_outlook);
    tcase_add_test(tc, test_corpus_google);
    tcase_add_test(tc, test_corpus_apple);
    tcase_add_test(tc, test_corpus_thunderbird4);
    tcase_add_test(tc, test_corpus_thunderbird3);
    tcase_add_test(tc, test_corpus_malformed);
    tcase_add_test(tp, test_parse_qp_soft_breaks);
    tcase_add_test(tp, test_parse_folding_and_escapes);
    tcase_add_test(tp, test_parse_type_spellings);
    tcase_add_test(tp, test_parse_many_cards_and_no_trailing_newline);
    tcase_add_test(tp, test_parse_bad_input_is_located);
    tcase_add_test(tp, test_parse_known_codes);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tp);
    return s;
}

TSPS_CHECK_MAIN(corpus_suite)

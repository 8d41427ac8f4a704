/*
 * The DAV multistatus parser and the sync cursor, without a server:
 * namespaces by URI not prefix, 404 members, the 507 truncation marker,
 * DAV:error bodies, refused DOCTYPEs, and the cursor round trip.
 */
#include <check.h>

#include "dav.h"
#include "tsps_check.h"

static dav_ms parse_ok(const char *xml)
{
    dav_ms ms;
    ck_assert_int_eq(dav_ms_parse(xml, strlen(xml), &ms), CMSB_OK);
    return ms;
}

START_TEST(test_parse_radicale_prefixes)
{
    /* Radicale: default namespace DAV:, CR: for CardDAV */
    const char *xml =
        "<?xml version='1.0' encoding='utf-8'?>\n"
        "<multistatus xmlns=\"DAV:\" xmlns:CR=\"urn:ietf:params:xml:ns:"
        "carddav\"><sync-token>http://radicale.org/ns/sync/abc</sync-token>"
        "<response><href>/alice/book/a.vcf</href><propstat><prop>"
        "<getetag>\"e1\"</getetag><CR:address-data>BEGIN:VCARD\nUID:a\n"
        "END:VCARD\n</CR:address-data></prop><status>HTTP/1.1 200 OK</status>"
        "</propstat></response>"
        "<response><href>http://h:1/alice/book/b%20x.vcf</href>"
        "<status>HTTP/1.1 404 Not Found</status></response></multistatus>";
    dav_ms ms = parse_ok(xml);

    ck_assert_str_eq(ms.sync_token, "http://radicale.org/ns/sync/abc");
    ck_assert_uint_eq(ms.n, 2);
    ck_assert_str_eq(ms.r[0].href, "/alice/book/a.vcf");
    ck_assert_str_eq(ms.r[0].etag, "\"e1\"");
    ck_assert_str_eq(ms.r[0].data, "BEGIN:VCARD\nUID:a\nEND:VCARD\n");
    ck_assert_int_eq(ms.r[1].status, 404);
    ck_assert_str_eq(ms.r[1].href, "/alice/book/b%20x.vcf");
    ck_assert(dav_href_eq(ms.r[1].href, "/alice/book/b x.vcf"));
    ck_assert(dav_href_eq("/alice/book/", "http://x/alice/book"));
    ck_assert(!dav_href_eq("/alice/book/", "/alice/bookx/"));
    ck_assert_int_eq(ms.truncated, 0);
    dav_ms_free(&ms);
}
END_TEST

START_TEST(test_parse_other_prefixes_and_wrong_ns)
{
    /* same elements, other prefixes; a look-alike in another namespace is
     * not data */
    const char *xml =
        "<d:multistatus xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:"
        "carddav\" xmlns:x=\"urn:other\" xmlns:cs=\"http://calendarserver.org"
        "/ns/\"><d:response><d:href>/book/</d:href><d:propstat><d:prop>"
        "<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"
        "<cs:getctag>c1</cs:getctag><d:supported-report-set><d:supported-"
        "report><d:report><d:sync-collection/></d:report></d:supported-report>"
        "</d:supported-report-set><x:address-data>nope</x:address-data>"
        "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
        "<d:propstat><d:prop><d:getetag>\"ignored\"</d:getetag></d:prop>"
        "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
        "</d:response></d:multistatus>";
    dav_ms ms = parse_ok(xml);

    ck_assert_uint_eq(ms.n, 1);
    ck_assert_uint_eq(ms.r[0].rtype, DAV_RT_COLLECTION | DAV_RT_ADDRESSBOOK);
    ck_assert_str_eq(ms.r[0].ctag, "c1");
    ck_assert_uint_eq(ms.r[0].reports, DAV_REP_LISTED | DAV_REP_SYNC);
    ck_assert_ptr_null(ms.r[0].data);
    ck_assert_ptr_null(ms.r[0].etag); /* from a 404 propstat */
    dav_ms_free(&ms);
}
END_TEST

START_TEST(test_parse_507_and_errors)
{
    const char *trunc =
        "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/b/1.vcf</D:href>"
        "<D:propstat><D:prop><D:getetag>\"1\"</D:getetag></D:prop><D:status>"
        "HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response>"
        "<D:href>/b/</D:href><D:status>HTTP/1.1 507 Insufficient Storage"
        "</D:status><D:error><D:number-of-matches-within-limits/></D:error>"
        "</D:response><D:sync-token>t2</D:sync-token></D:multistatus>";
    const char *err = "<?xml version=\"1.0\"?><D:error xmlns:D=\"DAV:\">"
                      "<D:valid-sync-token/></D:error>";
    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]>"
                      "<D:multistatus xmlns:D=\"DAV:\"/>";
    dav_ms ms = parse_ok(trunc);

    ck_assert_int_eq(ms.truncated, 1);
    ck_assert_uint_eq(ms.n, 1); /* the marker is not a member */
    ck_assert_str_eq(ms.sync_token, "t2");
    ck_assert(ms.errors & DAV_ERR_LIMITS);
    dav_ms_free(&ms);
    ms = parse_ok(err);
    ck_assert_uint_eq(ms.errors, DAV_ERR_SYNC_TOKEN);
    ck_assert_uint_eq(ms.n, 0);
    dav_ms_free(&ms);
    ck_assert_int_eq(dav_ms_parse(dtd, strlen(dtd), &ms), CMSB_EPARSE);
    dav_ms_free(&ms);
    ck_assert_int_eq(dav_ms_parse("<a", 2, &ms), CMSB_EPARSE);
    dav_ms_free(&ms);
    ck_assert_int_eq(dav_ms_parse("<x:y xmlns:x=\"urn:no\"/>", 23, &ms),
                     CMSB_EPARSE);
    dav_ms_free(&ms);
    ck_assert_int_eq(dav_ms_parse("", 0, &ms), CMSB_EPARSE);
    dav_ms_free(&ms);
}
END_TEST

START_TEST(test_cursor_round_trip)
{
    dav_state st, back;
    dav_coll *c;
    dav_item *it;
    vc_buf a = {0}, b = {0};

    memset(&st, 0, sizeof(st));
    st.disc_at = 1700000000;
    c = dav_state_coll(&st, "/alice/my book/", DAV_BOOK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(dav_set(&c->token, "http://t/1 2%"), CMSB_OK);
    it = dav_map_add(&c->items, "/alice/my book/a.vcf");
    ck_assert_int_eq(dav_set(&it->etag, "\"e 1\""), CMSB_OK);
    ck_assert_int_eq(dav_set(&it->uids, "Cu1\nCu 2\n"), CMSB_OK);
    it = dav_map_add(&c->items, "/alice/my book/-");
    c = dav_state_coll(&st, "/alice/cal/", DAV_CAL);
    c->exp = 123;
    for (int i = 0; i < 3000; i++) {
        char h[64];
        snprintf(h, sizeof(h), "/alice/cal/%d.ics", i);
        it = dav_map_add(&c->items, h);
        ck_assert_ptr_nonnull(it);
        ck_assert_ptr_eq(dav_map_add(&c->items, h), it);
    }
    dav_map_del(&c->items, "/alice/cal/7.ics");
    ck_assert_ptr_null(dav_map_get(&c->items, "/alice/cal/7.ics"));
    ck_assert_uint_eq(c->items.n, 2999);

    ck_assert_int_eq(dav_state_write(&st, 42, &a), CMSB_OK);
    ck_assert_int_eq(dav_state_parse(&back, a.p, 42), 1);
    ck_assert_uint_eq(back.n, 2);
    ck_assert_str_eq(back.c[0].token, "http://t/1 2%");
    it = dav_map_get(&back.c[0].items, "/alice/my book/a.vcf");
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->etag, "\"e 1\"");
    ck_assert_str_eq(it->uids, "Cu1\nCu 2\n");
    ck_assert_ptr_nonnull(dav_map_get(&back.c[0].items, "/alice/my book/-"));
    ck_assert_int_eq(back.c[1].exp, 123);
    ck_assert_uint_eq(back.c[1].items.n, 2999);
    ck_assert_int_eq(dav_state_write(&back, 42, &b), CMSB_OK);
    ck_assert_uint_eq(a.len, b.len);
    dav_state_free(&back);
    /* another config: items kept (for deletions), tokens and etags not */
    ck_assert_int_eq(dav_state_parse(&back, a.p, 43), 0);
    ck_assert_ptr_null(back.c[0].token);
    it = dav_map_get(&back.c[0].items, "/alice/my book/a.vcf");
    ck_assert_ptr_null(it->etag);
    ck_assert_str_eq(it->uids, "Cu1\nCu 2\n");
    dav_state_free(&back);
    ck_assert_int_eq(dav_state_parse(&back, "garbage", 42), -1);
    ck_assert_int_eq(dav_state_parse(&back, "davsync 1 2a 0\nK z", 42), -1);
    ck_assert_uint_eq(back.n, 0);
    dav_state_free(&st);
    vc_buf_free(&a);
    vc_buf_free(&b);
}
END_TEST

static Suite *dav_xml_suite(void)
{
    Suite *s = suite_create("dav_xml");
    TCase *tc = tcase_create("multistatus");

    tcase_add_test(tc, test_parse_radicale_prefixes);
    tcase_add_test(tc, test_parse_other_prefixes_and_wrong_ns);
    tcase_add_test(tc, test_parse_507_and_errors);
    tcase_add_test(tc, test_cursor_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(dav_xml_suite)

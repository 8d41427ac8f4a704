/*
 * The DAV multistatus parser and the sync cursor, without a server:
 * namespaces by URI not prefix, 404 members, the 507 truncation marker,
 * DAV:error bodies, refused DOCTYPEs, and the cursor round trip; group
 * card lines in the cursor (member map, stale contacts, version 1
 * cursors) and malformed cursors (never a crash, nothing half-loaded);
 * the streaming listing parser: the same members as the tree parser
 * whatever the chunking, and the same refusals; streamed sync-collection
 * answers: card data, the sync token and the 507 marker as the tree
 * parser reads them, and the data budget.
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

/* Xandikos lists its reports without the <report> wrapper of RFC 3253
 * (supported-report/sync-collection): still sync-collection. A set with
 * neither is listed but without it. */
START_TEST(test_parse_xandikos_reports)
{
    static const char x[] =
        "<ns0:multistatus xmlns:ns0=\"DAV:\" "
        "xmlns:ns1=\"urn:ietf:params:xml:ns:carddav\"><ns0:response>"
        "<ns0:href>/alice/contacts/book/</ns0:href><ns0:propstat><ns0:status>"
        "HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:supported-report-set>"
        "<ns0:supported-report><ns1:addressbook-multiget /></ns0:supported-"
        "report><ns0:supported-report><ns0:expand-property /></ns0:supported-"
        "report><ns0:supported-report><ns0:sync-collection /></ns0:supported-"
        "report></ns0:supported-report-set></ns0:prop></ns0:propstat>"
        "</ns0:response><ns0:response><ns0:href>/b/</ns0:href><ns0:propstat>"
        "<ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop>"
        "<ns0:supported-report-set><ns0:supported-report><ns0:report>"
        "<ns0:expand-property/></ns0:report></ns0:supported-report>"
        "</ns0:supported-report-set></ns0:prop></ns0:propstat>"
        "</ns0:response></ns0:multistatus>";
    dav_ms ms;

    ck_assert_int_eq(dav_ms_parse(x, sizeof(x) - 1, &ms), CMSB_OK);
    ck_assert_uint_eq(ms.n, 2);
    ck_assert_uint_eq(ms.r[0].reports,
                      DAV_REP_LISTED | DAV_REP_SYNC | DAV_REP_MULTIGET);
    ck_assert_uint_eq(ms.r[1].reports, DAV_REP_LISTED);
    dav_ms_free(&ms);
}
END_TEST

/* The audit time rides on the header line; a cursor from before it
 * loads with none (the next sync audits). */
START_TEST(test_cursor_audit_time)
{
    dav_state st, back;
    vc_buf a = {0};

    memset(&st, 0, sizeof(st));
    st.disc_at = 1700000000;
    st.audit_at = 1700000500;
    ck_assert_ptr_nonnull(dav_state_coll(&st, "/b/", DAV_BOOK));
    ck_assert_int_eq(dav_state_write(&st, 7, &a), CMSB_OK);
    ck_assert_int_eq(dav_state_parse(&back, a.p, 7), 1);
    ck_assert_int_eq(back.audit_at, 1700000500);
    ck_assert_int_eq(back.disc_at, 1700000000);
    dav_state_free(&back);
    ck_assert_int_eq(
        dav_state_parse(&back, "davsync 2 7 5\nK a 1 0 /b/ t c\n", 7), 1);
    ck_assert_int_eq(back.audit_at, 0);
    ck_assert_int_eq(back.disc_at, 5);
    dav_state_free(&back);
    dav_state_free(&st);
    vc_buf_free(&a);
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

/* ---- group cards in the state ---- */

static dav_item *item(dav_coll *c, const char *href, const char *etag,
                      const char *lines)
{
    dav_item *it = dav_map_add(&c->items, href);

    ck_assert_ptr_nonnull(it);
    ck_assert_int_eq(dav_set(&it->etag, etag), CMSB_OK);
    ck_assert_int_eq(dav_set(&it->uids, lines), CMSB_OK);
    return it;
}

/* A book with two coded groups (anna is in both), members, one resource
 * that produced nothing, and a calendar. */
static void group_state(dav_state *st)
{
    dav_coll *c;

    memset(st, 0, sizeof(*st));
    c = dav_state_coll(st, "/u/book/", DAV_BOOK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(dav_set(&c->token, "tok"), CMSB_OK);
    ck_assert_int_eq(dav_set(&c->ctag, "ctag1"), CMSB_OK);
    item(c, "/u/book/anna.vcf", "\"a\"", "Canna\nAVIP\n");
    item(c, "/u/book/bob.vcf", "\"b\"", "Cbob\nAVIP\n");
    item(c, "/u/book/carl.vcf", "\"c\"", "Ccarl\n");
    item(c, "/u/book/vip.vcf", "\"v\"", "GVIP\nManna\nMbob\nMgone uid\n");
    item(c, "/u/book/fam.vcf", "\"f\"", "GFAMILY\nManna\n");
    item(c, "/u/book/empty.vcf", "\"e\"", NULL);
    c = dav_state_coll(st, "/u/cal/", DAV_CAL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(dav_set(&c->ctag, "ctag2"), CMSB_OK);
    item(c, "/u/cal/x.ics", "\"x\"", "Ex/20260101T090000Z\n");
    item(c, "/u/cal/none.ics", "\"n\"", NULL);
}

START_TEST(test_group_lines)
{
    dav_state st, back;
    vc_map map = {0};
    vc_buf a = {0}, out = {0};
    dav_hrefs h = {0};
    dav_item *it;

    group_state(&st);
    /* the member map: the lowest code when a uid is in several groups */
    ck_assert_int_eq(dav_groups_build(&st, &map), CMSB_OK);
    ck_assert_str_eq(vc_map_get(&map, "anna"), "FAMILY");
    ck_assert_str_eq(vc_map_get(&map, "bob"), "VIP");
    ck_assert_str_eq(vc_map_get(&map, "gone uid"), "VIP");
    ck_assert_ptr_null(vc_map_get(&map, "carl"));
    ck_assert_uint_eq(map.n, 3);
    /* stale: sent with VIP, the map says FAMILY; bob and carl are right */
    ck_assert_int_eq(
        dav_group_stale(dav_map_get(&st.c[0].items, "/u/book/anna.vcf"), &map),
        1);
    ck_assert_int_eq(
        dav_group_stale(dav_map_get(&st.c[0].items, "/u/book/bob.vcf"), &map),
        0);
    ck_assert_int_eq(
        dav_group_stale(dav_map_get(&st.c[0].items, "/u/book/carl.vcf"), &map),
        0);
    ck_assert_int_eq(dav_group_stale_hrefs(&st.c[0], &map, &h), CMSB_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_str_eq(h.v[0], "/u/book/anna.vcf");
    dav_hrefs_free(&h);
    /* several contacts in one resource, the stale one last or first */
    {
        dav_item x = {.uids = "Cbob\nAVIP\nCcarl\nCanna\nAVIP\n"};
        dav_item y = {.uids = "Cbob\nCanna\nAFAMILY\n"};
        dav_item z = {.uids = "Canna\nAFAMILY\nEev\nCbob\nAVIP\n"};
        ck_assert_int_eq(dav_group_stale(&x, &map), 1);
        ck_assert_int_eq(dav_group_stale(&y, &map), 1);
        ck_assert_int_eq(dav_group_stale(&z, &map), 0);
    }

    /* G/M lines compared in order, other lines ignored */
    ck_assert_int_eq(dav_group_same(NULL, NULL), 1);
    ck_assert_int_eq(dav_group_same(NULL, "Ca\nAVIP\n"), 1);
    ck_assert_int_eq(dav_group_same("GVIP\nMa\n", "Cx\nGVIP\nMa\n"), 1);
    ck_assert_int_eq(dav_group_same("GVIP\nMa\n", "GVIP\nMa\nMb\n"), 0);
    ck_assert_int_eq(dav_group_same("GVIP\nMa\n", "GSALES\nMa\n"), 0);
    ck_assert_int_eq(dav_group_same("GVIP\n", NULL), 0);
    ck_assert_int_eq(dav_group_any("Ca\nAVIP\n"), 0);
    ck_assert_int_eq(dav_group_any("Ca\nGVIP\n"), 1);
    ck_assert_int_eq(dav_group_any(NULL), 0);
    /* a resource that failed to parse keeps the groups it no longer gave */
    ck_assert_int_eq(vc_buf_str(&out, "Cx\nGFAMILY\nMc\n"), CMSB_OK);
    ck_assert_int_eq(
        dav_group_keep("GVIP\nMa\nMb\nCy\nGFAMILY\nMd\nGVIP\nMe\n", &out),
        CMSB_OK);
    ck_assert_str_eq(out.p, "Cx\nGFAMILY\nMc\nGVIP\nMa\nMb\nGVIP\nMe\n");

    /* round trip, version 2 */
    ck_assert_int_eq(dav_state_write(&st, 7, &a), CMSB_OK);
    ck_assert_msg(strncmp(a.p, "davsync 2 ", 10) == 0, "%s", a.p);
    ck_assert_msg(strstr(a.p, " GVIP Manna Mbob Mgone%20uid\n"), "%s", a.p);
    ck_assert_msg(strstr(a.p, " Canna AVIP\n"), "%s", a.p);
    ck_assert_int_eq(dav_state_parse(&back, a.p, 7), 1);
    it = dav_map_get(&back.c[0].items, "/u/book/vip.vcf");
    ck_assert_str_eq(it->uids, "GVIP\nManna\nMbob\nMgone uid\n");
    ck_assert_str_eq(dav_map_get(&back.c[0].items, "/u/book/anna.vcf")->uids,
                     "Canna\nAVIP\n");
    /* nothing forgotten: the empty resource keeps its etag */
    ck_assert_str_eq(dav_map_get(&back.c[0].items, "/u/book/empty.vcf")->etag,
                     "\"e\"");
    ck_assert_str_eq(back.c[0].ctag, "ctag1");
    dav_state_free(&back);

    /* the same as a version 1 cursor: loads; the book's resources that
     * produced nothing are fetched again (no etag, no ctag); calendars and
     * the rest are untouched */
    {
        dav_state v1;
        const char *c1 = "davsync 1 0000000000000007 5\n"
                         "K a 1 0 /u/book/ tok ctag1\n"
                         "I /u/book/anna.vcf \"a\" Canna\n"
                         "I /u/book/vip.vcf \"v\"\n"
                         "K c 1 9 /u/cal/ - ctag2\n"
                         "I /u/cal/none.ics \"n\"\n";
        ck_assert_int_eq(dav_state_parse(&v1, c1, 7), 1);
        ck_assert_ptr_null(
            dav_map_get(&v1.c[0].items, "/u/book/vip.vcf")->etag);
        ck_assert_ptr_null(v1.c[0].ctag);
        ck_assert_str_eq(v1.c[0].token, "tok");
        ck_assert_str_eq(dav_map_get(&v1.c[0].items, "/u/book/anna.vcf")->etag,
                         "\"a\"");
        ck_assert_str_eq(dav_map_get(&v1.c[1].items, "/u/cal/none.ics")->etag,
                         "\"n\"");
        ck_assert_str_eq(v1.c[1].ctag, "ctag2");
        dav_state_free(&v1);
        /* group fields did not exist in version 1 */
        ck_assert_int_eq(dav_state_parse(&v1,
                                         "davsync 1 7 5\nK a 1 0 /b/ - -\n"
                                         "I /b/g.vcf e GVIP Ma\n",
                                         7),
                         -1);
        ck_assert_int_eq(dav_state_parse(&v1, "davsync 3 7 5\n", 7), -1);
        ck_assert_int_eq(dav_state_parse(&v1, "davsync 0 7 5\n", 7), -1);
    }
    vc_map_free(&map);
    vc_buf_free(&a);
    vc_buf_free(&out);
    dav_state_free(&st);
}
END_TEST

START_TEST(test_cursor_malformed)
{
    /* each is refused whole: -1 and an empty state */
    static const char *bad[] = {
        "I /b/a.vcf e AVIP",         /* A first */
        "I /b/a.vcf e Manna",        /* M without G */
        "I /b/a.vcf e Cx Mx",        /* M after C */
        "I /b/a.vcf e Ex AVIP",      /* A after E */
        "I /b/a.vcf e GVIP AVIP",    /* A after G */
        "I /b/a.vcf e Gvip Ma",      /* not a code */
        "I /b/a.vcf e G Ma",         /* empty code */
        "I /b/a.vcf e GV%20IP Ma",   /* not a code */
        "I /b/a.vcf e Cx Av%0A",     /* not a code */
        "I /b/a.vcf e C",            /* empty uid */
        "I /b/a.vcf e Ca%0Ab",       /* line break in a uid */
        "I /b/a.vcf e GVIP Ma%0AGX", /* line break in a member */
        "I /b/a.vcf e Xfoo",         /* unknown tag */
        "I /b/a.vcf e -",            /* empty field */
        "I /b/a.vcf",                /* no etag */
        "I /b/a.vcf e GABCDEFGHIJKLMNOPQRSTUVWXYZ012345", /* code too long */
        "K x 1 0 /b/ - -",                                /* bad kind */
        "K a 1 0 /b/ -",                                  /* short K */
        "Q what",                                         /* unknown line */
    };
    char text[512], longuid[TSPS_UID_MAX + 40];
    dav_state st;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "davsync 2 7 0\nK a 1 0 /b/ t c\n%s\n",
                 bad[i]);
        ck_assert_msg(dav_state_parse(&st, text, 7) == -1, "accepted: %s",
                      bad[i]);
        ck_assert_uint_eq(st.n, 0);
        dav_state_free(&st);
    }
    /* an item before any collection */
    ck_assert_int_eq(dav_state_parse(&st, "davsync 2 7 0\nI /b/a e Cx\n", 7),
                     -1);
    /* a uid longer than any the parser makes */
    memset(longuid, 'u', sizeof(longuid) - 1);
    longuid[sizeof(longuid) - 1] = '\0';
    snprintf(text, sizeof(text),
             "davsync 2 7 0\nK a 1 0 /b/ t c\nI /b/a e C%s\n", longuid);
    ck_assert_int_eq(dav_state_parse(&st, text, 7), -1);
    /* what is accepted */
    ck_assert_int_eq(
        dav_state_parse(&st,
                        "davsync 2 7 0\nK a 1 0 /b/ t c\n"
                        "I /b/a e Ca AVIP Cb GVIP Ma Mb GX_1-2 Mc Ed\n",
                        7),
        1);
    ck_assert_str_eq(dav_map_get(&st.c[0].items, "/b/a")->uids,
                     "Ca\nAVIP\nCb\nGVIP\nMa\nMb\nGX_1-2\nMc\nEd\n");
    dav_state_free(&st);
}
END_TEST

/* The cursor's lines, sorted (item order follows the hash buckets). */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *save = NULL, **v = NULL, *out;
    size_t n = 0, len = 0;

    ck_assert_ptr_nonnull(copy);
    for (char *l = strtok_r(copy, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        v = realloc(v, (n + 1) * sizeof(*v));
        ck_assert_ptr_nonnull(v);
        v[n++] = l;
        len += strlen(l) + 1;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    out = calloc(1, len + 1);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        strcat(out, v[i]);
        strcat(out, "\n");
    }
    free(v);
    free(copy);
    return out;
}

/* Parse any text: no crash; when it loads, what is written back loads to
 * the same (round trip stable). */
static void parse_any(const char *text)
{
    dav_state st, again;
    vc_buf a = {0}, b = {0};
    int k = dav_state_parse(&st, text, 7);

    ck_assert(k >= -1 && k <= 1);
    if (k < 0) {
        ck_assert_uint_eq(st.n, 0);
        return;
    }
    ck_assert_int_eq(dav_state_write(&st, 7, &a), CMSB_OK);
    ck_assert_int_eq(dav_state_parse(&again, a.p, 7), 1);
    ck_assert_int_eq(dav_state_write(&again, 7, &b), CMSB_OK);
    {
        char *x = sorted_lines(a.p), *y = sorted_lines(b.p);
        ck_assert_str_eq(x, y);
        free(x);
        free(y);
    }
    /* the helpers on whatever loaded */
    {
        vc_map map = {0};
        dav_hrefs h = {0};
        ck_assert_int_eq(dav_groups_build(&again, &map), CMSB_OK);
        for (size_t i = 0; i < again.n; i++)
            ck_assert_int_eq(dav_group_stale_hrefs(&again.c[i], &map, &h),
                             CMSB_OK);
        vc_map_free(&map);
        dav_hrefs_free(&h);
    }
    dav_state_free(&st);
    dav_state_free(&again);
    vc_buf_free(&a);
    vc_buf_free(&b);
}

START_TEST(test_cursor_truncated_and_mutated)
{
    static const char subst[] = {' ', '%', '\n', 'A', 'C', 'G',
                                 'M', '-', '1',  'K', 'I', '\0'};
    dav_state st;
    vc_buf a = {0};
    char *text;

    group_state(&st);
    ck_assert_int_eq(dav_state_write(&st, 7, &a), CMSB_OK);
    dav_state_free(&st);
    text = malloc(a.len + 1);
    ck_assert_ptr_nonnull(text);
    /* every truncation */
    for (size_t n = 0; n <= a.len; n++) {
        memcpy(text, a.p, n);
        text[n] = '\0';
        parse_any(text);
    }
    /* every byte replaced by characters that mean something here */
    for (size_t i = 0; i < a.len; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            memcpy(text, a.p, a.len + 1);
            text[i] = subst[k];
            parse_any(text);
        }
    }
    free(text);
    vc_buf_free(&a);
}
END_TEST

/* ---- the streaming listing parser (dav_stream.c) ---- */

typedef struct got {
    char lines[4096];
    int n, stop_at;
} got;

static int on_got(void *arg, dav_resp *r)
{
    got *g = arg;
    size_t k = strlen(g->lines);
    snprintf(g->lines + k, sizeof(g->lines) - k, "%s|%d|%s\n", r->href,
             r->status, r->etag != NULL ? r->etag : "-");
    return ++g->n == g->stop_at;
}

/* The document fed in chunks of `step` bytes (0 = whole). */
static int stream(const char *xml, size_t step, got *g)
{
    dav_stream *st = NULL;
    size_t len = strlen(xml);
    int rc = dav_stream_open(&st, on_got, g);

    ck_assert_int_eq(rc, CMSB_OK);
    for (size_t i = 0; i < len && rc == CMSB_OK;) {
        size_t k = step == 0 || len - i < step ? len - i : step;
        rc = dav_stream_feed(st, xml + i, k);
        i += k;
    }
    if (rc == CMSB_OK)
        rc = dav_stream_finish(st);
    dav_stream_free(st);
    return rc;
}

/* What dav_ms_parse gives, in the same lines (href|status|etag). */
static void tree_lines(const char *xml, char *out, size_t cap)
{
    dav_ms ms = parse_ok(xml);
    out[0] = '\0';
    for (size_t i = 0; i < ms.n; i++) {
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "%s|%d|%s\n", ms.r[i].href, ms.r[i].status,
                 ms.r[i].etag != NULL ? ms.r[i].etag : "-");
    }
    dav_ms_free(&ms);
}

START_TEST(test_stream_matches_tree)
{
    const char *docs[] = {
        /* sabre/dav: d: prefix, the collection's 404 getetag, cards */
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus "
        "xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\"><d:response>"
        "<d:href>/dav.php/addressbooks/alice/contacts/</d:href><d:propstat>"
        "<d:prop><d:getetag/></d:prop><d:status>HTTP/1.1 404 Not Found"
        "</d:status></d:propstat></d:response><d:response><d:href>"
        "/dav.php/addressbooks/alice/contacts/c1.vcf</d:href><d:propstat>"
        "<d:prop><d:getetag>&quot;fdae&quot;</d:getetag></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        "<d:response><d:href>http://h:8/dav.php/x/c%202.vcf</d:href>"
        "<d:propstat><d:prop><d:getetag>\n  \"e2\"  \n</d:getetag></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        "</d:multistatus>",
        /* Radicale: default namespace; a deleted member; a look-alike
         * getetag in another namespace */
        "<multistatus xmlns=\"DAV:\" xmlns:x=\"urn:x\"><response>"
        "<href>/alice/book/a.vcf</href><propstat><prop><x:getetag>no"
        "</x:getetag><getetag>\"e1\"</getetag></prop><status>HTTP/1.1 200 "
        "OK</status></propstat></response><response><href>/alice/book/b.vcf"
        "</href><status>HTTP/1.1 404 Not Found</status></response>"
        "</multistatus>",
        /* no status in the propstat: 2xx; CDATA etag */
        "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/b/c.vcf"
        "</D:href><D:propstat><D:prop><D:getetag><![CDATA[\"e3\"]]>"
        "</D:getetag></D:prop></D:propstat></D:response></D:multistatus>",
    };
    const size_t steps[] = {0, 1, 7, 64};

    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        char want[4096];
        tree_lines(docs[d], want, sizeof(want));
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            got g;
            memset(&g, 0, sizeof(g));
            ck_assert_int_eq(stream(docs[d], steps[k], &g), CMSB_OK);
            ck_assert_msg(strcmp(g.lines, want) == 0,
                          "doc %zu step %zu:\n%s\nwant:\n%s", d, steps[k],
                          g.lines, want);
        }
    }
}
END_TEST

START_TEST(test_stream_refuses)
{
    got g;
    char big[20200];

    memset(&g, 0, sizeof(g));
    /* a DOCTYPE (entities), another root, a cut-off answer, not XML */
    ck_assert_int_eq(
        stream("<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY e \"x\">]>"
               "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>&e;"
               "</d:href></d:response></d:multistatus>",
               0, &g),
        CMSB_EPARSE);
    ck_assert_int_eq(g.n, 0);
    ck_assert_int_eq(stream("<d:error xmlns:d=\"DAV:\"/>", 0, &g), CMSB_EPARSE);
    ck_assert_int_eq(
        stream("<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/a"
               "</d:href></d:response><d:response><d:hr",
               5, &g),
        CMSB_EPARSE);
    ck_assert_int_eq(g.n, 1); /* what was complete was handed out */
    ck_assert_int_eq(stream("HTTP/1.1 200 OK", 0, &g), CMSB_EPARSE);
    ck_assert_int_eq(stream("", 0, &g), CMSB_EPARSE);
    /* an href longer than any server sends */
    memset(&g, 0, sizeof(g));
    memset(big, 0, sizeof(big));
    snprintf(big, sizeof(big),
             "<d:multistatus xmlns:d=\"DAV:\"><d:response>"
             "<d:href>/");
    memset(big + strlen(big), 'a', 17000);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(stream(big, 4096, &g), CMSB_EPARSE);
    /* the callback stops it */
    memset(&g, 0, sizeof(g));
    g.stop_at = 1;
    ck_assert_int_eq(
        stream("<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/a"
               "</d:href></d:response><d:response><d:href>/b</d:href>"
               "</d:response></d:multistatus>",
               0, &g),
        CMSB_ECANCELED);
    ck_assert_int_eq(g.n, 1);
}
END_TEST

/* ---- streamed sync-collection answers with card data ---- */

static int count_lines_with(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

typedef struct gotd {
    char lines[8192];
    int n;
} gotd;

static int on_gotd(void *arg, dav_resp *r)
{
    gotd *g = arg;
    size_t k = strlen(g->lines);
    snprintf(g->lines + k, sizeof(g->lines) - k, "%s|%d|%s|%s\n", r->href,
             r->status, r->etag != NULL ? r->etag : "-",
             r->data != NULL ? r->data : "-");
    g->n++;
    return 0;
}

static int stream_data(const char *xml, size_t step, size_t budget, gotd *g,
                       char *token, size_t cap)
{
    dav_stream *st = NULL;
    size_t len = strlen(xml);
    int rc = dav_stream_open_data(&st, on_gotd, g, budget);

    ck_assert_int_eq(rc, CMSB_OK);
    for (size_t i = 0; i < len && rc == CMSB_OK;) {
        size_t k = step == 0 || len - i < step ? len - i : step;
        rc = dav_stream_feed(st, xml + i, k);
        i += k;
    }
    if (rc == CMSB_OK)
        rc = dav_stream_finish(st);
    snprintf(token, cap, "%s",
             dav_stream_sync_token(st) != NULL ? dav_stream_sync_token(st)
                                               : "-");
    dav_stream_free(st);
    return rc;
}

static const char *sync_docs[] = {
    /* Radicale: default namespace, CR: for CardDAV, a deleted member, the
     * data escaped; the token last */
    "<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\" "
    "xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><response><href>"
    "/alice/book/a.vcf</href><propstat><prop><getetag>\"e1\"</getetag>"
    "<CR:address-data>BEGIN:VCARD\r\nFN:A &amp; B &lt;x&gt;\r\nEND:VCARD"
    "\r\n</CR:address-data></prop><status>HTTP/1.1 200 OK</status>"
    "</propstat></response><response><href>/alice/book/b.vcf</href>"
    "<status>HTTP/1.1 404 Not Found</status></response><response><href>"
    "/alice/book/c.vcf</href><propstat><prop><getetag>\"e3\"</getetag>"
    "<CR:address-data><![CDATA[BEGIN:VCARD\nFN:C\nEND:VCARD\n]]>"
    "</CR:address-data></prop><status>HTTP/1.1 200 OK</status></propstat>"
    "</response><sync-token>\n http://radicale.org/ns/sync/abc \n"
    "</sync-token></multistatus>",
    /* Xandikos: address-data in a 404 propstat (no data), the token first;
     * a calendar-data in another member; a look-alike in another
     * namespace is not data */
    "<ns0:multistatus xmlns:ns0=\"DAV:\" xmlns:ns1=\"urn:ietf:params:xml:"
    "ns:carddav\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:x=\"urn:x"
    "\"><ns0:sync-token>tok1</ns0:sync-token><ns0:response><ns0:href>"
    "/alice/contacts/book/a.vcf</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 "
    "200 OK</ns0:status><ns0:prop><ns0:getetag>\"x1\"</ns0:getetag>"
    "<x:address-data>no</x:address-data></ns0:prop></ns0:propstat>"
    "<ns0:propstat><ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop>"
    "<ns1:address-data/></ns0:prop></ns0:propstat></ns0:response>"
    "<ns0:response><ns0:href>/alice/cal/e.ics</ns0:href><ns0:propstat>"
    "<ns0:prop><c:calendar-data>BEGIN:VCALENDAR\nEND:VCALENDAR\n"
    "</c:calendar-data><ns0:getetag>\"x2\"</ns0:getetag></ns0:prop>"
    "</ns0:propstat></ns0:response></ns0:multistatus>",
    /* a 507 page: the marker on the collection */
    "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/b/1.vcf"
    "</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop>"
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    "<d:response><d:href>/b/</d:href><d:status>HTTP/1.1 507 Insufficient "
    "Storage</d:status></d:response><d:sync-token>t5</d:sync-token>"
    "</d:multistatus>",
};

/* The tree parser's members in the same lines, with the data; its token. */
static void tree_data_lines(const char *xml, char *out, size_t cap, char *token,
                            size_t tcap, int *truncated)
{
    dav_ms ms = parse_ok(xml);
    out[0] = '\0';
    for (size_t i = 0; i < ms.n; i++) {
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "%s|%d|%s|%s\n", ms.r[i].href,
                 ms.r[i].status, ms.r[i].etag != NULL ? ms.r[i].etag : "-",
                 ms.r[i].data != NULL ? ms.r[i].data : "-");
    }
    snprintf(token, tcap, "%s", ms.sync_token ? ms.sync_token : "-");
    *truncated = ms.truncated;
    dav_ms_free(&ms);
}

START_TEST(test_stream_sync_data)
{
    const size_t steps[] = {0, 1, 7, 64};

    for (size_t d = 0; d < sizeof(sync_docs) / sizeof(sync_docs[0]); d++) {
        char want[8192], wtok[128];
        int trunc;
        tree_data_lines(sync_docs[d], want, sizeof(want), wtok, sizeof(wtok),
                        &trunc);
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            gotd g;
            char tok[128], w2[8192];
            memset(&g, 0, sizeof(g));
            ck_assert_int_eq(stream_data(sync_docs[d], steps[k], 1 << 20, &g,
                                         tok, sizeof(tok)),
                             CMSB_OK);
            /* the stream hands the 507 marker out (the caller skips it);
             * the tree parser drops it and sets truncated */
            snprintf(w2, sizeof(w2), "%s%s", want,
                     trunc ? "/b/|507|-|-\n" : "");
            ck_assert_msg(strcmp(g.lines, w2) == 0,
                          "doc %zu step %zu:\n%s\nwant:\n%s", d, steps[k],
                          g.lines, w2);
            ck_assert_str_eq(tok, wtok);
        }
    }
    /* what the documents hold, spelled out */
    {
        gotd g;
        char tok[128];
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(
            stream_data(sync_docs[0], 3, 1 << 20, &g, tok, sizeof(tok)),
            CMSB_OK);
        ck_assert_str_eq(tok, "http://radicale.org/ns/sync/abc");
        ck_assert_ptr_nonnull(
            strstr(g.lines, "/alice/book/a.vcf|0|\"e1\"|BEGIN:VCARD\nFN:A "
                            "& B <x>\nEND:VCARD\n\n"));
        ck_assert_ptr_nonnull(strstr(g.lines, "/alice/book/b.vcf|404|-|-\n"));
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(
            stream_data(sync_docs[1], 0, 1 << 20, &g, tok, sizeof(tok)),
            CMSB_OK);
        ck_assert_str_eq(tok, "tok1");
        ck_assert_ptr_nonnull(
            strstr(g.lines, "/alice/contacts/book/a.vcf|0|\"x1\"|-\n"));
        ck_assert_ptr_nonnull(
            strstr(g.lines, "/alice/cal/e.ics|0|\"x2\"|BEGIN:VCALENDAR\n"));
    }
}
END_TEST

/* The data handed out stays within the budget: a member whose data would
 * go over it comes without (its etag still there); 0 = no data at all. */
START_TEST(test_stream_data_budget)
{
    /* as XML hands it out: CR LF read as LF (XML 1.0, 2.11) */
    const char *a = "BEGIN:VCARD\nFN:A & B <x>\nEND:VCARD\n";
    const char *c = "BEGIN:VCARD\nFN:C\nEND:VCARD\n";
    const size_t steps[] = {0, 1, 7, 64};

    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        gotd g;
        char tok[128];
        /* room for a's data, not for c's as well */
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(stream_data(sync_docs[0], steps[k],
                                     strlen(a) + strlen(c) - 1, &g, tok,
                                     sizeof(tok)),
                         CMSB_OK);
        ck_assert_int_eq(g.n, 3);
        ck_assert_ptr_nonnull(strstr(g.lines, "a.vcf|0|\"e1\"|BEGIN:VCARD"));
        ck_assert_ptr_nonnull(strstr(g.lines, "c.vcf|0|\"e3\"|-\n"));
        ck_assert_str_eq(tok, "http://radicale.org/ns/sync/abc");
        /* room for c only: a is dropped, c still fits after it */
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(stream_data(sync_docs[0], steps[k], strlen(c), &g, tok,
                                     sizeof(tok)),
                         CMSB_OK);
        ck_assert_ptr_nonnull(strstr(g.lines, "a.vcf|0|\"e1\"|-\n"));
        ck_assert_ptr_nonnull(strstr(g.lines, "c.vcf|0|\"e3\"|BEGIN:VCARD"));
        /* exactly both */
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(stream_data(sync_docs[0], steps[k],
                                     strlen(a) + strlen(c), &g, tok,
                                     sizeof(tok)),
                         CMSB_OK);
        ck_assert_int_eq(count_lines_with(g.lines, "|BEGIN:VCARD"), 2);
        /* none */
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(
            stream_data(sync_docs[0], steps[k], 0, &g, tok, sizeof(tok)),
            CMSB_OK);
        ck_assert_int_eq(count_lines_with(g.lines, "|BEGIN:VCARD"), 0);
        ck_assert_int_eq(g.n, 3);
    }
    /* markup inside the data: handed out without it (fetched instead) */
    {
        gotd g;
        char tok[128];
        memset(&g, 0, sizeof(g));
        ck_assert_int_eq(
            stream_data("<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:"
                        "params:xml:ns:carddav\"><d:response><d:href>/b/1.vcf"
                        "</d:href><d:propstat><d:prop><d:getetag>\"1\""
                        "</d:getetag><c:address-data>BEGIN<d:x/>:VCARD"
                        "</c:address-data></d:prop></d:propstat></d:response>"
                        "</d:multistatus>",
                        0, 1 << 20, &g, tok, sizeof(tok)),
            CMSB_OK);
        ck_assert_str_eq(g.lines, "/b/1.vcf|0|\"1\"|-\n");
    }
}
END_TEST

static Suite *dav_xml_suite(void)
{
    Suite *s = suite_create("dav_xml");
    TCase *tc = tcase_create("multistatus");

    tcase_add_test(tc, test_parse_radicale_prefixes);
    tcase_add_test(tc, test_parse_other_prefixes_and_wrong_ns);
    tcase_add_test(tc, test_parse_507_and_errors);
    tcase_add_test(tc, test_parse_xandikos_reports);
    tcase_add_test(tc, test_cursor_audit_time);
    tcase_add_test(tc, test_cursor_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("groups");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_group_lines);
    tcase_add_test(tc, test_cursor_malformed);
    tcase_add_test(tc, test_cursor_truncated_and_mutated);
    tcase_add_test(tc, test_stream_matches_tree);
    tcase_add_test(tc, test_stream_refuses);
    tcase_add_test(tc, test_stream_sync_data);
    tcase_add_test(tc, test_stream_data_budget);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(dav_xml_suite)

/* The carddav: and caldav: fixtures of the adapter conformance suite
 * (tests/unit/check_cmsb_conformance.c, built again by tests/dav.cmake as
 * check_dav_conformance). One Radicale without auth serves the whole run;
 * each test gets its own user folder and address book (a caldav: source
 * given a collection URL syncs it by its type). The "file" of a contact is
 * Radicale's own storage file, so the byte-for-byte write check looks at
 * what the server keeps. */
#include "dav_harness.h"

static th_server conf_sv;

/* the test's folder name (tsps-test-XXXXXX) is its user */
static const char *conf_user(const char *dir)
{
    const char *b = strrchr(dir, '/');
    return b != NULL ? b + 1 : dir;
}

static void conf_book(const char *dir)
{
    char path[300];
    snprintf(path, sizeof(path), "/%s/book/", conf_user(dir));
    /* 201 the first time; 405 when it exists already */
    th_http(&conf_sv, conf_user(dir), "MKCOL", path, "application/xml",
            "<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
            "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop>"
            "<D:resourcetype><D:collection/><C:addressbook/>"
            "</D:resourcetype></D:prop></D:set></D:mkcol>",
            NULL, NULL, 0);
}

static void card_uri(const char *dir, char *buf, size_t len)
{
    conf_book(dir);
    snprintf(buf, len, "carddav:http://127.0.0.1:%d/%s/book/", conf_sv.port,
             conf_user(dir));
}

/* caldav: the address book and a calendar, both configured */
static void cal_uri(const char *dir, char *buf, size_t len)
{
    char path[300];

    conf_book(dir);
    snprintf(path, sizeof(path), "/%s/cal/", conf_user(dir));
    th_http(&conf_sv, conf_user(dir), "MKCALENDAR", path, "application/xml",
            "<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" "
            "xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>",
            NULL, NULL, 0);
    snprintf(buf, len,
             "caldav:http://127.0.0.1:%d/%s/book/ http://127.0.0.1:%d/%s/cal/",
             conf_sv.port, conf_user(dir), conf_sv.port, conf_user(dir));
}

/* a weekly meeting, 4 Mondays from 2026-01-05 09:00Z, attendee
 * <uid>@example.com */
static void dav_meeting(const char *dir, const char *uid)
{
    char path[300], text[1024];
    long st;

    snprintf(path, sizeof(path), "/%s/cal/%s-meeting.ics", conf_user(dir), uid);
    snprintf(text, sizeof(text),
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tsps//test//EN\r\n"
             "BEGIN:VEVENT\r\nUID:%s-meeting\r\nDTSTAMP:20260101T000000Z\r\n"
             "SUMMARY:Weekly\r\nDTSTART:20260105T090000Z\r\n"
             "DTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
             "ATTENDEE:mailto:%s@example.com\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n",
             uid, uid);
    st = th_http(&conf_sv, conf_user(dir), "PUT", path,
                 "text/calendar; charset=utf-8", text, NULL, NULL, 0);
    ck_assert_msg(st == 201 || st == 204, "PUT %s -> %ld", path, st);
}

static void dav_put(const char *dir, const char *uid, const char *name,
                    const char *number, const char *code)
{
    char extra[200];
    conf_book(dir);
    snprintf(extra, sizeof(extra), "NOTE:keep these bytes\\, please\r\n%s%s%s",
             code[0] ? "X-TSPS-CODE:" : "", code, code[0] ? "\r\n" : "");
    th_put_card(&conf_sv, conf_user(dir), "book", uid, name, number, extra);
}

static void dav_del(const char *dir, const char *uid)
{
    char file[200];
    snprintf(file, sizeof(file), "%s.vcf", uid);
    th_delete(&conf_sv, conf_user(dir), "book", file);
}

static void dav_file(const char *dir, const char *uid, char *buf, size_t len)
{
    snprintf(buf, len, "%s/collections/collection-root/%s/book/%s.vcf",
             conf_sv.dir, conf_user(dir), uid);
}

#define CMSB_CONFORMANCE_FIXTURES                                              \
    {.name = "carddav",                                                        \
     .ad = &cmsb_carddav_adapter,                                              \
     .uri = card_uri,                                                          \
     .put = dav_put,                                                           \
     .del = dav_del,                                                           \
     .file_of = dav_file},                                                     \
        {.name = "caldav",                                                     \
         .ad = &cmsb_caldav_adapter,                                           \
         .uri = cal_uri,                                                       \
         .put = dav_put,                                                       \
         .del = dav_del,                                                       \
         .file_of = dav_file,                                                  \
         .put_meeting = dav_meeting},

#define CMSB_CONFORMANCE_MAIN 1
static Suite *conformance_suite(void);

int main(void)
{
    conf_sv.noauth = 1;
    return th_run_suite(&conf_sv, conformance_suite);
}

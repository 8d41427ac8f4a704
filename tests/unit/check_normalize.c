/* Check suite for the E.164 normaliser: tsps_dialplan_for_region() and
 * tsps_normalize(). */
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "regions.h" /* libtsps internal: table consistency checks */
#include "tsps/tsps.h"
#include "tsps_check.h"

#define OK  TSPS_OK
#define BAD TSPS_ENUMBER
#define E   TSPS_NUM_E164
#define W   TSPS_NUM_WITHHELD
#define L   TSPS_NUM_LOCAL

typedef struct ncase {
    const char *region;
    const char *in;
    int rc;
    int kind;
    const char *e164; /* expected e164 field (digits for LOCAL) */
    const char *ext;
} ncase;

/* clang-format off */
static const ncase cases[] = {
    /* Germany: open plan, trunk 0, intl 00 */
    {"DE", "+49 30 1234567",            OK, E, "+49301234567", ""},
    {"DE", "0049 30 1234567",           OK, E, "+49301234567", ""},
    {"DE", "030 1234567",               OK, E, "+49301234567", ""},
    {"DE", "030/123 45-67",             OK, E, "+49301234567", ""},
    {"DE", "(030) 123.4567",            OK, E, "+49301234567", ""},
    {"DE", "+49 (0)30 1234567",         OK, E, "+49301234567", ""},
    {"DE", "0049 (0) 30 1234567",       OK, E, "+49301234567", ""},
    {"DE", "  0171 1234567  ",          OK, E, "+491711234567", ""},
    {"DE", "1234567",                   OK, L, "1234567", ""},
    {"DE", "030 1234567 x12",           OK, E, "+49301234567", "12"},
    {"DE", "030 1234567 X 12",          OK, E, "+49301234567", "12"},
    {"DE", "030 1234567 ext. 12",       OK, E, "+49301234567", "12"},
    {"DE", "030 1234567 Ext: 12",       OK, E, "+49301234567", "12"},
    {"DE", "030 1234567;ext=12",        OK, E, "+49301234567", "12"},
    {"DE", "030 1234567#12",            OK, E, "+49301234567", "12"},
    {"DE", "030 1234567 extension 12",  OK, E, "+49301234567", "12"},
    {"DE", "030 1234567,,12",           OK, E, "+49301234567", "12"},
    {"DE", "030\xc2\xa0" "1234567",     OK, E, "+49301234567", ""},
    {"DE", "030\xe2\x80\x93" "1234567", OK, E, "+49301234567", ""},
    {"DE", "\xef\xbc\x8b\xef\xbc\x94\xef\xbc\x99 30 1234567",
                                        OK, E, "+49301234567", ""},
    {"DE", "tel:+49-30-1234567",        OK, E, "+49301234567", ""},
    {"DE", "TEL:+49-30-1234567;ext=99", OK, E, "+49301234567", "99"},
    {"DE", "tel:030-1234567;phone-context=example.com",
                                        OK, E, "+49301234567", ""},
    {"DE", "tel:%2B49301234567",        OK, E, "+49301234567", ""},
    {"DE", "sip:+49301234567@example.com;user=phone",
                                        OK, E, "+49301234567", ""},
    {"DE", "sips:030123456@pbx.example.com",
                                        OK, E, "+4930123456", ""},
    {"DE", "sip:+49301234567;ext=5@gw.example.com;user=phone",
                                        OK, E, "+49301234567", "5"},
    {"DE", "sip:+49301234567:secret@gw.example.com",
                                        OK, E, "+49301234567", ""},
    {"DE", "<sip:+49301234567@example.com>",
                                        OK, E, "+49301234567", ""},
    {"DE", "\"Anna\" <sip:030-1234567@example.com>;tag=a1",
                                        OK, E, "+49301234567", ""},
    {"DE", "+49 30 12345678901234",     BAD, 0, "", ""},
    {"DE", "+49 123",                   BAD, 0, "", ""},
    /* vanity numbers: three letters or more after three digits become
     * keypad digits (libphonenumber's rule); fewer are not a number */
    {"DE", "030 CALL NOW",              OK, E, "+49302255669", ""},
    {"DE", "0800 FLOWERS",              OK, E, "+498003569377", ""},
    {"US", "1-800-MY-APPLE",            OK, E, "+18006927753", ""},
    {"US", "1-800-my-apple",            OK, E, "+18006927753", ""},
    {"US", "+1 800 FLOWERS x12",        OK, E, "+18003569377", "12"},
    {"US", "1-800-XEROX-99",            OK, E, "+18009376999", ""},
    {"US", "1-800-NEXT-DAY",            OK, E, "+18006398329", ""},
    {"DE", "030 123456 ab",             BAD, 0, "", ""},
    {"DE", "CALL 0800 123",             BAD, 0, "", ""},
    {"DE", "03 CALL NOW",               BAD, 0, "", ""},
    {"DE", "+999 1234567",              BAD, 0, "", ""},
    {"DE", "+0 30 1234567",             BAD, 0, "", ""},
    {"DE", "0",                         BAD, 0, "", ""},
    {"DE", "+",                         BAD, 0, "", ""},
    {"DE", "---",                       BAD, 0, "", ""},
    {"DE", "++49 30 1234567",           OK, E, "+49301234567", ""},
    {"DE", "+\xef\xbc\x8b" "49 30 1234567", OK, E, "+49301234567", ""},
    {"DE", "++",                        BAD, 0, "", ""},
    {"DE", "030 + 1234567",             BAD, 0, "", ""},
    {"DE", "030 1234567 x",             BAD, 0, "", ""},
    {"DE", "030 1234567 x12a",          BAD, 0, "", ""},
    {"DE", "030 1234567 x12 x13",       BAD, 0, "", ""},
    {"DE", "030 1234567 x1234567890123456", BAD, 0, "", ""},
    {"DE", "030*1234567",               BAD, 0, "", ""},
    {"DE", "sip:alice@example.com",     BAD, 0, "", ""},
    {"DE", "sip:example.com",           BAD, 0, "", ""},
    /* a URI without a number is not a number (docs: rule 4), only a
     * withheld word is withheld */
    {"DE", "sip:@example.com",          BAD, 0, "", ""},
    {"DE", "<sip:@example.com>;tag=1",  BAD, 0, "", ""},
    {"DE", "sips:@example.com;user=phone", BAD, 0, "", ""},
    {"DE", "tel:",                      BAD, 0, "", ""},
    {"DE", "TEL:;phone-context=+49",    BAD, 0, "", ""},
    {"DE", "tel:%20",                   BAD, 0, "", ""},
    /* RFC 3966 phone-context: a global context makes a local number
     * global; a domain context leaves it in the plan */
    {"DE", "tel:1234567;phone-context=+49-30",
                                        OK, E, "+49301234567", ""},
    {"GB", "tel:1234567;phone-context=+49-30",
                                        OK, E, "+49301234567", ""},
    {"DE", "tel:7946-0000;ext=5;phone-context=+44-20",
                                        OK, E, "+442079460000", "5"},
    {"DE", "sip:1234567;phone-context=+49.30@gw.example.com;user=phone",
                                        OK, E, "+49301234567", ""},
    {"DE", "tel:+49-30-1234567;phone-context=+1",
                                        OK, E, "+49301234567", ""},
    {"DE", "tel:1234567;phone-context=+49-3x",
                                        BAD, 0, "", ""},
    {"DE", "tel:1234567;phone-context=+",
                                        BAD, 0, "", ""},
    /* extension words in the regions' languages keep the extension */
    {"DE", "030 1234567 Durchwahl 12",  OK, E, "+49301234567", "12"},
    {"DE", "030 1234567 DW 12",         OK, E, "+49301234567", "12"},
    {"CH", "044 668 18 00 App. 12",     OK, E, "+41446681800", "12"},
    {"FR", "01 23 45 67 89 poste 12",   OK, E, "+33123456789", "12"},
    {"IT", "06 1234 5678 interno 12",   OK, E, "+390612345678", "12"},
    {"IT", "06 1234 5678 int. 12",      OK, E, "+390612345678", "12"},
    {"ES", "912 34 56 78 extensi\xc3\xb3n 12",
                                        OK, E, "+34912345678", "12"},
    {"AR", "011 4123-4567 anexo 12",    OK, E, "+541141234567", "12"},
    {"BR", "(11) 2345-6789 ramal 12",   OK, E, "+551123456789", "12"},
    {"NL", "020 123 4567 toestel 12",   OK, E, "+31201234567", "12"},
    {"SE", "08-123 456 78 ankn. 12",    OK, E, "+46812345678", "12"},
    {"DK", "32 12 34 56 lokal 12",      OK, E, "+4532123456", "12"},
    {"PL", "22 123 45 67 wewn. 12",     OK, E, "+48221234567", "12"},
    {"CZ", "222 123 456 kl. 12",        OK, E, "+420222123456", "12"},
    {"HU", "06 1 234 5678 mell\xc3\xa9k 12",
                                        OK, E, "+3612345678", "12"},
    {"TR", "0212 345 67 89 dahili 12",  OK, E, "+902123456789", "12"},
    {"RU", "8 495 123-45-67 \xd0\xb4\xd0\xbe\xd0\xb1. 12",
                                        OK, E, "+74951234567", "12"},
    {"JP", "03-1234-5678 \xe5\x86\x85\xe7\xb7\x9a 12",
                                        OK, E, "+81312345678", "12"},
    {"KR", "02-123-4567 \xeb\x82\xb4\xec\x84\xa0 12",
                                        OK, E, "+8221234567", "12"},
    {"DE", "030 1234567 Durchwahl",     BAD, 0, "", ""},
    {"DE", "030 1234567 \xe5\x86\x85",   BAD, 0, "", ""},
    /* the plan's country code written without "+": taken as such when
     * the digits are too long for a national number (libphonenumber) */
    {"GB", "44 20 7946 0000",           OK, E, "+442079460000", ""},
    {"GB", "44 020 7946 0000",          OK, E, "+442079460000", ""},
    {"FR", "33 1 23 45 67 89",          OK, E, "+33123456789", ""},
    {"DE", "49 30 1234567",             OK, E, "+49301234567", ""},
    {"DE", "49 0 30 1234567",           OK, E, "+49301234567", ""},
    {"US", "1 202 555 0143",            OK, E, "+12025550143", ""},
    {"IT", "39 06 1234 5678",           OK, E, "+390612345678", ""},
    {"DE", "tel:+49%zz301234567",       BAD, 0, "", ""},
    /* fuzz regressions: a country code never starts with 0; RU +7 8 */
    {"DE", "tel:+06282-555-0143",       BAD, 0, "", ""},
    {"RU", "+7 8 8123456789 0",         BAD, 0, "", ""},
    /* withheld CLI */
    {"DE", "",                          OK, W, "", ""},
    {"DE", "   ",                       OK, W, "", ""},
    {"DE", "anonymous",                 OK, W, "", ""},
    {"DE", "Anonymous",                 OK, W, "", ""},
    {"DE", " ANONYMOUS ",               OK, W, "", ""},
    {"DE", "restricted",                OK, W, "", ""},
    {"DE", "Unavailable",               OK, W, "", ""},
    {"DE", "private",                   OK, W, "", ""},
    {"DE", "WITHHELD",                  OK, W, "", ""},
    {"DE", "unknown",                   OK, W, "", ""},
    {"DE", "sip:anonymous@anonymous.invalid", OK, W, "", ""},
    {"DE", "sip:Anonymous@example.com", OK, W, "", ""},
    {"DE", "\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=x",
                                        OK, W, "", ""},
    {"DE", "anonymousx",                BAD, 0, "", ""},
    /* Austria, Switzerland, France, Belgium, Netherlands */
    {"AT", "01 234 5678",               OK, E, "+4312345678", ""},
    {"AT", "+43 664 1234567",           OK, E, "+436641234567", ""},
    {"CH", "044 668 18 00",             OK, E, "+41446681800", ""},
    {"CH", "+41 (0)44 668 18 00",       OK, E, "+41446681800", ""},
    {"CH", "0041 44 668 18 00",         OK, E, "+41446681800", ""},
    {"FR", "01 23 45 67 89",            OK, E, "+33123456789", ""},
    {"FR", "01.23.45.67.89",            OK, E, "+33123456789", ""},
    {"FR", "+33 (0)1 23 45 67 89",      OK, E, "+33123456789", ""},
    {"FR", "0033 6 12 34 56 78",        OK, E, "+33612345678", ""},
    {"FR", "1234",                      OK, L, "1234", ""},
    {"FR", "01 23 45 67 8",             BAD, 0, "", ""},
    {"BE", "02 123 45 67",              OK, E, "+3221234567", ""},
    {"NL", "020 123 4567",              OK, E, "+31201234567", ""},
    /* United Kingdom, Ireland */
    {"GB", "020 7946 0000",             OK, E, "+442079460000", ""},
    {"GB", "+44 (0)20 7946 0000",       OK, E, "+442079460000", ""},
    {"GB", "07700 900123",              OK, E, "+447700900123", ""},
    {"GB", "7946 0000",                 OK, L, "79460000", ""},
    {"IE", "01 234 5678",               OK, E, "+35312345678", ""},
    /* no trunk prefix: Italy keeps its 0, Spain, Portugal, Nordics ... */
    {"IT", "06 1234 5678",              OK, E, "+390612345678", ""},
    {"IT", "+39 06 1234 5678",          OK, E, "+390612345678", ""},
    {"IT", "0039 06 1234 5678",         OK, E, "+390612345678", ""},
    {"IT", "347 123 4567",              OK, E, "+393471234567", ""},
    {"DE", "+39 06 1234 5678",          OK, E, "+390612345678", ""},
    {"IT", "3471234567 x3",             OK, E, "+393471234567", "3"},
    {"ES", "912 34 56 78",              OK, E, "+34912345678", ""},
    {"ES", "+34 912 345 678",           OK, E, "+34912345678", ""},
    {"ES", "0034912345678",             OK, E, "+34912345678", ""},
    {"ES", "91234567",                  BAD, 0, "", ""},
    {"PT", "21 234 5678",               OK, E, "+351212345678", ""},
    {"DK", "32 12 34 56",               OK, E, "+4532123456", ""},
    {"NO", "22 12 34 56",               OK, E, "+4722123456", ""},
    {"SE", "08-123 456 78",             OK, E, "+46812345678", ""},
    {"FI", "09 1234 567",               OK, E, "+35891234567", ""},
    {"PL", "12 345 67 89",              OK, E, "+48123456789", ""},
    {"CZ", "221 234 567",               OK, E, "+420221234567", ""},
    {"GR", "21 0123 4567",              OK, E, "+302101234567", ""},
    {"LU", "26 12 34 56",               OK, E, "+35226123456", ""},
    /* Hungary (trunk 06), Russia (trunk 8, intl 810), Turkey */
    {"HU", "06 1 234 5678",             OK, E, "+3612345678", ""},
    {"HU", "+36 06 1 234 5678",         OK, E, "+3612345678", ""},
    {"RU", "8 495 123-45-67",           OK, E, "+74951234567", ""},
    {"RU", "8 10 49 30 1234567",        OK, E, "+49301234567", ""},
    {"RU", "+7 800 123 45 67",          OK, E, "+78001234567", ""},
    {"TR", "0212 123 45 67",            OK, E, "+902121234567", ""},
    /* NANP: trunk 1, intl 011, 10-digit national numbers */
    {"US", "(202) 555-0143",            OK, E, "+12025550143", ""},
    {"US", "202.555.0143",              OK, E, "+12025550143", ""},
    {"US", "1-202-555-0143",            OK, E, "+12025550143", ""},
    {"US", "+1 202 555 0143",           OK, E, "+12025550143", ""},
    {"US", "011 49 30 1234567",         OK, E, "+49301234567", ""},
    {"US", "555-0143",                  OK, L, "5550143", ""},
    {"US", "(202) 555-0143 x 7",        OK, E, "+12025550143", "7"},
    {"US", "tel:+1-202-555-0143;ext=12",OK, E, "+12025550143", "12"},
    {"US", "+1 202 555 01430",          BAD, 0, "", ""},
    {"US", "0049 30 1234567",           BAD, 0, "", ""},
    {"CA", "416 555 0199",              OK, E, "+14165550199", ""},
    /* Latin America */
    {"MX", "55 1234 5678",              OK, E, "+525512345678", ""},
    {"MX", "044 55 1234 5678",          OK, E, "+525512345678", ""},
    {"MX", "+52 1 55 1234 5678",        OK, E, "+525512345678", ""},
    {"BR", "(11) 91234-5678",           OK, E, "+5511912345678", ""},
    {"BR", "0 21 11 91234-5678",        OK, E, "+5511912345678", ""},
    {"BR", "0021 49 30 1234567",        OK, E, "+49301234567", ""},
    {"AR", "011 4123-4567",             OK, E, "+541141234567", ""},
    /* Asia-Pacific */
    {"AU", "(02) 9876 5432",            OK, E, "+61298765432", ""},
    {"AU", "0011 49 30 1234567",        OK, E, "+49301234567", ""},
    {"AU", "0014 49 30 1234567",        OK, E, "+49301234567", ""},
    {"AU", "+61 4 1234 5678",           OK, E, "+61412345678", ""},
    {"NZ", "09 123 4567",               OK, E, "+6491234567", ""},
    {"JP", "03-1234-5678",              OK, E, "+81312345678", ""},
    {"JP", "010 49 30 1234567",         OK, E, "+49301234567", ""},
    {"JP", "0049 30 1234567",           BAD, 0, "", ""},
    {"KR", "02-123-4567",               OK, E, "+8221234567", ""},
    {"KR", "001 49 30 1234567",         OK, E, "+49301234567", ""},
    {"CN", "010 1234 5678",             OK, E, "+861012345678", ""},
    {"IN", "011 2345 6789",             OK, E, "+911123456789", ""},
    {"IN", "+91 98765 43210",           OK, E, "+919876543210", ""},
    {"SG", "6123 4567",                 OK, E, "+6561234567", ""},
    {"SG", "001 49 30 1234567",         OK, E, "+49301234567", ""},
    {"HK", "2123 4567",                 OK, E, "+85221234567", ""},
    /* Africa, Middle East */
    {"ZA", "021 123 4567",              OK, E, "+27211234567", ""},
    {"IL", "03-123-4567",               OK, E, "+97231234567", ""},
    {"IL", "012 49 30 1234567",         OK, E, "+49301234567", ""},
    {"AE", "04 123 4567",               OK, E, "+97141234567", ""},
    {"EG", "02 1234 5678",              OK, E, "+20212345678", ""},
    {"NG", "0803 123 4567",             OK, E, "+2348031234567", ""},
    {"NG", "009 49 30 1234567",         OK, E, "+49301234567", ""},
    /* countries outside the table: generic rules */
    {"DE", "+225 07 12 34 56 78",       OK, E, "+2250712345678", ""},
    {"DE", "+800 1234 5678",            OK, E, "+80012345678", ""},
};
/* clang-format on */

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static tsps_dialplan plan_of(const char *region)
{
    tsps_dialplan dp;
    int rc = tsps_dialplan_for_region(region, &dp);
    ck_assert_msg(rc == TSPS_OK, "region %s: %s", region, tsps_strerror(rc));
    return dp;
}

START_TEST(test_normalize_table)
{
    ck_assert_uint_ge(NCASES, 80);
    for (size_t i = 0; i < NCASES; i++) {
        const ncase *c = &cases[i];
        tsps_dialplan dp = plan_of(c->region);
        tsps_number n;
        int rc = tsps_normalize(c->in, &dp, &n);
        ck_assert_msg(rc == c->rc, "[%s] '%s': rc %d, want %d", c->region,
                      c->in, rc, c->rc);
        ck_assert_msg((int)n.kind == c->kind, "[%s] '%s': kind %d, want %d",
                      c->region, c->in, (int)n.kind, c->kind);
        ck_assert_msg(strcmp(n.e164, c->e164) == 0,
                      "[%s] '%s': '%s', want '%s'", c->region, c->in, n.e164,
                      c->e164);
        ck_assert_msg(strcmp(n.ext, c->ext) == 0,
                      "[%s] '%s': ext '%s', want '%s'", c->region, c->in, n.ext,
                      c->ext);
    }
}
END_TEST

/* An E.164 result read again, in any region, is itself. */
START_TEST(test_normalize_idempotent)
{
    static const char *const regions[] = {"DE", "US", "IT", "JP", "AU",
                                          "BR", "RU", "HU", "GB", "SG"};
    for (size_t i = 0; i < NCASES; i++) {
        tsps_dialplan dp = plan_of(cases[i].region);
        tsps_number n, m;
        if (tsps_normalize(cases[i].in, &dp, &n) != TSPS_OK ||
            n.kind != TSPS_NUM_E164)
            continue;
        for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
            tsps_dialplan other = plan_of(regions[r]);
            ck_assert_int_eq(tsps_normalize(n.e164, &other, &m), TSPS_OK);
            ck_assert_str_eq(m.e164, n.e164);
        }
    }
}
END_TEST

/* The table is sorted (binary search finds every region) and its country
 * code index points back at a region of the same code. */
START_TEST(test_region_table_consistent)
{
    static const char *const all[] = {
        "AE", "AR", "AT", "AU", "BE", "BG", "BR", "CA", "CH", "CN", "CZ",
        "DE", "DK", "EE", "EG", "ES", "FI", "FR", "GB", "GR", "HK", "HR",
        "HU", "ID", "IE", "IL", "IN", "IS", "IT", "JP", "KE", "KR", "LT",
        "LU", "LV", "MA", "MX", "MY", "NG", "NL", "NO", "NZ", "PE", "PH",
        "PK", "PL", "PT", "RO", "RU", "SA", "SE", "SG", "SI", "SK", "TH",
        "TR", "TW", "UA", "US", "VN", "ZA"};
    unsigned prev = 0;

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const tsps__region *r = tsps__region_find(all[i]);
        const tsps__region *byc;
        ck_assert_msg(r != NULL, "%s not found", all[i]);
        ck_assert_str_eq(r->code, all[i]);
        ck_assert_msg(tsps__cc_valid(r->ccn), "%s: cc %u", all[i], r->ccn);
        ck_assert_uint_eq((unsigned)atoi(r->cc), r->ccn);
        byc = tsps__region_by_cc(r->ccn);
        ck_assert_msg(byc != NULL && byc->ccn == r->ccn, "%s", all[i]);
        ck_assert_uint_ge(r->nsn_max, r->nsn_min);
        ck_assert_uint_le(r->nsn_max + strlen(r->cc), 15);
        ck_assert_uint_ge(r->nsn_min, 4);
        prev = (unsigned)(r->code[0] << 8 | r->code[1]) > prev
                   ? (unsigned)(r->code[0] << 8 | r->code[1])
                   : 0;
        ck_assert_msg(prev != 0, "table not sorted at %s", all[i]);
    }
    ck_assert(!tsps__cc_valid(0));
    ck_assert(!tsps__cc_valid(999));
    ck_assert(!tsps__cc_valid(42));
    ck_assert(!tsps__cc_valid(100000));
    ck_assert_ptr_null(tsps__region_by_cc(225));
    ck_assert_ptr_null(tsps__region_find("de\x01"));
    ck_assert_ptr_null(tsps__region_find("[A"));
    ck_assert_str_eq(tsps__region_find("de")->code, "DE");
    /* the generated lookup tables agree with the data tables */
    ck_assert_int_eq(tsps__regions_selfcheck(), 0);
}
END_TEST

START_TEST(test_dialplan_for_region_known)
{
    tsps_dialplan dp;

    ck_assert_int_eq(tsps_dialplan_for_region("DE", &dp), TSPS_OK);
    ck_assert_str_eq(dp.region, "DE");
    ck_assert_str_eq(dp.cc, "49");
    ck_assert_str_eq(dp.trunk, "0");
    ck_assert_str_eq(dp.intl, "00");

    ck_assert_int_eq(tsps_dialplan_for_region("us", &dp), TSPS_OK);
    ck_assert_str_eq(dp.region, "US");
    ck_assert_str_eq(dp.cc, "1");
    ck_assert_str_eq(dp.trunk, "1");
    ck_assert_str_eq(dp.intl, "011");

    ck_assert_int_eq(tsps_dialplan_for_region("Au", &dp), TSPS_OK);
    ck_assert_str_eq(dp.intl, "0011");
    ck_assert_int_eq(tsps_dialplan_for_region("JP", &dp), TSPS_OK);
    ck_assert_str_eq(dp.intl, "010");
    ck_assert_int_eq(tsps_dialplan_for_region("IT", &dp), TSPS_OK);
    ck_assert_str_eq(dp.trunk, "");
    ck_assert_int_eq(tsps_dialplan_for_region("HU", &dp), TSPS_OK);
    ck_assert_str_eq(dp.trunk, "06");
    ck_assert_int_eq(tsps_dialplan_for_region("RU", &dp), TSPS_OK);
    ck_assert_str_eq(dp.trunk, "8");
    ck_assert_str_eq(dp.intl, "810");
}
END_TEST

START_TEST(test_dialplan_for_region_all_required)
{
    static const char *const req[] = {
        "DE", "AT", "CH", "FR", "GB", "IE", "IT", "ES", "PT", "NL",
        "BE", "LU", "DK", "SE", "NO", "FI", "PL", "CZ", "HU", "GR",
        "RU", "TR", "US", "CA", "MX", "BR", "AR", "AU", "NZ", "JP",
        "KR", "CN", "IN", "SG", "HK", "ZA", "IL", "AE", "EG", "NG"};
    static const char *const no_trunk[] = {"IT", "ES", "PT", "DK", "NO",
                                           "GR", "LU", "SG", "HK"};
    tsps_dialplan dp;

    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        ck_assert_msg(tsps_dialplan_for_region(req[i], &dp) == TSPS_OK, "%s",
                      req[i]);
        ck_assert_str_eq(dp.region, req[i]);
        ck_assert_uint_ge(strlen(dp.cc), 1);
        ck_assert_uint_ge(strlen(dp.intl), 2);
    }
    for (size_t i = 0; i < sizeof(no_trunk) / sizeof(no_trunk[0]); i++) {
        ck_assert_int_eq(tsps_dialplan_for_region(no_trunk[i], &dp), TSPS_OK);
        ck_assert_msg(dp.trunk[0] == '\0', "%s has trunk '%s'", no_trunk[i],
                      dp.trunk);
    }
}
END_TEST

START_TEST(test_dialplan_for_region_bad)
{
    tsps_dialplan dp;

    memset(&dp, 'x', sizeof(dp));
    ck_assert_int_eq(tsps_dialplan_for_region("XX", &dp), TSPS_EREGION);
    ck_assert_str_eq(dp.cc, ""); /* cleared on failure */
    ck_assert_int_eq(tsps_dialplan_for_region("DEU", &dp), TSPS_EREGION);
    ck_assert_int_eq(tsps_dialplan_for_region("D", &dp), TSPS_EREGION);
    ck_assert_int_eq(tsps_dialplan_for_region("", &dp), TSPS_EREGION);
    ck_assert_int_eq(tsps_dialplan_for_region("\xc3\x84\xc3\x96", &dp),
                     TSPS_EREGION);
    ck_assert_int_eq(tsps_dialplan_for_region(NULL, &dp), TSPS_EINVAL);
    ck_assert_int_eq(tsps_dialplan_for_region("DE", NULL), TSPS_EINVAL);
}
END_TEST

START_TEST(test_normalize_null_args)
{
    tsps_dialplan dp = plan_of("DE");
    tsps_number n;

    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, NULL), TSPS_EINVAL);
    memset(&n, 'x', sizeof(n));
    ck_assert_int_eq(tsps_normalize("030 1234567", NULL, &n), TSPS_EINVAL);
    ck_assert_str_eq(n.e164, "");
    ck_assert_int_eq(tsps_normalize(NULL, &dp, &n), TSPS_OK);
    ck_assert_int_eq(n.kind, TSPS_NUM_WITHHELD);
    ck_assert_str_eq(n.e164, "");
}
END_TEST

START_TEST(test_normalize_no_dial_plan)
{
    /* without a region only international forms mean something */
    static const struct {
        const char *in;
        int rc;
        int kind;
        const char *e164, *ext;
    } nc[] = {
        {"+49 30 1234567", OK, E, "+49301234567", ""},
        {"++49 30 1234567 x7", OK, E, "+49301234567", "7"},
        {"tel:+44-20-7946-0000", OK, E, "+442079460000", ""},
        {"tel:1234567;phone-context=+49-30", OK, E, "+49301234567", ""},
        {"sip:+12025550143@gw.example.com;user=phone", OK, E, "+12025550143",
         ""},
        {"+1 800 MY APPLE", OK, E, "+18006927753", ""},
        {"anonymous", OK, W, "", ""},
        {"", OK, W, "", ""},
        {"030 1234567", BAD, 0, "", ""},
        {"0049 30 1234567", BAD, 0, "", ""},
        {"1234567", BAD, 0, "", ""},
        {"tel:030-1234567;phone-context=example.com", BAD, 0, "", ""},
        {"tel:", BAD, 0, "", ""},
        {"+999 1234567", BAD, 0, "", ""},
    };
    tsps_number n;
    for (size_t i = 0; i < sizeof(nc) / sizeof(nc[0]); i++) {
        int rc = tsps_normalize_intl(nc[i].in, &n);
        ck_assert_msg(rc == nc[i].rc, "'%s': rc %d, want %d", nc[i].in, rc,
                      nc[i].rc);
        if (rc != OK)
            continue;
        ck_assert_msg((int)n.kind == nc[i].kind, "'%s': kind %d", nc[i].in,
                      n.kind);
        ck_assert_str_eq(n.e164, nc[i].e164);
        ck_assert_str_eq(n.ext, nc[i].ext);
    }
    ck_assert_int_eq(tsps_normalize_intl(NULL, &n), TSPS_OK);
    ck_assert_int_eq(n.kind, TSPS_NUM_WITHHELD);
    ck_assert_int_eq(tsps_normalize_intl("+4930123456", NULL), TSPS_EINVAL);
    /* the region API still says what it said */
    {
        tsps_dialplan dp;
        ck_assert_int_eq(tsps_dialplan_for_region("", &dp), TSPS_EREGION);
    }
}
END_TEST

START_TEST(test_normalize_cleared_on_error)
{
    tsps_dialplan dp = plan_of("DE");
    tsps_number n, zero;

    memset(&zero, 0, sizeof(zero));
    memset(&n, 'x', sizeof(n));
    ck_assert_int_eq(tsps_normalize("030 1234567 ab", &dp, &n), TSPS_ENUMBER);
    ck_assert(memcmp(&n, &zero, sizeof(n)) == 0);
    /* a failure after a partial result (extension parsed) */
    memset(&n, 'x', sizeof(n));
    ck_assert_int_eq(tsps_normalize("+49 1 x12", &dp, &n), TSPS_ENUMBER);
    ck_assert(memcmp(&n, &zero, sizeof(n)) == 0);
}
END_TEST

START_TEST(test_normalize_custom_plan)
{
    tsps_dialplan dp;
    tsps_number n;

    /* no region: the plan's fields are all there is */
    memset(&dp, 0, sizeof(dp));
    strcpy(dp.cc, "49");
    strcpy(dp.trunk, "0");
    strcpy(dp.intl, "00");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_OK);
    ck_assert_str_eq(n.e164, "+49301234567");
    ck_assert_int_eq(tsps_normalize("0033 1 23 45 67 89", &dp, &n), TSPS_OK);
    ck_assert_str_eq(n.e164, "+33123456789");

    /* region only: cc, trunk and intl come from the table */
    memset(&dp, 0, sizeof(dp));
    strcpy(dp.region, "fr");
    ck_assert_int_eq(tsps_normalize("01 23 45 67 89", &dp, &n), TSPS_OK);
    ck_assert_str_eq(n.e164, "+33123456789");

    /* a site with its own international prefix */
    dp = plan_of("DE");
    strcpy(dp.intl, "0010");
    ck_assert_int_eq(tsps_normalize("0010 33 1 23 45 67 89", &dp, &n), TSPS_OK);
    ck_assert_str_eq(n.e164, "+33123456789");

    /* invalid plans */
    memset(&dp, 0, sizeof(dp));
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    strcpy(dp.region, "XX");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    strcpy(dp.cc, "999");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    strcpy(dp.cc, "4a");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    strcpy(dp.cc, "049");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    dp = plan_of("DE");
    strcpy(dp.trunk, "O");
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
    dp = plan_of("DE");
    memset(dp.cc, '4', sizeof(dp.cc)); /* not terminated */
    ck_assert_int_eq(tsps_normalize("030 1234567", &dp, &n), TSPS_EINVAL);
}
END_TEST

START_TEST(test_normalize_overlong)
{
    tsps_dialplan dp = plan_of("DE");
    tsps_number n;
    char buf[400];
    long pg = sysconf(_SC_PAGESIZE);
    char *map;

    /* 256 bytes are read: a number padded with blanks to the limit */
    memset(buf, ' ', sizeof(buf));
    memcpy(buf, "030 1234567", 11);
    buf[256] = '\0';
    ck_assert_int_eq(tsps_normalize(buf, &dp, &n), TSPS_OK);
    ck_assert_str_eq(n.e164, "+49301234567");
    buf[256] = ' ';
    buf[257] = '\0';
    ck_assert_int_eq(tsps_normalize(buf, &dp, &n), TSPS_ENUMBER);
    memset(buf, '1', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    ck_assert_int_eq(tsps_normalize(buf, &dp, &n), TSPS_ENUMBER);

    /* 257 unterminated bytes right before an unmapped page: must not read
     * past them */
    map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    memset(map + pg - 257, '5', 257);
    ck_assert_int_eq(tsps_normalize(map + pg - 257, &dp, &n), TSPS_ENUMBER);
    munmap(map, (size_t)pg * 2);
}
END_TEST

START_TEST(test_normalize_bad_utf8)
{
    static const char *const bad[] = {
        "\xff",
        "030 1234567\xff",
        "030\xc0\xa0"
        "1234567",     /* overlong NBSP */
        "030\xe2\x80", /* truncated */
        "030\xed\xa0\x80"
        "1234567",             /* surrogate */
        "030\xf5\x80\x80\x80", /* beyond U+10FFFF */
        "030\xe2\x82\xac"
        "1234567",                  /* valid, but a euro sign */
        "\xd0\x90\xd0\x91\xd0\x92", /* Cyrillic letters */
        "sip:\xff@example.com",
    };
    tsps_dialplan dp = plan_of("DE");
    tsps_number n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(tsps_normalize(bad[i], &dp, &n) == TSPS_ENUMBER,
                      "case %zu accepted", i);
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_invariants(const char *in, const tsps_number *n, int rc)
{
    ck_assert_msg(rc == TSPS_OK || rc == TSPS_ENUMBER, "rc %d for '%s'", rc,
                  in);
    if (rc != TSPS_OK)
        return;
    if (n->kind == TSPS_NUM_E164) {
        size_t len = strlen(n->e164);
        ck_assert_msg(n->e164[0] == '+' && len >= 2 && len <= 16, "'%s'",
                      n->e164);
        for (size_t i = 1; i < len; i++)
            ck_assert(n->e164[i] >= '0' && n->e164[i] <= '9');
    } else if (n->kind == TSPS_NUM_LOCAL) {
        ck_assert_uint_ge(strlen(n->e164), 2);
    } else {
        ck_assert_int_eq(n->kind, TSPS_NUM_WITHHELD);
        ck_assert_str_eq(n->e164, "");
    }
    for (const char *p = n->ext; *p != '\0'; p++)
        ck_assert(*p >= '0' && *p <= '9');
}

START_TEST(test_normalize_garbage)
{
    static const char alphabet[] = "0123456789+0000 ()-./#;xext=tel:sip@<>"
                                   "\xc2\xa0\xe2\x80\x93\xff%2B";
    static const char *const regions[] = {"DE", "US", "IT", "BR", "AU", "JP"};
    uint64_t seed = 0x9E3779B97F4A7C15u;
    char buf[300];
    tsps_number n;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(rng_next(&seed) % 40);
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
        buf[len] = '\0';
        tsps_dialplan dp = plan_of(regions[iter % 6]);
        check_invariants(buf, &n, tsps_normalize(buf, &dp, &n));
    }
}
END_TEST

/* Not a timed test: prints the cost per call to stderr for the record. */
START_TEST(test_normalize_speed_report)
{
    static const char *const in[] = {"+49 30 1234567", "030 1234567",
                                     "(202) 555-0143",
                                     "sip:+49301234567@example.com"};
    tsps_dialplan de = plan_of("DE");
    tsps_number n;
    struct timespec a, b;
    unsigned ok = 0;
    const int iters = 200000;

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < iters; i++)
        ok += tsps_normalize(in[i & 3], &de, &n) == TSPS_OK;
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_uint_eq(ok, (unsigned)iters);
    fprintf(stderr, "check_normalize: %.1f ns/call\n",
            ((double)(b.tv_sec - a.tv_sec) * 1e9 +
             (double)(b.tv_nsec - a.tv_nsec)) /
                iters);
}
END_TEST

static Suite *normalize_suite(void)
{
    Suite *s = suite_create("normalize");
    TCase *tc;

    tc = tcase_create("dialplan");
    tcase_add_test(tc, test_dialplan_for_region_known);
    tcase_add_test(tc, test_dialplan_for_region_all_required);
    tcase_add_test(tc, test_dialplan_for_region_bad);
    tcase_add_test(tc, test_region_table_consistent);
    suite_add_tcase(s, tc);

    tc = tcase_create("forms");
    tcase_add_test(tc, test_normalize_table);
    tcase_add_test(tc, test_normalize_idempotent);
    tcase_add_test(tc, test_normalize_custom_plan);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad_input");
    tcase_add_test(tc, test_normalize_null_args);
    tcase_add_test(tc, test_normalize_cleared_on_error);
    tcase_add_test(tc, test_normalize_no_dial_plan);
    tcase_add_test(tc, test_normalize_overlong);
    tcase_add_test(tc, test_normalize_bad_utf8);
    tcase_add_test(tc, test_normalize_garbage);
    suite_add_tcase(s, tc);

    tc = tcase_create("speed");
    tcase_add_test(tc, test_normalize_speed_report);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(normalize_suite)

/* Built-in numbering-plan data: dial plans of the regions tsps knows by
 * name, and the set of assigned country calling codes.
 *
 * Sources: ITU-T E.164 assignments and national numbering plans, cross-checked
 * against the metadata of libphonenumber 8.12 (country code, national prefix,
 * international prefix, possible lengths of national significant numbers).
 * Lengths are the range of libphonenumber's general possible lengths, capped
 * so cc + NSN stays within the 15 digits of E.164. */
#include <stddef.h>

#include "regions.h"

/* clang-format off */
#define NO00 TSPS__RG_NO_00
static const tsps__region regions[] = {
    /* code  ccn  cc     trunk intl   min max loc flags alt_intl */
    {"AE", 971, "971", "0",  "00",    5,  12, 0,  0,    NULL},
    {"AR", 54,  "54",  "0",  "00",    10, 11, 8,  TSPS__RG_AR, NULL},
    {"AT", 43,  "43",  "0",  "00",    4,  13, 3,  0,    NULL},
    {"AU", 61,  "61",  "0",  "0011",  5,  12, 0,  0,    "001X"},
    {"BE", 32,  "32",  "0",  "00",    8,  9,  0,  0,    NULL},
    {"BG", 359, "359", "0",  "00",    6,  9,  5,  0,    NULL},
    {"BR", 55,  "55",  "0",  "00",    8,  11, 0,  TSPS__RG_BR, NULL},
    {"CA", 1,   "1",   "1",  "011",   10, 10, 7,  NO00, NULL},
    {"CH", 41,  "41",  "0",  "00",    9,  12, 0,  0,    NULL},
    {"CN", 86,  "86",  "0",  "00",    7,  12, 6,  0,    NULL},
    {"CZ", 420, "420", "",   "00",    9,  12, 0,  0,    NULL},
    {"DE", 49,  "49",  "0",  "00",    4,  13, 8,  0,    NULL},
    {"DK", 45,  "45",  "",   "00",    8,  8,  0,  0,    NULL},
    {"EE", 372, "372", "",   "00",    7,  10, 0,  0,    NULL},
    {"EG", 20,  "20",  "0",  "00",    8,  10, 7,  0,    NULL},
    {"ES", 34,  "34",  "",   "00",    9,  9,  0,  0,    NULL},
    {"FI", 358, "358", "0",  "00",    5,  12, 0,  0,    "99X"},
    {"FR", 33,  "33",  "0",  "00",    9,  9,  0,  0,    NULL},
    {"GB", 44,  "44",  "0",  "00",    7,  10, 8,  0,    NULL},
    {"GR", 30,  "30",  "",   "00",    10, 12, 0,  0,    NULL},
    {"HK", 852, "852", "",   "001",   5,  11, 0,  0,    NULL},
    {"HR", 385, "385", "0",  "00",    6,  9,  0,  0,    NULL},
    {"HU", 36,  "36",  "06", "00",    8,  9,  7,  0,    NULL},
    {"ID", 62,  "62",  "0",  "001",   7,  12, 6,  NO00, "00X"},
    {"IE", 353, "353", "0",  "00",    7,  10, 6,  0,    NULL},
    {"IL", 972, "972", "0",  "00",    7,  12, 0,  0,    "01X"},
    {"IN", 91,  "91",  "0",  "00",    8,  13, 7,  0,    NULL},
    {"IS", 354, "354", "",   "00",    7,  9,  0,  0,    NULL},
    {"IT", 39,  "39",  "",   "00",    6,  12, 0,  0,    NULL},
    {"JP", 81,  "81",  "0",  "010",   8,  13, 0,  NO00, "001|0033|0041|0061"},
    {"KE", 254, "254", "0",  "000",   7,  10, 0,  NO00, NULL},
    {"KR", 82,  "82",  "0",  "001",   5,  13, 7,  NO00, "00X"},
    {"LT", 370, "370", "8",  "00",    8,  8,  0,  0,    NULL},
    {"LU", 352, "352", "",   "00",    4,  11, 0,  0,    NULL},
    {"LV", 371, "371", "",   "00",    8,  8,  0,  0,    NULL},
    {"MA", 212, "212", "0",  "00",    9,  9,  0,  0,    NULL},
    {"MX", 52,  "52",  "",   "00",    10, 10, 0,  TSPS__RG_MX, NULL},
    {"MY", 60,  "60",  "0",  "00",    8,  10, 7,  0,    NULL},
    {"NG", 234, "234", "0",  "009",   7,  12, 6,  NO00, NULL},
    {"NL", 31,  "31",  "0",  "00",    5,  11, 0,  0,    NULL},
    {"NO", 47,  "47",  "",   "00",    5,  8,  0,  0,    NULL},
    {"NZ", 64,  "64",  "0",  "00",    5,  10, 0,  0,    "0161"},
    {"PE", 51,  "51",  "0",  "00",    8,  9,  7,  0,    NULL},
    {"PH", 63,  "63",  "0",  "00",    6,  13, 7,  0,    NULL},
    {"PK", 92,  "92",  "0",  "00",    8,  12, 7,  0,    NULL},
    {"PL", 48,  "48",  "",   "00",    6,  10, 0,  0,    NULL},
    {"PT", 351, "351", "",   "00",    9,  9,  0,  0,    NULL},
    {"RO", 40,  "40",  "0",  "00",    6,  9,  0,  0,    NULL},
    {"RU", 7,   "7",   "8",  "810",   10, 10, 7,  0,    NULL},
    {"SA", 966, "966", "0",  "00",    9,  10, 7,  0,    NULL},
    {"SE", 46,  "46",  "0",  "00",    6,  12, 0,  0,    NULL},
    {"SG", 65,  "65",  "",   "001",   8,  11, 0,  NO00, "00X|01X|02X|03X"},
    {"SI", 386, "386", "0",  "00",    5,  8,  0,  0,    NULL},
    {"SK", 421, "421", "0",  "00",    6,  9,  0,  0,    NULL},
    {"TH", 66,  "66",  "0",  "001",   8,  13, 0,  NO00, "00X"},
    {"TR", 90,  "90",  "0",  "00",    7,  13, 0,  0,    NULL},
    {"TW", 886, "886", "0",  "002",   7,  11, 0,  NO00, "00X|019"},
    {"UA", 380, "380", "0",  "00",    9,  10, 7,  0,    NULL},
    {"US", 1,   "1",   "1",  "011",   10, 10, 7,  NO00, NULL},
    {"VN", 84,  "84",  "0",  "00",    7,  10, 0,  0,    NULL},
    {"ZA", 27,  "27",  "0",  "00",    5,  10, 0,  0,    NULL},
};
#undef NO00

/* Assigned country calling codes (ITU-T E.164 list, incl. the non-
 * geographic 8xx/878/979 codes). Sorted. E.164 country codes are prefix-
 * free, so at most one prefix of a number is in this list. */
static const uint16_t ccs[] = {
    1,7,20,27,30,31,32,33,34,36,39,40,41,43,44,45,46,47,48,49,51,52,53,54,55,
    56,57,58,60,61,62,63,64,65,66,81,82,84,86,90,91,92,93,94,95,98,211,212,
    213,216,218,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,
    235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,
    253,254,255,256,257,258,260,261,262,263,264,265,266,267,268,269,290,291,
    297,298,299,350,351,352,353,354,355,356,357,358,359,370,371,372,373,374,
    375,376,377,378,380,381,382,383,385,386,387,389,420,421,423,500,501,502,
    503,504,505,506,507,508,509,590,591,592,593,594,595,596,597,598,599,670,
    672,673,674,675,676,677,678,679,680,681,682,683,685,686,687,688,689,690,
    691,692,800,808,850,852,853,855,856,870,878,880,881,882,883,886,888,960,
    961,962,963,964,965,966,967,968,970,971,972,973,974,975,976,977,979,992,
    993,994,995,996,998,
};
/* Country code -> region of the table (the main region where several
 * share a code), sorted by code for tsps__region_by_cc(). */
static const struct {
    uint16_t cc;
    char code[3];
} cc_regions[] = {
    {1, "US"}, {7, "RU"}, {20, "EG"}, {27, "ZA"}, {30, "GR"}, {31, "NL"},
    {32, "BE"}, {33, "FR"}, {34, "ES"}, {36, "HU"}, {39, "IT"}, {40, "RO"},
    {41, "CH"}, {43, "AT"}, {44, "GB"}, {45, "DK"}, {46, "SE"}, {47, "NO"},
    {48, "PL"}, {49, "DE"}, {51, "PE"}, {52, "MX"}, {54, "AR"}, {55, "BR"},
    {60, "MY"}, {61, "AU"}, {62, "ID"}, {63, "PH"}, {64, "NZ"}, {65, "SG"},
    {66, "TH"}, {81, "JP"}, {82, "KR"}, {84, "VN"}, {86, "CN"}, {90, "TR"},
    {91, "IN"}, {92, "PK"}, {212, "MA"}, {234, "NG"}, {254, "KE"},
    {351, "PT"}, {352, "LU"}, {353, "IE"}, {354, "IS"}, {358, "FI"},
    {359, "BG"}, {370, "LT"}, {371, "LV"}, {372, "EE"}, {380, "UA"},
    {385, "HR"}, {386, "SI"}, {420, "CZ"}, {421, "SK"}, {852, "HK"},
    {886, "TW"}, {966, "SA"}, {971, "AE"}, {972, "IL"},
};
/* clang-format on */

#define NREGIONS (sizeof(regions) / sizeof(regions[0]))
#define NCCS     (sizeof(ccs) / sizeof(ccs[0]))
#define NCCREG   (sizeof(cc_regions) / sizeof(cc_regions[0]))

static unsigned upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

const tsps__region *tsps__region_find(const char *code)
{
    size_t lo = 0, hi = NREGIONS;
    unsigned a, b;

    if (code == NULL || code[0] == '\0' || code[1] == '\0' || code[2] != '\0')
        return NULL;
    a = upper((unsigned char)code[0]);
    b = upper((unsigned char)code[1]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const tsps__region *r = &regions[mid];
        int d = (int)a - r->code[0];
        if (d == 0)
            d = (int)b - r->code[1];
        if (d == 0)
            return r;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const tsps__region *tsps__region_by_cc(unsigned cc)
{
    size_t lo = 0, hi = NCCREG;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cc_regions[mid].cc == cc)
            return tsps__region_find(cc_regions[mid].code);
        if (cc_regions[mid].cc < cc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int tsps__cc_valid(unsigned cc)
{
    size_t lo = 0, hi = NCCS;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ccs[mid] == cc)
            return 1;
        if (ccs[mid] < cc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

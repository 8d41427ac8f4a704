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

#define CC_NO_REGION 255

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
/* BEGIN generated by scripts/gen-region-tables.py: do not edit */
/* region code AA..ZZ -> 1 + index in regions[], 0 = none */
static const uint8_t region_at[26 * 26] = {
    [4] = 1, /* AE */
    [17] = 2, /* AR */
    [19] = 3, /* AT */
    [20] = 4, /* AU */
    [30] = 5, /* BE */
    [32] = 6, /* BG */
    [43] = 7, /* BR */
    [52] = 8, /* CA */
    [59] = 9, /* CH */
    [65] = 10, /* CN */
    [77] = 11, /* CZ */
    [82] = 12, /* DE */
    [88] = 13, /* DK */
    [108] = 14, /* EE */
    [110] = 15, /* EG */
    [122] = 16, /* ES */
    [138] = 17, /* FI */
    [147] = 18, /* FR */
    [157] = 19, /* GB */
    [173] = 20, /* GR */
    [192] = 21, /* HK */
    [199] = 22, /* HR */
    [202] = 23, /* HU */
    [211] = 24, /* ID */
    [212] = 25, /* IE */
    [219] = 26, /* IL */
    [221] = 27, /* IN */
    [226] = 28, /* IS */
    [227] = 29, /* IT */
    [249] = 30, /* JP */
    [264] = 31, /* KE */
    [277] = 32, /* KR */
    [305] = 33, /* LT */
    [306] = 34, /* LU */
    [307] = 35, /* LV */
    [312] = 36, /* MA */
    [335] = 37, /* MX */
    [336] = 38, /* MY */
    [344] = 39, /* NG */
    [349] = 40, /* NL */
    [352] = 41, /* NO */
    [363] = 42, /* NZ */
    [394] = 43, /* PE */
    [397] = 44, /* PH */
    [400] = 45, /* PK */
    [401] = 46, /* PL */
    [409] = 47, /* PT */
    [456] = 48, /* RO */
    [462] = 49, /* RU */
    [468] = 50, /* SA */
    [472] = 51, /* SE */
    [474] = 52, /* SG */
    [476] = 53, /* SI */
    [478] = 54, /* SK */
    [501] = 55, /* TH */
    [511] = 56, /* TR */
    [516] = 57, /* TW */
    [520] = 58, /* UA */
    [538] = 59, /* US */
    [559] = 60, /* VN */
    [650] = 61, /* ZA */
};
/* country code -> 1 + index in regions[] of its main region,
 * CC_NO_REGION for an assigned code without one, 0 = unassigned */
static const uint8_t cc_at[1000] = {
    [1] = 59, /* US */
    [7] = 49, /* RU */
    [20] = 15, /* EG */
    [27] = 61, /* ZA */
    [30] = 20, /* GR */
    [31] = 40, /* NL */
    [32] = 5, /* BE */
    [33] = 18, /* FR */
    [34] = 16, /* ES */
    [36] = 23, /* HU */
    [39] = 29, /* IT */
    [40] = 48, /* RO */
    [41] = 9, /* CH */
    [43] = 3, /* AT */
    [44] = 19, /* GB */
    [45] = 13, /* DK */
    [46] = 51, /* SE */
    [47] = 41, /* NO */
    [48] = 46, /* PL */
    [49] = 12, /* DE */
    [51] = 43, /* PE */
    [52] = 37, /* MX */
    [53] = CC_NO_REGION,
    [54] = 2, /* AR */
    [55] = 7, /* BR */
    [56] = CC_NO_REGION,
    [57] = CC_NO_REGION,
    [58] = CC_NO_REGION,
    [60] = 38, /* MY */
    [61] = 4, /* AU */
    [62] = 24, /* ID */
    [63] = 44, /* PH */
    [64] = 42, /* NZ */
    [65] = 52, /* SG */
    [66] = 55, /* TH */
    [81] = 30, /* JP */
    [82] = 32, /* KR */
    [84] = 60, /* VN */
    [86] = 10, /* CN */
    [90] = 56, /* TR */
    [91] = 27, /* IN */
    [92] = 45, /* PK */
    [93] = CC_NO_REGION,
    [94] = CC_NO_REGION,
    [95] = CC_NO_REGION,
    [98] = CC_NO_REGION,
    [211] = CC_NO_REGION,
    [212] = 36, /* MA */
    [213] = CC_NO_REGION,
    [216] = CC_NO_REGION,
    [218] = CC_NO_REGION,
    [220] = CC_NO_REGION,
    [221] = CC_NO_REGION,
    [222] = CC_NO_REGION,
    [223] = CC_NO_REGION,
    [224] = CC_NO_REGION,
    [225] = CC_NO_REGION,
    [226] = CC_NO_REGION,
    [227] = CC_NO_REGION,
    [228] = CC_NO_REGION,
    [229] = CC_NO_REGION,
    [230] = CC_NO_REGION,
    [231] = CC_NO_REGION,
    [232] = CC_NO_REGION,
    [233] = CC_NO_REGION,
    [234] = 39, /* NG */
    [235] = CC_NO_REGION,
    [236] = CC_NO_REGION,
    [237] = CC_NO_REGION,
    [238] = CC_NO_REGION,
    [239] = CC_NO_REGION,
    [240] = CC_NO_REGION,
    [241] = CC_NO_REGION,
    [242] = CC_NO_REGION,
    [243] = CC_NO_REGION,
    [244] = CC_NO_REGION,
    [245] = CC_NO_REGION,
    [246] = CC_NO_REGION,
    [247] = CC_NO_REGION,
    [248] = CC_NO_REGION,
    [249] = CC_NO_REGION,
    [250] = CC_NO_REGION,
    [251] = CC_NO_REGION,
    [252] = CC_NO_REGION,
    [253] = CC_NO_REGION,
    [254] = 31, /* KE */
    [255] = CC_NO_REGION,
    [256] = CC_NO_REGION,
    [257] = CC_NO_REGION,
    [258] = CC_NO_REGION,
    [260] = CC_NO_REGION,
    [261] = CC_NO_REGION,
    [262] = CC_NO_REGION,
    [263] = CC_NO_REGION,
    [264] = CC_NO_REGION,
    [265] = CC_NO_REGION,
    [266] = CC_NO_REGION,
    [267] = CC_NO_REGION,
    [268] = CC_NO_REGION,
    [269] = CC_NO_REGION,
    [290] = CC_NO_REGION,
    [291] = CC_NO_REGION,
    [297] = CC_NO_REGION,
    [298] = CC_NO_REGION,
    [299] = CC_NO_REGION,
    [350] = CC_NO_REGION,
    [351] = 47, /* PT */
    [352] = 34, /* LU */
    [353] = 25, /* IE */
    [354] = 28, /* IS */
    [355] = CC_NO_REGION,
    [356] = CC_NO_REGION,
    [357] = CC_NO_REGION,
    [358] = 17, /* FI */
    [359] = 6, /* BG */
    [370] = 33, /* LT */
    [371] = 35, /* LV */
    [372] = 14, /* EE */
    [373] = CC_NO_REGION,
    [374] = CC_NO_REGION,
    [375] = CC_NO_REGION,
    [376] = CC_NO_REGION,
    [377] = CC_NO_REGION,
    [378] = CC_NO_REGION,
    [380] = 58, /* UA */
    [381] = CC_NO_REGION,
    [382] = CC_NO_REGION,
    [383] = CC_NO_REGION,
    [385] = 22, /* HR */
    [386] = 53, /* SI */
    [387] = CC_NO_REGION,
    [389] = CC_NO_REGION,
    [420] = 11, /* CZ */
    [421] = 54, /* SK */
    [423] = CC_NO_REGION,
    [500] = CC_NO_REGION,
    [501] = CC_NO_REGION,
    [502] = CC_NO_REGION,
    [503] = CC_NO_REGION,
    [504] = CC_NO_REGION,
    [505] = CC_NO_REGION,
    [506] = CC_NO_REGION,
    [507] = CC_NO_REGION,
    [508] = CC_NO_REGION,
    [509] = CC_NO_REGION,
    [590] = CC_NO_REGION,
    [591] = CC_NO_REGION,
    [592] = CC_NO_REGION,
    [593] = CC_NO_REGION,
    [594] = CC_NO_REGION,
    [595] = CC_NO_REGION,
    [596] = CC_NO_REGION,
    [597] = CC_NO_REGION,
    [598] = CC_NO_REGION,
    [599] = CC_NO_REGION,
    [670] = CC_NO_REGION,
    [672] = CC_NO_REGION,
    [673] = CC_NO_REGION,
    [674] = CC_NO_REGION,
    [675] = CC_NO_REGION,
    [676] = CC_NO_REGION,
    [677] = CC_NO_REGION,
    [678] = CC_NO_REGION,
    [679] = CC_NO_REGION,
    [680] = CC_NO_REGION,
    [681] = CC_NO_REGION,
    [682] = CC_NO_REGION,
    [683] = CC_NO_REGION,
    [685] = CC_NO_REGION,
    [686] = CC_NO_REGION,
    [687] = CC_NO_REGION,
    [688] = CC_NO_REGION,
    [689] = CC_NO_REGION,
    [690] = CC_NO_REGION,
    [691] = CC_NO_REGION,
    [692] = CC_NO_REGION,
    [800] = CC_NO_REGION,
    [808] = CC_NO_REGION,
    [850] = CC_NO_REGION,
    [852] = 21, /* HK */
    [853] = CC_NO_REGION,
    [855] = CC_NO_REGION,
    [856] = CC_NO_REGION,
    [870] = CC_NO_REGION,
    [878] = CC_NO_REGION,
    [880] = CC_NO_REGION,
    [881] = CC_NO_REGION,
    [882] = CC_NO_REGION,
    [883] = CC_NO_REGION,
    [886] = 57, /* TW */
    [888] = CC_NO_REGION,
    [960] = CC_NO_REGION,
    [961] = CC_NO_REGION,
    [962] = CC_NO_REGION,
    [963] = CC_NO_REGION,
    [964] = CC_NO_REGION,
    [965] = CC_NO_REGION,
    [966] = 50, /* SA */
    [967] = CC_NO_REGION,
    [968] = CC_NO_REGION,
    [970] = CC_NO_REGION,
    [971] = 1, /* AE */
    [972] = 26, /* IL */
    [973] = CC_NO_REGION,
    [974] = CC_NO_REGION,
    [975] = CC_NO_REGION,
    [976] = CC_NO_REGION,
    [977] = CC_NO_REGION,
    [979] = CC_NO_REGION,
    [992] = CC_NO_REGION,
    [993] = CC_NO_REGION,
    [994] = CC_NO_REGION,
    [995] = CC_NO_REGION,
    [996] = CC_NO_REGION,
    [998] = CC_NO_REGION,
};
/* END generated */
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
    unsigned a, b;

    if (code == NULL || code[0] == '\0' || code[1] == '\0' || code[2] != '\0')
        return NULL;
    a = upper((unsigned char)code[0]) - 'A';
    b = upper((unsigned char)code[1]) - 'A';
    if (a >= 26 || b >= 26 || region_at[a * 26 + b] == 0)
        return NULL;
    return &regions[region_at[a * 26 + b] - 1];
}

const tsps__region *tsps__region_by_cc(unsigned cc)
{
    if (cc >= 1000 || cc_at[cc] == 0 || cc_at[cc] == CC_NO_REGION)
        return NULL;
    return &regions[cc_at[cc] - 1];
}

int tsps__cc_valid(unsigned cc)
{
    return cc < 1000 && cc_at[cc] != 0;
}

/* The lookup tables say what the readable tables say: every region code
 * finds its own entry and nothing else does; a country code is valid
 * exactly when ccs[] lists it, and maps to the region cc_regions[] names. */
int tsps__regions_selfcheck(void)
{
    char code[3] = "";
    for (unsigned i = 0; i < 26 * 26; i++) {
        const tsps__region *r;
        size_t want = NREGIONS;
        code[0] = (char)('A' + i / 26);
        code[1] = (char)('A' + i % 26);
        for (size_t k = 0; k < NREGIONS; k++)
            if (regions[k].code[0] == code[0] && regions[k].code[1] == code[1])
                want = k;
        r = tsps__region_find(code);
        if (want == NREGIONS ? r != NULL : r != &regions[want])
            return -1;
    }
    for (unsigned cc = 0; cc < 1000; cc++) {
        int listed = 0;
        const tsps__region *want = NULL;
        for (size_t k = 0; k < NCCS; k++)
            listed |= ccs[k] == cc;
        for (size_t k = 0; k < NCCREG; k++)
            if (cc_regions[k].cc == cc) {
                char c[3] = {cc_regions[k].code[0], cc_regions[k].code[1], 0};
                want = tsps__region_find(c);
                if (want == NULL || !listed)
                    return -2;
            }
        if (tsps__cc_valid(cc) != listed || tsps__region_by_cc(cc) != want)
            return -3;
    }
    return 0;
}

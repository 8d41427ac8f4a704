// Differential test: tsps_normalize() against libphonenumber (Parse, then
// Format E164) on generated numbers. Test-only; see docs/normalisation.md.
//
//   diff_phonenumber [--count N] [--seed S] [--max-unexpected-pct P] [-v]
//
// Every generated number is written in one of several forms (national,
// international, IDD prefix dialled from another region, punctuation,
// extensions, tel: URIs, (0) after the country code, invalid numbers),
// normalised by both, and the outcomes compared. A disagreement is either
// one of the documented, accepted classes or "unexpected"; the program
// fails if unexpected disagreements exceed the threshold.
#include <phonenumbers/phonenumberutil.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "tsps/tsps.h"
}

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace
{

const char *const kRegions[] = {"DE", "AT", "CH", "FR", "GB", "IE", "IT",
                                "ES", "NL", "SE", "PL", "HU", "RU", "US",
                                "CA", "MX", "BR", "AR", "AU", "JP", "KR",
                                "IN", "ZA", "SG", "NG", "TR"};
const size_t kNumRegions = sizeof(kRegions) / sizeof(kRegions[0]);

const char *const kCategories[] = {
    "national",      "national_digits", "international", "e164",
    "idd",           "punctuation",     "extension",     "tel_uri",
    "trunk_in_intl", "subscriber",      "invalid",       "phone_context",
    "cc_no_plus",    "double_plus",     "vanity",        "ext_word",
    "no_region"};
const size_t kNumCategories = sizeof(kCategories) / sizeof(kCategories[0]);

// Accepted classes of difference (documented in docs/normalisation.md).
enum Verdict {
    AGREE,
    ACC_LPN_WRONG,
    ACC_LOCAL,
    ACC_LPN_INVALID,
    ACC_EXT_WORD,
    ACC_CC_NATIONAL,
    UNEXPECTED,
    NVERDICTS
};
const char *const kVerdictNames[] = {"agree",       "lpn_wrong", "local",
                                     "lpn_invalid", "ext_word",  "cc_national",
                                     "unexpected"};

struct Rng {
    uint64_t s;
    uint64_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    size_t below(size_t n)
    {
        return (size_t)(next() % n);
    }
};

// The word for "extension" in the language of each region (libphonenumber
// knows only "ext", "extn", "extension", "anexo", "доб", "x", "#", "int").
const char *ExtWord(const std::string &region)
{
    static const std::map<std::string, const char *> words = {
        {"DE", "Durchwahl"},
        {"AT", "DW"},
        {"CH", "App."},
        {"FR", "poste"},
        {"IT", "interno"},
        {"ES", "extensi\xc3\xb3n"},
        {"NL", "toestel"},
        {"SE", "ankn."},
        {"PL", "wewn."},
        {"HU", "mell\xc3\xa9k"},
        {"RU", "\xd0\xb4\xd0\xbe\xd0\xb1."},
        {"MX", "ext."},
        {"BR", "ramal"},
        {"AR", "anexo"},
        {"JP", "\xe5\x86\x85\xe7\xb7\x9a"},
        {"KR", "\xeb\x82\xb4\xec\x84\xa0"},
        {"TR", "dahili"},
    };
    auto it = words.find(region);
    return it != words.end() ? it->second : "ext.";
}

// The number with its trailing digits 2-9 written as keypad letters
// ("+1 800 FLOWERS"); "" when fewer than three can be.
std::string Vanity(const std::string &cc, const std::string &nsn, Rng &rng)
{
    static const char *const keys[10] = {"",    "",    "ABC",  "DEF", "GHI",
                                         "JKL", "MNO", "PQRS", "TUV", "WXYZ"};
    std::string tail;
    size_t i = nsn.size();
    while (i > 0 && tail.size() < 7 && nsn[i - 1] >= '2') {
        const char *k = keys[nsn[i - 1] - '0'];
        tail.insert(tail.begin(), k[rng.below(strlen(k))]);
        i--;
    }
    if (tail.size() < 3)
        return "";
    return "+" + cc + " " + nsn.substr(0, i) + " " + tail;
}

struct Counts {
    unsigned n[NVERDICTS] = {0};
    unsigned total = 0;
};

std::string Digits(const std::string &s)
{
    std::string d;
    for (char c : s)
        if (c >= '0' && c <= '9')
            d += c;
    return d;
}

// Insert random visual separators between the digits of d.
std::string Punctuate(const std::string &d, Rng &rng)
{
    static const char *const seps[] = {" ", "-", ".", "/", " - "};
    std::string out;
    size_t group = 2 + rng.below(3);
    for (size_t i = 0; i < d.size(); i++) {
        if (i > 0 && i % group == 0)
            out += seps[rng.below(5)];
        out += d[i];
    }
    return out;
}

std::string ExtSuffix(const std::string &ext, Rng &rng)
{
    static const char *const forms[] = {
        " x", " ext. ", ";ext=", " ext ", " #", " extension "};
    return forms[rng.below(6)] + ext;
}

// A valid number of the region: an example number with its last digits
// randomised, kept only if libphonenumber still calls it valid.
bool MakeNumber(PhoneNumberUtil *u, const std::string &region, Rng &rng,
                PhoneNumber *out)
{
    static const PhoneNumberUtil::PhoneNumberType types[] = {
        PhoneNumberUtil::FIXED_LINE, PhoneNumberUtil::MOBILE,
        PhoneNumberUtil::TOLL_FREE};
    PhoneNumber ex;
    if (!u->GetExampleNumberForType(region, types[rng.below(3)], &ex) &&
        !u->GetExampleNumberForType(region, PhoneNumberUtil::FIXED_LINE, &ex))
        return false;
    std::string nsn;
    u->GetNationalSignificantNumber(ex, &nsn);
    for (int attempt = 0; attempt < 20; attempt++) {
        std::string t = nsn;
        for (size_t i = t.size() >= 4 ? t.size() - 4 : 0; i < t.size(); i++)
            t[i] = (char)('0' + rng.below(10));
        PhoneNumber cand;
        if (u->Parse("+" + std::to_string(ex.country_code()) + t, region,
                     &cand) == PhoneNumberUtil::NO_PARSING_ERROR &&
            u->IsValidNumberForRegion(cand, region)) {
            *out = cand;
            return true;
        }
    }
    *out = ex;
    return true;
}

// region "ZZ": no dial plan (tsps_normalize_intl; libphonenumber's
// unknown region).
std::string Ours(const std::string &in, const std::string &region)
{
    tsps_dialplan dp;
    tsps_number n;
    if (region == "ZZ") {
        if (tsps_normalize_intl(in.c_str(), &n) != TSPS_OK)
            return "ERR";
    } else if (tsps_dialplan_for_region(region.c_str(), &dp) != TSPS_OK) {
        return "NOREGION";
    } else if (tsps_normalize(in.c_str(), &dp, &n) != TSPS_OK) {
        return "ERR";
    }
    switch (n.kind) {
    case TSPS_NUM_E164:
        return std::string(n.e164) + (n.ext[0] ? std::string(";") + n.ext : "");
    case TSPS_NUM_LOCAL:
        return std::string("LOCAL:") + n.e164;
    default:
        return "WITHHELD";
    }
}

// libphonenumber's reading; *valid is its own IsValidNumber() verdict on
// what Parse() returned (Parse accepts numbers its metadata rejects).
std::string Theirs(PhoneNumberUtil *u, const std::string &in,
                   const std::string &region, bool *valid)
{
    PhoneNumber n;
    std::string out;
    *valid = false;
    if (u->Parse(in, region, &n) != PhoneNumberUtil::NO_PARSING_ERROR)
        return "ERR";
    *valid = u->IsValidNumber(n);
    u->Format(n, PhoneNumberUtil::E164, &out);
    if (n.has_extension() && !n.extension().empty())
        out += ";" + n.extension();
    return out;
}

// truth: the generated number (E.164 and extension), "" when unknown.
Verdict Judge(const char *cat, const std::string &in, const std::string &cc,
              const std::string &truth, const std::string &ours,
              const std::string &theirs, bool valid)
{
    if (ours == theirs)
        return AGREE;
    // an extension word libphonenumber does not know: it reads the word's
    // letters as a vanity number or drops the extension
    if (!strcmp(cat, "ext_word") && !truth.empty() && ours == truth)
        return ACC_EXT_WORD;
    // the country code without "+": libphonenumber decides by its number
    // patterns, tsps by length; accepted where tsps reads the number that
    // was written and libphonenumber's reading fails its own validity check
    if (!strcmp(cat, "cc_no_plus") && ours == truth && !valid)
        return ACC_LPN_WRONG;
    // ... and where its patterns admit national numbers that start with
    // the country code (DE, SE, NL), it reads all the digits as one
    // national number: tsps reads the country code that was written
    if (!strcmp(cat, "cc_no_plus") && ours == truth &&
        theirs == "+" + cc + Digits(in))
        return ACC_CC_NATIONAL;
    if (!truth.empty() && ours == truth && strcmp(cat, "cc_no_plus") != 0)
        return ACC_LPN_WRONG;
    if (ours.compare(0, 6, "LOCAL:") == 0 && theirs != "ERR")
        return ACC_LOCAL;
    if (ours == "ERR" && theirs != "ERR" && !valid)
        return ACC_LPN_INVALID;
    return UNEXPECTED;
}

} // namespace

int main(int argc, char **argv)
{
    unsigned count = 5000;
    uint64_t seed = 20261125;
    double max_unexpected_pct = 0.2;
    bool verbose = false;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = (unsigned)strtoul(argv[++i], nullptr, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], nullptr, 10);
        else if (!strcmp(argv[i], "--max-unexpected-pct") && i + 1 < argc)
            max_unexpected_pct = strtod(argv[++i], nullptr);
        else if (!strcmp(argv[i], "-v"))
            verbose = true;
        else {
            fprintf(stderr,
                    "usage: %s [--count N] [--seed S] "
                    "[--max-unexpected-pct P] [-v]\n",
                    argv[0]);
            return 2;
        }
    }

    PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
    Rng rng{seed ? seed : 1};
    std::map<std::string, Counts> by_region, by_category;
    Counts all;

    for (unsigned i = 0; i < count; i++) {
        std::string region = kRegions[i % kNumRegions];
        const char *cat = kCategories[(i / kNumRegions) % kNumCategories];
        std::string parse_region = region;
        PhoneNumber pn;
        if (!MakeNumber(u, region, rng, &pn))
            continue;
        std::string cc = std::to_string(pn.country_code());
        std::string nsn, natfmt, intlfmt, e164, in, truth;
        u->GetNationalSignificantNumber(pn, &nsn);
        u->Format(pn, PhoneNumberUtil::NATIONAL, &natfmt);
        u->Format(pn, PhoneNumberUtil::INTERNATIONAL, &intlfmt);
        u->Format(pn, PhoneNumberUtil::E164, &e164);
        tsps_dialplan dp;
        tsps_dialplan_for_region(region.c_str(), &dp);

        if (!strcmp(cat, "national")) {
            in = natfmt;
        } else if (!strcmp(cat, "national_digits")) {
            in = Digits(natfmt);
        } else if (!strcmp(cat, "international")) {
            in = intlfmt;
        } else if (!strcmp(cat, "e164")) {
            in = e164;
        } else if (!strcmp(cat, "idd")) {
            // dialled from another region, with that region's prefix
            parse_region = kRegions[rng.below(kNumRegions)];
            tsps_dialplan from;
            tsps_dialplan_for_region(parse_region.c_str(), &from);
            in = std::string(from.intl) + " " + cc + " " + nsn;
        } else if (!strcmp(cat, "punctuation")) {
            in = rng.below(2) ? "+" + Punctuate(cc + nsn, rng)
                              : Punctuate(Digits(natfmt), rng);
            if (rng.below(3) == 0 && in[0] != '+')
                in = "(" + in.substr(0, 3) + ") " + in.substr(3);
        } else if (!strcmp(cat, "extension")) {
            std::string ext = std::to_string(1 + rng.below(9999));
            in = (rng.below(2) ? natfmt : intlfmt) + ExtSuffix(ext, rng);
        } else if (!strcmp(cat, "tel_uri")) {
            u->Format(pn, PhoneNumberUtil::RFC3966, &in);
            if (rng.below(2))
                in += ";ext=" + std::to_string(1 + rng.below(999));
        } else if (!strcmp(cat, "trunk_in_intl")) {
            // "+44 (0)20 ..."; in plans without a trunk prefix (Italy) a
            // leading 0 is part of the number and the form is just "+cc nsn"
            in =
                dp.trunk[0] ? "+" + cc + " (" + dp.trunk + ") " + nsn : intlfmt;
        } else if (!strcmp(cat, "subscriber")) {
            // a subscriber number without its area code (taken as the
            // last 7 digits): not resolvable without guessing
            in = Punctuate(nsn.size() > 7 ? nsn.substr(nsn.size() - 7) : nsn,
                           rng);
        } else if (!strcmp(cat, "phone_context")) {
            // RFC 3966 local number in a global context: the context is
            // the country code, or the country code and the first digits
            size_t split = rng.below(2) ? 0 : std::min<size_t>(2, nsn.size());
            in = "tel:" + Punctuate(nsn.substr(split), rng) +
                 (rng.below(2) ? ";ext=" + std::to_string(1 + rng.below(99))
                               : "") +
                 ";phone-context=+" + cc + (split ? "-" : "") +
                 nsn.substr(0, split);
        } else if (!strcmp(cat, "cc_no_plus")) {
            // the country code written without "+" or IDD prefix, read in
            // the number's own region (libphonenumber decides by length
            // and pattern whether it is a country code)
            in = cc + " " +
                 (rng.below(3) == 0 && dp.trunk[0] ? std::string(dp.trunk) + " "
                                                   : std::string()) +
                 Punctuate(nsn, rng);
        } else if (!strcmp(cat, "double_plus")) {
            in = "++" + intlfmt.substr(1);
        } else if (!strcmp(cat, "vanity")) {
            in = Vanity(cc, nsn, rng);
            if (in.empty())
                in = intlfmt;
        } else if (!strcmp(cat, "ext_word")) {
            std::string ext = std::to_string(1 + rng.below(999));
            in = natfmt + " " + ExtWord(region) + " " + ext;
        } else if (!strcmp(cat, "no_region")) {
            // no dial plan: international forms only
            parse_region = "ZZ";
            switch (rng.below(4)) {
            case 0:
                in = intlfmt;
                break;
            case 1:
                u->Format(pn, PhoneNumberUtil::RFC3966, &in);
                break;
            case 2:
                in = "tel:" + nsn + ";phone-context=+" + cc;
                break;
            default:
                in = natfmt; // meaningless without a plan: both refuse
                break;
            }
        } else { // invalid
            switch (rng.below(6)) {
            case 4:
                in = "tel:";
                break;
            case 5:
                in = "sip:@example.com";
                break;
            case 0:
                in = "+999 " + nsn;
                break;
            case 1:
                in = "+" + cc + " " + nsn.substr(0, 2);
                break;
            case 2:
                in = "+" + cc + " " + nsn + nsn;
                break;
            default:
                in = "+" + cc + " " + nsn.substr(0, 3) + " CALL-NOW";
                break;
            }
        }

        if (!strcmp(cat, "ext_word")) {
            truth = e164 + ";" + in.substr(in.rfind(' ') + 1);
        } else if (!strcmp(cat, "no_region") && in == natfmt) {
            truth = "ERR";
        } else if (strcmp(cat, "invalid") != 0 &&
                   strcmp(cat, "subscriber") != 0) {
            truth = e164;
            size_t cut = std::string::npos;
            for (const char *m : {"ext=", " x", " ext", " #", " extension "})
                if (in.find(m) != std::string::npos)
                    cut = in.find(m);
            if (cut != std::string::npos) {
                size_t end = in.find(';', cut + 1);
                truth += ";" + Digits(in.substr(cut, end == std::string::npos
                                                         ? std::string::npos
                                                         : end - cut));
            }
        }
        bool valid;
        std::string ours = Ours(in, parse_region);
        std::string theirs = Theirs(u, in, parse_region, &valid);
        Verdict v = Judge(cat, in, cc, truth, ours, theirs, valid);
        by_region[region].n[v]++;
        by_region[region].total++;
        by_category[cat].n[v]++;
        by_category[cat].total++;
        all.n[v]++;
        all.total++;
        if (verbose || v == UNEXPECTED)
            printf("%-10s %s %-16s %-40s tsps=%-22s lpn=%s\n", kVerdictNames[v],
                   parse_region.c_str(), cat, in.c_str(), ours.c_str(),
                   theirs.c_str());
    }

    auto table = [](const char *title, const std::map<std::string, Counts> &m) {
        printf("\n%-16s %6s %6s", title, "total", "agree");
        for (int v = 1; v < NVERDICTS; v++)
            printf(" %12s", kVerdictNames[v]);
        printf("\n");
        for (const auto &kv : m) {
            printf("%-16s %6u %6u", kv.first.c_str(), kv.second.total,
                   kv.second.n[AGREE]);
            for (int v = 1; v < NVERDICTS; v++)
                printf(" %12u", kv.second.n[v]);
            printf("\n");
        }
    };
    table("region", by_region);
    table("category", by_category);

    double agree_pct = all.total ? 100.0 * all.n[AGREE] / all.total : 0;
    double unexp_pct = all.total ? 100.0 * all.n[UNEXPECTED] / all.total : 0;
    printf("\nnumbers=%u\nagree=%u\nagree_pct=%.2f\n", all.total, all.n[AGREE],
           agree_pct);
    for (int v = 1; v < NVERDICTS; v++)
        printf("%s=%u\n", kVerdictNames[v], all.n[v]);
    printf("unexpected_pct=%.2f (threshold %.2f)\n", unexp_pct,
           max_unexpected_pct);
    if (all.total < 2000) {
        printf("FAIL: fewer than 2000 numbers\n");
        return 1;
    }
    if (unexp_pct > max_unexpected_pct) {
        printf("FAIL: unexpected disagreements above threshold\n");
        return 1;
    }
    return 0;
}

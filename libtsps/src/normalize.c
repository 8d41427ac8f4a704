/* E.164 normalisation: a number as written, dialled or signalled, read in
 * the dial plan of one party, to "+<cc><nsn>" (see docs/normalisation.md).
 *
 * This is on the routing hot path: no allocation, no locale-dependent calls
 * (no ctype, no strcasecmp), no snprintf; one pass over at most 256 bytes. */
#include "internal.h"
#include "regions.h"

#define IN_MAX  256 /* longer input is refused unread */
#define DIG_MAX 24  /* digits incl. prefixes: 0011 + carrier + 15 */

/* The dial plan of the party whose view the number is in. */
typedef struct plan {
    char cc[4];
    size_t cclen;
    const char *trunk;
    size_t tlen;
    const char *intl;
    size_t ilen;
    const tsps__region *rg; /* table extras; NULL for a custom plan */
    int none;               /* no dial plan: international forms only */
} plan;

/* What the scanner collected from the number part. */
typedef struct scan {
    char d[DIG_MAX];
    size_t nd;
    int plus;
    char ext[TSPS_EXT_MAX];
    size_t next;
    int nalpha; /* vanity letters turned into digits */
    /* tel: ";phone-context=+..." (a global number context): its digits
     * go before the local number's */
    char ctx[DIG_MAX];
    size_t nctx;
} scan;

/* Only the counters: the arrays are valid up to them. */
static void scan_init(scan *sc)
{
    sc->nd = 0;
    sc->plus = 0;
    sc->next = 0;
    sc->ext[0] = '\0';
    sc->nalpha = 0;
    sc->nctx = 0;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Length of lit if s[0..n) starts with it, ignoring ASCII case; else 0.
 * lit is lower case. */
static size_t iprefix(const char *s, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; lit[i] != '\0'; i++)
        if (i >= n || lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return i;
}

static int ieq(const char *s, size_t n, const char *lit)
{
    return iprefix(s, n, lit) == n && lit[n] == '\0';
}

/* The words carriers and PBXes put where a withheld number would be. */
static int withheld_word(const char *s, size_t n)
{
    static const char *const words[] = {
        "anonymous", "restricted", "unavailable",      "private",
        "withheld",  "unknown",    "anonymous.invalid"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (ieq(s, n, words[i]))
            return 1;
    return 0;
}

/* Decode one UTF-8 sequence (strict: no overlongs, no surrogates). Returns
 * its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len, i;
    uint32_t v, min;

    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Non-ASCII characters that may appear in a written number: returns the
 * ASCII digit or '+' they stand for, ' ' for a visual separator, 0 for
 * anything else. */
static char unicode_class(uint32_t cp)
{
    if (cp >= 0xFF10 && cp <= 0xFF19) /* fullwidth digits */
        return (char)('0' + (cp - 0xFF10));
    if (cp >= 0x0660 && cp <= 0x0669) /* Arabic-Indic digits */
        return (char)('0' + (cp - 0x0660));
    if (cp >= 0x06F0 && cp <= 0x06F9) /* Eastern Arabic-Indic digits */
        return (char)('0' + (cp - 0x06F0));
    if (cp == 0xFF0B) /* fullwidth plus */
        return '+';
    if (cp == 0x00A0 || cp == 0x00AD || (cp >= 0x2000 && cp <= 0x200B) ||
        (cp >= 0x2010 && cp <= 0x2015) || cp == 0x202F || cp == 0x205F ||
        cp == 0x2060 || cp == 0x2212 || cp == 0x3000 || cp == 0xFEFF ||
        (cp >= 0xFF08 && cp <= 0xFF09) || (cp >= 0xFF0D && cp <= 0xFF0F))
        return ' ';
    return 0;
}

/* Extension digits: "12", "1-2" in URI parameters. Leading "=", ":", "."
 * and blanks are skipped; one trailing '#' (DTMF terminator) is allowed. */
static int parse_ext(const char *s, size_t n, int seps, scan *sc)
{
    size_t i = 0;

    if (sc->next > 0)
        return TSPS_ENUMBER; /* two extensions */
    while (i < n && (is_ws((unsigned char)s[i]) || s[i] == '.' || s[i] == ':' ||
                     s[i] == '='))
        i++;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c)) {
            if (sc->next >= TSPS_EXT_MAX - 1)
                return TSPS_ENUMBER;
            sc->ext[sc->next++] = (char)c;
        } else if (seps && (c == '-' || c == '.' || c == '(' || c == ')')) {
            continue;
        } else {
            break;
        }
    }
    if (i < n && s[i] == '#')
        i++;
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    if (i != n || sc->next == 0)
        return TSPS_ENUMBER;
    sc->ext[sc->next] = '\0';
    return TSPS_OK;
}

/* Length of an extension marker at s, 0 if none. The words are those of
 * libphonenumber (ext, extn, extension, extensión, anexo, доб, int, x, #,
 * ~) and the ones written in the languages of the regions table, longest
 * first where one starts another. Lower case; UTF-8 compared as bytes. */
static size_t ext_marker(const char *s, size_t n)
{
    /* clang-format off */
    static const char *const marks[] = {
        ";ext=", "extension", "extensi\xc3\xb3n", "extensio", "extn", "ext",
        "x", "#", "~",                               /* the usual ones */
        "durchwahl", "durchw", "dw", "app",          /* de */
        "poste",                                     /* fr */
        "interno", "int",                            /* it, lpn */
        "anexo", "ramal",                            /* es, pt */
        "toestel", "tst",                            /* nl */
        "anknytning", "ankn",                        /* sv */
        "lokalnummer", "lokal",                      /* da, no */
        "wewn", "wew",                               /* pl */
        "linka", "kl",                               /* cs, sk */
        "mell\xc3\xa9k",                             /* hu */
        "dahili",                                    /* tr */
        "\xd0\xb4\xd0\xbe\xd0\xb1",                    /* ru: доб */
        "\xd0\x94\xd0\xbe\xd0\xb1",                    /* Доб */
        "\xd0\xb4\xd0\xbe\xd0\xb4",                    /* uk: дод */
        "\xce\xb5\xcf\x83\xcf\x89\xcf\x84",            /* el: εσωτ */
        "\xe5\x86\x85\xe7\xb7\x9a",                    /* ja: 内線 */
        "\xe5\x88\x86\xe6\x9c\xba",                    /* zh: 分机 */
        "\xe5\x88\x86\xe6\xa9\x9f",                    /* zh: 分機 */
        "\xeb\x82\xb4\xec\x84\xa0"};                   /* ko: 내선 */
    /* clang-format on */
    size_t k;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        if ((unsigned char)marks[i][0] != lower((unsigned char)s[0]))
            continue; /* most words fail on the first byte */
        k = iprefix(s, n, marks[i]);
        if (k > 0)
            return k;
    }
    for (k = 0; k < n && s[k] == ','; k++)
        ; /* ",," is the dialler's pause before an extension */
    return k;
}

/* The keypad digit of an ASCII letter (ITU E.161), 0 if not a letter. */
static char keypad(unsigned char c)
{
    static const char keys[] = "22233344455566677778889999";
    c = lower(c);
    return c >= 'a' && c <= 'z' ? keys[c - 'a'] : 0;
}

/* Collect the digits of a written number; an extension ends it. Letters
 * after the first three digits are a vanity number ("1-800-MY-APPLE") and
 * become keypad digits when there are at least three of them, as
 * libphonenumber reads them; fewer letters are not a number. */
static int scan_number(const char *s, size_t n, scan *sc)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t at = i;
        char cls = 0;

        if (c < 0x80) {
            cls = (char)c;
            i++;
        } else {
            uint32_t cp;
            size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
            if (len == 0)
                return TSPS_ENUMBER; /* bad UTF-8 */
            cls = unicode_class(cp);
            i += len;
        }
        if (is_digit((unsigned char)cls)) {
            if (sc->nd >= DIG_MAX)
                return TSPS_ENUMBER;
            sc->d[sc->nd++] = cls;
            continue;
        }
        switch (cls) {
        case ' ':
        case '\t':
        case '-':
        case '.':
        case '(':
        case ')':
        case '/':
        case '[':
        case ']':
            continue;
        case '+':
            /* "++49 ..." as libphonenumber: any pluses before the digits */
            if (sc->nd > 0)
                return TSPS_ENUMBER;
            sc->plus = 1;
            continue;
        default:
            break;
        }
        if (sc->nd > 0) {
            size_t k = ext_marker(s + at, n - at);
            if (k > 0) {
                if (parse_ext(s + at + k, n - at - k, 0, sc) == TSPS_OK)
                    return sc->nalpha == 0 || sc->nalpha >= 3 ? TSPS_OK
                                                              : TSPS_ENUMBER;
                sc->next = 0; /* not an extension after all */
                sc->ext[0] = '\0';
            }
        }
        if (c < 0x80 && keypad(c) != 0 && sc->nd >= 3) {
            if (sc->nd >= DIG_MAX)
                return TSPS_ENUMBER;
            sc->d[sc->nd++] = keypad(c);
            sc->nalpha++;
            continue;
        }
        return TSPS_ENUMBER; /* letters and other punctuation */
    }
    return sc->nalpha == 0 || sc->nalpha >= 3 ? TSPS_OK : TSPS_ENUMBER;
}

/* The digits of a global number context ("+1-914-555"; RFC 3966 5.1.5:
 * digits and visual separators after the "+"). */
static int context_digits(const char *s, size_t n, scan *sc)
{
    sc->nctx = 0;
    for (size_t i = 1; i < n; i++) {
        if (is_digit((unsigned char)s[i])) {
            if (sc->nctx >= sizeof(sc->ctx))
                return TSPS_ENUMBER;
            sc->ctx[sc->nctx++] = s[i];
        } else if (s[i] != '-' && s[i] != '.' && s[i] != '(' && s[i] != ')') {
            return TSPS_ENUMBER;
        }
    }
    return sc->nctx > 0 ? TSPS_OK : TSPS_ENUMBER;
}

/* ";ext=12;isub=..;phone-context=.." of tel: URIs and SIP user parts:
 * take ext and a global phone-context, ignore the rest (a domain context
 * says nothing about the digits: the number is read in the plan). */
static int uri_params(const char *s, size_t n, scan *sc)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i + 1, k;
        int rc = TSPS_OK;
        while (j < n && s[j] != ';')
            j++;
        if (iprefix(s + i, j - i, ";ext=") > 0)
            rc = parse_ext(s + i + 5, j - i - 5, 1, sc);
        else if ((k = iprefix(s + i, j - i, ";phone-context=")) > 0 &&
                 i + k < j && s[i + k] == '+')
            rc = context_digits(s + i + k, j - i - k, sc);
        if (rc != TSPS_OK)
            return rc;
        i = j;
    }
    return TSPS_OK;
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Undo URI %-escapes ("%2B49..."); dst holds at least n bytes. */
static int pct_decode(const char *s, size_t n, char *dst, size_t *dn)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return TSPS_ENUMBER;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return TSPS_ENUMBER;
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    *dn = o;
    return TSPS_OK;
}

static unsigned digits_value(const char *d, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

/* Does d start with pattern p ('X' = any digit, ends at '|' or NUL)? */
static size_t match_prefix(const char *d, size_t nd, const char *p)
{
    size_t i;
    for (i = 0; p[i] != '\0' && p[i] != '|'; i++)
        if (i >= nd || (p[i] != 'X' && p[i] != d[i]))
            return 0;
    return i;
}

/* Brazil dials a 2-digit carrier selection code after 00 and after the
 * national 0 (Anatel list, as in libphonenumber). */
static int br_carrier(const char *d, size_t nd)
{
    static const char codes[] = "12141521222325314143556599";
    if (nd < 2)
        return 0;
    for (size_t i = 0; codes[i] != '\0'; i += 2)
        if (d[0] == codes[i] && d[1] == codes[i + 1])
            return 1;
    return 0;
}

/* Length of an international (IDD) prefix at the start of d, 0 if none. */
static size_t intl_prefix(const char *d, size_t nd, const plan *pl)
{
    const tsps__region *rg = pl->rg;
    size_t k = 0;

    if (pl->ilen > 0 && nd > pl->ilen && memcmp(d, pl->intl, pl->ilen) == 0)
        k = pl->ilen;
    if (k == 0 && rg != NULL && rg->alt_intl != NULL) {
        const char *p = rg->alt_intl;
        for (;;) {
            k = match_prefix(d, nd, p);
            if (k > 0 && nd > k)
                break;
            k = 0;
            p = strchr(p, '|');
            if (p == NULL)
                break;
            p++;
        }
    }
    if (k == 0 && nd > 2 && d[0] == '0' && d[1] == '0') {
        int no00 = rg != NULL ? (rg->flags & TSPS__RG_NO_00) != 0
                              : (pl->cclen == 1 && pl->cc[0] == '1');
        if (!no00)
            k = 2;
    }
    if (k > 0 && rg != NULL && (rg->flags & TSPS__RG_BR) != 0 &&
        br_carrier(d + k, nd - k))
        k += 2;
    return k;
}

/* Write "+<cc><nsn>" after checking the length of the NSN. */
static int emit_e164(const char *cc, size_t cclen, const char *nsn, size_t n,
                     int intl, tsps_number *out)
{
    const tsps__region *rg = tsps__region_by_cc(digits_value(cc, cclen));
    size_t min = 4, max = 15 - cclen;

    if (rg != NULL) {
        size_t tl = strlen(rg->trunk);
        /* "+49 (0)30 ..." and "+44 020 ...": a national prefix written
         * after the country code. Never for Italy and other plans without
         * one, where a leading 0 is part of the number. */
        if (intl && tl > 0 && n >= tl + rg->nsn_min &&
            memcmp(nsn, rg->trunk, tl) == 0) {
            nsn += tl;
            n -= tl;
        }
        /* Mexico's mobile "1" after +52, dropped in 2019. */
        if (intl && (rg->flags & TSPS__RG_MX) != 0 && n == 11 &&
            nsn[0] == '1') {
            nsn++;
            n--;
        }
        /* Where the trunk prefix is 0, no national number starts with 0
         * ("0049..." dialled in Japan, where 00 is not international). */
        if (rg->trunk[0] == '0' && n > 0 && nsn[0] == '0')
            return TSPS_ENUMBER;
        if (rg->nsn_min > min)
            min = rg->nsn_min;
        if (rg->nsn_max < max)
            max = rg->nsn_max;
    }
    if (n < min || n > max)
        return TSPS_ENUMBER;
    out->kind = TSPS_NUM_E164;
    out->e164[0] = '+';
    memcpy(out->e164 + 1, cc, cclen);
    memcpy(out->e164 + 1 + cclen, nsn, n);
    out->e164[1 + cclen + n] = '\0';
    return TSPS_OK;
}

static int classify_intl(const char *d, size_t nd, tsps_number *out)
{
    if (d[0] == '0')
        return TSPS_ENUMBER; /* no country code starts with 0 */
    for (size_t l = 1; l <= 3 && l < nd; l++)
        if (tsps__cc_valid(digits_value(d, l)))
            return emit_e164(d, l, d + l, nd - l, 1, out);
    return TSPS_ENUMBER; /* "+999...", "+0..." */
}

/* Argentina writes mobiles nationally as 0 + area code + 15 + number
 * ("011 15-2345-6789"); internationally they are +54 9 + area code + number.
 * Area codes have 2 (only 11), 3 or 4 digits and area code + number make
 * 10 digits, so a 12-digit national number holds "15" after its area code. */
static int ar_mobile(const plan *pl, const char *d, size_t nd, tsps_number *out)
{
    char nsn[11];
    size_t k;

    if (d[0] == '1' && d[1] == '1')
        k = 2;
    else if (d[3] == '1' && d[4] == '5')
        k = 3;
    else
        k = 4;
    if (d[k] != '1' || d[k + 1] != '5')
        return TSPS_ENUMBER;
    nsn[0] = '9';
    memcpy(nsn + 1, d, k);
    memcpy(nsn + 1 + k, d + k + 2, nd - k - 2);
    return emit_e164(pl->cc, pl->cclen, nsn, nd - 1, 0, out);
}

static int classify(const scan *sc, const plan *pl, tsps_number *out)
{
    const tsps__region *rg = pl->rg;
    const char *d = sc->d;
    size_t nd = sc->nd, k;

    if (nd == 0)
        return TSPS_ENUMBER;
    if (sc->plus)
        return classify_intl(d, nd, out);
    if (sc->nctx > 0) {
        /* a local number in a global context: the context's digits, then
         * the number's ("tel:1234567;phone-context=+49-30") */
        char g[2 * DIG_MAX];
        memcpy(g, sc->ctx, sc->nctx);
        memcpy(g + sc->nctx, d, nd);
        return classify_intl(g, sc->nctx + nd, out);
    }
    if (pl->none)
        return TSPS_ENUMBER; /* no dial plan: only international forms */
    k = intl_prefix(d, nd, pl);
    if (k > 0)
        return classify_intl(d + k, nd - k, out);
    /* The plan's country code written without "+" ("44 20 7946 0000" in
     * GB, "33 0 1 23 45 67 89" in FR). libphonenumber takes it as the
     * country code when the digits are too long for a national number, or
     * when they are not a national number by its patterns and what follows
     * the code (without a trunk prefix) is. tsps judges by length: too
     * long, or what follows the code (without a trunk prefix) has the
     * length of a national number of the country. */
    if (rg != NULL && nd > pl->cclen && memcmp(d, pl->cc, pl->cclen) == 0) {
        size_t rest = nd - pl->cclen;
        if (pl->tlen > 0 && rest > pl->tlen &&
            memcmp(d + pl->cclen, pl->trunk, pl->tlen) == 0)
            rest -= pl->tlen;
        if (nd > rg->nsn_max || (rest >= rg->nsn_min && rest <= rg->nsn_max))
            return emit_e164(pl->cc, pl->cclen, d + pl->cclen, nd - pl->cclen,
                             1, out);
    }
    if (rg != NULL && (rg->flags & TSPS__RG_MX) != 0) {
        /* Mexico's national prefixes 01/02/044/045 and the mobile 1 are
         * gone since 2019 but still written; drop them when what is left
         * has the 10 digits of a Mexican number. */
        if (nd == 12 && d[0] == '0' && (d[1] == '1' || d[1] == '2'))
            k = 2;
        else if (nd == 13 && d[0] == '0' && d[1] == '4' &&
                 (d[2] == '4' || d[2] == '5'))
            k = 3;
        else if (nd == 11 && d[0] == '1')
            k = 1;
        return emit_e164(pl->cc, pl->cclen, d + k, nd - k, 0, out);
    }
    if (pl->tlen > 0 && nd >= pl->tlen && memcmp(d, pl->trunk, pl->tlen) == 0) {
        d += pl->tlen;
        nd -= pl->tlen;
        if (rg != NULL && (rg->flags & TSPS__RG_AR) != 0 && nd == 12)
            return ar_mobile(pl, d, nd, out);
        if (rg != NULL && (rg->flags & TSPS__RG_BR) != 0 &&
            (nd == 12 || nd == 13) && br_carrier(d, nd)) {
            d += 2;
            nd -= 2;
        }
        return emit_e164(pl->cc, pl->cclen, d, nd, 0, out);
    }
    if (pl->tlen > 0 && nd >= 2) {
        /* Neither prefix in a plan with a trunk prefix: a subscriber number
         * without its area code (open plans) or a short/internal number. */
        size_t local_max = rg != NULL ? rg->local_max : 0;
        size_t nsn_min = rg != NULL ? rg->nsn_min : 4;
        if (nd <= local_max || nd < nsn_min) {
            out->kind = TSPS_NUM_LOCAL;
            memcpy(out->e164, d, nd);
            out->e164[nd] = '\0';
            return TSPS_OK;
        }
    }
    /* No trunk prefix in this plan (IT, ES, DK ...) or an NSN written
     * without it: the digits are the national significant number. */
    return emit_e164(pl->cc, pl->cclen, d, nd, 0, out);
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int plan_init(const tsps_dialplan *dp, plan *pl)
{
    const tsps__region *rg = tsps__region_find(dp->region);
    size_t cclen = strnlen(dp->cc, sizeof(dp->cc));

    if (cclen == 0) {
        if (rg == NULL)
            return TSPS_EINVAL;
        memcpy(pl->cc, rg->cc, sizeof(pl->cc));
        pl->cclen = strlen(rg->cc);
        pl->trunk = rg->trunk;
        pl->intl = rg->intl;
    } else {
        if (cclen > 3 || !all_digits(dp->cc, cclen) || dp->cc[0] == '0' ||
            !tsps__cc_valid(digits_value(dp->cc, cclen)))
            return TSPS_EINVAL;
        memcpy(pl->cc, dp->cc, cclen);
        pl->cc[cclen] = '\0';
        pl->cclen = cclen;
        pl->trunk = dp->trunk;
        pl->intl = dp->intl;
        /* A plan that changes the country's code is custom: no extras. */
        if (rg != NULL && rg->ccn != digits_value(dp->cc, cclen))
            rg = NULL;
    }
    pl->tlen = strnlen(pl->trunk, sizeof(dp->trunk));
    pl->ilen = strnlen(pl->intl, sizeof(dp->intl));
    if (pl->tlen >= sizeof(dp->trunk) || pl->ilen >= sizeof(dp->intl) ||
        !all_digits(pl->trunk, pl->tlen) || !all_digits(pl->intl, pl->ilen))
        return TSPS_EINVAL;
    pl->rg = rg;
    pl->none = 0;
    return TSPS_OK;
}

int tsps_dialplan_for_region(const char *region, tsps_dialplan *out)
{
    const tsps__region *rg;

    if (out == NULL)
        return TSPS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (region == NULL)
        return TSPS_EINVAL;
    rg = tsps__region_find(region);
    if (rg == NULL)
        return TSPS_EREGION;
    memcpy(out->region, rg->code, sizeof(out->region));
    memcpy(out->cc, rg->cc, sizeof(out->cc));
    memcpy(out->trunk, rg->trunk, sizeof(rg->trunk));
    memcpy(out->intl, rg->intl, sizeof(rg->intl));
    return TSPS_OK;
}

static int withheld(tsps_number *out)
{
    out->kind = TSPS_NUM_WITHHELD;
    return TSPS_OK;
}

/* "tel:" / "sip:" / "sips:" URIs: the number is the telephone-subscriber
 * (tel) or the user part (SIP, with or without ";user=phone"). */
static int normalize_uri(const char *s, size_t n, int is_sip, const plan *pl,
                         tsps_number *out)
{
    char buf[IN_MAX];
    scan sc;
    size_t end = n, num_end, blen;
    int rc;

    scan_init(&sc);
    if (is_sip) {
        const char *at = memchr(s, '@', n);
        const char *colon;
        if (at == NULL)
            return TSPS_ENUMBER; /* no user part: not a number */
        end = (size_t)(at - s);
        colon = memchr(s, ':', end); /* user:password */
        if (colon != NULL)
            end = (size_t)(colon - s);
    }
    for (num_end = 0; num_end < end && s[num_end] != ';'; num_end++)
        ;
    rc = pct_decode(s, num_end, buf, &blen);
    if (rc != TSPS_OK)
        return rc;
    if (blen == 0)
        return TSPS_ENUMBER; /* "tel:", "sip:@host": no number at all */
    if (withheld_word(buf, blen))
        return withheld(out);
    rc = scan_number(buf, blen, &sc);
    if (rc == TSPS_OK)
        rc = uri_params(s + num_end, end - num_end, &sc);
    if (rc != TSPS_OK)
        return rc;
    rc = classify(&sc, pl, out);
    if (rc == TSPS_OK)
        memcpy(out->ext, sc.ext, sc.next + 1);
    return rc;
}

static int normalize(const char *input, const tsps_dialplan *dp,
                     tsps_number *out)
{
    plan pl;
    scan sc;
    const char *s = input, *lt, *gt;
    size_t n, k;
    int rc;

    if (dp != NULL) {
        rc = plan_init(dp, &pl);
        if (rc != TSPS_OK)
            return rc;
    } else {
        memset(&pl, 0, sizeof(pl));
        pl.trunk = pl.intl = "";
        pl.none = 1;
    }
    if (input == NULL)
        return withheld(out);
    /* Fast path: "+<digits>", as most carriers signal and as the engine
     * stores numbers; the general path below gives the same result. */
    if (input[0] == '+') {
        size_t i = 1;
        while (i < 18 && is_digit((unsigned char)input[i]))
            i++;
        if (i >= 2 && i < 18 && input[i] == '\0')
            return classify_intl(input + 1, i - 1, out);
    }
    n = strnlen(input, IN_MAX + 1);
    if (n > IN_MAX)
        return TSPS_ENUMBER;
    while (n > 0 && is_ws((unsigned char)s[0]))
        s++, n--;
    while (n > 0 && is_ws((unsigned char)s[n - 1]))
        n--;
    /* name-addr: "Alice" <sip:+4930...@host>;tag=1 */
    lt = memchr(s, '<', n);
    gt = lt != NULL ? memchr(lt, '>', n - (size_t)(lt - s)) : NULL;
    if (gt != NULL) {
        n = (size_t)(gt - lt - 1);
        s = lt + 1;
        while (n > 0 && is_ws((unsigned char)s[0]))
            s++, n--;
        while (n > 0 && is_ws((unsigned char)s[n - 1]))
            n--;
    }
    if (n == 0 || withheld_word(s, n))
        return withheld(out);
    k = iprefix(s, n, "tel:");
    if (k > 0)
        return normalize_uri(s + k, n - k, 0, &pl, out);
    k = iprefix(s, n, "sip:");
    if (k == 0)
        k = iprefix(s, n, "sips:");
    if (k > 0)
        return normalize_uri(s + k, n - k, 1, &pl, out);

    scan_init(&sc);
    rc = scan_number(s, n, &sc);
    if (rc != TSPS_OK)
        return rc;
    rc = classify(&sc, &pl, out);
    if (rc == TSPS_OK)
        memcpy(out->ext, sc.ext, sc.next + 1);
    return rc;
}

int tsps_normalize(const char *input, const tsps_dialplan *dp, tsps_number *out)
{
    int rc;

    if (out == NULL)
        return TSPS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (dp == NULL)
        return TSPS_EINVAL;
    rc = normalize(input, dp, out);
    if (rc != TSPS_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int tsps_normalize_intl(const char *input, tsps_number *out)
{
    int rc;

    if (out == NULL)
        return TSPS_EINVAL;
    memset(out, 0, sizeof(*out));
    rc = normalize(input, NULL, out);
    if (rc != TSPS_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

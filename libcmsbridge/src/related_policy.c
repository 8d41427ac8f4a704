/* The per-code related-item criteria: a small settings language (see
 * cmsb/related.h and docs/related.md) parsed into a fixed array of rules.
 * No allocation but the policy itself; no logging (the caller shows the
 * error text to the user). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmsb/cmsb.h>

#define POL_TEXT_MAX  (64 * 1024)
#define POL_PAST      0x1u
#define POL_FUTURE    0x2u
#define POL_LIMIT     0x4u
#define POL_KINDS     0x8u
#define POL_NONE      0x10u
#define POL_ALL_TIME  (-1)
#define POL_DUR_MAX   (100LL * 365 * 86400) /* a century */
#define POL_LIMIT_MAX 1000
#define POL_DEF_PAST  (30LL * 86400)
#define POL_DEF_LIMIT 20
#define POL_KINDS_ALL (CMSB_ITEM_EMAIL | CMSB_ITEM_EVENT | CMSB_ITEM_DOCUMENT)
#define POL_WORD_MAX  32

typedef struct pol_rule {
    char code[TSPS_CODE_MAX]; /* "*" = the default rule */
    unsigned set;             /* POL_* fields given */
    int64_t past_s, future_s; /* POL_ALL_TIME = no bound */
    size_t limit;
    unsigned kinds;
} pol_rule;

struct cmsb_related_policy {
    size_t n;
    pol_rule r[CMSB_RELATED_POLICY_MAX_RULES];
};

typedef struct pol_parser {
    const char *p, *end; /* the rule being read */
    int line;
    char *err;
    size_t errlen;
} pol_parser;

static int fail(pol_parser *ps, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    if (ps->err != NULL && ps->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(ps->err, ps->errlen, "line %d: %s", ps->line, msg);
    }
    return CMSB_EPARSE;
}

/* Next token of the rule: a word ([A-Za-z0-9_-]+, cut to POL_WORD_MAX-1
 * is an error), or one of ',' '+'. Returns its first byte, 0 at the end,
 * -1 for a character that belongs to no token. */
static int next_tok(pol_parser *ps, char *w)
{
    size_t n = 0;

    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
    if (ps->p >= ps->end)
        return 0;
    if (*ps->p == ',' || *ps->p == '+') {
        w[0] = *ps->p++;
        w[1] = '\0';
        return w[0];
    }
    while (ps->p < ps->end &&
           (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '-')) {
        if (n + 1 >= POL_WORD_MAX)
            return -1;
        w[n++] = *ps->p++;
    }
    w[n] = '\0';
    return n > 0 ? (unsigned char)w[0] : -1;
}

static int64_t unit_s(const char *u)
{
    static const struct {
        const char *name;
        int64_t s;
    } units[] = {
        {"h", 3600},           {"hour", 3600},         {"hours", 3600},
        {"d", 86400},          {"day", 86400},         {"days", 86400},
        {"w", 7 * 86400},      {"week", 7 * 86400},    {"weeks", 7 * 86400},
        {"month", 30 * 86400}, {"months", 30 * 86400}, {"y", 365 * 86400},
        {"year", 365 * 86400}, {"years", 365 * 86400}};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcasecmp(u, units[i].name) == 0)
            return units[i].s;
    return 0;
}

static unsigned kind_bits(const char *w)
{
    if (strcasecmp(w, "mail") == 0 || strcasecmp(w, "mails") == 0 ||
        strcasecmp(w, "email") == 0 || strcasecmp(w, "emails") == 0)
        return CMSB_ITEM_EMAIL;
    if (strcasecmp(w, "documents") == 0 || strcasecmp(w, "document") == 0 ||
        strcasecmp(w, "docs") == 0)
        return CMSB_ITEM_DOCUMENT;
    if (strcasecmp(w, "events") == 0 || strcasecmp(w, "event") == 0 ||
        strcasecmp(w, "calendar") == 0)
        return CMSB_ITEM_EVENT;
    return 0;
}

/* A number, maybe with its unit glued on ("30d"); the unit may also be
 * the next word, and defaults to days. */
static int duration(pol_parser *ps, const char *w, int64_t *out)
{
    char *e;
    unsigned long long v;
    int64_t u = 86400;
    const char *save;
    char w2[POL_WORD_MAX];

    if (!isdigit((unsigned char)w[0]))
        return fail(ps, "expected a number or \"all\", got \"%s\"", w);
    v = strtoull(w, &e, 10);
    if (*e != '\0') {
        u = unit_s(e);
        if (u == 0)
            return fail(ps,
                        "unknown unit \"%s\" (hours, days, weeks, months, "
                        "years)",
                        e);
    } else {
        save = ps->p;
        if (next_tok(ps, w2) > 0 && isalpha((unsigned char)w2[0]) &&
            unit_s(w2) != 0)
            u = unit_s(w2);
        else
            ps->p = save; /* no unit: days */
    }
    if (v > (unsigned long long)(POL_DUR_MAX / u))
        return fail(ps, "duration \"%s\" too long (at most 100 years)", w);
    *out = (int64_t)v * u;
    return CMSB_OK;
}

static int parse_clauses(pol_parser *ps, pol_rule *r)
{
    char w[POL_WORD_MAX];
    int t;

    while ((t = next_tok(ps, w)) != 0) {
        int64_t d;
        unsigned k;
        if (t < 0)
            return ps->p < ps->end && isalnum((unsigned char)*ps->p)
                       ? fail(ps, "word too long")
                       : fail(ps, "unexpected character '%c'",
                              ps->p < ps->end ? *ps->p : '?');
        if (t == ',' || t == '+' || strcasecmp(w, "and") == 0)
            continue;
        if (strcasecmp(w, "last") == 0 || strcasecmp(w, "next") == 0) {
            int past = strcasecmp(w, "last") == 0;
            unsigned bit = past ? POL_PAST : POL_FUTURE;
            if (r->set & bit)
                return fail(ps, "\"%s\" given twice", past ? "last" : "next");
            if (next_tok(ps, w) <= 0)
                return fail(ps, "\"%s\" needs a duration or \"all\"",
                            past ? "last" : "next");
            if (strcasecmp(w, "all") == 0)
                d = POL_ALL_TIME;
            else if (duration(ps, w, &d) != CMSB_OK)
                return CMSB_EPARSE;
            if (past)
                r->past_s = d;
            else
                r->future_s = d;
            r->set |= bit;
        } else if (isdigit((unsigned char)w[0])) {
            /* "180 days": a bare duration is "last" */
            if (r->set & POL_PAST)
                return fail(ps, "\"last\" given twice");
            if (duration(ps, w, &d) != CMSB_OK)
                return CMSB_EPARSE;
            r->past_s = d;
            r->set |= POL_PAST;
        } else if (strcasecmp(w, "limit") == 0 || strcasecmp(w, "max") == 0) {
            char *e;
            unsigned long v;
            if (r->set & POL_LIMIT)
                return fail(ps, "\"limit\" given twice");
            if (next_tok(ps, w) <= 0 || !isdigit((unsigned char)w[0]))
                return fail(ps, "\"limit\" needs a number");
            v = strtoul(w, &e, 10);
            if (*e != '\0' || v < 1 || v > POL_LIMIT_MAX)
                return fail(ps, "limit \"%s\" out of range (1..%d)", w,
                            POL_LIMIT_MAX);
            r->limit = v;
            r->set |= POL_LIMIT;
        } else if ((k = kind_bits(w)) != 0 || strcasecmp(w, "all") == 0) {
            if (k == 0)
                k = POL_KINDS_ALL;
            /* "mail + documents", "mail, documents": the kinds add up */
            r->kinds = (r->set & POL_KINDS) ? r->kinds | k : k;
            r->set |= POL_KINDS;
        } else if (strcasecmp(w, "none") == 0) {
            r->set |= POL_NONE;
        } else {
            return fail(ps,
                        "unknown word \"%s\" (expected last, next, limit, "
                        "mail, documents, events, all, none)",
                        w);
        }
    }
    if (r->set == 0)
        return fail(ps, "rule \"%s\" has no criteria", r->code);
    if ((r->set & POL_NONE) && r->set != POL_NONE)
        return fail(ps, "\"none\" cannot be combined with other criteria");
    return CMSB_OK;
}

static int code_ok(const char *c, size_t n)
{
    if (n == 1 && c[0] == '*')
        return 1;
    if (n == 0 || n >= TSPS_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)c[i]) && c[i] != '_' && c[i] != '-')
            return 0;
    return 1;
}

/* One rule in [b, e) (comment already cut). */
static int parse_rule(pol_parser *ps, cmsb_related_policy *pol, const char *b,
                      const char *e)
{
    const char *colon;
    pol_rule *r;
    size_t cl;

    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if (b == e)
        return CMSB_OK;
    colon = memchr(b, ':', (size_t)(e - b));
    if (colon == NULL)
        return fail(ps, "expected CODE: criteria (e.g. \"VIP: last 90 days\")");
    cl = (size_t)(colon - b);
    while (cl > 0 && isspace((unsigned char)b[cl - 1]))
        cl--;
    if (!code_ok(b, cl))
        return fail(ps,
                    "bad code \"%.*s\" (letters, digits, _ or -, at most "
                    "31; or *)",
                    (int)(cl > 40 ? 40 : cl), b);
    for (size_t i = 0; i < pol->n; i++)
        if (strlen(pol->r[i].code) == cl &&
            strncasecmp(pol->r[i].code, b, cl) == 0)
            return fail(ps, "code \"%.*s\" has two rules", (int)cl, b);
    if (pol->n == CMSB_RELATED_POLICY_MAX_RULES)
        return fail(ps, "more than %d rules", CMSB_RELATED_POLICY_MAX_RULES);
    r = &pol->r[pol->n];
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < cl; i++)
        r->code[i] = (char)toupper((unsigned char)b[i]);
    ps->p = colon + 1;
    ps->end = e;
    if (parse_clauses(ps, r) != CMSB_OK)
        return CMSB_EPARSE;
    pol->n++;
    return CMSB_OK;
}

int cmsb_related_policy_parse(const char *text, cmsb_related_policy **out,
                              char *err, size_t errlen)
{
    pol_parser ps = {NULL, NULL, 1, err, errlen};
    cmsb_related_policy *pol;
    const char *p, *end;
    size_t len;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        return CMSB_EINVAL;
    *out = NULL;
    text = text ? text : "";
    len = strnlen(text, POL_TEXT_MAX + 1);
    if (len > POL_TEXT_MAX)
        return fail(&ps, "text over 64 KiB");
    pol = calloc(1, sizeof(*pol));
    if (pol == NULL)
        return CMSB_ENOMEM;
    p = text;
    end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *hash, *b = p;
        hash = memchr(p, '#', (size_t)(le - p));
        if (hash != NULL)
            le = hash;
        while (b <= le) {
            const char *semi = memchr(b, ';', (size_t)(le - b));
            const char *re = semi ? semi : le;
            if (parse_rule(&ps, pol, b, re) != CMSB_OK) {
                free(pol);
                return CMSB_EPARSE;
            }
            if (semi == NULL)
                break;
            b = semi + 1;
        }
        if (eol == NULL)
            break;
        p = eol + 1;
        ps.line++;
    }
    *out = pol;
    return CMSB_OK;
}

void cmsb_related_policy_free(cmsb_related_policy *p)
{
    free(p);
}

static const pol_rule *find(const cmsb_related_policy *p, const char *code)
{
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcasecmp(p->r[i].code, code) == 0)
            return &p->r[i];
    return NULL;
}

static void apply(const pol_rule *r, int64_t *past, int64_t *future,
                  size_t *limit, unsigned *kinds)
{
    if (r == NULL)
        return;
    if (r->set & POL_PAST)
        *past = r->past_s;
    if (r->set & POL_FUTURE)
        *future = r->future_s;
    if (r->set & POL_LIMIT)
        *limit = r->limit;
    if (r->set & POL_KINDS)
        *kinds = r->kinds;
}

int cmsb_related_policy_query(const cmsb_related_policy *p, const char *code,
                              int64_t now, cmsb_related_query *q)
{
    const pol_rule *star = find(p, "*");
    const pol_rule *own = code != NULL && *code ? find(p, code) : NULL;
    int64_t past = POL_DEF_PAST, future = POL_ALL_TIME;
    size_t limit = POL_DEF_LIMIT;
    unsigned kinds = 0;

    if (q == NULL)
        return CMSB_EINVAL;
    *q = (cmsb_related_query)CMSB_RELATED_QUERY_INIT;
    if (own != NULL ? (own->set & POL_NONE) : star && (star->set & POL_NONE))
        return CMSB_ENOTFOUND;
    if (star != NULL && !(star->set & POL_NONE))
        apply(star, &past, &future, &limit, &kinds);
    apply(own, &past, &future, &limit, &kinds);
    q->since = past == POL_ALL_TIME ? 0 : now - past;
    q->until = future == POL_ALL_TIME ? 0 : now + future;
    q->limit = limit;
    q->kinds = kinds == POL_KINDS_ALL ? 0 : kinds;
    return CMSB_OK;
}

static void dur_text(char *b, size_t n, int64_t s)
{
    if (s == POL_ALL_TIME)
        snprintf(b, n, "all");
    else if (s % 86400 == 0)
        snprintf(b, n, "%lld days", (long long)(s / 86400));
    else
        snprintf(b, n, "%lld hours", (long long)(s / 3600));
}

static size_t format_rule(const pol_rule *r, char *buf, size_t len)
{
    char d[48], t[256];
    size_t o = 0;
    const char *sep = "";

#define ADD(...)                                                               \
    do {                                                                       \
        int k_ = snprintf(t, sizeof(t), __VA_ARGS__);                          \
        if (k_ > 0 && o < len)                                                 \
            snprintf(buf + o, len - o, "%s", t);                               \
        o += k_ > 0 ? (size_t)k_ : 0;                                          \
    } while (0)
    ADD("%s:", r->code);
    if (r->set & POL_NONE)
        ADD(" none");
    if (r->set & POL_PAST) {
        dur_text(d, sizeof(d), r->past_s);
        ADD("%s last %s", sep, d);
        sep = ",";
    }
    if (r->set & POL_FUTURE) {
        dur_text(d, sizeof(d), r->future_s);
        ADD("%s next %s", sep, d);
        sep = ",";
    }
    if (r->set & POL_KINDS) {
        if (r->kinds == POL_KINDS_ALL) {
            ADD("%s all", sep);
        } else {
            const char *plus = "";
            ADD("%s", sep);
            if (r->kinds & CMSB_ITEM_EMAIL) {
                ADD(" mail");
                plus = " +";
            }
            if (r->kinds & CMSB_ITEM_DOCUMENT) {
                ADD("%s documents", plus);
                plus = " +";
            }
            if (r->kinds & CMSB_ITEM_EVENT)
                ADD("%s events", plus);
        }
        sep = ",";
    }
    if (r->set & POL_LIMIT)
        ADD("%s limit %zu", sep, r->limit);
    ADD("\n");
#undef ADD
    return o;
}

size_t cmsb_related_policy_format(const cmsb_related_policy *p, char *buf,
                                  size_t buflen)
{
    size_t o = 0;
    const pol_rule *star = find(p, "*");

    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    if (p == NULL)
        return 0;
    if (star != NULL)
        o += format_rule(star, o < buflen ? buf + o : NULL,
                         o < buflen ? buflen - o : 0);
    for (size_t i = 0; i < p->n; i++)
        if (&p->r[i] != star)
            o += format_rule(&p->r[i], o < buflen ? buf + o : NULL,
                             o < buflen ? buflen - o : 0);
    return o;
}

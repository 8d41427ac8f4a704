/* Text forms of handling methods and working hours. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Split the spec into words (whitespace separated), at most 24. */
static int split(char *s, char **w, int max)
{
    int n = 0;
    while (*s != '\0') {
        while (*s != '\0' && isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        if (n == max)
            return -1;
        w[n++] = s;
        while (*s != '\0' && !isspace((unsigned char)*s))
            s++;
        if (*s != '\0')
            *s++ = '\0';
    }
    return n;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int valid_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TSPS_LABEL_MAX)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

static int valid_target(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) >= TSPS_URI_MAX)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '<' || *s == '>')
            return 0;
    return 1;
}

static int numberish(const char *s)
{
    for (; *s != '\0'; s++)
        if (!isdigit((unsigned char)*s) && strchr("+()-./", *s) == NULL)
            return 0;
    return 1;
}

/* Parse one action from w[*i...]; stops at "then" or the end. */
static int parse_action(char **w, int n, int *i, tsps_action *a, char *err,
                        size_t errlen)
{
    const char *k;
    unsigned v;

    memset(a, 0, sizeof(*a));
    if (*i >= n) {
        seterr(err, errlen, "missing action");
        return TSPS_EINVAL;
    }
    k = w[(*i)++];
    if (strcasecmp(k, "ring") == 0) {
        a->kind = TSPS_METHOD_RING;
        while (*i < n && strcasecmp(w[*i], "then") != 0) {
            char *arg = w[(*i)++];
            if (strcasecmp(arg, "parallel") == 0 ||
                strcasecmp(arg, "all") == 0) {
                a->ring_mode = TSPS_RING_PARALLEL;
            } else if (strcasecmp(arg, "sequential") == 0 ||
                       strcasecmp(arg, "seq") == 0) {
                a->ring_mode = TSPS_RING_SEQUENTIAL;
            } else if (strncasecmp(arg, "timeout=", 8) == 0) {
                if (parse_uint(arg + 8, 600, &v) != 0 || v == 0) {
                    seterr(err, errlen, "bad ring timeout '%s' (1..600)",
                           arg + 8);
                    return TSPS_EINVAL;
                }
                a->step_timeout_s = (uint16_t)v;
            } else if (strncasecmp(arg, "devices=", 8) == 0) {
                char *p = arg + 8, *tok;
                while ((tok = strsep(&p, ",")) != NULL) {
                    if (*tok == '\0')
                        continue;
                    if (!valid_label(tok) || a->ndevices == TSPS_MAX_DEVICES) {
                        seterr(err, errlen, "bad device list '%s'", arg + 8);
                        return TSPS_EINVAL;
                    }
                    for (char *c = tok; *c != '\0'; c++)
                        *c = (char)tolower((unsigned char)*c);
                    strcpy(a->devices[a->ndevices++], tok);
                }
            } else {
                seterr(err, errlen, "unknown ring option '%s'", arg);
                return TSPS_EINVAL;
            }
        }
        return TSPS_OK;
    }
    if (strcasecmp(k, "forward") == 0) {
        /* A number may be written with spaces: "forward +49 30 1234567";
         * only number-like words are joined. */
        size_t len = 0;
        a->kind = TSPS_METHOD_FORWARD;
        while (*i < n && strcasecmp(w[*i], "then") != 0) {
            size_t wl = strlen(w[*i]);
            if (len > 0 && (!numberish(a->target) || !numberish(w[*i])))
                break;
            if (len + wl >= TSPS_URI_MAX) {
                seterr(err, errlen, "forward target too long");
                return TSPS_EINVAL;
            }
            memcpy(a->target + len, w[(*i)++], wl + 1);
            len += wl;
        }
        if (!valid_target(a->target)) {
            seterr(err, errlen, "forward needs a number or URI");
            return TSPS_EINVAL;
        }
    } else if (strcasecmp(k, "voicemail") == 0 ||
               strcasecmp(k, "attendant") == 0 || strcasecmp(k, "ivr") == 0) {
        a->kind = strcasecmp(k, "voicemail") == 0   ? TSPS_METHOD_VOICEMAIL
                  : strcasecmp(k, "attendant") == 0 ? TSPS_METHOD_ATTENDANT
                                                    : TSPS_METHOD_IVR;
        if (*i < n && strcasecmp(w[*i], "then") != 0) {
            if (!valid_target(w[*i])) {
                seterr(err, errlen, "bad target '%s'", w[*i]);
                return TSPS_EINVAL;
            }
            strcpy(a->target, w[(*i)++]);
        } else if (a->kind == TSPS_METHOD_IVR) {
            seterr(err, errlen, "ivr needs a menu id");
            return TSPS_EINVAL;
        }
    } else if (strcasecmp(k, "reject") == 0) {
        a->kind = TSPS_METHOD_REJECT;
        a->reject = TSPS_REJECT_BUSY;
        if (*i < n && strcasecmp(w[*i], "then") != 0) {
            const char *r = w[(*i)++];
            if (strcasecmp(r, "busy") == 0)
                a->reject = TSPS_REJECT_BUSY;
            else if (strcasecmp(r, "decline") == 0)
                a->reject = TSPS_REJECT_DECLINE;
            else if (strcasecmp(r, "unavailable") == 0)
                a->reject = TSPS_REJECT_UNAVAILABLE;
            else {
                seterr(err, errlen, "unknown reject reason '%s'", r);
                return TSPS_EINVAL;
            }
        }
    } else {
        seterr(err, errlen, "unknown method '%s'", k);
        return TSPS_EINVAL;
    }
    return TSPS_OK;
}

int tsps_method_parse(const char *spec, tsps_method *out, char *err,
                      size_t errlen)
{
    char buf[1024];
    char *w[24];
    int n, i = 0, rc;
    unsigned v;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        return TSPS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (spec == NULL || strlen(spec) >= sizeof(buf)) {
        seterr(err, errlen, "method text missing or too long");
        return TSPS_EINVAL;
    }
    strcpy(buf, spec);
    n = split(buf, w, 24);
    if (n <= 0) {
        seterr(err, errlen, n == 0 ? "empty method" : "too many words");
        return TSPS_EINVAL;
    }
    if (strcasecmp(w[0], "ask") == 0) {
        out->kind = TSPS_METHOD_ASK;
        out->a.kind = TSPS_METHOD_ASK;
        out->ask_timeout_s = 20;
        i = 1;
        while (i < n && strcasecmp(w[i], "then") != 0) {
            if (strncasecmp(w[i], "timeout=", 8) != 0 ||
                parse_uint(w[i] + 8, 3600, &v) != 0 || v == 0) {
                seterr(err, errlen, "bad ask option '%s' (timeout=1..3600)",
                       w[i]);
                goto bad;
            }
            out->ask_timeout_s = (uint16_t)v;
            i++;
        }
    } else {
        rc = parse_action(w, n, &i, &out->a, err, errlen);
        if (rc != TSPS_OK)
            goto bad;
        out->kind = out->a.kind;
    }
    if (i < n) {
        /* "then" fallback */
        if (strcasecmp(w[i], "then") != 0) {
            seterr(err, errlen, "unexpected '%s'", w[i]);
            goto bad;
        }
        i++;
        if (i < n && strcasecmp(w[i], "ask") == 0) {
            seterr(err, errlen, "ask cannot be a fallback");
            goto bad;
        }
        rc = parse_action(w, n, &i, &out->fallback, err, errlen);
        if (rc != TSPS_OK)
            goto bad;
        if (i < n) {
            seterr(err, errlen, "unexpected '%s' after the fallback", w[i]);
            goto bad;
        }
        if (out->kind != TSPS_METHOD_ASK && out->kind != TSPS_METHOD_RING) {
            seterr(err, errlen, "only ring and ask take a fallback");
            goto bad;
        }
    }
    return TSPS_OK;
bad:
    memset(out, 0, sizeof(*out));
    return TSPS_EINVAL;
}

static void fmt_action(tsps__sb *b, const tsps_action *a)
{
    static const char *const rej[] = {"busy", "decline", "unavailable"};
    tsps__sb_add(b, "%s", tsps_method_kind_name(a->kind));
    switch (a->kind) {
    case TSPS_METHOD_RING:
        tsps__sb_add(b, " %s",
                     a->ring_mode == TSPS_RING_SEQUENTIAL ? "sequential"
                                                          : "parallel");
        if (a->step_timeout_s != 0)
            tsps__sb_add(b, " timeout=%u", a->step_timeout_s);
        for (int i = 0; i < a->ndevices; i++)
            tsps__sb_add(b, "%s%s", i == 0 ? " devices=" : ",", a->devices[i]);
        break;
    case TSPS_METHOD_REJECT:
        tsps__sb_add(b, " %s",
                     (unsigned)a->reject < 3 ? rej[a->reject] : "busy");
        break;
    default:
        if (a->target[0] != '\0')
            tsps__sb_add(b, " %s", a->target);
        break;
    }
}

int tsps_method_format(const tsps_method *m, char *buf, size_t buflen,
                       size_t *needed)
{
    tsps__sb b = {buf, buflen, 0};
    if (needed != NULL)
        *needed = 0;
    if (m == NULL || (buf == NULL && buflen != 0) ||
        m->kind >= TSPS_METHOD__COUNT)
        return TSPS_EINVAL;
    if (m->kind == TSPS_METHOD_ASK)
        tsps__sb_add(&b, "ask timeout=%u", m->ask_timeout_s);
    else
        fmt_action(&b, &m->a);
    if (m->fallback.kind != TSPS_METHOD_NONE) {
        tsps__sb_add(&b, " then ");
        fmt_action(&b, &m->fallback);
    }
    return tsps__sb_done(&b, needed);
}

/* ---- working hours ---------------------------------------------------------
 */

static const char *const day_names[7] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};

static int day_index(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n == 3 && strncasecmp(s, day_names[i], 3) == 0)
            return i;
    return -1;
}

static int parse_hm(const char *s, uint16_t *out)
{
    unsigned h, m;
    char tail;
    if (sscanf(s, "%2u:%2u%c", &h, &m, &tail) != 2 || h > 24 || m > 59 ||
        (h == 24 && m != 0))
        return -1;
    *out = (uint16_t)(h * 60 + m);
    return 0;
}

int tsps_hours_parse(const char *text, tsps_hours *out)
{
    char buf[512];
    char *p, *clause;

    if (out == NULL)
        return TSPS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (text == NULL || strlen(text) >= sizeof(buf))
        return TSPS_EINVAL;
    strcpy(buf, text);
    p = buf;
    while (*p != '\0' && isspace((unsigned char)*p))
        p++;
    if (strcasecmp(p, "none") == 0 || *p == '\0')
        return TSPS_OK;
    while ((clause = strsep(&p, ";")) != NULL) {
        char *days, *ranges, *tok;
        int d0, d1, nr = 0;
        uint16_t rg[2][2] = {{0, 0}, {0, 0}};

        while (isspace((unsigned char)*clause))
            clause++;
        if (*clause == '\0')
            continue;
        days = strsep(&clause, " \t");
        ranges = clause;
        if (ranges == NULL)
            goto bad;
        while (isspace((unsigned char)*ranges))
            ranges++;
        {
            char *dash = strchr(days, '-');
            if (dash != NULL) {
                d0 = day_index(days, (size_t)(dash - days));
                d1 = day_index(dash + 1, strlen(dash + 1));
            } else {
                d0 = d1 = day_index(days, strlen(days));
            }
        }
        if (d0 < 0 || d1 < 0)
            goto bad;
        while ((tok = strsep(&ranges, ",")) != NULL) {
            char *dash;
            while (isspace((unsigned char)*tok))
                tok++;
            if (*tok == '\0')
                continue;
            dash = strchr(tok, '-');
            if (dash == NULL || nr == 2)
                goto bad;
            *dash = '\0';
            if (parse_hm(tok, &rg[nr][0]) != 0 ||
                parse_hm(dash + 1, &rg[nr][1]) != 0 || rg[nr][1] <= rg[nr][0])
                goto bad;
            nr++;
        }
        if (nr == 0)
            goto bad;
        for (int d = d0;; d = (d + 1) % 7) {
            memcpy(out->range[d], rg, sizeof(rg));
            if (d == d1)
                break;
        }
    }
    return TSPS_OK;
bad:
    memset(out, 0, sizeof(*out));
    return TSPS_EINVAL;
}

int tsps_hours_format(const tsps_hours *h, char *buf, size_t buflen,
                      size_t *needed)
{
    tsps__sb b = {buf, buflen, 0};
    int first = 1;
    if (needed != NULL)
        *needed = 0;
    if (h == NULL || (buf == NULL && buflen != 0))
        return TSPS_EINVAL;
    for (int i = 1; i <= 7; i++) {
        int d = i % 7, e = d; /* Monday first; group equal days */
        if (h->range[d][0][0] == h->range[d][0][1])
            continue;
        while (i < 7 && memcmp(h->range[(i + 1) % 7], h->range[d],
                               sizeof(h->range[d])) == 0) {
            i++;
            e = i % 7;
        }
        tsps__sb_add(&b, "%s%s", first ? "" : "; ", day_names[d]);
        if (e != d)
            tsps__sb_add(&b, "-%s", day_names[e]);
        for (int r = 0; r < 2; r++) {
            const uint16_t *x = h->range[d][r];
            if (x[0] == x[1])
                continue;
            tsps__sb_add(&b, "%s%02u:%02u-%02u:%02u", r == 0 ? " " : ",",
                         x[0] / 60, x[0] % 60, x[1] / 60, x[1] % 60);
        }
        first = 0;
    }
    if (first)
        tsps__sb_add(&b, "none");
    return tsps__sb_done(&b, needed);
}

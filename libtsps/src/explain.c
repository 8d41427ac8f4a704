/* Decisions in words (explain) and as JSON. Not on the hot path. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* The status source in words (the trace is read by people). */
static const char *status_src_words(int32_t s)
{
    return s == TSPS_STATUS_SRC_HOURS
               ? "working hours"
               : tsps_status_source_name((tsps_status_source)s);
}

/* The tier of the rule a rule step was chosen over, 0 = none (route.c packs
 * chosen tier, that tier and the status probed into the step's n). */
static int rule_over(const tsps_trace_step *s)
{
    int over = (s->n >> 4) & 0xF;
    return over >= TSPS__TIER_CODE_STATUS && over <= TSPS__TIER_ANY_ANY &&
                   ((s->n >> 8) & 0xF) < TSPS_STATUS__COUNT
               ? over
               : 0;
}

static void step_words(tsps__sb *b, const tsps_decision *d,
                       const tsps_trace_step *s)
{
    switch ((tsps_step)s->step) {
    case TSPS_STEP_CALLED:
        if (s->outcome == TSPS_TR_OK)
            tsps__sb_add(b, "called number %s belongs to user %s", s->what,
                         s->found);
        else
            tsps__sb_add(b, "called number %s: %s", s->what, s->found);
        break;
    case TSPS_STEP_CALLER:
        if (s->outcome == TSPS_TR_OK)
            tsps__sb_add(b, "caller '%s' is %s", s->what, s->found);
        else if (s->outcome == TSPS_TR_NOTFOUND)
            tsps__sb_add(b, "caller withheld their number: code %s", s->found);
        else
            tsps__sb_add(b, "caller '%s': %s", s->what, s->found);
        break;
    case TSPS_STEP_CONTACT:
        if (s->outcome == TSPS_TR_OK && s->n > 1)
            tsps__sb_add(b,
                         "%s is one of %u contacts (%s): the caller is "
                         "ambiguous; they agree on code %s (from %s), which "
                         "applies",
                         s->what, s->n, s->found,
                         d->code[0] != '\0' ? d->code : "none",
                         tsps_code_source_name((tsps_code_source)s->arg));
        else if (s->outcome == TSPS_TR_OK)
            tsps__sb_add(b, "%s is contact \"%s\", code %s (from %s)", s->what,
                         s->found, d->code[0] != '\0' ? d->code : "none",
                         tsps_code_source_name((tsps_code_source)s->arg));
        else if (s->outcome == TSPS_TR_AMBIGUOUS)
            tsps__sb_add(b, "%s matches %u contacts: %s; not guessing, code %s",
                         s->what, s->n, s->found, d->code);
        else if (s->outcome == TSPS_TR_NOTFOUND)
            tsps__sb_add(b, "%s is not in the contacts: code %s", s->what,
                         s->found);
        else
            tsps__sb_add(b, "%s: %s", s->what, s->found);
        break;
    case TSPS_STEP_STATUS:
        tsps__sb_add(b, "user is %s (%s%s%s%s)", s->what,
                     status_src_words(s->arg),
                     s->found[0] != '\0' ? ": \"" : "", s->found,
                     s->found[0] != '\0' ? "\"" : "");
        break;
    case TSPS_STEP_CALENDAR:
        if (s->outcome == TSPS_TR_OK)
            tsps__sb_add(b, "caller is an attendee of \"%s\"%s", s->what,
                         s->arg == 1 ? ": rings through as if available" : "");
        else
            tsps__sb_add(b, "caller is not an attendee of \"%s\"", s->what);
        break;
    case TSPS_STEP_RULE:
        if (s->outcome == TSPS_TR_OK && rule_over(s) != 0) {
            int over = rule_over(s);
            int probed = (s->n >> 8) & 0xF;
            int over_code =
                over == TSPS__TIER_CODE_STATUS || over == TSPS__TIER_CODE_ANY;
            int over_st =
                over == TSPS__TIER_CODE_STATUS || over == TSPS__TIER_ANY_STATUS;
            tsps__sb_add(b, "rule %s/%s chosen over %s/%s because %s: %s",
                         s->what, tsps_status_name((tsps_status)s->arg),
                         over_code ? d->code : TSPS_CODE_ANY,
                         tsps_status_name(over_st ? (tsps_status)probed
                                                  : TSPS_STATUS_ANY),
                         tsps__tier_reason(s->n & 0xF, over), s->found);
        } else if (s->outcome == TSPS_TR_OK)
            tsps__sb_add(b, "rule %s/%s applies: %s", s->what,
                         tsps_status_name((tsps_status)s->arg), s->found);
        else
            tsps__sb_add(b, "no rule for %s: default %s", s->what, s->found);
        break;
    case TSPS_STEP_TARGETS:
        if (s->outcome == TSPS_TR_FALLBACK)
            tsps__sb_add(b, "%s: falls back to %s", s->what, s->found);
        else if (s->n > 0)
            tsps__sb_add(b, "%s: %u target%s, first %s", s->what, s->n,
                         s->n == 1 ? "" : "s", s->found);
        else
            tsps__sb_add(b, "%s: %s", s->what, s->found);
        break;
    case TSPS_STEP_OVERRIDE:
        tsps__sb_add(b, "%s overrode the decision: %s", s->what, s->found);
        break;
    case TSPS_STEP_NOTE:
        tsps__sb_add(b, "note: %s: %s", s->what, s->found);
        break;
    default:
        tsps__sb_add(b, "step %u: %s %s", s->step, s->what, s->found);
        break;
    }
}

/* A decision with its trace text: `d` itself, or `tmp` rendered from a
 * lazy one. */
static const tsps_decision *rendered(const tsps_decision *d, tsps_decision *tmp)
{
    if (!(d->flags & TSPS_DEC_TRACE_PENDING))
        return d;
    *tmp = *d;
    tsps_decision_trace_render(tmp);
    return tmp;
}

int tsps_decision_explain(const tsps_decision *d, char *buf, size_t buflen,
                          size_t *needed)
{
    tsps__sb b = {buf, buflen, 0};
    char m[512];
    tsps_decision tmp;

    if (needed != NULL)
        *needed = 0;
    if (d == NULL || (buf == NULL && buflen != 0))
        return TSPS_EINVAL;
    d = rendered(d, &tmp);
    for (int i = 0; i < d->ntrace && i < TSPS_MAX_TRACE; i++) {
        tsps__sb_add(&b, "%d. ", i + 1);
        step_words(&b, d, &d->trace[i]);
        tsps__sb_add(&b, "\n");
    }
    if (d->flags & TSPS_DEC_UNKNOWN_NUMBER) {
        tsps__sb_add(&b, "=> no user: the call is refused (not found)\n");
    } else {
        if (tsps_method_format(&d->method, m, sizeof(m), NULL) != TSPS_OK)
            strcpy(m, tsps_method_kind_name(d->method.kind));
        tsps__sb_add(&b, "=> %s", m);
        for (int i = 0; i < d->ntargets && i < TSPS_MAX_TARGETS; i++)
            tsps__sb_add(&b, "%s%s", i == 0 ? " -> " : ", ", d->targets[i].uri);
        tsps__sb_add(&b, "\n");
    }
    return tsps__sb_done(&b, needed);
}

/* Length of the valid UTF-8 sequence at p, or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_str(tsps__sb *b, const char *s)
{
    tsps__sb_add(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        size_t n = utf8_len(p);
        if (n == 0) {
            tsps__sb_add(b, "\\ufffd");
            p++;
        } else if (*p == '"' || *p == '\\') {
            tsps__sb_add(b, "\\%c", *p++);
        } else if (*p < 0x20 || *p == 0x7F) {
            tsps__sb_add(b, "\\u%04x", *p++);
        } else {
            tsps__sb_add(b, "%.*s", (int)n, (const char *)p);
            p += n;
        }
    }
    tsps__sb_add(b, "\"");
}

static void json_kv(tsps__sb *b, const char *k, const char *v, int comma)
{
    tsps__sb_add(b, "%s\"%s\":", comma ? "," : "", k);
    json_str(b, v);
}

int tsps_decision_json(const tsps_decision *d, char *buf, size_t buflen,
                       size_t *needed)
{
    tsps__sb b = {buf, buflen, 0};
    char m[512];
    tsps_decision tmp;

    if (needed != NULL)
        *needed = 0;
    if (d == NULL || (buf == NULL && buflen != 0))
        return TSPS_EINVAL;
    d = rendered(d, &tmp);
    if (tsps_method_format(&d->method, m, sizeof(m), NULL) != TSPS_OK)
        strcpy(m, tsps_method_kind_name(d->method.kind));
    tsps__sb_add(&b, "{\"at\":%lld", (long long)d->at);
    json_kv(&b, "user", d->user, 1);
    json_kv(&b, "called", d->called, 1);
    json_kv(&b, "caller", d->caller, 1);
    json_kv(&b, "caller_kind", tsps_caller_kind_name(d->caller_kind), 1);
    json_kv(&b, "caller_name", d->caller_name, 1);
    json_kv(&b, "contact", d->contact_uid, 1);
    json_kv(&b, "code", d->code, 1);
    json_kv(&b, "code_source", tsps_code_source_name(d->code_source), 1);
    json_kv(&b, "status", tsps_status_name(d->status), 1);
    json_kv(&b, "status_source", tsps_status_source_name(d->status_source), 1);
    tsps__sb_add(&b, ",\"expected\":%s",
                 (d->flags & TSPS_DEC_EXPECTED) ? "true" : "false");
    tsps__sb_add(&b, ",\"unknown_number\":%s",
                 (d->flags & TSPS_DEC_UNKNOWN_NUMBER) ? "true" : "false");
    tsps__sb_add(&b, ",\"fallback\":%s",
                 (d->flags & TSPS_DEC_FALLBACK) ? "true" : "false");
    tsps__sb_add(&b, ",\"shared_number\":%s",
                 (d->flags & TSPS_DEC_SHARED_NUMBER) ? "true" : "false");
    json_kv(&b, "rule_code", d->rule_code, 1);
    json_kv(&b, "rule_status", tsps_status_name(d->rule_status), 1);
    json_kv(&b, "method", tsps_method_kind_name(d->method.kind), 1);
    json_kv(&b, "method_text", m, 1);
    if (d->flags & TSPS_DEC_OVERRIDDEN)
        json_kv(&b, "overridden_by", d->actor, 1);
    tsps__sb_add(&b, ",\"targets\":[");
    for (int i = 0; i < d->ntargets && i < TSPS_MAX_TARGETS; i++) {
        const tsps_target *t = &d->targets[i];
        tsps__sb_add(&b, "%s{", i == 0 ? "" : ",");
        json_kv(&b, "uri", t->uri, 0);
        json_kv(&b, "label", t->label, 1);
        tsps__sb_add(
            &b, ",\"q\":%.3f,\"order\":%u,\"timeout_s\":%u,\"fallback\":%s}",
            t->q / 1000.0, t->order, t->timeout_s,
            t->fallback ? "true" : "false");
    }
    tsps__sb_add(&b, "],\"trace\":[");
    for (int i = 0; i < d->ntrace && i < TSPS_MAX_TRACE; i++) {
        const tsps_trace_step *s = &d->trace[i];
        char words[512];
        tsps__sb w = {words, sizeof(words), 0};
        step_words(&w, d, s);
        if (w.len >= sizeof(words))
            words[sizeof(words) - 1] = '\0';
        tsps__sb_add(&b, "%s{", i == 0 ? "" : ",");
        json_kv(&b, "step", tsps_step_name((tsps_step)s->step), 0);
        tsps__sb_add(&b, ",\"outcome\":%u", s->outcome);
        json_kv(&b, "what", s->what, 1);
        json_kv(&b, "found", s->found, 1);
        json_kv(&b, "text", words, 1);
        tsps__sb_add(&b, "}");
    }
    tsps__sb_add(&b, "]}");
    return tsps__sb_done(&b, needed);
}

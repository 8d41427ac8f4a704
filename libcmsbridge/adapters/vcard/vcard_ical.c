/* iCalendar files through libical: VEVENTs expanded into instances in a
 * window (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, VTIMEZONE/TZID),
 * with busy state and attendees as tsps_event records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libical/ical.h>

#include "vcard.h"

/* Bounds that keep a hostile or broken RRULE from running away. */
#define MAX_STEPS     20000 /* iterator steps per rule */
#define MAX_INSTANCES 5000  /* instances per event in one window */
#define MAX_RULES     256   /* RRULE, RDATE, EXDATE lines kept per event */

typedef struct vev {
    icalcomponent *comp;
    const char *uid;
    int64_t rid; /* RECURRENCE-ID as UTC seconds; INT64_MIN if master */
    int index;   /* position among the VEVENTs (for the line number) */
} vev;

typedef struct xctx {
    const char *buf;
    size_t len;
    int64_t from, to;
    icaltimezone *deflt;
    vc_event_fn ev_fn;
    vc_err_fn err_fn;
    void *arg;
    vev *evs;
    size_t nev, cap;
    char organizer[TSPS_EMAIL_MAX];
    int stop;
} xctx;

static int64_t to_utc(struct icaltimetype t, icaltimezone *deflt)
{
    icaltimezone *z = (icaltimezone *)(uintptr_t)t.zone;

    if (icaltime_is_utc(t))
        z = icaltimezone_get_utc_timezone();
    else if (z == NULL)
        z = deflt;
    return (int64_t)icaltime_as_timet_with_zone(t, z);
}

/* Line of the n-th "BEGIN:VEVENT" in the text (1-based), 0 if not found. */
static int vevent_line(const xctx *x, int n)
{
    const char *p = x->buf, *end = x->buf + x->len;
    int line = 1, seen = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (l >= 12 && strncasecmp(p, "BEGIN:VEVENT", 12) == 0 && seen++ == n)
            return line;
        if (nl == NULL)
            break;
        p = nl + 1;
        line++;
    }
    return 0;
}

static void report(xctx *x, const vev *e, const char *what)
{
    char msg[160];
    icalproperty *err =
        icalcomponent_get_first_property(e->comp, ICAL_XLICERROR_PROPERTY);

    snprintf(msg, sizeof(msg), "%s%s%.100s (event skipped)", what,
             err != NULL ? ": " : "",
             err != NULL ? icalproperty_get_xlicerror(err) : "");
    x->err_fn(x->arg, vevent_line(x, e->index), msg);
}

static void add_attendee(tsps_event *ev, const char *v)
{
    char a[TSPS_EMAIL_MAX];
    size_t n;

    if (v == NULL || ev->nattendees >= TSPS_MAX_ATTENDEES)
        return;
    if (strncasecmp(v, "mailto:", 7) == 0)
        v += 7;
    else if (strncasecmp(v, "tel:", 4) != 0 && strchr(v, '@') == NULL)
        return;
    n = strlen(v);
    if (n == 0 || n >= sizeof(a))
        return;
    for (size_t i = 0; i <= n; i++)
        a[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] - 'A' + 'a' : v[i]);
    for (int i = 0; i < ev->nattendees; i++)
        if (strcmp(ev->attendees[i], a) == 0)
            return;
    memcpy(ev->attendees[ev->nattendees++], a, n + 1);
}

/* The fields every instance of `comp` shares. */
static void fill_common(xctx *x, tsps_event *ev, icalcomponent *comp)
{
    const char *s = icalcomponent_get_summary(comp);
    icalproperty *p;
    enum icalproperty_status st = icalcomponent_get_status(comp);

    tsps_event_init(ev);
    if (s != NULL)
        vc_copy(ev->summary, sizeof(ev->summary), s, strlen(s));
    ev->busy = TSPS_BUSY_BUSY;
    p = icalcomponent_get_first_property(comp, ICAL_TRANSP_PROPERTY);
    if (p != NULL && icalproperty_get_transp(p) == ICAL_TRANSP_TRANSPARENT)
        ev->busy = TSPS_BUSY_FREE;
    if (st == ICAL_STATUS_TENTATIVE)
        ev->busy = TSPS_BUSY_TENTATIVE;
    ev->cancelled = st == ICAL_STATUS_CANCELLED;
    /* Outlook's own busy state is the most precise: it wins. */
    for (p = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY); p != NULL;
         p = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY)) {
        const char *name = icalproperty_get_x_name(p);
        const char *v = icalproperty_get_x(p);
        if (name == NULL || v == NULL ||
            strcasecmp(name, "X-MICROSOFT-CDO-BUSYSTATUS") != 0)
            continue;
        if (strcasecmp(v, "FREE") == 0)
            ev->busy = TSPS_BUSY_FREE;
        else if (strcasecmp(v, "TENTATIVE") == 0)
            ev->busy = TSPS_BUSY_TENTATIVE;
        else if (strcasecmp(v, "OOF") == 0)
            ev->busy = TSPS_BUSY_OOF;
        else
            ev->busy = TSPS_BUSY_BUSY;
    }
    x->organizer[0] = '\0';
    p = icalcomponent_get_first_property(comp, ICAL_ORGANIZER_PROPERTY);
    if (p != NULL) {
        add_attendee(ev, icalproperty_get_organizer(p));
        if (ev->nattendees == 1)
            memcpy(x->organizer, ev->attendees[0], TSPS_EMAIL_MAX);
    }
    for (p = icalcomponent_get_first_property(comp, ICAL_ATTENDEE_PROPERTY);
         p != NULL;
         p = icalcomponent_get_next_property(comp, ICAL_ATTENDEE_PROPERTY))
        add_attendee(ev, icalproperty_get_attendee(p));
}

static void make_iuid(char *dst, size_t cap, const char *uid, int64_t t)
{
    char u[TSPS_UID_MAX];
    char ts[24];
    struct tm tm;
    time_t tt = (time_t)t;
    size_t ul, tl;

    vc_make_uid(u, sizeof(u), uid, strlen(uid));
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 0)
        memset(&tm, 0, sizeof(tm));
    strftime(ts, sizeof(ts), "/%Y%m%dT%H%M%SZ", &tm);
    ul = strlen(u);
    tl = strlen(ts);
    if (ul + tl + 1 > cap)
        ul = cap - tl - 1;
    memcpy(dst, u, ul);
    memcpy(dst + ul, ts, tl + 1);
}

static int emit(xctx *x, tsps_event *ev, const char *uid, int64_t orig,
                int64_t start, int64_t end)
{
    if (end <= start)
        end = start + 1;
    if (end <= x->from || start >= x->to)
        return 0;
    make_iuid(ev->uid, sizeof(ev->uid), uid, orig);
    ev->start = start;
    ev->end = end;
    if (x->ev_fn(x->arg, ev, x->organizer) != 0) {
        x->stop = 1;
        return 1;
    }
    return 0;
}

static int has_override(const xctx *x, const char *uid, int64_t t)
{
    for (size_t i = 0; i < x->nev; i++)
        if (x->evs[i].rid == t && strcmp(x->evs[i].uid, uid) == 0)
            return 1;
    return 0;
}

/* The properties of one kind, gathered before any of them is used: libical
 * keeps a single property cursor per component, and every lookup on the
 * component (EXDATE, X-LIC-ERROR, DTSTART ...) moves it, so a loop that
 * walks RRULEs with get_next_property while doing anything else on the
 * component skips or repeats rules. At most `cap` are kept. */
static size_t props_of(icalcomponent *c, icalproperty_kind kind,
                       icalproperty **out, size_t cap)
{
    size_t n = 0;

    for (icalproperty *p = icalcomponent_get_first_property(c, kind);
         p != NULL && n < cap; p = icalcomponent_get_next_property(c, kind))
        out[n++] = p;
    return n;
}

static int excluded(const int64_t *ex, size_t nex, int64_t t)
{
    for (size_t i = 0; i < nex; i++)
        if (ex[i] == t)
            return 1;
    return 0;
}

/* An occurrence of a master at local time `occ`. */
static int occurrence(xctx *x, const vev *e, const int64_t *ex, size_t nex,
                      tsps_event *ev, struct icaltimetype occ, int64_t dur,
                      int *count)
{
    int64_t t = to_utc(occ, x->deflt);

    if (excluded(ex, nex, t) || has_override(x, e->uid, t))
        return 0;
    if (++*count > MAX_INSTANCES)
        return 1;
    return emit(x, ev, e->uid, t, t, t + dur);
}

static void expand_master(xctx *x, const vev *e)
{
    icalcomponent *c = e->comp;
    struct icaltimetype ds = icalcomponent_get_dtstart(c);
    struct icaltimetype de = icalcomponent_get_dtend(c);
    int64_t start, dur;
    int count = 0;
    tsps_event ev;
    icalproperty *rrules[MAX_RULES], *rdates[MAX_RULES], *exprops[MAX_RULES];
    int64_t ex[MAX_RULES];
    size_t nrr, nrd, nex;

    if (icaltime_is_null_time(ds)) {
        report(x, e, "VEVENT without a valid DTSTART");
        return;
    }
    start = to_utc(ds, x->deflt);
    dur = icaltime_is_null_time(de) ? (icaltime_is_date(ds) ? 86400 : 0)
                                    : to_utc(de, x->deflt) - start;
    if (dur < 0) {
        report(x, e, "DTEND before DTSTART");
        return;
    }
    nrr = props_of(c, ICAL_RRULE_PROPERTY, rrules, MAX_RULES);
    nrd = props_of(c, ICAL_RDATE_PROPERTY, rdates, MAX_RULES);
    nex = props_of(c, ICAL_EXDATE_PROPERTY, exprops, MAX_RULES);
    for (size_t i = 0; i < nex; i++)
        ex[i] = to_utc(icalproperty_get_datetime_with_component(exprops[i], c),
                       x->deflt);
    fill_common(x, &ev, c);
    for (size_t i = 0; i < nrr && !x->stop; i++) {
        struct icalrecurrencetype rr = icalproperty_get_rrule(rrules[i]);
        icalrecur_iterator *it = icalrecur_iterator_new(rr, ds);
        struct icaltimetype occ;
        if (it == NULL) {
            report(x, e, "RRULE not understood");
            continue;
        }
        /* Skip ahead to the window when the rule allows it. */
        if (rr.count == 0 && x->from - dur > start) {
            icaltimezone *z =
                icaltime_is_utc(ds) ? icaltimezone_get_utc_timezone()
                : ds.zone != NULL   ? (icaltimezone *)(uintptr_t)ds.zone
                                    : x->deflt;
            struct icaltimetype s = icaltime_from_timet_with_zone(
                (time_t)(x->from - dur), icaltime_is_date(ds), z);
            if (ds.zone == NULL && !icaltime_is_utc(ds))
                s.zone = NULL; /* floating, like DTSTART */
            icalrecur_iterator_set_start(it, s);
        }
        for (int steps = 0; steps < MAX_STEPS && !x->stop; steps++) {
            occ = icalrecur_iterator_next(it);
            if (icaltime_is_null_time(occ) || to_utc(occ, x->deflt) >= x->to)
                break;
            if (to_utc(occ, x->deflt) == start)
                continue; /* DTSTART is emitted once, below */
            if (occurrence(x, e, ex, nex, &ev, occ, dur, &count))
                break;
        }
        icalrecur_iterator_free(it);
    }
    for (size_t i = 0; i < nrd && !x->stop; i++) {
        icalproperty *p = rdates[i];
        struct icaltimetype t = icalproperty_get_datetime_with_component(p, c);
        if (icaltime_is_null_time(t)) {
            struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);
            t = dp.period.start;
        }
        if (!icaltime_is_null_time(t) && to_utc(t, x->deflt) != start)
            occurrence(x, e, ex, nex, &ev, t, dur, &count);
    }
    /* DTSTART is always the first instance (RFC 5545 3.8.5.3). */
    if (!x->stop)
        occurrence(x, e, ex, nex, &ev, ds, dur, &count);
}

static void expand_override(xctx *x, const vev *e)
{
    icalcomponent *c = e->comp;
    struct icaltimetype ds = icalcomponent_get_dtstart(c);
    struct icaltimetype de = icalcomponent_get_dtend(c);
    int64_t start = icaltime_is_null_time(ds) ? e->rid : to_utc(ds, x->deflt);
    int64_t end = icaltime_is_null_time(de) ? start : to_utc(de, x->deflt);
    tsps_event ev;

    if (icaltime_is_null_time(de) && icaltime_is_date(ds))
        end = start + 86400;
    if (icaltime_is_null_time(de)) {
        /* no own end: keep the master's duration */
        for (size_t i = 0; i < x->nev; i++) {
            vev *m = &x->evs[i];
            if (m->rid == INT64_MIN && strcmp(m->uid, e->uid) == 0) {
                struct icaltimetype ms = icalcomponent_get_dtstart(m->comp);
                struct icaltimetype me = icalcomponent_get_dtend(m->comp);
                if (!icaltime_is_null_time(ms) && !icaltime_is_null_time(me))
                    end = start + to_utc(me, x->deflt) - to_utc(ms, x->deflt);
                break;
            }
        }
    }
    fill_common(x, &ev, c);
    emit(x, &ev, e->uid, e->rid, start, end);
}

static int collect(xctx *x, icalcomponent *cal, int *index)
{
    for (icalcomponent *c =
             icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
         c != NULL;
         c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
        vev e = {c, icalcomponent_get_uid(c), INT64_MIN, (*index)++};
        if (e.uid == NULL || e.uid[0] == '\0') {
            report(x, &e, "VEVENT without UID");
            continue;
        }
        if (icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) {
            struct icaltimetype r = icalcomponent_get_recurrenceid(c);
            if (icaltime_is_null_time(r)) {
                report(x, &e, "bad RECURRENCE-ID");
                continue;
            }
            e.rid = to_utc(r, x->deflt);
        }
        if (x->nev == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 16;
            vev *p = realloc(x->evs, cap * sizeof(*p));
            if (p == NULL)
                return CMSB_ENOMEM;
            x->evs = p;
            x->cap = cap;
        }
        x->evs[x->nev++] = e;
    }
    return CMSB_OK;
}

int vc_ical_expand(const char *buf, size_t len, int64_t from, int64_t to,
                   const char *tz, vc_event_fn ev_fn, vc_err_fn err_fn,
                   void *arg)
{
    xctx x;
    icalcomponent *root;
    int rc = CMSB_OK, index = 0;

    memset(&x, 0, sizeof(x));
    x.buf = buf;
    x.len = len;
    x.from = from;
    x.to = to;
    x.ev_fn = ev_fn;
    x.err_fn = err_fn;
    x.arg = arg;
    x.deflt = icaltimezone_get_builtin_timezone(tz != NULL ? tz : "UTC");
    if (x.deflt == NULL)
        x.deflt = icaltimezone_get_utc_timezone();
    root = icalparser_parse_string(buf);
    if (root == NULL) {
        err_fn(arg, 1, "not an iCalendar object (file skipped)");
        return CMSB_OK;
    }
    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
        rc = collect(&x, root, &index);
    } else if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT) {
        for (icalcomponent *c = icalcomponent_get_first_component(
                 root, ICAL_VCALENDAR_COMPONENT);
             c != NULL && rc == CMSB_OK; c = icalcomponent_get_next_component(
                                             root, ICAL_VCALENDAR_COMPONENT))
            rc = collect(&x, c, &index);
    } else {
        err_fn(arg, 1, "no VCALENDAR (file skipped)");
    }
    for (size_t i = 0; i < x.nev && rc == CMSB_OK && !x.stop; i++) {
        if (x.evs[i].rid == INT64_MIN)
            expand_master(&x, &x.evs[i]);
        else
            expand_override(&x, &x.evs[i]);
    }
    if (x.stop && rc == CMSB_OK)
        rc = CMSB_ECANCELED;
    free(x.evs);
    icalcomponent_free(root);
    return rc;
}

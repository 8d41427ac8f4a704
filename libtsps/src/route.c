/* route(): the pipeline of docs/design.md step 4, and live overrides.
 *
 * Hot path rules: one pooled reader (read txn + cursors, renewed), the
 * configuration from the in-memory snapshot, LMDB only for the contact
 * index, the events of the hour and, for "ring", the registrations. No
 * allocation, no formatting: traces are structured, text comes later. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

/* Fixed words of the trace: the method kinds first (indexed by
 * tsps_method_kind), then the rest. A lazy trace records their index. */
enum {
    W_HOLD_ASK = TSPS_METHOD__COUNT,
    W_NO_TARGET_NEEDED,
    W_ANY,
    W_NO_DEVICE,
    W_NO_TARGET,
    W_NO_DEVICE_NO_VM,
    W_NO_TARGET_NO_VM,
    W_NO_USER,
    W__COUNT
};

static const char *const words[W__COUNT] = {"none",
                                            "ring",
                                            "forward",
                                            "voicemail",
                                            "ivr",
                                            "attendant",
                                            "reject",
                                            "ask",
                                            "hold and ask",
                                            "no target needed",
                                            "*",
                                            "no device registered",
                                            "no target configured",
                                            "no device, no voicemail",
                                            "no target, no voicemail",
                                            "no user has this number"};

#define WORD(i) (TSPS__LZ_WORD + (i)), words[(i)]

/* One text of a step: its source in a pending decision, else the text. */
static void lz_put(char *dst, size_t cap, int lazy, int src, const char *text)
{
    if (lazy && src != TSPS__LZ_TEXT) {
        dst[0] = '\0';
        dst[1] = (char)src;
        return;
    }
    tsps__stcopy(dst, cap, text);
    if (lazy && dst[0] == '\0')
        dst[1] = '\0'; /* "" means "", not a source */
}

void tsps__trace_lz(tsps_decision *d, int at, tsps_step step,
                    tsps_trace_outcome oc, int n, int32_t arg, int wsrc,
                    const char *what, int fsrc, const char *found)
{
    tsps_trace_step *s;
    int lazy = (d->flags & TSPS_DEC_TRACE_PENDING) != 0;
    if (at < 0 || at >= TSPS_MAX_TRACE)
        return;
    s = &d->trace[at];
    s->step = (uint8_t)step;
    s->outcome = (uint8_t)oc;
    s->n = (uint16_t)n;
    s->arg = arg;
    lz_put(s->what, sizeof(s->what), lazy, wsrc, what);
    lz_put(s->found, sizeof(s->found), lazy, fsrc, found);
}

void tsps__trace_at(tsps_decision *d, int at, tsps_step step,
                    tsps_trace_outcome oc, int n, int32_t arg, const char *what,
                    const char *found)
{
    tsps__trace_lz(d, at, step, oc, n, arg, TSPS__LZ_TEXT, what, TSPS__LZ_TEXT,
                   found);
}

static void tr(tsps_decision *d, tsps_step step, tsps_trace_outcome oc, int n,
               int32_t arg, const char *what, const char *found)
{
    if (d->ntrace < TSPS_MAX_TRACE)
        tsps__trace_at(d, d->ntrace++, step, oc, n, arg, what, found);
}

/* tr() with sources (TSPS__LZ_*) for a lazy trace. */
static void trl(tsps_decision *d, tsps_step step, tsps_trace_outcome oc, int n,
                int32_t arg, int wsrc, const char *what, int fsrc,
                const char *found)
{
    if (d->ntrace < TSPS_MAX_TRACE)
        tsps__trace_lz(d, d->ntrace++, step, oc, n, arg, wsrc, what, fsrc,
                       found);
}

static const char *lz_text(const tsps_decision *d, unsigned src)
{
    switch (src) {
    case TSPS__LZ_CALLED:
        return d->called;
    case TSPS__LZ_USER:
        return d->user;
    case TSPS__LZ_CALLER:
        return d->caller;
    case TSPS__LZ_CALLER_NAME:
        return d->caller_name;
    case TSPS__LZ_CODE:
        return d->code;
    case TSPS__LZ_RULE_CODE:
        return d->rule_code;
    case TSPS__LZ_TARGET0:
        return d->ntargets > 0 ? d->targets[0].uri : "";
    case TSPS__LZ_STATUS:
        return tsps_status_name(d->status);
    default:
        return src >= TSPS__LZ_WORD && src < TSPS__LZ_WORD + W__COUNT
                   ? words[src - TSPS__LZ_WORD]
                   : "";
    }
}

int tsps_decision_trace_render(tsps_decision *d)
{
    if (d == NULL)
        return TSPS_EINVAL;
    if (!(d->flags & TSPS_DEC_TRACE_PENDING))
        return TSPS_OK;
    for (int i = 0; i < d->ntrace && i < TSPS_MAX_TRACE; i++) {
        tsps_trace_step *s = &d->trace[i];
        if (s->what[0] == '\0' && s->what[1] != '\0')
            tsps__stcopy(s->what, sizeof(s->what),
                         lz_text(d, (unsigned char)s->what[1]));
        if (s->found[0] == '\0' && s->found[1] != '\0')
            tsps__stcopy(s->found, sizeof(s->found),
                         lz_text(d, (unsigned char)s->found[1]));
    }
    d->flags &= ~TSPS_DEC_TRACE_PENDING;
    return TSPS_OK;
}

int tsps_decision_note(tsps_decision *d, const char *what, const char *text)
{
    if (d == NULL || what == NULL || text == NULL)
        return TSPS_EINVAL;
    if (d->ntrace >= TSPS_MAX_TRACE)
        return TSPS_ENOSPC;
    tr(d, TSPS_STEP_NOTE, TSPS_TR_OK, 0, 0, what, text);
    return TSPS_OK;
}

static void decision_reset(tsps_decision *d, int64_t now, int lazy)
{
    /* Clear the head only; arrays are valid up to their counts. */
    memset(d, 0, offsetof(tsps_decision, targets));
    d->version = TSPS_DECISION_VERSION;
    d->at = now;
    d->ntrace = 0;
    if (lazy)
        d->flags = TSPS_DEC_TRACE_PENDING;
}

/* ---- status -----------------------------------------------------------------
 */

/* The caller's contact, loaded only when an event's attendees must be
 * compared with its e-mail addresses. */
typedef struct lazy_contact {
    tsps_engine *eng;
    tsps__reader *r;
    const tsps__ucache *uc;
    tsps_decision *d;
    tsps__contact_ref *cr; /* resolved first if still pending */
    uint32_t uid;
    const char *cuid; /* "" = no contact */
    int state;        /* 0 = not loaded, 1 = loaded, -1 = none */
    tsps_contact c;
} lazy_contact;

static const tsps_contact *lazy_get(lazy_contact *lc)
{
    if (lc != NULL && lc->cr != NULL)
        tsps__contact_end(lc->eng, lc->r, lc->uc, lc->d, lc->cr);
    if (lc == NULL || lc->cuid == NULL || lc->cuid[0] == '\0')
        return NULL;
    if (lc->state == 0) {
        uint8_t ck[4 + TSPS_UID_MAX];
        size_t ul = strlen(lc->cuid);
        MDB_val k = {4 + ul, ck}, v;
        tsps__be32(ck, lc->uid);
        memcpy(ck + 4, lc->cuid, ul);
        lc->state =
            mdb_get(lc->r->txn, lc->eng->dbi[DB_CONTACTS], &k, &v) ==
                        MDB_SUCCESS &&
                    tsps__dec_contact(v.mv_data, v.mv_size, &lc->c) == TSPS_OK
                ? 1
                : -1;
    }
    return lc->state == 1 ? &lc->c : NULL;
}

typedef struct evscan {
    int found; /* an event makes the user busy/away now */
    tsps_busy busy;
    int64_t end;
    char summary[TSPS_DETAIL_MAX];
    char uid[TSPS_UID_MAX];
    int expected; /* caller attends an event now or soon */
    char exp_summary[TSPS_DETAIL_MAX];
    int64_t exp_start;
} evscan;

static int attendee_match(const tsps_event *e, const char *caller,
                          lazy_contact *lc)
{
    const tsps_contact *c = NULL;
    int loaded = 0;
    for (int i = 0; i < e->nattendees; i++) {
        const char *a = e->attendees[i];
        if (caller[0] != '\0' && strncmp(a, "tel:", 4) == 0 &&
            strcmp(a + 4, caller) == 0)
            return 1;
        if (!loaded) {
            c = lazy_get(lc);
            loaded = 1;
        }
        if (c == NULL)
            continue;
        for (int j = 0; j < c->nemails; j++) {
            const char *m = a;
            if (strncmp(m, "mailto:", 7) == 0)
                m += 7;
            if (strcmp(m, c->emails[j]) == 0)
                return 1;
        }
    }
    return 0;
}

/* The pieces of the user's events that overlap [now, now + window], from
 * memory (umem.c) or from the store. A piece from memory brings no value:
 * the event is read from the txn when it is needed. */
typedef struct piece_walk {
    tsps_engine *eng;
    tsps__reader *r;
    uint32_t uid;
    const tsps__ublob *ub; /* NULL: walk the cursor */
    size_t i;
    MDB_cursor *cur;
    int rc;
    MDB_val k, v;
} piece_walk;

/* The next piece's key and head; 0 at the end. v.mv_data is NULL for a
 * piece from memory. */
static int piece_next(piece_walk *w, int64_t *ce, const tsps__upiece **pp,
                      tsps__upiece *tmp)
{
    if (w->ub != NULL) {
        if (w->i >= w->ub->nev)
            return 0;
        *pp = &w->ub->ev[w->i++];
        *ce = (*pp)->ce;
        w->v.mv_data = NULL;
        return 1;
    }
    if (w->rc != MDB_SUCCESS || w->k.mv_size != 20 ||
        tsps__rd32(w->k.mv_data) != w->uid)
        return 0;
    {
        const uint8_t *kp = w->k.mv_data, *vp = w->v.mv_data;
        tmp->ce = (int64_t)tsps__rd64(kp + 4);
        tmp->h = tsps__rd64(kp + 12);
        tmp->valid = w->v.mv_size >= 19 && vp[0] == 1;
        if (tmp->valid) {
            tmp->start = (int64_t)tsps__rd64(vp + 1);
            tmp->end = (int64_t)tsps__rd64(vp + 9);
            tmp->busy = vp[17];
            tmp->cancelled = vp[18];
        }
    }
    *pp = tmp;
    *ce = tmp->ce;
    return 1;
}

static void piece_advance(piece_walk *w)
{
    if (w->ub == NULL)
        w->rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_NEXT);
}

/* The whole event of the current piece. */
static int piece_event(piece_walk *w, const tsps__upiece *p, tsps_event *e)
{
    if (w->v.mv_data == NULL) {
        uint8_t kb[20];
        MDB_val k = {20, kb}, v;
        tsps__be32(kb, w->uid);
        tsps__be64(kb + 4, (uint64_t)p->ce);
        tsps__be64(kb + 12, p->h);
        if (mdb_get(w->r->txn, w->eng->dbi[DB_EVENTS], &k, &v) != MDB_SUCCESS)
            return TSPS_ENOTFOUND; /* gone since: a newer version */
        return tsps__dec_event(v.mv_data, v.mv_size, e);
    }
    return tsps__dec_event(w->v.mv_data, w->v.mv_size, e);
}

/* Walk the event pieces that overlap [now, now + window]. `c` may be NULL
 * (no contact): then only tel: attendees can match the caller. */
static void scan_events(tsps_engine *eng, tsps__reader *r, uint32_t uid,
                        int64_t now, int64_t window, const char *caller,
                        lazy_contact *c, int want_expected, evscan *out)
{
    piece_walk w;
    int64_t ce;
    const tsps__upiece *p;
    tsps__upiece tmp;

    memset(out, 0, sizeof(*out));
    w.eng = eng;
    w.r = r;
    w.uid = uid;
    w.ub = NULL;
    w.i = 0;
    w.cur = NULL;
    w.rc = MDB_NOTFOUND;
    if (r->ub_on) {
        if (r->ub == NULL)
            return; /* no events */
        w.ub = r->ub;
        w.i = tsps__umem_seek(r->ub, now);
    } else {
        uint8_t kb[20];
        tsps__be32(kb, uid);
        tsps__be64(kb + 4, (uint64_t)(now + 1));
        memset(kb + 12, 0, 8);
        w.k.mv_size = 20;
        w.k.mv_data = kb;
        w.cur = tsps__reader_cursor(r, RCUR_EVENTS);
        if (w.cur == NULL)
            return;
        w.rc = mdb_cursor_get(w.cur, &w.k, &w.v, MDB_SET_RANGE);
    }
    for (int guard = 0; guard < 256 && piece_next(&w, &ce, &p, &tmp); guard++) {
        int64_t start, end;
        int busy, cancelled;
        if (ce > now + window + TSPS__EV_CHUNK)
            break;
        if (!p->valid)
            goto next;
        start = p->start;
        end = p->end;
        busy = p->busy;
        cancelled = p->cancelled;
        if (cancelled || end <= now)
            goto next;
        if (start <= now && busy != TSPS_BUSY_FREE &&
            (!out->found || busy == TSPS_BUSY_OOF)) {
            tsps_event e;
            const char *summary, *euid;
            int have = 0; /* e holds the event */
            if (w.ub != NULL) {
                /* summary and uid are in memory; the event itself is
                 * read only if its attendees must be looked at */
                summary = (const char *)w.ub->bytes + p->text;
                euid = summary + strlen(summary) + 1;
            } else if (piece_event(&w, p, &e) == TSPS_OK) {
                have = 1;
                summary = e.summary;
                euid = e.uid;
            } else {
                goto next;
            }
            out->found = 1;
            out->busy = (tsps_busy)busy;
            out->end = end;
            tsps__stcopy(out->summary, sizeof(out->summary), summary);
            tsps__stcopy(out->uid, sizeof(out->uid), euid);
            if (want_expected && !out->expected &&
                (w.ub == NULL || p->natt > 0) &&
                (have || piece_event(&w, p, &e) == TSPS_OK) &&
                attendee_match(&e, caller, c)) {
                out->expected = 1;
                tsps__stcopy(out->exp_summary, sizeof(out->exp_summary),
                             e.summary);
                out->exp_start = start;
            }
        } else if (want_expected && !out->expected && start <= now + window &&
                   (w.ub == NULL || p->natt > 0)) {
            /* (an event without attendees expects nobody) */
            tsps_event e;
            if (piece_event(&w, p, &e) == TSPS_OK &&
                attendee_match(&e, caller, c)) {
                out->expected = 1;
                tsps__stcopy(out->exp_summary, sizeof(out->exp_summary),
                             e.summary);
                out->exp_start = start;
            }
        }
    next:
        piece_advance(&w);
    }
}

/* The routed user's events and registrations from memory for the rest of
 * this use of the reader (umem.c), if the table is in use. */
static void user_mem_begin(tsps_engine *eng, tsps__reader *r, uint32_t uid)
{
    r->ub_on = tsps__umem_begin(eng, uid, &r->ub);
    if (r->ub != NULL) {
        /* the calendar scan and the targets read it later in the route:
         * start the loads now (the head, the first pieces, the
         * registrations of a small block) */
        const char *p = (const char *)r->ub;
        for (int i = 0; i < 4; i++)
            __builtin_prefetch(p + 64 * i);
        __builtin_prefetch(r->ub->bytes);
    }
}

static void user_mem_end(tsps_engine *eng, tsps__reader *r)
{
    if (r->ub_on)
        tsps__umem_end(eng);
    r->ub_on = 0;
    r->ub = NULL;
}

static int in_hours(const tsps__ucache *uc, int64_t now)
{
    int64_t local = now + tsps__tz_offset(uc->tz, now);
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int wd = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01: Thursday */
    int minute = (int)((local - days * 86400) / 60);
    const uint16_t(*rg)[2] = uc->user.hours.range[wd];

    for (int i = 0; i < 2; i++)
        if (rg[i][0] != rg[i][1] && minute >= rg[i][0] && minute < rg[i][1])
            return 1;
    return 0;
}

/* Effective status; fills `ev` as a side effect (also used for expected). */
static void compute_status(tsps_engine *eng, tsps__reader *r,
                           const tsps__ucache *uc, int64_t now,
                           const char *caller, lazy_contact *c,
                           tsps_status_info *si, evscan *ev)
{
    memset(si, 0, sizeof(*si));
    scan_events(eng, r, uc->uid, now, uc->user.expected_window_s, caller, c,
                caller != NULL, ev);
    if (uc->has_manual && (uc->manual_until == 0 || uc->manual_until > now)) {
        si->status = uc->manual;
        si->source = TSPS_STATUS_SRC_MANUAL;
        si->until = uc->manual_until;
        tsps__stcopy(si->detail, sizeof(si->detail), uc->manual_note);
    } else if (ev->found) {
        si->status = ev->busy == TSPS_BUSY_OOF ? TSPS_STATUS_AWAY
                                               : TSPS_STATUS_IN_MEETING;
        si->source = TSPS_STATUS_SRC_CALENDAR;
        si->until = ev->end;
        tsps__stcopy(si->detail, sizeof(si->detail), ev->summary);
        tsps__stcopy(si->event_uid, sizeof(si->event_uid), ev->uid);
    } else if (!in_hours(uc, now)) {
        si->status = TSPS_STATUS_OFF_HOURS;
        si->source = TSPS_STATUS_SRC_HOURS;
    } else {
        si->status = TSPS_STATUS_AVAILABLE;
        si->source = TSPS_STATUS_SRC_DEFAULT;
    }
}

int tsps_status_get(tsps_engine *eng, const char *user_id, int64_t now,
                    tsps_status_info *out)
{
    tsps__reader *r = NULL;
    const tsps__ucache *uc;
    evscan ev;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || out == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    if (now == 0)
        now = (int64_t)time(NULL);
    rc = tsps__reader_get(eng, &r);
    if (rc != TSPS_OK)
        return rc;
    uc = tsps__snap_user_by_name(r->snap, user_id);
    if (uc == NULL) {
        rc = TSPS_ENOTFOUND;
    } else {
        user_mem_begin(eng, r, uc->uid);
        compute_status(eng, r, uc, now, NULL, NULL, out, &ev);
        user_mem_end(eng, r);
    }
    tsps__reader_put(eng, r);
    return rc;
}

/* ---- targets
 * -------------------------------------------------------------------- */

/* Where a device label stands in the action's list: 0 when the action
 * names no devices (every device, ranked by q), 1.. in the order the user
 * wrote them, -1 if not listed. */
static int label_rank(const tsps_action *a, const char *label)
{
    if (a->ndevices == 0)
        return 0;
    for (int i = 0; i < a->ndevices; i++)
        if (strcmp(a->devices[i], label) == 0)
            return i + 1;
    return -1;
}

/* Ring order: the written device order first, then best q. */
static int ring_before(const tsps_action *a, const tsps_target *x,
                       const tsps_target *y)
{
    int rx, ry;
    if (a->ndevices == 0)
        return x->q > y->q;
    rx = label_rank(a, x->label);
    ry = label_rank(a, y->label);
    return rx != ry ? rx < ry : x->q > y->q;
}

static tsps_target *add_target(tsps_decision *d, const char *uri)
{
    tsps_target *t;
    if (d->ntargets >= TSPS_MAX_TARGETS)
        return NULL;
    t = &d->targets[d->ntargets++];
    memset(t, 0, sizeof(*t));
    tsps__stcopy(t->uri, sizeof(t->uri), uri);
    t->q = 1000;
    return t;
}

/* Registered devices for a ring action; returns how many were added. */
static int ring_targets(tsps__reader *r, const tsps__ucache *uc, int64_t now,
                        const tsps_action *a, tsps_decision *d, int reserve)
{
    uint8_t pfx[4];
    MDB_val k = {4, pfx}, v;
    int first = d->ntargets, n = 0, rc = MDB_NOTFOUND;
    uint32_t ri = 0;
    MDB_cursor *cur = NULL;

    if (!r->ub_on) {
        cur = tsps__reader_cursor(r, RCUR_REGS);
        if (cur == NULL)
            return 0;
        tsps__be32(pfx, uc->uid);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    while (d->ntargets < TSPS_MAX_TARGETS - reserve) {
        tsps_registration g;
        if (r->ub_on) {
            /* from memory (umem.c), in the same key order */
            if (r->ub == NULL || ri >= r->ub->nreg)
                break;
            v.mv_data = r->ub->bytes + r->ub->reg[ri].off;
            v.mv_size = r->ub->reg[ri].len;
            ri++;
        } else if (rc != MDB_SUCCESS || k.mv_size <= 4 ||
                   memcmp(k.mv_data, pfx, 4) != 0) {
            break;
        }
        if (tsps__dec_reg(v.mv_data, v.mv_size, &g) == TSPS_OK &&
            g.expires > now && label_rank(a, g.label) >= 0) {
            tsps_target *t = add_target(d, g.contact);
            tsps__stcopy(t->label, sizeof(t->label), g.label);
            t->q = g.q;
            t->expires = g.expires;
            n++;
        }
        if (!r->ub_on)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    /* devices=... in the order written, else best q first (insertion
     * sort, stable: a handful of devices) */
    for (int i = first + 1; i < d->ntargets; i++) {
        tsps_target t = d->targets[i];
        int j = i;
        while (j > first && ring_before(a, &t, &d->targets[j - 1])) {
            d->targets[j] = d->targets[j - 1];
            j--;
        }
        d->targets[j] = t;
    }
    for (int i = first; i < d->ntargets; i++) {
        if (a->ring_mode == TSPS_RING_SEQUENTIAL) {
            d->targets[i].order = (uint16_t)(i - first + 1);
            d->targets[i].timeout_s =
                a->step_timeout_s != 0 ? a->step_timeout_s : 20;
        } else {
            d->targets[i].timeout_s = a->step_timeout_s;
        }
    }
    return n;
}

/* The URI an action sends to, or NULL if it has none. */
static const char *action_uri(const tsps__ucache *uc, const tsps_action *a,
                              char *buf)
{
    switch (a->kind) {
    case TSPS_METHOD_FORWARD: {
        tsps_number num;
        if (tsps_normalize(a->target, &uc->user.dialplan, &num) == TSPS_OK &&
            num.kind == TSPS_NUM_E164 && strchr(a->target, '@') == NULL) {
            strcpy(buf, num.e164);
            return buf;
        }
        return a->target[0] != '\0' ? a->target : NULL;
    }
    case TSPS_METHOD_VOICEMAIL:
        return a->target[0] != '\0'                ? a->target
               : uc->user.voicemail_uri[0] != '\0' ? uc->user.voicemail_uri
                                                   : NULL;
    case TSPS_METHOD_ATTENDANT:
        return a->target[0] != '\0'                ? a->target
               : uc->user.attendant_uri[0] != '\0' ? uc->user.attendant_uri
                                                   : NULL;
    case TSPS_METHOD_IVR:
        return a->target[0] != '\0' ? a->target : NULL;
    default:
        return NULL;
    }
}

/* Targets for one action; 0 if it cannot apply (nothing to send to). */
static int action_targets(tsps__reader *r, const tsps__ucache *uc, int64_t now,
                          const tsps_action *a, tsps_decision *d, int reserve,
                          int fallback)
{
    char num[TSPS_E164_MAX];
    const char *uri;
    tsps_target *t;
    int first = d->ntargets;

    switch (a->kind) {
    case TSPS_METHOD_RING:
        if (ring_targets(r, uc, now, a, d, reserve) == 0)
            return 0;
        break;
    case TSPS_METHOD_REJECT:
        return 1;
    case TSPS_METHOD_NONE:
    case TSPS_METHOD_ASK:
        return 0;
    default:
        uri = action_uri(uc, a, num);
        if (uri == NULL)
            return 0;
        t = add_target(d, uri);
        if (t == NULL)
            return 0;
        break;
    }
    for (int i = first; i < d->ntargets; i++)
        d->targets[i].fallback = (uint8_t)fallback;
    return 1;
}

/* Replace the decision's method by a stand-in action, saying why. */
static void use_stand_in(tsps_decision *d, const tsps_action *a, int why)
{
    tsps_method m;
    memset(&m, 0, sizeof(m));
    m.a = *a;
    m.kind = a->kind;
    d->method = m;
    d->flags |= TSPS_DEC_FALLBACK;
    trl(d, TSPS_STEP_TARGETS, TSPS_TR_FALLBACK, 0, (int32_t)a->kind, WORD(why),
        WORD(a->kind));
}

int tsps__targets(tsps_engine *eng, tsps__reader *r, const tsps__ucache *uc,
                  int64_t now, tsps_decision *d)
{
    const tsps_method *m = &d->method;
    tsps_action stand;
    (void)eng;

    d->ntargets = 0;
    if (m->kind == TSPS_METHOD_ASK) {
        if (m->fallback.kind != TSPS_METHOD_NONE)
            action_targets(r, uc, now, &m->fallback, d, 0, 1);
        trl(d, TSPS_STEP_TARGETS, TSPS_TR_OK, d->ntargets, TSPS_METHOD_ASK,
            WORD(W_HOLD_ASK),
            WORD(m->fallback.kind != TSPS_METHOD_NONE ? m->fallback.kind
                                                      : TSPS_METHOD_REJECT));
        return TSPS_OK;
    }
    if (action_targets(r, uc, now, &m->a, d,
                       m->fallback.kind != TSPS_METHOD_NONE ? 1 : 0, 0)) {
        if (m->kind == TSPS_METHOD_RING &&
            m->fallback.kind != TSPS_METHOD_NONE) {
            uint16_t last = 0;
            int before = d->ntargets;
            for (int i = 0; i < d->ntargets; i++)
                if (d->targets[i].order > last)
                    last = d->targets[i].order;
            if (action_targets(r, uc, now, &m->fallback, d, 0, 1))
                for (int i = before; i < d->ntargets; i++)
                    d->targets[i].order = (uint16_t)(last + 1);
        }
        if (d->ntargets > 0)
            trl(d, TSPS_STEP_TARGETS, TSPS_TR_OK, d->ntargets, (int32_t)m->kind,
                WORD(m->kind), TSPS__LZ_TARGET0, d->targets[0].uri);
        else
            trl(d, TSPS_STEP_TARGETS, TSPS_TR_OK, 0, (int32_t)m->kind,
                WORD(m->kind), WORD(W_NO_TARGET_NEEDED));
        return TSPS_OK;
    }
    /* The method cannot apply: its own fallback, else voicemail, else
     * reject as unavailable. */
    if (m->fallback.kind != TSPS_METHOD_NONE &&
        action_targets(r, uc, now, &m->fallback, d, 0, 0)) {
        stand = m->fallback;
        use_stand_in(d, &stand,
                     m->kind == TSPS_METHOD_RING ? W_NO_DEVICE : W_NO_TARGET);
        return TSPS_OK;
    }
    memset(&stand, 0, sizeof(stand));
    stand.kind = TSPS_METHOD_VOICEMAIL;
    if (m->kind != TSPS_METHOD_VOICEMAIL &&
        action_targets(r, uc, now, &stand, d, 0, 0)) {
        use_stand_in(d, &stand,
                     m->kind == TSPS_METHOD_RING ? W_NO_DEVICE : W_NO_TARGET);
        return TSPS_OK;
    }
    memset(&stand, 0, sizeof(stand));
    stand.kind = TSPS_METHOD_REJECT;
    stand.reject = TSPS_REJECT_UNAVAILABLE;
    use_stand_in(d, &stand,
                 m->kind == TSPS_METHOD_RING ? W_NO_DEVICE_NO_VM
                                             : W_NO_TARGET_NO_VM);
    return TSPS_OK;
}

/* ---- the pipeline
 * ------------------------------------------------------------------ */

static int route_user(tsps_engine *eng, tsps__reader *r, const tsps__ucache *uc,
                      const tsps_call *call, int64_t now, tsps_decision *d)
{
    tsps_number num;
    tsps_status_info si;
    lazy_contact lc;
    tsps__contact_ref cr;
    evscan ev;
    int rc;
    const tsps_method *m;
    const char *rcode = "";
    tsps_status rst = TSPS_STATUS_ANY, rule_status;
    tsps__rule_choice choice;

    tsps__stcopy(d->user, sizeof(d->user), uc->user.id);
    user_mem_begin(eng, r, uc->uid);
    if (call->caller_name != NULL)
        tsps__stcopy(d->caller_name, sizeof(d->caller_name), call->caller_name);

    /* 2. caller number */
    rc = tsps_normalize(call->caller, &uc->user.dialplan, &num);
    if (rc == TSPS_OK && num.kind == TSPS_NUM_E164) {
        strcpy(d->caller, num.e164);
        trl(d, TSPS_STEP_CALLER, TSPS_TR_OK, 0, 0, TSPS__LZ_TEXT,
            call->caller != NULL ? call->caller : "", TSPS__LZ_CALLER,
            d->caller);
    } else if (rc == TSPS_OK && num.kind == TSPS_NUM_WITHHELD) {
        d->caller_kind = TSPS_CALLER_WITHHELD;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.withheld_code);
        tr(d, TSPS_STEP_CALLER, TSPS_TR_NOTFOUND, 0, 0, "withheld", d->code);
    } else {
        d->caller_kind =
            rc == TSPS_OK ? TSPS_CALLER_AMBIGUOUS : TSPS_CALLER_UNKNOWN;
        tsps__stcopy(d->code, sizeof(d->code), uc->user.unknown_code);
        tr(d, TSPS_STEP_CALLER,
           rc == TSPS_OK ? TSPS_TR_AMBIGUOUS : TSPS_TR_ERROR, 0, 0,
           call->caller != NULL ? call->caller : "",
           rc == TSPS_OK ? "local number without area code: not matched"
                         : "not a number");
    }

    /* 3. contact and code (finished after the calendar scan and the
     * targets, see contact_ref) */
    tsps__contact_begin(eng, r, uc, d, &cr);
    tsps__snap_rules_prefetch(r->snap, uc);

    /* 4. status, 5. calendar (expected caller) */
    lc.eng = eng;
    lc.r = r;
    lc.uc = uc;
    lc.d = d;
    lc.cr = &cr;
    lc.uid = uc->uid;
    lc.cuid = d->contact_uid;
    lc.state = 0;
    compute_status(eng, r, uc, now, d->caller, &lc, &si, &ev);
    tsps__contact_code(eng, r, uc, d, &cr);
    d->status = si.status;
    d->status_source = si.source;
    trl(d, TSPS_STEP_STATUS,
        si.source == TSPS_STATUS_SRC_DEFAULT ? TSPS_TR_DEFAULT : TSPS_TR_OK, 0,
        (int32_t)si.source, TSPS__LZ_STATUS, tsps_status_name(si.status),
        TSPS__LZ_TEXT, si.detail);
    rule_status = si.status;
    if (ev.expected) {
        d->flags |= TSPS_DEC_EXPECTED;
        if (si.status == TSPS_STATUS_IN_MEETING &&
            (uc->user.flags & TSPS_USER_EXPECTED_RINGS_THROUGH)) {
            rule_status = TSPS_STATUS_AVAILABLE;
            tr(d, TSPS_STEP_CALENDAR, TSPS_TR_OK, 1, 1, ev.exp_summary,
               "caller attends: treated as available");
        } else {
            tr(d, TSPS_STEP_CALENDAR, TSPS_TR_OK, 1, 0, ev.exp_summary,
               "caller attends");
        }
    } else if (ev.found || si.status == TSPS_STATUS_IN_MEETING) {
        tr(d, TSPS_STEP_CALENDAR, TSPS_TR_NOTFOUND, 0, 0, ev.summary,
           "caller is not an attendee");
    }

    /* 6. rule */
    m = tsps__rule_pick(r->snap, uc, d->code, rule_status, &choice);
    if (m != NULL) {
        int named = choice.tier == TSPS__TIER_CODE_STATUS ||
                    choice.tier == TSPS__TIER_CODE_ANY;
        rcode = named ? d->code : TSPS_CODE_ANY;
        rst = choice.tier == TSPS__TIER_CODE_STATUS ||
                      choice.tier == TSPS__TIER_ANY_STATUS
                  ? rule_status
                  : TSPS_STATUS_ANY;
        d->method = *m;
        tsps__stcopy(d->rule_code, sizeof(d->rule_code), rcode);
        d->rule_status = rst;
        /* n: the tier chosen, the rule it was chosen over and the status
         * probed, for the explanation (VIP/any chosen over the meeting rule) */
        trl(d, TSPS_STEP_RULE, TSPS_TR_OK,
            choice.tier | (choice.over_tier << 4) | ((int)rule_status << 8),
            (int32_t)rst, TSPS__LZ_RULE_CODE, d->rule_code, WORD(m->kind));
    } else {
        memset(&d->method, 0, sizeof(d->method));
        d->method.kind = d->method.a.kind = TSPS_METHOD_RING;
        d->rule_status = TSPS_STATUS_ANY;
        if (d->code[0] != '\0')
            trl(d, TSPS_STEP_RULE, TSPS_TR_DEFAULT, 0, 0, TSPS__LZ_CODE,
                d->code, WORD(TSPS_METHOD_RING));
        else
            trl(d, TSPS_STEP_RULE, TSPS_TR_DEFAULT, 0, 0, WORD(W_ANY),
                WORD(TSPS_METHOD_RING));
    }

    /* 7. targets */
    rc = tsps__targets(eng, r, uc, now, d);
    tsps__contact_end(eng, r, uc, d, &cr);
    user_mem_end(eng, r);
    return rc;
}

int tsps_route(tsps_engine *eng, const tsps_call *call, tsps_decision *out)
{
    tsps__reader *r = NULL;
    const tsps__ucache *uc;
    tsps_number num;
    int64_t now;
    int rc;

    if (eng == NULL || call == NULL || out == NULL)
        return TSPS_EINVAL;
    if (call->version < 1 || call->version > TSPS_CALL_VERSION)
        return TSPS_EVERSION;
    if (call->called == NULL || call->called[0] == '\0')
        return TSPS_EINVAL;
    now = call->now != 0 ? call->now : (int64_t)time(NULL);
    decision_reset(out, now,
                   call->version >= 2 && (call->flags & TSPS_CALL_TRACE_LAZY));

    /* 1. called number -> user. Without a site region only international
     * forms are meant to match: the stand-in plan (+888, no trunk prefix)
     * turns national forms into numbers no DID has. */
    {
        static const tsps_dialplan intl_only = {"", "888", "", "00"};
        rc = tsps_normalize(call->called,
                            eng->site.cc[0] != '\0' ? &eng->site : &intl_only,
                            &num);
    }
    if (rc != TSPS_OK || num.kind != TSPS_NUM_E164) {
        out->flags |= TSPS_DEC_UNKNOWN_NUMBER;
        tr(out, TSPS_STEP_CALLED, TSPS_TR_ERROR, 0, 0, call->called,
           "not an international number");
        return TSPS_OK;
    }
    strcpy(out->called, num.e164);
    rc = tsps__reader_get(eng, &r);
    if (rc != TSPS_OK)
        return rc;
    {
        /* the user's number slot gives the uid before the user's cache is
         * read: a caller in international form already names the contact
         * slot the route will probe, so its load starts now, beside the
         * loads of the user's cache */
        const tsps__snap *s = r->snap;
        uint32_t uid = tsps__snap_uid_by_number(s, tsps__e164_key(num.e164));
        uc = uid < s->nuids ? s->by_uid[uid] : NULL;
        if (uc != NULL && call->caller != NULL && call->caller[0] == '+')
            tsps__cmem_hint(eng, uid, tsps__e164_key(call->caller));
    }
    if (uc == NULL) {
        out->flags |= TSPS_DEC_UNKNOWN_NUMBER;
        trl(out, TSPS_STEP_CALLED, TSPS_TR_NOTFOUND, 0, 0, TSPS__LZ_CALLED,
            out->called, WORD(W_NO_USER));
    } else {
        /* The lines of the user's cache that the route reads, loaded
         * side by side rather than one after the other. */
        __builtin_prefetch(&uc->user.dialplan);
        __builtin_prefetch(&uc->user.hours);
        __builtin_prefetch(&uc->user.unknown_code);
        __builtin_prefetch(&uc->user.expected_window_s);
        __builtin_prefetch(&uc->has_manual);
        __builtin_prefetch(&uc->rule_statuses);
        __builtin_prefetch(&uc->rix[4]);
        /* route_user() copies the user id first thing */
        trl(out, TSPS_STEP_CALLED, TSPS_TR_OK, 0, 0, TSPS__LZ_CALLED,
            out->called, TSPS__LZ_USER, uc->user.id);
        rc = route_user(eng, r, uc, call, now, out);
    }
    tsps__reader_put(eng, r);
    return rc;
}

int tsps_route_override(tsps_engine *eng, const tsps_decision *prev,
                        const tsps_method *m, const char *actor, int64_t now,
                        tsps_decision *out)
{
    tsps__reader *r = NULL;
    const tsps__ucache *uc;
    char text[256];
    int rc;

    if (eng == NULL || prev == NULL || m == NULL || out == NULL ||
        actor == NULL || actor[0] == '\0' ||
        strnlen(actor, TSPS_ID_MAX) == TSPS_ID_MAX ||
        m->kind == TSPS_METHOD_NONE || m->kind >= TSPS_METHOD__COUNT ||
        prev->user[0] == '\0')
        return TSPS_EINVAL;
    if (now == 0)
        now = (int64_t)time(NULL);
    if (out != prev)
        *out = *prev;
    /* the new targets replace what a pending trace still refers to */
    tsps_decision_trace_render(out);
    out->method = *m;
    out->flags |= TSPS_DEC_OVERRIDDEN;
    out->flags &= ~TSPS_DEC_FALLBACK;
    strcpy(out->actor, actor);
    out->at = now;
    if (tsps_method_format(m, text, sizeof(text), NULL) != TSPS_OK)
        strcpy(text, words[m->kind]);
    tr(out, TSPS_STEP_OVERRIDE, TSPS_TR_OK, 0, (int32_t)m->kind, actor, text);
    rc = tsps__reader_get(eng, &r);
    if (rc != TSPS_OK)
        return rc;
    uc = tsps__snap_user_by_name(r->snap, prev->user);
    if (uc == NULL) {
        rc = TSPS_ENOTFOUND;
    } else {
        user_mem_begin(eng, r, uc->uid);
        rc = tsps__targets(eng, r, uc, now, out);
        user_mem_end(eng, r);
    }
    tsps__reader_put(eng, r);
    return rc;
}

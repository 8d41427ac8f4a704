/* Record encoding: compact, versioned, bounds-checked. Each record starts
 * with a format byte; strings are length-prefixed and never trusted. */
#include "internal.h"

void tsps__w8(tsps__wbuf *w, uint8_t v)
{
    if (w->len + 1 > w->cap) {
        w->overflow = 1;
        return;
    }
    w->p[w->len++] = v;
}

void tsps__w16(tsps__wbuf *w, uint16_t v)
{
    tsps__w8(w, (uint8_t)(v >> 8));
    tsps__w8(w, (uint8_t)v);
}

void tsps__w32(tsps__wbuf *w, uint32_t v)
{
    if (w->len + 4 > w->cap) {
        w->overflow = 1;
        return;
    }
    tsps__be32(w->p + w->len, v);
    w->len += 4;
}

void tsps__w64(tsps__wbuf *w, uint64_t v)
{
    tsps__w32(w, (uint32_t)(v >> 32));
    tsps__w32(w, (uint32_t)v);
}

void tsps__wstr(tsps__wbuf *w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n > 0xFFFF || w->len + 2 + n > w->cap) {
        w->overflow = 1;
        return;
    }
    tsps__w16(w, (uint16_t)n);
    if (n > 0)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

uint8_t tsps__r8(tsps__rbuf *r)
{
    if (r->off + 1 > r->len) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->off++];
}

uint16_t tsps__r16(tsps__rbuf *r)
{
    uint16_t hi = tsps__r8(r);
    return (uint16_t)((hi << 8) | tsps__r8(r));
}

uint32_t tsps__r32(tsps__rbuf *r)
{
    uint32_t v;
    if (r->off + 4 > r->len) {
        r->bad = 1;
        return 0;
    }
    v = tsps__rd32(r->p + r->off);
    r->off += 4;
    return v;
}

uint64_t tsps__r64(tsps__rbuf *r)
{
    uint64_t hi = tsps__r32(r);
    return (hi << 32) | tsps__r32(r);
}

void tsps__rstr(tsps__rbuf *r, char *dst, size_t cap)
{
    size_t n = tsps__r16(r);
    if (r->bad || r->off + n > r->len) {
        r->bad = 1;
        dst[0] = '\0';
        return;
    }
    if (n >= cap) {
        r->bad = 1;
        n = 0;
    } else if (n > 0) {
        memcpy(dst, r->p + r->off, n);
    }
    dst[n] = '\0';
    r->off += n;
}

/* ---- methods --------------------------------------------------------------
 */

static void enc_action(tsps__wbuf *w, const tsps_action *a)
{
    tsps__w8(w, (uint8_t)a->kind);
    tsps__w8(w, (uint8_t)a->ring_mode);
    tsps__w16(w, a->step_timeout_s);
    tsps__w8(w, (uint8_t)a->reject);
    tsps__w8(w, a->ndevices);
    for (int i = 0; i < a->ndevices && i < TSPS_MAX_DEVICES; i++)
        tsps__wstr(w, a->devices[i]);
    tsps__wstr(w, a->target);
}

static void dec_action(tsps__rbuf *r, tsps_action *a)
{
    memset(a, 0, sizeof(*a));
    a->kind = (tsps_method_kind)tsps__r8(r);
    a->ring_mode = (tsps_ring_mode)tsps__r8(r);
    a->step_timeout_s = tsps__r16(r);
    a->reject = (tsps_reject_reason)tsps__r8(r);
    a->ndevices = tsps__r8(r);
    if (a->ndevices > TSPS_MAX_DEVICES || a->kind >= TSPS_METHOD__COUNT)
        r->bad = 1;
    for (int i = 0; i < a->ndevices && !r->bad; i++)
        tsps__rstr(r, a->devices[i], TSPS_LABEL_MAX);
    tsps__rstr(r, a->target, TSPS_URI_MAX);
}

void tsps__enc_method(tsps__wbuf *w, const tsps_method *m)
{
    tsps__w8(w, (uint8_t)m->kind);
    tsps__w16(w, m->ask_timeout_s);
    enc_action(w, &m->a);
    enc_action(w, &m->fallback);
}

void tsps__dec_method(tsps__rbuf *r, tsps_method *m)
{
    m->kind = (tsps_method_kind)tsps__r8(r);
    m->ask_timeout_s = tsps__r16(r);
    dec_action(r, &m->a);
    dec_action(r, &m->fallback);
    if (m->kind >= TSPS_METHOD__COUNT)
        r->bad = 1;
}

/* ---- users ------------------------------------------------------------------
 */

void tsps__enc_user(tsps__wbuf *w, const tsps_user *u)
{
    tsps__w8(w, 1);
    tsps__wstr(w, u->id);
    tsps__wstr(w, u->display_name);
    tsps__wstr(w, u->dialplan.region);
    tsps__wstr(w, u->dialplan.cc);
    tsps__wstr(w, u->dialplan.trunk);
    tsps__wstr(w, u->dialplan.intl);
    tsps__wstr(w, u->tz);
    for (int d = 0; d < 7; d++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                tsps__w16(w, u->hours.range[d][i][j]);
    tsps__wstr(w, u->unknown_code);
    tsps__wstr(w, u->withheld_code);
    tsps__wstr(w, u->attendant_uri);
    tsps__wstr(w, u->voicemail_uri);
    tsps__w32(w, u->expected_window_s);
    tsps__w32(w, u->flags);
}

int tsps__dec_user(const void *p, size_t n, tsps_user *u)
{
    tsps__rbuf r = {p, n, 0, 0};
    memset(u, 0, sizeof(*u));
    u->version = TSPS_USER_VERSION;
    if (tsps__r8(&r) != 1)
        return TSPS_ESTORE;
    tsps__rstr(&r, u->id, sizeof(u->id));
    tsps__rstr(&r, u->display_name, sizeof(u->display_name));
    tsps__rstr(&r, u->dialplan.region, sizeof(u->dialplan.region));
    tsps__rstr(&r, u->dialplan.cc, sizeof(u->dialplan.cc));
    tsps__rstr(&r, u->dialplan.trunk, sizeof(u->dialplan.trunk));
    tsps__rstr(&r, u->dialplan.intl, sizeof(u->dialplan.intl));
    tsps__rstr(&r, u->tz, sizeof(u->tz));
    for (int d = 0; d < 7; d++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                u->hours.range[d][i][j] = tsps__r16(&r);
    tsps__rstr(&r, u->unknown_code, sizeof(u->unknown_code));
    tsps__rstr(&r, u->withheld_code, sizeof(u->withheld_code));
    tsps__rstr(&r, u->attendant_uri, sizeof(u->attendant_uri));
    tsps__rstr(&r, u->voicemail_uri, sizeof(u->voicemail_uri));
    u->expected_window_s = tsps__r32(&r);
    u->flags = tsps__r32(&r);
    tsps__user_fold_no_hours(u); /* records written before 0.2 */
    return r.bad ? TSPS_ESTORE : TSPS_OK;
}

/* "No working hours" is stored as what it means, every day all day, so
 * that the hours a user is shown are the hours that apply, and hours saved
 * over them take effect (the flag used to hide them: shown and saved, never
 * used). */
void tsps__user_fold_no_hours(tsps_user *u)
{
    if ((u->flags & TSPS_USER_NO_HOURS) == 0)
        return;
    for (int d = 0; d < 7; d++) {
        u->hours.range[d][0][0] = 0;
        u->hours.range[d][0][1] = 24 * 60;
        u->hours.range[d][1][0] = 0;
        u->hours.range[d][1][1] = 0;
    }
    u->flags &= ~TSPS_USER_NO_HOURS;
}

/* ---- contacts
 * ----------------------------------------------------------------- */

void tsps__enc_contact(tsps__wbuf *w, const tsps_contact *c)
{
    tsps__w8(w, 1);
    tsps__wstr(w, c->uid);
    tsps__wstr(w, c->source);
    tsps__wstr(w, c->name);
    tsps__wstr(w, c->org);
    tsps__wstr(w, c->code);
    tsps__w8(w, (uint8_t)c->code_source);
    tsps__wstr(w, c->code_detail);
    tsps__w8(w, c->nnumbers);
    for (int i = 0; i < c->nnumbers; i++)
        tsps__wstr(w, c->numbers[i]);
    tsps__w8(w, c->nemails);
    for (int i = 0; i < c->nemails; i++)
        tsps__wstr(w, c->emails[i]);
}

int tsps__dec_contact(const void *p, size_t n, tsps_contact *c)
{
    tsps__rbuf r = {p, n, 0, 0};
    memset(c, 0, sizeof(*c));
    c->version = TSPS_CONTACT_VERSION;
    if (tsps__r8(&r) != 1)
        return TSPS_ESTORE;
    tsps__rstr(&r, c->uid, sizeof(c->uid));
    tsps__rstr(&r, c->source, sizeof(c->source));
    tsps__rstr(&r, c->name, sizeof(c->name));
    tsps__rstr(&r, c->org, sizeof(c->org));
    tsps__rstr(&r, c->code, sizeof(c->code));
    c->code_source = (tsps_code_source)tsps__r8(&r);
    tsps__rstr(&r, c->code_detail, sizeof(c->code_detail));
    c->nnumbers = tsps__r8(&r);
    if (c->nnumbers > TSPS_MAX_NUMBERS)
        return TSPS_ESTORE;
    for (int i = 0; i < c->nnumbers; i++)
        tsps__rstr(&r, c->numbers[i], sizeof(c->numbers[i]));
    c->nemails = tsps__r8(&r);
    if (c->nemails > TSPS_MAX_EMAILS)
        return TSPS_ESTORE;
    for (int i = 0; i < c->nemails; i++)
        tsps__rstr(&r, c->emails[i], sizeof(c->emails[i]));
    return r.bad ? TSPS_ESTORE : TSPS_OK;
}

/* ---- events -----------------------------------------------------------------
 */

void tsps__enc_event(tsps__wbuf *w, const tsps_event *e)
{
    tsps__w8(w, 1);
    tsps__w64(w, (uint64_t)e->start);
    tsps__w64(w, (uint64_t)e->end);
    tsps__w8(w, (uint8_t)e->busy);
    tsps__w8(w, (uint8_t)(e->cancelled != 0));
    tsps__wstr(w, e->uid);
    tsps__wstr(w, e->source);
    tsps__wstr(w, e->summary);
    tsps__w8(w, e->nattendees);
    for (int i = 0; i < e->nattendees; i++)
        tsps__wstr(w, e->attendees[i]);
}

int tsps__dec_event(const void *p, size_t n, tsps_event *e)
{
    tsps__rbuf r = {p, n, 0, 0};
    memset(e, 0, sizeof(*e));
    e->version = TSPS_EVENT_VERSION;
    if (tsps__r8(&r) != 1)
        return TSPS_ESTORE;
    e->start = (int64_t)tsps__r64(&r);
    e->end = (int64_t)tsps__r64(&r);
    e->busy = (tsps_busy)tsps__r8(&r);
    e->cancelled = tsps__r8(&r);
    tsps__rstr(&r, e->uid, sizeof(e->uid));
    tsps__rstr(&r, e->source, sizeof(e->source));
    tsps__rstr(&r, e->summary, sizeof(e->summary));
    e->nattendees = tsps__r8(&r);
    if (e->nattendees > TSPS_MAX_ATTENDEES)
        return TSPS_ESTORE;
    for (int i = 0; i < e->nattendees; i++)
        tsps__rstr(&r, e->attendees[i], sizeof(e->attendees[i]));
    return r.bad ? TSPS_ESTORE : TSPS_OK;
}

/* ---- registrations ----------------------------------------------------------
 */

void tsps__enc_reg(tsps__wbuf *w, const tsps_registration *g)
{
    tsps__w8(w, 1);
    tsps__wstr(w, g->contact);
    tsps__wstr(w, g->instance);
    tsps__wstr(w, g->label);
    tsps__w16(w, g->q);
    tsps__w64(w, (uint64_t)g->expires);
    tsps__wstr(w, g->call_id);
    tsps__w32(w, g->cseq);
    tsps__wstr(w, g->user_agent);
}

int tsps__dec_reg(const void *p, size_t n, tsps_registration *g)
{
    tsps__rbuf r = {p, n, 0, 0};
    memset(g, 0, sizeof(*g));
    g->version = TSPS_REG_VERSION;
    if (tsps__r8(&r) != 1)
        return TSPS_ESTORE;
    tsps__rstr(&r, g->contact, sizeof(g->contact));
    tsps__rstr(&r, g->instance, sizeof(g->instance));
    tsps__rstr(&r, g->label, sizeof(g->label));
    g->q = tsps__r16(&r);
    g->expires = (int64_t)tsps__r64(&r);
    tsps__rstr(&r, g->call_id, sizeof(g->call_id));
    g->cseq = tsps__r32(&r);
    tsps__rstr(&r, g->user_agent, sizeof(g->user_agent));
    return r.bad ? TSPS_ESTORE : TSPS_OK;
}

/* ---- decisions (for history)
 * --------------------------------------------------- */

void tsps__enc_decision(tsps__wbuf *w, const tsps_decision *d)
{
    tsps_decision tmp;

    if (d->flags & TSPS_DEC_TRACE_PENDING) {
        /* records keep the text: render a lazy trace first */
        tmp = *d;
        tsps_decision_trace_render(&tmp);
        d = &tmp;
    }
    tsps__w8(w, 1);
    tsps__w32(w, d->flags);
    tsps__w64(w, (uint64_t)d->at);
    tsps__wstr(w, d->user);
    tsps__wstr(w, d->called);
    tsps__wstr(w, d->caller);
    tsps__wstr(w, d->caller_name);
    tsps__w8(w, (uint8_t)d->caller_kind);
    tsps__wstr(w, d->contact_uid);
    tsps__wstr(w, d->code);
    tsps__w8(w, (uint8_t)d->code_source);
    tsps__w8(w, (uint8_t)d->status);
    tsps__w8(w, (uint8_t)d->status_source);
    tsps__w8(w, (uint8_t)d->rule_status);
    tsps__wstr(w, d->rule_code);
    tsps__enc_method(w, &d->method);
    tsps__wstr(w, d->actor);
    tsps__w8(w, d->ntargets);
    for (int i = 0; i < d->ntargets && i < TSPS_MAX_TARGETS; i++) {
        const tsps_target *t = &d->targets[i];
        tsps__wstr(w, t->uri);
        tsps__wstr(w, t->label);
        tsps__w16(w, t->q);
        tsps__w16(w, t->order);
        tsps__w16(w, t->timeout_s);
        tsps__w64(w, (uint64_t)t->expires);
        tsps__w8(w, t->fallback);
    }
    tsps__w8(w, d->ntrace);
    for (int i = 0; i < d->ntrace && i < TSPS_MAX_TRACE; i++) {
        const tsps_trace_step *s = &d->trace[i];
        tsps__w8(w, s->step);
        tsps__w8(w, s->outcome);
        tsps__w16(w, s->n);
        tsps__w32(w, (uint32_t)s->arg);
        tsps__wstr(w, s->what);
        tsps__wstr(w, s->found);
    }
}

void tsps__dec_decision(tsps__rbuf *r, tsps_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->version = TSPS_DECISION_VERSION;
    if (tsps__r8(r) != 1) {
        r->bad = 1;
        return;
    }
    d->flags = tsps__r32(r);
    d->at = (int64_t)tsps__r64(r);
    tsps__rstr(r, d->user, sizeof(d->user));
    tsps__rstr(r, d->called, sizeof(d->called));
    tsps__rstr(r, d->caller, sizeof(d->caller));
    tsps__rstr(r, d->caller_name, sizeof(d->caller_name));
    d->caller_kind = (tsps_caller_kind)tsps__r8(r);
    tsps__rstr(r, d->contact_uid, sizeof(d->contact_uid));
    tsps__rstr(r, d->code, sizeof(d->code));
    d->code_source = (tsps_code_source)tsps__r8(r);
    d->status = (tsps_status)tsps__r8(r);
    d->status_source = (tsps_status_source)tsps__r8(r);
    d->rule_status = (tsps_status)tsps__r8(r);
    tsps__rstr(r, d->rule_code, sizeof(d->rule_code));
    tsps__dec_method(r, &d->method);
    tsps__rstr(r, d->actor, sizeof(d->actor));
    d->ntargets = tsps__r8(r);
    if (d->ntargets > TSPS_MAX_TARGETS) {
        r->bad = 1;
        return;
    }
    for (int i = 0; i < d->ntargets; i++) {
        tsps_target *t = &d->targets[i];
        tsps__rstr(r, t->uri, sizeof(t->uri));
        tsps__rstr(r, t->label, sizeof(t->label));
        t->q = tsps__r16(r);
        t->order = tsps__r16(r);
        t->timeout_s = tsps__r16(r);
        t->expires = (int64_t)tsps__r64(r);
        t->fallback = tsps__r8(r);
    }
    d->ntrace = tsps__r8(r);
    if (d->ntrace > TSPS_MAX_TRACE) {
        r->bad = 1;
        return;
    }
    for (int i = 0; i < d->ntrace; i++) {
        tsps_trace_step *s = &d->trace[i];
        s->step = tsps__r8(r);
        s->outcome = tsps__r8(r);
        s->n = tsps__r16(r);
        s->arg = (int32_t)tsps__r32(r);
        tsps__rstr(r, s->what, sizeof(s->what));
        tsps__rstr(r, s->found, sizeof(s->found));
    }
}

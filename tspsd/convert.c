/* convert.c - engine structs -> protocol messages (in a reply arena). */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text of a decision's trace or JSON, sized by a first call. */
static char *render(tspsd_arena *a, const tsps_decision *d, int json)
{
    char small[4096];
    size_t need = 0;
    int rc = json ? tsps_decision_json(d, small, sizeof(small), &need)
                  : tsps_decision_explain(d, small, sizeof(small), &need);
    if (rc == TSPS_OK)
        return tspsd_arena_strdup(a, small);
    if (rc != TSPS_ENOBUFS || need == 0 || need > (1u << 20))
        return tspsd_arena_strdup(a, "");
    char *big = tspsd_arena_alloc(a, need + 1);
    if (big == NULL)
        return NULL;
    rc = json ? tsps_decision_json(d, big, need + 1, NULL)
              : tsps_decision_explain(d, big, need + 1, NULL);
    return rc == TSPS_OK ? big : tspsd_arena_strdup(a, "");
}

Tsps__Decision *tspsd_decision_msg(tspsd_arena *a, const tsps_decision *d,
                                   uint64_t call_id, int with_text)
{
    Tsps__Decision *m = tspsd_arena_alloc(a, sizeof(*m));
    char meth[512];

    if (m == NULL)
        return NULL;
    tsps__decision__init(m);
    m->call_id = call_id;
    m->user = tspsd_arena_strdup(a, d->user);
    m->called = tspsd_arena_strdup(a, d->called);
    m->caller = tspsd_arena_strdup(a, d->caller);
    m->caller_name = tspsd_arena_strdup(a, d->caller_name);
    m->caller_kind = (char *)tsps_caller_kind_name(d->caller_kind);
    m->contact_uid = tspsd_arena_strdup(a, d->contact_uid);
    m->code = tspsd_arena_strdup(a, d->code);
    m->status = (char *)tsps_status_name(d->status);
    if (tsps_method_format(&d->method, meth, sizeof(meth), NULL) != TSPS_OK)
        snprintf(meth, sizeof(meth), "%s",
                 tsps_method_kind_name(d->method.kind));
    m->method = tspsd_arena_strdup(a, meth);
    m->actor = tspsd_arena_strdup(a, d->actor);
    m->overridden = (d->flags & TSPS_DEC_OVERRIDDEN) != 0;
    m->at = d->at;
    if (d->ntargets > 0) {
        m->targets = tspsd_arena_alloc(a, d->ntargets * sizeof(void *));
        if (m->targets == NULL)
            return NULL;
        for (unsigned i = 0; i < d->ntargets && i < TSPS_MAX_TARGETS; i++) {
            Tsps__Target *t = tspsd_arena_alloc(a, sizeof(*t));
            if (t == NULL)
                return NULL;
            tsps__target__init(t);
            t->uri = tspsd_arena_strdup(a, d->targets[i].uri);
            t->label = tspsd_arena_strdup(a, d->targets[i].label);
            t->order = d->targets[i].order;
            t->timeout_s = d->targets[i].timeout_s;
            t->fallback = d->targets[i].fallback != 0;
            m->targets[m->n_targets++] = t;
        }
    }
    if (with_text) {
        m->explain = render(a, d, 0);
        m->json = render(a, d, 1);
    }
    if (m->user == NULL || m->method == NULL || m->explain == NULL ||
        m->json == NULL)
        return NULL;
    return m;
}

Tsps__Decision *tspsd_record_msg(tspsd_arena *a, const tsps_call_record *r)
{
    Tsps__Decision *m = tspsd_decision_msg(a, &r->decision, r->id, 1);
    if (m == NULL)
        return NULL;
    m->outcome = (char *)tsps_outcome_name(r->outcome);
    m->start = r->start;
    m->end = r->end;
    m->note = tspsd_arena_strdup(a, r->note);
    return m;
}

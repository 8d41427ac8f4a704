/* A throwaway engine with one user, for the libtsps suites. */
#ifndef TSPS_FIXTURE_H
#define TSPS_FIXTURE_H

#include <tsps/tsps.h>

#include "tsps_check.h"

/* Monday 2026-11-23 00:00 UTC, and helpers for times in that week. */
#define T_MONDAY        1795392000LL
#define T_AT(day, h, m) (T_MONDAY + (day)*86400LL + (h)*3600LL + (m)*60LL)

static char fx_dir[256];
static tsps_engine *fx_eng;

static inline tsps_method fx_method(const char *spec)
{
    tsps_method m;
    char err[128];
    if (tsps_method_parse(spec, &m, err, sizeof(err)) != TSPS_OK)
        ck_abort_msg("bad method '%s': %s", spec, err);
    return m;
}

static inline void fx_rule(const char *user, const char *code, tsps_status st,
                           const char *spec)
{
    tsps_method m = fx_method(spec);
    ck_assert_int_eq(tsps_code_set(fx_eng, user, code, st, &m), TSPS_OK);
}

static inline void fx_contact(const char *user, const char *uid,
                              const char *name, const char *code,
                              const char *number, const char *email)
{
    tsps_contact c;
    tsps_contact_init(&c);
    strcpy(c.uid, uid);
    strcpy(c.name, name);
    strcpy(c.source, "test");
    if (code != NULL) {
        strcpy(c.code, code);
        c.code_source = TSPS_CODE_SRC_PROPERTY;
    }
    if (number != NULL) {
        strcpy(c.numbers[0], number);
        c.nnumbers = 1;
    }
    if (email != NULL) {
        strcpy(c.emails[0], email);
        c.nemails = 1;
    }
    ck_assert_int_eq(tsps_contact_put(fx_eng, user, &c), TSPS_OK);
}

/* User "alice" in Berlin, +49 30 1234567, Mon-Fri 09:00-17:00. */
static inline void fx_setup(void)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_user u;
    tsps_check_tmpdir(fx_dir, sizeof(fx_dir));
    cfg.path = fx_dir;
    cfg.flags = TSPS_OPEN_NOSYNC;
    /* the suites run once more with routing reading the store's index */
    if (getenv("TSPS_TEST_NO_CONTACT_CACHE") != NULL)
        cfg.flags |= TSPS_OPEN_NO_CONTACT_CACHE;
    cfg.map_size = 16u << 20;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    tsps_user_init(&u);
    strcpy(u.id, "alice");
    strcpy(u.display_name, "Alice Example");
    strcpy(u.dialplan.region, "DE");
    strcpy(u.tz, "Europe/Berlin");
    strcpy(u.voicemail_uri, "sip:vm-alice@pbx.example");
    strcpy(u.attendant_uri, "sip:reception@pbx.example");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    ck_assert_int_eq(tsps_number_add(fx_eng, "alice", "+49 30 1234567"),
                     TSPS_OK);
}

static inline void fx_teardown(void)
{
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    tsps_check_rmdir(fx_dir);
}

static inline void fx_register(const char *user, const char *contact,
                               const char *label, uint16_t q, int64_t expires)
{
    tsps_registration r;
    tsps_registration_init(&r);
    strcpy(r.contact, contact);
    strcpy(r.label, label);
    r.q = q;
    r.expires = expires;
    ck_assert_int_eq(tsps_registration_put(fx_eng, user, &r), TSPS_OK);
}

/* Two decisions read the same to a user: the same explanation, the same
 * JSON and the same trace steps (a pending trace is rendered first). */
static inline void fx_same_decision(const tsps_decision *a,
                                    const tsps_decision *b)
{
    enum { TEXT_MAX = 16384 };
    char *ta = malloc(TEXT_MAX), *tb = malloc(TEXT_MAX); /* threads use it */
    tsps_decision ra = *a, rb = *b;

    ck_assert(ta != NULL && tb != NULL);

    ck_assert_int_eq(tsps_decision_explain(a, ta, TEXT_MAX, NULL), TSPS_OK);
    ck_assert_int_eq(tsps_decision_explain(b, tb, TEXT_MAX, NULL), TSPS_OK);
    ck_assert_str_eq(ta, tb);
    ck_assert_int_eq(tsps_decision_json(a, ta, TEXT_MAX, NULL), TSPS_OK);
    ck_assert_int_eq(tsps_decision_json(b, tb, TEXT_MAX, NULL), TSPS_OK);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    ck_assert_int_eq(tsps_decision_trace_render(&ra), TSPS_OK);
    ck_assert_int_eq(tsps_decision_trace_render(&rb), TSPS_OK);
    ck_assert_uint_eq(ra.flags, rb.flags);
    ck_assert_int_eq(ra.ntrace, rb.ntrace);
    for (int i = 0; i < ra.ntrace; i++) {
        const tsps_trace_step *x = &ra.trace[i], *y = &rb.trace[i];
        ck_assert_int_eq(x->step, y->step);
        ck_assert_int_eq(x->outcome, y->outcome);
        ck_assert_int_eq(x->n, y->n);
        ck_assert_int_eq(x->arg, y->arg);
        ck_assert_str_eq(x->what, y->what);
        ck_assert_str_eq(x->found, y->found);
    }
}

/* 0 while other threads write: two routes may then see two versions. */
static int fx_lazy_check = 1;

/* Route a call; every route is also made with a lazy trace
 * (TSPS_CALL_TRACE_LAZY), which must read exactly the same. */
static inline tsps_decision fx_route(const char *from, const char *to,
                                     int64_t at)
{
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d, lazy;
    call.caller = from;
    call.called = to;
    call.now = at;
    ck_assert_int_eq(tsps_route(fx_eng, &call, &d), TSPS_OK);
    ck_assert(!(d.flags & TSPS_DEC_TRACE_PENDING));
    if (!fx_lazy_check)
        return d;
    call.flags = TSPS_CALL_TRACE_LAZY;
    ck_assert_int_eq(tsps_route(fx_eng, &call, &lazy), TSPS_OK);
    ck_assert(lazy.flags & TSPS_DEC_TRACE_PENDING);
    fx_same_decision(&d, &lazy);
    return d;
}

/* The trace step of a kind, or NULL. */
static inline const tsps_trace_step *fx_step(const tsps_decision *d,
                                             tsps_step s)
{
    for (int i = 0; i < d->ntrace; i++)
        if (d->trace[i].step == s)
            return &d->trace[i];
    return NULL;
}

#endif

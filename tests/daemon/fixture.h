/* fixture.h - a daemon provisioned for the suites: users ann and bob,
 * rules, delegations from ann to att (monitor+act) and attno (nothing). */
#ifndef TSPSD_TEST_FIXTURE_H
#define TSPSD_TEST_FIXTURE_H

#include "harness.h"

#define ANN_NUMBER "+12125550100"
#define BOB_NUMBER "+12125550111"

extern th_daemon fx;
extern uint64_t fx_pending_call; /* a held ("ask") call of ann */
extern uint64_t fx_past_call;    /* a routed call of ann, in history */

void fx_setup(void);
/** fx_setup with extra config (e.g. a [web] section). */
void fx_setup_with(const char *extra);
void fx_teardown(void);

/* Request builders: a static request of one kind, filled with args. */
int fx_user_put(tspsd_client *c, const char *id, const char *number);
int fx_code_set(tspsd_client *c, const char *user, const char *code,
                const char *status, const char *method);
int fx_delegate(tspsd_client *c, const char *user, const char *att, int monitor,
                int act, const char *code);
int fx_route(tspsd_client *c, const char *from, const char *to, int live,
             uint64_t *call_id);

#endif

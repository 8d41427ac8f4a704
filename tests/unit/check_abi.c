/* The public structs' layout is ABI: a change that moves a field without a
 * new major version (and a struct version bump) must fail the build. Fields
 * are only ever appended (docs/style.md §1). Pinned for x86_64 Linux. */
#include <stddef.h>

#include <tsps/tsps.h>

#include "tsps_check.h"

#ifdef TSPS_ABI_CMSB /* libcmsbridge built: its vtable and result structs */
#include <cmsb/adapter.h>
#endif

#if defined(__x86_64__) && defined(__linux__)
static void pins(void)
{
    _Static_assert(offsetof(tsps_config, version) == 0,
                   "tsps_config.version moved");
    _Static_assert(offsetof(tsps_config, path) == 8, "tsps_config.path moved");
    _Static_assert(offsetof(tsps_config, map_size) == 16,
                   "tsps_config.map_size moved");
    _Static_assert(offsetof(tsps_config, flags) == 32,
                   "tsps_config.flags moved");
    _Static_assert(offsetof(tsps_config, log) == 40, "tsps_config.log moved");
    _Static_assert(offsetof(tsps_config, alloc_malloc) == 56,
                   "tsps_config.alloc_malloc moved");
    _Static_assert(offsetof(tsps_config, region) == 80,
                   "tsps_config.region moved");
    _Static_assert(sizeof(tsps_config) == 88, "tsps_config changed size");
    _Static_assert(offsetof(tsps_call, called) == 8, "tsps_call.called moved");
    _Static_assert(offsetof(tsps_call, caller) == 16, "tsps_call.caller moved");
    _Static_assert(offsetof(tsps_call, now) == 32, "tsps_call.now moved");
    _Static_assert(offsetof(tsps_call, flags) == 40, "tsps_call.flags moved");
    /* version 2 (0.2) appended flags: 40 -> 48 bytes */
    _Static_assert(sizeof(tsps_call) == 48, "tsps_call changed size");
    _Static_assert(offsetof(tsps_user, id) == 4, "tsps_user.id moved");
    _Static_assert(offsetof(tsps_user, dialplan) == 196,
                   "tsps_user.dialplan moved");
    _Static_assert(offsetof(tsps_user, tz) == 215, "tsps_user.tz moved");
    _Static_assert(offsetof(tsps_user, hours) == 280, "tsps_user.hours moved");
    _Static_assert(offsetof(tsps_user, flags) == 916, "tsps_user.flags moved");
    _Static_assert(sizeof(tsps_user) == 920, "tsps_user changed size");
    _Static_assert(offsetof(tsps_contact, uid) == 4, "tsps_contact.uid moved");
    _Static_assert(offsetof(tsps_contact, code) == 452,
                   "tsps_contact.code moved");
    _Static_assert(offsetof(tsps_contact, numbers) == 617,
                   "tsps_contact.numbers moved");
    _Static_assert(offsetof(tsps_contact, emails) == 818,
                   "tsps_contact.emails moved");
    _Static_assert(sizeof(tsps_contact) == 1588, "tsps_contact changed size");
    _Static_assert(offsetof(tsps_event, start) == 200,
                   "tsps_event.start moved");
    _Static_assert(offsetof(tsps_event, attendees) == 353,
                   "tsps_event.attendees moved");
    _Static_assert(sizeof(tsps_event) == 3432, "tsps_event changed size");
    _Static_assert(offsetof(tsps_registration, contact) == 4,
                   "tsps_registration.contact moved");
    _Static_assert(offsetof(tsps_registration, q) == 532,
                   "tsps_registration.q moved");
    _Static_assert(offsetof(tsps_registration, expires) == 536,
                   "tsps_registration.expires moved");
    _Static_assert(sizeof(tsps_registration) == 936,
                   "tsps_registration changed size");
    _Static_assert(offsetof(tsps_method, kind) == 336,
                   "tsps_method.kind moved");
    _Static_assert(offsetof(tsps_method, fallback) == 344,
                   "tsps_method.fallback moved");
    _Static_assert(sizeof(tsps_method) == 680, "tsps_method changed size");
    _Static_assert(offsetof(tsps_decision, flags) == 4,
                   "tsps_decision.flags moved");
    _Static_assert(offsetof(tsps_decision, method) == 456,
                   "tsps_decision.method moved");
    _Static_assert(offsetof(tsps_decision, targets) == 1208,
                   "tsps_decision.targets moved");
    _Static_assert(offsetof(tsps_decision, trace) == 3580,
                   "tsps_decision.trace moved");
    _Static_assert(sizeof(tsps_decision) == 6528, "tsps_decision changed size");
    _Static_assert(sizeof(tsps_number) == 40, "tsps_number changed size");
    _Static_assert(sizeof(tsps_dialplan) == 19, "tsps_dialplan changed size");
    _Static_assert(sizeof(tsps_trace_step) == 184,
                   "tsps_trace_step changed size");
    _Static_assert(sizeof(tsps_target) == 296, "tsps_target changed size");
    _Static_assert(sizeof(tsps_call_record) == 13216,
                   "tsps_call_record changed size");
}
#endif

#if defined(TSPS_ABI_CMSB) && defined(__x86_64__) && defined(__linux__)
static void cmsb_pins(void)
{
    /* the adapter vtable: version 1 up to x_watch_drain, version 2 adds
     * x_related_for, version 3 x_create_contact; an adapter built against
     * version 1 ends at 104, against version 2 at 112 */
    _Static_assert(offsetof(cmsb_adapter, caps) == 24, "caps moved");
    _Static_assert(offsetof(cmsb_adapter, x_open) == 32, "x_open moved");
    _Static_assert(offsetof(cmsb_adapter, x_related) == 80, "x_related moved");
    _Static_assert(offsetof(cmsb_adapter, x_watch_drain) == 96,
                   "x_watch_drain moved");
    _Static_assert(offsetof(cmsb_adapter, x_related_for) == 104,
                   "x_related_for moved");
    _Static_assert(offsetof(cmsb_adapter, x_create_contact) == 112,
                   "x_create_contact moved");
    _Static_assert(sizeof(cmsb_adapter) == 120, "cmsb_adapter changed size");
    _Static_assert(offsetof(cmsb_related_query, kinds) == 4,
                   "cmsb_related_query.kinds moved");
    _Static_assert(offsetof(cmsb_related_query, since) == 8,
                   "cmsb_related_query.since moved");
    _Static_assert(offsetof(cmsb_related_query, until) == 16,
                   "cmsb_related_query.until moved");
    _Static_assert(offsetof(cmsb_related_query, limit) == 24,
                   "cmsb_related_query.limit moved");
    _Static_assert(sizeof(cmsb_related_query) == 32,
                   "cmsb_related_query changed size");
    _Static_assert(offsetof(cmsb_related_item, date) == 8,
                   "cmsb_related_item.date moved");
    _Static_assert(offsetof(cmsb_related_item, snippet) == 40,
                   "cmsb_related_item.snippet moved");
    _Static_assert(offsetof(cmsb_related_item, attachments) == 56,
                   "cmsb_related_item.attachments moved");
    _Static_assert(offsetof(cmsb_related_item, url) == 64,
                   "cmsb_related_item.url moved");
    _Static_assert(offsetof(cmsb_related_item, why) == 88,
                   "cmsb_related_item.why moved");
    _Static_assert(sizeof(cmsb_related_item) == 96,
                   "cmsb_related_item changed size");
}
#endif

START_TEST(test_abi_versions)
{
    ck_assert_int_eq(TSPS_VERSION_HEX, (TSPS_VERSION_MAJOR << 16) |
                                           (TSPS_VERSION_MINOR << 8) |
                                           TSPS_VERSION_PATCH);
    ck_assert_uint_eq(tsps_version_hex(), TSPS_VERSION_HEX);
    ck_assert_int_eq(TSPS_CONFIG_VERSION, 1);
    ck_assert_int_eq(TSPS_DECISION_VERSION, 1);
    /* error codes are append-only: the first ones keep their values */
    ck_assert_int_eq(TSPS_ENOTFOUND, -1);
    ck_assert_int_eq(TSPS_EINVAL, -2);
    ck_assert_int_eq(TSPS_ESCHEMA, -7);
    ck_assert_int_eq(TSPS_EVERSION, -14);
#define X(name, val, msg) ck_assert(TSPS_##name <= -1 && TSPS_##name >= -99);
    TSPS_ERRNO_MAP(X)
#undef X
    ck_assert_int_eq(TSPS_VERSION_MINOR, 2); /* APIs marked Since: 0.2 */
    /* decision flags too: a new meaning gets a new bit, never an old one */
    ck_assert_uint_eq(TSPS_DEC_UNKNOWN_NUMBER, 0x1u);
    ck_assert_uint_eq(TSPS_DEC_EXPECTED, 0x2u);
    ck_assert_uint_eq(TSPS_DEC_OVERRIDDEN, 0x4u);
    ck_assert_uint_eq(TSPS_DEC_FALLBACK, 0x8u);
    ck_assert_uint_eq(TSPS_DEC_SHARED_NUMBER, 0x10u);
#ifdef TSPS_ABI_CMSB
    ck_assert_int_eq(CMSB_ADAPTER_VERSION, 3);
    ck_assert_int_eq(CMSB_RELATED_QUERY_VERSION, 1);
    /* renumbered once, in 1.0 (-101 .. ): apart from TSPS_E* */
    ck_assert_int_eq(CMSB_ENOTSUP, -101);
    ck_assert_int_eq(CMSB_ECANCELED, -112);
    ck_assert_int_eq(CMSB_ETIMEDOUT, -113);
    ck_assert_int_eq(CMSB_EAUTH, -114);
    ck_assert_int_eq(CMSB_VERSION_MAJOR, 1);
    /* the two ranges never meet: TSPS_E* in -99 .. -1, CMSB_E* in
     * -199 .. -101, and no code reads as one of the other library */
#define X(name, val, msg) ck_assert(CMSB_##name <= -101 && CMSB_##name >= -199);
    CMSB_ERRNO_MAP(X)
#undef X
#define X(name, val, msg)                                                      \
    ck_assert_str_eq(cmsb_errname(TSPS_##name), "CMSB_UNKNOWN");
    TSPS_ERRNO_MAP(X)
#undef X
    ck_assert_uint_eq(CMSB_CAP_RELATED_FOR, 0x20u);
#endif
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("layout");
#if defined(__x86_64__) && defined(__linux__)
    (void)pins;
#endif
#if defined(TSPS_ABI_CMSB) && defined(__x86_64__) && defined(__linux__)
    (void)cmsb_pins;
#endif
    tcase_add_test(tc, test_abi_versions);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(abi_suite)

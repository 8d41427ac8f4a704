/* The version-3 slot x_create_contact: registration checks, the version
 * and capability guard (an adapter built against version 2 has no slot:
 * its struct ends before it and must never be read there), the code
 * checked and upper-cased before the adapter sees it, the uid handed
 * back. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/adapter.h>

#include "tsps_check.h"

/* The version-2 layout of struct cmsb_adapter, as an old adapter's
 * binary has it. */
struct v2_adapter {
    int version;
    size_t source_size;
    const char *scheme;
    unsigned caps;
    int (*x_open)(const struct cmsb_adapter *, const char *,
                  const cmsb_options *, cmsb_source *);
    void (*x_close)(cmsb_source *);
    int (*x_contacts)(cmsb_source *, cmsb_contact_cb, void *);
    void *x_changes, *x_events, *x_write_code, *x_related, *x_watch_fd,
        *x_watch_drain, *x_related_for;
};

_Static_assert(sizeof(struct v2_adapter) ==
                   offsetof(struct cmsb_adapter, x_create_contact),
               "the version-2 struct ends where x_create_contact starts");

static int seen_calls;
static char seen_code[TSPS_CODE_MAX];

static int t_open(const struct cmsb_adapter *ad, const char *uri,
                  const cmsb_options *o, cmsb_source *s)
{
    (void)uri;
    (void)o;
    s->adapter = ad;
    return CMSB_OK;
}

static void t_close(cmsb_source *s)
{
    (void)s;
}

static int t_contacts(cmsb_source *s, cmsb_contact_cb cb, void *arg)
{
    (void)s;
    (void)cb;
    (void)arg;
    return CMSB_OK;
}

static int t_create(cmsb_source *s, const tsps_contact *c, const char *code,
                    char *uid_out)
{
    (void)s;
    (void)c;
    seen_calls++;
    snprintf(seen_code, sizeof(seen_code), "%s", code);
    snprintf(uid_out, TSPS_UID_MAX, "new-%d", seen_calls);
    return CMSB_OK;
}

static const cmsb_adapter v3 = {
    .version = 3,
    .source_size = sizeof(cmsb_source),
    .scheme = "t-v3",
    .caps = CMSB_CAP_CREATE,
    .x_open = t_open,
    .x_close = t_close,
    .x_contacts = t_contacts,
    .x_create_contact = t_create,
};

START_TEST(test_create_v2_adapter_not_read_past_its_end)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    tsps_contact c;
    char uid[TSPS_UID_MAX] = "";
    /* a version-2 struct, followed by what a naive core would take for
     * its x_create_contact: a working function. Never called. */
    struct {
        struct v2_adapter ad;
        void *after;
    } *mem = calloc(1, sizeof(*mem));

    ck_assert_ptr_nonnull(mem);
    mem->ad.version = 2;
    mem->ad.source_size = sizeof(cmsb_source);
    mem->ad.scheme = "t-v2";
    mem->ad.x_open = t_open;
    mem->ad.x_close = t_close;
    mem->ad.x_contacts = t_contacts;
    memcpy(&mem->after, &(void (*)(void)){(void (*)(void))t_create},
           sizeof(mem->after));
    tsps_contact_init(&c);
    c.nnumbers = 1;
    snprintf(c.numbers[0], sizeof(c.numbers[0]), "+49 30 1");
    seen_calls = 0;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_int_eq(cmsb_register(reg, (const cmsb_adapter *)&mem->ad),
                     CMSB_OK);
    ck_assert_int_eq(cmsb_source_open(reg, "t-v2:x", NULL, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_create_contact(src, &c, "VIP", uid), CMSB_ENOTSUP);
    ck_assert_int_eq(seen_calls, 0);
    ck_assert_str_eq(uid, "");
    cmsb_source_close(src);
    /* a version-2 adapter cannot claim the version-3 capability */
    mem->ad.scheme = "t-v2b";
    mem->ad.caps = CMSB_CAP_CREATE;
    ck_assert_int_eq(cmsb_register(reg, (const cmsb_adapter *)&mem->ad),
                     CMSB_EINVAL);
    cmsb_registry_close(reg);
    free(mem);
}
END_TEST

START_TEST(test_create_register_and_call)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_adapter no_slot = v3;
    tsps_contact c;
    char uid[TSPS_UID_MAX] = "";

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    /* the capability without the method is refused */
    no_slot.scheme = "t-v3b";
    no_slot.x_create_contact = NULL;
    ck_assert_int_eq(cmsb_register(reg, &no_slot), CMSB_EINVAL);
    /* the method without the capability is never called */
    no_slot.x_create_contact = t_create;
    no_slot.caps = 0;
    ck_assert_int_eq(cmsb_register(reg, &no_slot), CMSB_OK);
    ck_assert_int_eq(cmsb_register(reg, &v3), CMSB_OK);
    tsps_contact_init(&c);
    seen_calls = 0;
    ck_assert_int_eq(cmsb_source_open(reg, "t-v3b:x", NULL, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_create_contact(src, &c, "VIP", uid), CMSB_ENOTSUP);
    cmsb_source_close(src);
    ck_assert_int_eq(seen_calls, 0);

    ck_assert_int_eq(cmsb_source_open(reg, "t-v3:x", NULL, &src), CMSB_OK);
    ck_assert_uint_ne(cmsb_source_caps(src) & CMSB_CAP_CREATE, 0);
    /* a bad code never reaches the adapter; a good one is upper-cased */
    ck_assert_int_eq(cmsb_create_contact(src, &c, "no spaces", uid),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_create_contact(NULL, &c, "VIP", uid), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_create_contact(src, NULL, "VIP", uid), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_create_contact(src, &c, NULL, uid), CMSB_EINVAL);
    ck_assert_int_eq(seen_calls, 0);
    ck_assert_int_eq(cmsb_create_contact(src, &c, "vip", uid), CMSB_OK);
    ck_assert_str_eq(seen_code, "VIP");
    ck_assert_str_eq(uid, "new-1");
    ck_assert_int_eq(cmsb_create_contact(src, &c, "", NULL), CMSB_OK);
    ck_assert_str_eq(seen_code, "");
    ck_assert_int_eq(seen_calls, 2);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

START_TEST(test_create_builtins)
{
    cmsb_registry *reg = NULL;

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_uint_ne(cmsb_vcard_dir_adapter.caps & CMSB_CAP_CREATE, 0);
    ck_assert_int_ge(cmsb_vcard_dir_adapter.version, 3);
#ifdef CMSB_WITH_CARDDAV_TEST
    ck_assert_uint_ne(cmsb_carddav_adapter.caps & CMSB_CAP_CREATE, 0);
    /* calendars hold no contacts */
    ck_assert_uint_eq(cmsb_caldav_adapter.caps & CMSB_CAP_CREATE, 0);
#endif
    cmsb_registry_close(reg);
}
END_TEST

static Suite *create_suite(void)
{
    Suite *s = suite_create("create_api");
    TCase *tc = tcase_create("vtable");

    tcase_add_test(tc, test_create_v2_adapter_not_read_past_its_end);
    tcase_add_test(tc, test_create_register_and_call);
    tcase_add_test(tc, test_create_builtins);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(create_suite)

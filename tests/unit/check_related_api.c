/* The version-2 slot x_related_for: registration checks, the version and
 * capability guard (an adapter built against version 1 has no slot: its
 * struct ends before it and must never be read there), query defaults
 * and validation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/adapter.h>

#include "tsps_check.h"

/* The version-1 layout of struct cmsb_adapter, as an old adapter's
 * binary has it. */
struct v1_adapter {
    int version;
    size_t source_size;
    const char *scheme;
    unsigned caps;
    int (*x_open)(const struct cmsb_adapter *, const char *,
                  const cmsb_options *, cmsb_source *);
    void (*x_close)(cmsb_source *);
    int (*x_contacts)(cmsb_source *, cmsb_contact_cb, void *);
    void *x_changes, *x_events, *x_write_code, *x_related, *x_watch_fd,
        *x_watch_drain;
};

_Static_assert(sizeof(struct v1_adapter) ==
                   offsetof(struct cmsb_adapter, x_related_for),
               "the version-1 struct ends where x_related_for starts");

static int seen_calls;
static cmsb_related_query seen_q;

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

static int t_related_for(cmsb_source *s, const tsps_contact *who,
                         const cmsb_related_query *q, cmsb_related_cb cb,
                         void *arg)
{
    const char *att[] = {"a.pdf"};
    cmsb_related_item it = {
        CMSB_ITEM_EMAIL, 1, "t", "f", "to", "s", 1, att, "u", "i", "w", "y"};

    (void)s;
    (void)who;
    seen_calls++;
    seen_q = *q;
    return cb(arg, &it) != 0 ? CMSB_ECANCELED : CMSB_OK;
}

static int count_cb(void *arg, const cmsb_related_item *it)
{
    (void)it;
    ++*(int *)arg;
    return 0;
}

static const cmsb_adapter v2 = {
    .version = 2,
    .source_size = sizeof(cmsb_source),
    .scheme = "t-v2",
    .caps = CMSB_CAP_RELATED_FOR,
    .x_open = t_open,
    .x_close = t_close,
    .x_contacts = t_contacts,
    .x_related_for = t_related_for,
};

START_TEST(test_related_for_v1_adapter_not_read_past_its_end)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    tsps_contact who;
    int n = 0;
    /* a version-1 struct, followed by what a naive core would take for
     * its x_related_for: a working function. Never called. */
    struct {
        struct v1_adapter ad;
        void *after;
    } *mem = calloc(1, sizeof(*mem));

    ck_assert_ptr_nonnull(mem);
    mem->ad.version = 1;
    mem->ad.source_size = sizeof(cmsb_source);
    mem->ad.scheme = "t-v1";
    mem->ad.x_open = t_open;
    mem->ad.x_close = t_close;
    mem->ad.x_contacts = t_contacts;
    memcpy(&mem->after, &(void (*)(void)){(void (*)(void))t_related_for},
           sizeof(mem->after));
    tsps_contact_init(&who);
    seen_calls = 0;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_int_eq(cmsb_register(reg, (const cmsb_adapter *)&mem->ad),
                     CMSB_OK);
    ck_assert_int_eq(cmsb_source_open(reg, "t-v1:x", NULL, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(src, &who, NULL, count_cb, &n),
                     CMSB_ENOTSUP);
    ck_assert_int_eq(seen_calls, 0);
    ck_assert_int_eq(n, 0);
    cmsb_source_close(src);
    /* a version-1 adapter cannot claim the version-2 capability */
    mem->ad.scheme = "t-v1b";
    mem->ad.caps = CMSB_CAP_RELATED_FOR;
    ck_assert_int_eq(cmsb_register(reg, (const cmsb_adapter *)&mem->ad),
                     CMSB_EINVAL);
    cmsb_registry_close(reg);
    free(mem);
}
END_TEST

START_TEST(test_related_for_register_checks)
{
    cmsb_registry *reg = NULL;
    cmsb_adapter bad = v2;

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    bad.x_related_for = NULL; /* capability without its slot */
    ck_assert_int_eq(cmsb_register(reg, &bad), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_register(reg, &v2), CMSB_OK);
    cmsb_registry_close(reg);
}
END_TEST

START_TEST(test_related_for_caps_guard)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_adapter nocap = v2;
    tsps_contact who;
    int n = 0;

    nocap.caps = 0; /* a slot filled but not declared: not called */
    tsps_contact_init(&who);
    seen_calls = 0;
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_int_eq(cmsb_register(reg, &nocap), CMSB_OK);
    ck_assert_int_eq(cmsb_source_open(reg, "t-v2:x", NULL, &src), CMSB_OK);
    ck_assert_int_eq(cmsb_related_for(src, &who, NULL, count_cb, &n),
                     CMSB_ENOTSUP);
    ck_assert_int_eq(seen_calls, 0);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

START_TEST(test_related_for_query)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    tsps_contact who;
    int n = 0;

    tsps_contact_init(&who);
    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    ck_assert_int_eq(cmsb_register(reg, &v2), CMSB_OK);
    ck_assert_int_eq(cmsb_source_open(reg, "t-v2:x", NULL, &src), CMSB_OK);
    /* defaults: every kind, 50 items, open dates */
    ck_assert_int_eq(cmsb_related_for(src, &who, NULL, count_cb, &n), CMSB_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(seen_q.kinds,
                      CMSB_ITEM_EMAIL | CMSB_ITEM_EVENT | CMSB_ITEM_DOCUMENT);
    ck_assert_uint_eq(seen_q.limit, 50);
    ck_assert_int_eq(seen_q.since, 0);
    ck_assert_int_eq(seen_q.until, 0);
    q.since = 100;
    q.until = 200;
    q.limit = 3;
    q.kinds = CMSB_ITEM_EMAIL;
    ck_assert_int_eq(cmsb_related_for(src, &who, &q, count_cb, &n), CMSB_OK);
    ck_assert_int_eq(seen_q.since, 100);
    ck_assert_int_eq(seen_q.until, 200);
    ck_assert_uint_eq(seen_q.limit, 3);
    ck_assert_uint_eq(seen_q.kinds, CMSB_ITEM_EMAIL);
    /* bad input */
    q.until = 100;
    ck_assert_int_eq(cmsb_related_for(src, &who, &q, count_cb, &n),
                     CMSB_EINVAL);
    q.until = 0;
    q.version = 0;
    ck_assert_int_eq(cmsb_related_for(src, &who, &q, count_cb, &n),
                     CMSB_EVERSION);
    q.version = CMSB_RELATED_QUERY_VERSION + 1;
    ck_assert_int_eq(cmsb_related_for(src, &who, &q, count_cb, &n),
                     CMSB_EVERSION);
    ck_assert_int_eq(cmsb_related_for(src, NULL, NULL, count_cb, &n),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_for(src, &who, NULL, NULL, NULL),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_for(NULL, &who, NULL, count_cb, &n),
                     CMSB_EINVAL);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
}
END_TEST

#ifdef REL_ALL_BUILTINS
START_TEST(test_related_builtins)
{
    cmsb_registry *reg = NULL;
    const char *const names[] = {"maildir", "imap", "imaps", "docs-dir"};
    const cmsb_adapter *const ads[] = {&cmsb_maildir_adapter,
                                       &cmsb_imap_adapter, &cmsb_imaps_adapter,
                                       &cmsb_docs_dir_adapter};

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ptr_eq(cmsb_registry_find(reg, names[i]), ads[i]);
        ck_assert_uint_ne(ads[i]->caps & CMSB_CAP_RELATED_FOR, 0);
        ck_assert_int_ge(ads[i]->version, 2);
    }
    ck_assert_str_eq(cmsb_errname(CMSB_ETIMEDOUT), "CMSB_ETIMEDOUT");
    ck_assert_str_eq(cmsb_errname(CMSB_EAUTH), "CMSB_EAUTH");
    cmsb_registry_close(reg);
}
END_TEST
#endif

static Suite *related_api_suite(void)
{
    Suite *s = suite_create("related_api");
    TCase *tc = tcase_create("vtable");

    tcase_add_test(tc, test_related_for_v1_adapter_not_read_past_its_end);
    tcase_add_test(tc, test_related_for_register_checks);
    tcase_add_test(tc, test_related_for_caps_guard);
    tcase_add_test(tc, test_related_for_query);
#ifdef REL_ALL_BUILTINS
    tcase_add_test(tc, test_related_builtins);
#endif
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_api_suite)

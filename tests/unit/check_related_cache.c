/* The related-result cache a daemon keeps per (user, caller): deep-copied
 * item lists, time to live (a test clock), least-recently-used eviction,
 * invalidation by caller, user or all, cached failures, references that
 * outlive their entry, and concurrent use from several threads. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/cmsb.h>

#include "tsps_check.h"

static int64_t g_now;

static int64_t fake_now(void *arg)
{
    (void)arg;
    return __atomic_load_n(&g_now, __ATOMIC_SEQ_CST);
}

static cmsb_related_list *list_of(const char *title, int n)
{
    cmsb_related_list *l;
    char t[64], s[64];
    const char *att[] = {"a.pdf", "b.odt"};

    ck_assert_int_eq(cmsb_related_list_new(&l), CMSB_OK);
    for (int i = 0; i < n; i++) {
        cmsb_related_item it = {0};
        snprintf(t, sizeof(t), "%s", title);
        snprintf(s, sizeof(s), "snippet %d", i);
        it.kind = CMSB_ITEM_EMAIL;
        it.date = 1796000000 + i;
        it.title = t;
        it.snippet = s;
        it.url = "imap://127.0.0.1/INBOX/;UID=1";
        it.attachments = att;
        it.nattachments = 2;
        /* from, to, id, where, why left NULL: copied as "" */
        ck_assert_int_eq(cmsb_related_list_add(l, &it), CMSB_OK);
        /* the list holds copies: the caller's buffers may change */
        memset(t, 'X', sizeof(t) - 1);
        t[sizeof(t) - 1] = '\0';
    }
    return l;
}

START_TEST(test_list_copies)
{
    cmsb_related_list *l = list_of("Angebot", 3);
    const cmsb_related_item *it;

    ck_assert_uint_eq(cmsb_related_list_count(l), 3);
    it = cmsb_related_list_get(l, 2);
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->title, "Angebot");
    ck_assert_str_eq(it->snippet, "snippet 2");
    ck_assert_str_eq(it->from, "");
    ck_assert_str_eq(it->why, "");
    ck_assert_int_eq(it->date, 1796000002);
    ck_assert_uint_eq(it->nattachments, 2);
    ck_assert_str_eq(it->attachments[1], "b.odt");
    ck_assert_ptr_null(cmsb_related_list_get(l, 3));
    ck_assert_int_eq(cmsb_related_list_failed(l), 0);
    ck_assert_int_eq(cmsb_related_list_add(l, NULL), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_list_new(NULL), CMSB_EINVAL);
    cmsb_related_list_release(l);
    cmsb_related_list_release(NULL);
}
END_TEST

START_TEST(test_cache_hit_miss_ttl)
{
    cmsb_related_cache *c;
    cmsb_related_list *l = list_of("Angebot", 2), *got;
    int st = 99;

    ck_assert_int_eq(cmsb_related_cache_open(100, 30000, &c), CMSB_OK);
    g_now = 1000;
    cmsb_related_cache_set_clock(c, fake_now, NULL);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930123", &got, &st),
                     CMSB_ENOTFOUND);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(
        cmsb_related_cache_put(c, "ann", "+4930123", CMSB_OK, l, 0), CMSB_OK);
    cmsb_related_list_release(l); /* the cache holds its own reference */
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930123", &got, &st),
                     CMSB_OK);
    ck_assert_int_eq(st, CMSB_OK);
    ck_assert_uint_eq(cmsb_related_list_count(got), 2);
    ck_assert_str_eq(cmsb_related_list_get(got, 0)->title, "Angebot");
    /* another user, another caller: misses */
    ck_assert_int_eq(cmsb_related_cache_get(c, "bob", "+4930123", &l, NULL),
                     CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930124", &l, NULL),
                     CMSB_ENOTFOUND);
    /* expired after the TTL; the reference held stays valid */
    g_now = 1000 + 29999;
    ck_assert_uint_eq(cmsb_related_cache_size(c), 1);
    g_now = 1000 + 30000;
    ck_assert_uint_eq(cmsb_related_cache_size(c), 0);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930123", &l, NULL),
                     CMSB_ENOTFOUND);
    ck_assert_str_eq(cmsb_related_list_get(got, 1)->snippet, "snippet 1");
    cmsb_related_list_release(got);
    /* a failure cached briefly, without items */
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "+4930123",
                                            CMSB_ETIMEDOUT, NULL, 5000),
                     CMSB_OK);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930123", &got, &st),
                     CMSB_OK);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(st, CMSB_ETIMEDOUT);
    g_now += 5000;
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "+4930123", &got, &st),
                     CMSB_ENOTFOUND);
    cmsb_related_cache_close(c);
}
END_TEST

START_TEST(test_cache_replace_lru_invalidate)
{
    cmsb_related_cache *c;
    cmsb_related_list *a = list_of("A", 1), *b = list_of("B", 1),
                      *x = list_of("X", 1), *got;

    ck_assert_int_eq(cmsb_related_cache_open(3, 60000, &c), CMSB_OK);
    g_now = 0;
    cmsb_related_cache_set_clock(c, fake_now, NULL);
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "a", 0, a, 0), CMSB_OK);
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "b", 0, b, 0), CMSB_OK);
    ck_assert_int_eq(cmsb_related_cache_put(c, "bob", "a", 0, x, 0), CMSB_OK);
    /* a new result replaces the old one */
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "a", 0, x, 0), CMSB_OK);
    ck_assert_uint_eq(cmsb_related_cache_size(c), 3);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "a", &got, NULL),
                     CMSB_OK);
    ck_assert_str_eq(cmsb_related_list_get(got, 0)->title, "X");
    cmsb_related_list_release(got);
    /* full: the least recently used (ann/b) goes */
    ck_assert_int_eq(cmsb_related_cache_put(c, "cid", "z", 0, a, 0), CMSB_OK);
    ck_assert_uint_eq(cmsb_related_cache_size(c), 3);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "b", &got, NULL),
                     CMSB_ENOTFOUND);
    ck_assert_int_eq(cmsb_related_cache_get(c, "bob", "a", &got, NULL),
                     CMSB_OK);
    cmsb_related_list_release(got);
    /* invalidation: one caller, a user's, all */
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "b", 0, b, 0), CMSB_OK);
    ck_assert_uint_eq(cmsb_related_cache_invalidate(c, "ann", "zzz"), 0);
    ck_assert_uint_eq(cmsb_related_cache_size(c), 3);
    ck_assert_uint_eq(cmsb_related_cache_invalidate(c, "bob", "a"), 1);
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "c", 0, b, 0), CMSB_OK);
    ck_assert_uint_eq(cmsb_related_cache_invalidate(c, "ann", NULL), 2);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "c", &got, NULL),
                     CMSB_ENOTFOUND);
    ck_assert_uint_eq(cmsb_related_cache_size(c), 1);
    ck_assert_uint_eq(cmsb_related_cache_invalidate(c, NULL, NULL), 1);
    ck_assert_uint_eq(cmsb_related_cache_size(c), 0);
    /* lists handed out stay valid after close */
    ck_assert_int_eq(cmsb_related_cache_put(c, "ann", "a", 0, a, 0), CMSB_OK);
    ck_assert_int_eq(cmsb_related_cache_get(c, "ann", "a", &got, NULL),
                     CMSB_OK);
    cmsb_related_cache_close(c);
    ck_assert_str_eq(cmsb_related_list_get(got, 0)->title, "A");
    cmsb_related_list_release(got);
    cmsb_related_list_release(a);
    cmsb_related_list_release(b);
    cmsb_related_list_release(x);
}
END_TEST

START_TEST(test_cache_bad_arguments)
{
    cmsb_related_cache *c = NULL;
    cmsb_related_list *got;
    char big[300];

    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(cmsb_related_cache_open(0, 1000, &c), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_open(10, 0, &c), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_open(10, 1000, NULL), CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_open(10, 1000, &c), CMSB_OK);
    ck_assert_int_eq(cmsb_related_cache_put(c, "", "a", 0, NULL, 0),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_put(c, "u", NULL, 0, NULL, 0),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_put(c, "u", big, 0, NULL, 0),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_put(c, "u", "a", 0, NULL, -1),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_get(c, "u", "a", NULL, NULL),
                     CMSB_EINVAL);
    ck_assert_int_eq(cmsb_related_cache_get(c, NULL, "a", &got, NULL),
                     CMSB_EINVAL);
    ck_assert_uint_eq(cmsb_related_cache_size(NULL), 0);
    cmsb_related_cache_close(c);
    cmsb_related_cache_close(NULL);
}
END_TEST

#define THREADS 4
#define ROUNDS  3000

typedef struct worker {
    cmsb_related_cache *c;
    cmsb_related_list *lists[8];
    int id, bad;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char caller[16];

    for (int i = 0; i < ROUNDS; i++) {
        int k = (i * 7 + w->id) % 8;
        cmsb_related_list *got = NULL;
        snprintf(caller, sizeof(caller), "c%d", k);
        switch (i % 5) {
        case 0:
        case 1:
            cmsb_related_cache_put(w->c, "ann", caller, 0, w->lists[k], 0);
            break;
        case 4:
            if (i % 50 == 4)
                cmsb_related_cache_invalidate(w->c, "ann",
                                              i % 100 == 4 ? NULL : caller);
            break;
        default:
            if (cmsb_related_cache_get(w->c, "ann", caller, &got, NULL) ==
                CMSB_OK) {
                /* an entry for c<k> always holds list k */
                if (got == NULL ||
                    strcmp(cmsb_related_list_get(got, 0)->title, caller) != 0)
                    w->bad++;
                cmsb_related_list_release(got);
            }
        }
    }
    return NULL;
}

START_TEST(test_cache_threads)
{
    cmsb_related_cache *c;
    cmsb_related_list *lists[8];
    worker w[THREADS];
    pthread_t th[THREADS];

    /* smaller than the key set: eviction runs concurrently too */
    ck_assert_int_eq(cmsb_related_cache_open(6, 60000, &c), CMSB_OK);
    for (int k = 0; k < 8; k++) {
        char t[16];
        snprintf(t, sizeof(t), "c%d", k);
        lists[k] = list_of(t, 1);
    }
    for (int i = 0; i < THREADS; i++) {
        w[i].c = c;
        w[i].id = i;
        w[i].bad = 0;
        memcpy(w[i].lists, lists, sizeof(lists));
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].bad, 0);
    }
    ck_assert_uint_le(cmsb_related_cache_size(c), 6);
    cmsb_related_cache_close(c);
    for (int k = 0; k < 8; k++)
        cmsb_related_list_release(lists[k]);
}
END_TEST

static Suite *related_cache_suite(void)
{
    Suite *s = suite_create("related_cache");
    TCase *tc = tcase_create("cache");

    tcase_add_test(tc, test_list_copies);
    tcase_add_test(tc, test_cache_hit_miss_ttl);
    tcase_add_test(tc, test_cache_replace_lru_invalidate);
    tcase_add_test(tc, test_cache_bad_arguments);
    tcase_add_test(tc, test_cache_threads);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(related_cache_suite)

/* Shared helpers for the libcmsbridge suites: a store with one user, file
 * helpers, a log collector. */
#ifndef CMSB_TEST_H
#define CMSB_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "tsps_check.h"

#define TEST_USER "alice"

/* A store in dir/store with user alice (region DE). */
static inline tsps_engine *test_engine(const char *dir)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *eng = NULL;
    tsps_user u;
    char path[600];

    snprintf(path, sizeof(path), "%s/store", dir);
    mkdir(path, 0700);
    cfg.path = path;
    cfg.flags = TSPS_OPEN_NOSYNC;
    ck_assert_int_eq(tsps_engine_open(&cfg, &eng), TSPS_OK);
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), TEST_USER);
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    ck_assert_int_eq(tsps_user_put(eng, &u), TSPS_OK);
    return eng;
}

static inline void test_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static inline char *test_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

/* Log lines collected by test_log (one per line). */
typedef struct test_logbuf {
    char text[16384];
} test_logbuf;

static inline void test_log(void *arg, int level, const char *msg)
{
    test_logbuf *b = arg;
    size_t n = strlen(b->text);
    (void)level;
    snprintf(b->text + n, sizeof(b->text) - n, "%s\n", msg);
}

/* Count contacts of alice in the store. */
static inline int count_cb(void *arg, const tsps_contact *c)
{
    (void)c;
    (*(int *)arg)++;
    return 0;
}

static inline int test_count_contacts(tsps_engine *eng)
{
    int n = 0;
    ck_assert_int_eq(tsps_contact_list(eng, TEST_USER, NULL, count_cb, &n),
                     TSPS_OK);
    return n;
}

#endif

/* Shared helpers for the Check suites: main(), temp dirs, engine setup. */
#ifndef TSPS_CHECK_H
#define TSPS_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run one suite, TAP to stdout when TSPS_TAP is set, exit code = failures. */
#define TSPS_CHECK_MAIN(suite_fn)                                              \
    int main(void)                                                             \
    {                                                                          \
        SRunner *sr = srunner_create(suite_fn());                              \
        const char *tap = getenv("TSPS_TAP");                                  \
        if (tap != NULL && *tap != '\0')                                       \
            srunner_set_tap(sr, tap);                                          \
        srunner_run_all(sr, CK_NORMAL);                                        \
        int nf = srunner_ntests_failed(sr);                                    \
        srunner_free(sr);                                                      \
        return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                          \
    }

/* Make a fresh temp directory (under $TMPDIR or /tmp) into buf. */
static inline void tsps_check_tmpdir(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/tsps-test-XXXXXX",
             base != NULL && *base != '\0' ? base : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

/* rm -rf a temp directory made by tsps_check_tmpdir(). */
static inline void tsps_check_rmdir(const char *dir)
{
    char cmd[600];
    if (dir == NULL || strncmp(dir, "/tmp", 4) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif

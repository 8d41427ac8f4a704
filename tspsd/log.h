/*
 * log.h - tspsd logging: one logfmt line per event on stderr,
 *   ts=2026-11-25T22:00:00.123Z level=info call=12 user=demo msg="..." k=v
 * Never log secrets (tokens, passwords, keys). Process-wide: the daemon
 * may keep process-wide state (docs/style.md §1), the libraries may not.
 */
#ifndef TSPSD_LOG_H
#define TSPSD_LOG_H

#include <stdint.h>

enum {
    TSPSD_LOG_ERROR = 0,
    TSPSD_LOG_WARN = 1,
    TSPSD_LOG_INFO = 2,
    TSPSD_LOG_DEBUG = 3
};

/** Set the lowest level written (TSPSD_LOG_*). Thread-safety: safe. */
void tspsd_log_set_level(int level);
int tspsd_log_get_level(void);

/** Parse "error", "warn", "info", "debug"; -1 if unknown. */
int tspsd_log_level_parse(const char *name);

/**
 * Write one line. `call` 0 and `user` NULL/"" are left out. `msg` is quoted
 * and escaped; `kvfmt` (printf format, may be NULL) appends raw logfmt
 * pairs, whose values the caller must quote with tspsd_log_quote() if they
 * may hold spaces.
 * Thread-safety: safe (one write(2) per line).
 */
void tspsd_log(int level, uint64_t call, const char *user, const char *msg,
               const char *kvfmt, ...) __attribute__((format(printf, 5, 6)));

/** Write a logfmt fragment from a library callback (msg="..." k=v). */
void tspsd_log_fragment(int level, const char *fragment);

/**
 * Quote a value for logfmt into buf (always NUL-terminated, truncated to
 * fit): "a b" -> "\"a b\"", control characters dropped.
 */
const char *tspsd_log_quote(const char *val, char *buf, unsigned buflen);

#endif

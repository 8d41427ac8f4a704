/* log.c - logfmt lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile int g_level = TSPSD_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tspsd_log_set_level(int level)
{
    if (level >= TSPSD_LOG_ERROR && level <= TSPSD_LOG_DEBUG)
        g_level = level;
}

int tspsd_log_get_level(void)
{
    return g_level;
}

int tspsd_log_level_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return TSPSD_LOG_WARN;
    return -1;
}

const char *tspsd_log_quote(const char *val, char *buf, unsigned buflen)
{
    unsigned o = 0;
    int need = 0;

    if (buflen < 3) {
        if (buflen > 0)
            buf[0] = '\0';
        return buf;
    }
    if (val == NULL)
        val = "";
    for (const char *p = val; *p != '\0'; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\')
            need = 1;
    if (*val == '\0')
        need = 1;
    if (need)
        buf[o++] = '"';
    for (const char *p = val; *p != '\0' && o + 3 < buflen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            continue;
        if (need && (c == '"' || c == '\\')) {
            buf[o++] = '\\';
        }
        buf[o++] = (char)c;
    }
    if (need)
        buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static size_t put_ts(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return (size_t)snprintf(buf, len, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec,
                            ts.tv_nsec / 1000000L);
}

static void emit(char *line, size_t n, size_t cap)
{
    if (n >= cap - 1)
        n = cap - 2;
    line[n++] = '\n';
    /* One write per line, so lines of threads never interleave. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void tspsd_log(int level, uint64_t call, const char *user, const char *msg,
               const char *kvfmt, ...)
{
    char line[2048], q[512];
    size_t n;

    if (level > g_level)
        return;
    if (level < 0)
        level = 0;
    n = put_ts(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, " level=%s",
                          level_names[level > 3 ? 3 : level]);
    if (call != 0 && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " call=%llu",
                              (unsigned long long)call);
    if (user != NULL && *user != '\0' && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " user=%s",
                              tspsd_log_quote(user, q, sizeof(q)));
    if (n < sizeof(line)) {
        char mq[900];
        tspsd_log_quote(msg, mq, sizeof(mq));
        if (mq[0] != '"') { /* always quote msg, logfmt readers like it */
            n +=
                (size_t)snprintf(line + n, sizeof(line) - n, " msg=\"%s\"", mq);
        } else {
            n += (size_t)snprintf(line + n, sizeof(line) - n, " msg=%s", mq);
        }
    }
    if (kvfmt != NULL && n < sizeof(line) - 1) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, kvfmt);
        n += (size_t)vsnprintf(line + n, sizeof(line) - n, kvfmt, ap);
        va_end(ap);
    }
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    emit(line, n, sizeof(line));
}

void tspsd_log_fragment(int level, const char *fragment)
{
    char line[2048];
    size_t n;

    if (level > g_level)
        return;
    if (level < 0)
        level = 0;
    n = put_ts(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, " level=%s %s",
                          level_names[level > 3 ? 3 : level],
                          fragment != NULL ? fragment : "");
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    emit(line, n, sizeof(line));
}

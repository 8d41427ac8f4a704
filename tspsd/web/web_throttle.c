/*
 * web_throttle.c - password guessing on /api/login is throttled twice: per
 * account (WEB_LOGIN_ACCOUNT_FAILS failures within WEB_LOGIN_WINDOW_S lock
 * the account's password login for WEB_LOGIN_LOCK_S) and per source address
 * (WEB_LOGIN_ADDR_FAILS failures, whatever the user names, known or not,
 * lock that address). An attempt is counted when it starts, not when its
 * PBKDF2 check ends: a burst of parallel guesses gets at most as many
 * checks as failures are left, the rest are answered 429 at once.
 *
 * The counters live in a fixed table (no allocation, loop thread only). A
 * counter still in use (attempts in flight, failures inside the window, or
 * a lock) is never evicted to make room: when every slot is in use the
 * login is refused (fail closed) and logged, so a flood of made-up names
 * cannot push a real account's counter out.
 */
#include "web_internal.h"

#include "../log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static int in_use(const web_login_counter *e, int64_t now)
{
    return e->key[0] != '\0' &&
           (e->inflight > 0 || e->until > now ||
            (e->fails > 0 && now - e->first < WEB_LOGIN_WINDOW_S));
}

/* The counter of key, made when create is set and a slot is free; NULL
 * otherwise. */
static web_login_counter *counter(tspsd_web *w, const char *key, int create)
{
    web_login_counter *spare = NULL;
    int64_t now = now_s();
    for (size_t i = 0; i < WEB_LOGIN_SLOTS; i++) {
        web_login_counter *e = &w->logins[i];
        if (e->key[0] != '\0' && strcmp(e->key, key) == 0) {
            if (!in_use(e, now)) { /* stale: start afresh */
                e->fails = 0;
                e->until = 0;
            }
            return e;
        }
        if (spare == NULL && !in_use(e, now))
            spare = e;
    }
    if (!create || spare == NULL)
        return NULL;
    memset(spare, 0, sizeof(*spare));
    snprintf(spare->key, sizeof(spare->key), "%s", key);
    return spare;
}

static int refused(const web_login_counter *e, int limit, int64_t now)
{
    return e->until > now || e->fails + e->inflight >= limit;
}

int web_login_begin(tspsd_web *w, const char *user, const char *addr)
{
    char ku[sizeof(((web_login_counter *)0)->key)];
    char ka[sizeof(ku)];
    int64_t now = now_s();

    snprintf(ka, sizeof(ka), "a:%s", addr);
    web_login_counter *a = counter(w, ka, 1);
    web_login_counter *u = NULL;
    if (user != NULL && a != NULL) {
        /* Hold a while u is found, or a fresh a could be handed out as
         * u's slot too. */
        a->inflight++;
        snprintf(ku, sizeof(ku), "u:%s", user);
        u = counter(w, ku, 1);
        a->inflight--;
    }
    if (a == NULL || (user != NULL && u == NULL)) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "web login throttle full",
                  "audit=1 addr=%s slots=%d", addr, WEB_LOGIN_SLOTS);
        return -1;
    }
    if (refused(a, WEB_LOGIN_ADDR_FAILS, now) ||
        (u != NULL && refused(u, WEB_LOGIN_ACCOUNT_FAILS, now)))
        return -1;
    a->inflight++;
    if (u != NULL)
        u->inflight++;
    return 0;
}

static void settle(web_login_counter *e, int ok, int limit, const char *what,
                   const char *name)
{
    int64_t now = now_s();
    if (e == NULL)
        return;
    if (e->inflight > 0)
        e->inflight--;
    if (ok < 0) /* not checked (server error): no failure */
        return;
    if (ok > 0) {
        /* Only an account's own success clears its count; an address
         * keeps its failures until the window passes (a valid login of
         * one's own must not reset guessing at others). */
        if (what[0] == 'u')
            e->fails = 0;
        return;
    }
    if (e->fails == 0)
        e->first = now;
    if (++e->fails >= limit) {
        e->until = now + WEB_LOGIN_LOCK_S;
        e->fails = 0;
        if (what[0] == 'u')
            tspsd_log(TSPSD_LOG_WARN, 0, name, "web login throttled",
                      "audit=1 failures=%d seconds=%d", limit,
                      WEB_LOGIN_LOCK_S);
        else
            tspsd_log(TSPSD_LOG_WARN, 0, NULL, "web login throttled",
                      "audit=1 addr=%s failures=%d seconds=%d", name, limit,
                      WEB_LOGIN_LOCK_S);
    }
}

void web_login_end(tspsd_web *w, const char *user, const char *addr, int ok)
{
    char k[sizeof(((web_login_counter *)0)->key)];
    snprintf(k, sizeof(k), "a:%s", addr);
    settle(counter(w, k, 0), ok, WEB_LOGIN_ADDR_FAILS, "addr", addr);
    if (user != NULL) {
        snprintf(k, sizeof(k), "u:%s", user);
        settle(counter(w, k, 0), ok, WEB_LOGIN_ACCOUNT_FAILS, "user", user);
    }
}

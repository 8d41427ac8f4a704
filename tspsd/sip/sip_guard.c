/*
 * sip_guard.c - what stands between the registrar and a hostile peer:
 *
 * - Nonces (RFC 7616 3.3/3.4): "<time>.<serial>.<mac>", the mac over time,
 *   serial and (by default) the client's address, keyed by a secret made
 *   at open. Each nonce issued takes a slot of a fixed table (serial mod
 *   slots); the slot remembers the highest nonce count (nc) accepted with
 *   it. A request is accepted only with an nc above that (qop=auth) or,
 *   without qop, once: a captured Authorization replayed is refused. A
 *   nonce that is too old, or whose slot was taken by a newer nonce, is
 *   answered stale=true (the client retries with a fresh one).
 * - Failure limits: digest failures are counted per source address and
 *   per device name; past the limit within the window, that address or
 *   name is locked out for a while (requests refused without checking the
 *   password) and one log line says so, in a form fail2ban can match.
 * - Password strength for new devices (tspsd_sip_password_ok).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip_internal.h"

#define GUARD_PROBE 8 /* failure table: slots tried per key */

/* ---- nonces ----------------------------------------------------------- */

void sip_src_ip(const sip_src *src, char *out, size_t n)
{
    const struct sockaddr *sa = (const struct sockaddr *)&src->addr;
    out[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)n);
    if (out[0] == '\0')
        snprintf(out, n, "-");
}

static void nonce_mac(const tspsd_sip *s, uint64_t t, uint64_t serial,
                      const char *ip, char hex[65])
{
    char buf[256];
    int k = snprintf(buf, sizeof(buf), "%llx:%llx:%s:", (unsigned long long)t,
                     (unsigned long long)serial,
                     !s->cfg.nonce_any_address ? ip : "");
    for (size_t i = 0; i < sizeof(s->secret) && k + 2 < (int)sizeof(buf); i++)
        k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%02x", s->secret[i]);
    sip_digest_hex(SIP_ALG_SHA256, buf, (size_t)k, hex);
}

int sip_nonce_make(tspsd_sip *s, const sip_src *src, int64_t now, char *out,
                   size_t n)
{
    char ip[64], hex[65];
    uint64_t serial = ++s->nonce_serial;
    sip_nonce_slot *slot = &s->nonces[serial % SIP_NONCE_SLOTS];

    slot->serial = serial;
    slot->nc = 0;
    sip_src_ip(src, ip, sizeof(ip));
    nonce_mac(s, (uint64_t)now, serial, ip, hex);
    int k = snprintf(out, n, "%llx.%llx.%.32s", (unsigned long long)now,
                     (unsigned long long)serial, hex);
    return k < 0 || (size_t)k >= n ? TSPS_EINVAL : TSPS_OK;
}

int sip_nonce_check(tspsd_sip *s, const char *nonce, const sip_src *src,
                    int64_t now, sip_nonce_slot **slot)
{
    char *end = NULL, ip[64], hex[65], expect[128];
    unsigned long long t = strtoull(nonce, &end, 16), serial;

    *slot = NULL;
    if (end == nonce || *end != '.')
        return SIP_NONCE_BAD;
    const char *p = end + 1;
    serial = strtoull(p, &end, 16);
    if (end == p || *end != '.')
        return SIP_NONCE_BAD;
    sip_src_ip(src, ip, sizeof(ip));
    nonce_mac(s, t, serial, ip, hex);
    int k = snprintf(expect, sizeof(expect), "%.32s", hex);
    const char *mac = end + 1;
    if (k < 0 || strlen(mac) != (size_t)k)
        return SIP_NONCE_BAD;
    unsigned char diff = 0;
    for (int i = 0; i < k; i++)
        diff |= (unsigned char)(expect[i] ^ mac[i]);
    if (diff != 0)
        return SIP_NONCE_BAD; /* not ours, or issued to another address */
    sip_nonce_slot *sl = &s->nonces[serial % SIP_NONCE_SLOTS];
    if ((int64_t)t > now + 5 || now - (int64_t)t > SIP_NONCE_TTL ||
        sl->serial != serial)
        return SIP_NONCE_STALE; /* too old, or its slot was reused */
    *slot = sl;
    return SIP_NONCE_OK;
}

int sip_nonce_use(sip_nonce_slot *slot, const char *nc_hex, int has_qop,
                  uint64_t txn_h)
{
    unsigned long long nc = 0;
    if (has_qop) {
        char *end = NULL;
        if (nc_hex == NULL || strlen(nc_hex) != 8)
            return -1;
        nc = strtoull(nc_hex, &end, 16);
        if (*end != '\0' || nc == 0)
            return -1;
    } else {
        nc = 1; /* no nonce count: the nonce is good once */
    }
    if (nc == slot->nc && txn_h == slot->txn_h)
        return 1; /* the same request again (UDP retransmission) */
    if (nc <= slot->nc)
        return -1; /* replayed (or reordered) */
    slot->nc = nc;
    slot->txn_h = txn_h;
    return 0;
}

/* ---- failure limits ----------------------------------------------------- */

static sip_guard_ent *guard_find(tspsd_sip *s, const char *key, int64_t now,
                                 int create)
{
    uint64_t h = sip_hash(SIP_HASH_INIT, key, strlen(key));
    sip_guard_ent *victim = NULL;
    for (int i = 0; i < GUARD_PROBE; i++) {
        sip_guard_ent *e = &s->guard[(h + (uint64_t)i) % SIP_GUARD_SLOTS];
        if (e->key[0] != '\0' && strcmp(e->key, key) == 0)
            return e;
        int idle = e->key[0] == '\0' ||
                   (e->locked_until <= now &&
                    now - e->window_start > s->cfg.auth_fail_window_s);
        if (idle && victim == NULL)
            victim = e;
    }
    if (!create)
        return NULL;
    if (victim == NULL) /* every slot busy: take the one with least weight */
        for (int i = 0; i < GUARD_PROBE; i++) {
            sip_guard_ent *e = &s->guard[(h + (uint64_t)i) % SIP_GUARD_SLOTS];
            if (e->locked_until <= now &&
                (victim == NULL || e->failures < victim->failures))
                victim = e;
        }
    if (victim == NULL)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->window_start = now;
    return victim;
}

/* Seconds left of a lockout of key, 0 if none. */
static int64_t locked_for(tspsd_sip *s, const char *key, int64_t now)
{
    sip_guard_ent *e = guard_find(s, key, now, 0);
    return e != NULL && e->locked_until > now ? e->locked_until - now : 0;
}

int64_t sip_guard_locked(tspsd_sip *s, const sip_src *src, const char *user,
                         int64_t now)
{
    char key[SIP_GUARD_KEY];
    int64_t a, u = 0;
    if (s->cfg.auth_max_failures <= 0)
        return 0;
    key[0] = 'a';
    sip_src_ip(src, key + 1, sizeof(key) - 1);
    a = locked_for(s, key, now);
    if (user != NULL && *user != '\0') {
        snprintf(key, sizeof(key), "u%s", user);
        u = locked_for(s, key, now);
    }
    return a > u ? a : u;
}

static void count_one(tspsd_sip *s, const char *key, int limit,
                      const char *what, const char *ip, const char *user,
                      int64_t now)
{
    sip_guard_ent *e = guard_find(s, key, now, 1);
    if (e == NULL)
        return;
    if (now - e->window_start > s->cfg.auth_fail_window_s) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures < limit || e->locked_until > now)
        return;
    e->locked_until = now + s->cfg.auth_lockout_s;
    /* One line per lockout; fail2ban: failregex = sip auth lockout .*
     * src=<HOST> */
    sip_log(s, TSPS_LOG_WARN,
            "msg=\"sip auth lockout\" by=%s src=%s user=%s failures=%d "
            "window_s=%d lockout_s=%d",
            what, ip, user != NULL && *user != '\0' ? user : "-", e->failures,
            s->cfg.auth_fail_window_s, s->cfg.auth_lockout_s);
}

void sip_guard_fail(tspsd_sip *s, const sip_src *src, const char *user,
                    const char *reason, int64_t now)
{
    char key[SIP_GUARD_KEY], ip[64];
    s->stat_auth_fail++;
    sip_src_ip(src, ip, sizeof(ip));
    sip_log(s, TSPS_LOG_WARN,
            "msg=\"sip auth failed\" reason=%s src=%s user=%s", reason, ip,
            user != NULL && *user != '\0' ? user : "-");
    if (s->cfg.auth_max_failures <= 0)
        return;
    snprintf(key, sizeof(key), "a%s", ip);
    count_one(s, key, s->cfg.auth_max_failures, "address", ip, user, now);
    if (user != NULL && *user != '\0') {
        snprintf(key, sizeof(key), "u%s", user);
        /* a device name is guessed at from many addresses: its own limit,
           twice the address limit so one address alone locks itself out
           first */
        count_one(s, key, 2 * s->cfg.auth_max_failures, "user", ip, user, now);
    }
}

/* ---- password strength -------------------------------------------------- */

int tspsd_sip_password_ok(const char *password, const char *username, char *why,
                          size_t n)
{
    size_t len = password != NULL ? strlen(password) : 0;
    int distinct = 0, digits = 0;
    unsigned char seen[256] = {0};

    if (len < TSPSD_SIP_MIN_PASSWORD) {
        snprintf(why, n, "at least %d characters", TSPSD_SIP_MIN_PASSWORD);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];
        if (!seen[c]++)
            distinct++;
        if (isdigit(c))
            digits++;
    }
    if (distinct < 5) {
        snprintf(why, n, "at least 5 different characters");
        return 0;
    }
    if ((size_t)digits == len) {
        snprintf(why, n, "not only digits");
        return 0;
    }
    if (username != NULL && *username != '\0' &&
        strcasestr(password, username) != NULL) {
        snprintf(why, n, "must not contain the device name");
        return 0;
    }
    return 1;
}

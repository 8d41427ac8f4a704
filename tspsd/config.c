/* config.c - tspsd.conf with inih. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef TSPS_SOURCE_DIR
#define TSPS_SOURCE_DIR "."
#endif

void tspsd_config_defaults(tspsd_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data_dir, sizeof(c->data_dir), "data");
    c->log_level = TSPSD_LOG_INFO;
    snprintf(c->examples_dir, sizeof(c->examples_dir), "%s/examples/data",
             TSPS_SOURCE_DIR);
    snprintf(c->ctl_listen, sizeof(c->ctl_listen), "127.0.0.1");
    c->ctl_port = 7443;
    c->max_frame = 1u << 20;
    c->max_clients = 1024;
    c->ctl_handshake_timeout_s = 10;
    c->ctl_max_unauth_per_addr = 32;
    c->ctl_admin_reserved = -1; /* auto: tspsd_config_admin_reserved() */
    snprintf(c->metrics_listen, sizeof(c->metrics_listen), "127.0.0.1");
    c->metrics_port = 9464;
    snprintf(c->web_listen, sizeof(c->web_listen), "127.0.0.1");
    c->web_port = -1; /* off unless [web] port is set */
    c->web_session_s = 8 * 3600;
    c->web_session_idle_s = 30 * 60;
    c->web_link_s = 900;
    c->web_invite_s = 3600;
    c->sip_enabled = 1;
    snprintf(c->sip_listen, sizeof(c->sip_listen), "127.0.0.1");
    c->sip_udp_port = 5060;
    c->sip_tcp_port = 5060;
    c->sip_min_expires = 60;
    c->sip_max_expires = 7200;
    c->sip_default_expires = 3600;
    c->sip_ask_timeout_s = 20;
    c->sip_auth_register = -1; /* on; off only for the demo on loopback */
}

typedef struct load_ctx {
    tspsd_config *c;
    char *err;
    size_t errlen;
    int failed;
} load_ctx;

static int parse_bool(const char *v, int *out)
{
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
        strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
        strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int copy(char *dst, size_t len, const char *v)
{
    if (strlen(v) >= len)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

#define STR(field) copy(c->field, sizeof(c->field), v)

static int tspsd_section(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "data_dir") == 0)
        return STR(data_dir);
    if (strcmp(k, "log_level") == 0) {
        int l = tspsd_log_level_parse(v);
        if (l < 0)
            return -1;
        c->log_level = l;
        return 0;
    }
    if (strcmp(k, "demo") == 0)
        return parse_bool(v, &c->demo);
    if (strcmp(k, "examples_dir") == 0)
        return STR(examples_dir);
    return -2;
}

/* ---- [control] connection limits (docs/operator.md, "Security") ---- */
static int control_limits(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "handshake_timeout") == 0)
        return parse_int(v, 1, 300, &c->ctl_handshake_timeout_s);
    if (strcmp(k, "max_unauthenticated_per_address") == 0)
        return parse_int(v, 1, 100000, &c->ctl_max_unauth_per_addr);
    if (strcmp(k, "admin_reserved") == 0)
        return parse_int(v, 0, 1000, &c->ctl_admin_reserved);
    return -2;
}

static int control_section(tspsd_config *c, const char *k, const char *v)
{
    int n;
    if (strcmp(k, "listen") == 0)
        return STR(ctl_listen);
    if (strcmp(k, "port") == 0)
        return parse_int(v, 0, 65535, &c->ctl_port);
    if (strcmp(k, "cert") == 0)
        return STR(cert);
    if (strcmp(k, "key") == 0)
        return STR(key);
    if (strcmp(k, "ca") == 0)
        return STR(ca);
    if (strcmp(k, "max_frame") == 0) {
        if (parse_int(v, 1024, 16 << 20, &n) != 0)
            return -1;
        c->max_frame = (size_t)n;
        return 0;
    }
    if (strcmp(k, "max_clients") == 0)
        return parse_int(v, 1, 100000, &c->max_clients);
    return control_limits(c, k, v);
}

static int metrics_section(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "listen") == 0)
        return STR(metrics_listen);
    if (strcmp(k, "port") == 0)
        return parse_int(v, -1, 65535, &c->metrics_port);
    return -2;
}

static int web_section(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "listen") == 0)
        return STR(web_listen);
    if (strcmp(k, "port") == 0)
        return parse_int(v, -1, 65535, &c->web_port);
    if (strcmp(k, "session_lifetime") == 0)
        return parse_int(v, 60, 30 * 86400, &c->web_session_s);
    if (strcmp(k, "session_idle_timeout") == 0)
        return parse_int(v, 0, 30 * 86400, &c->web_session_idle_s);
    if (strcmp(k, "link_lifetime") == 0)
        return parse_int(v, 30, 7 * 86400, &c->web_link_s);
    if (strcmp(k, "invite_lifetime") == 0)
        return parse_int(v, 60, 7 * 86400, &c->web_invite_s);
    if (strcmp(k, "public_url") == 0)
        return STR(web_public_url);
    return -2;
}

/* [sip] limits against hostile peers (tspsd/sip, docs/sip.md). */
static int sip_hardening_key(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "nonce_bind_address") == 0) {
        int bind = 1, rc = parse_bool(v, &bind);
        c->sip_nonce_any_address = !bind;
        return rc;
    }
    if (strcmp(k, "auth_max_failures") == 0) {
        int rc = parse_int(v, 0, 100000, &c->sip_auth_max_failures);
        if (rc == 0 && c->sip_auth_max_failures == 0)
            c->sip_auth_max_failures = -1; /* 0 = no limit */
        return rc;
    }
    if (strcmp(k, "auth_fail_window") == 0)
        return parse_int(v, 1, 86400, &c->sip_auth_fail_window_s);
    if (strcmp(k, "auth_lockout") == 0)
        return parse_int(v, 1, 86400, &c->sip_auth_lockout_s);
    if (strcmp(k, "max_held_per_user") == 0)
        return parse_int(v, 1, 100000, &c->sip_max_held_per_user);
    if (strcmp(k, "max_held") == 0)
        return parse_int(v, 1, 1000000, &c->sip_max_held);
    if (strcmp(k, "tcp_max_per_address") == 0)
        return parse_int(v, 1, 100000, &c->sip_tcp_max_per_address);
    if (strcmp(k, "tcp_handshake_timeout") == 0)
        return parse_int(v, 1, 3600, &c->sip_tcp_handshake_s);
    if (strcmp(k, "max_bindings_per_aor") == 0)
        return parse_int(v, 1, 32, &c->sip_max_bindings_per_aor);
    return -2;
}

/* ---- [sip] keys the docs name (docs/sip.md) beside the ones above ----
 * Kept apart from the SIP front's own keys: every key a page of docs/ or
 * docs/tspsd.conf.example documents must be accepted, and
 * tests/daemon/check_tspsd_config.c starts tspsd with each of them. */
static int valid_digest_algorithms(const char *v)
{
    char tmp[64], *save = NULL;
    int n = 0, seen_md5 = 0, seen_sha = 0;
    if (copy(tmp, sizeof(tmp), v) != 0)
        return 0;
    for (char *t = strtok_r(tmp, ", ", &save); t != NULL;
         t = strtok_r(NULL, ", ", &save), n++) {
        int *seen = strcasecmp(t, "SHA-256") == 0 ? &seen_sha
                    : strcasecmp(t, "MD5") == 0   ? &seen_md5
                                                  : NULL;
        if (seen == NULL || *seen)
            return 0;
        *seen = 1;
    }
    return n > 0;
}

static int sip_documented_keys(tspsd_config *c, const char *k, const char *v)
{
    /* docs/sip.md spells it with the unit; the example file without. */
    if (strcmp(k, "ask_timeout_s") == 0)
        return parse_int(v, 1, 600, &c->sip_ask_timeout_s);
    if (strcmp(k, "digest_algorithms") == 0)
        return valid_digest_algorithms(v) ? STR(sip_digest_algorithms) : -1;
    return -2;
}

static int sip_section(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "enabled") == 0)
        return parse_bool(v, &c->sip_enabled);
    if (strcmp(k, "listen") == 0)
        return STR(sip_listen);
    if (strcmp(k, "udp_port") == 0)
        return parse_int(v, 0, 65535, &c->sip_udp_port);
    if (strcmp(k, "tcp_port") == 0)
        return parse_int(v, 0, 65535, &c->sip_tcp_port);
    if (strcmp(k, "domain") == 0)
        return STR(sip_domain);
    if (strcmp(k, "realm") == 0)
        return STR(sip_realm);
    if (strcmp(k, "auth_register") == 0)
        return parse_bool(v, &c->sip_auth_register);
    if (strcmp(k, "min_expires") == 0)
        return parse_int(v, 1, 86400, &c->sip_min_expires);
    if (strcmp(k, "max_expires") == 0)
        return parse_int(v, 1, 604800, &c->sip_max_expires);
    if (strcmp(k, "default_expires") == 0)
        return parse_int(v, 1, 604800, &c->sip_default_expires);
    if (strcmp(k, "ask_timeout") == 0)
        return parse_int(v, 1, 600, &c->sip_ask_timeout_s);
    int rc = sip_hardening_key(c, k, v);
    return rc != -2 ? rc : sip_documented_keys(c, k, v);
}

static int admin_section(tspsd_config *c, const char *k, const char *v)
{
    char tmp[1024], *save = NULL;

    if (strcmp(k, "identities") != 0)
        return -2;
    if (copy(tmp, sizeof(tmp), v) != 0)
        return -1;
    c->nadmins = 0;
    for (char *t = strtok_r(tmp, ", \t", &save); t != NULL;
         t = strtok_r(NULL, ", \t", &save)) {
        if (c->nadmins >= TSPSD_MAX_ADMINS || strlen(t) >= 64)
            return -1;
        memcpy(c->admins[c->nadmins++], t, strlen(t) + 1);
    }
    return 0;
}

static tspsd_source_cfg *source_for(tspsd_config *c, const char *name)
{
    for (int i = 0; i < c->nsources; i++)
        if (strcmp(c->sources[i].name, name) == 0)
            return &c->sources[i];
    if (c->nsources >= TSPSD_MAX_SOURCES || strlen(name) >= 64 || *name == '\0')
        return NULL;
    tspsd_source_cfg *s = &c->sources[c->nsources++];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, name, strlen(name) + 1);
    s->interval_s = 300;
    return s;
}

static int source_section(tspsd_config *c, const char *name, const char *k,
                          const char *v)
{
    tspsd_source_cfg *s = source_for(c, name);
    if (s == NULL)
        return -1;
    if (strcmp(k, "uri") == 0)
        return copy(s->uri, sizeof(s->uri), v);
    if (strcmp(k, "user") == 0)
        return copy(s->user, sizeof(s->user), v);
    if (strcmp(k, "interval") == 0)
        return parse_int(v, 0, 86400 * 7, &s->interval_s);
    size_t used = strlen(s->options);
    int n =
        snprintf(s->options + used, sizeof(s->options) - used, "%s=%s\n", k, v);
    if (n < 0 || (size_t)n >= sizeof(s->options) - used)
        return -1;
    return 0;
}

/* [held] timeout_s = N; user.<id> = N (seconds, 1..3600). */
static int held_section(tspsd_config *c, const char *k, const char *v)
{
    if (strcmp(k, "timeout_s") == 0)
        return parse_int(v, 1, 3600, &c->held_timeout_s);
    if (strncmp(k, "user.", 5) != 0)
        return -2;
    const char *id = k + 5;
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(c->held_users[0].user))
        return -1;
    int i = 0;
    while (i < c->nheld_users && strcmp(c->held_users[i].user, id) != 0)
        i++;
    if (i == TSPSD_MAX_HELD_USERS)
        return -1;
    if (parse_int(v, 1, 3600, &c->held_users[i].timeout_s) != 0)
        return -1;
    memcpy(c->held_users[i].user, id, n + 1);
    if (i == c->nheld_users)
        c->nheld_users++;
    return 0;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    load_ctx *lc = user;
    tspsd_config *c = lc->c;
    int rc;

    if (strcmp(section, "tspsd") == 0)
        rc = tspsd_section(c, name, value);
    else if (strcmp(section, "control") == 0)
        rc = control_section(c, name, value);
    else if (strcmp(section, "metrics") == 0)
        rc = metrics_section(c, name, value);
    else if (strcmp(section, "sip") == 0)
        rc = sip_section(c, name, value);
    else if (strcmp(section, "web") == 0)
        rc = web_section(c, name, value);
    else if (strcmp(section, "admin") == 0)
        rc = admin_section(c, name, value);
    else if (strcmp(section, "held") == 0)
        rc = held_section(c, name, value);
    else if (strncmp(section, "source ", 7) == 0)
        rc = source_section(c, section + 7, name, value);
    else
        rc = -3;
    if (rc != 0 && !lc->failed) {
        lc->failed = 1;
        snprintf(lc->err, lc->errlen, "[%s] %s: %s", section, name,
                 rc == -2   ? "unknown key"
                 : rc == -3 ? "unknown section"
                            : "bad value");
    }
    return rc == 0;
}

int tspsd_config_load(const char *path, tspsd_config *c, char *err,
                      size_t errlen)
{
    load_ctx lc = {c, err, errlen, 0};
    struct stat sb;

    /* A directory opens and reads as an empty file: refuse it, or tspsd
     * would start on built-in defaults in the current folder. */
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a file (%s): -c wants the config file",
                 path, S_ISDIR(sb.st_mode) ? "a directory" : "special file");
        return -1;
    }
    int rc = ini_parse(path, handler, &lc);
    if (rc == -1) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (rc > 0) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s", lc.failed ? err : "syntax error");
        snprintf(err, errlen, "%s:%d: %s", path, rc, tmp);
        return -1;
    }
    if (c->ctl_admin_reserved >= 0 && c->ctl_admin_reserved >= c->max_clients) {
        snprintf(err, errlen,
                 "%s: [control] admin_reserved (%d) must be below max_clients "
                 "(%d)",
                 path, c->ctl_admin_reserved, c->max_clients);
        return -1;
    }
    for (int i = 0; i < c->nsources; i++) {
        if (c->sources[i].uri[0] == '\0' || c->sources[i].user[0] == '\0') {
            snprintf(err, errlen, "%s: [source %s] needs uri= and user=", path,
                     c->sources[i].name);
            return -1;
        }
    }
    return 0;
}

int tspsd_config_admin_reserved(const tspsd_config *c)
{
    if (c->ctl_admin_reserved >= 0)
        return c->ctl_admin_reserved;
    int r = c->max_clients / 4; /* small tables keep most slots for users */
    return r < 8 ? r : 8;
}

int tspsd_config_is_admin(const tspsd_config *c, const char *identity)
{
    if (identity == NULL || *identity == '\0')
        return 0;
    for (int i = 0; i < c->nadmins; i++)
        if (strcmp(c->admins[i], identity) == 0)
            return 1;
    return 0;
}

const char *tspsd_source_option(const tspsd_source_cfg *s, const char *key,
                                char *buf, size_t len)
{
    size_t kl = strlen(key);
    const char *p = s->options;

    buf[0] = '\0';
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t ll = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = ll - kl - 1;
            if (vl >= len)
                vl = len - 1;
            memcpy(buf, p + kl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        p += ll + (nl != NULL);
    }
    return buf;
}

/* config.c - tspsd.conf with inih; the keys are the table of settings.c. */
#include "config.h"

#include "log.h"
#include "settings.h"

#include <errno.h>
#include <cmsb/cmsb.h>
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
    tspsd_settings_defaults(c); /* settings.c: the table of keys */
    c->log_level = TSPSD_LOG_INFO;
    snprintf(c->examples_dir, sizeof(c->examples_dir), "%s/examples/data",
             TSPS_SOURCE_DIR);
    c->ctl_admin_reserved = -1; /* auto: tspsd_config_admin_reserved() */
    c->sip_auth_register = -1;  /* on; off only for the demo on loopback */
}

typedef struct load_ctx {
    tspsd_config *c;
    char *err;
    size_t errlen;
    int failed;
} load_ctx;

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

static tspsd_source_cfg *source_in(tspsd_source_cfg *arr, int *n, int max,
                                   const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(arr[i].name, name) == 0)
            return &arr[i];
    if (*n >= max || strlen(name) >= 64 || *name == '\0')
        return NULL;
    tspsd_source_cfg *s = &arr[(*n)++];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, name, strlen(name) + 1);
    s->interval_s = 300;
    return s;
}

static int source_section(tspsd_config *c, int related, const char *name,
                          const char *k, const char *v)
{
    tspsd_source_cfg *s =
        related ? source_in(c->related, &c->nrelated, TSPSD_MAX_RELATED, name)
                : source_in(c->sources, &c->nsources, TSPSD_MAX_SOURCES, name);
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

/* [held] user.<id> = N (seconds, 1..3600); timeout_s is in the table. */
static int held_section(tspsd_config *c, const char *k, const char *v)
{
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

/* [related_criteria] <user> = rules; checked by the library's parser. */
static int criteria_section(load_ctx *lc, const char *k, const char *v)
{
    tspsd_config *c = lc->c;
    cmsb_related_policy *p = NULL;
    char why[200];
    int i = 0;

    if (strlen(k) == 0 || strlen(k) >= sizeof(c->criteria[0].user) ||
        strlen(v) >= sizeof(c->criteria[0].text))
        return -1;
    if (cmsb_related_policy_parse(v, &p, why, sizeof(why)) != CMSB_OK) {
        snprintf(lc->err, lc->errlen, "[related_criteria] %s: %s", k, why);
        lc->failed = 1;
        return -1;
    }
    cmsb_related_policy_free(p);
    while (i < c->ncriteria && strcmp(c->criteria[i].user, k) != 0)
        i++;
    if (i == TSPSD_MAX_CRITERIA)
        return -1;
    snprintf(c->criteria[i].user, sizeof(c->criteria[i].user), "%s", k);
    snprintf(c->criteria[i].text, sizeof(c->criteria[i].text), "%s", v);
    if (i == c->ncriteria)
        c->ncriteria++;
    return 0;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    load_ctx *lc = user;
    tspsd_config *c = lc->c;
    int rc;

    const tspsd_setting *st = tspsd_setting_find(section, name);
    if (st != NULL)
        rc = tspsd_setting_set(c, st, value);
    else if (strcmp(section, "held") == 0)
        rc = held_section(c, name, value);
    else if (strncmp(section, "source ", 7) == 0)
        rc = source_section(c, 0, section + 7, name, value);
    else if (strncmp(section, "related ", 8) == 0)
        rc = source_section(c, 1, section + 8, name, value);
    else if (strcmp(section, "related_criteria") == 0)
        rc = criteria_section(lc, name, value);
    else if (strcmp(section, "tspsd") == 0 || strcmp(section, "control") == 0 ||
             strcmp(section, "metrics") == 0 || strcmp(section, "sip") == 0 ||
             strcmp(section, "web") == 0 || strcmp(section, "admin") == 0)
        rc = -2; /* a section of the table, not a key of it */
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
    if (c->media_rtp_port_min >= c->media_rtp_port_max) {
        snprintf(err, errlen,
                 "%s: [media] rtp_port_min (%d) must be below rtp_port_max "
                 "(%d)",
                 path, c->media_rtp_port_min, c->media_rtp_port_max);
        return -1;
    }
    for (int i = 0; i < c->nsources; i++) {
        if (c->sources[i].uri[0] == '\0' || c->sources[i].user[0] == '\0') {
            snprintf(err, errlen, "%s: [source %s] needs uri= and user=", path,
                     c->sources[i].name);
            return -1;
        }
    }
    for (int i = 0; i < c->nrelated; i++) {
        if (c->related[i].uri[0] == '\0' || c->related[i].user[0] == '\0') {
            snprintf(err, errlen, "%s: [related %s] needs uri= and user=", path,
                     c->related[i].name);
            return -1;
        }
        char wm[512];
        /* a link the pop-up opens: web addresses only (no javascript:) */
        if (*tspsd_source_option(&c->related[i], "webmail", wm, sizeof(wm)) &&
            strncmp(wm, "https://", 8) != 0 && strncmp(wm, "http://", 7) != 0) {
            snprintf(err, errlen,
                     "%s: [related %s] webmail= must start with https:// "
                     "or http://",
                     path, c->related[i].name);
            return -1;
        }
    }
    return 0;
}

const char *tspsd_config_criteria(const tspsd_config *c, const char *user)
{
    for (int i = 0; user != NULL && i < c->ncriteria; i++)
        if (strcmp(c->criteria[i].user, user) == 0)
            return c->criteria[i].text;
    return NULL;
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

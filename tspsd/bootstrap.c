/*
 * bootstrap.c - the embedded default: with no config, tspsd makes its own
 * data folder on first start: a CA, a server certificate and an admin
 * client certificate (data/tls/), an admin token printed once, a demo user
 * with handling codes and a vcard-dir source on examples/data.
 */
#include "daemon.h"
#include "store_keys.h"
#include "log.h"
#include "tls.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Warn loudly when the server certificate has expired or will soon:
 * every client refuses it, and the log is where the operator looks. */
static void check_expiry(const char *cert, int ours)
{
    long long left = 0;
    char hint[400];
    if (tspsd_tls_cert_time_left(cert, &left) != 0)
        return; /* unreadable: loading it fails with the reason */
    if (ours)
        snprintf(hint, sizeof(hint),
                 "delete %s and its key: tspsd issues a new one from its CA "
                 "at the next start (client certificates keep working)",
                 cert);
    else
        snprintf(hint, sizeof(hint),
                 "renew it, then SIGHUP (new connections use the new files)");
    if (left <= 0)
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "SERVER CERTIFICATE EXPIRED: clients will refuse to connect",
                  "cert=%s expired_days_ago=%lld hint=\"%s\"", cert,
                  -left / 86400, hint);
    else if (left < 30LL * 86400)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "server certificate expires soon",
                  "cert=%s days_left=%lld hint=\"%s\"", cert, left / 86400,
                  hint);
}

int tspsd_bootstrap_tls(tspsd_config *cfg, char *err, size_t errlen)
{
    char dir[TSPSD_PATH_MAX + 8], cacert[TSPSD_PATH_MAX + 16],
        cakey[TSPSD_PATH_MAX + 16], acert[TSPSD_PATH_MAX + 16],
        akey[TSPSD_PATH_MAX + 16];

    if (cfg->cert[0] != '\0') {
        if (cfg->key[0] == '\0') {
            snprintf(err, errlen, "[control] cert= needs key=");
            return -1;
        }
        check_expiry(cfg->cert, 0);
        return 0; /* the operator brings their own */
    }
    snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(cfg->cert, sizeof(cfg->cert), "%s/server.pem", dir);
    snprintf(cfg->key, sizeof(cfg->key), "%s/server.key", dir);
    /* Our own CA lives in dir whatever [control] ca names: an operator's
     * client CA file is never written. */
    snprintf(cacert, sizeof(cacert), "%s/ca.pem", dir);
    snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
    if (cfg->ca[0] == '\0')
        snprintf(cfg->ca, sizeof(cfg->ca), "%s", cacert);
    snprintf(acert, sizeof(acert), "%s/admin.pem", dir);
    snprintf(akey, sizeof(akey), "%s/admin.key", dir);
    if (exists(cfg->cert) && exists(cfg->key)) {
        check_expiry(cfg->cert, 1);
        return 0;
    }
    if (exists(cacert) && exists(cakey)) {
        /* The server certificate went missing but the CA is there: a new
         * server certificate from the same CA keeps every client
         * certificate (and clients' trust in ca.pem) working. Never a
         * new CA, which would lock every client out. */
        if (tspsd_tls_make_cert(cacert, cakey, "localhost", 1, -3600,
                                825L * 86400, cfg->cert, cfg->key, err,
                                errlen) != 0)
            return -1;
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "SERVER CERTIFICATE WAS MISSING: issued a new one from the "
                  "existing CA",
                  "cert=%s ca=%s note=\"client certificates keep working; "
                  "restore the old files from a backup if you expected "
                  "them\"",
                  cfg->cert, cacert);
        return 0;
    }
    if (exists(cacert) || exists(cakey) || exists(acert) || exists(cfg->cert) ||
        exists(cfg->key)) {
        /* Part of the material is gone, including the CA's key: a new CA
         * would silently invalidate every client certificate issued. */
        snprintf(err, errlen,
                 "%s holds TLS material but not all of it (server.pem, "
                 "server.key, ca.pem, ca.key): restore the missing files "
                 "from a backup, or move %s away to make all-new material "
                 "(every client certificate and client.conf must then be "
                 "issued again)",
                 dir, dir);
        return -1;
    }
    if (tspsd_tls_make_ca("tsps local CA", cacert, cakey, err, errlen) != 0 ||
        tspsd_tls_make_cert(cacert, cakey, "localhost", 1, -3600, 825L * 86400,
                            cfg->cert, cfg->key, err, errlen) != 0 ||
        tspsd_tls_make_cert(cacert, cakey, "admin", 0, -3600, 825L * 86400,
                            acert, akey, err, errlen) != 0)
        return -1;
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "made TLS material",
              "dir=%s ca=ca.pem server=server.pem admin_client=admin.pem", dir);
    return 0;
}

static int has_token(void *arg, const char *key, const void *val, size_t len)
{
    (void)key;
    (void)val;
    (void)len;
    *(int *)arg = 1;
    return 1;
}

/* clang-format off */
static const struct {
    const char *code, *status, *method;
} demo_rules[] = {
    {"VIP",      "any",     "ring"},
    {"FAMILY",   "any",     "ring timeout=20 then voicemail"},
    {"SALES",    "any",     "forward +12125550199"},
    {"BLOCK",    "any",     "reject decline"},
    {"UNKNOWN",  "any",     "ask timeout=20 then voicemail"},
    {"WITHHELD", "any",     "voicemail"},
    {"*",        "meeting", "voicemail"},
    {"VIP",      "meeting", "ring"},
    {"*",        "dnd",     "voicemail"},
    {"FAMILY",   "dnd",     "ring timeout=15 then voicemail"},
};
/* clang-format on */

static int provision_demo(tspsd *d)
{
    tsps_user u;
    int rc;

    if (tsps_user_get(d->eng, "demo", &u) == TSPS_OK)
        return 0;
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "demo");
    snprintf(u.display_name, sizeof(u.display_name), "Demo User");
    snprintf(u.tz, sizeof(u.tz), "America/New_York");
    /* tsps's own voicemail: the media front (docs/media.md) */
    snprintf(u.voicemail_uri, sizeof(u.voicemail_uri), "tsps:voicemail");
    snprintf(u.attendant_uri, sizeof(u.attendant_uri),
             "sip:reception@127.0.0.1");
    u.flags |= TSPS_USER_NO_HOURS; /* the demo answers at any hour */
    rc = tsps_dialplan_for_region("US", &u.dialplan);
    if (rc == TSPS_OK)
        rc = tsps_user_put(d->eng, &u);
    if (rc == TSPS_OK)
        rc = tsps_number_add(d->eng, "demo", "+12125550100");
    if (rc == TSPS_OK) {
        /* A desk phone, so that "ring" has somewhere to ring before any
         * real device registers over SIP. */
        tsps_registration r;
        tsps_registration_init(&r);
        snprintf(r.contact, sizeof(r.contact), "sip:demo@127.0.0.1:5080");
        snprintf(r.label, sizeof(r.label), "desk");
        snprintf(r.user_agent, sizeof(r.user_agent), "tspsd demo");
        r.expires = (int64_t)time(NULL) + 365L * 86400;
        rc = tsps_registration_put(d->eng, "demo", &r);
    }
    for (size_t i = 0;
         rc == TSPS_OK && i < sizeof(demo_rules) / sizeof(demo_rules[0]); i++) {
        tsps_method m;
        char err[128];
        int st = tsps_status_parse(demo_rules[i].status);
        rc = tsps_method_parse(demo_rules[i].method, &m, err, sizeof(err));
        if (rc == TSPS_OK)
            rc = tsps_code_set(d->eng, "demo", demo_rules[i].code,
                               (tsps_status)(st < 0 ? 0 : st), &m);
    }
    if (rc != TSPS_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, "demo", "cannot provision the demo user",
                  "error=\"%s\"", tsps_strerror(rc));
        return -1;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, "demo", "provisioned the demo user",
              "number=+12125550100 rules=%zu",
              sizeof(demo_rules) / sizeof(demo_rules[0]));
    return 0;
}

/* Copy the demo vCards and calendars into data/contacts once, so that
 * write-backs (tspsctl contact code) change the user's copy, never the
 * shipped examples. Returns 0 if the copy exists afterwards. */
static int copy_demo_data(const char *from, const char *to)
{
    char src[TSPSD_PATH_MAX + 300], dst[TSPSD_PATH_MAX + 300];
    DIR *dir;
    struct dirent *e;

    if (exists(to))
        return 0;
    dir = opendir(from);
    if (dir == NULL)
        return -1;
    if (mkdir(to, 0700) != 0) {
        closedir(dir);
        return -1;
    }
    while ((e = readdir(dir)) != NULL) {
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || dot == NULL ||
            (strcmp(dot, ".vcf") != 0 && strcmp(dot, ".ics") != 0))
            continue;
        snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
        FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
        char buf[8192];
        size_t n;
        while (out != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        if (in != NULL)
            fclose(in);
        if (out != NULL)
            fclose(out);
    }
    closedir(dir);
    return 0;
}

int tspsd_bootstrap_store(tspsd *d, int first_start)
{
    int any = 0;

    (void)first_start;
    tsps_kv_list(d->eng, TSPSD_KEY_TOKEN, has_token, &any);
    if (!any) {
        char token[80];
        if (tspsd_token_issue(d, "admin", 1, token, sizeof(token)) != TSPS_OK) {
            tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot issue the admin token",
                      NULL);
            return -1;
        }
        /* Shown once: only its hash is kept. */
        printf("tspsd: first start: admin token (shown once, keep it):\n"
               "  TSPS_TOKEN=%s\n",
               token);
        fflush(stdout);
        tspsd_log(TSPSD_LOG_INFO, 0, NULL,
                  "issued the first admin token (printed on stdout)", NULL);
    }
    if (d->cfg.demo) {
        if (provision_demo(d) != 0)
            return -1;
        if (d->cfg.nsources == 0) {
            char copy[TSPSD_PATH_MAX + 16];
            snprintf(copy, sizeof(copy), "%s/contacts", d->cfg.data_dir);
            if (copy_demo_data(d->cfg.examples_dir, copy) != 0) {
                tspsd_log(TSPSD_LOG_WARN, 0, "demo", "no demo contacts to copy",
                          "from=%s", d->cfg.examples_dir);
                snprintf(copy, sizeof(copy), "%s", d->cfg.examples_dir);
            }
            tspsd_source_cfg *s = &d->cfg.sources[d->cfg.nsources++];
            memset(s, 0, sizeof(*s));
            snprintf(s->name, sizeof(s->name), "demo");
            snprintf(s->uri, sizeof(s->uri), "vcard-dir:%s", copy);
            snprintf(s->user, sizeof(s->user), "demo");
            s->interval_s = 60;
        }
    }
    return 0;
}

int tspsd_bootstrap_client_conf(tspsd *d)
{
    char path[TSPSD_PATH_MAX + 32];
    FILE *f;

    snprintf(path, sizeof(path), "%s/client.conf", d->cfg.data_dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    /* Read by tspsctl when no connection settings are given. The CA that
     * signed the server certificate: ours when tspsd made the certificate
     * (even if [control] ca names another CA for client certificates). */
    char own_cert[TSPSD_PATH_MAX + 32], own_ca[TSPSD_PATH_MAX + 32];
    snprintf(own_cert, sizeof(own_cert), "%s/tls/server.pem", d->cfg.data_dir);
    snprintf(own_ca, sizeof(own_ca), "%s/tls/ca.pem", d->cfg.data_dir);
    fprintf(f, "host=%s\nport=%d\nca=%s\n", d->cfg.ctl_listen, d->ctl_port,
            strcmp(d->cfg.cert, own_cert) == 0 ? own_ca : d->cfg.ca);
    /* `tspsctl cluster status` reads the node's metrics */
    if (d->metrics_port > 0)
        fprintf(f, "metrics=http://%s:%d/metrics\n", d->cfg.metrics_listen,
                d->metrics_port);
    /* `tspsctl cluster status` lists the cluster's nodes from etcd */
    if (d->cfg.cluster_enabled)
        fprintf(f, "etcd=%s\ncluster_prefix=%s\ncluster_default_shard=%s\n",
                d->cfg.cluster_etcd, d->cfg.cluster_prefix,
                d->cfg.cluster_default_shard);
    return fclose(f) == 0 ? 0 : -1;
}

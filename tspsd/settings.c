/*
 * settings.c - the table of tspsd.conf keys (settings.h): one row per key
 * with its section, type, bounds, default, whether SIGHUP applies it, and
 * its documentation line.
 */
#include "settings.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(field)                                                               \
    offsetof(tspsd_config, field), sizeof(((tspsd_config *)0)->field)
#define I(field) offsetof(tspsd_config, field), 0

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

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* ---- keys that need more than a type ---- */

static int set_log_level(tspsd_config *c, const char *v)
{
    int l = tspsd_log_level_parse(v);
    if (l < 0)
        return -1;
    c->log_level = l;
    return 0;
}

static int set_max_frame(tspsd_config *c, const char *v)
{
    long n;
    if (parse_long(v, 1024, 16 << 20, &n) != 0)
        return -1;
    c->max_frame = (size_t)n;
    return 0;
}

static int set_nonce_bind(tspsd_config *c, const char *v)
{
    int bind = 1, rc = parse_bool(v, &bind);
    c->sip_nonce_any_address = !bind;
    return rc;
}

static int set_auth_max_failures(tspsd_config *c, const char *v)
{
    long n;
    if (parse_long(v, 0, 100000, &n) != 0)
        return -1;
    c->sip_auth_max_failures = n == 0 ? -1 : (int)n; /* 0 = no limit */
    return 0;
}

static int set_digest_algorithms(tspsd_config *c, const char *v)
{
    char tmp[64], *save = NULL;
    int n = 0, seen_md5 = 0, seen_sha = 0;
    if (strlen(v) >= sizeof(tmp) ||
        strlen(v) >= sizeof(c->sip_digest_algorithms))
        return -1;
    memcpy(tmp, v, strlen(v) + 1);
    for (char *t = strtok_r(tmp, ", ", &save); t != NULL;
         t = strtok_r(NULL, ", ", &save), n++) {
        int *seen = strcasecmp(t, "SHA-256") == 0 ? &seen_sha
                    : strcasecmp(t, "MD5") == 0   ? &seen_md5
                                                  : NULL;
        if (seen == NULL || *seen)
            return -1;
        *seen = 1;
    }
    if (n == 0)
        return -1;
    memcpy(c->sip_digest_algorithms, v, strlen(v) + 1);
    return 0;
}

static int set_admins(tspsd_config *c, const char *v)
{
    char tmp[1024], *save = NULL;

    if (strlen(v) >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, strlen(v) + 1);
    c->nadmins = 0;
    for (char *t = strtok_r(tmp, ", \t", &save); t != NULL;
         t = strtok_r(NULL, ", \t", &save)) {
        if (c->nadmins >= TSPSD_MAX_ADMINS || strlen(t) >= 64)
            return -1;
        memcpy(c->admins[c->nadmins++], t, strlen(t) + 1);
    }
    return 0;
}

static int set_history_commit(tspsd_config *c, const char *v)
{
    if (strcmp(v, "burst") == 0)
        c->history_async = 0;
    else if (strcmp(v, "async") == 0)
        c->history_async = 1;
    else
        return -1;
    return 0;
}

#define S(sec, name, field, def, rel, doc)                                     \
    {                                                                          \
        sec, name, TSPSD_SET_STR, F(field), 0, 0, def, rel, doc, NULL          \
    }
#define N(sec, name, field, lo, hi, def, rel, doc)                             \
    {                                                                          \
        sec, name, TSPSD_SET_INT, I(field), lo, hi, def, rel, doc, NULL        \
    }
#define B(sec, name, field, def, rel, doc)                                     \
    {                                                                          \
        sec, name, TSPSD_SET_BOOL, I(field), 0, 1, def, rel, doc, NULL         \
    }
#define C(sec, name, fn, def, rel, doc)                                        \
    {                                                                          \
        sec, name, TSPSD_SET_CUSTOM, 0, 0, 0, 0, def, rel, doc, fn             \
    }

/* clang-format off */
static const tspsd_setting table[] = {
    S("tspsd", "data_dir", data_dir, "data", 0,
      "directory of the store, TLS material and client.conf"),
    C("tspsd", "log_level", set_log_level, "info", 1,
      "error, warn, info or debug"),
    B("tspsd", "demo", demo, "false", 0,
      "provision the demo user and source at the first start"),
    S("tspsd", "examples_dir", examples_dir, NULL, 0,
      "vCards and calendars of the demo (default: the source tree's examples/data)"),
    S("control", "listen", ctl_listen, "127.0.0.1", 0,
      "address of the TLS control socket"),
    N("control", "port", ctl_port, 0, 65535, "7443", 0,
      "control port (0: a free one, written to client.conf)"),
    S("control", "cert", cert, NULL, 1,
      "server certificate (default: data_dir/tls/server.pem)"),
    S("control", "key", key, NULL, 1, "its key"),
    S("control", "ca", ca, NULL, 1,
      "CA that signs client certificates"),
    C("control", "max_frame", set_max_frame, "1048576", 1,
      "largest request in bytes (1024 .. 16 MiB)"),
    N("control", "max_clients", max_clients, 1, 100000, "1024", 1,
      "control connections at most"),
    N("control", "handshake_timeout", ctl_handshake_timeout_s, 1, 300, "10", 1,
      "seconds for TLS and an authenticated Hello"),
    N("control", "max_unauthenticated_per_address", ctl_max_unauth_per_addr,
      1, 100000, "32", 1, "connections of one address before their Hello"),
    N("control", "admin_reserved", ctl_admin_reserved, 0, 1000, NULL, 1,
      "slots only admins take (default: min(8, max_clients / 4))"),
    S("metrics", "listen", metrics_listen, "127.0.0.1", 0,
      "address of the Prometheus endpoint"),
    N("metrics", "port", metrics_port, -1, 65535, "9464", 0,
      "its port (-1: off, 0: a free one)"),
    B("sip", "enabled", sip_enabled, "true", 0, "run the SIP front"),
    S("sip", "listen", sip_listen, "127.0.0.1", 0,
      "address for SIP over UDP and TCP"),
    N("sip", "udp_port", sip_udp_port, 0, 65535, "5060", 0, "0: no UDP"),
    N("sip", "tcp_port", sip_tcp_port, 0, 65535, "5060", 0, "0: no TCP"),
    S("sip", "domain", sip_domain, NULL, 1,
      "our SIP domain (default: listen)"),
    S("sip", "realm", sip_realm, NULL, 1, "digest realm (default: domain)"),
    B("sip", "auth_register", sip_auth_register, NULL, 1,
      "REGISTER needs digest auth (default on; off only for the demo on loopback)"),
    N("sip", "min_expires", sip_min_expires, 1, 86400, "60", 1,
      "registrar: shortest binding"),
    N("sip", "max_expires", sip_max_expires, 1, 604800, "7200", 1,
      "registrar: longest binding"),
    N("sip", "default_expires", sip_default_expires, 1, 604800, "3600", 1,
      "registrar: binding without Expires"),
    N("sip", "ask_timeout_s", sip_ask_timeout_s, 1, 600, "20", 1,
      "hold time of ask methods without one (default of [held] timeout_s)"),
    N("sip", "ask_timeout", sip_ask_timeout_s, 1, 600, NULL, 1,
      "the same as ask_timeout_s"),
    C("sip", "digest_algorithms", set_digest_algorithms, "SHA-256,MD5", 1,
      "challenge order: SHA-256,MD5, MD5,SHA-256 or one alone"),
    C("sip", "nonce_bind_address", set_nonce_bind, "true", 1,
      "a nonce is valid only from the address it was given to"),
    C("sip", "auth_max_failures", set_auth_max_failures, "10", 1,
      "digest failures per address before a lockout (0: no limit)"),
    N("sip", "auth_fail_window", sip_auth_fail_window_s, 1, 86400, "60", 1,
      "seconds failures are counted in"),
    N("sip", "auth_lockout", sip_auth_lockout_s, 1, 86400, "300", 1,
      "seconds of a lockout"),
    N("sip", "max_held_per_user", sip_max_held_per_user, 1, 100000, "32", 1,
      "held calls of one user at most"),
    N("sip", "max_held", sip_max_held, 1, 1000000, "2048", 1,
      "held calls at most"),
    N("sip", "tcp_max_per_address", sip_tcp_max_per_address, 1, 100000, "32",
      1, "SIP-TCP connections of one address"),
    N("sip", "tcp_handshake_timeout", sip_tcp_handshake_s, 1, 3600, "10", 1,
      "seconds a TCP connection has for its first request"),
    N("sip", "max_bindings_per_aor", sip_max_bindings_per_aor, 1, 32, "16", 1,
      "registrar: bindings of one address of record"),
    S("web", "listen", web_listen, "127.0.0.1", 0, "address of the web UI"),
    N("web", "port", web_port, -1, 65535, "-1", 0,
      "its port (-1: off, 0: a free one)"),
    N("web", "session_lifetime", web_session_s, 60, 30 * 86400, "28800", 1,
      "seconds a login lasts at most"),
    N("web", "session_idle_timeout", web_session_idle_s, 0, 30 * 86400,
      "1800", 1, "seconds unused before a session ends (0: never)"),
    N("web", "link_lifetime", web_link_s, 30, 7 * 86400, "900", 1,
      "seconds a one-time login link is valid"),
    N("web", "invite_lifetime", web_invite_s, 60, 7 * 86400, "3600", 1,
      "seconds a chat invitation is valid"),
    S("web", "public_url", web_public_url, NULL, 1,
      "base URL in links (default: https://listen:port)"),
    C("history", "commit", set_history_commit, "burst", 0,
      "SIP calls' history: burst (committed before the burst's responses "
      "leave; nothing answered is lost) or async (committed by a writer "
      "within async_window_ms; responses never wait for the disk)"),
    N("history", "async_window_ms", history_window_ms, 1, 1000, "10", 0,
      "commit = async: a call's record is committed at most this long "
      "after its response left (what a power loss or kill -9 can lose)"),
    N("held", "timeout_s", held_timeout_s, 1, 3600, NULL, 1,
      "hold time of ask methods without one (default: [sip] ask_timeout_s)"),
    B("media", "enabled", media_enabled, "false", 0,
      "run the media front: tsps answers calls routed to voicemail"),
    B("media", "answer_in_place", media_in_place, "false", 0,
      "tspsd is the callers' first hop (phones call it directly): calls "
      "for tsps's voicemail or IVR are relayed to the media front instead "
      "of answered 302"),
    S("media", "data_dir", media_data_dir, NULL, 0,
      "greetings, messages, prompt cache (default: [tspsd] data_dir/media)"),
    S("media", "sip_addr", media_sip_addr, "127.0.0.1", 0,
      "IPv4 address to bind and to put in SDP and Contact"),
    N("media", "sip_port", media_sip_port, 0, 65535, "5064", 0,
      "SIP/UDP port of the media front (0: a free one)"),
    N("media", "rtp_port_min", media_rtp_port_min, 1024, 65534, "20000", 0,
      "lowest RTP port (even RTP, RTCP = RTP + 1)"),
    N("media", "rtp_port_max", media_rtp_port_max, 1025, 65535, "20999", 0,
      "highest RTP port"),
    N("media", "max_calls", media_max_calls, 1, 100000, "1000", 0,
      "more concurrent calls get 486"),
    N("media", "rtp_timeout_ms", media_rtp_timeout_ms, 1000, 600000, "15000",
      0, "no RTP for this long ends the call"),
    N("media", "max_message_ms", media_max_message_ms, 1000, 3600000,
      "120000", 0, "a recording stops here and is kept"),
    N("media", "silence_ms", media_silence_ms, 0, 600000, "10000", 0,
      "this much silence ends the recording (0: off)"),
    N("media", "quota_messages", media_quota_messages, 0, 1000000, "100", 0,
      "messages per user (0: unlimited)"),
    N("media", "no_answer_ms", media_no_answer_ms, 1000, 600000, "32000", 0,
      "no ACK for our 200 after this: hang up"),
    S("media", "default_language", media_default_language, "en", 0,
      "espeak-ng voice of the default prompts"),
    N("media", "rt_priority", media_rt_priority, 0, 99, "0", 0,
      ">0: media thread runs SCHED_RR at this priority (needs CAP_SYS_NICE)"),
    B("cluster", "enabled", cluster_enabled, "false", 0,
      "share users, numbers, rules, statuses and delegations through etcd"),
    S("cluster", "etcd", cluster_etcd, "http://127.0.0.1:2379", 0,
      "etcd endpoints (JSON gateway), comma-separated"),
    S("cluster", "node", cluster_node, NULL, 0,
      "this node's name in logs and metrics (default: the host name)"),
    S("cluster", "prefix", cluster_prefix, "/tsps", 0,
      "key prefix in etcd; every node of one cluster uses the same"),
    N("cluster", "max_queue", cluster_max_queue, 1, 10000000, "100000", 0,
      "writes waiting for an unreachable etcd at most"),
    S("cluster", "shard", cluster_shard, "default", 0,
      "this node's shard: it applies only its shard's users (empty: all)"),
    S("cluster", "default_shard", cluster_default_shard, "default", 0,
      "the shard of users without a shard/USER key in etcd"),
    N("cluster", "handover_grace_s", cluster_handover_grace_s, 0, 3600, "60",
      0, "after move-user, the old shard keeps the user this long"),
    N("cluster", "lease_s", cluster_lease_s, 2, 600, "10", 0,
      "TTL of the node's registry key: a node silent this long shows as down"),
    S("cluster", "peer_secret_file", cluster_peer_secret_file, NULL, 0,
      "file with the secret every node of the cluster shares: nodes ask "
      "each other for history with it (unset: history of this node only)"),
    S("cluster", "peer_ca", cluster_peer_ca, NULL, 0,
      "CA of the other nodes' control certificates (default: [control] ca)"),
    C("admin", "identities", set_admins, NULL, 1,
      "identities with the admin role, comma-separated"),
};
/* clang-format on */

const tspsd_setting *tspsd_settings(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

const tspsd_setting *tspsd_setting_find(const char *section, const char *name)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].section, section) == 0 &&
            strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

int tspsd_setting_set(tspsd_config *c, const tspsd_setting *s, const char *v)
{
    char *field = (char *)c + s->off;
    long n;
    int b;

    switch (s->type) {
    case TSPSD_SET_STR:
        if (strlen(v) >= s->len)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case TSPSD_SET_INT:
        if (parse_long(v, s->lo, s->hi, &n) != 0)
            return -1;
        *(int *)(void *)field = (int)n;
        return 0;
    case TSPSD_SET_BOOL:
        if (parse_bool(v, &b) != 0)
            return -1;
        *(int *)(void *)field = b;
        return 0;
    default:
        return s->parse(c, v);
    }
}

void tspsd_settings_defaults(tspsd_config *c)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].def != NULL)
            tspsd_setting_set(c, &table[i], table[i].def);
}

static const char *type_name(const tspsd_setting *s)
{
    return s->type == TSPSD_SET_STR    ? "text"
           : s->type == TSPSD_SET_INT  ? "integer"
           : s->type == TSPSD_SET_BOOL ? "boolean"
                                       : "special";
}

void tspsd_settings_print(FILE *f, int markdown)
{
    const char *sec = "";
    if (markdown)
        fprintf(f,
                "# tspsd.conf keys\n\n"
                "Made by `tspsd --help-config=markdown` from the table of "
                "keys in\ntspsd/settings.c; the test `tspsd_config_keys_doc` "
                "fails when this page\nand the table differ. Reloadable: "
                "SIGHUP applies it; else a restart.\n`[source NAME]` "
                "sections (adapter options) are in operator.md and\n"
                "adapters.md; `[held] user.ID` keys in operator.md, "
                "\"Held calls\".\n");
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const tspsd_setting *s = &table[i];
        if (strcmp(s->section, sec) != 0) {
            sec = s->section;
            if (markdown)
                fprintf(f,
                        "\n## (`[%s]`)\n\n| key | default | type | "
                        "reloadable | meaning |\n| --- | --- | --- | --- | "
                        "--- |\n",
                        sec);
            else
                fprintf(f, "%s[%s]\n", i ? "\n" : "", sec);
        }
        if (markdown)
            fprintf(f, "| `%s` | %s%s%s | %s | %s | %s |\n", s->name,
                    s->def != NULL ? "`" : "", s->def != NULL ? s->def : "-",
                    s->def != NULL ? "`" : "", type_name(s),
                    s->reloadable ? "yes" : "no", s->doc);
        else if (s->def != NULL)
            fprintf(f, "%s = %s  ; %s, %s: %s\n", s->name, s->def, type_name(s),
                    s->reloadable ? "reloadable" : "restart", s->doc);
        else
            fprintf(f, "; %s (no default)  ; %s, %s: %s\n", s->name,
                    type_name(s), s->reloadable ? "reloadable" : "restart",
                    s->doc);
    }
}

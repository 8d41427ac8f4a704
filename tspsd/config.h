/*
 * config.h - tspsd.conf (INI, read with inih). See docs/operator.md and
 * docs/tspsd.conf.example for every key.
 */
#ifndef TSPSD_CONFIG_H
#define TSPSD_CONFIG_H

#include <stddef.h>

#define TSPSD_MAX_SOURCES    32
#define TSPSD_MAX_ADMINS     16
#define TSPSD_PATH_MAX       512
#define TSPSD_MAX_HELD_USERS 64
#define TSPSD_MAX_RELATED    32
#define TSPSD_MAX_CRITERIA   64

typedef struct tspsd_source_cfg {
    char name[64];
    char uri[TSPSD_PATH_MAX];
    char user[64];
    int interval_s;     /* 0 = on demand only; default 300 */
    char options[1024]; /* "k=v\n" for any other key */
} tspsd_source_cfg;

typedef struct tspsd_config {
    /* [tspsd] */
    char data_dir[TSPSD_PATH_MAX];
    int log_level;                     /* TSPSD_LOG_* */
    int demo;                          /* provision the demo user and source */
    char examples_dir[TSPSD_PATH_MAX]; /* demo vCards/.ics */
    /* [control] */
    char ctl_listen[64];
    int ctl_port;              /* 0 = pick a free port (tests) */
    char cert[TSPSD_PATH_MAX]; /* "" = data_dir/tls/server.pem */
    char key[TSPSD_PATH_MAX];
    char ca[TSPSD_PATH_MAX];     /* CA that signs client certificates */
    size_t max_frame;            /* bytes, default 1 MiB */
    int max_clients;             /* default 1024 */
    int ctl_handshake_timeout_s; /* TLS + authenticated Hello, default 10 */
    int ctl_max_unauth_per_addr; /* not yet authenticated, default 32 */
    int ctl_admin_reserved;      /* slots non-admins never take; -1 = auto
                                    (tspsd_config_admin_reserved) */
    /* [metrics] */
    char metrics_listen[64];
    int metrics_port; /* -1 = off, 0 = pick a free port */
    /* [sip] */
    int sip_enabled;
    char sip_listen[64];
    int sip_udp_port, sip_tcp_port;
    char sip_domain[128], sip_realm[128];
    int sip_auth_register, sip_min_expires, sip_max_expires,
        sip_default_expires, sip_ask_timeout_s;
    /* [sip] hardening (docs/sip.md "Security"); 0 = the front's default.
     * sip_auth_register is -1 when not set: on, except for the embedded
     * demo listening on loopback. */
    int sip_nonce_any_address, sip_auth_max_failures, sip_auth_fail_window_s,
        sip_auth_lockout_s, sip_max_held_per_user, sip_max_held,
        sip_tcp_max_per_address, sip_tcp_handshake_s, sip_max_bindings_per_aor;
    char sip_digest_algorithms[64]; /* "" = the front's default */
    /* [history] commit = burst (0) | async (1), and the async window */
    int history_async, history_window_ms;
    int media_in_place; /* [media] answer_in_place */
    /* [web] (tspsd/web, docs/webui.md) */
    char web_listen[64];
    int web_port;             /* -1 = off, 0 = pick a free port */
    int web_session_s;        /* session lifetime, default 8 h */
    int web_session_idle_s;   /* ends unused for this long, default 30 min;
                                 0 = no idle timeout */
    int web_link_s;           /* one-time login link, default 15 min */
    int web_invite_s;         /* chat invitation, default 1 h */
    char web_public_url[256]; /* base URL in links, "" = https://listen:port */
    /* [held] (docs/operator.md "Held calls"): how long a held ("ask")
     * call waits when its rule names no timeout= */
    int held_timeout_s; /* 0 = [sip] ask_timeout_s */
    int nheld_users;
    struct {
        char user[64];
        int timeout_s;
    } held_users[TSPSD_MAX_HELD_USERS]; /* user.<id> = seconds */
    /* [media] (tspsd/media, docs/media.md): the voicemail front */
    int media_enabled;
    char media_data_dir[TSPSD_PATH_MAX]; /* "" = <data_dir>/media */
    char media_sip_addr[64];
    int media_sip_port, media_rtp_port_min, media_rtp_port_max, media_max_calls,
        media_rtp_timeout_ms, media_max_message_ms, media_silence_ms,
        media_quota_messages, media_no_answer_ms, media_rt_priority;
    char media_default_language[16];
    /* [cluster] (docs/cluster.md): configuration shared through etcd */
    int cluster_enabled;
    char cluster_etcd[512];         /* endpoints, comma-separated */
    char cluster_node[64];          /* this node's name ("" = the host name) */
    char cluster_prefix[128];       /* key prefix in etcd */
    int cluster_max_queue;          /* writes waiting for etcd at most */
    char cluster_shard[64];         /* this node's shard ("" = every user) */
    char cluster_default_shard[64]; /* users without a shard/<user> key */
    int cluster_handover_grace_s;   /* move-user: the old shard keeps it */
    int cluster_lease_s;            /* TTL of the node key's lease */
    /* History across nodes: the file holding the secret peers present
     * ("" = no merge), and the CA of their control certificates ("" =
     * [control] ca). */
    char cluster_peer_secret_file[TSPSD_PATH_MAX];
    char cluster_peer_ca[TSPSD_PATH_MAX];
    /* [source NAME] */
    int nsources;
    tspsd_source_cfg sources[TSPSD_MAX_SOURCES];
    /* [related NAME] (docs/related.md, "In tspsd"): where a user's related
     * e-mails and documents are (maildir:, imap(s)://, docs-dir:,
     * docs-dav:); uri=, user= and adapter options as for [source NAME] */
    int nrelated;
    tspsd_source_cfg related[TSPSD_MAX_RELATED];
    /* [related_criteria] <user> = rules (cmsb_related_policy_parse) */
    int ncriteria;
    struct {
        char user[64];
        char text[1024];
    } criteria[TSPSD_MAX_CRITERIA];
    /* [admin] identities = a, b */
    int nadmins;
    char admins[TSPSD_MAX_ADMINS][64];
} tspsd_config;

/** [control] admin_reserved, or when unset min(8, max_clients / 4). */
int tspsd_config_admin_reserved(const tspsd_config *c);

/** Defaults (embedded mode: ./data, 127.0.0.1:7443, metrics 9464). */
void tspsd_config_defaults(tspsd_config *c);

/**
 * Read a config file over the defaults already in `c`.
 * @return 0, or -1 with a reason in err (file, line and key).
 */
int tspsd_config_load(const char *path, tspsd_config *c, char *err,
                      size_t errlen);

/** Is `identity` listed in [admin] identities? */
int tspsd_config_is_admin(const tspsd_config *c, const char *identity);

/** The [related_criteria] text of `user`, or NULL (the defaults). */
const char *tspsd_config_criteria(const tspsd_config *c, const char *user);

/** Value of an option key of a source ("" when absent) into buf. */
const char *tspsd_source_option(const tspsd_source_cfg *s, const char *key,
                                char *buf, size_t len);

#endif

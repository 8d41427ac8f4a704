/* tspsctl.h - shared bits of tspsctl's files. */
#ifndef TSPSCTL_H
#define TSPSCTL_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Documented exit codes (tspsctl --help, docs/operator.md). */
enum {
    EX_OK_ = 0,
    EX_USAGE_ = 1,
    EX_REFUSED = 2,
    EX_NOTFOUND = 3,
    EX_CONN = 4,
    EX_OTHER = 5
};

#define CTL_MAX_OPTS 32
#define CTL_MAX_POS  32

/* Subcommand arguments: --key value pairs, flags, positionals. */
typedef struct ctl_args {
    int nopt;
    const char *key[CTL_MAX_OPTS];
    const char *val[CTL_MAX_OPTS]; /* NULL for flags */
    int npos;
    const char *pos[CTL_MAX_POS];
} ctl_args;

int ctl_args_parse(int argc, char **argv, ctl_args *out, char *err,
                   size_t errlen);
const char *ctl_opt(const ctl_args *a, const char *key);
int ctl_flag(const ctl_args *a, const char *key);
/** Every value of a repeated option, up to max; returns the count. */
int ctl_opt_all(const ctl_args *a, const char *key, const char **out, int max);
/** Parse a time: epoch seconds, ISO 8601 UTC, "+30m", "+2h", "now". */
int ctl_parse_time(const char *s, int64_t *out);

typedef struct ctl_ctx {
    tspsd_client *cli; /* connected on first use */
    tspsd_client_opts opts;
    int json;
} ctl_ctx;

/** Connect if not yet connected. Returns 0 or an exit code. */
int ctl_connect(ctl_ctx *ctx);

/** Run a command (argv after the global options). Returns an exit code. */
int ctl_run(ctl_ctx *ctx, int argc, char **argv);

/* tspsctl_print.c */
void ctl_print_json(const Tsps__Response *r);
void ctl_print_table(const Tsps__Response *r, const char *cmd);
void ctl_print_event(const Tsps__Response *r, int json);
int ctl_exit_code(int code);

/* ---- tspsctl_cluster.c ---- */
/**
 * `cluster status`: the tspsd_cluster_* lines of the node's /metrics
 * (`url`, or the metrics= line of DATA/client.conf), printed as
 * "key value", then every node of the cluster from the registry in etcd
 * (`etcd` and `prefix`, or the etcd= and cluster_prefix= lines; skipped
 * when only `url` is given). @return the exit code (0 ok, 1 unreachable
 * or not in a cluster, 2 no address).
 */
int tspsctl_cluster_status(const char *data, const char *url, const char *etcd,
                           const char *prefix);

/**
 * `cluster kamailio-map` (argv: the options after it): the numbers of
 * users outside the default shard, number -> dispatcher set id (--sets
 * SHARD=ID,...), read from etcd, written as Kamailio's db_text table for
 * htable (--out FILE) and/or pushed into a running Kamailio's table
 * tsps_map through its JSON-RPC (--kamailio URL): entries set and stale
 * ones removed. @return the exit code (0, 1 failed, 2 usage).
 */
int tspsctl_cluster_kamailio_map(const char *data, int argc, char **argv);

/**
 * `cluster move-user USER SHARD` (argv: USER SHARD [options]): hand a
 * user over to another shard (docs/cluster.md, "Moving a user"): the
 * target shard's nodes load the user's keys and say ready, the map flips
 * in one etcd transaction (lost when another move got there first), and
 * Kamailio's table gets the user's numbers (--sets, --kamailio).
 * @return the exit code (0, 1 failed, 2 usage, 3 lost the race).
 */
int tspsctl_cluster_move_user(const char *data, int argc, char **argv);

#endif

/*
 * tspsctl_cluster.c - `tspsctl cluster status`: the state of one tspsd
 * node of a cluster (docs/cluster.md), read from its Prometheus endpoint
 * (the tspsd_cluster_* lines), whose address tspsd writes into
 * client.conf (`metrics=`), then every node of the cluster from the node
 * registry in etcd (`etcd=` and `cluster_prefix=` in client.conf). No
 * control request: it works while the node's control socket is busy, and
 * needs no admin certificate.
 */
#include "tspsctl.h"

#include "etcd.h"

#include <curl/curl.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mbuf {
    char *p;
    size_t n;
} mbuf;

static size_t grab(char *p, size_t sz, size_t nm, void *arg)
{
    mbuf *m = arg;
    size_t n = sz * nm;
    if (m->n + n > (8u << 20))
        return 0;
    char *q = realloc(m->p, m->n + n + 1);
    if (q == NULL)
        return 0;
    memcpy(q + m->n, p, n);
    m->p = q;
    m->n += n;
    m->p[m->n] = '\0';
    return n;
}

/* One value of a metric line `tspsd_cluster_NAME{node="N"} V`. */
static int print_metric(const char *text, const char *name, const char *as,
                        char *node, size_t nodelen)
{
    char want[100];
    snprintf(want, sizeof(want), "\ntspsd_cluster_%s{node=\"", name);
    const char *p = strstr(text, want);
    if (p == NULL)
        return -1;
    p += strlen(want);
    const char *q = strchr(p, '"');
    if (q == NULL)
        return -1;
    if (node != NULL)
        snprintf(node, nodelen, "%.*s", (int)(q - p), p);
    const char *v = strchr(q, '}');
    if (v == NULL)
        return -1;
    v++;
    while (*v == ' ')
        v++;
    if (as != NULL)
        printf("%-18s %.*s\n", as, (int)strcspn(v, "\n"), v);
    return 0;
}

/* The registry: member/<node> (every node that ever ran, its last
 * record) and node/<node> (the live ones, under their lease). */
#define MAX_NODES 256

typedef struct reg_node {
    char name[128];
    json_t *rec; /* the last record (member/) */
    int alive;   /* node/ is there: its lease is live */
} reg_node;

typedef struct reg {
    reg_node n[MAX_NODES];
    size_t count;
    size_t plen; /* the prefix's length */
    int live_pass;
} reg;

static int reg_kv(void *arg, int type, const char *key, size_t klen,
                  const void *val, size_t vlen, int64_t mod_rev)
{
    reg *r = arg;
    const char *part = r->live_pass ? "node/" : "member/";
    size_t sl = strlen(part);
    (void)type, (void)mod_rev;
    if (klen <= r->plen + sl || klen - r->plen - sl >= sizeof(r->n[0].name))
        return 0;
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)(klen - r->plen - sl),
             key + r->plen + sl);
    reg_node *n = NULL;
    for (size_t i = 0; i < r->count && n == NULL; i++)
        if (strcmp(r->n[i].name, name) == 0)
            n = &r->n[i];
    if (n == NULL && r->count < MAX_NODES) {
        n = &r->n[r->count++];
        snprintf(n->name, sizeof(n->name), "%s", name);
    }
    if (n == NULL)
        return 0;
    json_error_t je;
    json_t *j = json_loadb(val, vlen, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    json_decref(n->rec);
    n->rec = j; /* the live record is the newer one */
    if (r->live_pass)
        n->alive = 1;
    return 0;
}

static json_int_t rec_int(const json_t *rec, const char *k)
{
    json_t *v = json_object_get(rec, k);
    return json_is_integer(v) ? json_integer_value(v) : json_is_true(v) ? 1 : 0;
}

static const char *rec_str(const json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));
    return s != NULL && s[0] != '\0' ? s : "-";
}

/* Every node of the cluster, from etcd: 0, or 1 (etcd unreadable). */
static int list_nodes(const char *etcd_url, const char *prefix)
{
    char err[300], pre[300], sub[340];
    tspsd_etcd *e = NULL;
    static reg r;
    int rc = 1;
    size_t pl = strlen(prefix);
    while (pl > 1 && prefix[pl - 1] == '/')
        pl--;
    snprintf(pre, sizeof(pre), "%.*s/", (int)pl, prefix);
    memset(&r, 0, sizeof(r));
    r.plen = strlen(pre);
    if (tspsd_etcd_new(etcd_url, 3000, &e) != TSPSD_ETCD_OK) {
        fprintf(stderr, "tspsctl: cluster status: bad etcd address %s\n",
                etcd_url);
        return 1;
    }
    for (r.live_pass = 0; r.live_pass < 2; r.live_pass++) {
        snprintf(sub, sizeof(sub), "%s%s", pre,
                 r.live_pass ? "node/" : "member/");
        int erc =
            tspsd_etcd_range(e, sub, 0, reg_kv, &r, NULL, err, sizeof(err));
        if (erc != TSPSD_ETCD_OK) {
            fprintf(stderr,
                    "tspsctl: cluster status: cannot read the nodes from "
                    "etcd (%s): %s\n",
                    etcd_url, err);
            goto cleanup;
        }
    }
    json_int_t top = 0;
    for (size_t i = 0; i < r.count; i++)
        if (r.n[i].alive && rec_int(r.n[i].rec, "revision") > top)
            top = rec_int(r.n[i].rec, "revision");
    printf("\n%-16s %-12s %-22s %-13s %10s %6s %-9s %s\n", "NODE", "SHARD",
           "SIP", "STATE", "REVISION", "LAG", "SERVICE", "HELD_CALLS");
    for (size_t i = 0; i < r.count; i++) {
        const json_t *rec = r.n[i].rec;
        json_int_t rev = rec_int(rec, "revision");
        json_int_t held = rec_int(rec, "held_calls");
        int drain = (int)rec_int(rec, "draining");
        /* Behind: it has not applied up to the newest configuration
         * change any live node has (a node fresh from a full read holds
         * an older key's revision but has applied everything). */
        char lag[24];
        snprintf(lag, sizeof(lag), "%lld",
                 rec_int(rec, "applied") >= top ? 0LL : (long long)(top - rev));
        printf("%-16s %-12s %-22s %-13s %10lld %6s %-9s %lld\n", r.n[i].name,
               rec_str(rec, "shard"), rec_str(rec, "sip"),
               r.n[i].alive ? "alive" : "lease-expired", (long long)rev,
               r.n[i].alive ? lag : "-",
               !drain     ? "in"
               : held > 0 ? "draining"
                          : "drained",
               (long long)held);
    }
    if (r.count == 0)
        printf("(no node has registered under %s)\n", pre);
    rc = 0;
cleanup:
    for (size_t i = 0; i < r.count; i++)
        json_decref(r.n[i].rec);
    tspsd_etcd_free(e);
    return rc;
}

int tspsctl_cluster_status(const char *data, const char *url_opt,
                           const char *etcd_opt, const char *prefix_opt)
{
    char url[600] = "", path[1024], line[700], node[200] = "";
    char etcd[600] = "", prefix[300] = "";
    mbuf m = {NULL, 0};
    int rc = 1;

    snprintf(path, sizeof(path), "%s/client.conf", data);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "metrics=", 8) == 0)
            snprintf(url, sizeof(url), "%s", line + 8);
        else if (strncmp(line, "etcd=", 5) == 0)
            snprintf(etcd, sizeof(etcd), "%s", line + 5);
        else if (strncmp(line, "cluster_prefix=", 15) == 0)
            snprintf(prefix, sizeof(prefix), "%s", line + 15);
    }
    if (f != NULL)
        fclose(f);
    if (url_opt != NULL)
        snprintf(url, sizeof(url), "%s", url_opt);
    if (etcd_opt != NULL)
        snprintf(etcd, sizeof(etcd), "%s", etcd_opt);
    if (prefix_opt != NULL)
        snprintf(prefix, sizeof(prefix), "%s", prefix_opt);
    if (prefix[0] == '\0')
        snprintf(prefix, sizeof(prefix), "/tsps");
    if (url[0] == '\0' && etcd[0] == '\0') {
        fprintf(stderr,
                "tspsctl: cluster status: no metrics address (client.conf "
                "in %s has no metrics= line: [metrics] port = -1?); give "
                "--metrics http://HOST:PORT/metrics or --etcd URL\n",
                data);
        return 2;
    }
    if (url[0] == '\0')
        return list_nodes(etcd, prefix);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return 1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK || code != 200 || m.p == NULL) {
        fprintf(stderr, "tspsctl: cluster status: %s: %s\n", url,
                cc != CURLE_OK ? curl_easy_strerror(cc) : "no metrics");
        goto cleanup;
    }
    if (print_metric(m.p, "etcd_up", NULL, node, sizeof(node)) != 0) {
        fprintf(stderr,
                "tspsctl: cluster status: this tspsd is not in a cluster "
                "([cluster] enabled = false)\n");
        goto cleanup;
    }
    printf("%-18s %s\n", "node", node);
    print_metric(m.p, "etcd_up", "etcd_reachable", NULL, 0);
    print_metric(m.p, "applied_revision", "applied_revision", NULL, 0);
    print_metric(m.p, "config_revision", "config_revision", NULL, 0);
    print_metric(m.p, "etcd_revision", "etcd_revision", NULL, 0);
    print_metric(m.p, "queued_writes", "queued_writes", NULL, 0);
    print_metric(m.p, "published_total", "published", NULL, 0);
    print_metric(m.p, "applied_total", "applied", NULL, 0);
    print_metric(m.p, "dropped_total", "dropped", NULL, 0);
    print_metric(m.p, "watch_connects_total", "watch_connects", NULL, 0);
    print_metric(m.p, "registered", "registered", NULL, 0);
    print_metric(m.p, "draining", "draining", NULL, 0);
    print_metric(m.p, "held_calls", "held_calls", NULL, 0);
    rc = 0;
    /* the cluster's other nodes, when etcd answers (not with --metrics
     * alone: that asks about one node) */
    if (etcd[0] != '\0' && (url_opt == NULL || etcd_opt != NULL))
        rc = list_nodes(etcd, prefix);
cleanup:
    free(m.p);
    return rc;
}

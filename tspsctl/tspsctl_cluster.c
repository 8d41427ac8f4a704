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
#include <time.h>

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

/* ---- the shard map for Kamailio ---- */

/* What client.conf (and the options) say about the cluster. */
typedef struct cl_conf {
    char etcd[600];
    char prefix[300]; /* with a trailing '/' */
    char default_shard[64];
} cl_conf;

static void conf_read(const char *data, const char *etcd_opt,
                      const char *prefix_opt, cl_conf *c)
{
    char path[1024], line[700], prefix[300] = "/tsps";
    memset(c, 0, sizeof(*c));
    snprintf(c->default_shard, sizeof(c->default_shard), "default");
    snprintf(path, sizeof(path), "%s/client.conf", data);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "etcd=", 5) == 0)
            snprintf(c->etcd, sizeof(c->etcd), "%s", line + 5);
        else if (strncmp(line, "cluster_prefix=", 15) == 0)
            snprintf(prefix, sizeof(prefix), "%s", line + 15);
        else if (strncmp(line, "cluster_default_shard=", 22) == 0)
            snprintf(c->default_shard, sizeof(c->default_shard), "%s",
                     line + 22);
    }
    if (f != NULL)
        fclose(f);
    if (etcd_opt != NULL)
        snprintf(c->etcd, sizeof(c->etcd), "%s", etcd_opt);
    if (prefix_opt != NULL)
        snprintf(prefix, sizeof(prefix), "%s", prefix_opt);
    size_t pl = strlen(prefix);
    while (pl > 1 && prefix[pl - 1] == '/')
        pl--;
    snprintf(c->prefix, sizeof(c->prefix), "%.*s/", (int)pl, prefix);
}

/* "s1=1,s2=2": shard -> dispatcher set id, into a JSON object. */
static json_t *sets_parse(const char *spec)
{
    json_t *o = json_object();
    char buf[1024], *save = NULL;
    if (spec == NULL || strlen(spec) >= sizeof(buf))
        return o;
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        char *end = NULL;
        long id = eq != NULL ? strtol(eq + 1, &end, 10) : 0;
        if (eq == NULL || eq == t || end == eq + 1 || *end != '\0' || id <= 0 ||
            id > 100000) {
            json_decref(o);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(o, t, json_integer(id));
    }
    return o;
}

typedef struct kv_collect {
    size_t plen; /* the part's length with the prefix ("/tsps/shard/") */
    json_t *obj; /* shard/: user -> shard; number/: number -> user */
    int numbers;
} kv_collect;

static int collect_kv(void *arg, int type, const char *key, size_t klen,
                      const void *val, size_t vlen, int64_t mod_rev)
{
    kv_collect *k = arg;
    char rest[600], v[128];
    (void)type, (void)mod_rev;
    if (klen <= k->plen || klen - k->plen >= sizeof(rest))
        return 0;
    snprintf(rest, sizeof(rest), "%.*s", (int)(klen - k->plen), key + k->plen);
    if (k->numbers) { /* <user>/<number> */
        char *sl = strchr(rest, '/');
        if (sl == NULL || sl[1] == '\0')
            return 0;
        *sl = '\0';
        json_object_set_new(k->obj, sl + 1, json_string(rest));
        return 0;
    }
    if (vlen == 0 || vlen >= sizeof(v))
        return 0;
    snprintf(v, sizeof(v), "%.*s", (int)vlen, (const char *)val);
    json_object_set_new(k->obj, rest, json_string(v));
    return 0;
}

/* Every key under prefix+part into obj (see kv_collect): 0, or -1. */
static int etcd_collect(tspsd_etcd *e, const cl_conf *c, const char *part,
                        int numbers, json_t *obj, const char *what)
{
    char sub[400], err[300];
    kv_collect k = {0, obj, numbers};
    snprintf(sub, sizeof(sub), "%s%s", c->prefix, part);
    k.plen = strlen(sub);
    int rc =
        tspsd_etcd_range(e, sub, 0, collect_kv, &k, NULL, err, sizeof(err));
    if (rc != TSPSD_ETCD_OK) {
        fprintf(stderr, "tspsctl: %s: cannot read %s from etcd (%s): %s\n",
                what, sub, c->etcd, err);
        return -1;
    }
    return 0;
}

/* number -> set id for every number whose user is not in the default
 * shard, or NULL (printed). `only` != NULL: that user's numbers only,
 * all of them (their shard may be the default one). */
static json_t *map_build(tspsd_etcd *e, const cl_conf *c, const json_t *sets,
                         const char *only, const char *what)
{
    json_t *shards = json_object(), *numbers = json_object();
    json_t *map = json_object();
    const char *num;
    json_t *u;
    int bad = 0;
    if (etcd_collect(e, c, "shard/", 0, shards, what) != 0 ||
        etcd_collect(e, c, "number/", 1, numbers, what) != 0)
        bad = 1;
    json_object_foreach(numbers, num, u)
    {
        if (bad)
            break;
        const char *user = json_string_value(u);
        const char *sh = json_string_value(json_object_get(shards, user));
        if (sh == NULL)
            sh = c->default_shard;
        if (only != NULL ? strcmp(user, only) != 0
                         : strcmp(sh, c->default_shard) == 0)
            continue;
        json_t *id = json_object_get(sets, sh);
        if (!json_is_integer(id)) {
            fprintf(stderr,
                    "tspsctl: %s: shard %s (user %s) has no dispatcher set: "
                    "add %s=ID to --sets\n",
                    what, sh, user, sh);
            bad = 1;
            break;
        }
        json_object_set(map, num, id);
    }
    json_decref(shards);
    json_decref(numbers);
    if (bad) {
        json_decref(map);
        return NULL;
    }
    return map;
}

/* The map as Kamailio's db_text table for htable (written to a temporary
 * file, then renamed: Kamailio never reads half a file). 0, or -1. */
static int map_write(const json_t *map, const char *out)
{
    char tmp[1100];
    const char *num;
    json_t *id;
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "tspsctl: cluster kamailio-map: cannot write %s\n",
                tmp);
        return -1;
    }
    fputs("key_name(str) key_type(int) value_type(int) key_value(str)\n", f);
    json_object_foreach((json_t *)map, num, id)
    {
        if (strpbrk(num, ":\\\n") == NULL) /* db_text's separator */
            fprintf(f, "%s:0:1:%lld\n", num, (long long)json_integer_value(id));
    }
    if (fclose(f) != 0 || rename(tmp, out) != 0) {
        fprintf(stderr, "tspsctl: cluster kamailio-map: cannot write %s\n",
                out);
        remove(tmp);
        return -1;
    }
    return 0;
}

/* One JSON-RPC call to Kamailio (jsonrpcs over xhttp): its result (new
 * reference), or NULL with *code = the error code (0: no answer). */
static json_t *kam_rpc(const char *url, const char *method, json_t *params,
                       int *code)
{
    mbuf m = {NULL, 0};
    json_t *req = json_pack("{s:s,s:s,s:o,s:i}", "jsonrpc", "2.0", "method",
                            method, "params", params, "id", 1);
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_t *res = NULL;
    json_decref(req);
    *code = 0;
    CURL *h = body != NULL ? curl_easy_init() : NULL;
    if (h == NULL) {
        free(body);
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h) == CURLE_OK && m.p != NULL) {
        json_error_t je;
        json_t *a = json_loads(m.p, 0, &je);
        json_t *r = json_object_get(a, "result");
        if (r != NULL)
            res = json_incref(r);
        else
            *code = (int)json_integer_value(
                json_object_get(json_object_get(a, "error"), "code"));
        json_decref(a);
    }
    curl_easy_cleanup(h);
    free(body);
    free(m.p);
    return res;
}

/* Kamailio's live table made equal to `map` (entries of other numbers
 * removed when `full`): 0, or -1 (printed). */
static int map_push(const char *url, const json_t *map, int full)
{
    int code = 0, failed = 0;
    size_t set = 0, del = 0;
    const char *num;
    json_t *id;
    json_t *have = json_object();
    if (full) {
        json_t *d =
            kam_rpc(url, "htable.dump", json_pack("[s]", "tsps_map"), &code);
        size_t i, j;
        json_t *ent, *slot;
        if (d == NULL) {
            fprintf(stderr,
                    "tspsctl: kamailio %s: htable.dump tsps_map failed "
                    "(error %d)\n",
                    url, code);
            json_decref(have);
            return -1;
        }
        json_array_foreach(d, i, ent)
        {
            json_array_foreach(json_object_get(ent, "slot"), j, slot)
            {
                const char *n =
                    json_string_value(json_object_get(slot, "name"));
                if (n != NULL)
                    json_object_set(have, n, json_object_get(slot, "value"));
            }
        }
        json_decref(d);
        json_object_foreach(have, num, id)
        {
            if (json_object_get(map, num) != NULL)
                continue;
            json_t *r = kam_rpc(url, "htable.delete",
                                json_pack("[s,s]", "tsps_map", num), &code);
            if (r == NULL && code != 404)
                failed++;
            else
                del++;
            json_decref(r);
        }
    }
    json_object_foreach((json_t *)map, num, id)
    {
        json_t *cur = json_object_get(have, num);
        if (cur != NULL && json_is_integer(cur) &&
            json_integer_value(cur) == json_integer_value(id))
            continue;
        json_t *r = kam_rpc(url, "htable.seti",
                            json_pack("[s,s,I]", "tsps_map", num,
                                      (json_int_t)json_integer_value(id)),
                            &code);
        if (r == NULL)
            failed++;
        else
            set++;
        json_decref(r);
    }
    json_decref(have);
    printf("kamailio %s: %zu set, %zu removed, %d failed\n", url, set, del,
           failed);
    if (failed)
        fprintf(stderr, "tspsctl: kamailio %s: %d updates failed\n", url,
                failed);
    return failed ? -1 : 0;
}

/* Options of the cluster commands that talk to etcd and Kamailio. */
typedef struct cl_opts {
    const char *etcd, *prefix, *sets, *out, *rpc;
    long timeout_s;
} cl_opts;

static int opts_parse(int argc, char **argv, int first, cl_opts *o,
                      const char *usage)
{
    memset(o, 0, sizeof(*o));
    o->timeout_s = 30;
    for (int i = first; i < argc; i += 2) {
        const char **slot = strcmp(argv[i], "--etcd") == 0       ? &o->etcd
                            : strcmp(argv[i], "--prefix") == 0   ? &o->prefix
                            : strcmp(argv[i], "--sets") == 0     ? &o->sets
                            : strcmp(argv[i], "--out") == 0      ? &o->out
                            : strcmp(argv[i], "--kamailio") == 0 ? &o->rpc
                                                                 : NULL;
        if (i + 1 >= argc ||
            (slot == NULL && strcmp(argv[i], "--timeout") != 0)) {
            fprintf(stderr, "tspsctl: usage: %s\n", usage);
            return -1;
        }
        if (slot != NULL)
            *slot = argv[i + 1];
        else
            o->timeout_s = strtol(argv[i + 1], NULL, 10);
    }
    return 0;
}

/* The cluster's settings and an etcd client for command `what`: 0, or
 * -1 (no etcd address; printed). */
static int etcd_open(const char *data, const cl_opts *o, cl_conf *c,
                     tspsd_etcd **e, const char *what)
{
    conf_read(data, o->etcd, o->prefix, c);
    if (c->etcd[0] == '\0' || tspsd_etcd_new(c->etcd, 5000, e) != 0) {
        fprintf(stderr,
                "tspsctl: %s: no etcd address (client.conf etcd= or "
                "--etcd URL)\n",
                what);
        return -1;
    }
    return 0;
}

int tspsctl_cluster_kamailio_map(const char *data, int argc, char **argv)
{
    static const char usage[] =
        "cluster kamailio-map --sets SHARD=ID,... [--out FILE] "
        "[--kamailio URL] [--etcd URL] [--prefix P]";
    cl_opts o;
    cl_conf c;
    tspsd_etcd *e = NULL;
    if (opts_parse(argc, argv, 0, &o, usage) != 0)
        return 2;
    json_t *sets = sets_parse(o.sets);
    if (sets == NULL || json_object_size(sets) == 0 ||
        (o.out == NULL && o.rpc == NULL)) {
        fprintf(stderr,
                "tspsctl: usage: %s\n  (--sets and one of --out, "
                "--kamailio are needed)\n",
                usage);
        json_decref(sets);
        return 2;
    }
    if (etcd_open(data, &o, &c, &e, "cluster kamailio-map") != 0) {
        json_decref(sets);
        return 2;
    }
    int rc = 1;
    json_t *map = map_build(e, &c, sets, NULL, "cluster kamailio-map");
    if (map != NULL) {
        rc = 0;
        if (o.out != NULL && map_write(map, o.out) != 0)
            rc = 1;
        if (o.out != NULL && rc == 0)
            printf("%zu numbers outside shard %s written to %s\n",
                   json_object_size(map), c.default_shard, o.out);
        if (o.rpc != NULL && map_push(o.rpc, map, 1) != 0)
            rc = 1;
    }
    json_decref(map);
    json_decref(sets);
    tspsd_etcd_free(e);
    return rc;
}

/* ---- move-user ---- */

typedef struct one_key {
    size_t klen;
    const char *key;
    char val[128];
    int64_t mod_rev;
    int found;
} one_key;

static int one_key_cb(void *arg, int type, const char *key, size_t klen,
                      const void *val, size_t vlen, int64_t mod_rev)
{
    one_key *o = arg;
    (void)type;
    if (klen != o->klen || memcmp(key, o->key, klen) != 0 ||
        vlen >= sizeof(o->val))
        return 0;
    memcpy(o->val, val, vlen);
    o->val[vlen] = '\0';
    o->mod_rev = mod_rev;
    o->found = 1;
    return 0;
}

/* Live nodes of a shard (registry) and the ready ones of a move. */
typedef struct node_set {
    size_t plen;
    const char *shard; /* NULL: ready/ keys, no filter */
    int64_t after;     /* ready/ keys: only those written after this */
    json_t *names;     /* name -> true */
    /* registry: the nodes' [cluster] default_shard ("" = none said so;
     * "/" = they disagree) */
    char dflt[64];
} node_set;

static int node_set_cb(void *arg, int type, const char *key, size_t klen,
                       const void *val, size_t vlen, int64_t mod_rev)
{
    node_set *n = arg;
    char name[200];
    (void)type;
    if (klen <= n->plen || klen - n->plen >= sizeof(name) ||
        mod_rev <= n->after)
        return 0;
    snprintf(name, sizeof(name), "%.*s", (int)(klen - n->plen), key + n->plen);
    if (n->shard != NULL) {
        json_error_t je;
        json_t *rec = json_loadb(val, vlen, 0, &je);
        const char *sh = json_string_value(json_object_get(rec, "shard"));
        const char *df =
            json_string_value(json_object_get(rec, "default_shard"));
        int in = sh != NULL && strcmp(sh, n->shard) == 0;
        if (df != NULL && df[0] != '\0' && strlen(df) < sizeof(n->dflt) &&
            strcmp(n->dflt, df) != 0)
            snprintf(n->dflt, sizeof(n->dflt), "%s",
                     n->dflt[0] == '\0' ? df : "/");
        json_decref(rec);
        if (!in)
            return 0;
    }
    json_object_set_new(n->names, name, json_true());
    return 0;
}

static int node_set_read(tspsd_etcd *e, const char *part, const char *shard,
                         int64_t after, json_t *names, char *dflt, size_t dlen,
                         char *err, size_t errlen)
{
    node_set n = {strlen(part), shard, after, names, ""};
    int rc = tspsd_etcd_range(e, part, 0, node_set_cb, &n, NULL, err, errlen);
    if (dflt != NULL)
        snprintf(dflt, dlen, "%s", n.dflt);
    return rc;
}

/* key's value and mod revision now into *k (k->key, k->klen set):
 * 0, or -1 (etcd unreadable; err set). */
static int one_key_read(tspsd_etcd *e, one_key *k, char *err, size_t errlen)
{
    k->found = 0;
    k->mod_rev = 0;
    k->val[0] = '\0';
    return tspsd_etcd_range(e, k->key, 0, one_key_cb, k, NULL, err, errlen) ==
                   TSPSD_ETCD_OK
               ? 0
               : -1;
}

/* The end of a move that did not flip: its marker moving/<user> and the
 * ready/<user>/ keys go, unless another move wrote the marker since our
 * put at revision put_rev (it is that move's now). Not atomic with the
 * check: a move that starts in between loses its marker and times out. */
static void marker_drop(tspsd_etcd *e, const char *mkey, const char *rpre,
                        int64_t put_rev)
{
    char err[300];
    one_key m = {strlen(mkey), mkey, "", 0, 0};
    if (one_key_read(e, &m, err, sizeof(err)) != 0 || !m.found ||
        m.mod_rev != put_rev)
        return;
    tspsd_etcd_delete(e, mkey, 0, NULL, err, sizeof(err));
    tspsd_etcd_delete(e, rpre, 1, NULL, err, sizeof(err));
}

/* Another move (or a write of shard/<user>) won: exit status 3. */
static int move_lost(tspsd_etcd *e, const cl_conf *c, const char *user,
                     const char *skey, const char *mkey, const char *rpre,
                     int64_t put_rev)
{
    char err[300];
    one_key now = {strlen(skey), skey, "", 0, 0};
    int unread = one_key_read(e, &now, err, sizeof(err)) != 0;
    fprintf(stderr,
            "tspsctl: cluster move-user: another move of %s won (its shard "
            "changed to %s meanwhile); this one did nothing: check with "
            "tspsctl cluster status and try again\n",
            user,
            unread      ? "?"
            : now.found ? now.val
                        : c->default_shard);
    marker_drop(e, mkey, rpre, put_rev);
    return 3;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int tspsctl_cluster_move_user(const char *data, int argc, char **argv)
{
    static const char usage[] =
        "cluster move-user USER SHARD [--sets SHARD=ID,... --kamailio URL] "
        "[--timeout S] [--etcd URL] [--prefix P]";
    cl_opts o;
    cl_conf c;
    tspsd_etcd *e = NULL;
    char skey[400], mkey[400], rpre[400], npre[400], err[300];
    json_t *sets = NULL, *want = json_object(), *ready = json_object();
    int rc = 1;

    if (argc < 2 || argv[0][0] == '\0' || argv[1][0] == '\0' ||
        strchr(argv[0], '/') != NULL || strchr(argv[1], '/') != NULL ||
        strlen(argv[0]) > 200 || strlen(argv[1]) > 63 ||
        opts_parse(argc, argv, 2, &o, usage) != 0 ||
        (o.rpc != NULL && (sets = sets_parse(o.sets)) == NULL)) {
        fprintf(stderr, "tspsctl: usage: %s\n", usage);
        json_decref(want);
        json_decref(ready);
        return 2;
    }
    const char *user = argv[0], *target = argv[1];
    if (etcd_open(data, &o, &c, &e, "cluster move-user") != 0) {
        json_decref(want);
        json_decref(ready);
        json_decref(sets);
        return 2;
    }
    double t0 = now_ms();
    snprintf(skey, sizeof(skey), "%sshard/%s", c.prefix, user);
    snprintf(mkey, sizeof(mkey), "%smoving/%s", c.prefix, user);
    snprintf(rpre, sizeof(rpre), "%sready/%s/", c.prefix, user);
    snprintf(npre, sizeof(npre), "%snode/", c.prefix);
    /* 1. where the user is now, and the map key's revision */
    one_key cur = {strlen(skey), skey, "", 0, 0};
    if (one_key_read(e, &cur, err, sizeof(err)) != 0) {
        fprintf(stderr, "tspsctl: cluster move-user: etcd %s: %s\n", c.etcd,
                err);
        goto cleanup;
    }
    /* 2. the target shard's live nodes must take the user first; a user
     * without a map key is in the nodes' default shard (their registry
     * records say which; this host's client.conf only if none does) */
    char dflt[64];
    if (node_set_read(e, npre, target, 0, want, dflt, sizeof(dflt), err,
                      sizeof(err)) != TSPSD_ETCD_OK) {
        fprintf(stderr, "tspsctl: cluster move-user: etcd %s: %s\n", c.etcd,
                err);
        goto cleanup;
    }
    if (!cur.found && strcmp(dflt, "/") == 0) {
        fprintf(stderr,
                "tspsctl: cluster move-user: %s has no shard/%s key and the "
                "live nodes disagree on [cluster] default_shard (tspsctl "
                "cluster status); make it the same everywhere\n",
                user, user);
        goto cleanup;
    }
    const char *from = cur.found         ? cur.val
                       : dflt[0] != '\0' ? dflt
                                         : c.default_shard;
    if (strcmp(from, target) == 0) {
        printf("%s is in shard %s already\n", user, target);
        rc = 0;
        goto cleanup;
    }
    if (json_object_size(want) == 0) {
        fprintf(stderr,
                "tspsctl: cluster move-user: no live node in shard %s "
                "(tspsctl cluster status)\n",
                target);
        goto cleanup;
    }
    int64_t put_rev = 0;
    if (tspsd_etcd_put(e, mkey, target, strlen(target), &put_rev, err,
                       sizeof(err)) != TSPSD_ETCD_OK) {
        fprintf(stderr, "tspsctl: cluster move-user: etcd %s: %s\n", c.etcd,
                err);
        goto cleanup;
    }
    int all = 0, lost = 0;
    while (!all && !lost && now_ms() - t0 < o.timeout_s * 1000.0) {
        const char *name;
        json_t *v;
        json_object_clear(ready);
        /* a node's ready/ key from before our put (a move that ended
         * without a flip, or that lost a race) does not count */
        if (node_set_read(e, rpre, NULL, put_rev, ready, NULL, 0, err,
                          sizeof(err)) != TSPSD_ETCD_OK)
            json_object_clear(ready);
        all = 1;
        json_object_foreach(want, name, v) all &=
            json_object_get(ready, name) != NULL;
        if (all)
            break;
        /* A move that flipped meanwhile deleted the ready/ keys with its
         * flip, so they may never be all there: the map key tells. */
        one_key now = {strlen(skey), skey, "", 0, 0};
        if (one_key_read(e, &now, err, sizeof(err)) == 0 &&
            (now.found != cur.found || now.mod_rev != cur.mod_rev)) {
            lost = 1;
            break;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (lost) {
        rc = move_lost(e, &c, user, skey, mkey, rpre, put_rev);
        goto cleanup;
    }
    if (!all) {
        fprintf(stderr,
                "tspsctl: cluster move-user: the nodes of shard %s did not "
                "all load %s within %ld s; nothing moved\n",
                target, user, o.timeout_s);
        marker_drop(e, mkey, rpre, put_rev);
        goto cleanup;
    }
    /* 3. the flip: only if nobody changed the user's shard meanwhile */
    /* with it, was/<user>/<from>: history asks the old shard's nodes too
     * (they keep the calls they routed for the user) */
    const char *dels[] = {mkey, rpre, NULL};
    char wkey[400];
    snprintf(wkey, sizeof(wkey), "%swas/%s/%s", c.prefix, user, from);
    const char *puts[] = {wkey, from, NULL};
    int won = 0;
    int64_t rev = 0;
    if (tspsd_etcd_cas(e, skey, cur.mod_rev, target, strlen(target), puts, dels,
                       &won, &rev, err, sizeof(err)) != TSPSD_ETCD_OK) {
        fprintf(stderr, "tspsctl: cluster move-user: etcd %s: %s\n", c.etcd,
                err);
        goto cleanup;
    }
    if (!won) {
        rc = move_lost(e, &c, user, skey, mkey, rpre, put_rev);
        goto cleanup;
    }
    double flip = now_ms() - t0;
    /* 4. Kamailio sends the user's numbers to the new shard */
    rc = 0;
    if (o.rpc != NULL) {
        json_t *map = map_build(e, &c, sets, user, "cluster move-user");
        if (map == NULL || map_push(o.rpc, map, 0) != 0) {
            fprintf(stderr,
                    "tspsctl: cluster move-user: %s moved, but Kamailio's "
                    "table is not updated: run tspsctl cluster kamailio-map "
                    "--kamailio %s\n",
                    user, o.rpc);
            rc = 1;
        }
        json_decref(map);
    }
    printf("moved %s from shard %s to %s at revision %lld: flipped after "
           "%.0f ms, done after %.0f ms\n",
           user, from, target, (long long)rev, flip, now_ms() - t0);
cleanup:
    json_decref(want);
    json_decref(ready);
    json_decref(sets);
    tspsd_etcd_free(e);
    return rc;
}

/*
 * tspsctl_cluster.c - `tspsctl cluster status`: the state of one tspsd
 * node of a cluster (docs/cluster.md), read from its Prometheus endpoint
 * (the tspsd_cluster_* lines), whose address tspsd writes into
 * client.conf (`metrics=`). No control request: it works while the node's
 * control socket is busy, and needs no admin certificate.
 */
#include "tspsctl.h"

#include <curl/curl.h>

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

int tspsctl_cluster_status(const char *data, const char *url_opt)
{
    char url[600] = "", path[1024], line[700], node[200] = "";
    mbuf m = {NULL, 0};
    int rc = 1;

    if (url_opt != NULL)
        snprintf(url, sizeof(url), "%s", url_opt);
    else {
        snprintf(path, sizeof(path), "%s/client.conf", data);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "metrics=", 8) == 0) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(url, sizeof(url), "%s", line + 8);
            }
        if (f != NULL)
            fclose(f);
    }
    if (url[0] == '\0') {
        fprintf(stderr,
                "tspsctl: cluster status: no metrics address (client.conf "
                "in %s has no metrics= line: [metrics] port = -1?); give "
                "--metrics http://HOST:PORT/metrics\n",
                data);
        return 2;
    }
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
    print_metric(m.p, "etcd_revision", "etcd_revision", NULL, 0);
    print_metric(m.p, "queued_writes", "queued_writes", NULL, 0);
    print_metric(m.p, "published_total", "published", NULL, 0);
    print_metric(m.p, "applied_total", "applied", NULL, 0);
    print_metric(m.p, "dropped_total", "dropped", NULL, 0);
    print_metric(m.p, "watch_connects_total", "watch_connects", NULL, 0);
    rc = 0;
cleanup:
    free(m.p);
    return rc;
}

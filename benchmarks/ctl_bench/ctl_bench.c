/*
 * ctl_bench - control-protocol throughput of tspsd.
 *
 * Starts a tspsd on the embedded default in a temp dir, then:
 *  1. N client threads, each on its own TLS connection, keep W dry-run
 *     route requests in flight for S seconds;
 *  2. TLS handshakes (full, no resumption) from N threads for S/2 seconds.
 * Prints name=value lines: ctl_requests_per_s, ctl_p50_us, ctl_p99_us,
 * tls_handshakes_per_s, and the parameters.
 *
 * --brief asks for decisions without the rendered trace text.
 *
 * --writes USER measures configuration writes instead: the same clients
 * and window send code.set requests, each a new rule of USER (code
 * W<client><n>, "any", voicemail), and it prints ctl_write_requests_per_s,
 * ctl_write_p50_us, ctl_write_p99_us only (docs/cluster.md uses it against
 * a cluster node; tests/cluster/cluster_sip.py --writes).
 *
 *   ctl_bench [--clients N] [--window W] [--seconds S] [--port P] [--brief]
 *             [--writes USER]
 *             [--connect HOST:PORT --data DIR]   (use a running tspsd)
 */
#include "client.h"
#include "tls.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_clients = 8, g_window = 16, g_port = 0, g_brief = 0;
static double g_seconds = 5;
static char g_ca[512], g_cert[512], g_key[512];
static const char *g_host = "127.0.0.1";
static const char *g_write_user = NULL; /* --writes: code.set, not route */
static SSL_CTX *g_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct worker {
    pthread_t th;
    unsigned long done, errors;
    unsigned *lat_us; /* samples */
    size_t nlat, caplat;
    unsigned long handshakes;
    int idx;
} worker;

static void sample(worker *w, unsigned us)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 65536;
        unsigned *n = realloc(w->lat_us, cap * sizeof(*n));
        if (n == NULL)
            return;
        w->lat_us = n;
        w->caplat = cap;
    }
    w->lat_us[w->nlat++] = us;
}

static int connect_client(tspsd_client **c, int no_hello)
{
    tspsd_client_opts o = {0};
    char err[256];
    o.host = g_host;
    o.port = g_port;
    o.ctx = g_ctx;
    o.no_hello = no_hello;
    o.timeout_ms = 10000;
    int rc = tspsd_client_connect(&o, c, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "ctl_bench: connect: %s\n", err);
    return rc;
}

static void *route_worker(void *arg)
{
    worker *w = arg;
    tspsd_client *c = NULL;
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    Tsps__CodeSet cs = TSPS__CODE_SET__INIT;
    Tsps__Rule rule = TSPS__RULE__INIT;
    char code[32];
    double *sent;
    uint32_t next = 1;

    if (connect_client(&c, 0) != 0) {
        w->errors++;
        return NULL;
    }
    sent = calloc((size_t)g_window, sizeof(double));
    r.from = (char *)"+13125550001";
    r.to = (char *)"+12125550100";
    r.brief = g_brief;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    if (g_write_user != NULL) {
        /* a new rule each time: a new key, as when provisioning */
        rule.user = (char *)g_write_user;
        rule.code = code;
        rule.status = (char *)"any";
        rule.method = (char *)"voicemail";
        cs.rule = &rule;
        req.body_case = TSPS__REQUEST__BODY_CODE_SET;
        req.code_set = &cs;
    }
    double end = now_s() + g_seconds;
    int inflight = 0;
    while (inflight < g_window) {
        req.id = next;
        snprintf(code, sizeof(code), "W%02d%07u", w->idx, next);
        sent[next % (uint32_t)g_window] = now_s();
        next++;
        if (tspsd_client_send(c, &req) != 0)
            goto out;
        inflight++;
    }
    while (inflight > 0) {
        Tsps__Response *resp = NULL;
        if (tspsd_client_recv(c, &resp, 10000) != 0) {
            w->errors++;
            break;
        }
        double t = now_s();
        sample(w, (unsigned)((t - sent[resp->id % (uint32_t)g_window]) * 1e6));
        if (resp->code == TSPS__CODE__OK)
            w->done++;
        else
            w->errors++;
        tsps__response__free_unpacked(resp, NULL);
        inflight--;
        if (t < end) {
            req.id = next;
            snprintf(code, sizeof(code), "W%02d%07u", w->idx, next);
            sent[next % (uint32_t)g_window] = t;
            next++;
            if (tspsd_client_send(c, &req) != 0)
                break;
            inflight++;
        }
    }
out:
    free(sent);
    tspsd_client_close(c);
    return NULL;
}

static void *handshake_worker(void *arg)
{
    worker *w = arg;
    double end = now_s() + g_seconds / 2;
    while (now_s() < end) {
        tspsd_client *c = NULL;
        if (connect_client(&c, 1) != 0) {
            w->errors++;
            continue;
        }
        w->handshakes++;
        tspsd_client_close(c);
    }
    return NULL;
}

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

typedef struct phase_result {
    double per_s;
    unsigned p50, p99;
    unsigned long done, errors;
} phase_result;

/* N clients, W requests in flight each, for g_seconds. */
static void run_routes(worker *w, phase_result *out)
{
    double t0 = now_s();
    for (int i = 0; i < g_clients; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].idx = i;
        pthread_create(&w[i].th, NULL, route_worker, &w[i]);
    }
    for (int i = 0; i < g_clients; i++)
        pthread_join(w[i].th, NULL);
    double el = now_s() - t0;
    size_t nlat = 0, k = 0;
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < g_clients; i++) {
        out->done += w[i].done;
        out->errors += w[i].errors;
        nlat += w[i].nlat;
    }
    unsigned *all = malloc((nlat + 1) * sizeof(*all));
    for (int i = 0; i < g_clients; i++) {
        if (all != NULL && w[i].nlat > 0)
            memcpy(all + k, w[i].lat_us, w[i].nlat * sizeof(*all));
        k += w[i].nlat;
        free(w[i].lat_us);
        w[i].lat_us = NULL;
    }
    if (all != NULL && nlat > 0) {
        qsort(all, nlat, sizeof(*all), cmp_u);
        out->p50 = all[nlat / 2];
        out->p99 = all[(size_t)((double)nlat * 0.99)];
    }
    free(all);
    out->per_s = out->done / el;
}

static pid_t start_daemon(const char *dir)
{
    char data[600];
    pid_t pid = fork();
    if (pid == 0) {
        char port[16];
        snprintf(data, sizeof(data), "%s/data", dir);
        snprintf(port, sizeof(port), "%d", g_port);
        FILE *f = freopen("/dev/null", "w", stdout);
        (void)f;
        f = freopen("/dev/null", "w", stderr);
        (void)f;
        execl(TSPSD_BIN, "tspsd", "--data", data, "--port", port, "--log-level",
              "warn", "--sip-port", "0", "--metrics-port", "-1", (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *data = NULL;
    char dir[256] = "";
    pid_t pid = -1;
    char err[256];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            g_clients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            g_window = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            g_seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            g_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
            connect_to = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--writes") == 0 && i + 1 < argc)
            g_write_user = argv[++i];
        else {
            fprintf(stderr, "usage: ctl_bench [--clients N] [--window W] "
                            "[--seconds S] [--port P] [--writes USER] "
                            "[--connect HOST:PORT --data DIR]\n");
            return 1;
        }
    }
    if (g_clients < 1 || g_window < 1 || g_seconds <= 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if (connect_to != NULL) {
        static char host[128];
        snprintf(host, sizeof(host), "%s", connect_to);
        char *colon = strrchr(host, ':');
        if (colon == NULL || data == NULL)
            return 1;
        *colon = '\0';
        g_host = host;
        g_port = atoi(colon + 1);
    } else {
        snprintf(dir, sizeof(dir), "/tmp/ctl_bench-XXXXXX");
        if (mkdtemp(dir) == NULL)
            return 1;
        if (g_port == 0)
            g_port = 17000 + (int)(getpid() % 20000);
        pid = start_daemon(dir);
        static char d[300];
        snprintf(d, sizeof(d), "%s/data", dir);
        data = d;
    }
    snprintf(g_ca, sizeof(g_ca), "%s/tls/ca.pem", data);
    snprintf(g_cert, sizeof(g_cert), "%s/tls/admin.pem", data);
    snprintf(g_key, sizeof(g_key), "%s/tls/admin.key", data);
    /* Wait for the daemon (up to 10 s). */
    for (int i = 0; i < 200; i++) {
        tspsd_client *c = NULL;
        if (g_ctx == NULL && access(g_key, R_OK) == 0)
            g_ctx = tspsd_tls_client_ctx(g_ca, g_cert, g_key, err, sizeof(err));
        if (g_ctx != NULL) {
            tspsd_client_opts o = {0};
            o.host = g_host;
            o.port = g_port;
            o.ctx = g_ctx;
            if (tspsd_client_connect(&o, &c, err, sizeof(err)) == 0) {
                tspsd_client_close(c);
                break;
            }
        }
        usleep(50000);
    }
    if (g_ctx == NULL) {
        fprintf(stderr, "ctl_bench: no daemon: %s\n", err);
        return 1;
    }
    /* Full handshakes only: no session resumption. */
    SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);

    worker *w = calloc((size_t)g_clients, sizeof(*w));
    unsigned long errors = 0;
    phase_result brief, full;
    if (g_write_user != NULL) {
        phase_result wr;
        run_routes(w, &wr);
        printf("clients=%d\nwindow=%d\nseconds=%.1f\n", g_clients, g_window,
               g_seconds);
        printf("ctl_write_requests=%lu\nctl_write_errors=%lu\n", wr.done,
               wr.errors);
        printf("ctl_write_requests_per_s=%.0f\n", wr.per_s);
        printf("ctl_write_p50_us=%u\nctl_write_p99_us=%u\n", wr.p50, wr.p99);
        free(w);
        SSL_CTX_free(g_ctx);
        if (pid > 0) {
            char cmd[300];
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                fprintf(stderr, "ctl_bench: could not remove %s\n", dir);
        }
        return wr.errors == 0 && wr.done > 0 ? 0 : 1;
    }
    g_brief = 1;
    run_routes(w, &brief);
    g_brief = 0;
    run_routes(w, &full);
    errors = brief.errors + full.errors;

    double t1 = now_s();
    for (int i = 0; i < g_clients; i++)
        pthread_create(&w[i].th, NULL, handshake_worker, &w[i]);
    unsigned long hs = 0;
    for (int i = 0; i < g_clients; i++) {
        pthread_join(w[i].th, NULL);
        hs += w[i].handshakes;
        errors += w[i].errors;
    }
    double hel = now_s() - t1;

    printf("clients=%d\nwindow=%d\nseconds=%.1f\n", g_clients, g_window,
           g_seconds);
    printf("ctl_requests=%lu\nctl_errors=%lu\n", brief.done, errors);
    /* Decisions (method, targets, code, status, contact): Route.brief. */
    printf("ctl_requests_per_s=%.0f\n", brief.per_s);
    printf("ctl_p50_us=%u\nctl_p99_us=%u\n", brief.p50, brief.p99);
    /* The same with the rendered trace and JSON in every reply (what
     * tspsctl route prints). */
    printf("ctl_trace_requests_per_s=%.0f\n", full.per_s);
    printf("ctl_trace_p99_us=%u\n", full.p99);
    printf("tls_handshakes_per_s=%.0f\n", hs / hel);
    free(w);
    SSL_CTX_free(g_ctx);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "ctl_bench: could not remove %s\n", dir);
    }
    return errors == 0 ? 0 : 2;
}

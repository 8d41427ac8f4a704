/*
 * metrics.c - Prometheus text exposition at /metrics on a local HTTP port
 * (evhttp on the loop): calls routed by method, route latency histogram,
 * sync status per source, connected clients.
 */
#include "daemon.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>

int tspsd_sync_metrics(tspsd *d, char *buf, size_t len);

static const unsigned lat_bounds_us[TSPSD_LAT_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 5000, 25000};

void tspsd_metrics_call(tspsd *d, const tsps_decision *dec)
{
    unsigned k = dec->method.kind < TSPS_METHOD__COUNT ? dec->method.kind : 0;
    atomic_fetch_add_explicit(&d->metrics.routed[k], 1, memory_order_relaxed);
}

void tspsd_metrics_route(tspsd *d, const tsps_decision *dec, uint64_t us)
{
    int b = TSPSD_LAT_BUCKETS;
    (void)dec;
    for (int i = 0; i < TSPSD_LAT_BUCKETS; i++) {
        if (us <= lat_bounds_us[i]) {
            b = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&d->metrics.lat_bucket[b], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&d->metrics.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->metrics.lat_sum_us, us, memory_order_relaxed);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    tspsd *d = arg;
    tspsd_metrics *m = &d->metrics;
    struct evbuffer *b = evbuffer_new();
    char sync[8192];
    unsigned long cum = 0;

    if (b == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evbuffer_free(b);
        evhttp_send_error(req, 405, "GET only");
        return;
    }
    evbuffer_add_printf(b, "# HELP tspsd_calls_routed_total Calls routed "
                           "(SIP and route --live; not dry runs), "
                           "by handling method.\n"
                           "# TYPE tspsd_calls_routed_total counter\n");
    for (int k = 0; k < TSPS_METHOD__COUNT; k++)
        evbuffer_add_printf(b, "tspsd_calls_routed_total{method=\"%s\"} %lu\n",
                            tsps_method_kind_name((tsps_method_kind)k),
                            atomic_load(&m->routed[k]));
    evbuffer_add_printf(b, "# HELP tspsd_route_latency_seconds Time spent in "
                           "tsps_route().\n"
                           "# TYPE tspsd_route_latency_seconds histogram\n");
    for (int i = 0; i <= TSPSD_LAT_BUCKETS; i++) {
        cum += atomic_load(&m->lat_bucket[i]);
        if (i < TSPSD_LAT_BUCKETS)
            evbuffer_add_printf(
                b, "tspsd_route_latency_seconds_bucket{le=\"%g\"} %lu\n",
                lat_bounds_us[i] / 1e6, cum);
        else
            evbuffer_add_printf(
                b, "tspsd_route_latency_seconds_bucket{le=\"+Inf\"} %lu\n",
                cum);
    }
    evbuffer_add_printf(b,
                        "tspsd_route_latency_seconds_sum %.6f\n"
                        "tspsd_route_latency_seconds_count %lu\n",
                        atomic_load(&m->lat_sum_us) / 1e6,
                        atomic_load(&m->lat_count));
    evbuffer_add_printf(
        b,
        "# HELP tspsd_connected_clients Open control connections.\n"
        "# TYPE tspsd_connected_clients gauge\n"
        "tspsd_connected_clients %ld\n"
        "# TYPE tspsd_ctl_requests_total counter\n"
        "tspsd_ctl_requests_total %lu\n"
        "# TYPE tspsd_ctl_refused_total counter\n"
        "tspsd_ctl_refused_total %lu\n"
        "# TYPE tspsd_ctl_bad_frames_total counter\n"
        "tspsd_ctl_bad_frames_total %lu\n"
        "# TYPE tspsd_tls_handshake_failures_total counter\n"
        "tspsd_tls_handshake_failures_total %lu\n",
        atomic_load(&m->clients), atomic_load(&m->requests),
        atomic_load(&m->refused), atomic_load(&m->bad_frames),
        atomic_load(&m->tls_failures));
    if (tspsd_fronts_metrics(d, sync, sizeof(sync)) > 0)
        evbuffer_add_printf(b, "%s", sync);
    int n = tspsd_sync_metrics(d, sync, sizeof(sync));
    evbuffer_add_printf(b, "# HELP tspsd_sync_ok 1 if the last sync of the "
                           "source succeeded.\n"
                           "# TYPE tspsd_sync_ok gauge\n");
    if (n > 0)
        evbuffer_add(b, sync, (size_t)n);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void other_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 404, "see /metrics");
}

int tspsd_metrics_start(tspsd *d)
{
    struct evhttp_bound_socket *bs;

    if (d->cfg.metrics_port < 0)
        return 0;
    d->http = evhttp_new(d->base);
    if (d->http == NULL)
        return -1;
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET);
    evhttp_set_max_headers_size(d->http, 8192);
    evhttp_set_max_body_size(d->http, 0);
    evhttp_set_timeout(d->http, 10);
    evhttp_set_cb(d->http, "/metrics", metrics_cb, d);
    evhttp_set_gencb(d->http, other_cb, d);
    bs = evhttp_bind_socket_with_handle(d->http, d->cfg.metrics_listen,
                                        (ev_uint16_t)d->cfg.metrics_port);
    if (bs == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot listen for metrics",
                  "listen=%s port=%d", d->cfg.metrics_listen,
                  d->cfg.metrics_port);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    d->metrics_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "metrics listening",
              "listen=%s port=%d path=/metrics", d->cfg.metrics_listen,
              d->metrics_port);
    return 0;
}

void tspsd_metrics_stop(tspsd *d)
{
    if (d->http != NULL) {
        evhttp_free(d->http);
        d->http = NULL;
    }
}

/*
 * main.c - tspsd: command line, signals, the loop.
 *
 *   tspsd                      embedded default on ./data
 *   tspsd -c /etc/tspsd.conf   as configured
 */
#include "daemon.h"
#include "settings.h"
#include "log.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "NAME\n"
    "    tspsd - the tsps call routing daemon\n"
    "\n"
    "SYNOPSIS\n"
    "    tspsd [-c FILE] [-d DIR] [--port N] [--log-level L] [--sip-port N]\n"
    "          [--metrics-port N] [--web-port N] [--media-port N]\n"
    "          [--demo-call FROM TO]\n"
    "          [--check-config] [--help-config[=markdown]]\n"
    "\n"
    "DESCRIPTION\n"
    "    Without -c, runs the embedded default: a data folder (./data or\n"
    "    -d DIR) holding the store, TLS material (tls/ca.pem, server.pem,\n"
    "    admin.pem/admin.key) and an admin token printed once on first\n"
    "    start, a demo user (number +12125550100) and a vcard-dir source on\n"
    "    examples/data. Runs in the foreground; logs logfmt on stderr.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE     read FILE (see docs/tspsd.conf.example)\n"
    "    -d, --data DIR        data folder (overrides [tspsd] data_dir)\n"
    "    -p, --port N          control port (overrides [control] port)\n"
    "    -l, --log-level L     error, warn, info or debug\n"
    "        --sip-port N      SIP UDP and TCP port (0: no SIP front)\n"
    "        --metrics-port N  metrics HTTP port (-1: none)\n"
    "        --media-port N    media front (voicemail) SIP/UDP port on\n"
    "                          [media] sip_addr (-1: off, 0: any free\n"
    "                          port); the embedded default runs it on 5064\n"
    "        --web-port N      web UI HTTPS port on [web] listen (default\n"
    "                          127.0.0.1; -1: off, 0: any free port); the\n"
    "                          URL is written to DATA_DIR/web.url\n"
    "        --demo-call FROM TO\n"
    "                          once started and synced, route a call from\n"
    "                          FROM to TO and print decision and trace\n"
    "        --check-config    read the config, report, exit\n"
    "        --help-config[=markdown]\n"
    "                          every config key: default, type, reloadable,\n"
    "                          meaning (markdown: docs/config-keys.md)\n"
    "    -V, --version         print the version\n"
    "    -h, --help            this text\n"
    "\n"
    "SIGNALS\n"
    "    SIGTERM, SIGINT  clean shutdown    SIGHUP  reload the config\n"
    "\n"
    "EXIT STATUS\n"
    "    0 clean shutdown, 1 usage or config error, 2 startup failure\n";

typedef struct demo_call {
    tspsd *d;
    const char *from, *to;
    struct event *ev;
    int waited;
} demo_call;

static void demo_cb(evutil_socket_t fd, short what, void *arg)
{
    demo_call *dc = arg;
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision dec;
    char text[4096];

    (void)fd;
    (void)what;
    if (!tspsd_sync_settled(dc->d) && dc->waited++ < 100) {
        struct timeval tv = {0, 100000};
        evtimer_add(dc->ev, &tv);
        return;
    }
    call.called = dc->to;
    call.caller = dc->from;
    int rc = tsps_route(dc->d->eng, &call, &dec);
    if (rc != TSPS_OK) {
        printf("demo call %s -> %s: %s\n", dc->from, dc->to, tsps_strerror(rc));
    } else {
        char meth[256];
        tsps_method_format(&dec.method, meth, sizeof(meth), NULL);
        printf("demo call %s -> %s\n  decision: %s\n", dc->from, dc->to, meth);
        if (tsps_decision_explain(&dec, text, sizeof(text), NULL) == TSPS_OK)
            printf("  trace:\n%s\n", text);
    }
    fflush(stdout);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    tspsd *d = arg;
    (void)what;
    if (sig == SIGHUP) {
        tspsd_log(TSPSD_LOG_INFO, 0, NULL, "SIGHUP: reloading", NULL);
        tspsd_reload(d);
        return;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "shutting down", "signal=%s",
              sig == SIGTERM ? "TERM" : "INT");
    d->stopping = 1;
    event_base_loopexit(d->base, NULL);
}

/* A port option: a whole number in [lo, 65535], else a clear error (atoi
 * would take "-5" or "80x" and carry on with something else). */
static int port_opt(const char *name, const char *v, int lo, const char *hint,
                    int *out)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < lo || n > 65535) {
        fprintf(stderr, "tspsd: --%s %s: want a port number %d..65535 (%s)\n",
                name, v, lo, hint);
        return -1;
    }
    *out = (int)n;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"port", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'l'},
        {"demo-call", required_argument, NULL, 'D'},
        {"check-config", no_argument, NULL, 'C'},
        {"help-config", optional_argument, NULL, 'H'},
        {"sip-port", required_argument, NULL, 'S'},
        {"metrics-port", required_argument, NULL, 'M'},
        {"web-port", required_argument, NULL, 'W'},
        {"media-port", required_argument, NULL, 'm'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *data = NULL, *level = NULL;
    const char *demo_from = NULL, *demo_to = NULL;
    int port = -1, check = 0, ch, sip_port = -1, metrics_port = -2;
    int web_port = -2, media_port = -2;
    static tspsd d; /* big (handler table, config): not on the stack */
    tspsd_config cfg;
    char err[400];

    while ((ch = getopt_long(argc, argv, "c:d:p:l:Vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'p':
            if (port_opt("port", optarg, 0, "0 = any free port", &port) != 0)
                return 1;
            break;
        case 'l':
            level = optarg;
            break;
        case 'D':
            if (optind >= argc) {
                fputs("tspsd: --demo-call needs FROM and TO\n", stderr);
                return 1;
            }
            demo_from = optarg;
            demo_to = argv[optind++];
            break;
        case 'C':
            check = 1;
            break;
        case 'S':
            if (port_opt("sip-port", optarg, 0, "0 = no SIP front",
                         &sip_port) != 0)
                return 1;
            break;
        case 'm':
            if (port_opt("media-port", optarg, -1,
                         "-1 = no media front, 0 = any free port",
                         &media_port) != 0)
                return 1;
            break;
        case 'M':
            if (port_opt("metrics-port", optarg, -1,
                         "-1 = no metrics, 0 = any free port",
                         &metrics_port) != 0)
                return 1;
            break;
        case 'W':
            web_port = atoi(optarg);
            if (web_port < -1 || web_port > 65535) {
                fputs("tspsd: --web-port: -1 to 65535\n", stderr);
                return 1;
            }
            break;
        case 'H':
            if (optarg != NULL && strcmp(optarg, "markdown") != 0) {
                fputs("tspsd: --help-config[=markdown]\n", stderr);
                return 1;
            }
            tspsd_settings_print(stdout, optarg != NULL);
            return 0;
        case 'V':
            printf("tspsd %s (libtsps %s)\n", TSPSD_VERSION, tsps_version());
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 1;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 1;
    }
    tspsd_config_defaults(&cfg);
    if (config == NULL) {
        cfg.demo = 1; /* the embedded default */
        cfg.media_enabled = 1;
        snprintf(cfg.admins[0], sizeof(cfg.admins[0]), "admin");
        cfg.nadmins = 1;
    } else if (tspsd_config_load(config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "tspsd: %s\n", err);
        return 1;
    }
    if (data != NULL)
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data);
    if (port >= 0)
        cfg.ctl_port = port;
    if (sip_port == 0)
        cfg.sip_enabled = 0;
    else if (sip_port > 0)
        cfg.sip_udp_port = cfg.sip_tcp_port = sip_port;
    if (metrics_port >= -1)
        cfg.metrics_port = metrics_port;
    if (web_port >= -1)
        cfg.web_port = web_port;
    if (media_port == -1)
        cfg.media_enabled = 0;
    else if (media_port >= 0) {
        cfg.media_enabled = 1;
        cfg.media_sip_port = media_port;
    }
    if (level != NULL) {
        int l = tspsd_log_level_parse(level);
        if (l < 0) {
            fprintf(stderr, "tspsd: unknown log level %s\n", level);
            return 1;
        }
        cfg.log_level = l;
    }
    if (check) {
        printf("tspsd: %s: ok (%d sources, %d admins)\n",
               config != NULL ? config : "(embedded default)", cfg.nsources,
               cfg.nadmins);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads(); /* sync workers wake the loop */
    int rc = 0;
    if (tspsd_open(&d, &cfg, config) != 0) {
        rc = 2;
        goto done;
    }
    d.sig_term = evsignal_new(d.base, SIGTERM, signal_cb, &d);
    d.sig_int = evsignal_new(d.base, SIGINT, signal_cb, &d);
    d.sig_hup = evsignal_new(d.base, SIGHUP, signal_cb, &d);
    if (d.sig_term == NULL || d.sig_int == NULL || d.sig_hup == NULL ||
        event_add(d.sig_term, NULL) != 0 || event_add(d.sig_int, NULL) != 0 ||
        event_add(d.sig_hup, NULL) != 0) {
        rc = 2;
        goto done;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "tspsd started",
              "version=%s data=%s control=%s:%d config=%s", TSPSD_VERSION,
              d.cfg.data_dir, d.cfg.ctl_listen, d.ctl_port,
              config != NULL ? config : "embedded-default");
    demo_call dc = {&d, demo_from, demo_to, NULL, 0};
    if (demo_from != NULL) {
        dc.ev = evtimer_new(d.base, demo_cb, &dc);
        struct timeval tv = {0, 1000};
        if (dc.ev != NULL)
            evtimer_add(dc.ev, &tv);
    }
    event_base_dispatch(d.base);
    if (dc.ev != NULL)
        event_free(dc.ev);
done:
    tspsd_close(&d);
    libevent_global_shutdown();
    if (rc == 0)
        tspsd_log(TSPSD_LOG_INFO, 0, NULL, "stopped", NULL);
    return rc;
}

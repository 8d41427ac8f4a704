/*
 * sip_harness.c - runs the SIP front on an engine in a temp dir, for the sipp
 * suite and the benchmark (before/besides tspsd itself).
 *
 *   sip_harness --db DIR [--script FILE] [--port N] [--tcp] [--auth]
 *               [--listen ADDR] [--domain D] [--min-expires N]
 *               [--max-expires N] [--default-expires N] [--ask-timeout N]
 *               [--digest SHA-256,MD5] [--map-max BYTES] [--max-held N]
 *               [--max-held-per-user N] [--max-bindings N]
 *               [--tcp-per-address N] [--tcp-handshake S] [--quiet] [-v]
 *               [--commit burst|async] [--async-window MS]
 *
 * Prints "ready udp=P tcp=P" when listening, one "event ..." line per call
 * event, and reads commands on stdin (the same commands as the script).
 *
 * The front keeps no timer for held ("ask") calls: their owner does (in
 * tspsd, the core's pending.c). Here the harness is that owner, with the
 * same policy: the rule's timeout= else --ask-timeout (20), then the rule's
 * fallback else 480; it prints the held call's updated and ended events.
 *
 *
 *   user ID [region=DE] [tz=Z] [hours=TEXT|none] [voicemail=URI]
 *        [attendant=URI] [rings_through=0|1]
 *   number USER NUMBER
 *   contact USER UID CODE|- NAME NUMBER[,NUMBER...]
 *   rule USER CODE STATUS METHOD...        (status: any, busy, dnd, ...)
 *   status USER STATUS
 *   event USER UID START_REL END_REL ATTENDEE[,ATTENDEE...]
 *   device REALM USERNAME USER LABEL PASSWORD
 *   reg USER CONTACT LABEL Q EXPIRES_REL
 *   bulk USER N CODE                       (N contacts +1555xxxxxxx)
 *   override CALL_ID METHOD...             (history override + resolve)
 *   regs USER | history CALL_ID | route CALLED CALLER | purge | stats
 *   quit
 *
 * Every stdin command answers one line starting with "ok" or "err".
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "sip_front.h"
#include <tsps/tsps.h>

typedef struct held held;

typedef struct harness {
    struct event_base *base;
    tsps_engine *eng;
    tspsd_sip *sip;
    int ask_timeout_s;
    held *held; /* calls the front holds for us */
    int verbose;
    int quiet; /* no event lines (benchmarks) */
} harness;

struct held {
    harness *h;
    uint64_t id;
    tsps_decision d;
    struct event *timer;
    held *next;
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static const char *kind_name(int k)
{
    return k == TSPSD_SIP_CALL_OFFERED   ? "offered"
           : k == TSPSD_SIP_CALL_UPDATED ? "updated"
                                         : "ended";
}

static void print_event(harness *h, int kind, uint64_t id,
                        const tsps_decision *d, tsps_outcome oc)
{
    if (h->quiet)
        return;
    out("event %s id=%llu outcome=%s method=%s user=%s code=%s caller=%s "
        "targets=%u flags=%u\n",
        kind_name(kind), (unsigned long long)id, tsps_outcome_name(oc),
        tsps_method_kind_name(d->method.kind), d->user, d->code, d->caller,
        (unsigned)d->ntargets, d->flags);
}

static held *held_take(harness *h, uint64_t id)
{
    for (held **pp = &h->held; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            held *x = *pp;
            *pp = x->next;
            return x;
        }
    }
    return NULL;
}

static void held_drop(harness *h, uint64_t id)
{
    held *x = held_take(h, id);
    if (x != NULL) {
        event_free(x->timer);
        free(x);
    }
}

/* Answer a held call through the front and announce it, as tspsd does. */
static int held_answer(harness *h, uint64_t id, const tsps_decision *d,
                       int timeout)
{
    tsps_outcome oc = TSPS_OUTCOME_REDIRECTED;
    int rc = tspsd_sip_answer(h->sip, id, d, timeout, &oc);
    held_drop(h, id);
    if (rc != TSPS_OK)
        return rc;
    print_event(h, TSPSD_SIP_CALL_UPDATED, id, d, oc);
    print_event(h, TSPSD_SIP_CALL_ENDED, id, d, oc);
    return TSPS_OK;
}

static void held_timeout(evutil_socket_t fd, short what, void *arg)
{
    held *x = arg;
    harness *h = x->h;
    tsps_method m;
    tsps_decision nd;
    (void)fd;
    (void)what;
    memset(&m, 0, sizeof(m));
    m.a = x->d.method.fallback;
    if (m.a.kind == TSPS_METHOD_NONE || m.a.kind == TSPS_METHOD_ASK) {
        memset(&m.a, 0, sizeof(m.a));
        m.a.kind = TSPS_METHOD_REJECT;
        m.a.reject = TSPS_REJECT_UNAVAILABLE;
    }
    m.kind = m.a.kind;
    if (tsps_history_override(h->eng, x->id, &m, "timeout", (int64_t)time(NULL),
                              &nd) != TSPS_OK) {
        nd = x->d;
        nd.method = m;
        nd.ntargets = 0;
        nd.flags |= TSPS_DEC_FALLBACK;
    }
    held_answer(h, x->id, &nd, 1);
}

static void on_event(void *arg, int kind, uint64_t id, const tsps_decision *d,
                     tsps_outcome oc)
{
    harness *h = arg;
    if (kind == TSPSD_SIP_CALL_OFFERED && oc == TSPS_OUTCOME_PENDING) {
        held *x = calloc(1, sizeof(*x));
        if (x != NULL) {
            int secs = d->method.ask_timeout_s > 0
                           ? (int)d->method.ask_timeout_s
                       : h->ask_timeout_s > 0 ? h->ask_timeout_s
                                              : 20;
            struct timeval tv = {secs, 0};
            x->h = h;
            x->id = id;
            x->d = *d;
            x->timer = evtimer_new(h->base, held_timeout, x);
            evtimer_add(x->timer, &tv);
            x->next = h->held;
            h->held = x;
        }
    } else if (kind == TSPSD_SIP_CALL_ENDED) {
        held_drop(h, id);
    }
    print_event(h, kind, id, d, oc);
}

static void on_log(void *arg, int level, const char *msg)
{
    harness *h = arg;
    if (level <= TSPS_LOG_WARN || h->verbose)
        fprintf(stderr, "log level=%d %s\n", level, msg);
}

static int split(char *line, char **argv, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < max;
         t = strtok_r(NULL, " \t\r\n", &save))
        argv[n++] = t;
    return n;
}

/* The words from argv[i] on, joined by spaces. */
static void join(char **argv, int i, int n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (; i < n; i++) {
        strncat(buf, argv[i], len - strlen(buf) - 1);
        if (i + 1 < n)
            strncat(buf, " ", len - strlen(buf) - 1);
    }
}

static const char *opt(char **argv, int n, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < n; i++)
        if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=')
            return argv[i] + k + 1;
    return NULL;
}

static int cmd_user(harness *h, char **a, int n)
{
    tsps_user u;
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "%s", a[1]);
    const char *v = opt(a, n, "region");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "%s",
             v != NULL ? v : "DE");
    if ((v = opt(a, n, "tz")) != NULL)
        snprintf(u.tz, sizeof(u.tz), "%s", v);
    if ((v = opt(a, n, "hours")) != NULL) {
        char hb[256];
        snprintf(hb, sizeof(hb), "%s", v);
        for (char *p = hb; *p; p++)
            if (*p == '_')
                *p = ' ';
        int rc = tsps_hours_parse(hb, &u.hours);
        if (rc != TSPS_OK)
            return rc;
    } else {
        u.flags |= TSPS_USER_NO_HOURS;
    }
    if ((v = opt(a, n, "voicemail")) != NULL)
        snprintf(u.voicemail_uri, sizeof(u.voicemail_uri), "%s", v);
    if ((v = opt(a, n, "attendant")) != NULL)
        snprintf(u.attendant_uri, sizeof(u.attendant_uri), "%s", v);
    if ((v = opt(a, n, "rings_through")) != NULL && strcmp(v, "0") == 0)
        u.flags &= ~TSPS_USER_EXPECTED_RINGS_THROUGH;
    return tsps_user_put(h->eng, &u);
}

static int cmd_contact(harness *h, char **a, int n)
{
    tsps_contact c;
    if (n < 6)
        return TSPS_EINVAL;
    tsps_contact_init(&c);
    snprintf(c.uid, sizeof(c.uid), "%s", a[2]);
    snprintf(c.source, sizeof(c.source), "harness");
    if (strcmp(a[3], "-") != 0) {
        snprintf(c.code, sizeof(c.code), "%s", a[3]);
        c.code_source = TSPS_CODE_SRC_MANUAL;
    }
    snprintf(c.name, sizeof(c.name), "%s", a[4]);
    char nums[512], *save = NULL;
    snprintf(nums, sizeof(nums), "%s", a[5]);
    for (char *t = strtok_r(nums, ",", &save);
         t != NULL && c.nnumbers < TSPS_MAX_NUMBERS;
         t = strtok_r(NULL, ",", &save))
        snprintf(c.numbers[c.nnumbers++], sizeof(c.numbers[0]), "%s", t);
    return tsps_contact_put(h->eng, a[1], &c);
}

static int cmd_rule(harness *h, char **a, int n)
{
    char spec[512], err[128];
    tsps_method m;
    if (n < 5)
        return TSPS_EINVAL;
    int st = tsps_status_parse(a[3]);
    if (st < 0)
        return TSPS_EINVAL;
    join(a, 4, n, spec, sizeof(spec));
    int rc = tsps_method_parse(spec, &m, err, sizeof(err));
    if (rc != TSPS_OK) {
        fprintf(stderr, "method: %s\n", err);
        return rc;
    }
    return tsps_code_set(h->eng, a[1], a[2], (tsps_status)st, &m);
}

static int cmd_event(harness *h, char **a, int n)
{
    tsps_event e;
    if (n < 6)
        return TSPS_EINVAL;
    tsps_event_init(&e);
    int64_t now = (int64_t)time(NULL);
    snprintf(e.uid, sizeof(e.uid), "%s", a[2]);
    snprintf(e.source, sizeof(e.source), "harness");
    snprintf(e.summary, sizeof(e.summary), "meeting %s", a[2]);
    e.start = now + atoll(a[3]);
    e.end = now + atoll(a[4]);
    e.busy = TSPS_BUSY_BUSY;
    char att[1024], *save = NULL;
    snprintf(att, sizeof(att), "%s", a[5]);
    for (char *t = strtok_r(att, ",", &save);
         t != NULL && e.nattendees < TSPS_MAX_ATTENDEES;
         t = strtok_r(NULL, ",", &save))
        snprintf(e.attendees[e.nattendees++], sizeof(e.attendees[0]), "%s", t);
    return tsps_event_put(h->eng, a[1], &e);
}

static int cmd_reg(harness *h, char **a, int n)
{
    tsps_registration r;
    if (n < 6)
        return TSPS_EINVAL;
    tsps_registration_init(&r);
    snprintf(r.contact, sizeof(r.contact), "%s", a[2]);
    snprintf(r.label, sizeof(r.label), "%s", a[3]);
    r.q = (uint16_t)(atof(a[4]) * 1000 + 0.5);
    r.expires = (int64_t)time(NULL) + atoll(a[5]);
    snprintf(r.call_id, sizeof(r.call_id), "harness-%s", a[2]);
    return tsps_registration_put(h->eng, a[1], &r);
}

static int cmd_bulk(harness *h, char **a, int n)
{
    tsps_batch *b = NULL;
    tsps_contact c;
    if (n < 4)
        return TSPS_EINVAL;
    long count = atol(a[2]);
    int rc = TSPS_OK;
    for (long i = 0; i < count && rc == TSPS_OK; i++) {
        if (b == NULL && (rc = tsps_batch_begin(h->eng, &b)) != TSPS_OK)
            break;
        tsps_contact_init(&c);
        snprintf(c.uid, sizeof(c.uid), "bulk-%ld", i);
        snprintf(c.source, sizeof(c.source), "bulk");
        snprintf(c.name, sizeof(c.name), "Bulk %ld", i);
        snprintf(c.code, sizeof(c.code), "%s", a[3]);
        c.code_source = TSPS_CODE_SRC_MANUAL;
        snprintf(c.numbers[0], sizeof(c.numbers[0]), "+1555%07ld", i);
        c.nnumbers = 1;
        rc = tsps_batch_contact_put(b, a[1], &c);
        if (rc == TSPS_OK && (i + 1) % 50000 == 0) {
            rc = tsps_batch_commit(b);
            b = NULL;
        }
    }
    if (b != NULL) {
        if (rc == TSPS_OK)
            rc = tsps_batch_commit(b);
        else
            tsps_batch_abort(b);
    }
    return rc;
}

static int print_reg(void *arg, const tsps_registration *r)
{
    int64_t now = *(int64_t *)arg;
    out("reg contact=%s instance=%s label=%s q=%u expires_in=%lld cseq=%u\n",
        r->contact, r->instance[0] ? r->instance : "-",
        r->label[0] ? r->label : "-", (unsigned)r->q,
        (long long)(r->expires - now), (unsigned)r->cseq);
    return 0;
}

static int cmd_override(harness *h, char **a, int n)
{
    char spec[512], err[128];
    tsps_method m;
    tsps_decision d;
    if (n < 3)
        return TSPS_EINVAL;
    uint64_t id = strtoull(a[1], NULL, 10);
    join(a, 2, n, spec, sizeof(spec));
    int rc = tsps_method_parse(spec, &m, err, sizeof(err));
    if (rc != TSPS_OK)
        return rc;
    rc = tsps_history_override(h->eng, id, &m, "harness", (int64_t)time(NULL),
                               &d);
    if (rc != TSPS_OK)
        return rc;
    return held_answer(h, id, &d, 0);
}

/* Run one command line. 1 = quit. */
static int run(harness *h, char *line, int *rcout)
{
    char *a[64];
    int n = split(line, a, 64), rc = TSPS_EINVAL;
    *rcout = TSPS_OK;
    if (n == 0 || a[0][0] == '#')
        return 0;
    if (strcmp(a[0], "quit") == 0)
        return 1;
    if (strcmp(a[0], "user") == 0 && n >= 2)
        rc = cmd_user(h, a, n);
    else if (strcmp(a[0], "number") == 0 && n >= 3)
        rc = tsps_number_add(h->eng, a[1], a[2]);
    else if (strcmp(a[0], "contact") == 0)
        rc = cmd_contact(h, a, n);
    else if (strcmp(a[0], "rule") == 0)
        rc = cmd_rule(h, a, n);
    else if (strcmp(a[0], "status") == 0 && n >= 3)
        rc = tsps_status_set(h->eng, a[1], (tsps_status)tsps_status_parse(a[2]),
                             0, NULL);
    else if (strcmp(a[0], "event") == 0)
        rc = cmd_event(h, a, n);
    else if (strcmp(a[0], "device") == 0 && n >= 6)
        rc = tspsd_sip_device_set(h->eng, a[1], a[2], a[3], a[4], a[5]);
    else if (strcmp(a[0], "reg") == 0)
        rc = cmd_reg(h, a, n);
    else if (strcmp(a[0], "bulk") == 0)
        rc = cmd_bulk(h, a, n);
    else if (strcmp(a[0], "override") == 0 && h->sip != NULL)
        rc = cmd_override(h, a, n);
    else if (strcmp(a[0], "regs") == 0 && n >= 2) {
        int64_t now = (int64_t)time(NULL);
        rc = tsps_registration_list(h->eng, a[1], now, print_reg, &now);
    } else if (strcmp(a[0], "history") == 0 && n >= 2) {
        tsps_call_record *r = malloc(sizeof(*r));
        rc = r == NULL ? TSPS_ENOMEM
                       : tsps_history_get(h->eng, strtoull(a[1], NULL, 10), r);
        if (rc == TSPS_OK)
            out("history id=%llu outcome=%s method=%s overridden=%d "
                "note=\"%s\" ended=%d\n",
                (unsigned long long)r->id, tsps_outcome_name(r->outcome),
                tsps_method_kind_name(r->decision.method.kind),
                (r->decision.flags & TSPS_DEC_OVERRIDDEN) != 0, r->note,
                r->end != 0);
        free(r);
    } else if (strcmp(a[0], "route") == 0 && n >= 3) {
        tsps_call c = TSPS_CALL_INIT;
        tsps_decision *d = malloc(sizeof(*d));
        char buf[4096];
        c.called = a[1];
        c.caller = a[2];
        rc = d == NULL ? TSPS_ENOMEM : tsps_route(h->eng, &c, d);
        if (rc == TSPS_OK &&
            tsps_decision_explain(d, buf, sizeof(buf), NULL) == TSPS_OK)
            out("%s\n", buf);
        free(d);
    } else if (strcmp(a[0], "stats") == 0 && h->sip != NULL) {
        tspsd_sip_stats st;
        tspsd_sip_stats_get(h->sip, &st);
        out("stats history_failed=%llu auth_failed=%llu auth_locked=%llu "
            "held=%llu held_refused=%llu\n",
            (unsigned long long)st.history_failed,
            (unsigned long long)st.auth_failed,
            (unsigned long long)st.auth_locked, (unsigned long long)st.held,
            (unsigned long long)st.held_refused);
        rc = TSPS_OK;
    } else if (strcmp(a[0], "purge") == 0) {
        size_t k = 0;
        rc = tsps_registration_purge(h->eng, (int64_t)time(NULL), &k);
    }
    *rcout = rc;
    return 0;
}

static void stdin_read(struct bufferevent *bev, void *arg)
{
    harness *h = arg;
    char *line;
    size_t len;
    while ((line = evbuffer_readln(bufferevent_get_input(bev), &len,
                                   EVBUFFER_EOL_LF)) != NULL) {
        int rc;
        int quit = run(h, line, &rc);
        free(line);
        if (quit) {
            event_base_loopexit(h->base, NULL);
            return;
        }
        if (rc == TSPS_OK)
            out("ok\n");
        else
            out("err %s\n", tsps_errname(rc));
    }
}

static void stdin_event(struct bufferevent *bev, short what, void *arg)
{
    harness *h = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        event_base_loopexit(h->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(((harness *)arg)->base, NULL);
}

static int load_script(harness *h, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int lineno = 0;
    if (f == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        int rc;
        lineno++;
        char copy[2048];
        snprintf(copy, sizeof(copy), "%s", line);
        run(h, line, &rc);
        if (rc != TSPS_OK) {
            fprintf(stderr, "%s:%d: %s: %s", path, lineno, tsps_errname(rc),
                    copy);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    harness h;
    tspsd_sip_config sc;
    tspsd_sip_hooks hooks = {0};
    const char *db = NULL, *script = NULL;
    int port = 0, tcp = 0;
    size_t map_max = 0;

    memset(&h, 0, sizeof(h));
    memset(&sc, 0, sizeof(sc));
    sc.listen = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--db") == 0)
            db = v, i++;
        else if (strcmp(argv[i], "--script") == 0)
            script = v, i++;
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(v), i++;
        else if (strcmp(argv[i], "--listen") == 0)
            sc.listen = v, i++;
        else if (strcmp(argv[i], "--domain") == 0)
            sc.domain = v, i++;
        else if (strcmp(argv[i], "--min-expires") == 0)
            sc.min_expires = atoi(v), i++;
        else if (strcmp(argv[i], "--max-expires") == 0)
            sc.max_expires = atoi(v), i++;
        else if (strcmp(argv[i], "--default-expires") == 0)
            sc.default_expires = atoi(v), i++;
        else if (strcmp(argv[i], "--ask-timeout") == 0)
            sc.ask_timeout_s = atoi(v), i++;
        else if (strcmp(argv[i], "--digest") == 0)
            sc.digest_algorithms = v, i++;
        else if (strcmp(argv[i], "--max-held") == 0)
            sc.max_held = atoi(v), i++;
        else if (strcmp(argv[i], "--max-held-per-user") == 0)
            sc.max_held_per_user = atoi(v), i++;
        else if (strcmp(argv[i], "--max-bindings") == 0)
            sc.max_bindings_per_aor = atoi(v), i++;
        else if (strcmp(argv[i], "--tcp-per-address") == 0)
            sc.tcp_max_per_address = atoi(v), i++;
        else if (strcmp(argv[i], "--tcp-handshake") == 0)
            sc.tcp_handshake_s = atoi(v), i++;
        else if (strcmp(argv[i], "--commit") == 0) {
            if (strcmp(v, "async") != 0 && strcmp(v, "burst") != 0) {
                fprintf(stderr, "--commit burst|async\n");
                return 2;
            }
            sc.history_async = strcmp(v, "async") == 0, i++;
        } else if (strcmp(argv[i], "--async-window") == 0)
            sc.history_window_ms = atoi(v), i++;
        else if (strcmp(argv[i], "--map-max") == 0)
            map_max = (size_t)strtoull(v, NULL, 10), i++;
        else if (strcmp(argv[i], "--tcp") == 0)
            tcp = 1;
        else if (strcmp(argv[i], "--auth") == 0)
            sc.auth_register = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            h.quiet = 1;
        else if (strcmp(argv[i], "-v") == 0)
            h.verbose = 1;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "usage: sip_harness --db DIR [options]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    tsps_config cfg = TSPS_CONFIG_INIT;
    cfg.path = db;
    cfg.flags = TSPS_OPEN_NOSYNC;
    cfg.map_size = map_max != 0 ? map_max : (size_t)1 << 30;
    cfg.map_max = map_max; /* a small store to fill up ("full disk") */
    cfg.log = on_log;
    cfg.log_arg = &h;
    int rc = tsps_engine_open(&cfg, &h.eng);
    if (rc != TSPS_OK) {
        fprintf(stderr, "engine: %s\n", tsps_strerror(rc));
        return 1;
    }
    if (script != NULL && load_script(&h, script) != 0)
        return 1;
    h.base = event_base_new();
    h.ask_timeout_s = sc.ask_timeout_s;
    hooks.arg = &h;
    hooks.call_event = on_event;
    hooks.log = on_log;
    srand((unsigned)(getpid() ^ time(NULL)));
    for (int attempt = 0; attempt < 50; attempt++) {
        int p = port > 0 ? port : 20000 + rand() % 40000;
        sc.udp_port = p;
        sc.tcp_port = tcp ? p : 0;
        rc = tspsd_sip_open(h.base, h.eng, &sc, &hooks, &h.sip);
        if (rc == TSPS_OK || port > 0)
            break;
    }
    if (rc != TSPS_OK) {
        fprintf(stderr, "sip: %s\n", tsps_strerror(rc));
        return 1;
    }
    struct bufferevent *in = bufferevent_socket_new(h.base, 0, 0);
    bufferevent_setcb(in, stdin_read, NULL, stdin_event, &h);
    bufferevent_enable(in, EV_READ);
    struct event *sigterm = evsignal_new(h.base, SIGTERM, on_signal, &h);
    struct event *sigint = evsignal_new(h.base, SIGINT, on_signal, &h);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    out("ready udp=%d tcp=%d pid=%d\n", sc.udp_port, sc.tcp_port,
        (int)getpid());
    event_base_dispatch(h.base);
    tspsd_sip_close(h.sip);
    while (h.held != NULL)
        held_drop(&h, h.held->id);
    bufferevent_free(in);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(h.base);
    tsps_engine_close(h.eng);
    return 0;
}

/*
 * check_cluster_etcd.c - tspsd nodes sharing configuration through a real
 * etcd (docs/cluster.md): the etcd client itself, a rule set through one
 * node routing on the other within 1 s (the propagation time is printed),
 * routing on with etcd killed and the change made meanwhile arriving after
 * it is back, and a restarted node catching up from its revision. Besides
 * users, numbers, rules, statuses and delegations: working hours and time
 * zone set on the web UI's settings page, sources and SIP device
 * credentials.
 */
#include "cluster.h"
#include "etcd.h"
#include "harness.h"
#include "th_etcd.h"
#include "tsps_check.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANN    "+12125550100"
#define CALLER "+13125550013" /* unknown to ann: code UNKNOWN */
#define VIPNUM "+13125550077" /* in the source's book: code VIP */

static char base[300];
static th_etcd etcd;
static th_daemon na, nb, nc;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Each node's SIP port (UDP, 127.0.0.1): na, nb, nc. */
static int sip_ports[3];

static int *sip_port_of(const th_daemon *t)
{
    return &sip_ports[t == &na ? 0 : t == &nb ? 1 : 2];
}

static void node_start(th_daemon *t, const char *name)
{
    char extra[600];
    *sip_port_of(t) = th_free_udp_port();
    snprintf(extra, sizeof(extra),
             "[cluster]\nenabled = true\netcd = %s\nnode = %s\n"
             "prefix = /tsps-test\n[web]\nlisten = 127.0.0.1\nport = 0\n"
             "[sip]\nenabled = true\nlisten = 127.0.0.1\nudp_port = %d\n"
             "tcp_port = 0\n",
             etcd.url, name, *sip_port_of(t));
    th_start(t, extra);
}

/* One INVITE from CALLER to ANN at node t's SIP front: its final status,
 * and the call's history id (X-Tsps-Call-Id) into *id. */
static int sip_call(th_daemon *t, const char *callid, uint64_t *id)
{
    char msg[1024], buf[4096];
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM, 0), code = -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    int lport = ntohs(sa.sin_port);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int n = snprintf(msg, sizeof(msg),
                     "INVITE sip:%s@127.0.0.1 SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s\r\n"
                     "Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=t1\r\n"
                     "To: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\n"
                     "CSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:%d>\r\n"
                     "Content-Length: 0\r\n\r\n",
                     ANN, lport, callid, CALLER, ANN, callid, lport);
    sa.sin_port = htons((uint16_t)*sip_port_of(t));
    ck_assert_int_eq(
        sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&sa, sizeof(sa)), n);
    *id = 0;
    for (int i = 0; i < 10 && code < 200; i++) { /* provisional ones skipped */
        ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
        if (k <= 0)
            break;
        buf[k] = '\0';
        if (sscanf(buf, "SIP/2.0 %d", &code) != 1)
            code = -1;
    }
    close(fd);
    const char *h = strstr(buf, "X-Tsps-Call-Id: ");
    if (code >= 200 && h != NULL)
        *id = strtoull(h + 16, NULL, 10);
    return code;
}

static void node_new(th_daemon *t, const char *name)
{
    memset(t, 0, sizeof(*t));
    tsps_check_tmpdir(t->dir, sizeof(t->dir));
    th_make_certs(t);
    node_start(t, name);
}

static void setup(void)
{
    memset(&etcd, 0, sizeof(etcd));
    tsps_check_tmpdir(base, sizeof(base));
    th_etcd_start(&etcd, base);
}

static void setup_nodes(void)
{
    setup();
    node_new(&na, "a");
    node_new(&nb, "b");
}

static void teardown(void)
{
    th_cleanup(&na);
    th_cleanup(&nb);
    if (nc.dir[0] != '\0')
        th_cleanup(&nc);
    th_etcd_kill(&etcd);
    if (getenv("TSPS_KEEP_TMP") == NULL)
        tsps_check_rmdir(base);
    memset(&na, 0, sizeof(na));
    memset(&nb, 0, sizeof(nb));
    memset(&nc, 0, sizeof(nc));
}

static int user_put(tspsd_client *c, const char *id, const char *number)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserPut up = TSPS__USER_PUT__INIT;
    Tsps__User u = TSPS__USER__INIT;
    char *nums[1] = {(char *)number};
    u.id = (char *)id;
    u.region = (char *)"US";
    u.tz = (char *)"America/New_York";
    u.hours = (char *)"mon-sun 00:00-23:59";
    u.voicemail_uri = (char *)"sip:vm@127.0.0.1";
    u.n_numbers = 1;
    u.numbers = nums;
    up.user = &u;
    req.body_case = TSPS__REQUEST__BODY_USER_PUT;
    req.user_put = &up;
    return th_call(c, &req, NULL);
}

static int code_set(tspsd_client *c, const char *user, const char *method)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__CodeSet cs = TSPS__CODE_SET__INIT;
    Tsps__Rule r = TSPS__RULE__INIT;
    r.user = (char *)user;
    r.code = (char *)"UNKNOWN";
    r.status = (char *)"any";
    r.method = (char *)method;
    cs.rule = &r;
    req.body_case = TSPS__REQUEST__BODY_CODE_SET;
    req.code_set = &cs;
    return th_call(c, &req, NULL);
}

static int user_delete(tspsd_client *c, const char *user)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserDelete ud = TSPS__USER_DELETE__INIT;
    ud.id = (char *)user;
    req.body_case = TSPS__REQUEST__BODY_USER_DELETE;
    req.user_delete = &ud;
    return th_call(c, &req, NULL);
}

/* The method a dry run of `from` -> ANN gets ("" = no user has ANN). */
static void route_from(tspsd_client *c, const char *from, char *method,
                       size_t len, double *took)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    Tsps__Response *resp = NULL;
    r.from = (char *)from;
    r.to = (char *)ANN;
    r.brief = 1;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    double t0 = now_ms();
    int code = th_call(c, &req, &resp);
    if (took != NULL)
        *took = now_ms() - t0;
    snprintf(method, len, "%s",
             code == TSPS__CODE__OK && resp->n_calls == 1 &&
                     resp->calls[0]->user[0] != '\0'
                 ? resp->calls[0]->method
                 : "");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
}

/* The trace of a route to ann (what `tspsctl route` prints). */
static void route_trace(tspsd_client *c, char *trace, size_t len)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    Tsps__Response *resp = NULL;
    r.from = (char *)CALLER;
    r.to = (char *)ANN;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    int code = th_call(c, &req, &resp);
    snprintf(trace, len, "%s",
             code == TSPS__CODE__OK && resp->n_calls == 1 &&
                     resp->calls[0]->explain != NULL
                 ? resp->calls[0]->explain
                 : "(no route)");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
}

static void route(tspsd_client *c, char *method, size_t len, double *took)
{
    route_from(c, CALLER, method, len, took);
}

/* Poll until the route's method (from `from`) starts with `want`; ms
 * taken, -1 if not within limit_ms. */
static double wait_method_from(tspsd_client *c, const char *from,
                               const char *want, double limit_ms)
{
    char m[200];
    double t0 = now_ms();
    for (;;) {
        route_from(c, from, m, sizeof(m), NULL);
        double dt = now_ms() - t0;
        if (strncmp(m, want, strlen(want)) == 0 &&
            (want[0] != '\0' || m[0] == '\0'))
            return dt;
        if (dt > limit_ms)
            return -1;
        th_sleep_ms(2);
    }
}

static double wait_method(tspsd_client *c, const char *want, double limit_ms)
{
    return wait_method_from(c, CALLER, want, limit_ms);
}

static int rule_set(tspsd_client *c, const char *user, const char *code,
                    const char *status, const char *method)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__CodeSet cs = TSPS__CODE_SET__INIT;
    Tsps__Rule r = TSPS__RULE__INIT;
    r.user = (char *)user;
    r.code = (char *)code;
    r.status = (char *)status;
    r.method = (char *)method;
    cs.rule = &r;
    req.body_case = TSPS__REQUEST__BODY_CODE_SET;
    req.code_set = &cs;
    return th_call(c, &req, NULL);
}

static int device_add(tspsd_client *c, const char *user, const char *username,
                      const char *password)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__DeviceAdd da = TSPS__DEVICE_ADD__INIT;
    da.user = (char *)user;
    da.username = (char *)username;
    da.label = (char *)"desk";
    da.password = (char *)password;
    req.body_case = TSPS__REQUEST__BODY_DEVICE_ADD;
    req.device_add = &da;
    return th_call(c, &req, NULL);
}

static int device_remove(tspsd_client *c, const char *user,
                         const char *username)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__DeviceRemove dr = TSPS__DEVICE_REMOVE__INIT;
    dr.user = (char *)user;
    dr.username = (char *)username;
    req.body_case = TSPS__REQUEST__BODY_DEVICE_REMOVE;
    req.device_remove = &dr;
    return th_call(c, &req, NULL);
}

static int number_remove(tspsd_client *c, const char *user, const char *num)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__NumberRemove nr = TSPS__NUMBER_REMOVE__INIT;
    nr.user = (char *)user;
    nr.number = (char *)num;
    req.body_case = TSPS__REQUEST__BODY_NUMBER_REMOVE;
    req.number_remove = &nr;
    return th_call(c, &req, NULL);
}

/* How many numbers a node has for a user (-1: no such user). */
static int user_numbers(tspsd_client *c, const char *id)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserGet ug = TSPS__USER_GET__INIT;
    Tsps__Response *resp = NULL;
    ug.id = (char *)id;
    req.body_case = TSPS__REQUEST__BODY_USER_GET;
    req.user_get = &ug;
    int code = th_call(c, &req, &resp);
    int n = code == TSPS__CODE__OK && resp->n_users == 1
                ? (int)resp->users[0]->n_numbers
                : -1;
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    return n;
}

/* A user's time zone as a node has it ("" if none). */
static void user_tz(tspsd_client *c, const char *id, char *tz, size_t len)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserGet ug = TSPS__USER_GET__INIT;
    Tsps__Response *resp = NULL;
    ug.id = (char *)id;
    req.body_case = TSPS__REQUEST__BODY_USER_GET;
    req.user_get = &ug;
    int code = th_call(c, &req, &resp);
    snprintf(tz, len, "%s",
             code == TSPS__CODE__OK && resp->n_users == 1 ? resp->users[0]->tz
                                                          : "");
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
}

/* 1 when `tspsctl source list` on t shows name, within limit_ms. */
static int wait_source(th_daemon *t, const char *name, int present,
                       double limit_ms)
{
    static char out[8192];
    double t0 = now_ms();
    do {
        int rc = th_ctl(t, "admin", "source list", out, sizeof(out));
        if (rc == 0 && (strstr(out, name) != NULL) == present)
            return 1;
        th_sleep_ms(20);
    } while (now_ms() - t0 < limit_ms);
    return 0;
}

/* A book (vcard-dir) with one card: VIPNUM, code VIP. */
static void make_book(char *dir, size_t len)
{
    char path[400];
    snprintf(dir, len, "%s/book", base);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/vera.vcf", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:vera-1\r\nFN:Vera\r\n"
               "TEL:" VIPNUM "\r\nX-TSPS-CODE:VIP\r\nEND:VCARD\r\n");
    fclose(f);
}

static void json_str(const char *text, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    ck_assert_msg(p != NULL, "no %s in %s", key, text);
    p = strchr(p + strlen(pat), '"');
    ck_assert_ptr_nonnull(p);
    size_t n = strcspn(p + 1, "\"");
    ck_assert(n < len);
    memcpy(out, p + 1, n);
    out[n] = '\0';
}

/* Working hours around now in UTC (now - 1 h to now + 1 h, every day): in
 * hours with tz UTC, off hours with Asia/Kolkata (UTC+05:30). */
static void hours_around_now(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int now = tm.tm_hour * 60 + tm.tm_min, s = now - 60, e = now + 60;
    if (s < 0)
        snprintf(out, len, "mon-sun 00:00-%02d:%02d,%02d:%02d-24:00", e / 60,
                 e % 60, (s + 1440) / 60, (s + 1440) % 60);
    else if (e > 1440)
        snprintf(out, len, "mon-sun 00:00-%02d:%02d,%02d:%02d-24:00",
                 (e - 1440) / 60, (e - 1440) % 60, s / 60, s % 60);
    else
        snprintf(out, len, "mon-sun %02d:%02d-%02d:%02d", s / 60, s % 60,
                 e / 60, e % 60);
}

/* POST /api/hours on t as the session (cookie, csrf); the HTTP status. */
static int web_hours(th_daemon *t, const char *cookie, const char *csrf,
                     const char *tz, const char *hours)
{
    static char out[8192];
    char body[400];
    if (hours != NULL)
        snprintf(body, sizeof(body),
                 "{\"user\":\"ann\",\"tz\":\"%s\",\"hours\":\"%s\"}", tz,
                 hours);
    else
        snprintf(body, sizeof(body), "{\"user\":\"ann\",\"tz\":\"%s\"}", tz);
    int st = th_web_req(t, "POST", "/api/hours", cookie, csrf, body, out,
                        sizeof(out));
    if (st != 200)
        fprintf(stderr, "POST /api/hours: %d %s\n", st, out);
    return st;
}

/* POST /api/prefs on t as the session: the HTTP status. */
static int web_prefs_set(th_daemon *t, const char *cookie, const char *csrf,
                         int past_days)
{
    static char out[8192];
    char body[300];
    snprintf(body, sizeof(body),
             "{\"past_days\":%d,\"next_days\":3,\"favourites\":"
             "[{\"label\":\"Vera\",\"number\":\"" VIPNUM "\"}]}",
             past_days);
    return th_web_req(t, "POST", "/api/prefs", cookie, csrf, body, out,
                      sizeof(out));
}

/* 1 when ann's preferences on t (GET /api/prefs) show past_days within
 * limit_ms. */
static int wait_prefs(th_daemon *t, const char *cookie, int past_days,
                      double limit_ms)
{
    static char out[8192];
    char want[40];
    snprintf(want, sizeof(want), "\"past_days\":%d,", past_days);
    double t0 = now_ms();
    do {
        if (th_web_req(t, "GET", "/api/prefs", cookie, NULL, NULL, out,
                       sizeof(out)) == 200 &&
            strstr(out, want) != NULL && strstr(out, VIPNUM) != NULL)
            return 1;
        th_sleep_ms(10);
    } while (now_ms() - t0 < limit_ms);
    return 0;
}

/* ann logged in to t's web UI: cookie and csrf. */
static void web_login_ann(th_daemon *t, tspsd_client *admin, char *cookie,
                          size_t clen, char *csrf, size_t xlen)
{
    static char out[16384];
    th_web_login(t, admin, "ann", cookie, clen);
    ck_assert_int_eq(
        th_web_req(t, "GET", "/api/me", cookie, NULL, NULL, out, sizeof(out)),
        200);
    json_str(out, "csrf", csrf, xlen);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct mbuf {
    char b[65536];
    size_t n;
} mbuf;

static size_t mcollect(char *p, size_t sz, size_t nm, void *arg)
{
    mbuf *m = arg;
    size_t n = sz * nm;
    if (m->n + n >= sizeof(m->b))
        return 0;
    memcpy(m->b + m->n, p, n);
    m->n += n;
    m->b[m->n] = '\0';
    return n;
}

/* A cluster metric of a node ("queued_writes"), -1 if absent. */
static long metric(th_daemon *t, const char *name)
{
    static mbuf m;
    char url[100], want[120];
    m.n = 0;
    m.b[0] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", t->metrics_port);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mcollect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        return -1;
    snprintf(want, sizeof(want), "tspsd_cluster_%s{node=\"", name);
    const char *p = strstr(m.b, want);
    if (p == NULL)
        return -1;
    p = strchr(p, '}');
    return p != NULL ? strtol(p + 1, NULL, 10) : -1;
}

static int wait_metric(th_daemon *t, const char *name, long want)
{
    for (int i = 0; i < 250; i++) {
        if (metric(t, name) == want)
            return 1;
        th_sleep_ms(20);
    }
    return 0;
}

/* Wait until `writer` has published all it queued and `reader` has
 * applied etcd up to the writer's last write: ms taken, -1 if not within
 * limit_ms. */
static double caught_up(th_daemon *writer, th_daemon *reader, double limit_ms)
{
    double t0 = now_ms();
    if (!wait_metric(writer, "queued_writes", 0))
        return -1;
    long want = metric(writer, "etcd_revision");
    while (metric(reader, "applied_revision") < want) {
        if (now_ms() - t0 > limit_ms)
            return -1;
        th_sleep_ms(5);
    }
    return now_ms() - t0;
}

/* ---- the etcd client against a real etcd ---- */

typedef struct seen {
    int n;
    char keys[16][64];
    int types[16];
    int64_t revs[16];
} seen;

static int see(void *arg, int type, const char *key, size_t klen,
               const void *val, size_t vlen, int64_t rev)
{
    seen *s = arg;
    (void)val, (void)vlen;
    if (s->n < 16) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%.*s", (int)klen, key);
        s->types[s->n] = type;
        s->revs[s->n] = rev;
        s->n++;
    }
    return s->n >= 4; /* stop after four events */
}

typedef struct counted {
    int n;
    char last[64];
    int ordered;
} counted;

static int count_kv(void *arg, int type, const char *key, size_t klen,
                    const void *val, size_t vlen, int64_t rev)
{
    counted *c = arg;
    char k[64];
    (void)type, (void)val, (void)vlen, (void)rev;
    snprintf(k, sizeof(k), "%.*s", (int)klen, key);
    if (c->n > 0 && strcmp(k, c->last) <= 0)
        c->ordered = 0;
    snprintf(c->last, sizeof(c->last), "%s", k);
    c->n++;
    return 0;
}

/* More keys than a page: every one once, in key order, at one revision. */
START_TEST(test_etcd_range_pages)
{
    tspsd_etcd *e = NULL;
    char err[300], key[64];
    int64_t rev = 0, r1 = 0;
    counted c = {0, "", 1};
    ck_assert_int_eq(tspsd_etcd_new(etcd.url, 2000, &e), 0);
    for (int i = 0; i < 2 * TSPSD_ETCD_PAGE + 7; i++) {
        snprintf(key, sizeof(key), "/pg/%05d", i);
        ck_assert_int_eq(tspsd_etcd_put(e, key, "v", 1, NULL, err, sizeof(err)),
                         0);
    }
    ck_assert_int_eq(
        tspsd_etcd_range(e, "/pg/", 0, count_kv, &c, &rev, err, sizeof(err)),
        0);
    ck_assert_int_eq(c.n, 2 * TSPSD_ETCD_PAGE + 7);
    ck_assert(c.ordered);
    /* at an older revision: the keys that existed then */
    ck_assert_int_eq(
        tspsd_etcd_put(e, "/pg/zzz", "v", 1, &r1, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    c.ordered = 1;
    ck_assert_int_eq(
        tspsd_etcd_range(e, "/pg/", rev, count_kv, &c, NULL, err, sizeof(err)),
        0);
    ck_assert_int_eq(c.n, 2 * TSPSD_ETCD_PAGE + 7);
    tspsd_etcd_free(e);
}
END_TEST

START_TEST(test_etcd_client)
{
    tspsd_etcd *e = NULL;
    char err[300];
    int64_t r1 = 0, r2 = 0, r3 = 0, hrev = 0;
    seen s;
    atomic_int stop = 0;

    ck_assert_int_eq(tspsd_etcd_new(etcd.url, 2000, &e), 0);
    ck_assert_int_eq(tspsd_etcd_put(e, "/p/a", "1", 1, &r1, err, sizeof(err)),
                     0);
    ck_assert_int_eq(
        tspsd_etcd_put(e, "/p/b", "\0\xff", 2, &r2, err, sizeof(err)), 0);
    ck_assert_int_eq(tspsd_etcd_put(e, "/q/c", "3", 1, NULL, err, sizeof(err)),
                     0);
    ck_assert(r2 > r1 && r1 > 0);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(
        tspsd_etcd_range(e, "/p/", 0, see, &s, &hrev, err, sizeof(err)), 0);
    ck_assert_int_eq(s.n, 2); /* only the prefix, in key order */
    ck_assert_str_eq(s.keys[0], "/p/a");
    ck_assert_str_eq(s.keys[1], "/p/b");
    ck_assert(hrev > r2);
    ck_assert_int_eq(tspsd_etcd_delete(e, "/p/", 1, &r3, err, sizeof(err)), 0);
    /* watch from r1: put a, put b, delete a, delete b, in order */
    memset(&s, 0, sizeof(s));
    int64_t last = 0;
    ck_assert_int_eq(
        tspsd_etcd_watch(e, "/p/", r1, see, &s, &stop, &last, err, sizeof(err)),
        TSPSD_ETCD_ESTOPPED);
    ck_assert_int_eq(s.n, 4);
    ck_assert_str_eq(s.keys[0], "/p/a");
    ck_assert_int_eq(s.types[0], TSPSD_ETCD_PUT);
    ck_assert_str_eq(s.keys[1], "/p/b");
    ck_assert_int_eq(s.types[2], TSPSD_ETCD_DELETE);
    ck_assert_int_eq(s.types[3], TSPSD_ETCD_DELETE);
    ck_assert(s.revs[0] == r1 && s.revs[1] == r2 && s.revs[2] == r3);
    /* damaged watch messages are clear errors */
    tspsd_etcd_watch_msg msg;
    ck_assert_int_eq(tspsd_etcd_watch_parse("{\"result\":{\"events\":[{\"kv\":"
                                            "{\"key\":\"!!\"}}]}}",
                                            40, see, &s, &msg),
                     TSPSD_ETCD_EPROTO);
    ck_assert_int_eq(tspsd_etcd_watch_parse("[1,2]", 5, see, &s, &msg),
                     TSPSD_ETCD_EPROTO);
    ck_assert_int_eq(
        tspsd_etcd_watch_parse(
            "{\"result\":{\"compact_revision\":\"9\",\"canceled\":true}}", 51,
            see, &s, &msg),
        TSPSD_ETCD_ECOMPACTED);
    ck_assert_int_eq(msg.compact_rev, 9);
    tspsd_etcd_free(e);
    /* nobody there: a clear error, quickly */
    ck_assert_int_eq(tspsd_etcd_new("http://127.0.0.1:1", 500, &e), 0);
    double t0 = now_ms();
    ck_assert_int_eq(tspsd_etcd_put(e, "/p/a", "1", 1, NULL, err, sizeof(err)),
                     TSPSD_ETCD_EUNREACHABLE);
    ck_assert(now_ms() - t0 < 1500);
    ck_assert(strstr(err, "127.0.0.1:1") != NULL);
    tspsd_etcd_free(e);
    ck_assert_int_eq(tspsd_etcd_new("ftp://x", 500, &e), TSPSD_ETCD_EINVAL);
}
END_TEST

/* ---- the writer's echo ---- */

/* What a member applied: the value of /e/k and a gate that holds the
 * watcher in its apply of /e/gate until opened. */
typedef struct echo_app {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_open;
    char k[16];
    int applies; /* of k */
} echo_app;

static void echo_apply(void *arg, const char *key, const void *val, size_t len,
                       int64_t rev)
{
    echo_app *e = arg;
    (void)rev;
    pthread_mutex_lock(&e->mu);
    if (strcmp(key, "gate") == 0)
        while (!e->gate_open)
            pthread_cond_wait(&e->cv, &e->mu);
    if (strcmp(key, "k") == 0) {
        snprintf(e->k, sizeof(e->k), "%.*s", (int)len, (const char *)val);
        e->applies++;
    }
    pthread_mutex_unlock(&e->mu);
}

static void echo_applied(void *arg, int64_t rev)
{
    (void)arg, (void)rev;
}

/* Wait until the member has applied up to rev (bounded). */
static int echo_wait_rev(tspsd_cluster *c, int64_t rev)
{
    tspsd_cluster_stats st;
    for (int i = 0; i < 250; i++) {
        tspsd_cluster_stats_get(c, &st);
        if (st.applied_rev >= rev && st.queued == 0)
            return 1;
        th_sleep_ms(20);
    }
    return 0;
}

/* Wait until the member has published and skipped at least so many
 * (bounded); *st = its counters then. */
static void echo_wait_counts(tspsd_cluster *c, uint64_t published,
                             uint64_t skipped, tspsd_cluster_stats *st)
{
    for (int i = 0; i < 250; i++) {
        tspsd_cluster_stats_get(c, st);
        if (st->published >= published && st->echo_skipped >= skipped)
            return;
        th_sleep_ms(20);
    }
}

START_TEST(test_writer_echo_skipped_only_when_safe)
{
    echo_app app = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "",
                    0};
    tspsd_cluster_config cc = {0};
    tspsd_cluster_ops ops = {0};
    tspsd_cluster *c = NULL;
    tspsd_cluster_stats st;
    tspsd_etcd *e = NULL;
    char err[300];
    int64_t rgate = 0, rforeign = 0;

    cc.etcd = etcd.url;
    cc.prefix = "/e";
    cc.node = "w";
    cc.start_rev = 0;
    ops.arg = &app;
    ops.apply = echo_apply;
    ops.applied = echo_applied;
    ck_assert_int_eq(tspsd_etcd_new(etcd.url, 2000, &e), 0);
    ck_assert_int_eq(tspsd_cluster_new(&cc, &ops, &c), 0);
    ck_assert_int_eq(tspsd_cluster_start(c), 0);
    /* hold the watcher, then: another writer puts k=theirs, we apply
     * k=ours here and publish it (etcd orders ours last) */
    ck_assert_int_eq(
        tspsd_etcd_put(e, "/e/gate", "1", 1, &rgate, err, sizeof(err)), 0);
    ck_assert(echo_wait_rev(c, 0));
    th_sleep_ms(200); /* the watcher is in the gate's apply */
    ck_assert_int_eq(
        tspsd_etcd_put(e, "/e/k", "theirs", 6, &rforeign, err, sizeof(err)), 0);
    snprintf(app.k, sizeof(app.k), "ours"); /* the handler's own apply */
    ck_assert_int_eq(tspsd_cluster_publish(c, "k", "ours", 4, 0), 0);
    echo_wait_counts(c, 1, 0, &st);
    ck_assert_int_eq(st.published, 1);
    ck_assert(st.etcd_rev > rforeign);
    int64_t rours = st.etcd_rev;
    pthread_mutex_lock(&app.mu);
    app.gate_open = 1;
    pthread_cond_broadcast(&app.cv);
    pthread_mutex_unlock(&app.mu);
    /* theirs came between: our echo is applied, and we end where etcd
     * does */
    ck_assert(echo_wait_rev(c, rours));
    pthread_mutex_lock(&app.mu);
    ck_assert_str_eq(app.k, "ours");
    ck_assert_int_eq(app.applies, 2);
    pthread_mutex_unlock(&app.mu);
    tspsd_cluster_stats_get(c, &st);
    ck_assert_int_eq(st.echo_skipped, 0);
    /* nothing between: the echo is skipped */
    snprintf(app.k, sizeof(app.k), "again");
    ck_assert_int_eq(tspsd_cluster_publish(c, "k", "again", 5, 0), 0);
    echo_wait_counts(c, 2, 1, &st);
    ck_assert_int_eq(st.echo_skipped, 1);
    pthread_mutex_lock(&app.mu);
    ck_assert_str_eq(app.k, "again");
    ck_assert_int_eq(app.applies, 2);
    pthread_mutex_unlock(&app.mu);
    tspsd_cluster_free(c);
    tspsd_etcd_free(e);
}
END_TEST

/* ---- nodes ---- */

START_TEST(test_change_on_a_routes_on_b_within_1s)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    double dt[20];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), 0);
    ck_assert_msg(wait_method(b, "voicemail", 3000) >= 0,
                  "node b never saw ann's rule");
    /* each change through a, measured until b routes by it */
    for (int i = 0; i < 20; i++) {
        const char *m = i % 2 == 0 ? "reject busy" : "voicemail";
        ck_assert_int_eq(code_set(a, "ann", m), 0);
        dt[i] = wait_method(b, i % 2 == 0 ? "reject" : "voicemail", 1000);
        ck_assert_msg(dt[i] >= 0, "change %d not routed on b within 1 s", i);
    }
    qsort(dt, 20, sizeof(dt[0]), cmp_d);
    printf("config_propagation_ms p50=%.1f p99=%.1f max=%.1f (20 changes)\n",
           dt[10], dt[19], dt[19]);
    /* a applied its own changes when it made them: their echoes are
     * skipped unless the watch brought one before etcd's answer to the
     * put (then it is applied: counted neither way) */
    printf("echo_skipped on a after 21 writes: %ld\n",
           metric(&na, "echo_skipped_total"));
    fflush(stdout);
    /* and back: a delete through b reaches a */
    ck_assert_int_eq(user_delete(b, "ann"), 0);
    ck_assert_msg(wait_method(a, "", 1000) >= 0,
                  "user.delete through b not seen on a");
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

/* The web UI's settings page on a: hours and time zone route on b within
 * 1 s; a source and a device added on a are b's too; removed on b, gone
 * on a. */
START_TEST(test_web_hours_sources_devices_reach_b)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    char cookie[80], csrf[80], hours[80], tz[64], cmd[600], book[300];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(user_put(a, "bob", "+12125550101"), 0);
    ck_assert_int_eq(rule_set(a, "ann", "UNKNOWN", "any", "voicemail"), 0);
    ck_assert_int_eq(rule_set(a, "ann", "UNKNOWN", "off-hours", "reject busy"),
                     0);
    ck_assert_int_eq(rule_set(a, "ann", "VIP", "any", "reject busy"), 0);
    ck_assert_msg(wait_method(b, "voicemail", 3000) >= 0,
                  "node b never saw ann's rules");

    /* hours and time zone through a's web API, as ann */
    web_login_ann(&na, a, cookie, sizeof(cookie), csrf, sizeof(csrf));
    hours_around_now(hours, sizeof(hours));
    ck_assert_int_eq(web_hours(&na, cookie, csrf, "Asia/Kolkata", hours), 200);
    double dt1 = wait_method(b, "reject", 1000);
    ck_assert_msg(dt1 >= 0,
                  "hours and tz set on a's web page (%s) not "
                  "routed on b within 1 s",
                  hours);
    /* the time zone alone (the page's hours stay) */
    ck_assert_int_eq(web_hours(&na, cookie, csrf, "UTC", NULL), 200);
    double dt2 = wait_method(b, "voicemail", 1000);
    ck_assert_msg(dt2 >= 0, "tz set on a's web page not routed on b in 1 s");
    /* the settings page's other part: the pop-up's window and favourites */
    char bcookie[80], bcsrf[80];
    web_login_ann(&nb, b, bcookie, sizeof(bcookie), bcsrf, sizeof(bcsrf));
    ck_assert(!wait_prefs(&nb, bcookie, 7, 0));
    ck_assert_int_eq(web_prefs_set(&na, cookie, csrf, 7), 200);
    ck_assert_msg(wait_prefs(&nb, bcookie, 7, 1000),
                  "web preferences set on a not on b within 1 s");
    user_tz(b, "ann", tz, sizeof(tz));
    ck_assert_str_eq(tz, "UTC");
    printf("web hours: routed on b after %.1f ms, tz after %.1f ms\n", dt1,
           dt2);
    fflush(stdout);

    /* a source added on a: in b's list, synced by b, routing by its codes */
    make_book(book, sizeof(book));
    snprintf(cmd, sizeof(cmd),
             "source add vbook vcard-dir:%s --user ann --interval 0", book);
    int rc = th_ctl(&na, "admin", cmd, cmd, sizeof(cmd));
    ck_assert_msg(rc == 0, "%s", cmd);
    ck_assert_msg(wait_source(&nb, "vbook", 1, 1000),
                  "source added on a not in b's list within 1 s");
    ck_assert_msg(wait_method_from(b, VIPNUM, "reject", 5000) >= 0,
                  "b did not sync the source added on a");
    /* removed on b: gone from a */
    rc = th_ctl(&nb, "admin", "source remove vbook", cmd, sizeof(cmd));
    ck_assert_msg(rc == 0, "%s", cmd);
    ck_assert_msg(wait_source(&na, "vbook", 0, 1000),
                  "source removed on b still on a");

    /* a device added on a: once b has applied everything a published,
     * the name is taken on b too (bob cannot have it there) */
    ck_assert_int_eq(device_add(a, "ann", "ann-desk", "Desk-pass-7x"),
                     TSPS__CODE__OK);
    double dt3 = caught_up(&na, &nb, 1000);
    ck_assert_msg(dt3 >= 0, "b did not apply a's writes within 1 s");
    ck_assert_int_eq(device_add(b, "bob", "ann-desk", "Bob-pass-7xy"),
                     TSPS__CODE__EXISTS);
    /* removed on a: free on b */
    ck_assert_int_eq(device_remove(a, "ann", "ann-desk"), TSPS__CODE__OK);
    ck_assert(caught_up(&na, &nb, 1000) >= 0);
    ck_assert_int_eq(device_remove(b, "ann", "ann-desk"),
                     TSPS__CODE__NOT_FOUND);
    ck_assert_int_eq(device_add(b, "bob", "ann-desk", "Bob-pass-7xy"),
                     TSPS__CODE__OK);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

START_TEST(test_etcd_down_routing_goes_on_changes_queue)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    char m[200];
    double took;

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), 0);
    ck_assert(wait_method(b, "voicemail", 3000) >= 0);
    /* b may see a write before a has read etcd's answer to it */
    ck_assert(wait_metric(&na, "queued_writes", 0));
    th_etcd_kill(&etcd);
    /* routing on both nodes does not wait for etcd */
    for (int i = 0; i < 50; i++) {
        route(i % 2 ? a : b, m, sizeof(m), &took);
        ck_assert_str_eq(m, "voicemail");
        ck_assert_msg(took < 200, "route took %.1f ms with etcd down", took);
    }
    /* a change meanwhile: applied on a at once, queued for etcd */
    ck_assert_int_eq(code_set(a, "ann", "reject busy"), 0);
    route(a, m, sizeof(m), NULL);
    ck_assert_str_eq(m, "reject busy");
    th_sleep_ms(500);
    route(b, m, sizeof(m), NULL);
    ck_assert_str_eq(m, "voicemail");
    ck_assert_int_eq(metric(&na, "queued_writes"), 1);
    ck_assert_int_eq(metric(&na, "etcd_up"), 0);
    /* b's trace says its rules may be stale, and since when */
    char trace[2000], want[120], out[4000], args[200];
    ck_assert(wait_metric(&nb, "etcd_up", 0));
    route_trace(b, trace, sizeof(trace));
    snprintf(want, sizeof(want),
             "note: configuration may be stale: as of etcd revision %ld;",
             metric(&nb, "applied_revision"));
    ck_assert_msg(strstr(trace, want) != NULL, "%s", trace);
    ck_assert_msg(strstr(trace, "; etcd unreachable since 20") != NULL, "%s",
                  trace);
    /* and so does a SIP call's, kept in b's history */
    uint64_t id = 0;
    ck_assert_int_eq(sip_call(&nb, "stale-1", &id), 302);
    ck_assert(id != 0);
    snprintf(args, sizeof(args), "explain %" PRIu64, id);
    ck_assert_int_eq(th_ctl(&nb, "admin", args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    /* the operator's view: tspsctl cluster status */
    snprintf(args, sizeof(args),
             "cluster status --metrics http://127.0.0.1:%d/metrics",
             na.metrics_port);
    ck_assert_int_eq(th_ctl(&na, "admin", args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "node               a\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "etcd_reachable     0\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "queued_writes      1\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "applied_revision   ") != NULL, "%s", out);
    /* etcd back (same data): the queued write reaches b */
    th_etcd_start(&etcd, base);
    double dt = wait_method(b, "reject", 10000);
    ck_assert_msg(dt >= 0, "queued change never reached b");
    printf("etcd back: queued change routed on b after %.0f ms\n", dt);
    ck_assert(wait_metric(&na, "queued_writes", 0));
    ck_assert(wait_metric(&na, "etcd_up", 1));
    /* b wrote nothing: its registry finds etcd again, the note goes */
    ck_assert(wait_metric(&nb, "etcd_up", 1));
    route_trace(b, trace, sizeof(trace));
    ck_assert_msg(strstr(trace, "note:") == NULL, "%s", trace);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

/* What a node that was away (or new) must have of what a did meanwhile:
 * the user's tz from a's web page, the source, the device, bob without
 * the number removed after his user.put, and ann's rule. */
static void check_caught_up(th_daemon *t, tspsd_client *c)
{
    char tz[64];
    ck_assert_msg(wait_method(c, "reject", 3000) >= 0,
                  "node %s did not catch up", t->dir);
    /* the rule came last, but a full read goes kind by kind (rules before
     * devices): wait for everything a published */
    ck_assert_msg(caught_up(&na, t, 3000) >= 0, "node %s behind a", t->dir);
    user_tz(c, "ann", tz, sizeof(tz));
    ck_assert_str_eq(tz, "Asia/Kolkata");
    ck_assert_int_eq(user_numbers(c, "bob"), 1);
    ck_assert(wait_source(t, "vbook", 1, 1000));
    ck_assert_int_eq(device_add(c, "bob", "ann-desk", "Bob-pass-7xy"),
                     TSPS__CODE__EXISTS);
    char cookie[80], csrf[80];
    web_login_ann(t, c, cookie, sizeof(cookie), csrf, sizeof(csrf));
    ck_assert(wait_prefs(t, cookie, 9, 1000));
}

START_TEST(test_restarted_node_catches_up_from_its_revision)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b;
    char m[200], cookie[80], csrf[80], cmd[600], book[300];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), 0);
    b = th_connect(&nb, "admin", NULL);
    ck_assert(wait_method(b, "voicemail", 3000) >= 0);
    tspsd_client_close(b);
    ck_assert_int_eq(th_stop(&nb), 0);
    /* while b is away: every kind of change, the rule last */
    web_login_ann(&na, a, cookie, sizeof(cookie), csrf, sizeof(csrf));
    ck_assert_int_eq(web_hours(&na, cookie, csrf, "Asia/Kolkata", NULL), 200);
    ck_assert_int_eq(web_prefs_set(&na, cookie, csrf, 9), 200);
    make_book(book, sizeof(book));
    snprintf(cmd, sizeof(cmd),
             "source add vbook vcard-dir:%s --user ann --interval 0", book);
    ck_assert_msg(th_ctl(&na, "admin", cmd, cmd, sizeof(cmd)) == 0, "%s", cmd);
    ck_assert_int_eq(device_add(a, "ann", "ann-desk", "Desk-pass-7x"),
                     TSPS__CODE__OK);
    {
        Tsps__Request req = TSPS__REQUEST__INIT;
        Tsps__UserPut up = TSPS__USER_PUT__INIT;
        Tsps__User u = TSPS__USER__INIT;
        /* the second as written, removed below in E.164 */
        char *nums[2] = {(char *)"+12125550101", (char *)"(212) 555-0102"};
        u.id = (char *)"bob";
        u.region = (char *)"US";
        u.n_numbers = 2;
        u.numbers = nums;
        up.user = &u;
        req.body_case = TSPS__REQUEST__BODY_USER_PUT;
        req.user_put = &up;
        ck_assert_int_eq(th_call(a, &req, NULL), 0);
    }
    ck_assert_int_eq(number_remove(a, "bob", "+12125550102"), 0);
    /* a itself may have the removed number back for a moment, when the
     * echo of its user.put arrives after the removal (docs/cluster.md,
     * "the writer's echo"); once a has applied its own writes, it is gone */
    ck_assert(caught_up(&na, &na, 3000) >= 0);
    ck_assert_int_eq(user_numbers(a, "bob"), 1);
    ck_assert_int_eq(code_set(a, "ann", "reject busy"), 0);
    node_start(&nb, "b");
    b = th_connect(&nb, "admin", NULL);
    check_caught_up(&nb, b);
    route(b, m, sizeof(m), NULL);
    ck_assert_str_eq(m, "reject busy");
    /* from its revision, not by reading everything again */
    ck_assert(th_log_has(&nb, "msg=\"cluster: member started\" node=b "
                              "prefix=/tsps-test/ revision="));
    ck_assert(!th_file_has(nb.log, "revision=0 queued=0\n") ||
              th_file_has(nb.log, "full state read"));
    FILE *f = fopen(nb.log, "r");
    char line[2048];
    int full = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        full += strstr(line, "full state read") != NULL;
    if (f != NULL)
        fclose(f);
    ck_assert_int_eq(full, 1); /* the first start only */
    /* a new node joins late: the whole state, users before their rules */
    node_new(&nc, "c");
    tspsd_client *cc = th_connect(&nc, "admin", NULL);
    check_caught_up(&nc, cc);
    ck_assert(th_log_has(&nc, "cluster: full state read from etcd"));
    tspsd_client_close(cc);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

/* A write queued while etcd is away survives a restart of its node. */
START_TEST(test_queued_write_survives_restart)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), 0);
    ck_assert(wait_method(b, "voicemail", 3000) >= 0);
    ck_assert(wait_metric(&na, "queued_writes", 0));
    th_etcd_kill(&etcd);
    ck_assert_int_eq(code_set(a, "ann", "reject busy"), 0);
    ck_assert_int_eq(metric(&na, "queued_writes"), 1);
    tspsd_client_close(a);
    ck_assert_int_eq(th_stop(&na), 0);
    node_start(&na, "a");
    ck_assert(th_log_has(&na, "queued=1"));
    th_etcd_start(&etcd, base);
    ck_assert_msg(wait_method(b, "reject", 10000) >= 0,
                  "the write queued before the restart never reached b");
    ck_assert(wait_metric(&na, "queued_writes", 0));
    tspsd_client_close(b);
}
END_TEST

/* ---- a partition: a (shard s1) reaches etcd through a relay that is cut;
 * meanwhile ann moves to s2 (b). Both nodes route ann, but a's trace says
 * its rules may be stale; a change made on a meanwhile is not lost; when
 * the relay heals, a sees the flip and lets ann go after the grace. ---- */

static th_relay *relay;

static void setup_partition(void)
{
    char extra[800];
    setup();
    memset(&na, 0, sizeof(na));
    memset(&nb, 0, sizeof(nb));
    relay = th_relay_start(etcd.client_port);
    th_daemon *t[2] = {&na, &nb};
    for (int i = 0; i < 2; i++) {
        tsps_check_tmpdir(t[i]->dir, sizeof(t[i]->dir));
        th_make_certs(t[i]);
        snprintf(extra, sizeof(extra),
                 "[cluster]\nenabled = true\netcd = http://127.0.0.1:%d\n"
                 "node = %s\nprefix = /tsps-test\nshard = %s\n"
                 "default_shard = s1\nhandover_grace_s = 1\nlease_s = 2\n",
                 i == 0 ? th_relay_port(relay) : etcd.client_port,
                 i == 0 ? "a" : "b", i == 0 ? "s1" : "s2");
        th_start(t[i], extra);
    }
}

static void teardown_partition(void)
{
    teardown();
    th_relay_stop(relay);
    relay = NULL;
}

START_TEST(test_partition_two_owners_say_so)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    char trace[2000], m[200], out[4000];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), 0);
    ck_assert(wait_metric(&na, "queued_writes", 0));
    ck_assert_int_eq(user_numbers(b, "ann"), -1); /* s1's user, not b's */

    /* the partition: a loses etcd, b and the operator keep it */
    th_relay_cut(relay, 1);
    ck_assert(wait_metric(&na, "etcd_up", 0));
    char args[200];
    snprintf(args, sizeof(args),
             "cluster move-user ann s2 --etcd %s --prefix /tsps-test",
             etcd.url);
    ck_assert_msg(th_ctl(&nb, "admin", args, out, sizeof(out)) == 0, "%s", out);
    /* b owns ann now; a, cut off, still routes her and says why it may be
     * wrong */
    ck_assert_msg(wait_method(b, "voicemail", 3000) >= 0,
                  "b does not route ann");
    route(a, m, sizeof(m), NULL);
    ck_assert_str_eq(m, "voicemail");
    route_trace(a, trace, sizeof(trace));
    ck_assert_msg(strstr(trace, "note: configuration may be stale") != NULL,
                  "%s", trace);
    route_trace(b, trace, sizeof(trace));
    ck_assert_msg(strstr(trace, "note:") == NULL, "%s", trace);
    /* a change on a meanwhile (a still thinks ann is its own): queued */
    ck_assert_int_eq(code_set(a, "ann", "reject busy"), 0);
    th_sleep_ms(300);
    route(b, m, sizeof(m), NULL);
    ck_assert_str_eq(m, "voicemail");

    /* healed: the queued change reaches etcd and b (not lost), a sees the
     * flip, refuses ann's writes, and drops her after the grace period */
    th_relay_cut(relay, 0);
    ck_assert_msg(wait_method(b, "reject", 10000) >= 0,
                  "the change made on the cut-off node was lost");
    ck_assert(wait_metric(&na, "etcd_up", 1));
    ck_assert_msg(wait_method(a, "", 10000) >= 0,
                  "a still routes ann after the flip and the grace");
    ck_assert_int_eq(code_set(a, "ann", "voicemail"), TSPS__CODE__INVALID);
    route_trace(b, trace, sizeof(trace));
    ck_assert_msg(strstr(trace, "note:") == NULL, "%s", trace);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

/* ---- history across nodes: a and b share a peer secret; each keeps the
 * calls it routed, and either answers with both, merged ---- */

static int peers_sharded; /* setup_peers: a in shard s1, b in s2 */

static void setup_peers(void)
{
    char bundle[400], secret[400], extra[1200], buf[8192];
    setup();
    memset(&na, 0, sizeof(na));
    memset(&nb, 0, sizeof(nb));
    tsps_check_tmpdir(na.dir, sizeof(na.dir));
    tsps_check_tmpdir(nb.dir, sizeof(nb.dir));
    th_make_certs(&na);
    th_make_certs(&nb);
    /* each node's control certificate comes from its own CA: the peers'
     * CA file holds both */
    snprintf(bundle, sizeof(bundle), "%s/peers-ca.pem", base);
    FILE *out = fopen(bundle, "w");
    ck_assert_ptr_nonnull(out);
    const char *cas[] = {na.ca, nb.ca};
    for (int i = 0; i < 2; i++) {
        FILE *in = fopen(cas[i], "r");
        ck_assert_ptr_nonnull(in);
        size_t n = fread(buf, 1, sizeof(buf), in);
        fclose(in);
        fwrite(buf, 1, n, out);
    }
    fclose(out);
    snprintf(secret, sizeof(secret), "%s/peer.secret", base);
    out = fopen(secret, "w");
    ck_assert_ptr_nonnull(out);
    fprintf(out, "0123456789abcdef-test-peer-secret\n");
    fclose(out);
    th_daemon *t[2] = {&na, &nb};
    for (int i = 0; i < 2; i++) {
        snprintf(extra, sizeof(extra),
                 "[cluster]\nenabled = true\netcd = %s\nnode = %s\n"
                 "prefix = /tsps-test\npeer_secret_file = %s\npeer_ca = %s\n"
                 "%s%s",
                 etcd.url, i == 0 ? "a" : "b", secret, bundle,
                 peers_sharded ? "default_shard = s1\nhandover_grace_s = 1\n"
                               : "",
                 !peers_sharded ? ""
                 : i == 0       ? "shard = s1\n"
                                : "shard = s2\n");
        th_start(t[i], extra);
    }
}

/* A live route of CALLER -> ANN: a call in the node's history. */
static void live_call(tspsd_client *c)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Route r = TSPS__ROUTE__INIT;
    r.from = (char *)CALLER;
    r.to = (char *)ANN;
    r.live = 1;
    r.brief = 1;
    req.body_case = TSPS__REQUEST__BODY_ROUTE;
    req.route = &r;
    ck_assert_int_eq(th_call(c, &req, NULL), 0);
}

/* ann's history as `c` sees it; the response (free it) and its code. */
static int history(tspsd_client *c, uint32_t limit, const Tsps__Decision *after,
                   int local, Tsps__Response **out)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__History h = TSPS__HISTORY__INIT;
    h.user = (char *)"ann";
    h.limit = limit;
    h.local = local;
    if (after != NULL) {
        h.before_id = after->call_id;
        h.before_node = after->node;
        h.before_start = after->start;
    }
    req.body_case = TSPS__REQUEST__BODY_HISTORY;
    req.history = &h;
    return th_call(c, &req, out);
}

/* How many calls of node `node` the reply holds. */
static size_t calls_of(const Tsps__Response *r, const char *node)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_calls; i++)
        n += strcmp(r->calls[i]->node, node) == 0;
    return n;
}

/* ann (connected as c) lets `attendant` monitor her calls. */
static int delegate_monitor(tspsd_client *c, const char *attendant)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    dl.user = (char *)"ann";
    dl.attendant = (char *)attendant;
    dl.monitor = 1;
    dg.delegation = &dl;
    req.body_case = TSPS__REQUEST__BODY_DELEGATE;
    req.delegate = &dg;
    return th_call(c, &req, NULL);
}

START_TEST(test_history_merged_across_nodes)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    Tsps__Response *r = NULL, *p2 = NULL;
    Tsps__Request req = TSPS__REQUEST__INIT;
    char out[8192];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    for (int i = 0; i < 150 && user_numbers(b, "ann") != 1; i++)
        th_sleep_ms(20);
    ck_assert_msg(user_numbers(b, "ann") == 1, "node b never saw ann");
    /* two calls routed on a, three on b (Kamailio sent them there) */
    live_call(a);
    live_call(b);
    live_call(a);
    live_call(b);
    live_call(b);

    /* either node answers with all five, newest first, each with its node */
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(history(k == 0 ? a : b, 0, NULL, 0, &r), 0);
        ck_assert_msg(r->n_calls == 5 && r->message[0] == '\0',
                      "node %s: %zu calls, message \"%s\"", k ? "b" : "a",
                      r->n_calls, r->message);
        ck_assert_uint_eq(calls_of(r, "a"), 2);
        ck_assert_uint_eq(calls_of(r, "b"), 3);
        for (size_t i = 1; i < r->n_calls; i++) {
            const Tsps__Decision *x = r->calls[i - 1], *y = r->calls[i];
            ck_assert_msg(
                x->start > y->start ||
                    (x->start == y->start && (strcmp(x->node, y->node) > 0 ||
                                              (strcmp(x->node, y->node) == 0 &&
                                               x->call_id > y->call_id))),
                "calls %zu and %zu out of order", i - 1, i);
        }
        tsps__response__free_unpacked(r, NULL);
    }
    /* pages across nodes: 3 then 2, none twice, none missed */
    ck_assert_int_eq(history(a, 3, NULL, 0, &r), 0);
    ck_assert_uint_eq(r->n_calls, 3);
    ck_assert_int_eq(history(a, 3, r->calls[2], 0, &p2), 0);
    ck_assert_msg(p2->n_calls == 2, "second page: %zu calls", p2->n_calls);
    ck_assert_uint_eq(calls_of(r, "a") + calls_of(p2, "a"), 2);
    ck_assert_uint_eq(calls_of(r, "b") + calls_of(p2, "b"), 3);
    tsps__response__free_unpacked(p2, NULL);
    tsps__response__free_unpacked(r, NULL);
    /* --local: this node's calls only */
    ck_assert_int_eq(history(a, 0, NULL, 1, &r), 0);
    ck_assert_uint_eq(r->n_calls, 2);
    ck_assert_uint_eq(calls_of(r, "a"), 2);
    tsps__response__free_unpacked(r, NULL);

    /* ann herself, and an attendant through a delegation (replicated:
     * b applies it for the identity a authenticated); one without a
     * delegation is refused */
    tspsd_client *ann = th_connect(&na, "ann", NULL);
    ck_assert_int_eq(history(ann, 0, NULL, 0, &r), 0);
    ck_assert_uint_eq(r->n_calls, 5);
    tsps__response__free_unpacked(r, NULL);
    ck_assert_int_eq(delegate_monitor(ann, "att"), 0);
    tspsd_client *att = th_connect(&na, "att", NULL);
    int n = 0;
    for (int i = 0; i < 100 && n != 5; i++) { /* until b has the delegation */
        ck_assert_int_eq(history(att, 0, NULL, 0, &r), 0);
        n = (int)r->n_calls;
        tsps__response__free_unpacked(r, NULL);
        if (n != 5)
            th_sleep_ms(20);
    }
    ck_assert_int_eq(n, 5);
    tspsd_client *attno = th_connect(&na, "attno", NULL);
    ck_assert_int_eq(history(attno, 0, NULL, 0, NULL), TSPS__CODE__DENIED);

    /* for_identity is for peers only; the peer secret gives no rights of
     * its own */
    Tsps__History h = TSPS__HISTORY__INIT;
    h.user = (char *)"ann";
    h.for_identity = (char *)"admin";
    h.for_admin = 1;
    req.body_case = TSPS__REQUEST__BODY_HISTORY;
    req.history = &h;
    ck_assert_int_eq(th_call(attno, &req, NULL), TSPS__CODE__INVALID);
    tspsd_client *peer =
        th_connect(&nb, NULL, "0123456789abcdef-test-peer-secret");
    Tsps__UserGet ug = TSPS__USER_GET__INIT;
    ug.id = (char *)"ann";
    req.body_case = TSPS__REQUEST__BODY_USER_GET;
    req.user_get = &ug;
    ck_assert_int_eq(th_call(peer, &req, NULL), TSPS__CODE__DENIED);
    ck_assert_int_eq(history(peer, 0, NULL, 1, NULL), TSPS__CODE__DENIED);

    /* tspsctl shows each call's node and the next page's cursor */
    ck_assert_int_eq(
        th_ctl(&na, "admin", "history ann --limit 4", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "@b ") != NULL && strstr(out, "@a ") != NULL &&
                      strstr(out, "older: --before ") != NULL,
                  "%s", out);

    /* b dies (its registry lease lives on): a answers with its own calls
     * and names b */
    kill(nb.pid, SIGKILL);
    ck_assert_int_eq(history(a, 0, NULL, 0, &r), 0);
    ck_assert_uint_eq(r->n_calls, 2);
    ck_assert_msg(strstr(r->message, "node b") != NULL, "message \"%s\"",
                  r->message);
    tsps__response__free_unpacked(r, NULL);
    ck_assert(th_log_has(&na, "history of a node left out"));
    ck_assert(!th_log_has(&na, "0123456789abcdef"));
    tspsd_client_close(peer);
    tspsd_client_close(attno);
    tspsd_client_close(att);
    tspsd_client_close(ann);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

/* ---- history follows a moved user: ann's calls of before her move stay
 * on her old shard's node, which no longer holds her (nor her
 * delegations); her new shard's node answers with them too ---- */

static void setup_peers_moved(void)
{
    peers_sharded = 1;
    setup_peers();
}

START_TEST(test_history_follows_a_moved_user)
{
    tspsd_client *a = th_connect(&na, "admin", NULL);
    tspsd_client *b = th_connect(&nb, "admin", NULL);
    Tsps__Response *r = NULL;
    Tsps__Request req = TSPS__REQUEST__INIT;
    char args[200], out[4000];

    ck_assert_int_eq(user_put(a, "ann", ANN), 0);
    live_call(a);
    live_call(a);
    snprintf(args, sizeof(args),
             "cluster move-user ann s2 --etcd %s --prefix /tsps-test",
             etcd.url);
    ck_assert_msg(th_ctl(&nb, "admin", args, out, sizeof(out)) == 0, "%s", out);
    for (int i = 0; i < 150 && user_numbers(b, "ann") != 1; i++)
        th_sleep_ms(20);
    ck_assert_msg(user_numbers(b, "ann") == 1, "b never took ann");
    live_call(b);
    /* a lets ann go after its grace period (1 s) */
    for (int i = 0; i < 250 && user_numbers(a, "ann") != -1; i++)
        th_sleep_ms(20);
    ck_assert_msg(user_numbers(a, "ann") == -1, "a still holds ann");

    /* b, her shard now, answers with the calls a routed before the move */
    ck_assert_int_eq(history(b, 0, NULL, 0, &r), 0);
    ck_assert_msg(r->n_calls == 3 && r->message[0] == '\0',
                  "%zu calls, message \"%s\"", r->n_calls, r->message);
    ck_assert_uint_eq(calls_of(r, "a"), 2);
    ck_assert_uint_eq(calls_of(r, "b"), 1);
    tsps__response__free_unpacked(r, NULL);
    /* ann herself */
    tspsd_client *ann = th_connect(&nb, "ann", NULL);
    ck_assert_int_eq(history(ann, 0, NULL, 0, &r), 0);
    ck_assert_uint_eq(calls_of(r, "a"), 2);
    tsps__response__free_unpacked(r, NULL);
    /* an attendant ann delegates to after the move: a never sees the
     * delegation (ann is not its user any more), b passes it on */
    ck_assert_int_eq(delegate_monitor(ann, "att"), 0);
    tspsd_client *att = th_connect(&nb, "att", NULL);
    ck_assert_int_eq(history(att, 0, NULL, 0, &r), 0);
    ck_assert_msg(r->n_calls == 3 && r->message[0] == '\0',
                  "%zu calls, message \"%s\"", r->n_calls, r->message);
    ck_assert_uint_eq(calls_of(r, "a"), 2);
    tsps__response__free_unpacked(r, NULL);
    tspsd_client *attno = th_connect(&nb, "attno", NULL);
    ck_assert_int_eq(history(attno, 0, NULL, 0, NULL), TSPS__CODE__DENIED);
    /* a peer's delegation must be the asker's own, for this user */
    tspsd_client *peer =
        th_connect(&na, NULL, "0123456789abcdef-test-peer-secret");
    Tsps__History h = TSPS__HISTORY__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    dl.user = (char *)"ann";
    dl.attendant = (char *)"att";
    dl.monitor = 1;
    h.user = (char *)"ann";
    h.local = 1;
    h.for_identity = (char *)"attno";
    h.for_delegation = &dl; /* att's, not attno's */
    req.body_case = TSPS__REQUEST__BODY_HISTORY;
    req.history = &h;
    ck_assert_int_eq(th_call(peer, &req, NULL), TSPS__CODE__DENIED);
    h.for_identity = (char *)"att";
    ck_assert_int_eq(th_call(peer, &req, &r), 0);
    ck_assert_uint_eq(r->n_calls, 2);
    tsps__response__free_unpacked(r, NULL);
    tspsd_client_close(peer);
    tspsd_client_close(attno);
    tspsd_client_close(att);
    tspsd_client_close(ann);
    tspsd_client_close(a);
    tspsd_client_close(b);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster_etcd");
    TCase *tc = tcase_create("client");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_etcd_client);
    tcase_add_test(tc, test_etcd_range_pages);
    tcase_add_test(tc, test_writer_echo_skipped_only_when_safe);
    suite_add_tcase(s, tc);
    tc = tcase_create("nodes");
    tcase_add_checked_fixture(tc, setup_nodes, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_change_on_a_routes_on_b_within_1s);
    tcase_add_test(tc, test_web_hours_sources_devices_reach_b);
    tcase_add_test(tc, test_etcd_down_routing_goes_on_changes_queue);
    tcase_add_test(tc, test_restarted_node_catches_up_from_its_revision);
    tcase_add_test(tc, test_queued_write_survives_restart);
    suite_add_tcase(s, tc);
    tc = tcase_create("partition");
    tcase_add_checked_fixture(tc, setup_partition, teardown_partition);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_partition_two_owners_say_so);
    suite_add_tcase(s, tc);
    tc = tcase_create("history");
    tcase_add_checked_fixture(tc, setup_peers, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_history_merged_across_nodes);
    suite_add_tcase(s, tc);
    tc = tcase_create("history_move");
    tcase_add_checked_fixture(tc, setup_peers_moved, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_history_follows_a_moved_user);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(cluster_suite)

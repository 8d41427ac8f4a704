/* route_bench: the routing hot path on a store of U users x C contacts.
 *
 *   route_bench [--users N] [--contacts TOTAL] [--routes N] [--rounds R]
 *               [--dir PATH] [--no-contact-cache] [--eager-trace]
 *
 * Builds the store (bulk load timed), routes a mix of 80% known and 20%
 * unknown callers on one thread, and measures the same chain of lookups in
 * plain in-memory open-addressing hash tables in the same run, the two
 * sides interleaved over R rounds (default 5). Prints name=value lines:
 * medians over the rounds, each with _min and _max.
 *
 * Routes record their trace lazily (TSPS_CALL_TRACE_LAZY), as a router
 * that shows the trace only on request does; --eager-trace writes the
 * trace text in every route, as before 0.2. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tsps/tsps.h>

/* ---- malloc counting (interposes the C library's allocator) ------------ */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int count_allocs;
static uint64_t allocs;

void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void free(void *p);

void *malloc(size_t n)
{
    if (count_allocs)
        allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    if (count_allocs)
        allocs++;
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    if (count_allocs)
        allocs++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

/* ---- helpers ----------------------------------------------------------------
 */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const struct {
    const char *region, *tz, *cc;
} regions[] = {{"DE", "Europe/Berlin", "49"},
               {"US", "America/New_York", "1"},
               {"GB", "Europe/London", "44"},
               {"FR", "Europe/Paris", "33"}};

/* A realistic subscriber number for a region, E.164. */
static void make_number(int r, uint64_t x, char *out, size_t len)
{
    switch (r) {
    case 0: /* DE: 30/40/89 landline or 15x/17x mobile */
        if (x % 2)
            snprintf(out, len, "+49%s%07" PRIu64,
                     (const char *[]){"30", "40", "89", "221"}[x % 4],
                     1000000 + x % 8999999);
        else
            snprintf(out, len, "+491%d%d%07" PRIu64, 5 + (int)(x % 3) * 1,
                     (int)(x % 10), 1000000 + x % 8999999);
        break;
    case 1: /* NANP: NXX-NXX-XXXX */
        snprintf(out, len, "+1%03" PRIu64 "%03" PRIu64 "%04" PRIu64,
                 200 + x % 700, 200 + (x / 700) % 700, x % 10000);
        break;
    case 2: /* GB: 20 London or 7xxx mobile */
        snprintf(out, len, "+44%s%08" PRIu64, x % 2 ? "20" : "7",
                 10000000 + x % 89999999);
        break;
    default: /* FR: 1-9 + 8 digits */
        snprintf(out, len, "+33%d%08" PRIu64, 1 + (int)(x % 9), x % 100000000);
        break;
    }
}

/* The same number as people dial it: national form with trunk prefix and
 * spaces for a third of calls, E.164 otherwise. */
static void dial_form(const char *e164, int r, char *out, size_t len,
                      uint64_t x)
{
    size_t cc = strlen(regions[r].cc);
    if (x % 3 == 0 && r != 1)
        snprintf(out, len, "0%.*s %s", 3, e164 + 1 + cc, e164 + 4 + cc);
    else if (x % 3 == 0)
        snprintf(out, len, "(%.3s) %.3s-%s", e164 + 2, e164 + 5, e164 + 8);
    else
        snprintf(out, len, "%s", e164);
}

/* ---- the plain hash "limit" ---------------------------------------------- */

typedef struct hent {
    uint64_t key;
    uint64_t val;
} hent;

typedef struct htab {
    hent *e;
    uint64_t mask;
} htab;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void ht_init(htab *h, uint64_t n)
{
    uint64_t c = 16;
    while (c < n * 2)
        c <<= 1;
    h->e = __libc_calloc(c, sizeof(hent));
    h->mask = c - 1;
}

static void ht_put(htab *h, uint64_t k, uint64_t v)
{
    for (uint64_t i = mix(k);; i++) {
        hent *e = &h->e[i & h->mask];
        if (e->key == 0 || e->key == k) {
            e->key = k;
            e->val = v;
            return;
        }
    }
}

static uint64_t ht_get(const htab *h, uint64_t k)
{
    for (uint64_t i = mix(k);; i++) {
        const hent *e = &h->e[i & h->mask];
        if (e->key == k)
            return e->val;
        if (e->key == 0)
            return 0;
    }
}

static uint64_t e164_key(const char *s)
{
    uint64_t v = 0;
    for (s++; *s; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v;
}

/* ---- measured passes ------------------------------------------------------
 */

#define MAX_ROUNDS 15

typedef struct bench_ctx {
    tsps_engine *eng;
    unsigned call_flags;
    const char (*dids)[20];
    const char (*calls)[40];
    const uint32_t *call_user;
    uint64_t n;
    uint64_t *lat; /* n latencies, sorted after each pass */
} bench_ctx;

typedef struct limit_ctx {
    const htab *did, *contact, *code, *events;
    const uint64_t *status;
    uint64_t *keys; /* caller keys prepared for the lookups-only pass */
    tsps_dialplan plans[4];
} limit_ctx;

/* One timed pass of tsps_route over the whole call mix; leaves the sorted
 * latencies in bc->lat and returns routes per second. */
static double route_pass(bench_ctx *bc, uint64_t *allocs_out, uint64_t *known)
{
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d;
    uint64_t total0, total1, t0;

    call.flags = bc->call_flags;
    count_allocs = 1;
    allocs = 0;
    total0 = now_ns();
    for (uint64_t i = 0; i < bc->n; i++) {
        call.caller = bc->calls[i];
        call.called = bc->dids[bc->call_user[i]];
        t0 = now_ns();
        if (tsps_route(bc->eng, &call, &d) != TSPS_OK) {
            fprintf(stderr, "route failed\n");
            exit(1);
        }
        bc->lat[i] = now_ns() - t0;
        *known += d.caller_kind == TSPS_CALLER_KNOWN;
    }
    total1 = now_ns();
    count_allocs = 0;
    *allocs_out = allocs;
    qsort(bc->lat, bc->n, sizeof(uint64_t), cmp_u64);
    return (double)bc->n / ((double)(total1 - total0) / 1e9);
}

static void limit_prepare(limit_ctx *lc, const bench_ctx *bc, const htab *did,
                          const htab *contact, const htab *code,
                          const htab *events, const uint64_t *status)
{
    lc->did = did;
    lc->contact = contact;
    lc->code = code;
    lc->events = events;
    lc->status = status;
    lc->keys = __libc_calloc(bc->n, sizeof(uint64_t));
    for (int r = 0; r < 4; r++)
        tsps_dialplan_for_region(regions[r].region, &lc->plans[r]);
    for (uint64_t i = 0; i < bc->n; i++) {
        tsps_number num;
        tsps_normalize(bc->calls[i], &lc->plans[bc->call_user[i] % 4], &num);
        lc->keys[i] = num.e164[0] == '+' ? e164_key(num.e164) : 1;
    }
}

/* The same chain in plain hashes: DID -> user, (user, caller) ->
 * contact/code, user -> status, user -> events, (user, code, status) ->
 * method. whole == 0: lookups only, keys prepared; whole == 1: the chain a
 * plain hash router would run, normalising both numbers first.
 * ratio_vs_limit compares the route with the whole chain. */
static void limit_pass(const limit_ctx *lc, bench_ctx *bc, int whole,
                       uint64_t *sink)
{
    for (uint64_t i = 0; i < bc->n; i++) {
        uint64_t u, c, s, e, m, ck = lc->keys[i], dk, t0;
        t0 = now_ns();
        if (whole) {
            tsps_number nc, nd;
            tsps_normalize(bc->dids[bc->call_user[i]], &lc->plans[0], &nd);
            dk = e164_key(nd.e164);
            tsps_normalize(bc->calls[i], &lc->plans[bc->call_user[i] % 4], &nc);
            ck = nc.e164[0] == '+' ? e164_key(nc.e164) : 1;
        } else {
            dk = e164_key(bc->dids[bc->call_user[i]]);
        }
        u = ht_get(lc->did, dk);
        c = ht_get(lc->contact, mix(u - 1) ^ ck);
        s = lc->status[u - 1];
        e = ht_get(lc->events, u);
        m = ht_get(lc->code, mix((u - 1) * 64 + (c + s + e) % 8) | 1);
        bc->lat[i] = now_ns() - t0;
        *sink += m;
    }
    qsort(bc->lat, bc->n, sizeof(uint64_t), cmp_u64);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* name=median, then name_min= and name_max= over the rounds. */
static void print_median(const char *name, const double *v, int n,
                         const char *fmt)
{
    double s[MAX_ROUNDS];
    char line[128];

    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_dbl);
    snprintf(line, sizeof(line), "%s=%s\n%s_min=%s\n%s_max=%s\n", name, fmt,
             name, fmt, name, fmt);
    printf(line, n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0],
           s[n - 1]);
}

/* What the figures depend on, so runs on two machines can be compared:
 * the CPU model and whether transparent huge pages back the contact
 * table. */
static void print_machine(void)
{
    char line[256], model[160] = "unknown", thp[64] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v != NULL)
                snprintf(model, sizeof(model), "%s", v + 2);
            break;
        }
    if (f != NULL)
        fclose(f);
    f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
        if (a != NULL && b != NULL)
            snprintf(thp, sizeof(thp), "%.*s", (int)(b - a - 1), a + 1);
    }
    if (f != NULL)
        fclose(f);
    model[strcspn(model, "\n")] = '\0';
    for (char *p = model; *p; p++)
        if (*p == ' ')
            *p = '_';
    printf("cpu_model=%s\n", model);
    printf("cpus_online=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("thp=%s\n", thp);
}

int main(int argc, char **argv)
{
    uint64_t nusers = 1000, ncontacts = 1000000, nroutes = 1000000;
    int rounds = 5;
    unsigned call_flags = TSPS_CALL_TRACE_LAZY;
    char dir[256] = "";
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *eng;
    tsps_stats st;
    char(*dids)[20];
    char(*calls)[40];
    uint32_t *call_user;
    uint64_t *lat, t0, known = 0;
    htab h_did, h_contact, h_code, h_events;
    uint64_t *h_status;
    uint64_t sink = 0;
    int rc;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--no-contact-cache") == 0 ||
            strcmp(argv[i], "--eager-trace") == 0) {
            if (argv[i][2] == 'n')
                cfg.flags |= TSPS_OPEN_NO_CONTACT_CACHE;
            else
                call_flags = 0;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
        }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--users") == 0)
            nusers = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--contacts") == 0)
            ncontacts = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--routes") == 0)
            nroutes = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            snprintf(dir, sizeof(dir), "%s", argv[i + 1]);
    }
    if (nusers == 0 || ncontacts < nusers || nroutes == 0 || rounds < 1 ||
        rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: route_bench [--users N] [--contacts N] "
                        "[--routes N] [--rounds 1..15] [--dir PATH] "
                        "[--no-contact-cache] [--eager-trace]\n");
        return 2;
    }
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/route_bench-XXXXXX");
        if (mkdtemp(dir) == NULL)
            return 1;
    }
    print_machine();
    cfg.path = dir;
    cfg.flags |= TSPS_OPEN_NOSYNC;
    cfg.map_size = (size_t)(ncontacts * 600 + (64u << 20));
    rc = tsps_engine_open(&cfg, &eng);
    if (rc != TSPS_OK) {
        fprintf(stderr, "open: %s\n", tsps_strerror(rc));
        return 1;
    }

    /* users, numbers, rules, registrations, a few events */
    dids = __libc_calloc(nusers, sizeof(*dids));
    ht_init(&h_did, nusers);
    ht_init(&h_code, nusers * 8);
    ht_init(&h_events, nusers);
    h_status = __libc_calloc(nusers, sizeof(uint64_t));
    {
        static const char *const rules[][3] = {
            {"VIP", "any", "ring parallel"},
            {"FAMILY", "any", "ring sequential timeout=15 then voicemail"},
            {"SALES", "any", "forward +4930999999"},
            {"BLOCK", "any", "reject decline"},
            {"UNKNOWN", "any", "ask timeout=20 then voicemail"},
            {"*", "meeting", "voicemail"},
            {"*", "off-hours", "voicemail"},
            {"VIP", "meeting", "ring devices=mobile"}};
        for (uint64_t u = 0; u < nusers; u++) {
            tsps_user usr;
            int r = (int)(u % 4);
            tsps_user_init(&usr);
            snprintf(usr.id, sizeof(usr.id), "user%06" PRIu64, u);
            strcpy(usr.dialplan.region, regions[r].region);
            strcpy(usr.tz, regions[r].tz);
            strcpy(usr.voicemail_uri, "sip:vm@pbx.example");
            if (tsps_user_put(eng, &usr) != TSPS_OK)
                return 1;
            make_number(r, 7000000 + u, dids[u], sizeof(dids[u]));
            if (tsps_number_add(eng, usr.id, dids[u]) != TSPS_OK)
                return 1;
            ht_put(&h_did, e164_key(dids[u]), u + 1);
            for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
                tsps_method m;
                tsps_method_parse(rules[k][2], &m, NULL, 0);
                tsps_code_set(eng, usr.id, rules[k][0],
                              (tsps_status)tsps_status_parse(rules[k][1]), &m);
                ht_put(&h_code, mix(u * 64 + k) | 1, k + 1);
            }
            for (int dv = 0; dv < 2; dv++) {
                tsps_registration reg;
                tsps_registration_init(&reg);
                snprintf(reg.contact, sizeof(reg.contact),
                         "sip:%s@10.%d.%d.%d:5060", usr.id, dv,
                         (int)(u / 256) % 256, (int)u % 256);
                strcpy(reg.label, dv ? "mobile" : "desk");
                reg.q = dv ? 900 : 500;
                reg.expires = (int64_t)time(NULL) + 86400;
                tsps_registration_put(eng, usr.id, &reg);
            }
            if (u % 3 == 0) {
                /* a one-hour meeting every working day this week */
                for (int d = 0; d < 5; d++) {
                    tsps_event ev;
                    tsps_event_init(&ev);
                    snprintf(ev.uid, sizeof(ev.uid), "standup-%d", d);
                    strcpy(ev.summary, "Stand-up");
                    ev.start = (int64_t)time(NULL) - 86400 * 2 + d * 86400;
                    ev.end = ev.start + 3600;
                    tsps_event_put(eng, usr.id, &ev);
                }
                ht_put(&h_events, u + 1, 1);
            }
        }
    }

    /* contacts, bulk-loaded in batches of one user's contacts; each batch
     * is prepared first so that only the engine's work is timed */
    ht_init(&h_contact, ncontacts);
    {
        uint64_t per = ncontacts / nusers, done = 0, spent = 0;
        static const char *const codes[] = {"VIP", "FAMILY", "SALES", "BLOCK",
                                            "",    "",       "",      ""};
        tsps_contact *cts = __libc_calloc(per, sizeof(*cts));
        if (cts == NULL)
            return 1;
        for (uint64_t u = 0; u < nusers; u++) {
            tsps_batch *b;
            char uid_s[32];
            snprintf(uid_s, sizeof(uid_s), "user%06" PRIu64, u);
            for (uint64_t c = 0; c < per; c++) {
                tsps_contact *ct = &cts[c];
                tsps_contact_init(ct);
                snprintf(ct->uid, sizeof(ct->uid), "c%08" PRIu64, c);
                snprintf(ct->name, sizeof(ct->name),
                         "Contact %" PRIu64 " of %s", c, uid_s);
                strcpy(ct->source, "bench");
                strcpy(ct->code, codes[c % 8]);
                ct->code_source = ct->code[0] ? TSPS_CODE_SRC_PROPERTY : 0;
                make_number((int)((u + c) % 4), u * per + c, ct->numbers[0],
                            sizeof(ct->numbers[0]));
                ct->nnumbers = 1;
                ht_put(&h_contact, mix(u) ^ e164_key(ct->numbers[0]),
                       (c % 8) + 1);
            }
            t0 = now_ns();
            if (tsps_batch_begin(eng, &b) != TSPS_OK)
                return 1;
            for (uint64_t c = 0; c < per; c++, done++) {
                rc = tsps_batch_contact_put(b, uid_s, &cts[c]);
                if (rc != TSPS_OK) {
                    fprintf(stderr, "contact put: %s\n", tsps_strerror(rc));
                    return 1;
                }
            }
            if (tsps_batch_commit(b) != TSPS_OK)
                return 1;
            spent += now_ns() - t0;
        }
        __libc_free(cts);
        printf("contacts=%" PRIu64 "\n", done);
        printf("bulk_load_contacts_per_s=%.0f\n", done / (spent / 1e9));
        ncontacts = done;
    }
    tsps_engine_stats(eng, &st);
    printf("store_bytes_per_contact=%.0f\n",
           (double)st.used_bytes / (double)ncontacts);

    /* the call mix, prepared before timing */
    calls = __libc_calloc(nroutes, sizeof(*calls));
    call_user = __libc_calloc(nroutes, sizeof(uint32_t));
    lat = __libc_calloc(nroutes, sizeof(uint64_t));
    {
        uint64_t per = ncontacts / nusers;
        for (uint64_t i = 0; i < nroutes; i++) {
            uint64_t x = rnd();
            uint64_t u = x % nusers;
            char e164[24];
            int r;
            call_user[i] = (uint32_t)u;
            if (x % 10 < 8) {
                uint64_t c = (x >> 20) % per;
                r = (int)((u + c) % 4);
                make_number(r, u * per + c, e164, sizeof(e164));
            } else {
                r = (int)(x >> 40) % 4;
                make_number(r, 900000000 + (x >> 8) % 100000000, e164,
                            sizeof(e164));
            }
            /* national forms only make sense in the user's own country */
            if (r == (int)(u % 4))
                dial_form(e164, r, calls[i], sizeof(calls[i]), x >> 50);
            else
                snprintf(calls[i], sizeof(calls[i]), "%s", e164);
        }
    }

    /* warm up: the first use builds the snapshot and a reader, and one
     * pass maps the store's pages into the process, as in a server that
     * has been running (page faults are not routing cost) */
    for (uint64_t i = 0; i < nroutes; i++) {
        tsps_call call = TSPS_CALL_INIT;
        tsps_decision d;
        call.flags = call_flags;
        call.caller = calls[i];
        call.called = dids[call_user[i]];
        tsps_route(eng, &call, &d);
    }
    {
        /* The route and the plain-hash limit are measured in interleaved
         * rounds (route, limit, route, limit, ...): on a noisy 2-core VM
         * the host's load drifts within seconds, and a ratio taken from
         * two passes minutes apart measures the drift, not the router.
         * Each round's ratio pairs the two sides measured next to each
         * other; the figures printed are medians over the rounds, with
         * the range beside them. */
        bench_ctx bc = {eng,
                        call_flags,
                        (const char(*)[20])dids,
                        (const char(*)[40])calls,
                        call_user,
                        nroutes,
                        lat};
        limit_ctx lc;
        double r_p50[MAX_ROUNDS], r_p99[MAX_ROUNDS], l_p50[MAX_ROUNDS],
            l_p99[MAX_ROUNDS], lk_p50[MAX_ROUNDS], ratio[MAX_ROUNDS],
            rps[MAX_ROUNDS];
        uint64_t alloc_total = 0;

        limit_prepare(&lc, &bc, &h_did, &h_contact, &h_code, &h_events,
                      h_status);
        for (int k = 0; k < rounds; k++) {
            uint64_t a0 = 0;
            rps[k] = route_pass(&bc, &a0, &known);
            alloc_total += a0;
            r_p50[k] = (double)lat[nroutes / 2];
            r_p99[k] = (double)lat[nroutes * 99 / 100];
            limit_pass(&lc, &bc, 0, &sink);
            lk_p50[k] = (double)lat[nroutes / 2];
            limit_pass(&lc, &bc, 1, &sink);
            l_p50[k] = (double)lat[nroutes / 2];
            l_p99[k] = (double)lat[nroutes * 99 / 100];
            ratio[k] = r_p50[k] / l_p50[k];
        }
        printf("routes=%" PRIu64 "\n", nroutes);
        printf("trace=%s\n", call_flags ? "lazy" : "eager");
        printf("rounds=%d\n", rounds);
        printf("known_callers_pct=%.1f\n",
               100.0 * (double)known / (double)(nroutes * (uint64_t)rounds));
        print_median("routes_per_s", rps, rounds, "%.0f");
        printf("allocs_per_route=%.3f\n",
               (double)alloc_total / (double)(nroutes * (uint64_t)rounds));
        print_median("route_ns_p50", r_p50, rounds, "%.0f");
        print_median("route_ns_p99", r_p99, rounds, "%.0f");
        print_median("limit_lookups_ns_p50", lk_p50, rounds, "%.0f");
        print_median("limit_ns_p50", l_p50, rounds, "%.0f");
        print_median("limit_ns_p99", l_p99, rounds, "%.0f");
        print_median("ratio_vs_limit", ratio, rounds, "%.2f");
        __libc_free(lc.keys);
    }
    if (sink == 42)
        printf("#\n");
    tsps_engine_close(eng);
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (strncmp(dir, "/tmp/route_bench-", 17) == 0 && system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}

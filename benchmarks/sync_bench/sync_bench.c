/*
 * sync_bench - 100k contacts as vCard files (1,000 files x 100 cards) in a
 * temp dir: parse speed, a full sync into an empty store (TSPS_OPEN_NOSYNC),
 * then an incremental sync with one changed file.
 *
 *   sync_bench [files] [cards-per-file]
 *
 * Prints name=value lines. Targets: full_sync_contacts_per_s >= 50000,
 * incremental_sync_ms <= 50.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmsb/cmsb.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *codes[] = {"", "", "", "VIP", "FAMILY", "SALES", "BLOCK"};

/* One file of n cards; `gen` changes the names (for the incremental run). */
static size_t write_file(const char *dir, int f, int n, int gen)
{
    char path[600];
    FILE *fp;
    long size;

    snprintf(path, sizeof(path), "%s/book-%04d.vcf", dir, f);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return 0;
    for (int i = 0; i < n; i++) {
        int id = f * n + i;
        const char *code = codes[id % 7];
        fprintf(fp,
                "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %d%s\r\n"
                "N:%d;Person;;;\r\nORG:Company %d\r\n"
                "TEL;TYPE=WORK,VOICE:+49 30 %07d\r\n"
                "TEL;TYPE=CELL:+49 171 %07d\r\n"
                "EMAIL;TYPE=INTERNET:person%d@example.com\r\n"
                "%s%s%s"
                "UID:bench-%07d\r\nEND:VCARD\r\n",
                id, gen ? " (changed)" : "", id, id % 500, id, id, id,
                code[0] ? "CATEGORIES:Kunden," : "", code,
                code[0] ? "\r\n" : "", id);
    }
    size = ftell(fp);
    fclose(fp);
    return size > 0 ? (size_t)size : 0;
}

static int count(void *arg, const tsps_contact *c)
{
    (void)c;
    (*(size_t *)arg)++;
    return 0;
}

/* A writer beside the sync, as the SIP front's history writes are: one
 * history record after another, each write's wait recorded. */
typedef struct writer {
    tsps_engine *eng;
    volatile int stop;
    size_t n;
    double lat[200000];
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    tsps_call call = TSPS_CALL_INIT;
    tsps_decision d;

    call.called = "+49 30 5550000";
    call.caller = "+49 30 1234567";
    if (tsps_route(w->eng, &call, &d) != TSPS_OK)
        return NULL;
    while (!w->stop && w->n < sizeof(w->lat) / sizeof(w->lat[0])) {
        uint64_t id;
        double t0 = now_s();
        if (tsps_history_append(w->eng, &d, TSPS_OUTCOME_REDIRECTED, &id) !=
            TSPS_OK)
            break;
        w->lat[w->n++] = (now_s() - t0) * 1000.0;
        usleep(500);
    }
    return NULL;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int files = argc > 1 ? atoi(argv[1]) : 1000;
    int per = argc > 2 ? atoi(argv[2]) : 100;
    char dir[] = "/tmp/sync-bench-XXXXXX", book[600], store[600], uri[700];
    char cmd[700];
    size_t bytes = 0, n = 0;
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    tsps_engine *eng = NULL;
    tsps_config cfg = TSPS_CONFIG_INIT;
    cmsb_sync_stats st;
    tsps_user u;
    double t0, t1;
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(book, sizeof(book), "%s/book", dir);
    snprintf(store, sizeof(store), "%s/store", dir);
    mkdir(book, 0700);
    mkdir(store, 0700);
    for (int f = 0; f < files; f++)
        bytes += write_file(book, f, per, 0);

    cmsb_registry_open(&reg);
    snprintf(uri, sizeof(uri), "vcard-dir:%s", book);
    rc = cmsb_source_open(reg, uri, NULL, &src);
    if (rc != CMSB_OK) {
        fprintf(stderr, "open: %s\n", cmsb_strerror(rc));
        return 1;
    }
    t0 = now_s();
    cmsb_contacts(src, count, &n);
    t1 = now_s();
    printf("contacts=%zu files=%d bytes=%zu\n", n, files, bytes);
    printf("parse_mb_per_s=%.1f\n", (double)bytes / 1e6 / (t1 - t0));

    cfg.path = store;
    cfg.flags = TSPS_OPEN_NOSYNC;
    cfg.map_size = (size_t)1 << 30;
    if (tsps_engine_open(&cfg, &eng) != TSPS_OK)
        return 1;
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "bench");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    if (tsps_user_put(eng, &u) != TSPS_OK)
        return 1;

    t0 = now_s();
    rc = cmsb_sync(src, eng, "bench", "book", 0, &st);
    t1 = now_s();
    if (rc != CMSB_OK) {
        fprintf(stderr, "sync: %s\n", cmsb_strerror(rc));
        return 1;
    }
    printf("full_sync_contacts=%llu batches=%llu\n",
           (unsigned long long)st.contacts_put, (unsigned long long)st.batches);
    printf("full_sync_s=%.3f\n", t1 - t0);
    printf("full_sync_contacts_per_s=%.0f\n",
           (double)st.contacts_put / (t1 - t0));

    write_file(book, files / 2, per, 1);
    t0 = now_s();
    rc = cmsb_sync(src, eng, "bench", "book", 0, &st);
    t1 = now_s();
    if (rc != CMSB_OK || st.contacts_put != (uint64_t)per) {
        fprintf(stderr, "incremental: %s put=%llu\n", cmsb_strerror(rc),
                (unsigned long long)st.contacts_put);
        return 1;
    }
    printf("incremental_sync_contacts=%llu\n",
           (unsigned long long)st.contacts_put);
    printf("incremental_sync_ms=%.1f\n", (t1 - t0) * 1000.0);

    /* a full resync while another thread writes history: how long does a
     * write wait behind the sync? */
    {
        writer *w = calloc(1, sizeof(*w));
        pthread_t th;
        if (w == NULL ||
            tsps_number_add(eng, "bench", "+49 30 5550000") != TSPS_OK)
            return 1;
        w->eng = eng;
        if (pthread_create(&th, NULL, writer_main, w) != 0)
            return 1;
        t0 = now_s();
        rc = cmsb_sync(src, eng, "bench", "book", 1, &st);
        t1 = now_s();
        w->stop = 1;
        pthread_join(th, NULL);
        if (rc != CMSB_OK || w->n == 0) {
            fprintf(stderr, "resync under writes: %s writes=%zu\n",
                    cmsb_strerror(rc), w->n);
            return 1;
        }
        qsort(w->lat, w->n, sizeof(double), cmp_dbl);
        printf("resync_s=%.3f\n", t1 - t0);
        printf("writes_during_sync=%zu\n", w->n);
        printf("write_during_sync_ms_p50=%.3f\n", w->lat[w->n / 2]);
        printf("write_during_sync_ms_p99=%.3f\n", w->lat[w->n * 99 / 100]);
        printf("write_during_sync_ms_max=%.3f\n", w->lat[w->n - 1]);
        free(w);
    }

    cmsb_source_close(src);
    tsps_engine_close(eng);
    cmsb_registry_close(reg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

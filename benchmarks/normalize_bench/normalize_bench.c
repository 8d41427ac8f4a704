/* normalize_bench: nanoseconds per tsps_normalize() call over a mix of
 * forms (international, 00, national, NANP, URIs, extensions, withheld,
 * invalid). Each sample times a batch of calls, so clock overhead stays
 * out of the figure; p50/p99 are over the batches.
 *
 *   normalize_bench [--batches N]
 *
 * Prints: normalize_ns_p50=, normalize_ns_p99=, normalize_calls_per_s=,
 * and normalize_ns_<form>= for each form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsps/tsps.h"

typedef struct form {
    const char *name;
    const char *region;
    const char *in;
} form;

static const form forms[] = {
    {"e164", "DE", "+49301234567"},
    {"intl_spaced", "DE", "+49 30 1234567"},
    {"idd_00", "DE", "0049 30 1234567"},
    {"national", "DE", "030 1234567"},
    {"nanp", "US", "(202) 555-0143"},
    {"no_trunk", "IT", "06 1234 5678"},
    {"ext", "DE", "030 1234567 ext. 12"},
    {"tel_uri", "US", "tel:+1-202-555-0143;ext=12"},
    {"sip_uri", "DE", "sip:+49301234567@example.com;user=phone"},
    {"withheld", "DE", "anonymous"},
    {"local", "DE", "1234567"},
    {"invalid", "DE", "+999 1234567"},
};
#define NFORMS (sizeof(forms) / sizeof(forms[0]))
#define BATCH  64

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    tsps_dialplan plans[NFORMS];
    tsps_number n;
    long batches = 20000;
    double *samples;
    double total = 0;
    volatile unsigned sink = 0;

    if (argc == 3 && strcmp(argv[1], "--batches") == 0)
        batches = atol(argv[2]);
    if (batches < 100)
        batches = 100;
    for (size_t f = 0; f < NFORMS; f++) {
        if (tsps_dialplan_for_region(forms[f].region, &plans[f]) != TSPS_OK) {
            fprintf(stderr, "no region %s\n", forms[f].region);
            return 1;
        }
    }
    samples = malloc(sizeof(double) * (size_t)batches);
    if (samples == NULL)
        return 1;

    /* the mix: each batch cycles through all forms */
    for (long b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            size_t f = (size_t)(b + i) % NFORMS;
            sink += (unsigned)tsps_normalize(forms[f].in, &plans[f], &n);
        }
        samples[b] = (now_ns() - t0) / BATCH;
        total += samples[b] * BATCH;
    }
    qsort(samples, (size_t)batches, sizeof(double), cmp_double);
    printf("normalize_calls=%ld\n", batches * BATCH);
    printf("normalize_ns_p50=%.1f\n", samples[batches / 2]);
    printf("normalize_ns_p99=%.1f\n", samples[batches * 99 / 100]);
    printf("normalize_calls_per_s=%.0f\n",
           1e9 * (double)(batches * BATCH) / total);

    /* each form on its own */
    for (size_t f = 0; f < NFORMS; f++) {
        long reps = batches * BATCH / (long)NFORMS;
        double t0 = now_ns();
        for (long i = 0; i < reps; i++)
            sink += (unsigned)tsps_normalize(forms[f].in, &plans[f], &n);
        printf("normalize_ns_%s=%.1f\n", forms[f].name,
               (now_ns() - t0) / (double)reps);
    }
    free(samples);
    return sink == 12345 ? 1 : 0;
}

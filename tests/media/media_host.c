/*
 * media_host.c - a small host for the media front, for tests and the
 * benchmark: fixed users, a temp data folder, tokens signed with
 * HMAC-SHA256 under a key given on the command line.
 *
 *   media_host --data DIR --key KEY [--port P] [--rtp MIN-MAX]
 *              [--silence-ms N] [--max-ms N] [--quota N] [--rtp-timeout-ms N]
 *              [--device USER=URI]... [--fsize-limit BYTES]
 *              [--rt-priority N] [--max-calls N]
 *
 * Token (what tspsd's SIP front would put into the 302's Contact user part
 * after "vm."): hex(payload) "." hex(HMAC-SHA256(key, payload)), payload
 * "user|caller|contact|code|history_id|language|expires_unix".
 * Prints "READY port=N" when serving; events as "EVENT kind user json".
 * Reads commands on stdin: "list USER", "count USER", "heard USER ID",
 * "delete USER ID", "stats", "quit" (EOF = quit).
 */
#include "media_front.h"
#include "media_ivr.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct host {
    const char *key;
    char devices[16][2][256];
    int ndev;
    pthread_mutex_t out;
} host;

static int unhex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (n % 2) ? -1 : 0;
}

static int verify(void *ctx, const char *token, tspsd_media_call_info *out)
{
    host *h = ctx;
    const char *dot = strchr(token, '.');
    unsigned char payload[512], mac[32], want[32];
    unsigned int maclen = 0;
    size_t plen;
    char *fields[7], *save = NULL, *p;
    int nf = 0;

    if (dot == NULL || (size_t)(dot - token) / 2 >= sizeof(payload) ||
        strlen(dot + 1) != 64)
        return -1;
    plen = (size_t)(dot - token) / 2;
    if (unhex(token, (size_t)(dot - token), payload) != 0 ||
        unhex(dot + 1, 64, mac) != 0)
        return -1;
    HMAC(EVP_sha256(), h->key, (int)strlen(h->key), payload, plen, want,
         &maclen);
    if (maclen != 32 || CRYPTO_memcmp(mac, want, 32) != 0)
        return -1;
    payload[plen] = '\0';
    /* strsep keeps empty fields */
    save = (char *)payload;
    while (nf < 7 && (p = strsep(&save, "|")) != NULL)
        fields[nf++] = p;
    if (nf != 7 || atoll(fields[6]) < (long long)time(NULL))
        return -1;
    snprintf(out->user, sizeof(out->user), "%s", fields[0]);
    snprintf(out->caller, sizeof(out->caller), "%s", fields[1]);
    snprintf(out->contact, sizeof(out->contact), "%s", fields[2]);
    snprintf(out->code, sizeof(out->code), "%s", fields[3]);
    snprintf(out->history_id, sizeof(out->history_id), "%s", fields[4]);
    snprintf(out->language, sizeof(out->language), "%s", fields[5]);
    return 0;
}

static void publish(void *ctx, const char *kind, const char *user,
                    const char *json)
{
    host *h = ctx;

    pthread_mutex_lock(&h->out);
    printf("EVENT %s %s %s\n", kind, user, json);
    fflush(stdout);
    pthread_mutex_unlock(&h->out);
}

static int list_devices(void *ctx, const char *user,
                        void (*cb)(void *, const char *), void *arg)
{
    host *h = ctx;

    for (int i = 0; i < h->ndev; i++)
        if (strcmp(h->devices[i][0], user) == 0)
            cb(arg, h->devices[i][1]);
    return 0;
}

static void log_line(void *ctx, int level, const char *line)
{
    static const char *lv[] = {"error", "warn", "info", "debug"};

    if (level > 2 && getenv("MEDIA_HOST_DEBUG") == NULL)
        return;
    fprintf(stderr, "level=%s room=media %s\n", lv[level & 3], line);
}

/* IVR routing, a fixed table: the first word of the menu's action names
 * the target, "sip:<word>.<digit>@ivr.test;menu=<path with . for />". */
static int route_digit(void *ctx, const tspsd_media_call_info *call,
                       const char *menu_path, const char *digit,
                       const char *action, char *target, size_t target_len,
                       char *trace, size_t trace_len)
{
    char word[32] = "", path[128];
    size_t i;

    (void)ctx;
    if (sscanf(action, "%31[a-z]", word) != 1)
        return -1;
    snprintf(path, sizeof(path), "%s", menu_path);
    for (i = 0; path[i] != '\0'; i++)
        if (path[i] == '/')
            path[i] = '.';
    snprintf(target, target_len, "sip:%s.%s@ivr.test;menu=%s", word,
             strcmp(digit, "#") == 0   ? "pound"
             : strcmp(digit, "*") == 0 ? "star"
                                       : digit,
             path);
    snprintf(trace, trace_len, "IVR digit %s -> %s (caller %s)", digit, action,
             call->caller);
    return 0;
}

static const tspsd_media_host ops = {
    .version = TSPSD_MEDIA_HOST_VERSION,
    .verify_token = verify,
    .publish = publish,
    .list_devices = list_devices,
    .log = log_line,
    .route_digit = route_digit,
};

static void command(tspsd_media_front *mf, host *h, char *line)
{
    char cmd[16] = "", user[64] = "", id[64] = "";
    tspsd_media_message msgs[64];
    size_t n = 0;
    unsigned nn = 0, no = 0;
    int rc;

    if (sscanf(line, "%15s %63s %63s", cmd, user, id) < 1)
        return;
    pthread_mutex_lock(&h->out);
    if (strcmp(cmd, "ivr") == 0) { /* ivr USER FILE: store USER's menus */
        char file[1024] = "", text[40000], err[256] = "";
        size_t len = 0;
        FILE *f;
        if (sscanf(line, "%*s %*s %1023s", file) == 1 &&
            (f = fopen(file, "rb")) != NULL) {
            len = fread(text, 1, sizeof(text), f);
            fclose(f);
        }
        rc = tspsd_media_ivr_put(mf, user, text, len, err, sizeof(err));
        printf("END ivr rc=%d err=%s\n", rc, err);
    } else if (strcmp(cmd, "list") == 0) {
        rc = tspsd_media_inbox_list(mf, user, msgs, 64, &n);
        for (size_t i = 0; i < n && i < 64; i++)
            printf(
                "MSG %s caller=%s code=%s history=%s duration_ms=%u heard=%d\n",
                msgs[i].id, msgs[i].caller, msgs[i].code, msgs[i].history_id,
                msgs[i].duration_ms, msgs[i].heard);
        printf("END list rc=%d n=%zu\n", rc, n);
    } else if (strcmp(cmd, "count") == 0) {
        rc = tspsd_media_inbox_count(mf, user, &nn, &no);
        printf("END count rc=%d new=%u old=%u\n", rc, nn, no);
    } else if (strcmp(cmd, "heard") == 0) {
        pthread_mutex_unlock(&h->out);
        rc = tspsd_media_inbox_mark_heard(mf, user, id);
        pthread_mutex_lock(&h->out);
        printf("END heard rc=%d\n", rc);
    } else if (strcmp(cmd, "delete") == 0) {
        pthread_mutex_unlock(&h->out);
        rc = tspsd_media_inbox_delete(mf, user, id);
        pthread_mutex_lock(&h->out);
        printf("END delete rc=%d\n", rc);
    } else if (strcmp(cmd, "stats") == 0) {
        tspsd_media_stats st;
        tspsd_media_front_stats(mf, &st);
        printf("STATS answered=%llu active=%llu stored=%llu store_fail=%llu "
               "sent=%llu received=%llu dropped=%llu late=",
               (unsigned long long)st.calls_answered,
               (unsigned long long)st.calls_active,
               (unsigned long long)st.messages_stored,
               (unsigned long long)st.store_failures,
               (unsigned long long)st.frames_sent,
               (unsigned long long)st.frames_received,
               (unsigned long long)st.frames_dropped_source);
        for (int i = 0; i < 200; i++)
            printf("%s%llu", i ? "," : "", (unsigned long long)st.late_hist[i]);
        printf("\nEND stats\n");
    } else {
        printf("END error unknown command\n");
    }
    fflush(stdout);
    pthread_mutex_unlock(&h->out);
}

int main(int argc, char **argv)
{
    tspsd_media_config cfg = TSPSD_MEDIA_CONFIG_INIT;
    tspsd_media_front *mf = NULL;
    host h = {0};
    char line[512];
    long fsize = 0;
    int rc;

    pthread_mutex_init(&h.out, NULL);
    cfg.sip_port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--data") == 0)
            cfg.data_dir = v;
        else if (strcmp(a, "--key") == 0)
            h.key = v;
        else if (strcmp(a, "--port") == 0)
            cfg.sip_port = (uint16_t)atoi(v);
        else if (strcmp(a, "--rtp") == 0) {
            unsigned lo, hi;
            if (sscanf(v, "%u-%u", &lo, &hi) == 2) {
                cfg.rtp_port_min = (uint16_t)lo;
                cfg.rtp_port_max = (uint16_t)hi;
            }
        } else if (strcmp(a, "--silence-ms") == 0)
            cfg.silence_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--max-ms") == 0)
            cfg.max_message_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--quota") == 0)
            cfg.quota_messages = (unsigned)atoi(v);
        else if (strcmp(a, "--max-calls") == 0)
            cfg.max_calls = (unsigned)atoi(v);
        else if (strcmp(a, "--rtp-timeout-ms") == 0)
            cfg.rtp_timeout_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--rt-priority") == 0)
            cfg.rt_priority = atoi(v);
        else if (strcmp(a, "--fsize-limit") == 0)
            fsize = atol(v);
        else if (strcmp(a, "--device") == 0 && h.ndev < 16) {
            const char *eq = strchr(v, '=');
            if (eq != NULL) {
                snprintf(h.devices[h.ndev][0], 256, "%.*s", (int)(eq - v), v);
                snprintf(h.devices[h.ndev][1], 256, "%s", eq + 1);
                h.ndev++;
            }
        } else {
            fprintf(stderr, "media_host: unknown option %s\n", a);
            return 2;
        }
    }
    if (cfg.data_dir == NULL || h.key == NULL) {
        fprintf(stderr, "usage: media_host --data DIR --key KEY [...]\n");
        return 2;
    }
    rc = tspsd_media_front_new(&cfg, &ops, &h, &mf);
    if (rc != TSPSD_MEDIA_OK) {
        fprintf(stderr, "media_host: %s\n", tspsd_media_strerror(rc));
        return 1;
    }
    if (fsize > 0) {
        /* a full disk, for the failed-write test: writes past this fail */
        struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    rc = tspsd_media_front_start(mf);
    if (rc != TSPSD_MEDIA_OK) {
        fprintf(stderr, "media_host: %s\n", tspsd_media_strerror(rc));
        tspsd_media_front_free(mf);
        return 1;
    }
    printf("READY port=%u\n", (unsigned)tspsd_media_front_sip_port(mf));
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (strncmp(line, "quit", 4) == 0)
            break;
        command(mf, &h, line);
    }
    tspsd_media_front_free(mf);
    pthread_mutex_destroy(&h.out);
    return 0;
}

/*
 * carddav_sync: what a CardDAV sync costs against a real server.
 *
 * --server radicale (default) | xandikos | sabre, started by
 * tests/dav/dav_server.sh with its data on tmpfs when there is one. Seeds
 * N contacts (default 10000): Radicale by writing vCard files straight
 * into its collection folder (one warm-up request lets it build its item
 * cache), sabre/dav by inserting rows into its SQLite tables, Xandikos
 * by committing them to its git tree in one commit (xandikos_seed.py).
 * Then measures:
 *   full_sync_s                cmsb_sync into an empty store
 *   incremental_one_change_ms  cmsb_sync after one card changed (median)
 *   server_roundtrip_ms        the bare requests any client needs for the
 *                              same change (median): one sync-collection
 *                              REPORT with data; on sabre/dav (no
 *                              sync-collection) the Depth 1 etag listing
 *                              and a multiget of the one card
 *   incremental_ratio_vs_report  the two above; target <= 1.2
 *   server_roundtrip_with_fetch_ms  the same plus a multiget of the card
 *                              when the REPORT carried no card data
 *                              (Xandikos), and its ratio
 *                              incremental_ratio_vs_report_with_fetch
 *   full_sync_maxrss_kb        the process's peak RSS before and after the
 *                              full sync (getrusage; the growth is what
 *                              the sync held at most: answers, parse)
 *   idle_poll_bytes            bytes on the wire (both ways, headers
 *                              included) of a sync when nothing changed;
 *                              targets <= 1024 with sync-collection,
 *                              <= 2048 for sabre's Depth 0 ctag
 * Usage: carddav_sync [--server NAME] [--uri-options OPTS] [contacts]
 *        [rounds]   (OPTS: the source URI's fragment, e.g. syncdata=0)
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmsb/cmsb.h>

static char W[512], shm[512], coll[600];
static int port;
static const char *server = "radicale";
static char book[200];       /* the address book's path on the server */
static long long wire_bytes; /* summed from the adapter's "dav: http" lines */

static void on_log(void *arg, int level, const char *msg)
{
    const char *u = strstr(msg, "bytes_up="), *d = strstr(msg, "bytes_down=");
    (void)arg;
    (void)level;
    if (strstr(msg, "msg=\"dav: http\"") != NULL && u != NULL && d != NULL) {
        wire_bytes += atoll(u + 9) + atoll(d + 11);
        if (getenv("CARDDAV_SYNC_VERBOSE") != NULL)
            fprintf(stderr, "%s\n", msg);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
    FILE *fp = arg;
    (void)p;
    if (fp != NULL)
        fwrite(p, sz, n, fp);
    return sz * n;
}

/* One request; body of the answer into out (if non-NULL). */
static long http(CURL *c, const char *method, const char *path,
                 const char *body, const char *depth, char **out)
{
    char url[600], dh[32];
    struct curl_slist *h = NULL;
    long st = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = out != NULL ? open_memstream(&buf, &len) : NULL;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    h = curl_slist_append(h, "Content-Type: application/xml");
    if (depth != NULL) {
        snprintf(dh, sizeof(dh), "Depth: %s", depth);
        h = curl_slist_append(h, dh);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERNAME, "alice");
    curl_easy_setopt(c, CURLOPT_PASSWORD, "secret");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, fp);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    if (fp != NULL) {
        fclose(fp);
        *out = buf;
    }
    return st;
}

static const char *SYNC_FMT =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:sync-collection xmlns:D=\"DAV:\" "
    "xmlns:X=\"urn:ietf:params:xml:ns:carddav\"><D:sync-token>%s"
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>%s"
    "</D:prop></D:sync-collection>";

static int report_had_data; /* the last report() answer carried cards */

/* sync-collection from token; returns the new token (malloc'ed). */
static char *report(CURL *c, const char *token, int data)
{
    char body[1024], *out = NULL, *a, *b, *tok = NULL;

    snprintf(body, sizeof(body), SYNC_FMT, token,
             data ? "<X:address-data/>" : "");
    if (http(c, "REPORT", book, body, "0", &out) != 207) {
        fprintf(stderr, "REPORT failed\n");
        exit(1);
    }
    report_had_data = strstr(out, "BEGIN:VCARD") != NULL;
    /* <sync-token>, <D:sync-token>, <ns0:sync-token>: the top-level one */
    a = strstr(out, "sync-token>");
    b = a != NULL ? strchr(a + 11, '<') : NULL;
    if (a != NULL && b != NULL)
        tok = strndup(a + 11, (size_t)(b - a - 11));
    free(out);
    return tok;
}

static void multiget_one(CURL *c, int k);

/* sabre/dav without sync-collection: the etag listing and a multiget of
 * the one changed card, what any listing client needs at least */
static void listing_roundtrip(CURL *c, int k)
{
    if (http(c, "PROPFIND", book,
             "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>"
             "<D:getetag/></D:prop></D:propfind>",
             "1", NULL) != 207) {
        fprintf(stderr, "PROPFIND failed\n");
        exit(1);
    }
    multiget_one(c, k);
}

/* the card's data, when the sync-collection answer did not carry it */
static void multiget_one(CURL *c, int k)
{
    char body[1024];

    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?><C:addressbook-multiget xmlns:D=\"DAV:\" "
             "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:prop><D:getetag/>"
             "<C:address-data/></D:prop><D:href>%sc%05d.vcf</D:href>"
             "</C:addressbook-multiget>",
             book, k);
    if (http(c, "REPORT", book, body, "1", NULL) != 207) {
        fprintf(stderr, "multiget failed\n");
        exit(1);
    }
}

/* The bare requests for one change, timed: *only the REPORT (or the
 * listing + multiget) into *t, and with the multiget of the card a REPORT
 * without data needs into *t_fetch. */
static void bare(CURL *c, const char *tok, int k, int sync_coll, char **t2,
                 double *t, double *t_fetch)
{
    double a = now_s();

    if (sync_coll)
        *t2 = report(c, tok, 1);
    else
        listing_roundtrip(c, k);
    *t = now_s() - a;
    if (sync_coll && !report_had_data)
        multiget_one(c, k);
    *t_fetch = now_s() - a;
}

static void card(char *buf, size_t len, int i, int gen)
{
    snprintf(buf, len,
             "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c%05d\r\nFN:Contact %d gen %d"
             "\r\nN:%d;Contact;;;\r\nTEL;TYPE=CELL:+49 30 %07d\r\n"
             "EMAIL:c%d@example.org\r\n%sEND:VCARD\r\n",
             i, i, gen, i, 1000000 + i, i,
             i % 10 == 0 ? "X-TSPS-CODE:VIP\r\n" : "");
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stop_server(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s/tests/dav/dav_server.sh %s stop '%s'",
             TSPS_SOURCE_DIR, server, W);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop %s\n", server);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", W, shm);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", W);
}

/* sabre/dav: the cards as rows of its PDO tables, in one transaction
 * (php, as the server itself writes them) */
static int feed(const char *cmd, int n);

static int seed_sabre(int n)
{
    char script[600], cmd[2048];
    FILE *fp;

    snprintf(script, sizeof(script), "%s/seed.php", W);
    fp = fopen(script, "w");
    if (fp == NULL)
        return -1;
    fputs("<?php\n$p = new PDO('sqlite:' . $argv[1]);\n"
          "$p->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);\n"
          "$id = $p->query(\"SELECT id FROM addressbooks WHERE principaluri"
          " = 'principals/alice' AND uri = 'contacts'\")->fetchColumn();\n"
          "$p->beginTransaction();\n"
          "$st = $p->prepare('INSERT INTO cards (addressbookid, carddata, uri,"
          " lastmodified) VALUES (?, ?, ?, ?)');\n"
          "while (($l = fgets(STDIN)) !== false) {\n"
          "  list($uri, $data) = explode(' ', rtrim($l, \"\\n\"), 2);\n"
          "  $st->execute(array($id, str_replace('\\\\n', \"\\r\\n\", $data),"
          " $uri, time()));\n}\n"
          "$p->exec('UPDATE addressbooks SET ctag = ctag + 1 WHERE id = ' . "
          "$id);\n$p->commit();\n",
          fp);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "php '%s' '%s/sabre.sqlite'", script, coll);
    return feed(cmd, n);
}

/* Xandikos: the cards into the book's git tree, one commit
 * (xandikos_seed.py, with the dulwich Xandikos uses) */
static int seed_xandikos(int n)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/benchmarks/carddav_sync/xandikos_seed.py "
             "'%s/alice/contacts/book'",
             TSPS_SOURCE_DIR, coll);
    return feed(cmd, n);
}

/* Lines "c00042.vcf <card with \n for line ends>" into a command. */
static int feed(const char *cmd, int n)
{
    char text[512];
    FILE *fp = popen(cmd, "w");

    if (fp == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        card(text, sizeof(text), i, 0);
        fprintf(fp, "c%05d.vcf ", i);
        for (const char *t = text; *t != '\0'; t++) {
            if (*t == '\r')
                continue;
            if (*t == '\n')
                fputs("\\n", fp);
            else
                fputc(*t, fp);
        }
        fputc('\n', fp);
    }
    return pclose(fp) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = 10000, rounds = 5, pos = 0;
    char cmd[2048], path[900], text[512], uri[400], store[600];
    double t0, full_s, *inc, *rep, *rep2;
    FILE *p;
    CURL *c;
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *eng = NULL;
    tsps_user u;
    cmsb_sync_stats st;
    char *tok;
    int sync_coll;
    const char *uri_opts = NULL;
    struct rusage ru;
    long rss0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server = argv[++i];
        else if (strcmp(argv[i], "--uri-options") == 0 && i + 1 < argc)
            uri_opts = argv[++i];
        else if (pos++ == 0)
            n = atoi(argv[i]);
        else
            rounds = atoi(argv[i]);
    }
    if (n <= 0 || rounds <= 0 ||
        (strcmp(server, "radicale") != 0 && strcmp(server, "xandikos") != 0 &&
         strcmp(server, "sabre") != 0)) {
        fprintf(stderr, "usage: carddav_sync [--server radicale|xandikos|"
                        "sabre] [--uri-options OPTS] [contacts] [rounds]\n");
        return 2;
    }
    snprintf(book, sizeof(book), "%s",
             strcmp(server, "xandikos") == 0 ? "/alice/contacts/book/"
             : strcmp(server, "sabre") == 0
                 ? "/dav.php/addressbooks/alice/contacts/"
                 : "/alice/contacts/");
    snprintf(W, sizeof(W), "/tmp/carddav-bench-XXXXXX");
    if (mkdtemp(W) == NULL)
        return 1;
    /* collections on tmpfs when there is one: Radicale fsyncs every file
     * it writes, which would make seeding (not syncing) take minutes */
    snprintf(coll, sizeof(coll), "%s/collections", W);
    if (access("/dev/shm", W_OK) == 0) {
        snprintf(shm, sizeof(shm), "/dev/shm/carddav-bench-XXXXXX");
        if (mkdtemp(shm) != NULL)
            snprintf(coll, sizeof(coll), "%s", shm);
        else
            shm[0] = '\0';
    }
    snprintf(cmd, sizeof(cmd),
             "DAV_STORE='%s' %s/tests/dav/dav_server.sh %s start '%s'", coll,
             TSPS_SOURCE_DIR, server, W);
    p = popen(cmd, "r");
    if (p == NULL || fscanf(p, "%d", &port) != 1 || pclose(p) != 0) {
        fprintf(stderr, "%s did not start (scripts/deps.sh test)\n", server);
        return 77;
    }
    printf("server=%s\n", server);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    if (http(c, "MKCOL", book,
             "<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
             "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop>"
             "<D:resourcetype><D:collection/><C:addressbook/>"
             "</D:resourcetype></D:prop></D:set></D:mkcol>",
             NULL, NULL) != 201) {
        fprintf(stderr, "MKCOL failed\n");
        stop_server();
        return 1;
    }
    t0 = now_s();
    if (strcmp(server, "sabre") == 0 && seed_sabre(n) != 0) {
        fprintf(stderr, "seeding sabre failed\n");
        stop_server();
        return 1;
    }
    if (strcmp(server, "xandikos") == 0 && seed_xandikos(n) != 0) {
        fprintf(stderr, "seeding xandikos failed\n");
        stop_server();
        return 1;
    }
    /* Radicale: files straight into the collection folder */
    for (int i = 0; i < n && strcmp(server, "radicale") == 0; i++) {
        FILE *fp;
        snprintf(path, sizeof(path),
                 "%s/collection-root/alice/contacts/c%05d.vcf", coll, i);
        card(text, sizeof(text), i, 0);
        fp = fopen(path, "w");
        if (fp == NULL) {
            perror(path);
            stop_server();
            return 1;
        }
        fputs(text, fp);
        fclose(fp);
    }
    if (strcmp(server, "radicale") == 0)
        free(report(c, "", 0)); /* warm-up: Radicale builds its cache */
    printf("contacts=%d\nseed_s=%.3f\n", n, now_s() - t0);

    snprintf(store, sizeof(store), "%s/store", W);
    mkdir(store, 0700);
    cfg.path = store;
    if (tsps_engine_open(&cfg, &eng) != TSPS_OK) {
        stop_server();
        return 1;
    }
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "alice");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    tsps_user_put(eng, &u);
    cmsb_registry_open(&reg);
    o.username = "alice";
    o.password = "secret";
    o.log = on_log;
    o.timeout_ms = 120000;
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/%s%s", port,
             uri_opts != NULL ? "#" : "", uri_opts != NULL ? uri_opts : "");
    if (cmsb_source_open(reg, uri, &o, &src) != CMSB_OK) {
        fprintf(stderr, "open failed\n");
        stop_server();
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    rss0 = ru.ru_maxrss;
    t0 = now_s();
    if (cmsb_sync(src, eng, "alice", "dav", 0, &st) != CMSB_OK ||
        st.contacts_put != (uint64_t)n) {
        fprintf(stderr, "full sync failed\n");
        stop_server();
        return 1;
    }
    full_s = now_s() - t0;
    printf("full_sync_s=%.3f\n", full_s);
    getrusage(RUSAGE_SELF, &ru);
    printf("full_sync_maxrss_kb=%ld->%ld\n", rss0, ru.ru_maxrss);

    /* an idle poll: what goes over the wire when nothing changed */
    wire_bytes = 0;
    if (cmsb_sync(src, eng, "alice", "dav", 0, &st) != CMSB_OK ||
        st.contacts_put != 0) {
        fprintf(stderr, "idle sync failed\n");
        stop_server();
        return 1;
    }
    printf("idle_poll_bytes=%lld\n", wire_bytes);

    inc = calloc((size_t)rounds, sizeof(double));
    rep = calloc((size_t)rounds, sizeof(double));
    rep2 = calloc((size_t)rounds, sizeof(double));
    sync_coll = strcmp(server, "sabre") != 0;
    /* the token the source now holds */
    tok = sync_coll ? report(c, "", 0) : NULL;
    for (int r = 0; r < rounds; r++) {
        char *t2;
        double b;
        int k = (r * 7919) % n;
        snprintf(path, sizeof(path), "%sc%05d.vcf", book, k);
        card(text, sizeof(text), k, r + 1);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        if (http(c, "PUT", path, text, NULL, NULL) / 100 != 2) {
            fprintf(stderr, "PUT failed\n");
            stop_server();
            return 1;
        }
        /* alternate the order so neither side profits from the other */
        t2 = NULL;
        if (r % 2 == 0) {
            bare(c, tok, k, sync_coll, &t2, &rep[r], &rep2[r]);
            b = now_s();
            cmsb_sync(src, eng, "alice", "dav", 0, &st);
            inc[r] = now_s() - b;
        } else {
            b = now_s();
            cmsb_sync(src, eng, "alice", "dav", 0, &st);
            inc[r] = now_s() - b;
            bare(c, tok, k, sync_coll, &t2, &rep[r], &rep2[r]);
        }
        if (st.contacts_put != 1 || st.full) {
            fprintf(stderr, "incremental sync did not see one change\n");
            stop_server();
            return 1;
        }
        free(tok);
        tok = t2;
    }
    qsort(inc, (size_t)rounds, sizeof(double), cmp_d);
    qsort(rep, (size_t)rounds, sizeof(double), cmp_d);
    printf("incremental_one_change_ms=%.1f\n", inc[rounds / 2] * 1000);
    printf("server_roundtrip_ms=%.1f\n", rep[rounds / 2] * 1000);
    printf("incremental_ratio_vs_report=%.2f\n",
           inc[rounds / 2] / rep[rounds / 2]);
    /* what a client needs when the REPORT carries no card data
     * (Xandikos): the REPORT and a multiget of the changed card */
    qsort(rep2, (size_t)rounds, sizeof(double), cmp_d);
    printf("server_roundtrip_with_fetch_ms=%.1f\n", rep2[rounds / 2] * 1000);
    printf("incremental_ratio_vs_report_with_fetch=%.2f\n",
           inc[rounds / 2] / rep2[rounds / 2]);
    free(tok);
    free(inc);
    free(rep);
    free(rep2);
    cmsb_source_close(src);
    cmsb_registry_close(reg);
    tsps_engine_close(eng);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    stop_server();
    return 0;
}

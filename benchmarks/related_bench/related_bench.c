/*
 * related_bench: what a related-items lookup costs, at library level.
 *
 * Mail: writes N messages (default 100000) straight into the Maildir of a
 * real Dovecot (tests/related/dovecot.sh) - P people (N / 50), each
 * message from one of them to the user, a fifth with a second person in
 * Cc, encoded-word subjects, some multipart with an attachment, dates
 * over two years - then lets Dovecot index the mailbox once (one SELECT
 * and one SEARCH, as a server that has been running would have).
 *   related_search_first_ms_p50  without the index: a new source whose
 *                             lookup is the server's SEARCH FROM/TO/CC
 *   imap_index_build_s        the adapter's header index (?index=DIR),
 *                             built from nothing through cmsb_changes()
 *   imap_index_refresh_nochange_ms  a refresh when nothing arrived
 *   imap_index_bytes          its size on disk (allocated blocks)
 *   lib_related_first_ms_p50/p99  cold, index built: a new imap source
 *                             (connect, login, SELECT, open the index, its
 *                             refresh thread starting) + one lookup for a
 *                             person not asked before (limit 20, last 365
 *                             days)
 *   lib_related_warm_ms_p50   the same source again, another person (the
 *                             connection reused); not a result cache
 *   maildir_lookup_ms_p50     the maildir adapter on the same tree (reads
 *                             every header block: no index)
 * Documents: a tree of D files (default 10000: Markdown and text, 2 % PDF
 * made with cairo, 2 % ODT, 2 % DOCX) in 100 folders.
 *   doc_index_files_per_s     first full index (read + extract + save)
 *   doc_rescan_nochange_ms    incremental scan, nothing changed
 *   doc_rescan_one_change_ms  incremental scan, one file changed
 *   doc_lookup_ms_p50/p99     a lookup over the index (no file read)
 *   doc_index_load_ms         opening the source again (loads the index)
 * The same tree served by Apache mod_dav (tests/related/apache_dav.sh):
 *   dav_doc_index_files_per_s the docs-dav adapter's first full index
 *                             (PROPFIND of each folder, GET, extract)
 *   dav_doc_refresh_nochange_ms  a refresh when nothing changed (the
 *                             PROPFINDs, no GET)
 *   dav_doc_lookup_ms_p50     a lookup over its index
 * Through tspsd (built with the bench: TSPSD_BIN), as the pop-up gets them:
 * a daemon with [related mail] (the imap source with the index above) and
 * [related docs] (the documents tree) for alice, her contacts from a
 * vcard-dir, a subscriber (`tspsctl watch --json`, the control protocol's
 * event stream that the web UI's stream mirrors); a SIP INVITE from a
 * contact is sent over UDP and the time taken until that call's
 * "call.related" event reaches the subscriber:
 *   related_daemon_warmup_ms  the daemon's very first call (opens the
 *                             sources, rescans the documents folder)
 *   related_first_ms_p50/p99  (daemon) cold: a contact not asked before
 *                             (every source asked: imap index + server
 *                             search of new UIDs, documents index)
 *   related_cached_ms_p50     the same contact again within the 60 s TTL
 *                             (the daemon's result cache)
 * Usage: related_bench [messages] [documents] [lookups]
 */
#include <arpa/inet.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include <cmsb/cmsb.h>

static char W[512];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    int i;
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void put(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(text, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static int sh(const char *fmt, const char *arg, char *out, size_t outlen)
{
    char cmd[1200];
    FILE *p;
    snprintf(cmd, sizeof(cmd), fmt, TSPS_SOURCE_DIR, arg);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (out != NULL && fgets(out, (int)outlen, p) == NULL)
        out[0] = '\0';
    return pclose(p);
}

static void person(tsps_contact *c, int i)
{
    tsps_contact_init(c);
    snprintf(c->uid, sizeof(c->uid), "p%d", i);
    snprintf(c->name, sizeof(c->name), "Person%d Lastname%d", i, i);
    c->nemails = 1;
    snprintf(c->emails[0], sizeof(c->emails[0]), "person%d@example.org", i);
    c->nnumbers = 1;
    snprintf(c->numbers[0], sizeof(c->numbers[0]), "+4930%07d", i);
}

static void write_mail(const char *cur, int n, int people, int64_t now)
{
    static const char *subj[] = {
        "Meeting notes", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_und_Angebot?=",
        "=?ISO-8859-1?Q?R=E9union_demain?=", "Invoice %d", "Re: project"};
    char path[1200], msg[4096];

    for (int i = 0; i < n; i++) {
        int from = (int)(((long)i * 7919) % people);
        int cc = (int)(((long)i * 104729 + 13) % people);
        int64_t t = now - (int64_t)(((long)i * 2654435761u) % (730L * 86400));
        time_t tt = (time_t)t;
        char date[64], s[128], ccl[64] = "";
        struct tm tm;
        int len;
        gmtime_r(&tt, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
        snprintf(s, sizeof(s), subj[i % 5], i);
        if (i % 5 == 0) /* a fifth with a second person in Cc */
            snprintf(ccl, sizeof(ccl), "Cc: <person%d@example.org>\r\n", cc);
        if (i % 10 == 0)
            len = snprintf(
                msg, sizeof(msg),
                "From: Person %d <person%d@example.org>\r\nTo: "
                "alice@example.net\r\n"
                "%s"
                "Subject: %s\r\nDate: %s\r\nMessage-ID: <b%d@example.org>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                "boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
                "Please see the attached file for message %d.\r\n--x\r\n"
                "Content-Type: application/pdf; name=\"doc%d.pdf\"\r\n"
                "Content-Disposition: attachment; filename=\"doc%d.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                "JVBERi0xLjQKJcfsj6IKJVBERi0xLjQKJcfsj6IKJVBERi0xLjQKJcfsj6IK\r"
                "\n"
                "--x--\r\n",
                from, from, ccl, s, date, i, i, i, i);
        else
            len = snprintf(
                msg, sizeof(msg),
                "From: Person %d <person%d@example.org>\r\nTo: "
                "alice@example.net\r\n"
                "%s"
                "Subject: %s\r\nDate: %s\r\nMessage-ID: <b%d@example.org>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                "Hello Alice,\r\n\r\nthis is message %d with some body text "
                "that goes on for a while so the file has a realistic size, "
                "as mails do. Regards\r\n",
                from, from, ccl, s, date, i, i);
        snprintf(path, sizeof(path), "%s/%d.M%dP1.bench:2,S", cur,
                 1700000000 + i, i);
        put(path, msg, (size_t)len);
    }
}

static int count_cb(void *arg, const cmsb_related_item *it)
{
    (void)it;
    ++*(int *)arg;
    return 0;
}

static int nop_change(void *arg, const cmsb_change *ch)
{
    (void)arg;
    (void)ch;
    return 0;
}

static void make_pdf(const char *path, int i)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, 595, 842);
    cairo_t *cr = cairo_create(s);
    char t[128];
    cairo_set_font_size(cr, 11);
    cairo_move_to(cr, 40, 80);
    snprintf(t, sizeof(t), "Contract %d with Person%d Lastname%d", i, i % 2000,
             i % 2000);
    cairo_show_text(cr, t);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

static void make_zip(const char *path, const char *member, const char *xml)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_source_t *src = zip_source_buffer(z, xml, strlen(xml), 0);
    zip_file_add(z, member, src, 0);
    zip_close(z);
}

static void write_docs(const char *root, int n)
{
    char dir[1024], path[1200], text[2048];

    for (int i = 0; i < n; i++) {
        int p = (int)(((long)i * 31) % 2000);
        snprintf(dir, sizeof(dir), "%s/folder%02d", root, i % 100);
        mkdirs(dir);
        if (i % 50 == 1) {
            snprintf(path, sizeof(path), "%s/doc%d.pdf", dir, i);
            make_pdf(path, i);
        } else if (i % 50 == 2) {
            snprintf(text, sizeof(text),
                     "<office:document-content xmlns:office=\"urn:o\" "
                     "xmlns:text=\"urn:t\"><text:p>Minutes %d</text:p>"
                     "<text:p>person%d@example.org</text:p>"
                     "</office:document-content>",
                     i, p);
            snprintf(path, sizeof(path), "%s/minutes%d.odt", dir, i);
            make_zip(path, "content.xml", text);
        } else if (i % 50 == 3) {
            snprintf(text, sizeof(text),
                     "<w:document xmlns:w=\"urn:w\"><w:body><w:p><w:r><w:t>"
                     "Call +49 30 %07d</w:t></w:r></w:p></w:body></w:document>",
                     p);
            snprintf(path, sizeof(path), "%s/brief%d.docx", dir, i);
            make_zip(path, "word/document.xml", text);
        } else {
            int len = snprintf(
                text, sizeof(text),
                "# Notes %d\n\nSpoke with Person%d Lastname%d about the offer. "
                "Call back on 030 %07d. Lorem ipsum dolor sit amet, "
                "consectetur adipiscing elit, sed do eiusmod tempor "
                "incididunt ut labore et dolore magna aliqua. Ut enim ad "
                "minim veniam, quis nostrud exercitation ullamco laboris.\n",
                i, p, p, p);
            snprintf(path, sizeof(path), "%s/notes%d.%s", dir, i,
                     i % 2 ? "md" : "txt");
            put(path, text, (size_t)len);
        }
    }
}

static int change_cb(void *arg, const cmsb_change *ch)
{
    (void)arg;
    (void)ch;
    return 0;
}

/* bytes of the regular files in W/sub */
static long long dir_bytes(const char *w, const char *sub)
{
    char path[1200];
    long long total = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "%s/%s", w, sub);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char f[1500];
        snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
        if (stat(f, &st) == 0 && S_ISREG(st.st_mode))
            total += (long long)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}

#ifdef TSPSD_BIN
static int free_port(int type)
{
    struct sockaddr_in a = {0};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, type, 0), port = 0;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int ctl(const char *data, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s --data '%s' %s >/dev/null", TSPSCTL_BIN,
             data, args);
    return system(cmd);
}

/* Wait for this caller's call.related at the subscriber: its number of
 * items, or -1 after timeout_ms. */
static int wait_related(FILE *f, const char *caller, int timeout_ms)
{
    char line[65536], want[64];
    double end = now_ms() + timeout_ms;
    snprintf(want, sizeof(want), "\"%s\"", caller);
    while (now_ms() < end) {
        struct pollfd p = {fileno(f), POLLIN, 0};
        if (poll(&p, 1, (int)(end - now_ms()) + 1) <= 0)
            continue;
        if (fgets(line, sizeof(line), f) == NULL)
            return -1;
        if (strstr(line, "call.related") != NULL &&
            strstr(line, want) != NULL) {
            int items = 0; /* items in the event */
            for (const char *t = strstr(line, "\"title\""); t != NULL;
                 t = strstr(t + 7, "\"title\""))
                items++;
            return items;
        }
    }
    return -1;
}

static void invite(int fd, const struct sockaddr_in *to, int lport,
                   const char *caller, int n)
{
    char m[1200];
    int port = ntohs(to->sin_port);
    int len = snprintf(
        m, sizeof(m),
        "INVITE sip:+4930111111@127.0.0.1:%d SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-rb%d-%ld;rport\r\n"
        "From: <sip:%s@127.0.0.1:%d>;tag=rb%d\r\n"
        "To: <sip:+4930111111@127.0.0.1:%d>\r\n"
        "Call-ID: rb-%d-%ld@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sip:%s@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n",
        port, lport, n, (long)getpid(), caller, lport, n, port, n,
        (long)getpid(), caller, lport);
    if (sendto(fd, m, (size_t)len, 0, (const struct sockaddr *)to,
               sizeof(*to)) != len)
        perror("related_bench: sendto");
}

/* The pop-up path: INVITE to tspsd until "call.related" at a subscriber. */
static void daemon_phase(int imap_port, const char *docs, int people, int nlook,
                         double *v)
{
    char dir[700], conf[800], book[800], p[900], args[1200], cmd[1200];
    int ctlp = free_port(SOCK_STREAM), sipp = free_port(SOCK_DGRAM);
    FILE *f, *w = NULL;
    pid_t pid;
    int fd = -1, lport, n = 0, ok = 0;
    struct sockaddr_in to = {0}, me = {0};
    socklen_t ml = sizeof(me);

    snprintf(dir, sizeof(dir), "%s/daemon", W);
    snprintf(book, sizeof(book), "%s/book", dir);
    mkdirs(book);
    snprintf(conf, sizeof(conf), "%s/tspsd.conf", dir);
    f = fopen(conf, "w");
    if (f == NULL)
        return;
    fprintf(f,
            "[tspsd]\ndata_dir = %s/data\nlog_level = info\n"
            "[control]\nlisten = 127.0.0.1\nport = %d\n[metrics]\nport = -1\n"
            "[sip]\nenabled = true\nlisten = 127.0.0.1\nudp_port = %d\n"
            "tcp_port = 0\n[admin]\nidentities = admin\n"
            "[related mail]\nuri = imap://127.0.0.1:%d/"
            "?mailbox=INBOX&index=%s/ix\nuser = alice\nusername = alice\n"
            "password = secret\ntimeout_ms = 30000\n"
            "[related docs]\nuri = docs-dir:%s?region=DE\nuser = alice\n"
            "[related_criteria]\nalice = *: last 365 days, limit 20\n",
            dir, ctlp, sipp, imap_port, W, docs);
    fclose(f);
    /* alice's contacts: the people the lookups ask for */
    for (int i = 0; i < nlook; i++) {
        int k = (i * 37) % (people - 1);
        char card[512];
        snprintf(p, sizeof(p), "%s/p%d.vcf", book, k);
        int cl = snprintf(card, sizeof(card),
                          "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person%d "
                          "Lastname%d\r\nTEL:+4930%07d\r\n"
                          "EMAIL:person%d@example.org\r\nUID:p%d\r\n"
                          "END:VCARD\r\n",
                          k, k, k, k, k);
        put(p, card, (size_t)cl);
    }
    snprintf(p, sizeof(p), "%s/tspsd.log", dir);
    pid = fork();
    if (pid == 0) {
        int lf = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(lf, 1);
        dup2(lf, 2);
        execl(TSPSD_BIN, TSPSD_BIN, "-c", conf, (char *)NULL);
        _exit(127);
    }
    snprintf(p, sizeof(p), "%s/data/client.conf", dir);
    for (int i = 0; i < 600 && access(p, R_OK) != 0; i++)
        usleep(50000);
    snprintf(p, sizeof(p), "%s/data", dir);
    if (ctl(p, "user add alice --region DE --number +4930111111") != 0 ||
        ctl(p, "code set alice '*' forward +4930999999") != 0) {
        fprintf(stderr, "related_bench: tspsd did not start:\n");
        snprintf(cmd, sizeof(cmd), "tail -5 '%s/tspsd.log' >&2", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
        goto out;
    }
    snprintf(args, sizeof(args),
             "source add book vcard-dir:%s --user alice --interval 0", book);
    ctl(p, args);
    ctl(p, "source sync book");
    snprintf(cmd, sizeof(cmd), "%s --data '%s' --json watch alice", TSPSCTL_BIN,
             p);
    w = popen(cmd, "r");
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    me.sin_family = AF_INET;
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (w == NULL || fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
        getsockname(fd, (struct sockaddr *)&me, &ml) != 0)
        goto out;
    lport = ntohs(me.sin_port);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons((uint16_t)sipp);
    usleep(300000); /* the subscription is in place */
    {
        char caller[32];
        int k = ((nlook - 1) * 37) % (people - 1);
        snprintf(caller, sizeof(caller), "+4930%07d", k);
        double t0 = now_ms();
        invite(fd, &to, lport, caller, n++);
        if (wait_related(w, caller, 60000) < 0) {
            fprintf(stderr, "related_bench: no call.related (%s/tspsd.log)\n",
                    dir);
            goto out;
        }
        printf("related_daemon_warmup_ms=%.1f\n", now_ms() - t0);
    }
    for (int pass = 0; pass < 2; pass++) {
        int m = 0, items = 0;
        for (int i = 0; i < nlook - 1; i++) {
            char caller[32];
            snprintf(caller, sizeof(caller), "+4930%07d",
                     (i * 37) % (people - 1));
            double t0 = now_ms();
            invite(fd, &to, lport, caller, n++);
            int k = wait_related(w, caller, 60000);
            if (k < 0)
                break;
            v[m++] = now_ms() - t0;
            items += k;
            usleep(20000); /* calls one by one, as a person receives them */
        }
        if (m == 0)
            break;
        if (pass == 0) {
            printf("related_first_ms_p50=%.1f\n", pct(v, m, 0.5));
            printf("related_first_ms_p99=%.1f\n", pct(v, m, 0.99));
            printf("related_daemon_calls=%d\n", m);
            printf("related_daemon_items_per_call=%.1f\n", (double)items / m);
        } else {
            printf("related_cached_ms_p50=%.2f\n", pct(v, m, 0.5));
            printf("related_cached_ms_p99=%.2f\n", pct(v, m, 0.99));
            ok = 1;
        }
    }
    if (!ok)
        fprintf(stderr, "related_bench: daemon phase incomplete (%s)\n", dir);
out:
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (w != NULL)
        pclose(w);
    if (fd >= 0)
        close(fd);
}
#endif

int main(int argc, char **argv)
{
    int nmsg = argc > 1 ? atoi(argv[1]) : 100000;
    int ndoc = argc > 2 ? atoi(argv[2]) : 10000;
    int nlook = argc > 3 ? atoi(argv[3]) : 100;
    int people = nmsg / 50 > 10 ? nmsg / 50 : 10;
    int64_t now = (int64_t)time(NULL);
    char cur[700], out[128], uri[1024], root[700];
    int port = 0, sport = 0, rc, port0;
    double t0, *v = calloc((size_t)nlook + 1, sizeof(double));
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    cmsb_related_query q = CMSB_RELATED_QUERY_INIT;
    tsps_contact c;
    int items = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, also to a file */
    snprintf(W, sizeof(W), "/tmp/related-bench-XXXXXX");
    if (mkdtemp(W) == NULL || v == NULL)
        return 1;
    /* ---- mail ---- */
    snprintf(cur, sizeof(cur), "%s/mail/alice/cur", W);
    mkdirs(cur);
    t0 = now_ms();
    write_mail(cur, nmsg, people, now);
    printf("mail_messages=%d\nmail_people=%d\nmail_write_s=%.1f\n", nmsg,
           people, (now_ms() - t0) / 1e3);
    rc = sh("%s/tests/related/dovecot.sh start '%s'", W, out, sizeof(out));
    if (rc != 0 || sscanf(out, "%d %d", &port, &sport) < 1) {
        fprintf(stderr, "related_bench: Dovecot did not start (%d)\n", rc);
        return 1;
    }
    port0 = port;
    cmsb_registry_open(&reg);
    o.username = "alice";
    o.password = "secret";
    o.timeout_ms = 120000; /* Dovecot's first indexing of the mailbox */
    snprintf(uri, sizeof(uri), "imap://127.0.0.1:%d/?mailbox=INBOX", port);
    q.limit = 20;
    q.since = now - 365 * 86400;
    /* warm-up: Dovecot builds its index and header cache once */
    t0 = now_ms();
    person(&c, people - 1);
    cmsb_source_open(reg, uri, &o, &src);
    rc = cmsb_related_for(src, &c, &q, count_cb, &items);
    cmsb_source_close(src);
    printf("dovecot_first_index_s=%.1f\n", (now_ms() - t0) / 1e3);
    if (rc != CMSB_OK) {
        fprintf(stderr, "warm-up lookup: %s\n", cmsb_strerror(rc));
        sh("%s/tests/related/dovecot.sh stop '%s'", W, NULL, 0);
        return 1;
    }
    /* a second warm-up: Dovecot writes its header cache when the first
     * session ends */
    cmsb_source_open(reg, uri, &o, &src);
    person(&c, people - 2);
    cmsb_related_for(src, &c, &q, count_cb, &items);
    cmsb_source_close(src);
    o.timeout_ms = 30000;
    /* without the index: the server's SEARCH (a few lookups: seconds
     * each at 20,000+ messages) */
    {
        int ns = nlook < 10 ? nlook : 10;
        for (int i = 0; i < ns; i++) {
            person(&c, (i * 41 + 3) % (people - 1));
            t0 = now_ms();
            cmsb_source_open(reg, uri, &o, &src);
            rc = cmsb_related_for(src, &c, &q, count_cb, &items);
            v[i] = now_ms() - t0;
            cmsb_source_close(src);
        }
        printf("related_search_first_ms_p50=%.1f\n", pct(v, ns, 0.5));
    }
    /* the adapter-kept header index: built once (as the background
     * thread would), then every lookup is on a new source */
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&index=%s/ix&refresh=0", port,
             W);
    t0 = now_ms();
    cmsb_source_open(reg, uri, &o, &src);
    rc = cmsb_changes(src, NULL, change_cb, NULL);
    printf("imap_index_build_s=%.1f\n", (now_ms() - t0) / 1e3);
    t0 = now_ms();
    if (rc == CMSB_OK)
        rc = cmsb_changes(src, NULL, change_cb, NULL);
    printf("imap_index_refresh_nochange_ms=%.1f\n", now_ms() - t0);
    cmsb_source_close(src);
    if (rc != CMSB_OK) {
        fprintf(stderr, "index build: %s\n", cmsb_strerror(rc));
        sh("%s/tests/related/dovecot.sh stop '%s'", W, NULL, 0);
        return 1;
    }
    printf("imap_index_bytes=%lld\n", dir_bytes(W, "ix"));
    /* as configured in a daemon: a background refresh every 60 s */
    snprintf(uri, sizeof(uri),
             "imap://127.0.0.1:%d/?mailbox=INBOX&index=%s/ix&refresh=60", port,
             W);
    items = 0;
    for (int i = 0; i < nlook; i++) {
        person(&c, (i * 37) % (people - 1));
        t0 = now_ms();
        cmsb_source_open(reg, uri, &o, &src);
        rc = cmsb_related_for(src, &c, &q, count_cb, &items);
        v[i] = now_ms() - t0;
        cmsb_source_close(src);
        if (rc != CMSB_OK) {
            fprintf(stderr, "lookup: %s\n", cmsb_strerror(rc));
            sh("%s/tests/related/dovecot.sh stop '%s'", W, NULL, 0);
            return 1;
        }
    }
    printf("related_items_per_lookup=%.1f\n", (double)items / nlook);
    printf("lib_related_first_ms_p50=%.1f\n", pct(v, nlook, 0.5));
    printf("lib_related_first_ms_p99=%.1f\n", pct(v, nlook, 0.99));
    cmsb_source_open(reg, uri, &o, &src);
    for (int i = 0; i < nlook; i++) {
        person(&c, (i * 53 + 1) % (people - 1));
        t0 = now_ms();
        cmsb_related_for(src, &c, &q, count_cb, &items);
        v[i] = now_ms() - t0;
    }
    cmsb_source_close(src);
    printf("lib_related_warm_ms_p50=%.1f\n", pct(v, nlook, 0.5));
    /* Dovecot stays up for the daemon phase (the same index folder) */
    /* the maildir adapter on the same tree */
    snprintf(uri, sizeof(uri), "maildir:%s/mail/alice", W);
    if (cmsb_source_open(reg, uri, NULL, &src) == CMSB_OK) {
        int rounds = nlook < 5 ? nlook : 5;
        for (int i = 0; i < rounds; i++) {
            person(&c, (i * 71) % (people - 1));
            t0 = now_ms();
            cmsb_related_for(src, &c, &q, count_cb, &items);
            v[i] = now_ms() - t0;
        }
        printf("maildir_lookup_ms_p50=%.1f\n", pct(v, rounds, 0.5));
        cmsb_source_close(src);
    }
    /* ---- documents ---- */
    snprintf(root, sizeof(root), "%s/docs", W);
    mkdirs(root);
    t0 = now_ms();
    write_docs(root, ndoc);
    printf("doc_files=%d\ndoc_write_s=%.1f\n", ndoc, (now_ms() - t0) / 1e3);
    snprintf(uri, sizeof(uri), "docs-dir:%s?region=DE", root);
    cmsb_source_open(reg, uri, NULL, &src);
    t0 = now_ms();
    cmsb_changes(src, NULL, nop_change, NULL);
    printf("doc_index_files_per_s=%.0f\n", ndoc / ((now_ms() - t0) / 1e3));
    t0 = now_ms();
    cmsb_changes(src, NULL, nop_change, NULL);
    printf("doc_rescan_nochange_ms=%.1f\n", now_ms() - t0);
    {
        char p[900];
        snprintf(p, sizeof(p), "%s/folder07/notes7.md", root);
        put(p, "# changed\n\nPerson1 Lastname1\n", 30);
    }
    t0 = now_ms();
    cmsb_changes(src, NULL, nop_change, NULL);
    printf("doc_rescan_one_change_ms=%.1f\n", now_ms() - t0);
    items = 0;
    q.since = 0;
    for (int i = 0; i < nlook; i++) {
        person(&c, (i * 37) % 2000);
        t0 = now_ms();
        cmsb_related_for(src, &c, &q, count_cb, &items);
        v[i] = now_ms() - t0;
    }
    printf("doc_items_per_lookup=%.1f\n", (double)items / nlook);
    printf("doc_lookup_ms_p50=%.2f\n", pct(v, nlook, 0.5));
    printf("doc_lookup_ms_p99=%.2f\n", pct(v, nlook, 0.99));
    cmsb_source_close(src);
    /* a restart: the source loads the saved index */
    t0 = now_ms();
    cmsb_source_open(reg, uri, NULL, &src);
    printf("doc_index_load_ms=%.1f\n", now_ms() - t0);
    cmsb_source_close(src);
    /* the same tree through WebDAV: Apache mod_dav on loopback */
    if (sh("%s/tests/related/apache_dav.sh start '%s'", W, out, sizeof(out)) ==
            0 &&
        sscanf(out, "%d", &port) == 1) {
        cmsb_options d = CMSB_OPTIONS_INIT;
        d.username = "alice";
        d.password = "secret";
        d.timeout_ms = 30000;
        snprintf(uri, sizeof(uri),
                 "docs-dav:http://127.0.0.1:%d/docs/#region=DE", port);
        if (cmsb_source_open(reg, uri, &d, &src) == CMSB_OK) {
            t0 = now_ms();
            rc = cmsb_changes(src, NULL, nop_change, NULL);
            printf("dav_doc_index_rc=%d\n", rc);
            printf("dav_doc_index_files_per_s=%.0f\n",
                   ndoc / ((now_ms() - t0) / 1e3));
            t0 = now_ms();
            cmsb_changes(src, NULL, nop_change, NULL);
            printf("dav_doc_refresh_nochange_ms=%.1f\n", now_ms() - t0);
            items = 0;
            for (int i = 0; i < nlook; i++) {
                person(&c, (i * 37) % 2000);
                t0 = now_ms();
                cmsb_related_for(src, &c, &q, count_cb, &items);
                v[i] = now_ms() - t0;
            }
            printf("dav_doc_items_per_lookup=%.1f\n", (double)items / nlook);
            printf("dav_doc_lookup_ms_p50=%.2f\n", pct(v, nlook, 0.5));
            cmsb_source_close(src);
        }
        sh("%s/tests/related/apache_dav.sh stop '%s'", W, NULL, 0);
    } else {
        printf("# docs-dav skipped: apache2 did not start\n");
    }
#ifdef TSPSD_BIN
    daemon_phase(port0, root, people, nlook, v);
#else
    printf("# daemon phase skipped: built without tspsd\n");
#endif
    sh("%s/tests/related/dovecot.sh stop '%s'", W, NULL, 0);
    cmsb_registry_close(reg);
    {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", W);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed: %s\n", W);
    }
    free(v);
    return 0;
}

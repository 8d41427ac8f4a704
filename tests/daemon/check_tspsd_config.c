/*
 * check_tspsd_config.c - the configuration an operator writes, and the
 * mistakes they make, against a real tspsd:
 *  - every key that docs/ pages (*.md) and docs/tspsd.conf.example document
 * (parsed from the docs here, not listed by hand) is accepted, and tspsd starts
 *    with it;
 *  - -c naming a directory, a bad --sip-port, a busy SIP port with
 *    demo = true are errors at start; [control] port = 0 picks a port;
 *  - an expired server certificate is a loud log line; a deleted
 *    server.pem never makes a new CA.
 * A damaged store: check_tspsd_store.c.
 */
#include "fixture.h"
#include "tls.h"
#include "tsps_check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static th_daemon t;

static void setup(void)
{
    memset(&t, 0, sizeof(t));
    tsps_check_tmpdir(t.dir, sizeof(t.dir));
    th_make_certs(&t);
}

static void teardown(void)
{
    th_cleanup(&t);
}

/* Run tspsd with args (shell words) in t.dir, stderr+stdout to out.log;
 * wait up to 20 s for it to exit. The exit status, or -1 when it was
 * still running (then killed). */
static int run_exit(const char *args, char *log, size_t loglen)
{
    char cmd[1200];
    snprintf(log, loglen, "%s/out.log", t.dir);
    unlink(log);
    snprintf(cmd, sizeof(cmd), "cd %s && exec %s %s >%s 2>&1", t.dir, TSPSD_BIN,
             args, log);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        th_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Start tspsd on conf, logging to log (truncated); return its pid once
 * the log says "tspsd started" (asserts it does within 20 s). */
static pid_t start_until_up(const char *conf, const char *log)
{
    unlink(log); /* a fresh log: "started" must be this start's */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execl(TSPSD_BIN, "tspsd", "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        int st;
        if (th_file_has(log, "msg=\"tspsd started\""))
            return pid;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "tspsd exited (see %s)",
                      log);
        th_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("tspsd did not start (see %s)", log);
    return -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- every documented key ---- */

typedef struct doc_key {
    char section[64], key[64], value[256], where[128];
} doc_key;

#define MAX_KEYS 256
static doc_key keys[MAX_KEYS];
static int nkeys;

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    size_t i = strspn(s, " \t");
    memmove(s, s + i, strlen(s + i) + 1);
}

static int is_key(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
              (i > 0 && s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static void add_key(const char *section, const char *key, const char *value,
                    const char *where)
{
    for (int i = 0; i < nkeys; i++)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].key, key) == 0) {
            if (keys[i].value[0] == '\0' && value != NULL)
                snprintf(keys[i].value, sizeof(keys[i].value), "%s", value);
            return;
        }
    ck_assert_int_lt(nkeys, MAX_KEYS);
    doc_key *k = &keys[nkeys++];
    snprintf(k->section, sizeof(k->section), "%s", section);
    snprintf(k->key, sizeof(k->key), "%s", key);
    snprintf(k->value, sizeof(k->value), "%s", value != NULL ? value : "");
    snprintf(k->where, sizeof(k->where), "%s", where);
}

/* "[name]" (also "[source x]") into section; 1 if the line is one. */
static int section_line(const char *line, char *section, size_t len)
{
    const char *e = strchr(line, ']');
    if (line[0] != '[' || e == NULL || e == line + 1)
        return 0;
    snprintf(section, len, "%.*s", (int)(e - line - 1), line + 1);
    return 1;
}

/* "key = value" (an INI line, or an example commented out with "; "):
 * key into k, value (up to a " ;" comment) into v. */
static int ini_line(const char *line, int commented, char *k, size_t klen,
                    char *v, size_t vlen)
{
    const char *p = line;
    if (commented) {
        if (*p != ';' && *p != '#')
            return 0;
        p += strspn(p + 1, " ") + 1;
    }
    size_t n = strcspn(p, " =");
    if (!is_key(p, n))
        return 0;
    const char *eq = p + n + strspn(p + n, " ");
    if (*eq != '=')
        return 0;
    /* Prose in comments has "a = b" with spaces; so do the examples. */
    if (commented && (eq[-1] != ' ' || eq[1] != ' '))
        return 0;
    snprintf(k, klen, "%.*s", (int)n, p);
    snprintf(v, vlen, "%s", eq + 1);
    char *c = strstr(v, " ;");
    if (c != NULL)
        *c = '\0';
    trim(v);
    return 1;
}

static void parse_example(const char *path)
{
    char line[1024], section[64] = "", k[64], v[256];
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        trim(line);
        if (section_line(line, section, sizeof(section)))
            continue;
        if (section[0] != '\0' &&
            (ini_line(line, 0, k, sizeof(k), v, sizeof(v)) ||
             ini_line(line, 1, k, sizeof(k), v, sizeof(v))))
            add_key(section, k, v, "tspsd.conf.example");
    }
    fclose(f);
}

/* A Markdown page: tables under a heading naming "(`[section]`)", whose
 * rows start with "| `key`" (several keys: "| `a`, `b` | 1, 2 |"), and
 * fenced INI blocks. */
static void parse_md(const char *path, const char *name)
{
    char line[2048], section[64] = "", fsec[64] = "", k[64], v[256];
    int fenced = 0;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        trim(line);
        if (strncmp(line, "```", 3) == 0) {
            fenced = !fenced;
            fsec[0] = '\0';
            continue;
        }
        if (fenced) {
            if (!section_line(line, fsec, sizeof(fsec)) && fsec[0] != '\0' &&
                ini_line(line, 0, k, sizeof(k), v, sizeof(v)))
                add_key(fsec, k, v, name);
            continue;
        }
        if (line[0] == '#') {
            const char *s = strstr(line, "(`[");
            section[0] = '\0';
            if (s != NULL)
                section_line(s + 2, section, sizeof(section));
            continue;
        }
        if (section[0] == '\0' || strncmp(line, "| `", 3) != 0)
            continue;
        /* keys in the first cell, values in the second */
        char *c1 = line + 1, *c2 = strchr(c1, '|');
        if (c2 == NULL)
            continue;
        *c2++ = '\0';
        char *c3 = strchr(c2, '|');
        if (c3 != NULL)
            *c3 = '\0';
        /* values split at commas outside backticks: "60, 7200, 3600"
         * is three, "`SHA-256,MD5`" is one */
        char vals[8][64];
        int nv = 0, tick = 0;
        size_t vl = 0;
        for (const char *p = c2;; p++) {
            if (*p == '`')
                tick = !tick;
            if (*p == '\0' || (*p == ',' && !tick)) {
                if (nv < 8) {
                    char *b = vals[nv++];
                    b[vl] = '\0';
                    trim(b);
                    size_t bl = strlen(b);
                    if (bl > 1 && b[0] == '`' && b[bl - 1] == '`') {
                        memmove(b, b + 1, bl - 2);
                        b[bl - 2] = '\0';
                    }
                }
                vl = 0;
                if (*p == '\0')
                    break;
                continue;
            }
            if (nv < 8 && vl + 1 < sizeof(vals[0]))
                vals[nv][vl++] = *p;
        }
        /* a value with commas ("`SHA-256,MD5`") is one value */
        int nk = 0;
        for (char *p = strchr(c1, '`'); p != NULL; p = strchr(p + 1, '`'))
            nk++;
        nk /= 2;
        int i = 0;
        for (char *p = strchr(c1, '`'); p != NULL; i++) {
            char *e = strchr(p + 1, '`');
            if (e == NULL)
                break;
            snprintf(k, sizeof(k), "%.*s", (int)(e - p - 1), p + 1);
            const char *val = nk == nv ? vals[i] : nv >= 1 ? vals[0] : "";
            if (is_key(k, strlen(k)))
                add_key(section, k,
                        strchr(val, ' ') == NULL && strchr(val, '`') == NULL
                            ? val
                            : NULL,
                        name);
            p = strchr(e + 1, '`');
        }
    }
    fclose(f);
}

static void parse_docs(void)
{
    char path[600];
    nkeys = 0;
    snprintf(path, sizeof(path), "%s/tspsd.conf.example", TSPS_DOCS_DIR);
    parse_example(path);
    DIR *d = opendir(TSPS_DOCS_DIR);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".md") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", TSPS_DOCS_DIR, e->d_name);
        parse_md(path, e->d_name);
    }
    closedir(d);
}

/* The value to start with: where the documented one names a port, a path
 * or an identity of the doc's machine, one of this test's. NULL: the
 * harness sets this key on every start (only --check-config). */
static const char *start_value(const doc_key *k, char *buf, size_t len,
                               int sip_udp, int sip_tcp)
{
    char c[300], key[300];
    th_cert_paths(&t, "server", c, key, sizeof(c));
    const char *s = k->section, *n = k->key;
    if (strcmp(s, "control") == 0 && strcmp(n, "port") == 0)
        return NULL;
    if (strcmp(s, "metrics") == 0 && strcmp(n, "port") == 0)
        return NULL;
    if (strcmp(n, "listen") == 0)
        return "127.0.0.1";
    if (strcmp(s, "tspsd") == 0 && strcmp(n, "data_dir") == 0) {
        snprintf(buf, len, "%s/data", t.dir);
        return buf;
    }
    if (strcmp(s, "tspsd") == 0 && strcmp(n, "examples_dir") == 0) {
        snprintf(buf, len, "%s/../examples/data", TSPS_DOCS_DIR);
        return buf;
    }
    if (strcmp(s, "control") == 0 && strcmp(n, "cert") == 0)
        return snprintf(buf, len, "%s", c), buf;
    if (strcmp(s, "control") == 0 && strcmp(n, "key") == 0)
        return snprintf(buf, len, "%s", key), buf;
    if (strcmp(s, "control") == 0 && strcmp(n, "ca") == 0)
        return t.ca;
    if (strcmp(s, "admin") == 0)
        return "admin";
    if (strcmp(s, "sip") == 0 && strcmp(n, "udp_port") == 0)
        return snprintf(buf, len, "%d", sip_udp), buf;
    if (strcmp(s, "sip") == 0 && strcmp(n, "tcp_port") == 0)
        return snprintf(buf, len, "%d", sip_tcp), buf;
    if (strcmp(s, "web") == 0 && strcmp(n, "port") == 0)
        return "0";
    if (strncmp(s, "source ", 7) == 0 && strcmp(n, "uri") == 0) {
        snprintf(buf, len, "vcard-dir:%s/../examples/data", TSPS_DOCS_DIR);
        return buf;
    }
    if (strncmp(s, "source ", 7) == 0 && strcmp(n, "user") == 0)
        return "ann";
    return k->value;
}

static int has_key(const char *section, const char *key)
{
    for (int i = 0; i < nkeys; i++)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].key, key) == 0)
            return 1;
    return 0;
}

/* The docs parse to the keys we know are documented (guards the parser). */
START_TEST(test_docs_parse)
{
    parse_docs();
    ck_assert_msg(nkeys >= 30, "only %d keys found in the docs", nkeys);
    ck_assert(has_key("sip", "ask_timeout_s"));      /* docs/sip.md */
    ck_assert(has_key("sip", "digest_algorithms"));  /* docs/sip.md */
    ck_assert(has_key("held", "timeout_s"));         /* docs/operator.md */
    ck_assert(has_key("sip", "max_expires"));        /* both */
    ck_assert(has_key("web", "public_url"));         /* commented example */
    ck_assert(has_key("control", "max_clients"));    /* example */
    ck_assert(has_key("source ann-contacts", "tz")); /* adapter option */
    ck_assert(!has_key("tspsd", "ts"));              /* log text, no key */
}
END_TEST

/* Each documented key with its documented value passes --check-config,
 * and tspsd starts with it (a port, path or identity of the doc's machine
 * replaced by one of this test's). */
START_TEST(test_documented_keys_accepted)
{
    char conf[400], log[400], buf[600], extra[1200], args[600];
    parse_docs();
    for (int i = 0; i < nkeys; i++) {
        const doc_key *k = &keys[i];
        if (getenv("TSPS_DOC_KEYS") != NULL) /* to see what was found */
            fprintf(stderr, "[%s] %s = %s (%s)\n", k->section, k->key, k->value,
                    k->where);
        int is_source = strncmp(k->section, "source ", 7) == 0;
        /* 1. the documented value parses */
        snprintf(conf, sizeof(conf), "%s/doc.conf", t.dir);
        snprintf(extra, sizeof(extra), "[%s]\n%s%s = %s\n", k->section,
                 is_source && strcmp(k->key, "uri") != 0
                     ? "uri = vcard-dir:/nonexistent\n"
                     : "",
                 k->key, k->value);
        if (is_source && strcmp(k->key, "user") != 0)
            strncat(extra, "user = ann\n", sizeof(extra) - strlen(extra) - 1);
        write_file(conf, extra);
        snprintf(args, sizeof(args), "-c %s --check-config", conf);
        int rc = run_exit(args, log, sizeof(log));
        ck_assert_msg(rc == 0, "[%s] %s = %s (%s) refused by --check-config",
                      k->section, k->key, k->value, k->where);

        /* 2. tspsd starts with it */
        int su = th_free_port(), st = th_free_port();
        const char *v = start_value(k, buf, sizeof(buf), su, st);
        if (v == NULL)
            continue; /* the harness sets it on every start */
        if (strcmp(k->section, "sip") == 0)
            snprintf(extra, sizeof(extra),
                     "[sip]\nudp_port = %d\ntcp_port = %d\n%s = %s\n", su, st,
                     k->key, v);
        else if (strcmp(k->section, "web") == 0)
            snprintf(extra, sizeof(extra), "[web]\nport = 0\n%s = %s\n", k->key,
                     v);
        else if (is_source)
            snprintf(extra, sizeof(extra),
                     "[%s]\nuri = vcard-dir:%s/../examples/data\nuser = "
                     "ann\n%s = %s\n",
                     k->section, TSPS_DOCS_DIR, k->key, v);
        else
            snprintf(extra, sizeof(extra), "[%s]\n%s = %s\n", k->section,
                     k->key, v);
        th_start(&t, extra);
        ck_assert_msg(th_stop(&t) == 0, "[%s] %s = %s: unclean stop (%s)",
                      k->section, k->key, v, t.log);
    }
}
END_TEST

/* ---- operator mistakes at start ---- */

START_TEST(test_config_is_directory)
{
    char log[400], args[400];
    snprintf(args, sizeof(args), "-c %s", t.dir);
    ck_assert_int_eq(run_exit(args, log, sizeof(log)), 1);
    ck_assert_msg(th_file_has(log, "not a file (a directory)"), "see %s", log);
    snprintf(args, sizeof(args), "-c %s --check-config", t.dir);
    ck_assert_int_eq(run_exit(args, log, sizeof(log)), 1);
    /* Nothing was started on defaults in the current folder. */
    char data[400];
    snprintf(data, sizeof(data), "%s/data", t.dir);
    ck_assert_int_ne(access(data, F_OK), 0);
}
END_TEST

START_TEST(test_bad_port_options)
{
    char log[400];
    static const char *bad[] = {"--sip-port -5",     "--sip-port 70000",
                                "--sip-port 50x",    "--port -1",
                                "--metrics-port -7", "--port ''"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char args[200];
        snprintf(args, sizeof(args), "%s --check-config", bad[i]);
        ck_assert_msg(run_exit(args, log, sizeof(log)) == 1, "%s accepted",
                      bad[i]);
        ck_assert_msg(th_file_has(log, "want a port number"), "%s: see %s",
                      bad[i], log);
    }
    ck_assert_int_eq(run_exit("--sip-port 0 --metrics-port -1 --check-config",
                              log, sizeof(log)),
                     0);
}
END_TEST

/* Documented: [control] port = 0 picks a free port, written to
 * data_dir/client.conf (where tspsctl finds it). */
START_TEST(test_control_port_zero)
{
    char conf[400], log[400], text[1200], cc[400], line[300];
    snprintf(conf, sizeof(conf), "%s/zero.conf", t.dir);
    snprintf(log, sizeof(log), "%s/zero.log", t.dir);
    snprintf(text, sizeof(text),
             "[tspsd]\ndata_dir = %s/data\n[control]\nport = 0\n"
             "[metrics]\nport = -1\n[sip]\nenabled = false\n"
             "[admin]\nidentities = admin\n",
             t.dir);
    write_file(conf, text);
    pid_t pid = start_until_up(conf, log);
    snprintf(cc, sizeof(cc), "%s/data/client.conf", t.dir);
    int port = 0;
    FILE *f = fopen(cc, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "port=", 5) == 0)
            port = atoi(line + 5);
    fclose(f);
    ck_assert_int_gt(port, 0);
    /* The admin certificate the daemon made for itself connects there. */
    char acert[400], akey[400], err[256];
    snprintf(acert, sizeof(acert), "%s/data/tls/admin.pem", t.dir);
    snprintf(akey, sizeof(akey), "%s/data/tls/admin.key", t.dir);
    snprintf(t.ca, sizeof(t.ca), "%s/data/tls/ca.pem", t.dir);
    t.port = port;
    tspsd_client *c = NULL;
    ck_assert_msg(th_try_connect(&t, acert, akey, NULL, &c, err, sizeof(err)) ==
                      0,
                  "%s", err);
    tspsd_client_close(c);
    th_stop_pid(pid);
}
END_TEST

/* demo = true in a config file does not make a busy SIP port a log line:
 * tspsd refuses to start and says which part and why. */
START_TEST(test_busy_sip_port_is_an_error)
{
    char conf[400], log[400], text[1200], args[500];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    int busy = ntohs(sa.sin_port);
    snprintf(conf, sizeof(conf), "%s/busy.conf", t.dir);
    snprintf(text, sizeof(text),
             "[tspsd]\ndata_dir = %s/data\ndemo = true\nexamples_dir = "
             "%s/../examples/data\n[control]\nport = 0\n[metrics]\nport = -1\n"
             "[sip]\nlisten = 127.0.0.1\nudp_port = %d\ntcp_port = 0\n"
             "[admin]\nidentities = admin\n",
             t.dir, TSPS_DOCS_DIR, busy);
    write_file(conf, text);
    snprintf(args, sizeof(args), "-c %s", conf);
    int rc = run_exit(args, log, sizeof(log));
    close(fd);
    ck_assert_msg(rc != 0 && rc != -1, "tspsd carried on (rc %d, see %s)", rc,
                  log);
    ck_assert_msg(th_file_has(log, "msg=\"SIP front did not start\""), "see %s",
                  log);
    ck_assert_msg(th_file_has(log, "part=\"SIP front\""), "see %s", log);
}
END_TEST

/* An expired server certificate: tspsd starts (the operator may be
 * renewing it) but says so at error level, with what to do. */
START_TEST(test_expired_server_cert_warns)
{
    char c[300], k[300], err[256];
    snprintf(c, sizeof(c), "%s/certs/old-server.pem", t.dir);
    snprintf(k, sizeof(k), "%s/certs/old-server.key", t.dir);
    ck_assert(tspsd_tls_make_cert(t.ca, t.ca_key, "localhost", 1, -3 * 86400,
                                  -86400, c, k, err, sizeof(err)) == 0);
    char log[400], conf[400], text[1200];
    snprintf(conf, sizeof(conf), "%s/exp.conf", t.dir);
    snprintf(log, sizeof(log), "%s/exp.log", t.dir);
    snprintf(text, sizeof(text),
             "[tspsd]\ndata_dir = %s/data\n[control]\nport = 0\ncert = %s\n"
             "key = %s\nca = %s\n[metrics]\nport = -1\n[sip]\nenabled = "
             "false\n[admin]\nidentities = admin\n",
             t.dir, c, k, t.ca);
    write_file(conf, text);
    pid_t pid = start_until_up(conf, log);
    ck_assert_msg(
        th_file_has(log, "level=error msg=\"SERVER CERTIFICATE EXPIRED"),
        "see %s", log);
    ck_assert_msg(th_file_has(log, "expired_days_ago=1"), "see %s", log);
    th_stop_pid(pid);
}
END_TEST

static long file_size_and_sum(const char *path, unsigned long *sum)
{
    FILE *f = fopen(path, "rb");
    long n = 0;
    int ch;
    *sum = 0;
    if (f == NULL)
        return -1;
    while ((ch = fgetc(f)) != EOF) {
        *sum = *sum * 131 + (unsigned)ch;
        n++;
    }
    fclose(f);
    return n;
}

/* The daemon made its TLS material; server.pem is deleted. The next start
 * issues a server certificate from the same CA (loud warning): ca.pem is
 * unchanged and the admin client certificate still works. With the CA's
 * key gone too, tspsd refuses to start and says how to recover. */
START_TEST(test_deleted_server_pem_keeps_the_ca)
{
    char conf[400], log[400], text[1200], p[400];
    snprintf(conf, sizeof(conf), "%s/own.conf", t.dir);
    snprintf(log, sizeof(log), "%s/own.log", t.dir);
    snprintf(text, sizeof(text),
             "[tspsd]\ndata_dir = %s/data\n[control]\nport = 0\n"
             "[metrics]\nport = -1\n[sip]\nenabled = false\n"
             "[admin]\nidentities = admin\n",
             t.dir);
    write_file(conf, text);
    th_stop_pid(start_until_up(conf, log));
    unsigned long sum0, sum1;
    snprintf(p, sizeof(p), "%s/data/tls/ca.pem", t.dir);
    ck_assert_int_gt(file_size_and_sum(p, &sum0), 0);
    snprintf(p, sizeof(p), "%s/data/tls/server.pem", t.dir);
    ck_assert_int_eq(unlink(p), 0);

    pid_t pid = start_until_up(conf, log);
    ck_assert_msg(th_file_has(log, "SERVER CERTIFICATE WAS MISSING"), "see %s",
                  log);
    snprintf(p, sizeof(p), "%s/data/tls/ca.pem", t.dir);
    ck_assert_int_gt(file_size_and_sum(p, &sum1), 0);
    ck_assert_msg(sum0 == sum1, "a new CA was made");
    /* The admin certificate issued at first start still gets in. */
    char cc[400], line[300], acert[400], akey[400], err[256];
    snprintf(cc, sizeof(cc), "%s/data/client.conf", t.dir);
    FILE *f = fopen(cc, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "port=", 5) == 0)
            t.port = atoi(line + 5);
    fclose(f);
    snprintf(acert, sizeof(acert), "%s/data/tls/admin.pem", t.dir);
    snprintf(akey, sizeof(akey), "%s/data/tls/admin.key", t.dir);
    snprintf(t.ca, sizeof(t.ca), "%s/data/tls/ca.pem", t.dir);
    tspsd_client *c = NULL;
    ck_assert_msg(th_try_connect(&t, acert, akey, NULL, &c, err, sizeof(err)) ==
                      0,
                  "%s", err);
    tspsd_client_close(c);
    th_stop_pid(pid);

    /* Server certificate and CA key both gone: no silent new CA. */
    snprintf(p, sizeof(p), "%s/data/tls/server.pem", t.dir);
    ck_assert_int_eq(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/data/tls/ca.key", t.dir);
    ck_assert_int_eq(unlink(p), 0);
    char args[500];
    snprintf(args, sizeof(args), "-c %s", conf);
    int rc = run_exit(args, log, sizeof(log));
    ck_assert_msg(rc != 0 && rc != -1, "rc %d (see %s)", rc, log);
    ck_assert_msg(th_file_has(log, "restore the missing files"), "see %s", log);
    snprintf(p, sizeof(p), "%s/data/tls/ca.pem", t.dir);
    ck_assert_int_gt(file_size_and_sum(p, &sum1), 0);
    ck_assert_msg(sum0 == sum1, "a new CA was made");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("tspsd_config");
    TCase *tc = tcase_create("documented");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_docs_parse);
    tcase_add_test(tc, test_documented_keys_accepted);
    suite_add_tcase(s, tc);
    tc = tcase_create("mistakes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_config_is_directory);
    tcase_add_test(tc, test_bad_port_options);
    tcase_add_test(tc, test_control_port_zero);
    tcase_add_test(tc, test_busy_sip_port_is_an_error);
    tcase_add_test(tc, test_expired_server_cert_warns);
    tcase_add_test(tc, test_deleted_server_pem_keeps_the_ca);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(config_suite)

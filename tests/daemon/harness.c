/* harness.c - see harness.h. */
#include "harness.h"

#include "tls.h"

#include <arpa/inet.h>
#include "tsps_check.h"
#include <errno.h>
#include <fcntl.h>
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

static const char *const identities[] = {"admin", "ann",   "bob",
                                         "att",   "attno", NULL};

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port_of(int type)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, type, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    int port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

int th_free_port(void)
{
    return free_port_of(SOCK_STREAM);
}

int th_free_udp_port(void)
{
    return free_port_of(SOCK_DGRAM);
}

void th_cert_paths(th_daemon *t, const char *identity, char *cert, char *key,
                   size_t len)
{
    snprintf(cert, len, "%s/certs/%s.pem", t->dir, identity);
    snprintf(key, len, "%s/certs/%s.key", t->dir, identity);
}

void th_make_certs(th_daemon *t)
{
    char d[300], err[256], c[300], k[300], oca[300], ocak[300];
    snprintf(d, sizeof(d), "%s/certs", t->dir);
    ck_assert_int_eq(mkdir(d, 0700), 0);
    snprintf(t->ca, sizeof(t->ca), "%s/ca.pem", d);
    snprintf(t->ca_key, sizeof(t->ca_key), "%s/ca.key", d);
    ck_assert_msg(
        tspsd_tls_make_ca("test CA", t->ca, t->ca_key, err, sizeof(err)) == 0,
        "%s", err);
    th_cert_paths(t, "server", c, k, sizeof(c));
    ck_assert(tspsd_tls_make_cert(t->ca, t->ca_key, "localhost", 1, -60, 86400,
                                  c, k, err, sizeof(err)) == 0);
    for (int i = 0; identities[i] != NULL; i++) {
        th_cert_paths(t, identities[i], c, k, sizeof(c));
        ck_assert(tspsd_tls_make_cert(t->ca, t->ca_key, identities[i], 0, -60,
                                      86400, c, k, err, sizeof(err)) == 0);
    }
    /* Expired: valid yesterday only. */
    th_cert_paths(t, "expired", c, k, sizeof(c));
    ck_assert(tspsd_tls_make_cert(t->ca, t->ca_key, "ann", 0, -2 * 86400,
                                  -86400, c, k, err, sizeof(err)) == 0);
    /* Unknown: an admin certificate from another CA. */
    snprintf(oca, sizeof(oca), "%s/other-ca.pem", d);
    snprintf(ocak, sizeof(ocak), "%s/other-ca.key", d);
    ck_assert(tspsd_tls_make_ca("other CA", oca, ocak, err, sizeof(err)) == 0);
    th_cert_paths(t, "stranger", c, k, sizeof(c));
    ck_assert(tspsd_tls_make_cert(oca, ocak, "admin", 0, -60, 86400, c, k, err,
                                  sizeof(err)) == 0);
}

void th_start(th_daemon *t, const char *extra)
{
    char c[300], k[300];
    FILE *f;

    /* A refused client may write to a closed socket: an error, not death. */
    signal(SIGPIPE, SIG_IGN);
    t->port = th_free_port();
    /* the kernel may hand the same free port out twice in a row */
    do
        t->metrics_port = th_free_port();
    while (t->metrics_port == t->port);
    snprintf(t->conf, sizeof(t->conf), "%s/tspsd.conf", t->dir);
    snprintf(t->log, sizeof(t->log), "%s/tspsd.log", t->dir);
    th_cert_paths(t, "server", c, k, sizeof(c));
    f = fopen(t->conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[tspsd]\ndata_dir = %s/data\nlog_level = debug\n"
            "[control]\nlisten = 127.0.0.1\nport = %d\ncert = %s\nkey = %s\n"
            "ca = %s\n"
            "[metrics]\nlisten = 127.0.0.1\nport = %d\n"
            "[sip]\nenabled = false\n"
            "[admin]\nidentities = admin\n%s",
            t->dir, t->port, c, k, t->ca, t->metrics_port,
            extra != NULL ? extra : "");
    fclose(f);
    t->pid = fork();
    ck_assert_int_ge(t->pid, 0);
    if (t->pid == 0) {
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        dup2(nul, 1);
        execl(TSPSD_BIN, "tspsd", "-c", t->conf, (char *)NULL);
        _exit(127);
    }
    /* Up when a TLS client can say hello: up to 10 s. */
    for (int i = 0; i < 200; i++) {
        tspsd_client *cl = NULL;
        char err[200];
        char cc[300], kk[300];
        th_cert_paths(t, "admin", cc, kk, sizeof(cc));
        if (th_try_connect(t, cc, kk, NULL, &cl, err, sizeof(err)) == 0) {
            tspsd_client_close(cl);
            return;
        }
        int st;
        if (waitpid(t->pid, &st, WNOHANG) != 0) {
            /* Say why here: the temp dir (and the log) go at teardown. */
            char last[512] = "", line[512];
            FILE *lf = fopen(t->log, "r");
            while (lf != NULL && fgets(line, sizeof(line), lf) != NULL)
                if (strstr(line, "level=error") != NULL)
                    snprintf(last, sizeof(last), "%s", line);
            if (lf != NULL)
                fclose(lf);
            t->pid = 0;
            ck_abort_msg("tspsd exited early (status %d): %s", st, last);
        }
        msleep(50);
    }
    ck_abort_msg("tspsd did not come up (see %s)", t->log);
}

int th_file_has(const char *path, const char *needle)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

void th_sleep_ms(int ms)
{
    msleep(ms);
}

void th_stop_pid(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return;
        msleep(25);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int th_stop(th_daemon *t)
{
    int st = 0;
    if (t->pid <= 0)
        return -1;
    kill(t->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
            t->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        msleep(25);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &st, 0);
    t->pid = 0;
    return -1;
}

void th_cleanup(th_daemon *t)
{
    if (t->pid > 0)
        th_stop(t);
    if (getenv("TSPS_KEEP_TMP") == NULL)
        tsps_check_rmdir(t->dir);
}

int th_try_connect(th_daemon *t, const char *cert, const char *key,
                   const char *token, tspsd_client **out, char *err,
                   size_t errlen)
{
    tspsd_client_opts o = {0};
    o.host = "127.0.0.1";
    o.port = t->port;
    o.ca = t->ca;
    o.cert = cert;
    o.key = key;
    o.token = token;
    o.timeout_ms = 5000;
    return tspsd_client_connect(&o, out, err, errlen);
}

tspsd_client *th_connect(th_daemon *t, const char *identity, const char *token)
{
    char c[300], k[300], err[256];
    tspsd_client *cl = NULL;
    if (identity != NULL)
        th_cert_paths(t, identity, c, k, sizeof(c));
    int rc = th_try_connect(t, identity ? c : NULL, identity ? k : NULL, token,
                            &cl, err, sizeof(err));
    ck_assert_msg(rc == 0, "connect as %s: %d %s",
                  identity ? identity : "anonymous", rc, err);
    return cl;
}

int th_call(tspsd_client *c, Tsps__Request *req, Tsps__Response **out)
{
    char err[200];
    Tsps__Response *r = NULL;
    if (tspsd_client_call(c, req, &r, err, sizeof(err)) != 0)
        return -100;
    int code = (int)r->code;
    if (out != NULL)
        *out = r;
    else
        tsps__response__free_unpacked(r, NULL);
    return code;
}

int th_log_has(th_daemon *t, const char *needle)
{
    for (int i = 0; i < 40; i++) {
        FILE *f = fopen(t->log, "r");
        char line[4096];
        int found = 0;
        if (f != NULL) {
            while (!found && fgets(line, sizeof(line), f) != NULL)
                found = strstr(line, needle) != NULL;
            fclose(f);
        }
        if (found)
            return 1;
        msleep(50);
    }
    return 0;
}

int th_ctl(th_daemon *t, const char *identity, const char *args, char *out,
           size_t outlen)
{
    char cmd[2048], c[300], k[300];
    th_cert_paths(t, identity != NULL ? identity : "admin", c, k, sizeof(c));
    if (identity != NULL)
        snprintf(cmd, sizeof(cmd),
                 "TSPS_DATA=/nonexistent TSPS_HOST=127.0.0.1 TSPS_PORT=%d "
                 "TSPS_CA=%s TSPS_CERT=%s TSPS_KEY=%s %s %s 2>&1",
                 t->port, t->ca, c, k, TSPSCTL_BIN, args);
    else
        snprintf(cmd, sizeof(cmd),
                 "TSPS_DATA=/nonexistent TSPS_HOST=127.0.0.1 TSPS_PORT=%d "
                 "TSPS_CA=%s %s %s 2>&1",
                 t->port, t->ca, TSPSCTL_BIN, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

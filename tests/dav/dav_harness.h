/* Test harness for the DAV suites: a real DAV server (Radicale by default;
 * Xandikos or sabre/dav with th_server.kind) started by
 * tests/dav/dav_server.sh on a free loopback port, per-test users (every
 * server rereads its users file on each login; Xandikos has the one user
 * alice), and a small libcurl client to seed and inspect collections over
 * HTTP at the paths each server uses. */
#ifndef DAV_HARNESS_H
#define DAV_HARNESS_H

#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tsps/tsps.h>

#include "tsps_check.h"

typedef struct th_server {
    char dir[512];
    int port;
    int noauth;       /* DAV_NOAUTH=1: no authentication at all */
    int pid;          /* as started (the script's pid file is the reference) */
    const char *kind; /* "radicale" (NULL), "xandikos", "sabre" */
} th_server;

static inline const char *th_kind(const th_server *sv)
{
    return sv->kind != NULL ? sv->kind : "radicale";
}

/* The path of a user's address book (cal 0) or calendar (cal 1) `name`
 * ("" = the home holding them) on this server. */
static inline void th_coll_path(const th_server *sv, const char *user,
                                const char *name, int cal, char *buf,
                                size_t len)
{
    const char *k = th_kind(sv);

    if (strcmp(k, "xandikos") == 0)
        snprintf(buf, len, "/alice/%s/%s%s", cal ? "calendars" : "contacts",
                 name, name[0] ? "/" : "");
    else if (strcmp(k, "sabre") == 0)
        snprintf(buf, len, "/dav.php/%s/%s/%s%s",
                 cal ? "calendars" : "addressbooks", user, name,
                 name[0] ? "/" : "");
    else
        snprintf(buf, len, "/%s/%s%s", user, name, name[0] ? "/" : "");
}

/* Start Radicale in a fresh temp dir (port 0 = pick a free one). Returns
 * 0, 77 when Radicale is missing, else -1. */
static inline int th_start(th_server *sv, int port)
{
    char cmd[1200], out[64] = "";
    FILE *p;
    int st;

    if (sv->dir[0] == '\0') {
        /* a prefix of its own: the server outlives many test dirs */
        const char *base = getenv("TMPDIR");
        snprintf(sv->dir, sizeof(sv->dir), "%s/dav-%s-XXXXXX",
                 base != NULL && *base != '\0' ? base : "/tmp", th_kind(sv));
        if (mkdtemp(sv->dir) == NULL)
            return -1;
    }
    snprintf(cmd, sizeof(cmd),
             "DAV_NOAUTH=%d %s/tests/dav/dav_server.sh %s start '%s' ",
             sv->noauth, TSPS_SOURCE_DIR, th_kind(sv), sv->dir);
    if (port > 0)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%d", port);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (fgets(out, sizeof(out), p) == NULL)
        out[0] = '\0';
    st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        return 77;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    sv->port = atoi(out);
    {
        char path[600];
        FILE *fp;
        snprintf(path, sizeof(path), "%s/pid", sv->dir);
        fp = fopen(path, "r");
        if (fp != NULL) {
            if (fscanf(fp, "%d", &sv->pid) != 1)
                sv->pid = 0;
            fclose(fp);
        }
    }
    return sv->port > 0 ? 0 : -1;
}

static inline void th_stop(th_server *sv)
{
    char cmd[700], path[600];

    /* the folder gone (removed under us): stop it by the pid we saw */
    snprintf(path, sizeof(path), "%s/pid", sv->dir);
    if (access(path, F_OK) != 0 && sv->pid > 0) {
        kill(sv->pid, SIGTERM);
        sv->pid = 0;
        return;
    }

    snprintf(cmd, sizeof(cmd), "%s/tests/dav/dav_server.sh %s stop '%s'",
             TSPS_SOURCE_DIR, th_kind(sv), sv->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop %s in %s\n", th_kind(sv), sv->dir);
}

/* A throwaway store in a new temp folder (into dir) holding user `user`
 * (Berlin, +49 30 5550000, voicemail sip:vm@pbx), for a sync to fill. */
static inline tsps_engine *th_store(char *dir, size_t dlen, const char *user)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *eng = NULL;
    tsps_user u;
    char path[600];

    tsps_check_tmpdir(dir, dlen);
    snprintf(path, sizeof(path), "%s/store", dir);
    mkdir(path, 0700);
    cfg.path = path;
    cfg.flags = TSPS_OPEN_NOSYNC;
    ck_assert_int_eq(tsps_engine_open(&cfg, &eng), TSPS_OK);
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "%s", user);
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    snprintf(u.tz, sizeof(u.tz), "Europe/Berlin");
    snprintf(u.voicemail_uri, sizeof(u.voicemail_uri), "sip:vm@pbx");
    ck_assert_int_eq(tsps_user_put(eng, &u), TSPS_OK);
    ck_assert_int_eq(tsps_number_add(eng, user, "+49 30 5550000"), TSPS_OK);
    return eng;
}

/* Run a suite against a server started for it: 77 (skip) when the server
 * is not installed, 1 when it does not start; stopped and removed after.
 * With sv->port == -1 the suite starts servers itself (one per test). */
static inline int th_run_suite(th_server *sv, Suite *(*suite_fn)(void))
{
    const char *tap = getenv("TSPS_TAP");
    SRunner *sr;
    int nf, rc, own = sv->port != -1;

    rc = own ? th_start(sv, 0) : 0;
    if (!own) {
        /* is it installed at all? */
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "%s/tests/dav/dav_server.sh %s check",
                 TSPS_SOURCE_DIR, th_kind(sv));
        rc = system(cmd);
        rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        rc = rc == 0 || rc == 77 ? rc : -1;
    }
    if (rc == 77) {
        fprintf(stderr,
                "SKIP: %s is not installed "
                "(scripts/deps.sh test installs it)\n",
                th_kind(sv));
        if (own)
            tsps_check_rmdir(sv->dir);
        return 77;
    }
    if (rc != 0) {
        fprintf(stderr, "FAIL: %s did not start\n", th_kind(sv));
        if (own)
            tsps_check_rmdir(sv->dir);
        return 1;
    }
    sr = srunner_create(suite_fn());
    if (tap != NULL && *tap != '\0')
        srunner_set_tap(sr, tap);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (own) {
        th_stop(sv);
        tsps_check_rmdir(sv->dir);
    }
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Add a user (password "secret"). */
static inline void th_user(const th_server *sv, const char *user)
{
    char path[600];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/users", sv->dir);
    fp = fopen(path, "a");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%s:secret\n", user);
    fclose(fp);
}

typedef struct th_resp {
    long status;
    char *body;
    size_t len;
    char etag[256];
} th_resp;

static inline size_t th_on_body(char *p, size_t sz, size_t n, void *arg)
{
    th_resp *r = arg;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (nb == NULL)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static inline size_t th_on_header(char *p, size_t sz, size_t n, void *arg)
{
    th_resp *r = arg;
    if (sz * n > 6 && strncasecmp(p, "ETag:", 5) == 0) {
        size_t k = sz * n - 5;
        const char *v = p + 5;
        while (k > 0 && *v == ' ')
            v++, k--;
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n'))
            k--;
        snprintf(r->etag, sizeof(r->etag), "%.*s", (int)k, v);
    }
    return sz * n;
}

/* One request as `user` to path on the server; returns the status. The
 * body (if wanted) is malloc'ed into *out. */
static inline long th_http(const th_server *sv, const char *user,
                           const char *method, const char *path,
                           const char *ctype, const char *body, char **out,
                           char *etag, size_t etaglen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[1024], hdr[300];
    th_resp r;

    memset(&r, 0, sizeof(r));
    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sv->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERNAME, user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, "secret");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, th_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (ctype != NULL) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
        h = curl_slist_append(h, hdr);
    }
    h = curl_slist_append(h, "Depth: 1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (etag != NULL)
        snprintf(etag, etaglen, "%s", r.etag);
    if (out != NULL)
        *out = r.body != NULL ? r.body : strdup("");
    else
        free(r.body);
    return r.status;
}

static inline void th_mkbook(const th_server *sv, const char *user,
                             const char *name)
{
    char path[300];
    th_coll_path(sv, user, name, 0, path, sizeof(path));
    ck_assert_int_eq(
        th_http(sv, user, "MKCOL", path, "application/xml",
                "<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
                "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop>"
                "<D:resourcetype><D:collection/><C:addressbook/>"
                "</D:resourcetype></D:prop></D:set></D:mkcol>",
                NULL, NULL, 0),
        201);
}

static inline void th_mkcal(const th_server *sv, const char *user,
                            const char *name)
{
    char path[300];
    th_coll_path(sv, user, name, 1, path, sizeof(path));
    ck_assert_int_eq(
        th_http(sv, user, "MKCALENDAR", path, "application/xml",
                "<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" "
                "xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>"
                "<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/>"
                "</C:supported-calendar-component-set></D:prop></D:set>"
                "</C:mkcalendar>",
                NULL, NULL, 0),
        201);
}

/* PUT a vCard <uid>.vcf into /user/book/ (2xx asserted). */
static inline void th_put_card(const th_server *sv, const char *user,
                               const char *book, const char *uid,
                               const char *name, const char *tel,
                               const char *extra)
{
    char coll[300], path[800], text[2048];
    long st;
    th_coll_path(sv, user, book, 0, coll, sizeof(coll));
    snprintf(path, sizeof(path), "%s%s.vcf", coll, uid);
    snprintf(text, sizeof(text),
             "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:;%s;;;\r\n"
             "TEL;TYPE=CELL:%s\r\n%sEND:VCARD\r\n",
             uid, name, name, tel, extra != NULL ? extra : "");
    st = th_http(sv, user, "PUT", path, "text/vcard; charset=utf-8", text, NULL,
                 NULL, 0);
    ck_assert_msg(st == 201 || st == 204, "PUT %s -> %ld", path, st);
}

static inline void th_delete(const th_server *sv, const char *user,
                             const char *book, const char *file)
{
    char coll[300], path[800];
    long st;
    th_coll_path(sv, user, book, 0, coll, sizeof(coll));
    snprintf(path, sizeof(path), "%s%s", coll, file);
    st = th_http(sv, user, "DELETE", path, NULL, NULL, NULL, NULL, 0);
    ck_assert_msg(st == 200 || st == 204, "DELETE %s -> %ld", path, st);
}

#endif

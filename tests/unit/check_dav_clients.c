/*
 * Real CardDAV clients writing to the same server as tsps: khard (the
 * address book a user edits) over a vdirsyncer-synced folder, on Radicale,
 * Xandikos and sabre/dav (DAV_SERVER, as check_dav_servers). Cards
 * created, edited and deleted with khard and pushed by vdirsyncer reach
 * tsps routing on the next sync; a code tsps writes back reaches khard's
 * folder on vdirsyncer's next run. Skipped (77) when khard or vdirsyncer
 * is not installed (scripts/deps.sh test installs both).
 */
#include <stdarg.h>

#include <cmsb/adapter.h>

#include "dav_harness.h"

static th_server S;
static const char *U = "alice";
static char T[512]; /* the test's folder: store, configs, local vdir */
static tsps_engine *E;
static char logbuf[1 << 18];

static void t_log(void *arg, int level, const char *msg)
{
    size_t n = strlen(logbuf);
    (void)arg;
    (void)level;
    if (n + strlen(msg) + 2 < sizeof(logbuf))
        snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

/* Run a shell command (its output into T/cmd.log); assert it succeeded. */
static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[4096], full[5200], *out;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "cd '%s' && ( %s ) >'%s/cmd.log' 2>&1", T, cmd,
             T);
    rc = system(full);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        char path[600];
        FILE *fp;
        size_t n;
        snprintf(path, sizeof(path), "%s/cmd.log", T);
        out = calloc(1, 8192);
        fp = fopen(path, "r");
        n = fp != NULL ? fread(out, 1, 8191, fp) : 0;
        if (fp != NULL)
            fclose(fp);
        out[n] = '\0';
        ck_abort_msg("command failed (%d): %s\n%s", rc, cmd, out);
    }
}

static void khard(const char *args)
{
    run("khard -c '%s/khard.conf' %s", T, args);
}

static void vdirsyncer(void)
{
    run("vdirsyncer -c '%s/vds.conf' sync", T);
}

/* A khard YAML contact template in T/name */
static void yaml(const char *name, const char *text)
{
    char path[700];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", T, name);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void setup_clients(void)
{
    char home[300], path[700];
    FILE *fp;

    th_coll_path(&S, U, "", 0, home, sizeof(home));
    snprintf(path, sizeof(path), "%s/khard.conf", T);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    /* private_objects: khard writes X-TSPS-CODE as "Private: TSPS-CODE" */
    fprintf(fp,
            "[addressbooks]\n[[book]]\npath = %s/local/book\n"
            "[general]\neditor = /bin/false\nmerge_editor = /bin/false\n"
            "[contact table]\n[vcard]\npreferred_version = 3.0\n"
            "private_objects = TSPS-CODE,\n",
            T);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/vds.conf", T);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp,
            "[general]\nstatus_path = \"%s/status\"\n"
            "[pair tsps]\na = \"local\"\nb = \"server\"\n"
            "collections = [\"from b\"]\nconflict_resolution = \"b wins\"\n"
            "[storage local]\ntype = \"filesystem\"\npath = \"%s/local\"\n"
            "fileext = \".vcf\"\n"
            "[storage server]\ntype = \"carddav\"\n"
            "url = \"http://127.0.0.1:%d%s\"\n"
            "username = \"alice\"\npassword = \"secret\"\n",
            T, T, S.port, home);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/local", T);
    mkdir(path, 0700);
    /* the local side of "book" is made on the first discover */
    run("yes | vdirsyncer -c '%s/vds.conf' discover", T);
    vdirsyncer();
}

static void t_sync(cmsb_source *src, cmsb_sync_stats *st)
{
    int rc = cmsb_sync(src, E, U, "dav", 0, st);
    ck_assert_msg(rc == CMSB_OK, "sync: %s\n%s", cmsb_errname(rc), logbuf);
}

static void t_rule(const char *code, const char *spec)
{
    tsps_method m;
    char err[128];
    ck_assert_int_eq(tsps_method_parse(spec, &m, err, sizeof(err)), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(E, U, code, TSPS_STATUS_ANY, &m), TSPS_OK);
}

/* The code the engine routes a call from `caller` with. */
static const char *routed(const char *caller)
{
    static tsps_decision d;
    tsps_call call = TSPS_CALL_INIT;
    call.called = "+49 30 5550000";
    call.caller = caller;
    call.now = 1768208400;
    ck_assert_int_eq(tsps_route(E, &call, &d), TSPS_OK);
    return d.code;
}

/* Does a file of khard's folder hold `needle`? */
static int local_has(const char *needle)
{
    char cmd[900];
    int rc;
    snprintf(cmd, sizeof(cmd), "grep -rqF '%s' '%s/local/book'", needle, T);
    rc = system(cmd);
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

START_TEST(test_khard_vdirsyncer_reach_routing)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    cmsb_options o = CMSB_OPTIONS_INIT;
    cmsb_sync_stats st;
    char uri[700], book[300];

    E = th_store(T, sizeof(T), U);
    logbuf[0] = '\0';
    th_mkbook(&S, U, "book");
    th_put_card(&S, U, "book", "anna", "Anna", "+49 30 1111111", NULL);
    t_rule("VIP", "voicemail");
    t_rule("SALES", "reject");
    t_rule("FAMILY", "voicemail");
    setup_clients();
    ck_assert(local_has("UID:anna")); /* vdirsyncer pulled it */

    ck_assert_int_eq(cmsb_registry_open(&reg), CMSB_OK);
    o.username = U;
    o.password = "secret";
    o.log = t_log;
    o.timeout_ms = 20000;
    th_coll_path(&S, U, "book", 0, book, sizeof(book));
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d%s", S.port, book);
    ck_assert_int_eq(cmsb_source_open(reg, uri, &o, &src), CMSB_OK);
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 1);

    /* created in khard: a category code and an X-TSPS-CODE property */
    yaml("victoria.yaml", "Formatted name : Victoria Price\n"
                          "First name : Victoria\nLast name : Price\n"
                          "Phone :\n    cell : +49 40 7654321\n"
                          "Categories : VIP\n");
    yaml("bob.yaml", "Formatted name : Bob Baker\nFirst name : Bob\n"
                     "Last name : Baker\nPhone :\n    work : 030 2222222\n"
                     "Private :\n    TSPS-CODE : SALES\n");
    khard("new -a book -i victoria.yaml");
    khard("new -a book -i bob.yaml");
    vdirsyncer();
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 2);
    ck_assert_str_eq(routed("+49407654321"), "VIP");
    ck_assert_str_eq(routed("+49302222222"), "SALES");

    /* edited (the code) and deleted in khard */
    yaml("bob2.yaml", "Formatted name : Bob Baker\nFirst name : Bob\n"
                      "Last name : Baker\nPhone :\n    work : 030 2222222\n"
                      "Private :\n    TSPS-CODE : FAMILY\n");
    run("yes | khard -c '%s/khard.conf' edit -a book -i bob2.yaml 'Bob Baker'",
        T);
    khard("remove --force 'Victoria Price'");
    vdirsyncer();
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 1);
    ck_assert_uint_eq(st.contacts_deleted, 1);
    ck_assert_str_eq(routed("+49302222222"), "FAMILY");
    ck_assert_str_ne(routed("+49407654321"), "VIP");

    /* and back: a code tsps writes reaches khard's folder */
    ck_assert_int_eq(cmsb_write_code(src, "anna", "VIP"), CMSB_OK);
    vdirsyncer();
    ck_assert(local_has("X-TSPS-CODE:VIP"));
    t_sync(src, &st);
    ck_assert_str_eq(routed("+49301111111"), "VIP");

    cmsb_source_close(src);
    cmsb_registry_close(reg);
    tsps_engine_close(E);
    tsps_check_rmdir(T);
}
END_TEST

static void srv_up(void)
{
    S.dir[0] = '\0';
    if (th_start(&S, 0) != 0) {
        fprintf(stderr, "FAIL: %s did not start\n", th_kind(&S));
        exit(EXIT_FAILURE);
    }
}

static void srv_down(void)
{
    S.pid = 0;
    th_stop(&S);
    tsps_check_rmdir(S.dir);
}

static Suite *clients_suite(void)
{
    Suite *s = suite_create("dav_clients");
    TCase *tc = tcase_create("khard_vdirsyncer");

    tcase_set_timeout(tc, 180);
    tcase_add_unchecked_fixture(tc, srv_up, srv_down);
    tcase_add_test(tc, test_khard_vdirsyncer_reach_routing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *k = getenv("DAV_SERVER");

    if (system("command -v khard >/dev/null 2>&1 && "
               "command -v vdirsyncer >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: khard or vdirsyncer not installed "
                        "(scripts/deps.sh test installs them)\n");
        return 77;
    }
    S.kind = k != NULL && *k != '\0' ? k : "radicale";
    S.port = -1; /* a server per test */
    return th_run_suite(&S, clients_suite);
}

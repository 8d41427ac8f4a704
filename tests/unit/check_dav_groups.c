/*
 * Group-card codes over CardDAV against a real Radicale (started by
 * tests/dav/radicale.sh on a free loopback port): Apple groups
 * (X-ADDRESSBOOKSERVER-KIND/-MEMBER) and vCard 4 groups (KIND:group +
 * MEMBER), each its own resource. Members get the group's code; adding or
 * removing a member, renaming or deleting the group follow on the next
 * incremental sync, and only the affected members' resources are fetched
 * again (counted from the adapter's log). Without Radicale the suite
 * exits 77 (skipped).
 */
#include <cmsb/adapter.h>

#include "dav_harness.h"

static th_server sv;

typedef struct t_ctx {
    char dir[512];
    tsps_engine *eng;
    cmsb_registry *reg;
    char user[64];
} t_ctx;

static t_ctx T;
static char logbuf[1 << 18];

static void t_log(void *arg, int level, const char *msg)
{
    size_t n = strlen(logbuf);

    (void)arg;
    (void)level;
    snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static void t_setup(const char *user)
{

    logbuf[0] = '\0';
    snprintf(T.user, sizeof(T.user), "%s", user);
    th_user(&sv, user);
    th_mkbook(&sv, user, "book");
    T.eng = th_store(T.dir, sizeof(T.dir), user);
    ck_assert_int_eq(cmsb_registry_open(&T.reg), CMSB_OK);
}

static void t_teardown(void)
{
    tsps_engine_close(T.eng);
    cmsb_registry_close(T.reg);
    tsps_check_rmdir(T.dir);
}

static cmsb_source *t_open(const char *suffix)
{
    cmsb_options o = CMSB_OPTIONS_INIT;
    cmsb_source *src = NULL;
    char uri[600];
    int rc;

    o.username = T.user;
    o.password = "secret";
    o.log = t_log;
    o.tz = "Europe/Berlin";
    o.timeout_ms = 5000;
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/%s/book/%s",
             sv.port, T.user, suffix);
    rc = cmsb_source_open(T.reg, uri, &o, &src);
    ck_assert_msg(rc == CMSB_OK, "open %s: %s\n%s", uri, cmsb_errname(rc),
                  logbuf);
    return src;
}

/* One sync with a fresh log. */
static void t_sync(cmsb_source *src, cmsb_sync_stats *st)
{
    int rc;

    logbuf[0] = '\0';
    rc = cmsb_sync(src, T.eng, T.user, "dav", 0, st);
    ck_assert_msg(rc == CMSB_OK, "sync: %s\n%s", cmsb_errname(rc), logbuf);
}

/* How many log lines of this sync contain s. */
static int log_count(const char *s)
{
    int n = 0;

    for (const char *p = strstr(logbuf, s); p != NULL; p = strstr(p + 1, s))
        n++;
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names the adapter fetched again for a group change in the last
 * sync, sorted, comma-separated ("" = none). */
static const char *refetched(void)
{
    static char out[1024];
    const char *key = "msg=\"dav: group code moved, refetching\" href=\"";
    char *names[64];
    int n = 0;

    out[0] = '\0';
    for (const char *p = strstr(logbuf, key); p != NULL && n < 64;
         p = strstr(p + 1, key)) {
        const char *h = p + strlen(key), *e = strchr(h, '"');
        const char *slash = h;
        ck_assert_ptr_nonnull(e);
        for (const char *q = h; q < e; q++)
            if (*q == '/')
                slash = q + 1;
        names[n++] = strndup(slash, (size_t)(e - slash));
    }
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    for (int i = 0; i < n; i++) {
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
                 i > 0 ? "," : "", names[i]);
        free(names[i]);
    }
    return out;
}

static void t_code(const char *uid, const char *code, tsps_code_source src)
{
    tsps_contact c;

    ck_assert_int_eq(tsps_contact_get(T.eng, T.user, uid, &c), TSPS_OK);
    ck_assert_msg(strcmp(c.code, code) == 0 && c.code_source == src,
                  "%s: code \"%s\" source %d (detail \"%s\"), want \"%s\" %d",
                  uid, c.code, c.code_source, c.code_detail, code, src);
}

static void t_detail(const char *uid, const char *part)
{
    tsps_contact c;

    ck_assert_int_eq(tsps_contact_get(T.eng, T.user, uid, &c), TSPS_OK);
    ck_assert_msg(strstr(c.code_detail, part) != NULL, "%s: detail \"%s\"", uid,
                  c.code_detail);
}

static void t_rule(const char *code, const char *spec)
{
    tsps_method m;
    char err[128];

    ck_assert_int_eq(tsps_method_parse(spec, &m, err, sizeof(err)), TSPS_OK);
    ck_assert_int_eq(tsps_code_set(T.eng, T.user, code, TSPS_STATUS_ANY, &m),
                     TSPS_OK);
}

static void t_route(const char *caller, tsps_decision *d)
{
    tsps_call call = TSPS_CALL_INIT;

    call.called = "+49 30 5550000";
    call.caller = caller;
    call.now = 1768208400; /* 2026-01-12 10:00 CET, a Monday */
    ck_assert_int_eq(tsps_route(T.eng, &call, d), TSPS_OK);
}

/* PUT a group card <file>.vcf named `name` with the member uids in
 * `members` (space-separated); apple: Apple's vCard 3 form, else vCard 4
 * KIND:group. */
static void put_group(const char *file, const char *uid, const char *name,
                      const char *members, int apple)
{
    char path[400], text[4096], list[512], *save = NULL;
    size_t o;
    long st;

    o = (size_t)snprintf(text, sizeof(text),
                         apple ? "BEGIN:VCARD\r\nVERSION:3.0\r\n"
                                 "PRODID:-//Apple Inc.//macOS 14.0//EN\r\n"
                                 "N:%s\r\nFN:%s\r\n"
                                 "X-ADDRESSBOOKSERVER-KIND:group\r\n"
                               : "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\n"
                                 "N:%s\r\nFN:%s\r\n",
                         name, name);
    snprintf(list, sizeof(list), "%s", members);
    for (char *m = strtok_r(list, " ", &save); m != NULL;
         m = strtok_r(NULL, " ", &save))
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s:urn:uuid:%s\r\n",
                              apple ? "X-ADDRESSBOOKSERVER-MEMBER" : "MEMBER",
                              m);
    snprintf(text + o, sizeof(text) - o, "UID:%s\r\nEND:VCARD\r\n", uid);
    snprintf(path, sizeof(path), "/%s/book/%s.vcf", T.user, file);
    st = th_http(&sv, T.user, "PUT", path, "text/vcard; charset=utf-8", text,
                 NULL, NULL, 0);
    ck_assert_msg(st == 201 || st == 204, "PUT %s -> %ld", path, st);
}

static void put_person(const char *uid, const char *tel, const char *extra)
{
    th_put_card(&sv, T.user, "book", uid, uid, tel, extra);
}

/* ---- Apple groups over sync-collection ---- */

START_TEST(test_apple_group_follows_membership)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    tsps_decision d;

    t_setup("apple");
    put_person("anna", "+49 30 1000001", NULL);
    put_person("bob", "+49 30 1000002", NULL);
    put_person("carl", "+49 30 1000003", "X-TSPS-CODE:FAMILY\r\n");
    put_person("dora", "+49 30 1000004", NULL);
    put_group("vip", "vip-group", "VIP", "anna bob carl", 1);
    t_rule("VIP", "forward sip:assistant@example.org");
    t_rule("FAMILY", "reject decline");
    src = t_open("");

    /* first sync: the group card comes in the same page as its members,
     * and is read first: nothing is fetched again */
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 1);
    ck_assert_uint_eq(st.contacts_put, 4);
    ck_assert_str_eq(refetched(), "");
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);
    t_code("bob", "VIP", TSPS_CODE_SRC_GROUP);
    t_code("dora", "", TSPS_CODE_SRC_NONE);
    /* a property on the card wins over the group */
    t_code("carl", "FAMILY", TSPS_CODE_SRC_PROPERTY);
    t_detail("carl", "wins over group VIP");
    t_detail("anna", "group VIP");
    /* and calls route by it */
    t_route("+49301000001", &d);
    ck_assert_str_eq(d.contact_uid, "anna");
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.code_source, TSPS_CODE_SRC_GROUP);
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_FORWARD);
    t_route("+49301000003", &d);
    ck_assert_str_eq(d.code, "FAMILY");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
    t_route("+49301000004", &d);
    ck_assert_str_eq(d.code, "");

    /* bob leaves the group: only bob.vcf is fetched again */
    put_group("vip", "vip-group", "VIP", "anna carl", 1);
    t_sync(src, &st);
    ck_assert_int_eq(st.full, 0);
    ck_assert_str_eq(refetched(), "bob.vcf");
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 1);
    ck_assert_uint_eq(st.contacts_put, 1);
    ck_assert_uint_eq(st.contacts_deleted, 0);
    t_code("bob", "", TSPS_CODE_SRC_NONE);
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);
    t_route("+49301000002", &d);
    ck_assert_str_eq(d.code, "");
    ck_assert_int_ne(d.method.kind, TSPS_METHOD_FORWARD);

    /* dora joins */
    put_group("vip", "vip-group", "VIP", "anna carl dora", 1);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "dora.vcf");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("dora", "VIP", TSPS_CODE_SRC_GROUP);
    t_route("+49301000004", &d);
    ck_assert_str_eq(d.code, "VIP");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_FORWARD);

    /* renamed: every member is re-sent (carl's detail names the group),
     * bob is not touched */
    put_group("vip", "vip-group", "SALES", "anna carl dora", 1);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf,carl.vcf,dora.vcf");
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 1);
    ck_assert_uint_eq(st.contacts_put, 3);
    t_code("anna", "SALES", TSPS_CODE_SRC_GROUP);
    t_code("dora", "SALES", TSPS_CODE_SRC_GROUP);
    t_code("carl", "FAMILY", TSPS_CODE_SRC_PROPERTY);
    t_detail("carl", "wins over group SALES");
    t_code("bob", "", TSPS_CODE_SRC_NONE);

    /* a new member and the group change in the same sync page: the new
     * card resolves at once, only the other changes are fetched */
    put_person("erik", "+49 30 1000005", NULL);
    put_group("vip", "vip-group", "SALES", "anna carl dora erik", 1);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("erik", "SALES", TSPS_CODE_SRC_GROUP);

    /* the group is deleted */
    th_delete(&sv, T.user, "book", "vip.vcf");
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf,carl.vcf,dora.vcf,erik.vcf");
    ck_assert_uint_eq(st.contacts_put, 4);
    ck_assert_uint_eq(st.contacts_deleted, 0);
    t_code("anna", "", TSPS_CODE_SRC_NONE);
    t_code("dora", "", TSPS_CODE_SRC_NONE);
    t_code("erik", "", TSPS_CODE_SRC_NONE);
    t_code("carl", "FAMILY", TSPS_CODE_SRC_PROPERTY);
    t_route("+49301000001", &d);
    ck_assert_str_eq(d.code, "");

    /* nothing changed: nothing fetched, nothing written */
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 0);
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 0);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- vCard 4 groups over the etag listing (#nosync) ---- */

START_TEST(test_vcard4_groups_listing)
{
    cmsb_source *src;
    cmsb_sync_stats st;

    t_setup("kind");
    put_person("anna", "+49 30 2000001", NULL);
    put_person("bob", "+49 30 2000002", NULL);
    put_person("carl", "+49 30 2000003", "CATEGORIES:SALES\r\n");
    /* anna is in two coded groups: the alphabetically first applies, as
     * in vcard-dir */
    put_group("fam", "urn:uuid:fam-group", "FAMILY", "anna", 0);
    put_group("vip", "urn:uuid:vip-group", "VIP", "anna bob carl", 0);
    /* a group whose name is not a code changes nothing */
    put_group("cow", "urn:uuid:cow-group", "Coworkers", "bob", 0);
    src = t_open("#nosync");
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_put, 3);
    t_code("anna", "FAMILY", TSPS_CODE_SRC_GROUP);
    t_code("bob", "VIP", TSPS_CODE_SRC_GROUP);
    /* a category wins over a group */
    t_code("carl", "SALES", TSPS_CODE_SRC_CATEGORY);
    t_detail("carl", "wins over group VIP");

    /* anna leaves FAMILY: VIP applies now */
    put_group("fam", "urn:uuid:fam-group", "FAMILY", "", 0);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);

    /* the uncoded group is renamed to a code: its member follows (bob is
     * in BLOCK and VIP now: BLOCK sorts first) */
    put_group("cow", "urn:uuid:cow-group", "BLOCK", "bob", 0);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "bob.vcf");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("bob", "BLOCK", TSPS_CODE_SRC_GROUP);

    /* the member card itself changes while the group stays: resolved
     * from the state, nothing else fetched */
    put_person("bob", "+49 30 2000009", NULL);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("bob", "BLOCK", TSPS_CODE_SRC_GROUP);

    /* a deleted member: the group still lists it, nothing breaks */
    th_delete(&sv, T.user, "book", "bob.vcf");
    t_sync(src, &st);
    ck_assert_uint_eq(st.contacts_deleted, 1);
    ck_assert_str_eq(refetched(), "");
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- cards that stop parsing keep what they gave ---- */

static void put_raw(const char *file, const char *text)
{
    char path[400];
    long st;

    snprintf(path, sizeof(path), "/%s/book/%s.vcf", T.user, file);
    st = th_http(&sv, T.user, "PUT", path, "text/vcard; charset=utf-8", text,
                 NULL, NULL, 0);
    ck_assert_msg(st == 201 || st == 204, "PUT %s -> %ld", path, st);
}

START_TEST(test_broken_cards_keep_groups)
{
    cmsb_source *src;
    cmsb_sync_stats st;

    t_setup("broken");
    put_person("anna", "+49 30 5000001", NULL);
    put_person("bob", "+49 30 5000002", NULL);
    put_group("vip", "vip-group", "VIP", "anna bob", 1);
    src = t_open("");
    t_sync(src, &st);
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);

    /* anna's card no longer parses (Radicale stores it): the contact is
     * kept with its group code, and not fetched again on every sync */
    put_raw("anna", "BEGIN:VCARD\r\nVERSION:9.9\r\nUID:anna\r\nFN:anna\r\n"
                    "TEL:+49 30 5000001\r\nEND:VCARD\r\n");
    t_sync(src, &st);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(st.contacts_put + st.contacts_deleted, 0);
    ck_assert_str_eq(refetched(), "");
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);
    t_sync(src, &st);
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 0);

    /* the group is renamed meanwhile: bob follows; anna's card is tried
     * once (it cannot be read, so she keeps what she had), and not again
     * on the next sync */
    put_group("vip", "vip-group", "SALES", "anna bob", 1);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf,bob.vcf");
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("bob", "SALES", TSPS_CODE_SRC_GROUP);
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);
    t_sync(src, &st);
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 0);
    ck_assert_uint_eq(st.errors, 0);
    /* her card is fixed: read again with the group as it is now */
    put_person("anna", "+49 30 5000001", NULL);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "");
    ck_assert_uint_eq(st.contacts_put, 1);
    t_code("anna", "SALES", TSPS_CODE_SRC_GROUP);

    /* the group card no longer parses: its members keep the code */
    put_raw("vip", "BEGIN:VCARD\r\nVERSION:9.9\r\nFN:SALES\r\n"
                   "X-ADDRESSBOOKSERVER-KIND:group\r\nUID:vip-group\r\n"
                   "END:VCARD\r\n");
    t_sync(src, &st);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_str_eq(refetched(), "");
    t_code("bob", "SALES", TSPS_CODE_SRC_GROUP);

    /* fixed again, without bob: bob follows */
    put_group("vip", "vip-group", "SALES", "anna", 1);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "bob.vcf");
    t_code("bob", "", TSPS_CODE_SRC_NONE);
    t_code("anna", "SALES", TSPS_CODE_SRC_GROUP);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- cursors: from before group cards were kept, and a stale one ---- */

typedef struct acc {
    int puts;
    char last_code[TSPS_CODE_MAX];
    int last_src;
    char cursor[65536];
} acc;

static int on_ch(void *arg, const cmsb_change *ch)
{
    acc *a = arg;

    if (ch->kind == CMSB_CHANGE_CONTACT_PUT) {
        a->puts++;
        snprintf(a->last_code, sizeof(a->last_code), "%s", ch->contact->code);
        a->last_src = ch->contact->code_source;
    }
    if (ch->kind == CMSB_CHANGE_CHECKPOINT)
        snprintf(a->cursor, sizeof(a->cursor), "%s", ch->cursor);
    return 0;
}

/* Drop the fields of the I lines that start with one of `tags`. */
static void drop_fields(char *cur, const char *tags)
{
    char *o = cur;

    for (const char *p = cur; *p != '\0';) {
        size_t n = strcspn(p, " \n");
        int drop =
            p > cur && p[-1] == ' ' && n > 0 && strchr(tags, p[0]) != NULL;
        if (drop) {
            o--; /* the space before it */
        } else {
            memmove(o, p, n);
            o += n;
        }
        p += n;
        if (*p != '\0')
            *o++ = *p++;
    }
    *o = '\0';
}

START_TEST(test_cursor_v1_and_stale_member)
{
    cmsb_source *src;
    acc *a = calloc(1, sizeof(*a));
    char *v1, *stale;

    t_setup("curs");
    put_person("anna", "+49 30 3000001", NULL);
    put_person("bob", "+49 30 3000002", NULL);
    put_person("carl", "+49 30 3000003", NULL);
    put_group("vip", "vip-group", "VIP", "anna", 1);
    src = t_open("");
    ck_assert_int_eq(cmsb_changes(src, NULL, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 3);
    ck_assert_msg(strncmp(a->cursor, "davsync 2 ", 10) == 0, "%s", a->cursor);
    ck_assert_msg(strstr(a->cursor, " GVIP Manna") != NULL, "%s", a->cursor);
    ck_assert_msg(strstr(a->cursor, " Canna AVIP") != NULL, "%s", a->cursor);

    /* a version 1 cursor (written before group cards were kept): the
     * resources that produced nothing are fetched once (the group card),
     * then its member; bob and carl are not touched */
    v1 = strdup(a->cursor);
    memcpy(v1, "davsync 1", 9);
    drop_fields(v1, "AGM");
    ck_assert_ptr_null(strstr(v1, " GVIP"));
    memset(a, 0, sizeof(*a));
    logbuf[0] = '\0';
    ck_assert_int_eq(cmsb_changes(src, v1, on_ch, a), CMSB_OK);
    ck_assert_msg(strstr(logbuf, "members of unknown state\" href=\"/curs/book/"
                                 "\" resources=1") != NULL,
                  "%s", logbuf);
    ck_assert_str_eq(refetched(), "anna.vcf");
    ck_assert_int_eq(a->puts, 1);
    ck_assert_str_eq(a->last_code, "VIP");
    ck_assert_int_eq(a->last_src, TSPS_CODE_SRC_GROUP);
    ck_assert_msg(strstr(a->cursor, " GVIP Manna") != NULL, "%s", a->cursor);

    /* a cursor whose group line is newer than what its member was sent
     * with (a sync stopped between the two): the next run repairs it */
    stale = strdup(a->cursor);
    drop_fields(stale, "A");
    memset(a, 0, sizeof(*a));
    logbuf[0] = '\0';
    ck_assert_int_eq(cmsb_changes(src, stale, on_ch, a), CMSB_OK);
    ck_assert_str_eq(refetched(), "anna.vcf");
    ck_assert_int_eq(a->puts, 1);
    ck_assert_str_eq(a->last_code, "VIP");

    /* and from the cursor it wrote: nothing fetched, nothing sent */
    free(stale);
    stale = strdup(a->cursor);
    memset(a, 0, sizeof(*a));
    logbuf[0] = '\0';
    ck_assert_int_eq(cmsb_changes(src, stale, on_ch, a), CMSB_OK);
    ck_assert_int_eq(a->puts, 0);
    ck_assert_int_eq(log_count("msg=\"dav: multiget\""), 0);
    free(stale);
    free(v1);
    free(a);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- writing a code back to a contact that has it from a group ---- */

static char *get_text(const char *file)
{
    char path[400], *body = NULL;

    snprintf(path, sizeof(path), "/%s/book/%s.vcf", T.user, file);
    ck_assert_int_eq(
        th_http(&sv, T.user, "GET", path, NULL, NULL, &body, NULL, 0), 200);
    return body;
}

START_TEST(test_write_back_with_groups)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    char *text, etag1[256], etag2[256];

    t_setup("wbg");
    put_person("anna", "+49 30 6000001", NULL);
    put_person("bob", "+49 30 6000002", NULL);
    put_person("carl", "+49 30 6000003", NULL);
    put_group("vip", "vip-group", "VIP", "anna bob carl", 1);
    put_group("fam", "urn:uuid:fam-group", "FAMILY", "anna", 0);
    src = t_open("");
    t_sync(src, &st);
    t_code("anna", "FAMILY", TSPS_CODE_SRC_GROUP);
    t_code("bob", "VIP", TSPS_CODE_SRC_GROUP);

    /* the code it already has (from the group): nothing is written */
    ck_assert_int_eq(th_http(&sv, T.user, "GET", "/wbg/book/bob.vcf", NULL,
                             NULL, NULL, etag1, sizeof(etag1)),
                     200);
    ck_assert_int_eq(cmsb_write_code(src, "bob", "VIP"), CMSB_OK);
    ck_assert_int_eq(th_http(&sv, T.user, "GET", "/wbg/book/bob.vcf", NULL,
                             NULL, NULL, etag2, sizeof(etag2)),
                     200);
    ck_assert_str_eq(etag1, etag2);

    /* another code: the property, which wins over the group */
    ck_assert_int_eq(cmsb_write_code(src, "bob", "SALES"), CMSB_OK);
    t_sync(src, &st);
    t_code("bob", "SALES", TSPS_CODE_SRC_PROPERTY);
    t_detail("bob", "wins over group VIP");

    /* cleared: anna leaves both coded groups, her card is untouched */
    ck_assert_int_eq(th_http(&sv, T.user, "GET", "/wbg/book/anna.vcf", NULL,
                             NULL, NULL, etag1, sizeof(etag1)),
                     200);
    ck_assert_int_eq(cmsb_write_code(src, "anna", ""), CMSB_OK);
    ck_assert_int_eq(th_http(&sv, T.user, "GET", "/wbg/book/anna.vcf", NULL,
                             NULL, NULL, etag2, sizeof(etag2)),
                     200);
    ck_assert_str_eq(etag1, etag2);
    text = get_text("vip");
    ck_assert_msg(strstr(text, "urn:uuid:anna") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "urn:uuid:carl") != NULL, "%s", text);
    free(text);
    text = get_text("fam");
    ck_assert_msg(strstr(text, "urn:uuid:anna") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "FN:FAMILY") != NULL, "%s", text);
    free(text);
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf");
    t_code("anna", "", TSPS_CODE_SRC_NONE);
    t_code("carl", "VIP", TSPS_CODE_SRC_GROUP);

    /* cleared with a property and a group: both go */
    ck_assert_int_eq(cmsb_write_code(src, "bob", ""), CMSB_OK);
    t_sync(src, &st);
    t_code("bob", "", TSPS_CODE_SRC_NONE);
    text = get_text("vip");
    ck_assert_msg(strstr(text, "urn:uuid:bob") == NULL, "%s", text);
    free(text);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

/* ---- a group in one address book, its members in another ---- */

START_TEST(test_group_across_books)
{
    cmsb_source *src;
    cmsb_sync_stats st;
    char uri[300];
    cmsb_options o = CMSB_OPTIONS_INIT;
    long code;

    t_setup("two");
    th_mkbook(&sv, "two", "groups");
    put_person("anna", "+49 30 4000001", NULL);
    code = th_http(&sv, "two", "PUT", "/two/groups/vip.vcf",
                   "text/vcard; charset=utf-8",
                   "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:VIP\r\nN:VIP\r\n"
                   "X-ADDRESSBOOKSERVER-KIND:group\r\n"
                   "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:anna\r\n"
                   "UID:vip-group\r\nEND:VCARD\r\n",
                   NULL, NULL, 0);
    ck_assert_int_eq(code / 100, 2);
    /* the whole home: both books are one source */
    o.username = "two";
    o.password = "secret";
    o.log = t_log;
    o.timeout_ms = 5000;
    snprintf(uri, sizeof(uri), "carddav:http://127.0.0.1:%d/", sv.port);
    ck_assert_int_eq(cmsb_source_open(T.reg, uri, &o, &src), CMSB_OK);
    t_sync(src, &st);
    t_code("anna", "VIP", TSPS_CODE_SRC_GROUP);
    th_delete(&sv, "two", "groups", "vip.vcf");
    t_sync(src, &st);
    ck_assert_str_eq(refetched(), "anna.vcf");
    t_code("anna", "", TSPS_CODE_SRC_NONE);
    cmsb_source_close(src);
    t_teardown();
}
END_TEST

static Suite *dav_groups_suite(void)
{
    Suite *s = suite_create("dav_groups");
    TCase *tc = tcase_create("radicale");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_apple_group_follows_membership);
    tcase_add_test(tc, test_vcard4_groups_listing);
    tcase_add_test(tc, test_broken_cards_keep_groups);
    tcase_add_test(tc, test_cursor_v1_and_stale_member);
    tcase_add_test(tc, test_write_back_with_groups);
    tcase_add_test(tc, test_group_across_books);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return th_run_suite(&sv, dav_groups_suite);
}

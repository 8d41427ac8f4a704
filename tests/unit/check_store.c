/* The store: lifecycle, schema, users, numbers, contacts, batches, kv,
 * growth of the map, bad input. */
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsps_fixture.h"

START_TEST(test_engine_open_bad_arguments)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *e = (tsps_engine *)1;
    ck_assert_int_eq(tsps_engine_open(NULL, &e), TSPS_EINVAL);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_EINVAL);
    cfg.path = "/proc/definitely/not/here";
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_ESTORE);
    cfg.version = 42;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_EVERSION);
    tsps_engine_close(NULL);
    ck_assert_str_eq(tsps_strerror(TSPS_ENOTFOUND), "no matching entry");
    ck_assert_str_eq(tsps_errname(TSPS_ESCHEMA), "TSPS_ESCHEMA");
    ck_assert_str_eq(tsps_strerror(12345), "unknown error");
    ck_assert_uint_eq(tsps_version_hex(), TSPS_VERSION_HEX);
}
END_TEST

START_TEST(test_engine_open_newer_schema_refused)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, 99};
    MDB_val k = {6, "schema"}, val = {8, v};
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *e;

    fx_teardown();
    tsps_check_tmpdir(fx_dir, sizeof(fx_dir));
    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_OK);
    tsps_engine_close(e);
    /* a future libtsps wrote schema 99 */
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ck_assert_int_eq(mdb_env_open(env, fx_dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_ESCHEMA);
    ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_user_put_validates)
{
    tsps_user u;
    tsps_user_init(&u);
    strcpy(u.id, "Bob Upper");
    strcpy(u.dialplan.region, "DE");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_EINVAL);
    strcpy(u.id, "bob");
    strcpy(u.dialplan.region, "XQ");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_EREGION);
    strcpy(u.dialplan.region, "fr");
    strcpy(u.tz, "Mars/Olympus_Mons");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_ETZ);
    strcpy(u.tz, "Europe/Paris");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    ck_assert_int_eq(tsps_user_get(fx_eng, "bob", &u), TSPS_OK);
    ck_assert_str_eq(u.dialplan.region, "FR");
    ck_assert_str_eq(u.dialplan.cc, "33");
    ck_assert_int_eq(tsps_user_get(fx_eng, "nobody", &u), TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_user_put(NULL, &u), TSPS_EINVAL);
    ck_assert_int_eq(tsps_user_put(fx_eng, NULL), TSPS_EINVAL);
}
END_TEST

static int count_cb(void *arg, const tsps_user *u)
{
    (void)u;
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_numbers_belong_to_one_user)
{
    tsps_user u;
    char who[TSPS_ID_MAX];
    int n = 0;
    tsps_user_init(&u);
    strcpy(u.id, "bob");
    strcpy(u.dialplan.region, "US");
    ck_assert_int_eq(tsps_user_put(fx_eng, &u), TSPS_OK);
    ck_assert_int_eq(tsps_number_add(fx_eng, "bob", "+49 30 1234567"),
                     TSPS_EEXIST);
    ck_assert_int_eq(tsps_number_add(fx_eng, "bob", "(202) 555-0143"), TSPS_OK);
    ck_assert_int_eq(tsps_number_lookup(fx_eng, "+12025550143", who), TSPS_OK);
    ck_assert_str_eq(who, "bob");
    ck_assert_int_eq(tsps_number_add(fx_eng, "ghost", "+12025550100"),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_number_add(fx_eng, "bob", "not-a-number"),
                     TSPS_ENUMBER);
    ck_assert_int_eq(tsps_user_list(fx_eng, count_cb, &n), TSPS_OK);
    ck_assert_int_eq(n, 2);
    /* deleting a user frees its numbers and everything of theirs */
    fx_contact("bob", "c1", "Carl", "VIP", "+12025550199", NULL);
    ck_assert_int_eq(tsps_user_delete(fx_eng, "bob"), TSPS_OK);
    ck_assert_int_eq(tsps_number_lookup(fx_eng, "+12025550143", who),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_number_add(fx_eng, "alice", "+12025550143"), TSPS_OK);
    ck_assert_int_eq(tsps_user_delete(fx_eng, "bob"), TSPS_ENOTFOUND);
}
END_TEST

static int collect_cb(void *arg, const tsps_contact *c)
{
    char *out = arg;
    strcat(out, c->uid);
    strcat(out, ";");
    return 0;
}

START_TEST(test_contacts_round_trip_and_search)
{
    tsps_contact c;
    char seen[512] = "";
    tsps_contact_init(&c);
    strcpy(c.uid, "urn:uuid:1");
    strcpy(c.name, "Zoë Ångström");
    strcpy(c.org, "ACME");
    strcpy(c.code, "vip");
    c.code_source = TSPS_CODE_SRC_CATEGORY;
    strcpy(c.numbers[0], "030 555 0001");
    strcpy(c.numbers[1], "+49 30 5550001"); /* same number twice */
    strcpy(c.numbers[2], "call me maybe");  /* dropped */
    c.nnumbers = 3;
    strcpy(c.emails[0], "Zoe@Example.ORG");
    c.nemails = 1;
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "urn:uuid:1", &c),
                     TSPS_OK);
    ck_assert_str_eq(c.code, "VIP");
    ck_assert_int_eq(c.nnumbers, 1);
    ck_assert_str_eq(c.numbers[0], "+49305550001");
    ck_assert_str_eq(c.emails[0], "zoe@example.org");
    ck_assert_str_eq(c.name, "Zoë Ångström");
    fx_contact("alice", "urn:uuid:2", "Bert", NULL, "+4930555999", NULL);
    ck_assert_int_eq(
        tsps_contact_list(fx_eng, "alice", "acme", collect_cb, seen), TSPS_OK);
    ck_assert_str_eq(seen, "urn:uuid:1;");
    seen[0] = '\0';
    ck_assert_int_eq(tsps_contact_find_number(fx_eng, "alice", "0305550001",
                                              collect_cb, seen),
                     TSPS_OK);
    ck_assert_str_eq(seen, "urn:uuid:1;");
    /* a number change moves the index */
    fx_contact("alice", "urn:uuid:1", "Zoë", "VIP", "+4930777", NULL);
    seen[0] = '\0';
    tsps_contact_find_number(fx_eng, "alice", "0305550001", collect_cb, seen);
    ck_assert_str_eq(seen, "");
    ck_assert_int_eq(tsps_contact_set_code(fx_eng, "alice", "urn:uuid:1",
                                           "family", TSPS_CODE_SRC_NONE),
                     TSPS_OK);
    tsps_contact_get(fx_eng, "alice", "urn:uuid:1", &c);
    ck_assert_str_eq(c.code, "FAMILY");
    ck_assert_int_eq(c.code_source, TSPS_CODE_SRC_MANUAL);
    ck_assert_int_eq(tsps_contact_delete(fx_eng, "alice", "urn:uuid:1"),
                     TSPS_OK);
    ck_assert_int_eq(tsps_contact_delete(fx_eng, "alice", "urn:uuid:1"),
                     TSPS_ENOTFOUND);
}
END_TEST

START_TEST(test_contacts_bad_input)
{
    tsps_contact c;
    tsps_contact_init(&c);
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_EINVAL);
    strcpy(c.uid, "x");
    memset(c.name, 'a', sizeof(c.name)); /* no terminator */
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_EINVAL);
    c.name[0] = '\0';
    strcpy(c.code, "no spaces allowed");
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_EINVAL);
    c.code[0] = '\0';
    c.nnumbers = 200;
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_EINVAL);
    c.nnumbers = 0;
    ck_assert_int_eq(tsps_contact_put(fx_eng, "nobody", &c), TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", &c), TSPS_OK);
}
END_TEST

static int count_ev(void *arg, const tsps_event *e)
{
    ck_assert_str_eq(e->source, "other");
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_batch_commit_abort_and_source_clear)
{
    tsps_batch *b;
    tsps_contact c;
    char cur[64];
    size_t len;
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int i = 0; i < 100; i++) {
        tsps_contact_init(&c);
        snprintf(c.uid, sizeof(c.uid), "u%d", i);
        strcpy(c.source, i < 50 ? "books" : "other");
        snprintf(c.numbers[0], sizeof(c.numbers[0]), "+4930100%03d", i);
        c.nnumbers = 1;
        ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    }
    ck_assert_int_eq(tsps_batch_cursor_set(b, "cmsb/books", "tok-1", 5),
                     TSPS_OK);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(
        tsps_cursor_get(fx_eng, "cmsb/books", cur, sizeof(cur), &len), TSPS_OK);
    ck_assert_uint_eq(len, 5);
    /* an aborted batch leaves no trace, cursor included */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_contact_delete(b, "alice", "u1"), TSPS_OK);
    ck_assert_int_eq(tsps_batch_cursor_set(b, "cmsb/books", "tok-2", 5),
                     TSPS_OK);
    tsps_batch_abort(b);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "u1", &c), TSPS_OK);
    tsps_cursor_get(fx_eng, "cmsb/books", cur, sizeof(cur), &len);
    ck_assert_int_eq(memcmp(cur, "tok-1", 5), 0);
    /* a full resync of one source clears only that source */
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    ck_assert_int_eq(tsps_batch_source_clear(b, "alice", "books", 1, 1),
                     TSPS_OK);
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "u1", &c),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", "u77", &c), TSPS_OK);
    {
        tsps_decision d = fx_route("+4930100001", "+49301234567", T_MONDAY);
        ck_assert_int_eq(d.caller_kind, TSPS_CALLER_UNKNOWN);
        d = fx_route("+4930100077", "+49301234567", T_MONDAY);
        ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
    }
    /* events too: a multi-day event (many pieces) and a short one go, the
     * other source's event stays */
    {
        static const char *const srcs[] = {"books", "books", "other"};
        int n = 0;
        for (int i = 0; i < 3; i++) {
            tsps_event e;
            tsps_event_init(&e);
            snprintf(e.uid, sizeof(e.uid), "ev%d", i);
            strcpy(e.source, srcs[i]);
            e.start = T_MONDAY;
            e.end = T_MONDAY + (i == 0 ? 3 * 86400 : 3600);
            ck_assert_int_eq(tsps_event_put(fx_eng, "alice", &e), TSPS_OK);
        }
        ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
        ck_assert_int_eq(tsps_batch_source_clear(b, "alice", "books", 0, 1),
                         TSPS_OK);
        ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
        ck_assert_int_eq(tsps_event_list(fx_eng, "alice", T_MONDAY - 10,
                                         T_MONDAY + 7 * 86400, count_ev, &n),
                         TSPS_OK);
        ck_assert_int_eq(n, 1);
    }
    ck_assert_int_eq(tsps_cursor_get(fx_eng, "cmsb/books", cur, 2, &len),
                     TSPS_ENOBUFS);
    ck_assert_uint_eq(len, 5);
}
END_TEST

static int kv_count(void *arg, const char *k, const void *v, size_t n)
{
    (void)k;
    (void)v;
    (void)n;
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_kv_store)
{
    char buf[32];
    size_t len;
    int n = 0;
    ck_assert_int_eq(tsps_kv_put(fx_eng, "tspsd/a", "1", 1), TSPS_OK);
    ck_assert_int_eq(tsps_kv_put(fx_eng, "tspsd/b", "22", 2), TSPS_OK);
    ck_assert_int_eq(tsps_kv_put(fx_eng, "other/c", "3", 1), TSPS_OK);
    ck_assert_int_eq(tsps_kv_list(fx_eng, "tspsd/", kv_count, &n), TSPS_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(tsps_kv_get(fx_eng, "tspsd/b", buf, sizeof(buf), &len),
                     TSPS_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(tsps_kv_put(fx_eng, "tspsd/b", NULL, 0), TSPS_OK);
    ck_assert_int_eq(tsps_kv_get(fx_eng, "tspsd/b", buf, sizeof(buf), &len),
                     TSPS_ENOTFOUND);
    ck_assert_int_eq(tsps_kv_put(fx_eng, "", "x", 1), TSPS_EINVAL);
}
END_TEST

START_TEST(test_map_grows_under_load)
{
    /* start at 1 MiB: tens of thousands of contacts need several doublings */
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_stats st;
    tsps_engine *e;
    tsps_user u;
    tsps_batch *b;
    char dir[256];
    tsps_check_tmpdir(dir, sizeof(dir));
    cfg.path = dir;
    cfg.flags = TSPS_OPEN_NOSYNC;
    cfg.map_size = 1u << 20;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_OK);
    tsps_user_init(&u);
    strcpy(u.id, "big");
    strcpy(u.dialplan.region, "US");
    ck_assert_int_eq(tsps_user_put(e, &u), TSPS_OK);
    for (int round = 0; round < 10; round++) {
        ck_assert_int_eq(tsps_batch_begin(e, &b), TSPS_OK);
        for (int i = 0; i < 3000; i++) {
            tsps_contact c;
            tsps_contact_init(&c);
            snprintf(c.uid, sizeof(c.uid), "contact-%d-%d", round, i);
            snprintf(c.name, sizeof(c.name), "Person %d/%d", round, i);
            snprintf(c.numbers[0], sizeof(c.numbers[0]), "+1212%07d",
                     round * 3000 + i);
            c.nnumbers = 1;
            ck_assert_int_eq(tsps_batch_contact_put(b, "big", &c), TSPS_OK);
        }
        ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    }
    ck_assert_int_eq(tsps_engine_stats(e, &st), TSPS_OK);
    ck_assert_uint_eq(st.contacts, 30000);
    ck_assert_uint_gt(st.map_size, 1u << 20);
    tsps_engine_close(e);
    /* with a hard limit the store reports full, and stays usable */
    cfg.map_max = st.map_size;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_OK);
    {
        int rc = TSPS_OK;
        for (int i = 0; i < 200000 && rc == TSPS_OK; i++) {
            char key[64];
            static char blob[4000];
            snprintf(key, sizeof(key), "fill/%d", i);
            rc = tsps_kv_put(e, key, blob, sizeof(blob));
        }
        ck_assert_int_eq(rc, TSPS_ENOSPC);
    }
    {
        tsps_contact c;
        ck_assert_int_eq(tsps_contact_get(e, "big", "contact-3-7", &c),
                         TSPS_OK);
    }
    tsps_engine_close(e);
    tsps_check_rmdir(dir);
}
END_TEST

/* Every public entry point refuses NULLs with TSPS_EINVAL, never crashes. */
START_TEST(test_null_arguments_everywhere)
{
    tsps_user u;
    tsps_contact c;
    tsps_event e;
    tsps_registration r;
    tsps_method m;
    tsps_decision d;
    tsps_status_info si;
    tsps_call_record rec;
    tsps_number num;
    tsps_dialplan dp;
    tsps_stats st;
    tsps_batch *b = NULL;
    char buf[64];
    size_t len;
    uint64_t id;

    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tsps_engine_stats(NULL, &st), TSPS_EINVAL);
    ck_assert_int_eq(tsps_user_get(fx_eng, NULL, &u), TSPS_EINVAL);
    ck_assert_int_eq(tsps_user_get(fx_eng, "alice", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_user_delete(fx_eng, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_user_list(fx_eng, NULL, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_number_add(fx_eng, "alice", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_number_remove(fx_eng, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_number_lookup(fx_eng, NULL, buf), TSPS_EINVAL);
    ck_assert_int_eq(tsps_number_list(fx_eng, "alice", NULL, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_contact_put(fx_eng, "alice", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_contact_get(fx_eng, "alice", NULL, &c), TSPS_EINVAL);
    ck_assert_int_eq(tsps_contact_delete(fx_eng, NULL, "x"), TSPS_EINVAL);
    ck_assert_int_eq(tsps_contact_set_code(fx_eng, "alice", "x", NULL, 0),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_contact_list(fx_eng, "alice", NULL, NULL, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(
        tsps_contact_find_number(fx_eng, "alice", NULL, NULL, NULL),
        TSPS_EINVAL);
    ck_assert_int_eq(tsps_event_put(fx_eng, "alice", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_event_delete(fx_eng, "alice", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_event_list(fx_eng, "alice", 0, 10, NULL, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_status_set(fx_eng, NULL, TSPS_STATUS_DND, 0, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_status_set(fx_eng, "alice", (tsps_status)99, 0, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_status_get(fx_eng, "alice", 0, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_status_get(NULL, "alice", 0, &si), TSPS_EINVAL);
    ck_assert_int_eq(
        tsps_code_set(fx_eng, "alice", "VIP", TSPS_STATUS_ANY, NULL),
        TSPS_EINVAL);
    ck_assert_int_eq(tsps_code_get(fx_eng, "alice", NULL, 0, &m), TSPS_EINVAL);
    ck_assert_int_eq(tsps_code_delete(fx_eng, "alice", "bad code", 0),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_code_list(fx_eng, "alice", NULL, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_registration_put(fx_eng, "alice", NULL), TSPS_EINVAL);
    tsps_registration_init(&r);
    ck_assert_int_eq(tsps_registration_put(fx_eng, "alice", &r), TSPS_EINVAL);
    ck_assert_int_eq(tsps_registration_remove(fx_eng, "alice", NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_registration_clear(fx_eng, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_registration_list(fx_eng, "alice", 0, NULL, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_registration_purge(NULL, 0, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_route_override(fx_eng, NULL, &m, "a", 0, &d),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_decision_explain(NULL, buf, sizeof(buf), &len),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_decision_json(&d, NULL, 10, &len), TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_append(fx_eng, NULL, 0, &id), TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_append(fx_eng, &d, 0, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_get(fx_eng, 1, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_set_outcome(fx_eng, 0, 0, 0, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_override(fx_eng, 1, NULL, "a", 0, &d),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_history_query(fx_eng, "alice", 0, 10, 0, NULL, NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(
        tsps_history_by_caller(fx_eng, "alice", NULL, 0, NULL, NULL),
        TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_begin(fx_eng, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_begin(NULL, &b), TSPS_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(tsps_batch_contact_put(NULL, "alice", &c), TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_event_put(NULL, "alice", &e), TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_cursor_set(NULL, "k", "v", 1), TSPS_EINVAL);
    ck_assert_int_eq(tsps_batch_commit(NULL), TSPS_EINVAL);
    tsps_batch_abort(NULL);
    ck_assert_int_eq(tsps_cursor_get(fx_eng, NULL, buf, sizeof(buf), &len),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_kv_get(fx_eng, "k", buf, sizeof(buf), NULL),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_kv_list(fx_eng, NULL, NULL, NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_normalize("+4930123456", NULL, &num), TSPS_EINVAL);
    ck_assert_int_eq(tsps_dialplan_for_region(NULL, &dp), TSPS_EINVAL);
    ck_assert_int_eq(tsps_method_parse("ring", NULL, NULL, 0), TSPS_EINVAL);
    ck_assert_int_eq(tsps_method_format(NULL, buf, sizeof(buf), &len),
                     TSPS_EINVAL);
    ck_assert_int_eq(tsps_hours_parse("mon 09:00-10:00", NULL), TSPS_EINVAL);
    ck_assert_int_eq(tsps_hours_format(NULL, buf, sizeof(buf), &len),
                     TSPS_EINVAL);
    tsps_user_init(NULL);
    tsps_contact_init(NULL);
    tsps_event_init(NULL);
    tsps_registration_init(NULL);
    (void)rec;
}
END_TEST

/* Index entries of a batch are inserted in key order at commit; a contact
 * changed or deleted again in the same batch must leave no stale entry. */
START_TEST(test_batch_index_changes_within_one_batch)
{
    tsps_batch *b;
    tsps_contact c;
    char seen[256];
    ck_assert_int_eq(tsps_batch_begin(fx_eng, &b), TSPS_OK);
    for (int round = 0; round < 2; round++) {
        tsps_contact_init(&c);
        strcpy(c.uid, "moving");
        strcpy(c.code, round == 0 ? "VIP" : "FAMILY");
        strcpy(c.numbers[0], round == 0 ? "+4930111000" : "+4930222000");
        c.nnumbers = 1;
        ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    }
    tsps_contact_init(&c);
    strcpy(c.uid, "gone");
    strcpy(c.numbers[0], "+4930333000");
    c.nnumbers = 1;
    ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    ck_assert_int_eq(tsps_batch_contact_delete(b, "alice", "gone"), TSPS_OK);
    for (int i = 0; i < 500; i++) { /* enough to be sorted */
        tsps_contact_init(&c);
        snprintf(c.uid, sizeof(c.uid), "bulk-%d", i);
        snprintf(c.numbers[0], sizeof(c.numbers[0]), "+4989%07d",
                 (i * 7919) % 1000000);
        c.nnumbers = 1;
        ck_assert_int_eq(tsps_batch_contact_put(b, "alice", &c), TSPS_OK);
    }
    ck_assert_int_eq(tsps_batch_commit(b), TSPS_OK);
    seen[0] = '\0';
    tsps_contact_find_number(fx_eng, "alice", "+4930111000", collect_cb, seen);
    ck_assert_str_eq(seen, "");
    tsps_contact_find_number(fx_eng, "alice", "+4930222000", collect_cb, seen);
    ck_assert_str_eq(seen, "moving;");
    seen[0] = '\0';
    tsps_contact_find_number(fx_eng, "alice", "+4930333000", collect_cb, seen);
    ck_assert_str_eq(seen, "");
    {
        tsps_decision d = fx_route("+4930222000", "+49301234567", T_MONDAY);
        ck_assert_str_eq(d.code, "FAMILY");
        d = fx_route("+49890007919", "+49301234567", T_MONDAY);
        ck_assert_str_eq(d.contact_uid, "bulk-1");
    }
}
END_TEST

/* Only one engine writes a store at a time: a second writer, in this
 * process or another, is refused with TSPS_EBUSY (its snapshot and contact
 * table would never see the first one's writes), a reader is welcome. */
START_TEST(test_second_writer_refused)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *e = NULL;
    pid_t pid;
    int st;

    cfg.path = fx_dir;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_EBUSY);
    ck_assert_ptr_null(e);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tsps_config c2 = TSPS_CONFIG_INIT;
        int a, b;
        c2.path = fx_dir;
        a = tsps_engine_open(&c2, &e);
        c2.flags = TSPS_OPEN_RDONLY;
        b = tsps_engine_open(&c2, &e);
        tsps_engine_close(e);
        _exit(a == TSPS_EBUSY && b == TSPS_OK ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* closing the writer frees the store for the next one */
    tsps_engine_close(fx_eng);
    fx_eng = NULL;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
}
END_TEST

/* A read-only engine in one process follows what the writer in another
 * process commits: rules (the configuration snapshot) and contacts. */
START_TEST(test_readonly_follows_other_process)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_decision d;
    pid_t pid;
    int st;

    tsps_engine_close(fx_eng);
    cfg.path = fx_dir;
    cfg.flags = TSPS_OPEN_RDONLY;
    ck_assert_int_eq(tsps_engine_open(&cfg, &fx_eng), TSPS_OK);
    d = fx_route("+49 151 7777777", "+49 30 1234567", T_AT(0, 10, 0));
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_UNKNOWN);
    ck_assert_int_ne(d.method.kind, TSPS_METHOD_REJECT);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tsps_config w = TSPS_CONFIG_INIT;
        tsps_engine *e = NULL;
        tsps_contact c;
        tsps_method m;
        int ok;
        w.path = fx_dir;
        ok = tsps_engine_open(&w, &e) == TSPS_OK;
        tsps_contact_init(&c);
        strcpy(c.uid, "friend");
        strcpy(c.name, "A Friend");
        strcpy(c.code, "FRIEND");
        c.code_source = TSPS_CODE_SRC_PROPERTY;
        strcpy(c.numbers[0], "+491517777777");
        c.nnumbers = 1;
        ok = ok && tsps_contact_put(e, "alice", &c) == TSPS_OK;
        ok = ok && tsps_method_parse("reject busy", &m, NULL, 0) == TSPS_OK;
        ok = ok && tsps_code_set(e, "alice", "FRIEND", TSPS_STATUS_ANY, &m) ==
                       TSPS_OK;
        tsps_engine_close(e);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    d = fx_route("+49 151 7777777", "+49 30 1234567", T_AT(0, 10, 0));
    ck_assert_int_eq(d.caller_kind, TSPS_CALLER_KNOWN);
    ck_assert_str_eq(d.caller_name, "A Friend");
    ck_assert_int_eq(d.method.kind, TSPS_METHOD_REJECT);
}
END_TEST

/* The allocator hooks serve every allocation the engine makes for a
 * caller, listings included (tsps_registration_list grew its array with
 * the C library's realloc). */
typedef struct hook_count {
    size_t mallocs, frees;
} hook_count;

static void *hook_malloc(void *arg, size_t n)
{
    ((hook_count *)arg)->mallocs++;
    return malloc(n);
}

static void hook_free(void *arg, void *p)
{
    ((hook_count *)arg)->frees++;
    free(p);
}

static int count_reg(void *arg, const tsps_registration *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

START_TEST(test_allocator_hooks_serve_listings)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *e = NULL;
    hook_count hc = {0, 0};
    tsps_user u;
    size_t m0, f0;
    int n = 0;
    char dir[300];

    snprintf(dir, sizeof(dir), "%s/hooks", fx_dir);
    cfg.path = dir;
    cfg.flags = TSPS_OPEN_NOSYNC;
    cfg.alloc_malloc = hook_malloc;
    cfg.alloc_free = hook_free;
    cfg.alloc_arg = &hc;
    ck_assert_int_eq(tsps_engine_open(&cfg, &e), TSPS_OK);
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "hooked");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    ck_assert_int_eq(tsps_user_put(e, &u), TSPS_OK);
    for (int i = 0; i < 12; i++) {
        tsps_registration r;
        tsps_registration_init(&r);
        snprintf(r.contact, sizeof(r.contact), "sip:hooked@127.0.0.1:%d",
                 5060 + i);
        r.expires = 4102444800; /* 2100 */
        ck_assert_int_eq(tsps_registration_put(e, "hooked", &r), TSPS_OK);
    }
    m0 = hc.mallocs;
    f0 = hc.frees;
    ck_assert_int_eq(tsps_registration_list(e, "hooked", 0, count_reg, &n),
                     TSPS_OK);
    ck_assert_int_eq(n, 12);
    /* 12 bindings: the array grew from 8 to 16, through the hooks */
    ck_assert_uint_ge(hc.mallocs - m0, 2);
    ck_assert_uint_eq(hc.mallocs - m0, hc.frees - f0);
    tsps_engine_close(e);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_engine_open_bad_arguments);
    tcase_add_test(tc, test_engine_open_newer_schema_refused);
    tcase_add_test(tc, test_user_put_validates);
    tcase_add_test(tc, test_numbers_belong_to_one_user);
    tcase_add_test(tc, test_contacts_round_trip_and_search);
    tcase_add_test(tc, test_contacts_bad_input);
    tcase_add_test(tc, test_batch_commit_abort_and_source_clear);
    tcase_add_test(tc, test_kv_store);
    tcase_add_test(tc, test_map_grows_under_load);
    tcase_add_test(tc, test_null_arguments_everywhere);
    tcase_add_test(tc, test_batch_index_changes_within_one_batch);
    tcase_add_test(tc, test_second_writer_refused);
    tcase_add_test(tc, test_readonly_follows_other_process);
    tcase_add_test(tc, test_allocator_hooks_serve_listings);
    suite_add_tcase(s, tc);
    return s;
}

TSPS_CHECK_MAIN(store_suite)

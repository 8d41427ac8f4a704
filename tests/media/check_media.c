/* The media front's pure parts: SDP offer/answer, the RTP and RFC 4733
 * readers, and the voicemail store (durable write, list, quota, failure). */
#include "media_internal.h"
#include "tsps_check.h"

#include <dirent.h>
#include <lmdb.h>
#include <osipparser2/osip_parser.h>
#include <signal.h>
#include <sys/resource.h>

#define SDP_HEAD                                                               \
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"

static int nego(const char *sdp, mf_sdp_offer *o)
{
    char err[128];

    parser_init();
    return tspsd_media__sdp_negotiate(sdp, strlen(sdp), o, err, sizeof(err));
}

START_TEST(test_sdp_negotiate_first_supported_codec_wins)
{
    mf_sdp_offer o;

    ck_assert_int_eq(nego(SDP_HEAD "m=audio 4000 RTP/AVP 18 8 0\r\n", &o),
                     MF_SDP_OK);
    ck_assert_int_eq(o.pt, 8);
    ck_assert_int_eq(o.te_pt, -1);
    ck_assert_int_eq(ntohs(o.remote.sin_port), 4000);
    ck_assert_int_eq(o.dir, MF_DIR_SENDRECV);
}
END_TEST

START_TEST(test_sdp_negotiate_telephone_event_and_dynamic_pcma)
{
    mf_sdp_offer o;

    ck_assert_int_eq(nego(SDP_HEAD "m=audio 4000 RTP/AVP 96 101\r\n"
                                   "a=rtpmap:96 PCMA/8000\r\n"
                                   "a=rtpmap:101 telephone-event/8000\r\n",
                          &o),
                     MF_SDP_OK);
    ck_assert_int_eq(o.pt, 8);
    ck_assert_int_eq(o.te_pt, 101);
}
END_TEST

START_TEST(test_sdp_negotiate_hold_forms)
{
    mf_sdp_offer o;

    ck_assert_int_eq(
        nego(SDP_HEAD "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", &o),
        MF_SDP_OK);
    ck_assert_int_eq(o.dir, MF_DIR_SENDONLY);
    ck_assert_int_eq(
        nego("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n"
             "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
             &o),
        MF_SDP_OK);
    ck_assert_int_eq(o.dir, MF_DIR_INACTIVE);
}
END_TEST

START_TEST(test_sdp_negotiate_no_common_codec)
{
    mf_sdp_offer o;

    ck_assert_int_eq(nego(SDP_HEAD "m=audio 4000 RTP/AVP 18\r\n", &o),
                     MF_SDP_NOCODEC);
    ck_assert_int_eq(nego(SDP_HEAD "m=audio 4000 RTP/SAVP 0\r\n", &o),
                     MF_SDP_NOCODEC);
    ck_assert_int_eq(nego(SDP_HEAD "m=audio 0 RTP/AVP 0\r\n", &o),
                     MF_SDP_NOCODEC);
}
END_TEST

START_TEST(test_sdp_negotiate_malformed)
{
    mf_sdp_offer o;

    ck_assert_int_eq(nego("", &o), MF_SDP_MALFORMED);
    ck_assert_int_eq(nego("hello world\r\n", &o), MF_SDP_MALFORMED);
    ck_assert_int_eq(
        nego("v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", &o),
        MF_SDP_MALFORMED); /* no c= */
    ck_assert_int_eq(nego(SDP_HEAD "m=video 4000 RTP/AVP 31\r\n", &o),
                     MF_SDP_MALFORMED); /* no audio */
    /* found by fuzz_media_sdp: libosip2 read past the buffer on these */
    ck_assert_int_eq(
        nego(SDP_HEAD "m=audio 4000 RTP/AVP 0\r\nm=vi=audio 4000 RTP/A\n", &o),
        MF_SDP_MALFORMED);
    ck_assert_int_eq(
        nego(SDP_HEAD
             "m=audio 4000 RTP/AVP 0\r\nm=video 5000 RTP/AVP\xe0\xcc\n",
             &o),
        MF_SDP_MALFORMED);
}
END_TEST

START_TEST(test_sdp_answer_mirrors_direction)
{
    mf_sdp_offer o;
    char buf[1024];

    ck_assert_int_eq(nego(SDP_HEAD "m=audio 4000 RTP/AVP 0 101\r\n"
                                   "a=rtpmap:101 telephone-event/8000\r\n"
                                   "a=sendonly\r\n",
                          &o),
                     MF_SDP_OK);
    ck_assert_int_gt(tspsd_media__sdp_answer(&o, "127.0.0.1", 20000, 7,
                                             MF_DIR_RECVONLY, buf, sizeof(buf)),
                     0);
    ck_assert_ptr_nonnull(strstr(buf, "m=audio 20000 RTP/AVP 0 101\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "a=recvonly\r\n"));
    ck_assert_int_eq(tspsd_media__sdp_answer(&o, "127.0.0.1", 20000, 7,
                                             MF_DIR_RECVONLY, buf, 40),
                     -1);
}
END_TEST

START_TEST(test_rtp_parse_headers)
{
    uint8_t pkt[200] = {0x80, 0x00, 0x01, 0x02, 0, 0, 0, 160, 0, 0, 0, 9};
    uint8_t ext[200] = {0xb2,
                        0x08,
                        0,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        1,
                        /* 2 CSRC */ 0,
                        0,
                        0,
                        2,
                        0,
                        0,
                        0,
                        3,
                        /* ext 1 word */ 0xbe,
                        0xde,
                        0,
                        1,
                        1,
                        2,
                        3,
                        4};
    mf_rtp_pkt p;

    ck_assert_int_eq(tspsd_media__rtp_parse(pkt, 172, &p), 0);
    ck_assert_int_eq(p.pt, 0);
    ck_assert_int_eq(p.seq, 0x0102);
    ck_assert_uint_eq(p.ts, 160);
    ck_assert_uint_eq(p.plen, 160);
    /* CSRCs, an extension and 4 bytes of padding around 160 bytes */
    ext[28 + 160 + 3] = 4;
    ck_assert_int_eq(tspsd_media__rtp_parse(ext, 28 + 164, &p), 0);
    ck_assert_int_eq(p.pt, 8);
    ck_assert_ptr_eq(p.payload, ext + 28);
    ck_assert_uint_eq(p.plen, 160);
    /* not RTP: short, version 1, padding beyond the packet, RTCP */
    ck_assert_int_eq(tspsd_media__rtp_parse(pkt, 11, &p), -1);
    pkt[0] = 0x40;
    ck_assert_int_eq(tspsd_media__rtp_parse(pkt, 172, &p), -1);
    ck_assert_int_eq(tspsd_media__rtp_parse(ext, 28 + 3, &p), -1);
    pkt[0] = 0x80;
    pkt[1] = 200;
    ck_assert_int_eq(tspsd_media__rtp_parse(pkt, 172, &p), -1);
}
END_TEST

START_TEST(test_rfc4733_pound)
{
    const uint8_t ev[4] = {11, 0x8a, 0x03, 0x20};
    mf_dtmf_evt e;

    ck_assert_int_eq(tspsd_media__rfc4733_parse(ev, 4, &e), 0);
    ck_assert_int_eq(tspsd_media__dtmf_char(e.event), '#');
    ck_assert_int_eq(e.end, 1);
    ck_assert_int_eq(e.duration, 800);
    ck_assert_int_eq(tspsd_media__rfc4733_parse(ev, 3, &e), -1);
}
END_TEST

static char dir[512];
static mf_store *st;

static void store_setup(void)
{
    tsps_check_tmpdir(dir, sizeof(dir));
    ck_assert_int_eq(tspsd_media__store_open(dir, &st), TSPSD_MEDIA_OK);
}

static void store_teardown(void)
{
    tspsd_media__store_close(st);
    tsps_check_rmdir(dir);
}

static int count_files(const char *sub)
{
    char path[1024];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "%s/voicemail/%s", dir, sub);
    d = opendir(path);
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static tspsd_media_call_info info(const char *user)
{
    tspsd_media_call_info ci;

    memset(&ci, 0, sizeof(ci));
    snprintf(ci.user, sizeof(ci.user), "%s", user);
    snprintf(ci.caller, sizeof(ci.caller), "+4930222222");
    snprintf(ci.code, sizeof(ci.code), "FAMILY");
    snprintf(ci.history_id, sizeof(ci.history_id), "h-7");
    return ci;
}

START_TEST(test_store_put_list_mark_delete)
{
    static int16_t pcm[16000];
    tspsd_media_call_info ci = info("alice");
    tspsd_media_message m1, m2, list[4];
    unsigned nn, no;
    size_t n;

    for (int i = 0; i < 16000; i++)
        pcm[i] = (int16_t)((i % 40) * 300 - 6000);
    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 16000, 0, &m1), 0);
    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 8000, 0, &m2), 0);
    ck_assert_uint_eq(m1.duration_ms, 2000);
    ck_assert_int_eq(count_files("alice"), 2);
    ck_assert_int_eq(count_files(".tmp"), 0);
    ck_assert_int_eq(tspsd_media__store_list(st, "alice", list, 4, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0].id, m2.id); /* newest first */
    ck_assert_str_eq(list[1].code, "FAMILY");
    ck_assert_str_eq(list[1].history_id, "h-7");
    ck_assert_int_eq(tspsd_media__store_list(st, "alice", list, 1, &n),
                     TSPSD_MEDIA_ENOBUFS);
    ck_assert_int_eq(tspsd_media__store_mark(st, "alice", m1.id), 0);
    ck_assert_int_eq(tspsd_media__store_count(st, "alice", &nn, &no), 0);
    ck_assert_uint_eq(nn, 1);
    ck_assert_uint_eq(no, 1);
    ck_assert_int_eq(tspsd_media__store_delete(st, "alice", m2.id), 0);
    ck_assert_int_eq(count_files("alice"), 1);
    ck_assert_int_eq(tspsd_media__store_delete(st, "alice", m2.id),
                     TSPSD_MEDIA_ENOTFOUND);
    /* another user's prefix does not leak in */
    ck_assert_int_eq(tspsd_media__store_list(st, "alic", list, 4, &n), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_store_quota_and_bad_names)
{
    static int16_t pcm[800];
    tspsd_media_call_info ci = info("bob");
    tspsd_media_message m;

    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 800, 1, &m), 0);
    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 800, 1, &m),
                     TSPSD_MEDIA_ENOBUFS);
    ck_assert_int_eq(count_files("bob"), 1);
    ci = info("../etc");
    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 800, 0, &m),
                     TSPSD_MEDIA_EINVAL);
    ck_assert(!tspsd_media__safe_name(".hidden"));
    ck_assert(!tspsd_media__safe_name("a/b"));
    ck_assert(tspsd_media__safe_name("alice"));
}
END_TEST

/* Callers who hang up together: one group commit stores each message,
 * with its own verdict (quota, bad name), and what it stored survives a
 * reopen. */
START_TEST(test_store_group_commit)
{
    static int16_t pcm[8000];
    tspsd_media_call_info ci[5] = {info("alice"), info("alice"), info("bob"),
                                   info("bob"), info("../x")};
    mf_store_item it[5];
    tspsd_media_message m, list[4];
    size_t n;

    for (int i = 0; i < 8000; i++)
        pcm[i] = (int16_t)((i % 20) * 500 - 5000);
    ck_assert_int_eq(tspsd_media__store_put(st, &ci[2], pcm, 800, 0, &m), 0);
    memset(it, 0, sizeof(it));
    for (int i = 0; i < 5; i++) {
        it[i].ci = &ci[i];
        it[i].pcm = pcm;
        it[i].n = (size_t)(1600 * (i + 1));
    }
    /* quota 2: bob has one, so one more of his fits */
    ck_assert_int_eq(tspsd_media__store_put_many(st, it, 5, 2), 0);
    ck_assert_int_eq(it[0].rc, TSPSD_MEDIA_OK);
    ck_assert_int_eq(it[1].rc, TSPSD_MEDIA_OK);
    ck_assert_int_eq(it[2].rc, TSPSD_MEDIA_OK);
    ck_assert_int_eq(it[3].rc, TSPSD_MEDIA_ENOBUFS);
    ck_assert_int_eq(it[4].rc, TSPSD_MEDIA_EINVAL);
    ck_assert_str_ne(it[0].msg.id, it[1].msg.id);
    ck_assert_uint_eq(it[1].msg.duration_ms, 400);
    ck_assert_int_eq(count_files("alice"), 2);
    ck_assert_int_eq(count_files("bob"), 2);
    ck_assert_int_eq(count_files(".tmp"), 0);
    tspsd_media__store_close(st);
    ck_assert_int_eq(tspsd_media__store_open(dir, &st), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_media__store_list(st, "alice", list, 4, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0].id, it[1].msg.id);
    ck_assert_str_eq(list[1].caller, "+4930222222");
    ck_assert_int_eq(tspsd_media__store_list(st, "bob", list, 4, &n), 0);
    ck_assert_uint_eq(n, 2);
}
END_TEST

/* Records written before the format had a version (the raw struct) are
 * still listed, and marking one heard rewrites it in today's format. */
START_TEST(test_store_reads_records_without_version)
{
    tspsd_media_message old, list[2], back;
    char path[1024], key[] = "dave/00000000000000aa";
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {sizeof(key) - 1, key}, v;
    size_t n;

    memset(&old, 0, sizeof(old));
    snprintf(old.id, sizeof(old.id), "00000000000000aa");
    snprintf(old.caller, sizeof(old.caller), "+4930111111");
    snprintf(old.code, sizeof(old.code), "VIP");
    old.time = 1764800000;
    old.duration_ms = 3000;
    tspsd_media__store_close(st);
    snprintf(path, sizeof(path), "%s/voicemail/.meta", dir);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_open(env, path, 0, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    v.mv_size = sizeof(old);
    v.mv_data = &old;
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    ck_assert_int_eq(tspsd_media__store_open(dir, &st), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_media__store_list(st, "dave", list, 2, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].caller, "+4930111111");
    ck_assert_uint_eq(list[0].duration_ms, 3000);
    ck_assert_int_eq(tspsd_media__store_mark(st, "dave", old.id), 0);
    tspsd_media__store_close(st);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_open(env, path, MDB_RDONLY, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
    ck_assert(v.mv_size != sizeof(old));
    ck_assert_int_eq(memcmp(v.mv_data, "TVM1", 4), 0);
    ck_assert_int_eq(tspsd_media__rec_decode(v.mv_data, v.mv_size, &back), 0);
    ck_assert_int_eq(back.heard, 1);
    ck_assert_str_eq(back.code, "VIP");
    mdb_txn_abort(txn);
    mdb_env_close(env);
    ck_assert_int_eq(tspsd_media__store_open(dir, &st), TSPSD_MEDIA_OK);
}
END_TEST

/* A damaged record is skipped, never read past its end. */
START_TEST(test_store_record_codec_refuses_damage)
{
    tspsd_media_message m, back;
    unsigned char buf[512];
    size_t len;

    memset(&m, 0, sizeof(m));
    snprintf(m.id, sizeof(m.id), "0187");
    snprintf(m.contact, sizeof(m.contact), "Anna Müller");
    m.duration_ms = 1234;
    len = tspsd_media__rec_encode(&m, buf, sizeof(buf));
    ck_assert_uint_gt(len, 17);
    ck_assert_int_eq(tspsd_media__rec_decode(buf, len, &back), 0);
    ck_assert_str_eq(back.contact, "Anna Müller");
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(tspsd_media__rec_decode(buf, cut, &back), -1);
    buf[17] = 0xff; /* id length far beyond the record */
    ck_assert_int_eq(tspsd_media__rec_decode(buf, len, &back), -1);
    ck_assert_uint_eq(tspsd_media__rec_encode(&m, buf, 10), 0);
}
END_TEST

START_TEST(test_store_failed_write_leaves_nothing)
{
    static int16_t pcm[80000];
    tspsd_media_call_info ci = info("carol");
    tspsd_media_message m;
    struct rlimit rl = {16384, 16384};
    size_t n;

    /* the WAV cannot grow past 16 kB: the write fails like a full disk */
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_int_eq(tspsd_media__store_put(st, &ci, pcm, 80000, 0, &m),
                     TSPSD_MEDIA_EIO);
    ck_assert_int_eq(count_files("carol"), 0);
    ck_assert_int_eq(count_files(".tmp"), 0);
    ck_assert_int_eq(tspsd_media__store_list(st, "carol", NULL, 0, &n),
                     TSPSD_MEDIA_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *media_suite(void)
{
    Suite *s = suite_create("media");
    TCase *sdp = tcase_create("sdp"), *rtp = tcase_create("rtp"),
          *store = tcase_create("store");

    tcase_add_test(sdp, test_sdp_negotiate_first_supported_codec_wins);
    tcase_add_test(sdp, test_sdp_negotiate_telephone_event_and_dynamic_pcma);
    tcase_add_test(sdp, test_sdp_negotiate_hold_forms);
    tcase_add_test(sdp, test_sdp_negotiate_no_common_codec);
    tcase_add_test(sdp, test_sdp_negotiate_malformed);
    tcase_add_test(sdp, test_sdp_answer_mirrors_direction);
    tcase_add_test(rtp, test_rtp_parse_headers);
    tcase_add_test(rtp, test_rfc4733_pound);
    tcase_add_checked_fixture(store, store_setup, store_teardown);
    tcase_add_test(store, test_store_put_list_mark_delete);
    tcase_add_test(store, test_store_quota_and_bad_names);
    tcase_add_test(store, test_store_failed_write_leaves_nothing);
    tcase_add_test(store, test_store_group_commit);
    tcase_add_test(store, test_store_reads_records_without_version);
    tcase_add_test(store, test_store_record_codec_refuses_damage);
    suite_add_tcase(s, sdp);
    suite_add_tcase(s, rtp);
    suite_add_tcase(s, store);
    return s;
}

TSPS_CHECK_MAIN(media_suite)

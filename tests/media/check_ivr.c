/* IVR menus of the media front: the text form (parse, validation errors,
 * canonical round trip) and durable storage per user through the front. */
#include "media_internal.h"
#include "media_ivr.h"
#include "tsps_check.h"

#include <stdlib.h>

#define GOOD                                                                   \
    "# Alice's menus\n"                                                        \
    "menu main\n"                                                              \
    "  prompt text Press 1 for my mobile, 2 for a message, 3 for sales.\n"     \
    "  timeout 7\n"                                                            \
    "  retries 1\n"                                                            \
    "  default voicemail\n"                                                    \
    "  digit 1 ring devices=mobile\n"                                          \
    "  digit 2 voicemail\n"                                                    \
    "  digit 3 menu sales\n"                                                   \
    "\n"                                                                       \
    "menu sales\r\n"                                                           \
    "  prompt wav prompts/sales.wav\r\n"                                       \
    "  default forward sip:sales@example.org\r\n"                              \
    "  digit # reject busy\r\n"

static tspsd_ivr *ivr;

static void ivr_setup(void)
{
    ivr = malloc(sizeof(*ivr));
    ck_assert_ptr_nonnull(ivr);
}

static void ivr_teardown(void)
{
    free(ivr);
}

static int parse(const char *text, char *err, size_t errlen)
{
    return tspsd_ivr_parse(text, strlen(text), ivr, err, errlen);
}

START_TEST(test_ivr_parse_menus_digits_defaults)
{
    char err[256];
    const tspsd_ivr_menu *m;

    ck_assert_int_eq(parse(GOOD, err, sizeof(err)), TSPSD_MEDIA_OK);
    ck_assert_uint_eq(ivr->nmenus, 2);
    m = &ivr->menus[0];
    ck_assert_str_eq(m->name, "main");
    ck_assert_int_eq(m->prompt_kind, TSPSD_IVR_PROMPT_TEXT);
    ck_assert_str_eq(m->prompt,
                     "Press 1 for my mobile, 2 for a message, 3 for sales.");
    ck_assert_uint_eq(m->timeout_s, 7);
    ck_assert_uint_eq(m->retries, 1);
    ck_assert_str_eq(m->dflt, "voicemail");
    ck_assert_str_eq(m->digits[tspsd_ivr_digit_index('1')],
                     "ring devices=mobile");
    ck_assert_str_eq(m->digits[tspsd_ivr_digit_index('3')], "menu sales");
    ck_assert_str_eq(m->digits[tspsd_ivr_digit_index('4')], "");
    m = tspsd_ivr_find(ivr, "sales");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->prompt_kind, TSPSD_IVR_PROMPT_WAV);
    ck_assert_str_eq(m->prompt, "prompts/sales.wav");
    /* unset timeout/retries take the documented defaults */
    ck_assert_uint_eq(m->timeout_s, 5);
    ck_assert_uint_eq(m->retries, 2);
    ck_assert_str_eq(m->digits[tspsd_ivr_digit_index('#')], "reject busy");
    ck_assert_int_eq(tspsd_ivr_digit_index('A'), -1);
}
END_TEST

START_TEST(test_ivr_format_round_trips_canonically)
{
    char a[4096], b[4096], err[256];
    size_t need = 0;

    ck_assert_int_eq(parse(GOOD, err, sizeof(err)), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_ivr_format(ivr, a, sizeof(a), &need),
                     TSPSD_MEDIA_OK);
    ck_assert_uint_eq(need, strlen(a));
    ck_assert_ptr_null(strstr(a, "#"
                                 " Alice")); /* comments are not kept */
    ck_assert_int_eq(parse(a, err, sizeof(err)), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_ivr_format(ivr, b, sizeof(b), NULL), TSPSD_MEDIA_OK);
    ck_assert_str_eq(a, b);
    /* too small a buffer says how much is needed */
    ck_assert_int_eq(tspsd_ivr_format(ivr, b, 10, &need), TSPSD_MEDIA_ENOBUFS);
    ck_assert_uint_eq(need, strlen(a));
}
END_TEST

/* Each malformed text is refused with an error naming the problem. */
static const struct {
    const char *text, *why;
} bad[] = {
    {"", "no menu defined"},
    {"prompt text hi\n", "line 1: \"prompt\" before the first"},
    {"menu Main\nprompt text hi\ndefault voicemail\n", "line 1: menu name"},
    {"menu m\ndefault voicemail\n", "menu m has no prompt"},
    {"menu m\nprompt text hi\n", "menu m has no default"},
    {"menu m\nprompt text hi\nprompt text again\ndefault voicemail\n",
     "line 3: prompt given twice"},
    {"menu m\nprompt wav ../../etc/passwd.wav\ndefault voicemail\n",
     "line 2: prompt wav must be a relative path"},
    {"menu m\nprompt wav /abs/x.wav\ndefault voicemail\n",
     "line 2: prompt wav must be"},
    {"menu m\nprompt text hi\ntimeout 0\ndefault voicemail\n",
     "line 3: timeout must be a number from 1 to 60"},
    {"menu m\nprompt text hi\nretries 9\ndefault voicemail\n",
     "line 3: retries must be a number from 0 to 5"},
    {"menu m\nprompt text hi\ndefault teleport\n", "line 3: bad action"},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit 1 ivr other\n",
     "not allowed in a menu (use menu NAME)"},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit X ring\n",
     "line 4: digit must be one of 0-9 * #"},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit 1 ring\ndigit 1 "
     "voicemail\n",
     "line 5: digit 1 given twice"},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit 1\n",
     "line 4: digit 1: action empty"},
    {"menu m\nprompt text hi\ndefault voicemail\ncolour blue\n",
     "line 4: unknown key \"colour\""},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit 1 menu nowhere\n",
     "menu m: no menu named nowhere"},
    {"menu m\nprompt text hi\ndefault voicemail\ndigit 1 menu m\n",
     "menu m: loops back to menu m"},
    {"menu a\nprompt text a\ndefault voicemail\ndigit 1 menu b\n"
     "menu b\nprompt text b\ndefault voicemail\ndigit 0 menu a\n",
     "menu b: loops back to menu a"},
    {"menu a\nprompt text a\ndefault voicemail\ndigit 1 menu b\n"
     "menu b\nprompt text b\ndefault voicemail\ndigit 1 menu c\n"
     "menu c\nprompt text c\ndefault voicemail\ndigit 1 menu d\n"
     "menu d\nprompt text d\ndefault voicemail\n",
     "menu d: nesting depth 4 exceeds 3"},
    {"menu a\nprompt text a\ndefault voicemail\n"
     "menu b\nprompt text b\ndefault voicemail\n",
     "menu b is not reachable from menu a"},
    {"menu a\nprompt text a\ndefault voicemail\nmenu a\n",
     "line 4: menu a defined twice"},
    {"menu m\nprompt text bell\a here\ndefault voicemail\n",
     "line 2: control character"},
};

START_TEST(test_ivr_malformed_refused_with_reason)
{
    char err[256];

    ck_assert_int_eq(parse(bad[_i].text, err, sizeof(err)), TSPSD_MEDIA_EINVAL);
    ck_assert_msg(strstr(err, bad[_i].why) != NULL, "case %d: got \"%s\"", _i,
                  err);
    ck_assert_uint_eq(ivr->nmenus, 0);
}
END_TEST

START_TEST(test_ivr_limits)
{
    char *big, err[256];
    size_t off = 0, cap = 64 * 1024;
    int i;

    big = malloc(cap);
    ck_assert_ptr_nonnull(big);
    /* 17 menus: one too many */
    for (i = 0; i < 17; i++)
        off += (size_t)snprintf(big + off, cap - off,
                                "menu m%d\nprompt text %d\ndefault "
                                "voicemail\n",
                                i, i);
    ck_assert_int_eq(parse(big, err, sizeof(err)), TSPSD_MEDIA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "more than 16 menus"));
    /* an over-long line */
    memset(big, 'x', 2000);
    memcpy(big, "menu m\nprompt text ", 19);
    big[2000] = '\0';
    ck_assert_int_eq(parse(big, err, sizeof(err)), TSPSD_MEDIA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2: longer than"));
    ck_assert_uint_eq(ivr->nmenus, 0); /* nothing half-parsed left */
    /* a NUL inside the text, after a complete menu */
    ck_assert_int_eq(tspsd_ivr_parse("menu m\nprompt text hi\ndefault "
                                     "voicemail\nx\0y\n",
                                     43, ivr, err, sizeof(err)),
                     TSPSD_MEDIA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 4: NUL byte"));
    ck_assert_uint_eq(ivr->nmenus, 0);
    free(big);
}
END_TEST

/* ---- storage through a real front ---- */

static int ok_token(void *ctx, const char *tok, tspsd_media_call_info *out)
{
    (void)ctx;
    (void)tok;
    (void)out;
    return -1;
}

static void quiet(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

static const tspsd_media_host host = {
    .version = TSPSD_MEDIA_HOST_VERSION,
    .verify_token = ok_token,
    .log = quiet,
};

static tspsd_media_front *open_front(const char *dir)
{
    tspsd_media_config cfg = TSPSD_MEDIA_CONFIG_INIT;
    tspsd_media_front *mf = NULL;

    cfg.data_dir = dir;
    cfg.sip_port = 0;
    ck_assert_int_eq(tspsd_media_front_new(&cfg, &host, NULL, &mf),
                     TSPSD_MEDIA_OK);
    return mf;
}

START_TEST(test_ivr_store_put_get_survives_reopen)
{
    char dir[512], buf[4096], canon[4096], err[256];
    tspsd_media_front *mf;
    size_t len;
    tspsd_media_message msgs[4];
    size_t n;

    tsps_check_tmpdir(dir, sizeof(dir));
    mf = open_front(dir);
    ck_assert_int_eq(tspsd_media_ivr_get(mf, "alice", buf, sizeof(buf), &len),
                     TSPSD_MEDIA_ENOTFOUND);
    ck_assert_int_eq(
        tspsd_media_ivr_put(mf, "alice", GOOD, strlen(GOOD), err, sizeof(err)),
        TSPSD_MEDIA_OK);
    /* bad menus are refused and leave the stored ones alone */
    ck_assert_int_eq(
        tspsd_media_ivr_put(mf, "alice", "menu x\n", 7, err, sizeof(err)),
        TSPSD_MEDIA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "menu x has no prompt"));
    ck_assert_int_eq(
        tspsd_media_ivr_put(mf, "../bob", GOOD, strlen(GOOD), err, sizeof(err)),
        TSPSD_MEDIA_EINVAL);
    tspsd_media_front_free(mf);

    mf = open_front(dir);
    ck_assert_int_eq(tspsd_media_ivr_get(mf, "alice", buf, sizeof(buf), &len),
                     TSPSD_MEDIA_OK);
    ck_assert_uint_eq(len, strlen(buf));
    ck_assert_int_eq(parse(GOOD, err, sizeof(err)), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_ivr_format(ivr, canon, sizeof(canon), NULL),
                     TSPSD_MEDIA_OK);
    ck_assert_str_eq(buf, canon); /* stored in canonical form */
    ck_assert_int_eq(tspsd_media_ivr_get(mf, "alice", buf, 8, &len),
                     TSPSD_MEDIA_ENOBUFS);
    ck_assert_uint_eq(len, strlen(canon));
    /* menus are not messages: the inbox stays empty */
    ck_assert_int_eq(tspsd_media_inbox_list(mf, "alice", msgs, 4, &n),
                     TSPSD_MEDIA_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(tspsd_media_ivr_get(mf, "bob", buf, sizeof(buf), &len),
                     TSPSD_MEDIA_ENOTFOUND);
    ck_assert_int_eq(tspsd_media_ivr_delete(mf, "alice"), TSPSD_MEDIA_OK);
    ck_assert_int_eq(tspsd_media_ivr_delete(mf, "alice"),
                     TSPSD_MEDIA_ENOTFOUND);
    ck_assert_int_eq(tspsd_media_ivr_get(mf, "alice", buf, sizeof(buf), &len),
                     TSPSD_MEDIA_ENOTFOUND);
    tspsd_media_front_free(mf);
    tsps_check_rmdir(dir);
}
END_TEST

static Suite *ivr_suite(void)
{
    Suite *s = suite_create("ivr");
    TCase *txt = tcase_create("text"), *store = tcase_create("store");

    tcase_add_checked_fixture(txt, ivr_setup, ivr_teardown);
    tcase_add_test(txt, test_ivr_parse_menus_digits_defaults);
    tcase_add_test(txt, test_ivr_format_round_trips_canonically);
    tcase_add_loop_test(txt, test_ivr_malformed_refused_with_reason, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(txt, test_ivr_limits);
    tcase_add_checked_fixture(store, ivr_setup, ivr_teardown);
    tcase_add_test(store, test_ivr_store_put_get_survives_reopen);
    suite_add_tcase(s, txt);
    suite_add_tcase(s, store);
    return s;
}

TSPS_CHECK_MAIN(ivr_suite)

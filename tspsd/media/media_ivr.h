/*
 * media_ivr.h - IVR menus of the media front as data: the documented text
 * form (docs/media.md, "IVR menus"), its parser with clear errors, the
 * canonical writer, and durable storage per user in the front's LMDB.
 *
 * A menu set is a small tree of named menus; the first one is the root.
 * Each menu has a prompt (text spoken with espeak-ng in the user's language,
 * or a WAV under the data folder), a timeout, a replay count and a default
 * action, and maps digits 0-9 * # to actions. An action is a handling method
 * in the engine's text form ("ring devices=mobile", "forward +4930123",
 * "voicemail", "reject busy" ... checked with tsps_method_parse()) or
 * "menu NAME" for a sub-menu.
 */
#ifndef TSPSD_MEDIA_IVR_H
#define TSPSD_MEDIA_IVR_H

#include "media_front.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSPSD_IVR_MAX_MENUS  16    /* menus in one user's set */
#define TSPSD_IVR_MAX_DEPTH  3     /* root = depth 1 */
#define TSPSD_IVR_NAME_MAX   32    /* menu name, with NUL */
#define TSPSD_IVR_PROMPT_MAX 512   /* prompt text or WAV path, with NUL */
#define TSPSD_IVR_ACTION_MAX 256   /* action text, with NUL */
#define TSPSD_IVR_TEXT_MAX   32768 /* largest text form accepted */
#define TSPSD_IVR_DIGITS     "0123456789*#"

enum { TSPSD_IVR_PROMPT_TEXT = 0, TSPSD_IVR_PROMPT_WAV = 1 };

/** One menu. An empty digits[i] means the digit is not offered. */
typedef struct tspsd_ivr_menu {
    char name[TSPSD_IVR_NAME_MAX];
    int prompt_kind; /* TSPSD_IVR_PROMPT_* */
    char prompt[TSPSD_IVR_PROMPT_MAX];
    unsigned timeout_s; /* wait this long for a digit after the prompt */
    unsigned retries;   /* replays after a timeout or invalid digit */
    char dflt[TSPSD_IVR_ACTION_MAX]; /* action once the replays are used */
    char digits[12][TSPSD_IVR_ACTION_MAX]; /* index: TSPSD_IVR_DIGITS */
} tspsd_ivr_menu;

/** A user's menu set; menus[0] is the root. */
typedef struct tspsd_ivr {
    unsigned nmenus;
    tspsd_ivr_menu menus[TSPSD_IVR_MAX_MENUS];
} tspsd_ivr;

/**
 * Parse and validate the text form. On failure `err` holds one line such
 * as "line 7: digit 1 given twice" or "menu sales: depth 4 exceeds 3".
 * @return TSPSD_MEDIA_OK or TSPSD_MEDIA_EINVAL
 * Thread-safety: safe (no shared state).
 * Since: 0.4
 */
int tspsd_ivr_parse(const char *text, size_t len, tspsd_ivr *out, char *err,
                    size_t errlen);

/**
 * Write the canonical text form (parseable by tspsd_ivr_parse(); the same
 * set always gives the same text).
 * @param[out] needed  optional: length the text needs, without NUL
 * @return TSPSD_MEDIA_OK, TSPSD_MEDIA_ENOBUFS
 * Thread-safety: safe.
 * Since: 0.4
 */
int tspsd_ivr_format(const tspsd_ivr *ivr, char *buf, size_t buflen,
                     size_t *needed);

/** Index of a digit character in TSPSD_IVR_DIGITS, -1 when not one.
 * Thread-safety: safe. Since: 0.4 */
int tspsd_ivr_digit_index(char d);

/** The menu called `name`, NULL when none. Thread-safety: safe. Since: 0.4 */
const tspsd_ivr_menu *tspsd_ivr_find(const tspsd_ivr *ivr, const char *name);

/**
 * Validate `text` and store its canonical form as `user`'s menus, replacing
 * any previous set (one LMDB write transaction: durable when it returns).
 * @return TSPSD_MEDIA_OK, _EINVAL (err says why; nothing stored), _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.4
 */
int tspsd_media_ivr_put(tspsd_media_front *mf, const char *user,
                        const char *text, size_t len, char *err, size_t errlen);

/**
 * Read `user`'s stored menus in canonical text form into buf.
 * @param[out] len  text length (also when buf is too small)
 * @return TSPSD_MEDIA_OK, _ENOTFOUND, _ENOBUFS, _EINVAL (bad user), _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.4
 */
int tspsd_media_ivr_get(tspsd_media_front *mf, const char *user, char *buf,
                        size_t buflen, size_t *len);

/**
 * Remove `user`'s menus.
 * @return TSPSD_MEDIA_OK, _ENOTFOUND, _EINVAL, _EIO
 * Thread-safety: safe from any thread.
 * Since: 0.4
 */
int tspsd_media_ivr_delete(tspsd_media_front *mf, const char *user);

#ifdef __cplusplus
}
#endif
#endif

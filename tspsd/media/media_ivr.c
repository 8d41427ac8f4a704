/*
 * media_ivr.c - IVR menu sets: parser, validation and canonical writer of
 * the text form documented in docs/media.md ("IVR menus").
 *
 *   # comment
 *   menu main
 *   prompt text Press 1 for my mobile, 2 to leave a message.
 *   timeout 5
 *   retries 2
 *   default voicemail
 *   digit 1 ring devices=mobile
 *   digit 2 voicemail
 *   digit 3 menu sales
 *
 * Actions other than "menu NAME" are the engine's handling methods, checked
 * with tsps_method_parse() so a menu never names a method the engine would
 * refuse when the digit is routed.
 */
#include "media_ivr.h"
#include "media_priv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tsps/tsps.h>

#define IVR_LINE_MAX  1024
#define DEF_TIMEOUT_S 5
#define DEF_RETRIES   2
#define MAX_TIMEOUT_S 60
#define MAX_RETRIES   5

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tspsd_ivr_digit_index(char d)
{
    const char *p;

    if (d == '\0')
        return -1;
    p = strchr(TSPSD_IVR_DIGITS, d);
    return p != NULL ? (int)(p - TSPSD_IVR_DIGITS) : -1;
}

const tspsd_ivr_menu *tspsd_ivr_find(const tspsd_ivr *ivr, const char *name)
{
    for (unsigned i = 0; i < ivr->nmenus; i++)
        if (strcmp(ivr->menus[i].name, name) == 0)
            return &ivr->menus[i];
    return NULL;
}

static int find_index(const tspsd_ivr *ivr, const char *name)
{
    const tspsd_ivr_menu *m = tspsd_ivr_find(ivr, name);

    return m != NULL ? (int)(m - ivr->menus) : -1;
}

static bool valid_menu_name(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return false;
    }
    return n > 0 && n < TSPSD_IVR_NAME_MAX;
}

/* A WAV prompt: a relative path under the data folder, no way out of it. */
static bool valid_wav_path(const char *s)
{
    size_t n = strlen(s);

    if (n < 5 || n >= TSPSD_IVR_PROMPT_MAX || s[0] == '/' ||
        strcmp(s + n - 4, ".wav") != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '/'))
            return false;
        if (c == '.' && (i == 0 || s[i - 1] == '/'))
            return false; /* "..", hidden files */
    }
    return true;
}

static int parse_num(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Split "word rest": returns the first word (NUL-terminated in place) and
 * the rest with leading blanks skipped ("" when none). */
static char *split1(char *s, char **rest)
{
    char *p = s;

    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    if (*p != '\0') {
        *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
    }
    *rest = p;
    return s;
}

/* Syntax of one action; "menu X" targets are checked once all are read. */
static int check_action(const char *a, char *err, size_t errlen)
{
    tsps_method m;
    char why[160] = "";

    if (strncmp(a, "menu ", 5) == 0) {
        if (!valid_menu_name(a + 5)) {
            seterr(err, errlen, "bad menu name \"%.40s\"", a + 5);
            return -1;
        }
        return 0;
    }
    if (tsps_method_parse(a, &m, why, sizeof(why)) != TSPS_OK) {
        seterr(err, errlen, "bad action \"%.60s\": %s", a, why);
        return -1;
    }
    if (m.kind == TSPS_METHOD_IVR || m.kind == TSPS_METHOD_NONE) {
        seterr(err, errlen, "action \"%.60s\" not allowed in a menu%s", a,
               m.kind == TSPS_METHOD_IVR ? " (use menu NAME)" : "");
        return -1;
    }
    return 0;
}

static int set_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* One line (trimmed, non-empty, not a comment) into the set. */
static int parse_line(tspsd_ivr *ivr, tspsd_ivr_menu **cur, bool *seen,
                      char *line, char *err, size_t errlen)
{
    char *rest, *key = split1(line, &rest);
    tspsd_ivr_menu *m = *cur;

    if (strcmp(key, "menu") == 0) {
        if (!valid_menu_name(rest)) {
            seterr(err, errlen,
                   "menu name must be 1-%d of a-z 0-9 _ -, got \"%.40s\"",
                   TSPSD_IVR_NAME_MAX - 1, rest);
            return -1;
        }
        if (tspsd_ivr_find(ivr, rest) != NULL) {
            seterr(err, errlen, "menu %s defined twice", rest);
            return -1;
        }
        if (ivr->nmenus == TSPSD_IVR_MAX_MENUS) {
            seterr(err, errlen, "more than %d menus", TSPSD_IVR_MAX_MENUS);
            return -1;
        }
        m = &ivr->menus[ivr->nmenus++];
        memset(m, 0, sizeof(*m));
        strcpy(m->name, rest);
        m->timeout_s = DEF_TIMEOUT_S;
        m->retries = DEF_RETRIES;
        memset(seen, 0, 4 * sizeof(*seen));
        *cur = m;
        return 0;
    }
    if (m == NULL) {
        seterr(err, errlen, "\"%.20s\" before the first \"menu NAME\"", key);
        return -1;
    }
    if (strcmp(key, "prompt") == 0) {
        char *val, *kind = split1(rest, &val);
        if (seen[0]) {
            seterr(err, errlen, "prompt given twice in menu %s", m->name);
            return -1;
        }
        if (strcmp(kind, "text") == 0) {
            for (const char *p = val; *p != '\0'; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                    seterr(err, errlen, "control character in prompt text");
                    return -1;
                }
            if (set_str(m->prompt, sizeof(m->prompt), val) != 0) {
                seterr(err, errlen, "prompt text empty or over %d bytes",
                       TSPSD_IVR_PROMPT_MAX - 1);
                return -1;
            }
            m->prompt_kind = TSPSD_IVR_PROMPT_TEXT;
        } else if (strcmp(kind, "wav") == 0) {
            if (!valid_wav_path(val)) {
                seterr(err, errlen,
                       "prompt wav must be a relative path ending in .wav "
                       "(A-Z a-z 0-9 . _ - /, no ..), got \"%.60s\"",
                       val);
                return -1;
            }
            strcpy(m->prompt, val);
            m->prompt_kind = TSPSD_IVR_PROMPT_WAV;
        } else {
            seterr(err, errlen, "prompt must be \"text ...\" or \"wav PATH\"");
            return -1;
        }
        seen[0] = true;
        return 0;
    }
    if (strcmp(key, "timeout") == 0 || strcmp(key, "retries") == 0) {
        bool t = key[0] == 't';
        if (seen[t ? 1 : 2]) {
            seterr(err, errlen, "%s given twice in menu %s", key, m->name);
            return -1;
        }
        if (parse_num(rest, t ? 1 : 0, t ? MAX_TIMEOUT_S : MAX_RETRIES,
                      t ? &m->timeout_s : &m->retries) != 0) {
            seterr(err, errlen, "%s must be a number from %d to %d", key,
                   t ? 1 : 0, t ? MAX_TIMEOUT_S : MAX_RETRIES);
            return -1;
        }
        seen[t ? 1 : 2] = true;
        return 0;
    }
    if (strcmp(key, "default") == 0) {
        if (seen[3]) {
            seterr(err, errlen, "default given twice in menu %s", m->name);
            return -1;
        }
        if (check_action(rest, err, errlen) != 0 ||
            set_str(m->dflt, sizeof(m->dflt), rest) != 0) {
            if (rest[0] == '\0' || strlen(rest) >= sizeof(m->dflt))
                seterr(err, errlen, "default action empty or too long");
            return -1;
        }
        seen[3] = true;
        return 0;
    }
    if (strcmp(key, "digit") == 0) {
        char *act, *d = split1(rest, &act);
        int i =
            (d[0] != '\0' && d[1] == '\0') ? tspsd_ivr_digit_index(d[0]) : -1;
        if (i < 0) {
            seterr(err, errlen, "digit must be one of 0-9 * #, got \"%.10s\"",
                   d);
            return -1;
        }
        if (m->digits[i][0] != '\0') {
            seterr(err, errlen, "digit %c given twice in menu %s", d[0],
                   m->name);
            return -1;
        }
        if (check_action(act, err, errlen) != 0 ||
            set_str(m->digits[i], sizeof(m->digits[i]), act) != 0) {
            if (act[0] == '\0' || strlen(act) >= sizeof(m->digits[i]))
                seterr(err, errlen, "digit %c: action empty or too long", d[0]);
            return -1;
        }
        return 0;
    }
    seterr(err, errlen,
           "unknown key \"%.20s\" (menu, prompt, timeout, retries, default, "
           "digit)",
           key);
    return -1;
}

/* Walk sub-menus from `idx` at `depth`; catches loops and depth. */
static int walk(const tspsd_ivr *ivr, int idx, unsigned depth, bool *onpath,
                bool *reached, char *err, size_t errlen)
{
    const tspsd_ivr_menu *m = &ivr->menus[idx];
    int rc = 0;

    if (depth > TSPSD_IVR_MAX_DEPTH) {
        seterr(err, errlen, "menu %s: nesting depth %u exceeds %d", m->name,
               depth, TSPSD_IVR_MAX_DEPTH);
        return -1;
    }
    reached[idx] = true;
    onpath[idx] = true;
    for (int i = -1; i < 12 && rc == 0; i++) {
        const char *a = i < 0 ? m->dflt : m->digits[i];
        int t;
        if (strncmp(a, "menu ", 5) != 0)
            continue;
        t = find_index(ivr, a + 5);
        if (t < 0) {
            seterr(err, errlen, "menu %s: no menu named %s", m->name, a + 5);
            rc = -1;
        } else if (onpath[t]) {
            seterr(err, errlen, "menu %s: loops back to menu %s", m->name,
                   a + 5);
            rc = -1;
        } else {
            rc = walk(ivr, t, depth + 1, onpath, reached, err, errlen);
        }
    }
    onpath[idx] = false;
    return rc;
}

static int validate(const tspsd_ivr *ivr, char *err, size_t errlen)
{
    bool onpath[TSPSD_IVR_MAX_MENUS] = {false};
    bool reached[TSPSD_IVR_MAX_MENUS] = {false};

    if (ivr->nmenus == 0) {
        seterr(err, errlen, "no menu defined");
        return -1;
    }
    for (unsigned i = 0; i < ivr->nmenus; i++) {
        const tspsd_ivr_menu *m = &ivr->menus[i];
        if (m->prompt[0] == '\0') {
            seterr(err, errlen, "menu %s has no prompt", m->name);
            return -1;
        }
        if (m->dflt[0] == '\0') {
            seterr(err, errlen, "menu %s has no default", m->name);
            return -1;
        }
    }
    if (walk(ivr, 0, 1, onpath, reached, err, errlen) != 0)
        return -1;
    for (unsigned i = 0; i < ivr->nmenus; i++)
        if (!reached[i]) {
            seterr(err, errlen, "menu %s is not reachable from menu %s",
                   ivr->menus[i].name, ivr->menus[0].name);
            return -1;
        }
    return 0;
}

int tspsd_ivr_parse(const char *text, size_t len, tspsd_ivr *out, char *err,
                    size_t errlen)
{
    tspsd_ivr_menu *cur = NULL;
    bool seen[4] = {false};
    char line[IVR_LINE_MAX + 1], why[256];
    size_t pos = 0;
    unsigned lineno = 0;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL || out == NULL)
        return TSPSD_MEDIA_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len > TSPSD_IVR_TEXT_MAX) {
        seterr(err, errlen, "menu text over %d bytes", TSPSD_IVR_TEXT_MAX);
        return TSPSD_MEDIA_EINVAL;
    }
    while (pos < len) {
        size_t end = pos, n;
        char *s, *e;
        while (end < len && text[end] != '\n')
            end++;
        n = end - pos;
        lineno++;
        if (n > IVR_LINE_MAX) {
            seterr(err, errlen, "line %u: longer than %d bytes", lineno,
                   IVR_LINE_MAX);
            goto fail;
        }
        if (memchr(text + pos, '\0', n) != NULL) {
            seterr(err, errlen, "line %u: NUL byte", lineno);
            goto fail;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            *--e = '\0';
        if (*s == '\0' || *s == '#')
            continue;
        for (const char *c = s; *c != '\0'; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
                seterr(err, errlen, "line %u: control character", lineno);
                goto fail;
            }
        if (parse_line(out, &cur, seen, s, why, sizeof(why)) != 0) {
            seterr(err, errlen, "line %u: %s", lineno, why);
            goto fail;
        }
    }
    if (validate(out, err, errlen) == 0)
        return TSPSD_MEDIA_OK;
fail:
    /* a refused text leaves nothing half-parsed behind */
    memset(out, 0, sizeof(*out));
    return TSPSD_MEDIA_EINVAL;
}

typedef struct {
    char *buf;
    size_t cap, len;
} outbuf;

static void put(outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = o->len < o->cap ? o->cap - o->len : 0;

    va_start(ap, fmt);
    n = vsnprintf(room > 0 ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

int tspsd_ivr_format(const tspsd_ivr *ivr, char *buf, size_t buflen,
                     size_t *needed)
{
    outbuf o = {buf, buflen, 0};

    for (unsigned i = 0; i < ivr->nmenus && i < TSPSD_IVR_MAX_MENUS; i++) {
        const tspsd_ivr_menu *m = &ivr->menus[i];
        put(&o, "%smenu %s\n", i > 0 ? "\n" : "", m->name);
        put(&o, "prompt %s %s\n",
            m->prompt_kind == TSPSD_IVR_PROMPT_WAV ? "wav" : "text", m->prompt);
        put(&o, "timeout %u\nretries %u\ndefault %s\n", m->timeout_s,
            m->retries, m->dflt);
        for (int d = 0; d < 12; d++)
            if (m->digits[d][0] != '\0')
                put(&o, "digit %c %s\n", TSPSD_IVR_DIGITS[d], m->digits[d]);
    }
    if (needed != NULL)
        *needed = o.len;
    if (o.len >= buflen) {
        if (buflen > 0)
            buf[0] = '\0';
        return TSPSD_MEDIA_ENOBUFS;
    }
    return TSPSD_MEDIA_OK;
}

int tspsd_media_ivr_put(tspsd_media_front *mf, const char *user,
                        const char *text, size_t len, char *err, size_t errlen)
{
    tspsd_ivr *ivr = NULL;
    char *canon = NULL;
    size_t need = 0;
    int rc;

    if (mf == NULL || text == NULL || !tspsd_media__safe_name(user)) {
        seterr(err, errlen, "bad user name");
        return TSPSD_MEDIA_EINVAL;
    }
    ivr = malloc(sizeof(*ivr));
    if (ivr == NULL)
        return TSPSD_MEDIA_ENOMEM;
    rc = tspsd_ivr_parse(text, len, ivr, err, errlen);
    if (rc != TSPSD_MEDIA_OK) {
        tspsd_media__log(mf, 1, "ivr: menus of %s refused: %s", user,
                         err != NULL ? err : "invalid");
        goto cleanup;
    }
    tspsd_ivr_format(ivr, NULL, 0, &need);
    canon = malloc(need + 1);
    if (canon == NULL) {
        rc = TSPSD_MEDIA_ENOMEM;
        goto cleanup;
    }
    rc = tspsd_ivr_format(ivr, canon, need + 1, NULL);
    if (rc == TSPSD_MEDIA_OK)
        rc = tspsd_media__store_rec_put(mf->store, "ivr", user, canon, need);
    if (rc == TSPSD_MEDIA_OK)
        tspsd_media__log(mf, 2, "ivr: stored %u menus of %s", ivr->nmenus,
                         user);
    else
        tspsd_media__log(mf, 0, "ivr: storing menus of %s failed: %s", user,
                         tspsd_media_strerror(rc));
cleanup:
    free(canon);
    free(ivr);
    return rc;
}

int tspsd_media_ivr_get(tspsd_media_front *mf, const char *user, char *buf,
                        size_t buflen, size_t *len)
{
    if (mf == NULL || buf == NULL || len == NULL)
        return TSPSD_MEDIA_EINVAL;
    return tspsd_media__store_rec_get(mf->store, "ivr", user, buf, buflen, len);
}

int tspsd_media_ivr_delete(tspsd_media_front *mf, const char *user)
{
    if (mf == NULL)
        return TSPSD_MEDIA_EINVAL;
    return tspsd_media__store_rec_del(mf->store, "ivr", user);
}

/*
 * settings.h - the one table of tspsd.conf keys (docs/config-keys.md is
 * made from it: `tspsd --help-config=markdown`). Parsing, defaults and
 * the `--help-config` text all read this table; a key is added here and
 * nowhere else. [source NAME] sections (adapter options) and [held]
 * user.<id> keys are open-ended and parsed in config.c.
 */
#ifndef TSPSD_SETTINGS_H
#define TSPSD_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/** Value types of keys. */
enum {
    TSPSD_SET_STR = 0, /* text (a char array of the config) */
    TSPSD_SET_INT,     /* integer within [lo, hi] */
    TSPSD_SET_BOOL,    /* true/false, yes/no, on/off, 1/0 */
    TSPSD_SET_CUSTOM   /* parsed by the row's own function */
};

typedef struct tspsd_setting {
    const char *section; /* "sip" */
    const char *name;    /* "udp_port" */
    int type;            /* TSPSD_SET_* */
    size_t off, len;     /* field of tspsd_config (len: char arrays) */
    long lo, hi;         /* TSPSD_SET_INT bounds */
    const char *def;     /* default as written in a file; NULL = none
                            (computed, or empty) */
    int reloadable;      /* SIGHUP applies it; 0 = restart */
    const char *doc;     /* one line */
    int (*parse)(tspsd_config *c, const char *v); /* TSPSD_SET_CUSTOM */
} tspsd_setting;

/** The table and its length. Thread-safety: read-only. */
const tspsd_setting *tspsd_settings(size_t *n);

/** The row of [section] name, or NULL. */
const tspsd_setting *tspsd_setting_find(const char *section, const char *name);

/** Parse one value into c. @return 0, -1 bad value. */
int tspsd_setting_set(tspsd_config *c, const tspsd_setting *s, const char *v);

/** Apply every row's default (after zeroing c). */
void tspsd_settings_defaults(tspsd_config *c);

/** `--help-config`: text (markdown 0) or the docs page (markdown 1). */
void tspsd_settings_print(FILE *f, int markdown);

#endif

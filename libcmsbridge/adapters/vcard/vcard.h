/* vcard-dir adapter internals: the vCard parser, code resolution, the
 * directory state, iCalendar expansion and write-back. */
#ifndef CMSB_VCARD_H
#define CMSB_VCARD_H

#include <stddef.h>
#include <stdint.h>

#include <cmsb/adapter.h>

/* ---- small helpers (vcard_util.c) ---- */

typedef struct vc_buf {
    char *p;
    size_t len, cap;
} vc_buf;

int vc_buf_add(vc_buf *b, const void *p, size_t n);
int vc_buf_str(vc_buf *b, const char *s);
int vc_buf_printf(vc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vc_buf_free(vc_buf *b);

/* A string -> string hash map (copies keys and values). */
typedef struct vc_map {
    char **keys;
    char **vals;
    size_t n, cap;
} vc_map;

int vc_map_put(vc_map *m, const char *key, const char *val);
const char *vc_map_get(const vc_map *m, const char *key);
void vc_map_free(vc_map *m);

uint64_t vc_hash(const void *p, size_t n);
int vc_strncaseeq(const char *a, size_t alen, const char *b);
const char *vc_memcasemem(const char *h, size_t hlen, const char *n);
/* Copy at most cap-1 bytes without splitting a UTF-8 sequence. */
void vc_copy(char *dst, size_t cap, const char *src, size_t n);
/* Make an id usable as a tsps uid: no control chars, fits TSPS_UID_MAX
 * with room for an instance suffix (long ids are shortened with a hash). */
void vc_make_uid(char *dst, size_t cap, const char *src, size_t n);

/* ---- the vCard parser (vcard_parse.c) ---- */

typedef struct vc_conf {
    const char *code_prop;   /* X-TSPS-CODE */
    const char *cat_prefix;  /* "" or "tsps:" */
    const char *note_prefix; /* "[tsps:" */
    const char *known;       /* NULL or "VIP,FAMILY" */
    unsigned forms;
} vc_conf;

typedef struct vc_span {
    size_t start, end; /* byte offsets of a whole property, folds and line
                          ending included */
    int line;
} vc_span;

#define VC_MAX_LABELS 16

/* One parsed card. Members of a group card are NUL-separated in members. */
typedef struct vc_card {
    tsps_contact c;    /* uid, name, org, numbers, emails */
    int vers;          /* 21, 30, 40; 0 if no VERSION */
    int line;          /* line of BEGIN:VCARD */
    size_t start, end; /* BEGIN..END:VCARD incl. line ending */
    int has_uid;       /* uid came from UID (else synthesised) */
    int is_group;
    char group_code[TSPS_CODE_MAX]; /* group card: its name as a code */
    char group_name[TSPS_NAME_MAX];
    char n_name[TSPS_NAME_MAX]; /* "given family" from N */
    vc_buf members;
    size_t nmembers;
    char tel_types[TSPS_MAX_NUMBERS][40];
    char tel_group[TSPS_MAX_NUMBERS][16];
    char tel_label[TSPS_MAX_NUMBERS][32];
    int nlabels;
    char label_group[VC_MAX_LABELS][16];
    char label_text[VC_MAX_LABELS][32];
    /* code forms found on the card */
    char prop_code[TSPS_CODE_MAX];
    vc_span prop_span;
    char cat_code[TSPS_CODE_MAX];
    char cat_token[TSPS_CODE_MAX + 16]; /* as written: "tsps:VIP" */
    vc_span cat_span;
    char note_code[TSPS_CODE_MAX];
    vc_span note_span;
    char line_end[3]; /* "\r\n" or "\n" as the card uses */
    size_t end_start; /* offset of the END:VCARD line */
    int apple_group;  /* X-ADDRESSBOOKSERVER-KIND:group */
} vc_card;

/* Called per complete card; non-zero stops parsing. */
typedef int (*vc_card_fn)(void *arg, vc_card *card);
/* Called per skipped card or stray line. */
typedef void (*vc_err_fn)(void *arg, int line, const char *reason);

/*
 * Parse every card in buf[0..len) (buf[len] must be readable and is not
 * changed). Cards without UID get "<uid_base>#<n>" (n = index in file).
 * Returns CMSB_OK, CMSB_ECANCELED (card_fn stopped) or CMSB_ENOMEM.
 */
int vc_parse(const char *buf, size_t len, const vc_conf *conf,
             const char *uid_base, vc_card_fn card_fn, vc_err_fn err_fn,
             void *arg);

/* Finding one card by uid with vc_parse(): pass vc_on_hit as card_fn and
 * a vc_card_hit (uid set, the rest zero) as arg; found is set and card
 * holds the first non-group card with that uid (members not kept). */
typedef struct vc_card_hit {
    const char *uid;
    vc_card card;
    int found;
} vc_card_hit;
int vc_on_hit(void *arg, vc_card *card);
/* A full contact listing from an adapter's change walk (no cursor): pass
 * vc_only_contacts as the change callback and a vc_list_ctx as its arg. */
typedef struct vc_list_ctx {
    cmsb_contact_cb cb;
    void *arg;
} vc_list_ctx;
int vc_only_contacts(void *arg, const cmsb_change *ch);

/* An err_fn that ignores errors (the sync reports them). */
void vc_quiet(void *arg, int line, const char *reason);

/* ---- codes (vcard_codes.c) ---- */

/* Set card->c.code/code_source/code_detail from the forms on the card and
 * the group code of its uid (NULL = none) by precedence
 * property > note > category > group. */
void vc_resolve_code(const vc_conf *conf, vc_card *card,
                     const char *group_code);
/* Does a bare name (a category without prefix, a group name) count as a
 * code? With conf->known: when listed; else when written in capitals
 * ("VIP", not "myContacts"). */
int vc_code_known(const vc_conf *conf, const char *raw, size_t len);

/* The code a label gives — a category of a card or the name of a group
 * card; one rule for both (docs/adapters.md): with a category prefix
 * configured ("tsps:"), a label that starts with it (any case) and a valid
 * code after it ("tsps:FAMILY", "TSPS:vip"); without one, a valid code
 * that vc_code_known() accepts ("FAMILY"). 1 and out set, or 0. */
int vc_label_code(const vc_conf *conf, const char *label, size_t len,
                  char out[TSPS_CODE_MAX]);

/* ---- iCalendar (vcard_ical.c) ---- */

/* organizer: the ORGANIZER e-mail (lower case) or "" */
typedef int (*vc_event_fn)(void *arg, const tsps_event *ev,
                           const char *organizer);

/* Expand every VEVENT of an iCalendar text into instances overlapping
 * [from, to). Malformed events are reported through err_fn and skipped. */
int vc_ical_expand(const char *buf, size_t len, int64_t from, int64_t to,
                   const char *tz, vc_event_fn ev_fn, vc_err_fn err_fn,
                   void *arg);

/* ---- write-back (vcard_write.c) ---- */

/*
 * Edit the card `uid` in the file text `in` into *out, changing only code
 * fields: `set_form` (TSPS_CODE_SRC_PROPERTY, _NOTE or _CATEGORY; NONE =
 * none) gets `code`, the forms in `clear` (CMSB_FORM_* bits) lose theirs.
 * Returns CMSB_OK, CMSB_ENOTFOUND (no such card), CMSB_ENOTSUP (the field
 * is encoded or folded so that it cannot be edited in place), CMSB_ENOMEM.
 */
int vc_edit_code(const char *in, size_t len, const vc_conf *conf,
                 const char *uid, int set_form, const char *code,
                 unsigned clear, vc_buf *out);

/* Add (add != 0) or remove `uid` as a member of the group card whose name
 * is `code`. Returns CMSB_OK, CMSB_ENOTFOUND, CMSB_ENOMEM. */
int vc_edit_member(const char *in, size_t len, const vc_conf *conf,
                   const char *code, const char *uid, int add, vc_buf *out);

/* ---- new cards (vcard_new.c) ---- */

/* A random UUID (version 4, lower case) into out (at least 37 bytes).
 * CMSB_OK, CMSB_EINVAL (too small), CMSB_EIO (no randomness). */
int vc_new_uid(char *out, size_t len);
/*
 * A new vCard 3.0 for contact c (name or else its first number as FN,
 * org, numbers, emails) with UID `uid` and `code` ("" = none) in the
 * first form conf->forms enables: property, category, note. *out is
 * replaced (NUL-terminated). Returns CMSB_OK, CMSB_EINVAL (nothing to
 * name it by, a control character in a value), CMSB_ENOTSUP (a code, but
 * the source reads codes from group cards only), CMSB_ENOMEM.
 */
int vc_new_card(const vc_conf *conf, const tsps_contact *c, const char *uid,
                const char *code, vc_buf *out);

/* ---- directory state (vcard_state.c) ---- */

enum { VC_VCF = 'v', VC_ICS = 'i' };

/* One file of the folder: what the cursor said (o_*), what the scan saw,
 * and what processing produced (n_*). Bodies are the cursor lines that
 * follow the file line: "C <contact uid>", "E <event uid>",
 * "G <code>\t<member uid>\t..." (one per group card). */
typedef struct vc_file {
    char *path; /* relative to the root */
    int kind;
    int present, has_old, has_new, todo, meta_only, deleted;
    int64_t mtime, size;            /* scan */
    int64_t o_mtime, o_size, o_exp; /* cursor */
    uint64_t o_hash;
    char *o_body;
    int64_t n_exp;
    uint64_t n_hash;
    vc_buf n_body;
    vc_buf groups; /* pass A: G lines of a changed file */
    char *data;    /* pass A: content kept for pass B */
    size_t dlen;
    int hashed;    /* n_hash already computed */
    int processed; /* n_body is this sync's word on the file */
} vc_file;

typedef struct vc_state {
    vc_file *f;
    size_t n, cap;
} vc_state;

/* Parse a cursor into st (sorted by path). Returns 1 if it was a cursor
 * of this config, 0 if of another config (entries kept: every file must be
 * reread), -1 if not a vcard-dir cursor (st empty). */
int vc_state_parse(vc_state *st, const char *cursor, uint64_t fingerprint);
/* Merge a folder scan into st (present, mtime, size; new entries). */
int vc_state_scan(vc_state *st, const char *root);
/* Serialise st into b (replacing its content). */
int vc_state_write(const vc_state *st, uint64_t fingerprint, vc_buf *b);
void vc_state_free(vc_state *st);
/* Does a vCard text hold a group card (a KIND property)? Fast. */
int vc_has_kind(const char *buf, size_t len);
/* Read a whole file (NUL-terminated). Returns CMSB_OK, CMSB_EIO,
 * CMSB_ENOMEM. */
int vc_read_file(const char *path, char **data, size_t *len);

#endif

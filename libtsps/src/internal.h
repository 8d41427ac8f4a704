/* libtsps internals shared between its .c files. Not installed. */
#ifndef TSPS_INTERNAL_H
#define TSPS_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "tsps/tsps.h"

#define TSPS_SCHEMA_VERSION 1u

/* ---- small string helpers ---------------------------------------------- */

/* Copy a NUL-terminated string into a fixed field; TSPS_EINVAL if it does
 * not fit (we refuse rather than truncate). */
static inline int tsps__scopy(char *dst, size_t cap, const char *src)
{
    size_t n;
    if (src == NULL) {
        dst[0] = '\0';
        return TSPS_OK;
    }
    n = strnlen(src, cap);
    if (n >= cap)
        return TSPS_EINVAL;
    memcpy(dst, src, n + 1);
    return TSPS_OK;
}

/* Copy, truncating at a UTF-8 boundary (for display text in traces). */
static inline void tsps__stcopy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
    if (n == cap - 1)
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* E.164 "+4930123" -> 4930123 (digits as an integer; E.164 never starts
 * with 0 so this is lossless). 0 if not "+digits" of 1..15 digits. */
static inline uint64_t tsps__e164_key(const char *e164)
{
    uint64_t v = 0;
    int n = 0;
    if (e164 == NULL || e164[0] != '+')
        return 0;
    for (const char *p = e164 + 1; *p != '\0'; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 15)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return n > 0 ? v : 0;
}

/* The parts of a contact-index value, [src][code len][code][name len][name]
 * [contact uid] (contacts.c writes them): 0 with *f filled if it reads as
 * routing reads it, -1 if it does not. */
typedef struct tsps__cidx_parts {
    uint8_t src;
    size_t cl, nl, ul;
    const uint8_t *code, *name, *uid;
} tsps__cidx_parts;

static inline int tsps__cidx_split(const uint8_t *v, size_t n,
                                   tsps__cidx_parts *f)
{
    size_t off;
    if (n < 3 || (size_t)3 + v[1] > n)
        return -1;
    f->cl = v[1];
    f->nl = v[2 + f->cl];
    off = 3 + f->cl + f->nl;
    if (off > n || f->cl >= TSPS_CODE_MAX || f->nl >= TSPS_NAME_MAX ||
        n - off >= TSPS_UID_MAX)
        return -1;
    f->src = v[0];
    f->code = v + 2;
    f->name = v + 3 + f->cl;
    f->uid = v + off;
    f->ul = n - off;
    return 0;
}

/* Inverse of tsps__e164_key into a TSPS_E164_MAX buffer. */
void tsps__e164_from_key(uint64_t k, char out[TSPS_E164_MAX]);

static inline void tsps__be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void tsps__be64(uint8_t *p, uint64_t v)
{
    tsps__be32(p, (uint32_t)(v >> 32));
    tsps__be32(p + 4, (uint32_t)v);
}

static inline uint32_t tsps__rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t tsps__rd64(const uint8_t *p)
{
    return ((uint64_t)tsps__rd32(p) << 32) | tsps__rd32(p + 4);
}

/* The 64-bit finaliser of MurmurHash3: every input bit moves every output
 * bit (hash table slots from integer keys). */
static inline uint64_t tsps__mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t tsps__fnv64(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- record codec (codec.c) -------------------------------------------- */

typedef struct tsps__wbuf { /* initialise as {buf, sizeof(buf), 0, 0} */
    uint8_t *p;
    size_t cap, len;
    int overflow;
} tsps__wbuf;

typedef struct tsps__rbuf {
    const uint8_t *p;
    size_t len, off;
    int bad;
} tsps__rbuf;

void tsps__w8(tsps__wbuf *w, uint8_t v);
void tsps__w16(tsps__wbuf *w, uint16_t v);
void tsps__w32(tsps__wbuf *w, uint32_t v);
void tsps__w64(tsps__wbuf *w, uint64_t v);
void tsps__wstr(tsps__wbuf *w, const char *s);
uint8_t tsps__r8(tsps__rbuf *r);
uint16_t tsps__r16(tsps__rbuf *r);
uint32_t tsps__r32(tsps__rbuf *r);
uint64_t tsps__r64(tsps__rbuf *r);
void tsps__rstr(tsps__rbuf *r, char *dst, size_t cap);

void tsps__enc_user(tsps__wbuf *w, const tsps_user *u);
int tsps__dec_user(const void *p, size_t n, tsps_user *u);
/* TSPS_USER_NO_HOURS -> hours every day 00:00-24:00, flag cleared. */
void tsps__user_fold_no_hours(tsps_user *u);
void tsps__enc_method(tsps__wbuf *w, const tsps_method *m);
void tsps__dec_method(tsps__rbuf *r, tsps_method *m);
void tsps__enc_contact(tsps__wbuf *w, const tsps_contact *c);
int tsps__dec_contact(const void *p, size_t n, tsps_contact *c);
void tsps__enc_event(tsps__wbuf *w, const tsps_event *e);
int tsps__dec_event(const void *p, size_t n, tsps_event *e);
void tsps__enc_reg(tsps__wbuf *w, const tsps_registration *r);
int tsps__dec_reg(const void *p, size_t n, tsps_registration *r);
void tsps__enc_decision(tsps__wbuf *w, const tsps_decision *d);
void tsps__dec_decision(tsps__rbuf *r, tsps_decision *d);

/* ---- time zones (tz.c) ------------------------------------------------- */

/* UTC offset table of one zone between two instants: offsets[i] applies
 * from at[i] (inclusive) to at[i+1]. */
typedef struct tsps__tz {
    char name[TSPS_TZ_MAX];
    int64_t from, to;
    size_t n;
    int64_t *at;
    int32_t *offset;
    struct tsps__tz *next;
} tsps__tz;

int tsps__tz_valid(const char *name);
int tsps__tz_load(const char *name, int64_t from, int64_t to, tsps__tz **out);
void tsps__tz_free(tsps__tz *tz);
/* Offset (seconds east of UTC) at t; falls back to libical outside the
 * table range (rare; may allocate). */
int32_t tsps__tz_offset(const tsps__tz *tz, int64_t t);

/* ---- the engine -------------------------------------------------------- */

enum {
    DB_META = 0,
    DB_USERS,       /* uid u32 -> user record */
    DB_UNAMES,      /* user id string -> uid u32 */
    DB_NUMBERS,     /* e164 key u64 -> uid u32 */
    DB_CONTACTS,    /* uid u32 + contact uid -> contact record */
    DB_CIDX,        /* uid u32 + e164 u64 -> (dup) code/name/contact uid */
    DB_CODES,       /* uid u32 + status u8 + code -> method */
    DB_STATUS,      /* uid u32 -> manual status */
    DB_EVENTS,      /* uid u32 + chunk end u64 + hash u64 -> event */
    DB_EVUID,       /* uid u32 + event uid -> chunk ends */
    DB_REGS,        /* uid u32 + key -> registration */
    DB_HIST,        /* call id u64 -> record */
    DB_HIST_USER,   /* user id NUL start u64 id u64 -> "" */
    DB_HIST_CALLER, /* user id NUL e164 u64 start u64 id u64 -> "" */
    DB_CURSORS,     /* key -> sync cursor */
    DB_KV,          /* key -> value */
    DB__COUNT
};

/* Event chunks: an event is stored as pieces of at most this length, keyed
 * by the piece's end, so "what overlaps now" is one seek and a short walk. */
#define TSPS__EV_CHUNK (4 * 3600)

/* Per-user cached configuration (snapshot.c). */
typedef struct tsps__ucache {
    uint32_t uid;
    tsps_user user;
    const tsps__tz *tz;
    int has_manual;
    tsps_status manual;
    int64_t manual_until;
    char manual_note[TSPS_DETAIL_MAX];
    uint32_t rule_statuses; /* bit s: the user has a rule for status s */
    uint32_t wild_statuses; /* bit s: the user has a ("*", s) rule */
    /* The user's rules by hash, when there are at most TSPS__RIX of them
     * (nrix > TSPS__RIX: more, look in the snapshot's slots): a rule is
     * found in the user's cache lines instead of a slot elsewhere. */
    uint8_t nrix;
    struct tsps__rix {
        uint64_t h;
        uint32_t idx; /* into the snapshot's rules */
    } rix[8];
} tsps__ucache;
#define TSPS__RIX 8

typedef struct tsps__rule {
    uint32_t uid;
    uint8_t status;
    uint8_t used;
    char code[TSPS_CODE_MAX];
    tsps_method m;
} tsps__rule;

/* An immutable view of the configuration tables, shared by readers and
 * replaced (never changed) when the configuration generation moves. */
typedef struct tsps__snap {
    atomic_int refs;
    uint64_t gen;
    /* users by uid: dense array, NULL where absent */
    uint32_t nuids;
    tsps__ucache **by_uid;
    /* user id string -> uid: open addressing */
    uint32_t name_mask;
    uint32_t *name_slots; /* uid+1, 0 = empty */
    /* number key -> uid: open addressing, key and uid side by side */
    uint32_t num_mask;
    struct tsps__nslot {
        uint64_t key; /* 0 = empty */
        uint32_t uid;
    } * nums;
    /* (uid, status, code) -> rule: compact slots (hash, index) over a
     * dense array, so a probe touches 16 bytes, not a whole method */
    uint32_t rule_mask;
    struct tsps__rslot {
        uint64_t h;   /* 0 = empty */
        uint32_t idx; /* into rules */
    } * rslots;
    uint32_t nrules;
    tsps__rule *rules;
    tsps__tz *zones;
} tsps__snap;

/* A reader: one per thread at a time, pooled. Holds a reset read txn and
 * cursors so a route allocates nothing. */
typedef struct tsps__reader {
    MDB_txn *txn;
    MDB_cursor *cur_cidx, *cur_events, *cur_regs;
    int live;       /* txn active (kept while no write happened) */
    unsigned stale; /* bit i: cursor i needs mdb_cursor_renew */
    /* the routed user's events and registrations in memory (umem.c):
     * ub_on 1 while the table's read lock is held, ub NULL = none */
    int ub_on;
    const struct tsps__ublob *ub;
    tsps__snap *snap;
    struct tsps__reader *next;
} tsps__reader;

enum { RCUR_CIDX = 0, RCUR_EVENTS = 1, RCUR_REGS = 2 };

/* The contact index in memory (cmem.c). */
struct tsps__cmem;
struct tsps__umem;
typedef struct tsps__cidx_hit {
    int n;        /* entries for (user, number) */
    int disagree; /* they carry different codes */
    size_t vlen;
    uint8_t val[512]; /* the first entry in LMDB's order (n > 1: in name
                         order): the index value */
    /* n > 1: the entries' names in name order, ", " between them (cut
     * short with "..." when they do not fit) */
    char names[TSPS_DETAIL_MAX];
} tsps__cidx_hit;

/* Fill hit->names from n index values (at most TSPS__NAMES_MAX are read)
 * and return the index of the one first in name order (the contact that
 * stands for a shared number), -1 if none is readable (route_contact.c). */
#define TSPS__NAMES_MAX 64
int tsps__cidx_names(tsps__cidx_hit *hit, const uint8_t *const *vals,
                     const size_t *lens, int n);

#define TSPS__VIEW_RECS 4
/* A lookup in the table, begun and not yet ended: the table's read lock is
 * held from tsps__cmem_begin to tsps__cmem_end. */
typedef struct tsps__cview {
    struct tsps__cmem *m;
    uint64_t key;
    uint32_t uid;
    int probed;
    int n;          /* entries for (user, number) */
    int disagree;   /* their codes differ */
    int need_entry; /* the code must be read from the entry itself */
    const char *code;
    uint32_t rec[TSPS__VIEW_RECS];
} tsps__cview;

struct tsps_engine {
    MDB_env *env;
    MDB_dbi dbi[DB__COUNT];
    unsigned flags;
    size_t map_size, map_max;
    tsps_log_fn log;
    void *log_arg;
    void *(*amalloc)(void *, size_t);
    void (*afree)(void *, void *);
    void *aarg;
    tsps_dialplan site;       /* site dial plan; site.cc[0] == 0 if none */
    pthread_mutex_t wlock;    /* serialises writers (and map growth) */
    pthread_rwlock_t maplock; /* readers shared, map growth exclusive */
    atomic_uint_fast64_t gen; /* configuration generation */
    pthread_mutex_t snap_lock;
    tsps__snap *snap;
    pthread_mutex_t pool_lock;
    tsps__reader *pool;
    /* The open batch and its thread (pthread_self(), 0 = none): writes
     * from that thread join the batch instead of waiting for it. */
    atomic_ulong batch_owner;
    struct tsps_batch *open_batch;
    struct tsps__cmem *cmem; /* NULL: routing reads DB_CIDX */
    struct tsps__umem *umem; /* NULL: routing reads DB_EVENTS, DB_REGS */
    int lockfd;              /* writer lock (flock), -1 if read-only */
    /* Next call id of this process (0 = not read from the store yet); only
     * grows, so an id whose write was lost is not given again (history.c).
     * Atomic: tsps_history_take_id() takes ids outside the write lock. */
    atomic_uint_fast64_t call_next;
};

void *tsps__malloc(tsps_engine *eng, size_t n);
void *tsps__calloc(tsps_engine *eng, size_t n, size_t sz);
void tsps__free(tsps_engine *eng, void *p);
/* A rwlock that lets a waiting writer in before new readers (the contact
 * and per-user memory tables: writers apply commits, readers route). */
void tsps__rwlock_init_writer(pthread_rwlock_t *l);
/* verify.c: 0 (reason in why) when data.mdb is shorter than the pages the
 * meta page counts, which would fault on first access. */
int tsps__store_size_ok(const char *dir, MDB_env *env, char *why,
                        size_t whylen);
void tsps__logf(tsps_engine *eng, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tsps__mdb_err(int rc);

/* A write: fn runs inside a write txn; on MDB_MAP_FULL the map grows and fn
 * runs again. `config` != 0 bumps the configuration generation. */
typedef int (*tsps__write_fn)(tsps_engine *eng, MDB_txn *txn, void *arg);
int tsps__write(tsps_engine *eng, int config, tsps__write_fn fn, void *arg);
/* Grow the map (wlock held by the caller, no txn of ours active). */
int tsps__grow(tsps_engine *eng);
/* Read: begin a read txn (maplock shared held until tsps__read_end). */
int tsps__read_begin(tsps_engine *eng, MDB_txn **txn);
void tsps__read_end(tsps_engine *eng, MDB_txn *txn);
void tsps__bump_gen(tsps_engine *eng, MDB_txn *txn);
/* The configuration generation the store holds (eng->gen is it + 1). */
uint64_t tsps__stored_gen(tsps_engine *eng, MDB_txn *txn);

/* A read of one user's records: a read txn, the user's uid and a cursor on
 * database `dbi`. TSPS_ENOTFOUND if there is no such user; on any error
 * nothing stays open. tsps__user_read_end() closes it and returns the walk's
 * result: TSPS_OK when `mdb_rc` (the cursor's last answer) is MDB_SUCCESS
 * or MDB_NOTFOUND, its TSPS code otherwise. */
typedef struct tsps__user_read {
    MDB_txn *txn;
    MDB_cursor *cur;
    uint32_t uid;
} tsps__user_read;
int tsps__user_read_begin(tsps_engine *eng, const char *user_id, int dbi,
                          tsps__user_read *ur);
int tsps__user_read_end(tsps_engine *eng, tsps__user_read *ur, int mdb_rc);

/* Walk every record of a user (keys prefixed by the user's uid) in a
 * database, in a read txn: fn returns non-zero to stop. TSPS_ENOTFOUND if
 * the user does not exist. */
typedef int (*tsps__walk_fn)(void *arg, const MDB_val *k, const MDB_val *v);
int tsps__walk_user(tsps_engine *eng, int dbi, const char *user_id,
                    tsps__walk_fn fn, void *arg);

/* A growing text in a caller's buffer (snprintf semantics: the length goes
 * on counting past the end, so the needed size is known). */
typedef struct tsps__sb {
    char *buf;
    size_t cap, len;
} tsps__sb;
void tsps__sb_add(tsps__sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* TSPS_OK, or TSPS_ENOBUFS (buf set to ""); *needed = len + 1. */
int tsps__sb_done(tsps__sb *b, size_t *needed);

/* uid of a user id inside a txn; TSPS_ENOTFOUND if none. */
int tsps__uid(tsps_engine *eng, MDB_txn *txn, const char *user_id,
              uint32_t *uid);
int tsps__user_load(tsps_engine *eng, MDB_txn *txn, uint32_t uid, tsps_user *u);
int tsps__valid_id(const char *id);
int tsps__valid_code(const char *code, char out[TSPS_CODE_MAX]);

/* Readers and snapshots (snapshot.c). */
int tsps__reader_get(tsps_engine *eng, tsps__reader **out);
void tsps__reader_put(tsps_engine *eng, tsps__reader *r);
void tsps__reader_free(tsps_engine *eng, tsps__reader *r);
/* A reader's cursor, renewed on first use in this txn; NULL on error. */
MDB_cursor *tsps__reader_cursor(tsps__reader *r, int which);
/* End the kept txns of idle readers (after a write, before map growth). */
void tsps__readers_release(tsps_engine *eng);
void tsps__snap_release(tsps_engine *eng, tsps__snap *s);
const tsps__ucache *tsps__snap_user_by_name(const tsps__snap *s,
                                            const char *id);
const tsps__ucache *tsps__snap_user_by_number(const tsps__snap *s,
                                              uint64_t key);
/* The uid a number belongs to, UINT32_MAX if none. */
uint32_t tsps__snap_uid_by_number(const tsps__snap *s, uint64_t key);
const tsps_method *tsps__snap_rule(const tsps__snap *s, uint32_t uid,
                                   tsps_status st, const char *code);
/* The same through the user's own rule list where it has one. */
const tsps_method *tsps__snap_rule_of(const tsps__snap *s,
                                      const tsps__ucache *uc, tsps_status st,
                                      const char *code);
/* Start loading the head of each of the user's rules (route.c). */
void tsps__snap_rules_prefetch(const tsps__snap *s, const tsps__ucache *uc);

/* Rule precedence (rules.c). Tiers, best first; 0 = none. */
enum {
    TSPS__TIER_CODE_STATUS = 1, /* (code, status) */
    TSPS__TIER_CODE_ANY,        /* (code, any) */
    TSPS__TIER_ANY_STATUS,      /* (*, status) */
    TSPS__TIER_ANY_ANY          /* (*, any) */
};
typedef struct tsps__rule_choice {
    int tier;      /* the rule chosen */
    int over_tier; /* the next rule in the order that exists, 0 = none */
} tsps__rule_choice;
/* The rule for (code, status): the first of the four tiers that exists
 * (inline: it is on the routing path, once per call). */
static inline const tsps_method *
tsps__rule_pick(const tsps__snap *s, const tsps__ucache *uc, const char *code,
                tsps_status st, tsps__rule_choice *out)
{
    const tsps_method *m = NULL;
    /* Statuses the user has no rule for are not probed, nor "*" rules the
     * user does not have (the masks say so without a lookup). */
    int has_st = st != TSPS_STATUS_ANY && ((uc->rule_statuses >> st) & 1);
    int wild_st = has_st && ((uc->wild_statuses >> st) & 1);
    int wild_any = uc->wild_statuses & 1;
    int named = code[0] != '\0';

    out->tier = 0;
    out->over_tier = 0;
    if (named && has_st && (m = tsps__snap_rule_of(s, uc, st, code)) != NULL) {
        out->tier = TSPS__TIER_CODE_STATUS;
        /* the only rule below that needs a lookup to be known */
        if (tsps__snap_rule_of(s, uc, TSPS_STATUS_ANY, code) != NULL) {
            out->over_tier = TSPS__TIER_CODE_ANY;
            return m;
        }
    } else if (named &&
               (m = tsps__snap_rule_of(s, uc, TSPS_STATUS_ANY, code)) != NULL) {
        out->tier = TSPS__TIER_CODE_ANY;
    } else if (wild_st &&
               (m = tsps__snap_rule_of(s, uc, st, TSPS_CODE_ANY)) != NULL) {
        out->tier = TSPS__TIER_ANY_STATUS;
        out->over_tier = wild_any ? TSPS__TIER_ANY_ANY : 0;
        return m;
    } else if (wild_any && (m = tsps__snap_rule_of(s, uc, TSPS_STATUS_ANY,
                                                   TSPS_CODE_ANY)) != NULL) {
        out->tier = TSPS__TIER_ANY_ANY;
        return m;
    } else {
        return NULL;
    }
    /* chosen (code, ...): the next rule that exists is a "*" one */
    out->over_tier = wild_st    ? TSPS__TIER_ANY_STATUS
                     : wild_any ? TSPS__TIER_ANY_ANY
                                : 0;
    return m;
}

/* Why a rule of `tier` beats one of `over_tier`, in words (static). */
const char *tsps__tier_reason(int tier, int over_tier);
/* Bring stored rules to the current rule order (in the open's write txn). */
int tsps__rules_migrate(tsps_engine *eng, MDB_txn *txn);

/* Contacts/events inside a write txn (contacts.c), shared with batches. */
/* `defer` non-NULL (a batch): new index entries are queued in the batch
 * and inserted in key order by tsps__batch_flush(), which is much faster
 * for a bulk load than inserts in arrival order. */
int tsps__contact_put_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                          const tsps_user *u, const tsps_contact *c,
                          struct tsps_batch *defer);
int tsps__contact_del_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                          const char *cuid);
int tsps__event_put_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const tsps_event *e);
int tsps__event_del_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const char *euid);
/* Delete every key with this prefix in a DB. */
int tsps__del_prefix(MDB_txn *txn, MDB_dbi dbi, const void *prefix,
                     size_t plen);

/* A write batch (events.c); history.c appends calls through it too. */
struct tsps_batch {
    tsps_engine *eng;
    MDB_txn *txn;
    int failed;
    /* cache of the last user looked up */
    char user_id[TSPS_ID_MAX];
    uint32_t uid;
    tsps_user user;
    int config_dirty; /* a joined write changed the configuration */
    /* contact index entries waiting to be inserted in key order */
    struct tsps__ientry *defer;
    size_t ndefer, defer_cap;
    /* a cursor on DB_CONTACTS kept across the batch's puts: a bulk load's
     * keys arrive in order, and LMDB then finds each in the cursor's
     * current page instead of descending from the root */
    MDB_cursor *ccur;
};
struct tsps__ientry {
    uint8_t key[12];
    uint16_t vlen;
    uint8_t val[300];
};
/* Insert the queued index entries (sorted) into the batch's txn. Called
 * before anything that reads or deletes index entries, and at commit. */
int tsps__batch_flush(struct tsps_batch *b);
/* Record a storage failure (the txn may be unusable); returns rc. */
int tsps__batch_result(tsps_batch *b, int rc);

/* Events and registrations in memory (umem.c): per user one immutable
 * block. A piece of an event: its key (end, uid hash) and the head of its
 * value; `valid` 0 when the value is not one a route can read. */
typedef struct tsps__upiece {
    int64_t ce, start, end;
    uint64_t h;
    uint32_t text; /* valid: "summary\0uid\0" at bytes + text */
    uint8_t busy, cancelled, valid;
    uint8_t natt; /* attendees (none: no need to read the event) */
} tsps__upiece;
typedef struct tsps__ureg {
    uint32_t off, len; /* a registration's value in `bytes` */
} tsps__ureg;
typedef struct tsps__ublob {
    uint32_t nev, nreg;
    tsps__upiece *ev; /* in DB_EVENTS key order */
    tsps__ureg *reg;  /* in DB_REGS key order */
    uint8_t *bytes;
} tsps__ublob;
int tsps__umem_open(tsps_engine *eng);
void tsps__umem_close(tsps_engine *eng);
/* Writers mark each user whose events or registrations they change (all:
 * users not known one by one); commit rebuilds the marked users after a
 * successful commit, reset drops the marks. */
void tsps__uj_mark(tsps_engine *eng, uint32_t uid);
void tsps__uj_mark_all(tsps_engine *eng);
void tsps__uj_commit(tsps_engine *eng);
void tsps__uj_reset(tsps_engine *eng);
/* 1 with the table's read lock held and *out the user's block (NULL: none);
 * 0 without a lock when the table is not in use (read the store). */
int tsps__umem_begin(tsps_engine *eng, uint32_t uid, const tsps__ublob **out);
void tsps__umem_end(tsps_engine *eng);
/* Index of the first piece of `b` that ends after `after`. */
size_t tsps__umem_seek(const tsps__ublob *b, int64_t after);

/* The contact index in memory (cmem.c). Writers journal every DB_CIDX
 * change while their txn runs; tsps__cj_commit applies the journal after a
 * successful commit, tsps__cj_reset drops it after an abort, and a nested
 * txn rewinds to its mark when it is aborted. */
int tsps__cmem_open(tsps_engine *eng);
void tsps__cmem_close(tsps_engine *eng);
void tsps__cj_put(tsps_engine *eng, uint32_t uid, uint64_t key, const void *val,
                  size_t vlen);
void tsps__cj_del(tsps_engine *eng, uint32_t uid, uint64_t key, const void *val,
                  size_t vlen);
void tsps__cj_drop_user(tsps_engine *eng, uint32_t uid);
size_t tsps__cj_mark(tsps_engine *eng);
void tsps__cj_rewind(tsps_engine *eng, size_t mark);
void tsps__cj_commit(tsps_engine *eng);
void tsps__cj_reset(tsps_engine *eng);
/* A lookup in three steps, so that memory latency overlaps the route's
 * other work. begin takes the table's read lock and prefetches the slot
 * (0 and no lock when the table is not in use: read DB_CIDX); probe walks
 * the slots: count, agreement and the code, and prefetches the entries;
 * end reads the entries (probing first if needed) and drops the lock.
 * Every begin that returned 1 must be ended, on the same thread, and
 * nothing between may take the lock again. */
int tsps__cmem_begin(tsps_engine *eng, uint32_t uid, uint64_t key,
                     tsps__cview *v);
void tsps__cmem_probe(tsps__cview *v);
/* Start loading the slot of (uid, key) before the route knows for sure
 * that it will look there (a hint: no lock, nothing read). */
void tsps__cmem_hint(tsps_engine *eng, uint32_t uid, uint64_t key);
void tsps__cmem_end(tsps__cview *v, tsps__cidx_hit *hit);

/* Write trace step `at` of a decision (an index reserved earlier, or -1:
 * none) (route.c). */
void tsps__trace_at(tsps_decision *d, int at, tsps_step step,
                    tsps_trace_outcome oc, int n, int32_t arg, const char *what,
                    const char *found);

/* Lazy trace text (TSPS_CALL_TRACE_LAZY, route.c): where the text of a
 * step's what/found is to be found when it is rendered. In a pending
 * decision such a field holds "" followed by one byte, the source; a field
 * whose byte after the "" is 0 holds its text already. Each source is a
 * field of the decision that is final once the step is written, or a fixed
 * word. */
enum {
    TSPS__LZ_TEXT = 0,    /* the text itself was copied */
    TSPS__LZ_CALLED,      /* d->called */
    TSPS__LZ_USER,        /* d->user */
    TSPS__LZ_CALLER,      /* d->caller */
    TSPS__LZ_CALLER_NAME, /* d->caller_name */
    TSPS__LZ_CODE,        /* d->code */
    TSPS__LZ_RULE_CODE,   /* d->rule_code */
    TSPS__LZ_TARGET0,     /* d->targets[0].uri */
    TSPS__LZ_STATUS,      /* tsps_status_name(d->status) */
    TSPS__LZ_WORD = 16    /* + index into route.c's words */
};

/* tsps__trace_at with a source for each text: in a pending decision a
 * source other than TSPS__LZ_TEXT is recorded instead of the text (which
 * must be what the source renders to); otherwise the text is copied. */
void tsps__trace_lz(tsps_decision *d, int at, tsps_step step,
                    tsps_trace_outcome oc, int n, int32_t arg, int wsrc,
                    const char *what, int fsrc, const char *found);

/* Step 3, the caller's index entry (route_contact.c), looked up in the table
 * in memory in three steps so that memory latency overlaps other work: the
 * slot is prefetched before the calendar scan (begin), probed after it
 * (code: count, agreement and code, enough to pick the rule), and the entry
 * itself (name, contact uid) is read after the targets (end). Without the
 * table it is read from DB_CIDX at once, in begin. The trace step keeps its
 * place in the pipeline. Every begin must be ended. */
typedef struct tsps__contact_ref {
    int pending; /* table lookup begun (its read lock held), not ended */
    int tslot;   /* reserved trace index, -1 = none */
    tsps__cview v;
} tsps__contact_ref;
void tsps__contact_begin(tsps_engine *eng, tsps__reader *r,
                         const tsps__ucache *uc, tsps_decision *d,
                         tsps__contact_ref *cr);
void tsps__contact_code(tsps_engine *eng, tsps__reader *r,
                        const tsps__ucache *uc, tsps_decision *d,
                        tsps__contact_ref *cr);
void tsps__contact_end(tsps_engine *eng, tsps__reader *r,
                       const tsps__ucache *uc, tsps_decision *d,
                       tsps__contact_ref *cr);

/* Route helpers (route.c) used by history.c. */
int tsps__targets(tsps_engine *eng, tsps__reader *r, const tsps__ucache *uc,
                  int64_t now, tsps_decision *d);

/* The stored key of a contact uid given whole or as its key (contacts.c):
 * uid itself when stored so, else its tsps_uid_key() in key[]. */
const char *tsps__contact_lookup_uid(tsps_engine *eng, MDB_txn *txn,
                                     uint32_t user, const char *uid,
                                     char key[TSPS_UID_MAX]);

#endif

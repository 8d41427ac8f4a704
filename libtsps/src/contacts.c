/* Contacts (with the by-number index routing reads), calendar event
 * instances (stored in chunks keyed by end time) and write batches. */
#include <ctype.h>
#include <stdlib.h>

#include "internal.h"

/* ---- keys ---------------------------------------------------------------- */

static size_t contact_key(uint8_t *kb, uint32_t uid, const char *cuid)
{
    size_t n = strlen(cuid);
    tsps__be32(kb, uid);
    memcpy(kb + 4, cuid, n);
    return 4 + n;
}

static void cidx_key(uint8_t kb[12], uint32_t uid, uint64_t num)
{
    tsps__be32(kb, uid);
    tsps__be64(kb + 4, num);
}

/* Index value: src, code, name, contact uid — all routing needs. */
static size_t cidx_val(uint8_t *vb, const tsps_contact *c)
{
    size_t cl = strlen(c->code), nl = strlen(c->name), ul = strlen(c->uid);
    size_t o = 0;
    vb[o++] = (uint8_t)c->code_source;
    vb[o++] = (uint8_t)cl;
    memcpy(vb + o, c->code, cl);
    o += cl;
    vb[o++] = (uint8_t)nl;
    memcpy(vb + o, c->name, nl);
    o += nl;
    memcpy(vb + o, c->uid, ul);
    return o + ul;
}

static int valid_uid(const char *uid)
{
    size_t n;
    if (uid == NULL)
        return 0;
    n = strnlen(uid, TSPS_UID_MAX);
    return n > 0 && n < TSPS_UID_MAX;
}

/* A uid as the source wrote it may be longer than the field: lookups take
 * it whole (any length) and find the contact under its key. */
#define UID_LONG (TSPS_UID_MAX - 24) /* keys keep room for event suffixes */

static int valid_lookup_uid(const char *uid)
{
    return uid != NULL && uid[0] != '\0';
}

/* Content hash of the long-uid key (the one libcmsbridge used before the
 * key moved here: keys of stored contacts stay what they were). */
static uint64_t uid_hash(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h ^= w;
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int tsps_uid_key(const char *uid, size_t n, char out[TSPS_UID_MAX])
{
    static const char hex[] = "0123456789abcdef";
    size_t keep, o = 0;
    uint64_t h;

    if (out != NULL)
        out[0] = '\0';
    if (uid == NULL || out == NULL || n == 0 || memchr(uid, 0, n) != NULL)
        return TSPS_EINVAL;
    if (n < UID_LONG) {
        memcpy(out, uid, n + 1);
        return TSPS_OK;
    }
    /* first bytes (control characters as '_'), '~', 16 hex digits */
    keep = UID_LONG - 1 - 17;
    for (size_t i = 0; i < keep; i++)
        out[o++] = (unsigned char)uid[i] < 0x20 ? '_' : uid[i];
    h = uid_hash((const unsigned char *)uid, n);
    out[o++] = '~';
    for (int i = 15; i >= 0; i--)
        out[o++] = hex[(h >> (4 * i)) & 0xF];
    out[o] = '\0';
    return TSPS_OK;
}

/* The stored uid a lookup means: the uid itself when a contact has it,
 * else (a uid too long for the field, as its source wrote it) its key. */
const char *tsps__contact_lookup_uid(tsps_engine *eng, MDB_txn *txn,
                                     uint32_t user, const char *uid,
                                     char key[TSPS_UID_MAX])
{
    uint8_t kb[4 + TSPS_UID_MAX];
    MDB_val k, v;
    size_t n = strnlen(uid, TSPS_UID_MAX);

    if (n < TSPS_UID_MAX) {
        k.mv_size = 4 + n;
        k.mv_data = kb;
        tsps__be32(kb, user);
        memcpy(kb + 4, uid, n);
        if (n < UID_LONG ||
            mdb_get(txn, eng->dbi[DB_CONTACTS], &k, &v) == MDB_SUCCESS)
            return uid;
    }
    tsps_uid_key(uid, strlen(uid), key);
    return key;
}

/* ---- contacts ---------------------------------------------------------------
 */

void tsps_contact_init(tsps_contact *c)
{
    if (c == NULL)
        return;
    memset(c, 0, sizeof(*c));
    c->version = TSPS_CONTACT_VERSION;
}

static int load_contact(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                        const char *cuid, tsps_contact *c)
{
    uint8_t kb[4 + TSPS_UID_MAX];
    MDB_val k = {contact_key(kb, uid, cuid), kb}, v;
    int rc = mdb_get(txn, eng->dbi[DB_CONTACTS], &k, &v);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    return tsps__dec_contact(v.mv_data, v.mv_size, c);
}

static int unindex(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                   const tsps_contact *old)
{
    uint8_t kb[12], vb[512];
    for (int i = 0; i < old->nnumbers; i++) {
        uint64_t key = tsps__e164_key(old->numbers[i]);
        MDB_val k = {12, kb}, v;
        int rc;
        if (key == 0)
            continue;
        cidx_key(kb, uid, key);
        v.mv_size = cidx_val(vb, old);
        v.mv_data = vb;
        rc = mdb_del(txn, eng->dbi[DB_CIDX], &k, &v);
        if (rc == MDB_SUCCESS)
            tsps__cj_del(eng, uid, key, vb, v.mv_size);
        else if (rc != MDB_NOTFOUND)
            return tsps__mdb_err(rc);
    }
    return TSPS_OK;
}

int tsps__contact_del_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                          const char *cuid)
{
    tsps_contact old;
    uint8_t kb[4 + TSPS_UID_MAX];
    MDB_val k;
    int rc = load_contact(eng, txn, uid, cuid, &old);
    if (rc != TSPS_OK)
        return rc;
    rc = unindex(eng, txn, uid, &old);
    if (rc != TSPS_OK)
        return rc;
    k.mv_size = contact_key(kb, uid, cuid);
    k.mv_data = kb;
    return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_CONTACTS], &k, NULL));
}

/* Validate and normalise a contact for storage. */
static int prepare_contact(tsps_engine *eng, const tsps_user *u,
                           const tsps_contact *in, tsps_contact *c)
{
    char code[TSPS_CODE_MAX];
    uint8_t n = 0;

    if (in->version < 1 || in->version > TSPS_CONTACT_VERSION)
        return TSPS_EVERSION;
    *c = *in;
    if (!valid_uid(c->uid) ||
        strnlen(c->name, TSPS_NAME_MAX) == TSPS_NAME_MAX ||
        strnlen(c->org, TSPS_NAME_MAX) == TSPS_NAME_MAX ||
        strnlen(c->source, TSPS_SOURCE_MAX) == TSPS_SOURCE_MAX ||
        strnlen(c->code_detail, TSPS_DETAIL_MAX) == TSPS_DETAIL_MAX ||
        c->nnumbers > TSPS_MAX_NUMBERS || c->nemails > TSPS_MAX_EMAILS ||
        (unsigned)c->code_source >= TSPS_CODE_SRC__COUNT)
        return TSPS_EINVAL;
    if (c->code[0] != '\0') {
        if (!tsps__valid_code(c->code, code) || strcmp(code, "*") == 0)
            return TSPS_EINVAL;
        strcpy(c->code, code);
    }
    for (int i = 0; i < in->nnumbers; i++) {
        tsps_number num;
        int dup = 0;
        if (strnlen(in->numbers[i], sizeof(in->numbers[i])) ==
                sizeof(in->numbers[i]) ||
            tsps_normalize(in->numbers[i], &u->dialplan, &num) != TSPS_OK ||
            num.kind != TSPS_NUM_E164) {
            tsps__logf(eng, TSPS_LOG_WARN,
                       "msg=\"contact number not usable, dropped\" "
                       "contact=\"%.64s\"",
                       in->uid);
            continue;
        }
        for (int j = 0; j < n; j++)
            dup |= strcmp(c->numbers[j], num.e164) == 0;
        if (!dup)
            strcpy(c->numbers[n++], num.e164);
    }
    c->nnumbers = n;
    for (int i = 0; i < c->nemails; i++) {
        if (strnlen(c->emails[i], TSPS_EMAIL_MAX) == TSPS_EMAIL_MAX)
            return TSPS_EINVAL;
        for (char *p = c->emails[i]; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    return TSPS_OK;
}

static int defer_entry(struct tsps_batch *b, const uint8_t *key,
                       const uint8_t *val, size_t vlen)
{
    struct tsps__ientry *e;
    if (vlen > sizeof(e->val))
        return TSPS_EINVAL;
    if (b->ndefer == b->defer_cap) {
        size_t cap = b->defer_cap ? b->defer_cap * 2 : 1024;
        void *n = realloc(b->defer, cap * sizeof(*b->defer));
        if (n == NULL)
            return TSPS_ENOMEM;
        b->defer = n;
        b->defer_cap = cap;
    }
    e = &b->defer[b->ndefer++];
    memcpy(e->key, key, 12);
    e->vlen = (uint16_t)vlen;
    memcpy(e->val, val, vlen);
    return TSPS_OK;
}

static int cmp_ientry(const void *x, const void *y)
{
    const struct tsps__ientry *a = x, *b = y;
    int c = memcmp(a->key, b->key, 12);
    if (c != 0)
        return c;
    c = memcmp(a->val, b->val, a->vlen < b->vlen ? a->vlen : b->vlen);
    return c != 0 ? c : (int)a->vlen - (int)b->vlen;
}

int tsps__batch_flush(struct tsps_batch *b)
{
    int rc = TSPS_OK;
    if (b->ndefer == 0)
        return TSPS_OK;
    qsort(b->defer, b->ndefer, sizeof(*b->defer), cmp_ientry);
    for (size_t i = 0; i < b->ndefer && rc == TSPS_OK; i++) {
        MDB_val k = {12, b->defer[i].key};
        MDB_val v = {b->defer[i].vlen, b->defer[i].val};
        int mrc = mdb_put(b->txn, b->eng->dbi[DB_CIDX], &k, &v, MDB_NODUPDATA);
        if (mrc == MDB_SUCCESS)
            tsps__cj_put(b->eng, tsps__rd32(b->defer[i].key),
                         tsps__rd64(b->defer[i].key + 4), b->defer[i].val,
                         b->defer[i].vlen);
        else if (mrc != MDB_KEYEXIST)
            rc = tsps__mdb_err(mrc);
    }
    b->ndefer = 0;
    if (rc != TSPS_OK)
        b->failed = rc;
    return rc;
}

/* The stored contact through the batch's cursor (left on the key's page,
 * or where the key would go, for the put that follows). */
static int load_contact_cur(tsps_engine *eng, struct tsps_batch *b,
                            uint32_t uid, const char *cuid, tsps_contact *c)
{
    uint8_t kb[4 + TSPS_UID_MAX];
    MDB_val k = {contact_key(kb, uid, cuid), kb}, k0 = k, v;
    int rc;

    if (b->ccur == NULL) {
        rc = mdb_cursor_open(b->txn, eng->dbi[DB_CONTACTS], &b->ccur);
        if (rc != MDB_SUCCESS) {
            b->ccur = NULL;
            return tsps__mdb_err(rc);
        }
    }
    rc = mdb_cursor_get(b->ccur, &k, &v, MDB_SET_RANGE);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    if (k.mv_size != k0.mv_size || memcmp(k.mv_data, k0.mv_data, k0.mv_size))
        return TSPS_ENOTFOUND;
    return tsps__dec_contact(v.mv_data, v.mv_size, c);
}

int tsps__contact_put_txn(tsps_engine *eng, MDB_txn *txn, uint32_t uid,
                          const tsps_user *u, const tsps_contact *in,
                          struct tsps_batch *defer)
{
    tsps_contact c, old;
    uint8_t kb[4 + TSPS_UID_MAX], vb[8192], ib[512];
    tsps__wbuf w = {vb, sizeof(vb), 0, 0};
    MDB_val k, v;
    int rc = prepare_contact(eng, u, in, &c);

    if (rc != TSPS_OK)
        return rc;
    rc = defer != NULL && txn == defer->txn
             ? load_contact_cur(eng, defer, uid, c.uid, &old)
             : load_contact(eng, txn, uid, c.uid, &old);
    if (rc == TSPS_OK && defer != NULL)
        rc = tsps__batch_flush(defer); /* the old entries may be queued */
    if (rc == TSPS_OK)
        rc = unindex(eng, txn, uid, &old);
    else if (rc == TSPS_ENOTFOUND)
        rc = TSPS_OK;
    if (rc != TSPS_OK)
        return rc;
    tsps__enc_contact(&w, &c);
    if (w.overflow)
        return TSPS_EINVAL;
    k.mv_size = contact_key(kb, uid, c.uid);
    k.mv_data = kb;
    v.mv_size = w.len;
    v.mv_data = vb;
    rc = defer != NULL && defer->ccur != NULL && txn == defer->txn
             ? mdb_cursor_put(defer->ccur, &k, &v, 0)
             : mdb_put(txn, eng->dbi[DB_CONTACTS], &k, &v, 0);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    for (int i = 0; i < c.nnumbers; i++) {
        uint8_t ck[12];
        MDB_val k2 = {12, ck}, v2 = {cidx_val(ib, &c), ib};
        cidx_key(ck, uid, tsps__e164_key(c.numbers[i]));
        if (defer != NULL) {
            rc = defer_entry(defer, ck, ib, v2.mv_size);
            if (rc != TSPS_OK)
                return rc;
            continue;
        }
        rc = mdb_put(txn, eng->dbi[DB_CIDX], &k2, &v2, MDB_NODUPDATA);
        if (rc == MDB_SUCCESS)
            tsps__cj_put(eng, uid, tsps__e164_key(c.numbers[i]), ib,
                         v2.mv_size);
        else if (rc != MDB_KEYEXIST)
            return tsps__mdb_err(rc);
    }
    return TSPS_OK;
}

struct contact_arg {
    const char *user_id;
    const tsps_contact *c;
    const char *cuid;
    const char *code;
    tsps_code_source src;
};

static int contact_put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct contact_arg *a = arg;
    tsps_user u;
    uint32_t uid;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    if (rc == TSPS_OK)
        rc = tsps__user_load(eng, txn, uid, &u);
    if (rc == TSPS_OK)
        rc = tsps__contact_put_txn(eng, txn, uid, &u, a->c, NULL);
    return rc;
}

int tsps_contact_put(tsps_engine *eng, const char *user_id,
                     const tsps_contact *c)
{
    struct contact_arg a = {user_id, c, NULL, NULL, 0};
    if (eng == NULL || c == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, contact_put_fn, &a);
}

static int contact_del_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct contact_arg *a = arg;
    char key[TSPS_UID_MAX];
    uint32_t uid;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    return rc == TSPS_OK
               ? tsps__contact_del_txn(
                     eng, txn, uid,
                     tsps__contact_lookup_uid(eng, txn, uid, a->cuid, key))
               : rc;
}

int tsps_contact_delete(tsps_engine *eng, const char *user_id, const char *uid)
{
    struct contact_arg a = {user_id, NULL, uid, NULL, 0};
    if (eng == NULL || !tsps__valid_id(user_id) || !valid_lookup_uid(uid))
        return TSPS_EINVAL;
    return tsps__write(eng, 0, contact_del_fn, &a);
}

static int contact_code_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct contact_arg *a = arg;
    tsps_contact c;
    tsps_user u;
    char key[TSPS_UID_MAX];
    uint32_t uid;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);
    if (rc == TSPS_OK)
        rc = tsps__user_load(eng, txn, uid, &u);
    if (rc == TSPS_OK)
        rc = load_contact(eng, txn, uid,
                          tsps__contact_lookup_uid(eng, txn, uid, a->cuid, key),
                          &c);
    if (rc != TSPS_OK)
        return rc;
    strcpy(c.code, a->code);
    c.code_source = a->code[0] != '\0' ? a->src : TSPS_CODE_SRC_NONE;
    c.code_detail[0] = '\0';
    return tsps__contact_put_txn(eng, txn, uid, &u, &c, NULL);
}

int tsps_contact_set_code(tsps_engine *eng, const char *user_id,
                          const char *uid, const char *code,
                          tsps_code_source src)
{
    struct contact_arg a = {user_id, NULL, uid, code, src};
    char tmp[TSPS_CODE_MAX];
    if (eng == NULL || !tsps__valid_id(user_id) || !valid_lookup_uid(uid) ||
        code == NULL || (code[0] != '\0' && !tsps__valid_code(code, tmp)) ||
        (unsigned)src >= TSPS_CODE_SRC__COUNT)
        return TSPS_EINVAL;
    if (src == TSPS_CODE_SRC_NONE)
        a.src = TSPS_CODE_SRC_MANUAL;
    return tsps__write(eng, 0, contact_code_fn, &a);
}

int tsps_contact_get(tsps_engine *eng, const char *user_id, const char *uid,
                     tsps_contact *out)
{
    MDB_txn *txn = NULL;
    uint32_t u;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || out == NULL || !tsps__valid_id(user_id) ||
        !valid_lookup_uid(uid))
        return TSPS_EINVAL;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = tsps__uid(eng, txn, user_id, &u);
    if (rc == TSPS_OK) {
        char key[TSPS_UID_MAX];
        rc = load_contact(eng, txn, u,
                          tsps__contact_lookup_uid(eng, txn, u, uid, key), out);
    }
    tsps__read_end(eng, txn);
    return rc;
}

static int icontains(const char *hay, const char *needle)
{
    return needle[0] == '\0' || strcasestr(hay, needle) != NULL;
}

static int contact_matches(const tsps_contact *c, const char *q)
{
    if (q == NULL || q[0] == '\0')
        return 1;
    if (icontains(c->name, q) || icontains(c->org, q) || icontains(c->code, q))
        return 1;
    for (int i = 0; i < c->nemails; i++)
        if (icontains(c->emails[i], q))
            return 1;
    for (int i = 0; i < c->nnumbers; i++)
        if (strstr(c->numbers[i], q) != NULL)
            return 1;
    return 0;
}

struct contact_walk {
    const char *query;
    tsps_contact_cb cb;
    void *arg;
    tsps_contact c;
};

static int contact_walk_fn(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct contact_walk *w = arg;
    (void)k;
    if (tsps__dec_contact(v->mv_data, v->mv_size, &w->c) != TSPS_OK ||
        !contact_matches(&w->c, w->query))
        return 0;
    return w->cb(w->arg, &w->c);
}

int tsps_contact_list(tsps_engine *eng, const char *user_id, const char *query,
                      tsps_contact_cb cb, void *arg)
{
    struct contact_walk *w;
    int rc;

    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    w = tsps__malloc(eng, sizeof(*w));
    if (w == NULL)
        return TSPS_ENOMEM;
    w->query = query;
    w->cb = cb;
    w->arg = arg;
    rc = tsps__walk_user(eng, DB_CONTACTS, user_id, contact_walk_fn, w);
    tsps__free(eng, w);
    return rc;
}

int tsps_contact_find_number(tsps_engine *eng, const char *user_id,
                             const char *number, tsps_contact_cb cb, void *arg)
{
    tsps__user_read ur;
    MDB_val k, v;
    uint8_t kb[12];
    tsps_user u;
    tsps_number num;
    int rc;

    if (eng == NULL || cb == NULL || number == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    rc = tsps__user_read_begin(eng, user_id, DB_CIDX, &ur);
    if (rc != TSPS_OK)
        return rc;
    rc = tsps__user_load(eng, ur.txn, ur.uid, &u);
    if (rc == TSPS_OK &&
        (tsps_normalize(number, &u.dialplan, &num) != TSPS_OK ||
         num.kind != TSPS_NUM_E164))
        rc = TSPS_ENUMBER;
    if (rc != TSPS_OK) {
        tsps__user_read_end(eng, &ur, MDB_SUCCESS);
        return rc;
    }
    cidx_key(kb, ur.uid, tsps__e164_key(num.e164));
    k.mv_size = 12;
    k.mv_data = kb;
    rc = mdb_cursor_get(ur.cur, &k, &v, MDB_SET_KEY);
    while (rc == MDB_SUCCESS) {
        tsps__cidx_parts f;
        char cuid[TSPS_UID_MAX];
        tsps_contact c;
        if (tsps__cidx_split(v.mv_data, v.mv_size, &f) == 0 && f.ul > 0) {
            memcpy(cuid, f.uid, f.ul);
            cuid[f.ul] = '\0';
            if (load_contact(eng, ur.txn, ur.uid, cuid, &c) == TSPS_OK &&
                cb(arg, &c) != 0)
                break;
        }
        rc = mdb_cursor_get(ur.cur, &k, &v, MDB_NEXT_DUP);
    }
    return tsps__user_read_end(eng, &ur, rc);
}

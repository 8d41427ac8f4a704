/* Users, their public numbers, code rules and manual status. */
#include <ctype.h>
#include <stdlib.h>

#include "internal.h"

int tsps__valid_id(const char *id)
{
    size_t n;
    if (id == NULL)
        return 0;
    n = strnlen(id, TSPS_ID_MAX);
    if (n == 0 || n >= TSPS_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-' ||
              c == '@'))
            return 0;
    }
    return 1;
}

int tsps__valid_code(const char *code, char out[TSPS_CODE_MAX])
{
    size_t n;
    if (code == NULL)
        return 0;
    n = strnlen(code, TSPS_CODE_MAX);
    if (n == 0 || n >= TSPS_CODE_MAX)
        return 0;
    if (n == 1 && code[0] == '*') {
        strcpy(out, "*");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)code[i];
        if (!(isalnum(c) || c == '_' || c == '-'))
            return 0;
        out[i] = (char)toupper(c);
    }
    out[n] = '\0';
    return 1;
}

void tsps_user_init(tsps_user *u)
{
    if (u == NULL)
        return;
    memset(u, 0, sizeof(*u));
    u->version = TSPS_USER_VERSION;
    strcpy(u->tz, "UTC");
    for (int d = 1; d <= 5; d++) {
        u->hours.range[d][0][0] = 9 * 60;
        u->hours.range[d][0][1] = 17 * 60;
    }
    strcpy(u->unknown_code, "UNKNOWN");
    strcpy(u->withheld_code, "WITHHELD");
    u->expected_window_s = 900;
    u->flags = TSPS_USER_EXPECTED_RINGS_THROUGH;
}

int tsps__uid(tsps_engine *eng, MDB_txn *txn, const char *user_id,
              uint32_t *uid)
{
    MDB_val k = {strlen(user_id), (void *)user_id}, v;
    int rc = mdb_get(txn, eng->dbi[DB_UNAMES], &k, &v);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    if (v.mv_size != 4)
        return TSPS_ESTORE;
    *uid = tsps__rd32(v.mv_data);
    return TSPS_OK;
}

int tsps__user_load(tsps_engine *eng, MDB_txn *txn, uint32_t uid, tsps_user *u)
{
    MDB_val k = {sizeof(uid), &uid}, v;
    int rc = mdb_get(txn, eng->dbi[DB_USERS], &k, &v);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    return tsps__dec_user(v.mv_data, v.mv_size, u);
}

static int check_user(const tsps_user *in, tsps_user *u)
{
    tsps_dialplan dp;
    char code[TSPS_CODE_MAX];
    int rc;

    if (in->version < 1 || in->version > TSPS_USER_VERSION)
        return TSPS_EVERSION;
    *u = *in;
    if (!tsps__valid_id(u->id) ||
        strnlen(u->display_name, TSPS_NAME_MAX) == TSPS_NAME_MAX)
        return TSPS_EINVAL;
    rc = tsps_dialplan_for_region(u->dialplan.region, &dp);
    if (rc != TSPS_OK)
        return rc;
    if (u->dialplan.cc[0] == '\0')
        u->dialplan = dp;
    strcpy(u->dialplan.region, dp.region);
    if (u->tz[0] == '\0')
        strcpy(u->tz, "UTC");
    if (strnlen(u->tz, TSPS_TZ_MAX) == TSPS_TZ_MAX || !tsps__tz_valid(u->tz))
        return TSPS_ETZ;
    if (u->unknown_code[0] == '\0')
        strcpy(u->unknown_code, "UNKNOWN");
    if (u->withheld_code[0] == '\0')
        strcpy(u->withheld_code, "WITHHELD");
    if (!tsps__valid_code(u->unknown_code, code))
        return TSPS_EINVAL;
    strcpy(u->unknown_code, code);
    if (!tsps__valid_code(u->withheld_code, code))
        return TSPS_EINVAL;
    strcpy(u->withheld_code, code);
    if (strnlen(u->attendant_uri, TSPS_URI_MAX) == TSPS_URI_MAX ||
        strnlen(u->voicemail_uri, TSPS_URI_MAX) == TSPS_URI_MAX)
        return TSPS_EINVAL;
    for (int d = 0; d < 7; d++)
        for (int r = 0; r < 2; r++)
            if (u->hours.range[d][r][0] > u->hours.range[d][r][1] ||
                u->hours.range[d][r][1] > 24 * 60)
                return TSPS_EINVAL;
    tsps__user_fold_no_hours(u);
    return TSPS_OK;
}

static int user_put_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    const tsps_user *u = arg;
    uint8_t buf[2048];
    tsps__wbuf w = {buf, sizeof(buf), 0, 0};
    uint32_t uid;
    int rc = tsps__uid(eng, txn, u->id, &uid);
    MDB_val k, v;

    if (rc == TSPS_ENOTFOUND) {
        uint8_t b[4];
        MDB_val mk = {7, "nextuid"}, mv;
        uid = 1;
        if (mdb_get(txn, eng->dbi[DB_META], &mk, &mv) == MDB_SUCCESS &&
            mv.mv_size == 4)
            uid = tsps__rd32(mv.mv_data);
        tsps__be32(b, uid + 1);
        mv.mv_size = 4;
        mv.mv_data = b;
        rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_META], &mk, &mv, 0));
        if (rc != TSPS_OK)
            return rc;
        tsps__be32(b, uid);
        k.mv_size = strlen(u->id);
        k.mv_data = (void *)u->id;
        rc = tsps__mdb_err(mdb_put(txn, eng->dbi[DB_UNAMES], &k, &mv, 0));
    }
    if (rc != TSPS_OK)
        return rc;
    tsps__enc_user(&w, u);
    if (w.overflow)
        return TSPS_EINVAL;
    k.mv_size = sizeof(uid);
    k.mv_data = &uid;
    v.mv_size = w.len;
    v.mv_data = buf;
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_USERS], &k, &v, 0));
}

int tsps_user_put(tsps_engine *eng, const tsps_user *in)
{
    tsps_user u;
    int rc;
    if (eng == NULL || in == NULL)
        return TSPS_EINVAL;
    rc = check_user(in, &u);
    if (rc != TSPS_OK)
        return rc;
    return tsps__write(eng, 1, user_put_fn, &u);
}

int tsps_user_get(tsps_engine *eng, const char *id, tsps_user *out)
{
    MDB_txn *txn = NULL;
    uint32_t uid;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || out == NULL || !tsps__valid_id(id))
        return TSPS_EINVAL;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = tsps__uid(eng, txn, id, &uid);
    if (rc == TSPS_OK)
        rc = tsps__user_load(eng, txn, uid, out);
    tsps__read_end(eng, txn);
    return rc;
}

static int del_numbers_of(tsps_engine *eng, MDB_txn *txn, uint32_t uid)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, eng->dbi[DB_NUMBERS], &cur);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        if (v.mv_size == 4 && tsps__rd32(v.mv_data) == uid) {
            rc = mdb_cursor_del(cur, 0);
            if (rc != MDB_SUCCESS)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == MDB_SUCCESS)
                continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
}

static int user_del_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    const char *id = arg;
    static const int prefixed[] = {DB_CONTACTS, DB_CIDX,  DB_CODES,
                                   DB_EVENTS,   DB_EVUID, DB_REGS};
    uint32_t uid;
    uint8_t pfx[4];
    MDB_val k;
    int rc = tsps__uid(eng, txn, id, &uid);

    if (rc != TSPS_OK)
        return rc;
    tsps__be32(pfx, uid);
    for (size_t i = 0; i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
        rc = tsps__del_prefix(txn, eng->dbi[prefixed[i]], pfx, 4);
        if (rc != TSPS_OK)
            return rc;
    }
    tsps__cj_drop_user(eng, uid);
    tsps__uj_mark(eng, uid);
    rc = del_numbers_of(eng, txn, uid);
    if (rc != TSPS_OK)
        return rc;
    k.mv_size = sizeof(uid);
    k.mv_data = &uid;
    mdb_del(txn, eng->dbi[DB_STATUS], &k, NULL);
    rc = mdb_del(txn, eng->dbi[DB_USERS], &k, NULL);
    if (rc != MDB_SUCCESS)
        return tsps__mdb_err(rc);
    k.mv_size = strlen(id);
    k.mv_data = (void *)id;
    return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_UNAMES], &k, NULL));
}

int tsps_user_delete(tsps_engine *eng, const char *id)
{
    if (eng == NULL || !tsps__valid_id(id))
        return TSPS_EINVAL;
    return tsps__write(eng, 1, user_del_fn, (void *)id);
}

int tsps_user_list(tsps_engine *eng, tsps_user_cb cb, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    tsps_user u;
    int rc;

    if (eng == NULL || cb == NULL)
        return TSPS_EINVAL;
    rc = tsps__read_begin(eng, &txn);
    if (rc != TSPS_OK)
        return rc;
    rc = mdb_cursor_open(txn, eng->dbi[DB_UNAMES], &cur);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        if (v.mv_size == 4 &&
            tsps__user_load(eng, txn, tsps__rd32(v.mv_data), &u) == TSPS_OK &&
            cb(arg, &u) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    tsps__read_end(eng, txn);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? TSPS_OK
                                                   : tsps__mdb_err(rc);
}

/* ---- numbers ----------------------------------------------------------------
 */

struct num_arg {
    const char *user_id;
    const char *number;
    uint64_t key;
};

static int number_add_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct num_arg *a = arg;
    tsps_user u;
    tsps_number num;
    uint32_t uid;
    uint8_t kb[8], vb[4];
    MDB_val k = {8, kb}, v;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);

    if (rc != TSPS_OK)
        return rc;
    rc = tsps__user_load(eng, txn, uid, &u);
    if (rc != TSPS_OK)
        return rc;
    rc = tsps_normalize(a->number, &u.dialplan, &num);
    if (rc != TSPS_OK || num.kind != TSPS_NUM_E164)
        return TSPS_ENUMBER;
    tsps__be64(kb, tsps__e164_key(num.e164));
    rc = mdb_get(txn, eng->dbi[DB_NUMBERS], &k, &v);
    if (rc == MDB_SUCCESS)
        return v.mv_size == 4 && tsps__rd32(v.mv_data) == uid ? TSPS_OK
                                                              : TSPS_EEXIST;
    tsps__be32(vb, uid);
    v.mv_size = 4;
    v.mv_data = vb;
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_NUMBERS], &k, &v, 0));
}

int tsps_number_add(tsps_engine *eng, const char *user_id, const char *number)
{
    struct num_arg a = {user_id, number, 0};
    if (eng == NULL || !tsps__valid_id(user_id) || number == NULL)
        return TSPS_EINVAL;
    return tsps__write(eng, 1, number_add_fn, &a);
}

static int number_remove_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct num_arg *a = arg;
    uint8_t kb[8];
    MDB_val k = {8, kb};
    tsps__be64(kb, a->key);
    return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_NUMBERS], &k, NULL));
}

int tsps_number_remove(tsps_engine *eng, const char *e164)
{
    struct num_arg a = {NULL, e164, tsps__e164_key(e164)};
    if (eng == NULL || e164 == NULL)
        return TSPS_EINVAL;
    if (a.key == 0)
        return TSPS_ENUMBER;
    return tsps__write(eng, 1, number_remove_fn, &a);
}

int tsps_number_lookup(tsps_engine *eng, const char *e164,
                       char user_id[TSPS_ID_MAX])
{
    tsps__reader *r = NULL;
    const tsps__ucache *uc;
    uint64_t key = tsps__e164_key(e164);
    int rc;

    if (user_id != NULL)
        user_id[0] = '\0';
    if (eng == NULL || e164 == NULL || user_id == NULL)
        return TSPS_EINVAL;
    if (key == 0)
        return TSPS_ENUMBER;
    rc = tsps__reader_get(eng, &r);
    if (rc != TSPS_OK)
        return rc;
    uc = tsps__snap_user_by_number(r->snap, key);
    if (uc == NULL)
        rc = TSPS_ENOTFOUND;
    else
        strcpy(user_id, uc->user.id);
    tsps__reader_put(eng, r);
    return rc;
}

int tsps_number_list(tsps_engine *eng, const char *user_id, tsps_number_cb cb,
                     void *arg)
{
    tsps__user_read ur;
    MDB_val k, v;
    char e164[TSPS_E164_MAX];
    int rc;

    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    rc = tsps__user_read_begin(eng, user_id, DB_NUMBERS, &ur);
    if (rc != TSPS_OK)
        return rc;
    rc = mdb_cursor_get(ur.cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        if (k.mv_size == 8 && v.mv_size == 4 &&
            tsps__rd32(v.mv_data) == ur.uid) {
            tsps__e164_from_key(tsps__rd64(k.mv_data), e164);
            if (cb(arg, e164) != 0)
                break;
        }
        rc = mdb_cursor_get(ur.cur, &k, &v, MDB_NEXT);
    }
    return tsps__user_read_end(eng, &ur, rc);
}

/* ---- code rules
 * --------------------------------------------------------------- */

struct code_arg {
    const char *user_id;
    char code[TSPS_CODE_MAX];
    tsps_status st;
    const tsps_method *m;
};

static size_t code_key(uint8_t *kb, uint32_t uid, tsps_status st,
                       const char *code)
{
    size_t n = strlen(code);
    tsps__be32(kb, uid);
    kb[4] = (uint8_t)st;
    memcpy(kb + 5, code, n);
    return 5 + n;
}

static int code_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct code_arg *a = arg;
    uint8_t kb[64], vb[1024];
    tsps__wbuf w = {vb, sizeof(vb), 0, 0};
    uint32_t uid;
    MDB_val k, v;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);

    if (rc != TSPS_OK)
        return rc;
    k.mv_size = code_key(kb, uid, a->st, a->code);
    k.mv_data = kb;
    if (a->m == NULL)
        return tsps__mdb_err(mdb_del(txn, eng->dbi[DB_CODES], &k, NULL));
    tsps__enc_method(&w, a->m);
    if (w.overflow)
        return TSPS_EINVAL;
    v.mv_size = w.len;
    v.mv_data = vb;
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_CODES], &k, &v, 0));
}

static int code_args(const char *user_id, const char *code, tsps_status st,
                     struct code_arg *a)
{
    if (!tsps__valid_id(user_id) || !tsps__valid_code(code, a->code) ||
        (int)st < 0 || st >= TSPS_STATUS__COUNT)
        return TSPS_EINVAL;
    a->user_id = user_id;
    a->st = st;
    return TSPS_OK;
}

int tsps_code_set(tsps_engine *eng, const char *user_id, const char *code,
                  tsps_status st, const tsps_method *m)
{
    struct code_arg a;
    char text[1024];
    tsps_method chk;

    if (eng == NULL || m == NULL || code_args(user_id, code, st, &a) != 0)
        return TSPS_EINVAL;
    /* A method must survive its own text form: that keeps stored rules
     * explainable and editable. */
    if (m->kind == TSPS_METHOD_NONE || m->kind >= TSPS_METHOD__COUNT ||
        tsps_method_format(m, text, sizeof(text), NULL) != TSPS_OK ||
        tsps_method_parse(text, &chk, NULL, 0) != TSPS_OK)
        return TSPS_EINVAL;
    a.m = m;
    return tsps__write(eng, 1, code_fn, &a);
}

int tsps_code_delete(tsps_engine *eng, const char *user_id, const char *code,
                     tsps_status st)
{
    struct code_arg a;
    if (eng == NULL || code_args(user_id, code, st, &a) != 0)
        return TSPS_EINVAL;
    a.m = NULL;
    return tsps__write(eng, 1, code_fn, &a);
}

int tsps_code_get(tsps_engine *eng, const char *user_id, const char *code,
                  tsps_status st, tsps_method *out)
{
    tsps__reader *r = NULL;
    const tsps__ucache *uc;
    const tsps_method *m;
    struct code_arg a;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (eng == NULL || out == NULL || code_args(user_id, code, st, &a) != 0)
        return TSPS_EINVAL;
    rc = tsps__reader_get(eng, &r);
    if (rc != TSPS_OK)
        return rc;
    uc = tsps__snap_user_by_name(r->snap, user_id);
    m = uc != NULL ? tsps__snap_rule(r->snap, uc->uid, st, a.code) : NULL;
    if (m != NULL)
        *out = *m;
    tsps__reader_put(eng, r);
    return m != NULL ? TSPS_OK : TSPS_ENOTFOUND;
}

struct code_walk {
    tsps_code_cb cb;
    void *arg;
};

static int code_walk_fn(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct code_walk *w = arg;
    char code[TSPS_CODE_MAX];
    tsps_method m;
    tsps__rbuf rb = {v->mv_data, v->mv_size, 0, 0};
    size_t n = k->mv_size > 5 ? k->mv_size - 5 : 0;

    if (n == 0 || n >= TSPS_CODE_MAX)
        return 0;
    memcpy(code, (uint8_t *)k->mv_data + 5, n);
    code[n] = '\0';
    tsps__dec_method(&rb, &m);
    if (rb.bad)
        return 0;
    return w->cb(w->arg, code, (tsps_status)((uint8_t *)k->mv_data)[4], &m);
}

int tsps_code_list(tsps_engine *eng, const char *user_id, tsps_code_cb cb,
                   void *arg)
{
    struct code_walk w = {cb, arg};
    if (eng == NULL || cb == NULL || !tsps__valid_id(user_id))
        return TSPS_EINVAL;
    return tsps__walk_user(eng, DB_CODES, user_id, code_walk_fn, &w);
}

/* ---- manual status
 * ------------------------------------------------------------- */

struct status_arg {
    const char *user_id;
    tsps_status st;
    int64_t until;
    const char *note;
};

static int status_fn(tsps_engine *eng, MDB_txn *txn, void *arg)
{
    struct status_arg *a = arg;
    uint8_t vb[256];
    tsps__wbuf w = {vb, sizeof(vb), 0, 0};
    uint32_t uid;
    MDB_val k, v;
    int rc = tsps__uid(eng, txn, a->user_id, &uid);

    if (rc != TSPS_OK)
        return rc;
    k.mv_size = sizeof(uid);
    k.mv_data = &uid;
    if (a->st == TSPS_STATUS_ANY) {
        rc = mdb_del(txn, eng->dbi[DB_STATUS], &k, NULL);
        return rc == MDB_NOTFOUND ? TSPS_OK : tsps__mdb_err(rc);
    }
    tsps__w8(&w, 1);
    tsps__w8(&w, (uint8_t)a->st);
    tsps__w64(&w, (uint64_t)a->until);
    tsps__wstr(&w, a->note);
    v.mv_size = w.len;
    v.mv_data = vb;
    return tsps__mdb_err(mdb_put(txn, eng->dbi[DB_STATUS], &k, &v, 0));
}

int tsps_status_set(tsps_engine *eng, const char *user_id, tsps_status st,
                    int64_t until, const char *note)
{
    struct status_arg a = {user_id, st, until, note};
    if (eng == NULL || !tsps__valid_id(user_id) || (int)st < 0 ||
        st >= TSPS_STATUS__COUNT || until < 0 ||
        (note != NULL && strnlen(note, TSPS_DETAIL_MAX) == TSPS_DETAIL_MAX))
        return TSPS_EINVAL;
    return tsps__write(eng, 1, status_fn, &a);
}

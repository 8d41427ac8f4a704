/* cmsb_sync(): a source's changes into the libtsps store, in batches whose
 * cursor commits with the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* What the adapter handed over, kept until it is written. The store's
 * write lock is taken only to write what is staged: an adapter may take
 * seconds between two records (a slow server, a large file), and a write
 * transaction held open across that would stall every other writer of the
 * engine, the call path's history and bindings first of all. */
typedef enum {
    OP_CONTACT_PUT,
    OP_CONTACT_DELETE,
    OP_EVENT_PUT,
    OP_EVENT_DELETE,
    OP_CURSOR
} op_kind;

typedef struct staged_op {
    op_kind kind;
    union {
        tsps_contact c;
        tsps_event e;
        char uid[TSPS_UID_MAX];
        char *cursor; /* OP_CURSOR, owned */
    } u;
} staged_op;

typedef struct sync_ctx {
    cmsb_source *src;
    tsps_engine *eng;
    const char *user, *name;
    char key[TSPS_ID_MAX + TSPS_SOURCE_MAX + 16];
    staged_op *ops;    /* staged, in the adapter's order */
    size_t nops, cap;  /* staged entries, allocated entries */
    size_t pending;    /* staged data writes (not cursors) */
    size_t dirty;      /* entries of any kind since the last flush */
    int clear;         /* the next flush first clears the source */
    size_t limit;      /* staged entries that force a flush; 0 = none */
    const char *since; /* the stored cursor this sync started from */
    int err;           /* first fatal error, CMSB_E* */
    cmsb_sync_stats st;
} sync_ctx;

int cmsb_cursor_key(const char *user_id, const char *source_name, char *buf,
                    size_t buflen)
{
    int n;

    if (user_id == NULL || source_name == NULL || buf == NULL ||
        user_id[0] == '\0' || source_name[0] == '\0' ||
        strlen(user_id) >= TSPS_ID_MAX ||
        strlen(source_name) >= TSPS_SOURCE_MAX)
        return CMSB_EINVAL;
    n = snprintf(buf, buflen, "cmsb/%s/%s", user_id, source_name);
    if (n < 0 || (size_t)n >= buflen)
        return CMSB_EINVAL;
    return CMSB_OK;
}

static int map_tsps(int rc)
{
    switch (rc) {
    case TSPS_OK:
        return CMSB_OK;
    case TSPS_ENOMEM:
        return CMSB_ENOMEM;
    case TSPS_EINVAL:
        return CMSB_EINVAL;
    default:
        return CMSB_ESTORE;
    }
}

static void drop_staged(sync_ctx *s)
{
    for (size_t i = 0; i < s->nops; i++)
        if (s->ops[i].kind == OP_CURSOR)
            free(s->ops[i].u.cursor);
    s->nops = 0;
    s->pending = 0;
}

/* A write the engine refused for this record only (bad field) is counted
 * and skipped; anything else ends the sync. */
static int note_write(sync_ctx *s, int rc, const char *what, const char *uid)
{
    if (rc == TSPS_OK)
        return 0;
    cmsb_source_log(s->src, rc == TSPS_EINVAL ? TSPS_LOG_WARN : TSPS_LOG_ERROR,
                    "msg=\"sync: %s refused\" source=%s uid=\"%.80s\" err=%s",
                    what, s->name, uid, tsps_errname(rc));
    if (rc == TSPS_EINVAL) {
        s->st.errors++;
        return 0;
    }
    return map_tsps(rc);
}

static int apply_op(sync_ctx *s, tsps_batch *b, staged_op *op)
{
    int rc;

    switch (op->kind) {
    case OP_CONTACT_PUT:
        rc = note_write(s, tsps_batch_contact_put(b, s->user, &op->u.c),
                        "contact", op->u.c.uid);
        if (rc == CMSB_OK)
            s->st.contacts_put++;
        return rc;
    case OP_EVENT_PUT:
        rc = note_write(s, tsps_batch_event_put(b, s->user, &op->u.e), "event",
                        op->u.e.uid);
        if (rc == CMSB_OK)
            s->st.events_put++;
        return rc;
    case OP_CONTACT_DELETE:
        rc = note_write(s, tsps_batch_contact_delete(b, s->user, op->u.uid),
                        "contact delete", op->u.uid);
        if (rc == CMSB_OK)
            s->st.contacts_deleted++;
        return rc;
    case OP_EVENT_DELETE:
        rc = note_write(s, tsps_batch_event_delete(b, s->user, op->u.uid),
                        "event delete", op->u.uid);
        if (rc == CMSB_OK)
            s->st.events_deleted++;
        return rc;
    case OP_CURSOR:
        return map_tsps(tsps_batch_cursor_set(b, s->key, op->u.cursor,
                                              strlen(op->u.cursor) + 1));
    }
    return CMSB_EINVAL;
}

/* Write what is staged in one transaction: the source's clear first when a
 * full sync starts, then every entry in order, cursors included, so the
 * stored cursor never runs ahead of the data it covers. The transaction
 * holds the engine's write lock for the writes alone (at most
 * CMSB_SYNC_BATCH_MAX of them, a few milliseconds), never across the
 * adapter's I/O. */
static int flush(sync_ctx *s)
{
    tsps_batch *b = NULL;
    int rc;

    if (s->nops == 0 && !s->clear)
        return CMSB_OK;
    rc = tsps_batch_begin(s->eng, &b);
    if (rc != TSPS_OK) {
        cmsb_source_log(s->src, TSPS_LOG_ERROR,
                        "msg=\"sync: cannot begin batch\" source=%s err=%s",
                        s->name, tsps_errname(rc));
        drop_staged(s);
        return map_tsps(rc);
    }
    if (s->clear)
        rc = map_tsps(tsps_batch_source_clear(b, s->user, s->name, 1, 1));
    for (size_t i = 0; i < s->nops && rc == CMSB_OK; i++)
        rc = apply_op(s, b, &s->ops[i]);
    drop_staged(s);
    if (rc != CMSB_OK) {
        tsps_batch_abort(b);
        return rc;
    }
    rc = tsps_batch_commit(b);
    if (rc != TSPS_OK) {
        cmsb_source_log(s->src, TSPS_LOG_ERROR,
                        "msg=\"sync: commit failed\" source=%s err=%s", s->name,
                        tsps_errname(rc));
        return map_tsps(rc);
    }
    s->clear = 0;
    s->dirty = 0;
    s->st.batches++;
    return CMSB_OK;
}

/* The next free staging slot (flushing first when the stage is full), or
 * NULL with s->err set. */
static staged_op *stage(sync_ctx *s, op_kind kind)
{
    staged_op *op;

    if (s->limit > 0 && s->nops >= s->limit) {
        /* Between two checkpoints: the data goes in without a cursor,
         * which is safe (a later sync from the older cursor writes the
         * same records again) and keeps the stage bounded. */
        s->err = flush(s);
        if (s->err != CMSB_OK)
            return NULL;
    }
    if (s->nops == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        staged_op *p = realloc(s->ops, cap * sizeof(*p));
        if (p == NULL) {
            s->err = CMSB_ENOMEM;
            return NULL;
        }
        s->ops = p;
        s->cap = cap;
    }
    op = &s->ops[s->nops++];
    op->kind = kind;
    s->dirty++;
    if (kind != OP_CURSOR)
        s->pending++;
    return op;
}

static int put_contact(sync_ctx *s, const tsps_contact *in)
{
    staged_op *op = stage(s, OP_CONTACT_PUT);

    if (op == NULL)
        return 1;
    op->u.c = *in;
    snprintf(op->u.c.source, sizeof(op->u.c.source), "%s", s->name);
    return 0;
}

static int put_event(sync_ctx *s, const tsps_event *in)
{
    staged_op *op = stage(s, OP_EVENT_PUT);

    if (op == NULL)
        return 1;
    op->u.e = *in;
    snprintf(op->u.e.source, sizeof(op->u.e.source), "%s", s->name);
    return 0;
}

static int put_delete(sync_ctx *s, op_kind kind, const char *uid)
{
    staged_op *op = stage(s, kind);

    if (op == NULL)
        return 1;
    snprintf(op->u.uid, sizeof(op->u.uid), "%s", uid);
    return 0;
}

static int on_change(void *arg, const cmsb_change *ch)
{
    sync_ctx *s = arg;
    staged_op *op;

    switch (ch->kind) {
    case CMSB_CHANGE_CONTACT_PUT:
        return put_contact(s, ch->contact);
    case CMSB_CHANGE_EVENT_PUT:
        return put_event(s, ch->event);
    case CMSB_CHANGE_CONTACT_DELETE:
        return put_delete(s, OP_CONTACT_DELETE, ch->uid);
    case CMSB_CHANGE_EVENT_DELETE:
        return put_delete(s, OP_EVENT_DELETE, ch->uid);
    case CMSB_CHANGE_ERROR:
        s->st.errors++;
        return 0;
    case CMSB_CHANGE_CHECKPOINT:
        /* Nothing changed at all: the stored cursor already says so, and a
         * periodic sync of a quiet folder then writes nothing. */
        if (s->dirty == 0 && s->since != NULL &&
            strcmp(ch->cursor, s->since) == 0)
            return 0;
        op = stage(s, OP_CURSOR);
        if (op == NULL)
            return 1;
        op->u.cursor = strdup(ch->cursor);
        if (op->u.cursor == NULL) {
            s->nops--;
            s->err = CMSB_ENOMEM;
            return 1;
        }
        /* Only at a checkpoint do data and cursor agree: write here, once
         * half a batch is staged (adapters checkpoint every few thousand
         * records, so batches stay near CMSB_SYNC_BATCH_MAX). */
        if (s->pending >= CMSB_SYNC_BATCH_MAX / 2) {
            s->err = flush(s);
            return s->err != CMSB_OK;
        }
        return 0;
    }
    return 0;
}

static int on_contact(void *arg, const tsps_contact *c)
{
    return put_contact(arg, c);
}

static int on_event(void *arg, const tsps_event *e)
{
    return put_event(arg, e);
}

static int load_cursor(sync_ctx *s, char **out)
{
    size_t len = 0;
    char *buf;
    int rc;

    size_t cap = 4096;

    *out = NULL;
    buf = malloc(cap);
    if (buf == NULL)
        return CMSB_ENOMEM;
    rc = tsps_cursor_get(s->eng, s->key, buf, cap - 1, &len);
    if (rc == TSPS_ENOBUFS) {
        char *p = realloc(buf, len + 1);
        if (p == NULL) {
            free(buf);
            return CMSB_ENOMEM;
        }
        buf = p;
        rc = tsps_cursor_get(s->eng, s->key, buf, len, &len);
    }
    if (rc != TSPS_OK) {
        free(buf);
        return rc == TSPS_ENOTFOUND ? CMSB_OK : map_tsps(rc);
    }
    buf[len] = '\0';
    *out = buf;
    return CMSB_OK;
}

/* Adapters without incremental changes: the whole listing is staged and
 * then cleared and reloaded in one transaction, so the store never shows a
 * half-loaded source (the stage then holds the whole source). */
static int sync_full_listing(sync_ctx *s)
{
    unsigned caps = cmsb_source_caps(s->src);
    const cmsb_options *o = cmsb_source_options(s->src);
    int64_t now = cmsb_source_now(s->src);
    char cur[64];
    staged_op *op;
    int rc;

    s->clear = 1;
    s->limit = 0;
    rc = cmsb_contacts(s->src, on_contact, s);
    if (rc == CMSB_OK && (caps & CMSB_CAP_EVENTS))
        rc = cmsb_events(s->src, now - o->event_past_s, now + o->event_future_s,
                         on_event, s);
    if (rc == CMSB_ECANCELED && s->err != CMSB_OK)
        rc = s->err;
    if (rc == CMSB_OK) {
        snprintf(cur, sizeof(cur), "full@%lld", (long long)now);
        op = stage(s, OP_CURSOR);
        if (op == NULL)
            rc = s->err;
        else if ((op->u.cursor = strdup(cur)) == NULL) {
            s->nops--;
            rc = CMSB_ENOMEM;
        }
    }
    if (rc == CMSB_OK)
        return flush(s);
    drop_staged(s);
    return rc;
}

int cmsb_sync(cmsb_source *src, tsps_engine *eng, const char *user_id,
              const char *source_name, int full, cmsb_sync_stats *out)
{
    sync_ctx s;
    char *since = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (src == NULL || eng == NULL)
        return CMSB_EINVAL;
    rc = cmsb_cursor_key(user_id, source_name, s.key, sizeof(s.key));
    if (rc != CMSB_OK)
        return rc;
    s.src = src;
    s.eng = eng;
    s.user = user_id;
    s.name = source_name;

    if (!(cmsb_source_caps(src) & CMSB_CAP_CHANGES)) {
        s.st.full = 1;
        rc = sync_full_listing(&s);
        goto done;
    }
    if (!full) {
        rc = load_cursor(&s, &since);
        if (rc != CMSB_OK)
            goto done;
        /* A cursor from a full listing (adapter changed) means nothing to
         * an incremental adapter: start over. */
        if (since != NULL && strncmp(since, "full@", 5) == 0) {
            free(since);
            since = NULL;
        }
        if (since == NULL)
            full = 1;
    }
    s.st.full = full != 0;
    s.clear = full != 0;
    s.limit = CMSB_SYNC_BATCH_MAX;
    s.since = full ? NULL : since;
    rc = cmsb_changes(src, full ? NULL : since, on_change, &s);
    if (rc == CMSB_ECANCELED && s.err != CMSB_OK)
        rc = s.err;
    if (rc == CMSB_OK && (s.dirty > 0 || s.clear))
        rc = flush(&s);
done:
    drop_staged(&s);
    free(s.ops);
    free(since);
    cmsb_source_log(src, rc == CMSB_OK ? TSPS_LOG_INFO : TSPS_LOG_ERROR,
                    "msg=\"sync done\" user=%s source=%s full=%d "
                    "contacts_put=%llu contacts_deleted=%llu events_put=%llu "
                    "events_deleted=%llu errors=%llu batches=%llu err=%s",
                    user_id, source_name, s.st.full,
                    (unsigned long long)s.st.contacts_put,
                    (unsigned long long)s.st.contacts_deleted,
                    (unsigned long long)s.st.events_put,
                    (unsigned long long)s.st.events_deleted,
                    (unsigned long long)s.st.errors,
                    (unsigned long long)s.st.batches, cmsb_errname(rc));
    if (out != NULL)
        *out = s.st;
    return rc;
}

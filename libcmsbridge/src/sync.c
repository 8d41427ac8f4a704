/* cmsb_sync(): a source's changes into the libtsps store, in batches whose
 * cursor commits with the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct sync_ctx {
    cmsb_source *src;
    tsps_engine *eng;
    const char *user, *name;
    char key[TSPS_ID_MAX + TSPS_SOURCE_MAX + 16];
    tsps_batch *b;
    size_t pending;    /* writes in the open batch */
    size_t dirty;      /* writes of any kind (cursor too) in the open batch */
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

static int batch_open(sync_ctx *s)
{
    int rc = tsps_batch_begin(s->eng, &s->b);

    if (rc != TSPS_OK) {
        cmsb_source_log(s->src, TSPS_LOG_ERROR,
                        "msg=\"sync: cannot begin batch\" source=%s err=%s",
                        s->name, tsps_errname(rc));
        return map_tsps(rc);
    }
    s->pending = 0;
    s->dirty = 0;
    return CMSB_OK;
}

static int batch_commit(sync_ctx *s)
{
    int rc = tsps_batch_commit(s->b);

    s->b = NULL;
    if (rc != TSPS_OK) {
        cmsb_source_log(s->src, TSPS_LOG_ERROR,
                        "msg=\"sync: commit failed\" source=%s err=%s", s->name,
                        tsps_errname(rc));
        return map_tsps(rc);
    }
    s->st.batches++;
    return CMSB_OK;
}

/* A write the engine refused for this record only (bad field) is counted
 * and skipped; anything else ends the sync. */
static int note_write(sync_ctx *s, int rc, const char *what, const char *uid)
{
    if (rc == TSPS_OK) {
        s->pending++;
        s->dirty++;
        return 0;
    }
    cmsb_source_log(s->src, rc == TSPS_EINVAL ? TSPS_LOG_WARN : TSPS_LOG_ERROR,
                    "msg=\"sync: %s refused\" source=%s uid=\"%.80s\" err=%s",
                    what, s->name, uid, tsps_errname(rc));
    if (rc == TSPS_EINVAL) {
        s->st.errors++;
        return 0;
    }
    s->err = map_tsps(rc);
    return 1;
}

static int put_contact(sync_ctx *s, const tsps_contact *in)
{
    tsps_contact c = *in;

    snprintf(c.source, sizeof(c.source), "%s", s->name);
    if (note_write(s, tsps_batch_contact_put(s->b, s->user, &c), "contact",
                   c.uid))
        return 1;
    s->st.contacts_put++;
    return 0;
}

static int put_event(sync_ctx *s, const tsps_event *in)
{
    tsps_event e = *in;

    snprintf(e.source, sizeof(e.source), "%s", s->name);
    if (note_write(s, tsps_batch_event_put(s->b, s->user, &e), "event", e.uid))
        return 1;
    s->st.events_put++;
    return 0;
}

static int on_change(void *arg, const cmsb_change *ch)
{
    sync_ctx *s = arg;
    int rc;

    switch (ch->kind) {
    case CMSB_CHANGE_CONTACT_PUT:
        return put_contact(s, ch->contact);
    case CMSB_CHANGE_EVENT_PUT:
        return put_event(s, ch->event);
    case CMSB_CHANGE_CONTACT_DELETE:
        if (note_write(s, tsps_batch_contact_delete(s->b, s->user, ch->uid),
                       "contact delete", ch->uid))
            return 1;
        s->st.contacts_deleted++;
        return 0;
    case CMSB_CHANGE_EVENT_DELETE:
        if (note_write(s, tsps_batch_event_delete(s->b, s->user, ch->uid),
                       "event delete", ch->uid))
            return 1;
        s->st.events_deleted++;
        return 0;
    case CMSB_CHANGE_ERROR:
        s->st.errors++;
        return 0;
    case CMSB_CHANGE_CHECKPOINT:
        /* Nothing changed at all: the stored cursor already says so, and a
         * periodic sync of a quiet folder then writes nothing. */
        if (s->dirty == 0 && s->since != NULL &&
            strcmp(ch->cursor, s->since) == 0)
            return 0;
        rc = tsps_batch_cursor_set(s->b, s->key, ch->cursor,
                                   strlen(ch->cursor) + 1);
        if (rc != TSPS_OK) {
            s->err = map_tsps(rc);
            return 1;
        }
        s->dirty++;
        /* Only at a checkpoint do data and cursor agree: commit here,
         * once half a batch is pending (adapters checkpoint every few
         * thousand records, so batches stay near CMSB_SYNC_BATCH_MAX). */
        if (s->pending >= CMSB_SYNC_BATCH_MAX / 2) {
            s->err = batch_commit(s);
            if (s->err == CMSB_OK)
                s->err = batch_open(s);
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

/* Adapters without incremental changes: clear and reload in one
 * transaction, so the store never shows a half-loaded source. */
static int sync_full_listing(sync_ctx *s)
{
    unsigned caps = cmsb_source_caps(s->src);
    const cmsb_options *o = cmsb_source_options(s->src);
    int64_t now = cmsb_source_now(s->src);
    char cur[64];
    int rc;

    rc = batch_open(s);
    if (rc != CMSB_OK)
        return rc;
    rc = map_tsps(tsps_batch_source_clear(s->b, s->user, s->name, 1, 1));
    if (rc == CMSB_OK)
        rc = cmsb_contacts(s->src, on_contact, s);
    if (rc == CMSB_OK && (caps & CMSB_CAP_EVENTS))
        rc = cmsb_events(s->src, now - o->event_past_s, now + o->event_future_s,
                         on_event, s);
    if (rc == CMSB_ECANCELED && s->err != CMSB_OK)
        rc = s->err;
    if (rc == CMSB_OK) {
        snprintf(cur, sizeof(cur), "full@%lld", (long long)now);
        rc =
            map_tsps(tsps_batch_cursor_set(s->b, s->key, cur, strlen(cur) + 1));
    }
    if (rc == CMSB_OK)
        return batch_commit(s);
    tsps_batch_abort(s->b);
    s->b = NULL;
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
    rc = batch_open(&s);
    if (rc != CMSB_OK)
        goto done;
    if (full)
        rc = map_tsps(tsps_batch_source_clear(s.b, user_id, source_name, 1, 1));
    s.since = full ? NULL : since;
    if (rc == CMSB_OK)
        rc = cmsb_changes(src, full ? NULL : since, on_change, &s);
    if (rc == CMSB_ECANCELED && s.err != CMSB_OK)
        rc = s.err;
    if (rc == CMSB_OK && s.b != NULL && (s.dirty > 0 || full))
        rc = batch_commit(&s);
    if (s.b != NULL) {
        tsps_batch_abort(s.b);
        s.b = NULL;
    }
done:
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

/* The DAV change engine. Per collection: sync-collection (RFC 6578) from
 * the stored token (empty = initial), 404 members are deletions, a 507
 * truncation continues with the returned token, an invalid token (403/409
 * valid-sync-token) falls back to a full resync that deletes what is gone;
 * servers without sync-collection (or refusing an empty token, as Google
 * does) are listed by ctag/etag and fetched with a multiget. Calendars are
 * loaded with a calendar-query over the time window and re-expanded once a
 * day; recurrences are expanded locally (vcard-dir's iCalendar path).
 * Group cards: each is its own resource; a run resolves member uid ->
 * group code from the state and fetches again the members whose code
 * moved (dav_group.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

#define CHECKPOINT_EVERY 1000  /* records between resumable checkpoints */
#define MAX_PAGES        10000 /* 507 continuations per collection */
#define DISCOVER_EVERY   3600  /* seconds before collections are re-listed */
#define REEXPAND_EVERY   86400 /* seconds before the event window moves */
#define REGROUP_ROUNDS   3     /* refetch rounds for moved group codes */
#define QUERY_MIN        64    /* members to fetch before a whole-book query */
#define QUERY_SHARE      4     /* ... and at least 1/QUERY_SHARE of the book */
#define QUERY_MAX                                                              \
    50000        /* members: a bigger book's answer (20+ MB,                   \
                  * parsed into a tree) goes by multiget */
#define WANTED 3 /* dav_item.seen: to fetch by the query */

typedef struct run {
    dav_src *s;
    dav_state *st;
    uint64_t fp;
    cmsb_change_cb cb;
    void *arg;
    int stop;
    size_t since_cp;
    int64_t now, from, to;
    vc_buf cur;
    vc_buf uids; /* what the resource being processed produced */
    const char *href;
    int had_err;
    int clean;     /* the last record sent was a checkpoint of this state */
    vc_map groups; /* member uid -> group code, from the state */
    int gdirty;    /* a group card changed since groups was built */
    int err;       /* ENOMEM in a parser callback */
    int audit;     /* compare every etag this run (dav_src.audit_s) */
} run;

static int send(run *r, const cmsb_change *ch)
{
    if (r->stop)
        return 1;
    if (r->cb(r->arg, ch) != 0)
        r->stop = 1;
    if (ch->kind != CMSB_CHANGE_CHECKPOINT)
        r->since_cp++;
    r->clean = ch->kind == CMSB_CHANGE_CHECKPOINT;
    return r->stop;
}

static int checkpoint(run *r, int force)
{
    cmsb_change ch = {.kind = CMSB_CHANGE_CHECKPOINT};

    if (r->stop)
        return CMSB_ECANCELED;
    if (!force && r->since_cp < CHECKPOINT_EVERY)
        return CMSB_OK;
    if (dav_state_write(r->st, r->fp, &r->cur) != CMSB_OK)
        return CMSB_ENOMEM;
    r->since_cp = 0;
    ch.cursor = r->cur.p;
    return send(r, &ch) ? CMSB_ECANCELED : CMSB_OK;
}

static void on_err(void *arg, int line, const char *reason)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_ERROR};

    r->had_err = 1;
    cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                    "msg=\"skipped malformed entry\" href=\"%s\" line=%d "
                    "reason=\"%s\"",
                    r->href, line, reason);
    ch.file = r->href;
    ch.line = line;
    ch.reason = reason;
    send(r, &ch);
}

static int add_uid(run *r, char tag, const char *uid)
{
    if (vc_buf_add(&r->uids, &tag, 1) != CMSB_OK ||
        vc_buf_str(&r->uids, uid) != CMSB_OK ||
        vc_buf_add(&r->uids, "\n", 1) != CMSB_OK) {
        r->err = CMSB_ENOMEM;
        return 1;
    }
    return 0;
}

/* A coded group card: G + M lines; its members get the code from the
 * member map, in this run or the next (dav_group.c). */
static int on_group(run *r, const vc_card *k)
{
    const char *m = k->members.p;
    size_t n = k->nmembers;

    if (k->group_code[0] == '\0' || !(r->s->conf.forms & CMSB_FORM_GROUP))
        return 0;
    if (n > DAV_GROUP_MAX_MEMBERS) {
        cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                        "msg=\"dav: group card has too many members, the "
                        "rest ignored\" href=\"%s\" group=%s members=%zu "
                        "kept=%d",
                        r->href, k->group_code, n, DAV_GROUP_MAX_MEMBERS);
        n = DAV_GROUP_MAX_MEMBERS;
    }
    if (add_uid(r, 'G', k->group_code))
        return 1;
    for (size_t i = 0; i < n; i++, m += strlen(m) + 1)
        if (add_uid(r, 'M', m))
            return 1;
    return 0;
}

/* The group code of a contact uid now (NULL = none); ENOMEM in r->err. */
static const char *group_of(run *r, const char *uid)
{
    if (r->gdirty) {
        /* a group card changed since the map was built: use it */
        if (dav_groups_build(r->st, &r->groups) != CMSB_OK) {
            r->err = CMSB_ENOMEM;
            return NULL;
        }
        r->gdirty = 0;
    }
    return vc_map_get(&r->groups, uid);
}

static int on_card(void *arg, vc_card *k)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_CONTACT_PUT};
    const char *gc;

    if (k->is_group)
        return on_group(r, k);
    gc = group_of(r, k->c.uid);
    if (r->err != CMSB_OK)
        return 1;
    vc_resolve_code(&r->s->conf, k, gc);
    if (add_uid(r, 'C', k->c.uid) || (gc != NULL && add_uid(r, 'A', gc)))
        return 1;
    ch.contact = &k->c;
    return send(r, &ch);
}

static int on_event(void *arg, const tsps_event *ev, const char *org)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_EVENT_PUT};

    (void)org;
    if (add_uid(r, 'E', ev->uid))
        return 1;
    ch.event = ev;
    return send(r, &ch);
}

/* Is line (tag+uid, no '\n') among the '\n'-terminated lines of list? */
static int has_line(const char *list, size_t llen, const char *line, size_t n)
{
    for (const char *p = list; p != NULL && p < list + llen;) {
        const char *nl = memchr(p, '\n', (size_t)(list + llen - p));
        size_t m = nl != NULL ? (size_t)(nl - p) : (size_t)(list + llen - p);
        if (m == n && memcmp(p, line, n) == 0)
            return 1;
        p = nl != NULL ? nl + 1 : NULL;
    }
    return 0;
}

/* Send deletions for the uids of `old` not in the new list (keep: add
 * them to the new list instead: a resource that failed to parse keeps
 * what it had). Only C and E lines name uids. A kept contact records the
 * group code it has now as the one it was sent with: fetching the same
 * unreadable card again for a group change would not help; it is read
 * again when it changes. */
static int settle(run *r, const char *old, int keep)
{
    for (const char *p = old; p != NULL && *p != '\0' && !r->stop;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        int named = p[0] == 'C' || p[0] == 'E';
        if (named && n > 1 && n < TSPS_UID_MAX + 1 &&
            !has_line(r->uids.p, r->uids.len, p, n)) {
            char uid[TSPS_UID_MAX + 1];
            memcpy(uid, p + 1, n - 1);
            uid[n - 1] = '\0';
            if (keep) {
                const char *gc = p[0] == 'C' ? group_of(r, uid) : NULL;
                if (r->err != CMSB_OK || add_uid(r, p[0], uid) ||
                    (gc != NULL && add_uid(r, 'A', gc)))
                    return CMSB_ENOMEM;
            } else {
                cmsb_change ch = {.kind = p[0] == 'C'
                                              ? CMSB_CHANGE_CONTACT_DELETE
                                              : CMSB_CHANGE_EVENT_DELETE,
                                  .uid = uid};
                send(r, &ch);
            }
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return r->stop ? CMSB_ECANCELED : CMSB_OK;
}

/* A resource's new content: parse/expand, send puts, then deletions of
 * what it no longer holds; the item takes the new etag and uids. */
static int process(run *r, dav_coll *c, dav_item *it, const char *etag,
                   const char *data, size_t len)
{
    const cmsb_options *o = cmsb_source_options(&r->s->base);
    int rc;

    r->uids.len = 0;
    r->href = it->href;
    r->had_err = 0;
    if (data == NULL)
        data = "", len = 0;
    if (c->kind == DAV_BOOK)
        rc = vc_parse(data, len, &r->s->conf, it->href, on_card, on_err, r);
    else
        rc = vc_ical_expand(data, len, r->from, r->to, o->tz, on_event, on_err,
                            r);
    if (r->stop)
        return CMSB_ECANCELED;
    if (rc == CMSB_ECANCELED && r->err != CMSB_OK)
        rc = r->err;
    if (rc != CMSB_OK)
        return rc;
    rc = settle(r, it->uids, r->had_err);
    if (rc == CMSB_OK && r->had_err)
        rc = dav_group_keep(it->uids, &r->uids);
    if (rc != CMSB_OK)
        return rc;
    if (!dav_group_same(it->uids, r->uids.len > 0 ? r->uids.p : NULL))
        r->gdirty = 1;
    free(it->uids);
    it->uids = NULL;
    if (r->uids.len > 0) {
        it->uids = strndup(r->uids.p, r->uids.len);
        if (it->uids == NULL)
            return CMSB_ENOMEM;
    }
    if (dav_set(&it->etag, etag) != CMSB_OK)
        return CMSB_ENOMEM;
    return checkpoint(r, 0);
}

static int delete_item(run *r, dav_coll *c, const char *href)
{
    dav_item *it = dav_map_get(&c->items, href);
    int rc;

    if (it == NULL)
        return CMSB_OK;
    r->uids.len = 0;
    rc = settle(r, it->uids, 0);
    if (rc == CMSB_OK && dav_group_any(it->uids))
        r->gdirty = 1; /* a group card went away */
    if (rc == CMSB_OK)
        dav_map_del(&c->items, href);
    return rc;
}

/* Delete the items not marked seen during a full listing. */
static int sweep(run *r, dav_coll *c)
{
    char **gone = NULL;
    size_t n = 0;
    int rc = CMSB_OK;

    gone = calloc(c->items.n + 1, sizeof(*gone));
    if (gone == NULL)
        return CMSB_ENOMEM;
    for (size_t k = 0; k < c->items.nb; k++)
        for (dav_item *it = c->items.b[k]; it != NULL; it = it->next)
            if (!it->seen)
                gone[n++] = it->href;
    for (size_t i = 0; i < n && rc == CMSB_OK; i++) {
        char *h = strdup(gone[i]);
        if (h == NULL)
            rc = CMSB_ENOMEM;
        else
            rc = delete_item(r, c, h);
        free(h);
    }
    free(gone);
    return rc;
}

static void unsee(dav_coll *c)
{
    for (size_t k = 0; k < c->items.nb; k++)
        for (dav_item *it = c->items.b[k]; it != NULL; it = it->next)
            it->seen = 0;
}

/* Multiget answers: new data for an item, or a 404 (gone meanwhile). */
typedef struct fetch_ctx {
    run *r;
    dav_coll *c;
    int rc;
} fetch_ctx;

static int on_fetched(void *arg, dav_resp *resp)
{
    fetch_ctx *f = arg;
    dav_item *it;

    if (resp->status == 404 || (resp->data == NULL && resp->status >= 400)) {
        f->rc = delete_item(f->r, f->c, resp->href);
        return f->rc != CMSB_OK;
    }
    it = dav_map_add(&f->c->items, resp->href);
    if (it == NULL) {
        f->rc = CMSB_ENOMEM;
        return 1;
    }
    it->seen = 2;
    f->rc = process(f->r, f->c, it, resp->etag, resp->data, resp->data_len);
    return f->rc != CMSB_OK;
}

/* Fetch hrefs with multigets whose size adapts to the server
 * (dav_multiget_some). Each answer stored is a point to resume from: a
 * checkpoint after each, so a sync cut off (timeout, server restart)
 * starts the next time where it stopped, not from the beginning. */
static int fetch(run *r, dav_coll *c, char **hrefs, size_t n)
{
    fetch_ctx f = {r, c, CMSB_OK};
    int rc = CMSB_OK;

    for (size_t i = 0, k = 0; i < n && rc == CMSB_OK; i += k) {
        rc = dav_multiget_some(r->s, c, hrefs + i, n - i, on_fetched, &f, &k);
        if (rc == CMSB_ECANCELED && f.rc != CMSB_OK)
            rc = f.rc;
        if (rc == CMSB_OK && i + k < n && r->since_cp > 0)
            rc = checkpoint(r, 1);
    }
    return rc;
}

/* An addressbook-query answer: only the members this run wants
 * (marked WANTED); the rest are left for the next sync to report. */
static int on_queried(void *arg, dav_resp *resp)
{
    fetch_ctx *f = arg;
    dav_item *it = dav_map_get(&f->c->items, resp->href);

    if (it == NULL || it->seen != WANTED || resp->data == NULL)
        return 0;
    return on_fetched(arg, resp);
}

/* Fetch many members of an address book. A big share of the book (a
 * full sync, a changed listing) comes in one addressbook-query of the
 * whole book instead of multigets: some servers (Xandikos) answer a
 * multiget in time growing with the book, 70 ms per href at 10k cards,
 * so a full sync took most of an hour; the query takes under a second.
 * The cursor rule is the same: each stored answer counts toward a
 * checkpoint, the collection's token or ctag moves only after all are
 * stored (the caller). What the query did not answer, and every fetch
 * once a query failed on this source (refused, timed out), goes by
 * multiget. */
static int fetch_bulk(run *r, dav_coll *c, char **hrefs, size_t n)
{
    fetch_ctx f = {r, c, CMSB_OK};
    dav_hrefs rest = {0};
    long code = 0;
    int rc = CMSB_OK;

    if (c->kind != DAV_BOOK || r->s->no_query || n < QUERY_MIN ||
        n * QUERY_SHARE < c->items.n || c->items.n > QUERY_MAX)
        return fetch(r, c, hrefs, n);
    for (size_t i = 0; i < n; i++) {
        dav_item *it = dav_map_get(&c->items, hrefs[i]);
        if (it != NULL)
            it->seen = WANTED;
    }
    rc = dav_book_query(r->s, c, on_queried, &f, &code);
    if (rc == CMSB_ECANCELED && f.rc != CMSB_OK)
        rc = f.rc;
    /* refused or too slow for the timeout: not again on this source (a
     * server that went away fails the multigets the same way) */
    if ((rc == CMSB_EIO && r->s->timed_out) || (rc == CMSB_OK && code != 207)) {
        cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                        "msg=\"dav: addressbook-query failed, multigets "
                        "instead\" href=\"%s\" status=%ld timed_out=%d",
                        c->href, code, r->s->timed_out);
        r->s->no_query = 1;
        rc = CMSB_OK;
    }
    /* not answered (or the query failed): by multiget */
    for (size_t i = 0; i < n && rc == CMSB_OK; i++) {
        dav_item *it = dav_map_get(&c->items, hrefs[i]);
        if (it != NULL && it->seen == WANTED) {
            it->seen = 1;
            rc = dav_hrefs_add(&rest, hrefs[i]);
        }
    }
    if (rc == CMSB_OK && rest.n > 0)
        rc = fetch(r, c, rest.v, rest.n);
    for (size_t i = 0; i < n; i++) { /* on an error: no mark left behind */
        dav_item *it = dav_map_get(&c->items, hrefs[i]);
        if (it != NULL && it->seen == WANTED)
            it->seen = 1;
    }
    dav_hrefs_free(&rest);
    return rc;
}

/* Items whose etag is unknown (a version 1 cursor, a member the server
 * did not answer): sync-collection will not report them unless they
 * change, so fetch them. */
static int fetch_unknown(run *r, dav_coll *c)
{
    dav_hrefs h = {0};
    int rc = CMSB_OK;

    for (size_t k = 0; k < c->items.nb && rc == CMSB_OK; k++)
        for (dav_item *it = c->items.b[k]; it != NULL && rc == CMSB_OK;
             it = it->next)
            if (it->etag == NULL)
                rc = dav_hrefs_add(&h, it->href);
    if (rc == CMSB_OK && h.n > 0) {
        cmsb_source_log(&r->s->base, TSPS_LOG_INFO,
                        "msg=\"dav: fetching members of unknown state\" "
                        "href=\"%s\" resources=%zu",
                        c->href, h.n);
        rc = fetch(r, c, h.v, h.n);
        if (rc == CMSB_OK)
            rc = checkpoint(r, 1);
    }
    dav_hrefs_free(&h);
    return rc;
}

/* Contacts sent with another group code than the state now gives (a
 * group card changed, was added or deleted, possibly after its members in
 * this run): fetch their resources again and re-send them. Bounded
 * rounds; what is left (a group changing under us) is caught next run. */
static int regroup(run *r)
{
    int rc = CMSB_OK;

    for (int round = 0; round < REGROUP_ROUNDS && rc == CMSB_OK; round++) {
        size_t total = 0;
        rc = dav_groups_build(r->st, &r->groups);
        r->gdirty = 0;
        for (size_t i = 0; i < r->st->n && rc == CMSB_OK; i++) {
            dav_coll *c = &r->st->c[i];
            dav_hrefs h = {0};
            if (c->kind != DAV_BOOK || c->gone)
                continue;
            rc = dav_group_stale_hrefs(c, &r->groups, &h);
            for (size_t k = 0; k < h.n && rc == CMSB_OK; k++)
                cmsb_source_log(&r->s->base, TSPS_LOG_DEBUG,
                                "msg=\"dav: group code moved, refetching\" "
                                "href=\"%s\"",
                                h.v[k]);
            if (rc == CMSB_OK && h.n > 0) {
                cmsb_source_log(&r->s->base, TSPS_LOG_INFO,
                                "msg=\"dav: group membership changed, "
                                "refetching members\" href=\"%s\" "
                                "resources=%zu round=%d",
                                c->href, h.n, round);
                total += h.n;
                rc = fetch(r, c, h.v, h.n);
            }
            dav_hrefs_free(&h);
        }
        if (total == 0)
            break;
    }
    return rc;
}

static const char PROPFIND_CTAG[] = /* the idle poll: no XML declaration */
    "<D:propfind xmlns:D=\"DAV:\" xmlns:S=\"http://calendarserver.org/ns/\">"
    "<D:prop><D:sync-token/><S:getctag/></D:prop></D:propfind>";

/* getetag only: resourcetype for every member costs sabre/dav 10 ms and
 * 170 KB per 10k cards; a sub-collection (none in an address book or a
 * calendar, RFC 6352/4791) is told by its href ending in '/' and no etag */
static const char PROPFIND_ETAGS[] =
    "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop></D:propfind>";

static int is_subcollection(const dav_resp *x)
{
    size_t n = x->href != NULL ? strlen(x->href) : 0;

    return (x->rtype & DAV_RT_COLLECTION) ||
           (x->etag == NULL && n > 0 && x->href[n - 1] == '/');
}

/* What a listing found. ctag and token are the collection's as they were
 * BEFORE its members were listed, and are stored only once every change
 * listed is fetched and stored (list_commit): the cursor never covers
 * what the store does not hold yet. */
typedef struct listed {
    char *ctag, *token;
    int unchanged;        /* same ctag as stored: nothing listed */
    dav_hrefs changed;    /* new or changed etag: to fetch */
    dav_hrefs all, etags; /* full: every member and its etag */
} listed;

static void listed_free(listed *L)
{
    free(L->ctag);
    free(L->token);
    dav_hrefs_free(&L->changed);
    dav_hrefs_free(&L->all);
    dav_hrefs_free(&L->etags);
    memset(L, 0, sizeof(*L));
}

static int listing_refused(run *r, dav_coll *c, long code)
{
    cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                    "msg=\"dav: listing refused\" href=\"%s\" status=%ld",
                    c->href, code);
    return CMSB_EIO;
}

/* One member of an etag listing, as it streams in. */
typedef struct list_ctx {
    dav_coll *c;
    int full;
    listed *L;
    int rc;
} list_ctx;

static int on_listed(void *arg, dav_resp *x)
{
    list_ctx *lc = arg;
    dav_item *it;

    if (dav_href_eq(x->href, lc->c->href) || is_subcollection(x))
        return 0;
    it = dav_map_add(&lc->c->items, x->href);
    if (it == NULL) {
        lc->rc = CMSB_ENOMEM;
        return 1;
    }
    it->seen = 1;
    if (lc->full || it->etag == NULL || x->etag == NULL ||
        strcmp(it->etag, x->etag) != 0)
        lc->rc = dav_hrefs_add(&lc->L->changed, x->href);
    if (lc->rc == CMSB_OK && lc->full) {
        lc->rc = dav_hrefs_add(&lc->L->all, x->href);
        if (lc->rc == CMSB_OK)
            lc->rc = dav_hrefs_add(&lc->L->etags, x->etag ? x->etag : "");
    }
    return lc->rc != CMSB_OK;
}

/* Listing mode. A Depth 0 PROPFIND of the ctag first: unchanged (and not
 * `full` or `force`) means nothing to do, a few hundred bytes per poll.
 * Otherwise a Depth 1 PROPFIND of the etags: new and changed members go
 * to L->changed (every member when `full`: calendars, whose window query
 * fetches the data), members gone are deleted. */
static int listing(run *r, dav_coll *c, int full, int force, listed *L)
{
    list_ctx lc;
    dav_ms ms;
    long code;
    int rc;

    rc = dav_report(r->s, "PROPFIND", c->href, "0", PROPFIND_CTAG, &ms, &code);
    if (rc != CMSB_OK)
        return rc;
    if (code == 404) {
        c->gone = 1;
        dav_ms_free(&ms);
        return CMSB_OK;
    }
    if (code != 207) {
        dav_ms_free(&ms);
        return listing_refused(r, c, code);
    }
    for (size_t i = 0; i < ms.n && rc == CMSB_OK; i++)
        if (dav_href_eq(ms.r[i].href, c->href) &&
            (dav_set(&L->ctag, ms.r[i].ctag) != CMSB_OK ||
             dav_set(&L->token, ms.r[i].sync_token) != CMSB_OK))
            rc = CMSB_ENOMEM;
    dav_ms_free(&ms);
    if (rc != CMSB_OK)
        return rc;
    if (!full && !force && L->ctag != NULL && c->ctag != NULL &&
        strcmp(L->ctag, c->ctag) == 0) {
        L->unchanged = 1;
        return CMSB_OK; /* nothing changed */
    }
    /* members are compared as the answer streams in (dav_list_stream):
     * no tree of a 2.4 MB answer for 10k cards */
    unsee(c);
    lc.c = c;
    lc.full = full;
    lc.L = L;
    lc.rc = CMSB_OK;
    rc = dav_list_stream(r->s, c->href, PROPFIND_ETAGS, on_listed, &lc, &code);
    if (rc == CMSB_ECANCELED && lc.rc != CMSB_OK)
        rc = lc.rc;
    if (rc != CMSB_OK)
        return rc;
    if (code == 404) {
        c->gone = 1;
        return CMSB_OK;
    }
    if (code != 207)
        return listing_refused(r, c, code);
    return sweep(r, c);
}

/* Everything listed is stored: the collection takes the ctag (and, for
 * a sync-collection fallback, the token) read before the listing. */
static int list_commit(run *r, dav_coll *c, const listed *L, int keep_token)
{
    (void)r;
    if (L->unchanged)
        return CMSB_OK;
    if (dav_set(&c->ctag, L->ctag) != CMSB_OK)
        return CMSB_ENOMEM;
    if (c->sync && !keep_token) {
        if (L->token != NULL && L->token[0] != '\0')
            return dav_set(&c->token, L->token);
        c->sync = 0;
    }
    return CMSB_OK;
}

/* Listing mode, one collection: list, fetch what changed, then move the
 * cursor (list_commit). `force`: list even if the ctag is unchanged (the
 * audit); keep_token: a sync-collection keeps its own token. */
static int list_sync(run *r, dav_coll *c, int force, int keep_token)
{
    listed L;
    int rc;

    memset(&L, 0, sizeof(L));
    rc = listing(r, c, 0, force, &L);
    if (rc == CMSB_OK && !c->gone && !L.unchanged) {
        if (force && L.changed.n > 0)
            cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                            "msg=\"dav: audit found drift, refetching\" "
                            "href=\"%s\" resources=%zu",
                            c->href, L.changed.n);
        rc = fetch_bulk(r, c, L.changed.v, L.changed.n);
        if (rc == CMSB_OK)
            rc = list_commit(r, c, &L, keep_token);
    }
    listed_free(&L);
    return rc == CMSB_OK ? checkpoint(r, 1) : rc;
}

static int sync_report(run *r, dav_coll *c, const char *token, int data,
                       dav_ms *ms, long *code)
{
    vc_buf b = {0}, t = {0};
    int card = c->kind == DAV_BOOK;
    int rc = CMSB_OK;

    for (const char *p = token != NULL ? token : ""; *p && rc == CMSB_OK; p++)
        rc = *p == '&'   ? vc_buf_str(&t, "&amp;")
             : *p == '<' ? vc_buf_str(&t, "&lt;")
                         : vc_buf_add(&t, p, 1);
    if (rc == CMSB_OK)
        rc = vc_buf_add(&t, "", 1);
    if (rc == CMSB_OK)
        rc = vc_buf_printf(
            &b,
            /* no XML declaration (UTF-8 is the default): every idle
             * poll sends this */
            "<D:sync-collection xmlns:D=\"DAV:\" xmlns:X=\"%s\">"
            "<D:sync-token>%s</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/>%s</D:prop></D:sync-collection>%c",
            card ? "urn:ietf:params:xml:ns:carddav"
                 : "urn:ietf:params:xml:ns:caldav",
            t.p,
            !data  ? ""
            : card ? "<X:address-data/>"
                   : "<X:calendar-data/>",
            '\0');
    if (rc == CMSB_OK)
        rc = dav_sync_report(r->s, c->href, b.p, data ? r->s->sync_data : 0, ms,
                             code);
    else
        memset(ms, 0, sizeof(*ms));
    vc_buf_free(&b);
    vc_buf_free(&t);
    return rc;
}

/* Calendars, full: the hrefs and the token (sync-collection or listing),
 * then a calendar-query over the window with the data. Members outside
 * the window take their listed etag (they hold no instance now), so that
 * a listing server's next sync fetches only what changed. */
static int cal_full(run *r, dav_coll *c)
{
    listed L;
    char *token = NULL;
    int rc = CMSB_OK;
    fetch_ctx f = {r, c, CMSB_OK};

    memset(&L, 0, sizeof(L));
    unsee(c);
    if (c->sync) {
        char *req = NULL;
        for (int page = 0; page < MAX_PAGES && rc == CMSB_OK; page++) {
            dav_ms ms;
            long code;
            rc = sync_report(r, c, req, 0, &ms, &code);
            if (rc != CMSB_OK)
                break;
            if (code != 207) {
                dav_ms_free(&ms);
                c->sync = 0; /* e.g. Google: no empty initial token */
                break;
            }
            for (size_t i = 0; i < ms.n && rc == CMSB_OK; i++) {
                dav_item *it;
                if (dav_href_eq(ms.r[i].href, c->href) || ms.r[i].status == 404)
                    continue;
                it = dav_map_add(&c->items, ms.r[i].href);
                if (it == NULL) {
                    rc = CMSB_ENOMEM;
                    break;
                }
                it->seen = 1;
                rc = dav_hrefs_add(&L.all, ms.r[i].href);
                if (rc == CMSB_OK)
                    rc = dav_hrefs_add(&L.etags,
                                       ms.r[i].etag ? ms.r[i].etag : "");
            }
            free(req);
            req = ms.sync_token != NULL ? strdup(ms.sync_token) : NULL;
            if (!ms.truncated || req == NULL) {
                dav_ms_free(&ms);
                break;
            }
            dav_ms_free(&ms);
        }
        token = req;
    }
    if (rc == CMSB_OK && !c->sync) {
        dav_hrefs_free(&L.all);
        dav_hrefs_free(&L.etags);
        rc = listing(r, c, 1, 0, &L);
        if (rc == CMSB_OK && c->gone) {
            listed_free(&L);
            free(token);
            return CMSB_OK;
        }
    } else if (rc == CMSB_OK) {
        rc = sweep(r, c);
    }
    if (rc == CMSB_OK)
        rc = dav_cal_query(r->s, c, r->from, r->to, 1, on_fetched, &f);
    if (rc == CMSB_ECANCELED && f.rc != CMSB_OK)
        rc = f.rc;
    /* listed but outside the window: no instances now */
    for (size_t k = 0; k < c->items.nb && rc == CMSB_OK; k++)
        for (dav_item *it = c->items.b[k]; it != NULL && rc == CMSB_OK;
             it = it->next)
            if (it->seen != 2 && it->uids != NULL) {
                r->uids.len = 0;
                rc = settle(r, it->uids, 0);
                free(it->uids);
                it->uids = NULL;
            }
    for (size_t i = 0; i < L.all.n && rc == CMSB_OK; i++) {
        dav_item *it = dav_map_get(&c->items, L.all.v[i]);
        if (it != NULL && it->seen != 2)
            rc = dav_set(&it->etag, L.etags.v[i][0] ? L.etags.v[i] : NULL);
    }
    if (rc == CMSB_OK && token != NULL)
        rc = dav_set(&c->token, token);
    if (rc == CMSB_OK && !c->sync)
        rc = list_commit(r, c, &L, 0);
    if (rc == CMSB_OK)
        c->exp = r->now;
    free(token);
    listed_free(&L);
    return rc == CMSB_OK ? checkpoint(r, 1) : rc;
}

/* sabre/dav tokens end in a counter after a separator
 * ("http://sabre.io/ns/sync/42"): the same prefix with a lower counter
 * than the one we sent means the server's history went back (a restored
 * backup, a re-created address book). Opaque tokens (hashes) never
 * match: the character before the digits must not be alphanumeric. */
static int token_backwards(const char *sent, const char *got)
{
    size_t a = strlen(sent), b = strlen(got), i = a, j = b;

    while (i > 0 && sent[i - 1] >= '0' && sent[i - 1] <= '9')
        i--;
    while (j > 0 && got[j - 1] >= '0' && got[j - 1] <= '9')
        j--;
    if (i == a || j == b || i != j || i == 0 || memcmp(sent, got, i) != 0)
        return 0;
    if ((sent[i - 1] >= 'a' && sent[i - 1] <= 'z') ||
        (sent[i - 1] >= 'A' && sent[i - 1] <= 'Z'))
        return 0;
    while (sent[i] == '0' && i + 1 < a)
        i++;
    while (got[j] == '0' && j + 1 < b)
        j++;
    if (b - j != a - i)
        return b - j < a - i;
    return strcmp(got + j, sent + i) < 0;
}

/* An answer to a stored token that says the token is no good: 403/409
 * with DAV:valid-sync-token (RFC 6578), 400, or 500 (Xandikos answers an
 * unknown token with 500). */
static int token_refused(long code)
{
    return code == 400 || code == 403 || code == 409 || code == 500;
}

/* What a sync-collection page asking for card data said about it: data
 * refused (a non-2xx propstat) and none given means the server does not
 * hand it out there (Xandikos 0.2.8): etags only from now on, for
 * DAV_NODATA_RETRY; any data given means it does. */
static void note_data(run *r, dav_coll *c, size_t n_data, size_t n_refused)
{
    if (n_data > 0) {
        if (c->nodata_at != 0)
            cmsb_source_log(&r->s->base, TSPS_LOG_INFO,
                            "msg=\"dav: sync-collection gives card data "
                            "again\" href=\"%s\"",
                            c->href);
        c->nodata_at = 0;
    } else if (n_refused > 0) {
        if (c->nodata_at == 0)
            cmsb_source_log(&r->s->base, TSPS_LOG_INFO,
                            "msg=\"dav: sync-collection refuses card data, "
                            "asking etags only\" href=\"%s\" "
                            "retry_s=%d",
                            c->href, DAV_NODATA_RETRY);
        c->nodata_at = r->now;
    }
}

static int sync_one(run *r, dav_coll *c)
{
    int full = c->token == NULL || c->token[0] == '\0';
    char *req = NULL;
    int rc = CMSB_OK, retried = 0, data;

    /* calendars: a full load when new (a listing calendar has no token:
     * it is new when it was never expanded) and when the window moves */
    if (c->kind == DAV_CAL &&
        ((c->sync ? full : c->exp == 0) || r->now - c->exp >= REEXPAND_EVERY ||
         r->now < c->exp))
        return cal_full(r, c);
    if (!c->sync)
        return list_sync(r, c, r->audit, 0);
    /* a server that refused the card data here lately is asked for
     * etags only (one request less to build and parse), and asked for
     * the data again once a day: an upgraded server gets the one round
     * trip back */
    data =
        r->s->sync_data > 0 && !(c->nodata_at > 0 && r->now >= c->nodata_at &&
                                 r->now - c->nodata_at < DAV_NODATA_RETRY);
    if (!full && (req = strdup(c->token)) == NULL)
        return CMSB_ENOMEM;
    if (full)
        unsee(c);
    for (int page = 0; page < MAX_PAGES && rc == CMSB_OK; page++) {
        dav_ms ms;
        long code;
        dav_hrefs h = {0};
        size_t n_data = 0, n_del = 0, data_bytes = 0, n_refused = 0;
        int back;
        /* the card data in the REPORT itself (one round trip for a
         * change), streamed: at most s->sync_data bytes of it are kept,
         * members past that (and members a server answers without data,
         * such as Xandikos) are fetched by query or multiget */
        rc = sync_report(r, c, req, data, &ms, &code);
        if (rc != CMSB_OK)
            break;
        if (code == 404) {
            c->gone = 1;
            dav_ms_free(&ms);
            break;
        }
        back = code == 207 && !full && req != NULL && ms.sync_token != NULL &&
               token_backwards(req, ms.sync_token);
        if ((token_refused(code) || back) && !full && !retried) {
            if (back)
                cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                                "msg=\"dav: sync token went backwards, full "
                                "resync\" href=\"%s\" sent=\"%s\" got=\"%s\"",
                                c->href, req, ms.sync_token);
            else
                cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                                "msg=\"dav: sync token refused, full resync\" "
                                "href=\"%s\" status=%ld valid_sync_token=%d",
                                c->href, code,
                                (ms.errors & DAV_ERR_SYNC_TOKEN) != 0);
            dav_ms_free(&ms);
            free(req);
            req = NULL;
            full = 1;
            retried = 1;
            page = -1;
            unsee(c);
            if (dav_set(&c->token, NULL) != CMSB_OK)
                rc = CMSB_ENOMEM;
            continue;
        }
        if (code != 207) {
            dav_ms_free(&ms);
            if (full && page == 0) {
                /* no sync-collection, or no empty initial token (Google) */
                cmsb_source_log(&r->s->base, TSPS_LOG_INFO,
                                "msg=\"dav: sync-collection refused, "
                                "listing\" href=\"%s\" status=%ld",
                                c->href, code);
                free(req);
                return list_sync(r, c, r->audit, 0);
            }
            cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                            "msg=\"dav: sync-collection failed\" href=\"%s\" "
                            "status=%ld",
                            c->href, code);
            rc = CMSB_EIO;
            break;
        }
        /* group cards first: their members in the same page then resolve
         * without being fetched again */
        for (size_t j = 0; j < 2 * ms.n && rc == CMSB_OK; j++) {
            dav_resp *x = &ms.r[j % ms.n];
            dav_item *it;
            int grp = c->kind == DAV_BOOK && x->data != NULL &&
                      vc_has_kind(x->data, x->data_len);
            if (grp != (j < ms.n))
                continue;
            /* iCloud lists the collection itself among the changes */
            if (dav_href_eq(x->href, c->href))
                continue;
            if (x->status == 404) {
                n_del++;
                rc = delete_item(r, c, x->href);
                continue;
            }
            it = dav_map_add(&c->items, x->href);
            if (it == NULL) {
                rc = CMSB_ENOMEM;
                break;
            }
            it->seen = 1;
            n_refused += x->data_refused;
            if (it->etag != NULL && x->etag != NULL &&
                strcmp(it->etag, x->etag) == 0)
                continue;
            if (x->data != NULL) {
                n_data++;
                data_bytes += x->data_len;
                rc = process(r, c, it, x->etag, x->data, x->data_len);
            } else {
                rc = dav_hrefs_add(&h, x->href);
            }
        }
        /* what came with its data and what needs a fetch (a server that
         * leaves the data out: Xandikos; a full sync) */
        if (rc == CMSB_OK)
            cmsb_source_log(&r->s->base, TSPS_LOG_DEBUG,
                            "msg=\"dav: sync-collection page\" href=\"%s\" "
                            "asked_data=%d deleted=%zu with_data=%zu "
                            "data_bytes=%zu to_fetch=%zu",
                            c->href, data, n_del, n_data, data_bytes, h.n);
        if (rc == CMSB_OK && data)
            note_data(r, c, n_data, n_refused);
        if (rc == CMSB_OK)
            rc = fetch_bulk(r, c, h.v, h.n);
        dav_hrefs_free(&h);
        free(req);
        req = ms.sync_token != NULL ? strdup(ms.sync_token) : NULL;
        if (rc == CMSB_OK && !full && req != NULL) {
            /* each page is a consistent point */
            rc = dav_set(&c->token, req);
            if (rc == CMSB_OK)
                rc = checkpoint(r, 1);
        }
        if (!ms.truncated || req == NULL || rc != CMSB_OK) {
            dav_ms_free(&ms);
            break;
        }
        dav_ms_free(&ms);
    }
    if (rc == CMSB_OK && !full && !c->gone && c->kind == DAV_BOOK)
        rc = fetch_unknown(r, c);
    if (rc == CMSB_OK && full && !c->gone) {
        rc = sweep(r, c);
        if (rc == CMSB_OK)
            rc = dav_set(&c->token, req);
        if (rc == CMSB_OK)
            rc = checkpoint(r, 1);
    }
    free(req);
    /* the audit: every etag against the map, whatever the token says */
    if (rc == CMSB_OK && r->audit && !full && !c->gone)
        rc = list_sync(r, c, 1, 1);
    return rc;
}

static uint64_t fingerprint(const dav_src *s)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    vc_buf b = {0};
    uint64_t h;

    vc_buf_printf(&b, "%c|%d|%s|%s|%s|%s|%u|%s|%lld|%lld", s->kind, s->nosync,
                  o->code_property, o->category_prefix, o->note_prefix,
                  o->known_codes ? o->known_codes : "-", o->forms, o->tz,
                  (long long)o->event_past_s, (long long)o->event_future_s);
    for (size_t i = 0; i < s->nurls; i++)
        vc_buf_printf(&b, "|%s", s->urls[i]);
    h = vc_hash(b.p, b.len);
    vc_buf_free(&b);
    return h;
}

static void drop_coll(dav_state *st, size_t i)
{
    free(st->c[i].href);
    free(st->c[i].token);
    free(st->c[i].ctag);
    dav_map_free(&st->c[i].items);
    memmove(&st->c[i], &st->c[i + 1], (st->n - i - 1) * sizeof(st->c[0]));
    st->n--;
}

int dav_changes(dav_src *s, const char *since, cmsb_change_cb cb, void *arg)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    dav_state st;
    run r;
    int rc = CMSB_OK, pr;

    memset(&r, 0, sizeof(r));
    r.s = s;
    r.st = &st;
    r.cb = cb;
    r.arg = arg;
    r.fp = fingerprint(s);
    r.now = cmsb_source_now(&s->base);
    r.from = r.now - o->event_past_s;
    r.to = r.now + o->event_future_s;
    if (since != NULL && s->have_st && s->st_cur.len > 0 &&
        strcmp(since, s->st_cur.p) == 0) {
        /* the cursor the last sync handed out, stored as it was: its
         * state is still in memory (parsing 10k members costs more than
         * the rest of an incremental sync) */
        st = s->st;
        memset(&s->st, 0, sizeof(s->st));
        s->have_st = 0;
        for (size_t i = 0; i < st.n; i++)
            unsee(&st.c[i]);
        pr = 1;
    } else {
        pr = dav_state_parse(&st, since, r.fp);
    }
    s->st_cur.len = 0; /* until this sync ends well */
    if (pr < 0 && since != NULL)
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"cursor not understood, full reread\" url=\"%s\"",
                        s->urls[0]);
    /* no cursor: the collections the open (or the last sync) found are
     * still good; discovery runs once for a new source, not twice */
    if (pr < 0 && s->st.n > 0)
        rc = dav_state_colls(&st, &s->st);
    if (pr < 1) {
        st.audit_at = r.now; /* everything is compared anyway */
    } else if (s->audit_s > 0 &&
               (r.now - st.audit_at >= s->audit_s || r.now < st.audit_at)) {
        r.audit = 1;
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"dav: audit, comparing every etag\" url=\"%s\"",
                        s->urls[0]);
    }
    r.gdirty = 1; /* the member map is built from the state when needed */
    if (rc == CMSB_OK && (st.n == 0 || r.now - st.disc_at >= DISCOVER_EVERY ||
                          r.now < st.disc_at))
        rc = dav_discover(s, &st);
    for (size_t i = 0; i < st.n && rc == CMSB_OK && !r.stop; i++) {
        dav_coll *c = &st.c[i];
        if (!c->gone)
            rc = sync_one(&r, c);
        if (rc == CMSB_OK && c->gone) {
            /* the collection went away: so did its members */
            cmsb_source_log(&s->base, TSPS_LOG_INFO,
                            "msg=\"dav: collection gone\" href=\"%s\"",
                            c->href);
            unsee(c);
            rc = sweep(&r, c);
            if (rc == CMSB_OK) {
                drop_coll(&st, i);
                i--;
                st.disc_at = 0; /* look again next time */
                r.clean = 0;
            }
        }
        if (rc == CMSB_OK)
            cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                            "msg=\"dav: collection synced\" index=%zu", i);
    }
    if (rc == CMSB_OK && !r.stop)
        rc = regroup(&r);
    if (rc == CMSB_OK && r.audit && !r.stop) {
        st.audit_at = r.now;
        r.clean = 0;
    }
    /* every path of sync_one() ends with a checkpoint: another one would
     * only serialise the same cursor again */
    if (rc == CMSB_OK && !r.clean)
        rc = checkpoint(&r, 1);
    if (rc == CMSB_OK && r.stop)
        rc = CMSB_ECANCELED;
    if (rc == CMSB_OK) {
        /* keep the newest state for write-back lookups */
        dav_state_free(&s->st);
        s->st = st;
        s->have_st = 1;
        vc_buf_free(&s->st_cur);
        s->st_cur = r.cur; /* what the last checkpoint said: st */
        memset(&r.cur, 0, sizeof(r.cur));
    } else {
        dav_state_free(&st);
    }
    vc_buf_free(&r.cur);
    vc_buf_free(&r.uids);
    vc_map_free(&r.groups);
    return rc;
}

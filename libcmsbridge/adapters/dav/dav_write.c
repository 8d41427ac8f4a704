/* Writing a handling code back over CardDAV: GET the card (bytes + ETag),
 * edit only the code field with vcard-dir's write-back helper, PUT with
 * If-Match. A 412 means someone else changed the card in between: fetch it
 * again, reapply, retry (bounded), so their edit is kept, never
 * overwritten. Clearing a code also drops the contact from the coded
 * group cards that list it (each its own resource, edited the same way);
 * a new code is written as the property, which wins over groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"

#define WRITE_ATTEMPTS 5

static int noop(void *arg, const cmsb_change *ch)
{
    (void)arg;
    (void)ch;
    return 0;
}

/* The href of the resource holding contact uid (from the last sync). */
static int find_href(dav_src *s, const char *uid, vc_buf *href)
{
    size_t ul = strlen(uid);

    for (size_t i = 0; i < s->st.n; i++) {
        const dav_coll *c = &s->st.c[i];
        if (c->kind != DAV_BOOK)
            continue;
        for (size_t k = 0; k < c->items.nb; k++)
            for (const dav_item *it = c->items.b[k]; it != NULL;
                 it = it->next) {
                for (const char *p = it->uids; p != NULL && *p != '\0';) {
                    const char *nl = strchr(p, '\n');
                    size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
                    if (p[0] == 'C' && n == ul + 1 &&
                        memcmp(p + 1, uid, ul) == 0) {
                        href->len = 0;
                        if (vc_buf_str(href, it->href) != CMSB_OK ||
                            vc_buf_add(href, "", 1) != CMSB_OK)
                            return CMSB_ENOMEM;
                        return CMSB_OK;
                    }
                    p = nl != NULL ? nl + 1 : NULL;
                }
            }
    }
    return CMSB_ENOTFOUND;
}

/* The group code of uid from the last sync's state (into gc, "" = none). */
static int group_code(dav_src *s, const char *uid, char gc[TSPS_CODE_MAX])
{
    vc_map map = {0};
    const char *v;
    int rc = dav_groups_build(&s->st, &map);

    v = vc_map_get(&map, uid);
    snprintf(gc, TSPS_CODE_MAX, "%s", rc == CMSB_OK && v != NULL ? v : "");
    vc_map_free(&map);
    return rc;
}

/* GET a card resource: CMSB_OK with a 200 reply in *get (the caller frees
 * it), CMSB_ENOTFOUND when it is gone, CMSB_EIO on another status. */
static int get_card(dav_src *s, const char *href, dav_reply *get)
{
    int rc = dav_request(s, "GET", href, NULL, NULL, NULL, get);

    if (rc != CMSB_OK)
        return rc;
    if (get->status == 200)
        return CMSB_OK;
    if (get->status != 404 && get->status != 410)
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: GET failed\" href=\"%s\" status=%ld", href,
                        get->status);
    rc = get->status == 404 || get->status == 410 ? CMSB_ENOTFOUND : CMSB_EIO;
    dav_reply_free(get);
    return rc;
}

/* PUT the edited card back with If-Match on the etag of the GET: 1 =
 * written, 0 = 412 (changed meanwhile), or a CMSB_E* error. */
static int put_if_match(dav_src *s, const char *href, const dav_reply *get,
                        const vc_buf *out)
{
    dav_reply put;
    int rc;

    if (get->etag[0] == '\0')
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: no ETag, writing without If-Match\" "
                        "href=\"%s\"",
                        href);
    cmsb_source_log(&s->base, TSPS_LOG_DEBUG,
                    "msg=\"dav: put\" href=\"%s\" etag=%s", href, get->etag);
    rc = dav_request(s, "PUT", href, NULL, out->p,
                     get->etag[0] != '\0' ? get->etag : NULL, &put);
    if (rc != CMSB_OK)
        return rc;
    if (put.status >= 200 && put.status < 300) {
        rc = 1;
    } else if (put.status == 412) {
        rc = 0;
    } else {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: PUT failed\" href=\"%s\" status=%ld", href,
                        put.status);
        rc = CMSB_EIO;
    }
    dav_reply_free(&put);
    return rc;
}

/* One GET-edit-PUT round. 1 = written (or nothing to change), 0 = 412,
 * or a CMSB_E* error. */
static int attempt(dav_src *s, const char *href, const char *uid,
                   const char *code, vc_card_hit *hit)
{
    dav_reply get;
    vc_buf out = {0};
    char gc[TSPS_CODE_MAX];
    int set_form = TSPS_CODE_SRC_NONE, src;
    unsigned clear = 0;
    int rc;

    rc = get_card(s, href, &get);
    if (rc != CMSB_OK)
        return rc;
    memset(hit, 0, sizeof(*hit));
    hit->uid = uid;
    rc = vc_parse(get.body.p != NULL ? get.body.p : "", get.body.len, &s->conf,
                  href, vc_on_hit, vc_quiet, hit);
    if (rc == CMSB_ECANCELED)
        rc = CMSB_OK;
    if (rc == CMSB_OK && !hit->found)
        rc = CMSB_ENOTFOUND;
    if (rc == CMSB_OK)
        rc = group_code(s, uid, gc);
    if (rc != CMSB_OK)
        goto out;
    vc_resolve_code(&s->conf, &hit->card, gc);
    src = hit->card.c.code_source;
    if (code[0] == '\0') {
        /* a group code is dropped with the membership (drop_groups) */
        if (src == TSPS_CODE_SRC_NONE || src == TSPS_CODE_SRC_GROUP) {
            rc = 1;
            goto out;
        }
        clear = CMSB_FORM_ALL;
    } else {
        if (strcmp(hit->card.c.code, code) == 0) {
            rc = 1; /* already so */
            goto out;
        }
        set_form = src == TSPS_CODE_SRC_NONE || src == TSPS_CODE_SRC_GROUP
                       ? TSPS_CODE_SRC_PROPERTY
                       : src;
    }
    rc = vc_edit_code(get.body.p, get.body.len, &s->conf, uid, set_form, code,
                      clear, &out);
    if (rc == CMSB_ENOTSUP && set_form != TSPS_CODE_SRC_PROPERTY &&
        code[0] != '\0') {
        /* the field cannot be edited in place; the property form wins
         * over the others anyway */
        out.len = 0;
        rc = vc_edit_code(get.body.p, get.body.len, &s->conf, uid,
                          TSPS_CODE_SRC_PROPERTY, code, 0, &out);
    }
    if (rc == CMSB_OK)
        rc = vc_buf_add(&out, "", 1);
    if (rc != CMSB_OK)
        goto out;
    rc = put_if_match(s, href, &get, &out);
    if (rc == 1)
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"code written\" href=\"%s\" code=%s", href,
                        code[0] ? code : "-");
    else if (rc == 0)
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"dav: card changed meanwhile, reapplying\" "
                        "href=\"%s\"",
                        href);
out:
    vc_buf_free(&out);
    dav_reply_free(&get);
    return rc;
}

/* Remove uid from the group card named code in the resource href (GET,
 * edit, PUT with If-Match; a 412 is retried). 1 = done or nothing to do,
 * 0 = 412, or a CMSB_E* error. */
static int drop_once(dav_src *s, const char *href, const char *code,
                     const char *uid)
{
    dav_reply get;
    vc_buf out = {0};
    int rc;

    rc = get_card(s, href, &get);
    if (rc == CMSB_ENOTFOUND)
        return 1; /* the group is gone: so is the membership */
    if (rc != CMSB_OK)
        return rc;
    rc = vc_edit_member(get.body.p != NULL ? get.body.p : "", get.body.len,
                        &s->conf, code, uid, 0, &out);
    if (rc == CMSB_ENOTFOUND) {
        rc = 1; /* renamed or no longer a member meanwhile */
        goto out;
    }
    if (rc == CMSB_OK)
        rc = vc_buf_add(&out, "", 1);
    if (rc != CMSB_OK)
        goto out;
    rc = put_if_match(s, href, &get, &out);
    if (rc == 1)
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"group membership dropped\" href=\"%s\" "
                        "group=%s uid=\"%s\"",
                        href, code, uid);
out:
    vc_buf_free(&out);
    dav_reply_free(&get);
    return rc;
}

static int drop_member(dav_src *s, const char *href, const char *code,
                       const char *uid)
{
    int k = 0;

    for (int i = 0; i < WRITE_ATTEMPTS && k == 0; i++)
        k = drop_once(s, href, code, uid);
    return k == 1 ? CMSB_OK : k == 0 ? CMSB_ECONFLICT : k;
}

/* The coded groups of one resource that list uid: each is dropped. */
static int drop_in(dav_src *s, const dav_item *it, const char *uid)
{
    char code[TSPS_CODE_MAX] = "";
    size_t ul = strlen(uid);
    int rc = CMSB_OK;

    for (const char *p = it->uids; p != NULL && *p != '\0' && rc == CMSB_OK;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (p[0] == 'G')
            vc_copy(code, sizeof(code), p + 1, n - 1);
        else if (p[0] != 'M')
            code[0] = '\0';
        else if (code[0] != '\0' && n == ul + 1 && memcmp(p + 1, uid, ul) == 0)
            rc = drop_member(s, it->href, code, uid);
        p = nl != NULL ? nl + 1 : NULL;
    }
    return rc;
}

/* Clearing a code: drop uid from every coded group card that lists it
 * (the state's G/M lines say which resources hold one). */
static int drop_groups(dav_src *s, const char *uid)
{
    int rc = CMSB_OK;

    for (size_t i = 0; i < s->st.n && rc == CMSB_OK; i++) {
        const dav_coll *c = &s->st.c[i];
        if (c->kind != DAV_BOOK)
            continue;
        for (size_t k = 0; k < c->items.nb && rc == CMSB_OK; k++)
            for (const dav_item *it = c->items.b[k];
                 it != NULL && rc == CMSB_OK; it = it->next)
                rc = drop_in(s, it, uid);
    }
    return rc;
}

int dav_write_code(cmsb_source *base, const char *uid, const char *code)
{
    dav_src *s = (dav_src *)base;
    vc_buf href = {0};
    vc_card_hit *hit;
    int rc = CMSB_OK;

    if (!s->have_st)
        rc = dav_changes(s, NULL, noop, NULL);
    if (rc == CMSB_OK)
        rc = find_href(s, uid, &href);
    if (rc == CMSB_ENOTFOUND && s->have_st) {
        /* maybe added since the last sync */
        rc = dav_changes(s, NULL, noop, NULL);
        if (rc == CMSB_OK)
            rc = find_href(s, uid, &href);
    }
    if (rc != CMSB_OK) {
        vc_buf_free(&href);
        return rc;
    }
    hit = malloc(sizeof(*hit));
    if (hit == NULL) {
        vc_buf_free(&href);
        return CMSB_ENOMEM;
    }
    rc = CMSB_ECONFLICT;
    for (int i = 0; i < WRITE_ATTEMPTS; i++) {
        int k = attempt(s, href.p, uid, code, hit);
        if (k == 0)
            continue;
        rc = k == 1 ? CMSB_OK : k;
        break;
    }
    if (rc == CMSB_OK && code[0] == '\0')
        rc = drop_groups(s, uid);
    free(hit);
    vc_buf_free(&href);
    return rc;
}

/* ---- a new contact ("add to contacts") ---- */

#define CREATE_ATTEMPTS 3 /* new uids tried when the name is taken (412) */

/* The address book new cards go to: the first one of the source. */
static const dav_coll *first_book(dav_src *s)
{
    if (s->st.n == 0) {
        /* the open found none or could not ask (server down then) */
        dav_state_free(&s->st);
        if (dav_discover(s, &s->st) != CMSB_OK)
            return NULL;
    }
    for (size_t i = 0; i < s->st.n; i++)
        if (s->st.c[i].kind == DAV_BOOK && !s->st.c[i].gone)
            return &s->st.c[i];
    return NULL;
}

/* One PUT of a new resource: 1 = created, 0 = the name is taken (412),
 * or a CMSB_E* error (logged). */
static int put_new(dav_src *s, const char *href, const vc_buf *card)
{
    dav_reply put;
    int rc = dav_request_cond(s, "PUT", href, NULL, card->p, NULL, "*", &put);

    if (rc != CMSB_OK)
        return rc;
    if (put.status >= 200 && put.status < 300) {
        rc = 1;
    } else if (put.status == 412) {
        rc = 0;
    } else {
        cmsb_source_log(&s->base, TSPS_LOG_WARN,
                        "msg=\"dav: PUT of a new card failed\" href=\"%s\" "
                        "status=%ld",
                        href, put.status);
        rc = put.status == 401 || put.status == 403 ? CMSB_EAUTH : CMSB_EIO;
    }
    dav_reply_free(&put);
    return rc;
}

int dav_create_contact(cmsb_source *base, const tsps_contact *c,
                       const char *code, char *uid_out)
{
    dav_src *s = (dav_src *)base;
    const dav_coll *book = first_book(s);
    char uid[64];
    vc_buf card = {0}, href = {0};
    int rc = CMSB_OK, k = 0;

    if (book == NULL) {
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"dav: no address book for a new contact\" "
                        "url=\"%s\"",
                        s->urls[0]);
        return CMSB_ENOTFOUND;
    }
    for (int i = 0; i < CREATE_ATTEMPTS && rc == CMSB_OK && k == 0; i++) {
        size_t n = strlen(book->href);
        rc = vc_new_uid(uid, sizeof(uid));
        if (rc == CMSB_OK)
            rc = vc_new_card(&s->conf, c, uid, code, &card);
        href.len = 0;
        if (rc == CMSB_OK)
            rc = vc_buf_printf(&href, "%s%s%s.vcf", book->href,
                               n > 0 && book->href[n - 1] == '/' ? "" : "/",
                               uid);
        if (rc == CMSB_OK)
            k = put_new(s, href.p, &card);
        if (k < 0)
            rc = k;
        else if (k == 0)
            cmsb_source_log(base, TSPS_LOG_INFO,
                            "msg=\"dav: name of a new card taken, new uid\" "
                            "href=\"%s\"",
                            href.p);
    }
    if (rc == CMSB_OK && k == 0)
        rc = CMSB_ECONFLICT;
    if (rc == CMSB_OK) {
        snprintf(uid_out, TSPS_UID_MAX, "%s", uid);
        cmsb_source_log(base, TSPS_LOG_INFO,
                        "msg=\"dav: contact created\" href=\"%s\" code=%s",
                        href.p, code[0] ? code : "-");
    }
    vc_buf_free(&card);
    vc_buf_free(&href);
    return rc;
}

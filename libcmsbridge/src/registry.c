/* The adapter registry, sources and the version-guarded method calls. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct cmsb_registry {
    const cmsb_adapter **ads;
    size_t n, cap;
};

/* What the core keeps for a source, placed just before the adapter's
 * struct in the same allocation (so the adapter sees plain cmsb_source *). */
typedef struct source_hdr {
    cmsb_options opt;
    char *strs[8]; /* copies of the option strings, freed on close */
} source_hdr;

#define HDR_SIZE                                                               \
    ((sizeof(source_hdr) + alignof(max_align_t) - 1) / alignof(max_align_t) *  \
     alignof(max_align_t))

static source_hdr *hdr_of(const cmsb_source *src)
{
    return (source_hdr *)((char *)(uintptr_t)src - HDR_SIZE);
}

static const cmsb_adapter *const builtin[] = {
    &cmsb_vcard_dir_adapter,
#ifdef CMSB_WITH_CARDDAV
    &cmsb_carddav_adapter,   &cmsb_caldav_adapter,
#endif
#ifdef CMSB_WITH_MAILDIR
    &cmsb_maildir_adapter,
#endif
#ifdef CMSB_WITH_IMAP
    &cmsb_imap_adapter,      &cmsb_imaps_adapter,
#endif
#ifdef CMSB_WITH_DOCS
    &cmsb_docs_dir_adapter,
#endif
#if defined(CMSB_WITH_DOCS) && defined(CMSB_WITH_CARDDAV)
    &cmsb_docs_dav_adapter,
#endif
};

int cmsb_registry_open(cmsb_registry **out)
{
    cmsb_registry *reg;
    int rc;

    if (out == NULL)
        return CMSB_EINVAL;
    *out = NULL;
    reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return CMSB_ENOMEM;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        rc = cmsb_register(reg, builtin[i]);
        if (rc != CMSB_OK) {
            cmsb_registry_close(reg);
            return rc;
        }
    }
    *out = reg;
    return CMSB_OK;
}

void cmsb_registry_close(cmsb_registry *reg)
{
    if (reg == NULL)
        return;
    free(reg->ads);
    free(reg);
}

static int scheme_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (n > 0 && (c == '-' || c == '+' || c == '.'))))
            return 0;
    }
    return n >= 1 && n <= 31;
}

int cmsb_register(cmsb_registry *reg, const cmsb_adapter *ad)
{
    /* clang-format off */
    static const struct { unsigned cap; size_t off; } need[] = {
        {CMSB_CAP_CHANGES, offsetof(cmsb_adapter, x_changes)},
        {CMSB_CAP_EVENTS,  offsetof(cmsb_adapter, x_events)},
        {CMSB_CAP_WRITE,   offsetof(cmsb_adapter, x_write_code)},
        {CMSB_CAP_RELATED, offsetof(cmsb_adapter, x_related)},
        {CMSB_CAP_WATCH,   offsetof(cmsb_adapter, x_watch_fd)},
        {CMSB_CAP_WATCH,   offsetof(cmsb_adapter, x_watch_drain)},
        {CMSB_CAP_RELATED_FOR, offsetof(cmsb_adapter, x_related_for)},
        {CMSB_CAP_CREATE,  offsetof(cmsb_adapter, x_create_contact)},
    };
    /* clang-format on */

    if (reg == NULL || ad == NULL)
        return CMSB_EINVAL;
    if (ad->version < 1 || ad->version > CMSB_ADAPTER_VERSION)
        return CMSB_EVERSION;
    if (ad->x_open == NULL || ad->x_close == NULL || ad->x_contacts == NULL)
        return CMSB_EINVAL;
    if (!scheme_valid(ad->scheme) || ad->source_size < sizeof(cmsb_source))
        return CMSB_EINVAL;
    /* a capability newer than the struct's version has no slot to read */
    if (ad->version < 2 && (ad->caps & CMSB_CAP_RELATED_FOR))
        return CMSB_EINVAL;
    if (ad->version < 3 && (ad->caps & CMSB_CAP_CREATE))
        return CMSB_EINVAL;
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        void (*fn)(void);
        if ((ad->caps & need[i].cap) == 0)
            continue;
        memcpy(&fn, (const char *)ad + need[i].off, sizeof(fn));
        if (fn == NULL)
            return CMSB_EINVAL;
    }
    if (cmsb_registry_find(reg, ad->scheme) != NULL)
        return CMSB_EEXIST;
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 4;
        const cmsb_adapter **p = realloc(reg->ads, cap * sizeof(*p));
        if (p == NULL)
            return CMSB_ENOMEM;
        reg->ads = p;
        reg->cap = cap;
    }
    reg->ads[reg->n++] = ad;
    return CMSB_OK;
}

const cmsb_adapter *cmsb_registry_find(cmsb_registry *reg, const char *scheme)
{
    if (reg == NULL || scheme == NULL)
        return NULL;
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->ads[i]->scheme, scheme) == 0)
            return reg->ads[i];
    return NULL;
}

static int dup_opt(source_hdr *h, int slot, const char **field,
                   const char *dflt)
{
    const char *v = *field != NULL ? *field : dflt;

    if (v == NULL)
        return CMSB_OK;
    h->strs[slot] = strdup(v);
    if (h->strs[slot] == NULL)
        return CMSB_ENOMEM;
    *field = h->strs[slot];
    return CMSB_OK;
}

static int fill_options(source_hdr *h, const cmsb_options *in)
{
    cmsb_options d = CMSB_OPTIONS_INIT;
    cmsb_options *o = &h->opt;
    int rc = CMSB_OK;

    if (in == NULL)
        in = &d;
    if (in->version < 1 || in->version > CMSB_OPTIONS_VERSION)
        return CMSB_EVERSION;
    *o = *in;
    o->version = CMSB_OPTIONS_VERSION;
    if (o->forms == 0)
        o->forms = CMSB_FORM_ALL;
    if (o->event_past_s <= 0)
        o->event_past_s = 30 * 86400;
    if (o->event_future_s <= 0)
        o->event_future_s = 180 * 86400;
    if (o->code_property != NULL && o->code_property[0] == '\0')
        return CMSB_EINVAL;
    if (o->note_prefix != NULL && o->note_prefix[0] == '\0')
        return CMSB_EINVAL;
    rc = rc ? rc : dup_opt(h, 0, &o->code_property, "X-TSPS-CODE");
    rc = rc ? rc : dup_opt(h, 1, &o->category_prefix, "");
    rc = rc ? rc : dup_opt(h, 2, &o->note_prefix, "[tsps:");
    rc = rc ? rc : dup_opt(h, 3, &o->known_codes, NULL);
    rc = rc ? rc : dup_opt(h, 4, &o->tz, "UTC");
    rc = rc ? rc : dup_opt(h, 5, &o->username, NULL);
    rc = rc ? rc : dup_opt(h, 6, &o->password, NULL);
    rc = rc ? rc : dup_opt(h, 7, &o->ca_file, NULL);
    return rc;
}

static void free_hdr(source_hdr *h)
{
    for (size_t i = 0; i < sizeof(h->strs) / sizeof(h->strs[0]); i++) {
        if (i == 6 && h->strs[i] != NULL) /* password: do not leave it */
            memset(h->strs[i], 0, strlen(h->strs[i]));
        free(h->strs[i]);
    }
    free(h);
}

int cmsb_source_open(cmsb_registry *reg, const char *uri,
                     const cmsb_options *opt, cmsb_source **out)
{
    char scheme[32];
    const char *colon;
    const cmsb_adapter *ad;
    source_hdr *h = NULL;
    cmsb_source *src;
    int rc;

    if (out == NULL)
        return CMSB_EINVAL;
    *out = NULL;
    if (reg == NULL || uri == NULL)
        return CMSB_EINVAL;
    colon = strchr(uri, ':');
    if (colon == NULL || colon == uri ||
        (size_t)(colon - uri) >= sizeof(scheme))
        return CMSB_EINVAL;
    memcpy(scheme, uri, (size_t)(colon - uri));
    scheme[colon - uri] = '\0';
    ad = cmsb_registry_find(reg, scheme);
    if (ad == NULL)
        return CMSB_ENOSCHEME;

    h = calloc(1, HDR_SIZE + ad->source_size);
    if (h == NULL)
        return CMSB_ENOMEM;
    rc = fill_options(h, opt);
    if (rc != CMSB_OK)
        goto cleanup;
    src = (cmsb_source *)((char *)h + HDR_SIZE);
    rc = ad->x_open(ad, uri, &h->opt, src);
    if (rc != CMSB_OK) {
        /* SQLite's pMethods contract: close only what the adapter marked. */
        if (src->adapter != NULL)
            ad->x_close(src);
        goto cleanup;
    }
    src->adapter = ad;
    *out = src;
    h = NULL;
cleanup:
    if (h != NULL)
        free_hdr(h);
    return rc;
}

void cmsb_source_close(cmsb_source *src)
{
    if (src == NULL)
        return;
    src->adapter->x_close(src);
    free_hdr(hdr_of(src));
}

unsigned cmsb_source_caps(const cmsb_source *src)
{
    return src != NULL ? src->adapter->caps : 0;
}

const char *cmsb_source_scheme(const cmsb_source *src)
{
    return src != NULL ? src->adapter->scheme : "";
}

const cmsb_options *cmsb_source_options(const cmsb_source *src)
{
    return &hdr_of(src)->opt;
}

int64_t cmsb_source_now(const cmsb_source *src)
{
    const cmsb_options *o = cmsb_source_options(src);
    return o->now != 0 ? o->now : (int64_t)time(NULL);
}

void cmsb_source_log(const cmsb_source *src, int level, const char *fmt, ...)
{
    const cmsb_options *o = cmsb_source_options(src);
    char msg[512];
    va_list ap;

    if (o->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->log(o->log_arg, level, msg);
}

int cmsb_code_normalize(const char *s, size_t len, char out[TSPS_CODE_MAX])
{
    if (s == NULL || len == 0 || len >= TSPS_CODE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
        out[i] = c;
    }
    out[len] = '\0';
    return 1;
}

/* ---- guarded calls: a method is used only if the version and the caps
 * say it exists (docs/style.md §2). ---- */

int cmsb_contacts(cmsb_source *src, cmsb_contact_cb cb, void *arg)
{
    if (src == NULL || cb == NULL)
        return CMSB_EINVAL;
    return src->adapter->x_contacts(src, cb, arg);
}

int cmsb_events(cmsb_source *src, int64_t from, int64_t to, cmsb_event_cb cb,
                void *arg)
{
    const cmsb_adapter *ad;

    if (src == NULL || cb == NULL || to <= from)
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_EVENTS) ||
        ad->x_events == NULL)
        return CMSB_ENOTSUP;
    return ad->x_events(src, from, to, cb, arg);
}

int cmsb_changes(cmsb_source *src, const char *since, cmsb_change_cb cb,
                 void *arg)
{
    const cmsb_adapter *ad;

    if (src == NULL || cb == NULL)
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_CHANGES) ||
        ad->x_changes == NULL)
        return CMSB_ENOTSUP;
    return ad->x_changes(src, since, cb, arg);
}

int cmsb_write_code(cmsb_source *src, const char *uid, const char *code)
{
    char norm[TSPS_CODE_MAX] = "";
    const cmsb_adapter *ad;

    if (src == NULL || uid == NULL || uid[0] == '\0' || code == NULL)
        return CMSB_EINVAL;
    if (code[0] != '\0' && !cmsb_code_normalize(code, strlen(code), norm))
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_WRITE) ||
        ad->x_write_code == NULL)
        return CMSB_ENOTSUP;
    return ad->x_write_code(src, uid, norm);
}

int cmsb_related(cmsb_source *src, const char *contact_uid,
                 const cmsb_criteria *crit, cmsb_item_cb cb, void *arg)
{
    cmsb_criteria c = CMSB_CRITERIA_INIT;
    const cmsb_adapter *ad;

    if (src == NULL || contact_uid == NULL || cb == NULL)
        return CMSB_EINVAL;
    if (crit != NULL) {
        if (crit->version < 1 || crit->version > CMSB_CRITERIA_VERSION)
            return CMSB_EVERSION;
        c = *crit;
    }
    if (c.kinds == 0)
        c.kinds = CMSB_ITEM_EMAIL | CMSB_ITEM_EVENT | CMSB_ITEM_DOCUMENT;
    if (c.from == 0 && c.to == 0) {
        /* no dates: the source's event window around now */
        const cmsb_options *o = cmsb_source_options(src);
        int64_t now = cmsb_source_now(src);
        c.from = now - o->event_past_s;
        c.to = now + o->event_future_s;
    }
    if (c.to == 0)
        c.to = c.from + 365 * 86400;
    if (c.to <= c.from)
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_RELATED) ||
        ad->x_related == NULL)
        return CMSB_ENOTSUP;
    return ad->x_related(src, contact_uid, &c, cb, arg);
}

int cmsb_watch_fd(cmsb_source *src, int *fd)
{
    const cmsb_adapter *ad;

    if (fd != NULL)
        *fd = -1;
    if (src == NULL || fd == NULL)
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_WATCH) ||
        ad->x_watch_fd == NULL)
        return CMSB_ENOTSUP;
    return ad->x_watch_fd(src, fd);
}

int cmsb_watch_drain(cmsb_source *src)
{
    const cmsb_adapter *ad;

    if (src == NULL)
        return CMSB_EINVAL;
    ad = src->adapter;
    if (ad->version < 1 || !(ad->caps & CMSB_CAP_WATCH) ||
        ad->x_watch_drain == NULL)
        return CMSB_ENOTSUP;
    return ad->x_watch_drain(src);
}

int cmsb_related_for(cmsb_source *src, const tsps_contact *who,
                     const cmsb_related_query *q, cmsb_related_cb cb, void *arg)
{
    cmsb_related_query c = CMSB_RELATED_QUERY_INIT;
    const cmsb_adapter *ad;

    if (src == NULL || who == NULL || cb == NULL)
        return CMSB_EINVAL;
    if (q != NULL) {
        if (q->version < 1 || q->version > CMSB_RELATED_QUERY_VERSION)
            return CMSB_EVERSION;
        c = *q;
        c.version = CMSB_RELATED_QUERY_VERSION;
    }
    if (c.kinds == 0)
        c.kinds = CMSB_ITEM_EMAIL | CMSB_ITEM_EVENT | CMSB_ITEM_DOCUMENT;
    if (c.limit == 0)
        c.limit = 50;
    if (c.since != 0 && c.until != 0 && c.until <= c.since)
        return CMSB_EINVAL;
    ad = src->adapter;
    /* version 2 slot: an older adapter's struct ends before it */
    if (ad->version < 2 || !(ad->caps & CMSB_CAP_RELATED_FOR) ||
        ad->x_related_for == NULL)
        return CMSB_ENOTSUP;
    return ad->x_related_for(src, who, &c, cb, arg);
}

int cmsb_create_contact(cmsb_source *src, const tsps_contact *c,
                        const char *code, char uid_out[TSPS_UID_MAX])
{
    char norm[TSPS_CODE_MAX] = "", uid[TSPS_UID_MAX] = "";
    const cmsb_adapter *ad;
    int rc;

    if (src == NULL || c == NULL || code == NULL)
        return CMSB_EINVAL;
    if (code[0] != '\0' && !cmsb_code_normalize(code, strlen(code), norm))
        return CMSB_EINVAL;
    ad = src->adapter;
    /* version 3 slot: an older adapter's struct ends before it */
    if (ad->version < 3 || !(ad->caps & CMSB_CAP_CREATE) ||
        ad->x_create_contact == NULL)
        return CMSB_ENOTSUP;
    rc = ad->x_create_contact(src, c, norm, uid);
    if (rc == CMSB_OK && uid_out != NULL)
        memcpy(uid_out, uid, sizeof(uid));
    return rc;
}

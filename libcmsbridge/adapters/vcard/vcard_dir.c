/* The vcard-dir adapter: a folder of vCard (.vcf) and iCalendar (.ics)
 * files, as Outlook, Google, Apple and Thunderbird export them. This file
 * holds the vtable and the change engine; parsing, state, iCalendar and
 * write-back live beside it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcard_dir.h"

#define CHECKPOINT_EVERY 2500 /* records between resumable checkpoints */

static uint64_t fingerprint(const vcd_source *s)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    vc_buf b = {0};
    uint64_t h;

    vc_buf_printf(&b, "%s|%s|%s|%s|%u|%s|%lld|%lld", o->code_property,
                  o->category_prefix, o->note_prefix,
                  o->known_codes ? o->known_codes : "-", o->forms, o->tz,
                  (long long)o->event_past_s, (long long)o->event_future_s);
    h = vc_hash(b.p, b.len);
    vc_buf_free(&b);
    return h;
}

static int open_src(const cmsb_adapter *ad, const char *uri,
                    const cmsb_options *opt, cmsb_source *base)
{
    vcd_source *s = (vcd_source *)base;
    const char *path = strchr(uri, ':') + 1;
    char *end;

    if (strncmp(path, "//", 2) == 0) {
        path += 2;
        if (strncmp(path, "localhost/", 10) == 0)
            path += 9;
        else if (path[0] != '/')
            return CMSB_EINVAL; /* a remote host: not a folder */
    }
    if (path[0] == '\0')
        return CMSB_EINVAL;
    s->base.adapter = ad;
    s->ino_fd = -1;
    s->root = strdup(path);
    if (s->root == NULL)
        return CMSB_ENOMEM;
    end = s->root + strlen(s->root);
    while (end > s->root + 1 && end[-1] == '/')
        *--end = '\0';
    s->conf.code_prop = opt->code_property;
    s->conf.cat_prefix = opt->category_prefix;
    s->conf.note_prefix = opt->note_prefix;
    s->conf.known = opt->known_codes;
    s->conf.forms = opt->forms;
    {
        struct stat sb;
        if (stat(s->root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            cmsb_source_log(base, TSPS_LOG_ERROR,
                            "msg=\"not a folder\" path=\"%s\"", s->root);
            return CMSB_ENOTFOUND;
        }
    }
    return CMSB_OK;
}

static void close_src(cmsb_source *base)
{
    vcd_source *s = (vcd_source *)base;

    if (s->ino_fd >= 0)
        close(s->ino_fd);
    vc_buf_free(&s->cur);
    free(s->root);
}

int vcd_full_path(const vcd_source *s, const char *rel, char *buf, size_t len)
{
    if ((size_t)snprintf(buf, len, "%s/%s", s->root, rel) >= len)
        return CMSB_EINVAL;
    return CMSB_OK;
}

/* ---- the change engine ---- */

typedef struct run {
    vcd_source *s;
    vc_state st;
    uint64_t fp;
    cmsb_change_cb cb;
    void *arg;
    vc_map gnew; /* member uid -> group code, after this sync */
    vc_file *f;  /* file being processed */
    vc_map seen; /* uids the file produced */
    int had_err;
    int stop;
    size_t since_cp;
    int64_t now;
    vc_buf *cur;
    int contacts_only; /* a listing: leave the calendars alone */
    size_t kept;       /* bytes of file content kept from pass A */
    vc_map claims;     /* uid -> number of files holding it */
    int have_claims;
} run;

static int send(run *r, const cmsb_change *ch)
{
    if (r->stop)
        return 1;
    if (r->cb(r->arg, ch) != 0)
        r->stop = 1;
    if (ch->kind != CMSB_CHANGE_CHECKPOINT)
        r->since_cp++;
    return r->stop;
}

static void file_err(void *arg, int line, const char *reason)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_ERROR};

    r->had_err = 1;
    cmsb_source_log(&r->s->base, TSPS_LOG_WARN,
                    "msg=\"skipped malformed entry\" file=\"%s\" line=%d "
                    "reason=\"%s\"",
                    r->f->path, line, reason);
    ch.file = r->f->path;
    ch.line = line;
    ch.reason = reason;
    send(r, &ch);
}

static int body_add(vc_buf *b, char tag, const char *uid)
{
    char pre[2] = {tag, ' '};
    int rc = vc_buf_add(b, pre, 2);

    if (rc == CMSB_OK)
        rc = vc_buf_str(b, uid);
    return rc == CMSB_OK ? vc_buf_add(b, "\n", 1) : rc;
}

/* G lines of a group card: "G <code>\t<member>\t...\n" */
static int group_line(vc_buf *b, const vc_card *k)
{
    int rc = vc_buf_printf(b, "G %s", k->group_code);
    const char *m = k->members.p;

    for (size_t i = 0; i < k->nmembers && rc == CMSB_OK; i++) {
        rc = vc_buf_add(b, "\t", 1);
        if (rc == CMSB_OK)
            rc = vc_buf_str(b, m);
        m += strlen(m) + 1;
    }
    return rc == CMSB_OK ? vc_buf_add(b, "\n", 1) : rc;
}

static int on_card(void *arg, vc_card *k)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_CONTACT_PUT};

    if (k->is_group) {
        if (k->group_code[0] == '\0')
            return 0;
        return group_line(&r->f->n_body, k) != CMSB_OK;
    }
    vc_resolve_code(&r->s->conf, k, vc_map_get(&r->gnew, k->c.uid));
    if ((!r->contacts_only &&
         body_add(&r->f->n_body, 'C', k->c.uid) != CMSB_OK) ||
        (r->f->has_old && vc_map_put(&r->seen, k->c.uid, "") != CMSB_OK))
        return 1;
    ch.contact = &k->c;
    return send(r, &ch);
}

static int on_event(void *arg, const tsps_event *ev, const char *org)
{
    run *r = arg;
    cmsb_change ch = {.kind = CMSB_CHANGE_EVENT_PUT};

    (void)org;
    if (body_add(&r->f->n_body, 'E', ev->uid) != CMSB_OK ||
        (r->f->has_old && vc_map_put(&r->seen, ev->uid, "") != CMSB_OK))
        return 1;
    ch.event = ev;
    return send(r, &ch);
}

/* Old uids of a file the new parse did not produce: deleted, unless the
 * file had errors (then kept: a card that broke is not a card removed). */
/* A uid may sit in two files (an export of the whole book beside a single
 * card): it leaves the store only when no file holds it any more. The
 * counts are built on the first deletion and kept up to date after. */
static int claims_add(vc_map *m, const char *body, int delta)
{
    const char *p = body;

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n > 2 && (p[0] == 'C' || p[0] == 'E') && n - 2 < TSPS_UID_MAX) {
            char uid[TSPS_UID_MAX], v[16];
            const char *cur;
            memcpy(uid, p + 2, n - 2);
            uid[n - 2] = '\0';
            cur = vc_map_get(m, uid);
            snprintf(v, sizeof(v), "%d", (cur != NULL ? atoi(cur) : 0) + delta);
            if (vc_map_put(m, uid, v) != CMSB_OK)
                return CMSB_ENOMEM;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return CMSB_OK;
}

static const char *claim_body(const vc_file *f)
{
    if (f->deleted || !f->present)
        return NULL;
    if (f->processed && !f->meta_only)
        return f->n_body.p;
    return f->o_body;
}

static int still_claimed(run *r, const char *uid, int *yes)
{
    const char *v;

    if (!r->have_claims) {
        for (size_t i = 0; i < r->st.n; i++)
            if (claims_add(&r->claims, claim_body(&r->st.f[i]), 1) != CMSB_OK)
                return CMSB_ENOMEM;
        r->have_claims = 1;
    }
    v = vc_map_get(&r->claims, uid);
    *yes = v != NULL && atoi(v) > 0;
    return CMSB_OK;
}

static int settle_old(run *r, vc_file *f, int keep)
{
    char *p = f->o_body;

    while (p != NULL && *p != '\0' && !r->stop) {
        char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char uid[TSPS_UID_MAX];
        if (n > 2 && (p[0] == 'C' || p[0] == 'E') && n - 2 < sizeof(uid)) {
            memcpy(uid, p + 2, n - 2);
            uid[n - 2] = '\0';
            if (vc_map_get(&r->seen, uid) == NULL) {
                if (keep) {
                    if (body_add(&f->n_body, p[0], uid) != CMSB_OK)
                        return CMSB_ENOMEM;
                } else {
                    cmsb_change ch = {.kind = p[0] == 'C'
                                                  ? CMSB_CHANGE_CONTACT_DELETE
                                                  : CMSB_CHANGE_EVENT_DELETE,
                                      .uid = uid};
                    int yes = 0;
                    if (still_claimed(r, uid, &yes) != CMSB_OK)
                        return CMSB_ENOMEM;
                    if (!yes)
                        send(r, &ch);
                }
            }
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return CMSB_OK;
}

static int checkpoint(run *r, int force)
{
    cmsb_change ch = {.kind = CMSB_CHANGE_CHECKPOINT};

    if (r->contacts_only || (!force && r->since_cp < CHECKPOINT_EVERY))
        return 0; /* a listing has no cursor to give */
    if (vc_state_write(&r->st, r->fp, r->cur) != CMSB_OK)
        return -1;
    r->since_cp = 0;
    ch.cursor = r->cur->p;
    return send(r, &ch);
}

static int process_file(run *r, vc_file *f)
{
    char path[4096];
    char *data = f->data;
    size_t len = f->dlen;
    int rc = CMSB_OK;

    r->f = f;
    r->had_err = 0;
    vc_map_free(&r->seen);
    f->n_body.len = 0;
    f->data = NULL;
    if (data == NULL) {
        rc = vcd_full_path(r->s, f->path, path, sizeof(path));
        if (rc == CMSB_OK)
            rc = vc_read_file(path, &data, &len);
        if (rc != CMSB_OK) {
            /* keep the old state: the next sync tries again */
            file_err(r, 0, "cannot read file");
            return rc == CMSB_ENOMEM ? rc : CMSB_OK;
        }
        f->hashed = 0;
    }
    if (!f->hashed)
        f->n_hash = vc_hash(data, len);
    if (f->kind == VC_VCF) {
        rc = vc_parse(data, len, &r->s->conf, f->path, on_card, file_err, r);
    } else {
        const cmsb_options *o = cmsb_source_options(&r->s->base);
        rc = vc_ical_expand(data, len, r->now - o->event_past_s,
                            r->now + o->event_future_s, o->tz, on_event,
                            file_err, r);
        f->n_exp = r->now;
    }
    free(data);
    if (r->stop)
        return CMSB_ECANCELED;
    if (rc != CMSB_OK)
        return rc;
    f->processed = 1;
    if (r->have_claims) {
        rc = claims_add(&r->claims, f->o_body, -1);
        if (rc == CMSB_OK)
            rc = claims_add(&r->claims, f->n_body.p, 1);
    }
    if (rc == CMSB_OK && f->has_old)
        rc = settle_old(r, f, r->had_err);
    f->has_new = 1;
    return rc;
}

/* Pass A over a changed file: its hash, and its group cards. */
static int on_group_scan(void *arg, vc_card *k)
{
    vc_file *f = arg;

    if (!k->is_group || k->group_code[0] == '\0')
        return 0;
    return group_line(&f->groups, k) != CMSB_OK;
}

static void quiet_err(void *arg, int line, const char *reason)
{
    (void)arg;
    (void)line;
    (void)reason;
}

/* Content kept from pass A for pass B, at most this much in all. */
#define KEEP_BUDGET ((size_t)32 << 20)

static int pass_a(run *r, vc_file *f, int *unchanged)
{
    char path[4096];
    char *data = NULL;
    size_t len = 0;
    int rc;

    *unchanged = 0;
    rc = vcd_full_path(r->s, f->path, path, sizeof(path));
    if (rc == CMSB_OK)
        rc = vc_read_file(path, &data, &len);
    if (rc != CMSB_OK)
        return rc == CMSB_ENOMEM ? rc : CMSB_OK; /* pass B reports it */
    f->n_hash = vc_hash(data, len);
    f->hashed = 1;
    if (f->has_old && f->n_hash == f->o_hash)
        *unchanged = 1;
    if (!*unchanged && f->kind == VC_VCF && vc_has_kind(data, len))
        rc = vc_parse(data, len, &r->s->conf, f->path, on_group_scan, quiet_err,
                      f);
    if (!*unchanged && r->kept + len <= KEEP_BUDGET) {
        r->kept += len;
        f->data = data;
        f->dlen = len;
        data = NULL;
    }
    free(data);
    return rc;
}

/* Fold "G code\tm1\tm2" lines of a body into uid -> code (lowest code
 * wins when a contact is in several coded groups). */
static int groups_from(vc_map *m, const char *body)
{
    const char *p = body;

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n > 2 && p[0] == 'G') {
            char line[8192], *save = NULL, *code, *mem;
            if (n >= sizeof(line))
                n = sizeof(line) - 1;
            memcpy(line, p + 2, n - 2);
            line[n - 2] = '\0';
            code = strtok_r(line, "\t", &save);
            while (code != NULL && (mem = strtok_r(NULL, "\t", &save))) {
                const char *old = vc_map_get(m, mem);
                if ((old == NULL || strcmp(code, old) < 0) &&
                    vc_map_put(m, mem, code) != CMSB_OK)
                    return CMSB_ENOMEM;
            }
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return CMSB_OK;
}

/* Contacts whose group code changes must be re-sent although their own
 * file did not change: mark those files for processing. */
static void regroup(run *r, const vc_map *gold)
{
    for (size_t i = 0; i < r->st.n; i++) {
        vc_file *f = &r->st.f[i];
        const char *p = f->o_body;
        if (f->todo || !f->present || f->kind != VC_VCF)
            continue;
        while (p != NULL && *p != '\0' && !f->todo) {
            const char *nl = strchr(p, '\n');
            size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
            if (n > 2 && p[0] == 'C' && n - 2 < TSPS_UID_MAX) {
                char uid[TSPS_UID_MAX];
                const char *a, *b;
                memcpy(uid, p + 2, n - 2);
                uid[n - 2] = '\0';
                a = vc_map_get(gold, uid);
                b = vc_map_get(&r->gnew, uid);
                if ((a == NULL) != (b == NULL) ||
                    (a != NULL && strcmp(a, b) != 0)) {
                    f->todo = 1;
                    f->meta_only = 0;
                }
            }
            p = nl != NULL ? nl + 1 : NULL;
        }
    }
}

static int run_changes(vcd_source *s, const char *since, cmsb_change_cb cb,
                       void *arg, int contacts_only)
{
    run r;
    vc_map gold = {0};
    int rc = CMSB_OK, reparse_all = 0, any_groups = 0;

    memset(&r, 0, sizeof(r));
    r.s = s;
    r.cb = cb;
    r.arg = arg;
    r.fp = fingerprint(s);
    r.now = cmsb_source_now(&s->base);
    r.cur = &s->cur;
    r.contacts_only = contacts_only;
    if (since != NULL) {
        int k = vc_state_parse(&r.st, since, r.fp);
        if (k < 0) {
            cmsb_source_log(&s->base, TSPS_LOG_WARN,
                            "msg=\"cursor not understood, full reread\" "
                            "path=\"%s\"",
                            s->root);
            vc_state_free(&r.st);
        }
        reparse_all = k == 0;
    }
    rc = vc_state_scan(&r.st, s->root);
    /* what changed? */
    for (size_t i = 0; i < r.st.n && rc == CMSB_OK; i++) {
        vc_file *f = &r.st.f[i];
        int same = 0;
        if (!f->present) {
            f->deleted = f->has_old;
            continue;
        }
        if (contacts_only && f->kind == VC_ICS)
            continue;
        if (f->has_old && !reparse_all && f->mtime == f->o_mtime &&
            f->size == f->o_size &&
            (f->kind == VC_VCF || r.now - f->o_exp < 86400))
            continue;
        rc = pass_a(&r, f, &same);
        if (same && !reparse_all &&
            (f->kind == VC_VCF || r.now - f->o_exp < 86400)) {
            /* touched, not changed: new mtime, same content */
            f->has_new = 1;
            f->meta_only = 1;
            f->n_hash = f->o_hash;
            f->n_exp = f->o_exp;
            continue;
        }
        f->todo = 1;
    }
    /* group membership before and after */
    for (size_t i = 0; i < r.st.n && rc == CMSB_OK; i++) {
        vc_file *f = &r.st.f[i];
        if (f->o_body != NULL && strstr(f->o_body, "G ") != NULL) {
            any_groups = 1;
            rc = groups_from(&gold, f->o_body);
        }
        if (rc == CMSB_OK && f->present) {
            const char *b = f->todo ? f->groups.p : f->o_body;
            if (b != NULL && b[0] != '\0') {
                any_groups = any_groups || strstr(b, "G ") != NULL;
                rc = groups_from(&r.gnew, b);
            }
        }
    }
    if (rc == CMSB_OK && any_groups)
        regroup(&r, &gold);
    /* deletions first, then changed files in path order */
    for (size_t i = 0; i < r.st.n && rc == CMSB_OK && !r.stop; i++) {
        vc_file *f = &r.st.f[i];
        if (!f->deleted)
            continue;
        r.f = f;
        vc_map_free(&r.seen);
        rc = settle_old(&r, f, 0);
        f->has_old = 0;
        if (rc == CMSB_OK && checkpoint(&r, 0) < 0)
            rc = CMSB_ENOMEM;
    }
    for (size_t i = 0; i < r.st.n && rc == CMSB_OK && !r.stop; i++) {
        vc_file *f = &r.st.f[i];
        if (!f->todo)
            continue;
        rc = process_file(&r, f);
        if (rc == CMSB_OK && checkpoint(&r, 0) < 0)
            rc = CMSB_ENOMEM;
    }
    if (rc == CMSB_OK && !r.stop && checkpoint(&r, 1) < 0)
        rc = CMSB_ENOMEM;
    if (rc == CMSB_OK && r.stop)
        rc = CMSB_ECANCELED;
    vc_map_free(&gold);
    vc_map_free(&r.claims);
    vc_map_free(&r.gnew);
    vc_map_free(&r.seen);
    vc_state_free(&r.st);
    return rc;
}

static int changes_src(cmsb_source *base, const char *since, cmsb_change_cb cb,
                       void *arg)
{
    return run_changes((vcd_source *)base, since, cb, arg, 0);
}

static int contacts_src(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    vc_list_ctx l = {cb, arg};

    return run_changes((vcd_source *)base, NULL, vc_only_contacts, &l, 1);
}

/* ---- events in a window ---- */

typedef struct ev_ctx {
    vcd_source *s;
    const char *path;
    vcd_event_fn cb;
    void *arg;
} ev_ctx;

static void ev_err(void *arg, int line, const char *reason)
{
    ev_ctx *e = arg;

    cmsb_source_log(&e->s->base, TSPS_LOG_WARN,
                    "msg=\"skipped malformed entry\" file=\"%s\" line=%d "
                    "reason=\"%s\"",
                    e->path, line, reason);
}

static int ev_fwd(void *arg, const tsps_event *ev, const char *org)
{
    ev_ctx *e = arg;

    return e->cb(e->arg, ev, org);
}

int vcd_each_event(vcd_source *s, int64_t from, int64_t to, vcd_event_fn cb,
                   void *arg)
{
    const cmsb_options *o = cmsb_source_options(&s->base);
    vc_state st = {0};
    int rc = vc_state_scan(&st, s->root);

    for (size_t i = 0; i < st.n && rc == CMSB_OK; i++) {
        char path[4096], *data = NULL;
        size_t len = 0;
        ev_ctx e = {s, st.f[i].path, cb, arg};
        if (st.f[i].kind != VC_ICS ||
            vcd_full_path(s, st.f[i].path, path, sizeof(path)) != CMSB_OK ||
            vc_read_file(path, &data, &len) != CMSB_OK)
            continue;
        rc = vc_ical_expand(data, len, from, to, o->tz, ev_fwd, ev_err, &e);
        free(data);
    }
    vc_state_free(&st);
    return rc;
}

typedef struct evl_ctx {
    cmsb_event_cb cb;
    void *arg;
} evl_ctx;

static int evl_fwd(void *arg, const tsps_event *ev, const char *org)
{
    evl_ctx *e = arg;

    (void)org;
    return e->cb(e->arg, ev);
}

static int events_src(cmsb_source *base, int64_t from, int64_t to,
                      cmsb_event_cb cb, void *arg)
{
    evl_ctx e = {cb, arg};

    return vcd_each_event((vcd_source *)base, from, to, evl_fwd, &e);
}

const cmsb_adapter cmsb_vcard_dir_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(vcd_source),
    .scheme = "vcard-dir",
    .caps = CMSB_CAP_CHANGES | CMSB_CAP_EVENTS | CMSB_CAP_WRITE |
            CMSB_CAP_RELATED | CMSB_CAP_WATCH | CMSB_CAP_CREATE,
    .x_open = open_src,
    .x_close = close_src,
    .x_contacts = contacts_src,
    .x_changes = changes_src,
    .x_events = events_src,
    .x_write_code = vcd_write_code,
    .x_related = vcd_related,
    .x_watch_fd = vcd_watch_fd,
    .x_watch_drain = vcd_watch_drain,
    .x_create_contact = vcd_create_contact,
};

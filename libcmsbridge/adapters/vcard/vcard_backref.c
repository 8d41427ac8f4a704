/* vcard-dir: writing a code back to a card (atomically, temp + rename) and
 * listing the events related to a contact. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcard_dir.h"

typedef struct groups_ctx {
    vc_map member; /* uid -> group code */
    vc_map file;   /* group code -> relative path */
    const char *path;
    int err;
} groups_ctx;

static int on_group(void *arg, vc_card *k)
{
    groups_ctx *g = arg;
    const char *m = k->members.p;

    if (!k->is_group || k->group_code[0] == '\0')
        return 0;
    if (vc_map_get(&g->file, k->group_code) == NULL &&
        vc_map_put(&g->file, k->group_code, g->path) != CMSB_OK)
        g->err = CMSB_ENOMEM;
    for (size_t i = 0; i < k->nmembers; i++, m += strlen(m) + 1) {
        const char *old = vc_map_get(&g->member, m);
        if ((old == NULL || strcmp(k->group_code, old) < 0) &&
            vc_map_put(&g->member, m, k->group_code) != CMSB_OK)
            g->err = CMSB_ENOMEM;
    }
    return g->err != CMSB_OK;
}

/* Find the file holding card `uid` (and, with g, every group card).
 * "<uid>.vcf" is tried first: one card per file is the common layout. */
static int locate(vcd_source *s, const char *uid, groups_ctx *g,
                  vc_card_hit *hit, char **relpath)
{
    vc_state st = {0};
    int rc = vc_state_scan(&st, s->root);
    char want[TSPS_UID_MAX + 8];

    *relpath = NULL;
    snprintf(want, sizeof(want), "%s.vcf", uid);
    for (int round = 0; round < 2 && rc == CMSB_OK; round++) {
        for (size_t i = 0; i < st.n && rc == CMSB_OK; i++) {
            char path[4096], *data = NULL;
            size_t len = 0;
            const char *base = strrchr(st.f[i].path, '/');
            int first =
                strcmp(base != NULL ? base + 1 : st.f[i].path, want) == 0;
            if (st.f[i].kind != VC_VCF || (round == 0) != first)
                continue;
            if (hit->found && g == NULL)
                break;
            if (vcd_full_path(s, st.f[i].path, path, sizeof(path)) != CMSB_OK ||
                vc_read_file(path, &data, &len) != CMSB_OK)
                continue;
            if (g != NULL && vc_has_kind(data, len)) {
                g->path = st.f[i].path;
                rc = vc_parse(data, len, &s->conf, st.f[i].path, on_group,
                              vc_quiet, g);
                if (rc == CMSB_OK)
                    rc = g->err;
            }
            if (rc == CMSB_OK && !hit->found) {
                int r = vc_parse(data, len, &s->conf, st.f[i].path, vc_on_hit,
                                 vc_quiet, hit);
                if (r != CMSB_OK && r != CMSB_ECANCELED)
                    rc = r;
                if (hit->found) {
                    *relpath = strdup(st.f[i].path);
                    if (*relpath == NULL)
                        rc = CMSB_ENOMEM;
                }
            }
            free(data);
        }
    }
    vc_state_free(&st);
    if (rc == CMSB_OK && !hit->found)
        rc = CMSB_ENOTFOUND;
    return rc;
}

/* Replace a file's content atomically, unless it changed since it was
 * read (same size and mtime as `was`). */
static int write_atomic(const char *path, const struct stat *was,
                        const vc_buf *data)
{
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    struct stat now;
    size_t off = 0;
    int fd;

    snprintf(tmp, sizeof(tmp), "%.*s.%s.tsps-XXXXXX",
             slash != NULL ? (int)(slash - path + 1) : 0, path,
             slash != NULL ? slash + 1 : path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return CMSB_EIO;
    while (off < data->len) {
        ssize_t n = write(fd, data->p + off, data->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off != data->len || fchmod(fd, was->st_mode & 07777) != 0 ||
        fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return CMSB_EIO;
    }
    close(fd);
    if (stat(path, &now) != 0 || now.st_size != was->st_size ||
        now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != was->st_mtim.tv_nsec) {
        unlink(tmp);
        return CMSB_ECONFLICT;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return CMSB_EIO;
    }
    return CMSB_OK;
}

typedef int (*edit_fn)(const char *in, size_t len, void *arg, vc_buf *out);

static int rewrite(vcd_source *s, const char *rel, edit_fn fn, void *arg)
{
    char path[4096], *data = NULL;
    size_t len = 0;
    struct stat sb;
    vc_buf out = {0};
    int rc = vcd_full_path(s, rel, path, sizeof(path));

    if (rc == CMSB_OK && stat(path, &sb) != 0)
        rc = CMSB_EIO;
    if (rc == CMSB_OK)
        rc = vc_read_file(path, &data, &len);
    if (rc == CMSB_OK)
        rc = fn(data, len, arg, &out);
    if (rc == CMSB_OK)
        rc = write_atomic(path, &sb, &out);
    if (rc == CMSB_OK)
        cmsb_source_log(&s->base, TSPS_LOG_INFO,
                        "msg=\"code written\" file=\"%s\"", rel);
    free(data);
    vc_buf_free(&out);
    return rc;
}

typedef struct code_edit {
    vcd_source *s;
    const char *uid, *code;
    int set_form;
    unsigned clear;
} code_edit;

static int do_code(const char *in, size_t len, void *arg, vc_buf *out)
{
    code_edit *c = arg;

    return vc_edit_code(in, len, &c->s->conf, c->uid, c->set_form, c->code,
                        c->clear, out);
}

typedef struct member_edit {
    vcd_source *s;
    const char *code, *uid;
    int add;
} member_edit;

static int do_member(const char *in, size_t len, void *arg, vc_buf *out)
{
    member_edit *m = arg;

    return vc_edit_member(in, len, &m->s->conf, m->code, m->uid, m->add, out);
}

int vcd_write_code(cmsb_source *base, const char *uid, const char *code)
{
    vcd_source *s = (vcd_source *)base;
    groups_ctx g;
    vc_card_hit *hit = calloc(1, sizeof(*hit));
    char *rel = NULL, oldgroup[TSPS_CODE_MAX] = "";
    code_edit ce = {s, uid, code, TSPS_CODE_SRC_NONE, 0};
    int rc, src;

    if (hit == NULL)
        return CMSB_ENOMEM;
    memset(&g, 0, sizeof(g));
    hit->uid = uid;
    rc = locate(s, uid, &g, hit, &rel);
    if (rc != CMSB_OK)
        goto out;
    {
        const char *gc = vc_map_get(&g.member, uid);
        if (gc != NULL)
            snprintf(oldgroup, sizeof(oldgroup), "%s", gc);
    }
    vc_resolve_code(&s->conf, &hit->card, oldgroup);
    src = hit->card.c.code_source;
    if (code[0] == '\0') {
        ce.clear = CMSB_FORM_ALL;
    } else if (src == TSPS_CODE_SRC_GROUP) {
        /* move the membership if a group of that name exists */
        if (vc_map_get(&g.file, code) == NULL)
            ce.set_form = TSPS_CODE_SRC_PROPERTY;
    } else {
        ce.set_form = src == TSPS_CODE_SRC_NONE ? TSPS_CODE_SRC_PROPERTY : src;
    }
    if (ce.set_form != TSPS_CODE_SRC_NONE || ce.clear != 0) {
        rc = rewrite(s, rel, do_code, &ce);
        if (rc == CMSB_ENOTSUP && ce.set_form != TSPS_CODE_SRC_PROPERTY &&
            code[0] != '\0') {
            /* the field cannot be edited in place: the property form
             * takes precedence over the other forms anyway */
            ce.set_form = TSPS_CODE_SRC_PROPERTY;
            rc = rewrite(s, rel, do_code, &ce);
        }
    }
    if (rc == CMSB_OK && oldgroup[0] != '\0' &&
        (code[0] == '\0' || src == TSPS_CODE_SRC_GROUP) &&
        strcmp(oldgroup, code) != 0) {
        member_edit me = {s, oldgroup, uid, 0};
        rc = rewrite(s, vc_map_get(&g.file, oldgroup), do_member, &me);
        if (rc == CMSB_OK && code[0] != '\0' &&
            ce.set_form == TSPS_CODE_SRC_NONE) {
            me.code = code;
            me.add = 1;
            rc = rewrite(s, vc_map_get(&g.file, code), do_member, &me);
        }
    }
out:
    vc_map_free(&g.member);
    vc_map_free(&g.file);
    free(rel);
    free(hit);
    return rc;
}

/* ---- related items ---- */

typedef struct rel_ctx {
    const vc_card *card;
    cmsb_item *items;
    size_t n, cap;
    int err;
} rel_ctx;

static int on_rel_event(void *arg, const tsps_event *ev, const char *org)
{
    rel_ctx *r = arg;
    const char *role = NULL;

    for (int i = 0; i < ev->nattendees && role == NULL; i++)
        for (int j = 0; j < r->card->c.nemails && role == NULL; j++)
            if (strcmp(ev->attendees[i], r->card->c.emails[j]) == 0)
                role = strcmp(org, ev->attendees[i]) == 0 ? "organizer"
                                                          : "attendee";
    if (role == NULL)
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        cmsb_item *p = realloc(r->items, cap * sizeof(*p));
        if (p == NULL) {
            r->err = CMSB_ENOMEM;
            return 1;
        }
        r->items = p;
        r->cap = cap;
    }
    {
        cmsb_item *it = &r->items[r->n++];
        memset(it, 0, sizeof(*it));
        it->kind = CMSB_ITEM_EVENT;
        snprintf(it->uid, sizeof(it->uid), "%s", ev->uid);
        snprintf(it->title, sizeof(it->title), "%s", ev->summary);
        it->start = ev->start;
        it->end = ev->end;
        snprintf(it->role, sizeof(it->role), "%s", role);
    }
    return 0;
}

static int cmp_item(const void *a, const void *b)
{
    const cmsb_item *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return strcmp(x->uid, y->uid);
}

int vcd_related(cmsb_source *base, const char *uid, const cmsb_criteria *crit,
                cmsb_item_cb cb, void *arg)
{
    vcd_source *s = (vcd_source *)base;
    vc_card_hit *hit = calloc(1, sizeof(*hit));
    rel_ctx r = {0};
    char *rel = NULL;
    int rc;

    if (hit == NULL)
        return CMSB_ENOMEM;
    hit->uid = uid;
    rc = locate(s, uid, NULL, hit, &rel);
    if (rc == CMSB_OK && (crit->kinds & CMSB_ITEM_EVENT) &&
        hit->card.c.nemails > 0) {
        r.card = &hit->card;
        rc = vcd_each_event(s, crit->from, crit->to, on_rel_event, &r);
        if (rc == CMSB_ECANCELED && r.err != CMSB_OK)
            rc = r.err;
    }
    if (rc == CMSB_OK) {
        if (r.n > 0)
            qsort(r.items, r.n, sizeof(cmsb_item), cmp_item);
        for (size_t i = 0; i < r.n; i++) {
            if (crit->limit != 0 && i >= crit->limit)
                break;
            snprintf(r.items[i].ref, sizeof(r.items[i].ref), "vcard-dir:%s",
                     s->root);
            if (cb(arg, &r.items[i]) != 0) {
                rc = CMSB_ECANCELED;
                break;
            }
        }
    }
    free(r.items);
    free(rel);
    free(hit);
    return rc;
}

/* The folder state kept in the sync cursor: per file its mtime, size,
 * content hash and the uids it produced, so a sync rereads only what
 * changed and knows what a deleted file took with it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcard.h"

#define MAGIC     "cmsb-vcard-dir 1"
#define MAX_DEPTH 8

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const vc_file *)a)->path, ((const vc_file *)b)->path);
}

static vc_file *add_file(vc_state *st, const char *path, size_t n)
{
    vc_file *f;

    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        vc_file *p = realloc(st->f, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        st->f = p;
        st->cap = cap;
    }
    f = &st->f[st->n];
    memset(f, 0, sizeof(*f));
    f->path = strndup(path, n);
    if (f->path == NULL)
        return NULL;
    st->n++;
    return f;
}

void vc_state_free(vc_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->f[i].path);
        free(st->f[i].o_body);
        vc_buf_free(&st->f[i].n_body);
        vc_buf_free(&st->f[i].groups);
        free(st->f[i].data);
    }
    free(st->f);
    memset(st, 0, sizeof(*st));
}

int vc_state_parse(vc_state *st, const char *cursor, uint64_t fingerprint)
{
    const char *p, *nl;
    unsigned long long fp = 0;
    vc_file *cur = NULL;
    const char *body = NULL;

    if (cursor == NULL || strncmp(cursor, MAGIC " ", sizeof(MAGIC)) != 0 ||
        (fp = strtoull(cursor + sizeof(MAGIC), NULL, 16)) == 0)
        return -1;
    p = strchr(cursor, '\n');
    if (p == NULL)
        return -1;
    p++;
    for (;; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL || p[0] == 'F') {
            if (cur != NULL && body != NULL) {
                cur->o_body = strndup(body, (size_t)(p - body));
                if (cur->o_body == NULL)
                    return -1;
            }
            cur = NULL;
            body = NULL;
        }
        if (nl == NULL)
            break;
        if (p[0] == 'F') {
            /* F\t<kind>\t<mtime>\t<size>\t<hash>\t<expanded>\t<path>;
             * no sscanf: it would strlen() the whole cursor per line */
            const char *q = p + 1;
            long long mt, sz, ex;
            unsigned long long h;
            char kind, *e;
            if (q[0] != '\t' || q[1] == '\0' || q[2] != '\t')
                continue; /* damaged line: the file will look new */
            kind = q[1];
            q += 3;
            mt = strtoll(q, &e, 10);
            if (*e != '\t')
                continue;
            sz = strtoll(e + 1, &e, 10);
            if (*e != '\t')
                continue;
            h = strtoull(e + 1, &e, 16);
            if (*e != '\t')
                continue;
            ex = strtoll(e + 1, &e, 10);
            if (*e != '\t' || e + 1 >= nl)
                continue;
            cur = add_file(st, e + 1, (size_t)(nl - e - 1));
            if (cur == NULL)
                return -1;
            cur->kind = kind == VC_ICS ? VC_ICS : VC_VCF;
            cur->has_old = 1;
            cur->o_mtime = mt;
            cur->o_size = sz;
            cur->o_hash = h;
            cur->o_exp = ex;
            body = nl + 1;
        }
    }
    if (st->n > 0)
        qsort(st->f, st->n, sizeof(vc_file), cmp_file);
    return fp == fingerprint ? 1 : 0;
}

int vc_state_write(const vc_state *st, uint64_t fingerprint, vc_buf *b)
{
    size_t need = 64;
    int rc;

    /* one allocation of the right size: cursors run to megabytes */
    for (size_t i = 0; i < st->n; i++) {
        const vc_file *f = &st->f[i];
        const char *body =
            f->has_new && !f->meta_only ? f->n_body.p : f->o_body;
        need += 96 + strlen(f->path) + (body != NULL ? strlen(body) : 0);
    }
    b->len = 0;
    if (b->cap < need) {
        char *p = realloc(b->p, need);
        if (p == NULL)
            return CMSB_ENOMEM;
        b->p = p;
        b->cap = need;
    }
    rc = vc_buf_printf(b, "%s %016llx\n", MAGIC,
                       (unsigned long long)fingerprint);
    for (size_t i = 0; i < st->n && rc == CMSB_OK; i++) {
        const vc_file *f = &st->f[i];
        const char *body;
        if (f->has_new) {
            rc = vc_buf_printf(b, "F\t%c\t%lld\t%lld\t%016llx\t%lld\t", f->kind,
                               (long long)f->mtime, (long long)f->size,
                               (unsigned long long)f->n_hash,
                               (long long)f->n_exp);
            body = f->meta_only ? f->o_body : f->n_body.p;
        } else if (f->has_old) {
            rc = vc_buf_printf(b, "F\t%c\t%lld\t%lld\t%016llx\t%lld\t", f->kind,
                               (long long)f->o_mtime, (long long)f->o_size,
                               (unsigned long long)f->o_hash,
                               (long long)f->o_exp);
            body = f->o_body;
        } else {
            continue;
        }
        if (rc == CMSB_OK)
            rc = vc_buf_str(b, f->path);
        if (rc == CMSB_OK)
            rc = vc_buf_add(b, "\n", 1);
        if (rc == CMSB_OK && body != NULL)
            rc = vc_buf_str(b, body);
    }
    return rc;
}

static int kind_of(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL)
        return 0;
    if (strcasecmp(dot, ".vcf") == 0 || strcasecmp(dot, ".vcard") == 0)
        return VC_VCF;
    if (strcasecmp(dot, ".ics") == 0 || strcasecmp(dot, ".ical") == 0)
        return VC_ICS;
    return 0;
}

typedef struct scan_ent {
    char *path;
    int kind;
    int64_t mtime, size;
} scan_ent;

typedef struct scan_list {
    scan_ent *e;
    size_t n, cap;
} scan_list;

static int scan_dir(scan_list *l, int dfd, const char *rel, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = CMSB_OK;

    d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return CMSB_EIO;
    }
    while (rc == CMSB_OK && (de = readdir(d)) != NULL) {
        struct stat sb;
        char path[4096];
        int kind;
        if (de->d_name[0] == '.' || strpbrk(de->d_name, "\t\n\r") != NULL)
            continue; /* hidden, temp files of writers, unrepresentable */
        if (fstatat(dirfd(d), de->d_name, &sb, 0) != 0)
            continue; /* vanished meanwhile */
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel,
                             rel[0] ? "/" : "", de->d_name) >= sizeof(path))
            continue;
        if (S_ISDIR(sb.st_mode)) {
            int sub;
            if (depth >= MAX_DEPTH)
                continue;
            sub = openat(dirfd(d), de->d_name,
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0)
                rc = scan_dir(l, sub, path, depth + 1);
            continue;
        }
        kind = kind_of(de->d_name);
        if (!S_ISREG(sb.st_mode) || kind == 0)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 256;
            scan_ent *p = realloc(l->e, cap * sizeof(*p));
            if (p == NULL) {
                rc = CMSB_ENOMEM;
                break;
            }
            l->e = p;
            l->cap = cap;
        }
        l->e[l->n].path = strdup(path);
        if (l->e[l->n].path == NULL) {
            rc = CMSB_ENOMEM;
            break;
        }
        l->e[l->n].kind = kind;
        l->e[l->n].mtime =
            (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        l->e[l->n].size = (int64_t)sb.st_size;
        l->n++;
    }
    closedir(d);
    return rc;
}

static int cmp_scan(const void *a, const void *b)
{
    return strcmp(((const scan_ent *)a)->path, ((const scan_ent *)b)->path);
}

int vc_state_scan(vc_state *st, const char *root)
{
    scan_list l = {0};
    int dfd, rc;
    size_t nold = st->n, i = 0, j = 0;

    dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return CMSB_EIO;
    rc = scan_dir(&l, dfd, "", 0);
    if (rc == CMSB_OK && l.n > 0)
        qsort(l.e, l.n, sizeof(scan_ent), cmp_scan);
    /* merge the sorted scan into the sorted old entries */
    while (rc == CMSB_OK && j < l.n) {
        int c = i < nold ? strcmp(st->f[i].path, l.e[j].path) : 1;
        vc_file *f;
        if (c < 0) {
            i++;
            continue;
        }
        if (c == 0) {
            f = &st->f[i++];
        } else {
            f = add_file(st, l.e[j].path, strlen(l.e[j].path));
            if (f == NULL) {
                rc = CMSB_ENOMEM;
                break;
            }
        }
        f->present = 1;
        f->kind = l.e[j].kind;
        f->mtime = l.e[j].mtime;
        f->size = l.e[j].size;
        j++;
    }
    for (size_t k = 0; k < l.n; k++)
        free(l.e[k].path);
    free(l.e);
    if (rc == CMSB_OK && st->n > 0)
        qsort(st->f, st->n, sizeof(vc_file), cmp_file);
    return rc;
}

int vc_read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    char *buf;
    size_t got = 0;

    *data = NULL;
    *len = 0;
    if (fd < 0)
        return CMSB_EIO;
    if (fstat(fd, &sb) != 0 || sb.st_size < 0 ||
        sb.st_size > (off_t)256 * 1024 * 1024) {
        close(fd);
        return CMSB_EIO;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return CMSB_ENOMEM;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return CMSB_OK;
}

int vc_has_kind(const char *buf, size_t len)
{
    /* property names are case-insensitive; writers use these spellings */
    return memmem(buf, len, "KIND", 4) != NULL ||
           memmem(buf, len, "kind", 4) != NULL ||
           memmem(buf, len, "Kind", 4) != NULL;
}

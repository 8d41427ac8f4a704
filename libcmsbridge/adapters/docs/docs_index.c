/* The docs-dir index: per document its path, mtime, size, title, snippet,
 * the phone numbers found (E.164) and its text (lower case, folded, at
 * most DOCS_TEXT_MAX bytes). A scan re-reads only files whose mtime or
 * size changed; a lookup reads the index, never the files. The file is
 * a line format (fields are folded, so they hold no tab or newline):
 *   tsps-docs-index 1 <generation>
 *   D <mtime_ns> <size> <date> <textlen> <path>\n
 *   T <title>\n S <snippet>\n N <numbers>\n <text bytes>\n
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docs.h"

#define MAGIC       "tsps-docs-index 1"
#define SCAN_DEPTH  16
#define NUMBERS_MAX 64 /* distinct numbers kept per document */

void docs_entry_free(docs_entry *e)
{
    free(e->path);
    free(e->title);
    free(e->snippet);
    free(e->numbers);
    free(e->text);
    memset(e, 0, sizeof(*e));
}

void docs_index_free(docs_index *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        docs_entry_free(&ix->v[i]);
    free(ix->v);
    memset(ix, 0, sizeof(*ix));
}

docs_entry *docs_index_add(docs_index *ix)
{
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 256;
        docs_entry *p = realloc(ix->v, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        ix->v = p;
        ix->cap = cap;
    }
    memset(&ix->v[ix->n], 0, sizeof(ix->v[0]));
    return &ix->v[ix->n++];
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const docs_entry *)a)->path, ((const docs_entry *)b)->path);
}

void docs_index_sort(docs_index *ix)
{
    if (ix->n > 0)
        qsort(ix->v, ix->n, sizeof(ix->v[0]), cmp_entry);
}

docs_entry *docs_index_find(docs_index *ix, const char *path)
{
    docs_entry key = {.path = (char *)(uintptr_t)path};

    if (ix->n == 0)
        return NULL;
    return bsearch(&key, ix->v, ix->n, sizeof(ix->v[0]), cmp_entry);
}

int docs_index_touch(docs_index *ix, docs_index *add, const char *path,
                     int64_t mtime, int64_t size, docs_entry **out)
{
    docs_entry *e = docs_index_find(ix, path);

    *out = NULL;
    if (e != NULL) {
        e->seen = 1;
        if (e->mtime == mtime && e->size == size)
            return CMSB_OK;
    } else {
        e = docs_index_add(add);
        if (e == NULL)
            return CMSB_ENOMEM;
        e->path = strdup(path);
        e->seen = 1;
        if (e->path == NULL)
            return CMSB_ENOMEM;
    }
    e->mtime = mtime;
    e->size = size;
    *out = e;
    return CMSB_OK;
}

/* ---- load / save ---- */

static char *line_dup(const char **p, const char *end, char tag)
{
    const char *nl;

    if (*p + 2 > end || (*p)[0] != tag || (*p)[1] != ' ')
        return NULL;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return NULL;
    {
        char *s = strndup(*p + 2, (size_t)(nl - *p - 2));
        *p = nl + 1;
        return s;
    }
}

int docs_index_load(docs_index *ix, const char *file)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    long sz;
    const char *p, *end;
    int rc = CMSB_EPARSE;

    memset(ix, 0, sizeof(*ix));
    if (f == NULL)
        return errno == ENOENT ? CMSB_ENOTFOUND : CMSB_EIO;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return CMSB_EIO;
    }
    buf = malloc((size_t)sz + 1);
    if (buf == NULL) {
        fclose(f);
        return CMSB_ENOMEM;
    }
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(buf);
        return CMSB_EIO;
    }
    fclose(f);
    buf[sz] = '\0';
    end = buf + sz;
    if (strncmp(buf, MAGIC " ", sizeof(MAGIC)) != 0)
        goto cleanup;
    ix->generation = strtoull(buf + sizeof(MAGIC), NULL, 10);
    p = strchr(buf, '\n');
    if (p == NULL)
        goto cleanup;
    p++;
    while (p < end) {
        long long mt, size, date;
        unsigned long long tl;
        char *q;
        docs_entry *e;
        /* strtoll, not sscanf: glibc's sscanf measures the whole rest of
         * the buffer on every call (quadratic over a large index) */
        if (p[0] != 'D' || p[1] != ' ')
            goto cleanup;
        mt = strtoll(p + 2, &q, 10);
        if (*q != ' ')
            goto cleanup;
        size = strtoll(q + 1, &q, 10);
        if (*q != ' ')
            goto cleanup;
        date = strtoll(q + 1, &q, 10);
        if (*q != ' ')
            goto cleanup;
        tl = strtoull(q + 1, &q, 10);
        if (*q != ' ')
            goto cleanup;
        e = docs_index_add(ix);
        if (e == NULL) {
            rc = CMSB_ENOMEM;
            goto cleanup;
        }
        e->mtime = mt;
        e->size = size;
        e->date = date;
        p = q + 1;
        {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL)
                goto cleanup;
            e->path = strndup(p, (size_t)(nl - p));
            p = nl + 1;
        }
        e->title = line_dup(&p, end, 'T');
        e->snippet = e->title ? line_dup(&p, end, 'S') : NULL;
        e->numbers = e->snippet ? line_dup(&p, end, 'N') : NULL;
        if (e->path == NULL || e->numbers == NULL || tl > DOCS_TEXT_MAX ||
            (size_t)(end - p) < tl + 1)
            goto cleanup;
        e->text = strndup(p, tl);
        if (e->text == NULL) {
            rc = CMSB_ENOMEM;
            goto cleanup;
        }
        e->textlen = tl;
        p += tl + 1;
    }
    qsort(ix->v, ix->n, sizeof(ix->v[0]), cmp_entry);
    rc = CMSB_OK;
cleanup:
    free(buf);
    if (rc != CMSB_OK)
        docs_index_free(ix);
    return rc;
}

int docs_index_save(const docs_index *ix, const char *file)
{
    char tmp[4096];
    FILE *f;
    int ok;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >=
        sizeof(tmp))
        return CMSB_EINVAL;
    f = fopen(tmp, "wb");
    if (f == NULL)
        return CMSB_EIO;
    ok = fprintf(f, "%s %" PRIu64 "\n", MAGIC, ix->generation) > 0;
    for (size_t i = 0; i < ix->n && ok; i++) {
        const docs_entry *e = &ix->v[i];
        ok = fprintf(f, "D %" PRId64 " %" PRId64 " %" PRId64 " %zu %s\n",
                     e->mtime, e->size, e->date, e->textlen, e->path) > 0 &&
             fprintf(f, "T %s\nS %s\nN %s\n", e->title, e->snippet,
                     e->numbers) > 0 &&
             fwrite(e->text, 1, e->textlen, f) == e->textlen &&
             fputc('\n', f) != EOF;
    }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, file) != 0) {
        unlink(tmp);
        return CMSB_EIO;
    }
    return CMSB_OK;
}

/* ---- reading one document ---- */

/* Phone numbers written in the text, in any form the normaliser reads
 * ("+49 30 1234-567", "(030) 1234567", "0049 30 ..."): runs of digits
 * and separators with 7..15 digits. Without a region only numbers with
 * '+' or the "00" prefix count (a national form needs a dial plan). */
static char *numbers_in(const char *text, size_t len, const char *region)
{
    tsps_dialplan dp;
    int have_dp =
        region[0] != '\0' && tsps_dialplan_for_region(region, &dp) == TSPS_OK;
    size_t cap = 1024, o = 0, count = 0;
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    out[0] = '\0';
    if (!have_dp)
        tsps_dialplan_for_region("DE", &dp); /* only for '+'/00 forms */
    for (size_t i = 0; i < len && count < NUMBERS_MAX;) {
        char cand[40];
        size_t c = 0, digits = 0, j = i;
        tsps_number num;
        if (!(text[i] == '+' || text[i] == '(' ||
              isdigit((unsigned char)text[i])) ||
            (i > 0 &&
             (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '+'))) {
            i++;
            continue;
        }
        for (; j < len && c + 1 < sizeof(cand); j++) {
            char ch = text[j];
            if (isdigit((unsigned char)ch))
                digits++;
            else if (!(ch == ' ' || ch == '-' || ch == '.' || ch == '/' ||
                       ch == '(' || ch == ')' || (ch == '+' && c == 0)))
                break;
            cand[c++] = ch;
        }
        while (c > 0 && !isdigit((unsigned char)cand[c - 1]))
            c--;
        cand[c] = '\0';
        i = j > i ? j : i + 1;
        if (digits < 7 || digits > 15)
            continue;
        if (!have_dp && cand[0] != '+' && !(cand[0] == '0' && cand[1] == '0'))
            continue;
        if (tsps_normalize(cand, &dp, &num) != TSPS_OK ||
            num.kind != TSPS_NUM_E164 || strstr(out, num.e164) != NULL)
            continue;
        if (o + strlen(num.e164) + 2 > cap) {
            char *p = realloc(out, cap * 2);
            if (p == NULL) {
                free(out);
                return NULL;
            }
            out = p;
            cap *= 2;
        }
        o += (size_t)sprintf(out + o, "%s%s", o ? " " : "", num.e164);
        count++;
    }
    return out;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    size_t got = 0;

    *buf = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return CMSB_EIO;
    }
    if (sb.st_size > DOCS_FILE_MAX) {
        close(fd);
        return CMSB_EPARSE;
    }
    *buf = malloc((size_t)sb.st_size + 1);
    if (*buf == NULL) {
        close(fd);
        return CMSB_ENOMEM;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    (*buf)[got] = '\0';
    *len = got;
    return CMSB_OK;
}

int docs_index_read(docs_entry *e, const char *full, const char *region,
                    const char **reason)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *reason = "";
    rc = read_file(full, &buf, &len);
    if (rc == CMSB_ENOMEM)
        return rc;
    if (rc == CMSB_EPARSE)
        *reason = "file too large (indexed by name only)";
    rc = docs_index_read_mem(e, rc == CMSB_OK ? buf : NULL, len, region,
                             rc == CMSB_OK ? NULL : *reason, reason);
    free(buf);
    return rc;
}

int docs_index_read_mem(docs_entry *e, const char *buf, size_t len,
                        const char *region, const char *why_none,
                        const char **reason)
{
    char *text = NULL, *title = NULL, *folded = NULL;
    size_t tl = 0;
    const char *base = strrchr(e->path, '/');
    int rc;

    base = base ? base + 1 : e->path;
    *reason = why_none != NULL ? why_none : "";
    if (buf == NULL)
        rc = CMSB_EPARSE;
    else
        rc = docs_extract_mem(docs_kind_of(e->path), buf, len, &text, &tl,
                              &title, reason);
    if (rc == CMSB_ENOMEM)
        return rc;
    if (rc != CMSB_OK) {
        /* unreadable: still found by its name and folder */
        text = strdup("");
        tl = 0;
        if (text == NULL)
            return CMSB_ENOMEM;
    }
    free(e->title);
    free(e->snippet);
    free(e->numbers);
    free(e->text);
    e->title = title != NULL ? rel_fold(title, strlen(title), TSPS_NAME_MAX - 1)
                             : rel_fold(base, strlen(base), TSPS_NAME_MAX - 1);
    if (e->title != NULL && e->title[0] == '\0') {
        free(e->title);
        e->title = rel_fold(base, strlen(base), TSPS_NAME_MAX - 1);
    }
    free(title);
    e->snippet = rel_fold(text, tl, REL_SNIPPET_MAX);
    e->numbers = numbers_in(text, tl, region);
    folded = rel_fold(text, tl, DOCS_TEXT_MAX);
    free(text);
    if (folded != NULL)
        for (char *p = folded; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    e->text = folded;
    e->textlen = folded ? strlen(folded) : 0;
    if (e->title == NULL || e->snippet == NULL || e->numbers == NULL ||
        e->text == NULL)
        return CMSB_ENOMEM;
    /* numbers written in the file name count as well */
    {
        char *more = numbers_in(e->path, strlen(e->path), region);
        if (more == NULL)
            return CMSB_ENOMEM;
        if (more[0] != '\0') {
            size_t n = strlen(e->numbers) + strlen(more) + 2;
            char *cat = malloc(n);
            if (cat == NULL) {
                free(more);
                return CMSB_ENOMEM;
            }
            snprintf(cat, n, "%s%s%s", e->numbers, e->numbers[0] ? " " : "",
                     more);
            free(e->numbers);
            e->numbers = cat;
        }
        free(more);
    }
    return rc == CMSB_OK ? CMSB_OK : CMSB_EPARSE;
}

/* ---- scan ---- */

typedef struct scan {
    docs_index *ix;
    const char *root, *region;
    docs_fail_fn fail;
    void *arg;
    docs_scan_stats *st;
    docs_index add; /* new entries, merged after the walk */
    int changed;
} scan;

static int scan_file(scan *sc, const char *full, const char *rel,
                     const struct stat *sb)
{
    int64_t mt = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    docs_entry *e;
    const char *reason;
    int rc;

    sc->st->files++;
    rc = docs_index_touch(sc->ix, &sc->add, rel, mt, (int64_t)sb->st_size, &e);
    if (rc != CMSB_OK || e == NULL)
        return rc;
    e->date = (int64_t)sb->st_mtim.tv_sec;
    sc->changed = 1;
    sc->st->extracted++;
    rc = docs_index_read(e, full, sc->region, &reason);
    if (rc == CMSB_EPARSE) {
        sc->st->failed++;
        if (sc->fail != NULL)
            sc->fail(sc->arg, rel, reason);
        rc = CMSB_OK;
    }
    return rc;
}

static int scan_dir(scan *sc, const char *full, const char *rel, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = CMSB_OK;

    if (depth > SCAN_DEPTH)
        return CMSB_OK;
    d = opendir(full);
    if (d == NULL)
        return depth == 0 ? CMSB_EIO : CMSB_OK;
    while (rc == CMSB_OK && (de = readdir(d)) != NULL) {
        char f[4096], r[4096];
        struct stat sb;
        /* hidden files, writers' temp files and the index itself */
        if (de->d_name[0] == '.' || de->d_name[0] == '~' ||
            strpbrk(de->d_name, "\t\n\r") != NULL)
            continue;
        if ((size_t)snprintf(f, sizeof(f), "%s/%s", full, de->d_name) >=
                sizeof(f) ||
            (size_t)snprintf(r, sizeof(r), "%s%s%s", rel, rel[0] ? "/" : "",
                             de->d_name) >= sizeof(r) ||
            stat(f, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            rc = scan_dir(sc, f, r, depth + 1);
        else if (S_ISREG(sb.st_mode) && docs_kind_of(de->d_name) != DOCS_NONE)
            rc = scan_file(sc, f, r, &sb);
    }
    closedir(d);
    return rc;
}

int docs_index_scan(docs_index *ix, const char *root, const char *region,
                    docs_fail_fn fail, void *arg, docs_scan_stats *st)
{
    scan sc = {ix, root, region, fail, arg, st, {0}, 0};
    size_t o = 0;
    int rc;

    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < ix->n; i++)
        ix->v[i].seen = 0;
    rc = scan_dir(&sc, root, "", 0);
    if (rc != CMSB_OK) {
        docs_index_free(&sc.add);
        return rc;
    }
    /* drop what is gone, append what is new, keep the order by path */
    for (size_t i = 0; i < ix->n; i++) {
        if (!ix->v[i].seen) {
            docs_entry_free(&ix->v[i]);
            st->removed++;
            sc.changed = 1;
            continue;
        }
        ix->v[o++] = ix->v[i];
    }
    ix->n = o;
    for (size_t i = 0; i < sc.add.n; i++) {
        docs_entry *e = docs_index_add(ix);
        if (e == NULL) {
            for (size_t k = i; k < sc.add.n; k++)
                docs_entry_free(&sc.add.v[k]);
            free(sc.add.v);
            return CMSB_ENOMEM;
        }
        *e = sc.add.v[i];
    }
    free(sc.add.v);
    qsort(ix->v, ix->n, sizeof(ix->v[0]), cmp_entry);
    if (sc.changed)
        ix->generation++;
    return sc.changed ? 1 : 0;
}

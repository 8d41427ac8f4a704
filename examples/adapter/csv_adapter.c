/*
 * csv_adapter.c - a small, complete libcmsbridge adapter: a CSV phone list.
 *
 *   csv:/path/to/phones.csv
 *
 *   uid,name,number,code
 *   c1,Anna Schmidt,+49 30 1234567,VIP
 *   c2,"Baker, Bob",+1 415 555 0101,
 *
 * It lists contacts (x_contacts) and writes a code back into the code column
 * (x_write_code, CMSB_CAP_WRITE), changing no other byte of the file. It has
 * no incremental changes, so cmsb_sync() reloads it in one transaction. It
 * is built only against the installed <cmsb/adapter.h> and cmsb.pc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmsb/adapter.h>

#include "csv_adapter.h"

typedef struct csv_source {
    cmsb_source base; /* first: the core hands this out */
    char path[1024];
} csv_source;

/* A field of one line: [start, end) in the line, quotes removed into buf. */
typedef struct field {
    size_t start, end;
    char text[TSPS_NAME_MAX];
} field;

/* Split a line into up to `max` fields ("" quoting as RFC 4180). */
static int split(const char *line, size_t len, field *f, int max)
{
    size_t i = 0;
    int n = 0;

    while (n < max) {
        size_t o = 0;
        int q = i < len && line[i] == '"';
        f[n].start = i;
        if (q)
            i++;
        while (i < len) {
            if (q && line[i] == '"' && i + 1 < len && line[i + 1] == '"')
                i++;
            else if (q && line[i] == '"') {
                i++;
                q = 0;
                continue;
            } else if (!q && line[i] == ',')
                break;
            if (o + 1 < sizeof(f[n].text))
                f[n].text[o++] = line[i];
            i++;
        }
        f[n].text[o] = '\0';
        f[n].end = i;
        n++;
        if (i >= len)
            break;
        i++; /* the comma */
    }
    return n;
}

static int read_all(const char *path, char **data, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    long n;

    *data = NULL;
    if (fp == NULL)
        return CMSB_EIO;
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return CMSB_EIO;
    }
    *data = malloc((size_t)n + 1);
    if (*data == NULL) {
        fclose(fp);
        return CMSB_ENOMEM;
    }
    *len = fread(*data, 1, (size_t)n, fp);
    (*data)[*len] = '\0';
    fclose(fp);
    return CMSB_OK;
}

static int csv_open(const cmsb_adapter *ad, const char *uri,
                    const cmsb_options *opt, cmsb_source *base)
{
    csv_source *s = (csv_source *)base;
    const char *path = uri + strlen("csv:");

    (void)opt;
    if (strlen(path) == 0 || strlen(path) >= sizeof(s->path))
        return CMSB_EINVAL;
    if (access(path, R_OK) != 0)
        return CMSB_ENOTFOUND; /* nothing to close: base.adapter unset */
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->base.adapter = ad;
    return CMSB_OK;
}

static void csv_close(cmsb_source *base)
{
    (void)base; /* nothing allocated: the core frees the struct */
}

/* Call fn for each data line: (line, len, offset, line number). */
typedef int (*line_fn)(void *arg, const char *line, size_t len, size_t off,
                       int lineno);

static int each_line(const char *data, size_t len, line_fn fn, void *arg)
{
    size_t pos = 0;
    int lineno = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;
        size_t l = end - pos;
        lineno++;
        if (l > 0 && data[pos + l - 1] == '\r')
            l--;
        if (l > 0 && !(lineno == 1 && strncmp(data + pos, "uid,", 4) == 0))
            if (fn(arg, data + pos, l, pos, lineno) != 0)
                return CMSB_ECANCELED;
        pos = nl != NULL ? end + 1 : len;
    }
    return CMSB_OK;
}

typedef struct list_ctx {
    csv_source *s;
    cmsb_contact_cb cb;
    void *arg;
} list_ctx;

static int list_line(void *arg, const char *line, size_t len, size_t off,
                     int lineno)
{
    list_ctx *l = arg;
    field f[4];
    tsps_contact c;
    int n = split(line, len, f, 4);

    (void)off;
    if (n < 3 || f[0].text[0] == '\0' || strlen(f[0].text) >= TSPS_UID_MAX) {
        cmsb_source_log(&l->s->base, TSPS_LOG_WARN,
                        "msg=\"skipped malformed line\" file=\"%s\" line=%d "
                        "reason=\"need uid,name,number[,code]\"",
                        l->s->path, lineno);
        return 0;
    }
    tsps_contact_init(&c);
    snprintf(c.uid, sizeof(c.uid), "%s", f[0].text);
    snprintf(c.name, sizeof(c.name), "%s", f[1].text);
    if (f[2].text[0] != '\0' && strlen(f[2].text) < sizeof(c.numbers[0])) {
        memcpy(c.numbers[0], f[2].text, strlen(f[2].text) + 1);
        c.nnumbers = 1;
    }
    if (n > 3 && cmsb_code_normalize(f[3].text, strlen(f[3].text), c.code)) {
        c.code_source = TSPS_CODE_SRC_PROPERTY;
        snprintf(c.code_detail, sizeof(c.code_detail), "csv code=%s", c.code);
    }
    return l->cb(l->arg, &c);
}

static int csv_contacts(cmsb_source *base, cmsb_contact_cb cb, void *arg)
{
    csv_source *s = (csv_source *)base;
    list_ctx l = {s, cb, arg};
    char *data;
    size_t len;
    int rc = read_all(s->path, &data, &len);

    if (rc == CMSB_OK)
        rc = each_line(data, len, list_line, &l);
    free(data);
    return rc;
}

typedef struct write_ctx {
    const char *uid;
    size_t start, end; /* the code field's bytes in the file */
    int found;
    int has_code_field;
} write_ctx;

static int find_line(void *arg, const char *line, size_t len, size_t off,
                     int lineno)
{
    write_ctx *w = arg;
    field f[4];
    int n = split(line, len, f, 4);

    (void)lineno;
    if (n < 3 || strcmp(f[0].text, w->uid) != 0)
        return 0;
    w->found = 1;
    w->has_code_field = n > 3;
    w->start = off + (n > 3 ? f[3].start : len);
    w->end = off + (n > 3 ? f[3].end : len);
    return 1;
}

static int csv_write_code(cmsb_source *base, const char *uid, const char *code)
{
    csv_source *s = (csv_source *)base;
    write_ctx w = {uid, 0, 0, 0, 0};
    char tmp[1100], *data;
    size_t len;
    FILE *fp;
    int rc = read_all(s->path, &data, &len);

    if (rc != CMSB_OK)
        return rc;
    each_line(data, len, find_line, &w);
    if (!w.found) {
        free(data);
        return CMSB_ENOTFOUND;
    }
    /* temp file + rename: readers see the old or the new file, never half */
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
    fp = fopen(tmp, "wb");
    if (fp == NULL) {
        free(data);
        return CMSB_EIO;
    }
    fwrite(data, 1, w.start, fp);
    fprintf(fp, "%s%s", w.has_code_field ? "" : ",", code);
    fwrite(data + w.end, 1, len - w.end, fp);
    rc = fclose(fp) == 0 ? CMSB_OK : CMSB_EIO;
    if (rc == CMSB_OK && rename(tmp, s->path) != 0)
        rc = CMSB_EIO;
    if (rc != CMSB_OK)
        remove(tmp);
    free(data);
    return rc;
}

const cmsb_adapter csv_phone_list_adapter = {
    .version = CMSB_ADAPTER_VERSION,
    .source_size = sizeof(csv_source),
    .scheme = "csv",
    .caps = CMSB_CAP_WRITE,
    .x_open = csv_open,
    .x_close = csv_close,
    .x_contacts = csv_contacts,
    .x_write_code = csv_write_code,
};

/* Text out of documents, each through its library: PDF through
 * poppler-glib, ODF and DOCX as zip (libzip) holding XML (libxml2, no
 * network, no entity expansion), .eml through the shared GMime reader,
 * plain text and Markdown as they are. Every reader is bounded (pages,
 * inflated sizes) and reports a reason instead of failing loudly. */
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <poppler.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "docs.h"

#define ZIP_MEMBER_MAX (16 * 1024 * 1024) /* inflated XML read at most */

docs_kind docs_kind_of(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL)
        return DOCS_NONE;
    dot++;
    if (strcasecmp(dot, "txt") == 0 || strcasecmp(dot, "text") == 0 ||
        strcasecmp(dot, "md") == 0 || strcasecmp(dot, "markdown") == 0 ||
        strcasecmp(dot, "csv") == 0)
        return DOCS_TEXT;
    if (strcasecmp(dot, "eml") == 0)
        return DOCS_EML;
    if (strcasecmp(dot, "pdf") == 0)
        return DOCS_PDF;
    if (strcasecmp(dot, "odt") == 0 || strcasecmp(dot, "ods") == 0 ||
        strcasecmp(dot, "odp") == 0)
        return DOCS_ODT;
    if (strcasecmp(dot, "docx") == 0)
        return DOCS_DOCX;
    return DOCS_NONE;
}

/* ---- a growing text buffer ---- */

typedef struct tbuf {
    char *p;
    size_t n, cap;
    int nomem;
} tbuf;

static void tb_add(tbuf *b, const char *s, size_t n)
{
    if (b->nomem || n == 0)
        return;
    if (b->n + n + 1 > DOCS_TEXT_MAX * 4)
        n = b->n < DOCS_TEXT_MAX * 4 ? DOCS_TEXT_MAX * 4 - b->n - 1 : 0;
    if (n == 0)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *p;
        while (cap < b->n + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->nomem = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    /* a NUL in a file (UTF-16 text, binary junk) would end the text for
     * every C-string reader after this one: make it a space */
    for (size_t i = 0; i < n; i++)
        b->p[b->n + i] = s[i] != '\0' ? s[i] : ' ';
    b->n += n;
    b->p[b->n] = '\0';
}

/* ---- PDF ---- */

static int from_pdf(const char *buf, size_t len, tbuf *out, char **title,
                    const char **reason)
{
    GBytes *bytes = g_bytes_new_static(buf, len);
    GError *err = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &err);
    int pages;

    if (doc == NULL) {
        *reason = "not a readable PDF (or encrypted)";
        g_clear_error(&err);
        g_bytes_unref(bytes);
        return CMSB_EPARSE;
    }
    pages = poppler_document_get_n_pages(doc);
    for (int i = 0; i < pages && i < DOCS_PAGES_MAX; i++) {
        PopplerPage *pg = poppler_document_get_page(doc, i);
        char *t = pg != NULL ? poppler_page_get_text(pg) : NULL;
        if (t != NULL) {
            tb_add(out, t, strlen(t));
            tb_add(out, "\n", 1);
        }
        g_free(t);
        if (pg != NULL)
            g_object_unref(pg);
        if (out->n >= DOCS_TEXT_MAX * 2)
            break;
    }
    {
        char *t = poppler_document_get_title(doc);
        if (t != NULL && t[0] != '\0')
            *title = strdup(t);
        g_free(t);
    }
    g_object_unref(doc);
    g_bytes_unref(bytes);
    return CMSB_OK;
}

/* ---- ODF / DOCX: XML inside a zip ---- */

/* Elements after which words are separated (paragraphs, headings, tabs,
 * breaks, cells); runs inside a paragraph join without a space, as
 * DOCX splits words across runs. */
static int is_break(const xmlChar *name)
{
    static const char *const br[] = {"p",          "h",         "tab", "br",
                                     "line-break", "tc",        "s",   "cr",
                                     "list-item",  "table-cell"};
    for (size_t i = 0; i < sizeof(br) / sizeof(br[0]); i++)
        if (xmlStrcmp(name, (const xmlChar *)br[i]) == 0)
            return 1;
    return 0;
}

static void walk_xml(xmlNode *n, tbuf *out, int depth)
{
    for (; n != NULL && depth < 256; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content != NULL)
                tb_add(out, (const char *)n->content,
                       strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE) {
            walk_xml(n->children, out, depth + 1);
            if (is_break(n->name))
                tb_add(out, " ", 1);
        }
        if (out->n >= DOCS_TEXT_MAX * 2)
            return;
    }
}

static int from_zip_xml(const char *buf, size_t len, const char *member,
                        tbuf *out, const char **reason)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *za = NULL;
    zip_file_t *zf = NULL;
    char *xml = NULL;
    size_t got = 0;
    xmlDoc *doc = NULL;
    int rc = CMSB_EPARSE;

    zip_error_init(&zerr);
    src = zip_source_buffer_create(buf, len, 0, &zerr);
    if (src == NULL) {
        *reason = "not a zip archive";
        goto cleanup;
    }
    za = zip_open_from_source(src, ZIP_RDONLY, &zerr);
    if (za == NULL) {
        zip_source_free(src);
        *reason = "not a zip archive";
        goto cleanup;
    }
    zf = zip_fopen(za, member, 0);
    if (zf == NULL) {
        *reason = "no document XML in the archive";
        goto cleanup;
    }
    xml = malloc(ZIP_MEMBER_MAX + 1);
    if (xml == NULL) {
        rc = CMSB_ENOMEM;
        goto cleanup;
    }
    /* read at most ZIP_MEMBER_MAX whatever the archive claims */
    while (got < ZIP_MEMBER_MAX) {
        zip_int64_t r = zip_fread(zf, xml + got, ZIP_MEMBER_MAX - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == 0) {
        *reason = "empty or damaged document XML";
        goto cleanup;
    }
    doc = xmlReadMemory(xml, (int)got, member, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_RECOVER);
    if (doc == NULL) {
        *reason = "malformed document XML";
        goto cleanup;
    }
    walk_xml(xmlDocGetRootElement(doc), out, 0);
    rc = out->nomem ? CMSB_ENOMEM : CMSB_OK;
cleanup:
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(xml);
    if (zf != NULL)
        zip_fclose(zf);
    if (za != NULL)
        zip_discard(za);
    zip_error_fini(&zerr);
    return rc;
}

/* ---- .eml ---- */

static int from_eml(const char *buf, size_t len, tbuf *out, char **title,
                    const char **reason)
{
    rel_mail m;
    int rc = rel_mail_parse(buf, len, &m);

    if (rc == CMSB_EPARSE)
        *reason = "not a readable message";
    if (rc != CMSB_OK)
        return rc;
    /* the addresses, then what a reader sees */
    for (size_t i = 0; i < m.naddrs; i++) {
        tb_add(out, m.addrs[i], strlen(m.addrs[i]));
        tb_add(out, " ", 1);
    }
    tb_add(out, m.from, strlen(m.from));
    tb_add(out, " ", 1);
    tb_add(out, m.to, strlen(m.to));
    tb_add(out, " ", 1);
    tb_add(out, m.subject, strlen(m.subject));
    tb_add(out, " ", 1);
    tb_add(out, m.snippet, strlen(m.snippet));
    if (m.subject[0] != '\0') {
        *title = m.subject;
        m.subject = NULL;
    }
    rel_mail_free(&m);
    return out->nomem ? CMSB_ENOMEM : CMSB_OK;
}

/* Markdown: the first "# " heading is the title. */
static char *md_title(const char *buf, size_t len)
{
    for (size_t i = 0; i + 2 < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (buf[i] == '#' && buf[i + 1] == ' ')
            return rel_fold(buf + i + 2, e - i - 2, TSPS_NAME_MAX - 1);
        i = e + 1;
    }
    return NULL;
}

int docs_extract_mem(docs_kind kind, const char *buf, size_t len, char **text,
                     size_t *textlen, char **title, const char **reason)
{
    tbuf out = {0};
    int rc = CMSB_OK;

    *text = NULL;
    *textlen = 0;
    *title = NULL;
    *reason = "";
    switch (kind) {
    case DOCS_TEXT:
        tb_add(&out, buf, len > DOCS_TEXT_MAX * 4 ? DOCS_TEXT_MAX * 4 : len);
        *title = md_title(buf, len);
        break;
    case DOCS_EML:
        rc = from_eml(buf, len, &out, title, reason);
        break;
    case DOCS_PDF:
        rc = from_pdf(buf, len, &out, title, reason);
        break;
    case DOCS_ODT:
        rc = from_zip_xml(buf, len, "content.xml", &out, reason);
        break;
    case DOCS_DOCX:
        rc = from_zip_xml(buf, len, "word/document.xml", &out, reason);
        break;
    default:
        *reason = "unknown file type";
        rc = CMSB_EPARSE;
    }
    if (rc == CMSB_OK && out.nomem)
        rc = CMSB_ENOMEM;
    if (rc != CMSB_OK) {
        free(out.p);
        free(*title);
        *title = NULL;
        return rc;
    }
    if (out.p == NULL) {
        out.p = strdup("");
        if (out.p == NULL) {
            free(*title);
            *title = NULL;
            return CMSB_ENOMEM;
        }
    }
    *text = out.p;
    *textlen = out.n;
    return CMSB_OK;
}

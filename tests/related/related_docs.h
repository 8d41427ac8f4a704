/* Shared by the documents suites (docs-dir, docs-dav): the documents
 * folder made by the test (PDF made with cairo, read by poppler; ODT and
 * DOCX zips made with libzip; Markdown, text, .eml, an unreadable PDF)
 * and what Anna Berg's lookup must find in it. */
#ifndef RELATED_DOCS_H
#define RELATED_DOCS_H

#include <cairo-pdf.h>
#include <cairo.h>
#include <check.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "related_test.h"

static void make_pdf(const char *path, const char *title, const char *text)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, 595, 842);
    cairo_t *cr = cairo_create(s);

    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, 50, 100);
    cairo_show_text(cr, text);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    ck_assert_int_eq(access(path, R_OK), 0);
}

static void make_zip(const char *path, const char *member, const char *xml,
                     const char *mimetype)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_source_t *src;

    ck_assert_ptr_nonnull(z);
    if (mimetype != NULL) {
        src = zip_source_buffer(z, mimetype, strlen(mimetype), 0);
        ck_assert_int_ge(zip_file_add(z, "mimetype", src, 0), 0);
    }
    src = zip_source_buffer(z, xml, strlen(xml), 0);
    ck_assert_int_ge(zip_file_add(z, member, src, 0), 0);
    ck_assert_int_eq(zip_close(z), 0);
}

/* The folder; related to Anna Berg (ACME Logistics, anna@example.org,
 * anna.berg@work.example.com, +49 30 1234567) are the first seven. */
static void make_docs(const char *root)
{
    char d[800], p[900];

    snprintf(d, sizeof(d), "%s/Projects/ACME Logistics", root);
    rt_put(d, "offer.md", "# Offer 2026\n\nPrices for next year.\n");
    snprintf(d, sizeof(d), "%s/notes", root);
    rt_put(d, "call-notes.txt",
           "Called back on (030) 123 45-67 about the invoice.\n");
    snprintf(d, sizeof(d), "%s/contracts", root);
    rt_mkdirs(d);
    snprintf(p, sizeof(p), "%s/Vertrag.pdf", d);
    make_pdf(p, "Vertrag Berg", "Contract with Anna Berg, signed.");
    snprintf(p, sizeof(p), "%s/minutes.odt", d);
    make_zip(
        p, "content.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<office:document-content "
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\">"
        "<office:body><office:text><text:h>Minutes</text:h>"
        "<text:p>Contact:<text:s/><text:span>anna@example.org</text:span>"
        "</text:p></office:text></office:body></office:document-content>",
        "application/vnd.oasis.opendocument.text");
    snprintf(p, sizeof(p), "%s/brief.docx", d);
    make_zip(p, "word/document.xml",
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
             "<w:document xmlns:w=\"http://schemas.openxmlformats.org/"
             "wordprocessingml/2006/main\"><w:body>"
             "<w:p><w:r><w:t>Brief</w:t></w:r></w:p>"
             "<w:p><w:r><w:t xml:space=\"preserve\">Phone +49 30 </w:t></w:r>"
             "<w:r><w:t>123</w:t></w:r><w:r><w:t>4567</w:t></w:r></w:p>"
             "</w:body></w:document>",
             NULL);
    snprintf(d, sizeof(d), "%s/mail", root);
    rt_put(d, "thread.eml",
           "From: =?UTF-8?Q?Anna_Berg?= <anna.berg@work.example.com>\r\n"
           "To: alice@example.net\r\n"
           "Subject: =?UTF-8?Q?Angebot_f=C3=BCr_2027?=\r\n"
           "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
           "\r\n"
           "See attached.\r\n");
    rt_put(root, "Anna_Berg_CV.pdf", "this is not a PDF at all");
    /* not related */
    snprintf(d, sizeof(d), "%s/other", root);
    rt_put(d, "bob.md",
           "# Bob\n\ncall 030 7654321; annaberg@else.example; Berger\n");
    rt_put(d, "Annabelle.txt", "Annabelle Bergmann, ACME Logisticsx Ltd\n");
    rt_put(d, "image.png", "\x89PNG not indexed");
}

static int find(const rt_got *g, const char *id_part)
{
    for (int i = 0; i < g->n; i++)
        if (strstr(g->url[i], id_part) != NULL)
            return i;
    return -1;
}

static void check_anna(const rt_got *g)
{
    int i;

    ck_assert_int_eq(g->n, 7);
    i = find(g, "/offer.md");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "organisation \"acme logistics\" in folder");
    ck_assert_str_eq(g->title[i], "Offer 2026");
    ck_assert_str_eq(g->where[i], "Projects/ACME Logistics");
    ck_assert_ptr_nonnull(strstr(g->url[i], "/Projects/ACME%20Logistics/"));
    i = find(g, "/call-notes.txt");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "number +49301234567 in file");
    i = find(g, "/Vertrag.pdf");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "name \"anna berg\" in text");
    ck_assert_str_eq(g->title[i], "Vertrag Berg");
    ck_assert_str_eq(g->snippet[i], "Contract with Anna Berg, signed.");
    i = find(g, "/minutes.odt");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "email anna@example.org in text");
    ck_assert_str_eq(g->snippet[i], "Minutes Contact: anna@example.org");
    i = find(g, "/brief.docx");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "number +49301234567 in file");
    ck_assert_str_eq(g->snippet[i], "Brief Phone +49 30 1234567");
    i = find(g, "/thread.eml");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "email anna.berg@work.example.com in text");
    ck_assert_str_eq(g->title[i], "Angebot für 2027");
    i = find(g, "/Anna_Berg_CV.pdf");
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(g->why[i], "name \"anna berg\" in file name");
    for (i = 0; i < g->n; i++)
        ck_assert_uint_eq(g->kind[i], CMSB_ITEM_DOCUMENT);
}

#endif

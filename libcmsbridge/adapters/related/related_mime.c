/* A MIME message read through GMime: decoded headers (RFC 2047 encoded
 * words, charsets), the addresses it involves, a snippet of its first
 * text part and its attachment names. Shared by maildir, imap and the
 * .eml files of docs-dir; the fuzz target tests/fuzz/fuzz_mime.c drives
 * rel_mail_parse(). */
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "related.h"

#define ATT_MAX CMSB_RELATED_ATTACH_MAX

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

void rel_gmime_init(void)
{
    pthread_once(&gmime_once, gmime_init_once);
}

void rel_mail_free(rel_mail *m)
{
    if (m == NULL)
        return;
    free(m->subject);
    free(m->from);
    free(m->to);
    free(m->snippet);
    free(m->msgid);
    for (size_t i = 0; i < m->natt; i++)
        free(m->att[i]);
    free(m->att);
    for (size_t i = 0; i < m->naddrs; i++)
        free(m->addrs[i]);
    free(m->addrs);
    free(m->roles);
    memset(m, 0, sizeof(*m));
}

typedef struct walk {
    rel_mail *m;
    char *text; /* first text/plain, g_malloc'd */
    char *html; /* first text/html, if no plain */
    int nomem;
} walk;

static int add_addr(rel_mail *m, const char *addr, int role)
{
    char **a;
    int *r;

    if (m->naddrs >= 256) /* a huge list: the first 256 are enough */
        return CMSB_OK;
    a = realloc(m->addrs, (m->naddrs + 1) * sizeof(*a));
    if (a == NULL)
        return CMSB_ENOMEM;
    m->addrs = a;
    r = realloc(m->roles, (m->naddrs + 1) * sizeof(*r));
    if (r == NULL)
        return CMSB_ENOMEM;
    m->roles = r;
    m->addrs[m->naddrs] = rel_lower(addr);
    if (m->addrs[m->naddrs] == NULL)
        return CMSB_ENOMEM;
    m->roles[m->naddrs++] = role;
    return CMSB_OK;
}

static int add_list(rel_mail *m, InternetAddressList *l, int role, int depth)
{
    int n = l != NULL ? internet_address_list_length(l) : 0;

    for (int i = 0; i < n && depth < 4; i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        int rc = CMSB_OK;
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char *a =
                internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            if (a != NULL && a[0] != '\0')
                rc = add_addr(m, a, role);
        } else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            rc = add_list(
                m,
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                role, depth + 1);
        }
        if (rc != CMSB_OK)
            return rc;
    }
    return CMSB_OK;
}

static char *list_str(InternetAddressList *a, InternetAddressList *b)
{
    char *x = a != NULL && internet_address_list_length(a) > 0
                  ? internet_address_list_to_string(a, NULL, FALSE)
                  : NULL;
    char *y = b != NULL && internet_address_list_length(b) > 0
                  ? internet_address_list_to_string(b, NULL, FALSE)
                  : NULL;
    size_t n = (x ? strlen(x) : 0) + (y ? strlen(y) : 0) + 3;
    char *out = malloc(n);

    if (out != NULL)
        snprintf(out, n, "%s%s%s", x ? x : "", x && y ? ", " : "", y ? y : "");
    g_free(x);
    g_free(y);
    return out;
}

static void on_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    walk *w = data;
    rel_mail *m = w->m;
    GMimeContentType *ct;

    (void)parent;
    if (!GMIME_IS_PART(part) || w->nomem)
        return;
    {
        const char *fn = g_mime_part_get_filename(GMIME_PART(part));
        if (fn != NULL && fn[0] != '\0' &&
            (g_mime_part_is_attachment(GMIME_PART(part)) ||
             !GMIME_IS_TEXT_PART(part))) {
            if (m->natt < ATT_MAX) {
                char **p = realloc(m->att, (m->natt + 1) * sizeof(*p));
                if (p == NULL) {
                    w->nomem = 1;
                    return;
                }
                m->att = p;
                m->att[m->natt] = rel_fold(fn, strlen(fn), 255);
                if (m->att[m->natt] == NULL) {
                    w->nomem = 1;
                    return;
                }
                m->natt++;
            }
            return;
        }
    }
    if (!GMIME_IS_TEXT_PART(part))
        return;
    ct = g_mime_object_get_content_type(part);
    if (ct != NULL && g_mime_content_type_is_type(ct, "text", "plain")) {
        if (w->text == NULL)
            w->text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
    } else if (ct != NULL && g_mime_content_type_is_type(ct, "text", "html")) {
        if (w->html == NULL)
            w->html = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
    }
}

/* Drop tags and the contents of <style>/<script> (an HTML-only mail). */
static void strip_html(char *s)
{
    char *o = s;
    int in_tag = 0, skip = 0;

    for (char *p = s; *p; p++) {
        if (*p == '<') {
            in_tag = 1;
            if (g_ascii_strncasecmp(p, "<style", 6) == 0 ||
                g_ascii_strncasecmp(p, "<script", 7) == 0)
                skip = 1;
            else if (g_ascii_strncasecmp(p, "</style", 7) == 0 ||
                     g_ascii_strncasecmp(p, "</script", 8) == 0)
                skip = 0;
            continue;
        }
        if (in_tag) {
            if (*p == '>') {
                in_tag = 0;
                *o++ = ' ';
            }
            continue;
        }
        if (!skip)
            *o++ = *p;
    }
    *o = '\0';
}

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

int rel_mail_parse(const char *buf, size_t len, rel_mail *out)
{
    GMimeStream *st = NULL;
    GMimeParser *ps = NULL;
    GMimeMessage *msg = NULL;
    GDateTime *dt;
    walk w = {out, NULL, NULL, 0};
    const char *text;
    int rc = CMSB_ENOMEM;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0)
        return CMSB_EPARSE;
    rel_gmime_init();
    st = g_mime_stream_mem_new_with_buffer(buf, len);
    ps = g_mime_parser_new_with_stream(st);
    msg = g_mime_parser_construct_message(ps, NULL);
    if (msg == NULL) {
        rc = CMSB_EPARSE;
        goto cleanup;
    }
    out->subject = rel_fold(
        g_mime_message_get_subject(msg) ? g_mime_message_get_subject(msg) : "",
        (size_t)-1, TSPS_NAME_MAX * 2);
    out->msgid = dup_or_empty(g_mime_message_get_message_id(msg));
    out->from = list_str(g_mime_message_get_from(msg), NULL);
    out->to = list_str(g_mime_message_get_to(msg), g_mime_message_get_cc(msg));
    if (out->subject == NULL || out->msgid == NULL || out->from == NULL ||
        out->to == NULL)
        goto cleanup;
    dt = g_mime_message_get_date(msg);
    out->date = dt != NULL ? (int64_t)g_date_time_to_unix(dt) : 0;
    if (add_list(out, g_mime_message_get_from(msg), REL_ROLE_FROM, 0) ||
        add_list(out, g_mime_message_get_to(msg), REL_ROLE_TO, 0) ||
        add_list(out, g_mime_message_get_cc(msg), REL_ROLE_CC, 0))
        goto cleanup;
    g_mime_message_foreach(msg, on_part, &w);
    if (w.nomem)
        goto cleanup;
    /* a message whose whole body is one text part is not "foreach"ed */
    if (w.text == NULL && w.html == NULL) {
        GMimeObject *body = g_mime_message_get_mime_part(msg);
        if (body != NULL && GMIME_IS_PART(body))
            on_part(NULL, body, &w);
        if (w.nomem)
            goto cleanup;
    }
    if (w.text == NULL && w.html != NULL)
        strip_html(w.html);
    text = w.text != NULL ? w.text : w.html != NULL ? w.html : "";
    out->snippet = rel_fold(text, (size_t)-1, REL_SNIPPET_MAX);
    if (out->snippet == NULL)
        goto cleanup;
    rc = CMSB_OK;
cleanup:
    g_free(w.text);
    g_free(w.html);
    if (msg != NULL)
        g_object_unref(msg);
    if (ps != NULL)
        g_object_unref(ps);
    if (st != NULL)
        g_object_unref(st);
    if (rc != CMSB_OK)
        rel_mail_free(out);
    return rc;
}

int rel_mail_match(const rel_mail *m, const rel_who *w, char *why,
                   size_t whylen)
{
    /* From first: "from anna" says more than "to anna, cc bob" */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < m->naddrs; i++) {
            int is_from = m->roles[i] == REL_ROLE_FROM;
            if (is_from != (pass == 0) || rel_who_email(w, m->addrs[i]) < 0)
                continue;
            snprintf(why, whylen, "%s %s",
                     is_from                      ? "from"
                     : m->roles[i] == REL_ROLE_TO ? "to"
                                                  : "cc",
                     m->addrs[i]);
            return 1;
        }
    return 0;
}

int rel_item_from_mail(rel_item *it, rel_mail *m)
{
    it->kind = CMSB_ITEM_EMAIL;
    it->date = m->date;
    it->title = m->subject;
    it->from = m->from;
    it->to = m->to;
    it->snippet = m->snippet;
    it->id = m->msgid;
    it->att = m->att;
    it->natt = m->natt;
    m->subject = m->from = m->to = m->snippet = m->msgid = NULL;
    m->att = NULL;
    m->natt = 0;
    return CMSB_OK;
}

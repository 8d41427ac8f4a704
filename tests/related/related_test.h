/* Shared by the related-items suites: a person, a generated mail corpus
 * shaped like real mail (encoded words in Q and B, ISO-8859-1 and UTF-8,
 * multipart with RFC 2231 attachment names, HTML-only, a group address,
 * several addresses per person, look-alike addresses, a mention in the
 * body only), and an item collector. */
#ifndef RELATED_TEST_H
#define RELATED_TEST_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmsb/adapter.h>

/* 2026-11-01T00:00:00Z and friends */
#define T_NOV01 1793491200LL
#define T_NOV26 1795651200LL

/* Anna Berg: two addresses (one written in capitals by a sender), one
 * number. */
static inline void rt_anna(tsps_contact *c)
{
    tsps_contact_init(c);
    snprintf(c->uid, sizeof(c->uid), "anna");
    snprintf(c->name, sizeof(c->name), "Anna Berg");
    snprintf(c->org, sizeof(c->org), "ACME Logistics");
    c->nemails = 2;
    snprintf(c->emails[0], sizeof(c->emails[0]), "anna@example.org");
    snprintf(c->emails[1], sizeof(c->emails[1]), "anna.berg@work.example.com");
    c->nnumbers = 1;
    snprintf(c->numbers[0], sizeof(c->numbers[0]), "+49301234567");
}

static inline void rt_mkdirs(const char *path)
{
    char tmp[1024];

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static inline void rt_put(const char *dir, const char *name, const char *text)
{
    char path[1200];
    FILE *f;

    rt_mkdirs(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) { /* also used outside a test (main): no ck_assert */
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
}

/* The corpus in a Maildir++ tree (root = the user's Maildir). Related to
 * Anna, newest first: m7 (Dec 1, group), m4 (Nov 28, Sent), m2 (Nov 25,
 * cc her work address), m1 (Nov 20), m3 (Oct 1, HTML only). m5 names her
 * in the body only, m6 is a look-alike address: neither is related. */
static inline void rt_corpus(const char *root)
{
    char inbox[1024], sent[1024];

    snprintf(inbox, sizeof(inbox), "%s/cur", root);
    snprintf(sent, sizeof(sent), "%s/.Sent/cur", root);
    rt_mkdirs(inbox);
    {
        char d[1024];
        snprintf(d, sizeof(d), "%s/new", root);
        rt_mkdirs(d);
        snprintf(d, sizeof(d), "%s/tmp", root);
        rt_mkdirs(d);
    }
    rt_put(inbox, "1795000001.M1P1.test:2,S",
           "Return-Path: <anna@example.org>\r\n"
           "From: =?UTF-8?Q?Anna_Berg_=E2=80=93_ACME?= <anna@example.org>\r\n"
           "To: Alice <alice@example.net>\r\n"
           "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_Berlin?=\r\n"
           "Date: Fri, 20 Nov 2026 10:00:00 +0100\r\n"
           "Message-ID: <m1@example.org>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n"
           "\r\n"
           "Hallo Alice,\r\n\r\nviele Gr=C3=BC=C3=9Fe aus Berlin. Der "
           "Vertrag kommt=\r\n n=C3=A4chste Woche.\r\n\r\nAnna\r\n");
    rt_put(inbox, "1795000002.M2P1.test:2,S",
           "From: Bob <bob@example.net>\r\n"
           "To: alice@example.net\r\n"
           "Cc: \"Berg, Anna\" <ANNA.BERG@Work.Example.COM>\r\n"
           "Subject: =?UTF-8?B?VmVydHJhZyDigJMgRW50d3VyZiAy?=\r\n"
           "Date: Wed, 25 Nov 2026 16:30:00 +0000\r\n"
           "Message-ID: <m2@example.net>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
           "\r\n"
           "This is a multi-part message in MIME format.\r\n"
           "--b1\r\n"
           "Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
           "\r\n"
           "--b2\r\n"
           "Content-Type: text/plain; charset=us-ascii\r\n"
           "\r\n"
           "Please find   the draft\r\nattached.\r\n"
           "--b2\r\n"
           "Content-Type: text/html; charset=us-ascii\r\n"
           "\r\n"
           "<p>Please find the draft attached.</p>\r\n"
           "--b2--\r\n"
           "--b1\r\n"
           "Content-Type: application/pdf\r\n"
           "Content-Disposition: attachment;\r\n"
           " filename*=UTF-8''Vertrag%20Entw%C3%BCrf.pdf\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "JVBERi0xLjQKJcfsj6IK\r\n"
           "--b1\r\n"
           "Content-Type: image/png; name=\"logo.png\"\r\n"
           "Content-Disposition: attachment; filename=\"logo.png\"\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "iVBORw0KGgo=\r\n"
           "--b1--\r\n");
    rt_put(inbox, "1795000003.M3P1.test:2,S",
           "From: anna@example.org\r\n"
           "To: alice@example.net\r\n"
           "Subject: Lunch?\r\n"
           "Date: Thu, 01 Oct 2026 09:15:00 +0200\r\n"
           "Message-ID: <m3@example.org>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\n"
           "\r\n"
           "<html><head><style>p { color: red }</style></head><body>"
           "<p>See you at <b>noon</b>?</p></body></html>\r\n");
    rt_put(sent, "1795000004.M4P1.test:2,S",
           "From: Alice <alice@example.net>\r\n"
           "To: \"Berg, Anna\" <anna@example.org>, Carl <carl@example.net>\r\n"
           "Subject: Re: =?ISO-8859-1?Q?Gr=FC=DFe_aus_Berlin?=\r\n"
           "Date: Sat, 28 Nov 2026 08:00:00 +0000\r\n"
           "Message-ID: <m4@example.net>\r\n"
           "In-Reply-To: <m1@example.org>\r\n"
           "\r\n"
           "Danke!\r\n");
    rt_put(inbox, "1795000005.M5P1.test:2,S",
           "From: Carl <carl@example.net>\r\n"
           "To: alice@example.net\r\n"
           "Subject: about anna\r\n"
           "Date: Sun, 29 Nov 2026 08:00:00 +0000\r\n"
           "Message-ID: <m5@example.net>\r\n"
           "\r\n"
           "Write to anna@example.org about it.\r\n");
    rt_put(inbox, "1795000006.M6P1.test:2,S",
           "From: Phish <anna@example.org.evil.example>\r\n"
           "To: alice@example.net\r\n"
           "Subject: not Anna\r\n"
           "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n"
           "Message-ID: <m6@evil.example>\r\n"
           "\r\n"
           "Click.\r\n");
    rt_put(inbox, "1795000007.M7P1.test:2,S",
           "From: Dora <dora@example.net>\r\n"
           "To: Team: anna@example.org,\r\n"
           "  carl@example.net;\r\n"
           "Subject: Kick-off\r\n"
           "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n"
           "Message-ID: <m7@example.net>\r\n"
           "\r\n"
           "Agenda follows.\r\n");
}

/* Items collected from cmsb_related_for(). */
typedef struct rt_got {
    int n;
    char title[16][128];
    char snippet[16][256];
    char from[16][256];
    char to[16][256];
    char url[16][512];
    char why[16][256];
    char where[16][64];
    char att[16][256]; /* names joined by '|' */
    int64_t date[16];
    unsigned kind[16];
} rt_got;

static inline int rt_collect(void *arg, const cmsb_related_item *it)
{
    rt_got *g = arg;
    int i = g->n;

    if (i >= 16)
        return 1;
    snprintf(g->title[i], sizeof(g->title[i]), "%s", it->title);
    snprintf(g->snippet[i], sizeof(g->snippet[i]), "%s", it->snippet);
    snprintf(g->from[i], sizeof(g->from[i]), "%s", it->from);
    snprintf(g->to[i], sizeof(g->to[i]), "%s", it->to);
    snprintf(g->url[i], sizeof(g->url[i]), "%s", it->url);
    snprintf(g->why[i], sizeof(g->why[i]), "%s", it->why);
    snprintf(g->where[i], sizeof(g->where[i]), "%s", it->where);
    g->att[i][0] = '\0';
    for (size_t k = 0; k < it->nattachments; k++) {
        size_t o = strlen(g->att[i]);
        snprintf(g->att[i] + o, sizeof(g->att[i]) - o, "%s%s", k ? "|" : "",
                 it->attachments[k]);
    }
    g->date[i] = it->date;
    g->kind[i] = it->kind;
    g->n++;
    return 0;
}

/* The checks every mail adapter passes on the corpus (no date bounds). */
static inline void rt_check_corpus(const rt_got *g)
{
    ck_assert_int_eq(g->n, 5);
    /* newest first */
    ck_assert_str_eq(g->title[0], "Kick-off");
    ck_assert_str_eq(g->title[1], "Re: Grüße aus Berlin");
    ck_assert_str_eq(g->title[2], "Vertrag – Entwurf 2");
    ck_assert_str_eq(g->title[3], "Grüße aus Berlin");
    ck_assert_str_eq(g->title[4], "Lunch?");
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(g->kind[i], CMSB_ITEM_EMAIL);
    /* decoded display name; what matched */
    ck_assert_ptr_nonnull(strstr(g->from[3], "Anna Berg – ACME"));
    ck_assert_str_eq(g->why[3], "from anna@example.org");
    ck_assert_str_eq(g->why[2], "cc anna.berg@work.example.com");
    ck_assert_str_eq(g->why[1], "to anna@example.org");
    ck_assert_str_eq(g->why[0], "to anna@example.org");
    ck_assert_str_eq(g->where[1], "Sent");
    ck_assert_str_eq(g->where[3], "INBOX");
    /* quoted-printable body decoded, soft break joined, whitespace folded */
    ck_assert_str_eq(g->snippet[3], "Hallo Alice, viele Grüße aus Berlin. "
                                    "Der Vertrag kommt nächste Woche. Anna");
    ck_assert_str_eq(g->snippet[2], "Please find the draft attached.");
    ck_assert_str_eq(g->snippet[4], "See you at noon ?");
    /* RFC 2231 name decoded */
    ck_assert_str_eq(g->att[2], "Vertrag Entwürf.pdf|logo.png");
    ck_assert_str_eq(g->att[3], "");
    ck_assert_int_eq(g->date[3], 1795165200LL); /* 2026-11-20 09:00Z */
}

#endif

/* A new vCard for a contact that is not in the address book yet ("add to
 * contacts" for an unknown caller), shared by vcard-dir and carddav: a
 * random UID, vCard 3.0 (what every CardDAV server and client reads),
 * values escaped (RFC 6350 3.4) and lines folded at 75 octets without
 * splitting a UTF-8 sequence. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "vcard.h"

int vc_new_uid(char *out, size_t len)
{
    unsigned char r[16];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n <= 0)
            return CMSB_EIO;
        got += (size_t)n;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* UUID version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    if (len < 37)
        return CMSB_EINVAL;
    snprintf(out, len,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
             r[11], r[12], r[13], r[14], r[15]);
    return CMSB_OK;
}

/* One content line "NAME:value", the value escaped, folded. */
static int line(vc_buf *out, const char *name, const char *val)
{
    vc_buf l = {0};
    size_t col = 0;
    int rc = vc_buf_str(&l, name);

    if (rc == CMSB_OK)
        rc = vc_buf_add(&l, ":", 1);
    for (const char *p = val; *p != '\0' && rc == CMSB_OK; p++) {
        if (*p != '\\' && *p != ',' && *p != ';' && *p != '\n' && *p != '\r')
            rc = vc_buf_add(&l, p, 1);
        else if (*p == '\n')
            rc = vc_buf_str(&l, "\\n");
        else if (*p != '\r')
            rc = vc_buf_add(&l, "\\", 1) == CMSB_OK ? vc_buf_add(&l, p, 1)
                                                    : CMSB_ENOMEM;
    }
    for (size_t i = 0; i < l.len && rc == CMSB_OK; i++) {
        unsigned char ch = (unsigned char)l.p[i];
        /* fold before 75 octets, never inside a UTF-8 sequence */
        if (col >= 74 && (ch & 0xc0) != 0x80) {
            rc = vc_buf_str(out, "\r\n ");
            col = 1;
        }
        if (rc == CMSB_OK)
            rc = vc_buf_add(out, l.p + i, 1);
        col++;
    }
    if (rc == CMSB_OK)
        rc = vc_buf_str(out, "\r\n");
    vc_buf_free(&l);
    return rc;
}

/* Control characters other than a line break have no place in a name,
 * number or address (and would end a content line early). */
static int clean(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\r' && *s != '\t')
            return 0;
    return 1;
}

int vc_new_card(const vc_conf *conf, const tsps_contact *c, const char *uid,
                const char *code, vc_buf *out)
{
    const char *fn = c->name[0] != '\0' ? c->name
                     : c->nnumbers > 0  ? c->numbers[0]
                     : c->nemails > 0   ? c->emails[0]
                                        : "";
    vc_buf v = {0};
    int rc = CMSB_OK;

    if (fn[0] == '\0' || !clean(c->name) || !clean(c->org))
        return CMSB_EINVAL;
    for (int i = 0; i < c->nnumbers && i < TSPS_MAX_NUMBERS; i++)
        if (!clean(c->numbers[i]))
            return CMSB_EINVAL;
    for (int i = 0; i < c->nemails && i < TSPS_MAX_EMAILS; i++)
        if (!clean(c->emails[i]))
            return CMSB_EINVAL;
    if (code[0] != '\0' &&
        (conf->forms &
         (CMSB_FORM_PROPERTY | CMSB_FORM_CATEGORY | CMSB_FORM_NOTE)) == 0)
        return CMSB_ENOTSUP; /* codes only from group cards */
    out->len = 0;
    rc = vc_buf_str(out, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
    if (rc == CMSB_OK)
        rc = line(out, "UID", uid);
    if (rc == CMSB_OK)
        rc = line(out, "FN", fn);
    if (rc == CMSB_OK) /* N is required in 3.0; the name stays whole in FN */
        rc = vc_buf_str(out, "N:;;;;\r\n");
    if (rc == CMSB_OK && c->org[0] != '\0')
        rc = line(out, "ORG", c->org);
    for (int i = 0; i < c->nnumbers && i < TSPS_MAX_NUMBERS && rc == CMSB_OK;
         i++)
        rc = line(out, "TEL;TYPE=VOICE", c->numbers[i]);
    for (int i = 0; i < c->nemails && i < TSPS_MAX_EMAILS && rc == CMSB_OK; i++)
        rc = line(out, "EMAIL;TYPE=INTERNET", c->emails[i]);
    if (rc == CMSB_OK && code[0] != '\0') {
        /* the form the source reads: the property first (as write-back
         * does for a contact that had no code), else a category, else
         * the note marker */
        if (conf->forms & CMSB_FORM_PROPERTY) {
            rc = line(out, conf->code_prop, code);
        } else if (conf->forms & CMSB_FORM_CATEGORY) {
            rc = vc_buf_printf(&v, "%s%s", conf->cat_prefix, code);
            if (rc == CMSB_OK)
                rc = line(out, "CATEGORIES", v.p);
        } else {
            rc = vc_buf_printf(&v, "%s%s]", conf->note_prefix, code);
            if (rc == CMSB_OK)
                rc = line(out, "NOTE", v.p);
        }
    }
    if (rc == CMSB_OK)
        rc = vc_buf_str(out, "END:VCARD\r\n"); /* NUL-terminated */
    vc_buf_free(&v);
    return rc;
}

/* The imap index's stored message record and its big-endian helpers
 * (see imap_index.c). */
#include <stdlib.h>
#include <string.h>

#include "imap.h"

void im_put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t im_get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

uint64_t im_flip(int64_t d)
{
    return (uint64_t)d ^ ((uint64_t)1 << 63);
}

int64_t im_unflip(uint64_t d)
{
    return (int64_t)(d ^ ((uint64_t)1 << 63));
}

/* A parsed message as one record: version byte, Date: (8 bytes), the
 * counts of attachments and addresses (2 bytes each), then NUL-terminated
 * strings: subject, from, to, snippet, Message-ID, each attachment name,
 * each address preceded by its role byte. malloc'd; NULL = ENOMEM. */
unsigned char *im_rec_encode(const rel_mail *m, size_t *len)
{
    const char *f[5] = {m->subject, m->from, m->to, m->snippet, m->msgid};
    size_t natt = m->natt > 0xffff ? 0xffff : m->natt;
    size_t nad = m->naddrs > 0xffff ? 0xffff : m->naddrs;
    size_t n = 13, o;
    unsigned char *r;

    for (int i = 0; i < 5; i++)
        n += strlen(f[i] ? f[i] : "") + 1;
    for (size_t i = 0; i < natt; i++)
        n += strlen(m->att[i]) + 1;
    for (size_t i = 0; i < nad; i++)
        n += strlen(m->addrs[i]) + 2;
    r = malloc(n);
    if (r == NULL)
        return NULL;
    r[0] = 1;
    im_put_be(r + 1, im_flip(m->date), 8);
    im_put_be(r + 9, natt, 2);
    im_put_be(r + 11, nad, 2);
    o = 13;
#define PUTS(str)                                                              \
    do {                                                                       \
        size_t l_ = strlen(str);                                               \
        memcpy(r + o, str, l_ + 1);                                            \
        o += l_ + 1;                                                           \
    } while (0)
    for (int i = 0; i < 5; i++)
        PUTS(f[i] ? f[i] : "");
    for (size_t i = 0; i < natt; i++)
        PUTS(m->att[i]);
    for (size_t i = 0; i < nad; i++) {
        r[o++] = (unsigned char)m->roles[i];
        PUTS(m->addrs[i]);
    }
#undef PUTS
    *len = o;
    return r;
}

/* The next NUL-terminated string of [*p, end) copied, or NULL (damaged
 * record or ENOMEM: *bad says which). */
static char *rec_str(const unsigned char **p, const unsigned char *end,
                     int *bad)
{
    const unsigned char *z = memchr(*p, '\0', (size_t)(end - *p));
    char *s;

    if (z == NULL) {
        *bad = 1;
        return NULL;
    }
    s = strdup((const char *)*p);
    *p = z + 1;
    return s;
}

/* 1 = decoded, 0 = damaged, CMSB_ENOMEM */
int im_rec_decode(const unsigned char *r, size_t len, rel_mail *m)
{
    const unsigned char *p = r + 13, *end = r + len;
    char **f[5] = {&m->subject, &m->from, &m->to, &m->snippet, &m->msgid};
    int bad = 0;

    memset(m, 0, sizeof(*m));
    if (len < 13 || r[0] != 1)
        return 0;
    m->date = im_unflip(im_get_be(r + 1, 8));
    m->natt = (size_t)im_get_be(r + 9, 2);
    m->naddrs = (size_t)im_get_be(r + 11, 2);
    m->att = calloc(m->natt + 1, sizeof(*m->att));
    m->addrs = calloc(m->naddrs + 1, sizeof(*m->addrs));
    m->roles = calloc(m->naddrs + 1, sizeof(*m->roles));
    if (m->att == NULL || m->addrs == NULL || m->roles == NULL)
        goto nomem;
    for (int i = 0; i < 5 && !bad; i++)
        if ((*f[i] = rec_str(&p, end, &bad)) == NULL && !bad)
            goto nomem;
    for (size_t i = 0; i < m->natt && !bad; i++)
        if ((m->att[i] = rec_str(&p, end, &bad)) == NULL && !bad)
            goto nomem;
    for (size_t i = 0; i < m->naddrs && !bad; i++) {
        if (p >= end) {
            bad = 1;
            break;
        }
        m->roles[i] = *p++;
        if ((m->addrs[i] = rec_str(&p, end, &bad)) == NULL && !bad)
            goto nomem;
    }
    if (bad) {
        rel_mail_free(m);
        return 0;
    }
    return 1;
nomem:
    rel_mail_free(m);
    return CMSB_ENOMEM;
}

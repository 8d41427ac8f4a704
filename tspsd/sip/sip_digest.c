/*
 * sip_digest.c - HTTP digest for SIP (RFC 7616 hashing, RFC 8760 SHA-256)
 * and the per-device credentials kept in the engine's kv store.
 *
 * A credential is stored as text lines under TSPSD_KEY_SIPDEV "<username>":
 *   v1, user id, label, realm, HA1 (MD5), HA1 (SHA-256)
 * The password itself is never stored.
 */
#include <stdio.h>
#include "../store_keys.h"
#include <string.h>

#include <openssl/evp.h>

#include "sip_internal.h"

int sip_digest_hex(int alg, const char *data, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const EVP_MD *type = alg == SIP_ALG_SHA256 ? EVP_sha256() : EVP_md5();
    static const char hex[] = "0123456789abcdef";

    out[0] = '\0';
    if (EVP_Digest(data, n, md, &mdlen, type, NULL) != 1)
        return TSPS_EINVAL;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
    return TSPS_OK;
}

int sip_digest_response(int alg, const char *ha1, const char *nonce,
                        const char *nc, const char *cnonce, const char *qop,
                        const char *method, const char *uri, char out[65])
{
    char buf[1024], ha2[65];
    int n = snprintf(buf, sizeof(buf), "%s:%s", method, uri);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return TSPS_EINVAL;
    sip_digest_hex(alg, buf, (size_t)n, ha2);
    if (qop != NULL && *qop != '\0')
        n = snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce,
                     nc != NULL ? nc : "", cnonce != NULL ? cnonce : "", qop,
                     ha2);
    else
        n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return TSPS_EINVAL;
    return sip_digest_hex(alg, buf, (size_t)n, out);
}

static int valid_name(const char *s, size_t max)
{
    size_t n = s == NULL ? 0 : strlen(s);
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '\n' || s[i] == '/' ||
            (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int tspsd_sip_device_set(tsps_engine *eng, const char *realm,
                         const char *username, const char *user_id,
                         const char *label, const char *password)
{
    char key[160], buf[512], ha1_md5[65], ha1_sha[65];
    if (eng == NULL || !valid_name(realm, 128) || !valid_name(username, 128) ||
        !valid_name(user_id, TSPS_ID_MAX) || password == NULL ||
        strlen(password) > 256 ||
        (label != NULL && *label != '\0' && !valid_name(label, TSPS_LABEL_MAX)))
        return TSPS_EINVAL;
    int n = snprintf(buf, sizeof(buf), "%s:%s:%s", username, realm, password);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return TSPS_EINVAL;
    sip_digest_hex(SIP_ALG_MD5, buf, (size_t)n, ha1_md5);
    sip_digest_hex(SIP_ALG_SHA256, buf, (size_t)n, ha1_sha);
    n = snprintf(buf, sizeof(buf), "v1\n%s\n%s\n%s\n%s\n%s\n", user_id,
                 label != NULL ? label : "", realm, ha1_md5, ha1_sha);
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    return tsps_kv_put(eng, key, buf, (size_t)n);
}

int tspsd_sip_device_remove(tsps_engine *eng, const char *username)
{
    char key[160], buf[8];
    size_t len;
    if (eng == NULL || !valid_name(username, 128))
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    int rc = tsps_kv_get(eng, key, buf, sizeof(buf), &len);
    if (rc != TSPS_OK && rc != TSPS_ENOBUFS)
        return rc;
    return tsps_kv_put(eng, key, NULL, 0);
}

/* Copy line `idx` of a "\n"-separated record into out. */
static int field(const char *rec, size_t len, int idx, char *out, size_t max)
{
    size_t i = 0;
    for (int f = 0; f < idx; f++) {
        const char *nl = memchr(rec + i, '\n', len - i);
        if (nl == NULL)
            return -1;
        i = (size_t)(nl - rec) + 1;
    }
    const char *nl = memchr(rec + i, '\n', len - i);
    size_t n = nl == NULL ? len - i : (size_t)(nl - rec) - i;
    if (n >= max)
        return -1;
    memcpy(out, rec + i, n);
    out[n] = '\0';
    return 0;
}

int sip_cred_get(tsps_engine *eng, const char *username, sip_cred *out)
{
    char key[160], rec[512], ver[4];
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    if (!valid_name(username, 128))
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_SIPDEV "%s", username);
    int rc = tsps_kv_get(eng, key, rec, sizeof(rec) - 1, &len);
    if (rc != TSPS_OK)
        return rc == TSPS_ENOBUFS ? TSPS_ESTORE : rc;
    if (field(rec, len, 0, ver, sizeof(ver)) != 0 || strcmp(ver, "v1") != 0 ||
        field(rec, len, 1, out->user_id, sizeof(out->user_id)) != 0 ||
        field(rec, len, 2, out->label, sizeof(out->label)) != 0 ||
        field(rec, len, 3, out->realm, sizeof(out->realm)) != 0 ||
        field(rec, len, 4, out->ha1_md5, sizeof(out->ha1_md5)) != 0 ||
        field(rec, len, 5, out->ha1_sha256, sizeof(out->ha1_sha256)) != 0) {
        memset(out, 0, sizeof(*out));
        return TSPS_ESTORE;
    }
    return TSPS_OK;
}

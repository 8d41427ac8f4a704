/* tls.c - TLS contexts and a tiny CA (OpenSSL 3 API). */
#include "tls.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *tspsd_tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    unsigned long more;

    if (e == 0) {
        snprintf(buf, len, "unknown TLS error");
        return buf;
    }
    while ((more = ERR_get_error()) != 0)
        e = more; /* the last one is usually the most specific */
    ERR_error_string_n(e, buf, len);
    return buf;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ex == NULL)
        return -1;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok == 1 ? 0 : -1;
}

static int write_key(EVP_PKEY *k, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    int ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    return (fclose(f) == 0 && ok == 1) ? 0 : -1;
}

static int write_cert(X509 *x, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = PEM_write_X509(f, x);
    return (fclose(f) == 0 && ok == 1) ? 0 : -1;
}

static int random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int rc = -1;
    if (bn != NULL && BN_rand(bn, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
        rc = 0;
    BN_free(bn);
    return rc;
}

/* Build and sign one certificate. issuer/ikey NULL = self-signed. */
static X509 *build(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
                   long nb, long na)
{
    X509 *x = X509_new();
    X509_NAME *name;

    if (x == NULL || X509_set_version(x, 2) != 1 || random_serial(x) != 0)
        goto fail;
    if (X509_gmtime_adj(X509_getm_notBefore(x), nb) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), na) == NULL)
        goto fail;
    if (X509_set_pubkey(x, key) != 1)
        goto fail;
    name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   (const unsigned char *)"tsps", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1)
        goto fail;
    if (X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
                                               : name) != 1)
        goto fail;
    return x;
fail:
    X509_free(x);
    (void)ikey;
    return NULL;
}

int tspsd_tls_make_ca(const char *cn, const char *cert_path,
                      const char *key_path, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = NULL;
    int rc = -1;

    if (key == NULL)
        goto done;
    x = build(key, cn, NULL, NULL, -3600, 3650L * 86400);
    if (x == NULL ||
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
        X509_sign(x, key, EVP_sha256()) == 0)
        goto done;
    if (write_key(key, key_path) != 0 || write_cert(x, cert_path) != 0) {
        snprintf(err, errlen, "cannot write %s or %s", cert_path, key_path);
        rc = -2;
        goto done;
    }
    rc = 0;
done:
    if (rc == -1)
        tspsd_tls_error(err, errlen);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc == 0 ? 0 : -1;
}

static int load_ca(const char *ca_cert, const char *ca_key, X509 **cx,
                   EVP_PKEY **ck)
{
    FILE *f = fopen(ca_cert, "r");
    if (f == NULL)
        return -1;
    *cx = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(ca_key, "r");
    if (f == NULL)
        return -1;
    *ck = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return (*cx != NULL && *ck != NULL) ? 0 : -1;
}

int tspsd_tls_make_cert(const char *ca_cert, const char *ca_key, const char *cn,
                        int server, long not_before_s, long not_after_s,
                        const char *cert_path, const char *key_path, char *err,
                        size_t errlen)
{
    X509 *cx = NULL, *x = NULL;
    EVP_PKEY *ck = NULL, *key = NULL;
    int rc = -1;

    if (load_ca(ca_cert, ca_key, &cx, &ck) != 0) {
        snprintf(err, errlen, "cannot read CA %s / %s", ca_cert, ca_key);
        rc = -2;
        goto done;
    }
    key = EVP_EC_gen("P-256");
    if (key == NULL)
        goto done;
    x = build(key, cn, cx, ck, not_before_s, not_after_s);
    if (x == NULL ||
        add_ext(x, cx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(x, cx, NID_key_usage,
                "critical,digitalSignature,keyAgreement") != 0 ||
        add_ext(x, cx, NID_ext_key_usage,
                server ? "serverAuth" : "clientAuth") != 0 ||
        add_ext(x, cx, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, cx, NID_authority_key_identifier, "keyid:always") != 0)
        goto done;
    if (server && add_ext(x, cx, NID_subject_alt_name,
                          "DNS:localhost,IP:127.0.0.1,IP:::1") != 0)
        goto done;
    if (X509_sign(x, ck, EVP_sha256()) == 0)
        goto done;
    if (write_key(key, key_path) != 0 || write_cert(x, cert_path) != 0) {
        snprintf(err, errlen, "cannot write %s or %s", cert_path, key_path);
        rc = -2;
        goto done;
    }
    rc = 0;
done:
    if (rc == -1)
        tspsd_tls_error(err, errlen);
    X509_free(x);
    X509_free(cx);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ck);
    return rc == 0 ? 0 : -1;
}

int tspsd_tls_cert_time_left(const char *path, long long *left)
{
    FILE *f = fopen(path, "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    int day = 0, sec = 0, rc = -1;
    if (f != NULL)
        fclose(f);
    if (x != NULL &&
        ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)) == 1) {
        *left = (long long)day * 86400 + sec;
        rc = 0;
    }
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* TLS 1.2 suites: forward secrecy and AEAD only (Mozilla's
 * "intermediate" list). CBC suites (ECDHE-RSA-AES128-SHA ...) are out:
 * they are the ones with a history of padding-oracle attacks. */
#define TLS12_SUITES                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"               \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

int tspsd_tls_server_harden(SSL_CTX *ctx)
{
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_SUITES) != 1)
        return -1;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    return 0;
}

SSL_CTX *tspsd_tls_server_ctx(const char *cert, const char *key, const char *ca,
                              char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    static const unsigned char sid[] = "tspsd";

    if (ctx == NULL)
        goto fail;
    if (tspsd_tls_server_harden(ctx) != 0)
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    if (ca != NULL && *ca != '\0') {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
            names == NULL) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        /* Ask for a certificate; clients with a token present none. A
         * certificate that is presented must verify (unknown or expired
         * ones fail the handshake). */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    return ctx;
fail:
    tspsd_tls_error(err, errlen);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tspsd_tls_client_ctx(const char *ca, const char *cert, const char *key,
                              char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Read whole socket buffers, not 5-byte headers then bodies (the
     * client polls with SSL_has_pending()). Not on the server: libevent's
     * bufferevent_openssl does not drain read-ahead buffers. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (ca != NULL && *ca != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
            goto fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (cert != NULL && *cert != '\0') {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key != NULL ? key : cert,
                                        SSL_FILETYPE_PEM) != 1)
            goto fail;
    }
    return ctx;
fail:
    tspsd_tls_error(err, errlen);
    SSL_CTX_free(ctx);
    return NULL;
}

int tspsd_tls_peer_identity(SSL *ssl, char *buf, size_t len)
{
    X509 *x = SSL_get0_peer_certificate(ssl);
    int rc = -1;

    buf[0] = '\0';
    if (x == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return -1;
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf,
                                  (int)len) > 0)
        return 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS || g->type == GEN_EMAIL) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.ia5);
            int n = ASN1_STRING_length(g->d.ia5);
            if (n > 0 && (size_t)n < len) {
                memcpy(buf, s, (size_t)n);
                buf[n] = '\0';
                rc = 0;
                break;
            }
        }
    }
    GENERAL_NAMES_free(sans);
    return rc;
}

/*
 * tls.h - OpenSSL 3 contexts for the control socket and its clients, and
 * the small CA the embedded default (and the tests) make for themselves.
 */
#ifndef TSPSD_TLS_H
#define TSPSD_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/** Make a self-signed CA (P-256, 10 years). @return 0 or -1 (err set). */
int tspsd_tls_make_ca(const char *cn, const char *cert_path,
                      const char *key_path, char *err, size_t errlen);

/**
 * Issue a certificate signed by the CA in ca_cert/ca_key.
 *
 * @param server  1: serverAuth, SAN localhost + 127.0.0.1 + ::1;
 *                0: clientAuth (CN = identity)
 * @param not_before_s, not_after_s  validity relative to now, in seconds
 *                (negative not_after_s makes an expired certificate)
 * @return 0 or -1 with a reason in err. The key file is written 0600.
 */
int tspsd_tls_make_cert(const char *ca_cert, const char *ca_key, const char *cn,
                        int server, long not_before_s, long not_after_s,
                        const char *cert_path, const char *key_path, char *err,
                        size_t errlen);

/**
 * Seconds until the first certificate in a PEM file expires (negative:
 * expired that long ago), into *left.
 * @return 0, or -1 when the file cannot be read as a certificate.
 * Thread-safety: any thread.
 */
int tspsd_tls_cert_time_left(const char *path, long long *left);

/**
 * The protocol floor and cipher suites of every server context (control
 * socket, web UI): TLS 1.2 or later; in TLS 1.2 only ECDHE/DHE key exchange
 * with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), no CBC; TLS 1.3 keeps
 * OpenSSL's suites (all AEAD); no renegotiation, no compression.
 * @return 0 or -1 (OpenSSL refused the list).
 * Thread-safety: on a context not yet shared.
 */
int tspsd_tls_server_harden(SSL_CTX *ctx);

/**
 * Server context: tspsd_tls_server_harden(), our certificate, client
 * certificates verified against `ca` when presented (token clients present
 * none).
 */
SSL_CTX *tspsd_tls_server_ctx(const char *cert, const char *key, const char *ca,
                              char *err, size_t errlen);

/** Client context: TLS 1.2+, server verified against `ca`; cert optional. */
SSL_CTX *tspsd_tls_client_ctx(const char *ca, const char *cert, const char *key,
                              char *err, size_t errlen);

/**
 * Identity of a verified peer: subject CN, else the first DNS/email SAN.
 * @return 0 and buf filled, or -1 (no verified certificate).
 */
int tspsd_tls_peer_identity(SSL *ssl, char *buf, size_t len);

/** The last OpenSSL error as one line (for logs), into buf. */
const char *tspsd_tls_error(char *buf, size_t len);

#endif

/* tls — the SMTP server's TLS: the context built from PEM text in memory
 * (the privileged parent read the files; the worker never opens the key),
 * and how an established connection is described in logs and Received:.
 *
 * A context exists only when a listener or STARTTLS needs it (an SSL_CTX
 * costs megabytes of idle memory). TLS 1.2 and later, forward-secret AEAD
 * ciphers only (Mozilla's "intermediate" list), no compression, no
 * renegotiation. */
#ifndef POSTERN_SMTP_TLS_H
#define POSTERN_SMTP_TLS_H

#include <stddef.h>

struct ssl_ctx_st;
struct ssl_st;

/* A server context from cert_pem (the certificate first, then any chain
 * certificates) and key_pem (an unencrypted private key; it may also be in
 * cert_pem's file). The paths only name the files in err: "file: what is
 * wrong". NULL + err when a file holds no certificate or key, or they do
 * not match. */
struct ssl_ctx_st *tls_server_ctx_new(const char *cert_pem, size_t cert_len,
                                      const char *cert_path, const char *key_pem,
                                      size_t key_len, const char *key_path, char *err,
                                      size_t errlen);
void tls_server_ctx_free(struct ssl_ctx_st *ctx);

/* What an established connection negotiated. */
struct tls_info {
    char protocol[16];          /* "TLSv1.3" */
    char cipher[64];            /* "TLS_AES_256_GCM_SHA384" */
    int bits, alg_bits;         /* 256/256 */
};
void tls_info_get(struct ssl_st *ssl, struct tls_info *out);

/* The last OpenSSL error of this thread as text (and the queue cleared);
 * "unknown" when there is none. */
const char *tls_error_text(unsigned long e, char *buf, size_t buflen);

#endif

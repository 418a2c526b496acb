/* tls — the server's TLS context from memory and the negotiated
 * parameters (see tls.h). */
#include "tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Mozilla "intermediate" (TLS 1.2; TLS 1.3 has its own AEAD-only set):
 * forward secrecy and AEAD only. */
#define TLS12_CIPHERS                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                         \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                         \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                         \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

const char *tls_error_text(unsigned long e, char *buf, size_t buflen)
{
    if (!e)
        e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, buflen);
    else
        snprintf(buf, buflen, "unknown");
    ERR_clear_error();
    return buf;
}

static void fail(char *err, size_t errlen, const char *path, const char *what)
{
    char ssl[256];
    unsigned long e = ERR_peek_last_error();
    if (e)
        snprintf(err, errlen, "%s: %s (%s)", path, what, tls_error_text(e, ssl, sizeof ssl));
    else
        snprintf(err, errlen, "%s: %s", path, what);
    ERR_clear_error();
}

/* An encrypted key would make OpenSSL ask on the terminal: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int use_chain(SSL_CTX *ctx, const char *pem, size_t len, const char *path, char *err,
                     size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        fail(err, errlen, path, "out of memory");
        return -1;
    }
    X509 *leaf = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
    if (!leaf) {
        BIO_free(bio);
        fail(err, errlen, path, "no PEM certificate in the file (smtpd_tls_cert_file)");
        return -1;
    }
    int ok = SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    if (!ok) {
        BIO_free(bio);
        fail(err, errlen, path, "the certificate cannot be used");
        return -1;
    }
    /* the rest of the file: intermediate certificates (a key may follow) */
    X509 *ca;
    while ((ca = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
            X509_free(ca);
            BIO_free(bio);
            fail(err, errlen, path, "a chain certificate cannot be used");
            return -1;
        }
    }
    ERR_clear_error();      /* the end of the file is "no start line" */
    BIO_free(bio);
    return 0;
}

struct ssl_ctx_st *tls_server_ctx_new(const char *cert_pem, size_t cert_len,
                                      const char *cert_path, const char *key_pem,
                                      size_t key_len, const char *key_path, char *err,
                                      size_t errlen)
{
    if (cert_len > (size_t)1 << 30 || key_len > (size_t)1 << 30) {
        snprintf(err, errlen, "%s: too large", cert_path);
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        fail(err, errlen, cert_path, "cannot create the TLS server context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    static const unsigned char sid[] = "postern";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        fail(err, errlen, cert_path, "cannot set the cipher list");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (use_chain(ctx, cert_pem, cert_len, cert_path, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        fail(err, errlen, key_path, "no unencrypted PEM private key in the file "
             "(smtpd_tls_key_file)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!ok || SSL_CTX_check_private_key(ctx) != 1) {
        char what[1200];
        snprintf(what, sizeof what, "the private key does not match the certificate in %s",
                 cert_path);
        ERR_clear_error();
        fail(err, errlen, key_path, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void tls_server_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

void tls_info_get(struct ssl_st *ssl, struct tls_info *out)
{
    memset(out, 0, sizeof *out);
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    snprintf(out->protocol, sizeof out->protocol, "%s", SSL_get_version(ssl));
    snprintf(out->cipher, sizeof out->cipher, "%s", c ? SSL_CIPHER_get_name(c) : "unknown");
    out->bits = c ? SSL_CIPHER_get_bits(c, &out->alg_bits) : 0;
}

/* dkimkey — DKIM key pairs and their DNS record values (dkimkey.h). */
#include "dkimkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../dkim/dkim_key.h"

const char *dkimkey_type_name(enum dkimkey_type type)
{
    return type == DKIMKEY_ED25519 ? "ed25519" : "rsa";
}

/* The last OpenSSL error as text (for messages), the queue emptied. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
    return buf;
}

/* Fill out->type, bits and record from the public half of pkey: the
 * signer's record (dkim/dkim_key.h), so what we print is what it signs
 * with. */
static int record_from(EVP_PKEY *pkey, struct dkimkey *out, char *err, size_t errlen)
{
    const char *type = dkim_key_type(pkey);
    if (!type) {
        snprintf(err, errlen, "cannot use the key: DKIM keys are RSA or Ed25519");
        return -1;
    }
    out->type = strcmp(type, "rsa") == 0 ? DKIMKEY_RSA : DKIMKEY_ED25519;
    out->bits = out->type == DKIMKEY_RSA ? EVP_PKEY_get_bits(pkey) : 256;
    if (!(out->record = dkim_pubkey_record(pkey))) {
        snprintf(err, errlen, "cannot encode the public key: out of memory");
        return -1;
    }
    return 0;
}

int dkimkey_generate(enum dkimkey_type type, int bits, struct dkimkey *out, char *err,
                     size_t errlen)
{
    char why[256];
    memset(out, 0, sizeof *out);
    if (type == DKIMKEY_RSA && (bits < DKIMKEY_RSA_MIN || bits > DKIMKEY_RSA_MAX)) {
        snprintf(err, errlen, "RSA keys of %d to %d bits (%d by default)", DKIMKEY_RSA_MIN,
                 DKIMKEY_RSA_MAX, DKIMKEY_RSA_DEFAULT);
        return -1;
    }
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type == DKIMKEY_RSA ? EVP_PKEY_RSA
                                                                : EVP_PKEY_ED25519, NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 ||
        (type == DKIMKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1) ||
        EVP_PKEY_keygen(ctx, &pkey) != 1) {
        snprintf(err, errlen, "cannot make the key: %s", ssl_reason(why, sizeof why));
        EVP_PKEY_CTX_free(ctx);
        return -1;
    }
    EVP_PKEY_CTX_free(ctx);
    int rc = -1;
    BIO *bio = BIO_new(BIO_s_secmem());     /* wiped when freed */
    char *data;
    long n;
    if (!bio || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        snprintf(err, errlen, "cannot encode the key: %s", ssl_reason(why, sizeof why));
        goto out;
    }
    out->pem = malloc((size_t)n + 1);
    if (!out->pem) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(out->pem, data, (size_t)n);
    out->pem[n] = '\0';
    out->pem_len = (size_t)n;
    rc = record_from(pkey, out, err, errlen);
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    if (rc < 0)
        dkimkey_free(out);
    return rc;
}

int dkimkey_load(const char *path, struct dkimkey *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *pkey = dkim_key_load(path, err, errlen);
    if (!pkey)
        return -1;
    int rc = record_from(pkey, out, err, errlen);
    EVP_PKEY_free(pkey);
    return rc;
}

void dkimkey_free(struct dkimkey *k)
{
    if (k->pem) {
        OPENSSL_cleanse(k->pem, k->pem_len);
        free(k->pem);
    }
    free(k->record);
    memset(k, 0, sizeof *k);
}

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

#include "../util/base64.h"
#include "../util/fs.h"

#define KEY_FILE_MAX (64 * 1024)    /* a 4096-bit RSA PEM is about 3.3 kB */

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

/* Fill out->type, bits and record from the public half of pkey. */
static int record_from(EVP_PKEY *pkey, struct dkimkey *out, char *err, size_t errlen)
{
    unsigned char raw[32], *der = NULL;
    const unsigned char *pub;
    size_t publen;
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
        out->type = DKIMKEY_RSA;
        out->bits = EVP_PKEY_get_bits(pkey);
        if (out->bits < DKIMKEY_RSA_MIN) {
            snprintf(err, errlen, "an RSA key of %d bits is too short for DKIM: verifiers "
                     "ignore keys below %d bits (RFC 8301); make a new one of %d bits",
                     out->bits, DKIMKEY_RSA_MIN, DKIMKEY_RSA_DEFAULT);
            return -1;
        }
        int n = i2d_PUBKEY(pkey, &der);    /* SubjectPublicKeyInfo */
        if (n <= 0) {
            snprintf(err, errlen, "cannot encode the public key");
            return -1;
        }
        pub = der;
        publen = (size_t)n;
    } else if (id == EVP_PKEY_ED25519) {
        out->type = DKIMKEY_ED25519;
        out->bits = 256;
        publen = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &publen) != 1 || publen != sizeof raw) {
            snprintf(err, errlen, "cannot read the Ed25519 public key");
            return -1;
        }
        pub = raw;
    } else {
        snprintf(err, errlen, "a %s key: DKIM keys are RSA or Ed25519",
                 OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown");
        return -1;
    }
    size_t cap = sizeof "v=DKIM1; k=ed25519; p=" + BASE64_ENCODED_SIZE(publen);
    char *rec = malloc(cap);
    if (!rec) {
        OPENSSL_free(der);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int w = snprintf(rec, cap, "v=DKIM1; k=%s; p=", dkimkey_type_name(out->type));
    base64_encode(pub, publen, rec + w, cap - (size_t)w);
    OPENSSL_free(der);
    out->record = rec;
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

/* A passphrase prompt that never asks: a key for a daemon cannot be
 * encrypted (nobody is there to type the passphrase). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int dkimkey_load(const char *path, struct dkimkey *out, char *err, size_t errlen)
{
    char *text, why[256], inner[512];
    size_t len;
    memset(out, 0, sizeof *out);
    if (fs_read_file(path, FS_READ_SECRET, KEY_FILE_MAX, &text, &len, err, errlen) < 0)
        return -1;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!pkey) {
        snprintf(err, errlen, "%s: not a private key in PEM (\"BEGIN PRIVATE KEY\" or "
                 "\"BEGIN RSA PRIVATE KEY\", unencrypted): %s", path,
                 ssl_reason(why, sizeof why));
        return -1;
    }
    int rc = record_from(pkey, out, inner, sizeof inner);
    EVP_PKEY_free(pkey);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, inner);
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

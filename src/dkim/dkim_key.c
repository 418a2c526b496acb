/* dkim_key — DKIM private keys and their public records (see dkim_key.h). */
#include "dkim_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../util/base64.h"
#include "../util/fs.h"

/* A DKIM key is a few kilobytes even at 8192 bits. */
#define DKIM_KEY_FILE_MAX (64 * 1024)

/* An encrypted key would make OpenSSL prompt on the terminal: refuse. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

const char *dkim_key_type(const EVP_PKEY *key)
{
    if (!key)
        return NULL;
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        return "rsa";
    case EVP_PKEY_ED25519:
        return "ed25519";
    default:
        return NULL;
    }
}

EVP_PKEY *dkim_key_parse(const char *pem, size_t len, const char *name, char *err,
                         size_t errlen)
{
    if (len > DKIM_KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes: not a DKIM private key", name,
                 DKIM_KEY_FILE_MAX);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        snprintf(err, errlen, "%s: not a private key in PEM (no unencrypted \"BEGIN PRIVATE "
                 "KEY\" or \"BEGIN RSA PRIVATE KEY\"); make one with `postern dkim keygen` "
                 "(or opendkim-genkey)", name);
        return NULL;
    }
    const char *type = dkim_key_type(key);
    if (!type) {
        int id = EVP_PKEY_get_base_id(key);
        snprintf(err, errlen, "%s: a %s key, neither RSA nor Ed25519: DKIM keys are RSA or "
                 "Ed25519 (RFC 6376, RFC 8463)", name,
                 OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown");
        EVP_PKEY_free(key);
        return NULL;
    }
    if (strcmp(type, "rsa") == 0 && EVP_PKEY_get_bits(key) < DKIM_RSA_MIN_BITS) {
        snprintf(err, errlen, "%s: an RSA key of %d bits is too short to sign with (at "
                 "least %d; make a 2048-bit one with `postern dkim keygen`)", name,
                 EVP_PKEY_get_bits(key), DKIM_RSA_MIN_BITS);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

EVP_PKEY *dkim_key_load(const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, FS_READ_SECRET, DKIM_KEY_FILE_MAX, &text, &len, err, errlen) < 0)
        return NULL;
    EVP_PKEY *key = dkim_key_parse(text, len, path, err, errlen);
    OPENSSL_cleanse(text, len);
    free(text);
    return key;
}

char *dkim_pubkey_record(const EVP_PKEY *key)
{
    const char *type = dkim_key_type(key);
    unsigned char *der = NULL;
    size_t dlen = 0;
    if (!type)
        return NULL;
    if (strcmp(type, "rsa") == 0) {
        int n = i2d_PUBKEY(key, &der);
        if (n <= 0)
            return NULL;
        dlen = (size_t)n;
    } else {
        if (EVP_PKEY_get_raw_public_key(key, NULL, &dlen) != 1 ||
            !(der = OPENSSL_malloc(dlen)) ||
            EVP_PKEY_get_raw_public_key(key, der, &dlen) != 1) {
            OPENSSL_free(der);
            return NULL;
        }
    }
    static const char fmt[] = "v=DKIM1; k=%s; p=";
    size_t head = sizeof fmt + strlen(type);
    size_t cap = head + BASE64_ENCODED_SIZE(dlen);
    char *out = malloc(cap);
    if (out) {
        int h = snprintf(out, cap, fmt, type);
        if (base64_encode(der, dlen, out + h, cap - (size_t)h) == (size_t)-1) {
            free(out);
            out = NULL;
        }
    }
    OPENSSL_free(der);
    return out;
}

/* selfsigned — key and self-signed certificate generation. See
 * selfsigned.h. Nothing here touches the disk. */
#include "selfsigned.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void ssl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    snprintf(err, errlen, "%s: %s", what, buf);
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* The PEM text of what write() puts into a memory BIO; NULL on error. */
static char *pem_of(BIO *b, size_t *len)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        return NULL;
    char *c = malloc((size_t)n + 1);
    if (!c)
        return NULL;
    memcpy(c, p, (size_t)n);
    c[n] = '\0';
    *len = (size_t)n;
    return c;
}

int selfsigned_make(const char *host, int days, struct selfsigned *out, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (days < 1) {
        snprintf(err, errlen, "the validity must be at least 1 day");
        return -1;
    }
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    BIO *kb = NULL, *cb = NULL;
    char san[300];
    unsigned char bin[16];
    int is_ip = inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
    if (snprintf(san, sizeof san, "%s:%s", is_ip ? "IP" : "DNS", host) >= (int)sizeof san) {
        snprintf(err, errlen, "host name too long");
        return -1;
    }

    if (!(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048))) {
        ssl_err(err, errlen, "RSA key generation");
        goto out;
    }
    if (!(x = X509_new()) || !X509_set_version(x, 2) || !(serial = BN_new()) ||
        !BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
        !X509_set_pubkey(x, pkey)) {
        ssl_err(err, errlen, "certificate");
        goto out;
    }
    X509_NAME *name = X509_get_subject_name(x);
    if (strlen(host) <= 64 &&       /* ub-common-name; the SAN is what counts */
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)host, -1, -1, 0)) {
        ssl_err(err, errlen, "certificate subject");
        goto out;
    }
    if (!X509_set_issuer_name(x, name) ||
        add_ext(x, NID_subject_alt_name, san) < 0 ||
        add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
        add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(x, NID_subject_key_identifier, "hash") < 0) {
        ssl_err(err, errlen, "certificate extensions");
        goto out;
    }
    if (!X509_sign(x, pkey, EVP_sha256())) {
        ssl_err(err, errlen, "signing the certificate");
        goto out;
    }
    if (!(kb = BIO_new(BIO_s_secmem())) || !(cb = BIO_new(BIO_s_mem())) ||
        !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x) ||
        !(out->key_pem = pem_of(kb, &out->key_len)) ||
        !(out->cert_pem = pem_of(cb, &out->cert_len))) {
        ssl_err(err, errlen, "PEM encoding");
        goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(x, EVP_sha256(), md, &mdlen)) {
        ssl_err(err, errlen, "certificate fingerprint");
        goto out;
    }
    for (unsigned int i = 0; i < mdlen && 3 * i + 3 <= sizeof out->fingerprint; i++)
        snprintf(out->fingerprint + 3 * i, 4, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
        strftime(out->not_after, sizeof out->not_after, "%Y-%m-%d %H:%M:%S UTC", &tm);
    rc = 0;
out:
    if (rc < 0)
        selfsigned_free(out);
    BIO_free(kb);
    BIO_free(cb);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

void selfsigned_free(struct selfsigned *s)
{
    if (s->key_pem) {
        OPENSSL_cleanse(s->key_pem, s->key_len);
        free(s->key_pem);
    }
    free(s->cert_pem);
    memset(s, 0, sizeof *s);
}

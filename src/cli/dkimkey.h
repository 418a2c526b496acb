/* dkimkey — DKIM key pairs for the command line: make one (OpenSSL EVP),
 * or read an existing private key (ours, or opendkim-genkey's PKCS#1
 * "RSA PRIVATE KEY" / PKCS#8 "PRIVATE KEY"), and give the public key as
 * the DKIM TXT record value: "v=DKIM1; k=rsa; p=<base64 of the
 * SubjectPublicKeyInfo DER>" (RFC 6376 3.6.1) or "v=DKIM1; k=ed25519;
 * p=<base64 of the raw 32-byte key>" (RFC 8463 4).
 *
 * Reading a key and deriving its record are the signer's own
 * (dkim/dkim_key.h), so the record printed is the one the signer's key
 * needs; this file adds making keys. No OpenSSL type in the interface. */
#ifndef POSTERN_CLI_DKIMKEY_H
#define POSTERN_CLI_DKIMKEY_H

#include <stddef.h>

enum dkimkey_type { DKIMKEY_RSA, DKIMKEY_ED25519 };

/* RFC 8301 3.2: signers use at least 1024 bits (2048 is what everyone
 * recommends); verifiers need only accept up to 4096, and a longer key's
 * record no longer fits many DNS panels or one UDP answer. */
#define DKIMKEY_RSA_MIN     1024
#define DKIMKEY_RSA_DEFAULT 2048
#define DKIMKEY_RSA_MAX     4096

struct dkimkey {
    enum dkimkey_type type;
    int bits;                   /* RSA modulus bits; 256 for Ed25519 */
    char *pem;                  /* dkimkey_generate: the private key, PKCS#8 PEM (secret) */
    size_t pem_len;
    char *record;               /* the TXT value, "v=DKIM1; k=...; p=..." */
};

/* A new key pair of type (bits: RSA only, DKIMKEY_RSA_MIN..MAX). 0, or -1
 * with err. Free with dkimkey_free, which wipes the private key. */
int dkimkey_generate(enum dkimkey_type type, int bits, struct dkimkey *out, char *err,
                     size_t errlen);

/* The record of the private key in the PEM file at path. The file must be
 * a secret: not readable or writable by group or others, owned by root or
 * by us (the fix is in err otherwise). Encrypted keys, other key types and
 * RSA below DKIMKEY_RSA_MIN bits are refused. out->pem stays NULL. 0, or
 * -1 with err. */
int dkimkey_load(const char *path, struct dkimkey *out, char *err, size_t errlen);

void dkimkey_free(struct dkimkey *k);

/* "rsa" or "ed25519" (the k= tag). */
const char *dkimkey_type_name(enum dkimkey_type type);

#endif

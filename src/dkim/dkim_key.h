/* dkim_key — DKIM private keys: read a PEM file (a secret: refused when
 * group or world readable), parse it, check it is fit to sign (RSA of at
 * least 1024 bits, or Ed25519), and derive the public-key TXT record that
 * goes under SELECTOR._domainkey.DOMAIN.
 *
 * The interface is small on purpose: `postern dkim keygen`, `postern dns
 * records` and the signer all use it. Errors name the file and the fix;
 * key material never reaches an error message. */
#ifndef POSTERN_DKIM_DKIM_KEY_H
#define POSTERN_DKIM_DKIM_KEY_H

#include <stddef.h>

#include <openssl/evp.h>

/* Smallest RSA modulus accepted (RFC 8301: verifiers may reject < 1024). */
#define DKIM_RSA_MIN_BITS 1024

/* Parse the unencrypted PEM private key in pem (len bytes; PKCS#8 or
 * PKCS#1 "RSA PRIVATE KEY" as opendkim-genkey writes). name is the file
 * the text came from, for messages. NULL with err set when it is no key,
 * encrypted, RSA below DKIM_RSA_MIN_BITS, or neither RSA nor Ed25519. */
EVP_PKEY *dkim_key_parse(const char *pem, size_t len, const char *name, char *err,
                         size_t errlen);

/* Read and parse the key file at path. The file must be a regular file
 * owned by root (or by us) and not readable or writable by group and
 * others: "PATH is readable by group or others (mode 0644): chmod 600 PATH;
 * it holds a private key". NULL with err set on any failure. */
EVP_PKEY *dkim_key_load(const char *path, char *err, size_t errlen);

/* "rsa" or "ed25519" (the k= tag value), or NULL for another key type. */
const char *dkim_key_type(const EVP_PKEY *key);

/* The public-key record for key: "v=DKIM1; k=rsa; p=BASE64" (p= the DER
 * SubjectPublicKeyInfo, RFC 6376 3.6.1) or "v=DKIM1; k=ed25519; p=BASE64"
 * (the raw 32-byte key, RFC 8463). One string, not split into 255-byte
 * pieces (callers that print zone files split it). Malloc'd; NULL when
 * out of memory or the key is neither RSA nor Ed25519. */
char *dkim_pubkey_record(const EVP_PKEY *key);

#endif

/* selfsigned — a private key and a self-signed X.509 server certificate,
 * made in memory with OpenSSL's EVP API (what `openssl req -x509 -newkey
 * rsa:2048 -nodes` does, plus the extensions clients check today). */
#ifndef POSTERN_UTIL_SELFSIGNED_H
#define POSTERN_UTIL_SELFSIGNED_H

#include <stddef.h>

#define SELFSIGNED_FPR_SIZE 96  /* "AB:CD:..." of a SHA-256, NUL included */

struct selfsigned {
    char *key_pem;              /* PKCS#8 "PRIVATE KEY", unencrypted */
    size_t key_len;
    char *cert_pem;             /* "CERTIFICATE" */
    size_t cert_len;
    char fingerprint[SELFSIGNED_FPR_SIZE];  /* SHA-256 of the certificate */
    char not_after[32];         /* "2028-03-01 12:00:00 UTC" */
};

/* An RSA 2048-bit key and a certificate for host (a DNS name, or an IPv4 /
 * IPv6 address) valid for days days from now: version 3, random 159-bit
 * serial, subject and issuer CN=host (when it fits the 64-byte limit),
 * subjectAltName DNS:host (IP:host for an address), basicConstraints
 * CA:FALSE, keyUsage digitalSignature + keyEncipherment, extendedKeyUsage
 * serverAuth, subjectKeyIdentifier; signed with SHA-256. 0, or -1 with err.
 * The key is secret: free with selfsigned_free, which wipes it. */
int selfsigned_make(const char *host, int days, struct selfsigned *out, char *err,
                    size_t errlen);
void selfsigned_free(struct selfsigned *s);

#endif

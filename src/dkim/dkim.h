/* dkim — DKIM signing (RFC 6376 rsa-sha256, RFC 8463 ed25519-sha256) of a
 * message as it goes on the wire, on OpenSSL's EVP API.
 *
 * A signer (struct dkim_signer) is the configuration: keys per domain
 * (several for one domain = one signature each: rsa and ed25519 side by
 * side), the header and body canonicalisation, the header fields to sign.
 * It is made once per configuration load (the privileged parent reads the
 * key files) and only read afterwards, by any number of messages.
 *
 * A message is signed by streaming it through a struct dkim_sign: the
 * header section is kept (bounded by DKIM_HEADER_MAX), the body is
 * canonicalised and hashed as it comes, never copied. Once the header
 * section has passed, dkim_sign_more() says whether the body is still
 * wanted (no key for the From: domain: nothing to hash). Finishing gives
 * the DKIM-Signature fields to put before the header section, folded in
 * lines of at most 78 bytes.
 *
 * h= lists each configured field once per instance present in the
 * message, From once more (over-signed: a From: added later breaks the
 * signature); t= is the signing time; no l= (the whole body is signed), no
 * x=. Pure: no I/O, no logging, no clock (the caller passes the time). */
#ifndef POSTERN_DKIM_DKIM_H
#define POSTERN_DKIM_DKIM_H

#include <stddef.h>

#include <openssl/evp.h>

#include "canon.h"

/* The header section a message may have to be signed. */
#define DKIM_HEADER_MAX (1024 * 1024)
/* Header field names dkim_signed_headers may list. */
#define DKIM_HEADERS_MAX 64

/* The list: what the common verifiers and mailbox providers expect. */
#define DKIM_DEFAULT_HEADERS \
    "From, To, Cc, Subject, Date, Message-ID, Reply-To, MIME-Version, Content-Type, " \
    "Content-Transfer-Encoding, In-Reply-To, References"

struct dkim_signer;

/* A signer with no keys yet. headers: the field names to sign (n of them,
 * at most DKIM_HEADERS_MAX, each a valid field name; From is added when
 * missing, as RFC 6376 requires). NULL with err set. */
struct dkim_signer *dkim_signer_new(enum dkim_canon hcanon, enum dkim_canon bcanon,
                                    const char *const *headers, size_t n, char *err,
                                    size_t errlen);

/* Add key (taken over, freed with the signer even on failure) for domain
 * and selector. 0, or -1 with err (bad domain or selector syntax). */
int dkim_signer_add(struct dkim_signer *s, const char *domain, const char *selector,
                    EVP_PKEY *key, char *err, size_t errlen);

/* Keys in s; 1 when domain (any case) has at least one. */
size_t dkim_signer_nkeys(const struct dkim_signer *s);
int dkim_signer_has(const struct dkim_signer *s, const char *domain);

void dkim_signer_free(struct dkim_signer *s);

/* One line of a key table (dkim_key_table): called with the domain,
 * selector and key file of each entry; line is its line number. Returns 0
 * to go on, -1 to stop (the callback has said why in err). */
typedef int dkim_keytable_fn(void *arg, const char *domain, const char *selector,
                             const char *keyfile, size_t line, char *err, size_t errlen);

/* Parse a key table (len bytes of text, from the file `name`): one entry
 * per line, "domain selector keyfile" separated by blanks, or OpenDKIM's
 * KeyTable form "keyname domain:selector:keyfile"; empty lines and lines
 * starting with '#' are skipped. 0, or -1 with err naming name:line and
 * the fix. */
int dkim_keytable_parse(const char *text, size_t len, const char *name, dkim_keytable_fn *fn,
                        void *arg, char *err, size_t errlen);

/* The domain of the first address of a From: field's value (len bytes),
 * lower-cased, into out. 0, or -1 when there is none or it does not fit. */
int dkim_from_domain(const char *value, size_t len, char *out, size_t outlen);

struct dkim_sign;

/* A message to sign with s (borrowed: s must outlive it). NULL when out of
 * memory. */
struct dkim_sign *dkim_sign_new(const struct dkim_signer *s);

/* The next n bytes of the message as sent (CRLF lines, no dot-stuffing). */
void dkim_sign_feed(struct dkim_sign *d, const char *p, size_t n);

/* 0 once feeding more cannot change the outcome: the header section has
 * ended and the From: domain has no key (or it is too large to sign). */
int dkim_sign_more(const struct dkim_sign *d);

/* After the whole message has been fed (or dkim_sign_more said 0): 1 with
 * the DKIM-Signature field(s) in *out (malloc'd, CRLF lines, *outlen
 * bytes); 0 when the message is not signed, err saying why (no From:, no
 * key for its domain, header section too large); -1 on a failure (out of
 * memory, OpenSSL), err saying which. now: unix time for t=. */
int dkim_sign_finish(struct dkim_sign *d, long long now, char **out, size_t *outlen, char *err,
                     size_t errlen);

void dkim_sign_free(struct dkim_sign *d);

#endif

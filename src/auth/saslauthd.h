/* saslauthd — the client side of Cyrus saslauthd's unix socket protocol
 * (what libsasl's pwcheck_method: saslauthd speaks): four counted strings
 * -- login, password, service, realm -- each a 16-bit network-order length
 * and the bytes; the reply is one counted string, "OK..." or "NO ...".
 * saslauthd takes at most 256 bytes a field (MAX_REQ_LEN). As libsasl
 * does, a user name with '@' goes as login and realm split at the last
 * '@' ("app1@example.com": login app1, realm example.com).
 *
 * The codec is pure; saslauthd_verify does the blocking round trip for a
 * worker thread. */
#ifndef POSTERN_AUTH_SASLAUTHD_H
#define POSTERN_AUTH_SASLAUTHD_H

#include <stddef.h>

#include "auth.h"

#define SASLAUTHD_FIELD_MAX 256
#define SASLAUTHD_REPLY_MAX 1024

/* Encode a request into buf. Its length, or 0 when a field is longer than
 * SASLAUTHD_FIELD_MAX or buf (buflen) is too small. */
size_t saslauthd_encode(const char *user, const char *pass, const char *service,
                        unsigned char *buf, size_t buflen);

/* The reply's length field (2 bytes) and then its text: 1 for "OK", 0 for
 * anything else (a refusal), -1 for a reply that is not one (shorter than
 * 2 bytes, longer than SASLAUTHD_REPLY_MAX). */
int saslauthd_reply_length(const unsigned char hdr[2], size_t *len);
int saslauthd_reply_ok(const char *text, size_t len);

/* One check against the socket at path (blocking, at most timeout_ms). The
 * verdict's why names the socket and, for the classic mistakes (no socket,
 * no permission), what to do; run_as is the user the daemon runs as, for
 * that advice. */
void saslauthd_verify(const char *path, const char *user, const char *pass,
                      const char *run_as, int timeout_ms, struct auth_verdict *v);

#endif

/* base64 — RFC 4648 base64 (standard alphabet, '=' padding, no line
 * breaks), as SASL (RFC 4954) puts it on an SMTP line. */
#ifndef POSTERN_UTIL_BASE64_H
#define POSTERN_UTIL_BASE64_H

#include <stddef.h>

struct sbuf;

/* Bytes base64_encode writes for n input bytes, the NUL included. */
#define BASE64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)
/* Upper bound of the bytes base64_decode writes for n characters. */
#define BASE64_DECODED_MAX(n) ((n) / 4 * 3)

/* Encode len bytes of in into out (NUL-terminated). Returns the length
 * written (without the NUL), or (size_t)-1 when out is smaller than
 * BASE64_ENCODED_SIZE(len): nothing useful is written then. */
size_t base64_encode(const void *in, size_t len, char *out, size_t outlen);

/* Append the encoding of len bytes of in to b (no line breaks: callers
 * that fold, such as MIME bodies and RFC 2047 words, pass one line's worth
 * at a time). Running out of memory sets b->oom, as every sbuf append. */
void base64_append(struct sbuf *b, const void *in, size_t len);

/* Decode len characters of in into out. Strict: only the alphabet, a
 * length that is a multiple of 4, one or two '=' only at the very end, and
 * no bits set in the padding (one spelling per value). No whitespace. The
 * empty string decodes to nothing. Returns the decoded length, or
 * (size_t)-1 when the input is not base64 or out (outlen bytes) is too
 * small; out may then hold part of the result. */
size_t base64_decode(const char *in, size_t len, void *out, size_t outlen);

#endif

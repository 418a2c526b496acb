/* utf8 — bytes as text: is there anything beyond ASCII, and which UTF-8
 * sequence (RFC 3629) starts here. One decoder for every module, so that
 * "valid UTF-8" means the same in bounces, logs and the terminal. */
#ifndef POSTERN_UTIL_UTF8_H
#define POSTERN_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 when one of the n bytes at p is >= 0x80 (8BITMIME/SMTPUTF8 territory),
 * else 0. */
int utf8_has_8bit(const void *p, size_t n);

/* The length (1..4) of the well-formed UTF-8 sequence at s (n >= 1 bytes
 * left) and its code point in *cp; 0 when it is malformed: overlong, a
 * surrogate, above U+10FFFF, truncated, or a lone continuation byte.
 * An ASCII byte is a sequence of 1. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif

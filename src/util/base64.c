/* base64 — strict RFC 4648 codec (see base64.h). */
#include "base64.h"

#include <stdint.h>

#include "sbuf.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
    const unsigned char *p = in;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 2 || outlen < BASE64_ENCODED_SIZE(len))
        return (size_t)-1;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* 0..63, or -1 for a byte outside the alphabet ('=' included). */
static int value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t base64_decode(const char *in, size_t len, void *out, size_t outlen)
{
    unsigned char *o = out;
    size_t n = 0;
    if (len % 4 != 0)
        return (size_t)-1;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        size_t pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        int v[4] = { 0, 0, 0, 0 };
        for (size_t k = 0; k < 4 - pad; k++)
            if ((v[k] = value((unsigned char)in[i + k])) < 0)
                return (size_t)-1;
        /* the bits a padded group does not use must be zero, or two
         * spellings would decode to the same bytes */
        if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
            return (size_t)-1;
        size_t nb = 3 - pad;
        if (outlen - n < nb)
            return (size_t)-1;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        o[n++] = (unsigned char)(w >> 16);
        if (nb > 1)
            o[n++] = (unsigned char)(w >> 8);
        if (nb > 2)
            o[n++] = (unsigned char)w;
    }
    return n;
}

void base64_append(struct sbuf *b, const void *in, size_t len)
{
    const unsigned char *p = in;
    char q[BASE64_ENCODED_SIZE(48)];
    for (size_t i = 0; i < len; i += 48) {     /* whole 3-byte groups: pieces join */
        size_t k = len - i < 48 ? len - i : 48;
        sbuf_add(b, q, base64_encode(p + i, k, q, sizeof q));
    }
}

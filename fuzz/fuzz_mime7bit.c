/* libFuzzer harness for mime_downgrade_7bit (see fuzz/README.md).
 *
 * The first input byte picks the mode; the rest is:
 *   0: a whole message. The result is one of 1, 0, -2 (-1 only on out of
 *      memory); out is NULL unless 1; a message without 8-bit bytes gives
 *      0; a converted message has fewer 8-bit bytes than the input, and
 *      converting it again finds nothing to do (0);
 *   1: the body of a text message ("Subject: f" + empty line): the result
 *      is 1 exactly when the body has an 8-bit byte, and then the output
 *      is 7-bit throughout, no line is longer than 76 characters, and the
 *      body decodes (quoted-printable) back to the input bytes;
 *   2: the body of an application/octet-stream message: the same with
 *      base64.
 * Besides ASan/UBSan, a broken invariant aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/mime7bit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static size_t count8(const unsigned char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] >= 0x80;
    return k;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict decoder for what the encoder writes; -1 on anything else. */
static long qp_decode(const char *p, size_t n, unsigned char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '=') {
            out[k++] = (unsigned char)p[i];
            continue;
        }
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
            i += 2;
            continue;
        }
        if (i + 2 >= n || hexv(p[i + 1]) < 0 || hexv(p[i + 2]) < 0)
            return -1;
        out[k++] = (unsigned char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
        i += 2;
    }
    return (long)k;
}

static long b64_decode(const char *p, size_t n, unsigned char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned v = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '=')
            continue;
        const char *q = strchr(a, p[i]);
        if (!q || !p[i])
            return -1;
        v = (v << 6) | (unsigned)(q - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    return (long)k;
}

static void leaf_mode(const uint8_t *data, size_t size, int text)
{
    const char *hdr = text ? "Subject: f\r\n\r\n" : "Content-Type: application/octet-stream\r\n\r\n";
    size_t hl = strlen(hdr);
    char *msg = malloc(hl + size + 1);
    check(msg != NULL, "malloc");
    memcpy(msg, hdr, hl);
    memcpy(msg + hl, data, size);
    char *out = NULL;
    size_t outlen = 0;
    int rc = mime_downgrade_7bit(msg, hl + size, &out, &outlen);
    if (rc == -1) {
        free(msg);
        return;
    }
    check(rc == (count8(data, size) ? 1 : 0), "leaf: converted iff 8-bit");
    if (rc == 1) {
        check(out != NULL, "leaf: out set");
        check(count8((const unsigned char *)out, outlen) == 0, "leaf: output is 7-bit");
        size_t col = 0;
        for (size_t i = 0; i < outlen; i++) {
            if (out[i] == '\n') {
                col = 0;
                continue;
            }
            if (out[i] != '\r')
                col++;
            check(col <= 76, "leaf: line longer than 76");
        }
        const char *sep = memmem(out, outlen, "\r\n\r\n", 4);
        check(sep != NULL, "leaf: header section ends");
        const char *body = sep + 4;
        size_t blen = outlen - (size_t)(body - out);
        unsigned char *dec = malloc(blen + 1);
        check(dec != NULL, "malloc");
        long dl = text ? qp_decode(body, blen, dec) : b64_decode(body, blen, dec);
        check(dl >= 0, "leaf: decodes");
        if (!text && size >= 2 && data[size - 2] == '\r' && data[size - 1] == '\n')
            check(blen >= 2 && body[blen - 2] == '\r' && body[blen - 1] == '\n',
                  "leaf: base64 keeps the final line end");
        check((size_t)dl == size && memcmp(dec, data, size) == 0, "leaf: round trip");
        free(dec);
        free(out);
    } else {
        check(out == NULL, "leaf: out NULL");
    }
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    if (mode == 1 || mode == 2) {
        leaf_mode(data, size, mode == 1);
        return 0;
    }
    /* a copy of exactly size bytes: ASan catches a read past the end */
    char *in = malloc(size ? size : 1);
    check(in != NULL, "malloc");
    memcpy(in, data, size);
    char *out = (char *)1;
    size_t outlen = 7;
    int rc = mime_downgrade_7bit(in, size, &out, &outlen);
    check(rc == 1 || rc == 0 || rc == -1 || rc == -2, "result in range");
    if (rc != 1) {
        check(out == NULL && outlen == 0, "out NULL unless converted");
        if (count8(data, size) == 0)
            check(rc == 0, "7-bit input: nothing to do");
    } else {
        check(out != NULL && out[outlen] == '\0', "converted: out set, terminated");
        check(count8((const unsigned char *)out, outlen) < count8(data, size),
              "converted: fewer 8-bit bytes");
        char *again = NULL;
        size_t againlen = 0;
        int rc2 = mime_downgrade_7bit(out, outlen, &again, &againlen);
        check(rc2 == 0 || rc2 == -1, "converted output converts to nothing");
        free(again);
        free(out);
    }
    free(in);
    return 0;
}

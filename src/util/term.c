/* term — escaping control bytes for a terminal (see term.h). */
#include "term.h"

#include <stdint.h>

#include "utf8.h"

int term_write_escaped(FILE *fp, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;      /* run: bytes from i - run on, still to write */
    while (i < len) {
        unsigned char c = u[i];
        size_t n = 1;
        int bad;
        if (c < 0x80) {
            bad = (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
        } else {
            uint32_t cp = 0;
            n = utf8_decode(u + i, len - i, &cp);
            bad = n == 0 || cp <= 0x9f;     /* C1: U+0080..U+009F */
            if (n == 0)
                n = 1;                      /* escape this byte, resync */
        }
        if (!bad) {
            i += n;
            run += n;
            continue;
        }
        if (run && fwrite(u + i - run, 1, run, fp) != run)
            return -1;
        run = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char b = u[i + k];
            char e[4];
            size_t el;
            if (b < 0x20 || b == 0x7f) {
                e[0] = '^';
                e[1] = b == 0x7f ? '?' : (char)(b + 0x40);
                el = 2;
            } else {
                e[0] = '\\';
                e[1] = 'x';
                e[2] = hex[b >> 4];
                e[3] = hex[b & 0xf];
                el = 4;
            }
            if (fwrite(e, 1, el, fp) != el)
                return -1;
        }
        i += n;
    }
    if (run && fwrite(u + len - run, 1, run, fp) != run)
        return -1;
    return 0;
}

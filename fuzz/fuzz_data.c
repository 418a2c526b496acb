/* libFuzzer harness for the DATA scanner: arbitrary bytes in arbitrary
 * chunks; the scanner must never read out of bounds, and whatever it emits
 * must contain no bare CR or bare LF (every line end is CRLF). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

struct out {
    int last_cr;
};

static void emit(void *arg, enum data_emit kind, const char *p, size_t n)
{
    struct out *o = arg;
    if (kind != DATA_EMIT_BYTES)
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && !o->last_cr)
            abort();     /* bare LF leaked into content */
        if (o->last_cr && p[i] != '\n')
            abort();     /* bare CR leaked into content */
        o->last_cr = p[i] == '\r';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    struct data_scanner s;
    struct out o = { 0 };
    data_scanner_init(&s, 1 << 20, 4096);
    size_t off = 0;
    while (off < size && !s.done) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = data_scan(&s, (const char *)data + off, n, emit, &o);
        if (used > n)
            abort();
        off += used;
    }
    return 0;
}

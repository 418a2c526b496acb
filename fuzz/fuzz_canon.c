/* libFuzzer harness for dkim/canon (see fuzz/README.md).
 *
 * The input is canonicalised as a body (simple and relaxed) whole and in
 * pieces cut where its first bytes say, and as a header field. Besides
 * ASan/UBSan, it aborts when an invariant breaks:
 *   - the pieces give the same bytes as the whole (streaming is exact);
 *   - the output is lines ending in CRLF with no bare CR LF pair broken,
 *     and no empty line at its end; simple is never empty;
 *   - relaxed output has no TAB, no two SPs in a row, no SP before CRLF;
 *   - canonicalising the output again gives it back (idempotent);
 *   - a relaxed header is "name:value" CRLF with a lower-case name and no
 *     line end inside, and no TAB or double SP in the value. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/canon.h"
#include "util/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void to_sbuf(void *arg, const void *p, size_t n)
{
    sbuf_add(arg, p, n);
}

static char *run(enum dkim_canon c, const char *p, size_t n, const size_t *cuts, size_t ncuts,
                 size_t *outlen)
{
    struct sbuf out = SBUF_INIT;
    struct canon_body b;
    sbuf_add(&out, "", 0);
    canon_body_init(&b, c, to_sbuf, &out);
    size_t at = 0;
    for (size_t i = 0; i < ncuts; i++) {
        size_t to = cuts[i] > n ? n : cuts[i];
        if (to < at)
            to = at;
        canon_body_feed(&b, p + at, to - at);
        at = to;
    }
    canon_body_feed(&b, p + at, n - at);
    canon_body_end(&b);
    check(b.out == out.len, "counted bytes");
    char *s = sbuf_take(&out, outlen);
    check(s != NULL, "out of memory");
    return s;
}

static void check_body(enum dkim_canon c, const char *p, size_t n, const size_t *cuts,
                       size_t ncuts)
{
    size_t wl, cl, al;
    char *whole = run(c, p, n, NULL, 0, &wl);
    char *cut = run(c, p, n, cuts, ncuts, &cl);
    check(wl == cl && memcmp(whole, cut, wl) == 0, "pieces differ from the whole");
    if (c == DKIM_CANON_SIMPLE)
        check(wl >= 2, "simple body empty");
    if (wl > 0) {
        check(wl >= 2 && whole[wl - 2] == '\r' && whole[wl - 1] == '\n', "no final CRLF");
        check(!(wl >= 4 && memcmp(whole + wl - 4, "\r\n\r\n", 4) == 0) ||
                  (c == DKIM_CANON_SIMPLE && wl == 2),
              "empty line at the end");
    }
    for (size_t i = 0; i < wl; i++) {
        if (whole[i] == '\n')
            check(i > 0 && whole[i - 1] == '\r', "bare LF out");
        if (c == DKIM_CANON_RELAXED) {
            check(whole[i] != '\t', "TAB in relaxed");
            check(!(whole[i] == ' ' && i + 1 < wl && whole[i + 1] == ' '), "two SPs");
            check(!(whole[i] == ' ' && i + 2 < wl + 1 && i + 1 < wl && whole[i + 1] == '\r' &&
                    i + 2 < wl && whole[i + 2] == '\n'), "SP before CRLF");
        }
    }
    char *again = run(c, whole, wl, NULL, 0, &al);
    check(al == wl && memcmp(again, whole, wl) == 0, "not idempotent");
    free(whole);
    free(cut);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[3] = { 0 };
    size_t ncuts = 0;
    for (; ncuts < 3 && size >= 2; ncuts++) {
        cuts[ncuts] = (ncuts ? cuts[ncuts - 1] : 0) + data[0] % 64;
        data++;
        size--;
    }
    const char *p = (const char *)data;
    check_body(DKIM_CANON_SIMPLE, p, size, cuts, ncuts);
    check_body(DKIM_CANON_RELAXED, p, size, cuts, ncuts);

    struct sbuf h = SBUF_INIT;
    canon_header(DKIM_CANON_RELAXED, p, size, &h);
    check(!h.oom, "out of memory");
    check(h.len >= 3 && memcmp(h.s + h.len - 2, "\r\n", 2) == 0, "header without CRLF");
    char *colon = memchr(h.s, ':', h.len);
    check(colon != NULL, "header without colon");
    for (const char *q = h.s; q < colon; q++)
        check(!(*q >= 'A' && *q <= 'Z'), "upper-case name");
    for (size_t i = 0; i + 2 < h.len; i++) {
        check(h.s[i] != '\r' && h.s[i] != '\n', "line end inside");
        if (h.s + i > colon)
            check(h.s[i] != '\t' && !(h.s[i] == ' ' && h.s[i + 1] == ' '),
                  "TAB or two SPs in the value");
    }
    check(h.len < 4 || h.s[h.len - 3] != ' ', "SP at the end of the value");
    sbuf_free(&h);
    struct sbuf s = SBUF_INIT;
    canon_header(DKIM_CANON_SIMPLE, p, size, &s);
    check(!s.oom && s.len >= size && memcmp(s.s, p, size) == 0, "simple header changed");
    sbuf_free(&s);
    return 0;
}

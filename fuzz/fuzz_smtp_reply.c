/* libFuzzer harness for the SMTP client's reply handling
 * (deliver/smtp_reply.c): what an upstream server sends is untrusted.
 *
 * The input is a byte stream from a server. It is read as a sequence of
 * replies two ways -- smtp_reply_parse on the buffer, and smtp_reply_feed
 * line by line as the session does (lines split at LF, a CR before it
 * removed) -- and the two must agree on every reply. Each complete reply
 * is checked (code, enhanced code, lines, text), turned into a result and
 * a DSN, shortened into buffers of several sizes, and read as an EHLO
 * reply. abort() on any broken invariant. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/smtp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void check_dsn_text(const char *dsn, int cls)
{
    size_t n = strnlen(dsn, 16);
    check(n < 16, "dsn terminated");
    if (n == 0)
        return;
    char again[16];
    check(smtp_parse_dsn(dsn, n, again) == n && strcmp(again, dsn) == 0,
          "a kept enhanced code parses back to itself");
    check(dsn[0] == cls, "enhanced code of the reply's class");
}

static void check_complete(const struct smtp_reply *r)
{
    check(r->complete == 1, "complete");
    check(r->code >= 200 && r->code <= 599, "code 2xx..5xx");
    check(r->nlines >= 1 && r->nlines <= SMTP_REPLY_LINES_MAX, "line count");
    check(r->text != NULL && r->text[r->len] == '\0', "text terminated");
    check(r->len <= r->nlines * (SMTP_REPLY_LINE_MAX + 1), "text bounded");
    /* every line starts with the code, and only the last has no '-' */
    const char *p = r->text, *end = r->text + r->len;
    size_t lines = 0;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        check(le - p >= 3 && le - p <= SMTP_REPLY_LINE_MAX, "line length");
        check((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0') == r->code,
              "every line has the reply's code");
        lines++;
        if (!nl) {
            check(le - p == 3 || p[3] == ' ', "the last line ends the reply");
            break;
        }
        check(p[3] == '-', "continuation lines have '-'");
        p = nl + 1;
    }
    check(lines == r->nlines, "nlines matches the text");
    check_dsn_text(r->dsn, r->text[0]);

    /* result and DSN */
    char dsn[16];
    smtp_reply_dsn(r, dsn);
    enum deliver_status st = smtp_reply_state(r->code);
    int cls = st == DELIVER_SENT ? '2' : st == DELIVER_BOUNCED ? '5' : '4';
    check(dsn[0] == cls, "DSN class follows the result");
    char again[16];
    check(smtp_parse_dsn(dsn, strlen(dsn), again) == strlen(dsn), "DSN well-formed");
    if (r->dsn[0] == cls)
        check(strcmp(dsn, r->dsn) == 0, "the server's enhanced code is kept");

    /* the one-line form: bounded, terminated, no control bytes */
    static const size_t sizes[] = { 1, 2, 4, 5, 16, 300, 800 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *out = malloc(sizes[i]);
        check(out != NULL, "oom");
        smtp_reply_oneline(r, out, sizes[i]);
        size_t n = strnlen(out, sizes[i]);
        check(n < sizes[i], "one line fits its buffer");
        for (size_t k = 0; k < n; k++)
            check((unsigned char)out[k] >= 0x20 && out[k] != 0x7f, "no control byte");
        if (r->len + 4 <= sizes[i])
            check(n == r->len, "a short reply is not shortened");
        free(out);
    }

    /* the same reply as an EHLO reply */
    struct smtp_ext ext;
    smtp_ehlo_parse(r, &ext);
    if (r->code != 250 || r->nlines == 1)
        check(ext.flags == 0 && ext.size == 0 && ext.auth == 0, "no keywords");
    check((ext.flags & ~0x3fu) == 0, "known flags only");
    check(ext.auth == 0 || (ext.flags & SMTP_EXT_AUTH), "mechanisms only with AUTH");
    check(ext.size == 0 || (ext.flags & SMTP_EXT_SIZE), "a size only with SIZE");
}

static void same(const struct smtp_reply *a, const struct smtp_reply *b)
{
    check(a->code == b->code && a->nlines == b->nlines && a->len == b->len,
          "parse and feed agree (code, lines)");
    check(strcmp(a->dsn, b->dsn) == 0, "parse and feed agree (dsn)");
    check(memcmp(a->text, b->text, a->len) == 0, "parse and feed agree (text)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private heap copy so ASan sees reads past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);

    struct smtp_reply a = { 0 }, b = { 0 };
    size_t off = 0, loff = 0;
    for (;;) {
        size_t used = 0;
        int rc = smtp_reply_parse(&a, buf + off, size - off, &used);
        check(rc >= -1 && rc <= 1, "rc in range");
        check(used <= size - off, "used within the input");
        check(rc != 0 || used == 0, "nothing consumed while incomplete");
        check(rc != 1 || used > 0, "a reply consumes bytes");

        /* the session's way: one line at a time */
        int frc = 0;
        while (loff < size) {
            const char *nl = memchr(buf + loff, '\n', size - loff);
            if (!nl) {
                /* as the session: too long to become a line */
                if (size - loff > SMTP_REPLY_LINE_MAX + 1)
                    frc = -1;
                break;
            }
            size_t n = (size_t)(nl - (buf + loff));
            size_t ll = n > 0 && buf[loff + n - 1] == '\r' ? n - 1 : n;
            /* the session refuses a longer line before feeding it */
            frc = ll > SMTP_REPLY_LINE_MAX ? -1 : smtp_reply_feed(&b, buf + loff, ll);
            loff += n + 1;
            if (frc != 0)
                break;
        }
        if (rc == 0) {
            /* incomplete: no line end the feeder could use is left, unless
             * the rest is too long to be a line (then parse says -1) */
            check(frc == 0, "feed completes a reply parse calls incomplete");
            break;
        }
        check(frc == rc, "parse and feed agree (rc)");
        if (rc < 0)
            break;
        check(off + used == loff, "parse and feed consumed the same bytes");
        check_complete(&a);
        same(&a, &b);
        off += used;
    }
    smtp_reply_free(&a);
    smtp_reply_free(&b);
    free(buf);
    return 0;
}

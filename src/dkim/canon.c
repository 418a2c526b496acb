/* canon — DKIM canonicalisation (see canon.h). */
#include "canon.h"

#include <strings.h>

#include "../util/sbuf.h"

static const char CRLFS[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

int canon_parse(const char *name, size_t len)
{
    if (len == 6 && strncasecmp(name, "simple", 6) == 0)
        return DKIM_CANON_SIMPLE;
    if (len == 7 && strncasecmp(name, "relaxed", 7) == 0)
        return DKIM_CANON_RELAXED;
    return -1;
}

const char *canon_name(enum dkim_canon c)
{
    return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static int is_eol(char c)
{
    return c == '\r' || c == '\n';
}

void canon_header(enum dkim_canon c, const char *f, size_t len, struct sbuf *out)
{
    if (c == DKIM_CANON_SIMPLE) {
        sbuf_add(out, f, len);
        if (len < 2 || f[len - 2] != '\r' || f[len - 1] != '\n')
            sbuf_add(out, "\r\n", 2);
        return;
    }
    size_t colon = 0;
    while (colon < len && f[colon] != ':')
        colon++;
    /* the name, lower-cased, without the SP/TAB (or folding) before the colon */
    size_t nend = colon;
    while (nend > 0 && (is_wsp(f[nend - 1]) || is_eol(f[nend - 1])))
        nend--;
    for (size_t i = 0; i < nend; i++) {
        char ch = f[i];
        if (is_eol(ch))
            continue;
        sbuf_char(out, ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch);
    }
    sbuf_char(out, ':');
    /* the value: unfolded, SP/TAB runs as one SP, none at either end */
    int pending = 0, started = 0;
    for (size_t i = colon + 1; i < len; i++) {
        char ch = f[i];
        if (is_eol(ch))
            continue;
        if (is_wsp(ch)) {
            pending = started;
            continue;
        }
        if (pending)
            sbuf_char(out, ' ');
        pending = 0;
        started = 1;
        size_t j = i + 1;
        while (j < len && !is_wsp(f[j]) && !is_eol(f[j]))
            j++;
        sbuf_add(out, f + i, j - i);
        i = j - 1;
    }
    sbuf_add(out, "\r\n", 2);
}

void canon_body_init(struct canon_body *b, enum dkim_canon c, canon_emit_fn *emit, void *arg)
{
    *b = (struct canon_body){ .c = c, .emit = emit, .arg = arg };
}

static void emit(struct canon_body *b, const void *p, size_t n)
{
    b->out += n;
    b->any = 1;
    b->emit(b->arg, p, n);
}

/* n > 0 bytes of the current line's content (no line end; relaxed: no
 * SP/TAB): the empty lines before it were not the body's end after all. */
static void content(struct canon_body *b, const char *p, size_t n)
{
    if (!b->line) {
        while (b->empty > 0) {
            size_t k = b->empty > (sizeof CRLFS - 1) / 2 ? (sizeof CRLFS - 1) / 2
                                                          : (size_t)b->empty;
            emit(b, CRLFS, 2 * k);
            b->empty -= k;
        }
        b->line = 1;
    }
    if (b->wsp) {
        emit(b, " ", 1);
        b->wsp = 0;
    }
    emit(b, p, n);
}

static void line_end(struct canon_body *b)
{
    if (b->line)
        emit(b, "\r\n", 2);
    else
        b->empty++;
    b->line = 0;
    b->wsp = 0;     /* relaxed: trailing SP/TAB go */
}

void canon_body_feed(struct canon_body *b, const char *p, size_t n)
{
    int relaxed = b->c == DKIM_CANON_RELAXED;
    size_t i = 0;
    while (i < n) {
        char ch = p[i];
        if (b->cr) {
            b->cr = 0;
            if (ch == '\n') {
                line_end(b);
                i++;
                continue;
            }
            content(b, "\r", 1);
        }
        if (ch == '\r') {
            b->cr = 1;
            i++;
        } else if (ch == '\n') {
            line_end(b);
            i++;
        } else if (relaxed && is_wsp(ch)) {
            b->wsp = 1;
            i++;
        } else {
            size_t j = i + 1;
            while (j < n && !is_eol(p[j]) && !(relaxed && is_wsp(p[j])))
                j++;
            content(b, p + i, j - i);
            i = j;
        }
    }
}

void canon_body_end(struct canon_body *b)
{
    if (b->cr) {
        b->cr = 0;
        content(b, "\r", 1);
    }
    if (b->line)
        line_end(b);
    b->empty = 0;
    b->wsp = 0;
    if (b->c == DKIM_CANON_SIMPLE && !b->any)
        emit(b, "\r\n", 2);
}

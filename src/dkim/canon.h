/* canon — DKIM canonicalisation (RFC 6376 3.4), pure: no I/O, no
 * allocation of its own (headers append to a caller's sbuf; the body is
 * streamed to a callback), linear in the input.
 *
 * Input is the message as it goes on the wire, without dot-stuffing:
 * lines end in CRLF. A bare LF also ends a line (as verifiers normalise
 * it); a bare CR is an ordinary byte.
 *
 * Headers, one field at a time (its folded continuation lines included):
 *   simple   the field unchanged, CRLF added if it has none;
 *   relaxed  name lower-cased, line ends removed (unfolded), every run of
 *            SP/TAB turned into one SP, SP/TAB before and after the colon
 *            and at the end of the value removed; "name:value" CRLF.
 * Body, streamed in pieces cut anywhere (a CRLF may be split):
 *   simple   unchanged, but empty lines at the end removed; an empty body
 *            is one CRLF; a last line without a line end gets one;
 *   relaxed  SP/TAB runs inside a line turned into one SP, SP/TAB at the
 *            end of a line removed, empty lines at the end removed; an
 *            empty body stays empty; a last line without an end gets one.
 * Empty lines are held back (counted, not copied) until a line with
 * content shows they were not at the end, so memory stays constant
 * however many there are. */
#ifndef POSTERN_DKIM_CANON_H
#define POSTERN_DKIM_CANON_H

#include <stddef.h>

struct sbuf;

enum dkim_canon { DKIM_CANON_SIMPLE = 0, DKIM_CANON_RELAXED = 1 };

/* "simple" / "relaxed" (case-insensitive) → 0 / 1; -1 for anything else. */
int canon_parse(const char *name, size_t len);
const char *canon_name(enum dkim_canon c);

/* Append the canonical form of one header field (len bytes: name, colon,
 * value, continuation lines; the final CRLF optional) to out, CRLF
 * included. A field without a colon is taken as a name with an empty
 * value. */
void canon_header(enum dkim_canon c, const char *field, size_t len, struct sbuf *out);

typedef void canon_emit_fn(void *arg, const void *p, size_t n);

struct canon_body {
    enum dkim_canon c;
    canon_emit_fn *emit;
    void *arg;
    unsigned long long empty;   /* empty lines held back */
    int cr;                     /* a CR held back: line end or content? */
    int wsp;                    /* relaxed: SP/TAB held back on this line */
    int line;                   /* the current line has content out */
    int any;                    /* anything at all went out */
    unsigned long long out;     /* bytes emitted */
};

void canon_body_init(struct canon_body *b, enum dkim_canon c, canon_emit_fn *emit, void *arg);
/* The next n bytes of the body. */
void canon_body_feed(struct canon_body *b, const char *p, size_t n);
/* The end of the body: what is still held back, by the rules above. */
void canon_body_end(struct canon_body *b);

#endif

/* sbuf — a growable string buffer, always NUL-terminated.
 *
 *   struct sbuf b = SBUF_INIT;
 *   sbuf_str(&b, "id ");
 *   sbuf_printf(&b, "%llu\n", n);
 *   char *s = sbuf_take(&b, &len);     // NULL if any append failed
 *
 * Start from SBUF_INIT (all zero). b.s is NULL until the first append (an
 * append of 0 bytes allocates, so that b.s is then ""), and from then on
 * b.s[b.len] is always '\0'. When memory runs out, or a size would
 * overflow, the buffer sets b.oom and ignores every later append: the text
 * appended before stays valid, so callers check oom once, at the end. The
 * buffer has no limit of its own: callers bound what they append.
 * Arguments of an append must not point into the buffer itself (it may
 * move). */
#ifndef POSTERN_UTIL_SBUF_H
#define POSTERN_UTIL_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

#define SBUF_INIT { NULL, 0, 0, 0 }

#if defined(__GNUC__)
#define SBUF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SBUF_PRINTF(a, b)
#endif

/* Make room for n more bytes plus the NUL. 0, or -1 when oom is (now) set. */
int sbuf_reserve(struct sbuf *b, size_t n);

/* Append n bytes of p (which may hold NULs; p may be NULL when n is 0). */
void sbuf_add(struct sbuf *b, const void *p, size_t n);
/* Append the C string s. */
void sbuf_str(struct sbuf *b, const char *s);
/* Append one byte. */
void sbuf_char(struct sbuf *b, char c);
/* Append formatted text; an output vsnprintf cannot produce sets oom. */
void sbuf_printf(struct sbuf *b, const char *fmt, ...) SBUF_PRINTF(2, 3);
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap) SBUF_PRINTF(2, 0);

/* Append s as a JSON string: quoted, '"' and '\\' escaped, control
 * bytes as \u00XX (other bytes as they are: the text is UTF-8 or ASCII). */
void sbuf_json(struct sbuf *b, const char *s);
/* Append s as HTML text (an element's content or a quoted attribute
 * value): & < > " ' as character references, control bytes as "\xNN"
 * (visible, never markup). */
void sbuf_html(struct sbuf *b, const char *s);
/* Shorten to len bytes (no-op when len >= b->len); oom stays as it is. */
void sbuf_truncate(struct sbuf *b, size_t len);

/* The text as a malloc'd NUL-terminated string (at least "", never NULL on
 * success) and its length in *len (len may be NULL). NULL with errno
 * ENOMEM when oom was set; the text is then freed. Either way the buffer is
 * left empty (SBUF_INIT), ready for reuse. */
char *sbuf_take(struct sbuf *b, size_t *len);

/* Free the text and reset to SBUF_INIT. */
void sbuf_free(struct sbuf *b);

#endif

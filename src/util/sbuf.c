#include "sbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First allocation; then the capacity doubles. */
#define SBUF_MIN_CAP 64

int sbuf_reserve(struct sbuf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;                 /* len + n + 1 would wrap */
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : SBUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *t = realloc(b->s, cap);
    if (!t) {
        b->oom = 1;
        return -1;
    }
    if (!b->s)
        t[0] = '\0';                /* first allocation: len is 0 */
    b->s = t;
    b->cap = cap;
    return 0;
}

void sbuf_add(struct sbuf *b, const void *p, size_t n)
{
    if (sbuf_reserve(b, n) < 0)
        return;
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sbuf_str(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

void sbuf_char(struct sbuf *b, char c)
{
    sbuf_add(b, &c, 1);
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
    char tmp[256];
    va_list aq;

    if (b->oom)
        return;
    va_copy(aq, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, aq);
    va_end(aq);
    if (n < 0) {
        b->oom = 1;                 /* EOVERFLOW: longer than INT_MAX */
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sbuf_add(b, tmp, (size_t)n);
        return;
    }
    /* too long for tmp: format again, straight into the buffer */
    if (sbuf_reserve(b, (size_t)n) < 0)
        return;
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_truncate(struct sbuf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->s[len] = '\0';
}

char *sbuf_take(struct sbuf *b, size_t *len)
{
    if (!b->oom && !b->s)
        sbuf_reserve(b, 0);         /* nothing appended: "" */
    if (b->oom) {
        sbuf_free(b);
        if (len)
            *len = 0;
        errno = ENOMEM;
        return NULL;
    }
    char *s = b->s;
    if (len)
        *len = b->len;
    *b = (struct sbuf)SBUF_INIT;
    return s;
}

void sbuf_free(struct sbuf *b)
{
    free(b->s);
    *b = (struct sbuf)SBUF_INIT;
}

void sbuf_html(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': sbuf_str(b, "&amp;"); break;
        case '<': sbuf_str(b, "&lt;"); break;
        case '>': sbuf_str(b, "&gt;"); break;
        case '"': sbuf_str(b, "&quot;"); break;
        case '\'': sbuf_str(b, "&#39;"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                sbuf_printf(b, "\\x%02x", c);
            else
                sbuf_char(b, (char)c);
        }
    }
}

void sbuf_json(struct sbuf *b, const char *s)
{
    sbuf_char(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sbuf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            sbuf_printf(b, "\\u%04x", c);
        else
            sbuf_char(b, (char)c);
    }
    sbuf_char(b, '"');
}

#include "data.h"

#include <string.h>
#include <strings.h>

void data_scanner_init(struct data_scanner *s, long long size_limit,
                       long long header_limit)
{
    memset(s, 0, sizeof *s);
    s->size_limit = size_limit;
    s->header_limit = header_limit;
    /* the DATA command line itself ended with a line end */
    s->prev_end_crlf = 1;
}

static void out_bytes(struct data_scanner *s, const char *p, size_t n,
                      data_emit_fn emit, void *arg)
{
    if (n == 0)
        return;
    s->size += (long long)n;
    if (s->size_limit > 0 && s->size > s->size_limit && s->error == DATA_OK)
        s->error = DATA_ERR_SIZE;
    if (s->error == DATA_OK)
        emit(arg, DATA_EMIT_BYTES, p, n);
}

static void end_headers(struct data_scanner *s, data_emit_fn emit, void *arg)
{
    s->headers_done = 1;
    if (s->error == DATA_OK)
        emit(arg, DATA_EMIT_HEADER_END, NULL, 0);
}

static int header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* Does this first piece of a line look like a header field "name:"? */
static int looks_like_header(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == ':')
            return i > 0;
        if (c <= 32 || c >= 127)
            return 0;
    }
    return 0;
}

/* Header bookkeeping for the first piece of a line (or a whole line). */
static void header_line(struct data_scanner *s, const char *line, size_t len,
                        data_emit_fn emit, void *arg)
{
    if (len == 0) {
        end_headers(s, emit, arg);
        return;
    }
    if ((line[0] == ' ' || line[0] == '\t') && s->in_header_cont_ok)
        ;   /* folded continuation of the previous field */
    else if (looks_like_header(line, len)) {
        s->in_header_cont_ok = 1;
        if (header_is(line, len, "message-id"))
            s->have_message_id = 1;
        else if (header_is(line, len, "date"))
            s->have_date = 1;
        else if (header_is(line, len, "from"))
            s->have_from = 1;
        else if (header_is(line, len, "received"))
            s->received++;
    } else {
        /* body text without the empty separator line: the headers end here,
         * and the missing empty line is written after whatever the caller
         * adds at the end of the headers (Received:, Message-ID:, Date:), as
         * Postfix's cleanup does; without it the first body line would
         * become a header, or the continuation of the last one. Not counted
         * in the size: it is ours, like the added headers. */
        end_headers(s, emit, arg);
        if (s->error == DATA_OK)
            emit(arg, DATA_EMIT_BYTES, "\r\n", 2);
    }
}

/* Emit the buffered piece of the current line. final: the line ends here,
 * real_crlf: with a real CRLF. Returns 1 when this was the end of DATA. */
static int flush_line(struct data_scanner *s, int final, int real_crlf,
                      data_emit_fn emit, void *arg)
{
    const char *p = s->line;
    size_t n = s->line_len;

    if (!s->line_continued) {
        if (final && n == 1 && p[0] == '.') {
            if (real_crlf && s->prev_end_crlf)
                return 1;
            /* a "." line next to a bare LF: content, never the end */
        } else if (n > 0 && p[0] == '.') {
            p++;
            n--;
        }
        if (!s->headers_done)
            header_line(s, p, n, emit, arg);
    }
    if (!s->headers_done && s->error == DATA_OK) {
        s->header_bytes += (long long)n + (final ? 2 : 0);
        if (s->header_limit > 0 && s->header_bytes > s->header_limit)
            s->error = DATA_ERR_HEADER_SIZE;
    }
    out_bytes(s, p, n, emit, arg);
    if (final) {
        out_bytes(s, "\r\n", 2, emit, arg);
        s->line_continued = 0;
        s->prev_end_crlf = real_crlf;
    } else {
        s->line_continued = 1;
    }
    s->line_len = 0;
    return 0;
}

size_t data_scan(struct data_scanner *s, const char *in, size_t len,
                 data_emit_fn emit, void *arg)
{
    size_t i = 0;
    while (i < len && !s->done) {
        char c = in[i++];
        if (s->pending_cr) {
            s->pending_cr = 0;
            if (c == '\n') {
                if (flush_line(s, 1, 1, emit, arg)) {
                    s->done = 1;
                    break;
                }
                continue;
            }
            /* bare CR: keep scanning for the real end, reject at the end */
            if (s->error == DATA_OK)
                s->error = DATA_ERR_BARE_CR;
            /* fall through to handle c normally */
        }
        if (c == '\r') {
            s->pending_cr = 1;
            continue;
        }
        if (c == '\n') {
            flush_line(s, 1, 0, emit, arg);
            continue;
        }
        if (s->line_len == sizeof s->line)
            flush_line(s, 0, 0, emit, arg);
        s->line[s->line_len++] = c;
    }
    if (s->done && !s->headers_done)
        end_headers(s, emit, arg);
    return i;
}

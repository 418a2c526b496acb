/* data — the DATA scanner: a pure, streaming state machine.
 *
 * Input: raw bytes after the 354 reply, in chunks of any size.
 * Output (through emit): the message content with dot-stuffing removed and
 * every line ending as CRLF, and one DATA_EMIT_HEADER_END event where the
 * header section ends (so the caller can add missing Message-ID:/Date:).
 * When the content goes on after the headers without the empty separator
 * line (or starts with body text), an empty line is emitted right after
 * that event, so the body stays body whatever the caller adds.
 *
 * SMTP smuggling defence (CVE-2023-51764 class): DATA ends only at
 * <CRLF>.<CRLF> with both line ends real CRLFs. A bare LF is accepted as a
 * line end and normalised to CRLF (scripts and curl send LF files), but a
 * "." line next to a bare LF never ends the message: it is kept as a "."
 * content line. A bare CR (CR not followed by LF) is a sticky error: the
 * rest is drained and the message rejected (550 5.6.0).
 * Errors are sticky: scanning goes on to the end of DATA, then the caller
 * sends one reply. */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>

enum data_error {
    DATA_OK = 0,
    DATA_ERR_SIZE,          /* over message_size_limit: 552 5.3.4 */
    DATA_ERR_HEADER_SIZE,   /* header section over header_size_limit: 552 5.3.4 */
    DATA_ERR_BARE_CR,       /* bare CR in content: 550 5.6.0 */
};

enum data_emit { DATA_EMIT_BYTES, DATA_EMIT_HEADER_END };

typedef void (*data_emit_fn)(void *arg, enum data_emit kind,
                             const char *p, size_t n);

#define DATA_LINE_MAX 1024     /* longer lines pass through in pieces */

struct data_scanner {
    long long size_limit;      /* 0 = none; counts content bytes emitted */
    long long header_limit;    /* 0 = none */
    long long size;            /* content bytes so far (after unstuffing) */
    long long header_bytes;
    enum data_error error;
    int done;
    int headers_done;
    int have_message_id, have_date, have_from;
    int received;              /* Received: headers seen (hop count) */
    /* line assembly */
    char line[DATA_LINE_MAX];
    size_t line_len;
    int line_continued;        /* current line already had a piece emitted */
    int pending_cr;            /* last byte was CR, waiting for LF */
    int prev_end_crlf;         /* previous line ended with a real CRLF */
    int in_header_cont_ok;     /* a header line was seen: folding allowed */
};

void data_scanner_init(struct data_scanner *s, long long size_limit,
                       long long header_limit);

/* Feed len bytes. Returns the number consumed: all of them unless the end
 * of DATA was reached, in which case s->done is set and the bytes after the
 * final CRLF are left for the command parser (pipelining). */
size_t data_scan(struct data_scanner *s, const char *in, size_t len,
                 data_emit_fn emit, void *arg);

#endif

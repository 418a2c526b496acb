/* Unit tests for the DATA scanner: dot un-stuffing, line-end
 * normalisation, smuggling defence, limits, header tracking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "smtp/data.h"

struct sink {
    char buf[8192];
    size_t len;
    long header_end_at;     /* offset in buf of the HEADER_END event, -1 none */
};

static void sink_emit(void *arg, enum data_emit kind, const char *p, size_t n)
{
    struct sink *k = arg;
    if (kind == DATA_EMIT_HEADER_END) {
        assert_int_equal(k->header_end_at, -1);   /* exactly once */
        k->header_end_at = (long)k->len;
        return;
    }
    assert_true(k->len + n <= sizeof k->buf);
    memcpy(k->buf + k->len, p, n);
    k->len += n;
}

/* Scan in chunks of `chunk` bytes; returns bytes consumed overall. */
static size_t scan(struct data_scanner *s, struct sink *k, const char *in,
                   size_t chunk)
{
    size_t len = strlen(in), off = 0;
    k->len = 0;
    k->header_end_at = -1;
    while (off < len && !s->done) {
        size_t n = len - off < chunk ? len - off : chunk;
        off += data_scan(s, in + off, n, sink_emit, k);
    }
    return off;
}

struct vec {
    const char *in;
    const char *out;       /* expected content, NULL: not done */
    size_t rest;           /* bytes left after the end */
    enum data_error err;
};

/* Content that starts with body text gets the empty separator line first
 * (after the HEADER_END event): "\r\n" leads such outputs. */
static const struct vec vecs[] = {
    { "Subject: a\r\n\r\nhello\r\n.\r\n", "Subject: a\r\n\r\nhello\r\n", 0, DATA_OK },
    /* dot un-stuffing */
    { "a\r\n..b\r\n...\r\n.\r\n", "\r\na\r\n.b\r\n..\r\n", 0, DATA_OK },
    /* pipelined command after the end stays unread */
    { "x\r\n.\r\nQUIT\r\n", "\r\nx\r\n", 6, DATA_OK },
    /* empty message */
    { ".\r\n", "", 0, DATA_OK },
    /* bare LF normalised */
    { "a\nb\n\r\n.\r\n", "\r\na\r\nb\r\n\r\n", 0, DATA_OK },
    /* <LF>.<LF> does not end DATA (smuggling) */
    { "a\n.\nMAIL FROM:<x>\r\n.\r\n", "\r\na\r\n.\r\nMAIL FROM:<x>\r\n", 0, DATA_OK },
    /* <LF>.<CRLF> does not end DATA */
    { "a\n.\r\nb\r\n.\r\n", "\r\na\r\n.\r\nb\r\n", 0, DATA_OK },
    /* <CRLF>.<LF> does not end DATA */
    { "a\r\n.\nb\r\n.\r\n", "\r\na\r\n.\r\nb\r\n", 0, DATA_OK },
    /* bare CR is a sticky error, the end is still found */
    { "a\rb\r\n.\r\nNOOP\r\n", "", 6, DATA_ERR_BARE_CR },
    /* <CR>.<CR> is not an end either */
    { "a\r.\rb\r\n.\r\n", "", 0, DATA_ERR_BARE_CR },
    /* no end yet */
    { "a\r\nb\r\n", NULL, 0, DATA_OK },
};

static void test_vectors(void **state)
{
    (void)state;
    static const size_t chunks[] = { 1, 2, 3, 7, 4096 };
    for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            struct data_scanner s;
            struct sink k;
            data_scanner_init(&s, 0, 0);
            size_t used = scan(&s, &k, vecs[v].in, chunks[c]);
            if (!vecs[v].out) {
                assert_false(s.done);
                continue;
            }
            if (!s.done)
                fail_msg("vector %zu chunk %zu: not done", v, chunks[c]);
            assert_int_equal(s.error, vecs[v].err);
            assert_int_equal(strlen(vecs[v].in) - used, vecs[v].rest);
            if (vecs[v].err == DATA_OK) {
                k.buf[k.len] = '\0';
                assert_string_equal(k.buf, vecs[v].out);
            }
        }
    }
}

static void test_size_limit(void **state)
{
    (void)state;
    struct data_scanner s;
    struct sink k;
    data_scanner_init(&s, 10, 0);
    scan(&s, &k, "0123456789\r\n.\r\n", 4096);
    assert_true(s.done);
    assert_int_equal(s.error, DATA_ERR_SIZE);
    data_scanner_init(&s, 12, 0);
    scan(&s, &k, "0123456789\r\n.\r\n", 4096);
    assert_int_equal(s.error, DATA_OK);
    assert_int_equal(s.size, 12);
}

static void test_header_limit(void **state)
{
    (void)state;
    struct data_scanner s;
    struct sink k;
    data_scanner_init(&s, 0, 20);
    scan(&s, &k, "Subject: 0123456789012345\r\n\r\nbody\r\n.\r\n", 4096);
    assert_true(s.done);
    assert_int_equal(s.error, DATA_ERR_HEADER_SIZE);
    data_scanner_init(&s, 0, 20);
    scan(&s, &k, "Subject: x\r\n\r\n0123456789012345678901234\r\n.\r\n", 4096);
    assert_int_equal(s.error, DATA_OK);
}

static void test_headers(void **state)
{
    (void)state;
    struct data_scanner s;
    struct sink k;
    const char *msg = "From: a@b\r\nSubject: x\r\n folded\r\nmessage-ID: <1@x>\r\n"
                      "\r\nDate: not a header\r\n.\r\n";
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, msg, 5);
    assert_true(s.have_from);
    assert_int_equal(s.received, 0);
    assert_true(s.have_message_id);
    assert_false(s.have_date);
    /* HEADER_END comes before the blank separator line */
    const char *hdr = "From: a@b\r\nSubject: x\r\n folded\r\nmessage-ID: <1@x>\r\n";
    assert_int_equal(k.header_end_at, (long)strlen(hdr));

    /* body starts without a blank line: headers end before it, and the
     * missing empty line follows the event */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Subject: y\r\nthis is body\r\nDate: x\r\n.\r\n", 4096);
    assert_false(s.have_date);
    assert_int_equal(k.header_end_at, (long)strlen("Subject: y\r\n"));
    k.buf[k.len] = '\0';
    assert_string_equal(k.buf, "Subject: y\r\n\r\nthis is body\r\nDate: x\r\n");

    /* hop count: Received: fields in the header section only */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Received: a\r\n\tfolded\r\nreceived: b\r\n\r\nReceived: body\r\n.\r\n", 3);
    assert_int_equal(s.received, 2);

    /* only headers: the event comes at the end */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Subject: z\r\n.\r\n", 4096);
    assert_int_equal(k.header_end_at, (long)strlen("Subject: z\r\n"));
}

/* No header section at all: the empty line comes right after HEADER_END,
 * before the first body line, so nothing the caller adds there (Received:,
 * Message-ID:, Date:) can swallow it as a header or a continuation line. */
static void test_body_without_header_section(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* a first line that starts with a space would continue Date: */
        { " indented first line\r\nsecond\r\n.\r\n",
          "\r\n indented first line\r\nsecond\r\n" },
        { "\tX-Evil: 1\r\n.\r\n", "\r\n\tX-Evil: 1\r\n" },
        /* plain text without a colon would be a broken header */
        { "hello world\r\n\r\nmore\r\n.\r\n", "\r\nhello world\r\n\r\nmore\r\n" },
        /* bare LF and a stuffed dot on the first line */
        { "..dot\nx\r\n.\r\n", "\r\n.dot\r\nx\r\n" },
        /* punctuation, but no colon */
        { "no colon in this line, which is just text\r\n.\r\n",
          "\r\nno colon in this line, which is just text\r\n" },
    };
    static const size_t chunks[] = { 1, 3, 4096 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            struct data_scanner s;
            struct sink k;
            data_scanner_init(&s, 0, 0);
            scan(&s, &k, cases[i].in, chunks[c]);
            assert_true(s.done);
            assert_int_equal(s.error, DATA_OK);
            assert_int_equal(k.header_end_at, 0);
            k.buf[k.len] = '\0';
            assert_string_equal(k.buf, cases[i].out);
        }
    }
    /* the separator is ours: it does not count towards message_size_limit */
    struct data_scanner s;
    struct sink k;
    data_scanner_init(&s, 5, 0);
    scan(&s, &k, "abc\r\n.\r\n", 4096);
    assert_int_equal(s.error, DATA_OK);
    assert_int_equal(s.size, 5);
    /* a proper empty line is not doubled; headers only get none */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "\r\nbody\r\n.\r\n", 4096);
    k.buf[k.len] = '\0';
    assert_string_equal(k.buf, "\r\nbody\r\n");
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Subject: z\r\n.\r\n", 4096);
    k.buf[k.len] = '\0';
    assert_string_equal(k.buf, "Subject: z\r\n");
}

static void test_long_lines(void **state)
{
    (void)state;
    static char in[5000], want[5000];
    memset(in, 'x', 3000);
    in[0] = '.';
    strcpy(in + 3000, "\r\n.\r\n");
    memcpy(want, "\r\n", 2);       /* body text first: the separator */
    memcpy(want + 2, in + 1, 2999);
    strcpy(want + 2 + 2999, "\r\n");
    struct data_scanner s;
    struct sink k;
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, in, 100);
    assert_true(s.done);
    k.buf[k.len] = '\0';
    assert_string_equal(k.buf, want);
    /* a long line that starts with ".\r\n" after a piece is content */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_body_without_header_section),
        cmocka_unit_test(test_long_lines),
    };
    return cmocka_run_group_tests_name("data", tests, NULL, NULL);
}

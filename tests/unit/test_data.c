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

static const struct vec vecs[] = {
    { "Subject: a\r\n\r\nhello\r\n.\r\n", "Subject: a\r\n\r\nhello\r\n", 0, DATA_OK },
    /* dot un-stuffing */
    { "a\r\n..b\r\n...\r\n.\r\n", "a\r\n.b\r\n..\r\n", 0, DATA_OK },
    /* pipelined command after the end stays unread */
    { "x\r\n.\r\nQUIT\r\n", "x\r\n", 6, DATA_OK },
    /* empty message */
    { ".\r\n", "", 0, DATA_OK },
    /* bare LF normalised */
    { "a\nb\n\r\n.\r\n", "a\r\nb\r\n\r\n", 0, DATA_OK },
    /* <LF>.<LF> does not end DATA (smuggling) */
    { "a\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", 0, DATA_OK },
    /* <LF>.<CRLF> does not end DATA */
    { "a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", 0, DATA_OK },
    /* <CRLF>.<LF> does not end DATA */
    { "a\r\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", 0, DATA_OK },
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

    /* body starts without a blank line: headers end before it */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Subject: y\r\nthis is body\r\nDate: x\r\n.\r\n", 4096);
    assert_false(s.have_date);
    assert_int_equal(k.header_end_at, (long)strlen("Subject: y\r\n"));

    /* hop count: Received: fields in the header section only */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Received: a\r\n\tfolded\r\nreceived: b\r\n\r\nReceived: body\r\n.\r\n", 3);
    assert_int_equal(s.received, 2);

    /* only headers: the event comes at the end */
    data_scanner_init(&s, 0, 0);
    scan(&s, &k, "Subject: z\r\n.\r\n", 4096);
    assert_int_equal(k.header_end_at, (long)strlen("Subject: z\r\n"));
}

static void test_long_lines(void **state)
{
    (void)state;
    static char in[5000], want[5000];
    memset(in, 'x', 3000);
    in[0] = '.';
    strcpy(in + 3000, "\r\n.\r\n");
    memcpy(want, in + 1, 2999);
    strcpy(want + 2999, "\r\n");
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
        cmocka_unit_test(test_long_lines),
    };
    return cmocka_run_group_tests_name("data", tests, NULL, NULL);
}

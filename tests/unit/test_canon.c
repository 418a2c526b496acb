/* Unit tests for dkim/canon: RFC 6376's own example (3.4.5), empty bodies,
 * SP/TAB runs, trailing empty lines, unfolding, and streaming: every way
 * of cutting the input into two or more pieces gives the same output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/canon.h"
#include "util/sbuf.h"

static void to_sbuf(void *arg, const void *p, size_t n)
{
    sbuf_add(arg, p, n);
}

/* The body canonicalised in pieces of `step` bytes (0: all at once). */
static char *body(enum dkim_canon c, const char *in, size_t len, size_t step)
{
    struct sbuf out = SBUF_INIT;
    struct canon_body b;
    sbuf_add(&out, "", 0);
    canon_body_init(&b, c, to_sbuf, &out);
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len; i += step)
        canon_body_feed(&b, in + i, len - i < step ? len - i : step);
    canon_body_end(&b);
    assert_int_equal(b.out, out.len);
    return sbuf_take(&out, NULL);
}

static void check_body(enum dkim_canon c, const char *in, const char *want)
{
    size_t len = strlen(in);
    for (size_t step = 0; step <= len + 1; step++) {
        char *got = body(c, in, len, step);
        if (strcmp(got, want) != 0)
            fail_msg("%s body of \"%s\" in steps of %zu: got \"%s\", want \"%s\"",
                     canon_name(c), in, step, got, want);
        free(got);
    }
}

static void check_header(enum dkim_canon c, const char *in, const char *want)
{
    struct sbuf out = SBUF_INIT;
    canon_header(c, in, strlen(in), &out);
    char *got = sbuf_take(&out, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("%s header \"%s\": got \"%s\", want \"%s\"", canon_name(c), in, got, want);
    free(got);
}

/* RFC 6376 3.4.5 */
static void test_rfc_example(void **state)
{
    (void)state;
    check_header(DKIM_CANON_RELAXED, "A: X\r\n", "a:X\r\n");
    check_header(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
    check_header(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n");
    const char *b = " C \r\nD \t E\r\n\r\n\r\n";
    check_body(DKIM_CANON_RELAXED, b, " C\r\nD E\r\n");
    check_body(DKIM_CANON_SIMPLE, b, " C \r\nD \t E\r\n");
}

static void test_empty_bodies(void **state)
{
    (void)state;
    check_body(DKIM_CANON_SIMPLE, "", "\r\n");
    check_body(DKIM_CANON_RELAXED, "", "");
    check_body(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
    check_body(DKIM_CANON_RELAXED, "\r\n\r\n\r\n", "");
    /* a line of blanks is empty for relaxed only */
    check_body(DKIM_CANON_RELAXED, " \t \r\n\r\n", "");
    check_body(DKIM_CANON_SIMPLE, " \t \r\n\r\n", " \t \r\n");
}

static void test_body_edges(void **state)
{
    (void)state;
    /* no line end at the end: one is added */
    check_body(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
    check_body(DKIM_CANON_RELAXED, "abc  ", "abc\r\n");
    /* empty lines in the middle stay; only the trailing ones go */
    check_body(DKIM_CANON_SIMPLE, "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n");
    check_body(DKIM_CANON_RELAXED, "a\r\n \r\n\t\r\nb \r\n \r\n", "a\r\n\r\n\r\nb\r\n");
    /* runs of SP and TAB, leading ones kept as one SP */
    check_body(DKIM_CANON_RELAXED, "\t\ta  \t b\t\r\n", " a b\r\n");
    /* a bare LF ends a line; a bare CR is content */
    check_body(DKIM_CANON_SIMPLE, "a\nb\n\n", "a\r\nb\r\n");
    check_body(DKIM_CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n");
    check_body(DKIM_CANON_RELAXED, "a \r b\r", "a \r b\r\r\n");
    /* UTF-8 passes untouched */
    check_body(DKIM_CANON_RELAXED, "\xe4\xbd\xa0\xe5\xa5\xbd  \xe4\xb8\x96\xe7\x95\x8c\r\n",
               "\xe4\xbd\xa0\xe5\xa5\xbd \xe4\xb8\x96\xe7\x95\x8c\r\n");
    /* many trailing empty lines, held back without a copy */
    struct sbuf in = SBUF_INIT;
    sbuf_str(&in, "x\r\n");
    for (int i = 0; i < 5000; i++)
        sbuf_str(&in, "\r\n");
    sbuf_str(&in, "y");
    char *got = body(DKIM_CANON_SIMPLE, in.s, in.len, 7);
    assert_int_equal(strlen(got), in.len + 2);
    assert_memory_equal(got, in.s, in.len);
    free(got);
    got = body(DKIM_CANON_SIMPLE, in.s, in.len - 1, 7);   /* without the y */
    assert_string_equal(got, "x\r\n");
    free(got);
    sbuf_free(&in);
}

static void test_headers(void **state)
{
    (void)state;
    check_header(DKIM_CANON_RELAXED, "SUBJECT:   Hello\t  World   \r\n",
                 "subject:Hello World\r\n");
    /* long folded header: unfolded */
    check_header(DKIM_CANON_RELAXED,
                 "To: a@example.com,\r\n b@example.com,\r\n\tc@example.com\r\n",
                 "to:a@example.com, b@example.com, c@example.com\r\n");
    check_header(DKIM_CANON_RELAXED, "X-Empty:\r\n", "x-empty:\r\n");
    check_header(DKIM_CANON_RELAXED, "X-Empty: \r\n  \r\n", "x-empty:\r\n");
    check_header(DKIM_CANON_RELAXED, "NoColon", "nocolon:\r\n");
    /* the case of the value is kept */
    check_header(DKIM_CANON_RELAXED, "From: Bob <BOB@Example.COM>",
                 "from:Bob <BOB@Example.COM>\r\n");
    /* simple: only a missing CRLF is added */
    check_header(DKIM_CANON_SIMPLE, "Subject: x", "Subject: x\r\n");
    check_header(DKIM_CANON_SIMPLE, "Subject:  x \r\n", "Subject:  x \r\n");
}

static void test_parse(void **state)
{
    (void)state;
    assert_int_equal(canon_parse("relaxed", 7), DKIM_CANON_RELAXED);
    assert_int_equal(canon_parse("SIMPLE", 6), DKIM_CANON_SIMPLE);
    assert_int_equal(canon_parse("relax", 5), -1);
    assert_int_equal(canon_parse("", 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example),
        cmocka_unit_test(test_empty_bodies),
        cmocka_unit_test(test_body_edges),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the log escaping rule: log_sanitize (free text) and
 * log_addr (from=<>/to=<>/orig_to=<>/helo=<> fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static void test_sanitize(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } v[] = {
        { "plain text: 250 ok", 18, "plain text: 250 ok" },
        { "a\x1b[31mb", 7, "a\\x1b[31mb" },            /* ESC */
        { "\x9b" "31m", 4, "\\x9b31m" },                 /* C1 CSI */
        { "caf\xc3\xa9", 5, "caf\\xc3\\xa9" },           /* 8-bit (UTF-8) */
        { "\x7f\x01\r\n\t", 5, "\\x7f\\x01\\x0d\\x0a\\x09" },
        { "a\0b", 3, "a\\x00b" },                        /* NUL inside */
        { "back\\x1b", 8, "back\\x5cx1b" },              /* reversible */
        { "<a>, b=c", 8, "<a>, b=c" },                   /* free text: kept */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[64];
        assert_string_equal(log_sanitize(v[i].in, v[i].len, out, sizeof out), v[i].out);
    }
}

static void test_sanitize_truncates(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(log_sanitize("abcdefg", 7, out, sizeof out), "abcdefg");
    assert_string_equal(log_sanitize("abcdefgh", 8, out, sizeof out), "abcd...");
    /* never half an escape */
    assert_string_equal(log_sanitize("a\x01\x02\x03", 4, out, sizeof out), "a...");
    assert_string_equal(log_sanitize("\x01\x02", 2, out, sizeof out), "\\x01...");
    char tiny[3];
    assert_string_equal(log_sanitize("abcdef", 6, tiny, sizeof tiny), "..");
    char one[1];
    assert_string_equal(log_sanitize("abc", 3, one, sizeof one), "");
}

/* A log line "to=<X>, relay=capture, status=sent": the field value must
 * hold nothing a Postfix log parser takes for a delimiter. */
static void assert_field_safe(const char *v)
{
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        assert_true(c > 0x20 && c < 0x7f);
        assert_true(c != '<' && c != '>' && c != ',');
    }
}

static void test_addr(void **state)
{
    (void)state;
    char out[LOG_ADDR_SIZE];
    assert_string_equal(log_addr("a@b.example", out, sizeof out), "a@b.example");
    assert_string_equal(log_addr("", out, sizeof out), "");
    assert_string_equal(log_addr(NULL, out, sizeof out), "");
    /* '=' is common in SRS/BATV/VERP addresses and is left alone: without
     * a ", " or a space before it, it cannot start a field */
    assert_string_equal(log_addr("SRS0=ab=cd=x.example=u@y.example", out, sizeof out),
                        "SRS0=ab=cd=x.example=u@y.example");
    const char *forged = "\"a>, status=sent, x\"@postern.test";
    assert_string_equal(log_addr(forged, out, sizeof out),
                        "\"a\\x3e\\x2c\\x20status=sent\\x2c\\x20x\"@postern.test");
    assert_field_safe(out);
    assert_string_equal(log_addr("\"<x> y\\\"z\"@d", out, sizeof out),
                        "\"\\x3cx\\x3e\\x20y\\x5c\"z\"@d");
    assert_field_safe(out);
    assert_string_equal(log_addr("\xe5\xbc\xa0@d", out, sizeof out), "\\xe5\\xbc\\xa0@d");
    /* the longest legal path (254 bytes), every byte escaped, still fits */
    char big[255];
    memset(big, '>', 254);
    big[254] = '\0';
    log_addr(big, out, sizeof out);
    assert_int_equal(strlen(out), 254 * 4);
    assert_null(strstr(out, "..."));
    assert_field_safe(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_sanitize_truncates),
        cmocka_unit_test(test_addr),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

/* Unit tests for util/term: what a terminal could take as a control is
 * escaped, the rest (text, TAB, LF, valid UTF-8) passes byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/term.h"

static void check(const char *in, size_t len, const char *want)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *fp = open_memstream(&buf, &blen);
    assert_non_null(fp);
    assert_int_equal(term_write_escaped(fp, in, len), 0);
    assert_int_equal(fclose(fp), 0);
    assert_string_equal(buf, want);
    free(buf);
}

#define CHECK(lit, want) check(lit, sizeof(lit) - 1, want)

static void test_plain_passes(void **state)
{
    (void)state;
    CHECK("", "");
    CHECK("Subject: hello\n\tfolded\n", "Subject: hello\n\tfolded\n");
    CHECK("\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80", "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80");
    CHECK("caf\xc3\xa9 \xc2\xa0nbsp", "caf\xc3\xa9 \xc2\xa0nbsp");
}

static void test_c0_and_del(void **state)
{
    (void)state;
    CHECK("\x1b[2J\x1b]52;c;ZXZpbA==\x07", "^[[2J^[]52;c;ZXZpbA==^G");
    CHECK("a\rb\r\n", "a^Mb^M\n");
    CHECK("nul\0end", "nul^@end");
    CHECK("\x7f\x01\x1f", "^?^A^_");
}

static void test_c1_and_bad_utf8(void **state)
{
    (void)state;
    /* raw 8-bit CSI, and U+009B (CSI) encoded in UTF-8 */
    CHECK("\x9b" "31m", "\\x9B31m");
    CHECK("\xc2\x9b" "31m", "\\xC2\\x9B31m");
    CHECK("\xc2\x85", "\\xC2\\x85");
    /* Latin-1, overlong, surrogate, truncated sequences */
    CHECK("caf\xe9!", "caf\\xE9!");
    CHECK("\xc0\xaf", "\\xC0\\xAF");
    CHECK("\xed\xa0\x80", "\\xED\\xA0\\x80");
    CHECK("\xe4\xbd", "\\xE4\\xBD");
    /* resynchronises on the next byte */
    CHECK("\xe4" "\x1b" "\xe4\xbd\xa0", "\\xE4^[\xe4\xbd\xa0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_passes),
        cmocka_unit_test(test_c0_and_del),
        cmocka_unit_test(test_c1_and_bad_utf8),
    };
    return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}

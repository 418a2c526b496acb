/* Unit tests for util/utf8: 8-bit detection and the one UTF-8 decoder
 * (bounces, the terminal escaper), on RFC 3629's edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/utf8.h"

static void test_has_8bit(void **state)
{
    (void)state;
    assert_int_equal(utf8_has_8bit("user@example.com", 16), 0);
    assert_int_equal(utf8_has_8bit("用户@例子.测试", strlen("用户@例子.测试")), 1);
    assert_int_equal(utf8_has_8bit("", 0), 0);
    assert_int_equal(utf8_has_8bit("abc\x80", 3), 0);      /* only n bytes */
    assert_int_equal(utf8_has_8bit("abc\x80", 4), 1);
    assert_int_equal(utf8_has_8bit("a\0\xff", 3), 1);      /* past a NUL */
}

static void test_decode(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
    } v[] = {
        { "A", 1, 'A' },
        { "\x7f", 1, 0x7f },
        { "\xc2\x80", 2, 0x80 },                /* C1 control: valid UTF-8 */
        { "\xc3\xa9", 2, 0xe9 },
        { "\xe2\x82\xac", 3, 0x20ac },
        { "\xed\x9f\xbf", 3, 0xd7ff },
        { "\xee\x80\x80", 3, 0xe000 },
        { "\xf0\x9f\x98\x80", 4, 0x1f600 },
        { "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
        /* malformed: 0 */
        { "\x80", 0, 0 },                       /* lone continuation */
        { "\xc0\xaf", 0, 0 },                   /* overlong '/' */
        { "\xc1\xbf", 0, 0 },
        { "\xe0\x80\xaf", 0, 0 },               /* overlong, 3 bytes */
        { "\xf0\x80\x80\xaf", 0, 0 },           /* overlong, 4 bytes */
        { "\xed\xa0\x80", 0, 0 },               /* surrogate U+D800 */
        { "\xed\xbf\xbf", 0, 0 },               /* surrogate U+DFFF */
        { "\xf4\x90\x80\x80", 0, 0 },           /* above U+10FFFF */
        { "\xf5\x80\x80\x80", 0, 0 },
        { "\xff", 0, 0 },
        { "\xe2\x82", 0, 0 },                   /* truncated */
        { "\xc3\x28", 0, 0 },                   /* bad continuation */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t cp = 0xdeadbeef;
        size_t n = strlen(v[i].s) ? strlen(v[i].s) : 1;
        assert_int_equal(utf8_decode((const unsigned char *)v[i].s, n, &cp), v[i].len);
        if (v[i].len)
            assert_int_equal(cp, v[i].cp);
    }
    /* the length given, not the NUL, ends the input */
    uint32_t cp;
    assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_8bit),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}

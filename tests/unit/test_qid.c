/* Unit tests for queue/qid: format, order, validity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "queue/qid.h"

static void test_format(void **state)
{
    (void)state;
    char q[QID_LEN + 1];

    qid_make(q, 0x12345678LL, 999999, 0xabc);
    assert_string_equal(q, "12345678F423FABC");
    assert_int_equal(strlen(q), QID_LEN);

    qid_make(q, 0, 0, 0);
    assert_string_equal(q, "0000000000000000");

    /* only the low 12 bits of rnd are used */
    qid_make(q, 1, 1, 0xfffff123u);
    assert_string_equal(q, "0000000100001123");

    /* a real time: 2023-11-14 */
    qid_make(q, 1700000000LL, 123456, 0x7);
    assert_string_equal(q, "6553F1001E240007");
}

static void test_clamp(void **state)
{
    (void)state;
    char q[QID_LEN + 1];
    /* out-of-range inputs never break the fixed width */
    qid_make(q, -5, -1, 0);
    assert_string_equal(q, "0000000000000000");
    qid_make(q, 0x1FFFFFFFFLL, 5000000, 0);
    assert_int_equal(strlen(q), QID_LEN);
    assert_true(qid_valid(q));
}

static void test_order(void **state)
{
    (void)state;
    static const struct { long long sec; long usec; uint32_t rnd; } t[] = {
        {0, 0, 0xfff},
        {0, 1, 0},
        {0, 15, 0},
        {0, 16, 0},
        {0, 999999, 0xfff},
        {1, 0, 0},
        {15, 999999, 0},
        {16, 0, 0},
        {1700000000, 0, 0},
        {1700000000, 1, 0},
        {1700000000, 65535, 0},
        {1700000000, 65536, 0},
        {1700000001, 0, 0},
        {0xfffffffeLL, 999999, 0xfff},
        {0xffffffffLL, 0, 0},
    };
    char prev[QID_LEN + 1], cur[QID_LEN + 1];
    qid_make(prev, t[0].sec, t[0].usec, t[0].rnd);
    for (size_t i = 1; i < sizeof t / sizeof t[0]; i++) {
        qid_make(cur, t[i].sec, t[i].usec, t[i].rnd);
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof prev);
    }
    /* same microsecond: the random part decides, ties impossible to order
     * by time anyway, but the prefix is equal */
    char a[QID_LEN + 1], b[QID_LEN + 1];
    qid_make(a, 1700000000, 5, 1);
    qid_make(b, 1700000000, 5, 2);
    assert_memory_equal(a, b, 13);
    assert_string_not_equal(a, b);
}

static void test_valid(void **state)
{
    (void)state;
    char q[QID_LEN + 1];
    for (uint32_t r = 0; r < 5000; r += 7) {
        qid_make(q, (long long)r * 100003, (long)(r * 197) % 1000000, r);
        assert_true(qid_valid(q));
    }
    assert_true(qid_valid("0123456789ABCDEF"));
    assert_true(qid_valid("FFFFFFFFFFFFFFFF"));
    assert_false(qid_valid("0123456789abcdef"));   /* lower case */
    assert_false(qid_valid("0123456789ABCDE"));    /* 15 */
    assert_false(qid_valid("0123456789ABCDEF0"));  /* 17 */
    assert_false(qid_valid("0123456789ABCDEG"));
    assert_false(qid_valid("0123456789ABCDE "));
    assert_false(qid_valid("../../etc/passwd"));
    assert_false(qid_valid("0123456/89ABCDEF"));
    assert_false(qid_valid(""));
    assert_false(qid_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests_name("qid", tests, NULL, NULL);
}

/* Unit tests for auth/ratelimit: the window, per-address and per-/64
 * counting, what is never limited, and the bounded table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "auth/ratelimit.h"

static void test_window(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new(3, 60, 64);
    assert_non_null(r);
    long long t = 1000;
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t), 0);
    ratelimit_fail(r, "192.0.2.1", t);
    ratelimit_fail(r, "192.0.2.1", t + 10);
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 10), 0);
    ratelimit_fail(r, "192.0.2.1", t + 20);
    /* three failures in the window that began at t: refused until t+60 */
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 20), 40);
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 59), 1);
    /* more failures while refused do not lengthen the window */
    ratelimit_fail(r, "192.0.2.1", t + 30);
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 30), 30);
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 60), 0);
    /* a new window starts with the next failure */
    ratelimit_fail(r, "192.0.2.1", t + 61);
    assert_int_equal(ratelimit_check(r, "192.0.2.1", t + 61), 0);
    /* other addresses were never affected */
    assert_int_equal(ratelimit_check(r, "192.0.2.2", t + 20), 0);
    ratelimit_free(r);
}

static void test_addresses(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new(1, 60, 64);
    ratelimit_fail(r, "2001:db8:1:2::1", 0);
    /* the same /64 */
    assert_true(ratelimit_check(r, "2001:db8:1:2:ffff::9", 1) > 0);
    /* the next /64 */
    assert_int_equal(ratelimit_check(r, "2001:db8:1:3::1", 1), 0);
    /* IPv4-mapped counts as the IPv4 address */
    ratelimit_fail(r, "::ffff:198.51.100.7", 0);
    assert_true(ratelimit_check(r, "198.51.100.7", 1) > 0);
    assert_int_equal(ratelimit_check(r, "198.51.100.8", 1), 0);
    /* what is not an IP address is never limited */
    ratelimit_fail(r, "local", 0);
    ratelimit_fail(r, "", 0);
    assert_int_equal(ratelimit_check(r, "local", 1), 0);
    assert_int_equal(ratelimit_check(r, "", 1), 0);
    assert_int_equal(ratelimit_check(r, "192.0.2.300", 1), 0);
    ratelimit_free(r);
}

/* Many more addresses than slots: memory stays bounded, recent offenders
 * stay refused, and nothing crashes. */
static void test_bounded(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new(1, 60, 16);
    char addr[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        ratelimit_fail(r, addr, i / 100);
    }
    /* the last one is the newest window: it is still there */
    assert_true(ratelimit_check(r, addr, 50) > 0);
    /* after the window everything is free again */
    for (int i = 0; i < 5000; i += 97) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(ratelimit_check(r, addr, 200), 0);
    }
    ratelimit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}

/* Unit tests for policy/anvil: the window arithmetic, counting per event
 * and per key, per-address and per-/64 keys, accounts, what is never
 * limited, and the bounded tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/anvil.h"

static void test_window_open(void **state)
{
    (void)state;
    assert_true(anvil_window_open(1000, 60000, 1000));
    assert_true(anvil_window_open(1000, 60000, 60999));
    assert_false(anvil_window_open(1000, 60000, 61000));
    /* a clock that went backwards closes the window */
    assert_false(anvil_window_open(1000, 60000, 999));
    /* a window of nothing is one millisecond */
    assert_true(anvil_window_open(5, 0, 5));
    assert_false(anvil_window_open(5, 0, 6));
}

static unsigned long count(struct anvil *a, const char *addr, enum anvil_event ev,
                           long long now, long long *left)
{
    struct anvil_key k;
    assert_true(anvil_key_client(addr, &k));
    return anvil_count(a, &k, ev, 60000, now, left);
}

static unsigned long peek(struct anvil *a, const char *addr, enum anvil_event ev,
                          long long now, long long *left)
{
    struct anvil_key k;
    if (!anvil_key_client(addr, &k))
        return 0;
    return anvil_peek(a, &k, ev, 60000, now, left);
}

static void test_window(void **state)
{
    (void)state;
    struct anvil *a = anvil_new(64);
    assert_non_null(a);
    long long t = 1000000, left = -1;
    assert_int_equal(peek(a, "192.0.2.1", ANVIL_AUTH, t, &left), 0);
    assert_int_equal(left, 0);
    assert_int_equal(count(a, "192.0.2.1", ANVIL_AUTH, t, &left), 1);
    assert_int_equal(left, 60000);
    assert_int_equal(count(a, "192.0.2.1", ANVIL_AUTH, t + 10000, NULL), 2);
    assert_int_equal(count(a, "192.0.2.1", ANVIL_AUTH, t + 20000, &left), 3);
    /* the window began at t: it ends at t + 60 s whatever comes after */
    assert_int_equal(left, 40000);
    assert_int_equal(peek(a, "192.0.2.1", ANVIL_AUTH, t + 59999, &left), 3);
    assert_int_equal(left, 1);
    assert_int_equal(count(a, "192.0.2.1", ANVIL_AUTH, t + 30000, &left), 4);
    assert_int_equal(left, 30000);
    /* closed: peeking sees nothing, the next event starts a new window */
    assert_int_equal(peek(a, "192.0.2.1", ANVIL_AUTH, t + 60000, NULL), 0);
    assert_int_equal(count(a, "192.0.2.1", ANVIL_AUTH, t + 61000, &left), 1);
    assert_int_equal(left, 60000);
    /* other addresses were never affected */
    assert_int_equal(peek(a, "192.0.2.2", ANVIL_AUTH, t + 20000, NULL), 0);
    anvil_free(a);
}

/* The counters of one client share its window (anvil's time unit). */
static void test_events(void **state)
{
    (void)state;
    struct anvil *a = anvil_new(64);
    long long t = 5000;
    assert_int_equal(count(a, "198.51.100.1", ANVIL_CONNECT, t, NULL), 1);
    assert_int_equal(count(a, "198.51.100.1", ANVIL_MAIL, t + 1, NULL), 1);
    assert_int_equal(count(a, "198.51.100.1", ANVIL_MAIL, t + 2, NULL), 2);
    assert_int_equal(count(a, "198.51.100.1", ANVIL_RCPT, t + 3, NULL), 1);
    assert_int_equal(peek(a, "198.51.100.1", ANVIL_CONNECT, t + 4, NULL), 1);
    assert_int_equal(peek(a, "198.51.100.1", ANVIL_AUTH, t + 4, NULL), 0);
    long long left;
    /* the mail counter's window is the one the connection began */
    assert_int_equal(count(a, "198.51.100.1", ANVIL_MAIL, t + 59999, &left), 3);
    assert_int_equal(left, 1);
    /* all of them restart together */
    assert_int_equal(count(a, "198.51.100.1", ANVIL_RCPT, t + 60000, NULL), 1);
    assert_int_equal(peek(a, "198.51.100.1", ANVIL_MAIL, t + 60000, NULL), 0);
    assert_int_equal(peek(a, "198.51.100.1", ANVIL_CONNECT, t + 60000, NULL), 0);
    anvil_free(a);
}

static void test_addresses(void **state)
{
    (void)state;
    struct anvil *a = anvil_new(64);
    count(a, "2001:db8:1:2::1", ANVIL_AUTH, 0, NULL);
    /* the same /64 */
    assert_int_equal(peek(a, "2001:db8:1:2:ffff::9", ANVIL_AUTH, 1, NULL), 1);
    /* the next /64 */
    assert_int_equal(peek(a, "2001:db8:1:3::1", ANVIL_AUTH, 1, NULL), 0);
    /* IPv4-mapped counts as the IPv4 address */
    count(a, "::ffff:198.51.100.7", ANVIL_AUTH, 0, NULL);
    assert_int_equal(peek(a, "198.51.100.7", ANVIL_AUTH, 1, NULL), 1);
    assert_int_equal(peek(a, "198.51.100.8", ANVIL_AUTH, 1, NULL), 0);
    /* what is not an IP address has no key: never limited */
    struct anvil_key k;
    assert_false(anvil_key_client("local", &k));
    assert_false(anvil_key_client("", &k));
    assert_false(anvil_key_client("192.0.2.300", &k));
    assert_int_equal(anvil_count(a, &k, ANVIL_AUTH, 60000, 0, NULL), 0);
    assert_int_equal(anvil_peek(a, &k, ANVIL_AUTH, 60000, 0, NULL), 0);
    anvil_free(a);
}

static void test_accounts(void **state)
{
    (void)state;
    struct anvil *a = anvil_new(64);
    struct anvil_key sentry, gitlab, c;
    anvil_key_account(a, "sentry", &sentry);
    anvil_key_account(a, "gitlab", &gitlab);
    /* each account its own window length (its users-file rate=) */
    assert_int_equal(anvil_count(a, &sentry, ANVIL_MAIL, 3600000, 0, NULL), 1);
    assert_int_equal(anvil_count(a, &sentry, ANVIL_MAIL, 3600000, 10, NULL), 2);
    assert_int_equal(anvil_count(a, &gitlab, ANVIL_MAIL, 1000, 10, NULL), 1);
    assert_int_equal(anvil_peek(a, &sentry, ANVIL_MAIL, 3600000, 3599999, NULL), 2);
    assert_int_equal(anvil_peek(a, &gitlab, ANVIL_MAIL, 1000, 1010, NULL), 0);
    /* an account named like an address key is another table */
    assert_true(anvil_key_client("192.0.2.1", &c));
    struct anvil_key lookalike;
    anvil_key_account(a, "\x04\xc0\x00\x02\x01", &lookalike);
    anvil_count(a, &c, ANVIL_MAIL, 60000, 0, NULL);
    assert_int_equal(anvil_peek(a, &lookalike, ANVIL_MAIL, 60000, 1, NULL), 0);
    /* long names: two that share a long prefix are still two */
    char n1[256], n2[256];
    memset(n1, 'x', 255);
    n1[255] = '\0';
    memcpy(n2, n1, sizeof n2);
    n2[254] = 'y';
    struct anvil_key k1, k2, k1b;
    anvil_key_account(a, n1, &k1);
    anvil_key_account(a, n2, &k2);
    anvil_key_account(a, n1, &k1b);
    anvil_count(a, &k1, ANVIL_MAIL, 60000, 0, NULL);
    anvil_count(a, &k1, ANVIL_MAIL, 60000, 0, NULL);
    assert_int_equal(anvil_peek(a, &k1b, ANVIL_MAIL, 60000, 1, NULL), 2);
    assert_int_equal(anvil_peek(a, &k2, ANVIL_MAIL, 60000, 1, NULL), 0);
    anvil_free(a);
}

/* Many more addresses than slots: memory stays bounded, recent offenders
 * stay counted, accounts are not pushed out, and nothing crashes. */
static void test_bounded(void **state)
{
    (void)state;
    struct anvil *a = anvil_new(16);
    struct anvil_key acct;
    anvil_key_account(a, "app", &acct);
    for (int i = 0; i < 5; i++)
        anvil_count(a, &acct, ANVIL_MAIL, 86400000, 0, NULL);
    char addr[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        count(a, addr, ANVIL_AUTH, (long long)i * 10, NULL);
    }
    /* the last one is the newest window: it is still there */
    assert_int_equal(peek(a, addr, ANVIL_AUTH, 50000, NULL), 1);
    assert_int_equal(anvil_peek(a, &acct, ANVIL_MAIL, 86400000, 50000, NULL), 5);
    /* after the window everything is free again */
    for (int i = 0; i < 5000; i += 97) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(peek(a, addr, ANVIL_AUTH, 200000, NULL), 0);
    }
    anvil_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_open),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests_name("anvil", tests, NULL, NULL);
}

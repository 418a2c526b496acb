/* Unit tests for mynetworks parsing/matching and the relay decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "policy/policy.h"

static void sa4(struct sockaddr_in *s, const char *ip)
{
    memset(s, 0, sizeof *s);
    s->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void sa6(struct sockaddr_in6 *s, const char *ip)
{
    memset(s, 0, sizeof *s);
    s->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
}

static void test_parse(void **state)
{
    (void)state;
    struct cidr c;
    char err[200];
    static const char *good[] = { "127.0.0.0/8", "10.1.0.0/16", "127.0.0.1",
        "[::1]/128", "::1", "[2001:db8::]/32", "0.0.0.0/0", "[::]/0" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(policy_parse_cidr(good[i], &c, err, sizeof err), 0);
    static const char *bad[] = { "", "10.0.0.0/33", "10.0.0.1/8", "x.y", "[::1]/129",
        "1.2.3.4/", "1.2.3.4/-1", "[::1", "300.1.1.1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(policy_parse_cidr(bad[i], &c, err, sizeof err), -1);
    policy_parse_cidr("10.0.0.1/8", &c, err, sizeof err);
    assert_non_null(strstr(err, "beyond the prefix"));
}

static void test_match(void **state)
{
    (void)state;
    char *items[] = { "127.0.0.0/8", "[::1]/128", "192.168.1.0/25" };
    struct netlist nl;
    char err[200];
    assert_int_equal(policy_netlist_parse(&nl, items, 3, err, sizeof err), 0);
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;
    sa4(&s4, "127.0.0.2");
    assert_true(policy_netlist_match(&nl, (struct sockaddr *)&s4));
    sa4(&s4, "192.168.1.127");
    assert_true(policy_netlist_match(&nl, (struct sockaddr *)&s4));
    sa4(&s4, "192.168.1.128");
    assert_false(policy_netlist_match(&nl, (struct sockaddr *)&s4));
    sa4(&s4, "128.0.0.1");
    assert_false(policy_netlist_match(&nl, (struct sockaddr *)&s4));
    sa6(&s6, "::1");
    assert_true(policy_netlist_match(&nl, (struct sockaddr *)&s6));
    sa6(&s6, "::2");
    assert_false(policy_netlist_match(&nl, (struct sockaddr *)&s6));
    sa6(&s6, "::ffff:127.0.0.9");
    assert_true(policy_netlist_match(&nl, (struct sockaddr *)&s6));
    policy_netlist_free(&nl);

    char *one[] = { "127.0.0.1/32" };
    assert_int_equal(policy_netlist_parse(&nl, one, 1, err, sizeof err), 0);
    sa4(&s4, "127.0.0.2");
    assert_false(policy_netlist_match(&nl, (struct sockaddr *)&s4));
    policy_netlist_free(&nl);
}

static void test_open_relay_entries(void **state)
{
    (void)state;
    char err[200];
    struct netlist nl;
    char *ok[] = { "127.0.0.0/8", "10.0.0.0/8", "192.168.0.0/16", "[::1]/128", "[fd00::]/16" };
    assert_int_equal(policy_netlist_parse(&nl, ok, 5, err, sizeof err), 0);
    assert_int_equal(policy_netlist_open_relay(&nl), -1);
    policy_netlist_free(&nl);
    char *bad[] = { "127.0.0.0/8", "0.0.0.0/0" };
    assert_int_equal(policy_netlist_parse(&nl, bad, 2, err, sizeof err), 0);
    assert_int_equal(policy_netlist_open_relay(&nl), 1);
    policy_netlist_free(&nl);
    char *halves[] = { "0.0.0.0/1", "128.0.0.0/1" };
    assert_int_equal(policy_netlist_parse(&nl, halves, 2, err, sizeof err), 0);
    assert_int_equal(policy_netlist_open_relay(&nl), 0);
    policy_netlist_free(&nl);
    char *v6[] = { "[::]/0" };
    assert_int_equal(policy_netlist_parse(&nl, v6, 1, err, sizeof err), 0);
    assert_int_equal(policy_netlist_open_relay(&nl), 0);
    policy_netlist_free(&nl);
}

static void test_relay(void **state)
{
    (void)state;
    char *dest[] = { "mail.example.com", "example.com", "localhost" };
    assert_int_equal(policy_check_rcpt(1, "gmail.com", dest, 3), POLICY_PERMIT);
    assert_int_equal(policy_check_rcpt(0, "gmail.com", dest, 3), POLICY_REJECT_RELAY);
    assert_int_equal(policy_check_rcpt(0, "EXAMPLE.com", dest, 3), POLICY_PERMIT);
    assert_int_equal(policy_check_rcpt(0, "example.com.", dest, 3), POLICY_PERMIT);
    assert_int_equal(policy_check_rcpt(0, "sub.example.com", dest, 3), POLICY_REJECT_RELAY);
    assert_int_equal(policy_check_rcpt(0, "xample.com", dest, 3), POLICY_REJECT_RELAY);
    assert_int_equal(policy_check_rcpt(0, "", dest, 3), POLICY_PERMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_open_relay_entries),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

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
    struct inet_prefix c;
    char err[200];
    static const char *good[] = { "127.0.0.0/8", "10.1.0.0/16", "127.0.0.1",
        "[::1]/128", "::1", "[2001:db8::]/32", "0.0.0.0/0", "[::]/0" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(inet_prefix_parse(good[i], &c, err, sizeof err), 0);
    static const char *bad[] = { "", "10.0.0.0/33", "10.0.0.1/8", "x.y", "[::1]/129",
        "1.2.3.4/", "1.2.3.4/-1", "[::1", "300.1.1.1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(inet_prefix_parse(bad[i], &c, err, sizeof err), -1);
    inet_prefix_parse("10.0.0.1/8", &c, err, sizeof err);
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

static char *dest[] = { "mail.example.com", "example.com", "localhost" };

static enum policy_verdict rcpt(int trusted, int allow_routing, const char *local,
                                const char *domain)
{
    const struct policy_rcpt r = {
        .client_trusted = trusted, .allow_untrusted_routing = allow_routing,
        .local = local, .domain = domain, .mydestination = dest, .ndest = 3,
    };
    return policy_check_rcpt(&r);
}

static void test_relay(void **state)
{
    (void)state;
    assert_int_equal(rcpt(1, 0, "u", "gmail.com"), POLICY_PERMIT);
    assert_int_equal(rcpt(0, 0, "u", "gmail.com"), POLICY_REJECT_RELAY);
    assert_int_equal(rcpt(0, 0, "u", "EXAMPLE.com"), POLICY_PERMIT);
    assert_int_equal(rcpt(0, 0, "u", "example.com."), POLICY_PERMIT);
    assert_int_equal(rcpt(0, 0, "u", "sub.example.com"), POLICY_REJECT_RELAY);
    assert_int_equal(rcpt(0, 0, "u", "xample.com"), POLICY_REJECT_RELAY);
    assert_int_equal(rcpt(0, 0, "Postmaster", ""), POLICY_PERMIT);
    assert_int_equal(rcpt(0, 1, "u", "gmail.com"), POLICY_REJECT_RELAY);
}

/* allow_untrusted_routing = no: routing operators in the local part of a
 * local recipient are refused to untrusted clients only. */
static void test_untrusted_routing(void **state)
{
    (void)state;
    static const char *const routed[] = {
        "victim%evil.example", "evil.example!victim", "\"victim@evil.example\"",
        "\"victim%evil.example\"", "\"a\\@b\"", "a!b%c", "%", "!", "user%",
    };
    for (size_t i = 0; i < sizeof routed / sizeof routed[0]; i++) {
        assert_true(policy_local_is_routed(routed[i]));
        assert_int_equal(rcpt(0, 0, routed[i], "example.com"), POLICY_REJECT_RELAY);
        assert_int_equal(rcpt(0, 0, routed[i], "LOCALHOST."), POLICY_REJECT_RELAY);
        assert_int_equal(rcpt(1, 0, routed[i], "example.com"), POLICY_PERMIT);
        assert_int_equal(rcpt(1, 0, routed[i], "gmail.com"), POLICY_PERMIT);
        assert_int_equal(rcpt(0, 1, routed[i], "example.com"), POLICY_PERMIT);
        assert_int_equal(rcpt(0, 1, routed[i], "gmail.com"), POLICY_REJECT_RELAY);
    }
    static const char *const plain[] = {
        "victim", "first.last", "user+tag", "\"john doe\"", "a=b#c$d&e*f/g?h^i`j{k|l}m~n",
        "\xe5\xbc\xa0\xe4\xb8\x89", "",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        assert_false(policy_local_is_routed(plain[i]));
        assert_int_equal(rcpt(0, 0, plain[i], "example.com"), POLICY_PERMIT);
    }
    assert_false(policy_local_is_routed(NULL));
}

static void test_postmaster_domain(void **state)
{
    (void)state;
    /* myorigin local: Postfix's append_at_myorigin result */
    assert_string_equal(policy_postmaster_domain("example.com", "h.example.com", dest, 3),
                        "example.com");
    assert_string_equal(policy_postmaster_domain("Example.COM.", "h", dest, 3),
                        "Example.COM.");
    /* myorigin not local (the mail would leave): the first local domain */
    assert_string_equal(policy_postmaster_domain("corp.example", "h", dest, 3),
                        "mail.example.com");
    assert_string_equal(policy_postmaster_domain("", "h", dest, 3), "mail.example.com");
    /* nothing is local: where $myorigin goes, as in Postfix */
    assert_string_equal(policy_postmaster_domain("corp.example", "h", dest, 0),
                        "corp.example");
    assert_string_equal(policy_postmaster_domain("", "h.example", dest, 0), "h.example");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_untrusted_routing),
        cmocka_unit_test(test_postmaster_domain),
        cmocka_unit_test(test_open_relay_entries),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

/* Unit tests for net/spf: check_host() over canned DNS answers — pass
 * through ip4, ip6, a, mx, include and redirect, -all fail, ~all softfail,
 * ?all and no all (neutral), CIDR on ip4/ip6/a/mx, the 10-lookup limit,
 * an include loop, two records, void lookups, syntax errors anywhere in the
 * record, temporary failures, macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "net/spf.h"

#define MAXRR 12

struct canned {
    const char *name;
    enum spf_rrtype type;
    enum spf_dns status;
    const char *rr[MAXRR];
};

struct zone {
    const struct canned *v;
    size_t n;
    struct spf_answer ans[64];
    size_t nans;
    unsigned asked;
};

static const struct spf_answer notfound = { SPF_DNS_NOTFOUND, 0, NULL };

static const struct spf_answer *lookup(void *arg, const char *name, enum spf_rrtype type)
{
    struct zone *z = arg;
    z->asked++;
    for (size_t i = 0; i < z->n; i++) {
        if (z->v[i].type != type || strcasecmp(z->v[i].name, name) != 0)
            continue;
        assert_true(z->nans < 64);
        struct spf_answer *a = &z->ans[z->nans++];
        a->status = z->v[i].status;
        a->rr = z->v[i].rr;
        a->n = 0;
        while (a->n < MAXRR && z->v[i].rr[a->n])
            a->n++;
        return a;
    }
    return &notfound;
}

static enum spf_result run(const struct canned *v, size_t n, const char *ip,
                           const char *domain, struct spf_eval *e)
{
    struct zone z = { v, n, { { 0, 0, NULL } }, 0, 0 };
    return spf_check_host(ip, domain, NULL, lookup, &z, e);
}

#define RUN(zone, ip, dom, e) run(zone, sizeof zone / sizeof zone[0], ip, dom, e)
#define TXT(n, ...) { n, SPF_RR_TXT, SPF_DNS_OK, { __VA_ARGS__, NULL } }
#define A(n, ...) { n, SPF_RR_A, SPF_DNS_OK, { __VA_ARGS__, NULL } }
#define AAAA(n, ...) { n, SPF_RR_AAAA, SPF_DNS_OK, { __VA_ARGS__, NULL } }
#define MX(n, ...) { n, SPF_RR_MX, SPF_DNS_OK, { __VA_ARGS__, NULL } }

static void test_pass_mechanisms(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("example.com", "v=spf1 mx a:web.example.com ip4:198.51.100.0/24 "
                           "ip6:2001:db8::/32 include:_spf.example.net -all"),
        TXT("example.com", "google-site-verification=abc"),     /* not SPF: ignored */
        MX("example.com", "mail.example.com"),
        A("mail.example.com", "203.0.113.5"),
        AAAA("mail.example.com", "2001:db8:1::5"),
        A("web.example.com", "203.0.113.80"),
        TXT("_spf.example.net", "v=spf1 ip4:192.0.2.0/25 ~all"),
    };
    struct spf_eval e;
    assert_int_equal(RUN(z, "203.0.113.5", "example.com", &e), SPF_PASS);
    assert_non_null(strstr(e.reason, "mx matched 203.0.113.5"));
    assert_string_equal(e.record, z[0].rr[0]);
    assert_int_equal(RUN(z, "203.0.113.80", "example.com", &e), SPF_PASS);
    assert_non_null(strstr(e.reason, "a:web.example.com"));
    assert_int_equal(RUN(z, "198.51.100.77", "example.com", &e), SPF_PASS);
    assert_non_null(strstr(e.reason, "ip4:198.51.100.0/24"));
    assert_int_equal(RUN(z, "2001:db8:ffff::1", "example.com", &e), SPF_PASS);
    assert_int_equal(RUN(z, "192.0.2.100", "example.com", &e), SPF_PASS);
    assert_non_null(strstr(e.reason, "_spf.example.net: ip4:192.0.2.0/25 matched"));
    assert_non_null(strstr(e.reason, "via include:_spf.example.net"));
    /* the include's ~all does not decide for the including record */
    assert_int_equal(RUN(z, "192.0.2.200", "example.com", &e), SPF_FAIL);
    assert_non_null(strstr(e.reason, "example.com: -all matched 192.0.2.200"));
    assert_int_equal(RUN(z, "2001:db9::1", "example.com", &e), SPF_FAIL);
    assert_string_equal(spf_result_name(SPF_FAIL), "fail");
}

static void test_qualifiers_and_neutral(void **state)
{
    (void)state;
    static const struct canned soft[] = { TXT("a.test", "v=spf1 ip4:192.0.2.1 ~all") };
    static const struct canned q[] = { TXT("a.test", "v=spf1 ?ip4:192.0.2.1 ?all") };
    static const struct canned noall[] = { TXT("a.test", "v=spf1 ip4:192.0.2.1") };
    static const struct canned plus[] = { TXT("a.test", "V=SPF1 +IP4:192.0.2.1 -ALL") };
    struct spf_eval e;
    assert_int_equal(RUN(soft, "192.0.2.9", "a.test", &e), SPF_SOFTFAIL);
    assert_int_equal(RUN(soft, "192.0.2.1", "a.test", &e), SPF_PASS);
    assert_int_equal(RUN(q, "192.0.2.1", "a.test", &e), SPF_NEUTRAL);
    assert_int_equal(RUN(noall, "192.0.2.9", "a.test", &e), SPF_NEUTRAL);
    assert_non_null(strstr(e.reason, "no mechanism matched"));
    assert_int_equal(RUN(plus, "192.0.2.1", "a.test", &e), SPF_PASS);
    /* no record at all */
    static const struct canned none[] = { TXT("a.test", "hello") };
    assert_int_equal(RUN(none, "192.0.2.1", "a.test", &e), SPF_NONE);
    assert_string_equal(e.record, "");
    assert_int_equal(RUN(none, "192.0.2.1", "b.test", &e), SPF_NONE);
}

static void test_cidr(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("c.test", "v=spf1 a/28 mx:mx.c.test/30//120 ip4:10.1.2.3/16 -all"),
        A("c.test", "192.0.2.16"),
        MX("mx.c.test", "h.c.test"),
        A("h.c.test", "198.51.100.4"),
        AAAA("h.c.test", "2001:db8::100"),
    };
    struct spf_eval e;
    assert_int_equal(RUN(z, "192.0.2.31", "c.test", &e), SPF_PASS);     /* a/28 */
    assert_int_equal(RUN(z, "192.0.2.32", "c.test", &e), SPF_FAIL);
    assert_int_equal(RUN(z, "198.51.100.7", "c.test", &e), SPF_PASS);   /* mx /30 */
    assert_int_equal(RUN(z, "198.51.100.8", "c.test", &e), SPF_FAIL);
    assert_int_equal(RUN(z, "2001:db8::1ff", "c.test", &e), SPF_PASS);  /* mx //120 */
    assert_int_equal(RUN(z, "2001:db8::200", "c.test", &e), SPF_FAIL);
    assert_int_equal(RUN(z, "10.1.200.200", "c.test", &e), SPF_PASS);   /* host bits ok */
    static const struct canned bad[] = { TXT("c.test", "v=spf1 ip4:10.0.0.0/33 -all") };
    assert_int_equal(RUN(bad, "10.0.0.1", "c.test", &e), SPF_PERMERROR);
    static const struct canned bad6[] = { TXT("c.test", "v=spf1 a//129 -all") };
    assert_int_equal(RUN(bad6, "10.0.0.1", "c.test", &e), SPF_PERMERROR);
}

static void test_include_chain_and_redirect(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("d.test", "v=spf1 include:one.d.test -all"),
        TXT("one.d.test", "v=spf1 include:two.d.test ?all"),
        TXT("two.d.test", "v=spf1 ip4:192.0.2.77 -all"),
        TXT("r.test", "v=spf1 redirect=d.test"),
        TXT("r2.test", "v=spf1 ip4:192.0.2.1 redirect=nospf.test"),
        TXT("r3.test", "v=spf1 -ip4:192.0.2.77 redirect=d.test"),
    };
    struct spf_eval e;
    /* two levels down */
    assert_int_equal(RUN(z, "192.0.2.77", "d.test", &e), SPF_PASS);
    /* one.d.test ends in ?all: neutral there → no match → -all here */
    assert_int_equal(RUN(z, "192.0.2.78", "d.test", &e), SPF_FAIL);
    assert_non_null(strstr(e.reason, "d.test: -all matched"));
    assert_int_equal(RUN(z, "192.0.2.78", "r.test", &e), SPF_FAIL);
    static const struct canned z2[] = {
        TXT("d.test", "v=spf1 include:one.d.test -all"),
        TXT("one.d.test", "v=spf1 include:two.d.test -all"),
        TXT("two.d.test", "v=spf1 ip4:192.0.2.77 -all"),
        TXT("r.test", "v=spf1 redirect=d.test"),
    };
    assert_int_equal(RUN(z2, "192.0.2.77", "d.test", &e), SPF_PASS);
    assert_non_null(strstr(e.reason, "two.d.test: ip4:192.0.2.77 matched"));
    assert_non_null(strstr(e.reason, "include:one.d.test → include:two.d.test"));
    assert_int_equal(e.lookups, 2);
    assert_int_equal(RUN(z2, "192.0.2.77", "r.test", &e), SPF_PASS);
    assert_int_equal(e.lookups, 3);
    assert_int_equal(RUN(z2, "192.0.2.78", "r.test", &e), SPF_FAIL);
    /* redirect to a domain without SPF: permerror; redirect is last */
    assert_int_equal(RUN(z, "192.0.2.9", "r2.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "nospf.test has no SPF record"));
    assert_int_equal(RUN(z, "192.0.2.1", "r2.test", &e), SPF_PASS);
    assert_int_equal(RUN(z, "192.0.2.77", "r3.test", &e), SPF_FAIL);
    /* include of a domain without SPF: permerror */
    static const struct canned z3[] = { TXT("i.test", "v=spf1 include:nospf.test -all") };
    assert_int_equal(RUN(z3, "192.0.2.1", "i.test", &e), SPF_PERMERROR);
}

static void test_lookup_limit_and_loop(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("many.test", "v=spf1 a:h1.test a:h2.test a:h3.test a:h4.test a:h5.test "
                         "a:h6.test a:h7.test a:h8.test a:h9.test a:h10.test ip4:192.0.2.1 "
                         "a:h11.test -all"),
        TXT("ten.test", "v=spf1 a:h1.test a:h2.test a:h3.test a:h4.test a:h5.test "
                        "a:h6.test a:h7.test a:h8.test a:h9.test a:h10.test -all"),
        A("h1.test", "10.0.0.1"), A("h2.test", "10.0.0.2"), A("h3.test", "10.0.0.3"),
        A("h4.test", "10.0.0.4"), A("h5.test", "10.0.0.5"), A("h6.test", "10.0.0.6"),
        A("h7.test", "10.0.0.7"), A("h8.test", "10.0.0.8"), A("h9.test", "10.0.0.9"),
        A("h10.test", "10.0.0.10"), A("h11.test", "10.0.0.11"),
        TXT("loop.test", "v=spf1 include:loop2.test -all"),
        TXT("loop2.test", "v=spf1 include:loop.test -all"),
        TXT("self.test", "v=spf1 redirect=self.test"),
    };
    struct spf_eval e;
    /* a match before the limit is reached decides (evaluation is lazy) */
    assert_int_equal(RUN(z, "192.0.2.1", "many.test", &e), SPF_PASS);
    assert_int_equal(RUN(z, "10.0.0.10", "many.test", &e), SPF_PASS);
    assert_int_equal(RUN(z, "10.0.0.11", "many.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "more than 10 DNS lookups"));
    assert_int_equal(RUN(z, "10.0.0.99", "ten.test", &e), SPF_FAIL);    /* exactly 10 */
    assert_int_equal(e.lookups, 10);
    assert_int_equal(RUN(z, "192.0.2.1", "loop.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "more than 10 DNS lookups"));
    assert_int_equal(RUN(z, "192.0.2.1", "self.test", &e), SPF_PERMERROR);
}

static void test_two_records_and_syntax(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("two.test", "v=spf1 ip4:192.0.2.1 -all", "v=spf1 include:_spf.google.com ~all"),
        TXT("typo.test", "v=spf1 ip4:192.0.2.1 inclde:x.test -all"),
        TXT("badip.test", "v=spf1 ip4:192.0.2.1 ip4:192.0.2 -all"),
        TXT("v6in4.test", "v=spf1 ip4:2001:db8::1 -all"),
        TXT("mod.test", "v=spf1 ip4:192.0.2.1 exp=explain.test foo=bar -all"),
        TXT("dupredir.test", "v=spf1 redirect=a.test redirect=b.test"),
        TXT("allarg.test", "v=spf1 all:x"),
        TXT("spf2.test", "v=spf10 -all"),
    };
    struct spf_eval e;
    assert_int_equal(RUN(z, "192.0.2.1", "two.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "2 SPF records"));
    /* a syntax error after the matching term still makes it a permerror */
    assert_int_equal(RUN(z, "192.0.2.1", "typo.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "inclde:x.test"));
    assert_int_equal(RUN(z, "192.0.2.1", "badip.test", &e), SPF_PERMERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "v6in4.test", &e), SPF_PERMERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "mod.test", &e), SPF_PASS);     /* unknown modifier */
    assert_int_equal(RUN(z, "192.0.2.1", "dupredir.test", &e), SPF_PERMERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "allarg.test", &e), SPF_PERMERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "spf2.test", &e), SPF_NONE);
    assert_int_equal(RUN(z, "not-an-ip", "two.test", &e), SPF_PERMERROR);
}

static void test_void_lookups(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("v.test", "v=spf1 a:gone1.test mx:gone2.test exists:gone3.test ip4:192.0.2.1 -all"),
        TXT("v2.test", "v=spf1 a:gone1.test mx:gone2.test ip4:192.0.2.1 -all"),
    };
    struct spf_eval e;
    assert_int_equal(RUN(z, "192.0.2.1", "v.test", &e), SPF_PERMERROR);
    assert_non_null(strstr(e.reason, "void DNS lookups"));
    assert_int_equal(e.voids, 3);
    assert_int_equal(RUN(z, "192.0.2.1", "v2.test", &e), SPF_PASS);
    assert_int_equal(e.voids, 2);
}

static void test_temporary_and_exists_macros(void **state)
{
    (void)state;
    static const struct canned z[] = {
        TXT("t.test", "v=spf1 a:down.test -all"),
        { "down.test", SPF_RR_A, SPF_DNS_TEMP, { NULL } },
        { "tdown.test", SPF_RR_TXT, SPF_DNS_TEMP, { NULL } },
        TXT("m.test", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"),
        A("1.2.0.192.postmaster._spf.m.test", "127.0.0.2"),
        TXT("m6.test", "v=spf1 exists:%{i}._6.%{d2} -all"),
        A("2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0._6.m6.test",
          "127.0.0.2"),
        TXT("bad.test", "v=spf1 exists:%{x}.bad.test -all"),
    };
    struct spf_eval e;
    assert_int_equal(RUN(z, "192.0.2.1", "t.test", &e), SPF_TEMPERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "tdown.test", &e), SPF_TEMPERROR);
    assert_int_equal(RUN(z, "192.0.2.1", "m.test", &e), SPF_PASS);
    assert_int_equal(RUN(z, "192.0.2.2", "m.test", &e), SPF_FAIL);
    /* %{i} of IPv6: 32 nibbles, dot-separated, in order; %{d2}: two labels */
    assert_int_equal(RUN(z, "2001:db8::", "m6.test", &e), SPF_PASS);
    assert_int_equal(RUN(z, "192.0.2.1", "bad.test", &e), SPF_PERMERROR);
}

static void test_includes(void **state)
{
    (void)state;
    assert_true(spf_record_includes("v=spf1 include:_spf.google.com -all", "_spf.google.com"));
    assert_true(spf_record_includes("v=spf1 mx ~INCLUDE:_SPF.Google.com ~all",
                                    "_spf.google.com"));
    assert_false(spf_record_includes("v=spf1 include:_spf.google.com.evil -all",
                                     "_spf.google.com"));
    assert_false(spf_record_includes("v=spf1 a:_spf.google.com -all", "_spf.google.com"));
    assert_false(spf_record_includes("include:_spf.google.com", "_spf.google.com"));
    assert_true(spf_is_record("v=spf1"));
    assert_false(spf_is_record("v=spf12 a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_mechanisms),
        cmocka_unit_test(test_qualifiers_and_neutral),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_include_chain_and_redirect),
        cmocka_unit_test(test_lookup_limit_and_loop),
        cmocka_unit_test(test_two_records_and_syntax),
        cmocka_unit_test(test_void_lookups),
        cmocka_unit_test(test_temporary_and_exists_macros),
        cmocka_unit_test(test_includes),
    };
    return cmocka_run_group_tests_name("spf", tests, NULL, NULL);
}

/* Unit tests for cidr: tables (Postfix cidr_table(5)) loaded through
 * map_open_text, table-driven lookups and load errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cidr.h"
#include "config/maps.h"

static struct map *load(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return map_open_text("cidr:/etc/postern/t.cidr", 0, text, strlen(text), err, errlen);
}

static void expect(const struct map *m, const char *key, const char *want)
{
    char *got = map_lookup(m, key);
    if (!want) {
        if (got)
            fail_msg("%s: expected no match, got \"%s\"", key, got);
    } else {
        if (!got)
            fail_msg("%s: expected \"%s\", got no match", key, want);
        if (strcmp(got, want) != 0)
            fail_msg("%s: expected \"%s\", got \"%s\"", key, want, got);
    }
    free(got);
}

static const char table[] =
    "# clients\n"
    "192.0.2.7           DUNNO\n"
    "192.0.2.0/24        REJECT no thanks\n"
    "[198.51.100.0]/24   OK\n"
    "[203.0.113.0/24]    554 5.7.1 go away\n"
    "2001:db8::/32       DEFER\n"
    "[::1]               OK\n"
    "if 10.0.0.0/8\n"
    "10.1.0.0/16         OK\n"
    "if !10.2.0.0/16\n"
    "10.0.0.0/9          REJECT outer\n"
    "endif\n"
    "endif\n"
    "!172.16.0.0/12      REJECT\n"
    "172.16.0.0/12       long result\n"
    "  continued on a second line\n";

static void test_lookup(void **state)
{
    (void)state;
    char err[512];
    struct map *m = load(table, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const struct { const char *key, *want; } v[] = {
        { "192.0.2.7", "DUNNO" },               /* file order: first match wins */
        { "192.0.2.8", "REJECT no thanks" },
        { "198.51.100.255", "OK" },             /* brackets around the address */
        { "203.0.113.1", "554 5.7.1 go away" }, /* brackets around the pattern */
        { "2001:db8:1::5", "DEFER" },
        { "2001:0db8:0000::0001", "DEFER" },    /* compared as bytes, not text */
        { "::1", "OK" },
        { "::2", "REJECT" },                    /* !172.16/12: other family too */
        { "::ffff:192.0.2.9", "REJECT no thanks" }, /* mapped: matched as IPv4 */
        { "10.1.2.3", "OK" },
        { "10.3.0.1", "REJECT outer" },         /* inside if, outside if ! */
        { "10.2.0.1", "REJECT" },               /* the inner if is skipped */
        { "10.200.0.1", "REJECT" },             /* /9 does not cover it: falls out */
        { "172.16.5.5", "long result continued on a second line" },
        { "172.31.255.255", "long result continued on a second line" },
        { "8.8.8.8", "REJECT" },                /* !172.16/12 */
        { "mail.example.com", NULL },           /* not an address */
        { "", NULL },
        { "192.0.2", NULL },
        { "192.0.2.7/32", NULL },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        expect(m, v[i].key, v[i].want);
    assert_false(map_is_keyed(m));
    /* map_lookup_address gives pattern tables the whole key, once */
    char *a = map_lookup_address(m, "192.0.2.7");
    assert_string_equal(a, "DUNNO");
    free(a);
    map_free(m);
}

static void test_no_match_without_negation(void **state)
{
    (void)state;
    char err[512];
    struct map *m = load("if 127.0.0.0/8\n127.0.0.1 OK\nendif\n", err, sizeof err);
    assert_non_null(m);
    expect(m, "127.0.0.1", "OK");
    expect(m, "127.0.0.2", NULL);
    expect(m, "::1", NULL);
    map_free(m);
    m = load("", err, sizeof err);          /* an empty table is valid */
    assert_non_null(m);
    expect(m, "127.0.0.1", NULL);
    map_free(m);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *want[3]; } v[] = {
        { "192.0.2.1/24 OK\n", { "t.cidr:1:", "bits set beyond", "use 192.0.2.0/24" } },
        { "192.0.2.0/33 OK\n", { "t.cidr:1:", "bad prefix length", NULL } },
        { "2001:db8::/129 OK\n", { "bad prefix length", "0..128", NULL } },
        { "mail.example.com OK\n", { "not an IP address", NULL, NULL } },
        { "192.0.2.0/24\n", { "t.cidr:1:", "has no result", NULL } },
        { "# c\n\n10.0.0.0/8 OK\nendif\n", { "t.cidr:4:", "endif without", NULL } },
        { "if 10.0.0.0/8\n10.0.0.1 OK\n", { "t.cidr:1:", "if without endif", NULL } },
        { "if\nendif\n", { "t.cidr:1:", "if needs a network", NULL } },
        { "if 10.0.0.0/8 OK\nendif\n", { "t.cidr:1:", "takes no result", NULL } },
        { "if 10.0.0.0/8\nendif now\n", { "t.cidr:2:", "text after endif", NULL } },
        { "! OK\n", { "no address pattern", NULL, NULL } },
        { "1.2.3.4/ OK\n", { "bad prefix length", NULL, NULL } },
        { "[1.2.3.4 OK\n", { "not an IP address", NULL, NULL } },
        { "  10.0.0.0/8 OK\n", { "t.cidr:1:", "no line before it", NULL } },
    };
    char err[512];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct map *m = load(v[i].text, err, sizeof err);
        if (m)
            fail_msg("\"%s\" loaded", v[i].text);
        for (size_t k = 0; k < 3 && v[i].want[k]; k++)
            if (!strstr(err, v[i].want[k]))
                fail_msg("\"%s\": error \"%s\" lacks \"%s\"", v[i].text, err, v[i].want[k]);
    }
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char text[64 * 20 + 100] = "", err[512];
    for (int i = 0; i <= CIDR_MAX_NESTING; i++)
        strcat(text, "if 10.0.0.0/8\n");
    struct map *m = load(text, err, sizeof err);
    assert_null(m);
    assert_non_null(strstr(err, "nested deeper"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_no_match_without_negation),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for smtp/addrlist: address lists for `sendmail -t`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/addrlist.h"

struct out {
    char text[1024];         /* addresses joined by '|' */
};

static void add(const char *a, size_t n, void *arg)
{
    struct out *o = arg;
    size_t l = strlen(o->text);
    snprintf(o->text + l, sizeof o->text - l, "%s%.*s", l ? "|" : "", (int)n, a);
}

static void check(const char *in, const char *want, int count)
{
    struct out o = { "" };
    int n = addrlist_parse(in, strlen(in), add, &o);
    if (strcmp(o.text, want) != 0 || n != count)
        fail_msg("%s -> \"%s\" (%d), want \"%s\" (%d)", in, o.text, n, want, count);
}

static void test_vectors(void **state)
{
    (void)state;
    check("a@example.com", "a@example.com", 1);
    check(" a@example.com , b@example.com ", "a@example.com|b@example.com", 2);
    check("Foo Bar <to@example.com>", "to@example.com", 1);
    check("\"Doe, J.\" <doe@example.com>, x@y", "doe@example.com|x@y", 2);
    check("cc@example.com (a comment, with comma)", "cc@example.com", 1);
    check("(nested (comment)) z@example.com", "z@example.com", 1);
    check("team: a@x, b@x;, c@x", "a@x|b@x|c@x", 3);
    check("undisclosed-recipients:;", "", 0);
    check("\"john doe\"@example.com", "\"john doe\"@example.com", 1);
    check("\"a\\\"b\"@x", "\"a\\\"b\"@x", 1);
    check("<@relay.example,@r2:user@example.com>", "user@example.com", 1);
    check("user@[IPv6:2001:db8::1], v@[127.0.0.1]", "user@[IPv6:2001:db8::1]|v@[127.0.0.1]", 2);
    check("Name\r\n <folded@example.com>", "folded@example.com", 1);
    check("张三 <张三@例子.测试>", "张三@例子.测试", 1);
    check(",,, ,", "", 0);
    check("", "", 0);
    check("postmaster", "postmaster", 1);
    /* unterminated constructs end with the input */
    check("Name <a@b", "a@b", 1);
    check("\"open quote@x", "\"open quote@x", 1);
    check("a@b (open comment", "a@b", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
    };
    return cmocka_run_group_tests_name("addrlist", tests, NULL, NULL);
}

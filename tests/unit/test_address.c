/* Unit tests for the RFC 5321 / 6531 path parser. Every vector is parsed
 * from an exact-size heap copy (no NUL terminator) so that ASan catches
 * any read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"

#define N   ADDR_ALLOW_NULL
#define U   ADDR_ALLOW_UTF8
#define B   ADDR_ALLOW_NOBRACKET
#define ALL (N | U | B)

struct vec {
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    int flags;
    enum addr_status st;
    /* checked only when st == ADDR_OK */
    const char *local;
    const char *domain;
    int literal;
    int utf8;
    size_t consumed;            /* 0: whole input */
    int is_null;
};

static const struct vec vecs[] = {
    /* --- plain mailboxes -------------------------------------------- */
    { "<user@example.com>", 0, 0, ADDR_OK, "user", "example.com", 0, 0, 0, 0 },
    { "<User.Name+tag@Sub.Example.COM>", 0, 0, ADDR_OK,
      "User.Name+tag", "Sub.Example.COM", 0, 0, 0, 0 },
    { "<!#$%&'*+-/=?^_`{|}~@example.com>", 0, 0, ADDR_OK,
      "!#$%&'*+-/=?^_`{|}~", "example.com", 0, 0, 0, 0 },
    { "<a@localhost>", 0, 0, ADDR_OK, "a", "localhost", 0, 0, 0, 0 },
    { "<a@123.example>", 0, 0, ADDR_OK, "a", "123.example", 0, 0, 0, 0 },
    { "<a@a-b.c--d.x1>", 0, 0, ADDR_OK, "a", "a-b.c--d.x1", 0, 0, 0, 0 },
    { "<a.b.c@x.org>", 0, 0, ADDR_OK, "a.b.c", "x.org", 0, 0, 0, 0 },
    /* flags that do not apply change nothing */
    { "<user@example.com>", 0, ALL, ADDR_OK, "user", "example.com", 0, 0, 0, 0 },

    /* --- quoted local parts ------------------------------------------ */
    { "<\"john doe\"@example.com>", 0, 0, ADDR_OK,
      "\"john doe\"", "example.com", 0, 0, 0, 0 },
    { "<\"a\\\"b\\\\c\"@example.com>", 0, 0, ADDR_OK,
      "\"a\\\"b\\\\c\"", "example.com", 0, 0, 0, 0 },
    { "<\"\\ \\~\"@x.org>", 0, 0, ADDR_OK, "\"\\ \\~\"", "x.org", 0, 0, 0, 0 },
    { "<\"\"@example.com>", 0, 0, ADDR_OK, "\"\"", "example.com", 0, 0, 0, 0 },
    { "<\"a@b\"@example.com>", 0, 0, ADDR_OK, "\"a@b\"", "example.com", 0, 0, 0, 0 },
    { "<\"a>b\"@x.org>", 0, 0, ADDR_OK, "\"a>b\"", "x.org", 0, 0, 0, 0 },
    { "<\"a..b.\"@x.org>", 0, 0, ADDR_OK, "\"a..b.\"", "x.org", 0, 0, 0, 0 },
    { "<\"unterminated@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\\", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\x01\"@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\\\x01\"@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\\\x7f\"@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\"b@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a\"b\"@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- address literals -------------------------------------------- */
    { "<user@[192.0.2.1]>", 0, 0, ADDR_OK, "user", "[192.0.2.1]", 1, 0, 0, 0 },
    { "<user@[0.0.0.0]>", 0, 0, ADDR_OK, "user", "[0.0.0.0]", 1, 0, 0, 0 },
    { "<user@[255.255.255.255]>", 0, 0, ADDR_OK,
      "user", "[255.255.255.255]", 1, 0, 0, 0 },
    { "<user@[IPv6:2001:db8::1]>", 0, 0, ADDR_OK,
      "user", "[IPv6:2001:db8::1]", 1, 0, 0, 0 },
    { "<user@[ipv6:::1]>", 0, 0, ADDR_OK, "user", "[ipv6:::1]", 1, 0, 0, 0 },
    { "<user@[IPv6:::ffff:192.0.2.1]>", 0, 0, ADDR_OK,
      "user", "[IPv6:::ffff:192.0.2.1]", 1, 0, 0, 0 },
    { "<user@[300.1.1.1]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2.3]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2.3.4.5]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[01.2.3.4]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[IPv6:zz]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[IPv6:1::2::3]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[IPv6:]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[IPv6:192.0.2.1]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[::1]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[x-tag:content]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2.3.4>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2.3.4]", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2.3.4].com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[1.2. 3.4]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@[[1.2.3.4]]>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- source routes: accepted and dropped -------------------------- */
    { "<@a.example,@b.example:user@c.example>", 0, 0, ADDR_OK,
      "user", "c.example", 0, 0, 0, 0 },
    { "<@a.example:user@c.example>", 0, 0, ADDR_OK, "user", "c.example", 0, 0, 0, 0 },
    { "<@[192.0.2.1]:u@x.org>", 0, 0, ADDR_OK, "u", "x.org", 0, 0, 0, 0 },
    { "<@a.example,@b.example:user@c.example> SIZE=1", 0, 0, ADDR_OK,
      "user", "c.example", 0, 0, 38, 0 },
    { "<@a.example,user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@a.example;user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@:user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@a..b:u@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@a.example:>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@a.example:<>", 0, N, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@example.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- null path ---------------------------------------------------- */
    { "<>", 0, N, ADDR_OK, "", "", 0, 0, 0, 1 },
    { "<> SIZE=10", 0, N, ADDR_OK, "", "", 0, 0, 2, 1 },
    { "<>", 0, 0, ADDR_ERR_NULL, 0, 0, 0, 0, 0, 0 },
    { "<>", 0, U | B, ADDR_ERR_NULL, 0, 0, 0, 0, 0, 0 },
    { "", 0, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<", 0, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "< >", 0, N, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- brackets, consumed, bare mailboxes ---------------------------- */
    { "<user@example.com> SIZE=100", 0, 0, ADDR_OK, "user", "example.com", 0, 0, 18, 0 },
    { "<a@b.c>x", 0, 0, ADDR_OK, "a", "b.c", 0, 0, 7, 0 },
    { "user@example.com", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "user@example.com", 0, B, ADDR_OK, "user", "example.com", 0, 0, 16, 0 },
    { "user@example.com SIZE=1", 0, B, ADDR_OK, "user", "example.com", 0, 0, 16, 0 },
    { "user@example.com\tx", 0, B, ADDR_OK, "user", "example.com", 0, 0, 16, 0 },
    { "<user@example.com>", 0, B, ADDR_OK, "user", "example.com", 0, 0, 18, 0 },
    { "user@example.com>", 0, B, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "user@example.com<", 0, B, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "user", 0, B, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@example.com", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@example.com", 0, B, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "< user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@x.org >", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { " <user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<Postmaster>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<john doe@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a,b@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a(c)@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- dots, hyphens, empty parts ------------------------------------ */
    { "<user@>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<@>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a@b@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<.user@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user.@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<us..er@x.org>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@example.com.>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "user@example.com.", 0, B, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@.example.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@ex..com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@-ex.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@ex-.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@ex.com->", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@ex_ample.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<user@ex!ample.com>", 0, 0, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- control bytes and NUL ----------------------------------------- */
    { "<a\x7f@x.org>", 0, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a\x1b@x.org>", 0, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a@x\r.org>", 0, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a\0b@x.org>", 11, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<\"a\0b\"@x.org>", 13, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a@x.org\0>", 10, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a@[1.2.3.4\0]>", 14, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "a@x.org\0", 8, ALL, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },

    /* --- UTF-8 (RFC 6531) ---------------------------------------------- */
    { "<δοκιμή@παράδειγμα.δοκιμή>", 0, U, ADDR_OK,
      "δοκιμή", "παράδειγμα.δοκιμή", 0, 1, 0, 0 },
    { "<用户@例子.测试>", 0, U, ADDR_OK, "用户", "例子.测试", 0, 1, 0, 0 },
    { "<user@例子.测试>", 0, U, ADDR_OK, "user", "例子.测试", 0, 1, 0, 0 },
    { "<用户@example.com>", 0, U, ADDR_OK, "用户", "example.com", 0, 1, 0, 0 },
    { "<\"ü x\"@example.com>", 0, U, ADDR_OK, "\"ü x\"", "example.com", 0, 1, 0, 0 },
    { "<jörg.müller@bücher-xn.de>", 0, U, ADDR_OK,
      "jörg.müller", "bücher-xn.de", 0, 1, 0, 0 },
    { "<\xF0\x9F\x98\x80@x.org>", 0, U, ADDR_OK, "\xF0\x9F\x98\x80", "x.org", 0, 1, 0, 0 },
    { "<\xF4\x8F\xBF\xBF@x.org>", 0, U, ADDR_OK, "\xF4\x8F\xBF\xBF", "x.org", 0, 1, 0, 0 },
    { "<\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF@x.org>", 0, U, ADDR_OK,
      "\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF", "x.org", 0, 1, 0, 0 },
    { "<\xC2\x80@x.org>", 0, U, ADDR_OK, "\xC2\x80", "x.org", 0, 1, 0, 0 },
    { "<@例子.测试:a@x.org>", 0, U, ADDR_OK, "a", "x.org", 0, 1, 0, 0 },
    { "<a@x.org>", 0, U, ADDR_OK, "a", "x.org", 0, 0, 0, 0 },
    /* without SMTPUTF8 */
    { "<δοκιμή@x.org>", 0, N | B, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<user@例子.测试>", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\"ü\"@x.org>", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<@例子.测试:a@x.org>", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<a@x.org\xC3\xA9>", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<a@[1.2.3.\xC3\xA9]>", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "ü@x.org", 0, B, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    /* malformed UTF-8 with SMTPUTF8 */
    { "<\xC0\x80@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xC1\xBF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\x80@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<a\xBF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xED\xA0\x80@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xED\xBF\xBF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xE0\x80\xAF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xF0\x80\x80\xAF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xF4\x90\x80\x80@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xF5\x80\x80\x80@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xFF@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xC3@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\xE4\xBD@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<a@x.org\xC3", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<a@\xC0\x80.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    { "<\"\xED\xA0\x80\"@x.org>", 0, U, ADDR_ERR_UTF8, 0, 0, 0, 0, 0, 0 },
    /* UTF-8 only where atext / qtext / labels are allowed */
    { "<\"a\\\xC3\xA9\"@x.org>", 0, U, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
    { "<a@[1.2.3.\xC3\xA9]>", 0, U, ADDR_ERR_SYNTAX, 0, 0, 0, 0, 0, 0 },
};

static char *dup_exact(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static enum addr_status parse_exact(const char *s, size_t len, int flags,
                                    struct address *a, size_t *used)
{
    char *buf = dup_exact(s, len);
    enum addr_status st = address_parse(buf, len, flags, a, used);
    free(buf);
    return st;
}

static void test_vectors(void **state)
{
    size_t k;
    (void)state;

    for (k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const struct vec *v = &vecs[k];
        size_t len = v->len ? v->len : strlen(v->in), used = 12345;
        struct address a;
        enum addr_status st;

        memset(&a, 0x55, sizeof a);
        st = parse_exact(v->in, len, v->flags, &a, &used);
        if (st != v->st)
            fail_msg("vector %zu \"%s\" flags %d: status %d, expected %d",
                     k, v->in, v->flags, st, v->st);
        if (st != ADDR_OK)
            continue;
        if (a.is_null != v->is_null || used != (v->consumed ? v->consumed : len))
            fail_msg("vector %zu \"%s\": is_null %d used %zu", k, v->in, a.is_null, used);
        assert_int_equal(a.is_null, v->is_null);
        assert_string_equal(a.local, v->local);
        assert_string_equal(a.domain, v->domain);
        assert_int_equal(a.domain_is_literal, v->literal);
        assert_int_equal(a.has_utf8, v->utf8);
        assert_int_equal(used, v->consumed ? v->consumed : len);
        if (v->is_null) {
            assert_string_equal(a.full, "");
        } else {
            char full[sizeof a.full];
            snprintf(full, sizeof full, "%s@%s", v->local, v->domain);
            assert_string_equal(a.full, full);
        }
    }
}

/* Every proper prefix of a complete bracketed path must be rejected, and
 * no prefix may be read past its end (exact-size buffers under ASan). */
static void test_prefixes(void **state)
{
    size_t k, n;
    (void)state;

    for (k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const struct vec *v = &vecs[k];
        size_t len = v->len ? v->len : strlen(v->in);
        for (n = 0; n < len; n++) {
            struct address a;
            size_t used;
            enum addr_status st = parse_exact(v->in, n, v->flags, &a, &used);
            if (v->st == ADDR_OK && v->in[0] == '<' && !v->consumed)
                assert_int_not_equal(st, ADDR_OK);
            if (st == ADDR_OK)
                assert_true(used <= n);
        }
    }
}

static void rep(char *p, char c, size_t n)
{
    memset(p, c, n);
    p[n] = '\0';
}

/* "<" local "@x.org>" */
static enum addr_status parse_local_len(const char *unit, size_t count, int flags,
                                        struct address *a)
{
    char buf[1024];
    size_t k, used, ul = strlen(unit);

    buf[0] = '<';
    for (k = 0; k < count; k++)
        memcpy(buf + 1 + k * ul, unit, ul);
    strcpy(buf + 1 + count * ul, "@x.org>");
    return parse_exact(buf, strlen(buf), flags, a, &used);
}

static void test_local_limits(void **state)
{
    struct address a;
    char exp[128];
    (void)state;

    assert_int_equal(parse_local_len("a", 64, 0, &a), ADDR_OK);
    rep(exp, 'a', 64);
    assert_string_equal(a.local, exp);
    assert_int_equal(parse_local_len("a", 65, 0, &a), ADDR_ERR_TOO_LONG);

    /* quoted: the quotes count */
    {
        char in[128];
        size_t used;
        snprintf(in, sizeof in, "<\"%062d\"@x.org>", 0);
        assert_int_equal(parse_exact(in, strlen(in), 0, &a, &used), ADDR_OK);
        assert_int_equal(strlen(a.local), 64);
        snprintf(in, sizeof in, "<\"%063d\"@x.org>", 0);
        assert_int_equal(parse_exact(in, strlen(in), 0, &a, &used), ADDR_ERR_TOO_LONG);
    }

    /* octets, not characters: 32 x "é" = 64 octets, 33 = 66 */
    assert_int_equal(parse_local_len("\xC3\xA9", 32, U, &a), ADDR_OK);
    assert_int_equal(strlen(a.local), 64);
    assert_int_equal(a.has_utf8, 1);
    assert_int_equal(parse_local_len("\xC3\xA9", 33, U, &a), ADDR_ERR_TOO_LONG);
    /* 21 x 3-byte + "a" = 64, 22 x 3 = 66 */
    assert_int_equal(parse_local_len("\xE4\xBD\xA0", 22, U, &a), ADDR_ERR_TOO_LONG);
}

/* Build a domain of exactly n octets from 63-octet labels. */
static void make_domain(char *out, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t left = n - i, l = left > 63 ? 63 : left;
        if (left > 63 && left - 63 < 2)
            l = left - 2;               /* never leave a lone "." or "" */
        memset(out + i, 'd', l);
        i += l;
        if (i < n)
            out[i++] = '.';
    }
    out[n] = '\0';
}

static enum addr_status parse_fmt(const char *pre, const char *mid, const char *post,
                                  struct address *a)
{
    char buf[2048];
    size_t used;
    snprintf(buf, sizeof buf, "%s%s%s", pre, mid, post);
    return parse_exact(buf, strlen(buf), 0, a, &used);
}

static void test_domain_limits(void **state)
{
    struct address a;
    char d[512];
    (void)state;

    /* labels: 63 ok, 64 too long */
    rep(d, 'l', 63);
    assert_int_equal(parse_fmt("<a@", d, ".org>", &a), ADDR_OK);
    assert_int_equal(strlen(a.domain), 67);
    rep(d, 'l', 64);
    assert_int_equal(parse_fmt("<a@", d, ".org>", &a), ADDR_ERR_TOO_LONG);

    /* the path limit (256 with brackets) caps "a@" + domain at 252 */
    make_domain(d, 252);
    assert_int_equal(strlen(d), 252);
    assert_int_equal(parse_fmt("<a@", d, ">", &a), ADDR_OK);
    assert_string_equal(a.domain, d);
    assert_int_equal(strlen(a.full), 254);
    make_domain(d, 253);
    assert_int_equal(parse_fmt("<a@", d, ">", &a), ADDR_ERR_TOO_LONG);
    make_domain(d, 255);
    assert_int_equal(parse_fmt("<a@", d, ">", &a), ADDR_ERR_TOO_LONG);
    make_domain(d, 256);
    assert_int_equal(parse_fmt("<a@", d, ">", &a), ADDR_ERR_TOO_LONG);

    /* the 255-octet domain limit on its own: in a (dropped) source route */
    make_domain(d, 255);
    assert_int_equal(parse_fmt("<@", d, ":a@x.org>", &a), ADDR_OK);
    assert_string_equal(a.full, "a@x.org");
    make_domain(d, 256);
    assert_int_equal(parse_fmt("<@", d, ":a@x.org>", &a), ADDR_ERR_TOO_LONG);

    /* full path: 64 local + "@" + 189 domain + 2 = 256 ok, one more not */
    {
        char l[65], in[2048];
        size_t used;
        rep(l, 'a', 64);
        make_domain(d, 189);
        snprintf(in, sizeof in, "<%s@%s>", l, d);
        assert_int_equal(strlen(in), 256);
        assert_int_equal(parse_exact(in, strlen(in), 0, &a, &used), ADDR_OK);
        assert_int_equal(used, 256);
        make_domain(d, 190);
        snprintf(in, sizeof in, "<%s@%s>", l, d);
        assert_int_equal(parse_exact(in, strlen(in), 0, &a, &used), ADDR_ERR_TOO_LONG);
        /* a long source route does not count */
        make_domain(d, 189);
        snprintf(in, sizeof in, "<@%s,@%s:%s@%s>", d, d, l, d);
        assert_int_equal(parse_exact(in, strlen(in), 0, &a, &used), ADDR_OK);
        assert_int_equal(used, strlen(in));
    }
}

static void test_null_and_consumed_pointer(void **state)
{
    struct address a;
    (void)state;

    /* consumed may be NULL */
    assert_int_equal(address_parse("<a@b.c>", 7, 0, &a, NULL), ADDR_OK);
    assert_int_equal(address_parse("<>", 2, N, &a, NULL), ADDR_OK);
    assert_int_equal(a.is_null, 1);
    assert_int_equal(address_parse(NULL, 0, ALL, &a, NULL), ADDR_ERR_SYNTAX);
    /* len shorter than the string: only len bytes count */
    assert_int_equal(address_parse("<a@b.c>", 6, 0, &a, NULL), ADDR_ERR_SYNTAX);
    assert_int_equal(address_parse("a@b.cdef", 5, B, &a, NULL), ADDR_OK);
    assert_string_equal(a.full, "a@b.c");
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(address_strerror(ADDR_ERR_SYNTAX), "Bad address syntax");
    assert_string_equal(address_strerror(ADDR_ERR_TOO_LONG), "Address too long");
    assert_string_equal(address_strerror(ADDR_ERR_NULL), "Null address not allowed here");
    assert_non_null(strstr(address_strerror(ADDR_ERR_UTF8), "UTF8"));
    assert_non_null(address_strerror(ADDR_OK));
    assert_non_null(address_strerror((enum addr_status)99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_local_limits),
        cmocka_unit_test(test_domain_limits),
        cmocka_unit_test(test_null_and_consumed_pointer),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

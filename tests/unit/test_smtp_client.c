/* Unit tests for the pure parts of the SMTP client (deliver/smtp_reply.c):
 * reply parser, EHLO keywords, nexthop syntax, result classification,
 * SASL keys and AUTH PLAIN, dot-stuffing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "deliver/smtp_internal.h"

static int parse_all(struct smtp_reply *r, const char *text)
{
    size_t used;
    return smtp_reply_parse(r, text, strlen(text), &used);
}

static void test_reply_single(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    size_t used;
    const char *t = "250 2.1.0 Ok\r\nextra";
    assert_int_equal(smtp_reply_parse(&r, t, strlen(t), &used), 1);
    assert_int_equal(used, 14);
    assert_int_equal(r.code, 250);
    assert_string_equal(r.dsn, "2.1.0");
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.text, "250 2.1.0 Ok");
    /* bare code, bare LF */
    assert_int_equal(parse_all(&r, "220\n"), 1);
    assert_int_equal(r.code, 220);
    assert_string_equal(r.dsn, "");
    /* no enhanced code; dsn of another class ignored */
    assert_int_equal(parse_all(&r, "550 Mailbox unavailable\r\n"), 1);
    assert_string_equal(r.dsn, "");
    assert_int_equal(parse_all(&r, "550 4.1.1 odd\r\n"), 1);
    assert_string_equal(r.dsn, "");
    assert_int_equal(parse_all(&r, "451 4.7.1234 x\r\n"), 1);
    assert_string_equal(r.dsn, "");
    assert_int_equal(parse_all(&r, "451 4.7.123 x\r\n"), 1);
    assert_string_equal(r.dsn, "4.7.123");
    assert_int_equal(parse_all(&r, "250 2.0.0\r\n"), 1);
    assert_string_equal(r.dsn, "2.0.0");
    smtp_reply_free(&r);
}

static void test_reply_multi(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    const char *t = "550-5.7.1 first line\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n";
    size_t used;
    assert_int_equal(smtp_reply_parse(&r, t, 20, &used), 0);     /* partial */
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_parse(&r, t, strlen(t), &used), 1);
    assert_int_equal(used, strlen(t));
    assert_int_equal(r.nlines, 3);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.dsn, "5.7.1");
    char one[200];
    smtp_reply_oneline(&r, one, sizeof one);
    assert_string_equal(one, "550-5.7.1 first line 550-5.7.1 second 550 5.7.1 last");
    /* control bytes never reach a reason */
    assert_int_equal(parse_all(&r, "451 a\tb\x01" "c\r\n"), 1);
    smtp_reply_oneline(&r, one, sizeof one);
    assert_string_equal(one, "451 a?b?c");
    /* line by line */
    assert_int_equal(smtp_reply_feed(&r, "250-mx.example", 14), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 PIPELINING", 14), 1);
    assert_int_equal(r.nlines, 2);
    /* a new reply after a complete one */
    assert_int_equal(smtp_reply_feed(&r, "354 go", 6), 1);
    assert_int_equal(r.nlines, 1);
    assert_int_equal(r.code, 354);
    /* truncated oneline */
    char small[10];
    smtp_reply_oneline(&r, small, sizeof small);
    assert_string_equal(small, "354 go");
    assert_int_equal(parse_all(&r, "250 0123456789abcdef\r\n"), 1);
    smtp_reply_oneline(&r, small, sizeof small);
    assert_string_equal(small, "250 01...");
    smtp_reply_free(&r);
}

static void test_reply_errors(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    static const char *const bad[] = {
        "25 short\r\n", "abc defg\r\n", "250x\r\n", "150 one-hundred\r\n",
        "650 six\r\n", "250-a\r\n251 b\r\n", "2500 x\r\n", "\r\n", "250_x\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtp_reply_reset(&r);
        assert_int_equal(parse_all(&r, bad[i]), -1);
    }
    /* a line of exactly 2048 bytes is fine, 2049 is not */
    char *big = malloc(4200);
    assert_non_null(big);
    memset(big, 'x', 4200);
    memcpy(big, "250 ", 4);
    memcpy(big + SMTP_REPLY_LINE_MAX, "\r\n", 2);
    size_t used;
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_parse(&r, big, SMTP_REPLY_LINE_MAX + 2, &used), 1);
    memset(big + SMTP_REPLY_LINE_MAX, 'x', 2);
    memcpy(big + SMTP_REPLY_LINE_MAX + 1, "\r\n", 2);
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_parse(&r, big, SMTP_REPLY_LINE_MAX + 3, &used), -1);
    /* an unterminated line past the limit is an error before its end comes */
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_parse(&r, big, 3000, &used), -1);
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_parse(&r, big, 2000, &used), 0);
    free(big);
    /* 100 lines fine, 101 not */
    char line[16];
    smtp_reply_reset(&r);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 x", 5), 1);
    smtp_reply_reset(&r);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5), 0);
    snprintf(line, sizeof line, "250 x");
    assert_int_equal(smtp_reply_feed(&r, line, 5), -1);
    smtp_reply_free(&r);
}

static void test_classify(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    char dsn[16];
    assert_int_equal(smtp_reply_state(250), DELIVER_SENT);
    assert_int_equal(smtp_reply_state(451), DELIVER_DEFERRED);
    assert_int_equal(smtp_reply_state(421), DELIVER_DEFERRED);
    assert_int_equal(smtp_reply_state(550), DELIVER_BOUNCED);
    assert_int_equal(smtp_reply_state(554), DELIVER_BOUNCED);
    parse_all(&r, "550 5.1.1 <x@y>: Recipient address rejected\r\n");
    smtp_reply_dsn(&r, dsn);
    assert_string_equal(dsn, "5.1.1");
    parse_all(&r, "450 mailbox busy\r\n");
    smtp_reply_dsn(&r, dsn);
    assert_string_equal(dsn, "4.0.0");
    parse_all(&r, "250 Ok: queued as ABC\r\n");
    smtp_reply_dsn(&r, dsn);
    assert_string_equal(dsn, "2.0.0");
    parse_all(&r, "554 Transaction failed\r\n");
    smtp_reply_dsn(&r, dsn);
    assert_string_equal(dsn, "5.0.0");
    parse_all(&r, "354 go ahead\r\n");
    smtp_reply_dsn(&r, dsn);
    assert_string_equal(dsn, "4.0.0");
    assert_int_equal(smtp_parse_dsn("5.7.1 x", 7, dsn), 5);
    assert_int_equal(smtp_parse_dsn("5.7.1x", 6, dsn), 0);
    assert_int_equal(smtp_parse_dsn("3.7.1 x", 7, dsn), 0);
    assert_int_equal(smtp_parse_dsn("5..1 x", 6, dsn), 0);
    assert_int_equal(smtp_parse_dsn("5.1.", 4, dsn), 0);
    smtp_reply_free(&r);
}

static void ehlo(const char *text, struct smtp_ext *ext)
{
    struct smtp_reply r = { 0 };
    assert_int_equal(parse_all(&r, text), 1);
    smtp_ehlo_parse(&r, ext);
    smtp_reply_free(&r);
}

static void test_ehlo(void **state)
{
    (void)state;
    struct smtp_ext e;
    ehlo("250-smtp.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
         "250-8BITMIME\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
         "250 ENHANCEDSTATUSCODES\r\n", &e);
    assert_int_equal(e.flags, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                     SMTP_EXT_SMTPUTF8 | SMTP_EXT_STARTTLS | SMTP_EXT_AUTH);
    assert_true(e.size == 10240000ULL);
    assert_int_equal(e.auth, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_OTHER);

    /* the greeting line is not a keyword; case-insensitive; old AUTH= form */
    ehlo("250-PIPELINING greets you\r\n250-size\r\n250-auth=login\r\n250 starttls\r\n", &e);
    assert_int_equal(e.flags, SMTP_EXT_SIZE | SMTP_EXT_AUTH | SMTP_EXT_STARTTLS);
    assert_true(e.size == 0);
    assert_int_equal(e.auth, SMTP_AUTH_LOGIN);

    ehlo("250-x\r\n250-AUTH=PLAIN LOGIN\r\n250-AUTH GSSAPI\r\n250 SIZE abc\r\n", &e);
    assert_int_equal(e.auth, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_OTHER);
    assert_true(e.size == 0);

    /* a single-line reply has no keywords; keyword prefixes do not count */
    ehlo("250 PIPELINING\r\n", &e);
    assert_int_equal(e.flags, 0);
    ehlo("250-x\r\n250-PIPELININGX\r\n250 AUTHX PLAIN\r\n", &e);
    assert_int_equal(e.flags, 0);
    assert_int_equal(e.auth, 0);
    /* not a 250 */
    ehlo("502-x\r\n502 PIPELINING\r\n", &e);
    assert_int_equal(e.flags, 0);
}

static void test_nexthop(void **state)
{
    (void)state;
    struct smtp_nexthop nh;
    assert_int_equal(smtp_nexthop_parse("[smtp.example.com]:465", &nh), 0);
    assert_string_equal(nh.host, "smtp.example.com");
    assert_int_equal(nh.port, 465);
    assert_int_equal(nh.mx, 0);
    assert_int_equal(nh.literal, 0);

    assert_int_equal(smtp_nexthop_parse("[smtp.example.com]", &nh), 0);
    assert_int_equal(nh.port, 25);
    assert_int_equal(nh.mx, 0);

    assert_int_equal(smtp_nexthop_parse("example.com:2525", &nh), 0);
    assert_string_equal(nh.host, "example.com");
    assert_int_equal(nh.port, 2525);
    assert_int_equal(nh.mx, 1);

    assert_int_equal(smtp_nexthop_parse("example.com", &nh), 0);
    assert_int_equal(nh.port, 25);
    assert_int_equal(nh.mx, 1);

    assert_int_equal(smtp_nexthop_parse("[127.0.0.1]:2525", &nh), 0);
    assert_string_equal(nh.host, "127.0.0.1");
    assert_int_equal(nh.literal, AF_INET);
    assert_int_equal(nh.mx, 0);

    assert_int_equal(smtp_nexthop_parse("[::1]:2525", &nh), 0);
    assert_string_equal(nh.host, "::1");
    assert_int_equal(nh.port, 2525);
    assert_int_equal(nh.literal, AF_INET6);

    assert_int_equal(smtp_nexthop_parse("[ipv6:2001:db8::1]", &nh), 0);
    assert_string_equal(nh.host, "2001:db8::1");
    assert_int_equal(nh.literal, AF_INET6);
    assert_int_equal(nh.port, 25);

    /* an address without brackets: still no MX lookup */
    assert_int_equal(smtp_nexthop_parse("10.1.2.3:26", &nh), 0);
    assert_int_equal(nh.mx, 0);
    assert_int_equal(nh.literal, AF_INET);

    assert_int_equal(smtp_nexthop_parse("[mail.example.com]:submission", &nh), 0);
    assert_int_equal(nh.port, 587);
    assert_int_equal(smtp_nexthop_parse("mail.example.com:smtps", &nh), 0);
    assert_int_equal(nh.port, 465);

    static const char *const bad[] = {
        "", "[]", "[x", "[x]y", "[x]:", "x:", "x:0", "x:65536", "x:1234567", "::1",
        "[::1", "a b", "x:abc", "[x]:25:25", "[ex]ample]:25", "host/x", "[a@b]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(smtp_nexthop_parse(bad[i], &nh), -1);
    assert_int_equal(smtp_nexthop_parse(NULL, &nh), -1);
}

static void test_sasl_keys(void **state)
{
    (void)state;
    char k[3][300];
    assert_int_equal(smtp_sasl_keys("[smtp.example.com]:465", k), 3);
    assert_string_equal(k[0], "[smtp.example.com]:465");
    assert_string_equal(k[1], "[smtp.example.com]");
    assert_string_equal(k[2], "smtp.example.com");

    assert_int_equal(smtp_sasl_keys("[smtp.example.com]", k), 2);
    assert_string_equal(k[0], "[smtp.example.com]");
    assert_string_equal(k[1], "smtp.example.com");

    assert_int_equal(smtp_sasl_keys("smtp.example.com:587", k), 2);
    assert_string_equal(k[0], "smtp.example.com:587");
    assert_string_equal(k[1], "smtp.example.com");

    assert_int_equal(smtp_sasl_keys("example.com", k), 1);
    assert_string_equal(k[0], "example.com");

    assert_int_equal(smtp_sasl_keys("[::1]:2525", k), 3);
    assert_string_equal(k[1], "[::1]");
    assert_string_equal(k[2], "::1");

    assert_int_equal(smtp_sasl_keys("", k), 0);

    char user[64], pass[64];
    assert_int_equal(smtp_sasl_split("alice:s3cr:et", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(pass, "s3cr:et");
    assert_int_equal(smtp_sasl_split("a@b.c:", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal(user, "a@b.c");
    assert_string_equal(pass, "");
    assert_int_equal(smtp_sasl_split("nocolon", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal(smtp_sasl_split("u:pw", user, 2, pass, sizeof pass), 0);
    assert_int_equal(smtp_sasl_split("us:pw", user, 2, pass, sizeof pass), -1);
}

static void test_auth_plain(void **state)
{
    (void)state;
    char out[128];
    /* RFC 4616 example shape: "\0tim\0tanstaaftanstaaf" */
    assert_int_equal(smtp_auth_plain("tim", "tanstaaftanstaaf", out, sizeof out), 28);
    assert_string_equal(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_int_equal(smtp_auth_plain("user@163.com", "p@ss:word", out, sizeof out), 32);
    assert_string_equal(out, "AHVzZXJAMTYzLmNvbQBwQHNzOndvcmQ=");
    /* does not fit */
    assert_int_equal(smtp_auth_plain("tim", "tanstaaftanstaaf", out, 28), 0);
}

/* The DATA writer over in, fed in pieces of at most `piece` bytes starting
 * with one of `first` bytes (every cut position gets tried), each output
 * buffer malloc'd at exactly the announced bound so that ASan catches an
 * overrun. Returns the wire bytes, final dot included. */
static char *body_run(size_t limit, const char *in, size_t n, size_t first,
                      size_t piece, size_t *outlen, unsigned long *breaks)
{
    struct smtp_body b;
    smtp_body_init(&b, limit);
    size_t cap = 16, len = 0;
    char *res = malloc(cap);
    assert_non_null(res);
    size_t i = 0;
    for (int call = 0;; call++) {
        size_t k = call == 0 ? first : piece;
        if (k > n - i)
            k = n - i;
        int last = i + k == n;
        size_t room = smtp_body_max(&b, k) + (last ? SMTP_BODY_END_MAX : 0);
        char *buf = malloc(room ? room : 1);
        assert_non_null(buf);
        size_t w = smtp_body_write(&b, in + i, k, buf);
        if (last)
            w += smtp_body_end(&b, buf + w);
        assert_true(w <= room);
        while (len + w + 1 > cap)
            cap *= 2;
        res = realloc(res, cap);
        assert_non_null(res);
        memcpy(res + len, buf, w);
        len += w;
        free(buf);
        i += k;
        if (last)
            break;
    }
    res[len] = '\0';
    *outlen = len;
    if (breaks)
        *breaks = b.breaks;
    return res;
}

static void body_check(size_t limit, const char *in, const char *want)
{
    size_t n = strlen(in), wl = strlen(want), len;
    for (size_t first = 0; first <= n; first++) {
        char *got = body_run(limit, in, n, first, n ? n : 1, &len, NULL);
        if (len != wl || memcmp(got, want, wl) != 0)
            fail_msg("limit %zu, cut at %zu: %s", limit, first, got);
        free(got);
    }
    char *got = body_run(limit, in, n, 1, 1, &len, NULL);    /* byte by byte */
    assert_int_equal(len, wl);
    assert_memory_equal(got, want, wl);
    free(got);
}

static void test_dot_stuff(void **state)
{
    (void)state;
    static const struct { const char *in, *want; } v[] = {
        { "", ".\r\n" },
        { ".", "..\r\n.\r\n" },
        { "a\r\n.b\r\n", "a\r\n..b\r\n.\r\n" },
        { ".\r\n", "..\r\n.\r\n" },
        { "..\r\n", "...\r\n.\r\n" },
        { "x.\r\n.\r\n.\r\n", "x.\r\n..\r\n..\r\n.\r\n" },
        { "a.b\r\nc\r\n", "a.b\r\nc\r\n.\r\n" },
        { "a\n.b\r\n", "a\n..b\r\n.\r\n" },        /* a bare LF also starts a line */
        { "a\r.b\r\n", "a\r.b\r\n.\r\n" },          /* a bare CR does not */
        { "\r\n.\r\n", "\r\n..\r\n.\r\n" },
        { "abc", "abc\r\n.\r\n" },                  /* no last line end */
        { "abc\r", "abc\r\r\n.\r\n" },              /* a last bare CR stays */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        body_check(0, v[i].in, v[i].want);
        body_check(998, v[i].in, v[i].want);       /* short lines: the same */
    }
    /* the worst case for dots stays within the bound */
    char in[64];
    for (size_t i = 0; i < sizeof in; i += 2) {
        in[i] = '.';
        in[i + 1] = '\n';
    }
    size_t len;
    char *got = body_run(0, in, sizeof in, sizeof in, sizeof in, &len, NULL);
    assert_int_equal(len, 96 + 3);
    free(got);
}

/* Postfix's smtp_line_length_limit: CR LF SPACE after limit bytes, then
 * after every limit-1 bytes of a continuation. */
static void test_line_length_limit(void **state)
{
    (void)state;
    static const struct { size_t limit; const char *in, *want; } v[] = {
        { 5, "abcde\r\n", "abcde\r\n.\r\n" },                 /* exactly the limit */
        { 5, "abcdef\r\n", "abcde\r\n f\r\n.\r\n" },
        { 5, "abcdefghijklm\r\n", "abcde\r\n fghi\r\n jklm\r\n.\r\n" },
        { 5, "abcdefghijklmn\r\n", "abcde\r\n fghi\r\n jklm\r\n n\r\n.\r\n" },
        { 5, ".bcdefgh\r\n", "..bcde\r\n fgh\r\n.\r\n" },      /* the doubled dot is free */
        { 5, "abcde.fg\r\n", "abcde\r\n .fg\r\n.\r\n" },       /* not a line start */
        { 5, "abcde\r\r\n", "abcde\r\n \r\r\n.\r\n" },         /* a bare CR is a byte */
        { 5, "abcd\r\r\n", "abcd\r\r\n.\r\n" },
        { 5, "abcdefg\nhijklmn\r\n", "abcde\r\n fg\nhijkl\r\n mn\r\n.\r\n" },
        { 5, "abcdef", "abcde\r\n f\r\n.\r\n" },               /* no last line end */
        { 5, "abcde\r", "abcde\r\n \r\r\n.\r\n" },
        { 5, "Subject: 12345\r\n\r\nx\r\n", "Subje\r\n ct: \r\n 1234\r\n 5\r\n\r\nx\r\n.\r\n" },
        { 1, "abc\r\n", "ab\r\n c\r\n.\r\n" },                 /* 1 acts as 2 */
        { 2, "abcd\r\n", "ab\r\n c\r\n d\r\n.\r\n" },
        { 0, "abcdefghijklmnopqrstuvwxyz\r\n", "abcdefghijklmnopqrstuvwxyz\r\n.\r\n" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        body_check(v[i].limit, v[i].in, v[i].want);

    /* a 5,000-byte line at the default 998: 998, then 997 per line after
     * the SPACE; removing every CR LF SPACE gives the line back */
    char *line = malloc(5003);
    assert_non_null(line);
    for (size_t i = 0; i < 5000; i++)
        line[i] = (char)('a' + i % 26);
    memcpy(line + 5000, "\r\n", 3);
    static const size_t pieces[] = {5002, 64, 997, 998, 999, 1};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        size_t len;
        unsigned long breaks;
        char *got = body_run(998, line, 5002, pieces[k], pieces[k], &len, &breaks);
        assert_int_equal(breaks, 5);
        size_t start = 0, nlines = 0, maxlen = 0;
        for (size_t i = 0; i + 1 < len; i++)
            if (got[i] == '\r' && got[i + 1] == '\n') {
                size_t l = i - start;
                if (l > maxlen)
                    maxlen = l;
                nlines++;
                start = i + 2;
            }
        assert_int_equal(nlines, 7);                /* 6 pieces and the dot */
        assert_int_equal(maxlen, 998);
        assert_memory_equal(got, line, 998);
        assert_memory_equal(got + 998, "\r\n ", 3);
        char *back = malloc(len);
        assert_non_null(back);
        size_t bl = 0;
        for (size_t i = 0; i < len; i++) {
            if (i + 2 < len && memcmp(got + i, "\r\n ", 3) == 0) {
                i += 2;
                continue;
            }
            back[bl++] = got[i];
        }
        assert_int_equal(bl, 5002 + 3);
        assert_memory_equal(back, line, 5002);
        assert_memory_equal(back + 5002, ".\r\n", 3);
        free(back);
        free(got);
    }
    free(line);

    /* the bound holds for the worst input of a small limit */
    char in[300];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = i % 3 == 0 ? '.' : 'x';
    size_t len;
    char *got = body_run(2, in, sizeof in, 7, 7, &len, NULL);
    free(got);
}

static void test_misc(void **state)
{
    (void)state;
    struct sockaddr_in s4 = { 0 };
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.3.4.5", &s4.sin_addr);
    assert_int_equal(smtp_addr_is_loopback((struct sockaddr *)&s4), 1);
    inet_pton(AF_INET, "10.0.0.1", &s4.sin_addr);
    assert_int_equal(smtp_addr_is_loopback((struct sockaddr *)&s4), 0);
    struct sockaddr_in6 s6 = { 0 };
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    assert_int_equal(smtp_addr_is_loopback((struct sockaddr *)&s6), 1);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    assert_int_equal(smtp_addr_is_loopback((struct sockaddr *)&s6), 1);
    inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
    assert_int_equal(smtp_addr_is_loopback((struct sockaddr *)&s6), 0);

    assert_int_equal(smtp_tls_level_parse("none"), SMTP_TLS_NONE);
    assert_int_equal(smtp_tls_level_parse("may"), SMTP_TLS_MAY);
    assert_int_equal(smtp_tls_level_parse("Encrypt"), SMTP_TLS_ENCRYPT);
    assert_int_equal(smtp_tls_level_parse("verify"), SMTP_TLS_VERIFY);
    assert_int_equal(smtp_tls_level_parse("secure"), SMTP_TLS_SECURE);
    assert_int_equal(smtp_tls_level_parse("dane"), -1);
    assert_int_equal(smtp_tls_level_parse(""), -1);
}

static void test_tls_ctx(void **state)
{
    (void)state;
    char err[512];
    struct ssl_ctx_st *ctx = smtp_tls_ctx_new("", 0, err, sizeof err);
    assert_non_null(ctx);
    struct ssl_st *ssl = smtp_tls_ssl_new(ctx, SMTP_TLS_VERIFY, "smtp.example.com",
                                          "smtp.example.com", err, sizeof err);
    assert_non_null(ssl);
    char why[256];
    smtp_tls_failure_reason(ssl, 0, why, sizeof why);
    assert_string_equal(why, "TLS handshake failed: connection closed by the server");
    SSL_free(ssl);
    ssl = smtp_tls_ssl_new(ctx, SMTP_TLS_SECURE, "127.0.0.1", "127.0.0.1", err, sizeof err);
    assert_non_null(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ctx = smtp_tls_ctx_new("/nonexistent/ca.pem", 1, err, sizeof err);
    assert_null(ctx);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_single),
        cmocka_unit_test(test_reply_multi),
        cmocka_unit_test(test_reply_errors),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_ehlo),
        cmocka_unit_test(test_nexthop),
        cmocka_unit_test(test_sasl_keys),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_dot_stuff),
        cmocka_unit_test(test_line_length_limit),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_tls_ctx),
    };
    return cmocka_run_group_tests_name("smtp_client", tests, NULL, NULL);
}

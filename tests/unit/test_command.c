/* Unit tests for the SMTP command-line parser. Lines are parsed from
 * exact-size heap copies (no CRLF, no NUL) so ASan catches over-reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"

struct vec {
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    int tx;                     /* tx_smtputf8 */
    enum cmd_status st;
    enum smtp_verb verb;
    const char *arg;            /* checked when st == CMD_OK */
    const char *full;           /* MAIL/RCPT address, checked when CMD_OK */
    enum addr_status ast;       /* checked when st == CMD_ERR_ADDRESS */
    int has_size;               /* 0: expect size == -1 */
    long long size;
    enum body_type body;
    int utf8;                   /* smtputf8 */
    int is_null;
};

#define OKV(in, verb, arg)      { in, 0, 0, CMD_OK, verb, arg, NULL, ADDR_OK, 0, 0, BODY_NONE, 0, 0 }
#define ERR(in, st, verb)       { in, 0, 0, st, verb, NULL, NULL, ADDR_OK, 0, 0, BODY_NONE, 0, 0 }
#define AERR(in, tx, verb, ast) { in, 0, tx, CMD_ERR_ADDRESS, verb, NULL, NULL, ast, 0, 0, BODY_NONE, 0, 0 }
#define MAIL(in, full)          { in, 0, 0, CMD_OK, CMD_MAIL, "", full, ADDR_OK, 0, 0, BODY_NONE, 0, 0 }
#define RCPT(in, tx, full)      { in, 0, tx, CMD_OK, CMD_RCPT, "", full, ADDR_OK, 0, 0, BODY_NONE, 0, 0 }

static const struct vec vecs[] = {
    /* --- HELO / EHLO -------------------------------------------------- */
    OKV("HELO client.example", CMD_HELO, "client.example"),
    OKV("helo client.example", CMD_HELO, "client.example"),
    OKV("EHLO client.example", CMD_EHLO, "client.example"),
    OKV("ehlo [192.0.2.1]", CMD_EHLO, "[192.0.2.1]"),
    OKV("EhLo   spaced.example   ", CMD_EHLO, "spaced.example"),
    OKV("EHLO foo bar", CMD_EHLO, "foo bar"),
    OKV("EHLO not_a_valid-domain!", CMD_EHLO, "not_a_valid-domain!"),
    OKV("EHLO \xC3\xA9.example", CMD_EHLO, "\xC3\xA9.example"),
    ERR("EHLO", CMD_ERR_SYNTAX, CMD_EHLO),
    ERR("EHLO    ", CMD_ERR_SYNTAX, CMD_EHLO),
    ERR("HELO", CMD_ERR_SYNTAX, CMD_HELO),

    /* --- MAIL --------------------------------------------------------- */
    MAIL("MAIL FROM:<a@b.example>", "a@b.example"),
    MAIL("mail from:<a@b.example>", "a@b.example"),
    MAIL("Mail From:<a@b.example>", "a@b.example"),
    MAIL("MAIL FROM: <a@b.example>", "a@b.example"),
    MAIL("MAIL   FROM:<a@b.example>", "a@b.example"),
    MAIL("MAIL FROM:<a@b.example>   ", "a@b.example"),
    MAIL("MAIL FROM:<@r.example,@s.example:a@b.example>", "a@b.example"),
    MAIL("MAIL FROM:<\"x y\"@[192.0.2.1]>", "\"x y\"@[192.0.2.1]"),
    { "MAIL FROM:<>", 0, 0, CMD_OK, CMD_MAIL, "", "", ADDR_OK, 0, 0, BODY_NONE, 0, 1 },
    { "MAIL FROM:<> SIZE=0", 0, 0, CMD_OK, CMD_MAIL, "", "", ADDR_OK, 1, 0, BODY_NONE, 0, 1 },
    { "MAIL FROM:<a@b.example> SIZE=12345", 0, 0, CMD_OK, CMD_MAIL, "", "a@b.example",
      ADDR_OK, 1, 12345, BODY_NONE, 0, 0 },
    { "MAIL FROM:<a@b.example>  size=007", 0, 0, CMD_OK, CMD_MAIL, "", "a@b.example",
      ADDR_OK, 1, 7, BODY_NONE, 0, 0 },
    { "MAIL FROM:<a@b.example> SIZE=9223372036854775807", 0, 0, CMD_OK, CMD_MAIL, "",
      "a@b.example", ADDR_OK, 1, LLONG_MAX, BODY_NONE, 0, 0 },
    { "MAIL FROM:<a@b.example> BODY=8BITMIME", 0, 0, CMD_OK, CMD_MAIL, "", "a@b.example",
      ADDR_OK, 0, 0, BODY_8BITMIME, 0, 0 },
    { "MAIL FROM:<a@b.example> body=7bit", 0, 0, CMD_OK, CMD_MAIL, "", "a@b.example",
      ADDR_OK, 0, 0, BODY_7BIT, 0, 0 },
    { "MAIL FROM:<a@b.example> SMTPUTF8", 0, 0, CMD_OK, CMD_MAIL, "", "a@b.example",
      ADDR_OK, 0, 0, BODY_NONE, 1, 0 },
    { "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8", 0, 0, CMD_OK, CMD_MAIL,
      "", "a@b.example", ADDR_OK, 1, 100, BODY_8BITMIME, 1, 0 },
    { "MAIL FROM:<a@b.example> smtputf8 body=8bitmime size=5", 0, 0, CMD_OK, CMD_MAIL,
      "", "a@b.example", ADDR_OK, 1, 5, BODY_8BITMIME, 1, 0 },
    { "MAIL FROM:<> BODY=7BIT SMTPUTF8", 0, 0, CMD_OK, CMD_MAIL, "", "",
      ADDR_OK, 0, 0, BODY_7BIT, 1, 1 },
    /* UTF-8 reverse path needs SMTPUTF8 on the same MAIL */
    { "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8", 0, 0, CMD_OK, CMD_MAIL, "",
      "δοκιμή@παράδειγμα.δοκιμή", ADDR_OK, 0, 0, BODY_NONE, 1, 0 },
    { "MAIL FROM:<用户@例子.测试> SMTPUTF8", 0, 1, CMD_OK, CMD_MAIL, "",
      "用户@例子.测试", ADDR_OK, 0, 0, BODY_NONE, 1, 0 },
    AERR("MAIL FROM:<用户@例子.测试>", 0, CMD_MAIL, ADDR_ERR_UTF8),
    AERR("MAIL FROM:<用户@例子.测试>", 1, CMD_MAIL, ADDR_ERR_UTF8),
    AERR("MAIL FROM:<a@例子.测试> BODY=8BITMIME", 0, CMD_MAIL, ADDR_ERR_UTF8),
    AERR("MAIL FROM:<\xC0\x80@x.org> SMTPUTF8", 0, CMD_MAIL, ADDR_ERR_UTF8),
    AERR("MAIL FROM:<\xED\xA0\x80@x.org> SMTPUTF8", 0, CMD_MAIL, ADDR_ERR_UTF8),
    /* AUTH= is tolerated and ignored */
    MAIL("MAIL FROM:<a@b.example> AUTH=<>", "a@b.example"),
    MAIL("MAIL FROM:<a@b.example> AUTH=a+40b.example", "a@b.example"),
    ERR("MAIL FROM:<a@b.example> AUTH", CMD_ERR_SYNTAX, CMD_MAIL),
    /* bad SIZE / BODY / SMTPUTF8 */
    ERR("MAIL FROM:<a@b.example> SIZE=9223372036854775808", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=99999999999999999999999", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=12a", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=-1", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=+1", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=1=2", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> BODY=BINARYMIME", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> BODY=", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> BODY", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> BODY=7BIT BODY=7BIT", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SMTPUTF8=yes", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", CMD_ERR_SYNTAX, CMD_MAIL),
    /* malformed parameters are syntax errors, unknown ones 555 */
    ERR("MAIL FROM:<a@b.example>SIZE=1", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> =x", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> -X=1", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> X_Y=1", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> RET=FULL", CMD_ERR_PARAM, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> ENVID=QQ314159", CMD_ERR_PARAM, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> FOO", CMD_ERR_PARAM, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=10 X-FOO=bar", CMD_ERR_PARAM, CMD_MAIL),
    ERR("MAIL FROM:<a@b.example> SIZE=10 SIZEX=1", CMD_ERR_PARAM, CMD_MAIL),
    /* FROM: missing or mangled */
    ERR("MAIL", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM:", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM: ", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM <a@b.example>", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FROM :<a@b.example>", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL <a@b.example>", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL TO:<a@b.example>", CMD_ERR_SYNTAX, CMD_MAIL),
    ERR("MAIL FRO:<a@b.example>", CMD_ERR_SYNTAX, CMD_MAIL),
    /* address errors */
    AERR("MAIL FROM:a@b.example", 0, CMD_MAIL, ADDR_ERR_SYNTAX),
    AERR("MAIL FROM:  <a@b.example>", 0, CMD_MAIL, ADDR_ERR_SYNTAX),
    AERR("MAIL FROM:<a@b.example", 0, CMD_MAIL, ADDR_ERR_SYNTAX),
    AERR("MAIL FROM:<a@b.example.>", 0, CMD_MAIL, ADDR_ERR_SYNTAX),
    AERR("MAIL FROM:<a@[300.1.1.1]>", 0, CMD_MAIL, ADDR_ERR_SYNTAX),
    AERR("MAIL FROM:<Postmaster>", 0, CMD_MAIL, ADDR_ERR_SYNTAX),

    /* --- RCPT --------------------------------------------------------- */
    RCPT("RCPT TO:<a@b.example>", 0, "a@b.example"),
    RCPT("rcpt to:<a@b.example>", 0, "a@b.example"),
    RCPT("RCPT TO: <a@b.example>", 0, "a@b.example"),
    RCPT("RCPT TO:<a@b.example>  ", 0, "a@b.example"),
    RCPT("RCPT TO:<@r.example:a@b.example>", 0, "a@b.example"),
    RCPT("RCPT TO:<a@[IPv6:2001:db8::1]>", 0, "a@[IPv6:2001:db8::1]"),
    RCPT("RCPT TO:<postmaster@b.example>", 0, "postmaster@b.example"),
    RCPT("RCPT TO:<Postmaster>", 0, "Postmaster"),
    RCPT("RCPT TO:<POSTMASTER>", 0, "Postmaster"),
    RCPT("rcpt to: <postmaster>", 0, "Postmaster"),
    RCPT("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>", 1, "δοκιμή@παράδειγμα.δοκιμή"),
    AERR("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>", 0, CMD_RCPT, ADDR_ERR_UTF8),
    AERR("RCPT TO:<\xC0\x80@x.org>", 1, CMD_RCPT, ADDR_ERR_UTF8),
    AERR("RCPT TO:<>", 0, CMD_RCPT, ADDR_ERR_NULL),
    AERR("RCPT TO:<>", 1, CMD_RCPT, ADDR_ERR_NULL),
    AERR("RCPT TO:a@b.example", 0, CMD_RCPT, ADDR_ERR_SYNTAX),
    AERR("RCPT TO:<Postmaster@>", 0, CMD_RCPT, ADDR_ERR_SYNTAX),
    AERR("RCPT TO:<Postmaste>", 0, CMD_RCPT, ADDR_ERR_SYNTAX),
    AERR("RCPT TO:<a@[IPv6:zz]>", 0, CMD_RCPT, ADDR_ERR_SYNTAX),
    AERR("RCPT TO:<a..b@x.org>", 0, CMD_RCPT, ADDR_ERR_SYNTAX),
    ERR("RCPT TO:<Postmaster>x", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT TO:<a@b.example>x", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT TO:<a@b.example> NOTIFY=NEVER", CMD_ERR_PARAM, CMD_RCPT),
    ERR("RCPT TO:<a@b.example> ORCPT=rfc822;a@b.example", CMD_ERR_PARAM, CMD_RCPT),
    ERR("RCPT TO:<a@b.example> SMTPUTF8", CMD_ERR_PARAM, CMD_RCPT),
    ERR("RCPT TO:<a@b.example> SIZE=1", CMD_ERR_PARAM, CMD_RCPT),
    ERR("RCPT TO:<Postmaster> NOTIFY=NEVER", CMD_ERR_PARAM, CMD_RCPT),
    ERR("RCPT TO:<a@b.example> =x", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT TO:", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT TO", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT FROM:<a@b.example>", CMD_ERR_SYNTAX, CMD_RCPT),
    ERR("RCPT <a@b.example>", CMD_ERR_SYNTAX, CMD_RCPT),

    /* --- no-argument verbs --------------------------------------------- */
    OKV("DATA", CMD_DATA, ""),
    OKV("data", CMD_DATA, ""),
    OKV("DATA ", CMD_DATA, ""),
    ERR("DATA x", CMD_ERR_SYNTAX, CMD_DATA),
    OKV("RSET", CMD_RSET, ""),
    ERR("RSET now", CMD_ERR_SYNTAX, CMD_RSET),
    OKV("QUIT", CMD_QUIT, ""),
    OKV("quit", CMD_QUIT, ""),
    ERR("QUIT bye", CMD_ERR_SYNTAX, CMD_QUIT),
    OKV("STARTTLS", CMD_STARTTLS, ""),
    OKV("StartTLS", CMD_STARTTLS, ""),
    ERR("STARTTLS x", CMD_ERR_SYNTAX, CMD_STARTTLS),

    /* --- optional / required arguments ---------------------------------- */
    OKV("NOOP", CMD_NOOP, ""),
    OKV("NOOP hello  there ", CMD_NOOP, "hello  there"),
    OKV("HELP", CMD_HELP, ""),
    OKV("help MAIL", CMD_HELP, "MAIL"),
    OKV("VRFY user", CMD_VRFY, "user"),
    OKV("VRFY <user@b.example>", CMD_VRFY, "<user@b.example>"),
    ERR("VRFY", CMD_ERR_SYNTAX, CMD_VRFY),
    OKV("EXPN list", CMD_EXPN, "list"),
    ERR("EXPN ", CMD_ERR_SYNTAX, CMD_EXPN),
    OKV("AUTH PLAIN AGFsaWNlAHNlY3JldA==", CMD_AUTH, "PLAIN AGFsaWNlAHNlY3JldA=="),
    OKV("auth login", CMD_AUTH, "login"),
    ERR("AUTH", CMD_ERR_SYNTAX, CMD_AUTH),
    OKV("BDAT 100 LAST", CMD_BDAT, "100 LAST"),
    OKV("BDAT", CMD_BDAT, ""),

    /* --- unknown ------------------------------------------------------ */
    ERR("", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR(" ", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("FOO bar", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR(" HELO x", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("HELOx", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("HEL", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("MAILFROM:<a@b.example>", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("MAIL:FROM:<a@b.example>", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("STARTTL", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("STARTTLSX", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("GET / HTTP/1.1", CMD_ERR_UNKNOWN, CMD_UNKNOWN),
    ERR("\xC3\x89HLO x", CMD_ERR_UNKNOWN, CMD_UNKNOWN),

    /* --- control bytes -------------------------------------------------- */
    { "DATA\0", 5, 0, CMD_ERR_NUL, CMD_UNKNOWN, NULL, NULL, ADDR_OK, 0, 0, BODY_NONE, 0, 0 },
    { "\0", 1, 0, CMD_ERR_NUL, CMD_UNKNOWN, NULL, NULL, ADDR_OK, 0, 0, BODY_NONE, 0, 0 },
    { "RCPT TO:<a\0@b.example>", 22, 0, CMD_ERR_NUL, CMD_UNKNOWN, NULL, NULL, ADDR_OK,
      0, 0, BODY_NONE, 0, 0 },
    ERR("HELO a\tb", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("HELO\tx", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("MAIL FROM:<a@b.example>\r", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("QUIT\n", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("NOOP \x1b[31m", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("\x7f", CMD_ERR_NUL, CMD_UNKNOWN),
    ERR("FOO \x01", CMD_ERR_NUL, CMD_UNKNOWN),
};

static enum cmd_status parse_exact(const char *s, size_t len, unsigned tx,
                                   struct smtp_command *c)
{
    char *buf = malloc(len ? len : 1);
    enum cmd_status st;

    assert_non_null(buf);
    memcpy(buf, s, len);
    st = command_parse(buf, len, tx, c);
    free(buf);
    return st;
}

static void test_vectors(void **state)
{
    size_t k;
    (void)state;

    for (k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const struct vec *v = &vecs[k];
        size_t len = v->len ? v->len : strlen(v->in);
        struct smtp_command c;
        enum cmd_status st;

        memset(&c, 0x55, sizeof c);
        st = parse_exact(v->in, len, v->tx, &c);
        if (st != v->st || c.verb != v->verb)
            fail_msg("vector %zu \"%s\": status %d verb %d, expected %d verb %d",
                     k, v->in, st, c.verb, v->st, v->verb);
        if (st == CMD_ERR_ADDRESS && c.addr_status != v->ast)
            fail_msg("vector %zu \"%s\": addr_status %d, expected %d",
                     k, v->in, c.addr_status, v->ast);
        if (st != CMD_OK)
            continue;
        assert_int_equal(c.addr_status, ADDR_OK);
        if (v->arg && strcmp(c.arg, v->arg) != 0)
            fail_msg("vector %zu \"%s\": arg \"%s\"", k, v->in, c.arg);
        if (v->full && strcmp(c.addr.full, v->full) != 0)
            fail_msg("vector %zu \"%s\": full \"%s\"", k, v->in, c.addr.full);
        if (c.size != (v->has_size ? v->size : -1) || c.body != v->body ||
            c.smtputf8 != v->utf8 || c.addr.is_null != v->is_null)
            fail_msg("vector %zu \"%s\": size %lld body %d smtputf8 %d null %d",
                     k, v->in, c.size, c.body, c.smtputf8, c.addr.is_null);
    }
}

static void test_postmaster_fields(void **state)
{
    struct smtp_command c;
    (void)state;

    assert_int_equal(parse_exact("RCPT TO:<postMASTER>", 20, 0, &c), CMD_OK);
    assert_string_equal(c.addr.local, "Postmaster");
    assert_string_equal(c.addr.domain, "");
    assert_string_equal(c.addr.full, "Postmaster");
    assert_int_equal(c.addr.is_null, 0);
    assert_int_equal(c.addr.has_utf8, 0);
    assert_int_equal(c.addr.domain_is_literal, 0);
}

static void test_mail_fields(void **state)
{
    struct smtp_command c;
    const char *l = "MAIL FROM:<\"j d\"@[192.0.2.1]> SIZE=42";
    (void)state;

    assert_int_equal(parse_exact(l, strlen(l), 0, &c), CMD_OK);
    assert_int_equal(c.verb, CMD_MAIL);
    assert_string_equal(c.addr.local, "\"j d\"");
    assert_string_equal(c.addr.domain, "[192.0.2.1]");
    assert_int_equal(c.addr.domain_is_literal, 1);
    assert_int_equal(c.size, 42);
    assert_int_equal(c.body, BODY_NONE);

    /* strict_rfc821_envelopes = no: a path without <> */
    l = "MAIL FROM:a@b.example SIZE=10";
    assert_int_equal(parse_exact(l, strlen(l), 0, &c), CMD_ERR_ADDRESS);
    assert_int_equal(parse_exact(l, strlen(l), CMD_PARSE_NOBRACKET, &c), CMD_OK);
    assert_string_equal(c.addr.full, "a@b.example");
    assert_int_equal(c.size, 10);
    l = "RCPT TO:u@c.example";
    assert_int_equal(parse_exact(l, strlen(l), 0, &c), CMD_ERR_ADDRESS);
    assert_int_equal(parse_exact(l, strlen(l), CMD_PARSE_NOBRACKET, &c), CMD_OK);
    assert_string_equal(c.addr.full, "u@c.example");

    l = "MAIL FROM:<ü@x.org> SMTPUTF8";
    assert_int_equal(parse_exact(l, strlen(l), 0, &c), CMD_OK);
    assert_int_equal(c.addr.has_utf8, 1);
    assert_int_equal(c.smtputf8, 1);
}

/* Build "<prefix><n x fill><suffix>" and parse it. */
static enum cmd_status parse_built(const char *pre, char fill, size_t n,
                                   const char *post, struct smtp_command *c)
{
    char buf[2048];
    size_t pl = strlen(pre), sl = strlen(post);

    assert_true(pl + n + sl <= sizeof buf);
    memcpy(buf, pre, pl);
    memset(buf + pl, fill, n);
    memcpy(buf + pl + n, post, sl);
    return parse_exact(buf, pl + n + sl, 0, c);
}

static void test_long_arguments(void **state)
{
    struct smtp_command c;
    (void)state;

    assert_int_equal(parse_built("HELO ", 'h', 511, "", &c), CMD_OK);
    assert_int_equal(strlen(c.arg), 511);
    assert_int_equal(parse_built("HELO ", 'h', 512, "", &c), CMD_ERR_SYNTAX);
    assert_int_equal(c.verb, CMD_HELO);
    /* trailing spaces do not count */
    assert_int_equal(parse_built("EHLO ", 'h', 511, "    ", &c), CMD_OK);
    assert_int_equal(parse_built("NOOP ", 'n', 512, "", &c), CMD_ERR_SYNTAX);
    assert_int_equal(parse_built("VRFY ", 'v', 1000, "", &c), CMD_ERR_SYNTAX);
    /* an AUTH PLAIN initial response may be longer than arg: auth_arg */
    assert_int_equal(parse_built("AUTH PLAIN ", 'A', 600, "", &c), CMD_OK);
    assert_int_equal(c.auth_len, 606);
    assert_int_equal(parse_built("AUTH PLAIN ", 'A', 500, "", &c), CMD_OK);
    assert_int_equal(strlen(c.arg), 506);
    assert_int_equal(c.auth_len, 506);

    /* local part limits through MAIL / RCPT */
    assert_int_equal(parse_built("MAIL FROM:<", 'l', 64, "@x.org>", &c), CMD_OK);
    assert_int_equal(parse_built("MAIL FROM:<", 'l', 65, "@x.org>", &c), CMD_ERR_ADDRESS);
    assert_int_equal(c.addr_status, ADDR_ERR_TOO_LONG);
    assert_int_equal(parse_built("RCPT TO:<a@", 'd', 64, ".org>", &c), CMD_ERR_ADDRESS);
    assert_int_equal(c.addr_status, ADDR_ERR_TOO_LONG);
    assert_int_equal(parse_built("RCPT TO:<a@", 'd', 63, ".org>", &c), CMD_OK);
}

/* Every verb round-trips through its name; unknown values are "UNKNOWN". */
static void test_verb_names(void **state)
{
    static const struct { enum smtp_verb v; const char *name; const char *line; } t[] = {
        { CMD_HELO, "HELO", "HELO x" },      { CMD_EHLO, "EHLO", "EHLO x" },
        { CMD_MAIL, "MAIL", "MAIL FROM:<>" }, { CMD_RCPT, "RCPT", "RCPT TO:<a@b>" },
        { CMD_DATA, "DATA", "DATA" },        { CMD_RSET, "RSET", "RSET" },
        { CMD_NOOP, "NOOP", "NOOP" },        { CMD_QUIT, "QUIT", "QUIT" },
        { CMD_HELP, "HELP", "HELP" },        { CMD_VRFY, "VRFY", "VRFY x" },
        { CMD_EXPN, "EXPN", "EXPN x" },      { CMD_STARTTLS, "STARTTLS", "STARTTLS" },
        { CMD_AUTH, "AUTH", "AUTH x" },      { CMD_BDAT, "BDAT", "BDAT 1" },
    };
    size_t k;
    (void)state;

    for (k = 0; k < sizeof t / sizeof t[0]; k++) {
        struct smtp_command c;
        assert_string_equal(command_verb_name(t[k].v), t[k].name);
        assert_int_equal(parse_exact(t[k].line, strlen(t[k].line), 0, &c), CMD_OK);
        assert_int_equal(c.verb, t[k].v);
    }
    assert_string_equal(command_verb_name(CMD_UNKNOWN), "UNKNOWN");
    assert_string_equal(command_verb_name((enum smtp_verb)77), "UNKNOWN");
}

/* Prefixes of every vector: no over-read, and a verb is never reported for
 * a line that does not start with the complete verb. */
static void test_prefixes(void **state)
{
    size_t k, n;
    (void)state;

    for (k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const struct vec *v = &vecs[k];
        size_t len = v->len ? v->len : strlen(v->in);
        for (n = 0; n < len; n++) {
            struct smtp_command c;
            enum cmd_status st = parse_exact(v->in, n, 0, &c);
            if (st == CMD_OK)
                assert_int_not_equal(c.verb, CMD_UNKNOWN);
            assert_true(strlen(c.arg) < sizeof c.arg);
        }
    }
}

/* -v trace redaction: one session's lines in order, with its memory. */
static void test_trace_redact(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum trace_redact want;
    } seq[] = {
        { "EHLO client.example", TRACE_SHOW },
        { "dXNlcg==", TRACE_SHOW },                /* no AUTH yet: unknown command */
        { "AUTH PLAIN AHVzZXIAc2VjcmV0", TRACE_AUTH },
        { "MAIL FROM:<a@b>", TRACE_SHOW },
        { "auth plain AHVzZXIAc2VjcmV0", TRACE_AUTH },
        { "AUTH\tPLAIN AHVzZXIAc2VjcmV0", TRACE_AUTH },
        { "  AUTH PLAIN AHVzZXIAc2VjcmV0", TRACE_AUTH },
        { "AuTh", TRACE_AUTH },
        { "rset", TRACE_SHOW },
        /* AUTH LOGIN pipelined: user name and password lines follow */
        { "AUTH LOGIN", TRACE_AUTH },
        { "dXNlckBleGFtcGxlLmNvbQ==", TRACE_SECRET },
        { "c2VjcmV0LXBhc3N3b3Jk", TRACE_SECRET },
        { "", TRACE_SECRET },
        { "*", TRACE_SECRET },
        { "NOOP", TRACE_SHOW },
        { "c2VjcmV0LXBhc3N3b3Jk", TRACE_SHOW },    /* the AUTH exchange is over */
        /* an empty initial response, then PLAIN's response */
        { "AUTH PLAIN", TRACE_AUTH },
        { "AHVzZXIAc2VjcmV0", TRACE_SECRET },
        { "\tquit", TRACE_SHOW },
    };
    int after = 0;
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        enum trace_redact got = command_trace_redact(seq[i].line, strlen(seq[i].line), &after);
        if (got != seq[i].want)
            fail_msg("line %zu \"%s\": %d, want %d", i, seq[i].line, (int)got,
                     (int)seq[i].want);
    }
    after = 0;
    assert_int_equal(command_trace_redact(NULL, 5, &after), TRACE_SHOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_postmaster_fields),
        cmocka_unit_test(test_mail_fields),
        cmocka_unit_test(test_long_arguments),
        cmocka_unit_test(test_verb_names),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_trace_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Table-driven tests of the SMTP client's reply handling
 * (deliver/smtp_reply.c): multi-line replies, enhanced status codes, the
 * per-recipient result and DSN of a reply, malformed and oversized replies,
 * the one-line form used in logs and bounces, and EHLO keywords.
 *
 * Every reply vector is run through both entry points -- smtp_reply_parse
 * on the whole buffer and smtp_reply_feed line by line, as the session
 * does (smtp_session.c, lines split at LF with a CR before it removed) --
 * and both must give the same result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/smtp_internal.h"

/* ------------------------------------------------------------ replies */

struct reply_vector {
    const char *name;
    const char *in;          /* bytes on the wire (C string) */
    int rc;                  /* smtp_reply_parse: 1, 0 (incomplete), -1 */
    size_t used;             /* for rc 1: bytes consumed */
    int code;                /* for rc 1 */
    const char *dsn;         /* for rc 1: enhanced code kept, "" if none */
    size_t nlines;           /* for rc 1 */
    const char *text;        /* for rc 1: lines joined with '\n' */
    const char *oneline;     /* for rc 1: smtp_reply_oneline, 512 bytes */
};

static const struct reply_vector reply_vectors[] = {
    /* single line */
    { "enhanced code", "250 2.1.0 Ok\r\n", 1, 14, 250, "2.1.0", 1, "250 2.1.0 Ok",
      "250 2.1.0 Ok" },
    { "bare code", "220\r\n", 1, 5, 220, "", 1, "220", "220" },
    { "bare LF line end", "354 go ahead\n", 1, 13, 354, "", 1, "354 go ahead",
      "354 go ahead" },
    { "bytes after the reply are left", "250 Ok\r\n250 next\r\n", 1, 8, 250, "", 1,
      "250 Ok", "250 Ok" },
    { "no enhanced code", "550 Mailbox unavailable\r\n", 1, 25, 550, "", 1,
      "550 Mailbox unavailable", "550 Mailbox unavailable" },
    { "enhanced code alone", "250 2.0.0\r\n", 1, 11, 250, "2.0.0", 1, "250 2.0.0",
      "250 2.0.0" },
    { "enhanced code, 3-digit parts", "554 5.123.456 x\r\n", 1, 17, 554, "5.123.456", 1,
      "554 5.123.456 x", "554 5.123.456 x" },
    { "enhanced code of another class ignored", "550 4.1.1 odd\r\n", 1, 15, 550, "", 1,
      "550 4.1.1 odd", "550 4.1.1 odd" },
    { "enhanced code with a 4-digit part ignored", "451 4.7.1234 x\r\n", 1, 16, 451, "",
      1, "451 4.7.1234 x", "451 4.7.1234 x" },
    { "enhanced code glued to text ignored", "550 5.7.1x no\r\n", 1, 15, 550, "", 1,
      "550 5.7.1x no", "550 5.7.1x no" },
    { "enhanced code then TAB ignored", "550 5.7.1\tno\r\n", 1, 14, 550, "", 1,
      "550 5.7.1\tno", "550 5.7.1?no" },
    { "enhanced code class 3 ignored", "354 3.0.0 go\r\n", 1, 14, 354, "", 1,
      "354 3.0.0 go", "354 3.0.0 go" },
    { "empty detail ignored", "550 5.1. x\r\n", 1, 12, 550, "", 1, "550 5.1. x",
      "550 5.1. x" },
    { "control bytes are '?' in one line", "550 a\x1b[2Jb\x7f\r\n", 1, 13, 550, "", 1,
      "550 a\x1b[2Jb\x7f", "550 a?[2Jb?" },
    /* multi-line */
    { "three lines", "550-5.7.1 first line\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n", 1,
      56, 550, "5.7.1", 3, "550-5.7.1 first line\n550-5.7.1 second\n550 5.7.1 last",
      "550-5.7.1 first line 550-5.7.1 second 550 5.7.1 last" },
    { "enhanced code of the first line only", "451-busy\r\n451 4.3.0 later\r\n", 1, 27,
      451, "", 2, "451-busy\n451 4.3.0 later", "451-busy 451 4.3.0 later" },
    { "bare code ends a multi-line reply", "250-mx.example\r\n250-PIPELINING\r\n250\r\n",
      1, 37, 250, "", 3, "250-mx.example\n250-PIPELINING\n250",
      "250-mx.example 250-PIPELINING 250" },
    { "mixed line ends", "250-a\n250-b\r\n250 c\n", 1, 19, 250, "", 3, "250-a\n250-b\n250 c",
      "250-a 250-b 250 c" },
    /* incomplete: more bytes needed */
    { "empty", "", 0, 0, 0, NULL, 0, NULL, NULL },
    { "no line end yet", "250 Ok", 0, 0, 0, NULL, 0, NULL, NULL },
    { "last line not there yet", "250-first\r\n250 la", 0, 0, 0, NULL, 0, NULL, NULL },
    { "continuation lines only", "250-a\r\n250-b\r\n", 0, 0, 0, NULL, 0, NULL, NULL },
    /* malformed: protocol errors */
    { "letters", "abc\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "two digits", "25\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "empty line", "\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "1xx", "199 x\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "6xx", "600 x\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "second digit not a digit", "2x0 x\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "no separator", "250Ok\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "bad separator", "250_Ok\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "code changes between lines", "250-a\r\n251 b\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "class changes between lines", "250-a\r\n550 b\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
    { "leading space", " 250 Ok\r\n", -1, 0, 0, NULL, 0, NULL, NULL },
};

/* Feed in's lines as the session does; returns the last rc. */
static int feed_lines(struct smtp_reply *r, const char *in, size_t len, size_t *used)
{
    size_t off = 0;
    int rc = 0;
    *used = 0;
    while (off < len) {
        const char *nl = memchr(in + off, '\n', len - off);
        if (!nl)
            return 0;
        size_t n = (size_t)(nl - (in + off));
        size_t ll = n > 0 && in[off + n - 1] == '\r' ? n - 1 : n;
        rc = smtp_reply_feed(r, in + off, ll);
        off += n + 1;
        if (rc != 0) {
            *used = off;
            return rc;
        }
    }
    return rc;
}

static void check_reply(const struct reply_vector *v, const struct smtp_reply *r, int rc,
                        size_t used, const char *how)
{
    if (rc != v->rc)
        fail_msg("%s (%s): rc %d, expected %d", v->name, how, rc, v->rc);
    if (rc != 1)
        return;
    if (used != v->used)
        fail_msg("%s (%s): used %zu, expected %zu", v->name, how, used, v->used);
    assert_int_equal(r->code, v->code);
    assert_string_equal(r->dsn, v->dsn);
    assert_int_equal(r->nlines, v->nlines);
    assert_int_equal(r->complete, 1);
    assert_string_equal(r->text, v->text);
    assert_int_equal(r->len, strlen(v->text));
    char one[512];
    assert_ptr_equal(smtp_reply_oneline(r, one, sizeof one), one);
    assert_string_equal(one, v->oneline);
}

static void test_reply_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof reply_vectors / sizeof reply_vectors[0]; i++) {
        const struct reply_vector *v = &reply_vectors[i];
        size_t len = strlen(v->in), used;
        struct smtp_reply r = { 0 };
        int rc = smtp_reply_parse(&r, v->in, len, &used);
        check_reply(v, &r, rc, used, "parse");
        smtp_reply_free(&r);

        struct smtp_reply f = { 0 };
        rc = feed_lines(&f, v->in, len, &used);
        check_reply(v, &f, rc, used, "feed");
        smtp_reply_free(&f);
    }
}

/* A reply object is reused for the next reply once complete. */
static void test_reply_reuse(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    size_t used;
    const char *two = "250-mx.example\r\n250 PIPELINING\r\n550 5.1.1 no\r\n";
    assert_int_equal(smtp_reply_parse(&r, two, strlen(two), &used), 1);
    assert_int_equal(r.nlines, 2);
    assert_int_equal(smtp_reply_parse(&r, two + used, strlen(two + used), &used), 1);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.dsn, "5.1.1");
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.text, "550 5.1.1 no");
    /* feeding after completion starts over too */
    assert_int_equal(smtp_reply_feed(&r, "221 Bye", 7), 1);
    assert_int_equal(r.code, 221);
    assert_string_equal(r.dsn, "");
    assert_string_equal(r.text, "221 Bye");
    smtp_reply_free(&r);
}

/* Bounds: the line length and the line count. */
static void test_reply_limits(void **state)
{
    (void)state;
    enum { BIG = SMTP_REPLY_LINE_MAX + 16 };
    static char buf[BIG + 3];
    struct smtp_reply r = { 0 };
    size_t used;
    struct {
        const char *name;
        size_t linelen;      /* bytes before CRLF */
        int crlf;            /* the line end has arrived */
        int rc;
    } v[] = {
        { "longest line", SMTP_REPLY_LINE_MAX, 1, 1 },
        { "one byte too long", SMTP_REPLY_LINE_MAX + 1, 1, -1 },
        { "longest line, end not there yet", SMTP_REPLY_LINE_MAX, 0, 0 },
        /* the end may still come: a line this long cannot be one */
        { "too long without its end", SMTP_REPLY_LINE_MAX + 2, 0, -1 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        memset(buf, 'x', v[i].linelen);
        memcpy(buf, "250 ", 4);
        size_t len = v[i].linelen;
        if (v[i].crlf) {
            memcpy(buf + len, "\r\n", 2);
            len += 2;
        }
        smtp_reply_reset(&r);
        int rc = smtp_reply_parse(&r, buf, len, &used);
        if (rc != v[i].rc)
            fail_msg("%s: rc %d, expected %d", v[i].name, rc, v[i].rc);
        if (rc == 1)
            assert_int_equal(r.len, v[i].linelen);
    }
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_feed(&r, buf, SMTP_REPLY_LINE_MAX + 1), -1);

    /* SMTP_REPLY_LINES_MAX lines make a reply; one more is refused */
    smtp_reply_reset(&r);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 x", 5), 1);
    assert_int_equal(r.nlines, SMTP_REPLY_LINES_MAX);
    smtp_reply_reset(&r);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 x", 5), -1);
    smtp_reply_free(&r);
}

/* ------------------------------------------- result and DSN of a reply */

static const struct {
    const char *reply;
    enum deliver_status state;
    const char *dsn;
} result_vectors[] = {
    { "250 2.1.5 Ok\r\n", DELIVER_SENT, "2.1.5" },
    { "250 Ok\r\n", DELIVER_SENT, "2.0.0" },
    { "251 2.1.5 will forward\r\n", DELIVER_SENT, "2.1.5" },
    { "451 4.7.1 greylisted\r\n", DELIVER_DEFERRED, "4.7.1" },
    { "451 try later\r\n", DELIVER_DEFERRED, "4.0.0" },
    { "421-4.4.2 closing\r\n421 4.4.2 bye\r\n", DELIVER_DEFERRED, "4.4.2" },
    { "452-too many\r\n452 4.5.3 recipients\r\n", DELIVER_DEFERRED, "4.0.0" },
    { "550 5.1.1 no such user\r\n", DELIVER_BOUNCED, "5.1.1" },
    { "554 5.123.456 policy\r\n", DELIVER_BOUNCED, "5.123.456" },
    { "550 4.1.1 wrong class\r\n", DELIVER_BOUNCED, "5.0.0" },
    { "553 sorry\r\n", DELIVER_BOUNCED, "5.0.0" },
    /* an intermediate reply where a final one was due: temporary */
    { "354 3.0.0 go ahead\r\n", DELIVER_DEFERRED, "4.0.0" },
    { "334 VXNlcm5hbWU6\r\n", DELIVER_DEFERRED, "4.0.0" },
};

static void test_result_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof result_vectors / sizeof result_vectors[0]; i++) {
        struct smtp_reply r = { 0 };
        size_t used;
        const char *in = result_vectors[i].reply;
        if (smtp_reply_parse(&r, in, strlen(in), &used) != 1)
            fail_msg("%s: not parsed", in);
        char dsn[16];
        smtp_reply_dsn(&r, dsn);
        if (smtp_reply_state(r.code) != result_vectors[i].state ||
            strcmp(dsn, result_vectors[i].dsn) != 0)
            fail_msg("%s: state %d dsn %s, expected %d %s", in, smtp_reply_state(r.code), dsn,
                     result_vectors[i].state, result_vectors[i].dsn);
        smtp_reply_free(&r);
    }
}

static const struct {
    const char *text;
    size_t len;          /* 0: strlen */
    size_t n;            /* return value */
    const char *dsn;
} dsn_vectors[] = {
    { "5.7.1 x", 0, 5, "5.7.1" },
    { "2.0.0", 0, 5, "2.0.0" },
    { "4.4.2 closing", 0, 5, "4.4.2" },
    { "5.123.456 y", 0, 9, "5.123.456" },
    { "5.7.1x", 0, 0, "" },
    { "3.7.1 x", 0, 0, "" },
    { "1.0.0 x", 0, 0, "" },
    { "5..1 x", 0, 0, "" },
    { "5.1.", 0, 0, "" },
    { "5.1", 0, 0, "" },
    { "5.1234.1 x", 0, 0, "" },
    { "5.1.1234", 0, 0, "" },
    { "5-1-1 x", 0, 0, "" },
    { "", 0, 0, "" },
    { "5.7.1 x", 4, 0, "" },          /* cut short by len */
    { "5.7.12", 5, 5, "5.7.1" },      /* len ends it after the detail */
};

static void test_parse_dsn_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dsn_vectors / sizeof dsn_vectors[0]; i++) {
        char dsn[16];
        memset(dsn, 'z', sizeof dsn);
        const char *t = dsn_vectors[i].text;
        size_t len = dsn_vectors[i].len ? dsn_vectors[i].len : strlen(t);
        size_t n = smtp_parse_dsn(t, len, dsn);
        if (n != dsn_vectors[i].n || strcmp(dsn, dsn_vectors[i].dsn) != 0)
            fail_msg("\"%s\"/%zu: %zu \"%s\", expected %zu \"%s\"", t, len, n, dsn,
                     dsn_vectors[i].n, dsn_vectors[i].dsn);
    }
}

/* ------------------------------------------------ the reply on one line */

static void test_oneline_truncation(void **state)
{
    (void)state;
    struct smtp_reply r = { 0 };
    size_t used;
    const char *in = "550-5.7.1 first\r\n550 5.7.1 second\r\n";
    assert_int_equal(smtp_reply_parse(&r, in, strlen(in), &used), 1);
    static const struct {
        size_t outlen;
        const char *want;
    } v[] = {
        { 64, "550-5.7.1 first 550 5.7.1 second" },
        { 34, "550-5.7.1 first 550 5.7.1 second" },
        { 33, "550-5.7.1 first 550 5.7.1 second" },     /* exactly fits: not cut */
        { 32, "550-5.7.1 first 550 5.7.1 se..." },
        { 10, "550-5...." },
        { 5, "5..." },
        { 4, "..." },
        /* smaller than the mark: what fits of it, never past the buffer */
        { 3, ".." },
        { 2, "." },
        { 1, "" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        /* exactly outlen bytes: ASan sees a write past them */
        char *out = malloc(v[i].outlen);
        assert_non_null(out);
        memset(out, '#', v[i].outlen);
        smtp_reply_oneline(&r, out, v[i].outlen);
        if (strcmp(out, v[i].want) != 0)
            fail_msg("outlen %zu: \"%s\", expected \"%s\"", v[i].outlen, out, v[i].want);
        assert_true(strlen(out) < v[i].outlen);
        free(out);
    }
    /* outlen 0 writes nothing */
    char guard = 'g';
    smtp_reply_oneline(&r, &guard, 0);
    assert_int_equal(guard, 'g');
    smtp_reply_free(&r);
}

/* ------------------------------------------------------- EHLO keywords */

#define PIPE SMTP_EXT_PIPELINING
#define SIZE SMTP_EXT_SIZE
#define MIME8 SMTP_EXT_8BITMIME
#define UTF8 SMTP_EXT_SMTPUTF8
#define TLS SMTP_EXT_STARTTLS
#define AUTH SMTP_EXT_AUTH

static const struct {
    const char *name;
    const char *reply;
    unsigned flags;
    unsigned long long size;
    unsigned auth;
} ehlo_vectors[] = {
    { "everything", "250-smtp.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
      "250-8BITMIME\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
      "250 ENHANCEDSTATUSCODES\r\n", PIPE | SIZE | MIME8 | UTF8 | TLS | AUTH, 10240000,
      SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_OTHER },
    { "the greeting line is no keyword", "250-PIPELINING greets you\r\n250 8BITMIME\r\n",
      MIME8, 0, 0 },
    { "one line: no keywords", "250 PIPELINING\r\n", 0, 0, 0 },
    { "not a 250", "502-x\r\n502 PIPELINING\r\n", 0, 0, 0 },
    { "case-insensitive", "250-x\r\n250-pipelining\r\n250-StartTls\r\n250 auth login\r\n",
      PIPE | TLS | AUTH, 0, SMTP_AUTH_LOGIN },
    { "old AUTH= form", "250-x\r\n250-AUTH=PLAIN LOGIN\r\n250 AUTH GSSAPI\r\n", AUTH, 0,
      SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_OTHER },
    { "AUTH without mechanisms", "250-x\r\n250 AUTH\r\n", AUTH, 0, 0 },
    { "mechanisms between spaces and tabs", "250-x\r\n250 AUTH  LOGIN\tPLAIN \r\n", AUTH, 0,
      SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN },
    { "a mechanism prefix is no mechanism", "250-x\r\n250 AUTH PLAINX LOGINS\r\n", AUTH, 0,
      SMTP_AUTH_OTHER },
    { "SIZE without a limit", "250-x\r\n250 SIZE\r\n", SIZE, 0, 0 },
    { "SIZE 0", "250-x\r\n250 SIZE 0\r\n", SIZE, 0, 0 },
    { "SIZE not a number", "250-x\r\n250 SIZE abc\r\n", SIZE, 0, 0 },
    { "SIZE with trailing junk", "250-x\r\n250 SIZE 123k\r\n", SIZE, 0, 0 },
    { "SIZE and more words", "250-x\r\n250 SIZE 52428800 extra\r\n", SIZE, 52428800, 0 },
    { "SIZE of 19 digits", "250-x\r\n250 SIZE 9999999999999999999\r\n", SIZE,
      9999999999999999999ULL, 0 },
    { "SIZE of 20 digits is refused", "250-x\r\n250 SIZE 10000000000000000000\r\n", SIZE, 0,
      0 },
    { "keyword prefixes do not count", "250-x\r\n250-PIPELININGX\r\n250-SIZEX 5\r\n"
      "250 AUTHX PLAIN\r\n", 0, 0, 0 },
    { "unknown keywords ignored", "250-x\r\n250-DSN\r\n250-CHUNKING\r\n250 X-FOO bar\r\n", 0,
      0, 0 },
    { "spaces before a keyword", "250-x\r\n250-  PIPELINING\r\n250 8BITMIME\r\n",
      PIPE | MIME8, 0, 0 },
    { "short continuation lines", "250-x\r\n250-\r\n250\r\n", 0, 0, 0 },
    { "bare LF replies", "250-x\n250-SMTPUTF8\n250 STARTTLS\n", UTF8 | TLS, 0, 0 },
};

static void test_ehlo_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ehlo_vectors / sizeof ehlo_vectors[0]; i++) {
        struct smtp_reply r = { 0 };
        size_t used;
        const char *in = ehlo_vectors[i].reply;
        if (smtp_reply_parse(&r, in, strlen(in), &used) != 1)
            fail_msg("%s: reply not parsed", ehlo_vectors[i].name);
        struct smtp_ext e;
        memset(&e, 0xa5, sizeof e);
        smtp_ehlo_parse(&r, &e);
        if (e.flags != ehlo_vectors[i].flags || e.size != ehlo_vectors[i].size ||
            e.auth != ehlo_vectors[i].auth)
            fail_msg("%s: flags %#x size %llu auth %#x, expected %#x %llu %#x",
                     ehlo_vectors[i].name, e.flags, e.size, e.auth, ehlo_vectors[i].flags,
                     ehlo_vectors[i].size, ehlo_vectors[i].auth);
        smtp_reply_free(&r);
    }
    /* a reply never parsed (no text) has no keywords */
    struct smtp_reply empty = { 0 };
    struct smtp_ext e;
    smtp_ehlo_parse(&empty, &e);
    assert_int_equal(e.flags, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_vectors),
        cmocka_unit_test(test_reply_reuse),
        cmocka_unit_test(test_reply_limits),
        cmocka_unit_test(test_result_vectors),
        cmocka_unit_test(test_parse_dsn_vectors),
        cmocka_unit_test(test_oneline_truncation),
        cmocka_unit_test(test_ehlo_vectors),
    };
    return cmocka_run_group_tests_name("smtp_reply", tests, NULL, NULL);
}

/* Unit tests for queue/envelope: queue file and state file formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue/envelope_codec.h"

#define QID "6553F1001E240ABC"

/* ---------- helpers ---------- */

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

/* An envelope owning its strings (free with envelope_free). */
static void make_env(struct envelope *env, const char *sender,
                     const char *const *rcpts, size_t n)
{
    memset(env, 0, sizeof *env);
    memcpy(env->qid, QID, QID_LEN + 1);
    env->arrival_sec = 1700000000;
    env->arrival_usec = 123;
    env->sender = sender ? xstrdup(sender) : NULL;
    env->client_addr = xstrdup("192.0.2.7");
    env->client_name = xstrdup("mail.example.org");
    env->helo = xstrdup("mail.example.org");
    env->protocol = xstrdup("ESMTPS");
    env->nrcpt = n;
    env->rcpt = calloc(n ? n : 1, sizeof *env->rcpt);
    assert_non_null(env->rcpt);
    for (size_t i = 0; i < n; i++)
        env->rcpt[i].addr = xstrdup(rcpts[i]);
}

/* Whole queue file: header + content + trailer (malloc'd). */
static char *make_file(const struct envelope *env, const char *content,
                       size_t clen, size_t *len)
{
    char *hdr = NULL, tr[32];
    size_t hlen = envelope_encode_header(env, &hdr);
    assert_true(hlen > 0);
    size_t tlen = envelope_encode_trailer(clen, tr, sizeof tr);
    assert_true(tlen > 0);
    char *buf = malloc(hlen + clen + tlen);
    assert_non_null(buf);
    memcpy(buf, hdr, hlen);
    memcpy(buf + hlen, content, clen);
    memcpy(buf + hlen + clen, tr, tlen);
    free(hdr);
    *len = hlen + clen + tlen;
    return buf;
}

/* Where the content starts, from the last decode_exact that succeeded. */
static size_t decoded_offset;

/* Decode from an exact-size heap copy so ASan sees any read past len. */
static int decode_exact(const char *buf, size_t len, struct envelope *env,
                        char *err, size_t errlen)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, buf, len);
    int r = envelope_decode(copy, len, env, &decoded_offset, err, errlen);
    free(copy);
    return r;
}

static void assert_env_equal(const struct envelope *a, const struct envelope *b)
{
    assert_string_equal(a->qid, b->qid);
    assert_int_equal(a->arrival_sec, b->arrival_sec);
    assert_int_equal(a->arrival_usec, b->arrival_usec);
    assert_string_equal(a->sender ? a->sender : "", b->sender);
    assert_string_equal(a->client_addr, b->client_addr);
    assert_string_equal(a->client_name, b->client_name);
    assert_string_equal(a->helo, b->helo);
    assert_string_equal(a->protocol, b->protocol);
    assert_int_equal(!!a->body_8bit, b->body_8bit);
    assert_int_equal(!!a->smtputf8, b->smtputf8);
    assert_int_equal(a->nrcpt, b->nrcpt);
    for (size_t i = 0; i < a->nrcpt; i++)
        assert_string_equal(a->rcpt[i].addr, b->rcpt[i].addr);
}

static const char CONTENT[] =
    "Received: from mail.example.org\r\n"
    "\tby mx.test; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Subject: test\r\n"
    "\r\n"
    "END 12\r\n"
    "body line\r\n";

/* ---------- queue file ---------- */

static void test_roundtrip(void **state)
{
    (void)state;
    static const char *const rcpts[] = {
        "alice@example.com",
        "\"john doe\"@example.com",
        "张三@例子.测试",
        "bob+tag@Example.COM",
        "\"a@b\"@x.example",
    };
    struct envelope in, out;
    char err[128];
    make_env(&in, "\"sender with space\"@example.org", rcpts, 5);
    in.body_8bit = 1;
    in.smtputf8 = 1;
    free(in.helo);
    in.helo = xstrdup("[192.0.2.7] with spaces  ");

    size_t len;
    char *buf = make_file(&in, CONTENT, sizeof CONTENT - 1, &len);
    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    assert_env_equal(&in, &out);
    assert_int_equal(out.content_len, sizeof CONTENT - 1);
    assert_memory_equal(buf + decoded_offset, CONTENT, sizeof CONTENT - 1);
    for (size_t i = 0; i < out.nrcpt; i++) {
        assert_int_equal(out.rcpt[i].state, RCPT_PENDING);
        assert_null(out.rcpt[i].reason);
        assert_string_equal(out.rcpt[i].dsn, "");
    }
    assert_int_equal(out.attempts, 0);
    assert_int_equal(out.next_attempt, 0);

    /* the header text itself, as documented */
    const char *expect =
        "POSTERN-QUEUE 1\n"
        "id " QID "\n"
        "arrival 1700000000.000123\n"
        "sender \"sender with space\"@example.org\n"
        "client 192.0.2.7 mail.example.org\n"
        "helo [192.0.2.7] with spaces  \n"
        "protocol ESMTPS\n"
        "body 8BITMIME\n"
        "smtputf8 1\n"
        "rcpt alice@example.com\n"
        "rcpt \"john doe\"@example.com\n"
        "rcpt 张三@例子.测试\n"
        "rcpt bob+tag@Example.COM\n"
        "rcpt \"a@b\"@x.example\n"
        "content\n";
    assert_int_equal(decoded_offset, strlen(expect));
    assert_memory_equal(buf, expect, strlen(expect));
    char tr[32];
    int tl = snprintf(tr, sizeof tr, "END %zu\n", sizeof CONTENT - 1);
    assert_memory_equal(buf + len - (size_t)tl, tr, (size_t)tl);
    envelope_free(&out);
    envelope_free(&in);
    free(buf);
}

static void test_roundtrip_null_sender(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"postmaster@example.com"};
    struct envelope in, out;
    char err[128];

    for (int variant = 0; variant < 2; variant++) {
        make_env(&in, variant ? NULL : "", rcpts, 1);
        free(in.helo);
        in.helo = xstrdup("");
        size_t len;
        char *buf = make_file(&in, "", 0, &len);
        assert_non_null(strstr(buf, "\nsender\n"));
        assert_non_null(strstr(buf, "\nhelo\n"));
        assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
        assert_string_equal(out.sender, "");
        assert_string_equal(out.helo, "");
        assert_int_equal(out.body_8bit, 0);
        assert_int_equal(out.content_len, 0);
        assert_int_equal(decoded_offset, len - strlen("END 0\n"));
        envelope_free(&out);
        free(buf);
        envelope_free(&in);
    }

    /* "sender " with the space is read the same way */
    const char *f = "POSTERN-QUEUE 1\nid " QID "\narrival 1.000000\n"
                    "sender \nrcpt a@b\ncontent\nEND 0\n";
    assert_int_equal(decode_exact(f, strlen(f), &out, err, sizeof err), 0);
    assert_string_equal(out.sender, "");
    /* optional keys default to "" */
    assert_string_equal(out.client_addr, "");
    assert_string_equal(out.client_name, "");
    assert_string_equal(out.protocol, "");
    envelope_free(&out);
}

/* The AUTH login: written as x-sasl_username only when there is one; a
 * file without it (written before it existed) reads as "no login"; a
 * value that could break the line is refused. */
static void test_sasl_username(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"boss@customer.test"};
    struct envelope in, out;
    char err[128];
    make_env(&in, "noreply@sentry.local", rcpts, 1);
    in.sasl_username = xstrdup("sentry app");
    size_t len;
    char *buf = make_file(&in, "x\r\n", 3, &len);
    static const char want[] = "\nsmtputf8 0\nx-sasl_username sentry app\nrcpt ";
    assert_non_null(memmem(buf, len, want, sizeof want - 1));
    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    assert_env_equal(&in, &out);
    assert_string_equal(out.sasl_username, "sentry app");
    envelope_free(&out);
    free(buf);

    /* without a login: no line, reads back as NULL */
    free(in.sasl_username);
    in.sasl_username = NULL;
    buf = make_file(&in, "x\r\n", 3, &len);
    assert_null(memmem(buf, len, "sasl_username", 13));
    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    assert_null(out.sasl_username);
    envelope_free(&out);
    free(buf);

    /* a file of an older version, byte for byte as it wrote them */
    const char *old = "POSTERN-QUEUE 1\nid " QID "\narrival 1700000000.000123\n"
                      "sender a@b.test\nclient 127.0.0.1 localhost\nhelo h\n"
                      "protocol ESMTPSA\nbody 7BIT\nsmtputf8 0\nrcpt c@d.test\n"
                      "content\nhi\r\nEND 4\n";
    assert_int_equal(decode_exact(old, strlen(old), &out, err, sizeof err), 0);
    assert_null(out.sasl_username);
    envelope_free(&out);

    /* twice, or empty: corrupt */
    const char *twice = "POSTERN-QUEUE 1\nid " QID "\narrival 1.000000\nsender\n"
                        "x-sasl_username a\nx-sasl_username b\nrcpt c@d\ncontent\nEND 0\n";
    assert_int_equal(decode_exact(twice, strlen(twice), &out, err, sizeof err), -1);
    assert_string_equal(err, "duplicate key in header");
    const char *empty = "POSTERN-QUEUE 1\nid " QID "\narrival 1.000000\nsender\n"
                        "x-sasl_username\nrcpt c@d\ncontent\nEND 0\n";
    assert_int_equal(decode_exact(empty, strlen(empty), &out, err, sizeof err), -1);

    /* a login that would start a new line is never written */
    in.sasl_username = xstrdup("evil\nrcpt injected@x");
    char *hdr = (char *)1;
    assert_int_equal(envelope_encode_header(&in, &hdr), 0);
    assert_null(hdr);
    envelope_free(&in);
}

static void test_content_edge(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.com"};
    struct envelope in, out;
    char err[128];
    make_env(&in, "s@example.com", rcpts, 1);

    /* content without a final newline, ending in digits */
    static const char c1[] = "no newline END 5";
    size_t len;
    char *buf = make_file(&in, c1, sizeof c1 - 1, &len);
    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    assert_int_equal(out.content_len, sizeof c1 - 1);
    assert_memory_equal(buf + decoded_offset, c1, sizeof c1 - 1);
    envelope_free(&out);
    free(buf);

    /* content with NUL and 8-bit bytes */
    static const char c2[] = "a\0b\xff\r\n\nEND 3\n";
    buf = make_file(&in, c2, sizeof c2 - 1, &len);
    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    assert_int_equal(out.content_len, sizeof c2 - 1);
    envelope_free(&out);
    free(buf);
    envelope_free(&in);
}

static void test_encode_refuses(void **state)
{
    (void)state;
    static const char *const ok1[] = {"a@example.com"};
    static const char *const bad1[] = {"a@exa\nmple.com"};
    static const char *const bad2[] = {"a@example.com", "b\r@x"};
    static const char *const bad3[] = {""};
    struct envelope env;
    char *out = (char *)1;

    make_env(&env, "x\r\n@y", ok1, 1);
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    assert_null(out);
    envelope_free(&env);

    make_env(&env, "x@y", bad1, 1);
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    envelope_free(&env);

    make_env(&env, "x@y", bad2, 2);
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    envelope_free(&env);

    make_env(&env, "x@y", bad3, 1);
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    envelope_free(&env);

    make_env(&env, "x@y", ok1, 0);           /* no recipient */
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    envelope_free(&env);

    make_env(&env, "x@y", ok1, 1);
    free(env.helo);
    env.helo = xstrdup("evil\r\nrcpt injected@x");
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    free(env.helo);
    env.helo = xstrdup("ok");
    free(env.client_name);
    env.client_name = xstrdup("name\n");
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    free(env.client_name);
    env.client_name = xstrdup("unknown");
    free(env.client_addr);
    env.client_addr = xstrdup("1.2.3.4 x");  /* address is one token */
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    free(env.client_addr);
    env.client_addr = xstrdup("::1");
    memcpy(env.qid, "bad", 4);
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    memcpy(env.qid, QID, QID_LEN + 1);
    env.arrival_usec = 1000000;
    assert_int_equal(envelope_encode_header(&env, &out), 0);
    env.arrival_usec = 0;
    size_t n = envelope_encode_header(&env, &out);
    assert_true(n > 0);
    free(out);
    envelope_free(&env);

    char tr[32];
    assert_int_equal(envelope_encode_trailer(1234, tr, sizeof tr), 9);
    assert_string_equal(tr, "END 1234\n");
    assert_int_equal(envelope_encode_trailer(1234, tr, 5), 0);
}

static void expect_fail_n(const char *f, size_t n, const char *why)
{
    struct envelope out;
    char err[128] = "";
    int r = decode_exact(f, n, &out, err, sizeof err);
    if (r == 0)
        fail_msg("decoded but should not (%s)", why);
    assert_true(err[0] != '\0');
    /* a failed decode leaves nothing to free */
    assert_null(out.rcpt);
    assert_null(out.sender);
}

static void expect_fail(const char *f, const char *why)
{
    expect_fail_n(f, strlen(f), why);
}

#define HDR "POSTERN-QUEUE 1\nid " QID "\narrival 1.000000\nsender a@b\n"

static void test_decode_rejects(void **state)
{
    (void)state;
    /* the good one, to be sure the variants fail for their own reason */
    struct envelope out;
    char err[128];
    const char *good = HDR "rcpt c@d\ncontent\nabc\r\nEND 5\n";
    assert_int_equal(decode_exact(good, strlen(good), &out, err, sizeof err), 0);
    envelope_free(&out);
    const char *ext = HDR "x-future something\nrcpt c@d\ncontent\nEND 0\n";
    assert_int_equal(decode_exact(ext, strlen(ext), &out, err, sizeof err), 0);
    envelope_free(&out);

    expect_fail("", "empty");
    expect_fail("\n", "newline");
    expect_fail("POSTERN-QUEUE 2\nid " QID "\narrival 1.000000\nsender a@b\n"
                "rcpt c@d\ncontent\nEND 0\n", "version 2");
    expect_fail("POSTERN-STATE 1\nid " QID "\narrival 1.000000\nsender a@b\n"
                "rcpt c@d\ncontent\nEND 0\n", "state magic");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\n", "missing END");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND 5", "END without newline");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND 4\n", "length short");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND 6\n", "length long");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND \n", "no length");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND 99999999999999999999999\n",
                "huge length");
    expect_fail(HDR "rcpt c@d\ncontent\nabc\r\nEND -5\n", "negative");
    expect_fail(HDR "content\nEND 0\n", "no rcpt");
    expect_fail(HDR "rcpt \ncontent\nEND 0\n", "empty rcpt");
    expect_fail(HDR "rcpt c@d\nEND 0\n", "no content line");
    expect_fail(HDR "rcpt c@d\ncontent extra\nEND 0\n", "content with value");
    expect_fail(HDR "rcpt c@d\nbogus 1\ncontent\nEND 0\n", "unknown key");
    expect_fail(HDR "sender x@y\nrcpt c@d\ncontent\nEND 0\n", "dup sender");
    expect_fail(HDR "rcpt c@d\r\ncontent\nEND 0\n", "CR in header");
    static const char withnul[] = "POSTERN-QUEUE 1\nid " QID "\narrival "
        "1.000000\nsender a\0b\nrcpt c@d\ncontent\nEND 0\n";
    expect_fail_n(withnul, sizeof withnul - 1, "NUL in header");
    expect_fail("POSTERN-QUEUE 1\nid 6553f1001e240abc\narrival 1.000000\n"
                "sender a@b\nrcpt c@d\ncontent\nEND 0\n", "lower-case id");
    expect_fail("POSTERN-QUEUE 1\nid ../../etc/passwd\narrival 1.000000\n"
                "sender a@b\nrcpt c@d\ncontent\nEND 0\n", "path id");
    expect_fail("POSTERN-QUEUE 1\nid " QID "\narrival 1.5\n"
                "sender a@b\nrcpt c@d\ncontent\nEND 0\n", "short usec");
    expect_fail("POSTERN-QUEUE 1\nid " QID "\narrival x.000000\n"
                "sender a@b\nrcpt c@d\ncontent\nEND 0\n", "bad sec");
    expect_fail("POSTERN-QUEUE 1\nid " QID "\nsender a@b\nrcpt c@d\n"
                "content\nEND 0\n", "no arrival");
    expect_fail("POSTERN-QUEUE 1\narrival 1.000000\nsender a@b\nrcpt c@d\n"
                "content\nEND 0\n", "no id");
    expect_fail("POSTERN-QUEUE 1\nid " QID "\narrival 1.000000\nrcpt c@d\n"
                "content\nEND 0\n", "no sender");
    expect_fail(HDR "body 8BIT\nrcpt c@d\ncontent\nEND 0\n", "body value");
    expect_fail(HDR "smtputf8 yes\nrcpt c@d\ncontent\nEND 0\n", "utf8 value");
    expect_fail(HDR "client 1.2.3.4\nrcpt c@d\ncontent\nEND 0\n", "client");
    expect_fail(HDR "rcpt c@d\ncontent\nEND 0\nEND 0\n", "double trailer");
    expect_fail("END 0\n", "only trailer");
    expect_fail("POSTERN-QUEUE 1\nEND 0\n", "magic and trailer");
}

static void test_decode_prefixes(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.com", "\"b c\"@example.com"};
    struct envelope in, out;
    char err[128];
    make_env(&in, "", rcpts, 2);
    size_t len;
    char *buf = make_file(&in, CONTENT, sizeof CONTENT - 1, &len);

    assert_int_equal(decode_exact(buf, len, &out, err, sizeof err), 0);
    envelope_free(&out);
    for (size_t k = 0; k < len; k++) {
        int r = decode_exact(buf, k, &out, err, sizeof err);
        if (r == 0)
            fail_msg("prefix of %zu/%zu bytes decoded", k, len);
        assert_null(out.rcpt);
    }
    /* and the file with trailing garbage */
    char *more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, buf, len);
    more[len] = '\n';
    assert_int_equal(decode_exact(more, len + 1, &out, err, sizeof err), -1);
    free(more);
    free(buf);
    envelope_free(&in);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void test_decode_junk(void **state)
{
    (void)state;
    struct envelope out;
    char err[128];
    char junk[512];

    /* random bytes */
    for (int it = 0; it < 3000; it++) {
        size_t n = rng() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)rng();
        assert_int_equal(decode_exact(junk, n, &out, err, sizeof err), -1);
    }
    /* random bytes behind a plausible start */
    for (int it = 0; it < 3000; it++) {
        size_t n = rng() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = "ENDrcpt \n0123456789\r\0"[rng() % 21];
        size_t hl = strlen(HDR);
        char *b = malloc(hl + n);
        assert_non_null(b);
        memcpy(b, HDR, hl);
        memcpy(b + hl, junk, n);
        if (decode_exact(b, hl + n, &out, err, sizeof err) == 0)
            envelope_free(&out);
        free(b);
    }
    /* mutations of a valid file: must not crash or leak; whatever decodes
     * is self-consistent */
    static const char *const rcpts[] = {"a@example.com", "b@example.com"};
    struct envelope in;
    make_env(&in, "s@example.com", rcpts, 2);
    size_t len;
    char *buf = make_file(&in, CONTENT, sizeof CONTENT - 1, &len);
    char *m = malloc(len);
    assert_non_null(m);
    for (int it = 0; it < 20000; it++) {
        memcpy(m, buf, len);
        int nmut = 1 + (int)(rng() % 3);
        for (int k = 0; k < nmut; k++)
            m[rng() % len] = (char)rng();
        size_t ml = len - (rng() % 4 == 0 ? rng() % len : 0);
        if (decode_exact(m, ml, &out, err, sizeof err) == 0) {
            assert_true(out.nrcpt >= 1);
            assert_true(decoded_offset + out.content_len <= ml);
            envelope_free(&out);
        }
    }
    free(m);
    free(buf);
    envelope_free(&in);
}

/* ---------- state file ---------- */

static void test_state_roundtrip(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@x", "b@x", "c@x", "d@x"};
    struct envelope env, back;
    char err[128];
    make_env(&env, "s@x", rcpts, 4);
    env.attempts = 3;
    env.next_attempt = 1700003600;
    env.warned = 1;
    env.rcpt[0].state = RCPT_SENT;
    strcpy(env.rcpt[0].dsn, "2.0.0");
    env.rcpt[0].reason = xstrdup("250 2.0.0 Ok: queued as 4F2A");
    env.rcpt[1].state = RCPT_DEFERRED;
    strcpy(env.rcpt[1].dsn, "4.4.1");
    env.rcpt[1].reason = xstrdup("451 4.4.1 try\r\nagain  later\n");
    env.rcpt[2].state = RCPT_PENDING;
    env.rcpt[3].state = RCPT_BOUNCED;
    strcpy(env.rcpt[3].dsn, "5.1.1");
    env.rcpt[3].reason = xstrdup("550 5.1.1 <d@x>: no such user");

    char *buf = NULL;
    size_t n = envelope_encode_state(&env, &buf);
    assert_true(n > 0);
    const char *expect =
        "POSTERN-STATE 1\n"
        "attempts 3\n"
        "next 1700003600\n"
        "warned 1\n"
        "rcpt 0 sent 2.0.0 250 2.0.0 Ok: queued as 4F2A\n"
        "rcpt 1 deferred 4.4.1 451 4.4.1 try  again  later \n"
        "rcpt 2 pending -\n"
        "rcpt 3 bounced 5.1.1 550 5.1.1 <d@x>: no such user\n"
        "END\n";
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(buf, expect, n);

    /* decode onto a freshly decoded copy of the envelope */
    make_env(&back, "s@x", rcpts, 4);
    back.rcpt[2].reason = xstrdup("stale");
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, buf, n);
    assert_int_equal(envelope_decode_state(copy, n, &back, err, sizeof err), 0);
    free(copy);
    assert_int_equal(back.attempts, 3);
    assert_int_equal(back.next_attempt, 1700003600);
    assert_int_equal(back.warned, 1);
    assert_int_equal(back.rcpt[0].state, RCPT_SENT);
    assert_string_equal(back.rcpt[0].dsn, "2.0.0");
    assert_string_equal(back.rcpt[0].reason, "250 2.0.0 Ok: queued as 4F2A");
    assert_int_equal(back.rcpt[1].state, RCPT_DEFERRED);
    assert_string_equal(back.rcpt[1].reason, "451 4.4.1 try  again  later ");
    assert_int_equal(back.rcpt[2].state, RCPT_PENDING);
    assert_string_equal(back.rcpt[2].dsn, "");
    assert_null(back.rcpt[2].reason);
    assert_int_equal(back.rcpt[3].state, RCPT_BOUNCED);
    assert_string_equal(back.rcpt[3].dsn, "5.1.1");

    /* every prefix fails and leaves the envelope as it was */
    for (size_t k = 0; k < n; k++) {
        copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, buf, k);
        int r = envelope_decode_state(copy, k, &back, err, sizeof err);
        free(copy);
        if (r == 0)
            fail_msg("state prefix %zu/%zu decoded", k, n);
        assert_int_equal(back.rcpt[0].state, RCPT_SENT);
        assert_int_equal(back.attempts, 3);
    }
    free(buf);
    envelope_free(&back);

    assert_string_equal(envelope_state_name(RCPT_PENDING), "pending");
    assert_string_equal(envelope_state_name(RCPT_SENT), "sent");
    assert_string_equal(envelope_state_name(RCPT_DEFERRED), "deferred");
    assert_string_equal(envelope_state_name(RCPT_BOUNCED), "bounced");

    /* refused: a dsn that would not read back */
    strcpy(env.rcpt[2].dsn, "-");
    assert_int_equal(envelope_encode_state(&env, &buf), 0);
    strcpy(env.rcpt[2].dsn, "4.0 0");
    assert_int_equal(envelope_encode_state(&env, &buf), 0);
    env.rcpt[2].dsn[0] = '\0';
    env.attempts = -1;
    assert_int_equal(envelope_encode_state(&env, &buf), 0);
    envelope_free(&env);
}

static void expect_state_fail(struct envelope *env, const char *f,
                              const char *why)
{
    char err[128] = "";
    size_t n = strlen(f);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, f, n);
    int r = envelope_decode_state(copy, n, env, err, sizeof err);
    free(copy);
    if (r == 0)
        fail_msg("state decoded but should not (%s)", why);
    assert_true(err[0] != '\0');
    assert_int_equal(env->attempts, 0);
    for (size_t i = 0; i < env->nrcpt; i++)
        assert_int_equal(env->rcpt[i].state, RCPT_PENDING);
}

#define SH "POSTERN-STATE 1\nattempts 1\nnext 5\n"

static void test_state_rejects(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@x", "b@x"};
    struct envelope env;
    char err[128];
    make_env(&env, "s@x", rcpts, 2);

    /* minimal valid: recipients not listed stay pending */
    const char *ok = "POSTERN-STATE 1\nEND\n";
    assert_int_equal(envelope_decode_state(ok, strlen(ok), &env, err,
                                           sizeof err), 0);
    const char *ok2 = SH "rcpt 1 sent 2.0.0\nx-later 1\nEND\n";
    assert_int_equal(envelope_decode_state(ok2, strlen(ok2), &env, err,
                                           sizeof err), 0);
    assert_int_equal(env.rcpt[1].state, RCPT_SENT);
    assert_null(env.rcpt[1].reason);
    env.rcpt[1].state = RCPT_PENDING;
    env.attempts = 0;
    env.next_attempt = 0;

    expect_state_fail(&env, "", "empty");
    expect_state_fail(&env, "POSTERN-STATE 2\nEND\n", "version");
    expect_state_fail(&env, "POSTERN-QUEUE 1\nEND\n", "queue magic");
    expect_state_fail(&env, SH "rcpt 0 sent 2.0.0 ok\n", "no END");
    expect_state_fail(&env, SH "rcpt 0 sent 2.0.0 ok\nEND", "END no newline");
    expect_state_fail(&env, SH "END\nrcpt 0 sent 2.0.0\n", "after END");
    expect_state_fail(&env, SH "rcpt 2 sent 2.0.0\nEND\n", "index range");
    expect_state_fail(&env, SH "rcpt 99999999999999999999 sent 2.0.0\nEND\n",
                      "index huge");
    expect_state_fail(&env, SH "rcpt -1 sent 2.0.0\nEND\n", "index neg");
    expect_state_fail(&env, SH "rcpt 0 sent 2.0.0\nrcpt 0 sent 2.0.0\nEND\n",
                      "dup index");
    expect_state_fail(&env, SH "rcpt 0 done 2.0.0\nEND\n", "state name");
    expect_state_fail(&env, SH "rcpt 0 sent\nEND\n", "no dsn");
    expect_state_fail(&env, SH "rcpt 0 sent 2.0.0.0.0.0.0.0.0\nEND\n",
                      "dsn long");
    expect_state_fail(&env, SH "rcpt 0 sent 2.0.0 a\rb\nEND\n", "CR");
    expect_state_fail(&env, SH "bogus 1\nEND\n", "unknown key");
    expect_state_fail(&env, "POSTERN-STATE 1\nattempts x\nEND\n", "attempts");
    expect_state_fail(&env, "POSTERN-STATE 1\nattempts 1\nattempts 2\nEND\n",
                      "dup attempts");
    expect_state_fail(&env, "POSTERN-STATE 1\nnext -1\nEND\n", "next");

    /* junk */
    char junk[256];
    for (int it = 0; it < 3000; it++) {
        size_t n = rng() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = "ENDrcpt 01sent-\n\r\0x"[rng() % 20];
        char *c = malloc(n ? n : 1);
        assert_non_null(c);
        memcpy(c, junk, n);
        (void)envelope_decode_state(c, n, &env, err, sizeof err);
        free(c);
    }
    envelope_free(&env);
}

/* "x-notice <qid>" lines: the notices a state write decides (attempt.c) */
static void test_state_notices(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@x"};
    struct envelope env, back;
    char err[128], *buf = NULL;
    make_env(&env, "s@x", rcpts, 1);
    env.rcpt[0].state = RCPT_BOUNCED;
    strcpy(env.rcpt[0].dsn, "5.0.0");
    memcpy(env.notice[0], "6B0CA751CD4E8B93", QID_LEN + 1);
    memcpy(env.notice[1], "6B0CA751CD4E8B94", QID_LEN + 1);
    env.nnotice = 2;
    size_t n = envelope_encode_state(&env, &buf);
    const char *expect =
        "POSTERN-STATE 1\nattempts 0\nnext 0\n"
        "x-notice 6B0CA751CD4E8B93\nx-notice 6B0CA751CD4E8B94\n"
        "rcpt 0 bounced 5.0.0\nEND\n";
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(buf, expect, n);
    make_env(&back, "s@x", rcpts, 1);
    assert_int_equal(envelope_decode_state(buf, n, &back, err, sizeof err), 0);
    assert_int_equal(back.nnotice, 2);
    assert_string_equal(back.notice[0], "6B0CA751CD4E8B93");
    assert_string_equal(back.notice[1], "6B0CA751CD4E8B94");

    /* what spool_scan asks: named, complete */
    assert_int_equal(envelope_state_has_notice(buf, n, "6B0CA751CD4E8B93"), 1);
    assert_int_equal(envelope_state_has_notice(buf, n, "6B0CA751CD4E8B94"), 1);
    assert_int_equal(envelope_state_has_notice(buf, n, "6B0CA751CD4E8B95"), 0);
    assert_int_equal(envelope_state_has_notice(buf, n, "6B0CA751CD4E8B9"), 0);
    assert_int_equal(envelope_state_has_notice(buf, n - 1, "6B0CA751CD4E8B93"), 0);
    assert_int_equal(envelope_state_has_notice(buf + 1, n - 1, "6B0CA751CD4E8B93"), 0);
    static const char in_reason[] =
        "POSTERN-STATE 1\nrcpt 0 bounced 5.0.0 x-notice 6B0CA751CD4E8B93\nEND\n";
    assert_int_equal(envelope_state_has_notice(in_reason, sizeof in_reason - 1,
                                               "6B0CA751CD4E8B93"), 0);
    free(buf);

    /* refused: a bad id, too many */
    memcpy(env.notice[1], "../../etc/passw", 16);
    assert_int_equal(envelope_encode_state(&env, &buf), 0);
    env.nnotice = ENV_NOTICES_MAX + 1;
    assert_int_equal(envelope_encode_state(&env, &buf), 0);
    envelope_free(&env);
    envelope_free(&back);
    make_env(&env, "s@x", rcpts, 1);
    expect_state_fail(&env, "POSTERN-STATE 1\nx-notice 6b0ca751cd4e8b93\nEND\n", "lower case");
    expect_state_fail(&env, "POSTERN-STATE 1\nx-notice 6B0CA751CD4E8B9\nEND\n", "short");
    expect_state_fail(&env, "POSTERN-STATE 1\nx-notice 6B0CA751CD4E8B933\nEND\n", "long");
    expect_state_fail(&env, "POSTERN-STATE 1\nx-notice 6B0CA751CD4E8B93\n"
                      "x-notice 6B0CA751CD4E8B94\nx-notice 6B0CA751CD4E8B95\nEND\n", "three");
    envelope_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip_null_sender),
        cmocka_unit_test(test_sasl_username),
        cmocka_unit_test(test_content_edge),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_prefixes),
        cmocka_unit_test(test_decode_junk),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_state_rejects),
        cmocka_unit_test(test_state_notices),
    };
    return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}

/* Unit tests for the trace header: the safe HELO name (Postfix's
 * printable() + neuter()) and the Received: header built with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "smtp/trace.h"

static void test_helo_name(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        /* valid names and address literals are unchanged */
        { "client.example.com", "client.example.com" },
        { "[192.0.2.1]", "[192.0.2.1]" },
        { "[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]" },
        { "under_score-and.digits0", "under_score-and.digits0" },
        /* control, C1 and 8-bit bytes */
        { "a\x1b[31mb", "a?[31mb" },
        { "\x9b" "31mevil\xff.example", "?31mevil?.example" },
        { "caf\xc3\xa9.example", "caf??.example" },
        /* what would break the header's comment or quoting, or a log field */
        { "a b", "a?b" },
        { "x) (by evil", "x???by?evil" },
        { "<a>\"b\";c@d\\e", "?a??b??c?d?e" },
        { "a,b=c", "a,b=c" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[64];
        trace_helo_name(v[i].in, strlen(v[i].in), out, sizeof out);
        assert_string_equal(out, v[i].out);
    }
    char out[4];
    assert_string_equal(trace_helo_name("abcdef", 6, out, sizeof out), "abc");
}

static void test_received(void **state)
{
    (void)state;
    char helo[64], out[512];
    const char *raw = "\x9b" "1;31mx\x1b.example\r\n\tX-Evil: 1";
    trace_helo_name(raw, strlen(raw), helo, sizeof helo);
    struct trace_received t = {
        .helo = helo, .client_name = "unknown", .client_addr = "127.0.0.1",
        .myhostname = "mx.postern.test", .protocol = "ESMTP", .qid = "0123456789ABCDEF",
        .for_rcpt = "a@postern.test", .date = "Sun, 29 Nov 2026 10:00:00 +0000",
        .local_uid = -1,
    };
    size_t n = trace_format_received(&t, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out,
        "Received: from ?1?31mx?.example???X-Evil:?1 (unknown [127.0.0.1])\r\n"
        "\tby mx.postern.test (postern) with ESMTP id 0123456789ABCDEF\r\n"
        "\tfor <a@postern.test>; Sun, 29 Nov 2026 10:00:00 +0000\r\n");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t');
    }
    t.helo = "";
    t.for_rcpt = NULL;
    trace_format_received(&t, out, sizeof out);
    assert_string_equal(out,
        "Received: from unknown (unknown [127.0.0.1])\r\n"
        "\tby mx.postern.test (postern) with ESMTP id 0123456789ABCDEF;\r\n"
        "\tSun, 29 Nov 2026 10:00:00 +0000\r\n");
    t.local_uid = 1000;
    trace_format_received(&t, out, sizeof out);
    assert_string_equal(out,
        "Received: by mx.postern.test (postern, from userid 1000)\r\n"
        "\tid 0123456789ABCDEF; Sun, 29 Nov 2026 10:00:00 +0000\r\n");
    /* too small: nothing rather than a torn header */
    char small[40];
    assert_int_equal(trace_format_received(&t, small, sizeof small), 0);
    assert_string_equal(small, "");
}

/* A TLS session: Postfix's "(using ...)" clause before "by", and ESMTPS
 * from the caller. */
static void test_received_tls(void **state)
{
    (void)state;
    char out[1024];
    struct trace_received t = {
        .helo = "client.example", .client_name = "unknown", .client_addr = "127.0.0.1",
        .myhostname = "mx.postern.test", .protocol = "ESMTPS", .qid = "0123456789ABCDEF",
        .for_rcpt = "a@postern.test", .date = "Sun, 29 Nov 2026 10:00:00 +0000",
        .local_uid = -1, .tls_protocol = "TLSv1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
        .tls_bits = 256, .tls_alg_bits = 256,
    };
    size_t n = trace_format_received(&t, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out,
        "Received: from client.example (unknown [127.0.0.1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\t(No client certificate requested)\r\n"
        "\tby mx.postern.test (postern) with ESMTPS id 0123456789ABCDEF\r\n"
        "\tfor <a@postern.test>; Sun, 29 Nov 2026 10:00:00 +0000\r\n");
    t.for_rcpt = NULL;
    t.tls_protocol = "TLSv1.2";
    t.tls_cipher = "ECDHE-ECDSA-AES128-GCM-SHA256";
    t.tls_bits = t.tls_alg_bits = 128;
    trace_format_received(&t, out, sizeof out);
    assert_string_equal(out,
        "Received: from client.example (unknown [127.0.0.1])\r\n"
        "\t(using TLSv1.2 with cipher ECDHE-ECDSA-AES128-GCM-SHA256 (128/128 bits))\r\n"
        "\t(No client certificate requested)\r\n"
        "\tby mx.postern.test (postern) with ESMTPS id 0123456789ABCDEF;\r\n"
        "\tSun, 29 Nov 2026 10:00:00 +0000\r\n");
    /* too small for the TLS clause: nothing rather than a torn header */
    char small[200];
    assert_int_equal(trace_format_received(&t, small, sizeof small), 0);
}

/* smtpd_sasl_authenticated_header: Postfix's comment line, and a name from
 * a backend cannot end the comment or the header */
static void test_received_authenticated(void **state)
{
    (void)state;
    char out[1024];
    struct trace_received t = {
        .helo = "c.example", .client_name = "unknown", .client_addr = "192.0.2.1",
        .myhostname = "mx.postern.test", .protocol = "ESMTPA", .qid = "0123456789ABCDEF",
        .for_rcpt = NULL, .date = "Sun, 29 Nov 2026 10:00:00 +0000", .local_uid = -1,
        .auth_user = "sentry",
    };
    assert_true(trace_format_received(&t, out, sizeof out) > 0);
    assert_string_equal(out, "Received: from c.example (unknown [192.0.2.1])\r\n"
                             "\t(Authenticated sender: sentry)\r\n"
                             "\tby mx.postern.test (postern) with ESMTPA id 0123456789ABCDEF;\r\n"
                             "\tSun, 29 Nov 2026 10:00:00 +0000\r\n");
    t.auth_user = "a)\r\nX-Evil: 1 (\\";
    assert_true(trace_format_received(&t, out, sizeof out) > 0);
    assert_non_null(strstr(out, "\t(Authenticated sender: a?" "??X-Evil: 1 ?" "?)\r\n"));
    t.auth_user = NULL;
    assert_true(trace_format_received(&t, out, sizeof out) > 0);
    assert_null(strstr(out, "Authenticated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helo_name),
        cmocka_unit_test(test_received),
        cmocka_unit_test(test_received_tls),
        cmocka_unit_test(test_received_authenticated),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}

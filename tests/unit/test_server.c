/* Unit tests for the listen URL parser: schemes (smtp, submission,
 * submissions), IPv4 and IPv6 hosts, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "smtp/server.h"

static void test_parse_listen_schemes(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        enum listen_kind kind;
        const char *host;
        int port;
    } v[] = {
        { "smtp://0.0.0.0:25", LISTEN_SMTP, "0.0.0.0", 25 },
        { "SMTP://127.0.0.1:2525", LISTEN_SMTP, "127.0.0.1", 2525 },
        { "127.0.0.1:2525", LISTEN_SMTP, "127.0.0.1", 2525 },
        { "submission://[::]:587", LISTEN_SUBMISSION, "::", 587 },
        { "submission://127.0.0.1:587/", LISTEN_SUBMISSION, "127.0.0.1", 587 },
        { "submissions://0.0.0.0:465", LISTEN_SUBMISSIONS, "0.0.0.0", 465 },
        { "Submissions://[::1]:465", LISTEN_SUBMISSIONS, "::1", 465 },
        { "submission://127.0.0.1:587?smtpd_client_restrictions=check_client_access+"
          "hash:/etc/a", LISTEN_SUBMISSION, "127.0.0.1", 587 },
        { "submission://[::1]:587/?smtpd_sasl_auth_enable=yes", LISTEN_SUBMISSION, "::1", 587 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char host[64], err[256] = "";
        int port = 0;
        enum listen_kind kind = LISTEN_SUBMISSIONS + 1;
        if (server_parse_listen(v[i].url, &kind, host, sizeof host, &port, err,
                                sizeof err) != 0)
            fail_msg("%s: %s", v[i].url, err);
        assert_int_equal(kind, v[i].kind);
        assert_string_equal(host, v[i].host);
        assert_int_equal(port, v[i].port);
    }
    assert_string_equal(server_listen_scheme(LISTEN_SMTP), "smtp");
    assert_string_equal(server_listen_scheme(LISTEN_SUBMISSION), "submission");
    assert_string_equal(server_listen_scheme(LISTEN_SUBMISSIONS), "submissions");
}

static void test_parse_listen_errors(void **state)
{
    (void)state;
    static const struct {
        const char *url, *err;
    } v[] = {
        { "smtps://0.0.0.0:465", "unsupported scheme" },
        { "lmtp://0.0.0.0:24", "unsupported scheme" },
        { "submission://0.0.0.0", "missing :port" },
        { "submissions://[::1]465", "expected [IPv6]:port" },
        { "submission://:587", "missing or overlong host" },
        { "submissions://0.0.0.0:0", "port must be 1..65535" },
        { "submission://0.0.0.0:65536", "port must be 1..65535" },
        { "://0.0.0.0:25", "unsupported scheme" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char host[64], err[256] = "";
        int port = 0;
        enum listen_kind kind;
        assert_int_equal(server_parse_listen(v[i].url, &kind, host, sizeof host, &port, err,
                                             sizeof err), -1);
        if (!strstr(err, v[i].err))
            fail_msg("%s: \"%s\" lacks \"%s\"", v[i].url, err, v[i].err);
    }
}

static void test_listen_overrides(void **state)
{
    (void)state;
    char out[512], err[512] = "";
    assert_int_equal(server_listen_overrides("smtp://0.0.0.0:25", out, sizeof out, err,
                                             sizeof err), 0);
    assert_string_equal(out, "");
    assert_int_equal(server_listen_overrides(
                         "submission://127.0.0.1:587?smtpd_tls_security_level=encrypt&"
                         "smtpd_sasl_auth_enable=yes&smtpd_relay_restrictions="
                         "permit_sasl_authenticated+reject",
                         out, sizeof out, err, sizeof err), 3);
    assert_string_equal(out, "smtpd_tls_security_level = encrypt\n"
                             "smtpd_sasl_auth_enable = yes\n"
                             "smtpd_relay_restrictions = permit_sasl_authenticated reject\n");
    assert_int_equal(server_listen_overrides("[::1]:25/?smtpd_tls_auth_only=no&"
                                             "smtpd_reject_unlisted_recipient=no&"
                                             "smtpd_client_restrictions=permit&"
                                             "smtpd_recipient_restrictions=reject",
                                             out, sizeof out, err, sizeof err), 4);
    static const struct {
        const char *url, *err;
    } bad[] = {
        { "smtp://0.0.0.0:25?myhostname=x", "\"myhostname\" cannot be set per listener "
                                            "(allowed: smtpd_tls_security_level," },
        { "smtp://0.0.0.0:25?smtpd_sasl_auth_enable", "expected ?name=value" },
        { "smtp://0.0.0.0:25?smtpd_sasl_auth_enable=", "expected ?name=value" },
        { "smtp://0.0.0.0:25?=yes", "expected ?name=value" },
        { "smtp://0.0.0.0:25?smtpd_sasl_auth_enable=yes&", "expected ?name=value" },
        { "smtp://0.0.0.0:25?smtpd_sasl_auth_enablex=yes", "cannot be set per listener" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(server_listen_overrides(bad[i].url, out, sizeof out, err,
                                                 sizeof err), -1);
        if (!strstr(err, bad[i].err))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].url, err, bad[i].err);
    }
    assert_true(server_listen_same("smtp://127.0.0.1:25?smtpd_sasl_auth_enable=yes",
                                   "smtp://127.0.0.1:25"));
    assert_true(server_listen_same("smtp://127.0.0.1:25", "smtp://127.0.0.1:25"));
    assert_false(server_listen_same("smtp://127.0.0.1:25?a=b", "smtp://127.0.0.1:2525?a=b"));
    assert_false(server_listen_same("submission://127.0.0.1:25", "smtp://127.0.0.1:25"));
    /* too long for out: refused, never cut */
    char small[20];
    assert_int_equal(server_listen_overrides("smtp://0.0.0.0:25?smtpd_sasl_auth_enable=yes",
                                             small, sizeof small, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_listen_schemes),
        cmocka_unit_test(test_parse_listen_errors),
        cmocka_unit_test(test_listen_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

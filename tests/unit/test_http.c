/* Unit tests for http/: the http_listen parser (the rest is event-loop
 * code, exercised end to end by tests/e2e/test_http.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"

static void test_parse_listen(void **state)
{
    (void)state;
    static const struct { const char *in, *host; int port; } good[] = {
        { "127.0.0.1:9025", "127.0.0.1", 9025 },
        { "[::1]:9025", "::1", 9025 },
        { "*:80", "*", 80 },
        { "0.0.0.0:65535", "0.0.0.0", 65535 },
    };
    char host[64], err[256];
    int port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(http_parse_listen(good[i].in, host, sizeof host, &port, err,
                                           sizeof err), 0);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const struct { const char *in, *why; } bad[] = {
        { "localhost", "HOST:PORT" },     { "127.0.0.1", "HOST:PORT" },
        { ":9025", "HOST:PORT" },         { "127.0.0.1:0", "1 to 65535" },
        { "127.0.0.1:65536", "1 to 65535" }, { "127.0.0.1:90x", "1 to 65535" },
        { "127.0.0.1:-1", "1 to 65535" }, { "::1:9025", "HOST:PORT" },
        { "[::1]9025", "[IPv6]:PORT" },   { "[::1:9025", "[IPv6]:PORT" },
        { "127.0.0.1: 9025", "1 to 65535" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(http_parse_listen(bad[i].in, host, sizeof host, &port, err,
                                           sizeof err), -1);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].in, err, bad[i].why);
    }
    /* a host longer than the caller's buffer is refused, not cut */
    char small[4];
    assert_int_equal(http_parse_listen("127.0.0.1:80", small, sizeof small, &port, err,
                                       sizeof err), -1);
}

static void test_same_origin(void **state)
{
    (void)state;
    const char *h = "127.0.0.1:9025";
    assert_int_equal(http_same_origin("http://127.0.0.1:9025", NULL, h, 0), 1);
    assert_int_equal(http_same_origin("HTTP://127.0.0.1:9025", NULL, h, 0), 0);
    assert_int_equal(http_same_origin("https://127.0.0.1:9025", NULL, h, 0), 0);
    assert_int_equal(http_same_origin("https://127.0.0.1:9025", NULL, h, 1), 1);
    assert_int_equal(http_same_origin("http://127.0.0.1:9026", NULL, h, 0), 0);
    assert_int_equal(http_same_origin("http://127.0.0.1:9025.evil.example", NULL, h, 0), 0);
    assert_int_equal(http_same_origin("http://evil.example", "same-origin", h, 0), 0);
    assert_int_equal(http_same_origin("null", NULL, h, 0), 0);
    assert_int_equal(http_same_origin("http://127.0.0.1:9025", NULL, NULL, 0), 0);
    assert_int_equal(http_same_origin(NULL, "same-origin", h, 0), 1);
    assert_int_equal(http_same_origin(NULL, "none", h, 0), 1);
    assert_int_equal(http_same_origin(NULL, "cross-site", h, 0), 0);
    assert_int_equal(http_same_origin(NULL, "same-site", h, 0), 0);
    assert_int_equal(http_same_origin(NULL, NULL, h, 0), -1);
}

static void test_form_get(void **state)
{
    (void)state;
    char v[16];
    assert_int_equal(http_form_get("qid=ABC&action=hold", "action", v, sizeof v), 1);
    assert_string_equal(v, "hold");
    assert_int_equal(http_form_get("xqid=1&qid=a+b%3Cc", "qid", v, sizeof v), 1);
    assert_string_equal(v, "a b<c");
    assert_int_equal(http_form_get("qid=", "qid", v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(http_form_get("qid", "qid", v, sizeof v), 0);
    assert_int_equal(http_form_get("", "qid", v, sizeof v), 0);
    assert_int_equal(http_form_get("qid=%4", "qid", v, sizeof v), -1);
    assert_int_equal(http_form_get("qid=%zz", "qid", v, sizeof v), -1);
    assert_int_equal(http_form_get("qid=%00", "qid", v, sizeof v), -1);
    assert_int_equal(http_form_get("qid=0123456789abcdef", "qid", v, sizeof v), -1);
    assert_int_equal(http_form_get("qid=0123456789abcde", "qid", v, sizeof v), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_parse_listen),
                                        cmocka_unit_test(test_same_origin),
                                        cmocka_unit_test(test_form_get) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

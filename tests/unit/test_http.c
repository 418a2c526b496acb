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

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_parse_listen) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the PROXY protocol header parser (smtp/proxy.c): a table
 * of v1 and v2 headers, each with the result, the bytes taken and the
 * client address, and every prefix of a valid header asks for more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "smtp/proxy.h"

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

struct vec {
    const char *in;
    size_t len;              /* 0: strlen(in) */
    enum proxy_result want;
    size_t hlen;             /* header length when PROXY_OK */
    int local;
    const char *addr;        /* client address when !local */
    unsigned port;
};

static const struct vec V[] = {
    { "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\nEHLO x\r\n", 0, PROXY_OK, 44, 0,
      "192.0.2.1", 56324 },
    { "PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n", 0, PROXY_OK, 41, 0, "2001:db8::1", 1 },
    { "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 0, PROXY_OK, 56, 0,
      "255.255.255.255", 65535 },
    { "PROXY UNKNOWN\r\n", 0, PROXY_OK, 15, 1, NULL, 0 },
    { "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 0, PROXY_OK, 35, 1, NULL, 0 },
    /* malformed v1 */
    { "EHLO x\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 2001:db8::1 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY \r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4\x01 1.2.3.4 1 2\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
    { "PROXY TCP4 1.2.3.4\0 1.2.3.4 1 2\r\n", 33, PROXY_BAD, 0, 0, NULL, 0 },
    /* 107 bytes without CRLF: too long, not "read more" */
    { "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, PROXY_BAD, 0, 0, NULL, 0 },
    /* v2: PROXY TCP4 192.0.2.7:4660 -> 192.0.2.8:25, then SMTP */
    { V2SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x07" "\xc0\x00\x02\x08" "\x12\x34" "\x00\x19"
      "QUIT\r\n", 34, PROXY_OK, 28, 0, "192.0.2.7", 0x1234 },
    /* v2 TCP6 with a TLV after the addresses (ignored) */
    { V2SIG "\x21\x21\x00\x27"
      "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"
      "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x08" "\x00\x01" "\x00\x19"
      "\x04\x00\x00", 55, PROXY_OK, 55, 0, "2001:db8::7", 1 },
    /* LOCAL, UNSPEC and UDP keep the connection's address */
    { V2SIG "\x20\x00\x00\x00", 16, PROXY_OK, 16, 1, NULL, 0 },
    { V2SIG "\x21\x00\x00\x00", 16, PROXY_OK, 16, 1, NULL, 0 },
    { V2SIG "\x21\x12\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2", 28, PROXY_OK, 28, 1, NULL, 0 },
    /* malformed v2 */
    { V2SIG "\x11\x11\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2", 28, PROXY_BAD, 0, 0, NULL, 0 },
    { V2SIG "\x22\x11\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2", 28, PROXY_BAD, 0, 0, NULL, 0 },
    { V2SIG "\x21\x11\x00\x08" "\1\2\3\4\5\6\7\x08", 24, PROXY_BAD, 0, 0, NULL, 0 },
    { V2SIG "\x21\x21\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2", 28, PROXY_BAD, 0, 0, NULL, 0 },
    { V2SIG "\x21\x11\xff\xff", 16, PROXY_BAD, 0, 0, NULL, 0 },
    { "\r\n\r\n\0\r\nQUIT\r", 12, PROXY_BAD, 0, 0, NULL, 0 },
    { "\r\nQUIT\r\n", 0, PROXY_BAD, 0, 0, NULL, 0 },
};

static void check_address(const struct proxy_header *h, const char *addr, unsigned port)
{
    char got[64] = "";
    unsigned gport = 0;
    if (h->src.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&h->src;
        inet_ntop(AF_INET, &in->sin_addr, got, sizeof got);
        gport = ntohs(in->sin_port);
        assert_int_equal(h->srclen, sizeof *in);
    } else if (h->src.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&h->src;
        inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof got);
        gport = ntohs(in6->sin6_port);
        assert_int_equal(h->srclen, sizeof *in6);
    }
    assert_string_equal(got, addr);
    assert_int_equal(gport, port);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        size_t len = V[i].len ? V[i].len : strlen(V[i].in);
        struct proxy_header h;
        char err[128];
        enum proxy_result r = proxy_parse((const unsigned char *)V[i].in, len, &h, err, sizeof err);
        if (r != V[i].want)
            fail_msg("vector %zu: result %d, want %d (%s)", i, (int)r, (int)V[i].want, err);
        if (r == PROXY_BAD) {
            assert_true(err[0] != '\0');
            continue;
        }
        assert_int_equal(h.len, V[i].hlen);
        assert_int_equal(h.local, V[i].local);
        if (!h.local)
            check_address(&h, V[i].addr, V[i].port);
        /* every proper prefix of a valid header is "read more" */
        for (size_t k = 0; k < h.len; k++) {
            struct proxy_header p;
            if (proxy_parse((const unsigned char *)V[i].in, k, &p, err, sizeof err) != PROXY_MORE)
                fail_msg("vector %zu: prefix %zu is not PROXY_MORE (%s)", i, k, err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

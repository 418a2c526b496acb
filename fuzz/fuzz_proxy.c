/* libFuzzer harness for the PROXY protocol header parser (see
 * fuzz/README.md). Besides ASan/UBSan, it aborts when an invariant breaks:
 *   - PROXY_OK takes at least one byte and no more than the input, within
 *     the v1/v2 bounds, and a non-local header holds an IPv4 or IPv6 address;
 *   - PROXY_MORE only below the bounds, and a longer input never turns an
 *     accepted prefix into another header length;
 *   - PROXY_BAD always says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "smtp/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h;
    char err[128];
    enum proxy_result r = proxy_parse(data, size, &h, err, sizeof err);
    if (r == PROXY_OK) {
        check(h.len > 0 && h.len <= size, "header length outside the input");
        check(h.len <= PROXY_V1_MAX || h.len <= PROXY_V2_MAX, "header past the bound");
        check(h.local || h.src.ss_family == AF_INET || h.src.ss_family == AF_INET6,
              "non-local header without an address");
        struct proxy_header again;
        check(proxy_parse(data, h.len, &again, err, sizeof err) == PROXY_OK &&
                  again.len == h.len, "the header alone parses differently");
    } else if (r == PROXY_MORE) {
        check(size < PROXY_V2_MAX, "asks for more past the bound");
    } else {
        check(err[0] != '\0', "refusal without a reason");
    }
    return 0;
}

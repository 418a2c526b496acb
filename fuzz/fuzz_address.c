/* libFuzzer harness for address_parse (see fuzz/README.md).
 * Parses the input under every flag combination and aborts on any broken
 * invariant; ASan/UBSan catch over-reads and undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"

#define ALL_FLAGS (ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 | ADDR_ALLOW_NOBRACKET)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void check_string(const char *s, size_t cap, const char *what)
{
    size_t n = strnlen(s, cap);
    size_t i;

    check(n < cap, what);                   /* NUL-terminated in its field */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        check(c >= 0x20 && c != 0x7f, what);    /* no controls, no NUL */
    }
}

static void check_ok(const struct address *a, int flags, const uint8_t *data,
                     size_t size, size_t used)
{
    char path[ADDR_PATH_MAX + 8];
    struct address b;
    size_t used2, i, n;

    check(used >= 2 || (flags & ADDR_ALLOW_NOBRACKET), "consumed too small");
    check(used <= size, "consumed past the input");
    check_string(a->local, sizeof a->local, "local");
    check_string(a->domain, sizeof a->domain, "domain");
    check_string(a->full, sizeof a->full, "full");
    check(strlen(a->local) <= ADDR_LOCAL_MAX, "local over 64");
    check(strlen(a->domain) <= ADDR_DOMAIN_MAX, "domain over 255");
    check(strlen(a->full) + 2 <= ADDR_PATH_MAX, "path over 256");
    if (!(flags & ADDR_ALLOW_NOBRACKET))
        check(data[0] == '<' && data[used - 1] == '>', "brackets required");

    if (a->is_null) {
        check((flags & ADDR_ALLOW_NULL) != 0, "null path without the flag");
        check(used == 2 && a->full[0] == '\0' && a->local[0] == '\0' &&
              a->domain[0] == '\0', "null path fields");
        return;
    }
    check(a->local[0] != '\0' && a->domain[0] != '\0', "empty local or domain");
    n = strlen(a->local);
    check(strncmp(a->full, a->local, n) == 0 && a->full[n] == '@' &&
          strcmp(a->full + n + 1, a->domain) == 0, "full != local@domain");
    check(a->domain[strlen(a->domain) - 1] != '.', "trailing dot");
    check(a->domain_is_literal == (a->domain[0] == '['), "literal flag");
    if (!(flags & ADDR_ALLOW_UTF8)) {
        check(!a->has_utf8, "has_utf8 without the flag");
        for (i = 0; a->full[i]; i++)
            check((unsigned char)a->full[i] < 0x80, "8-bit without the flag");
    }

    /* "<" full ">" parses back to the same mailbox */
    n = (size_t)snprintf(path, sizeof path, "<%s>", a->full);
    check(n < sizeof path, "re-encode fits");
    check(address_parse(path, n, flags, &b, &used2) == ADDR_OK, "re-parse");
    check(used2 == n && strcmp(b.full, a->full) == 0 &&
          strcmp(b.local, a->local) == 0 && strcmp(b.domain, a->domain) == 0 &&
          b.domain_is_literal == a->domain_is_literal, "re-parse differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct address a, all;
    size_t used = 0, used_all = 0;
    enum addr_status st_all;
    int flags;

    /* the most permissive parse, to compare against */
    st_all = address_parse((const char *)data, size, ALL_FLAGS, &all, &used_all);
    for (flags = 0; flags <= ALL_FLAGS; flags++) {
        enum addr_status st = address_parse((const char *)data, size, flags, &a, &used);
        check(st >= ADDR_OK && st <= ADDR_ERR_NULL, "status in range");
        check(address_strerror(st) != NULL, "strerror");
        if (st != ADDR_OK)
            continue;
        check_ok(&a, flags, data, size, used);
        /* more flags never turn an accepted path into something else */
        check(st_all == ADDR_OK && used_all == used &&
              strcmp(all.full, a.full) == 0 && all.is_null == a.is_null,
              "flags are not monotone");
    }
    return 0;
}

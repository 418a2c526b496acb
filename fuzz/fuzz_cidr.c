/* libFuzzer harness for cidr: tables (see fuzz/README.md).
 *
 * The input is the text of a cidr_table(5) file, loaded with
 * map_open_text; when it loads, a few fixed keys and the input's own first
 * word are looked up. Besides ASan/UBSan, it aborts when an invariant
 * breaks:
 *   - a failed load says why, prefixed with the file name;
 *   - a lookup result is a non-empty string without a line end (values are
 *     logical lines, trimmed);
 *   - a key that is no IP address never matches. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/maps.h"
#include "util/inet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void probe(const struct map *m, const char *key)
{
    char *v = map_lookup(m, key);
    int family;
    unsigned char a[16];
    if (v) {
        check(v[0] != '\0', "empty result");
        check(!strchr(v, '\n'), "result holds a line end");
        check(inet_addr_parse(key, &family, a) == 0, "non-address key matched");
    }
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {
        "192.0.2.1", "10.1.2.3", "0.0.0.0", "255.255.255.255", "::1", "2001:db8::1",
        "::ffff:192.0.2.1", "fe80::1", "mail.example.com", "", "[192.0.2.1]",
    };
    char err[512] = "";
    struct map *m = map_open_text("cidr:/fuzz/table", 0, (const char *)data, size, err,
                                  sizeof err);
    if (!m) {
        check(strncmp(err, "/fuzz/table", 11) == 0, "error without the file name");
        return 0;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        probe(m, keys[i]);
    char word[64];
    size_t n = 0;
    while (n < size && n < sizeof word - 1 && data[n] > ' ' && data[n] != '/')
        n++;
    memcpy(word, data, n);
    word[n] = '\0';
    probe(m, word);
    map_free(m);
    return 0;
}

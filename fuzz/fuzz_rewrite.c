/* libFuzzer harness for rewrite_header_senders (see fuzz/README.md).
 *
 * The first input byte picks the map and add_reply_to; the rest is the
 * message. Besides ASan/UBSan, it aborts when an invariant breaks:
 *   - the return value is 0 or 1 (-1 only on out-of-memory);
 *   - 0 leaves out/outlen untouched;
 *   - the body (everything after the first empty line) is byte-identical
 *     at the end of the output;
 *   - rewriting the output again with the "all" or texthash map changes
 *     nothing (the swapping map is only run twice for the sanitizers).
 * The maps are written once to a temporary directory at start-up. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/rewrite.h"
#include "config/maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct map *maps[3];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static struct map *mk(const char *dir, const char *type, const char *name,
                      const char *text)
{
    char path[512], spec[600], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    check(f != NULL, "create map file");
    fputs(text, f);
    fclose(f);
    snprintf(spec, sizeof spec, "%s:%s", type, path);
    struct map *m = map_open(spec, 0, err, sizeof err);
    if (!m)
        fprintf(stderr, "%s\n", err);
    check(m != NULL, "map_open");
    unlink(path);
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/postern-fuzz-rewrite-XXXXXX";
    check(mkdtemp(dir) != NULL, "mkdtemp");
    maps[0] = mk(dir, "pcre", "all", "/.*/ acct@163.com\n");
    maps[1] = mk(dir, "texthash", "hash",
                 "noreply@sentry.local  acct@163.com\n"
                 "@x                    @163.com\n"
                 "a                     b@c\n");
    /* grows and shrinks addresses, and uses captures */
    maps[2] = mk(dir, "regexp", "swap",
                 "/^([^@]*)@([^@]*)$/  $2@$1\n"
                 "/^(.)(.*)$/          ${2}$1\n");
    rmdir(dir);
    return 0;
}

/* Offset just past the first empty line, or len when there is none. */
static size_t body_start(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t le = nl ? (size_t)(nl - s) + 1 : len;
        size_t n = le - i;
        if ((n == 1 && s[i] == '\n') || (n == 2 && s[i] == '\r' && s[i + 1] == '\n'))
            return le;
        i = le;
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    int reply_to = (data[0] >> 2) & 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char *out = (char *)0x1;
    size_t outlen = 77;

    int rc = rewrite_header_senders(maps[which], reply_to, in, len, &out, &outlen);
    check(rc == 0 || rc == 1, "return value");
    if (rc == 0) {
        check(out == (char *)0x1 && outlen == 77, "out touched on 0");
        return 0;
    }
    size_t bs = body_start(in, len);
    size_t blen = len - bs;
    check(outlen >= blen, "output shorter than the body");
    check(memcmp(out + outlen - blen, in + bs, blen) == 0, "body changed");

    char *out2 = (char *)0x1;
    size_t outlen2 = 77;
    int rc2 = rewrite_header_senders(maps[which], reply_to, out, outlen, &out2,
                                     &outlen2);
    check(rc2 == 0 || rc2 == 1, "return value (second pass)");
    if (which != 2)
        check(rc2 == 0, "second pass changed something");
    if (rc2 == 1)
        free(out2);
    free(out);
    return 0;
}

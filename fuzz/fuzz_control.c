/* libFuzzer harness for control-socket requests (smtp/control.c): the
 * request framing of the daemon's on_read -- one line up to LF, a CR
 * before it dropped, CONTROL_LINE_MAX bytes at most -- then control_parse
 * and the log_sanitize'd copy that is logged.
 *
 * control_parse is pure but lives with the daemon's socket code, so this
 * harness links all of src/ (Makefile); only the parser and log_sanitize
 * are called.
 *
 * Invariants (abort() when broken): a request is accepted exactly when it
 * matches the grammar, checked here independently -- "flush", or a verb
 * (flush, delete, hold, release), one space, and "ALL" or a queue id of 16
 * upper-case hex digits; an accepted request is the verb and id that were
 * sent; a refusal has a reason; the logged copy has no control bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static const char *const verb_names[] = { "flush", "delete", "hold", "release" };

/* The grammar, written out again: the verb index (0..3) and the argument
 * ("", "ALL" or an id) of a valid request, or -1. */
static int reference_parse(const char *line, size_t len, char arg[17])
{
    for (int v = 0; v < 4; v++) {
        size_t vl = strlen(verb_names[v]);
        if (len < vl || memcmp(line, verb_names[v], vl) != 0)
            continue;
        if (len == vl) {
            arg[0] = '\0';
            return v == 0 ? 0 : -1;
        }
        if (line[vl] != ' ')
            continue;
        const char *a = line + vl + 1;
        size_t al = len - vl - 1;
        if (al == 3 && memcmp(a, "ALL", 3) == 0) {
            memcpy(arg, "ALL", 4);
            return v;
        }
        if (al != 16)
            return -1;
        for (size_t i = 0; i < 16; i++)
            if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'F')))
                return -1;
        memcpy(arg, a, 16);
        arg[16] = '\0';
        return v;
    }
    return -1;
}

static void one_request(const char *line, size_t n)
{
    struct control_request req;
    char why[128], arg[17];
    memset(why, 0, sizeof why);
    int rc = control_parse(line, n, &req, why, sizeof why);
    check(rc == 0 || rc == -1, "rc 0 or -1");
    int want = n <= CONTROL_LINE_MAX ? reference_parse(line, n, arg) : -1;
    if (rc == 0) {
        check(want >= 0, "accepted a request outside the grammar");
        check((int)req.verb == want, "the verb that was sent");
        check(strcmp(req.qid, arg) == 0, "the id that was sent");
    } else {
        check(want < 0, "refused a request of the grammar");
        check(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL, "a reason");
    }
    /* what the daemon logs of the request */
    char clean[200];
    log_sanitize(line, n, clean, sizeof clean);
    size_t cl = strnlen(clean, sizeof clean);
    check(cl < sizeof clean, "logged copy terminated");
    for (size_t i = 0; i < cl; i++)
        check((unsigned char)clean[i] >= 0x20 && (unsigned char)clean[i] < 0x7f,
              "no control or 8-bit byte in the log");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the daemon's framing: each LF-terminated line is one request (a
     * connection carries one; the rest are more cases for the fuzzer) */
    size_t off = 0;
    while (off < size) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
        if (n <= CONTROL_LINE_MAX + 1) {
            char *line = malloc(n + 1);       /* exact size: ASan sees overreads */
            if (!line)
                return 0;
            memcpy(line, data + off, n);
            size_t ln = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
            line[ln] = '\0';
            one_request(line, ln);
            free(line);
        }
        off += n + 1;
    }
    return 0;
}

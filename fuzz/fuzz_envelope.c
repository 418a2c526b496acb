/* libFuzzer harness for the queue file decoder: a corrupt queue file must
 * be refused, never crash the daemon or read past the mapping. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private heap copy so ASan sees reads past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct envelope env;
    char err[256];
    memset(&env, 0, sizeof env);
    size_t off = 0;
    if (envelope_decode(buf, size, &env, &off, err, sizeof err) == 0) {
        if (off + env.content_len > size)
            abort();
        /* the same bytes as a state file, applied to the decoded envelope */
        envelope_decode_state(buf, size, &env, err, sizeof err);
        envelope_free(&env);
    }
    free(buf);
    return 0;
}

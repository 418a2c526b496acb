/* libFuzzer harness for the SASL server exchanges (see fuzz/README.md).
 * The first byte picks the mechanisms on offer; the rest is the AUTH
 * argument and then client lines, split at LF. Aborts when an invariant
 * breaks: credentials only on SASL_DONE and then within limits, nothing
 * left in the buffers after an error, a PLAIN result that re-encodes to
 * the same credentials. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static int all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SASL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void check_done(const struct sasl_exchange *x)
{
    check(name_ok(x->authcid), "authcid");
    check(x->authzid[0] == '\0' || strcmp(x->authzid, x->authcid) == 0, "authzid");
    size_t pl = strlen(x->passwd);
    check(pl > 0 && pl <= SASL_PASS_MAX, "password length");
    /* PLAIN: the credentials spelt again give the same result */
    char msg[SASL_NAME_MAX * 2 + SASL_PASS_MAX + 3], arg[SASL_LINE_MAX + 16];
    size_t cl = strlen(x->authcid), n = 0;
    msg[n++] = '\0';
    memcpy(msg + n, x->authcid, cl);
    n += cl;
    msg[n++] = '\0';
    memcpy(msg + n, x->passwd, pl);
    n += pl;
    memcpy(arg, "PLAIN ", 6);
    check(base64_encode(msg, n, arg + 6, sizeof arg - 6) != (size_t)-1, "encode");
    struct sasl_exchange y;
    check(sasl_start(&y, arg, strlen(arg), SASL_MECH_PLAIN) == SASL_DONE, "re-encoded");
    check(strcmp(y.authcid, x->authcid) == 0 && strcmp(y.passwd, x->passwd) == 0,
          "re-encoded credentials");
    sasl_wipe(&y);
}

static void check_status(const struct sasl_exchange *x, enum sasl_status st)
{
    check(st >= SASL_CONTINUE && st <= SASL_ERR_AUTHZID, "status in range");
    if (st == SASL_CONTINUE) {
        check(x->challenge != NULL, "challenge");
        check(strcmp(x->challenge, "") == 0 || strcmp(x->challenge, "VXNlcm5hbWU6") == 0 ||
              strcmp(x->challenge, "UGFzc3dvcmQ6") == 0, "known challenge");
        check(x->mech == SASL_MECH_PLAIN || x->mech == SASL_MECH_LOGIN, "mechanism");
        return;
    }
    if (st == SASL_DONE) {
        check_done(x);
        return;
    }
    check(sasl_reply(st) != NULL, "reply for an error");
    check(all_zero(x->authcid, sizeof x->authcid) && all_zero(x->authzid, sizeof x->authzid) &&
          all_zero(x->passwd, sizeof x->passwd), "wiped after an error");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mechs = data[0] & SASL_MECHS_ALL;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    struct sasl_exchange x;
    enum sasl_status st = sasl_start(&x, p, len, mechs);
    if (mechs == SASL_MECHS_ALL && len == 5 && (strncmp(p, "PLAIN", 5) == 0 ||
                                                strncmp(p, "LOGIN", 5) == 0))
        check(st == SASL_CONTINUE, "a mechanism on offer");
    check_status(&x, st);
    while (nl && st == SASL_CONTINUE) {
        p = nl + 1;
        nl = memchr(p, '\n', (size_t)(end - p));
        len = (size_t)((nl ? nl : end) - p);
        st = sasl_step(&x, p, len);
        check_status(&x, st);
    }
    if (st == SASL_DONE)
        sasl_wipe(&x);
    return 0;
}

/* dkim_int — the signer's layout, shared by dkim.c (configuration) and
 * dkim_sign.c (signing); private to src/dkim/. */
#ifndef POSTERN_DKIM_DKIM_INT_H
#define POSTERN_DKIM_DKIM_INT_H

#include "dkim.h"
#include "dkim_key.h"

#define DKIM_NAME_MAX 80        /* a signed header field's name */

struct dkim_keyent {
    char domain[256];           /* lower case */
    char selector[128];
    EVP_PKEY *key;
    int ed25519;                /* else rsa */
};

struct dkim_signer {
    enum dkim_canon hcanon, bcanon;
    char headers[DKIM_HEADERS_MAX + 1][DKIM_NAME_MAX];  /* lower case, From first if added */
    size_t nheaders;
    struct dkim_keyent *keys;
    size_t nkeys;
};

#endif

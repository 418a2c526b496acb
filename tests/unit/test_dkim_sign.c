/* Unit tests for dkim/dkim.c and dkim_sign.c: the From: domain, the key
 * table, the signer's header list, and signatures checked with OpenSSL
 * against hash inputs written out by hand here (not by canon.c), for
 * rsa-sha256 and ed25519-sha256, simple and relaxed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim/dkim.h"
#include "dkim/dkim_key.h"
#include "util/base64.h"

static EVP_PKEY *rsa_key, *ed_key;

static int setup(void **state)
{
    (void)state;
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return rsa_key && ed_key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ed_key);
    return 0;
}

static EVP_PKEY *ref(EVP_PKEY *k)
{
    EVP_PKEY_up_ref(k);
    return k;
}

static const char *const HEADERS[] = { "From", "To", "Subject", "Date", "Message-ID" };

static struct dkim_signer *signer(enum dkim_canon hc, enum dkim_canon bc, int rsa, int ed)
{
    char err[256];
    struct dkim_signer *s = dkim_signer_new(hc, bc, HEADERS, 5, err, sizeof err);
    assert_non_null(s);
    if (rsa)
        assert_int_equal(dkim_signer_add(s, "Example.COM", "mail", ref(rsa_key), err,
                                         sizeof err), 0);
    if (ed)
        assert_int_equal(dkim_signer_add(s, "example.com", "ed", ref(ed_key), err,
                                         sizeof err), 0);
    return s;
}

/* Sign msg fed in pieces of step bytes; returns the result code. */
static int sign(const struct dkim_signer *s, const char *msg, size_t step, char **out,
                char *err, size_t errlen)
{
    struct dkim_sign *d = dkim_sign_new(s);
    assert_non_null(d);
    size_t len = strlen(msg), outlen;
    for (size_t i = 0; i < len; i += step)
        dkim_sign_feed(d, msg + i, len - i < step ? len - i : step);
    int rc = dkim_sign_finish(d, 1700000000, out, &outlen, err, errlen);
    if (rc == 1)
        assert_int_equal(strlen(*out), outlen);
    dkim_sign_free(d);
    return rc;
}

static const char MSG[] =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject:  Hello\r\n"
    "\tworld  \r\n"
    "X-Other: not signed\r\n"
    "\r\n"
    "Hi  Bob,\r\n"
    "\r\n"
    "\r\n";

/* The value of tag in the field f (unfolded: FWS removed). */
static void tag_of(const char *f, const char *tag, char *out, size_t outlen)
{
    char pat[16];
    snprintf(pat, sizeof pat, " %s=", tag);
    const char *p = strstr(f, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\t%s=", tag);
        p = strstr(f, pat);
    }
    assert_non_null(p);
    p += strlen(pat);
    size_t o = 0;
    for (; *p && *p != ';'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && o + 1 < outlen)
            out[o++] = *p;
    out[o] = '\0';
}

/* Check the signature field f (one field, CRLF-terminated) with key over
 * the canonical header fields hdrs (written by hand) and body bh. */
static void verify(const char *f, EVP_PKEY *key, int ed, const char *hdrs, int relaxed)
{
    /* the field without b='s value, canonicalised by hand */
    const char *b = strstr(f, " b=");
    assert_non_null(b);
    char sigfield[2048];
    size_t n = (size_t)(b - f) + 3;
    assert_true(n < sizeof sigfield);
    memcpy(sigfield, f, n);
    sigfield[n] = '\0';
    char canon[2048];
    if (relaxed) {
        /* unfold, collapse, lower-case the name */
        size_t o = 0;
        int sp = 0;
        strcpy(canon, "dkim-signature:");
        o = strlen(canon);
        for (const char *p = sigfield + strlen("DKIM-Signature:"); *p; p++) {
            if (*p == '\r' || *p == '\n')
                continue;
            if (*p == ' ' || *p == '\t') {
                sp = o > strlen("dkim-signature:");
                continue;
            }
            if (sp)
                canon[o++] = ' ';
            sp = 0;
            canon[o++] = *p;
        }
        canon[o] = '\0';
    } else {
        strcpy(canon, sigfield);
    }
    char input[8192];
    snprintf(input, sizeof input, "%s%s", hdrs, canon);
    char b64[1024];
    tag_of(f, "b", b64, sizeof b64);
    unsigned char sig[512];
    size_t sl = base64_decode(b64, strlen(b64), sig, sizeof sig);
    assert_true(sl != (size_t)-1);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok;
    if (ed) {
        unsigned char dg[32];
        unsigned dl;
        assert_int_equal(EVP_Digest(input, strlen(input), dg, &dl, EVP_sha256(), NULL), 1);
        ok = EVP_DigestVerifyInit(m, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(m, sig, sl, dg, dl) == 1;
    } else {
        ok = EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(m, sig, sl, (const unsigned char *)input, strlen(input)) == 1;
    }
    EVP_MD_CTX_free(m);
    if (!ok)
        fail_msg("signature does not verify over:\n%s", input);
}

static void bh_of(const char *body, char *out)
{
    unsigned char dg[32];
    unsigned dl;
    assert_int_equal(EVP_Digest(body, strlen(body), dg, &dl, EVP_sha256(), NULL), 1);
    base64_encode(dg, dl, out, 64);
}

static void test_relaxed_rsa_ed25519(void **state)
{
    (void)state;
    struct dkim_signer *s = signer(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 1, 1);
    char *out = NULL, err[256], v[1024], bh[64];
    for (size_t step = 1; step <= sizeof MSG; step += 13) {
        assert_int_equal(sign(s, MSG, step, &out, err, sizeof err), 1);
        /* two fields: rsa then ed25519 */
        char *second = strstr(out + 1, "DKIM-Signature:");
        assert_non_null(second);
        second[-1] = '\0';      /* cut after the first field's CRLF... keep the LF out */
        char f1[4096];
        snprintf(f1, sizeof f1, "%s\n", out);
        const char *hdrs = "from:Alice <alice@example.com>\r\n"
                           "to:bob@example.org\r\n"
                           "subject:Hello world\r\n";
        tag_of(f1, "h", v, sizeof v);
        assert_string_equal(v, "from:from:to:subject");
        tag_of(f1, "a", v, sizeof v);
        assert_string_equal(v, "rsa-sha256");
        tag_of(f1, "d", v, sizeof v);
        assert_string_equal(v, "example.com");
        tag_of(f1, "t", v, sizeof v);
        assert_string_equal(v, "1700000000");
        tag_of(f1, "c", v, sizeof v);
        assert_string_equal(v, "relaxed/relaxed");
        assert_null(strstr(f1, " l="));
        bh_of("Hi Bob,\r\n", bh);
        tag_of(f1, "bh", v, sizeof v);
        assert_string_equal(v, bh);
        verify(f1, rsa_key, 0, hdrs, 1);
        tag_of(second, "a", v, sizeof v);
        assert_string_equal(v, "ed25519-sha256");
        tag_of(second, "s", v, sizeof v);
        assert_string_equal(v, "ed");
        verify(second, ed_key, 1, hdrs, 1);
        /* folded lines of at most 78 bytes */
        for (char *p = f1, *e; (e = strstr(p, "\r\n")) != NULL; p = e + 2)
            assert_true(e - p <= 78);
        free(out);
    }
    dkim_signer_free(s);
}

static void test_simple(void **state)
{
    (void)state;
    struct dkim_signer *s = signer(DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE, 1, 0);
    char *out = NULL, err[256], v[1024], bh[64];
    assert_int_equal(sign(s, MSG, 5, &out, err, sizeof err), 1);
    assert_null(strstr(out + 1, "DKIM-Signature:"));
    const char *hdrs = "From: Alice <alice@example.com>\r\n"
                       "To: bob@example.org\r\n"
                       "Subject:  Hello\r\n\tworld  \r\n";
    bh_of("Hi  Bob,\r\n", bh);
    tag_of(out, "bh", v, sizeof v);
    assert_string_equal(v, bh);
    tag_of(out, "c", v, sizeof v);
    assert_string_equal(v, "simple/simple");
    /* the field as sent minus b='s value and the final CRLF */
    verify(out, rsa_key, 0, hdrs, 0);
    free(out);
    dkim_signer_free(s);
}

static void test_empty_body_hashes(void **state)
{
    (void)state;
    char *out = NULL, err[256], v[1024];
    const char *msg = "From: a@example.com\r\n\r\n";
    struct dkim_signer *s = signer(DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE, 0, 1);
    assert_int_equal(sign(s, msg, 100, &out, err, sizeof err), 1);
    tag_of(out, "bh", v, sizeof v);
    assert_string_equal(v, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");   /* "\r\n" */
    free(out);
    dkim_signer_free(s);
    s = signer(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 0, 1);
    /* no empty line at all: all header */
    assert_int_equal(sign(s, "From: a@example.com\r\n", 3, &out, err, sizeof err), 1);
    tag_of(out, "bh", v, sizeof v);
    assert_string_equal(v, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");   /* "" */
    free(out);
    dkim_signer_free(s);
}

static void test_not_signed(void **state)
{
    (void)state;
    struct dkim_signer *s = signer(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, 1, 0);
    char *out = (char *)1, err[256];
    assert_int_equal(sign(s, "From: a@other.example\r\n\r\nx\r\n", 4, &out, err, sizeof err), 0);
    assert_null(out);
    assert_string_equal(err, "no DKIM key for the From: domain");
    assert_int_equal(sign(s, "To: a@example.com\r\n\r\nx\r\n", 4, &out, err, sizeof err), 0);
    assert_string_equal(err, "no From: header field");
    /* the body is not hashed once the answer is known */
    struct dkim_sign *d = dkim_sign_new(s);
    dkim_sign_feed(d, "From: x@y.example\r\n", 19);
    assert_int_equal(dkim_sign_more(d), 1);
    dkim_sign_feed(d, "\r\nbody", 6);
    assert_int_equal(dkim_sign_more(d), 0);
    dkim_sign_free(d);
    dkim_signer_free(s);
}

static void test_from_domain(void **state)
{
    (void)state;
    static const struct { const char *v, *want; } cases[] = {
        { " Alice <alice@Example.COM>", "example.com" },
        { " alice@example.com", "example.com" },
        { " alice@example.com (Alice)", "example.com" },
        { " \"a@b.c <x@y>\" <real@right.example>", "right.example" },
        { " (comment <c@d>) a@e.example", "e.example" },
        { " a@one.example, b@two.example", "one.example" },
        { " <a@trail.example.>", "trail.example" },
        { " =?utf-8?b?5byg5LiJ?= <zs@xn--fiqs8s.example>", "xn--fiqs8s.example" },
        { " nobody", NULL },
        { " <>", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        int rc = dkim_from_domain(cases[i].v, strlen(cases[i].v), out, sizeof out);
        if (!cases[i].want) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(out, cases[i].want);
        }
    }
}

struct kt { char got[8][600]; size_t n; };

static int kt_cb(void *arg, const char *d, const char *s, const char *f, size_t line,
                 char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct kt *k = arg;
    snprintf(k->got[k->n++], sizeof k->got[0], "%zu %s %s %s", line, d, s, f);
    return 0;
}

static void test_keytable(void **state)
{
    (void)state;
    struct kt k = { .n = 0 };
    char err[512];
    const char *t = "# domain selector keyfile\n"
                    "example.com  mail  /etc/postern/dkim/mail.pem\r\n"
                    "\n"
                    "example.com\ted\t/etc/postern/dkim/ed.pem\n"
                    "mail._domainkey.example.org example.org:sel:/k/org.private\n";
    assert_int_equal(dkim_keytable_parse(t, strlen(t), "kt", kt_cb, &k, err, sizeof err), 0);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.got[0], "2 example.com mail /etc/postern/dkim/mail.pem");
    assert_string_equal(k.got[1], "4 example.com ed /etc/postern/dkim/ed.pem");
    assert_string_equal(k.got[2], "5 example.org sel /k/org.private");
    static const struct { const char *t, *want; } bad[] = {
        { "example.com mail\n", "kt:1: expected \"domain selector keyfile\"" },
        { "\nexample.com mail key.pem\n", "kt:2: key file \"key.pem\" is not an absolute" },
        { "exa mple.com x y z\n", "kt:1: expected" },
        { "ex..ample.com s /k\n", "kt:1: \"ex..ample.com\" is not a domain name" },
        { "example.com s;x /k\n", "kt:1: \"s;x\" is not a DKIM selector" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        k.n = 0;
        assert_int_equal(dkim_keytable_parse(bad[i].t, strlen(bad[i].t), "kt", kt_cb, &k, err,
                                             sizeof err), -1);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("got \"%s\", want \"%s\"", err, bad[i].want);
    }
}

static void test_signer_headers(void **state)
{
    (void)state;
    char err[256];
    const char *const no_from[] = { "Subject" };
    struct dkim_signer *s = dkim_signer_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, no_from, 1,
                                            err, sizeof err);
    assert_non_null(s);
    assert_int_equal(dkim_signer_add(s, "example.com", "m", ref(rsa_key), err, sizeof err), 0);
    char *out;
    assert_int_equal(sign(s, MSG, 1000, &out, err, sizeof err), 1);
    char v[256];
    tag_of(out, "h", v, sizeof v);
    assert_string_equal(v, "from:from:subject");
    free(out);
    assert_int_equal(dkim_signer_add(s, "bad domain", "m", ref(rsa_key), err, sizeof err), -1);
    assert_int_equal(dkim_signer_nkeys(s), 1);
    dkim_signer_free(s);
    const char *const bad[] = { "Sub:ject" };
    assert_null(dkim_signer_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, bad, 1, err, sizeof err));
    assert_non_null(strstr(err, "Sub:ject"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relaxed_rsa_ed25519),
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_empty_body_hashes),
        cmocka_unit_test(test_not_signed),
        cmocka_unit_test(test_from_domain),
        cmocka_unit_test(test_keytable),
        cmocka_unit_test(test_signer_headers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for dkim/dkim_key: loading PEM private keys (mode checks,
 * short RSA, PKCS#1 and PKCS#8), and the public-key record derived from
 * them, checked against OpenSSL's own encoding of the public key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim/dkim_key.h"
#include "util/base64.h"

/* Write key as PEM (traditional PKCS#1 for RSA when pkcs1) to a new file
 * of the given mode; the path goes into path. */
static void write_key(EVP_PKEY *key, int pkcs1, mode_t mode, char *path)
{
    strcpy(path, "/tmp/postern-dkimkey-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    BIO *b = BIO_new_fd(fd, BIO_CLOSE);
    assert_non_null(b);
    if (pkcs1)
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL,
                                                              NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    BIO_free(b);
    assert_int_equal(chmod(path, mode), 0);
}

static void check_record(EVP_PKEY *key, const char *type)
{
    char *rec = dkim_pubkey_record(key);
    assert_non_null(rec);
    char want_head[64];
    snprintf(want_head, sizeof want_head, "v=DKIM1; k=%s; p=", type);
    assert_memory_equal(rec, want_head, strlen(want_head));
    const char *p = rec + strlen(want_head);
    unsigned char dec[2048];
    size_t n = base64_decode(p, strlen(p), dec, sizeof dec);
    assert_true(n != (size_t)-1);
    if (strcmp(type, "rsa") == 0) {
        unsigned char *der = NULL;
        int dl = i2d_PUBKEY(key, &der);
        assert_int_equal((size_t)dl, n);
        assert_memory_equal(der, dec, n);
        OPENSSL_free(der);
    } else {
        unsigned char raw[32];
        size_t rl = sizeof raw;
        assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &rl), 1);
        assert_int_equal(n, 32);
        assert_memory_equal(raw, dec, 32);
        assert_int_equal(strlen(p), 44);
    }
    free(rec);
}

static void test_rsa_load_and_record(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(key);
    for (int pkcs1 = 0; pkcs1 <= 1; pkcs1++) {
        char path[64], err[512];
        write_key(key, pkcs1, 0600, path);
        EVP_PKEY *got = dkim_key_load(path, err, sizeof err);
        assert_non_null(got);
        assert_string_equal(dkim_key_type(got), "rsa");
        assert_int_equal(EVP_PKEY_eq(got, key), 1);
        check_record(got, "rsa");
        EVP_PKEY_free(got);
        unlink(path);
    }
    EVP_PKEY_free(key);
}

static void test_ed25519_load_and_record(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(key);
    char path[64], err[512];
    write_key(key, 0, 0400, path);
    EVP_PKEY *got = dkim_key_load(path, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(dkim_key_type(got), "ed25519");
    check_record(got, "ed25519");
    EVP_PKEY_free(got);
    unlink(path);
    EVP_PKEY_free(key);
}

static void test_readable_refused(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char path[64], err[512], want[200];
    static const mode_t modes[] = { 0640, 0604, 0644, 0660 };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_key(key, 0, modes[i], path);
        assert_null(dkim_key_load(path, err, sizeof err));
        snprintf(want, sizeof want, "chmod 600 %s", path);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, path));
        assert_null(strstr(err, "PRIVATE KEY"));
        unlink(path);
    }
    EVP_PKEY_free(key);
}

static void test_bad_keys(void **state)
{
    (void)state;
    char err[512];
    /* too short */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
    assert_non_null(small);
    char path[64];
    write_key(small, 1, 0600, path);
    assert_null(dkim_key_load(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "768 bits"));
    unlink(path);
    EVP_PKEY_free(small);
    /* not a key, a missing file, a public key, another key type */
    assert_null(dkim_key_parse("hello", 5, "k.pem", err, sizeof err));
    assert_non_null(strstr(err, "k.pem: not a private key in PEM"));
    assert_null(dkim_key_load("/nonexistent/dkim.pem", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dkim.pem"));
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    write_key(ec, 0, 0600, path);
    assert_null(dkim_key_load(path, err, sizeof err));
    assert_non_null(strstr(err, "neither RSA nor Ed25519"));
    assert_null(dkim_pubkey_record(ec));
    unlink(path);
    EVP_PKEY_free(ec);
    assert_null(dkim_key_type(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_load_and_record),
        cmocka_unit_test(test_ed25519_load_and_record),
        cmocka_unit_test(test_readable_refused),
        cmocka_unit_test(test_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

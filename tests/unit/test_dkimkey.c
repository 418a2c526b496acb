/* Unit tests for cli/dkimkey: generated keys give the record of RFC 6376
 * (RSA: SubjectPublicKeyInfo) and RFC 8463 (Ed25519: the raw 32 bytes),
 * a key written and read back gives the same record, and the refusals
 * (sizes out of range, a key file others can read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/dkimkey.h"
#include "util/base64.h"

/* Write pem to a new file of the given mode; its path in path. */
static void write_key(const struct dkimkey *k, mode_t mode, char *path)
{
    strcpy(path, "/tmp/test_dkimkey-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, k->pem, k->pem_len), (ssize_t)k->pem_len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static size_t p_bytes(const char *record, const char *prefix, unsigned char *out, size_t outlen)
{
    assert_true(strncmp(record, prefix, strlen(prefix)) == 0);
    const char *p = record + strlen(prefix);
    return base64_decode(p, strlen(p), out, outlen);
}

static void test_rsa(void **state)
{
    (void)state;
    struct dkimkey k, back;
    char err[600], path[64];
    assert_int_equal(dkimkey_generate(DKIMKEY_RSA, 1024, &k, err, sizeof err), 0);
    assert_int_equal(k.bits, 1024);
    assert_non_null(strstr(k.pem, "-----BEGIN PRIVATE KEY-----"));
    unsigned char der[600];
    size_t n = p_bytes(k.record, "v=DKIM1; k=rsa; p=", der, sizeof der);
    assert_int_equal(n, 162);           /* the SPKI DER of a 1024-bit key */
    assert_int_equal(der[0], 0x30);
    write_key(&k, 0600, path);
    assert_int_equal(dkimkey_load(path, &back, err, sizeof err), 0);
    assert_string_equal(back.record, k.record);
    assert_null(back.pem);
    dkimkey_free(&back);
    /* readable by the group: refused, with the fix and without the key */
    chmod(path, 0640);
    assert_int_equal(dkimkey_load(path, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(strstr(err, "PRIVATE"));
    unlink(path);
    dkimkey_free(&k);
    assert_null(k.pem);
}

static void test_ed25519(void **state)
{
    (void)state;
    struct dkimkey k, back;
    char err[600], path[64];
    assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, 0, &k, err, sizeof err), 0);
    unsigned char raw[64];
    assert_int_equal(p_bytes(k.record, "v=DKIM1; k=ed25519; p=", raw, sizeof raw), 32);
    write_key(&k, 0600, path);
    assert_int_equal(dkimkey_load(path, &back, err, sizeof err), 0);
    assert_string_equal(back.record, k.record);
    assert_int_equal(back.type, DKIMKEY_ED25519);
    dkimkey_free(&back);
    unlink(path);
    dkimkey_free(&k);
}

static void test_refused(void **state)
{
    (void)state;
    struct dkimkey k;
    char err[600], path[64];
    assert_int_equal(dkimkey_generate(DKIMKEY_RSA, 1023, &k, err, sizeof err), -1);
    assert_int_equal(dkimkey_generate(DKIMKEY_RSA, 4097, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "1024 to 4096"));
    /* not a key */
    strcpy(path, "/tmp/test_dkimkey-XXXXXX");
    int fd = mkstemp(path);
    assert_true(write(fd, "hello\n", 6) == 6);
    close(fd);
    assert_int_equal(dkimkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a private key in PEM"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("dkimkey", tests, NULL, NULL);
}

/* Unit tests for util/base64: the RFC 4648 vectors both ways, and the
 * strict decoder's refusals (one spelling per value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/base64.h"
#include "util/sbuf.h"

static const struct { const char *plain, *b64; } vectors[] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
    { "Username:", "VXNlcm5hbWU6" },
    { "Password:", "UGFzc3dvcmQ6" },
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char enc[64];
        unsigned char dec[64];
        size_t pl = strlen(vectors[i].plain), bl = strlen(vectors[i].b64);
        assert_int_equal(base64_encode(vectors[i].plain, pl, enc, sizeof enc), bl);
        assert_string_equal(enc, vectors[i].b64);
        assert_int_equal(base64_decode(vectors[i].b64, bl, dec, sizeof dec), pl);
        assert_memory_equal(dec, vectors[i].plain, pl);
    }
}

static void test_binary_round_trip(void **state)
{
    (void)state;
    unsigned char in[256], back[256];
    char enc[BASE64_ENCODED_SIZE(256)];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)(255 - i);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t el = base64_encode(in, n, enc, sizeof enc);
        assert_int_equal(el, (n + 2) / 3 * 4);
        assert_int_equal(base64_decode(enc, el, back, sizeof back), n);
        assert_memory_equal(back, in, n);
    }
    /* "AP8=" is 00 ff */
    assert_int_equal(base64_decode("AP8=", 4, back, sizeof back), 2);
    assert_int_equal(back[0], 0);
    assert_int_equal(back[1], 0xff);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg", "Zg=", "Zm9", "Z", "Zg===", "====", "=Zg=", "Z=g=", "Zm=v",
        "Zg==Zg==",             /* padding in the middle */
        "Zh==",                 /* bits in the padding: Zg== spelt another way */
        "Zm9=",                 /* Zm8= spelt another way */
        "Zm9v\r\n", "Zm 9v", " Zm9v", "Zm9v-_==", "Zm9v\0\0\0\0", "Zm9\xc3\xa9",
    };
    unsigned char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        if (i == 16)
            len = 8;            /* with its NULs */
        if (base64_decode(bad[i], len, out, sizeof out) != (size_t)-1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void test_buffer_limits(void **state)
{
    (void)state;
    char enc[9];
    unsigned char dec[6];
    /* 6 bytes need 8 characters and the NUL */
    assert_int_equal(base64_encode("foobar", 6, enc, 8), (size_t)-1);
    assert_int_equal(base64_encode("foobar", 6, enc, 9), 8);
    assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 5), (size_t)-1);
    assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 6), 6);
    assert_int_equal(base64_decode("Zm9vYg==", 8, dec, 4), 4);
    assert_int_equal(base64_encode("", 0, enc, 1), 0);
    assert_string_equal(enc, "");
    assert_int_equal(base64_encode("", 0, enc, 0), (size_t)-1);
}

/* base64_append encodes in pieces that join: the same text as one
 * base64_encode of the whole, for every length around the piece size. */
static void test_append(void **state)
{
    (void)state;
    unsigned char in[200];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        char whole[BASE64_ENCODED_SIZE(sizeof in)];
        size_t wl = base64_encode(in, n, whole, sizeof whole);
        struct sbuf b = SBUF_INIT;
        sbuf_str(&b, "x");
        base64_append(&b, in, n);
        assert_false(b.oom);
        assert_int_equal(b.len, 1 + wl);
        assert_memory_equal(b.s + 1, whole, wl);
        sbuf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_buffer_limits),
        cmocka_unit_test(test_append),
    };
    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}

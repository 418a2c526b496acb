/* Unit tests for the file bundle the privileged parent sends the worker:
 * a round trip keeps every byte (NULs included), and every truncation or
 * corruption of the wire form is refused, never read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/fbundle.h"
#include "util/sbuf.h"

static struct sbuf encoded_pair(void)
{
    struct fbundle *fb = fbundle_new_recorder();
    assert_non_null(fb);
    assert_int_equal(fbundle_put(fb, "/etc/postern/postern.cf", "a = b\n", 6), 0);
    assert_int_equal(fbundle_put(fb, "/etc/postern/sasl_passwd", "k u:p\0x", 7), 0);
    assert_int_equal(fbundle_put(fb, "/etc/postern/postern.cf", "c = d\n", 6), 0);
    assert_int_equal(fbundle_is_replay(fb), 0);
    struct sbuf b = SBUF_INIT;
    assert_int_equal(fbundle_encode(fb, &b), 0);
    fbundle_free(fb);
    return b;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct sbuf b = encoded_pair();
    char err[128];
    struct fbundle *fb = fbundle_decode(b.s, b.len, err, sizeof err);
    assert_non_null(fb);
    assert_int_equal(fbundle_is_replay(fb), 1);
    size_t len = 0;
    const char *t = fbundle_get(fb, "/etc/postern/postern.cf", &len);
    assert_non_null(t);
    assert_int_equal(len, 6);
    assert_string_equal(t, "c = d\n");
    t = fbundle_get(fb, "/etc/postern/sasl_passwd", &len);
    assert_int_equal(len, 7);
    assert_memory_equal(t, "k u:p\0x", 7);
    assert_null(fbundle_get(fb, "/etc/shadow", &len));
    fbundle_free(fb);
    sbuf_free(&b);
}

static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    struct sbuf b = encoded_pair();
    char err[128];
    /* every cut inside a record must fail; cuts between records are a
     * shorter, valid bundle */
    size_t first = 4 + strlen("/etc/postern/postern.cf") + 4 + 6;
    for (size_t n = 1; n < b.len; n++) {
        char *copy = malloc(n);
        memcpy(copy, b.s, n);
        struct fbundle *fb = fbundle_decode(copy, n, err, sizeof err);
        if (n == first) {
            assert_non_null(fb);
        } else {
            assert_null(fb);
            assert_non_null(strstr(err, "malformed file bundle"));
        }
        fbundle_free(fb);
        free(copy);
    }
    sbuf_free(&b);
}

static void test_bad_lengths_are_refused(void **state)
{
    (void)state;
    char err[128];
    /* a path length of 0, a huge path length, a data length past the end */
    uint32_t zero[2] = { 0, 0 };
    assert_null(fbundle_decode((const char *)zero, sizeof zero, err, sizeof err));
    char buf[16];
    uint32_t huge = 0xffffffffu;
    memcpy(buf, &huge, 4);
    memset(buf + 4, 'a', 12);
    assert_null(fbundle_decode(buf, sizeof buf, err, sizeof err));
    uint32_t one = 1;
    memcpy(buf, &one, 4);
    buf[4] = '/';
    memcpy(buf + 5, &huge, 4);
    assert_null(fbundle_decode(buf, 9, err, sizeof err));
    /* a NUL inside a path */
    uint32_t two = 2;
    char nul[10] = { 0 };
    memcpy(nul, &two, 4);
    nul[4] = '/';
    assert_null(fbundle_decode(nul, 10, err, sizeof err));
    /* empty is an empty bundle */
    struct fbundle *fb = fbundle_decode("", 0, err, sizeof err);
    assert_non_null(fb);
    fbundle_free(fb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_bad_lengths_are_refused),
    };
    return cmocka_run_group_tests_name("fbundle", tests, NULL, NULL);
}

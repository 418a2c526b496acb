/* Unit tests for util/sbuf: growth, NUL termination, printf, take/free, and
 * the sticky oom flag (reached through the size-overflow check and through
 * an allocation that fails). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/sbuf.h"

/* Let a huge request fail with NULL instead of ASan aborting the test (it
 * still prints "WARNING: AddressSanitizer failed to allocate ...": that is
 * expected here). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void assert_terminated(const struct sbuf *b)
{
    assert_non_null(b->s);
    assert_true(b->len < b->cap);
    assert_int_equal(b->s[b->len], '\0');
}

static void test_empty(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    assert_null(b.s);
    assert_int_equal(b.len, 0);

    /* an empty append allocates: the text is then "" */
    sbuf_add(&b, NULL, 0);
    assert_terminated(&b);
    assert_string_equal(b.s, "");
    assert_int_equal(b.oom, 0);
    sbuf_free(&b);
    assert_null(b.s);
    assert_int_equal(b.cap, 0);

    /* take of a buffer never written to: "" */
    size_t len = 99;
    char *s = sbuf_take(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);

    /* free of an unused buffer, twice */
    sbuf_free(&b);
    sbuf_free(&b);
}

static void test_append_kinds(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_str(&b, "abc");
    assert_terminated(&b);
    sbuf_char(&b, '-');
    sbuf_add(&b, "xyz!!", 3);
    sbuf_printf(&b, "%d/%s/%02x", 42, "q", 10);
    sbuf_str(&b, "");
    assert_terminated(&b);
    assert_string_equal(b.s, "abc-xyz42/q/0a");
    assert_int_equal(b.len, strlen("abc-xyz42/q/0a"));

    /* bytes with NULs are kept, and still terminated */
    sbuf_add(&b, "\0\1", 2);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.s + 14, "\0\1", 2);
    assert_terminated(&b);
    sbuf_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    char expect[10000];
    size_t cap = 0;
    int grew = 0;
    for (size_t i = 0; i < sizeof expect - 1; i++) {
        char c = (char)('a' + i % 26);
        expect[i] = c;
        sbuf_char(&b, c);
        assert_int_equal(b.len, i + 1);
        assert_terminated(&b);
        if (b.cap != cap) {
            assert_true(b.cap > cap);
            cap = b.cap;
            grew++;
        }
    }
    expect[sizeof expect - 1] = '\0';
    assert_string_equal(b.s, expect);
    /* geometric: a handful of reallocations for 10,000 single bytes */
    assert_true(grew > 1 && grew < 20);

    /* one append much larger than the capacity */
    struct sbuf c = SBUF_INIT;
    sbuf_str(&c, "x");
    sbuf_add(&c, expect, sizeof expect - 1);
    assert_int_equal(c.len, sizeof expect);
    assert_terminated(&c);
    assert_int_equal(c.s[0], 'x');
    assert_memory_equal(c.s + 1, expect, sizeof expect - 1);
    sbuf_free(&b);
    sbuf_free(&c);
}

static void test_printf_long(void **state)
{
    (void)state;
    /* longer than the first allocation and than the formatting scratch
     * space, alone and after existing text */
    static const size_t sizes[] = { 0, 1, 63, 64, 65, 255, 256, 257, 1000, 5000, 100000 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *arg = malloc(n + 1);
        assert_non_null(arg);
        for (size_t i = 0; i < n; i++)
            arg[i] = (char)('A' + i % 26);
        arg[n] = '\0';

        struct sbuf b = SBUF_INIT;
        sbuf_printf(&b, "<%s|%zu>", arg, n);
        assert_terminated(&b);
        assert_int_equal(b.len, n + 2 + (size_t)snprintf(NULL, 0, "%zu>", n));
        assert_int_equal(b.s[0], '<');
        assert_memory_equal(b.s + 1, arg, n);

        /* again, appended to what is there */
        size_t before = b.len;
        sbuf_printf(&b, "%s%s", arg, "END");
        assert_terminated(&b);
        assert_int_equal(b.len, before + n + 3);
        assert_memory_equal(b.s + before, arg, n);
        assert_string_equal(b.s + before + n, "END");

        /* and with a precision and width */
        sbuf_truncate(&b, 0);
        sbuf_printf(&b, "%.*s%*d", (int)(n / 2), arg, 300, 7);
        assert_terminated(&b);
        assert_int_equal(b.len, n / 2 + 300);
        assert_int_equal(b.s[b.len - 1], '7');
        sbuf_free(&b);
        free(arg);
    }
}

static void test_truncate(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_truncate(&b, 0);           /* nothing to do, nothing allocated */
    assert_null(b.s);
    sbuf_str(&b, "hello, world");
    sbuf_truncate(&b, 100);         /* longer: no-op */
    assert_string_equal(b.s, "hello, world");
    sbuf_truncate(&b, 5);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.s, "hello");
    sbuf_str(&b, "!");
    assert_string_equal(b.s, "hello!");
    sbuf_truncate(&b, 0);
    assert_string_equal(b.s, "");
    sbuf_free(&b);
}

static void test_take(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_str(&b, "first");
    size_t len = 0;
    char *s = sbuf_take(&b, &len);
    assert_string_equal(s, "first");
    assert_int_equal(len, 5);
    /* the buffer is left empty and reusable */
    assert_null(b.s);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    sbuf_str(&b, "second");
    char *t = sbuf_take(&b, NULL);
    assert_string_equal(t, "second");
    assert_string_equal(s, "first");
    free(s);
    free(t);
    sbuf_free(&b);                  /* after take: harmless */
}

/* After oom: appends are ignored, the earlier text is intact and
 * terminated, take returns NULL (ENOMEM) and frees, the buffer is reset. */
static void check_oom_state(struct sbuf *b, const char *kept)
{
    assert_int_equal(b->oom, 1);
    assert_terminated(b);
    assert_string_equal(b->s, kept);
    sbuf_str(b, "more");
    sbuf_char(b, 'c');
    sbuf_add(b, "xy", 2);
    sbuf_printf(b, "%s %d", "fmt", 1);
    assert_int_equal(sbuf_reserve(b, 1), -1);
    assert_string_equal(b->s, kept);
    assert_int_equal(b->len, strlen(kept));
    sbuf_truncate(b, 1);
    assert_int_equal(b->oom, 1);    /* sticky */
    size_t len = 77;
    errno = 0;
    assert_null(sbuf_take(b, &len));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(len, 0);
    assert_null(b->s);              /* freed (ASan would see a leak) */
    assert_int_equal(b->oom, 0);
    /* usable again */
    sbuf_str(b, "ok");
    assert_string_equal(b->s, "ok");
    sbuf_free(b);
}

static void test_oom_overflow(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_str(&b, "keep");
    /* len + n + 1 wraps: refused before any allocation or copy */
    sbuf_add(&b, "x", SIZE_MAX);
    check_oom_state(&b, "keep");

    sbuf_str(&b, "keep");
    sbuf_add(&b, "x", SIZE_MAX - 4);    /* exactly wraps to 0 */
    check_oom_state(&b, "keep");

    /* the largest size that does not wrap (SIZE_MAX bytes with the NUL):
     * asked for, and refused by the allocator */
    sbuf_str(&b, "keep");
    assert_int_equal(sbuf_reserve(&b, SIZE_MAX - 5), -1);
    check_oom_state(&b, "keep");
}

static void test_oom_alloc(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_str(&b, "abc");
    /* a size no allocator grants: realloc fails, nothing is copied */
    assert_int_equal(sbuf_reserve(&b, (size_t)1 << 62), -1);
    check_oom_state(&b, "abc");

    /* failure on the very first allocation: nothing to keep */
    struct sbuf c = SBUF_INIT;
    sbuf_add(&c, "x", (size_t)1 << 62);
    assert_int_equal(c.oom, 1);
    assert_null(c.s);
    sbuf_str(&c, "ignored");
    assert_null(c.s);
    assert_null(sbuf_take(&c, NULL));
    assert_int_equal(c.oom, 0);
}

static void test_html(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_html(&b, "<script>alert('x')</script>&\"a\x07\xc3\xa9");
    char *t = sbuf_take(&b, NULL);
    assert_non_null(t);
    assert_string_equal(t, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;a\\x07\xc3\xa9");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_kinds),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_printf_long),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_oom_overflow),
        cmocka_unit_test(test_oom_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

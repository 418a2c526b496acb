/* queue_view's filter (parse and match) and queue_page's escaping: pure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/queue_page.h"
#include "daemon/queue_view.h"
#include "util/sbuf.h"

static void test_filter_parse(void **state)
{
    (void)state;
    struct queue_filter f;
    char why[128];
    assert_int_equal(queue_filter_parse(NULL, &f, why, sizeof why), 0);
    assert_string_equal(f.state, "");
    assert_int_equal(queue_filter_parse("state=hold&sender=a%40b&recipient=x+y&min_age=60",
                                        &f, why, sizeof why), 0);
    assert_string_equal(f.state, "hold");
    assert_string_equal(f.sender, "a@b");
    assert_string_equal(f.recipient, "x y");
    assert_int_equal(f.min_age, 60);
    assert_int_equal(queue_filter_parse("state=", &f, why, sizeof why), 0);
    assert_int_equal(queue_filter_parse("state=frozen", &f, why, sizeof why), -1);
    assert_non_null(strstr(why, "active, deferred or hold"));
    assert_int_equal(queue_filter_parse("min_age=", &f, why, sizeof why), -1);
    assert_int_equal(queue_filter_parse("min_age=1h", &f, why, sizeof why), -1);
    assert_int_equal(queue_filter_parse("min_age=-5", &f, why, sizeof why), -1);
    assert_int_equal(queue_filter_parse("min_age=99999999999999999999", &f, why, sizeof why),
                     -1);
    char big[400] = "sender=";
    memset(big + 7, 'a', 300);
    big[307] = '\0';
    assert_int_equal(queue_filter_parse(big, &f, why, sizeof why), -1);
}

static void test_filter_match(void **state)
{
    (void)state;
    struct env_rcpt r[2] = { { "ops@Customer.test", RCPT_DEFERRED, "4.4.1", NULL },
                             { "cfo@other.test", RCPT_SENT, "2.0.0", NULL } };
    struct envelope e = { .sender = "Billing@example.com", .arrival_sec = 1000, .nrcpt = 2,
                          .rcpt = r };
    struct queue_filter f = { 0 };
    assert_true(queue_filter_match(&f, "deferred", &e, 1000));
    strcpy(f.state, "hold");
    assert_false(queue_filter_match(&f, "deferred", &e, 1000));
    strcpy(f.state, "deferred");
    strcpy(f.sender, "billing@");
    assert_true(queue_filter_match(&f, "deferred", &e, 1000));
    strcpy(f.sender, "nobody");
    assert_false(queue_filter_match(&f, "deferred", &e, 1000));
    f.sender[0] = '\0';
    strcpy(f.recipient, "customer.TEST");
    assert_true(queue_filter_match(&f, "deferred", &e, 1000));
    strcpy(f.recipient, "cfo@other.test");
    assert_true(queue_filter_match(&f, "deferred", &e, 1000));
    strcpy(f.recipient, "ceo@");
    assert_false(queue_filter_match(&f, "deferred", &e, 1000));
    f.recipient[0] = '\0';
    f.min_age = 60;
    assert_false(queue_filter_match(&f, "deferred", &e, 1059));
    assert_true(queue_filter_match(&f, "deferred", &e, 1060));
}

static void test_page_escapes(void **state)
{
    (void)state;
    struct env_rcpt r = { "<b>@x", RCPT_DEFERRED, "4.4.1", "said: <img src=x onerror=1>" };
    struct queue_item it = { "deferred", { .qid = "6B0CDB227D60438D",
                                           .sender = "\"<script>x</script>\"@evil",
                                           .sasl_username = "a&b", .nrcpt = 1, .rcpt = &r } };
    struct queue_list l = { &it, 1, 0 };
    struct queue_filter f = { 0 };
    strcpy(f.sender, "\"><script>");
    struct queue_page_args a = { &l, &f, "<u>", 1, "<i>done</i>", 0, 0 };
    struct sbuf b = SBUF_INIT;
    queue_page_render(&b, &a);
    char *t = sbuf_take(&b, NULL);
    assert_non_null(t);
    assert_null(strstr(t, "<script"));
    assert_null(strstr(t, "<img"));
    assert_null(strstr(t, "<b>@"));
    assert_null(strstr(t, "<u>"));
    assert_null(strstr(t, "<i>"));
    assert_non_null(strstr(t, "&quot;&lt;script&gt;x&lt;/script&gt;&quot;@evil"));
    assert_non_null(strstr(t, "value=\"&quot;&gt;&lt;script&gt;\""));
    assert_non_null(strstr(t, "a&amp;b"));
    assert_non_null(strstr(t, "data-qid=\"6B0CDB227D60438D\""));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_parse),
        cmocka_unit_test(test_filter_match),
        cmocka_unit_test(test_page_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

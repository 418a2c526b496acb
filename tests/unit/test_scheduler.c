/* Unit tests for the retry arithmetic (pure part of the scheduler). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue/scheduler.h"

static void test_backoff(void **state)
{
    (void)state;
    /* seed 001: minimal 300s, maximal 3600s */
    assert_int_equal(scheduler_backoff(1, 300, 3600), 300);
    assert_int_equal(scheduler_backoff(2, 300, 3600), 600);
    assert_int_equal(scheduler_backoff(3, 300, 3600), 1200);
    assert_int_equal(scheduler_backoff(4, 300, 3600), 2400);
    assert_int_equal(scheduler_backoff(5, 300, 3600), 3600);
    assert_int_equal(scheduler_backoff(60, 300, 3600), 3600);
    assert_int_equal(scheduler_backoff(0, 300, 3600), 300);
    /* test-sized values and degenerate ones */
    assert_int_equal(scheduler_backoff(3, 1, 2), 2);
    assert_int_equal(scheduler_backoff(1, 0, 0), 1);
    assert_int_equal(scheduler_backoff(100000, 1, 1LL << 40), 1LL << 40);
}

static void test_next_run(void **state)
{
    (void)state;
    /* queue runs at 1000, 1300, 1600, ... (queue_run_delay 300s) */
    assert_int_equal(scheduler_next_run(1000, 300, 1000), 1000);
    assert_int_equal(scheduler_next_run(1000, 300, 1001), 1300);
    assert_int_equal(scheduler_next_run(1000, 300, 1300), 1300);
    assert_int_equal(scheduler_next_run(1000, 300, 1599), 1600);
    assert_int_equal(scheduler_next_run(1000, 3600, 1300), 4600);
    assert_int_equal(scheduler_next_run(1000, 300, 500), 1000);
    assert_int_equal(scheduler_next_run(1000, 0, 1234), 1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_next_run),
    };
    return cmocka_run_group_tests_name("scheduler", tests, NULL, NULL);
}

/* Unit tests for the dead-destination arithmetic (deliver/deadhop.c):
 * cohorts, the dead time, the probe, revival. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deliver/deadhop.h"

#define DEAD 60000LL

static void test_one_failure_kills_at_limit_one(void **state)
{
    (void)state;
    struct deadhop h = { 0 };
    assert_int_equal(deadhop_check(&h, 1000), DEADHOP_GO);
    assert_int_equal(deadhop_fail(&h, 1000, 1, 1, DEAD), 1);
    assert_int_equal(deadhop_check(&h, 1000), DEADHOP_DEFER);
    assert_int_equal(deadhop_check(&h, 1000 + DEAD - 1), DEADHOP_DEFER);
    assert_int_equal(deadhop_check(&h, 1000 + DEAD), DEADHOP_PROBE);
}

static void test_cohorts_count_by_concurrency(void **state)
{
    (void)state;
    struct deadhop h = { 0 };
    /* four attempts in flight: four failures make one cohort */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(deadhop_fail(&h, 0, 4, 1, DEAD), 0);
        assert_int_equal(deadhop_check(&h, 0), DEADHOP_GO);
    }
    assert_int_equal(deadhop_fail(&h, 0, 4, 1, DEAD), 1);
    assert_int_equal(deadhop_check(&h, 0), DEADHOP_DEFER);

    /* limit 2: two single failures; a success in between starts over */
    struct deadhop g = { 0 };
    assert_int_equal(deadhop_fail(&g, 0, 1, 2, DEAD), 0);
    assert_int_equal(deadhop_ok(&g), 0);
    assert_int_equal(deadhop_fail(&g, 0, 1, 2, DEAD), 0);
    assert_int_equal(deadhop_fail(&g, 0, 1, 2, DEAD), 1);
    /* inflight 0 counts as 1 */
    struct deadhop z = { 0 };
    assert_int_equal(deadhop_fail(&z, 0, 0, 1, DEAD), 1);
}

static void test_limit_zero_never_dead(void **state)
{
    (void)state;
    struct deadhop h = { 0 };
    for (int i = 0; i < 100; i++)
        assert_int_equal(deadhop_fail(&h, i, 1, 0, DEAD), 0);
    assert_int_equal(deadhop_check(&h, 100), DEADHOP_GO);
}

static void test_probe_waits_then_fails_or_revives(void **state)
{
    (void)state;
    struct deadhop h = { 0 };
    deadhop_fail(&h, 0, 1, 1, DEAD);
    assert_int_equal(deadhop_check(&h, DEAD), DEADHOP_PROBE);
    deadhop_probe_start(&h);
    /* the others wait for the probe, even long after the dead time */
    assert_int_equal(deadhop_check(&h, DEAD), DEADHOP_WAIT);
    assert_int_equal(deadhop_check(&h, 10 * DEAD), DEADHOP_WAIT);
    /* a failed probe: dead again from its failure, without a new cohort */
    assert_int_equal(deadhop_fail(&h, DEAD + 5, 1, 3, DEAD), 1);
    assert_int_equal(deadhop_check(&h, DEAD + 5), DEADHOP_DEFER);
    assert_int_equal(deadhop_check(&h, 2 * DEAD + 4), DEADHOP_DEFER);
    assert_int_equal(deadhop_check(&h, 2 * DEAD + 5), DEADHOP_PROBE);
    /* a probe that ended without a verdict: the next attempt probes */
    deadhop_probe_start(&h);
    deadhop_probe_end(&h);
    assert_int_equal(deadhop_check(&h, 2 * DEAD + 5), DEADHOP_PROBE);
    /* a connection: alive, and the failure count starts over */
    deadhop_probe_start(&h);
    assert_int_equal(deadhop_ok(&h), 1);
    assert_int_equal(deadhop_check(&h, 2 * DEAD + 5), DEADHOP_GO);
    assert_int_equal(deadhop_ok(&h), 0);
    assert_int_equal(deadhop_fail(&h, 0, 2, 1, DEAD), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_failure_kills_at_limit_one),
        cmocka_unit_test(test_cohorts_count_by_concurrency),
        cmocka_unit_test(test_limit_zero_never_dead),
        cmocka_unit_test(test_probe_waits_then_fails_or_revives),
    };
    return cmocka_run_group_tests_name("deadhop", tests, NULL, NULL);
}

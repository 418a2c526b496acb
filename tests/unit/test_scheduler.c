/* Unit tests for the retry arithmetic (pure part of the scheduler), and
 * the scheduler's clock seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <string.h>
#include <sys/time.h>

#include "config/config.h"
#include "daemon.h"
#include "queue/scheduler.h"
#include "util/clock.h"

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

static void test_clock_helpers(void **state)
{
    (void)state;
    static const struct { long long ms; long sec, usec; long long ceil; } t[] = {
        { 0, 0, 0, 0 }, { 1, 0, 1000, 1 }, { 999, 0, 999000, 1 }, { 1000, 1, 0, 1 },
        { 1500, 1, 500000, 2 }, { 300000, 300, 0, 300 }, { -5, 0, 0, 0 },
        { -1500, 0, 0, -1 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct timeval tv = clock_timeval(t[i].ms);
        assert_int_equal(tv.tv_sec, t[i].sec);
        assert_int_equal(tv.tv_usec, t[i].usec);
        assert_int_equal(clock_ms_to_sec_ceil(t[i].ms), t[i].ceil);
    }
    /* the system clock: milliseconds of the Unix epoch */
    struct timeval now;
    gettimeofday(&now, NULL);
    long long ms = clock_now_ms(NULL);
    assert_true(ms / 1000 >= (long long)now.tv_sec && ms / 1000 <= (long long)now.tv_sec + 5);
}

static long long fake_now(void *arg)
{
    return *(const long long *)arg;
}

/* A test drives the scheduler's time: "now" and the base of the
 * queue_run_delay ticks (set with the clock) are the fake clock's. */
static void test_scheduler_clock(void **state)
{
    (void)state;
    char err[256];
    struct runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.cfg = config_load_text("queue_run_delay = 5s\n", "t.cf", err, sizeof err);
    assert_non_null(rt.cfg);
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.base = event_base_new();
    d.rt = &rt;
    struct scheduler *s = scheduler_new(&d);
    assert_non_null(s);
    long long t = 1700000000123LL;
    struct clock c = { fake_now, &t };
    scheduler_set_clock(s, &c);
    assert_int_equal(scheduler_now_ms(s), t);
    assert_int_equal(scheduler_run_base(s), t);
    t += 7250;
    assert_int_equal(scheduler_now_ms(s), 1700000007373LL);
    assert_int_equal(scheduler_run_base(s), 1700000000123LL);
    scheduler_free(s);
    event_base_free(d.base);
    config_free(rt.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_next_run),
        cmocka_unit_test(test_clock_helpers),
        cmocka_unit_test(test_scheduler_clock),
    };
    return cmocka_run_group_tests_name("scheduler", tests, NULL, NULL);
}

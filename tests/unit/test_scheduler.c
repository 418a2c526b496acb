/* Unit tests for the scheduler: the retry arithmetic (pure), and which
 * messages are in flight (an attempt started, not finished). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "queue/qid.h"
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

/* ---------- in flight ---------- */

#define QA "6553F1001E240ABC"
#define QB "6553F1001E240ABD"

struct starts {
    char qid[2048][QID_LEN + 1];
    size_t n;
};

static void record_start(void *arg, const char *qid)
{
    struct starts *st = arg;
    assert_true(st->n < sizeof st->qid / sizeof st->qid[0]);
    memcpy(st->qid[st->n++], qid, QID_LEN + 1);
}

/* Let the scheduler's timer run the attempts that are due now. */
static void run_due(struct event_base *base)
{
    assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
}

static void test_in_flight(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    static struct starts st;
    memset(&st, 0, sizeof st);
    struct scheduler *s = scheduler_new(base, NULL, record_start, &st);
    assert_non_null(s);
    assert_false(scheduler_in_flight(s, QA));

    scheduler_enqueue(s, QA, 0);
    scheduler_enqueue(s, QB, 0);
    assert_false(scheduler_in_flight(s, QA));   /* due, not started yet */
    run_due(base);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.qid[0], QA);
    assert_string_equal(st.qid[1], QB);
    assert_true(scheduler_in_flight(s, QA) && scheduler_in_flight(s, QB));
    assert_int_equal(scheduler_count(s), 2);

    /* due again while in flight (a flush, a release): not started twice */
    scheduler_enqueue(s, QA, 0);
    run_due(base);
    assert_int_equal(st.n, 2);
    assert_true(scheduler_in_flight(s, QA));

    scheduler_attempt_finished(s, QA);
    assert_false(scheduler_in_flight(s, QA));
    assert_true(scheduler_in_flight(s, QB));   /* the other one still runs */
    scheduler_attempt_finished(s, QB);
    assert_false(scheduler_in_flight(s, QB));
    assert_int_equal(scheduler_count(s), 0);

    /* finished: it may run again */
    scheduler_enqueue(s, QA, 0);
    run_due(base);
    assert_int_equal(st.n, 3);
    assert_true(scheduler_in_flight(s, QA));
    scheduler_attempt_finished(s, QA);

    assert_false(scheduler_in_flight(s, "../../etc/passwd"));
    assert_false(scheduler_in_flight(s, "6553f1001e240abc"));
    scheduler_free(s);
    event_base_free(base);
}

/* Many at once (the set grows), half of them finished in between. */
static void test_in_flight_many(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    static struct starts st;
    memset(&st, 0, sizeof st);
    struct scheduler *s = scheduler_new(base, NULL, record_start, &st);
    char qid[QID_LEN + 1];
    for (unsigned i = 0; i < 2000; i++) {
        qid_make(qid, 0x6553F100LL + i / 7, (long)(i * 13 % 1000000), i);
        scheduler_enqueue(s, qid, 0);
    }
    while (st.n < 2000)
        run_due(base);                 /* a batch per pass */
    assert_int_equal(scheduler_count(s), 2000);
    for (size_t i = 0; i < st.n; i += 2)
        scheduler_attempt_finished(s, st.qid[i]);
    for (size_t i = 0; i < st.n; i++)
        assert_int_equal(scheduler_in_flight(s, st.qid[i]), (int)(i % 2));
    assert_int_equal(scheduler_count(s), 1000);
    for (size_t i = 1; i < st.n; i += 2)
        scheduler_attempt_finished(s, st.qid[i]);
    for (size_t i = 0; i < st.n; i++)
        assert_false(scheduler_in_flight(s, st.qid[i]));
    assert_int_equal(scheduler_count(s), 0);
    scheduler_free(s);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_next_run),
        cmocka_unit_test(test_in_flight),
        cmocka_unit_test(test_in_flight_many),
    };
    return cmocka_run_group_tests_name("scheduler", tests, NULL, NULL);
}

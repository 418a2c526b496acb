/* Unit tests for the scheduler: the retry arithmetic (pure), and the
 * schedule itself -- the order in which due messages are handed out (a
 * min-heap on (when, qid)), flush and remove -- observed through the one
 * call it makes: attempt_start. The test binary is linked with
 * -Wl,--wrap=attempt_start (Makefile), so the scheduler's calls land in
 * __wrap_attempt_start below, which records the queue ids in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/time.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/qid.h"
#include "queue/scheduler.h"
#include "config/config.h"
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

/* ---------- the schedule, through a recording attempt_start ---------- */

#define MAX_STARTS 128

struct fixture {
    struct event_base *base;
    struct scheduler *s;
    char started[MAX_STARTS][17];
    size_t nstarted;
};

/* The scheduler's start_fn: records the attempt, which stays "in flight"
 * until the test finishes it. */
static void fixture_start(void *arg, const char *qid)
{
    struct fixture *f = arg;
    assert_true(f->nstarted < MAX_STARTS);
    snprintf(f->started[f->nstarted++], sizeof f->started[0], "%s", qid);
}

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof *f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->s = scheduler_new(f->base, fixture_start, f);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    scheduler_free(f->s);
    event_base_free(f->base);
    test_free(f);
    return 0;
}

/* One pass of the event loop: whatever is due is started (at most one
 * batch); nothing waits (EVLOOP_NONBLOCK). */
static void run_due(struct fixture *f)
{
    assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), -1);
}

/* Passes until nothing more is started (several batches). */
static void run_all_due(struct fixture *f)
{
    for (int i = 0; i < 100; i++) {
        size_t before = f->nstarted;
        run_due(f);
        if (f->nstarted == before)
            return;
    }
    fail_msg("the scheduler never stopped starting attempts");
}

static void finish_all(struct fixture *f)
{
    for (size_t i = 0; i < f->nstarted; i++)
        scheduler_attempt_finished(f->s, f->started[i]);
}

static void assert_started(const struct fixture *f, const char *const *want, size_t n)
{
    if (f->nstarted != n) {
        for (size_t i = 0; i < f->nstarted; i++)
            print_message("started[%zu] = %s\n", i, f->started[i]);
        fail_msg("%zu attempts started, expected %zu", f->nstarted, n);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->started[i], want[i]) != 0)
            fail_msg("attempt %zu is %s, expected %s", i, f->started[i], want[i]);
}

/* Queue ids that sort by their first letter. */
#define QA "AAAAAAAAAAAAAAAA"
#define QB "BBBBBBBBBBBBBBBB"
#define QC "CCCCCCCCCCCCCCCC"
#define QD "DDDDDDDDDDDDDDDD"
#define QE "EEEEEEEEEEEEEEEE"

/* `when` values: FUTURE is never due during a test; small ones are long
 * past (unix time), 0 is "now". */
#define FUTURE(k) (((long long)time(NULL) + 100000 + (k)) * 1000)   /* ms */

struct entry {
    const char *qid;
    long long when;      /* FUTURE_MARK + k: FUTURE(k) */
};
#define FUTURE_MARK (1LL << 40)

struct order_vector {
    const char *name;
    struct entry in[8];
    size_t nin;
    const char *out[8];  /* started in this order */
    size_t nout;
    size_t ndup;         /* copies dropped: their id was in flight */
};

static const struct order_vector order_vectors[] = {
    { "earliest first", { { QB, 30 }, { QA, 10 }, { QC, 20 } }, 3, { QA, QC, QB }, 3, 0 },
    { "equal times: by queue id", { { QC, 5 }, { QA, 5 }, { QB, 5 } }, 3, { QA, QB, QC }, 3, 0 },
    { "now (0) before the past", { { QA, 10 }, { QB, 0 } }, 2, { QB, QA }, 2, 0 },
    { "time wins over queue id", { { QA, 9 }, { QE, 1 }, { QC, 5 }, { QB, 5 }, { QD, 2 } }, 5,
      { QE, QD, QB, QC, QA }, 5, 0 },
    { "future ones wait", { { QA, FUTURE_MARK + 1 }, { QB, 7 }, { QC, FUTURE_MARK } }, 3,
      { QB }, 1, 0 },
    /* the second copy of an id in flight is dropped: that attempt
     * reschedules the message when it ends */
    { "the same id twice: once, at its earliest", { { QA, 8 }, { QB, 4 }, { QA, 3 } }, 3,
      { QA, QB }, 2, 1 },
    { "nothing due", { { QA, FUTURE_MARK } }, 1, { NULL }, 0, 0 },
};

static long long when_of(const struct entry *e)
{
    return e->when >= FUTURE_MARK ? FUTURE(e->when - FUTURE_MARK) : e->when;
}

static void test_heap_order(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof order_vectors / sizeof order_vectors[0]; v++) {
        const struct order_vector *ov = &order_vectors[v];
        void *st;
        setup(&st);
        struct fixture *f = st;
        print_message("vector: %s\n", ov->name);
        for (size_t i = 0; i < ov->nin; i++)
            scheduler_enqueue(f->s, ov->in[i].qid, when_of(&ov->in[i]));
        assert_int_equal(scheduler_count(f->s), ov->nin);
        run_all_due(f);
        assert_started(f, ov->out, ov->nout);
        /* in flight still counts until the attempt is over */
        assert_int_equal(scheduler_count(f->s), ov->nin - ov->ndup);
        finish_all(f);
        assert_int_equal(scheduler_count(f->s), ov->nin - ov->nout - ov->ndup);
        teardown(&st);
    }
}

/* Many entries, pushed in a scrambled order: popped sorted, across several
 * batches (the scheduler starts a bounded number per loop pass). */
static void test_heap_order_many(void **state)
{
    struct fixture *f = *state;
    enum { N = 100 };
    static char ids[N][17];
    for (int i = 0; i < N; i++) {
        int k = (i * 37) % N;          /* a permutation of 0..N-1 */
        snprintf(ids[k], sizeof ids[k], "%016X", (unsigned)(N - k));
        /* when: k / 3 (ties, broken by the id, which runs backwards) */
        scheduler_enqueue(f->s, ids[k], 1 + k / 3);
    }
    run_due(f);
    assert_true(f->nstarted > 0 && f->nstarted < N);   /* one batch per pass */
    run_all_due(f);
    assert_int_equal(f->nstarted, N);
    for (int i = 1; i < N; i++) {
        long long wp = 1 + (N - (long long)strtol(f->started[i - 1], NULL, 16)) / 3;
        long long wi = 1 + (N - (long long)strtol(f->started[i], NULL, 16)) / 3;
        assert_true(wp < wi || (wp == wi && strcmp(f->started[i - 1], f->started[i]) < 0));
    }
    finish_all(f);
    assert_int_equal(scheduler_count(f->s), 0);
}

static void test_flush_all(void **state)
{
    struct fixture *f = *state;
    scheduler_enqueue(f->s, QC, FUTURE(3));
    scheduler_enqueue(f->s, QA, FUTURE(1));
    scheduler_enqueue(f->s, QB, FUTURE(2));
    run_due(f);
    assert_int_equal(f->nstarted, 0);
    assert_int_equal(scheduler_flush(f->s, NULL), 3);
    run_all_due(f);
    /* all due now: in queue id order */
    static const char *const want[] = { QA, QB, QC };
    assert_started(f, want, 3);
    /* nothing left to flush; a flush of an empty schedule starts nothing */
    assert_int_equal(scheduler_flush(f->s, NULL), 0);
    run_due(f);
    assert_int_equal(f->nstarted, 3);
}

static void test_flush_one(void **state)
{
    struct fixture *f = *state;
    scheduler_enqueue(f->s, QA, FUTURE(1));
    scheduler_enqueue(f->s, QB, FUTURE(2));
    scheduler_enqueue(f->s, QC, FUTURE(3));
    scheduler_enqueue(f->s, QB, FUTURE(4));     /* the same id twice */
    assert_int_equal(scheduler_flush(f->s, QD), 0);             /* unknown */
    run_due(f);
    assert_int_equal(f->nstarted, 0);
    assert_int_equal(scheduler_flush(f->s, QB), 2);             /* both entries */
    run_all_due(f);
    /* one attempt: the second entry meets the first in flight */
    static const char *const want[] = { QB };
    assert_started(f, want, 1);
    assert_int_equal(scheduler_count(f->s), 3);     /* 2 waiting + 1 in flight */
    /* the others still wait, and are still ordered */
    assert_int_equal(scheduler_flush(f->s, QC), 1);
    run_all_due(f);
    static const char *const want2[] = { QB, QC };
    assert_started(f, want2, 2);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    scheduler_enqueue(f->s, QE, 50);
    scheduler_enqueue(f->s, QC, FUTURE(1));
    scheduler_enqueue(f->s, QA, FUTURE(2));
    scheduler_enqueue(f->s, QD, FUTURE(3));
    scheduler_enqueue(f->s, QB, FUTURE(4));
    scheduler_enqueue(f->s, QC, FUTURE(5));
    assert_int_equal(scheduler_remove(f->s, QE), 1);    /* the due one, at the top */
    assert_int_equal(scheduler_remove(f->s, QC), 1);    /* both entries of C */
    assert_int_equal(scheduler_remove(f->s, QC), 0);    /* gone */
    assert_int_equal(scheduler_remove(f->s, "0123456789ABCDEF"), 0);
    assert_int_equal(scheduler_count(f->s), 3);
    run_due(f);
    assert_int_equal(f->nstarted, 0);                   /* E was due: removed */
    /* the rest is still a valid heap: a flush starts them in order */
    assert_int_equal(scheduler_flush(f->s, NULL), 3);
    run_all_due(f);
    static const char *const want[] = { QA, QB, QD };
    assert_started(f, want, 3);
}

/* Removing an entry moves the last one into its place: when that one has
 * the same id, it must go too. */
static void test_remove_duplicates(void **state)
{
    struct fixture *f = *state;
    scheduler_enqueue(f->s, QA, FUTURE(1));
    scheduler_enqueue(f->s, QB, FUTURE(2));
    scheduler_enqueue(f->s, QA, FUTURE(3));
    assert_int_equal(scheduler_remove(f->s, QA), 1);
    assert_int_equal(scheduler_count(f->s), 1);
    assert_int_equal(scheduler_flush(f->s, NULL), 1);
    run_all_due(f);
    static const char *const want[] = { QB };
    assert_started(f, want, 1);
}

static void test_remove_keeps_order(void **state)
{
    struct fixture *f = *state;
    enum { N = 40 };
    static char ids[N][17];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%016X", (unsigned)(i + 1));
        scheduler_enqueue(f->s, ids[i], 1000 - i);      /* reverse of id order */
    }
    /* remove every third one, from all over the heap */
    for (int i = 0; i < N; i += 3)
        assert_int_equal(scheduler_remove(f->s, ids[i]), 1);
    run_all_due(f);
    size_t k = 0;
    for (int i = N - 1; i >= 0; i--) {
        if (i % 3 == 0)
            continue;
        assert_true(k < f->nstarted);
        assert_string_equal(f->started[k], ids[i]);
        k++;
    }
    assert_int_equal(f->nstarted, k);
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
    struct fixture f;
    memset(&f, 0, sizeof f);
    f.base = event_base_new();
    struct scheduler *s = scheduler_new(f.base, fixture_start, &f);
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
    event_base_free(f.base);
}

/* ---------- in flight ---------- */


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
static void run_due_base(struct event_base *base)
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
    struct scheduler *s = scheduler_new(base, record_start, &st);
    assert_non_null(s);
    assert_false(scheduler_in_flight(s, QA));

    scheduler_enqueue(s, QA, 0);
    scheduler_enqueue(s, QB, 0);
    assert_false(scheduler_in_flight(s, QA));   /* due, not started yet */
    run_due_base(base);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.qid[0], QA);
    assert_string_equal(st.qid[1], QB);
    assert_true(scheduler_in_flight(s, QA) && scheduler_in_flight(s, QB));
    assert_int_equal(scheduler_count(s), 2);

    /* due again while in flight (a flush, a release): not started twice */
    scheduler_enqueue(s, QA, 0);
    run_due_base(base);
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
    run_due_base(base);
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
    struct scheduler *s = scheduler_new(base, record_start, &st);
    char qid[QID_LEN + 1];
    for (unsigned i = 0; i < 2000; i++) {
        qid_make(qid, 0x6553F100LL + i / 7, (long)(i * 13 % 1000000), i);
        scheduler_enqueue(s, qid, 0);
    }
    while (st.n < 2000)
        run_due_base(base);                 /* a batch per pass */
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
        cmocka_unit_test(test_heap_order),
        cmocka_unit_test_setup_teardown(test_heap_order_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_keeps_order, setup, teardown),
        cmocka_unit_test(test_clock_helpers),
        cmocka_unit_test(test_in_flight),
        cmocka_unit_test(test_in_flight_many),
        cmocka_unit_test(test_scheduler_clock),
    };
    return cmocka_run_group_tests_name("scheduler", tests, NULL, NULL);
}

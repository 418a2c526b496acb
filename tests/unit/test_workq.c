/* Unit tests for the worker queue: every task runs once on a worker, its
 * done callback runs on the loop thread, and workq_free finishes the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <pthread.h>
#include <string.h>

#include "util/workq.h"

#define NTASKS 200

struct item {
    int ran, done;
    pthread_t ran_on, done_on;
};

static struct item items[NTASKS];
static int ndone;
static struct event_base *base;

static void run(void *arg)
{
    struct item *it = arg;
    it->ran++;
    it->ran_on = pthread_self();
}

static void done(void *arg)
{
    struct item *it = arg;
    it->done++;
    it->done_on = pthread_self();
    if (++ndone == NTASKS / 2)
        event_base_loopbreak(base);
}

static void test_tasks(void **state)
{
    (void)state;
    memset(items, 0, sizeof items);
    ndone = 0;
    base = event_base_new();
    assert_non_null(base);
    struct workq *q = workq_new(base, 2);
    assert_non_null(q);
    for (int i = 0; i < NTASKS; i++)
        assert_int_equal(workq_submit(q, run, done, &items[i]), 0);
    event_base_dispatch(base);          /* until half are reported */
    assert_true(ndone >= NTASKS / 2);
    workq_free(q);                      /* the rest, here */
    assert_int_equal(ndone, NTASKS);
    pthread_t me = pthread_self();
    for (int i = 0; i < NTASKS; i++) {
        assert_int_equal(items[i].ran, 1);
        assert_int_equal(items[i].done, 1);
        assert_true(pthread_equal(items[i].done_on, me));
        assert_false(pthread_equal(items[i].ran_on, me));
    }
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks),
    };
    return cmocka_run_group_tests_name("workq", tests, NULL, NULL);
}

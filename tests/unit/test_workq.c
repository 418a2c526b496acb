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

/* Group tasks queued behind a busy worker run as one call (at most
 * WORKQ_GROUP_MAX each), in order, and each one's done only after it. */
#define NGROUP 70
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static int ncalls, sizes[NGROUP], order[NGROUP], norder, gdone, done_early;
static int gitems[NGROUP];
static int finished[NGROUP];

static void gate(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_done(void *arg)
{
    (void)arg;
}

static void group(void **args, size_t n)
{
    sizes[ncalls++] = (int)n;
    for (size_t i = 0; i < n; i++)
        order[norder++] = *(int *)args[i];
    for (size_t i = 0; i < n; i++)
        finished[*(int *)args[i]] = 1;
}

static void group_done(void *arg)
{
    if (!finished[*(int *)arg])
        done_early++;
    if (++gdone == NGROUP)
        event_base_loopbreak(base);
}

static void test_groups(void **state)
{
    (void)state;
    base = event_base_new();
    assert_non_null(base);
    struct workq *q = workq_new(base, 1);
    assert_non_null(q);
    assert_int_equal(workq_submit(q, gate, gate_done, NULL), 0);
    for (int i = 0; i < NGROUP; i++) {
        gitems[i] = i;
        assert_int_equal(workq_submit_group(q, group, group_done, &gitems[i]), 0);
    }
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_signal(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    event_base_dispatch(base);
    assert_int_equal(gdone, NGROUP);
    assert_int_equal(done_early, 0);
    assert_int_equal(ncalls, 2);
    assert_int_equal(sizes[0], WORKQ_GROUP_MAX);
    assert_int_equal(sizes[1], NGROUP - WORKQ_GROUP_MAX);
    for (int i = 0; i < NGROUP; i++)
        assert_int_equal(order[i], i);
    workq_free(q);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_groups),
    };
    return cmocka_run_group_tests_name("workq", tests, NULL, NULL);
}

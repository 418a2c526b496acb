/* Unit tests for the actions pending on a delivery attempt (the pure set
 * behind `postern queue hold|delete|release` of a message in flight). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "queue/scheduler.h"

#define Q1 "6B068C587250E759"
#define Q2 "6B068C5A91C2F4A1"
#define Q3 "0123456789ABCDEF"

static void test_empty(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    assert_int_equal(sched_actions_get(&p, Q1), SCHED_ACT_NONE);
    assert_int_equal(sched_actions_take(&p, Q1), SCHED_ACT_NONE);
    assert_int_equal(sched_actions_each(&p, SCHED_ACT_HOLD, NULL, NULL), 0);
    sched_actions_free(&p);
    sched_actions_free(&p);                 /* twice is fine */
}

static void test_add_get_take(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_HOLD), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_add(&p, Q2, SCHED_ACT_DELETE), SCHED_ACT_DELETE);
    assert_int_equal(sched_actions_get(&p, Q1), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_get(&p, Q2), SCHED_ACT_DELETE);
    assert_int_equal(sched_actions_get(&p, Q3), SCHED_ACT_NONE);
    /* again: idempotent, one entry */
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_HOLD), SCHED_ACT_HOLD);
    assert_int_equal(p.n, 2);
    assert_int_equal(sched_actions_take(&p, Q1), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_get(&p, Q1), SCHED_ACT_NONE);
    assert_int_equal(sched_actions_take(&p, Q1), SCHED_ACT_NONE);
    assert_int_equal(sched_actions_get(&p, Q2), SCHED_ACT_DELETE);
    assert_int_equal(sched_actions_take(&p, Q2), SCHED_ACT_DELETE);
    assert_int_equal(p.n, 0);
    sched_actions_free(&p);
}

static void test_delete_wins(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    /* a delete replaces a hold... */
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_HOLD), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_DELETE), SCHED_ACT_DELETE);
    /* ...a hold does not replace a delete */
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_HOLD), SCHED_ACT_DELETE);
    assert_int_equal(sched_actions_get(&p, Q1), SCHED_ACT_DELETE);
    assert_int_equal(p.n, 1);
    sched_actions_free(&p);
}

static void test_refused(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    assert_int_equal(sched_actions_add(&p, "6b068c587250e759", SCHED_ACT_HOLD),
                     SCHED_ACT_NONE);
    assert_int_equal(sched_actions_add(&p, "../../etc/passwd", SCHED_ACT_DELETE),
                     SCHED_ACT_NONE);
    assert_int_equal(sched_actions_add(&p, "ALL", SCHED_ACT_HOLD), SCHED_ACT_NONE);
    assert_int_equal(sched_actions_add(&p, Q1, SCHED_ACT_NONE), SCHED_ACT_NONE);
    assert_int_equal(p.n, 0);
    sched_actions_free(&p);
}

struct seen {
    char qids[8][17];
    size_t n;
};

static void collect(const char *qid, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    snprintf(s->qids[s->n++], sizeof s->qids[0], "%s", qid);
}

static int seen_has(const struct seen *s, const char *qid)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->qids[i], qid) == 0)
            return 1;
    return 0;
}

static void test_each(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    sched_actions_add(&p, Q1, SCHED_ACT_HOLD);
    sched_actions_add(&p, Q2, SCHED_ACT_DELETE);
    sched_actions_add(&p, Q3, SCHED_ACT_HOLD);
    struct seen s = { .n = 0 };
    assert_int_equal(sched_actions_each(&p, SCHED_ACT_HOLD, collect, &s), 2);
    assert_int_equal(s.n, 2);
    assert_true(seen_has(&s, Q1) && seen_has(&s, Q3) && !seen_has(&s, Q2));
    memset(&s, 0, sizeof s);
    assert_int_equal(sched_actions_each(&p, SCHED_ACT_DELETE, collect, &s), 1);
    assert_true(s.n == 1 && seen_has(&s, Q2));
    /* a take from the middle keeps the others */
    assert_int_equal(sched_actions_take(&p, Q1), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_get(&p, Q2), SCHED_ACT_DELETE);
    assert_int_equal(sched_actions_get(&p, Q3), SCHED_ACT_HOLD);
    assert_int_equal(sched_actions_each(&p, SCHED_ACT_HOLD, NULL, NULL), 1);
    sched_actions_free(&p);
    assert_int_equal(p.n, 0);
    assert_int_equal(sched_actions_get(&p, Q3), SCHED_ACT_NONE);
}

static void test_many(void **state)
{
    (void)state;
    struct sched_actions p = { 0 };
    char qid[17];
    for (unsigned i = 0; i < 100; i++) {
        snprintf(qid, sizeof qid, "%016X", i);
        assert_int_equal(sched_actions_add(&p, qid, i % 2 ? SCHED_ACT_DELETE : SCHED_ACT_HOLD),
                         i % 2 ? SCHED_ACT_DELETE : SCHED_ACT_HOLD);
    }
    assert_int_equal(p.n, 100);
    assert_int_equal(sched_actions_each(&p, SCHED_ACT_DELETE, NULL, NULL), 50);
    for (unsigned i = 0; i < 100; i += 3) {
        snprintf(qid, sizeof qid, "%016X", i);
        assert_int_equal(sched_actions_take(&p, qid), i % 2 ? SCHED_ACT_DELETE : SCHED_ACT_HOLD);
    }
    for (unsigned i = 0; i < 100; i++) {
        snprintf(qid, sizeof qid, "%016X", i);
        assert_int_equal(sched_actions_get(&p, qid),
                         i % 3 == 0 ? SCHED_ACT_NONE
                                    : i % 2 ? SCHED_ACT_DELETE : SCHED_ACT_HOLD);
    }
    /* emptied by takes: the memory goes with the last one */
    for (unsigned i = 0; i < 100; i++) {
        snprintf(qid, sizeof qid, "%016X", i);
        sched_actions_take(&p, qid);
    }
    assert_int_equal(p.n, 0);
    assert_null(p.v);
    sched_actions_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_add_get_take),
        cmocka_unit_test(test_delete_wins),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests_name("pending actions", tests, NULL, NULL);
}

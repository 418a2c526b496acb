/* Unit tests for queue/admin (hold, release, delete, flush) — without a
 * daemon (the spool alone, as `postern queue` does when none runs) and
 * with a scheduler that has a message in flight. The control socket's
 * request parser (daemon/control.c) is test_control's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/admin.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

struct fx {
    char base[64];
    struct spool *sp;
    struct event_base *evb;
    struct scheduler *sched;
    char started[8][QID_LEN + 1];
    size_t nstarted;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void record_start(void *arg, const char *qid)
{
    struct fx *f = arg;
    assert_true(f->nstarted < 8);
    memcpy(f->started[f->nstarted++], qid, QID_LEN + 1);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char dir[128], err[256] = "";
    snprintf(f->base, sizeof f->base, "/tmp/postern-admin-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(dir, sizeof dir, "%s/spool", f->base);
    f->sp = spool_open(dir, err, sizeof err);
    if (!f->sp)
        fail_msg("spool_open: %s", err);
    f->evb = event_base_new();
    f->sched = scheduler_new(f->evb, record_start, f);
    assert_true(f->evb && f->sched);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    scheduler_free(f->sched);
    event_base_free(f->evb);
    spool_close(f->sp);
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A committed message; its qid into qid. */
static void queue_one(struct fx *f, char *qid)
{
    struct envelope env;
    struct env_rcpt r;
    char err[256];
    memset(&env, 0, sizeof env);
    memset(&r, 0, sizeof r);
    r.addr = "bob@example.com";
    env.sender = "alice@example.org";
    env.client_addr = "127.0.0.1";
    env.client_name = "localhost";
    env.helo = "client.test";
    env.protocol = "ESMTP";
    env.nrcpt = 1;
    env.rcpt = &r;
    struct spool_msg *m = spool_msg_create(f->sp, &env, err, sizeof err);
    if (!m)
        fail_msg("spool_msg_create: %s", err);
    assert_int_equal(spool_msg_write(m, "Subject: x\r\n\r\nx\r\n", 17), 0);
    assert_int_equal(spool_msg_finish(m), 0);
    int ok = 0;
    assert_int_equal(spool_commit(f->sp, &m, 1, &ok), 1);
    memcpy(qid, env.qid, QID_LEN + 1);
}

static const char *run(const struct admin *a, enum admin_verb v, const char *qid, int want_rc)
{
    static char out[512];
    int rc = admin_execute(a, v, qid, out, sizeof out);
    if (rc != want_rc)
        fail_msg("%s %s: rc %d: %s", admin_verb_name(v), qid, rc, out);
    return out;
}

static void test_without_daemon(void **state)
{
    struct fx *f = *state;
    struct admin a = { f->sp, NULL, 0, NULL };
    char q1[QID_LEN + 1], q2[QID_LEN + 1], want[256];
    queue_one(f, q1);
    queue_one(f, q2);

    snprintf(want, sizeof want, "ok %s on hold", q1);
    assert_string_equal(run(&a, ADMIN_HOLD, q1, 0), want);
    assert_int_equal(spool_where(f->sp, q1), SPOOL_HELD);
    assert_string_equal(run(&a, ADMIN_HOLD, q1, 0), want);          /* already: fine */
    snprintf(want, sizeof want, "error %s is on hold (release it first)", q1);
    assert_string_equal(run(&a, ADMIN_FLUSH, q1, -1), want);
    snprintf(want, sizeof want, "error %s is not on hold", q2);
    assert_string_equal(run(&a, ADMIN_RELEASE, q2, -1), want);
    /* only the daemon delivers */
    assert_string_equal(run(&a, ADMIN_FLUSH, "", -1),
                        "error flush needs the daemon: only the daemon delivers");
    assert_string_equal(run(&a, ADMIN_FLUSH, q2, -1),
                        "error flush needs the daemon: only the daemon delivers");

    assert_string_equal(run(&a, ADMIN_HOLD, "ALL", 0), "ok 1 message on hold");
    assert_string_equal(run(&a, ADMIN_RELEASE, "ALL", 0), "ok 2 messages released");
    assert_int_equal(spool_where(f->sp, q1), SPOOL_QUEUED);
    assert_int_equal(spool_where(f->sp, q2), SPOOL_QUEUED);

    snprintf(want, sizeof want, "ok %s deleted", q1);
    assert_string_equal(run(&a, ADMIN_DELETE, q1, 0), want);
    assert_int_equal(spool_where(f->sp, q1), SPOOL_ABSENT);
    snprintf(want, sizeof want, "error %s: no such message in the queue", q1);
    assert_string_equal(run(&a, ADMIN_DELETE, q1, -1), want);
    snprintf(want, sizeof want, "ok %s on hold", q2);
    assert_string_equal(run(&a, ADMIN_HOLD, q2, 0), want);     /* delete ALL takes held ones */
    assert_string_equal(run(&a, ADMIN_DELETE, "ALL", 0), "ok 1 message deleted");
    assert_int_equal(spool_where(f->sp, q2), SPOOL_ABSENT);
    assert_string_equal(run(&a, ADMIN_DELETE, "ALL", 0), "ok 0 messages deleted");
    assert_string_equal(run(&a, ADMIN_HOLD, "../../etc/passwd", -1), "error invalid queue id");
}

/* With the daemon's scheduler: a message in flight is held or deleted when
 * its attempt ends; one waiting leaves the schedule; a release schedules. */
static void test_with_scheduler(void **state)
{
    struct fx *f = *state;
    struct admin a = { f->sp, f->sched, 0, NULL };
    char busy[QID_LEN + 1], idle[QID_LEN + 1], want[256];
    queue_one(f, busy);
    queue_one(f, idle);
    scheduler_enqueue(f->sched, busy, 0);
    assert_int_equal(event_base_loop(f->evb, EVLOOP_ONCE), 0);
    assert_int_equal(f->nstarted, 1);
    assert_true(scheduler_in_flight(f->sched, busy));
    scheduler_enqueue(f->sched, idle, 1LL << 40);        /* waiting, far ahead */

    snprintf(want, sizeof want, "ok %s is being delivered now", busy);
    assert_string_equal(run(&a, ADMIN_FLUSH, busy, 0), want);
    snprintf(want, sizeof want, "ok %s will be held when its delivery attempt ends", busy);
    assert_string_equal(run(&a, ADMIN_HOLD, busy, 0), want);
    assert_int_equal(spool_where(f->sp, busy), SPOOL_QUEUED);   /* not yet */
    assert_int_equal(scheduler_pending(f->sched, busy), SCHED_ACT_HOLD);
    snprintf(want, sizeof want, "ok %s released (pending hold cancelled)", busy);
    assert_string_equal(run(&a, ADMIN_RELEASE, busy, 0), want);
    assert_int_equal(scheduler_pending(f->sched, busy), SCHED_ACT_NONE);
    snprintf(want, sizeof want, "ok %s will be deleted when its delivery attempt ends", busy);
    assert_string_equal(run(&a, ADMIN_DELETE, busy, 0), want);
    assert_string_equal(run(&a, ADMIN_HOLD, busy, 0), want);    /* a hold does not replace it */
    snprintf(want, sizeof want,
             "error %s is not on hold (it will be deleted when its delivery attempt ends)", busy);
    assert_string_equal(run(&a, ADMIN_RELEASE, busy, -1), want);

    /* the waiting one: flushed, then held now (out of the schedule) */
    assert_string_equal(run(&a, ADMIN_FLUSH, "", 0), "ok 1 message scheduled for delivery now");
    assert_string_equal(run(&a, ADMIN_HOLD, "ALL", 0),
                        "ok 1 message on hold, 1 more when its delivery attempt ends");
    assert_int_equal(spool_where(f->sp, idle), SPOOL_HELD);
    assert_int_equal(scheduler_count(f->sched), 1);             /* busy, in flight */
    /* released: scheduled again, and started */
    snprintf(want, sizeof want, "ok %s released", idle);
    assert_string_equal(run(&a, ADMIN_RELEASE, idle, 0), want);
    assert_int_equal(event_base_loop(f->evb, EVLOOP_ONCE), 0);
    assert_int_equal(f->nstarted, 2);
    assert_string_equal(f->started[1], idle);
    scheduler_attempt_finished(f->sched, idle);
    scheduler_attempt_finished(f->sched, busy);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_without_daemon),
        T(test_with_scheduler),
    };
    return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}

/* Unit tests for queue/queue: the group commit and "commit, then
 * schedule". Requests made in one event-loop pass are committed together
 * (one directory fsync), each committed message is scheduled before its
 * writer hears of it, a failed one is neither acknowledged nor scheduled,
 * a cancelled writer is not called, and what is pending at exit is
 * committed. */
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config/runtime.h"
#include "queue/admin.h"
#include "queue/queue.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

/* Directory fsyncs, counted (the spool's files use fdatasync). */
static int nfsync;

int fsync(int fd)
{
    nfsync++;
    return (int)syscall(SYS_fsync, fd);
}

/* No attempt runs in these tests: the configuration is never asked for. */
static struct runtime *no_current(void *arg)
{
    (void)arg;
    fail_msg("the configuration was asked for");
    return NULL;
}

static const struct cfg_source no_cfg = { NULL, no_current, NULL, NULL };

struct fx {
    char base[64], dir[128];
    struct event_base *evb;
    struct queue *q;
};

struct writer {
    struct fx *f;
    char qid[QID_LEN + 1];
    int calls, ok;
    unsigned long scheduled;     /* messages scheduled when it was told */
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    assert_non_null(f);
    snprintf(f->base, sizeof f->base, "/tmp/postern-queue-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->dir, sizeof f->dir, "%s/spool", f->base);
    f->evb = event_base_new();
    assert_non_null(f->evb);
    f->q = queue_open(f->evb, f->dir, &no_cfg, NULL, NULL, err, sizeof err);
    if (!f->q)
        fail_msg("queue_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    queue_free(f->q);
    event_base_free(f->evb);
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void committed(void *arg, int ok)
{
    struct writer *w = arg;
    w->calls++;
    w->ok = ok;
    w->scheduled = scheduler_count(queue_admin(w->f->q)->sched);
}

/* A message as a session writes it; finish = 0 leaves it unfinished (a
 * write error: the commit must refuse it). */
static struct spool_msg *write_one(struct fx *f, struct writer *w, int finish)
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
    struct spool_msg *m = queue_msg_create(f->q, &env, err, sizeof err);
    if (!m)
        fail_msg("queue_msg_create: %s", err);
    assert_int_equal(spool_msg_write(m, "Subject: x\r\n\r\nx\r\n", 17), 0);
    if (finish)
        assert_int_equal(spool_msg_finish(m), 0);
    w->f = f;
    memcpy(w->qid, env.qid, sizeof w->qid);
    return m;
}

static void test_group_commit_then_schedule(void **state)
{
    struct fx *f = *state;
    struct writer w[4];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 4; i++)
        queue_commit_request(f->q, write_one(f, &w[i], i != 3), committed, &w[i]);
    queue_commit_cancel(f->q, &w[1]);             /* its session went away */
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].calls, 0);          /* never from inside the request */

    nfsync = 0;
    assert_int_equal(event_base_loop(f->evb, EVLOOP_ONCE), 0);
    assert_int_equal(nfsync, 1);                  /* one directory fsync for the batch */
    const int want_ok[4] = { 1, 0, 1, 0 }, want_calls[4] = { 1, 0, 1, 1 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].calls, want_calls[i]);
        assert_int_equal(w[i].ok, want_ok[i]);
    }
    /* each writer heard only once all three committed were scheduled */
    assert_int_equal(w[0].scheduled, 3);
    assert_int_equal(w[2].scheduled, 3);
    assert_int_equal(w[3].scheduled, 3);          /* the failed one is not */
    const struct admin *a = queue_admin(f->q);
    for (int i = 0; i < 3; i++)
        assert_int_equal(spool_where(a->spool, w[i].qid), SPOOL_QUEUED);
    assert_int_equal(spool_where(a->spool, w[3].qid), SPOOL_ABSENT);
}

/* A request still pending when the daemon exits is committed (its client
 * gets no 250, but what finished DATA is not thrown away). */
static void test_pending_at_exit_committed(void **state)
{
    struct fx *f = *state;
    struct writer w;
    memset(&w, 0, sizeof w);
    queue_commit_request(f->q, write_one(f, &w, 1), committed, &w);
    queue_commit_cancel(f->q, &w);
    queue_free(f->q);
    assert_int_equal(w.calls, 0);
    char err[256];
    f->q = queue_open(f->evb, f->dir, &no_cfg, NULL, NULL, err, sizeof err);
    assert_non_null(f->q);
    assert_int_equal(spool_where(queue_admin(f->q)->spool, w.qid), SPOOL_QUEUED);
    assert_int_equal(queue_recover(f->q), 1);
    assert_int_equal(scheduler_count(queue_admin(f->q)->sched), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_group_commit_then_schedule),
        T(test_pending_at_exit_committed),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}

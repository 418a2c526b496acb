/* Unit test for queue/attempt: a bounce survives a crash at any point,
 * exactly once.
 *
 * A message to a recipient that transport_maps routes to error: bounces in
 * its first attempt (the error transport finishes synchronously, inside
 * attempt_start). The attempt runs in a child process that dies (_exit, as
 * a crash: nothing after it happens, what reached the file system stays)
 * just before its k-th durable file-system step — fsync, fdatasync,
 * rename, link or unlink, interposed below — for k = 1, 2, ... until an
 * attempt completes without reaching k. After each crash a second child
 * does what the daemon does at start-up: spool_scan, then an attempt of the
 * message if it is still queued. Then the sender must have exactly one
 * non-delivery notification in the queue, and the message must be gone:
 * never two bounces (the bounce committed, the state recording it lost),
 * never none (the state recording it, the bounce lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/runtime.h"
#include "fixture_runtime.h"
#include "queue/attempt.h"
#include "queue/scheduler.h"
#include "queue/spool.h"

#define CRASHED 42

/* ---------- crash injection: the test binary's versions win ---------- */

static struct {
    long at;        /* die before the at-th step; 0: never */
    long n;         /* steps so far */
} crash;

static void step(void)
{
    if (crash.at && ++crash.n == crash.at)
        _exit(CRASHED);
}

int fsync(int fd)
{
    step();
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    step();
    return (int)syscall(SYS_fdatasync, fd);
}

int renameat(int ofd, const char *o, int nfd, const char *n)
{
    step();
    return (int)syscall(SYS_renameat2, ofd, o, nfd, n, 0);
}

int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned int flags)
{
    step();
    return (int)syscall(SYS_renameat2, ofd, o, nfd, n, flags);
}

int linkat(int ofd, const char *o, int nfd, const char *n, int flags)
{
    step();
    return (int)syscall(SYS_linkat, ofd, o, nfd, n, flags);
}

int unlinkat(int fd, const char *name, int flags)
{
    step();
    return (int)syscall(SYS_unlinkat, fd, name, flags);
}

/* ---------- fixture ---------- */

struct fx {
    char base[64];
    char spool[128];
    char cfg[128];
    char qid[QID_LEN + 1];
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void fx_setup(struct fx *f)
{
    char p[256], text[1024];
    snprintf(f->base, sizeof f->base, "/tmp/postern-attempt-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->spool, sizeof f->spool, "%s/spool", f->base);
    snprintf(f->cfg, sizeof f->cfg, "%s/postern.cf", f->base);
    snprintf(p, sizeof p, "%s/transport", f->base);
    write_text(p, "nowhere.test error:no mail for this domain\n");
    snprintf(text, sizeof text,
             "myhostname = mx.postern.test\n"
             "queue_directory = %s\n"
             "capture_directory = %s/mail\n"
             "transport_maps = texthash:%s\n",
             f->spool, f->base, p);
    write_text(f->cfg, text);

    /* the message, acknowledged: committed as the daemon would */
    char err[256] = "";
    struct spool *sp = spool_open(f->spool, err, sizeof err);
    if (!sp)
        fail_msg("spool_open: %s", err);
    struct envelope env;
    struct env_rcpt r;
    memset(&env, 0, sizeof env);
    memset(&r, 0, sizeof r);
    r.addr = "bob@nowhere.test";
    env.sender = "alice@sender.test";
    env.client_addr = "127.0.0.1";
    env.client_name = "localhost";
    env.helo = "client.test";
    env.protocol = "ESMTP";
    env.nrcpt = 1;
    env.rcpt = &r;
    struct spool_msg *m = spool_msg_create(sp, &env, err, sizeof err);
    if (!m)
        fail_msg("spool_msg_create: %s", err);
    static const char body[] = "Subject: hello\r\n\r\nHi.\r\n";
    assert_int_equal(spool_msg_write(m, body, sizeof body - 1), 0);
    assert_int_equal(spool_msg_finish(m), 0);
    int ok = 0;
    assert_int_equal(spool_commit(sp, &m, 1, &ok), 1);
    memcpy(f->qid, env.qid, sizeof f->qid);
    spool_close(sp);
}

static void fx_teardown(struct fx *f)
{
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------- the daemon's part, in a child ---------- */

static void collect(const char *qid, void *arg)
{
    int *seen = arg;
    (void)qid;
    (*seen)++;
}

static struct runtime *current_rt(void *arg)
{
    return arg;
}

struct child {
    struct scheduler *sched;
    struct attempt_ctx ctx;
    const char *qid;             /* the message under test */
};

/* Only the message under test is attempted: its bounce stays in the queue
 * to be counted. */
static void start_attempt(void *arg, const char *qid)
{
    struct child *c = arg;
    if (strcmp(qid, c->qid) == 0)
        attempt_start(c->sched, &c->ctx, qid);
    else
        scheduler_attempt_finished(c->sched, qid);
}

/* Run in a child: optionally spool_scan (a restart), then an attempt of
 * qid if it is queued, with a crash before step crash_at. Never returns:
 * _exit(0) when the attempt ended, CRASHED when it died, 1 on a set-up
 * error. */
static void child_attempt(const struct fx *f, long crash_at, int scan)
{
    char err[CONFIG_ERROR_MAX] = "";
    struct config_errors errs = { 0 };
    static struct child c;
    struct attempt_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.base = event_base_new();
    struct runtime *rt = fixture_runtime_load(f->cfg, &errs);
    if (!rt && errs.n)
        snprintf(err, sizeof err, "%s", errs.msg[0]);
    struct cfg_source src = { rt, current_rt, fixture_runtime_ref, fixture_runtime_unref };
    ctx.cfg = &src;
    ctx.spool = spool_open(f->spool, err, sizeof err);
    if (!ctx.base || !rt || !ctx.spool) {
        fprintf(stderr, "child set-up: %s\n", err);
        _exit(1);
    }
    c.ctx = ctx;
    c.qid = f->qid;
    c.sched = scheduler_new(ctx.base, start_attempt, &c);
    if (!c.sched)
        _exit(1);
    int seen = 0;
    if (scan && spool_scan(ctx.spool, collect, &seen) < 0)
        _exit(1);
    crash.at = crash_at;
    crash.n = 0;
    if (spool_where(ctx.spool, f->qid) == SPOOL_QUEUED) {
        /* due now: the scheduler starts it in this pass, and it ends
         * there (the error transport is synchronous) */
        scheduler_enqueue(c.sched, f->qid, 0);
        if (event_base_loop(ctx.base, EVLOOP_ONCE) != 0 || scheduler_in_flight(c.sched, f->qid))
            _exit(1);
    }
    _exit(0);
}

static int run_child(const struct fx *f, long crash_at, int scan)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_attempt(f, crash_at, scan);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Notices queued about the message: null sender, to its sender. */
struct ids {
    char v[8][QID_LEN + 1];
    int n;
};

static void collect_id(const char *qid, void *arg)
{
    struct ids *ids = arg;
    if (ids->n < 8)
        memcpy(ids->v[ids->n], qid, QID_LEN + 1);
    ids->n++;
}

static int count_bounces(const struct fx *f)
{
    char err[256] = "";
    struct spool *sp = spool_open(f->spool, err, sizeof err);
    assert_non_null(sp);
    struct ids ids = { .n = 0 };
    assert_true(spool_list(sp, collect_id, &ids) >= 0);
    assert_true(ids.n <= 8);
    int n = 0;
    for (int i = 0; i < ids.n; i++) {
        if (strcmp(ids.v[i], f->qid) == 0)
            continue;
        struct envelope env;
        const char *content;
        struct spool_map *map = spool_load(sp, ids.v[i], &env, &content, err, sizeof err);
        if (!map)
            fail_msg("%s: %s", ids.v[i], err);
        assert_string_equal(env.sender, "");
        assert_int_equal(env.nrcpt, 1);
        assert_string_equal(env.rcpt[0].addr, "alice@sender.test");
        assert_non_null(memmem(content, env.content_len, f->qid, QID_LEN));
        spool_unload(map);
        envelope_free(&env);
        n++;
    }
    spool_close(sp);
    return n;
}

/* Still queued? */
static int is_queued(const struct fx *f)
{
    char err[256] = "";
    struct spool *sp = spool_open(f->spool, err, sizeof err);
    assert_non_null(sp);
    int where = spool_where(sp, f->qid);
    spool_close(sp);
    return where == SPOOL_QUEUED;
}

static int tmp_is_empty(const struct fx *f)
{
    char p[256];
    snprintf(p, sizeof p, "%s/tmp", f->spool);
    DIR *dir = opendir(p);
    assert_non_null(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(dir);
    return n == 0;
}

static void test_bounce_once_whatever_the_crash(void **state)
{
    (void)state;
    long k;
    int completed = 0;
    for (k = 1; !completed && k < 200; k++) {
        struct fx f;
        fx_setup(&f);
        int rc = run_child(&f, k, 0);
        assert_true(rc == 0 || rc == CRASHED);
        completed = rc == 0;
        /* the restart: recovery, and the attempt again if still queued */
        assert_int_equal(run_child(&f, 0, 1), 0);
        int bounces = count_bounces(&f);
        int left = is_queued(&f);
        int tmp_clean = tmp_is_empty(&f);
        fx_teardown(&f);
        if (bounces != 1)
            fail_msg("crash before step %ld: %d bounces after the restart, want 1", k,
                     bounces);
        if (left)
            fail_msg("crash before step %ld: the message is still queued", k);
        assert_true(tmp_clean);
    }
    assert_true(completed);
    assert_true(k > 3);       /* the attempt takes several durable steps */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounce_once_whatever_the_crash),
    };
    return cmocka_run_group_tests_name("attempt", tests, NULL, NULL);
}

/* queue — spool, group commit, scheduler and attempts tied together (see
 * queue.h). */
#include "queue.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/runtime.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "admin.h"
#include "attempt.h"
#include "qid.h"
#include "quota.h"
#include "scheduler.h"
#include "spool.h"

struct commit_req {
    struct spool_msg *msg;
    char qid[QID_LEN + 1];
    queue_commit_fn *cb;         /* NULL once its writer went away */
    void *arg;
};

struct queue {
    struct spool *spool;
    struct scheduler *sched;
    struct attempt_ctx attempts;
    struct admin admin;
    /* group commit: requests made during one event-loop pass */
    struct commit_req *pending;
    size_t npending, cappending;
    struct event *commit_ev;
};

static void start_attempt(void *arg, const char *qid)
{
    struct queue *q = arg;
    attempt_start(q->sched, &q->attempts, qid);
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
    struct queue *q = arg;
    (void)fd;
    (void)what;
    size_t n = q->npending;
    if (n == 0)
        return;
    struct commit_req *reqs = q->pending;
    q->pending = NULL;
    q->npending = q->cappending = 0;
    struct spool_msg **msgs = calloc(n, sizeof *msgs);
    int *ok = calloc(n, sizeof *ok);
    if (!msgs || !ok)
        log_fatal("group commit: out of memory");
    for (size_t i = 0; i < n; i++)
        msgs[i] = reqs[i].msg;
    spool_commit(q->spool, msgs, n, ok);
    /* scheduled before any writer hears of it: an acknowledged message
     * is never left unscheduled */
    for (size_t i = 0; i < n; i++)
        if (ok[i])
            scheduler_enqueue(q->sched, reqs[i].qid, 0);
    for (size_t i = 0; i < n; i++)
        if (reqs[i].cb)
            reqs[i].cb(reqs[i].arg, ok[i]);
    free(msgs);
    free(ok);
    free(reqs);
}

struct queue *queue_open(struct event_base *base, const char *dir,
                         const struct cfg_source *cfg, struct smtp_client *smtp,
                         struct workq *workq, char *err, size_t errlen)
{
    struct queue *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(q->spool = spool_open(dir, err, errlen))) {
        free(q);
        return NULL;
    }
    q->sched = scheduler_new(base, start_attempt, q);
    q->commit_ev = event_new(base, -1, 0, on_commit, q);
    if (!q->sched || !q->commit_ev) {
        snprintf(err, errlen, "out of memory");
        queue_free(q);
        return NULL;
    }
    q->attempts = (struct attempt_ctx){ base, q->spool, cfg, smtp, workq, quota_state_new() };
    if (!q->attempts.quota) {
        snprintf(err, errlen, "out of memory");
        queue_free(q);
        return NULL;
    }
    q->admin = (struct admin){ q->spool, q->sched, 1, q->attempts.quota };
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    /* what finished DATA before we exit is committed, as promised */
    on_commit(-1, 0, q);
    if (q->commit_ev)
        event_free(q->commit_ev);
    scheduler_free(q->sched);
    quota_state_free(q->attempts.quota);
    spool_close(q->spool);
    free(q);
}

static void recover_one(const char *qid, void *arg)
{
    struct queue *q = arg;
    scheduler_enqueue(q->sched, qid, 0);
}

/* The upstream quota counts of the last run (queue/quota.h): without them
 * a restart would open every full window at once. */
static void quota_load(struct queue *q)
{
    char *buf = NULL, err[256];
    size_t len = 0;
    if (spool_side_read(q->spool, "quota", QUOTA_FILE_MAX, &buf, &len) < 0) {
        if (errno != ENOENT)
            log_warning_errno("%s/quota: cannot read the upstream quota counts; "
                              "starting from none", spool_path(q->spool));
        return;
    }
    long long now = clock_now_ms(NULL);
    if (quota_state_decode(q->attempts.quota, buf, len, now, err, sizeof err) < 0)
        log_warning("%s/quota: %s; the upstream quota counts start from none",
                    spool_path(q->spool), err);
    free(buf);
    const struct cfg_source *cfg = q->attempts.cfg;
    if (cfg && cfg->current) {
        const struct runtime *rt = cfg->current(cfg->arg);
        quota_state_prune(q->attempts.quota, rt ? rt->quota : NULL, now);
    }
}

long queue_recover(struct queue *q)
{
    quota_load(q);
    return spool_scan(q->spool, recover_one, q);
}

struct spool_msg *queue_msg_create(struct queue *q, struct envelope *env, char *err,
                                   size_t errlen)
{
    return spool_msg_create(q->spool, env, err, errlen);
}

void queue_commit_request(struct queue *q, struct spool_msg *msg, queue_commit_fn *cb,
                          void *arg)
{
    if (q->npending == q->cappending) {
        size_t nc = q->cappending ? q->cappending * 2 : 16;
        struct commit_req *r = realloc(q->pending, nc * sizeof *r);
        if (!r)
            log_fatal("group commit: out of memory");
        q->pending = r;
        q->cappending = nc;
    }
    struct commit_req *r = &q->pending[q->npending++];
    r->msg = msg;
    memcpy(r->qid, spool_msg_qid(msg), sizeof r->qid);
    r->cb = cb;
    r->arg = arg;
    /* runs after the callbacks already due in this pass: one fsync round
     * covers every message finished meanwhile */
    if (q->npending == 1)
        event_active(q->commit_ev, EV_TIMEOUT, 0);
}

void queue_commit_cancel(struct queue *q, const void *arg)
{
    for (size_t i = 0; i < q->npending; i++)
        if (q->pending[i].arg == arg)
            q->pending[i].cb = NULL;
}

const struct admin *queue_admin(const struct queue *q)
{
    return &q->admin;
}

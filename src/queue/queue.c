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
#include "../util/metrics.h"
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
    struct queue_metrics metrics;   /* families: NULL until queue_set_metrics */
    struct queue_notify notify;     /* fn NULL until queue_set_notify */
    struct metric_family *messages, *oldest;
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
    long long t0 = q->metrics.commit_seconds ? clock_monotonic_us() : 0;
    spool_commit(q->spool, msgs, n, ok);
    if (q->metrics.commit_seconds) {
        metrics_observe(metrics_series(q->metrics.commit_seconds, NULL),
                        (double)(clock_monotonic_us() - t0) / 1e6);
        metrics_observe(metrics_series(q->metrics.commit_batch, NULL), (double)n);
    }
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
    q->attempts = (struct attempt_ctx){ base, q->spool, cfg, smtp, workq, quota_state_new(),
                                        &q->metrics, &q->notify };
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

/* ---------- metrics ---------- */

static void count_one(const char *qid, void *arg)
{
    (void)qid;
    ++*(unsigned long *)arg;
}

void queue_stats(const struct queue *q, struct queue_stats *st)
{
    char oldest[QID_LEN + 1];
    unsigned long all = scheduler_count(q->sched);
    st->active = scheduler_in_flight_count(q->sched);
    st->deferred = all - st->active;
    st->hold = 0;
    if (spool_list_held(q->spool, count_one, &st->hold) < 0)
        st->hold = 0;
    long long t = scheduler_oldest(q->sched, oldest) == 0 ? qid_time_ms(oldest) : -1;
    st->oldest_ms = t > 0 ? t : 0;
}

static void collect(void *arg, struct metrics *m)
{
    struct queue *q = arg;
    struct queue_stats st;
    (void)m;
    queue_stats(q, &st);
    metrics_set(metrics_series1(q->messages, "active"), (double)st.active);
    metrics_set(metrics_series1(q->messages, "deferred"), (double)st.deferred);
    metrics_set(metrics_series1(q->messages, "hold"), (double)st.hold);
    long long now = clock_now_ms(NULL);
    metrics_set(metrics_series(q->oldest, NULL),
                st.oldest_ms && now > st.oldest_ms ? (double)(now - st.oldest_ms) / 1000 : 0);
}

void queue_set_notify(struct queue *q, queue_event_fn *fn, void *arg)
{
    q->notify = (struct queue_notify){ fn, arg };
}

int queue_set_metrics(struct queue *q, struct metrics *m)
{
    static const double batch[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
    static const double secs[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1, 0.25, 0.5, 1, 2.5 };
    const char *state[] = { "state" }, *dl[] = { "transport", "status" },
               *up[] = { "upstream" };
    q->messages = metrics_family(m, METRIC_GAUGE, "postern_queue_messages",
                                 "Messages in the queue by state: active (being delivered), "
                                 "deferred (waiting for an attempt), hold.", state, 1, NULL, 0);
    q->oldest = metrics_family(m, METRIC_GAUGE, "postern_queue_oldest_message_age_seconds",
                               "Age of the oldest active or deferred message; 0 when none.",
                               NULL, 0, NULL, 0);
    q->metrics.deliveries = metrics_family(
        m, METRIC_COUNTER, "postern_deliveries_total",
        "Delivery results per recipient, by transport and status (sent, deferred, bounced).",
        dl, 2, NULL, 0);
    q->metrics.quota_deferrals = metrics_family(
        m, METRIC_COUNTER, "postern_quota_deferrals_total",
        "Recipients deferred because an upstream quota (relayhost_rate_limits) was full, by "
        "its key.", up, 1, NULL, 0);
    q->metrics.commit_batch = metrics_family(
        m, METRIC_HISTOGRAM, "postern_queue_commit_batch_size",
        "Messages made durable by one group commit.", NULL, 0, batch,
        sizeof batch / sizeof batch[0]);
    q->metrics.commit_seconds = metrics_family(
        m, METRIC_HISTOGRAM, "postern_queue_commit_fsync_seconds",
        "Duration of one group commit's fsync round (files, renames, directory).", NULL, 0,
        secs, sizeof secs / sizeof secs[0]);
    if (!q->messages || !q->oldest || !q->metrics.deliveries || !q->metrics.quota_deferrals ||
        !q->metrics.commit_batch || !q->metrics.commit_seconds)
        return -1;
    return metrics_on_collect(m, collect, q);
}

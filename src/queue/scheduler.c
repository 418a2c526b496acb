#include "scheduler.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../daemon.h"
#include "../deliver/transport.h"
#include "../util/log.h"
#include "qid.h"
#include "spool.h"

/* Messages delivered per event-loop pass, so sessions are never starved. */
#define SCHED_BATCH 16
/* Retry interval for a queue file that could not be opened (EMFILE, EIO…)
 * or a state file that could not be written. */
#define SCHED_IO_RETRY 30

struct sched_item {
    long long when;
    char qid[QID_LEN + 1];
};

struct scheduler {
    struct daemon *d;
    struct event *timer;
    struct sched_item *heap;     /* min-heap on (when, qid) */
    size_t n, cap;
    unsigned long inflight;
    long long timer_at;          /* when the timer is set for, -1 none */
};

long long scheduler_backoff(int attempts, long long min_backoff,
                            long long max_backoff)
{
    if (attempts < 1)
        attempts = 1;
    long long b = min_backoff;
    for (int i = 1; i < attempts && b < max_backoff; i++)
        b *= 2;
    if (b > max_backoff)
        b = max_backoff;
    if (b < 1)
        b = 1;
    return b;
}

static int item_less(const struct sched_item *a, const struct sched_item *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    return strcmp(a->qid, b->qid) < 0;
}

static void heap_push(struct scheduler *s, const struct sched_item *it)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        struct sched_item *h = realloc(s->heap, nc * sizeof *h);
        if (!h)
            log_fatal("scheduler: out of memory");
        s->heap = h;
        s->cap = nc;
    }
    size_t i = s->n++;
    s->heap[i] = *it;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&s->heap[i], &s->heap[p]))
            break;
        struct sched_item t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static void heap_pop(struct scheduler *s, struct sched_item *out)
{
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && item_less(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && item_less(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        struct sched_item t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static long long now_sec(void)
{
    return (long long)time(NULL);
}

static void sched_arm(struct scheduler *s)
{
    if (s->n == 0) {
        evtimer_del(s->timer);
        s->timer_at = -1;
        return;
    }
    long long when = s->heap[0].when, now = now_sec();
    if (s->timer_at != -1 && s->timer_at <= when && evtimer_pending(s->timer, NULL))
        return;
    struct timeval tv = { when > now ? when - now : 0, 0 };
    evtimer_add(s->timer, &tv);
    s->timer_at = when;
}

struct sched_job {
    struct delivery_job job;
    const struct transport *transport;
    struct event *retry;          /* state write retry, rarely used */
    struct scheduler *s;
    struct runtime *rt;
    struct spool_map *map;
    struct envelope env;
    unsigned char *todo;
};

static void job_free(struct sched_job *j)
{
    if (j->retry)
        event_free(j->retry);
    spool_unload(j->map);
    envelope_free(&j->env);
    runtime_unref(j->rt);
    free(j->todo);
    free(j);
}

static double delay_since(const struct envelope *env)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)(tv.tv_sec - env->arrival_sec) +
           (double)(tv.tv_usec - env->arrival_usec) / 1e6;
}

static void job_requeue(struct sched_job *j)
{
    struct sched_item it;
    it.when = j->env.next_attempt;
    memcpy(it.qid, j->env.qid, sizeof it.qid);
    heap_push(j->s, &it);
}

static int job_save_state(struct sched_job *j);

/* Invariant 4: the next attempt is scheduled only once the state of this
 * one is durable; until the disk takes it, keep the job and try again. */
static void job_state_retry(evutil_socket_t fd, short what, void *arg)
{
    struct sched_job *j = arg;
    struct scheduler *s = j->s;
    (void)fd;
    (void)what;
    if (job_save_state(j) < 0)
        return;
    s->inflight--;
    job_free(j);
    sched_arm(s);
}

static int job_save_state(struct sched_job *j)
{
    struct scheduler *s = j->s;
    if (spool_state_write(s->d->spool, &j->env) == 0) {
        job_requeue(j);
        return 0;
    }
    log_warning_errno("%s: cannot record delivery state; retrying in %ds",
                      j->env.qid, SCHED_IO_RETRY);
    if (!j->retry) {
        j->retry = evtimer_new(s->d->base, job_state_retry, j);
        if (!j->retry)
            log_fatal("scheduler: out of memory");
    }
    struct timeval tv = { SCHED_IO_RETRY, 0 };
    evtimer_add(j->retry, &tv);
    return -1;
}

static void job_done(struct delivery_job *job)
{
    struct sched_job *j = job->arg;
    struct scheduler *s = j->s;
    struct envelope *env = &j->env;
    const struct config *cfg = j->rt->cfg;
    int remaining = 0;
    double delay = delay_since(env);

    for (size_t i = 0; i < env->nrcpt; i++) {
        struct env_rcpt *r = &env->rcpt[i];
        if (r->state == RCPT_DEFERRED || r->state == RCPT_PENDING)
            remaining = 1;
        if (!j->todo[i])
            continue;
        const char *status = r->state == RCPT_SENT ? "sent"
                           : r->state == RCPT_BOUNCED ? "bounced" : "deferred";
        log_info("%s: to=<%s>, relay=%s, delay=%.2f, dsn=%s, status=%s (%s)",
                 env->qid, r->addr, job->relay ? job->relay : "none", delay,
                 r->dsn, status, r->reason ? r->reason : "");
    }
    env->attempts++;
    if (!remaining) {
        /* a crash between the last delivery and the unlink would deliver
         * again: record the final state first unless that is harmless */
        if (!j->transport->idempotent && spool_state_write(s->d->spool, env) < 0)
            log_warning_errno("%s: cannot record final delivery state", env->qid);
        if (spool_remove(s->d->spool, env->qid) < 0)
            log_warning_errno("%s: cannot remove queue file", env->qid);
        else
            log_info("%s: removed", env->qid);
    } else {
        long long wait = scheduler_backoff(env->attempts, cfg->minimal_backoff_time,
                                           cfg->maximal_backoff_time);
        env->next_attempt = now_sec() + wait;
        if (job_save_state(j) < 0)
            return;     /* job_state_retry finishes the job later */
    }
    s->inflight--;
    job_free(j);
    sched_arm(s);
}

static void sched_deliver(struct scheduler *s, const char *qid)
{
    struct daemon *d = s->d;
    struct sched_job *j = calloc(1, sizeof *j);
    char err[256];
    const char *content;
    if (!j)
        log_fatal("scheduler: out of memory");
    j->map = spool_load(d->spool, qid, &j->env, &content, err, sizeof err);
    if (!j->map) {
        if (errno == EBADMSG) {
            log_warning("%s: corrupt queue file (%s); moved to quarantine", qid, err);
            spool_quarantine(d->spool, qid);
        } else {
            /* EMFILE, EIO, ENOMEM: the message is fine, the moment is not */
            log_warning("%s: cannot open queue file (%s); retrying in %ds", qid, err,
                        SCHED_IO_RETRY);
            struct sched_item it;
            it.when = now_sec() + SCHED_IO_RETRY;
            memcpy(it.qid, qid, sizeof it.qid);
            heap_push(s, &it);
        }
        free(j);
        return;
    }
    j->s = s;
    j->rt = runtime_ref(d->rt);
    j->todo = calloc(j->env.nrcpt ? j->env.nrcpt : 1, 1);
    if (!j->todo)
        log_fatal("scheduler: out of memory");
    for (size_t i = 0; i < j->env.nrcpt; i++)
        j->todo[i] = j->env.rcpt[i].state == RCPT_PENDING ||
                     j->env.rcpt[i].state == RCPT_DEFERRED;
    const struct transport *t = transport_find(j->rt->cfg->default_transport);
    if (!t)
        log_panic("unknown transport %s passed the config check",
                  j->rt->cfg->default_transport);
    j->transport = t;
    j->job.cfg = j->rt->cfg;
    j->job.env = &j->env;
    j->job.todo = j->todo;
    j->job.content = content;
    j->job.content_len = j->env.content_len;
    j->job.done = job_done;
    j->job.arg = j;
    s->inflight++;
    t->deliver(&j->job);
}

static void sched_run(evutil_socket_t fd, short what, void *arg)
{
    struct scheduler *s = arg;
    (void)fd;
    (void)what;
    s->timer_at = -1;
    long long now = now_sec();
    for (int done = 0; done < SCHED_BATCH && s->n > 0 && s->heap[0].when <= now; done++) {
        struct sched_item it;
        heap_pop(s, &it);
        sched_deliver(s, it.qid);
    }
    sched_arm(s);
}

struct scheduler *scheduler_new(struct daemon *d)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->d = d;
    s->timer_at = -1;
    s->timer = evtimer_new(d->base, sched_run, s);
    if (!s->timer) {
        free(s);
        return NULL;
    }
    return s;
}

void scheduler_free(struct scheduler *s)
{
    if (!s)
        return;
    event_free(s->timer);
    free(s->heap);
    free(s);
}

void scheduler_enqueue(struct scheduler *s, const char *qid, long long when)
{
    struct sched_item it;
    if (!qid_valid(qid))
        log_panic("scheduler: invalid queue id");
    it.when = when;
    memcpy(it.qid, qid, sizeof it.qid);
    heap_push(s, &it);
    sched_arm(s);
}

unsigned long scheduler_count(const struct scheduler *s)
{
    return (unsigned long)s->n + s->inflight;
}

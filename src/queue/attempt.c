/* attempt — one delivery attempt of one queued message:
 * load → rewrite the sender → route each recipient → one job per route →
 * record per-recipient results → expire, bounce (DSN), warn, or retry —
 * or, when `postern queue hold|delete` was asked for while the attempt ran,
 * hold the message (its state written first) or remove it without a bounce.
 * The scheduler decides *when*; this file decides *what happens*.
 *
 * Notices (bounce, delay warning) are staged first, then the state that
 * records them is written (the decision), then they are published: a
 * crash at any point sends each exactly once (spool.h, docs/queue.md). */
#include "attempt.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../config/runtime.h"
#include "../deliver/rewrite.h"
#include "../deliver/route.h"
#include "../deliver/transport.h"
#include "../util/log.h"
#include "bounce.h"
#include "scheduler.h"
#include "spool.h"

/* Retry interval for a queue file that could not be opened (EMFILE, EIO…)
 * or a state file that could not be written. */
#define ATTEMPT_IO_RETRY 30

struct attempt;

struct sub_job {
    struct delivery_job job;
    struct attempt *a;
    const struct transport *t;
    struct route route;
    unsigned char *todo;
};

/* A notice staged by this attempt, published once its state is durable. */
struct notice {
    char qid[QID_LEN + 1];
    const char *what;                /* "non-delivery notification"... */
    size_t size;
};

struct attempt {
    struct scheduler *s;
    const struct attempt_ctx *d;
    struct runtime *rt;
    struct spool_map *map;
    struct envelope env;
    const char *orig_content;        /* in the mapping */
    char *rewritten;                 /* content after header rewriting */
    const char *content;
    size_t content_len;
    unsigned char *tried;            /* recipients tried in this attempt */
    struct sub_job *subs;
    size_t nsubs, pending;
    int non_idempotent;
    struct event *retry;
    /* finishing (attempt_commit), possibly over several retries */
    struct notice notices[ENV_NOTICES_MAX];
    size_t nnotices, npublished;
    int state_saved;
    int done;                        /* no recipient left: remove */
};

static long long now_sec(void)
{
    return (long long)time(NULL);
}

static double delay_since(const struct envelope *env)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)(tv.tv_sec - env->arrival_sec) +
           (double)(tv.tv_usec - env->arrival_usec) / 1e6;
}

static void attempt_free(struct attempt *a)
{
    if (a->retry)
        event_free(a->retry);
    for (size_t i = 0; i < a->nsubs; i++)
        free(a->subs[i].todo);
    free(a->subs);
    free(a->tried);
    free(a->rewritten);
    spool_unload(a->map);
    envelope_free(&a->env);
    if (a->rt)
        a->d->cfg->unref(a->rt);
    free(a);
}

static void attempt_end(struct attempt *a)
{
    struct scheduler *s = a->s;
    char qid[QID_LEN + 1];
    memcpy(qid, a->env.qid, sizeof qid);
    /* a hold or delete asked for during this attempt and not applied (the
     * message was done and removed) must not outlive it */
    scheduler_pending_take(s, qid);
    attempt_free(a);
    scheduler_attempt_finished(s, qid);
}

/* ---------- notifications (DSN) ---------- */

/* Stage a new message with the null sender, a bounce or delay warning:
 * it is published by attempt_commit once the state naming it is durable.
 * -1 when it could not be written (logged). */
static int stage_notice(struct attempt *a, const char *rcpt, const char *text, size_t len,
                        const char *what)
{
    const struct attempt_ctx *d = a->d;
    struct envelope e;
    struct env_rcpt r;
    char err[256];
    if (a->nnotices == ENV_NOTICES_MAX)
        log_panic("%s: more than %d notices in one attempt", a->env.qid, ENV_NOTICES_MAX);
    memset(&e, 0, sizeof e);
    memset(&r, 0, sizeof r);
    r.addr = (char *)rcpt;
    e.sender = "";
    e.client_addr = "local";
    e.client_name = "localhost";
    e.helo = "";
    e.protocol = "local";
    e.nrcpt = 1;
    e.rcpt = &r;
    e.body_8bit = 1;
    struct spool_msg *m = spool_msg_create(d->spool, &e, err, sizeof err);
    if (!m) {
        log_warning("%s: cannot queue %s: %s", a->env.qid, what, err);
        return -1;
    }
    if (spool_msg_write(m, text, len) < 0 || spool_msg_finish(m) < 0) {
        log_warning_errno("%s: cannot write %s", a->env.qid, what);
        spool_msg_abort(m);
        return -1;
    }
    struct notice *n = &a->notices[a->nnotices];
    if (spool_notice_stage(d->spool, m, a->env.qid, n->qid) < 0) {
        log_warning_errno("%s: cannot queue %s", a->env.qid, what);
        return -1;
    }
    n->what = what;
    n->size = len;
    a->nnotices++;
    memcpy(a->env.notice[a->env.nnotice++], n->qid, QID_LEN + 1);
    return 0;
}

/* Stage a DSN about the recipients in include[] to the sender; a bounce of
 * a bounce goes to 2bounce_notice_recipient or is dropped — never a loop.
 * 0 when staged or when there is nothing to send, -1 when it could not be
 * written (the caller does not record it as sent). */
static int notify_sender(struct attempt *a, enum bounce_kind kind,
                         const unsigned char *include)
{
    const struct config *cfg = a->rt->cfg;
    const struct envelope *env = &a->env;
    const char *to = env->sender;
    const char *what = kind == BOUNCE_FAILED ? "non-delivery notification"
                                             : "delay status notification";
    if (!*to) {
        if (kind == BOUNCE_DELAYED)
            return 0;
        const char *two = cfg->twobounce_notice_recipient;
        int loops = 0;
        for (size_t i = 0; i < env->nrcpt && *two; i++)
            if (include[i] && strcasecmp(env->rcpt[i].addr, two) == 0)
                loops = 1;
        if (!*two || loops) {
            log_info("%s: undeliverable bounce discarded (null sender%s)", env->qid,
                     loops ? ", sent to 2bounce_notice_recipient" : "");
            return 0;
        }
        to = two;
        what = "double-bounce notification";
    }
    char seed[64];
    snprintf(seed, sizeof seed, "%s.%lld", env->qid, now_sec());
    struct bounce_params p = {
        .myhostname = cfg->myhostname,
        .now = now_sec(),
        .size_limit = cfg->bounce_size_limit,
        .kind = kind,
        .include = include,
        .remote_mta = NULL,
        .boundary_seed = seed,
        .lifetime = *env->sender ? cfg->maximal_queue_lifetime : cfg->bounce_queue_lifetime,
    };
    size_t len = 0;
    char *text = bounce_compose(env, a->orig_content, env->content_len, &p, &len);
    if (!text) {
        log_warning_errno("%s: cannot compose %s", env->qid, what);
        return -1;
    }
    int rc = stage_notice(a, to, text, len, what);
    free(text);
    return rc;
}

/* ---------- finishing an attempt ---------- */

static int attempt_commit(struct attempt *a);

/* `postern queue delete` asked for while this attempt ran: remove the
 * message, without a bounce. 0 when it is gone. */
static int attempt_admin_remove(struct attempt *a)
{
    const char *qid = a->env.qid;
    if (spool_remove(a->d->spool, qid) < 0) {
        int e = errno;
        /* the queue file went first: without it the message is gone (an
         * orphan state file is deleted at start-up) */
        if (spool_where(a->d->spool, qid) != SPOOL_ABSENT) {
            errno = e;
            log_warning_errno("%s: cannot remove queue file (admin request)", qid);
            return -1;
        }
    }
    log_info("%s: removed by admin request", qid);
    return 0;
}

/* The state of this attempt is durable: schedule the next one, unless a
 * hold or delete was asked for while it ran (applied now, instead). */
static void attempt_reschedule(struct attempt *a)
{
    const char *qid = a->env.qid;
    switch (scheduler_pending_take(a->s, qid)) {
    case SCHED_ACT_DELETE:
        if (attempt_admin_remove(a) == 0)
            return;
        break;
    case SCHED_ACT_HOLD:
        if (spool_hold(a->d->spool, qid) == 0) {
            log_info("%s: held by admin request (after delivery attempt)", qid);
            return;
        }
        log_warning_errno("%s: cannot hold (admin request)", qid);
        switch (spool_where(a->d->spool, qid)) {
        case SPOOL_HELD:            /* renamed; a directory fsync failed */
            log_info("%s: held by admin request (after delivery attempt)", qid);
            return;
        case SPOOL_ABSENT:
            return;
        default:                    /* still queued (or unknown): keep it going */
            break;
        }
        break;
    case SCHED_ACT_NONE:
        break;
    }
    scheduler_enqueue(a->s, qid, a->env.next_attempt);
}

static void attempt_commit_retry(evutil_socket_t fd, short what, void *arg)
{
    struct attempt *a = arg;
    (void)fd;
    (void)what;
    if (attempt_commit(a) == 0)
        attempt_end(a);
}

/* Until the disk takes it, keep the attempt (its message stays busy) and
 * try attempt_commit again. Returns -1 for the caller to pass on. */
static int attempt_retry_later(struct attempt *a)
{
    if (!a->retry) {
        a->retry = evtimer_new(a->d->base, attempt_commit_retry, a);
        if (!a->retry)
            log_fatal("scheduler: out of memory");
    }
    struct timeval tv = { ATTEMPT_IO_RETRY, 0 };
    evtimer_add(a->retry, &tv);
    return -1;
}

/* Make the results of this attempt durable, in the order that sends each
 * notice exactly once: the state, which names the staged notices (the
 * decision), then the notices, then the removal or the next attempt.
 * Invariant 4: the next attempt is scheduled only once the state is
 * durable. 0 when done, -1 when a retry is armed. */
static int attempt_commit(struct attempt *a)
{
    struct envelope *env = &a->env;
    struct spool *sp = a->d->spool;
    if (!a->state_saved) {
        /* a finished message needs a state only to decide notices, or when
         * a crash before the unlink must not deliver again */
        int need = !a->done || a->nnotices > 0 || a->non_idempotent;
        if (need && spool_state_write(sp, env) < 0) {
            if (!a->done || a->nnotices > 0) {
                log_warning_errno("%s: cannot record delivery state; retrying in %ds",
                                  env->qid, ATTEMPT_IO_RETRY);
                return attempt_retry_later(a);
            }
            log_warning_errno("%s: cannot record final delivery state", env->qid);
        }
        a->state_saved = 1;
    }
    while (a->npublished < a->nnotices) {
        const struct notice *n = &a->notices[a->npublished];
        if (spool_notice_publish(sp, n->qid, env->qid) < 0) {
            log_warning_errno("%s: cannot queue %s %s; retrying in %ds", env->qid,
                              n->what, n->qid, ATTEMPT_IO_RETRY);
            return attempt_retry_later(a);
        }
        log_info("%s: sender %s: %s", env->qid, n->what, n->qid);
        log_info("%s: from=<>, size=%zu, nrcpt=1 (queue active)", n->qid, n->size);
        scheduler_enqueue(a->s, n->qid, 0);
        a->npublished++;
    }
    if (!a->done) {
        attempt_reschedule(a);
        return 0;
    }
    if (spool_remove_done(sp, env->qid) < 0)
        log_warning_errno("%s: cannot remove queue file", env->qid);
    else
        log_info("%s: removed", env->qid);
    return 0;
}

static void attempt_finish(struct attempt *a)
{
    const struct config *cfg = a->rt->cfg;
    struct envelope *env = &a->env;
    long long now = now_sec();
    long long age = now - env->arrival_sec;
    long long lifetime = *env->sender ? cfg->maximal_queue_lifetime
                                      : cfg->bounce_queue_lifetime;

    /* deleted by the admin while this attempt ran: no bounce, no warning,
     * no state; the recipients' results are only logged (sub_done) */
    if (scheduler_pending(a->s, env->qid) == SCHED_ACT_DELETE) {
        scheduler_pending_take(a->s, env->qid);
        if (attempt_admin_remove(a) == 0) {
            attempt_end(a);
            return;
        }
        /* still there: carry on as if it had not been asked */
    }

    size_t n = env->nrcpt;
    unsigned char *failed = calloc(n ? n : 1, 1);
    unsigned char *delayed = calloc(n ? n : 1, 1);
    int nfailed = 0, ndelayed = 0, remaining = 0;
    if (!failed || !delayed)
        log_fatal("scheduler: out of memory");

    env->attempts++;
    for (size_t i = 0; i < n; i++) {
        struct env_rcpt *r = &env->rcpt[i];
        if (r->state == RCPT_BOUNCED && a->tried[i]) {
            failed[i] = 1;
            nfailed++;
        }
        if (r->state == RCPT_PENDING || r->state == RCPT_DEFERRED)
            remaining = 1;
    }
    if (remaining && age >= lifetime) {
        /* maximal_queue_lifetime: give up, tell the sender */
        for (size_t i = 0; i < n; i++) {
            struct env_rcpt *r = &env->rcpt[i];
            if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
                continue;
            char why[512];
            snprintf(why, sizeof why, "message expired after %llds in the queue%s%s",
                     age, r->reason ? ": " : "", r->reason ? r->reason : "");
            free(r->reason);
            r->reason = strdup(why);
            r->state = RCPT_BOUNCED;
            if (!r->dsn[0] || r->dsn[0] == '2')
                snprintf(r->dsn, sizeof r->dsn, "4.4.7");
            failed[i] = 1;
            nfailed++;
        }
        remaining = 0;
        char from_l[LOG_ADDR_SIZE];
        log_info("%s: from=<%s>, status=expired, returned to sender", env->qid,
                 log_addr(env->sender, from_l, sizeof from_l));
    }
    if (nfailed && notify_sender(a, BOUNCE_FAILED, failed) < 0) {
        /* no bounce could be queued: these recipients are not recorded as
         * bounced (the sender would never hear of them) but stay deferred,
         * and bounce again at a later attempt */
        for (size_t i = 0; i < n; i++)
            if (failed[i])
                env->rcpt[i].state = RCPT_DEFERRED;
        remaining = 1;
        log_warning("%s: %d recipient%s deferred until a non-delivery notification can "
                    "be queued", env->qid, nfailed, nfailed == 1 ? "" : "s");
    }
    if (remaining && cfg->delay_warning_time > 0 && !env->warned &&
        age >= cfg->delay_warning_time) {
        for (size_t i = 0; i < n; i++)
            if (env->rcpt[i].state == RCPT_DEFERRED) {
                delayed[i] = 1;
                ndelayed++;
            }
        if (ndelayed && notify_sender(a, BOUNCE_DELAYED, delayed) == 0)
            env->warned = 1;
    }
    free(failed);
    free(delayed);

    a->done = !remaining;
    if (!a->done) {
        long long wait = scheduler_backoff(env->attempts, cfg->minimal_backoff_time,
                                           cfg->maximal_backoff_time);
        env->next_attempt = scheduler_retry_time(a->s, now + wait);
    }
    if (attempt_commit(a) == 0)
        attempt_end(a);
}

static void sub_done(struct delivery_job *job)
{
    struct sub_job *sj = job->arg;
    struct attempt *a = sj->a;
    struct envelope *env = &a->env;
    double delay = delay_since(env);
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (!sj->todo[i])
            continue;
        struct env_rcpt *r = &env->rcpt[i];
        const char *status = r->state == RCPT_SENT ? "sent"
                           : r->state == RCPT_BOUNCED ? "bounced" : "deferred";
        char to_l[LOG_ADDR_SIZE], why[1024];
        const char *reason = r->reason ? r->reason : "";
        log_info("%s: to=<%s>, relay=%s, delay=%.2f, dsn=%s, status=%s (%s)",
                 env->qid, log_addr(r->addr, to_l, sizeof to_l),
                 job->relay ? job->relay : "none", delay, r->dsn[0] ? r->dsn : "4.0.0",
                 status, log_sanitize(reason, strlen(reason), why, sizeof why));
    }
    if (--a->pending == 0)
        attempt_finish(a);
}

/* ---------- starting an attempt ---------- */

static void error_transport(struct delivery_job *job)
{
    struct sub_job *sj = job->arg;
    job->relay = "none";
    for (size_t i = 0; i < job->env->nrcpt; i++) {
        if (!job->todo[i])
            continue;
        struct env_rcpt *r = &job->env->rcpt[i];
        r->state = RCPT_BOUNCED;
        snprintf(r->dsn, sizeof r->dsn, "5.0.0");
        free(r->reason);
        r->reason = strdup(sj->route.error);
    }
    job->done(job);
}

static const struct transport error_tr = { "error", error_transport, 1 };

/* Sender rewriting happens once per attempt, before any transport. */
static void attempt_rewrite(struct attempt *a)
{
    const struct runtime *rt = a->rt;
    const struct config *cfg = rt->cfg;
    if (!rt->canonical)
        return;
    int env_class = 0, hdr_class = 0;
    for (size_t i = 0; i < cfg->sender_canonical_classes.n; i++) {
        if (strcmp(cfg->sender_canonical_classes.v[i], "envelope_sender") == 0)
            env_class = 1;
        else if (strcmp(cfg->sender_canonical_classes.v[i], "header_sender") == 0)
            hdr_class = 1;
    }
    if (env_class) {
        char *ns = rewrite_envelope_sender(rt->canonical, a->env.sender);
        if (ns) {
            char old_l[LOG_ADDR_SIZE], new_l[LOG_ADDR_SIZE];
            log_info("%s: sender <%s> rewritten to <%s>", a->env.qid,
                     log_addr(a->env.sender, old_l, sizeof old_l),
                     log_addr(ns, new_l, sizeof new_l));
            free(a->env.sender);
            a->env.sender = ns;
        }
    }
    if (hdr_class) {
        char *out = NULL;
        size_t outlen = 0;
        int rc = rewrite_header_senders(rt->canonical, cfg->sender_rewrite_reply_to,
                                        a->content, a->content_len, &out, &outlen);
        if (rc == 1) {
            a->rewritten = out;
            a->content = out;
            a->content_len = outlen;
        } else if (rc < 0) {
            log_warning("%s: header rewriting failed: out of memory", a->env.qid);
        }
    }
}

static struct sub_job *sub_for(struct attempt *a, const struct route *rt)
{
    for (size_t i = 0; i < a->nsubs; i++)
        if (route_equal(&a->subs[i].route, rt))
            return &a->subs[i];
    struct sub_job *sj = &a->subs[a->nsubs++];
    memset(sj, 0, sizeof *sj);
    sj->a = a;
    sj->route = *rt;
    sj->todo = calloc(a->env.nrcpt, 1);
    if (!sj->todo)
        log_fatal("scheduler: out of memory");
    switch (rt->kind) {
    case ROUTE_CAPTURE: sj->t = transport_find("capture"); break;
    case ROUTE_SMTP: sj->t = transport_find("smtp"); break;
    case ROUTE_ERROR: sj->t = &error_tr; break;
    }
    if (!sj->t)
        log_panic("no transport for route kind %d", (int)rt->kind);
    if (!sj->t->idempotent)
        a->non_idempotent = 1;
    return sj;
}

void attempt_start(struct scheduler *s, const struct attempt_ctx *d, const char *qid)
{
    struct attempt *a = calloc(1, sizeof *a);
    char err[256];
    const char *content;
    if (!a)
        log_fatal("scheduler: out of memory");
    a->map = spool_load(d->spool, qid, &a->env, &content, err, sizeof err);
    if (!a->map) {
        if (errno == EBADMSG) {
            log_warning("%s: corrupt queue file (%s); moved to quarantine", qid, err);
            spool_quarantine(d->spool, qid);
        } else {
            /* EMFILE, EIO, ENOMEM: the message is fine, the moment is not */
            log_warning("%s: cannot open queue file (%s); retrying in %ds", qid, err,
                        ATTEMPT_IO_RETRY);
            scheduler_enqueue(s, qid, now_sec() + ATTEMPT_IO_RETRY);
        }
        free(a);
        scheduler_attempt_finished(s, qid);
        return;
    }
    a->s = s;
    a->d = d;
    a->rt = d->cfg->ref(d->cfg->current(d->cfg->arg));
    /* notices an earlier attempt decided are in queue/ by now (published,
     * or by spool_scan): this attempt's state names only its own */
    a->env.nnotice = 0;
    a->orig_content = content;
    a->content = content;
    a->content_len = a->env.content_len;
    size_t n = a->env.nrcpt;
    a->tried = calloc(n ? n : 1, 1);
    a->subs = calloc(n ? n : 1, sizeof *a->subs);
    if (!a->tried || !a->subs)
        log_fatal("scheduler: out of memory");
    attempt_rewrite(a);

    int deferred_now = 0;
    for (size_t i = 0; i < n; i++) {
        struct env_rcpt *r = &a->env.rcpt[i];
        if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
            continue;
        struct route rt;
        if (route_for(a->rt->cfg, a->rt->transport_map, r->addr, &rt, err, sizeof err) < 0) {
            /* a broken table is the admin's to fix: defer, don't bounce */
            r->state = RCPT_DEFERRED;
            snprintf(r->dsn, sizeof r->dsn, "4.3.5");
            free(r->reason);
            r->reason = strdup(err);
            char to_l[LOG_ADDR_SIZE], err_l[1024];
            log_warning("%s: to=<%s>: %s", a->env.qid, log_addr(r->addr, to_l, sizeof to_l),
                        log_sanitize(err, strlen(err), err_l, sizeof err_l));
            deferred_now = 1;
            continue;
        }
        a->tried[i] = 1;
        sub_for(a, &rt)->todo[i] = 1;
    }
    (void)deferred_now;
    if (a->nsubs == 0) {
        attempt_finish(a);
        return;
    }
    a->pending = a->nsubs;
    /* count first: a transport may finish synchronously (capture) */
    size_t nsubs = a->nsubs;
    for (size_t i = 0; i < nsubs; i++) {
        struct sub_job *sj = &a->subs[i];
        sj->job.cfg = a->rt->cfg;
        sj->job.env = &a->env;
        sj->job.todo = sj->todo;
        sj->job.content = a->content;
        sj->job.content_len = a->content_len;
        sj->job.nexthop = sj->route.nexthop;
        sj->job.smtp = d->smtp;
        sj->job.workq = d->workq;
        sj->job.done = sub_done;
        sj->job.arg = sj;
        sj->t->deliver(&sj->job);
    }
}

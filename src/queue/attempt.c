/* attempt — one delivery attempt of one queued message:
 * load → rewrite the sender → route each recipient → one request per route
 * (deliver/transport.h) → record the per-recipient results the transports
 * report → expire, bounce (DSN), warn, or retry —
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

#include "../config/runtime.h"
#include "../deliver/rewrite.h"
#include "../deliver/route.h"
#include "../deliver/smtp.h"
#include "../deliver/transport.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "bounce.h"
#include "envelope_codec.h"
#include "outcome.h"
#include "quota.h"
#include "scheduler.h"
#include "spool.h"

/* Retry interval (seconds) for a queue file that could not be opened
 * (EMFILE, EIO…) or a state file that could not be written. */
#define ATTEMPT_IO_RETRY 30

struct attempt;

/* One group of recipients (one route) on its way through a transport. */
struct sub_job {
    struct attempt *a;
    struct deliver_request req;      /* the transport's, until sub_done */
    const struct quota_rule *quota;  /* the upstream quota it holds a place of */
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
    struct deliver_plan plan;        /* the tried recipients by route */
    struct deliver_ctx ctx;
    struct sub_job *subs;            /* one per group of the plan */
    size_t pending;
    int non_idempotent;
    long long quota_next;            /* a quota held recipients back until then */
    char *state0;                    /* the state as loaded (envelope_codec.h) */
    size_t state0_len;
    int rescheduled;                 /* the next attempt is in the schedule */
    int by_login;                    /* its SMTP AUTH login chose the upstream */
    size_t handed;                   /* groups handed to a transport */
    struct event *retry;
    /* finishing (attempt_commit), possibly over several retries */
    struct notice notices[ENV_NOTICES_MAX];
    size_t nnotices, npublished;
    int state_saved;
    int done;                        /* no recipient left: remove */
    long long next_ms;               /* not done: the next attempt */
};

/* Every time of an attempt comes from the scheduler's clock. */
static long long now_sec(const struct attempt *a)
{
    return scheduler_now_ms(a->s) / 1000;
}

static double delay_since(const struct attempt *a)
{
    const struct envelope *env = &a->env;
    long long arrival_ms = env->arrival_sec * 1000 + env->arrival_usec / 1000;
    return (double)(scheduler_now_ms(a->s) - arrival_ms) / 1e3;
}

static void attempt_free(struct attempt *a)
{
    if (a->retry)
        event_free(a->retry);
    free(a->subs);
    deliver_plan_free(&a->plan);
    free(a->tried);
    free(a->rewritten);
    free(a->state0);
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
    /* out of the quota lines unless a quota holds it back and it comes
     * again: removed, held, deleted, or deferred for something else */
    if (a->d->quota && !(a->rescheduled && a->quota_next > 0))
        quota_forget(a->d->quota, qid);
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
    snprintf(seed, sizeof seed, "%s.%lld", env->qid, now_sec(a));
    struct bounce_params p = {
        .myhostname = cfg->myhostname,
        .now = now_sec(a),
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
    scheduler_enqueue(a->s, qid, a->next_ms);
    a->rescheduled = 1;
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

/* A deferral by a quota alone that leaves the state as it was loaded
 * (same slot second, same reasons, attempts not counted) is durable
 * already: no write (and no fsync) for it. */
static int attempt_state_unchanged(const struct attempt *a)
{
    if (a->done || a->nnotices > 0 || !(a->quota_next > 0 && a->handed == 0) || !a->state0)
        return 0;
    char *buf = NULL;
    size_t n = envelope_encode_state(&a->env, &buf);
    int same = n > 0 && n == a->state0_len && memcmp(buf, a->state0, n) == 0;
    free(buf);
    return same;
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
        if (need && attempt_state_unchanged(a))
            need = 0;
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

/* Record the expiry the decision gives: the recipient is bounced with
 * the reason it had, after how long it waited. */
static void attempt_expire(struct env_rcpt *r, long long age_ms)
{
    char why[512];
    snprintf(why, sizeof why, "message expired after %llds in the queue%s%s",
             age_ms / 1000, r->reason ? ": " : "", r->reason ? r->reason : "");
    free(r->reason);
    r->reason = strdup(why);
    r->state = RCPT_BOUNCED;
    if (!r->dsn[0] || r->dsn[0] == '2')
        snprintf(r->dsn, sizeof r->dsn, "4.4.7");
}

/* Tell the daemon (webhooks) of the recipients in mask: each bounced one,
 * or the message's delay warning. */
static void attempt_tell(struct attempt *a, enum queue_event_kind kind,
                         const unsigned char *mask, long long age)
{
    const struct queue_notify *qn = a->d->notify;
    struct envelope *env = &a->env;
    if (!qn || !qn->fn)
        return;
    struct queue_event ev = { .kind = kind, .time = scheduler_now_ms(a->s), .qid = env->qid,
                              .sender = env->sender, .delay = age };
    if (kind == QUEUE_EV_BOUNCE) {
        for (size_t i = 0; i < env->nrcpt; i++)
            if (mask[i]) {
                ev.recipient = env->rcpt[i].addr;
                ev.dsn = env->rcpt[i].dsn;
                ev.reason = env->rcpt[i].reason;
                qn->fn(qn->arg, &ev);
            }
        return;
    }
    const char **r = calloc(env->nrcpt ? env->nrcpt : 1, sizeof *r);
    if (!r)
        return;
    for (size_t i = 0; i < env->nrcpt; i++)
        if (mask[i]) {
            if (!ev.nrecipients) {
                ev.dsn = env->rcpt[i].dsn;
                ev.reason = env->rcpt[i].reason;
            }
            r[ev.nrecipients++] = env->rcpt[i].addr;
        }
    ev.recipients = r;
    qn->fn(qn->arg, &ev);
    free(r);
}

/* Decide what the attempt leads to (queue/outcome.c) and carry it out. */
static void attempt_finish(struct attempt *a)
{
    struct envelope *env = &a->env;

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

    size_t n = env->nrcpt, m = n ? n : 1;
    enum rcpt_state *state = calloc(m, sizeof *state);
    unsigned char *masks = calloc(m, 3);
    if (!state || !masks)
        log_fatal("scheduler: out of memory");
    for (size_t i = 0; i < n; i++)
        state[i] = env->rcpt[i].state;
    struct outcome_in in = {
        .n = n,
        .state = state,
        .tried = a->tried,
        .null_sender = !*env->sender,
        .arrival = env->arrival_sec * 1000 + env->arrival_usec / 1000,
        .attempts = env->attempts,
        .warned = env->warned,
        .now = scheduler_now_ms(a->s),
        .run_base = scheduler_run_base(a->s),
        .quota_next = a->quota_next,
        .quota_only = a->quota_next > 0 && a->handed == 0,
    };
    outcome_limits_from(a->rt->cfg, &in.limits);
    struct outcome out = { .expire = masks, .bounce = masks + m, .warn = masks + 2 * m };
    outcome_decide(&in, &out);

    env->attempts = out.attempts;
    if (out.expired) {
        for (size_t i = 0; i < n; i++)
            if (out.expire[i])
                attempt_expire(&env->rcpt[i], out.age);
        char from_l[LOG_ADDR_SIZE];
        log_info("%s: from=<%s>, status=expired, returned to sender", env->qid,
                 log_addr(env->sender, from_l, sizeof from_l));
    }
    if (out.nbounce && notify_sender(a, BOUNCE_FAILED, out.bounce) < 0) {
        /* no bounce could be queued: these recipients are not recorded as
         * bounced (the sender would never hear of them) but stay deferred,
         * and bounce again at a later attempt */
        for (size_t i = 0; i < n; i++)
            if (out.bounce[i])
                env->rcpt[i].state = RCPT_DEFERRED;
        log_warning("%s: %zu recipient%s deferred until a non-delivery notification can "
                    "be queued", env->qid, out.nbounce, out.nbounce == 1 ? "" : "s");
        in.bounce_failed = 1;
        outcome_decide(&in, &out);      /* the warning and the retry, without it */
    } else if (out.nbounce) {
        attempt_tell(a, QUEUE_EV_BOUNCE, out.bounce, out.age);
    }
    if (out.nwarn && notify_sender(a, BOUNCE_DELAYED, out.warn) == 0) {
        env->warned = 1;
        attempt_tell(a, QUEUE_EV_DELAYED, out.warn, out.age);
    }

    a->done = out.action == OUTCOME_REMOVE;
    if (!a->done) {
        a->next_ms = out.next;
        /* the state file keeps seconds: never earlier than the schedule */
        env->next_attempt = clock_ms_to_sec_ceil(out.next);
    }
    free(state);
    free(masks);
    if (attempt_commit(a) == 0)
        attempt_end(a);
}

/* ---------- upstream quotas (relayhost_rate_limits) ---------- */

/* Write the sends down (queue/quota.h), so that a restart still sees the
 * windows full; a failure only loses counts, so it is logged, not fatal. */
static void quota_save(const struct attempt *a)
{
    struct quota_state *qs = a->d->quota;
    quota_state_prune(qs, a->rt->quota, scheduler_now_ms(a->s));
    size_t len = 0;
    char *buf = quota_state_encode(qs, &len);
    if (!buf || spool_side_write(a->d->spool, "quota", buf, len) < 0)
        log_warning_errno("%s: cannot record the upstream quota counts", a->env.qid);
    free(buf);
}

/* The group went to its upstream: one message counts once, when the
 * upstream accepted it (250 to the final dot: a recipient sent), whatever
 * the number of recipients; otherwise its place is free again. */
static void attempt_quota_end(struct attempt *a, struct sub_job *sj,
                              const struct deliver_result *res)
{
    int sent = 0;
    for (size_t k = 0; k < sj->req.nrcpt; k++)
        if (res[k].status == DELIVER_SENT)
            sent = 1;
    if (sent) {
        quota_commit(a->d->quota, sj->quota, scheduler_now_ms(a->s));
        quota_save(a);
    } else {
        quota_release(a->d->quota, sj->quota);
        /* the place is free again: the oldest waiter's, not the next
         * message's to come by */
        const char *first = quota_first_waiter(a->d->quota, sj->quota->key,
                                               scheduler_now_ms(a->s));
        if (first)
            scheduler_flush(a->s, first);
    }
    sj->quota = NULL;
}

/* The rule for group g's upstream account: "user@dest" when the client
 * logs in there as user (smtp_sasl_password_maps, by login or sender first
 * with smtp_sender_dependent_authentication), then "dest"; dest is the next-hop
 * as routed ("[smtp.example.com]:465": relayhost, the sender's relayhost,
 * a transport_maps next-hop) or the recipient domain for MX delivery. */
static const struct quota_rule *attempt_quota_rule(const struct attempt *a,
                                                   const struct deliver_group *g)
{
    const struct quota_conf *qc = a->rt->quota;
    if (!qc || !a->d->quota || g->route.kind != ROUTE_SMTP)
        return NULL;
    const char *dest = g->route.nexthop[0] ? g->route.nexthop : g->route.domain;
    char user[256], key[QUOTA_KEY_MAX];
    if (smtp_client_account(a->d->smtp, a->by_login ? a->env.sasl_username : NULL,
                            a->env.sender, dest, user, sizeof user) != SMTP_ACCOUNT_NONE &&
        (size_t)snprintf(key, sizeof key, "%s@%s", user, dest) < sizeof key) {
        const struct quota_rule *r = quota_conf_find(qc, key);
        if (r)
            return r;
    }
    return quota_conf_find(qc, dest);
}

static void sub_done(void *arg, const struct deliver_result *res, const char *relay);

/* Hand group g to its transport, unless its upstream quota is full: then
 * its recipients are deferred with the slot time, and the scheduler tries
 * the message again then. */
static void attempt_deliver_group(struct attempt *a, size_t g)
{
    struct sub_job *sj = &a->subs[g];
    const struct quota_rule *r = attempt_quota_rule(a, &a->plan.g[g]);
    if (r) {
        long long now = scheduler_now_ms(a->s), slot = 0;
        const struct quota_window *w = NULL;
        int rc = quota_reserve(a->d->quota, r, a->env.qid, now, &slot, &w);
        if (rc == 0) {
            char why[160];
            /* waiters whose slots fall in one second are woken together,
             * and started in queue id order: one timer, not one per ms;
             * the state keeps seconds anyway */
            slot = clock_ms_to_sec_ceil(slot) * 1000;
            quota_reason(why, sizeof why, r, w, slot, now);
            const char *first = w ? NULL : quota_first_waiter(a->d->quota, r->key, now);
            if (first)
                /* room, and an older waiter asleep past it: its turn now */
                scheduler_flush(a->s, first);
            if (a->quota_next == 0 || slot < a->quota_next)
                a->quota_next = slot;
            size_t n = sj->req.nrcpt ? sj->req.nrcpt : 1;
            struct deliver_result *res = calloc(n, sizeof *res);
            if (!res)
                log_fatal("scheduler: out of memory");
            if (a->d->metrics)
                metrics_add(metrics_series1(a->d->metrics->quota_deferrals, r->key),
                            (double)sj->req.nrcpt);
            const struct queue_notify *qn = a->d->notify;
            if (w && qn && qn->fn) {
                /* a full window (not the fairness wait behind older ones) */
                struct queue_event ev = { .kind = QUEUE_EV_QUOTA, .time = now,
                                          .qid = a->env.qid, .sender = a->env.sender,
                                          .reason = why, .key = r->key, .window = w->text,
                                          .next_slot = slot };
                qn->fn(qn->arg, &ev);
            }
            for (size_t k = 0; k < sj->req.nrcpt; k++) {
                res[k].status = DELIVER_DEFERRED;
                snprintf(res[k].dsn, sizeof res[k].dsn, "4.7.0");
                res[k].reason = why;
            }
            sub_done(sj, res, "none");
            free(res);
            return;
        }
        if (rc == 1)
            sj->quota = r;
        /* out of memory: it goes uncounted rather than stays */
    }
    a->handed++;
    transport_deliver(a->plan.g[g].t, &a->ctx, &sj->req, sub_done, sj);
}

/* A transport's results: recorded in the envelope (the transports never
 * write it), each logged. */
static void sub_done(void *arg, const struct deliver_result *res, const char *relay)
{
    struct sub_job *sj = arg;
    struct attempt *a = sj->a;
    struct envelope *env = &a->env;
    double delay = delay_since(a);
    for (size_t k = 0; k < sj->req.nrcpt; k++) {
        struct env_rcpt *r = &env->rcpt[sj->req.rcpt[k].index];
        r->state = res[k].status == DELIVER_SENT ? RCPT_SENT
                 : res[k].status == DELIVER_BOUNCED ? RCPT_BOUNCED : RCPT_DEFERRED;
        snprintf(r->dsn, sizeof r->dsn, "%s", res[k].dsn);
        free(r->reason);
        r->reason = strdup(res[k].reason ? res[k].reason : "");
        const char *status = r->state == RCPT_SENT ? "sent"
                           : r->state == RCPT_BOUNCED ? "bounced" : "deferred";
        if (a->d->metrics) {
            const struct transport *t = a->plan.g[sj - a->subs].t;
            const char *lv[2] = { t && t->name ? t->name : "none", status };
            metrics_inc(metrics_series(a->d->metrics->deliveries, lv));
        }
        char to_l[LOG_ADDR_SIZE], why[1024];
        const char *reason = r->reason ? r->reason : "";
        log_info("%s: to=<%s>, relay=%s, delay=%.2f, dsn=%s, status=%s (%s)",
                 env->qid, log_addr(r->addr, to_l, sizeof to_l),
                 relay ? relay : "none", delay, r->dsn[0] ? r->dsn : "4.0.0",
                 status, log_sanitize(reason, strlen(reason), why, sizeof why));
    }
    if (sj->quota)
        attempt_quota_end(a, sj, res);
    if (--a->pending == 0)
        attempt_finish(a);
}

/* ---------- starting an attempt ---------- */

/* Sender rewriting happens once per attempt, before any transport:
 * by sender_canonical_maps, or, for a message whose login chose its
 * upstream, to that upstream's account (account non-NULL). */
static void attempt_rewrite(struct attempt *a, const char *account)
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
        char *ns = account ? rewrite_envelope_sender_to(account, a->env.sender)
                           : rewrite_envelope_sender(rt->canonical, a->env.sender);
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
        int rc = account
                     ? rewrite_header_senders_to(account, cfg->sender_rewrite_reply_to,
                                                 a->content, a->content_len, &out, &outlen)
                     : rewrite_header_senders(rt->canonical, cfg->sender_rewrite_reply_to,
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

/* The upstream of a message submitted with SMTP AUTH (docs/delivery.md):
 * smtpd_sasl_login_relayhost_maps may choose its relayhost, and
 * smtp_sasl_password_maps (with smtp_sender_dependent_authentication) its
 * account, by the login. When either does, the login chooses: the sender
 * is rewritten to the account of that upstream (when sender_canonical_maps
 * asks for rewriting at all and the account is an address) and the
 * credential is looked up by the login. Otherwise the message goes by its
 * sender, as one without a login: canonical rewriting, then
 * sender_dependent_relayhost_maps, then relayhost. Returns the relayhost
 * (for the caller to free; NULL: relayhost's) and sets *by_login. */
static char *attempt_upstream(struct attempt *a, int *by_login)
{
    const char *login = a->env.sasl_username;
    char *relayhost = route_login_relayhost(a->rt->login_relay, login);
    char account[256] = "";
    enum smtp_account acct = SMTP_ACCOUNT_NONE;
    if (login && a->d->smtp)
        acct = smtp_client_account(a->d->smtp, login, NULL, relayhost, account, sizeof account);
    *by_login = relayhost || acct == SMTP_ACCOUNT_LOGIN;
    attempt_rewrite(a, *by_login && acct != SMTP_ACCOUNT_NONE && strchr(account, '@')
                           ? account : NULL);
    if (!relayhost)
        /* after canonical rewriting, as Postfix's trivial-rewrite sees it */
        relayhost = route_sender_relayhost(a->rt->sender_relay, a->env.sender);
    if (*by_login) {
        char user_l[LOG_ADDR_SIZE], acct_l[LOG_ADDR_SIZE];
        const char *hop = relayhost ? relayhost : a->rt->cfg->relayhost;
        log_info("%s: sasl_username=%s, relayhost=%s, account=%s", a->env.qid,
                 log_addr(login, user_l, sizeof user_l), *hop ? hop : "(MX)",
                 acct != SMTP_ACCOUNT_NONE ? log_addr(account, acct_l, sizeof acct_l)
                                           : "(none)");
    }
    return relayhost;
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
            scheduler_enqueue(s, qid, scheduler_now_ms(s) + ATTEMPT_IO_RETRY * 1000);
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
    if (d->quota)
        a->state0_len = envelope_encode_state(&a->env, &a->state0);
    a->orig_content = content;
    a->content = content;
    a->content_len = a->env.content_len;
    size_t n = a->env.nrcpt;
    a->tried = calloc(n ? n : 1, 1);
    if (!a->tried)
        log_fatal("scheduler: out of memory");
    char *relayhost = attempt_upstream(a, &a->by_login);

    for (size_t i = 0; i < n; i++) {
        struct env_rcpt *r = &a->env.rcpt[i];
        if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
            continue;
        if (deliver_plan_add(&a->plan, a->rt->cfg, a->rt->transport_map, relayhost, r->addr,
                             i, err, sizeof err) < 0) {
            /* a broken table is the admin's to fix: defer, don't bounce */
            r->state = RCPT_DEFERRED;
            snprintf(r->dsn, sizeof r->dsn, "4.3.5");
            free(r->reason);
            r->reason = strdup(err);
            char to_l[LOG_ADDR_SIZE], err_l[1024];
            log_warning("%s: to=<%s>: %s", a->env.qid, log_addr(r->addr, to_l, sizeof to_l),
                        log_sanitize(err, strlen(err), err_l, sizeof err_l));
            continue;
        }
        a->tried[i] = 1;
    }
    free(relayhost);
    if (a->plan.n == 0) {
        attempt_finish(a);
        return;
    }
    a->non_idempotent = !deliver_plan_idempotent(&a->plan);
    a->subs = calloc(a->plan.n, sizeof *a->subs);
    if (!a->subs)
        log_fatal("scheduler: out of memory");
    a->ctx.cfg = a->rt->cfg;
    a->ctx.smtp = d->smtp;
    a->ctx.workq = d->workq;
    const struct deliver_request msg = {
        .id = a->env.qid,
        .arrival_sec = a->env.arrival_sec,
        .sender = a->env.sender,
        .sasl_username = a->by_login ? a->env.sasl_username : NULL,
        .content = a->content,
        .content_len = a->content_len,
        .flags = (a->env.body_8bit ? DELIVER_8BITMIME : 0) |
                 (a->env.smtputf8 ? DELIVER_SMTPUTF8 : 0),
    };
    /* count first: a transport may finish synchronously (capture, error:) */
    size_t ngroups = a->plan.n;
    a->pending = ngroups;
    for (size_t g = 0; g < ngroups; g++) {
        struct sub_job *sj = &a->subs[g];
        sj->a = a;
        deliver_plan_request(&a->plan, g, &msg, &sj->req);
        attempt_deliver_group(a, g);
    }
}

/* admin — hold, release, delete, flush (see admin.h for the contract). */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "qid.h"
#include "quota.h"
#include "scheduler.h"
#include "spool.h"

struct qids {
    char (*v)[QID_LEN + 1];
    size_t n, cap;
    int oom;
};

static void qids_add(const char *qid, void *arg)
{
    struct qids *q = arg;
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        void *nv = realloc(q->v, nc * sizeof *q->v);
        if (!nv) {
            q->oom = 1;
            return;
        }
        q->v = nv;
        q->cap = nc;
    }
    memcpy(q->v[q->n++], qid, QID_LEN + 1);
}

const char *admin_verb_name(enum admin_verb verb)
{
    switch (verb) {
    case ADMIN_FLUSH: return "flush";
    case ADMIN_DELETE: return "delete";
    case ADMIN_HOLD: return "hold";
    case ADMIN_RELEASE: return "release";
    }
    return "";
}

static const char *verb_done(enum admin_verb v)
{
    switch (v) {
    case ADMIN_FLUSH: return "scheduled for delivery";
    case ADMIN_DELETE: return "deleted";
    case ADMIN_HOLD: return "on hold";
    case ADMIN_RELEASE: return "released";
    }
    return "";
}

enum { ACT_FAILED = -1, ACT_DONE = 0, ACT_LATER = 1 };

/* Record a hold or delete of a message in flight, to be applied by
 * attempt.c when the attempt ends. */
static int act_later(const struct admin *a, enum sched_action act, const char *qid,
                     const char *by, char *why, size_t whylen)
{
    enum sched_action now = scheduler_pending_add(a->sched, qid, act);
    if (now == SCHED_ACT_NONE) {
        snprintf(why, whylen, "%s: out of memory", qid);
        return ACT_FAILED;
    }
    /* (not normally scheduled while in flight; never let a copy run after) */
    scheduler_remove(a->sched, qid);
    snprintf(why, whylen, "%s will be %s when its delivery attempt ends", qid,
             now == SCHED_ACT_DELETE ? "deleted" : "held");
    if (a->log && by)
        log_info("%s: %s requested by %s (when its delivery attempt ends)", qid,
                 act == SCHED_ACT_DELETE ? "delete" : "hold", by);
    return ACT_LATER;
}

static int in_flight(const struct admin *a, const char *qid)
{
    return a->sched && scheduler_in_flight(a->sched, qid);
}

/* Take qid out of the schedule, and out of any quota line (it must not
 * keep younger messages back), before it is held or deleted. */
static void unschedule(const struct admin *a, const char *qid)
{
    if (a->sched)
        scheduler_remove(a->sched, qid);
    if (a->quota)
        quota_forget(a->quota, qid);
}

/* An action that failed may have left the message queued: keep it
 * scheduled. */
static void reschedule_if_queued(const struct admin *a, const char *qid)
{
    if (a->sched && spool_where(a->spool, qid) == SPOOL_QUEUED)
        scheduler_enqueue(a->sched, qid, 0);
}

static int act_failed(const struct admin *a, const char *qid, const char *what, char *why,
                      size_t whylen)
{
    int e = errno;
    snprintf(why, whylen, "%s: cannot %s: %s", qid, what, strerror(e));
    if (a->log)
        log_warning("%s: cannot %s: %s", qid, what, strerror(e));
    return ACT_FAILED;
}

/* One message. ACT_DONE or ACT_LATER (a message in flight: the action is
 * pending on its attempt) with the answer text in why, or ACT_FAILED with
 * the reason in why. */
static int act_one(const struct admin *a, enum admin_verb verb, const char *qid,
                   const char *by, char *why, size_t whylen)
{
    int where = spool_where(a->spool, qid);
    if (where < 0) {
        snprintf(why, whylen, "%s: %s", qid, strerror(errno));
        return ACT_FAILED;
    }
    if (where == SPOOL_ABSENT) {
        snprintf(why, whylen, "%s: no such message in the queue", qid);
        return ACT_FAILED;
    }
    snprintf(why, whylen, "%s %s", qid, verb_done(verb));
    switch (verb) {
    case ADMIN_FLUSH:
        if (where == SPOOL_HELD) {
            snprintf(why, whylen, "%s is on hold (release it first)", qid);
            return ACT_FAILED;
        }
        if (!a->sched) {
            snprintf(why, whylen, "flush needs the daemon: only the daemon delivers");
            return ACT_FAILED;
        }
        if (in_flight(a, qid)) {
            snprintf(why, whylen, "%s is being delivered now", qid);
            return ACT_DONE;
        }
        if (scheduler_flush(a->sched, qid) == 0)
            scheduler_enqueue(a->sched, qid, 0);   /* lost track of it: take it */
        if (a->log && by)
            log_info("%s: flushed by %s", qid, by);
        return ACT_DONE;
    case ADMIN_DELETE:
        if (in_flight(a, qid))
            return act_later(a, SCHED_ACT_DELETE, qid, by, why, whylen);
        unschedule(a, qid);
        if (spool_remove(a->spool, qid) < 0) {
            act_failed(a, qid, "remove", why, whylen);
            reschedule_if_queued(a, qid);
            return ACT_FAILED;
        }
        if (a->log)
            log_info("%s: removed (deleted by %s)", qid, by ? by : "postern queue");
        return ACT_DONE;
    case ADMIN_HOLD:
        if (where == SPOOL_HELD)
            return ACT_DONE;
        if (in_flight(a, qid))
            return act_later(a, SCHED_ACT_HOLD, qid, by, why, whylen);
        unschedule(a, qid);
        if (spool_hold(a->spool, qid) < 0) {
            act_failed(a, qid, "hold", why, whylen);
            reschedule_if_queued(a, qid);
            return ACT_FAILED;
        }
        if (a->log && by)
            log_info("%s: held by %s", qid, by);
        else if (a->log)
            log_info("%s: held (postern queue hold)", qid);
        return ACT_DONE;
    case ADMIN_RELEASE:
        if (where == SPOOL_QUEUED) {
            enum sched_action p = a->sched ? scheduler_pending(a->sched, qid)
                                           : SCHED_ACT_NONE;
            if (p == SCHED_ACT_HOLD) {
                /* in flight with a hold pending: cancel the hold */
                scheduler_pending_take(a->sched, qid);
                if (a->log)
                    log_info("%s: pending hold cancelled (released by %s)", qid,
                             by ? by : "admin request");
                snprintf(why, whylen, "%s released (pending hold cancelled)", qid);
                return ACT_DONE;
            }
            snprintf(why, whylen, "%s is not on hold%s", qid,
                     p == SCHED_ACT_DELETE
                         ? " (it will be deleted when its delivery attempt ends)" : "");
            return ACT_FAILED;
        }
        if (spool_release(a->spool, qid) < 0)
            return act_failed(a, qid, "release", why, whylen);
        if (a->log)
            log_info("%s: released from hold%s%s", qid, by ? " by " : "", by ? by : "");
        if (a->sched)
            scheduler_enqueue(a->sched, qid, 0);
        return ACT_DONE;
    }
    return ACT_FAILED;
}

/* Every message the verb applies to: taken first, then each acted on by
 * itself; the ones in flight get the action when their attempt ends. */
static int act_all(const struct admin *a, enum admin_verb verb, const char *by, char *out,
                   size_t outlen)
{
    struct qids q = { 0 };
    long rc = 0;
    if (verb != ADMIN_RELEASE)
        rc = spool_list(a->spool, qids_add, &q);
    if (rc >= 0 && (verb == ADMIN_RELEASE || verb == ADMIN_DELETE))
        rc = spool_list_held(a->spool, qids_add, &q);
    if (rc >= 0 && verb == ADMIN_RELEASE && a->sched)  /* holds pending on an attempt */
        scheduler_pending_each(a->sched, SCHED_ACT_HOLD, qids_add, &q);
    if (rc < 0 || q.oom) {
        snprintf(out, outlen, "error cannot list the queue: %s",
                 q.oom ? "out of memory" : strerror(errno));
        free(q.v);
        return -1;
    }
    unsigned long done = 0, later = 0, failed = 0;
    char why[256] = "";
    for (size_t i = 0; i < q.n; i++) {
        char w[256];
        int r = act_one(a, verb, q.v[i], by, w, sizeof w);
        if (r == ACT_DONE)
            done++;
        else if (r == ACT_LATER)
            later++;
        else if (spool_where(a->spool, q.v[i]) != SPOOL_ABSENT) {
            /* (one that went away meanwhile, delivered, is not a failure) */
            failed++;
            if (!why[0])
                snprintf(why, sizeof why, "%s", w);
        }
    }
    free(q.v);
    int n = snprintf(out, outlen, "%s %lu message%s %s", failed ? "error" : "ok", done,
                     done == 1 ? "" : "s", verb_done(verb));
    if (n > 0 && (size_t)n < outlen && later)
        n += snprintf(out + n, outlen - (size_t)n, ", %lu more when %s delivery attempt%s end%s",
                      later, later == 1 ? "its" : "their", later == 1 ? "" : "s",
                      later == 1 ? "s" : "");
    if (n > 0 && (size_t)n < outlen && failed)
        snprintf(out + n, outlen - (size_t)n, "; %lu failed (%s)", failed, why);
    return failed ? -1 : 0;
}

int admin_execute(const struct admin *a, enum admin_verb verb, const char *qid, char *out,
                  size_t outlen)
{
    return admin_execute_by(a, verb, qid, NULL, out, outlen);
}

int admin_execute_by(const struct admin *a, enum admin_verb verb, const char *qid,
                     const char *by, char *out, size_t outlen)
{
    char why[256];
    if (verb == ADMIN_FLUSH && qid[0] == '\0') {
        if (!a->sched) {
            snprintf(out, outlen, "error flush needs the daemon: only the daemon delivers");
            return -1;
        }
        unsigned long n = scheduler_flush(a->sched, NULL);
        if (a->log && by)
            log_info("queue flush (%lu message%s) by %s", n, n == 1 ? "" : "s", by);
        snprintf(out, outlen, "ok %lu message%s scheduled for delivery now", n,
                 n == 1 ? "" : "s");
        return 0;
    }
    if (strcmp(qid, "ALL") == 0)
        return act_all(a, verb, by, out, outlen);
    if (!qid_valid(qid)) {
        snprintf(out, outlen, "error invalid queue id");
        return -1;
    }
    int r = act_one(a, verb, qid, by, why, sizeof why);
    snprintf(out, outlen, "%s %s", r == ACT_FAILED ? "error" : "ok", why);
    return r == ACT_FAILED ? -1 : 0;
}

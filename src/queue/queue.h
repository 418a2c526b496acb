/* queue — the mail queue as the daemon and the SMTP server see it. It
 * owns the spool, the group commit, the scheduler and the delivery
 * attempts; "commit, then schedule" happens here: a message is scheduled by
 * the queue itself as soon as it is durable, and only then is its writer
 * told (the 250 to the client comes after both).
 *
 * A writer (smtp/) sees only messages: queue_msg_create, then
 * spool_msg_write and spool_msg_finish (or spool_msg_abort) from spool.h,
 * then queue_commit_request. Administration (hold, release, delete, flush)
 * goes through queue_admin (admin.h).
 *
 * Group commit (redis's beforeSleep): requests made during one pass of the
 * event loop are committed together by a callback that runs after the
 * callbacks already due in that pass, one fsync round for all of them
 * (spool_commit); every writer then hears its result. */
#ifndef POSTERN_QUEUE_QUEUE_H
#define POSTERN_QUEUE_QUEUE_H

#include <stddef.h>

#include "attempt.h"
#include "envelope.h"

struct admin;
struct cfg_source;
struct event_base;
struct smtp_client;
struct spool_msg;
struct workq;
struct queue;

/* Open the queue in dir (made if missing; see spool_open). Delivery
 * attempts use cfg and the transports' handles smtp and workq (workq NULL:
 * Maildir writes inline). Nothing is scheduled before queue_recover. NULL
 * with err on failure. */
struct queue *queue_open(struct event_base *base, const char *dir,
                         const struct cfg_source *cfg, struct smtp_client *smtp,
                         struct workq *workq, char *err, size_t errlen);
/* Commits what is pending (its writers are not told: they are gone), then
 * closes. Delivery attempts must be over (the transports freed first). */
void queue_free(struct queue *q);

/* Start-up: recover the spool (spool_scan: only the daemon, once, before
 * anything is written) and schedule every queued message. Returns how many,
 * or -1 with errno. */
long queue_recover(struct queue *q);

/* Start a message (spool_msg_create): env->qid is set. NULL with err. */
struct spool_msg *queue_msg_create(struct queue *q, struct envelope *env, char *err,
                                   size_t errlen);

/* ok: the message is durable and scheduled; else it is gone (its writer
 * answers 4xx). */
typedef void queue_commit_fn(void *arg, int ok);

/* Hand a finished message (spool_msg_finish done) to the next group commit;
 * the queue owns msg from now on. cb(arg, ok) is called once, from the
 * event loop, never from inside this call. */
void queue_commit_request(struct queue *q, struct spool_msg *msg, queue_commit_fn *cb,
                          void *arg);
/* The writer arg goes away: its pending requests are still committed (and
 * scheduled), but cb is not called. */
void queue_commit_cancel(struct queue *q, const void *arg);

/* Hold, release, delete, flush with the daemon's schedule (admin.h). */
const struct admin *queue_admin(const struct queue *q);

/* Register the queue's metrics in m (util/metrics.h): the deliveries per
 * transport and status, the quota deferrals per upstream, the group
 * commit's batch size and fsync round, and (a collector) the messages by
 * state and the age of the oldest. Counting is an increment on the loop.
 * 0, or -1 (no memory). */
struct metrics;
int queue_set_metrics(struct queue *q, struct metrics *m);

/* Tell fn(arg, ev) of bounces, delay warnings and quota deferrals
 * (struct queue_event, queue/attempt.h), on the event loop. */
void queue_set_notify(struct queue *q, queue_event_fn *fn, void *arg);

/* The queue right now, for metrics and health. */
struct queue_stats {
    unsigned long active;        /* an attempt is delivering it */
    unsigned long deferred;      /* waiting: for a retry, a quota slot, its first try */
    unsigned long hold;          /* on hold (spool_hold) */
    long long oldest_ms;         /* arrival of the oldest active or deferred
                                  * message (ms since the epoch), 0: none */
};
/* hold counts the hold directory (a directory read): a scrape's cost,
 * never a message's. */
void queue_stats(const struct queue *q, struct queue_stats *st);

#endif

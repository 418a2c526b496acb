/* scheduler — decides when each queued message is tried again, starts the
 * attempts that are due (through the start function it is given: it knows
 * nothing of how a message is delivered), and knows which messages are in
 * flight: from the start of their attempt until scheduler_attempt_finished.
 * Retry arithmetic is a pure function. */
#ifndef POSTERN_QUEUE_SCHEDULER_H
#define POSTERN_QUEUE_SCHEDULER_H

#include <stddef.h>

struct clock;
struct event_base;
struct scheduler;

/* Starts one delivery attempt of qid; the attempt ends with
 * scheduler_attempt_finished(s, qid), possibly before start returns. */
typedef void sched_start_fn(void *arg, const char *qid);

struct scheduler *scheduler_new(struct event_base *base, sched_start_fn *start, void *arg);
void scheduler_free(struct scheduler *s);

/* Times are milliseconds since the epoch (util/clock.h). */

/* The scheduler's time: its clock's. */
long long scheduler_now_ms(const struct scheduler *s);

/* Use clock c (NULL: the system clock) from now on, and restart the
 * queue_run_delay ticks at its present time. For tests; call it before
 * anything is enqueued. */
void scheduler_set_clock(struct scheduler *s, const struct clock *c);

/* Schedule qid for an attempt at time `when` (ms; 0 = now). */
void scheduler_enqueue(struct scheduler *s, const char *qid, long long when);

/* Postfix retries a deferred message at the first deferred-queue run
 * (every queue_run_delay since start-up) after its backoff has passed:
 * the smallest base + k * delay that is >= when. Pure. */
long long scheduler_next_run(long long base, long long delay, long long when);

/* The first queue_run_delay tick (ms): start-up, or when the clock was set. */
long long scheduler_run_base(const struct scheduler *s);

/* Called by attempt.c when the attempt of qid is over. */
void scheduler_attempt_finished(struct scheduler *s, const char *qid);

/* 1 while an attempt of qid runs (started, not finished), else 0. A due
 * qid that is in flight is not started twice. */
int scheduler_in_flight(const struct scheduler *s, const char *qid);

/* Number of messages known to the scheduler (queued or in flight). */
unsigned long scheduler_count(const struct scheduler *s);
/* Of them, the ones in flight (an attempt runs). */
unsigned long scheduler_in_flight_count(const struct scheduler *s);
/* The smallest (oldest: qids sort by arrival) qid known to the scheduler,
 * copied to out (QID_LEN + 1 bytes); 0, or -1 when it knows none. O(n):
 * for a scrape, not for every message. */
int scheduler_oldest(const struct scheduler *s, char *out);

/* Time to wait after the attempts-th failed attempt: doubles from
 * min_backoff, capped at max_backoff (Postfix minimal/maximal_backoff_time),
 * at least 1 (in the unit of its arguments). */
long long scheduler_backoff(int attempts, long long min_backoff,
                            long long max_backoff);

/* --- for queue administration (admin.c) --- */

/* Make qid due now, or every scheduled message when qid is NULL (a
 * message being delivered right now is not affected). Returns the number
 * of messages rescheduled. */
unsigned long scheduler_flush(struct scheduler *s, const char *qid);

/* Take qid out of the schedule (before it is held or deleted). Returns 1
 * if it was waiting there, 0 if not (unknown, held, or in flight). */
int scheduler_remove(struct scheduler *s, const char *qid);

/* --- actions pending on a delivery attempt ---
 *
 * A hold or delete asked for while a message is being delivered is not
 * refused: it is recorded here, keyed by queue id, and attempt.c applies it
 * when the attempt ends (as Postfix's postsuper does with a message in the
 * active queue). A delete wins over a hold; a release cancels a hold. */

enum sched_action { SCHED_ACT_NONE = 0, SCHED_ACT_HOLD, SCHED_ACT_DELETE };

struct sched_action_item;

/* A small set of (qid, action); zero-initialised is empty. */
struct sched_actions {
    struct sched_action_item *v;
    size_t n, cap;
};

/* The pure part (unit-tested). */
/* Record act for qid (SCHED_ACT_HOLD or SCHED_ACT_DELETE; a hold does not
 * replace a delete). Returns the action now pending for qid, or
 * SCHED_ACT_NONE on error (out of memory, invalid qid or action). */
enum sched_action sched_actions_add(struct sched_actions *p, const char *qid,
                                    enum sched_action act);
/* The action pending for qid, SCHED_ACT_NONE if none. */
enum sched_action sched_actions_get(const struct sched_actions *p, const char *qid);
/* Forget qid's action; returns what it was. */
enum sched_action sched_actions_take(struct sched_actions *p, const char *qid);
/* Call cb for each qid whose pending action is act; returns how many. */
size_t sched_actions_each(const struct sched_actions *p, enum sched_action act,
                          void (*cb)(const char *qid, void *arg), void *arg);
void sched_actions_free(struct sched_actions *p);

/* The daemon's set (freed by scheduler_free). */
enum sched_action scheduler_pending_add(struct scheduler *s, const char *qid,
                                        enum sched_action act);
enum sched_action scheduler_pending(const struct scheduler *s, const char *qid);
enum sched_action scheduler_pending_take(struct scheduler *s, const char *qid);
size_t scheduler_pending_each(const struct scheduler *s, enum sched_action act,
                              void (*cb)(const char *qid, void *arg), void *arg);

#endif

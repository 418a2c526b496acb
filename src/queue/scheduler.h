/* scheduler — decides when each queued message is tried again and hands
 * due messages to their transport. Retry arithmetic is a pure function. */
#ifndef POSTERN_QUEUE_SCHEDULER_H
#define POSTERN_QUEUE_SCHEDULER_H

struct daemon;
struct scheduler;

struct scheduler *scheduler_new(struct daemon *d);
void scheduler_free(struct scheduler *s);

/* Schedule qid for an attempt at unix time `when` (0 = now). */
void scheduler_enqueue(struct scheduler *s, const char *qid, long long when);

/* Postfix retries a deferred message at the first deferred-queue run
 * (every queue_run_delay since start-up) after its backoff has passed:
 * the smallest base + k * delay that is >= when. Pure. */
long long scheduler_next_run(long long base, long long delay, long long when);

/* The retry time for a message whose backoff ends at `when`. */
long long scheduler_retry_time(const struct scheduler *s, long long when);

/* Called by attempt.c when an attempt is over. */
void scheduler_attempt_finished(struct scheduler *s);

/* Number of messages known to the scheduler (queued or in flight). */
unsigned long scheduler_count(const struct scheduler *s);

/* Seconds to wait after the attempts-th failed attempt: doubles from
 * min_backoff, capped at max_backoff (Postfix minimal/maximal_backoff_time). */
long long scheduler_backoff(int attempts, long long min_backoff,
                            long long max_backoff);

/* --- for the control socket (`postern queue`) --- */

/* Make qid due now, or every scheduled message when qid is NULL (a
 * message being delivered right now is not affected). Returns the number
 * of messages rescheduled. */
unsigned long scheduler_flush(struct scheduler *s, const char *qid);

/* Take qid out of the schedule (before it is held or deleted). Returns 1
 * if it was waiting there, 0 if not (unknown, held, or in flight). */
int scheduler_remove(struct scheduler *s, const char *qid);

#endif

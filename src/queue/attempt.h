/* attempt — one delivery attempt of one queued message (see attempt.c). */
#ifndef POSTERN_QUEUE_ATTEMPT_H
#define POSTERN_QUEUE_ATTEMPT_H

struct scheduler;
struct daemon;

/* Load qid and hand its due recipients to their transports. When the
 * attempt is over (results recorded, message removed or rescheduled),
 * scheduler_attempt_finished(s) is called, possibly before this returns. */
void attempt_start(struct scheduler *s, struct daemon *d, const char *qid);

#endif

/* qid — queue ids: fixed width, sortable by arrival time, with a random part.
 * Validated before ever becoming part of a path (Postfix mail_queue_id_ok). */
#ifndef POSTERN_QUEUE_QID_H
#define POSTERN_QUEUE_QID_H

#include <stddef.h>
#include <stdint.h>

#define QID_LEN 16   /* 8 hex seconds + 5 hex microseconds + 3 hex random */

/* Make a new id from the given time; rnd supplies the random part. Writes
 * QID_LEN chars + NUL into out (size >= QID_LEN + 1). */
void qid_make(char *out, long long sec, long usec, uint32_t rnd);

/* 1 when s is exactly QID_LEN upper-case hex digits, else 0. */
int qid_valid(const char *s);

/* The arrival time a valid qid carries, in milliseconds since the epoch;
 * -1 when s is not a valid qid. */
long long qid_time_ms(const char *s);

#endif

/* clock — the time that drives the queue (retries, backoff, lifetimes):
 * wall-clock milliseconds since the Unix epoch, the unit of every timer
 * postern sets.
 *
 * A struct clock is a seam: the daemon passes NULL (the system clock),
 * a unit test passes its own function and moves time as it likes. */
#ifndef POSTERN_UTIL_CLOCK_H
#define POSTERN_UTIL_CLOCK_H

#include <sys/time.h>

struct clock {
    long long (*now_ms)(void *arg);
    void *arg;
};

/* Milliseconds since the epoch: c's, or CLOCK_REALTIME's when c (or its
 * function) is NULL. */
long long clock_now_ms(const struct clock *c);

/* Milliseconds of CLOCK_MONOTONIC: for windows and intervals that a
 * change of the wall clock must not stretch or cut. */
long long clock_monotonic_ms(void);
/* The same in microseconds: for latencies (metrics). */
long long clock_monotonic_us(void);

/* A relative timeout of ms milliseconds (negative: 0) for libevent. */
struct timeval clock_timeval(long long ms);

/* ms as whole seconds, rounded up: for the on-disk times (seconds) that
 * must never come before the time they record. */
long long clock_ms_to_sec_ceil(long long ms);

#endif

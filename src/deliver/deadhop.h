/* deadhop — the dead-destination arithmetic of the SMTP client, pure (the
 * caller gives the time): Postfix's queue manager throttles a destination
 * after $*_destination_concurrency_failed_cohort_limit failed pseudo-
 * cohorts (each attempt whose every connection failed adds 1/concurrency)
 * and keeps it dead for $minimal_backoff_time; its mail is deferred
 * without connecting. When the dead time has passed, one attempt goes
 * through as the probe while the others wait: a connection that succeeds
 * revives the destination, a failed probe makes it dead again. */
#ifndef POSTERN_DELIVER_DEADHOP_H
#define POSTERN_DELIVER_DEADHOP_H

struct deadhop {
    int dead;               /* marked dead; cleared by a successful connection */
    long long until;        /* ms (clock_now_ms): no attempt before this */
    double cohorts;         /* failed pseudo-cohorts since the last success */
    int probing;            /* the probe is in flight */
};

enum deadhop_verdict {
    DEADHOP_GO = 0,         /* alive: connect */
    DEADHOP_PROBE,          /* dead time over: this attempt is the probe */
    DEADHOP_WAIT,           /* a probe is in flight: wait for its result */
    DEADHOP_DEFER,          /* dead: defer without connecting */
};

/* What an attempt starting at now does. */
enum deadhop_verdict deadhop_check(const struct deadhop *h, long long now);

/* The attempt check said DEADHOP_PROBE for has started. */
void deadhop_probe_start(struct deadhop *h);

/* The probe ended without a verdict on the connection (no address, DNS
 * failure): the next attempt probes. */
void deadhop_probe_end(struct deadhop *h);

/* An attempt failed to connect to every address. inflight: attempts
 * running to the destination at the time (its concurrency, >= 1);
 * limit: the failed cohort limit (0: never dead); dead_ms: the dead
 * time. Returns 1 when the destination is (again) dead. */
int deadhop_fail(struct deadhop *h, long long now, unsigned long inflight, long long limit,
                 long long dead_ms);

/* A connection succeeded. Returns 1 when the destination was dead. */
int deadhop_ok(struct deadhop *h);

#endif

/* outcome — what a finished delivery attempt leads to, as a pure function:
 * given each recipient's state after the attempt, the message's age and
 * history, the configuration's lifetimes, delay warning and backoff, and
 * the present time, decide
 *   - expiry: the message outlived its lifetime (maximal_queue_lifetime,
 *     bounce_queue_lifetime for the null sender): its recipients still to
 *     do are given up;
 *   - the bounce: the recipients for a non-delivery notification (bounced
 *     in this attempt, or given up);
 *   - the delay warning: due once, after delay_warning_time, about the
 *     deferred recipients;
 *   - remove the message (nobody left) or back off: the next attempt at the
 *     first queue_run_delay tick after the backoff (doubling from
 *     minimal_backoff_time up to maximal_backoff_time, as Postfix), or
 *     when the upstream quota that held recipients back has a free slot. A quota deferral still ages the message: it
 *     expires (bounces) after maximal_queue_lifetime like any other.
 * queue/attempt.c records and carries out the decision (texts, notices,
 * state file). All times are milliseconds. */
#ifndef POSTERN_QUEUE_OUTCOME_H
#define POSTERN_QUEUE_OUTCOME_H

#include <stddef.h>

#include "envelope.h"

struct config;

/* The configuration's part, in ms. */
struct outcome_limits {
    long long max_lifetime;         /* maximal_queue_lifetime */
    long long bounce_lifetime;      /* bounce_queue_lifetime (null sender) */
    long long delay_warning;        /* delay_warning_time; 0: never */
    long long min_backoff, max_backoff;
    long long run_delay;            /* queue_run_delay */
};

void outcome_limits_from(const struct config *cfg, struct outcome_limits *l);

struct outcome_in {
    size_t n;                       /* recipients */
    const enum rcpt_state *state;   /* each one's state after the attempt */
    const unsigned char *tried;     /* 1: tried in this attempt */
    int null_sender;
    long long arrival;              /* ms since the epoch */
    int attempts;                   /* attempts before this one */
    int warned;                     /* a delay warning was sent already */
    /* The notification of the bounce set could not be queued: its
     * recipients stay deferred (the sender must hear of them: they bounce
     * again later), and the warning and the retry are decided without it.
     * The caller asks again with this set after a failed bounce, and uses
     * only warn, action and next from that answer. */
    int bounce_failed;
    long long now;
    long long run_base;             /* the scheduler's first queue_run_delay tick */
    /* relayhost_rate_limits: recipients were deferred because their
     * upstream quota is full; quota_next is when its next slot opens (0:
     * none). quota_only: nothing went to a transport: the retry comes at
     * quota_next, and the attempt is not counted (the backoff does not
     * grow). Otherwise the retry comes at quota_next or after the backoff,
     * whichever is sooner. */
    long long quota_next;
    int quota_only;
    struct outcome_limits limits;
};

enum outcome_action { OUTCOME_REMOVE, OUTCOME_RETRY };

struct outcome {
    enum outcome_action action;
    int attempts;                   /* the count to record */
    long long age;                  /* now - arrival */
    int expired;                    /* the lifetime is over */
    unsigned char *expire;          /* [n] 1: given up now (expiry) */
    unsigned char *bounce;          /* [n] 1: in the non-delivery notification */
    size_t nbounce;
    unsigned char *warn;            /* [n] 1: in the delay warning */
    size_t nwarn;                   /* 0: no warning now */
    long long next;                 /* OUTCOME_RETRY: the next attempt */
};

/* Decide; out's three arrays (n bytes each) are the caller's and are
 * overwritten. */
void outcome_decide(const struct outcome_in *in, struct outcome *out);

#endif

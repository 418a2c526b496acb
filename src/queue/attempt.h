/* attempt — one delivery attempt of one queued message (see attempt.c). */
#ifndef POSTERN_QUEUE_ATTEMPT_H
#define POSTERN_QUEUE_ATTEMPT_H

struct cfg_source;
struct event_base;
struct quota_state;
struct scheduler;
struct smtp_client;
struct spool;
struct workq;
struct metric_family;

/* The queue's counters (util/metrics.h); NULL families count nothing. */
struct queue_metrics {
    struct metric_family *deliveries;       /* {transport, status} per recipient */
    struct metric_family *quota_deferrals;  /* {upstream}: the relayhost_rate_limits key */
    struct metric_family *commit_batch;     /* histogram: messages per group commit */
    struct metric_family *commit_seconds;   /* histogram: one group commit's fsync round */
};

/* What an attempt works with; queue.c sets it up (the transports' handles
 * come from the daemon). */
struct attempt_ctx {
    struct event_base *base;
    struct spool *spool;
    const struct cfg_source *cfg;  /* each attempt keeps the snapshot it starts with */
    struct smtp_client *smtp;      /* smtp transport */
    struct workq *workq;           /* capture transport: worker threads, NULL = inline */
    struct quota_state *quota;     /* relayhost_rate_limits: the sends, or NULL */
    const struct queue_metrics *metrics; /* never NULL once queue_open made it */
};

/* Load qid and hand its due recipients to their transports. When the
 * attempt is over (results recorded, message removed or rescheduled),
 * scheduler_attempt_finished(s, qid) is called, possibly before this
 * returns. */
void attempt_start(struct scheduler *s, const struct attempt_ctx *d, const char *qid);

#endif

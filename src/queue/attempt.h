/* attempt — one delivery attempt of one queued message (see attempt.c). */
#ifndef POSTERN_QUEUE_ATTEMPT_H
#define POSTERN_QUEUE_ATTEMPT_H

#include <stddef.h>

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

/* What the queue tells the daemon (webhooks): every bounced recipient,
 * each message's delay warning (once: when it is recorded as warned), and
 * every quota deferral by a full window. Strings are valid during the call
 * only; times in ms since the epoch. */
enum queue_event_kind { QUEUE_EV_BOUNCE, QUEUE_EV_DELAYED, QUEUE_EV_QUOTA };
struct queue_event {
    enum queue_event_kind kind;
    long long time;
    const char *qid, *sender;
    const char *recipient;              /* bounce */
    const char *const *recipients;      /* delayed: the deferred ones */
    size_t nrecipients;
    const char *dsn, *reason;           /* bounce, delayed (its first recipient's), quota */
    long long delay;                    /* delayed: time in the queue */
    const char *key, *window;           /* quota: relayhost_rate_limits key, "100/1h" */
    long long next_slot;                /* quota */
};
typedef void queue_event_fn(void *arg, const struct queue_event *ev);
struct queue_notify {
    queue_event_fn *fn;                 /* NULL: nobody listens */
    void *arg;
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
    const struct queue_notify *notify;   /* never NULL once queue_open made it */
};

/* Load qid and hand its due recipients to their transports. When the
 * attempt is over (results recorded, message removed or rescheduled),
 * scheduler_attempt_finished(s, qid) is called, possibly before this
 * returns. */
void attempt_start(struct scheduler *s, const struct attempt_ctx *d, const char *qid);

#endif

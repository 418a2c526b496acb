/* queue_view — the queue as the HTTP queue API and page show it: the
 * messages (queued and held) matching a filter, each with its envelope and
 * its state, read from the spool the daemon owns (queue/admin.h's spool
 * and scheduler).
 *
 * A message's state: "hold" (in the hold directory), "active" (a delivery
 * attempt is running: scheduler_in_flight), else "deferred" (waiting for
 * its first attempt, a retry or a quota slot) — the states of
 * postern_queue_messages.
 *
 * Filters (query fields): state=active|deferred|hold; sender= and
 * recipient=: a case-insensitive substring of the sender, of any
 * recipient ("example.com", or a whole address; the null sender is "");
 * min_age=: seconds since arrival, at least. At most QUEUE_VIEW_MAX
 * messages are listed, oldest first; `truncated` says there were more.
 * Loading is on the event loop (an open and a read of each message's
 * envelope, no content): bounded by QUEUE_VIEW_MAX loads per request. */
#ifndef POSTERN_DAEMON_QUEUE_VIEW_H
#define POSTERN_DAEMON_QUEUE_VIEW_H

#include <stddef.h>

#include "../queue/envelope.h"
#include "../queue/qid.h"

#define QUEUE_VIEW_MAX 1000
#define QUEUE_VIEW_FIELD_MAX 256

struct admin;

struct queue_filter {
    char state[16];                         /* "" any */
    char sender[QUEUE_VIEW_FIELD_MAX];      /* "" any */
    char recipient[QUEUE_VIEW_FIELD_MAX];   /* "" any */
    long long min_age;                      /* seconds; 0 any */
};

struct queue_item {
    const char *state;                      /* "active", "deferred", "hold" */
    struct envelope env;
};

struct queue_list {
    struct queue_item *v;
    size_t n;
    int truncated;
};

/* The filter of a query string (NULL: none). 0, or -1 with why (an unknown
 * state, a bad number, a value too long). Pure. */
int queue_filter_parse(const char *query, struct queue_filter *f, char *why, size_t len);
/* Does a message in state, as env, pass f at time now (unix seconds)? Pure. */
int queue_filter_match(const struct queue_filter *f, const char *state,
                       const struct envelope *env, long long now);

/* The matching messages. 0, or -1 with err (the spool cannot be listed). */
int queue_list_load(const struct admin *a, const struct queue_filter *f, long long now,
                    struct queue_list *out, char *err, size_t errlen);
void queue_list_free(struct queue_list *l);

/* One message by id: 1 found (env filled: free it with envelope_free,
 * *state set), 0 not in the queue, -1 with err. */
int queue_item_load(const struct admin *a, const char *qid, struct queue_item *it,
                    char *err, size_t errlen);

#endif

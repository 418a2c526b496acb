/* quota — upstream quotas (relayhost_rate_limits), as pure functions: the
 * table's parser, the window arithmetic that says whether one more message
 * may go to an upstream account now and, if not, when the next slot opens,
 * the text of the deferral reason, and the codec of the state file that
 * keeps the send times across a restart.
 *
 * Sliding windows: "N/W" allows at most N messages in any period of length
 * W. The state is the log of the accepted sends of each key (at most the
 * largest N of its rule, the older ones can no longer decide anything), so
 * the next slot is exact: the moment the oldest send that keeps a window
 * full becomes W old. Messages on their way (reserved, not yet accepted)
 * count as sends; a reservation that ends without a 250 to the final dot
 * is given back.
 *
 * The line: a message refused for a key's quota waits in that key's line,
 * ordered by queue id (= arrival). A freed place goes to the oldest
 * waiting message: a younger one may reserve only when no older live
 * waiter is left, and its slot is counted as if the older waiters had
 * taken the free places first (so it is not woken before its turn). A
 * waiter leaves the line when it reserves or when quota_forget says it
 * left the queue; one not back within its slot and QUOTA_WAIT_GRACE_MS
 * is dropped, so a message gone by a path that did not say so cannot
 * hold the key for long. The line is not written down: after a restart
 * it is rebuilt as the recovered messages are tried, in queue id order.
 *
 * Nothing here waits or touches the disk: queue/attempt.c reserves,
 * commits and releases, the scheduler wakes the deferred messages at the
 * slot time, queue/spool.c stores the encoded state. Times are ms since the
 * epoch. */
#ifndef POSTERN_QUEUE_QUOTA_H
#define POSTERN_QUEUE_QUOTA_H

#include <stddef.h>

#define QUOTA_WINDOWS_MAX 4          /* windows per key */
#define QUOTA_LIMIT_MAX 100000       /* N of one window */
#define QUOTA_RULES_MAX 1000         /* keys in the table */
#define QUOTA_KEY_MAX 600            /* "user@[host]:port" */
#define QUOTA_FILE_MAX (16 * 1024 * 1024) /* the state file, read at most */
#define QUOTA_WAIT_GRACE_MS 60000    /* a waiter not back by its slot + this is gone */
#define QUOTA_WAIT_STEP_MS 1000      /* room, but older waiters not back yet: retry */

struct quota_window {
    long limit;                      /* N */
    long long len_ms;                /* W */
    char text[32];                   /* "500/1d", as written */
};

struct quota_rule {
    char *key;
    size_t nw;
    struct quota_window w[QUOTA_WINDOWS_MAX];
};

struct quota_conf {
    struct quota_rule *v;
    size_t n;
};

/* "500/1d", "60/1m", "5/4s", "100/h" (a missing count is 1; units s, m, h,
 * d; W from 1s to 366d; N from 1 to QUOTA_LIMIT_MAX). 0, or -1. */
int quota_window_parse(const char *s, size_t len, struct quota_window *w);

/* The table's text ("key N/W [N/W...]" lines; # comments, blank lines, a
 * line starting with white space continues the one before, as Postfix's
 * tables). Errors name path and line and say what to write. NULL with err. */
struct quota_conf *quota_conf_parse(const char *text, size_t len, const char *path,
                                    char *err, size_t errlen);
void quota_conf_free(struct quota_conf *c);

/* The rule of key (case-insensitive), or NULL. */
const struct quota_rule *quota_conf_find(const struct quota_conf *c, const char *key);

/* The window arithmetic for one window. t[0..n) are the accepted sends,
 * ascending; reserved are on their way. 0 when one more may go at now,
 * else the first time it may (> now). */
long long quota_window_slot(const long long *t, size_t n, size_t reserved,
                            const struct quota_window *w, long long now);

/* The state: per key, the sends and the reservations. */
struct quota_state;

struct quota_state *quota_state_new(void);
void quota_state_free(struct quota_state *s);

/* May message qid (a queue id: ids sort by arrival) go through r's key
 * now? 1: yes, a reservation is taken (end it with quota_commit or
 * quota_release) and qid leaves the line. 0: no, and qid is in the line;
 * *slot is when its turn may come: *full is the window that decides it,
 * or NULL when there is room but older waiters go first (*slot is then
 * QUOTA_WAIT_STEP_MS away; wake quota_first_waiter). -1: out of memory. */
int quota_reserve(struct quota_state *s, const struct quota_rule *r, const char *qid,
                  long long now, long long *slot, const struct quota_window **full);

/* The oldest live waiter of key, or NULL (valid until s changes). */
const char *quota_first_waiter(const struct quota_state *s, const char *key, long long now);

/* qid is no longer waiting for any key (it left the queue, was held, or
 * its attempt was not held back by a quota). */
void quota_forget(struct quota_state *s, const char *qid);

/* Number of messages in key's line, live or not (for tests). */
size_t quota_waiting(const struct quota_state *s, const char *key);

/* The reserved message was accepted (250 to the final dot) at now: it
 * counts from now. */
void quota_commit(struct quota_state *s, const struct quota_rule *r, long long now);

/* The reserved message did not go: its place is free again. */
void quota_release(struct quota_state *s, const struct quota_rule *r);

/* Number of sends recorded for key (for tests and logs). */
size_t quota_sends(const struct quota_state *s, const char *key);

/* Forget what no rule of c keeps: keys without a rule (c NULL: all) and
 * their lines, sends older than the longest window of their rule, more
 * than its largest N, waiters past their grace. Reservations stay. */
void quota_state_prune(struct quota_state *s, const struct quota_conf *c, long long now);

/* The state file:
 *   POSTERN-QUOTA 1
 *   key [smtp.163.com]:465
 *   t 1700000000123
 *   ...
 *   END
 * encode returns a malloc'd buffer (reservations are not written: a
 * message on its way at a crash is tried again), NULL when out of memory.
 * decode replaces s's sends (sends in the future of now, a clock stepped
 * back, are moved to now): 0, or -1 with err (s is then left empty). */
char *quota_state_encode(const struct quota_state *s, size_t *len);
int quota_state_decode(struct quota_state *s, const char *buf, size_t len, long long now,
                       char *err, size_t errlen);

/* "upstream quota 500/1d reached; next slot at 02:00" in local time:
 * HH:MM:SS when the window is shorter than an hour, HH:MM otherwise, with
 * the date (YYYY-MM-DD HH:MM) when the slot is more than a day away. w
 * NULL (quota_reserve's room behind older waiters): "upstream quota
 * 500/1d: older messages go first; next try at HH:MM:SS", r's first
 * window named. */
void quota_reason(char *buf, size_t n, const struct quota_rule *r,
                  const struct quota_window *w, long long slot, long long now);

#endif

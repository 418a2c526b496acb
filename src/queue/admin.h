/* admin — queue administration: hold, release, delete, flush. One
 * implementation for the daemon (its control socket, daemon/control.c) and
 * for `postern queue` when no daemon runs (cli/queue.c, on the spool
 * alone).
 *
 * With the daemon's scheduler the schedule stays right: a held or deleted
 * message leaves it, a released one is tried at once. A message in flight
 * (scheduler_in_flight) is not refused: a hold or delete is recorded as
 * pending on its attempt and applied by attempt.c when the attempt ends
 * ("ok ID will be held when its delivery attempt ends"), as Postfix's
 * postsuper does; a release cancels a pending hold; a flush of it does
 * nothing ("ok ID is being delivered now"). Without a scheduler nothing
 * is in flight, and flush is refused: only the daemon delivers. */
#ifndef POSTERN_QUEUE_ADMIN_H
#define POSTERN_QUEUE_ADMIN_H

#include <stddef.h>

struct quota_state;
struct scheduler;
struct spool;

enum admin_verb { ADMIN_FLUSH, ADMIN_DELETE, ADMIN_HOLD, ADMIN_RELEASE };

struct admin {
    struct spool *spool;
    struct scheduler *sched;     /* the daemon's, or NULL: no daemon runs */
    int log;                     /* log each message acted on (the daemon) */
    struct quota_state *quota;   /* the daemon's quota lines (queue/quota.h), or NULL */
};

/* Act on qid: a valid queue id, "ALL", or "" (flush only: every scheduled
 * message). Writes the answer line, without a line end, into out: "ok
 * <what was done>" or "error <why>". Returns 0 for ok, -1 for error. */
int admin_execute(const struct admin *a, enum admin_verb verb, const char *qid, char *out,
                  size_t outlen);

/* The same, done by someone the log names (a daemon log line per message,
 * e.g. "QID: held by http user alice"); by NULL: admin_execute. */
int admin_execute_by(const struct admin *a, enum admin_verb verb, const char *qid,
                     const char *by, char *out, size_t outlen);

/* "flush", "delete", "hold", "release". */
const char *admin_verb_name(enum admin_verb verb);

#endif

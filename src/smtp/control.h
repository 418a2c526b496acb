/* control — the daemon's control socket, $queue_directory/private/control
 * (directory 0700, owned by mail_owner: only root and mail_owner can
 * connect; the peer's uid is checked again with SO_PEERCRED).
 *
 * Line protocol, one request per connection (`postern queue` is the client):
 *   flush | flush ID | delete ID | delete ALL | hold ID | hold ALL |
 *   release ID | release ALL
 * answered with one line, "ok <text>" or "error <text>", then the daemon
 * closes. Acting here rather than on the spool directly keeps the
 * scheduler's picture right (a held or deleted message leaves its
 * schedule). A message being delivered at that moment is not refused: the
 * hold or delete is accepted at once ("ok ID will be held when its delivery
 * attempt ends"), kept by the scheduler and applied by attempt.c when the
 * attempt ends, as Postfix's postsuper does; a release cancels a pending
 * hold; a flush of it does nothing ("ok ID is being delivered now"). */
#ifndef POSTERN_SMTP_CONTROL_H
#define POSTERN_SMTP_CONTROL_H

#include <stddef.h>

struct daemon;
struct control;

/* Longest request line accepted, without the LF. */
#define CONTROL_LINE_MAX 128

enum control_verb { CTL_FLUSH, CTL_DELETE, CTL_HOLD, CTL_RELEASE };

struct control_request {
    enum control_verb verb;
    char qid[17];            /* "" (flush: all), "ALL", or a valid queue id */
};

/* Parse one request line (without the line end). 0, or -1 and a reason
 * for the "error" reply. Pure. */
int control_parse(const char *line, size_t len, struct control_request *req,
                  char *why, size_t whylen);

/* "$queue_directory/private/control" into buf. -1 if it does not fit. */
int control_socket_path(const char *queue_directory, char *buf, size_t len);

struct control *control_new(struct daemon *d);
/* Closes connections still open. */
void control_free(struct control *c);
/* A connection accepted on the control socket (fd is non-blocking). */
void control_accept(struct control *c, int fd);

#endif

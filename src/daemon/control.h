/* control — the daemon's control socket, $queue_directory/private/control
 * (directory 0700, owned by mail_owner: only root and mail_owner can
 * connect; the peer's uid is checked again with SO_PEERCRED).
 *
 * Line protocol, one request per connection (`postern queue` is the client):
 *   flush | flush ID | delete ID | delete ALL | hold ID | hold ALL |
 *   release ID | release ALL
 * answered with one line, "ok <text>" or "error <text>", then the daemon
 * closes. What a request does is queue/admin.c's (admin.h: a message being
 * delivered is held or deleted when its attempt ends); this file is the
 * socket and the protocol. Every request is logged with the peer's uid. */
#ifndef POSTERN_DAEMON_CONTROL_H
#define POSTERN_DAEMON_CONTROL_H

#include <stddef.h>

#include "../queue/admin.h"

struct admin;
struct control;
struct event_base;

/* Longest request line accepted, without the LF. */
#define CONTROL_LINE_MAX 128

struct control_request {
    enum admin_verb verb;
    char qid[17];            /* "" (flush: all), "ALL", or a valid queue id */
};

/* Parse one request line (without the line end). 0, or -1 and a reason
 * for the "error" reply. Pure. */
int control_parse(const char *line, size_t len, struct control_request *req,
                  char *why, size_t whylen);

/* "$queue_directory/private/control" into buf. -1 if it does not fit. */
int control_socket_path(const char *queue_directory, char *buf, size_t len);

/* Requests are carried out with admin (kept, not copied). */
struct control *control_new(struct event_base *base, const struct admin *admin);
/* Listen on the control socket of queue_directory, making private/ (0700)
 * if needed. Refused when another daemon listens there ("another postern
 * daemon is running on this queue"). Called as mail_owner, once the spool
 * is open and before it is scanned. 0, or -1 with err. */
int control_listen(struct control *c, const char *queue_directory, char *err,
                   size_t errlen);
/* Closes connections still open; removes the socket file. */
void control_free(struct control *c);

#endif

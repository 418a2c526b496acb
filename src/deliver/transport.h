/* transport — how a queued message leaves: one interface, several
 * transports (capture now; smtp relayhost and MX next).
 *
 * The scheduler hands a job (a message and the recipients still to do) to
 * a transport; the transport records a result per recipient in the
 * envelope (state, dsn, reason) and calls job->done exactly once, possibly
 * later from the event loop. Failures of the transport itself (disk, DNS,
 * network) are temporary: RCPT_DEFERRED with a 4.x.x dsn, never bounced. */
#ifndef POSTERN_DELIVER_TRANSPORT_H
#define POSTERN_DELIVER_TRANSPORT_H

#include <stddef.h>

#include "../config/config.h"
#include "../queue/envelope.h"

struct smtp_client;
struct workq;

struct delivery_job {
    const struct config *cfg;
    struct envelope *env;         /* results go into env->rcpt[i] */
    const unsigned char *todo;    /* todo[i] != 0: deliver recipient i */
    const char *content;          /* queue content, CRLF line ends */
    size_t content_len;
    const char *nexthop;          /* smtp: "[host]:port", "host:port", "" = MX */
    struct smtp_client *smtp;     /* smtp: the daemon's client state */
    struct workq *workq;          /* capture: worker threads, NULL = inline */
    const char *relay;            /* filled by the transport for logs */
    void (*done)(struct delivery_job *job);
    void *arg;
};

struct transport {
    const char *name;
    void (*deliver)(struct delivery_job *job);
    /* Delivering a recipient twice leaves one copy (capture overwrites
     * the same Maildir file), so the final state need not be written
     * before the queue file is removed. */
    int idempotent;
};

/* Look a transport up by name ("capture"); NULL if unknown. */
const struct transport *transport_find(const char *name);

#endif

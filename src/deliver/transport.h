/* transport — how a queued message leaves: one request/result interface,
 * several transports (capture = Maildir, smtp = relayhost or MX hosts,
 * error = bounce with the route's text).
 *
 * The queue routes a message's due recipients and groups them
 * (deliver_plan_add: equal routes travel together), then gives each group
 * to its transport as a const request. The transport reports one result
 * per recipient of the request to done(), exactly once: before
 * transport_deliver returns (error:, capture without worker threads) or
 * later from the event loop. A transport never writes the caller's
 * structures — it reads the request, which stays valid until done has
 * returned, and reports. Failures of the transport itself (disk, DNS,
 * network) are temporary: DELIVER_DEFERRED with a 4.x.x dsn, never
 * bounced. */
#ifndef POSTERN_DELIVER_TRANSPORT_H
#define POSTERN_DELIVER_TRANSPORT_H

#include <stddef.h>

#include "route.h"

struct config;
struct map;
struct smtp_client;
struct workq;

enum deliver_status { DELIVER_SENT, DELIVER_DEFERRED, DELIVER_BOUNCED };

/* deliver_request.flags */
#define DELIVER_8BITMIME 0x01       /* the content is 8-bit (BODY=8BITMIME) */
#define DELIVER_SMTPUTF8 0x02       /* the envelope needs SMTPUTF8 */
#define DELIVER_PROBE    0x04       /* smtp: no mail; stop after the login (smtp.h) */

struct deliver_rcpt {
    const char *addr;               /* "user@example.com" */
    size_t index;                   /* its place in the message: names its Maildir file */
};

struct deliver_request {
    const char *id;                 /* the message's queue id: logs, Maildir file names */
    long long arrival_sec;          /* unix time: Maildir file names */
    const char *sender;             /* "" for the null sender */
    const char *sasl_username;      /* the SMTP AUTH login when it chose the
                                     * upstream (smtpd_sasl_login_relayhost_maps,
                                     * or its own smtp_sasl_password_maps entry),
                                     * else NULL: smtp looks its credential up
                                     * by it, not by the sender (smtp.h) */
    const struct deliver_rcpt *rcpt;
    size_t nrcpt;
    const char *content;            /* CRLF line ends */
    size_t content_len;
    const char *nexthop;            /* smtp: "[host]:port", "host:port", "" = the
                                     * MX hosts of the recipients' domain;
                                     * error: the text to bounce with */
    unsigned flags;                 /* DELIVER_* */
};

struct deliver_result {
    enum deliver_status status;
    char dsn[16];                   /* "2.0.0", "4.4.1", "5.1.1" */
    const char *reason;             /* never NULL */
};

/* res[k] is the result for req->rcpt[k]; relay says where they went, for
 * the log ("capture", "host[addr]:port", "none"). Both are the
 * transport's, valid only while done runs. */
typedef void deliver_done_fn(void *arg, const struct deliver_result *res, const char *relay);

/* What the transports use, owned by the daemon. */
struct deliver_ctx {
    const struct config *cfg;       /* capture: capture_directory, myhostname */
    struct smtp_client *smtp;       /* smtp: connections, destinations */
    struct workq *workq;            /* capture: worker threads, NULL = inline */
};

struct transport {
    const char *name;
    void (*deliver)(const struct deliver_ctx *ctx, const struct deliver_request *req,
                    deliver_done_fn *done, void *arg);
    /* Delivering a recipient twice leaves one copy (capture overwrites
     * the same Maildir file; error: delivers nothing), so the final state
     * need not be written before the queue file is removed. */
    int idempotent;
};

/* Hand req to t; done(arg, ...) is called exactly once. */
void transport_deliver(const struct transport *t, const struct deliver_ctx *ctx,
                       const struct deliver_request *req, deliver_done_fn *done, void *arg);

/* ---------- grouping recipients by route ---------- */

struct deliver_group {
    struct route route;
    const struct transport *t;
    struct deliver_rcpt *rcpt;      /* addr points to the caller's string */
    size_t nrcpt;
};

/* A message's recipients by route; zero-initialised is empty. */
struct deliver_plan {
    struct deliver_group *g;
    size_t n, cap;
};

/* Route addr (the message's index-th recipient) and add it to the group of
 * its route, a new one if no recipient had that route yet. 0, or -1 when
 * transport_maps gives no usable route (err says why; the caller defers the
 * recipient: a broken table is the admin's to fix, never a bounce). addr
 * must outlive the plan. relayhost: the sender's, or NULL (route_for). */
int deliver_plan_add(struct deliver_plan *p, const struct config *cfg,
                     const struct map *transport_map, const char *relayhost,
                     const char *addr, size_t index, char *err, size_t errlen);

/* 1 when every group goes by an idempotent transport. */
int deliver_plan_idempotent(const struct deliver_plan *p);

/* The request for group g of p: msg's id, arrival, sender, content and
 * flags; the group's recipients; the route's next hop (for error: its
 * text). Points into p and msg. */
void deliver_plan_request(const struct deliver_plan *p, size_t g,
                          const struct deliver_request *msg, struct deliver_request *out);

void deliver_plan_free(struct deliver_plan *p);

#endif

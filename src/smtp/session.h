/* session — one SMTP server conversation: the explicit state machine,
 * pipelining, limits, timeouts and error counting. */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stddef.h>
#include <sys/socket.h>

#include "../queue/envelope.h"
#include "data.h"

struct server;
struct runtime;
struct bufferevent;
struct event;
struct spool_msg;

enum session_state {
    SS_CMD,          /* reading commands */
    SS_DATA,         /* reading message content after 354 */
    SS_COMMIT,       /* content complete, waiting for the group commit */
    SS_SLEEP,        /* error reply delayed by smtpd_error_sleep_time */
    SS_CLOSING,      /* final reply queued, closing once it is written */
};

/* One mail transaction, from MAIL FROM to the end of DATA. Only
 * tx_reset() empties it: RSET, HELO/EHLO, errors at the end of DATA, the
 * commit result, the session's end. */
struct session_tx {
    int have_mail;                        /* MAIL accepted */
    struct envelope env;                  /* sender, recipients; the qid
                                           * once DATA began */
    size_t rcpt_cap;                      /* allocated env.rcpt entries */
    struct spool_msg *msg;                /* queue file written during DATA */
    struct data_scanner ds;               /* the DATA content scanner */
    int write_error;                      /* a write to msg failed: 451 */
};

struct session {
    struct session *prev, *next;          /* server's list */
    struct server *srv;
    struct runtime *rt;                   /* config snapshot for this session */
    struct bufferevent *bev;
    struct event *timer;                  /* deadline / sleep / close timer */
    enum session_state state;
    struct sockaddr_storage peer;
    char client_addr[64];
    char client_name[256];
    char peer_label[336];                 /* for logs: "name[addr]", "local[uid=N]" */
    long local_uid;                       /* local submission socket peer, else -1 */
    int in_mynetworks;
    int shutdown_requested;
    int lost;                             /* peer gone while committing */
    int discard_line;                     /* dropping the rest of a long line */
    int trace_after_auth;                 /* -v: lines after AUTH are redacted */
    int output_blocked;                   /* too many replies not yet read */
    int esmtp;
    char helo[512];
    int errors;
    char *pending_reply;                  /* held during SS_SLEEP */
    struct session_tx tx;
    unsigned long nmsgs;
};

struct session *session_new(struct server *srv, int fd,
                            const struct sockaddr *sa, socklen_t salen,
                            const char *reject);

/* The group commit finished: ok = message is durable. */
void session_commit_done(struct session *s, int ok);

/* Close at once, without a reply (daemon exit). */
void session_destroy(struct session *s);

/* SIGTERM: an idle session says 421 and closes; a busy one after its reply. */
void session_shutdown(struct session *s);

#endif

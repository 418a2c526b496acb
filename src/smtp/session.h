/* session — one SMTP server conversation: the explicit state machine,
 * pipelining, limits, timeouts and error counting (session.c), driven by
 * a command table (session_cmd.c). */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stddef.h>
#include <sys/socket.h>

#include "../queue/envelope.h"
#include "data.h"
#include "server.h"
#include "tls.h"

struct server;
struct runtime;
struct bufferevent;
struct event;
struct evbuffer_cb_entry;
struct spool_msg;
struct sasl_exchange;
struct auth_request;
struct dns_req;
struct session_dns_fact;

enum session_state {
    SS_PROXY,        /* waiting for the upstream proxy's PROXY header; no
                      * greeting yet */
    SS_CMD,          /* reading commands */
    SS_DATA,         /* reading message content after 354 */
    SS_COMMIT,       /* content complete, waiting for the group commit */
    SS_AUTH,         /* AUTH: reading the client's SASL responses */
    SS_AUTH_WAIT,    /* AUTH: the backend is checking the credentials;
                      * nothing is read meanwhile */
    SS_DNS_WAIT,     /* a DNS lookup is under way (the client's name before
                      * the greeting, or what a restriction needs); nothing
                      * is read meanwhile, the command waits to run again */
    SS_SLEEP,        /* error reply delayed by smtpd_error_sleep_time */
    SS_CLOSING,      /* final reply queued, closing once it is written */
    SS_CLOSED,       /* over: freed as the callback that got here returns */
};

/* The group commit of the message a session handed over. */
enum session_commit {
    SC_NONE = 0,
    SC_PENDING,      /* handed over, no result yet */
    SC_DONE,         /* durable: 250 on the session's next run */
    SC_FAILED,       /* not queued: 451 on the session's next run */
};

/* One mail transaction, from MAIL FROM to the end of DATA. Only
 * session_tx_reset() empties it: RSET, HELO/EHLO, errors at the end of
 * DATA, the commit result, the session's end. */
struct session_tx {
    int have_mail;                        /* MAIL accepted */
    struct envelope env;                  /* sender, recipients; the qid
                                           * once DATA began */
    size_t rcpt_cap;                      /* allocated env.rcpt entries */
    struct spool_msg *msg;                /* queue file written during DATA */
    struct data_scanner ds;               /* the DATA content scanner */
    int write_error;                      /* a write to msg failed: 451 */
    /* smtpd_sender_header_check: the From: header field bodies (unfolded),
     * collected while the header section is read, checked at the dot */
    char *from_hdr;
    size_t from_len;
    int hdr_in_from;                      /* the header line being read is From: */
    int hdr_line_start;                   /* the next byte starts a line */
};

struct session {
    struct session *prev, *next;          /* server's list */
    struct server *srv;
    struct runtime *rt;                   /* config snapshot for this session */
    struct bufferevent *bev;
    struct event *timer;                  /* deadline / sleep / close timer */
    struct event *wakeup;                 /* runs the session on a later
                                           * pass: the commit result is in */
    enum session_state state;
    struct sockaddr_storage peer;
    char client_addr[64];
    char client_name[256];                /* verified, or "unknown" */
    char reverse_name[256];               /* the PTR name, or "unknown" */
    int client_name_status;               /* enum dns_peer */
    int reverse_name_status;
    char peer_label[336];                 /* for logs: "name[addr]", "local[uid=N]" */
    int announced;                        /* "connect from" logged: "disconnect from" too */
    long local_uid;                       /* local submission socket peer, else -1 */
    int in_mynetworks;
    int shutdown_requested;
    int lost;                             /* connection broken while committing */
    int input_eof;                        /* the client sends no more */
    enum session_commit commit;
    int discard_line;                     /* dropping the rest of a long line */
    int trace_after_auth;                 /* -v: lines after AUTH are redacted */
    int output_blocked;                   /* too many replies not yet read */
    int group_wait;                       /* a SCF_LAST command ended a
                                           * pipelined group: the next command
                                           * waits until the replies so far
                                           * are written */
    /* STARTTLS: while tls_required and not tls_active, only commands with
     * SCF_PRE_TLS run (530 5.7.0 for the others). tls_required: the
     * listener's smtpd_tls_security_level is encrypt; tls_offer: STARTTLS
     * is offered (smtpd_tls_security_level may or encrypt on smtp://, any
     * on submission://); tls_active: the handshake is done (STARTTLS, or
     * at once on submissions://). */
    enum listen_kind listen_kind;
    int tls_required;
    int tls_offer;
    int tls_handshake;                    /* under way: failing it ends the session */
    int tls_active;
    int need_helo;                        /* after STARTTLS: MAIL waits for EHLO */
    struct tls_info tls;                  /* what was negotiated, once active */
    struct evbuffer_cb_entry *raw_out_cb; /* TLS: the socket's output drained */
    int esmtp;
    char helo[512];
    /* AUTH (session_auth.c) */
    struct sasl_exchange *sasl;           /* the exchange under way (SS_AUTH) */
    struct auth_request *auth_req;        /* the check under way (SS_AUTH_WAIT) */
    const char *sasl_method;              /* "PLAIN", "LOGIN" once logged in */
    char sasl_username[256];              /* the login; "" before AUTH */
    unsigned long account_rate;           /* its users-file rate=N/W: N (0: none) */
    long long account_window_ms;          /* ... and W */
    int errors;
    long long junk;                       /* NOOP, RSET, VRFY, HELP, HELO, EHLO
                                           * since the last accepted message */
    int junk_pending;                     /* the next reply counts as an error */
    char *pending_reply;                  /* held during SS_SLEEP */
    /* DNS (session_dns.c): the lookup under way, and what it is for */
    struct dns_req *dns_req;
    int dns_greet;                        /* 0: the client's name not asked yet */
    enum listen_kind greet_kind;
    int dns_kind;                         /* what it looks up (dns_check_kind) */
    char dns_name[256];
    char *dns_line;                       /* the command to run again */
    size_t dns_line_len;
    const char *cur_line;                 /* the command being run (borrowed) */
    size_t cur_len;
    int dns_replay;                       /* running dns_line again */
    int dns_rounds;                       /* lookups for the command so far */
    struct session_dns_fact *facts;       /* answers so far (a ring once full) */
    size_t nfacts, cap_facts, next_fact;
    struct session_tx tx;
    unsigned long nmsgs;
};

/* A session on the accepted socket fd of the listener with URL url (NULL:
 * none; its overrides apply), greeted, or refused with the reply line
 * reject (then closed). NULL when out of memory (fd closed). */
struct session *session_new(struct server *srv, int fd, enum listen_kind kind,
                            const char *url, const struct sockaddr *sa, socklen_t salen,
                            const char *reject);
/* The same over a bufferevent the session takes over (freed on failure):
 * a socket, a TLS filter later, a bufferevent pair in the unit tests. */
struct session *session_new_bev(struct server *srv, struct bufferevent *bev,
                                const struct sockaddr *sa, socklen_t salen,
                                const char *reject);

/* The group commit finished: ok = message is durable. Logs the message
 * and hands it to the scheduler, records the result and returns: the
 * reply and the rest of the session run on a later event-loop pass. */
void session_commit_done(struct session *s, int ok);

/* Close at once, without a reply (daemon exit). Not from inside the
 * session's own callbacks. */
void session_destroy(struct session *s);

/* SIGTERM: an idle session says 421 and closes; a busy one after its reply. */
void session_shutdown(struct session *s);

#endif

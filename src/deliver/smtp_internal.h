/* smtp_internal — private to the SMTP client (src/deliver/smtp*.c) and its
 * unit tests: the pure parsers and encoders (smtp_reply.c), the TLS context
 * (smtp_tls.c), and the types shared by the client (smtp.c) and the session
 * state machine (smtp_session.c). */
#ifndef POSTERN_DELIVER_SMTP_INTERNAL_H
#define POSTERN_DELIVER_SMTP_INTERNAL_H

#include <stddef.h>
#include <sys/socket.h>

#include "deadhop.h"
#include "smtp.h"
#include "transport.h"

/* ---------------------------------------------------------------- replies */

#define SMTP_REPLY_LINE_MAX 2048     /* bytes of one reply line, CRLF excluded */
#define SMTP_REPLY_LINES_MAX 100     /* lines of one (multi-line) reply */

struct smtp_reply {
    int code;               /* 200..599 once complete */
    char dsn[16];           /* enhanced status code of the first line, "" if none */
    size_t nlines;
    char *text;             /* the lines, each as received, joined with '\n' */
    size_t len, cap;
    int complete;
};

/* Feed one line (without its CRLF or LF). Returns 1 when the reply is
 * complete (the line was "NNN " or "NNN"), 0 when more lines are expected,
 * -1 on a protocol error (malformed line, code changed between lines, line
 * longer than SMTP_REPLY_LINE_MAX, more than SMTP_REPLY_LINES_MAX lines,
 * out of memory). Feeding after completion starts a new reply. */
int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);

/* Parse one reply from buf. Returns 1 (complete; *used = bytes consumed
 * including the line ends), 0 (incomplete: more bytes needed) or -1
 * (protocol error, also for a line longer than SMTP_REPLY_LINE_MAX whose
 * end has not arrived yet). */
int smtp_reply_parse(struct smtp_reply *r, const char *buf, size_t len, size_t *used);

void smtp_reply_reset(struct smtp_reply *r);   /* keep the buffer */
void smtp_reply_free(struct smtp_reply *r);

/* The reply as one line for reasons and logs: the lines joined with a space,
 * control bytes as '?', at most outlen-1 bytes. */
char *smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen);

/* Per-recipient result of a reply: 2xx SENT, 4xx DEFERRED, 5xx BOUNCED,
 * with the enhanced status code of the reply, or "2.0.0" / "4.0.0" /
 * "5.0.0" when it has none (or one of another class). */
enum deliver_status smtp_reply_state(int code);
void smtp_reply_dsn(const struct smtp_reply *r, char dsn[16]);

/* Extract an enhanced status code "c.s.d" at the start of text (c = 2, 4
 * or 5; s, d at most 3 digits) followed by a space or the end. Returns its
 * length (0 if none) and copies it to dsn. */
size_t smtp_parse_dsn(const char *text, size_t len, char dsn[16]);

/* ----------------------------------------------------------- EHLO reply */

#define SMTP_EXT_PIPELINING 0x01
#define SMTP_EXT_SIZE       0x02
#define SMTP_EXT_8BITMIME   0x04
#define SMTP_EXT_SMTPUTF8   0x08
#define SMTP_EXT_STARTTLS   0x10
#define SMTP_EXT_AUTH       0x20

#define SMTP_AUTH_PLAIN 0x01
#define SMTP_AUTH_LOGIN 0x02
#define SMTP_AUTH_OTHER 0x04

struct smtp_ext {
    unsigned flags;
    unsigned long long size;    /* SIZE n; 0 = no limit announced */
    unsigned auth;              /* SMTP_AUTH_* offered */
};

/* Keywords of a 250 EHLO reply (all lines after the first), case-
 * insensitive: PIPELINING, SIZE [n], 8BITMIME, SMTPUTF8, STARTTLS,
 * AUTH mech..., and the old form AUTH=mech... */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ext *ext);

/* ------------------------------------------------------------- nexthop */

#define SMTP_FALLBACK_MAX 8          /* smtp_fallback_relay entries */

struct smtp_nexthop {
    char host[256];       /* without brackets; "::1" for "[::1]:25" */
    unsigned port;        /* 25 when not given */
    int mx;               /* 1: MX lookup of host; 0: "[host]" form */
    int literal;          /* host is an IP address (AF_INET / AF_INET6) */
};

/* "[host]:port", "[host]", "host:port", "host", "[::1]:2525",
 * "[ipv6:::1]"; the port may be a number (1..65535) or smtp, submission,
 * smtps, submissions. Returns 0 or -1 (malformed). */
int smtp_nexthop_parse(const char *nexthop, struct smtp_nexthop *nh);

/* SASL password map keys, Postfix order: the nexthop as written
 * ("[h]:465"), without the port ("[h]"), the bare host ("h"); duplicates
 * left out. Returns the number of keys (<= 3). */
size_t smtp_sasl_keys(const char *nexthop, char keys[3][300]);

/* "user:password" → user and password (split at the first ':'). -1 when
 * there is no ':' or a part does not fit. */
int smtp_sasl_split(const char *value, char *user, size_t userlen,
                    char *pass, size_t passlen);

/* ---------------------------------------------------------- encodings */

/* AUTH PLAIN initial response: base64("\0" user "\0" pass). 0 on failure. */
size_t smtp_auth_plain(const char *user, const char *pass, char *out, size_t outlen);

/* The DATA writer: the content (CRLF line ends) as it goes on the wire.
 * - Dot-stuffing: a '.' that starts a line is doubled (a bare LF also
 *   starts a line, so "<LF>." can never end the data early).
 * - smtp_line_length_limit, as Postfix's smtp_text_out(): a line longer
 *   than limit bytes is broken by inserting CR LF SPACE after limit bytes;
 *   each continuation line holds the SPACE and at most limit-1 more bytes,
 *   so no line exceeds limit. A line of exactly limit bytes is left alone.
 *   The line end is not counted, nor a doubled dot (RFC 5321 4.5.3.1.6).
 *   Header and body lines alike; bytes are never reordered or dropped, and
 *   a break may fall inside a UTF-8 character (Postfix does the same).
 * - A CR is held back until the next byte shows whether it ends a line
 *   (CRLF) or is content (a bare CR counts as a byte of the line), so the
 *   content may be fed in pieces cut anywhere. */
struct smtp_body {
    size_t limit;           /* 0: no limit; else at least 2 */
    int nostuff;            /* no dot-stuffing: the content as the server
                             * stores it (what DKIM signs) */
    size_t col;             /* bytes on the current output line */
    int bol;                /* the next content byte starts a line */
    int cr;                 /* a CR is held back */
    unsigned long breaks;   /* CR LF SPACE inserted so far */
};

#define SMTP_BODY_END_MAX 9     /* most bytes smtp_body_end writes */

/* Start of a message; limit 1 (refused by the configuration) acts as 2. */
void smtp_body_init(struct smtp_body *b, size_t limit);

/* Most bytes smtp_body_write can produce from inlen more bytes. */
size_t smtp_body_max(const struct smtp_body *b, size_t inlen);

/* Write in (inlen bytes, the next piece of the content) to out, which must
 * hold smtp_body_max(b, inlen) bytes. Returns the bytes written. */
size_t smtp_body_write(struct smtp_body *b, const char *in, size_t inlen, char *out);

/* End of the content: a held CR, CR LF if the last line has no end, and
 * the final ".\r\n". out must hold SMTP_BODY_END_MAX bytes. */
size_t smtp_body_end(struct smtp_body *b, char *out);


/* 1 for loopback addresses: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104. */
int smtp_addr_is_loopback(const struct sockaddr *sa);

/* ------------------------------------------------------------------ TLS */

enum smtp_tls_level {
    SMTP_TLS_NONE = 0, SMTP_TLS_MAY, SMTP_TLS_ENCRYPT, SMTP_TLS_VERIFY, SMTP_TLS_SECURE
};

/* "none", "may", "encrypt", "verify", "secure" (case-insensitive); -1 if unknown. */
int smtp_tls_level_parse(const char *s);

struct ssl_ctx_st;
struct ssl_st;

/* Client context: TLS 1.2 minimum; with verify != 0 the CA store comes from
 * cafile (PEM) or, when cafile is empty, the system default paths. NULL
 * with a reason in err. */
struct ssl_ctx_st *smtp_tls_ctx_new(const char *cafile, int verify, char *err, size_t errlen);

/* A new SSL for one connection: SNI = sni_host unless it is an IP address;
 * with level >= VERIFY peer verification is on and the certificate must
 * match match_host (a name, or an IP address for [ip] nexthops); for SECURE
 * also its subdomains ("." prefix). NULL with a reason in err. */
struct ssl_st *smtp_tls_ssl_new(struct ssl_ctx_st *ctx, int level, const char *sni_host,
                                const char *match_host, char *err, size_t errlen);

/* After a failed handshake: the reason, naming verification failures as
 * "Server certificate not verified: <openssl reason>". */
void smtp_tls_failure_reason(struct ssl_st *ssl, unsigned long sslerr, char *out, size_t outlen);

/* ------------------------------------------------- client and sessions
 * (smtp.c: client, attempts; smtp_dest.c: destinations, concurrency,
 *  cache, rate delay, dead state;
 *  smtp_session.c: one connection's protocol state machine) */

#include <sys/queue.h>

struct event_base;
struct event;
struct bufferevent;
struct dns;
struct map;
struct dkim_signer;
struct dkim_sign;
struct metric_family;

/* An immutable snapshot of the smtp_* parameters, taken by
 * smtp_client_configure; attempts and sessions hold a reference so a
 * reload never changes a conversation midway. */
struct smtp_settings {
    int refs;
    char *helo_name;
    int tls_level;                  /* enum smtp_tls_level */
    int wrapper;
    char *cafile;
    struct ssl_ctx_st *ctx;         /* created on first TLS use */
    int sasl_enable;
    int sender_auth;                    /* smtp_sender_dependent_authentication */
    struct map *passwd;             /* NULL: no credentials */
    int noplaintext;
    int cleartext_loopback;
    long long t_connect, t_helo, t_mail, t_rcpt, t_data_init, t_data_xfer,
              t_data_done, t_quit, cache_time;      /* milliseconds */
    int cache;
    char fallback[SMTP_FALLBACK_MAX][300]; /* smtp_fallback_relay */
    size_t nfallback;
    unsigned long dest_limit;       /* smtp_destination_concurrency_limit */
    long long rate_delay;           /* smtp_destination_rate_delay, ms; 0: none */
    long long cohort_limit;         /* smtp_destination_concurrency_failed_cohort_limit */
    long long dead_time;            /* minimal_backoff_time, ms: how long a dead
                                     * destination stays dead */
    int smtputf8;
    size_t line_limit;              /* smtp_line_length_limit; 0: none */
    struct dkim_signer *dkim;       /* the DKIM keys, or NULL: no signing */
    int dkim_mode;                  /* SMTP_DKIM_* (dkim_sign) */
};

enum { SMTP_DKIM_NO, SMTP_DKIM_MX, SMTP_DKIM_YES };

struct smtp_target {
    char host[256];
    struct sockaddr_storage sa;     /* with the port */
    socklen_t salen;
};

enum smtp_action { ACT_NONE = 0, ACT_START, ACT_NEXT, ACT_RETRY_PLAIN, ACT_DONE };

struct smtp_session;
struct smtp_dest;
struct smtp_client;

/* One request's delivery: waits for a slot, resolves, walks the addresses,
 * records per-recipient results, calls done from its own event. */
struct smtp_attempt {
    TAILQ_ENTRY(smtp_attempt) link;     /* dest->waiting or dest->running */
    struct smtp_client *c;
    struct smtp_dest *dest;
    struct smtp_settings *set;
    const struct deliver_request *req;  /* the caller's, until done */
    deliver_done_fn *done;
    void *done_arg;
    struct smtp_nexthop nh;
    char nexthop[300];                  /* req->nexthop or the domain */
    int by_domain;                      /* nexthop "" (MX of the recipients' domain) */
    int running;                        /* dispatched (holds a slot) */
    int has_slot;
    struct dns_req *dnsreq;
    struct smtp_target *targets;
    size_t ntargets, ti;
    int plaintext;                      /* "may": this address without STARTTLS */
    size_t fi;                          /* smtp_fallback_relay entries tried */
    int mail_sent;                      /* a server got MAIL FROM: no fallback */
    int connected;                      /* a connection to the next hop succeeded */
    int probe;                          /* the dead destination's probe */
    int suspended;                      /* the next hop is dead: straight to the
                                         * smtp_fallback_relay */
    struct smtp_session *s;
    enum smtp_action action;
    struct event *ev;
    unsigned char *final;               /* req->rcpt[k]'s result recorded */
    struct deliver_result *res;         /* per req->rcpt[k], for done */
    char **res_reason;                  /* res[k].reason, owned */
    size_t nres;                        /* req->nrcpt */
    char relay[320];
    char dsn[16];                       /* last failure, for the remaining */
    char reason[1024];
    /* 7-bit version of the content for servers without 8BITMIME, made on
     * first need (mime_downgrade_7bit), kept for the attempt's sessions */
    int conv_done;                      /* conv_rc is valid */
    int conv_rc;                        /* MIME7BIT_* (never ENOMEM) */
    char *conv;                         /* MIME7BIT_CONVERTED: the content */
    size_t conv_len;
    /* the DKIM-Signature fields of the content as queued [0] and of its
     * 7-bit version [1], made on first need (smtp_content.c): hdr NULL
     * when the message is not signed */
    struct {
        int done;
        char *hdr;
        size_t len;
    } dkim[2];
};

struct smtp_session {
    TAILQ_ENTRY(smtp_session) link;     /* dest->sessions */
    TAILQ_ENTRY(smtp_session) idle_link;
    struct smtp_client *c;
    struct smtp_dest *dest;
    struct smtp_settings *set;
    struct smtp_attempt *att;           /* NULL while idle or quitting */
    int has_slot;
    int idle;
    struct bufferevent *bev;
    struct event *timer;
    int st;                             /* enum in smtp_session.c */
    char host[256];
    char addr[64];
    unsigned port;
    struct sockaddr_storage sa;
    socklen_t salen;
    int tls;
    int reused;                         /* transaction on a cached connection */
    int got_reply;                      /* a reply arrived in this transaction */
    int pipelining;
    struct smtp_ext ext;
    struct smtp_reply reply;
    int login_step;
    size_t *rcpts, nrcpts, rcpt_reply, naccepted;
    unsigned char *accepted;            /* per rcpts[] entry */
    int aborting;                       /* pipelined MAIL failed: drain replies */
    const char *content;                /* what DATA sends: req->content or att->conv */
    size_t content_len;
    const char *prefix;                 /* sent before it: the DKIM-Signature
                                         * fields (att->dkim[].hdr), or NULL */
    size_t prefix_len;
    /* DKIM: the content being hashed in slices, off the reply path */
    struct dkim_sign *sign;
    struct event *sign_ev;
    size_t sign_pos;
    int sign_v;                         /* att->dkim[] index it is for */
    struct smtp_body sign_body;         /* line breaking as DATA will do */
    char *sign_buf;
    size_t pos;
    struct smtp_body body;              /* the DATA writer's state */
    int dot_sent;
    int break_logged;                   /* "breaking line" logged this transaction */
    long long t_connect, t_login, t_txn; /* monotonic us: phase starts (metrics) */
};

struct smtp_dest {
    TAILQ_ENTRY(smtp_dest) link;
    struct smtp_client *c;
    char *key;
    unsigned long slots;                /* running attempts + sessions holding one */
    long long next_start;               /* rate delay: no attempt starts before (ms) */
    struct event *pace;                 /* rate delay, dead time: wakes dest_dispatch */
    struct deadhop dead;                /* connections refused: deadhop.h */
    char dead_dsn[16];                  /* why it is dead, for the deferrals */
    char dead_reason[1024];
    TAILQ_HEAD(, smtp_attempt) waiting;
    TAILQ_HEAD(, smtp_attempt) running;
    TAILQ_HEAD(, smtp_session) sessions;
    TAILQ_HEAD(, smtp_session) idle;
};

struct smtp_client {
    struct metric_family *m_connect, *m_login, *m_delivery;  /* NULL: none */
    smtp_login_fn *on_login;            /* NULL: nobody listens */
    void *on_login_arg;
    struct event_base *base;
    struct dns *dns;
    struct smtp_settings *set;
    TAILQ_HEAD(, smtp_dest) dests;
    unsigned nconn;
    int freeing;
};

/* smtp_dest.c, for the attempts */
struct smtp_dest *smtp_dest_get(struct smtp_client *c, const char *key);
void smtp_dest_free(struct smtp_dest *d);
/* Free d when nothing uses it and no timer (rate delay, dead time) needs
 * it; else keep it, the timer armed. */
void smtp_dest_maybe_free(struct smtp_dest *d);
/* Start the waiting attempts that may start: slots, rate delay, dead state. */
void smtp_dest_dispatch(struct smtp_dest *d);
/* att could connect to none of its next-hop's addresses: a failed cohort. */
void smtp_dest_connect_failed(struct smtp_attempt *att);

/* smtp.c, for the session */
void smtp_attempt_act(struct smtp_attempt *att, enum smtp_action a);
void smtp_attempt_failure(struct smtp_attempt *att, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void smtp_attempt_result(struct smtp_attempt *att, size_t k, enum deliver_status st,
                         const char *dsn, const char *reason);
int smtp_attempt_credentials(const struct smtp_attempt *att, const char *host,
                             char *user, size_t userlen, char *pass, size_t passlen);
struct ssl_ctx_st *smtp_settings_ctx(struct smtp_settings *set, char *err, size_t errlen);
void smtp_dest_park(struct smtp_session *s);      /* session became idle */
/* A connection to the attempt's next hop succeeded: a dead destination
 * lives again. */
void smtp_dest_connected(struct smtp_attempt *att);
/* A session is gone: give its slot back (slot != 0), start waiting jobs,
 * free the destination when nothing is left. */
void smtp_dest_session_gone(struct smtp_dest *d, int slot);
void smtp_settings_unref(struct smtp_settings *s);

/* smtp_content.c: the content of a transaction (as queued or 7-bit) and
 * its DKIM signature. 0: s->content and s->prefix are set; 1: signing
 * goes on in slices from an event of its own, which calls
 * smtp_session_resume when done; -1: the recipients' results are recorded
 * (binary content bounced, or a temporary failure). */
int smtp_content_choose(struct smtp_session *s);
void smtp_content_free(struct smtp_session *s);     /* signing state */

/* smtp_session.c */
void smtp_session_resume(struct smtp_session *s);  /* after smtp_content_choose's 1 */
struct smtp_session *smtp_session_connect(struct smtp_attempt *att, const struct smtp_target *t);
void smtp_session_begin(struct smtp_session *s);  /* cached session: next transaction */
void smtp_session_quit(struct smtp_session *s);   /* idle: QUIT and close */
void smtp_session_free(struct smtp_session *s);

#endif

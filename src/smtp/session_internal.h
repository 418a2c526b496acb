/* session_internal — what session.c (state machine, I/O, life cycle) and
 * session_cmd.c (command table, handlers, transaction, DATA content)
 * share. Nothing outside src/smtp/session*.c includes it. */
#ifndef POSTERN_SMTP_SESSION_INTERNAL_H
#define POSTERN_SMTP_SESSION_INTERNAL_H

#include <stddef.h>

#include "../config/runtime.h"
#include "../net/dns.h"
#include "data.h"
#include "reply.h"
#include "session.h"

struct smtp_command;

struct spool_msg;

static inline const struct config *session_cfg(const struct session *s)
{
    return s->rt->cfg;
}

/* --- session.c --- */

/* Reply id (its "%s" filled by a1, a2): counts errors, may hold the reply
 * (tarpit, SS_SLEEP), and a 221 or 421 reply closes the session. */
void session_reply(struct session *s, enum reply_id id, const char *a1, const char *a2);
/* A whole reply line from elsewhere (a restriction's decision, a SASL
 * error): counted as an error when it is a 5xx, like session_reply. */
void session_reply_line(struct session *s, const char *line);
/* One line as it is (CRLF added), -v traced. */
void session_reply_raw(struct session *s, const char *line);
/* (Re)start the session's one timer: deadline, tarpit or close grace. */
void session_timer_arm(struct session *s, long long secs);
/* The message is complete: hand it to the group commit (SS_COMMIT). */
void session_commit_submit(struct session *s, struct spool_msg *m);
/* Start the TLS handshake on the connection (after 220 to STARTTLS, or at
 * once on submissions://). Whatever the client sent before it, unread, is
 * dropped (CVE-2011-0411: plaintext pipelined after STARTTLS must not be
 * taken as if it came through TLS). On failure the session closes. */
void session_tls_begin(struct session *s);

/* Run the session again from a callback of another module (the AUTH
 * verdict): processes what the client sent meanwhile, frees a session
 * that is over. */
void session_resume(struct session *s);

/* The connection is in (and the client's name, when looked up): log it,
 * and greet or refuse (reply line reject). */
void session_greet(struct session *s, enum listen_kind kind, const char *reject);

/* --- session_dns.c --- */

/* smtpd_peername_lookup: start the client name lookup (SS_DNS_WAIT; the
 * greeting follows from its callback). 0 when nothing was started: the
 * name is set as it will stay (lookup off, the local socket, no resolver). */
int session_dns_peer(struct session *s, enum listen_kind kind);
/* A restriction needs (kind, name): look it up, keep the command being run
 * (s->cur_line) and run it again once the answer is in. */
struct restrict_snapshot;
void session_dns_need(struct session *s, int kind, const char *name);
/* The snapshot's dns_fact, over the session's answers. */
const struct dns_check_result *session_dns_fact(void *arg, enum dns_check_kind kind,
                                                const char *name);
/* The session ends: cancel the lookup, forget the answers. */
void session_dns_free(struct session *s);

/* --- session_auth.c --- */

/* The mechanisms AUTH offers now (SASL_MECH_*), 0 when it is not offered:
 * smtpd_sasl_auth_enable, a backend, smtpd_sasl_security_options, and
 * TLS when smtpd_tls_auth_only. Never on the local submission socket. */
unsigned session_auth_mechs(const struct session *s);
/* The AUTH command. */
void session_cmd_auth(struct session *s, const struct smtp_command *c);
/* A client line during the exchange (SS_AUTH): a SASL response. */
void session_auth_line(struct session *s, const char *line, size_t len);
/* Drop an exchange under way (SS_AUTH: a line too long, a timeout, a
 * shutdown): back to SS_CMD, the credentials wiped. */
void session_auth_abort(struct session *s);
/* The session ends: cancel the check under way, wipe the exchange. */
void session_auth_free(struct session *s);

/* --- session_limits.c (policy/anvil.h) --- */

/* Is the client exempt from the per-client limits (the local socket,
 * smtpd_client_event_limit_exceptions)? */
int session_limit_exempt(const struct session *s);
/* A connection, once the client's address is known: 1 with the 421
 * reply in reject when it is over smtpd_client_connection_rate_limit. */
int session_limit_connect(struct session *s, char *reject, size_t rejectlen);
/* MAIL FROM (the account's rate=, smtpd_client_message_rate_limit), RCPT
 * TO, AUTH (failed ones over smtpd_client_auth_rate_limit): 1 when refused,
 * the reply sent. */
int session_limit_mail(struct session *s);
int session_limit_rcpt(struct session *s);
int session_limit_auth(struct session *s);
/* smtpd_client_new_tls_session_rate_limit. Before a handshake: 1 when
 * the client is already over (STARTTLS answered 454; on submissions://,
 * nothing: close). After it: 1 when this new session is one too many (421
 * sent, the session closes). */
int session_limit_tls_start(struct session *s);
int session_limit_tls_done(struct session *s, int resumed);
/* Count a failed AUTH; a message queued for the logged-in account. */
void session_limit_auth_failed(struct session *s);
void session_limit_queued(struct session *s);

/* --- session_cmd.c --- */

/* End the transaction: the one reset (see struct session_tx). */
void session_tx_reset(struct session *s);
/* data_scan's output: content bytes, and the end of the header section. */
void session_data_emit(void *arg, enum data_emit kind, const char *p, size_t n);
/* The end of DATA was scanned: reject the message or commit it. */
void session_data_finish(struct session *s);

#endif

/* session_cmd — the server session's command table, after Postfix's
 * smtpd_cmd_table: one row per verb with the flags the dispatcher obeys
 * and the handler it calls. The table and the decision whether a command
 * may run are pure (unit-tested); the handlers are the session's. */
#ifndef POSTERN_SMTP_SESSION_CMD_H
#define POSTERN_SMTP_SESSION_CMD_H

#include "command.h"
#include "reply.h"

struct session;

enum session_cmd_flag {
    /* Ends a pipelined group (RFC 2920 section 3.1: EHLO, DATA, VRFY,
     * EXPN, QUIT, NOOP; HELO as in Postfix; STARTTLS, RFC 3207): the
     * session takes no further command from its input until the replies
     * so far have been written to the client. */
    SCF_LAST = 1 << 0,
    /* Allowed before STARTTLS when TLS is required and not active (a
     * listener with smtpd_tls_security_level = encrypt); any other command
     * gets 530 5.7.0. As Postfix. */
    SCF_PRE_TLS = 1 << 1,
    /* Only inside a transaction (after MAIL): else 503 need MAIL. */
    SCF_NEED_TX = 1 << 2,
    /* Only once a recipient was accepted: else 503 need RCPT. */
    SCF_NEED_RCPT = 1 << 3,
    /* Only outside a transaction: else 503 nested MAIL. */
    SCF_NO_TX = 1 << 4,
    /* A junk command: past smtpd_junk_command_limit of them since the last
     * accepted message, each counts as an error (Postfix counts NOOP,
     * VRFY, ETRN and RSET; postern also HELP, HELO and EHLO). */
    SCF_JUNK = 1 << 5,
};

struct session_cmd {
    enum smtp_verb verb;
    unsigned flags;                 /* SCF_* */
    /* Runs once the checks passed; NULL: the command just answers reply. */
    void (*handler)(struct session *s, const struct smtp_command *c);
    enum reply_id reply;
    /* Syntax errors (command_parse's status): CMD_ERR_SYNTAX, a bad
     * address, an unsupported parameter. REPLY_NONE: REPLY_SYNTAX. */
    enum reply_id syntax, bad_address, bad_param;
};

/* The row of verb v; NULL for CMD_UNKNOWN (or a verb without one). */
const struct session_cmd *session_cmd_find(enum smtp_verb v);

/* What the checks look at, taken from the session. */
struct session_cmd_state {
    int tls_required;               /* TLS must be active for most commands */
    int tls_active;
    int in_tx;                      /* MAIL accepted */
    size_t nrcpt;                   /* recipients accepted */
    int need_helo;                  /* STARTTLS forgot the HELO: MAIL gets 503 */
};

/* May the command of row cmd, parsed with status st, run? REPLY_NONE if
 * so, else the refusal, in this order: TLS required (before anything of
 * the command is looked at, as Postfix), MAIL before the EHLO that must
 * follow STARTTLS, syntax, then the transaction state. Pure. */
enum reply_id session_cmd_check(const struct session_cmd *cmd, enum cmd_status st,
                                const struct session_cmd_state *st_session);

/* Run one command line (CRLF removed) of session s: trace (-v), parse,
 * check, handler or reply; a SCF_LAST row sets s->group_wait. */
void session_command(struct session *s, const char *line, size_t len);

#endif

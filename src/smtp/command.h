/* command — pure parser for one SMTP command line (without CRLF). */
#ifndef POSTERN_SMTP_COMMAND_H
#define POSTERN_SMTP_COMMAND_H

#include <stddef.h>
#include "address.h"

enum smtp_verb {
    CMD_UNKNOWN = 0, CMD_HELO, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA,
    CMD_RSET, CMD_NOOP, CMD_QUIT, CMD_HELP, CMD_VRFY, CMD_EXPN,
    CMD_STARTTLS, CMD_AUTH, CMD_BDAT,
};

enum cmd_status {
    CMD_OK = 0,
    CMD_ERR_UNKNOWN,        /* 500 5.5.2 command not recognized */
    CMD_ERR_SYNTAX,         /* 501 5.5.4 syntax error in parameters */
    CMD_ERR_ADDRESS,        /* 501 5.1.7 (MAIL) / 5.1.3 (RCPT), see addr_status */
    CMD_ERR_PARAM,          /* 555 5.5.4 unsupported MAIL/RCPT parameter */
    CMD_ERR_NUL,            /* NUL byte or other control in the line */
};

enum body_type { BODY_NONE = 0, BODY_7BIT, BODY_8BITMIME };

struct smtp_command {
    enum smtp_verb verb;
    /* HELO/EHLO: the domain or address literal; VRFY/EXPN/HELP/NOOP: argument */
    char arg[512];
    /* MAIL/RCPT */
    struct address addr;
    enum addr_status addr_status;         /* valid when status == CMD_ERR_ADDRESS */
    long long size;                       /* MAIL SIZE=, -1 when absent */
    enum body_type body;                  /* MAIL BODY= */
    int smtputf8;                         /* MAIL SMTPUTF8 */
    /* AUTH: the argument (mechanism and initial response), borrowed from
     * the line for the call: it may be longer than arg, and a credential
     * is not copied anywhere */
    const char *auth_arg;
    size_t auth_len;
};

/* command_parse flags */
#define CMD_PARSE_UTF8 0x1        /* the transaction's MAIL had SMTPUTF8 */
#define CMD_PARSE_NOBRACKET 0x2   /* strict_rfc821_envelopes = no: paths
                                   * without < > are accepted */

/* Parse one line (len bytes, CRLF already removed). Verbs are
 * case-insensitive; "MAIL FROM:" and "RCPT TO:" allow no space after the
 * colon but tolerate one (as Postfix does). Unknown ESMTP parameters on
 * MAIL/RCPT give CMD_ERR_PARAM. */
/* flags: CMD_PARSE_UTF8 when the current transaction's MAIL had SMTPUTF8,
 * so RCPT may carry UTF-8 addresses (MAIL decides from its own SMTPUTF8
 * parameter); CMD_PARSE_NOBRACKET. */
enum cmd_status command_parse(const char *line, size_t len, unsigned flags,
                              struct smtp_command *out);

/* For -v traces: may this client line carry a credential? AUTH lines (any
 * case, any separator, leading blanks) and the lines after one until the
 * next recognised SMTP command: SASL responses (the base64 user name and
 * password of AUTH LOGIN, a PLAIN response after an empty challenge) are
 * not commands, and a client may send them pipelined or after our refusal.
 * *after_auth is the session's memory, 0 at the start. Returns
 * TRACE_SHOW, TRACE_AUTH (an AUTH command: log "AUTH <redacted>") or
 * TRACE_SECRET (log only "<redacted>"). */
enum trace_redact { TRACE_SHOW = 0, TRACE_AUTH, TRACE_SECRET };
enum trace_redact command_trace_redact(const char *line, size_t len, int *after_auth);

/* Name of a verb in upper case ("MAIL"), for logs. */
const char *command_verb_name(enum smtp_verb v);

#endif

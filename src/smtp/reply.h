/* reply — every reply the SMTP server sends, in one table: code, enhanced
 * status code (RFC 3463) and text, named by an enum. Pure: no I/O, no
 * allocation. docs/smtp.md lists the same replies (a unit test compares
 * them). */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>

enum reply_id {
    REPLY_NONE = 0,             /* no reply: the command may run */
    /* 2xx, 3xx */
    REPLY_GREETING,             /* 220 <smtpd_banner> */
    REPLY_HELLO,                /* 250 <myhostname>, and each EHLO line */
    REPLY_OK,
    REPLY_MAIL_OK,
    REPLY_RCPT_OK,
    REPLY_QUEUED,
    REPLY_VRFY,
    REPLY_HELP,
    REPLY_DATA,
    REPLY_BYE,
    REPLY_FORBIDDEN,
    REPLY_STARTTLS,
    REPLY_AUTH_CHALLENGE,       /* 334 <challenge> */
    REPLY_AUTH_OK,
    /* 4xx */
    REPLY_TOO_MANY_RCPT,
    REPLY_NOMEM,
    REPLY_QUEUE_WRITE,
    REPLY_NO_STORAGE,
    REPLY_NOMEM_CLOSE,
    REPLY_TOO_MANY_ERRORS,
    REPLY_TIMEOUT,
    REPLY_SHUTDOWN,
    REPLY_TOO_MANY_CONNECTIONS,
    REPLY_TOO_MANY_FROM,
    REPLY_AUTH_TEMP,
    REPLY_MAIL_RATE,
    REPLY_RCPT_RATE,
    REPLY_AUTH_RATE,
    REPLY_ACCOUNT_RATE,
    REPLY_NEWTLS_REFUSED,
    REPLY_NEWTLS_RATE,
    REPLY_SERVER_CONFIG,
    /* 5xx */
    REPLY_UNKNOWN,
    REPLY_LINE_TOO_LONG,
    REPLY_SYNTAX,
    REPLY_SYNTAX_HELO,
    REPLY_SYNTAX_EHLO,
    REPLY_SYNTAX_MAIL,
    REPLY_SYNTAX_RCPT,
    REPLY_SYNTAX_VRFY,
    REPLY_SYNTAX_EXPN,
    REPLY_BAD_SENDER,
    REPLY_BAD_RCPT,
    REPLY_NOT_IMPLEMENTED,
    REPLY_EXPN_DISABLED,
    REPLY_NEED_MAIL,
    REPLY_NEED_RCPT,
    REPLY_NESTED_MAIL,
    REPLY_NEED_HELO,
    REPLY_AUTH_DISABLED,
    REPLY_AUTH_TWICE,
    REPLY_AUTH_IN_TX,
    REPLY_AUTH_FAILED,
    REPLY_AUTH_ENCRYPT,
    REPLY_MUST_STARTTLS,
    REPLY_BARE_CR,
    REPLY_SIZE,
    REPLY_HEADER_SIZE,
    REPLY_RELAY_DENIED,
    REPLY_HOPS,
    REPLY_TLS_ACTIVE,
    REPLY_MAIL_PARAM,
    REPLY_RCPT_PARAM,
    REPLY_COUNT
};

/* The reply counts towards smtpd_soft_error_limit and
 * smtpd_hard_error_limit: the client did something wrong. */
#define REPLY_F_ERROR 0x1

/* At most this many "%s" in a text. */
#define REPLY_ARGS_MAX 2

struct reply_def {
    int code;                   /* 220 ... 555 */
    const char *dsn;            /* "2.0.0"; "" for the greeting and HELO/EHLO
                                 * (RFC 2034 exempts them), 354 and 334 */
    const char *text;           /* each "%s" takes the next argument */
    unsigned flags;             /* REPLY_F_* */
    const char *doc[REPLY_ARGS_MAX]; /* the arguments as docs/smtp.md
                                 * writes them: "<host>", "<QID>"... */
};

/* The entry of id; NULL for REPLY_NONE or an id out of range. */
const struct reply_def *reply_get(enum reply_id id);

/* Format id as one reply line without CRLF: "CODE DSN TEXT", with '-'
 * after the code when more lines follow (more != 0), and the text's first
 * "%s" replaced by a1, the second by a2 (NULL: nothing). Arguments are
 * copied as they are: the caller makes them safe. Truncated to fit outlen,
 * always terminated; returns the length. REPLY_NONE or an unknown id gives
 * "" and 0. */
size_t reply_format(char *out, size_t outlen, enum reply_id id, int more,
                    const char *a1, const char *a2);

#endif

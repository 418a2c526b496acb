/* reply — the server's reply table and the one function that formats a
 * reply line from it. Texts follow Postfix's smtpd where it has the same
 * reply, so log-watching tools and administrators see what they know. */
#include "smtp/reply.h"

#include <string.h>

#define E REPLY_F_ERROR
#define HOST { "<host>", NULL }

static const struct reply_def replies[REPLY_COUNT] = {
    [REPLY_GREETING] = { 220, "", "%s", 0, { "<smtpd_banner>", NULL } },
    [REPLY_HELLO] = { 250, "", "%s", 0, { "<myhostname>", NULL } },
    [REPLY_OK] = { 250, "2.0.0", "Ok", 0, { 0 } },
    [REPLY_MAIL_OK] = { 250, "2.1.0", "Ok", 0, { 0 } },
    [REPLY_RCPT_OK] = { 250, "2.1.5", "Ok", 0, { 0 } },
    [REPLY_QUEUED] = { 250, "2.0.0", "Ok: queued as %s", 0, { "<QID>", NULL } },
    [REPLY_VRFY] = { 252, "2.0.0",
                     "Cannot VRFY user, but will accept message and attempt delivery", 0,
                     { 0 } },
    [REPLY_HELP] = { 214, "2.0.0",
                     "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY STARTTLS AUTH", 0,
                     { 0 } },
    [REPLY_DATA] = { 354, "", "End data with <CR><LF>.<CR><LF>", 0, { 0 } },
    [REPLY_BYE] = { 221, "2.0.0", "Bye", 0, { 0 } },
    [REPLY_FORBIDDEN] = { 221, "2.7.0", "Error: I can break rules, too. Goodbye.", 0,
                          { 0 } },
    [REPLY_STARTTLS] = { 220, "2.0.0", "Ready to start TLS", 0, { 0 } },
    [REPLY_AUTH_CHALLENGE] = { 334, "", "%s", 0, { "<challenge>", NULL } },
    [REPLY_AUTH_OK] = { 235, "2.7.0", "Authentication successful", 0, { 0 } },

    [REPLY_TOO_MANY_RCPT] = { 452, "4.5.3", "Too many recipients", 0, { 0 } },
    [REPLY_NOMEM] = { 451, "4.3.0", "Error: out of memory", 0, { 0 } },
    [REPLY_QUEUE_WRITE] = { 451, "4.3.0", "Error: queue file write error", 0, { 0 } },
    [REPLY_NO_STORAGE] = { 452, "4.3.1", "Insufficient system storage", 0, { 0 } },
    [REPLY_NOMEM_CLOSE] = { 421, "4.3.0", "%s Error: out of memory", 0, HOST },
    [REPLY_TOO_MANY_ERRORS] = { 421, "4.7.0", "%s Error: too many errors", 0, HOST },
    [REPLY_TIMEOUT] = { 421, "4.4.2", "%s Error: timeout exceeded", 0, HOST },
    [REPLY_SHUTDOWN] = { 421, "4.3.2", "%s Service shutting down", 0, HOST },
    [REPLY_TOO_MANY_CONNECTIONS] = { 421, "4.3.2",
                                     "%s Error: too many connections, try again later", 0,
                                     HOST },
    [REPLY_TOO_MANY_FROM] = { 421, "4.7.0", "%s Error: too many connections from %s", 0,
                              { "<host>", "<addr>" } },
    [REPLY_AUTH_TEMP] = { 454, "4.7.0", "Temporary authentication failure", 0, { 0 } },
    /* anvil: Postfix's words (Postfix also counts them as errors; postern
     * counts 5xx only) */
    [REPLY_MAIL_RATE] = { 450, "4.7.1", "Error: too much mail from %s", 0, { "<addr>", NULL } },
    [REPLY_RCPT_RATE] = { 450, "4.7.1", "Error: too many recipients from %s", 0,
                          { "<addr>", NULL } },
    [REPLY_AUTH_RATE] = { 450, "4.7.1", "Error: too many AUTH commands from %s", 0,
                          { "<addr>", NULL } },
    [REPLY_ACCOUNT_RATE] = { 450, "4.7.1", "Error: too much mail from %s: rate=%s reached, "
                             "try again later", 0, { "<login>", "<N>/<window>" } },
    [REPLY_NEWTLS_REFUSED] = { 454, "4.7.0", "Error: too many new TLS sessions from %s", 0,
                               { "<name>[<addr>]", NULL } },
    [REPLY_NEWTLS_RATE] = { 421, "4.7.0", "%s Error: too many new TLS sessions from %s", 0,
                            { "<host>", "<name>[<addr>]" } },
    [REPLY_SERVER_CONFIG] = { 451, "4.3.5", "Server configuration error", 0, { 0 } },

    [REPLY_UNKNOWN] = { 500, "5.5.2", "Error: command not recognized", E, { 0 } },
    [REPLY_LINE_TOO_LONG] = { 500, "5.5.2", "Error: line too long", E, { 0 } },
    [REPLY_SYNTAX] = { 501, "5.5.4", "Syntax error in parameters or arguments", E, { 0 } },
    [REPLY_SYNTAX_HELO] = { 501, "5.5.4", "Syntax: HELO hostname", E, { 0 } },
    [REPLY_SYNTAX_EHLO] = { 501, "5.5.4", "Syntax: EHLO hostname", E, { 0 } },
    [REPLY_SYNTAX_MAIL] = { 501, "5.5.4", "Syntax: MAIL FROM:<address>", E, { 0 } },
    [REPLY_SYNTAX_RCPT] = { 501, "5.5.4", "Syntax: RCPT TO:<address>", E, { 0 } },
    [REPLY_SYNTAX_VRFY] = { 501, "5.5.4", "Syntax: VRFY address", E, { 0 } },
    [REPLY_SYNTAX_EXPN] = { 501, "5.5.4", "Syntax: EXPN address", E, { 0 } },
    [REPLY_BAD_SENDER] = { 501, "5.1.7", "Bad sender address syntax", E, { 0 } },
    [REPLY_BAD_RCPT] = { 501, "5.1.3", "Bad recipient address syntax", E, { 0 } },
    [REPLY_NOT_IMPLEMENTED] = { 502, "5.5.1", "Error: command not implemented", E, { 0 } },
    [REPLY_EXPN_DISABLED] = { 502, "5.5.1", "EXPN command is disabled", E, { 0 } },
    [REPLY_NEED_MAIL] = { 503, "5.5.1", "Error: need MAIL command", E, { 0 } },
    [REPLY_NEED_RCPT] = { 503, "5.5.1", "Error: need RCPT command", E, { 0 } },
    [REPLY_NESTED_MAIL] = { 503, "5.5.1", "Error: nested MAIL command", E, { 0 } },
    [REPLY_NEED_HELO] = { 503, "5.5.1", "Error: send HELO/EHLO first", E, { 0 } },
    [REPLY_AUTH_DISABLED] = { 503, "5.5.1", "Error: authentication not enabled", E, { 0 } },
    [REPLY_AUTH_TWICE] = { 503, "5.5.1", "Error: already authenticated", E, { 0 } },
    [REPLY_AUTH_IN_TX] = { 503, "5.5.1", "Error: MAIL transaction in progress", E, { 0 } },
    /* RFC 4954's words; the log line has Postfix's (session_auth.c) */
    [REPLY_AUTH_FAILED] = { 535, "5.7.8", "Authentication credentials invalid", E, { 0 } },
    [REPLY_AUTH_ENCRYPT] = { 538, "5.7.11",
                             "Encryption required for requested authentication mechanism", E,
                             { 0 } },
    [REPLY_MUST_STARTTLS] = { 530, "5.7.0", "Must issue a STARTTLS command first", E,
                              { 0 } },
    [REPLY_BARE_CR] = { 550, "5.6.0",
                        "Message content rejected: bare <CR> not allowed "
                        "(RFC 5321 section 2.3.8)", E, { 0 } },
    [REPLY_SIZE] = { 552, "5.3.4", "Message size exceeds fixed limit", E, { 0 } },
    [REPLY_HEADER_SIZE] = { 552, "5.3.4", "Message header size exceeds fixed limit", E,
                            { 0 } },
    [REPLY_RELAY_DENIED] = { 554, "5.7.1", "<%s>: Relay access denied", E,
                             { "addr", NULL } },
    [REPLY_HOPS] = { 554, "5.4.6", "Too many hops", E, { 0 } },
    [REPLY_TLS_ACTIVE] = { 554, "5.5.1", "Error: TLS already active", E, { 0 } },
    [REPLY_MAIL_PARAM] = { 555, "5.5.4", "Unsupported option in MAIL command", E, { 0 } },
    [REPLY_RCPT_PARAM] = { 555, "5.5.4", "Unsupported option in RCPT command", E, { 0 } },
};

#undef E
#undef HOST

const struct reply_def *reply_get(enum reply_id id)
{
    if ((int)id <= (int)REPLY_NONE || (int)id >= (int)REPLY_COUNT)
        return NULL;
    return &replies[id];
}

/* Append n bytes of p at *o, keeping room for the terminator. */
static void put(char *out, size_t outlen, size_t *o, const char *p, size_t n)
{
    size_t room = outlen - 1 - *o;
    if (n > room)
        n = room;
    memcpy(out + *o, p, n);
    *o += n;
}

size_t reply_format(char *out, size_t outlen, enum reply_id id, int more,
                    const char *a1, const char *a2)
{
    const struct reply_def *r = reply_get(id);
    if (outlen == 0)
        return 0;
    size_t o = 0;
    if (r) {
        char code[4] = { (char)('0' + r->code / 100 % 10), (char)('0' + r->code / 10 % 10),
                         (char)('0' + r->code % 10), more ? '-' : ' ' };
        put(out, outlen, &o, code, sizeof code);
        if (r->dsn[0]) {
            put(out, outlen, &o, r->dsn, strlen(r->dsn));
            put(out, outlen, &o, " ", 1);
        }
        const char *args[REPLY_ARGS_MAX] = { a1, a2 };
        size_t next = 0;
        for (const char *t = r->text; *t;) {
            const char *pct = strstr(t, "%s");
            size_t n = pct ? (size_t)(pct - t) : strlen(t);
            put(out, outlen, &o, t, n);
            if (!pct)
                break;
            const char *a = next < REPLY_ARGS_MAX ? args[next] : NULL;
            next++;
            if (a)
                put(out, outlen, &o, a, strlen(a));
            t = pct + 2;
        }
    }
    out[o] = '\0';
    return o;
}

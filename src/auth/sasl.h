/* sasl — the server side of the SASL mechanisms PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login) as SMTP AUTH (RFC 4954) carries them.
 *
 * Pure: the session feeds it the AUTH argument and then each client line of
 * the exchange, and gets back what to answer: a challenge to send after
 * "334 ", the credentials to verify (auth_verify_start), or an error whose
 * SMTP reply is sasl_reply(status). It never sees a socket or a backend.
 *
 *   struct sasl_exchange x;
 *   st = sasl_start(&x, arg, arglen, mechs);     // "AUTH PLAIN dGVzdA=="
 *   while (st == SASL_CONTINUE) {
 *       reply "334 " x.challenge; read a line;
 *       st = sasl_step(&x, line, linelen);
 *   }
 *   if (st == SASL_DONE) verify x.authcid / x.passwd, then sasl_wipe(&x);
 *   else reply sasl_reply(st)                     // the exchange is wiped
 *
 * Limits: authzid, authcid and password at most 255 bytes each (RFC 4616;
 * saslauthd takes no more), a response line at most SASL_LINE_MAX base64
 * characters. Names are UTF-8 without control bytes; a password is any
 * bytes but NUL. A PLAIN authzid must be empty or equal to the authcid
 * (acting for another user is refused, as Postfix with Cyrus and Dovecot
 * do by default). */
#ifndef POSTERN_AUTH_SASL_H
#define POSTERN_AUTH_SASL_H

#include <stddef.h>

#define SASL_NAME_MAX 255
#define SASL_PASS_MAX 255
/* base64 characters of one response line: enough for a PLAIN message with
 * three fields of 255 bytes. */
#define SASL_LINE_MAX 1024

enum sasl_mech { SASL_MECH_PLAIN = 1u, SASL_MECH_LOGIN = 2u };
#define SASL_MECHS_ALL (SASL_MECH_PLAIN | SASL_MECH_LOGIN)

enum sasl_status {
    SASL_CONTINUE,          /* reply "334 " + x.challenge; the next line goes to sasl_step */
    SASL_DONE,              /* x.authcid and x.passwd are ready */
    SASL_ABORTED,           /* the client sent "*" */
    SASL_ERR_SYNTAX,        /* AUTH without a mechanism, or with more than one argument */
    SASL_ERR_MECH,          /* a mechanism we do not offer */
    SASL_ERR_BASE64,        /* a response that is not base64 */
    SASL_ERR_TOOLONG,       /* a response line over SASL_LINE_MAX */
    SASL_ERR_MALFORMED,     /* PLAIN without its two NULs, an empty name or password,
                             * a control byte in a name, a NUL in a password */
    SASL_ERR_FIELD_TOOLONG, /* a name or password over 255 bytes */
    SASL_ERR_AUTHZID,       /* PLAIN authzid other than the authcid */
};

struct sasl_exchange {
    enum sasl_mech mech;
    int step;                           /* private */
    const char *challenge;              /* base64, for "334 " on SASL_CONTINUE */
    char authzid[SASL_NAME_MAX + 1];    /* PLAIN only; "" or == authcid */
    char authcid[SASL_NAME_MAX + 1];
    char passwd[SASL_PASS_MAX + 1];
};

/* Begin an exchange from the AUTH command's argument (len bytes: the
 * mechanism name, in any case, and an optional initial response, "="
 * meaning an empty one). mechs: the mechanisms on offer (SASL_MECH_*).
 * Returns SASL_CONTINUE, SASL_DONE or an error. */
enum sasl_status sasl_start(struct sasl_exchange *x, const char *arg, size_t len,
                            unsigned mechs);

/* The client's next line (len bytes, line end removed) after
 * SASL_CONTINUE. Called in any other state it returns SASL_ERR_MALFORMED. */
enum sasl_status sasl_step(struct sasl_exchange *x, const char *line, size_t len);

/* Wipe the credentials (call once they have been handed on). Every error
 * status has already done it. */
void sasl_wipe(struct sasl_exchange *x);

/* The SMTP reply for an error status (RFC 4954 codes, Postfix's words),
 * NULL for SASL_CONTINUE and SASL_DONE. */
const char *sasl_reply(enum sasl_status st);

/* "PLAIN", "LOGIN". */
const char *sasl_mech_name(enum sasl_mech m);

/* The mechanisms of mask mechs for the EHLO AUTH keyword: "PLAIN LOGIN".
 * Returns out ("" for none). */
char *sasl_mech_list(unsigned mechs, char *out, size_t outlen);

/* Which mechanisms smtpd_sasl_security_options (n option words) leave.
 * PLAIN and LOGIN send the password itself, so noplaintext removes them,
 * and so do noactive, nodictionary and mutual_auth (neither resists those
 * attacks; Cyrus SASL, Postfix's default, decides the same); noanonymous
 * removes nothing (there is no ANONYMOUS). 0: AUTH is not offered. */
unsigned sasl_mechs_allowed(char *const *options, size_t n);

#endif

/* dovecot — the client side of Dovecot's authentication protocol (auth
 * client socket, version 1.x), as Postfix's smtpd_sasl_type = dovecot
 * speaks it:
 *
 *   C: VERSION 1 2 / CPID <pid>
 *   S: VERSION 1 2 / MECH PLAIN plaintext / ... / SPID / CUID / COOKIE / DONE
 *   C: AUTH <id> PLAIN service=smtp nologin lip=.. rip=.. [secured] resp=<base64>
 *   S: OK <id> user=..  |  FAIL <id> [reason=..] [temp] ..  |  CONT <id> <base64>
 *
 * (fields separated by TAB, lines by LF). postern runs the SASL exchange
 * itself, so it always asks Dovecot with PLAIN and the whole response.
 *
 * The codec is pure; dovecot_verify does the blocking round trip for a
 * worker thread. */
#ifndef POSTERN_AUTH_DOVECOT_H
#define POSTERN_AUTH_DOVECOT_H

#include <stddef.h>

#include "auth.h"

struct dovecot_handshake {
    int version_ok;     /* VERSION 1.x seen */
    int plain;          /* MECH PLAIN offered */
    int done;           /* DONE seen */
};

/* Take one server handshake line. 1 when it was DONE, 0 for more, -1 for a
 * major version other than 1 (why says so). */
int dovecot_handshake_line(struct dovecot_handshake *h, const char *line, char *why,
                           size_t whylen);

/* The AUTH line (LF included) for request id: PLAIN with resp the base64 of
 * "\0user\0pass". lip and rip are left out when NULL or not plain address
 * text. Its length, or 0 when out is too small or a value would break the
 * line (TAB or LF in user or pass cannot: they are base64). */
size_t dovecot_auth_line(char *out, size_t outlen, unsigned id, const char *user,
                         const char *pass, const char *lip, const char *rip, int secured);

enum dovecot_reply_type { DOVECOT_OTHER, DOVECOT_OK, DOVECOT_FAIL, DOVECOT_CONT };

struct dovecot_reply {
    enum dovecot_reply_type type;
    int temp;                       /* FAIL ... temp: the backend failed, not the user */
    char user[AUTH_NAME_MAX + 1];   /* user= (empty when absent or unusable) */
    char reason[256];               /* reason= (as sent; sanitise before logging) */
};

/* Parse a reply line about request id. DOVECOT_OTHER for lines about other
 * requests or of other kinds (to be skipped). */
enum dovecot_reply_type dovecot_parse_reply(const char *line, unsigned id,
                                            struct dovecot_reply *r);

/* One check against the auth socket at path (blocking, at most timeout_ms);
 * run_as as for saslauthd_verify. */
void dovecot_verify(const char *path, const char *user, const char *pass,
                    const struct auth_peer *peer, const char *run_as, int timeout_ms, struct auth_verdict *v);

#endif

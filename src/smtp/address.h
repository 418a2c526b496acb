/* address — pure parser for RFC 5321 mailbox paths (MAIL FROM / RCPT TO).
 * No I/O, no allocation beyond the caller's struct: fuzzable alone. */
#ifndef POSTERN_SMTP_ADDRESS_H
#define POSTERN_SMTP_ADDRESS_H

#include <stddef.h>

#define ADDR_LOCAL_MAX   64     /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX  255    /* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX    256    /* RFC 5321 4.5.3.1.3, including < > */

enum addr_status {
    ADDR_OK = 0,
    ADDR_ERR_SYNTAX,        /* malformed path or mailbox */
    ADDR_ERR_TOO_LONG,      /* local part, domain or path over its limit */
    ADDR_ERR_UTF8,          /* non-ASCII without SMTPUTF8, or invalid UTF-8 */
    ADDR_ERR_NULL,          /* "<>" where a null path is not allowed (RCPT) */
};

struct address {
    int is_null;                          /* "<>" */
    char local[ADDR_LOCAL_MAX * 4 + 1];   /* as given; quoted form kept quoted */
    char domain[ADDR_DOMAIN_MAX + 1];     /* as given; literal kept with [] */
    int domain_is_literal;                /* [1.2.3.4] or [IPv6:...] */
    int has_utf8;                         /* needs SMTPUTF8 */
    char full[ADDR_PATH_MAX * 4 + 1];     /* "local@domain" or "" for null */
};

/* Flags for address_parse */
#define ADDR_ALLOW_NULL     0x1   /* accept "<>" (MAIL FROM) */
#define ADDR_ALLOW_UTF8     0x2   /* SMTPUTF8 was given on MAIL FROM */
#define ADDR_ALLOW_NOBRACKET 0x4  /* tolerate a path without < > (Postfix does) */

/* Parse a path such as "<@a.example,@b.example:user@c.example>" starting at
 * s (len bytes, not necessarily NUL-terminated). Source routes are accepted
 * and dropped. On success sets *consumed to the bytes used (the rest is
 * ESMTP parameters) and fills *out. */
enum addr_status address_parse(const char *s, size_t len, int flags,
                               struct address *out, size_t *consumed);

/* Short human text for a status, e.g. "Bad address syntax". */
const char *address_strerror(enum addr_status st);

#endif

/* trace — the Received: header the server prepends to every message, and
 * the safe form of the client's HELO name that it, the queue file and the
 * log lines carry. Pure: no I/O, no allocation. */
#ifndef POSTERN_SMTP_TRACE_H
#define POSTERN_SMTP_TRACE_H

#include <stddef.h>

/* The HELO/EHLO argument as Postfix's smtpd keeps it (printable() then
 * neuter()): every byte outside printable ASCII, the space and each of
 * <>()\";@ becomes '?'. A valid hostname or address literal is unchanged;
 * anything else can break neither the Received: header (comments, quoting,
 * folding, 8-bit or control bytes) nor a log field. Returns out. */
char *trace_helo_name(const char *helo, size_t len, char *out, size_t outlen);

struct trace_received {
    const char *helo;           /* trace_helo_name form; "" = none given */
    const char *client_name;    /* "unknown" without reverse DNS */
    const char *client_addr;
    const char *myhostname;
    const char *protocol;       /* "ESMTP", "SMTP", "UTF8SMTP" */
    const char *qid;
    const char *for_rcpt;       /* the only recipient, or NULL */
    const char *date;           /* RFC 5322 date-time */
    long local_uid;             /* >= 0: local submission, pickup's form */
    const char *tls_protocol;   /* "TLSv1.3"; NULL: not TLS */
    const char *tls_cipher;     /* "TLS_AES_256_GCM_SHA384" */
    int tls_bits, tls_alg_bits; /* 256/256 */
    const char *auth_user;      /* "(Authenticated sender: name)", or NULL
                                 * (smtpd_sasl_authenticated_header) */
};

/* The header with CRLF line ends, into out. A TLS session adds Postfix's
 * "(using TLSv1.3 with cipher C (256/256 bits))" and "(No client
 * certificate requested)" lines before "by". Returns its length, or 0 when
 * it does not fit: no trace header rather than a torn one. */
size_t trace_format_received(const struct trace_received *t, char *out, size_t outlen);

#endif

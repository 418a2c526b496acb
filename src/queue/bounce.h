/* bounce — delivery status notifications (RFC 3464), as pure functions.
 *
 * A bounce is a multipart/report; report-type=delivery-status message:
 *   1. text/plain: a human explanation (Postfix's "This is the mail system
 *      at host ..." wording), one paragraph per failed recipient with the
 *      remote server's reply;
 *   2. message/delivery-status: per-message fields (Reporting-MTA,
 *      X-Postfix-Queue-ID style X-Postern-Queue-ID, Arrival-Date) and per
 *      recipient fields (Final-Recipient, Action: failed|delayed, Status,
 *      Remote-MTA, Diagnostic-Code: smtp; <reply>, Last-Attempt-Date);
 *   3. text/rfc822-headers: the original headers (message/rfc822 with the
 *      whole message when it fits in bounce_size_limit).
 * Sent From: MAILER-DAEMON@myhostname with the null envelope sender. */
#ifndef POSTERN_QUEUE_BOUNCE_H
#define POSTERN_QUEUE_BOUNCE_H

#include <stddef.h>

#include "envelope.h"

enum bounce_kind { BOUNCE_FAILED, BOUNCE_DELAYED };

struct bounce_params {
    const char *myhostname;
    long long now;                  /* unix time, for Date: and Last-Attempt */
    long long size_limit;           /* bounce_size_limit */
    enum bounce_kind kind;
    const unsigned char *include;   /* include[i]: report recipient i */
    const char *remote_mta;         /* may be NULL */
    const char *boundary_seed;      /* unique text for the MIME boundary */
    long long lifetime;             /* maximal_queue_lifetime in seconds, for
                                     * the BOUNCE_DELAYED wording and
                                     * Will-Retry-Until; 0: not stated */
};

/* Compose the DSN for env (whose rcpt[i].state/dsn/reason describe each
 * recipient) and the original content (CRLF). Returns malloc'd CRLF text
 * (headers + body, ready to be queued, NUL-terminated) and its length, or
 * NULL with errno ENOMEM, or EINVAL for bad arguments or when no recipient
 * is included. include == NULL includes the recipients whose state matches
 * the kind (RCPT_BOUNCED for BOUNCE_FAILED, RCPT_DEFERRED for
 * BOUNCE_DELAYED). Every line ends in CRLF and is shorter than 998 octets
 * (part 3, the original content, is passed through as is). Parts 1 and 3
 * may carry 8-bit text (Content-Transfer-Encoding: 8bit); part 2 is ASCII,
 * UTF-8 addresses in it use RFC 6533's utf-8-addr-xtext form. */
char *bounce_compose(const struct envelope *env, const char *content, size_t len,
                     const struct bounce_params *p, size_t *outlen);

#endif

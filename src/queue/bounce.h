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
};

/* Compose the DSN for env (whose rcpt[i].state/dsn/reason describe each
 * recipient) and the original content (CRLF). Returns malloc'd CRLF text
 * (headers + body, ready to be queued) and its length, or NULL on ENOMEM. */
char *bounce_compose(const struct envelope *env, const char *content, size_t len,
                     const struct bounce_params *p, size_t *outlen);

#endif

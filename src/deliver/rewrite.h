/* rewrite — sender canonicalisation (Postfix sender_canonical_maps), as
 * pure functions over the envelope sender and the message header.
 *
 * The upstream mailbox (163, QQ, Gmail...) rejects mail whose sender is not
 * its own account, so the envelope sender and the From:/Sender:/Return-Path:
 * header addresses are rewritten to it. When From: changes and the message
 * has no Reply-To:, the original From: is kept as Reply-To: (option
 * sender_rewrite_reply_to) so replies still reach the app's address.
 *
 * The _to variants rewrite every such address to one account, the upstream
 * account a message's SMTP AUTH login goes out through (the queue chooses
 * it: docs/delivery.md), with the same rules. */
#ifndef POSTERN_DELIVER_REWRITE_H
#define POSTERN_DELIVER_REWRITE_H

#include <stddef.h>

struct map;

/* New envelope sender (malloc'd), or NULL when the map has no entry or the
 * result equals the input. The null sender "" is never rewritten. */
char *rewrite_envelope_sender(const struct map *m, const char *sender);

/* Rewrite the addresses in the From:, Sender:, Return-Path:, Resent-From:
 * and Resent-Sender: fields of the header section of content (len bytes,
 * CRLF lines), keeping display names, comments and folding. add_reply_to:
 * see above. Returns 1 and a malloc'd new message in out and outlen when
 * something changed, 0 when nothing did (out untouched), -1 on ENOMEM. */
int rewrite_header_senders(const struct map *m, int add_reply_to,
                           const char *content, size_t len,
                           char **out, size_t *outlen);

/* As above, to account instead of by a map: NULL / 0 when account is NULL
 * or could break a header or command, or nothing changes. */
char *rewrite_envelope_sender_to(const char *account, const char *sender);
int rewrite_header_senders_to(const char *account, int add_reply_to,
                              const char *content, size_t len,
                              char **out, size_t *outlen);

#endif

/* capture — the `capture` transport: one Maildir per recipient.
 *
 * capture_directory/<mailbox>/{tmp,new,cur}; <mailbox> is the recipient
 * address with the domain lower-cased and every byte outside
 * [A-Za-z0-9._+=@-] (and a leading '.') written as %XX, so an address can
 * never name a path outside capture_directory.
 * Each copy is written to tmp/, fsynced, renamed to new/ and new/ fsynced.
 * The file name is deterministic per (qid, recipient index):
 *   <arrival-sec>.<qid>_<index>.<hostname>
 * so a retry after a crash overwrites the same file: exactly once in new/. */
#ifndef POSTERN_DELIVER_CAPTURE_H
#define POSTERN_DELIVER_CAPTURE_H

#include <stddef.h>
#include "../queue/envelope.h"

/* Write env->rcpt[index]'s copy. content is the queue content (CRLF line
 * ends); the Maildir copy gets LF line ends, preceded by
 *   Return-Path: <sender>\n
 *   Delivered-To: <rcpt>\n
 * Returns 0, or -1 with a reason (always a temporary failure: disk). */
int capture_deliver(const char *capture_dir, const char *hostname,
                    const struct envelope *env, size_t index,
                    const char *content, size_t len,
                    char *reason, size_t reasonlen);

/* Write the mailbox directory name for addr into out; -1 if it won't fit. */
int capture_mailbox_name(const char *addr, char *out, size_t outlen);

#endif

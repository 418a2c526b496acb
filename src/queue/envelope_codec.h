/* envelope_codec — the spool's text encoding of a message's envelope and
 * of its delivery state, as pure functions (no I/O; the decoders take
 * arbitrary bytes and are fuzz targets). Only the spool uses it (and its
 * tests and fuzzer); everything else sees struct envelope (envelope.h).
 * Full rules: docs/queue.md.
 *
 * A queue file is immutable once committed:
 *   POSTERN-QUEUE 1\n
 *   <key> <value>\n ...         envelope lines (see docs/queue.md);
 *                               x-sasl_username <login>\n only with AUTH
 *   content\n                   the message content follows
 *   <N bytes: Received: + message, CRLF line ends, dot-unstuffed>
 *   END <N>\n                   end marker with the content length:
 *                               a torn file lacks it or disagrees
 * The delivery state is a second file, replaced as a whole:
 *   POSTERN-STATE 1\n
 *   attempts <n>\n
 *   next <unix-seconds>\n
 *   warned 1\n                 (only once a delay warning was sent)
 *   x-notice <qid>\n           (a bounce or delay warning decided by the
 *                               attempt that wrote this state: see
 *                               spool_notice_stage; x-: older versions
 *                               skip it)
 *   rcpt <index> <pending|sent|deferred|bounced> <dsn> <reason...>\n
 *   END\n
 */
#ifndef POSTERN_QUEUE_ENVELOPE_CODEC_H
#define POSTERN_QUEUE_ENVELOPE_CODEC_H

#include <stddef.h>

#include "envelope.h"

/* Encode the header part of a queue file (everything up to and including the
 * "content\n" line) into a malloc'd buffer. Returns length, or 0 on error.
 * Values containing CR, LF or NUL are rejected (never written). The content
 * length is not needed yet: the session streams DATA straight after it. */
size_t envelope_encode_header(const struct envelope *env, char **out);

/* Write the trailer "END <content_len>\n" into out (size >= 32); returns
 * its length. */
size_t envelope_encode_trailer(size_t content_len, char *out, size_t outlen);

/* Decode a whole queue file held in memory (buf, len). Checks the version
 * line, the content length and the END marker. Returns 0 or -1 and a
 * message in err. On success env owns its strings (envelope_free), and the
 * content is the env->content_len bytes at buf + *content_offset. */
int envelope_decode(const char *buf, size_t len, struct envelope *env,
                    size_t *content_offset, char *err, size_t errlen);

/* Encode / decode the state file for env (attempts, next, per-rcpt state). */
size_t envelope_encode_state(const struct envelope *env, char **out);
int envelope_decode_state(const char *buf, size_t len, struct envelope *env,
                          char *err, size_t errlen);

/* 1 when the state file (buf, len) is complete (version line, END last)
 * and has the line "x-notice <qid>", else 0. Reads no other line, so it needs
 * no envelope (spool_scan asks it about a parent whose queue file it has
 * not read). */
int envelope_state_has_notice(const char *buf, size_t len, const char *qid);

#endif

/* envelope — the queue file format, as pure encode/decode functions.
 *
 * A queue file (queue_directory/queue/<qid>) is immutable once committed:
 *   POSTERN-QUEUE 1\n
 *   <key> <value>\n ...         envelope lines (see docs/queue.md)
 *   content\n                   the message content follows
 *   <N bytes: Received: + message, CRLF line ends, dot-unstuffed>
 *   END <N>\n                   end marker with the content length:
 *                               a torn file lacks it or disagrees
 * Per-recipient delivery state lives beside it in state/<qid>, rewritten
 * atomically (tmp + rename), format:
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
#ifndef POSTERN_QUEUE_ENVELOPE_H
#define POSTERN_QUEUE_ENVELOPE_H

#include <stddef.h>
#include "qid.h"

enum rcpt_state { RCPT_PENDING = 0, RCPT_SENT, RCPT_DEFERRED, RCPT_BOUNCED };

/* An attempt sends at most a bounce and a delay warning. */
#define ENV_NOTICES_MAX 2

struct env_rcpt {
    char *addr;            /* "user@example.com" (no brackets) */
    enum rcpt_state state;
    char dsn[16];          /* "2.0.0", "4.4.1", ... empty when pending */
    char *reason;          /* last result text, NULL when none */
};

struct envelope {
    char qid[QID_LEN + 1];
    long long arrival_sec;     /* unix time */
    long arrival_usec;
    char *sender;              /* "" for the null sender */
    char *client_addr;         /* "127.0.0.1" or "::1" */
    char *client_name;         /* reverse name or "unknown" */
    char *helo;                /* HELO/EHLO argument, may be "" */
    char *protocol;            /* "SMTP", "ESMTP", "ESMTPS", ... */
    int body_8bit;             /* BODY=8BITMIME */
    int smtputf8;              /* SMTPUTF8 */
    size_t nrcpt;
    struct env_rcpt *rcpt;
    /* delivery state (from state/<qid>) */
    int attempts;
    long long next_attempt;    /* unix seconds, 0 = now */
    int warned;                /* delay warning sent ("warned 1" line) */
    /* notices (DSN) this state decides to send: "x-notice <qid>" lines */
    char notice[ENV_NOTICES_MAX][QID_LEN + 1];
    size_t nnotice;
    /* content location inside the queue file, filled by the decoder */
    size_t content_offset;
    size_t content_len;
};

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
 * message in err. On success env owns its strings (envelope_free). */
int envelope_decode(const char *buf, size_t len, struct envelope *env,
                    char *err, size_t errlen);

/* Encode / decode the state file for env (attempts, next, per-rcpt state). */
size_t envelope_encode_state(const struct envelope *env, char **out);
int envelope_decode_state(const char *buf, size_t len, struct envelope *env,
                          char *err, size_t errlen);

/* 1 when the state file (buf, len) is complete (version line, END last)
 * and has the line "x-notice <qid>", else 0. Reads no other line, so it needs
 * no envelope (spool_scan asks it about a parent whose queue file it has
 * not read). */
int envelope_state_has_notice(const char *buf, size_t len, const char *qid);

void envelope_free(struct envelope *env);

const char *envelope_state_name(enum rcpt_state st);

#endif

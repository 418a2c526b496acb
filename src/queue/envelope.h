/* envelope — a message as the queue knows it: who sent it, from where, to
 * whom, and how far its delivery got (per recipient: pending, sent,
 * deferred, bounced, with the last dsn and reason). How it is stored is
 * the spool's business (spool.h; its text encoding: envelope_codec.h). */
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
    char *sasl_username;       /* the SMTP AUTH login the message was
                                * submitted with; NULL without AUTH (and in
                                * files written before it was recorded) */
    int body_8bit;             /* BODY=8BITMIME */
    int smtputf8;              /* SMTPUTF8 */
    size_t nrcpt;
    struct env_rcpt *rcpt;
    size_t content_len;        /* bytes of content (Received: + message) */
    /* delivery state: changes with every attempt (spool_state_write) */
    int attempts;
    long long next_attempt;    /* unix seconds, 0 = now */
    int warned;                /* a delay warning was sent */
    /* notices (DSN) this state decides to send: see spool_notice_stage */
    char notice[ENV_NOTICES_MAX][QID_LEN + 1];
    size_t nnotice;
};

void envelope_free(struct envelope *env);

const char *envelope_state_name(enum rcpt_state st);

#endif

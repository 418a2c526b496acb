/* smtp_content — what one transaction sends, decided once the server's
 * EHLO is known: the content as queued, or its 7-bit downgrade for a
 * server without 8BITMIME (RFC 6152 3, like Postfix); and, when
 * dkim_sign says so for this delivery and the From: domain has a key, the
 * DKIM-Signature fields that go before it.
 *
 * Signing signs what is sent: the content after sender rewriting (done by
 * the queue before the transport), after the downgrade, with the line
 * breaking of smtp_line_length_limit applied as the DATA writer applies
 * it (without the dot-stuffing, which the server undoes). The signature
 * must precede the header section, so the body is hashed before DATA:
 * one pass over the queued content (mapped from the queue file), no copy
 * of it. A large message is hashed in slices of SIGN_SLICE bytes, one per
 * event-loop pass (a zero timer), so other sessions keep going meanwhile;
 * the session waits in ST_SIGN. Each variant is signed once per attempt
 * and kept for the attempt's other sessions (next MX host, fallback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "mime7bit.h"
#include "smtp_internal.h"
#include "transport.h"
#include "../dkim/dkim.h"
#include "../util/errbuf.h"
#include "../util/log.h"

#define SIGN_SLICE (1024 * 1024)        /* bytes hashed per event-loop pass */
#define SIGN_CHUNK (64 * 1024)          /* bytes line-broken at a time */

/* The content for this server: as queued, or (no 8BITMIME, 8-bit body
 * parts) downgraded to 7-bit like Postfix does (RFC 6152 3), once per
 * attempt. Returns 0, or -1 after recording the recipients' results
 * (binary content: 5.6.3 bounce; out of memory: deferred). */
static int choose_variant(struct smtp_session *s)
{
    struct smtp_attempt *att = s->att;
    const struct deliver_request *req = att->req;
    s->content = req->content;
    s->content_len = req->content_len;
    if (s->ext.flags & SMTP_EXT_8BITMIME)
        return 0;
    if (!att->conv_done) {
        int rc = mime_downgrade_7bit(req->content, req->content_len, &att->conv,
                                     &att->conv_len);
        if (rc == MIME7BIT_ENOMEM) {
            smtp_attempt_failure(att, "4.3.0", "cannot convert the message to 7-bit for "
                                 "host %s[%s], which does not support 8BITMIME: out of "
                                 "memory", s->host, s->addr);
            return -1;
        }
        att->conv_done = 1;
        att->conv_rc = rc;
        if (rc == MIME7BIT_CONVERTED)
            log_info("%s: 8-bit content converted to 7-bit for %s[%s]:%u (no 8BITMIME), "
                     "size %zu -> %zu", req->id, s->host, s->addr, s->port,
                     req->content_len, att->conv_len);
    }
    if (att->conv_rc == MIME7BIT_BINARY) {
        char reason[512];
        errbuf_set(reason, sizeof reason, "Conversion required and prohibited: message has "
                   "binary content and host %s[%s] does not support 8BITMIME", s->host,
                   s->addr);
        for (size_t k = 0; k < req->nrcpt; k++)
            if (!att->final[k])
                smtp_attempt_result(att, k, DELIVER_BOUNCED, "5.6.3", reason);
        return -1;
    }
    if (att->conv_rc == MIME7BIT_CONVERTED) {
        s->content = att->conv;
        s->content_len = att->conv_len;
    }
    return 0;
}


/* Does this delivery get signed (dkim_sign)? mx: only mail going
 * straight to the recipients' MX hosts, not through a relay (relayhost,
 * a transport's or the sender's next hop), which usually signs itself. */
static int sign_wanted(const struct smtp_attempt *att)
{
    const struct smtp_settings *set = att->set;
    if (!set->dkim || dkim_signer_nkeys(set->dkim) == 0)
        return 0;
    return set->dkim_mode == SMTP_DKIM_YES || (set->dkim_mode == SMTP_DKIM_MX && att->by_domain);
}

void smtp_content_free(struct smtp_session *s)
{
    dkim_sign_free(s->sign);
    s->sign = NULL;
    free(s->sign_buf);
    s->sign_buf = NULL;
    if (s->sign_ev)
        event_free(s->sign_ev);
    s->sign_ev = NULL;
}

/* Hash up to max more bytes of s->content; 1 when nothing more is needed. */
static int sign_step(struct smtp_session *s, size_t max)
{
    size_t end = s->content_len - s->sign_pos > max ? s->sign_pos + max : s->content_len;
    while (s->sign_pos < end && dkim_sign_more(s->sign)) {
        size_t n = end - s->sign_pos > SIGN_CHUNK ? SIGN_CHUNK : end - s->sign_pos;
        const char *p = s->content + s->sign_pos;
        if (s->sign_buf) {
            size_t w = smtp_body_write(&s->sign_body, p, n, s->sign_buf);
            dkim_sign_feed(s->sign, s->sign_buf, w);
        } else {
            dkim_sign_feed(s->sign, p, n);
        }
        s->sign_pos += n;
    }
    return s->sign_pos == s->content_len || !dkim_sign_more(s->sign);
}

static void sign_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtp_session *s = arg;
    (void)fd;
    (void)what;
    if (!sign_step(s, SIGN_SLICE)) {
        struct timeval now = { 0, 0 };
        evtimer_add(s->sign_ev, &now);
        return;
    }
    smtp_session_resume(s);
}

static int sign_start(struct smtp_session *s, int v)
{
    s->sign = dkim_sign_new(s->set->dkim);
    s->sign_pos = 0;
    s->sign_v = v;
    smtp_body_init(&s->sign_body, s->set->line_limit);
    s->sign_body.nostuff = 1;
    if (s->set->line_limit && !(s->sign_buf = malloc(smtp_body_max(&s->sign_body, SIGN_CHUNK))))
        log_fatal("smtp: out of memory");
    if (!s->sign)
        log_fatal("smtp: out of memory");
    if (sign_step(s, SIGN_SLICE))
        return 0;
    if (!s->sign_ev && !(s->sign_ev = evtimer_new(s->c->base, sign_cb, s)))
        log_fatal("smtp: out of memory");
    struct timeval now = { 0, 0 };
    evtimer_add(s->sign_ev, &now);
    return 1;
}

static int sign_finish(struct smtp_session *s)
{
    struct smtp_attempt *att = s->att;
    int v = s->sign_v;
    char err[256], *out = NULL;
    size_t len = 0;
    int rc = dkim_sign_finish(s->sign, (long long)time(NULL), &out, &len, err, sizeof err);
    smtp_content_free(s);
    if (rc < 0) {
        smtp_attempt_failure(att, "4.3.0", "cannot DKIM-sign the message: %s", err);
        return -1;
    }
    att->dkim[v].done = 1;
    att->dkim[v].hdr = out;
    att->dkim[v].len = len;
    if (rc == 1) {
        /* OpenDKIM's words: which selectors and domain signed */
        char what[512] = "";
        size_t w = 0;
        for (const char *p = out; (p = strstr(p, "DKIM-Signature:")) != NULL; p++) {
            const char *sel = strstr(p, " s="), *dom = strstr(p, " d=");
            if (!sel || !dom)
                continue;
            int sl = (int)strcspn(sel + 3, ";"), dl = (int)strcspn(dom + 3, ";");
            int n = snprintf(what + w, sizeof what - w, "%ss=%.*s, d=%.*s", w ? "; " : "", sl,
                             sel + 3, dl, dom + 3);
            if (n < 0 || (size_t)n >= sizeof what - w)
                break;
            w += (size_t)n;
        }
        log_info("%s: DKIM-Signature field added (%s)", att->req->id, what);
    } else {
        log_info("%s: not DKIM-signed: %s", att->req->id, err);
    }
    return 0;
}

int smtp_content_choose(struct smtp_session *s)
{
    struct smtp_attempt *att = s->att;
    if (choose_variant(s) < 0) {
        smtp_content_free(s);
        return -1;
    }
    s->prefix = NULL;
    s->prefix_len = 0;
    if (!sign_wanted(att))
        return 0;
    int v = s->content != att->req->content;
    if (!att->dkim[v].done) {
        if (s->sign && s->sign_v != v) /* cannot happen: the variant is the attempt's */
            smtp_content_free(s);
        if (!s->sign && sign_start(s, v) > 0)
            return 1;
        if (sign_finish(s) < 0)
            return -1;
    }
    s->prefix = att->dkim[v].hdr;
    s->prefix_len = att->dkim[v].hdr ? att->dkim[v].len : 0;
    return 0;
}

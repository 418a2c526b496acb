#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "../config/runtime.h"
#include "../policy/policy.h"
#include "../queue/queue.h"
#include "../queue/spool.h"
#include "../util/log.h"
#include "command.h"
#include "server.h"
#include "trace.h"

/* Stop parsing pipelined commands while this much output is unread: a
 * client that never reads cannot make us buffer without bound. */
#define SESSION_OUTPUT_MAX (64 * 1024)
/* Input buffered while a command is being processed or the session waits. */
#define SESSION_INPUT_MAX (256 * 1024)
/* Grace for writing the last reply before the socket is closed anyway. */
#define SESSION_CLOSE_GRACE 5

static void session_process(struct session *s);
static void session_free(struct session *s);

static const struct config *cfg_of(const struct session *s)
{
    return s->rt->cfg;
}

/* ---------- replies ---------- */

static void reply_raw(struct session *s, const char *line)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add(out, line, strlen(line));
    evbuffer_add(out, "\r\n", 2);
    if (log_verbose()) {
        char clean[300];
        log_debug("%s: > %s", s->peer_label,
                  log_sanitize(line, strlen(line), clean, sizeof clean));
    }
}

static void reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    reply_raw(s, line);
}

static void timer_arm(struct session *s, long long secs)
{
    struct timeval tv = { (time_t)secs, 0 };
    evtimer_add(s->timer, &tv);
}

static void session_close(struct session *s)
{
    s->state = SS_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
    struct evbuffer *out = bufferevent_get_output(s->bev);
    /* never free here: callers still hold s; the timer or on_write will */
    timer_arm(s, evbuffer_get_length(out) == 0 ? 0 : SESSION_CLOSE_GRACE);
}

/* An error reply: counts towards the soft and hard limits (Postfix
 * smtpd_soft_error_limit / smtpd_hard_error_limit). */
static void reply_error(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply_error(struct session *s, const char *fmt, ...)
{
    const struct config *cfg = cfg_of(s);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->errors++;
    if (s->errors >= cfg->smtpd_hard_error_limit) {
        reply_raw(s, line);
        log_info("too many errors from %s (smtpd_hard_error_limit)", s->peer_label);
        reply(s, "421 4.7.0 %s Error: too many errors", cfg->myhostname);
        session_close(s);
        return;
    }
    if (s->errors > cfg->smtpd_soft_error_limit && cfg->smtpd_error_sleep_time > 0) {
        /* tarpit: hold the reply, read nothing meanwhile */
        free(s->pending_reply);
        s->pending_reply = strdup(line);
        s->state = SS_SLEEP;
        bufferevent_disable(s->bev, EV_READ);
        timer_arm(s, cfg->smtpd_error_sleep_time);
        return;
    }
    reply_raw(s, line);
}

/* ---------- transaction ---------- */

static void tx_reset(struct session *s)
{
    if (s->msg) {
        spool_msg_abort(s->msg);
        s->msg = NULL;
    }
    for (size_t i = 0; i < s->env.nrcpt; i++)
        free(s->env.rcpt[i].addr);
    free(s->env.rcpt);
    free(s->env.sender);
    s->env.rcpt = NULL;
    s->env.nrcpt = 0;
    s->env.sender = NULL;
    s->env.body_8bit = 0;
    s->env.smtputf8 = 0;
    s->rcpt_cap = 0;
    s->have_mail = 0;
    s->data_write_error = 0;
}

static const char *proto_name(const struct session *s)
{
    if (s->env.smtputf8)
        return "UTF8SMTP";
    return s->esmtp ? "ESMTP" : "SMTP";
}

static void rfc5322_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* replytext: our own reply, with any client text in it already made
 * log-safe; the fields are escaped here. */
static void log_reject(struct session *s, const char *stage, const char *replytext,
                       const char *to)
{
    char from_l[LOG_ADDR_SIZE], to_l[LOG_ADDR_SIZE], helo_l[LOG_ADDR_SIZE];
    log_info("NOQUEUE: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>",
             stage, s->peer_label, replytext, log_addr(s->env.sender, from_l, sizeof from_l),
             to ? " to=<" : "", to ? log_addr(to, to_l, sizeof to_l) : "", to ? ">" : "",
             proto_name(s), log_addr(s->helo, helo_l, sizeof helo_l));
}

/* ---------- commands ---------- */

static void cmd_ehlo(struct session *s, const struct smtp_command *c, int esmtp)
{
    const struct config *cfg = cfg_of(s);
    tx_reset(s);
    /* only the safe form is kept: it goes into Received:, the queue file
     * and the logs (-v shows the exact bytes of the command) */
    trace_helo_name(c->arg, strlen(c->arg), s->helo, sizeof s->helo);
    s->esmtp = esmtp;
    if (!esmtp) {
        reply(s, "250 %s", cfg->myhostname);
        return;
    }
    reply(s, "250-%s", cfg->myhostname);
    reply(s, "250-PIPELINING");
    if (cfg->message_size_limit > 0)
        reply(s, "250-SIZE %lld", cfg->message_size_limit);
    else
        reply(s, "250-SIZE");
    reply(s, "250-ENHANCEDSTATUSCODES");
    reply(s, "250-8BITMIME");
    reply(s, "250 SMTPUTF8");
}

static void cmd_mail(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = cfg_of(s);
    if (s->have_mail) {
        reply_error(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (c->size >= 0 && cfg->message_size_limit > 0 &&
        c->size > cfg->message_size_limit) {
        reply_error(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    s->env.sender = strdup(c->addr.is_null ? "" : c->addr.full);
    if (!s->env.sender) {
        reply(s, "451 4.3.0 Error: out of memory");
        return;
    }
    s->env.body_8bit = c->body == BODY_8BITMIME;
    s->env.smtputf8 = c->smtputf8;
    s->have_mail = 1;
    reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = cfg_of(s);
    if (!s->have_mail) {
        reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if ((long long)s->env.nrcpt >= cfg->smtpd_recipient_limit) {
        reply(s, "452 4.5.3 Too many recipients");
        return;
    }
    const struct policy_rcpt q = {
        .client_trusted = s->in_mynetworks,
        .allow_untrusted_routing = cfg->allow_untrusted_routing,
        .local = c->addr.local,
        .domain = c->addr.domain,
        .mydestination = cfg->mydestination.v,
        .ndest = cfg->mydestination.n,
    };
    if (policy_check_rcpt(&q) != POLICY_PERMIT) {
        char text[1200], addr_l[LOG_ADDR_SIZE];
        snprintf(text, sizeof text, "554 5.7.1 <%s>: Relay access denied",
                 log_addr(c->addr.full, addr_l, sizeof addr_l));
        log_reject(s, "RCPT", text, c->addr.full);
        reply_error(s, "554 5.7.1 <%s>: Relay access denied", c->addr.full);
        return;
    }
    if (s->env.nrcpt == s->rcpt_cap) {
        size_t nc = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
        struct env_rcpt *r = realloc(s->env.rcpt, nc * sizeof *r);
        if (!r) {
            reply(s, "451 4.3.0 Error: out of memory");
            return;
        }
        s->env.rcpt = r;
        s->rcpt_cap = nc;
    }
    struct env_rcpt *r = &s->env.rcpt[s->env.nrcpt];
    memset(r, 0, sizeof *r);
    if (c->addr.domain[0]) {
        r->addr = strdup(c->addr.full);
    } else {
        /* bare "postmaster": qualified now, or it would be routed by
         * default_transport (to the relayhost without a domain, or to an
         * MX lookup of nothing) instead of staying on this host */
        const char *d = policy_postmaster_domain(cfg->myorigin, cfg->myhostname,
                                                 cfg->mydestination.v,
                                                 cfg->mydestination.n);
        size_t n = sizeof "postmaster@" + strlen(d);
        if ((r->addr = malloc(n)) != NULL)
            snprintf(r->addr, n, "postmaster@%s", d);
    }
    if (!r->addr) {
        reply(s, "451 4.3.0 Error: out of memory");
        return;
    }
    s->env.nrcpt++;
    reply(s, "250 2.1.5 Ok");
}

static int msg_write(struct session *s, const char *p, size_t n)
{
    if (s->data_write_error)
        return -1;
    if (spool_msg_write(s->msg, p, n) < 0) {
        log_warning_errno("%s: queue file write error", spool_msg_qid(s->msg));
        s->data_write_error = 1;
        return -1;
    }
    return 0;
}

static void cmd_data(struct session *s)
{
    const struct config *cfg = cfg_of(s);
    char err[256];
    if (!s->have_mail) {
        reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->env.nrcpt == 0) {
        reply_error(s, "503 5.5.1 Error: need RCPT command");
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    s->env.arrival_sec = tv.tv_sec;
    s->env.arrival_usec = tv.tv_usec;
    s->env.client_addr = s->client_addr;
    s->env.client_name = s->client_name;
    s->env.helo = s->helo;
    s->env.protocol = (char *)proto_name(s);
    s->msg = queue_msg_create(server_queue(s->srv), &s->env, err, sizeof err);
    /* borrowed pointers: the envelope does not own them in a session */
    s->env.client_addr = s->env.client_name = s->env.helo = s->env.protocol = NULL;
    if (!s->msg) {
        log_warning("cannot create queue file: %s", err);
        reply(s, "451 4.3.0 Error: queue file write error");
        return;
    }
    /* the trace header, as Postfix writes it */
    char date[64], hdr[2048];
    rfc5322_date((time_t)tv.tv_sec, date, sizeof date);
    struct trace_received tr = {
        .helo = s->helo, .client_name = s->client_name, .client_addr = s->client_addr,
        .myhostname = cfg->myhostname, .protocol = proto_name(s), .qid = s->env.qid,
        .for_rcpt = s->env.nrcpt == 1 ? s->env.rcpt[0].addr : NULL, .date = date,
        .local_uid = s->local_uid,
    };
    size_t n = trace_format_received(&tr, hdr, sizeof hdr);
    data_scanner_init(&s->ds, cfg->message_size_limit, cfg->header_size_limit);
    s->data_write_error = 0;
    msg_write(s, hdr, n);
    s->state = SS_DATA;
    reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void data_emit(void *arg, enum data_emit kind, const char *p, size_t n)
{
    struct session *s = arg;
    if (kind == DATA_EMIT_BYTES) {
        msg_write(s, p, n);
        return;
    }
    /* end of the header section: add what Postfix's cleanup would */
    const struct config *cfg = cfg_of(s);
    if (!cfg->always_add_missing_headers)
        return;
    char buf[600];
    if (!s->ds.have_message_id) {
        struct tm tm;
        time_t t = (time_t)s->env.arrival_sec;
        gmtime_r(&t, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
        int len = snprintf(buf, sizeof buf, "Message-ID: <%s.%s@%s>\r\n", stamp,
                           s->env.qid, cfg->myhostname);
        if (len > 0 && (size_t)len < sizeof buf)
            msg_write(s, buf, (size_t)len);
    }
    if (!s->ds.have_date) {
        char date[64];
        rfc5322_date((time_t)s->env.arrival_sec, date, sizeof date);
        int len = snprintf(buf, sizeof buf, "Date: %s\r\n", date);
        if (len > 0 && (size_t)len < sizeof buf)
            msg_write(s, buf, (size_t)len);
    }
}

static void data_finish(struct session *s)
{
    const char *qid = spool_msg_qid(s->msg);
    switch (s->ds.error) {
    case DATA_ERR_SIZE:
        log_reject(s, "END-OF-MESSAGE", "552 5.3.4 Message size exceeds fixed limit", NULL);
        tx_reset(s);
        s->state = SS_CMD;
        reply_error(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    case DATA_ERR_HEADER_SIZE:
        tx_reset(s);
        s->state = SS_CMD;
        reply_error(s, "552 5.3.4 Message header size exceeds fixed limit");
        return;
    case DATA_ERR_BARE_CR:
        log_reject(s, "END-OF-MESSAGE", "550 5.6.0 bare <CR> in message content", NULL);
        tx_reset(s);
        s->state = SS_CMD;
        reply_error(s, "550 5.6.0 Message content rejected: bare <CR> not allowed "
                       "(RFC 5321 section 2.3.8)");
        return;
    case DATA_OK:
        break;
    }
    if (s->ds.received > cfg_of(s)->hopcount_limit) {
        /* a relay pointing back at itself, or a loop between relays */
        log_reject(s, "END-OF-MESSAGE", "554 5.4.6 Too many hops", NULL);
        tx_reset(s);
        s->state = SS_CMD;
        reply_error(s, "554 5.4.6 Too many hops");
        return;
    }
    if (s->data_write_error || spool_msg_finish(s->msg) < 0) {
        log_warning("%s: queue file write error; message not accepted", qid);
        tx_reset(s);
        s->state = SS_CMD;
        reply(s, "451 4.3.0 Error: queue file write error");
        return;
    }
    /* hand over to the group commit; the 250 waits for the fsync */
    struct spool_msg *m = s->msg;
    s->msg = NULL;
    s->state = SS_COMMIT;
    evtimer_del(s->timer);
    server_commit_request(s->srv, s, m);
}

void session_commit_done(struct session *s, int ok)
{
    const struct config *cfg = cfg_of(s);
    if (ok) {
        log_info("%s: client=%s", s->env.qid, s->peer_label);
        char from_l[LOG_ADDR_SIZE];
        log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", s->env.qid,
                 log_addr(s->env.sender, from_l, sizeof from_l), s->ds.size, s->env.nrcpt);
        reply(s, "250 2.0.0 Ok: queued as %s", s->env.qid);
        s->errors = 0;
        s->nmsgs++;
    } else {
        reply(s, "451 4.3.0 Error: queue file write error");
    }
    tx_reset(s);
    if (s->lost) {
        s->state = SS_CLOSING;
        session_free(s);
        return;
    }
    s->state = SS_CMD;
    timer_arm(s, cfg->smtpd_timeout);
    session_process(s);
}

static void cmd_syntax(struct session *s, const struct smtp_command *c,
                       enum cmd_status st)
{
    switch (c->verb) {
    case CMD_HELO: reply_error(s, "501 5.5.4 Syntax: HELO hostname"); break;
    case CMD_EHLO: reply_error(s, "501 5.5.4 Syntax: EHLO hostname"); break;
    case CMD_MAIL:
        if (st == CMD_ERR_ADDRESS)
            reply_error(s, "501 5.1.7 Bad sender address syntax");
        else if (st == CMD_ERR_PARAM)
            reply_error(s, "555 5.5.4 Unsupported option in MAIL command");
        else
            reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        break;
    case CMD_RCPT:
        if (st == CMD_ERR_ADDRESS)
            reply_error(s, "501 5.1.3 Bad recipient address syntax");
        else if (st == CMD_ERR_PARAM)
            reply_error(s, "555 5.5.4 Unsupported option in RCPT command");
        else
            reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        break;
    case CMD_VRFY: reply_error(s, "501 5.5.4 Syntax: VRFY address"); break;
    case CMD_EXPN: reply_error(s, "501 5.5.4 Syntax: EXPN address"); break;
    default:
        reply_error(s, "501 5.5.4 Syntax error in parameters or arguments");
        break;
    }
}

/* Postfix's smtpd_forbidden_commands: HTTP spoken to an SMTP port is a
 * cross-protocol attack, not a confused client. */
static int forbidden_command(const char *line, size_t len)
{
    static const char *const bad[] = { "GET ", "POST ", "CONNECT ", "PUT ", "HEAD " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        if (len >= n && strncmp(line, bad[i], n) == 0)
            return 1;
    }
    return 0;
}

static void session_command(struct session *s, const char *line, size_t len)
{
    const struct config *cfg = cfg_of(s);
    struct smtp_command c;
    if (log_verbose()) {
        char clean[300];
        /* a client's credentials never reach the log, not even with -v:
         * neither AUTH lines nor the SASL responses that may follow */
        enum trace_redact r = command_trace_redact(line, len, &s->trace_after_auth);
        if (r == TRACE_AUTH)
            log_debug("%s: < AUTH <redacted>", s->peer_label);
        else if (r == TRACE_SECRET)
            log_debug("%s: < <redacted>", s->peer_label);
        else
            log_debug("%s: < %s", s->peer_label,
                      log_sanitize(line, len, clean, sizeof clean));
    }
    if (forbidden_command(line, len)) {
        log_warning("non-SMTP command from %s", s->peer_label);
        reply(s, "221 2.7.0 Error: I can break rules, too. Goodbye.");
        session_close(s);
        return;
    }
    enum cmd_status st = command_parse(line, len, s->env.smtputf8, &c);
    if (st == CMD_ERR_UNKNOWN || st == CMD_ERR_NUL) {
        reply_error(s, "500 5.5.2 Error: command not recognized");
        return;
    }
    if (st != CMD_OK) {
        cmd_syntax(s, &c, st);
        return;
    }
    switch (c.verb) {
    case CMD_HELO: cmd_ehlo(s, &c, 0); break;
    case CMD_EHLO: cmd_ehlo(s, &c, 1); break;
    case CMD_MAIL: cmd_mail(s, &c); break;
    case CMD_RCPT: cmd_rcpt(s, &c); break;
    case CMD_DATA: cmd_data(s); break;
    case CMD_RSET:
        tx_reset(s);
        reply(s, "250 2.0.0 Ok");
        break;
    case CMD_NOOP: reply(s, "250 2.0.0 Ok"); break;
    case CMD_QUIT:
        reply(s, "221 2.0.0 Bye");
        session_close(s);
        break;
    case CMD_HELP:
        reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY");
        break;
    case CMD_VRFY:
        reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
        break;
    case CMD_EXPN: reply_error(s, "502 5.5.1 EXPN command is disabled"); break;
    case CMD_STARTTLS: reply_error(s, "502 5.5.1 Error: command not implemented"); break;
    case CMD_AUTH: reply_error(s, "503 5.5.1 Error: authentication not enabled"); break;
    case CMD_BDAT: reply_error(s, "502 5.5.1 Error: command not implemented"); break;
    default:
        reply_error(s, "500 5.5.2 Error: command not recognized");
        break;
    }
    (void)cfg;
}

/* ---------- input loop ---------- */

static void process_data(struct session *s, struct evbuffer *in)
{
    const struct config *cfg = cfg_of(s);
    while (s->state == SS_DATA && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t used = data_scan(&s->ds, v.iov_base, v.iov_len, data_emit, s);
        /* the deadline is per line, so a trickling client runs out of time */
        if (memchr(v.iov_base, '\n', used))
            timer_arm(s, cfg->smtpd_timeout);
        evbuffer_drain(in, used);
        if (s->ds.done)
            data_finish(s);
    }
}

static void process_command_line(struct session *s, struct evbuffer *in, int *more)
{
    const struct config *cfg = cfg_of(s);
    size_t limit = (size_t)cfg->line_length_limit;
    struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
    *more = 0;
    if (p.pos < 0) {
        size_t have = evbuffer_get_length(in);
        if (have > limit) {
            /* keep nothing of an over-long line; answer when it ends */
            evbuffer_drain(in, have);
            s->discard_line = 1;
        }
        return;
    }
    size_t n = (size_t)p.pos + 1;
    if (s->discard_line || n > limit + 2) {
        evbuffer_drain(in, n);
        s->discard_line = 0;
        timer_arm(s, cfg->smtpd_timeout);
        reply_error(s, "500 5.5.2 Error: line too long");
        *more = 1;
        return;
    }
    char stackbuf[4096];
    char *line = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!line) {
        reply(s, "421 4.3.0 %s Error: out of memory", cfg->myhostname);
        session_close(s);
        return;
    }
    evbuffer_remove(in, line, n);
    size_t len = n - 1;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    timer_arm(s, cfg->smtpd_timeout);
    session_command(s, line, len);
    if (line != stackbuf)
        free(line);
    *more = 1;
}

static void session_process(struct session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer *out = bufferevent_get_output(s->bev);
    for (;;) {
        if (s->state == SS_DATA) {
            process_data(s, in);
            if (s->state == SS_DATA)
                break;
            continue;
        }
        if (s->state != SS_CMD)
            break;
        if (s->shutdown_requested) {
            reply(s, "421 4.3.2 %s Service shutting down", cfg_of(s)->myhostname);
            session_close(s);
            return;
        }
        if (evbuffer_get_length(out) > SESSION_OUTPUT_MAX) {
            s->output_blocked = 1;
            bufferevent_disable(s->bev, EV_READ);
            break;
        }
        int more;
        process_command_line(s, in, &more);
        if (!more)
            break;
    }
}

/* ---------- libevent callbacks ---------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    (void)bev;
    session_process(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    (void)bev;
    if (s->state == SS_CLOSING) {
        session_free(s);
        return;
    }
    if (s->output_blocked) {
        s->output_blocked = 0;
        bufferevent_enable(s->bev, EV_READ);
        session_process(s);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (s->state == SS_DATA)
            log_info("lost connection after DATA from %s", s->peer_label);
        if (s->state == SS_COMMIT) {
            /* the message will still be committed and delivered; there is
             * just nobody left to tell */
            bufferevent_disable(s->bev, EV_READ | EV_WRITE);
            s->lost = 1;
            return;
        }
        session_free(s);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    (void)fd;
    (void)what;
    switch (s->state) {
    case SS_SLEEP: {
        char *line = s->pending_reply;
        s->pending_reply = NULL;
        s->state = SS_CMD;
        bufferevent_enable(s->bev, EV_READ);
        if (line)
            reply_raw(s, line);
        free(line);
        timer_arm(s, cfg_of(s)->smtpd_timeout);
        session_process(s);
        return;
    }
    case SS_CLOSING:
        session_free(s);
        return;
    case SS_COMMIT:
        return;
    case SS_CMD:
    case SS_DATA:
        log_info("timeout after %s from %s", s->state == SS_DATA ? "DATA" : "command",
                 s->peer_label);
        reply(s, "421 4.4.2 %s Error: timeout exceeded", cfg_of(s)->myhostname);
        session_close(s);
        return;
    }
}

/* ---------- life cycle ---------- */

struct session *session_new(struct server *srv, int fd, const struct sockaddr *sa,
                            socklen_t salen, const char *reject)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->srv = srv;
    s->rt = server_config_ref(srv);
    if ((size_t)salen > sizeof s->peer)
        salen = sizeof s->peer;
    memcpy(&s->peer, sa, (size_t)salen);
    s->local_uid = -1;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  s->client_addr, sizeof s->client_addr);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  s->client_addr, sizeof s->client_addr);
    else
        snprintf(s->client_addr, sizeof s->client_addr, "unknown");
    /* reverse DNS comes with the c-ares resolver; until then, like Postfix
     * with smtpd_peername_lookup = no */
    snprintf(s->client_name, sizeof s->client_name, "unknown");
    s->in_mynetworks = policy_netlist_match(s->rt->mynetworks, sa);
    if (sa->sa_family == AF_UNIX) {
        /* the local submission socket (`postern sendmail`): trusted like
         * mynetworks; the kernel tells who the peer is */
        struct ucred cred;
        socklen_t clen = sizeof cred;
        s->local_uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0
                           ? (long)cred.uid : 65534L;
        snprintf(s->client_addr, sizeof s->client_addr, "local");
        snprintf(s->client_name, sizeof s->client_name, "localhost");
        snprintf(s->peer_label, sizeof s->peer_label, "local[uid=%ld]", s->local_uid);
        s->in_mynetworks = 1;
    } else {
        snprintf(s->peer_label, sizeof s->peer_label, "%s[%s]", s->client_name,
                 s->client_addr);
    }
    s->bev = bufferevent_socket_new(server_base(srv), fd, BEV_OPT_CLOSE_ON_FREE);
    s->timer = evtimer_new(server_base(srv), on_timer, s);
    if (!s->bev || !s->timer) {
        if (s->bev)
            bufferevent_free(s->bev);
        else
            evutil_closesocket(fd);
        if (s->timer)
            event_free(s->timer);
        server_config_unref(srv, s->rt);
        free(s);
        return NULL;
    }
    bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_INPUT_MAX);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->state = SS_CMD;
    log_info("connect from %s", s->peer_label);
    if (reject) {
        reply_raw(s, reject);
        session_close(s);
        return s;
    }
    reply(s, "220 %s", cfg_of(s)->smtpd_banner);
    timer_arm(s, cfg_of(s)->smtpd_timeout);
    return s;
}

void session_shutdown(struct session *s)
{
    s->shutdown_requested = 1;
    if (s->state == SS_CMD) {
        reply(s, "421 4.3.2 %s Service shutting down", cfg_of(s)->myhostname);
        session_close(s);
    }
}

void session_destroy(struct session *s)
{
    session_free(s);
}

static void session_free(struct session *s)
{
    if (s->state == SS_COMMIT)
        server_commit_forget(s->srv, s);
    log_info("disconnect from %s", s->peer_label);
    tx_reset(s);
    free(s->pending_reply);
    event_free(s->timer);
    bufferevent_free(s->bev);
    server_config_unref(s->srv, s->rt);
    server_session_gone(s->srv, s);
    free(s);
}

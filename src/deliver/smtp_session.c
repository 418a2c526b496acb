/* smtp_session — one outbound SMTP connection: connect, (implicit) TLS,
 * greeting, EHLO/HELO, STARTTLS, AUTH, then transactions (MAIL, RCPT...,
 * DATA, content, final dot), RSET and an idle wait in the connection
 * cache, QUIT. Event-driven: every wait has its own timeout (smtp_*_timeout)
 * and nothing blocks.
 *
 * Results go to the attempt (smtp.c): failures before MAIL try the next
 * address, failures after it defer what is left; a cached connection that
 * turns out dead before the first reply starts over on a fresh one. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "smtp_internal.h"
#include "transport.h"
#include "../util/base64.h"
#include "../util/clock.h"
#include "../util/errbuf.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/utf8.h"

enum {
    ST_CONNECT, ST_WRAP_TLS, ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_TLS, ST_AUTH,
    ST_MAIL, ST_RCPT, ST_DATA, ST_XFER, ST_DOT, ST_RSET, ST_IDLE, ST_QUIT, ST_SIGN
};

/* what we were doing, for "timed out while ..." / "lost connection ... while ..." */
static const char *const st_doing[] = {
    [ST_CONNECT] = "connecting",
    [ST_WRAP_TLS] = "performing the TLS handshake",
    [ST_GREETING] = "receiving the initial server greeting",
    [ST_EHLO] = "performing the EHLO handshake",
    [ST_HELO] = "performing the HELO handshake",
    [ST_STARTTLS] = "sending STARTTLS",
    [ST_TLS] = "performing the TLS handshake",
    [ST_AUTH] = "performing SASL authentication",
    [ST_MAIL] = "sending MAIL FROM",
    [ST_RCPT] = "sending RCPT TO",
    [ST_DATA] = "sending DATA command",
    [ST_XFER] = "sending message body",
    [ST_DOT] = "sending end of data -- message may be sent more than once",
    [ST_RSET] = "sending RSET",
    [ST_IDLE] = "waiting in the connection cache",
    [ST_QUIT] = "sending QUIT",
    [ST_SIGN] = "signing the message (DKIM)",
};

#define XFER_CHUNK (64 * 1024)          /* content bytes stuffed per step */
#define XFER_HIGH (256 * 1024)          /* stop filling above this much output */
#define XFER_LOW (64 * 1024)            /* refill when output drains to this */
#define READ_HIGH (64 * 1024)

/* on_reply and friends return: 0 go on reading, 1 stop reading (session
 * alive), -1 session freed */

static int begin_transaction(struct smtp_session *s);

/* A latency since the phase start t0 (microseconds), into histogram f. */
static void observe(struct metric_family *f, long long t0)
{
    if (f && t0 > 0)
        metrics_observe(metrics_series(f, NULL), (double)(clock_monotonic_us() - t0) / 1e6);
}
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static long long st_timeout(const struct smtp_session *s, int st)
{
    const struct smtp_settings *t = s->set;
    switch (st) {
    case ST_CONNECT: return t->t_connect;
    case ST_MAIL: return t->t_mail;
    case ST_RCPT: return t->t_rcpt;
    case ST_DATA: return t->t_data_init;
    case ST_XFER: return t->t_data_xfer;
    case ST_SIGN: return t->t_data_xfer;
    case ST_DOT: return t->t_data_done;
    case ST_IDLE: return t->cache_time;
    case ST_QUIT: return t->t_quit;
    default: return t->t_helo;
    }
}

static void set_state(struct smtp_session *s, int st)
{
    s->st = st;
    struct timeval tv = clock_timeval(st_timeout(s, st));
    evtimer_add(s->timer, &tv);
}

static const char *qid(const struct smtp_session *s)
{
    return s->att ? s->att->req->id : "smtp";
}

/* Queue one command line; `shown` replaces it in the debug log (AUTH). */
static void cmd(struct smtp_session *s, struct evbuffer *b, const char *line, const char *shown)
{
    evbuffer_add(b, line, strlen(line));
    evbuffer_add(b, "\r\n", 2);
    if (log_verbose()) {
        char clean[600];
        const char *t = shown ? shown : line;
        log_sanitize(t, strlen(t), clean, sizeof clean);
        log_debug("%s: > %s[%s]:%u: %s", qid(s), s->host, s->addr, s->port, clean);
    }
}

static void send_cmd(struct smtp_session *s, const char *line, const char *shown)
{
    struct evbuffer *b = evbuffer_new();
    if (!b)
        log_fatal("smtp: out of memory");
    cmd(s, b, line, shown);
    bufferevent_write_buffer(s->bev, b);
    evbuffer_free(b);
}

static void detach(struct smtp_session *s)
{
    if (s->att)
        s->att->s = NULL;
    s->att = NULL;
}

/* The transaction state of the current job. */
static void txn_reset(struct smtp_session *s)
{
    free(s->rcpts);
    free(s->accepted);
    s->rcpts = NULL;
    s->accepted = NULL;
    s->nrcpts = s->rcpt_reply = s->naccepted = 0;
    s->aborting = 0;
    s->content = NULL;
    s->content_len = 0;
    s->prefix = NULL;
    s->prefix_len = 0;
    s->pos = 0;
    smtp_body_init(&s->body, s->set->line_limit);
    s->dot_sent = 0;
    s->break_logged = 0;
    s->got_reply = 0;
}

void smtp_session_free(struct smtp_session *s)
{
    struct smtp_dest *d = s->dest;
    int slot = s->has_slot;
    detach(s);
    if (s->idle)
        TAILQ_REMOVE(&d->idle, s, idle_link);
    TAILQ_REMOVE(&d->sessions, s, link);
    s->c->nconn--;
    if (s->bev)
        bufferevent_free(s->bev);
    event_free(s->timer);
    smtp_content_free(s);
    smtp_reply_free(&s->reply);
    txn_reset(s);
    smtp_settings_unref(s->set);
    free(s);
    smtp_dest_session_gone(d, slot);
}

/* The job's part is over; hand the attempt its results (ACT_DONE). A
 * healthy connection goes on with RSET (then the cache) or QUIT. */
static int job_done(struct smtp_session *s, int healthy)
{
    struct smtp_attempt *att = s->att;
    int probe = att && att->req && (att->req->flags & DELIVER_PROBE);
    if (att) {
        detach(s);
        if (att->has_slot && healthy) {
            att->has_slot = 0;
            s->has_slot = 1;
        }
        smtp_attempt_act(att, ACT_DONE);
    }
    txn_reset(s);
    s->reused = 0;
    if (!healthy) {
        smtp_session_free(s);
        return -1;
    }
    if (s->set->cache && s->set == s->c->set && !s->c->freeing && !probe) {
        send_cmd(s, "RSET", NULL);
        set_state(s, ST_RSET);
    } else {
        send_cmd(s, "QUIT", NULL);
        set_state(s, ST_QUIT);
    }
    return 0;
}

/* The connection is unusable. Before MAIL: next address; a cached
 * connection that died before its first reply: start again on a fresh
 * one; otherwise the job ends with what is left deferred. */
static int session_fail(struct smtp_session *s, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int session_fail(struct smtp_session *s, const char *dsn, const char *fmt, ...)
{
    struct smtp_attempt *att = s->att;
    if (!att) {
        smtp_session_free(s);
        return -1;
    }
    if (s->st == ST_IDLE || (s->reused && !s->got_reply)) {
        log_info("%s: cached connection to %s[%s]:%u is gone; reconnecting", qid(s),
                 s->host, s->addr, s->port);
        detach(s);
        smtp_session_free(s);
        smtp_attempt_act(att, ACT_START);
        return -1;
    }
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    smtp_attempt_failure(att, dsn, "%s", reason);
    enum smtp_action next = s->st < ST_AUTH ? ACT_NEXT : ACT_DONE;
    detach(s);
    smtp_session_free(s);
    smtp_attempt_act(att, next);
    return -1;
}

/* A failure that ends the job although the connection is fine (AUTH
 * refused, TLS required but not offered): the rest is deferred, QUIT. */
static int job_fail(struct smtp_session *s, int next_host, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int job_fail(struct smtp_session *s, int next_host, const char *dsn, const char *fmt, ...)
{
    struct smtp_attempt *att = s->att;
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    smtp_attempt_failure(att, dsn, "%s", reason);
    detach(s);
    smtp_attempt_act(att, next_host ? ACT_NEXT : ACT_DONE);
    /* the slot stays with the attempt: this connection just says goodbye */
    send_cmd(s, "QUIT", NULL);
    set_state(s, ST_QUIT);
    return 1;
}

/* Postfix's loop check: a server whose EHLO reply names our own
 * hostname is this very system (an MX or relayhost pointing back at us). */
static int greets_as_me(const struct smtp_session *s, const struct smtp_reply *r)
{
    const char *name = s->set->helo_name;
    size_t nl = strlen(name);
    if (!r->text || strlen(r->text) < 4 || nl == 0)
        return 0;
    const char *p = r->text + 4;
    size_t n = strcspn(p, " \n");
    return n == nl && strncasecmp(p, name, nl) == 0;
}

static void reply_text(const struct smtp_session *s, char *out, size_t outlen)
{
    smtp_reply_oneline(&s->reply, out, outlen);
}

/* "host h[a] said: <reply> (in reply to <what> command)" */
static void said(const struct smtp_session *s, const char *what, char *out, size_t outlen)
{
    char one[800];
    reply_text(s, one, sizeof one);
    errbuf_set(out, outlen, "host %s[%s] said: %s (in reply to %s command)", s->host, s->addr,
               one, what);
}

/* Result of a failure reply: 5xx bounced, anything else deferred (4.x.x). */
static enum deliver_status fail_state(const struct smtp_reply *r, char dsn[16])
{
    smtp_reply_dsn(r, dsn);
    if (r->code >= 500)
        return DELIVER_BOUNCED;
    if (dsn[0] != '4')
        memcpy(dsn, "4.5.0", 6);
    return DELIVER_DEFERRED;
}

static void result_reply(struct smtp_session *s, size_t i, const char *what)
{
    char reason[1024], dsn[16];
    said(s, what, reason, sizeof reason);
    enum deliver_status st = fail_state(&s->reply, dsn);
    smtp_attempt_result(s->att, i, st, dsn, reason);
}

/* ---------------------------------------------------------------- TLS */

static int start_tls(struct smtp_session *s, int st)
{
    char err[512];
    struct ssl_ctx_st *ctx = smtp_settings_ctx(s->set, err, sizeof err);
    SSL *ssl = NULL;
    if (ctx) {
        const char *match = s->set->tls_level == SMTP_TLS_SECURE ? s->att->nh.host : s->host;
        ssl = smtp_tls_ssl_new(ctx, s->set->tls_level, s->host, match, err, sizeof err);
    }
    if (!ssl) {
        struct smtp_attempt *att = s->att;
        smtp_attempt_failure(att, "4.7.5", "TLS is required, but our TLS engine is "
                             "unavailable: %s", err);
        detach(s);
        smtp_session_free(s);
        smtp_attempt_act(att, ACT_DONE);
        return -1;
    }
    /* the TLS filter writes into the socket's buffer only up to its high
     * watermark: memory per connection stays bounded for large messages */
    bufferevent_setwatermark(s->bev, EV_WRITE, XFER_LOW, XFER_HIGH);
    struct bufferevent *nb = bufferevent_openssl_filter_new(
        s->c->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!nb) {
        SSL_free(ssl);
        return session_fail(s, "4.3.0", "cannot start TLS with %s[%s]: out of memory",
                            s->host, s->addr);
    }
    bufferevent_openssl_set_allow_dirty_shutdown(nb, 1);
    s->bev = nb;
    bufferevent_setcb(nb, on_read, on_write, on_event, s);
    bufferevent_setwatermark(nb, EV_READ, 0, READ_HIGH);
    bufferevent_setwatermark(nb, EV_WRITE, XFER_LOW, 0);
    bufferevent_enable(nb, EV_READ | EV_WRITE);
    set_state(s, st);
    return 1;
}

static int tls_failed(struct smtp_session *s)
{
    unsigned long e, first = 0;
    while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
        if (!first)
            first = e;
    char why[512];
    smtp_tls_failure_reason(bufferevent_openssl_get_ssl(s->bev), first, why, sizeof why);
    ERR_clear_error();
    struct smtp_attempt *att = s->att;
    smtp_attempt_failure(att, "4.7.5", "%s (%s[%s]:%u)", why, s->host, s->addr, s->port);
    /* "may" over STARTTLS: like Postfix, try the same server in plaintext */
    enum smtp_action next = s->set->tls_level == SMTP_TLS_MAY && s->st == ST_TLS
                                ? ACT_RETRY_PLAIN : ACT_NEXT;
    detach(s);
    smtp_session_free(s);
    smtp_attempt_act(att, next);
    return -1;
}

static void tls_up(struct smtp_session *s)
{
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    int bits = 0, alg = 0;
    if (ssl)
        bits = SSL_get_cipher_bits(ssl, &alg);
    s->tls = 1;
    log_info("%s: %s TLS connection established to %s[%s]:%u: %s with cipher %s (%d/%d bits)",
             qid(s), s->set->tls_level >= SMTP_TLS_VERIFY ? "Verified" : "Untrusted",
             s->host, s->addr, s->port, ssl ? SSL_get_version(ssl) : "?",
             ssl ? SSL_get_cipher_name(ssl) : "?", bits, alg);
    if (s->st == ST_WRAP_TLS) {
        set_state(s, ST_GREETING);
    } else {
        char line[300];
        errbuf_set(line, sizeof line, "EHLO %s", s->set->helo_name);
        send_cmd(s, line, NULL);
        memset(&s->ext, 0, sizeof s->ext);
        set_state(s, ST_EHLO);
    }
}

/* --------------------------------------------------------------- AUTH */

/* The login's result for the daemon (webhooks). */
static void tell_login(struct smtp_session *s, int ok, const char *reason)
{
    if (!s->c->on_login)
        return;
    char up[300];
    snprintf(up, sizeof up, "%s:%u", s->host, s->port);
    s->c->on_login(s->c->on_login_arg, up, ok, reason);
}

static int auth_send_login(struct smtp_session *s)
{
    char user[256], pass[512], b64[1024];
    if (!smtp_attempt_credentials(s->att, s->host, user, sizeof user, pass, sizeof pass))
        return job_fail(s, 0, "4.7.0", "SASL authentication failed: credentials for %s "
                        "disappeared", s->att->nexthop);
    const char *v = s->login_step == 0 ? user : pass;
    size_t n = base64_encode(v, strlen(v), b64, sizeof b64);
    OPENSSL_cleanse(pass, sizeof pass);
    if (n == 0 || n == (size_t)-1) {    /* empty is refused too */
        OPENSSL_cleanse(b64, sizeof b64);
        return job_fail(s, 0, "4.7.0", "SASL authentication failed: credentials too long");
    }
    send_cmd(s, b64, "<redacted>");
    OPENSSL_cleanse(b64, sizeof b64);
    s->login_step++;
    set_state(s, ST_AUTH);
    return 0;
}

static int auth_or_begin(struct smtp_session *s)
{
    char user[256], pass[512];
    const struct smtp_settings *set = s->set;
    if (!set->sasl_enable ||
        !smtp_attempt_credentials(s->att, s->host, user, sizeof user, pass, sizeof pass))
        return begin_transaction(s);
    OPENSSL_cleanse(pass, sizeof pass);
    if (!s->tls && !(set->cleartext_loopback &&
                     smtp_addr_is_loopback((const struct sockaddr *)&s->sa)))
        return job_fail(s, 0, "4.7.0", "authentication required but the connection to "
                        "%s[%s]:%u is not encrypted (set smtp_tls_security_level = encrypt "
                        "or use smtp_tls_wrappermode)", s->host, s->addr, s->port);
    if (!(s->ext.flags & SMTP_EXT_AUTH)) {
        log_info("%s: %s[%s]:%u does not offer AUTH; sending without authentication",
                 qid(s), s->host, s->addr, s->port);
        return begin_transaction(s);
    }
    if (set->noplaintext)
        return job_fail(s, 0, "4.7.0", "SASL authentication failed: "
                        "smtp_sasl_security_options = noplaintext forbids PLAIN and LOGIN, "
                        "the only mechanisms postern has (server %s[%s])", s->host, s->addr);
    if (s->ext.auth & SMTP_AUTH_PLAIN) {
        char b64[1100], line[1200];
        if (!smtp_attempt_credentials(s->att, s->host, user, sizeof user, pass, sizeof pass))
            return begin_transaction(s);
        size_t n = smtp_auth_plain(user, pass, b64, sizeof b64);
        OPENSSL_cleanse(pass, sizeof pass);
        if (!n)
            return job_fail(s, 0, "4.7.0", "SASL authentication failed: credentials too long");
        errbuf_set(line, sizeof line, "AUTH PLAIN %s", b64);
        s->t_login = clock_monotonic_us();
        send_cmd(s, line, "AUTH PLAIN <redacted>");
        OPENSSL_cleanse(b64, sizeof b64);
        OPENSSL_cleanse(line, sizeof line);
        s->login_step = 2;
        set_state(s, ST_AUTH);
        return 0;
    }
    if (s->ext.auth & SMTP_AUTH_LOGIN) {
        s->t_login = clock_monotonic_us();
        send_cmd(s, "AUTH LOGIN", NULL);
        s->login_step = 0;
        set_state(s, ST_AUTH);
        return 0;
    }
    return job_fail(s, 0, "4.7.0", "SASL authentication failed: server %s[%s] offers no "
                    "supported mechanism (PLAIN, LOGIN)", s->host, s->addr);
}

static int after_hello(struct smtp_session *s)
{
    int level = s->set->tls_level;
    if (!s->tls && level >= SMTP_TLS_MAY && !s->att->plaintext) {
        if (s->ext.flags & SMTP_EXT_STARTTLS) {
            send_cmd(s, "STARTTLS", NULL);
            set_state(s, ST_STARTTLS);
            return 0;
        }
        if (level >= SMTP_TLS_ENCRYPT)
            return job_fail(s, 1, "4.7.4", "TLS is required, but was not offered by host "
                            "%s[%s]", s->host, s->addr);
    }
    return auth_or_begin(s);
}

/* -------------------------------------------------------- transaction */

static void xfer_fill(struct smtp_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    while (!s->dot_sent && evbuffer_get_length(out) < XFER_HIGH) {
        size_t n = s->content_len - s->pos;
        if (n > XFER_CHUNK)
            n = XFER_CHUNK;
        struct evbuffer_iovec v;
        size_t room = smtp_body_max(&s->body, n) + SMTP_BODY_END_MAX;
        if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) < 1)
            log_fatal("smtp: out of memory");
        char *p = v.iov_base;
        size_t w = smtp_body_write(&s->body, s->content + s->pos, n, p);
        s->pos += n;
        if (s->pos == s->content_len) {
            /* the final dot travels with the last chunk (no tiny write) */
            w += smtp_body_end(&s->body, p + w);
            s->dot_sent = 1;
        }
        v.iov_len = w;
        evbuffer_commit_space(out, &v, 1);
    }
    if (s->body.breaks && !s->break_logged) {
        log_info("%s: breaking line > %zu bytes with <CR><LF>SPACE",
                 s->att->req->id, s->body.limit);
        s->break_logged = 1;
    }
    if (s->dot_sent)
        set_state(s, ST_DOT);
    else
        set_state(s, ST_XFER);      /* progress: re-arm smtp_data_xfer_timeout */
}

static void rcpt_line(struct smtp_session *s, struct evbuffer *b, size_t k)
{
    char *line = NULL;
    if (asprintf(&line, "RCPT TO:<%s>", s->att->req->rcpt[s->rcpts[k]].addr) < 0)
        log_fatal("smtp: out of memory");
    cmd(s, b, line, NULL);
    free(line);
}

static int begin_transaction(struct smtp_session *s)
{
    struct smtp_attempt *att = s->att;
    const struct deliver_request *req = att->req;
    char reason[512];

    txn_reset(s);
    errbuf_set(att->relay, sizeof att->relay, "%s[%s]:%u", s->host, s->addr, s->port);
    if (req->flags & DELIVER_PROBE) {
        /* the login went through (or none was needed): that is all */
        for (size_t k = 0; k < req->nrcpt; k++)
            smtp_attempt_result(att, k, DELIVER_SENT, "2.0.0",
                                s->t_login ? "login accepted" : "connected");
        return job_done(s, 1);
    }
    s->t_txn = s->c->m_delivery ? clock_monotonic_us() : 0;
    int rc = smtp_content_choose(s);
    if (rc < 0)
        return job_done(s, 1);
    if (rc > 0) {
        set_state(s, ST_SIGN);  /* smtp_session_resume comes back here */
        return 1;
    }
    size_t size_sent = s->prefix_len + s->content_len;
    if ((s->ext.flags & SMTP_EXT_SIZE) && s->ext.size && size_sent > s->ext.size) {
        errbuf_set(reason, sizeof reason, "message size %zu exceeds size limit %llu of server "
                   "%s[%s]", size_sent, s->ext.size, s->host, s->addr);
        for (size_t k = 0; k < req->nrcpt; k++)
            if (!att->final[k])
                smtp_attempt_result(att, k, DELIVER_BOUNCED, "5.3.4", reason);
        return job_done(s, 1);
    }
    int utf8 = 0;
    if (req->flags & DELIVER_SMTPUTF8) {
        if ((s->ext.flags & SMTP_EXT_SMTPUTF8) && s->set->smtputf8) {
            utf8 = 1;
        } else {
            /* RFC 6531 3.4: UTF-8 addresses cannot go without SMTPUTF8; the
             * rest of the message goes without the flag */
            int all = utf8_has_8bit(req->sender, strlen(req->sender));
            errbuf_set(reason, sizeof reason, "SMTPUTF8 is required, but was not offered by "
                       "host %s[%s]", s->host, s->addr);
            for (size_t k = 0; k < req->nrcpt; k++) {
                const char *a = req->rcpt[k].addr;
                if (!att->final[k] && (all || utf8_has_8bit(a, strlen(a))))
                    smtp_attempt_result(att, k, DELIVER_BOUNCED, "5.6.7", reason);
            }
        }
    }
    s->rcpts = calloc(req->nrcpt ? req->nrcpt : 1, sizeof *s->rcpts);
    s->accepted = calloc(req->nrcpt ? req->nrcpt : 1, 1);
    if (!s->rcpts || !s->accepted)
        log_fatal("smtp: out of memory");
    for (size_t k = 0; k < req->nrcpt; k++)
        if (!att->final[k])
            s->rcpts[s->nrcpts++] = k;
    if (s->nrcpts == 0)
        return job_done(s, 1);

    /* BODY=8BITMIME only to a server that offers it; any other gets the
     * 7-bit version (choose_content), which needs no BODY parameter */
    char *mail = NULL, size[32] = "";
    if (s->ext.flags & SMTP_EXT_SIZE)
        errbuf_set(size, sizeof size, " SIZE=%zu", size_sent);
    if (asprintf(&mail, "MAIL FROM:<%s>%s%s%s", req->sender, size,
                 (req->flags & DELIVER_8BITMIME) && (s->ext.flags & SMTP_EXT_8BITMIME)
                     ? " BODY=8BITMIME" : "",
                 utf8 ? " SMTPUTF8" : "") < 0)
        log_fatal("smtp: out of memory");
    struct evbuffer *b = evbuffer_new();
    if (!b)
        log_fatal("smtp: out of memory");
    cmd(s, b, mail, NULL);
    free(mail);
    s->att->mail_sent = 1;     /* from here on no smtp_fallback_relay */
    s->pipelining = (s->ext.flags & SMTP_EXT_PIPELINING) != 0;
    if (s->pipelining) {
        /* MAIL, every RCPT and DATA in one write; replies come in order */
        for (size_t k = 0; k < s->nrcpts; k++)
            rcpt_line(s, b, k);
        cmd(s, b, "DATA", NULL);
    }
    bufferevent_write_buffer(s->bev, b);
    evbuffer_free(b);
    set_state(s, ST_MAIL);
    return 0;
}

void smtp_session_resume(struct smtp_session *s)
{
    begin_transaction(s);
}

void smtp_session_begin(struct smtp_session *s)
{
    s->reused = 1;
    begin_transaction(s);
}

void smtp_session_quit(struct smtp_session *s)
{
    if (s->idle) {
        TAILQ_REMOVE(&s->dest->idle, s, idle_link);
        s->idle = 0;
    }
    send_cmd(s, "QUIT", NULL);
    set_state(s, ST_QUIT);
}

/* ------------------------------------------------------------- replies */

static int on_reply(struct smtp_session *s)
{
    const struct smtp_reply *r = &s->reply;
    int code = r->code;
    char one[800], line[300];

    if (log_verbose()) {
        /* remote text: 8-bit and C1 bytes escaped like every other log line */
        char clean[sizeof one * 4];
        reply_text(s, one, sizeof one);
        log_debug("%s: < %s[%s]:%u: %s", qid(s), s->host, s->addr, s->port,
                  log_sanitize(one, strlen(one), clean, sizeof clean));
    }
    if (!s->att) {
        /* RSET, QUIT, or something unasked for while idle */
        if (s->st == ST_RSET && code == 250 && s->set == s->c->set && !s->c->freeing) {
            set_state(s, ST_IDLE);
            smtp_dest_park(s);
            return 0;
        }
        if (s->st == ST_RSET) {
            send_cmd(s, "QUIT", NULL);
            set_state(s, ST_QUIT);
            return 0;
        }
        smtp_session_free(s);
        return -1;
    }
    if (s->st == ST_IDLE)       /* handed to a job but not started: stale */
        return session_fail(s, "4.4.2", "unexpected reply from %s[%s]", s->host, s->addr);
    s->got_reply = 1;
    if (code == 421 && s->st >= ST_MAIL) {
        if (s->reused && s->st == ST_MAIL) {
            s->got_reply = 0;   /* the cached connection timed out: start over */
            return session_fail(s, "4.4.2", "cached connection closed");
        }
        said(s, s->st == ST_RCPT ? "RCPT TO" : s->st == ST_MAIL ? "MAIL FROM"
                : s->st == ST_DATA ? "DATA" : "end of DATA", one, sizeof one);
        char dsn[16];
        fail_state(r, dsn);
        smtp_attempt_failure(s->att, dsn, "%s", one);
        return job_done(s, 0);
    }
    switch (s->st) {
    case ST_GREETING:
        if (code / 100 != 2) {
            reply_text(s, one, sizeof one);
            return job_fail(s, 1, "4.4.2", "host %s[%s] refused to talk to me: %s", s->host,
                            s->addr, one);
        }
        errbuf_set(line, sizeof line, "EHLO %s", s->set->helo_name);
        send_cmd(s, line, NULL);
        set_state(s, ST_EHLO);
        return 0;
    case ST_EHLO:
        if (code == 250 && greets_as_me(s, r))
            return job_fail(s, 0, "4.4.6", "mail for %s loops back to myself (host %s[%s] "
                            "greets as %s)", s->att->nexthop, s->host, s->addr,
                            s->set->helo_name);
        if (code == 250) {
            smtp_ehlo_parse(r, &s->ext);
            return after_hello(s);
        }
        if (code >= 500) {
            errbuf_set(line, sizeof line, "HELO %s", s->set->helo_name);
            send_cmd(s, line, NULL);
            set_state(s, ST_HELO);
            return 0;
        }
        /* fall through */
    case ST_HELO:
        if (s->st == ST_HELO && code == 250) {
            memset(&s->ext, 0, sizeof s->ext);
            return after_hello(s);
        }
        reply_text(s, one, sizeof one);
        return job_fail(s, 1, "4.4.2", "host %s[%s] refused to talk to me: %s", s->host,
                        s->addr, one);
    case ST_STARTTLS:
        if (code == 220) {
            if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
                return session_fail(s, "4.5.0", "host %s[%s] sent data after its STARTTLS "
                                    "reply (protocol error)", s->host, s->addr);
            return start_tls(s, ST_TLS);
        }
        if (s->set->tls_level >= SMTP_TLS_ENCRYPT) {
            reply_text(s, one, sizeof one);
            return job_fail(s, 1, "4.7.4", "TLS is required, but host %s[%s] refused to "
                            "start TLS: %s", s->host, s->addr, one);
        }
        return auth_or_begin(s);
    case ST_AUTH:
        if (code == 334 && s->login_step < 2)
            return auth_send_login(s);
        if (code == 235) {
            observe(s->c->m_login, s->t_login);
            tell_login(s, 1, "");
            return begin_transaction(s);
        }
        {
            char dsn[16];
            fail_state(r, dsn);
            dsn[0] = '4';   /* Postfix defers on authentication failure */
            reply_text(s, one, sizeof one);
            tell_login(s, 0, one);
            return job_fail(s, 0, dsn, "SASL authentication failed; server %s[%s] said: %s",
                            s->host, s->addr, one);
        }
    case ST_MAIL:
        if (code / 100 == 2) {
            set_state(s, ST_RCPT);
            if (!s->pipelining) {
                struct evbuffer *b = evbuffer_new();
                if (!b)
                    log_fatal("smtp: out of memory");
                rcpt_line(s, b, 0);
                bufferevent_write_buffer(s->bev, b);
                evbuffer_free(b);
            }
            return 0;
        }
        for (size_t k = 0; k < s->nrcpts; k++)
            result_reply(s, s->rcpts[k], "MAIL FROM");
        if (!s->pipelining)
            return job_done(s, 1);
        s->aborting = 1;        /* read the RCPT and DATA replies still due */
        set_state(s, ST_RCPT);
        return 0;
    case ST_RCPT: {
        size_t k = s->rcpt_reply++;
        if (!s->aborting) {
            if (code / 100 == 2) {
                s->accepted[k] = 1;
                s->naccepted++;
            } else {
                result_reply(s, s->rcpts[k], "RCPT TO");
            }
        }
        if (s->rcpt_reply < s->nrcpts) {
            if (!s->pipelining) {
                struct evbuffer *b = evbuffer_new();
                if (!b)
                    log_fatal("smtp: out of memory");
                rcpt_line(s, b, s->rcpt_reply);
                bufferevent_write_buffer(s->bev, b);
                evbuffer_free(b);
            }
            set_state(s, ST_RCPT);
            return 0;
        }
        if (!s->pipelining) {
            if (s->naccepted == 0)
                return job_done(s, 1);
            send_cmd(s, "DATA", NULL);
        }
        set_state(s, ST_DATA);
        return 0;
    }
    case ST_DATA:
        if (code == 354) {
            if (s->aborting || s->naccepted == 0) {
                /* the server should have refused DATA: send an empty
                 * message that has no recipient */
                send_cmd(s, ".", NULL);
                s->aborting = 1;
                set_state(s, ST_DOT);
                return 0;
            }
            s->pos = 0;
            smtp_body_init(&s->body, s->set->line_limit);
            s->dot_sent = 0;
            s->break_logged = 0;
            if (!s->content) {      /* cannot happen: set by begin_transaction */
                s->content = s->att->req->content;
                s->content_len = s->att->req->content_len;
            }
            if (s->prefix_len) {
                /* the DKIM-Signature fields, before the header section */
                struct evbuffer *out = bufferevent_get_output(s->bev);
                struct evbuffer_iovec v;
                if (evbuffer_reserve_space(out, (ev_ssize_t)smtp_body_max(&s->body,
                                                                          s->prefix_len),
                                           &v, 1) < 1)
                    log_fatal("smtp: out of memory");
                v.iov_len = smtp_body_write(&s->body, s->prefix, s->prefix_len, v.iov_base);
                evbuffer_commit_space(out, &v, 1);
            }
            xfer_fill(s);
            return 0;
        }
        if (!s->aborting)
            for (size_t k = 0; k < s->nrcpts; k++)
                if (s->accepted[k])
                    result_reply(s, s->rcpts[k], "DATA");
        return job_done(s, 1);
    case ST_XFER:
    case ST_DOT: {
        int in_sync = s->st == ST_DOT;
        if (!s->aborting) {
            char dsn[16];
            reply_text(s, one, sizeof one);
            smtp_reply_dsn(r, dsn);
            for (size_t k = 0; k < s->nrcpts; k++) {
                if (!s->accepted[k])
                    continue;
                if (code / 100 == 2 && in_sync)
                    smtp_attempt_result(s->att, s->rcpts[k], DELIVER_SENT, dsn, one);
                else
                    result_reply(s, s->rcpts[k], "end of DATA");
            }
        }
        if (code / 100 == 2 && in_sync && !s->aborting)
            observe(s->c->m_delivery, s->t_txn);
        return job_done(s, in_sync);
    }
    default:
        return session_fail(s, "4.5.0", "unexpected reply from %s[%s] while %s", s->host,
                            s->addr, st_doing[s->st]);
    }
}

/* ------------------------------------------------------------- events */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct smtp_session *s = arg;
    (void)bev;
    for (;;) {
        struct evbuffer *in = bufferevent_get_input(s->bev);
        size_t eol = 0;
        struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
        if (p.pos < 0) {
            if (evbuffer_get_length(in) > SMTP_REPLY_LINE_MAX + 1)
                session_fail(s, "4.5.0", "host %s[%s] sent a reply line longer than %d bytes "
                             "(protocol error)", s->host, s->addr, SMTP_REPLY_LINE_MAX);
            return;
        }
        char line[SMTP_REPLY_LINE_MAX + 1];
        size_t n = (size_t)p.pos;
        if (n > SMTP_REPLY_LINE_MAX) {
            session_fail(s, "4.5.0", "host %s[%s] sent a reply line longer than %d bytes "
                         "(protocol error)", s->host, s->addr, SMTP_REPLY_LINE_MAX);
            return;
        }
        evbuffer_remove(in, line, n);
        evbuffer_drain(in, eol);
        int rc = smtp_reply_feed(&s->reply, line, n);
        if (rc < 0) {
            char clean[200];
            log_sanitize(line, n, clean, sizeof clean);
            session_fail(s, "4.5.0", "host %s[%s] sent a malformed reply (protocol error): %s",
                         s->host, s->addr, clean);
            return;
        }
        if (rc == 0)
            continue;
        if (s->st == ST_CONNECT || s->st == ST_WRAP_TLS || s->st == ST_TLS) {
            session_fail(s, "4.5.0", "unexpected data from %s[%s]", s->host, s->addr);
            return;
        }
        if (on_reply(s) != 0)
            return;
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct smtp_session *s = arg;
    (void)bev;
    if (s->st == ST_XFER && s->att)
        xfer_fill(s);
}

static void on_connected(struct smtp_session *s)
{
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(s->bev);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    observe(s->c->m_connect, s->t_connect);
    if (s->att)
        smtp_dest_connected(s->att);
    if (s->set->wrapper)
        start_tls(s, ST_WRAP_TLS);
    else
        set_state(s, ST_GREETING);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtp_session *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (s->st == ST_CONNECT)
            on_connected(s);
        else if (s->st == ST_WRAP_TLS || s->st == ST_TLS)
            tls_up(s);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (s->st == ST_CONNECT) {
        int e = EVUTIL_SOCKET_ERROR();
        session_fail(s, "4.4.1", "connect to %s[%s]:%u: %s", s->host, s->addr, s->port,
                     e ? evutil_socket_error_to_string(e) : "Connection failed");
        return;
    }
    if (s->att && (s->st == ST_WRAP_TLS || s->st == ST_TLS)) {
        tls_failed(s);
        return;
    }
    session_fail(s, "4.4.2", "lost connection with %s[%s] while %s", s->host, s->addr,
                 st_doing[s->st]);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct smtp_session *s = arg;
    (void)fd;
    (void)what;
    if (!s->att) {
        if (s->st == ST_IDLE)
            smtp_session_quit(s);
        else
            smtp_session_free(s);
        return;
    }
    if (s->st == ST_CONNECT)
        session_fail(s, "4.4.1", "connect to %s[%s]:%u: Connection timed out", s->host,
                     s->addr, s->port);
    else
        session_fail(s, "4.4.2", "conversation with %s[%s] timed out while %s", s->host,
                     s->addr, st_doing[s->st]);
}

struct smtp_session *smtp_session_connect(struct smtp_attempt *att, const struct smtp_target *t)
{
    struct smtp_client *c = att->c;
    struct smtp_session *s = calloc(1, sizeof *s);
    if (!s)
        log_fatal("smtp: out of memory");
    s->c = c;
    s->dest = att->dest;
    s->set = att->set;
    s->set->refs++;
    s->att = att;
    errbuf_set(s->host, sizeof s->host, "%s", t->host);
    s->sa = t->sa;
    s->salen = t->salen;
    if (t->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)&t->sa;
        inet_ntop(AF_INET, &s4->sin_addr, s->addr, sizeof s->addr);
        s->port = ntohs(s4->sin_port);
    } else {
        const struct sockaddr_in6 *s6 = (const void *)&t->sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, s->addr, sizeof s->addr);
        s->port = ntohs(s6->sin6_port);
    }
    s->timer = evtimer_new(c->base, on_timer, s);
    s->t_connect = c->m_connect ? clock_monotonic_us() : 0;
    s->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!s->timer || !s->bev)
        log_fatal("smtp: out of memory");
    TAILQ_INSERT_TAIL(&s->dest->sessions, s, link);
    c->nconn++;
    bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(s->bev, EV_READ, 0, READ_HIGH);
    bufferevent_setwatermark(s->bev, EV_WRITE, XFER_LOW, 0);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    set_state(s, ST_CONNECT);
    log_debug("%s: connecting to %s[%s]:%u", qid(s), s->host, s->addr, s->port);
    if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&s->sa, (int)s->salen) < 0) {
        int e = EVUTIL_SOCKET_ERROR();
        smtp_attempt_failure(att, "4.4.1", "connect to %s[%s]:%u: %s", s->host, s->addr,
                             s->port, evutil_socket_error_to_string(e));
        detach(s);
        smtp_session_free(s);
        return NULL;
    }
    return s;
}

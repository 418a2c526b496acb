/* session — one SMTP server conversation: the state machine over the
 * connection's input and output, pipelining, replies and error limits,
 * timeouts, the hand-over to the group commit, and the life cycle. The
 * commands themselves are in session_cmd.c. */
#include "session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "../config/runtime.h"
#include "../policy/policy.h"
#include "../queue/queue.h"
#include "../queue/spool.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "proxy.h"
#include "reply.h"
#include "server.h"
#include "session_cmd.h"
#include "session_internal.h"

/* Stop parsing pipelined commands while this much output is unread: a
 * client that never reads cannot make us buffer without bound. */
#define SESSION_OUTPUT_MAX (64 * 1024)
/* Input buffered while a command is being processed or the session waits. */
#define SESSION_INPUT_MAX (256 * 1024)
/* Grace for writing the last reply before the socket is closed anyway. */
#define SESSION_CLOSE_GRACE 5

static void session_process(struct session *s);
static void session_run(struct session *s);

/* ---------- replies ---------- */

void session_reply_raw(struct session *s, const char *line)
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

void session_timer_arm(struct session *s, long long secs)
{
    struct timeval tv = { (time_t)secs, 0 };
    evtimer_add(s->timer, &tv);
}

/* Bytes not yet handed to the kernel: with TLS, the filter's output (not
 * yet encrypted) and the socket's (encrypted, not yet written). */
static size_t output_pending(const struct session *s)
{
    size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));
    struct bufferevent *raw = bufferevent_get_underlying(s->bev);
    if (raw)
        n += evbuffer_get_length(bufferevent_get_output(raw));
    return n;
}

static void session_close(struct session *s)
{
    s->state = SS_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
    /* the timer, on_write or (TLS) on_raw_drained end it (SS_CLOSED) once
     * the reply is out */
    session_timer_arm(s, output_pending(s) == 0 ? 0 : SESSION_CLOSE_GRACE);
}

/* Every reply of the session but the connect-time refusal goes through
 * here. An error reply (REPLY_F_ERROR) counts towards the soft and hard
 * limits (Postfix smtpd_soft_error_limit / smtpd_hard_error_limit); a 221
 * or 421 reply closes the session, as in Postfix's smtpd_chat_reply. */
/* A 4xx or 5xx reply, counted by its code and enhanced code ("554",
 * "5.7.1"): both come from postern's reply table or the configuration,
 * a bounded set (util/metrics.h caps it anyway). */
static void count_reject(struct session *s, const char *line)
{
    if ((line[0] != '4' && line[0] != '5') || !(line[1] >= '0' && line[1] <= '9') ||
        !(line[2] >= '0' && line[2] <= '9'))
        return;
    char code[4] = { line[0], line[1], line[2], 0 }, dsn[16] = "";
    const char *p = line + 3;
    if (*p == ' ' || *p == '-') {
        p++;
        size_t n = strspn(p, "0123456789.");
        if (n >= 5 && n < sizeof dsn && p[0] == line[0] && p[1] == '.' &&
            (p[n] == ' ' || p[n] == '\0' || p[n] == '\r')) {
            memcpy(dsn, p, n);
            dsn[n] = '\0';
        }
    }
    const char *v[2] = { code, dsn };
    metrics_inc(metrics_series(server_metrics(s->srv)->rejects, v));
}

static void reply_send(struct session *s, const char *line, int error, int closes)
{
    const struct config *cfg = session_cfg(s);
    count_reject(s, line);
    /* past smtpd_junk_command_limit, every junk command counts as an error
     * (Postfix): a client cannot hold a connection slot with NOOP for ever */
    int junk_error = s->junk_pending;
    s->junk_pending = 0;
    if (error || junk_error) {
        s->errors++;
        if (s->errors >= cfg->smtpd_hard_error_limit) {
            session_reply_raw(s, line);
            log_info("too many errors from %s (smtpd_hard_error_limit)", s->peer_label);
            session_reply(s, REPLY_TOO_MANY_ERRORS, cfg->myhostname, NULL);
            return;
        }
        if (s->errors > cfg->smtpd_soft_error_limit && cfg->smtpd_error_sleep_time > 0) {
            /* tarpit: hold the reply, read nothing meanwhile */
            free(s->pending_reply);
            s->pending_reply = strdup(line);
            s->state = SS_SLEEP;
            bufferevent_disable(s->bev, EV_READ);
            session_timer_arm(s, cfg->smtpd_error_sleep_time);
            return;
        }
    }
    session_reply_raw(s, line);
    if (closes)
        session_close(s);
}

void session_reply(struct session *s, enum reply_id id, const char *a1, const char *a2)
{
    const struct reply_def *r = reply_get(id);
    char line[1024];
    reply_format(line, sizeof line, id, 0, a1, a2);
    reply_send(s, line, r && (r->flags & REPLY_F_ERROR),
               r && (r->code == 221 || r->code == 421));
}

void session_reply_line(struct session *s, const char *line)
{
    reply_send(s, line, line[0] == '5', 0);
}

/* ---------- the group commit ---------- */

/* The only two calls into the group commit (server.c today): a finished
 * message is handed over, and a session that goes away withdraws its
 * pending request. The result comes back through session_commit_done(). */
void session_commit_submit(struct session *s, struct spool_msg *m)
{
    s->state = SS_COMMIT;
    s->commit = SC_PENDING;
    evtimer_del(s->timer);
    server_commit_request(s->srv, s, m);
}

static void session_commit_cancel(struct session *s)
{
    if (s->commit == SC_PENDING)
        server_commit_forget(s->srv, s);
}

/* Called from inside the group commit: only the message's fate is dealt
 * with here (logged; the queue has scheduled it already, which must happen
 * even if the session ends before it runs again). The client's reply and what it
 * pipelined after the message wait for session_process on a later pass,
 * so the session is never run, nor freed, under the commit's feet. */
void session_commit_done(struct session *s, int ok)
{
    struct session_tx *tx = &s->tx;
    if (ok) {
        char from_l[LOG_ADDR_SIZE], user_l[LOG_ADDR_SIZE];
        if (s->sasl_username[0])
            /* Postfix's words: log watchers key on sasl_username= */
            log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", tx->env.qid,
                     s->peer_label, s->sasl_method,
                     log_addr(s->sasl_username, user_l, sizeof user_l));
        else
            log_info("%s: client=%s", tx->env.qid, s->peer_label);
        log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", tx->env.qid,
                 log_addr(tx->env.sender, from_l, sizeof from_l), tx->ds.size,
                 tx->env.nrcpt);
    }
    s->commit = ok ? SC_DONE : SC_FAILED;
    event_active(s->wakeup, EV_TIMEOUT, 0);
}

/* session_process, once the commit result is in: the reply, and the end
 * of the transaction. */
static void commit_finish(struct session *s)
{
    if (s->commit == SC_DONE) {
        session_reply(s, REPLY_QUEUED, s->tx.env.qid, NULL);
        metrics_inc(metrics_series(server_metrics(s->srv)->accepted, NULL));
        session_limit_queued(s);
        s->errors = 0;
        s->junk = 0;
        s->nmsgs++;
    } else {
        session_reply(s, REPLY_QUEUE_WRITE, NULL, NULL);
    }
    s->commit = SC_NONE;
    session_tx_reset(s);
    if (s->lost) {
        /* nobody is left to tell: the reply went nowhere */
        s->state = SS_CLOSED;
        return;
    }
    s->state = SS_CMD;
    session_timer_arm(s, session_cfg(s)->smtpd_timeout);
}

/* ---------- input loop ---------- */

static void process_data(struct session *s, struct evbuffer *in)
{
    const struct config *cfg = session_cfg(s);
    while (s->state == SS_DATA && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t used = data_scan(&s->tx.ds, v.iov_base, v.iov_len, session_data_emit, s);
        /* the deadline is per line, so a trickling client runs out of time */
        if (memchr(v.iov_base, '\n', used))
            session_timer_arm(s, cfg->smtpd_timeout);
        evbuffer_drain(in, used);
        if (s->tx.ds.done)
            session_data_finish(s);
    }
}

/* Take one command line from in and run it. 0 when there is no complete
 * line yet (or the session must stop), 1 when it may go on. */
static int process_command_line(struct session *s, struct evbuffer *in)
{
    const struct config *cfg = session_cfg(s);
    size_t limit = (size_t)cfg->line_length_limit;
    struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
    if (p.pos < 0) {
        size_t have = evbuffer_get_length(in);
        if (have > limit) {
            /* keep nothing of an over-long line; answer when it ends */
            evbuffer_drain(in, have);
            s->discard_line = 1;
        }
        return 0;
    }
    size_t n = (size_t)p.pos + 1;
    if (s->discard_line || n > limit + 2) {
        evbuffer_drain(in, n);
        s->discard_line = 0;
        session_timer_arm(s, cfg->smtpd_timeout);
        session_auth_abort(s);
        session_reply(s, REPLY_LINE_TOO_LONG, NULL, NULL);
        return 1;
    }
    char stackbuf[4096];
    char *line = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!line) {
        session_reply(s, REPLY_NOMEM_CLOSE, cfg->myhostname, NULL);
        return 0;
    }
    evbuffer_remove(in, line, n);
    size_t len = n - 1;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    session_timer_arm(s, cfg->smtpd_timeout);
    if (s->state == SS_AUTH)
        session_auth_line(s, line, len);
    else
        session_command(s, line, len);
    /* it may have been a credential (AUTH, a SASL response) */
    explicit_bzero(line, n);
    if (line != stackbuf)
        free(line);
    return 1;
}

/* Work through the input as far as the state allows. Commands are taken
 * one at a time; a pipelined group ends at a SCF_LAST command, and the
 * next command waits until the group's replies are written (on_write). */
static void proxy_start(struct session *s, enum listen_kind kind);
static void peer_set(struct session *s, const struct sockaddr *sa, socklen_t salen);

/* SS_PROXY: the upstream proxy's header, before anything else. What
 * follows it in the same read stays in `in` for the SMTP session. */
static void process_proxy(struct session *s, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);
    if (n > PROXY_V2_MAX)
        n = PROXY_V2_MAX;
    const unsigned char *p = n ? evbuffer_pullup(in, (ev_ssize_t)n) : NULL;
    struct proxy_header h;
    char why[128];
    enum proxy_result r = proxy_parse(p, n, &h, why, sizeof why);
    if (r == PROXY_MORE && !s->input_eof)
        return;
    if (r != PROXY_OK) {
        /* no greeting: whoever this is did not speak the proxy's protocol */
        log_warning("haproxy read: %s from %s; closed without greeting",
                    r == PROXY_MORE ? "lost connection" : why, s->peer_label);
        s->state = SS_CLOSED;
        return;
    }
    evbuffer_drain(in, h.len);
    evtimer_del(s->timer);
    if (!h.local)
        peer_set(s, (const struct sockaddr *)(const void *)&h.src, h.srclen);
    /* the per-client limits server.c skipped for the proxy's own address
     * (a LOCAL header -- the proxy's health check -- names no client) */
    const struct config *cfg = session_cfg(s);
    char reject[256] = "";
    if (!h.local && cfg->smtpd_client_connection_count_limit > 0 && !session_limit_exempt(s) &&
        (long long)server_client_count(s->srv, s->client_addr) >
            cfg->smtpd_client_connection_count_limit) {
        log_warning("Connection concurrency limit exceeded: %lu from %s for service %s",
                    server_client_count(s->srv, s->client_addr), s->peer_label,
                    server_kind_service(s->listen_kind));
        reply_format(reject, sizeof reject, REPLY_TOO_MANY_FROM, 0, cfg->myhostname,
                     s->client_addr);
    }
    if (!h.local && !reject[0])
        session_limit_connect(s, reject, sizeof reject);
    session_greet(s, s->listen_kind, reject[0] ? reject : NULL);
}

static void session_process(struct session *s)
{
    for (;;) {
        /* STARTTLS replaces s->bev: take the buffers afresh each time */
        struct evbuffer *in = bufferevent_get_input(s->bev);
        struct evbuffer *out = bufferevent_get_output(s->bev);
        switch (s->state) {
        case SS_DATA:
            process_data(s, in);
            if (s->state != SS_DATA)
                continue;
            if (s->input_eof) {
                log_info("lost connection after DATA from %s", s->peer_label);
                s->state = SS_CLOSED;
            }
            return;
        case SS_COMMIT:
            if (s->commit == SC_PENDING)
                return;
            commit_finish(s);
            continue;
        case SS_PROXY:
            process_proxy(s, in);
            if (s->state != SS_PROXY)
                continue;
            return;
        case SS_CMD:
        case SS_AUTH:
            break;
        case SS_AUTH_WAIT:
            /* the credentials are being checked: on_auth resumes */
            return;
        case SS_DNS_WAIT:
            /* session_dns.c's callbacks resume */
            return;
        case SS_CLOSING:
            if (output_pending(s) == 0)
                s->state = SS_CLOSED;
            return;
        case SS_SLEEP:
        case SS_CLOSED:
            return;
        }
        if (s->shutdown_requested) {
            session_auth_abort(s);
            session_reply(s, REPLY_SHUTDOWN, session_cfg(s)->myhostname, NULL);
            return;
        }
        if (s->group_wait) {
            if (evbuffer_get_length(out) > 0)
                return;
            s->group_wait = 0;
        }
        if (evbuffer_get_length(out) > SESSION_OUTPUT_MAX) {
            s->output_blocked = 1;
            bufferevent_disable(s->bev, EV_READ);
            return;
        }
        if (!process_command_line(s, in)) {
            /* all the client sent is answered: close once it is written */
            if (s->input_eof && s->state == SS_CMD)
                session_close(s);
            return;
        }
    }
}

static void session_free(struct session *s);

void session_resume(struct session *s)
{
    session_run(s);
}

/* Every way into a session (the libevent callbacks below, the commit
 * result, session_destroy) ends here, and only here is a session freed:
 * it is the outermost frame, so nothing up the stack still uses it. */
static void session_run(struct session *s)
{
    session_process(s);
    if (s->state == SS_CLOSED)
        session_free(s);
}

/* ---------- libevent callbacks ---------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    session_run(arg);
}

/* The output buffer is empty: everything so far was written. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    (void)bev;
    if (s->state == SS_CLOSING) {
        if (output_pending(s) == 0)
            s->state = SS_CLOSED;
    } else if (s->output_blocked) {
        s->output_blocked = 0;
        bufferevent_enable(s->bev, EV_READ);
    }
    session_run(s);
}

static void tls_established(struct session *s)
{
    s->tls_handshake = 0;
    s->tls_active = 1;
    tls_info_get(bufferevent_openssl_get_ssl(s->bev), &s->tls);
    if (session_cfg(s)->smtpd_tls_loglevel >= 1)
        log_info("Anonymous TLS connection established from %s: %s with cipher %s "
                 "(%d/%d bits)", s->peer_label, s->tls.protocol, s->tls.cipher, s->tls.bits,
                 s->tls.alg_bits);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;
    (void)bev;
    if ((what & BEV_EVENT_CONNECTED) && s->tls_handshake) {
        tls_established(s);
        if (session_limit_tls_done(s, SSL_session_reused(bufferevent_openssl_get_ssl(s->bev))))
            session_run(s);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (s->tls_handshake) {
        /* nothing is answered on a connection that never became TLS */
        char e[256];
        unsigned long err = bufferevent_get_openssl_error(bev);
        if (err)
            log_info("SSL_accept error from %s: %s", s->peer_label,
                     tls_error_text(err, e, sizeof e));
        else
            log_info("SSL_accept error from %s: lost connection", s->peer_label);
        log_info("lost connection after %s from %s",
                 s->listen_kind == LISTEN_SUBMISSIONS ? "CONNECT" : "STARTTLS",
                 s->peer_label);
        s->state = SS_CLOSED;
        session_run(s);
        return;
    }
    if (!(what & BEV_EVENT_ERROR)) {
        /* end of input: the client sent all it will, but may still read
         * (`sendmail -bs` shuts down its sending side after the whole
         * dialogue). What it sent is answered, then the session closes;
         * writing to a client that is gone fails, and ends it. */
        s->input_eof = 1;
        session_run(s);
        return;
    }
    if (s->state == SS_DATA)
        log_info("lost connection after DATA from %s", s->peer_label);
    if (s->state == SS_COMMIT) {
        /* the message will still be committed and delivered; there is
         * just nobody left to tell (commit_finish ends the session) */
        bufferevent_disable(s->bev, EV_READ | EV_WRITE);
        s->lost = 1;
    } else {
        s->state = SS_CLOSED;
    }
    session_run(s);
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
            session_reply_raw(s, line);
        free(line);
        session_timer_arm(s, session_cfg(s)->smtpd_timeout);
        break;
    }
    case SS_CLOSING:
        s->state = SS_CLOSED;
        break;
    case SS_CMD:
    case SS_AUTH:
    case SS_DATA:
        log_info("timeout after %s from %s",
                 s->state == SS_DATA ? "DATA" : s->state == SS_AUTH ? "AUTH" : "command",
                 s->peer_label);
        session_auth_abort(s);
        session_reply(s, REPLY_TIMEOUT, session_cfg(s)->myhostname, NULL);
        break;
    case SS_PROXY:
        log_warning("haproxy read: timeout error from %s; closed without greeting",
                    s->peer_label);
        s->state = SS_CLOSED;
        break;
    case SS_AUTH_WAIT:      /* the backend's own timeout bounds it */
    case SS_DNS_WAIT:       /* smtpd_dns_timeout bounds it */
    case SS_COMMIT:
    case SS_CLOSED:
        break;
    }
    session_run(s);
}

/* The commit result is in (session_commit_done). */
static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_run(arg);
}

/* ---------- TLS ---------- */

/* The encrypted output reached the kernel: a session closing over TLS
 * waits for this, not just for the filter's buffer to empty. Deferred to
 * the wakeup event: the session may not be freed under libevent's write. */
static void on_raw_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                           void *arg)
{
    struct session *s = arg;
    if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0 && s->state == SS_CLOSING)
        event_active(s->wakeup, EV_TIMEOUT, 0);
}

void session_tls_begin(struct session *s)
{
    struct ssl_ctx_st *ctx = s->rt->smtpd_tls;
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    struct evbuffer *in = bufferevent_get_input(s->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    /* deferred callbacks: the handshake may end (or fail) while the filter
     * is being set up, and the session must not run, or be freed, inside
     * the command that started it */
    struct bufferevent *f =
        ssl ? bufferevent_openssl_filter_new(server_base(s->srv), s->bev, ssl,
                                             BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (!f) {
        /* libevent frees ssl on its own failures */
        log_warning("cannot start TLS with %s: %s", s->peer_label,
                    ctx ? "out of memory" : "no TLS context (listen changed without a "
                                            "restart?)");
        session_close(s);
        return;
    }
    s->raw_out_cb = evbuffer_add_cb(bufferevent_get_output(s->bev), on_raw_drained, s);
    s->bev = f;
    /* clients that just close the TCP connection are common: an end, not
     * an attack */
    bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
    bufferevent_setcb(f, on_read, on_write, on_event, s);
    bufferevent_setwatermark(f, EV_READ, 0, SESSION_INPUT_MAX);
    bufferevent_enable(f, EV_READ | EV_WRITE);
    s->tls_handshake = 1;
}

/* What the listener and smtpd_tls_security_level make of STARTTLS. */
static void tls_policy(struct session *s, enum listen_kind kind)
{
    const struct config *cfg = session_cfg(s);
    int may = strcmp(cfg->smtpd_tls_security_level, "may") == 0;
    int encrypt = strcmp(cfg->smtpd_tls_security_level, "encrypt") == 0;
    s->listen_kind = kind;
    if (!s->rt->smtpd_tls || kind == LISTEN_SUBMISSIONS)
        return;
    if (kind == LISTEN_SUBMISSION || may || encrypt) {
        s->tls_offer = 1;
        s->tls_required = encrypt;
    }
}

/* ---------- life cycle ---------- */

static struct session *session_create(struct server *srv, struct bufferevent *bev,
                                      enum listen_kind kind, const char *url,
                                      const struct sockaddr *sa, socklen_t salen,
                                      const char *reject);

struct session *session_new(struct server *srv, int fd, enum listen_kind kind,
                            const char *url, const struct sockaddr *sa, socklen_t salen,
                            const char *reject)
{
    struct bufferevent *bev =
        bufferevent_socket_new(server_base(srv), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return NULL;
    }
    return session_create(srv, bev, kind, url, sa, salen, reject);
}

struct session *session_new_bev(struct server *srv, struct bufferevent *bev,
                                const struct sockaddr *sa, socklen_t salen,
                                const char *reject)
{
    return session_create(srv, bev, LISTEN_SMTP, NULL, sa, salen, reject);
}

static struct session *session_create(struct server *srv, struct bufferevent *bev,
                                      enum listen_kind kind, const char *url,
                                      const struct sockaddr *sa, socklen_t salen,
                                      const char *reject)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        bufferevent_free(bev);
        return NULL;
    }
    s->srv = srv;
    s->bev = bev;
    s->rt = server_config_ref(srv, url);
    s->local_uid = -1;
    peer_set(s, sa, salen);
    if (sa->sa_family == AF_UNIX) {
        /* the local submission socket (`postern sendmail`): trusted like
         * mynetworks; the kernel tells who the peer is */
        struct ucred cred;
        socklen_t clen = sizeof cred;
        s->local_uid = getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_PEERCRED, &cred,
                                  &clen) == 0
                           ? (long)cred.uid : 65534L;
        snprintf(s->client_addr, sizeof s->client_addr, "local");
        snprintf(s->client_name, sizeof s->client_name, "localhost");
        snprintf(s->reverse_name, sizeof s->reverse_name, "localhost");
        snprintf(s->peer_label, sizeof s->peer_label, "local[uid=%ld]", s->local_uid);
        s->in_mynetworks = 1;
    }
    s->timer = evtimer_new(server_base(srv), on_timer, s);
    s->wakeup = event_new(server_base(srv), -1, 0, on_wakeup, s);
    if (!s->timer || !s->wakeup) {
        if (s->timer)
            event_free(s->timer);
        if (s->wakeup)
            event_free(s->wakeup);
        bufferevent_free(bev);
        server_config_unref(srv, s->rt);
        free(s);
        return NULL;
    }
    bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_INPUT_MAX);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->state = SS_CMD;
    if (sa->sa_family != AF_UNIX)
        tls_policy(s, kind);
    if (sa->sa_family != AF_UNIX && session_cfg(s)->smtpd_upstream_proxy_protocol[0] &&
        !reject) {
        proxy_start(s, kind);
        return s;
    }
    char rate_reject[256];
    if (!reject && session_limit_connect(s, rate_reject, sizeof rate_reject))
        reject = rate_reject;
    session_greet(s, kind, reject);
    return s;
}

/* The client as the connection, or the proxy's header, names it. */
static void peer_set(struct session *s, const struct sockaddr *sa, socklen_t salen)
{
    if ((size_t)salen > sizeof s->peer)
        salen = sizeof s->peer;
    memset(&s->peer, 0, sizeof s->peer);
    memcpy(&s->peer, sa, (size_t)salen);
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  s->client_addr, sizeof s->client_addr);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  s->client_addr, sizeof s->client_addr);
    else
        snprintf(s->client_addr, sizeof s->client_addr, "unknown");
    /* until the lookup in session_greet (smtpd_peername_lookup) */
    snprintf(s->client_name, sizeof s->client_name, "unknown");
    snprintf(s->reverse_name, sizeof s->reverse_name, "unknown");
    s->in_mynetworks = policy_netlist_match(s->rt->mynetworks, sa);
    snprintf(s->peer_label, sizeof s->peer_label, "%s[%s]", s->client_name, s->client_addr);
}

/* smtpd_upstream_proxy_protocol: only a listed proxy may name the client
 * (anyone else could claim an address in mynetworks), and nothing is said
 * before its header is in (SS_PROXY). */
static void proxy_start(struct session *s, enum listen_kind kind)
{
    if (!policy_netlist_match(s->rt->proxy_networks,
                              (const struct sockaddr *)(const void *)&s->peer)) {
        log_warning("connect from %s: not in smtpd_upstream_proxy_networks; closed without "
                    "greeting", s->peer_label);
        session_close(s);
        return;
    }
    if (kind == LISTEN_SUBMISSIONS) {
        /* the TLS handshake would have to start on the bytes after the
         * header; not done yet */
        log_warning("connect from %s: smtpd_upstream_proxy_protocol is not supported on a "
                    "smtps listener; closed", s->peer_label);
        session_close(s);
        return;
    }
    s->state = SS_PROXY;
    session_timer_arm(s, session_cfg(s)->smtpd_upstream_proxy_timeout);
}

/* The connection (and, behind a proxy, the header) is in: look up the
 * client's name (smtpd_peername_lookup; not for a client refused anyway),
 * then log it, and greet or refuse. */
void session_greet(struct session *s, enum listen_kind kind, const char *reject)
{
    if (s->dns_greet == 0) {
        s->dns_greet = 2;
        if (!reject && session_dns_peer(s, kind))
            return;
    }
    s->state = SS_CMD;
    s->announced = 1;
    log_info("connect from %s", s->peer_label);
    if (kind == LISTEN_SUBMISSIONS) {
        /* RFC 8314: the handshake first, then the greeting (or refusal) */
        if (!reject && session_limit_tls_start(s)) {
            session_close(s);
            return;
        }
        session_tls_begin(s);
        if (s->state != SS_CMD)
            return;
    }
    if (reject) {
        session_reply_raw(s, reject);
        session_close(s);
        return;
    }
    session_reply(s, REPLY_GREETING, session_cfg(s)->smtpd_banner, NULL);
    session_timer_arm(s, session_cfg(s)->smtpd_timeout);
}

void session_shutdown(struct session *s)
{
    s->shutdown_requested = 1;
    if (s->state == SS_PROXY)
        session_close(s);  /* nothing said yet; no reason to wait for the header */
    if (s->state == SS_CMD)
        session_reply(s, REPLY_SHUTDOWN, session_cfg(s)->myhostname, NULL);
}

void session_destroy(struct session *s)
{
    s->state = SS_CLOSED;
    session_run(s);
}

static void session_free(struct session *s)
{
    session_commit_cancel(s);
    session_auth_free(s);
    session_dns_free(s);
    if (s->announced)
        log_info("disconnect from %s", s->peer_label);
    session_tx_reset(s);
    free(s->pending_reply);
    event_free(s->timer);
    event_free(s->wakeup);
    if (s->raw_out_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(bufferevent_get_underlying(s->bev)),
                                 s->raw_out_cb);
    bufferevent_free(s->bev);
    server_config_unref(s->srv, s->rt);
    server_session_gone(s->srv, s);
    free(s);
}

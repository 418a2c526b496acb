/* session_cmd — the server session's commands: the command table and the
 * dispatcher that obeys it, the handlers, the mail transaction (MAIL FROM
 * to the end of DATA) and the DATA content written to the queue file.
 * Every reply goes through session_reply() by its reply_id. */
#include "session_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "../policy/policy.h"
#include "../policy/restrict.h"
#include "../auth/sasl.h"
#include "../queue/queue.h"
#include "../queue/spool.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "addrlist.h"
#include "server.h"
#include "session_internal.h"
#include "trace.h"

/* ---------- transaction ---------- */

void session_tx_reset(struct session *s)
{
    struct session_tx *tx = &s->tx;
    if (tx->msg)
        spool_msg_abort(tx->msg);
    for (size_t i = 0; i < tx->env.nrcpt; i++)
        free(tx->env.rcpt[i].addr);
    free(tx->env.rcpt);
    free(tx->env.sender);
    free(tx->from_hdr);
    memset(tx, 0, sizeof *tx);
}

/* Postfix's protocol names (RFC 3848): ESMTP, then S for TLS and A for
 * AUTH ("ESMTPSA"), the same suffixes after UTF8SMTP. */
static const char *proto_name(const struct session *s)
{
    static const char *const names[2][4] = {
        { "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" },
        { "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" },
    };
    if (!s->esmtp && !s->tx.env.smtputf8)
        return "SMTP";
    return names[s->tx.env.smtputf8 != 0][(s->tls_active ? 1 : 0) +
                                          (s->sasl_username[0] ? 2 : 0)];
}

static void rfc5322_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* replytext: our own reply, with any client text in it already made
 * log-safe; the fields are escaped here. */
static void log_reject_text(struct session *s, const char *stage, const char *replytext,
                            const char *to)
{
    char from_l[LOG_ADDR_SIZE], to_l[LOG_ADDR_SIZE], helo_l[LOG_ADDR_SIZE];
    log_info("NOQUEUE: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>",
             stage, s->peer_label, replytext,
             log_addr(s->tx.env.sender, from_l, sizeof from_l), to ? " to=<" : "",
             to ? log_addr(to, to_l, sizeof to_l) : "", to ? ">" : "", proto_name(s),
             log_addr(s->helo, helo_l, sizeof helo_l));
}

/* The reject line for reply id; arg (log-safe) fills its "%s". */
static void log_reject(struct session *s, const char *stage, enum reply_id id,
                       const char *arg, const char *to)
{
    char text[1200];
    reply_format(text, sizeof text, id, 0, arg, NULL);
    log_reject_text(s, stage, text, to);
}

/* ---------- restrictions ---------- */

/* The local submission socket skips them, as Postfix's pickup does: its
 * users are on this host, and the kernel told who they are. */
static int restrictions_apply(const struct session *s)
{
    return s->local_uid < 0;
}

static void restrict_snap(const struct session *s, const char *rcpt,
                          struct restrict_snapshot *q)
{
    const struct config *cfg = session_cfg(s);
    *q = (struct restrict_snapshot){
        .client_addr = s->client_addr,
        .client_name = s->client_name,
        .in_mynetworks = s->in_mynetworks,
        .sasl_enabled = cfg->smtpd_sasl_auth_enable,
        .sasl_username = s->sasl_username[0] ? s->sasl_username : NULL,
        .tls = s->tls_active,
        .smtputf8 = s->tx.env.smtputf8,
        .helo = s->helo[0] ? s->helo : NULL,
        .sender = s->tx.env.sender,
        .recipient = rcpt,
        .rcpt_count = s->tx.env.nrcpt,
        .client_name_status = (enum dns_peer)s->client_name_status,
        .reverse_name_status = (enum dns_peer)s->reverse_name_status,
        .reverse_name = s->reverse_name,
        .dns_fact = session_dns_fact,
        .dns_arg = (void *)s,
    };
}

/* The reply for the log: it quotes the client's text in "<...>" (the
 * recipient, sender or HELO name), which gets log_addr's escapes there, so
 * that a quoted local part cannot end the reject line's text early or add
 * a field to it; the rest is ours or the administrator's. */
static void reply_for_log(const char *reply, const char *const *quoted, size_t nq,
                          char *out, size_t outlen)
{
    const char *q = NULL, *at = NULL;
    for (size_t i = 0; i < nq && !at; i++) {
        if (!quoted[i] || !quoted[i][0])
            continue;
        const char *p = strstr(reply, quoted[i]);
        size_t n = strlen(quoted[i]);
        if (p && p > reply && p[-1] == '<' && p[n] == '>') {
            q = quoted[i];
            at = p;
        }
    }
    if (!at) {
        log_sanitize(reply, strlen(reply), out, outlen);
        return;
    }
    char head[RESTRICT_REPLY_MAX], addr[LOG_ADDR_SIZE], tail[RESTRICT_REPLY_MAX];
    const char *rest = at + strlen(q);
    log_sanitize(reply, (size_t)(at - reply), head, sizeof head);
    log_addr(q, addr, sizeof addr);
    log_sanitize(rest, strlen(rest), tail, sizeof tail);
    size_t o = 0;
    const char *parts[] = { head, addr, tail };
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (n > outlen - 1 - o)
            n = outlen - 1 - o;
        memcpy(out + o, parts[i], n);
        o += n;
    }
    out[o] = '\0';
}

/* A decision's reply (res->code set): logged as Postfix's reject line
 * and sent as it is. */
static void restrict_refuse(struct session *s, const char *stage,
                            const struct restrict_result *res, const char *to)
{
    char text[RESTRICT_REPLY_MAX + LOG_ADDR_SIZE];
    const char *const quoted[] = { to, s->tx.env.sender, s->helo };
    reply_for_log(res->reply, quoted, sizeof quoted / sizeof quoted[0], text, sizeof text);
    log_reject_text(s, stage, text, to);
    session_reply_line(s, res->reply);
}

static void restrict_warn(const struct session *s, const struct restrict_result *res)
{
    char text[RESTRICT_REPLY_MAX];
    if (res->warning[0])
        log_warning("%s: %s", s->peer_label,
                    log_sanitize(res->warning, strlen(res->warning), text, sizeof text));
}

/* ---------- handlers ---------- */

static void hello(struct session *s, const struct smtp_command *c, int esmtp)
{
    const struct config *cfg = session_cfg(s);
    session_tx_reset(s);
    s->need_helo = 0;
    /* only the safe form is kept: it goes into Received:, the queue file
     * and the logs (-v shows the exact bytes of the command) */
    trace_helo_name(c->arg, strlen(c->arg), s->helo, sizeof s->helo);
    s->esmtp = esmtp;
    if (!esmtp) {
        session_reply(s, REPLY_HELLO, cfg->myhostname, NULL);
        return;
    }
    char size[32] = "SIZE";
    if (cfg->message_size_limit > 0)
        snprintf(size, sizeof size, "SIZE %lld", cfg->message_size_limit);
    /* Postfix's order */
    const char *lines[10];
    size_t n = 0;
    lines[n++] = cfg->myhostname;
    lines[n++] = "PIPELINING";
    lines[n++] = size;
    if (s->tls_offer && !s->tls_active)
        lines[n++] = "STARTTLS";
    char auth[64] = "AUTH ", auth_old[64] = "AUTH=";
    unsigned mechs = session_auth_mechs(s);
    if (mechs) {
        sasl_mech_list(mechs, auth + 5, sizeof auth - 5);
        lines[n++] = auth;
        if (cfg->broken_sasl_auth_clients) {
            /* the pre-RFC form old Outlook versions look for */
            sasl_mech_list(mechs, auth_old + 5, sizeof auth_old - 5);
            lines[n++] = auth_old;
        }
    }
    lines[n++] = "ENHANCEDSTATUSCODES";
    lines[n++] = "8BITMIME";
    lines[n++] = "SMTPUTF8";
    for (size_t i = 0; i < n; i++) {
        char line[600];
        reply_format(line, sizeof line, REPLY_HELLO, i + 1 < n, lines[i], NULL);
        session_reply_raw(s, line);
    }
}

static void cmd_helo(struct session *s, const struct smtp_command *c)
{
    hello(s, c, 0);
}

static void cmd_ehlo(struct session *s, const struct smtp_command *c)
{
    hello(s, c, 1);
}

static void cmd_mail(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = session_cfg(s);
    if (session_limit_mail(s))
        return;
    if (c->size >= 0 && cfg->message_size_limit > 0 && c->size > cfg->message_size_limit) {
        session_reply(s, REPLY_SIZE, NULL, NULL);
        return;
    }
    /* Postfix's check: the queue's file system keeps queue_minfree free
     * after this message (its SIZE, when announced) */
    unsigned long long free_bytes = 0;
    int ro = 0;
    if (fs_free_bytes(cfg->queue_directory, &free_bytes, &ro) == 0 &&
        (ro || free_bytes < (unsigned long long)cfg->queue_minfree +
                                 (c->size > 0 ? (unsigned long long)c->size : 0))) {
        log_warning("not enough free space in mail queue: %llu bytes < queue_minfree %lld + "
                    "message size %lld%s", free_bytes, cfg->queue_minfree,
                    c->size > 0 ? c->size : 0LL, ro ? " (read-only file system)" : "");
        session_reply(s, REPLY_NO_STORAGE, NULL, NULL);
        return;
    }
    s->tx.env.sender = strdup(c->addr.is_null ? "" : c->addr.full);
    if (!s->tx.env.sender) {
        session_reply(s, REPLY_NOMEM, NULL, NULL);
        return;
    }
    s->tx.env.body_8bit = c->body == BODY_8BITMIME;
    s->tx.env.smtputf8 = c->smtputf8;
    if (restrictions_apply(s) && s->rt->restrictions) {
        struct restrict_snapshot q;
        struct restrict_result res;
        restrict_snap(s, NULL, &q);
        restrict_check_mail(s->rt->restrictions, &q, &res);
        restrict_warn(s, &res);
        if (res.code) {
            restrict_refuse(s, "MAIL", &res, NULL);
            session_tx_reset(s);
            return;
        }
    }
    s->tx.have_mail = 1;
    session_reply(s, REPLY_MAIL_OK, NULL, NULL);
}

static void cmd_rcpt(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = session_cfg(s);
    struct session_tx *tx = &s->tx;
    if (session_limit_rcpt(s))
        return;
    if ((long long)tx->env.nrcpt >= cfg->smtpd_recipient_limit) {
        session_reply(s, REPLY_TOO_MANY_RCPT, NULL, NULL);
        return;
    }
    if (restrictions_apply(s) && !s->rt->restrictions) {
        /* a snapshot always has them (runtime_load); never relay without */
        session_reply(s, REPLY_RELAY_DENIED, c->addr.full, NULL);
        return;
    }
    if (restrictions_apply(s)) {
        struct restrict_snapshot q;
        struct restrict_result res;
        restrict_snap(s, c->addr.full, &q);
        restrict_check_rcpt(s->rt->restrictions, &q, &res);
        if (res.need[0]) {
            session_dns_need(s, (int)res.need_kind, res.need);
            return;
        }
        restrict_warn(s, &res);
        if (res.code) {
            restrict_refuse(s, "RCPT", &res, c->addr.full);
            return;
        }
    }
    if (tx->env.nrcpt == tx->rcpt_cap) {
        size_t nc = tx->rcpt_cap ? tx->rcpt_cap * 2 : 4;
        struct env_rcpt *r = realloc(tx->env.rcpt, nc * sizeof *r);
        if (!r) {
            session_reply(s, REPLY_NOMEM, NULL, NULL);
            return;
        }
        tx->env.rcpt = r;
        tx->rcpt_cap = nc;
    }
    struct env_rcpt *r = &tx->env.rcpt[tx->env.nrcpt];
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
        session_reply(s, REPLY_NOMEM, NULL, NULL);
        return;
    }
    tx->env.nrcpt++;
    session_reply(s, REPLY_RCPT_OK, NULL, NULL);
}

static int msg_write(struct session *s, const char *p, size_t n)
{
    if (s->tx.write_error)
        return -1;
    if (spool_msg_write(s->tx.msg, p, n) < 0) {
        log_warning_errno("%s: queue file write error", spool_msg_qid(s->tx.msg));
        s->tx.write_error = 1;
        return -1;
    }
    return 0;
}

static void cmd_data(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = session_cfg(s);
    struct session_tx *tx = &s->tx;
    char err[256];
    (void)c;
    if (restrictions_apply(s) && s->rt->restrictions) {
        struct restrict_snapshot q;
        struct restrict_result res;
        restrict_snap(s, tx->env.nrcpt == 1 ? tx->env.rcpt[0].addr : NULL, &q);
        restrict_check_data(s->rt->restrictions, &q, &res);
        if (res.need[0]) {
            session_dns_need(s, (int)res.need_kind, res.need);
            return;
        }
        restrict_warn(s, &res);
        if (res.code) {
            restrict_refuse(s, "DATA", &res, NULL);
            return;
        }
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    tx->env.arrival_sec = tv.tv_sec;
    tx->env.arrival_usec = tv.tv_usec;
    tx->env.client_addr = s->client_addr;
    tx->env.client_name = s->client_name;
    tx->env.helo = s->helo;
    tx->env.protocol = (char *)proto_name(s);
    /* kept with the message: the login may choose its upstream
     * (smtpd_sasl_login_relayhost_maps) when it leaves the queue */
    tx->env.sasl_username = s->sasl_username[0] ? s->sasl_username : NULL;
    tx->msg = queue_msg_create(server_queue(s->srv), &tx->env, err, sizeof err);
    /* borrowed pointers: the envelope does not own them in a session */
    tx->env.client_addr = tx->env.client_name = tx->env.helo = tx->env.protocol = NULL;
    tx->env.sasl_username = NULL;
    if (!tx->msg) {
        log_warning("cannot create queue file: %s", err);
        session_reply(s, REPLY_QUEUE_WRITE, NULL, NULL);
        return;
    }
    /* the trace header, as Postfix writes it */
    char date[64], hdr[2048];
    rfc5322_date((time_t)tv.tv_sec, date, sizeof date);
    struct trace_received tr = {
        .helo = s->helo, .client_name = s->client_name, .client_addr = s->client_addr,
        .myhostname = cfg->myhostname, .protocol = proto_name(s), .qid = tx->env.qid,
        .for_rcpt = tx->env.nrcpt == 1 ? tx->env.rcpt[0].addr : NULL, .date = date,
        .local_uid = s->local_uid,
        .auth_user = cfg->smtpd_sasl_authenticated_header && s->sasl_username[0]
                         ? s->sasl_username : NULL,
    };
    if (s->tls_active) {
        tr.tls_protocol = s->tls.protocol;
        tr.tls_cipher = s->tls.cipher;
        tr.tls_bits = s->tls.bits;
        tr.tls_alg_bits = s->tls.alg_bits;
    }
    size_t n = trace_format_received(&tr, hdr, sizeof hdr);
    data_scanner_init(&tx->ds, cfg->message_size_limit, cfg->header_size_limit);
    tx->write_error = 0;
    tx->hdr_line_start = 1;
    msg_write(s, hdr, n);
    s->state = SS_DATA;
    session_reply(s, REPLY_DATA, NULL, NULL);
}

/* RFC 3207. Postfix's replies: 554 when TLS is already active, 502 where
 * STARTTLS is not offered. After the 220 the session forgets everything
 * the client said in plaintext: the transaction, the HELO name, and what
 * it pipelined (session_tls_begin). */
static void cmd_starttls(struct session *s, const struct smtp_command *c)
{
    (void)c;
    if (s->tls_active) {
        session_reply(s, REPLY_TLS_ACTIVE, NULL, NULL);
        return;
    }
    if (!s->tls_offer) {
        session_reply(s, REPLY_NOT_IMPLEMENTED, NULL, NULL);
        return;
    }
    if (session_limit_tls_start(s))
        return;
    session_reply(s, REPLY_STARTTLS, NULL, NULL);
    session_tx_reset(s);
    s->helo[0] = '\0';
    s->esmtp = 0;
    s->need_helo = 1;
    session_tls_begin(s);
}

static void cmd_rset(struct session *s, const struct smtp_command *c)
{
    (void)c;
    session_tx_reset(s);
    session_reply(s, REPLY_OK, NULL, NULL);
}

/* ---------- DATA content ---------- */

/* Bound of the From: field bodies kept for the check: a header section is
 * bounded anyway (header_size_limit), this bounds the copy. */
#define FROM_HDR_MAX 8192

static int wants_header_from(const struct session *s)
{
    return restrictions_apply(s) && s->rt->restrictions && s->sasl_username[0] &&
           restrict_wants_header_from(s->rt->restrictions);
}

static void from_append(struct session_tx *tx, const char *p, size_t n)
{
    if (!tx->from_hdr && !(tx->from_hdr = malloc(FROM_HDR_MAX + 1)))
        return;
    if (n > FROM_HDR_MAX - tx->from_len)
        n = FROM_HDR_MAX - tx->from_len;
    for (size_t i = 0; i < n; i++)      /* unfold: line ends become blanks */
        tx->from_hdr[tx->from_len++] = p[i] == '\r' || p[i] == '\n' ? ' ' : p[i];
    tx->from_hdr[tx->from_len] = '\0';
}

/* Header bytes as the scanner emits them (whole lines, or pieces of a
 * line longer than DATA_LINE_MAX): keep the bodies of From: fields. */
static void from_collect(struct session_tx *tx, const char *p, size_t n)
{
    while (n > 0) {
        if (tx->hdr_line_start) {
            tx->hdr_line_start = 0;
            if (p[0] != ' ' && p[0] != '\t') {
                tx->hdr_in_from = n >= 5 && strncasecmp(p, "From:", 5) == 0;
                if (tx->hdr_in_from) {
                    /* several From: fields: one list */
                    from_append(tx, ",", 1);
                    p += 5;
                    n -= 5;
                    continue;
                }
            }
        }
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) + 1 : n;
        if (tx->hdr_in_from)
            from_append(tx, p, k);
        if (nl)
            tx->hdr_line_start = 1;
        p += k;
        n -= k;
    }
}

struct from_check {
    struct session *s;
    struct restrict_result res;
    struct restrict_snapshot q;
};

static void from_check_one(const char *addr, size_t n, void *arg)
{
    struct from_check *fc = arg;
    char a[ADDR_PATH_MAX * 4 + 1];
    if (fc->res.code || n >= sizeof a)
        return;
    memcpy(a, addr, n);
    a[n] = '\0';
    restrict_check_header_from(fc->s->rt->restrictions, &fc->q, a, &fc->res);
    restrict_warn(fc->s, &fc->res);
}

/* The first From: address refused, as the transaction's reply at the dot:
 * 1 when it was refused (logged and answered). */
static int from_check(struct session *s)
{
    struct session_tx *tx = &s->tx;
    if (!wants_header_from(s) || !tx->from_hdr)
        return 0;
    struct from_check fc = { .s = s };
    restrict_snap(s, tx->env.nrcpt == 1 ? tx->env.rcpt[0].addr : NULL, &fc.q);
    addrlist_parse(tx->from_hdr, tx->from_len, from_check_one, &fc);
    if (!fc.res.code)
        return 0;
    char text[RESTRICT_REPLY_MAX + LOG_ADDR_SIZE];
    reply_for_log(fc.res.reply, NULL, 0, text, sizeof text);
    log_reject_text(s, "END-OF-MESSAGE", text, NULL);
    session_tx_reset(s);
    s->state = SS_CMD;
    session_reply_line(s, fc.res.reply);
    return 1;
}

void session_data_emit(void *arg, enum data_emit kind, const char *p, size_t n)
{
    struct session *s = arg;
    if (kind == DATA_EMIT_BYTES) {
        if (!s->tx.ds.headers_done && wants_header_from(s))
            from_collect(&s->tx, p, n);
        msg_write(s, p, n);
        return;
    }
    /* end of the header section: add what Postfix's cleanup would */
    const struct config *cfg = session_cfg(s);
    if (!cfg->always_add_missing_headers)
        return;
    char buf[600];
    if (!s->tx.ds.have_message_id) {
        struct tm tm;
        time_t t = (time_t)s->tx.env.arrival_sec;
        gmtime_r(&t, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
        int len = snprintf(buf, sizeof buf, "Message-ID: <%s.%s@%s>\r\n", stamp,
                           s->tx.env.qid, cfg->myhostname);
        if (len > 0 && (size_t)len < sizeof buf)
            msg_write(s, buf, (size_t)len);
    }
    if (!s->tx.ds.have_date) {
        char date[64];
        rfc5322_date((time_t)s->tx.env.arrival_sec, date, sizeof date);
        int len = snprintf(buf, sizeof buf, "Date: %s\r\n", date);
        if (len > 0 && (size_t)len < sizeof buf)
            msg_write(s, buf, (size_t)len);
    }
}

/* A message refused at its end: the transaction is over, one reply. */
static void data_refuse(struct session *s, enum reply_id id)
{
    session_tx_reset(s);
    s->state = SS_CMD;
    session_reply(s, id, NULL, NULL);
}

void session_data_finish(struct session *s)
{
    struct session_tx *tx = &s->tx;
    switch (tx->ds.error) {
    case DATA_ERR_SIZE:
        log_reject(s, "END-OF-MESSAGE", REPLY_SIZE, NULL, NULL);
        data_refuse(s, REPLY_SIZE);
        return;
    case DATA_ERR_HEADER_SIZE:
        data_refuse(s, REPLY_HEADER_SIZE);
        return;
    case DATA_ERR_BARE_CR:
        /* the log keeps its shorter text, not the reply's */
        log_reject_text(s, "END-OF-MESSAGE", "550 5.6.0 bare <CR> in message content", NULL);
        data_refuse(s, REPLY_BARE_CR);
        return;
    case DATA_OK:
        break;
    }
    if (tx->ds.received > session_cfg(s)->hopcount_limit) {
        /* a relay pointing back at itself, or a loop between relays */
        log_reject(s, "END-OF-MESSAGE", REPLY_HOPS, NULL, NULL);
        data_refuse(s, REPLY_HOPS);
        return;
    }
    if (from_check(s))
        return;
    if (tx->write_error || spool_msg_finish(tx->msg) < 0) {
        log_warning("%s: queue file write error; message not accepted",
                    spool_msg_qid(tx->msg));
        data_refuse(s, REPLY_QUEUE_WRITE);
        return;
    }
    /* the 250 waits for the fsync */
    struct spool_msg *m = tx->msg;
    tx->msg = NULL;
    session_commit_submit(s, m);
}

/* ---------- the command table ---------- */

static const struct session_cmd cmds[] = {
    { CMD_HELO, SCF_LAST | SCF_PRE_TLS | SCF_JUNK, cmd_helo, REPLY_NONE,
      REPLY_SYNTAX_HELO, REPLY_NONE, REPLY_NONE },
    { CMD_EHLO, SCF_LAST | SCF_PRE_TLS | SCF_JUNK, cmd_ehlo, REPLY_NONE,
      REPLY_SYNTAX_EHLO, REPLY_NONE, REPLY_NONE },
    { CMD_MAIL, SCF_NO_TX, cmd_mail, REPLY_NONE,
      REPLY_SYNTAX_MAIL, REPLY_BAD_SENDER, REPLY_MAIL_PARAM },
    { CMD_RCPT, SCF_NEED_TX, cmd_rcpt, REPLY_NONE,
      REPLY_SYNTAX_RCPT, REPLY_BAD_RCPT, REPLY_RCPT_PARAM },
    { CMD_DATA, SCF_LAST | SCF_NEED_TX | SCF_NEED_RCPT, cmd_data, REPLY_NONE,
      REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_RSET, SCF_JUNK, cmd_rset, REPLY_NONE, REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_NOOP, SCF_LAST | SCF_PRE_TLS | SCF_JUNK, NULL, REPLY_OK,
      REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_QUIT, SCF_LAST | SCF_PRE_TLS, NULL, REPLY_BYE,
      REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_HELP, SCF_JUNK, NULL, REPLY_HELP, REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_VRFY, SCF_LAST | SCF_JUNK, NULL, REPLY_VRFY, REPLY_SYNTAX_VRFY, REPLY_NONE, REPLY_NONE },
    { CMD_EXPN, SCF_LAST, NULL, REPLY_EXPN_DISABLED,
      REPLY_SYNTAX_EXPN, REPLY_NONE, REPLY_NONE },
    { CMD_STARTTLS, SCF_LAST | SCF_PRE_TLS, cmd_starttls, REPLY_NONE,
      REPLY_NONE, REPLY_NONE, REPLY_NONE },
    /* the client waits for each 334 anyway; after the verdict, what it
     * pipelined is read as commands */
    { CMD_AUTH, SCF_LAST, session_cmd_auth, REPLY_NONE, REPLY_NONE, REPLY_NONE, REPLY_NONE },
    { CMD_BDAT, 0, NULL, REPLY_NOT_IMPLEMENTED, REPLY_NONE, REPLY_NONE, REPLY_NONE },
};

const struct session_cmd *session_cmd_find(enum smtp_verb v)
{
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (cmds[i].verb == v)
            return &cmds[i];
    return NULL;
}

static enum reply_id syntax_reply(const struct session_cmd *cmd, enum cmd_status st)
{
    enum reply_id r = cmd->syntax;
    if (st == CMD_ERR_ADDRESS && cmd->bad_address != REPLY_NONE)
        r = cmd->bad_address;
    else if (st == CMD_ERR_PARAM && cmd->bad_param != REPLY_NONE)
        r = cmd->bad_param;
    return r != REPLY_NONE ? r : REPLY_SYNTAX;
}

enum reply_id session_cmd_check(const struct session_cmd *cmd, enum cmd_status st,
                                const struct session_cmd_state *ss)
{
    if (ss->tls_required && !ss->tls_active && !(cmd->flags & SCF_PRE_TLS))
        return REPLY_MUST_STARTTLS;
    if (ss->need_helo && cmd->verb == CMD_MAIL)
        return REPLY_NEED_HELO;
    if (st != CMD_OK)
        return syntax_reply(cmd, st);
    if ((cmd->flags & SCF_NEED_TX) && !ss->in_tx)
        return REPLY_NEED_MAIL;
    if ((cmd->flags & SCF_NEED_RCPT) && ss->nrcpt == 0)
        return REPLY_NEED_RCPT;
    if ((cmd->flags & SCF_NO_TX) && ss->in_tx)
        return REPLY_NESTED_MAIL;
    return REPLY_NONE;
}

/* ---------- dispatcher ---------- */

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

static void trace_command(struct session *s, const char *line, size_t len)
{
    char clean[300];
    /* a client's credentials never reach the log, not even with -v:
     * neither AUTH lines nor the SASL responses that may follow */
    enum trace_redact r = command_trace_redact(line, len, &s->trace_after_auth);
    if (r == TRACE_AUTH)
        log_debug("%s: < AUTH <redacted>", s->peer_label);
    else if (r == TRACE_SECRET)
        log_debug("%s: < <redacted>", s->peer_label);
    else
        log_debug("%s: < %s", s->peer_label, log_sanitize(line, len, clean, sizeof clean));
}

void session_command(struct session *s, const char *line, size_t len)
{
    if (!s->dns_replay) {
        s->dns_rounds = 0;
        if (log_verbose())
            trace_command(s, line, len);
    }
    /* kept for session_dns_need: a command that waits for DNS runs again */
    s->cur_line = line;
    s->cur_len = len;
    if (forbidden_command(line, len)) {
        log_warning("non-SMTP command from %s", s->peer_label);
        session_reply(s, REPLY_FORBIDDEN, NULL, NULL);
        return;
    }
    struct smtp_command c;
    unsigned pflags = s->tx.env.smtputf8 ? CMD_PARSE_UTF8 : 0;
    if (restrictions_apply(s) && s->rt->restrictions &&
        !restrict_strict_rfc821(s->rt->restrictions))
        pflags |= CMD_PARSE_NOBRACKET;
    enum cmd_status st = command_parse(line, len, pflags, &c);
    /* CMD_ERR_UNKNOWN and CMD_ERR_NUL leave the verb CMD_UNKNOWN */
    const struct session_cmd *cmd = session_cmd_find(c.verb);
    if (!cmd) {
        session_reply(s, REPLY_UNKNOWN, NULL, NULL);
        return;
    }
    const struct session_cmd_state ss = {
        .tls_required = s->tls_required, .tls_active = s->tls_active,
        .in_tx = s->tx.have_mail, .nrcpt = s->tx.env.nrcpt, .need_helo = s->need_helo,
    };
    enum reply_id refused = session_cmd_check(cmd, st, &ss);
    if ((cmd->flags & SCF_JUNK) && ++s->junk > session_cfg(s)->smtpd_junk_command_limit)
        s->junk_pending = 1;
    if (refused != REPLY_NONE)
        session_reply(s, refused, NULL, NULL);
    else if (cmd->handler)
        cmd->handler(s, &c);
    else
        session_reply(s, cmd->reply, NULL, NULL);
    /* whatever the outcome: a client that pipelined past it did not wait
     * for this reply, and gets it before anything that follows is read */
    if (cmd->flags & SCF_LAST)
        s->group_wait = 1;
    s->cur_line = NULL;
}

/* session_auth — SMTP AUTH (RFC 4954) in the server session: whether it is
 * offered, the AUTH command, the SASL exchange (auth/sasl.h, pure) over
 * the client's lines, and the check by the snapshot's backend
 * (auth_verify_start, off the event loop) while the session reads nothing.
 *
 * The client's responses are never parsed as commands and never logged;
 * the buffers that held them are wiped (the line by session.c, the
 * exchange here). Failed attempts go to the per-address limit
 * (smtpd_client_auth_rate_limit, session_limits.c), which is asked before
 * each exchange, and count as errors (tarpit). */
#include <stdlib.h>
#include <string.h>

#include "../auth/auth.h"
#include "../auth/sasl.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "command.h"
#include "session_internal.h"

unsigned session_auth_mechs(const struct session *s)
{
    const struct config *cfg = session_cfg(s);
    if (!cfg->smtpd_sasl_auth_enable || !s->rt->auth || s->local_uid >= 0)
        return 0;
    if (cfg->smtpd_tls_auth_only && !s->tls_active)
        return 0;
    return sasl_mechs_allowed(cfg->smtpd_sasl_security_options.v,
                              cfg->smtpd_sasl_security_options.n);
}

static void exchange_free(struct session *s)
{
    if (s->sasl) {
        sasl_wipe(s->sasl);
        free(s->sasl);
        s->sasl = NULL;
    }
}

void session_auth_abort(struct session *s)
{
    if (s->state != SS_AUTH)
        return;
    exchange_free(s);
    s->state = SS_CMD;
}

void session_auth_free(struct session *s)
{
    if (s->auth_req) {
        auth_verify_cancel(s->auth_req);
        s->auth_req = NULL;
    }
    exchange_free(s);
}

/* A failed attempt: Postfix's warning (what fail2ban's postfix[mode=auth]
 * filter reads: keep its shape), and one more for the per-client limit.
 * why is for the log, never a secret. */
static void auth_count(struct session *s, const char *mech, const char *result)
{
    const char *v[2] = { mech ? mech : "", result };
    metrics_inc(metrics_series(server_metrics(s->srv)->auth, v));
}

static void auth_failed(struct session *s, const char *mech, const char *why)
{
    char why_l[600];
    auth_count(s, mech, "failure");
    log_warning("%s: SASL %s authentication failed: %s", s->peer_label, mech,
                log_sanitize(why, strlen(why), why_l, sizeof why_l));
    session_limit_auth_failed(s);
}

static void on_auth(void *arg, const struct auth_verdict *v)
{
    struct session *s = arg;
    s->auth_req = NULL;
    if (s->state != SS_AUTH_WAIT)
        return;
    s->state = SS_CMD;
    session_timer_arm(s, session_cfg(s)->smtpd_timeout);
    switch (v->result) {
    case AUTH_OK:
        snprintf(s->sasl_username, sizeof s->sasl_username, "%s", v->user);
        s->account_rate = v->rate;
        s->account_window_ms = v->rate_window_ms;
        auth_count(s, s->sasl_method, "success");
        session_reply(s, REPLY_AUTH_OK, NULL, NULL);
        break;
    case AUTH_FAIL:
        auth_failed(s, s->sasl_method, v->why);
        s->sasl_method = NULL;
        session_reply(s, REPLY_AUTH_FAILED, NULL, NULL);
        break;
    case AUTH_TEMP: {
        char why_l[600];
        auth_count(s, s->sasl_method, "error");
        log_warning("%s: SASL %s authentication failure: %s", s->peer_label,
                    s->sasl_method, log_sanitize(v->why, strlen(v->why), why_l, sizeof why_l));
        s->sasl_method = NULL;
        session_reply(s, REPLY_AUTH_TEMP, NULL, NULL);
        break;
    }
    }
    session_resume(s);
}

/* Where an exchange goes after sasl_start or sasl_step. */
static void exchange_next(struct session *s, enum sasl_status st)
{
    struct sasl_exchange *x = s->sasl;
    if (st == SASL_CONTINUE) {
        s->state = SS_AUTH;
        session_reply(s, REPLY_AUTH_CHALLENGE, x->challenge, NULL);
        return;
    }
    s->state = SS_CMD;
    if (st != SASL_DONE) {
        /* the exchange is wiped by every error status */
        const char *mech = x->mech ? sasl_mech_name(x->mech) : "AUTH";
        const char *reply = sasl_reply(st);
        exchange_free(s);
        if (strncmp(reply, "535", 3) == 0)
            auth_failed(s, mech, reply + 10);
        session_reply_line(s, reply);
        return;
    }
    s->sasl_method = sasl_mech_name(x->mech);
    const struct auth_peer peer = {
        .client_addr = s->client_addr,
        .server_addr = NULL,
        .secured = s->tls_active,
    };
    s->auth_req = auth_verify_start(s->rt->auth, x->authcid, x->passwd, &peer, on_auth, s);
    exchange_free(s);
    if (!s->auth_req) {
        s->sasl_method = NULL;
        session_reply(s, REPLY_AUTH_TEMP, NULL, NULL);
        return;
    }
    s->state = SS_AUTH_WAIT;
}

void session_cmd_auth(struct session *s, const struct smtp_command *c)
{
    const struct config *cfg = session_cfg(s);
    unsigned mechs = session_auth_mechs(s);
    if (!mechs) {
        /* offered, but not before TLS: say why (RFC 4954 538) */
        if (cfg->smtpd_sasl_auth_enable && s->rt->auth && s->local_uid < 0 &&
            cfg->smtpd_tls_auth_only && !s->tls_active)
            session_reply(s, REPLY_AUTH_ENCRYPT, NULL, NULL);
        else
            session_reply(s, REPLY_AUTH_DISABLED, NULL, NULL);
        return;
    }
    if (s->sasl_username[0]) {
        session_reply(s, REPLY_AUTH_TWICE, NULL, NULL);
        return;
    }
    if (s->tx.have_mail) {
        session_reply(s, REPLY_AUTH_IN_TX, NULL, NULL);
        return;
    }
    if (session_limit_auth(s))
        return;
    if (!(s->sasl = calloc(1, sizeof *s->sasl))) {
        session_reply(s, REPLY_NOMEM, NULL, NULL);
        return;
    }
    exchange_next(s, sasl_start(s->sasl, c->auth_arg, c->auth_len, mechs));
}

void session_auth_line(struct session *s, const char *line, size_t len)
{
    if (log_verbose())
        log_debug("%s: < <redacted>", s->peer_label);
    exchange_next(s, sasl_step(s->sasl, line, len));
}

/* session_limits — the session's side of the anvil limits (policy/anvil.h):
 * what it counts, when it asks, and what it answers and logs.
 *
 * Per client address, outside smtpd_client_event_limit_exceptions and
 * never for the local submission socket: connections when the session is
 * greeted (behind a proxy, the address its header names), MAIL FROM and
 * RCPT TO commands, failed AUTH attempts, new (not resumed) TLS sessions.
 * Replies and warnings are
 * Postfix's smtpd's, so that log watchers and administrators recognise
 * them. Per account (the users file's rate=N/W): messages queued for the
 * login, asked at MAIL FROM, counted at "250 queued" -- a message cut off
 * by the limit never gets as far as DATA, and only mail that was accepted
 * uses up the quota. Sessions of one account that run in parallel can each
 * pass MAIL before the others' messages are counted, so the quota may be
 * overshot by the messages in flight. */
#include <stdio.h>
#include <string.h>

#include "../auth/users.h"
#include "../policy/anvil.h"
#include "../policy/policy.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "server.h"
#include "session_internal.h"

static const char *service(const struct session *s)
{
    return server_kind_service(s->listen_kind);
}

/* The key of a client the anvil limits apply to; 0 for an exempt one. */
static int client_key(const struct session *s, struct anvil_key *k)
{
    if (!s->rt->anvil || s->local_uid >= 0)
        return 0;
    if (s->rt->event_exceptions &&
        policy_netlist_match(s->rt->event_exceptions,
                             (const struct sockaddr *)(const void *)&s->peer))
        return 0;
    return anvil_key_client(s->client_addr, k);
}

static long long unit_ms(const struct session *s)
{
    return session_cfg(s)->anvil_rate_time_unit * 1000;
}

int session_limit_exempt(const struct session *s)
{
    struct anvil_key k;
    return !client_key(s, &k);
}

int session_limit_connect(struct session *s, char *reject, size_t rejectlen)
{
    const struct config *cfg = session_cfg(s);
    struct anvil_key k;
    if (cfg->smtpd_client_connection_rate_limit <= 0 || !client_key(s, &k))
        return 0;
    unsigned long n = anvil_count(s->rt->anvil, &k, ANVIL_CONNECT, unit_ms(s),
                                  clock_monotonic_ms(), NULL);
    if ((long long)n <= cfg->smtpd_client_connection_rate_limit)
        return 0;
    log_warning("Connection rate limit exceeded: %lu from %s for service %s", n,
                s->peer_label, service(s));
    reply_format(reject, rejectlen, REPLY_TOO_MANY_FROM, 0, cfg->myhostname, s->client_addr);
    return 1;
}

/* One more event ev; over limit: the warning and reply id, and 1. */
static int over(struct session *s, enum anvil_event ev, long long limit, const char *what,
                enum reply_id id)
{
    struct anvil_key k;
    if (limit <= 0 || !client_key(s, &k))
        return 0;
    unsigned long n = anvil_count(s->rt->anvil, &k, ev, unit_ms(s), clock_monotonic_ms(),
                                  NULL);
    if ((long long)n <= limit)
        return 0;
    log_warning("%s rate limit exceeded: %lu from %s for service %s", what, n, s->peer_label,
                service(s));
    session_reply(s, id, s->client_addr, NULL);
    return 1;
}

/* The account's quota, asked before the client's own limit, which would
 * otherwise count a MAIL that the quota refuses anyway. */
static int account_over(struct session *s)
{
    struct anvil_key k;
    if (!s->account_rate || !s->sasl_username[0] || !s->rt->anvil)
        return 0;
    anvil_key_account(s->rt->anvil, s->sasl_username, &k);
    long long left;
    unsigned long n = anvil_peek(s->rt->anvil, &k, ANVIL_MAIL, s->account_window_ms,
                                 clock_monotonic_ms(), &left);
    if (n < s->account_rate)
        return 0;
    char rate[64], name[300];
    users_rate_format(s->account_rate, s->account_window_ms, rate, sizeof rate);
    log_sanitize(s->sasl_username, strlen(s->sasl_username), name, sizeof name);
    log_warning("Message delivery request rate limit exceeded: %lu from %s for "
                "sasl_username=%s (rate=%s; next message in %lld seconds)", n, s->peer_label,
                name, rate, (left + 999) / 1000);
    session_reply(s, REPLY_ACCOUNT_RATE, name, rate);
    return 1;
}

int session_limit_mail(struct session *s)
{
    return account_over(s) ||
           over(s, ANVIL_MAIL, session_cfg(s)->smtpd_client_message_rate_limit,
                "Message delivery request", REPLY_MAIL_RATE);
}

int session_limit_rcpt(struct session *s)
{
    return over(s, ANVIL_RCPT, session_cfg(s)->smtpd_client_recipient_rate_limit,
                "Recipient address", REPLY_RCPT_RATE);
}

int session_limit_auth(struct session *s)
{
    long long limit = session_cfg(s)->smtpd_client_auth_rate_limit;
    struct anvil_key k;
    if (limit <= 0 || !client_key(s, &k))
        return 0;
    unsigned long n = anvil_peek(s->rt->anvil, &k, ANVIL_AUTH, unit_ms(s),
                                 clock_monotonic_ms(), NULL);
    if ((long long)n < limit)
        return 0;
    log_warning("AUTH command rate limit exceeded: %lu from %s for service %s", n,
                s->peer_label, service(s));
    session_reply(s, REPLY_AUTH_RATE, s->client_addr, NULL);
    return 1;
}

void session_limit_auth_failed(struct session *s)
{
    struct anvil_key k;
    if (session_cfg(s)->smtpd_client_auth_rate_limit > 0 && client_key(s, &k))
        anvil_count(s->rt->anvil, &k, ANVIL_AUTH, unit_ms(s), clock_monotonic_ms(), NULL);
}

void session_limit_queued(struct session *s)
{
    struct anvil_key k;
    if (!s->account_rate || !s->sasl_username[0] || !s->rt->anvil)
        return;
    anvil_key_account(s->rt->anvil, s->sasl_username, &k);
    anvil_count(s->rt->anvil, &k, ANVIL_MAIL, s->account_window_ms, clock_monotonic_ms(),
                NULL);
}

/* Postfix's two checks: before a handshake, refuse a client already over
 * the limit (it costs the server a private-key operation); after one,
 * count it unless it resumed a session, and close when that made too
 * many. */
int session_limit_tls_start(struct session *s)
{
    long long limit = session_cfg(s)->smtpd_client_new_tls_session_rate_limit;
    struct anvil_key k;
    if (limit <= 0 || !client_key(s, &k))
        return 0;
    if ((long long)anvil_peek(s->rt->anvil, &k, ANVIL_NEWTLS, unit_ms(s),
                              clock_monotonic_ms(), NULL) <= limit)
        return 0;
    if (s->listen_kind == LISTEN_SUBMISSIONS) {
        log_warning("Refusing TLS service request from %s for service %s", s->peer_label,
                    service(s));
    } else {
        log_warning("Refusing STARTTLS request from %s for service %s", s->peer_label,
                    service(s));
        session_reply(s, REPLY_NEWTLS_REFUSED, s->peer_label, NULL);
    }
    return 1;
}

int session_limit_tls_done(struct session *s, int resumed)
{
    long long limit = session_cfg(s)->smtpd_client_new_tls_session_rate_limit;
    struct anvil_key k;
    if (resumed || limit <= 0 || !client_key(s, &k))
        return 0;
    unsigned long n = anvil_count(s->rt->anvil, &k, ANVIL_NEWTLS, unit_ms(s),
                                  clock_monotonic_ms(), NULL);
    if ((long long)n <= limit)
        return 0;
    log_warning("New TLS session rate limit exceeded: %lu from %s for service %s", n,
                s->peer_label, service(s));
    session_reply(s, REPLY_NEWTLS_RATE, session_cfg(s)->myhostname, s->peer_label);
    return 1;
}

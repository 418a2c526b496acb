/* smtp — the outbound SMTP client transport: relayhost with AUTH and TLS,
 * or the recipients' MX hosts.
 *
 * One struct smtp_client per daemon holds what outlives a delivery: the
 * connection cache (idle sessions per destination, reused for the next
 * job, closed after smtp_connection_cache_time_limit), the per-destination
 * concurrency count (default_destination_concurrency_limit; excess jobs
 * wait in a per-destination queue), the TLS context (created on first use
 * only, to keep idle memory small) and the SASL password map.
 *
 * Per job: connect (smtp_connect_timeout; next MX host or address on
 * connection failure or 4xx greeting), TLS (smtp_tls_wrappermode, or
 * STARTTLS by smtp_tls_security_level), EHLO (HELO fallback), AUTH PLAIN or
 * LOGIN when smtp_sasl_auth_enable (credentials: smtp_client_account's
 * order; with smtp_sender_dependent_authentication the request's login or
 * sender first) (never over cleartext unless
 * smtp_sasl_allow_cleartext_loopback and the peer is loopback), MAIL,
 * RCPT..., DATA pipelined when the server offers PIPELINING, content with
 * dot-stuffing sent in large writes, final dot. Per recipient: 2xx → SENT,
 * 4xx or any connection/TLS/DNS/timeout failure → DEFERRED, 5xx → BOUNCED
 * (enum deliver_status),
 * each with the server's reply text as reason and its enhanced code as
 * dsn. The password never reaches a log line. */
#ifndef POSTERN_DELIVER_SMTP_H
#define POSTERN_DELIVER_SMTP_H

#include <stddef.h>

struct event_base;
struct dns;
struct config;
struct deliver_request;
struct deliver_result;
struct smtp_client;
struct map;
struct dkim_signer;

struct smtp_client *smtp_client_new(struct event_base *base, struct dns *dns);
void smtp_client_free(struct smtp_client *c);

/* Apply a (re)loaded configuration. *passwd_map is the loaded
 * smtp_sasl_password_maps table and *dkim the DKIM keys (dkim/dkim.h;
 * NULL or *dkim NULL: no signing), both read by the daemon's privileged
 * parent: on success the client takes them and sets them to NULL. Checks
 * smtp_tls_CAfile. On error returns -1 with err and keeps the old settings
 * (and the tables stay the caller's). */
int smtp_client_configure(struct smtp_client *c, const struct config *cfg,
                          struct map **passwd_map, struct dkim_signer **dkim, char *err,
                          size_t errlen);

/* Deliver req's recipients to req->nexthop: "[host]:port" (no MX lookup),
 * "host:port" (MX lookup of host), or "" (MX lookup of the recipients'
 * domain; routes put one domain per request). Calls done(arg, results,
 * relay) exactly once, from the event loop; req stays the caller's and
 * must stay valid until then. */
void smtp_client_deliver(struct smtp_client *c, const struct deliver_request *req,
                         void (*done)(void *arg, const struct deliver_result *res,
                                      const char *relay),
                         void *arg);

/* Which smtp_sasl_password_maps entry a message logs in with. */
enum smtp_account {
    SMTP_ACCOUNT_NONE = 0,      /* none: no AUTH (or smtp_sasl_auth_enable = no) */
    SMTP_ACCOUNT_LOGIN,         /* keyed by its SMTP AUTH login */
    SMTP_ACCOUNT_SENDER,        /* keyed by its sender */
    SMTP_ACCOUNT_NEXTHOP,       /* keyed by the next-hop */
};

/* The upstream account (the user name of the smtp_sasl_password_maps entry)
 * a message would log in with through nexthop: with
 * smtp_sender_dependent_authentication = yes the entry of its login when
 * given (the login chose the upstream; the sender is then not searched),
 * else of its sender (address, then @domain); then the next-hop's
 * ("[host]:port", "[host]", "host"; NULL: none). The resolved host's name,
 * which an MX delivery may also try, is not known yet. For the sender
 * rewriting and the upstream quotas, before the message is routed; never
 * the password. */
enum smtp_account smtp_client_account(const struct smtp_client *c, const char *login,
                                      const char *sender, const char *nexthop, char *user,
                                      size_t userlen);

/* A request with DELIVER_PROBE sends no mail: a fresh connection (never a
 * cached one) to its nexthop, TLS as smtp_tls_security_level says, EHLO,
 * AUTH with the credential a message would use, then QUIT. Its first
 * recipient (any address: it is never sent) gets DELIVER_SENT when the
 * login was accepted (or the server asks for none), else the failure as
 * a delivery would report it. For /readyz (daemon/ops.c). */

/* Register the client's latency histograms in m (util/metrics.h):
 * connect (TCP), login (AUTH to 235), delivery (MAIL to the reply to the
 * final dot). No label names a host. 0, or -1 (no memory). */
struct metrics;
int smtp_client_set_metrics(struct smtp_client *c, struct metrics *m);

/* Tell fn(arg, upstream, ok, reason) the result of each AUTH: upstream
 * "host:port" (the nexthop name, never an address), ok 1 on 235, else 0
 * with the server's reply (never the credential). On the event loop. */
typedef void smtp_login_fn(void *arg, const char *upstream, int ok, const char *reason);
void smtp_client_on_login(struct smtp_client *c, smtp_login_fn *fn, void *arg);

/* Number of open connections (busy + cached), for tests and logs. */
unsigned smtp_client_connections(const struct smtp_client *c);

#endif

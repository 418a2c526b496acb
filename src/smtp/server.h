/* server — SMTP listeners, the set of live sessions and connection limits.
 * Sessions write their messages into the queue (queue.h) and hand them to
 * its group commit; the server neither schedules nor administers it. */
#ifndef POSTERN_SMTP_SERVER_H
#define POSTERN_SMTP_SERVER_H

#include <stddef.h>

struct cfg_source;
struct event_base;
struct queue;
struct runtime;
struct server;
struct session;
struct spool_msg;

/* Called when the last session has ended after server_shutdown. */
typedef void server_idle_fn(void *arg);

/* What a listener speaks (the scheme of its `listen` URL):
 *   smtp://         port 25: STARTTLS offered as smtpd_tls_security_level says
 *   submission://   port 587: STARTTLS always offered (needs a certificate)
 *   submissions://  port 465: implicit TLS (RFC 8314), the handshake comes
 *                   before the greeting */
enum listen_kind { LISTEN_SMTP = 0, LISTEN_SUBMISSION, LISTEN_SUBMISSIONS };

/* A listening socket and its kind, as the parent hands it to the worker. */
struct server_listen_fd {
    int fd;
    enum listen_kind kind;
    const char *url;    /* its `listen` URL (copied by server_new), or NULL */
};

/* A listening TCP socket for one `listen` URL (non-blocking, close-on-exec;
 * an IPv6 address listens on IPv6 only), or -1 with err; *kind is the
 * URL's. The privileged parent binds before the worker exists. */
int server_bind(const char *url, enum listen_kind *kind, char *err, size_t errlen);

/* Serve the listening sockets fds (server_bind's); the server owns them
 * from now on, even on failure. Messages go into queue; each session keeps
 * the configuration snapshot of cfg it started with. NULL + err on
 * failure. */
struct server *server_new(struct event_base *base, struct queue *queue,
                          const struct cfg_source *cfg, server_idle_fn *on_idle, void *arg,
                          const struct server_listen_fd *fds, size_t nfds, char *err,
                          size_t errlen);
void server_free(struct server *srv);

/* Listen on the local submission socket (submit_socket, 0666 in a 0755
 * directory; queue_directory gets o+x when it holds it). Called once the
 * daemon runs as mail_owner, so the files are mail_owner's. Refused when
 * another daemon listens there. An empty submit_socket disables local
 * submission. */
int server_listen_submit(struct server *srv, const char *queue_directory,
                         const char *submit_socket, char *err, size_t errlen);

/* SIGTERM: stop accepting; idle sessions get 421 now, sessions in DATA
 * finish their message first. on_idle runs once none is left. */
void server_shutdown(struct server *srv);
unsigned long server_session_count(const struct server *srv);
/* The service name of a listener kind in Postfix-shaped warnings
 * ("... for service smtp"): smtp, submission, submissions. */
const char *server_kind_service(enum listen_kind kind);

/* Sessions whose client address is addr (smtpd_client_connection_count_limit). */
unsigned long server_client_count(const struct server *srv, const char *addr);

/* Parse "SCHEME://host:port" / "SCHEME://[v6]:port" (SCHEME: smtp,
 * submission, submissions; none: smtp) into kind, host and port; a query
 * part ("?name=value&...") is left to server_listen_overrides. Pure. */
int server_parse_listen(const char *url, enum listen_kind *kind, char *host,
                        size_t hostlen, int *port, char *err, size_t errlen);
/* The per-listener overrides of a `listen` URL (master.cf's -o): its query
 * "?name=value&name=value", a list value's items joined by '+', written
 * to out as main.cf lines ("name = value\n", '+' made a space). The names
 * allowed are SERVER_LISTEN_OVERRIDES. Returns how many (0: no query), or
 * -1 with err. Pure. */
#define SERVER_LISTEN_OVERRIDES                                                           \
    "smtpd_tls_security_level, smtpd_sasl_auth_enable, smtpd_tls_auth_only, "            \
    "smtpd_relay_restrictions, smtpd_client_restrictions, smtpd_recipient_restrictions, " \
    "smtpd_reject_unlisted_recipient, smtpd_upstream_proxy_protocol, "                    \
    "smtpd_upstream_proxy_timeout"
int server_listen_overrides(const char *url, char *out, size_t outlen, char *err,
                            size_t errlen);
/* Whether two `listen` URLs are the same listener: equal but for their
 * queries (a reload may change a listener's overrides, not its socket). */
int server_listen_same(const char *a, const char *b);
/* "smtp", "submission", "submissions". */
const char *server_listen_scheme(enum listen_kind kind);

/* Register the SMTP server's metrics in m (util/metrics.h): sessions by
 * listener kind ("local": submit_socket), messages accepted, 4xx/5xx
 * replies by code and enhanced code, AUTH results by mechanism, and (a
 * collector) the sessions open. 0, or -1 (no memory). */
struct metrics;
struct metric_family;
int server_set_metrics(struct server *srv, struct metrics *m);
struct smtpd_metrics {
    struct metric_family *sessions;   /* {listener} */
    struct metric_family *accepted;   /* messages queued (250 after DATA) */
    struct metric_family *rejects;    /* {code, dsn} */
    struct metric_family *auth;       /* {mechanism, result} */
    struct metric_family *open;       /* gauge */
};

/* --- used by session.c --- */
/* The families (NULL ones count nothing). */
const struct smtpd_metrics *server_metrics(const struct server *srv);
struct event_base *server_base(const struct server *srv);
struct queue *server_queue(const struct server *srv);
/* The resolver the sessions ask (client name, DNS restrictions); NULL (the
 * unit tests): no lookups, the client is "unknown" and a DNS restriction
 * meets a temporary failure. */
struct dns;
void server_set_dns(struct server *srv, struct dns *dns);
struct dns *server_dns(const struct server *srv);
/* The configuration in force, with a reference for the session: the
 * snapshot derived for the listener with URL url when its URL has
 * overrides (the reference is the snapshot's all the same). */
struct runtime *server_config_ref(const struct server *srv, const char *url);
void server_config_unref(const struct server *srv, struct runtime *rt);
/* Queue a finished message for the next group commit; the session is told
 * the result through session_commit_done(). */
void server_commit_request(struct server *srv, struct session *s,
                           struct spool_msg *msg);
/* A session that goes away while its commit is pending. */
void server_commit_forget(struct server *srv, struct session *s);
void server_session_gone(struct server *srv, struct session *s);

#endif

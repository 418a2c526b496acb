/* ops — the worker's HTTP endpoint for operators (http_listen): the routes
 * /metrics, /healthz and /readyz on http/http.h, and the background
 * upstream probe /readyz reports on.
 *
 * /metrics: the registry (util/metrics.h) the daemon's modules count into,
 * Prometheus text format 0.0.4.
 * /healthz: 200 "ok" whenever the event loop answers.
 * /readyz: 200 only when (1) the queue directory is writable and its file
 * system has more than queue_minfree bytes free, and (2) when a relayhost
 * is set, the last background probe of it (deliver/smtp.h's
 * DELIVER_PROBE: connect, EHLO, STARTTLS per smtp_tls_security_level,
 * AUTH with the configured credential, QUIT; every
 * readiness_check_interval, never per request) succeeded and is no older
 * than twice the interval. Else 503; the body names each check and why it
 * failed (the upstream's reply, never a credential).
 *
 * Access: http_allowed_networks of the configuration in force. Later
 * routes (the queue API and page) add themselves here with HTTP_AUTH. */
#ifndef POSTERN_DAEMON_OPS_H
#define POSTERN_DAEMON_OPS_H

#include <stddef.h>

struct cfg_source;
struct event_base;
struct metrics;
struct queue;
struct smtp_client;
struct ops;

/* Serve the listening socket fd (http_bind's; owned from now on) with the
 * configuration of cfg; counts come from m, the queue's state from q, the
 * probe goes through smtp. NULL with err. */
struct ops *ops_new(struct event_base *base, int fd, const struct cfg_source *cfg,
                    struct metrics *m, struct queue *q, struct smtp_client *smtp, char *err,
                    size_t errlen);
/* A new configuration is in force: its TLS context, its relayhost and
 * interval (from the next probe on). */
void ops_reload(struct ops *o);
/* Stop answering (closes the listener and its connections); a probe in
 * flight still reports to o, so free o after the smtp client. */
void ops_stop(struct ops *o);
void ops_free(struct ops *o);

#endif

/* ops — /metrics, /healthz, /readyz and the upstream probe (see ops.h). */
#include "ops.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/runtime.h"
#include "../deliver/smtp.h"
#include "../deliver/transport.h"
#include "../http/http.h"
#include "../policy/policy.h"
#include "../queue/queue.h"
#include "../util/clock.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/sbuf.h"
#include "queue_api.h"

/* The background login to the relayhost. */
struct probe {
    struct event *timer;
    int running;
    int have;                        /* a result since the relayhost was set */
    int ok;
    long long at_ms;                 /* monotonic: when the last result came */
    char nexthop[300];               /* what it probed (the relayhost then) */
    char why[600];                   /* the failure, sanitised */
    struct deliver_rcpt rcpt;
    struct deliver_request req;
};

struct ops {
    struct event_base *base;
    struct http_server *http;
    const struct cfg_source *cfg;
    struct metrics *metrics;
    struct queue *queue;
    struct smtp_client *smtp;
    struct probe probe;
    struct metric_family *ready;     /* gauge {check} */
    struct queue_api *api;           /* /api/queue, /queue */
};

static const struct runtime *cur(const struct ops *o)
{
    return o->cfg->current(o->cfg->arg);
}

/* ---------- the checks ---------- */

/* The queue: writable, more than queue_minfree bytes free. 1, or 0 with
 * why. */
static int check_queue(const struct config *cfg, char *why, size_t len)
{
    unsigned long long free_bytes = 0;
    int ro = 0;
    if (fs_free_bytes(cfg->queue_directory, &free_bytes, &ro) < 0) {
        snprintf(why, len, "cannot stat the queue directory: %s", strerror(errno));
        return 0;
    }
    if (ro || access(cfg->queue_directory, W_OK) < 0) {
        snprintf(why, len, "the queue directory is not writable%s",
                 ro ? " (read-only file system)" : "");
        return 0;
    }
    if (free_bytes <= (unsigned long long)cfg->queue_minfree) {
        snprintf(why, len, "%llu bytes free, queue_minfree is %lld", free_bytes,
                 cfg->queue_minfree);
        return 0;
    }
    snprintf(why, len, "ok (%llu bytes free)", free_bytes);
    return 1;
}

/* The upstream: -1 when no relayhost is set (nothing to check). */
static int check_upstream(const struct ops *o, const struct config *cfg, char *why,
                          size_t len)
{
    const struct probe *p = &o->probe;
    if (!cfg->relayhost[0])
        return -1;
    if (!p->have || strcmp(p->nexthop, cfg->relayhost) != 0) {
        snprintf(why, len, "not checked yet");
        return 0;
    }
    long long age = clock_monotonic_ms() - p->at_ms;
    if (!p->ok) {
        snprintf(why, len, "%s", p->why);
        return 0;
    }
    if (age > 2 * cfg->readiness_check_interval * 1000) {
        snprintf(why, len, "no probe result for %lld seconds", age / 1000);
        return 0;
    }
    snprintf(why, len, "ok (%s %lld seconds ago)", p->why, age / 1000);
    return 1;
}

/* ---------- the probe ---------- */

static void probe_arm(struct ops *o)
{
    const struct config *cfg = cur(o)->cfg;
    struct timeval tv = { (time_t)cfg->readiness_check_interval, 0 };
    evtimer_add(o->probe.timer, &tv);
}

static void probe_done(void *arg, const struct deliver_result *res, const char *relay)
{
    struct ops *o = arg;
    struct probe *p = &o->probe;
    (void)relay;
    int ok = res[0].status == DELIVER_SENT;
    const char *r = res[0].reason ? res[0].reason : "";
    char why[sizeof p->why];
    log_sanitize(r, strlen(r), why, sizeof why);
    if (!p->have || ok != p->ok) {
        if (ok)
            log_info("readyz: upstream %s: %s", p->nexthop, why);
        else
            log_warning("readyz: upstream %s: %s", p->nexthop, why);
    }
    p->running = 0;
    p->have = 1;
    p->ok = ok;
    p->at_ms = clock_monotonic_ms();
    memcpy(p->why, why, sizeof p->why);
}

static void probe_run(evutil_socket_t fd, short what, void *arg)
{
    struct ops *o = arg;
    struct probe *p = &o->probe;
    (void)fd;
    (void)what;
    probe_arm(o);
    const struct config *cfg = cur(o)->cfg;
    if (p->running)
        return;
    if (!cfg->relayhost[0] || strlen(cfg->relayhost) >= sizeof p->nexthop) {
        p->have = 0;
        return;
    }
    if (strcmp(p->nexthop, cfg->relayhost) != 0) {
        p->have = 0;
        snprintf(p->nexthop, sizeof p->nexthop, "%s", cfg->relayhost);
    }
    p->rcpt = (struct deliver_rcpt){ "postmaster", 0 };
    p->req = (struct deliver_request){
        .id = "readyz",
        .sender = "",
        .rcpt = &p->rcpt,
        .nrcpt = 1,
        .content = "",
        .nexthop = p->nexthop,
        .flags = DELIVER_PROBE,
    };
    p->running = 1;
    smtp_client_deliver(o->smtp, &p->req, probe_done, o);
}

/* ---------- the routes ---------- */

static void on_metrics(void *arg, struct http_request *r)
{
    struct ops *o = arg;
    struct sbuf b = SBUF_INIT;
    metrics_render(o->metrics, &b);
    size_t len = 0;
    char *text = sbuf_take(&b, &len);
    if (!text) {
        http_reply(r, 503, "text/plain; charset=utf-8", "out of memory\n", 14);
        return;
    }
    http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static void on_healthz(void *arg, struct http_request *r)
{
    (void)arg;
    http_reply(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void on_readyz(void *arg, struct http_request *r)
{
    struct ops *o = arg;
    const struct config *cfg = cur(o)->cfg;
    char qwhy[300], uwhy[700];
    int q = check_queue(cfg, qwhy, sizeof qwhy);
    int u = check_upstream(o, cfg, uwhy, sizeof uwhy);
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "queue: %s%s\n", q ? "" : "failed: ", qwhy);
    if (u >= 0)
        sbuf_printf(&b, "upstream %s: %s%s\n", cfg->relayhost, u ? "" : "failed: ", uwhy);
    size_t len = 0;
    char *text = sbuf_take(&b, &len);
    int ready = q && u != 0;
    if (!text)
        http_reply(r, 503, "text/plain; charset=utf-8", "out of memory\n", 14);
    else
        http_reply(r, ready ? 200 : 503, "text/plain; charset=utf-8", text, len);
    free(text);
}

static int on_access(void *arg, const struct sockaddr *sa, socklen_t salen)
{
    struct ops *o = arg;
    (void)salen;
    const struct runtime *rt = cur(o);
    return rt->http_networks && policy_netlist_match(rt->http_networks, sa);
}

static void collect(void *arg, struct metrics *m)
{
    struct ops *o = arg;
    const struct config *cfg = cur(o)->cfg;
    char why[700];
    (void)m;
    metrics_set(metrics_series1(o->ready, "queue"), check_queue(cfg, why, sizeof why));
    int u = check_upstream(o, cfg, why, sizeof why);
    if (u >= 0)
        metrics_set(metrics_series1(o->ready, "upstream"), u);
}

struct ops *ops_new(struct event_base *base, int fd, const struct cfg_source *cfg,
                    struct metrics *m, struct queue *q, struct smtp_client *smtp, char *err,
                    size_t errlen)
{
    struct ops *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    o->base = base;
    o->cfg = cfg;
    o->metrics = m;
    o->queue = q;
    o->smtp = smtp;
    const struct runtime *rt = cur(o);
    o->http = http_new(base, fd, rt->cfg->http_tls ? rt->smtpd_tls : NULL, err, errlen);
    if (!o->http) {
        free(o);
        return NULL;
    }
    const char *ck[] = { "check" };
    o->ready = metrics_family(m, METRIC_GAUGE, "postern_ready",
                              "1 when a /readyz check passes, by check (queue; upstream "
                              "when a relayhost is set), else 0.", ck, 1, NULL, 0);
    o->probe.timer = evtimer_new(base, probe_run, o);
    http_set_access(o->http, on_access, o);
    if (!o->ready || !o->probe.timer || metrics_on_collect(m, collect, o) < 0 ||
        http_route(o->http, "/metrics", HTTP_GET, on_metrics, o) < 0 ||
        http_route(o->http, "/healthz", HTTP_GET, on_healthz, o) < 0 ||
        http_route(o->http, "/readyz", HTTP_GET, on_readyz, o) < 0) {
        snprintf(err, errlen, "out of memory");
        ops_free(o);
        return NULL;
    }
    if (!(o->api = queue_api_new(o->http, cfg, q, err, errlen))) {
        ops_free(o);
        return NULL;
    }
    /* the first probe at once: readiness should not wait an interval */
    event_active(o->probe.timer, EV_TIMEOUT, 0);
    return o;
}

void ops_reload(struct ops *o)
{
    if (!o)
        return;
    const struct runtime *rt = cur(o);
    if (o->http)
        http_set_tls(o->http, rt->cfg->http_tls ? rt->smtpd_tls : NULL);
    queue_api_reload(o->api);
    /* a new relayhost or interval: probe now, then at the new pace */
    if (!o->probe.running)
        event_active(o->probe.timer, EV_TIMEOUT, 0);
}

void ops_stop(struct ops *o)
{
    if (!o)
        return;
    http_free(o->http);
    o->http = NULL;
    if (o->probe.timer)
        evtimer_del(o->probe.timer);
}

void ops_free(struct ops *o)
{
    if (!o)
        return;
    ops_stop(o);
    if (o->probe.timer)
        event_free(o->probe.timer);
    queue_api_free(o->api);
    free(o);
}

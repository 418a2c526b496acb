/* daemon — the running daemon: start-up, the worker's modules, signals,
 * graceful shutdown, reloads (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../policy/anvil.h"
#include "../net/dns.h"
#include "../deliver/smtp.h"
#include "../queue/queue.h"
#include "../http/http.h"
#include "../notify/notify.h"
#include "../smtp/server.h"
#include "../util/fbundle.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/workq.h"
#include "control.h"
#include "ops.h"
#include "owner.h"
#include "privsep.h"
#include "runtime.h"

/* Worker threads for Maildir writes: fsync latency, not CPU, is the
 * limit, so a couple overlap them with the loop's group commits. */
#define DELIVERY_THREADS 2

/* Seconds sessions in DATA get to finish after SIGTERM. */
#define SHUTDOWN_GRACE 30

/* The worker's state. Everything mutable that outlives a single callback
 * hangs off it; there is no other global state (log settings excepted). */
struct daemon {
    struct event_base *base;
    struct runtime *rt;            /* current; sessions may hold older ones */
    struct cfg_source cfg;         /* rt, for the modules below */
    const char *config_path;       /* NULL: embedded default */
    struct queue *queue;           /* spool, group commit, scheduler */
    struct server *server;
    struct control *control;       /* private/control */
    struct dns *dns;
    struct smtp_client *smtp;
    struct workq *workq;           /* Maildir writes off the event loop */
    struct privsep_channel *parent; /* to the privileged parent: reloads */
    struct anvil *anvil;           /* event rates per client and account, across
                                    * reloads */
    struct metrics *metrics;       /* what /metrics shows; NULL: http_listen off */
    struct ops *ops;               /* the HTTP endpoint, or NULL */
    struct notify *notify;         /* webhooks (idle without notify_url) */
    int shutting_down;
    struct event *sig_term, *sig_int, *sig_hup, *grace;
};

static struct runtime *daemon_current(void *arg)
{
    struct daemon *d = arg;
    return d->rt;
}

/* ---------- webhooks: the queue's and the SMTP client's news ---------- */

static void on_queue_event(void *arg, const struct queue_event *q)
{
    struct daemon *d = arg;
    static const enum notify_kind kinds[] = {
        [QUEUE_EV_BOUNCE] = NOTIFY_BOUNCE,
        [QUEUE_EV_DELAYED] = NOTIFY_DELAYED,
        [QUEUE_EV_QUOTA] = NOTIFY_QUOTA_DEFERRED,
    };
    struct notify_event ev = {
        .kind = kinds[q->kind], .time = q->time / 1000, .reason = q->reason,
        .next_slot = q->next_slot / 1000, .key = q->key, .window = q->window,
    };
    if (q->kind != QUEUE_EV_QUOTA) {
        ev.queue_id = q->qid;
        ev.sender = q->sender;
        ev.recipient = q->recipient;
        ev.recipients = q->recipients;
        ev.nrecipients = q->nrecipients;
        ev.dsn = q->dsn;
        ev.delay = q->delay / 1000;
    }
    notify_emit(d->notify, &ev);
}

static void on_upstream_login(void *arg, const char *upstream, int ok, const char *reason)
{
    struct daemon *d = arg;
    if (ok) {
        notify_login_ok(d->notify, upstream);
        return;
    }
    struct notify_event ev = { .kind = NOTIFY_LOGIN_FAILED, .time = (long long)time(NULL),
                               .relayhost = upstream, .reason = reason };
    notify_emit(d->notify, &ev);
}

static void daemon_configure_notify(struct daemon *d, const struct runtime *rt)
{
    if (notify_configure(d->notify, rt->cfg, rt->notify_secret, rt->notify_secret_len) < 0)
        log_warning("webhooks: out of memory; keeping the previous settings");
}

/* The last session ended after SIGTERM. */
static void on_idle(void *arg)
{
    struct daemon *d = arg;
    if (d->shutting_down)
        event_base_loopexit(d->base, NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    if (d->shutting_down) {
        log_info("signal %d again: exiting now", (int)sig);
        event_base_loopexit(d->base, NULL);
        return;
    }
    log_info("terminating on signal %d", (int)sig);
    d->shutting_down = 1;
    struct timeval tv = { SHUTDOWN_GRACE, 0 };
    evtimer_add(d->grace, &tv);
    server_shutdown(d->server);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    log_warning("shutdown grace period over; %lu sessions cut off",
                server_session_count(d->server));
    event_base_loopexit(d->base, NULL);
}

/* A note about a Postfix line: "main.cf:3: warning: biff: ...; ignored"
 * or what a mapped line became; the text says which. */
static void note_say(void *arg, const char *msg)
{
    (void)arg;
    log_info("%s", msg);
}

static void reload_say(void *arg, const char *msg)
{
    (void)arg;
    log_warning("reload failed, keeping the running configuration: %s", msg);
}

/* A configuration the privileged parent read and validated as root. */
static void on_bundle(void *arg, struct fbundle *fb)
{
    struct daemon *d = arg;
    char err[1024];
    struct config_errors errs = { 0 };
    struct runtime *rt = runtime_load_from(d->config_path, fb, &errs);
    fbundle_free(fb);
    if (!rt) {
        config_errors_each(&errs, reload_say, NULL);
        return;
    }
    config_notes_each(&errs, note_say, NULL);
    if (smtp_client_configure(d->smtp, rt->cfg, &rt->passwd, &rt->dkim, err, sizeof err) <
            0 ||
        runtime_auth_start(rt, d->base, d->anvil, err, sizeof err) < 0) {
        log_warning("reload failed, keeping the running configuration: %s", err);
        runtime_unref(rt);
        return;
    }
    const struct config *o = d->rt->cfg, *n = rt->cfg;
    if (strcmp(o->queue_directory, n->queue_directory) != 0)
        log_warning("reload: queue_directory change needs a restart; still using %s",
                    o->queue_directory);
    int listen_changed = o->listen.n != n->listen.n;
    for (size_t i = 0; !listen_changed && i < o->listen.n; i++)
        /* a query (the listener's overrides) is reloaded */
        listen_changed = !server_listen_same(o->listen.v[i], n->listen.v[i]);
    if (listen_changed)
        log_warning("reload: listen changes need a restart; still listening on the old addresses");
    if (strcmp(o->submit_socket, n->submit_socket) != 0)
        log_warning("reload: submit_socket changes need a restart; still using %s",
                    o->submit_socket);
    if (strcmp(o->dns_servers.n ? o->dns_servers.v[0] : "", n->dns_servers.n ? n->dns_servers.v[0] : "") != 0 ||
        o->dns_servers.n != n->dns_servers.n)
        log_warning("reload: dns_servers changes need a restart");
    if (strcmp(o->mail_owner, n->mail_owner) != 0)
        log_warning("reload: mail_owner changes need a restart; still running as %s",
                    o->mail_owner);
    if (strcmp(o->http_listen, n->http_listen) != 0)
        log_warning("reload: http_listen changes need a restart; still using \"%s\"",
                    o->http_listen);
    runtime_unref(d->rt);
    d->rt = rt;
    ops_reload(d->ops);
    daemon_configure_notify(d, rt);
    log_init("postern", n->syslog_name, log_verbose());
    log_info("reload: configuration %s", d->config_path ? d->config_path : "(default)");
}

/* SIGHUP reached the worker itself (e.g. `pkill -HUP postern`): only the
 * parent can read the files. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)sig;
    (void)what;
    privsep_channel_request_reload(d->parent);
}

/* Thousands of sessions need thousands of descriptors: take the hard
 * limit (the soft default is often 1024). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warning_errno("cannot raise the open file limit");
    }
}

/* What the parent does as root before the worker exists: the listening
 * sockets, and the directories made mail_owner's. */
static int parent_prepare(const struct config *cfg, const struct owner *o,
                          struct server_listen_fd *fds, size_t *nfds, int *http_fd,
                          char *err, size_t errlen)
{
    *nfds = 0;
    *http_fd = -1;
    if (cfg->http_listen[0] && (*http_fd = http_bind(cfg->http_listen, err, errlen)) < 0)
        return -1;
    for (size_t i = 0; i < cfg->listen.n; i++) {
        int fd = server_bind(cfg->listen.v[i], &fds[*nfds].kind, err, errlen);
        if (fd < 0)
            goto fail;
        fds[*nfds].url = cfg->listen.v[i];
        fds[(*nfds)++].fd = fd;
    }
    if (geteuid() == 0) {
        if (owner_prepare_dirs(cfg, o, err, errlen) == 0)
            return 0;
        goto fail;
    }
    if (fs_mkdir_p(cfg->queue_directory, 0700) < 0 ||
        fs_mkdir_p(cfg->capture_directory, 0700) < 0) {
        snprintf(err, errlen, "cannot create %s or %s: %s", cfg->queue_directory,
                 cfg->capture_directory, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    while (*nfds > 0)
        close(fds[--*nfds].fd);
    if (*http_fd >= 0)
        close(*http_fd);
    *http_fd = -1;
    return -1;
}

static void start_say(void *arg, const char *msg)
{
    (void)arg;
    log_info("error: %s", msg);
}

static void serve_say(void *arg, const char *msg)
{
    (void)arg;
    log_warning("%s", msg);
}

/* The worker, from its change of user to its exit: builds the modules,
 * hands each its narrow handles, runs the loop. Returns the exit status. */
static int worker_run(struct daemon *d, const struct owner *owner,
                      struct server_listen_fd *lfds, size_t nlfds, int http_fd, int pfd)
{
    char err[1024];
    const struct config *cfg = d->rt->cfg;
    pid_t parent = getppid();
    if (owner_become(owner, err, sizeof err) < 0) {
        log_info("fatal: %s", err);
        _exit(1);
    }
    privsep_watch_parent(parent);
    raise_fd_limit();
    d->base = event_base_new();
    if (!d->base)
        log_fatal("cannot create the event loop");
    int rc = 1;
    d->parent = privsep_channel_new(d->base, pfd, on_bundle, d);
    if (!d->parent)
        log_fatal("out of memory");
    d->dns = dns_new(d->base, cfg->dns_servers.v, cfg->dns_servers.n, err, sizeof err);
    if (!d->dns) {
        log_info("fatal: dns_servers: %s", err);
        goto out;
    }
    d->smtp = smtp_client_new(d->base, d->dns);
    if (!d->smtp)
        log_fatal("out of memory");
    if (smtp_client_configure(d->smtp, cfg, &d->rt->passwd, &d->rt->dkim, err,
                              sizeof err) < 0) {
        log_info("fatal: %s", err);
        goto out;
    }
    /* after dropping privileges: the threads are born unprivileged */
    d->anvil = anvil_new(ANVIL_DEFAULT_SLOTS);
    if (!d->anvil)
        log_fatal("out of memory");
    if (runtime_auth_start(d->rt, d->base, d->anvil, err, sizeof err) < 0) {
        log_info("fatal: smtpd_sasl: %s", err);
        goto out;
    }
    d->workq = workq_new(d->base, DELIVERY_THREADS);
    if (!d->workq)
        log_warning("no delivery threads; Maildir writes run on the event loop");
    d->queue = queue_open(d->base, cfg->queue_directory, &d->cfg, d->smtp, d->workq, err,
                          sizeof err);
    if (!d->queue) {
        log_info("fatal: queue_directory %s: %s", cfg->queue_directory, err);
        goto out;
    }
    d->server = server_new(d->base, d->queue, &d->cfg, on_idle, d, lfds, nlfds, err,
                           sizeof err);
    nlfds = 0;                     /* the server's now, even on failure */
    if (!d->server) {
        log_info("fatal: %s", err);
        goto out;
    }
    server_set_dns(d->server, d->dns);
    if (http_fd >= 0) {
        /* counted only when someone can read it */
        d->metrics = metrics_new();
        if (!d->metrics || server_set_metrics(d->server, d->metrics) < 0 ||
            queue_set_metrics(d->queue, d->metrics) < 0 ||
            smtp_client_set_metrics(d->smtp, d->metrics) < 0)
            log_fatal("out of memory");
        d->ops = ops_new(d->base, http_fd, &d->cfg, d->metrics, d->queue, d->smtp, err,
                         sizeof err);
        http_fd = -1;              /* ops's now, even on failure */
        if (!d->ops) {
            log_info("fatal: %s", err);
            goto out;
        }
    }
    d->notify = notify_new(d->base, d->metrics, err, sizeof err);
    if (!d->notify) {
        log_info("fatal: %s", err);
        goto out;
    }
    daemon_configure_notify(d, d->rt);
    queue_set_notify(d->queue, on_queue_event, d);
    smtp_client_on_login(d->smtp, on_upstream_login, d);
    /* control and local submission sockets, made as mail_owner; refused
     * if another daemon serves this queue (before queue_recover cleans up) */
    d->control = control_new(d->base, queue_admin(d->queue));
    if (!d->control)
        log_fatal("out of memory");
    if (control_listen(d->control, cfg->queue_directory, err, sizeof err) < 0 ||
        server_listen_submit(d->server, cfg->queue_directory, cfg->submit_socket, err,
                             sizeof err) < 0) {
        log_info("fatal: %s", err);
        goto out;
    }
    d->sig_term = evsignal_new(d->base, SIGTERM, on_term, d);
    d->sig_int = evsignal_new(d->base, SIGINT, on_term, d);
    d->sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
    d->grace = evtimer_new(d->base, on_grace, d);
    if (!d->sig_term || !d->sig_int || !d->sig_hup || !d->grace)
        log_fatal("out of memory");
    evsignal_add(d->sig_term, NULL);
    evsignal_add(d->sig_int, NULL);
    evsignal_add(d->sig_hup, NULL);

    long n = queue_recover(d->queue);
    if (n < 0)
        log_warning_errno("queue scan of %s failed", cfg->queue_directory);
    else if (n > 0)
        log_info("queue: %ld message%s to deliver", n, n == 1 ? "" : "s");
    log_info("daemon started -- version %s, configuration %s", POSTERN_VERSION,
             d->config_path ? d->config_path : "(default)");
    event_base_dispatch(d->base);
    log_info("stopped");
    rc = 0;
out:
    for (size_t i = 0; i < nlfds; i++)
        close(lfds[i].fd);
    if (http_fd >= 0)
        close(http_fd);
    ops_stop(d->ops);
    control_free(d->control);
    server_free(d->server);
    /* fails waiting deliveries back to the scheduler (deferred) */
    if (d->smtp)
        smtp_client_free(d->smtp);
    /* a probe in flight has reported (smtp_client_free) */
    ops_free(d->ops);
    /* finishes the Maildir writes in flight and reports them */
    workq_free(d->workq);
    /* commits what finished DATA, then closes the spool */
    queue_free(d->queue);
    if (d->dns)
        dns_free(d->dns);
    if (d->sig_term) event_free(d->sig_term);
    if (d->sig_int) event_free(d->sig_int);
    if (d->sig_hup) event_free(d->sig_hup);
    if (d->grace) event_free(d->grace);
    privsep_channel_free(d->parent);
    runtime_unref(d->rt);
    /* after the last snapshot that lends it */
    anvil_free(d->anvil);
    notify_free(d->notify);
    metrics_free(d->metrics);
    event_base_free(d->base);
    return rc;
}

int daemon_run(const char *config_path, int verbose)
{
    struct daemon d;
    char err[1024];
    memset(&d, 0, sizeof d);
    d.config_path = config_path;
    d.cfg = (struct cfg_source){ &d, daemon_current, runtime_ref, runtime_unref };
    log_init("postern", NULL, verbose);
    struct config_errors errs = { 0 };
    d.rt = runtime_load(d.config_path, &errs);
    config_messages_each(&errs, d.config_path ? d.config_path : "(default)", start_say,
                         note_say, NULL);
    if (!d.rt) {
        log_info("fatal: configuration %s: %zu error%s",
                 d.config_path ? d.config_path : "(default)", errs.n, errs.n == 1 ? "" : "s");
        return 1;
    }
    const struct config *cfg = d.rt->cfg;
    log_init("postern", cfg->syslog_name, verbose);
    config_advise(cfg, serve_say, NULL);
    signal(SIGPIPE, SIG_IGN);
    umask(077);

    /* as root: the listeners and the directories, before the worker */
    struct owner owner = { 0, 0, "" };
    struct server_listen_fd lfds[64];
    size_t nlfds = 0;
    int http_fd = -1;
    if (cfg->listen.n > sizeof lfds / sizeof lfds[0]) {
        log_info("fatal: %zu listen addresses; at most %zu", cfg->listen.n,
                 sizeof lfds / sizeof lfds[0]);
        runtime_unref(d.rt);
        return 1;
    }
    if ((geteuid() == 0 && owner_lookup(cfg, &owner, err, sizeof err) < 0) ||
        parent_prepare(cfg, &owner, lfds, &nlfds, &http_fd, err, sizeof err) < 0) {
        log_info("fatal: %s", err);
        runtime_unref(d.rt);
        return 1;
    }
    int pfd = -1;
    pid_t worker = privsep_fork(&pfd);
    if (worker < 0) {
        log_info("fatal: cannot start the worker process: %s", strerror(errno));
        for (size_t i = 0; i < nlfds; i++)
            close(lfds[i].fd);
        if (http_fd >= 0)
            close(http_fd);
        runtime_unref(d.rt);
        return 1;
    }
    if (worker > 0) {
        /* the parent keeps nothing of the configuration, and never holds
         * a socket that reads the network */
        for (size_t i = 0; i < nlfds; i++)
            close(lfds[i].fd);
        if (http_fd >= 0)
            close(http_fd);
        runtime_unref(d.rt);
        return privsep_parent_run(d.config_path, worker, pfd);
    }
    return worker_run(&d, &owner, lfds, nlfds, http_fd, pfd);
}

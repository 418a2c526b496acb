/* `postern serve`: the daemon. Binds, drops privileges, recovers the
 * queue, then runs the event loop until SIGTERM. */
#include "cli.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../daemon.h"
#include "../deliver/dns.h"
#include "../deliver/smtp.h"
#include "../policy/maps.h"
#include "../queue/scheduler.h"
#include "../queue/spool.h"
#include "../smtp/server.h"
#include "../util/fs.h"
#include "../util/workq.h"
#include "../util/log.h"

/* Worker threads for Maildir writes: fsync latency, not CPU, is the
 * limit, so a couple overlap them with the loop's group commits. */
#define DELIVERY_THREADS 2

/* Seconds sessions in DATA get to finish after SIGTERM. */
#define SHUTDOWN_GRACE 30

/* Load the configuration and build what derives from it. Every error, the
 * configuration's and those of mynetworks and the map files, goes to errs:
 * NULL when there is any. */
struct runtime *runtime_load(const char *path, struct config_errors *errs)
{
    struct config *cfg = config_load_collect(path, errs);
    if (!cfg)
        return NULL;
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        config_free(cfg);
        config_errors_add(errs, "out of memory");
        return NULL;
    }
    rt->cfg = cfg;
    rt->refs = 1;
    char why[768], where[512];
    config_param_where(cfg, "mynetworks", where, sizeof where);
    long wide;
    if (policy_netlist_parse(&rt->mynetworks, cfg->mynetworks.v, cfg->mynetworks.n,
                             why, sizeof why) < 0)
        config_errors_add(errs, "%s: mynetworks: %s", where, why);
    else if ((wide = policy_netlist_open_relay(&rt->mynetworks)) >= 0)
        /* "it never becomes an open relay": seed configs carry 0.0.0.0/0 */
        config_errors_add(errs, "%s: mynetworks entry \"%s\" trusts a large part of the "
                          "Internet, which would make postern an open relay; list only "
                          "your own networks (e.g. 10.0.0.0/8, 192.168.0.0/16)",
                          where, cfg->mynetworks.v[wide]);
    if (cfg->sender_canonical_maps[0] &&
        !(rt->canonical = map_open(cfg->sender_canonical_maps, 0, why, sizeof why)))
        config_errors_add(errs, "sender_canonical_maps: %s", why);
    if (cfg->smtp_sasl_auth_enable && cfg->smtp_sasl_password_maps[0]) {
        /* checked here too so that `postern check` reports it */
        struct map *m = map_open(cfg->smtp_sasl_password_maps, MAP_SECRET, why, sizeof why);
        if (!m)
            config_errors_add(errs, "smtp_sasl_password_maps: %s", why);
        map_free(m);
    }
    if (cfg->transport_maps[0] &&
        !(rt->transport_map = map_open(cfg->transport_maps, 0, why, sizeof why)))
        config_errors_add(errs, "transport_maps: %s", why);
    if (errs->n > 0) {
        runtime_unref(rt);
        return NULL;
    }
    return rt;
}

struct runtime *runtime_ref(struct runtime *rt)
{
    rt->refs++;
    return rt;
}

void runtime_unref(struct runtime *rt)
{
    if (!rt || --rt->refs > 0)
        return;
    policy_netlist_free(&rt->mynetworks);
    map_free(rt->canonical);
    map_free(rt->transport_map);
    config_free(rt->cfg);
    free(rt);
}

void daemon_maybe_exit(struct daemon *d)
{
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

static void reload_say(void *arg, const char *msg)
{
    (void)arg;
    log_warning("reload failed, keeping the running configuration: %s", msg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    char err[1024];
    struct config_errors errs = { 0 };
    (void)sig;
    (void)what;
    struct runtime *rt = runtime_load(d->config_path, &errs);
    if (!rt) {
        config_errors_each(&errs, reload_say, NULL);
        return;
    }
    if (smtp_client_configure(d->smtp, rt->cfg, err, sizeof err) < 0) {
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
        listen_changed = strcmp(o->listen.v[i], n->listen.v[i]) != 0;
    if (listen_changed)
        log_warning("reload: listen changes need a restart; still listening on the old addresses");
    if (strcmp(o->submit_socket, n->submit_socket) != 0)
        log_warning("reload: submit_socket changes need a restart; still using %s",
                    o->submit_socket);
    if (strcmp(o->dns_servers.n ? o->dns_servers.v[0] : "", n->dns_servers.n ? n->dns_servers.v[0] : "") != 0 ||
        o->dns_servers.n != n->dns_servers.n)
        log_warning("reload: dns_servers changes need a restart");
    runtime_unref(d->rt);
    d->rt = rt;
    log_init("postern", n->syslog_name, log_verbose());
    log_info("reload: configuration %s", d->config_path ? d->config_path : "(default)");
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

static void recover_one(const char *qid, void *arg)
{
    struct daemon *d = arg;
    scheduler_enqueue(d->sched, qid, 0);
}

/* Root binds, then becomes mail_owner for everything else. */
static int drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(cfg->mail_owner);
    if (!pw) {
        snprintf(err, errlen,
                 "mail_owner \"%s\" does not exist: create it (make install does: "
                 "useradd --system %s) or set mail_owner to an existing unprivileged user",
                 cfg->mail_owner, cfg->mail_owner);
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "mail_owner \"%s\" has uid 0: use an unprivileged user",
                 cfg->mail_owner);
        return -1;
    }
    /* the spool and Maildirs must be ours before we stop being root */
    const char *dirs[] = { cfg->queue_directory, cfg->capture_directory };
    static const char *const sub[] = { "", "/tmp", "/queue", "/state", "/quarantine",
                                       "/hold" };
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < (i == 0 ? 6u : 1u); j++) {
            char p[4096];
            snprintf(p, sizeof p, "%s%s", dirs[i], sub[j]);
            if (chown(p, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
                snprintf(err, errlen, "chown %.900s to %s: %s", p, cfg->mail_owner,
                         strerror(errno));
                return -1;
            }
        }
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot become %s: %s", cfg->mail_owner, strerror(errno));
        return -1;
    }
    return 0;
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

int cli_serve(int argc, char **argv)
{
    const char *cpath = NULL;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt(argc, argv, "c:v")) != -1) {
        switch (c) {
        case 'c': cpath = optarg; break;
        case 'v': verbose++; break;
        default:
            fprintf(stderr, "usage: postern serve [-c FILE] [-v]\n");
            return 2;
        }
    }
    struct daemon d;
    char err[1024];
    memset(&d, 0, sizeof d);
    d.config_path = cli_config_path(cpath);
    log_init("postern", NULL, verbose);
    struct config_errors errs = { 0 };
    d.rt = runtime_load(d.config_path, &errs);
    if (!d.rt) {
        config_errors_each(&errs, start_say, NULL);
        log_info("fatal: configuration %s: %zu error%s",
                 d.config_path ? d.config_path : "(default)", errs.n, errs.n == 1 ? "" : "s");
        return 1;
    }
    const struct config *cfg = d.rt->cfg;
    log_init("postern", cfg->syslog_name, verbose);
    config_advise(cfg, serve_say, NULL);
    signal(SIGPIPE, SIG_IGN);
    umask(077);
    raise_fd_limit();

    d.base = event_base_new();
    if (!d.base)
        log_fatal("cannot create the event loop");
    d.server = server_new(&d, err, sizeof err);
    if (!d.server) {
        log_info("fatal: %s", err);
        runtime_unref(d.rt);
        event_base_free(d.base);
        return 1;
    }
    int rc = 1;
    if (fs_mkdir_p(cfg->queue_directory, 0700) < 0 ||
        fs_mkdir_p(cfg->capture_directory, 0700) < 0) {
        log_info("fatal: cannot create %s or %s: %s", cfg->queue_directory,
                 cfg->capture_directory, strerror(errno));
        goto out;
    }
    d.dns = dns_new(d.base, cfg->dns_servers.v, cfg->dns_servers.n, err, sizeof err);
    if (!d.dns) {
        log_info("fatal: dns_servers: %s", err);
        goto out;
    }
    d.smtp = smtp_client_new(d.base, d.dns);
    if (!d.smtp)
        log_fatal("out of memory");
    /* reads smtp_sasl_password_maps while still root */
    if (smtp_client_configure(d.smtp, cfg, err, sizeof err) < 0) {
        log_info("fatal: %s", err);
        goto out;
    }
    if (drop_privileges(cfg, err, sizeof err) < 0) {
        log_info("fatal: %s", err);
        goto out;
    }
    d.spool = spool_open(cfg->queue_directory, err, sizeof err);
    if (!d.spool) {
        log_info("fatal: queue_directory %s: %s", cfg->queue_directory, err);
        goto out;
    }
    /* control and local submission sockets, made as mail_owner; refused
     * if another daemon serves this queue (before spool_scan cleans tmp/) */
    if (server_listen_local(d.server, err, sizeof err) < 0) {
        log_info("fatal: %s", err);
        goto out;
    }
    d.sched = scheduler_new(&d);
    /* after dropping privileges: the threads are born unprivileged */
    d.workq = workq_new(d.base, DELIVERY_THREADS);
    if (!d.workq)
        log_warning("no delivery threads; Maildir writes run on the event loop");
    d.sig_term = evsignal_new(d.base, SIGTERM, on_term, &d);
    d.sig_int = evsignal_new(d.base, SIGINT, on_term, &d);
    d.sig_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    d.grace = evtimer_new(d.base, on_grace, &d);
    if (!d.sched || !d.sig_term || !d.sig_int || !d.sig_hup || !d.grace)
        log_fatal("out of memory");
    evsignal_add(d.sig_term, NULL);
    evsignal_add(d.sig_int, NULL);
    evsignal_add(d.sig_hup, NULL);

    long n = spool_scan(d.spool, recover_one, &d);
    if (n < 0)
        log_warning_errno("queue scan of %s failed", cfg->queue_directory);
    else if (n > 0)
        log_info("queue: %ld message%s to deliver", n, n == 1 ? "" : "s");
    log_info("daemon started -- version %s, configuration %s", POSTERN_VERSION,
             d.config_path ? d.config_path : "(default)");
    event_base_dispatch(d.base);
    log_info("stopped");
    rc = 0;
out:
    server_free(d.server);
    /* fails waiting deliveries back to the scheduler (deferred) */
    if (d.smtp)
        smtp_client_free(d.smtp);
    /* finishes the Maildir writes in flight and reports them */
    workq_free(d.workq);
    scheduler_free(d.sched);
    if (d.dns)
        dns_free(d.dns);
    if (d.spool)
        spool_close(d.spool);
    if (d.sig_term) event_free(d.sig_term);
    if (d.sig_int) event_free(d.sig_int);
    if (d.sig_hup) event_free(d.sig_hup);
    if (d.grace) event_free(d.grace);
    runtime_unref(d.rt);
    event_base_free(d.base);
    return rc;
}

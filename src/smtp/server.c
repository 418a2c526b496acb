/* server — listeners, accept back-off, the session list, the queue's and
 * the configuration's handles for the sessions. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../config/runtime.h"
#include "../policy/policy.h"
#include "../queue/queue.h"
#include "../util/fs.h"
#include "../util/inet.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/unixsock.h"
#include "reply.h"
#include "session.h"

/* A large backlog: connection-per-message clients must not be dropped. */
#define LISTEN_BACKLOG 1024
/* accept() failing (EMFILE, ENFILE, ENOBUFS...) leaves the connection in
 * the listen queue, so the socket stays readable: retried at once, it
 * would spin and log a line per try. The listeners pause instead, from
 * ACCEPT_PAUSE_MIN_MS doubling to ACCEPT_PAUSE_MAX_MS while it keeps
 * failing, and one warning covers every failure until ACCEPT_QUIET_SEC
 * pass without one. */
#define ACCEPT_PAUSE_MIN_MS 100
#define ACCEPT_PAUSE_MAX_MS 1000
#define ACCEPT_QUIET_SEC 60

/* A listener and what it speaks: the callbacks' argument. */
struct listener {
    struct server *srv;
    struct evconnlistener *l;
    enum listen_kind kind;
    char *url;                       /* its `listen` URL, or NULL */
};

/* A unix-domain listener; the socket file is removed at shutdown if it is
 * still the one we made. */
struct local_sock {
    struct evconnlistener *l;
    struct listener *li;             /* the callbacks' argument */
    char *path;
    struct unixsock_id id;
};

struct server {
    struct event_base *base;
    struct queue *queue;
    struct dns *dns;                 /* the client name and DNS restrictions */
    const struct cfg_source *cfg;
    server_idle_fn *on_idle;
    void *idle_arg;
    int shutting_down;
    struct listener *listeners;
    size_t nlisteners;
    struct local_sock submit;        /* submit_socket */
    struct session *sessions;    /* doubly linked list */
    unsigned long nsessions;
    /* accept back-off */
    struct event *accept_resume;  /* re-enables the paused listeners */
    long accept_pause_ms;         /* next pause; 0 after an accept worked */
    long long accept_failed_at;   /* monotonic seconds of the last failure, 0 none */
    struct smtpd_metrics metrics;
};

static const char *const schemes[] = {
    [LISTEN_SMTP] = "smtp", [LISTEN_SUBMISSION] = "submission",
    [LISTEN_SUBMISSIONS] = "submissions",
};

const char *server_listen_scheme(enum listen_kind kind)
{
    return (unsigned)kind < sizeof schemes / sizeof schemes[0] ? schemes[kind] : "smtp";
}

int server_parse_listen(const char *url, enum listen_kind *kind, char *host,
                        size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *p = url;
    const char *sep = strstr(p, "://");
    *kind = LISTEN_SMTP;
    if (sep) {
        size_t sl = (size_t)(sep - p), i;
        for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
            if (strlen(schemes[i]) == sl && strncasecmp(p, schemes[i], sl) == 0)
                break;
        if (i == sizeof schemes / sizeof schemes[0]) {
            snprintf(err, errlen, "\"%s\": unsupported scheme (use smtp://, submission:// "
                     "or submissions://host:port)", url);
            return -1;
        }
        *kind = (enum listen_kind)i;
        p = sep + 3;
    }
    const char *colon;
    const char *h = p;
    size_t hl;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "\"%s\": expected [IPv6]:port", url);
            return -1;
        }
        h = p + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        /* the query's values may hold ':' (hash:/etc/postern/access) */
        const char *q = strchr(p, '?');
        colon = NULL;
        for (const char *c = p; *c && (!q || c < q); c++)
            if (*c == ':')
                colon = c;
        if (!colon) {
            snprintf(err, errlen, "\"%s\": missing :port (e.g. smtp://127.0.0.1:2525)", url);
            return -1;
        }
        hl = (size_t)(colon - p);
    }
    if (hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "\"%s\": missing or overlong host", url);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    while (*end == '/')
        end++;
    if (colon[1] == '\0' || (*end && *end != '?') || v < 1 || v > 65535) {
        snprintf(err, errlen, "\"%s\": port must be 1..65535", url);
        return -1;
    }
    *port = (int)v;
    return 0;
}

static const char *const overridable[] = {
    "smtpd_tls_security_level", "smtpd_sasl_auth_enable", "smtpd_tls_auth_only",
    "smtpd_relay_restrictions", "smtpd_client_restrictions", "smtpd_recipient_restrictions",
    "smtpd_reject_unlisted_recipient", "smtpd_upstream_proxy_protocol",
    "smtpd_upstream_proxy_timeout",
};

int server_listen_overrides(const char *url, char *out, size_t outlen, char *err,
                            size_t errlen)
{
    const char *q = strchr(url, '?');
    size_t used = 0;
    int n = 0;
    if (outlen)
        out[0] = '\0';
    if (!q)
        return 0;
    for (const char *p = q + 1;;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq + 1 == p + len) {
            snprintf(err, errlen, "\"%s\": expected ?name=value&name=value after the port",
                     url);
            return -1;
        }
        size_t nl = (size_t)(eq - p), i;
        for (i = 0; i < sizeof overridable / sizeof overridable[0]; i++)
            if (strlen(overridable[i]) == nl && strncmp(p, overridable[i], nl) == 0)
                break;
        if (i == sizeof overridable / sizeof overridable[0]) {
            snprintf(err, errlen, "\"%s\": \"%.*s\" cannot be set per listener (allowed: "
                     SERVER_LISTEN_OVERRIDES ")", url, (int)(nl > 100 ? 100 : nl), p);
            return -1;
        }
        size_t vl = len - nl - 1;
        /* "name = value\n" */
        if (used + nl + 3 + vl + 2 > outlen) {
            snprintf(err, errlen, "\"%s\": overrides too long", url);
            return -1;
        }
        memcpy(out + used, p, nl);
        used += nl;
        memcpy(out + used, " = ", 3);
        used += 3;
        for (size_t k = 0; k < vl; k++) {
            char c = eq[1 + k];
            /* a list's items: '+' as in a form's query ("," ends the URL) */
            out[used++] = c == '+' ? ' ' : c;
        }
        out[used++] = '\n';
        out[used] = '\0';
        n++;
        p += len;
        if (*p != '&')
            return n;
        p++;
    }
}

int server_listen_same(const char *a, const char *b)
{
    size_t la = strcspn(a, "?"), lb = strcspn(b, "?");
    return la == lb && strncmp(a, b, la) == 0;
}

struct event_base *server_base(const struct server *srv)
{
    return srv->base;
}

struct queue *server_queue(const struct server *srv)
{
    return srv->queue;
}

const struct smtpd_metrics *server_metrics(const struct server *srv)
{
    return &srv->metrics;
}

static void collect(void *arg, struct metrics *m)
{
    struct server *srv = arg;
    (void)m;
    metrics_set(metrics_series(srv->metrics.open, NULL), (double)srv->nsessions);
}

int server_set_metrics(struct server *srv, struct metrics *m)
{
    const char *li[] = { "listener" }, *rj[] = { "code", "dsn" },
               *au[] = { "mechanism", "result" };
    struct smtpd_metrics *x = &srv->metrics;
    x->sessions = metrics_family(m, METRIC_COUNTER, "postern_smtpd_sessions_total",
                                 "SMTP sessions accepted, by listener kind (smtp, submission, "
                                 "submissions; local: the submit socket).", li, 1, NULL, 0);
    x->open = metrics_family(m, METRIC_GAUGE, "postern_smtpd_sessions_open",
                             "SMTP sessions open now.", NULL, 0, NULL, 0);
    x->accepted = metrics_family(m, METRIC_COUNTER, "postern_smtpd_messages_accepted_total",
                                 "Messages queued (250 after DATA or BDAT LAST).", NULL, 0,
                                 NULL, 0);
    x->rejects = metrics_family(m, METRIC_COUNTER, "postern_smtpd_rejects_total",
                                "4xx and 5xx replies of the SMTP server, by reply code and "
                                "enhanced status code (\"\" when the reply has none).",
                                rj, 2, NULL, 0);
    x->auth = metrics_family(m, METRIC_COUNTER, "postern_smtpd_auth_total",
                             "SMTP AUTH attempts by mechanism and result (success, failure: "
                             "535; error: a temporary failure).", au, 2, NULL, 0);
    if (!x->sessions || !x->open || !x->accepted || !x->rejects || !x->auth)
        return -1;
    return metrics_on_collect(m, collect, srv);
}

void server_set_dns(struct server *srv, struct dns *dns)
{
    srv->dns = dns;
}

struct dns *server_dns(const struct server *srv)
{
    return srv->dns;
}

struct runtime *server_config_ref(const struct server *srv, const char *url)
{
    struct runtime *rt = srv->cfg->current(srv->cfg->arg);
    /* by URL, not position: a reload may have changed `listen` (the
     * sockets stay the ones bound at start) or only a listener's query */
    for (size_t i = 0; url && rt->listeners && i < rt->cfg->listen.n; i++)
        if (rt->listeners[i] && server_listen_same(rt->cfg->listen.v[i], url))
            return srv->cfg->ref(rt->listeners[i]);
    return srv->cfg->ref(rt);
}

void server_config_unref(const struct server *srv, struct runtime *rt)
{
    srv->cfg->unref(rt);
}

static const struct runtime *current(const struct server *srv)
{
    return srv->cfg->current(srv->cfg->arg);
}

unsigned long server_session_count(const struct server *srv)
{
    return srv->nsessions;
}

const char *server_kind_service(enum listen_kind kind)
{
    switch (kind) {
    case LISTEN_SUBMISSION: return "submission";
    case LISTEN_SUBMISSIONS: return "submissions";
    default: return "smtp";
    }
}

unsigned long server_client_count(const struct server *srv, const char *addr)
{
    unsigned long n = 0;
    for (const struct session *s = srv->sessions; s; s = s->next)
        if (strcmp(s->client_addr, addr) == 0)
            n++;
    return n;
}

static void add_session(struct server *srv, struct session *s);

static void accept_worked(struct server *srv)
{
    srv->accept_pause_ms = 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct listener *li = arg;
    struct server *srv = li->srv;
    const struct runtime *rt = current(srv);
    const struct config *cfg = rt->cfg;
    (void)l;
    accept_worked(srv);
    evutil_make_socket_nonblocking(fd);
    int one = 1;
    /* replies are written whole; no Nagle delay on the last one */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    char reject[256] = "";
    /* the proxy protocol may be on for this listener only (its overrides) */
    struct runtime *lrt = server_config_ref(srv, li->url);
    int proxied = lrt->cfg->smtpd_upstream_proxy_protocol[0] &&
                  policy_netlist_match(rt->proxy_networks, sa);
    server_config_unref(srv, lrt);
    if ((long long)srv->nsessions >= cfg->smtpd_max_connections) {
        reply_format(reject, sizeof reject, REPLY_TOO_MANY_CONNECTIONS, 0,
                     cfg->myhostname, NULL);
    } else if (cfg->smtpd_client_connection_count_limit > 0 &&
               !(rt->event_exceptions && policy_netlist_match(rt->event_exceptions, sa)) &&
               !proxied) {
        /* behind a proxy, its address stands for every client: the
         * session counts the real client once the header names it */
        char addr[64] = "";
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, addr,
                      sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, addr,
                      sizeof addr);
        unsigned long n = server_client_count(srv, addr) + 1;
        if ((long long)n > cfg->smtpd_client_connection_count_limit) {
            log_warning("Connection concurrency limit exceeded: %lu from unknown[%s] for "
                        "service %s", n, addr, server_kind_service(li->kind));
            reply_format(reject, sizeof reject, REPLY_TOO_MANY_FROM, 0,
                         cfg->myhostname, addr);
        }
    }
    metrics_inc1(srv->metrics.sessions, server_listen_scheme(li->kind));
    struct session *s = session_new(srv, fd, li->kind, li->url, sa, (socklen_t)salen,
                                    reject[0] ? reject : NULL);
    add_session(srv, s);
}

/* The local submission socket: same sessions, trusted, no per-client
 * limit (the peer is identified by uid, not address). */
static void on_accept_local(struct evconnlistener *l, evutil_socket_t fd,
                            struct sockaddr *sa, int salen, void *arg)
{
    struct server *srv = ((struct listener *)arg)->srv;
    const struct config *cfg = current(srv)->cfg;
    (void)l;
    accept_worked(srv);
    evutil_make_socket_nonblocking(fd);
    char reject[256] = "";
    if ((long long)srv->nsessions >= cfg->smtpd_max_connections)
        reply_format(reject, sizeof reject, REPLY_TOO_MANY_CONNECTIONS, 0,
                     cfg->myhostname, NULL);
    struct sockaddr_un local;
    if (sa->sa_family != AF_UNIX || salen < (int)sizeof(sa_family_t)) {
        /* some kernels return an empty address for an unnamed peer */
        memset(&local, 0, sizeof local);
        local.sun_family = AF_UNIX;
        sa = (struct sockaddr *)(void *)&local;
        salen = (int)sizeof(sa_family_t);
    }
    metrics_inc1(srv->metrics.sessions, "local");
    struct session *s = session_new(srv, fd, LISTEN_SMTP, NULL, sa, (socklen_t)salen,
                                    reject[0] ? reject : NULL);
    add_session(srv, s);
}

static void add_session(struct server *srv, struct session *s)
{
    if (!s) {
        log_warning("cannot create session: out of memory");
        return;
    }
    s->prev = NULL;
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nsessions++;
}

/* Every listener shares the descriptor table: they pause and resume
 * together. */
static void listeners_enable(struct server *srv, int on)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        (on ? evconnlistener_enable : evconnlistener_disable)(srv->listeners[i].l);
    if (srv->submit.l)
        (on ? evconnlistener_enable : evconnlistener_disable)(srv->submit.l);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    listeners_enable(arg, 1);
}

static long long monotonic_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec;
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct server *srv = ((struct listener *)arg)->srv;
    int e = errno;
    (void)l;
    long long now = monotonic_sec();
    if (srv->accept_failed_at == 0 || now - srv->accept_failed_at >= ACCEPT_QUIET_SEC)
        log_warning("accept: %s; new connections wait in the listen queue, accept is "
                    "retried every %d-%d ms (further failures within %ds are not logged)",
                    strerror(e), ACCEPT_PAUSE_MIN_MS, ACCEPT_PAUSE_MAX_MS, ACCEPT_QUIET_SEC);
    srv->accept_failed_at = now;
    srv->accept_pause_ms = srv->accept_pause_ms == 0 ? ACCEPT_PAUSE_MIN_MS
                                                     : srv->accept_pause_ms * 2;
    if (srv->accept_pause_ms > ACCEPT_PAUSE_MAX_MS)
        srv->accept_pause_ms = ACCEPT_PAUSE_MAX_MS;
    listeners_enable(srv, 0);
    struct timeval tv = { srv->accept_pause_ms / 1000, (srv->accept_pause_ms % 1000) * 1000 };
    evtimer_add(srv->accept_resume, &tv);
}

void server_session_gone(struct server *srv, struct session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nsessions--;
    if (srv->shutting_down && srv->nsessions == 0)
        srv->on_idle(srv->idle_arg);
}

/* ---------- the session's commit ---------- */

static void on_committed(void *arg, int ok)
{
    session_commit_done(arg, ok);
}

void server_commit_request(struct server *srv, struct session *s,
                           struct spool_msg *msg)
{
    queue_commit_request(srv->queue, msg, on_committed, s);
}

void server_commit_forget(struct server *srv, struct session *s)
{
    queue_commit_cancel(srv->queue, s);
}

/* ---------- set-up ---------- */

int server_bind(const char *url, enum listen_kind *kind, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (server_parse_listen(url, kind, host, sizeof host, &port, err, errlen) < 0)
        return -1;
    char why[256];
    int fd = inet_listen_tcp(host, port, 0, LISTEN_BACKLOG, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: %s", url, why);
        return -1;
    }
    log_info("listening on %s", url);
    return fd;
}

struct server *server_new(struct event_base *base, struct queue *queue,
                          const struct cfg_source *cfg, server_idle_fn *on_idle, void *arg,
                          const struct server_listen_fd *fds, size_t nfds, char *err,
                          size_t errlen)
{
    struct server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        for (size_t k = 0; k < nfds; k++)
            close(fds[k].fd);
        return NULL;
    }
    srv->base = base;
    srv->queue = queue;
    srv->cfg = cfg;
    srv->on_idle = on_idle;
    srv->idle_arg = arg;
    srv->accept_resume = evtimer_new(base, on_accept_resume, srv);
    srv->listeners = calloc(nfds ? nfds : 1, sizeof *srv->listeners);
    if (!srv->accept_resume || !srv->listeners) {
        snprintf(err, errlen, "out of memory");
        for (size_t k = 0; k < nfds; k++)
            close(fds[k].fd);
        server_free(srv);
        return NULL;
    }
    for (size_t i = 0; i < nfds; i++) {
        /* backlog 0: the socket already listens (bound by the parent) */
        struct listener *li = &srv->listeners[i];
        li->srv = srv;
        li->kind = fds[i].kind;
        if (fds[i].url && !(li->url = strdup(fds[i].url))) {
            snprintf(err, errlen, "out of memory");
            for (size_t k = i; k < nfds; k++)
                close(fds[k].fd);
            server_free(srv);
            return NULL;
        }
        struct evconnlistener *l = evconnlistener_new(
            base, on_accept, li, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
            fds[i].fd);
        if (!l) {
            snprintf(err, errlen, "out of memory");
            free(li->url);
            for (size_t k = i; k < nfds; k++)
                close(fds[k].fd);
            server_free(srv);
            return NULL;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        li->l = l;
        srv->nlisteners++;
    }
    return srv;
}

static void local_close(struct local_sock *ls)
{
    if (ls->l) {
        evconnlistener_free(ls->l);
        ls->l = NULL;
        if (ls->path)
            unixsock_unlink(ls->path, &ls->id);
    }
    free(ls->path);
    ls->path = NULL;
    free(ls->li);
    ls->li = NULL;
}

static void close_listeners(struct server *srv)
{
    if (srv->accept_resume)
        evtimer_del(srv->accept_resume);
    for (size_t i = 0; i < srv->nlisteners; i++) {
        evconnlistener_free(srv->listeners[i].l);
        free(srv->listeners[i].url);
        srv->listeners[i].url = NULL;
    }
    srv->nlisteners = 0;
    local_close(&srv->submit);
}

/* Listen on a unix stream socket at path with the given file mode. A
 * socket file left by a daemon that is gone is replaced; one that still
 * accepts connections means another daemon uses this queue: refused. */
static int local_listen(struct server *srv, struct local_sock *ls, const char *path,
                        mode_t mode, evconnlistener_cb cb, char *err, size_t errlen)
{
    int fd = unixsock_listen(path, mode, LISTEN_BACKLOG, &ls->id, err, errlen);
    if (fd < 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "%s accepts connections: another postern daemon is "
                     "running on this queue", path);
        return -1;
    }
    ls->li = calloc(1, sizeof *ls->li);
    if (ls->li) {
        ls->li->srv = srv;
        ls->l = evconnlistener_new(srv->base, cb, ls->li,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
        ls->li->l = ls->l;
    }
    ls->path = strdup(path);
    if (!ls->l || !ls->path) {
        if (!ls->l)
            close(fd);
        snprintf(err, errlen, "listen on %s: out of memory", path);
        local_close(ls);
        return -1;
    }
    evconnlistener_set_error_cb(ls->l, on_accept_error);
    return 0;
}

int server_listen_submit(struct server *srv, const char *queue_directory,
                         const char *submit_socket, char *err, size_t errlen)
{
    char dir[4096];
    if (!submit_socket[0])
        return 0;                      /* local submission disabled */
    /* public/: anyone may submit, like Postfix's public/pickup */
    size_t ql = strlen(queue_directory);
    if (strncmp(submit_socket, queue_directory, ql) == 0 && submit_socket[ql] == '/') {
        /* the queue directory must be searchable to reach it (its
         * subdirectories stay 0700) */
        struct stat st;
        if (stat(queue_directory, &st) == 0 && (st.st_mode & 0011) != 0011 &&
            chmod(queue_directory, (st.st_mode & 07777) | 0011) < 0) {
            snprintf(err, errlen, "chmod %s: %s", queue_directory, strerror(errno));
            return -1;
        }
    }
    if (snprintf(dir, sizeof dir, "%s", submit_socket) >= (int)sizeof dir) {
        snprintf(err, errlen, "submit_socket: path too long");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdir_p_mode(dir, 0755, err, errlen) < 0)
            return -1;
    }
    if (local_listen(srv, &srv->submit, submit_socket, 0666, on_accept_local, err,
                     errlen) < 0)
        return -1;
    log_info("listening on %s (local submission)", submit_socket);
    return 0;
}

void server_shutdown(struct server *srv)
{
    srv->shutting_down = 1;
    close_listeners(srv);
    struct session *s = srv->sessions;
    while (s) {
        struct session *next = s->next;
        session_shutdown(s);
        s = next;
    }
    if (srv->nsessions == 0)
        srv->on_idle(srv->idle_arg);
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    close_listeners(srv);
    free(srv->listeners);
    /* sessions still alive at exit (grace expired) are abandoned: nothing
     * they hold was acknowledged (what finished DATA is committed by
     * queue_free, as promised) */
    while (srv->sessions)
        session_destroy(srv->sessions);
    if (srv->accept_resume)
        event_free(srv->accept_resume);
    free(srv);
}

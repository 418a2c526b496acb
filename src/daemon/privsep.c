/* privsep — the privileged parent and the worker's channel to it (see
 * privsep.h for the contract). */
#include "privsep.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"
#include "../util/fbundle.h"
#include "../util/log.h"
#include "../util/sbuf.h"

pid_t privsep_fork(int *fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        /* the parent may have died before prctl took effect */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        *fd = sv[1];
        return 0;
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

void privsep_watch_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);
}

/* ---- parent ---------------------------------------------------------------- */

struct parent {
    struct event_base *base;
    const char *config_path;
    pid_t worker;
    int status;                 /* exit status for `postern serve` */
    int worker_gone;
    struct bufferevent *bev;
};

/* Reap the worker if it has exited; 1 when it has. */
static int parent_reap(struct parent *p, int wait)
{
    int st;
    pid_t r;
    do
        r = waitpid(p->worker, &st, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r != p->worker)
        return 0;
    if (WIFEXITED(st)) {
        p->status = WEXITSTATUS(st);
    } else {
        log_warning("worker process %ld killed by signal %d", (long)p->worker,
                    WTERMSIG(st));
        p->status = 128 + WTERMSIG(st);
    }
    p->worker_gone = 1;
    event_base_loopexit(p->base, NULL);
    return 1;
}

static void reload_say(void *arg, const char *msg)
{
    (void)arg;
    log_warning("reload failed, keeping the running configuration: %s", msg);
}

static void parent_reload(struct parent *p)
{
    struct config_errors errs = { 0 };
    /* one bundle in flight at most: a worker that asks and never reads
     * must not grow the root parent's memory */
    if (evbuffer_get_length(bufferevent_get_output(p->bev)) > 0) {
        log_warning("reload skipped: the worker has not taken the previous "
                    "configuration yet");
        return;
    }
    struct fbundle *fb = fbundle_new_recorder();
    if (!fb) {
        log_warning("reload failed, keeping the running configuration: out of memory");
        return;
    }
    /* validates everything the worker will load, as root */
    struct runtime *rt = runtime_load_from(p->config_path, fb, &errs);
    if (!rt) {
        config_errors_each(&errs, reload_say, NULL);
        fbundle_free(fb);
        return;
    }
    runtime_unref(rt);
    struct sbuf wire = SBUF_INIT;
    uint32_t len = 0;
    sbuf_add(&wire, &len, sizeof len);
    if (fbundle_encode(fb, &wire) < 0 || wire.oom || wire.len - sizeof len > FBUNDLE_MAX) {
        log_warning("reload failed, keeping the running configuration: the "
                    "configuration and its tables are too large (%zu bytes)", wire.len);
    } else {
        len = (uint32_t)(wire.len - sizeof len);
        memcpy(wire.s, &len, sizeof len);
        if (bufferevent_write(p->bev, wire.s, wire.len) < 0)
            log_warning("reload failed: cannot pass the configuration to the worker");
    }
    /* the wire copy holds the same secrets as the bundle */
    if (wire.s) {
        volatile char *w = wire.s;
        for (size_t i = 0; i < wire.len; i++)
            w[i] = 0;
    }
    sbuf_free(&wire);
    fbundle_free(fb);
}

static void parent_on_read(struct bufferevent *bev, void *arg)
{
    struct parent *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char buf[64];
    int want = 0;
    int n;
    while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
        for (int i = 0; i < n; i++)
            want |= buf[i] == 'R';
    /* several requests in one read are one reload */
    if (want)
        parent_reload(p);
}

static void parent_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct parent *p = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* the worker closed its end: it is exiting */
        bufferevent_disable(p->bev, EV_READ | EV_WRITE);
        parent_reap(p, 1);
    }
}

static void parent_on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct parent *p = arg;
    (void)what;
    switch (sig) {
    case SIGHUP:
        log_info("reload: reading the configuration");
        parent_reload(p);
        break;
    case SIGTERM:
    case SIGINT:
        /* EPERM: a capability bounding set without CAP_KILL (the worker
         * is mail_owner's); say so, or the stop would hang unexplained */
        if (!p->worker_gone && kill(p->worker, (int)sig) < 0)
            log_warning("cannot pass signal %d on to the worker process %ld: %s%s",
                        (int)sig, (long)p->worker, strerror(errno),
                        errno == EPERM ? " (the parent needs CAP_KILL)" : "");
        break;
    case SIGCHLD:
        parent_reap(p, 0);
        break;
    }
}

int privsep_parent_run(const char *config_path, pid_t worker, int fd)
{
    struct parent p;
    static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };
    struct event *ev[sizeof sigs / sizeof sigs[0]] = { 0 };
    memset(&p, 0, sizeof p);
    p.config_path = config_path;
    p.worker = worker;
    p.status = 1;
    p.base = event_base_new();
    if (!p.base) {
        log_warning("parent: cannot create the event loop; stopping the worker");
        kill(worker, SIGTERM);
        close(fd);
        parent_reap(&p, 1);
        return 1;
    }
    evutil_make_socket_nonblocking(fd);
    p.bev = bufferevent_socket_new(p.base, fd, BEV_OPT_CLOSE_ON_FREE);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        ev[i] = evsignal_new(p.base, sigs[i], parent_on_signal, &p);
        if (!ev[i] || evsignal_add(ev[i], NULL) < 0)
            log_fatal("parent: cannot watch signal %d", sigs[i]);
    }
    if (!p.bev)
        log_fatal("parent: out of memory");
    bufferevent_setcb(p.bev, parent_on_read, NULL, parent_on_event, &p);
    bufferevent_enable(p.bev, EV_READ);
    /* a worker that died before SIGCHLD was watched */
    if (!parent_reap(&p, 0))
        event_base_dispatch(p.base);
    if (!p.worker_gone)
        parent_reap(&p, 1);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (ev[i])
            event_free(ev[i]);
    bufferevent_free(p.bev);
    event_base_free(p.base);
    return p.status;
}

/* ---- worker ---------------------------------------------------------------- */

struct privsep_channel {
    struct bufferevent *bev;
    privsep_bundle_fn *on_bundle;
    void *arg;
};

static void channel_on_read(struct bufferevent *bev, void *arg)
{
    struct privsep_channel *ch = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint32_t len;
        if (evbuffer_get_length(in) < sizeof len)
            return;
        evbuffer_copyout(in, &len, sizeof len);
        if (len > FBUNDLE_MAX) {
            log_warning("privileged parent sent a %lu-byte configuration; ignored",
                        (unsigned long)len);
            bufferevent_disable(bev, EV_READ);
            return;
        }
        if (evbuffer_get_length(in) < sizeof len + len)
            return;
        evbuffer_drain(in, sizeof len);
        const char *data = (const char *)evbuffer_pullup(in, len);
        char err[256];
        struct fbundle *fb = fbundle_decode(data ? data : "", len, err, sizeof err);
        evbuffer_drain(in, len);
        if (!fb)
            log_warning("reload failed: from the privileged parent: %s", err);
        else
            ch->on_bundle(ch->arg, fb);
    }
}

static void channel_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* PR_SET_PDEATHSIG ends us too; until then we keep serving */
        log_warning("privileged parent went away; reloads are no longer possible");
        bufferevent_disable(bev, EV_READ | EV_WRITE);
    }
}

struct privsep_channel *privsep_channel_new(struct event_base *base, int fd,
                                            privsep_bundle_fn *on_bundle, void *arg)
{
    struct privsep_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    evutil_make_socket_nonblocking(fd);
    ch->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!ch->bev) {
        free(ch);
        return NULL;
    }
    ch->on_bundle = on_bundle;
    ch->arg = arg;
    bufferevent_setcb(ch->bev, channel_on_read, NULL, channel_on_event, ch);
    bufferevent_enable(ch->bev, EV_READ);
    return ch;
}

void privsep_channel_request_reload(struct privsep_channel *ch)
{
    bufferevent_write(ch->bev, "R", 1);
}

void privsep_channel_free(struct privsep_channel *ch)
{
    if (!ch)
        return;
    bufferevent_free(ch->bev);
    free(ch);
}

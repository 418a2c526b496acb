/* control — the daemon side of `postern queue flush|delete|hold|release`. */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../queue/qid.h"
#include "../util/fs.h"
#include "../util/log.h"
#include "../util/unixsock.h"

/* Seconds a client gets to send its line and read the answer. */
#define CONTROL_TIMEOUT 10
/* Requests waiting to be accepted. */
#define CONTROL_BACKLOG 16
/* accept() failing (EMFILE...) leaves the connection queued and the socket
 * readable: the listener pauses this long instead of spinning. */
#define CONTROL_ACCEPT_PAUSE 1

struct ctl_conn {
    struct ctl_conn *prev, *next;
    struct control *c;
    struct bufferevent *bev;
    long uid;
    int closing;              /* answer queued; free once written */
};

struct control {
    struct event_base *base;
    const struct admin *admin;
    struct ctl_conn *conns;
    struct evconnlistener *l;
    struct event *resume;         /* after an accept failure */
    char *path;                   /* the socket file, removed at exit */
    struct unixsock_id id;
};

/* ---------- pure part ---------- */

int control_socket_path(const char *queue_directory, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/private/control", queue_directory);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int control_parse(const char *line, size_t len, struct control_request *req,
                  char *why, size_t whylen)
{
    static const enum admin_verb verbs[] = {
        ADMIN_FLUSH, ADMIN_DELETE, ADMIN_HOLD, ADMIN_RELEASE,
    };
    memset(req, 0, sizeof *req);
    if (len > CONTROL_LINE_MAX || memchr(line, '\0', len)) {
        snprintf(why, whylen, "malformed request");
        return -1;
    }
    size_t vl = 0;
    while (vl < len && line[vl] != ' ')
        vl++;
    size_t i;
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strlen(admin_verb_name(verbs[i])) == vl &&
            memcmp(admin_verb_name(verbs[i]), line, vl) == 0)
            break;
    if (i == sizeof verbs / sizeof verbs[0]) {
        snprintf(why, whylen, "unknown request (use flush, delete, hold, release)");
        return -1;
    }
    req->verb = verbs[i];
    if (vl == len) {
        if (req->verb == ADMIN_FLUSH)
            return 0;
        snprintf(why, whylen, "%s needs a queue id or ALL", admin_verb_name(verbs[i]));
        return -1;
    }
    const char *arg = line + vl + 1;
    size_t al = len - vl - 1;
    if (al == 3 && memcmp(arg, "ALL", 3) == 0) {
        memcpy(req->qid, "ALL", 4);
        return 0;
    }
    if (al != QID_LEN) {
        snprintf(why, whylen, "invalid queue id");
        return -1;
    }
    memcpy(req->qid, arg, QID_LEN);
    req->qid[QID_LEN] = '\0';
    if (!qid_valid(req->qid)) {
        snprintf(why, whylen, "invalid queue id");
        return -1;
    }
    return 0;
}

/* ---------- connections ---------- */

static void conn_free(struct ctl_conn *k)
{
    struct control *c = k->c;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    bufferevent_free(k->bev);
    free(k);
}

static void conn_answer(struct ctl_conn *k, const char *line)
{
    struct evbuffer *out = bufferevent_get_output(k->bev);
    evbuffer_add_printf(out, "%s\n", line);
    k->closing = 1;
    bufferevent_disable(k->bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *k = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (k->closing)
        return;
    struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
    if (p.pos < 0) {
        if (evbuffer_get_length(in) > CONTROL_LINE_MAX + 1)
            conn_answer(k, "error request too long");
        return;
    }
    char line[CONTROL_LINE_MAX + 2];
    size_t n = (size_t)p.pos;
    if (n > CONTROL_LINE_MAX + 1) {
        conn_answer(k, "error request too long");
        return;
    }
    evbuffer_remove(in, line, n + 1);
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    struct control_request req;
    char why[128], answer[512], clean[200];
    log_sanitize(line, n, clean, sizeof clean);
    if (control_parse(line, n, &req, why, sizeof why) < 0)
        snprintf(answer, sizeof answer, "error %s", why);
    else
        admin_execute(k->c->admin, req.verb, req.qid, answer, sizeof answer);
    log_info("control: uid=%ld: %s: %s", k->uid, clean, answer);
    conn_answer(k, answer);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *k = arg;
    if (k->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(k);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct ctl_conn *k = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(k);
}

static void control_accept(struct control *c, int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof cred;
    long uid = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
        uid = (long)cred.uid;
    struct ctl_conn *k = calloc(1, sizeof *k);
    if (!k) {
        close(fd);
        return;
    }
    k->c = c;
    k->uid = uid;
    k->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!k->bev) {
        close(fd);
        free(k);
        return;
    }
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    bufferevent_setcb(k->bev, on_read, on_write, on_event, k);
    struct timeval tv = { CONTROL_TIMEOUT, 0 };
    bufferevent_set_timeouts(k->bev, &tv, &tv);
    bufferevent_enable(k->bev, EV_READ | EV_WRITE);
    /* the directory already keeps others out; this is defence in depth */
    if (uid != 0 && uid != (long)geteuid()) {
        log_warning("control: connection from uid %ld refused", uid);
        conn_answer(k, "error permission denied");
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    evutil_make_socket_nonblocking(fd);
    control_accept(arg, fd);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct control *c = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(c->l);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct control *c = arg;
    log_warning("control: accept: %s; trying again in %ds", strerror(errno),
                CONTROL_ACCEPT_PAUSE);
    evconnlistener_disable(l);
    struct timeval tv = { CONTROL_ACCEPT_PAUSE, 0 };
    evtimer_add(c->resume, &tv);
}

struct control *control_new(struct event_base *base, const struct admin *admin)
{
    struct control *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->admin = admin;
    if (!(c->resume = evtimer_new(base, on_resume, c))) {
        free(c);
        return NULL;
    }
    return c;
}

int control_listen(struct control *c, const char *queue_directory, char *err,
                   size_t errlen)
{
    char path[4096], dir[4096];
    /* private/: only mail_owner (and root) may reach the control socket */
    if (control_socket_path(queue_directory, path, sizeof path) < 0) {
        snprintf(err, errlen, "queue_directory path too long");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdir_p_mode(dir, 0700, err, errlen) < 0)
        return -1;
    int fd = unixsock_listen(path, 0600, CONTROL_BACKLOG, &c->id, err, errlen);
    if (fd < 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "%s accepts connections: another postern daemon is "
                     "running on this queue", path);
        return -1;
    }
    c->l = evconnlistener_new(c->base, on_accept, c,
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!c->l || !(c->path = strdup(path))) {
        if (!c->l)
            close(fd);
        snprintf(err, errlen, "listen on %s: out of memory", path);
        return -1;
    }
    evconnlistener_set_error_cb(c->l, on_accept_error);
    return 0;
}

void control_free(struct control *c)
{
    if (!c)
        return;
    while (c->conns)
        conn_free(c->conns);
    if (c->l) {
        evconnlistener_free(c->l);
        if (c->path)
            unixsock_unlink(c->path, &c->id);
    }
    free(c->path);
    event_free(c->resume);
    free(c);
}

/* control — the daemon side of `postern queue flush|delete|hold|release`. */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../daemon.h"
#include "../queue/qid.h"
#include "../queue/scheduler.h"
#include "../queue/spool.h"
#include "../util/log.h"

/* Seconds a client gets to send its line and read the answer. */
#define CONTROL_TIMEOUT 10

struct ctl_conn {
    struct ctl_conn *prev, *next;
    struct control *c;
    struct bufferevent *bev;
    long uid;
    int closing;              /* answer queued; free once written */
};

struct control {
    struct daemon *d;
    struct ctl_conn *conns;
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
    static const struct { const char *name; enum control_verb verb; } verbs[] = {
        { "flush", CTL_FLUSH }, { "delete", CTL_DELETE },
        { "hold", CTL_HOLD }, { "release", CTL_RELEASE },
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
        if (strlen(verbs[i].name) == vl && memcmp(verbs[i].name, line, vl) == 0)
            break;
    if (i == sizeof verbs / sizeof verbs[0]) {
        snprintf(why, whylen, "unknown request (use flush, delete, hold, release)");
        return -1;
    }
    req->verb = verbs[i].verb;
    if (vl == len) {
        if (req->verb == CTL_FLUSH)
            return 0;
        snprintf(why, whylen, "%s needs a queue id or ALL", verbs[i].name);
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

/* ---------- acting on the queue ---------- */

struct qids {
    char (*v)[QID_LEN + 1];
    size_t n, cap;
    int oom;
};

static void qids_add(const char *qid, void *arg)
{
    struct qids *q = arg;
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        void *nv = realloc(q->v, nc * sizeof *q->v);
        if (!nv) {
            q->oom = 1;
            return;
        }
        q->v = nv;
        q->cap = nc;
    }
    memcpy(q->v[q->n++], qid, QID_LEN + 1);
}

static const char *verb_done(enum control_verb v)
{
    switch (v) {
    case CTL_FLUSH: return "scheduled for delivery";
    case CTL_DELETE: return "deleted";
    case CTL_HOLD: return "on hold";
    case CTL_RELEASE: return "released";
    }
    return "";
}

enum { ACT_FAILED = -1, ACT_DONE = 0, ACT_LATER = 1 };

/* Record a hold or delete of a message being delivered, to be applied by
 * attempt.c when the attempt ends. */
static int act_later(struct daemon *d, enum sched_action act, const char *qid,
                     char *why, size_t whylen)
{
    enum sched_action now = scheduler_pending_add(d->sched, qid, act);
    if (now == SCHED_ACT_NONE) {
        snprintf(why, whylen, "%s: out of memory", qid);
        return ACT_FAILED;
    }
    /* (not normally scheduled while in flight; never let a copy run after) */
    scheduler_remove(d->sched, qid);
    snprintf(why, whylen, "%s will be %s when its delivery attempt ends", qid,
             now == SCHED_ACT_DELETE ? "deleted" : "held");
    return ACT_LATER;
}

/* One message. ACT_DONE or ACT_LATER (a message being delivered: the action
 * is pending on its attempt) with the answer text in why, or ACT_FAILED
 * with the reason in why. */
static int act_one(struct daemon *d, enum control_verb verb, const char *qid,
                   char *why, size_t whylen)
{
    int where = spool_where(d->spool, qid);
    if (where < 0) {
        snprintf(why, whylen, "%s: %s", qid, strerror(errno));
        return ACT_FAILED;
    }
    if (where == SPOOL_ABSENT) {
        snprintf(why, whylen, "%s: no such message in the queue", qid);
        return ACT_FAILED;
    }
    snprintf(why, whylen, "%s %s", qid, verb_done(verb));
    switch (verb) {
    case CTL_FLUSH:
        if (where == SPOOL_HELD) {
            snprintf(why, whylen, "%s is on hold (release it first)", qid);
            return ACT_FAILED;
        }
        if (scheduler_in_flight(d->sched, qid)) {
            snprintf(why, whylen, "%s is being delivered now", qid);
            return ACT_DONE;
        }
        if (scheduler_flush(d->sched, qid) == 0)
            scheduler_enqueue(d->sched, qid, 0);   /* lost track of it: take it */
        return ACT_DONE;
    case CTL_DELETE:
        if (scheduler_in_flight(d->sched, qid))
            return act_later(d, SCHED_ACT_DELETE, qid, why, whylen);
        scheduler_remove(d->sched, qid);
        if (spool_remove(d->spool, qid) < 0) {
            snprintf(why, whylen, "%s: cannot remove: %s", qid, strerror(errno));
            log_warning("%s: cannot remove: %s", qid, strerror(errno));
            /* the file may still be there: keep it scheduled */
            if (spool_where(d->spool, qid) == SPOOL_QUEUED)
                scheduler_enqueue(d->sched, qid, 0);
            return ACT_FAILED;
        }
        log_info("%s: removed (deleted by postern queue)", qid);
        return ACT_DONE;
    case CTL_HOLD:
        if (where == SPOOL_HELD)
            return ACT_DONE;
        if (scheduler_in_flight(d->sched, qid))
            return act_later(d, SCHED_ACT_HOLD, qid, why, whylen);
        scheduler_remove(d->sched, qid);
        if (spool_hold(d->spool, qid) < 0) {
            snprintf(why, whylen, "%s: cannot hold: %s", qid, strerror(errno));
            log_warning("%s: cannot hold: %s", qid, strerror(errno));
            if (spool_where(d->spool, qid) == SPOOL_QUEUED)
                scheduler_enqueue(d->sched, qid, 0);
            return ACT_FAILED;
        }
        log_info("%s: held (postern queue hold)", qid);
        return ACT_DONE;
    case CTL_RELEASE:
        if (where == SPOOL_QUEUED) {
            enum sched_action p = scheduler_pending(d->sched, qid);
            if (p == SCHED_ACT_HOLD) {
                /* being delivered with a hold pending: cancel the hold */
                scheduler_pending_take(d->sched, qid);
                log_info("%s: pending hold cancelled (released by admin request)", qid);
                snprintf(why, whylen, "%s released (pending hold cancelled)", qid);
                return ACT_DONE;
            }
            snprintf(why, whylen, "%s is not on hold%s", qid,
                     p == SCHED_ACT_DELETE
                         ? " (it will be deleted when its delivery attempt ends)" : "");
            return ACT_FAILED;
        }
        if (spool_release(d->spool, qid) < 0) {
            snprintf(why, whylen, "%s: cannot release: %s", qid, strerror(errno));
            log_warning("%s: cannot release: %s", qid, strerror(errno));
            return ACT_FAILED;
        }
        log_info("%s: released from hold", qid);
        scheduler_enqueue(d->sched, qid, 0);
        return ACT_DONE;
    }
    return ACT_FAILED;
}

/* Writes the answer line (without LF) into out. */
static void execute(struct daemon *d, const struct control_request *req, char *out,
                    size_t outlen)
{
    char why[256];
    if (req->verb == CTL_FLUSH && req->qid[0] == '\0') {
        unsigned long n = scheduler_flush(d->sched, NULL);
        snprintf(out, outlen, "ok %lu message%s scheduled for delivery now", n,
                 n == 1 ? "" : "s");
        return;
    }
    if (strcmp(req->qid, "ALL") != 0) {
        int r = act_one(d, req->verb, req->qid, why, sizeof why);
        snprintf(out, outlen, "%s %s", r == ACT_FAILED ? "error" : "ok", why);
        return;
    }
    /* ALL: the listing is taken first, then each message on its own; the
     * ones being delivered get the action when their attempt ends */
    struct qids q = { 0 };
    long rc = 0;
    if (req->verb != CTL_RELEASE)
        rc = spool_list(d->spool, qids_add, &q);
    if (rc >= 0 && (req->verb == CTL_RELEASE || req->verb == CTL_DELETE))
        rc = spool_list_held(d->spool, qids_add, &q);
    if (rc >= 0 && req->verb == CTL_RELEASE)    /* holds pending on an attempt */
        scheduler_pending_each(d->sched, SCHED_ACT_HOLD, qids_add, &q);
    if (rc < 0 || q.oom) {
        snprintf(out, outlen, "error cannot list the queue: %s",
                 q.oom ? "out of memory" : strerror(errno));
        free(q.v);
        return;
    }
    unsigned long done = 0, later = 0, failed = 0;
    why[0] = '\0';
    for (size_t i = 0; i < q.n; i++) {
        char w[256];
        int r = act_one(d, req->verb, q.v[i], w, sizeof w);
        if (r == ACT_DONE)
            done++;
        else if (r == ACT_LATER)
            later++;
        else if (spool_where(d->spool, q.v[i]) != SPOOL_ABSENT) {
            /* (one that went away meanwhile, delivered, is not a failure) */
            failed++;
            if (!why[0])
                snprintf(why, sizeof why, "%s", w);
        }
    }
    free(q.v);
    int n = snprintf(out, outlen, "%s %lu message%s %s", failed ? "error" : "ok",
                     done, done == 1 ? "" : "s", verb_done(req->verb));
    if (n > 0 && (size_t)n < outlen && later)
        n += snprintf(out + n, outlen - (size_t)n, ", %lu more when %s delivery attempt%s end%s",
                      later, later == 1 ? "its" : "their", later == 1 ? "" : "s",
                      later == 1 ? "s" : "");
    if (n > 0 && (size_t)n < outlen && failed)
        snprintf(out + n, outlen - (size_t)n, "; %lu failed (%s)", failed, why);
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
        execute(k->c->d, &req, answer, sizeof answer);
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

void control_accept(struct control *c, int fd)
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
    k->bev = bufferevent_socket_new(c->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
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

struct control *control_new(struct daemon *d)
{
    struct control *c = calloc(1, sizeof *c);
    if (c)
        c->d = d;
    return c;
}

void control_free(struct control *c)
{
    if (!c)
        return;
    while (c->conns)
        conn_free(c->conns);
    free(c);
}

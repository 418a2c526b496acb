/* transport — the transports behind one request/result interface, and the
 * grouping of a message's recipients by route (see transport.h). */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../util/log.h"
#include "../util/workq.h"
#include "capture.h"
#include "smtp.h"

/* ---------- capture ---------- */

/* The Maildir writes run on a worker thread when the daemon has them, in
 * groups: the messages that queued up while the workers were busy are
 * written together (capture_deliver_batch: one data sync per copy, one
 * directory sync per mailbox), and each one's done is called from the
 * event loop only after the group's syncs. */
struct capture_task {
    const struct deliver_ctx *ctx;
    const struct deliver_request *req;
    deliver_done_fn *done;
    void *arg;
    struct deliver_result *res;
    char (*reason)[256];
};

static void capture_run_group(void **args, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ((struct capture_task *)args[i])->req->nrcpt;
    struct capture_item *it = calloc(total ? total : 1, sizeof *it);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct capture_task *t = args[i];
        const struct config *cfg = t->ctx->cfg;
        for (size_t k = 0; k < t->req->nrcpt; k++, m++) {
            if (!it)
                break;
            it[m] = (struct capture_item){ cfg->capture_directory, cfg->myhostname, t->req, k,
                                           -1, "" };
        }
    }
    if (it)
        capture_deliver_batch(it, total);
    m = 0;
    for (size_t i = 0; i < n; i++) {
        struct capture_task *t = args[i];
        for (size_t k = 0; k < t->req->nrcpt; k++, m++) {
            int ok = it && it[m].rc == 0;
            struct deliver_result *r = &t->res[k];
            snprintf(t->reason[k], sizeof t->reason[k], "%s",
                     it ? it[m].reason : "capture: out of memory");
            r->status = ok ? DELIVER_SENT : DELIVER_DEFERRED;
            snprintf(r->dsn, sizeof r->dsn, ok ? "2.0.0" : "4.3.0");
            r->reason = ok ? "delivered to maildir" : t->reason[k];
        }
    }
    free(it);
}

static void capture_apply(void *arg)
{
    struct capture_task *t = arg;
    t->done(t->arg, t->res, "capture");
    free(t->res);
    free(t->reason);
    free(t);
}

static void capture_transport(const struct deliver_ctx *ctx, const struct deliver_request *req,
                              deliver_done_fn *done, void *arg)
{
    size_t n = req->nrcpt ? req->nrcpt : 1;
    struct capture_task *t = calloc(1, sizeof *t);
    if (t) {
        t->res = calloc(n, sizeof *t->res);
        t->reason = calloc(n, sizeof *t->reason);
    }
    if (!t || !t->res || !t->reason)
        log_fatal("capture: out of memory");
    t->ctx = ctx;
    t->req = req;
    t->done = done;
    t->arg = arg;
    if (ctx->workq && workq_submit_group(ctx->workq, capture_run_group, capture_apply, t) == 0)
        return;
    void *one = t;
    capture_run_group(&one, 1);
    capture_apply(t);
}

/* ---------- smtp ---------- */

static void smtp_transport(const struct deliver_ctx *ctx, const struct deliver_request *req,
                           deliver_done_fn *done, void *arg)
{
    smtp_client_deliver(ctx->smtp, req, done, arg);
}

/* ---------- error: every recipient bounces with the route's text ---------- */

static void error_transport(const struct deliver_ctx *ctx, const struct deliver_request *req,
                            deliver_done_fn *done, void *arg)
{
    (void)ctx;
    struct deliver_result *res = calloc(req->nrcpt ? req->nrcpt : 1, sizeof *res);
    if (!res)
        log_fatal("error transport: out of memory");
    for (size_t k = 0; k < req->nrcpt; k++) {
        res[k].status = DELIVER_BOUNCED;
        snprintf(res[k].dsn, sizeof res[k].dsn, "5.0.0");
        res[k].reason = req->nexthop ? req->nexthop : "";
    }
    done(arg, res, "none");
    free(res);
}

static const struct transport transports[] = {
    [ROUTE_CAPTURE] = { "capture", capture_transport, 1 },
    [ROUTE_SMTP] = { "smtp", smtp_transport, 0 },
    [ROUTE_ERROR] = { "error", error_transport, 1 },
};

void transport_deliver(const struct transport *t, const struct deliver_ctx *ctx,
                       const struct deliver_request *req, deliver_done_fn *done, void *arg)
{
    t->deliver(ctx, req, done, arg);
}

/* ---------- grouping ---------- */

static struct deliver_group *plan_group(struct deliver_plan *p, const struct route *rt)
{
    for (size_t i = 0; i < p->n; i++)
        if (route_equal(&p->g[i].route, rt))
            return &p->g[i];
    if ((size_t)rt->kind >= sizeof transports / sizeof transports[0])
        log_panic("no transport for route kind %d", (int)rt->kind);
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        struct deliver_group *g = realloc(p->g, nc * sizeof *g);
        if (!g)
            log_fatal("deliver: out of memory");
        p->g = g;
        p->cap = nc;
    }
    struct deliver_group *g = &p->g[p->n++];
    memset(g, 0, sizeof *g);
    g->route = *rt;
    g->t = &transports[rt->kind];
    return g;
}

int deliver_plan_add(struct deliver_plan *p, const struct config *cfg,
                     const struct map *transport_map, const char *relayhost,
                     const char *addr, size_t index, char *err, size_t errlen)
{
    struct route rt;
    if (route_for(cfg, transport_map, relayhost, addr, &rt, err, errlen) < 0)
        return -1;
    struct deliver_group *g = plan_group(p, &rt);
    /* grows one by one: a message's recipients are few, and a group's
     * array is the request's */
    struct deliver_rcpt *r = realloc(g->rcpt, (g->nrcpt + 1) * sizeof *r);
    if (!r)
        log_fatal("deliver: out of memory");
    g->rcpt = r;
    g->rcpt[g->nrcpt].addr = addr;
    g->rcpt[g->nrcpt].index = index;
    g->nrcpt++;
    return 0;
}

int deliver_plan_idempotent(const struct deliver_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (!p->g[i].t->idempotent)
            return 0;
    return 1;
}

void deliver_plan_request(const struct deliver_plan *p, size_t g,
                          const struct deliver_request *msg, struct deliver_request *out)
{
    const struct deliver_group *grp = &p->g[g];
    *out = *msg;
    out->rcpt = grp->rcpt;
    out->nrcpt = grp->nrcpt;
    out->nexthop = grp->route.kind == ROUTE_ERROR ? grp->route.error : grp->route.nexthop;
}

void deliver_plan_free(struct deliver_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->g[i].rcpt);
    free(p->g);
    p->g = NULL;
    p->n = p->cap = 0;
}

#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/workq.h"
#include "capture.h"
#include "smtp.h"

/* The Maildir writes (two fsyncs per copy) run on a worker thread when
 * the daemon has them; the results are applied on the event loop. */
struct capture_task {
    struct delivery_job *job;
    size_t n;
    struct capture_result {
        int ok;
        char reason[256];
    } res[];
};

static void capture_run(void *arg)
{
    struct capture_task *t = arg;
    struct delivery_job *job = t->job;
    for (size_t i = 0; i < t->n; i++) {
        if (!job->todo[i])
            continue;
        t->res[i].ok = capture_deliver(job->cfg->capture_directory, job->cfg->myhostname,
                                       job->env, i, job->content, job->content_len,
                                       t->res[i].reason, sizeof t->res[i].reason) == 0;
    }
}

static void capture_apply(void *arg)
{
    struct capture_task *t = arg;
    struct delivery_job *job = t->job;
    for (size_t i = 0; i < t->n; i++) {
        if (!job->todo[i])
            continue;
        struct env_rcpt *r = &job->env->rcpt[i];
        r->state = t->res[i].ok ? RCPT_SENT : RCPT_DEFERRED;
        snprintf(r->dsn, sizeof r->dsn, t->res[i].ok ? "2.0.0" : "4.3.0");
        free(r->reason);
        r->reason = strdup(t->res[i].ok ? "delivered to maildir" : t->res[i].reason);
    }
    free(t);
    job->done(job);
}

static void capture_job(struct delivery_job *job)
{
    job->relay = "capture";
    size_t n = job->env->nrcpt;
    struct capture_task *t = calloc(1, sizeof *t + n * sizeof t->res[0]);
    if (!t) {
        for (size_t i = 0; i < n; i++) {
            if (!job->todo[i])
                continue;
            struct env_rcpt *r = &job->env->rcpt[i];
            r->state = RCPT_DEFERRED;
            snprintf(r->dsn, sizeof r->dsn, "4.3.0");
            free(r->reason);
            r->reason = strdup("out of memory");
        }
        job->done(job);
        return;
    }
    t->job = job;
    t->n = n;
    if (job->workq && workq_submit(job->workq, capture_run, capture_apply, t) == 0)
        return;
    capture_run(t);
    capture_apply(t);
}

static void smtp_job(struct delivery_job *job)
{
    smtp_client_deliver(job->smtp, job);
}

static const struct transport transports[] = {
    { "capture", capture_job, 1 },
    { "smtp", smtp_job, 0 },
};

const struct transport *transport_find(const char *name)
{
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++)
        if (strcmp(transports[i].name, name) == 0)
            return &transports[i];
    return NULL;
}

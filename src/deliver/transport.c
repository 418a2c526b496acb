#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "smtp.h"

static void capture_job(struct delivery_job *job)
{
    struct envelope *env = job->env;
    job->relay = "capture";
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (!job->todo[i])
            continue;
        char reason[256];
        struct env_rcpt *r = &env->rcpt[i];
        if (capture_deliver(job->cfg->capture_directory, job->cfg->myhostname,
                            env, i, job->content, job->content_len, reason,
                            sizeof reason) == 0) {
            r->state = RCPT_SENT;
            snprintf(r->dsn, sizeof r->dsn, "2.0.0");
            snprintf(reason, sizeof reason, "delivered to maildir");
        } else {
            r->state = RCPT_DEFERRED;
            snprintf(r->dsn, sizeof r->dsn, "4.3.0");
        }
        free(r->reason);
        r->reason = strdup(reason);
    }
    job->done(job);
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

/* outcome — the pure decision after a delivery attempt (see outcome.h). */
#include "outcome.h"

#include <string.h>

#include "../config/config.h"
#include "scheduler.h"

void outcome_limits_from(const struct config *cfg, struct outcome_limits *l)
{
    l->max_lifetime = cfg->ms.maximal_queue_lifetime;
    l->bounce_lifetime = cfg->ms.bounce_queue_lifetime;
    l->delay_warning = cfg->ms.delay_warning_time;
    l->min_backoff = cfg->ms.minimal_backoff_time;
    l->max_backoff = cfg->ms.maximal_backoff_time;
    l->run_delay = cfg->ms.queue_run_delay;
}

static int to_do(enum rcpt_state st)
{
    return st == RCPT_PENDING || st == RCPT_DEFERRED;
}

void outcome_decide(const struct outcome_in *in, struct outcome *out)
{
    const struct outcome_limits *l = &in->limits;
    size_t n = in->n;
    int remaining = 0;

    memset(out->expire, 0, n);
    memset(out->bounce, 0, n);
    memset(out->warn, 0, n);
    out->nbounce = out->nwarn = 0;
    out->attempts = in->quota_only ? in->attempts : in->attempts + 1;
    out->age = in->now - in->arrival;
    out->next = 0;

    for (size_t i = 0; i < n; i++) {
        if (in->state[i] == RCPT_BOUNCED && in->tried[i]) {
            out->bounce[i] = 1;
            out->nbounce++;
        }
        if (to_do(in->state[i]))
            remaining = 1;
    }
    long long lifetime = in->null_sender ? l->bounce_lifetime : l->max_lifetime;
    out->expired = remaining && out->age >= lifetime;
    if (out->expired) {
        for (size_t i = 0; i < n; i++)
            if (to_do(in->state[i])) {
                out->expire[i] = out->bounce[i] = 1;
                out->nbounce++;
            }
        remaining = 0;
    }
    /* without its notification a bounced recipient stays deferred */
    if (in->bounce_failed && out->nbounce)
        remaining = 1;
    if (remaining && l->delay_warning > 0 && !in->warned && out->age >= l->delay_warning) {
        for (size_t i = 0; i < n; i++)
            if (in->state[i] == RCPT_DEFERRED || (in->bounce_failed && out->bounce[i])) {
                out->warn[i] = 1;
                out->nwarn++;
            }
    }
    if (!remaining) {
        out->action = OUTCOME_REMOVE;
        return;
    }
    out->action = OUTCOME_RETRY;
    long long wait = scheduler_backoff(out->attempts, l->min_backoff, l->max_backoff);
    out->next = scheduler_next_run(in->run_base, l->run_delay, in->now + wait);
    /* a quota slot is exact (no queue_run_delay tick); held back by the
     * quota alone, nothing sooner could go */
    if (in->quota_next > 0 && (in->quota_only || in->quota_next < out->next))
        out->next = in->quota_next;
}

/* deadhop — dead-destination arithmetic (see deadhop.h); no I/O, no clock. */
#include "deadhop.h"

enum deadhop_verdict deadhop_check(const struct deadhop *h, long long now)
{
    if (!h->dead)
        return DEADHOP_GO;
    if (h->probing)
        return DEADHOP_WAIT;
    if (now < h->until)
        return DEADHOP_DEFER;
    return DEADHOP_PROBE;
}

void deadhop_probe_start(struct deadhop *h)
{
    h->probing = 1;
}

void deadhop_probe_end(struct deadhop *h)
{
    h->probing = 0;
}

int deadhop_fail(struct deadhop *h, long long now, unsigned long inflight, long long limit,
                 long long dead_ms)
{
    h->probing = 0;
    if (limit <= 0)
        return 0;
    /* a failed probe: dead again at once, as Postfix's throttled queue */
    if (!h->dead) {
        h->cohorts += 1.0 / (double)(inflight ? inflight : 1);
        /* the small margin absorbs rounding: n failures of 1/n each */
        if (h->cohorts + 1e-9 < (double)limit)
            return 0;
    }
    h->dead = 1;
    h->until = now + (dead_ms > 0 ? dead_ms : 0);
    return 1;
}

int deadhop_ok(struct deadhop *h)
{
    int was = h->dead;
    h->dead = 0;
    h->probing = 0;
    h->cohorts = 0;
    h->until = 0;
    return was;
}

/* smtp_dest — the SMTP client's destinations (the next-hop as routed, or
 * the recipient domain for MX delivery): the concurrency slots, the FIFO
 * of waiting attempts, the cached idle sessions, the rate delay and the
 * dead state (deadhop.h: a destination that refuses connections is
 * deferred without connecting, then probed). The attempts themselves are
 * smtp.c's. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "smtp_internal.h"
#include "../util/clock.h"
#include "../util/errbuf.h"
#include "../util/log.h"

/* -------------------------------------------------------- destinations */

struct smtp_dest *smtp_dest_get(struct smtp_client *c, const char *key)
{
    struct smtp_dest *d;
    TAILQ_FOREACH(d, &c->dests, link)
        if (strcmp(d->key, key) == 0)
            return d;
    d = calloc(1, sizeof *d);
    if (!d)
        log_fatal("smtp: out of memory");
    d->c = c;
    d->key = strdup(key);
    if (!d->key)
        log_fatal("smtp: out of memory");
    TAILQ_INIT(&d->waiting);
    TAILQ_INIT(&d->running);
    TAILQ_INIT(&d->sessions);
    TAILQ_INIT(&d->idle);
    TAILQ_INSERT_TAIL(&c->dests, d, link);
    return d;
}

void smtp_dest_free(struct smtp_dest *d)
{
    if (d->pace)
        event_free(d->pace);
    free(d->key);
    free(d);
}

static void dest_pace_cb(evutil_socket_t fd, short what, void *arg);

/* Wake dest_pace_cb at time at (ms). */
static void dest_pace_arm(struct smtp_dest *d, long long at, long long now)
{
    if (!d->pace && !(d->pace = evtimer_new(d->c->base, dest_pace_cb, d)))
        log_fatal("smtp: out of memory");
    struct timeval tv = clock_timeval(at - now);
    evtimer_add(d->pace, &tv);
}

void smtp_dest_maybe_free(struct smtp_dest *d)
{
    if (d->c->freeing || d->slots || !TAILQ_EMPTY(&d->waiting) ||
        !TAILQ_EMPTY(&d->running) || !TAILQ_EMPTY(&d->sessions))
        return;
    /* the pause after the last delivery outlives it: kept until it ends;
     * a dead destination is kept through its dead time and one more, so
     * the retries that come after it meet one probe, not a stampede */
    long long now = clock_now_ms(NULL);
    long long wake = d->next_start;
    if (d->dead.dead && d->c->set) {
        long long forget = d->dead.until + d->c->set->dead_time;
        long long at = now < d->dead.until ? d->dead.until : forget;
        if (now < forget && at > wake)
            wake = at;
    }
    if (wake > now) {
        dest_pace_arm(d, wake, now);
        return;
    }
    TAILQ_REMOVE(&d->c->dests, d, link);
    smtp_dest_free(d);
}

void smtp_dest_dispatch(struct smtp_dest *d);

static void dest_pace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtp_dest *d = arg;
    (void)fd;
    (void)what;
    smtp_dest_dispatch(d);
    smtp_dest_maybe_free(d);
}

/* smtp_destination_rate_delay: one delivery at a time, each starting no
 * sooner than the delay after the end of the one before (Postfix's
 * qmgr pauses the destination the same way). 1 when att may start now,
 * else the timer is set for when it may. */
static int dest_paced(struct smtp_dest *d, long long delay)
{
    if (delay <= 0)
        return 1;
    if (!TAILQ_EMPTY(&d->running))
        return 0;
    long long now = clock_now_ms(NULL);
    if (now >= d->next_start)
        return 1;
    dest_pace_arm(d, d->next_start, now);
    return 0;
}

/* The destination is dead: att is deferred with the reason it died of,
 * as Postfix's qmgr_defer_recipient words it (relay=none). */
static void dest_suspend(struct smtp_dest *d, struct smtp_attempt *att)
{
    att->suspended = 1;
    errbuf_set(att->dsn, sizeof att->dsn, "%s", d->dead_dsn[0] ? d->dead_dsn : "4.4.1");
    errbuf_set(att->reason, sizeof att->reason, "delivery temporarily suspended: %s",
               d->dead_reason);
}

void smtp_dest_dispatch(struct smtp_dest *d)
{
    struct smtp_client *c = d->c;
    struct smtp_attempt *att;
    if (c->freeing)
        return;
    unsigned long limit = c->set ? c->set->dest_limit : 1;
    long long delay = c->set ? c->set->rate_delay : 0;
    while ((att = TAILQ_FIRST(&d->waiting)) != NULL) {
        /* /readyz's login probe asks the next hop itself: never suspended */
        enum deadhop_verdict v = (att->req->flags & DELIVER_PROBE)
                                     ? DEADHOP_GO : deadhop_check(&d->dead, clock_now_ms(NULL));
        if (v == DEADHOP_WAIT)
            break;
        if (att->suspended && v != DEADHOP_DEFER) {
            /* waited for the rate delay past the dead time: a normal one */
            att->suspended = 0;
            att->dsn[0] = att->reason[0] = '\0';
        }
        if (v == DEADHOP_DEFER) {
            dest_suspend(d, att);
            if (!att->set || att->set->nfallback == 0) {
                /* no connection, so no slot and no pause */
                TAILQ_REMOVE(&d->waiting, att, link);
                TAILQ_INSERT_TAIL(&d->running, att, link);
                att->running = 1;
                smtp_attempt_act(att, ACT_DONE);
                continue;
            }
            /* else straight to smtp_fallback_relay, in a slot as usual */
        }
        if (!dest_paced(d, delay))
            break;
        /* a probe proves a login now: never a cached connection; nor do
         * a dead destination's probe (its connection is the proof) and its
         * suspended attempts */
        struct smtp_session *s =
            (att->req->flags & DELIVER_PROBE) || att->suspended || v == DEADHOP_PROBE
                ? NULL : TAILQ_FIRST(&d->idle);
        if (s) {
            TAILQ_REMOVE(&d->idle, s, idle_link);
            s->idle = 0;
            s->att = att;
            att->s = s;
            s->has_slot = 0;        /* the slot moves to the attempt */
        } else if (d->slots < limit) {
            d->slots++;
        } else {
            break;
        }
        att->has_slot = 1;
        if (v == DEADHOP_PROBE) {
            deadhop_probe_start(&d->dead);
            att->probe = 1;
        }
        TAILQ_REMOVE(&d->waiting, att, link);
        TAILQ_INSERT_TAIL(&d->running, att, link);
        att->running = 1;
        smtp_attempt_act(att, ACT_START);
    }
}

void smtp_dest_session_gone(struct smtp_dest *d, int slot)
{
    if (slot)
        d->slots--;
    smtp_dest_dispatch(d);
    smtp_dest_maybe_free(d);
}

void smtp_dest_connected(struct smtp_attempt *att)
{
    struct smtp_dest *d = att->dest;
    att->connected = 1;
    if (att->fi > 0)            /* a smtp_fallback_relay: not this destination */
        return;
    att->probe = 0;
    if (deadhop_ok(&d->dead)) {
        log_info("%s: next hop %s is reachable again", att->req->id, d->key);
        smtp_dest_dispatch(d);
    }
}

/* att could connect to none of its next hop's addresses. */
void smtp_dest_connect_failed(struct smtp_attempt *att)
{
    struct smtp_dest *d = att->dest;
    unsigned long inflight = 0;
    struct smtp_attempt *a;
    TAILQ_FOREACH(a, &d->running, link)
        inflight++;
    att->probe = 0;
    if (!deadhop_fail(&d->dead, clock_now_ms(NULL), inflight, att->set->cohort_limit,
                      att->set->dead_time))
        return;
    errbuf_set(d->dead_dsn, sizeof d->dead_dsn, "%s", att->dsn[0] ? att->dsn : "4.4.1");
    errbuf_set(d->dead_reason, sizeof d->dead_reason, "%s", att->reason);
    log_info("%s: next hop %s is dead for %lld ms: %s", att->req->id, d->key,
             att->set->dead_time, att->reason);
}

void smtp_dest_park(struct smtp_session *s)
{
    struct smtp_dest *d = s->dest;
    s->idle = 1;
    TAILQ_INSERT_TAIL(&d->idle, s, idle_link);
    smtp_dest_dispatch(d);
}

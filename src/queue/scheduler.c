/* scheduler — a min-heap of (when, qid), one timer for its top, and the
 * set of qids in flight. */
#include "scheduler.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../util/clock.h"
#include "../util/log.h"
#include "qid.h"

/* Messages delivered per event-loop pass, so sessions are never starved. */
#define SCHED_BATCH 16

struct sched_item {
    long long when;              /* ms since the epoch */
    char qid[QID_LEN + 1];
};

/* A set of qids: open addressing with linear probing; a removed entry
 * leaves a tombstone so that probes go on past it. */
enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_GONE };

struct qid_slot {
    char qid[QID_LEN + 1];
    unsigned char state;
};

struct qid_set {
    struct qid_slot *v;
    size_t cap, n, gone;         /* cap: 0 or a power of two */
};

struct scheduler {
    sched_start_fn *start;
    void *start_arg;
    struct event *timer;
    struct sched_item *heap;     /* min-heap on (when, qid) */
    size_t n, cap;
    struct qid_set inflight;
    const struct clock *clock;   /* NULL: the system clock */
    long long timer_at;          /* when the timer is set for, -1 none */
    long long started;           /* base of the queue_run_delay ticks (ms) */
    struct sched_actions pending; /* hold/delete once an attempt ends */
};

long long scheduler_next_run(long long base, long long delay, long long when)
{
    if (delay <= 0 || when <= base)
        return when > base ? when : base;
    long long k = (when - base + delay - 1) / delay;
    return base + k * delay;
}

long long scheduler_run_base(const struct scheduler *s)
{
    return s->started;
}

long long scheduler_now_ms(const struct scheduler *s)
{
    return clock_now_ms(s->clock);
}

void scheduler_set_clock(struct scheduler *s, const struct clock *c)
{
    s->clock = c;
    s->started = clock_now_ms(c);
}

/* ---------- the set of qids in flight ---------- */

static size_t qid_hash(const char *qid)
{
    /* FNV-1a; the low digits (microseconds, random) vary most */
    size_t h = 2166136261u;
    for (int i = QID_LEN - 1; i >= 0; i--)
        h = (h ^ (unsigned char)qid[i]) * 16777619u;
    return h;
}

static struct qid_slot *set_find(const struct qid_set *q, const char *qid)
{
    if (q->cap == 0)
        return NULL;
    for (size_t i = qid_hash(qid) & (q->cap - 1);; i = (i + 1) & (q->cap - 1)) {
        struct qid_slot *sl = &q->v[i];
        if (sl->state == SLOT_EMPTY)
            return NULL;
        if (sl->state == SLOT_USED && memcmp(sl->qid, qid, QID_LEN) == 0)
            return sl;
    }
}

static void set_put(struct qid_set *q, const char *qid)
{
    for (size_t i = qid_hash(qid) & (q->cap - 1);; i = (i + 1) & (q->cap - 1)) {
        struct qid_slot *sl = &q->v[i];
        if (sl->state != SLOT_USED) {
            if (sl->state == SLOT_GONE)
                q->gone--;
            memcpy(sl->qid, qid, QID_LEN + 1);
            sl->state = SLOT_USED;
            q->n++;
            return;
        }
    }
}

/* Keep at most half the slots used or tombstoned: probes stay short and
 * always meet an empty slot. */
static void set_add(struct qid_set *q, const char *qid)
{
    if (set_find(q, qid))
        return;
    if ((q->n + q->gone + 1) * 2 > q->cap) {
        size_t nc = 64;            /* a quarter full after the rehash */
        while ((q->n + 1) * 4 > nc)
            nc *= 2;
        struct qid_set big = { calloc(nc, sizeof *big.v), nc, 0, 0 };
        if (!big.v)
            log_fatal("scheduler: out of memory");
        for (size_t i = 0; i < q->cap; i++)
            if (q->v[i].state == SLOT_USED)
                set_put(&big, q->v[i].qid);
        free(q->v);
        *q = big;
    }
    set_put(q, qid);
}

static void set_del(struct qid_set *q, const char *qid)
{
    struct qid_slot *sl = set_find(q, qid);
    if (!sl)
        return;
    sl->state = SLOT_GONE;
    q->n--;
    q->gone++;
}

long long scheduler_backoff(int attempts, long long min_backoff,
                            long long max_backoff)
{
    if (attempts < 1)
        attempts = 1;
    long long b = min_backoff;
    for (int i = 1; i < attempts && b < max_backoff; i++)
        b *= 2;
    if (b > max_backoff)
        b = max_backoff;
    if (b < 1)
        b = 1;
    return b;
}

static int item_less(const struct sched_item *a, const struct sched_item *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    return strcmp(a->qid, b->qid) < 0;
}

static void heap_push(struct scheduler *s, const struct sched_item *it)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        struct sched_item *h = realloc(s->heap, nc * sizeof *h);
        if (!h)
            log_fatal("scheduler: out of memory");
        s->heap = h;
        s->cap = nc;
    }
    size_t i = s->n++;
    s->heap[i] = *it;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&s->heap[i], &s->heap[p]))
            break;
        struct sched_item t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static void heap_pop(struct scheduler *s, struct sched_item *out)
{
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && item_less(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && item_less(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        struct sched_item t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static void sched_arm(struct scheduler *s)
{
    if (s->n == 0) {
        evtimer_del(s->timer);
        s->timer_at = -1;
        return;
    }
    long long when = s->heap[0].when, now = scheduler_now_ms(s);
    if (s->timer_at != -1 && s->timer_at <= when && evtimer_pending(s->timer, NULL))
        return;
    struct timeval tv = clock_timeval(when - now);
    evtimer_add(s->timer, &tv);
    s->timer_at = when;
}

static void sched_run(evutil_socket_t fd, short what, void *arg)
{
    struct scheduler *s = arg;
    (void)fd;
    (void)what;
    s->timer_at = -1;
    long long now = scheduler_now_ms(s);
    for (int done = 0; done < SCHED_BATCH && s->n > 0 && s->heap[0].when <= now; done++) {
        struct sched_item it;
        heap_pop(s, &it);
        /* already in flight (flushed or released meanwhile): that attempt
         * reschedules it when it ends; a second one at once would deliver
         * twice */
        if (set_find(&s->inflight, it.qid))
            continue;
        set_add(&s->inflight, it.qid);
        s->start(s->start_arg, it.qid);
    }
    sched_arm(s);
}

struct scheduler *scheduler_new(struct event_base *base, sched_start_fn *start, void *arg)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->start = start;
    s->start_arg = arg;
    s->timer_at = -1;
    s->started = clock_now_ms(NULL);
    s->timer = evtimer_new(base, sched_run, s);
    if (!s->timer) {
        free(s);
        return NULL;
    }
    return s;
}

void scheduler_free(struct scheduler *s)
{
    if (!s)
        return;
    event_free(s->timer);
    free(s->heap);
    free(s->inflight.v);
    sched_actions_free(&s->pending);
    free(s);
}

void scheduler_enqueue(struct scheduler *s, const char *qid, long long when)
{
    struct sched_item it;
    if (!qid_valid(qid))
        log_panic("scheduler: invalid queue id");
    it.when = when;
    memcpy(it.qid, qid, sizeof it.qid);
    heap_push(s, &it);
    sched_arm(s);
}

void scheduler_attempt_finished(struct scheduler *s, const char *qid)
{
    if (!set_find(&s->inflight, qid))
        log_panic("scheduler: %s finished but was not in flight", qid);
    set_del(&s->inflight, qid);
    sched_arm(s);
}

int scheduler_in_flight(const struct scheduler *s, const char *qid)
{
    return qid_valid(qid) && set_find(&s->inflight, qid) != NULL;
}

unsigned long scheduler_count(const struct scheduler *s)
{
    return (unsigned long)s->n + s->inflight.n;
}

unsigned long scheduler_in_flight_count(const struct scheduler *s)
{
    return (unsigned long)s->inflight.n;
}

int scheduler_oldest(const struct scheduler *s, char *out)
{
    const char *min = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (!min || strcmp(s->heap[i].qid, min) < 0)
            min = s->heap[i].qid;
    for (size_t i = 0; i < s->inflight.cap; i++)
        if (s->inflight.v[i].state == SLOT_USED && (!min || strcmp(s->inflight.v[i].qid, min) < 0))
            min = s->inflight.v[i].qid;
    if (!min)
        return -1;
    memcpy(out, min, QID_LEN + 1);
    return 0;
}

/* ---------- administration: flush, remove ---------- */

static void heap_sift_down(struct scheduler *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && item_less(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && item_less(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            return;
        struct sched_item t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static void heap_rebuild(struct scheduler *s)
{
    for (size_t i = s->n / 2; i-- > 0;)
        heap_sift_down(s, i);
}

unsigned long scheduler_flush(struct scheduler *s, const char *qid)
{
    unsigned long n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (qid && strcmp(s->heap[i].qid, qid) != 0)
            continue;
        s->heap[i].when = 0;
        n++;
    }
    if (n) {
        heap_rebuild(s);
        sched_arm(s);
    }
    return n;
}

int scheduler_remove(struct scheduler *s, const char *qid)
{
    int found = 0;
    for (size_t i = 0; i < s->n;) {
        if (strcmp(s->heap[i].qid, qid) == 0) {
            s->heap[i] = s->heap[--s->n];
            found = 1;
        } else {
            i++;
        }
    }
    if (found) {
        heap_rebuild(s);
        sched_arm(s);
    }
    return found;
}

/* ---------- actions pending on a delivery attempt ---------- */

struct sched_action_item {
    char qid[QID_LEN + 1];
    enum sched_action act;
};

static struct sched_action_item *actions_find(const struct sched_actions *p,
                                              const char *qid)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].qid, qid) == 0)
            return &p->v[i];
    return NULL;
}

enum sched_action sched_actions_add(struct sched_actions *p, const char *qid,
                                    enum sched_action act)
{
    if ((act != SCHED_ACT_HOLD && act != SCHED_ACT_DELETE) || !qid_valid(qid))
        return SCHED_ACT_NONE;
    struct sched_action_item *it = actions_find(p, qid);
    if (it) {
        if (act == SCHED_ACT_DELETE)
            it->act = SCHED_ACT_DELETE;
        return it->act;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        struct sched_action_item *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv)
            return SCHED_ACT_NONE;
        p->v = nv;
        p->cap = nc;
    }
    it = &p->v[p->n++];
    memcpy(it->qid, qid, sizeof it->qid);
    it->act = act;
    return act;
}

enum sched_action sched_actions_get(const struct sched_actions *p, const char *qid)
{
    const struct sched_action_item *it = actions_find(p, qid);
    return it ? it->act : SCHED_ACT_NONE;
}

enum sched_action sched_actions_take(struct sched_actions *p, const char *qid)
{
    struct sched_action_item *it = actions_find(p, qid);
    if (!it)
        return SCHED_ACT_NONE;
    enum sched_action act = it->act;
    *it = p->v[--p->n];
    if (p->n == 0) {
        free(p->v);
        p->v = NULL;
        p->cap = 0;
    }
    return act;
}

size_t sched_actions_each(const struct sched_actions *p, enum sched_action act,
                          void (*cb)(const char *qid, void *arg), void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].act != act)
            continue;
        n++;
        if (cb)
            cb(p->v[i].qid, arg);
    }
    return n;
}

void sched_actions_free(struct sched_actions *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

enum sched_action scheduler_pending_add(struct scheduler *s, const char *qid,
                                        enum sched_action act)
{
    return sched_actions_add(&s->pending, qid, act);
}

enum sched_action scheduler_pending(const struct scheduler *s, const char *qid)
{
    return sched_actions_get(&s->pending, qid);
}

enum sched_action scheduler_pending_take(struct scheduler *s, const char *qid)
{
    return sched_actions_take(&s->pending, qid);
}

size_t scheduler_pending_each(const struct scheduler *s, enum sched_action act,
                              void (*cb)(const char *qid, void *arg), void *arg)
{
    return sched_actions_each(&s->pending, act, cb, arg);
}

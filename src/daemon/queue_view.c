/* queue_view — the queue's messages for the HTTP API and page (see
 * queue_view.h). */
#include "queue_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http/http.h"
#include "../queue/admin.h"
#include "../queue/scheduler.h"
#include "../queue/spool.h"

int queue_filter_parse(const char *query, struct queue_filter *f, char *why, size_t len)
{
    memset(f, 0, sizeof *f);
    if (!query)
        return 0;
    char num[32];
    int r = http_form_get(query, "state", f->state, sizeof f->state);
    if (r < 0 || (r > 0 && f->state[0] && strcmp(f->state, "active") != 0 &&
                  strcmp(f->state, "deferred") != 0 && strcmp(f->state, "hold") != 0)) {
        snprintf(why, len, "state: use active, deferred or hold");
        return -1;
    }
    if (http_form_get(query, "sender", f->sender, sizeof f->sender) < 0 ||
        http_form_get(query, "recipient", f->recipient, sizeof f->recipient) < 0) {
        snprintf(why, len, "sender, recipient: at most %d bytes, %%-escaped",
                 QUEUE_VIEW_FIELD_MAX - 1);
        return -1;
    }
    r = http_form_get(query, "min_age", num, sizeof num);
    if (r != 0) {
        char *end;
        errno = 0;
        long long v = r > 0 ? strtoll(num, &end, 10) : -1;
        if (r < 0 || !num[0] || *end || errno || v < 0) {
            snprintf(why, len, "min_age: a number of seconds");
            return -1;
        }
        f->min_age = v;
    }
    return 0;
}

static int contains(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, nl) == 0)
            return 1;
    return nl == 0;
}

int queue_filter_match(const struct queue_filter *f, const char *state,
                       const struct envelope *env, long long now)
{
    if (f->state[0] && strcmp(f->state, state) != 0)
        return 0;
    if (f->sender[0] && !contains(env->sender ? env->sender : "", f->sender))
        return 0;
    if (f->min_age > 0 && now - env->arrival_sec < f->min_age)
        return 0;
    if (!f->recipient[0])
        return 1;
    for (size_t i = 0; i < env->nrcpt; i++)
        if (env->rcpt[i].addr && contains(env->rcpt[i].addr, f->recipient))
            return 1;
    return 0;
}

struct qids {
    struct { char qid[QID_LEN + 1]; int held; } *v;
    size_t n, cap;
    int held, oom;
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
    memcpy(q->v[q->n].qid, qid, QID_LEN + 1);
    q->v[q->n++].held = q->held;
}

static int qid_cmp(const void *a, const void *b)
{
    return strcmp(a, b);     /* the qid is the first member */
}

/* Load qid where it is (held says where it was listed; it may have moved). */
static int item_load(const struct admin *a, const char *qid, int held, struct queue_item *it,
                     char *err, size_t errlen)
{
    for (int tries = 0; tries < 2; tries++, held = !held) {
        struct spool_map *m = held ? spool_load_held(a->spool, qid, &it->env, NULL, err, errlen)
                                   : spool_load(a->spool, qid, &it->env, NULL, err, errlen);
        if (m) {
            spool_unload(m);
            it->state = held ? "hold"
                      : a->sched && scheduler_in_flight(a->sched, qid) ? "active" : "deferred";
            return 1;
        }
        if (errno != ENOENT)
            return -1;
    }
    return 0;
}

int queue_item_load(const struct admin *a, const char *qid, struct queue_item *it,
                    char *err, size_t errlen)
{
    memset(it, 0, sizeof *it);
    if (!qid_valid(qid))
        return 0;
    int where = spool_where(a->spool, qid);
    if (where < 0) {
        snprintf(err, errlen, "%s: %s", qid, strerror(errno));
        return -1;
    }
    if (where == SPOOL_ABSENT)
        return 0;
    return item_load(a, qid, where == SPOOL_HELD, it, err, errlen);
}

int queue_list_load(const struct admin *a, const struct queue_filter *f, long long now,
                    struct queue_list *out, char *err, size_t errlen)
{
    struct qids q = { 0 };
    memset(out, 0, sizeof *out);
    long rc = spool_list(a->spool, qids_add, &q);
    q.held = 1;
    if (rc >= 0)
        rc = spool_list_held(a->spool, qids_add, &q);
    if (rc < 0 || q.oom) {
        snprintf(err, errlen, "cannot list the queue: %s", q.oom ? "out of memory"
                                                                 : strerror(errno));
        free(q.v);
        return -1;
    }
    if (q.n > 1)
        qsort(q.v, q.n, sizeof *q.v, qid_cmp);
    size_t cap = q.n < QUEUE_VIEW_MAX ? q.n : QUEUE_VIEW_MAX;
    out->v = calloc(cap ? cap : 1, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "out of memory");
        free(q.v);
        return -1;
    }
    size_t loads = 0;
    for (size_t i = 0; i < q.n; i++) {
        if (out->n == cap || loads == QUEUE_VIEW_MAX) {
            out->truncated = 1;
            break;
        }
        struct queue_item *it = &out->v[out->n];
        char why[256];
        loads++;
        if (item_load(a, q.v[i].qid, q.v[i].held, it, why, sizeof why) <= 0)
            continue;          /* delivered meanwhile, or unreadable now */
        if (queue_filter_match(f, it->state, &it->env, now))
            out->n++;
        else
            envelope_free(&it->env);
    }
    free(q.v);
    return 0;
}

void queue_list_free(struct queue_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        envelope_free(&l->v[i].env);
    free(l->v);
    memset(l, 0, sizeof *l);
}

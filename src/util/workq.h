/* workq — a few worker threads for blocking disk work (Maildir writes with
 * their fsyncs), so the event loop keeps accepting mail meanwhile.
 *
 * fn runs on a worker thread and must touch only what its arg owns plus
 * read-only shared data; done runs afterwards on the event loop thread,
 * where everything else lives. */
#ifndef POSTERN_UTIL_WORKQ_H
#define POSTERN_UTIL_WORKQ_H

#include <stddef.h>

struct event_base;
struct workq;

/* NULL if threads or the wake-up pipe cannot be had (callers then do the
 * work inline). */
struct workq *workq_new(struct event_base *base, int nthreads);

/* 0, or -1 (ENOMEM) when the task was not queued. */
int workq_submit(struct workq *q, void (*fn)(void *arg), void (*done)(void *arg),
                 void *arg);

/* A task that may run together with others: a worker takes the task at
 * the head of the queue and every task after it with the same gfn (at most
 * WORKQ_GROUP_MAX, in order) and calls gfn once with their args; each
 * task's done runs on the loop only after that call returns (group commit:
 * one fsync round for everything that queued up while the workers were
 * busy). 0, or -1 (ENOMEM). */
#define WORKQ_GROUP_MAX 64
int workq_submit_group(struct workq *q, void (*gfn)(void **args, size_t n),
                       void (*done)(void *arg), void *arg);

/* Let the workers finish every queued task, stop them, and run the
 * remaining done callbacks here, before freeing. */
void workq_free(struct workq *q);

#endif

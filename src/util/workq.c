#include "workq.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

struct task {
    struct task *next;
    void (*fn)(void *);
    void (*gfn)(void **, size_t);           /* or a group task's */
    void (*done)(void *);
    void *arg;
};

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *todo_head, *todo_tail;     /* waiting for a worker */
    struct task *done_head, *done_tail;     /* waiting for the loop */
    int stopping;
    int nthreads;
    pthread_t *threads;
    int pipefd[2];                          /* worker → loop wake-up */
    struct event *ev;
};

static void push(struct task **head, struct task **tail, struct task *t)
{
    t->next = NULL;
    if (*tail)
        (*tail)->next = t;
    else
        *head = t;
    *tail = t;
}

static void *worker(void *arg)
{
    struct workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->todo_head && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        struct task *t = q->todo_head;
        if (!t)
            break;                          /* stopping and nothing left */
        /* a group: t and the tasks after it with the same gfn, still
         * linked through next */
        void *args[WORKQ_GROUP_MAX];
        size_t n = 1;
        struct task *last = t;
        args[0] = t->arg;
        while (t->gfn && n < WORKQ_GROUP_MAX && last->next && last->next->gfn == t->gfn) {
            last = last->next;
            args[n++] = last->arg;
        }
        q->todo_head = last->next;
        if (!q->todo_head)
            q->todo_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&q->mu);
        if (t->gfn)
            t->gfn(args, n);
        else
            t->fn(t->arg);
        pthread_mutex_lock(&q->mu);
        int was_empty = q->done_head == NULL;
        for (struct task *next; t; t = next) {
            next = t->next;
            push(&q->done_head, &q->done_tail, t);
        }
        if (was_empty) {
            char c = 1;
            /* a full pipe already means "wake up": nothing to do */
            ssize_t w = write(q->pipefd[1], &c, 1);
            (void)w;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void run_done(struct workq *q)
{
    pthread_mutex_lock(&q->mu);
    struct task *t = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (t) {
        struct task *next = t->next;
        t->done(t->arg);
        free(t);
        t = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    char buf[64];
    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    run_done(arg);
}

struct workq *workq_new(struct event_base *base, int nthreads)
{
    struct workq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->threads = calloc((size_t)nthreads, sizeof *q->threads);
    if (!q->threads || pipe2(q->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(q->threads);
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->ev = event_new(base, q->pipefd[0], EV_READ | EV_PERSIST, on_wake, q);
    if (!q->ev || event_add(q->ev, NULL) < 0) {
        workq_free(q);
        return NULL;
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0) {
            log_warning("cannot start delivery thread %d; using %d", i, i);
            break;
        }
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        workq_free(q);
        return NULL;
    }
    return q;
}

static int submit(struct workq *q, void (*fn)(void *), void (*gfn)(void **, size_t),
                  void (*done)(void *), void *arg)
{
    struct task *t = malloc(sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return -1;
    }
    t->fn = fn;
    t->gfn = gfn;
    t->done = done;
    t->arg = arg;
    pthread_mutex_lock(&q->mu);
    push(&q->todo_head, &q->todo_tail, t);
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int workq_submit(struct workq *q, void (*fn)(void *), void (*done)(void *), void *arg)
{
    return submit(q, fn, NULL, done, arg);
}

int workq_submit_group(struct workq *q, void (*gfn)(void **, size_t), void (*done)(void *),
                       void *arg)
{
    return submit(q, NULL, gfn, done, arg);
}

void workq_free(struct workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    /* done callbacks may submit again (a retry): run them inline then */
    q->nthreads = 0;
    run_done(q);
    while (q->todo_head) {
        struct task *t = q->todo_head;
        q->todo_head = t->next;
        if (!q->todo_head)
            q->todo_tail = NULL;
        if (t->gfn)
            t->gfn(&t->arg, 1);
        else
            t->fn(t->arg);
        t->done(t->arg);
        free(t);
    }
    if (q->ev)
        event_free(q->ev);
    close(q->pipefd[0]);
    close(q->pipefd[1]);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->threads);
    free(q);
}

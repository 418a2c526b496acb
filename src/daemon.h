/* daemon — the one context object of `postern serve`. Everything mutable
 * that outlives a single callback hangs off it; there is no other global
 * state (log settings excepted). */
#ifndef POSTERN_DAEMON_H
#define POSTERN_DAEMON_H

#include <stddef.h>

#include "config/config.h"
#include "config/runtime.h"
#include "policy/policy.h"

struct event_base;
struct event;
struct queue;
struct server;
struct map;
struct dns;
struct smtp_client;
struct workq;
struct privsep_channel;
struct control;

struct daemon {
    struct event_base *base;
    struct runtime *rt;            /* current; sessions may hold older ones */
    struct cfg_source cfg;         /* rt, for the modules below */
    struct control *control;       /* private/control */
    const char *config_path;       /* NULL: embedded default */
    struct queue *queue;           /* spool, group commit, scheduler */
    struct server *server;
    struct dns *dns;
    struct smtp_client *smtp;
    struct workq *workq;           /* Maildir writes off the event loop */
    struct privsep_channel *parent; /* to the privileged parent: reloads */
    int shutting_down;
    struct event *sig_term, *sig_int, *sig_hup, *grace;
};

struct fbundle;
/* Load the configuration at path (NULL: embedded default) and every table
 * it names; NULL when there is any error: each is in errs. runtime_load
 * reads the files; runtime_load_from with a recording bundle also keeps a
 * copy of each, with a replay bundle reads them from it (the worker after
 * SIGHUP: the parent read them as root). */
struct runtime *runtime_load(const char *path, struct config_errors *errs);
struct runtime *runtime_load_from(const char *path, struct fbundle *fb,
                                  struct config_errors *errs);
struct runtime *runtime_ref(struct runtime *rt);
void runtime_unref(struct runtime *rt);

#endif

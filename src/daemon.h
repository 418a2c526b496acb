/* daemon — the one context object of `postern serve`. Everything mutable
 * that outlives a single callback hangs off it; there is no other global
 * state (log settings excepted). */
#ifndef POSTERN_DAEMON_H
#define POSTERN_DAEMON_H

#include <stddef.h>

#include "config/config.h"
#include "policy/policy.h"

struct event_base;
struct event;
struct spool;
struct scheduler;
struct server;
struct map;
struct dns;
struct smtp_client;
struct workq;
struct privsep_channel;
struct restrict_conf;

/* A loaded configuration plus what is derived from it. Sessions hold a
 * reference so SIGHUP can swap in a new one while old sessions finish. */
struct runtime {
    struct config *cfg;
    struct netlist mynetworks;
    struct map *canonical;         /* sender_canonical_maps, or NULL */
    struct map *transport_map;     /* transport_maps, or NULL */
    struct map *passwd;            /* smtp_sasl_password_maps until the smtp
                                    * client takes it, or NULL */
    struct restrict_conf *restrictions; /* the smtpd_*_restrictions, loaded */
    int refs;
};

struct daemon {
    struct event_base *base;
    struct runtime *rt;            /* current; sessions may hold older ones */
    const char *config_path;       /* NULL: embedded default */
    struct spool *spool;
    struct scheduler *sched;
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

/* Open the table "type:/path" as runtime_load_from does (from the bundle
 * when replaying): NULL with err. */
struct map *runtime_map(struct fbundle *fb, const char *spec, int flags, char *err,
                        size_t errlen);

/* The restriction lists of cfg, parsed and with their tables open; NULL
 * after adding every problem to errs ("FILE:LINE: param: ..."). */
struct restrict_conf *runtime_restrictions(const struct config *cfg, struct fbundle *fb,
                                           struct config_errors *errs);
void runtime_unref(struct runtime *rt);

/* Called by the server when the last session ended during shutdown. */
void daemon_maybe_exit(struct daemon *d);

#endif

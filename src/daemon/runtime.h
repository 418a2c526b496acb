/* runtime — loading and sharing the configuration snapshot (its layout and
 * the source the modules below get: config/runtime.h). Only daemon/ and the
 * commands that check a configuration (cli/) call these. */
#ifndef POSTERN_DAEMON_RUNTIME_H
#define POSTERN_DAEMON_RUNTIME_H

#include "../config/config.h"
#include "../config/runtime.h"

struct fbundle;
struct map;
struct restrict_conf;
struct event_base;
struct anvil;

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

/* In the worker: build rt's AUTH checker on base from the users text the
 * parent read (then wiped), and give it the daemon's rate table anvil
 * (kept across reloads). 0, or -1 with err. */
int runtime_auth_start(struct runtime *rt, struct event_base *base, struct anvil *anvil,
                       char *err, size_t errlen);

/* Open the table "type:/path" as runtime_load_from does (from the bundle
 * when replaying): NULL with err. */
struct map *runtime_map(struct fbundle *fb, const char *spec, int flags, char *err,
                        size_t errlen);

/* The restriction lists of cfg, parsed and with their tables open; NULL
 * after adding every problem to errs ("FILE:LINE: param: ..."). */
struct restrict_conf *runtime_restrictions(const struct config *cfg, struct fbundle *fb,
                                           struct config_errors *errs);

#endif

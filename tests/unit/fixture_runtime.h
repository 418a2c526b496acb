/* fixture_runtime — a configuration snapshot (config/runtime.h) for unit
 * tests of modules below the daemon, built from config/ and policy/ alone:
 * those tests link only what their module may use (Makefile, "Unit tests
 * link by layer"), and daemon/runtime.c is above them. */
#ifndef POSTERN_TEST_FIXTURE_RUNTIME_H
#define POSTERN_TEST_FIXTURE_RUNTIME_H

#include "config/config.h"
#include "config/runtime.h"

/* As daemon/runtime.c's runtime_load: the configuration at path, mynetworks,
 * the tables it names and the restriction lists; NULL with errs set. */
struct runtime *fixture_runtime_load(const char *path, struct config_errors *errs);
struct runtime *fixture_runtime_ref(struct runtime *rt);
void fixture_runtime_unref(struct runtime *rt);

#endif

/* restrictions — the configuration's smtpd_*_restrictions and their tables,
 * handed to policy/restrict once per load (start, SIGHUP, postern check),
 * with every error placed at its parameter's file and line. */
#include "runtime.h"

#include <stdio.h>

#include "../config/maps.h"
#include "../policy/restrict.h"

struct load_ctx {
    const struct config *cfg;
    struct fbundle *fb;
    struct config_errors *errs;
};

static struct map *open_table(void *arg, const char *spec, char *err, size_t errlen)
{
    struct load_ctx *c = arg;
    return runtime_map(c->fb, spec, 0, err, errlen);
}

static void on_error(void *arg, const char *param, const char *msg)
{
    struct load_ctx *c = arg;
    char where[512];
    config_errors_add(c->errs, "%s: %s", config_param_where(c->cfg, param, where,
                                                            sizeof where), msg);
}

struct restrict_conf *runtime_restrictions(const struct config *cfg, struct fbundle *fb,
                                           struct config_errors *errs)
{
    struct restrict_settings s;
    restrict_settings_from_config(cfg, &s);
    struct load_ctx c = { cfg, fb, errs };
    struct restrict_io io = { open_table, on_error, &c };
    return restrict_conf_new(&s, &io);
}

/* fixture_runtime — daemon/runtime.c's snapshot without the daemon: what a
 * session or an attempt reads (parameters, mynetworks, canonical and
 * transport tables, the smtp client's password table, the restriction
 * lists), loaded from files the way the daemon does, with no privileged
 * parent's bundle. Keep it in step with daemon/runtime.c. */
#include "fixture_runtime.h"

#include <stdio.h>
#include <stdlib.h>

#include "config/maps.h"
#include "policy/policy.h"
#include "policy/restrict.h"

static struct map *open_table(void *arg, const char *spec, char *err, size_t errlen)
{
    (void)arg;
    return map_open(spec, 0, err, errlen);
}

static void on_error(void *arg, const char *param, const char *msg)
{
    (void)param;
    config_errors_add(arg, "%s", msg);
}

static struct restrict_conf *load_restrictions(const struct config *cfg,
                                               struct config_errors *errs)
{
    struct restrict_settings s;
    restrict_settings_from_config(cfg, &s);
    struct restrict_io io = { open_table, on_error, errs };
    return restrict_conf_new(&s, &io);
}

static void open_map(struct map **out, const char *param, const char *spec, int flags,
                     struct config_errors *errs)
{
    char why[768];
    if (spec[0] && !(*out = map_open(spec, flags, why, sizeof why)))
        config_errors_add(errs, "%s: %s", param, why);
}

struct runtime *fixture_runtime_load(const char *path, struct config_errors *errs)
{
    struct config *cfg = config_load_collect(path, errs);
    if (!cfg)
        return NULL;
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt || !(rt->mynetworks = calloc(1, sizeof *rt->mynetworks))) {
        free(rt);
        config_free(cfg);
        config_errors_add(errs, "out of memory");
        return NULL;
    }
    rt->cfg = cfg;
    rt->refs = 1;
    char why[768];
    if (policy_netlist_parse(rt->mynetworks, cfg->mynetworks.v, cfg->mynetworks.n,
                             why, sizeof why) < 0)
        config_errors_add(errs, "mynetworks: %s", why);
    if (!(rt->event_exceptions = calloc(1, sizeof *rt->event_exceptions)))
        config_errors_add(errs, "out of memory");
    else if (policy_netlist_parse(rt->event_exceptions,
                                  cfg->smtpd_client_event_limit_exceptions.v,
                                  cfg->smtpd_client_event_limit_exceptions.n, why,
                                  sizeof why) < 0)
        config_errors_add(errs, "smtpd_client_event_limit_exceptions: %s", why);
    open_map(&rt->canonical, "sender_canonical_maps", cfg->sender_canonical_maps, 0, errs);
    if (cfg->smtp_sasl_auth_enable)
        open_map(&rt->passwd, "smtp_sasl_password_maps", cfg->smtp_sasl_password_maps,
                 MAP_SECRET, errs);
    open_map(&rt->transport_map, "transport_maps", cfg->transport_maps, 0, errs);
    rt->restrictions = load_restrictions(cfg, errs);
    if (errs->n > 0) {
        fixture_runtime_unref(rt);
        return NULL;
    }
    return rt;
}

struct runtime *fixture_runtime_ref(struct runtime *rt)
{
    rt->refs++;
    return rt;
}

void fixture_runtime_unref(struct runtime *rt)
{
    if (!rt || --rt->refs > 0)
        return;
    policy_netlist_free(rt->mynetworks);
    free(rt->mynetworks);
    if (rt->event_exceptions)
        policy_netlist_free(rt->event_exceptions);
    free(rt->event_exceptions);
    map_free(rt->canonical);
    map_free(rt->transport_map);
    map_free(rt->passwd);
    restrict_conf_free(rt->restrictions);
    config_free(rt->cfg);
    free(rt);
}

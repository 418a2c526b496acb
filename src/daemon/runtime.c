/* runtime — a loaded configuration and the tables it names, shared by
 * reference: sessions keep the snapshot they started with while SIGHUP
 * swaps in a new one. Loading validates what `postern check` reports. */
#include "../daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/maps.h"
#include "../util/fbundle.h"

/* The text of a file the runtime needs: from a replay bundle (the worker
 * after a reload), else from disk (kept in a recording bundle). */
static char *runtime_read(struct fbundle *fb, const char *path, const char *spec, int flags,
                          size_t *len, char *err, size_t errlen)
{
    char *text = NULL;
    if (fb && fbundle_is_replay(fb)) {
        const char *t = fbundle_get(fb, path, len);
        if (!t) {
            snprintf(err, errlen, "%s: not passed on by the privileged parent", path);
            return NULL;
        }
        if (!(text = malloc(*len + 1))) {
            snprintf(err, errlen, "%s: out of memory", path);
            return NULL;
        }
        memcpy(text, t, *len + 1);
        return text;
    }
    int rc = spec ? map_read_file(spec, flags, &text, len, err, errlen)
                  : config_read_file(path, &text, len, err, errlen);
    if (rc < 0)
        return NULL;
    if (fb && fbundle_put(fb, path, text, *len) < 0) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    return text;
}

static struct map *runtime_map(struct fbundle *fb, const char *spec, int flags,
                               char *err, size_t errlen)
{
    const char *path = map_spec_path(spec);
    if (!path)      /* let map_open_text say what is wrong with it */
        return map_open_text(spec, "", 0, err, errlen);
    size_t len = 0;
    char *text = runtime_read(fb, path, spec, flags, &len, err, errlen);
    if (!text)
        return NULL;
    struct map *m = map_open_text(spec, text, len, err, errlen);
    free(text);
    return m;
}

struct runtime *runtime_load(const char *path, char *err, size_t errlen)
{
    return runtime_load_from(path, NULL, err, errlen);
}

struct runtime *runtime_load_from(const char *path, struct fbundle *fb, char *err,
                                  size_t errlen)
{
    struct config *cfg;
    if (path) {
        size_t len = 0;
        char *text = runtime_read(fb, path, NULL, 0, &len, err, errlen);
        if (!text)
            return NULL;
        cfg = config_load_buffer(text, len, path, err, errlen);
        free(text);
    } else {
        cfg = config_load(NULL, err, errlen);
    }
    if (!cfg)
        return NULL;
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->cfg = cfg;
    rt->refs = 1;
    char why[256];
    if (policy_netlist_parse(&rt->mynetworks, cfg->mynetworks.v, cfg->mynetworks.n,
                             why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: mynetworks: %s", path ? path : "(default)", why);
        runtime_unref(rt);
        return NULL;
    }
    const char *where = path ? path : "(default)";
    long wide = policy_netlist_open_relay(&rt->mynetworks);
    if (wide >= 0) {
        /* "it never becomes an open relay": seed configs carry 0.0.0.0/0 */
        int line = 0;
        for (size_t i = 0; config_params[i].name; i++)
            if (strcmp(config_params[i].name, "mynetworks") == 0)
                line = cfg->line[i];
        snprintf(err, errlen,
                 "%s:%d: mynetworks entry \"%s\" trusts a large part of the Internet, "
                 "which would make postern an open relay; list only your own networks "
                 "(e.g. 10.0.0.0/8, 192.168.0.0/16)",
                 where, line, cfg->mynetworks.v[wide]);
        runtime_unref(rt);
        return NULL;
    }
    if (strcmp(cfg->default_transport, "capture") != 0 &&
        strcmp(cfg->default_transport, "smtp") != 0) {
        snprintf(err, errlen,
                 "%s: default_transport = %s: unknown transport (use capture or smtp)",
                 where, cfg->default_transport);
        runtime_unref(rt);
        return NULL;
    }
    static const char *const levels[] = { "none", "may", "encrypt", "verify", "secure" };
    int level_ok = 0;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        level_ok |= strcmp(cfg->smtp_tls_security_level, levels[i]) == 0;
    if (!level_ok) {
        snprintf(err, errlen, "%s: smtp_tls_security_level = %s: use none, may, encrypt, "
                 "verify or secure", where, cfg->smtp_tls_security_level);
        runtime_unref(rt);
        return NULL;
    }
    for (size_t i = 0; i < cfg->sender_canonical_classes.n; i++) {
        const char *c = cfg->sender_canonical_classes.v[i];
        if (strcmp(c, "envelope_sender") != 0 && strcmp(c, "header_sender") != 0) {
            snprintf(err, errlen, "%s: sender_canonical_classes: unknown class \"%s\" "
                     "(use envelope_sender, header_sender)", where, c);
            runtime_unref(rt);
            return NULL;
        }
    }
    if (cfg->sender_canonical_maps[0]) {
        rt->canonical = runtime_map(fb, cfg->sender_canonical_maps, 0, why, sizeof why);
        if (!rt->canonical) {
            snprintf(err, errlen, "sender_canonical_maps: %s", why);
            runtime_unref(rt);
            return NULL;
        }
    }
    if (cfg->smtp_sasl_auth_enable && cfg->smtp_sasl_password_maps[0]) {
        rt->passwd = runtime_map(fb, cfg->smtp_sasl_password_maps, MAP_SECRET, why,
                                 sizeof why);
        if (!rt->passwd) {
            snprintf(err, errlen, "smtp_sasl_password_maps: %s", why);
            runtime_unref(rt);
            return NULL;
        }
    }
    if (cfg->transport_maps[0]) {
        rt->transport_map = runtime_map(fb, cfg->transport_maps, 0, why, sizeof why);
        if (!rt->transport_map) {
            snprintf(err, errlen, "transport_maps: %s", why);
            runtime_unref(rt);
            return NULL;
        }
    }
    return rt;
}

struct runtime *runtime_ref(struct runtime *rt)
{
    rt->refs++;
    return rt;
}

void runtime_unref(struct runtime *rt)
{
    if (!rt || --rt->refs > 0)
        return;
    policy_netlist_free(&rt->mynetworks);
    map_free(rt->canonical);
    map_free(rt->transport_map);
    map_free(rt->passwd);
    config_free(rt->cfg);
    free(rt);
}


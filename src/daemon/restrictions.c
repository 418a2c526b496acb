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
    const struct cfg_list *lists[RESTRICT_NLISTS] = {
        [RESTRICT_CLIENT] = &cfg->smtpd_client_restrictions,
        [RESTRICT_HELO] = &cfg->smtpd_helo_restrictions,
        [RESTRICT_SENDER] = &cfg->smtpd_sender_restrictions,
        [RESTRICT_RELAY] = &cfg->smtpd_relay_restrictions,
        [RESTRICT_RECIPIENT] = &cfg->smtpd_recipient_restrictions,
        [RESTRICT_DATA] = &cfg->smtpd_data_restrictions,
    };
    struct restrict_settings s = {
        .mydestination = cfg->mydestination.v,
        .nmydestination = cfg->mydestination.n,
        .relay_domains = cfg->relay_domains.v,
        .nrelay_domains = cfg->relay_domains.n,
        .sender_login_maps = cfg->smtpd_sender_login_maps,
        .local_recipient_maps = cfg->local_recipient_maps,
        .relay_recipient_maps = cfg->relay_recipient_maps,
        .allow_untrusted_routing = cfg->allow_untrusted_routing,
        .helo_required = cfg->smtpd_helo_required,
        .strict_rfc821_envelopes = cfg->strict_rfc821_envelopes,
        .reject_unlisted_sender = cfg->smtpd_reject_unlisted_sender,
        .reject_unlisted_recipient = cfg->smtpd_reject_unlisted_recipient,
        .sender_header_check = cfg->smtpd_sender_header_check,
    };
    for (int l = 0; l < RESTRICT_NLISTS; l++) {
        s.list[l] = lists[l]->v;
        s.nlist[l] = lists[l]->n;
    }
    struct load_ctx c = { cfg, fb, errs };
    struct restrict_io io = { open_table, on_error, &c };
    return restrict_conf_new(&s, &io);
}

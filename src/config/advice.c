/* Advice on configurations that are valid but almost certainly not what
 * the admin meant. Printed by `postern check` and logged by `serve` at
 * start; never fatal. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int config_advise(const struct config *cfg, void (*say)(void *arg, const char *msg),
                  void *arg)
{
    int n = 0;
    int smtp = strcmp(cfg->default_transport, "smtp") == 0;
    if (cfg->relayhost[0] && !smtp) {
        say(arg, "relayhost is set but default_transport is not smtp: mail is not "
                 "relayed (set default_transport = smtp)");
        n++;
    }
    if (cfg->smtp_sasl_auth_enable && !cfg->smtp_sasl_password_maps[0]) {
        say(arg, "smtp_sasl_auth_enable = yes but smtp_sasl_password_maps is empty: "
                 "no credentials to send");
        n++;
    }
    if (cfg->smtp_sasl_auth_enable && !cfg->smtp_tls_wrappermode &&
        strcmp(cfg->smtp_tls_security_level, "none") == 0 &&
        !cfg->smtp_sasl_allow_cleartext_loopback) {
        say(arg, "smtp_sasl_auth_enable = yes with smtp_tls_security_level = none: "
                 "postern never sends AUTH without TLS, so mail will be deferred "
                 "(use encrypt, or smtp_tls_wrappermode = yes for port 465)");
        n++;
    }
    if (cfg->smtp_tls_wrappermode && strcmp(cfg->smtp_tls_security_level, "none") == 0) {
        say(arg, "smtp_tls_wrappermode = yes with smtp_tls_security_level = none: "
                 "wrapper mode needs TLS; use may, encrypt or verify");
        n++;
    }
    if (cfg->smtp_tls_wrappermode && cfg->relayhost[0] && !strstr(cfg->relayhost, ":465")) {
        say(arg, "smtp_tls_wrappermode = yes but relayhost is not on port 465: "
                 "implicit TLS is normally port 465 (STARTTLS ports 25/587 use "
                 "smtp_tls_security_level instead)");
        n++;
    }
    /* the same words sasl_mechs_allowed() takes PLAIN and LOGIN away for
     * (config cannot call auth/; test_advice checks the two agree) */
    static const char *const no_mechs[] = { "noplaintext", "noactive", "nodictionary",
                                            "mutual_auth" };
    for (size_t i = 0; cfg->smtpd_sasl_auth_enable && i < cfg->smtpd_sasl_security_options.n;
         i++) {
        const char *o = cfg->smtpd_sasl_security_options.v[i];
        size_t k = 0;
        while (k < sizeof no_mechs / sizeof no_mechs[0] && strcasecmp(o, no_mechs[k]) != 0)
            k++;
        if (k == sizeof no_mechs / sizeof no_mechs[0])
            continue;
        char msg[256];
        snprintf(msg, sizeof msg, "smtpd_sasl_security_options has %s: postern's "
                 "mechanisms, PLAIN and LOGIN, send the password itself, so AUTH is never "
                 "offered (keep noanonymous only)", no_mechs[k]);
        say(arg, msg);
        n++;
        break;
    }
    if (cfg->ms.minimal_backoff_time > cfg->ms.maximal_queue_lifetime &&
        cfg->ms.maximal_queue_lifetime > 0) {
        say(arg, "minimal_backoff_time is longer than maximal_queue_lifetime: a deferred "
                 "message bounces before its first retry");
        n++;
    }
    return n;
}

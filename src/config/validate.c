/* validate — the error list of a configuration load (collected, put in
 * line order, reported with a cap), and the checks of values that must come
 * from a fixed set (transports, TLS levels, rewrite classes, SASL options).
 * They run once, at load, after every value has its type, so `postern
 * check`, `serve` and SIGHUP refuse the same files with the same words.
 * Checks that need other modules (mynetworks CIDRs, map files) are the
 * caller's; it adds their errors to the same list. */
#include "config.h"
#include "config_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
    va_list ap;
    if (errs->n < CONFIG_MAX_ERRORS) {
        va_start(ap, fmt);
        vsnprintf(errs->msg[errs->n], sizeof errs->msg[0], fmt, ap);
        va_end(ap);
    }
    errs->n++;
}

void config_errors_each(const struct config_errors *errs,
                        void (*say)(void *arg, const char *msg), void *arg)
{
    for (size_t i = 0; i < errs->n && i < CONFIG_MAX_ERRORS; i++)
        say(arg, errs->msg[i]);
    if (errs->n > CONFIG_MAX_ERRORS) {
        char msg[160];
        snprintf(msg, sizeof msg, "too many errors (%zu, the first %d shown); is it "
                 "the right file?", errs->n, CONFIG_MAX_ERRORS);
        say(arg, msg);
    }
}

void config_notes_add(struct config_errors *errs, int line, const char *fmt, ...)
{
    va_list ap;
    if (errs->nnotes < CONFIG_MAX_NOTES) {
        /* keep them in line order: insert after every note of an
         * earlier or the same line */
        size_t k = errs->nnotes;
        while (k > 0 && errs->note_line[k - 1] > line)
            k--;
        memmove(errs->note[k + 1], errs->note[k], (errs->nnotes - k) * sizeof errs->note[0]);
        memmove(errs->note_line + k + 1, errs->note_line + k,
                (errs->nnotes - k) * sizeof errs->note_line[0]);
        errs->note_line[k] = line;
        va_start(ap, fmt);
        vsnprintf(errs->note[k], sizeof errs->note[0], fmt, ap);
        va_end(ap);
    }
    errs->nnotes++;
}

void config_notes_each(const struct config_errors *errs,
                       void (*say)(void *arg, const char *msg), void *arg)
{
    for (size_t i = 0; i < errs->nnotes && i < CONFIG_MAX_NOTES; i++)
        say(arg, errs->note[i]);
}

static long msg_line(const char *msg, const char *file);

void config_messages_each(const struct config_errors *errs, const char *file,
                          void (*say_err)(void *arg, const char *msg),
                          void (*say_note)(void *arg, const char *msg), void *arg)
{
    size_t ne = errs->n < CONFIG_MAX_ERRORS ? errs->n : CONFIG_MAX_ERRORS;
    size_t nn = errs->nnotes < CONFIG_MAX_NOTES ? errs->nnotes : CONFIG_MAX_NOTES;
    size_t i = 0, k = 0;
    while (i < ne || k < nn) {
        if (k < nn && (i >= ne || errs->note_line[k] <= msg_line(errs->msg[i], file)))
            say_note(arg, errs->note[k++]);
        else
            say_err(arg, errs->msg[i++]);
    }
    if (errs->n > CONFIG_MAX_ERRORS) {
        char msg[160];
        snprintf(msg, sizeof msg, "too many errors (%zu, the first %d shown); is it "
                 "the right file?", errs->n, CONFIG_MAX_ERRORS);
        say_err(arg, msg);
    }
}

/* The line a message of this file is about ("FILE:LINE: ..."), or INT_MAX
 * for one about a built-in default. */
static long msg_line(const char *msg, const char *file)
{
    size_t fl = strlen(file);
    if (strncmp(msg, file, fl) != 0 || msg[fl] != ':' || msg[fl + 1] < '0' ||
        msg[fl + 1] > '9')
        return INT_MAX;
    return strtol(msg + fl + 1, NULL, 10);
}

/* Stable insertion sort of at most CONFIG_MAX_ERRORS messages. */
void config_errors_sort(struct config_errors *errs, size_t from, const char *file)
{
    size_t n = errs->n < CONFIG_MAX_ERRORS ? errs->n : CONFIG_MAX_ERRORS;
    char tmp[CONFIG_ERROR_MAX];
    for (size_t i = from + 1; i < n; i++) {
        long li = msg_line(errs->msg[i], file);
        size_t j = i;
        while (j > from && msg_line(errs->msg[j - 1], file) > li)
            j--;
        if (j == i)
            continue;
        memcpy(tmp, errs->msg[i], sizeof tmp);
        memmove(errs->msg[j + 1], errs->msg[j], (i - j) * sizeof errs->msg[0]);
        memcpy(errs->msg[j], tmp, sizeof tmp);
    }
}

const char *config_param_where(const struct config *cfg, const char *name,
                               char *buf, size_t len)
{
    long i = config_param_index(name);
    int line = i >= 0 && cfg->line ? cfg->line[i] : 0;
    if (line > 0)
        snprintf(buf, len, "%s:%d", cfg->file, line);
    else
        snprintf(buf, len, "%s", cfg->file);
    return buf;
}

/* Whether parameter `name` is to be checked: known and not in error. */
static int checkable(const unsigned char *failed, const char *name)
{
    long i = config_param_index(name);
    return i >= 0 && !failed[i];
}

static int one_of(const char *s, const char *const *set, size_t n, int nocase)
{
    for (size_t i = 0; i < n; i++)
        if ((nocase ? strcasecmp(s, set[i]) : strcmp(s, set[i])) == 0)
            return 1;
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

void config_validate(const struct config *cfg, const unsigned char *failed,
                     struct config_errors *errs)
{
    char where[CONFIG_ERROR_MAX / 2], q[CFG_QUOTE_MAX];

    static const char *const transports[] = { "capture", "smtp" };
    if (checkable(failed, "default_transport") &&
        !one_of(cfg->default_transport, transports, N(transports), 0))
        config_errors_add(errs, "%s: default_transport = %s: unknown transport (use "
                          "capture or smtp)",
                          config_param_where(cfg, "default_transport", where, sizeof where),
                          config_quote(cfg->default_transport, q, sizeof q));

    static const char *const levels[] = { "none", "may", "encrypt", "verify", "secure" };
    if (checkable(failed, "smtp_tls_security_level") &&
        !one_of(cfg->smtp_tls_security_level, levels, N(levels), 0))
        config_errors_add(errs, "%s: smtp_tls_security_level = %s: use none, may, "
                          "encrypt, verify or secure",
                          config_param_where(cfg, "smtp_tls_security_level", where,
                                             sizeof where),
                          config_quote(cfg->smtp_tls_security_level, q, sizeof q));

    static const char *const slevels[] = { "", "none", "may", "encrypt" };
    if (checkable(failed, "smtpd_tls_security_level") &&
        !one_of(cfg->smtpd_tls_security_level, slevels, N(slevels), 0))
        config_errors_add(errs, "%s: smtpd_tls_security_level = %s: use none, may or "
                          "encrypt",
                          config_param_where(cfg, "smtpd_tls_security_level", where,
                                             sizeof where),
                          config_quote(cfg->smtpd_tls_security_level, q, sizeof q));

    static const char *const proxies[] = { "", "haproxy" };
    if (checkable(failed, "smtpd_upstream_proxy_protocol") &&
        !one_of(cfg->smtpd_upstream_proxy_protocol, proxies, N(proxies), 0))
        config_errors_add(errs, "%s: smtpd_upstream_proxy_protocol = %s: use haproxy, or "
                          "leave it empty when no proxy is in front of postern",
                          config_param_where(cfg, "smtpd_upstream_proxy_protocol", where,
                                             sizeof where),
                          config_quote(cfg->smtpd_upstream_proxy_protocol, q, sizeof q));

    static const char *const classes[] = { "envelope_sender", "header_sender" };
    if (checkable(failed, "sender_canonical_classes"))
        for (size_t i = 0; i < cfg->sender_canonical_classes.n; i++)
            if (!one_of(cfg->sender_canonical_classes.v[i], classes, N(classes), 0))
                config_errors_add(errs, "%s: sender_canonical_classes: unknown class "
                                  "\"%s\" (use envelope_sender, header_sender)",
                                  config_param_where(cfg, "sender_canonical_classes",
                                                     where, sizeof where),
                                  config_quote(cfg->sender_canonical_classes.v[i], q,
                                               sizeof q));

    /* the SMTP client checks these too, but only when it starts: here
     * `postern check` sees them */
    static const char *const options[] = { "noanonymous", "noplaintext", "noactive",
                                           "nodictionary", "mutual_auth" };
    static const char *const optlists[] = { "smtp_sasl_security_options",
                                            "smtpd_sasl_security_options" };
    for (size_t k = 0; k < N(optlists); k++) {
        if (!checkable(failed, optlists[k]))
            continue;
        const struct cfg_list *l = k == 0 ? &cfg->smtp_sasl_security_options
                                          : &cfg->smtpd_sasl_security_options;
        for (size_t i = 0; i < l->n; i++)
            if (!one_of(l->v[i], options, N(options), 1))
                config_errors_add(errs, "%s: %s: unknown option \"%s\"; use noanonymous, "
                                  "noplaintext, noactive, nodictionary or mutual_auth",
                                  config_param_where(cfg, optlists[k], where, sizeof where),
                                  optlists[k], config_quote(l->v[i], q, sizeof q));
    }

    static const char *const sasl_types[] = { "postern", "saslauthd", "dovecot" };
    if (checkable(failed, "smtpd_sasl_type") &&
        !one_of(cfg->smtpd_sasl_type, sasl_types, N(sasl_types), 0)) {
        config_param_where(cfg, "smtpd_sasl_type", where, sizeof where);
        if (strcmp(cfg->smtpd_sasl_type, "cyrus") == 0)
            /* Postfix's default: the admin's main.cf has it, with the
             * saslauthd path in smtpd.conf */
            config_errors_add(errs, "%s: smtpd_sasl_type = cyrus: postern has no Cyrus "
                              "library; it talks to saslauthd itself: use smtpd_sasl_type "
                              "= saslauthd and smtpd_sasl_path = the saslauthd_path of "
                              "your smtpd.conf (e.g. /run/saslauthd/mux)", where);
        else
            config_errors_add(errs, "%s: smtpd_sasl_type = %s: unknown type; use postern "
                              "(users file), saslauthd or dovecot", where,
                              config_quote(cfg->smtpd_sasl_type, q, sizeof q));
    }

    static const char *const dkim_modes[] = { "mx", "yes", "no" };
    if (checkable(failed, "dkim_sign") && !one_of(cfg->dkim_sign, dkim_modes, N(dkim_modes), 0))
        config_errors_add(errs, "%s: dkim_sign = %s: use mx (sign mail sent straight to the "
                          "recipients' MX hosts), yes (all smtp deliveries) or no",
                          config_param_where(cfg, "dkim_sign", where, sizeof where),
                          config_quote(cfg->dkim_sign, q, sizeof q));
    static const char *const canons[] = { "relaxed/relaxed", "relaxed/simple",
                                          "simple/relaxed", "simple/simple", "relaxed",
                                          "simple" };
    if (checkable(failed, "dkim_canonicalization") &&
        !one_of(cfg->dkim_canonicalization, canons, N(canons), 1))
        config_errors_add(errs, "%s: dkim_canonicalization = %s: use header/body with "
                          "relaxed or simple each (relaxed/relaxed, simple/simple...)",
                          config_param_where(cfg, "dkim_canonicalization", where,
                                             sizeof where),
                          config_quote(cfg->dkim_canonicalization, q, sizeof q));
    static const char *const nformats[] = { "json", "slack" };
    if (checkable(failed, "notify_format") &&
        !one_of(cfg->notify_format, nformats, N(nformats), 0))
        config_errors_add(errs, "%s: notify_format = %s: use json (the event as JSON) or "
                          "slack (a Slack/Mattermost {\"text\": ...} message)",
                          config_param_where(cfg, "notify_format", where, sizeof where),
                          config_quote(cfg->notify_format, q, sizeof q));
    static const char *const nevents[] = { "bounce", "delayed", "upstream_login_failed",
                                           "quota_deferred" };
    if (checkable(failed, "notify_events"))
        for (size_t i = 0; i < cfg->notify_events.n; i++)
            if (!one_of(cfg->notify_events.v[i], nevents, N(nevents), 0))
                config_errors_add(errs, "%s: notify_events: %s is no event; use bounce, "
                                  "delayed, upstream_login_failed or quota_deferred",
                                  config_param_where(cfg, "notify_events", where, sizeof where),
                                  config_quote(cfg->notify_events.v[i], q, sizeof q));
    if (checkable(failed, "notify_url"))
        for (size_t i = 0; i < cfg->notify_url.n; i++)
            if (strncmp(cfg->notify_url.v[i], "http://", 7) != 0 &&
                strncmp(cfg->notify_url.v[i], "https://", 8) != 0)
                config_errors_add(errs, "%s: notify_url: %s: use an http:// or https:// URL",
                                  config_param_where(cfg, "notify_url", where, sizeof where),
                                  config_quote(cfg->notify_url.v[i], q, sizeof q));
    if (checkable(failed, "notify_url") && checkable(failed, "notify_secret") &&
        cfg->notify_url.n > 0 && !cfg->notify_secret[0])
        config_errors_add(errs, "%s: notify_url is set but notify_secret is not: set "
                          "notify_secret = /etc/postern/notify.key (a file, mode 600) so that "
                          "the receivers can verify the signature",
                          config_param_where(cfg, "notify_url", where, sizeof where));
    /* one domain: the three go together */
    int nset = !!cfg->dkim_domain[0] + !!cfg->dkim_selector[0] + !!cfg->dkim_private_key[0];
    if (checkable(failed, "dkim_domain") && checkable(failed, "dkim_selector") &&
        checkable(failed, "dkim_private_key") && nset > 0 && nset < 3) {
        const char *missing = !cfg->dkim_domain[0]     ? "dkim_domain"
                              : !cfg->dkim_selector[0] ? "dkim_selector"
                                                       : "dkim_private_key";
        const char *given = cfg->dkim_domain[0]     ? "dkim_domain"
                            : cfg->dkim_selector[0] ? "dkim_selector"
                                                    : "dkim_private_key";
        config_errors_add(errs, "%s: %s is set but %s is not: DKIM signing for one domain "
                          "needs dkim_domain, dkim_selector and dkim_private_key (or use "
                          "dkim_key_table)",
                          config_param_where(cfg, given, where, sizeof where), given, missing);
    }
    if (checkable(failed, "dkim_key_table") && cfg->dkim_key_table[0] &&
        strncmp(cfg->dkim_key_table, "texthash:", 9) != 0)
        config_errors_add(errs, "%s: dkim_key_table = %s: write texthash:/path/to/file (lines "
                          "of \"domain selector keyfile\")",
                          config_param_where(cfg, "dkim_key_table", where, sizeof where),
                          config_quote(cfg->dkim_key_table, q, sizeof q));
}

/* restrict_conf — the restriction names postern knows, and the parsing of
 * the lists into a loaded configuration (once, at load; see restrict.h).
 * Every problem is reported, not just the first, each with its fix. */
#include "restrict_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/strdist.h"
#include "../config/config.h"
#include "../config/maps.h"

#define DNS_WHY "is a DNS restriction postern does not implement yet"

static const struct rname rnames[] = {
    /* generic */
    { "permit", K_PERMIT, RC_OK, RA_NONE },
    { "reject", K_REJECT, RC_OK, RA_NONE },
    { "defer", K_DEFER, RC_OK, RA_NONE },
    /* client */
    { "permit_mynetworks", K_PERMIT_MYNETWORKS, RC_OK, RA_NONE },
    { "permit_sasl_authenticated", K_PERMIT_SASL, RC_OK, RA_NONE },
    { "reject_plaintext_session", K_REJECT_PLAINTEXT, RC_OK, RA_NONE },
    { "check_client_access", K_CHECK_CLIENT, RC_OK, RA_TABLE },
    /* helo */
    { "check_helo_access", K_CHECK_HELO, RC_OK, RA_TABLE },
    { "reject_invalid_helo_hostname", K_REJECT_INVALID_HELO, RC_OK, RA_NONE },
    { "reject_invalid_hostname", K_REJECT_INVALID_HELO, RC_OK, RA_NONE },
    { "reject_non_fqdn_helo_hostname", K_REJECT_NON_FQDN_HELO, RC_OK, RA_NONE },
    { "reject_non_fqdn_hostname", K_REJECT_NON_FQDN_HELO, RC_OK, RA_NONE },
    /* sender */
    { "check_sender_access", K_CHECK_SENDER, RC_OK, RA_TABLE },
    { "reject_non_fqdn_sender", K_REJECT_NON_FQDN_SENDER, RC_OK, RA_NONE },
    { "reject_unlisted_sender", K_REJECT_UNLISTED_SENDER, RC_OK, RA_NONE },
    { "reject_sender_login_mismatch", K_REJECT_LOGIN, RC_OK, RA_NONE },
    { "reject_authenticated_sender_login_mismatch", K_REJECT_AUTH_LOGIN, RC_OK, RA_NONE },
    { "reject_unauthenticated_sender_login_mismatch", K_REJECT_UNAUTH_LOGIN, RC_OK,
      RA_NONE },
    { "reject_known_sender_login_mismatch", K_REJECT_KNOWN_LOGIN, RC_OK, RA_NONE },
    /* recipient */
    { "check_recipient_access", K_CHECK_RCPT, RC_OK, RA_TABLE },
    { "permit_auth_destination", K_PERMIT_AUTH_DEST, RC_OK, RA_NONE },
    { "reject_unauth_destination", K_REJECT_UNAUTH_DEST, RC_OK, RA_NONE },
    { "defer_unauth_destination", K_DEFER_UNAUTH_DEST, RC_OK, RA_NONE },
    { "reject_non_fqdn_recipient", K_REJECT_NON_FQDN_RCPT, RC_OK, RA_NONE },
    { "reject_unlisted_recipient", K_REJECT_UNLISTED_RCPT, RC_OK, RA_NONE },
    { "check_recipient_maps", K_REJECT_UNLISTED_RCPT, RC_OK, RA_NONE },
    /* DNS (restrict_dns.c) */
    { "reject_unknown_client_hostname", K_REJECT_UNKNOWN_CLIENT, RC_OK, RA_NONE },
    { "reject_unknown_client", K_REJECT_UNKNOWN_CLIENT, RC_OK, RA_NONE },
    { "reject_unknown_reverse_client_hostname", K_REJECT_UNKNOWN_REVERSE, RC_OK, RA_NONE },
    { "reject_unknown_forward_client_hostname", K_NONE, RC_DNS, RA_NONE },
    { "reject_unknown_helo_hostname", K_REJECT_UNKNOWN_HELO, RC_OK, RA_NONE },
    { "reject_unknown_hostname", K_REJECT_UNKNOWN_HELO, RC_OK, RA_NONE },
    { "reject_unknown_sender_domain", K_REJECT_UNKNOWN_SENDER_DOMAIN, RC_OK, RA_NONE },
    { "reject_unknown_recipient_domain", K_REJECT_UNKNOWN_RCPT_DOMAIN, RC_OK, RA_NONE },
    { "reject_rbl_client", K_REJECT_RBL_CLIENT, RC_OK, RA_WORD },
    { "reject_rbl", K_REJECT_RBL_CLIENT, RC_OK, RA_WORD },
    { "reject_rhsbl_client", K_REJECT_RHSBL_CLIENT, RC_OK, RA_WORD },
    { "reject_rhsbl_reverse_client", K_REJECT_RHSBL_REVERSE, RC_OK, RA_WORD },
    { "reject_rhsbl_helo", K_REJECT_RHSBL_HELO, RC_OK, RA_WORD },
    { "reject_rhsbl_sender", K_REJECT_RHSBL_SENDER, RC_OK, RA_WORD },
    { "reject_rhsbl_recipient", K_REJECT_RHSBL_RCPT, RC_OK, RA_WORD },
    { "permit_dnswl_client", K_PERMIT_DNSWL_CLIENT, RC_OK, RA_WORD },
    { "permit_rhswl_client", K_PERMIT_RHSWL_CLIENT, RC_OK, RA_WORD },
    { "reject_maps_rbl", K_NONE, RC_DNS, RA_NONE },
    { "permit_mx_backup", K_NONE, RC_DNS, RA_NONE },
    { "check_reverse_client_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_client_mx_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_client_ns_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_client_a_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_reverse_client_mx_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_reverse_client_ns_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_reverse_client_a_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_helo_mx_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_helo_ns_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_helo_a_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_sender_mx_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_sender_ns_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_sender_a_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_recipient_mx_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_recipient_ns_access", K_NONE, RC_DNS, RA_TABLE },
    { "check_recipient_a_access", K_NONE, RC_DNS, RA_TABLE },
    /* Postfix has them, postern not */
    { "check_policy_service", K_NONE, RC_UNSUPPORTED, RA_WORD },
    { "check_ccert_access", K_NONE, RC_UNSUPPORTED, RA_TABLE },
    { "check_sasl_access", K_NONE, RC_UNSUPPORTED, RA_TABLE },
    { "check_etrn_access", K_NONE, RC_UNSUPPORTED, RA_TABLE },
    { "permit_tls_clientcerts", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "permit_tls_all_clientcerts", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "permit_inet_interfaces", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "permit_naked_ip_address", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "check_relay_domains", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "defer_if_permit", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "defer_if_reject", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "warn_if_reject", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "reject_unauth_pipelining", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "reject_multi_recipient_bounce", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "reject_unverified_sender", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "reject_unverified_recipient", K_NONE, RC_UNSUPPORTED, RA_NONE },
    { "sleep", K_NONE, RC_UNSUPPORTED, RA_WORD },
};

#define NRNAMES (sizeof rnames / sizeof rnames[0])

const struct rname *restrict_name_find(const char *name)
{
    for (size_t i = 0; i < NRNAMES; i++)
        if (strcasecmp(rnames[i].name, name) == 0)
            return &rnames[i];
    return NULL;
}

static const char *const list_params[RESTRICT_NLISTS] = {
    "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
    "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
};

const char *restrict_list_param(enum restrict_list l)
{
    return l < RESTRICT_NLISTS ? list_params[l] : "";
}

/* A bare "type:table" in a list means the list's own check_*_access. */
static const enum rkind default_access[RESTRICT_NLISTS] = {
    K_CHECK_CLIENT, K_CHECK_HELO, K_CHECK_SENDER, K_CHECK_RCPT, K_CHECK_RCPT, K_NONE,
};

struct builder {
    const struct restrict_settings *s;
    const struct restrict_io *io;
    struct restrict_conf *rc;
    int errors;
};

__attribute__((format(printf, 3, 4)))
static void report(struct builder *b, const char *param, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->errors++;
    b->io->error(b->io->arg, param, msg);
}

/* Quote configuration text for a message: at most len - 4 bytes, controls
 * as '?'. */
static const char *q(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 4 < len; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* The table for spec, opened once however often it is named. */
static const struct map *open_table(struct builder *b, const char *param, const char *what,
                                    const char *spec)
{
    struct restrict_conf *rc = b->rc;
    for (size_t i = 0; i < rc->nmaps; i++)
        if (strcmp(map_spec(rc->maps[i]), spec) == 0)
            return rc->maps[i];
    char err[600], qs[260];
    struct map *m = b->io->open_map(b->io->arg, spec, err, sizeof err);
    if (!m) {
        report(b, param, "%s: %s %s: %s", param, what, q(spec, qs, sizeof qs), err);
        return NULL;
    }
    struct map **v = realloc(rc->maps, (rc->nmaps + 1) * sizeof *v);
    if (!v) {
        map_free(m);
        report(b, param, "%s: out of memory", param);
        return NULL;
    }
    rc->maps = v;
    rc->maps[rc->nmaps++] = m;
    return m;
}

static void unknown_name(struct builder *b, const char *param, const char *tok)
{
    char qt[100];
    if (strchr(tok, '#')) {
        report(b, param, "%s: \"%s\": in main.cf a '#' starts a comment only at the "
               "beginning of a line; put the comment on a line of its own", param,
               q(tok, qt, sizeof qt));
        return;
    }
    const char *names[NRNAMES];
    for (size_t i = 0; i < NRNAMES; i++)
        names[i] = rnames[i].name;
    const char *near = strdist_closest(tok, names, NRNAMES, 4);
    const struct rname *rn = near ? restrict_name_find(near) : NULL;
    if (rn)
        report(b, param, "%s: unknown restriction \"%s\"; did you mean %s?%s", param,
               q(tok, qt, sizeof qt), near,
               rn->cls == RC_DNS ? " (it " DNS_WHY ")"
               : rn->cls == RC_UNSUPPORTED ? " (postern does not implement it)" : "");
    else
        report(b, param, "%s: unknown restriction \"%s\"; docs/config.md lists the "
               "restrictions postern knows", param, q(tok, qt, sizeof qt));
}

static int push_item(struct builder *b, struct rlist *l, enum rkind kind,
                     const struct map *m, const char *arg, const char *param)
{
    char *a = NULL;
    if (arg && !(a = strdup(arg))) {
        report(b, param, "%s: out of memory", param);
        return -1;
    }
    struct ritem *v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) {
        free(a);
        report(b, param, "%s: out of memory", param);
        return -1;
    }
    l->v = v;
    l->v[l->n].kind = kind;
    l->v[l->n].map = m;
    l->v[l->n].arg = a;
    l->n++;
    return 0;
}

static void parse_list(struct builder *b, enum restrict_list which)
{
    const char *param = list_params[which];
    char *const *tok = b->s->list[which];
    size_t n = b->s->nlist[which];
    struct rlist *l = &b->rc->list[which];
    char qt[100];

    for (size_t i = 0; i < n; i++) {
        const struct rname *rn = restrict_name_find(tok[i]);
        if (!rn && strchr(tok[i], ':') && !strchr(tok[i], '#')) {
            /* Postfix's short form: a table alone is the list's own check */
            if (default_access[which] == K_NONE) {
                report(b, param, "%s: table \"%s\" without a check_*_access in front; "
                       "write e.g. check_client_access %s", param,
                       q(tok[i], qt, sizeof qt), q(tok[i], qt, sizeof qt));
                continue;
            }
            const struct map *m = open_table(b, param, "table", tok[i]);
            if (m)
                push_item(b, l, default_access[which], m, NULL, param);
            continue;
        }
        if (!rn) {
            unknown_name(b, param, tok[i]);
            continue;
        }
        const char *arg = NULL;
        if (rn->arg != RA_NONE) {
            if (i + 1 < n && (rn->arg == RA_WORD || strchr(tok[i + 1], ':')))
                arg = tok[++i];
            else if (rn->cls == RC_OK && rn->arg == RA_WORD) {
                report(b, param, "%s: %s needs a DNS list zone: %s zone.example[=127.0.0.2]",
                       param, rn->name, rn->name);
                continue;
            } else if (rn->cls == RC_OK) {
                report(b, param, "%s: %s needs a table: %s type:/path, e.g. %s "
                       "cidr:/etc/postern/%s", param, rn->name, rn->name, rn->name,
                       rn->kind == K_CHECK_CLIENT ? "client_access" : "access");
                continue;
            }
        }
        if (rn->cls == RC_DNS) {
            report(b, param, "%s: %s " DNS_WHY "; remove it for now", param, rn->name);
            continue;
        }
        if (rn->cls == RC_UNSUPPORTED) {
            report(b, param, "%s: %s is a Postfix restriction that postern does not "
                   "implement; remove it", param, rn->name);
            continue;
        }
        const struct map *m = NULL;
        if (rn->arg == RA_TABLE && !(m = open_table(b, param, rn->name, arg)))
            continue;
        if (rn->arg == RA_WORD && rdnsxl_arg_ok(arg) < 0) {
            report(b, param, "%s: %s \"%s\": expected a DNS zone, optionally with the "
                   "answer to match, e.g. %s zen.spamhaus.org or %s list.example=127.0.0.2",
                   param, rn->name, q(arg, qt, sizeof qt), rn->name, rn->name);
            continue;
        }
        if ((rn->kind == K_REJECT_LOGIN || rn->kind == K_REJECT_AUTH_LOGIN ||
             rn->kind == K_REJECT_UNAUTH_LOGIN || rn->kind == K_REJECT_KNOWN_LOGIN) &&
            !b->s->sender_login_maps[0]) {
            report(b, param, "%s: %s needs smtpd_sender_login_maps, the table of which "
                   "SASL logins own which sender addresses", param, rn->name);
            continue;
        }
        push_item(b, l, rn->kind, m, rn->arg == RA_WORD ? arg : NULL, param);
    }
}

/* Postfix refuses lists that can never refuse relaying: one of the two
 * relay lists must hold a restriction that rejects by default. */
static int has_required(const struct rlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        switch (l->v[i].kind) {
        case K_REJECT_UNAUTH_DEST: case K_DEFER_UNAUTH_DEST: case K_REJECT: case K_DEFER:
            return 1;
        default:
            break;
        }
    return 0;
}

static char **copy_strings(char *const *v, size_t n)
{
    char **c = calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            while (i > 0)
                free(c[--i]);
            free(c);
            return NULL;
        }
    return c;
}

static const struct map *open_param_table(struct builder *b, const char *param,
                                          const char *spec)
{
    if (!spec || !spec[0])
        return NULL;
    char qs[260];
    if (strchr(spec, ' ') || strchr(spec, ',')) {
        report(b, param, "%s: one table only (\"%s\"); merge the tables into one", param,
               q(spec, qs, sizeof qs));
        return NULL;
    }
    return open_table(b, param, "table", spec);
}

/* Postfix's *_tempfail_action: 1 for defer (at once), 0 for
 * defer_if_permit (the default: unless something else rejects). */
static int tempfail_action(struct builder *b, const char *param, const char *v)
{
    char qv[100];
    if (!v || !*v || strcmp(v, "defer_if_permit") == 0)
        return 0;
    if (strcmp(v, "defer") == 0)
        return 1;
    report(b, param, "%s = %s: use defer_if_permit (defer unless another restriction "
           "rejects) or defer", param, q(v, qv, sizeof qv));
    return 0;
}

struct restrict_conf *restrict_conf_new(const struct restrict_settings *s,
                                        const struct restrict_io *io)
{
    struct builder b = { s, io, calloc(1, sizeof(struct restrict_conf)), 0 };
    struct restrict_conf *rc = b.rc;
    if (!rc) {
        io->error(io->arg, "smtpd_recipient_restrictions", "out of memory");
        return NULL;
    }
    rc->allow_untrusted_routing = s->allow_untrusted_routing;
    rc->helo_required = s->helo_required;
    rc->strict_rfc821 = s->strict_rfc821_envelopes;
    rc->reject_unlisted_sender = s->reject_unlisted_sender;
    rc->reject_unlisted_recipient = s->reject_unlisted_recipient;
    rc->sender_header_check = s->sender_header_check;
    rc->unk_client_code = s->unknown_client_reject_code ? s->unknown_client_reject_code : 450;
    rc->unk_name_code = s->unknown_hostname_reject_code ? s->unknown_hostname_reject_code : 450;
    rc->unk_addr_code = s->unknown_address_reject_code ? s->unknown_address_reject_code : 450;
    rc->rbl_code = s->maps_rbl_reject_code ? s->maps_rbl_reject_code : 554;
    rc->unk_addr_defer = tempfail_action(&b, "unknown_address_tempfail_action",
                                         s->unknown_address_tempfail_action);
    rc->unk_name_defer = tempfail_action(&b, "unknown_helo_hostname_tempfail_action",
                                         s->unknown_helo_hostname_tempfail_action);
    rc->nmydest = s->nmydestination;
    rc->nrelay = s->nrelay_domains;
    if (!(rc->mydest = copy_strings(s->mydestination, s->nmydestination)) ||
        !(rc->relay_domains = copy_strings(s->relay_domains, s->nrelay_domains))) {
        rc->nmydest = rc->nrelay = 0;
        report(&b, "relay_domains", "relay_domains: out of memory");
    }
    for (size_t i = 0; rc->relay_domains && i < s->nrelay_domains; i++) {
        char qd[100];
        if (strchr(s->relay_domains[i], ':') || strchr(s->relay_domains[i], '/'))
            report(&b, "relay_domains", "relay_domains: \"%s\": tables are not supported "
                   "here yet; list the domain names", q(s->relay_domains[i], qd, sizeof qd));
    }
    rc->login_maps = open_param_table(&b, "smtpd_sender_login_maps", s->sender_login_maps);
    rc->local_rcpt_maps = open_param_table(&b, "local_recipient_maps",
                                           s->local_recipient_maps);
    rc->relay_rcpt_maps = open_param_table(&b, "relay_recipient_maps",
                                           s->relay_recipient_maps);
    if (s->sender_header_check && !s->sender_login_maps[0])
        report(&b, "smtpd_sender_header_check", "smtpd_sender_header_check = yes needs "
               "smtpd_sender_login_maps, the table of which SASL logins own which "
               "addresses");
    for (int l = 0; l < RESTRICT_NLISTS; l++)
        parse_list(&b, (enum restrict_list)l);
    if (b.errors == 0 && !has_required(&rc->list[RESTRICT_RELAY]) &&
        !has_required(&rc->list[RESTRICT_RECIPIENT]))
        report(&b, "smtpd_relay_restrictions", "smtpd_relay_restrictions and "
               "smtpd_recipient_restrictions: neither can refuse relaying; specify at "
               "least one of reject_unauth_destination, defer_unauth_destination, reject "
               "or defer (as Postfix requires), e.g. smtpd_relay_restrictions = "
               "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination");
    if (b.errors > 0) {
        restrict_conf_free(rc);
        return NULL;
    }
    return rc;
}

void restrict_conf_free(struct restrict_conf *rc)
{
    if (!rc)
        return;
    for (int l = 0; l < RESTRICT_NLISTS; l++) {
        for (size_t i = 0; i < rc->list[l].n; i++)
            free(rc->list[l].v[i].arg);
        free(rc->list[l].v);
    }
    for (size_t i = 0; i < rc->nmaps; i++)
        map_free(rc->maps[i]);
    free(rc->maps);
    for (size_t i = 0; rc->mydest && i < rc->nmydest; i++)
        free(rc->mydest[i]);
    free(rc->mydest);
    for (size_t i = 0; rc->relay_domains && i < rc->nrelay; i++)
        free(rc->relay_domains[i]);
    free(rc->relay_domains);
    free(rc);
}

int restrict_strict_rfc821(const struct restrict_conf *rc)
{
    return rc && rc->strict_rfc821;
}

int restrict_wants_header_from(const struct restrict_conf *rc)
{
    return rc && rc->sender_header_check && rc->login_maps;
}

void restrict_settings_from_config(const struct config *cfg, struct restrict_settings *s)
{
    const struct cfg_list *lists[RESTRICT_NLISTS] = {
        [RESTRICT_CLIENT] = &cfg->smtpd_client_restrictions,
        [RESTRICT_HELO] = &cfg->smtpd_helo_restrictions,
        [RESTRICT_SENDER] = &cfg->smtpd_sender_restrictions,
        [RESTRICT_RELAY] = &cfg->smtpd_relay_restrictions,
        [RESTRICT_RECIPIENT] = &cfg->smtpd_recipient_restrictions,
        [RESTRICT_DATA] = &cfg->smtpd_data_restrictions,
    };
    *s = (struct restrict_settings){
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
        .unknown_client_reject_code = (int)cfg->unknown_client_reject_code,
        .unknown_hostname_reject_code = (int)cfg->unknown_hostname_reject_code,
        .unknown_address_reject_code = (int)cfg->unknown_address_reject_code,
        .maps_rbl_reject_code = (int)cfg->maps_rbl_reject_code,
        .unknown_address_tempfail_action = cfg->unknown_address_tempfail_action,
        .unknown_helo_hostname_tempfail_action = cfg->unknown_helo_hostname_tempfail_action,
    };
    for (int l = 0; l < RESTRICT_NLISTS; l++) {
        s->list[l] = lists[l]->v;
        s->nlist[l] = lists[l]->n;
    }
}

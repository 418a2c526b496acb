/* restrict — Postfix's smtpd restriction lists as pure deciders.
 *
 * The lists (smtpd_client_, _helo_, _sender_, _relay_, _recipient_ and
 * _data_restrictions) are parsed once, when the configuration is loaded:
 * restrict_conf_new checks every name (an unknown one is an error that
 * names the closest valid one; one postern does not implement is an error
 * that says so), opens every table and reports every
 * problem, not just the first. The session then asks at each stage,
 * passing a snapshot of what it knows, and gets Postfix's decision and
 * Postfix's words: "554 5.7.1 <u@example.net>: Relay access denied".
 *
 * Stages are those of Postfix with smtpd_delay_reject = yes, the only
 * mode postern has: nothing is decided at CONNECT, HELO or MAIL FROM
 * except smtpd_helo_required; at each RCPT TO the client, HELO, sender,
 * relay and recipient lists run in that order (relay before recipient, as
 * Postfix 3.6+), each until its first permit or reject, and only a reject
 * ends the whole check. Then the implicit reject_unlisted_sender /
 * _recipient (smtpd_reject_unlisted_*), when a recipient table covers the
 * address's domain.
 *
 * Session call sites (the caller logs; these functions never do):
 *   MAIL FROM   restrict_check_mail   (snapshot: helo)
 *   RCPT TO     restrict_check_rcpt   (helo, sender, recipient = this one)
 *   DATA        restrict_check_data   (recipient = the only one, else NULL)
 *   end of the header section, for each From: address when
 *               restrict_wants_header_from: restrict_check_header_from
 * and strict_rfc821_envelopes (restrict_strict_rfc821) decides whether a
 * MAIL/RCPT path without <> is a 501.
 *
 * The DNS restrictions (reject_rbl_client, reject_unknown_sender_domain,
 * ...) read what the session found out in DNS through the snapshot; when
 * an answer is missing the decision says which lookup it needs (see
 * restrict_result) and the session asks again once it has it.
 *
 * Everything here is a pure function of the loaded configuration, its
 * tables and the snapshot. */
#ifndef POSTERN_POLICY_RESTRICT_H
#define POSTERN_POLICY_RESTRICT_H

#include <stddef.h>

#include "../net/dns.h"

struct map;
struct restrict_conf;

enum restrict_list {
    RESTRICT_CLIENT,        /* smtpd_client_restrictions */
    RESTRICT_HELO,          /* smtpd_helo_restrictions */
    RESTRICT_SENDER,        /* smtpd_sender_restrictions */
    RESTRICT_RELAY,         /* smtpd_relay_restrictions */
    RESTRICT_RECIPIENT,     /* smtpd_recipient_restrictions */
    RESTRICT_DATA,          /* smtpd_data_restrictions */
    RESTRICT_NLISTS
};

/* The parameter name of a list ("smtpd_relay_restrictions"). */
const char *restrict_list_param(enum restrict_list l);

/* What restrict_conf_new needs from the configuration. Lists are the
 * parameters' values already split on commas and blanks; "" map specs
 * mean no table. Nothing is kept: the conf copies what it needs. */
struct restrict_settings {
    char *const *list[RESTRICT_NLISTS];
    size_t nlist[RESTRICT_NLISTS];
    char *const *mydestination;
    size_t nmydestination;
    char *const *relay_domains;             /* names; a name covers its subdomains */
    size_t nrelay_domains;
    const char *sender_login_maps;          /* smtpd_sender_login_maps */
    const char *local_recipient_maps;
    const char *relay_recipient_maps;
    int allow_untrusted_routing;
    int helo_required;                      /* smtpd_helo_required */
    int strict_rfc821_envelopes;
    int reject_unlisted_sender;             /* smtpd_reject_unlisted_sender */
    int reject_unlisted_recipient;          /* smtpd_reject_unlisted_recipient */
    int sender_header_check;                /* smtpd_sender_header_check */
    /* the DNS restrictions' reply codes and temporary-failure actions
     * ("defer" or "defer_if_permit"), Postfix's parameters */
    int unknown_client_reject_code;
    int unknown_hostname_reject_code;
    int unknown_address_reject_code;
    int maps_rbl_reject_code;
    const char *unknown_address_tempfail_action;
    const char *unknown_helo_hostname_tempfail_action;
};

/* The settings of cfg (its smtpd_*_restrictions and the parameters they
 * read), pointing into cfg: what a caller that loads a configuration
 * passes to restrict_conf_new. */
struct config;
void restrict_settings_from_config(const struct config *cfg, struct restrict_settings *s);

/* How restrict_conf_new opens tables and reports errors. open_map returns
 * the loaded table or NULL with err set (e.g. map_open, or the daemon's
 * reader that goes through the privileged parent). error is called once per
 * problem with the parameter it is about, so that the caller can put
 * "FILE:LINE: " in front; msg starts with that parameter's name. */
struct restrict_io {
    struct map *(*open_map)(void *arg, const char *spec, char *err, size_t errlen);
    void (*error)(void *arg, const char *param, const char *msg);
    void *arg;
};

/* Parse and check every list and open every table: the conf, or NULL
 * after reporting every error through io->error. */
struct restrict_conf *restrict_conf_new(const struct restrict_settings *s,
                                        const struct restrict_io *io);
void restrict_conf_free(struct restrict_conf *rc);

/* What the session knows when it asks. Strings are borrowed for the call. */
struct restrict_snapshot {
    const char *client_addr;    /* "192.0.2.1", "2001:db8::1" */
    const char *client_name;    /* verified host name, or "unknown" */
    int in_mynetworks;          /* mynetworks, or the local submission socket */
    int sasl_enabled;           /* smtpd_sasl_auth_enable: AUTH is offered */
    const char *sasl_username;  /* the login after a successful AUTH, else NULL */
    int tls;                    /* the session is encrypted (STARTTLS or implicit) */
    int smtputf8;               /* MAIL FROM had SMTPUTF8 */
    const char *helo;           /* HELO/EHLO argument, NULL before one */
    const char *sender;         /* MAIL FROM address ("" for <>), NULL before */
    const char *recipient;      /* RCPT TO address ("user@domain" or a bare
                                 * "postmaster"); at DATA the only recipient,
                                 * NULL when there are several */
    size_t rcpt_count;          /* recipients accepted so far */
    /* The client name lookup (smtpd_peername_lookup): forward-confirmed
     * (client_name_status) and PTR alone (reverse_name). Zero: OK. */
    enum dns_peer client_name_status;
    enum dns_peer reverse_name_status;
    const char *reverse_name;   /* the PTR name, or "unknown"; NULL: client_name */
    /* What the session has found out in DNS so far (see restrict_result's
     * need): the answer for (kind, name), or NULL when not asked yet. */
    const struct dns_check_result *(*dns_fact)(void *arg, enum dns_check_kind kind,
                                               const char *name);
    void *dns_arg;
};

#define RESTRICT_REPLY_MAX 512  /* a reply line, as Postfix: at most 510 + NUL */

/* The decision. code 0: go on (permitted or nothing objected). Otherwise
 * reply is the whole line to send ("450 4.7.1 ...": 4xx is temporary, 5xx
 * permanent), and the caller logs it as Postfix's "reject:" line. warning,
 * when not empty, is a problem met while deciding (an access table result
 * postern cannot act on, a DNS list that did not answer): log it as a
 * warning.
 *
 * need (not empty, code 0): undecided until DNS answers: look up
 * (need_kind, need) with dns_lookup_check, make the answer available
 * through the snapshot's dns_fact and ask again. The restrictions are
 * evaluated in order, as Postfix does, so a lookup is only asked for when
 * the restriction that needs it is reached (permit_mynetworks before
 * reject_rbl_client spares the lookup). */
struct restrict_result {
    int code;
    char reply[RESTRICT_REPLY_MAX];
    char warning[RESTRICT_REPLY_MAX];
    enum dns_check_kind need_kind;
    char need[256];
};

/* MAIL FROM: smtpd_helo_required ("503 5.5.1 Error: send HELO/EHLO first"). */
void restrict_check_mail(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res);

/* RCPT TO: the delayed client, HELO and sender lists, then relay and
 * recipient, then the implicit unlisted checks. A bare "postmaster" is
 * always accepted (RFC 5321 4.5.1), before any list, as in Postfix. */
void restrict_check_rcpt(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res);

/* DATA: smtpd_data_restrictions ("<DATA>: Data command rejected: ..."). */
void restrict_check_data(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res);

/* smtpd_sender_header_check (postern): an authenticated client may only use
 * From: addresses that smtpd_sender_login_maps gives to its login, as
 * reject_authenticated_sender_login_mismatch does for the envelope; the
 * session calls this for each From: address at the end of the header
 * section and answers the final dot with the reply ("550 5.7.1 <addr>:
 * From: header address rejected: not owned by user alice"). Clients that
 * did not authenticate are left to the envelope restrictions. */
int restrict_wants_header_from(const struct restrict_conf *rc);
void restrict_check_header_from(const struct restrict_conf *rc,
                                const struct restrict_snapshot *s, const char *from_addr,
                                struct restrict_result *res);

/* strict_rfc821_envelopes: must MAIL FROM / RCPT TO paths be in <>? */
int restrict_strict_rfc821(const struct restrict_conf *rc);

#endif

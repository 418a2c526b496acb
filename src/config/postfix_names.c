/* Postfix parameters that postern does not implement, each in one class:
 *   mapped   — translated into a postern parameter (postfix_map.c);
 *   ignored  — tuning of Postfix internals with no meaning here: one
 *              warning line, the configuration still loads (Postfix itself
 *              only warns about unused parameters);
 *   refused  — a setting whose silent omission would weaken security or
 *              lose mail: an error saying what to do instead. A refused
 *              name whose value is empty (or its harmless value, `ok`)
 *              asks for nothing postern lacks, so it is only ignored.
 * Entries ending in '*' match a prefix, entries starting with '*' a
 * suffix; exact names are looked up first, so a precise entry wins over a
 * pattern. postern's own parameters are never here (a unit test checks). */
#include "config.h"
#include "config_internal.h"

#include <string.h>

struct pf_name {
    const char *name;
    enum cfg_class cls;
    const char *hint;
    const char *ok;         /* refused: the value that asks for nothing */
};

#define IGN(n, h)     { n, CFG_CLASS_IGNORED, h, NULL }
#define MAP(n, h)     { n, CFG_CLASS_MAPPED, h, NULL }
#define REF(n, h)     { n, CFG_CLASS_REFUSED, h, NULL }
#define REF_OK(n, ok, h) { n, CFG_CLASS_REFUSED, h, ok }

#define TUNING "Postfix tuning postern does not need"
#define NOLOCAL "postern has no local mailboxes (mail for mydestination goes to local_transport)"
#define NOALIAS "postern has no local aliases (mail for mydestination goes to local_transport)"

static const struct pf_name pf_names[] = {
    /* mapped (postfix_map.c does the translation) */
    MAP("inet_interfaces", "mapped to listen"),
    MAP("inet_protocols", "mapped to listen"),
    MAP("default_process_limit", "mapped to smtpd_max_connections"),
    MAP("smtpd_use_tls", "mapped to smtpd_tls_security_level"),
    MAP("smtp_use_tls", "mapped to smtp_tls_security_level"),
    MAP("smtpd_enforce_tls", "mapped to smtpd_tls_security_level"),
    MAP("smtp_enforce_tls", "mapped to smtp_tls_security_level"),

    /* ignored: no meaning for postern */
    IGN("alias_database", NOALIAS),
    IGN("alias_maps", NOALIAS),
    IGN("append_at_myorigin", TUNING),
    IGN("append_dot_mydomain", TUNING),
    IGN("biff", "postern has no local mailboxes to notify"),
    IGN("command_time_limit", TUNING),
    IGN("compatibility_level", TUNING),
    IGN("debug_peer_level", "use postern serve -v"),
    IGN("debug_peer_list", "use postern serve -v"),
    IGN("disable_vrfy_command", "VRFY always answers 252 without revealing anything"),
    IGN("duplicate_filter_limit", TUNING),
    IGN("hash_queue_depth", TUNING),
    IGN("hash_queue_names", TUNING),
    IGN("home_mailbox", NOLOCAL),
    IGN("html_directory", TUNING),
    IGN("initial_destination_concurrency", TUNING),
    IGN("mail_spool_directory", NOLOCAL),
    IGN("mailbox_command", NOLOCAL),
    IGN("mailbox_size_limit", NOLOCAL),
    IGN("mailbox_delivery_lock", NOLOCAL),
    IGN("mailq_path", TUNING),
    IGN("max_idle", TUNING),
    IGN("max_use", TUNING),
    IGN("mynetworks_style", "postern trusts mynetworks only (default 127.0.0.0/8 [::1]/128), as Postfix's host style"),
    IGN("newaliases_path", TUNING),
    IGN("recipient_delimiter", NOLOCAL),
    IGN("sendmail_path", "postern installs its own sendmail"),
    IGN("setgid_group", TUNING),
    IGN("smtp_sasl_mechanism_filter", "postern picks PLAIN, then LOGIN, from what the server offers"),
    IGN("smtp_sasl_tls_security_options", "smtp_sasl_security_options applies with and without TLS"),
    IGN("smtp_sasl_type", "postern's SMTP client does SASL itself"),
    IGN("smtp_tls_note_starttls_offer", TUNING),
    IGN("smtp_tls_loglevel", TUNING),
    IGN("smtp_tls_session_cache_database", "postern keeps TLS sessions in memory"),
    IGN("smtp_tls_session_cache_timeout", "postern keeps TLS sessions in memory"),
    IGN("smtp_tls_CApath", "postern verifies with smtp_tls_CAfile, or the system CA store when it is empty"),
    IGN("smtp_tls_protocols", "postern speaks TLS 1.2 and later"),
    IGN("smtp_tls_mandatory_protocols", "postern speaks TLS 1.2 and later"),
    IGN("smtp_tls_ciphers", "postern offers forward-secret AEAD ciphers only"),
    IGN("smtp_tls_mandatory_ciphers", "postern offers forward-secret AEAD ciphers only"),
    IGN("smtpd_delay_reject", "postern always delays (as Postfix's yes): client, HELO and sender restrictions are evaluated at RCPT TO"),
    IGN("smtpd_null_access_lookup_key", "the null sender is looked up as <> in check_sender_access tables"),
    IGN("smtpd_sasl_local_domain", "a realm comes from the user name (user@realm) and goes to saslauthd as Cyrus does"),
    IGN("smtpd_sasl_service", "postern always asks the backend for service smtp"),
    IGN("smtpd_sasl_tls_security_options", "smtpd_sasl_security_options applies with and without TLS"),
    IGN("smtpd_tls_ciphers", "postern offers forward-secret AEAD ciphers only"),
    IGN("smtpd_tls_mandatory_ciphers", "postern offers forward-secret AEAD ciphers only"),
    IGN("smtpd_tls_mandatory_protocols", "postern speaks TLS 1.2 and later"),
    IGN("smtpd_tls_protocols", "postern speaks TLS 1.2 and later"),
    IGN("smtpd_tls_exclude_ciphers", "postern offers forward-secret AEAD ciphers only"),
    IGN("smtpd_tls_dh1024_param_file", "postern uses ECDHE key exchange"),
    IGN("smtpd_tls_eecdh_grade", "postern uses ECDHE key exchange"),
    IGN("smtpd_tls_received_header", "postern always records TLS in Received:"),
    IGN("smtpd_tls_session_cache_database", "postern keeps TLS sessions in memory (tickets)"),
    IGN("smtpd_tls_session_cache_timeout", "postern keeps TLS sessions in memory (tickets)"),
    IGN("smtpd_tls_CAfile", "postern does not ask clients for certificates"),
    IGN("smtpd_tls_CApath", "postern does not ask clients for certificates"),
    IGN("smtpd_tls_ask_ccert", "postern does not ask clients for certificates"),
    IGN("smtpd_tls_loglevel_extra", TUNING),
    IGN("stale_lock_time", TUNING),
    IGN("syslog_facility", "postern logs to the mail facility"),
    IGN("transport_retry_time", TUNING),
    IGN("trigger_timeout", TUNING),
    IGN("unknown_local_recipient_reject_code", NOLOCAL),
    IGN("unknown_relay_recipient_reject_code", TUNING),
    IGN("local_destination_concurrency_limit", NOLOCAL),
    IGN("local_destination_recipient_limit", NOLOCAL),
    IGN("*_directory", TUNING),
    IGN("*_service_name", TUNING),
    IGN("*_process_limit", "postern is one event-driven process"),
    IGN("address_verify_*", TUNING),
    IGN("bsmtp_*", TUNING),
    IGN("connection_cache_*", TUNING),
    IGN("deliver_lock_*", TUNING),
    IGN("fast_flush_*", TUNING),
    IGN("fork_*", TUNING),
    IGN("ifmail_*", TUNING),
    IGN("ipc_*", TUNING),
    IGN("lmtp_*", "postern has no lmtp transport"),
    IGN("maildrop_*", TUNING),
    IGN("mailman_*", TUNING),
    IGN("milter_*", "postern has no milters"),
    IGN("multi_instance_*", TUNING),
    IGN("postmulti_*", TUNING),
    IGN("postscreen_*", "postern has no postscreen"),
    IGN("qmgr_*", TUNING),
    IGN("qmqpd_*", "postern has no QMQP server"),
    IGN("scalemail-backend_*", TUNING),
    IGN("tls_*", "postern's TLS settings are the smtpd_tls_* and smtp_tls_* parameters"),
    IGN("tlsproxy_*", TUNING),
    IGN("uucp_*", TUNING),
    IGN("virtual_destination_*", TUNING),

    /* refused: omitting them would weaken security or lose mail */
    REF("canonical_maps", "postern rewrites senders only: use sender_canonical_maps"),
    REF("recipient_canonical_maps", "recipient rewriting is not implemented"),
    REF("masquerade_domains", "use sender_canonical_maps"),
    REF("virtual_alias_maps", "virtual aliases are not implemented; route the domains with transport_maps"),
    REF("virtual_alias_domains", "virtual aliases are not implemented; route the domains with transport_maps"),
    REF("virtual_mailbox_domains", "postern has no mailboxes; route the domains with transport_maps"),
    REF("virtual_mailbox_maps", "postern has no mailboxes; route the domains with transport_maps"),
    REF("virtual_transport", "use transport_maps"),
    REF("mailbox_transport", "use local_transport (capture or error:text) or transport_maps"),
    REF("fallback_transport", "use local_transport or transport_maps"),
    REF("luser_relay", "use local_transport or transport_maps"),
    REF("relocated_maps", "relocated tables are not implemented"),
    REF("always_bcc", "BCC copies are not implemented"),
    REF("sender_bcc_maps", "BCC copies are not implemented"),
    REF("recipient_bcc_maps", "BCC copies are not implemented"),
    REF("content_filter", "content filters are not implemented; filter before or after postern"),
    REF("smtpd_proxy_filter", "content filters are not implemented; filter before or after postern"),
    REF("smtpd_milters", "milters are not implemented"),
    REF("non_smtpd_milters", "milters are not implemented"),
    REF("header_checks", "header checks are not implemented"),
    REF("body_checks", "body checks are not implemented"),
    REF("mime_header_checks", "header checks are not implemented"),
    REF("nested_header_checks", "header checks are not implemented"),
    REF("smtp_header_checks", "header checks are not implemented"),
    REF("smtp_body_checks", "body checks are not implemented"),
    REF("smtp_generic_maps", "use sender_canonical_maps"),
    REF("smtpd_restriction_classes", "restriction classes are not implemented; write the restrictions in the lists"),
    REF("smtpd_end_of_data_restrictions", "use smtpd_data_restrictions"),
    REF("smtpd_etrn_restrictions", "postern has no ETRN"),
    REF("smtpd_tls_chain_files", "put the key in smtpd_tls_key_file and the chain after the certificate in smtpd_tls_cert_file"),
    REF("smtp_tls_policy_maps", "per-destination TLS policy is not implemented; set smtp_tls_security_level"),
    REF("smtp_tls_cert_file", "client certificates are not implemented"),
    REF("smtp_tls_key_file", "client certificates are not implemented"),
    REF_OK("smtpd_tls_req_ccert", "no", "client certificates are not implemented"),
    REF_OK("smtpd_tls_wrappermode", "no", "use a submissions://ADDRESS:465 listener"),
    REF_OK("smtpd_sasl_exceptions_networks", "", "write the networks into the restrictions"),
    REF_OK("soft_bounce", "no", "not implemented: a permanent failure bounces"),
    REF_OK("disable_dns_lookups", "no", "not implemented"),
    REF_OK("defer_transports", "", "not implemented; stop the daemon or use transport_maps with error:"),
    { NULL, CFG_CLASS_IMPLEMENTED, NULL, NULL }
};

static const struct pf_name *pf_find(const char *name)
{
    size_t nl = strlen(name);
    for (const struct pf_name *p = pf_names; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    for (const struct pf_name *p = pf_names; p->name; p++) {
        size_t pl = strlen(p->name);
        if (p->name[pl - 1] == '*' && nl >= pl && strncmp(p->name, name, pl - 1) == 0)
            return p;
        if (p->name[0] == '*' && nl >= pl && strcmp(name + nl - (pl - 1), p->name + 1) == 0)
            return p;
    }
    return NULL;
}

enum cfg_class config_postfix_class(const char *name, const char **hint, const char **ok)
{
    /* a pattern (*_directory) never shadows one of postern's own */
    const struct pf_name *p = config_param_index(name) >= 0 ? NULL : pf_find(name);
    if (!p && config_param_index(name) >= 0) {
        if (hint)
            *hint = NULL;
        if (ok)
            *ok = NULL;
        return CFG_CLASS_IMPLEMENTED;
    }
    if (hint)
        *hint = p ? p->hint : NULL;
    if (ok)
        *ok = p ? p->ok : NULL;
    return p ? p->cls : CFG_CLASS_UNKNOWN;
}

const char *config_postfix_hint(const char *name)
{
    const char *hint;
    enum cfg_class cls = config_postfix_class(name, &hint, NULL);
    return cls == CFG_CLASS_IMPLEMENTED ? NULL : hint;
}

void config_postfix_each(void (*fn)(void *arg, const char *name, enum cfg_class cls,
                                    const char *hint), void *arg)
{
    for (const struct pf_name *p = pf_names; p->name; p++)
        fn(arg, p->name, p->cls, p->hint);
}

const char *config_class_name(enum cfg_class cls)
{
    switch (cls) {
    case CFG_CLASS_IMPLEMENTED: return "implemented";
    case CFG_CLASS_MAPPED: return "mapped";
    case CFG_CLASS_IGNORED: return "ignored";
    case CFG_CLASS_REFUSED: return "refused";
    case CFG_CLASS_UNKNOWN: break;
    }
    return "unknown";
}

/* Postfix parameters that postern does not implement, with what to do
 * instead. A Postfix admin's main.cf is full of them; "unknown parameter"
 * alone would leave them guessing whether postern is broken or the line is
 * pointless. Still an error (one config, no silent surprises), but a
 * precise one. */
#include "config.h"

#include <string.h>

struct pf_hint {
    const char *name;
    const char *hint;
};

#define NOOP "it has no equivalent here and can go"

static const struct pf_hint pf_hints[] = {
    { "alias_database", "postern has no local aliases; " NOOP },
    { "alias_maps", "postern has no local aliases; " NOOP },
    { "append_dot_mydomain", NOOP },
    { "biff", "postern has no local mailboxes; " NOOP },
    { "canonical_maps", "use sender_canonical_maps" },
    { "command_directory", NOOP },
    { "command_time_limit", NOOP },
    { "compatibility_level", NOOP },
    { "daemon_directory", NOOP },
    { "data_directory", NOOP },
    { "debug_peer_level", "use postern serve -v" },
    { "default_process_limit", "postern is one event-driven process; see smtpd_max_connections" },
    { "deliver_lock_attempts", NOOP },
    { "deliver_lock_delay", NOOP },
    { "disable_vrfy_command", "VRFY always answers 252 without revealing anything" },
    { "duplicate_filter_limit", NOOP },
    { "fork_attempts", NOOP },
    { "fork_delay", NOOP },
    { "home_mailbox", "postern has no local mailboxes; mail for mydestination goes to local_transport (capture)" },
    { "html_directory", NOOP },
    { "inet_interfaces", "use listen = smtp://ADDRESS:PORT (one URL per interface)" },
    { "inet_protocols", "use listen with IPv4 and/or [IPv6] addresses" },
    { "initial_destination_concurrency", "see default_destination_concurrency_limit" },
    { "local_destination_concurrency_limit", NOOP },
    { "mail_spool_directory", "use capture_directory" },
    { "mailbox_command", "postern has no local mailboxes; " NOOP },
    { "mailbox_size_limit", "postern has no local mailboxes; " NOOP },
    { "mailq_path", NOOP },
    { "manpage_directory", NOOP },
    { "masquerade_domains", "use sender_canonical_maps" },
    { "meta_directory", NOOP },
    { "newaliases_path", NOOP },
    { "qmgr_message_active_limit", NOOP },
    { "qmgr_message_recipient_limit", "see smtpd_recipient_limit" },
    { "readme_directory", NOOP },
    { "recipient_canonical_maps", "recipient rewriting is not implemented" },
    { "recipient_delimiter", NOOP },
    { "sample_directory", NOOP },
    { "sendmail_path", "install postern as sendmail (make install does)" },
    { "setgid_group", NOOP },
    { "shlib_directory", NOOP },
    { "smtp_sasl_mechanism_filter", "postern picks PLAIN, then LOGIN, from what the server offers" },
    { "smtp_sasl_tls_security_options", "see smtp_sasl_security_options" },
    { "smtp_tls_note_starttls_offer", NOOP },
    { "smtp_tls_session_cache_database", NOOP },
    { "smtp_use_tls", "use smtp_tls_security_level = may" },
    { "smtpd_delay_reject", "postern always delays (as Postfix's yes): client, HELO and sender restrictions are evaluated at RCPT TO" },
    { "smtpd_null_access_lookup_key", "the null sender is looked up as <> in check_sender_access tables" },
    { "smtpd_restriction_classes", "restriction classes are not implemented; write the restrictions in the lists" },
    { "smtpd_sasl_local_domain", "postern has no default realm: a realm comes from the user name (user@realm) and goes to saslauthd as Cyrus does" },
    { "smtpd_sasl_service", "postern always asks the backend for service smtp" },
    { "smtpd_sasl_tls_security_options", "smtpd_sasl_security_options applies with and without TLS" },
    { "smtpd_tls_chain_files", "put the chain after the certificate in smtpd_tls_cert_file" },
    { "smtpd_tls_ciphers", "postern offers forward-secret AEAD ciphers only; " NOOP },
    { "smtpd_tls_mandatory_ciphers", "postern offers forward-secret AEAD ciphers only; " NOOP },
    { "smtpd_tls_mandatory_protocols", "postern speaks TLS 1.2 and later; " NOOP },
    { "smtpd_tls_protocols", "postern speaks TLS 1.2 and later; " NOOP },
    { "smtpd_tls_received_header", "postern always records TLS in Received:; " NOOP },
    { "smtpd_tls_session_cache_database", "postern keeps TLS sessions in memory (tickets); " NOOP },
    { "smtpd_use_tls", "use smtpd_tls_security_level = may" },
    { "soft_bounce", "not implemented" },
    { "transport_retry_time", NOOP },
    { "unknown_local_recipient_reject_code", NOOP },
    { "virtual_alias_maps", "virtual aliases are not implemented" },
};

const char *config_postfix_hint(const char *name)
{
    for (size_t i = 0; i < sizeof pf_hints / sizeof pf_hints[0]; i++)
        if (strcmp(pf_hints[i].name, name) == 0)
            return pf_hints[i].hint;
    return NULL;
}

/* config_params — the one table of postern parameters, and the embedded
 * default configuration text.
 *
 * Every field of struct config (except the private bookkeeping and the
 * millisecond values at its end) has exactly one entry here. The P_* macros
 * stringify the field name, so the parameter name always equals the field
 * name, and they check at compile time that the field has the C type the
 * parser writes for that kind:
 *   CFG_STR  char *            CFG_LIST  struct cfg_list
 *   CFG_INT, CFG_SIZE, CFG_TIME  long long      CFG_BOOL  int
 * Keep docs/config.md in sync (the unit test checks every name is there). */
#include "config.h"

#include <limits.h>
#include <stddef.h>

/* offsetof(struct config, f), or a compile error ("negative array size")
 * when the field's type does not match what the kind's parser stores. */
#define CFG_FIELD(f, T) \
    (offsetof(struct config, f) + \
     0 * sizeof(char[_Generic(((struct config *)0)->f, T: 1, default: -1)]))

#define P_STR(f, def, doc)  { #f, CFG_STR,  def, 0, 0, CFG_FIELD(f, char *), doc, 0 }
#define P_LIST(f, def, doc) { #f, CFG_LIST, def, 0, 0, CFG_FIELD(f, struct cfg_list), doc, 0 }
#define P_INT(f, def, lo, hi, doc)  { #f, CFG_INT,  def, lo, hi, CFG_FIELD(f, long long), doc, 0 }
#define P_SIZE(f, def, lo, hi, doc) { #f, CFG_SIZE, def, lo, hi, CFG_FIELD(f, long long), doc, 0 }
/* Times: bounds in milliseconds. P_TIME_MS also keeps the exact value in
 * cfg->ms.f and accepts the ms unit. */
#define P_TIME(f, def, lo, hi, doc) { #f, CFG_TIME, def, lo, hi, CFG_FIELD(f, long long), doc, 0 }
#define P_TIME_MS(f, def, lo, hi, doc) \
    { #f, CFG_TIME, def, lo, hi, CFG_FIELD(f, long long), doc, \
      offsetof(struct config, ms.f) + \
      0 * sizeof(char[_Generic(((struct config *)0)->ms.f, long long: 1, default: -1)]) }
#define P_BOOL(f, def, doc) { #f, CFG_BOOL, def, 0, 1, CFG_FIELD(f, int), doc, 0 }
/* For Postfix names that are not C identifiers (2bounce_notice_recipient). */
#define P_STR_NAMED(name, f, def, doc) { name, CFG_STR, def, 0, 0, CFG_FIELD(f, char *), doc, 0 }

/* dkim/dkim.h's DKIM_DEFAULT_HEADERS (config/ may not include dkim/) */
#define DKIM_DEFAULT_HEADERS_TEXT \
    "From, To, Cc, Subject, Date, Message-ID, Reply-To, MIME-Version, Content-Type, " \
    "Content-Transfer-Encoding, In-Reply-To, References"

#define MS(n) ((long long)(n))
#define SEC(n) ((long long)(n) * 1000)
#define DAYS(n) ((long long)(n) * 86400 * 1000)

const struct cfg_param config_params[] = {
    /* identity */
    P_STR(myhostname, "",
          "Internet hostname of this mail system (default: the system hostname, no DNS lookup)"),
    P_STR(mydomain, "",
          "Internet domain of this mail system (default: $myhostname minus its first label, or \"localdomain\")"),
    P_STR(myorigin, "$myhostname",
          "domain that locally posted mail appears to come from"),
    P_LIST(mydestination, "$myhostname, localhost.$mydomain, localhost",
           "domains this mail system considers itself the final destination for"),
    P_STR(smtpd_banner, "$myhostname ESMTP",
          "text that follows the 220 status code in the SMTP greeting"),
    P_STR(mail_name, "postern",
          "mail system name, for Postfix-style banners such as \"$myhostname ESMTP $mail_name\""),
    P_STR(mail_owner, "postern",
          "unprivileged user that owns the queue and that the daemon runs as"),
    P_STR(syslog_name, "",
          "syslog identifier; empty: log to stderr only"),
    /* listeners and access */
    P_LIST(listen, "smtp://127.0.0.1:2525",
           "postern: listener URLs: smtp://127.0.0.1:25, submission://[::]:587 (STARTTLS), submissions://0.0.0.0:465 (implicit TLS)"),
    P_LIST(mynetworks, "127.0.0.0/8 [::1]/128",
           "trusted client networks (CIDR) that may relay through this server"),
    P_BOOL(allow_untrusted_routing, "no",
           "accept '%', '!' or a quoted '@' in the local part of recipients from clients outside mynetworks"),
    /* restrictions */
    P_LIST(relay_domains, "",
           "domains (and their subdomains) this server relays mail to for any client"),
    P_LIST(smtpd_client_restrictions, "",
           "restrictions on the client, evaluated at RCPT TO"),
    P_LIST(smtpd_helo_restrictions, "",
           "restrictions on the HELO/EHLO name, evaluated at RCPT TO"),
    P_LIST(smtpd_sender_restrictions, "",
           "restrictions on the MAIL FROM address, evaluated at RCPT TO"),
    P_LIST(smtpd_relay_restrictions,
           "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
           "relay control at RCPT TO, before smtpd_recipient_restrictions"),
    P_LIST(smtpd_recipient_restrictions, "",
           "restrictions on the RCPT TO address"),
    P_LIST(smtpd_data_restrictions, "",
           "restrictions evaluated at the DATA command"),
    P_BOOL(smtpd_helo_required, "no",
           "require HELO or EHLO before MAIL FROM"),
    P_BOOL(strict_rfc821_envelopes, "no",
           "require <> around MAIL FROM and RCPT TO addresses"),
    P_STR(smtpd_sender_login_maps, "",
          "table of sender address -> SASL logins that may use it"),
    P_BOOL(smtpd_sender_header_check, "no",
           "postern: authenticated clients may only use From: addresses that smtpd_sender_login_maps gives them"),
    P_BOOL(smtpd_reject_unlisted_sender, "no",
           "reject a sender that a recipient table (local_recipient_maps, relay_recipient_maps) does not list"),
    P_BOOL(smtpd_reject_unlisted_recipient, "yes",
           "reject a recipient that a recipient table does not list"),
    P_STR(local_recipient_maps, "",
          "table of the valid recipients in mydestination domains; empty: any"),
    P_STR(relay_recipient_maps, "",
          "table of the valid recipients in relay_domains; empty: any"),
    /* DNS restrictions and the client name */
    P_BOOL(smtpd_peername_lookup, "yes",
           "look up the client's name at connect (PTR, then its addresses must include the client's); \"unknown\" when that fails"),
    P_TIME(smtpd_dns_timeout, "5s", SEC(1), SEC(300),
           "postern: how long the SMTP server waits for one DNS lookup (client name, restrictions) before it counts as a temporary failure"),
    P_INT(unknown_client_reject_code, "450", 400, 599,
          "reply code of reject_unknown_client_hostname and reject_unknown_reverse_client_hostname when the name lookup failed for good"),
    P_INT(unknown_hostname_reject_code, "450", 400, 599,
          "reply code of reject_unknown_helo_hostname when the HELO name has no A, AAAA or MX record"),
    P_INT(unknown_address_reject_code, "450", 400, 599,
          "reply code of reject_unknown_sender_domain and reject_unknown_recipient_domain when the domain does not exist"),
    P_INT(maps_rbl_reject_code, "554", 400, 599,
          "reply code when a client, name or address is on a DNS blocklist (reject_rbl_client, reject_rhsbl_*)"),
    P_STR(reject_tempfail_action, "defer_if_permit",
          "what a reject_unknown_* restriction does when DNS fails temporarily: defer_if_permit (450 unless something else rejects) or defer (450 at once)"),
    P_STR(unknown_address_tempfail_action, "$reject_tempfail_action",
          "reject_tempfail_action for reject_unknown_sender_domain and reject_unknown_recipient_domain"),
    P_STR(unknown_helo_hostname_tempfail_action, "$reject_tempfail_action",
          "reject_tempfail_action for reject_unknown_helo_hostname"),
    /* queue and transports */
    P_STR(queue_directory, "./var/spool",
          "directory of the mail queue"),
    P_STR(default_transport, "capture",
          "delivery transport for mail without a more specific route"),
    P_STR(capture_directory, "./var/mail",
          "postern: directory where the capture transport stores delivered messages"),
    P_TIME_MS(maximal_queue_lifetime, "5d", SEC(0), DAYS(100),
           "how long a message may stay queued before it bounces; 0: try delivery once"),
    P_TIME_MS(minimal_backoff_time, "300s", MS(1), DAYS(100),
           "minimal time between delivery attempts of a deferred message"),
    P_TIME_MS(maximal_backoff_time, "4000s", MS(1), DAYS(100),
           "maximal time between delivery attempts of a deferred message"),
    P_TIME_MS(queue_run_delay, "300s", MS(1), DAYS(100),
           "time between scans of the deferred queue"),
    P_BOOL(always_add_missing_headers, "yes",
           "add missing Message-ID: and Date: headers to received mail"),
    /* smtpd limits */
    P_SIZE(message_size_limit, "10240000", 0, LLONG_MAX,
           "maximal message size in bytes, headers included; 0: no limit"),
    P_INT(smtpd_recipient_limit, "1000", 1, 1000000,
          "maximal number of recipients per message"),
    P_INT(line_length_limit, "2048", 512, 1048576,
          "maximal length of an SMTP command or message line"),
    P_SIZE(header_size_limit, "102400", 1024, LLONG_MAX,
           "maximal size in bytes of one message header (all its continuation lines)"),
    P_TIME(smtpd_timeout, "300s", SEC(1), SEC(3600),
           "time to wait for an SMTP client command or data"),
    P_TIME(smtpd_error_sleep_time, "10s", SEC(0), SEC(300),
           "delay of each error reply after smtpd_soft_error_limit errors in a session"),
    P_INT(smtpd_soft_error_limit, "2", 1, 1000,
          "errors in a session after which error replies are delayed by smtpd_error_sleep_time"),
    P_INT(smtpd_hard_error_limit, "5", 1, 1000,
          "errors in a session at which the server replies 421 and disconnects"),
    P_INT(smtpd_junk_command_limit, "100", 1, 1000000,
          "junk commands (NOOP, RSET, VRFY, HELP, HELO, EHLO) since the last accepted message after which each one counts as an error"),
    P_INT(smtpd_client_connection_count_limit, "50", 0, 1000000,
          "maximal simultaneous connections from one client address outside mynetworks; 0: no limit"),
    P_INT(smtpd_client_connection_rate_limit, "0", 0, 1000000,
          "maximal connections one client may make per anvil_rate_time_unit (421 4.7.0); 0: no limit"),
    P_INT(smtpd_client_message_rate_limit, "0", 0, 1000000,
          "maximal MAIL FROM commands one client may send per anvil_rate_time_unit (450 4.7.1); 0: no limit"),
    P_INT(smtpd_client_recipient_rate_limit, "0", 0, 1000000,
          "maximal RCPT TO commands one client may send per anvil_rate_time_unit (450 4.7.1); 0: no limit"),
    P_INT(smtpd_client_auth_rate_limit, "10", 0, 1000000,
          "maximal failed AUTH attempts from one client per anvil_rate_time_unit; then AUTH is refused (450 4.7.1) for the rest of it; 0: no limit"),
    P_INT(smtpd_client_new_tls_session_rate_limit, "0", 0, 1000000,
          "maximal new (not resumed) TLS sessions one client may negotiate per anvil_rate_time_unit; 0: no limit"),
    P_LIST(smtpd_client_event_limit_exceptions, "$mynetworks",
           "clients (CIDR list) exempt from the smtpd_client_*_rate_limit and _count_limit limits"),
    P_TIME(anvil_rate_time_unit, "60s", SEC(1), DAYS(1),
           "the time unit of the smtpd_client_*_rate_limit limits; a client's window begins with its first event"),
    P_INT(smtpd_max_connections, "1000", 1, 100000,
          "postern: maximal simultaneous SMTP sessions in total"),
    P_STR(smtpd_upstream_proxy_protocol, "",
          "SMTP server: the protocol of the proxy in front of it: empty (none) or haproxy (PROXY v1/v2)"),
    P_TIME(smtpd_upstream_proxy_timeout, "5s", SEC(1), SEC(3600),
           "SMTP server: time to wait for the proxy's PROXY header"),
    P_LIST(smtpd_upstream_proxy_networks, "",
           "postern: addresses allowed to send a PROXY header (CIDR list); empty: every connection is refused while smtpd_upstream_proxy_protocol is set"),
    P_INT(hopcount_limit, "50", 1, 1000,
          "maximal number of Received: headers; more means a mail loop (554 5.4.6)"),
    /* smtpd SASL (AUTH) */
    P_BOOL(smtpd_sasl_auth_enable, "no",
           "SMTP server: offer AUTH (SASL PLAIN and LOGIN) and verify with smtpd_sasl_type"),
    P_STR(smtpd_sasl_type, "postern",
          "SMTP server AUTH backend: postern (smtpd_sasl_users file), saslauthd, dovecot"),
    P_STR(smtpd_sasl_path, "",
          "socket of the saslauthd or dovecot backend; relative: under queue_directory; empty: /run/saslauthd/mux, private/auth"),
    P_STR(smtpd_sasl_users, "/etc/postern/users",
          "postern: the users file of smtpd_sasl_type = postern (name:hash lines, postern passwd)"),
    P_LIST(smtpd_sasl_security_options, "noanonymous",
           "SMTP server SASL restrictions: noanonymous; noplaintext (or noactive, nodictionary, mutual_auth) leaves no mechanism"),
    P_BOOL(broken_sasl_auth_clients, "no",
           "SMTP server: also announce AUTH=PLAIN LOGIN for old Outlook clients"),
    P_BOOL(smtpd_sasl_authenticated_header, "no",
           "SMTP server: put the authenticated user name in the Received: header"),
    /* smtpd TLS */
    P_STR(smtpd_tls_cert_file, "",
          "SMTP server: PEM certificate, followed by its chain (the key may be in the same file)"),
    P_STR(smtpd_tls_key_file, "$smtpd_tls_cert_file",
          "SMTP server: PEM private key, unencrypted, mode 0600 owned by root"),
    P_STR(smtpd_tls_security_level, "",
          "SMTP server TLS on smtp:// listeners: none (empty), may (offer STARTTLS), encrypt (require it)"),
    P_INT(smtpd_tls_loglevel, "0", 0, 4,
          "SMTP server: 1 or more logs each TLS connection's protocol and cipher"),
    P_BOOL(smtpd_tls_auth_only, "yes",
           "SMTP server: offer AUTH only in a TLS session (AUTH before TLS: 538 5.7.11)"),
    /* outbound smtp transport */
    P_STR(relayhost, "",
          "next-hop for all mail: [host]:port (no MX lookup) or host:port (MX lookup); empty: deliver to the recipients' MX hosts"),
    P_STR(smtp_helo_name, "$myhostname",
          "hostname sent in the SMTP client's EHLO/HELO"),
    P_STR(smtp_tls_security_level, "may",
          "SMTP client TLS: none, may (opportunistic STARTTLS), encrypt, verify (certificate + name), secure"),
    P_BOOL(smtp_tls_wrappermode, "no",
           "SMTP client: implicit TLS from the first byte (port 465) instead of STARTTLS"),
    P_STR(smtp_tls_CAfile, "",
          "CA certificates (PEM) to verify servers with; empty: the system CA store"),
    P_BOOL(smtp_sasl_auth_enable, "no",
           "SMTP client: authenticate to the next-hop with smtp_sasl_password_maps"),
    P_STR(smtp_sasl_password_maps, "",
          "table of \"[host]:port user:password\" (Postfix sasl_passwd format, no postmap needed); must not be group/world readable"),
    P_BOOL(smtp_sender_dependent_authentication, "no",
           "SMTP client: look up smtp_sasl_password_maps by the envelope sender (address, then @domain) before the next-hop; disables connection caching"),
    P_LIST(smtp_sasl_security_options, "noanonymous",
           "SMTP client SASL restrictions: noanonymous, noplaintext (Postfix's default also has noplaintext)"),
    P_BOOL(smtp_sasl_allow_cleartext_loopback, "no",
           "postern: allow AUTH without TLS when the next-hop is a loopback address (tests, local relays)"),
    P_TIME_MS(smtp_connect_timeout, "30s", MS(1), SEC(3600),
           "SMTP client: time limit for completing a TCP connection"),
    P_TIME_MS(smtp_helo_timeout, "300s", MS(1), SEC(3600),
           "SMTP client: time limit for the greeting and the EHLO/HELO reply"),
    P_TIME_MS(smtp_mail_timeout, "300s", MS(1), SEC(3600),
           "SMTP client: time limit for the MAIL FROM reply"),
    P_TIME_MS(smtp_rcpt_timeout, "300s", MS(1), SEC(3600),
           "SMTP client: time limit for each RCPT TO reply"),
    P_TIME_MS(smtp_data_init_timeout, "120s", MS(1), SEC(3600),
           "SMTP client: time limit for the DATA reply"),
    P_TIME_MS(smtp_data_xfer_timeout, "180s", MS(1), SEC(3600),
           "SMTP client: time limit for sending message content"),
    P_TIME_MS(smtp_data_done_timeout, "600s", MS(1), SEC(3600),
           "SMTP client: time limit for the reply to the final dot"),
    P_TIME_MS(smtp_quit_timeout, "300s", MS(1), SEC(3600),
           "SMTP client: time limit for the QUIT reply"),
    P_BOOL(smtp_connection_cache_on_demand, "yes",
           "SMTP client: keep connections open and reuse them for queued mail to the same destination"),
    P_TIME_MS(smtp_connection_cache_time_limit, "2s", MS(1), SEC(300),
           "SMTP client: how long an idle cached connection is kept"),
    P_INT(smtp_line_length_limit, "998", 0, 1048576,
          "SMTP client: longest header or body line sent; longer lines are broken with <CR><LF><SPACE>; 0: no limit"),
    P_INT(default_destination_concurrency_limit, "20", 1, 1000,
          "maximal parallel deliveries to the same destination"),
    P_INT(smtp_destination_concurrency_limit, "$default_destination_concurrency_limit", 1, 1000,
          "SMTP client: maximal parallel deliveries to the same destination (the relayhost, or the recipient domain for MX delivery)"),
    P_INT(smtp_destination_concurrency_failed_cohort_limit, "1", 0, 100,
          "SMTP client: failed connection cohorts after which a destination is marked dead for $minimal_backoff_time (its mail deferred without connecting); 0: never"),
    P_TIME_MS(default_destination_rate_delay, "0s", MS(0), DAYS(1),
              "pause between two deliveries to the same destination; 0: none; not 0: concurrency 1"),
    P_TIME_MS(smtp_destination_rate_delay, "$default_destination_rate_delay", MS(0), DAYS(1),
              "SMTP client: pause between two deliveries to the same destination; 0: none; not 0: concurrency 1"),
    P_STR(relayhost_rate_limits, "",
          "postern: table of upstream quotas, \"[smtp.example.com]:465 500/1d 60/1m\"; a full window defers (never bounces) until its next slot"),
    P_BOOL(smtputf8_enable, "yes",
           "accept and relay SMTPUTF8 mail; towards a server without SMTPUTF8, UTF-8 addresses bounce"),
    P_LIST(smtp_fallback_relay, "",
           "SMTP client: next-hops tried at once, in the same attempt, when the chosen one is unreachable or fails temporarily before MAIL FROM"),
    P_STR(sender_dependent_relayhost_maps, "",
          "table choosing the relayhost by the envelope sender (address, then @domain); DUNNO: use relayhost"),
    P_STR(smtpd_sasl_login_relayhost_maps, "",
          "postern: table choosing the relayhost by the SMTP AUTH login the message was submitted with; before sender_dependent_relayhost_maps; DUNNO: go on"),
    P_STR(transport_maps, "",
          "table routing a domain to a transport: capture, smtp:[host]:port, error:reason"),
    P_STR(local_transport, "capture",
          "transport for mail to mydestination domains (postern has no local mailboxes: capture, or error:text)"),
    P_LIST(dns_servers, "",
           "postern: DNS servers to ask (e.g. 127.0.0.1:5353); empty: /etc/resolv.conf"),
    /* sender rewriting */
    P_STR(sender_canonical_maps, "",
          "table rewriting sender addresses (regexp:, pcre:, hash:, texthash:)"),
    P_LIST(sender_canonical_classes, "envelope_sender, header_sender",
           "what sender_canonical_maps rewrites: envelope_sender, header_sender"),
    P_BOOL(sender_rewrite_reply_to, "yes",
           "postern: when From: is rewritten and there is no Reply-To:, put the original From in Reply-To:"),
    /* DKIM signing */
    P_STR(dkim_sign, "mx",
          "postern: which smtp deliveries are DKIM-signed: mx (straight to the recipients' MX hosts, not through a relayhost), yes (all), no"),
    P_STR(dkim_domain, "",
          "postern: the domain of dkim_private_key (d=); mail whose From: domain is this one is signed"),
    P_STR(dkim_selector, "",
          "postern: the selector of dkim_private_key (s=): its public key is at SELECTOR._domainkey.DOMAIN"),
    P_STR(dkim_private_key, "",
          "postern: PEM private key file (RSA of at least 1024 bits, or Ed25519; mode 600) for dkim_domain"),
    P_STR(dkim_key_table, "",
          "postern: texthash:FILE of \"domain selector keyfile\" lines (OpenDKIM KeyTable shape); several lines for one domain sign once per key"),
    P_STR(dkim_canonicalization, "relaxed/relaxed",
          "postern: DKIM canonicalization header/body: relaxed or simple each"),
    P_LIST(dkim_signed_headers, DKIM_DEFAULT_HEADERS_TEXT,
           "postern: header fields DKIM signs (each instance present; From once more, over-signed)"),
    /* bounces */
    P_SIZE(bounce_size_limit, "50000", 0, LLONG_MAX,
           "maximal amount of the original message returned in a bounce"),
    P_TIME_MS(bounce_queue_lifetime, "5d", SEC(0), DAYS(100),
           "how long a bounce (null sender) may stay queued before it is dropped"),
    P_TIME_MS(delay_warning_time, "0h", SEC(0), DAYS(100),
           "send a delay warning to the sender after this long in the queue; 0: never"),
    P_STR_NAMED("2bounce_notice_recipient", twobounce_notice_recipient, "",
                "where undeliverable bounces go; empty: dropped with a log line"),
    P_STR(submit_socket, "$queue_directory/public/submit",
          "postern: local submission socket used by postern sendmail"),
    P_SIZE(queue_minfree, "0", 0, LLONG_MAX,
           "free space in bytes the queue file system needs to accept mail (MAIL FROM gets 452 4.3.1 below it; /readyz fails); 0: only a full disk"),
    /* the HTTP endpoint */
    P_STR(http_listen, "",
          "postern: host:port of the HTTP endpoint (/metrics, /healthz, /readyz), e.g. 127.0.0.1:9025; empty: off"),
    P_LIST(http_allowed_networks, "127.0.0.0/8 [::1]/128",
           "postern: client networks (CIDR) the HTTP endpoint answers; others are disconnected"),
    P_BOOL(http_tls, "no",
           "postern: serve the HTTP endpoint over TLS with smtpd_tls_cert_file and smtpd_tls_key_file"),
    P_STR(http_users, "",
          "postern: users file (name:hash, as smtpd_sasl_users; postern passwd -f) of the /api/queue and /queue pages; empty: those pages are off"),
    P_BOOL(http_queue_actions, "no",
           "postern: let http_users hold, release, delete and flush messages over HTTP; no: the queue API and page are read-only"),
    P_TIME(readiness_check_interval, "60s", SEC(1), DAYS(1),
           "postern: how often /readyz's background probe logs in to the relayhost; a probe older than twice this fails /readyz"),
    /* webhooks (src/notify/, docs/operations.md "Webhooks") */
    P_LIST(notify_url, "",
           "postern: http:// or https:// URLs that get a signed JSON POST on a bounce, a delay warning, an upstream login failure or a quota deferral; empty: off"),
    P_STR(notify_secret, "",
          "postern: the webhooks' HMAC-SHA256 key: a file (a value starting with /, read as a secret) or the key itself"),
    P_STR(notify_format, "json",
          "postern: webhook payload: json (the event) or slack (a Slack/Mattermost {\"text\": ...} message)"),
    P_LIST(notify_events, "bounce delayed upstream_login_failed quota_deferred",
           "postern: the events the webhooks get"),
    P_STR(notify_tls_CAfile, "",
          "postern: CA certificates (PEM) that verify https:// webhook servers; empty: the system's"),
    { NULL, CFG_STR, NULL, 0, 0, 0, NULL, 0 }
};

const char config_default_text[] =
    "# postern built-in configuration (Postfix main.cf syntax).\n"
    "# Used when no -c FILE is given and /etc/postern/postern.cf does not exist.\n"
    "# See docs/config.md for every parameter.\n"
    "\n"
    "# Accept SMTP on the loopback interface, unprivileged port.\n"
    "listen = smtp://127.0.0.1:2525\n"
    "\n"
    "# Clients that may relay.\n"
    "mynetworks = 127.0.0.0/8 [::1]/128\n"
    "\n"
    "# Queue and delivery, relative to the working directory: mail is not sent\n"
    "# anywhere, it is captured as files for inspection.\n"
    "queue_directory = ./var/spool\n"
    "default_transport = capture\n"
    "capture_directory = ./var/mail\n";

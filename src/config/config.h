/* config — one table declares every parameter; Postfix-style main.cf parsing.
 *
 * A struct config holds the typed, expanded value of every parameter. It is
 * immutable once loaded: SIGHUP builds a new one and swaps the pointer in the
 * daemon context, so there is no global mutable config. */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* A comma/space separated list value, already split and expanded. */
struct cfg_list {
    size_t n;
    char **v;           /* n entries, each a NUL-terminated string */
};

struct config {
    /* identity */
    char *myhostname;
    char *mydomain;
    char *myorigin;
    struct cfg_list mydestination;
    char *smtpd_banner;          /* text after "220 ", e.g. "$myhostname ESMTP" expanded */
    char *mail_name;             /* "postern"; for Postfix-style "$mail_name" in banners */
    char *mail_owner;
    char *syslog_name;           /* empty: no syslog */
    /* listeners and access */
    struct cfg_list listen;      /* "smtp://127.0.0.1:2525", "smtp://[::1]:25" */
    struct cfg_list mynetworks;  /* CIDR strings: 127.0.0.0/8 [::1]/128 10.0.0.1 */
    int allow_untrusted_routing;       /* '%', '!', '@' in local parts from outside mynetworks */
    /* restrictions (policy/restrict.h) */
    struct cfg_list relay_domains;
    struct cfg_list smtpd_client_restrictions;
    struct cfg_list smtpd_helo_restrictions;
    struct cfg_list smtpd_sender_restrictions;
    struct cfg_list smtpd_relay_restrictions;
    struct cfg_list smtpd_recipient_restrictions;
    struct cfg_list smtpd_data_restrictions;
    int smtpd_helo_required;
    int strict_rfc821_envelopes;
    char *smtpd_sender_login_maps;
    int smtpd_sender_header_check;      /* postern */
    int smtpd_reject_unlisted_sender;
    int smtpd_reject_unlisted_recipient;
    char *local_recipient_maps;
    char *relay_recipient_maps;
    /* DNS restrictions and the client name */
    int smtpd_peername_lookup;
    long long smtpd_dns_timeout;        /* postern; seconds */
    long long unknown_client_reject_code;
    long long unknown_hostname_reject_code;
    long long unknown_address_reject_code;
    long long maps_rbl_reject_code;
    char *reject_tempfail_action;       /* defer | defer_if_permit */
    char *unknown_address_tempfail_action;
    char *unknown_helo_hostname_tempfail_action;
    /* queue and transports */
    char *queue_directory;
    char *default_transport;     /* "capture" (smtp in a later issue) */
    char *capture_directory;
    long long maximal_queue_lifetime;   /* seconds (every time: see ms below) */
    long long minimal_backoff_time;
    long long maximal_backoff_time;
    long long queue_run_delay;
    int always_add_missing_headers;     /* bool */
    /* smtpd limits */
    long long message_size_limit;       /* bytes, 0 = unlimited */
    long long smtpd_recipient_limit;
    long long line_length_limit;
    long long header_size_limit;
    long long smtpd_timeout;            /* seconds */
    long long smtpd_error_sleep_time;   /* seconds */
    long long smtpd_soft_error_limit;
    long long smtpd_hard_error_limit;
    long long smtpd_junk_command_limit;
    long long smtpd_client_connection_count_limit;
    long long smtpd_client_connection_rate_limit;   /* per anvil_rate_time_unit */
    long long smtpd_client_message_rate_limit;
    long long smtpd_client_recipient_rate_limit;
    long long smtpd_client_auth_rate_limit;         /* postern: failed AUTH */
    long long smtpd_client_new_tls_session_rate_limit;
    struct cfg_list smtpd_client_event_limit_exceptions; /* CIDR strings */
    long long anvil_rate_time_unit;                 /* seconds */
    long long smtpd_max_connections;    /* postern: total concurrent sessions */
    char *smtpd_upstream_proxy_protocol;   /* "" or "haproxy" */
    long long smtpd_upstream_proxy_timeout; /* seconds */
    struct cfg_list smtpd_upstream_proxy_networks; /* CIDR strings */
    long long hopcount_limit;           /* Received: headers before 5.4.6 */
    /* smtpd SASL (AUTH) */
    int smtpd_sasl_auth_enable;
    char *smtpd_sasl_type;              /* postern | saslauthd | dovecot */
    char *smtpd_sasl_path;              /* backend socket; "" = the type's default */
    char *smtpd_sasl_users;             /* postern: the users file */
    struct cfg_list smtpd_sasl_security_options;
    int broken_sasl_auth_clients;       /* also announce AUTH=PLAIN LOGIN */
    int smtpd_sasl_authenticated_header; /* user name in Received: */
    /* smtpd TLS */
    char *smtpd_tls_cert_file;
    char *smtpd_tls_key_file;
    char *smtpd_tls_security_level;     /* "" (none) | none | may | encrypt */
    long long smtpd_tls_loglevel;
    int smtpd_tls_auth_only;            /* AUTH only after TLS */
    /* outbound smtp transport */
    char *relayhost;                    /* "[host]:port", "host:port", "" = MX */
    char *smtp_helo_name;
    char *smtp_tls_security_level;      /* none | may | encrypt | verify | secure */
    int smtp_tls_wrappermode;
    char *smtp_tls_CAfile;
    int smtp_sasl_auth_enable;
    char *smtp_sasl_password_maps;
    int smtp_sender_dependent_authentication;
    struct cfg_list smtp_sasl_security_options;
    int smtp_sasl_allow_cleartext_loopback; /* postern */
    long long smtp_connect_timeout;
    long long smtp_helo_timeout;
    long long smtp_mail_timeout;
    long long smtp_rcpt_timeout;
    long long smtp_data_init_timeout;
    long long smtp_data_xfer_timeout;
    long long smtp_data_done_timeout;
    long long smtp_quit_timeout;
    int smtp_connection_cache_on_demand;
    long long smtp_connection_cache_time_limit;
    long long smtp_line_length_limit;   /* 0: no limit */
    long long default_destination_concurrency_limit;
    long long smtp_destination_concurrency_limit;
    long long smtp_destination_concurrency_failed_cohort_limit;  /* 0: never dead */
    long long default_destination_rate_delay;
    long long smtp_destination_rate_delay;
    char *relayhost_rate_limits;        /* postern: upstream quotas */
    int smtputf8_enable;
    char *sender_dependent_relayhost_maps;
    char *smtpd_sasl_login_relayhost_maps;  /* postern */
    struct cfg_list smtp_fallback_relay;
    char *transport_maps;
    char *local_transport;             /* for mydestination domains */
    struct cfg_list dns_servers;        /* postern: "127.0.0.1:5353" */
    /* sender rewriting */
    char *sender_canonical_maps;
    struct cfg_list sender_canonical_classes;
    int sender_rewrite_reply_to;        /* postern */
    /* DKIM signing (docs/dkim.md) */
    char *dkim_sign;                    /* mx | yes | no */
    char *dkim_domain;
    char *dkim_selector;
    char *dkim_private_key;
    char *dkim_key_table;               /* texthash:FILE */
    char *dkim_canonicalization;        /* header/body: relaxed/relaxed */
    struct cfg_list dkim_signed_headers;
    /* bounces */
    long long bounce_size_limit;
    long long bounce_queue_lifetime;
    long long delay_warning_time;       /* 0 = no warnings */
    char *twobounce_notice_recipient;   /* "2bounce_notice_recipient" */
    char *submit_socket;                /* postern: local submission socket */
    long long queue_minfree;            /* bytes free in the queue's file system; 0: none */
    /* the HTTP endpoint (daemon/ops.c, daemon/queue_api.c) */
    char *http_listen;                  /* "127.0.0.1:9025"; empty: off */
    struct cfg_list http_allowed_networks;
    int http_tls;                       /* with smtpd_tls_cert_file/key_file */
    char *http_users;                   /* users file of /api/queue, /queue; empty: off */
    int http_queue_actions;             /* POST actions allowed */
    long long readiness_check_interval; /* seconds */
    /* webhooks (src/notify/) */
    struct cfg_list notify_url;
    char *notify_secret;                /* "/file" or the key itself */
    char *notify_format;                /* json | slack */
    struct cfg_list notify_events;
    char *notify_tls_CAfile;

    /* Private to config.c (for config_print_nondefault and error messages);
     * indexed like config_params[]. */
    char **raw;         /* value as written in the file, NULL if not set */
    int *line;          /* line of the last assignment, 0 if not set */
    char *file;         /* file name given to config_load / config_load_text */
    char **defined;     /* "name = value" of the user-defined parameters a
                         * $name refers to (Postfix's $mua_* style) */
    size_t ndefined;

    /* The exact value, in milliseconds, of each time parameter that drives
     * a timer of the queue or the SMTP client: these accept the `ms` unit
     * (queue_run_delay = 200ms), and their field above holds the value in
     * whole seconds, rounded up. Timers use these. */
    struct config_ms {
        long long maximal_queue_lifetime;
        long long minimal_backoff_time;
        long long maximal_backoff_time;
        long long queue_run_delay;
        long long smtp_connect_timeout;
        long long smtp_helo_timeout;
        long long smtp_mail_timeout;
        long long smtp_rcpt_timeout;
        long long smtp_data_init_timeout;
        long long smtp_data_xfer_timeout;
        long long smtp_data_done_timeout;
        long long smtp_quit_timeout;
        long long smtp_connection_cache_time_limit;
        long long default_destination_rate_delay;
        long long smtp_destination_rate_delay;
        long long bounce_queue_lifetime;
        long long delay_warning_time;
    } ms;
};

/* Parameter value kinds. Times accept Postfix units s m h d w (default s),
 * and those with a field in struct config_ms also ms; sizes are plain byte
 * counts (k/m/g suffixes accepted). */
enum cfg_type { CFG_STR, CFG_LIST, CFG_INT, CFG_SIZE, CFG_TIME, CFG_BOOL };

struct cfg_param {
    const char *name;
    enum cfg_type type;
    const char *def;        /* default, may reference $other parameters */
    long long min, max;     /* bounds for numeric kinds; for times, in ms */
    size_t offset;          /* offsetof(struct config, field) */
    const char *doc;        /* one line for `postern check -d` and docs */
    size_t ms_offset;       /* times: offsetof(struct config, ms.field), 0 if
                             * the parameter has no millisecond value */
};

/* The table, terminated by an entry with name == NULL. */
extern const struct cfg_param config_params[];

/* The embedded default configuration text used when no file is given and
 * /etc/postern/postern.cf does not exist. */
extern const char config_default_text[];

/* Errors found while loading, each "FILE:LINE: what is wrong; how to fix
 * it". Only the first CONFIG_MAX_ERRORS are kept, so that a wrong file (a
 * binary, a script) does not flood the terminal or the log; n counts them
 * all. Zero-initialise (struct config_errors e = { 0 }). */
#define CONFIG_MAX_ERRORS 20
#define CONFIG_ERROR_MAX  1024          /* bytes of one message, NUL included */
/* Beside the errors, the notes: warnings about Postfix lines postern
 * ignores and what a Postfix line was mapped to ("FILE:LINE: warning: ...",
 * "FILE:LINE: name = value: mapped to ..."). They never make a load fail.
 * The first CONFIG_MAX_NOTES are kept; nnotes counts them all. */
#define CONFIG_MAX_NOTES 64
#define CONFIG_NOTE_MAX  320
struct config_errors {
    size_t n;
    char msg[CONFIG_MAX_ERRORS][CONFIG_ERROR_MAX];
    size_t nnotes;
    int note_line[CONFIG_MAX_NOTES];
    char note[CONFIG_MAX_NOTES][CONFIG_NOTE_MAX];
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void config_errors_add(struct config_errors *errs, const char *fmt, ...);

/* Call say() with each kept message in order, then once with a "too many
 * errors" line when some were not kept. */
void config_errors_each(const struct config_errors *errs,
                        void (*say)(void *arg, const char *msg), void *arg);

/* Keep a note about line `line` of the file being loaded. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void config_notes_add(struct config_errors *errs, int line, const char *fmt, ...);

/* Call say() with each kept note, in the order of their lines. */
void config_notes_each(const struct config_errors *errs,
                       void (*say)(void *arg, const char *msg), void *arg);

/* Every kept error and note of file `file` in the order of their lines
 * (errors about no line last): say_err() for an error, say_note() for a
 * note; then the "too many errors" line when some were not kept. */
void config_messages_each(const struct config_errors *errs, const char *file,
                          void (*say_err)(void *arg, const char *msg),
                          void (*say_note)(void *arg, const char *msg), void *arg);

/* Load from a file (path) or, when path is NULL, from config_default_text,
 * and validate (types, bounds, relations, values from a fixed set), going on
 * after an error so that every error is reported in one run.
 * Returns the configuration even when errors were added to errs: parameters
 * in error then hold empty values ("", 0, no list entries), so the caller
 * can go on checking what it builds from the rest (mynetworks, map files)
 * and report that too; such a configuration must be freed, never used.
 * Returns NULL only when the file cannot be read or memory runs out (errs
 * says why). */
struct config *config_load_collect(const char *path, struct config_errors *errs);

/* config_load_collect in two steps, for text read by another process (the
 * daemon's privileged parent): read the file, then parse len bytes of text
 * (NUL-terminated; an embedded NUL is an error naming its line). */
int config_read_file(const char *path, char **text, size_t *len,
                     struct config_errors *errs);
struct config *config_load_buffer_collect(const char *text, size_t len, const char *path,
                                          struct config_errors *errs);

/* The same on text, as if it came from file `name` (tests, the default). */
struct config *config_load_text_collect(const char *text, const char *name,
                                        struct config_errors *errs);

/* The files beside a Postfix main.cf that postern reads: the master.cf
 * (its SMTP services become listen, unless the file sets listen itself)
 * and the file myorigin names (Debian's /etc/mailname: its first line is
 * the domain). NULL texts: not there. */
struct config_postfix_files {
    const char *master;             /* text of master.cf, or NULL */
    const char *master_name;        /* its path, for messages */
    const char *myorigin_file;      /* the path myorigin names, or NULL */
    const char *myorigin_text;      /* that file's text, or NULL */
};

/* config_load_text_collect with those files (pf may be NULL). */
struct config *config_load_postfix_collect(const char *text, const char *name,
                                           const struct config_postfix_files *pf,
                                           struct config_errors *errs);

/* The master.cf beside a file named main.cf ("/etc/postfix/master.cf"
 * for "/etc/postfix/main.cf") into buf; 0, or -1 for any other file name. */
int config_master_path(const char *main_path, char *buf, size_t len);

/* The file a main.cf's last "myorigin = /PATH" names into buf: 0, or -1
 * when myorigin is not set to an absolute path. */
int config_myorigin_path(const char *text, char *buf, size_t len);

/* config_load_collect for callers that need a usable configuration or
 * nothing: on error returns NULL and writes the first error ("FILE:LINE:
 * message; fix", and how many more there are) into err. */
struct config *config_load(const char *path, char *err, size_t errlen);

/* Parse text as if it came from file `name` (for tests and the default). */
struct config *config_load_text(const char *text, const char *name,
                                char *err, size_t errlen);


/* Where parameter `name` was set, for error messages: "FILE:LINE", or
 * "FILE" when it has its default value. Returns buf. */
const char *config_param_where(const struct config *cfg, const char *name,
                               char *buf, size_t len);

void config_free(struct config *cfg);

/* Print settings that differ from their defaults, one "name = value" a line,
 * in table order (like `postconf -n`). */
void config_print_nondefault(const struct config *cfg, FILE *out);

/* Print every parameter with its effective value (like `postconf`). */
void config_print_all(const struct config *cfg, FILE *out);

/* Write the postern.cf(5) manual page (roff) from the parameter table:
 * every parameter, alphabetically, with its type, default, bounds and
 * description. version goes into the page's footer. 0, or -1 when
 * memory runs out or out has an error. */
int config_print_man(FILE *out, const char *version);

/* The class of a parameter name (postfix_names.c): postern's own
 * (implemented), or a Postfix one postern translates (mapped), ignores with
 * a warning (ignored) or refuses with an error (refused); unknown for any
 * other name. */
enum cfg_class {
    CFG_CLASS_IMPLEMENTED,
    CFG_CLASS_MAPPED,
    CFG_CLASS_IGNORED,
    CFG_CLASS_REFUSED,
    CFG_CLASS_UNKNOWN,
};

/* The class of `name`; *hint (if hint) gets what postern does or what to
 * do instead, *ok (if ok) the value of a refused name that asks for
 * nothing postern lacks (an empty value always does), or NULL. */
enum cfg_class config_postfix_class(const char *name, const char **hint, const char **ok);

/* For a Postfix parameter postern does not implement: what to do instead
 * (e.g. "use listen = smtp://ADDRESS:PORT"); NULL for any other name. */
const char *config_postfix_hint(const char *name);

/* Call fn() for each entry of the Postfix names list (names ending in '*'
 * are prefixes, names starting with '*' suffixes), in the list's order. */
void config_postfix_each(void (*fn)(void *arg, const char *name, enum cfg_class cls,
                                    const char *hint), void *arg);

/* "implemented", "mapped", "ignored", "refused". */
const char *config_class_name(enum cfg_class cls);

/* Call say() once for each setting that is valid but most likely a mistake
 * (relayhost without the smtp transport, AUTH that can never be sent...).
 * Returns how many. Pure. */
int config_advise(const struct config *cfg, void (*say)(void *arg, const char *msg),
                  void *arg);

/* The known parameter name closest to `name` (edit distance), or NULL. */
const char *config_suggest_name(const char *name);

#endif

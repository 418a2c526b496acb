/* runtime — the configuration in force, as the modules below the daemon see
 * it: a snapshot (the parameters, mynetworks parsed, the tables they name)
 * shared by reference, and the source a module asks for it.
 *
 * daemon/runtime.c loads, validates and frees snapshots; on SIGHUP the
 * daemon swaps in a new one while sessions and delivery attempts finish
 * with the one they started with. A module below the daemon never loads,
 * changes or frees one: it is given a struct cfg_source, reads `current`
 * for a decision it makes now, and takes a reference (`ref`, later
 * `unref`) to keep a snapshot across callbacks. The source is a handful of
 * function pointers rather than a daemon handle, so smtp/ and queue/ need
 * nothing of daemon/ (docs/architecture.md). */
#ifndef POSTERN_CONFIG_RUNTIME_H
#define POSTERN_CONFIG_RUNTIME_H

#include "config.h"

struct netlist;     /* policy/policy.h */
struct map;         /* config/maps.h */
struct restrict_conf; /* policy/restrict.h */
struct ssl_ctx_st;  /* OpenSSL's SSL_CTX */
struct auth;        /* auth/auth.h */
struct anvil;       /* policy/anvil.h */
struct quota_conf;  /* queue/quota.h */
struct dkim_signer; /* dkim/dkim.h */
struct users;       /* auth/users.h */

struct runtime {
    struct config *cfg;
    struct netlist *mynetworks;
    struct netlist *proxy_networks; /* smtpd_upstream_proxy_networks, parsed */
    struct netlist *event_exceptions; /* smtpd_client_event_limit_exceptions, parsed */
    struct netlist *http_networks; /* http_allowed_networks, parsed */
    struct users *http_users;      /* the http_users file, parsed (immutable), or
                                    * NULL: the queue API and page are off */
    struct map *canonical;         /* sender_canonical_maps, or NULL */
    struct map *transport_map;     /* transport_maps, or NULL */
    struct map *sender_relay;      /* sender_dependent_relayhost_maps, or NULL */
    struct map *login_relay;       /* smtpd_sasl_login_relayhost_maps, or NULL */
    struct quota_conf *quota;      /* relayhost_rate_limits, or NULL */
    struct map *passwd;            /* smtp_sasl_password_maps until the smtp
                                    * client takes it, or NULL */
    struct dkim_signer *dkim;      /* the DKIM keys (read by the privileged
                                    * parent) until the smtp client takes
                                    * them, or NULL: no signing */
    struct restrict_conf *restrictions; /* the smtpd_*_restrictions, loaded */
    struct ssl_ctx_st *smtpd_tls;  /* the SMTP server's TLS context (smtp/tls.h),
                                    * NULL when no listener needs TLS */
    /* AUTH: the smtpd_sasl_users text (smtpd_sasl_type = postern), read by
     * the privileged parent, until the worker builds `auth` from it; then
     * wiped. NULL when AUTH is off or another backend is used. */
    char *sasl_users;
    size_t sasl_users_len;
    /* notify_secret: the webhooks' key (the file's text when the value
     * names a file, read by the privileged parent), or NULL when
     * notify_url is empty. Wiped when freed. */
    char *notify_secret;
    size_t notify_secret_len;
    struct auth *auth;             /* the worker's AUTH checker, or NULL */
    struct anvil *anvil;           /* event rates per client and per account
                                    * (smtpd_client_*_rate_limit, users-file
                                    * rate=): the daemon's, one across reloads
                                    * (borrowed), or NULL */
    /* Per-listener overrides (`listen` URL queries): listeners[i] is the
     * snapshot derived for cfg->listen.v[i] (the configuration with its
     * overrides added), or NULL when that URL has none; NULL when no URL
     * has any. A derived snapshot has `top`, the one that holds it, and
     * shares its reference count: taking or dropping one of a derived
     * snapshot takes or drops the top's, and the top frees them. */
    struct runtime **listeners;
    struct runtime *top;
    int refs;                      /* daemon/runtime.c's */
};

struct cfg_source {
    void *arg;
    /* The snapshot in force. Borrowed: it stays valid until control returns
     * to the event loop (a reload runs in a callback of its own). */
    struct runtime *(*current)(void *arg);
    struct runtime *(*ref)(struct runtime *rt);
    void (*unref)(struct runtime *rt);
};

#endif

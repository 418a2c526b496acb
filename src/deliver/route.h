/* route — where each recipient goes: a pure function of the config, the
 * transport_maps table and the address.
 *
 * transport_maps (looked up with the recipient address, then its domain,
 * then each parent domain as ".example.com", then "*") may say:
 *   capture                  the capture transport (Maildir)
 *   smtp: / smtp / relay:    SMTP to the domain's MX hosts
 *   smtp:[host]:port         SMTP to that host, no MX lookup
 *   smtp:host:port           SMTP to host's MX hosts
 *   error:text               bounce with text
 * Domains in mydestination go to local_transport (capture by default).
 * Otherwise default_transport decides: capture, or smtp to relayhost (or
 * to the MX hosts when relayhost is empty); smtpd_sasl_login_relayhost_maps
 * (the AUTH login, route_login_relayhost), else sender_dependent_relayhost_maps
 * (route_sender_relayhost), can replace relayhost for one message, and only
 * there, as in Postfix: transport_maps and local_transport win over it. */
#ifndef POSTERN_DELIVER_ROUTE_H
#define POSTERN_DELIVER_ROUTE_H

#include <stddef.h>

struct config;
struct map;

enum route_kind { ROUTE_CAPTURE, ROUTE_SMTP, ROUTE_ERROR };

struct route {
    enum route_kind kind;
    char nexthop[300];      /* smtp: "[h]:p", "h:p", or "" = MX of domain */
    char domain[256];       /* lower-cased recipient domain */
    char error[256];        /* error: the text to bounce with */
};

/* 0 on success; -1 when the table entry is unusable (err says why: the
 * recipient is deferred, not bounced, so the admin can fix the table).
 * relayhost: the message's (route_login_relayhost, route_sender_relayhost),
 * or NULL for cfg's. */
int route_for(const struct config *cfg, const struct map *transport_map,
              const char *relayhost, const char *rcpt, struct route *out,
              char *err, size_t errlen);

/* sender_dependent_relayhost_maps: the relayhost for the envelope sender,
 * looked up as the address, then "@domain" ("<>" for the null sender, as
 * Postfix's empty_address_relayhost_maps_lookup_key). NULL when there is
 * no entry, the entry is DUNNO, or it does not fit a next-hop; else a
 * string for the caller to free. */
char *route_sender_relayhost(const struct map *m, const char *sender);

/* smtpd_sasl_login_relayhost_maps (postern's): the relayhost for the SMTP
 * AUTH login the message was submitted with, looked up as the login itself
 * (hash: ignores case, as for every key). NULL when login is NULL or "",
 * there is no entry, the entry is DUNNO, or it does not fit a next-hop;
 * else a string for the caller to free. */
char *route_login_relayhost(const struct map *m, const char *login);

/* Recipients with equal routes travel in one delivery job. */
int route_equal(const struct route *a, const struct route *b);

#endif

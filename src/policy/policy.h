/* policy — access decisions as pure functions: mynetworks, relay and
 * routing. The restriction lists built on them are in restrict.h. */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../util/inet.h"

struct netlist {
    size_t n;
    struct inet_prefix *v;
};

/* Parse a list of entries ("10.0.0.0/8", "127.0.0.1", "[::1]/128", see
 * inet_prefix_parse); on error names the bad entry in err. */
int policy_netlist_parse(struct netlist *nl, char *const *items, size_t n,
                         char *err, size_t errlen);
void policy_netlist_free(struct netlist *nl);

/* Does the socket address match any entry? IPv4-mapped IPv6 addresses
 * are matched as IPv4. */
int policy_netlist_match(const struct netlist *nl, const struct sockaddr *sa);

/* Index of the first entry so wide that trusting it makes an open relay
 * (an IPv4 prefix shorter than /8, an IPv6 prefix shorter than /16, e.g.
 * seed configs' "0.0.0.0/0"), or -1. Pure. */
long policy_netlist_open_relay(const struct netlist *nl);

enum policy_verdict { POLICY_PERMIT, POLICY_REJECT_RELAY };

/* One RCPT TO, as policy_check_rcpt sees it. */
struct policy_rcpt {
    int client_trusted;           /* in mynetworks, or the local submission socket */
    int allow_untrusted_routing;  /* the parameter of that name */
    const char *local;            /* local part as given (quotes kept) */
    const char *domain;           /* "" only for a bare "postmaster" */
    char *const *mydestination;
    size_t ndest;
    char *const *relay_domains;   /* relay_domains: names covering their subdomains */
    size_t nrelay;
};

/* RCPT decision (Postfix's permit_mynetworks, reject_unauth_destination):
 * trusted clients may send anywhere; others only to a domain in
 * mydestination (case-insensitive; a trailing dot on the recipient domain is
 * ignored), and, unless allow_untrusted_routing, without a routing operator
 * in the local part (see policy_local_is_routed): "victim%evil.example@ours"
 * would otherwise be accepted for "ours" and handed on unchanged to a next
 * hop that may honour it, relaying to evil.example. A bare "postmaster"
 * (empty domain) is always permitted: RFC 5321 4.5.1 requires it, and
 * Postfix accepts it before any restriction. */
enum policy_verdict policy_check_rcpt(const struct policy_rcpt *r);

/* Postfix's permit_auth_destination, the part of policy_check_rcpt that
 * does not look at the client: is the recipient's domain this host's
 * (mydestination) or one it relays for (relay_domains), without a routing
 * operator in the local part (unless allow_untrusted_routing)? A bare
 * "postmaster" is authorized. */
int policy_rcpt_authorized(const struct policy_rcpt *r);

/* Is domain (a trailing dot ignored) one of list, ignoring case? */
int policy_domain_listed(const char *domain, char *const *list, size_t n);

/* The same with Postfix's parent-domain matching (relay_domains): an
 * entry "example.com" also covers "mx.example.com"; ".example.com" covers
 * only the subdomains. */
int policy_domain_covered(const char *domain, char *const *list, size_t n);

/* Does the local part carry routing for another host: '%' (percent hack),
 * '!' (UUCP bang path) or '@' (only possible quoted)? Quoting does not
 * hide them, as in Postfix, which looks at the unquoted form. */
int policy_local_is_routed(const char *local);

/* The domain a bare "postmaster" recipient is qualified with so that it
 * stays on this host: $myorigin when it is in mydestination (what Postfix's
 * append_at_myorigin gives; local with the default settings), otherwise the
 * first mydestination domain. With mydestination empty no domain is local:
 * $myorigin (or $myhostname if that is empty), whose mail goes where
 * default_transport sends it, as in Postfix. Never NULL. */
const char *policy_postmaster_domain(const char *myorigin, const char *myhostname,
                                     char *const *mydestination, size_t ndest);

#endif

/* policy — access decisions as pure functions: mynetworks and relay.
 * AUTH and restriction lists come later; they plug in here. */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

struct cidr {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct netlist {
    size_t n;
    struct cidr *v;
};

/* Parse "10.0.0.0/8", "127.0.0.1", "[::1]/128", "::1/128", "[2001:db8::]/32".
 * Host bits beyond the prefix are an error (as Postfix warns). 0 or -1. */
int policy_parse_cidr(const char *s, struct cidr *out, char *err, size_t errlen);

/* Parse a list of entries; on error names the bad entry in err. */
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

/* RCPT decision for this slice: clients in mynetworks may send anywhere;
 * others only to a domain in mydestination (case-insensitive; a trailing
 * dot on the recipient domain is ignored; "postmaster" without a domain is
 * always local). */
enum policy_verdict policy_check_rcpt(int client_in_mynetworks,
                                      const char *rcpt_domain,
                                      char *const *mydestination, size_t ndest);

#endif

/* dns — asynchronous DNS: c-ares driven by the libevent loop, below smtp/
 * (reverse lookups, DNSBL, later) and deliver/ (MX).
 *
 * dns_resolve_mx: MX records in preference order (equal preferences in
 * random order), each host resolved to its A/AAAA addresses; no MX record
 * → implicit MX: the domain itself (RFC 5321 5.1); a null MX ("." at
 * preference 0, RFC 7505) → DNS_NULLMX. dns_resolve_host: A/AAAA only (for
 * relayhost = [host]:port). Temporary failures (SERVFAIL, timeouts,
 * refused) are DNS_TEMPFAIL; NXDOMAIN or no address at all is
 * DNS_NOTFOUND. Callbacks always run from the event loop, never inside
 * the resolve call. */
#ifndef POSTERN_NET_DNS_H
#define POSTERN_NET_DNS_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dns;

enum dns_status { DNS_OK = 0, DNS_TEMPFAIL, DNS_NOTFOUND, DNS_NULLMX };

#define DNS_MAX_ADDRS 8

struct dns_host {
    char name[256];
    int pref;                       /* MX preference; 0 for A/AAAA */
    size_t naddr;
    struct sockaddr_storage addr[DNS_MAX_ADDRS];   /* port 0 */
};

struct dns_result {
    enum dns_status status;
    char error[256];                /* text for logs when status != OK */
    size_t nhosts;
    struct dns_host *hosts;         /* owned by the resolver; valid in cb */
};

typedef void (*dns_cb)(void *arg, const struct dns_result *res);

/* servers: "ip" or "ip:port" or "[v6]:port" entries, empty = resolv.conf */
struct dns *dns_new(struct event_base *base, char *const *servers, size_t nservers,
                    char *err, size_t errlen);
/* Pending callbacks run with DNS_TEMPFAIL ("resolver shut down"). */
void dns_free(struct dns *d);

void dns_resolve_mx(struct dns *d, const char *domain, dns_cb cb, void *arg);
void dns_resolve_host(struct dns *d, const char *host, dns_cb cb, void *arg);

/* Pure helper, exposed for tests: sort MX hosts by preference, shuffling
 * equal preferences with rnd(); detect a null MX. Returns DNS_NULLMX or
 * DNS_OK. */
struct dns_mx { char name[256]; int pref; };
enum dns_status dns_sort_mx(struct dns_mx *mx, size_t n, unsigned (*rnd)(void *), void *arg);

#endif

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
 * the resolve call.
 *
 * dns_query (dns_query.c): the records of one type as text, for the
 * command line's checks of what a domain publishes.
 *
 * dns_lookup_peer and dns_lookup_check (dns_check.c): what the SMTP
 * server's restrictions need to know about a client, as Postfix's smtpd
 * finds it out: the client's verified name, whether a name or domain
 * exists, whether an address or name is on a DNS list. They have a
 * deadline, and can be cancelled (a session that ends). */
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

/* ---- the SMTP server's checks (dns_check.c) ---- */

struct sockaddr;
struct dns_req;             /* a check under way: until its callback or dns_cancel */

/* Postfix's SMTPD_PEER_CODE_*: how a client name lookup ended. */
enum dns_peer { DNS_PEER_OK = 0, DNS_PEER_TEMP, DNS_PEER_PERM, DNS_PEER_FORGED };

struct dns_peer_result {
    enum dns_peer name_status;      /* forward-confirmed reverse DNS */
    enum dns_peer reverse_status;   /* the PTR lookup alone */
    char name[256];                 /* verified name, or "unknown" */
    char reverse_name[256];         /* the PTR name, or "unknown" */
    char warning[600];              /* for the log when not empty: "hostname
                                     * X does not resolve to address Y" */
};
typedef void (*dns_peer_cb)(void *arg, const struct dns_peer_result *res);

/* The client's name: PTR of its address (the hosts file first, as the
 * system resolver), then the name's addresses of the same family must
 * contain the address. timeout_ms > 0: the callback comes by then at the
 * latest (DNS_PEER_TEMP "timed out"). */
struct dns_req *dns_lookup_peer(struct dns *d, const struct sockaddr *sa,
                                long long timeout_ms, dns_peer_cb cb, void *arg);

enum dns_check_kind {
    DNS_CHECK_HOST,     /* HELO name: has A, AAAA or MX (reject_unknown_helo_hostname) */
    DNS_CHECK_DOMAIN,   /* address domain: MX (null MX → DNS_NULLMX), else A/AAAA */
    DNS_CHECK_DNSXL,    /* a DNS list query name: its A records (+ TXT when listed) */
};

struct dns_check_result {
    enum dns_status status;         /* OK: exists / listed */
    size_t naddr;                   /* DNSXL: the A records, network order */
    unsigned char addr[DNS_MAX_ADDRS][4];
    char txt[512];                  /* DNSXL: TXT records, " / " between them */
    char error[320];                /* why, for logs, when not OK */
};
typedef void (*dns_check_cb)(void *arg, const struct dns_check_result *res);

struct dns_req *dns_lookup_check(struct dns *d, enum dns_check_kind kind, const char *name,
                                 long long timeout_ms, dns_check_cb cb, void *arg);

/* The callback will not run; the lookup's memory goes when its queries end. */
void dns_cancel(struct dns_req *r);

/* ---- records as data (dns_query.c), for `postern dns check` ---- */

enum dns_qtype { DNS_Q_A, DNS_Q_AAAA, DNS_Q_MX, DNS_Q_TXT, DNS_Q_PTR };

#define DNS_ANSWER_MAX 64           /* records kept of one answer */

struct dns_answer {
    enum dns_status status;         /* OK (n > 0), NOTFOUND, TEMPFAIL */
    int nxdomain;                   /* NOTFOUND: the name does not exist at all */
    char error[320];                /* why, when not OK */
    size_t n;
    /* each record as text: A/AAAA the address, MX "PREF HOST", TXT its
     * strings joined (a NUL byte becomes '?'), PTR the name; host names
     * without the trailing dot */
    char *rr[DNS_ANSWER_MAX];
};
typedef void (*dns_answer_cb)(void *arg, const struct dns_answer *a);
struct dns_query;

/* Ask for the records of one type at name. The callback runs once, from
 * the event loop; a is valid only during it. timeout_ms > 0: by then at
 * the latest (TEMPFAIL "timed out"). */
struct dns_query *dns_query(struct dns *d, const char *name, enum dns_qtype type,
                            long long timeout_ms, dns_answer_cb cb, void *arg);
/* The callback will not run. */
void dns_query_cancel(struct dns_query *q);

/* Pure: the DNS-list query for an address: "2.0.0.127.zone" for
 * 127.0.0.2, 32 reversed nibbles for IPv6 ("...ip6.arpa" style); with
 * zone "in-addr.arpa" or "ip6.arpa" the PTR name. 0, or -1 when addr is
 * not an IP address or the name does not fit. */
int dns_reverse_name(const char *addr, const char *zone, char *out, size_t outlen);

/* Pure helper, exposed for tests: sort MX hosts by preference, shuffling
 * equal preferences with rnd(); detect a null MX. Returns DNS_NULLMX or
 * DNS_OK. */
struct dns_mx { char name[256]; int pref; };
enum dns_status dns_sort_mx(struct dns_mx *mx, size_t n, unsigned (*rnd)(void *), void *arg);

#endif

/* dns_int — what the files of the resolver module share (dns.c: the
 * channel, MX and host lookups; dns_check.c: the SMTP server's checks);
 * not a public interface. */
#ifndef POSTERN_NET_DNS_INT_H
#define POSTERN_NET_DNS_INT_H

#include <ares.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct dns_lookup;
struct dns_req;

struct dns_sock {
    struct dns_sock *next;
    ares_socket_t fd;
    short what;
    struct event *ev;
};

struct dns {
    struct event_base *base;
    ares_channel ch;
    struct event *timer;
    struct dns_sock *socks;
    struct dns_lookup *reqs;            /* dns.c's requests */
    struct dns_req *checks;             /* dns_check.c's requests */
    struct dns_query *queries;          /* dns_query.c's requests */
    int closing;
    uint64_t rng;
};

/* calloc or abort: no way to report, callbacks must not run inline. */
void *dns_xcalloc(size_t n, size_t size);
/* Follow ares_timeout() with the channel's timer (after queries start). */
void dns_timer_update(struct dns *d);
/* Temporary failures: anything but "this name/type does not exist". */
int dns_status_is_temp(int st);
/* dns_free, after the channel is gone: answer every check still owed
 * ("resolver shut down") and free them all. */
void dns_checks_shutdown(struct dns *d);
/* Likewise for dns_query.c's queries. */
void dns_queries_shutdown(struct dns *d);

#endif

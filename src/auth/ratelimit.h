/* ratelimit — failed AUTH attempts per client address, a pure decider the
 * session asks before it starts an exchange and tells after a failure.
 *
 * After `limit` failures within `window` seconds of the first one, a
 * client is refused until that window ends (the session answers with
 * RATELIMIT_REPLY, a temporary error: a forgotten password in an app must
 * not lock it out for good). IPv4 addresses count one by one, IPv6 ones by
 * /64 (one customer's network), IPv4-mapped IPv6 as IPv4. Anything that is
 * not an IP address (the local submission socket) is never limited.
 *
 * Memory is bounded: `slots` entries; when they are all in use, the oldest
 * window in the neighbourhood makes room. Time is passed in (monotonic
 * seconds), so tests and the session decide what "now" is. Not
 * thread-safe: the event loop owns it. */
#ifndef POSTERN_AUTH_RATELIMIT_H
#define POSTERN_AUTH_RATELIMIT_H

#include <stddef.h>

#define RATELIMIT_DEFAULT_LIMIT 10
#define RATELIMIT_DEFAULT_WINDOW 60
#define RATELIMIT_DEFAULT_SLOTS 4096
#define RATELIMIT_REPLY "454 4.7.0 Temporary authentication failure: too many failed " \
                        "attempts from your address, try again later"

struct ratelimit;

/* NULL when out of memory. slots is rounded up to a power of two. */
struct ratelimit *ratelimit_new(unsigned limit, unsigned window, size_t slots);
void ratelimit_free(struct ratelimit *r);

/* 0: client_addr may try; otherwise the seconds until it may. */
long long ratelimit_check(const struct ratelimit *r, const char *client_addr, long long now);

/* Count a failed attempt of client_addr. */
void ratelimit_fail(struct ratelimit *r, const char *client_addr, long long now);

#endif

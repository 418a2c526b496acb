/* anvil — event rates per client address and per account in fixed
 * windows, Postfix's anvil(8) as a pure table the session asks and tells.
 *
 * Each entry has one window, begun by its first event and shared by every
 * counter of the entry (anvil's "rate time unit"): when an event comes
 * window_ms or more after the start, all of the entry's counters restart
 * from that event. A client is refused when a count is over its limit, for
 * the rest of the window; nothing lengthens a window.
 *
 * Keys: a client address (IPv4 one by one, IPv6 by /64 -- one customer's
 * network --, IPv4-mapped IPv6 as IPv4; anything that is not an IP
 * address, such as the local submission socket, has no key and is never
 * limited), or an account name (AUTH login). Clients and accounts live in
 * separate tables, so that many clients cannot push an account's quota
 * out of memory.
 *
 * Memory is bounded: `slots` entries per table; when a key's neighbourhood
 * is full of live windows, the oldest one makes room. Time is passed in
 * (monotonic milliseconds), so tests and the session decide what "now"
 * is. Not thread-safe: the event loop owns it. */
#ifndef POSTERN_POLICY_ANVIL_H
#define POSTERN_POLICY_ANVIL_H

#include <stddef.h>

#define ANVIL_DEFAULT_SLOTS 4096
#define ANVIL_KEY_MAX 48            /* bytes kept of a key; longer ones are hashed */

enum anvil_event {
    ANVIL_CONNECT,      /* smtpd_client_connection_rate_limit */
    ANVIL_MAIL,         /* smtpd_client_message_rate_limit; accounts: messages queued */
    ANVIL_RCPT,         /* smtpd_client_recipient_rate_limit */
    ANVIL_AUTH,         /* smtpd_client_auth_rate_limit: failed AUTH */
    ANVIL_NEWTLS,       /* smtpd_client_new_tls_session_rate_limit */
    ANVIL_EVENTS
};

struct anvil_key {
    unsigned char b[ANVIL_KEY_MAX];
    size_t len;
    int account;        /* which table */
};

struct anvil;

/* NULL when out of memory. slots (per table) is rounded up to a power of
 * two. */
struct anvil *anvil_new(size_t slots);
void anvil_free(struct anvil *a);

/* The key of a client address; 0 (no key: never limited) when addr is no
 * IP address. */
int anvil_key_client(const char *addr, struct anvil_key *k);
/* The key of an account name (any length). */
void anvil_key_account(const struct anvil *a, const char *name, struct anvil_key *k);

/* Count one event of k now; returns the count in the current window, this
 * event included (saturating). *left_ms (may be NULL): milliseconds until
 * the window ends. window_ms <= 0 counts as 1. */
unsigned long anvil_count(struct anvil *a, const struct anvil_key *k, enum anvil_event ev,
                          long long window_ms, long long now_ms, long long *left_ms);

/* The count of ev in k's current window, without counting; 0 when k has
 * no live window. *left_ms as above (0 when no window). */
unsigned long anvil_peek(const struct anvil *a, const struct anvil_key *k,
                         enum anvil_event ev, long long window_ms, long long now_ms,
                         long long *left_ms);

/* The window arithmetic: is the window begun at start still open at now?
 * (A clock that went backwards closes it.) Pure. */
int anvil_window_open(long long start, long long window_ms, long long now);

#endif

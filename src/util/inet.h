/* inet — IPv4/IPv6 addresses and network prefixes as text, parsed into
 * bytes and compared. Pure; no name lookups. */
#ifndef POSTERN_UTIL_INET_H
#define POSTERN_UTIL_INET_H

#include <stddef.h>

struct inet_prefix {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];     /* network byte order; 4 bytes for AF_INET */
    int prefix;                 /* 0..32 or 0..128 */
};

/* Parse "10.0.0.0/8", "127.0.0.1", "[::1]/128", "::1/128",
 * "[2001:db8::]/32". An address without "/n" is a host (/32 or /128).
 * Host bits beyond the prefix are an error that names the network meant
 * ("use 10.0.0.0/8"), as Postfix warns. 0, or -1 with err. */
int inet_prefix_parse(const char *s, struct inet_prefix *out, char *err, size_t errlen);

/* Parse one address, optionally in brackets ("[::1]"). An IPv4-mapped IPv6
 * address ("::ffff:192.0.2.1") is returned as IPv4, so that it matches
 * IPv4 networks. 0, or -1 when s is no address. */
int inet_addr_parse(const char *s, int *family, unsigned char addr[16]);

/* Is the address (family, bytes as from inet_addr_parse) inside p? */
int inet_prefix_match(const struct inet_prefix *p, int family, const unsigned char *addr);

/* A non-blocking, close-on-exec TCP socket listening on host ("*": every
 * address; numeric_host: an IP address only) and port with SO_REUSEADDR
 * (and IPV6_V6ONLY for IPv6). The descriptor; -2 when host does not
 * resolve, -1 when the socket cannot be made or bound, with why. */
int inet_listen_tcp(const char *host, int port, int numeric_host, int backlog, char *why,
                    size_t whylen);

#endif

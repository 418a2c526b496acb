/* inet — address and prefix parsing and matching. See inet.h. */
#include "inet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Copy the address part of s (len bytes) without surrounding brackets into
 * host; -1 when it does not fit or is empty. */
static int strip_brackets(const char *s, size_t len, char *host, size_t hostlen)
{
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= hostlen)
        return -1;
    memcpy(host, s, len);
    host[len] = '\0';
    return 0;
}

static int parse_host(const char *host, int *family, unsigned char addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, host, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int inet_addr_parse(const char *s, int *family, unsigned char addr[16])
{
    char host[64];
    if (!s || strip_brackets(s, strlen(s), host, sizeof host) < 0 ||
        parse_host(host, family, addr) < 0)
        return -1;
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (*family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
    }
    return 0;
}

int inet_prefix_parse(const char *s, struct inet_prefix *out, char *err, size_t errlen)
{
    char host[64];
    const char *slash = strrchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    memset(out, 0, sizeof *out);
    if (strip_brackets(s, hl, host, sizeof host) < 0) {
        snprintf(err, errlen, "\"%.80s\": not an IP address or network", s);
        return -1;
    }
    if (parse_host(host, &out->family, out->addr) < 0) {
        snprintf(err, errlen, "\"%s\": not an IP address or network", host);
        return -1;
    }
    int maxbits = out->family == AF_INET ? 32 : 128;
    out->prefix = maxbits;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || p < 0 || p > maxbits) {
            snprintf(err, errlen, "\"%.80s\": bad prefix length (0..%d)", slash + 1,
                     maxbits);
            return -1;
        }
        out->prefix = (int)p;
    }
    unsigned char net[16];
    memcpy(net, out->addr, sizeof net);
    int dirty = 0;
    for (int b = out->prefix; b < maxbits; b++) {
        if (net[b / 8] & (0x80 >> (b % 8))) {
            net[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
            dirty = 1;
        }
    }
    if (dirty) {
        char fixed[INET6_ADDRSTRLEN];
        inet_ntop(out->family, net, fixed, sizeof fixed);
        snprintf(err, errlen, "\"%s/%d\": address has bits set beyond the prefix "
                 "length; use %s/%d", host, out->prefix, fixed, out->prefix);
        return -1;
    }
    return 0;
}

int inet_prefix_match(const struct inet_prefix *p, int family, const unsigned char *addr)
{
    if (p->family != family)
        return 0;
    int bytes = p->prefix / 8, rest = p->prefix % 8;
    if (memcmp(addr, p->addr, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[bytes] & mask) == (p->addr[bytes] & mask);
}

int inet_listen_tcp(const char *host, int port, int numeric_host, int backlog, char *why,
                    size_t whylen)
{
    struct addrinfo hints, *res = NULL;
    char ports[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric_host ? AI_NUMERICHOST : 0);
    snprintf(ports, sizeof ports, "%d", port);
    int rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, ports, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "%s", gai_strerror(rc));
        return -2;
    }
    int one = 1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    /* IPV6_V6ONLY: "[::]:25" and "0.0.0.0:25" can be two listeners */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

#include "policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int policy_parse_cidr(const char *s, struct cidr *out, char *err, size_t errlen)
{
    char host[64];
    const char *slash = strrchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    memset(out, 0, sizeof *out);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host) {
        snprintf(err, errlen, "\"%s\": not an IP address or network", s);
        return -1;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    int maxbits;
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        maxbits = 128;
    } else {
        snprintf(err, errlen, "\"%s\": not an IP address or network", host);
        return -1;
    }
    out->prefix = maxbits;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end || p < 0 || p > maxbits) {
            snprintf(err, errlen, "\"%s\": bad prefix length (0..%d)", slash + 1,
                     maxbits);
            return -1;
        }
        out->prefix = (int)p;
    }
    for (int b = out->prefix; b < maxbits; b++) {
        if (out->addr[b / 8] & (0x80 >> (b % 8))) {
            snprintf(err, errlen,
                     "\"%s/%d\": address has bits set beyond the prefix length",
                     host, out->prefix);
            return -1;
        }
    }
    return 0;
}

int policy_netlist_parse(struct netlist *nl, char *const *items, size_t n,
                         char *err, size_t errlen)
{
    nl->n = 0;
    nl->v = n ? calloc(n, sizeof *nl->v) : NULL;
    if (n && !nl->v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (policy_parse_cidr(items[i], &nl->v[nl->n], err, errlen) < 0) {
            policy_netlist_free(nl);
            return -1;
        }
        nl->n++;
    }
    return 0;
}

void policy_netlist_free(struct netlist *nl)
{
    free(nl->v);
    nl->v = NULL;
    nl->n = 0;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

int policy_netlist_match(const struct netlist *nl, const struct sockaddr *sa)
{
    unsigned char a[16];
    int family;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(a, a6->s6_addr + 12, 4);
            family = AF_INET;
        } else {
            memcpy(a, a6->s6_addr, 16);
            family = AF_INET6;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < nl->n; i++)
        if (nl->v[i].family == family &&
            prefix_equal(a, nl->v[i].addr, nl->v[i].prefix))
            return 1;
    return 0;
}

long policy_netlist_open_relay(const struct netlist *nl)
{
    for (size_t i = 0; i < nl->n; i++) {
        int minimum = nl->v[i].family == AF_INET ? 8 : 16;
        if (nl->v[i].prefix < minimum)
            return (long)i;
    }
    return -1;
}

/* Is domain (trailing dot ignored) one of list, ignoring case? */
static int domain_listed(const char *domain, char *const *list, size_t n)
{
    size_t dl = strlen(domain);
    if (dl > 1 && domain[dl - 1] == '.')
        dl--;
    for (size_t i = 0; i < n; i++) {
        if (strlen(list[i]) == dl && strncasecmp(list[i], domain, dl) == 0)
            return 1;
    }
    return 0;
}

int policy_local_is_routed(const char *local)
{
    return local && strpbrk(local, "%!@") != NULL;
}

enum policy_verdict policy_check_rcpt(const struct policy_rcpt *r)
{
    if (r->client_trusted)
        return POLICY_PERMIT;
    if (!r->domain || !*r->domain)
        return POLICY_PERMIT;           /* bare "postmaster" */
    if (!domain_listed(r->domain, r->mydestination, r->ndest))
        return POLICY_REJECT_RELAY;
    if (!r->allow_untrusted_routing && policy_local_is_routed(r->local))
        return POLICY_REJECT_RELAY;
    return POLICY_PERMIT;
}

const char *policy_postmaster_domain(const char *myorigin, const char *myhostname,
                                     char *const *mydestination, size_t ndest)
{
    if (*myorigin && domain_listed(myorigin, mydestination, ndest))
        return myorigin;
    if (ndest > 0)
        return mydestination[0];
    return *myorigin ? myorigin : myhostname;
}

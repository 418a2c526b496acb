/* policy — mynetworks, relay and routing decisions. See policy.h. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
        if (inet_prefix_parse(items[i], &nl->v[nl->n], err, errlen) < 0) {
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

int policy_netlist_match(const struct netlist *nl, const struct sockaddr *sa)
{
    unsigned char a[16] = { 0 };
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
        if (inet_prefix_match(&nl->v[i], family, a))
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

int policy_domain_listed(const char *domain, char *const *list, size_t n)
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

int policy_domain_covered(const char *domain, char *const *list, size_t n)
{
    size_t dl = strlen(domain);
    if (dl > 1 && domain[dl - 1] == '.')
        dl--;
    for (size_t i = 0; i < n; i++) {
        const char *e = list[i];
        size_t el = strlen(e);
        int sub_only = el > 0 && e[0] == '.';
        if (!sub_only && el == dl && strncasecmp(e, domain, dl) == 0)
            return 1;
        /* a subdomain: "<label>." + entry (the entry's own dot for ".x") */
        size_t need = sub_only ? el : el + 1;
        if (el > 0 && dl > need && strncasecmp(domain + dl - el, e, el) == 0 &&
            (sub_only || domain[dl - el - 1] == '.'))
            return 1;
    }
    return 0;
}

int policy_local_is_routed(const char *local)
{
    return local && strpbrk(local, "%!@") != NULL;
}

int policy_rcpt_authorized(const struct policy_rcpt *r)
{
    if (!r->domain || !*r->domain)
        return 1;                       /* bare "postmaster" */
    if (!r->allow_untrusted_routing && policy_local_is_routed(r->local))
        return 0;
    return policy_domain_listed(r->domain, r->mydestination, r->ndest) ||
           policy_domain_covered(r->domain, r->relay_domains, r->nrelay);
}

enum policy_verdict policy_check_rcpt(const struct policy_rcpt *r)
{
    if (r->client_trusted || policy_rcpt_authorized(r))
        return POLICY_PERMIT;
    return POLICY_REJECT_RELAY;
}

const char *policy_postmaster_domain(const char *myorigin, const char *myhostname,
                                     char *const *mydestination, size_t ndest)
{
    if (*myorigin && policy_domain_listed(myorigin, mydestination, ndest))
        return myorigin;
    if (ndest > 0)
        return mydestination[0];
    return *myorigin ? myorigin : myhostname;
}

/* restrict_dns — the restrictions that read DNS, with Postfix's semantics
 * and replies (smtpd_check.c): reject_unknown_client_hostname, _reverse_,
 * _helo_hostname, _sender_domain, _recipient_domain, reject_rbl_client,
 * permit_dnswl_client and the RHSBL/RHSWL family.
 *
 * Pure: the answers come from the snapshot (dns_fact); a missing one
 * makes the evaluation stop with R_NEED and res->need naming the lookup.
 * A temporary DNS failure never gives a 5xx: the unknown_* checks defer
 * (unknown_*_tempfail_action), DNS blocklists are skipped with a warning,
 * DNS allowlists turn a later reject into a 450 (defer_if_reject). */
#include "restrict_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../net/dns.h"

#define RN_REV_CLIENT "Unverified Client host"

/* ---- DNS list filters ------------------------------------------------------ */

/* One octet pattern: "n", or "[a;b..c;...]". *pp advances past it. 1 when
 * byte matches (match NULL: only parse), 0 when not, -1 when malformed. */
static int octet_match(const char **pp, int byte)
{
    const char *p = *pp;
    char *end;
    if (*p != '[') {
        if (!isdigit((unsigned char)*p))
            return -1;
        long v = strtol(p, &end, 10);
        if (v > 255 || end - p > 3)
            return -1;
        *pp = end;
        return v == byte;
    }
    int hit = 0;
    p++;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return -1;
        long lo = strtol(p, &end, 10), hi = lo;
        if (lo > 255 || end - p > 3)
            return -1;
        p = end;
        if (p[0] == '.' && p[1] == '.') {
            p += 2;
            if (!isdigit((unsigned char)*p))
                return -1;
            hi = strtol(p, &end, 10);
            if (hi > 255 || hi < lo || end - p > 3)
                return -1;
            p = end;
        }
        if (byte >= lo && byte <= hi)
            hit = 1;
        if (*p == ';') {
            p++;
            continue;
        }
        if (*p != ']')
            return -1;
        *pp = p + 1;
        return hit;
    }
}

static int filter_match(const char *filter, const unsigned char *addr)
{
    const char *p = filter;
    int all = 1;
    for (int i = 0; i < 4; i++) {
        int m = octet_match(&p, addr ? addr[i] : 0);
        if (m < 0)
            return -1;
        all &= m;
        if (i < 3 && *p++ != '.')
            return -1;
    }
    return *p ? -1 : all;
}

int rdnsxl_match(const char *filter, const unsigned char *addr)
{
    return !filter || !*filter || filter_match(filter, addr) == 1;
}

int rdnsxl_arg_ok(const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t zl = eq ? (size_t)(eq - arg) : strlen(arg);
    if (zl == 0 || zl > 200)
        return -1;
    for (size_t i = 0; i < zl; i++)
        if (!isalnum((unsigned char)arg[i]) && arg[i] != '-' && arg[i] != '.' &&
            arg[i] != '_')
            return -1;
    return eq && filter_match(eq + 1, NULL) < 0 ? -1 : 0;
}

/* ---- helpers ----------------------------------------------------------------- */

/* The answer for (kind, name), or NULL after asking for it (R_NEED). */
static const struct dns_check_result *fact(struct reval *e, enum dns_check_kind kind,
                                           const char *name)
{
    const struct dns_check_result *r =
        e->s->dns_fact ? e->s->dns_fact(e->s->dns_arg, kind, name) : NULL;
    if (!r) {
        e->res->need_kind = kind;
        snprintf(e->res->need, sizeof e->res->need, "%s", name);
    }
    return r;
}

static void drop_dot(const char *in, char *out, size_t len)
{
    size_t n = strlen(in);
    if (n > 1 && in[n - 1] == '.' && in[n - 2] != '.')
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

/* ---- unknown names ------------------------------------------------------------ */

static int reject_unknown_client(struct reval *e)
{
    const struct restrict_snapshot *s = e->s;
    if (s->client_name_status == DNS_PEER_OK)
        return R_DUNNO;
    return reval_reject(e, s->client_name_status >= DNS_PEER_PERM ? e->rc->unk_client_code
                                                                  : 450,
                        "4.7.25", "Client host rejected: cannot find your hostname, [%s]",
                        s->client_addr ? s->client_addr : "");
}

static int reject_unknown_reverse(struct reval *e)
{
    const struct restrict_snapshot *s = e->s;
    if (s->reverse_name_status == DNS_PEER_OK)
        return R_DUNNO;
    return reval_reject(e, s->reverse_name_status == DNS_PEER_PERM ? e->rc->unk_client_code
                                                                    : 450,
                        "4.7.25", "Client host rejected: cannot find your reverse "
                        "hostname, [%s]", s->client_addr ? s->client_addr : "");
}

/* Postfix's reject_unknown_hostname: the HELO name has no A, AAAA or MX. */
static int reject_unknown_helo(struct reval *e)
{
    const char *helo = e->s->helo;
    if (!helo)
        return R_DUNNO;
    if (helo[0] == '[')
        return rreject_invalid_hostaddr(e, helo, RN_HELO);     /* as Postfix */
    char name[256];
    drop_dot(helo, name, sizeof name);
    const struct dns_check_result *r = fact(e, DNS_CHECK_HOST, name);
    if (!r)
        return R_NEED;
    if (r->status == DNS_OK)
        return R_DUNNO;
    if (r->status == DNS_TEMPFAIL) {
        if (e->rc->unk_name_defer)
            return reval_reject(e, 450, "4.7.1", "<%s>: %s rejected: Host not found", helo,
                                RN_HELO);
        return reval_defer_if_permit(e, 450, "4.7.1", "<%s>: %s rejected: Host not found",
                                     helo, RN_HELO);
    }
    return reval_reject(e, e->rc->unk_name_code, "4.7.1", "<%s>: %s rejected: Host not "
                        "found", helo, RN_HELO);
}

/* Postfix's reject_unknown_address: the domain has no MX, A or AAAA (its
 * own domains and address literals are not looked up). */
static int reject_unknown_address(struct reval *e, const char *addr, const char *class)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    if (!at || !at[1] || at[1] == '[')
        return R_DUNNO;
    if (rdomain_local(e->rc, at + 1))
        return R_DUNNO;
    int sender = strcmp(class, RN_SENDER) == 0;
    char domain[256];
    drop_dot(at + 1, domain, sizeof domain);
    const struct dns_check_result *r = fact(e, DNS_CHECK_DOMAIN, domain);
    if (!r)
        return R_NEED;
    switch (r->status) {
    case DNS_OK:
        return R_DUNNO;
    case DNS_NULLMX:
        return reval_reject(e, sender ? 550 : 556, sender ? "5.7.27" : "5.1.10",
                            "<%s>: %s rejected: Domain %s does not accept mail (nullMX)",
                            addr, class, domain);
    case DNS_TEMPFAIL:
        if (e->rc->unk_addr_defer)
            return reval_reject(e, 450, sender ? "4.1.8" : "4.1.2", "<%s>: %s rejected: "
                                "Domain not found", addr, class);
        return reval_defer_if_permit(e, 450, sender ? "4.1.8" : "4.1.2", "<%s>: %s "
                                     "rejected: Domain not found", addr, class);
    default:
        return reval_reject(e, e->rc->unk_addr_code, sender ? "4.1.8" : "4.1.2",
                            "<%s>: %s rejected: Domain not found", addr, class);
    }
}

/* ---- DNS lists ---------------------------------------------------------------- */

/* The list's answer for query, filtered: 1 listed (*rp set), 0 not,
 * -1 temporary failure, R_NEED asked. */
static int dnsxl_lookup(struct reval *e, const char *query, const char *filter,
                        const struct dns_check_result **rp)
{
    const struct dns_check_result *r = fact(e, DNS_CHECK_DNSXL, query);
    if (!r)
        return R_NEED;
    *rp = r;
    if (r->status == DNS_TEMPFAIL)
        return -1;
    if (r->status != DNS_OK)
        return 0;
    for (size_t i = 0; i < r->naddr; i++)
        if (rdnsxl_match(filter, r->addr[i]))
            return 1;
    return 0;
}

/* Postfix's default_rbl_reply: "$rbl_code Service unavailable; $rbl_class
 * [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}". */
static int rbl_reject(struct reval *e, const char *zone, const char *what, const char *class,
                      const struct dns_check_result *r)
{
    return reval_reject(e, e->rc->rbl_code, "5.7.1", "Service unavailable; %s [%s] blocked "
                        "using %s%s%s", class, what, zone, r->txt[0] ? "; " : "", r->txt);
}

/* The query name for what (an address, or a domain for the RHS lists):
 * 0, or -1 when it is not looked up (Postfix skips invalid names and
 * names that end in a numeric label). */
static int dnsxl_query(const char *what, int rhs, const char *zone, char *q, size_t qlen)
{
    if (!rhs)
        return dns_reverse_name(what, zone, q, qlen);
    const char *at = strrchr(what, '@');
    const char *domain = at ? at + 1 : what;
    char d[256];
    drop_dot(domain, d, sizeof d);
    if (!d[0] || d[0] == '[' || !rvalid_hostname(d, 0))
        return -1;
    const char *dot = strrchr(d, '.');
    const char *last = dot ? dot + 1 : d;
    if (strspn(last, "0123456789") == strlen(last))
        return -1;
    int n = snprintf(q, qlen, "%s.%s", d, zone);
    return n < 0 || (size_t)n >= qlen || strlen(q) > 253 ? -1 : 0;
}

static int dnsxl(struct reval *e, const struct ritem *it, const char *what, int rhs,
                 int allow, const char *class)
{
    if (!what || !*what)
        return R_DUNNO;
    /* Postfix's safety: an allowlist never opens relaying */
    if (allow && e->s->recipient && rpermit_auth_destination(e, e->s->recipient) != R_OK)
        return R_DUNNO;
    char zone[256], query[300];
    snprintf(zone, sizeof zone, "%s", it->arg);
    char *eq = strchr(zone, '=');
    const char *filter = NULL;
    if (eq) {
        *eq = '\0';
        filter = eq + 1;
    }
    if (dnsxl_query(what, rhs, zone, query, sizeof query) < 0)
        return R_DUNNO;
    const struct dns_check_result *r = NULL;
    int st = dnsxl_lookup(e, query, filter, &r);
    if (st == R_NEED)
        return R_NEED;
    if (st < 0) {
        if (allow)
            return reval_defer_if_reject(e, 450, "4.7.1", "<%s>: %s rejected: Service "
                                         "unavailable", what, class);
        reval_warn(e, "%s: RBL lookup error: %s", query, r->error);
        return R_DUNNO;
    }
    if (!st)
        return R_DUNNO;
    return allow ? R_OK : rbl_reject(e, zone, what, class, r);
}

/* ---- dispatch ----------------------------------------------------------------- */

static const char *known_name(const char *name)
{
    return name && *name && strcasecmp(name, "unknown") != 0 ? name : NULL;
}

int rdns_eval(struct reval *e, const struct ritem *it, const char *reply_class)
{
    const struct restrict_snapshot *s = e->s;
    (void)reply_class;
    switch (it->kind) {
    case K_REJECT_UNKNOWN_CLIENT:
        return reject_unknown_client(e);
    case K_REJECT_UNKNOWN_REVERSE:
        return reject_unknown_reverse(e);
    case K_REJECT_UNKNOWN_HELO:
        return reject_unknown_helo(e);
    case K_REJECT_UNKNOWN_SENDER_DOMAIN:
        return s->sender && *s->sender ? reject_unknown_address(e, s->sender, RN_SENDER)
                                       : R_DUNNO;
    case K_REJECT_UNKNOWN_RCPT_DOMAIN:
        return s->recipient ? reject_unknown_address(e, s->recipient, RN_RECIPIENT) : R_DUNNO;
    case K_REJECT_RBL_CLIENT:
        return dnsxl(e, it, s->client_addr, 0, 0, RN_CLIENT);
    case K_PERMIT_DNSWL_CLIENT:
        return dnsxl(e, it, s->client_addr, 0, 1, RN_CLIENT);
    case K_REJECT_RHSBL_CLIENT:
        return dnsxl(e, it, known_name(s->client_name), 1, 0, RN_CLIENT);
    case K_PERMIT_RHSWL_CLIENT:
        return dnsxl(e, it, known_name(s->client_name), 1, 1, RN_CLIENT);
    case K_REJECT_RHSBL_REVERSE:
        return dnsxl(e, it, known_name(s->reverse_name ? s->reverse_name : s->client_name),
                     1, 0, RN_REV_CLIENT);
    case K_REJECT_RHSBL_HELO:
        return dnsxl(e, it, s->helo, 1, 0, RN_HELO);
    case K_REJECT_RHSBL_SENDER:
        return dnsxl(e, it, s->sender, 1, 0, RN_SENDER);
    case K_REJECT_RHSBL_RCPT:
        return dnsxl(e, it, s->recipient, 1, 0, RN_RECIPIENT);
    default:
        return R_DUNNO;
    }
}

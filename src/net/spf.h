/* spf — SPF (RFC 7208) check_host() for one address and domain, as a pure
 * evaluator: every DNS answer comes from the caller's lookup function, so
 * the same code runs on canned answers in the unit tests and on c-ares
 * answers in `postern dns check` (which waits for each one; the daemon
 * does not evaluate SPF).
 *
 * The subset a sending domain needs checked: "v=spf1" records (exactly one
 * per name), the mechanisms all, ip4, ip6 (with CIDR), a and mx (with
 * :domain and /cidr4//cidr6), include, exists and ptr (counted, never
 * matching: deprecated, RFC 7208 5.5), the modifiers redirect= and exp=
 * (the latter ignored), qualifiers + - ~ ?, macros in domain-specs, the
 * limits of 4.6.4 (10 terms that query DNS, 10 MX hosts per mx, 2 void
 * lookups): exceeding one is a permerror, which is also how an include
 * loop ends. */
#ifndef POSTERN_NET_SPF_H
#define POSTERN_NET_SPF_H

#include <stddef.h>

enum spf_result {
    SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR, SPF_PERMERROR
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" */
const char *spf_result_name(enum spf_result r);

enum spf_rrtype { SPF_RR_TXT, SPF_RR_A, SPF_RR_AAAA, SPF_RR_MX };

enum spf_dns { SPF_DNS_OK, SPF_DNS_NOTFOUND, SPF_DNS_TEMP };

/* The answer to one query. NOTFOUND: NXDOMAIN or no record of the type
 * (a "void lookup"). rr: TXT: each record's strings joined; A/AAAA: the
 * address as text; MX: the host name (preferences do not matter here). */
struct spf_answer {
    enum spf_dns status;
    size_t n;
    const char *const *rr;
};

/* Return the answer for (name, type); it must stay valid until
 * spf_check_host returns. NULL counts as a temporary failure. */
typedef const struct spf_answer *(*spf_lookup_fn)(void *arg, const char *name,
                                                  enum spf_rrtype type);

struct spf_eval {
    enum spf_result result;
    char reason[512];           /* what decided it, for the operator */
    char record[1024];          /* the domain's own SPF record ("" when none) */
    unsigned lookups;           /* terms that queried DNS (the limit is 10) */
    unsigned voids;             /* void lookups (the limit is 2) */
};

#define SPF_MAX_LOOKUPS 10
#define SPF_MAX_VOIDS 2
#define SPF_MAX_MX 10

/* check_host(ip, domain, sender) of RFC 7208 4: ip is an IPv4 or IPv6
 * address as text; sender the envelope sender (for macros; NULL:
 * postmaster@domain). Fills out; returns out->result. */
enum spf_result spf_check_host(const char *ip, const char *domain, const char *sender,
                               spf_lookup_fn lookup, void *arg, struct spf_eval *out);

/* Does the SPF record text name include:domain (any qualifier, case
 * insensitive)? For a relay provider's include, which cannot be checked
 * by address. */
int spf_record_includes(const char *record, const char *domain);

/* Is txt an SPF record ("v=spf1" alone or followed by a space)? */
int spf_is_record(const char *txt);

#endif

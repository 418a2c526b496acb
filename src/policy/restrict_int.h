/* restrict_int — shared by the files of the restriction module (parsing,
 * evaluation, access tables); not a public interface. */
#ifndef POSTERN_POLICY_RESTRICT_INT_H
#define POSTERN_POLICY_RESTRICT_INT_H

#include <stddef.h>

#include "restrict.h"

/* The restrictions postern evaluates. */
enum rkind {
    K_PERMIT, K_REJECT, K_DEFER,
    K_PERMIT_MYNETWORKS, K_PERMIT_SASL, K_REJECT_PLAINTEXT,
    K_CHECK_CLIENT, K_CHECK_HELO, K_CHECK_SENDER, K_CHECK_RCPT,
    K_REJECT_INVALID_HELO, K_REJECT_NON_FQDN_HELO,
    K_REJECT_NON_FQDN_SENDER, K_REJECT_UNLISTED_SENDER,
    K_REJECT_AUTH_LOGIN, K_REJECT_UNAUTH_LOGIN, K_REJECT_KNOWN_LOGIN,
    K_REJECT_LOGIN,         /* reject_sender_login_mismatch: AUTH then UNAUTH */
    K_PERMIT_AUTH_DEST, K_REJECT_UNAUTH_DEST, K_DEFER_UNAUTH_DEST,
    K_REJECT_NON_FQDN_RCPT, K_REJECT_UNLISTED_RCPT,
    /* DNS (restrict_dns.c) */
    K_REJECT_UNKNOWN_CLIENT, K_REJECT_UNKNOWN_REVERSE, K_REJECT_UNKNOWN_HELO,
    K_REJECT_UNKNOWN_SENDER_DOMAIN, K_REJECT_UNKNOWN_RCPT_DOMAIN,
    K_REJECT_RBL_CLIENT, K_PERMIT_DNSWL_CLIENT,
    K_REJECT_RHSBL_CLIENT, K_REJECT_RHSBL_REVERSE, K_REJECT_RHSBL_HELO,
    K_REJECT_RHSBL_SENDER, K_REJECT_RHSBL_RCPT, K_PERMIT_RHSWL_CLIENT,
    K_NONE                  /* not a restriction postern evaluates */
};

/* How a name is known. */
enum rclass {
    RC_OK,                  /* implemented */
    RC_DNS,                 /* a DNS restriction postern does not have yet */
    RC_UNSUPPORTED,         /* a Postfix restriction postern does not have */
};

/* Arguments a name takes in the list. */
enum rarg { RA_NONE, RA_TABLE, RA_WORD };

struct rname {
    const char *name;
    enum rkind kind;
    enum rclass cls;
    enum rarg arg;
};

/* The entry for name (case-insensitive, as Postfix), or NULL. */
const struct rname *restrict_name_find(const char *name);

struct ritem {
    enum rkind kind;
    const struct map *map;  /* K_CHECK_*: owned by the conf */
    char *arg;              /* RA_WORD: the DNS list "zone[=filter]", owned */
};

struct rlist {
    struct ritem *v;
    size_t n;
};

struct restrict_conf {
    struct rlist list[RESTRICT_NLISTS];
    struct map **maps;      /* every table, each spec opened once */
    size_t nmaps;
    const struct map *login_maps, *local_rcpt_maps, *relay_rcpt_maps;
    char **mydest;
    size_t nmydest;
    char **relay_domains;
    size_t nrelay;
    int allow_untrusted_routing, helo_required, strict_rfc821;
    int reject_unlisted_sender, reject_unlisted_recipient, sender_header_check;
    int unk_client_code, unk_name_code, unk_addr_code, rbl_code;
    int unk_addr_defer, unk_name_defer;     /* tempfail action "defer": at once */
};

/* Check results, as Postfix's SMTPD_CHECK_*. */
enum { R_DUNNO = 0, R_OK = 1, R_REJECT = 2,
       R_NEED = 3 };        /* a DNS answer is missing: res->need says which */

/* One evaluation: what is being decided, and the answer so far. */
struct reval {
    const struct restrict_conf *rc;
    const struct restrict_snapshot *s;
    struct restrict_result *res;
    char namaddr[300];      /* "name[addr]", Postfix's client reply name */
    int sender_checked;     /* reject_unlisted_sender already ran */
    int recipient_checked;  /* reject_unlisted_recipient already ran */
    /* Postfix's defer_if_permit and defer_if_reject: a temporary DNS
     * failure that turns the final permit (or a later 5xx) into this 4xx */
    int dip_code, dir_code;
    char dip[RESTRICT_REPLY_MAX], dir[RESTRICT_REPLY_MAX];
};

/* Evaluate list v (n items), Postfix's generic_checks: the first item
 * that decides (R_OK or R_REJECT) ends the list. reply_name and
 * reply_class name what is checked in permit/reject/defer replies
 * ("<name>: Class rejected: ..."). */
int reval_list(struct reval *e, const struct ritem *v, size_t n, const char *reply_name,
               const char *reply_class);

/* Fill e->res with a rejection: "code dsn text" (text from fmt), with
 * Postfix's safety net: a code outside 400..599 becomes "450 4.7.1
 * Service unavailable", the DSN class follows the code, control bytes
 * become spaces, the line is cut at 510 bytes. Returns R_REJECT. */
int reval_reject(struct reval *e, int code, const char *dsn, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Postfix's DEFER_IF_PERMIT / DEFER_IF_REJECT: remember the first reply
 * ("code dsn text") for the end of the check. Return R_DUNNO. */
int reval_defer_if_permit(struct reval *e, int code, const char *dsn, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
int reval_defer_if_reject(struct reval *e, int code, const char *dsn, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The DNS restrictions (restrict_dns.c): item it in the list whose reply
 * names are reply_name / reply_class. */
int rdns_eval(struct reval *e, const struct ritem *it, const char *reply_class);

/* A DNS list argument "zone" or "zone=filter": 0 when valid. The filter
 * is Postfix's: an IPv4 address whose octets may be [n..m] or [a;b]
 * lists, e.g. 127.0.0.2 or 127.0.[0..255].[2;4]. */
int rdnsxl_arg_ok(const char *arg);
/* Does the answer addr (4 bytes) match filter (NULL or "": any)? */
int rdnsxl_match(const char *filter, const unsigned char *addr);

/* Record a configuration problem for the caller's log (the first wins). */
void reval_warn(struct reval *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Postfix's reply classes. */
#define RN_CLIENT    "Client host"
#define RN_HELO      "Helo command"
#define RN_SENDER    "Sender address"
#define RN_RECIPIENT "Recipient address"
#define RN_DATA      "Data command"

/* Access tables (restrict_access.c): check_client_access, _helo_,
 * _sender_, _recipient_, with Postfix's lookup keys and table results. */
int raccess_client(struct reval *e, const struct map *m);
int raccess_helo(struct reval *e, const struct map *m);
int raccess_sender(struct reval *e, const struct map *m);
int raccess_recipient(struct reval *e, const struct map *m);

/* Postfix's mail_addr_find: the table's value for addr ("user@domain"),
 * trying for keyed tables "user@domain", then "user" when the domain is
 * local (mydestination), then "@domain"; pattern tables see addr once.
 * malloc'd, or NULL. */
char *raddr_find(const struct restrict_conf *rc, const struct map *m, const char *addr);

/* Is domain (trailing dot ignored, case ignored) in mydestination? */
int rdomain_local(const struct restrict_conf *rc, const char *domain);
/* ... or in relay_domains (a name there covers its subdomains)? */
int rdomain_relay(const struct restrict_conf *rc, const char *domain);

/* Postfix's permit_auth_destination: R_OK when rcpt is in a domain this
 * server receives or relays for. */
int rpermit_auth_destination(struct reval *e, const char *rcpt);

/* Postfix's reject_invalid_hostaddr: addr ("[192.0.2.1]", "[IPv6:...]")
 * must be a valid address literal. */
int rreject_invalid_hostaddr(struct reval *e, const char *addr, const char *class);

/* Postfix's valid_hostname and valid_hostaddr (DONT_GRIPE). utf8: accept
 * non-ASCII labels (SMTPUTF8 transactions). */
int rvalid_hostname(const char *name, int utf8);
int rvalid_hostaddr(const char *addr);

#endif

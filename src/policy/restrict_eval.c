/* restrict_eval — evaluating the loaded lists at each SMTP stage, with
 * Postfix's semantics and reply texts (smtpd_check.c). See restrict.h. */
#include "restrict_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/inet.h"
#include "../config/maps.h"
#include "policy.h"

/* Postfix's default reply codes (postconf(5)). */
#define CODE_REJECT          554    /* reject_code */
#define CODE_DEFER           450    /* defer_code */
#define CODE_RELAY           554    /* relay_domains_reject_code */
#define CODE_NON_FQDN        504    /* non_fqdn_reject_code */
#define CODE_BAD_NAME        501    /* invalid_hostname_reject_code */
#define CODE_PLAINTEXT       450    /* plaintext_reject_code */
#define CODE_UNLISTED        550    /* unknown_{local,relay}_recipient_reject_code */
#define CODE_LOGIN           553

/* ---- replies ------------------------------------------------------------- */

int reval_reject(struct reval *e, int code, const char *dsn, const char *fmt, ...)
{
    char text[RESTRICT_REPLY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *r = e->res->reply;
    if (code < 400 || code > 599) {
        reval_warn(e, "SMTP reply code configuration error: %d %s %s", code, dsn, text);
        snprintf(r, RESTRICT_REPLY_MAX, "450 4.7.1 Service unavailable");
        code = 450;
    } else {
        if (snprintf(r, RESTRICT_REPLY_MAX, "%d %s %s", code, dsn, text) >= 511)
            r[510] = '\0';     /* long client text: cut, as Postfix does */
        r[4] = r[0];        /* the DSN class follows the reply code */
    }
    size_t n = strlen(r);
    if (n > 510)
        r[n = 510] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
            r[i] = ' ';
    e->res->code = code;
    if (code >= 500 && e->dir_code) {
        /* an earlier temporary failure may have hidden a permit: defer */
        snprintf(r, RESTRICT_REPLY_MAX, "%s", e->dir);
        e->res->code = e->dir_code;
        e->dir_code = 0;
    }
    return R_REJECT;
}

static void defer_if(char *buf, int *codep, int code, const char *dsn, const char *fmt,
                     va_list ap)
{
    if (*codep)
        return;             /* the first reason is kept, as Postfix */
    char text[RESTRICT_REPLY_MAX];
    vsnprintf(text, sizeof text, fmt, ap);
    if (code < 400 || code > 499)
        code = 450;
    int n = snprintf(buf, RESTRICT_REPLY_MAX, "%d %.20s ", code, dsn);
    if (n > 0 && n < RESTRICT_REPLY_MAX) {
        size_t tl = strlen(text), room = RESTRICT_REPLY_MAX - 1 - (size_t)n;
        memcpy(buf + n, text, tl < room ? tl : room);
        buf[n + (int)(tl < room ? tl : room)] = '\0';
    }
    buf[510] = '\0';
    buf[4] = buf[0];
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    *codep = code;
}

int reval_defer_if_permit(struct reval *e, int code, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    defer_if(e->dip, &e->dip_code, code, dsn, fmt, ap);
    va_end(ap);
    return R_DUNNO;
}

int reval_defer_if_reject(struct reval *e, int code, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    defer_if(e->dir, &e->dir_code, code, dsn, fmt, ap);
    va_end(ap);
    return R_DUNNO;
}

void reval_warn(struct reval *e, const char *fmt, ...)
{
    if (e->res->warning[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->res->warning, sizeof e->res->warning, fmt, ap);
    va_end(ap);
    for (char *p = e->res->warning; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* ---- names and addresses ---------------------------------------------- */

int rvalid_hostname(const char *name, int utf8)
{
    size_t len = strlen(name), label = 0;
    int non_numeric = 0;
    if (len == 0 || len > 255)
        return 0;
    for (const char *cp = name; *cp; cp++) {
        unsigned char ch = (unsigned char)*cp;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '_' || (utf8 && ch >= 0x80)) {
            if (++label > 63)
                return 0;
            if (ch < '0' || ch > '9')
                non_numeric = 1;
        } else if (ch == '-') {
            non_numeric = 1;
            if (++label == 1 || cp[1] == '\0' || cp[1] == '.')
                return 0;       /* misplaced hyphen */
        } else if (ch == '.') {
            if (label == 0 || cp[1] == '\0')
                return 0;       /* misplaced delimiter */
            label = 0;
        } else {
            return 0;
        }
    }
    return non_numeric;         /* "1.2.3.4" is an address, not a host name */
}

int rvalid_hostaddr(const char *addr)
{
    unsigned char b[16];
    int family;
    return addr[0] != '[' && inet_addr_parse(addr, &family, b) == 0;
}

/* Postfix's valid_mailhost_addr: "IPv6:2001:db8::1" or "192.0.2.1". */
static int valid_mailhost_addr(const char *addr)
{
    unsigned char b[16];
    if (strncasecmp(addr, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, addr + 5, b) == 1;
    return inet_pton(AF_INET, addr, b) == 1;
}

/* Postfix's dup_if_truncate: one trailing dot goes, "a.." stays. */
static void drop_trailing_dot(const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.' && name[n - 2] != '.')
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
}

int rdomain_local(const struct restrict_conf *rc, const char *domain)
{
    return policy_domain_listed(domain, rc->mydest, rc->nmydest);
}

int rdomain_relay(const struct restrict_conf *rc, const char *domain)
{
    return policy_domain_covered(domain, rc->relay_domains, rc->nrelay);
}

char *raddr_find(const struct restrict_conf *rc, const struct map *m, const char *addr)
{
    if (!m || !addr)
        return NULL;
    char *v = map_lookup(m, addr);
    if (v || !map_is_keyed(m))
        return v;
    const char *at = strrchr(addr, '@');
    if (!at)
        return NULL;
    if (rdomain_local(rc, at + 1)) {
        char user[1100];
        size_t ul = (size_t)(at - addr);
        if (ul > 0 && ul < sizeof user) {
            memcpy(user, addr, ul);
            user[ul] = '\0';
            if ((v = map_lookup(m, user)) != NULL)
                return v;
        }
    }
    return map_lookup(m, at);
}

/* ---- the restrictions --------------------------------------------------- */

int rreject_invalid_hostaddr(struct reval *e, const char *addr, const char *class)
{
    char test[600];
    size_t len = strlen(addr);
    if (addr[0] == '[' && len > 2 && addr[len - 1] == ']' && len - 2 < sizeof test) {
        memcpy(test, addr + 1, len - 2);
        test[len - 2] = '\0';
    } else {
        snprintf(test, sizeof test, "%s", addr);
    }
    if (!valid_mailhost_addr(test))
        return reval_reject(e, CODE_BAD_NAME, "5.5.2", "<%s>: %s rejected: invalid ip "
                            "address", addr, class);
    return R_DUNNO;
}

static int reject_invalid_hostname(struct reval *e, const char *name, const char *class)
{
    char test[600];
    drop_trailing_dot(name, test, sizeof test);
    if (!rvalid_hostname(test, e->s->smtputf8) && !rvalid_hostaddr(test))
        return reval_reject(e, CODE_BAD_NAME, "5.5.2", "<%s>: %s rejected: Invalid name",
                            name, class);
    return R_DUNNO;
}

static int reject_non_fqdn_hostname(struct reval *e, const char *name, const char *class)
{
    char test[600];
    drop_trailing_dot(name, test, sizeof test);
    if (!rvalid_hostname(test, e->s->smtputf8) || !strchr(test, '.'))
        return reval_reject(e, CODE_NON_FQDN, "5.5.2", "<%s>: %s rejected: need "
                            "fully-qualified hostname", name, class);
    return R_DUNNO;
}

static int reject_non_fqdn_address(struct reval *e, const char *addr, const char *class)
{
    const char *at = strrchr(addr, '@');
    const char *domain = at ? at + 1 : "";
    size_t dl = strlen(domain);
    if (dl > 0 && domain[0] == '[' && domain[dl - 1] == ']')
        return R_DUNNO;         /* address literals: Postfix skips them */
    char test[600];
    drop_trailing_dot(domain, test, sizeof test);
    if (!*test || !rvalid_hostname(test, e->s->smtputf8) || !strchr(test, '.'))
        return reval_reject(e, CODE_NON_FQDN, "4.5.2", "<%s>: %s rejected: need "
                            "fully-qualified address", addr, class);
    return R_DUNNO;
}

int rpermit_auth_destination(struct reval *e, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    char local[1100];
    if (!at)
        return R_OK;            /* Postfix: "not supposed to happen" */
    size_t ll = (size_t)(at - rcpt);
    if (ll >= sizeof local)
        return R_DUNNO;
    memcpy(local, rcpt, ll);
    local[ll] = '\0';
    const struct policy_rcpt r = {
        .allow_untrusted_routing = e->rc->allow_untrusted_routing,
        .local = local, .domain = at + 1,
        .mydestination = e->rc->mydest, .ndest = e->rc->nmydest,
        .relay_domains = e->rc->relay_domains, .nrelay = e->rc->nrelay,
    };
    return policy_rcpt_authorized(&r) ? R_OK : R_DUNNO;
}

static int reject_unauth_destination(struct reval *e, const char *rcpt, int code,
                                     const char *dsn)
{
    if (rpermit_auth_destination(e, rcpt) == R_OK)
        return R_DUNNO;
    return reval_reject(e, code, dsn, "<%s>: Relay access denied", rcpt);
}

/* Postfix's check_rcpt_maps: an address in a domain that has a recipient
 * table must be in it. */
static int check_rcpt_maps(struct reval *e, const char *addr, const char *class)
{
    const struct restrict_conf *rc = e->rc;
    const char *at = strrchr(addr, '@');
    int sender = strcmp(class, RN_SENDER) == 0;
    if (!at)
        return R_DUNNO;
    const struct map *m = NULL;
    const char *which = NULL;
    if (rdomain_local(rc, at + 1)) {
        static const char *const always[] = { "postmaster", "mailer-daemon",
                                              "double-bounce" };
        size_t ll = (size_t)(at - addr);
        for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
            if (ll == strlen(always[i]) && strncasecmp(addr, always[i], ll) == 0)
                return R_DUNNO;
        m = rc->local_rcpt_maps;
        which = "local";
    } else if (rdomain_relay(rc, at + 1)) {
        m = rc->relay_rcpt_maps;
        which = "relay";
    }
    if (!m)
        return R_DUNNO;
    char *v = raddr_find(rc, m, addr);
    if (v) {
        free(v);
        return R_DUNNO;
    }
    return reval_reject(e, CODE_UNLISTED, sender ? "5.1.0" : "5.1.1", "<%s>: %s rejected: "
                        "User unknown in %s recipient table", addr, class, which);
}

static int check_sender_rcpt_maps(struct reval *e)
{
    if (e->sender_checked)
        return R_DUNNO;
    e->sender_checked = 1;
    return check_rcpt_maps(e, e->s->sender, RN_SENDER);
}

static int check_recipient_rcpt_maps(struct reval *e)
{
    if (e->recipient_checked)
        return R_DUNNO;
    e->recipient_checked = 1;
    return check_rcpt_maps(e, e->s->recipient, RN_RECIPIENT);
}

/* Does owners (a list of logins, comma or blank separated) hold login? */
static int owned_by(const char *owners, const char *login)
{
    size_t ll = strlen(login);
    const char *p = owners;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ", \t\r\n");
        if (n > 0 && n == ll && strncasecmp(p, login, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static int reject_auth_login(struct reval *e, const char *sender, int allow_unknown)
{
    const char *user = e->s->sasl_username;
    if (!e->rc->login_maps || !user)
        return R_DUNNO;
    char *owners = raddr_find(e->rc, e->rc->login_maps, sender);
    int found = owners && owned_by(owners, user);
    if (!owners && allow_unknown)
        return R_DUNNO;
    free(owners);
    if (!found)
        return reval_reject(e, CODE_LOGIN, "5.7.1", "<%s>: Sender address rejected: not "
                            "owned by user %s", sender, user);
    return R_DUNNO;
}

static int reject_unauth_login(struct reval *e, const char *sender)
{
    if (!e->rc->login_maps || e->s->sasl_username)
        return R_DUNNO;
    char *owners = raddr_find(e->rc, e->rc->login_maps, sender);
    if (!owners)
        return R_DUNNO;
    free(owners);
    return reval_reject(e, CODE_LOGIN, "5.7.1", "<%s>: Sender address rejected: not "
                        "logged in", sender);
}

static int login_check(struct reval *e, enum rkind k)
{
    const char *sender = e->s->sender;
    if (!e->s->sasl_enabled || !sender || !*sender)
        return R_DUNNO;         /* as Postfix: nothing to check without AUTH */
    switch (k) {
    case K_REJECT_AUTH_LOGIN:
        return reject_auth_login(e, sender, 0);
    case K_REJECT_UNAUTH_LOGIN:
        return reject_unauth_login(e, sender);
    case K_REJECT_KNOWN_LOGIN:
        return e->s->sasl_username ? reject_auth_login(e, sender, 1)
                                   : reject_unauth_login(e, sender);
    default: {                  /* reject_sender_login_mismatch */
        int st = reject_auth_login(e, sender, 0);
        return st != R_DUNNO ? st : reject_unauth_login(e, sender);
    }
    }
}

static int eval_item(struct reval *e, const struct ritem *it, const char *reply_name,
                     const char *reply_class)
{
    const struct restrict_snapshot *s = e->s;
    switch (it->kind) {
    case K_PERMIT:
        return R_OK;
    case K_REJECT:
        return reval_reject(e, CODE_REJECT, "5.7.1", "<%s>: %s rejected: Access denied",
                            reply_name, reply_class);
    case K_DEFER:
        return reval_reject(e, CODE_DEFER, "4.3.2", "<%s>: %s rejected: Try again later",
                            reply_name, reply_class);
    case K_PERMIT_MYNETWORKS:
        return s->in_mynetworks ? R_OK : R_DUNNO;
    case K_PERMIT_SASL:
        return s->sasl_enabled && s->sasl_username ? R_OK : R_DUNNO;
    case K_REJECT_PLAINTEXT:
        return s->tls ? R_DUNNO
                      : reval_reject(e, CODE_PLAINTEXT, "4.7.1", "Session encryption is "
                                     "required");
    case K_CHECK_CLIENT:
        return raccess_client(e, it->map);
    case K_CHECK_HELO:
        return s->helo ? raccess_helo(e, it->map) : R_DUNNO;
    case K_CHECK_SENDER:
        return s->sender ? raccess_sender(e, it->map) : R_DUNNO;
    case K_CHECK_RCPT:
        return s->recipient ? raccess_recipient(e, it->map) : R_DUNNO;
    case K_REJECT_INVALID_HELO:
        if (!s->helo)
            return R_DUNNO;
        return s->helo[0] == '[' ? rreject_invalid_hostaddr(e, s->helo, RN_HELO)
                                 : reject_invalid_hostname(e, s->helo, RN_HELO);
    case K_REJECT_NON_FQDN_HELO:
        if (!s->helo)
            return R_DUNNO;
        return s->helo[0] == '[' ? rreject_invalid_hostaddr(e, s->helo, RN_HELO)
                                 : reject_non_fqdn_hostname(e, s->helo, RN_HELO);
    case K_REJECT_NON_FQDN_SENDER:
        return s->sender && *s->sender ? reject_non_fqdn_address(e, s->sender, RN_SENDER)
                                       : R_DUNNO;
    case K_REJECT_UNLISTED_SENDER:
        return s->sender && *s->sender ? check_sender_rcpt_maps(e) : R_DUNNO;
    case K_REJECT_AUTH_LOGIN: case K_REJECT_UNAUTH_LOGIN: case K_REJECT_KNOWN_LOGIN:
    case K_REJECT_LOGIN:
        return login_check(e, it->kind);
    case K_PERMIT_AUTH_DEST:
        return s->recipient ? rpermit_auth_destination(e, s->recipient) : R_DUNNO;
    case K_REJECT_UNAUTH_DEST:
        return s->recipient ? reject_unauth_destination(e, s->recipient, CODE_RELAY,
                                                        "5.7.1") : R_DUNNO;
    case K_DEFER_UNAUTH_DEST:
        return s->recipient ? reject_unauth_destination(e, s->recipient, CODE_RELAY - 100,
                                                        "4.7.1") : R_DUNNO;
    case K_REJECT_NON_FQDN_RCPT:
        return s->recipient ? reject_non_fqdn_address(e, s->recipient, RN_RECIPIENT)
                            : R_DUNNO;
    case K_REJECT_UNLISTED_RCPT:
        return s->recipient && *s->recipient ? check_recipient_rcpt_maps(e) : R_DUNNO;
    case K_REJECT_UNKNOWN_CLIENT: case K_REJECT_UNKNOWN_REVERSE: case K_REJECT_UNKNOWN_HELO:
    case K_REJECT_UNKNOWN_SENDER_DOMAIN: case K_REJECT_UNKNOWN_RCPT_DOMAIN:
    case K_REJECT_RBL_CLIENT: case K_PERMIT_DNSWL_CLIENT: case K_REJECT_RHSBL_CLIENT:
    case K_REJECT_RHSBL_REVERSE: case K_REJECT_RHSBL_HELO: case K_REJECT_RHSBL_SENDER:
    case K_REJECT_RHSBL_RCPT: case K_PERMIT_RHSWL_CLIENT:
        return rdns_eval(e, it, reply_class);
    case K_NONE:
        break;
    }
    return R_DUNNO;
}

int reval_list(struct reval *e, const struct ritem *v, size_t n, const char *reply_name,
               const char *reply_class)
{
    int st = R_DUNNO;
    for (size_t i = 0; i < n && st == R_DUNNO; i++)
        st = eval_item(e, &v[i], reply_name, reply_class);
    return st;
}

/* ---- the stages ------------------------------------------------------------ */

static void reval_init(struct reval *e, const struct restrict_conf *rc,
                       const struct restrict_snapshot *s, struct restrict_result *res)
{
    memset(res, 0, sizeof *res);
    memset(e, 0, sizeof *e);
    e->rc = rc;
    e->s = s;
    e->res = res;
    snprintf(e->namaddr, sizeof e->namaddr, "%s[%s]",
             s->client_name && *s->client_name ? s->client_name : "unknown",
             s->client_addr ? s->client_addr : "");
}

static int run(struct reval *e, enum restrict_list l, const char *name, const char *class)
{
    const struct rlist *rl = &e->rc->list[l];
    return reval_list(e, rl->v, rl->n, name, class);
}

/* Neither rejected nor waiting for DNS: the next list runs. */
static int goes_on(int st)
{
    return st != R_REJECT && st != R_NEED;
}

/* The end of a stage: undecided (a lookup is needed), or the deferral a
 * temporary failure left when nothing rejected (defer_if_permit). */
static void stage_end(struct reval *e, int st)
{
    if (st == R_NEED) {
        e->res->code = 0;
        e->res->reply[0] = '\0';
        return;
    }
    if (st != R_REJECT && e->dip_code) {
        e->res->code = e->dip_code;
        snprintf(e->res->reply, RESTRICT_REPLY_MAX, "%s", e->dip);
    }
}

void restrict_check_mail(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res)
{
    struct reval e;
    reval_init(&e, rc, s, res);
    if (rc->helo_required && !s->helo)
        reval_reject(&e, 503, "5.5.1", "Error: send HELO/EHLO first");
}

void restrict_check_rcpt(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res)
{
    struct reval e;
    reval_init(&e, rc, s, res);
    if (!s->recipient || strcasecmp(s->recipient, "postmaster") == 0)
        return;
    int st = run(&e, RESTRICT_CLIENT, e.namaddr, RN_CLIENT);
    if (goes_on(st) && s->helo)
        st = run(&e, RESTRICT_HELO, s->helo, RN_HELO);
    if (goes_on(st) && s->sender) {
        st = run(&e, RESTRICT_SENDER, s->sender, RN_SENDER);
        if (goes_on(st) && rc->reject_unlisted_sender && *s->sender)
            st = check_sender_rcpt_maps(&e);
    }
    if (goes_on(st))
        st = run(&e, RESTRICT_RELAY, s->recipient, RN_RECIPIENT);
    if (goes_on(st))
        st = run(&e, RESTRICT_RECIPIENT, s->recipient, RN_RECIPIENT);
    if (goes_on(st) && rc->reject_unlisted_recipient)
        st = check_recipient_rcpt_maps(&e);
    stage_end(&e, st);
}

void restrict_check_data(const struct restrict_conf *rc, const struct restrict_snapshot *s,
                         struct restrict_result *res)
{
    struct reval e;
    reval_init(&e, rc, s, res);
    stage_end(&e, run(&e, RESTRICT_DATA, "DATA", RN_DATA));
}

void restrict_check_header_from(const struct restrict_conf *rc,
                                const struct restrict_snapshot *s, const char *from_addr,
                                struct restrict_result *res)
{
    struct reval e;
    reval_init(&e, rc, s, res);
    if (!restrict_wants_header_from(rc) || !s->sasl_username || !from_addr)
        return;
    char *owners = raddr_find(rc, rc->login_maps, from_addr);
    int ok = owners && owned_by(owners, s->sasl_username);
    free(owners);
    if (!ok)
        reval_reject(&e, 550, "5.7.1", "<%s>: From: header address rejected: not owned "
                     "by user %s", from_addr, s->sasl_username);
}

/* restrict_access — check_client_access, check_helo_access,
 * check_sender_access and check_recipient_access: Postfix's lookup keys
 * (host name and parent domains, address and parent networks; address,
 * domain and parents, "user@") and access(5) results: OK, RELAY, a
 * number, REJECT [text], DEFER [text], 4NN text, 5NN text, DUNNO, or
 * restriction names (PERMIT, reject, permit_mynetworks...). */
#include "restrict_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../config/maps.h"
#include "policy.h"

#define CODE_MAP_REJECT 554     /* access_map_reject_code */
#define CODE_MAP_DEFER  450     /* access_map_defer_code */
#define RHS_MAX_ITEMS   32      /* restrictions in one table result */

/* An RFC 3463 status at the start of text ("5.7.1 rest")? Its length. */
static size_t dsn_len(const char *t)
{
    size_t i = 0, d;
    if (t[0] != '2' && t[0] != '4' && t[0] != '5')
        return 0;
    if (t[1] != '.')
        return 0;
    i = 2;
    for (int part = 0; part < 2; part++) {
        for (d = 0; t[i] >= '0' && t[i] <= '9' && d < 4; d++)
            i++;
        if (d == 0 || d > 3)
            return 0;
        if (part == 0 && t[i++] != '.')
            return 0;
    }
    return (t[i] == '\0' || t[i] == ' ' || t[i] == '\t') ? i : 0;
}

/* Postfix's dsn_split: the status that starts text, else def; *rest is
 * the text after it. */
static void dsn_split(char *dsn, size_t dsnlen, const char *def, const char *text,
                      const char **rest)
{
    size_t n = dsn_len(text);
    if (n > 0 && n < dsnlen) {
        memcpy(dsn, text, n);
        dsn[n] = '\0';
        text += n;
        text += strspn(text, " \t");
    } else {
        snprintf(dsn, dsnlen, "%s", def);
    }
    *rest = text;
}

/* Postfix's smtpd_dsn_fix: an address status (X.1.Y) made to fit what is
 * rejected, a sender's or a recipient's; 4.0.0 for anything else. */
static void dsn_fix(char *dsn, size_t len, const char *class)
{
    static const struct { const char *micro, *sender, *rcpt; } map[] = {
        { "1", "4.1.0", "4.1.1" }, { "2", "4.1.8", "4.1.2" }, { "3", "4.1.7", "4.1.3" },
        { "4", "4.1.0", "4.1.4" }, { "5", "4.1.0", "4.1.5" }, { "6", "4.1.0", "4.1.6" },
        { "7", "4.1.7", "4.1.3" }, { "8", "4.1.8", "4.1.2" },
    };
    if (strncmp(dsn + 1, ".1.", 3) != 0)
        return;
    const char *to = "4.0.0";   /* not an address: no address status */
    int sender = strcmp(class, RN_SENDER) == 0, rcpt = strcmp(class, RN_RECIPIENT) == 0;
    if (sender || rcpt) {
        to = "4.1.0";
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(dsn + 4, map[i].micro) == 0)
                to = sender ? map[i].sender : map[i].rcpt;
    }
    char first = dsn[0];
    snprintf(dsn, len, "%s", to);
    dsn[0] = first;
}

__attribute__((format(printf, 3, 4)))
static int config_error(struct reval *e, const char *table, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    reval_warn(e, "access table %s: %s", table, why);
    return reval_reject(e, 451, "4.3.5", "Server configuration error");
}

/* A table result that is a list of restrictions ("PERMIT", "reject",
 * "permit_mynetworks, reject"). Tables and arguments are not allowed
 * there, as in Postfix. */
static int table_restrictions(struct reval *e, const char *table, const char *value,
                              const char *reply_name, const char *reply_class)
{
    struct ritem v[RHS_MAX_ITEMS];
    size_t n = 0;
    char word[64];
    const char *p = value;
    while (*p) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (len == 0)
            break;
        if (n == RHS_MAX_ITEMS)
            return config_error(e, table, "result \"%.100s\" has too many restrictions",
                                value);
        if (len >= sizeof word)
            return config_error(e, table, "unknown result \"%.100s\"", value);
        memcpy(word, p, len);
        word[len] = '\0';
        p += len;
        const struct rname *rn = restrict_name_find(word);
        if (!rn || rn->cls != RC_OK || rn->arg != RA_NONE ||
            ((rn->kind == K_REJECT_LOGIN || rn->kind == K_REJECT_AUTH_LOGIN ||
              rn->kind == K_REJECT_UNAUTH_LOGIN || rn->kind == K_REJECT_KNOWN_LOGIN) &&
             !e->rc->login_maps))
            return config_error(e, table, "unknown or unsupported result \"%.100s\"",
                                value);
        v[n].kind = rn->kind;
        v[n].map = NULL;
        n++;
    }
    if (n == 0) {
        reval_warn(e, "access table %s has an entry with an empty value", table);
        return R_OK;
    }
    return reval_list(e, v, n, reply_name, reply_class);
}

/* Postfix's check_table_result: what a table's value means. */
static int table_result(struct reval *e, const struct map *m, const char *value,
                        const char *reply_name, const char *reply_class)
{
    const char *table = map_spec(m);
    size_t cmd = strcspn(value, " \t");
    const char *text = value + cmd;
    text += strspn(text, " \t");
    char dsn[16];
    const char *rest;

#define IS(word) (cmd == sizeof(word) - 1 && strncasecmp(value, word, cmd) == 0)
    if (IS("DUNNO"))
        return R_DUNNO;
    if (IS("OK") || IS("RELAY"))
        return R_OK;
    if (IS("REJECT") || IS("DEFER")) {
        int reject = IS("REJECT");
        dsn_split(dsn, sizeof dsn, reject ? "5.7.1" : "4.7.1", text, &rest);
        dsn_fix(dsn, sizeof dsn, reply_class);
        return reval_reject(e, reject ? CODE_MAP_REJECT : CODE_MAP_DEFER, dsn,
                            "<%s>: %s rejected: %s", reply_name, reply_class,
                            *rest ? rest : "Access denied");
    }
    if (IS("WARN") || IS("INFO")) {
        reval_warn(e, "access table %s: %.*s: <%s>: %s: %s", table, (int)cmd, value,
                   reply_name, reply_class, text);
        return R_DUNNO;
    }
    static const char *const actions[] = {
        "HOLD", "DISCARD", "FILTER", "REDIRECT", "BCC", "PREPEND", "HANGUP",
        "DEFER_IF_PERMIT", "DEFER_IF_REJECT", "DELAY",
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (cmd == strlen(actions[i]) && strncasecmp(value, actions[i], cmd) == 0)
            return config_error(e, table, "action %s is not supported by postern",
                                actions[i]);
    if (value[strspn(value, "0123456789")] == '\0' && value[0])
        return R_OK;            /* all digits: a time stamp meaning OK */
    if (cmd == 3 && *text && (value[0] == '4' || value[0] == '5') &&
        value[1] >= '0' && value[1] <= '9' && value[2] >= '0' && value[2] <= '9') {
        char def[8] = "5.7.1";
        def[0] = value[0];
        dsn_split(dsn, sizeof dsn, def, text, &rest);
        dsn_fix(dsn, sizeof dsn, reply_class);
        return reval_reject(e, atoi(value), dsn, "<%s>: %s rejected: %s", reply_name,
                            reply_class, *rest ? rest : "Access denied");
    }
    if (strchr(value, ':'))
        return config_error(e, table, "has an entry with a lookup table (%.100s): "
                            "tables cannot be named inside access tables", value);
    return table_restrictions(e, table, value, reply_name, reply_class);
#undef IS
}

/* Look key up; *found tells whether the table had it. */
static int lookup(struct reval *e, const struct map *m, const char *key, int *found,
                  const char *reply_name, const char *reply_class)
{
    char *v = map_lookup(m, key);
    if (!v)
        return R_DUNNO;
    *found = 1;
    int st = table_result(e, m, v, reply_name, reply_class);
    free(v);
    return st;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Postfix's check_domain_access: the name, then (keyed tables only) its
 * parent domains, "mx.example.com", "example.com", "com". partial_only:
 * pattern tables skip even the first lookup (check_mail_access's domain
 * step). */
static int domain_access(struct reval *e, const struct map *m, const char *domain,
                         int partial_only, int *found, const char *reply_name,
                         const char *reply_class)
{
    char buf[600];
    int keyed = map_is_keyed(m), st = R_DUNNO;
    if (!*domain || strlen(domain) >= sizeof buf)
        return R_DUNNO;
    snprintf(buf, sizeof buf, "%s", domain);
    lower(buf);
    int first = 1;
    for (const char *name = buf; *name;) {
        if (keyed || (first && !partial_only)) {
            st = lookup(e, m, name, found, reply_name, reply_class);
            if (st != R_DUNNO || *found)
                return st;
        }
        if (first && rvalid_hostaddr(domain))
            break;              /* no subdomain magic for addresses */
        const char *next = strchr(name + 1, '.');
        if (!next)
            break;
        name = next + 1;
        first = 0;
    }
    return R_DUNNO;
}

/* Postfix's check_addr_access: the address, then (keyed tables only) its
 * parent networks: "192.0.2", "192.0", "192" (IPv6: by ':'). */
static int addr_access(struct reval *e, const struct map *m, const char *addr, int *found,
                       const char *reply_name, const char *reply_class)
{
    char buf[80];
    if (!*addr || strlen(addr) >= sizeof buf)
        return R_DUNNO;
    snprintf(buf, sizeof buf, "%s", addr);
    char delim = strchr(buf, ':') ? ':' : '.';
    int keyed = map_is_keyed(m);
    for (int first = 1;; first = 0) {
        if (first || keyed) {
            int st = lookup(e, m, buf, found, reply_name, reply_class);
            if (st != R_DUNNO || *found)
                return st;
        }
        char *cut = strrchr(buf, delim);
        if (!cut || !keyed)
            break;
        *cut = '\0';
    }
    return R_DUNNO;
}

int raccess_client(struct reval *e, const struct map *m)
{
    const struct restrict_snapshot *s = e->s;
    int found = 0;
    const char *name = s->client_name && *s->client_name ? s->client_name : "unknown";
    int st = domain_access(e, m, name, 0, &found, e->namaddr, RN_CLIENT);
    if (st != R_DUNNO || found)
        return st;
    return s->client_addr ? addr_access(e, m, s->client_addr, &found, e->namaddr, RN_CLIENT)
                          : R_DUNNO;
}

int raccess_helo(struct reval *e, const struct map *m)
{
    int found = 0;
    return domain_access(e, m, e->s->helo, 0, &found, e->s->helo, RN_HELO);
}

/* Postfix's check_mail_access: the address, its domain and parent domains,
 * then "user@". An OK for a recipient whose local part routes elsewhere
 * ("user%other@ours") counts only as DUNNO, unless allow_untrusted_routing. */
static int mail_access(struct reval *e, const struct map *m, const char *addr,
                       const char *class)
{
    int found = 0, st;
    const char *at = strrchr(addr, '@');
    if (!at)
        return lookup(e, m, addr, &found, addr, class);
    char local[1100];
    size_t ll = (size_t)(at - addr);
    if (ll + 2 > sizeof local)
        return R_DUNNO;
    memcpy(local, addr, ll);
    local[ll] = '\0';
    int suspicious = strcmp(class, RN_RECIPIENT) == 0 &&
                     !e->rc->allow_untrusted_routing && policy_local_is_routed(local);
    st = lookup(e, m, addr, &found, addr, class);
    if (st == R_DUNNO && !found)
        st = domain_access(e, m, at + 1, 1, &found, addr, class);
    if (st == R_DUNNO && !found && map_is_keyed(m)) {
        local[ll] = '@';
        local[ll + 1] = '\0';
        st = lookup(e, m, local, &found, addr, class);
    }
    return st == R_OK && suspicious ? R_DUNNO : st;
}

int raccess_sender(struct reval *e, const struct map *m)
{
    int found = 0;
    if (!*e->s->sender)     /* smtpd_null_access_lookup_key */
        return lookup(e, m, "<>", &found, "", RN_SENDER);
    return mail_access(e, m, e->s->sender, RN_SENDER);
}

int raccess_recipient(struct reval *e, const struct map *m)
{
    return mail_access(e, m, e->s->recipient, RN_RECIPIENT);
}

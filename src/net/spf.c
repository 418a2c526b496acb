/* spf — RFC 7208 check_host() over a caller's lookup function (spf.h).
 * Pure: no I/O of its own, no clock, no global state. Records are parsed
 * term by term as they are evaluated, after a first pass that rejects a
 * record with a syntax error anywhere (4.6: the whole record is then a
 * permerror, even when an earlier term would have matched). */
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../util/inet.h"

#define MAX_DEPTH 16            /* the lookup limit ends recursion first */
#define NAME_LEN 254

struct ctx {
    spf_lookup_fn lookup;
    void *arg;
    int family;
    unsigned char ip[16];
    char iptext[64];
    const char *sender;
    struct spf_eval *out;
    int depth;
    char path[MAX_DEPTH][NAME_LEN];     /* the domains being evaluated */
    char term[MAX_DEPTH][128];          /* the term that led to the next */
};

const char *spf_result_name(enum spf_result r)
{
    static const char *const names[] = { "none", "neutral", "pass", "fail", "softfail",
                                         "temperror", "permerror" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

int spf_is_record(const char *txt)
{
    return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == '\0' || txt[6] == ' ');
}

static enum spf_result why(struct ctx *c, enum spf_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set the reason (the first one set is the deciding one) and return r. */
static enum spf_result why(struct ctx *c, enum spf_result r, const char *fmt, ...)
{
    if (c->out->reason[0])
        return r;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = (size_t)snprintf(c->out->reason, sizeof c->out->reason, "%s", msg);
    /* where, when it was not the domain itself: "(via include:a → include:b)" */
    if (c->depth > 0 && n < sizeof c->out->reason) {
        n += (size_t)snprintf(c->out->reason + n, sizeof c->out->reason - n, " (via");
        for (int i = 0; i < c->depth && n < sizeof c->out->reason; i++)
            n += (size_t)snprintf(c->out->reason + n, sizeof c->out->reason - n, " %s%s",
                                  i ? "→ " : "", c->term[i]);
        if (n < sizeof c->out->reason)
            snprintf(c->out->reason + n, sizeof c->out->reason - n, ")");
    }
    return r;
}

/* A name worth asking about: labels of 1..63, 253 in all, two labels at
 * least (RFC 7208 4.3, 4.8: a malformed target is no SPF record). */
static int domain_ok(const char *s)
{
    size_t len = strlen(s), label = 0, labels = 1;
    if (len == 0 || len > 253 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
            if (i + 1 < len)
                labels++;
        } else if (ch <= ' ' || ch >= 0x7f || ++label > 63) {
            return 0;
        }
    }
    return labels >= 2;
}

/* ------------------------------------------------------------------------ */
/* macros (RFC 7208 7) */

/* The value of macro letter m, into out. */
static int macro_value(const struct ctx *c, const char *domain, char m, char *out,
                       size_t outlen)
{
    const char *at = strrchr(c->sender, '@');
    switch (tolower((unsigned char)m)) {
    case 's': snprintf(out, outlen, "%s", c->sender); return 0;
    case 'l':
        if (!at || at == c->sender)
            snprintf(out, outlen, "postmaster");
        else
            snprintf(out, outlen, "%.*s", (int)(at - c->sender), c->sender);
        return 0;
    case 'o': snprintf(out, outlen, "%s", at ? at + 1 : c->sender); return 0;
    case 'd': snprintf(out, outlen, "%s", domain); return 0;
    case 'h': snprintf(out, outlen, "%s", domain); return 0;   /* no HELO here */
    case 'p': snprintf(out, outlen, "unknown"); return 0;
    case 'v': snprintf(out, outlen, "%s", c->family == AF_INET ? "in-addr" : "ip6"); return 0;
    case 'i':
        if (c->family == AF_INET) {
            snprintf(out, outlen, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2], c->ip[3]);
        } else {
            static const char hex[] = "0123456789abcdef";
            size_t o = 0;
            for (int i = 0; i < 16 && o + 4 < outlen; i++) {
                out[o++] = hex[c->ip[i] >> 4];
                out[o++] = '.';
                out[o++] = hex[c->ip[i] & 0xf];
                out[o++] = i < 15 ? '.' : '\0';
            }
            out[o < outlen ? o : outlen - 1] = '\0';
        }
        return 0;
    default: return -1;
    }
}

/* Split v on delims, reverse when rev, keep the rightmost keep parts (0:
 * all), join with '.', into out. */
static void macro_transform(char *v, const char *delims, int rev, unsigned keep, char *out,
                            size_t outlen)
{
    char *parts[128];
    size_t n = 0;
    char *p = v;
    parts[n++] = p;
    for (; *p && n < 128; p++) {
        if (strchr(delims, *p)) {
            *p = '\0';
            parts[n++] = p + 1;
        }
    }
    if (rev)
        for (size_t i = 0; i < n / 2; i++) {
            char *t = parts[i];
            parts[i] = parts[n - 1 - i];
            parts[n - 1 - i] = t;
        }
    size_t first = keep && keep < n ? n - keep : 0, o = 0;
    out[0] = '\0';
    for (size_t i = first; i < n; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i > first ? "." : "", parts[i]);
        if (w < 0 || (size_t)w >= outlen - o)
            return;
        o += (size_t)w;
    }
}

/* Expand the domain-spec spec (len bytes) into out. 0, or -1 (syntax). */
static int expand(const struct ctx *c, const char *domain, const char *spec, size_t len,
                  char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char add[300];
        if (spec[i] != '%') {
            if ((unsigned char)spec[i] <= ' ' || (unsigned char)spec[i] >= 0x7f)
                return -1;
            add[0] = spec[i];
            add[1] = '\0';
        } else if (i + 1 >= len) {
            return -1;
        } else if (spec[i + 1] == '%' || spec[i + 1] == '_' || spec[i + 1] == '-') {
            snprintf(add, sizeof add, "%s", spec[i + 1] == '%' ? "%" : spec[i + 1] == '_'
                                                                          ? " " : "%20");
            i++;
        } else if (spec[i + 1] == '{') {
            const char *end = memchr(spec + i, '}', len - i);
            if (!end)
                return -1;
            const char *m = spec + i + 2;
            char val[300];
            if (m >= end || macro_value(c, domain, *m, val, sizeof val) < 0)
                return -1;
            m++;
            unsigned keep = 0, ndigits = 0;
            while (m < end && isdigit((unsigned char)*m) && ndigits++ < 4)
                keep = keep * 10 + (unsigned)(*m++ - '0');
            if (ndigits && keep == 0)
                return -1;      /* "%{d0}": a zero count is a syntax error */
            if (keep > 128)
                keep = 128;
            int rev = m < end && (*m == 'r' || *m == 'R');
            m += rev;
            char delims[16] = "";
            size_t nd = 0;
            for (; m < end; m++) {
                if (!strchr(".-+,/_=", *m) || nd + 1 >= sizeof delims)
                    return -1;
                delims[nd++] = *m;
            }
            delims[nd] = '\0';
            macro_transform(val, nd ? delims : ".", rev, keep, add, sizeof add);
            i = (size_t)(end - spec);
        } else {
            return -1;
        }
        size_t n = strlen(add);
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, add, n + 1);
        o += n;
    }
    if (o > 0 && out[o - 1] == '.')
        out[--o] = '\0';
    /* 4.8: longer than 253, drop labels from the left */
    char *s = out;
    while (strlen(s) > 253 && strchr(s, '.'))
        s = strchr(s, '.') + 1;
    if (s != out)
        memmove(out, s, strlen(s) + 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* terms */

struct term {
    char qual;                  /* '+', '-', '~', '?' */
    char name[16];              /* mechanism or modifier name, lower case */
    int modifier;
    const char *arg;            /* after ':' or '=' (NULL: none) */
    size_t arglen;              /* the domain-spec only (without /cidr) */
    int cidr4, cidr6;           /* -1: not given */
};

static int parse_cidr(const char *s, size_t len, int max)
{
    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return -2;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -2;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -2;
}

/* Split "[domain-spec][/n][//m]" at its end: t->arglen, cidr4, cidr6. */
static int split_dual_cidr(const char *s, size_t len, struct term *t)
{
    t->cidr4 = t->cidr6 = -1;
    size_t e = len;
    size_t d = e;
    while (d > 0 && isdigit((unsigned char)s[d - 1]))
        d--;
    if (d >= 2 && d < e && s[d - 1] == '/' && s[d - 2] == '/') {
        if ((t->cidr6 = parse_cidr(s + d, e - d, 128)) < 0)
            return -1;
        e = d - 2;
        d = e;
        while (d > 0 && isdigit((unsigned char)s[d - 1]))
            d--;
    }
    if (d >= 1 && d < e && s[d - 1] == '/' && (d < 2 || s[d - 2] != '/')) {
        if ((t->cidr4 = parse_cidr(s + d, e - d, 32)) < 0)
            return -1;
        e = d - 1;
    }
    if (e > 0 && memchr(s, '/', e) && !memchr(s, '%', e))
        return -1;      /* a '/' left over that no macro explains */
    t->arglen = e;
    return 0;
}

/* Parse the term at s (len bytes). 0, or -1 with *err. */
static int parse_term(const char *s, size_t len, struct term *t, const char **err)
{
    memset(t, 0, sizeof *t);
    t->qual = '+';
    t->cidr4 = t->cidr6 = -1;
    size_t i = 0;
    /* a modifier: name "=" */
    if (isalpha((unsigned char)s[0])) {
        while (i < len && (isalnum((unsigned char)s[i]) || strchr("-_.", s[i])))
            i++;
        if (i < len && s[i] == '=') {
            t->modifier = 1;
            snprintf(t->name, sizeof t->name, "%.*s", (int)(i < 15 ? i : 15), s);
            for (char *p = t->name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            t->arg = s + i + 1;
            t->arglen = len - i - 1;
            return 0;
        }
        i = 0;
    }
    if (strchr("+-~?", s[0])) {
        t->qual = s[0];
        i = 1;
    }
    size_t n = i;
    while (n < len && s[n] != ':' && s[n] != '/')
        n++;
    if (n - i == 0 || n - i >= sizeof t->name) {
        *err = "unknown mechanism";
        return -1;
    }
    for (size_t k = 0; k < n - i; k++)
        t->name[k] = (char)tolower((unsigned char)s[i + k]);
    static const char *const mechs[] = { "all", "include", "a", "mx", "ptr", "ip4", "ip6",
                                         "exists" };
    int known = 0;
    for (size_t k = 0; k < sizeof mechs / sizeof mechs[0]; k++)
        known |= strcmp(t->name, mechs[k]) == 0;
    if (!known) {
        *err = "unknown mechanism";
        return -1;
    }
    const char *rest = s + n;
    size_t rlen = len - n;
    int colon = rlen > 0 && rest[0] == ':';
    if (colon) {
        rest++;
        rlen--;
        if (rlen == 0) {
            *err = "empty argument after ':'";
            return -1;
        }
    }
    if (!strcmp(t->name, "all")) {
        if (rlen) {
            *err = "\"all\" takes no argument";
            return -1;
        }
        return 0;
    }
    if (!strcmp(t->name, "include") || !strcmp(t->name, "exists")) {
        if (!colon) {
            *err = "needs :domain";
            return -1;
        }
        t->arg = rest;
        t->arglen = rlen;
        return 0;
    }
    if (!strcmp(t->name, "ip4") || !strcmp(t->name, "ip6")) {
        if (!colon) {
            *err = "needs :address";
            return -1;
        }
        t->arg = rest;
        t->arglen = rlen;
        return 0;       /* checked by ip_term */
    }
    /* a, mx, ptr: [:domain][/cidr] (ptr: no cidr) */
    if (!colon && rlen && rest[0] != '/') {
        *err = "unknown mechanism";
        return -1;
    }
    if (split_dual_cidr(rest, rlen, t) < 0 ||
        (!strcmp(t->name, "ptr") && (t->cidr4 >= 0 || t->cidr6 >= 0))) {
        *err = "invalid CIDR length";
        return -1;
    }
    if (colon && t->arglen == 0) {
        *err = "empty domain";
        return -1;
    }
    t->arg = colon ? rest : NULL;
    return 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

/* ip4:/ip6: → 1 match, 0 no, -1 syntax */
static int ip_term(const struct ctx *c, const struct term *t)
{
    char buf[80];
    if (t->arglen >= sizeof buf)
        return -1;
    memcpy(buf, t->arg, t->arglen);
    buf[t->arglen] = '\0';
    int v6 = t->name[2] == '6', max = v6 ? 128 : 32, bits = max;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if ((bits = parse_cidr(slash + 1, strlen(slash + 1), max)) < 0)
            return -1;
    }
    unsigned char a[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, a) != 1)
        return -1;
    if (c->family != (v6 ? AF_INET6 : AF_INET))
        return 0;
    return prefix_match(a, c->ip, bits);
}

/* ------------------------------------------------------------------------ */
/* evaluation */

static enum spf_result check(struct ctx *c, const char *domain);

static const struct spf_answer *ask(struct ctx *c, const char *name, enum spf_rrtype type)
{
    const struct spf_answer *a = c->lookup(c->arg, name, type);
    static const struct spf_answer temp = { SPF_DNS_TEMP, 0, NULL };
    return a ? a : &temp;
}

static int count_lookup(struct ctx *c)
{
    return ++c->out->lookups <= SPF_MAX_LOOKUPS;
}

static int count_void(struct ctx *c, const struct spf_answer *a)
{
    if (a->status != SPF_DNS_NOTFOUND && a->n > 0)
        return 1;
    return ++c->out->voids <= SPF_MAX_VOIDS;
}

/* Do the addresses of name (A or AAAA, as the client) match with the
 * cidr? 1, 0, or -1 (temporary), -2 (void limit). */
static int addr_match(struct ctx *c, const char *name, int cidr4, int cidr6, int counts_void)
{
    int v4 = c->family == AF_INET;
    const struct spf_answer *a = ask(c, name, v4 ? SPF_RR_A : SPF_RR_AAAA);
    if (a->status == SPF_DNS_TEMP)
        return -1;
    if (counts_void && !count_void(c, a))
        return -2;
    int bits = v4 ? (cidr4 >= 0 ? cidr4 : 32) : (cidr6 >= 0 ? cidr6 : 128);
    for (size_t i = 0; a->status == SPF_DNS_OK && i < a->n; i++) {
        unsigned char b[16];
        if (inet_pton(v4 ? AF_INET : AF_INET6, a->rr[i], b) == 1 && prefix_match(b, c->ip, bits))
            return 1;
    }
    return 0;
}

static enum spf_result qual_result(char q)
{
    return q == '-' ? SPF_FAIL : q == '~' ? SPF_SOFTFAIL : q == '?' ? SPF_NEUTRAL : SPF_PASS;
}

/* The one SPF record of domain into rec. 1 found, 0 none, or a result. */
static int find_record(struct ctx *c, const char *domain, char *rec, size_t reclen,
                       enum spf_result *res)
{
    const struct spf_answer *a = ask(c, domain, SPF_RR_TXT);
    if (a->status == SPF_DNS_TEMP) {
        *res = why(c, SPF_TEMPERROR, "%s: DNS lookup of its TXT records failed temporarily",
                   domain);
        return -1;
    }
    size_t found = 0;
    for (size_t i = 0; a->status == SPF_DNS_OK && i < a->n; i++) {
        if (!spf_is_record(a->rr[i]))
            continue;
        if (found++ == 0 && (size_t)snprintf(rec, reclen, "%s", a->rr[i]) >= reclen) {
            *res = why(c, SPF_PERMERROR, "%s: SPF record longer than %zu bytes", domain,
                       reclen - 1);
            return -1;
        }
    }
    if (found > 1) {
        *res = why(c, SPF_PERMERROR, "%s has %zu SPF records: publish exactly one (merge "
                   "them; RFC 7208 4.5)", domain, found);
        return -1;
    }
    return found ? 1 : 0;
}

/* The next term of rec from *pos: start and length; 0 at the end. */
static int next_term(const char *rec, size_t *pos, const char **s, size_t *len)
{
    size_t i = *pos;
    while (rec[i] == ' ')
        i++;
    if (!rec[i])
        return 0;
    size_t e = i;
    while (rec[e] && rec[e] != ' ')
        e++;
    *s = rec + i;
    *len = e - i;
    *pos = e;
    return 1;
}

static enum spf_result eval_term(struct ctx *c, const char *domain, const struct term *t,
                                 int *matched);

static enum spf_result check(struct ctx *c, const char *domain)
{
    char rec[1024];
    enum spf_result res;
    if (c->depth >= MAX_DEPTH)
        return why(c, SPF_PERMERROR, "SPF records nested too deeply");
    snprintf(c->path[c->depth], sizeof c->path[0], "%s", domain);
    int f = find_record(c, domain, rec, sizeof rec, &res);
    if (f < 0)
        return res;
    if (c->depth == 0)
        snprintf(c->out->record, sizeof c->out->record, "%s", f ? rec : "");
    if (f == 0)
        return why(c, SPF_NONE, "%s has no SPF record (TXT \"v=spf1 ...\")", domain);

    /* first pass: the whole record's syntax; redirect= once */
    size_t pos = 6;
    const char *s, *redirect = NULL;
    size_t len, redirect_len = 0;
    struct term t;
    while (next_term(rec, &pos, &s, &len)) {
        const char *err = "syntax error";
        if (parse_term(s, len, &t, &err) < 0 ||
            (!strcmp(t.name, "ip4") && ip_term(c, &t) < 0) ||
            (!strcmp(t.name, "ip6") && ip_term(c, &t) < 0))
            return why(c, SPF_PERMERROR, "%s: \"%.*s\": %s", domain, (int)(len > 80 ? 80 : len),
                       s, err);
        if (t.modifier && !strcmp(t.name, "redirect")) {
            if (redirect)
                return why(c, SPF_PERMERROR, "%s: more than one redirect=", domain);
            redirect = t.arg;
            redirect_len = t.arglen;
        }
    }
    pos = 6;
    while (next_term(rec, &pos, &s, &len)) {
        const char *err;
        parse_term(s, len, &t, &err);
        if (t.modifier)
            continue;
        snprintf(c->term[c->depth], sizeof c->term[0], "%.*s", (int)(len > 100 ? 100 : len), s);
        int matched = 0;
        res = eval_term(c, domain, &t, &matched);
        if (res == SPF_TEMPERROR || res == SPF_PERMERROR)
            return res;
        if (matched)
            return why(c, qual_result(t.qual), "%s: %.*s matched %s", domain,
                       (int)(len > 100 ? 100 : len), s, c->iptext);
    }
    if (redirect) {
        char target[NAME_LEN + 10];
        snprintf(c->term[c->depth], sizeof c->term[0], "redirect=%.*s",
                 (int)(redirect_len > 100 ? 100 : redirect_len), redirect);
        if (!count_lookup(c))
            return why(c, SPF_PERMERROR, "more than %d DNS lookups (RFC 7208 4.6.4)",
                       SPF_MAX_LOOKUPS);
        if (expand(c, domain, redirect, redirect_len, target, sizeof target) < 0 ||
            !domain_ok(target))
            return why(c, SPF_PERMERROR, "%s: redirect=%.*s: not a domain", domain,
                       (int)(redirect_len > 100 ? 100 : redirect_len), redirect);
        c->depth++;
        res = check(c, target);
        c->depth--;
        if (res == SPF_NONE)
            return SPF_PERMERROR;   /* 6.1: the reason says it has no record */
        return res;
    }
    return why(c, SPF_NEUTRAL, "%s: no mechanism matched %s and there is no \"all\"", domain,
               c->iptext);
}

/* One mechanism: SPF_NONE with *matched set or not, or an error. */
static enum spf_result eval_term(struct ctx *c, const char *domain, const struct term *t,
                                 int *matched)
{
    char target[NAME_LEN + 10];
    const char *n = t->name;
    if (!strcmp(n, "all")) {
        *matched = 1;
        return SPF_NONE;
    }
    if (!strcmp(n, "ip4") || !strcmp(n, "ip6")) {
        *matched = ip_term(c, t) == 1;
        return SPF_NONE;
    }
    /* every other mechanism queries DNS */
    if (!count_lookup(c))
        return why(c, SPF_PERMERROR, "more than %d DNS lookups (RFC 7208 4.6.4): an include "
                   "loop, or too many include/a/mx/exists terms", SPF_MAX_LOOKUPS);
    if (t->arg) {
        if (expand(c, domain, t->arg, t->arglen, target, sizeof target) < 0)
            return why(c, SPF_PERMERROR, "%s: %s:%.*s: bad macro", domain, n,
                       (int)(t->arglen > 100 ? 100 : t->arglen), t->arg);
    } else {
        snprintf(target, sizeof target, "%s", domain);
    }
    if (!domain_ok(target)) {
        if (!strcmp(n, "include"))
            return why(c, SPF_PERMERROR, "%s: include:%s is not a domain", domain, target);
        return SPF_NONE;        /* 4.8: no match */
    }
    if (!strcmp(n, "ptr"))
        return SPF_NONE;        /* deprecated (5.5): never matches here */
    if (!strcmp(n, "include")) {
        c->depth++;
        enum spf_result r = check(c, target);
        c->depth--;
        switch (r) {
        case SPF_PASS: *matched = 1; return SPF_NONE;
        case SPF_FAIL: case SPF_SOFTFAIL: case SPF_NEUTRAL:
            c->out->reason[0] = '\0';   /* not the deciding reason */
            return SPF_NONE;
        case SPF_TEMPERROR: return SPF_TEMPERROR;
        default: return SPF_PERMERROR;  /* none: 5.2, the reason says why */
        }
    }
    if (!strcmp(n, "exists")) {
        const struct spf_answer *a = ask(c, target, SPF_RR_A);
        if (a->status == SPF_DNS_TEMP)
            return why(c, SPF_TEMPERROR, "exists:%s: DNS lookup failed temporarily", target);
        if (!count_void(c, a))
            return why(c, SPF_PERMERROR, "more than %d void DNS lookups (RFC 7208 4.6.4)",
                       SPF_MAX_VOIDS);
        *matched = a->status == SPF_DNS_OK && a->n > 0;
        return SPF_NONE;
    }
    if (!strcmp(n, "a")) {
        int m = addr_match(c, target, t->cidr4, t->cidr6, 1);
        if (m == -1)
            return why(c, SPF_TEMPERROR, "a:%s: DNS lookup failed temporarily", target);
        if (m == -2)
            return why(c, SPF_PERMERROR, "more than %d void DNS lookups (RFC 7208 4.6.4)",
                       SPF_MAX_VOIDS);
        *matched = m == 1;
        return SPF_NONE;
    }
    /* mx */
    const struct spf_answer *mx = ask(c, target, SPF_RR_MX);
    if (mx->status == SPF_DNS_TEMP)
        return why(c, SPF_TEMPERROR, "mx:%s: DNS lookup failed temporarily", target);
    if (!count_void(c, mx))
        return why(c, SPF_PERMERROR, "more than %d void DNS lookups (RFC 7208 4.6.4)",
                   SPF_MAX_VOIDS);
    if (mx->status == SPF_DNS_OK && mx->n > SPF_MAX_MX)
        return why(c, SPF_PERMERROR, "mx:%s: more than %d MX hosts (RFC 7208 4.6.4)", target,
                   SPF_MAX_MX);
    for (size_t i = 0; mx->status == SPF_DNS_OK && i < mx->n; i++) {
        char host[NAME_LEN];
        snprintf(host, sizeof host, "%s", mx->rr[i]);
        size_t hl = strlen(host);
        if (hl > 1 && host[hl - 1] == '.')
            host[hl - 1] = '\0';
        if (!domain_ok(host))
            continue;
        int m = addr_match(c, host, t->cidr4, t->cidr6, 0);
        if (m == -1)
            return why(c, SPF_TEMPERROR, "mx:%s: address of %s: DNS lookup failed "
                       "temporarily", target, host);
        if (m == 1) {
            *matched = 1;
            break;
        }
    }
    return SPF_NONE;
}

enum spf_result spf_check_host(const char *ip, const char *domain, const char *sender,
                               spf_lookup_fn lookup, void *arg, struct spf_eval *out)
{
    memset(out, 0, sizeof *out);
    struct ctx *c = calloc(1, sizeof *c);
    if (!c) {
        out->result = SPF_TEMPERROR;
        snprintf(out->reason, sizeof out->reason, "out of memory");
        return out->result;
    }
    c->lookup = lookup;
    c->arg = arg;
    c->out = out;
    char dom[NAME_LEN];
    snprintf(dom, sizeof dom, "%s", domain);
    size_t dl = strlen(dom);
    if (dl > 1 && dom[dl - 1] == '.')
        dom[dl - 1] = '\0';
    char snd[320];
    snprintf(snd, sizeof snd, "%s", sender ? sender : "");
    if (!sender || !*sender)
        snprintf(snd, sizeof snd, "postmaster@%s", dom);
    c->sender = snd;
    if (inet_addr_parse(ip, &c->family, c->ip) < 0) {
        out->result = why(c, SPF_PERMERROR, "%s is not an IP address", ip);
    } else {
        inet_ntop(c->family, c->ip, c->iptext, sizeof c->iptext);
        out->result = domain_ok(dom) ? check(c, dom)
                                     : why(c, SPF_NONE, "%s is not a domain name", dom);
    }
    free(c);
    return out->result;
}

int spf_record_includes(const char *record, const char *domain)
{
    size_t pos = 0, len, dl = strlen(domain);
    const char *s;
    if (!spf_is_record(record))
        return 0;
    pos = 6;
    while (next_term(record, &pos, &s, &len)) {
        if (len && strchr("+-~?", s[0])) {
            s++;
            len--;
        }
        if (len == 8 + dl && strncasecmp(s, "include:", 8) == 0 &&
            strncasecmp(s + 8, domain, dl) == 0)
            return 1;
    }
    return 0;
}

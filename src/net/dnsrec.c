/* dnsrec — the expected DNS records of a mail domain (dnsrec.h). Pure. */
#include "dnsrec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../util/inet.h"
#include "../util/sbuf.h"

#define NAME_MAX_LEN 253

/* Providers' SPF include: for their customers, by the relayhost's domain
 * (a suffix on a label boundary; the more specific first). Only values the
 * providers document; anything else is "ask the provider". */
static const struct provider {
    const char *suffix, *include, *name;
} providers[] = {
    { "gmail.com", "_spf.google.com", "Google (Gmail, Google Workspace)" },
    { "googlemail.com", "_spf.google.com", "Google (Gmail, Google Workspace)" },
    { "google.com", "_spf.google.com", "Google (Gmail, Google Workspace)" },
    { "office365.com", "spf.protection.outlook.com", "Microsoft 365" },
    { "outlook.com", "spf.protection.outlook.com", "Microsoft 365" },
    { "exmail.qq.com", "spf.mail.qq.com", "Tencent Exmail" },
    { "qq.com", "spf.mail.qq.com", "Tencent QQ Mail" },
    { "163.com", "spf.163.com", "NetEase (163)" },
    { "126.com", "spf.163.com", "NetEase (126)" },
    { "yeah.net", "spf.163.com", "NetEase (yeah.net)" },
    { "qiye.aliyun.com", "spf.qiye.aliyun.com", "Alibaba Mail" },
    { "smtpdm.aliyun.com", "spf1.dm.aliyun.com", "Alibaba Cloud DirectMail" },
    { "amazonaws.com", "amazonses.com", "Amazon SES" },
    { "sendgrid.net", "sendgrid.net", "SendGrid" },
    { "mailgun.org", "mailgun.org", "Mailgun" },
};

int dnsrec_name_ok(const char *name, int underscore)
{
    size_t len = strlen(name), label = 0, labels = 1;
    if (len == 0 || len > NAME_MAX_LEN || name[0] == '.' || name[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return 0;
            label = 0;
            labels++;
        } else if (isalnum(c) || (c == '-' && label > 0) || (c == '_' && underscore)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return name[len - 1] != '-' && labels >= 2;
}

int dnsrec_ptr_name(const char *text, char *out, size_t outlen)
{
    int family;
    unsigned char a[16];
    if (inet_addr_parse(text, &family, a) < 0)
        return -1;
    size_t n = 0;
    int w;
    if (family == AF_INET) {
        w = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa.", a[3], a[2], a[1], a[0]);
        return w < 0 || (size_t)w >= outlen ? -1 : 0;
    }
    static const char hex[] = "0123456789abcdef";
    if (outlen < 32 * 2 + sizeof "ip6.arpa.")
        return -1;
    for (int i = 15; i >= 0; i--) {
        out[n++] = hex[a[i] & 0xf];
        out[n++] = '.';
        out[n++] = hex[a[i] >> 4];
        out[n++] = '.';
    }
    memcpy(out + n, "ip6.arpa.", sizeof "ip6.arpa.");
    return 0;
}

/* The host of a relayhost ("[host]:port", "host:port", "host") into out,
 * lower case. 0, or -1 when there is none. */
static int relay_host(const char *relayhost, char *out, size_t outlen)
{
    const char *s = relayhost, *e;
    if (*s == '[') {
        s++;
        e = strchr(s, ']');
    } else {
        e = strrchr(s, ':');
    }
    if (!e)
        e = s + strlen(s);
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return 0;
}

static int suffix_match(const char *host, const char *suffix)
{
    size_t h = strlen(host), s = strlen(suffix);
    if (h < s || strcmp(host + h - s, suffix) != 0)
        return 0;
    return h == s || host[h - s - 1] == '.';
}

const char *dnsrec_spf_include(const char *relayhost, const char **provider)
{
    char host[256];
    if (!relayhost || relay_host(relayhost, host, sizeof host) < 0)
        return NULL;
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++) {
        if (suffix_match(host, providers[i].suffix)) {
            if (provider)
                *provider = providers[i].name;
            return providers[i].include;
        }
    }
    return NULL;
}

static const char unknown_note[] =
    "the relayhost is not in postern's table of providers: ask the provider which "
    "include: its customers put in their SPF record (its outgoing servers are rarely "
    "the host you submit to) and use it instead of a:";

void dnsrec_spf_value(const struct dnsrec_input *in, struct sbuf *b, const char **note)
{
    char host[256];
    *note = NULL;
    sbuf_str(b, "v=spf1");
    if (in->relayhost && *in->relayhost && relay_host(in->relayhost, host, sizeof host) == 0) {
        int family;
        unsigned char a[16];
        const char *inc = dnsrec_spf_include(in->relayhost, NULL);
        if (inet_addr_parse(host, &family, a) == 0) {
            char t[INET6_ADDRSTRLEN];
            inet_ntop(family, a, t, sizeof t);
            sbuf_printf(b, " %s:%s", family == AF_INET ? "ip4" : "ip6", t);
        } else if (inc) {
            sbuf_printf(b, " include:%s", inc);
        } else {
            sbuf_printf(b, " a:%s", host);
            *note = unknown_note;
        }
    } else {
        sbuf_str(b, " mx");
        if (in->ipv4)
            sbuf_printf(b, " ip4:%s", in->ipv4);
        if (in->ipv6)
            sbuf_printf(b, " ip6:%s", in->ipv6);
    }
    sbuf_str(b, " -all");
}

/* One character-string of n bytes of s, quoted and escaped. */
static void txt_string(struct sbuf *b, const char *s, size_t n)
{
    sbuf_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sbuf_printf(b, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            sbuf_printf(b, "\\%03u", c);
        else
            sbuf_char(b, (char)c);
    }
    sbuf_char(b, '"');
}

size_t dnsrec_txt_append(struct sbuf *b, const char *value, size_t max, const char *sep)
{
    size_t len = strlen(value), off = 0, count = 0;
    if (max == 0 || max > DNSREC_TXT_STRING_MAX)
        max = DNSREC_TXT_STRING_MAX;
    /* when the value needs several strings anyway, a "p=" tag (after
     * "; ") starts one: "v=DKIM1; k=rsa; " "p=..." */
    size_t brk = 0;
    for (const char *p = len > max ? strstr(value, "p=") : NULL; p; p = strstr(p + 1, "p=")) {
        size_t at = (size_t)(p - value);
        size_t back = at;
        while (back > 0 && value[back - 1] == ' ')
            back--;
        if (back > 0 && value[back - 1] == ';') {
            brk = at;
            break;
        }
    }
    do {
        size_t n = len - off;
        if (brk > off && brk - off < n)
            n = brk - off;
        if (n > max)
            n = max;
        if (count++)
            sbuf_str(b, sep);
        txt_string(b, value + off, n);
        off += n;
    } while (off < len);
    return count;
}

void dnsrec_zone_append(struct sbuf *b, const struct dnsrec *r)
{
    const char *c = r->in_zone ? "" : "; ";
    sbuf_printf(b, "%s%s\tIN\t%s\t", c, r->name, r->type);
    if (strcmp(r->type, "TXT") != 0) {
        sbuf_printf(b, "%s\n", r->value);
        return;
    }
    if (strlen(r->value) <= DNSREC_TXT_STRING_MAX) {
        dnsrec_txt_append(b, r->value, DNSREC_TXT_STRING_MAX, "");
        sbuf_char(b, '\n');
        return;
    }
    char sep[16];
    snprintf(sep, sizeof sep, "\n%s\t", c);
    sbuf_str(b, "( ");
    dnsrec_txt_append(b, r->value, DNSREC_TXT_STRING_MAX, sep);
    sbuf_str(b, " )\n");
}

static int lower_copy(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n > 0 && in[n - 1] == '.')
        n--;                    /* "example.com." is the same name */
    if (n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
    return 0;
}

static int add(struct dnsrec_list *l, enum dnsrec_role role, const char *type, int in_zone,
               const char *note, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int add(struct dnsrec_list *l, enum dnsrec_role role, const char *type, int in_zone,
               const char *note, const char *value, const char *fmt, ...)
{
    struct dnsrec *v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return -1;
    l->v = v;
    struct dnsrec *r = &v[l->n];
    memset(r, 0, sizeof *r);
    r->role = role;
    r->type = type;
    r->in_zone = in_zone;
    va_list ap;
    va_start(ap, fmt);
    int w = vasprintf(&r->name, fmt, ap);
    va_end(ap);
    if (w < 0) {
        r->name = NULL;
        return -1;
    }
    r->value = strdup(value);
    r->note = note ? strdup(note) : NULL;
    l->n++;
    return r->value && (!note || r->note) ? 0 : -1;
}

/* A DMARC rua address: local@domain, no character that would need
 * escaping in a DMARC URI list (',' '!' ';') or a TXT string. */
static int report_addr_ok(const char *a, const char **domain)
{
    const char *at = strrchr(a, '@');
    if (!at || at == a || strlen(a) > 254)
        return 0;
    for (const char *p = a; p < at; p++)
        if (*p <= ' ' || *p > '~' || strchr("\"\\,;!<>()[]:@", *p))
            return 0;
    *domain = at + 1;
    return dnsrec_name_ok(at + 1, 0);
}

static int in_domain(const char *name, const char *domain)
{
    return strcmp(name, domain) == 0 || suffix_match(name, domain);
}

void dnsrec_list_free(struct dnsrec_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
        free(l->v[i].note);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* An address of the given family in canonical text. 0 or -1. */
static int addr_text(const char *text, int want, char *out, size_t outlen)
{
    int family;
    unsigned char a[16];
    if (inet_addr_parse(text, &family, a) < 0 || family != want)
        return -1;
    return inet_ntop(family, a, out, (socklen_t)outlen) ? 0 : -1;
}

int dnsrec_build(const struct dnsrec_input *in, struct dnsrec_list *out, char *err,
                 size_t errlen)
{
    char dom[NAME_MAX_LEN + 2], host[NAME_MAX_LEN + 2], v4[INET_ADDRSTRLEN] = "",
         v6[INET6_ADDRSTRLEN] = "", ptr[80];
    out->n = 0;
    out->v = NULL;
    if (!in->domain || lower_copy(in->domain, dom, sizeof dom) < 0 || !dnsrec_name_ok(dom, 0)) {
        snprintf(err, errlen, "domain %s is not a domain name (e.g. example.com)",
                 in->domain ? in->domain : "(none)");
        return -1;
    }
    if (!in->myhostname || lower_copy(in->myhostname, host, sizeof host) < 0 ||
        !dnsrec_name_ok(host, 0)) {
        snprintf(err, errlen, "myhostname %s is not a fully qualified host name: set it to "
                 "this relay's public name, e.g. mail.%s",
                 in->myhostname ? in->myhostname : "(none)", dom);
        return -1;
    }
    if (in->ipv4 && addr_text(in->ipv4, AF_INET, v4, sizeof v4) < 0) {
        snprintf(err, errlen, "%s is not an IPv4 address", in->ipv4);
        return -1;
    }
    if (in->ipv6 && addr_text(in->ipv6, AF_INET6, v6, sizeof v6) < 0) {
        snprintf(err, errlen, "%s is not an IPv6 address", in->ipv6);
        return -1;
    }
    if (!*v4 && !*v6) {
        snprintf(err, errlen, "give the relay's public address (IPv4, IPv6 or both)");
        return -1;
    }
    const char *rdom = NULL;
    char report[300];
    if (in->report_to) {
        if (!report_addr_ok(in->report_to, &rdom)) {
            snprintf(err, errlen, "%s is not an address for DMARC reports (name@domain)",
                     in->report_to);
            return -1;
        }
        snprintf(report, sizeof report, "%s", in->report_to);
    } else {
        snprintf(report, sizeof report, "postmaster@%s", dom);
    }
    if (in->ndkim > DNSREC_MAX_DKIM) {
        snprintf(err, errlen, "at most %d DKIM keys", DNSREC_MAX_DKIM);
        return -1;
    }
    for (size_t i = 0; i < in->ndkim; i++) {
        char sel[NAME_MAX_LEN + 20];
        snprintf(sel, sizeof sel, "%s._domainkey.%s", in->dkim[i].selector, dom);
        if (strchr(in->dkim[i].selector, '.') == in->dkim[i].selector ||
            !dnsrec_name_ok(sel, 1)) {
            snprintf(err, errlen, "DKIM selector %s: letters, digits, '-' and '.' only",
                     in->dkim[i].selector);
            return -1;
        }
    }

    struct dnsrec_list l = { 0, NULL };
    int hz = in_domain(host, dom), rc = 0;
    char buf[600], note[600];
    snprintf(buf, sizeof buf, "10 %s.", host);
    rc |= add(&l, DNSREC_MX, "MX", 1,
              "where mail for the domain is delivered; keep your existing MX instead when "
              "the domain's mailboxes are hosted elsewhere", buf, "%s.", dom);
    snprintf(note, sizeof note, "the address of %s%s", host,
             hz ? "" : "; it is outside the domain: publish it in its own zone");
    if (*v4)
        rc |= add(&l, DNSREC_ADDR, "A", hz, note, v4, "%s.", host);
    if (*v6)
        rc |= add(&l, DNSREC_ADDR, "AAAA", hz, note, v6, "%s.", host);

    struct sbuf spf = SBUF_INIT;
    const char *spf_note, *provider = NULL;
    struct dnsrec_input sin = *in;
    sin.ipv4 = *v4 ? v4 : NULL;
    sin.ipv6 = *v6 ? v6 : NULL;
    dnsrec_spf_value(&sin, &spf, &spf_note);
    if (!spf_note && in->relayhost && *in->relayhost &&
        dnsrec_spf_include(in->relayhost, &provider))
        snprintf(note, sizeof note, "SPF: mail leaves through the relayhost %s (%s); one "
                 "SPF record per name: merge other senders' include: into it",
                 in->relayhost, provider);
    else if (spf_note)
        snprintf(note, sizeof note, "SPF: %s", spf_note);
    else
        snprintf(note, sizeof note, "SPF: the hosts allowed to send mail from @%s; one SPF "
                 "record per name: merge other senders' include: into it", dom);
    rc |= spf.oom ? -1 : add(&l, DNSREC_SPF, "TXT", 1, note, spf.s, "%s.", dom);
    sbuf_free(&spf);

    for (size_t i = 0; i < in->ndkim; i++) {
        snprintf(note, sizeof note, "DKIM: the public key of selector %s",
                 in->dkim[i].selector);
        rc |= add(&l, DNSREC_DKIM, "TXT", 1, note, in->dkim[i].value, "%s._domainkey.%s.",
                  in->dkim[i].selector, dom);
    }

    snprintf(buf, sizeof buf, "v=DMARC1; p=none; rua=mailto:%s", report);
    int n = snprintf(note, sizeof note,
                     "DMARC: p=none only asks for reports (to %s); when they show your mail "
                     "passing SPF or DKIM for a few weeks, move to p=quarantine, then "
                     "p=reject", report);
    if (rdom && !in_domain(rdom, dom) && n > 0 && (size_t)n < sizeof note)
        snprintf(note + n, sizeof note - (size_t)n, "; %s must allow the reports with "
                 "%s._report._dmarc.%s TXT \"v=DMARC1\" (RFC 7489 7.1)", rdom, dom, rdom);
    rc |= add(&l, DNSREC_DMARC, "TXT", 1, note, buf, "_dmarc.%s.", dom);

    snprintf(buf, sizeof buf, "%s.", host);
    snprintf(note, sizeof note, "PTR: not in your zone: ask whoever gives you the address "
             "(hosting or VPS provider) to set its reverse DNS to %s; receivers check that "
             "it resolves back to the address", host);
    if (*v4 && dnsrec_ptr_name(v4, ptr, sizeof ptr) == 0)
        rc |= add(&l, DNSREC_PTR, "PTR", 0, note, buf, "%s", ptr);
    if (*v6 && dnsrec_ptr_name(v6, ptr, sizeof ptr) == 0)
        rc |= add(&l, DNSREC_PTR, "PTR", 0, note, buf, "%s", ptr);
    if (rc) {
        dnsrec_list_free(&l);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = l;
    return 0;
}

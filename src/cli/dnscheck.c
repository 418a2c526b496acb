/* dnscheck — `postern dns check` (dnscheck.h).
 *
 * The expected records come from net/dnsrec with the inputs `dns
 * records` uses; each is looked up through c-ares (the configuration's
 * dns_servers) on an event loop of our own, driven one query at a time
 * until its answer comes or its deadline passes — a command-line tool
 * waits, the daemon never does this. Answers are cached for the run, so
 * the SPF evaluator (net/spf, pure, fed by a lookup function) and the
 * other checks ask each name once.
 *
 * Statuses: ok; missing (no such record); mismatch (a record, not the
 * expected one, or an SPF result other than pass); invalid (a record
 * receivers reject: SPF permerror, a DMARC or DKIM syntax error, two
 * records where one is allowed); tempfail (DNS did not answer: nothing
 * is known). Checks that do not matter for sending through a relayhost
 * (MX, A/AAAA, PTR) are informational then: reported, never failing. */
#include "dnscheck.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../config/config.h"
#include "../net/authrec.h"
#include "../net/dns.h"
#include "../net/dnsrec.h"
#include "../net/spf.h"
#include "../util/inet.h"
#include "../util/sbuf.h"

#define QUERY_TIMEOUT_MS 10000
#define MAX_CACHE 256

enum cstatus { C_OK, C_MISSING, C_MISMATCH, C_INVALID, C_TEMPFAIL };
static const char *const status_names[] = { "ok", "missing", "mismatch", "invalid",
                                            "tempfail" };

struct cached {
    char name[256];
    enum dns_qtype type;
    int done;
    enum dns_status status;
    int nxdomain;
    char error[320];
    size_t n;
    char *rr[DNS_ANSWER_MAX];
    const char *spf_rr[DNS_ANSWER_MAX];     /* MX: the host part */
    struct spf_answer sa;
};

struct item {
    const char *role, *type;
    char name[300];
    const char *expected;
    enum cstatus status;
    int required;
    struct sbuf found;          /* "\n" between values */
    struct sbuf detail;         /* sentences for the operator */
    struct sbuf spf;            /* JSON array of {ip, result, reason} */
};

struct chk {
    const struct config *cfg;
    const struct dnsrec_input *in;
    const char *const *keypaths;
    struct event_base *base;
    struct dns *dns;
    struct cached *cache[MAX_CACHE];
    size_t ncache;
    int relay;                  /* relayhost set: mail leaves through it */
    char domain[256], host[256];
    int dkim_ok;                /* some DKIM record matches its key */
    int spf_ok;                 /* SPF passes for the relay's addresses */
    const char *spf_include;    /* the relay provider's include:, NULL */
};

/* ------------------------------------------------------------------------ */
/* waiting for answers */

static void got_answer(void *arg, const struct dns_answer *a)
{
    struct cached *e = arg;
    e->done = 1;
    e->status = a->status;
    e->nxdomain = a->nxdomain;
    snprintf(e->error, sizeof e->error, "%s", a->error);
    for (size_t i = 0; i < a->n; i++) {
        char *s = strdup(a->rr[i]);
        if (!s)
            break;
        e->rr[e->n] = s;
        const char *sp = e->type == DNS_Q_MX ? strchr(s, ' ') : NULL;
        e->spf_rr[e->n++] = sp ? sp + 1 : s;
    }
}

/* The answer for (name, type), asked once per run. NULL when out of room. */
static const struct cached *ask(struct chk *c, const char *name, enum dns_qtype type)
{
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i]->type == type && strcasecmp(c->cache[i]->name, name) == 0)
            return c->cache[i];
    if (c->ncache == MAX_CACHE)
        return NULL;
    struct cached *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = type;
    c->cache[c->ncache++] = e;
    dns_query(c->dns, name, type, QUERY_TIMEOUT_MS, got_answer, e);
    /* the query's deadline is an event: the loop always has one pending */
    while (!e->done) {
        int r = event_base_loop(c->base, EVLOOP_ONCE);
        if (r < 0 || (r == 1 && !e->done))     /* failed, or nothing left to wait for */
            break;
    }
    if (!e->done) {
        e->done = 1;
        e->status = DNS_TEMPFAIL;
        snprintf(e->error, sizeof e->error, "event loop failed");
    }
    e->sa.status = e->status == DNS_OK ? SPF_DNS_OK
                   : e->status == DNS_TEMPFAIL ? SPF_DNS_TEMP : SPF_DNS_NOTFOUND;
    e->sa.n = e->n;
    e->sa.rr = e->spf_rr;
    return e;
}

static const struct spf_answer *spf_lookup(void *arg, const char *name, enum spf_rrtype t)
{
    static const enum dns_qtype map[] = { DNS_Q_TXT, DNS_Q_A, DNS_Q_AAAA, DNS_Q_MX };
    const struct cached *e = ask(arg, name, map[t]);
    return e ? &e->sa : NULL;
}

/* ------------------------------------------------------------------------ */
/* items */

static void found_all(struct item *it, const struct cached *e)
{
    for (size_t i = 0; e && i < e->n; i++) {
        if (it->found.len)
            sbuf_char(&it->found, '\n');
        sbuf_str(&it->found, e->rr[i]);
    }
}

/* An answer that is not OK: tempfail or missing, with its reason. */
static void not_found(struct item *it, const struct cached *e, const char *what)
{
    if (!e || e->status == DNS_TEMPFAIL) {
        it->status = C_TEMPFAIL;
        sbuf_printf(&it->detail, "DNS did not answer (%s): nothing is known; try again",
                    e ? e->error : "out of memory");
    } else {
        it->status = C_MISSING;
        sbuf_printf(&it->detail, "%s%s", what, e->nxdomain ? " (the name does not exist)" : "");
    }
}

static void name_noslash(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        n--;
    snprintf(out, outlen, "%.*s", (int)n, name);
}

static void check_mx(struct chk *c, struct item *it)
{
    const struct cached *e = ask(c, c->domain, DNS_Q_MX);
    found_all(it, e);
    if (!e || e->status != DNS_OK) {
        not_found(it, e, "no MX record");
    } else {
        it->status = C_MISMATCH;
        for (size_t i = 0; i < e->n; i++)
            if (strcasecmp(e->spf_rr[i], c->host) == 0)
                it->status = C_OK;
        if (it->status != C_OK)
            sbuf_printf(&it->detail, "the MX hosts are not %s: right when the domain's "
                        "mailboxes are hosted elsewhere", c->host);
    }
    if (c->relay)
        sbuf_printf(&it->detail, "%sinformational: MX is where mail to %s is received; "
                    "postern sends through the relayhost", it->detail.len ? "; " : "",
                    c->domain);
}

static void check_addr(struct chk *c, struct item *it)
{
    int v6 = strcmp(it->type, "AAAA") == 0;
    const struct cached *e = ask(c, c->host, v6 ? DNS_Q_AAAA : DNS_Q_A);
    found_all(it, e);
    if (!e || e->status != DNS_OK) {
        not_found(it, e, v6 ? "no AAAA record" : "no A record");
        return;
    }
    it->status = C_MISMATCH;
    unsigned char want[16], got[16];
    int fw, fg;
    inet_addr_parse(it->expected, &fw, want);
    for (size_t i = 0; i < e->n; i++)
        if (inet_addr_parse(e->rr[i], &fg, got) == 0 && fg == fw &&
            memcmp(want, got, fw == AF_INET ? 4 : 16) == 0)
            it->status = C_OK;
    if (it->status != C_OK)
        sbuf_printf(&it->detail, "%s does not resolve to %s", c->host, it->expected);
}

/* The PTR of addr (the item's name is its reverse name). */
static void check_ptr(struct chk *c, struct item *it, const char *addr)
{
    const struct cached *e = ask(c, it->name, DNS_Q_PTR);
    found_all(it, e);
    if (!e || e->status != DNS_OK) {
        not_found(it, e, "no PTR record: ask your hosting provider to set the reverse DNS");
        return;
    }
    int family;
    unsigned char want[16];
    inet_addr_parse(addr, &family, want);
    const char *confirmed = NULL;
    int temp = 0;
    for (size_t i = 0; i < e->n && !confirmed; i++) {
        const struct cached *f = ask(c, e->rr[i], family == AF_INET ? DNS_Q_A : DNS_Q_AAAA);
        temp |= !f || f->status == DNS_TEMPFAIL;
        for (size_t k = 0; f && k < f->n && !confirmed; k++) {
            unsigned char got[16];
            int fg;
            if (inet_addr_parse(f->rr[k], &fg, got) == 0 && fg == family &&
                memcmp(got, want, family == AF_INET ? 4 : 16) == 0)
                confirmed = e->rr[i];
        }
    }
    if (confirmed && strcasecmp(confirmed, c->host) == 0) {
        it->status = C_OK;
        sbuf_printf(&it->detail, "%s resolves back to %s (forward-confirmed)", confirmed, addr);
    } else if (confirmed) {
        it->status = C_MISMATCH;
        sbuf_printf(&it->detail, "%s resolves back to %s (forward-confirmed), but it is not "
                    "myhostname %s, the name postern gives in EHLO: ask for %s, or set "
                    "myhostname = %s", confirmed, addr, c->host, c->host, confirmed);
    } else if (temp) {
        it->status = C_TEMPFAIL;
        sbuf_printf(&it->detail, "DNS did not answer for the address of %s: try again",
                    e->rr[0]);
    } else {
        it->status = C_MISMATCH;
        sbuf_printf(&it->detail, "%s does not resolve back to %s: receivers see an address "
                    "without forward-confirmed reverse DNS", e->rr[0], addr);
    }
}

static void check_dkim(struct chk *c, struct item *it, const char *keypath)
{
    const struct cached *e = ask(c, it->name, DNS_Q_TXT);
    found_all(it, e);
    if (!e || e->status != DNS_OK) {
        not_found(it, e, "no DKIM record: publish the value above");
        return;
    }
    struct authrec_dkim want, got;
    char err[300];
    if (authrec_dkim_parse(it->expected, &want, err, sizeof err) < 0) {
        it->status = C_INVALID;
        sbuf_printf(&it->detail, "the key's own record: %s", err);
        return;
    }
    if (e->n > 1) {
        it->status = C_INVALID;
        sbuf_printf(&it->detail, "%zu TXT records at this name: publish exactly one",
                    e->n);
        return;
    }
    if (authrec_dkim_parse(e->rr[0], &got, err, sizeof err) < 0) {
        it->status = C_INVALID;
        sbuf_printf(&it->detail, "not a DKIM key record: %s", err);
        return;
    }
    if (!got.p[0]) {
        it->status = C_MISMATCH;
        sbuf_printf(&it->detail, "the published key is revoked (empty p=)");
    } else if (strcmp(got.k, want.k) != 0 || strcmp(got.p, want.p) != 0) {
        it->status = C_MISMATCH;
        sbuf_printf(&it->detail, "the published key is not the key in %s", keypath);
    } else {
        it->status = C_OK;
        sbuf_printf(&it->detail, "the published key is the key in %s", keypath);
        c->dkim_ok = 1;
    }
}

/* The addresses mail leaves from, to evaluate SPF for: --ip/--ipv6
 * without a relayhost; a relayhost given as an address; else the
 * relayhost's addresses (an unknown provider: what a:HOST allows). */
static size_t spf_addrs(struct chk *c, char addrs[4][INET6_ADDRSTRLEN], struct item *it)
{
    size_t n = 0;
    if (!c->relay) {
        if (c->in->ipv4)
            snprintf(addrs[n++], INET6_ADDRSTRLEN, "%s", c->in->ipv4);
        if (c->in->ipv6)
            snprintf(addrs[n++], INET6_ADDRSTRLEN, "%s", c->in->ipv6);
        return n;
    }
    char host[256];
    const char *r = c->cfg->relayhost, *s = r[0] == '[' ? r + 1 : r;
    size_t len = r[0] == '[' && strchr(s, ']') ? (size_t)(strchr(s, ']') - s)
                 : strrchr(s, ':') && !strchr(strchr(s, ':') + 1, ':') ? (size_t)(strrchr(s, ':') - s)
                 : strlen(s);
    snprintf(host, sizeof host, "%.*s", (int)len, s);
    int family;
    unsigned char a[16];
    if (inet_addr_parse(host, &family, a) == 0) {
        inet_ntop(family, a, addrs[n++], INET6_ADDRSTRLEN);
        return n;
    }
    for (int v6 = 0; v6 < 2; v6++) {
        const struct cached *e = ask(c, host, v6 ? DNS_Q_AAAA : DNS_Q_A);
        if (e && e->n && n < 4)
            snprintf(addrs[n++], INET6_ADDRSTRLEN, "%s", e->rr[0]);
    }
    if (n)
        sbuf_printf(&it->detail, "evaluated for the relayhost %s's address%s (its provider "
                    "may send from others: ask it for its SPF include:); ", host,
                    n > 1 ? "es" : "");
    else
        sbuf_printf(&it->detail, "the relayhost %s has no address in DNS; ", host);
    return n;
}

static enum cstatus spf_status(enum spf_result r)
{
    switch (r) {
    case SPF_PASS: return C_OK;
    case SPF_NONE: return C_MISSING;
    case SPF_TEMPERROR: return C_TEMPFAIL;
    case SPF_PERMERROR: return C_INVALID;
    default: return C_MISMATCH;
    }
}

/* Worse of two statuses: invalid > mismatch > missing > tempfail > ok. */
static enum cstatus worse(enum cstatus a, enum cstatus b)
{
    static const int rank[] = { 0, 2, 3, 4, 1 };
    return rank[b] > rank[a] ? b : a;
}

static void spf_json(struct item *it, const char *ip, const struct spf_eval *ev)
{
    sbuf_str(&it->spf, it->spf.len ? ", {\"ip\": " : "[{\"ip\": ");
    sbuf_json(&it->spf, ip);
    sbuf_printf(&it->spf, ", \"result\": \"%s\", \"lookups\": %u, \"reason\": ",
                spf_result_name(ev->result), ev->lookups);
    sbuf_json(&it->spf, ev->reason);
    sbuf_char(&it->spf, '}');
}

static void check_spf(struct chk *c, struct item *it)
{
    char sender[300], addrs[4][INET6_ADDRSTRLEN];
    snprintf(sender, sizeof sender, "postmaster@%s", c->domain);
    const struct cached *e = ask(c, c->domain, DNS_Q_TXT);
    for (size_t i = 0; e && i < e->n; i++)
        if (spf_is_record(e->rr[i])) {
            if (it->found.len)
                sbuf_char(&it->found, '\n');
            sbuf_str(&it->found, e->rr[i]);
        }
    struct spf_eval ev;
    if (c->spf_include) {
        /* a provider's servers cannot be known: its include: must be there,
         * and the record must evaluate without error (any address will do) */
        spf_check_host("192.0.2.1", c->domain, sender, spf_lookup, c, &ev);
        if (ev.result == SPF_NONE || ev.result == SPF_PERMERROR ||
            ev.result == SPF_TEMPERROR) {
            it->status = spf_status(ev.result);
            sbuf_str(&it->detail, ev.reason);
        } else if (spf_record_includes(ev.record, c->spf_include)) {
            it->status = C_OK;
            c->spf_ok = 1;
            sbuf_printf(&it->detail, "the record includes %s, the relayhost %s's servers",
                        c->spf_include, c->cfg->relayhost);
        } else {
            it->status = C_MISMATCH;
            sbuf_printf(&it->detail, "the record does not include:%s: mail through the "
                        "relayhost %s fails SPF", c->spf_include, c->cfg->relayhost);
        }
        return;
    }
    size_t n = spf_addrs(c, addrs, it);
    if (n == 0) {
        it->status = C_MISMATCH;
        sbuf_str(&it->detail, "no address to evaluate SPF for");
        return;
    }
    it->status = C_OK;
    for (size_t i = 0; i < n; i++) {
        spf_check_host(addrs[i], c->domain, sender, spf_lookup, c, &ev);
        it->status = i ? worse(it->status, spf_status(ev.result)) : spf_status(ev.result);
        sbuf_printf(&it->detail, "%s%s for %s: %s", i ? "; " : "", spf_result_name(ev.result),
                    addrs[i], ev.reason);
        spf_json(it, addrs[i], &ev);
    }
    if (it->spf.len)
        sbuf_char(&it->spf, ']');
    c->spf_ok = it->status == C_OK;
}

static void check_dmarc(struct chk *c, struct item *it)
{
    const struct cached *e = ask(c, it->name, DNS_Q_TXT);
    size_t nd = 0;
    const char *rec = NULL;
    for (size_t i = 0; e && i < e->n; i++)
        if (authrec_dmarc_like(e->rr[i])) {
            nd++;
            rec = e->rr[i];
            if (it->found.len)
                sbuf_char(&it->found, '\n');
            sbuf_str(&it->found, e->rr[i]);
        }
    if (!e || e->status == DNS_TEMPFAIL || nd == 0) {
        not_found(it, e, e && e->status == DNS_OK ? "no TXT record here starts with v=DMARC1"
                                                  : "no DMARC record");
        return;
    }
    if (nd > 1) {
        it->status = C_INVALID;
        sbuf_printf(&it->detail, "%zu DMARC records: receivers then apply none "
                    "(RFC 7489 6.6.3); publish exactly one", nd);
        return;
    }
    struct authrec_dmarc d;
    char err[300];
    if (authrec_dmarc_parse(rec, &d, err, sizeof err) < 0) {
        it->status = C_INVALID;
        sbuf_str(&it->detail, err);
        return;
    }
    /* alignment: DKIM d= is the From: domain itself (the signer signs with
     * the key of the From: domain); SPF checks the envelope sender's domain */
    int spf_rewritten = 0;
    for (size_t i = 0; c->cfg->sender_canonical_maps && c->cfg->sender_canonical_maps[0] &&
                       i < c->cfg->sender_canonical_classes.n; i++)
        spf_rewritten |= strcmp(c->cfg->sender_canonical_classes.v[i], "envelope_sender") == 0;
    int dkim_al = c->dkim_ok, spf_al = c->spf_ok && !spf_rewritten;
    if (c->in->ndkim == 0)
        sbuf_printf(&it->detail, "DKIM: no key for %s, nothing signed; ", c->domain);
    else
        sbuf_printf(&it->detail, "DKIM: d=%s is the From: domain (aligned, adkim=%c)%s; ",
                    c->domain, d.adkim, dkim_al ? "" : " but its key record is not ok");
    if (spf_rewritten)
        sbuf_printf(&it->detail, "SPF: sender_canonical_maps rewrites the envelope sender: "
                    "when it becomes an upstream account's address in another domain, SPF "
                    "passes for that domain, not aligned with %s, and DMARC rests on DKIM; ",
                    c->domain);
    else
        sbuf_printf(&it->detail, "SPF: the envelope sender @%s is the From: domain "
                    "(aligned, aspf=%c)%s; ", c->domain, d.aspf,
                    c->spf_ok ? "" : " but SPF does not pass");
    if (dkim_al || spf_al) {
        it->status = C_OK;
    } else {
        it->status = C_MISMATCH;
        sbuf_printf(&it->detail, "mail From: %s fails DMARC: neither DKIM nor SPF passes "
                    "aligned; ", c->domain);
    }
    if (strcmp(d.p, "none") == 0)
        sbuf_str(&it->detail, "p=none only asks for reports: when they show your mail "
                 "passing aligned for a few weeks, move to p=quarantine, then p=reject");
    else
        sbuf_printf(&it->detail, "p=%s%s", d.p, d.pct < 100 ? " (on part of the mail: pct=)"
                                                           : "");
    if (d.warning[0])
        sbuf_printf(&it->detail, "; %s", d.warning);
}

/* ------------------------------------------------------------------------ */
/* output */

static void print_text(struct sbuf *b, struct item *it, size_t n, const struct chk *c,
                       int bad, int temp, const char *warning)
{
    sbuf_printf(b, "DNS check of %s (myhostname %s%s%s)\n\n", c->domain, c->host,
                c->relay ? ", relayhost " : "", c->relay ? c->cfg->relayhost : "");
    for (size_t i = 0; i < n; i++) {
        const struct item *r = &it[i];
        char st[16];
        snprintf(st, sizeof st, "%s", status_names[r->status]);
        if (r->status != C_OK)
            for (char *p = st; *p; p++)
                *p = (char)(*p - 'a' + 'A');
        sbuf_printf(b, "%-9s %-5s %-8s%s%s\n", st, r->type, r->role, r->name,
                    r->required ? "" : "  (informational)");
        if (r->status != C_OK)
            sbuf_printf(b, "          expected: %s\n", r->expected);
        const char *f = r->found.s;
        if (r->status != C_OK || r->role[0] == 's' || r->role[0] == 'd') {
            for (int first = 1; f && *f; first = 0) {
                const char *nl = strchr(f, '\n');
                size_t len = nl ? (size_t)(nl - f) : strlen(f);
                sbuf_printf(b, "          %s %.*s\n", first ? "found:   " : "         ",
                            (int)len, f);
                f = nl ? nl + 1 : f + len;
            }
        }
        if (r->detail.len)
            sbuf_printf(b, "          %s\n", r->detail.s);
    }
    if (warning)
        sbuf_printf(b, "\nwarning: %s\n", warning);
    if (!bad && !temp)
        sbuf_printf(b, "\nall %zu records ok\n", n);
    else
        sbuf_printf(b, "\n%d of %zu records to fix%s\n", bad, n,
                    temp ? ", and some could not be looked up (try again)" : "");
}

static void print_json(struct sbuf *b, struct item *it, size_t n, const struct chk *c,
                       int ok, const char *warning)
{
    sbuf_str(b, "{\"domain\": ");
    sbuf_json(b, c->domain);
    sbuf_str(b, ", \"myhostname\": ");
    sbuf_json(b, c->host);
    sbuf_printf(b, ", \"ok\": %s, \"checks\": [", ok ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        const struct item *r = &it[i];
        sbuf_printf(b, "%s{\"role\": \"%s\", \"type\": \"%s\", \"name\": ", i ? ",\n  " : "\n  ",
                    r->role, r->type);
        sbuf_json(b, r->name);
        sbuf_printf(b, ", \"status\": \"%s\", \"required\": %s, \"expected\": ",
                    status_names[r->status], r->required ? "true" : "false");
        sbuf_json(b, r->expected);
        sbuf_str(b, ", \"found\": [");
        const char *f = r->found.s;
        for (int first = 1; f && *f; first = 0) {
            const char *nl = strchr(f, '\n');
            size_t len = nl ? (size_t)(nl - f) : strlen(f);
            char *one = strndup(f, len);
            if (!first)
                sbuf_str(b, ", ");
            sbuf_json(b, one ? one : "");
            free(one);
            f = nl ? nl + 1 : f + len;
        }
        sbuf_str(b, "], \"detail\": ");
        sbuf_json(b, r->detail.s ? r->detail.s : "");
        if (r->spf.len)
            sbuf_printf(b, ", \"spf\": %s", r->spf.s);
        sbuf_char(b, '}');
    }
    sbuf_str(b, "],\n \"warnings\": [");
    if (warning)
        sbuf_json(b, warning);
    sbuf_str(b, "]}\n");
}

/* ------------------------------------------------------------------------ */

/* No --ip: myhostname's first A and AAAA (the relay's addresses as DNS
 * has them). 0, or -1 with a message printed. */
static int addrs_from_dns(struct chk *c, struct dnsrec_input *in, char *v4, char *v6)
{
    const struct cached *a = ask(c, c->host, DNS_Q_A), *aaaa = ask(c, c->host, DNS_Q_AAAA);
    if (a && a->n)
        in->ipv4 = strcpy(v4, a->rr[0]);
    if (aaaa && aaaa->n)
        in->ipv6 = strcpy(v6, aaaa->rr[0]);
    if (in->ipv4 || in->ipv6)
        return 0;
    int temp = !a || !aaaa || a->status == DNS_TEMPFAIL || aaaa->status == DNS_TEMPFAIL;
    fprintf(stderr, "postern: myhostname %s has no address in DNS%s: give the relay's public "
            "address with --ip (and --ipv6)\n", c->host,
            temp ? " (the lookup failed temporarily)" : "");
    return temp ? -2 : -1;
}

int dnscheck_run(const struct config *cfg, struct dnsrec_input *in,
                 const char *const *keypaths, int json)
{
    struct chk c = { .cfg = cfg, .in = in, .keypaths = keypaths };
    char err[400], v4[INET6_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];
    int rc = DNSCHECK_EXIT_FIX;
    struct dnsrec_list l = { 0, NULL };
    struct item *items = NULL;
    size_t n = 0;
    name_noslash(in->domain, c.domain, sizeof c.domain);
    for (char *p = c.domain; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    name_noslash(in->myhostname, c.host, sizeof c.host);
    c.relay = cfg->relayhost && cfg->relayhost[0];
    c.spf_include = c.relay ? dnsrec_spf_include(cfg->relayhost, NULL) : NULL;
    if (c.relay && c.spf_include) {
        /* a relayhost given as an address is evaluated by address */
        char h[256];
        const char *r = cfg->relayhost;
        snprintf(h, sizeof h, "%s", r[0] == '[' ? r + 1 : r);
        int fam;
        unsigned char a[16];
        if (strchr(h, ']'))
            *strchr(h, ']') = '\0';
        if (inet_addr_parse(h, &fam, a) == 0)
            c.spf_include = NULL;
    }
    c.base = event_base_new();
    if (!c.base) {
        fprintf(stderr, "postern: cannot create an event loop\n");
        return 1;
    }
    c.dns = dns_new(c.base, cfg->dns_servers.v, cfg->dns_servers.n, err, sizeof err);
    if (!c.dns) {
        fprintf(stderr, "postern: %s\n", err);
        goto out;
    }
    if (!in->ipv4 && !in->ipv6) {
        int r = addrs_from_dns(&c, in, v4, v6);
        if (r < 0) {
            rc = r == -2 ? DNSCHECK_EXIT_TEMP : DNSCHECK_EXIT_FIX;
            goto out;
        }
    }
    if (dnsrec_build(in, &l, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        rc = 2;
        goto out;
    }
    items = calloc(l.n, sizeof *items);
    if (!items) {
        fprintf(stderr, "postern: out of memory\n");
        goto out;
    }
    /* DKIM first: DMARC's verdict needs its result; printed in dnsrec's order */
    static const enum dnsrec_role order[] = { DNSREC_MX, DNSREC_ADDR, DNSREC_SPF,
                                              DNSREC_DKIM, DNSREC_PTR, DNSREC_DMARC };
    size_t dk = 0, ptrs = 0;
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (size_t i = 0; i < l.n; i++) {
            const struct dnsrec *r = &l.v[i];
            if (r->role != order[o])
                continue;
            struct item *it = &items[i];
            static const char *const roles[] = { "mx", "address", "spf", "dkim", "dmarc",
                                                 "ptr" };
            it->role = roles[r->role];
            it->type = r->type;
            it->expected = r->value;
            name_noslash(r->name, it->name, sizeof it->name);
            it->required = !c.relay || (r->role != DNSREC_MX && r->role != DNSREC_ADDR &&
                                        r->role != DNSREC_PTR);
            switch (r->role) {
            case DNSREC_MX: check_mx(&c, it); break;
            case DNSREC_ADDR: check_addr(&c, it); break;
            case DNSREC_SPF: check_spf(&c, it); break;
            case DNSREC_DKIM: check_dkim(&c, it, keypaths[dk++]); break;
            case DNSREC_DMARC: check_dmarc(&c, it); break;
            case DNSREC_PTR:
                check_ptr(&c, it, ptrs++ == 0 && in->ipv4 ? in->ipv4 : in->ipv6);
                break;
            }
            n = i + 1 > n ? i + 1 : n;
        }
    }
    int bad = 0, temp = 0;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].required)
            continue;
        bad += items[i].status != C_OK && items[i].status != C_TEMPFAIL;
        temp += items[i].status == C_TEMPFAIL;
    }
    char nokey[800] = "";
    if (in->ndkim == 0)
        snprintf(nokey, sizeof nokey, "DKIM: no key for %s (--key, or dkim_private_key / "
                 "dkim_key_table in the configuration): mail is not signed; make one with "
                 "`postern dkim keygen --domain %s --selector mail`", c.domain, c.domain);
    struct sbuf b = SBUF_INIT;
    if (json)
        print_json(&b, items, n, &c, !bad && !temp, *nokey ? nokey : NULL);
    else
        print_text(&b, items, n, &c, bad, temp, *nokey ? nokey : NULL);
    if (b.oom) {
        fprintf(stderr, "postern: out of memory\n");
    } else {
        fwrite(b.s, 1, b.len, stdout);
        rc = fflush(stdout) != 0 ? 1 : bad ? DNSCHECK_EXIT_FIX
             : temp ? DNSCHECK_EXIT_TEMP : DNSCHECK_EXIT_OK;
    }
    sbuf_free(&b);
out:
    for (size_t i = 0; items && i < l.n; i++) {
        sbuf_free(&items[i].found);
        sbuf_free(&items[i].detail);
        sbuf_free(&items[i].spf);
    }
    free(items);
    dnsrec_list_free(&l);
    dns_free(c.dns);
    event_base_free(c.base);
    for (size_t i = 0; i < c.ncache; i++) {
        for (size_t k = 0; k < c.cache[i]->n; k++)
            free(c.cache[i]->rr[k]);
        free(c.cache[i]);
    }
    return rc;
}

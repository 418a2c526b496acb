/* dns_check — the lookups behind the SMTP server's DNS restrictions and
 * its client name (see dns.h), on the shared c-ares channel.
 *
 * A check (struct dns_req) owns its memory and counts its outstanding
 * c-ares operations. When its result is final, its "done" event runs the
 * callback from the event loop (never inside dns_lookup_*() nor inside
 * c-ares). Its deadline, when it passes first, runs the callback with a
 * temporary failure at once; the queries still under way then finish on
 * their own (bounded by the channel's timeouts) and free the check, as a
 * cancelled one does. dns_free answers what is still owed with "resolver
 * shut down". */
#include "net/dns.h"
#include "net/dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define NQ 3                            /* queries of one check at most */

enum req_kind { RK_PEER, RK_CHECK };

struct dns_req;

struct dns_qarg {
    struct dns_req *r;
    int idx;
};

struct dns_req {
    struct dns *d;
    struct dns_req *prev, *next;
    enum req_kind rk;
    enum dns_check_kind kind;
    dns_peer_cb pcb;
    dns_check_cb ccb;
    void *arg;
    unsigned pending;                   /* c-ares operations outstanding */
    int complete;                       /* the result is final */
    int delivered;                      /* callback run, or cancelled */
    int txt_done;                       /* DNSXL: the TXT query was made */
    struct event *done_ev, *deadline;
    char name[256];
    /* peer */
    int family;
    unsigned char addr[16];
    char addrstr[INET6_ADDRSTRLEN];
    struct dns_peer_result peer;
    /* check */
    int st[NQ];                         /* ares status per query */
    int mx_null;
    struct dns_qarg qa[NQ];
    struct dns_check_result res;
};

/* ------------------------------------------------------------------------ */
/* pure */

int dns_reverse_name(const char *addr, const char *zone, char *out, size_t outlen)
{
    unsigned char b[16];
    size_t o = 0;
    int n;
    if (!outlen)
        return -1;
    out[0] = '\0';
    if (inet_pton(AF_INET, addr, b) == 1) {
        n = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], zone);
        return n < 0 || (size_t)n >= outlen ? -1 : 0;
    }
    if (inet_pton(AF_INET6, addr, b) != 1)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        if (o + 4 >= outlen)
            return -1;
        out[o++] = hex[b[i] & 0xf];
        out[o++] = '.';
        out[o++] = hex[b[i] >> 4];
        out[o++] = '.';
    }
    n = snprintf(out + o, outlen - o, "%s", zone);
    return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}

/* Postfix's valid_hostname, enough for a PTR answer: letters, digits,
 * '-', '_' and dots, labels of 1..63, not all numeric. */
static int ptr_name_ok(const char *s)
{
    size_t len = strlen(s), label = 0;
    int alpha = 0;
    if (len == 0 || len > 255)
        return 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (label == 0 && p[1] != '\0')
                return 0;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            if (++label > 63)
                return 0;
            if (!isdigit(c))
                alpha = 1;
        } else {
            return 0;
        }
    }
    return alpha;
}

/* ------------------------------------------------------------------------ */
/* life cycle */

static void req_free(struct dns_req *r)
{
    struct dns *d = r->d;
    if (r->prev)
        r->prev->next = r->next;
    else if (d->checks == r)
        d->checks = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->done_ev)
        event_free(r->done_ev);
    if (r->deadline)
        event_free(r->deadline);
    free(r);
}

/* Run the callback once (res: what to tell), then free the check unless
 * its queries are still under way. */
static void deliver(struct dns_req *r, const struct dns_peer_result *pres,
                    const struct dns_check_result *cres)
{
    r->delivered = 1;
    if (r->deadline)
        evtimer_del(r->deadline);
    if (r->rk == RK_PEER)
        r->pcb(r->arg, pres);
    else
        r->ccb(r->arg, cres);
    if (r->pending == 0)
        req_free(r);
}

static void temp_results(const struct dns_req *r, const char *why,
                         struct dns_peer_result *p, struct dns_check_result *c)
{
    memset(p, 0, sizeof *p);
    p->name_status = p->reverse_status = DNS_PEER_TEMP;
    snprintf(p->name, sizeof p->name, "unknown");
    snprintf(p->reverse_name, sizeof p->reverse_name, "unknown");
    snprintf(p->warning, sizeof p->warning, "%s: hostname lookup: %s", r->addrstr, why);
    memset(c, 0, sizeof *c);
    c->status = DNS_TEMPFAIL;
    snprintf(c->error, sizeof c->error, "%.250s: %s", r->name, why);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_req *r = arg;
    deliver(r, &r->peer, &r->res);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_req *r = arg;
    if (r->delivered)
        return;
    struct dns_peer_result p;
    struct dns_check_result c;
    temp_results(r, "timed out", &p, &c);
    deliver(r, &p, &c);
}

/* The result is final: tell the user on a later pass, or free a check
 * nobody waits for any more. */
static void req_complete(struct dns_req *r)
{
    r->complete = 1;
    if (r->delivered) {
        req_free(r);
        return;
    }
    if (!r->d->closing)
        event_active(r->done_ev, EV_TIMEOUT, 1);
    /* closing: dns_checks_shutdown delivers it */
}

static struct dns_req *req_new(struct dns *d, enum req_kind rk, long long timeout_ms)
{
    struct dns_req *r = dns_xcalloc(1, sizeof *r);
    r->d = d;
    r->rk = rk;
    r->done_ev = event_new(d->base, -1, 0, on_done, r);
    if (!r->done_ev)
        abort();
    if (timeout_ms > 0) {
        r->deadline = evtimer_new(d->base, on_deadline, r);
        if (!r->deadline)
            abort();
        struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
        evtimer_add(r->deadline, &tv);
    }
    r->next = d->checks;
    if (d->checks)
        d->checks->prev = r;
    d->checks = r;
    return r;
}

void dns_cancel(struct dns_req *r)
{
    if (!r || r->delivered)
        return;
    r->delivered = 1;
    if (r->pending == 0)
        req_free(r);
    else if (r->deadline)
        evtimer_del(r->deadline);
}

void dns_checks_shutdown(struct dns *d)
{
    while (d->checks) {
        struct dns_req *r = d->checks;
        if (r->delivered) {
            req_free(r);
            continue;
        }
        r->pending = 0;     /* the channel is gone: nothing more will come */
        if (r->complete) {
            deliver(r, &r->peer, &r->res);
        } else {
            struct dns_peer_result p;
            struct dns_check_result c;
            temp_results(r, "resolver shut down", &p, &c);
            deliver(r, &p, &c);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* the client's name */

static enum dns_peer peer_code(int st)
{
    return st == ARES_ENOTFOUND || st == ARES_ENODATA || st == ARES_EBADNAME
               ? DNS_PEER_PERM : DNS_PEER_TEMP;
}

static void fwd_cb(void *arg, int status, int timeouts, struct hostent *h)
{
    (void)timeouts;
    struct dns_req *r = arg;
    struct dns_peer_result *p = &r->peer;
    r->pending--;
    if (r->delivered && r->pending == 0) {
        req_complete(r);
        return;
    }
    size_t alen = r->family == AF_INET ? 4 : 16;
    int match = 0;
    if (status == ARES_SUCCESS && h && h->h_addrtype == r->family && h->h_length == (int)alen)
        for (char **a = h->h_addr_list; a && *a && !match; a++)
            match = memcmp(*a, r->addr, alen) == 0;
    if (match) {
        p->name_status = DNS_PEER_OK;
        snprintf(p->name, sizeof p->name, "%s", p->reverse_name);
    } else if (status == ARES_SUCCESS) {
        p->name_status = DNS_PEER_FORGED;
        snprintf(p->warning, sizeof p->warning, "hostname %s does not resolve to address %s",
                 p->reverse_name, r->addrstr);
    } else {
        p->name_status = peer_code(status) == DNS_PEER_TEMP ? DNS_PEER_TEMP : DNS_PEER_FORGED;
        snprintf(p->warning, sizeof p->warning, "hostname %s does not resolve to address %s: %s",
                 p->reverse_name, r->addrstr, ares_strerror(status));
    }
    req_complete(r);
}

static void ptr_cb(void *arg, int status, int timeouts, struct hostent *h)
{
    (void)timeouts;
    struct dns_req *r = arg;
    struct dns_peer_result *p = &r->peer;
    r->pending--;
    if (r->delivered) {
        req_complete(r);
        return;
    }
    if (status == ARES_SUCCESS && r->d->closing)
        status = ARES_EDESTRUCTION;
    if (status != ARES_SUCCESS || !h || !h->h_name) {
        p->reverse_status = p->name_status = peer_code(status);
        if (p->reverse_status == DNS_PEER_TEMP)
            snprintf(p->warning, sizeof p->warning, "%s: address not listed for hostname "
                     "lookup: %s", r->addrstr, ares_strerror(status));
        req_complete(r);
        return;
    }
    char name[256];
    snprintf(name, sizeof name, "%s", h->h_name);
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[n - 1] = '\0';
    if (!ptr_name_ok(name)) {
        p->reverse_status = p->name_status = DNS_PEER_PERM;
        snprintf(p->warning, sizeof p->warning, "%s: hostname lookup: malformed or numeric "
                 "name in the PTR record", r->addrstr);
        req_complete(r);
        return;
    }
    p->reverse_status = DNS_PEER_OK;
    snprintf(p->reverse_name, sizeof p->reverse_name, "%s", name);
    r->pending++;
    ares_gethostbyname(r->d->ch, p->reverse_name, r->family, fwd_cb, r);
    dns_timer_update(r->d);
}

struct dns_req *dns_lookup_peer(struct dns *d, const struct sockaddr *sa,
                                long long timeout_ms, dns_peer_cb cb, void *arg)
{
    struct dns_req *r = req_new(d, RK_PEER, timeout_ms);
    struct dns_peer_result *p = &r->peer;
    r->pcb = cb;
    r->arg = arg;
    p->name_status = p->reverse_status = DNS_PEER_PERM;
    snprintf(p->name, sizeof p->name, "unknown");
    snprintf(p->reverse_name, sizeof p->reverse_name, "unknown");
    r->family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(r->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(r->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    if ((r->family != AF_INET && r->family != AF_INET6) ||
        !inet_ntop(r->family, r->addr, r->addrstr, sizeof r->addrstr)) {
        snprintf(r->addrstr, sizeof r->addrstr, "unknown");
        req_complete(r);
        return r;
    }
    snprintf(r->name, sizeof r->name, "%s", r->addrstr);
    if (d->closing) {
        p->name_status = p->reverse_status = DNS_PEER_TEMP;
        req_complete(r);
        return r;
    }
    r->pending++;
    /* c-ares reads the hosts file first ("lookups fb"): localhost is quick */
    ares_gethostbyaddr(d->ch, r->addr, r->family == AF_INET ? 4 : 16, r->family, ptr_cb, r);
    dns_timer_update(d);
    return r;
}

/* ------------------------------------------------------------------------ */
/* names, domains and DNS lists */

static void check_finish(struct dns_req *r)
{
    struct dns_check_result *c = &r->res;
    int found = 0, temp = 0;
    for (int i = 0; i < NQ; i++) {
        found |= r->st[i] == ARES_SUCCESS;
        temp |= dns_status_is_temp(r->st[i]);
    }
    if (r->kind == DNS_CHECK_DOMAIN && r->st[2] == ARES_SUCCESS && r->mx_null) {
        c->status = DNS_NULLMX;
        snprintf(c->error, sizeof c->error, "%.250s: null MX", r->name);
    } else if (r->kind == DNS_CHECK_DNSXL) {
        /* the TXT query adds a reason only */
        c->status = r->st[0] == ARES_SUCCESS ? DNS_OK
                    : dns_status_is_temp(r->st[0]) ? DNS_TEMPFAIL : DNS_NOTFOUND;
        if (c->status != DNS_OK)
            snprintf(c->error, sizeof c->error, "%.250s: %s", r->name, ares_strerror(r->st[0]));
    } else if (found) {
        c->status = DNS_OK;
    } else {
        c->status = temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
        int st = ARES_ENOTFOUND;
        for (int i = 0; i < NQ; i++)
            if (dns_status_is_temp(r->st[i]) == temp && r->st[i] != ARES_SUCCESS)
                st = r->st[i];
        snprintf(c->error, sizeof c->error, "%.250s: %s", r->name, ares_strerror(st));
    }
    if (c->status == DNS_TEMPFAIL && r->d->closing)
        snprintf(c->error, sizeof c->error, "%.250s: resolver shut down", r->name);
    req_complete(r);
}

static void txt_parse(struct dns_req *r, const unsigned char *abuf, int alen)
{
    struct ares_txt_ext *txt = NULL;
    if (ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS)
        return;
    char *o = r->res.txt;
    size_t cap = sizeof r->res.txt, n = 0;
    for (struct ares_txt_ext *t = txt; t; t = t->next) {
        if (t->record_start && n > 0 && n + 3 < cap) {
            memcpy(o + n, " / ", 3);
            n += 3;
        }
        for (size_t i = 0; i < t->length && n + 1 < cap; i++)
            o[n++] = t->txt[i] < 0x20 || t->txt[i] == 0x7f ? ' ' : (char)t->txt[i];
    }
    o[n] = '\0';
    ares_free_data(txt);
}

static void start_queries(struct dns_req *r, const int *types, int n);

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_qarg *qa = arg;
    struct dns_req *r = qa->r;
    int type = r->kind == DNS_CHECK_DNSXL ? (qa->idx == 0 ? T_A : T_TXT)
               : qa->idx == 0 ? T_A : qa->idx == 1 ? T_AAAA : T_MX;
    if (status == ARES_SUCCESS && !r->delivered) {
        if (type == T_A) {
            struct ares_addrttl ttl[DNS_MAX_ADDRS];
            int n = DNS_MAX_ADDRS;
            status = ares_parse_a_reply(abuf, alen, NULL, ttl, &n);
            if (status == ARES_SUCCESS && n == 0)
                status = ARES_ENODATA;
            for (int i = 0; status == ARES_SUCCESS && i < n && r->res.naddr < DNS_MAX_ADDRS; i++)
                memcpy(r->res.addr[r->res.naddr++], &ttl[i].ipaddr, 4);
        } else if (type == T_AAAA) {
            struct ares_addr6ttl ttl[DNS_MAX_ADDRS];
            int n = DNS_MAX_ADDRS;
            status = ares_parse_aaaa_reply(abuf, alen, NULL, ttl, &n);
            if (status == ARES_SUCCESS && n == 0)
                status = ARES_ENODATA;
        } else if (type == T_MX) {
            struct ares_mx_reply *mx = NULL;
            status = ares_parse_mx_reply(abuf, alen, &mx);
            if (status == ARES_SUCCESS && !mx)
                status = ARES_ENODATA;
            if (status == ARES_SUCCESS)
                r->mx_null = !mx->next && mx->priority == 0 &&
                             (!mx->host || !mx->host[0] || strcmp(mx->host, ".") == 0);
            ares_free_data(mx);
        } else {
            txt_parse(r, abuf, alen);
        }
    }
    if (type != T_TXT)
        r->st[qa->idx] = status;
    if (--r->pending > 0)
        return;
    if (r->kind == DNS_CHECK_DNSXL && !r->txt_done && r->st[0] == ARES_SUCCESS &&
        !r->delivered && !r->d->closing) {
        static const int txt[] = { T_TXT };
        r->txt_done = 1;
        start_queries(r, txt, 1);
        return;
    }
    check_finish(r);
}

/* Ask the types (the query arguments follow their index, TXT: 1). */
static void start_queries(struct dns_req *r, const int *types, int n)
{
    r->pending += (unsigned)n + 1;      /* + guard: an answer may come inline */
    for (int i = 0; i < n; i++) {
        int idx = types[i] == T_TXT ? 1 : i;
        r->qa[idx] = (struct dns_qarg){ r, idx };
        ares_query(r->d->ch, r->name, C_IN, types[i], query_cb, &r->qa[idx]);
    }
    dns_timer_update(r->d);
    if (--r->pending == 0)
        check_finish(r);
}

struct dns_req *dns_lookup_check(struct dns *d, enum dns_check_kind kind, const char *name,
                                 long long timeout_ms, dns_check_cb cb, void *arg)
{
    struct dns_req *r = req_new(d, RK_CHECK, timeout_ms);
    r->kind = kind;
    r->ccb = cb;
    r->arg = arg;
    for (int i = 0; i < NQ; i++)
        r->st[i] = ARES_ENODATA;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253) {
        snprintf(r->name, sizeof r->name, "%.200s", name);
        r->st[0] = ARES_EBADNAME;
        check_finish(r);
        return r;
    }
    snprintf(r->name, sizeof r->name, "%.*s", (int)len, name);
    if (d->closing) {
        r->st[0] = ARES_EDESTRUCTION;
        check_finish(r);
        return r;
    }
    static const int addr[] = { T_A, T_AAAA, T_MX };
    static const int a[] = { T_A };
    if (kind == DNS_CHECK_DNSXL)
        start_queries(r, a, 1);
    else
        start_queries(r, addr, 3);
    return r;
}

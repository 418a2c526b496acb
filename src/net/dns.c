/* dns — asynchronous DNS: c-ares (1.18 API) driven by libevent.
 *
 * One c-ares channel per struct dns. c-ares tells us through its socket
 * state callback which sockets to watch; each gets one persistent libevent
 * event (EV_READ and/or EV_WRITE as asked), and one timer follows
 * ares_timeout(). Both call ares_process_fd().
 *
 * A request (struct dns_lookup) owns all its memory: the MX names, the
 * per-host address lists and the result handed to the callback. It counts
 * its outstanding c-ares queries; when the last one is answered the result
 * is built and the request's own "done" event is activated, so the user's
 * callback always runs from the event loop, exactly once, and never inside
 * dns_resolve_*() or inside c-ares's processing. dns_free() destroys the
 * channel (c-ares answers pending queries with ARES_EDESTRUCTION) and then
 * runs every callback still owed, with DNS_TEMPFAIL "resolver shut down"
 * unless the result was already complete. */
#include "net/dns.h"
#include "net/dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/errbuf.h"
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DNS_MAX_MX 10            /* MX hosts resolved and returned */
#define DNS_MAX_MX_RECORDS 1024  /* MX records considered (sorted, then cut) */
#define DNS_TIMEOUT_MS 2000      /* per try; c-ares doubles it on the retry */
#define DNS_TRIES 2

enum req_kind { REQ_MX, REQ_HOST };

struct dns_lookup;

/* Callback argument of one A or AAAA query. */
struct dns_hq {
    struct dns_lookup *req;
    unsigned idx;
    int af;
};

/* One host being resolved. */
struct dns_hostq {
    char name[256];
    int pref;
    int st4, st6;                       /* ares status of the A / AAAA query */
    size_t n4, n6;
    struct in_addr a4[DNS_MAX_ADDRS];
    struct in6_addr a6[DNS_MAX_ADDRS];
    struct dns_hq q4, q6;
};

struct dns_lookup {
    struct dns *d;
    struct dns_lookup *prev, *next;
    dns_cb cb;
    void *arg;
    enum req_kind kind;
    int implicit;                       /* MX: no MX record, the domain itself */
    int finished;
    int shutdown;                       /* a query got ARES_EDESTRUCTION */
    unsigned pending;                   /* outstanding ares queries (+ guard) */
    struct event *done_ev;
    char domain[256];
    size_t nq;
    struct dns_hostq q[DNS_MAX_MX];
    struct dns_host out[DNS_MAX_MX];
    struct dns_result res;
};

/* ares_library_init() is process-global in c-ares < 1.23 (and a no-op on
 * Linux): call it once. This static flag is the only mutable global of the
 * module; it is written once and never reset (no ares_library_cleanup(),
 * which would break other channels). Accepted, single-threaded daemon. */
static int ares_initialised;

/* ------------------------------------------------------------------------ */
/* helpers */

void *dns_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        abort();        /* no way to report: callbacks must not run inline */
    return p;
}

static unsigned dns_rnd(void *arg)
{
    struct dns *d = arg;
    /* xorshift64* */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (unsigned)((d->rng * 2685821657736338717ULL) >> 32);
}

int dns_status_is_temp(int st)
{
    return st != ARES_SUCCESS && st != ARES_ENOTFOUND && st != ARES_ENODATA &&
           st != ARES_EBADNAME;
}

static int status_is_shutdown(int st)
{
    return st == ARES_EDESTRUCTION || st == ARES_ECANCELLED;
}

static int is_root_name(const char *s)
{
    return s[0] == '\0' || (s[0] == '.' && s[1] == '\0');
}

/* "[1.2.3.4]", "[IPv6:::1]", "[::1]", "1.2.3.4", "::1" → address.
 * Returns 1 with *ss filled (port 0), 0 if host is not an IP literal. */
static int parse_ip_literal(const char *host, struct sockaddr_storage *ss)
{
    char buf[256];
    size_t len = strlen(host);
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, host, len + 1);
    char *s = buf;
    if (s[0] == '[' && len >= 2 && s[len - 1] == ']') {
        s[len - 1] = '\0';
        s++;
        if (strncasecmp(s, "IPv6:", 5) == 0)
            s += 5;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* pure: MX ordering */

enum dns_status dns_sort_mx(struct dns_mx *mx, size_t n, unsigned (*rnd)(void *), void *arg)
{
    /* Shuffle everything, then sort stably by preference: equal preferences
     * end up in random order (RFC 5321 5.1). */
    if (rnd) {
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd(arg) % i;
            if (j != i - 1) {
                struct dns_mx t = mx[i - 1];
                mx[i - 1] = mx[j];
                mx[j] = t;
            }
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct dns_mx t = mx[i];
        size_t j = i;
        while (j > 0 && mx[j - 1].pref > t.pref) {
            mx[j] = mx[j - 1];
            j--;
        }
        if (j != i)
            mx[j] = t;
    }
    if (n == 1 && mx[0].pref == 0 && is_root_name(mx[0].name))
        return DNS_NULLMX;
    return DNS_OK;
}

/* ------------------------------------------------------------------------ */
/* libevent <-> c-ares */

void dns_timer_update(struct dns *d)
{
    if (d->closing)
        return;
    struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
    if (tvp)
        evtimer_add(d->timer, tvp);
    else
        evtimer_del(d->timer);
}

static void sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns *d = arg;
    ares_process_fd(d->ch, (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
    dns_timer_update(d);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns *d = arg;
    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_timer_update(d);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    struct dns_sock **pp = &d->socks, *s;
    while ((s = *pp) && s->fd != fd)
        pp = &s->next;
    if (!readable && !writable) {
        if (s) {
            *pp = s->next;
            event_free(s->ev);      /* may be the running event: allowed */
            free(s);
        }
        return;
    }
    short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    if (s && s->what == what)
        return;
    if (!s) {
        s = dns_xcalloc(1, sizeof *s);
        s->fd = fd;
        s->next = d->socks;
        d->socks = s;
    } else {
        event_free(s->ev);
    }
    s->what = what;
    s->ev = event_new(d->base, fd, what | EV_PERSIST, sock_cb, d);
    if (!s->ev)
        abort();
    event_add(s->ev, NULL);
}

/* ------------------------------------------------------------------------ */
/* requests */

static void done_cb(evutil_socket_t fd, short what, void *arg);

static struct dns_lookup *req_new(struct dns *d, enum req_kind kind, const char *name,
                               dns_cb cb, void *arg)
{
    struct dns_lookup *r = dns_xcalloc(1, sizeof *r);
    r->d = d;
    r->cb = cb;
    r->arg = arg;
    r->kind = kind;
    snprintf(r->domain, sizeof r->domain, "%s", name);
    r->done_ev = event_new(d->base, -1, 0, done_cb, r);
    if (!r->done_ev)
        abort();
    r->next = d->reqs;
    if (d->reqs)
        d->reqs->prev = r;
    d->reqs = r;
    return r;
}

static void req_unlink(struct dns_lookup *r)
{
    struct dns *d = r->d;
    if (r->prev)
        r->prev->next = r->next;
    else
        d->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void finish(struct dns_lookup *r, enum dns_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct dns_lookup *r, enum dns_status st, const char *fmt, ...)
{
    r->finished = 1;
    r->res.status = st;
    r->res.error[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->res.error, sizeof r->res.error, fmt, ap);
        va_end(ap);
    }
    if (st != DNS_OK)
        r->res.nhosts = 0;
    r->res.hosts = r->out;
    /* dns_free() delivers what is left on the list itself */
    if (!r->d->closing)
        event_active(r->done_ev, EV_TIMEOUT, 1);
}

static void req_deliver(struct dns_lookup *r)
{
    /* unlinked first: the callback may call dns_free() or resolve again */
    event_free(r->done_ev);
    r->done_ev = NULL;
    r->cb(r->arg, &r->res);
    free(r);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_lookup *r = arg;
    req_unlink(r);
    req_deliver(r);
}

static void finish_shutdown(struct dns_lookup *r)
{
    finish(r, DNS_TEMPFAIL, "resolver shut down");
}

/* All A/AAAA queries are answered: build the result. */
static void hosts_done(struct dns_lookup *r)
{
    size_t nout = 0;
    int any_temp = 0, any_notfound = 0;
    const char *fail_name = NULL;
    int fail_st = ARES_ENODATA;

    for (size_t i = 0; i < r->nq; i++) {
        struct dns_hostq *q = &r->q[i];
        struct dns_host *h = &r->out[nout];
        memset(h, 0, sizeof *h);
        snprintf(h->name, sizeof h->name, "%s", q->name);
        h->pref = q->pref;
        for (size_t k = 0; k < q->n4 && h->naddr < DNS_MAX_ADDRS; k++) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&h->addr[h->naddr++];
            sin->sin_family = AF_INET;
            sin->sin_addr = q->a4[k];
        }
        for (size_t k = 0; k < q->n6 && h->naddr < DNS_MAX_ADDRS; k++) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&h->addr[h->naddr++];
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = q->a6[k];
        }
        if (h->naddr > 0) {
            nout++;
            continue;
        }
        /* this host is dropped; remember why */
        int st = dns_status_is_temp(q->st4) ? q->st4 : dns_status_is_temp(q->st6) ? q->st6
                 : (q->st4 == ARES_ENOTFOUND || q->st6 == ARES_ENOTFOUND) ? ARES_ENOTFOUND
                 : ARES_ENODATA;
        if (dns_status_is_temp(st)) {
            if (!any_temp) {
                fail_name = q->name;
                fail_st = st;
            }
            any_temp = 1;
        } else {
            if (st == ARES_ENOTFOUND)
                any_notfound = 1;
            if (!fail_name) {
                fail_name = q->name;
                fail_st = st;
            }
        }
    }
    memset(&r->out[nout], 0, sizeof r->out[0] * (DNS_MAX_MX - nout));
    r->res.nhosts = nout;
    if (r->shutdown) {
        finish_shutdown(r);
        return;
    }
    if (nout > 0) {
        finish(r, DNS_OK, NULL);
        return;
    }
    enum dns_status st = any_temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
    const char *why = fail_st == ARES_ENODATA ? "no A or AAAA record" : ares_strerror(fail_st);
    if (!fail_name)
        fail_name = r->domain;
    if (r->kind == REQ_HOST)
        finish(r, st, "address lookup of %s: %s", r->domain, why);
    else if (r->implicit)
        finish(r, st, "MX lookup of %s: no MX record; address lookup of %s: %s",
               r->domain, fail_name, why);
    else if (r->nq == 1)
        finish(r, st, "MX lookup of %s: MX host %s: %s", r->domain, fail_name, why);
    else
        finish(r, st, "MX lookup of %s: none of %zu MX hosts has an address (%s: %s%s)",
               r->domain, r->nq, fail_name, why,
               (any_temp && any_notfound) ? "; others not found" : "");
}

static void query_done(struct dns_lookup *r)
{
    if (--r->pending == 0)
        hosts_done(r);
}

static void host_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_hq *hq = arg;
    struct dns_lookup *r = hq->req;
    struct dns_hostq *q = &r->q[hq->idx];

    if (status_is_shutdown(status))
        r->shutdown = 1;
    if (status == ARES_SUCCESS) {
        if (hq->af == AF_INET) {
            struct ares_addrttl ttl[DNS_MAX_ADDRS];
            int n = DNS_MAX_ADDRS;
            status = ares_parse_a_reply(abuf, alen, NULL, ttl, &n);
            if (status == ARES_SUCCESS) {
                for (int i = 0; i < n && q->n4 < DNS_MAX_ADDRS; i++)
                    q->a4[q->n4++] = ttl[i].ipaddr;
                if (q->n4 == 0)
                    status = ARES_ENODATA;
            }
        } else {
            struct ares_addr6ttl ttl[DNS_MAX_ADDRS];
            int n = DNS_MAX_ADDRS;
            status = ares_parse_aaaa_reply(abuf, alen, NULL, ttl, &n);
            if (status == ARES_SUCCESS) {
                for (int i = 0; i < n && q->n6 < DNS_MAX_ADDRS; i++)
                    memcpy(&q->a6[q->n6++], &ttl[i].ip6addr, sizeof q->a6[0]);
                if (q->n6 == 0)
                    status = ARES_ENODATA;
            }
        }
    }
    if (hq->af == AF_INET)
        q->st4 = status;
    else
        q->st6 = status;
    query_done(r);
}

/* Resolve r->q[0..nq) (A and AAAA of each, all in parallel). */
static void start_hosts(struct dns_lookup *r)
{
    struct dns *d = r->d;
    if (d->closing) {
        finish_shutdown(r);
        return;
    }
    r->pending = 1;     /* guard: a query may be answered inside ares_query */
    for (size_t i = 0; i < r->nq; i++) {
        struct dns_hostq *q = &r->q[i];
        q->q4 = (struct dns_hq){ r, (unsigned)i, AF_INET };
        q->q6 = (struct dns_hq){ r, (unsigned)i, AF_INET6 };
        q->st4 = q->st6 = ARES_ENODATA;
        r->pending += 2;
        ares_query(d->ch, q->name, C_IN, T_A, host_cb, &q->q4);
        ares_query(d->ch, q->name, C_IN, T_AAAA, host_cb, &q->q6);
    }
    dns_timer_update(d);
    query_done(r);
}

static void start_implicit(struct dns_lookup *r)
{
    r->implicit = 1;
    r->nq = 1;
    snprintf(r->q[0].name, sizeof r->q[0].name, "%s", r->domain);
    r->q[0].pref = 0;
    start_hosts(r);
}

static void mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_lookup *r = arg;
    r->pending--;

    if (status_is_shutdown(status) || r->d->closing) {
        finish_shutdown(r);
        return;
    }
    struct ares_mx_reply *reply = NULL;
    if (status == ARES_SUCCESS)
        status = ares_parse_mx_reply(abuf, alen, &reply);
    if (status == ARES_ENODATA) {       /* NOERROR, no MX: implicit MX */
        start_implicit(r);
        return;
    }
    if (status == ARES_ENOTFOUND || status == ARES_EBADNAME) {
        finish(r, DNS_NOTFOUND, "MX lookup of %s: %s", r->domain, ares_strerror(status));
        return;
    }
    if (status != ARES_SUCCESS) {
        finish(r, DNS_TEMPFAIL, "MX lookup of %s: %s", r->domain, ares_strerror(status));
        return;
    }

    size_t n = 0;
    for (struct ares_mx_reply *m = reply; m; m = m->next)
        if (n < DNS_MAX_MX_RECORDS)
            n++;
    struct dns_mx *mx = calloc(n ? n : 1, sizeof *mx);
    if (!mx) {
        ares_free_data(reply);
        finish(r, DNS_TEMPFAIL, "MX lookup of %s: out of memory", r->domain);
        return;
    }
    size_t i = 0;
    for (struct ares_mx_reply *m = reply; m && i < n; m = m->next, i++) {
        snprintf(mx[i].name, sizeof mx[i].name, "%s", m->host ? m->host : "");
        mx[i].pref = m->priority;
    }
    ares_free_data(reply);

    if (n == 0) {
        free(mx);
        start_implicit(r);
        return;
    }
    if (dns_sort_mx(mx, n, dns_rnd, r->d) == DNS_NULLMX) {
        free(mx);
        finish(r, DNS_NULLMX, "domain %s does not accept mail (null MX, RFC 7505)",
               r->domain);
        return;
    }
    /* keep the first DNS_MAX_MX distinct usable names, in order */
    r->nq = 0;
    for (i = 0; i < n && r->nq < DNS_MAX_MX; i++) {
        if (is_root_name(mx[i].name))
            continue;
        int dup = 0;
        for (size_t k = 0; k < r->nq && !dup; k++)
            dup = strcasecmp(r->q[k].name, mx[i].name) == 0;
        if (dup)
            continue;
        memcpy(r->q[r->nq].name, mx[i].name, sizeof r->q[0].name);
        r->q[r->nq].pref = mx[i].pref;
        r->nq++;
    }
    free(mx);
    if (r->nq == 0) {
        finish(r, DNS_NOTFOUND, "MX lookup of %s: no usable MX host", r->domain);
        return;
    }
    start_hosts(r);
}

/* A name c-ares can be asked about: 1..253 octets (+ a final dot). */
static int name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '.')
        len--;
    return len > 0 && len <= 253;
}

/* ------------------------------------------------------------------------ */
/* public */

/* "ip", "ip:port", "[ip]" or "[ip]:port" (a bare IPv6 address has no port).
 * Parsed here and handed to ares_set_servers_ports() rather than joined
 * for ares_set_servers_ports_csv(): same effect, but a bad entry is named
 * in the error instead of failing the whole list with ARES_EBADSTR. */
static int parse_server(const char *s, struct ares_addr_port_node *node)
{
    char buf[128];
    const char *host = s;
    long port = 53;
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len + 1);
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (!end)
            return -1;
        *end = '\0';
        host = buf + 1;
        if (end[1] == ':') {
            char *ep;
            port = strtol(end + 2, &ep, 10);
            if (end[2] == '\0' || *ep != '\0')
                return -1;
        } else if (end[1] != '\0') {
            return -1;
        }
    } else {
        char *colon = strchr(buf, ':');
        if (colon && strchr(colon + 1, ':') == NULL) {    /* ipv4:port */
            char *ep;
            *colon = '\0';
            port = strtol(colon + 1, &ep, 10);
            if (colon[1] == '\0' || *ep != '\0')
                return -1;
        }
        host = buf;     /* ipv4, or a bare ipv6 address without port */
    }
    if (port < 1 || port > 65535)
        return -1;
    memset(node, 0, sizeof *node);
    if (inet_pton(AF_INET, host, &node->addr.addr4) == 1)
        node->family = AF_INET;
    else if (inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
        node->family = AF_INET6;
    else
        return -1;
    node->udp_port = node->tcp_port = (int)port;
    return 0;
}

struct dns *dns_new(struct event_base *base, char *const *servers, size_t nservers,
                    char *err, size_t errlen)
{
    if (!ares_initialised) {
        int rc = ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) {
            errbuf_set(err, errlen, "c-ares initialisation: %s", ares_strerror(rc));
            return NULL;
        }
        ares_initialised = 1;
    }

    struct ares_addr_port_node *nodes = NULL;
    if (nservers > 0) {
        nodes = calloc(nservers, sizeof *nodes);
        if (!nodes) {
            errbuf_set(err, errlen, "DNS resolver: out of memory");
            return NULL;
        }
        for (size_t i = 0; i < nservers; i++) {
            if (parse_server(servers[i], &nodes[i]) < 0) {
                errbuf_set(err, errlen,
                           "invalid DNS server \"%s\" (expected ip, ip:port or [ipv6]:port)",
                           servers[i]);
                free(nodes);
                return NULL;
            }
            nodes[i].next = i + 1 < nservers ? &nodes[i + 1] : NULL;
        }
    }

    struct dns *d = calloc(1, sizeof *d);
    if (!d) {
        free(nodes);
        errbuf_set(err, errlen, "DNS resolver: out of memory");
        return NULL;
    }
    d->base = base;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)d;
    d->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;

    struct ares_options opt;
    memset(&opt, 0, sizeof opt);
    opt.timeout = DNS_TIMEOUT_MS;
    opt.tries = DNS_TRIES;
    opt.sock_state_cb = sock_state_cb;
    opt.sock_state_cb_data = d;
    int rc = ares_init_options(&d->ch, &opt,
                               ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    if (rc != ARES_SUCCESS) {
        errbuf_set(err, errlen, "DNS resolver initialisation: %s", ares_strerror(rc));
        free(nodes);
        free(d);
        return NULL;
    }
    if (nodes) {
        rc = ares_set_servers_ports(d->ch, nodes);
        free(nodes);
        if (rc != ARES_SUCCESS) {
            errbuf_set(err, errlen, "setting DNS servers: %s", ares_strerror(rc));
            ares_destroy(d->ch);
            free(d);
            return NULL;
        }
    }
    d->timer = evtimer_new(base, timer_cb, d);
    if (!d->timer) {
        errbuf_set(err, errlen, "DNS resolver: cannot create timer");
        ares_destroy(d->ch);
        free(d);
        return NULL;
    }
    return d;
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    d->closing = 1;
    /* answers every pending query with ARES_EDESTRUCTION (→ finish) and
     * closes its sockets (→ sock_state_cb frees their events) */
    ares_destroy(d->ch);
    while (d->socks) {
        struct dns_sock *s = d->socks;
        d->socks = s->next;
        event_free(s->ev);
        free(s);
    }
    event_free(d->timer);
    dns_checks_shutdown(d);
    dns_queries_shutdown(d);
    /* a callback may start a new request on d: it lands on this list,
     * already finished with "resolver shut down" */
    while (d->reqs) {
        struct dns_lookup *r = d->reqs;
        req_unlink(r);
        if (!r->finished)
            finish_shutdown(r);
        req_deliver(r);
    }
    free(d);
}

static void resolve_literal(struct dns_lookup *r, const struct sockaddr_storage *ss)
{
    struct dns_host *h = &r->out[0];
    const void *a = ss->ss_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (!inet_ntop(ss->ss_family, a, h->name, sizeof h->name))
        snprintf(h->name, sizeof h->name, "%s", r->domain);
    h->pref = 0;
    h->naddr = 1;
    h->addr[0] = *ss;
    r->res.nhosts = 1;
    finish(r, DNS_OK, NULL);
}

void dns_resolve_host(struct dns *d, const char *host, dns_cb cb, void *arg)
{
    struct sockaddr_storage ss;
    struct dns_lookup *r = req_new(d, REQ_HOST, host, cb, arg);

    if (parse_ip_literal(host, &ss)) {
        resolve_literal(r, &ss);
        return;
    }
    /* "[host.example]" (relayhost syntax) → host.example */
    size_t len = strlen(host);
    if (host[0] == '[' && len >= 2 && host[len - 1] == ']' && len - 2 < sizeof r->domain)
        snprintf(r->domain, sizeof r->domain, "%.*s", (int)(len - 2), host + 1);
    if (strlen(host) >= sizeof r->domain || !name_ok(r->domain)) {
        finish(r, DNS_NOTFOUND, "address lookup of %.200s: invalid host name", host);
        return;
    }
    if (d->closing) {
        finish_shutdown(r);
        return;
    }
    r->nq = 1;
    snprintf(r->q[0].name, sizeof r->q[0].name, "%s", r->domain);
    start_hosts(r);
}

void dns_resolve_mx(struct dns *d, const char *domain, dns_cb cb, void *arg)
{
    struct sockaddr_storage ss;
    struct dns_lookup *r = req_new(d, REQ_MX, domain, cb, arg);

    if (domain[0] == '[' && parse_ip_literal(domain, &ss)) {   /* user@[192.0.2.1] */
        resolve_literal(r, &ss);
        return;
    }
    if (strlen(domain) >= sizeof r->domain || !name_ok(domain)) {
        finish(r, DNS_NOTFOUND, "MX lookup of %.200s: invalid domain name", domain);
        return;
    }
    if (d->closing) {
        finish_shutdown(r);
        return;
    }
    r->pending = 1;
    ares_query(d->ch, r->domain, C_IN, T_MX, mx_cb, r);
    dns_timer_update(d);
}

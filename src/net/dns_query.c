/* dns_query — the records of one name and type as text (dns.h), on the
 * shared c-ares channel: what `postern dns check` compares with the
 * records a domain should publish.
 *
 * A query owns its memory: one c-ares query, a "done" event that runs the
 * callback from the event loop (never inside dns_query() nor inside
 * c-ares), and an optional deadline that answers "timed out" first; the
 * c-ares query then ends on its own (bounded by the channel's timeouts)
 * and frees the query, as a cancelled one does. dns_free answers what is
 * still owed with "resolver shut down". */
#include "net/dns.h"
#include "net/dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define TXT_MAX 4096                    /* bytes kept of one TXT record */

struct dns_query {
    struct dns *d;
    struct dns_query *prev, *next;
    enum dns_qtype type;
    dns_answer_cb cb;
    void *arg;
    int pending;                        /* the c-ares query is under way */
    int complete, delivered;
    struct event *done_ev, *deadline;
    char name[256];
    struct dns_answer a;
};

static const char *type_name(enum dns_qtype t)
{
    static const char *const n[] = { "A", "AAAA", "MX", "TXT", "PTR" };
    return n[t];
}

static void answer_clear(struct dns_answer *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rr[i]);
    a->n = 0;
}

static void query_free(struct dns_query *q)
{
    struct dns *d = q->d;
    if (q->prev)
        q->prev->next = q->next;
    else if (d->queries == q)
        d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->done_ev)
        event_free(q->done_ev);
    if (q->deadline)
        event_free(q->deadline);
    answer_clear(&q->a);
    free(q);
}

static void deliver(struct dns_query *q, const struct dns_answer *a)
{
    q->delivered = 1;
    if (q->deadline)
        evtimer_del(q->deadline);
    q->cb(q->arg, a);
    if (!q->pending)
        query_free(q);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_query *q = arg;
    deliver(q, &q->a);
}

static void temp_answer(const struct dns_query *q, const char *why, struct dns_answer *a)
{
    memset(a, 0, sizeof *a);
    a->status = DNS_TEMPFAIL;
    snprintf(a->error, sizeof a->error, "%s lookup of %.250s: %s", type_name(q->type), q->name,
             why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_query *q = arg;
    if (q->delivered)
        return;
    struct dns_answer a;
    temp_answer(q, "timed out", &a);
    deliver(q, &a);
}

static void complete(struct dns_query *q)
{
    q->complete = 1;
    if (q->delivered) {
        if (!q->pending)
            query_free(q);
        return;
    }
    if (!q->d->closing)
        event_active(q->done_ev, EV_TIMEOUT, 1);
}

void dns_queries_shutdown(struct dns *d)
{
    while (d->queries) {
        struct dns_query *q = d->queries;
        q->pending = 0;
        if (q->delivered) {
            query_free(q);
        } else if (q->complete && q->a.status != DNS_TEMPFAIL) {
            deliver(q, &q->a);
        } else {
            struct dns_answer a;
            temp_answer(q, "resolver shut down", &a);
            deliver(q, &a);
        }
    }
}

static int add_rr(struct dns_answer *a, const char *s, size_t len)
{
    if (a->n == DNS_ANSWER_MAX)
        return 0;
    char *t = malloc(len + 1);
    if (!t)
        return -1;
    for (size_t i = 0; i < len; i++)
        t[i] = s[i] ? s[i] : '?';
    t[len] = '\0';
    a->rr[a->n++] = t;
    return 0;
}

static int add_name(struct dns_answer *a, const char *name, int pref)
{
    char buf[300];
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        n--;
    int w = pref >= 0 ? snprintf(buf, sizeof buf, "%d %.*s", pref, (int)n, name)
                      : snprintf(buf, sizeof buf, "%.*s", (int)n, name);
    return add_rr(a, buf, w > 0 && (size_t)w < sizeof buf ? (size_t)w : 0);
}

/* Parse the answer into q->a.rr; an ares status. */
static int parse(struct dns_query *q, const unsigned char *abuf, int alen)
{
    struct dns_answer *a = &q->a;
    int st, oom = 0;
    char text[INET6_ADDRSTRLEN];
    switch (q->type) {
    case DNS_Q_A: {
        struct ares_addrttl ttl[DNS_ANSWER_MAX];
        int n = DNS_ANSWER_MAX;
        if ((st = ares_parse_a_reply(abuf, alen, NULL, ttl, &n)) != ARES_SUCCESS)
            return st;
        for (int i = 0; i < n; i++)
            if (inet_ntop(AF_INET, &ttl[i].ipaddr, text, sizeof text))
                oom |= add_rr(a, text, strlen(text));
        break;
    }
    case DNS_Q_AAAA: {
        struct ares_addr6ttl ttl[DNS_ANSWER_MAX];
        int n = DNS_ANSWER_MAX;
        if ((st = ares_parse_aaaa_reply(abuf, alen, NULL, ttl, &n)) != ARES_SUCCESS)
            return st;
        for (int i = 0; i < n; i++)
            if (inet_ntop(AF_INET6, &ttl[i].ip6addr, text, sizeof text))
                oom |= add_rr(a, text, strlen(text));
        break;
    }
    case DNS_Q_MX: {
        struct ares_mx_reply *mx = NULL;
        if ((st = ares_parse_mx_reply(abuf, alen, &mx)) != ARES_SUCCESS)
            return st;
        for (struct ares_mx_reply *m = mx; m; m = m->next)
            oom |= add_name(a, m->host && m->host[0] ? m->host : ".", m->priority);
        ares_free_data(mx);
        break;
    }
    case DNS_Q_TXT: {
        struct ares_txt_ext *txt = NULL;
        if ((st = ares_parse_txt_reply_ext(abuf, alen, &txt)) != ARES_SUCCESS)
            return st;
        /* one record is one or more strings: join them (RFC 7208 3.3) */
        char *buf = malloc(TXT_MAX + 1);
        size_t len = 0;
        int open = 0;
        for (struct ares_txt_ext *t = txt; t && buf; t = t->next) {
            if (t->record_start && open) {
                oom |= add_rr(a, buf, len);
                len = 0;
            }
            open = 1;
            size_t n = t->length < TXT_MAX - len ? t->length : TXT_MAX - len;
            memcpy(buf + len, t->txt, n);
            len += n;
        }
        if (buf && open)
            oom |= add_rr(a, buf, len);
        oom |= !buf;
        free(buf);
        ares_free_data(txt);
        break;
    }
    case DNS_Q_PTR: {
        struct hostent *h = NULL;
        unsigned char any[4] = { 0 };
        if ((st = ares_parse_ptr_reply(abuf, alen, any, 4, AF_INET, &h)) != ARES_SUCCESS)
            return st;
        if (h->h_name)
            oom |= add_name(a, h->h_name, -1);
        for (char **al = h->h_aliases; al && *al; al++)
            if (!h->h_name || strcasecmp(*al, h->h_name) != 0)
                oom |= add_name(a, *al, -1);
        ares_free_hostent(h);
        break;
    }
    }
    if (oom)
        return ARES_ENOMEM;
    return a->n ? ARES_SUCCESS : ARES_ENODATA;
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_query *q = arg;
    q->pending = 0;
    if (q->d->closing && status == ARES_SUCCESS)
        status = ARES_EDESTRUCTION;
    if (status == ARES_SUCCESS && !q->delivered)
        status = parse(q, abuf, alen);
    struct dns_answer *a = &q->a;
    if (status == ARES_SUCCESS) {
        a->status = DNS_OK;
    } else {
        answer_clear(a);
        a->status = dns_status_is_temp(status) ? DNS_TEMPFAIL : DNS_NOTFOUND;
        a->nxdomain = status == ARES_ENOTFOUND;
        snprintf(a->error, sizeof a->error, "%s lookup of %.250s: %s", type_name(q->type),
                 q->name, status == ARES_ENODATA ? "no such record" : ares_strerror(status));
    }
    complete(q);
}

struct dns_query *dns_query(struct dns *d, const char *name, enum dns_qtype type,
                            long long timeout_ms, dns_answer_cb cb, void *arg)
{
    struct dns_query *q = dns_xcalloc(1, sizeof *q);
    q->d = d;
    q->type = type;
    q->cb = cb;
    q->arg = arg;
    q->done_ev = event_new(d->base, -1, 0, on_done, q);
    if (!q->done_ev)
        abort();
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    snprintf(q->name, sizeof q->name, "%.*s", (int)(len < 250 ? len : 250), name);
    if (len == 0 || len > 253) {
        q->a.status = DNS_NOTFOUND;
        snprintf(q->a.error, sizeof q->a.error, "%s lookup of %.200s: invalid name",
                 type_name(type), name);
        complete(q);
        return q;
    }
    if (d->closing) {
        temp_answer(q, "resolver shut down", &q->a);
        complete(q);
        return q;
    }
    if (timeout_ms > 0) {
        q->deadline = evtimer_new(d->base, on_deadline, q);
        if (!q->deadline)
            abort();
        struct timeval tv = { (time_t)(timeout_ms / 1000),
                              (suseconds_t)(timeout_ms % 1000) * 1000 };
        evtimer_add(q->deadline, &tv);
    }
    static const int types[] = { T_A, T_AAAA, T_MX, T_TXT, T_PTR };
    q->pending = 1;
    ares_query(d->ch, q->name, C_IN, types[type], query_cb, q);
    dns_timer_update(d);
    return q;
}

void dns_query_cancel(struct dns_query *q)
{
    if (!q || q->delivered)
        return;
    q->delivered = 1;
    if (q->deadline)
        evtimer_del(q->deadline);
    if (!q->pending)
        query_free(q);
}

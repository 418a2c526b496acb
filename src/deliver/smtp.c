/* smtp — the outbound SMTP client: settings and attempts (one per
 * request: resolve, walk the addresses, record results, call done). The
 * destinations (concurrency limit, FIFO of waiting jobs, cached idle
 * connections, rate delay, dead state) are in smtp_dest.c, the
 * conversation itself in smtp_session.c.
 *
 * Every step of an attempt runs from its own event (smtp_attempt_act), so
 * done is never called from inside smtp_client_deliver or from deep inside
 * a bufferevent callback, and it may call smtp_client_deliver. */
#include "smtp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "../net/dns.h"
#include "smtp_internal.h"
#include "../config/config.h"
#include "../config/maps.h"
#include "../util/clock.h"
#include "../dkim/dkim.h"
#include "../util/errbuf.h"
#include "../util/log.h"
#include "../util/metrics.h"

/* A DNS request outlives its attempt when the attempt ends first (the
 * resolver has no cancel): the attempt clears req->att, the callback frees
 * the request. */
struct dns_req {
    struct smtp_attempt *att;
};

/* ------------------------------------------------------------ settings */

void smtp_settings_unref(struct smtp_settings *s)
{
    if (!s || --s->refs > 0)
        return;
    free(s->helo_name);
    free(s->cafile);
    if (s->passwd)
        map_free(s->passwd);
    if (s->ctx)
        SSL_CTX_free(s->ctx);
    dkim_signer_free(s->dkim);
    free(s);
}

struct ssl_ctx_st *smtp_settings_ctx(struct smtp_settings *set, char *err, size_t errlen)
{
    if (!set->ctx)
        set->ctx = smtp_tls_ctx_new(set->cafile, set->tls_level >= SMTP_TLS_VERIFY, err, errlen);
    return set->ctx;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        log_fatal("smtp: out of memory");
    return p;
}

/* ---------------------------------------------------------------- client */

struct smtp_client *smtp_client_new(struct event_base *base, struct dns *dns)
{
    struct smtp_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->dns = dns;
    TAILQ_INIT(&c->dests);
    return c;
}

unsigned smtp_client_connections(const struct smtp_client *c)
{
    return c ? c->nconn : 0;
}

int smtp_client_configure(struct smtp_client *c, const struct config *cfg,
                          struct map **passwd_map, struct dkim_signer **dkim, char *err,
                          size_t errlen)
{
    int level = smtp_tls_level_parse(cfg->smtp_tls_security_level);
    if (level < 0) {
        errbuf_set(err, errlen, "smtp_tls_security_level = %s: unknown level; use none, "
                   "may, encrypt, verify or secure", cfg->smtp_tls_security_level);
        return -1;
    }
    if (cfg->smtp_tls_CAfile[0] && access(cfg->smtp_tls_CAfile, R_OK) != 0) {
        errbuf_set(err, errlen, "smtp_tls_CAfile %s: %s", cfg->smtp_tls_CAfile, strerror(errno));
        return -1;
    }
    int noplaintext = 0;
    for (size_t i = 0; i < cfg->smtp_sasl_security_options.n; i++) {
        const char *o = cfg->smtp_sasl_security_options.v[i];
        if (strcasecmp(o, "noplaintext") == 0)
            noplaintext = 1;
        else if (strcasecmp(o, "noanonymous") != 0 && strcasecmp(o, "noactive") != 0 &&
                 strcasecmp(o, "nodictionary") != 0 && strcasecmp(o, "mutual_auth") != 0) {
            errbuf_set(err, errlen, "smtp_sasl_security_options: unknown option \"%s\"; use "
                       "noanonymous, noplaintext, noactive, nodictionary or mutual_auth", o);
            return -1;
        }
    }
    if (cfg->smtp_fallback_relay.n > SMTP_FALLBACK_MAX) {
        errbuf_set(err, errlen, "smtp_fallback_relay: %zu next-hops; at most %d",
                   cfg->smtp_fallback_relay.n, SMTP_FALLBACK_MAX);
        return -1;
    }
    for (size_t i = 0; i < cfg->smtp_fallback_relay.n; i++) {
        struct smtp_nexthop nh;
        const char *f = cfg->smtp_fallback_relay.v[i];
        if (strlen(f) >= 300 || smtp_nexthop_parse(f, &nh) < 0) {
            errbuf_set(err, errlen, "smtp_fallback_relay: \"%.100s\" is not a next-hop; "
                       "write [host]:port, host:port or host", f);
            return -1;
        }
    }
    struct map *passwd = NULL;
    if (cfg->smtp_sasl_auth_enable && cfg->smtp_sasl_password_maps[0]) {
        if (!passwd_map || !*passwd_map) {
            errbuf_set(err, errlen, "smtp_sasl_password_maps: table not loaded");
            return -1;
        }
        passwd = *passwd_map;
    }
    struct smtp_settings *s = calloc(1, sizeof *s);
    if (!s) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    s->refs = 1;
    s->helo_name = xstrdup(cfg->smtp_helo_name[0] ? cfg->smtp_helo_name : cfg->myhostname);
    s->tls_level = level;
    s->wrapper = cfg->smtp_tls_wrappermode;
    s->cafile = xstrdup(cfg->smtp_tls_CAfile);
    s->sasl_enable = cfg->smtp_sasl_auth_enable;
    s->sender_auth = cfg->smtp_sender_dependent_authentication;
    s->passwd = passwd;
    if (passwd)
        *passwd_map = NULL;     /* the settings own it now */
    s->noplaintext = noplaintext;
    s->cleartext_loopback = cfg->smtp_sasl_allow_cleartext_loopback;
    s->t_connect = cfg->ms.smtp_connect_timeout;
    s->t_helo = cfg->ms.smtp_helo_timeout;
    s->t_mail = cfg->ms.smtp_mail_timeout;
    s->t_rcpt = cfg->ms.smtp_rcpt_timeout;
    s->t_data_init = cfg->ms.smtp_data_init_timeout;
    s->t_data_xfer = cfg->ms.smtp_data_xfer_timeout;
    s->t_data_done = cfg->ms.smtp_data_done_timeout;
    s->t_quit = cfg->ms.smtp_quit_timeout;
    /* a cached connection is logged in as one sender's account: Postfix
     * too gives up caching with sender-dependent authentication */
    s->cache = cfg->smtp_connection_cache_on_demand &&
               !(cfg->smtp_sasl_auth_enable && cfg->smtp_sender_dependent_authentication);
    s->cache_time = cfg->ms.smtp_connection_cache_time_limit;
    for (size_t i = 0; i < cfg->smtp_fallback_relay.n; i++)
        errbuf_set(s->fallback[s->nfallback++], sizeof s->fallback[0], "%s",
                   cfg->smtp_fallback_relay.v[i]);
    s->dest_limit = cfg->smtp_destination_concurrency_limit > 0
                        ? (unsigned long)cfg->smtp_destination_concurrency_limit : 1;
    s->rate_delay = cfg->ms.smtp_destination_rate_delay;
    s->cohort_limit = cfg->smtp_destination_concurrency_failed_cohort_limit;
    s->dead_time = cfg->ms.minimal_backoff_time;
    s->smtputf8 = cfg->smtputf8_enable;
    s->line_limit = cfg->smtp_line_length_limit > 0
                        ? (size_t)cfg->smtp_line_length_limit : 0;
    s->dkim_mode = strcmp(cfg->dkim_sign, "yes") == 0 ? SMTP_DKIM_YES
                   : strcmp(cfg->dkim_sign, "no") == 0 ? SMTP_DKIM_NO : SMTP_DKIM_MX;
    if (dkim && *dkim) {
        s->dkim = *dkim;        /* the settings own it now */
        *dkim = NULL;
    }
    smtp_settings_unref(c->set);
    c->set = s;
    /* cached connections were made with the old settings */
    struct smtp_dest *d;
    TAILQ_FOREACH(d, &c->dests, link) {
        struct smtp_session *ss;
        while ((ss = TAILQ_FIRST(&d->idle)) != NULL)
            smtp_session_quit(ss);
    }
    return 0;
}

/* ------------------------------------------------------------- attempts */

void smtp_attempt_act(struct smtp_attempt *att, enum smtp_action a)
{
    if (att->action == ACT_DONE)
        return;
    att->action = a;
    event_active(att->ev, 0, 0);
}

void smtp_attempt_failure(struct smtp_attempt *att, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(att->reason, sizeof att->reason, fmt, ap);
    va_end(ap);
    errbuf_set(att->dsn, sizeof att->dsn, "%s", dsn);
    /* the reason can quote the remote server's reply */
    char clean[sizeof att->reason * 2];
    log_info("%s: %s", att->req->id,
             log_sanitize(att->reason, strlen(att->reason), clean, sizeof clean));
}

void smtp_attempt_result(struct smtp_attempt *att, size_t k, enum deliver_status st,
                         const char *dsn, const char *reason)
{
    struct deliver_result *r = &att->res[k];
    r->status = st;
    errbuf_set(r->dsn, sizeof r->dsn, "%s", dsn);
    free(att->res_reason[k]);
    att->res_reason[k] = xstrdup(reason);
    r->reason = att->res_reason[k];
    att->final[k] = 1;
}

/* Every recipient still without a result gets st/dsn/reason. */
static void attempt_all(struct smtp_attempt *att, enum deliver_status st, const char *dsn,
                        const char *reason)
{
    for (size_t k = 0; k < att->req->nrcpt; k++)
        if (!att->final[k])
            smtp_attempt_result(att, k, st, dsn, reason);
}

/* The smtp_sasl_password_maps entry for a message, split into user and
 * pass. With smtp_sender_dependent_authentication the message's own key
 * comes first: its login when the login chose the upstream (the sender
 * was then rewritten to that account, so it is not searched), else its
 * sender (address, then @domain), as Postfix; then the next-hop's keys
 * ("[host]:port", "[host]", "host") and the host connected to. */
static enum smtp_account passwd_find(const struct smtp_settings *set, const char *login,
                                     const char *sender, const char *nexthop,
                                     const char *host, char *user, size_t userlen,
                                     char *pass, size_t passlen)
{
    const struct map *m = set->passwd;
    char keys[4][300];
    size_t n;
    if (!m)
        return SMTP_ACCOUNT_NONE;
    if (set->sender_auth && ((login && *login) || (sender && *sender))) {
        int by_login = login && *login;
        char *v = by_login ? map_lookup(m, login) : map_lookup_address(m, sender);
        if (v) {
            int rc = smtp_sasl_split(v, user, userlen, pass, passlen);
            OPENSSL_cleanse(v, strlen(v));
            free(v);
            if (rc == 0)
                return by_login ? SMTP_ACCOUNT_LOGIN : SMTP_ACCOUNT_SENDER;
            log_warning("smtp_sasl_password_maps: the value for the %s's entry is not "
                        "user:password", by_login ? "login" : "sender");
            return SMTP_ACCOUNT_NONE;
        }
    }
    n = nexthop ? smtp_sasl_keys(nexthop, keys) : 0;
    if (host && *host && strlen(host) < sizeof keys[0])
        errbuf_set(keys[n++], sizeof keys[0], "%s", host);
    for (size_t i = 0; i < n; i++) {
        char *v = map_lookup(m, keys[i]);
        if (!v)
            continue;
        int rc = smtp_sasl_split(v, user, userlen, pass, passlen);
        OPENSSL_cleanse(v, strlen(v));
        free(v);
        if (rc == 0)
            return SMTP_ACCOUNT_NEXTHOP;
        log_warning("smtp_sasl_password_maps: the value for \"%s\" is not user:password",
                    keys[i]);
        return SMTP_ACCOUNT_NONE;
    }
    return SMTP_ACCOUNT_NONE;
}

int smtp_attempt_credentials(const struct smtp_attempt *att, const char *host,
                             char *user, size_t userlen, char *pass, size_t passlen)
{
    const struct deliver_request *req = att->req;
    return passwd_find(att->set, req ? req->sasl_username : NULL, req ? req->sender : NULL,
                       att->nexthop, host, user, userlen, pass, passlen) != SMTP_ACCOUNT_NONE;
}

enum smtp_account smtp_client_account(const struct smtp_client *c, const char *login,
                                      const char *sender, const char *nexthop, char *user,
                                      size_t userlen)
{
    char pass[512];
    if (!c || !c->set || !c->set->sasl_enable || (nexthop && strlen(nexthop) >= 300))
        return SMTP_ACCOUNT_NONE;
    enum smtp_account r = passwd_find(c->set, login, sender, nexthop, NULL, user, userlen,
                                      pass, sizeof pass);
    OPENSSL_cleanse(pass, sizeof pass);
    return r;
}

static void attempt_free(struct smtp_attempt *att)
{
    if (att->dnsreq)
        att->dnsreq->att = NULL;
    if (att->ev)
        event_free(att->ev);
    smtp_settings_unref(att->set);
    free(att->targets);
    free(att->final);
    /* att->req may be gone (done has returned): its size was kept */
    if (att->res_reason)
        for (size_t k = 0; k < att->nres; k++)
            free(att->res_reason[k]);
    free(att->res_reason);
    free(att->res);
    free(att->conv);
    free(att->dkim[0].hdr);
    free(att->dkim[1].hdr);
    free(att);
}

/* Give the remaining recipients their result, call done, free. */
static void attempt_done(struct smtp_attempt *att)
{
    struct smtp_dest *d = att->dest;
    if (att->s) {       /* a session still attached: it cannot go on alone */
        struct smtp_session *s = att->s;
        att->s = NULL;
        s->att = NULL;
        smtp_session_free(s);
    }
    attempt_all(att, DELIVER_DEFERRED, att->dsn[0] ? att->dsn : "4.4.0",
                att->reason[0] ? att->reason : "delivery temporarily suspended");
    if (att->running)
        TAILQ_REMOVE(&d->running, att, link);
    else
        TAILQ_REMOVE(&d->waiting, att, link);
    int slot = att->has_slot;
    att->has_slot = 0;
    if (slot)
        d->slots--;
    if (att->probe && d->dead.probing)     /* ended before any connection */
        deadhop_probe_end(&d->dead);
    if (att->running && !att->suspended && att->set && att->set->rate_delay > 0)
        d->next_start = clock_now_ms(NULL) + att->set->rate_delay;
    /* the results and the relay point into att: free it only after done */
    att->done(att->done_arg, att->res, att->relay[0] ? att->relay : "none");
    attempt_free(att);
    if (!d->c->freeing) {
        smtp_dest_dispatch(d);
        smtp_dest_maybe_free(d);
    }
}

static void connect_next(struct smtp_attempt *att)
{
    while (att->ti < att->ntargets) {
        const struct smtp_target *t = &att->targets[att->ti];
        char addr[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (t->sa.ss_family == AF_INET) {
            const struct sockaddr_in *s4 = (const void *)&t->sa;
            inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
            port = ntohs(s4->sin_port);
        } else {
            const struct sockaddr_in6 *s6 = (const void *)&t->sa;
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
            port = ntohs(s6->sin6_port);
        }
        errbuf_set(att->relay, sizeof att->relay, "%s[%s]:%u", t->host, addr, port);
        att->s = smtp_session_connect(att, t);
        if (att->s)
            return;
        att->ti++;      /* failed at once; the reason is recorded */
        att->plaintext = 0;
    }
    if (!att->reason[0])
        smtp_attempt_failure(att, "4.4.1", "no address to connect to for %s", att->nexthop);
    else if (att->ntargets && !att->connected && att->fi == 0 && !att->suspended && att->set)
        smtp_dest_connect_failed(att);   /* every address refused or timed out */
    smtp_attempt_act(att, ACT_DONE);
}

static void add_target(struct smtp_attempt *att, const char *host,
                       const struct sockaddr_storage *sa)
{
    struct smtp_target *t = realloc(att->targets, (att->ntargets + 1) * sizeof *t);
    if (!t)
        log_fatal("smtp: out of memory");
    att->targets = t;
    t = &att->targets[att->ntargets++];
    memset(t, 0, sizeof *t);
    errbuf_set(t->host, sizeof t->host, "%s", host);
    t->sa = *sa;
    if (sa->ss_family == AF_INET) {
        ((struct sockaddr_in *)(void *)&t->sa)->sin_port = htons((uint16_t)att->nh.port);
        t->salen = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)(void *)&t->sa)->sin6_port = htons((uint16_t)att->nh.port);
        t->salen = sizeof(struct sockaddr_in6);
    }
}

static void on_dns(void *arg, const struct dns_result *res)
{
    struct dns_req *req = arg;
    struct smtp_attempt *att = req->att;
    free(req);
    if (!att)
        return;
    att->dnsreq = NULL;
    const char *type = att->nh.mx ? "MX" : "A/AAAA";
    switch (res->status) {
    case DNS_OK:
        for (size_t h = 0; h < res->nhosts; h++)
            for (size_t a = 0; a < res->hosts[h].naddr && a < DNS_MAX_ADDRS; a++)
                if (res->hosts[h].addr[a].ss_family == AF_INET ||
                    res->hosts[h].addr[a].ss_family == AF_INET6)
                    add_target(att, att->nh.mx ? res->hosts[h].name : att->nh.host,
                               &res->hosts[h].addr[a]);
        if (att->ntargets == 0)
            smtp_attempt_failure(att, "4.4.4", "no address found for %s", att->nh.host);
        att->ti = 0;
        connect_next(att);
        return;
    case DNS_NULLMX:
        attempt_all(att, DELIVER_BOUNCED, "5.1.10", "Domain does not accept mail (nullMX)");
        errbuf_set(att->relay, sizeof att->relay, "none");
        smtp_attempt_act(att, ACT_DONE);
        return;
    case DNS_NOTFOUND:
        if (att->by_domain) {
            char reason[512];
            errbuf_set(reason, sizeof reason, "Host or domain name not found. Name service "
                       "error for name=%s type=%s: Host not found", att->nh.host, type);
            attempt_all(att, DELIVER_BOUNCED, "5.4.4", reason);
        } else {
            smtp_attempt_failure(att, "4.4.4", "Host or domain name not found. Name service "
                                 "error for name=%s type=%s: Host not found", att->nh.host, type);
        }
        smtp_attempt_act(att, ACT_DONE);
        return;
    case DNS_TEMPFAIL:
    default:
        smtp_attempt_failure(att, "4.4.3", "Host or domain name not found. Name service error "
                             "for name=%s type=%s: Host not found, try again (%.200s)",
                             att->nh.host, type, res->error);
        smtp_attempt_act(att, ACT_DONE);
        return;
    }
}

static void resolve(struct smtp_attempt *att)
{
    if (att->ntargets) {            /* fresh start after a stale cached connection */
        att->ti = 0;
        connect_next(att);
        return;
    }
    if (att->nh.literal) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (att->nh.literal == AF_INET) {
            struct sockaddr_in *s4 = (void *)&ss;
            s4->sin_family = AF_INET;
            inet_pton(AF_INET, att->nh.host, &s4->sin_addr);
        } else {
            struct sockaddr_in6 *s6 = (void *)&ss;
            s6->sin6_family = AF_INET6;
            inet_pton(AF_INET6, att->nh.host, &s6->sin6_addr);
        }
        add_target(att, att->nh.host, &ss);
        connect_next(att);
        return;
    }
    if (!att->c->dns) {
        smtp_attempt_failure(att, "4.4.3", "cannot look up %s: no DNS resolver", att->nh.host);
        smtp_attempt_act(att, ACT_DONE);
        return;
    }
    struct dns_req *req = calloc(1, sizeof *req);
    if (!req)
        log_fatal("smtp: out of memory");
    req->att = att;
    att->dnsreq = req;
    if (att->nh.mx)
        dns_resolve_mx(att->c->dns, att->nh.host, on_dns, req);
    else
        dns_resolve_host(att->c->dns, att->nh.host, on_dns, req);
}

/* smtp_fallback_relay: the next-hop could not be reached or failed with a
 * temporary error before any server got MAIL FROM (so no copy can have
 * been accepted): go on with the next fallback at once, in this attempt.
 * 1 when the attempt goes on. */
static int attempt_fallback(struct smtp_attempt *att)
{
    if (!att->set || att->mail_sent || att->fi >= att->set->nfallback ||
        att->c->freeing || att->dnsreq)
        return 0;
    int open = 0;
    for (size_t k = 0; k < att->req->nrcpt; k++)
        if (!att->final[k])
            open = 1;
    if (!open)
        return 0;
    const char *f = att->set->fallback[att->fi++];
    struct smtp_nexthop nh;
    if (smtp_nexthop_parse(f, &nh) < 0)
        return 0;
    if (att->s) {
        struct smtp_session *s = att->s;
        att->s = NULL;
        s->att = NULL;
        smtp_session_free(s);
    }
    log_info("%s: %s: %s; trying smtp_fallback_relay %s", att->req->id, att->nexthop,
             att->reason[0] ? att->reason : "not reachable", f);
    errbuf_set(att->nexthop, sizeof att->nexthop, "%s", f);
    att->nh = nh;
    att->by_domain = 0;
    free(att->targets);
    att->targets = NULL;
    att->ntargets = att->ti = 0;
    att->plaintext = 0;
    att->dsn[0] = att->reason[0] = '\0';
    att->action = ACT_NONE;     /* ACT_DONE would swallow the new steps */
    resolve(att);
    return 1;
}

static void attempt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtp_attempt *att = arg;
    (void)fd;
    (void)what;
    enum smtp_action a = att->action;
    if (a != ACT_DONE)
        att->action = ACT_NONE;
    switch (a) {
    case ACT_START:
        if (att->suspended && !att->s) {        /* dead: to the fallback */
            if (!attempt_fallback(att))
                attempt_done(att);
        } else if (att->s)
            smtp_session_begin(att->s);
        else
            resolve(att);
        break;
    case ACT_NEXT:
        att->ti++;
        att->plaintext = 0;
        connect_next(att);
        break;
    case ACT_RETRY_PLAIN:
        att->plaintext = 1;
        connect_next(att);
        break;
    case ACT_DONE:
        if (!attempt_fallback(att))
            attempt_done(att);
        break;
    case ACT_NONE:
        break;
    }
}

void smtp_client_deliver(struct smtp_client *c, const struct deliver_request *req,
                         deliver_done_fn *done, void *arg)
{
    struct smtp_attempt *att = calloc(1, sizeof *att);
    size_t n = req->nrcpt ? req->nrcpt : 1;
    if (!att)
        log_fatal("smtp: out of memory");
    att->c = c;
    att->req = req;
    att->done = done;
    att->done_arg = arg;
    att->nres = req->nrcpt;
    att->final = calloc(n, 1);
    att->res = calloc(n, sizeof *att->res);
    att->res_reason = calloc(n, sizeof *att->res_reason);
    att->ev = event_new(c->base, -1, 0, attempt_cb, att);
    if (!att->final || !att->res || !att->res_reason || !att->ev)
        log_fatal("smtp: out of memory");
    const char *bad = NULL;
    if (req->nexthop && req->nexthop[0]) {
        errbuf_set(att->nexthop, sizeof att->nexthop, "%s", req->nexthop);
        if (strlen(req->nexthop) >= sizeof att->nexthop ||
            smtp_nexthop_parse(att->nexthop, &att->nh) < 0)
            bad = "malformed nexthop";
    } else {
        const char *domain = NULL;
        if (req->nrcpt > 0) {
            const char *at = strrchr(req->rcpt[0].addr, '@');
            domain = at ? at + 1 : "";
        }
        att->by_domain = 1;
        if (!domain || !*domain || strlen(domain) >= 256) {
            bad = "recipient without a domain";
            domain = "";
        }
        size_t k = 0;
        for (; domain[k] && k + 1 < sizeof att->nexthop; k++)
            att->nexthop[k] = (char)((domain[k] >= 'A' && domain[k] <= 'Z')
                                     ? domain[k] - 'A' + 'a' : domain[k]);
        att->nexthop[k] = '\0';
        if (!bad && smtp_nexthop_parse(att->nexthop, &att->nh) < 0)
            bad = "malformed recipient domain";
    }
    struct smtp_dest *d = smtp_dest_get(c, att->nexthop);
    att->dest = d;
    if (c->freeing || !c->set || bad) {
        if (c->freeing)
            smtp_attempt_failure(att, "4.3.0", "mail system is shutting down");
        else if (!c->set)
            smtp_attempt_failure(att, "4.3.5", "smtp client is not configured");
        else
            smtp_attempt_failure(att, "4.3.5", "%s: \"%.300s\"", bad, att->nexthop);
        TAILQ_INSERT_TAIL(&d->running, att, link);
        att->running = 1;
        smtp_attempt_act(att, ACT_DONE);
        return;
    }
    c->set->refs++;
    att->set = c->set;
    TAILQ_INSERT_TAIL(&d->waiting, att, link);
    smtp_dest_dispatch(d);
}

void smtp_client_free(struct smtp_client *c)
{
    struct smtp_dest *d;
    if (!c)
        return;
    c->freeing = 1;
    while ((d = TAILQ_FIRST(&c->dests)) != NULL) {
        struct smtp_session *s;
        struct smtp_attempt *att;
        while ((s = TAILQ_FIRST(&d->sessions)) != NULL) {
            if (s->att)
                s->att->s = NULL;
            s->att = NULL;
            smtp_session_free(s);
        }
        while ((att = TAILQ_FIRST(&d->running)) != NULL ||
               (att = TAILQ_FIRST(&d->waiting)) != NULL) {
            if (att->action != ACT_DONE)
                smtp_attempt_failure(att, "4.3.0", "mail system is shutting down");
            attempt_done(att);
        }
        TAILQ_REMOVE(&c->dests, d, link);
        smtp_dest_free(d);
    }
    smtp_settings_unref(c->set);
    free(c);
}

void smtp_client_on_login(struct smtp_client *c, smtp_login_fn *fn, void *arg)
{
    c->on_login = fn;
    c->on_login_arg = arg;
}

int smtp_client_set_metrics(struct smtp_client *c, struct metrics *m)
{
    static const double b[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
    size_t nb = sizeof b / sizeof b[0];
    c->m_connect = metrics_family(m, METRIC_HISTOGRAM, "postern_upstream_connect_seconds",
                                  "Time to establish the TCP connection to an upstream SMTP "
                                  "server (relayhost or MX).", NULL, 0, b, nb);
    c->m_login = metrics_family(m, METRIC_HISTOGRAM, "postern_upstream_login_seconds",
                                "Time from AUTH to the upstream's 235.", NULL, 0, b, nb);
    c->m_delivery = metrics_family(m, METRIC_HISTOGRAM, "postern_upstream_delivery_seconds",
                                   "Time of one upstream transaction, MAIL FROM to the reply "
                                   "to the final dot (successful ones).", NULL, 0, b, nb);
    return c->m_connect && c->m_login && c->m_delivery ? 0 : -1;
}

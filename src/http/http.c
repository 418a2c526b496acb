/* http — the operators' HTTP server on evhttp (see http.h). */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/inet.h"
#include "../util/log.h"

#define HTTP_LISTEN_BACKLOG 64
#define HTTP_ROUTES_MAX 32

struct route {
    char *path;
    unsigned flags;
    http_handler_fn *fn;
    void *arg;
};

/* One connection, from evhttp's bevcb to the free of its bufferevent. */
struct conn {
    LIST_ENTRY(conn) link;
    struct http_server *h;
    struct bufferevent *bev;         /* evhttp's, and one reference ours */
    SSL *ssl;                        /* http_tls: freed with our reference */
    int served;                      /* a request came: evhttp's timeouts rule */
    struct event *check;             /* first pass: access and the cap */
    struct event *deadline;          /* HTTP_REQUEST_DEADLINE */
};

struct http_server {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *tls;
    http_access_fn *access;
    void *access_arg;
    http_auth_fn *auth;
    void *auth_arg;
    struct route routes[HTTP_ROUTES_MAX];
    size_t nroutes;
    LIST_HEAD(, conn) conns;
    unsigned nconns;
};

struct http_request {
    struct evhttp_request *req;
    struct http_server *h;
    const char *path, *query;
    char peer[64];
    char user[256];                  /* set by the auth hook */
    int tls;
    int replied;
};

int http_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                      size_t errlen)
{
    const char *colon, *h = s, *hend;
    if (s[0] == '[') {
        hend = strchr(s, ']');
        if (!hend || hend[1] != ':') {
            snprintf(err, errlen, "\"%s\": expected [IPv6]:PORT", s);
            return -1;
        }
        h = s + 1;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon) {
            snprintf(err, errlen, "\"%s\": expected HOST:PORT, e.g. 127.0.0.1:9025", s);
            return -1;
        }
        hend = colon;
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || errno || p < 1 || p > 65535) {
        snprintf(err, errlen, "\"%s\": the port must be a number from 1 to 65535", s);
        return -1;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "\"%s\": expected HOST:PORT, e.g. 127.0.0.1:9025", s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

int http_bind(const char *listen_s, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (http_parse_listen(listen_s, host, sizeof host, &port, err, errlen) < 0)
        return -1;
    char why[256];
    int fd = inet_listen_tcp(host, port, 1, HTTP_LISTEN_BACKLOG, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen, "http_listen %s: %s%s", listen_s, why,
                 fd == -2 ? " (an IP address is expected)" : "");
        return -1;
    }
    log_info("listening on http://%s", listen_s);
    return fd;
}

/* ---------- connections ----------
 *
 * evhttp frees a connection's bufferevent when it is done with it, and
 * tells nobody. So each bufferevent made here carries a reference of ours
 * (bufferevent_incref): evhttp's bufferevent_free then only clears its
 * callbacks and evhttp closes the socket itself (no BEV_OPT_CLOSE_ON_FREE),
 * while the struct stays valid for us to see that it was released
 * (conn_released) and drop our reference (conn_sweep). The socket is
 * touched only while evhttp still holds it. (A bufferevent filter's free
 * hook would say it directly, but a filter lets evhttp free the
 * connection before the filtered bytes are flushed: replies got lost.) */

static void peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in),
                    out, outlen, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, outlen, "unknown");
}

/* bufferevent_free clears every callback; evhttp clears only the read
 * callback while it writes a reply (a keep-alive connection in that state
 * is not released: dropping it made its next request a 503). */
static int conn_released(const struct conn *c)
{
    bufferevent_data_cb rd = NULL, wr = NULL;
    bufferevent_event_cb ev = NULL;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, NULL);
    return rd == NULL && wr == NULL && ev == NULL;
}

static void conn_drop(struct conn *c)
{
    struct http_server *h = c->h;
    LIST_REMOVE(c, link);
    h->nconns--;
    event_free(c->check);
    event_free(c->deadline);
    SSL *ssl = c->ssl;
    bufferevent_decref(c->bev);
    if (ssl)
        SSL_free(ssl);
    free(c);
}

/* Drop the connections evhttp is done with. */
static void conn_sweep(struct http_server *h)
{
    struct conn *c = LIST_FIRST(&h->conns), *next;
    for (; c; c = next) {
        next = LIST_NEXT(c, link);
        if (conn_released(c))
            conn_drop(c);
    }
}

/* Shut the socket: evhttp reads the end of it and frees the connection. */
static void conn_cut(struct conn *c)
{
    evutil_socket_t fd = conn_released(c) ? -1 : bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void conn_check(evutil_socket_t fd_unused, short what, void *arg)
{
    struct conn *c = arg;
    struct http_server *h = c->h;
    (void)fd_unused;
    (void)what;
    if (conn_released(c))
        return;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    char peer[64];
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        conn_cut(c);
        return;
    }
    if (h->access && !h->access(h->access_arg, (struct sockaddr *)&ss, sl)) {
        peer_text((struct sockaddr *)&ss, peer, sizeof peer);
        log_warning("http: connect from %s refused: not in http_allowed_networks", peer);
        conn_cut(c);
        return;
    }
    if (h->nconns > HTTP_MAX_CONNECTIONS) {
        peer_text((struct sockaddr *)&ss, peer, sizeof peer);
        log_warning("http: connect from %s refused: %d connections open", peer,
                    HTTP_MAX_CONNECTIONS);
        conn_cut(c);
    }
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (conn_released(c)) {
        conn_drop(c);
        return;
    }
    if (c->served) {
        /* look again later, to drop it once evhttp is done */
        struct timeval tv = { HTTP_REQUEST_DEADLINE, 0 };
        evtimer_add(c->deadline, &tv);
        return;
    }
    log_info("http: request not complete after %d seconds: connection closed",
             HTTP_REQUEST_DEADLINE);
    conn_cut(c);
}

static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
    struct http_server *h = arg;
    struct bufferevent *bev = NULL;
    conn_sweep(h);
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->h = h;
    c->check = event_new(base, -1, 0, conn_check, c);
    c->deadline = evtimer_new(base, conn_deadline, c);
    if (!c->check || !c->deadline)
        goto fail;
    if (h->tls) {
        if (!(c->ssl = SSL_new(h->tls)))
            goto fail;
        bev = bufferevent_openssl_socket_new(base, -1, c->ssl, BUFFEREVENT_SSL_ACCEPTING, 0);
    } else {
        bev = bufferevent_socket_new(base, -1, 0);
    }
    if (!bev)
        goto fail;
    bufferevent_incref(bev);
    c->bev = bev;
    LIST_INSERT_HEAD(&h->conns, c, link);
    h->nconns++;
    /* evhttp sets the socket after this returns: look at it next */
    event_active(c->check, EV_TIMEOUT, 0);
    struct timeval tv = { HTTP_REQUEST_DEADLINE, 0 };
    evtimer_add(c->deadline, &tv);
    return bev;
fail:
    /* evhttp then makes a plain bufferevent of its own, which on_request
     * does not know and refuses */
    log_warning("http: out of memory for a connection");
    if (c) {
        if (c->check)
            event_free(c->check);
        if (c->deadline)
            event_free(c->deadline);
        if (c->ssl)
            SSL_free(c->ssl);
        free(c);
    }
    return NULL;
}

static struct conn *conn_find(struct http_server *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct conn *c;
    LIST_FOREACH(c, &h->conns, link)
        if (c->bev == bev)
            return c;
    return NULL;
}

/* ---------- requests ---------- */

static unsigned method_of(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return HTTP_GET;
    case EVHTTP_REQ_HEAD: return HTTP_HEAD;
    case EVHTTP_REQ_POST: return HTTP_POST;
    default: return 0;
    }
}

static void allow_header(struct http_request *r, unsigned flags)
{
    char allow[32] = "";
    if (flags & HTTP_GET)
        strcat(allow, "GET, ");
    if (flags & (HTTP_GET | HTTP_HEAD))
        strcat(allow, "HEAD, ");
    if (flags & HTTP_POST)
        strcat(allow, "POST, ");
    if (allow[0])
        allow[strlen(allow) - 2] = '\0';
    http_reply_header(r, "Allow", allow);
}

static void reply_text(struct http_request *r, int status, const char *text)
{
    http_reply(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct http_server *h = arg;
    struct conn *c = conn_find(h, req);
    if (!c) {
        /* not made by conn_new (out of memory there): unchecked */
        evhttp_send_error(req, 503, "Service Unavailable");
        return;
    }
    c->served = 1;
    struct http_request r = { .req = req, .h = h };
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    r.path = uri ? evhttp_uri_get_path(uri) : NULL;
    r.query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!r.path || !*r.path)
        r.path = "/";
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &addr, &port);
    snprintf(r.peer, sizeof r.peer, "%s", addr ? addr : "unknown");

    r.tls = c->ssl != NULL;
    const struct route *rt = NULL;
    size_t best = 0;
    for (size_t i = 0; i < h->nroutes && !(rt && !best); i++) {
        const char *p = h->routes[i].path;
        size_t pl = strlen(p);
        if (strcmp(p, r.path) == 0) {
            rt = &h->routes[i];
            best = 0;                          /* exact: wins */
        } else if (pl > 1 && p[pl - 1] == '/' && pl > best &&
                   strncmp(p, r.path, pl) == 0 && r.path[pl]) {
            rt = &h->routes[i];
            best = pl;                         /* the longest prefix */
        }
    }
    unsigned m = method_of(req);
    if (!rt) {
        reply_text(&r, 404, "not found\n");
    } else if (!(m & rt->flags) && !(m == HTTP_HEAD && (rt->flags & HTTP_GET))) {
        allow_header(&r, rt->flags);
        reply_text(&r, 405, "method not allowed\n");
    } else if ((rt->flags & HTTP_AUTH) && !h->auth) {
        reply_text(&r, 403, "forbidden\n");
    } else if ((rt->flags & HTTP_AUTH) && h->auth(h->auth_arg, &r) < 0) {
        if (!r.replied)
            reply_text(&r, 403, "forbidden\n");
    } else {
        rt->fn(rt->arg, &r);
        if (!r.replied) {
            log_warning("http: %s: no answer from its handler", r.path);
            reply_text(&r, 500, "internal error\n");
        }
    }
}

unsigned http_request_method(const struct http_request *r)
{
    return method_of(r->req);
}

const char *http_request_path(const struct http_request *r)
{
    return r->path;
}

const char *http_request_query(const struct http_request *r)
{
    return r->query;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

const char *http_request_peer(const struct http_request *r)
{
    return r->peer;
}

int http_request_tls(const struct http_request *r)
{
    return r->tls;
}

const char *http_request_body(struct http_request *r, size_t *len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(r->req);
    *len = b ? evbuffer_get_length(b) : 0;
    /* one byte more for a NUL: a body is text for its parsers */
    if (!b || evbuffer_add(b, "", 1) < 0)
        return NULL;
    const char *p = (const char *)evbuffer_pullup(b, -1);
    return p;
}

void http_request_set_user(struct http_request *r, const char *name)
{
    snprintf(r->user, sizeof r->user, "%s", name);
}

const char *http_request_user(const struct http_request *r)
{
    return r->user;
}

void http_reply_header(struct http_request *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

void http_reply(struct http_request *r, int status, const char *ctype, const void *body,
                size_t len)
{
    if (r->replied)
        return;
    r->replied = 1;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(oh, "Content-Type", ctype);
    evhttp_add_header(oh, "Cache-Control", "no-store");
    evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
    struct evbuffer *b = evbuffer_new();
    if (!b || (evhttp_request_get_command(r->req) != EVHTTP_REQ_HEAD &&
               evbuffer_add(b, body, len) < 0)) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(r->req, 500, "Internal Server Error");
        return;
    }
    const char *reason = status == 200 ? "OK" : status == 303 ? "See Other"
                       : status == 400 ? "Bad Request" : status == 409 ? "Conflict"
                       : status == 429 ? "Too Many Requests" : status == 401 ? "Unauthorized"
                       : status == 403 ? "Forbidden" : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 503 ? "Service Unavailable" : NULL;
    evhttp_send_reply(r->req, status, reason, b);
    evbuffer_free(b);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int http_form_get(const char *text, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = text;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t fl = end ? (size_t)(end - p) : strlen(p);
        if (fl > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < fl; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = i + 2 < fl ? hexval(p[i + 1]) : -1;
                    int lo = i + 2 < fl ? hexval(p[i + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -1;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                    if (c == '\0')
                        return -1;
                }
                if (o + 1 >= outlen)
                    return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int http_same_origin(const char *origin, const char *fetch_site, const char *host, int tls)
{
    if (origin) {
        const char *scheme = tls ? "https://" : "http://";
        size_t sl = strlen(scheme);
        if (!host || !*host || strncmp(origin, scheme, sl) != 0)
            return 0;
        /* exact, case-insensitively: hosts are; no path, no trailing dot games */
        return strcasecmp(origin + sl, host) == 0;
    }
    if (fetch_site)
        return strcmp(fetch_site, "same-origin") == 0 || strcmp(fetch_site, "none") == 0;
    return -1;
}

/* ---------- the server ---------- */

struct http_server *http_new(struct event_base *base, int fd, struct ssl_ctx_st *tls,
                             char *err, size_t errlen)
{
    struct http_server *h = calloc(1, sizeof *h);
    if (!h || !(h->http = evhttp_new(base))) {
        snprintf(err, errlen, "out of memory");
        free(h);
        close(fd);
        return NULL;
    }
    h->base = base;
    LIST_INIT(&h->conns);
    http_set_tls(h, tls);
    evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(h->http, HTTP_MAX_BODY);
    evhttp_set_timeout(h->http, HTTP_IDLE_TIMEOUT);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_bevcb(h->http, conn_new, h);
    evhttp_set_gencb(h->http, on_request, h);
    if (!evhttp_accept_socket_with_handle(h->http, fd)) {
        snprintf(err, errlen, "http_listen: cannot listen: %s", strerror(errno));
        close(fd);
        http_free(h);
        return NULL;
    }
    return h;
}

void http_set_tls(struct http_server *h, struct ssl_ctx_st *tls)
{
    if (tls)
        SSL_CTX_up_ref(tls);
    if (h->tls)
        SSL_CTX_free(h->tls);
    h->tls = tls;
}

void http_free(struct http_server *h)
{
    if (!h)
        return;
    /* frees every connection and the listener; then our references */
    evhttp_free(h->http);
    while (!LIST_EMPTY(&h->conns))
        conn_drop(LIST_FIRST(&h->conns));
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    if (h->tls)
        SSL_CTX_free(h->tls);
    free(h);
}

void http_set_access(struct http_server *h, http_access_fn *fn, void *arg)
{
    h->access = fn;
    h->access_arg = arg;
}

void http_set_auth(struct http_server *h, http_auth_fn *fn, void *arg)
{
    h->auth = fn;
    h->auth_arg = arg;
}

int http_route(struct http_server *h, const char *path, unsigned flags, http_handler_fn *fn,
               void *arg)
{
    if (h->nroutes == HTTP_ROUTES_MAX)
        return -1;
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, path) == 0)
            return -1;
    char *p = strdup(path);
    if (!p)
        return -1;
    h->routes[h->nroutes++] = (struct route){ p, flags, fn, arg };
    return 0;
}

unsigned http_connections(const struct http_server *h)
{
    return h ? h->nconns : 0;
}

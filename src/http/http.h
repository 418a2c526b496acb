/* http — a small HTTP/1.1 server on the daemon's event loop (libevent's
 * evhttp), for operators: a route table, an access check per connection,
 * an authentication hook per route, bounded requests, optional TLS.
 *
 * It knows nothing about mail: the daemon adds the routes (/metrics,
 * /healthz, /readyz, later /api/queue) and answers them from its modules.
 *
 * Bounds (HTTP_* below): request headers and body sizes
 * (evhttp_set_max_headers_size / _max_body_size: 413 or a closed
 * connection past them), an idle timeout per connection, a deadline for
 * the first request of a connection (a client that dribbles its headers is
 * cut off), a cap on open connections (past it a new connection is closed
 * at once). No thread per request; handlers run on the loop and answer
 * before they return.
 *
 * Access: a connection whose peer the access callback refuses (the
 * daemon's http_allowed_networks) is closed before a byte is read, and
 * logged once. libevent 2.1 has no accept hook for evhttp: the check runs
 * from the connection's first event-loop pass (its bufferevent comes from
 * evhttp_set_bevcb, wrapped in a filter whose free hook counts the
 * connection out), and a refused connection is shut down, which evhttp
 * then frees.
 *
 * Routes: exact paths, or a prefix: a route path ending in '/' (not "/"
 * itself) takes every longer path under it ("/api/queue/" takes
 * "/api/queue/ABC/hold"); an exact route wins over a prefix, the longest
 * prefix over a shorter one. A known path with a method it does not take gets
 * 405 with Allow, an unknown path 404, HEAD is answered as GET without the
 * body. A route flagged HTTP_AUTH first passes the auth hook (none set:
 * 403 — a route that needs a user is never open by mistake). */
#ifndef POSTERN_HTTP_HTTP_H
#define POSTERN_HTTP_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#define HTTP_MAX_HEADERS 8192         /* bytes of the request line and headers */
#define HTTP_MAX_BODY 65536           /* bytes of a request body */
#define HTTP_IDLE_TIMEOUT 30          /* seconds a connection may stay silent */
#define HTTP_REQUEST_DEADLINE 10      /* seconds to the end of the first request */
#define HTTP_MAX_CONNECTIONS 64

/* methods a route takes; HTTP_AUTH: the auth hook must pass first */
enum { HTTP_GET = 0x01, HTTP_HEAD = 0x02, HTTP_POST = 0x04, HTTP_AUTH = 0x100 };

struct event_base;
struct ssl_ctx_st;
struct http_server;
struct http_request;

/* "host:port", "[v6]:port", "*:port" (every IPv4 address) into host and
 * port; pure (the configuration check uses it). 0, or -1 with err. */
int http_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                      size_t errlen);
/* A listening socket for http_listen (non-blocking, close-on-exec), bound
 * by the privileged parent before the worker exists; -1 with err. */
int http_bind(const char *listen, char *err, size_t errlen);

/* Serve the listening socket fd (owned from now on, even on failure).
 * tls: NULL, or a server context (a reference is taken) to speak only TLS.
 * NULL with err. */
struct http_server *http_new(struct event_base *base, int fd, struct ssl_ctx_st *tls,
                             char *err, size_t errlen);
/* Close the listener and every connection. */
void http_free(struct http_server *h);
/* Replace the TLS context (a reload); new connections use it. */
void http_set_tls(struct http_server *h, struct ssl_ctx_st *tls);

/* 1: serve this peer; 0: close the connection. NULL fn: everyone. */
typedef int http_access_fn(void *arg, const struct sockaddr *sa, socklen_t salen);
void http_set_access(struct http_server *h, http_access_fn *fn, void *arg);

/* For HTTP_AUTH routes: 0 to go on, or -1 after answering (http_reply:
 * 401 with its WWW-Authenticate, 403). */
typedef int http_auth_fn(void *arg, struct http_request *req);
void http_set_auth(struct http_server *h, http_auth_fn *fn, void *arg);

/* A handler answers with http_reply before it returns. */
typedef void http_handler_fn(void *arg, struct http_request *req);
/* Add a route for the exact path (e.g. "/metrics"); flags: methods and
 * HTTP_AUTH. 0, or -1 (no memory, or the path is taken). */
int http_route(struct http_server *h, const char *path, unsigned flags, http_handler_fn *fn,
               void *arg);

/* The request, valid while its handler runs. */
unsigned http_request_method(const struct http_request *r);  /* HTTP_GET, ... */
const char *http_request_path(const struct http_request *r);  /* without the query */
const char *http_request_query(const struct http_request *r); /* NULL: none */
const char *http_request_header(const struct http_request *r, const char *name);
/* The peer as "addr" (for logs). */
const char *http_request_peer(const struct http_request *r);

/* The connection speaks TLS (for an https origin). */
int http_request_tls(const struct http_request *r);
/* The request body (at most HTTP_MAX_BODY bytes), NUL-terminated, length
 * in *len; NULL when out of memory. */
const char *http_request_body(struct http_request *r, size_t *len);
/* The authenticated user, set by the auth hook for the handler ("" when
 * none). */
void http_request_set_user(struct http_request *r, const char *name);
const char *http_request_user(const struct http_request *r);

/* The value of field name in a query string or an
 * application/x-www-form-urlencoded body ("a=1&b=x%20y"): decoded ('+'
 * and %XX) into out. 1 found, 0 absent, -1 malformed (a bad escape, a NUL)
 * or longer than outlen - 1. The first occurrence wins. Pure. */
int http_form_get(const char *text, const char *name, char *out, size_t outlen);

/* Cross-site request forgery: did a browser send this request from a page
 * of this server? Origin, when sent, must be http(s)://Host exactly
 * (scheme by tls); without Origin, Sec-Fetch-Site, when sent, must be
 * same-origin or none. 1: same origin; 0: another (or "null"); -1: neither
 * header (not a browser, or a very old one: the caller decides). Pure. */
int http_same_origin(const char *origin, const char *fetch_site, const char *host, int tls);

/* Answer: status, content type, body (copied). Once per request. */
void http_reply(struct http_request *r, int status, const char *ctype, const void *body,
                size_t len);
/* Add a response header before http_reply (e.g. WWW-Authenticate). */
void http_reply_header(struct http_request *r, const char *name, const char *value);

/* Open connections, for tests and logs. */
unsigned http_connections(const struct http_server *h);

#endif

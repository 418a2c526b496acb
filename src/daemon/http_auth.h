/* http_auth — HTTP Basic authentication of the queue API and page against
 * http_users (the users file format of smtpd_sasl_users: auth/users.h),
 * and the same-origin rule of their POSTs.
 *
 * A password check is crypt(3) (yescrypt: tens of milliseconds) and runs on
 * the event loop, so it is bounded twice:
 * - a success is remembered for HTTP_AUTH_CACHE_TTL seconds, keyed by a
 *   SHA-256 of the user, the password and a random key made at start (the
 *   password itself is never kept); at most HTTP_AUTH_CACHE_SLOTS entries,
 *   the oldest replaced first; forgotten on a reload (the file may have
 *   changed). A page that makes several requests costs one crypt.
 * - checks that miss the cache are paced: at most HTTP_AUTH_VERIFY_BURST at
 *   once, refilled at HTTP_AUTH_VERIFY_RATE a second; past that the request
 *   gets 429 with Retry-After: 1 and no check runs. A guesser inside
 *   http_allowed_networks can thus take at most about RATE crypts a second
 *   of the loop's time, and gets as many guesses.
 * A failure is logged ("warning: http: authentication failed for user X
 * from [ADDR]: wrong password"), never the password. */
#ifndef POSTERN_DAEMON_HTTP_AUTH_H
#define POSTERN_DAEMON_HTTP_AUTH_H

#include <stddef.h>

#define HTTP_AUTH_CACHE_SLOTS 32
#define HTTP_AUTH_CACHE_TTL 300     /* seconds */
#define HTTP_AUTH_VERIFY_RATE 2     /* crypts a second, sustained */
#define HTTP_AUTH_VERIFY_BURST 4

struct cfg_source;
struct http_request;
struct http_auth;

struct http_auth *http_auth_new(const struct cfg_source *cfg);
void http_auth_free(struct http_auth *a);
/* The configuration was reloaded: forget every remembered success. */
void http_auth_reload(struct http_auth *a);

/* The http_auth_fn of http.h (arg: the http_auth): 0 with the user set on
 * the request (http_request_set_user), or -1 after answering 401 (no or
 * wrong credentials, with WWW-Authenticate), 403 (http_users not set) or
 * 429 (too many checks). */
int http_auth_check(void *arg, struct http_request *r);

/* A POST that changes something must come from a page of this server
 * (http_same_origin): a browser's cross-site request gets 0. api: an API
 * call, which must also carry Content-Type: application/json or
 * X-Requested-With (neither can be sent cross-site without a CORS
 * preflight, which is never granted); a form of the page (api 0) must
 * carry Origin or Sec-Fetch-Site. 1: go on; 0 with why. */
int http_auth_post_allowed(const struct http_request *r, int api, char *why, size_t len);

#endif

/* http_auth — Basic authentication and the POST origin rule of the queue
 * pages (see http_auth.h). */
#include "http_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../auth/users.h"
#include "../config/runtime.h"
#include "../http/http.h"
#include "../util/base64.h"
#include "../util/clock.h"
#include "../util/log.h"

/* user ":" password of a Basic header, decoded */
#define CRED_MAX 1024

struct cached {
    unsigned char key[32];         /* SHA-256(secret, user, 0, password) */
    long long until_ms;            /* monotonic; 0: free */
};

struct http_auth {
    const struct cfg_source *cfg;
    unsigned char secret[32];
    struct cached cache[HTTP_AUTH_CACHE_SLOTS];
    double tokens;                 /* crypts allowed now */
    long long tokens_ms;           /* when tokens was last refilled */
};

struct http_auth *http_auth_new(const struct cfg_source *cfg)
{
    struct http_auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (RAND_bytes(a->secret, sizeof a->secret) != 1) {
        free(a);
        return NULL;
    }
    a->cfg = cfg;
    a->tokens = HTTP_AUTH_VERIFY_BURST;
    a->tokens_ms = clock_monotonic_ms();
    return a;
}

void http_auth_free(struct http_auth *a)
{
    if (!a)
        return;
    OPENSSL_cleanse(a, sizeof *a);
    free(a);
}

void http_auth_reload(struct http_auth *a)
{
    if (a)
        memset(a->cache, 0, sizeof a->cache);
}

static int cred_key(const struct http_auth *a, const char *user, const char *pass,
                    unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, a->secret, sizeof a->secret) == 1 &&
             EVP_DigestUpdate(md, user, strlen(user) + 1) == 1 &&
             EVP_DigestUpdate(md, pass, strlen(pass)) == 1 &&
             EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static int cache_find(const struct http_auth *a, const unsigned char key[32], long long now)
{
    for (size_t i = 0; i < HTTP_AUTH_CACHE_SLOTS; i++)
        if (a->cache[i].until_ms > now && CRYPTO_memcmp(a->cache[i].key, key, 32) == 0)
            return 1;
    return 0;
}

static void cache_add(struct http_auth *a, const unsigned char key[32],
                      long long now)
{
    size_t slot = 0;
    for (size_t i = 0; i < HTTP_AUTH_CACHE_SLOTS; i++)
        if (a->cache[i].until_ms < a->cache[slot].until_ms)
            slot = i;                  /* free or expired (0 or past), else the oldest */
    memcpy(a->cache[slot].key, key, 32);

    a->cache[slot].until_ms = now + HTTP_AUTH_CACHE_TTL * 1000LL;
}

/* One more crypt allowed now? */
static int take_token(struct http_auth *a, long long now)
{
    a->tokens += (double)(now - a->tokens_ms) * HTTP_AUTH_VERIFY_RATE / 1000.0;
    if (a->tokens > HTTP_AUTH_VERIFY_BURST)
        a->tokens = HTTP_AUTH_VERIFY_BURST;
    a->tokens_ms = now;
    if (a->tokens < 1)
        return 0;
    a->tokens -= 1;
    return 1;
}

static int deny(struct http_request *r)
{
    http_reply_header(r, "WWW-Authenticate", "Basic realm=\"postern\", charset=\"UTF-8\"");
    static const char t[] = "authentication required\n";
    http_reply(r, 401, "text/plain; charset=utf-8", t, sizeof t - 1);
    return -1;
}

/* "Basic <base64 of user:pass>" into user and pass (in buf). 0 or -1. */
static int parse_basic(const char *h, char *buf, size_t buflen, char **user, char **pass)
{
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return -1;
    h += 6;
    while (*h == ' ')
        h++;
    size_t hl = strlen(h);
    while (hl && h[hl - 1] == ' ')
        hl--;
    if (hl == 0 || BASE64_DECODED_MAX(hl) >= buflen)
        return -1;
    size_t n = base64_decode(h, hl, buf, buflen - 1);
    if (n == (size_t)-1)
        return -1;
    buf[n] = '\0';
    char *colon = memchr(buf, ':', n);
    if (!colon || strlen(buf) != n)    /* no NUL inside */
        return -1;
    *colon = '\0';
    *user = buf;
    *pass = colon + 1;
    return 0;
}

int http_auth_check(void *arg, struct http_request *r)
{
    struct http_auth *a = arg;
    const struct runtime *rt = a->cfg->current(a->cfg->arg);
    if (!rt->http_users) {
        static const char t[] = "the queue pages are off: set http_users\n";
        http_reply(r, 403, "text/plain; charset=utf-8", t, sizeof t - 1);
        return -1;
    }
    char buf[CRED_MAX], *user = NULL, *pass = NULL, clean[300];
    if (parse_basic(http_request_header(r, "Authorization"), buf, sizeof buf, &user, &pass) < 0)
        return deny(r);
    log_sanitize(user, strlen(user), clean, sizeof clean);
    long long now = clock_monotonic_ms();
    unsigned char key[32];
    int have_key = cred_key(a, user, pass, key) == 0;
    if (have_key && cache_find(a, key, now)) {
        http_request_set_user(r, user);
        OPENSSL_cleanse(buf, sizeof buf);
        return 0;
    }
    if (!take_token(a, now)) {
        OPENSSL_cleanse(buf, sizeof buf);
        http_reply_header(r, "Retry-After", "1");
        static const char t[] = "too many password checks; try again in a second\n";
        http_reply(r, 429, "text/plain; charset=utf-8", t, sizeof t - 1);
        return -1;
    }
    char why[128] = "";
    enum users_result res = users_verify(rt->http_users, user, pass, why, sizeof why);
    OPENSSL_cleanse(pass, strlen(pass));
    if (res != USERS_OK) {
        log_warning("http: authentication failed for user %s from [%s]: %s", clean,
                    http_request_peer(r), why[0] ? why : "error");
        OPENSSL_cleanse(buf, sizeof buf);
        return deny(r);
    }
    if (have_key)
        cache_add(a, key, now);
    http_request_set_user(r, user);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

int http_auth_post_allowed(const struct http_request *r, int api, char *why, size_t len)
{
    int same = http_same_origin(http_request_header(r, "Origin"),
                                http_request_header(r, "Sec-Fetch-Site"),
                                http_request_header(r, "Host"), http_request_tls(r));
    if (same == 0) {
        snprintf(why, len, "cross-origin request refused");
        return 0;
    }
    if (api) {
        const char *ct = http_request_header(r, "Content-Type");
        if (!(ct && strncasecmp(ct, "application/json", 16) == 0) &&
            !http_request_header(r, "X-Requested-With")) {
            snprintf(why, len, "an API POST needs Content-Type: application/json or an "
                     "X-Requested-With header");
            return 0;
        }
        return 1;
    }
    if (same < 0) {
        snprintf(why, len, "a form POST needs an Origin or Sec-Fetch-Site header");
        return 0;
    }
    return 1;
}

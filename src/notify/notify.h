/* notify — webhooks: a signed JSON POST to each notify_url on a bounce, a
 * delay warning, an upstream login failure, and an upstream quota
 * deferral (docs/operations.md, "Webhooks").
 *
 * Two halves. payload.c is pure: the body of one event (json: the event
 * itself; slack: {"text": "..."} for Slack and Mattermost incoming
 * webhooks) and its signature, sha256=HEX(HMAC-SHA256(secret, timestamp +
 * "." + body)). notify.c delivers: libcurl's multi interface driven by the
 * daemon's libevent loop (no thread, no blocking call), one transfer per
 * event and URL, connect timeout 5 s, total 10 s, a 2xx is success,
 * anything else is tried again after 1, 2, 4, 8 s (5 tries), then dropped
 * with a warning. At most NOTIFY_QUEUE_MAX transfers wait or run; a new
 * event beyond that drops the oldest waiting one (counted, logged). Mail
 * never waits for a webhook.
 *
 * "Once": notify_emit drops an upstream_login_failed for an upstream
 * already known to fail (until notify_login_ok says it logged in), and a
 * quota_deferred for a key whose window is still the full one announced
 * (until its next slot). The callers report every occurrence.
 *
 * Logs name a URL by its origin only (scheme://host:port): webhook paths
 * often hold tokens. The secret never reaches a log. */
#ifndef POSTERN_NOTIFY_NOTIFY_H
#define POSTERN_NOTIFY_NOTIFY_H

#include <stddef.h>

struct config;
struct event_base;
struct metrics;
struct sbuf;

#define NOTIFY_QUEUE_MAX 1000
#define NOTIFY_TRIES 5
#define NOTIFY_SIG_SIZE (7 + 64 + 1)   /* "sha256=" HEX NUL */

enum notify_kind {
    NOTIFY_BOUNCE,
    NOTIFY_DELAYED,
    NOTIFY_LOGIN_FAILED,
    NOTIFY_QUOTA_DEFERRED,
    NOTIFY_KINDS
};

/* One event; strings are the caller's (NULL: ""), copied by notify_emit. */
struct notify_event {
    enum notify_kind kind;
    long long time;                 /* seconds since the epoch */
    const char *queue_id;           /* bounce, delayed */
    const char *sender;             /* bounce, delayed ("" : the null sender) */
    const char *recipient;          /* bounce */
    const char *const *recipients;  /* delayed: the deferred recipients */
    size_t nrecipients;
    const char *dsn;                /* bounce, delayed (the first recipient's) */
    const char *reason;             /* all */
    long long delay;                /* delayed: seconds in the queue */
    const char *relayhost;          /* upstream_login_failed; quota_deferred: "" */
    const char *key;                /* quota_deferred: the relayhost_rate_limits key */
    const char *window;             /* quota_deferred: "100/1h" */
    long long next_slot;            /* quota_deferred: seconds since the epoch */
};

/* "bounce", "delayed", "upstream_login_failed", "quota_deferred"; NULL for
 * another value. */
const char *notify_kind_name(enum notify_kind k);
/* The kind named so, or -1. */
int notify_kind_parse(const char *name);

/* Append the event's body: slack = 0 the JSON event, slack = 1 a
 * {"text": "..."} message. Check b->oom once after. */
void notify_payload(struct sbuf *b, const struct notify_event *ev, int slack);

/* sig = "sha256=" + the lowercase hex HMAC-SHA256 under key of
 * timestamp "." body. 0, or -1 (OpenSSL failed). */
int notify_sign(const void *key, size_t keylen, const char *timestamp, const char *body,
                size_t bodylen, char sig[NOTIFY_SIG_SIZE]);

/* "scheme://host[:port]" of url in out (for logs: no path, no userinfo). */
void notify_url_origin(const char *url, char *out, size_t outlen);

struct notify;

/* A notifier on base; counters in m (may be NULL). NULL with err. */
struct notify *notify_new(struct event_base *base, struct metrics *m, char *err,
                          size_t errlen);
/* Take cfg's notify_* settings and the key (secret, len bytes; copied)
 * for the events from now on; transfers under way keep theirs. 0, or -1
 * (no memory: the old settings stay). */
int notify_configure(struct notify *n, const struct config *cfg, const void *secret,
                     size_t secretlen);
/* Queue ev for every URL (nothing when no URL is set or the kind is not
 * in notify_events). */
void notify_emit(struct notify *n, const struct notify_event *ev);
/* relayhost accepted a login: its next failure is news again. */
void notify_login_ok(struct notify *n, const char *relayhost);
/* Transfers waiting or running (tests, shutdown). */
size_t notify_pending(const struct notify *n);
/* Abandon what is left (logged) and free. NULL is fine. */
void notify_free(struct notify *n);

#endif

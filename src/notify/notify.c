/* notify — webhook delivery on the event loop with libcurl's multi
 * interface (see notify.h). curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * libevent watches, and hands readiness back with curl_multi_socket_action.
 * Nothing here waits: name resolution runs in curl's own resolver thread. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "../config/config.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/sbuf.h"

#define NOTIFY_RUNNING_MAX 8        /* transfers at once; the rest wait */
#define NOTIFY_SEEN_MAX 64          /* upstreams and quota keys remembered */
#define NOTIFY_BODY_MAX 65536       /* a receiver's reply: read and dropped */

/* The settings one transfer was queued with (shared, counted). */
struct notify_conf {
    int refs;
    char **url;
    size_t nurl;
    unsigned char *secret;
    size_t secretlen;
    int slack;
    unsigned events;                /* 1 << kind */
    char *cafile;                   /* NULL: the system's */
};

struct job {
    struct job *next, *prev;        /* the waiting list, or unlinked */
    struct job *anext, *aprev;      /* every job, whatever its state */
    struct notify *n;
    struct notify_conf *conf;
    size_t url;                     /* index into conf->url */
    char *body;
    size_t bodylen;
    char event[24];                 /* the kind's name, for logs */
    char who[48];                   /* "QID: " (logs: the queue id first), or "" */
    char ts[24];
    char sig[NOTIFY_SIG_SIZE];
    int tries;
    CURL *easy;                     /* running, or NULL */
    struct curl_slist *headers;
    struct event *retry;            /* backing off, or NULL */
    size_t got;                     /* reply bytes read */
};

/* An upstream known to fail its login, or a quota key announced full until. */
struct seen {
    char *name;
    long long until;                /* quota: ms; login: unused */
};

struct notify {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct notify_conf *conf;
    struct job *head, *tail;        /* waiting, oldest first */
    struct job *all;                /* waiting, running and backing off */
    size_t nwaiting, nrunning, nbackoff;
    struct seen login[NOTIFY_SEEN_MAX], quota[NOTIFY_SEEN_MAX];
    struct metric_family *m_sent, *m_failed, *m_dropped;
};

/* ---------- settings ---------- */

static void conf_unref(struct notify_conf *c)
{
    if (!c || --c->refs > 0)
        return;
    for (size_t i = 0; i < c->nurl; i++)
        free(c->url[i]);
    free(c->url);
    if (c->secret) {
        OPENSSL_cleanse(c->secret, c->secretlen);
        free(c->secret);
    }
    free(c->cafile);
    free(c);
}

int notify_configure(struct notify *n, const struct config *cfg, const void *secret,
                     size_t secretlen)
{
    struct notify_conf *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->refs = 1;
    c->slack = strcmp(cfg->notify_format, "slack") == 0;
    for (size_t i = 0; i < cfg->notify_events.n; i++) {
        int k = notify_kind_parse(cfg->notify_events.v[i]);
        if (k >= 0)
            c->events |= 1u << k;
    }
    int bad = !(c->url = calloc(cfg->notify_url.n + 1, sizeof *c->url)) ||
              !(c->secret = malloc(secretlen + 1)) ||
              (cfg->notify_tls_CAfile[0] && !(c->cafile = strdup(cfg->notify_tls_CAfile)));
    for (size_t i = 0; !bad && i < cfg->notify_url.n; i++, c->nurl++)
        bad = !(c->url[i] = strdup(cfg->notify_url.v[i]));
    if (bad) {
        conf_unref(c);
        return -1;
    }
    if (secretlen)
        memcpy(c->secret, secret, secretlen);
    c->secretlen = secretlen;
    conf_unref(n->conf);
    n->conf = c;
    return 0;
}

/* ---------- the waiting list ---------- */

static void list_unlink(struct notify *n, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        n->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        n->tail = j->prev;
    j->next = j->prev = NULL;
    n->nwaiting--;
}

static void list_append(struct notify *n, struct job *j)
{
    j->prev = n->tail;
    j->next = NULL;
    if (n->tail)
        n->tail->next = j;
    else
        n->head = j;
    n->tail = j;
    n->nwaiting++;
}

static void job_free(struct job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        j->n->all = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    if (j->easy) {
        curl_multi_remove_handle(j->n->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->headers);
    if (j->retry)
        event_free(j->retry);
    conf_unref(j->conf);
    free(j->body);
    free(j);
}

static void origin(const struct job *j, char *out, size_t outlen)
{
    notify_url_origin(j->conf->url[j->url], out, outlen);
}

/* ---------- curl on libevent ---------- */

static void start_waiting(struct notify *n);

static size_t on_reply(char *p, size_t size, size_t nmemb, void *arg)
{
    struct job *j = arg;
    (void)p;
    j->got += size * nmemb;
    /* a receiver that talks forever is cut off (a failed try) */
    return j->got > NOTIFY_BODY_MAX ? 0 : size * nmemb;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    (void)fd;
    (void)what;
    event_free(j->retry);
    j->retry = NULL;
    j->n->nbackoff--;
    list_append(j->n, j);
    start_waiting(j->n);
}

/* A transfer ended: done, tried again later, or given up. */
static void job_finished(struct job *j, CURLcode cc)
{
    struct notify *n = j->n;
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(n->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    n->nrunning--;
    char o[256];
    origin(j, o, sizeof o);
    if (cc == CURLE_OK && status >= 200 && status < 300) {
        metrics_inc1(n->m_sent, j->event);
        log_info("%snotify: %s sent to %s (HTTP %ld, try %d)", j->who, j->event, o, status, j->tries);
        job_free(j);
        return;
    }
    char why[160];
    if (cc != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
    else
        snprintf(why, sizeof why, "HTTP %ld", status);
    metrics_inc1(n->m_failed, j->event);
    if (j->tries >= NOTIFY_TRIES) {
        log_warning("%snotify: %s to %s failed (%s); given up after %d tries", j->who, j->event, o, why,
                    j->tries);
        job_free(j);
        return;
    }
    int wait = 1 << (j->tries - 1);     /* 1, 2, 4, 8 s */
    log_warning("%snotify: %s to %s failed (%s); trying again in %ds", j->who, j->event, o, why, wait);
    struct timeval tv = { wait, 0 };
    if (!(j->retry = evtimer_new(n->base, on_retry, j)) || evtimer_add(j->retry, &tv) < 0) {
        log_warning("%snotify: %s to %s dropped: out of memory", j->who, j->event, o);
        job_free(j);
        return;
    }
    n->nbackoff++;
}

static void check_done(struct notify *n)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(n->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            struct job *j = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            job_finished(j, msg->data.result);
        }
    start_waiting(n);
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
    struct notify *n = arg;
    int running = 0;
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(n->multi, fd, flags, &running);
    check_done(n);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct notify *n = arg;
    int running = 0;
    (void)fd;
    (void)what;
    curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(n);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct notify *n = userp;
    struct event *ev = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ev)
            event_free(ev);
        curl_multi_assign(n->multi, s, NULL);
        return 0;
    }
    short kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    if (ev) {
        event_del(ev);
        event_assign(ev, n->base, s, kind, on_socket_ready, n);
    } else {
        ev = event_new(n->base, s, kind, on_socket_ready, n);
        if (!ev)
            return -1;
        curl_multi_assign(n->multi, s, ev);
    }
    return event_add(ev, NULL);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct notify *n = userp;
    (void)multi;
    if (timeout_ms < 0)
        return evtimer_del(n->timer);
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return evtimer_add(n->timer, &tv);
}

/* Hand j to curl; on failure it is tried again like a failed POST. */
static void job_start(struct notify *n, struct job *j)
{
    char h[128];
    j->tries++;
    j->got = 0;
    n->nrunning++;
    CURL *e = j->easy = curl_easy_init();
    struct curl_slist *l = NULL, *t;
    const char *hs[] = { "Content-Type: application/json", "Expect:",
                         "User-Agent: postern/" POSTERN_VERSION };
    int ok = e != NULL;
    for (size_t i = 0; ok && i < sizeof hs / sizeof *hs; i++)
        ok = (t = curl_slist_append(l, hs[i])) && (l = t);
    snprintf(h, sizeof h, "X-Postern-Event: %s", j->event);
    ok = ok && (t = curl_slist_append(l, h)) && (l = t);
    snprintf(h, sizeof h, "X-Postern-Timestamp: %s", j->ts);
    ok = ok && (t = curl_slist_append(l, h)) && (l = t);
    snprintf(h, sizeof h, "X-Postern-Signature: %s", j->sig);
    ok = ok && (t = curl_slist_append(l, h)) && (l = t);
    j->headers = l;
    if (ok) {
        curl_easy_setopt(e, CURLOPT_URL, j->conf->url[j->url]);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        if (j->conf->cafile)
            curl_easy_setopt(e, CURLOPT_CAINFO, j->conf->cafile);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)j->bodylen);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
        ok = curl_multi_add_handle(n->multi, e) == CURLM_OK;
    }
    if (!ok) {
        if (e) {
            curl_easy_cleanup(e);
            j->easy = NULL;
        }
        curl_slist_free_all(j->headers);
        j->headers = NULL;
        n->nrunning--;
        char o[256];
        origin(j, o, sizeof o);
        log_warning("%snotify: %s to %s dropped: cannot start a transfer", j->who, j->event, o);
        job_free(j);
    }
}

static void start_waiting(struct notify *n)
{
    while (n->head && n->nrunning < NOTIFY_RUNNING_MAX) {
        struct job *j = n->head;
        list_unlink(n, j);
        job_start(n, j);
    }
}

/* ---------- events ---------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct seen *seen_find(struct seen *t, const char *name)
{
    for (size_t i = 0; i < NOTIFY_SEEN_MAX; i++)
        if (t[i].name && strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* Remember name; a full table forgets its first entry (at worst one
 * event too many, never one too few). */
static struct seen *seen_add(struct seen *t, const char *name)
{
    size_t i = 0;
    while (i < NOTIFY_SEEN_MAX && t[i].name)
        i++;
    if (i == NOTIFY_SEEN_MAX) {
        free(t[0].name);
        memmove(t, t + 1, (NOTIFY_SEEN_MAX - 1) * sizeof *t);
        i = NOTIFY_SEEN_MAX - 1;
        t[i].name = NULL;
    }
    if (!(t[i].name = strdup(name)))
        return NULL;
    t[i].until = 0;
    return &t[i];
}

void notify_login_ok(struct notify *n, const char *relayhost)
{
    struct seen *s = n ? seen_find(n->login, relayhost ? relayhost : "") : NULL;
    if (s) {
        free(s->name);
        s->name = NULL;
    }
}

/* Not news: the upstream already failed, or the quota window announced
 * full is still the one that defers. */
static int already_told(struct notify *n, const struct notify_event *ev)
{
    if (ev->kind == NOTIFY_LOGIN_FAILED) {
        const char *r = ev->relayhost ? ev->relayhost : "";
        if (seen_find(n->login, r))
            return 1;
        seen_add(n->login, r);
    } else if (ev->kind == NOTIFY_QUOTA_DEFERRED) {
        const char *k = ev->key ? ev->key : "";
        struct seen *s = seen_find(n->quota, k);
        if (s && now_ms() < s->until)
            return 1;
        if (s || (s = seen_add(n->quota, k)))
            s->until = ev->next_slot * 1000;
    }
    return 0;
}

/* Room for one more: the oldest job that is not running goes (waiting,
 * or backing off before its next try). New jobs go to the front of
 * n->all, so the oldest is the last one there. */
static void make_room(struct notify *n)
{
    while (n->nwaiting + n->nrunning + n->nbackoff >= NOTIFY_QUEUE_MAX) {
        struct job *j = NULL;
        for (struct job *k = n->all; k; k = k->anext)
            if (!k->easy)
                j = k;
        if (!j)
            return;             /* all running: the limit is theirs */
        if (j->retry)
            n->nbackoff--;
        else
            list_unlink(n, j);
        char o[256];
        origin(j, o, sizeof o);
        metrics_inc1(n->m_dropped, j->event);
        log_warning("%snotify: %s to %s dropped: more than %d webhooks waiting", j->who,
                    j->event, o, NOTIFY_QUEUE_MAX);
        job_free(j);
    }
}

void notify_emit(struct notify *n, const struct notify_event *ev)
{
    struct notify_conf *c = n ? n->conf : NULL;
    if (!c || c->nurl == 0 || !(c->events & (1u << ev->kind)) || already_told(n, ev))
        return;
    struct sbuf b = SBUF_INIT;
    notify_payload(&b, ev, c->slack);
    size_t len = 0;
    char *body = sbuf_take(&b, &len);
    if (!body) {
        log_warning("notify: %s dropped: out of memory", notify_kind_name(ev->kind));
        return;
    }
    char ts[24], sig[NOTIFY_SIG_SIZE];
    snprintf(ts, sizeof ts, "%lld", ev->time);
    if (notify_sign(c->secret, c->secretlen, ts, body, len, sig) < 0) {
        log_warning("notify: %s dropped: cannot sign it", notify_kind_name(ev->kind));
        free(body);
        return;
    }
    for (size_t u = 0; u < c->nurl; u++) {
        make_room(n);
        struct job *j = calloc(1, sizeof *j);
        char *copy = j ? malloc(len + 1) : NULL;
        if (!copy) {
            free(j);
            log_warning("notify: %s dropped: out of memory", notify_kind_name(ev->kind));
            break;
        }
        memcpy(copy, body, len + 1);
        j->n = n;
        j->conf = c;
        c->refs++;
        j->url = u;
        j->body = copy;
        j->bodylen = len;
        snprintf(j->event, sizeof j->event, "%s", notify_kind_name(ev->kind));
        if (ev->queue_id && *ev->queue_id)
            snprintf(j->who, sizeof j->who, "%.40s: ", ev->queue_id);
        memcpy(j->ts, ts, sizeof ts);
        memcpy(j->sig, sig, sizeof sig);
        j->anext = n->all;
        if (n->all)
            n->all->aprev = j;
        n->all = j;
        list_append(n, j);
    }
    free(body);
    start_waiting(n);
}

size_t notify_pending(const struct notify *n)
{
    return n ? n->nwaiting + n->nrunning + n->nbackoff : 0;
}

struct notify *notify_new(struct event_base *base, struct metrics *m, char *err,
                          size_t errlen)
{
    struct notify *n = calloc(1, sizeof *n);
    if (!n || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(n);
        snprintf(err, errlen, "webhooks: cannot start libcurl");
        return NULL;
    }
    n->base = base;
    n->multi = curl_multi_init();
    n->timer = evtimer_new(base, on_timeout, n);
    if (!n->multi || !n->timer) {
        snprintf(err, errlen, "webhooks: out of memory");
        notify_free(n);
        return NULL;
    }
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
    static const char *const ev[] = { "event" };
    n->m_sent = metrics_family(m, METRIC_COUNTER, "postern_webhooks_sent_total",
                               "Webhook POSTs answered with 2xx, by event.", ev, 1, NULL, 0);
    n->m_failed = metrics_family(m, METRIC_COUNTER, "postern_webhooks_failed_total",
                                 "Webhook POST tries that failed, by event.", ev, 1, NULL, 0);
    n->m_dropped = metrics_family(m, METRIC_COUNTER, "postern_webhooks_dropped_total",
                                  "Webhooks dropped because too many were waiting, by event.",
                                  ev, 1, NULL, 0);
    return n;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    size_t left = notify_pending(n);
    if (left)
        log_warning("notify: %zu webhook%s not sent (stopping)", left, left == 1 ? "" : "s");
    while (n->all)
        job_free(n->all);
    for (size_t i = 0; i < NOTIFY_SEEN_MAX; i++) {
        free(n->login[i].name);
        free(n->quota[i].name);
    }
    if (n->timer)
        event_free(n->timer);
    if (n->multi)
        curl_multi_cleanup(n->multi);
    conf_unref(n->conf);
    curl_global_cleanup();
    free(n);
}

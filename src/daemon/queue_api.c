/* queue_api — /api/queue and /queue (see queue_api.h). */
#include "queue_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../config/runtime.h"
#include "../http/http.h"
#include "../queue/admin.h"
#include "../queue/queue.h"
#include "../queue/spool.h"
#include "../util/log.h"
#include "../util/sbuf.h"
#include "http_auth.h"
#include "queue_page.h"
#include "queue_view.h"

struct queue_api {
    const struct cfg_source *cfg;
    struct queue *queue;
    struct http_auth *auth;
};

static const char JSON[] = "application/json";

static const struct config *cfg_of(const struct queue_api *a)
{
    return a->cfg->current(a->cfg->arg)->cfg;
}

static void reply_sbuf(struct http_request *r, int status, const char *ctype, struct sbuf *b)
{
    size_t len = 0;
    char *text = sbuf_take(b, &len);
    if (!text) {
        static const char t[] = "{\"error\":\"out of memory\"}\n";
        http_reply(r, 503, JSON, t, sizeof t - 1);
        return;
    }
    http_reply(r, status, ctype, text, len);
    free(text);
}

static void reply_error(struct http_request *r, int status, const char *why)
{
    struct sbuf b = SBUF_INIT;
    sbuf_str(&b, "{\"ok\":false,\"error\":");
    sbuf_json(&b, why);
    sbuf_str(&b, "}\n");
    reply_sbuf(r, status, JSON, &b);
}

static void json_str_or_null(struct sbuf *b, const char *s)
{
    if (s)
        sbuf_json(b, s);
    else
        sbuf_str(b, "null");
}

/* One message as a JSON object; full: the client fields too. */
static void json_item(struct sbuf *b, const struct queue_item *it, long long now, int full)
{
    const struct envelope *e = &it->env;
    sbuf_str(b, "{\"queue_id\":");
    sbuf_json(b, e->qid);
    sbuf_str(b, ",\"state\":");
    sbuf_json(b, it->state);
    sbuf_printf(b, ",\"arrival\":%lld,\"age\":%lld,\"size\":%zu,\"attempts\":%d,"
                "\"next_attempt\":", e->arrival_sec, now - e->arrival_sec, e->content_len,
                e->attempts);
    if (e->next_attempt > 0)
        sbuf_printf(b, "%lld", e->next_attempt);
    else
        sbuf_str(b, "null");
    sbuf_str(b, ",\"sender\":");
    sbuf_json(b, e->sender ? e->sender : "");
    sbuf_str(b, ",\"sasl_username\":");
    json_str_or_null(b, e->sasl_username);
    if (full) {
        sbuf_str(b, ",\"client_address\":");
        json_str_or_null(b, e->client_addr);
        sbuf_str(b, ",\"client_name\":");
        json_str_or_null(b, e->client_name);
        sbuf_str(b, ",\"helo\":");
        json_str_or_null(b, e->helo);
        sbuf_str(b, ",\"protocol\":");
        json_str_or_null(b, e->protocol);
    }
    sbuf_str(b, ",\"recipients\":[");
    for (size_t i = 0; i < e->nrcpt; i++) {
        const struct env_rcpt *rc = &e->rcpt[i];
        sbuf_str(b, i ? ",{\"address\":" : "{\"address\":");
        sbuf_json(b, rc->addr ? rc->addr : "");
        sbuf_str(b, ",\"state\":");
        sbuf_json(b, envelope_state_name(rc->state));
        sbuf_str(b, ",\"dsn\":");
        json_str_or_null(b, rc->dsn[0] ? rc->dsn : NULL);
        sbuf_str(b, ",\"last_error\":");
        json_str_or_null(b, rc->state == RCPT_SENT ? NULL : rc->reason);
        sbuf_str(b, "}");
    }
    sbuf_str(b, "]}");
}

/* ---------- GET ---------- */

static void api_list(struct queue_api *a, struct http_request *r)
{
    struct queue_filter f;
    char why[256];
    if (queue_filter_parse(http_request_query(r), &f, why, sizeof why) < 0) {
        reply_error(r, 400, why);
        return;
    }
    struct queue_list l;
    long long now = (long long)time(NULL);
    if (queue_list_load(queue_admin(a->queue), &f, now, &l, why, sizeof why) < 0) {
        reply_error(r, 503, why);
        return;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "{\"count\":%zu,\"truncated\":%s,\"actions\":%s,\"messages\":[", l.n,
                l.truncated ? "true" : "false", cfg_of(a)->http_queue_actions ? "true" : "false");
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            sbuf_str(&b, ",\n");
        json_item(&b, &l.v[i], now, 0);
    }
    sbuf_str(&b, "]}\n");
    queue_list_free(&l);
    reply_sbuf(r, 200, JSON, &b);
}

static void api_show(struct queue_api *a, struct http_request *r, const char *qid)
{
    struct queue_item it;
    char why[256];
    int found = queue_item_load(queue_admin(a->queue), qid, &it, why, sizeof why);
    if (found < 0) {
        reply_error(r, 503, why);
        return;
    }
    if (found == 0) {
        reply_error(r, 404, "no such message in the queue");
        return;
    }
    struct sbuf b = SBUF_INIT;
    json_item(&b, &it, (long long)time(NULL), 1);
    sbuf_str(&b, "\n");
    envelope_free(&it.env);
    reply_sbuf(r, 200, JSON, &b);
}

/* ---------- actions ---------- */

static int verb_parse(const char *s, size_t n, enum admin_verb *v)
{
    static const enum admin_verb verbs[] = { ADMIN_FLUSH, ADMIN_HOLD, ADMIN_RELEASE,
                                             ADMIN_DELETE };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strlen(admin_verb_name(verbs[i])) == n &&
            memcmp(admin_verb_name(verbs[i]), s, n) == 0) {
            *v = verbs[i];
            return 0;
        }
    return -1;
}

/* May this request act? 1, or 0 after answering (403). */
static int may_act(struct queue_api *a, struct http_request *r, int api)
{
    char why[200];
    if (!http_auth_post_allowed(r, api, why, sizeof why)) {
        log_warning("http: POST %s by user %s from [%s] refused: %s", http_request_path(r),
                    http_request_user(r), http_request_peer(r), why);
        if (api) {
            reply_error(r, 403, why);
        } else {
            strcat(why, "\n");
            http_reply(r, 403, "text/plain; charset=utf-8", why, strlen(why));
        }
        return 0;
    }
    if (!cfg_of(a)->http_queue_actions) {
        static const char t[] = "queue actions are off (http_queue_actions = no)";
        if (api)
            reply_error(r, 403, t);
        else
            http_reply(r, 403, "text/plain; charset=utf-8", t, sizeof t - 1);
        return 0;
    }
    return 1;
}

/* Run verb on qid ("" flush: everything) as the request's user: 0 ok, -1
 * failed; the answer line of admin.h in out. */
static int act(struct queue_api *a, struct http_request *r, enum admin_verb verb,
               const char *qid, char *out, size_t outlen)
{
    char by[300], clean[280];
    const char *u = http_request_user(r);
    log_sanitize(u, strlen(u), clean, sizeof clean);
    snprintf(by, sizeof by, "http user %s", clean);
    return admin_execute_by(queue_admin(a->queue), verb, qid, by, out, outlen);
}

static void api_act(struct queue_api *a, struct http_request *r, enum admin_verb verb,
                    const char *qid)
{
    if (!may_act(a, r, 1))
        return;
    if (qid[0] && spool_where(queue_admin(a->queue)->spool, qid) == SPOOL_ABSENT) {
        reply_error(r, 404, "no such message in the queue");
        return;
    }
    char out[512];
    int rc = act(a, r, verb, qid, out, sizeof out);
    /* "ok ..." / "error ..." */
    const char *text = out + (rc == 0 ? 3 : 6);
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "{\"ok\":%s,\"%s\":", rc == 0 ? "true" : "false",
                rc == 0 ? "result" : "error");
    sbuf_json(&b, text);
    sbuf_str(&b, "}\n");
    reply_sbuf(r, rc == 0 ? 200 : 409, JSON, &b);
}

/* ---------- routes ---------- */

static void on_list(void *arg, struct http_request *r)
{
    api_list(arg, r);
}

static void on_flush_all(void *arg, struct http_request *r)
{
    api_act(arg, r, ADMIN_FLUSH, "");
}

/* /api/queue/QID or /api/queue/QID/VERB */
static void on_message(void *arg, struct http_request *r)
{
    struct queue_api *a = arg;
    const char *rest = http_request_path(r) + strlen("/api/queue/");
    const char *slash = strchr(rest, '/');
    size_t ql = slash ? (size_t)(slash - rest) : strlen(rest);
    char qid[QID_LEN + 1];
    if (ql != QID_LEN) {
        reply_error(r, 404, "not a queue id");
        return;
    }
    memcpy(qid, rest, QID_LEN);
    qid[QID_LEN] = '\0';
    if (!qid_valid(qid)) {
        reply_error(r, 404, "not a queue id");
        return;
    }
    unsigned m = http_request_method(r);
    if (!slash) {
        if (m == HTTP_POST) {
            http_reply_header(r, "Allow", "GET, HEAD");
            reply_error(r, 405, "use POST /api/queue/QID/flush|hold|release|delete");
            return;
        }
        api_show(a, r, qid);
        return;
    }
    enum admin_verb verb;
    if (verb_parse(slash + 1, strlen(slash + 1), &verb) < 0) {
        reply_error(r, 404, "use /api/queue/QID/flush|hold|release|delete");
        return;
    }
    if (m != HTTP_POST) {
        http_reply_header(r, "Allow", "POST");
        reply_error(r, 405, "use POST");
        return;
    }
    api_act(a, r, verb, qid);
}

static void page_reply(struct queue_api *a, struct http_request *r, const char *notice,
                       int notice_error)
{
    struct queue_filter f;
    char why[256];
    if (queue_filter_parse(http_request_query(r), &f, why, sizeof why) < 0) {
        strcat(why, "\n");
        http_reply(r, 400, "text/plain; charset=utf-8", why, strlen(why));
        return;
    }
    struct queue_list l;
    long long now = (long long)time(NULL);
    if (queue_list_load(queue_admin(a->queue), &f, now, &l, why, sizeof why) < 0) {
        strcat(why, "\n");
        http_reply(r, 503, "text/plain; charset=utf-8", why, strlen(why));
        return;
    }
    struct sbuf b = SBUF_INIT;
    struct queue_page_args pa = { &l, &f, http_request_user(r), cfg_of(a)->http_queue_actions,
                                  notice, notice_error, now };
    queue_page_render(&b, &pa);
    queue_list_free(&l);
    http_reply_header(r, "Content-Security-Policy", QUEUE_PAGE_CSP);
    http_reply_header(r, "X-Frame-Options", "DENY");
    /* not no-referrer: with it a browser sends "Origin: null" on the page's own forms */
    http_reply_header(r, "Referrer-Policy", "same-origin");
    reply_sbuf(r, 200, "text/html; charset=utf-8", &b);
}

static void on_page(void *arg, struct http_request *r)
{
    struct queue_api *a = arg;
    if (http_request_method(r) != HTTP_POST) {
        page_reply(a, r, NULL, 0);
        return;
    }
    if (!may_act(a, r, 0))
        return;
    size_t len = 0;
    const char *body = http_request_body(r, &len);
    char qid[QID_LEN + 2], verb_s[16], out[512];
    enum admin_verb verb;
    if (!body || http_form_get(body, "qid", qid, sizeof qid) != 1 ||
        http_form_get(body, "action", verb_s, sizeof verb_s) != 1 ||
        verb_parse(verb_s, strlen(verb_s), &verb) < 0 || !qid_valid(qid)) {
        static const char t[] = "expected the form fields qid and action\n";
        http_reply(r, 400, "text/plain; charset=utf-8", t, sizeof t - 1);
        return;
    }
    int rc = act(a, r, verb, qid, out, sizeof out);
    page_reply(a, r, out + (rc == 0 ? 3 : 6), rc != 0);
}

struct queue_api *queue_api_new(struct http_server *h, const struct cfg_source *cfg,
                                struct queue *q, char *err, size_t errlen)
{
    struct queue_api *a = calloc(1, sizeof *a);
    if (!a || !(a->auth = http_auth_new(cfg))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->queue = q;
    http_set_auth(h, http_auth_check, a->auth);
    if (http_route(h, "/api/queue", HTTP_GET | HTTP_AUTH, on_list, a) < 0 ||
        http_route(h, "/api/queue/flush", HTTP_POST | HTTP_AUTH, on_flush_all, a) < 0 ||
        http_route(h, "/api/queue/", HTTP_GET | HTTP_POST | HTTP_AUTH, on_message, a) < 0 ||
        http_route(h, "/queue", HTTP_GET | HTTP_POST | HTTP_AUTH, on_page, a) < 0) {
        snprintf(err, errlen, "out of memory");
        queue_api_free(a);
        return NULL;
    }
    return a;
}

void queue_api_reload(struct queue_api *a)
{
    if (a)
        http_auth_reload(a->auth);
}

void queue_api_free(struct queue_api *a)
{
    if (!a)
        return;
    http_auth_free(a->auth);
    free(a);
}

/* Unit tests for notify's pure half (notify/payload.c): the JSON and
 * Slack bodies of each event (escaping of addresses with quotes, control
 * bytes and Slack's reserved characters), the HMAC-SHA256 signature
 * against a value computed by Python's hmac module, and URL origins for
 * logs (no path, no userinfo). And notify.c's bookkeeping, against a
 * loopback listener that never accepts (so nothing completes): the bound
 * on waiting webhooks, and "once" for login failures and full quotas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "notify/notify.h"
#include "util/sbuf.h"

static char *body(const struct notify_event *ev, int slack)
{
    struct sbuf b = SBUF_INIT;
    notify_payload(&b, ev, slack);
    assert_false(b.oom);
    return sbuf_take(&b, NULL);
}

static void test_bounce_json_escaping(void **state)
{
    (void)state;
    struct notify_event ev = {
        .kind = NOTIFY_BOUNCE, .time = 1700000000, .queue_id = "4Fq2x1",
        .sender = "\"odd\\name\"@example.org", .recipient = "a\x01\nb@example.com",
        .dsn = "5.1.1", .reason = "host x said: 550 no \"such\" user",
    };
    char *s = body(&ev, 0);
    assert_string_equal(s, "{\"event\":\"bounce\",\"time\":1700000000,\"queue_id\":\"4Fq2x1\","
                           "\"sender\":\"\\\"odd\\\\name\\\"@example.org\","
                           "\"recipient\":\"a\\u0001\\u000ab@example.com\",\"dsn\":\"5.1.1\","
                           "\"reason\":\"host x said: 550 no \\\"such\\\" user\"}");
    free(s);
}

static void test_other_events_json(void **state)
{
    (void)state;
    const char *r[] = { "a@x.org", "b@y.org" };
    struct notify_event d = { .kind = NOTIFY_DELAYED, .time = 5, .queue_id = "Q", .sender = "",
                              .recipients = r, .nrecipients = 2, .delay = 60, .dsn = "4.0.0",
                              .reason = "451 later" };
    char *s = body(&d, 0);
    assert_string_equal(s, "{\"event\":\"delayed\",\"time\":5,\"queue_id\":\"Q\",\"sender\":\"\","
                           "\"recipients\":[\"a@x.org\",\"b@y.org\"],\"delay\":60,"
                           "\"dsn\":\"4.0.0\",\"reason\":\"451 later\"}");
    free(s);
    struct notify_event l = { .kind = NOTIFY_LOGIN_FAILED, .time = 6,
                              .relayhost = "[smtp.example.com]:587", .reason = "535 5.7.8 no" };
    s = body(&l, 0);
    assert_string_equal(s, "{\"event\":\"upstream_login_failed\",\"time\":6,"
                           "\"relayhost\":\"[smtp.example.com]:587\",\"reason\":\"535 5.7.8 no\"}");
    free(s);
    struct notify_event q = { .kind = NOTIFY_QUOTA_DEFERRED, .time = 7, .key = "gmail",
                              .window = "2/1h", .next_slot = 3607, .reason = NULL };
    s = body(&q, 0);
    assert_string_equal(s, "{\"event\":\"quota_deferred\",\"time\":7,\"key\":\"gmail\","
                           "\"window\":\"2/1h\",\"next_slot\":3607,\"reason\":\"\"}");
    free(s);
}

static void test_slack(void **state)
{
    (void)state;
    struct notify_event ev = { .kind = NOTIFY_BOUNCE, .time = 1, .queue_id = "Q",
                               .sender = "a&b@x.org", .recipient = "\"q\"<c>@y.org",
                               .dsn = "5.1.1", .reason = "550 gone" };
    char *s = body(&ev, 1);
    assert_string_equal(s, "{\"text\":\"postern: bounce Q from <a&amp;b@x.org> to "
                           "<\\\"q\\\"&lt;c&gt;@y.org>, dsn=5.1.1: 550 gone\"}");
    free(s);
}

static void test_sign(void **state)
{
    (void)state;
    char sig[NOTIFY_SIG_SIZE];
    const char *b = "{\"a\":1}";
    assert_int_equal(notify_sign("s3cret", 6, "1700000000", b, strlen(b), sig), 0);
    /* python3: hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest() */
    assert_string_equal(sig, "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940");
    /* another timestamp, another signature */
    char sig2[NOTIFY_SIG_SIZE];
    assert_int_equal(notify_sign("s3cret", 6, "1700000001", b, strlen(b), sig2), 0);
    assert_string_not_equal(sig, sig2);
}

static void test_kinds_and_origin(void **state)
{
    (void)state;
    assert_int_equal(notify_kind_parse("quota_deferred"), NOTIFY_QUOTA_DEFERRED);
    assert_int_equal(notify_kind_parse("nope"), -1);
    assert_null(notify_kind_name(NOTIFY_KINDS));
    char o[64];
    notify_url_origin("https://user:pw@hooks.example.com:8443/services/T0/B0/SECRET?x=1", o,
                      sizeof o);
    assert_string_equal(o, "https://hooks.example.com:8443");
    notify_url_origin("http://127.0.0.1:9/h", o, sizeof o);
    assert_string_equal(o, "http://127.0.0.1:9");
}

/* A loopback port that takes connections into its backlog and never answers. */
static int blackhole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct rig {
    struct event_base *base;
    struct notify *n;
    int fd;
    char url[64];
    char *urlv[1], *evv[4];
    struct config cfg;
};

static void rig_up(struct rig *r)
{
    int port;
    memset(r, 0, sizeof *r);
    r->fd = blackhole(&port);
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d/h", port);
    r->base = event_base_new();
    char err[128];
    r->n = notify_new(r->base, NULL, err, sizeof err);
    assert_non_null(r->n);
    r->urlv[0] = r->url;
    r->evv[0] = "bounce";
    r->evv[1] = "upstream_login_failed";
    r->evv[2] = "quota_deferred";
    r->cfg.notify_url = (struct cfg_list){ 1, r->urlv };
    r->cfg.notify_events = (struct cfg_list){ 3, r->evv };
    r->cfg.notify_format = "json";
    r->cfg.notify_tls_CAfile = "";
    assert_int_equal(notify_configure(r->n, &r->cfg, "k", 1), 0);
}

static void rig_down(struct rig *r)
{
    notify_free(r->n);
    event_base_free(r->base);
    close(r->fd);
}

static void test_queue_is_bounded(void **state)
{
    (void)state;
    struct rig r;
    rig_up(&r);
    struct notify_event ev = { .kind = NOTIFY_BOUNCE, .time = 1, .queue_id = "Q" };
    for (int i = 0; i < NOTIFY_QUEUE_MAX + 5; i++)
        notify_emit(r.n, &ev);
    assert_int_equal(notify_pending(r.n), NOTIFY_QUEUE_MAX);
    /* an event not in notify_events is not queued */
    struct notify_event d = { .kind = NOTIFY_DELAYED, .time = 1 };
    notify_emit(r.n, &d);
    assert_int_equal(notify_pending(r.n), NOTIFY_QUEUE_MAX);
    rig_down(&r);
}

static void test_once(void **state)
{
    (void)state;
    struct rig r;
    rig_up(&r);
    struct notify_event l = { .kind = NOTIFY_LOGIN_FAILED, .time = 1, .relayhost = "a:587" };
    notify_emit(r.n, &l);
    notify_emit(r.n, &l);
    assert_int_equal(notify_pending(r.n), 1);
    l.relayhost = "b:587";
    notify_emit(r.n, &l);
    assert_int_equal(notify_pending(r.n), 2);
    notify_login_ok(r.n, "a:587");
    l.relayhost = "a:587";
    notify_emit(r.n, &l);
    assert_int_equal(notify_pending(r.n), 3);

    long long now = (long long)time(NULL);
    struct notify_event q = { .kind = NOTIFY_QUOTA_DEFERRED, .time = now, .key = "k",
                              .window = "1/1h", .next_slot = now + 3600 };
    notify_emit(r.n, &q);
    notify_emit(r.n, &q);
    assert_int_equal(notify_pending(r.n), 4);
    /* a window that has opened again and is full again: news */
    struct notify_event q2 = q;
    q2.next_slot = now - 1;
    rig_down(&r);
    rig_up(&r);
    notify_emit(r.n, &q2);
    notify_emit(r.n, &q2);
    assert_int_equal(notify_pending(r.n), 2);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounce_json_escaping), cmocka_unit_test(test_other_events_json),
        cmocka_unit_test(test_slack), cmocka_unit_test(test_sign),
        cmocka_unit_test(test_kinds_and_origin), cmocka_unit_test(test_queue_is_bounded),
        cmocka_unit_test(test_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

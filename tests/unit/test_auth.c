/* Unit tests for auth/auth: checks run off the loop and report on it
 * (never from inside auth_verify_start), cancel means no callback, a
 * pending check survives auth_free with exactly one callback, the users
 * file's errors name file and line, the socket path rules, the replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "config/config.h"

#define H_YES "$y$j9T$abcdefghijklmnopqrstu.$AVtIZv3QuzM1gaQe857xXRBHHLZMwtacHokC0aEyZ/0"
static const char users[] = "app1:" H_YES "\nold:" H_YES ":disabled\n";

struct got {
    int calls;
    struct auth_verdict v;
    pthread_t thread;
};

static struct event_base *base;
static int in_start, want, seen;

static void done(void *arg, const struct auth_verdict *v)
{
    struct got *g = arg;
    assert_false(in_start);                 /* never from inside auth_verify_start */
    g->calls++;
    g->v = *v;
    g->thread = pthread_self();
    if (++seen == want)
        event_base_loopbreak(base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fail_msg("no callback within 20 s");
}

static struct auth_request *start(struct auth *a, const char *user, const char *pass,
                                  struct got *g)
{
    struct auth_peer peer = { "192.0.2.1", "127.0.0.1", 0 };
    in_start = 1;
    struct auth_request *r = auth_verify_start(a, user, pass, &peer, done, g);
    in_start = 0;
    return r;
}

static void wait_for(int n)
{
    want = n;
    if (seen >= want)
        return;
    struct event *t = evtimer_new(base, on_timeout, NULL);
    struct timeval tv = { 20, 0 };
    evtimer_add(t, &tv);
    event_base_dispatch(base);
    event_free(t);
}

static struct config *cfg_of(const char *text)
{
    char err[512];
    struct config *c = config_load_text(text, "t.cf", err, sizeof err);
    if (!c)
        fail_msg("config: %s", err);
    return c;
}

static void test_users_backend(void **state)
{
    (void)state;
    base = event_base_new();
    seen = 0;
    struct config *cfg = cfg_of("smtpd_sasl_auth_enable = yes\n");
    char err[256];
    struct auth *a = auth_new(cfg, base, users, strlen(users), err, sizeof err);
    assert_non_null(a);
    struct got ok = { 0 }, bad = { 0 }, unknown = { 0 }, disabled = { 0 }, huge = { 0 };
    char pass[300];
    memset(pass, 'p', sizeof pass);
    pass[299] = '\0';
    assert_non_null(start(a, "app1", "yes crypt", &ok));
    assert_non_null(start(a, "app1", "no crypt", &bad));
    assert_non_null(start(a, "nobody", "yes crypt", &unknown));
    assert_non_null(start(a, "old", "yes crypt", &disabled));
    assert_non_null(start(a, "app1", pass, &huge));
    wait_for(5);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(ok.v.result, AUTH_OK);
    assert_string_equal(ok.v.user, "app1");
    assert_true(pthread_equal(ok.thread, pthread_self()));
    assert_int_equal(bad.v.result, AUTH_FAIL);
    assert_string_equal(bad.v.why, "wrong password");
    assert_string_equal(bad.v.user, "");
    assert_int_equal(unknown.v.result, AUTH_FAIL);
    assert_string_equal(unknown.v.why, "unknown user");
    assert_int_equal(disabled.v.result, AUTH_FAIL);
    assert_string_equal(disabled.v.why, "account disabled");
    assert_int_equal(huge.v.result, AUTH_FAIL);
    assert_non_null(strstr(huge.v.why, "longer than 255 bytes"));
    auth_free(a);
    config_free(cfg);
    event_base_free(base);
}

static void test_cancel_and_free(void **state)
{
    (void)state;
    base = event_base_new();
    seen = 0;
    struct config *cfg = cfg_of("");
    char err[256];
    struct auth *a = auth_new(cfg, base, users, strlen(users), err, sizeof err);
    struct got cancelled[8], kept = { 0 }, at_free = { 0 };
    memset(cancelled, 0, sizeof cancelled);
    for (int i = 0; i < 8; i++)
        auth_verify_cancel(start(a, "app1", "yes crypt", &cancelled[i]));
    assert_non_null(start(a, "app1", "yes crypt", &kept));
    wait_for(1);
    assert_int_equal(kept.calls, 1);
    assert_int_equal(kept.v.result, AUTH_OK);
    /* one more, not cancelled, still queued or running when freed */
    assert_non_null(start(a, "app1", "yes crypt", &at_free));
    auth_free(a);
    assert_int_equal(at_free.calls, 1);
    assert_true(at_free.v.result == AUTH_OK || at_free.v.result == AUTH_TEMP);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cancelled[i].calls, 0);
    config_free(cfg);
    event_base_free(base);
}

static void test_socket_backends(void **state)
{
    (void)state;
    base = event_base_new();
    seen = 0;
    struct config *cfg = cfg_of("queue_directory = /nonexistent/spool\n"
                                "smtpd_sasl_type = dovecot\nmail_owner = mailer\n");
    char err[256], path[256];
    assert_string_equal(auth_socket_path(cfg, path, sizeof path),
                        "/nonexistent/spool/private/auth");
    /* the users file is not read for other types */
    struct auth *a = auth_new(cfg, base, NULL, 0, err, sizeof err);
    assert_non_null(a);
    struct got g = { 0 };
    assert_non_null(start(a, "app1", "pw", &g));
    wait_for(1);
    assert_int_equal(g.v.result, AUTH_TEMP);
    assert_non_null(strstr(g.v.why, "Dovecot auth socket at /nonexistent/spool/private/auth"));
    assert_non_null(strstr(g.v.why, "user = mailer"));
    auth_free(a);
    config_free(cfg);

    cfg = cfg_of("smtpd_sasl_type = saslauthd\n");
    assert_string_equal(auth_socket_path(cfg, path, sizeof path), "/run/saslauthd/mux");
    config_free(cfg);
    cfg = cfg_of("queue_directory = /q\nsmtpd_sasl_type = saslauthd\n"
                 "smtpd_sasl_path = sasl/mux\n");
    assert_string_equal(auth_socket_path(cfg, path, sizeof path), "/q/sasl/mux");
    config_free(cfg);
    cfg = cfg_of("smtpd_sasl_type = dovecot\nsmtpd_sasl_path = /run/dovecot/auth-client\n");
    assert_string_equal(auth_socket_path(cfg, path, sizeof path), "/run/dovecot/auth-client");
    config_free(cfg);
    event_base_free(base);
}

static void test_bad_users_file(void **state)
{
    (void)state;
    base = event_base_new();
    struct config *cfg = cfg_of("smtpd_sasl_users = /etc/postern/users\n");
    char err[256];
    static const char text[] = "app1:" H_YES "\napp2:$apr1$abcdefgh$0123456789012345678901\n";
    assert_null(auth_new(cfg, base, text, strlen(text), err, sizeof err));
    assert_non_null(strstr(err, "/etc/postern/users:2: app2: MD5-crypt"));
    /* no file at all is no account at all, not an error here */
    struct auth *a = auth_new(cfg, base, NULL, 0, err, sizeof err);
    assert_non_null(a);
    auth_free(a);
    config_free(cfg);
    event_base_free(base);
}

static void test_replies(void **state)
{
    (void)state;
    assert_string_equal(auth_reply(AUTH_OK), "235 2.7.0 Authentication successful");
    assert_string_equal(auth_reply(AUTH_FAIL),
                        "535 5.7.8 Error: authentication failed: authentication failure");
    assert_string_equal(auth_reply(AUTH_TEMP), "454 4.7.0 Temporary authentication failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_backend),
        cmocka_unit_test(test_cancel_and_free),
        cmocka_unit_test(test_socket_backends),
        cmocka_unit_test(test_bad_users_file),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}

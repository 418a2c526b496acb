/* Unit tests for auth/dovecot: the handshake parser, the AUTH line encoder,
 * the reply parser, and round trips against a scripted Dovecot auth server
 * on a unix socket in a thread (OK with a canonical user, FAIL, FAIL temp,
 * no PLAIN on offer, another protocol version, the wrong socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/dovecot.h"

static void test_handshake(void **state)
{
    (void)state;
    struct dovecot_handshake h = { 0 };
    char why[128];
    static const char *const lines[] = { "VERSION\t1\t2", "MECH\tPLAIN\tplaintext",
                                         "MECH\tLOGIN\tplaintext", "SPID\t4321", "CUID\t1",
                                         "COOKIE\td675bb41ab00e1d99f94d49eda36d2c9",
                                         "SOMETHING\tnew" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        assert_int_equal(dovecot_handshake_line(&h, lines[i], why, sizeof why), 0);
    assert_int_equal(dovecot_handshake_line(&h, "DONE", why, sizeof why), 1);
    assert_true(h.version_ok && h.plain && h.done);

    struct dovecot_handshake h2 = { 0 };
    assert_int_equal(dovecot_handshake_line(&h2, "VERSION\t2\t0", why, sizeof why), -1);
    assert_string_equal(why, "Dovecot speaks auth protocol version 2, postern 1");
    assert_int_equal(dovecot_handshake_line(&h2, "MECH\tCRAM-MD5", why, sizeof why), 0);
    assert_int_equal(dovecot_handshake_line(&h2, "MECH", why, sizeof why), 0);
    assert_false(h2.plain);
    assert_int_equal(dovecot_handshake_line(&h2, "VERSION", why, sizeof why), -1);
}

static void test_auth_line(void **state)
{
    (void)state;
    char out[2048];
    /* base64("\0app1\0s3cret") */
    size_t n = dovecot_auth_line(out, sizeof out, 7, "app1", "s3cret", "127.0.0.1",
                                 "192.0.2.9", 1);
    assert_string_equal(out, "AUTH\t7\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1"
                             "\trip=192.0.2.9\tsecured\tresp=AGFwcDEAczNjcmV0\n");
    assert_int_equal(n, strlen(out));
    /* no addresses, not secured; a TAB in a name cannot escape: base64 */
    dovecot_auth_line(out, sizeof out, 1, "a\tb", "p\nq", NULL, "not an address", 0);
    assert_string_equal(out, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tresp=AGEJYgBwCnE=\n");
    dovecot_auth_line(out, sizeof out, 1, "u", "p", "::1", "127.0.0.1\tsecured", 0);
    assert_string_equal(out, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=::1\tresp=AHUAcA==\n");
    /* too small a buffer: nothing, and no password left in it */
    assert_int_equal(dovecot_auth_line(out, 40, 1, "app1", "s3cret", NULL, NULL, 0), 0);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(out[i], 0);
    char big[300];
    memset(big, 'x', sizeof big);
    big[256] = '\0';
    assert_int_equal(dovecot_auth_line(out, sizeof out, 1, "u", big, NULL, NULL, 0), 0);
}

static void test_replies(void **state)
{
    (void)state;
    struct dovecot_reply r;
    assert_int_equal(dovecot_parse_reply("OK\t1\tuser=app1@example.com", 1, &r), DOVECOT_OK);
    assert_string_equal(r.user, "app1@example.com");
    assert_int_equal(dovecot_parse_reply("OK\t1", 1, &r), DOVECOT_OK);
    assert_string_equal(r.user, "");
    assert_int_equal(dovecot_parse_reply("FAIL\t1\tuser=app1", 1, &r), DOVECOT_FAIL);
    assert_false(r.temp);
    assert_int_equal(dovecot_parse_reply("FAIL\t1\treason=Backend down\ttemp", 1, &r),
                     DOVECOT_FAIL);
    assert_true(r.temp);
    assert_string_equal(r.reason, "Backend down");
    assert_int_equal(dovecot_parse_reply("CONT\t1\tVXNlcm5hbWU6", 1, &r), DOVECOT_CONT);
    /* other requests, other kinds, garbage */
    assert_int_equal(dovecot_parse_reply("OK\t2\tuser=x", 1, &r), DOVECOT_OTHER);
    assert_int_equal(dovecot_parse_reply("OK\t1x", 1, &r), DOVECOT_OTHER);
    assert_int_equal(dovecot_parse_reply("OK\t", 1, &r), DOVECOT_OTHER);
    assert_int_equal(dovecot_parse_reply("OK", 1, &r), DOVECOT_OTHER);
    assert_int_equal(dovecot_parse_reply("SPID\t1", 1, &r), DOVECOT_OTHER);
    assert_int_equal(dovecot_parse_reply("", 1, &r), DOVECOT_OTHER);
    /* a user name with a control byte is not taken */
    assert_int_equal(dovecot_parse_reply("OK\t1\tuser=a\x1b[2Jb", 1, &r), DOVECOT_OK);
    assert_string_equal(r.user, "");
}

/* ---------------------------------------------------------------- server */

struct fake {
    char path[108];
    int lfd;
    const char *greeting;       /* handshake lines */
    const char *reply;          /* after the AUTH line; NULL: close */
    char client[4096];          /* what the client sent */
    size_t clientlen;
    pthread_t th;
};

static void *serve(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    (void)!write(fd, f->greeting, strlen(f->greeting));
    /* until the AUTH line is complete (or the client gives up) */
    for (;;) {
        ssize_t n = read(fd, f->client + f->clientlen, sizeof f->client - 1 - f->clientlen);
        if (n <= 0)
            break;
        f->clientlen += (size_t)n;
        f->client[f->clientlen] = '\0';
        const char *a = strstr(f->client, "AUTH\t");
        if ((a && strchr(a, '\n')) || !f->greeting[0])
            break;          /* no greeting: a socket that never answers, then closes */
    }
    if (f->reply)
        (void)!write(fd, f->reply, strlen(f->reply));
    close(fd);
    return NULL;
}

#define GREETING "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n" \
                 "SPID\t1\nCUID\t9\nCOOKIE\tabc\nDONE\n"

static void round_trip(const char *greeting, const char *reply, const char *user,
                       struct auth_verdict *v, struct fake *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/test_dovecot.%d.auth", (int)getpid());
    unlink(f->path);
    f->greeting = greeting;
    f->reply = reply;
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->path);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 5), 0);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    struct auth_peer peer = { "192.0.2.9", "127.0.0.1", 1 };
    memset(v, 0, sizeof *v);
    snprintf(v->user, sizeof v->user, "%s", user);
    dovecot_verify(f->path, user, "s3cret", &peer, "postern", 5000, v);
    pthread_join(f->th, NULL);
    close(f->lfd);
    unlink(f->path);
}

static void test_round_trips(void **state)
{
    (void)state;
    struct fake f;
    struct auth_verdict v;
    round_trip(GREETING, "OK\t1\tuser=app1@example.com\n", "app1", &v, &f);
    assert_int_equal(v.result, AUTH_OK);
    assert_string_equal(v.user, "app1@example.com");
    char want[256];
    snprintf(want, sizeof want, "VERSION\t1\t2\nCPID\t%d\nAUTH\t1\tPLAIN\tservice=smtp\t"
             "nologin\tlip=127.0.0.1\trip=192.0.2.9\tsecured\tresp=AGFwcDEAczNjcmV0\n",
             (int)getpid());
    assert_string_equal(f.client, want);

    /* replies about other requests and notices are skipped */
    round_trip(GREETING, "NOTICE\tx\nFAIL\t9\nFAIL\t1\tuser=app1\n", "app1", &v, &f);
    assert_int_equal(v.result, AUTH_FAIL);
    assert_string_equal(v.why, "dovecot: authentication failed");

    round_trip(GREETING, "FAIL\t1\treason=Internal error\ttemp\n", "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_string_equal(v.why, "dovecot: Internal error (temporary failure)");

    round_trip("VERSION\t1\t2\nMECH\tCRAM-MD5\nDONE\n", NULL, "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "Dovecot does not offer PLAIN: set auth_mechanisms = "
                                  "plain login"));
    assert_null(strstr(f.client, "AUTH"));      /* the password was never sent */

    round_trip("VERSION\t2\t0\nDONE\n", NULL, "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "version 2, postern 1"));

    /* Dovecot's userdb socket answers nothing like a handshake */
    round_trip("", NULL, "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "is it the auth client socket"));

    round_trip(GREETING, "CONT\t1\t\n", "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);

    round_trip(GREETING, NULL, "app1", &v, &f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "closed the connection"));
}

static void test_no_socket(void **state)
{
    (void)state;
    struct auth_verdict v;
    dovecot_verify("/nonexistent/private/auth", "app1", "pw", NULL, "postern", 5000, &v);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "cannot connect to Dovecot auth socket at "
                                  "/nonexistent/private/auth: No such file or directory; "
                                  "Dovecot must listen there"));
    assert_non_null(strstr(v.why, "user = postern"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_auth_line),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_no_socket),
    };
    return cmocka_run_group_tests_name("dovecot", tests, NULL, NULL);
}

/* Unit tests for auth/saslauthd: the request codec (counted strings, the
 * realm split at the last '@', saslauthd's field limit), the reply codec,
 * and round trips against a scripted saslauthd on a unix socket in a
 * thread: OK, NO, and the failures with their advice (no socket, nobody
 * listening, no reply, a torn or malformed reply). */
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

#include "auth/saslauthd.h"

static void test_encode(void **state)
{
    (void)state;
    unsigned char buf[2048];
    static const unsigned char want[] = "\0\4app1\0\2pw\0\4smtp\0\x0b" "example.com";
    size_t n = saslauthd_encode("app1@example.com", "pw", "smtp", buf, sizeof buf);
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(buf, want, n);
    /* the last '@' splits, as libsasl does; no '@': an empty realm */
    static const unsigned char want2[] = "\0\3a@b\0\1p\0\4smtp\0\1c";
    n = saslauthd_encode("a@b@c", "p", "smtp", buf, sizeof buf);
    assert_int_equal(n, sizeof want2 - 1);
    assert_memory_equal(buf, want2, n);
    static const unsigned char want3[] = "\0\4app1\0\1p\0\4smtp\0\0";
    n = saslauthd_encode("app1", "p", "smtp", buf, sizeof buf);
    assert_int_equal(n, sizeof want3 - 1);
    assert_memory_equal(buf, want3, n);
    /* 256 bytes is saslauthd's most, 257 is refused; so is a small buffer */
    char big[300];
    memset(big, 'x', sizeof big);
    big[256] = '\0';
    assert_int_equal(saslauthd_encode("u", big, "smtp", buf, sizeof buf), 3 + 258 + 6 + 2);
    big[256] = 'x';
    big[257] = '\0';
    assert_int_equal(saslauthd_encode("u", big, "smtp", buf, sizeof buf), 0);
    assert_int_equal(saslauthd_encode("app1", "pw", "smtp", buf, 10), 0);
}

static void test_reply_codec(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(saslauthd_reply_length((const unsigned char *)"\0\2", &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(saslauthd_reply_length((const unsigned char *)"\0\1", &len), -1);
    assert_int_equal(saslauthd_reply_length((const unsigned char *)"\4\1", &len), -1);
    assert_int_equal(saslauthd_reply_length((const unsigned char *)"\4\0", &len), 0);
    assert_true(saslauthd_reply_ok("OK", 2));
    assert_true(saslauthd_reply_ok("OK \"Success.\"", 13));
    assert_false(saslauthd_reply_ok("NO \"authentication failed\"", 26));
    assert_false(saslauthd_reply_ok("ok", 2));
    assert_false(saslauthd_reply_ok("O", 1));
}

/* ---------------------------------------------------------------- server */

enum mode { REPLY, CLOSE, HANG };

struct fake {
    char path[108];
    int lfd;
    enum mode mode;
    const char *reply;          /* counted string sent as is */
    size_t replylen;
    unsigned char got[2048];
    size_t gotlen;
    int hang_fd[2];             /* HANG: released by a byte here */
    pthread_t th;
};

static int read_exact(int fd, unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    /* four counted strings */
    for (int i = 0; i < 4; i++) {
        unsigned char *h = f->got + f->gotlen;
        if (read_exact(fd, h, 2) < 0)
            break;
        size_t l = (size_t)h[0] << 8 | h[1];
        if (read_exact(fd, h + 2, l) < 0)
            break;
        f->gotlen += 2 + l;
    }
    if (f->mode == REPLY)
        (void)!write(fd, f->reply, f->replylen);
    else if (f->mode == HANG) {
        char c;
        (void)!read(f->hang_fd[0], &c, 1);
    }
    close(fd);
    return NULL;
}

static void fake_start(struct fake *f, enum mode mode, const char *reply, size_t replylen)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/test_saslauthd.%d.mux", (int)getpid());
    unlink(f->path);
    f->mode = mode;
    f->reply = reply;
    f->replylen = replylen;
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->path);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 5), 0);
    assert_int_equal(pipe(f->hang_fd), 0);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
    (void)!write(f->hang_fd[1], "x", 1);
    pthread_join(f->th, NULL);
    close(f->lfd);
    close(f->hang_fd[0]);
    close(f->hang_fd[1]);
    unlink(f->path);
}

#define LIT(s) s, sizeof(s) - 1

static void test_ok_and_no(void **state)
{
    (void)state;
    struct fake f;
    struct auth_verdict v;
    fake_start(&f, REPLY, LIT("\0\x0dOK \"Success.\""));
    memset(&v, 0, sizeof v);
    saslauthd_verify(f.path, "app1@example.com", "s3cret", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_OK);
    static const unsigned char want[] = "\0\4app1\0\6s3cret\0\4smtp\0\x0b" "example.com";
    assert_int_equal(f.gotlen, sizeof want - 1);
    assert_memory_equal(f.got, want, f.gotlen);

    fake_start(&f, REPLY, LIT("\0\x1aNO \"authentication failed\""));
    saslauthd_verify(f.path, "app1", "wrong", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_FAIL);
    assert_string_equal(v.why, "saslauthd: NO \"authentication failed\"");
}

static void test_failures(void **state)
{
    (void)state;
    struct fake f;
    struct auth_verdict v;
    char path[100];
    /* seed 001's first pitfall: the socket is elsewhere */
    snprintf(path, sizeof path, "/tmp/test_saslauthd.%d.none/mux", (int)getpid());
    saslauthd_verify(path, "app1", "pw", "postern", 5000, &v);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "cannot connect to saslauthd server at /tmp/test_saslauthd."));
    assert_non_null(strstr(v.why, "No such file or directory; is saslauthd running, with this "
                                  "socket directory? (saslauthd -m DIR listens on DIR/mux"));
    assert_non_null(strstr(v.why, "testsaslauthd -f /tmp/test_saslauthd."));
    assert_null(strstr(v.why, "pw"));

    /* a socket left behind by a saslauthd that is gone */
    snprintf(path, sizeof path, "/tmp/test_saslauthd.%d.stale", (int)getpid());
    unlink(path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof sun), 0);
    saslauthd_verify(path, "app1", "pw", "postern", 5000, &v);
    close(s);
    unlink(path);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "nobody listens there"));

    fake_start(&f, CLOSE, NULL, 0);
    saslauthd_verify(f.path, "app1", "pw", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "closed the connection without a reply"));

    fake_start(&f, HANG, NULL, 0);
    saslauthd_verify(f.path, "app1", "pw", "postern", 300, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "no reply in time"));

    fake_start(&f, REPLY, LIT("\0\0"));
    saslauthd_verify(f.path, "app1", "pw", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "malformed reply"));

    fake_start(&f, REPLY, LIT("\0\x10OK"));
    saslauthd_verify(f.path, "app1", "pw", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_TEMP);
    assert_non_null(strstr(v.why, "reply cut short"));

    /* control bytes from saslauthd never reach the log as they are */
    fake_start(&f, REPLY, LIT("\0\x06NO \x1b[1"));
    saslauthd_verify(f.path, "app1", "pw", "postern", 5000, &v);
    fake_stop(&f);
    assert_int_equal(v.result, AUTH_FAIL);
    assert_string_equal(v.why, "saslauthd: NO \\x1b[1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_reply_codec),
        cmocka_unit_test(test_ok_and_no),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests_name("saslauthd", tests, NULL, NULL);
}

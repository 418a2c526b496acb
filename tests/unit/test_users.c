/* Unit tests for auth/users: the users file parser (accepted and refused
 * lines, messages with file and line, no hash quoted), verification of
 * yescrypt, bcrypt (as htpasswd -B writes it) and sha512-crypt hashes,
 * new hashes, the line editor, and the file reader's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/users.h"

/* fixed vectors: yescrypt (libxcrypt), bcrypt (htpasswd -nbB), sha512-crypt
 * (openssl passwd -6) */
#define H_YES "$y$j9T$abcdefghijklmnopqrstu.$AVtIZv3QuzM1gaQe857xXRBHHLZMwtacHokC0aEyZ/0"
#define H_BCRYPT "$2y$05$vy7pehfwE5BDVgEiV3Jt9ebCVI42HnJy8qBuntshmjBZ61qSA7Qu."
#define H_SHA512 "$6$saltsalt$bVwypKgmVqE6fq2BdnYW3WlQ4w6/PqOdwcSUNbrRlGRjTZcVcSEYCOTKLTrnw" \
                 "ejlw4ueCkMlnVPAnn2SM7rV70"

static const char good[] =
    "# postern users\n"
    "\n"
    "app1:" H_YES "\n"
    "   # indented comment\n"
    "app2:" H_BCRYPT "\r\n"
    "app3:" H_SHA512 ":\n"
    "old app:" H_YES ":disabled\n"
    "\xe5\xba\x94\xe7\x94\xa8:" H_BCRYPT;          /* UTF-8 name, no final LF */

static struct users *parse_ok(const char *text)
{
    char err[512] = "";
    struct users *u = users_parse(text, strlen(text), "users", err, sizeof err);
    if (!u)
        fail_msg("unexpected error: %s", err);
    return u;
}

static void collect(void *arg, const char *name, const char *options)
{
    char *buf = arg;
    strcat(buf, name);
    strcat(buf, "[");
    strcat(buf, options);
    strcat(buf, "] ");
}

static void test_parse_good(void **state)
{
    (void)state;
    struct users *u = parse_ok(good);
    assert_int_equal(users_count(u), 5);
    char names[512] = "";
    users_each(u, collect, names);
    assert_string_equal(names, "app1[] app2[] app3[] old app[disabled] "
                               "\xe5\xba\x94\xe7\x94\xa8[] ");
    users_free(u);
    u = parse_ok("");
    assert_int_equal(users_count(u), 0);
    users_free(u);
}

static void test_verify(void **state)
{
    (void)state;
    struct users *u = parse_ok(good);
    char why[64];
    static const struct { const char *name, *pass; enum users_result r; const char *why; } c[] = {
        { "app1", "yes crypt", USERS_OK, "" },
        { "app1", "yes crypt ", USERS_FAIL, "wrong password" },
        { "app1", "Yes crypt", USERS_FAIL, "wrong password" },
        { "app2", "b-cRypt pass", USERS_OK, "" },
        { "app2", "b-crypt pass", USERS_FAIL, "wrong password" },
        { "app3", "sha512 pass", USERS_OK, "" },
        { "app3", "", USERS_FAIL, "wrong password" },
        { "old app", "yes crypt", USERS_FAIL, "account disabled" },
        { "\xe5\xba\x94\xe7\x94\xa8", "b-cRypt pass", USERS_OK, "" },
        { "nobody", "yes crypt", USERS_FAIL, "unknown user" },
        { "App1", "yes crypt", USERS_FAIL, "unknown user" },
        { "", "yes crypt", USERS_FAIL, "unknown user" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        enum users_result r = users_verify(u, c[i].name, c[i].pass, why, sizeof why);
        if (r != c[i].r || strcmp(why, c[i].why) != 0)
            fail_msg("%s/%s: %d \"%s\", want %d \"%s\"", c[i].name, c[i].pass, r, why,
                     c[i].r, c[i].why);
    }
    users_free(u);
    /* an empty file still refuses, after the same kind of work */
    u = parse_ok("# nobody yet\n");
    assert_int_equal(users_verify(u, "app1", "yes crypt", why, sizeof why), USERS_FAIL);
    assert_string_equal(why, "unknown user");
    users_free(u);
}

static void test_hash_new(void **state)
{
    (void)state;
    char h[USERS_HASH_MAX], h2[USERS_HASH_MAX], text[600];
    assert_int_equal(users_hash("new pass", "$y$", h, sizeof h), 0);
    assert_true(strncmp(h, "$y$", 3) == 0);
    assert_int_equal(users_hash("new pass", "$y$", h2, sizeof h2), 0);
    assert_string_not_equal(h, h2);                     /* a new salt each time */
    snprintf(text, sizeof text, "n1:%s\nn2:%s\n", h, h2);
    struct users *u = parse_ok(text);
    assert_int_equal(users_verify(u, "n1", "new pass", NULL, 0), USERS_OK);
    assert_int_equal(users_verify(u, "n2", "new pass", NULL, 0), USERS_OK);
    assert_int_equal(users_verify(u, "n2", "new pas", NULL, 0), USERS_FAIL);
    users_free(u);
    assert_int_equal(users_hash("x", "$y$", h, 10), -1);    /* does not fit */
}

static void test_parse_refused(void **state)
{
    (void)state;
    static const struct { const char *text, *want, *absent; } c[] = {
        { "app1\n", "users:1: no ':' after the name", NULL },
        { "\n\napp1 " H_YES "\n", "users:3: no ':'", H_YES },
        { ":" H_YES "\n", "users:1: the name is empty", NULL },
        { " app1:" H_YES "\n", "users:1: the name starts or ends with a blank", NULL },
        { "ap\x01p:" H_YES "\n", "users:1: the name contains a control character", NULL },
        { "app1:\n", "users:1: app1: no password hash", NULL },
        { "app1:secret\n", "users:1: app1: not a crypt hash", "secret" },
        { "app1:abJnggxhB/yWI\n", "not a crypt hash (DES crypt", "abJnggxhB" },
        { "app1:$apr1$abcdefgh$0123456789012345678901\n", "MD5-crypt ($apr1$", "01234567" },
        { "app1:$1$abcdefgh$0123456789012345678901\n", "MD5-crypt", NULL },
        { "app1:{SHA512-CRYPT}" H_SHA512 "\n", "{SCHEME} prefix (Dovecot's)", "saltsalt" },
        { "app1:$md5,rounds=5$salt$hash\n", "unsupported hash type", "salt" },
        { "app1:$y$j9T$abcdefghijklmnopqrstu.$\n", "malformed or truncated", NULL },
        { "app1:$y$\n", "malformed or truncated", NULL },
        { "app1:$2y$05$vy7pehfwE5BDVgEiV3Jt9e\n", "malformed or truncated", "vy7peh" },
        { "app1:" H_YES " \n", "the hash contains a blank", NULL },
        { "app1:" H_YES ":enabled\n", "users:1: app1: unknown option \"enabled\"", NULL },
        { "app1:" H_YES ":rate=200\n", "users:1: app1: \"rate=200\": write rate=N/W", NULL },
        { "app1:" H_YES ":disabled,rate=0/1h\n", "users:1: app1: \"rate=0/1h\"", NULL },
        { "\napp1:" H_YES ":rate=5/1w\n", "users:2: app1: \"rate=5/1w\": write rate=N/W: N "
          "messages (1 to 1000000000) per W, a time such as 30s, 10m, 1h or 1d", NULL },
        { "app1:" H_YES "\napp2:" H_YES "\napp1:" H_BCRYPT "\n",
          "users: app1 has more than one line", NULL },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char err[512] = "";
        struct users *u = users_parse(c[i].text, strlen(c[i].text), "users", err, sizeof err);
        if (u)
            fail_msg("case %zu accepted", i);
        if (!strstr(err, c[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, c[i].want);
        if (c[i].absent && strstr(err, c[i].absent))
            fail_msg("case %zu: \"%s\" shows \"%s\"", i, err, c[i].absent);
    }
    /* a NUL, an overlong line */
    char err[512];
    assert_null(users_parse("a:b\0c\n", 6, "users", err, sizeof err));
    assert_non_null(strstr(err, "NUL"));
    char *big = malloc(USERS_LINE_MAX + 10);
    memset(big, 'a', USERS_LINE_MAX + 9);
    big[USERS_LINE_MAX + 9] = '\0';
    assert_null(users_parse(big, strlen(big), "users", err, sizeof err));
    assert_non_null(strstr(err, "users:1: line longer than"));
    free(big);
}

static void test_rate(void **state)
{
    (void)state;
    static const struct { const char *in; unsigned long n; long long ms; } ok[] = {
        { "200/1h", 200, 3600000 }, { "200/h", 200, 3600000 }, { "30/90s", 30, 90000 },
        { "5/m", 5, 60000 }, { "1/1s", 1, 1000 }, { "500/1d", 500, 86400000 },
        { "1000000000/31d", 1000000000, 31LL * 86400000 }, { "7/120m", 7, 7200000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        unsigned long n = 0;
        long long ms = 0;
        const char *why = users_rate_parse(ok[i].in, strlen(ok[i].in), &n, &ms);
        if (why)
            fail_msg("%s: %s", ok[i].in, why);
        assert_int_equal(n, ok[i].n);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = { "", "200", "/1h", "0/1h", "200/", "200/0h", "200/1",
                                       "200/1x", "200/1hh", "-1/1h", "200/-1h", "1000000001/1h",
                                       "200/32d", "200/745h", "99999999999999999999/1h",
                                       "200/99999999999999999999s", "2 00/1h", "200/1h " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned long n = 7;
        long long ms = 7;
        if (!users_rate_parse(bad[i], strlen(bad[i]), &n, &ms))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(n, 7);
        assert_int_equal(ms, 7);
    }
    char buf[32];
    users_rate_format(200, 3600000, buf, sizeof buf);
    assert_string_equal(buf, "200/1h");
    users_rate_format(30, 90000, buf, sizeof buf);
    assert_string_equal(buf, "30/90s");
    users_rate_format(7, 7200000, buf, sizeof buf);
    assert_string_equal(buf, "7/2h");
    users_rate_format(1, 172800000, buf, sizeof buf);
    assert_string_equal(buf, "1/2d");
    users_rate_format(3, 120000, buf, sizeof buf);
    assert_string_equal(buf, "3/2m");
    /* from the file, by name */
    struct users *u = parse_ok("sentry:" H_YES ":rate=200/1h\n"
                               "gitlab:" H_YES ":disabled,rate=5/m\n"
                               "other:" H_YES "\n");
    unsigned long n = 0;
    long long ms = 0;
    assert_int_equal(users_rate(u, "sentry", &n, &ms), 1);
    assert_int_equal(n, 200);
    assert_int_equal(ms, 3600000);
    assert_int_equal(users_rate(u, "gitlab", &n, &ms), 1);
    assert_int_equal(n, 5);
    assert_int_equal(users_rate(u, "other", &n, &ms), 0);
    assert_int_equal(users_rate(u, "nobody", &n, &ms), 0);
    users_free(u);
}

static void test_name_problems(void **state)
{
    (void)state;
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    long_name[256] = '\0';
    assert_null(users_name_problem("app1"));
    assert_null(users_name_problem("user@example.com"));
    assert_null(users_name_problem("with space"));
    assert_non_null(users_name_problem(""));
    assert_non_null(users_name_problem("a:b"));
    assert_non_null(users_name_problem("a\nb"));
    assert_non_null(users_name_problem("a\x7f"));
    assert_non_null(users_name_problem("#app"));
    assert_non_null(users_name_problem("trailing "));
    assert_non_null(users_name_problem(long_name));
    long_name[255] = '\0';
    assert_null(users_name_problem(long_name));
}

static void test_edit(void **state)
{
    (void)state;
    static const char text[] = "# keep me\napp1:H1\n\napp10:H10\n  # app1:commented\napp2:H2";
    int found;
    size_t n;
    char *out = users_edit(text, strlen(text), "app1", "app1:NEW", &found, &n);
    assert_int_equal(found, 1);
    assert_string_equal(out, "# keep me\napp1:NEW\n\napp10:H10\n  # app1:commented\napp2:H2\n");
    assert_int_equal(n, strlen(out));
    free(out);
    out = users_edit(text, strlen(text), "app1", NULL, &found, &n);
    assert_int_equal(found, 1);
    assert_string_equal(out, "# keep me\n\napp10:H10\n  # app1:commented\napp2:H2\n");
    free(out);
    out = users_edit(text, strlen(text), "app3", "app3:H3:disabled", &found, &n);
    assert_int_equal(found, 0);
    assert_string_equal(out, "# keep me\napp1:H1\n\napp10:H10\n  # app1:commented\napp2:H2\n"
                             "app3:H3:disabled\n");
    free(out);
    out = users_edit(text, strlen(text), "app3", NULL, &found, &n);
    assert_int_equal(found, 0);
    free(out);
    out = users_edit("", 0, "app1", "app1:H", &found, &n);
    assert_string_equal(out, "app1:H\n");
    free(out);
    /* CRLF lines are kept as they are */
    out = users_edit("a:1\r\nb:2\r\n", 10, "b", "b:3", &found, &n);
    assert_string_equal(out, "a:1\r\nb:3\n");
    free(out);
}

static void test_read_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_users.XXXXXX", path[128], link[128], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/users", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    char *text;
    size_t len;
    assert_int_equal(users_read_file(path, 1, &text, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such file; create it with `postern passwd add NAME -f "));
    FILE *f = fopen(path, "w");
    fputs(good, f);
    fclose(f);
    chmod(path, 0644);
    assert_int_equal(users_read_file(path, 1, &text, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "readable by group or others (mode 0644): chmod 600"));
    assert_int_equal(users_read_file(path, 0, &text, &len, err, sizeof err), 0);
    free(text);
    chmod(path, 0600);
    assert_int_equal(users_read_file(path, 1, &text, &len, err, sizeof err), 0);
    assert_int_equal(len, strlen(good));
    assert_string_equal(text, good);
    free(text);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(users_read_file(link, 1, &text, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(users_read_file(dir, 0, &text, &len, err, sizeof err), -1);
    unlink(link);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_hash_new),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_name_problems),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_edit),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}

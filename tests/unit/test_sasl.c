/* Unit tests for auth/sasl: PLAIN and LOGIN exchanges, table-driven. Each
 * case is an AUTH argument and the client lines that follow, with the
 * status after each step and the credentials (or the reply) at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth/sasl.h"
#include "util/base64.h"

/* base64 of a byte string given with its length (PLAIN has NULs) */
static const char *b64(const char *s, size_t n)
{
    static char out[4][2048];
    static int k;
    k = (k + 1) % 4;
    assert_true(base64_encode(s, n, out[k], sizeof out[k]) != (size_t)-1);
    return out[k];
}
#define B64(lit) b64(lit, sizeof(lit) - 1)

struct step {
    const char *line;               /* NULL: end of the case */
    enum sasl_status st;
    const char *challenge;          /* expected on SASL_CONTINUE */
};

struct tcase {
    const char *name;
    const char *arg;
    unsigned mechs;
    enum sasl_status first;
    const char *first_challenge;
    struct step steps[4];
    const char *authcid, *authzid, *passwd;     /* on SASL_DONE */
};

static void run(const struct tcase *c)
{
    struct sasl_exchange x;
    enum sasl_status st = sasl_start(&x, c->arg, strlen(c->arg), c->mechs);
    if (st != c->first)
        fail_msg("%s: sasl_start returned %d, want %d", c->name, st, c->first);
    if (st == SASL_CONTINUE)
        assert_string_equal(x.challenge, c->first_challenge);
    for (const struct step *s = c->steps; s->line; s++) {
        st = sasl_step(&x, s->line, strlen(s->line));
        if (st != s->st)
            fail_msg("%s: step \"%s\" returned %d, want %d", c->name, s->line, st, s->st);
        if (st == SASL_CONTINUE)
            assert_string_equal(x.challenge, s->challenge);
    }
    if (st == SASL_DONE) {
        assert_string_equal(x.authcid, c->authcid);
        assert_string_equal(x.authzid, c->authzid ? c->authzid : "");
        assert_string_equal(x.passwd, c->passwd);
        sasl_wipe(&x);
    } else if (st != SASL_CONTINUE) {
        assert_non_null(sasl_reply(st));
    }
    /* whatever happened, nothing secret is left once it is over */
    if (st != SASL_CONTINUE) {
        assert_string_equal(x.passwd, "");
        assert_string_equal(x.authcid, "");
    }
}

#define ALL SASL_MECHS_ALL
#define END { NULL, 0, NULL }

static void test_plain(void **state)
{
    (void)state;
    const struct tcase cases[] = {
        { "initial response", "", ALL, SASL_DONE, NULL, { END }, "app1", NULL, "s3cret" },
        { "lower-case name, two-step", "plain", ALL, SASL_CONTINUE, "",
          { { "", SASL_DONE, NULL }, END }, "app1", NULL, "s3cret" },
        { "authzid equal", "", ALL, SASL_DONE, NULL, { END }, "app1", "app1", "s3cret" },
    };
    /* the argument and lines are built here: they hold NULs */
    struct tcase c0 = cases[0], c1 = cases[1], c2 = cases[2];
    char a0[128], a2[128];
    snprintf(a0, sizeof a0, "PLAIN %s", B64("\0app1\0s3cret"));
    c0.arg = a0;
    run(&c0);
    c1.steps[0].line = B64("\0app1\0s3cret");
    run(&c1);
    snprintf(a2, sizeof a2, "PLAIN %s", B64("app1\0app1\0s3cret"));
    c2.arg = a2;
    run(&c2);
}

/* PLAIN messages that must be refused, as initial response and as a line */
static void test_plain_refused(void **state)
{
    (void)state;
    static const struct { const char *msg; size_t len; enum sasl_status st; } bad[] = {
        { "app1\0s3cret", 11, SASL_ERR_MALFORMED },             /* one NUL */
        { "app1s3cret", 10, SASL_ERR_MALFORMED },               /* none */
        { "\0\0s3cret", 8, SASL_ERR_MALFORMED },                /* empty authcid */
        { "\0app1\0", 6, SASL_ERR_MALFORMED },                  /* empty password */
        { "\0app1\0s3\0cret", 13, SASL_ERR_MALFORMED },         /* NUL in the password */
        { "\0ap\tp1\0s3cret", 13, SASL_ERR_MALFORMED },         /* TAB in a name */
        { "\0app1\x7f\0s3cret", 12, SASL_ERR_MALFORMED },       /* DEL */
        { "ad\nmin\0app1\0s3cret", 17, SASL_ERR_MALFORMED },    /* LF in authzid */
        { "admin\0app1\0s3cret", 17, SASL_ERR_AUTHZID },        /* act as admin */
        { "App1\0app1\0s3cret", 16, SASL_ERR_AUTHZID },         /* byte for byte */
        { "", 0, SASL_ERR_MALFORMED },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sasl_exchange x;
        char arg[256];
        const char *enc = bad[i].len ? b64(bad[i].msg, bad[i].len) : "=";
        snprintf(arg, sizeof arg, "PLAIN %s", enc);
        enum sasl_status st = sasl_start(&x, arg, strlen(arg), ALL);
        if (st != bad[i].st)
            fail_msg("case %zu (initial): %d, want %d", i, st, bad[i].st);
        assert_string_equal(x.passwd, "");
        assert_int_equal(sasl_start(&x, "PLAIN", 5, ALL), SASL_CONTINUE);
        st = sasl_step(&x, enc, strlen(enc));
        if (st != bad[i].st)
            fail_msg("case %zu (line): %d, want %d", i, st, bad[i].st);
        assert_string_equal(x.passwd, "");
    }
}

static void test_login(void **state)
{
    (void)state;
    char user[64], pass[64], arg[80];
    snprintf(user, sizeof user, "%s", B64("app1"));
    snprintf(pass, sizeof pass, "%s", B64("s3cret"));
    snprintf(arg, sizeof arg, "LOGIN %s", user);
    const struct tcase cases[] = {
        { "two steps", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { user, SASL_CONTINUE, "UGFzc3dvcmQ6" }, { pass, SASL_DONE, NULL }, END },
          "app1", NULL, "s3cret" },
        { "initial response is the user", arg, ALL, SASL_CONTINUE, "UGFzc3dvcmQ6",
          { { pass, SASL_DONE, NULL }, END }, "app1", NULL, "s3cret" },
        { "abort at the user", "login", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { "*", SASL_ABORTED, NULL }, END }, NULL, NULL, NULL },
        { "abort at the password", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { user, SASL_CONTINUE, "UGFzc3dvcmQ6" }, { "*", SASL_ABORTED, NULL }, END },
          NULL, NULL, NULL },
        { "bad base64 user", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { "app!", SASL_ERR_BASE64, NULL }, END }, NULL, NULL, NULL },
        { "bad base64 password", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { user, SASL_CONTINUE, "UGFzc3dvcmQ6" }, { "s3cret!", SASL_ERR_BASE64, NULL },
            END }, NULL, NULL, NULL },
        { "empty user", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { "", SASL_ERR_MALFORMED, NULL }, END }, NULL, NULL, NULL },
        { "empty user as =", "LOGIN =", ALL, SASL_ERR_MALFORMED, NULL, { END },
          NULL, NULL, NULL },
        { "empty password", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { user, SASL_CONTINUE, "UGFzc3dvcmQ6" }, { "=", SASL_ERR_MALFORMED, NULL },
            END }, NULL, NULL, NULL },
        { "control byte in the user", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { "YQpi", SASL_ERR_MALFORMED, NULL }, END }, NULL, NULL, NULL },
        { "NUL in the password", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { user, SASL_CONTINUE, "UGFzc3dvcmQ6" }, { "YQBi", SASL_ERR_MALFORMED, NULL },
            END }, NULL, NULL, NULL },
        { "step after the end", "LOGIN", ALL, SASL_CONTINUE, "VXNlcm5hbWU6",
          { { "*", SASL_ABORTED, NULL }, { user, SASL_ERR_MALFORMED, NULL }, END },
          NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i]);
}

static void test_command_syntax(void **state)
{
    (void)state;
    const struct tcase cases[] = {
        { "no mechanism", "", ALL, SASL_ERR_SYNTAX, NULL, { END }, NULL, NULL, NULL },
        { "blanks only", "   ", ALL, SASL_ERR_SYNTAX, NULL, { END }, NULL, NULL, NULL },
        { "two responses", "PLAIN AGEAYg== AGEAYg==", ALL, SASL_ERR_SYNTAX, NULL, { END },
          NULL, NULL, NULL },
        { "unknown mechanism", "CRAM-MD5", ALL, SASL_ERR_MECH, NULL, { END },
          NULL, NULL, NULL },
        { "prefix of a name", "PLAI", ALL, SASL_ERR_MECH, NULL, { END }, NULL, NULL, NULL },
        { "longer name", "PLAINX", ALL, SASL_ERR_MECH, NULL, { END }, NULL, NULL, NULL },
        { "not offered", "LOGIN", SASL_MECH_PLAIN, SASL_ERR_MECH, NULL, { END },
          NULL, NULL, NULL },
        { "nothing offered", "PLAIN", 0, SASL_ERR_MECH, NULL, { END }, NULL, NULL, NULL },
        { "bad initial response", "PLAIN AGEAYg=", ALL, SASL_ERR_BASE64, NULL, { END },
          NULL, NULL, NULL },
        { "* is no initial response", "PLAIN *", ALL, SASL_ERR_BASE64, NULL, { END },
          NULL, NULL, NULL },
        { "abort", "PLAIN", ALL, SASL_CONTINUE, "", { { "*", SASL_ABORTED, NULL }, END },
          NULL, NULL, NULL },
        { "* with more is base64 trouble", "PLAIN", ALL, SASL_CONTINUE, "",
          { { "**", SASL_ERR_BASE64, NULL }, END }, NULL, NULL, NULL },
        { "blanks around", "  PLAIN   AGEAYg==  ", ALL, SASL_DONE, NULL, { END },
          "a", NULL, "b" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i]);
}

static void test_limits(void **state)
{
    (void)state;
    char msg[800], arg[SASL_LINE_MAX + 64], line[SASL_LINE_MAX + 8];
    struct sasl_exchange x;
    /* 255-byte names and password: the largest accepted */
    memset(msg, 'a', sizeof msg);
    msg[255] = '\0';
    msg[511] = '\0';
    size_t n = 255 * 3 + 2;
    snprintf(arg, sizeof arg, "PLAIN %s", b64(msg, n));
    assert_int_equal(sasl_start(&x, arg, strlen(arg), ALL), SASL_DONE);
    assert_int_equal(strlen(x.authzid), 255);
    assert_int_equal(strlen(x.authcid), 255);
    assert_int_equal(strlen(x.passwd), 255);
    sasl_wipe(&x);
    /* one more byte in the password */
    memset(msg, 'a', sizeof msg);
    msg[0] = '\0';
    msg[4] = '\0';
    snprintf(arg, sizeof arg, "PLAIN %s", b64(msg, 5 + 256));
    assert_int_equal(sasl_start(&x, arg, strlen(arg), ALL), SASL_ERR_FIELD_TOOLONG);
    /* and in a name */
    msg[4] = 'a';
    msg[257] = '\0';
    snprintf(arg, sizeof arg, "PLAIN %s", b64(msg, 257 + 3));
    assert_int_equal(sasl_start(&x, arg, strlen(arg), ALL), SASL_ERR_FIELD_TOOLONG);
    /* a line of SASL_LINE_MAX characters is read, one more is not */
    memset(line, 'A', sizeof line);
    assert_int_equal(sasl_start(&x, "PLAIN", 5, ALL), SASL_CONTINUE);
    assert_int_equal(sasl_step(&x, line, SASL_LINE_MAX), SASL_ERR_MALFORMED);
    assert_int_equal(sasl_start(&x, "PLAIN", 5, ALL), SASL_CONTINUE);
    assert_int_equal(sasl_step(&x, line, SASL_LINE_MAX + 4), SASL_ERR_TOOLONG);
    assert_string_equal(sasl_reply(SASL_ERR_TOOLONG),
                        "500 5.5.6 Authentication Exchange line is too long");
}

static void test_replies(void **state)
{
    (void)state;
    assert_null(sasl_reply(SASL_CONTINUE));
    assert_null(sasl_reply(SASL_DONE));
    assert_string_equal(sasl_reply(SASL_ABORTED), "501 5.7.0 Authentication aborted");
    assert_string_equal(sasl_reply(SASL_ERR_BASE64), "501 5.5.2 Cannot decode response");
    assert_string_equal(sasl_reply(SASL_ERR_MECH),
                        "504 5.5.4 Unsupported authentication mechanism");
    for (int st = SASL_ABORTED; st <= SASL_ERR_AUTHZID; st++) {
        const char *r = sasl_reply((enum sasl_status)st);
        assert_non_null(r);
        assert_true(strlen(r) > 10 && r[3] == ' ' && (r[0] == '5'));
    }
}

static void test_mechanism_lists(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(sasl_mech_list(SASL_MECHS_ALL, buf, sizeof buf), "PLAIN LOGIN");
    assert_string_equal(sasl_mech_list(SASL_MECH_LOGIN, buf, sizeof buf), "LOGIN");
    assert_string_equal(sasl_mech_list(0, buf, sizeof buf), "");
    char *none[] = { NULL };
    char *anon[] = { "noanonymous" };
    char *plain[] = { "noanonymous", "NoPlainText" };
    char *dict[] = { "nodictionary" };
    assert_int_equal(sasl_mechs_allowed(none, 0), SASL_MECHS_ALL);
    assert_int_equal(sasl_mechs_allowed(anon, 1), SASL_MECHS_ALL);
    assert_int_equal(sasl_mechs_allowed(plain, 2), 0);
    assert_int_equal(sasl_mechs_allowed(dict, 1), 0);
    assert_string_equal(sasl_mech_name(SASL_MECH_PLAIN), "PLAIN");
    assert_string_equal(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_plain_refused),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_command_syntax),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_mechanism_lists),
    };
    return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}

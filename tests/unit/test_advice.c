/* Unit tests for config_advise: valid settings that are likely mistakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "auth/sasl.h"
#include "config/config.h"

struct said {
    int n;
    char last[512];
};

static void say(void *arg, const char *msg)
{
    struct said *s = arg;
    s->n++;
    strncpy(s->last, msg, sizeof s->last - 1);
}

static int advise(const char *text, struct said *s)
{
    char err[512];
    struct config *c = config_load_text(text, "t.cf", err, sizeof err);
    if (!c)
        fail_msg("config: %s", err);
    memset(s, 0, sizeof *s);
    int n = config_advise(c, say, s);
    config_free(c);
    assert_int_equal(n, s->n);
    return n;
}

static void test_quiet_for_good_configs(void **state)
{
    (void)state;
    struct said s;
    assert_int_equal(advise("", &s), 0);
    assert_int_equal(advise("default_transport = smtp\nrelayhost = [smtp.example.com]:465\n"
                            "smtp_tls_wrappermode = yes\nsmtp_sasl_auth_enable = yes\n"
                            "smtp_sasl_password_maps = hash:/etc/postern/sasl_passwd\n", &s), 0);
    assert_int_equal(advise("default_transport = smtp\nrelayhost = [smtp.example.com]:587\n"
                            "smtp_tls_security_level = encrypt\n", &s), 0);
}

static void test_mistakes(void **state)
{
    (void)state;
    struct said s;
    assert_int_equal(advise("relayhost = [smtp.example.com]:465\n", &s), 1);
    assert_non_null(strstr(s.last, "default_transport"));
    assert_int_equal(advise("default_transport = smtp\nsmtp_sasl_auth_enable = yes\n", &s), 1);
    assert_non_null(strstr(s.last, "smtp_sasl_password_maps is empty"));
    assert_int_equal(advise("default_transport = smtp\nsmtp_sasl_auth_enable = yes\n"
                            "smtp_sasl_password_maps = texthash:/x\n"
                            "smtp_tls_security_level = none\n", &s), 1);
    assert_non_null(strstr(s.last, "never sends AUTH without TLS"));
    assert_int_equal(advise("default_transport = smtp\nrelayhost = [smtp.example.com]:587\n"
                            "smtp_tls_wrappermode = yes\n", &s), 1);
    assert_non_null(strstr(s.last, "port 465"));
    assert_int_equal(advise("maximal_queue_lifetime = 60s\nminimal_backoff_time = 300s\n"
                            "maximal_backoff_time = 600s\n", &s), 1);
    assert_non_null(strstr(s.last, "bounces before its first retry"));
}

/* An option warns "AUTH is never offered" exactly when the SASL module
 * takes every mechanism away for it. */
static void test_sasl_options_agree_with_the_mechanisms(void **state)
{
    (void)state;
    static const char *const words[] = { "noanonymous", "noplaintext", "NoActive",
                                         "nodictionary", "mutual_auth" };
    struct said s;
    char text[256];
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char *opts[] = { "noanonymous", (char *)words[i] };
        int none = sasl_mechs_allowed(opts, 2) == 0;
        snprintf(text, sizeof text, "smtpd_sasl_auth_enable = yes\n"
                 "smtpd_sasl_security_options = noanonymous, %s\n", words[i]);
        assert_int_equal(advise(text, &s), none);
        if (none)
            assert_non_null(strstr(s.last, "AUTH is never offered"));
        /* without AUTH there is nothing to say */
        snprintf(text, sizeof text, "smtpd_sasl_security_options = %s\n", words[i]);
        assert_int_equal(advise(text, &s), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_for_good_configs),
        cmocka_unit_test(test_mistakes),
        cmocka_unit_test(test_sasl_options_agree_with_the_mechanisms),
    };
    return cmocka_run_group_tests_name("advice", tests, NULL, NULL);
}

/* Unit tests for net/authrec: DKIM key records (tags, joined strings with
 * white space inside p=, revoked keys, errors) and DMARC records (v= first,
 * p= required and valid, rua/ruf mailto URIs, pct, adkim/aspf, unknown
 * tags), and identifier alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/authrec.h"

static void test_dkim(void **state)
{
    (void)state;
    struct authrec_dkim k;
    char err[300];
    assert_int_equal(authrec_dkim_parse("v=DKIM1; k=rsa; p=MIIBIjAN+/Bg==", &k, err,
                                        sizeof err), 0);
    assert_string_equal(k.k, "rsa");
    assert_string_equal(k.p, "MIIBIjAN+/Bg==");
    /* strings joined as "v=DKIM1; k=rsa; " "p=..." and FWS inside p= */
    assert_int_equal(authrec_dkim_parse(" v = DKIM1 ;k=ED25519;  p=AB CD\tEF ; ", &k, err,
                                        sizeof err), 0);
    assert_string_equal(k.k, "ed25519");
    assert_string_equal(k.p, "ABCDEF");
    assert_int_equal(authrec_dkim_parse("p=XYZ", &k, err, sizeof err), 0);   /* k default */
    assert_string_equal(k.k, "rsa");
    assert_int_equal(authrec_dkim_parse("v=DKIM1; p=", &k, err, sizeof err), 0);
    assert_string_equal(k.p, "");       /* revoked */

    static const struct { const char *txt, *msg; } bad[] = {
        { "v=DKIM1; k=rsa", "no p= tag" },
        { "k=rsa; v=DKIM1; p=AB", "v= must be the first tag" },
        { "v=DKIM2; p=AB", "the version is DKIM1" },
        { "v=DKIM1; p=AB; p=CD", "appears twice" },
        { "v=DKIM1; p=AB$CD", "not base64" },
        { "v=DKIM1; garbage; p=AB", "not a tag=value pair" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(authrec_dkim_parse(bad[i].txt, &k, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[i].msg));
    }
}

static void test_dmarc(void **state)
{
    (void)state;
    struct authrec_dmarc d;
    char err[300];
    assert_int_equal(authrec_dmarc_parse("v=DMARC1; p=none; rua=mailto:postmaster@example.com",
                                         &d, err, sizeof err), 0);
    assert_string_equal(d.p, "none");
    assert_int_equal(d.adkim, 'r');
    assert_int_equal(d.aspf, 'r');
    assert_int_equal(d.pct, 100);
    assert_string_equal(d.rua, "mailto:postmaster@example.com");
    assert_string_equal(d.warning, "");
    assert_int_equal(authrec_dmarc_parse("v=DMARC1;p=reject;sp=quarantine;adkim=s;aspf=s;"
                                         "pct=25;rua=mailto:a@x.example!10m, "
                                         "mailto:b@y.example;ruf=mailto:f@x.example;fo=1:d;"
                                         "rf=afrf;ri=86400;", &d, err, sizeof err), 0);
    assert_string_equal(d.p, "reject");
    assert_string_equal(d.sp, "quarantine");
    assert_int_equal(d.adkim, 's');
    assert_int_equal(d.pct, 25);
    assert_int_equal(authrec_dmarc_parse("v=DMARC1; p=none; adkin=r", &d, err, sizeof err), 0);
    assert_non_null(strstr(d.warning, "unknown tag adkin="));
    assert_int_equal(authrec_dmarc_parse("v=DMARC1; rua=mailto:a@b.example; p=none", &d, err,
                                         sizeof err), 0);
    assert_non_null(strstr(d.warning, "p= should follow v=DMARC1"));

    static const struct { const char *txt, *msg; } bad[] = {
        { "p=none; v=DMARC1", "must start with v=DMARC1" },
        { "v=DMARC 1; p=none", "must start with v=DMARC1" },
        { "v=dmarc1; p=none", "must start with v=DMARC1" },
        { "v=DMARC1; rua=mailto:a@b.example", "no p= tag" },
        { "v=DMARC1; p=rejet", "p=rejet: the policy is none, quarantine or reject" },
        { "v=DMARC1; p=none; sp=all", "sp=all" },
        { "v=DMARC1; p=none; pct=101", "pct=101: a percentage" },
        { "v=DMARC1; p=none; pct=fifty", "pct=fifty" },
        { "v=DMARC1; p=none; adkim=relaxed", "adkim=relaxed: r (relaxed) or s" },
        { "v=DMARC1; p=none; rua=postmaster@example.com", "is not mailto:ADDRESS" },
        { "v=DMARC1; p=none; rua=mailto:postmaster", "is not mailto:ADDRESS" },
        { "v=DMARC1; p=none; rua=mailto:a@b.example!10x", "the size after '!'" },
        { "v=DMARC1; p=none; ruf=", "ruf= is empty" },
        { "v=DMARC1; p=none; p=reject", "appears twice" },
        { "v=DMARC1; p=none; fo=2", "fo=2" },
        { "v=DMARC1; p=none; rf=iodef", "rf=iodef" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(authrec_dmarc_parse(bad[i].txt, &d, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg))
            fail_msg("%s: %s", bad[i].txt, err);
    }
    assert_true(authrec_dmarc_like("v=DMARC1; p=none"));
    assert_true(authrec_dmarc_like("v=DMARC 1; p=none"));
    assert_false(authrec_dmarc_like("v=spf1 -all"));
}

static void test_aligned(void **state)
{
    (void)state;
    assert_true(authrec_aligned("example.com", "EXAMPLE.com", 's'));
    assert_false(authrec_aligned("example.com", "mail.example.com", 's'));
    assert_true(authrec_aligned("example.com", "mail.example.com", 'r'));
    assert_true(authrec_aligned("a.example.com", "b.example.com", 'r'));
    assert_false(authrec_aligned("example.com", "163.com", 'r'));
    assert_false(authrec_aligned("example.com", "example.net", 'r'));
    assert_true(authrec_aligned("example.co.uk", "bounce.example.co.uk", 'r'));
    assert_false(authrec_aligned("example.co.uk", "other.co.uk", 'r'));
    assert_false(authrec_aligned("example.com.cn", "other.com.cn", 'r'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dkim),
        cmocka_unit_test(test_dmarc),
        cmocka_unit_test(test_aligned),
    };
    return cmocka_run_group_tests_name("authrec", tests, NULL, NULL);
}

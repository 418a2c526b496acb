/* Unit tests for net/dnsrec: TXT strings split at 255 bytes (and before
 * p=), SPF for direct delivery and through relay providers, PTR names for
 * IPv4 and IPv6, DMARC, and the refusals of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/dnsrec.h"
#include "util/sbuf.h"

/* Undo dnsrec_txt_append: join the strings (no escapes in these values),
 * checking each is at most max bytes. Returns the count. */
static size_t join(const char *zone, char *out, size_t max)
{
    size_t n = 0, count = 0;
    const char *p = zone;
    while ((p = strchr(p, '"'))) {
        const char *e = strchr(p + 1, '"');
        assert_non_null(e);
        size_t len = (size_t)(e - p - 1);
        assert_true(len <= max);
        memcpy(out + n, p + 1, len);
        n += len;
        count++;
        p = e + 1;
    }
    out[n] = '\0';
    return count;
}

static void test_txt_split(void **state)
{
    (void)state;
    char value[1200], back[1200];
    for (size_t len = 1; len < 800; len++) {
        memset(value, 'a', len);
        value[len] = '\0';
        struct sbuf b = SBUF_INIT;
        size_t n = dnsrec_txt_append(&b, value, DNSREC_TXT_STRING_MAX, " ");
        assert_false(b.oom);
        assert_int_equal(n, (len + 254) / 255);
        assert_int_equal(join(b.s, back, 255), n);
        assert_string_equal(back, value);
        sbuf_free(&b);
    }
    /* exactly 255 bytes: one string; 256: two, the second one byte */
    memset(value, 'b', 256);
    value[255] = '\0';
    struct sbuf b = SBUF_INIT;
    assert_int_equal(dnsrec_txt_append(&b, value, 255, " "), 1);
    sbuf_free(&b);
    value[255] = 'b';
    value[256] = '\0';
    assert_int_equal(dnsrec_txt_append(&b, value, 255, " "), 2);
    assert_string_equal(b.s + b.len - 4, " \"b\"");
    sbuf_free(&b);
}

static void test_txt_dkim_and_escapes(void **state)
{
    (void)state;
    char value[800], back[800];
    strcpy(value, "v=DKIM1; k=rsa; p=");
    size_t off = strlen(value);
    memset(value + off, 'Q', 392);      /* a 2048-bit key's p= */
    value[off + 392] = '\0';
    struct sbuf b = SBUF_INIT;
    size_t n = dnsrec_txt_append(&b, value, 255, "\n\t");
    assert_int_equal(n, 3);             /* "v=DKIM1; k=rsa; " "p=...255" "...rest" */
    assert_true(strncmp(b.s, "\"v=DKIM1; k=rsa; \"\n\t\"p=", 23) == 0);
    assert_int_equal(join(b.s, back, 255), 3);
    assert_string_equal(back, value);
    sbuf_free(&b);

    /* a short value stays whole, p= or not (DMARC's p=none) */
    assert_int_equal(dnsrec_txt_append(&b, "v=DMARC1; p=none", 255, " "), 1);
    assert_string_equal(b.s, "\"v=DMARC1; p=none\"");
    sbuf_free(&b);
    /* "p=" inside a tag name is no tag */
    strcpy(value, "v=DKIM1; rsp=");
    memset(value + 13, 'Q', 392);
    value[13 + 392] = '\0';
    assert_int_equal(dnsrec_txt_append(&b, value, 255, " "), 2);
    assert_true(strncmp(b.s + 251, "QQQQQ\" \"QQ", 10) == 0);
    sbuf_free(&b);

    dnsrec_txt_append(&b, "a\"b\\c\x01", 255, " ");
    assert_string_equal(b.s, "\"a\\\"b\\\\c\\001\"");
    sbuf_free(&b);
}

static void test_ptr_names(void **state)
{
    (void)state;
    char out[80];
    assert_int_equal(dnsrec_ptr_name("203.0.113.5", out, sizeof out), 0);
    assert_string_equal(out, "5.113.0.203.in-addr.arpa.");
    assert_int_equal(dnsrec_ptr_name("2001:db8::1", out, sizeof out), 0);
    assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                             "ip6.arpa.");
    assert_int_equal(dnsrec_ptr_name("2001:DB8:abcd:12::ff", out, sizeof out), 0);
    assert_string_equal(out, "f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2."
                             "ip6.arpa.");
    assert_int_equal(dnsrec_ptr_name("203.0.113", out, sizeof out), -1);
    assert_int_equal(dnsrec_ptr_name("2001:db8::1", out, 40), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(dnsrec_name_ok("example.com", 0));
    assert_true(dnsrec_name_ok("mail.example-1.co.uk", 0));
    assert_false(dnsrec_name_ok("localhost", 0));
    assert_false(dnsrec_name_ok("-a.example.com", 0));
    assert_false(dnsrec_name_ok("a-.example.com", 0));
    assert_false(dnsrec_name_ok("a..example.com", 0));
    assert_false(dnsrec_name_ok("a b.example.com", 0));
    assert_false(dnsrec_name_ok("_dmarc.example.com", 0));
    assert_true(dnsrec_name_ok("mail._domainkey.example.com", 1));
    char label[80];
    memset(label, 'x', 64);
    strcpy(label + 64, ".com");
    assert_false(dnsrec_name_ok(label, 0));
    strcpy(label + 63, ".com");
    assert_true(dnsrec_name_ok(label, 0));
}

static char *spf(const char *relayhost, const char **note)
{
    struct dnsrec_input in = { .domain = "example.com", .myhostname = "mail.example.com",
                               .ipv4 = "203.0.113.5", .ipv6 = "2001:db8::5",
                               .relayhost = relayhost };
    struct sbuf b = SBUF_INIT;
    dnsrec_spf_value(&in, &b, note);
    return sbuf_take(&b, NULL);
}

static void test_spf(void **state)
{
    (void)state;
    const char *note;
    static const struct { const char *relay, *want; } cases[] = {
        { "", "v=spf1 mx ip4:203.0.113.5 ip6:2001:db8::5 -all" },
        { NULL, "v=spf1 mx ip4:203.0.113.5 ip6:2001:db8::5 -all" },
        { "[smtp.gmail.com]:587", "v=spf1 include:_spf.google.com -all" },
        { "smtp-relay.gmail.com:25", "v=spf1 include:_spf.google.com -all" },
        { "[smtp.office365.com]:587", "v=spf1 include:spf.protection.outlook.com -all" },
        { "[SMTP.163.COM]:465", "v=spf1 include:spf.163.com -all" },
        { "[smtp.qq.com]:465", "v=spf1 include:spf.mail.qq.com -all" },
        { "[smtp.exmail.qq.com]:465", "v=spf1 include:spf.mail.qq.com -all" },
        { "[smtp.qiye.aliyun.com]:465", "v=spf1 include:spf.qiye.aliyun.com -all" },
        { "[email-smtp.eu-west-1.amazonaws.com]:587", "v=spf1 include:amazonses.com -all" },
        { "[192.0.2.7]:25", "v=spf1 ip4:192.0.2.7 -all" },
        { "[2001:DB8::7]:25", "v=spf1 ip6:2001:db8::7 -all" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *v = spf(cases[i].relay, &note);
        assert_string_equal(v, cases[i].want);
        assert_null(note);
        free(v);
    }
    /* a look-alike is not the provider; an unknown one gets a: and advice */
    char *v = spf("[smtp.notgmail.com]:587", &note);
    assert_string_equal(v, "v=spf1 a:smtp.notgmail.com -all");
    assert_non_null(note);
    assert_non_null(strstr(note, "ask the provider"));
    free(v);
    const char *prov = NULL;
    assert_string_equal(dnsrec_spf_include("[smtp.gmail.com]:587", &prov), "_spf.google.com");
    assert_non_null(strstr(prov, "Google"));
    assert_null(dnsrec_spf_include("gmail.com.evil.example:25", NULL));
}

static const struct dnsrec *find(const struct dnsrec_list *l, const char *type,
                                 const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].type, type) == 0 && strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

static void test_build(void **state)
{
    (void)state;
    struct dnsrec_input in = { .domain = "Example.COM.", .myhostname = "mail.example.com",
                               .ipv4 = "203.0.113.5", .ipv6 = "2001:DB8:0::5" };
    in.ndkim = 1;
    in.dkim[0].selector = "mail";
    in.dkim[0].value = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    struct dnsrec_list l;
    char err[300];
    assert_int_equal(dnsrec_build(&in, &l, err, sizeof err), 0);
    const struct dnsrec *r = find(&l, "MX", "example.com.");
    assert_non_null(r);
    assert_string_equal(r->value, "10 mail.example.com.");
    assert_true(r->in_zone);
    r = find(&l, "A", "mail.example.com.");
    assert_non_null(r);
    assert_string_equal(r->value, "203.0.113.5");
    r = find(&l, "AAAA", "mail.example.com.");
    assert_non_null(r);
    assert_string_equal(r->value, "2001:db8::5");
    assert_true(r->in_zone);
    r = find(&l, "TXT", "example.com.");
    assert_non_null(r);
    assert_int_equal(r->role, DNSREC_SPF);
    assert_string_equal(r->value, "v=spf1 mx ip4:203.0.113.5 ip6:2001:db8::5 -all");
    r = find(&l, "TXT", "mail._domainkey.example.com.");
    assert_non_null(r);
    assert_string_equal(r->value, in.dkim[0].value);
    r = find(&l, "TXT", "_dmarc.example.com.");
    assert_non_null(r);
    assert_string_equal(r->value, "v=DMARC1; p=none; rua=mailto:postmaster@example.com");
    assert_non_null(strstr(r->note, "p=quarantine"));
    r = find(&l, "PTR", "5.113.0.203.in-addr.arpa.");
    assert_non_null(r);
    assert_string_equal(r->value, "mail.example.com.");
    assert_false(r->in_zone);
    assert_non_null(find(&l, "PTR", "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1."
                                    "0.0.2.ip6.arpa."));
    assert_int_equal(l.n, 8);
    dnsrec_list_free(&l);

    /* reports to another domain need its permission; a host outside the
     * domain has its A record in its own zone */
    in.report_to = "dmarc@reports.example.net";
    in.myhostname = "relay.hoster.example.org";
    in.ipv6 = NULL;
    in.ndkim = 0;
    assert_int_equal(dnsrec_build(&in, &l, err, sizeof err), 0);
    r = find(&l, "TXT", "_dmarc.example.com.");
    assert_string_equal(r->value, "v=DMARC1; p=none; rua=mailto:dmarc@reports.example.net");
    assert_non_null(strstr(r->note, "example.com._report._dmarc.reports.example.net"));
    r = find(&l, "A", "relay.hoster.example.org.");
    assert_non_null(r);
    assert_false(r->in_zone);
    assert_int_equal(l.n, 5);
    dnsrec_list_free(&l);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct dnsrec_input bad[] = {
        { .domain = "example", .myhostname = "mail.example.com", .ipv4 = "203.0.113.5" },
        { .domain = "exa mple.com", .myhostname = "mail.example.com", .ipv4 = "203.0.113.5" },
        { .domain = "example.com", .myhostname = "localhost", .ipv4 = "203.0.113.5" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv4 = "203.0.113" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv4 = "2001:db8::1" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv6 = "203.0.113.5" },
        { .domain = "example.com", .myhostname = "mail.example.com" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv4 = "203.0.113.5",
          .report_to = "a,b@example.com" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv4 = "203.0.113.5",
          .report_to = "postmaster" },
        { .domain = "example.com", .myhostname = "mail.example.com", .ipv4 = "203.0.113.5",
          .ndkim = 1, .dkim = { { "a b", "v=DKIM1; p=" } } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dnsrec_list l;
        char err[300] = "";
        assert_int_equal(dnsrec_build(&bad[i], &l, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_int_equal(l.n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txt_split),
        cmocka_unit_test(test_txt_dkim_and_escapes),
        cmocka_unit_test(test_ptr_names),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_spf),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("dnsrec", tests, NULL, NULL);
}

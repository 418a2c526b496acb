/* Unit tests for recipient routing (transport_maps, default_transport,
 * relayhost). The table is a real texthash map in a temp file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "deliver/route.h"
#include "config/maps.h"

static struct config *cfg_from(const char *text)
{
    char err[512];
    struct config *c = config_load_text(text, "t.cf", err, sizeof err);
    if (!c)
        fail_msg("config: %s", err);
    return c;
}

static struct map *map_from(const char *text, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "/tmp/postern-route-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char spec[300], err[512];
    snprintf(spec, sizeof spec, "texthash:%s", path);
    struct map *m = map_open(spec, 0, err, sizeof err);
    if (!m)
        fail_msg("map: %s", err);
    return m;
}

static void test_defaults(void **state)
{
    (void)state;
    struct route r;
    char err[256];
    struct config *c = cfg_from("default_transport = capture\n");
    assert_int_equal(route_for(c, NULL, NULL, "a@Example.COM", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_CAPTURE);
    assert_string_equal(r.domain, "example.com");
    config_free(c);

    c = cfg_from("default_transport = smtp\nrelayhost = [smtp.example.com]:465\n");
    assert_int_equal(route_for(c, NULL, NULL, "a@x.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_SMTP);
    assert_string_equal(r.nexthop, "[smtp.example.com]:465");
    config_free(c);

    c = cfg_from("default_transport = smtp\nmydestination = Local.Test\n");
    assert_int_equal(route_for(c, NULL, NULL, "a@local.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_CAPTURE);        /* local_transport */
    assert_int_equal(route_for(c, NULL, NULL, "a@x.test.", &r, err, sizeof err), 0);
    assert_string_equal(r.nexthop, "");
    assert_string_equal(r.domain, "x.test");
    config_free(c);
}

static void test_table(void **state)
{
    (void)state;
    char path[64], err[256];
    struct map *m = map_from("special@x.test error:user gone\n"
                             "x.test smtp:[10.1.1.1]:2525\n"
                             ".inside.test capture\n"
                             "mx.test smtp:\n"
                             "bad.test pigeon:\n"
                             "fail.test error:\n", path, sizeof path);
    struct config *c = cfg_from("default_transport = smtp\nrelayhost = [r.test]:25\n");
    struct route r;
    assert_int_equal(route_for(c, m, NULL, "special@x.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_ERROR);
    assert_string_equal(r.error, "user gone");
    assert_int_equal(route_for(c, m, NULL, "b@X.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_SMTP);
    assert_string_equal(r.nexthop, "[10.1.1.1]:2525");
    assert_int_equal(route_for(c, m, NULL, "b@a.b.inside.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_CAPTURE);
    assert_int_equal(route_for(c, m, NULL, "b@inside.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_SMTP);           /* .inside.test is for subdomains */
    assert_string_equal(r.nexthop, "[r.test]:25");
    assert_int_equal(route_for(c, m, NULL, "b@mx.test", &r, err, sizeof err), 0);
    assert_string_equal(r.nexthop, "");
    assert_int_equal(route_for(c, m, NULL, "b@bad.test", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown transport \"pigeon\""));
    assert_int_equal(route_for(c, m, NULL, "b@fail.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_ERROR);
    assert_non_null(strstr(r.error, "not deliverable"));
    config_free(c);
    map_free(m);
    unlink(path);
}

static void test_equal(void **state)
{
    (void)state;
    struct route a = { .kind = ROUTE_SMTP }, b = { .kind = ROUTE_SMTP };
    strcpy(a.domain, "a.test");
    strcpy(b.domain, "b.test");
    assert_false(route_equal(&a, &b));              /* MX: one domain per job */
    strcpy(a.nexthop, "[r]:25");
    strcpy(b.nexthop, "[r]:25");
    assert_true(route_equal(&a, &b));               /* relayhost: one job */
    b.kind = ROUTE_CAPTURE;
    assert_false(route_equal(&a, &b));
}

/* sender_dependent_relayhost_maps: address, then @domain, <> for the null
 * sender; DUNNO keeps relayhost; only relayhost is replaced. */
static void test_sender_relayhost(void **state)
{
    (void)state;
    char path[64], path2[64], err[256];
    struct map *m = map_from("a@apps.test [up1.test]:587\n"
                             "@apps.test [up2.test]:587\n"
                             "quiet@apps.test DUNNO\n"
                             "<> [bounces.test]:25\n", path, sizeof path);
    char *v = route_sender_relayhost(m, "a@apps.test");
    assert_string_equal(v, "[up1.test]:587");
    free(v);
    v = route_sender_relayhost(m, "b@Apps.Test");
    assert_string_equal(v, "[up2.test]:587");
    free(v);
    v = route_sender_relayhost(m, "");
    assert_string_equal(v, "[bounces.test]:25");
    free(v);
    assert_null(route_sender_relayhost(m, "quiet@apps.test"));
    assert_null(route_sender_relayhost(m, "x@other.test"));
    assert_null(route_sender_relayhost(NULL, "a@apps.test"));

    struct map *t = map_from("local.test capture\n", path2, sizeof path2);
    struct config *c = cfg_from("default_transport = smtp\nrelayhost = [r.test]:25\n");
    struct route r;
    assert_int_equal(route_for(c, t, "[up1.test]:587", "x@far.test", &r, err, sizeof err), 0);
    assert_string_equal(r.nexthop, "[up1.test]:587");
    assert_int_equal(route_for(c, t, "[up1.test]:587", "x@local.test", &r, err, sizeof err), 0);
    assert_int_equal(r.kind, ROUTE_CAPTURE);       /* transport_maps wins */
    assert_int_equal(route_for(c, t, NULL, "x@far.test", &r, err, sizeof err), 0);
    assert_string_equal(r.nexthop, "[r.test]:25");
    config_free(c);
    map_free(t);
    map_free(m);
    unlink(path);
    unlink(path2);
}

/* smtpd_sasl_login_relayhost_maps: the login as it is (no @domain or
 * partial keys); DUNNO and no entry leave the choice to the sender. */
static void test_login_relayhost(void **state)
{
    (void)state;
    char path[64];
    struct map *m = map_from("sentry [up1.test]:465\n"
                             "gitlab@apps.test [up2.test]:587\n"
                             "quiet DUNNO\n", path, sizeof path);
    char *v = route_login_relayhost(m, "sentry");
    assert_string_equal(v, "[up1.test]:465");
    free(v);
    v = route_login_relayhost(m, "SENTRY");
    assert_string_equal(v, "[up1.test]:465");
    free(v);
    v = route_login_relayhost(m, "gitlab@apps.test");
    assert_string_equal(v, "[up2.test]:587");
    free(v);
    assert_null(route_login_relayhost(m, "other@apps.test"));   /* no @domain key */
    assert_null(route_login_relayhost(m, "quiet"));
    assert_null(route_login_relayhost(m, "nobody"));
    assert_null(route_login_relayhost(m, ""));
    assert_null(route_login_relayhost(m, NULL));
    assert_null(route_login_relayhost(NULL, "sentry"));
    map_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_sender_relayhost),
        cmocka_unit_test(test_login_relayhost),
    };
    return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}

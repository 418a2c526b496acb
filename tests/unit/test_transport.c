/* Unit tests for deliver/transport: grouping a message's recipients by
 * route, and the request/result interface of the synchronous transports
 * (error:, capture without worker threads): one result per recipient of
 * the request, through done, exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/maps.h"
#include "deliver/transport.h"

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
    snprintf(path, pathlen, "/tmp/postern-transport-XXXXXX");
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

/* what done saw */
struct seen {
    int calls;
    char relay[64];
    size_t n;
    enum deliver_status status[8];
    char dsn[8][16];
    char reason[8][256];
};

static const struct deliver_request *seen_req;

static void on_done(void *arg, const struct deliver_result *res, const char *relay)
{
    struct seen *s = arg;
    s->calls++;
    snprintf(s->relay, sizeof s->relay, "%s", relay);
    s->n = seen_req->nrcpt;
    for (size_t k = 0; k < s->n && k < 8; k++) {
        s->status[k] = res[k].status;
        snprintf(s->dsn[k], sizeof s->dsn[k], "%s", res[k].dsn);
        assert_non_null(res[k].reason);
        snprintf(s->reason[k], sizeof s->reason[k], "%s", res[k].reason);
    }
}

static void test_plan_groups_by_route(void **state)
{
    (void)state;
    char path[64], err[256];
    struct map *m = map_from("gone.test error:user gone\n"
                             "relay.test smtp:[10.1.1.1]:2525\n"
                             "bad.test pigeon:\n", path, sizeof path);
    struct config *c = cfg_from("default_transport = capture\n");
    struct deliver_plan p = { 0 };
    static const char *const rcpts[] = {
        "a@local.test", "b@relay.test", "c@gone.test", "d@bad.test", "e@relay.test",
        "f@other.test",
    };
    int rc[6];
    for (size_t i = 0; i < 6; i++)
        rc[i] = deliver_plan_add(&p, c, m, NULL, rcpts[i], i, err, sizeof err);
    assert_int_equal(rc[3], -1);            /* the table's entry is unusable */
    assert_non_null(strstr(err, "pigeon"));
    for (size_t i = 0; i < 6; i++)
        if (i != 3)
            assert_int_equal(rc[i], 0);
    /* capture (a and f: any domain), smtp (b and e), error (c) */
    assert_int_equal(p.n, 3);
    assert_string_equal(p.g[0].t->name, "capture");
    assert_int_equal(p.g[0].nrcpt, 2);
    assert_int_equal(p.g[0].rcpt[1].index, 5);
    assert_string_equal(p.g[1].t->name, "smtp");
    assert_int_equal(p.g[1].nrcpt, 2);
    assert_string_equal(p.g[1].rcpt[0].addr, "b@relay.test");
    assert_int_equal(p.g[1].rcpt[0].index, 1);
    assert_string_equal(p.g[1].rcpt[1].addr, "e@relay.test");
    assert_int_equal(p.g[1].rcpt[1].index, 4);
    assert_string_equal(p.g[2].t->name, "error");
    assert_int_equal(p.g[2].rcpt[0].index, 2);
    assert_int_equal(deliver_plan_idempotent(&p), 0);     /* smtp is not */

    const struct deliver_request msg = {
        .id = "6553F1001E240ABC", .arrival_sec = 1700000000, .sender = "s@x",
        .content = "x\r\n", .content_len = 3, .flags = DELIVER_8BITMIME,
    };
    struct deliver_request req;
    deliver_plan_request(&p, 1, &msg, &req);
    assert_string_equal(req.id, msg.id);
    assert_string_equal(req.nexthop, "[10.1.1.1]:2525");
    assert_int_equal(req.nrcpt, 2);
    assert_ptr_equal(req.rcpt, p.g[1].rcpt);
    assert_int_equal(req.flags, DELIVER_8BITMIME);
    deliver_plan_request(&p, 2, &msg, &req);
    assert_string_equal(req.nexthop, "user gone");        /* error: its text */
    deliver_plan_free(&p);

    /* without smtp every transport may repeat a delivery */
    assert_int_equal(deliver_plan_add(&p, c, m, NULL, "c@gone.test", 0, err, sizeof err), 0);
    assert_int_equal(deliver_plan_add(&p, c, m, NULL, "a@local.test", 1, err, sizeof err), 0);
    assert_int_equal(deliver_plan_idempotent(&p), 1);
    deliver_plan_free(&p);
    assert_int_equal(p.n, 0);
    config_free(c);

    /* to the MX hosts: one domain per request */
    c = cfg_from("default_transport = smtp\n");
    static const char *const mx[] = {"x@a.test", "y@B.test", "z@A.TEST"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(deliver_plan_add(&p, c, NULL, NULL, mx[i], i, err, sizeof err), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.g[0].nrcpt, 2);
    assert_int_equal(p.g[0].rcpt[1].index, 2);
    deliver_plan_request(&p, 0, &msg, &req);
    assert_string_equal(req.nexthop, "");
    deliver_plan_free(&p);
    config_free(c);
    map_free(m);
    unlink(path);
}

static void test_error_transport(void **state)
{
    (void)state;
    char path[64], err[256];
    struct map *m = map_from("gone.test error:5.1.1 user gone\n", path, sizeof path);
    struct config *c = cfg_from("default_transport = capture\n");
    struct deliver_plan p = { 0 };
    assert_int_equal(deliver_plan_add(&p, c, m, NULL, "a@gone.test", 0, err, sizeof err), 0);
    assert_int_equal(deliver_plan_add(&p, c, m, NULL, "b@gone.test", 1, err, sizeof err), 0);
    const struct deliver_request msg = { .id = "6553F1001E240ABC", .sender = "" };
    struct deliver_request req;
    deliver_plan_request(&p, 0, &msg, &req);
    struct deliver_ctx ctx = { .cfg = c };
    struct seen s;
    memset(&s, 0, sizeof s);
    seen_req = &req;
    transport_deliver(p.g[0].t, &ctx, &req, on_done, &s);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.relay, "none");
    assert_int_equal(s.n, 2);
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(s.status[k], DELIVER_BOUNCED);
        assert_string_equal(s.dsn[k], "5.0.0");
        assert_string_equal(s.reason[k], "5.1.1 user gone");
    }
    deliver_plan_free(&p);
    config_free(c);
    map_free(m);
    unlink(path);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_capture_transport(void **state)
{
    (void)state;
    char base[64], text[512];
    snprintf(base, sizeof base, "/tmp/postern-transport-XXXXXX");
    assert_non_null(mkdtemp(base));
    /* the mail directory is a file: b's copy fails, a temporary failure */
    snprintf(text, sizeof text, "myhostname = h\ncapture_directory = %s/mail\n", base);
    struct config *c = cfg_from(text);
    char p[256];
    snprintf(p, sizeof p, "%s/mail", base);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/mail/b@x", base);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    struct deliver_plan plan = { 0 };
    char err[256];
    assert_int_equal(deliver_plan_add(&plan, c, NULL, NULL, "a@x", 0, err, sizeof err), 0);
    assert_int_equal(deliver_plan_add(&plan, c, NULL, NULL, "b@x", 2, err, sizeof err), 0);
    assert_int_equal(plan.n, 1);
    assert_string_equal(plan.g[0].t->name, "capture");
    const struct deliver_request msg = {
        .id = "6553F1001E240ABC", .arrival_sec = 1700000000, .sender = "s@x",
        .content = "hi\r\n", .content_len = 4,
    };
    struct deliver_request req;
    deliver_plan_request(&plan, 0, &msg, &req);
    struct deliver_ctx ctx = { .cfg = c };       /* no workq: inline */
    struct seen s;
    memset(&s, 0, sizeof s);
    seen_req = &req;
    transport_deliver(plan.g[0].t, &ctx, &req, on_done, &s);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.relay, "capture");
    assert_int_equal(s.status[0], DELIVER_SENT);
    assert_string_equal(s.dsn[0], "2.0.0");
    assert_string_equal(s.reason[0], "delivered to maildir");
    assert_int_equal(s.status[1], DELIVER_DEFERRED);
    assert_string_equal(s.dsn[1], "4.3.0");
    assert_non_null(strstr(s.reason[1], "capture: mailbox b@x"));
    snprintf(p, sizeof p, "%s/mail/a@x/new/1700000000.6553F1001E240ABC_0.h", base);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    deliver_plan_free(&plan);
    config_free(c);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_groups_by_route),
        cmocka_unit_test(test_error_transport),
        cmocka_unit_test(test_capture_transport),
    };
    return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}

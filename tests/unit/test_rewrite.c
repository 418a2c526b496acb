/* Unit tests for deliver/rewrite: envelope sender and header sender
 * rewriting through maps written to a mkdtemp directory. Every header case
 * compares the exact output bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/rewrite.h"
#include "config/maps.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char g_dir[64];
static struct map *g_all;      /* pcre: /.*\/ acct@163.com (the seed) */
static struct map *g_hash;     /* texthash: exact and @domain */
static struct map *g_rx;       /* regexp: only @sentry.local and @app.example */

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct map *mk(const char *type, const char *name, const char *text)
{
    char path[256], spec[300], err[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    snprintf(spec, sizeof spec, "%s:%s", type, path);
    struct map *m = map_open(spec, 0, err, sizeof err);
    if (!m)
        fprintf(stderr, "%s\n", err);
    return m;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/postern-rewrite-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    g_all = mk("pcre", "all", "/.*/ acct@163.com\n");
    g_hash = mk("texthash", "hash",
                "noreply@sentry.local   acct@163.com\n"
                "@gitlab.local          git@163.com\n"
                "same@163.com           same@163.com\n");
    g_rx = mk("regexp", "rx",
              "/^(.*)@sentry\\.local$/   acct@163.com\n"
              "/@app\\.example$/         acct@163.com\n");
    return g_all && g_hash && g_rx ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    map_free(g_all);
    map_free(g_hash);
    map_free(g_rx);
    return nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- envelope ------------------------------------------------------------- */

static void test_envelope(void **state)
{
    (void)state;
    static const struct {
        struct map **m;
        const char *in, *want;  /* want NULL: not rewritten */
    } v[] = {
        { &g_all, "", NULL },                            /* null sender */
        { &g_all, "noreply@sentry.local", "acct@163.com" },
        { &g_all, "root", "acct@163.com" },
        { &g_all, "acct@163.com", NULL },                /* equal: NULL */
        { &g_hash, "noreply@sentry.local", "acct@163.com" },
        { &g_hash, "NoReply@Sentry.Local", "acct@163.com" },
        { &g_hash, "ci@gitlab.local", "git@163.com" },   /* @domain */
        { &g_hash, "ci@sub.gitlab.local", NULL },
        { &g_hash, "other@example.com", NULL },
        { &g_hash, "same@163.com", NULL },
        { &g_hash, "", NULL },
        { &g_rx, "x@sentry.local", "acct@163.com" },
        { &g_rx, "x@sentry.local.evil", NULL },
    };
    for (size_t i = 0; i < N(v); i++) {
        char *got = rewrite_envelope_sender(*v[i].m, v[i].in);
        if (!v[i].want && got)
            fail_msg("case %zu (%s): want NULL, got \"%s\"", i, v[i].in, got);
        if (v[i].want && (!got || strcmp(got, v[i].want) != 0))
            fail_msg("case %zu (%s): want \"%s\", got \"%s\"", i, v[i].in,
                     v[i].want, got ? got : "(null)");
        free(got);
    }
    assert_null(rewrite_envelope_sender(g_all, NULL));
    assert_null(rewrite_envelope_sender(NULL, "a@b"));
}

/* ---- headers --------------------------------------------------------------- */

struct hcase {
    const char *name;
    struct map **m;
    int reply_to;
    const char *in;
    const char *want;      /* NULL: nothing changed, returns 0 */
};

#define L10 "aaaaaaaaaa"
#define L100 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10
#define LONG_LOCAL L100 L100 L100 L100 L100 L100 L100 L100 L100 L100

static const struct hcase hv[] = {
    { "sentry: From rewritten, Reply-To added", &g_all, 1,
      "From: Sentry <noreply@sentry.local>\r\n"
      "To: ops@example.com\r\n"
      "Subject: [Sentry] error\r\n"
      "\r\n"
      "body\r\n",
      "From: Sentry <acct@163.com>\r\n"
      "Reply-To: Sentry <noreply@sentry.local>\r\n"
      "To: ops@example.com\r\n"
      "Subject: [Sentry] error\r\n"
      "\r\n"
      "body\r\n" },
    { "existing Reply-To is not duplicated", &g_all, 1,
      "Subject: s\r\n"
      "From: Sentry <noreply@sentry.local>\r\n"
      "To: ops@example.com\r\n"
      "reply-to: Team <team@example.com>\r\n"
      "\r\n"
      "body\r\n",
      "Subject: s\r\n"
      "From: Sentry <acct@163.com>\r\n"
      "To: ops@example.com\r\n"
      "reply-to: Team <team@example.com>\r\n"
      "\r\n"
      "body\r\n" },
    { "add_reply_to = 0", &g_all, 0,
      "From: Sentry <noreply@sentry.local>\r\n\r\nbody\r\n",
      "From: Sentry <acct@163.com>\r\n\r\nbody\r\n" },
    { "folded From: folding kept, Reply-To unfolded", &g_all, 1,
      "FROM: \"Grafana Alerts\"\r\n"
      "\t<alerts@grafana.local>\r\n"
      "Subject: x\r\n"
      "\r\n"
      "b\r\n",
      "FROM: \"Grafana Alerts\"\r\n"
      "\t<acct@163.com>\r\n"
      "Reply-To: \"Grafana Alerts\"\t<alerts@grafana.local>\r\n"
      "Subject: x\r\n"
      "\r\n"
      "b\r\n" },
    { "several addresses, quoted names with commas and <", &g_all, 0,
      "From: \"Doe, John <boss>\" <john@a.example>, jane@b.example,\r\n"
      " \"x\\\"y, <z@q>\" <weird@c.example> (comment, <not@this>)\r\n"
      "\r\n",
      "From: \"Doe, John <boss>\" <acct@163.com>, acct@163.com,\r\n"
      " \"x\\\"y, <z@q>\" <acct@163.com> (comment, <not@this>)\r\n"
      "\r\n" },
    { "bare address with comment", &g_all, 1,
      "From: cron@host.example (Cron Daemon)\r\n\r\n",
      "From: acct@163.com (Cron Daemon)\r\n"
      "Reply-To: cron@host.example (Cron Daemon)\r\n\r\n" },
    { "comment before, no space after the colon", &g_all, 0,
      "From:(Cron (nested) Daemon)cron@host.example\r\n\r\n",
      "From:(Cron (nested) Daemon)acct@163.com\r\n\r\n" },
    { "Sender, Return-Path, Resent-From, Resent-Sender", &g_rx, 1,
      "Return-Path: <bounce@sentry.local>\r\n"
      "Sender: robot@app.example\r\n"
      "From: Human <human@example.com>\r\n"
      "Resent-From: <noreply@sentry.local>\r\n"
      "Resent-Sender: Bot <bot@app.example>\r\n"
      "\r\n",
      "Return-Path: <acct@163.com>\r\n"
      "Sender: acct@163.com\r\n"
      "From: Human <human@example.com>\r\n"
      "Resent-From: <acct@163.com>\r\n"
      "Resent-Sender: Bot <acct@163.com>\r\n"
      "\r\n" },
    { "body From: lines untouched", &g_all, 0,
      "From: a@b.example\r\n"
      "\r\n"
      "From: x@y\r\n"
      "Sender: x@y\r\n"
      "\r\n"
      "From: z@w\r\n",
      "From: acct@163.com\r\n"
      "\r\n"
      "From: x@y\r\n"
      "Sender: x@y\r\n"
      "\r\n"
      "From: z@w\r\n" },
    { "header without From", &g_all, 1,
      "To: a@b.example\r\nSubject: From: x@y\r\n\r\nFrom: q@r\r\n",
      NULL },
    { "no body separator", &g_all, 1,
      "Subject: x\r\nFrom: App <app@x.example>\r\n",
      "Subject: x\r\nFrom: App <acct@163.com>\r\n"
      "Reply-To: App <app@x.example>\r\n" },
    { "no final line end", &g_all, 1,
      "From: app@x.example",
      "From: acct@163.com\r\nReply-To: app@x.example\r\n" },
    { "LF-only lines stay LF", &g_all, 1,
      "From: App <app@x.example>\nTo: t@x\n\nbody\r\n",
      "From: App <acct@163.com>\nReply-To: App <app@x.example>\nTo: t@x\n\nbody\r\n" },
    { "nothing matches", &g_hash, 1,
      "From: Someone <someone@example.com>\r\n\r\nb\r\n", NULL },
    { "result equals input", &g_all, 1,
      "From: Acct <acct@163.com>\r\nSender: acct@163.com\r\n\r\nb\r\n", NULL },
    { "texthash exact and @domain in one list", &g_hash, 1,
      "From: Sentry <noreply@sentry.local>, GitLab <gitlab@GitLab.local>, "
      "other@example.com\r\n\r\n",
      "From: Sentry <acct@163.com>, GitLab <git@163.com>, other@example.com\r\n"
      "Reply-To: Sentry <noreply@sentry.local>, GitLab <gitlab@GitLab.local>, "
      "other@example.com\r\n\r\n" },
    { "group syntax", &g_all, 0,
      "From: Undisclosed:;\r\nSender: Team: a@x.example, B <b@y.example>;\r\n\r\n",
      "From: Undisclosed:;\r\nSender: Team: acct@163.com, B <acct@163.com>;\r\n\r\n" },
    { "encoded words and UTF-8 pass through", &g_all, 1,
      "From: =?UTF-8?B?5byg5LiJ?= <zhang@app.example>\r\n"
      "Sender: 李四 <李四@例子.中国>\r\n"
      "\r\n",
      "From: =?UTF-8?B?5byg5LiJ?= <acct@163.com>\r\n"
      "Reply-To: =?UTF-8?B?5byg5LiJ?= <zhang@app.example>\r\n"
      "Sender: 李四 <acct@163.com>\r\n"
      "\r\n" },
    { "encoded word alone is not an address", &g_all, 1,
      "From: =?UTF-8?Q?a@b?=\r\n\r\n", NULL },
    { "empty and null paths", &g_all, 1,
      "Return-Path: <>\r\nFrom: \r\nSender:<  >\r\n\r\n", NULL },
    { "angle with spaces and route", &g_all, 0,
      "From: X < x@y.example >\r\nSender: <@relay.example:s@y.example>\r\n\r\n",
      "From: X < acct@163.com >\r\nSender: <@relay.example:acct@163.com>\r\n\r\n" },
    { "unterminated angle is left alone", &g_all, 1,
      "From: X <x@y.example\r\n\r\n", NULL },
    { "display name without quotes and a bare address", &g_all, 0,
      "From: Sentry noreply@sentry.local\r\n\r\n",
      "From: Sentry acct@163.com\r\n\r\n" },
    { "From-ish names are not From", &g_all, 1,
      "From x@y Mon Jan  1 00:00:00 2024\r\nX-From: a@b\r\nFromage: c@d\r\n"
      "From : Spaced <e@f.example>\r\n\r\n",
      "From x@y Mon Jan  1 00:00:00 2024\r\nX-From: a@b\r\nFromage: c@d\r\n"
      "From : Spaced <acct@163.com>\r\n"
      "Reply-To: Spaced <e@f.example>\r\n\r\n" },
    { "quoted local part and domain literal", &g_all, 0,
      "From: \"john doe\"@x.example, u@[IPv6:2001:db8::1]\r\n\r\n",
      "From: acct@163.com, acct@163.com\r\n\r\n" },
    { "Reply-To after a second From", &g_all, 1,
      "From: a@x.example\r\nFrom: b@x.example\r\n\r\n",
      "From: acct@163.com\r\nReply-To: a@x.example\r\nFrom: acct@163.com\r\n\r\n" },
    { "empty header section", &g_all, 1, "\r\nFrom: a@b\r\n", NULL },
    { "address over 998 octets is not looked up", &g_all, 1,
      "From: <" LONG_LOCAL "@x.example>\r\n\r\n", NULL },
};

static void run_case(const struct hcase *c)
{
    char *out = (char *)0x1;
    size_t outlen = 12345;
    size_t inlen = strlen(c->in);
    int rc = rewrite_header_senders(*c->m, c->reply_to, c->in, inlen, &out, &outlen);
    if (!c->want) {
        if (rc != 0)
            fail_msg("%s: want 0, got %d", c->name, rc);
        if (out != (char *)0x1 || outlen != 12345)
            fail_msg("%s: out touched", c->name);
        return;
    }
    if (rc != 1)
        fail_msg("%s: want 1, got %d", c->name, rc);
    size_t wl = strlen(c->want);
    if (outlen != wl || memcmp(out, c->want, wl) != 0)
        fail_msg("%s:\n--- got (%zu)\n%.*s\n--- want (%zu)\n%s", c->name, outlen,
                 (int)outlen, out, wl, c->want);
    free(out);
}

static void test_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(hv); i++)
        run_case(&hv[i]);
}

/* The body is copied byte for byte, NULs and bare CRs included. */
static void test_binary_body(void **state)
{
    (void)state;
    static const char in[] = "From: a@x.example\r\n\r\n\0From: q@r\r\x01\xff\r\n";
    static const char want[] = "From: acct@163.com\r\n\r\n\0From: q@r\r\x01\xff\r\n";
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(rewrite_header_senders(g_all, 0, in, sizeof in - 1, &out,
                                            &outlen), 1);
    assert_int_equal(outlen, sizeof want - 1);
    assert_memory_equal(out, want, outlen);
    free(out);
    assert_int_equal(rewrite_header_senders(g_all, 1, in, 0, &out, &outlen), 0);
    assert_int_equal(rewrite_header_senders(NULL, 1, in, sizeof in - 1, &out,
                                            &outlen), 0);
}

/* The _to variants: every sender address becomes the account, exactly as
 * the map /.*\/ account would make it (same bytes, same Reply-To). */
static void test_to_account(void **state)
{
    (void)state;
    static const char in[] =
        "From: \"Sentry\" <noreply@sentry.local>\r\n"
        "Sender: bot@sentry.local\r\n"
        "To: ops@example.com\r\n"
        "\r\nFrom: not a header\r\n";
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    assert_int_equal(rewrite_header_senders_to("acct@163.com", 1, in, sizeof in - 1, &a, &al), 1);
    assert_int_equal(rewrite_header_senders(g_all, 1, in, sizeof in - 1, &b, &bl), 1);
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    static const char want[] =
        "From: \"Sentry\" <acct@163.com>\r\n"
        "Reply-To: \"Sentry\" <noreply@sentry.local>\r\n"
        "Sender: acct@163.com\r\n"
        "To: ops@example.com\r\n"
        "\r\nFrom: not a header\r\n";
    assert_int_equal(al, sizeof want - 1);
    assert_memory_equal(a, want, al);
    free(a);
    free(b);

    /* nothing to change, or an account that could break a header */
    static const char same[] = "From: acct@163.com\r\n\r\n";
    char *out = (char *)0x1;
    size_t outlen = 7;
    assert_int_equal(rewrite_header_senders_to("acct@163.com", 1, same, sizeof same - 1,
                                               &out, &outlen), 0);
    assert_int_equal(rewrite_header_senders_to("a@b>\r\nBcc: x@y", 1, in, sizeof in - 1,
                                               &out, &outlen), 0);
    assert_int_equal(rewrite_header_senders_to(NULL, 1, in, sizeof in - 1, &out, &outlen), 0);
    assert_true(out == (char *)0x1 && outlen == 7);

    char *e = rewrite_envelope_sender_to("acct@163.com", "noreply@sentry.local");
    assert_string_equal(e, "acct@163.com");
    free(e);
    assert_null(rewrite_envelope_sender_to("acct@163.com", "acct@163.com"));
    assert_null(rewrite_envelope_sender_to("acct@163.com", ""));     /* null sender */
    assert_null(rewrite_envelope_sender_to("<a@b>", "x@y"));
    assert_null(rewrite_envelope_sender_to(NULL, "x@y"));
}

/* A From: line much longer than any fixed buffer; the unfolded Reply-To
 * would pass 998 octets, so it keeps the original folding. */
static void test_long_header(void **state)
{
    (void)state;
    size_t n = 3000;
    size_t cap = n * 40 + 200;
    char *in = malloc(cap), *want = malloc(cap * 2);
    assert_non_null(in);
    assert_non_null(want);
    char *p = in, *q = want;
    p += sprintf(p, "From: ");
    q += sprintf(q, "From: ");
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "%su%zu@x.example", i ? ",\r\n " : "", i);
        q += sprintf(q, "%sacct@163.com", i ? ",\r\n " : "");
    }
    p += sprintf(p, "\r\n\r\nbody\r\n");
    q += sprintf(q, "\r\nReply-To: ");
    memcpy(q, in + 6, (size_t)(p - in) - 6 - 10);
    q += (size_t)(p - in) - 6 - 10;
    q += sprintf(q, "\r\n\r\nbody\r\n");
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(rewrite_header_senders(g_all, 1, in, (size_t)(p - in), &out,
                                            &outlen), 1);
    assert_int_equal(outlen, (size_t)(q - want));
    assert_memory_equal(out, want, outlen);
    free(out);

    /* one line of 100 kB with a single address */
    size_t big = 100000;
    p = in = realloc(in, big + 100);
    assert_non_null(in);
    p += sprintf(p, "From: \"");
    memset(p, 'n', big);
    p += big;
    p += sprintf(p, "\" <a@x.example>\r\n\r\n");
    assert_int_equal(rewrite_header_senders(g_all, 0, in, (size_t)(p - in), &out,
                                            &outlen), 1);
    assert_int_equal(outlen, (size_t)(p - in) - strlen("a@x.example") +
                     strlen("acct@163.com"));
    assert_memory_equal(out + outlen - 18, "<acct@163.com>\r\n\r\n", 18);
    free(out);
    free(in);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_binary_body),
        cmocka_unit_test(test_long_header),
        cmocka_unit_test(test_to_account),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

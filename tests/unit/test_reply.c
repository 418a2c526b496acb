/* Unit tests for the SMTP server's reply table: every entry well formed,
 * the one formatting function (arguments, continuation, truncation), and
 * docs/smtp.md listing exactly the replies the table holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

static size_t count_args(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "%s")) != NULL; p += 2)
        n++;
    return n;
}

static void test_table_is_well_formed(void **state)
{
    (void)state;
    assert_null(reply_get(REPLY_NONE));
    assert_null(reply_get(REPLY_COUNT));
    assert_null(reply_get((enum reply_id)-1));
    for (int id = REPLY_NONE + 1; id < REPLY_COUNT; id++) {
        const struct reply_def *r = reply_get((enum reply_id)id);
        assert_non_null(r);
        if (!r->text || !r->dsn)
            fail_msg("reply %d has no text", id);
        if (r->code < 200 || r->code > 599)
            fail_msg("reply %d: code %d", id, r->code);
        /* enhanced status: class digit = first digit of the code; only
         * the greeting, HELO/EHLO and 354 go without (RFC 2034) */
        if (r->dsn[0]) {
            int a, b, c, n = 0;
            if (sscanf(r->dsn, "%d.%d.%d%n", &a, &b, &c, &n) != 3 ||
                n != (int)strlen(r->dsn) || a != r->code / 100)
                fail_msg("reply %d: enhanced status \"%s\" for %d", id, r->dsn, r->code);
        } else if (r->code != 220 && r->code != 354 && r->code != 334 && id != REPLY_HELLO) {
            fail_msg("reply %d (%d) lacks an enhanced status code", id, r->code);
        }
        /* only "%s" placeholders, and a doc name for each */
        size_t nargs = count_args(r->text);
        assert_true(nargs <= REPLY_ARGS_MAX);
        for (const char *p = r->text; (p = strchr(p, '%')) != NULL; p += 2)
            if (p[1] != 's')
                fail_msg("reply %d: stray %% in \"%s\"", id, r->text);
        for (size_t i = 0; i < REPLY_ARGS_MAX; i++)
            if ((i < nargs) != (r->doc[i] != NULL))
                fail_msg("reply %d: %zu arguments, doc names do not match", id, nargs);
        for (const char *p = r->text; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                fail_msg("reply %d: control or 8-bit byte in the text", id);
        /* the error count follows the class: every 5xx, nothing else */
        if (((r->flags & REPLY_F_ERROR) != 0) != (r->code >= 500))
            fail_msg("reply %d (%d): REPLY_F_ERROR does not follow the class", id, r->code);
    }
}

static void test_no_reply_twice(void **state)
{
    (void)state;
    /* one entry per reply: two ids with the same line would drift apart */
    for (int i = REPLY_NONE + 1; i < REPLY_COUNT; i++)
        for (int j = i + 1; j < REPLY_COUNT; j++) {
            const struct reply_def *a = reply_get((enum reply_id)i);
            const struct reply_def *b = reply_get((enum reply_id)j);
            if (a->code == b->code && strcmp(a->dsn, b->dsn) == 0 &&
                strcmp(a->text, b->text) == 0)
                fail_msg("replies %d and %d are the same", i, j);
        }
}

static void test_format(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(reply_format(out, sizeof out, REPLY_OK, 0, NULL, NULL), 12);
    assert_string_equal(out, "250 2.0.0 Ok");
    reply_format(out, sizeof out, REPLY_QUEUED, 0, "4F2A1C3B9E", NULL);
    assert_string_equal(out, "250 2.0.0 Ok: queued as 4F2A1C3B9E");
    reply_format(out, sizeof out, REPLY_TOO_MANY_FROM, 0, "mx.example", "192.0.2.1");
    assert_string_equal(out,
                        "421 4.7.0 mx.example Error: too many connections from 192.0.2.1");
    reply_format(out, sizeof out, REPLY_RELAY_DENIED, 0, "a@b.example", NULL);
    assert_string_equal(out, "554 5.7.1 <a@b.example>: Relay access denied");
    /* greeting and EHLO lines: no enhanced status; '-' while more follow */
    reply_format(out, sizeof out, REPLY_GREETING, 0, "mx.example ESMTP", NULL);
    assert_string_equal(out, "220 mx.example ESMTP");
    reply_format(out, sizeof out, REPLY_HELLO, 1, "mx.example", NULL);
    assert_string_equal(out, "250-mx.example");
    reply_format(out, sizeof out, REPLY_HELLO, 0, "SMTPUTF8", NULL);
    assert_string_equal(out, "250 SMTPUTF8");
    /* a missing argument is empty; a "%" in an argument is not a format */
    reply_format(out, sizeof out, REPLY_QUEUED, 0, NULL, NULL);
    assert_string_equal(out, "250 2.0.0 Ok: queued as ");
    reply_format(out, sizeof out, REPLY_RELAY_DENIED, 0, "%s%n@x", NULL);
    assert_string_equal(out, "554 5.7.1 <%s%n@x>: Relay access denied");
    /* nothing for REPLY_NONE or an unknown id */
    assert_int_equal(reply_format(out, sizeof out, REPLY_NONE, 0, "x", NULL), 0);
    assert_string_equal(out, "");
    assert_int_equal(reply_format(out, sizeof out, REPLY_COUNT, 0, "x", NULL), 0);
}

static void test_format_truncates(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t len = 0; len < 40; len++) {
        char *out = malloc(len ? len : 1);   /* exact size: ASan sees overruns */
        assert_non_null(out);
        size_t n = reply_format(out, len, REPLY_RELAY_DENIED, 0, big, NULL);
        if (len == 0) {
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(n, len - 1);
            assert_int_equal(strlen(out), n);
            assert_memory_equal(out, "554 5.7.1 <aaaa", n < 15 ? n : 15);
        }
        free(out);
    }
    char out[64];
    assert_int_equal(reply_format(out, sizeof out, REPLY_RELAY_DENIED, 0, big, NULL), 63);
}

/* ---------- docs/smtp.md ---------- */

static char *read_doc(void)
{
    static const char *const paths[] = { "docs/smtp.md", "../docs/smtp.md",
                                         "../../docs/smtp.md" };
    FILE *f = NULL;
    for (size_t i = 0; !f && i < sizeof paths / sizeof paths[0]; i++)
        f = fopen(paths[i], "r");
    if (!f)
        return NULL;
    char *doc = NULL;
    size_t len = 0;
    ssize_t n = getdelim(&doc, &len, '\0', f);
    fclose(f);
    assert_true(n > 0);
    return doc;
}

/* The table of the "## Replies" section. */
static const char *replies_section(const char *doc, const char **end)
{
    const char *s = strstr(doc, "\n## Replies\n");
    assert_non_null(s);
    const char *e = strstr(s + 1, "\n## ");
    *end = e ? e : s + strlen(s);
    return s;
}

static void render_doc(enum reply_id id, char *out, size_t outlen)
{
    const struct reply_def *r = reply_get(id);
    reply_format(out, outlen, id, 0, r->doc[0], r->doc[1]);
}

static void test_docs_list_every_reply(void **state)
{
    (void)state;
    char *doc = read_doc();
    if (!doc) {
        skip();
        return;
    }
    const char *end, *sec = replies_section(doc, &end);
    size_t seclen = (size_t)(end - sec);

    /* every reply of the table is in the docs' table */
    for (int id = REPLY_NONE + 1; id < REPLY_COUNT; id++) {
        char line[300], quoted[310];
        render_doc((enum reply_id)id, line, sizeof line);
        snprintf(quoted, sizeof quoted, "`%s`", line);
        if (!memmem(sec, seclen, quoted, strlen(quoted)))
            fail_msg("docs/smtp.md (## Replies) lacks %s", quoted);
    }

    /* and every reply the docs' table shows is in the table */
    size_t checked = 0;
    for (const char *p = sec; p < end; p++) {
        if (*p != '`' || end - p < 5 || !isdigit((unsigned char)p[1]) ||
            !isdigit((unsigned char)p[2]) || !isdigit((unsigned char)p[3]) || p[4] != ' ')
            continue;
        const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));
        assert_non_null(q);
        size_t n = (size_t)(q - p - 1);
        int found = 0;
        for (int id = REPLY_NONE + 1; id < REPLY_COUNT && !found; id++) {
            char line[300];
            render_doc((enum reply_id)id, line, sizeof line);
            found = strlen(line) == n && memcmp(line, p + 1, n) == 0;
        }
        if (!found)
            fail_msg("docs/smtp.md shows a reply the server never sends: `%.*s`", (int)n,
                     p + 1);
        checked++;
        p = q;
    }
    assert_true(checked >= REPLY_COUNT - 1);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_well_formed),
        cmocka_unit_test(test_no_reply_twice),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_truncates),
        cmocka_unit_test(test_docs_list_every_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for queue/quota: the relayhost_rate_limits table, the sliding
 * window arithmetic (room now, or the next slot), reservations, pruning,
 * the line of waiting messages (arrival order), the state file codec and
 * the deferral reason. Times in ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/quota.h"

#define S 1000LL
#define MIN (60 * S)
#define H (3600 * S)
#define D (86400 * S)
#define NOW 1700000000000LL
#define Q "6553F10000000001"        /* one queue id, for tests of one message */

/* The queue id of the i-th message to arrive (ids sort by arrival). */
static const char *qid_of(int i, char buf[17])
{
    snprintf(buf, 17, "6553F1%010X", (unsigned)i);
    return buf;
}

static void test_window_parse(void **state)
{
    (void)state;
    struct quota_window w;
    static const struct { const char *s; long limit; long long len; } ok[] = {
        { "500/1d", 500, D }, { "60/1m", 60, MIN }, { "5/4s", 5, 4 * S },
        { "100/h", 100, H }, { "1/366d", 1, 366 * D }, { "100000/1s", 100000, S },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(quota_window_parse(ok[i].s, strlen(ok[i].s), &w), 0);
        assert_int_equal(w.limit, ok[i].limit);
        assert_int_equal(w.len_ms, ok[i].len);
        assert_string_equal(w.text, ok[i].s);
    }
    static const char *bad[] = {
        "", "500", "500/", "/1d", "0/1d", "500/0d", "500/1y", "500/1dd", "500/367d",
        "100001/1d", "-1/1d", "5/4 s", "a/1d", "5/4S", "99999999999999999999/1d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(quota_window_parse(bad[i], strlen(bad[i]), &w), -1);
}

static void test_conf_parse(void **state)
{
    (void)state;
    char err[512];
    const char *text = "# upstream accounts\n"
                       "[smtp.163.com]:465 500/1d 60/1m\n"
                       "\n"
                       "alerts@company.com@[smtp.office365.com]:587 10000/1d\n"
                       "[mx.example.com]:25   5/4s\n"
                       "   10/1h\n"           /* continues the line before */
                       "gmail.com 100/1h";     /* no final newline */
    struct quota_conf *c = quota_conf_parse(text, strlen(text), "/etc/q", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->n, 4);
    const struct quota_rule *r = quota_conf_find(c, "[SMTP.163.com]:465");
    assert_non_null(r);
    assert_int_equal(r->nw, 2);
    assert_int_equal(r->w[0].limit, 500);
    assert_int_equal(r->w[1].len_ms, MIN);
    r = quota_conf_find(c, "alerts@company.com@[smtp.office365.com]:587");
    assert_non_null(r);
    assert_int_equal(r->w[0].limit, 10000);
    r = quota_conf_find(c, "[mx.example.com]:25");
    assert_non_null(r);
    assert_int_equal(r->nw, 2);
    assert_int_equal(r->w[1].len_ms, H);
    assert_non_null(quota_conf_find(c, "gmail.com"));
    assert_null(quota_conf_find(c, "[smtp.163.com]"));
    quota_conf_free(c);

    static const struct { const char *text, *want; } bad[] = {
        { "[a]:25 500/1d\n[b]:25 5/1y\n", "/etc/q:2: \"5/1y\" is not a quota" },
        { "[a]:25\n", "/etc/q:1: [a]:25 has no quota" },
        { "[a]:25 1/1s\n[A]:25 2/1s\n", "/etc/q:2: [A]:25 is listed twice" },
        { "  1/1s\n", "/etc/q:1: a line starting with white space" },
        { "[a]:25 1/1s 1/2s 1/3s 1/4s 1/5s\n", "/etc/q:1: more than 4 windows" },
        { "# c\n\nk\xc3\xa9 1/1s\n", "/etc/q:3: the key must be printable ASCII" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        c = quota_conf_parse(bad[i].text, strlen(bad[i].text), "/etc/q", err, sizeof err);
        assert_null(c);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("%zu: got \"%s\", want \"%s...\"", i, err, bad[i].want);
    }
    c = quota_conf_parse("", 0, "/etc/q", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->n, 0);
    quota_conf_free(c);
}

static void test_window_slot(void **state)
{
    (void)state;
    struct quota_window w = { 3, 10 * S, "3/10s" };
    long long t[] = { NOW - 12 * S, NOW - 9 * S, NOW - 5 * S, NOW - 1 * S };
    /* in the window (t > now - 10s): the last three: full; the oldest of
     * them leaves it 10s after it was sent */
    assert_int_equal(quota_window_slot(t, 4, 0, &w, NOW), NOW + 1 * S);
    /* one second later that send is exactly 10s old: out, room */
    assert_int_equal(quota_window_slot(t, 4, 0, &w, NOW + 1 * S), 0);
    /* two left in the window: room for one */
    assert_int_equal(quota_window_slot(t + 1, 1, 0, &w, NOW), 0);
    assert_int_equal(quota_window_slot(t, 3, 0, &w, NOW), 0);
    /* a reservation counts: two sends + one on its way = full; the
     * oldest send in the window frees the place */
    assert_int_equal(quota_window_slot(t, 3, 1, &w, NOW), NOW + 1 * S);
    /* two on their way with two sends: the second send must leave too */
    assert_int_equal(quota_window_slot(t, 3, 2, &w, NOW), NOW + 5 * S);
    /* reservations alone fill it: from now */
    assert_int_equal(quota_window_slot(NULL, 0, 3, &w, NOW), NOW + 10 * S);
    /* nothing sent */
    assert_int_equal(quota_window_slot(NULL, 0, 0, &w, NOW), 0);
    /* more in the window than the limit (the limit was lowered) */
    struct quota_window w1 = { 1, 10 * S, "1/10s" };
    assert_int_equal(quota_window_slot(t, 4, 0, &w1, NOW), NOW + 9 * S);
}

static void test_reserve_commit_release(void **state)
{
    (void)state;
    char err[256];
    const char *text = "[up]:25 2/10s 3/1m\n";
    struct quota_conf *c = quota_conf_parse(text, strlen(text), "q", err, sizeof err);
    assert_non_null(c);
    const struct quota_rule *r = &c->v[0];
    struct quota_state *s = quota_state_new();
    long long slot = 0;
    const struct quota_window *w = NULL;
    assert_int_equal(quota_reserve(s, r, Q, NOW, &slot, &w), 1);
    quota_state_prune(s, c, NOW);      /* a key with a reservation and no send */
    assert_int_equal(quota_reserve(s, r, Q, NOW, &slot, &w), 1);
    /* two on their way: 2/10s full, from now */
    assert_int_equal(quota_reserve(s, r, Q, NOW, &slot, &w), 0);
    assert_int_equal(slot, NOW + 10 * S);
    assert_string_equal(w->text, "2/10s");
    quota_release(s, r);               /* the first did not go */
    quota_commit(s, r, NOW + 1 * S);   /* the second was accepted */
    assert_int_equal(quota_sends(s, "[UP]:25"), 1);
    assert_int_equal(quota_reserve(s, r, Q, NOW + 2 * S, &slot, &w), 1);
    quota_commit(s, r, NOW + 2 * S);
    assert_int_equal(quota_reserve(s, r, Q, NOW + 3 * S, &slot, &w), 0);
    assert_int_equal(slot, NOW + 11 * S);
    /* after it: room in 2/10s; a third send fills 3/1m */
    assert_int_equal(quota_reserve(s, r, Q, NOW + 11 * S, &slot, &w), 1);
    quota_commit(s, r, NOW + 11 * S);
    assert_int_equal(quota_reserve(s, r, Q, NOW + 30 * S, &slot, &w), 0);
    assert_string_equal(w->text, "3/1m");
    assert_int_equal(slot, NOW + 1 * S + MIN);
    /* both full (2/10s until NOW+12s): the later slot decides */
    assert_int_equal(quota_reserve(s, r, Q, NOW + 11 * S + 500, &slot, &w), 0);
    assert_int_equal(slot, NOW + 1 * S + MIN);
    assert_string_equal(w->text, "3/1m");

    /* prune: sends older than the longest window go */
    quota_state_prune(s, c, NOW + 62 * S);
    assert_int_equal(quota_sends(s, "[up]:25"), 1);
    quota_state_prune(s, c, NOW + 10 * MIN);
    assert_int_equal(quota_sends(s, "[up]:25"), 0);
    /* a key without a rule is dropped */
    assert_int_equal(quota_reserve(s, r, Q, NOW, &slot, &w), 1);
    quota_commit(s, r, NOW);
    quota_state_prune(s, NULL, NOW);
    assert_int_equal(quota_sends(s, "[up]:25"), 0);
    quota_state_free(s);
    quota_conf_free(c);
}

/* The flaky e2e order, at the pure level: 5/8s full with sends a few ms
 * apart; the waiters are woken together and tried one after the other a
 * ms apart. The one tried after a second place freed must not take it
 * ahead of the older ones refused a ms before. */
static void test_line_arrival_order(void **state)
{
    (void)state;
    char err[256], q[17];
    const char *text = "[up]:25 5/8s\n";
    struct quota_conf *c = quota_conf_parse(text, strlen(text), "q", err, sizeof err);
    assert_non_null(c);
    const struct quota_rule *r = &c->v[0];
    struct quota_state *s = quota_state_new();
    long long slot = 0;
    const struct quota_window *w = NULL;
    for (int i = 0; i < 5; i++) {                /* msg 0..4 sent at NOW + 0, 3 .. 12 ms */
        assert_int_equal(quota_reserve(s, r, qid_of(i, q), NOW, &slot, &w), 1);
        quota_commit(s, r, NOW + 3 * i);
    }
    /* msg 5..11 wait; each slot counts the older waiters as gone first */
    static const long long want[] = { NOW + 8 * S, NOW + 8 * S + 3, NOW + 8 * S + 6,
                                      NOW + 8 * S + 9, NOW + 8 * S + 12,
                                      NOW + 100 + 8 * S, NOW + 100 + 8 * S };
    for (int i = 5; i < 12; i++) {
        assert_int_equal(quota_reserve(s, r, qid_of(i, q), NOW + 100, &slot, &w), 0);
        assert_non_null(w);
        assert_int_equal(slot, want[i - 5]);
    }
    assert_int_equal(quota_waiting(s, "[up]:25"), 7);
    assert_string_equal(quota_first_waiter(s, "[up]:25", NOW + 100), qid_of(5, q));
    /* all woken at the first slot, tried a ms apart */
    long long t = NOW + 8 * S + 1;
    assert_int_equal(quota_reserve(s, r, qid_of(5, q), t, &slot, &w), 1);
    assert_int_equal(quota_reserve(s, r, qid_of(6, q), t + 1, &slot, &w), 0);
    assert_int_equal(slot, NOW + 8 * S + 3);
    assert_int_equal(quota_reserve(s, r, qid_of(7, q), t + 2, &slot, &w), 0);
    assert_int_equal(slot, NOW + 8 * S + 6);
    /* msg 8 comes after the second send left the window: the place is
     * msg 6's, and msg 8's slot is counted after 6 and 7 */
    assert_int_equal(quota_reserve(s, r, qid_of(8, q), t + 4, &slot, &w), 0);
    assert_int_equal(slot, NOW + 8 * S + 9);
    assert_int_equal(quota_reserve(s, r, qid_of(6, q), t + 4, &slot, &w), 1);
    assert_int_equal(quota_reserve(s, r, qid_of(7, q), NOW + 8 * S + 6, &slot, &w), 1);
    assert_int_equal(quota_reserve(s, r, qid_of(8, q), NOW + 8 * S + 9, &slot, &w), 1);
    /* a new message (the youngest) does not pass the waiters either */
    assert_int_equal(quota_reserve(s, r, qid_of(12, q), NOW + 8 * S + 13, &slot, &w), 0);
    assert_int_equal(quota_reserve(s, r, qid_of(9, q), NOW + 8 * S + 13, &slot, &w), 1);
    assert_int_equal(quota_waiting(s, "[up]:25"), 3);   /* 10, 11, 12 */
    quota_state_free(s);
    quota_conf_free(c);
}

/* Room, but an older waiter has not come back yet (a place given back
 * early): the younger waits a step, and is told whom to wake. A waiter
 * that left the queue, or never came back, stops holding the key. */
static void test_line_forget_and_age(void **state)
{
    (void)state;
    char err[256], q1[17], q2[17], q3[17];
    const char *text = "[up]:25 2/10s\n";
    struct quota_conf *c = quota_conf_parse(text, strlen(text), "q", err, sizeof err);
    assert_non_null(c);
    const struct quota_rule *r = &c->v[0];
    struct quota_state *s = quota_state_new();
    long long slot = 0;
    const struct quota_window *w = NULL;
    qid_of(1, q1);
    qid_of(2, q2);
    qid_of(3, q3);
    assert_int_equal(quota_reserve(s, r, qid_of(0, q3), NOW, &slot, &w), 1);
    assert_int_equal(quota_reserve(s, r, q3, NOW, &slot, &w), 1);
    assert_int_equal(quota_reserve(s, r, q1, NOW, &slot, &w), 0);
    assert_int_equal(slot, NOW + 10 * S);
    quota_release(s, r);                          /* msg 0 did not go */
    /* the place is msg 1's (the caller wakes it): msg 2 comes after */
    assert_string_equal(quota_first_waiter(s, "[up]:25", NOW + S), q1);
    assert_int_equal(quota_reserve(s, r, q2, NOW + S, &slot, &w), 0);
    assert_non_null(w);
    assert_int_equal(slot, NOW + S + 10 * S);
    quota_release(s, r);                          /* nor did the other */
    assert_int_equal(quota_reserve(s, r, q2, NOW + S, &slot, &w), 0);
    assert_null(w);
    assert_int_equal(slot, NOW + S + QUOTA_WAIT_STEP_MS);
    char why[160];
    setenv("TZ", "UTC", 1);
    tzset();
    quota_reason(why, sizeof why, r, w, slot, NOW + S);
    assert_string_equal(why, "upstream quota 2/10s: older messages go first; "
                             "next try at 22:13:22");
    /* msg 1 deleted: msg 2 is first */
    quota_forget(s, q1);
    assert_string_equal(quota_first_waiter(s, "[up]:25", NOW + S), q2);
    assert_int_equal(quota_reserve(s, r, q2, NOW + 2 * S, &slot, &w), 1);
    quota_commit(s, r, NOW + 2 * S);
    assert_int_equal(quota_reserve(s, r, qid_of(0, q3), NOW + 2 * S, &slot, &w), 1);
    quota_commit(s, r, NOW + 2 * S);
    qid_of(3, q3);
    /* msg 3 waits for NOW + 12s and never comes back (held by a path that
     * did not say): after its grace, a younger one goes */
    assert_int_equal(quota_reserve(s, r, q3, NOW + 3 * S, &slot, &w), 0);
    assert_int_equal(slot, NOW + 12 * S);
    char q4[17];
    qid_of(4, q4);
    assert_int_equal(quota_reserve(s, r, q4, NOW + 12 * S, &slot, &w), 0);
    assert_null(w);
    assert_int_equal(quota_reserve(s, r, q4, NOW + 12 * S + QUOTA_WAIT_GRACE_MS, &slot, &w), 0);
    assert_int_equal(quota_reserve(s, r, q4, NOW + 12 * S + QUOTA_WAIT_GRACE_MS + 1, &slot, &w),
                     1);
    assert_null(quota_first_waiter(s, "[up]:25", NOW + 13 * S + QUOTA_WAIT_GRACE_MS));
    /* back late, msg 3 has lost its turn, not its place in the line */
    assert_int_equal(quota_reserve(s, r, q3, NOW + 13 * S + QUOTA_WAIT_GRACE_MS, &slot, &w), 1);
    /* the line is not written down, and a key without a rule has none */
    char q5[17];
    assert_int_equal(quota_reserve(s, r, qid_of(5, q5), NOW + 13 * S + QUOTA_WAIT_GRACE_MS,
                                   &slot, &w), 0);
    assert_int_equal(quota_waiting(s, "[up]:25"), 1);
    size_t len = 0;
    char *buf = quota_state_encode(s, &len);
    assert_null(strstr(buf, q5));
    free(buf);
    quota_state_prune(s, NULL, NOW + 14 * S + QUOTA_WAIT_GRACE_MS);
    assert_int_equal(quota_waiting(s, "[up]:25"), 0);
    quota_state_free(s);
    quota_conf_free(c);
}

static void test_codec(void **state)
{
    (void)state;
    char err[256];
    const char *text = "[a]:25 5/1h\nu@[b]:465 3/1d\n";
    struct quota_conf *c = quota_conf_parse(text, strlen(text), "q", err, sizeof err);
    assert_non_null(c);
    struct quota_state *s = quota_state_new();
    long long slot;
    const struct quota_window *w;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(quota_reserve(s, &c->v[0], Q, NOW, &slot, &w), 1);
        quota_commit(s, &c->v[0], NOW + i * S);
    }
    assert_int_equal(quota_reserve(s, &c->v[1], Q, NOW, &slot, &w), 1);
    quota_commit(s, &c->v[1], NOW - 5);
    assert_int_equal(quota_reserve(s, &c->v[1], Q, NOW, &slot, &w), 1);   /* stays reserved */
    size_t len = 0;
    char *buf = quota_state_encode(s, &len);
    assert_non_null(buf);
    const char *want = "POSTERN-QUOTA 1\nkey [a]:25\nt 1700000000000\nt 1700000001000\n"
                       "t 1700000002000\nkey u@[b]:465\nt 1699999999995\nEND\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);

    struct quota_state *s2 = quota_state_new();
    assert_int_equal(quota_state_decode(s2, buf, len, NOW + H, err, sizeof err), 0);
    assert_int_equal(quota_sends(s2, "[a]:25"), 3);
    assert_int_equal(quota_sends(s2, "u@[b]:465"), 1);
    /* the windows are as full after the restart */
    assert_int_equal(quota_reserve(s2, &c->v[1], Q, NOW, &slot, &w), 1);
    assert_int_equal(quota_reserve(s2, &c->v[1], Q, NOW, &slot, &w), 1);
    assert_int_equal(quota_reserve(s2, &c->v[1], Q, NOW, &slot, &w), 0);
    assert_int_equal(slot, NOW - 5 + D);
    /* round trip of the decoded state: the same bytes */
    quota_state_free(s2);
    s2 = quota_state_new();
    assert_int_equal(quota_state_decode(s2, buf, len, NOW + H, err, sizeof err), 0);
    size_t len2 = 0;
    char *buf2 = quota_state_encode(s2, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);

    /* no proper prefix decodes; a failure leaves the state empty */
    for (size_t n = 0; n < len; n++) {
        if (quota_state_decode(s2, buf, n, NOW, err, sizeof err) == 0)
            fail_msg("prefix of %zu bytes decoded", n);
        assert_int_equal(quota_sends(s2, "[a]:25"), 0);
    }
    static const char *bad[] = {
        "POSTERN-QUOTA 2\nEND\n",
        "POSTERN-QUOTA 1\nt 5\nEND\n",                 /* a time before any key */
        "POSTERN-QUOTA 1\nkey [a]:25\nt 5x\nEND\n",
        "POSTERN-QUOTA 1\nkey [a]:25\nkey [A]:25\nEND\n",
        "POSTERN-QUOTA 1\nkey a b\nEND\n",
        "POSTERN-QUOTA 1\nEND\nkey [a]:25\n",
        "POSTERN-QUOTA 1\nwhat\nEND\n",
        "POSTERN-QUOTA 1\nkey [a]:25\nt 123456789012345678901\nEND\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (quota_state_decode(s2, bad[i], strlen(bad[i]), NOW, err, sizeof err) == 0)
            fail_msg("decoded: %s", bad[i]);
    /* a time in the future (the clock went back) counts from now */
    const char *future = "POSTERN-QUOTA 1\nkey [a]:25\nt 1800000000000\nEND\n";
    assert_int_equal(quota_state_decode(s2, future, strlen(future), NOW, err, sizeof err), 0);
    char *b3 = quota_state_encode(s2, &len2);
    assert_non_null(strstr(b3, "t 1700000000000\n"));
    free(b3);
    free(buf);
    quota_state_free(s);
    quota_state_free(s2);
    quota_conf_free(c);
}

static void test_reason(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    char buf[160];
    struct quota_window day = { 500, D, "500/1d" }, sec = { 5, 4 * S, "5/4s" };
    /* 2023-11-14 22:13:20 UTC is NOW */
    quota_reason(buf, sizeof buf, NULL, &day, NOW + 3 * H + 46 * MIN + 40 * S, NOW);
    assert_string_equal(buf, "upstream quota 500/1d reached; next slot at 02:00");
    quota_reason(buf, sizeof buf, NULL, &sec, NOW + 3 * S + 999, NOW);
    assert_string_equal(buf, "upstream quota 5/4s reached; next slot at 22:13:23");
    struct quota_window week = { 1, 7 * D, "1/7d" };
    quota_reason(buf, sizeof buf, NULL, &week, NOW + 2 * D, NOW);
    assert_string_equal(buf, "upstream quota 1/7d reached; next slot at 2023-11-16 22:13");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_conf_parse),
        cmocka_unit_test(test_window_slot),
        cmocka_unit_test(test_reserve_commit_release),
        cmocka_unit_test(test_line_arrival_order),
        cmocka_unit_test(test_line_forget_and_age),
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

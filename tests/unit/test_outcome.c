/* Unit tests for queue/outcome: the decision after a delivery attempt,
 * table-driven. Times in ms; "now" is fixed, the message's age and the
 * queue_run_delay tick base are given relative to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "queue/outcome.h"

#define NOW 1700000000000LL
#define S 1000LL
#define MIN (60 * S)
#define H (3600 * S)
#define D (86400 * S)

/* max_lifetime, bounce_lifetime, delay_warning, min/max backoff, run_delay */
#define DEFAULTS { 5 * D, 5 * D, 0, 300 * S, 4000 * S, 300 * S }

struct row {
    const char *name;
    const char *state;          /* per recipient: P pending, S sent, D deferred, B bounced */
    const char *tried;          /* '1': tried in this attempt */
    int null_sender;
    long long age;              /* now - arrival */
    int attempts, warned, bounce_failed;
    long long base;             /* run_base - now */
    struct outcome_limits lim;
    /* the decision */
    enum outcome_action action;
    int expired;
    const char *expire, *bounce, *warn;     /* masks, '1' = set */
    long long next;             /* OUTCOME_RETRY: next - now */
};

static const struct row rows[] = {
    { "all sent: remove", "SS", "11", 0, 10 * S, 0, 0, 0, 0, DEFAULTS,
      OUTCOME_REMOVE, 0, "00", "00", "00", 0 },
    { "one deferred: back off minimal_backoff_time, on a tick", "SD", "11", 0, 10 * S, 0, 0, 0,
      0, DEFAULTS, OUTCOME_RETRY, 0, "00", "00", "00", 300 * S },
    { "bounced now: in the notification; nothing left", "SB", "11", 0, 10 * S, 0, 0, 0, 0,
      DEFAULTS, OUTCOME_REMOVE, 0, "00", "01", "00", 0 },
    { "bounced at an earlier attempt: not again", "BD", "01", 0, 10 * S, 1, 0, 0, 0, DEFAULTS,
      OUTCOME_RETRY, 0, "00", "00", "00", 600 * S },
    { "pending and deferred left: retry", "PDS", "011", 0, 10 * S, 0, 0, 0, 0, DEFAULTS,
      OUTCOME_RETRY, 0, "000", "000", "000", 300 * S },
    { "lifetime over: the rest given up and bounced", "SDPB", "1101", 0, 5 * D, 4, 0, 0, 0,
      DEFAULTS, OUTCOME_REMOVE, 1, "0110", "0111", "0000", 0 },
    { "1 ms before the lifetime: still retried", "D", "1", 0, 5 * D - 1, 4, 0, 0, 0, DEFAULTS,
      OUTCOME_RETRY, 0, "0", "0", "0", 4200 * S },
    { "lifetime 0: tried once", "D", "1", 0, 0, 0, 0, 0, 0, { 0, 5 * D, 0, 300 * S, 4000 * S,
      300 * S }, OUTCOME_REMOVE, 1, "1", "1", "0", 0 },
    { "null sender: bounce_queue_lifetime", "D", "1", 1, 2 * D, 3, 0, 0, 0,
      { 5 * D, 1 * D, 0, 300 * S, 4000 * S, 300 * S }, OUTCOME_REMOVE, 1, "1", "1", "0", 0 },
    { "other sender: maximal_queue_lifetime", "D", "1", 0, 2 * D, 3, 0, 0, 0,
      { 5 * D, 1 * D, 0, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 0, "0", "0", "0",
      2400 * S },
    { "nothing left to expire: no expiry", "SB", "10", 0, 6 * D, 9, 0, 0, 0, DEFAULTS,
      OUTCOME_REMOVE, 0, "00", "00", "00", 0 },
    { "delay warning due: the deferred", "DSDP", "1110", 0, 4 * H, 2, 0, 0, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 0, "0000", "0000",
      "1010", 1200 * S },
    { "delay warning not yet", "D", "1", 0, 4 * H - 1, 2, 0, 0, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 0, "0", "0", "0",
      1200 * S },
    { "delay warning sent before", "D", "1", 0, 5 * H, 2, 1, 0, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 0, "0", "0", "0",
      1200 * S },
    { "delay_warning_time 0: never", "D", "1", 0, 4 * D, 2, 0, 0, 0, DEFAULTS, OUTCOME_RETRY,
      0, "0", "0", "0", 1200 * S },
    { "expired: a bounce, no warning", "D", "1", 0, 5 * D, 2, 0, 0, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_REMOVE, 1, "1", "1", "0",
      0 },
    { "bounce not queued: stays, retried", "SB", "11", 0, 10 * S, 0, 0, 1, 0, DEFAULTS,
      OUTCOME_RETRY, 0, "00", "01", "00", 300 * S },
    { "bounce not queued: in the warning", "BDS", "111", 0, 5 * H, 1, 0, 1, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 0, "000", "100",
      "110", 600 * S },
    { "expiry without its bounce: retried, warned", "DP", "10", 0, 5 * D, 7, 0, 1, 0,
      { 5 * D, 5 * D, 4 * H, 300 * S, 4000 * S, 300 * S }, OUTCOME_RETRY, 1, "11", "11", "11",
      4200 * S },
    { "backoff doubles: 4th attempt", "D", "1", 0, H, 3, 0, 0, 0, DEFAULTS, OUTCOME_RETRY, 0,
      "0", "0", "0", 2400 * S },
    { "backoff capped at maximal_backoff_time", "D", "1", 0, H, 40, 0, 0, 0, DEFAULTS,
      OUTCOME_RETRY, 0, "0", "0", "0", 4200 * S },
    { "milliseconds: backoff 500ms, next 100ms tick", "D", "1", 0, 2 * S, 0, 0, 0, -30,
      { 10 * S, 10 * S, 0, 500, 1500, 100 }, OUTCOME_RETRY, 0, "0", "0", "0", 570 },
    { "milliseconds: doubled and capped", "D", "1", 0, 2 * S, 5, 0, 0, -30,
      { 10 * S, 10 * S, 0, 500, 1500, 100 }, OUTCOME_RETRY, 0, "0", "0", "0", 1570 },
    { "tick after the backoff", "D", "1", 0, 2 * S, 0, 0, 0, -100,
      { 10 * S, 10 * S, 0, 500, 1500, 1000 }, OUTCOME_RETRY, 0, "0", "0", "0", 900 },
    { "no recipients: remove", "", "", 0, 0, 0, 0, 0, 0, DEFAULTS, OUTCOME_REMOVE, 0, "", "",
      "", 0 },
};

static void mask_text(const unsigned char *m, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = m[i] ? '1' : '0';
    out[n] = '\0';
}

static void test_table(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const struct row *t = &rows[r];
        size_t n = strlen(t->state);
        enum rcpt_state st[8];
        unsigned char tried[8], expire[8], bounce[8], warn[8];
        char got[9];
        assert_true(n <= 8 && strlen(t->tried) == n);
        for (size_t i = 0; i < n; i++) {
            st[i] = t->state[i] == 'S' ? RCPT_SENT : t->state[i] == 'D' ? RCPT_DEFERRED
                  : t->state[i] == 'B' ? RCPT_BOUNCED : RCPT_PENDING;
            tried[i] = t->tried[i] == '1';
        }
        /* what the decider must overwrite */
        memset(expire, 7, sizeof expire);
        memset(bounce, 7, sizeof bounce);
        memset(warn, 7, sizeof warn);
        const struct outcome_in in = {
            .n = n, .state = st, .tried = tried, .null_sender = t->null_sender,
            .arrival = NOW - t->age, .attempts = t->attempts, .warned = t->warned,
            .bounce_failed = t->bounce_failed, .now = NOW, .run_base = NOW + t->base,
            .limits = t->lim,
        };
        struct outcome out = { .expire = expire, .bounce = bounce, .warn = warn };
        outcome_decide(&in, &out);
        if (out.action != t->action)
            fail_msg("%s: action %d, want %d", t->name, (int)out.action, (int)t->action);
        if (out.expired != t->expired)
            fail_msg("%s: expired %d, want %d", t->name, out.expired, t->expired);
        mask_text(expire, n, got);
        if (strcmp(got, t->expire) != 0)
            fail_msg("%s: expire %s, want %s", t->name, got, t->expire);
        mask_text(bounce, n, got);
        if (strcmp(got, t->bounce) != 0)
            fail_msg("%s: bounce %s, want %s", t->name, got, t->bounce);
        mask_text(warn, n, got);
        if (strcmp(got, t->warn) != 0)
            fail_msg("%s: warn %s, want %s", t->name, got, t->warn);
        size_t nb = 0, nw = 0;
        for (size_t i = 0; i < n; i++) {
            nb += t->bounce[i] == '1';
            nw += t->warn[i] == '1';
        }
        if (out.nbounce != nb || out.nwarn != nw)
            fail_msg("%s: %zu bounced, %zu warned", t->name, out.nbounce, out.nwarn);
        if (out.attempts != t->attempts + 1 || out.age != t->age)
            fail_msg("%s: attempts %d, age %lld", t->name, out.attempts, out.age);
        if (t->action == OUTCOME_RETRY && out.next - NOW != t->next)
            fail_msg("%s: next attempt in %lld ms, want %lld", t->name, out.next - NOW,
                     t->next);
    }
}

/* relayhost_rate_limits: a quota deferral retries at the slot, not after
 * the backoff (nor on a queue_run_delay tick); the backoff wins when it is
 * sooner; a deferral by quota alone is not counted as an attempt; and the
 * message still expires after maximal_queue_lifetime. */
static void test_quota_slot(void **state)
{
    (void)state;
    enum rcpt_state st[2] = { RCPT_DEFERRED, RCPT_SENT };
    unsigned char tried[2] = { 1, 1 }, m[6];
    struct outcome_in in = {
        .n = 2, .state = st, .tried = tried, .arrival = NOW - 10 * S, .attempts = 2,
        .now = NOW, .run_base = NOW - 7 * S, .limits = DEFAULTS,
        .quota_next = NOW + 90 * S, .quota_only = 1,
    };
    struct outcome out = { .expire = m, .bounce = m + 2, .warn = m + 4 };
    outcome_decide(&in, &out);
    assert_int_equal(out.action, OUTCOME_RETRY);
    assert_int_equal(out.next, NOW + 90 * S);
    assert_int_equal(out.attempts, 2);
    in.quota_only = 0;                  /* something was tried too */
    outcome_decide(&in, &out);
    assert_int_equal(out.attempts, 3);
    assert_int_equal(out.next, NOW + 90 * S);
    in.quota_next = NOW + 2 * H;        /* the backoff (1200s, then a tick) is sooner */
    outcome_decide(&in, &out);
    assert_int_equal(out.next, NOW - 7 * S + 1500 * S);
    in.quota_only = 1;                  /* ...but only the quota held it back */
    outcome_decide(&in, &out);
    assert_int_equal(out.next, NOW + 2 * H);
    in.arrival = NOW - 5 * D;           /* expired: bounced, quota or not */
    outcome_decide(&in, &out);
    assert_int_equal(out.action, OUTCOME_REMOVE);
    assert_int_equal(out.expired, 1);
    assert_int_equal(out.nbounce, 1);
}

/* The limits come from the configuration's millisecond values. */
static void test_limits_from_config(void **state)
{
    (void)state;
    char err[512];
    struct config *cfg = config_load_text("maximal_queue_lifetime = 2500ms\n"
                                          "bounce_queue_lifetime = 1h\n"
                                          "delay_warning_time = 4h\n"
                                          "minimal_backoff_time = 500ms\n"
                                          "maximal_backoff_time = 2s\n"
                                          "queue_run_delay = 200ms\n", "t.cf", err, sizeof err);
    if (!cfg)
        fail_msg("config: %s", err);
    struct outcome_limits l;
    outcome_limits_from(cfg, &l);
    assert_int_equal(l.max_lifetime, 2500);
    assert_int_equal(l.bounce_lifetime, 3600000);
    assert_int_equal(l.delay_warning, 4 * 3600000LL);
    assert_int_equal(l.min_backoff, 500);
    assert_int_equal(l.max_backoff, 2000);
    assert_int_equal(l.run_delay, 200);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_quota_slot),
        cmocka_unit_test(test_limits_from_config),
    };
    return cmocka_run_group_tests_name("outcome", tests, NULL, NULL);
}

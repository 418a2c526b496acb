/* Unit tests for util/metrics: families and series, the bounded label set,
 * histograms, collectors, NULL safety, and the Prometheus text rendering
 * (escaping of label values and HELP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/metrics.h"
#include "util/sbuf.h"

static char *render(struct metrics *m)
{
    struct sbuf b = SBUF_INIT;
    metrics_render(m, &b);
    assert_false(b.oom);
    return sbuf_take(&b, NULL);
}

static void test_counter_render(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const char *lab[] = { "listener" };
    struct metric_family *f =
        metrics_family(m, METRIC_COUNTER, "postern_x_total", "Things.", lab, 1, NULL, 0);
    struct metric_family *g =
        metrics_family(m, METRIC_GAUGE, "postern_y", "A gauge.", NULL, 0, NULL, 0);
    assert_non_null(f);
    assert_non_null(g);
    /* the same name twice: the first family */
    assert_ptr_equal(metrics_family(m, METRIC_COUNTER, "postern_x_total", "", lab, 1, NULL, 0), f);
    metrics_inc1(f, "smtp");
    metrics_inc1(f, "smtp");
    metrics_inc1(f, "submission");
    metrics_add(metrics_series1(f, "smtp"), 3);
    metrics_add(metrics_series1(f, "smtp"), -1);     /* a counter never goes down */
    char *t = render(m);
    assert_string_equal(t, "# HELP postern_x_total Things.\n"
                           "# TYPE postern_x_total counter\n"
                           "postern_x_total{listener=\"smtp\"} 5\n"
                           "postern_x_total{listener=\"submission\"} 1\n"
                           "# HELP postern_y A gauge.\n"
                           "# TYPE postern_y gauge\n"
                           "postern_y 0\n");
    free(t);
    assert_true(metrics_family_total(f) == 6);
    metrics_free(m);
}

static void test_escape(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(metrics_escape_value("a\"b\\c\nd", out, sizeof out), "a\\\"b\\\\c\\nd");
    /* cut on a whole escape, never half of one */
    assert_string_equal(metrics_escape_value("ab\"", out, 4), "ab");
    assert_string_equal(metrics_escape_value("", out, sizeof out), "");

    struct metrics *m = metrics_new();
    const char *lab[] = { "key" };
    struct metric_family *f = metrics_family(m, METRIC_COUNTER, "q_total",
                                             "Line one\nback\\slash", lab, 1, NULL, 0);
    metrics_inc1(f, "we\"ird\\\n");
    char *t = render(m);
    assert_string_equal(t, "# HELP q_total Line one\\nback\\\\slash\n"
                           "# TYPE q_total counter\n"
                           "q_total{key=\"we\\\"ird\\\\\\n\"} 1\n");
    free(t);
    metrics_free(m);
}

static void test_histogram(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const double b[] = { 0.1, 1, 10 };
    const char *lab[] = { "phase" };
    struct metric_family *h =
        metrics_family(m, METRIC_HISTOGRAM, "lat_seconds", "Latency.", lab, 1, b, 3);
    assert_non_null(h);
    metrics_observe1(h, "connect", 0.05);
    metrics_observe1(h, "connect", 0.1);     /* le is inclusive */
    metrics_observe1(h, "connect", 5);
    metrics_observe1(h, "connect", 50);
    char *t = render(m);
    assert_string_equal(t, "# HELP lat_seconds Latency.\n"
                           "# TYPE lat_seconds histogram\n"
                           "lat_seconds_bucket{phase=\"connect\",le=\"0.10000000000000001\"} 2\n"
                           "lat_seconds_bucket{phase=\"connect\",le=\"1\"} 2\n"
                           "lat_seconds_bucket{phase=\"connect\",le=\"10\"} 3\n"
                           "lat_seconds_bucket{phase=\"connect\",le=\"+Inf\"} 4\n"
                           "lat_seconds_sum{phase=\"connect\"} 55.149999999999999\n"
                           "lat_seconds_count{phase=\"connect\"} 4\n");
    free(t);
    assert_true(metrics_value(metrics_series1(h, "connect")) == 4);
    /* buckets must increase; a gauge is not observed */
    const double bad[] = { 1, 1 };
    assert_null(metrics_family(m, METRIC_HISTOGRAM, "bad_seconds", "", NULL, 0, bad, 2));
    metrics_free(m);
}

static void test_bounded(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const char *lab[] = { "code", "dsn" };
    struct metric_family *f =
        metrics_family(m, METRIC_COUNTER, "r_total", "", lab, 2, NULL, 0);
    char code[16];
    for (int i = 0; i < 200; i++) {
        snprintf(code, sizeof code, "%d", i);
        const char *v[] = { code, "5.0.0" };
        metrics_inc(metrics_series(f, v));
    }
    /* nothing lost, memory bounded: 63 series of their own, one "other" */
    assert_true(metrics_family_total(f) == 200);
    const char *o[] = { "other", "other" };
    assert_true(metrics_value(metrics_series(f, o)) == 200 - (METRICS_SERIES_MAX - 1));
    char *t = render(m);
    assert_non_null(strstr(t, "r_total{code=\"other\",dsn=\"other\"} 137\n"));
    free(t);
    metrics_free(m);
}

static void test_bad_names(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const char *le[] = { "le" }, *dash[] = { "a-b" };
    assert_null(metrics_family(m, METRIC_COUNTER, "1abc", "", NULL, 0, NULL, 0));
    assert_null(metrics_family(m, METRIC_COUNTER, "a b", "", NULL, 0, NULL, 0));
    assert_null(metrics_family(m, METRIC_COUNTER, "ok", "", le, 1, NULL, 0));
    assert_null(metrics_family(m, METRIC_COUNTER, "ok2", "", dash, 1, NULL, 0));
    assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "", NULL, 0, NULL, 0));
    metrics_free(m);
}

static void collect(void *arg, struct metrics *m)
{
    (void)m;
    struct metric_family *g = arg;
    metrics_set(metrics_series1(g, "deferred"), 7);
}

static void test_collector_and_null(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const char *lab[] = { "state" };
    struct metric_family *g = metrics_family(m, METRIC_GAUGE, "q", "Q.", lab, 1, NULL, 0);
    assert_int_equal(metrics_on_collect(m, collect, g), 0);
    char *t = render(m);
    assert_string_equal(t, "# HELP q Q.\n# TYPE q gauge\nq{state=\"deferred\"} 7\n");
    free(t);
    metrics_free(m);
    /* without a registry everything is a no-op */
    assert_null(metrics_family(NULL, METRIC_COUNTER, "x", "", NULL, 0, NULL, 0));
    metrics_inc1(NULL, "a");
    metrics_observe1(NULL, "a", 1);
    metrics_inc(NULL);
    metrics_set(NULL, 1);
    assert_true(metrics_value(NULL) == 0);
    struct sbuf b = SBUF_INIT;
    metrics_render(NULL, &b);
    assert_null(b.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_render), cmocka_unit_test(test_escape),
        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_bad_names),      cmocka_unit_test(test_collector_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

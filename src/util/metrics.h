/* metrics — a small registry of counters, gauges and histograms with
 * labels, rendered in Prometheus's text exposition format 0.0.4.
 *
 * No global state: the daemon makes one registry and hands it down by
 * pointer; each module registers its own families (metrics_family) and
 * keeps the pointers. Every function accepts NULL for the registry, the
 * family and the series and then does nothing, so that code run without a
 * registry (unit tests, `postern queue`) counts nothing and needs no
 * branch of its own.
 *
 * Cost on the hot path: a series without labels, or one looked up once and
 * kept (metrics_series), is a plain increment. A family with labels finds
 * its series by a linear search over at most METRICS_SERIES_MAX of them:
 * label values must come from a bounded set (a listener kind, a reply
 * code, a transport name, a configured key), never from client text. A
 * family that is full counts into one series whose label values are all
 * "other", so a surprise never grows memory nor loses a count.
 *
 * Single-threaded: call it from the event loop only (results of worker
 * threads come back to the loop first). Gauges that are a view of other
 * state are set by collectors (metrics_on_collect) just before rendering.
 * Names and label names are the caller's constants and are not checked
 * beyond the Prometheus character set (metrics_family returns NULL). */
#ifndef POSTERN_UTIL_METRICS_H
#define POSTERN_UTIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct sbuf;

#define METRICS_LABELS_MAX 3      /* label names of one family */
#define METRICS_SERIES_MAX 64     /* series of one family, "other" included */
#define METRICS_BUCKETS_MAX 16    /* histogram buckets, +Inf excluded */
#define METRICS_VALUE_MAX 128     /* bytes of one label value (longer: cut) */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;
struct metric_series;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Register a family: name and help as in `# HELP`, nlabels label names
 * (at most METRICS_LABELS_MAX), and for a histogram its upper bounds in
 * increasing order (at most METRICS_BUCKETS_MAX; +Inf is implied).
 * Registering a name twice returns the first family. NULL on a bad name,
 * bad buckets, or no memory. */
struct metric_family *metrics_family(struct metrics *m, enum metric_type type,
                                     const char *name, const char *help,
                                     const char *const *labels, size_t nlabels,
                                     const double *buckets, size_t nbuckets);

/* The series for these label values (nlabels of them, as the family's),
 * made on first use; a family without labels takes values NULL. NULL only
 * when f is NULL or memory runs out. */
struct metric_series *metrics_series(struct metric_family *f, const char *const *values);
/* The same for a family with one label. */
struct metric_series *metrics_series1(struct metric_family *f, const char *value);

void metrics_inc(struct metric_series *s);                 /* counter, gauge: +1 */
void metrics_add(struct metric_series *s, double v);       /* counter (v >= 0), gauge */
void metrics_set(struct metric_series *s, double v);       /* gauge */
void metrics_observe(struct metric_series *s, double v);   /* histogram */

/* Shorthands: metrics_inc(metrics_series1(f, value)) etc. */
void metrics_inc1(struct metric_family *f, const char *value);
void metrics_observe1(struct metric_family *f, const char *value, double v);

/* The current value of a counter or gauge series, or a histogram's count
 * (for tests and for collectors that derive one value from another). */
double metrics_value(const struct metric_series *s);

/* A collector runs before each rendering, in the order registered, to set
 * gauges from the state they describe. 0, or -1 (no memory). */
typedef void metrics_collect_fn(void *arg, struct metrics *m);
int metrics_on_collect(struct metrics *m, metrics_collect_fn *fn, void *arg);

/* Run the collectors and append every family (in registration order; a
 * family with no series yet renders its HELP and TYPE only, or its one
 * series at 0 when it has no labels) to out. Label values are escaped
 * (backslash, double quote, newline), so is HELP text (backslash,
 * newline). Check out->oom afterwards. */
void metrics_render(struct metrics *m, struct sbuf *out);

/* Escape v for a label value into out (NUL-terminated, cut at outlen-1
 * bytes on a whole escape). Returns out. Pure, exposed for the tests. */
char *metrics_escape_value(const char *v, char *out, size_t outlen);

/* Sum of a family's series (a histogram: of its counts). For tests. */
double metrics_family_total(const struct metric_family *f);

#endif

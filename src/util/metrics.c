/* metrics — the registry and its Prometheus text rendering (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

struct metric_series {
    char *values[METRICS_LABELS_MAX];
    double value;                    /* counter, gauge; a histogram's sum */
    uint64_t count;                  /* histogram */
    uint64_t *buckets;               /* histogram: per bucket, not cumulative */
    struct metric_family *f;
};

struct metric_family {
    enum metric_type type;
    char *name, *help;
    char *labels[METRICS_LABELS_MAX];
    size_t nlabels;
    double bounds[METRICS_BUCKETS_MAX];
    size_t nbounds;
    struct metric_series *series[METRICS_SERIES_MAX];
    size_t nseries;
};

struct collector {
    metrics_collect_fn *fn;
    void *arg;
};

struct metrics {
    struct metric_family **v;
    size_t n, cap;
    struct collector *c;
    size_t nc, capc;
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

static void series_free(struct metric_series *s)
{
    for (size_t i = 0; i < METRICS_LABELS_MAX; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(struct metric_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i]);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->v[i]);
    free(m->v);
    free(m->c);
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (label names: no ':'; "le" is the histogram's) */
static int name_ok(const char *s, int label)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (c == ':' && !label)))
            return 0;
    }
    return 1;
}

struct metric_family *metrics_family(struct metrics *m, enum metric_type type,
                                     const char *name, const char *help,
                                     const char *const *labels, size_t nlabels,
                                     const double *buckets, size_t nbuckets)
{
    if (!m || !name_ok(name, 0) || nlabels > METRICS_LABELS_MAX ||
        (type == METRIC_HISTOGRAM && (nbuckets == 0 || nbuckets > METRICS_BUCKETS_MAX)))
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i]->name, name) == 0)
            return m->v[i];
    for (size_t i = 0; i < nlabels; i++)
        if (!name_ok(labels[i], 1) || strcmp(labels[i], "le") == 0)
            return NULL;
    for (size_t i = 1; type == METRIC_HISTOGRAM && i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return NULL;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 32;
        struct metric_family **v = realloc(m->v, nc * sizeof *v);
        if (!v)
            return NULL;
        m->v = v;
        m->cap = nc;
    }
    struct metric_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->nlabels = nlabels;
    int bad = !f->name || !f->help;
    for (size_t i = 0; i < nlabels; i++)
        bad |= !(f->labels[i] = strdup(labels[i]));
    if (type == METRIC_HISTOGRAM) {
        memcpy(f->bounds, buckets, nbuckets * sizeof *buckets);
        f->nbounds = nbuckets;
    }
    if (bad) {
        family_free(f);
        return NULL;
    }
    m->v[m->n++] = f;
    return f;
}

static struct metric_series *series_new(struct metric_family *f, const char *const *values)
{
    struct metric_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->f = f;
    int bad = 0;
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        size_t len = strnlen(v, METRICS_VALUE_MAX);
        bad |= !(s->values[i] = strndup(v, len));
    }
    if (f->type == METRIC_HISTOGRAM)
        bad |= !(s->buckets = calloc(f->nbounds, sizeof *s->buckets));
    if (bad) {
        series_free(s);
        return NULL;
    }
    f->series[f->nseries++] = s;
    return s;
}

static int series_is(const struct metric_series *s, const char *const *values)
{
    for (size_t i = 0; i < s->f->nlabels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        if (strncmp(s->values[i], v, METRICS_VALUE_MAX) != 0)
            return 0;
    }
    return 1;
}

struct metric_series *metrics_series(struct metric_family *f, const char *const *values)
{
    if (!f)
        return NULL;
    for (size_t i = 0; i < f->nseries; i++)
        if (series_is(f->series[i], values))
            return f->series[i];
    if (f->nseries < METRICS_SERIES_MAX - 1)
        return series_new(f, values);
    /* full: the last slot is "other" for every label */
    const char *other[METRICS_LABELS_MAX] = { "other", "other", "other" };
    if (f->nseries == METRICS_SERIES_MAX)
        return f->series[METRICS_SERIES_MAX - 1];
    return series_new(f, other);
}

struct metric_series *metrics_series1(struct metric_family *f, const char *value)
{
    const char *v[1] = { value };
    return metrics_series(f, v);
}

void metrics_inc(struct metric_series *s)
{
    if (s)
        s->value += 1;
}

void metrics_add(struct metric_series *s, double v)
{
    if (s && (s->f->type == METRIC_GAUGE || v >= 0))
        s->value += v;
}

void metrics_set(struct metric_series *s, double v)
{
    if (s && s->f->type == METRIC_GAUGE)
        s->value = v;
}

void metrics_observe(struct metric_series *s, double v)
{
    if (!s || s->f->type != METRIC_HISTOGRAM || isnan(v))
        return;
    s->count++;
    s->value += v;
    for (size_t i = 0; i < s->f->nbounds; i++)
        if (v <= s->f->bounds[i]) {
            s->buckets[i]++;
            break;
        }
}

void metrics_inc1(struct metric_family *f, const char *value)
{
    metrics_inc(metrics_series1(f, value));
}

void metrics_observe1(struct metric_family *f, const char *value, double v)
{
    metrics_observe(metrics_series1(f, value), v);
}

double metrics_value(const struct metric_series *s)
{
    if (!s)
        return 0;
    return s->f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
}

double metrics_family_total(const struct metric_family *f)
{
    double t = 0;
    for (size_t i = 0; f && i < f->nseries; i++)
        t += metrics_value(f->series[i]);
    return t;
}

int metrics_on_collect(struct metrics *m, metrics_collect_fn *fn, void *arg)
{
    if (!m)
        return 0;
    if (m->nc == m->capc) {
        size_t nc = m->capc ? m->capc * 2 : 8;
        struct collector *c = realloc(m->c, nc * sizeof *c);
        if (!c)
            return -1;
        m->c = c;
        m->capc = nc;
    }
    m->c[m->nc++] = (struct collector){ fn, arg };
    return 0;
}

/* ---------- rendering ---------- */

char *metrics_escape_value(const char *v, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return out;
    for (; *v; v++) {
        const char *e = NULL;
        char one[2] = { *v, 0 };
        switch (*v) {
        case '\\': e = "\\\\"; break;
        case '"': e = "\\\""; break;
        case '\n': e = "\\n"; break;
        default: e = one; break;
        }
        size_t el = strlen(e);
        if (o + el >= outlen)
            break;
        memcpy(out + o, e, el);
        o += el;
    }
    out[o] = '\0';
    return out;
}

/* HELP text: backslash and newline only */
static void put_help(struct sbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            sbuf_str(out, "\\\\");
        else if (*s == '\n')
            sbuf_str(out, "\\n");
        else
            sbuf_char(out, *s);
    }
}

static void put_number(struct sbuf *out, double v)
{
    if (isinf(v))
        sbuf_str(out, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        sbuf_str(out, "NaN");
    else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v)
        sbuf_printf(out, "%.0f", v);
    else
        sbuf_printf(out, "%.17g", v);
}

/* {a="x",b="y"} plus an optional le="..." */
static void put_labels(struct sbuf *out, const struct metric_series *s, const char *le)
{
    const struct metric_family *f = s->f;
    if (f->nlabels == 0 && !le)
        return;
    char esc[METRICS_VALUE_MAX * 2 + 1];
    sbuf_char(out, '{');
    for (size_t i = 0; i < f->nlabels; i++)
        sbuf_printf(out, "%s%s=\"%s\"", i ? "," : "", f->labels[i],
                    metrics_escape_value(s->values[i], esc, sizeof esc));
    if (le)
        sbuf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    sbuf_char(out, '}');
}

static void render_series(struct sbuf *out, const struct metric_series *s)
{
    const struct metric_family *f = s->f;
    if (f->type != METRIC_HISTOGRAM) {
        sbuf_str(out, f->name);
        put_labels(out, s, NULL);
        sbuf_char(out, ' ');
        put_number(out, s->value);
        sbuf_char(out, '\n');
        return;
    }
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        char le[64];
        if (i < f->nbounds) {
            cum += s->buckets[i];
            snprintf(le, sizeof le, "%.17g", f->bounds[i]);
        } else {
            cum = s->count;
            snprintf(le, sizeof le, "+Inf");
        }
        sbuf_printf(out, "%s_bucket", f->name);
        put_labels(out, s, le);
        sbuf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    sbuf_printf(out, "%s_sum", f->name);
    put_labels(out, s, NULL);
    sbuf_char(out, ' ');
    put_number(out, s->value);
    sbuf_printf(out, "\n%s_count", f->name);
    put_labels(out, s, NULL);
    sbuf_printf(out, " %llu\n", (unsigned long long)s->count);
}

static const char *type_name(enum metric_type t)
{
    return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

void metrics_render(struct metrics *m, struct sbuf *out)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nc; i++)
        m->c[i].fn(m->c[i].arg, m);
    for (size_t i = 0; i < m->n; i++) {
        struct metric_family *f = m->v[i];
        sbuf_printf(out, "# HELP %s ", f->name);
        put_help(out, f->help);
        sbuf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
        /* a family without labels always has its one series, at 0 */
        if (f->nlabels == 0 && f->nseries == 0)
            series_new(f, NULL);
        for (size_t k = 0; k < f->nseries; k++)
            render_series(out, f->series[k]);
    }
}

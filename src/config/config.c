/* config — Postfix main.cf compatible parser for postern.
 *
 * Loading runs in three steps:
 *   1. read the text into logical lines (comments, blank lines, continuation
 *      lines) and record each "name = value" as the parameter's raw value and
 *      line (later assignments win); a Postfix name postern does not
 *      implement is mapped, ignored with a warning or refused
 *      (postfix_names.c), and the Postfix steps (config_pfload.c) then make
 *      a Postfix main.cf work as written;
 *   2. expand $name, ${name} and $(name) in every parameter's raw value (or
 *      its default), recursively and memoized, so the order of the file does
 *      not matter;
 *   3. convert each expanded text to its type and check its bounds, then
 *      the relations between parameters and the values that must come
 *      from a fixed set (validate.c).
 * Every error is collected as "FILE:LINE: what is wrong; how to fix it" and
 * loading goes on, so that one run reports them all: a bad line is skipped;
 * a parameter whose value is in error is left empty, and so is every
 * parameter that refers to it, without a second message. Nothing here
 * logs. */
#include "config.h"
#include "config_internal.h"
#include "config_loader.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/errbuf.h"
#include "../util/sbuf.h"
#include "../util/strdist.h"

#if defined(__GNUC__)
#define CFG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CFG_PRINTF(a, b)
#endif

#define CFG_MAX_VALUE    (1024 * 1024)  /* bytes of one expanded value */
#define CFG_SUGGEST_DIST 3              /* max edit distance for a hint */
#define CFG_NAME_MAX     128            /* longer $names are never known */

/* ------------------------------------------------------------------ */
/* small helpers (config_is_ws, config_is_name_char: config_loader.h)   */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t param_count(void)
{
    size_t n = 0;
    while (config_params[n].name)
        n++;
    return n;
}

/* Index of the parameter whose name is s[0..len), or -1. */
static long find_param_n(const char *s, size_t len)
{
    for (size_t i = 0; config_params[i].name; i++)
        if (strlen(config_params[i].name) == len &&
            memcmp(config_params[i].name, s, len) == 0)
            return (long)i;
    return -1;
}

long config_param_index(const char *name)
{
    return find_param_n(name, strlen(name));
}

static void *field(struct config *cfg, size_t i)
{
    return (char *)cfg + config_params[i].offset;
}

static const void *cfield(const struct config *cfg, size_t i)
{
    return (const char *)cfg + config_params[i].offset;
}

const char *config_quote(const char *s, char *buf, size_t buflen)
{
    size_t n = strlen(s), max = buflen - 4, i;
    int cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;                /* don't split a UTF-8 sequence */
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut)
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

/* A time in ms as the largest unit that divides it exactly: 300000 ->
 * "5m", 1500 -> "1500ms", 0 -> "0s". */
void config_format_time(long long ms, char *buf, size_t len)
{
    static const struct { long long sec; char unit; } units[] = {
        { 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
    };
    if (ms % 1000 != 0) {
        snprintf(buf, len, "%lldms", ms);
        return;
    }
    long long v = ms / 1000;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (v != 0 && v % units[i].sec == 0) {
            snprintf(buf, len, "%lld%c", v / units[i].sec, units[i].unit);
            return;
        }
    snprintf(buf, len, "%llds", v);
}

/* The value in ms of time parameter i: its millisecond field, or its
 * seconds. */
static long long time_ms(const struct config *cfg, size_t i)
{
    const struct cfg_param *p = &config_params[i];
    if (p->ms_offset)
        return *(const long long *)(const void *)((const char *)cfg + p->ms_offset);
    return *(const long long *)(const void *)((const char *)cfg + p->offset) * 1000;
}

/* ------------------------------------------------------------------ */
/* name suggestion                                                      */

const char *config_suggest_name(const char *name)
{
    const char *best = NULL;
    size_t best_d = CFG_SUGGEST_DIST + 1;
    if (!name || !*name)
        return NULL;
    size_t la = strlen(name);
    for (size_t i = 0; config_params[i].name; i++) {
        const char *p = config_params[i].name;
        size_t lb = strlen(p);
        if ((la > lb ? la - lb : lb - la) > CFG_SUGGEST_DIST)
            continue;           /* too far apart to be a typo */
        size_t d = strdist_edit(name, la, p, lb);
        if (d < best_d) {
            best_d = d;
            best = p;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* loading state                                                        */

/* struct loader and its states: config_loader.h */

/* Whether another error would be kept. When not, callers only count it
 * and skip composing it: a wrong file can have an error on every line. */
static int err_kept(const struct loader *L)
{
    return L->errs->n < CONFIG_MAX_ERRORS;
}

void config_loader_oom(struct loader *L, int line)
{
    L->oom = 1;
    if (line > 0)
        config_errors_add(L->errs, "%s:%d: out of memory", L->cfg->file, line);
    else
        config_errors_add(L->errs, "%s: out of memory", L->cfg->file);
}

static const char *raw_value(const struct loader *L, size_t i)
{
    return L->cfg->raw[i] ? L->cfg->raw[i] : config_params[i].def;
}

/* Error about parameter i, located where it was last set:
 *   FILE:LINE: name = "raw": message
 *   FILE: name = "default" (built-in default): message */
static void CFG_PRINTF(3, 4) param_err(struct loader *L, size_t i, const char *fmt, ...)
{
    char msg[512], q[CFG_QUOTE_MAX], q2[CFG_QUOTE_MAX], note[CFG_QUOTE_MAX + 20] = "";
    va_list ap;
    if (!err_kept(L)) {
        L->errs->n++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    config_quote(raw_value(L, i), q, sizeof q);
    if (L->shown)
        snprintf(note, sizeof note, " (expands to \"%s\")",
                 config_quote(L->shown, q2, sizeof q2));
    if (L->cfg->line[i] > 0)
        config_errors_add(L->errs, "%s:%d: %s = \"%s\"%s: %s", L->cfg->file,
                          L->cfg->line[i], config_params[i].name, q, note, msg);
    else
        config_errors_add(L->errs, "%s: %s = \"%s\"%s (built-in default): %s",
                          L->cfg->file, config_params[i].name, q, note, msg);
}

/* ------------------------------------------------------------------ */
/* step 1: lines                                                        */

/* Record one "name = value" line; a bad line is reported and skipped. */
static void assign(struct loader *L, const char *text, int line)
{
    char q[CFG_QUOTE_MAX];
    const char *eq = strchr(text, '=');
    if (!eq) {
        config_errors_add(L->errs,
                          "%s:%d: missing \"=\" in \"%s\"; expected \"name = value\"",
                          L->cfg->file, line, config_quote(text, q, sizeof q));
        return;
    }
    const char *ne = eq;
    while (ne > text && config_is_ws((unsigned char)ne[-1]))
        ne--;
    if (ne == text) {
        config_errors_add(L->errs, "%s:%d: missing parameter name before \"=\"; "
                          "expected \"name = value\"", L->cfg->file, line);
        return;
    }
    size_t nlen = (size_t)(ne - text);
    long idx = find_param_n(text, nlen);
    if (idx < 0) {
        char *name = strndup(text, nlen);
        if (!name) {
            config_loader_oom(L, line);
            return;
        }
        const char *pf, *ok;
        enum cfg_class cls = config_postfix_class(name, &pf, &ok);
        /* no name suggestion for a message not shown: a wrong file can
         * have an unknown name on every line */
        const char *hint = err_kept(L) ? config_suggest_name(name) : NULL;
        const char *v = eq + 1;
        while (config_is_ws((unsigned char)*v))
            v++;
        L->postfix |= cls != CFG_CLASS_UNKNOWN;
        if (cls == CFG_CLASS_REFUSED && (!*v || (ok && strcasecmp(v, ok) == 0))) {
            /* asks for nothing postern lacks */
            char qv[CFG_QUOTE_MAX];
            if (!*v)
                config_notes_add(L->errs, line, "%s:%d: warning: %s: empty, asks for "
                                 "nothing; ignored", L->cfg->file, line,
                                 config_quote(name, q, sizeof q));
            else
                config_notes_add(L->errs, line, "%s:%d: warning: %s = %s: off, as in "
                                 "postern; ignored", L->cfg->file, line,
                                 config_quote(name, q, sizeof q), config_quote(v, qv, sizeof qv));
        } else if (cls == CFG_CLASS_IGNORED) {
            config_notes_add(L->errs, line, "%s:%d: warning: %s: %s; ignored",
                             L->cfg->file, line, config_quote(name, q, sizeof q), pf);
        } else if (cls == CFG_CLASS_MAPPED) {
            char *val = strdup(v);
            if (!val) {
                free(name);
                config_loader_oom(L, line);
                return;
            }
            size_t k = 0;       /* a later line replaces an earlier one */
            while (k < L->npf && strcmp(L->pf[k].name, name) != 0)
                k++;
            if (k == CFG_MAX_MAPPED) {
                free(val);      /* cannot happen: fewer mapped names */
            } else {
                if (k < L->npf) {
                    free((char *)L->pf[k].value);
                    free((char *)L->pf[k].name);
                } else {
                    L->npf++;
                }
                L->pf[k] = (struct pf_line){ name, val, line };
                name = NULL;    /* owned by L->pf now */
            }
        } else if (pf) {
            config_errors_add(L->errs,
                              "%s:%d: \"%s\" is a Postfix parameter that postern does "
                              "not implement: %s; remove the line",
                              L->cfg->file, line, config_quote(name, q, sizeof q), pf);
        } else if (config_user_keep(L, &name, v, line)) {
            /* decided once every line is read (user_check) */
        } else if (hint)
            config_errors_add(L->errs,
                              "%s:%d: unknown parameter \"%s\"; did you mean \"%s\"?",
                              L->cfg->file, line, config_quote(name, q, sizeof q), hint);
        else
            config_errors_add(L->errs,
                              "%s:%d: unknown parameter \"%s\"; fix or remove it "
                              "(run \"postern check -d\" to list known parameters)",
                              L->cfg->file, line, config_quote(name, q, sizeof q));
        free(name);
        return;
    }
    const char *v = eq + 1;
    while (config_is_ws((unsigned char)*v))
        v++;
    char *copy = strdup(v);     /* trailing space was trimmed per line */
    if (!copy) {
        config_loader_oom(L, line);
        return;
    }
    free(L->cfg->raw[idx]);
    L->cfg->raw[idx] = copy;
    L->cfg->line[idx] = line;
}

static void parse_lines(struct loader *L, const char *text)
{
    struct sbuf cur = SBUF_INIT;
    int cur_line = 0, lineno = 0, stray = 0;
    const char *p = text;

    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;                 /* UTF-8 byte order mark from some editors */
    while (*p && !L->oom) {
        const char *eol = strchr(p, '\n');
        const char *s = p, *e = eol ? eol : p + strlen(p);
        const char *bol = p;
        p = eol ? eol + 1 : e;
        lineno++;
        while (s < e && config_is_ws((unsigned char)*s))
            s++;
        while (e > s && config_is_ws((unsigned char)e[-1]))
            e--;
        if (s == e || *s == '#')
            continue;           /* blank or comment: ignored, even inside
                                 * a logical line, like Postfix */
        if (s != bol) {
            /* leading whitespace: continues the previous logical line */
            if (stray)
                continue;       /* the rest of a block already reported */
            if (!cur_line) {
                config_errors_add(L->errs,
                                  "%s:%d: line starts with whitespace but there is "
                                  "no \"name = value\" line before it to continue; "
                                  "remove the leading whitespace", L->cfg->file, lineno);
                stray = 1;
                continue;
            }
            sbuf_add(&cur, " ", 1);
            sbuf_add(&cur, s, (size_t)(e - s));
        } else {
            stray = 0;
            if (cur_line)
                assign(L, cur.s, cur_line);
            sbuf_truncate(&cur, 0);
            sbuf_add(&cur, s, (size_t)(e - s));
            cur_line = lineno;
        }
        if (cur.oom)
            config_loader_oom(L, lineno);
    }
    if (!L->oom && cur_line)
        assign(L, cur.s, cur_line);
    sbuf_free(&cur);
}

/* ------------------------------------------------------------------ */
/* step 2: $name expansion                                              */

static int expand_param(struct loader *L, size_t i);

/* Expand the references in s (the value of parameter i) into out. */
static int expand_text(struct loader *L, size_t i, const char *s, struct sbuf *out)
{
    char q[CFG_QUOTE_MAX];
    while (*s) {
        const char *dollar = strchr(s, '$');
        if (!dollar) {
            sbuf_str(out, s);
            break;
        }
        sbuf_add(out, s, (size_t)(dollar - s));
        s = dollar + 1;
        if (*s == '$') {        /* $$ is a literal $, as in Postfix */
            sbuf_add(out, "$", 1);
            s++;
            continue;
        }
        char close = *s == '{' ? '}' : *s == '(' ? ')' : 0;
        if (close)
            s++;
        const char *name = s;
        while (config_is_name_char((unsigned char)*s))
            s++;
        size_t len = (size_t)(s - name);
        if (len == 0) {
            param_err(L, i, "\"$\" must be followed by a parameter name, as in "
                      "$myhostname or ${myhostname} (write $$ for a literal $)");
            return -1;
        }
        if (close) {
            if (*s == '?' || *s == ':') {
                param_err(L, i, "conditional \"%c%c%.*s%c...%c\" is not supported; "
                          "write the value out", '$', close == '}' ? '{' : '(',
                          (int)(len > 64 ? 64 : len), name, *s, close);
                return -1;
            }
            if (*s != close) {
                param_err(L, i, "missing \"%c\" after \"%c%c%.*s\"", close, '$',
                          close == '}' ? '{' : '(', (int)(len > 64 ? 64 : len), name);
                return -1;
            }
            s++;
        }
        long j = find_param_n(name, len);
        long u = j < 0 ? config_user_find(L, name, len) : -1;
        if (u >= 0) {
            /* a user-defined parameter: its value, expanded in turn */
            if (L->user_busy[u] || L->depth >= CFG_MAX_DEPTH) {
                param_err(L, i, "parameter loop (or nesting deeper than %d) through $%s",
                          CFG_MAX_DEPTH, config_quote(L->user[u].name, q, sizeof q));
                return -1;
            }
            L->user_busy[u] = 1;
            int rc = expand_text(L, i, L->user[u].value, out);
            L->user_busy[u] = 0;
            if (rc < 0)
                return -1;
            continue;
        }
        if (j < 0) {
            char nbuf[CFG_NAME_MAX + 1];
            size_t n = len < CFG_NAME_MAX ? len : CFG_NAME_MAX;
            memcpy(nbuf, name, n);
            nbuf[n] = '\0';
            const char *hint = len <= CFG_NAME_MAX ? config_suggest_name(nbuf) : NULL;
            if (hint)
                param_err(L, i, "unknown parameter $%s; did you mean $%s?",
                          config_quote(nbuf, q, sizeof q), hint);
            else
                param_err(L, i, "unknown parameter $%s (run \"postern check -d\" "
                          "to list known parameters)", config_quote(nbuf, q, sizeof q));
            return -1;
        }
        if (expand_param(L, (size_t)j) < 0)
            return -1;
        sbuf_str(out, L->exp[j]);
        if (out->len > CFG_MAX_VALUE) {
            param_err(L, i, "value longer than %d bytes after expansion",
                      CFG_MAX_VALUE);
            return -1;
        }
    }
    return 0;
}

/* Fill L->exp[i] with the expanded value of parameter i. */
static int expand_param(struct loader *L, size_t i)
{
    struct sbuf out = SBUF_INIT;
    int rc = 0;

    if (L->state[i] == ST_DONE)
        return 0;
    if (L->state[i] == ST_FAILED)
        return -1;              /* reported already */
    if (L->state[i] == ST_BUSY) {
        /* i is on the stack: stack[k..depth) i is the loop. Report it where
         * its first member that is set in the file is. */
        char chain[512];
        size_t k = 0, at = i, used;
        while (L->stack[k] != i)
            k++;
        for (size_t m = k; m < L->depth; m++)
            if (L->cfg->line[L->stack[m]] > 0) {
                at = L->stack[m];
                break;
            }
        used = (size_t)snprintf(chain, sizeof chain, "%s", config_params[i].name);
        for (size_t m = k + 1; m <= L->depth && used < sizeof chain; m++) {
            size_t x = m < L->depth ? L->stack[m] : i;
            used += (size_t)snprintf(chain + used, sizeof chain - used, " -> %s",
                                     config_params[x].name);
        }
        param_err(L, at, "parameter loop: %s; remove one of these references", chain);
        return -1;              /* every member fails as the stack unwinds */
    }
    if (L->depth >= CFG_MAX_DEPTH) {
        param_err(L, i, "$name references nested more than %d deep", CFG_MAX_DEPTH);
        L->state[i] = ST_FAILED;
        return -1;
    }
    L->state[i] = ST_BUSY;
    L->stack[L->depth++] = i;

    const char *raw = raw_value(L, i);
    if ((long)i == L->i_myhostname && !*raw) {
        /* the system hostname, as is: no DNS lookup */
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            strcpy(host, "localhost");
        sbuf_str(&out, host);
    } else if ((long)i == L->i_mydomain && !*raw && L->i_myhostname >= 0) {
        /* $myhostname minus its first label, or "localdomain" */
        rc = expand_param(L, (size_t)L->i_myhostname);
        if (rc == 0) {
            const char *dot = strchr(L->exp[L->i_myhostname], '.');
            const char *dom = dot && dot[1] ? dot + 1 : "localdomain";
            sbuf_str(&out, dom);
        }
    } else {
        rc = expand_text(L, i, raw, &out);
    }
    char *val = rc == 0 ? sbuf_take(&out, NULL) : NULL;   /* "" when empty */
    if (rc == 0 && !val) {
        config_loader_oom(L, L->cfg->line[i]);
        rc = -1;
    }
    if (rc < 0) {
        sbuf_free(&out);
        L->depth--;
        L->state[i] = ST_FAILED;
        return -1;
    }
    L->exp[i] = val;
    L->depth--;
    L->state[i] = ST_DONE;
    return 0;
}

/* ------------------------------------------------------------------ */
/* step 3: types                                                        */

/* Parse [+-]digits[unit]; a time comes back in ms (no unit: seconds; "ms"
 * only when ms_ok). Returns 0, -1 malformed, -2 out of range. */
static int parse_number(const char *s, enum cfg_type type, int ms_ok, long long *out)
{
    const char *p = s;
    int neg = 0, over = 0;
    unsigned long long v = 0, mult = 1;
    const unsigned long long lim = (unsigned long long)LLONG_MAX;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim + 1 - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
    }
    if (type == CFG_TIME)
        mult = 1000;
    if (type == CFG_TIME && ms_ok && lower((unsigned char)p[0]) == 'm' &&
        lower((unsigned char)p[1]) == 's' && !p[2]) {
        mult = 1;
    } else if (*p) {
        unsigned char u = lower((unsigned char)*p);
        if (type == CFG_SIZE && u == 'k')
            mult = 1024ULL;
        else if (type == CFG_SIZE && u == 'm')
            mult = 1024ULL * 1024;
        else if (type == CFG_SIZE && u == 'g')
            mult = 1024ULL * 1024 * 1024;
        else if (type == CFG_TIME && u == 's')
            mult = 1000;
        else if (type == CFG_TIME && u == 'm')
            mult = 60 * 1000;
        else if (type == CFG_TIME && u == 'h')
            mult = 3600 * 1000;
        else if (type == CFG_TIME && u == 'd')
            mult = 86400 * 1000;
        else if (type == CFG_TIME && u == 'w')
            mult = 604800ULL * 1000;
        else
            return -1;
        if (p[1])
            return -1;
    }
    if (over || v > (lim + neg) / mult)
        return -2;
    v *= mult;
    if (!neg)
        *out = (long long)v;
    else if (v == lim + 1)
        *out = LLONG_MIN;
    else
        *out = -(long long)v;
    return 0;
}

static void fmt_bound(const struct cfg_param *p, long long v, char *buf, size_t len)
{
    if (p->type == CFG_TIME)
        config_format_time(v, buf, len);
    else
        snprintf(buf, len, "%lld", v);
}

static int split_list(const char *s, struct cfg_list *list)
{
    size_t cap = 0;
    while (*s) {
        while (*s == ',' || config_is_ws((unsigned char)*s))
            s++;
        if (!*s)
            break;
        const char *b = s;
        while (*s && *s != ',' && !config_is_ws((unsigned char)*s))
            s++;
        if (list->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            char **v = realloc(list->v, ncap * sizeof *v);
            if (!v)
                return -1;
            list->v = v;
            cap = ncap;
        }
        if (!(list->v[list->n] = strndup(b, (size_t)(s - b))))
            return -1;
        list->n++;
    }
    return 0;
}

static int convert(struct loader *L, size_t i)
{
    const struct cfg_param *p = &config_params[i];
    char *text = L->exp[i];
    long long v = 0;
    int rc;

    /* type errors show the expanded text too when it differs */
    L->shown = strcmp(text, raw_value(L, i)) != 0 ? text : NULL;
    switch (p->type) {
    case CFG_STR:
        *(char **)field(L->cfg, i) = text;
        L->exp[i] = NULL;       /* now owned by cfg */
        return 0;
    case CFG_LIST:
        if (split_list(text, (struct cfg_list *)field(L->cfg, i)) < 0) {
            config_loader_oom(L, L->cfg->line[i]);
            return -1;
        }
        return 0;
    case CFG_BOOL: {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t k = 0; k < 4; k++) {
            if (strcasecmp(text, yes[k]) == 0) {
                *(int *)field(L->cfg, i) = 1;
                return 0;
            }
            if (strcasecmp(text, no[k]) == 0) {
                *(int *)field(L->cfg, i) = 0;
                return 0;
            }
        }
        param_err(L, i, "not a boolean (use yes or no)");
        return -1;
    }
    case CFG_INT:
    case CFG_SIZE:
    case CFG_TIME:
        rc = parse_number(text, p->type, p->ms_offset != 0, &v);
        if (rc == -1) {
            if (p->type == CFG_SIZE)
                param_err(L, i, "not a number of bytes (e.g. %s)", p->def);
            else if (p->type == CFG_TIME)
                param_err(L, i, "not a time (e.g. %s; units %ss m h d w, "
                          "default s)", p->def, p->ms_offset ? "ms " : "");
            else
                param_err(L, i, "not a number (e.g. %s)", p->def);
            return -1;
        }
        if (rc == -2 || v < p->min || v > p->max) {
            char lo[32], hi[32];
            const char *unit = p->type == CFG_SIZE ? " bytes" : "";
            fmt_bound(p, p->min, lo, sizeof lo);
            fmt_bound(p, p->max, hi, sizeof hi);
            if (p->max == LLONG_MAX)
                param_err(L, i, "must be at least %s%s", lo, unit);
            else
                param_err(L, i, "must be between %s and %s%s", lo, hi, unit);
            return -1;
        }
        if (p->type == CFG_TIME) {
            /* whole seconds, rounded up: never shorter than asked */
            *(long long *)field(L->cfg, i) = v / 1000 + (v % 1000 > 0);
            if (p->ms_offset)
                *(long long *)(void *)((char *)L->cfg + p->ms_offset) = v;
            return 0;
        }
        *(long long *)field(L->cfg, i) = v;
        return 0;
    }
    param_err(L, i, "internal error: unknown parameter type %d", (int)p->type);
    return -1;
}

/* Constraints between parameters (those not in error), and values a range
 * cannot express. */
static int check_relations(struct loader *L)
{
    const struct config *c = L->cfg;
    int rc = 0;
    long i = find_param_n("minimal_backoff_time", 20);
    long j = find_param_n("maximal_backoff_time", 20);
    if (i >= 0 && j >= 0 && L->state[i] != ST_FAILED && L->state[j] != ST_FAILED &&
        c->ms.minimal_backoff_time > c->ms.maximal_backoff_time) {
        char lo[32], hi[32];
        /* report at whichever of the two the file set last */
        size_t at = c->line[j] > c->line[i] ? (size_t)j : (size_t)i;
        config_format_time(c->ms.minimal_backoff_time, lo, sizeof lo);
        config_format_time(c->ms.maximal_backoff_time, hi, sizeof hi);
        L->shown = NULL;
        param_err(L, at, "minimal_backoff_time (%s) must not exceed "
                  "maximal_backoff_time (%s)", lo, hi);
        rc = -1;
    }
    long k = find_param_n("smtp_line_length_limit", 22);
    if (k >= 0 && L->state[k] != ST_FAILED && c->smtp_line_length_limit == 1) {
        /* a broken line continues with a SPACE: 1 leaves no room for text */
        L->shown = NULL;
        param_err(L, (size_t)k, "must be 0 (no limit) or at least 2 "
                  "(998 is the RFC 5322 limit)");
        rc = -1;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* public interface                                                     */

/* A parameter in error is left empty: "" rather than NULL, so that code
 * checking the rest of a configuration with errors does not trip on it. */
static void leave_empty(struct loader *L, size_t i)
{
    L->state[i] = ST_FAILED;
    if (config_params[i].type == CFG_STR && !*(char **)field(L->cfg, i) &&
        !(*(char **)field(L->cfg, i) = strdup("")))
        config_loader_oom(L, 0);
}

struct config *config_load_text_collect(const char *text, const char *name,
                                        struct config_errors *errs)
{
    return config_load_postfix_collect(text, name, NULL, errs);
}

struct config *config_load_postfix_collect(const char *text, const char *name,
                                           const struct config_postfix_files *pf,
                                           struct config_errors *errs)
{
    const char *master = pf ? pf->master : NULL;
    const char *master_name = pf ? pf->master_name : NULL;
    struct loader L;
    size_t i;

    memset(&L, 0, sizeof L);
    L.errs = errs;
    size_t first_err = errs->n;
    L.n = param_count();
    L.i_myhostname = find_param_n("myhostname", 10);
    L.i_mydomain = find_param_n("mydomain", 8);
    if (!name)
        name = "(text)";
    if (!text)
        text = "";

    L.cfg = calloc(1, sizeof *L.cfg);
    if (L.cfg) {
        L.cfg->raw = calloc(L.n + 1, sizeof *L.cfg->raw);
        L.cfg->line = calloc(L.n + 1, sizeof *L.cfg->line);
        L.cfg->file = strdup(name);
    }
    L.exp = calloc(L.n + 1, sizeof *L.exp);
    L.state = calloc(L.n + 1, 1);
    unsigned char *failed = calloc(L.n + 1, 1);
    if (!L.cfg || !L.cfg->raw || !L.cfg->line || !L.cfg->file || !L.exp ||
        !L.state || !failed) {
        config_errors_add(errs, "%s: out of memory", name);
        L.oom = 1;
    }
    if (!L.oom)
        parse_lines(&L, text);
    if (!L.oom)
        config_user_check(&L, master);
    if (!L.oom)
        config_pf_apply(&L, master, master_name ? master_name : "master.cf");
    L.postfix |= master != NULL;
    if (!L.oom && L.postfix)
        config_pf_sasl(&L, master);
    if (!L.oom && L.postfix)
        config_pf_defaults(&L, pf);
    for (i = 0; !L.oom && i < L.n; i++)
        expand_param(&L, i);    /* a failure is in L.state */
    for (i = 0; !L.oom && i < L.n; i++) {
        if (L.state[i] == ST_FAILED || convert(&L, i) < 0)
            leave_empty(&L, i);
        L.shown = NULL;
    }
    if (!L.oom) {
        check_relations(&L);
        for (i = 0; i < L.n; i++)
            failed[i] = L.state[i] == ST_FAILED;
        config_validate(L.cfg, failed, errs);
        config_errors_sort(errs, first_err, L.cfg->file);
    }

    if (L.exp)
        for (i = 0; i < L.n; i++)
            free(L.exp[i]);
    free(L.exp);
    free(L.state);
    free(failed);
    for (i = 0; i < L.npf; i++) {
        free((char *)L.pf[i].name);
        free((char *)L.pf[i].value);
    }
    for (i = 0; i < L.nuser; i++) {
        /* the referenced ones stay, for config_print_nondefault */
        if (!L.oom && L.cfg && L.user_used[i] && config_user_define(L.cfg, &L.user[i]) < 0)
            L.oom = 1;
        free((char *)L.user[i].name);
        free((char *)L.user[i].value);
    }
    if (L.oom) {
        config_free(L.cfg);
        return NULL;
    }
    return L.cfg;
}

int config_read_file(const char *path, char **text, size_t *len,
                     struct config_errors *errs)
{
    struct sbuf buf = SBUF_INIT;
    char chunk[8192];
    size_t n;
    FILE *f;

    if (!(f = fopen(path, "r"))) {
        config_errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sbuf_add(&buf, chunk, n);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        sbuf_free(&buf);
        config_errors_add(errs, "%s: cannot read: %s", path, strerror(e));
        return -1;
    }
    fclose(f);
    sbuf_add(&buf, "", 0);
    if (!(*text = sbuf_take(&buf, len))) {
        config_errors_add(errs, "%s: out of memory", path);
        return -1;
    }
    return 0;
}

struct config *config_load_buffer_collect(const char *text, size_t len, const char *path,
                                          struct config_errors *errs)
{
    if (strlen(text) != len) {
        int line = 1;
        for (const char *p = text; *p; p++)
            line += *p == '\n';
        config_errors_add(errs, "%s:%d: NUL byte in file; is it a text file?", path, line);
        return NULL;
    }
    return config_load_text_collect(text, path, errs);
}

struct config *config_load_collect(const char *path, struct config_errors *errs)
{
    char *text;
    size_t len;

    if (!path)
        return config_load_text_collect(config_default_text, "(default)", errs);
    if (config_read_file(path, &text, &len, errs) < 0)
        return NULL;
    /* a Postfix main.cf: the master.cf beside it gives the listeners, the
     * file myorigin names the domain */
    char mpath[4096], opath[4096];
    char *master = NULL, *otext = NULL;
    size_t mlen = 0, olen = 0;
    if (config_master_path(path, mpath, sizeof mpath) == 0 && access(mpath, F_OK) == 0 &&
        config_read_file(mpath, &master, &mlen, errs) < 0) {
        free(text);
        return NULL;
    }
    struct config_errors ignore = { 0 };   /* the loader says what is missing */
    if (config_myorigin_path(text, opath, sizeof opath) == 0)
        (void)config_read_file(opath, &otext, &olen, &ignore);
    struct config_postfix_files pf = { master, mpath, otext ? opath : NULL, otext };
    struct config *cfg;
    if (master && strlen(master) != mlen) {
        config_errors_add(errs, "%s: NUL byte in file; is it a text file?", mpath);
        cfg = NULL;
    } else if (strlen(text) != len)
        cfg = config_load_buffer_collect(text, len, path, errs);
    else
        cfg = config_load_postfix_collect(text, path, &pf, errs);
    free(otext);
    free(text);
    free(master);
    return cfg;
}

/* The strict form of a collecting load: the configuration, or NULL and the
 * first error in err. */
static struct config *load_strict(struct config *cfg, const struct config_errors *errs,
                                  char *err, size_t errlen)
{
    if (cfg && errs->n == 0) {
        errbuf_set(err, errlen, "%s", "");
        return cfg;
    }
    config_free(cfg);
    if (errs->n > 1)
        errbuf_set(err, errlen, "%s (and %zu more error%s: \"postern check\" lists them)",
                   errs->msg[0], errs->n - 1, errs->n == 2 ? "" : "s");
    else
        errbuf_set(err, errlen, "%s", errs->n ? errs->msg[0] : "internal error");
    return NULL;
}

struct config *config_load_text(const char *text, const char *name,
                                char *err, size_t errlen)
{
    struct config_errors errs = { 0 };
    struct config *cfg = config_load_text_collect(text, name, &errs);
    return load_strict(cfg, &errs, err, errlen);
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
    struct config_errors errs = { 0 };
    struct config *cfg = config_load_collect(path, &errs);
    return load_strict(cfg, &errs, err, errlen);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; config_params[i].name; i++) {
        if (config_params[i].type == CFG_STR) {
            free(*(char **)field(cfg, i));
        } else if (config_params[i].type == CFG_LIST) {
            struct cfg_list *l = field(cfg, i);
            for (size_t k = 0; k < l->n; k++)
                free(l->v[k]);
            free(l->v);
        }
        if (cfg->raw)
            free(cfg->raw[i]);
    }
    for (size_t k = 0; k < cfg->ndefined; k++)
        free(cfg->defined[k]);
    free(cfg->defined);
    free(cfg->raw);
    free(cfg->line);
    free(cfg->file);
    free(cfg);
}

void config_print_nondefault(const struct config *cfg, FILE *out)
{
    if (!cfg || !cfg->raw)
        return;
    for (size_t k = 0; k < cfg->ndefined; k++)
        fprintf(out, "%s\n", cfg->defined[k]);
    for (size_t i = 0; config_params[i].name; i++)
        if (cfg->raw[i] && strcmp(cfg->raw[i], config_params[i].def) != 0)
            fprintf(out, "%s = %s\n", config_params[i].name, cfg->raw[i]);
}

void config_print_all(const struct config *cfg, FILE *out)
{
    if (!cfg)
        return;
    for (size_t i = 0; config_params[i].name; i++) {
        const struct cfg_param *p = &config_params[i];
        const void *f = cfield(cfg, i);
        char tbuf[32];
        fprintf(out, "%s =", p->name);
        switch (p->type) {
        case CFG_STR: {
            const char *s = *(char *const *)f;
            if (s && *s)
                fprintf(out, " %s", s);
            break;
        }
        case CFG_LIST: {
            const struct cfg_list *l = f;
            for (size_t k = 0; k < l->n; k++)
                fprintf(out, "%s%s", k ? ", " : " ", l->v[k]);
            break;
        }
        case CFG_INT:
        case CFG_SIZE:
            fprintf(out, " %lld", *(const long long *)f);
            break;
        case CFG_TIME:
            config_format_time(time_ms(cfg, i), tbuf, sizeof tbuf);
            fprintf(out, " %s", tbuf);
            break;
        case CFG_BOOL:
            fprintf(out, " %s", *(const int *)f ? "yes" : "no");
            break;
        }
        fputc('\n', out);
    }
}

/* maps — Postfix-style lookup tables (texthash/hash, regexp, pcre, cidr), read
 * from their text source. See maps.h. No logging: errors go to err. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/errbuf.h"
#include "../util/sbuf.h"
#include "cidr.h"

enum map_type { MT_HASH, MT_REGEXP, MT_PCRE, MT_CIDR };

struct hent {
    char *key;   /* lowercased */
    char *val;
};

struct rule {
    int negate;
    char *result;
    size_t ncap;          /* capture groups in the pattern */
    regex_t re;           /* MT_REGEXP */
    pcre2_code *code;     /* MT_PCRE */
};

struct map {
    char *spec;
    enum map_type type;
    int secret;           /* MAP_SECRET: errors never quote a line */
    struct hent *tab;     /* open addressing, cap a power of two */
    size_t cap, n;
    struct rule *rules;
    size_t nrules, rcap;
    struct cidr_table *cidr;  /* MT_CIDR */
};

/* ---- small helpers ------------------------------------------------------ */

/* Error about a line of the table: "PATH:LINE: " then fmt. A MAP_SECRET
 * table may hold a password anywhere on a line, even where a key or a
 * pattern is expected when the line is malformed, so its errors use
 * secret_msg instead: what is wrong and the fix, nothing from the line. */
__attribute__((format(printf, 7, 8)))
static void line_err(const struct map *m, char *err, size_t errlen, const char *path,
                     long lineno, const char *secret_msg, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (m->secret) {
        errbuf_set(err, errlen, "%s:%ld: %s (the line is not shown: the file holds "
                   "passwords)", path, lineno, secret_msg);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errbuf_set(err, errlen, "%s:%ld: %s", path, lineno, msg);
}

static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- hash table ---------------------------------------------------------- */

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)lower(*s);
        h *= 1099511628211ULL;
    }
    return h;
}

static int key_eq(const char *stored, const char *q)
{
    for (; *stored && *q; stored++, q++)
        if (*stored != lower(*q))
            return 0;
    return *stored == *q;
}

static struct hent *hash_find(const struct map *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = (size_t)hash_key(key) & (m->cap - 1);
    while (m->tab[i].key) {
        if (key_eq(m->tab[i].key, key))
            return &m->tab[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static int hash_grow(struct map *m)
{
    size_t nc = m->cap ? m->cap * 2 : 16;
    struct hent *nt = calloc(nc, sizeof *nt);
    if (!nt)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->tab[i].key)
            continue;
        size_t j = (size_t)hash_key(m->tab[i].key) & (nc - 1);
        while (nt[j].key)
            j = (j + 1) & (nc - 1);
        nt[j] = m->tab[i];
    }
    free(m->tab);
    m->tab = nt;
    m->cap = nc;
    return 0;
}

/* 1 inserted, 0 duplicate (first one kept, like postmap), -1 no memory.
 * Takes ownership of key and val in every case. */
static int hash_put(struct map *m, char *key, char *val)
{
    if (hash_find(m, key)) {
        free(key);
        free(val);
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap && hash_grow(m) < 0) {
        free(key);
        free(val);
        return -1;
    }
    size_t i = (size_t)hash_key(key) & (m->cap - 1);
    while (m->tab[i].key)
        i = (i + 1) & (m->cap - 1);
    m->tab[i].key = key;
    m->tab[i].val = val;
    m->n++;
    return 1;
}

/* ---- parsing the table lines -------------------------------------------- */

static int load_hash_line(struct map *m, const char *path, long lineno,
                          char *line, char *err, size_t errlen)
{
    char *p = line;
    while (*p && !is_ws((unsigned char)*p))
        p++;
    size_t klen = (size_t)(p - line);
    while (is_ws((unsigned char)*p))
        p++;
    if (*p == '\0') {
        line_err(m, err, errlen, path, lineno,
                 "no whitespace between key and value; write \"key value\" on one "
                 "line, e.g. \"[smtp.example.com]:587 user:password\"",
                 "key \"%.*s\" has no value; write \"key value\" on one line",
                 (int)(klen > 200 ? 200 : klen), line);
        return -1;
    }
    char *key = xstrndup(line, klen);
    char *val = strdup(p);
    if (!key || !val) {
        free(key);
        free(val);
        errbuf_set(err, errlen, "%s:%ld: out of memory", path, lineno);
        return -1;
    }
    for (char *k = key; *k; k++)
        *k = lower(*k);
    if (hash_put(m, key, val) < 0) {
        errbuf_set(err, errlen, "%s:%ld: out of memory", path, lineno);
        return -1;
    }
    return 0;
}

/* Check the $n references of a result against the pattern's groups. */
static int check_result(const struct map *m, const char *path, long lineno,
                        const char *res, size_t ncap, int negate, char *err,
                        size_t errlen)
{
    for (const char *p = res; *p; p++) {
        if (*p != '$')
            continue;
        p++;
        if (*p == '$')
            continue;
        const char *s, *e;
        if (*p == '{' || *p == '(') {
            char close = *p == '{' ? '}' : ')';
            s = p + 1;
            e = strchr(s, close);
            if (!e) {
                line_err(m, err, errlen, path, lineno,
                         "a \"${\" is not closed in the result; write ${1} or $1 "
                         "(or $$ for a literal $)",
                         "\"$%c\" is not closed in the result; write ${1} or $1 "
                         "(or $$ for a literal $)", *p);
                return -1;
            }
            p = e;
        } else {
            s = p;
            e = p;
            while ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') ||
                   (*e >= 'A' && *e <= 'Z') || *e == '_')
                e++;
            if (e == s) {
                errbuf_set(err, errlen, "%s:%ld: lone \"$\" in the result; "
                           "write $$ for a literal $, or $1 for the first group",
                           path, lineno);
                return -1;
            }
            p = e - 1;
        }
        size_t n = 0;
        int digits = e > s;
        for (const char *d = s; d < e; d++) {
            if (*d < '0' || *d > '9') {
                digits = 0;
                break;
            }
            if (n < 100000)
                n = n * 10 + (size_t)(*d - '0');
        }
        if (!digits) {
            line_err(m, err, errlen, path, lineno,
                     "a $ in the result is not followed by a group number; use "
                     "$1..$9 or ${1} (and $$ for a literal $)",
                     "\"$%.*s\" in the result is not a group number; use $1..$9 "
                     "or ${1} (and $$ for a literal $)",
                     (int)(e - s > 40 ? 40 : e - s), s);
            return -1;
        }
        if (negate) {
            line_err(m, err, errlen, path, lineno,
                     "a $n in the result of a negated pattern (!/.../) has nothing "
                     "to refer to; remove it",
                     "$%zu in the result of a negated pattern (!/.../) has nothing "
                     "to refer to; remove it", n);
            return -1;
        }
        if (n < 1 || n > ncap) {
            if (ncap == 0)
                line_err(m, err, errlen, path, lineno,
                         "a $n in the result, but the pattern has no ( ) group; "
                         "add one or remove the $n",
                         "$%zu in the result, but the pattern has no ( ) group; "
                         "add one or remove $%zu", n, n);
            else
                line_err(m, err, errlen, path, lineno,
                         "a $n in the result is not a group of the pattern; fix "
                         "the number",
                         "$%zu in the result, but the pattern has groups $1..$%zu "
                         "only; fix the number", n, ncap);
            return -1;
        }
    }
    return 0;
}

static int load_rule_line(struct map *m, const char *path, long lineno,
                          char *line, char *err, size_t errlen)
{
    const char *tname = m->type == MT_PCRE ? "pcre" : "regexp";
    char *p = line;
    size_t kw = 0;
    while (p[kw] >= 'a' && p[kw] <= 'z')
        kw++;
    if ((kw == 2 && strncmp(p, "if", 2) == 0) ||
        (kw == 5 && strncmp(p, "endif", 5) == 0)) {
        errbuf_set(err, errlen, "%s:%ld: if/endif blocks are not supported by "
                   "postern; write one /pattern/ result line per rule",
                   path, lineno);
        return -1;
    }
    int negate = 0;
    while (*p == '!') {
        negate = !negate;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    char delim = *p;
    if (delim == '\0' || delim == '\\' || is_ws((unsigned char)delim) ||
        (delim >= '0' && delim <= '9') || (delim >= 'a' && delim <= 'z') ||
        (delim >= 'A' && delim <= 'Z')) {
        errbuf_set(err, errlen, "%s:%ld: expected a /pattern/ at the start of the "
                   "line; write /pattern/flags result", path, lineno);
        return -1;
    }
    char *pat = ++p;
    while (*p && *p != delim) {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    if (*p != delim) {
        line_err(m, err, errlen, path, lineno,
                 "no closing delimiter after the pattern; write /pattern/flags result",
                 "no closing %c after the pattern; write %cpattern%cflags result",
                 delim, delim, delim);
        return -1;
    }
    *p++ = '\0';
    /* flags */
    int cflags = REG_EXTENDED | REG_ICASE;
    uint32_t popts = PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    for (; *p && !is_ws((unsigned char)*p); p++) {
        int ok = 1;
        if (m->type == MT_REGEXP) {
            switch (*p) {
            case 'i': cflags ^= REG_ICASE; break;
            case 'x': cflags ^= REG_EXTENDED; break;
            case 'm': cflags ^= REG_NEWLINE; break;
            default: ok = 0;
            }
        } else {
            switch (*p) {
            case 'i': popts ^= PCRE2_CASELESS; break;
            case 'm': popts ^= PCRE2_MULTILINE; break;
            case 's': popts ^= PCRE2_DOTALL; break;
            case 'x': popts ^= PCRE2_EXTENDED; break;
            case 'A': popts ^= PCRE2_ANCHORED; break;
            case 'E': popts ^= PCRE2_DOLLAR_ENDONLY; break;
            case 'U': popts ^= PCRE2_UNGREEDY; break;
            case 'X': break;   /* PCRE1 "extra": always on in PCRE2 */
            default: ok = 0;
            }
        }
        if (!ok) {
            const char *known = m->type == MT_REGEXP ? "i, m, x"
                                                     : "i, m, s, x, A, E, U, X";
            char fix[128];
            snprintf(fix, sizeof fix, "unknown flag after the pattern; %s flags are %s",
                     tname, known);
            line_err(m, err, errlen, path, lineno, fix,
                     "unknown flag '%c' after the pattern; %s flags are %s", *p,
                     tname, known);
            return -1;
        }
    }
    while (is_ws((unsigned char)*p))
        p++;
    if (*p == '\0') {
        errbuf_set(err, errlen, "%s:%ld: no result after the pattern; write "
                   "/pattern/flags result", path, lineno);
        return -1;
    }
    char *res = p;

    if (m->nrules == m->rcap) {
        size_t nc = m->rcap ? m->rcap * 2 : 8;
        struct rule *nr = realloc(m->rules, nc * sizeof *nr);
        if (!nr) {
            errbuf_set(err, errlen, "%s:%ld: out of memory", path, lineno);
            return -1;
        }
        m->rules = nr;
        m->rcap = nc;
    }
    struct rule *r = &m->rules[m->nrules];
    memset(r, 0, sizeof *r);
    r->negate = negate;
    if (m->type == MT_REGEXP) {
        int rc = regcomp(&r->re, pat, cflags | (negate ? REG_NOSUB : 0));
        if (rc != 0) {
            char msg[256];
            regerror(rc, &r->re, msg, sizeof msg);
            line_err(m, err, errlen, path, lineno,
                     "bad regular expression; fix the pattern (POSIX extended syntax)",
                     "bad regular expression %c%s%c: %s; fix the pattern "
                     "(POSIX extended syntax)", delim, pat, delim, msg);
            return -1;
        }
        r->ncap = r->re.re_nsub;
    } else {
        int ecode;
        PCRE2_SIZE eoff;
        r->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, popts,
                                &ecode, &eoff, NULL);
        if (!r->code) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(ecode, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", ecode);
            line_err(m, err, errlen, path, lineno,
                     "bad regular expression; fix the pattern (PCRE syntax)",
                     "bad regular expression %c%s%c: %s at offset %zu; fix the "
                     "pattern (PCRE syntax)", delim, pat, delim, (char *)msg,
                     (size_t)eoff);
            return -1;
        }
        uint32_t cc = 0;
        pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &cc);
        r->ncap = cc;
    }
    m->nrules++;   /* owned by the map from here on (freed by map_free) */
    if (check_result(m, path, lineno, res, r->ncap, negate, err, errlen) < 0)
        return -1;
    r->result = strdup(res);
    if (!r->result) {
        errbuf_set(err, errlen, "%s:%ld: out of memory", path, lineno);
        return -1;
    }
    return 0;
}

static int load_line(struct map *m, const char *path, long lineno, char *line,
                     char *err, size_t errlen)
{
    if (m->type == MT_HASH)
        return load_hash_line(m, path, lineno, line, err, errlen);
    if (m->type == MT_CIDR) {
        char why[400];
        if (cidr_table_add_line(m->cidr, line, lineno, why, sizeof why) < 0) {
            errbuf_set(err, errlen, "%s:%ld: %s", path, lineno, why);
            return -1;
        }
        return 0;
    }
    return load_rule_line(m, path, lineno, line, err, errlen);
}

/* Split into logical lines (comments, blank lines, continuation) and load
 * each one. */
static int load_text(struct map *m, const char *path, char *text, size_t len,
                     char *err, size_t errlen)
{
    struct sbuf cur = SBUF_INIT;
    long curline = 0, lineno = 0;
    int have = 0, rc = 0;
    size_t pos = 0;

    if (memchr(text, '\0', len)) {
        size_t off = (size_t)((char *)memchr(text, '\0', len) - text);
        long ln = 1;
        for (size_t i = 0; i < off; i++)
            ln += text[i] == '\n';
        errbuf_set(err, errlen, "%s:%ld: NUL byte in the file; is it a binary "
                   "(.db) file? point to the text file", path, ln);
        return -1;
    }
    while (pos < len && rc == 0) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        char *s = text + pos;
        size_t n = end - pos;
        pos = nl ? end + 1 : len;
        lineno++;
        while (n > 0 && is_ws((unsigned char)s[n - 1]))
            n--;
        size_t lead = 0;
        while (lead < n && is_ws((unsigned char)s[lead]))
            lead++;
        if (lead == n || s[lead] == '#')
            continue;                       /* blank or comment */
        if (lead > 0) {                     /* continuation */
            if (!have) {
                errbuf_set(err, errlen, "%s:%ld: line starts with whitespace but "
                           "there is no line before it to continue; remove the "
                           "leading whitespace", path, lineno);
                rc = -1;
                break;
            }
            sbuf_add(&cur, " ", 1);
            sbuf_add(&cur, s + lead, n - lead);
            continue;
        }
        if (have) {
            if (cur.oom) {
                errbuf_set(err, errlen, "%s:%ld: out of memory", path, curline);
                rc = -1;
                break;
            }
            rc = load_line(m, path, curline, cur.s, err, errlen);
            sbuf_truncate(&cur, 0);
        }
        have = 1;
        curline = lineno;
        sbuf_add(&cur, s, n);
    }
    if (rc == 0 && have) {
        if (cur.oom) {
            errbuf_set(err, errlen, "%s:%ld: out of memory", path, curline);
            rc = -1;
        } else {
            rc = load_line(m, path, curline, cur.s, err, errlen);
        }
    }
    sbuf_free(&cur);
    if (rc == 0 && m->type == MT_CIDR) {
        char why[200];
        long ifline = 0;
        if (cidr_table_finish(m->cidr, &ifline, why, sizeof why) < 0) {
            errbuf_set(err, errlen, "%s:%ld: %s", path, ifline, why);
            rc = -1;
        }
    }
    return rc;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int read_file(const char *path, enum map_type type, int flags,
                     char **text, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && type == MT_HASH) {
            size_t pl = strlen(path);
            char *db = malloc(pl + 4);
            struct stat st;
            int has_db = 0;
            if (db) {
                memcpy(db, path, pl);
                memcpy(db + pl, ".db", 4);
                has_db = stat(db, &st) == 0;
                free(db);
            }
            if (has_db) {
                errbuf_set(err, errlen, "%s: no such file, only %s.db: postern reads "
                           "the text file that postmap was run on; put it back at %s",
                           path, path, path);
                return -1;
            }
        }
        errbuf_set(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        errbuf_set(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(err, errlen, "%s: not a regular file; point to the table's text file",
                   path);
        close(fd);
        return -1;
    }
    if ((flags & MAP_SECRET) && (st.st_mode & 077)) {
        errbuf_set(err, errlen, "%s is %s by group or others (mode %04o): chmod 600 "
                   "%s; it holds passwords", path,
                   (st.st_mode & 044) ? "readable" : "writable",
                   (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        errbuf_set(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                errbuf_set(err, errlen, "%s: out of memory", path);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errbuf_set(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *text = buf;
    *len = n;
    return 0;
}

/* ---- public --------------------------------------------------------------- */

/* Split "type:/path"; errors say what a spec looks like. */
static int parse_spec(const char *spec, enum map_type *type, const char **path,
                      char *err, size_t errlen)
{
    static const char supported[] = "texthash, hash, regexp, pcre, cidr";
    if (!spec) {
        errbuf_set(err, errlen, "no map given; write type:/path (types: %s)", supported);
        return -1;
    }
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || colon[1] == '\0') {
        errbuf_set(err, errlen, "\"%s\": expected type:/path, e.g. "
                   "hash:/etc/postern/sasl_passwd (types: %s)", spec, supported);
        return -1;
    }
    size_t tl = (size_t)(colon - spec);
    if ((tl == 8 && strncmp(spec, "texthash", 8) == 0) ||
        (tl == 4 && strncmp(spec, "hash", 4) == 0))
        *type = MT_HASH;
    else if (tl == 6 && strncmp(spec, "regexp", 6) == 0)
        *type = MT_REGEXP;
    else if (tl == 4 && strncmp(spec, "pcre", 4) == 0)
        *type = MT_PCRE;
    else if (tl == 4 && strncmp(spec, "cidr", 4) == 0)
        *type = MT_CIDR;
    else {
        errbuf_set(err, errlen, "\"%s\": unknown map type \"%.*s\"; supported types "
                   "are %s", spec, (int)(tl > 40 ? 40 : tl), spec, supported);
        return -1;
    }
    *path = colon + 1;
    if (*type == MT_HASH && ends_with(*path, ".db")) {
        errbuf_set(err, errlen, "%s: postern reads the text file; point to it without "
                   ".db (%.*s:%.*s)", *path, (int)tl, spec,
                   (int)(strlen(*path) - 3), *path);
        return -1;
    }
    return 0;
}

const char *map_spec_path(const char *spec)
{
    const char *colon = spec ? strchr(spec, ':') : NULL;
    return colon && colon != spec && colon[1] ? colon + 1 : NULL;
}

int map_read_file(const char *spec, int flags, char **text, size_t *len,
                  char *err, size_t errlen)
{
    enum map_type type;
    const char *path;
    if (parse_spec(spec, &type, &path, err, errlen) < 0)
        return -1;
    return read_file(path, type, flags, text, len, err, errlen);
}

struct map *map_open_text(const char *spec, int flags, const char *text, size_t len,
                          char *err, size_t errlen)
{
    enum map_type type;
    const char *path;
    if (parse_spec(spec, &type, &path, err, errlen) < 0)
        return NULL;
    struct map *m = calloc(1, sizeof *m);
    char *copy = malloc(len + 1);
    if (!m || !copy || !(m->spec = strdup(spec))) {
        free(m);
        free(copy);
        errbuf_set(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    m->type = type;
    m->secret = (flags & MAP_SECRET) != 0;
    if (type == MT_CIDR && !(m->cidr = cidr_table_new())) {
        map_free(m);
        free(copy);
        errbuf_set(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    /* load_text cuts lines in place */
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = load_text(m, path, copy, len, err, errlen);
    free(copy);
    if (rc < 0) {
        map_free(m);
        return NULL;
    }
    return m;
}

struct map *map_open(const char *spec, int flags, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (map_read_file(spec, flags, &text, &len, err, errlen) < 0)
        return NULL;
    struct map *m = map_open_text(spec, flags, text, len, err, errlen);
    free(text);
    return m;
}

void map_free(struct map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        free(m->tab[i].key);
        free(m->tab[i].val);
    }
    free(m->tab);
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->type == MT_REGEXP)
            regfree(&m->rules[i].re);
        else
            pcre2_code_free(m->rules[i].code);
        free(m->rules[i].result);
    }
    free(m->rules);
    cidr_table_free(m->cidr);
    free(m->spec);
    free(m);
}

const char *map_spec(const struct map *m)
{
    return m ? m->spec : NULL;
}

int map_is_keyed(const struct map *m)
{
    return m && m->type == MT_HASH;
}

/* Expand $n in res; so[i]/eo[i] are the group offsets in key (-1: unset). */
static char *expand(const char *res, const char *key, const size_t *so,
                    const size_t *eo, size_t ngroups)
{
    struct sbuf b = SBUF_INIT;
    for (const char *p = res; *p; p++) {
        if (*p != '$') {
            const char *q = strchr(p, '$');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            sbuf_add(&b, p, n);
            p += n - 1;
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_add(&b, "$", 1);
            continue;
        }
        size_t n = 0;
        if (*p == '{' || *p == '(') {
            for (p++; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (size_t)(*p - '0');
            /* p is at the closing brace (validated at load) */
        } else {
            for (; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (size_t)(*p - '0');
            p--;
        }
        if (n < ngroups && so[n] != SIZE_MAX && eo[n] >= so[n])
            sbuf_add(&b, key + so[n], eo[n] - so[n]);
    }
    return sbuf_take(&b, NULL);     /* "" when nothing was added */
}

static char *rule_lookup(const struct map *m, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < m->nrules; i++) {
        const struct rule *r = &m->rules[i];
        size_t ng = r->ncap + 1;
        size_t *so = NULL, *eo = NULL;
        int matched;
        if (!r->negate) {
            so = malloc(ng * sizeof *so);
            eo = malloc(ng * sizeof *eo);
            if (!so || !eo) {
                free(so);
                free(eo);
                return NULL;
            }
        }
        if (m->type == MT_REGEXP) {
            regmatch_t *pm = NULL;
            if (!r->negate && !(pm = malloc(ng * sizeof *pm))) {
                free(so);
                free(eo);
                return NULL;
            }
            matched = regexec(&r->re, key, r->negate ? 0 : ng, pm, 0) == 0;
            if (matched && !r->negate) {
                for (size_t g = 0; g < ng; g++) {
                    so[g] = pm[g].rm_so < 0 ? SIZE_MAX : (size_t)pm[g].rm_so;
                    eo[g] = pm[g].rm_eo < 0 ? SIZE_MAX : (size_t)pm[g].rm_eo;
                }
            }
            free(pm);
        } else {
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
            if (!md) {
                free(so);
                free(eo);
                return NULL;
            }
            int rc = pcre2_match(r->code, (PCRE2_SPTR)key, klen, 0, 0, md, NULL);
            matched = rc >= 0;
            if (matched && !r->negate) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                uint32_t npairs = pcre2_get_ovector_count(md);
                for (size_t g = 0; g < ng; g++) {
                    if (g < npairs && ov[2 * g] != PCRE2_UNSET &&
                        ov[2 * g + 1] >= ov[2 * g]) {
                        so[g] = ov[2 * g];
                        eo[g] = ov[2 * g + 1];
                    } else {
                        so[g] = eo[g] = SIZE_MAX;
                    }
                }
            }
            pcre2_match_data_free(md);
        }
        if (matched != r->negate) {
            char *v = r->negate ? strdup(r->result)
                                : expand(r->result, key, so, eo, ng);
            free(so);
            free(eo);
            return v;
        }
        free(so);
        free(eo);
    }
    return NULL;
}

char *map_lookup(const struct map *m, const char *key)
{
    if (!m || !key)
        return NULL;
    if (m->type == MT_HASH) {
        const struct hent *h = hash_find(m, key);
        return h ? strdup(h->val) : NULL;
    }
    if (m->type == MT_CIDR) {
        const char *v = cidr_table_lookup(m->cidr, key);
        return v ? strdup(v) : NULL;
    }
    return rule_lookup(m, key);
}

/* A result "@domain" keeps the local part of the address (Postfix
 * canonical(5) semantics). */
static char *finish_address(const char *addr, char *val)
{
    if (!val || val[0] != '@')
        return val;
    const char *at = strrchr(addr, '@');
    size_t ll = at ? (size_t)(at - addr) : strlen(addr);
    size_t vl = strlen(val);
    char *r = malloc(ll + vl + 1);
    if (r) {
        memcpy(r, addr, ll);
        memcpy(r + ll, val, vl + 1);
    }
    free(val);
    return r;
}

char *map_lookup_address(const struct map *m, const char *addr)
{
    if (!m || !addr)
        return NULL;
    if (m->type != MT_HASH)
        return finish_address(addr, map_lookup(m, addr));
    char *v = map_lookup(m, addr);
    if (v)
        return finish_address(addr, v);
    const char *at = strrchr(addr, '@');
    if (!at)
        return NULL;        /* "user" was the full address: already tried */
    return finish_address(addr, map_lookup(m, at));
}

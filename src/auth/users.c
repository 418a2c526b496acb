/* users — parser, verifier and editor of the users file (see users.h). */
#include "users.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/errbuf.h"

struct user {
    char *name;
    char *hash;
    char *options;
    int disabled;
    unsigned long rate;         /* rate=N/W: N messages (0: no limit) */
    long long rate_window_ms;   /* ... per W */
};

struct users {
    struct user *v;         /* file order */
    struct user **byname;   /* sorted by name, for bsearch */
    size_t n;
};

/* A valid yescrypt setting: what an unknown name is checked against when
 * the file has no account (the crypt is the cost, the result never
 * matches). */
#define DUMMY_SETTING "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$"

const char *users_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return "the name is empty";
    if (n > 255)
        return "the name is longer than 255 bytes";
    if (name[0] == ' ' || name[n - 1] == ' ')
        return "the name starts or ends with a blank";
    if (name[0] == '#')
        return "a name starting with '#' would be a comment";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == ':')
            return "the name contains ':', the field separator";
        if (c < 0x20 || c == 0x7f)
            return "the name contains a control character";
    }
    return NULL;
}

static const char *const families[] = { "$y$", "$gy$", "$7$", "$2b$", "$2y$", "$2a$",
                                        "$6$", "$5$" };

/* NULL when hash is one we verify, else why not (the family only: a hash
 * is not quoted). */
static const char *hash_problem(const char *h)
{
    size_t n = strlen(h);
    if (n == 0)
        return "no password hash";
    if (n >= USERS_HASH_MAX)
        return "the hash is too long to be one";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] <= 0x20 || h[i] == 0x7f)
            return "the hash contains a blank or a control character";
    if (h[0] == '{')
        return "a {SCHEME} prefix (Dovecot's) is not part of a crypt hash; remove it";
    if (strncmp(h, "$apr1$", 6) == 0 || strncmp(h, "$1$", 3) == 0)
        return "MD5-crypt ($apr1$, htpasswd's default, or $1$) is too weak; set the password "
               "again with `postern passwd add NAME` or `htpasswd -B`";
    size_t k = 0;
    while (k < sizeof families / sizeof families[0] &&
           strncmp(h, families[k], strlen(families[k])) != 0)
        k++;
    if (k == sizeof families / sizeof families[0])
        return h[0] == '$' ? "unsupported hash type; use yescrypt ($y$), bcrypt ($2b$, $2y$) "
                             "or sha512-crypt ($6$)"
                           : "not a crypt hash (DES crypt and plain text are not accepted); "
                             "use `postern passwd add NAME`";
    size_t dollars = 0;
    for (size_t i = 0; i < n; i++)
        dollars += h[i] == '$';
    const char *last = strrchr(h, '$');
    int bcrypt = h[1] == '2';
    if (dollars < 3 || last[1] == '\0' || (bcrypt && n != 60) ||
        crypt_checksalt(h) != CRYPT_SALT_OK)
        return "a malformed or truncated hash";
    return NULL;
}

static int cmp_byname(const void *a, const void *b)
{
    return strcmp((*(struct user *const *)a)->name, (*(struct user *const *)b)->name);
}

void users_free(struct users *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].name);
        if (u->v[i].hash)
            explicit_bzero(u->v[i].hash, strlen(u->v[i].hash));
        free(u->v[i].hash);
        free(u->v[i].options);
    }
    free(u->v);
    free(u->byname);
    free(u);
}

const char *users_rate_parse(const char *s, size_t n, unsigned long *count,
                             long long *window_ms)
{
    static const char fix[] = "write rate=N/W: N messages (1 to 1000000000) per W, a time "
                              "such as 30s, 10m, 1h or 1d (at most 31d)";
    size_t i = 0;
    unsigned long long c = 0, w = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && c <= 1000000000ull)
        c = c * 10 + (unsigned)(s[i++] - '0');
    if (i == 0 || c == 0 || c > 1000000000ull || i >= n || s[i] != '/')
        return fix;
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9' && w <= 31ull * 86400)
        w = w * 10 + (unsigned)(s[i++] - '0');
    if (i == d)
        w = 1;          /* "200/h" */
    if (i + 1 != n)
        return fix;
    unsigned long long unit;
    switch (s[i]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return fix;
    }
    if (w == 0 || w > 31ull * 86400 || w * unit > 31ull * 86400)
        return fix;
    *count = (unsigned long)c;
    *window_ms = (long long)(w * unit * 1000);
    return NULL;
}

void users_rate_format(unsigned long count, long long window_ms, char *out, size_t outlen)
{
    long long sec = window_ms / 1000;
    const char *u = "s";
    if (sec % 86400 == 0) {
        sec /= 86400;
        u = "d";
    } else if (sec % 3600 == 0) {
        sec /= 3600;
        u = "h";
    } else if (sec % 60 == 0) {
        sec /= 60;
        u = "m";
    }
    snprintf(out, outlen, "%lu/%lld%s", count, sec, u);
}

/* Parse "disabled,rate=N/W,..." into e. NULL, or what is wrong (in buf). */
static const char *parse_options(struct user *e, const char *s, char *buf, size_t buflen)
{
    while (*s) {
        size_t wl = strcspn(s, ",");
        const char *why;
        if (wl == 8 && strncmp(s, "disabled", 8) == 0)
            e->disabled = 1;
        else if (wl > 5 && strncmp(s, "rate=", 5) == 0) {
            if ((why = users_rate_parse(s + 5, wl - 5, &e->rate, &e->rate_window_ms))) {
                snprintf(buf, buflen, "\"%.*s\": %s", (int)(wl > 40 ? 40 : wl), s, why);
                return buf;
            }
        } else if (wl > 0) {
            snprintf(buf, buflen, "unknown option \"%.*s\"; the options are disabled and "
                     "rate=N/W (e.g. rate=200/1h)", (int)(wl > 40 ? 40 : wl), s);
            return buf;
        }
        s += wl;
        if (*s == ',')
            s++;
    }
    return NULL;
}

/* One account line (NUL-terminated, no line end) into e. */
static int parse_line(struct user *e, char *line, const char *file, size_t lineno,
                      char *err, size_t errlen)
{
    char *c1 = strchr(line, ':');
    if (!c1) {
        errbuf_set(err, errlen, "%s:%zu: no ':' after the name; write name:hash (the line is "
               "not shown: it may hold a password)", file, lineno);
        return -1;
    }
    *c1 = '\0';
    char *hash = c1 + 1, *c2 = strchr(hash, ':'), *opts = "";
    if (c2) {
        *c2 = '\0';
        opts = c2 + 1;
    }
    const char *why = users_name_problem(line);
    if (why) {
        errbuf_set(err, errlen, "%s:%zu: %s; a name has 1 to 255 bytes, no ':' and no control "
               "character", file, lineno, why);
        return -1;
    }
    if ((why = hash_problem(hash))) {
        errbuf_set(err, errlen, "%s:%zu: %.*s: %s", file, lineno, 80, line, why);
        return -1;
    }
    char word[256];
    if ((why = parse_options(e, opts, word, sizeof word))) {
        errbuf_set(err, errlen, "%s:%zu: %.*s: %s", file, lineno, 80, line, why);
        return -1;
    }
    if (!(e->name = strdup(line)) || !(e->hash = strdup(hash)) ||
        !(e->options = strdup(opts))) {
        errbuf_set(err, errlen, "%s: out of memory", file);
        return -1;
    }
    return 0;
}

struct users *users_parse(const char *text, size_t len, const char *file, char *err,
                          size_t errlen)
{
    struct users *u = calloc(1, sizeof *u);
    if (!u) {
        errbuf_set(err, errlen, "%s: out of memory", file);
        return NULL;
    }
    if (len > USERS_FILE_MAX) {
        errbuf_set(err, errlen, "%s: larger than %u bytes; is it the right file?", file,
               USERS_FILE_MAX);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        errbuf_set(err, errlen, "%s: contains a NUL byte; is it the right file?", file);
        goto fail;
    }
    size_t cap = 0, lineno = 0;
    char line[USERS_LINE_MAX + 1];
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = (size_t)((nl ? nl : text + len) - (text + pos));
        lineno++;
        if (ll > USERS_LINE_MAX) {
            errbuf_set(err, errlen, "%s:%zu: line longer than %d bytes", file, lineno,
                   USERS_LINE_MAX);
            goto fail;
        }
        memcpy(line, text + pos, ll);
        pos += ll + (nl != NULL);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        line[ll] = '\0';
        size_t lead = strspn(line, " \t");
        if (line[lead] == '\0' || line[lead] == '#')
            continue;
        if (u->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct user *nv = realloc(u->v, nc * sizeof *nv);
            if (!nv) {
                errbuf_set(err, errlen, "%s: out of memory", file);
                goto fail;
            }
            u->v = nv;
            cap = nc;
        }
        struct user *e = &u->v[u->n];
        memset(e, 0, sizeof *e);
        u->n++;         /* freed with the rest on error */
        int rc = parse_line(e, line, file, lineno, err, errlen);
        explicit_bzero(line, sizeof line);
        if (rc < 0)
            goto fail;
    }
    if (u->n && !(u->byname = malloc(u->n * sizeof *u->byname))) {
        errbuf_set(err, errlen, "%s: out of memory", file);
        goto fail;
    }
    for (size_t i = 0; i < u->n; i++)
        u->byname[i] = &u->v[i];
    if (u->n)
        qsort(u->byname, u->n, sizeof *u->byname, cmp_byname);
    for (size_t i = 1; i < u->n; i++)
        if (strcmp(u->byname[i - 1]->name, u->byname[i]->name) == 0) {
            errbuf_set(err, errlen, "%s: %.*s has more than one line; keep one", file, 80,
                   u->byname[i]->name);
            goto fail;
        }
    return u;
fail:
    users_free(u);
    return NULL;
}

int users_read_file(const char *path, int secret, char **text, size_t *len, char *err,
                    size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            errbuf_set(err, errlen, "%s: is a symbolic link; name the file itself", path);
        else if (errno == ENOENT)
            errbuf_set(err, errlen, "%s: no such file; create it with `postern passwd add "
                   "NAME -f %s`", path, path);
        else
            errbuf_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = users_read_fd(fd, path, secret, text, len, err, errlen);
    close(fd);
    return rc;
}

int users_read_fd(int fd, const char *path, int secret, char **text, size_t *len, char *err,
                  size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        errbuf_set(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (secret && (st.st_mode & 077)) {
        errbuf_set(err, errlen, "%s is %s by group or others (mode %04o): chmod 600 %s; it holds "
               "password hashes", path, (st.st_mode & 044) ? "readable" : "writable",
               (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    if (st.st_size > (off_t)USERS_FILE_MAX) {
        errbuf_set(err, errlen, "%s: larger than %u bytes; is it the right file?", path,
               USERS_FILE_MAX);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        errbuf_set(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (n + 1 == cap) {     /* grew since fstat */
            if (cap > USERS_FILE_MAX) {
                errbuf_set(err, errlen, "%s: larger than %u bytes", path, USERS_FILE_MAX);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                errbuf_set(err, errlen, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errbuf_set(err, errlen, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            buf[n] = '\0';
            *text = buf;
            *len = n;
            return 0;
        }
        n += (size_t)r;
    }
    explicit_bzero(buf, cap);
    free(buf);
    return -1;
}

size_t users_count(const struct users *u)
{
    return u->n;
}

void users_each(const struct users *u,
                void (*fn)(void *arg, const char *name, const char *options), void *arg)
{
    for (size_t i = 0; i < u->n; i++)
        fn(arg, u->v[i].name, u->v[i].options);
}

static const struct user *lookup(const struct users *u, const char *name)
{
    struct user key = { .name = (char *)name };
    const struct user *kp = &key;
    struct user **hit = u->n ? bsearch(&kp, u->byname, u->n, sizeof *u->byname, cmp_byname)
                             : NULL;
    return hit ? *hit : NULL;
}

/* Every byte of want is looked at whatever the others hold. */
static int equal_ct(const char *got, const char *want)
{
    size_t n = strlen(want);
    unsigned diff = strlen(got) != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)got[i] ^ (unsigned char)want[i];
    return diff == 0;
}

enum users_result users_verify(const struct users *u, const char *name, const char *pass,
                               char *why, size_t whylen)
{
    const struct user *e = lookup(u, name);
    const char *against = e ? e->hash : u->n ? u->v[0].hash : DUMMY_SETTING;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd) {
        if (why)
            errbuf_set(why, whylen, "out of memory");
        return USERS_ERROR;
    }
    const char *out = crypt_rn(pass, against, cd, (int)sizeof *cd);
    /* out lies in cd->output, so reading strlen(against) < USERS_HASH_MAX
     * bytes of it stays inside */
    int match = out && out[0] != '*' && equal_ct(out, against);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    const char *reason = !e ? "unknown user" : e->disabled ? "account disabled"
                         : match ? NULL : "wrong password";
    if (why)
        errbuf_set(why, whylen, "%s", reason ? reason : "");
    return e && !e->disabled && match ? USERS_OK : USERS_FAIL;
}

int users_rate(const struct users *u, const char *name, unsigned long *count,
               long long *window_ms)
{
    const struct user *e = lookup(u, name);
    if (!e || !e->rate)
        return 0;
    *count = e->rate;
    *window_ms = e->rate_window_ms;
    return 1;
}

int users_hash(const char *pass, const char *prefix, char *out, size_t outlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn(prefix, 0, NULL, 0, setting, (int)sizeof setting))
        return -1;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return -1;
    const char *h = crypt_rn(pass, setting, cd, (int)sizeof *cd);
    int rc = -1;
    if (h && h[0] != '*' && strlen(h) < outlen && strlen(h) < USERS_HASH_MAX) {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    } else {
        errno = EINVAL;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

/* The account name of a line (len bytes), or 0 for a comment or blank. */
static size_t line_name(const char *s, size_t len)
{
    size_t lead = 0;
    while (lead < len && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (lead == len || s[lead] == '#' || s[lead] == '\r')
        return 0;
    const char *c = memchr(s, ':', len);
    return c ? (size_t)(c - s) : 0;
}

char *users_edit(const char *text, size_t len, const char *name, const char *line,
                 int *found, size_t *outlen)
{
    size_t nl = strlen(name), add = line ? strlen(line) + 1 : 0;
    char *out = malloc(len + add + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    *found = 0;
    for (size_t pos = 0; pos < len;) {
        const char *e = memchr(text + pos, '\n', len - pos);
        size_t ll = (size_t)((e ? e : text + len) - (text + pos));
        size_t take = ll + (e != NULL);
        size_t n = line_name(text + pos, ll);
        if (n == nl && memcmp(text + pos, name, nl) == 0) {
            if (line && !*found) {
                memcpy(out + o, line, add - 1);
                o += add - 1;
                out[o++] = '\n';
            }
            *found = 1;
        } else {
            memcpy(out + o, text + pos, take);
            o += take;
            if (!e)
                out[o++] = '\n';    /* the file's last line had no line end */
        }
        pos += take;
    }
    if (line && !*found) {
        memcpy(out + o, line, add - 1);
        o += add - 1;
        out[o++] = '\n';
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

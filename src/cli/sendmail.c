/* `postern sendmail` (also started as `sendmail`): the Sendmail-compatible
 * command line. Reads a message on stdin and submits it over SMTP to the
 * daemon's local submission socket (submit_socket). All or nothing: any
 * error before the final 250 closes the connection, and the daemon
 * discards the message. Exit codes follow sysexits.h. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "../config/config.h"
#include "../util/base64.h"
#include "../util/fs.h"
#include "../util/sbuf.h"
#include "../util/unixsock.h"
#include "../util/utf8.h"
#include "../smtp/addrlist.h"

/* Seconds to wait for each reply of the daemon. */
#define REPLY_TIMEOUT 300
#define REPLY_MAX 8192

/* ---------- memory ---------- */

/* Running out of memory ends the command (the message is not sent). */
static void check_oom(const struct sbuf *b)
{
    if (b->oom) {
        fprintf(stderr, "postern sendmail: out of memory\n");
        exit(EX_OSERR);
    }
}

/* ---------- options ---------- */

enum sm_mode { MODE_DELIVER, MODE_LIST, MODE_SMTP, MODE_FLUSH, MODE_NOOP };

struct sm_opts {
    enum sm_mode mode;
    int extract;               /* -t */
    int ignore_dots;           /* -i, -oi */
    int verbose;               /* -v */
    const char *sender;        /* -f / -r, NULL: login name */
    const char *fullname;      /* -F */
    const char *config;        /* -C */
    char **rcpt_args;
    int nrcpt_args;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "postern sendmail: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: sendmail [-t] [-i] [-f sender] [-F name] [-C config] [-v] "
                    "[--] [recipient ...]\n"
                    "       sendmail -bp | -bs | -q\n");
    return EX_USAGE;
}

/* Sendmail's option syntax: -fADDR or -f ADDR, -oi, -bm, clusters of flag
 * letters (-ti), options other MTAs have that mean nothing here are
 * accepted and ignored. Returns 0 or an exit status. */
static int parse_options(int argc, char **argv, struct sm_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        char c = a[1];
        const char *val = a[2] ? a + 2 : NULL;
        switch (c) {
        case 'f': case 'r': case 'F': case 'C': case 'B': case 'N': case 'R':
        case 'V': case 'X': case 'L': case 'h': case 'O':
            /* options with a value, attached or as the next argument */
            if (!val) {
                if (i + 1 >= argc)
                    return usage_error("option -%c needs a value", c);
                val = argv[++i];
            }
            if (c == 'f' || c == 'r')
                o->sender = val;
            else if (c == 'F')
                o->fullname = val;
            else if (c == 'C')
                o->config = val;
            /* -B type, -N dsn, -R ret, -V envid, -X log, -L label, -h hops,
             * -O opt=value: ignored */
            break;
        case 'o':
            if (!val) {
                /* "-o x" with a separate option letter */
                if (i + 1 >= argc)
                    return usage_error("option -o needs a value");
                val = argv[++i];
            }
            if (val[0] == 'i' && val[1] == '\0')
                o->ignore_dots = 1;
            /* -oem, -oee, -om, -oXvalue...: ignored */
            break;
        case 'b':
            if (!val)
                return usage_error("option -b needs a mode (-bm, -bp, -bs)");
            if (strcmp(val, "m") == 0)
                o->mode = MODE_DELIVER;
            else if (strcmp(val, "p") == 0)
                o->mode = MODE_LIST;
            else if (strcmp(val, "s") == 0)
                o->mode = MODE_SMTP;
            else if (strcmp(val, "i") == 0)
                o->mode = MODE_NOOP;     /* newaliases: there are no aliases */
            else if (strcmp(val, "d") == 0)
                return usage_error("-bd: run `postern serve` to start the daemon");
            else
                return usage_error("unsupported mode -b%s (use -bm, -bp, -bs)", val);
            break;
        case 'q':
            /* -q, -qInterval, -qRsite...: flush the whole queue */
            o->mode = MODE_FLUSH;
            break;
        case 'd': case 'A': case 'G':
            /* -dX debug, -Am/-Ac, -G: ignored */
            break;
        default:
            /* a cluster of flags: -t, -i, -v, -m, -n, -U, -x, -e... */
            for (const char *p = a + 1; *p; p++) {
                switch (*p) {
                case 't': o->extract = 1; break;
                case 'i': o->ignore_dots = 1; break;
                case 'v': o->verbose++; break;
                case 'm': case 'n': case 'U': case 'x': case 'e': case 's': break;
                default:
                    return usage_error("unknown option -%c", *p);
                }
            }
            break;
        }
    }
    o->rcpt_args = argv + i;
    o->nrcpt_args = argc - i;
    return 0;
}

/* ---------- addresses ---------- */

struct addrs {
    char **v;
    size_t n, cap;
};

static void addrs_add(struct addrs *a, const char *s, size_t n)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 8;
        char **nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "postern sendmail: out of memory\n");
            exit(EX_OSERR);
        }
        a->v = nv;
        a->cap = nc;
    }
    char *c = strndup(s, n);
    if (!c) {
        fprintf(stderr, "postern sendmail: out of memory\n");
        exit(EX_OSERR);
    }
    a->v[a->n++] = c;
}

static void addrs_free(struct addrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

static void addrs_cb(const char *addr, size_t n, void *arg)
{
    addrs_add(arg, addr, n);
}

static void parse_address_list(const char *s, size_t len, struct addrs *out)
{
    if (addrlist_parse(s, len, addrs_cb, out) < 0) {
        fprintf(stderr, "postern sendmail: out of memory\n");
        exit(EX_OSERR);
    }
}

/* "user" -> "user@myorigin"; "<a@b>" -> "a@b". Returns malloc'd. */
static char *qualify(const char *addr, const char *myorigin)
{
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
        addr++;
        n -= 2;
    }
    char *out;
    if (n == 0)
        out = strdup("");
    else if (memchr(addr, '@', n))
        out = strndup(addr, n);
    else if (asprintf(&out, "%.*s@%s", (int)n, addr, myorigin) < 0)
        out = NULL;
    if (!out) {
        fprintf(stderr, "postern sendmail: out of memory\n");
        exit(EX_OSERR);
    }
    return out;
}

/* An address that could break the SMTP command line. */
static int addr_unsafe(const char *a)
{
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            return 1;
    return 0;
}

/* ---------- the message ---------- */

struct message {
    struct sbuf raw;           /* input, LF line ends, terminator removed */
    struct sbuf wire;          /* CRLF, dot-stuffed, without the final dot */
    size_t size;               /* content size, unstuffed */
    int eight_bit, header_8bit;
};

/* Read stdin: CR LF and lone CR become LF; without -i a line holding just
 * "." ends the message (and stdin is not read further); a leading mbox
 * "From " line is dropped. -1 when the message is larger than limit. */
static int read_message(struct message *m, int ignore_dots, long long limit)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int first = 1;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        int had_lf = line[len - 1] == '\n';
        if (had_lf)
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (first && len >= 5 && memcmp(line, "From ", 5) == 0) {
            first = 0;
            continue;
        }
        first = 0;
        if (!ignore_dots && len == 1 && line[0] == '.')
            break;
        for (size_t i = 0; i < len; i++)
            if (line[i] == '\r')
                line[i] = '\n';        /* a lone CR ends a line, too */
        sbuf_add(&m->raw, line, len);
        sbuf_char(&m->raw, '\n');
        check_oom(&m->raw);
        if (limit > 0 && (long long)m->raw.len > limit) {
            free(line);
            return -1;
        }
    }
    free(line);
    if (ferror(stdin)) {
        fprintf(stderr, "postern sendmail: reading the message: %s\n", strerror(errno));
        exit(EX_IOERR);
    }
    return 0;
}

/* "Name: value" with an RFC 5322 field name? */
static size_t header_name_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
        i++;
    return i > 0 && i < n && p[i] == ':' ? i : 0;
}

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* One header line plus its continuation lines, as [start, end). */
struct hdr {
    size_t start, end, namelen;
};

static void wire_line(struct message *m, const char *p, size_t n)
{
    if (n > 0 && p[0] == '.')
        sbuf_char(&m->wire, '.');
    sbuf_add(&m->wire, p, n);
    sbuf_add(&m->wire, "\r\n", 2);
    check_oom(&m->wire);
    m->size += n + 2;
}

/* Lines of text (LF separated, last may lack LF) to the wire. */
static void wire_text(struct message *m, const char *p, size_t n)
{
    while (n > 0) {
        const char *lf = memchr(p, '\n', n);
        size_t l = lf ? (size_t)(lf - p) : n;
        wire_line(m, p, l);
        if (!lf)
            break;
        n -= l + 1;
        p += l + 1;
    }
}

static int needs_quoting(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!isalnum(*p) && *p != ' ' && !strchr("!#$%&'*+-/=?^_`{|}~", *p))
            return 1;
    return 0;
}

/* A display name as a phrase: atoms as they are, else a quoted string;
 * non-ASCII as RFC 2047 encoded words (UTF-8, base64, at most 75 chars,
 * never splitting a character). */
static void add_phrase(struct sbuf *out, const char *name_in)
{
    /* control characters (CR LF: header injection) become spaces */
    char name[512];
    snprintf(name, sizeof name, "%s", name_in);
    for (char *q = name; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
    size_t n = strlen(name);
    if (utf8_has_8bit(name, n)) {
        size_t i = 0;
        while (i < n) {
            size_t k = n - i > 45 ? 45 : n - i;
            while (k > 1 && i + k < n && ((unsigned char)name[i + k] & 0xC0) == 0x80)
                k--;
            if (i > 0)
                sbuf_str(out, "\r\n ");
            sbuf_str(out, "=?UTF-8?B?");
            base64_append(out, name + i, k);
            sbuf_str(out, "?=");
            i += k;
        }
        return;
    }
    if (!needs_quoting(name)) {
        sbuf_str(out, name);
        return;
    }
    sbuf_char(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"' || name[i] == '\\')
            sbuf_char(out, '\\');
        sbuf_char(out, name[i]);
    }
    sbuf_char(out, '"');
}

/* Build the wire form: header section (Bcc: removed, From: added when
 * missing), empty line, body. Recipients of To/Cc/Bcc (or the Resent-
 * ones when there are any) go to rcpts when extract is set. */
static void build_message(struct message *m, int extract, struct addrs *rcpts,
                          const char *sender, const char *fullname)
{
    const char *p = m->raw.s ? m->raw.s : "";
    size_t len = m->raw.len, off = 0;
    struct hdr *h = NULL;
    size_t nh = 0, caph = 0;
    /* header section: header lines and their continuations */
    while (off < len) {
        const char *line = p + off;
        const char *lf = memchr(line, '\n', len - off);
        size_t l = lf ? (size_t)(lf - line) : len - off;
        if (l == 0) {
            off += 1;
            break;
        }
        if ((line[0] == ' ' || line[0] == '\t') && nh > 0) {
            h[nh - 1].end = off + l + (lf ? 1 : 0);
        } else {
            size_t nl = header_name_len(line, l);
            if (nl == 0)
                break;                  /* not a header: the body starts */
            if (nh == caph) {
                caph = caph ? caph * 2 : 32;
                h = realloc(h, caph * sizeof *h);
                if (!h) {
                    fprintf(stderr, "postern sendmail: out of memory\n");
                    exit(EX_OSERR);
                }
            }
            h[nh].start = off;
            h[nh].end = off + l + (lf ? 1 : 0);
            h[nh].namelen = nl;
            nh++;
        }
        off += l + (lf ? 1 : 0);
    }
    size_t body = off;

    int have_from = 0, resent = 0;
    for (size_t i = 0; i < nh; i++) {
        const char *nm = p + h[i].start;
        if (name_is(nm, h[i].namelen, "From"))
            have_from = 1;
        if (name_is(nm, h[i].namelen, "Resent-To") || name_is(nm, h[i].namelen, "Resent-Cc") ||
            name_is(nm, h[i].namelen, "Resent-Bcc"))
            resent = 1;
    }
    for (size_t i = 0; i < nh; i++) {
        const char *nm = p + h[i].start;
        size_t nl = h[i].namelen;
        int bcc = name_is(nm, nl, "Bcc") || name_is(nm, nl, "Resent-Bcc");
        if (extract) {
            int take = resent ? (name_is(nm, nl, "Resent-To") || name_is(nm, nl, "Resent-Cc") ||
                                 name_is(nm, nl, "Resent-Bcc"))
                              : (name_is(nm, nl, "To") || name_is(nm, nl, "Cc") ||
                                 name_is(nm, nl, "Bcc"));
            if (take)
                parse_address_list(nm + nl + 1, h[i].end - h[i].start - nl - 1, rcpts);
        }
        if (bcc)
            continue;                   /* blind copies stay blind */
        if (utf8_has_8bit(p + h[i].start, h[i].end - h[i].start))
            m->header_8bit = 1;
        wire_text(m, p + h[i].start, h[i].end - h[i].start);
    }
    if (!have_from && sender[0]) {
        struct sbuf f = SBUF_INIT;
        sbuf_str(&f, "From: ");
        if (fullname && fullname[0]) {
            add_phrase(&f, fullname);
            sbuf_str(&f, " <");
            sbuf_str(&f, sender);
            sbuf_str(&f, ">");
        } else {
            sbuf_str(&f, sender);
        }
        check_oom(&f);
        sbuf_add(&m->wire, f.s, f.len);
        sbuf_add(&m->wire, "\r\n", 2);
        check_oom(&m->wire);
        m->size += f.len + 2;
        if (utf8_has_8bit(f.s, f.len))
            m->header_8bit = 1;
        sbuf_free(&f);
    }
    /* the empty line: kept, or added before a body that had none */
    sbuf_add(&m->wire, "\r\n", 2);
    check_oom(&m->wire);
    m->size += 2;
    wire_text(m, p + body, len - body);
    m->eight_bit = utf8_has_8bit(m->wire.s, m->wire.len);
    free(h);
}

/* ---------- SMTP client ---------- */

struct client {
    int fd;
    int verbose;
    char in[REPLY_MAX];
    size_t inlen;
    char reply[REPLY_MAX];       /* last reply, lines joined by "\n" */
    int code;
};

enum { RP_OK = 0, RP_EOF = -1, RP_TIMEOUT = -2, RP_PROTO = -3 };

/* Read one reply (multi-line) into c->reply / c->code. */
static int read_reply(struct client *c)
{
    size_t rl = 0;
    c->reply[0] = '\0';
    c->code = 0;
    for (;;) {
        char *lf = memchr(c->in, '\n', c->inlen);
        if (lf) {
            size_t l = (size_t)(lf - c->in);
            size_t ll = l > 0 && c->in[l - 1] == '\r' ? l - 1 : l;
            if (c->verbose)
                fprintf(stderr, "<<< %.*s\n", (int)ll, c->in);
            if (ll < 3 || !isdigit((unsigned char)c->in[0]) ||
                !isdigit((unsigned char)c->in[1]) || !isdigit((unsigned char)c->in[2]) ||
                (ll > 3 && c->in[3] != ' ' && c->in[3] != '-'))
                return RP_PROTO;
            int code = (c->in[0] - '0') * 100 + (c->in[1] - '0') * 10 + (c->in[2] - '0');
            int more = ll > 3 && c->in[3] == '-';
            if (rl + ll + 2 < sizeof c->reply) {
                if (rl)
                    c->reply[rl++] = '\n';
                memcpy(c->reply + rl, c->in, ll);
                rl += ll;
                c->reply[rl] = '\0';
            }
            memmove(c->in, lf + 1, c->inlen - l - 1);
            c->inlen -= l + 1;
            if (!more) {
                c->code = code;
                return RP_OK;
            }
            continue;
        }
        if (c->inlen == sizeof c->in)
            return RP_PROTO;              /* a line longer than any reply */
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        int pr = poll(&pfd, 1, REPLY_TIMEOUT * 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return RP_TIMEOUT;
        ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return RP_EOF;
        c->inlen += (size_t)n;
    }
}

/* Exit status for a failure at `stage` (rc from read_reply, or a reply). */
static int fail(struct client *c, int rc, const char *stage, int ex5xx)
{
    if (rc == RP_EOF) {
        fprintf(stderr, "postern sendmail: %s: connection closed by the daemon\n", stage);
        return EX_TEMPFAIL;
    }
    if (rc == RP_TIMEOUT) {
        fprintf(stderr, "postern sendmail: %s: no reply from the daemon within %ds\n", stage,
                REPLY_TIMEOUT);
        return EX_TEMPFAIL;
    }
    if (rc == RP_PROTO) {
        fprintf(stderr, "postern sendmail: %s: malformed reply from the daemon\n", stage);
        return EX_SOFTWARE;
    }
    fprintf(stderr, "postern sendmail: %s: %s\n", stage, c->reply);
    if (c->code >= 400 && c->code < 500)
        return EX_TEMPFAIL;
    if (c->code >= 500 && c->code < 600)
        return ex5xx;
    return EX_SOFTWARE;
}

/* Send a command line and read the reply. rc as read_reply. */
static int command(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int command(struct client *c, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return RP_PROTO;
    if (c->verbose)
        fprintf(stderr, ">>> %s\n", line);
    memcpy(line + n, "\r\n", 2);
    if (fs_write_all(c->fd, line, (size_t)n + 2) < 0)
        return read_reply(c);            /* it may have said why it closed */
    return read_reply(c);
}

static int connect_submit(const char *path)
{
    int fd = unixsock_connect(path);
    if (fd < 0) {
        int e = errno;
        fprintf(stderr, "postern sendmail: cannot connect to %s: %s%s\n", path, strerror(e),
                e == ENOENT || e == ECONNREFUSED ? " (is `postern serve` running?)" : "");
    }
    return fd;
}

/* -bs: SMTP on stdin/stdout, relayed to the submission socket as is. */
static int relay_stdio(const char *path)
{
    int fd = connect_submit(path);
    if (fd < 0)
        return EX_UNAVAILABLE;
    struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
    char b[16384];
    int in_open = 1;
    for (;;) {
        p[0].fd = in_open ? 0 : -1;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            ssize_t n = read(fd, b, sizeof b);
            if (n <= 0)
                break;                    /* the daemon closed: done */
            if (fs_write_all(1, b, (size_t)n) < 0)
                break;
        }
        if (in_open && p[0].revents) {
            ssize_t n = read(0, b, sizeof b);
            if (n <= 0) {
                in_open = 0;
                shutdown(fd, SHUT_WR);
            } else if (fs_write_all(fd, b, (size_t)n) < 0) {
                in_open = 0;
            }
        }
    }
    close(fd);
    return 0;
}

static int submit(const struct config *cfg, const struct sm_opts *o, const char *sender,
                  struct addrs *rcpts, struct message *m)
{
    int smtputf8 = m->header_8bit || utf8_has_8bit(sender, strlen(sender));
    for (size_t i = 0; i < rcpts->n; i++)
        smtputf8 |= utf8_has_8bit(rcpts->v[i], strlen(rcpts->v[i]));
    struct client c;
    memset(&c, 0, sizeof c);
    c.verbose = o->verbose;
    c.fd = connect_submit(cfg->submit_socket);
    if (c.fd < 0)
        return EX_UNAVAILABLE;
    int rc, ex = 0;
    if ((rc = read_reply(&c)) != RP_OK || c.code != 220) {
        ex = fail(&c, rc, "greeting", EX_UNAVAILABLE);
        goto out;
    }
    if ((rc = command(&c, "EHLO localhost")) != RP_OK || c.code != 250) {
        ex = fail(&c, rc, "EHLO", EX_UNAVAILABLE);
        goto out;
    }
    if ((rc = command(&c, "MAIL FROM:<%s> SIZE=%zu%s%s", sender, m->size,
                      m->eight_bit ? " BODY=8BITMIME" : "", smtputf8 ? " SMTPUTF8" : "")) !=
            RP_OK || c.code != 250) {
        ex = fail(&c, rc, "sender", EX_DATAERR);
        goto out;
    }
    for (size_t i = 0; i < rcpts->n; i++) {
        if ((rc = command(&c, "RCPT TO:<%s>", rcpts->v[i])) != RP_OK || c.code != 250) {
            char stage[600];
            snprintf(stage, sizeof stage, "recipient <%.500s>", rcpts->v[i]);
            ex = fail(&c, rc, stage, EX_DATAERR);
            goto out;
        }
    }
    if ((rc = command(&c, "DATA")) != RP_OK || c.code != 354) {
        ex = fail(&c, rc, "DATA", EX_SOFTWARE);
        goto out;
    }
    if (c.verbose)
        fprintf(stderr, ">>> (%zu bytes of message)\n>>> .\n", m->size);
    sbuf_add(&m->wire, ".\r\n", 3);
    check_oom(&m->wire);
    fs_write_all(c.fd, m->wire.s, m->wire.len);   /* a failure shows in the reply */
    if ((rc = read_reply(&c)) != RP_OK || c.code != 250) {
        ex = fail(&c, rc, "message", EX_DATAERR);
        goto out;
    }
    /* accepted and durable; QUIT is a courtesy */
    command(&c, "QUIT");
out:
    close(c.fd);
    return ex;
}

static char *default_sender(const struct config *cfg, const char **gecos)
{
    struct passwd *pw = getpwuid(getuid());
    char *s;
    *gecos = NULL;
    if (pw) {
        if (pw->pw_gecos && pw->pw_gecos[0] && pw->pw_gecos[0] != ',')
            *gecos = pw->pw_gecos;
        if (asprintf(&s, "%s@%s", pw->pw_name, cfg->myorigin) < 0)
            s = NULL;
    } else if (asprintf(&s, "uid%lu@%s", (unsigned long)getuid(), cfg->myorigin) < 0) {
        s = NULL;
    }
    if (!s) {
        fprintf(stderr, "postern sendmail: out of memory\n");
        exit(EX_OSERR);
    }
    return s;
}

int cli_sendmail(int argc, char **argv)
{
    struct sm_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    switch (o.mode) {
    case MODE_LIST:
        return cli_queue_list(o.config);
    case MODE_FLUSH:
        return cli_queue_request(o.config, "flush", NULL);
    case MODE_NOOP:
        return 0;
    default:
        break;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    struct config *cfg = config_load(cli_config_path(o.config), err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "postern sendmail: %s\n", err);
        return EX_CONFIG;
    }
    if (!cfg->submit_socket[0]) {
        fprintf(stderr, "postern sendmail: local submission is disabled (submit_socket is "
                        "empty)\n");
        config_free(cfg);
        return EX_UNAVAILABLE;
    }
    if (o.mode == MODE_SMTP) {
        rc = relay_stdio(cfg->submit_socket);
        config_free(cfg);
        return rc;
    }

    struct addrs rcpts = { 0 }, given = { 0 };
    for (int i = 0; i < o.nrcpt_args; i++)
        parse_address_list(o.rcpt_args[i], strlen(o.rcpt_args[i]), &given);
    if (!o.extract && given.n == 0) {
        config_free(cfg);
        addrs_free(&given);
        return usage_error("no recipients specified (give them as arguments, or use -t)");
    }

    const char *gecos = NULL;
    char *sender;
    if (o.sender)
        sender = qualify(o.sender, cfg->myorigin);
    else
        sender = default_sender(cfg, &gecos);
    const char *fullname = o.fullname;
    char gname[256];
    if (!fullname && getenv("NAME") && getenv("NAME")[0])
        fullname = getenv("NAME");
    if (!fullname && gecos) {
        snprintf(gname, sizeof gname, "%.*s", (int)strcspn(gecos, ","), gecos);
        fullname = gname;
    }

    struct message m;
    memset(&m, 0, sizeof m);
    long long limit = cfg->message_size_limit > 0
                          ? cfg->message_size_limit + cfg->message_size_limit / 4 + 65536
                          : 0;
    if (read_message(&m, o.ignore_dots, limit) < 0) {
        fprintf(stderr, "postern sendmail: message too large (message_size_limit is %lld "
                        "bytes)\n", cfg->message_size_limit);
        rc = EX_DATAERR;
        goto out;
    }
    build_message(&m, o.extract, &given, sender, fullname);
    /* recipients: qualified, without duplicates (first one wins) */
    for (size_t i = 0; i < given.n; i++) {
        char *q = qualify(given.v[i], cfg->myorigin);
        int dup = q[0] == '\0';
        for (size_t j = 0; j < rcpts.n && !dup; j++)
            dup = strcmp(rcpts.v[j], q) == 0;
        if (!dup)
            addrs_add(&rcpts, q, strlen(q));
        free(q);
    }
    if (rcpts.n == 0) {
        fprintf(stderr, "postern sendmail: no recipient addresses found in the message "
                        "header\n");
        rc = EX_USAGE;
        goto out;
    }
    for (size_t i = 0; i < rcpts.n; i++) {
        if (addr_unsafe(rcpts.v[i])) {
            fprintf(stderr, "postern sendmail: bad recipient address: %s\n", rcpts.v[i]);
            rc = EX_DATAERR;
            goto out;
        }
    }
    if (addr_unsafe(sender)) {
        fprintf(stderr, "postern sendmail: bad sender address: %s\n", sender);
        rc = EX_DATAERR;
        goto out;
    }
    rc = submit(cfg, &o, sender, &rcpts, &m);
out:
    sbuf_free(&m.raw);
    sbuf_free(&m.wire);
    addrs_free(&rcpts);
    addrs_free(&given);
    free(sender);
    config_free(cfg);
    return rc;
}

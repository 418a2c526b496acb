/* smtp_reply — the pure parts of the SMTP client: the bounded reply parser,
 * EHLO keywords, nexthop syntax, SASL keys and encodings, and the DATA
 * writer (dot-stuffing, smtp_line_length_limit). */
#include "smtp_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "../util/base64.h"

/* ---------------------------------------------------------------- replies */

void smtp_reply_reset(struct smtp_reply *r)
{
    r->code = 0;
    r->dsn[0] = '\0';
    r->nlines = 0;
    r->len = 0;
    r->complete = 0;
    if (r->text)
        r->text[0] = '\0';
}

void smtp_reply_free(struct smtp_reply *r)
{
    free(r->text);
    memset(r, 0, sizeof *r);
}

size_t smtp_parse_dsn(const char *text, size_t len, char dsn[16])
{
    size_t i = 0;
    dsn[0] = '\0';
    if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return 0;
    i = 2;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < len && text[i] >= '0' && text[i] <= '9' && i - start < 4)
            i++;
        if (i == start || i - start > 3)
            return 0;
        if (part == 0) {
            if (i >= len || text[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < len && text[i] != ' ')
        return 0;
    memcpy(dsn, text, i);
    dsn[i] = '\0';
    return i;
}

static int append(struct smtp_reply *r, const char *s, size_t n)
{
    if (r->len + n + 2 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n + 2)
            cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t)
            return -1;
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len] = '\0';
    return 0;
}

int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
    if (r->complete)
        smtp_reply_reset(r);
    if (len > SMTP_REPLY_LINE_MAX || r->nlines >= SMTP_REPLY_LINES_MAX)
        return -1;
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9')
        return -1;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r->nlines > 0 && code != r->code)
        return -1;
    r->code = code;
    if (r->nlines > 0 && append(r, "\n", 1) < 0)
        return -1;
    if (append(r, line, len) < 0)
        return -1;
    if (r->nlines == 0 && len > 4) {
        char dsn[16];
        if (smtp_parse_dsn(line + 4, len - 4, dsn) && dsn[0] == line[0])
            memcpy(r->dsn, dsn, sizeof dsn);
    }
    r->nlines++;
    if (len == 3 || line[3] == ' ') {
        r->complete = 1;
        return 1;
    }
    return 0;
}

int smtp_reply_parse(struct smtp_reply *r, const char *buf, size_t len, size_t *used)
{
    size_t off = 0;
    *used = 0;
    if (r->complete)
        smtp_reply_reset(r);
    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        if (!nl)
            return len - off > SMTP_REPLY_LINE_MAX + 1 ? -1 : 0;
        size_t n = (size_t)(nl - (buf + off));
        size_t ll = n > 0 && buf[off + n - 1] == '\r' ? n - 1 : n;
        int rc = smtp_reply_feed(r, buf + off, ll);
        off += n + 1;
        if (rc != 0) {
            *used = off;
            return rc;
        }
    }
    return 0;
}

char *smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    /* "..." marks a cut, in the last bytes of the room (fewer if the room
     * is smaller than that) */
    size_t room = outlen - 1, o = 0;
    int cut = r->len > room;
    size_t keep = !cut ? r->len : room > 3 ? room - 3 : 0;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)r->text[i];
        out[o++] = c == '\n' ? ' ' : (c >= 0x20 && c != 0x7f) ? (char)c : '?';
    }
    if (cut) {
        size_t dots = room < 3 ? room : 3;
        memcpy(out + o, "...", dots);
        o += dots;
    }
    out[o] = '\0';
    return out;
}

enum deliver_status smtp_reply_state(int code)
{
    if (code >= 200 && code < 300)
        return DELIVER_SENT;
    if (code >= 500 && code < 600)
        return DELIVER_BOUNCED;
    return DELIVER_DEFERRED;
}

void smtp_reply_dsn(const struct smtp_reply *r, char dsn[16])
{
    char cls = r->code >= 500 ? '5' : r->code >= 400 ? '4' : '2';
    if (r->code >= 300 && r->code < 400)
        cls = '4';      /* unexpected intermediate reply: temporary */
    if (r->dsn[0] == cls) {
        memcpy(dsn, r->dsn, 16);
        return;
    }
    dsn[0] = cls;
    memcpy(dsn + 1, ".0.0", 5);
}

/* ----------------------------------------------------------- EHLO reply */

static int word_eq(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static void auth_mechs(const char *p, const char *end, unsigned *auth)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - w);
        if (n == 0)
            break;
        if (word_eq(w, n, "PLAIN"))
            *auth |= SMTP_AUTH_PLAIN;
        else if (word_eq(w, n, "LOGIN"))
            *auth |= SMTP_AUTH_LOGIN;
        else
            *auth |= SMTP_AUTH_OTHER;
    }
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ext *ext)
{
    memset(ext, 0, sizeof *ext);
    if (!r->text || r->code != 250)
        return;
    const char *p = r->text, *end = r->text + r->len;
    /* skip the first line: "250-host greeting" */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return;
    p = nl + 1;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *k = p + 4 <= le ? p + 4 : le;     /* after "250-" */
        while (k < le && *k == ' ')
            k++;
        const char *kw = k;
        while (k < le && *k != ' ' && *k != '\t' && *k != '=')
            k++;
        size_t n = (size_t)(k - kw);
        if (word_eq(kw, n, "PIPELINING")) {
            ext->flags |= SMTP_EXT_PIPELINING;
        } else if (word_eq(kw, n, "8BITMIME")) {
            ext->flags |= SMTP_EXT_8BITMIME;
        } else if (word_eq(kw, n, "SMTPUTF8")) {
            ext->flags |= SMTP_EXT_SMTPUTF8;
        } else if (word_eq(kw, n, "STARTTLS")) {
            ext->flags |= SMTP_EXT_STARTTLS;
        } else if (word_eq(kw, n, "SIZE")) {
            ext->flags |= SMTP_EXT_SIZE;
            while (k < le && *k == ' ')
                k++;
            unsigned long long v = 0;
            int digits = 0;
            while (k < le && *k >= '0' && *k <= '9' && digits < 19) {
                v = v * 10 + (unsigned)(*k - '0');
                k++;
                digits++;
            }
            if (digits && (k == le || *k == ' '))
                ext->size = v;
        } else if (word_eq(kw, n, "AUTH")) {
            ext->flags |= SMTP_EXT_AUTH;
            if (k < le)
                k++;    /* ' ' or '=' */
            auth_mechs(k, le, &ext->auth);
        }
        p = nl ? nl + 1 : end;
    }
}

/* ------------------------------------------------------------- nexthop */

static int parse_port(const char *s, unsigned *port)
{
    static const struct { const char *name; unsigned port; } svc[] = {
        { "smtp", 25 }, { "submission", 587 }, { "smtps", 465 }, { "submissions", 465 },
    };
    if (!*s)
        return -1;
    for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++)
        if (strcasecmp(s, svc[i].name) == 0) {
            *port = svc[i].port;
            return 0;
        }
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 5)
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (unsigned)v;
    return 0;
}

static int host_ok(const char *h)
{
    if (!*h)
        return 0;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '[' || *p == ']' || *p == '/' || *p == '@')
            return 0;
    return 1;
}

int smtp_nexthop_parse(const char *nexthop, struct smtp_nexthop *nh)
{
    memset(nh, 0, sizeof *nh);
    nh->port = 25;
    if (!nexthop || !*nexthop)
        return -1;
    const char *portp = NULL;
    size_t hl;
    const char *h;
    if (nexthop[0] == '[') {
        const char *close = strchr(nexthop, ']');
        if (!close)
            return -1;
        h = nexthop + 1;
        hl = (size_t)(close - h);
        if (close[1] == ':')
            portp = close + 2;
        else if (close[1] != '\0')
            return -1;
        if (hl >= 5 && strncasecmp(h, "ipv6:", 5) == 0) {
            h += 5;
            hl -= 5;
        }
        nh->mx = 0;
    } else {
        const char *colon = strchr(nexthop, ':');
        if (colon && strchr(colon + 1, ':'))
            return -1;          /* a bare IPv6 address is ambiguous: use [..] */
        h = nexthop;
        hl = colon ? (size_t)(colon - nexthop) : strlen(nexthop);
        if (colon)
            portp = colon + 1;
        nh->mx = 1;
    }
    if (hl == 0 || hl >= sizeof nh->host)
        return -1;
    memcpy(nh->host, h, hl);
    nh->host[hl] = '\0';
    if (portp && parse_port(portp, &nh->port) < 0)
        return -1;
    unsigned char tmp[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, nh->host, tmp) == 1)
        nh->literal = AF_INET;
    else if (inet_pton(AF_INET6, nh->host, tmp) == 1)
        nh->literal = AF_INET6;
    else if (!host_ok(nh->host) || strchr(nh->host, ':'))
        return -1;
    if (nh->literal)
        nh->mx = 0;             /* no MX lookup of an address */
    return 0;
}

size_t smtp_sasl_keys(const char *nexthop, char keys[3][300])
{
    size_t n = 0, len = strlen(nexthop);
    if (len == 0 || len >= 300)
        return 0;
    memcpy(keys[n++], nexthop, len + 1);
    struct smtp_nexthop nh;
    if (smtp_nexthop_parse(nexthop, &nh) < 0)
        return n;
    if (nexthop[0] == '[') {
        const char *close = strchr(nexthop, ']');
        size_t bl = (size_t)(close - nexthop) + 1;
        if (bl != len) {
            memcpy(keys[n], nexthop, bl);
            keys[n++][bl] = '\0';
        }
    }
    if (strcmp(nh.host, keys[n - 1]) != 0 && strcmp(nh.host, keys[0]) != 0) {
        snprintf(keys[n], 300, "%s", nh.host);
        n++;
    }
    return n;
}

int smtp_sasl_split(const char *value, char *user, size_t userlen,
                    char *pass, size_t passlen)
{
    const char *colon = strchr(value, ':');
    if (!colon)
        return -1;
    size_t ul = (size_t)(colon - value), pl = strlen(colon + 1);
    if (ul >= userlen || pl >= passlen)
        return -1;
    memcpy(user, value, ul);
    user[ul] = '\0';
    memcpy(pass, colon + 1, pl + 1);
    return 0;
}

/* ---------------------------------------------------------- encodings */

size_t smtp_auth_plain(const char *user, const char *pass, char *out, size_t outlen)
{
    size_t ul = strlen(user), pl = strlen(pass);
    char buf[1024];
    if (ul + pl + 2 > sizeof buf)
        return 0;
    buf[0] = '\0';
    memcpy(buf + 1, user, ul);
    buf[1 + ul] = '\0';
    memcpy(buf + 2 + ul, pass, pl);
    size_t n = base64_encode(buf, ul + pl + 2, out, outlen);
    OPENSSL_cleanse(buf, sizeof buf);
    return n == (size_t)-1 ? 0 : n;
}

void smtp_body_init(struct smtp_body *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    /* after a break the SPACE alone would fill a line of 1: no progress */
    b->limit = limit == 1 ? 2 : limit;
    b->bol = 1;
}

size_t smtp_body_max(const struct smtp_body *b, size_t inlen)
{
    /* every byte, a held CR, a doubled dot per '.', and a break before at
     * most every limit-1 bytes (the first may come at once: col == limit) */
    size_t breaks = b->limit ? (inlen + 1) / (b->limit - 1) + 1 : 0;
    return 1 + 2 * inlen + 3 * breaks;
}

/* Bytes of one line (no CR, no LF): the doubled dot at the line's start,
 * and CR LF SPACE wherever the line has reached the limit and goes on. */
static size_t body_text(struct smtp_body *b, const char *p, size_t n, char *out)
{
    size_t o = 0;
    while (n > 0) {
        if (b->limit && b->col >= b->limit) {
            memcpy(out + o, "\r\n ", 3);
            o += 3;
            b->col = 1;
            b->breaks++;
        }
        if (b->bol) {
            if (*p == '.' && !b->nostuff)
                out[o++] = '.';
            b->bol = 0;
        }
        size_t k = n;
        if (b->limit && k > b->limit - b->col)
            k = b->limit - b->col;
        memcpy(out + o, p, k);
        o += k;
        p += k;
        n -= k;
        b->col += k;
    }
    return o;
}

size_t smtp_body_write(struct smtp_body *b, const char *in, size_t inlen, char *out)
{
    size_t o = 0, i = 0;
    while (i < inlen) {
        if (b->cr) {
            b->cr = 0;
            if (in[i] == '\n') {
                memcpy(out + o, "\r\n", 2);
                o += 2;
                i++;
                b->col = 0;
                b->bol = 1;
                continue;
            }
            o += body_text(b, "\r", 1, out + o);
        }
        if (in[i] == '\r') {
            b->cr = 1;
            i++;
        } else if (in[i] == '\n') {
            out[o++] = '\n';
            i++;
            b->col = 0;
            b->bol = 1;
        } else {
            size_t j = i + 1;
            while (j < inlen && in[j] != '\r' && in[j] != '\n')
                j++;
            o += body_text(b, in + i, j - i, out + o);
            i = j;
        }
    }
    return o;
}

size_t smtp_body_end(struct smtp_body *b, char *out)
{
    size_t o = 0;
    if (b->cr) {
        b->cr = 0;
        o += body_text(b, "\r", 1, out);
    }
    if (!b->bol) {
        memcpy(out + o, "\r\n", 2);
        o += 2;
        b->col = 0;
        b->bol = 1;
    }
    memcpy(out + o, ".\r\n", 3);
    return o + 3;
}


int smtp_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            return s6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int smtp_tls_level_parse(const char *s)
{
    static const char *const names[] = { "none", "may", "encrypt", "verify", "secure" };
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

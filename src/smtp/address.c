/* address — pure parser for RFC 5321 / RFC 6531 mailbox paths.
 *
 *   Path      = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l     = At-domain *( "," At-domain )      ; accepted and dropped
 *   Mailbox   = Local-part "@" ( Domain / address-literal )
 *
 * The input is len bytes and is never read past len (it is generally not
 * NUL-terminated). No I/O, no allocation: spans are validated first and
 * only copied into *out once the whole path is known to be good. */
#include "smtp/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>

#include "util/utf8.h"

#define LABEL_MAX 63
#define LITERAL_MAX 63   /* "IPv6:" + 45 chars of text is the longest legal */

struct cur {
    const unsigned char *s;
    size_t len;
    size_t i;
    int flags;
    int utf8;            /* saw a non-ASCII byte */
};

/* RFC 5322 atext minus ALPHA / DIGIT */
static int is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_letdig(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Error for a byte that is not allowed where it is: non-ASCII without
 * SMTPUTF8 is reported as such, everything else is a syntax error. */
static enum addr_status bad_byte(const struct cur *c, size_t at)
{
    if (at < c->len && c->s[at] >= 0x80 && !(c->flags & ADDR_ALLOW_UTF8))
        return ADDR_ERR_UTF8;
    return ADDR_ERR_SYNTAX;
}

/* Consume one UTF-8 character at c->i (whose first byte is >= 0x80). */
static enum addr_status take_utf8(struct cur *c)
{
    size_t n;

    if (!(c->flags & ADDR_ALLOW_UTF8))
        return ADDR_ERR_UTF8;
    uint32_t cp;
    n = utf8_decode(c->s + c->i, c->len - c->i, &cp);
    if (n < 2)          /* malformed (an ASCII byte never gets here) */
        return ADDR_ERR_UTF8;
    c->i += n;
    c->utf8 = 1;
    return ADDR_OK;
}

/* Local-part = Dot-string / Quoted-string, kept as given. */
static enum addr_status parse_local(struct cur *c)
{
    size_t start = c->i;
    enum addr_status st;

    if (c->i < c->len && c->s[c->i] == '"') {
        c->i++;
        for (;;) {
            unsigned char ch;
            if (c->i >= c->len)
                return ADDR_ERR_SYNTAX;     /* unterminated */
            ch = c->s[c->i];
            if (ch == '"') {
                c->i++;
                break;
            }
            if (ch == '\\') {
                /* quoted-pairSMTP = %d92 %d32-126 */
                if (c->i + 1 >= c->len)
                    return ADDR_ERR_SYNTAX;
                if (c->s[c->i + 1] < 32 || c->s[c->i + 1] > 126)
                    return bad_byte(c, c->i + 1);
                c->i += 2;
            } else if (ch >= 0x80) {
                if ((st = take_utf8(c)) != ADDR_OK)
                    return st;
            } else if (ch < 32 || ch == 127) {
                return ADDR_ERR_SYNTAX;
            } else {
                c->i++;                     /* qtextSMTP */
            }
        }
    } else {
        for (;;) {
            size_t atom = c->i;
            while (c->i < c->len) {
                unsigned char ch = c->s[c->i];
                if (is_atext(ch)) {
                    c->i++;
                } else if (ch >= 0x80) {
                    if ((st = take_utf8(c)) != ADDR_OK)
                        return st;
                } else {
                    break;
                }
            }
            if (c->i == atom)               /* empty, leading or double dot */
                return ADDR_ERR_SYNTAX;
            if (c->i < c->len && c->s[c->i] == '.') {
                c->i++;
                continue;
            }
            break;
        }
    }
    if (c->i - start > ADDR_LOCAL_MAX)
        return ADDR_ERR_TOO_LONG;
    return ADDR_OK;
}

/* address-literal: "[" IPv4 "]" or "[IPv6:" IPv6 "]"; c->i is at '['. */
static enum addr_status parse_literal(struct cur *c)
{
    char buf[LITERAL_MAX + 1];
    size_t start, n;
    struct in6_addr a6;
    struct in_addr a4;

    c->i++;
    start = c->i;
    for (;;) {
        unsigned char ch;
        if (c->i >= c->len)
            return ADDR_ERR_SYNTAX;
        ch = c->s[c->i];
        if (ch == ']')
            break;
        /* dtext = %d33-90 / %d94-126 */
        if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
            return bad_byte(c, c->i);
        c->i++;
    }
    n = c->i - start;
    c->i++;                                 /* ']' */
    if (n == 0 || n > LITERAL_MAX)
        return ADDR_ERR_SYNTAX;
    memcpy(buf, c->s + start, n);
    buf[n] = '\0';
    if (n > 5 && strncasecmp(buf, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, buf + 5, &a6) == 1 ? ADDR_OK : ADDR_ERR_SYNTAX;
    /* anything else with a tag is a General-address-literal: refused */
    return inet_pton(AF_INET, buf, &a4) == 1 ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/* Domain = sub-domain *("." sub-domain) / address-literal.
 * sub-domain = Let-dig [Ldh-str] / U-label (RFC 6531). */
static enum addr_status parse_domain(struct cur *c, int *literal)
{
    size_t start = c->i;
    enum addr_status st;

    *literal = 0;
    if (c->i < c->len && c->s[c->i] == '[') {
        if ((st = parse_literal(c)) != ADDR_OK)
            return st;
        *literal = 1;
    } else {
        for (;;) {
            size_t label = c->i;
            while (c->i < c->len) {
                unsigned char ch = c->s[c->i];
                if (is_letdig(ch) || ch == '-') {
                    c->i++;
                } else if (ch >= 0x80) {
                    if ((st = take_utf8(c)) != ADDR_OK)
                        return st;
                } else {
                    break;
                }
            }
            if (c->i == label)              /* empty: "..", ".x", "x." */
                return ADDR_ERR_SYNTAX;
            if (c->s[label] == '-' || c->s[c->i - 1] == '-')
                return ADDR_ERR_SYNTAX;
            if (c->i - label > LABEL_MAX)
                return ADDR_ERR_TOO_LONG;
            if (c->i < c->len && c->s[c->i] == '.') {
                c->i++;
                continue;
            }
            break;
        }
    }
    if (c->i - start > ADDR_DOMAIN_MAX)
        return ADDR_ERR_TOO_LONG;
    return ADDR_OK;
}

/* A-d-l ":" — c->i is at the first '@'. */
static enum addr_status parse_route(struct cur *c)
{
    enum addr_status st;
    int literal;

    for (;;) {
        if (c->i >= c->len || c->s[c->i] != '@')
            return bad_byte(c, c->i);
        c->i++;
        if ((st = parse_domain(c, &literal)) != ADDR_OK)
            return st;
        if (c->i < c->len && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->len && c->s[c->i] == ':') {
            c->i++;
            return ADDR_OK;
        }
        return bad_byte(c, c->i);
    }
}

enum addr_status address_parse(const char *s, size_t len, int flags,
                               struct address *out, size_t *consumed)
{
    struct cur c;
    enum addr_status st;
    size_t lstart, llen, dstart, dlen;
    int bracket = 0, literal = 0;

    memset(out, 0, sizeof *out);
    if (consumed)
        *consumed = 0;
    if (s == NULL)
        return ADDR_ERR_SYNTAX;

    c.s = (const unsigned char *)s;
    c.len = len;
    c.i = 0;
    c.flags = flags;
    c.utf8 = 0;

    if (len > 0 && c.s[0] == '<') {
        bracket = 1;
        c.i = 1;
        if (c.i < len && c.s[c.i] == '>') {
            if (!(flags & ADDR_ALLOW_NULL))
                return ADDR_ERR_NULL;
            out->is_null = 1;
            if (consumed)
                *consumed = 2;
            return ADDR_OK;
        }
        if (c.i < len && c.s[c.i] == '@') {
            if ((st = parse_route(&c)) != ADDR_OK)
                return st;
        }
    } else if (!(flags & ADDR_ALLOW_NOBRACKET)) {
        return bad_byte(&c, 0);
    }

    lstart = c.i;
    if ((st = parse_local(&c)) != ADDR_OK)
        return st;
    llen = c.i - lstart;
    if (c.i >= len || c.s[c.i] != '@')
        return bad_byte(&c, c.i);
    c.i++;
    dstart = c.i;
    if ((st = parse_domain(&c, &literal)) != ADDR_OK)
        return st;
    dlen = c.i - dstart;

    if (bracket) {
        if (c.i >= len || c.s[c.i] != '>')
            return bad_byte(&c, c.i);
        c.i++;
    } else if (c.i < len && c.s[c.i] != ' ' && c.s[c.i] != '\t') {
        return bad_byte(&c, c.i);
    }

    /* RFC 5321 4.5.3.1.3: the path, brackets included and the dropped
     * source route excluded, is at most 256 octets. */
    if (llen + 1 + dlen + 2 > ADDR_PATH_MAX)
        return ADDR_ERR_TOO_LONG;

    memcpy(out->local, s + lstart, llen);
    out->local[llen] = '\0';
    memcpy(out->domain, s + dstart, dlen);
    out->domain[dlen] = '\0';
    memcpy(out->full, s + lstart, llen);
    out->full[llen] = '@';
    memcpy(out->full + llen + 1, s + dstart, dlen);
    out->full[llen + 1 + dlen] = '\0';
    out->domain_is_literal = literal;
    out->has_utf8 = c.utf8;
    if (consumed)
        *consumed = c.i;
    return ADDR_OK;
}

const char *address_strerror(enum addr_status st)
{
    switch (st) {
    case ADDR_OK:           return "Address OK";
    case ADDR_ERR_SYNTAX:   return "Bad address syntax";
    case ADDR_ERR_TOO_LONG: return "Address too long";
    case ADDR_ERR_UTF8:     return "Non-ASCII address requires SMTPUTF8 and well-formed UTF-8";
    case ADDR_ERR_NULL:     return "Null address not allowed here";
    }
    return "Bad address";
}

/* mime7bit — 8BITMIME downgrading; see mime7bit.h for the rules. */
#include "mime7bit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/base64.h"
#include "../util/sbuf.h"
#include "../util/utf8.h"

#define VALUE_MAX 2048          /* bytes of a Content-Type value looked at */
#define BOUNDARY_MAX 200        /* RFC 2046 allows 70; be lenient */
#define QP_LINE 76
#define B64_LINE_BYTES (QP_LINE / 4 * 3)    /* 76 characters of base64 */

enum cte { CTE_ABSENT, CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_QP, CTE_BASE64, CTE_OTHER };
enum ctype { CT_TEXT, CT_MULTIPART, CT_RFC822, CT_MESSAGE, CT_OTHER };

/* One parsed header section. Offsets are relative to the entity. */
struct ent {
    size_t hdr_end;             /* end of the last header field */
    size_t body;                /* start of the body (after the empty line) */
    int has_sep;                /* an empty line separates them */
    int has_ct, has_mv;
    enum cte cte;               /* of the first Content-Transfer-Encoding field */
    int ncte;                   /* number of such fields */
    enum ctype ct;
    int digest;                 /* multipart/digest */
    char boundary[BOUNDARY_MAX + 1];
    size_t blen;                /* 0: no boundary parameter */
};

/* ------------------------------------------------------------ helpers */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Index just past the line that starts at i (after its LF), or n. */
static size_t next_line(const unsigned char *p, size_t n, size_t i)
{
    const unsigned char *lf = memchr(p + i, '\n', n - i);
    return lf ? (size_t)(lf - p) + 1 : n;
}

/* ------------------------------------------------------ header fields */

/* The header field starting at i: name [i, i+*namelen), value from *value
 * to the returned end (after the field's last LF, or n). Returns 0 when the
 * line at i is not a header field (the body starts there). */
static size_t field_at(const unsigned char *p, size_t n, size_t i, size_t *namelen,
                       size_t *value)
{
    size_t j = i;
    while (j < n && p[j] >= 33 && p[j] <= 126 && p[j] != ':')
        j++;
    if (j == i)
        return 0;
    size_t name_end = j;
    while (j < n && (p[j] == ' ' || p[j] == '\t'))
        j++;
    if (j >= n || p[j] != ':')
        return 0;
    *namelen = name_end - i;
    *value = j + 1;
    size_t e = next_line(p, n, i);
    while (e < n && (p[e] == ' ' || p[e] == '\t'))
        e = next_line(p, n, e);
    return e;
}

/* Unfold a value into buf (CR and LF left out), at most VALUE_MAX bytes. */
static size_t unfold(const unsigned char *p, size_t from, size_t to, char *buf)
{
    size_t k = 0;
    for (size_t i = from; i < to && k < VALUE_MAX; i++)
        if (p[i] != '\r' && p[i] != '\n')
            buf[k++] = (char)p[i];
    return k;
}

/* Skip white space and (nested) comments. */
static size_t cfws(const char *v, size_t n, size_t i)
{
    int depth = 0;
    while (i < n) {
        char c = v[i];
        if (depth > 0) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            i++;
        } else if (c == ' ' || c == '\t') {
            i++;
        } else if (c == '(') {
            depth = 1;
            i++;
        } else {
            break;
        }
    }
    return i;
}

static int tspecial(char c)
{
    return (unsigned char)c <= ' ' || c == 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static size_t token(const char *v, size_t n, size_t i)
{
    while (i < n && !tspecial(v[i]))
        i++;
    return i;
}

static enum cte parse_cte(const char *v, size_t n)
{
    size_t i = cfws(v, n, 0);
    size_t e = token(v, n, i);
    const char *t = v + i;
    size_t tl = e - i;
    if (tl == 0)
        return CTE_7BIT;        /* empty: the default */
    if (ieq(t, tl, "7bit"))
        return CTE_7BIT;
    if (ieq(t, tl, "8bit"))
        return CTE_8BIT;
    if (ieq(t, tl, "binary"))
        return CTE_BINARY;
    if (ieq(t, tl, "quoted-printable"))
        return CTE_QP;
    if (ieq(t, tl, "base64"))
        return CTE_BASE64;
    return CTE_OTHER;
}

/* type "/" subtype *(";" attribute "=" value); an unparsable value is
 * text/plain (RFC 2045 5.2). */
static void parse_ct(const char *v, size_t n, struct ent *e)
{
    size_t i = cfws(v, n, 0);
    size_t te = token(v, n, i);
    size_t ts = i;
    i = cfws(v, n, te);
    if (te == ts || i >= n || v[i] != '/') {
        e->ct = CT_TEXT;
        return;
    }
    i = cfws(v, n, i + 1);
    size_t ss = i, se = token(v, n, i);
    if (se == ss) {
        e->ct = CT_TEXT;
        return;
    }
    const char *type = v + ts, *sub = v + ss;
    size_t tl = te - ts, sl = se - ss;
    if (ieq(type, tl, "text")) {
        e->ct = CT_TEXT;
    } else if (ieq(type, tl, "multipart")) {
        e->ct = CT_MULTIPART;
        e->digest = ieq(sub, sl, "digest");
    } else if (ieq(type, tl, "message")) {
        e->ct = ieq(sub, sl, "rfc822") ? CT_RFC822 : CT_MESSAGE;
    } else {
        e->ct = CT_OTHER;
    }
    i = se;
    for (;;) {
        i = cfws(v, n, i);
        if (i >= n || v[i] != ';')
            return;
        i = cfws(v, n, i + 1);
        size_t as = i, ae = token(v, n, i);
        i = cfws(v, n, ae);
        if (i >= n || v[i] != '=')
            return;
        i = cfws(v, n, i + 1);
        char val[BOUNDARY_MAX + 1];
        size_t vl = 0;
        int toolong = 0;
        if (i < n && v[i] == '"') {
            for (i++; i < n && v[i] != '"'; i++) {
                if (v[i] == '\\' && i + 1 < n)
                    i++;
                if (vl < BOUNDARY_MAX)
                    val[vl++] = v[i];
                else
                    toolong = 1;
            }
            if (i < n)
                i++;            /* closing quote */
        } else {
            size_t ve = token(v, n, i);
            if (ve - i > BOUNDARY_MAX)
                toolong = 1;
            else {
                memcpy(val, v + i, ve - i);
                vl = ve - i;
            }
            i = ve;
        }
        if (ieq(v + as, ae - as, "boundary") && e->blen == 0 && !toolong && vl > 0) {
            memcpy(e->boundary, val, vl);
            e->boundary[vl] = '\0';
            e->blen = vl;
        }
    }
}

/* Parse the header section of the entity p[0, n). */
static void parse_entity(const unsigned char *p, size_t n, struct ent *e, int digest_default)
{
    memset(e, 0, sizeof *e);
    e->ct = digest_default ? CT_RFC822 : CT_TEXT;
    size_t i = 0;
    while (i < n) {
        if (p[i] == '\n' || (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')) {
            e->hdr_end = i;
            e->body = p[i] == '\n' ? i + 1 : i + 2;
            e->has_sep = 1;
            return;
        }
        size_t namelen, value;
        size_t end = field_at(p, n, i, &namelen, &value);
        if (!end)
            break;              /* not a header field: the body starts here */
        const char *name = (const char *)p + i;
        char buf[VALUE_MAX];
        if (ieq(name, namelen, "Content-Type")) {
            if (!e->has_ct) {
                e->has_ct = 1;
                e->ct = CT_TEXT;
                parse_ct(buf, unfold(p, value, end, buf), e);
            }
        } else if (ieq(name, namelen, "Content-Transfer-Encoding")) {
            if (e->ncte++ == 0)
                e->cte = parse_cte(buf, unfold(p, value, end, buf));
        } else if (ieq(name, namelen, "MIME-Version")) {
            e->has_mv = 1;
        }
        i = end;
    }
    e->hdr_end = e->body = i;
}

/* Copy the header section, the first Content-Transfer-Encoding field
 * replaced by cte (when not NULL; further ones dropped, one added at the
 * end if there was none), MIME-Version and Content-Type added on request. */
static void emit_headers(const unsigned char *p, const struct ent *e, const char *cte,
                         int add_mv, int add_ct, struct sbuf *o)
{
    size_t i = 0;
    int done = 0;
    while (i < e->hdr_end) {
        size_t namelen, value;
        size_t end = field_at(p, e->hdr_end, i, &namelen, &value);
        if (!end)
            break;              /* cannot happen: parse_entity saw fields here */
        if (cte && ieq((const char *)p + i, namelen, "Content-Transfer-Encoding")) {
            if (!done) {
                sbuf_str(o, "Content-Transfer-Encoding: ");
                sbuf_str(o, cte);
                sbuf_str(o, "\r\n");
                done = 1;
            }
        } else {
            sbuf_add(o, p + i, end - i);
            if (p[end - 1] != '\n')
                sbuf_str(o, "\r\n");
        }
        i = end;
    }
    if (add_mv)
        sbuf_str(o, "MIME-Version: 1.0\r\n");
    if (add_ct)
        sbuf_str(o, "Content-Type: text/plain; charset=utf-8\r\n");
    if (cte && !done) {
        sbuf_str(o, "Content-Transfer-Encoding: ");
        sbuf_str(o, cte);
        sbuf_str(o, "\r\n");
    }
}

/* ------------------------------------------------------------ encoders */

static const char hexd[] = "0123456789ABCDEF";

/* Quoted-printable (RFC 2045 6.7); CRLF pairs are hard line breaks. */
static void qp_encode(const unsigned char *p, size_t n, struct sbuf *o)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
            sbuf_add(o, "\r\n", 2);
            col = 0;
            i++;
            continue;
        }
        /* last on its line: at the end, or before a CRLF */
        int last = i + 1 == n || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n');
        char tok[3];
        size_t tl;
        for (;;) {
            int lit = (c >= 33 && c <= 126 && c != '=') ||
                      ((c == ' ' || c == '\t') && !last);
            if (c == '-' && col == 0)
                lit = 0;        /* never a line that looks like a delimiter */
            if (lit) {
                tok[0] = (char)c;
                tl = 1;
            } else {
                tok[0] = '=';
                tok[1] = hexd[c >> 4];
                tok[2] = hexd[c & 15];
                tl = 3;
            }
            /* room for a soft break "=" after it, unless the line ends here */
            if (col + tl <= QP_LINE - 1 || (last && col + tl <= QP_LINE) || col == 0)
                break;
            sbuf_add(o, "=\r\n", 3);
            col = 0;
        }
        sbuf_add(o, tok, tl);
        col += tl;
    }
}

/* Base64 in lines of 76 (57 bytes each); CRLF after the last line iff the
 * body ended with one (in a multipart the delimiter brings its own). */
static void b64_encode(const unsigned char *p, size_t n, struct sbuf *o)
{
    for (size_t i = 0; i < n; i += B64_LINE_BYTES) {
        if (i > 0)
            sbuf_add(o, "\r\n", 2);
        base64_append(o, p + i, n - i < B64_LINE_BYTES ? n - i : B64_LINE_BYTES);
    }
    if (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n')
        sbuf_add(o, "\r\n", 2);
}

/* ---------------------------------------------------------------- walk */

/* A delimiter line "--boundary[--][ \t]*" at line start L? *close for the
 * closing one, *after = start of the next line. */
static int delim_at(const unsigned char *p, size_t n, size_t L, const struct ent *e,
                    int *close, size_t *after)
{
    size_t bl = e->blen;
    if (n - L < 2 + bl || p[L] != '-' || p[L + 1] != '-' || memcmp(p + L + 2, e->boundary, bl))
        return 0;
    size_t k = L + 2 + bl;
    *close = 0;
    if (k + 1 < n && p[k] == '-' && p[k + 1] == '-') {
        *close = 1;
        k += 2;
    }
    while (k < n && (p[k] == ' ' || p[k] == '\t'))
        k++;
    if (k < n && !(p[k] == '\n' || (p[k] == '\r' && (k + 1 == n || p[k + 1] == '\n'))))
        return 0;
    *after = k < n ? next_line(p, n, k) : n;
    return 1;
}

/* The first delimiter line at or after line start from; n if none. */
static size_t find_delim(const unsigned char *p, size_t n, size_t from, const struct ent *e,
                         int *close, size_t *after)
{
    for (size_t L = from; L < n; L = next_line(p, n, L))
        if (delim_at(p, n, L, e, close, after))
            return L;
    return n;
}

static int walk(const unsigned char *p, size_t n, int depth, int is_msg, int digest_default,
                struct sbuf *o, int *conv);

/* Multipart or message/rfc822 labelled 8bit/binary: 7bit after the walk. */
static const char *relabel(const struct ent *e)
{
    return e->cte == CTE_8BIT || e->cte == CTE_BINARY ? "7bit" : NULL;
}

static void emit_sep(const unsigned char *p, const struct ent *e, struct sbuf *o)
{
    sbuf_add(o, p + e->hdr_end, e->body - e->hdr_end);
}

static int walk_multipart(const unsigned char *p, size_t n, const struct ent *e, int close,
                          size_t after, int depth, struct sbuf *o, int *conv)
{
    emit_headers(p, e, relabel(e), 0, 0, o);
    emit_sep(p, e, o);
    sbuf_add(o, p + e->body, after - e->body);       /* preamble, first delimiter */
    size_t pos = after;
    while (!close) {
        size_t next_after = n;
        int next_close = 0;
        size_t next = find_delim(p, n, pos, e, &next_close, &next_after);
        size_t cend = next;
        if (next < n) {
            if (cend >= pos + 2 && p[cend - 2] == '\r' && p[cend - 1] == '\n')
                cend -= 2;
            else if (cend >= pos + 1 && p[cend - 1] == '\n')
                cend -= 1;
        }
        int rc = walk(p + pos, cend - pos, depth + 1, 0, e->digest, o, conv);
        if (rc < 0)
            return rc;
        if (next >= n)
            return 0;           /* no closing delimiter: the part ran to the end */
        sbuf_add(o, p + cend, next_after - cend);
        pos = next_after;
        close = next_close;
    }
    sbuf_add(o, p + pos, n - pos);   /* epilogue */
    return 0;
}

static int walk(const unsigned char *p, size_t n, int depth, int is_msg, int digest_default,
                struct sbuf *o, int *conv)
{
    struct ent e;
    parse_entity(p, n, &e, digest_default);
    int composite_ok = depth < MIME7BIT_DEPTH &&
                       (e.cte == CTE_ABSENT || e.cte == CTE_7BIT || e.cte == CTE_8BIT ||
                        e.cte == CTE_BINARY);
    int text = 1;
    if (e.ct == CT_MULTIPART && composite_ok && e.blen) {
        int close;
        size_t after;
        if (find_delim(p, n, e.body, &e, &close, &after) < n)
            return walk_multipart(p, n, &e, close, after, depth, o, conv);
    } else if (e.ct == CT_RFC822 && composite_ok) {
        emit_headers(p, &e, relabel(&e), 0, 0, o);
        emit_sep(p, &e, o);
        return walk(p + e.body, n - e.body, depth + 1, 1, 0, o, conv);
    } else if (e.ct == CT_OTHER) {
        text = 0;
    }
    /* a leaf (or a multipart that cannot be walked: treated as text) */
    const unsigned char *body = p + e.body;
    size_t blen = n - e.body;
    if (!utf8_has_8bit(body, blen) ||
        !(e.cte == CTE_ABSENT || e.cte == CTE_7BIT || e.cte == CTE_8BIT)) {
        if (e.cte == CTE_BINARY && utf8_has_8bit(body, blen))
            return MIME7BIT_BINARY;
        sbuf_add(o, p, n);
        return 0;
    }
    emit_headers(p, &e, text ? "quoted-printable" : "base64", is_msg && !e.has_mv,
                 is_msg && !e.has_ct, o);
    if (e.has_sep)
        emit_sep(p, &e, o);
    else
        sbuf_add(o, "\r\n", 2);
    if (text)
        qp_encode(body, blen, o);
    else
        b64_encode(body, blen, o);
    *conv = 1;
    return 0;
}

int mime_downgrade_7bit(const char *content, size_t len, char **out, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)content;
    *out = NULL;
    *outlen = 0;
    if (!p || !utf8_has_8bit(p, len))
        return MIME7BIT_NOTHING;
    struct sbuf o = SBUF_INIT;
    int conv = 0;
    int rc = walk(p, len, 0, 1, 0, &o, &conv);
    if (rc == 0 && o.oom)
        rc = MIME7BIT_ENOMEM;
    if (rc < 0 || !conv) {
        sbuf_free(&o);
        return rc < 0 ? rc : MIME7BIT_NOTHING;
    }
    if (!(*out = sbuf_take(&o, outlen)))
        return MIME7BIT_ENOMEM;
    return MIME7BIT_CONVERTED;
}

/* rewrite — sender canonicalisation over the envelope sender and the
 * message header. See rewrite.h. Pure: no I/O, no logging.
 *
 * The header is scanned once: fields are found (with their continuation
 * lines), the address lists of From:, Sender:, Return-Path:, Resent-From:
 * and Resent-Sender: are parsed leniently, and each addr-spec that the map
 * changes becomes an edit (a byte range and its replacement). A second pass
 * copies the message with the edits applied; everything else, the body
 * included, is copied byte for byte. Work is linear in the input size plus
 * the map lookups. */
#include "rewrite.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/maps.h"

/* A value the map gave back is only used if it cannot break the header or
 * the SMTP command it goes into. */
static int result_ok(const char *r)
{
    if (!r || !*r)
        return 0;
    for (const unsigned char *p = (const unsigned char *)r; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            return 0;
    return 1;
}

char *rewrite_envelope_sender_to(const char *account, const char *sender)
{
    if (!account || !result_ok(account) || !sender || !*sender ||
        strcmp(account, sender) == 0)
        return NULL;
    return strdup(account);
}

char *rewrite_envelope_sender(const struct map *m, const char *sender)
{
    if (!m || !sender || !*sender)
        return NULL;
    char *r = map_lookup_address(m, sender);
    if (!r)
        return NULL;
    if (!result_ok(r) || strcmp(r, sender) == 0) {
        free(r);
        return NULL;
    }
    return r;
}

/* ---- growable output ----------------------------------------------------- */

struct obuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void ob_add(struct obuf *b, const char *s, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n) {
            if (nc > SIZE_MAX / 2) {
                nc = b->len + n;
                break;
            }
            nc *= 2;
        }
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* ---- edits ----------------------------------------------------------------- */

struct edit {
    size_t start, end;   /* byte range of content replaced */
    char *repl;          /* replacement (NUL-terminated) */
};

struct edits {
    struct edit *v;
    size_t n, cap;
};

static int edits_push(struct edits *e, size_t start, size_t end, char *repl)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 8;
        struct edit *nv = realloc(e->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        e->v = nv;
        e->cap = nc;
    }
    e->v[e->n].start = start;
    e->v[e->n].end = end;
    e->v[e->n].repl = repl;
    e->n++;
    return 0;
}

static void edits_free(struct edits *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].repl);
    free(e->v);
}

/* ---- address list parsing ---------------------------------------------- */

static int is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip a quoted string starting at v[i] == '"'; returns the index after the
 * closing quote (or n when unterminated). */
static size_t skip_quoted(const char *v, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n)
            i++;
        else if (v[i] == '"')
            return i + 1;
    }
    return n;
}

/* Skip a (nested) comment starting at v[i] == '('. */
static size_t skip_comment(const char *v, size_t i, size_t n)
{
    size_t depth = 0;
    for (; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n)
            i++;
        else if (v[i] == '(')
            depth++;
        else if (v[i] == ')' && --depth == 0)
            return i + 1;
    }
    return n;
}

/* Longer "addresses" are not looked up: SMTP paths are at most 256 octets,
 * and this bounds the work a map's regular expressions do per address. */
#define ADDR_TEXT_MAX 998

/* The text of an addr-spec to look up, or NULL when it does not look like
 * one (empty, too long, line breaks or controls, whitespace outside
 * quotes). */
static char *addr_text(const char *s, size_t n)
{
    int inq = 0;
    if (n == 0 || n > ADDR_TEXT_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == 0 || c == 0x7f ||
            (c < 0x20 && c != '\t'))
            return NULL;
        if (inq && c == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (c == '"')
            inq = !inq;
        else if (!inq && (c == ' ' || c == '\t' || c == '<' || c == '>' ||
                          c == '(' || c == ')' || c == ',' || c == ';'))
            return NULL;
    }
    if (inq)
        return NULL;
    /* an encoded word is a display name, never an address */
    if (n >= 4 && s[0] == '=' && s[1] == '?' && s[n - 2] == '?' && s[n - 1] == '=')
        return NULL;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

struct ctx {
    const struct map *m;
    const char *to;         /* every address becomes this one (m unused) */
    const char *content;
    struct edits *ed;
    int changed;
    int oom;
};

/* Look up content[s..e) and record an edit when the map changes it. */
static void rewrite_span(struct ctx *c, size_t s, size_t e)
{
    char *a = addr_text(c->content + s, e - s);
    if (!a)
        return;
    char *r = c->to ? strdup(c->to) : map_lookup_address(c->m, a);
    if (!r && c->to)
        c->oom = 1;
    if (r && result_ok(r) && strcmp(r, a) != 0) {
        if (edits_push(c->ed, s, e, r) < 0) {
            free(r);
            c->oom = 1;
        } else {
            c->changed = 1;
        }
    } else {
        free(r);
    }
    free(a);
}

/* One mailbox (between separators) of the list: [ms, me). */
struct mbox {
    int has_angle;
    size_t as, ae;          /* angle-addr contents */
    size_t nchunks_at;      /* chunks that contain '@' outside quotes */
    size_t cs, ce;          /* the last such chunk */
    size_t nchunks;
    size_t fs, fe;          /* the first chunk */
};

static void mbox_done(struct ctx *c, struct mbox *mb)
{
    if (mb->has_angle) {
        size_t s = mb->as, e = mb->ae;
        const char *v = c->content;
        while (s < e && is_wsp(v[s]))
            s++;
        while (e > s && is_wsp(v[e - 1]))
            e--;
        /* obsolete route: <@a,@b:user@domain> */
        if (s < e && v[s] == '@') {
            size_t i = s;
            while (i < e && v[i] != ':')
                i++;
            if (i == e)
                goto out;
            s = i + 1;
        }
        rewrite_span(c, s, e);
    } else if (mb->nchunks == 1) {
        rewrite_span(c, mb->fs, mb->fe);
    } else if (mb->nchunks_at == 1) {
        rewrite_span(c, mb->cs, mb->ce);
    }
out:
    memset(mb, 0, sizeof *mb);
}

/* Parse the value content[vs..ve) as an address list. */
static void parse_list(struct ctx *c, size_t vs, size_t ve)
{
    const char *v = c->content;
    struct mbox mb;
    memset(&mb, 0, sizeof mb);
    size_t i = vs;
    while (i < ve && !c->oom) {
        char ch = v[i];
        if (is_wsp(ch)) {
            i++;
        } else if (ch == '(') {
            i = skip_comment(v, i, ve);
        } else if (ch == ',' || ch == ';') {
            mbox_done(c, &mb);
            i++;
        } else if (ch == ':' && !mb.has_angle) {
            /* group: what came before is the group's name */
            memset(&mb, 0, sizeof mb);
            i++;
        } else if (ch == '<') {
            size_t j = i + 1;
            while (j < ve && v[j] != '>') {
                if (v[j] == '"')
                    j = skip_quoted(v, j, ve);
                else
                    j++;
            }
            if (j >= ve) {
                /* unterminated: leave this mailbox alone */
                memset(&mb, 0, sizeof mb);
                return;
            }
            if (!mb.has_angle) {
                mb.has_angle = 1;
                mb.as = i + 1;
                mb.ae = j;
            }
            i = j + 1;
        } else {
            /* a chunk: atoms, quoted strings and specials without
             * whitespace or comments between them */
            size_t s = i;
            int at = 0;
            while (i < ve && !is_wsp(v[i]) && v[i] != '(' && v[i] != ',' &&
                   v[i] != ';' && v[i] != '<' && v[i] != ':') {
                if (v[i] == '"') {
                    i = skip_quoted(v, i, ve);
                } else if (v[i] == '[') {
                    /* domain literal: [IPv6:2001:db8::1] */
                    while (i < ve && v[i] != ']' && !is_wsp(v[i]))
                        i++;
                    if (i < ve && v[i] == ']')
                        i++;
                } else {
                    if (v[i] == '@')
                        at = 1;
                    i++;
                }
            }
            if (i == s) {   /* a lone special such as '>' or ')' */
                i++;
                continue;
            }
            if (mb.nchunks++ == 0) {
                mb.fs = s;
                mb.fe = i;
            }
            if (at) {
                mb.nchunks_at++;
                mb.cs = s;
                mb.ce = i;
            }
        }
    }
    if (!c->oom)
        mbox_done(c, &mb);
}

/* ---- header scanning --------------------------------------------------- */

static size_t line_end(const char *s, size_t i, size_t n)
{
    const char *nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - s) + 1 : n;
}

/* Length of the line ending that [ls, le) ends with. */
static size_t eol_len(const char *s, size_t ls, size_t le)
{
    if (le > ls && s[le - 1] == '\n')
        return (le - 1 > ls && s[le - 2] == '\r') ? 2 : 1;
    return 0;
}

static int name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* Reply-To: value built from the original From: value [vs, ve): leading
 * whitespace dropped, unfolded, unless that makes a line longer than 998
 * octets, in which case the original folding is kept. */
static void add_reply_to_field(struct obuf *o, const char *v, size_t vs,
                               size_t ve, const char *eol, size_t eoll)
{
    while (vs < ve && is_wsp(v[vs]))
        vs++;
    while (ve > vs && is_wsp(v[ve - 1]))
        ve--;
    size_t unfolded = 0;
    for (size_t i = vs; i < ve; i++)
        unfolded += v[i] != '\r' && v[i] != '\n';
    ob_add(o, "Reply-To: ", 10);
    if (unfolded + 10 <= 998) {
        size_t i = vs;
        while (i < ve) {
            size_t j = i;
            while (j < ve && v[j] != '\r' && v[j] != '\n')
                j++;
            ob_add(o, v + i, j - i);
            while (j < ve && (v[j] == '\r' || v[j] == '\n'))
                j++;
            i = j;
        }
    } else {
        ob_add(o, v + vs, ve - vs);
    }
    ob_add(o, eol, eoll);
}

/* rewrite_header_senders and _to: by the map m, or everything to "to". */
static int header_senders(const struct map *m, const char *to, int add_reply_to,
                          const char *content, size_t len, char **out, size_t *outlen)
{
    if ((!m && !to) || !content || len == 0)
        return 0;

    struct edits ed = {0};
    struct ctx c = { m, to, content, &ed, 0, 0 };
    int has_reply_to = 0;
    size_t from_vs = 0, from_ve = 0, from_fe = 0;   /* first changed From: */
    int from_changed = 0;
    const char *eol = NULL;
    size_t eoll = 0;

    size_t i = 0;
    while (i < len && !c.oom) {
        size_t le = line_end(content, i, len);
        size_t el = eol_len(content, i, le);
        if (!eol && el) {
            eol = content + le - el;
            eoll = el;
        }
        if (le - i == el && el > 0)
            break;                          /* empty line: end of header */
        /* the field: this line and its continuation lines */
        size_t fs = i, fe = le;
        while (fe < len && (content[fe] == ' ' || content[fe] == '\t'))
            fe = line_end(content, fe, len);
        i = fe;
        if (content[fs] == ' ' || content[fs] == '\t')
            continue;                       /* continuation of nothing */
        size_t ne = fs;
        while (ne < le && content[ne] != ':' && (unsigned char)content[ne] > ' ' &&
               content[ne] != 0x7f)
            ne++;
        size_t colon = ne;
        while (colon < le && (content[colon] == ' ' || content[colon] == '\t'))
            colon++;
        if (ne == fs || colon >= le || content[colon] != ':')
            continue;                       /* not a header field */
        const char *name = content + fs;
        size_t nl = ne - fs;
        size_t vs = colon + 1, ve = fe - eol_len(content, fs, fe);
        if (name_is(name, nl, "Reply-To")) {
            has_reply_to = 1;
        } else if (name_is(name, nl, "From") || name_is(name, nl, "Sender") ||
                   name_is(name, nl, "Return-Path") ||
                   name_is(name, nl, "Resent-From") ||
                   name_is(name, nl, "Resent-Sender")) {
            int before = c.changed;
            c.changed = 0;
            parse_list(&c, vs, ve);
            if (c.changed && !from_changed && name_is(name, nl, "From")) {
                from_changed = 1;
                from_vs = vs;
                from_ve = ve;
                from_fe = fe;
            }
            c.changed |= before;
        }
    }
    if (c.oom) {
        edits_free(&ed);
        return -1;
    }
    if (!c.changed) {
        edits_free(&ed);
        return 0;
    }
    if (!eol) {
        eol = "\r\n";
        eoll = 2;
    }

    struct obuf o = {0};
    size_t pos = 0;
    int insert = add_reply_to && from_changed && !has_reply_to;
    for (size_t k = 0; k < ed.n; k++) {
        if (insert && from_fe <= ed.v[k].start) {
            ob_add(&o, content + pos, from_fe - pos);
            if (eol_len(content, 0, from_fe) == 0)
                ob_add(&o, eol, eoll);      /* From: was the last line */
            add_reply_to_field(&o, content, from_vs, from_ve, eol, eoll);
            pos = from_fe;
            insert = 0;
        }
        ob_add(&o, content + pos, ed.v[k].start - pos);
        ob_add(&o, ed.v[k].repl, strlen(ed.v[k].repl));
        pos = ed.v[k].end;
    }
    if (insert) {
        ob_add(&o, content + pos, from_fe - pos);
        if (eol_len(content, 0, from_fe) == 0)
            ob_add(&o, eol, eoll);
        add_reply_to_field(&o, content, from_vs, from_ve, eol, eoll);
        pos = from_fe;
    }
    ob_add(&o, content + pos, len - pos);
    edits_free(&ed);
    if (o.oom) {
        free(o.p);
        return -1;
    }
    *out = o.p;
    *outlen = o.len;
    return 1;
}

int rewrite_header_senders(const struct map *m, int add_reply_to,
                           const char *content, size_t len,
                           char **out, size_t *outlen)
{
    return header_senders(m, NULL, add_reply_to, content, len, out, outlen);
}

int rewrite_header_senders_to(const char *account, int add_reply_to,
                              const char *content, size_t len,
                              char **out, size_t *outlen)
{
    if (!account || !result_ok(account))
        return 0;
    return header_senders(NULL, account, add_reply_to, content, len, out, outlen);
}

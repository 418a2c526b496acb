/* cidr — Postfix cidr_table(5) parsing and lookup. See cidr.h. */
#include "cidr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/inet.h"

enum cidr_op { OP_MATCH, OP_IF, OP_ENDIF };

struct cidr_rule {
    enum cidr_op op;
    int negate;
    struct inet_prefix net;
    char *value;                /* OP_MATCH */
    size_t end;                 /* OP_IF: index of its endif */
    long lineno;
};

struct cidr_table {
    struct cidr_rule *v;
    size_t n, cap;
    size_t open[CIDR_MAX_NESTING];      /* indexes of the unclosed ifs */
    size_t depth;
};

struct cidr_table *cidr_table_new(void)
{
    return calloc(1, sizeof(struct cidr_table));
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static struct cidr_rule *push(struct cidr_table *t, char *err, size_t errlen)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        struct cidr_rule *v = realloc(t->v, nc * sizeof *v);
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        t->v = v;
        t->cap = nc;
    }
    struct cidr_rule *r = &t->v[t->n];
    memset(r, 0, sizeof *r);
    return r;
}

/* Parse "[!]network[/len]" of len bytes into r. */
static int parse_pattern(struct cidr_rule *r, const char *p, size_t len, char *err,
                         size_t errlen)
{
    char pat[96], why[200];
    if (len > 0 && p[0] == '!') {
        r->negate = 1;
        p++;
        len--;
    }
    if (len == 0) {
        snprintf(err, errlen, "no address pattern; write e.g. 192.0.2.0/24 or "
                 "2001:db8::/32");
        return -1;
    }
    if (len >= sizeof pat) {
        snprintf(err, errlen, "address pattern \"%.40s...\" is too long", p);
        return -1;
    }
    memcpy(pat, p, len);
    pat[len] = '\0';
    /* Postfix also takes the whole pattern in brackets: "[192.0.2.0/24]" */
    if (len > 2 && pat[0] == '[' && pat[len - 1] == ']' && strchr(pat, '/') &&
        strchr(pat, '/') < pat + len - 1 && strchr(pat, ']') == pat + len - 1) {
        memmove(pat, pat + 1, len - 2);
        pat[len - 2] = '\0';
    }
    if (inet_prefix_parse(pat, &r->net, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

int cidr_table_add_line(struct cidr_table *t, const char *line, long lineno,
                        char *err, size_t errlen)
{
    size_t klen = 0;
    while (line[klen] && !is_blank(line[klen]))
        klen++;
    const char *rest = line + klen;
    while (is_blank(*rest))
        rest++;
    size_t rlen = strlen(rest);
    while (rlen > 0 && is_blank(rest[rlen - 1]))
        rlen--;

    if (klen == 5 && strncmp(line, "endif", 5) == 0) {
        if (rlen > 0) {
            snprintf(err, errlen, "text after endif; put \"endif\" alone on its line");
            return -1;
        }
        if (t->depth == 0) {
            snprintf(err, errlen, "endif without a matching if; remove it");
            return -1;
        }
        struct cidr_rule *r = push(t, err, errlen);
        if (!r)
            return -1;
        r->op = OP_ENDIF;
        r->lineno = lineno;
        t->v[t->open[--t->depth]].end = t->n;
        t->n++;
        return 0;
    }
    if (klen == 2 && strncmp(line, "if", 2) == 0) {
        size_t plen = 0;
        while (plen < rlen && !is_blank(rest[plen]))
            plen++;
        if (plen == 0) {
            snprintf(err, errlen, "if needs a network: \"if 10.0.0.0/8\" (or \"if "
                     "!10.0.0.0/8\"), then the rules, then \"endif\"");
            return -1;
        }
        if (plen < rlen) {
            snprintf(err, errlen, "text after the network of an if; an if takes no "
                     "result: put the rules on the lines up to endif");
            return -1;
        }
        if (t->depth == CIDR_MAX_NESTING) {
            snprintf(err, errlen, "if..endif nested deeper than %d", CIDR_MAX_NESTING);
            return -1;
        }
        struct cidr_rule *r = push(t, err, errlen);
        if (!r || parse_pattern(r, rest, plen, err, errlen) < 0)
            return -1;
        r->op = OP_IF;
        r->lineno = lineno;
        t->open[t->depth++] = t->n;
        t->n++;
        return 0;
    }
    struct cidr_rule *r = push(t, err, errlen);
    if (!r || parse_pattern(r, line, klen, err, errlen) < 0)
        return -1;
    if (rlen == 0) {
        snprintf(err, errlen, "\"%.*s\" has no result; write \"network result\", "
                 "e.g. \"192.0.2.0/24 REJECT\"", (int)(klen > 80 ? 80 : klen), line);
        return -1;
    }
    if (!(r->value = strndup(rest, rlen))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->op = OP_MATCH;
    r->lineno = lineno;
    t->n++;
    return 0;
}

int cidr_table_finish(struct cidr_table *t, long *lineno, char *err, size_t errlen)
{
    if (t->depth == 0)
        return 0;
    *lineno = t->v[t->open[t->depth - 1]].lineno;
    snprintf(err, errlen, "if without endif; add \"endif\" after its rules");
    return -1;
}

static int rule_matches(const struct cidr_rule *r, int family, const unsigned char *addr)
{
    return inet_prefix_match(&r->net, family, addr) != r->negate;
}

const char *cidr_table_lookup(const struct cidr_table *t, const char *key)
{
    unsigned char addr[16];
    int family;
    if (!t || !key || inet_addr_parse(key, &family, addr) < 0)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct cidr_rule *r = &t->v[i];
        if (r->op == OP_MATCH && rule_matches(r, family, addr))
            return r->value;
        if (r->op == OP_IF && !rule_matches(r, family, addr))
            i = r->end;         /* past the block: its endif */
    }
    return NULL;
}

void cidr_table_free(struct cidr_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].value);
    free(t->v);
    free(t);
}

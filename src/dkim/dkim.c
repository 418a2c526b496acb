/* dkim — the signer's configuration: keys per domain, the key table
 * parser, the From: domain (see dkim.h). Signing itself is dkim_sign.c. */
#include "dkim.h"
#include "dkim_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* A field name: printable ASCII but ':' (RFC 5322 ftext). */
static int field_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < 33 || *s > 126 || *s == ':')
            return 0;
    return 1;
}

/* A domain or a selector: labels of letters, digits, '-' and '_', dots
 * between them. */
static int dns_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || (c == '.' && s[i + 1] != '.')))
            return 0;
    }
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

struct dkim_signer *dkim_signer_new(enum dkim_canon hcanon, enum dkim_canon bcanon,
                                    const char *const *headers, size_t n, char *err,
                                    size_t errlen)
{
    if (n > DKIM_HEADERS_MAX) {
        snprintf(err, errlen, "dkim_signed_headers: %zu fields; at most %d", n,
                 DKIM_HEADERS_MAX);
        return NULL;
    }
    struct dkim_signer *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->hcanon = hcanon;
    s->bcanon = bcanon;
    int from = 0;
    for (size_t i = 0; i < n; i++) {
        if (!field_name_ok(headers[i]) || strlen(headers[i]) >= DKIM_NAME_MAX) {
            snprintf(err, errlen, "dkim_signed_headers: \"%.80s\" is not a header field name",
                     headers[i]);
            dkim_signer_free(s);
            return NULL;
        }
        int dup = 0;
        for (size_t k = 0; k < s->nheaders; k++)
            dup |= strcasecmp(s->headers[k], headers[i]) == 0;
        if (dup)
            continue;
        snprintf(s->headers[s->nheaders], DKIM_NAME_MAX, "%s", headers[i]);
        lower(s->headers[s->nheaders]);
        from |= strcmp(s->headers[s->nheaders], "from") == 0;
        s->nheaders++;
    }
    if (!from) {
        /* RFC 6376 5.4: From MUST be signed */
        memmove(s->headers[1], s->headers[0], s->nheaders * sizeof s->headers[0]);
        strcpy(s->headers[0], "from");
        s->nheaders++;
    }
    return s;
}

int dkim_signer_add(struct dkim_signer *s, const char *domain, const char *selector,
                    EVP_PKEY *key, char *err, size_t errlen)
{
    const char *type = dkim_key_type(key);
    if (!dns_name_ok(domain, 253)) {
        snprintf(err, errlen, "\"%.300s\" is not a domain name", domain);
        EVP_PKEY_free(key);
        return -1;
    }
    if (!dns_name_ok(selector, 63 * 2)) {
        snprintf(err, errlen, "\"%.300s\" is not a DKIM selector (letters, digits, '-', '_' "
                 "and dots)", selector);
        EVP_PKEY_free(key);
        return -1;
    }
    if (!type) {
        snprintf(err, errlen, "the key for %s is neither RSA nor Ed25519", domain);
        EVP_PKEY_free(key);
        return -1;
    }
    struct dkim_keyent *k = realloc(s->keys, (s->nkeys + 1) * sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        EVP_PKEY_free(key);
        return -1;
    }
    s->keys = k;
    k = &s->keys[s->nkeys++];
    memset(k, 0, sizeof *k);
    snprintf(k->domain, sizeof k->domain, "%s", domain);
    snprintf(k->selector, sizeof k->selector, "%s", selector);
    lower(k->domain);
    k->key = key;
    k->ed25519 = strcmp(type, "ed25519") == 0;
    return 0;
}

size_t dkim_signer_nkeys(const struct dkim_signer *s)
{
    return s ? s->nkeys : 0;
}

int dkim_signer_has(const struct dkim_signer *s, const char *domain)
{
    for (size_t i = 0; s && i < s->nkeys; i++)
        if (strcasecmp(s->keys[i].domain, domain) == 0)
            return 1;
    return 0;
}

void dkim_signer_free(struct dkim_signer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nkeys; i++)
        EVP_PKEY_free(s->keys[i].key);
    free(s->keys);
    free(s);
}

/* ---------- key table ---------- */

#define KT_LINE_MAX 4096

int dkim_keytable_parse(const char *text, size_t len, const char *name, dkim_keytable_fn *fn,
                        void *arg, char *err, size_t errlen)
{
    size_t lineno = 0, i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        size_t n = e - i;
        if (n > 0 && text[i + n - 1] == '\r')
            n--;
        if (n >= KT_LINE_MAX) {
            snprintf(err, errlen, "%s:%zu: line longer than %d bytes", name, lineno,
                     KT_LINE_MAX);
            return -1;
        }
        char line[KT_LINE_MAX];
        memcpy(line, text + i, n);
        line[n] = '\0';
        i = e + 1;
        char *f[4];
        size_t nf = 0;
        char *p = line;
        while (*p && is_wsp(*p))
            p++;
        if (!*p || *p == '#')
            continue;
        while (*p && nf < 4) {
            f[nf++] = p;
            while (*p && !is_wsp(*p))
                p++;
            if (*p)
                *p++ = '\0';
            while (*p && is_wsp(*p))
                p++;
        }
        char *dom = NULL, *sel = NULL, *file = NULL;
        if (nf == 3 && !*p) {
            dom = f[0];
            sel = f[1];
            file = f[2];
        } else if (nf == 2 && !*p) {
            /* OpenDKIM: keyname domain:selector:keyfile */
            char *c1 = strchr(f[1], ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c2) {
                *c1 = *c2 = '\0';
                dom = f[1];
                sel = c1 + 1;
                file = c2 + 1;
            }
        }
        if (!dom || !*dom || !*sel || !*file) {
            snprintf(err, errlen, "%s:%zu: expected \"domain selector keyfile\" (or OpenDKIM's "
                     "\"keyname domain:selector:keyfile\")", name, lineno);
            return -1;
        }
        if (!dns_name_ok(dom, 253) || !dns_name_ok(sel, 126)) {
            snprintf(err, errlen, "%s:%zu: \"%.200s\" is not a %s", name, lineno,
                     dns_name_ok(dom, 253) ? sel : dom,
                     dns_name_ok(dom, 253) ? "DKIM selector" : "domain name");
            return -1;
        }
        if (file[0] != '/') {
            snprintf(err, errlen, "%s:%zu: key file \"%.200s\" is not an absolute path", name,
                     lineno, file);
            return -1;
        }
        if (fn(arg, dom, sel, file, lineno, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---------- the From: domain ---------- */

int dkim_from_domain(const char *v, size_t len, char *out, size_t outlen)
{
    /* the address: inside the first <> outside quotes and comments, or
     * the first word with an '@' */
    size_t start = 0, end = len;
    int quoted = 0, depth = 0, angle = 0;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = 0;
        } else if (depth) {
            if (c == '\\')
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == '(') {
            depth = 1;
        } else if (c == '<') {
            start = i + 1;
            end = start;
            while (end < len && v[end] != '>')
                end++;
            angle = 1;
            break;
        } else if (c == ',') {
            end = i;        /* a list: the first address */
            break;
        }
    }
    /* the last '@' of the address (outside quotes and comments when the
     * address is not in <>) */
    size_t at = (size_t)-1;
    quoted = depth = 0;
    for (size_t i = start; i < end; i++) {
        char c = v[i];
        if (angle) {
            if (c == '@')
                at = i;
        } else if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = 0;
        } else if (depth) {
            if (c == '\\')
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == '(') {
            if (at != (size_t)-1)
                break;      /* a comment after the address */
            depth = 1;
        } else if (c == '@') {
            at = i;
        }
    }
    if (at == (size_t)-1)
        return -1;
    size_t d = at + 1, e = d;
    while (e < end && v[e] != '>' && v[e] != ')' && v[e] != '(' && v[e] != ',' &&
           v[e] != ';' && !is_wsp(v[e]) && v[e] != '\r' && v[e] != '\n')
        e++;
    if (e > d && v[e - 1] == '.')
        e--;
    if (e == d || e - d >= outlen)
        return -1;
    for (size_t i = d; i < e; i++) {
        char c = v[i];
        out[i - d] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[e - d] = '\0';
    return 0;
}

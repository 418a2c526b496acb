/* authrec — DKIM key and DMARC records, parsed (authrec.h). Pure. */
#include "authrec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TAGS 32

struct tag {
    char name[32];
    const char *v;              /* value, white space trimmed at both ends */
    size_t vlen;
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 6376 3.2 tag=value list (DMARC uses the same). The number of tags,
 * or -1 with err. */
static int tags_parse(const char *s, struct tag *t, int max, char *err, size_t errlen)
{
    int n = 0;
    while (*s) {
        while (is_ws(*s))
            s++;
        if (!*s)
            break;
        const char *semi = strchr(s, ';');
        const char *end = semi ? semi : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        const char *ne = eq ? eq : end;
        while (ne > s && is_ws(ne[-1]))
            ne--;
        size_t nl = (size_t)(ne - s);
        if (!eq || nl == 0 || nl >= sizeof t[0].name || !isalpha((unsigned char)s[0])) {
            snprintf(err, errlen, "\"%.*s\" is not a tag=value pair",
                     (int)((end - s) > 40 ? 40 : (end - s)), s);
            return -1;
        }
        for (size_t i = 0; i < nl; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '_') {
                snprintf(err, errlen, "\"%.*s\" is not a tag name", (int)nl, s);
                return -1;
            }
        if (n == max) {
            snprintf(err, errlen, "more than %d tags", max);
            return -1;
        }
        const char *v = eq + 1, *ve = end;
        while (v < ve && is_ws(*v))
            v++;
        while (ve > v && is_ws(ve[-1]))
            ve--;
        memcpy(t[n].name, s, nl);
        t[n].name[nl] = '\0';
        for (int k = 0; k < n; k++)
            if (strcmp(t[k].name, t[n].name) == 0) {
                snprintf(err, errlen, "tag %s= appears twice", t[n].name);
                return -1;
            }
        t[n].v = v;
        t[n].vlen = (size_t)(ve - v);
        n++;
        s = semi ? semi + 1 : end;
    }
    return n;
}

static const struct tag *tag_find(const struct tag *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

static int tag_is(const struct tag *t, const char *value)
{
    return t->vlen == strlen(value) && strncasecmp(t->v, value, t->vlen) == 0;
}

int authrec_dkim_parse(const char *txt, struct authrec_dkim *out, char *err, size_t errlen)
{
    struct tag t[MAX_TAGS];
    memset(out, 0, sizeof *out);
    int n = tags_parse(txt, t, MAX_TAGS, err, errlen);
    if (n < 0)
        return -1;
    const struct tag *v = tag_find(t, n, "v"), *k = tag_find(t, n, "k"),
                     *p = tag_find(t, n, "p");
    if (v && (v != &t[0] || !(v->vlen == 5 && memcmp(v->v, "DKIM1", 5) == 0))) {
        snprintf(err, errlen, v != &t[0] ? "v= must be the first tag"
                                         : "v=%.*s: the version is DKIM1", (int)v->vlen, v->v);
        return -1;
    }
    if (!p) {
        snprintf(err, errlen, "no p= tag (the public key)");
        return -1;
    }
    snprintf(out->k, sizeof out->k, "rsa");
    if (k) {
        if (k->vlen == 0 || k->vlen >= sizeof out->k) {
            snprintf(err, errlen, "k=%.*s: not a key type", (int)(k->vlen > 20 ? 20 : k->vlen),
                     k->v);
            return -1;
        }
        for (size_t i = 0; i < k->vlen; i++)
            out->k[i] = (char)tolower((unsigned char)k->v[i]);
        out->k[k->vlen] = '\0';
    }
    size_t o = 0;
    for (size_t i = 0; i < p->vlen; i++) {
        char c = p->v[i];
        if (is_ws(c))
            continue;
        if (!isalnum((unsigned char)c) && c != '+' && c != '/' && c != '=') {
            snprintf(err, errlen, "p= is not base64 (byte %zu)", i + 1);
            return -1;
        }
        if (o + 1 >= sizeof out->p) {
            snprintf(err, errlen, "p= longer than %d bytes", AUTHREC_P_MAX - 1);
            return -1;
        }
        out->p[o++] = c;
    }
    out->p[o] = '\0';
    return 0;
}

int authrec_dmarc_like(const char *txt)
{
    while (is_ws(*txt))
        txt++;
    return strncasecmp(txt, "v", 1) == 0 && strstr(txt, "DMARC") != NULL &&
           (size_t)(strstr(txt, "DMARC") - txt) < 6;
}

static int policy_ok(const struct tag *t, char *out, size_t outlen)
{
    static const char *const pol[] = { "none", "quarantine", "reject" };
    for (size_t i = 0; i < 3; i++)
        if (tag_is(t, pol[i])) {
            snprintf(out, outlen, "%s", pol[i]);
            return 1;
        }
    return 0;
}

/* "mailto:a@b.example[!10m], mailto:..." */
static int uris_ok(const struct tag *t, char *err, size_t errlen)
{
    const char *s = t->v, *end = t->v + t->vlen;
    if (t->vlen == 0) {
        snprintf(err, errlen, "%s= is empty: give mailto:ADDRESS", t->name);
        return 0;
    }
    while (s < end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *ue = c ? c : end;
        while (s < ue && is_ws(*s))
            s++;
        const char *e = ue;
        while (e > s && is_ws(e[-1]))
            e--;
        const char *bang = memchr(s, '!', (size_t)(e - s));
        if (bang) {
            const char *q = bang + 1;
            while (q < e && isdigit((unsigned char)*q))
                q++;
            if (q == bang + 1 || (q < e && (q + 1 != e || !strchr("kmgtKMGT", *q)))) {
                snprintf(err, errlen, "%s=: \"%.*s\": the size after '!' is digits and "
                         "k, m, g or t", t->name, (int)(e - s), s);
                return 0;
            }
            e = bang;
        }
        const char *at = memchr(s, '@', (size_t)(e - s));
        if ((size_t)(e - s) < 8 || strncasecmp(s, "mailto:", 7) != 0 || !at ||
            at == s + 7 || at + 1 >= e || !memchr(at, '.', (size_t)(e - at))) {
            snprintf(err, errlen, "%s=: \"%.*s\" is not mailto:ADDRESS", t->name,
                     (int)((e - s) > 80 ? 80 : (e - s)), s);
            return 0;
        }
        for (const char *q = s; q < e; q++)
            if ((unsigned char)*q <= ' ' || *q == ';') {
                snprintf(err, errlen, "%s=: \"%.*s\" has a space", t->name, (int)(e - s), s);
                return 0;
            }
        s = c ? c + 1 : end;
    }
    return 1;
}

int authrec_dmarc_parse(const char *txt, struct authrec_dmarc *out, char *err, size_t errlen)
{
    struct tag t[MAX_TAGS];
    memset(out, 0, sizeof *out);
    out->adkim = out->aspf = 'r';
    out->pct = 100;
    int n = tags_parse(txt, t, MAX_TAGS, err, errlen);
    if (n < 0)
        return -1;
    if (n == 0 || strcmp(t[0].name, "v") != 0 || t[0].vlen != 6 ||
        memcmp(t[0].v, "DMARC1", 6) != 0) {
        snprintf(err, errlen, "the record must start with v=DMARC1");
        return -1;
    }
    size_t wl = 0;
    for (int i = 1; i < n; i++) {
        const struct tag *g = &t[i];
        const char *nm = g->name;
        if (!strcmp(nm, "p") || !strcmp(nm, "sp")) {
            if (!policy_ok(g, nm[0] == 'p' ? out->p : out->sp, sizeof out->p)) {
                snprintf(err, errlen, "%s=%.*s: the policy is none, quarantine or reject", nm,
                         (int)(g->vlen > 30 ? 30 : g->vlen), g->v);
                return -1;
            }
        } else if (!strcmp(nm, "adkim") || !strcmp(nm, "aspf")) {
            if (!tag_is(g, "r") && !tag_is(g, "s")) {
                snprintf(err, errlen, "%s=%.*s: r (relaxed) or s (strict)", nm,
                         (int)(g->vlen > 30 ? 30 : g->vlen), g->v);
                return -1;
            }
            *(nm[1] == 'd' ? &out->adkim : &out->aspf) = (char)tolower((unsigned char)g->v[0]);
        } else if (!strcmp(nm, "pct") || !strcmp(nm, "ri")) {
            long v = 0;
            size_t k = 0;
            for (; k < g->vlen && k < 10 && isdigit((unsigned char)g->v[k]); k++)
                v = v * 10 + (g->v[k] - '0');
            if (k == 0 || k != g->vlen || (nm[0] == 'p' && v > 100)) {
                snprintf(err, errlen, "%s=%.*s: %s", nm, (int)(g->vlen > 30 ? 30 : g->vlen),
                         g->v, nm[0] == 'p' ? "a percentage, 0 to 100" : "seconds, digits");
                return -1;
            }
            if (nm[0] == 'p')
                out->pct = (int)v;
        } else if (!strcmp(nm, "rua") || !strcmp(nm, "ruf")) {
            if (!uris_ok(g, err, errlen))
                return -1;
            snprintf(nm[2] == 'a' ? out->rua : out->ruf, sizeof out->rua, "%.*s",
                     (int)g->vlen, g->v);
        } else if (!strcmp(nm, "fo")) {
            for (size_t k = 0; k < g->vlen; k++)
                if (!strchr("01ds:", g->v[k]) || g->vlen == 0) {
                    snprintf(err, errlen, "fo=%.*s: 0, 1, d or s, separated by ':'",
                             (int)(g->vlen > 30 ? 30 : g->vlen), g->v);
                    return -1;
                }
        } else if (!strcmp(nm, "rf")) {
            if (!tag_is(g, "afrf")) {
                snprintf(err, errlen, "rf=%.*s: the only format is afrf",
                         (int)(g->vlen > 30 ? 30 : g->vlen), g->v);
                return -1;
            }
        } else if (!strcmp(nm, "v")) {
            snprintf(err, errlen, "v= appears twice");
            return -1;
        } else if (wl < sizeof out->warning) {
            /* RFC 7489 6.3: unknown tags are ignored; usually a typo */
            int w = snprintf(out->warning + wl, sizeof out->warning - wl,
                             "%sunknown tag %s= ignored", wl ? "; " : "", nm);
            wl += w > 0 ? (size_t)w : 0;
        }
    }
    if (!out->p[0]) {
        snprintf(err, errlen, "no p= tag: add p=none (reports only), p=quarantine or "
                 "p=reject right after v=DMARC1");
        return -1;
    }
    if (strcmp(t[1].name, "p") != 0 && wl < sizeof out->warning)
        snprintf(out->warning + wl, sizeof out->warning - wl,
                 "%sp= should follow v=DMARC1 directly", wl ? "; " : "");
    return 0;
}

/* The organizational domain, without the public suffix list: the last
 * two labels, or three under a two-letter country code whose second
 * level is generic (example.co.uk, example.com.cn). */
static const char *org_domain(const char *d)
{
    size_t len = strlen(d);
    const char *dots[3] = { NULL, NULL, NULL };
    int nd = 0;
    for (size_t i = len; i > 0 && nd < 3; i--)
        if (d[i - 1] == '.')
            dots[nd++] = d + i - 1;
    if (nd < 1)
        return d;
    const char *tld = dots[0] + 1;
    if (nd >= 2 && strlen(tld) == 2) {
        size_t sl = (size_t)(dots[0] - dots[1] - 1);
        static const char *const generic[] = { "co", "com", "net", "org", "gov", "edu",
                                               "ac", "or", "ne", "go" };
        for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
            if (sl == strlen(generic[i]) && strncasecmp(dots[1] + 1, generic[i], sl) == 0)
                return nd >= 3 ? dots[2] + 1 : d;
    }
    return nd >= 2 ? dots[1] + 1 : d;
}

int authrec_aligned(const char *from_domain, const char *auth_domain, char mode)
{
    if (strcasecmp(from_domain, auth_domain) == 0)
        return 1;
    if (mode == 's')
        return 0;
    return strcasecmp(org_domain(from_domain), org_domain(auth_domain)) == 0;
}

/* dkim_sign — signing one message, streamed (see dkim.h). The header
 * section is kept as sent (it is small and bounded); the body goes through
 * the canonicaliser straight into SHA-256. */
#include "dkim.h"
#include "dkim_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "../util/base64.h"
#include "../util/sbuf.h"

enum { PH_HEADER, PH_BODY, PH_SKIP };

struct dkim_sign {
    const struct dkim_signer *s;
    int phase;
    struct sbuf hdr;            /* the header section, as sent */
    size_t line_start;          /* offset of the current header line in hdr */
    const char *why;            /* PH_SKIP: why not signed */
    char domain[256];           /* the From: domain */
    struct canon_body body;
    EVP_MD_CTX *bh;             /* body hash */
    int failed;                 /* SHA-256 failed (OpenSSL) */
};

static void hash_body(void *arg, const void *p, size_t n)
{
    struct dkim_sign *d = arg;
    if (!d->failed && EVP_DigestUpdate(d->bh, p, n) != 1)
        d->failed = 1;
}

struct dkim_sign *dkim_sign_new(const struct dkim_signer *s)
{
    struct dkim_sign *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->s = s;
    d->bh = EVP_MD_CTX_new();
    if (!d->bh || EVP_DigestInit_ex(d->bh, EVP_sha256(), NULL) != 1) {
        dkim_sign_free(d);
        return NULL;
    }
    canon_body_init(&d->body, s->bcanon, hash_body, d);
    return d;
}

void dkim_sign_free(struct dkim_sign *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->bh);
    sbuf_free(&d->hdr);
    free(d);
}

/* ---------- the header section ---------- */

/* Field k: [start, end) of d->hdr, continuation lines included. Calls fn
 * for each field in order. */
typedef int field_fn(void *arg, const char *f, size_t len);

static int each_field(const char *h, size_t len, field_fn *fn, void *arg)
{
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        do {
            while (i < len && h[i] != '\n')
                i++;
            if (i < len)
                i++;
        } while (i < len && (h[i] == ' ' || h[i] == '\t'));
        int rc = fn(arg, h + s, i - s);
        if (rc)
            return rc;
    }
    return 0;
}

static int name_is(const char *f, size_t len, const char *name)
{
    size_t n = strlen(name), i = n;
    if (len < n || strncasecmp(f, name, n) != 0)
        return 0;
    while (i < len && (f[i] == ' ' || f[i] == '\t'))
        i++;
    return i < len && f[i] == ':';
}

static int find_from(void *arg, const char *f, size_t len)
{
    struct dkim_sign *d = arg;
    if (!name_is(f, len, "from"))
        return 0;
    const char *colon = memchr(f, ':', len);
    size_t off = (size_t)(colon - f) + 1;
    if (dkim_from_domain(f + off, len - off, d->domain, sizeof d->domain) < 0)
        d->domain[0] = '\0';
    return 1;
}

/* The header section has ended: is there anything to sign with? */
static void header_done(struct dkim_sign *d)
{
    if (!each_field(d->hdr.s ? d->hdr.s : "", d->hdr.len, find_from, d)) {
        d->phase = PH_SKIP;
        d->why = "no From: header field";
        return;
    }
    if (!d->domain[0]) {
        d->phase = PH_SKIP;
        d->why = "no domain in the From: header field";
        return;
    }
    if (!dkim_signer_has(d->s, d->domain)) {
        d->phase = PH_SKIP;
        d->why = "no DKIM key for the From: domain";
        return;
    }
    d->phase = PH_BODY;
}

void dkim_sign_feed(struct dkim_sign *d, const char *p, size_t n)
{
    if (d->phase == PH_HEADER) {
        size_t i = 0;
        while (i < n) {
            const char *lf = memchr(p + i, '\n', n - i);
            size_t k = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
            if (d->hdr.len + k > DKIM_HEADER_MAX) {
                d->phase = PH_SKIP;
                d->why = "header section larger than 1 MiB";
                sbuf_free(&d->hdr);
                return;
            }
            sbuf_add(&d->hdr, p + i, k);
            i += k;
            if (!lf)
                break;
            size_t ll = d->hdr.len - d->line_start;
            if (ll == 1 || (ll == 2 && d->hdr.s[d->line_start] == '\r')) {
                /* the empty line: not part of the header fields */
                sbuf_truncate(&d->hdr, d->line_start);
                header_done(d);
                if (d->phase == PH_BODY)
                    canon_body_feed(&d->body, p + i, n - i);
                return;
            }
            d->line_start = d->hdr.len;
        }
        return;
    }
    if (d->phase == PH_BODY)
        canon_body_feed(&d->body, p, n);
}

int dkim_sign_more(const struct dkim_sign *d)
{
    return d->phase != PH_SKIP;
}

/* ---------- the signature ---------- */

struct pick {
    const char *h;
    size_t len;
    const char *name;
    size_t skip;                /* instances of name already used, from the bottom */
    size_t count;               /* instances seen */
    const char *f;              /* the one picked */
    size_t flen;
};

static int count_field(void *arg, const char *f, size_t len)
{
    struct pick *p = arg;
    if (name_is(f, len, p->name))
        p->count++;
    return 0;
}

static int pick_field(void *arg, const char *f, size_t len)
{
    struct pick *p = arg;
    if (name_is(f, len, p->name)) {
        p->count++;
        /* bottom-up: the (total - skip)th from the top */
        if (p->count == p->skip) {
            p->f = f;
            p->flen = len;
            return 1;
        }
    }
    return 0;
}

static size_t count_of(const char *h, size_t len, const char *name)
{
    struct pick p = { .h = h, .len = len, .name = name };
    each_field(h, len, count_field, &p);
    return p.count;
}

/* Append "text" to the field being built, folding before it when the
 * line would pass 78 bytes. */
static void fold_add(struct sbuf *b, size_t *col, const char *text, size_t n)
{
    if (*col + n > 78 && *col > 1) {
        sbuf_str(b, "\r\n\t");
        *col = 1;
    }
    sbuf_add(b, text, n);
    *col += n;
}

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

/* One signature with key k over the canonical header fields in hashed
 * (h= given as hlist), body hash bh. Appends the field to out. */
static int sign_one(struct dkim_sign *d, const struct dkim_keyent *k, const char *hlist,
                    const char *hashed, size_t hlen, const char *bh, long long now,
                    struct sbuf *out, char *err, size_t errlen)
{
    const struct dkim_signer *s = d->s;
    struct sbuf f = SBUF_INIT;
    size_t col = 0;
    char tag[600];
    sbuf_str(&f, "DKIM-Signature:");
    col = strlen("DKIM-Signature:");
    int n = snprintf(tag, sizeof tag, " v=1; a=%s;", k->ed25519 ? "ed25519-sha256" : "rsa-sha256");
    fold_add(&f, &col, tag, (size_t)n);
    n = snprintf(tag, sizeof tag, " c=%s/%s;", canon_name(s->hcanon), canon_name(s->bcanon));
    fold_add(&f, &col, tag, (size_t)n);
    n = snprintf(tag, sizeof tag, " d=%s;", k->domain);
    fold_add(&f, &col, tag, (size_t)n);
    n = snprintf(tag, sizeof tag, " s=%s;", k->selector);
    fold_add(&f, &col, tag, (size_t)n);
    n = snprintf(tag, sizeof tag, " t=%lld;", now);
    fold_add(&f, &col, tag, (size_t)n);
    /* h=, folded between names (FWS is allowed around the colons) */
    const char *p = hlist;
    int first = 1;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        n = snprintf(tag, sizeof tag, "%s%.*s%s", first ? " h=" : "", (int)len, p,
                     e ? ":" : ";");
        fold_add(&f, &col, tag, (size_t)n);
        first = 0;
        p += len + (e ? 1 : 0);
    }
    n = snprintf(tag, sizeof tag, " bh=%s;", bh);
    fold_add(&f, &col, tag, (size_t)n);
    fold_add(&f, &col, " b=", 3);
    if (f.oom) {
        sbuf_free(&f);
        return fail(err, errlen, "out of memory");
    }
    /* the signature field itself, b= empty, canonical, without its CRLF */
    struct sbuf in = SBUF_INIT;
    sbuf_add(&in, hashed, hlen);
    canon_header(s->hcanon, f.s, f.len, &in);
    if (in.oom) {
        sbuf_free(&in);
        sbuf_free(&f);
        return fail(err, errlen, "out of memory");
    }
    in.len -= 2;
    unsigned char sig[1024], dg[EVP_MAX_MD_SIZE];
    size_t siglen = sizeof sig;
    unsigned dglen = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL;
    if (ok && k->ed25519)
        /* RFC 8463: Ed25519 (pure) over the SHA-256 of the hash input */
        ok = EVP_Digest(in.s, in.len, dg, &dglen, EVP_sha256(), NULL) == 1 &&
             EVP_DigestSignInit(m, NULL, NULL, NULL, k->key) == 1 &&
             EVP_DigestSign(m, sig, &siglen, dg, dglen) == 1;
    else if (ok)
        ok = EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k->key) == 1 &&
             EVP_DigestSignUpdate(m, in.s, in.len) == 1 &&
             EVP_DigestSignFinal(m, NULL, &siglen) == 1 && siglen <= sizeof sig &&
             EVP_DigestSignFinal(m, sig, &siglen) == 1;
    EVP_MD_CTX_free(m);
    sbuf_free(&in);
    if (!ok) {
        sbuf_free(&f);
        snprintf(err, errlen, "cannot sign with the %s key of %s (selector %s)",
                 k->ed25519 ? "ed25519" : "rsa", k->domain, k->selector);
        return -1;
    }
    char b64[BASE64_ENCODED_SIZE(sizeof sig)];
    size_t bl = base64_encode(sig, siglen, b64, sizeof b64);
    /* b= in pieces that fill the line; FWS inside b= is ignored */
    for (size_t i = 0; i < bl;) {
        size_t room = col < 77 ? 77 - col : 0;
        if (room < 8) {
            sbuf_str(&f, "\r\n\t");
            col = 1;
            continue;
        }
        size_t take = bl - i < room ? bl - i : room;
        sbuf_add(&f, b64 + i, take);
        col += take;
        i += take;
    }
    sbuf_str(&f, "\r\n");
    sbuf_add(out, f.s, f.len);
    sbuf_free(&f);
    return 0;
}

int dkim_sign_finish(struct dkim_sign *d, long long now, char **out, size_t *outlen, char *err,
                     size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (d->phase == PH_HEADER) {
        /* no empty line: all header, empty body */
        header_done(d);
    }
    if (d->phase == PH_SKIP) {
        snprintf(err, errlen, "%s", d->why);
        return 0;
    }
    if (d->hdr.oom)
        return fail(err, errlen, "out of memory");
    canon_body_end(&d->body);
    unsigned char bhash[EVP_MAX_MD_SIZE];
    unsigned bhlen = 0;
    if (d->failed || EVP_DigestFinal_ex(d->bh, bhash, &bhlen) != 1)
        return fail(err, errlen, "cannot hash the body (SHA-256)");
    char bh[BASE64_ENCODED_SIZE(EVP_MAX_MD_SIZE)];
    base64_encode(bhash, bhlen, bh, sizeof bh);

    /* h= and the canonical header fields, bottom-up per name */
    const struct dkim_signer *s = d->s;
    const char *h = d->hdr.s ? d->hdr.s : "";
    size_t hl = d->hdr.len;
    struct sbuf hlist = SBUF_INIT, hashed = SBUF_INIT;
    for (size_t i = 0; i < s->nheaders; i++) {
        const char *name = s->headers[i];
        size_t c = count_of(h, hl, name);
        size_t times = c + (strcmp(name, "from") == 0);
        for (size_t t = 0; t < times; t++) {
            if (hlist.len)
                sbuf_char(&hlist, ':');
            sbuf_str(&hlist, name);
            if (t >= c)
                continue;       /* over-signed: no such instance, nothing hashed */
            struct pick p = { .h = h, .len = hl, .name = name, .skip = c - t };
            each_field(h, hl, pick_field, &p);
            canon_header(s->hcanon, p.f, p.flen, &hashed);
        }
    }
    sbuf_add(&hashed, "", 0);
    struct sbuf all = SBUF_INIT;
    int rc = 1;
    if (hlist.oom || hashed.oom) {
        rc = fail(err, errlen, "out of memory");
    } else {
        for (size_t i = 0; rc == 1 && i < s->nkeys; i++)
            if (strcmp(s->keys[i].domain, d->domain) == 0 &&
                sign_one(d, &s->keys[i], hlist.s, hashed.s, hashed.len, bh, now, &all, err,
                         errlen) < 0)
                rc = -1;
    }
    sbuf_free(&hlist);
    sbuf_free(&hashed);
    if (rc == 1) {
        *out = sbuf_take(&all, outlen);
        if (!*out)
            rc = fail(err, errlen, "out of memory");
    }
    sbuf_free(&all);
    return rc;
}

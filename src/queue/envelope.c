/* envelope — the queue file and state file formats (envelope_codec.h):
 * pure encode/decode, and freeing an envelope. No I/O. The decoders take
 * arbitrary bytes (they are fuzz targets): every access is bounded by len,
 * nothing is assumed NUL-terminated. */
#include "envelope_codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errbuf.h"
#include "../util/sbuf.h"

#define QUEUE_MAGIC "POSTERN-QUEUE 1"
#define STATE_MAGIC "POSTERN-STATE 1"

/* ---------- encoder helpers on sbuf ---------- */

static void sb_ull(struct sbuf *sb, unsigned long long v)
{
    sbuf_printf(sb, "%llu", v);
}

/* "key value\n", or "key\n" when the value is empty. */
static void sb_kv(struct sbuf *sb, const char *key, const char *val)
{
    sbuf_str(sb, key);
    if (val && *val) {
        sbuf_char(sb, ' ');
        sbuf_str(sb, val);
    }
    sbuf_char(sb, '\n');
}

/* The encoded text and its length; NULL and 0 when out of memory (or,
 * which cannot happen, empty). */
static size_t sb_finish(struct sbuf *sb, char **out)
{
    size_t len = 0;
    *out = sbuf_take(sb, &len);
    if (*out && len == 0) {
        free(*out);
        *out = NULL;
    }
    return len;
}

/* A value may go on a line when it holds no CR or LF (NUL cannot occur in a
 * C string). NULL counts as "". */
static int value_ok(const char *s)
{
    return !s || strpbrk(s, "\r\n") == NULL;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* ---------- encoders ---------- */

size_t envelope_encode_header(const struct envelope *env, char **out)
{
    *out = NULL;
    if (!env || !qid_valid(env->qid) || env->nrcpt == 0 || !env->rcpt)
        return 0;
    if (env->arrival_sec < 0 || env->arrival_usec < 0 ||
        env->arrival_usec > 999999)
        return 0;
    if (!value_ok(env->sender) || !value_ok(env->client_addr) ||
        !value_ok(env->client_name) || !value_ok(env->helo) ||
        !value_ok(env->protocol) || !value_ok(env->sasl_username))
        return 0;
    /* the client address is a token: the name is the rest of the line */
    if (env->client_addr && strchr(env->client_addr, ' '))
        return 0;
    for (size_t i = 0; i < env->nrcpt; i++) {
        const char *a = env->rcpt[i].addr;
        if (!a || !*a || !value_ok(a))
            return 0;
    }

    struct sbuf sb = SBUF_INIT;
    char tmp[64];
    sbuf_str(&sb, QUEUE_MAGIC "\n");
    sb_kv(&sb, "id", env->qid);
    snprintf(tmp, sizeof tmp, "%lld.%06ld", env->arrival_sec,
             env->arrival_usec);
    sb_kv(&sb, "arrival", tmp);
    sb_kv(&sb, "sender", env->sender);
    sbuf_str(&sb, "client ");
    sbuf_str(&sb, nz(env->client_addr));
    sbuf_char(&sb, ' ');
    sbuf_str(&sb, nz(env->client_name));
    sbuf_char(&sb, '\n');
    sb_kv(&sb, "helo", env->helo);
    sb_kv(&sb, "protocol", env->protocol);
    sb_kv(&sb, "body", env->body_8bit ? "8BITMIME" : "7BIT");
    sb_kv(&sb, "smtputf8", env->smtputf8 ? "1" : "0");
    /* x-: a version that does not know it skips the line and routes the
     * message by its sender, as before logins chose upstreams */
    if (env->sasl_username && *env->sasl_username)
        sb_kv(&sb, "x-sasl_username", env->sasl_username);
    for (size_t i = 0; i < env->nrcpt; i++)
        sb_kv(&sb, "rcpt", env->rcpt[i].addr);
    sbuf_str(&sb, "content\n");
    return sb_finish(&sb, out);
}

size_t envelope_encode_trailer(size_t content_len, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "END %zu\n", content_len);
    if (n < 0 || (size_t)n >= outlen)
        return 0;
    return (size_t)n;
}

const char *envelope_state_name(enum rcpt_state st)
{
    switch (st) {
    case RCPT_PENDING:  return "pending";
    case RCPT_SENT:     return "sent";
    case RCPT_DEFERRED: return "deferred";
    case RCPT_BOUNCED:  return "bounced";
    }
    return "unknown";
}

static int dsn_ok(const char *dsn, size_t cap)
{
    size_t n = strnlen(dsn, cap);
    if (n == cap)
        return 0;                       /* not terminated */
    if (n == 1 && dsn[0] == '-')
        return 0;                       /* would read back as "empty" */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dsn[i];
        if (c <= ' ' || c >= 0x7f)
            return 0;
    }
    return 1;
}

size_t envelope_encode_state(const struct envelope *env, char **out)
{
    *out = NULL;
    if (!env || env->attempts < 0 || env->next_attempt < 0)
        return 0;
    if (env->nrcpt && !env->rcpt)
        return 0;
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct env_rcpt *r = &env->rcpt[i];
        if ((unsigned)r->state > RCPT_BOUNCED)
            return 0;
        if (!dsn_ok(r->dsn, sizeof r->dsn))
            return 0;
    }
    if (env->nnotice > ENV_NOTICES_MAX)
        return 0;
    for (size_t i = 0; i < env->nnotice; i++)
        if (!qid_valid(env->notice[i]))
            return 0;

    struct sbuf sb = SBUF_INIT;
    sbuf_str(&sb, STATE_MAGIC "\n");
    sbuf_str(&sb, "attempts ");
    sb_ull(&sb, (unsigned long long)env->attempts);
    sbuf_str(&sb, "\nnext ");
    sb_ull(&sb, (unsigned long long)env->next_attempt);
    if (env->warned)
        sbuf_str(&sb, "\nwarned 1");
    for (size_t i = 0; i < env->nnotice; i++) {
        sbuf_str(&sb, "\nx-notice ");
        sbuf_str(&sb, env->notice[i]);
    }
    sbuf_char(&sb, '\n');
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct env_rcpt *r = &env->rcpt[i];
        sbuf_str(&sb, "rcpt ");
        sb_ull(&sb, (unsigned long long)i);
        sbuf_char(&sb, ' ');
        sbuf_str(&sb, envelope_state_name(r->state));
        sbuf_char(&sb, ' ');
        sbuf_str(&sb, r->dsn[0] ? r->dsn : "-");
        if (r->reason && *r->reason) {
            /* remote text: CR and LF become spaces, never a new line */
            sbuf_char(&sb, ' ');
            size_t start = sb.len;
            sbuf_str(&sb, r->reason);
            if (!sb.oom)
                for (size_t k = start; k < sb.len; k++)
                    if (sb.s[k] == '\r' || sb.s[k] == '\n')
                        sb.s[k] = ' ';
        }
        sbuf_char(&sb, '\n');
    }
    sbuf_str(&sb, "END\n");
    return sb_finish(&sb, out);
}

/* ---------- decoding helpers ---------- */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Decimal digits only, 1..19 of them, value <= max. */
static int parse_num(const char *s, size_t n, unsigned long long max,
                     unsigned long long *out)
{
    if (n == 0 || n > 19)
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int keyeq(const char *k, size_t kn, const char *lit)
{
    size_t n = strlen(lit);
    return kn == n && memcmp(k, lit, n) == 0;
}

/* One line [s, s+n) split into key and value: the key ends at the first SP;
 * the value is the rest of the line after that one SP ("" when absent). */
struct line {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
};

static void split_line(const char *s, size_t n, struct line *ln)
{
    const char *sp = memchr(s, ' ', n);
    ln->key = s;
    if (sp) {
        ln->klen = (size_t)(sp - s);
        ln->val = sp + 1;
        ln->vlen = n - ln->klen - 1;
    } else {
        ln->klen = n;
        ln->val = s + n;
        ln->vlen = 0;
    }
}

void envelope_free(struct envelope *env)
{
    if (!env)
        return;
    free(env->sender);
    free(env->client_addr);
    free(env->client_name);
    free(env->helo);
    free(env->protocol);
    free(env->sasl_username);
    for (size_t i = 0; i < env->nrcpt; i++) {
        free(env->rcpt[i].addr);
        free(env->rcpt[i].reason);
    }
    free(env->rcpt);
    memset(env, 0, sizeof *env);
}

/* ---------- queue file decoder ---------- */

enum {
    K_ID = 1 << 0, K_ARRIVAL = 1 << 1, K_SENDER = 1 << 2, K_CLIENT = 1 << 3,
    K_HELO = 1 << 4, K_PROTOCOL = 1 << 5, K_BODY = 1 << 6,
    K_SMTPUTF8 = 1 << 7, K_SASL_USERNAME = 1 << 8,
};

static int set_str(char **dst, const char *s, size_t n)
{
    char *p = dup_n(s, n);
    if (!p)
        return -1;
    free(*dst);
    *dst = p;
    return 0;
}

int envelope_decode(const char *buf, size_t len, struct envelope *env,
                    size_t *content_offset, char *err, size_t errlen)
{
    char e[128] = "";
    size_t rcap = 0;
    unsigned seen = 0;

    memset(env, 0, sizeof *env);
    if (!buf) {
        snprintf(e, sizeof e, "no data");
        goto fail;
    }

    /* Trailer first: the file must end with "END <digits>\n". It is found
     * from the end, so content bytes never matter. */
    if (len == 0 || buf[len - 1] != '\n') {
        snprintf(e, sizeof e, "missing END marker (torn file)");
        goto fail;
    }
    size_t d = len - 1, ndig = 0;
    while (d > 0 && ndig < 20 && buf[d - 1] >= '0' && buf[d - 1] <= '9') {
        d--;
        ndig++;
    }
    if (ndig == 0 || d < 4 || memcmp(buf + d - 4, "END ", 4) != 0) {
        snprintf(e, sizeof e, "missing END marker (torn file)");
        goto fail;
    }
    unsigned long long clen;
    if (parse_num(buf + d, ndig, (unsigned long long)len, &clen) != 0) {
        snprintf(e, sizeof e, "bad END length");
        goto fail;
    }
    size_t trailer = d - 4;          /* offset of "END " */

    /* Header lines, all before the trailer. */
    size_t pos = 0;
    int first = 1, got_content = 0;
    while (pos < trailer) {
        const char *nl = memchr(buf + pos, '\n', trailer - pos);
        if (!nl) {
            snprintf(e, sizeof e, "truncated header");
            goto fail;
        }
        const char *s = buf + pos;
        size_t n = (size_t)(nl - s);
        pos += n + 1;
        if (memchr(s, '\0', n) || memchr(s, '\r', n)) {
            snprintf(e, sizeof e, "control byte in header line");
            goto fail;
        }
        if (first) {
            if (!keyeq(s, n, QUEUE_MAGIC)) {
                snprintf(e, sizeof e, "not a postern queue file, or "
                         "unknown version");
                goto fail;
            }
            first = 0;
            continue;
        }
        struct line ln;
        split_line(s, n, &ln);
        unsigned bit = 0;
        if (keyeq(ln.key, ln.klen, "content") && n == 7) {
            got_content = 1;
            break;
        } else if (keyeq(ln.key, ln.klen, "id")) {
            bit = K_ID;
            if (ln.vlen != QID_LEN) {
                snprintf(e, sizeof e, "bad id");
                goto fail;
            }
            memcpy(env->qid, ln.val, QID_LEN);
            env->qid[QID_LEN] = '\0';
            if (!qid_valid(env->qid)) {
                snprintf(e, sizeof e, "bad id");
                goto fail;
            }
        } else if (keyeq(ln.key, ln.klen, "arrival")) {
            bit = K_ARRIVAL;
            const char *dot = memchr(ln.val, '.', ln.vlen);
            unsigned long long sec, usec;
            if (!dot || parse_num(ln.val, (size_t)(dot - ln.val),
                                  (unsigned long long)1 << 62, &sec) != 0 ||
                (size_t)(ln.val + ln.vlen - dot - 1) != 6 ||
                parse_num(dot + 1, 6, 999999, &usec) != 0) {
                snprintf(e, sizeof e, "bad arrival");
                goto fail;
            }
            env->arrival_sec = (long long)sec;
            env->arrival_usec = (long)usec;
        } else if (keyeq(ln.key, ln.klen, "sender")) {
            bit = K_SENDER;
            if (set_str(&env->sender, ln.val, ln.vlen) != 0)
                goto nomem;
        } else if (keyeq(ln.key, ln.klen, "client")) {
            bit = K_CLIENT;
            const char *sp = memchr(ln.val, ' ', ln.vlen);
            if (!sp) {
                snprintf(e, sizeof e, "bad client line");
                goto fail;
            }
            size_t an = (size_t)(sp - ln.val);
            if (set_str(&env->client_addr, ln.val, an) != 0 ||
                set_str(&env->client_name, sp + 1, ln.vlen - an - 1) != 0)
                goto nomem;
        } else if (keyeq(ln.key, ln.klen, "helo")) {
            bit = K_HELO;
            if (set_str(&env->helo, ln.val, ln.vlen) != 0)
                goto nomem;
        } else if (keyeq(ln.key, ln.klen, "protocol")) {
            bit = K_PROTOCOL;
            if (set_str(&env->protocol, ln.val, ln.vlen) != 0)
                goto nomem;
        } else if (keyeq(ln.key, ln.klen, "body")) {
            bit = K_BODY;
            if (keyeq(ln.val, ln.vlen, "8BITMIME"))
                env->body_8bit = 1;
            else if (keyeq(ln.val, ln.vlen, "7BIT"))
                env->body_8bit = 0;
            else {
                snprintf(e, sizeof e, "bad body value");
                goto fail;
            }
        } else if (keyeq(ln.key, ln.klen, "smtputf8")) {
            bit = K_SMTPUTF8;
            if (keyeq(ln.val, ln.vlen, "1"))
                env->smtputf8 = 1;
            else if (keyeq(ln.val, ln.vlen, "0"))
                env->smtputf8 = 0;
            else {
                snprintf(e, sizeof e, "bad smtputf8 value");
                goto fail;
            }
        } else if (keyeq(ln.key, ln.klen, "rcpt")) {
            if (ln.vlen == 0) {
                snprintf(e, sizeof e, "empty rcpt");
                goto fail;
            }
            if (env->nrcpt == rcap) {
                size_t nc = rcap ? rcap * 2 : 4;
                struct env_rcpt *nr = realloc(env->rcpt, nc * sizeof *nr);
                if (!nr)
                    goto nomem;
                env->rcpt = nr;
                rcap = nc;
            }
            struct env_rcpt *r = &env->rcpt[env->nrcpt];
            memset(r, 0, sizeof *r);
            r->addr = dup_n(ln.val, ln.vlen);
            if (!r->addr)
                goto nomem;
            env->nrcpt++;
        } else if (keyeq(ln.key, ln.klen, "x-sasl_username")) {
            bit = K_SASL_USERNAME;
            if (ln.vlen == 0) {
                snprintf(e, sizeof e, "empty x-sasl_username");
                goto fail;
            }
            if (set_str(&env->sasl_username, ln.val, ln.vlen) != 0)
                goto nomem;
        } else if (ln.klen >= 2 && memcmp(ln.key, "x-", 2) == 0) {
            /* extension: ignored by this version */
        } else {
            snprintf(e, sizeof e, "unknown key in header");
            goto fail;
        }
        if (bit) {
            if (seen & bit) {
                snprintf(e, sizeof e, "duplicate key in header");
                goto fail;
            }
            seen |= bit;
        }
    }
    if (first || !got_content) {
        snprintf(e, sizeof e, "truncated header (no content line)");
        goto fail;
    }
    if ((seen & (K_ID | K_ARRIVAL | K_SENDER)) != (K_ID | K_ARRIVAL | K_SENDER)) {
        snprintf(e, sizeof e, "missing id, arrival or sender");
        goto fail;
    }
    if (env->nrcpt == 0) {
        snprintf(e, sizeof e, "no recipients");
        goto fail;
    }
    /* pos is the content offset, pos <= trailer */
    if (clen != (unsigned long long)(trailer - pos)) {
        snprintf(e, sizeof e, "content length mismatch (torn or corrupt)");
        goto fail;
    }
    *content_offset = pos;
    env->content_len = (size_t)clen;
    /* optional keys get their defaults */
    if ((!env->client_addr && set_str(&env->client_addr, "", 0) != 0) ||
        (!env->client_name && set_str(&env->client_name, "", 0) != 0) ||
        (!env->helo && set_str(&env->helo, "", 0) != 0) ||
        (!env->protocol && set_str(&env->protocol, "", 0) != 0))
        goto nomem;
    return 0;

nomem:
    snprintf(e, sizeof e, "out of memory");
fail:
    envelope_free(env);
    errbuf_set(err, errlen, "%s", e);
    return -1;
}

/* ---------- state file decoder ---------- */

static int parse_state_name(const char *s, size_t n, enum rcpt_state *st)
{
    for (int i = RCPT_PENDING; i <= RCPT_BOUNCED; i++)
        if (keyeq(s, n, envelope_state_name((enum rcpt_state)i))) {
            *st = (enum rcpt_state)i;
            return 0;
        }
    return -1;
}

int envelope_decode_state(const char *buf, size_t len, struct envelope *env,
                          char *err, size_t errlen)
{
    char e[128] = "";
    size_t n = env ? env->nrcpt : 0;
    struct env_rcpt *nr = NULL;
    unsigned char *seenr = NULL;
    unsigned long long attempts = 0, next = 0, warned = 0;
    int got_attempts = 0, got_next = 0, got_end = 0, first = 1;
    char notices[ENV_NOTICES_MAX][QID_LEN + 1];
    size_t nnotice = 0;

    if (!env || !buf) {
        snprintf(e, sizeof e, "no data");
        goto fail;
    }
    if (n) {
        nr = calloc(n, sizeof *nr);
        seenr = calloc(n, 1);
        if (!nr || !seenr)
            goto nomem;
    }

    size_t pos = 0;
    while (pos < len) {
        if (got_end) {
            snprintf(e, sizeof e, "data after END");
            goto fail;
        }
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) {
            snprintf(e, sizeof e, "truncated state file");
            goto fail;
        }
        const char *s = buf + pos;
        size_t ll = (size_t)(nl - s);
        pos += ll + 1;
        if (memchr(s, '\0', ll) || memchr(s, '\r', ll)) {
            snprintf(e, sizeof e, "control byte in state line");
            goto fail;
        }
        if (first) {
            if (!keyeq(s, ll, STATE_MAGIC)) {
                snprintf(e, sizeof e, "not a postern state file, or "
                         "unknown version");
                goto fail;
            }
            first = 0;
            continue;
        }
        if (keyeq(s, ll, "END")) {
            got_end = 1;
            continue;
        }
        struct line ln;
        split_line(s, ll, &ln);
        if (keyeq(ln.key, ln.klen, "attempts")) {
            if (got_attempts ||
                parse_num(ln.val, ln.vlen, 0x7fffffff, &attempts) != 0) {
                snprintf(e, sizeof e, "bad attempts");
                goto fail;
            }
            got_attempts = 1;
        } else if (keyeq(ln.key, ln.klen, "next")) {
            if (got_next ||
                parse_num(ln.val, ln.vlen, (unsigned long long)1 << 62,
                          &next) != 0) {
                snprintf(e, sizeof e, "bad next");
                goto fail;
            }
            got_next = 1;
        } else if (keyeq(ln.key, ln.klen, "warned")) {
            /* a delay warning was sent (delay_warning_time) */
            if (parse_num(ln.val, ln.vlen, 1, &warned) != 0) {
                snprintf(e, sizeof e, "bad warned");
                goto fail;
            }
        } else if (keyeq(ln.key, ln.klen, "x-notice")) {
            if (nnotice == ENV_NOTICES_MAX || ln.vlen != QID_LEN) {
                snprintf(e, sizeof e, "bad notice");
                goto fail;
            }
            memcpy(notices[nnotice], ln.val, QID_LEN);
            notices[nnotice][QID_LEN] = '\0';
            if (!qid_valid(notices[nnotice])) {
                snprintf(e, sizeof e, "bad notice");
                goto fail;
            }
            nnotice++;
        } else if (keyeq(ln.key, ln.klen, "rcpt")) {
            /* <index> <state> <dsn|-> [reason...] */
            const char *v = ln.val, *end = ln.val + ln.vlen;
            const char *sp1 = memchr(v, ' ', (size_t)(end - v));
            const char *sp2 = sp1 ? memchr(sp1 + 1, ' ',
                                           (size_t)(end - sp1 - 1)) : NULL;
            if (!sp2) {
                snprintf(e, sizeof e, "bad rcpt line");
                goto fail;
            }
            const char *dsn = sp2 + 1;
            const char *sp3 = memchr(dsn, ' ', (size_t)(end - dsn));
            const char *dend = sp3 ? sp3 : end;
            size_t dn = (size_t)(dend - dsn);
            unsigned long long idx;
            enum rcpt_state st;
            if (parse_num(v, (size_t)(sp1 - v), (unsigned long long)-1 >> 1,
                          &idx) != 0 ||
                parse_state_name(sp1 + 1, (size_t)(sp2 - sp1 - 1), &st) != 0 ||
                dn == 0 || dn >= sizeof nr[0].dsn) {
                snprintf(e, sizeof e, "bad rcpt line");
                goto fail;
            }
            if (idx >= n) {
                snprintf(e, sizeof e, "rcpt index out of range");
                goto fail;
            }
            if (seenr[idx]) {
                snprintf(e, sizeof e, "duplicate rcpt index");
                goto fail;
            }
            for (size_t k = 0; k < dn; k++) {
                unsigned char c = (unsigned char)dsn[k];
                if (c <= ' ' || c >= 0x7f) {
                    snprintf(e, sizeof e, "bad dsn");
                    goto fail;
                }
            }
            seenr[idx] = 1;
            nr[idx].state = st;
            if (!(dn == 1 && dsn[0] == '-'))
                memcpy(nr[idx].dsn, dsn, dn);
            if (sp3 && sp3 + 1 < end) {
                nr[idx].reason = dup_n(sp3 + 1, (size_t)(end - sp3 - 1));
                if (!nr[idx].reason)
                    goto nomem;
            }
        } else if (ln.klen >= 2 && memcmp(ln.key, "x-", 2) == 0) {
            /* extension: ignored */
        } else {
            snprintf(e, sizeof e, "unknown key in state file");
            goto fail;
        }
    }
    if (first || !got_end) {
        snprintf(e, sizeof e, "missing END marker in state file");
        goto fail;
    }

    /* success: apply (recipients not listed are pending) */
    for (size_t i = 0; i < n; i++) {
        struct env_rcpt *r = &env->rcpt[i];
        free(r->reason);
        r->state = nr[i].state;
        memcpy(r->dsn, nr[i].dsn, sizeof r->dsn);
        r->reason = nr[i].reason;
    }
    env->attempts = (int)attempts;
    env->next_attempt = (long long)next;
    env->warned = (int)warned;
    memcpy(env->notice, notices, nnotice * sizeof notices[0]);
    env->nnotice = nnotice;
    free(nr);
    free(seenr);
    return 0;

nomem:
    snprintf(e, sizeof e, "out of memory");
fail:
    if (nr)
        for (size_t i = 0; i < n; i++)
            free(nr[i].reason);
    free(nr);
    free(seenr);
    errbuf_set(err, errlen, "%s", e);
    return -1;
}

int envelope_state_has_notice(const char *buf, size_t len, const char *qid)
{
    static const char magic[] = STATE_MAGIC "\n", end[] = "\nEND\n";
    size_t ml = sizeof magic - 1, el = sizeof end - 1;
    if (!buf || !qid_valid(qid) || len < ml + el - 1 ||
        memcmp(buf, magic, ml) != 0 || memcmp(buf + len - el, end, el) != 0)
        return 0;
    char want[sizeof "x-notice \n" + QID_LEN];
    int wl = snprintf(want, sizeof want, "x-notice %s\n", qid);
    /* every line starts after a LF; the magic line is not a notice */
    for (size_t pos = ml; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            return 0;
        size_t ll = (size_t)(nl - (buf + pos)) + 1;
        if (ll == (size_t)wl && memcmp(buf + pos, want, ll) == 0)
            return 1;
        pos += ll;
    }
    return 0;
}

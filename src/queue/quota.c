/* quota — relayhost_rate_limits: the table, the sliding-window arithmetic,
 * the state and its file format (see quota.h). */
#include "quota.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "qid.h"

#define SEC_MS 1000LL
#define DAY_MS (86400LL * SEC_MS)
#define WINDOW_MAX_MS (366 * DAY_MS)

/* A message deferred for a key's quota, in the line for its next place. */
struct quota_waiter {
    char qid[QID_LEN + 1];
    long long slot;                  /* when it was told to come back */
};

struct quota_key {
    char *key;
    long long *t;                    /* accepted sends, ascending */
    size_t n, cap;
    size_t reserved;                 /* on their way */
    struct quota_waiter *wait;       /* the line, ascending qid (= arrival) */
    size_t nwait, capwait;
};

struct quota_state {
    struct quota_key *v;
    size_t n, cap;
};

/* ---------- the table ---------- */

int quota_window_parse(const char *s, size_t len, struct quota_window *w)
{
    size_t i = 0;
    long limit = 0;
    if (len == 0 || len >= sizeof w->text)
        return -1;
    for (; i < len && isdigit((unsigned char)s[i]); i++) {
        limit = limit * 10 + (s[i] - '0');
        if (limit > QUOTA_LIMIT_MAX)
            return -1;
    }
    if (i == 0 || limit < 1 || i >= len || s[i] != '/')
        return -1;
    i++;
    long long count = 0;
    size_t digits = 0;
    for (; i < len && isdigit((unsigned char)s[i]); i++, digits++) {
        count = count * 10 + (s[i] - '0');
        if (count > 366LL * 86400)
            return -1;
    }
    if (digits == 0)
        count = 1;
    if (i + 1 != len || count < 1)
        return -1;
    long long unit;
    switch (s[i]) {
    case 's': unit = SEC_MS; break;
    case 'm': unit = 60 * SEC_MS; break;
    case 'h': unit = 3600 * SEC_MS; break;
    case 'd': unit = DAY_MS; break;
    default: return -1;
    }
    if (count * unit > WINDOW_MAX_MS)
        return -1;
    w->limit = limit;
    w->len_ms = count * unit;
    memcpy(w->text, s, len);
    w->text[len] = '\0';
    return 0;
}

void quota_conf_free(struct quota_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].key);
    free(c->v);
    free(c);
}

const struct quota_rule *quota_conf_find(const struct quota_conf *c, const char *key)
{
    for (size_t i = 0; c && key && i < c->n; i++)
        if (strcasecmp(c->v[i].key, key) == 0)
            return &c->v[i];
    return NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One logical line (continuations joined by the caller): key and windows. */
static int conf_line(struct quota_conf *c, const char *s, size_t len, const char *path,
                     size_t lineno, char *err, size_t errlen)
{
    size_t i = 0, k0, k1;
    while (i < len && is_space(s[i]))
        i++;
    k0 = i;
    while (i < len && !is_space(s[i]))
        i++;
    k1 = i;
    if (k1 - k0 >= QUOTA_KEY_MAX) {
        snprintf(err, errlen, "%s:%zu: key longer than %d bytes", path, lineno,
                 QUOTA_KEY_MAX - 1);
        return -1;
    }
    for (size_t j = k0; j < k1; j++)
        if ((unsigned char)s[j] < 0x21 || (unsigned char)s[j] > 0x7e) {
            snprintf(err, errlen, "%s:%zu: the key must be printable ASCII, as "
                     "[smtp.example.com]:465 or user@[smtp.example.com]:465", path, lineno);
            return -1;
        }
    char key[QUOTA_KEY_MAX];
    memcpy(key, s + k0, k1 - k0);
    key[k1 - k0] = '\0';
    if (quota_conf_find(c, key)) {
        snprintf(err, errlen, "%s:%zu: %s is listed twice; put all its windows on one line",
                 path, lineno, key);
        return -1;
    }
    if (c->n == QUOTA_RULES_MAX) {
        snprintf(err, errlen, "%s:%zu: more than %d keys", path, lineno, QUOTA_RULES_MAX);
        return -1;
    }
    struct quota_rule r;
    memset(&r, 0, sizeof r);
    for (;;) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;
        size_t t0 = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (r.nw == QUOTA_WINDOWS_MAX) {
            snprintf(err, errlen, "%s:%zu: more than %d windows for %s", path, lineno,
                     QUOTA_WINDOWS_MAX, key);
            return -1;
        }
        if (quota_window_parse(s + t0, i - t0, &r.w[r.nw]) < 0) {
            snprintf(err, errlen, "%s:%zu: \"%.*s\" is not a quota; write messages/period, "
                     "the period in s, m, h or d, as 500/1d or 60/1m (at most %d messages, "
                     "periods from 1s to 366d)", path, lineno, (int)(i - t0 > 40 ? 40 : i - t0),
                     s + t0, QUOTA_LIMIT_MAX);
            return -1;
        }
        r.nw++;
    }
    if (r.nw == 0) {
        snprintf(err, errlen, "%s:%zu: %s has no quota; write \"%s 500/1d\" (messages/period)",
                 path, lineno, key, key);
        return -1;
    }
    struct quota_rule *nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (!nv || !(r.key = strdup(key))) {
        if (nv)
            c->v = nv;
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    c->v = nv;
    c->v[c->n++] = r;
    return 0;
}

struct quota_conf *quota_conf_parse(const char *text, size_t len, const char *path,
                                    char *err, size_t errlen)
{
    struct quota_conf *c = calloc(1, sizeof *c);
    char *line = NULL;
    size_t llen = 0, lcap = 0, lineno = 0, first = 0;
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    for (size_t pos = 0; pos <= len;) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *s = text + pos;
        size_t n = end - pos;
        int last = pos >= len;
        if (!last)
            lineno++;
        size_t j = 0;
        while (j < n && is_space(s[j]))
            j++;
        int blank = j == n || s[j] == '#';
        int cont = !last && !blank && j > 0;
        /* a logical line ends at the next line that is not a continuation */
        if ((last || (!blank && !cont)) && llen > 0) {
            if (conf_line(c, line, llen, path, first, err, errlen) < 0)
                goto fail;
            llen = 0;
        }
        if (!last && !blank) {
            if (cont && llen == 0) {
                snprintf(err, errlen, "%s:%zu: a line starting with white space continues "
                         "the one before, and there is none", path, lineno);
                goto fail;
            }
            if (llen == 0)
                first = lineno;
            if (llen + n + 2 > lcap) {
                size_t nc = (llen + n + 2) * 2;
                char *nlp = realloc(line, nc);
                if (!nlp) {
                    snprintf(err, errlen, "%s: out of memory", path);
                    goto fail;
                }
                line = nlp;
                lcap = nc;
            }
            line[llen++] = ' ';
            memcpy(line + llen, s, n);
            llen += n;
        }
        if (last)
            break;
        pos = nl ? end + 1 : len;
    }
    free(line);
    return c;
fail:
    free(line);
    quota_conf_free(c);
    return NULL;
}

/* ---------- the arithmetic ---------- */

long long quota_window_slot(const long long *t, size_t n, size_t reserved,
                            const struct quota_window *w, long long now)
{
    /* t[i] is in the window while t[i] > now - len: the first one that is */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] > now - w->len_ms)
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t inwin = n - lo, used = inwin + reserved;
    if (used < (size_t)w->limit)
        return 0;
    /* one place frees when used - limit + 1 of them have left the window */
    size_t k = used - (size_t)w->limit;
    if (k < inwin)
        return t[lo + k] + w->len_ms;
    /* the reservations alone fill it: they count from now at the earliest */
    return now + w->len_ms;
}

struct quota_state *quota_state_new(void)
{
    return calloc(1, sizeof(struct quota_state));
}

void quota_state_free(struct quota_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].t);
        free(s->v[i].wait);
    }
    free(s->v);
    free(s);
}

static struct quota_key *key_find(const struct quota_state *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

static struct quota_key *key_get(struct quota_state *s, const char *key)
{
    struct quota_key *k = key_find(s, key);
    if (k)
        return k;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        struct quota_key *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        s->v = nv;
        s->cap = nc;
    }
    k = &s->v[s->n];
    memset(k, 0, sizeof *k);
    if (!(k->key = strdup(key)))
        return NULL;
    s->n++;
    return k;
}

static long rule_max_limit(const struct quota_rule *r)
{
    long m = 0;
    for (size_t i = 0; i < r->nw; i++)
        if (r->w[i].limit > m)
            m = r->w[i].limit;
    return m;
}

/* ---------- the line of waiting messages ---------- */

/* A waiter not back within its slot and this is gone (deleted, held or
 * routed elsewhere by a path that did not say so): it no longer keeps
 * younger messages back. */
static int waiter_live(const struct quota_waiter *w, long long now)
{
    return now <= w->slot + QUOTA_WAIT_GRACE_MS;
}

static size_t waiter_pos(const struct quota_key *k, const char *qid, int *found)
{
    size_t lo = 0, hi = k->nwait;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strncmp(k->wait[mid].qid, qid, QID_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < k->nwait && strncmp(k->wait[lo].qid, qid, QID_LEN) == 0;
    return lo;
}

static void waiter_drop(struct quota_key *k, const char *qid)
{
    int found;
    size_t i = waiter_pos(k, qid, &found);
    if (!found)
        return;
    memmove(k->wait + i, k->wait + i + 1, (k->nwait - i - 1) * sizeof *k->wait);
    k->nwait--;
}

/* Enter or move qid in the line; out of memory, it stays out (it only
 * loses its turn). */
static void waiter_put(struct quota_key *k, const char *qid, long long slot)
{
    int found;
    size_t i = waiter_pos(k, qid, &found);
    if (!found) {
        if (k->nwait == k->capwait) {
            size_t nc = k->capwait ? k->capwait * 2 : 8;
            struct quota_waiter *nw = realloc(k->wait, nc * sizeof *nw);
            if (!nw)
                return;
            k->wait = nw;
            k->capwait = nc;
        }
        memmove(k->wait + i + 1, k->wait + i, (k->nwait - i) * sizeof *k->wait);
        k->nwait++;
        snprintf(k->wait[i].qid, sizeof k->wait[i].qid, "%.*s", QID_LEN, qid);
    }
    k->wait[i].slot = slot;
}

static void waiters_age(struct quota_key *k, long long now)
{
    size_t j = 0;
    for (size_t i = 0; i < k->nwait; i++)
        if (waiter_live(&k->wait[i], now))
            k->wait[j++] = k->wait[i];
    k->nwait = j;
}

int quota_reserve(struct quota_state *s, const struct quota_rule *r, const char *qid,
                  long long now, long long *slot, const struct quota_window **full)
{
    struct quota_key *k = key_get(s, r->key);
    if (!k)
        return -1;
    waiters_age(k, now);
    int self;
    size_t older = waiter_pos(k, qid, &self);
    long long best = 0;
    const struct quota_window *bw = NULL;
    /* the older messages in the line take the free places first: count
     * them as on their way. Each window only empties as time passes: the
     * slot is the latest */
    for (size_t i = 0; i < r->nw; i++) {
        long long at = quota_window_slot(k->t, k->n, k->reserved + older, &r->w[i], now);
        if (at > best) {
            best = at;
            bw = &r->w[i];
        }
    }
    if (!bw && older > 0) {
        /* room for them all, but they have not come yet (woken later than
         * a place freed): after them */
        best = now + QUOTA_WAIT_STEP_MS;
    }
    if (best) {
        waiter_put(k, qid, best);
        *slot = best;
        *full = bw;
        return 0;
    }
    waiter_drop(k, qid);
    k->reserved++;
    return 1;
}

const char *quota_first_waiter(const struct quota_state *s, const char *key, long long now)
{
    const struct quota_key *k = key_find(s, key);
    for (size_t i = 0; k && i < k->nwait; i++)
        if (waiter_live(&k->wait[i], now))
            return k->wait[i].qid;
    return NULL;
}

size_t quota_waiting(const struct quota_state *s, const char *key)
{
    const struct quota_key *k = key_find(s, key);
    return k ? k->nwait : 0;
}

void quota_forget(struct quota_state *s, const char *qid)
{
    for (size_t i = 0; i < s->n; i++)
        waiter_drop(&s->v[i], qid);
}

/* Insert at in order (a clock stepped back may put it before the last),
 * keeping at most max. */
static int key_add(struct quota_key *k, long long at, size_t max)
{
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 16;
        long long *nt = realloc(k->t, nc * sizeof *nt);
        if (!nt)
            return -1;
        k->t = nt;
        k->cap = nc;
    }
    size_t i = k->n;
    while (i > 0 && k->t[i - 1] > at) {
        k->t[i] = k->t[i - 1];
        i--;
    }
    k->t[i] = at;
    k->n++;
    if (max && k->n > max) {
        size_t drop = k->n - max;
        memmove(k->t, k->t + drop, max * sizeof *k->t);
        k->n = max;
    }
    return 0;
}

void quota_commit(struct quota_state *s, const struct quota_rule *r, long long now)
{
    struct quota_key *k = key_find(s, r->key);
    if (!k)
        return;
    if (k->reserved)
        k->reserved--;
    /* out of memory: the send is not counted (the next slot comes early) */
    (void)key_add(k, now, (size_t)rule_max_limit(r));
}

void quota_release(struct quota_state *s, const struct quota_rule *r)
{
    struct quota_key *k = key_find(s, r->key);
    if (k && k->reserved)
        k->reserved--;
}

size_t quota_sends(const struct quota_state *s, const char *key)
{
    const struct quota_key *k = key_find(s, key);
    return k ? k->n : 0;
}

void quota_state_prune(struct quota_state *s, const struct quota_conf *c, long long now)
{
    for (size_t i = 0; i < s->n;) {
        struct quota_key *k = &s->v[i];
        const struct quota_rule *r = c ? quota_conf_find(c, k->key) : NULL;
        if (r) {
            long long longest = 0;
            for (size_t j = 0; j < r->nw; j++)
                if (r->w[j].len_ms > longest)
                    longest = r->w[j].len_ms;
            size_t drop = 0;
            while (drop < k->n && k->t[drop] <= now - longest)
                drop++;
            size_t max = (size_t)rule_max_limit(r);
            if (k->n - drop > max)
                drop = k->n - max;
            if (drop) {
                memmove(k->t, k->t + drop, (k->n - drop) * sizeof *k->t);
                k->n -= drop;
            }
        } else {
            k->n = 0;
            k->nwait = 0;            /* no rule: nobody waits for it */
        }
        waiters_age(k, now);
        if (k->n == 0 && k->reserved == 0 && k->nwait == 0) {
            free(k->key);
            free(k->t);
            free(k->wait);
            s->v[i] = s->v[--s->n];
            continue;
        }
        i++;
    }
}

/* ---------- the state file ---------- */

#define QUOTA_MAGIC "POSTERN-QUOTA 1\n"

char *quota_state_encode(const struct quota_state *s, size_t *len)
{
    size_t cap = sizeof QUOTA_MAGIC + 8;
    for (size_t i = 0; i < s->n; i++)
        cap += 8 + strlen(s->v[i].key) + s->v[i].n * 24;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return NULL;
    p += snprintf(p, cap, "%s", QUOTA_MAGIC);
    for (size_t i = 0; i < s->n; i++) {
        const struct quota_key *k = &s->v[i];
        if (k->n == 0)
            continue;
        p += snprintf(p, cap - (size_t)(p - buf), "key %s\n", k->key);
        for (size_t j = 0; j < k->n; j++)
            p += snprintf(p, cap - (size_t)(p - buf), "t %lld\n", k->t[j]);
    }
    p += snprintf(p, cap - (size_t)(p - buf), "END\n");
    *len = (size_t)(p - buf);
    return buf;
}

static void state_clear(struct quota_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].t);
        free(s->v[i].wait);
    }
    s->n = 0;
}

int quota_state_decode(struct quota_state *s, const char *buf, size_t len, long long now,
                       char *err, size_t errlen)
{
    size_t pos = 0, lineno = 0;
    struct quota_key *k = NULL;
    int ended = 0;
    state_clear(s);
    if (len < sizeof QUOTA_MAGIC - 1 || memcmp(buf, QUOTA_MAGIC, sizeof QUOTA_MAGIC - 1) != 0) {
        snprintf(err, errlen, "not a postern quota file (no \"POSTERN-QUOTA 1\" line)");
        return -1;
    }
    pos = sizeof QUOTA_MAGIC - 1;
    lineno = 1;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        lineno++;
        if (!nl) {
            snprintf(err, errlen, "line %zu: torn (no line end)", lineno);
            goto fail;
        }
        const char *l = buf + pos;
        size_t n = (size_t)(nl - l);
        pos += n + 1;
        if (ended) {
            snprintf(err, errlen, "line %zu: data after END", lineno);
            goto fail;
        }
        if (n == 3 && memcmp(l, "END", 3) == 0) {
            ended = 1;
        } else if (n > 4 && memcmp(l, "key ", 4) == 0 && n - 4 < QUOTA_KEY_MAX) {
            char key[QUOTA_KEY_MAX];
            memcpy(key, l + 4, n - 4);
            key[n - 4] = '\0';
            for (size_t j = 0; key[j]; j++)
                if ((unsigned char)key[j] < 0x21 || (unsigned char)key[j] > 0x7e) {
                    snprintf(err, errlen, "line %zu: bad key", lineno);
                    goto fail;
                }
            if (key_find(s, key)) {
                snprintf(err, errlen, "line %zu: key %s repeated", lineno, key);
                goto fail;
            }
            if (!(k = key_get(s, key))) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        } else if (n > 2 && n < 22 && memcmp(l, "t ", 2) == 0 && k) {
            long long t = 0;
            for (size_t j = 2; j < n; j++) {
                if (!isdigit((unsigned char)l[j])) {
                    snprintf(err, errlen, "line %zu: bad time", lineno);
                    goto fail;
                }
                t = t * 10 + (l[j] - '0');
            }
            if (t > now)
                t = now;
            if (k->n >= QUOTA_LIMIT_MAX) {
                snprintf(err, errlen, "line %zu: more than %d times for %s", lineno,
                         QUOTA_LIMIT_MAX, k->key);
                goto fail;
            }
            if (key_add(k, t, 0) < 0) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        } else {
            snprintf(err, errlen, "line %zu: unexpected", lineno);
            goto fail;
        }
    }
    if (!ended) {
        snprintf(err, errlen, "torn (no END line)");
        goto fail;
    }
    return 0;
fail:
    state_clear(s);
    return -1;
}

void quota_reason(char *buf, size_t n, const struct quota_rule *r,
                  const struct quota_window *w, long long slot, long long now)
{
    const struct quota_window *fmt = w ? w : &r->w[0];
    time_t t = (time_t)(slot / 1000);
    struct tm tm;
    char when[64] = "?";
    if (localtime_r(&t, &tm)) {
        if (slot - now > DAY_MS)
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        else if (!w || fmt->len_ms < 3600 * SEC_MS)
            strftime(when, sizeof when, "%H:%M:%S", &tm);
        else
            strftime(when, sizeof when, "%H:%M", &tm);
    }
    if (w)
        snprintf(buf, n, "upstream quota %s reached; next slot at %s", w->text, when);
    else
        snprintf(buf, n, "upstream quota %s: older messages go first; next try at %s",
                 fmt->text, when);
}

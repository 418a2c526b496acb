/* anvil — fixed windows of events per key in two open-addressed tables
 * (see anvil.h). */
#include "anvil.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PROBES 8
#define KEY_PREFIX 32   /* a long key keeps this much, then two hashes */

struct slot {
    unsigned char key[ANVIL_KEY_MAX];
    unsigned char len;
    unsigned char used;
    long long start;        /* first event of the window */
    long long window;       /* its length as last counted: whether another
                             * key may take the slot */
    unsigned long count[ANVIL_EVENTS];
};

struct table {
    size_t mask;
    struct slot *slots;
};

struct anvil {
    uint64_t seed;          /* so that nobody can aim at one neighbourhood */
    struct table t[2];      /* clients, accounts */
};

struct anvil *anvil_new(size_t slots)
{
    size_t n = 16;
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    struct anvil *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    for (int i = 0; i < 2; i++) {
        a->t[i].mask = n - 1;
        /* calloc: pages nobody touched cost no memory */
        if (!(a->t[i].slots = calloc(n, sizeof *a->t[i].slots))) {
            anvil_free(a);
            return NULL;
        }
    }
    if (getrandom(&a->seed, sizeof a->seed, GRND_NONBLOCK) != (ssize_t)sizeof a->seed)
        a->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    return a;
}

void anvil_free(struct anvil *a)
{
    if (!a)
        return;
    free(a->t[0].slots);
    free(a->t[1].slots);
    free(a);
}

int anvil_key_client(const char *addr, struct anvil_key *k)
{
    unsigned char b[16];
    memset(k, 0, sizeof *k);
    if (inet_pton(AF_INET, addr, b) == 1) {
        k->b[0] = 4;
        memcpy(k->b + 1, b, 4);
        k->len = 5;
        return 1;
    }
    if (inet_pton(AF_INET6, addr, b) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(b, mapped, 12) == 0) {
            k->b[0] = 4;
            memcpy(k->b + 1, b + 12, 4);
            k->len = 5;
        } else {
            k->b[0] = 6;
            memcpy(k->b + 1, b, 8);
            k->len = 9;
        }
        return 1;
    }
    return 0;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    h ^= 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

void anvil_key_account(const struct anvil *a, const char *name, struct anvil_key *k)
{
    size_t n = strlen(name);
    memset(k, 0, sizeof *k);
    k->account = 1;
    if (n <= ANVIL_KEY_MAX) {
        memcpy(k->b, name, n);
        k->len = n;
        return;
    }
    /* the users file allows 255 bytes: keep a prefix and two hashes of the
     * whole name (different seeds), which only a deliberate collision of
     * names from the administrator's own file could confuse */
    memcpy(k->b, name, KEY_PREFIX);
    uint64_t h1 = fnv(a->seed, (const unsigned char *)name, n);
    uint64_t h2 = fnv(~a->seed * 0x9e3779b97f4a7c15ull, (const unsigned char *)name, n);
    memcpy(k->b + KEY_PREFIX, &h1, 8);
    memcpy(k->b + KEY_PREFIX + 8, &h2, 8);
    k->len = ANVIL_KEY_MAX;
}

int anvil_window_open(long long start, long long window_ms, long long now)
{
    if (window_ms <= 0)
        window_ms = 1;
    return now >= start && now - start < window_ms;
}

static size_t hash(const struct anvil *a, const struct table *t, const struct anvil_key *k)
{
    return (size_t)fnv(a->seed, k->b, k->len) & t->mask;
}

static struct slot *find(const struct anvil *a, const struct anvil_key *k)
{
    const struct table *t = &a->t[k->account ? 1 : 0];
    size_t h = hash(a, t, k);
    for (size_t i = 0; i < PROBES; i++) {
        struct slot *s = &t->slots[(h + i) & t->mask];
        if (s->used && s->len == k->len && memcmp(s->key, k->b, k->len) == 0)
            return s;
    }
    return NULL;
}

static long long left(const struct slot *s, long long window_ms, long long now)
{
    if (window_ms <= 0)
        window_ms = 1;
    return s->start + window_ms - now;
}

unsigned long anvil_peek(const struct anvil *a, const struct anvil_key *k,
                         enum anvil_event ev, long long window_ms, long long now_ms,
                         long long *left_ms)
{
    const struct slot *s = k->len && ev < ANVIL_EVENTS ? find(a, k) : NULL;
    if (!s || !anvil_window_open(s->start, window_ms, now_ms)) {
        if (left_ms)
            *left_ms = 0;
        return 0;
    }
    if (left_ms)
        *left_ms = left(s, window_ms, now_ms);
    return s->count[ev];
}

unsigned long anvil_count(struct anvil *a, const struct anvil_key *k, enum anvil_event ev,
                          long long window_ms, long long now_ms, long long *left_ms)
{
    if (!k->len || ev >= ANVIL_EVENTS) {
        if (left_ms)
            *left_ms = 0;
        return 0;
    }
    struct slot *s = find(a, k);
    if (!s) {
        /* a free or closed slot nearby, else the oldest window */
        const struct table *t = &a->t[k->account ? 1 : 0];
        size_t h = hash(a, t, k);
        for (size_t i = 0; i < PROBES; i++) {
            struct slot *c = &t->slots[(h + i) & t->mask];
            if (!c->used || !anvil_window_open(c->start, c->window, now_ms)) {
                s = c;
                break;
            }
            if (!s || c->start < s->start)
                s = c;
        }
        memset(s, 0, sizeof *s);
        memcpy(s->key, k->b, k->len);
        s->len = (unsigned char)k->len;
        s->used = 1;
        s->start = now_ms;
    } else if (!anvil_window_open(s->start, window_ms, now_ms)) {
        memset(s->count, 0, sizeof s->count);
        s->start = now_ms;
    }
    s->window = window_ms;
    if (s->count[ev] < ULONG_MAX)
        s->count[ev]++;
    if (left_ms)
        *left_ms = left(s, window_ms, now_ms);
    return s->count[ev];
}

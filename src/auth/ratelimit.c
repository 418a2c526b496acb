/* ratelimit — fixed windows of failures per address in an open-addressed
 * table (see ratelimit.h). */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define KEY_LEN 9       /* family byte + an IPv4 address or an IPv6 /64 */
#define PROBES 8

struct slot {
    unsigned char key[KEY_LEN];
    int used;
    long long start;        /* first failure of the window */
    unsigned fails;
};

struct ratelimit {
    unsigned limit, window;
    size_t mask;
    uint64_t seed;          /* so that nobody can aim at one neighbourhood */
    struct slot *slots;
};

struct ratelimit *ratelimit_new(unsigned limit, unsigned window, size_t slots)
{
    size_t n = 16;
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    struct ratelimit *r = calloc(1, sizeof *r);
    if (!r || !(r->slots = calloc(n, sizeof *r->slots))) {
        free(r);
        return NULL;
    }
    r->limit = limit ? limit : 1;
    r->window = window ? window : 1;
    r->mask = n - 1;
    if (getrandom(&r->seed, sizeof r->seed, GRND_NONBLOCK) != (ssize_t)sizeof r->seed)
        r->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    return r;
}

void ratelimit_free(struct ratelimit *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

/* The key of an address; 0 when it is no IP address. */
static int make_key(const char *addr, unsigned char key[KEY_LEN])
{
    unsigned char a[16];
    memset(key, 0, KEY_LEN);
    if (inet_pton(AF_INET, addr, a) == 1) {
        key[0] = 4;
        memcpy(key + 1, a, 4);
        return 1;
    }
    if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a, mapped, 12) == 0) {
            key[0] = 4;
            memcpy(key + 1, a + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a, 8);
        }
        return 1;
    }
    return 0;
}

static size_t hash(const struct ratelimit *r, const unsigned char key[KEY_LEN])
{
    uint64_t h = 0xcbf29ce484222325ull ^ r->seed;
    for (int i = 0; i < KEY_LEN; i++) {
        h ^= key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    return (size_t)h & r->mask;
}

static int live(const struct ratelimit *r, const struct slot *s, long long now)
{
    return s->used && now - s->start < (long long)r->window && now >= s->start;
}

static struct slot *find(const struct ratelimit *r, const unsigned char key[KEY_LEN])
{
    size_t h = hash(r, key);
    for (size_t i = 0; i < PROBES; i++) {
        struct slot *s = &r->slots[(h + i) & r->mask];
        if (s->used && memcmp(s->key, key, KEY_LEN) == 0)
            return s;
    }
    return NULL;
}

long long ratelimit_check(const struct ratelimit *r, const char *client_addr, long long now)
{
    unsigned char key[KEY_LEN];
    if (!make_key(client_addr, key))
        return 0;
    const struct slot *s = find(r, key);
    if (!s || !live(r, s, now) || s->fails < r->limit)
        return 0;
    return s->start + (long long)r->window - now;
}

void ratelimit_fail(struct ratelimit *r, const char *client_addr, long long now)
{
    unsigned char key[KEY_LEN];
    if (!make_key(client_addr, key))
        return;
    struct slot *s = find(r, key);
    if (s && live(r, s, now)) {
        if (s->fails < r->limit)
            s->fails++;
        return;
    }
    if (!s) {
        /* a free or expired slot nearby, else the oldest window */
        size_t h = hash(r, key);
        for (size_t i = 0; i < PROBES; i++) {
            struct slot *c = &r->slots[(h + i) & r->mask];
            if (!live(r, c, now)) {
                s = c;
                break;
            }
            if (!s || c->start < s->start)
                s = c;
        }
    }
    memcpy(s->key, key, KEY_LEN);
    s->used = 1;
    s->start = now;
    s->fails = 1;
}

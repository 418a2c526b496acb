/* clock — milliseconds of wall-clock time, behind a seam (see clock.h). */
#include "clock.h"

#include <time.h>

long long clock_now_ms(const struct clock *c)
{
    if (c && c->now_ms)
        return c->now_ms(c->arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timeval clock_timeval(long long ms)
{
    struct timeval tv = { 0, 0 };
    if (ms > 0) {
        tv.tv_sec = (time_t)(ms / 1000);
        tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    }
    return tv;
}

long long clock_ms_to_sec_ceil(long long ms)
{
    return ms >= 0 ? (ms + 999) / 1000 : -((-ms) / 1000);
}

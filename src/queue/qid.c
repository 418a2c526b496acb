/* qid — queue ids: 8 hex digits of seconds, 5 of microseconds, 3 random. */
#include "qid.h"

static const char hexdig[] = "0123456789ABCDEF";

static void put_hex(char *out, unsigned long long v, int ndigits)
{
    for (int i = ndigits - 1; i >= 0; i--) {
        out[i] = hexdig[v & 0xf];
        v >>= 4;
    }
}

void qid_make(char *out, long long sec, long usec, uint32_t rnd)
{
    /* Seconds wrap at 2106; until then the width is fixed and the order is
     * the time order. Out-of-range inputs are clamped, never overflow the
     * fixed width. */
    if (sec < 0)
        sec = 0;
    if (usec < 0)
        usec = 0;
    if (usec > 999999)
        usec = 999999;
    put_hex(out, (unsigned long long)sec & 0xffffffffULL, 8);
    put_hex(out + 8, (unsigned long long)usec, 5);
    put_hex(out + 13, rnd & 0xfffu, 3);
    out[QID_LEN] = '\0';
}

int qid_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < QID_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return s[QID_LEN] == '\0';
}

long long qid_time_ms(const char *s)
{
    if (!qid_valid(s))
        return -1;
    unsigned long long v[2] = { 0, 0 };
    for (int i = 0; i < 13; i++) {
        char c = s[i];
        unsigned d = c >= 'A' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - '0');
        v[i >= 8] = v[i >= 8] * 16 + d;
    }
    return (long long)v[0] * 1000 + (long long)(v[1] / 1000);
}

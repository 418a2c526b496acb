/* proxy — PROXY protocol v1/v2 header parser (see proxy.h). Every read is
 * bounded by len; v1 never looks past PROXY_V1_MAX bytes, v2 never past
 * PROXY_V2_MAX. */
#include "smtp/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const unsigned char V2_SIG[12] = { '\r', '\n', '\r', '\n', 0, '\r',
                                          '\n', 'Q',  'U',  'I',  'T', '\n' };

static enum proxy_result bad(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return PROXY_BAD;
}

/* One v1 field: bytes up to the next space (or the end), at most cap-1. */
static int v1_field(const char *p, size_t n, size_t *pos, char *out, size_t cap)
{
    size_t i = *pos, k = 0;
    while (i < n && p[i] != ' ') {
        if (k + 1 >= cap)
            return -1;
        out[k++] = p[i++];
    }
    out[k] = '\0';
    if (k == 0)
        return -1;
    *pos = i < n ? i + 1 : i;
    return 0;
}

static int v1_port(const char *s, unsigned *port)
{
    unsigned v = 0;
    size_t k = strlen(s);
    if (k == 0 || k > 5 || (k > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = v;
    return 0;
}

static enum proxy_result parse_v1(const unsigned char *buf, size_t len, struct proxy_header *h,
                                  char *err, size_t errlen)
{
    size_t lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
    size_t end = 0;
    while (end + 1 < lim && !(buf[end] == '\r' && buf[end + 1] == '\n'))
        end++;
    if (end + 1 >= lim) {
        /* a lone LF or a NUL is no part of a v1 line */
        for (size_t i = 0; i < lim; i++)
            if (buf[i] == '\n' || buf[i] == '\0')
                return bad(err, errlen, "v1 header: bad line end");
        return len < PROXY_V1_MAX ? PROXY_MORE
                                  : bad(err, errlen, "v1 header: longer than 107 bytes");
    }
    const char *p = (const char *)buf + 6;  /* after "PROXY " */
    size_t n = end - 6, pos = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < ' ' || (unsigned char)p[i] > '~')
            return bad(err, errlen, "v1 header: control or 8-bit byte");
    h->len = end + 2;
    char proto[8];
    if (v1_field(p, n, &pos, proto, sizeof proto) != 0)
        return bad(err, errlen, "v1 header: bad protocol");
    if (strcmp(proto, "UNKNOWN") == 0) {
        /* the rest is to be ignored (proxy-protocol.txt 2.1) */
        h->local = 1;
        return PROXY_OK;
    }
    int family = strcmp(proto, "TCP4") == 0 ? AF_INET : strcmp(proto, "TCP6") == 0 ? AF_INET6 : 0;
    if (!family)
        return bad(err, errlen, "v1 header: protocol is not TCP4, TCP6 or UNKNOWN");
    char src[48], dst[48], sport[8], dport[8];
    if (v1_field(p, n, &pos, src, sizeof src) != 0 || v1_field(p, n, &pos, dst, sizeof dst) != 0 ||
        v1_field(p, n, &pos, sport, sizeof sport) != 0 ||
        v1_field(p, n, &pos, dport, sizeof dport) != 0 || pos != n || p[n - 1] == ' ')
        return bad(err, errlen, "v1 header: not four fields after the protocol");
    unsigned sp, dp;
    if (v1_port(sport, &sp) != 0 || v1_port(dport, &dp) != 0)
        return bad(err, errlen, "v1 header: bad port");
    unsigned char a[16], b[16];
    if (inet_pton(family, src, a) != 1 || inet_pton(family, dst, b) != 1)
        return bad(err, errlen, "v1 header: bad address for the protocol");
    memset(&h->src, 0, sizeof h->src);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&h->src;
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)sp);
        memcpy(&in->sin_addr, a, 4);
        h->srclen = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&h->src;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)sp);
        memcpy(&in6->sin6_addr, a, 16);
        h->srclen = sizeof *in6;
    }
    h->local = 0;
    return PROXY_OK;
}

static enum proxy_result parse_v2(const unsigned char *buf, size_t len, struct proxy_header *h,
                                  char *err, size_t errlen)
{
    if (len < 16)
        return PROXY_MORE;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
    unsigned fam = buf[13];
    size_t alen = ((size_t)buf[14] << 8) | buf[15];
    if (ver != 2)
        return bad(err, errlen, "v2 header: version is not 2");
    if (cmd > 1)
        return bad(err, errlen, "v2 header: command is not LOCAL or PROXY");
    if (16 + alen > PROXY_V2_MAX)
        return bad(err, errlen, "v2 header: address block too long");
    if (len < 16 + alen)
        return PROXY_MORE;
    h->len = 16 + alen;
    const unsigned char *a = buf + 16;
    memset(&h->src, 0, sizeof h->src);
    h->local = 1;
    if (cmd == 0)
        return PROXY_OK;  /* LOCAL: the proxy's own connection (health check) */
    if (fam == 0x11) {  /* TCP over IPv4: src, dst, sport, dport */
        if (alen < 12)
            return bad(err, errlen, "v2 header: IPv4 address block too short");
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&h->src;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a, 4);
        memcpy(&in->sin_port, a + 8, 2);
        h->srclen = sizeof *in;
        h->local = 0;
    } else if (fam == 0x21) {  /* TCP over IPv6 */
        if (alen < 36)
            return bad(err, errlen, "v2 header: IPv6 address block too short");
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&h->src;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a, 16);
        memcpy(&in6->sin6_port, a + 32, 2);
        h->srclen = sizeof *in6;
        h->local = 0;
    }
    /* UNSPEC, UDP, unix: the specification says use the real connection */
    return PROXY_OK;
}

enum proxy_result proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
                              char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (err && errlen)
        err[0] = '\0';
    if (len == 0)
        return PROXY_MORE;
    size_t k = len < sizeof V2_SIG ? len : sizeof V2_SIG;
    if (buf[0] == '\r') {
        if (memcmp(buf, V2_SIG, k) != 0)
            return bad(err, errlen, "v2 header: bad signature");
        return len < sizeof V2_SIG ? PROXY_MORE : parse_v2(buf, len, h, err, errlen);
    }
    k = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", k) != 0)
        return bad(err, errlen, "no PROXY protocol header");
    if (len < 6)
        return PROXY_MORE;
    return parse_v1(buf, len, h, err, errlen);
}

/* proxy — the PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text
 * and v2 binary) an upstream proxy writes before the SMTP session, telling
 * who the real client is. A pure, length-checked parser: bytes in, an
 * address out; no I/O, no allocation. */
#ifndef POSTERN_SMTP_PROXY_H
#define POSTERN_SMTP_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* v1: 107 bytes at most, CRLF included (the specification's bound). */
#define PROXY_V1_MAX 107
/* v2: the 16-byte header and its address block; TLVs beyond this are
 * refused rather than buffered without bound. */
#define PROXY_V2_MAX (16 + 2048)

enum proxy_result { PROXY_OK, PROXY_MORE, PROXY_BAD };

struct proxy_header {
    size_t len;         /* bytes the header takes; what follows is SMTP */
    int local;          /* LOCAL, UNKNOWN or an unsupported family: keep the
                           connection's own address */
    struct sockaddr_storage src;  /* the real client when !local (port included) */
    socklen_t srclen;
};

/* Parse the header at the start of buf[0..len). PROXY_MORE: a valid prefix,
 * read more; PROXY_BAD: err says why (printable, no input echoed beyond a
 * few checked bytes). */
enum proxy_result proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
                              char *err, size_t errlen);

#endif

/* authrec — the DKIM key record (RFC 6376 3.6.1) and the DMARC policy
 * record (RFC 7489 6.3) as published in DNS, parsed and checked. Pure: the
 * text in, a verdict and the values out; `postern dns check` looks them up
 * and compares them with what postern expects. */
#ifndef POSTERN_NET_AUTHREC_H
#define POSTERN_NET_AUTHREC_H

#include <stddef.h>

#define AUTHREC_P_MAX 1400      /* base64 of a 4096-bit RSA key is 736 */

struct authrec_dkim {
    char k[16];                 /* "rsa" unless given */
    char p[AUTHREC_P_MAX];      /* base64, white space removed; "" revoked */
};

/* Parse a DKIM key record ("v=DKIM1; k=rsa; p=..."; the strings of the TXT
 * record already joined). v= when present must be first and "DKIM1"; p=
 * is required; a tag twice is an error. 0, or -1 with err. */
int authrec_dkim_parse(const char *txt, struct authrec_dkim *out, char *err, size_t errlen);

struct authrec_dmarc {
    char p[16], sp[16];         /* "none", "quarantine", "reject"; sp "" when absent */
    char adkim, aspf;           /* 'r' (default) or 's' */
    int pct;                    /* 100 unless given */
    char rua[400], ruf[400];    /* as published ("" when absent) */
    char warning[300];          /* unknown tags, for the operator ("" none) */
};

/* Parse a DMARC record: "v=DMARC1" first, p= required (none, quarantine,
 * reject), sp= likewise, adkim/aspf r or s, pct 0..100, rua/ruf lists of
 * mailto: URIs (with an optional !size), fo, rf, ri checked too. 0, or -1
 * with err naming the tag and the fix. */
int authrec_dmarc_parse(const char *txt, struct authrec_dmarc *out, char *err,
                        size_t errlen);

/* Is txt meant as a DMARC record (starts with "v=DMARC", however wrong
 * the rest)? Receivers ignore other TXT records at _dmarc. */
int authrec_dmarc_like(const char *txt);

/* DMARC identifier alignment (RFC 7489 3.1): strict ('s'), the same name;
 * relaxed ('r'), the same organizational domain, approximated without
 * the public suffix list: the last two labels, three under a country code
 * with a generic second level (example.co.uk, example.com.cn). */
int authrec_aligned(const char *from_domain, const char *auth_domain, char mode);

#endif

/* dnsrec — the DNS records a mail domain should publish for this relay,
 * computed from what the operator tells (domain, addresses, DKIM public
 * records, DMARC report address) and the configuration (myhostname,
 * relayhost). Pure: no lookups, no files, no clock. `postern dns records`
 * prints the list; a check (`dns check`) can resolve each entry and compare
 * it with the value expected here.
 *
 * Names are absolute, with the trailing dot, so that a record means the
 * same in any zone file. TXT values are kept whole here (what a resolver
 * returns once the strings are joined); dnsrec_txt_append splits them into
 * the <=255-byte character-strings a zone file needs. */
#ifndef POSTERN_NET_DNSREC_H
#define POSTERN_NET_DNSREC_H

#include <stddef.h>

struct sbuf;

#define DNSREC_MAX_DKIM 4       /* rsa + ed25519, and each with a next key in rotation */
#define DNSREC_TXT_STRING_MAX 255   /* RFC 1035 3.3: one character-string */

enum dnsrec_role { DNSREC_MX, DNSREC_ADDR, DNSREC_SPF, DNSREC_DKIM, DNSREC_DMARC, DNSREC_PTR };

struct dnsrec {
    enum dnsrec_role role;
    const char *type;           /* "MX", "A", "AAAA", "TXT", "PTR" (static) */
    char *name;                 /* owner name, absolute ("mail._domainkey.example.com.") */
    char *value;                /* RDATA as text; TXT: the joined value, unquoted */
    char *note;                 /* advice for the operator, one paragraph; NULL: none */
    /* 1: belongs in the domain's own zone. 0: somewhere else (a PTR is set
     * by whoever holds the address block; an A record of a myhostname
     * outside the domain lives in that name's zone): printed commented. */
    int in_zone;
};

struct dnsrec_list {
    size_t n;
    struct dnsrec *v;
};

struct dnsrec_dkim {
    const char *selector;
    const char *value;          /* "v=DKIM1; k=rsa; p=..." */
};

struct dnsrec_input {
    const char *domain;         /* the mail domain (From: / envelope), no trailing dot */
    const char *myhostname;     /* this relay's name: the MX target, A/AAAA, PTR */
    const char *ipv4;           /* the public addresses as text, NULL when absent */
    const char *ipv6;           /* (at least one of the two) */
    const char *relayhost;      /* the configuration's relayhost, "" or NULL: direct */
    const char *report_to;      /* DMARC rua address; NULL: postmaster@domain */
    size_t ndkim;
    struct dnsrec_dkim dkim[DNSREC_MAX_DKIM];
};

/* Build the records for in: MX, A/AAAA of myhostname, SPF, one DKIM record
 * per key, DMARC, and the PTR names to ask for. Every input is checked
 * (domain and host syntax, address family, report address). 0, or -1 with
 * err (out is then empty). Free with dnsrec_list_free. */
int dnsrec_build(const struct dnsrec_input *in, struct dnsrec_list *out, char *err,
                 size_t errlen);
void dnsrec_list_free(struct dnsrec_list *l);

/* A DNS host name: labels of letters, digits and '-' (not at either end of
 * a label; '_' allowed when underscore is set, for _domainkey names),
 * 1..63 bytes each, 253 in all, at least two labels, no trailing dot. */
int dnsrec_name_ok(const char *name, int underscore);

/* The reverse-lookup name of an address: "5.113.0.203.in-addr.arpa." or
 * the 32-nibble ".ip6.arpa." form. 0, or -1 when text is no address or
 * out is too small (74 bytes always suffice). */
int dnsrec_ptr_name(const char *text, char *out, size_t outlen);

/* The SPF include: of a known relay provider (the host of a relayhost
 * such as "[smtp.gmail.com]:587"), with the provider's name in *provider;
 * NULL when the provider is not in the table. */
const char *dnsrec_spf_include(const char *relayhost, const char **provider);

/* The SPF record: "v=spf1 mx ip4:... ip6:... -all" when mail goes to the
 * recipients' MX hosts from this machine; with a relayhost, the
 * provider's include: (or the relayhost's own address when it is one);
 * *note gets advice for an unknown provider (static text or NULL). Into b. */
void dnsrec_spf_value(const struct dnsrec_input *in, struct sbuf *b, const char **note);

/* Append a TXT value as zone-file character-strings, sep between them
 * (" ", or "\n\t" inside parentheses): no string longer than max bytes
 * (DNSREC_TXT_STRING_MAX) before escaping; a value that needs several
 * strings is split before its "p=" tag too, so that a DKIM record reads
 * as opendkim-genkey's; '"' and '\' escaped,
 * bytes outside printable ASCII as \DDD. Returns the number of strings. */
size_t dnsrec_txt_append(struct sbuf *b, const char *value, size_t max, const char *sep);

/* Append r as zone-file text: "NAME<TAB>IN<TAB>TYPE<TAB>VALUE\n", a long TXT
 * value as strings in parentheses, one a line; a record that is not
 * in_zone has every line commented out ("; "), for the operator to pass
 * on rather than paste. */
void dnsrec_zone_append(struct sbuf *b, const struct dnsrec *r);

#endif

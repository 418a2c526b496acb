/* command — pure parser for one SMTP command line (CRLF already removed).
 * Never reads past len; no I/O, no allocation. */
#include "smtp/command.h"

#include <limits.h>
#include <string.h>

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    { "HELO", CMD_HELO }, { "EHLO", CMD_EHLO }, { "MAIL", CMD_MAIL },
    { "RCPT", CMD_RCPT }, { "DATA", CMD_DATA }, { "RSET", CMD_RSET },
    { "NOOP", CMD_NOOP }, { "QUIT", CMD_QUIT }, { "HELP", CMD_HELP },
    { "VRFY", CMD_VRFY }, { "EXPN", CMD_EXPN }, { "STARTTLS", CMD_STARTTLS },
    { "AUTH", CMD_AUTH }, { "BDAT", CMD_BDAT },
};

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* s (n bytes) starts with the NUL-terminated word w, case-insensitively. */
static int ci_prefix(const char *s, size_t n, const char *w)
{
    size_t k, wl = strlen(w);

    if (n < wl)
        return 0;
    for (k = 0; k < wl; k++)
        if (lower((unsigned char)s[k]) != lower((unsigned char)w[k]))
            return 0;
    return 1;
}

static int ci_equal(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && ci_prefix(s, n, w);
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static enum cmd_status copy_arg(struct smtp_command *out, const char *a, size_t n)
{
    if (n >= sizeof out->arg)
        return CMD_ERR_SYNTAX;
    memcpy(out->arg, a, n);
    out->arg[n] = '\0';
    return CMD_OK;
}

/* SIZE value: 1*DIGIT fitting in a long long. */
static int parse_size(const char *v, size_t n, long long *out)
{
    long long x = 0;
    size_t k;

    if (n == 0)
        return -1;
    for (k = 0; k < n; k++) {
        int d;
        if (v[k] < '0' || v[k] > '9')
            return -1;
        d = v[k] - '0';
        if (x > (LLONG_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* ESMTP parameters after the path (s, n bytes; trailing spaces already
 * trimmed). Grammar (RFC 5321 4.1.2):
 *   esmtp-param   = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value   = 1*(%d33-60 / %d62-126)     ; + UTF-8 (RFC 6531)
 * Malformed parameters are CMD_ERR_SYNTAX; well-formed but unsupported
 * ones are CMD_ERR_PARAM. is_mail: MAIL (SIZE/BODY/SMTPUTF8/AUTH) or RCPT
 * (nothing supported). */
static enum cmd_status parse_params(const char *s, size_t n, int is_mail,
                                    struct smtp_command *out)
{
    size_t i = 0;
    int seen_size = 0, seen_body = 0, seen_utf8 = 0, seen_auth = 0;

    if (n == 0)
        return CMD_OK;
    if (s[0] != ' ')
        return CMD_ERR_SYNTAX;              /* "<a@b>junk" */
    while (i < n) {
        size_t k0, kl, v0 = 0, vl = 0, j;
        int has_val = 0;

        while (i < n && s[i] == ' ')
            i++;
        if (i >= n)
            break;
        k0 = i;
        while (i < n && s[i] != ' ' && s[i] != '=')
            i++;
        kl = i - k0;
        if (i < n && s[i] == '=') {
            has_val = 1;
            i++;
            v0 = i;
            while (i < n && s[i] != ' ')
                i++;
            vl = i - v0;
        }

        if (kl == 0 || !is_alnum((unsigned char)s[k0]))
            return CMD_ERR_SYNTAX;
        for (j = k0; j < k0 + kl; j++)
            if (!is_alnum((unsigned char)s[j]) && s[j] != '-')
                return CMD_ERR_SYNTAX;
        if (has_val) {
            if (vl == 0)
                return CMD_ERR_SYNTAX;
            for (j = v0; j < v0 + vl; j++) {
                unsigned char ch = (unsigned char)s[j];
                if (ch < 0x80 && (ch < 33 || ch > 126 || ch == '='))
                    return CMD_ERR_SYNTAX;
            }
        }

        if (!is_mail)
            return CMD_ERR_PARAM;
        if (ci_equal(s + k0, kl, "SIZE")) {
            if (seen_size++ || !has_val || parse_size(s + v0, vl, &out->size) < 0)
                return CMD_ERR_SYNTAX;
        } else if (ci_equal(s + k0, kl, "BODY")) {
            if (seen_body++ || !has_val)
                return CMD_ERR_SYNTAX;
            if (ci_equal(s + v0, vl, "7BIT"))
                out->body = BODY_7BIT;
            else if (ci_equal(s + v0, vl, "8BITMIME"))
                out->body = BODY_8BITMIME;
            else
                return CMD_ERR_SYNTAX;
        } else if (ci_equal(s + k0, kl, "SMTPUTF8")) {
            if (seen_utf8++ || has_val)
                return CMD_ERR_SYNTAX;
            out->smtputf8 = 1;
        } else if (ci_equal(s + k0, kl, "AUTH")) {
            /* RFC 4954 AUTH=<mailbox>|<>: accepted and ignored */
            if (seen_auth++ || !has_val)
                return CMD_ERR_SYNTAX;
        } else {
            return CMD_ERR_PARAM;
        }
    }
    return CMD_OK;
}

static enum cmd_status parse_mail(const char *a, size_t n, int nobracket,
                                  struct smtp_command *out)
{
    size_t p, used = 0;
    enum addr_status st;
    enum cmd_status cs;

    if (!ci_prefix(a, n, "FROM:"))
        return CMD_ERR_SYNTAX;
    p = 5;
    if (p < n && a[p] == ' ')
        p++;
    if (p >= n)
        return CMD_ERR_SYNTAX;              /* no path at all */
    /* Parse with UTF-8 allowed, then require SMTPUTF8 once the parameters
     * are known: same result as scanning the parameters first. */
    st = address_parse(a + p, n - p, ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 |
                           (nobracket ? ADDR_ALLOW_NOBRACKET : 0),
                       &out->addr, &used);
    if (st != ADDR_OK) {
        out->addr_status = st;
        return CMD_ERR_ADDRESS;
    }
    p += used;
    if ((cs = parse_params(a + p, n - p, 1, out)) != CMD_OK)
        return cs;
    if (out->addr.has_utf8 && !out->smtputf8) {
        memset(&out->addr, 0, sizeof out->addr);
        out->addr_status = ADDR_ERR_UTF8;
        return CMD_ERR_ADDRESS;
    }
    return CMD_OK;
}

static enum cmd_status parse_rcpt(const char *a, size_t n, unsigned flags,
                                  struct smtp_command *out)
{
    static const char pm[] = "<postmaster>";
    size_t p, used = 0;
    enum addr_status st;

    if (!ci_prefix(a, n, "TO:"))
        return CMD_ERR_SYNTAX;
    p = 3;
    if (p < n && a[p] == ' ')
        p++;
    if (p >= n)
        return CMD_ERR_SYNTAX;
    if (ci_prefix(a + p, n - p, pm)) {
        /* RFC 5321 4.5.1: "<Postmaster>" without a domain must work */
        memset(&out->addr, 0, sizeof out->addr);
        strcpy(out->addr.local, "Postmaster");
        strcpy(out->addr.full, "Postmaster");
        used = sizeof pm - 1;
    } else {
        st = address_parse(a + p, n - p,
                           ((flags & CMD_PARSE_UTF8) ? ADDR_ALLOW_UTF8 : 0) |
                               ((flags & CMD_PARSE_NOBRACKET) ? ADDR_ALLOW_NOBRACKET : 0),
                           &out->addr, &used);
        if (st != ADDR_OK) {
            out->addr_status = st;
            return CMD_ERR_ADDRESS;
        }
    }
    p += used;
    return parse_params(a + p, n - p, 0, out);
}

enum cmd_status command_parse(const char *line, size_t len, unsigned flags,
                              struct smtp_command *out)
{
    size_t i, vend, a, e, k;
    const char *arg;
    size_t alen;

    memset(out, 0, sizeof *out);
    out->verb = CMD_UNKNOWN;
    out->size = -1;
    out->body = BODY_NONE;
    out->addr_status = ADDR_OK;
    if (line == NULL)
        len = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            return CMD_ERR_NUL;
    }
    if (len == 0)
        return CMD_ERR_UNKNOWN;

    for (vend = 0; vend < len && line[vend] != ' '; vend++)
        ;
    for (k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (ci_equal(line, vend, verbs[k].name))
            break;
    if (k == sizeof verbs / sizeof verbs[0])
        return CMD_ERR_UNKNOWN;
    out->verb = verbs[k].verb;

    for (a = vend; a < len && line[a] == ' '; a++)
        ;
    for (e = len; e > a && line[e - 1] == ' '; e--)
        ;
    arg = line + a;
    alen = e - a;

    switch (out->verb) {
    case CMD_AUTH:
        if (alen == 0)
            return CMD_ERR_SYNTAX;
        out->auth_arg = arg;
        out->auth_len = alen;
        /* a PLAIN initial response may be longer than arg: auth_arg has it */
        if (copy_arg(out, arg, alen) != CMD_OK)
            out->arg[0] = '\0';
        return CMD_OK;
    case CMD_HELO:
    case CMD_EHLO:
    case CMD_VRFY:
    case CMD_EXPN:
        if (alen == 0)
            return CMD_ERR_SYNTAX;
        return copy_arg(out, arg, alen);
    case CMD_NOOP:
    case CMD_HELP:
    case CMD_BDAT:
        return copy_arg(out, arg, alen);
    case CMD_DATA:
    case CMD_RSET:
    case CMD_QUIT:
    case CMD_STARTTLS:
        return alen == 0 ? CMD_OK : CMD_ERR_SYNTAX;
    case CMD_MAIL:
        return parse_mail(arg, alen, (flags & CMD_PARSE_NOBRACKET) != 0, out);
    case CMD_RCPT:
        return parse_rcpt(arg, alen, flags, out);
    case CMD_UNKNOWN:
        break;
    }
    return CMD_ERR_UNKNOWN;
}

enum trace_redact command_trace_redact(const char *line, size_t len, int *after_auth)
{
    size_t i = 0, w;
    if (line == NULL)
        len = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (ci_prefix(line + i, len - i, "AUTH")) {
        *after_auth = 1;
        return TRACE_AUTH;
    }
    for (w = i; w < len && line[w] != ' ' && line[w] != '\t'; w++)
        ;
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (ci_equal(line + i, w - i, verbs[k].name)) {
            *after_auth = 0;
            return TRACE_SHOW;
        }
    return *after_auth ? TRACE_SECRET : TRACE_SHOW;
}

const char *command_verb_name(enum smtp_verb v)
{
    size_t k;

    for (k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (verbs[k].verb == v)
            return verbs[k].name;
    return "UNKNOWN";
}

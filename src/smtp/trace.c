#include "trace.h"

#include <stdio.h>
#include <string.h>

char *trace_helo_name(const char *helo, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)helo[i];
        /* the same set as Postfix's NEUTER_CHARACTERS, after printable() */
        int bad = c <= 0x20 || c >= 0x7f || strchr("<>()\\\";@", c) != NULL;
        out[o++] = bad ? '?' : (char)c;
    }
    out[o] = '\0';
    return out;
}

/* The login as a comment of the header: bytes that could end the comment,
 * the line or the header become '?' (a name from a backend is not ours). */
static void auth_comment(const char *user, char *out, size_t outlen)
{
    size_t o = 0;
    if (!user) {
        out[0] = '\0';
        return;
    }
    o = (size_t)snprintf(out, outlen, "\t(Authenticated sender: ");
    for (size_t i = 0; user[i] && o + 4 < outlen; i++) {
        unsigned char c = (unsigned char)user[i];
        out[o++] = c < 0x20 || c == 0x7f || strchr("()\\", c) ? '?' : (char)c;
    }
    memcpy(out + o, ")\r\n", 4);
}

size_t trace_format_received(const struct trace_received *t, char *out, size_t outlen)
{
    int n;
    char tls[256] = "";
    if (t->tls_protocol &&
        snprintf(tls, sizeof tls,
                 "\t(using %s with cipher %s (%d/%d bits))\r\n"
                 "\t(No client certificate requested)\r\n",
                 t->tls_protocol, t->tls_cipher ? t->tls_cipher : "unknown", t->tls_bits,
                 t->tls_alg_bits) >= (int)sizeof tls)
        tls[0] = '\0';
    char auth[320];
    auth_comment(t->local_uid >= 0 ? NULL : t->auth_user, auth, sizeof auth);
    if (t->local_uid >= 0)
        /* local submission, as Postfix's pickup writes it */
        n = snprintf(out, outlen,
                     "Received: by %s (postern, from userid %ld)\r\n\tid %s; %s\r\n",
                     t->myhostname, t->local_uid, t->qid, t->date);
    else if (t->for_rcpt)
        n = snprintf(out, outlen,
                     "Received: from %s (%s [%s])\r\n%s%s\tby %s (postern) with %s id %s\r\n"
                     "\tfor <%s>; %s\r\n",
                     t->helo[0] ? t->helo : "unknown", t->client_name, t->client_addr, tls, auth,
                     t->myhostname, t->protocol, t->qid, t->for_rcpt, t->date);
    else
        n = snprintf(out, outlen,
                     "Received: from %s (%s [%s])\r\n%s%s\tby %s (postern) with %s id %s;\r\n"
                     "\t%s\r\n",
                     t->helo[0] ? t->helo : "unknown", t->client_name, t->client_addr, tls, auth,
                     t->myhostname, t->protocol, t->qid, t->date);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

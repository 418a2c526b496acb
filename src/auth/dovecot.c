/* dovecot — auth client protocol codec and round trip (see dovecot.h). */
#include "dovecot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/base64.h"
#include "../util/log.h"
#include "conn.h"
#include "sasl.h"

/* The next TAB-separated field of *p (cut in place), or NULL at the end. */
static char *field(char **p)
{
    if (!*p)
        return NULL;
    char *f = *p, *t = strchr(f, '\t');
    if (t) {
        *t = '\0';
        *p = t + 1;
    } else {
        *p = NULL;
    }
    return f;
}

int dovecot_handshake_line(struct dovecot_handshake *h, const char *line, char *why,
                           size_t whylen)
{
    char buf[CONN_LINE_MAX], *p = buf;
    snprintf(buf, sizeof buf, "%s", line);
    const char *cmd = field(&p);
    if (strcmp(cmd, "VERSION") == 0) {
        const char *major = field(&p);
        if (!major || strcmp(major, "1") != 0) {
            snprintf(why, whylen, "Dovecot speaks auth protocol version %.20s, postern 1",
                     major ? major : "(none)");
            return -1;
        }
        h->version_ok = 1;
    } else if (strcmp(cmd, "MECH") == 0) {
        const char *name = field(&p);
        if (name && strcasecmp(name, "PLAIN") == 0)
            h->plain = 1;
    } else if (strcmp(cmd, "DONE") == 0) {
        h->done = 1;
        return 1;
    }
    return 0;       /* SPID, CUID, COOKIE and what later versions add */
}

/* An IP address without anything that could end a field. */
static int plain_addr(const char *a)
{
    unsigned char bin[16];
    return a && (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1);
}

size_t dovecot_auth_line(char *out, size_t outlen, unsigned id, const char *user,
                         const char *pass, const char *lip, const char *rip, int secured)
{
    char msg[2 * SASL_NAME_MAX + 3];
    char b64[BASE64_ENCODED_SIZE(sizeof msg)];
    size_t ul = strlen(user), pl = strlen(pass);
    if (ul > SASL_NAME_MAX || pl > SASL_PASS_MAX)
        return 0;
    msg[0] = '\0';
    memcpy(msg + 1, user, ul);
    msg[1 + ul] = '\0';
    memcpy(msg + 2 + ul, pass, pl);
    size_t bl = base64_encode(msg, ul + pl + 2, b64, sizeof b64);
    explicit_bzero(msg, sizeof msg);
    int n = snprintf(out, outlen, "AUTH\t%u\tPLAIN\tservice=smtp\tnologin%s%s%s%s%s\tresp=%s\n",
                     id, plain_addr(lip) ? "\tlip=" : "", plain_addr(lip) ? lip : "",
                     plain_addr(rip) ? "\trip=" : "", plain_addr(rip) ? rip : "",
                     secured ? "\tsecured" : "", bl == (size_t)-1 ? "" : b64);
    explicit_bzero(b64, sizeof b64);
    if (bl == (size_t)-1 || n < 0 || (size_t)n >= outlen) {
        explicit_bzero(out, outlen);
        return 0;
    }
    return (size_t)n;
}

enum dovecot_reply_type dovecot_parse_reply(const char *line, unsigned id,
                                            struct dovecot_reply *r)
{
    char buf[CONN_LINE_MAX], *p = buf;
    memset(r, 0, sizeof *r);
    snprintf(buf, sizeof buf, "%s", line);
    const char *cmd = field(&p), *ids = field(&p);
    enum dovecot_reply_type t = strcmp(cmd, "OK") == 0     ? DOVECOT_OK
                                : strcmp(cmd, "FAIL") == 0 ? DOVECOT_FAIL
                                : strcmp(cmd, "CONT") == 0 ? DOVECOT_CONT
                                                           : DOVECOT_OTHER;
    char *end;
    if (t == DOVECOT_OTHER || !ids || strtoul(ids, &end, 10) != id || *end || !*ids)
        return DOVECOT_OTHER;
    for (const char *f; (f = field(&p));) {
        if (strncmp(f, "user=", 5) == 0) {
            size_t n = strlen(f + 5), bad = 0;
            for (size_t i = 0; i < n; i++)
                bad |= (unsigned char)f[5 + i] < 0x20 || f[5 + i] == 0x7f;
            if (n <= AUTH_NAME_MAX && !bad)
                memcpy(r->user, f + 5, n + 1);
        } else if (strncmp(f, "reason=", 7) == 0) {
            snprintf(r->reason, sizeof r->reason, "%s", f + 7);
        } else if (strcmp(f, "temp") == 0) {
            r->temp = 1;
        }
    }
    r->type = t;
    return t;
}

static void verdict(struct auth_verdict *v, enum auth_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verdict(struct auth_verdict *v, enum auth_result res, const char *fmt, ...)
{
    char raw[sizeof v->why];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    v->result = res;
    log_sanitize(raw, strlen(raw), v->why, sizeof v->why);
}

static void connect_failed(struct auth_verdict *v, const char *path, const char *run_as,
                           int e)
{
    if (e == ENOENT)
        verdict(v, AUTH_TEMP, "cannot connect to Dovecot auth socket at %s: %s; Dovecot must "
                "listen there: in its 10-master.conf, service auth { unix_listener %s { mode "
                "= 0660 user = %s } } (or set smtpd_sasl_path to where it listens)", path,
                strerror(e), path, run_as);
    else if (e == EACCES)
        verdict(v, AUTH_TEMP, "cannot connect to Dovecot auth socket at %s: %s; the daemon "
                "runs as %s: give it the listener (unix_listener { user = %s mode = 0660 }) "
                "and a way into its directory", path, strerror(e), run_as, run_as);
    else if (e == ECONNREFUSED)
        verdict(v, AUTH_TEMP, "cannot connect to Dovecot auth socket at %s: %s; nobody "
                "listens there (Dovecot stopped?)", path, strerror(e));
    else
        verdict(v, AUTH_TEMP, "cannot connect to Dovecot auth socket at %s: %s", path,
                strerror(e));
}

static const char *io_error(int e)
{
    return e == ETIMEDOUT ? "no reply in time"
           : e == ECONNRESET ? "closed the connection"
           : e == EMSGSIZE ? "a line too long"
                           : strerror(e);
}

void dovecot_verify(const char *path, const char *user, const char *pass,
                    const struct auth_peer *peer, const char *run_as, int timeout_ms,
                    struct auth_verdict *v)
{
    struct conn *c = &(struct conn){ .fd = -1 };
    char line[CONN_LINE_MAX], why[256];
    if (conn_open(c, path, timeout_ms) < 0) {
        connect_failed(v, path, run_as, errno);
        return;
    }
    int n = snprintf(line, sizeof line, "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
    if (conn_write(c, line, (size_t)n) < 0) {
        verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: %s", path, io_error(errno));
        goto out;
    }
    struct dovecot_handshake h = { 0 };
    for (;;) {
        if (conn_read_line(c, line) < 0) {
            verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: handshake: %s (is it the auth "
                    "client socket, not auth-userdb or auth-master?)", path, io_error(errno));
            goto out;
        }
        int rc = dovecot_handshake_line(&h, line, why, sizeof why);
        if (rc < 0) {
            verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: %s", path, why);
            goto out;
        }
        if (rc > 0)
            break;
    }
    if (!h.version_ok || !h.plain) {
        verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: %s", path,
                !h.version_ok ? "no VERSION in the handshake"
                              : "Dovecot does not offer PLAIN: set auth_mechanisms = plain "
                                "login in Dovecot");
        goto out;
    }
    size_t len = dovecot_auth_line(line, sizeof line, 1, user, pass,
                                   peer ? peer->server_addr : NULL,
                                   peer ? peer->client_addr : NULL, peer && peer->secured);
    if (len == 0) {
        verdict(v, AUTH_FAIL, "name or password too long");
        goto out;
    }
    int wrc = conn_write(c, line, len);
    explicit_bzero(line, sizeof line);
    if (wrc < 0) {
        verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: %s", path, io_error(errno));
        goto out;
    }
    struct dovecot_reply r;
    for (;;) {
        if (conn_read_line(c, line) < 0) {
            verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: %s", path, io_error(errno));
            goto out;
        }
        if (dovecot_parse_reply(line, 1, &r) != DOVECOT_OTHER)
            break;
    }
    if (r.type == DOVECOT_OK) {
        v->result = AUTH_OK;
        v->why[0] = '\0';
        if (r.user[0])
            memcpy(v->user, r.user, sizeof v->user);
    } else if (r.type == DOVECOT_FAIL) {
        verdict(v, r.temp ? AUTH_TEMP : AUTH_FAIL, "dovecot: %s%s",
                r.reason[0] ? r.reason : "authentication failed",
                r.temp ? " (temporary failure)" : "");
    } else {
        verdict(v, AUTH_TEMP, "Dovecot auth socket at %s: asked for more after a complete "
                "PLAIN response", path);
    }
out:
    conn_close(c);
}

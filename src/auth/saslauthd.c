/* saslauthd — request codec and round trip (see saslauthd.h). */
#include "saslauthd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../util/log.h"
#include "conn.h"

static int put(unsigned char *buf, size_t buflen, size_t *o, const char *s, size_t n)
{
    if (n > SASLAUTHD_FIELD_MAX || buflen - *o < n + 2)
        return -1;
    buf[(*o)++] = (unsigned char)(n >> 8);
    buf[(*o)++] = (unsigned char)n;
    memcpy(buf + *o, s, n);
    *o += n;
    return 0;
}

size_t saslauthd_encode(const char *user, const char *pass, const char *service,
                        unsigned char *buf, size_t buflen)
{
    const char *at = strrchr(user, '@');
    size_t ul = at ? (size_t)(at - user) : strlen(user);
    const char *realm = at ? at + 1 : "";
    size_t o = 0;
    if (put(buf, buflen, &o, user, ul) < 0 || put(buf, buflen, &o, pass, strlen(pass)) < 0 ||
        put(buf, buflen, &o, service, strlen(service)) < 0 ||
        put(buf, buflen, &o, realm, strlen(realm)) < 0)
        return 0;
    return o;
}

int saslauthd_reply_length(const unsigned char hdr[2], size_t *len)
{
    *len = (size_t)hdr[0] << 8 | hdr[1];
    return *len >= 2 && *len <= SASLAUTHD_REPLY_MAX ? 0 : -1;
}

int saslauthd_reply_ok(const char *text, size_t len)
{
    return len >= 2 && text[0] == 'O' && text[1] == 'K';
}

static void verdict(struct auth_verdict *v, enum auth_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verdict(struct auth_verdict *v, enum auth_result r, const char *fmt, ...)
{
    char raw[sizeof v->why];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    v->result = r;
    log_sanitize(raw, strlen(raw), v->why, sizeof v->why);
}

void saslauthd_verify(const char *path, const char *user, const char *pass,
                      const char *run_as, int timeout_ms, struct auth_verdict *v)
{
    unsigned char req[4 * (SASLAUTHD_FIELD_MAX + 2)];
    size_t n = saslauthd_encode(user, pass, "smtp", req, sizeof req);
    if (n == 0) {
        verdict(v, AUTH_FAIL, "saslauthd takes at most %d bytes of name, realm or password",
                SASLAUTHD_FIELD_MAX);
        return;
    }
    struct conn *c = &(struct conn){ .fd = -1 };
    if (conn_open(c, path, timeout_ms) < 0) {
        int e = errno;
        if (e == ENOENT)
            verdict(v, AUTH_TEMP, "cannot connect to saslauthd server at %s: %s; is saslauthd "
                    "running, with this socket directory? (saslauthd -m DIR listens on "
                    "DIR/mux: set smtpd_sasl_path to it; `testsaslauthd -f %s -u NAME -p "
                    "PASSWORD` tries it by hand)", path, strerror(e), path);
        else if (e == EACCES)
            verdict(v, AUTH_TEMP, "cannot connect to saslauthd server at %s: %s; the daemon "
                    "runs as %s, which may not enter the socket's directory: add %s to its "
                    "group (Debian: adduser %s sasl), then restart postern", path,
                    strerror(e), run_as, run_as, run_as);
        else if (e == ECONNREFUSED)
            verdict(v, AUTH_TEMP, "cannot connect to saslauthd server at %s: %s; nobody "
                    "listens there (saslauthd stopped, and left its socket behind?)", path,
                    strerror(e));
        else
            verdict(v, AUTH_TEMP, "cannot connect to saslauthd server at %s: %s", path,
                    strerror(e));
        explicit_bzero(req, sizeof req);
        return;
    }
    int rc = conn_write(c, req, n);
    explicit_bzero(req, sizeof req);
    unsigned char hdr[2];
    char text[SASLAUTHD_REPLY_MAX + 1];
    size_t len = 0;
    if (rc < 0 || conn_read_exact(c, hdr, 2) < 0) {
        int e = errno;
        verdict(v, AUTH_TEMP, "saslauthd at %s: %s", path,
                e == ETIMEDOUT ? "no reply in time"
                : e == ECONNRESET ? "closed the connection without a reply"
                                  : strerror(e));
    } else if (saslauthd_reply_length(hdr, &len) < 0) {
        verdict(v, AUTH_TEMP, "saslauthd at %s: malformed reply (length %zu)", path, len);
    } else if (conn_read_exact(c, text, len) < 0) {
        verdict(v, AUTH_TEMP, "saslauthd at %s: reply cut short", path);
    } else {
        text[len] = '\0';
        if (saslauthd_reply_ok(text, len)) {
            v->result = AUTH_OK;
            v->why[0] = '\0';
        } else {
            verdict(v, AUTH_FAIL, "saslauthd: %s", text);
        }
    }
    conn_close(c);
}

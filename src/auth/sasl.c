/* sasl — PLAIN and LOGIN server exchanges (see sasl.h). Every decoded
 * byte lives in a stack buffer that is wiped before returning. */
#include "sasl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/base64.h"

/* base64 "Username:" and "Password:", what every LOGIN client expects */
#define LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE "UGFzc3dvcmQ6"

enum { STEP_IDLE, STEP_PLAIN, STEP_LOGIN_USER, STEP_LOGIN_PASS };

void sasl_wipe(struct sasl_exchange *x)
{
    explicit_bzero(x->authzid, sizeof x->authzid);
    explicit_bzero(x->authcid, sizeof x->authcid);
    explicit_bzero(x->passwd, sizeof x->passwd);
    x->step = STEP_IDLE;
    x->challenge = NULL;
}

static enum sasl_status fail(struct sasl_exchange *x, enum sasl_status st)
{
    sasl_wipe(x);
    return st;
}

static int has_control(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* A name field of n bytes into dst (SASL_NAME_MAX + 1 bytes). */
static enum sasl_status take_name(char *dst, const unsigned char *s, size_t n)
{
    if (n == 0)
        return SASL_ERR_MALFORMED;
    if (n > SASL_NAME_MAX)
        return SASL_ERR_FIELD_TOOLONG;
    if (has_control(s, n))          /* NUL included */
        return SASL_ERR_MALFORMED;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return SASL_DONE;
}

static enum sasl_status take_pass(char *dst, const unsigned char *s, size_t n)
{
    if (n == 0 || memchr(s, '\0', n))
        return SASL_ERR_MALFORMED;
    if (n > SASL_PASS_MAX)
        return SASL_ERR_FIELD_TOOLONG;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return SASL_DONE;
}

/* authzid NUL authcid NUL passwd */
static enum sasl_status parse_plain(struct sasl_exchange *x, const unsigned char *m, size_t n)
{
    const unsigned char *nul1 = memchr(m, '\0', n);
    if (!nul1)
        return SASL_ERR_MALFORMED;
    size_t zl = (size_t)(nul1 - m);
    const unsigned char *c = nul1 + 1;
    const unsigned char *nul2 = memchr(c, '\0', n - zl - 1);
    if (!nul2)
        return SASL_ERR_MALFORMED;
    size_t cl = (size_t)(nul2 - c);
    const unsigned char *p = nul2 + 1;
    size_t pl = n - zl - cl - 2;
    enum sasl_status st;
    if (zl > 0 && (st = take_name(x->authzid, m, zl)) != SASL_DONE)
        return st;
    if ((st = take_name(x->authcid, c, cl)) != SASL_DONE ||
        (st = take_pass(x->passwd, p, pl)) != SASL_DONE)
        return st;
    if (zl > 0 && strcmp(x->authzid, x->authcid) != 0)
        return SASL_ERR_AUTHZID;
    return SASL_DONE;
}

/* One response (an initial response or a line) of the current step. */
static enum sasl_status feed(struct sasl_exchange *x, const char *line, size_t len)
{
    unsigned char buf[SASL_LINE_MAX / 4 * 3];
    size_t n = 0;
    enum sasl_status st;
    if (len > SASL_LINE_MAX)
        return fail(x, SASL_ERR_TOOLONG);
    /* "=" is the empty response (RFC 4954 4) */
    if (!(len == 1 && line[0] == '=') &&
        (n = base64_decode(line, len, buf, sizeof buf)) == (size_t)-1) {
        explicit_bzero(buf, sizeof buf);
        return fail(x, SASL_ERR_BASE64);
    }
    switch (x->step) {
    case STEP_PLAIN:
        st = parse_plain(x, buf, n);
        break;
    case STEP_LOGIN_USER:
        if ((st = take_name(x->authcid, buf, n)) == SASL_DONE) {
            x->step = STEP_LOGIN_PASS;
            x->challenge = LOGIN_PASS_CHALLENGE;
            st = SASL_CONTINUE;
        }
        break;
    case STEP_LOGIN_PASS:
        st = take_pass(x->passwd, buf, n);
        break;
    default:
        st = SASL_ERR_MALFORMED;
        break;
    }
    explicit_bzero(buf, sizeof buf);
    if (st == SASL_DONE) {
        x->step = STEP_IDLE;
        x->challenge = NULL;
    } else if (st != SASL_CONTINUE) {
        sasl_wipe(x);
    }
    return st;
}

enum sasl_status sasl_start(struct sasl_exchange *x, const char *arg, size_t len,
                            unsigned mechs)
{
    memset(x, 0, sizeof *x);
    size_t i = 0;
    while (i < len && arg[i] == ' ')
        i++;
    size_t ms = i;
    while (i < len && arg[i] != ' ')
        i++;
    size_t ml = i - ms;
    while (i < len && arg[i] == ' ')
        i++;
    size_t rs = i;
    while (i < len && arg[i] != ' ')
        i++;
    size_t rl = i - rs;
    while (i < len && arg[i] == ' ')
        i++;
    if (ml == 0 || i < len)
        return SASL_ERR_SYNTAX;
    if (ml == 5 && strncasecmp(arg + ms, "PLAIN", 5) == 0 && (mechs & SASL_MECH_PLAIN)) {
        x->mech = SASL_MECH_PLAIN;
        x->step = STEP_PLAIN;
        x->challenge = "";
    } else if (ml == 5 && strncasecmp(arg + ms, "LOGIN", 5) == 0 &&
               (mechs & SASL_MECH_LOGIN)) {
        x->mech = SASL_MECH_LOGIN;
        x->step = STEP_LOGIN_USER;
        x->challenge = LOGIN_USER_CHALLENGE;
    } else {
        return SASL_ERR_MECH;
    }
    if (rl == 0)
        return SASL_CONTINUE;
    return feed(x, arg + rs, rl);
}

enum sasl_status sasl_step(struct sasl_exchange *x, const char *line, size_t len)
{
    if (x->step == STEP_IDLE)
        return fail(x, SASL_ERR_MALFORMED);
    if (len == 1 && line[0] == '*')
        return fail(x, SASL_ABORTED);
    return feed(x, line, len);
}

const char *sasl_reply(enum sasl_status st)
{
    switch (st) {
    case SASL_ABORTED:
        return "501 5.7.0 Authentication aborted";
    case SASL_ERR_SYNTAX:
        return "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
    case SASL_ERR_MECH:
        return "504 5.5.4 Unsupported authentication mechanism";
    case SASL_ERR_BASE64:
        return "501 5.5.2 Cannot decode response";
    case SASL_ERR_TOOLONG:
        return "500 5.5.6 Authentication Exchange line is too long";
    case SASL_ERR_MALFORMED:
        return "535 5.7.8 Error: authentication failed: malformed SASL response";
    case SASL_ERR_FIELD_TOOLONG:
        return "535 5.7.8 Error: authentication failed: name or password longer than 255 bytes";
    case SASL_ERR_AUTHZID:
        return "535 5.7.8 Error: authentication failed: authorization identity must be empty "
               "or the authentication identity";
    case SASL_CONTINUE:
    case SASL_DONE:
        break;
    }
    return NULL;
}

const char *sasl_mech_name(enum sasl_mech m)
{
    return m == SASL_MECH_PLAIN ? "PLAIN" : m == SASL_MECH_LOGIN ? "LOGIN" : "?";
}

char *sasl_mech_list(unsigned mechs, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s%s", (mechs & SASL_MECH_PLAIN) ? "PLAIN" : "",
             (mechs & SASL_MECH_PLAIN) && (mechs & SASL_MECH_LOGIN) ? " " : "",
             (mechs & SASL_MECH_LOGIN) ? "LOGIN" : "");
    return out;
}

unsigned sasl_mechs_allowed(char *const *options, size_t n)
{
    static const char *const excluding[] = { "noplaintext", "noactive", "nodictionary",
                                             "mutual_auth" };
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof excluding / sizeof excluding[0]; k++)
            if (strcasecmp(options[i], excluding[k]) == 0)
                return 0;
    return SASL_MECHS_ALL;
}

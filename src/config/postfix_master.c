/* postfix_master — the SMTP services of a Postfix master.cf as postern
 * listen URLs. Pure: text in, the URLs, the total process limit, notes and
 * errors out (into struct config_errors, named "FILE:LINE").
 *
 * Each "inet" service whose command is smtpd (or postscreen, which hands
 * the same clients to smtpd) becomes one URL per address: the service's
 * own host ("127.0.0.1:submission"), else every address inet_interfaces
 * gave. The scheme follows the port: smtps/submissions/465 (or
 * -o smtpd_tls_wrappermode=yes) -> submissions://, submission/587 ->
 * submission://, anything else smtp://. "-o name=value" becomes the URL's
 * ?name=value override when name is a postern parameter (the daemon checks
 * that it may be set per listener); the classes of postfix_names.c say what
 * happens to a Postfix one. Other services (unix, pass, the delivery
 * agents) are Postfix's plumbing: postern has them built in. */
#include "config.h"
#include "config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/sbuf.h"

#define MASTER_MAX_ARGS 64
#define MASTER_NOTE_LINE 1000000        /* notes of master.cf after main.cf's */

static int is_sp(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The port of a master.cf service name: -1 when it is not a port. */
static int service_port(const char *s)
{
    static const struct { const char *name; int port; } known[] = {
        { "smtp", 25 }, { "submission", 587 }, { "smtps", 465 }, { "submissions", 465 },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i].name) == 0)
            return known[i].port;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 65535)
        return -1;
    return (int)v;
}

/* A value for a URL's query: list separators become '+', and '$' "$$",
 * so that a $name (main.cf's $mua_client_restrictions) is expanded in the
 * listener's own load, not in the listen list's. */
static void add_query_value(struct sbuf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '$') {
            sbuf_add(out, "$$", 2);
            continue;
        }
        char c = *v == ',' || is_sp(*v) ? '+' : *v;
        if (c == '+' && out->len && out->s[out->len - 1] == '+')
            continue;
        sbuf_add(out, &c, 1);
    }
}

struct service {
    const char *file;
    int line;
    char *f[MASTER_MAX_ARGS];
    size_t n;
};

/* One logical line's fields (split on white space, in place). */
static void split_fields(char *s, struct service *sv)
{
    sv->n = 0;
    while (*s && sv->n < MASTER_MAX_ARGS) {
        while (is_sp(*s))
            s++;
        if (!*s)
            break;
        sv->f[sv->n++] = s;
        while (*s && !is_sp(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

/* One smtpd service as URLs appended to listen. */
static void map_service(struct service *sv, const char *addrs, struct sbuf *listen,
                        long long *procs, int *limited, struct config_errors *errs)
{
    char q[80], host[128] = "", pname[64];
    const char *svc = sv->f[0];
    const char *colon = strrchr(svc, ':');
    int note_line = MASTER_NOTE_LINE + sv->line;
    if (colon) {
        size_t hl = (size_t)(colon - svc);
        if (hl >= sizeof host)
            hl = sizeof host - 1;
        memcpy(host, svc, hl);
        host[hl] = '\0';
        svc = colon + 1;
    }
    int port = service_port(svc);
    if (port < 0) {
        config_errors_add(errs, "%s:%d: service \"%s\": not a port or a known service "
                          "name (smtp, submission, submissions); write a listen URL",
                          sv->file, sv->line, config_quote(sv->f[0], q, sizeof q));
        return;
    }
    int wrapper = strcmp(svc, "smtps") == 0 || strcmp(svc, "submissions") == 0 || port == 465;
    struct sbuf query = SBUF_INIT;
    for (size_t i = 8; i < sv->n; i++) {
        const char *a = sv->f[i];
        if (strcmp(a, "-o") == 0 && i + 1 < sv->n)
            a = sv->f[++i];
        else if (strncmp(a, "-o", 2) == 0 && a[2])
            a += 2;
        else
            continue;           /* other smtpd flags (-v): nothing here */
        const char *eq = strchr(a, '=');
        if (!eq || eq == a || (size_t)(eq - a) >= sizeof pname) {
            config_errors_add(errs, "%s:%d: -o %s: expected -o name=value", sv->file,
                              sv->line, config_quote(a, q, sizeof q));
            continue;
        }
        memcpy(pname, a, (size_t)(eq - a));
        pname[eq - a] = '\0';
        const char *v = eq + 1, *hint, *ok;
        enum cfg_class cls = config_postfix_class(pname, &hint, &ok);
        if (strcmp(pname, "smtpd_tls_wrappermode") == 0) {
            wrapper = strcasecmp(v, "yes") == 0;
            continue;           /* the scheme says it */
        }
        if (strcmp(pname, "syslog_name") == 0) {
            config_notes_add(errs, note_line, "%s:%d: warning: %s: -o syslog_name: postern "
                             "names the listener in its log lines (\"for service %s\"); "
                             "ignored", sv->file, sv->line, sv->f[0],
                             wrapper ? "submissions" : port == 587 ? "submission" : "smtp");
        } else if (cls == CFG_CLASS_IMPLEMENTED && !*v) {
            config_notes_add(errs, note_line, "%s:%d: warning: %s: -o %s= (empty): the main.cf value "
                             "applies; ignored", sv->file, sv->line, sv->f[0], pname);
        } else if (cls == CFG_CLASS_IMPLEMENTED) {
            sbuf_str(&query, query.len ? "&" : "?");
            sbuf_str(&query, pname);
            sbuf_add(&query, "=", 1);
            add_query_value(&query, v);
        } else if (cls == CFG_CLASS_REFUSED && *v && !(ok && strcasecmp(v, ok) == 0)) {
            config_errors_add(errs, "%s:%d: %s: -o %s is a Postfix parameter that postern "
                              "does not implement: %s; remove it", sv->file, sv->line,
                              sv->f[0], pname, hint);
        } else {
            config_notes_add(errs, note_line, "%s:%d: warning: %s: -o %s: %s; ignored",
                             sv->file, sv->line, sv->f[0], config_quote(pname, q, sizeof q),
                             hint ? hint : "not a parameter postern knows");
        }
    }
    const char *scheme = wrapper ? "submissions" : port == 587 ? "submission" : "smtp";
    size_t start = listen->len;
    char url[256];
    const char *list = host[0] ? host : addrs;
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, " ");
        char a[80];
        if (len && len < sizeof a) {
            memcpy(a, s, len);
            a[len] = '\0';
            int v6 = strchr(a, ':') && a[0] != '[';
            snprintf(url, sizeof url, "%s%s://%s%s%s:%d", listen->len ? " " : "", scheme,
                     v6 ? "[" : "", a, v6 ? "]" : "", port);
            sbuf_str(listen, url);
            if (query.len)
                sbuf_add(listen, query.s, query.len);
        }
        s += len;
        s += strspn(s, " ");
    }
    sbuf_free(&query);
    const char *mp = sv->f[6];
    if (strcmp(mp, "-") != 0) {
        *procs += strtoll(mp, NULL, 10);
        *limited = 1;
    } else {
        *procs += 100;          /* default_process_limit's default */
    }
    config_notes_add(errs, note_line, "%s:%d: %s inet %s: mapped to listen %s", sv->file,
                     sv->line, sv->f[0], sv->f[7],
                     config_quote(listen->s ? listen->s + start + (start ? 1 : 0) : "", q,
                                  sizeof q));
}

int config_postfix_master(const char *text, const char *file, const char *addrs,
                          struct sbuf *listen, long long *procs, int *limited,
                          struct config_errors *errs)
{
    struct sbuf cur = SBUF_INIT;
    int lineno = 0, cur_line = 0, n = 0;
    *procs = 0;
    *limited = 0;
    for (const char *p = text; ; ) {
        const char *eol = p ? strchr(p, '\n') : NULL;
        const char *e = eol ? eol : p + strlen(p);
        int end = !*p;
        const char *s = p;
        lineno += !end;
        while (s < e && is_sp(*s))
            s++;
        int cont = !end && s != p && s < e && *s != '#';
        int blank = s == e || *s == '#';
        if (!end && cont && cur_line) {
            sbuf_add(&cur, " ", 1);
            sbuf_add(&cur, s, (size_t)(e - s));
        } else if (end || !blank) {
            if (cur_line && cur.len) {
                sbuf_add(&cur, "", 0);
                struct service sv = { .file = file, .line = cur_line };
                split_fields(cur.s, &sv);
                if (sv.n >= 8 && strcmp(sv.f[1], "inet") == 0) {
                    if (strcmp(sv.f[7], "smtpd") == 0 || strcmp(sv.f[7], "postscreen") == 0) {
                        map_service(&sv, addrs, listen, procs, limited, errs);
                        n++;
                    } else {
                        char q[80];
                        config_notes_add(errs, MASTER_NOTE_LINE + cur_line,
                                         "%s:%d: warning: %s inet %s: not an SMTP server; "
                                         "ignored", file, cur_line, sv.f[0],
                                         config_quote(sv.f[7], q, sizeof q));
                    }
                } else if (sv.n > 0 && sv.n < 8) {
                    config_errors_add(errs, "%s:%d: expected \"service type private unpriv "
                                      "chroot wakeup maxproc command\"", file, cur_line);
                }
            }
            sbuf_truncate(&cur, 0);
            cur_line = 0;
            if (!end && !blank && s == p) {
                sbuf_add(&cur, s, (size_t)(e - s));
                cur_line = lineno;
            }
        }
        if (end)
            break;
        p = eol ? eol + 1 : e;
    }
    int oom = cur.oom || listen->oom;
    sbuf_free(&cur);
    if (oom) {
        config_errors_add(errs, "%s: out of memory", file);
        return -1;
    }
    return n;
}

int config_master_path(const char *main_path, char *buf, size_t len)
{
    const char *slash = strrchr(main_path, '/');
    const char *base = slash ? slash + 1 : main_path;
    size_t dl = (size_t)(base - main_path);
    if (strcmp(base, "main.cf") != 0 || dl + sizeof "master.cf" > len)
        return -1;
    memcpy(buf, main_path, dl);
    memcpy(buf + dl, "master.cf", sizeof "master.cf");
    return 0;
}

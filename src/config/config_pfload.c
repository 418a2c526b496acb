/* config_pfload — the steps of a configuration load that make a Postfix
 * main.cf work as written (docs/config.md, "Postfix parameters"):
 *   - Postfix's user-defined parameters: an unknown name that a $name
 *     refers to is kept and expanded, any other is an error;
 *   - the mapped Postfix lines and the master.cf beside the main.cf become
 *     postern parameters (the translation itself: postfix_map.c,
 *     postfix_master.c);
 *   - SMTP AUTH (cyrus, Postfix's default, is saslauthd; dovecot's
 *     relative socket is under /var/spool/postfix), Postfix's
 *     default_transport, myorigin from a file.
 * Each says what it did in a note ("FILE:LINE: ... mapped to ..."). */
#include "config.h"
#include "config_internal.h"
#include "config_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keep an unknown "name = value" as a possible user-defined parameter: 1
 * (then *name is owned by L), or 0 when there is no room (an error then). */
int config_user_keep(struct loader *L, char **name, const char *value, int line)
{
    size_t k = 0;
    while (k < L->nuser && strcmp(L->user[k].name, *name) != 0)
        k++;
    if (k == CFG_MAX_USER)
        return 0;
    char *v = strdup(value);
    if (!v) {
        config_loader_oom(L, line);
        return 1;
    }
    if (k < L->nuser) {         /* a later line wins */
        free((char *)L->user[k].name);
        free((char *)L->user[k].value);
    } else {
        L->nuser++;
    }
    L->user[k] = (struct pf_line){ *name, v, line };
    *name = NULL;
    return 1;
}

/* Keep "name = value" of a referenced user-defined parameter in cfg. */
int config_user_define(struct config *cfg, const struct pf_line *u)
{
    char **v = realloc(cfg->defined, (cfg->ndefined + 1) * sizeof *v);
    if (!v)
        return -1;
    cfg->defined = v;
    size_t len = strlen(u->name) + strlen(u->value) + 4;
    if (!(v[cfg->ndefined] = malloc(len)))
        return -1;
    snprintf(v[cfg->ndefined], len, "%s = %s", u->name, u->value);
    cfg->ndefined++;
    return 0;
}

/* Whether text refers to $name, ${name} or $(name). */
static int refers_to(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *d = text ? strchr(text, '$') : NULL; d; d = strchr(d + 1, '$')) {
        const char *n = d + 1;
        if (*n == '$')          /* $$name: a listen URL's override, expanded in
                                 * the listener's own load */
            n++, d++;
        if (*n == '{' || *n == '(')
            n++;
        if (strncmp(n, name, nl) == 0 && !config_is_name_char((unsigned char)n[nl]))
            return 1;
    }
    return 0;
}

/* The unknown names no $name refers to (in the file, or in master.cf) are
 * errors, as an unknown parameter always is: Postfix would only warn, and
 * a misspelt restriction list must not go unnoticed. */
void config_user_check(struct loader *L, const char *master)
{
    char q[CFG_QUOTE_MAX];
    for (size_t k = 0; k < L->nuser; k++) {
        const char *name = L->user[k].name;
        int used = refers_to(master, name);
        for (size_t i = 0; !used && i < L->n; i++)
            used = refers_to(L->cfg->raw[i], name);
        for (size_t m = 0; !used && m < L->nuser; m++)
            used = m != k && refers_to(L->user[m].value, name);
        if (used) {
            L->user_used[k] = 1;
            continue;
        }
        const char *hint = config_suggest_name(name);
        int line = L->user[k].line;
        if (hint)
            config_errors_add(L->errs,
                              "%s:%d: unknown parameter \"%s\"; did you mean \"%s\"?",
                              L->cfg->file, line, config_quote(name, q, sizeof q), hint);
        else
            config_errors_add(L->errs,
                              "%s:%d: unknown parameter \"%s\"; fix or remove it "
                              "(run \"postern check -d\" to list known parameters)",
                              L->cfg->file, line, config_quote(name, q, sizeof q));
    }
}

/* Index of the user-defined parameter s[0..len), or -1. */
long config_user_find(const struct loader *L, const char *s, size_t len)
{
    for (size_t k = 0; k < L->nuser; k++)
        if (strlen(L->user[k].name) == len && memcmp(L->user[k].name, s, len) == 0)
            return (long)k;
    return -1;
}

/* The mapped Postfix lines become postern parameters, unless the file
 * sets those itself; each says so in a note. */
void config_pf_apply(struct loader *L, const char *master, const char *master_file)
{
    struct pf_result r[CFG_MAX_RESULTS];
    char q[CFG_QUOTE_MAX], q2[CFG_QUOTE_MAX];
    size_t n = config_postfix_map(L->pf, L->npf, master, master_file, L->errs, r,
                                  CFG_MAX_RESULTS);
    const char *file = L->cfg->file;
    for (size_t k = 0; k < n; k++) {
        const struct pf_line *f = r[k].from;
        long idx = config_param_index(r[k].name);
        if (idx < 0)
            continue;           /* cannot happen: the table has them */
        if (r[k].master) {      /* master.cf's notes said what it became */
            if (r[k].none)
                continue;
            if (L->cfg->line[idx] > 0) {
                config_notes_add(L->errs, L->cfg->line[idx], "%s:%d: warning: %s is set "
                                 "here: %s's services are not used for it", file,
                                 L->cfg->line[idx], r[k].name, master_file);
                continue;
            }
            char *copy = strdup(r[k].value);
            if (!copy) {
                config_loader_oom(L, 0);
                return;
            }
            free(L->cfg->raw[idx]);
            L->cfg->raw[idx] = copy;
            L->cfg->line[idx] = f ? f->line : 0;
            if (f)
                config_notes_add(L->errs, f->line, "%s:%d: %s = %s: the addresses of %s's "
                                 "services", file, f->line, f->name,
                                 config_quote(f->value, q, sizeof q), master_file);
            if (r[k].also)
                config_notes_add(L->errs, r[k].also->line, "%s:%d: %s = %s: the addresses "
                                 "of %s's services, with %s (line %d)", file,
                                 r[k].also->line, r[k].also->name,
                                 config_quote(r[k].also->value, q2, sizeof q2), master_file,
                                 f->name, f->line);
            continue;
        }
        config_quote(f->value, q, sizeof q);
        if (r[k].error[0]) {
            config_errors_add(L->errs, "%s:%d: %s = \"%s\": %s", file, r[k].line,
                              f->name, q, r[k].error);
            continue;
        }
        if (L->cfg->line[idx] > 0 && L->cfg->line[idx] != r[k].line) {
            config_notes_add(L->errs, f->line, "%s:%d: warning: %s: ignored: %s is set "
                             "on line %d", file, f->line, f->name, r[k].name,
                             L->cfg->line[idx]);
            continue;
        }
        if (r[k].none || r[k].shadowed) {
            config_notes_add(L->errs, f->line, "%s:%d: warning: %s = %s: nothing to map; "
                             "ignored", file, f->line, f->name, q);
            continue;
        }
        char *copy = strdup(r[k].value);
        if (!copy) {
            config_loader_oom(L, r[k].line);
            return;
        }
        free(L->cfg->raw[idx]);
        L->cfg->raw[idx] = copy;
        L->cfg->line[idx] = r[k].line;
        config_notes_add(L->errs, r[k].line, "%s:%d: %s = %s: mapped to %s = %s", file,
                         r[k].line, f->name, q, r[k].name,
                         config_quote(r[k].value, q2, sizeof q2));
        if (r[k].also)
            config_notes_add(L->errs, r[k].also->line, "%s:%d: %s = %s: mapped to %s "
                             "with %s (line %d)", file, r[k].also->line, r[k].also->name,
                             config_quote(r[k].also->value, q2, sizeof q2), r[k].name,
                             f->name, f->line);
    }
}

/* Set parameter i's raw value as if line `line` had said so. */
static int set_raw(struct loader *L, long i, const char *value, int line)
{
    char *copy = strdup(value);
    if (!copy) {
        config_loader_oom(L, line);
        return -1;
    }
    free(L->cfg->raw[i]);
    L->cfg->raw[i] = copy;
    L->cfg->line[i] = line;
    return 0;
}

/* SMTP AUTH of a Postfix main.cf. Postfix's default type, cyrus, is the
 * Cyrus library, which a Postfix host nearly always points at saslauthd
 * (pwcheck_method: saslauthd): postern asks saslauthd itself. Under cyrus,
 * smtpd_sasl_path is the Cyrus application name ("smtpd"), not a socket:
 * it goes. Dovecot's relative socket (private/auth) is under Postfix's
 * queue directory, /var/spool/postfix, unless the file names another. */
void config_pf_sasl(struct loader *L, const char *master)
{
    long ti = config_param_index("smtpd_sasl_type");
    long pi = config_param_index("smtpd_sasl_path");
    long qi = config_param_index("queue_directory");
    long ai = config_param_index("smtpd_sasl_auth_enable");
    if (ti < 0 || pi < 0 || qi < 0 || ai < 0)
        return;
    const char *file = L->cfg->file;
    const char *type = L->cfg->raw[ti];
    const char *path = L->cfg->raw[pi];
    char q[CFG_QUOTE_MAX];
    int on = L->cfg->raw[ai] && (strcasecmp(L->cfg->raw[ai], "yes") == 0 ||
                                 strcasecmp(L->cfg->raw[ai], "true") == 0 ||
                                 strcasecmp(L->cfg->raw[ai], "on") == 0 ||
                                 strcmp(L->cfg->raw[ai], "1") == 0);
    /* also when AUTH is off here: a master.cf -o may turn it on */
    if (!type || strcasecmp(type, "cyrus") == 0) {
        int line = type ? L->cfg->line[ti] : on ? L->cfg->line[ai] : 0;
        if (set_raw(L, ti, "saslauthd", line) < 0)
            return;
        char at[32] = "";
        if (line > 0)
            snprintf(at, sizeof at, ":%d", line);
        /* said only where AUTH is on (here or on a master.cf service) */
        if (type || on || (master && strstr(master, "smtpd_sasl_auth_enable=yes")))
            config_notes_add(L->errs, line, "%s%s: smtpd_sasl_type = cyrus%s: mapped to "
                             "smtpd_sasl_type = saslauthd (Cyrus's pwcheck_method: "
                             "saslauthd; the socket is smtpd_sasl_path, default "
                             "/run/saslauthd/mux)", file, at,
                             type ? "" : " (Postfix's default)");
        if (path) {
            int pl = L->cfg->line[pi];
            config_notes_add(L->errs, pl, "%s:%d: warning: smtpd_sasl_path = %s: the Cyrus "
                             "application name; ignored (write saslauthd's socket, "
                             "saslauthd_path of Cyrus's %s.conf, to use another)", file, pl,
                             config_quote(path, q, sizeof q), config_quote(path, q, sizeof q));
            free(L->cfg->raw[pi]);
            L->cfg->raw[pi] = NULL;
            L->cfg->line[pi] = 0;
        }
        return;
    }
    if (type && strcasecmp(type, "dovecot") == 0 && path && path[0] && path[0] != '/' &&
        !L->cfg->raw[qi]) {
        char abs[1024];
        int pl = L->cfg->line[pi];
        snprintf(abs, sizeof abs, "/var/spool/postfix/%s", path);
        config_quote(path, q, sizeof q);
        if (set_raw(L, pi, abs, pl) < 0)
            return;
        config_notes_add(L->errs, pl, "%s:%d: smtpd_sasl_path = %s: mapped to "
                         "smtpd_sasl_path = /var/spool/postfix/%s (Postfix's queue "
                         "directory)", file, pl, q, q);
    }
}

/* Where Postfix's default means something else than postern's, a Postfix
 * main.cf gets Postfix's: mail goes out by smtp, not into capture files.
 * myorigin may name a file in Postfix (Debian's /etc/mailname); postern
 * does not read one there. */
void config_pf_defaults(struct loader *L, const struct config_postfix_files *pf)
{
    long ti = config_param_index("default_transport");
    long oi = config_param_index("myorigin");
    char q[CFG_QUOTE_MAX], q2[CFG_QUOTE_MAX];
    if (ti >= 0 && !L->cfg->raw[ti]) {
        if (set_raw(L, ti, "smtp", 0) < 0)
            return;
        config_notes_add(L->errs, 0, "%s: default_transport = smtp: Postfix's default "
                         "(postern's own is capture)", L->cfg->file);
    }
    if (oi < 0 || !L->cfg->raw[oi] || L->cfg->raw[oi][0] != '/')
        return;
    const char *file = L->cfg->raw[oi];
    int line = L->cfg->line[oi];
    config_quote(file, q, sizeof q);
    if (!pf || !pf->myorigin_file || !pf->myorigin_text ||
        strcmp(pf->myorigin_file, file) != 0) {
        config_errors_add(L->errs, "%s:%d: myorigin = \"%s\": postern cannot read that "
                          "file; write the domain out (myorigin = DOMAIN)", L->cfg->file,
                          line, q);
        return;
    }
    /* Postfix takes the file's first line */
    const char *s = pf->myorigin_text;
    while (config_is_ws((unsigned char)*s))
        s++;
    size_t n = strcspn(s, " \t\r\n");
    char dom[256];
    if (n == 0 || n >= sizeof dom) {
        config_errors_add(L->errs, "%s:%d: myorigin = \"%s\": %s has no domain on its "
                          "first line; write the domain out (myorigin = DOMAIN)",
                          L->cfg->file, line, q, q);
        return;
    }
    memcpy(dom, s, n);
    dom[n] = '\0';
    config_quote(dom, q2, sizeof q2);
    if (set_raw(L, oi, dom, line) < 0)
        return;
    config_notes_add(L->errs, line, "%s:%d: myorigin = %s: mapped to myorigin = %s (the "
                     "file's first line)", L->cfg->file, line, q, q2);
}

int config_myorigin_path(const char *text, char *buf, size_t len)
{
    int found = -1;
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > 8 && strncmp(p, "myorigin", 8) == 0) {
            const char *v = p + 8;
            while (v < p + ll && (*v == ' ' || *v == '\t'))
                v++;
            if (v < p + ll && *v == '=') {
                v++;
                while (v < p + ll && (*v == ' ' || *v == '\t'))
                    v++;
                size_t vl = (size_t)(p + ll - v);
                while (vl > 0 && config_is_ws((unsigned char)v[vl - 1]))
                    vl--;
                found = -1;     /* the last assignment wins */
                if (vl > 0 && v[0] == '/' && vl < len) {
                    memcpy(buf, v, vl);
                    buf[vl] = '\0';
                    found = 0;
                }
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return found;
}


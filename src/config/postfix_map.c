/* postfix_map — the Postfix parameters postern translates (the "mapped"
 * class of postfix_names.c) into postern parameters. Pure: it gets the
 * Postfix lines that were in the file and says which postern parameter
 * each becomes, with the value; the loader (config.c) applies the result
 * unless the file sets that postern parameter itself.
 *   inet_interfaces + inet_protocols   -> listen (port 25, as master.cf's
 *                                         smtp line; Postfix's defaults
 *                                         all/all when one is missing);
 *                                         with a master.cf, its SMTP
 *                                         services (postfix_master.c)
 *   default_process_limit, or master.cf's maxproc -> smtpd_max_connections
 *   smtpd_use_tls / smtpd_enforce_tls  -> smtpd_tls_security_level
 *   smtp_use_tls / smtp_enforce_tls    -> smtp_tls_security_level */
#include "config.h"
#include "config_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/sbuf.h"

static const struct pf_line *pf_get(const struct pf_line *in, size_t n, const char *name)
{
    const struct pf_line *got = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(in[i].name, name) == 0)
            got = &in[i];       /* the last assignment wins */
    return got;
}

static int is_yes(const char *v)
{
    return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
           strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

/* One address of inet_interfaces into out ("192.0.2.1", "[::1]", space
 * separated); -1 for a word that is not an address (a host name: postern
 * does not resolve it). */
static int add_addr(struct sbuf *out, const char *w, size_t len, int v4, int v6)
{
    char a[64];
    unsigned char bin[16];
    if (len >= sizeof a)
        return -1;
    memcpy(a, w, len);
    a[len] = '\0';
    if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
        memmove(a, a + 1, len - 2);
        a[len - 2] = '\0';
    }
    if (inet_pton(AF_INET, a, bin) == 1) {
        if (v4)                 /* Postfix skips it too otherwise */
            sbuf_printf(out, "%s%s", out->len ? " " : "", a);
        return 0;
    }
    if (inet_pton(AF_INET6, a, bin) == 1) {
        if (v6)
            sbuf_printf(out, "%s[%s]", out->len ? " " : "", a);
        return 0;
    }
    return -1;
}

static void map_listen(const struct pf_line *in, size_t n, const char *master,
                       const char *master_file, struct config_errors *errs,
                       struct pf_result *r)
{
    const struct pf_line *ifs = pf_get(in, n, "inet_interfaces");
    const struct pf_line *pro = pf_get(in, n, "inet_protocols");
    if (!ifs && !pro && !master)
        return;
    const char *iv = ifs ? ifs->value : "all";
    const char *pv = pro ? pro->value : "all";
    int v4 = 0, v6 = 0, bad = 0;
    char w[64];
    for (const char *s = pv; *s;) {
        size_t len = strcspn(s, ", \t");
        if (len && len < sizeof w) {
            memcpy(w, s, len);
            w[len] = '\0';
            if (strcasecmp(w, "all") == 0)
                v4 = v6 = 1;
            else if (strcasecmp(w, "ipv4") == 0)
                v4 = 1;
            else if (strcasecmp(w, "ipv6") == 0)
                v6 = 1;
            else
                bad = 1;
        } else if (len) {
            bad = 1;
        }
        s += len;
        s += strspn(s, ", \t");
    }
    r->name = "listen";
    r->from = ifs ? ifs : pro;
    r->also = ifs ? pro : NULL;
    r->line = r->from ? r->from->line : 0;
    if (bad || (!v4 && !v6)) {
        r->line = pro->line;
        r->from = pro;
        r->also = NULL;
        snprintf(r->error, sizeof r->error, "use all, ipv4 or ipv6, or write listen = "
                 "smtp://ADDRESS:25 (one URL per address)");
        return;
    }
    /* the addresses, "0.0.0.0 [::]" */
    struct sbuf addrs = SBUF_INIT;
    for (const char *s = iv; *s;) {
        size_t len = strcspn(s, ", \t");
        if (len == 3 && strncasecmp(s, "all", 3) == 0) {
            if (v4)
                add_addr(&addrs, "0.0.0.0", 7, 1, 0);
            if (v6)
                add_addr(&addrs, "::", 2, 0, 1);
        } else if ((len == 13 && strncasecmp(s, "loopback-only", 13) == 0) ||
                   (len == 9 && strncasecmp(s, "localhost", 9) == 0)) {
            if (v4)
                add_addr(&addrs, "127.0.0.1", 9, 1, 0);
            if (v6)
                add_addr(&addrs, "::1", 3, 0, 1);
        } else if (len && add_addr(&addrs, s, len, v4, v6) < 0) {
            r->from = ifs;
            r->also = NULL;
            r->line = ifs->line;
            snprintf(r->error, sizeof r->error, "\"%.*s\" is not an address (postern does "
                     "not look up interface names): write the address, or listen = "
                     "smtp://ADDRESS:25", (int)(len > 64 ? 64 : len), s);
            sbuf_free(&addrs);
            return;
        }
        s += len;
        s += strspn(s, ", \t");
    }
    sbuf_add(&addrs, "", 0);
    if (addrs.oom || !addrs.s[0]) {
        snprintf(r->error, sizeof r->error, addrs.oom ? "out of memory"
                 : "no address of the protocols in inet_protocols: write listen = "
                   "smtp://ADDRESS:25");
        sbuf_free(&addrs);
        return;
    }
    struct sbuf out = SBUF_INIT;
    if (master) {
        long long procs;
        int limited;
        int k = config_postfix_master(master, master_file, addrs.s, &out, &procs, &limited,
                                      errs);
        if (k < 0 || !out.len) {
            r->none = 1;        /* errors said why, or no SMTP service */
            sbuf_free(&out);
            sbuf_free(&addrs);
            return;
        }
        r->master = 1;
        r->procs = limited ? procs : 0;
    } else {
        for (const char *s = addrs.s; *s;) {
            size_t len = strcspn(s, " ");
            sbuf_printf(&out, "%ssmtp://%.*s:25", out.len ? " " : "", (int)len, s);
            s += len;
            s += strspn(s, " ");
        }
    }
    sbuf_free(&addrs);
    sbuf_add(&out, "", 0);
    if (out.oom || strlen(out.s) >= sizeof r->value) {
        snprintf(r->error, sizeof r->error, "%s", out.oom ? "out of memory"
                 : "too many listeners to map: write listen yourself");
        sbuf_free(&out);
        return;
    }
    snprintf(r->value, sizeof r->value, "%s", out.s);
    sbuf_free(&out);
}

/* A yes/no Postfix switch onto a level: yes -> `yes`, no -> nothing. */
static void map_switch(const struct pf_line *l, const char *to, const char *yes,
                       struct pf_result *r)
{
    r->name = to;
    r->line = l->line;
    r->from = l;
    if (is_yes(l->value))
        snprintf(r->value, sizeof r->value, "%s", yes);
    else
        r->none = 1;
}

size_t config_postfix_map(const struct pf_line *in, size_t n, const char *master,
                          const char *master_file, struct config_errors *errs,
                          struct pf_result *out, size_t max)
{
    size_t k = 0;
    const struct pf_line *l;
    if (k < max) {
        memset(&out[k], 0, sizeof out[k]);
        map_listen(in, n, master, master_file, errs, &out[k]);
        k += out[k].name != NULL;
    }
    /* master.cf's maxproc columns, when it sets one, else
     * default_process_limit */
    if (k < max && k > 0 && out[0].procs > 0) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].name = "smtpd_max_connections";
        out[k].master = 1;
        snprintf(out[k].value, sizeof out[k].value, "%lld", out[0].procs);
        k++;
    } else if (k < max && (l = pf_get(in, n, "default_process_limit"))) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].name = "smtpd_max_connections";
        out[k].line = l->line;
        out[k].from = l;
        snprintf(out[k].value, sizeof out[k].value, "%s", l->value);
        k++;
    }
    /* enforce wins over use, as in Postfix */
    static const struct { const char *pf, *to, *yes; } sw[] = {
        { "smtpd_enforce_tls", "smtpd_tls_security_level", "encrypt" },
        { "smtpd_use_tls", "smtpd_tls_security_level", "may" },
        { "smtp_enforce_tls", "smtp_tls_security_level", "verify" },
        { "smtp_use_tls", "smtp_tls_security_level", "may" },
    };
    for (size_t i = 0; i < sizeof sw / sizeof sw[0] && k < max; i++) {
        if (!(l = pf_get(in, n, sw[i].pf)))
            continue;
        memset(&out[k], 0, sizeof out[k]);
        map_switch(l, sw[i].to, sw[i].yes, &out[k]);
        for (size_t j = 0; j < k; j++)
            if (out[j].name == out[k].name && !out[j].none) {
                out[k].shadowed = 1;    /* enforce already said it */
                break;
            }
        k++;
    }
    return k;
}

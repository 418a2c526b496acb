/* `postern dns records [-c FILE] --domain D --ip ADDR [--ipv6 ADDR]
 * [--key FILE]... [--selector S]... [--report-to ADDR] [--json]`: print the
 * records to publish for D — MX, A/AAAA of myhostname, SPF, DKIM, DMARC —
 * and the PTR to ask for, as a zone-file snippet with ';' advice, or as
 * JSON. myhostname and relayhost come from the configuration; the
 * records themselves from net/dnsrec (pure, shared with a later check).
 * Exit 0, 1 when the configuration or a key cannot be used, 2 for bad
 * arguments. `postern dns check` takes the same arguments (the addresses
 * optional) and hands them to cli/dnscheck.c, which looks the records up. */
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../config/config.h"
#include "../config/maps.h"
#include "../dkim/dkim.h"
#include "../net/dnsrec.h"
#include "../util/fs.h"
#include "../util/sbuf.h"
#include "dkimkey.h"
#include "dnscheck.h"

static void dns_usage(FILE *f)
{
    fprintf(f,
            "usage: postern dns records [-c FILE] --domain DOMAIN --ip IPV4 [--ipv6 IPV6]\n"
            "                           [--key FILE] [--selector SELECTOR]\n"
            "                           [--report-to ADDRESS] [--json]\n"
            "  print the DNS records to publish for DOMAIN: MX and A/AAAA of myhostname,\n"
            "  SPF (the relayhost's provider when one is set), DKIM of each --key\n"
            "  (selector from --selector or the file name; --selector alone reads\n"
            "  SELECTOR.private in the current directory; neither: DOMAIN's keys in the\n"
            "  configuration, dkim_private_key and dkim_key_table), DMARC (reports to --report-to,\n"
            "  default postmaster@DOMAIN) and the PTR to ask your hosting provider for\n"
            "usage: postern dns check [-c FILE] --domain DOMAIN [--ip IPV4] [--ipv6 IPV6]\n"
            "                         [--key FILE] [--selector SELECTOR] [--json]\n"
            "  resolve those records (dns_servers) and report each one ok, missing,\n"
            "  mismatch, invalid or tempfail; SPF evaluated for the relay's address\n"
            "  (--ip, else myhostname's) or the relayhost's provider; exit 0 when all\n"
            "  are ok, 1 when one is not, 75 when only DNS failed temporarily\n");
}

static const char *role_name(enum dnsrec_role r)
{
    static const char *const names[] = { "mx", "address", "spf", "dkim", "dmarc", "ptr" };
    return names[r];
}

/* The keys of domain in the configuration: dkim_private_key when
 * dkim_domain is domain, then the dkim_key_table lines for domain. */
struct cfg_keys {
    const char *domain;
    size_t n;
    char sel[DNSREC_MAX_DKIM][256], path[DNSREC_MAX_DKIM][300];
};

static int cfg_key_add(void *arg, const char *domain, const char *selector,
                       const char *keyfile, size_t line, char *err, size_t errlen)
{
    struct cfg_keys *k = arg;
    (void)line;
    if (strcasecmp(domain, k->domain) != 0)
        return 0;
    if (k->n == DNSREC_MAX_DKIM) {
        snprintf(err, errlen, "more than %d DKIM keys for %s", DNSREC_MAX_DKIM, k->domain);
        return -1;
    }
    if ((size_t)snprintf(k->sel[k->n], sizeof k->sel[0], "%s", selector) >= sizeof k->sel[0] ||
        (size_t)snprintf(k->path[k->n], sizeof k->path[0], "%s", keyfile) >=
            sizeof k->path[0]) {
        snprintf(err, errlen, "%s: selector or key file name too long", k->domain);
        return -1;
    }
    k->n++;
    return 0;
}

static int cfg_keys_find(const struct config *cfg, struct cfg_keys *k, char *err,
                         size_t errlen)
{
    if (cfg->dkim_private_key[0] && cfg->dkim_selector[0] &&
        cfg_key_add(k, cfg->dkim_domain, cfg->dkim_selector, cfg->dkim_private_key, 0, err,
                    errlen) < 0)
        return -1;
    if (!cfg->dkim_key_table[0])
        return 0;
    const char *path = map_spec_path(cfg->dkim_key_table);
    char *text;
    size_t len;
    if (fs_read_file(path, 0, 1 << 20, &text, &len, err, errlen) < 0)
        return -1;
    int rc = dkim_keytable_parse(text, len, path, cfg_key_add, k, err, errlen);
    free(text);
    return rc;
}

/* text as "; " comment lines of at most about 78 columns. */
static void comment(struct sbuf *b, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        if (n > 76) {
            n = 76;
            while (n > 20 && p[n] != ' ')
                n--;
            if (p[n] != ' ')
                n = 76;
        }
        sbuf_str(b, "; ");
        sbuf_add(b, p, n);
        sbuf_char(b, '\n');
        p += n;
        while (*p == ' ')
            p++;
    }
}

static void print_zone(struct sbuf *b, const struct dnsrec_list *l, const char *domain,
                       const char *myhostname, const char *cfgname, const char *nokey)
{
    sbuf_printf(b, "; DNS records for %s (myhostname %s, from %s)\n", domain, myhostname,
                cfgname);
    comment(b, "paste into the zone of the domain; lines starting with ';' are advice, or "
               "records to publish elsewhere");
    for (size_t i = 0; i < l->n; i++) {
        const struct dnsrec *r = &l->v[i];
        const char *prev = i ? l->v[i - 1].note : NULL;
        if (!r->note || !prev || strcmp(r->note, prev) != 0) {
            sbuf_char(b, '\n');     /* a record with the same advice follows at once */
            if (r->note)
                comment(b, r->note);
        }
        dnsrec_zone_append(b, r);
        if (r->role == DNSREC_SPF && nokey) {
            sbuf_char(b, '\n');
            comment(b, nokey);
        }
    }
}

static void print_json(struct sbuf *b, const struct dnsrec_list *l, const char *domain,
                       const char *myhostname, const char *nokey)
{
    sbuf_str(b, "{\"domain\": ");
    sbuf_json(b, domain);
    sbuf_str(b, ", \"myhostname\": ");
    sbuf_json(b, myhostname);
    sbuf_str(b, ", \"records\": [");
    for (size_t i = 0; i < l->n; i++) {
        const struct dnsrec *r = &l->v[i];
        sbuf_str(b, i ? ",\n  {" : "\n  {");
        sbuf_printf(b, "\"role\": \"%s\", \"type\": \"%s\", \"name\": ", role_name(r->role),
                    r->type);
        sbuf_json(b, r->name);
        sbuf_str(b, ", \"value\": ");
        sbuf_json(b, r->value);
        sbuf_printf(b, ", \"in_zone\": %s, \"note\": ", r->in_zone ? "true" : "false");
        if (r->note)
            sbuf_json(b, r->note);
        else
            sbuf_str(b, "null");
        sbuf_char(b, '}');
    }
    sbuf_str(b, "],\n \"warnings\": [");
    if (nokey)
        sbuf_json(b, nokey);
    sbuf_str(b, "]}\n");
}

int cli_dns(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "domain", required_argument, NULL, 'D' },
        { "ip", required_argument, NULL, '4' },
        { "ipv6", required_argument, NULL, '6' },
        { "key", required_argument, NULL, 'k' },
        { "selector", required_argument, NULL, 's' },
        { "report-to", required_argument, NULL, 'r' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        dns_usage(stdout);
        return 0;
    }
    int check = argc >= 2 && strcmp(argv[1], "check") == 0;
    if (argc < 2 || (strcmp(argv[1], "records") != 0 && !check)) {
        dns_usage(stderr);
        return 2;
    }
    argc--;
    argv++;
    const char *cpath = NULL, *keys[DNSREC_MAX_DKIM], *sels[DNSREC_MAX_DKIM];
    size_t nkeys = 0, nsels = 0;
    struct dnsrec_input in = { 0 };
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cpath = optarg; break;
        case 'D': in.domain = optarg; break;
        case '4': in.ipv4 = optarg; break;
        case '6': in.ipv6 = optarg; break;
        case 'r': in.report_to = optarg; break;
        case 'j': json = 1; break;
        case 'k':
        case 's':
            if ((c == 'k' ? nkeys : nsels) == DNSREC_MAX_DKIM) {
                fprintf(stderr, "postern: at most %d DKIM keys\n", DNSREC_MAX_DKIM);
                return 2;
            }
            if (c == 'k')
                keys[nkeys++] = optarg;
            else
                sels[nsels++] = optarg;
            break;
        case 'h': dns_usage(stdout); return 0;
        default: dns_usage(stderr); return 2;
        }
    }
    if (optind < argc || !in.domain || (!check && !in.ipv4 && !in.ipv6)) {
        if (optind >= argc)
            fprintf(stderr, check ? "postern: dns check needs --domain\n"
                    : "postern: dns records needs --domain and the relay's public "
                    "address (--ip, --ipv6 or both)\n");
        dns_usage(stderr);
        return 2;
    }
    if (nkeys && nsels && nkeys != nsels) {
        fprintf(stderr, "postern: give one --selector per --key, in the same order, or "
                "none (the selector is then the key file's name, SELECTOR.private)\n");
        return 2;
    }
    char domain[256];
    snprintf(domain, sizeof domain, "%s", in.domain);
    size_t dl = strlen(domain);
    if (dl && domain[dl - 1] == '.')
        domain[dl - 1] = '\0';
    for (char *p = domain; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    const char *path = cli_config_path(cpath);
    char err[1200];
    struct config *cfg = config_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "postern: %s\n", err);
        return 1;
    }
    const char *cfgname = path ? path : "the default configuration";
    int rc = 1;
    struct dkimkey dk[DNSREC_MAX_DKIM];
    const char *kpaths[DNSREC_MAX_DKIM];
    char selbuf[DNSREC_MAX_DKIM][256], pathbuf[DNSREC_MAX_DKIM][300];
    size_t nk = nkeys ? nkeys : nsels, loaded = 0;
    struct dnsrec_list l = { 0, NULL };
    struct sbuf b = SBUF_INIT;
    if (!dnsrec_name_ok(cfg->myhostname, 0)) {
        fprintf(stderr, "postern: myhostname = %s (%s) is not a fully qualified host name: "
                "set myhostname = mail.%s (this relay's public name) in %s\n",
                cfg->myhostname, cfgname, domain, path ? path : "/etc/postern/postern.cf");
        goto out;
    }
    in.myhostname = cfg->myhostname;
    in.relayhost = cfg->relayhost;
    /* no key on the command line: the domain's keys in the configuration */
    struct cfg_keys ck = { .domain = domain };
    if (nk == 0) {
        if (cfg_keys_find(cfg, &ck, err, sizeof err) < 0) {
            fprintf(stderr, "postern: %s\n", err);
            goto out;
        }
        nk = ck.n;
    }
    for (size_t i = 0; i < nk; i++) {
        const char *kp = nkeys ? keys[i] : ck.n ? ck.path[i] : pathbuf[i];
        if (ck.n)
            sels[i] = ck.sel[i];
        else if (!nkeys)
            snprintf(pathbuf[i], sizeof pathbuf[i], "%s.private", sels[i]);
        if (cli_dkim_selector_for(kp, nsels || ck.n ? sels[i] : NULL, domain, selbuf[i],
                                  sizeof selbuf[i]) < 0) {
            rc = 2;
            goto out;
        }
        if (dkimkey_load(kp, &dk[i], err, sizeof err) < 0) {
            fprintf(stderr, "postern: %s\n", err);
            goto out;
        }
        loaded++;
        kpaths[i] = kp;
        in.dkim[i].selector = selbuf[i];
        in.dkim[i].value = dk[i].record;
    }
    in.ndkim = nk;
    if (check) {
        rc = dnscheck_run(cfg, &in, kpaths, json);
        goto out;
    }
    if (dnsrec_build(&in, &l, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        rc = 2;
        goto out;
    }
    char nokey[500] = "";
    if (nk == 0)
        snprintf(nokey, sizeof nokey, "DKIM: no key given: make one with `postern dkim "
                 "keygen --domain %s --selector mail`, then add --key mail.private", domain);
    if (json)
        print_json(&b, &l, domain, cfg->myhostname, *nokey ? nokey : NULL);
    else
        print_zone(&b, &l, domain, cfg->myhostname, cfgname, *nokey ? nokey : NULL);
    if (b.oom) {
        fprintf(stderr, "postern: out of memory\n");
        goto out;
    }
    fwrite(b.s, 1, b.len, stdout);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    sbuf_free(&b);
    dnsrec_list_free(&l);
    for (size_t i = 0; i < loaded; i++)
        dkimkey_free(&dk[i]);
    config_free(cfg);
    return rc;
}

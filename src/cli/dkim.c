/* `postern dkim keygen` and `postern dkim record`: make a DKIM key pair,
 * or read an existing private key (opendkim-genkey's too), and print the
 * TXT record to publish, as a name and value for DNS panels and in
 * zone-file form.
 *
 * keygen writes DIR/SELECTOR.private (PKCS#8 PEM, mode 0600) and
 * DIR/SELECTOR.txt (the record, zone-file form, 0644) as opendkim-genkey
 * does, DIR being the current directory unless --out; a file is never
 * replaced without --force, and then atomically. The key belongs to
 * root, who loads secrets in the daemon (its privileged parent). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../net/dnsrec.h"
#include "../util/fs.h"
#include "../util/sbuf.h"
#include "dkimkey.h"

static void dkim_usage(FILE *f)
{
    fprintf(f,
            "usage: postern dkim keygen --domain DOMAIN --selector SELECTOR\n"
            "                           [--type rsa|ed25519] [--bits N] [--out DIR] [-f]\n"
            "         write DIR/SELECTOR.private (mode 0600) and DIR/SELECTOR.txt (default\n"
            "         DIR: the current directory; RSA %d bits by default, %d to %d) and\n"
            "         print the DNS record; -f replaces existing files\n"
            "       postern dkim record --key FILE --domain DOMAIN [--selector SELECTOR]\n"
            "         print the DNS record of an existing private key (selector: from\n"
            "         FILE's name, SELECTOR.private, unless given)\n",
            DKIMKEY_RSA_DEFAULT, DKIMKEY_RSA_MIN, DKIMKEY_RSA_MAX);
}

/* The domain, lower case and without a trailing dot, into out. */
static int domain_arg(const char *arg, char *out, size_t outlen)
{
    size_t n = strlen(arg);
    if (n > 0 && arg[n - 1] == '.')
        n--;
    if (n >= outlen)
        n = outlen - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)arg[i]);
    out[n] = '\0';
    if (dnsrec_name_ok(out, 0))
        return 0;
    fprintf(stderr, "postern: --domain %s: not a domain name (e.g. example.com)\n", arg);
    return -1;
}

/* A selector: DNS labels (letters, digits, '-'), also a file name. */
static int selector_ok(const char *sel, const char *domain)
{
    char name[600];
    if (strlen(sel) <= 63 * 2 && sel[0] != '.' && !strchr(sel, '_') &&
        (size_t)snprintf(name, sizeof name, "%s._domainkey.%s", sel, domain) < sizeof name &&
        dnsrec_name_ok(name, 1))
        return 1;
    fprintf(stderr, "postern: --selector %s: a DNS label (letters, digits, '-'), "
            "e.g. mail or 2025\n", sel);
    return 0;
}

/* The record as a struct dnsrec, for dnsrec_zone_append. */
static void zone_text(struct sbuf *b, const char *domain, const char *selector,
                      const char *value)
{
    char name[600];
    snprintf(name, sizeof name, "%s._domainkey.%s.", selector, domain);
    struct dnsrec r = { .role = DNSREC_DKIM, .type = "TXT", .name = name,
                        .value = (char *)value, .in_zone = 1 };
    dnsrec_zone_append(b, &r);
}

/* "rsa 2048 bits" or "ed25519". */
static const char *describe(const struct dkimkey *k, char *buf, size_t len)
{
    if (k->type == DKIMKEY_RSA)
        snprintf(buf, len, "rsa %d bits", k->bits);
    else
        snprintf(buf, len, "%s", dkimkey_type_name(k->type));
    return buf;
}

static int print_record(const char *domain, const char *selector, const struct dkimkey *k)
{
    struct sbuf b = SBUF_INIT;
    zone_text(&b, domain, selector, k->record);
    if (b.oom) {
        fprintf(stderr, "postern: out of memory\n");
        sbuf_free(&b);
        return -1;
    }
    char d[40];
    printf("publish this TXT record (DKIM key %s of %s, %s):\n"
           "  name:  %s._domainkey.%s\n"
           "  value: %s\n"
           "in a zone file:\n%s",
           selector, domain, describe(k, d, sizeof d), selector, domain,
           k->record, b.s);
    sbuf_free(&b);
    return 0;
}

static int keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "domain", required_argument, NULL, 'D' },
        { "selector", required_argument, NULL, 's' },
        { "type", required_argument, NULL, 't' },
        { "bits", required_argument, NULL, 'b' },
        { "out", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *darg = NULL, *sel = NULL, *dir = ".";
    enum dkimkey_type type = DKIMKEY_RSA;
    long bits = 0;
    int force = 0, c;
    char *end, domain[256];
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'D': darg = optarg; break;
        case 's': sel = optarg; break;
        case 'o': dir = optarg; break;
        case 'f': force = 1; break;
        case 't':
            if (strcmp(optarg, "rsa") == 0) {
                type = DKIMKEY_RSA;
            } else if (strcmp(optarg, "ed25519") == 0) {
                type = DKIMKEY_ED25519;
            } else {
                fprintf(stderr, "postern: --type %s: rsa or ed25519\n", optarg);
                return 2;
            }
            break;
        case 'b':
            errno = 0;
            bits = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || bits < DKIMKEY_RSA_MIN ||
                bits > DKIMKEY_RSA_MAX) {
                fprintf(stderr, "postern: --bits %s: RSA keys of %d to %d bits; below %d "
                        "verifiers ignore the signature (RFC 8301), above %d they need not "
                        "accept it and the record outgrows DNS panels\n", optarg,
                        DKIMKEY_RSA_MIN, DKIMKEY_RSA_MAX, DKIMKEY_RSA_MIN, DKIMKEY_RSA_MAX);
                return 2;
            }
            break;
        case 'h': dkim_usage(stdout); return 0;
        default: dkim_usage(stderr); return 2;
        }
    }
    if (optind < argc || !darg || !sel) {
        if (optind >= argc)
            fprintf(stderr, "postern: dkim keygen needs --domain (the From: domain) and "
                    "--selector (e.g. mail)\n");
        dkim_usage(stderr);
        return 2;
    }
    if (bits && type != DKIMKEY_RSA) {
        fprintf(stderr, "postern: --bits is for RSA; Ed25519 keys have one size\n");
        return 2;
    }
    if (domain_arg(darg, domain, sizeof domain) < 0 || !selector_ok(sel, domain))
        return 2;
    char real[PATH_MAX], keyp[PATH_MAX + 300], txtp[PATH_MAX + 300];
    int rc = cli_key_paths(dir, sel, ".private", ".txt", force,
                           " (the old key's signatures fail once its record is replaced)",
                           real, keyp, txtp);
    if (rc)
        return rc;
    struct dkimkey k;
    char err[600];
    if (dkimkey_generate(type, bits ? (int)bits : DKIMKEY_RSA_DEFAULT, &k, err,
                         sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        return 1;
    }
    struct sbuf txt = SBUF_INIT;
    zone_text(&txt, domain, sel, k.record);
    char ktmp[PATH_MAX + 40], ttmp[PATH_MAX + 40];
    rc = 1;
    if (txt.oom) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    if (fs_write_temp(real, k.pem, k.pem_len, 0600, ktmp, sizeof ktmp, err, sizeof err) < 0)
        goto fail;
    if (fs_write_temp(real, txt.s, txt.len, 0644, ttmp, sizeof ttmp, err, sizeof err) < 0) {
        unlink(ktmp);
        goto fail;
    }
    if (fs_rename_new(ktmp, keyp, force, err, sizeof err) < 0) {
        unlink(ttmp);
        goto fail;
    }
    if (fs_rename_new(ttmp, txtp, force, err, sizeof err) < 0) {
        if (!force)
            unlink(keyp);       /* ours, just made: no key without its record */
        goto fail;
    }
    fs_sync_parent(keyp);
    char d[40];
    printf("wrote %s (DKIM private key, %s, mode 0600)\n"
           "wrote %s (its DNS record, zone-file form)\n",
           keyp, describe(&k, d, sizeof d), txtp);
    if (geteuid() != 0)
        printf("note: the key belongs to you (uid %lu); the daemon loads keys as root and "
               "refuses one that belongs to another user: chown root %s\n",
               (unsigned long)geteuid(), keyp);
    rc = print_record(domain, sel, &k) < 0 ? 1 : 0;
    goto out;
fail:
    fprintf(stderr, "postern: %s\n", err);
out:
    sbuf_free(&txt);
    dkimkey_free(&k);
    return rc;
}

/* The selector a key file's name implies: "mail" for .../mail.private
 * (opendkim-genkey's and our name), .../mail.key or .../mail.pem. */
static int selector_from_path(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || (strcmp(dot, ".private") != 0 && strcmp(dot, ".key") != 0 &&
                                strcmp(dot, ".pem") != 0))
        return -1;
    size_t n = (size_t)(dot - base);
    if (n >= outlen)
        return -1;
    memcpy(out, base, n);
    out[n] = '\0';
    return 0;
}

int cli_dkim_selector_for(const char *path, const char *given, const char *domain,
                          char *out, size_t outlen)
{
    if (given) {
        snprintf(out, outlen, "%s", given);
    } else if (selector_from_path(path, out, outlen) < 0) {
        fprintf(stderr, "postern: %s: name the selector with --selector (the file name "
                "is not SELECTOR.private)\n", path);
        return -1;
    }
    return selector_ok(out, domain) ? 0 : -1;
}

static int record(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "domain", required_argument, NULL, 'D' },
        { "selector", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *key = NULL, *darg = NULL, *sel = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'D': darg = optarg; break;
        case 's': sel = optarg; break;
        case 'h': dkim_usage(stdout); return 0;
        default: dkim_usage(stderr); return 2;
        }
    }
    if (optind < argc || !key || !darg) {
        if (optind >= argc)
            fprintf(stderr, "postern: dkim record needs --key FILE and --domain DOMAIN\n");
        dkim_usage(stderr);
        return 2;
    }
    char domain[256], selector[256], err[1200];
    if (domain_arg(darg, domain, sizeof domain) < 0 ||
        cli_dkim_selector_for(key, sel, domain, selector, sizeof selector) < 0)
        return 2;
    struct dkimkey k;
    if (dkimkey_load(key, &k, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        return 1;
    }
    int rc = print_record(domain, selector, &k) < 0 ? 1 : 0;
    dkimkey_free(&k);
    return rc;
}

int cli_dkim(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "record") == 0)
        return record(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        dkim_usage(stdout);
        return 0;
    }
    dkim_usage(stderr);
    return 2;
}

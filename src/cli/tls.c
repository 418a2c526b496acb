/* `postern tls selfsigned --host NAME [--days N] [--out DIR] [-f]`: write
 * NAME.key (mode 0600) and NAME.crt (0644), a self-signed server
 * certificate for NAME, into DIR, and print what to put in postern.cf.
 * Existing files are replaced only with -f, and then atomically (a new
 * file is renamed over the old one). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/fs.h"
#include "../util/inet.h"
#include "../util/selfsigned.h"

#define DAYS_DEFAULT 825        /* the longest TLS server validity Apple accepts */
#define DAYS_MAX     36500

static void tls_usage(FILE *f)
{
    fprintf(f, "usage: postern tls selfsigned --host NAME [--days N] [--out DIR] [-f]\n"
               "  write NAME.key (mode 0600) and NAME.crt, a self-signed certificate for\n"
               "  NAME (--days, default %d), into DIR (default: the current directory);\n"
               "  -f replaces existing files\n", DAYS_DEFAULT);
}

int cli_key_paths(const char *dir, const char *name, const char *ext_a, const char *ext_b,
                  int force, const char *replace_note, char real[PATH_MAX],
                  char path_a[PATH_MAX + 300], char path_b[PATH_MAX + 300])
{
    if (fs_mkdir_p(dir, 0755) < 0) {
        fprintf(stderr, "postern: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!realpath(dir, real)) {
        fprintf(stderr, "postern: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(path_a, PATH_MAX + 300, "%s/%s%s", real, name, ext_a);
    snprintf(path_b, PATH_MAX + 300, "%s/%s%s", real, name, ext_b);
    struct stat st;
    const char *exists = lstat(path_a, &st) == 0 ? path_a
                       : lstat(path_b, &st) == 0 ? path_b : NULL;
    if (!force && exists) {
        fprintf(stderr, "postern: %s exists; use -f to replace it%s\n", exists, replace_note);
        return 1;
    }
    return 0;
}

/* A DNS name (letters, digits, '-', '.'; labels 1..63, no '-' at their
 * ends) or an IP address: it becomes the file names and the SAN. */
static int host_ok(const char *h)
{
    int family;
    unsigned char a[16];
    if (inet_addr_parse(h, &family, a) == 0 && h[0] != '[')
        return 1;
    size_t len = strlen(h), label = 0;
    if (len == 0 || len > 253 || h[0] == '.' || h[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return h[len - 1] != '-';
}

static int selfsigned(int argc, char **argv)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },
        { "days", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *host = NULL, *dir = ".";
    long days = DAYS_DEFAULT;
    int force = 0, c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'o': dir = optarg; break;
        case 'f': force = 1; break;
        case 'd':
            errno = 0;
            days = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || days < 1 || days > DAYS_MAX) {
                fprintf(stderr, "postern: --days %s: give a number of days from 1 to %d\n",
                        optarg, DAYS_MAX);
                return 2;
            }
            break;
        case 'h': tls_usage(stdout); return 0;
        default: tls_usage(stderr); return 2;
        }
    }
    if (optind < argc || !host) {
        if (!host)
            fprintf(stderr, "postern: tls selfsigned needs --host, the name clients "
                    "connect to (e.g. --host smtp.example.com)\n");
        tls_usage(stderr);
        return 2;
    }
    if (!host_ok(host)) {
        fprintf(stderr, "postern: --host %s: not a host name or an IP address\n", host);
        return 2;
    }
    char real[PATH_MAX], keyp[PATH_MAX + 300], crtp[PATH_MAX + 300];
    int rc = cli_key_paths(dir, host, ".key", ".crt", force, "", real, keyp, crtp);
    if (rc)
        return rc;
    struct selfsigned ss;
    char err[400];
    if (selfsigned_make(host, (int)days, &ss, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        return 1;
    }
    char ktmp[PATH_MAX + 40], ctmp[PATH_MAX + 40];
    rc = 1;
    if (fs_write_temp(real, ss.key_pem, ss.key_len, 0600, ktmp, sizeof ktmp, err,
                      sizeof err) < 0)
        goto fail;
    if (fs_write_temp(real, ss.cert_pem, ss.cert_len, 0644, ctmp, sizeof ctmp, err,
                      sizeof err) < 0) {
        unlink(ktmp);
        goto fail;
    }
    if (fs_rename_new(ktmp, keyp, force, err, sizeof err) < 0) {
        unlink(ctmp);
        goto fail;
    }
    if (fs_rename_new(ctmp, crtp, force, err, sizeof err) < 0) {
        if (!force)
            unlink(keyp);       /* ours, just made: no key without its certificate */
        goto fail;
    }
    fs_sync_parent(keyp);       /* both renames, one directory */
    printf("wrote %s (private key, mode 0600)\n"
           "wrote %s (self-signed for %s, valid until %s)\n"
           "SHA-256 fingerprint: %s\n"
           "in postern.cf:\n"
           "    smtpd_tls_cert_file = %s\n"
           "    smtpd_tls_key_file = %s\n",
           keyp, crtp, host, ss.not_after, ss.fingerprint, crtp, keyp);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "postern: %s\n", err);
out:
    selfsigned_free(&ss);
    return rc;
}

int cli_tls(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "selfsigned") == 0)
        return selfsigned(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        tls_usage(stdout);
        return 0;
    }
    tls_usage(stderr);
    return 2;
}

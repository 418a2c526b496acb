/* postern — one binary; the subcommand (or the name it was started as)
 * decides what it does. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: postern COMMAND [options]\n"
            "  serve [-c FILE] [-v]   run the SMTP relay in the foreground\n"
            "  check [-c FILE] [-a|-d|-m] validate the config, print non-default (-a: all) settings;\n"
            "                         -d: list every parameter with its meaning;\n"
            "                         -m: print the postern.cf(5) manual page\n"
            "  sendmail [options] [rcpt...]\n"
            "                         submit a message from stdin (Sendmail options: -t -i\n"
            "                         -f sender -F name -C FILE -v -bp -bs -q); also as `sendmail`\n"
            "  queue [-c FILE] list|show ID|flush [ID]|delete ID|ALL|hold ID|ALL|release ID|ALL\n"
            "                         inspect and manage the queue (`mailq` = queue list)\n"
            "  tls selfsigned --host NAME [--days N] [--out DIR] [-f]\n"
            "                         write NAME.key and a self-signed NAME.crt for the SMTP server\n"
            "  dkim keygen --domain D --selector S [--type rsa|ed25519] [--bits N] [--out DIR]\n"
            "                         write a DKIM key (S.private, S.txt) and print its record\n"
            "  dkim record --key FILE --domain D [--selector S]\n"
            "                         print the DKIM record of an existing private key\n"
            "  dns records [-c FILE] --domain D --ip ADDR [--ipv6 ADDR] [--key FILE]\n"
            "                         [--selector S] [--report-to ADDR] [--json]\n"
            "                         print the MX, A/AAAA, SPF, DKIM, DMARC and PTR records\n"
            "                         to publish for D\n"
            "  dns check [-c FILE] --domain D [--ip ADDR] [--ipv6 ADDR] [--key FILE] [--json]\n"
            "                         look those records up (dns_servers) and report each one\n"
            "                         ok, missing or mismatch; exit 0 only when all are ok\n"
            "  passwd add|del|list|check [NAME] [-f FILE]\n"
            "                         manage the AUTH users file (smtpd_sasl_users); the\n"
            "                         password comes from the terminal or stdin, never argv\n"
            "  sasl check [-c FILE] NAME\n"
            "                         check NAME and the password on stdin with the\n"
            "                         configured AUTH backend (smtpd_sasl_type)\n"
            "  version                print the version\n");
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/');
    self = self ? self + 1 : argv[0];
    if (strcmp(self, "sendmail") == 0)
        return cli_sendmail(argc, argv);
    if (strcmp(self, "mailq") == 0)
        return cli_mailq(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "sendmail") == 0)
        return cli_sendmail(argc - 1, argv + 1);
    if (strcmp(cmd, "queue") == 0)
        return cli_queue(argc - 1, argv + 1);
    if (strcmp(cmd, "mailq") == 0)
        return cli_mailq(argc - 1, argv + 1);
    if (strcmp(cmd, "tls") == 0)
        return cli_tls(argc - 1, argv + 1);
    if (strcmp(cmd, "dkim") == 0)
        return cli_dkim(argc - 1, argv + 1);
    if (strcmp(cmd, "dns") == 0)
        return cli_dns(argc - 1, argv + 1);
    if (strcmp(cmd, "passwd") == 0)
        return cli_passwd(argc - 1, argv + 1);
    if (strcmp(cmd, "sasl") == 0)
        return cli_sasl(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cli_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "postern: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}

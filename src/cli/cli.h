/* cli — the subcommands of the one `postern` binary. Each returns the
 * process exit status. */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <limits.h>
#include <stddef.h>

int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_version(int argc, char **argv);
/* `postern tls selfsigned --host NAME [--days N] [--out DIR] [-f]`. */
int cli_tls(int argc, char **argv);
/* `postern sendmail` / `sendmail` (argv[0] is the command name). */
int cli_sendmail(int argc, char **argv);
/* `postern queue list|show|flush|delete|hold|release`. */
int cli_queue(int argc, char **argv);
/* `mailq` (argv[0] is the command name). */
int cli_mailq(int argc, char **argv);

/* `postern passwd add|del|list|check`: the users file of smtpd_sasl_type =
 * postern. */
int cli_passwd(int argc, char **argv);
/* `postern sasl check NAME`: a password through the configured backend. */
int cli_sasl(int argc, char **argv);

/* `postern dkim keygen|record`: DKIM keys and their DNS record. */
int cli_dkim(int argc, char **argv);
/* `postern dns records|check`: the DNS records to publish for a domain,
 * and whether they are published. */
int cli_dns(int argc, char **argv);
/* The DKIM selector of the key file at path: given (--selector) or the
 * file's name (SELECTOR.private, .key, .pem), checked as a DNS label under
 * domain. 0, or -1 with a message printed. */
int cli_dkim_selector_for(const char *path, const char *given, const char *domain,
                          char *out, size_t outlen);

/* A password from the terminal without echo (twice when twice is set, and
 * both must match) or else stdin's first line, into out (outlen bytes, so
 * at most outlen - 1 of password). 0, or -1 with a message printed. */
int cli_read_password(int twice, char *out, size_t outlen);

/* The two files a key-making command writes, DIR/NAME.EXT_A and
 * DIR/NAME.EXT_B (DIR created and made absolute: real), refused when one exists
 * and !force (replace_note is added to that message). 0, or the exit status
 * after saying why on stderr. */
int cli_key_paths(const char *dir, const char *name, const char *ext_a, const char *ext_b,
                  int force, const char *replace_note, char real[PATH_MAX],
                  char path_a[PATH_MAX + 300], char path_b[PATH_MAX + 300]);

/* Shared by queue, mailq and sendmail -bp / -q; config_given as for
 * cli_config_path. They return exit statuses (sysexits.h). */
int cli_queue_list(const char *config_given);
/* Ask the daemon (control socket): verb "flush" (arg NULL: all), "delete",
 * "hold", "release" (arg a queue id or "ALL"). Without a daemon, delete,
 * hold and release act on the spool directly. */
int cli_queue_request(const char *config_given, const char *verb, const char *arg);

/* The config file to use: -c FILE, else /etc/postern/postern.cf when it
 * exists, else NULL (the embedded default). */
const char *cli_config_path(const char *given);

#endif

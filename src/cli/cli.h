/* cli — the subcommands of the one `postern` binary. Each returns the
 * process exit status. */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_version(int argc, char **argv);

/* The config file to use: -c FILE, else /etc/postern/postern.cf when it
 * exists, else NULL (the embedded default). */
const char *cli_config_path(const char *given);

#endif

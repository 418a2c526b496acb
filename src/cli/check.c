/* `postern check [-c FILE] [-a | -d | -m] | --postfix DIR`: validate the configuration and
 * print the non-default settings (postconf -n), or all with -a (postconf);
 * -d lists every parameter with its class and meaning (postern's own, then
 * the Postfix names postern maps, ignores or refuses), -m prints the postern.cf(5)
 * manual page made from the same table. Every
 * error is reported, not just the first, with the warnings about ignored
 * Postfix lines and what mapped ones became, in line order; exit 1 if
 * there is any error (warnings alone: 0). --postfix DIR prints the postern
 * configuration equivalent to the Postfix one in DIR.  With
 * AUTH on the users file, the users file is checked too. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../auth/users.h"
#include "../daemon/runtime.h"

#define DEFAULT_CONFIG "/etc/postern/postern.cf"

const char *cli_config_path(const char *given)
{
    if (given)
        return given;
    if (access(DEFAULT_CONFIG, F_OK) == 0)
        return DEFAULT_CONFIG;
    return NULL;
}

static void check_err(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "postern: %s\n", msg);
}

static void check_say(void *arg, const char *msg)
{
    fprintf(stderr, "postern: warning: %s: %s\n", (const char *)arg, msg);
}

static void check_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "postern: %s\n", msg);
}

/* A Postfix name of -d's list: its class and what postern does about it. */
static void print_postfix_name(void *arg, const char *name, enum cfg_class cls,
                               const char *hint)
{
    (void)arg;
    printf("%-40s %-11s Postfix: %s\n", name, config_class_name(cls), hint);
}

/* The users file of AUTH (smtpd_sasl_type = postern), as the daemon will
 * read it: -1 with the error printed when it would refuse it. */
static int check_users_file(const struct config *cfg)
{
    if (!cfg->smtpd_sasl_auth_enable || strcmp(cfg->smtpd_sasl_type, "postern") != 0)
        return 0;
    char *text, err[1024];
    size_t len;
    if (users_read_file(cfg->smtpd_sasl_users, 1, &text, &len, err, sizeof err) < 0) {
        fprintf(stderr, "postern: smtpd_sasl_users: %s\n", err);
        return -1;
    }
    struct users *u = users_parse(text, len, cfg->smtpd_sasl_users, err, sizeof err);
    explicit_bzero(text, len);
    free(text);
    if (!u) {
        fprintf(stderr, "postern: smtpd_sasl_users: %s\n", err);
        return -1;
    }
    users_free(u);
    return 0;
}

static void print_comment(void *arg, const char *msg)
{
    (void)arg;
    printf("#   %s\n", msg);
}

/* `postern check --postfix DIR`: DIR/main.cf (and the master.cf and maps it
 * names) loaded as `serve -c DIR/main.cf` would, then printed as the
 * postern configuration that does the same: the settings that differ from
 * postern's defaults (the mapped ones written out), after a comment with
 * what became of each Postfix line. Messages go to stderr as for check;
 * with an error nothing is printed and the exit status is 1. */
static int check_postfix(const char *dir)
{
    char path[PATH_MAX], master[PATH_MAX];
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (snprintf(path, sizeof path, "%.*s/main.cf", (int)dl, dir) >= (int)sizeof path ||
        snprintf(master, sizeof master, "%.*s/master.cf", (int)dl, dir) >= (int)sizeof master) {
        fprintf(stderr, "postern: %s: name too long\n", dir);
        return 1;
    }
    struct config_errors *errs = calloc(1, sizeof *errs);
    if (!errs) {
        fprintf(stderr, "postern: out of memory\n");
        return 1;
    }
    struct runtime *rt = runtime_load(path, errs);
    config_messages_each(errs, path, check_err, check_note, NULL);
    if (rt && check_users_file(rt->cfg) < 0) {
        runtime_unref(rt);
        rt = NULL;
    }
    if (!rt) {
        free(errs);
        return 1;
    }
    printf("# postern configuration made by \"postern check --postfix %s\" from\n"
           "# %s%s%s. What became of the Postfix lines:\n", dir, path,
           access(master, F_OK) == 0 ? " and " : "", access(master, F_OK) == 0 ? master : "");
    config_notes_each(errs, print_comment, NULL);
    if (errs->nnotes > CONFIG_MAX_NOTES)
        printf("#   (and %zu more)\n", errs->nnotes - CONFIG_MAX_NOTES);
    printf("\n");
    config_print_nondefault(rt->cfg, stdout);
    runtime_unref(rt);
    free(errs);
    if (fflush(stdout) != 0) {
        perror("postern: check --postfix");
        return 1;
    }
    return 0;
}

int cli_check(int argc, char **argv)
{
    const char *cpath = NULL, *postfix = NULL;
    int all = 0, doc = 0, man = 0, c;
    static const struct option longopts[] = {
        { "postfix", required_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:adm", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': cpath = optarg; break;
        case 'a': all = 1; break;
        case 'd': doc = 1; break;
        case 'm': man = 1; break;
        case 'P': postfix = optarg; break;
        default:
            fprintf(stderr, "usage: postern check [-c FILE] [-a | -d | -m] | "
                    "--postfix DIR\n");
            return 2;
        }
    }
    if (postfix)
        return check_postfix(postfix);
    if (man) {
        if (config_print_man(stdout, POSTERN_VERSION) < 0 || fflush(stdout) != 0) {
            perror("postern: check -m");
            return 1;
        }
        return 0;
    }
    if (doc) {
        for (const struct cfg_param *p = config_params; p->name; p++)
            printf("%-40s %-11s %s\n", p->name, config_class_name(CFG_CLASS_IMPLEMENTED),
                   p->doc);
        config_postfix_each(print_postfix_name, NULL);
        return 0;
    }
    const char *path = cli_config_path(cpath);
    struct config_errors errs = { 0 };
    struct runtime *rt = runtime_load(path, &errs);
    config_messages_each(&errs, path ? path : "(default)", check_err, check_note, NULL);
    if (!rt)
        return 1;
    if (check_users_file(rt->cfg) < 0) {
        runtime_unref(rt);
        return 1;
    }
    config_advise(rt->cfg, check_say, (void *)(path ? path : "(default)"));
    if (all)
        config_print_all(rt->cfg, stdout);
    else
        config_print_nondefault(rt->cfg, stdout);
    runtime_unref(rt);
    return 0;
}

int cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("postern %s\n", POSTERN_VERSION);
    return 0;
}

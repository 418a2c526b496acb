/* `postern sasl check [-c CONFIG] NAME`: verify NAME and the password on
 * stdin through the configured AUTH backend (smtpd_sasl_type), the way the
 * SMTP server will -- postern's `testsaslauthd`. It takes the same path
 * as the daemon: the worker threads of src/auth/, the same socket, the
 * same messages for the classic mistakes (no socket, no permission).
 * Exit 0: accepted; 1: refused; 75 (EX_TEMPFAIL): the backend could not
 * answer; 78 (EX_CONFIG): configuration or users file in error. */
#include "cli.h"

#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "../auth/auth.h"
#include "../auth/sasl.h"
#include "../auth/users.h"
#include "../config/config.h"

struct outcome {
    struct event_base *base;
    int done;
    struct auth_verdict v;
};

static void on_verdict(void *arg, const struct auth_verdict *v)
{
    struct outcome *o = arg;
    o->v = *v;
    o->done = 1;
    event_base_loopbreak(o->base);
}

static int check(const struct config *cfg, const char *name, const char *pass)
{
    char *text = NULL, err[1024], where[4096];
    size_t len = 0;
    if (strcmp(cfg->smtpd_sasl_type, "postern") == 0) {
        /* as strict as the daemon: a readable hash file is an error */
        if (users_read_file(cfg->smtpd_sasl_users, 1, &text, &len, err, sizeof err) < 0) {
            fprintf(stderr, "postern: smtpd_sasl_users: %s\n", err);
            return EX_CONFIG;
        }
        snprintf(where, sizeof where, "%s", cfg->smtpd_sasl_users);
    } else {
        auth_socket_path(cfg, where, sizeof where);
    }
    struct outcome o = { .base = event_base_new() };
    if (!o.base) {
        free(text);
        fprintf(stderr, "postern: cannot start an event loop\n");
        return EX_SOFTWARE;
    }
    struct auth *a = auth_new(cfg, o.base, text, len, err, sizeof err);
    if (text)
        explicit_bzero(text, len);
    free(text);
    if (!a) {
        fprintf(stderr, "postern: smtpd_sasl_users: %s\n", err);
        event_base_free(o.base);
        return EX_CONFIG;
    }
    /* a local administrator's check: Dovecot may treat it as over TLS */
    struct auth_peer peer = { NULL, NULL, 1 };
    if (!auth_verify_start(a, name, pass, &peer, on_verdict, &o)) {
        fprintf(stderr, "postern: out of memory\n");
        auth_free(a);
        event_base_free(o.base);
        return EX_SOFTWARE;
    }
    while (!o.done)
        event_base_dispatch(o.base);
    auth_free(a);
    event_base_free(o.base);
    int rc;
    switch (o.v.result) {
    case AUTH_OK:
        if (strcmp(o.v.user, name) != 0)
            printf("%s: authentication succeeded as %s (%s, %s)\n", name, o.v.user,
                   cfg->smtpd_sasl_type, where);
        else
            printf("%s: authentication succeeded (%s, %s)\n", name, cfg->smtpd_sasl_type,
                   where);
        rc = 0;
        break;
    case AUTH_FAIL:
        fprintf(stderr, "postern: %s: authentication failed (%s, %s): %s\n", name,
                cfg->smtpd_sasl_type, where, o.v.why);
        rc = 1;
        break;
    default:
        fprintf(stderr, "postern: %s: cannot check: %s\n", name, o.v.why);
        rc = EX_TEMPFAIL;
        break;
    }
    return rc;
}

int cli_sasl(int argc, char **argv)
{
    const char *cpath = NULL;
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "c:")) != -1) {
        if (c != 'c')
            goto usage;
        cpath = optarg;
    }
    if (argc - optind != 2 || strcmp(argv[optind], "check") != 0)
        goto usage;
    const char *name = argv[optind + 1];
    size_t nl = strlen(name);
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            nl = SASL_NAME_MAX + 1;
    if (nl == 0 || nl > SASL_NAME_MAX) {
        fprintf(stderr, "postern: a SASL name has 1 to %d bytes and no control character\n",
                SASL_NAME_MAX);
        return EX_DATAERR;
    }
    char err[1024];
    struct config *cfg = config_load(cli_config_path(cpath), err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "postern: %s\n", err);
        return EX_CONFIG;
    }
    if (!cfg->smtpd_sasl_auth_enable)
        fprintf(stderr, "postern: note: smtpd_sasl_auth_enable = no: the SMTP server does "
                        "not offer AUTH with this configuration\n");
    char pass[SASL_PASS_MAX + 1];
    if (cli_read_password(0, pass, sizeof pass) < 0) {
        config_free(cfg);
        return EX_DATAERR;
    }
    int rc = check(cfg, name, pass);
    explicit_bzero(pass, sizeof pass);
    config_free(cfg);
    return rc;
usage:
    fprintf(stderr, "usage: postern sasl check [-c CONFIG] NAME   (the password on stdin)\n");
    return EX_USAGE;
}

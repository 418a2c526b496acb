/* config_loader — the state of one configuration load, shared by the
 * loader (config.c) and its Postfix steps (config_pfload.c); private to
 * src/config/. */
#ifndef POSTERN_CONFIG_LOADER_H
#define POSTERN_CONFIG_LOADER_H

#include <stddef.h>

#include "config.h"
#include "config_internal.h"

#define CFG_MAX_DEPTH    100            /* nesting of $name references */
#define CFG_MAX_MAPPED   32             /* mapped Postfix lines kept */
#define CFG_MAX_RESULTS  8              /* what they become */
#define CFG_MAX_USER     64             /* user-defined parameters kept */

/* ST_FAILED: the value is in error (reported, or refers to one that is);
 * the parameter is left empty. */
enum { ST_TODO, ST_BUSY, ST_DONE, ST_FAILED };

struct loader {
    struct config *cfg;
    size_t n;                   /* number of parameters */
    char **exp;                 /* expanded text, per parameter */
    unsigned char *state;       /* ST_*, per parameter (loop detection) */
    size_t stack[CFG_MAX_DEPTH + 1];
    size_t depth;
    long i_myhostname, i_mydomain;
    const char *shown;          /* expanded text for param_err, or NULL */
    struct config_errors *errs;
    int oom;                    /* out of memory: stop, return nothing */
    struct pf_line pf[CFG_MAX_MAPPED];  /* Postfix lines to map (values owned) */
    size_t npf;
    int postfix;                /* a Postfix main.cf: Postfix names, a master.cf */
    /* names postern does not know, kept until it is known whether a $name
     * refers to them (Postfix's user-defined parameters, $mua_*); a
     * referenced one is expanded, any other is an error */
    struct pf_line user[CFG_MAX_USER];
    unsigned char user_busy[CFG_MAX_USER];
    unsigned char user_used[CFG_MAX_USER];
    size_t nuser;
};

static inline int config_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static inline int config_is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Out of memory at line (0: none): stop the load, with a message. */
void config_loader_oom(struct loader *L, int line);

/* Keep an unknown "name = value" as a possible user-defined parameter: 1
 * (then *name is owned by L), or 0 when there is no room (an error then). */
int config_user_keep(struct loader *L, char **name, const char *value, int line);

/* Keep "name = value" of a referenced user-defined parameter in cfg; -1
 * when memory runs out. */
int config_user_define(struct config *cfg, const struct pf_line *u);

/* Mark the kept unknown names a $name refers to (in the file, or in
 * master); the others are errors. */
void config_user_check(struct loader *L, const char *master);

/* Index of the kept user-defined parameter s[0..len), or -1. */
long config_user_find(const struct loader *L, const char *s, size_t len);

/* The mapped Postfix lines (and master.cf) become postern parameters. */
void config_pf_apply(struct loader *L, const char *master, const char *master_file);

/* SMTP AUTH of a Postfix main.cf (cyrus -> saslauthd, dovecot's socket);
 * master: the master.cf text, or NULL. */
void config_pf_sasl(struct loader *L, const char *master);

/* Postfix's defaults where postern's differ; myorigin naming a file. */
void config_pf_defaults(struct loader *L, const struct config_postfix_files *pf);

#endif

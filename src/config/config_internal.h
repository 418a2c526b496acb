/* config_internal — shared by the files of src/config/, not a public
 * interface: the loader (config.c) and the value checks (validate.c). */
#ifndef POSTERN_CONFIG_INTERNAL_H
#define POSTERN_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

#define CFG_QUOTE_MAX 80        /* bytes of user text in a message */

/* Copy user text s into buf for an error message: control bytes become '?',
 * long text is cut (at a UTF-8 character boundary) and ends in "...". */
const char *config_quote(const char *s, char *buf, size_t buflen);

/* A time in ms as the largest unit that divides it exactly: 300000 ->
 * "5m", 1500 -> "1500ms", 0 -> "0s". */
void config_format_time(long long ms, char *buf, size_t len);

/* Index of the parameter in config_params[], or -1. */
long config_param_index(const char *name);

/* Put the messages kept from index `from` on in the order of the lines of
 * `file` they are about (the loader finds them step by step: names, then
 * values in table order); those about no line of it go last. */
void config_errors_sort(struct config_errors *errs, size_t from, const char *file);

/* Check the values that must come from a fixed set (transports, TLS
 * levels, classes, options), adding one error per bad value. failed[i] is
 * nonzero for a parameter already reported (its value is empty): it is not
 * checked again. */
void config_validate(const struct config *cfg, const unsigned char *failed,
                     struct config_errors *errs);

/* A line of a Postfix parameter of the mapped class, as written. */
struct pf_line {
    const char *name;
    const char *value;
    int line;
};

/* What a mapped Postfix parameter becomes: postern parameter `name` =
 * `value` (when !none), or an error (error[0]) about line `line`. none:
 * the line asks for nothing (smtpd_use_tls = no); shadowed: an earlier
 * result already set the same parameter (smtpd_enforce_tls over
 * smtpd_use_tls). */
struct pf_result {
    const char *name;
    const struct pf_line *from;
    const struct pf_line *also; /* a second line that went into it, or NULL */
    int line;
    int none, shadowed;
    int master;                 /* from master.cf (its notes said so) */
    long long procs;            /* listen from master.cf: its maxproc total */
    char value[2048];
    char error[256];
};

/* Translate the mapped Postfix lines in[0..n) (postfix_map.c), and the
 * SMTP services of master (text of the master.cf beside the main.cf, or
 * NULL) into listen; at most max results, returns how many. Pure: the
 * notes and errors about master.cf go to errs. */
size_t config_postfix_map(const struct pf_line *in, size_t n, const char *master,
                          const char *master_file, struct config_errors *errs,
                          struct pf_result *out, size_t max);

struct sbuf;
/* The SMTP services of master.cf text (postfix_master.c) as listen URLs
 * appended to listen, on the addresses addrs ("0.0.0.0 [::]") unless a
 * service names its own; *procs the total of their maxproc columns (100
 * for "-"), *limited whether any set one. Notes and errors go to errs.
 * Returns how many services, or -1 when memory ran out. */
int config_postfix_master(const char *text, const char *file, const char *addrs,
                          struct sbuf *listen, long long *procs, int *limited,
                          struct config_errors *errs);

#endif

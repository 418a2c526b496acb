/* libFuzzer harness for the configuration parser (config/config.c:
 * config_load_buffer_collect -> config_load_text_collect, the validation in
 * validate.c and the advice in advice.c). A configuration file is written
 * by an administrator, but `postern check` exists to read wrong ones: any
 * bytes must give errors, never a crash.
 *
 * Invariants (abort() when broken): NULL only with an error; every error
 * names the file ("fuzz.cf:"), is terminated and bounded; the same text
 * gives the same errors twice; a configuration without errors prints as
 * `postconf -n` text that loads again without errors and prints the same;
 * config_param_where and config_advise work on what was loaded. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.cf"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void say_nothing(void *arg, const char *msg)
{
    size_t *n = arg;
    check(msg != NULL && strlen(msg) < 4096, "advice bounded");
    (*n)++;
}

static void check_errors(const struct config_errors *e)
{
    size_t kept = e->n < CONFIG_MAX_ERRORS ? e->n : CONFIG_MAX_ERRORS;
    for (size_t i = 0; i < kept; i++) {
        check(memchr(e->msg[i], '\0', CONFIG_ERROR_MAX) != NULL, "error terminated");
        check(strncmp(e->msg[i], NAME ":", strlen(NAME) + 1) == 0, "error names the file");
    }
}

static char *print_nondefault(const struct config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    check(f != NULL, "open_memstream");
    config_print_nondefault(cfg, f);
    check(fclose(f) == 0, "fclose");
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    /* NUL-terminated private copy, as config_read_file leaves it */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    static struct config_errors e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    struct config *c1 = config_load_buffer_collect(text, size, NAME, &e1);
    check(c1 != NULL || e1.n > 0, "NULL without an error");
    check_errors(&e1);

    /* deterministic */
    struct config *c2 = config_load_buffer_collect(text, size, NAME, &e2);
    check(e1.n == e2.n, "same error count twice");
    size_t kept = e1.n < CONFIG_MAX_ERRORS ? e1.n : CONFIG_MAX_ERRORS;
    for (size_t i = 0; i < kept; i++)
        check(strcmp(e1.msg[i], e2.msg[i]) == 0, "same errors twice");
    config_free(c2);

    if (c1) {
        char where[512];
        for (size_t i = 0; config_params[i].name; i++) {
            config_param_where(c1, config_params[i].name, where, sizeof where);
            check(strncmp(where, NAME, strlen(NAME)) == 0, "where names the file");
        }
    }
    if (c1 && e1.n == 0) {
        size_t n = 0;
        config_advise(c1, say_nothing, &n);
        /* round trip through `postconf -n` form */
        size_t len1, len2;
        char *p1 = print_nondefault(c1, &len1);
        static struct config_errors e3;
        memset(&e3, 0, sizeof e3);
        struct config *c3 = config_load_buffer_collect(p1, len1, NAME, &e3);
        if (e3.n) {
            fprintf(stderr, "printed:\n%s\nreloaded: %s\n", p1, e3.msg[0]);
            check(0, "printed settings load again without errors");
        }
        char *p2 = print_nondefault(c3, &len2);
        if (len1 != len2 || memcmp(p1, p2, len1) != 0) {
            fprintf(stderr, "printed:\n%s\nthen:\n%s\n", p1, p2);
            check(0, "printed settings print the same again");
        }
        free(p1);
        free(p2);
        config_free(c3);
    }
    config_free(c1);
    free(text);
    return 0;
}

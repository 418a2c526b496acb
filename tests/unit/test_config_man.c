/* Unit tests for src/config/config_man.c: the postern.cf(5) page lists
 * every parameter of the table once, in order, and no table text can turn
 * into a roff request. (tests/e2e/test_packaging.py renders it with groff.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* The page as one string (caller frees). */
static char *page(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(config_print_man(f, "9.9.9"), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_every_parameter_once_alphabetically(void **state)
{
    (void)state;
    char *text = page();
    size_t n = 0;
    char prev[256] = "", tag[256];
    for (const struct cfg_param *p = config_params; p->name; p++) {
        snprintf(tag, sizeof tag, "\n.TP\n.B %s\n", p->name);
        const char *at = strstr(text, tag);
        if (!at)
            fail_msg("postern.cf(5) lacks %s", p->name);
        if (strstr(at + 1, tag))
            fail_msg("postern.cf(5) lists %s twice", p->name);
        n++;
    }
    /* the tags, in the page's order, are sorted */
    size_t tags = 0;
    for (const char *s = strstr(text, "\n.TP\n.B "); s; s = strstr(s + 1, "\n.TP\n.B ")) {
        const char *name = s + strlen("\n.TP\n.B ");
        size_t l = strcspn(name, "\n");
        snprintf(tag, sizeof tag, "%.*s", (int)l, name);
        /* the value types and FILES entries use the same macro */
        int known = 0;
        for (const struct cfg_param *p = config_params; p->name; p++)
            known |= strcmp(p->name, tag) == 0;
        if (!known)
            continue;
        if (strcmp(prev, tag) >= 0)
            fail_msg("%s comes after %s", tag, prev);
        snprintf(prev, sizeof prev, "%s", tag);
        tags++;
    }
    assert_int_equal(tags, n);
    snprintf(tag, sizeof tag, "There are %zu parameters.", n);
    assert_non_null(strstr(text, tag));
    assert_non_null(strstr(text, ".TH POSTERN.CF 5 \"\" \"postern 9.9.9\""));
    free(text);
}

/* Every line that starts with a dot or a quote is one of the requests the
 * generator writes on purpose: table text (a default such as ".", a
 * description) never starts a line that roff would read as a request. */
static void test_only_known_requests(void **state)
{
    (void)state;
    static const char *const requests[] = {
        ".\\\" ", ".TH ", ".SH ", ".TP\n", ".B ", ".BR ", ".RB ", ".IR ", ".I ",
        ".PP\n", ".br\n", ".nh\n", ".ad l\n", NULL,
    };
    char *text = page();
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (*line == '\'')
            fail_msg("a line starts with a quote: %.40s", line);
        if (*line == '.') {
            int ok = 0;
            for (size_t i = 0; requests[i]; i++)
                ok |= strncmp(line, requests[i], strlen(requests[i])) == 0;
            if (!ok)
                fail_msg("unexpected request: %.40s", line);
        }
        /* in text, a hyphen is \- and a backslash starts only the
         * escapes the generator writes (\e for a backslash) */
        if (*line != '.')
            for (const char *c = line; *c && *c != '\n'; c++) {
                if (*c == '-' && (c == line || c[-1] != '\\'))
                    fail_msg("bare hyphen: %.60s", line);
                if (*c == '\\' && !strchr("e-&f[(", c[1]))
                    fail_msg("unexpected escape: %.60s", c);
                if (*c == '\\')
                    c++;
            }
        if (!strchr(line, '\n'))
            break;
    }
    assert_non_null(strstr(text, "\\f(CWsmtp://127.0.0.1:2525\\fR"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_parameter_once_alphabetically),
        cmocka_unit_test(test_only_known_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

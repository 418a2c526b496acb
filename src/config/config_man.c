/* config_man — the postern.cf(5) manual page, written from the parameter
 * table (config_params.c), so the page lists exactly the parameters the
 * binary knows, with their real defaults and bounds. `postern check -m`
 * prints it; `make` renders it into build/man/postern.cf.5. The prose
 * sections are short: docs/config.md is the long human reference. */
#include "config.h"
#include "config_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/utf8.h"

/* Text as roff: a backslash is \e, a dot or quote that would start a
 * request is guarded with \&, a hyphen is the minus sign \- (parameter
 * values are typed as shown), anything beyond ASCII is \[uXXXX] (groff
 * reads its input as Latin-1 unless preconv ran; man(1) does not always
 * run it), control bytes are dropped. at_start: s begins an output line. */
static void man_text(FILE *out, const char *s, int at_start)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (at_start && (*p == '.' || *p == '\''))
        fputs("\\&", out);
    while (n > 0) {
        uint32_t cp;
        size_t k = utf8_decode(p, n, &cp);
        if (k == 0) {            /* not UTF-8: the table is ours, but be safe */
            k = 1;
            cp = '?';
        }
        if (cp == '\\')
            fputs("\\e", out);
        else if (cp == '-')
            fputs("\\-", out);
        else if (cp >= 0x80)
            fprintf(out, "\\[u%04lX]", (unsigned long)cp);
        else if (cp >= 0x20 && cp != 0x7f)
            fputc((int)cp, out);
        p += k;
        n -= k;
    }
}

static const char *type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_STR:  return "string";
    case CFG_LIST: return "list";
    case CFG_INT:  return "integer";
    case CFG_SIZE: return "size";
    case CFG_TIME: return "time";
    case CFG_BOOL: return "boolean";
    }
    return "string";
}

static void man_bound(FILE *out, const struct cfg_param *p, long long v)
{
    char buf[32];
    if (p->type == CFG_TIME)
        config_format_time(v, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "%lld", v);
    man_text(out, buf, 0);
}

/* One parameter: a tagged paragraph, the tag its name, then its type,
 * default and bounds, then the table's one-line description. */
static void man_param(FILE *out, const struct cfg_param *p)
{
    static const char mark[] = "postern: ";
    const char *doc = p->doc ? p->doc : "";
    int ours = strncmp(doc, mark, sizeof mark - 1) == 0;
    if (ours)
        doc += sizeof mark - 1;
    fputs(".TP\n.B ", out);
    man_text(out, p->name, 0);
    fputs("\n(", out);
    fputs(type_name(p->type), out);
    if (p->type == CFG_TIME && p->ms_offset)
        fputs(", also in ms", out);
    fputs("; default: ", out);
    if (p->def && *p->def) {
        fputs("\\f(CW", out);
        man_text(out, p->def, 0);
        fputs("\\fR", out);
    } else {
        fputs("empty", out);
    }
    int numeric = p->type == CFG_INT || p->type == CFG_SIZE || p->type == CFG_TIME;
    if (numeric && !(p->max == LLONG_MAX && p->min <= 0)) {
        if (p->max == LLONG_MAX) {
            fputs("; at least ", out);
            man_bound(out, p, p->min);
        } else {
            fputs("; ", out);
            man_bound(out, p, p->min);
            fputs(" to ", out);
            man_bound(out, p, p->max);
        }
        if (p->type == CFG_SIZE)
            fputs(" bytes", out);
    }
    fputs(")\n", out);
    man_text(out, doc, 1);
    size_t len = strlen(doc);
    fputs(len > 0 && doc[len - 1] != '.' ? ".\n" : "\n", out);
    if (ours)
        fputs("A postern extension: Postfix has no such parameter.\n", out);
}

static int by_name(const void *a, const void *b)
{
    const struct cfg_param *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Fixed prose: what the file is and its syntax (docs/config.md "File
 * syntax", in short). */
static const char man_head[] =
    ".SH NAME\n"
    "postern.cf \\- postern configuration parameters\n"
    ".SH SYNOPSIS\n"
    ".B /etc/postern/postern.cf\n"
    ".br\n"
    ".B postern check\n"
    ".RB [ \\-c\n"
    ".IR file ]\n"
    ".RB [ \\-a | \\-d | \\-m ]\n"
    ".SH DESCRIPTION\n"
    "postern reads its configuration in the syntax of Postfix's\n"
    ".BR main.cf :\n"
    "by default\n"
    ".IR /etc/postern/postern.cf ,\n"
    "or the file given with\n"
    ".BR \"\\-c \\fIfile\\fP\" .\n"
    "Without either, a built\\-in configuration is used: SMTP on\n"
    "127.0.0.1:2525, mail captured under\n"
    ".IR ./var/mail .\n"
    "Where Postfix has a parameter for the same thing, postern uses its\n"
    "name and meaning.\n"
    ".PP\n"
    "One\n"
    ".I \"name = value\"\n"
    "per logical line; whitespace around the name and the value is removed.\n"
    "A line whose first non\\-blank character is\n"
    ".B #\n"
    "is a comment (a\n"
    ".B #\n"
    "later in a line is part of the value).\n"
    "A line that starts with whitespace continues the previous one.\n"
    "When a parameter is set twice, the last assignment wins.\n"
    ".PP\n"
    ".BR $name ,\n"
    ".B ${name}\n"
    "and\n"
    ".B $(name)\n"
    "are replaced by the value of parameter\n"
    ".IR name ,\n"
    "after the whole file has been read;\n"
    ".B $$\n"
    "is a dollar sign.\n"
    "An unknown parameter name is an error, with the closest known name as a\n"
    "suggestion.\n"
    ".PP\n"
    "Value types:\n"
    ".TP\n"
    ".B string\n"
    "any text, after\n"
    ".B $name\n"
    "expansion.\n"
    ".TP\n"
    ".B list\n"
    "items separated by commas and/or whitespace.\n"
    ".TP\n"
    ".B integer\n"
    "a decimal number within the bounds shown.\n"
    ".TP\n"
    ".B size\n"
    "a number of bytes; a\n"
    ".BR k ,\n"
    ".B m\n"
    "or\n"
    ".B g\n"
    "suffix multiplies by 1024, 1024\\(S2 or 1024\\(S3.\n"
    ".TP\n"
    ".B time\n"
    "a number with an optional unit\n"
    ".B s\n"
    "(the default),\n"
    ".BR m ,\n"
    ".BR h ,\n"
    ".B d\n"
    "or\n"
    ".BR w ;\n"
    "those marked \\(lqalso in ms\\(rq take\n"
    ".B ms\n"
    "too.\n"
    ".TP\n"
    ".B boolean\n"
    ".B yes\n"
    "or\n"
    ".BR no .\n"
    ".PP\n"
    ".B postern check\n"
    "reports every error with its file and line and exits 1;\n"
    ".B postern serve\n"
    "refuses to start with one; on\n"
    ".B SIGHUP\n"
    "a bad file is logged and the running configuration is kept.\n"
    ".SH PARAMETERS\n";

static const char man_tail[] =
    ".SH FILES\n"
    ".TP\n"
    ".I /etc/postern/postern.cf\n"
    "the configuration file.\n"
    ".SH SEE ALSO\n"
    ".BR postern (8),\n"
    ".BR postconf (5)\n"
    ".PP\n"
    "The full reference, with examples: docs/config.md in the postern\n"
    "sources.\n";

int config_print_man(FILE *out, const char *version)
{
    size_t n = 0;
    while (config_params[n].name)
        n++;
    const struct cfg_param **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++)
        v[i] = &config_params[i];
    /* alphabetical, as postconf(5) is: the reader looks a name up */
    qsort(v, n, sizeof *v, by_name);
    fputs(".\\\" Generated from src/config/config_params.c by `postern check -m`;"
          " do not edit.\n", out);
    fputs(".TH POSTERN.CF 5 \"\" \"postern ", out);
    man_text(out, version ? version : "", 0);
    fputs("\" \"File Formats Manual\"\n", out);
    /* URLs and parameter names must not be hyphenated, nor spread out */
    fputs(".nh\n.ad l\n", out);
    fputs(man_head, out);
    fputs("There are ", out);
    fprintf(out, "%zu parameters.\n", n);
    for (size_t i = 0; i < n; i++)
        man_param(out, v[i]);
    fputs(man_tail, out);
    free(v);
    return ferror(out) ? -1 : 0;
}

/* Unit tests for src/config: parsing, expansion, types, errors, printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define ERRLEN 512

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static struct config *load(const char *text, char *err)
{
    err[0] = 'X';
    err[1] = '\0';
    return config_load_text(text, "t.cf", err, ERRLEN);
}

/* Load text that must succeed; fails the test with the error otherwise. */
static struct config *load_ok(const char *text)
{
    char err[ERRLEN];
    struct config *cfg = load(text, err);
    if (!cfg)
        fail_msg("unexpected error for \"%s\": %s", text, err);
    assert_string_equal(err, "");
    return cfg;
}

static const struct cfg_param *param(const char *name)
{
    for (const struct cfg_param *p = config_params; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    fail_msg("no parameter %s", name);
    return NULL;
}

/* The typed value of a parameter as text: strings as is, lists joined with
 * '|', numbers in decimal, booleans 0/1. */
static const char *value(const struct config *cfg, const char *name, char *buf,
                         size_t len)
{
    const struct cfg_param *p = param(name);
    const char *f = (const char *)cfg + p->offset;
    buf[0] = '\0';
    switch (p->type) {
    case CFG_STR:
        snprintf(buf, len, "%s", *(char *const *)(const void *)f);
        break;
    case CFG_LIST: {
        const struct cfg_list *l = (const void *)f;
        size_t used = 0;
        for (size_t i = 0; i < l->n; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     i ? "|" : "", l->v[i]);
        break;
    }
    case CFG_INT:
    case CFG_SIZE:
    case CFG_TIME:
        snprintf(buf, len, "%lld", *(const long long *)(const void *)f);
        break;
    case CFG_BOOL:
        snprintf(buf, len, "%d", *(const int *)(const void *)f);
        break;
    }
    return buf;
}

static void assert_value(const struct config *cfg, const char *name,
                         const char *want)
{
    char buf[1024];
    const char *got = value(cfg, name, buf, sizeof buf);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", name, got, want);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* Load text that must fail; every non-NULL entry of want must be in err. */
static void assert_load_error(const char *text, const char *const *want)
{
    char err[ERRLEN];
    struct config *cfg = load(text, err);
    if (cfg) {
        config_free(cfg);
        fail_msg("loading \"%s\" succeeded, expected an error", text);
    }
    for (; *want; want++)
        assert_contains(err, *want);
}

static char *print_to_string(void (*fn)(const struct config *, FILE *),
                             const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(cfg, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static const char *system_hostname(char *buf, size_t len)
{
    memset(buf, 0, len);
    if (gethostname(buf, len - 1) != 0 || !buf[0])
        snprintf(buf, len, "localhost");
    return buf;
}

/* ------------------------------------------------------------------ */
/* the table                                                            */

static void test_table_is_consistent(void **state)
{
    (void)state;
    for (const struct cfg_param *p = config_params; p->name; p++) {
        assert_non_null(p->def);
        assert_non_null(p->doc);
        assert_true(strlen(p->doc) > 10);
        assert_true(p->offset < offsetof(struct config, raw));
        assert_true(p->min <= p->max);
        for (const struct cfg_param *q = config_params; q < p; q++) {
            if (strcmp(p->name, q->name) == 0)
                fail_msg("duplicate name %s", p->name);
            if (p->offset == q->offset)
                fail_msg("%s and %s share a field", p->name, q->name);
        }
    }
}

static size_t type_size(enum cfg_type t)
{
    switch (t) {
    case CFG_STR:  return sizeof(char *);
    case CFG_LIST: return sizeof(struct cfg_list);
    case CFG_BOOL: return sizeof(int);
    default:       return sizeof(long long);
    }
}

static size_t type_align(enum cfg_type t)
{
    switch (t) {
    case CFG_STR:  return _Alignof(char *);
    case CFG_LIST: return _Alignof(struct cfg_list);
    case CFG_BOOL: return _Alignof(int);
    default:       return _Alignof(long long);
    }
}

/* The entries, sorted by offset, tile struct config up to its private
 * fields: every public field has exactly one parameter. */
static void test_table_covers_every_field(void **state)
{
    (void)state;
    size_t end = 0, count = 0;
    for (;;) {
        const struct cfg_param *next = NULL;
        for (const struct cfg_param *p = config_params; p->name; p++)
            if (p->offset >= end && (!next || p->offset < next->offset))
                next = p;
        size_t al = next ? type_align(next->type) : _Alignof(char **);
        size_t want = (end + al - 1) / al * al;
        if (!next) {
            assert_int_equal(want, offsetof(struct config, raw));
            break;
        }
        if (next->offset != want)
            fail_msg("struct config has a field at offset %zu with no parameter "
                     "(next parameter: %s at %zu)", want, next->name, next->offset);
        end = next->offset + type_size(next->type);
        count++;
    }
    assert_int_equal(count, 138);
}

static void test_defaults(void **state)
{
    (void)state;
    char host[256];
    struct config *cfg = load_ok("");
    system_hostname(host, sizeof host);

    assert_value(cfg, "myhostname", host);
    assert_value(cfg, "myorigin", host);
    assert_value(cfg, "mail_owner", "postern");
    assert_value(cfg, "mail_name", "postern");
    assert_value(cfg, "syslog_name", "");
    assert_value(cfg, "listen", "smtp://127.0.0.1:2525");
    assert_value(cfg, "mynetworks", "127.0.0.0/8|[::1]/128");
    assert_value(cfg, "queue_directory", "./var/spool");
    assert_value(cfg, "default_transport", "capture");
    assert_value(cfg, "capture_directory", "./var/mail");
    assert_value(cfg, "maximal_queue_lifetime", "432000");
    assert_value(cfg, "minimal_backoff_time", "300");
    assert_value(cfg, "maximal_backoff_time", "4000");
    assert_value(cfg, "queue_run_delay", "300");
    assert_value(cfg, "always_add_missing_headers", "1");
    assert_value(cfg, "message_size_limit", "10240000");
    assert_value(cfg, "smtpd_recipient_limit", "1000");
    assert_value(cfg, "line_length_limit", "2048");
    assert_value(cfg, "header_size_limit", "102400");
    assert_value(cfg, "smtpd_timeout", "300");
    assert_value(cfg, "smtpd_error_sleep_time", "10");
    assert_value(cfg, "smtpd_soft_error_limit", "2");
    assert_value(cfg, "smtpd_hard_error_limit", "5");
    assert_value(cfg, "smtpd_client_connection_count_limit", "50");
    assert_value(cfg, "smtpd_max_connections", "1000");

    /* the struct fields themselves, not just the table's view of them */
    assert_string_equal(cfg->myhostname, host);
    assert_int_equal(cfg->mydestination.n, 3);
    assert_string_equal(cfg->mydestination.v[0], host);
    assert_string_equal(cfg->mydestination.v[2], "localhost");
    assert_string_equal(cfg->mydestination.v[1] + strlen("localhost."), cfg->mydomain);
    char banner[300];
    snprintf(banner, sizeof banner, "%s ESMTP", host);
    assert_string_equal(cfg->smtpd_banner, banner);
    const char *dot = strchr(host, '.');
    assert_string_equal(cfg->mydomain, dot && dot[1] ? dot + 1 : "localdomain");
    assert_int_equal(cfg->smtpd_timeout, 300);
    assert_int_equal(cfg->always_add_missing_headers, 1);
    assert_string_equal(cfg->file, "t.cf");
    config_free(cfg);
}

static void test_default_text(void **state)
{
    (void)state;
    char err[ERRLEN];
    struct config *cfg = config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->file, "(default)");
    assert_value(cfg, "listen", "smtp://127.0.0.1:2525");
    assert_value(cfg, "mynetworks", "127.0.0.0/8|[::1]/128");
    assert_value(cfg, "queue_directory", "./var/spool");
    assert_value(cfg, "default_transport", "capture");
    assert_value(cfg, "capture_directory", "./var/mail");
    /* the text sets these explicitly (so they have a line) ... */
    assert_true(cfg->line[param("listen") - config_params] > 0);
    /* ... but to their default values, so nothing is "non-default" */
    char *out = print_to_string(config_print_nondefault, cfg);
    assert_string_equal(out, "");
    free(out);
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* syntax                                                               */

static void test_comments_and_blank_lines(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "# a comment\n"
        "\n"
        "   \t \n"
        "   # an indented comment\n"
        "mail_owner = mailer   \n"
        "#mail_owner = commented\n"
        "smtpd_banner = $myhostname # not a comment\n"
        "\n");
    assert_value(cfg, "mail_owner", "mailer");
    char want[300], host[256];
    snprintf(want, sizeof want, "%s # not a comment",
             system_hostname(host, sizeof host));
    assert_value(cfg, "smtpd_banner", want);
    assert_int_equal(cfg->line[param("mail_owner") - config_params], 5);
    config_free(cfg);
}

static void test_whitespace_and_crlf(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "\xEF\xBB\xBFmail_owner=a\r\n"
        "\tsyslog_name\t=\tpostern-test\t\r\n"   /* continuation of line 1! */
        "default_transport   =   smtp  \r\n"
        "queue_directory =\n");
    /* a line starting with whitespace continues the previous logical line */
    assert_value(cfg, "mail_owner", "a syslog_name\t=\tpostern-test");
    assert_value(cfg, "syslog_name", "");
    assert_value(cfg, "default_transport", "smtp");
    assert_value(cfg, "queue_directory", "");
    config_free(cfg);
}

static void test_continuation_lines(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "mydestination = a.example,\n"
        "    b.example\n"
        "# comment inside a logical line\n"
        "\n"
        "\tc.example ,d.example\n"
        "mail_owner = x\n");
    assert_value(cfg, "mydestination", "a.example|b.example|c.example|d.example");
    assert_value(cfg, "mail_owner", "x");
    /* joined with single spaces, as the user wrote it otherwise */
    assert_string_equal(cfg->raw[param("mydestination") - config_params],
                        "a.example, b.example c.example ,d.example");
    assert_int_equal(cfg->line[param("mydestination") - config_params], 1);
    assert_int_equal(cfg->line[param("mail_owner") - config_params], 6);
    config_free(cfg);
}

static void test_later_assignment_wins(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "smtpd_timeout = 10s\n"
        "mail_owner = first\n"
        "smtpd_timeout = 20s\n"
        "mail_owner = second\n");
    assert_value(cfg, "smtpd_timeout", "20");
    assert_value(cfg, "mail_owner", "second");
    assert_int_equal(cfg->line[param("smtpd_timeout") - config_params], 3);
    config_free(cfg);

    /* errors are reported at the last assignment */
    static const char *const want[] = { "t.cf:3:", "smtpd_timeout", "\"0\"",
                                        "between 1s and 1h", NULL };
    assert_load_error("smtpd_timeout = 0\nsmtpd_timeout = 10\nsmtpd_timeout = 0\n",
                      want);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want[5];
    } cases[] = {
        { "mail_owner = x\nmail_owner x\n",
          { "t.cf:2: ", "\"mail_owner x\"", "expected \"name = value\"", NULL } },
        { "\n\n\njust some words\n",
          { "t.cf:4: ", "missing \"=\"", "name = value", NULL } },
        { "= value\n",
          { "t.cf:1: ", "missing parameter name", "name = value", NULL } },
        { "  mail_owner = x\n",
          { "t.cf:1: ", "starts with whitespace", "remove the leading whitespace", NULL } },
        { "mail_owner = x\nmesage_size_limit = 5\n",
          { "t.cf:2: unknown parameter \"mesage_size_limit\"; did you mean "
            "\"message_size_limit\"?", NULL } },
        { "MyHostName = x\n",
          { "t.cf:1: ", "\"MyHostName\"", "did you mean \"myhostname\"?", NULL } },
        { "zzbogus = no\n",
          { "t.cf:1: unknown parameter \"zzbogus\"; ", "postern check -d", NULL } },
        /* Postfix names postern does not implement say what to do instead */
        { "mail_owner = x\ncontent_filter = amavis:[127.0.0.1]:10024\n",
          { "t.cf:2: \"content_filter\" is a Postfix parameter that postern does not "
            "implement: content filters are not implemented", "remove the line", NULL } },
        { "smtpd_restriction_classes = x\n",
          { "t.cf:1: \"smtpd_restriction_classes\" is a Postfix parameter",
            "write the restrictions in the lists; remove the line", NULL } },
        { "soft_bounce = yes\n",
          { "t.cf:1: \"soft_bounce\" is a Postfix parameter", NULL } },
        { "inet_interfaces = eth0\n",
          { "t.cf:1: inet_interfaces = \"eth0\": \"eth0\" is not an address",
            "listen = smtp://ADDRESS:25", NULL } },
        { "inet_protocols = ipx\n",
          { "t.cf:1: inet_protocols = \"ipx\": use all, ipv4 or ipv6", NULL } },
        /* the bad line wins even when earlier lines are fine */
        { "mail_owner = x\n\n\ntotally_bogus_name = 1\n",
          { "t.cf:4: ", "\"totally_bogus_name\"", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_load_error(cases[i].text, cases[i].want);

    /* no hint when nothing is close */
    char err[ERRLEN];
    assert_null(load("zzbogus = x\n", err));
    assert_null(strstr(err, "did you mean"));
}

static void test_postfix_hints_never_shadow_parameters(void **state)
{
    (void)state;
    for (const struct cfg_param *p = config_params; p->name; p++) {
        if (config_postfix_hint(p->name))
            fail_msg("%s is a postern parameter but listed as unimplemented", p->name);
        if (config_postfix_class(p->name, NULL, NULL) != CFG_CLASS_IMPLEMENTED)
            fail_msg("%s is a postern parameter but not implemented", p->name);
    }
    assert_non_null(config_postfix_hint("smtpd_restriction_classes"));
    assert_null(config_postfix_hint("relayhost"));
    /* patterns: prefixes and suffixes, and exact entries first */
    assert_int_equal(config_postfix_class("qmgr_message_active_limit", NULL, NULL),
                     CFG_CLASS_IGNORED);
    assert_int_equal(config_postfix_class("readme_directory", NULL, NULL),
                     CFG_CLASS_IGNORED);
    assert_int_equal(config_postfix_class("queue_directory", NULL, NULL),
                     CFG_CLASS_IMPLEMENTED);
    assert_int_equal(config_postfix_class("default_process_limit", NULL, NULL),
                     CFG_CLASS_MAPPED);
    assert_int_equal(config_postfix_class("smtpd_milters", NULL, NULL), CFG_CLASS_REFUSED);
    assert_int_equal(config_postfix_class("zzbogus", NULL, NULL), CFG_CLASS_UNKNOWN);
    assert_string_equal(config_class_name(CFG_CLASS_REFUSED), "refused");
}

struct seen_msgs {
    char out[8][CONFIG_ERROR_MAX];
    size_t n;
};

static void collect_msg(void *arg, const char *msg)
{
    struct seen_msgs *seen = arg;
    if (seen->n < 8)
        snprintf(seen->out[seen->n++], CONFIG_ERROR_MAX, "%s", msg);
}

/* The notes of loading text, one string joined with '\n'. */
static struct config *load_notes(const char *text, char *notes, size_t len,
                                 struct config_errors *errs)
{
    memset(errs, 0, sizeof *errs);
    struct config *cfg = config_load_text_collect(text, "main.cf", errs);
    size_t used = 0;
    notes[0] = '\0';
    for (size_t i = 0; i < errs->nnotes && i < CONFIG_MAX_NOTES && used < len; i++)
        used += (size_t)snprintf(notes + used, len - used, "%s\n", errs->note[i]);
    return cfg;
}

static void test_postfix_ignored_and_mapped(void **state)
{
    (void)state;
    static struct config_errors errs;
    static char notes[8192];
    char buf[256];
    struct config *cfg = load_notes(
        "myhostname = mx.example.com\n"                /* 1 */
        "append_dot_mydomain = no\n"
        "biff = no\n"                                  /* 3 */
        "inet_protocols = ipv4\n"
        "inet_interfaces = all\n"                      /* 5 */
        "default_process_limit = 300\n"
        "qmgr_message_active_limit = 20000\n"          /* 7 */
        "smtpd_use_tls = yes\n"
        "content_filter =\n"                           /* 9 */
        "soft_bounce = no\n", notes, sizeof notes, &errs);
    assert_non_null(cfg);
    assert_int_equal(errs.n, 0);
    assert_string_equal(notes,
        "main.cf: default_transport = smtp: Postfix's default (postern's own is capture)\n"
        "main.cf:2: warning: append_dot_mydomain: Postfix tuning postern does not need; "
        "ignored\n"
        "main.cf:3: warning: biff: postern has no local mailboxes to notify; ignored\n"
        "main.cf:4: inet_protocols = ipv4: mapped to listen with inet_interfaces (line 5)\n"
        "main.cf:5: inet_interfaces = all: mapped to listen = smtp://0.0.0.0:25\n"
        "main.cf:6: default_process_limit = 300: mapped to smtpd_max_connections = 300\n"
        "main.cf:7: warning: qmgr_message_active_limit: Postfix tuning postern does not "
        "need; ignored\n"
        "main.cf:8: smtpd_use_tls = yes: mapped to smtpd_tls_security_level = may\n"
        "main.cf:9: warning: content_filter: empty, asks for nothing; ignored\n"
        "main.cf:10: warning: soft_bounce = no: off, as in postern; ignored\n");
    assert_string_equal(value(cfg, "listen", buf, sizeof buf), "smtp://0.0.0.0:25");
    assert_string_equal(value(cfg, "smtpd_max_connections", buf, sizeof buf), "300");
    assert_string_equal(value(cfg, "smtpd_tls_security_level", buf, sizeof buf), "may");
    config_free(cfg);

    /* both protocols, loopback-only; an explicit postern setting wins */
    cfg = load_notes("inet_interfaces = loopback-only\ninet_protocols = all\n"
                     "smtpd_use_tls = yes\nsmtpd_tls_security_level = encrypt\n",
                     notes, sizeof notes, &errs);
    assert_non_null(cfg);
    assert_string_equal(value(cfg, "listen", buf, sizeof buf),
                        "smtp://127.0.0.1:25|smtp://[::1]:25");
    assert_string_equal(value(cfg, "smtpd_tls_security_level", buf, sizeof buf), "encrypt");
    assert_non_null(strstr(notes, "main.cf:3: warning: smtpd_use_tls: ignored: "
                                  "smtpd_tls_security_level is set on line 4"));
    config_free(cfg);

    /* addresses, filtered by protocol as Postfix does */
    cfg = load_notes("inet_interfaces = 192.0.2.1, [2001:db8::1] 127.0.0.1\n"
                     "inet_protocols = ipv6\n", notes, sizeof notes, &errs);
    assert_non_null(cfg);
    assert_string_equal(value(cfg, "listen", buf, sizeof buf), "smtp://[2001:db8::1]:25");
    config_free(cfg);
}

static void test_postfix_master_cf_listeners(void **state)
{
    (void)state;
    static struct config_errors errs;
    static char buf[8192];
    static const char master[] =
        "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
        "smtp      inet  n       -       y       -       -       smtpd\n"       /* 2 */
        "submission inet n       -       y       -       -       smtpd\n"       /* 3 */
        "  -o syslog_name=postfix/submission\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "#  -o smtpd_tls_auth_only=yes\n"
        "  -o smtpd_client_restrictions=\n"
        "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
        "  -o milter_macro_daemon_name=ORIGINATING\n"
        "127.0.0.1:smtps inet n  -       y       -       10      smtpd\n"       /* 10 */
        "  -o smtpd_tls_wrappermode=yes\n"
        "pickup    unix  n       -       y       60      1       pickup\n"
        "628       inet  n       -       y       -       -       qmqpd\n";     /* 13 */
    memset(&errs, 0, sizeof errs);
    struct config_postfix_files pf = { master, "master.cf", NULL, NULL };
    struct config *cfg = config_load_postfix_collect(
        "inet_interfaces = all\ninet_protocols = ipv4\n", "main.cf", &pf, &errs);
    assert_non_null(cfg);
    assert_int_equal(errs.n, 0);
    assert_string_equal(value(cfg, "listen", buf, sizeof buf),
                        "smtp://0.0.0.0:25|"
                        "submission://0.0.0.0:587?smtpd_tls_security_level=encrypt&"
                        "smtpd_relay_restrictions=permit_sasl_authenticated+reject|"
                        "submissions://127.0.0.1:465");
    /* maxproc: 100 (-), 100 (-), 10 */
    assert_string_equal(value(cfg, "smtpd_max_connections", buf, sizeof buf), "210");
    size_t used = 0;
    for (size_t i = 0; i < errs.nnotes && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", errs.note[i]);
    assert_non_null(strstr(buf, "main.cf:1: inet_interfaces = all: the addresses of "
                                "master.cf's services\n"));
    assert_non_null(strstr(buf, "master.cf:2: smtp inet smtpd: mapped to listen "
                                "smtp://0.0.0.0:25\n"));
    assert_non_null(strstr(buf, "master.cf:3: warning: submission: -o syslog_name"));
    assert_non_null(strstr(buf, "master.cf:3: warning: submission: -o "
                                "smtpd_client_restrictions= (empty): the main.cf value applies; ignored"));
    assert_non_null(strstr(buf, "master.cf:13: warning: 628 inet qmqpd: not an SMTP "
                                "server; ignored\n"));
    config_free(cfg);

    /* a refused -o, a bad service: errors at their master.cf lines */
    memset(&errs, 0, sizeof errs);
    pf.master = "smtp inet n - y - - smtpd -o content_filter=amavis:[127.0.0.1]:10024\n"
                "bogus inet n - y - - smtpd\n"
                "short inet n\n";
    cfg = config_load_postfix_collect("", "main.cf", &pf, &errs);
    assert_int_equal(errs.n, 3);
    assert_non_null(strstr(errs.msg[0], "master.cf:1: smtp: -o content_filter is a Postfix "
                                        "parameter that postern does not implement"));
    assert_non_null(strstr(errs.msg[1], "master.cf:2: service \"bogus\": not a port"));
    assert_non_null(strstr(errs.msg[2], "master.cf:3: expected \"service type"));
    config_free(cfg);

    /* listen in the file wins over master.cf */
    memset(&errs, 0, sizeof errs);
    pf.master = "smtp inet n - y - - smtpd\n";
    cfg = config_load_postfix_collect("listen = smtp://127.0.0.1:2525\n", "main.cf", &pf,
                                      &errs);
    assert_string_equal(value(cfg, "listen", buf, sizeof buf), "smtp://127.0.0.1:2525");
    assert_string_equal(errs.note[1], "main.cf:1: warning: listen is set here: "
                                      "master.cf's services are not used for it");
    config_free(cfg);

    /* Debian's myorigin = /etc/mailname: a domain is needed */
    memset(&errs, 0, sizeof errs);
    cfg = config_load_postfix_collect("biff = no\nmyorigin = /etc/mailname\n", "main.cf",
                                      NULL, &errs);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.msg[0], "main.cf:2: myorigin = \"/etc/mailname\": postern "
                                        "cannot read that file; write the domain out"));
    config_free(cfg);
    /* with the file: its first line */
    memset(&errs, 0, sizeof errs);
    struct config_postfix_files mailname = { NULL, NULL, "/etc/mailname",
                                             "mail.example.org\nignored\n" };
    cfg = config_load_postfix_collect("biff = no\nmyorigin = /etc/mailname\n", "main.cf",
                                      &mailname, &errs);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cfg->myorigin, "mail.example.org");
    char opath[64];
    assert_int_equal(config_myorigin_path("myorigin = /a\nmyorigin=/etc/mailname \n", opath,
                                          sizeof opath), 0);
    assert_string_equal(opath, "/etc/mailname");
    assert_int_equal(config_myorigin_path("myorigin = /a\nmyorigin = $myhostname\n", opath,
                                          sizeof opath), -1);
    config_free(cfg);

    char path[64];
    assert_int_equal(config_master_path("/etc/postfix/main.cf", path, sizeof path), 0);
    assert_string_equal(path, "/etc/postfix/master.cf");
    assert_int_equal(config_master_path("main.cf", path, sizeof path), 0);
    assert_string_equal(path, "master.cf");
    assert_int_equal(config_master_path("/etc/postern/postern.cf", path, sizeof path), -1);
}

static void test_postfix_sasl(void **state)
{
    (void)state;
    static struct config_errors errs;
    static char notes[8192];
    /* Postfix's default type, cyrus: saslauthd; the Cyrus name goes */
    struct config *cfg = load_notes("biff = no\nsmtpd_sasl_auth_enable = yes\n"
                                    "smtpd_sasl_path = smtpd\n", notes, sizeof notes, &errs);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cfg->smtpd_sasl_type, "saslauthd");
    assert_string_equal(cfg->smtpd_sasl_path, "");
    assert_non_null(strstr(notes, "main.cf:2: smtpd_sasl_type = cyrus (Postfix's default): "
                                  "mapped to smtpd_sasl_type = saslauthd"));
    assert_non_null(strstr(notes, "main.cf:3: warning: smtpd_sasl_path = smtpd: the Cyrus "
                                  "application name; ignored"));
    config_free(cfg);
    /* dovecot's socket under Postfix's queue directory */
    cfg = load_notes("biff = no\nsmtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
                     "smtpd_sasl_path = private/auth\n", notes, sizeof notes, &errs);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cfg->smtpd_sasl_path, "/var/spool/postfix/private/auth");
    config_free(cfg);
    /* a postern file (no Postfix names) keeps postern's default type */
    cfg = load_notes("smtpd_sasl_auth_enable = yes\n", notes, sizeof notes, &errs);
    assert_string_equal(cfg->smtpd_sasl_type, "postern");
    assert_int_equal(errs.nnotes, 0);
    config_free(cfg);
}

/* Postfix's user-defined parameters: a name postern does not know is
 * accepted when a $name refers to it (main.cf or master.cf), and expanded;
 * any other stays an error. */
static void test_user_defined_parameters(void **state)
{
    (void)state;
    static struct config_errors errs;
    static char notes[8192];
    char buf[512];
    struct config *cfg = load_notes(
        "mua_base = permit_sasl_authenticated\n"
        "mua_client_restrictions = $mua_base, reject\n"
        "smtpd_client_restrictions = ${mua_client_restrictions}\n"
        "orphan_thing = 1\n"
        "mesage_size_limit = 5\n", notes, sizeof notes, &errs);
    assert_int_equal(errs.n, 2);
    assert_string_equal(errs.msg[0], "main.cf:4: unknown parameter \"orphan_thing\"; fix or "
                        "remove it (run \"postern check -d\" to list known parameters)");
    assert_string_equal(errs.msg[1], "main.cf:5: unknown parameter \"mesage_size_limit\"; "
                        "did you mean \"message_size_limit\"?");
    assert_string_equal(value(cfg, "smtpd_client_restrictions", buf, sizeof buf),
                        "permit_sasl_authenticated|reject");
    config_free(cfg);

    /* referenced from master.cf only; printed with the settings */
    memset(&errs, 0, sizeof errs);
    struct config_postfix_files pf = {
        "submission inet n - y - - smtpd -o smtpd_relay_restrictions=$mua_relay\n",
        "master.cf", NULL, NULL };
    cfg = config_load_postfix_collect("mua_relay = permit_sasl_authenticated, reject\n",
                                      "main.cf", &pf, &errs);
    assert_int_equal(errs.n, 0);
    assert_string_equal(value(cfg, "listen", buf, sizeof buf),
                        "submission://0.0.0.0:587?smtpd_relay_restrictions=$mua_relay|"
                        "submission://[::]:587?smtpd_relay_restrictions=$mua_relay");
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_print_nondefault(cfg, f);
    fclose(f);
    assert_non_null(strstr(out, "mua_relay = permit_sasl_authenticated, reject\n"));
    assert_non_null(strstr(out, "smtpd_relay_restrictions=$$mua_relay "));
    free(out);
    config_free(cfg);

    /* a loop through them is an error, not a hang */
    memset(&errs, 0, sizeof errs);
    cfg = config_load_text_collect("a_x = $b_x\nb_x = $a_x\nmyorigin = $a_x\n", "main.cf",
                                   &errs);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.msg[0], "parameter loop"));
    config_free(cfg);
}

static void test_postfix_every_message_in_line_order(void **state)
{
    (void)state;
    static struct config_errors errs;
    static char notes[8192];
    struct config *cfg = load_notes(
        "biff = no\n"                                  /* 1 */
        "smtpd_milters = inet:localhost:8891\n"         /* 2 */
        "fork_attempts = 5\n"                          /* 3 */
        "smtpd_timeout = lots\n"                       /* 4 */
        "header_checks = regexp:/etc/postfix/hc\n",     /* 5 */
        notes, sizeof notes, &errs);
    assert_int_equal(errs.n, 3);
    assert_int_equal(errs.nnotes, 3);   /* biff, fork_attempts, default_transport */
    config_free(cfg);
    static struct seen_msgs seen;
    seen.n = 0;
    config_messages_each(&errs, "main.cf", collect_msg, collect_msg, &seen);
    assert_int_equal(seen.n, 6);
    assert_string_equal(seen.out[0], "main.cf: default_transport = smtp: Postfix's default "
                                     "(postern's own is capture)");
    for (size_t i = 1; i < seen.n; i++) {
        char want[40];
        snprintf(want, sizeof want, "main.cf:%zu:", i);
        if (strncmp(seen.out[i], want, strlen(want)) != 0)
            fail_msg("message %zu is \"%s\"", i, seen.out[i]);
    }
}

static void test_suggest_name(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        { "mesage_size_limit", "message_size_limit" },
        { "message_size_limits", "message_size_limit" },
        { "myhostnme", "myhostname" },
        { "MYDOMAIN", "mydomain" },
        { "smtpd_timout", "smtpd_timeout" },
        { "lisen", "listen" },
        { "smtpd_hard_eror_limit", "smtpd_hard_error_limit" },
        { "mydestination", "mydestination" },
        { "biff", NULL },
        { "x", NULL },
        { "", NULL },
        { NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = config_suggest_name(cases[i].in);
        if (cases[i].out == NULL ? got != NULL
                                 : (got == NULL || strcmp(got, cases[i].out) != 0))
            fail_msg("suggest(%s) = %s, want %s", cases[i].in ? cases[i].in : "NULL",
                     got ? got : "NULL", cases[i].out ? cases[i].out : "NULL");
    }
}

/* ------------------------------------------------------------------ */
/* expansion                                                            */

static void test_expansion(void **state)
{
    (void)state;
    static const struct {
        const char *text, *name, *want;
    } cases[] = {
        { "myhostname = mx.example.org\nmyorigin = $myhostname\n",
          "myorigin", "mx.example.org" },
        { "myhostname = mx.example.org\nmyorigin = ${myhostname}\n",
          "myorigin", "mx.example.org" },
        { "myhostname = mx.example.org\nmyorigin = $(myhostname)\n",
          "myorigin", "mx.example.org" },
        /* forward reference: used before it is set */
        { "myorigin = $mydomain\nmyhostname = mx.example.org\n",
          "myorigin", "example.org" },
        /* several levels, and text around the references */
        { "mail_owner = <$smtpd_banner>\nsmtpd_banner = ${myorigin}ESMTP $mail_name\n"
          "myorigin = $(mydomain).\nmydomain = d.test\n",
          "mail_owner", "<d.test.ESMTP postern>" },
        /* default values reference file values */
        { "myhostname = h.example.net\n", "smtpd_banner", "h.example.net ESMTP" },
        { "myhostname = h.example.net\n", "mydestination",
          "h.example.net|localhost.example.net|localhost" },
        /* $name ends at the first non-name character */
        { "myhostname = h\nmail_owner = $myhostname-x.$myhostname/$(myhostname)y\n",
          "mail_owner", "h-x.h/hy" },
        /* $$ is a literal $ */
        { "mail_owner = a$$b\n", "mail_owner", "a$b" },
        /* numbers from other parameters */
        { "smtpd_hard_error_limit = $smtpd_soft_error_limit\n",
          "smtpd_hard_error_limit", "2" },
        { "maximal_backoff_time = 1d\nmaximal_queue_lifetime = $maximal_backoff_time\n",
          "maximal_queue_lifetime", "86400" },
        /* lists built from other lists */
        { "mydestination = $mynetworks, 10.0.0.0/8\n", "mydestination",
          "127.0.0.0/8|[::1]/128|10.0.0.0/8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config *cfg = load_ok(cases[i].text);
        assert_value(cfg, cases[i].name, cases[i].want);
        config_free(cfg);
    }
}

static void test_expansion_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want[6];
    } cases[] = {
        { "mail_owner = x\nmyorigin = $nosuch\n",
          { "t.cf:2: ", "myorigin", "unknown parameter $nosuch", NULL } },
        { "myorigin = $myhostnam\n",
          { "t.cf:1: ", "myorigin", "$myhostnam", "did you mean $myhostname?", NULL } },
        { "myorigin = ${myhostname\n",
          { "t.cf:1: ", "myorigin", "missing \"}\"", NULL } },
        { "myorigin = $(myhostname}\n",
          { "t.cf:1: ", "myorigin", "missing \")\"", NULL } },
        { "myorigin = ${myhostname?yes}\n",
          { "t.cf:1: ", "myorigin", "\"${myhostname?...}\" is not supported", NULL } },
        { "myorigin = a $ b\n",
          { "t.cf:1: ", "myorigin", "must be followed by a parameter name", NULL } },
        { "myorigin = trailing$\n",
          { "t.cf:1: ", "myorigin", "must be followed by a parameter name", NULL } },
        /* self reference */
        { "\nmyorigin = $myorigin\n",
          { "t.cf:2: ", "myorigin", "loop: myorigin -> myorigin", NULL } },
        /* two-parameter loop, in either order */
        { "mail_owner = $syslog_name\nsyslog_name = $mail_owner\n",
          { "t.cf:", "loop: ", "mail_owner", "syslog_name", NULL } },
        /* loop through a special default: mydomain derives from myhostname */
        { "\n\nmyhostname = mail.$mydomain\n",
          { "t.cf:3: ", "myhostname", "loop: myhostname -> mydomain -> myhostname",
            NULL } },
        /* long loop */
        { "mail_owner = $syslog_name\nsyslog_name = $queue_directory\n"
          "queue_directory = $capture_directory\ncapture_directory = $mail_owner\n",
          { "t.cf:1: ", "loop: mail_owner -> syslog_name -> queue_directory -> "
            "capture_directory -> mail_owner", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_load_error(cases[i].text, cases[i].want);
}

/* Each level multiplies the length by 16: without a cap this would need
 * gigabytes. */
static void test_expansion_size_cap(void **state)
{
    (void)state;
    static const char *const names[] = { "mail_owner", "syslog_name", "queue_directory",
                                         "capture_directory", "default_transport",
                                         "myorigin" };
    char text[4096];
    size_t used = 0;
    for (size_t i = 0; i + 1 < sizeof names / sizeof names[0]; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used, "%s = ", names[i]);
        for (int k = 0; k < 16; k++)
            used += (size_t)snprintf(text + used, sizeof text - used, "$%s", names[i + 1]);
        used += (size_t)snprintf(text + used, sizeof text - used, "\n");
    }
    snprintf(text + used, sizeof text - used, "myorigin = 0123456789\n");
    static const char *const want[] = { "t.cf:", "longer than", "after expansion", NULL };
    assert_load_error(text, want);
}

/* ------------------------------------------------------------------ */
/* types                                                                */

static void test_type_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *text, *name, *want;
    } cases[] = {
        /* CFG_SIZE: bytes, k/m/g multiply by 1024 */
        { "message_size_limit = 0", "message_size_limit", "0" },
        { "message_size_limit = 1", "message_size_limit", "1" },
        { "message_size_limit = 50000000", "message_size_limit", "50000000" },
        { "message_size_limit = 10k", "message_size_limit", "10240" },
        { "message_size_limit = 10K", "message_size_limit", "10240" },
        { "message_size_limit = 20m", "message_size_limit", "20971520" },
        { "message_size_limit = 2g", "message_size_limit", "2147483648" },
        { "header_size_limit = 1024", "header_size_limit", "1024" },
        /* CFG_TIME: default unit seconds */
        { "smtpd_timeout = 45", "smtpd_timeout", "45" },
        { "smtpd_timeout = 45s", "smtpd_timeout", "45" },
        { "smtpd_timeout = 2m", "smtpd_timeout", "120" },
        { "smtpd_timeout = 1h", "smtpd_timeout", "3600" },
        { "smtpd_timeout = 1H", "smtpd_timeout", "3600" },
        { "maximal_queue_lifetime = 3d", "maximal_queue_lifetime", "259200" },
        { "maximal_queue_lifetime = 2w", "maximal_queue_lifetime", "1209600" },
        { "maximal_queue_lifetime = 0", "maximal_queue_lifetime", "0" },
        { "maximal_queue_lifetime = 100d", "maximal_queue_lifetime", "8640000" },
        { "smtpd_error_sleep_time = 0s", "smtpd_error_sleep_time", "0" },
        { "smtpd_error_sleep_time = 5m", "smtpd_error_sleep_time", "300" },
        /* CFG_INT */
        { "smtpd_recipient_limit = 1", "smtpd_recipient_limit", "1" },
        { "smtpd_recipient_limit = +25", "smtpd_recipient_limit", "25" },
        { "smtpd_recipient_limit = 1000000", "smtpd_recipient_limit", "1000000" },
        { "line_length_limit = 512", "line_length_limit", "512" },
        { "line_length_limit = 1048576", "line_length_limit", "1048576" },
        { "smtpd_client_connection_count_limit = 0",
          "smtpd_client_connection_count_limit", "0" },
        { "smtpd_max_connections = 100000", "smtpd_max_connections", "100000" },
        { "smtpd_hard_error_limit = 1000", "smtpd_hard_error_limit", "1000" },
        /* CFG_BOOL */
        { "always_add_missing_headers = no", "always_add_missing_headers", "0" },
        { "always_add_missing_headers = NO", "always_add_missing_headers", "0" },
        { "always_add_missing_headers = false", "always_add_missing_headers", "0" },
        { "always_add_missing_headers = Off", "always_add_missing_headers", "0" },
        { "always_add_missing_headers = 0", "always_add_missing_headers", "0" },
        { "always_add_missing_headers = yes", "always_add_missing_headers", "1" },
        { "always_add_missing_headers = TRUE", "always_add_missing_headers", "1" },
        { "always_add_missing_headers = on", "always_add_missing_headers", "1" },
        { "always_add_missing_headers = 1", "always_add_missing_headers", "1" },
        /* CFG_LIST: commas and/or whitespace, empty items dropped */
        { "mynetworks = 10.0.0.0/8, 192.168.0.0/16", "mynetworks",
          "10.0.0.0/8|192.168.0.0/16" },
        { "mynetworks = 10.0.0.0/8 192.168.0.0/16", "mynetworks",
          "10.0.0.0/8|192.168.0.0/16" },
        { "mynetworks = ,a,,b , ,\tc  d,", "mynetworks", "a|b|c|d" },
        { "mynetworks = single", "mynetworks", "single" },
        { "mynetworks =", "mynetworks", "" },
        { "mynetworks = , ,", "mynetworks", "" },
        { "listen = smtp://127.0.0.1:2525, smtp://[::1]:25", "listen",
          "smtp://127.0.0.1:2525|smtp://[::1]:25" },
        /* CFG_STR keeps inner spaces and UTF-8 */
        { "smtpd_banner = $mail_name  ESMTP  r\xC3\xA9seau", "smtpd_banner",
          "postern  ESMTP  r\xC3\xA9seau" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config *cfg = load_ok(cases[i].text);
        assert_value(cfg, cases[i].name, cases[i].want);
        config_free(cfg);
    }

    struct config *cfg = load_ok("mynetworks =\n");
    assert_int_equal(cfg->mynetworks.n, 0);
    config_free(cfg);
}

static void test_type_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want[5];
    } cases[] = {
        { "message_size_limit = abc",
          { "t.cf:1: message_size_limit = \"abc\": not a number of bytes "
            "(e.g. 10240000)", NULL } },
        { "\n\nmessage_size_limit = 10 k",
          { "t.cf:3: ", "message_size_limit", "not a number of bytes", NULL } },
        { "message_size_limit = 10kb",
          { "t.cf:1: ", "message_size_limit", "not a number of bytes", NULL } },
        { "message_size_limit = 10t",
          { "t.cf:1: ", "message_size_limit", "not a number of bytes", NULL } },
        { "message_size_limit = -1",
          { "t.cf:1: ", "message_size_limit", "must be at least 0", NULL } },
        { "message_size_limit = 99999999999999999999",
          { "t.cf:1: ", "message_size_limit", "must be at least 0", NULL } },
        { "message_size_limit = 9000000000g",
          { "t.cf:1: ", "message_size_limit", "must be at least 0", NULL } },
        { "message_size_limit =",
          { "t.cf:1: ", "message_size_limit", "not a number of bytes", NULL } },
        { "header_size_limit = 1023",
          { "t.cf:1: ", "header_size_limit", "must be at least 1024 bytes", NULL } },
        { "smtpd_timeout = 5x",
          { "t.cf:1: smtpd_timeout = \"5x\": not a time (e.g. 300s", NULL } },
        { "smtpd_timeout = 5 m",
          { "t.cf:1: ", "smtpd_timeout", "not a time", NULL } },
        { "smtpd_timeout = m",
          { "t.cf:1: ", "smtpd_timeout", "not a time", NULL } },
        { "smtpd_timeout = 0",
          { "t.cf:1: smtpd_timeout = \"0\": must be between 1s and 1h", NULL } },
        { "smtpd_timeout = 61m",
          { "t.cf:1: ", "smtpd_timeout", "must be between 1s and 1h", NULL } },
        { "smtpd_error_sleep_time = 301",
          { "t.cf:1: ", "smtpd_error_sleep_time", "must be between 0s and 5m", NULL } },
        { "maximal_queue_lifetime = -1s",
          { "t.cf:1: ", "maximal_queue_lifetime", "must be between 0s and 100d", NULL } },
        { "maximal_queue_lifetime = 101d",
          { "t.cf:1: ", "maximal_queue_lifetime", "must be between 0s and 100d", NULL } },
        { "smtpd_recipient_limit = 0",
          { "t.cf:1: smtpd_recipient_limit = \"0\": must be between 1 and 1000000",
            NULL } },
        { "smtpd_recipient_limit = 1000001",
          { "t.cf:1: ", "smtpd_recipient_limit", "between 1 and 1000000", NULL } },
        { "smtpd_recipient_limit = 10k",
          { "t.cf:1: ", "smtpd_recipient_limit", "not a number (e.g. 1000)", NULL } },
        { "smtpd_recipient_limit = 1.5",
          { "t.cf:1: ", "smtpd_recipient_limit", "not a number", NULL } },
        { "line_length_limit = 511",
          { "t.cf:1: ", "line_length_limit", "between 512 and 1048576", NULL } },
        { "smtpd_hard_error_limit = 0",
          { "t.cf:1: ", "smtpd_hard_error_limit", "between 1 and 1000", NULL } },
        { "smtpd_max_connections = 100001",
          { "t.cf:1: ", "smtpd_max_connections", "between 1 and 100000", NULL } },
        { "smtpd_client_connection_count_limit = -1",
          { "t.cf:1: ", "smtpd_client_connection_count_limit", "between 0 and", NULL } },
        { "smtpd_upstream_proxy_protocol = nginx",
          { "t.cf:1: ", "smtpd_upstream_proxy_protocol", "use haproxy", NULL } },
        { "smtpd_upstream_proxy_timeout = 2h",
          { "t.cf:1: ", "smtpd_upstream_proxy_timeout", "between 1s and 1h", NULL } },
        { "always_add_missing_headers = maybe",
          { "t.cf:1: always_add_missing_headers = \"maybe\": not a boolean "
            "(use yes or no)", NULL } },
        { "always_add_missing_headers = yess",
          { "t.cf:1: ", "always_add_missing_headers", "not a boolean", NULL } },
        /* after expansion: located where the parameter was set, showing both */
        { "mail_owner = x\nsmtpd_timeout = $message_size_limit\n",
          { "t.cf:2: smtpd_timeout = \"$message_size_limit\" (expands to "
            "\"10240000\"): must be between 1s and 1h", NULL } },
        { "smtpd_timeout = $mail_owner\n",
          { "t.cf:1: ", "smtpd_timeout", "(expands to \"postern\")", "not a time",
            NULL } },
        /* between parameters */
        { "minimal_backoff_time = 2h\n",
          { "t.cf:1: ", "minimal_backoff_time (2h) must not exceed "
            "maximal_backoff_time (4000s)", NULL } },
        /* 0 or from 2: a range cannot say it */
        { "mail_owner = x\nsmtp_line_length_limit = 1\n",
          { "t.cf:2: smtp_line_length_limit = \"1\": must be 0 (no limit) or at "
            "least 2 (998 is the RFC 5322 limit)", NULL } },
        { "smtp_line_length_limit = -1",
          { "t.cf:1: ", "smtp_line_length_limit", "between 0 and 1048576", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_load_error(cases[i].text, cases[i].want);
}

/* ------------------------------------------------------------------ */
/* identity defaults                                                    */

/* The ms unit: only for the times with a millisecond value (the queue's
 * and the SMTP client's timers); their field keeps whole seconds, rounded
 * up, and every value without ms means what it meant. */
static void test_time_milliseconds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t ms_off;
        const char *name, *sec;
        long long ms;
    } ok[] = {
        { "queue_run_delay = 200ms", offsetof(struct config, ms.queue_run_delay),
          "queue_run_delay", "1", 200 },
        { "queue_run_delay = 300", offsetof(struct config, ms.queue_run_delay),
          "queue_run_delay", "300", 300000 },
        { "minimal_backoff_time = 500MS", offsetof(struct config, ms.minimal_backoff_time),
          "minimal_backoff_time", "1", 500 },
        { "minimal_backoff_time = 1ms\nmaximal_backoff_time = 1ms",
          offsetof(struct config, ms.maximal_backoff_time),
          "maximal_backoff_time", "1", 1 },
        { "smtp_connect_timeout = 300ms", offsetof(struct config, ms.smtp_connect_timeout),
          "smtp_connect_timeout", "1", 300 },
        { "smtp_connect_timeout = 2m", offsetof(struct config, ms.smtp_connect_timeout),
          "smtp_connect_timeout", "120", 120000 },
        { "smtp_connection_cache_time_limit = 2500ms",
          offsetof(struct config, ms.smtp_connection_cache_time_limit),
          "smtp_connection_cache_time_limit", "3", 2500 },
        { "maximal_queue_lifetime = 0ms", offsetof(struct config, ms.maximal_queue_lifetime),
          "maximal_queue_lifetime", "0", 0 },
        { "maximal_queue_lifetime = 1d", offsetof(struct config, ms.maximal_queue_lifetime),
          "maximal_queue_lifetime", "86400", 86400000 },
        { "delay_warning_time = 1500ms", offsetof(struct config, ms.delay_warning_time),
          "delay_warning_time", "2", 1500 },
        { "bounce_queue_lifetime = 5d", offsetof(struct config, ms.bounce_queue_lifetime),
          "bounce_queue_lifetime", "432000", 432000000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct config *cfg = load_ok(ok[i].text);
        assert_value(cfg, ok[i].name, ok[i].sec);
        assert_int_equal(param(ok[i].name)->ms_offset, ok[i].ms_off);
        long long got = *(const long long *)(const void *)((const char *)cfg + ok[i].ms_off);
        if (got != ok[i].ms)
            fail_msg("%s: %lld ms, want %lld", ok[i].text, got, ok[i].ms);
        config_free(cfg);
    }
    /* the defaults: every millisecond value is its seconds' */
    struct config *cfg = load_ok("");
    for (const struct cfg_param *p = config_params; p->name; p++) {
        if (p->type != CFG_TIME || !p->ms_offset)
            continue;
        long long sec = *(const long long *)(const void *)((const char *)cfg + p->offset);
        long long ms = *(const long long *)(const void *)((const char *)cfg + p->ms_offset);
        if (ms != sec * 1000)
            fail_msg("%s: %lld ms for %lld s", p->name, ms, sec);
    }
    config_free(cfg);

    static const struct { const char *text; const char *const want[4]; } bad[] = {
        /* the server's times have no millisecond value */
        { "smtpd_timeout = 300ms",
          { "t.cf:1: smtpd_timeout = \"300ms\": not a time (e.g. 300s; units s m h d w, "
            "default s)", NULL } },
        { "smtpd_error_sleep_time = 5ms",
          { "t.cf:1: ", "smtpd_error_sleep_time", "not a time", NULL } },
        { "queue_run_delay = 5x",
          { "t.cf:1: queue_run_delay = \"5x\": not a time (e.g. 300s; units ms s m h d w, "
            "default s)", NULL } },
        { "queue_run_delay = 5msec",
          { "t.cf:1: ", "queue_run_delay", "not a time", NULL } },
        { "queue_run_delay = 0ms",
          { "t.cf:1: queue_run_delay = \"0ms\": must be between 1ms and 100d", NULL } },
        { "smtp_connect_timeout = 3600001ms",
          { "t.cf:1: ", "smtp_connect_timeout", "must be between 1ms and 1h", NULL } },
        { "minimal_backoff_time = 1500ms\nmaximal_backoff_time = 1s\n",
          { "t.cf:2: ", "minimal_backoff_time (1500ms) must not exceed "
            "maximal_backoff_time (1s)", NULL } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_load_error(bad[i].text, bad[i].want);

    /* postern check -a shows what was meant */
    cfg = load_ok("queue_run_delay = 200ms\nsmtp_connect_timeout = 1500ms\n"
                  "minimal_backoff_time = 120000ms\n");
    char *out = print_to_string(config_print_all, cfg);
    assert_contains(out, "\nqueue_run_delay = 200ms\n");
    assert_contains(out, "\nsmtp_connect_timeout = 1500ms\n");
    assert_contains(out, "\nminimal_backoff_time = 2m\n");
    assert_contains(out, "\nsmtp_helo_timeout = 5m\n");
    free(out);
    config_free(cfg);
}

static void test_hostname_and_domain(void **state)
{
    (void)state;
    struct config *cfg = load_ok("myhostname = mail.example.com\n");
    assert_string_equal(cfg->myhostname, "mail.example.com");
    assert_string_equal(cfg->mydomain, "example.com");
    assert_string_equal(cfg->myorigin, "mail.example.com");
    assert_string_equal(cfg->smtpd_banner, "mail.example.com ESMTP");
    assert_value(cfg, "mydestination",
                 "mail.example.com|localhost.example.com|localhost");
    config_free(cfg);

    /* no dot: mydomain is "localdomain" */
    cfg = load_ok("myhostname = gateway\n");
    assert_string_equal(cfg->mydomain, "localdomain");
    assert_value(cfg, "mydestination", "gateway|localhost.localdomain|localhost");
    config_free(cfg);

    /* trailing dot only: no domain part either */
    cfg = load_ok("myhostname = gateway.\n");
    assert_string_equal(cfg->mydomain, "localdomain");
    config_free(cfg);

    /* explicit mydomain wins over the derivation */
    cfg = load_ok("mydomain = corp.test\nmyhostname = a.b.example\n"
                  "myorigin = $mydomain\n");
    assert_string_equal(cfg->mydomain, "corp.test");
    assert_string_equal(cfg->myorigin, "corp.test");
    config_free(cfg);

    /* an empty myhostname means the default (the system hostname) */
    char host[256];
    system_hostname(host, sizeof host);
    cfg = load_ok("myhostname =\n");
    assert_string_equal(cfg->myhostname, host);
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* printing                                                             */

static void test_print_nondefault(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "# postern.cf\n"
        "smtpd_timeout = 60s\n"
        "myhostname = mx.example.com\n"
        "mail_owner = postern\n"                  /* equals the default */
        "mydestination = $myhostname,\n"
        "   example.com\n"
        "message_size_limit = 10m\n"
        "message_size_limit = 20m\n"              /* later wins */
        "myorigin = $mydomain\n"
        "listen = smtp://127.0.0.1:2525\n");      /* equals the default */
    char *out = print_to_string(config_print_nondefault, cfg);
    /* table order, raw values before expansion */
    assert_string_equal(out,
                        "myhostname = mx.example.com\n"
                        "myorigin = $mydomain\n"
                        "mydestination = $myhostname, example.com\n"
                        "message_size_limit = 20m\n"
                        "smtpd_timeout = 60s\n");
    free(out);
    config_free(cfg);

    cfg = load_ok("");
    out = print_to_string(config_print_nondefault, cfg);
    assert_string_equal(out, "");
    free(out);
    config_free(cfg);
}

static void test_print_all(void **state)
{
    (void)state;
    struct config *cfg = load_ok(
        "myhostname = mx.example.com\n"
        "mynetworks = 10.0.0.0/8 192.168.1.0/24\n"
        "smtpd_timeout = 120\n"
        "maximal_queue_lifetime = 36h\n"
        "always_add_missing_headers = off\n"
        "message_size_limit = 1k\n");
    char *out = print_to_string(config_print_all, cfg);
    static const char *const lines[] = {
        "myhostname = mx.example.com\n",
        "mydomain = example.com\n",
        "myorigin = mx.example.com\n",
        "mydestination = mx.example.com, localhost.example.com, localhost\n",
        "smtpd_banner = mx.example.com ESMTP\n",
        "syslog_name =\n",
        "mynetworks = 10.0.0.0/8, 192.168.1.0/24\n",
        "smtpd_timeout = 2m\n",
        "maximal_queue_lifetime = 36h\n",
        "maximal_backoff_time = 4000s\n",
        "always_add_missing_headers = no\n",
        "message_size_limit = 1024\n",
        "smtpd_max_connections = 1000\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        assert_contains(out, lines[i]);
    /* one line per parameter, in table order */
    size_t n = 0;
    for (const char *p = out; *p; p++)
        n += *p == '\n';
    assert_int_equal(n, 138);
    assert_true(strncmp(out, "myhostname = ", 13) == 0);

    /* the printed values load back to the same configuration */
    struct config *again = load_ok(out);
    char *out2 = print_to_string(config_print_all, again);
    assert_string_equal(out, out2);
    free(out2);
    config_free(again);
    free(out);
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* files                                                                */

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/postern-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] =
        "# test file\n"
        "myhostname = relay.example.org\n"
        "smtpd_banner = $myhostname ESMTP Gr\xC3\xBC\xC3\x9F" "e\n"
        "smtpd_recipient_limit = 50\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);

    char err[ERRLEN];
    struct config *cfg = config_load(path, err, sizeof err);
    if (!cfg)
        fail_msg("config_load: %s", err);
    assert_string_equal(cfg->myhostname, "relay.example.org");
    assert_string_equal(cfg->smtpd_banner, "relay.example.org ESMTP Gr\xC3\xBC\xC3\x9F" "e");
    assert_int_equal(cfg->smtpd_recipient_limit, 50);
    assert_string_equal(cfg->file, path);
    config_free(cfg);

    /* errors name the real file */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("myhostname = x\nsmtpd_recipient_limit = lots\n", f);
    fclose(f);
    assert_null(config_load(path, err, sizeof err));
    char want[256];
    snprintf(want, sizeof want, "%s:2: smtpd_recipient_limit = \"lots\": not a number",
             path);
    assert_contains(err, want);

    /* NUL bytes: not a text file */
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite("mail_owner = a\n\0x\n", 1, 18, f);
    fclose(f);
    assert_null(config_load(path, err, sizeof err));
    assert_contains(err, path);
    assert_contains(err, ":2: NUL byte");

    /* an empty file is all defaults */
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    cfg = config_load(path, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->message_size_limit, 10240000);
    config_free(cfg);

    unlink(path);

    /* missing file */
    assert_null(config_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);

    /* a directory */
    assert_null(config_load("/tmp", err, sizeof err));
    assert_contains(err, "/tmp: cannot read: ");
}

static void test_error_buffer_edge_cases(void **state)
{
    (void)state;
    char small[16];
    /* truncated, but NUL-terminated and no overflow (ASan would tell) */
    assert_null(config_load_text("mesage_size_limit = 1\n", "a-rather-long-file-name.cf",
                                 small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_null(config_load_text("bogus\n", "x", NULL, 0));
    /* control characters in quoted user text are neutralised */
    char err[ERRLEN];
    assert_null(load("na\x01me\x1b[31m = 1\n", err));
    assert_null(strchr(err, '\x1b'));
    assert_contains(err, "\"na?me?[31m\"");
    /* NULL text and name */
    struct config *cfg = config_load_text(NULL, NULL, err, sizeof err);
    assert_non_null(cfg);
    config_free(cfg);
    config_free(NULL);
}

/* ------------------------------------------------------------------ */
/* every error in one run                                               */

struct said {
    size_t n;
    char msg[CONFIG_MAX_ERRORS + 1][CONFIG_ERROR_MAX];
};

static void say(void *arg, const char *msg)
{
    struct said *s = arg;
    if (s->n < CONFIG_MAX_ERRORS + 1)
        snprintf(s->msg[s->n], sizeof s->msg[0], "%s", msg);
    s->n++;
}

/* Load text collecting errors; every message must match want[k] (a
 * substring) in order, and there must be exactly as many. */
static void assert_collected(const char *text, const char *const *want, size_t nwant)
{
    struct config_errors errs = { 0 };
    struct config *cfg = config_load_text_collect(text, "t.cf", &errs);
    assert_non_null(cfg);             /* errors do not lose the rest */
    struct said s = { 0 };
    config_errors_each(&errs, say, &s);
    for (size_t k = 0; k < s.n && k < nwant; k++)
        if (!strstr(s.msg[k], want[k]))
            fail_msg("error %zu: \"%s\" does not contain \"%s\"", k, s.msg[k], want[k]);
    if (s.n != nwant) {
        for (size_t k = 0; k < s.n && k <= CONFIG_MAX_ERRORS; k++)
            print_message("  %s\n", s.msg[k]);
        fail_msg("%zu errors, want %zu", s.n, nwant);
    }
    assert_int_equal(errs.n, nwant);
    config_free(cfg);
}

static void test_every_error_reported(void **state)
{
    (void)state;
    /* one of each kind: syntax, unknown name, type, range, reference,
     * relation, value set; good lines in between still load; reported in
     * the order of the lines */
    static const char text[] =
        "mesage_size_limit = 5\n"                       /* 1 */
        "myhostname = mx.example.com\n"
        "relay_domains\n"                               /* 3 */
        "smtpd_timeout = lots\n"                        /* 4 */
        "smtpd_recipient_limit = 0\n"                   /* 5 */
        "myorigin = $nosuch\n"                          /* 6 */
        "minimal_backoff_time = 2h\n"
        "maximal_backoff_time = 1h\n"                   /* 8 */
        "default_transport = pigeon\n"                  /* 9 */
        "smtp_tls_security_level = maybe\n"             /* 10 */
        "sender_canonical_classes = envelope_sender, body\n"   /* 11 */
        "smtp_sasl_security_options = noanonymous, bogus\n";   /* 12 */
    static const char *const want[] = {
        "t.cf:1: unknown parameter \"mesage_size_limit\"; did you mean",
        "t.cf:3: missing \"=\" in \"relay_domains\"",
        "t.cf:4: smtpd_timeout = \"lots\": not a time",
        "t.cf:5: smtpd_recipient_limit = \"0\": must be between 1 and 1000000",
        "t.cf:6: myorigin = \"$nosuch\": unknown parameter $nosuch",
        "t.cf:8: maximal_backoff_time = \"1h\": minimal_backoff_time (2h) must not exceed",
        "t.cf:9: default_transport = pigeon: unknown transport (use capture or smtp)",
        "t.cf:10: smtp_tls_security_level = maybe: use none, may, encrypt, verify or secure",
        "t.cf:11: sender_canonical_classes: unknown class \"body\" (use envelope_sender, "
        "header_sender)",
        "t.cf:12: smtp_sasl_security_options: unknown option \"bogus\"; use noanonymous",
    };
    assert_collected(text, want, sizeof want / sizeof want[0]);

    /* the strict form gives the first one and says there are more */
    char err[ERRLEN];
    assert_null(load(text, err));
    assert_contains(err, "t.cf:1: unknown parameter \"mesage_size_limit\"");
    assert_contains(err, "(and 9 more errors: \"postern check\" lists them)");
    assert_null(load("relay_domains\n", err));
    assert_string_equal(err, "t.cf:1: missing \"=\" in \"relay_domains\"; "
                        "expected \"name = value\"");
}

static void test_error_reported_once(void **state)
{
    (void)state;
    /* a loop is one error, not one per member; what refers to a parameter
     * in error is not reported again, nor checked against its value set */
    static const char *const loop[] = { "t.cf:1: myhostname = \"$mydomain\": "
                                        "parameter loop: " };
    assert_collected("myhostname = $mydomain\nmydomain = $myhostname\n"
                     "myorigin = $mydomain\nsmtp_helo_name = $myorigin\n", loop, 1);
    static const char *const ref[] = { "t.cf:2: default_transport = \"$nosuch\": "
                                       "unknown parameter $nosuch" };
    assert_collected("mail_owner = x\ndefault_transport = $nosuch\n"
                     "local_transport = $default_transport\n", ref, 1);
    /* whitespace lines at the top of the file: one error for the block */
    static const char *const stray[] = { "t.cf:2: line starts with whitespace",
                                         "t.cf:5: unknown parameter \"bogus\"" };
    assert_collected("# c\n  a\n  b\n\tc\nbogus = 1\n", stray, 2);
    /* both backoff times in error: no relation error on top */
    static const char *const both[] = { "t.cf:1: minimal_backoff_time", "t.cf:2: "
                                        "maximal_backoff_time" };
    assert_collected("minimal_backoff_time = x\nmaximal_backoff_time = y\n", both, 2);
}

static void test_parameters_in_error_are_empty(void **state)
{
    (void)state;
    struct config_errors errs = { 0 };
    struct config *cfg = config_load_text_collect(
        "sender_canonical_maps = $nosuch\ntransport_maps = ${x\n"
        "mynetworks = $nosuch\nmessage_size_limit = big\nrelayhost = [r.test]:25\n",
        "t.cf", &errs);
    assert_non_null(cfg);
    assert_int_equal(errs.n, 4);
    assert_string_equal(cfg->sender_canonical_maps, "");
    assert_string_equal(cfg->transport_maps, "");
    assert_int_equal(cfg->mynetworks.n, 0);
    assert_int_equal(cfg->message_size_limit, 0);
    assert_string_equal(cfg->relayhost, "[r.test]:25");    /* the rest loaded */
    config_free(cfg);
}

static void test_error_cap(void **state)
{
    (void)state;
    /* a wrong file: an error on every line, only the first ones shown */
    size_t lines = CONFIG_MAX_ERRORS + 30;
    char *text = malloc(lines * 16);
    assert_non_null(text);
    char *p = text;
    for (size_t i = 0; i < lines; i++)
        p += sprintf(p, "garbage %zu\n", i);
    struct config_errors errs = { 0 };
    struct config *cfg = config_load_text_collect(text, "t.cf", &errs);
    free(text);
    assert_non_null(cfg);
    config_free(cfg);
    assert_int_equal(errs.n, lines);
    struct said s = { 0 };
    config_errors_each(&errs, say, &s);
    assert_int_equal(s.n, CONFIG_MAX_ERRORS + 1);
    assert_contains(s.msg[0], "t.cf:1: missing \"=\"");
    assert_contains(s.msg[CONFIG_MAX_ERRORS - 1], "t.cf:20: missing \"=\"");
    char want[128];
    snprintf(want, sizeof want, "too many errors (%zu, the first %d shown); is it the "
             "right file?", lines, CONFIG_MAX_ERRORS);
    assert_string_equal(s.msg[CONFIG_MAX_ERRORS], want);

    /* the caller's own errors join the list and the cap */
    struct config_errors e2 = { 0 };
    for (int i = 0; i < CONFIG_MAX_ERRORS + 2; i++)
        config_errors_add(&e2, "error %d", i);
    assert_int_equal(e2.n, CONFIG_MAX_ERRORS + 2);
    assert_string_equal(e2.msg[CONFIG_MAX_ERRORS - 1], "error 19");
}

static void test_param_where(void **state)
{
    (void)state;
    struct config *cfg = load_ok("\nmynetworks = 10.0.0.0/8\n");
    char buf[64];
    assert_string_equal(config_param_where(cfg, "mynetworks", buf, sizeof buf), "t.cf:2");
    assert_string_equal(config_param_where(cfg, "relayhost", buf, sizeof buf), "t.cf");
    assert_string_equal(config_param_where(cfg, "nosuch", buf, sizeof buf), "t.cf");
    config_free(cfg);
    /* valid value sets load */
    cfg = load_ok("default_transport = smtp\nsmtp_tls_security_level = secure\n"
                  "sender_canonical_classes = header_sender\n"
                  "smtp_sasl_security_options = NoPlainText, noanonymous\n");
    config_free(cfg);
}

/* The SMTP server's SASL settings: the backend type and the security
 * options come from fixed sets, checked at load with a fix in the message
 * (Postfix's own type, cyrus, gets its own). */
static void test_sasl_server_values(void **state)
{
    (void)state;
    struct config *cfg = load_ok("");
    assert_int_equal(cfg->smtpd_sasl_auth_enable, 0);
    assert_string_equal(cfg->smtpd_sasl_type, "postern");
    assert_string_equal(cfg->smtpd_sasl_path, "");
    assert_string_equal(cfg->smtpd_sasl_users, "/etc/postern/users");
    assert_int_equal(cfg->smtpd_sasl_security_options.n, 1);
    assert_string_equal(cfg->smtpd_sasl_security_options.v[0], "noanonymous");
    assert_int_equal(cfg->broken_sasl_auth_clients, 0);
    assert_int_equal(cfg->smtpd_sasl_authenticated_header, 0);
    config_free(cfg);
    static const char *const types[] = { "postern", "saslauthd", "dovecot" };
    for (size_t i = 0; i < 3; i++) {
        char text[128];
        snprintf(text, sizeof text, "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = %s\n"
                 "smtpd_sasl_path = private/auth\n", types[i]);
        cfg = load_ok(text);
        assert_string_equal(cfg->smtpd_sasl_type, types[i]);
        config_free(cfg);
    }
    static const char text[] =
        "smtpd_sasl_type = cyrus\n"                                 /* 1 */
        "smtp_sasl_security_options = noanonymous\n"
        "smtpd_sasl_security_options = noanonymous, forward_secrety\n" /* 3 */
        "smtpd_sasl_auth_enable = yes\n";
    static const char *const want[] = {
        "t.cf:1: smtpd_sasl_type = cyrus: postern has no Cyrus library; it talks to "
        "saslauthd itself: use smtpd_sasl_type = saslauthd",
        "t.cf:3: smtpd_sasl_security_options: unknown option \"forward_secrety\"; use "
        "noanonymous, noplaintext",
    };
    assert_collected(text, want, 2);
    static const char *const want2[] = {
        "t.cf:1: smtpd_sasl_type = Dovecot: unknown type; use postern (users file), "
        "saslauthd or dovecot",
    };
    assert_collected("smtpd_sasl_type = Dovecot\n", want2, 1);
}

/* ------------------------------------------------------------------ */
/* documentation                                                        */

static void test_docs_list_every_parameter(void **state)
{
    (void)state;
    static const char *const paths[] = { "docs/config.md", "../docs/config.md",
                                         "../../docs/config.md" };
    FILE *f = NULL;
    for (size_t i = 0; !f && i < sizeof paths / sizeof paths[0]; i++)
        f = fopen(paths[i], "r");
    if (!f) {
        skip();
        return;
    }
    char *doc = NULL;
    size_t len = 0;
    ssize_t n = getdelim(&doc, &len, '\0', f);
    fclose(f);
    assert_true(n > 0);
    for (const struct cfg_param *p = config_params; p->name; p++) {
        char row[128];
        snprintf(row, sizeof row, "| `%s` |", p->name);
        if (!strstr(doc, row))
            fail_msg("docs/config.md has no row for %s", p->name);
        if (*p->def) {
            snprintf(row, sizeof row, "| `%s` | `%s` |", p->name, p->def);
            if (!strstr(doc, row))
                fail_msg("docs/config.md: default of %s is not `%s`", p->name, p->def);
        }
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_table_covers_every_field),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_text),
        cmocka_unit_test(test_comments_and_blank_lines),
        cmocka_unit_test(test_whitespace_and_crlf),
        cmocka_unit_test(test_continuation_lines),
        cmocka_unit_test(test_later_assignment_wins),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_suggest_name),
        cmocka_unit_test(test_postfix_hints_never_shadow_parameters),
        cmocka_unit_test(test_postfix_ignored_and_mapped),
        cmocka_unit_test(test_postfix_every_message_in_line_order),
        cmocka_unit_test(test_postfix_master_cf_listeners),
        cmocka_unit_test(test_postfix_sasl),
        cmocka_unit_test(test_user_defined_parameters),
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_expansion_errors),
        cmocka_unit_test(test_expansion_size_cap),
        cmocka_unit_test(test_type_parsing),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_time_milliseconds),
        cmocka_unit_test(test_hostname_and_domain),
        cmocka_unit_test(test_print_nondefault),
        cmocka_unit_test(test_print_all),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_error_buffer_edge_cases),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_error_reported_once),
        cmocka_unit_test(test_parameters_in_error_are_empty),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_param_where),
        cmocka_unit_test(test_sasl_server_values),
        cmocka_unit_test(test_docs_list_every_parameter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the log escaping rule: log_sanitize (free text) and
 * log_addr (from=<>/to=<>/orig_to=<>/helo=<> fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

static void test_sanitize(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } v[] = {
        { "plain text: 250 ok", 18, "plain text: 250 ok" },
        { "a\x1b[31mb", 7, "a\\x1b[31mb" },            /* ESC */
        { "\x9b" "31m", 4, "\\x9b31m" },                 /* C1 CSI */
        { "caf\xc3\xa9", 5, "caf\\xc3\\xa9" },           /* 8-bit (UTF-8) */
        { "\x7f\x01\r\n\t", 5, "\\x7f\\x01\\x0d\\x0a\\x09" },
        { "a\0b", 3, "a\\x00b" },                        /* NUL inside */
        { "back\\x1b", 8, "back\\x5cx1b" },              /* reversible */
        { "<a>, b=c", 8, "<a>, b=c" },                   /* free text: kept */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[64];
        assert_string_equal(log_sanitize(v[i].in, v[i].len, out, sizeof out), v[i].out);
    }
}

static void test_sanitize_truncates(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(log_sanitize("abcdefg", 7, out, sizeof out), "abcdefg");
    assert_string_equal(log_sanitize("abcdefgh", 8, out, sizeof out), "abcd...");
    /* never half an escape */
    assert_string_equal(log_sanitize("a\x01\x02\x03", 4, out, sizeof out), "a...");
    assert_string_equal(log_sanitize("\x01\x02", 2, out, sizeof out), "\\x01...");
    char tiny[3];
    assert_string_equal(log_sanitize("abcdef", 6, tiny, sizeof tiny), "..");
    char one[1];
    assert_string_equal(log_sanitize("abc", 3, one, sizeof one), "");
}

/* A log line "to=<X>, relay=capture, status=sent": the field value must
 * hold nothing a Postfix log parser takes for a delimiter. */
static void assert_field_safe(const char *v)
{
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        assert_true(c > 0x20 && c < 0x7f);
        assert_true(c != '<' && c != '>' && c != ',');
    }
}

static void test_addr(void **state)
{
    (void)state;
    char out[LOG_ADDR_SIZE];
    assert_string_equal(log_addr("a@b.example", out, sizeof out), "a@b.example");
    assert_string_equal(log_addr("", out, sizeof out), "");
    assert_string_equal(log_addr(NULL, out, sizeof out), "");
    /* '=' is common in SRS/BATV/VERP addresses and is left alone: without
     * a ", " or a space before it, it cannot start a field */
    assert_string_equal(log_addr("SRS0=ab=cd=x.example=u@y.example", out, sizeof out),
                        "SRS0=ab=cd=x.example=u@y.example");
    const char *forged = "\"a>, status=sent, x\"@postern.test";
    assert_string_equal(log_addr(forged, out, sizeof out),
                        "\"a\\x3e\\x2c\\x20status=sent\\x2c\\x20x\"@postern.test");
    assert_field_safe(out);
    assert_string_equal(log_addr("\"<x> y\\\"z\"@d", out, sizeof out),
                        "\"\\x3cx\\x3e\\x20y\\x5c\"z\"@d");
    assert_field_safe(out);
    assert_string_equal(log_addr("\xe5\xbc\xa0@d", out, sizeof out), "\\xe5\\xbc\\xa0@d");
    /* the longest legal path (254 bytes), every byte escaped, still fits */
    char big[255];
    memset(big, '>', 254);
    big[254] = '\0';
    log_addr(big, out, sizeof out);
    assert_int_equal(strlen(out), 254 * 4);
    assert_null(strstr(out, "..."));
    assert_field_safe(out);
}

/* The lines written to stderr by log_warning/log_info after log_init with
 * JOURNAL_STREAM set to journal (NULL: unset), in buf. */
static void log_to_file(const char *journal_of, char *buf, size_t len)
{
    char path[] = "/tmp/postern-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    char js[64];
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (journal_of && strcmp(journal_of, "stderr") == 0)
        snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
    else if (journal_of)
        snprintf(js, sizeof js, "%s", journal_of);
    if (journal_of)
        setenv("JOURNAL_STREAM", js, 1);
    else
        unsetenv("JOURNAL_STREAM");
    log_init("postern", NULL, 0);
    log_warning("disk %d%% full", 91);
    log_info("daemon started");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    unsetenv("JOURNAL_STREAM");
    log_init("postern", NULL, 0);
    ssize_t n = pread(fd, buf, len - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    unlink(path);
}

/* Under systemd (stderr is the journal stream): no time stamp or name of
 * our own, the syslog priority as "<N>" for journald; elsewhere the usual
 * "Mon DD HH:MM:SS postern[pid]: " lines. */
static void test_journal_stream(void **state)
{
    (void)state;
    char buf[512];
    log_to_file("stderr", buf, sizeof buf);
    assert_string_equal(buf, "<4>warning: disk 91% full\n<6>daemon started\n");
    /* the variable of a stream that is not our stderr: plain lines */
    log_to_file("1:2", buf, sizeof buf);
    assert_non_null(strstr(buf, " postern["));
    assert_non_null(strstr(buf, "]: warning: disk 91% full\n"));
    log_to_file(NULL, buf, sizeof buf);
    assert_non_null(strstr(buf, "]: daemon started\n"));
    assert_null(strchr(buf, '<'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_sanitize_truncates),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_journal_stream),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

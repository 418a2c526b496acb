/* Unit tests for policy/maps: texthash/hash, regexp, pcre tables written to
 * a mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/maps.h"

static char g_dir[64];

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/postern-maps-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write text to g_dir/name with mode; returns the path (static buffer). */
static const char *put(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static struct map *open_map(const char *type, const char *name,
                            const char *text, int flags, char *err, size_t errlen)
{
    const char *path = put(name, text, 0600);
    char spec[300];
    snprintf(spec, sizeof spec, "%s:%s", type, path);
    return map_open(spec, flags, err, errlen);
}

struct kv {
    const char *key;
    const char *want;   /* NULL: not found */
};

static void check_lookups(const struct map *m, const struct kv *v, size_t n,
                          int address)
{
    for (size_t i = 0; i < n; i++) {
        char *got = address ? map_lookup_address(m, v[i].key)
                            : map_lookup(m, v[i].key);
        if (!v[i].want) {
            if (got)
                fail_msg("key \"%s\": want not found, got \"%s\"", v[i].key, got);
        } else {
            if (!got)
                fail_msg("key \"%s\": want \"%s\", got not found", v[i].key,
                         v[i].want);
            if (strcmp(got, v[i].want) != 0)
                fail_msg("key \"%s\": want \"%s\", got \"%s\"", v[i].key,
                         v[i].want, got);
        }
        free(got);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_contains(const char *s, const char *sub)
{
    if (!strstr(s, sub))
        fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

/* ---- texthash / hash ---------------------------------------------------- */

static void test_texthash(void **state)
{
    (void)state;
    char err[512] = "";
    static const char text[] =
        "# sasl_passwd\n"
        "\n"
        "[smtp.163.com]:465   acct@163.com:s3cret\n"
        "   # indented comment\n"
        "Alice@Example.COM\talice@163.com  \r\n"
        "multi first\n"
        "   second\n"
        "\tthird\n"
        "dup one\n"
        "DUP two\n"
        "@example.org  catchall@163.com\n"
        "bob bob-result\n";
    static const struct kv v[] = {
        { "[smtp.163.com]:465", "acct@163.com:s3cret" },
        { "[SMTP.163.com]:465", "acct@163.com:s3cret" },
        { "alice@example.com", "alice@163.com" },
        { "ALICE@EXAMPLE.COM", "alice@163.com" },
        { "multi", "first second third" },
        { "dup", "one" },                   /* first wins, like postmap */
        { "@example.org", "catchall@163.com" },
        { "missing", NULL },
        { "", NULL },
        { "# sasl_passwd", NULL },
        { "alice", NULL },
    };
    for (int t = 0; t < 2; t++) {
        struct map *m = open_map(t ? "hash" : "texthash", "th", text, 0, err,
                                 sizeof err);
        if (!m)
            fail_msg("%s", err);
        check_lookups(m, v, N(v), 0);
        assert_non_null(strstr(map_spec(m), t ? "hash:/" : "texthash:/"));
        map_free(m);
    }
}

static void test_texthash_address(void **state)
{
    (void)state;
    char err[512] = "";
    struct map *m = open_map("texthash", "tha",
        "alice@example.com  alice@163.com\n"
        "@example.com       other@163.com\n"
        "bob                bob@163.com\n"
        "@rename.example    @163.com\n", 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const struct kv v[] = {
        { "alice@example.com", "alice@163.com" },   /* user@domain first */
        { "alice@EXAMPLE.com", "alice@163.com" },   /* domain case */
        { "carol@example.com", "other@163.com" },   /* then @domain */
        { "Carol@Example.Com", "other@163.com" },
        { "bob", "bob@163.com" },                   /* user: no domain */
        { "bob@elsewhere.example", NULL },          /* user not tried */
        { "x@rename.example", "x@163.com" },        /* @domain result */
        { "nobody@nowhere.example", NULL },
        { "", NULL },
    };
    check_lookups(m, v, N(v), 1);
    map_free(m);
}

/* ---- regexp / pcre -------------------------------------------------------- */

static const char rx_text[] =
    "# first match wins\n"
    "/^root@(.*)$/          admin@$1\n"
    "/^([^@]+)@old\\.example$/  ${1}@new.example\n"
    "/^(a)?(b)@opt\\.example$/  [$1][$2]\n"
    "/^cash@/               $$1@money.example\n"
    "/^CaseSensitive@/i     sensitive\n"
    "/^multi@/\n"
    "   continued\n"
    "!/@/                   no-at\n"
    "/.*/                   acct@163.com\n"
    "/never/                never\n";

static const struct kv rx_vec[] = {
    { "root@host.example", "admin@host.example" },
    { "ROOT@host.example", "admin@host.example" },        /* case-insensitive */
    { "joe@old.example", "joe@new.example" },
    { "joe@OLD.example", "joe@new.example" },
    { "b@opt.example", "[][b]" },                          /* unmatched group */
    { "ab@opt.example", "[a][b]" },
    { "cash@x", "$1@money.example" },                      /* $$ */
    { "CaseSensitive@x", "sensitive" },
    { "casesensitive@x", "acct@163.com" },                 /* i toggled off */
    { "multi@x", "continued" },
    { "local-only", "no-at" },                             /* negation */
    { "anyone@anywhere.example", "acct@163.com" },
    { "", "no-at" },
};

static void test_regexp(void **state)
{
    (void)state;
    char err[512] = "";
    struct map *m = open_map("regexp", "rx", rx_text, 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    check_lookups(m, rx_vec, N(rx_vec), 0);
    check_lookups(m, rx_vec, N(rx_vec), 1);
    map_free(m);
}

static void test_pcre(void **state)
{
    (void)state;
    char err[512] = "";
    struct map *m = open_map("pcre", "pc", rx_text, 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    check_lookups(m, rx_vec, N(rx_vec), 0);
    check_lookups(m, rx_vec, N(rx_vec), 1);
    map_free(m);

    /* PCRE-only syntax, UTF-8, and the seed's one-line map */
    m = open_map("pcre", "pc2",
                 "/^(?<user>\\w+)\\+\\w+@(\\S+)$/  $1@$2\n"
                 "/^δοκιμή@/  greek@163.com\n"
                 "/.*/ acct@163.com\n", 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const struct kv v[] = {
        { "joe+tag@example.com", "joe@example.com" },
        { "ΔΟΚΙΜΉ@example.com", "greek@163.com" },     /* UTF-8 caseless */
        { "\xff\xfe@bad-utf8.example", "acct@163.com" },
        { "noreply@sentry.local", "acct@163.com" },
    };
    check_lookups(m, v, N(v), 1);
    map_free(m);
}

static void test_flags(void **state)
{
    (void)state;
    char err[512] = "";
    struct map *m = open_map("pcre", "pcf",
                             "/^a . b$/x  extended\n"
                             "/^UP$/i     exact\n", 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const struct kv v[] = {
        { "a.b", "extended" }, { "A-B", "extended" }, { "a . b", NULL },
        { "UP", "exact" }, { "up", NULL },
    };
    check_lookups(m, v, N(v), 0);
    map_free(m);

    m = open_map("regexp", "rxf", "/^UP$/i exact\n/^x/ x\n", 0, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const struct kv w[] = { { "UP", "exact" }, { "up", NULL }, { "X1", "x" } };
    check_lookups(m, w, N(w), 0);
    map_free(m);
}

/* ---- MAP_SECRET ------------------------------------------------------------ */

static void test_secret(void **state)
{
    (void)state;
    char err[512] = "";
    char spec[300];
    const char *p = put("sasl_passwd", "[smtp.163.com]:465 a@163.com:pw\n", 0644);
    snprintf(spec, sizeof spec, "hash:%s", p);
    assert_null(map_open(spec, MAP_SECRET, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "%s is readable by group or others (mode 0644): "
             "chmod 600 %s; it holds passwords", p, p);
    assert_string_equal(err, want);

    p = put("sasl_passwd", "[smtp.163.com]:465 a@163.com:pw\n", 0620);
    assert_null(map_open(spec, MAP_SECRET, err, sizeof err));
    assert_contains(err, "writable by group or others (mode 0620): chmod 600 ");

    /* without MAP_SECRET a 0644 table is fine */
    p = put("sasl_passwd", "[smtp.163.com]:465 a@163.com:pw\n", 0644);
    struct map *m = map_open(spec, 0, err, sizeof err);
    assert_non_null(m);
    map_free(m);

    p = put("sasl_passwd", "[smtp.163.com]:465 a@163.com:pw\n", 0600);
    m = map_open(spec, MAP_SECRET, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    char *v = map_lookup(m, "[smtp.163.com]:465");
    assert_string_equal(v, "a@163.com:pw");
    free(v);
    map_free(m);

    p = put("sasl_pcre", "/x/ y\n", 0640);
    snprintf(spec, sizeof spec, "pcre:%s", p);
    assert_null(map_open(spec, MAP_SECRET, err, sizeof err));
    assert_contains(err, "(mode 0640)");
}

/* ---- errors ----------------------------------------------------------------- */

struct errcase {
    const char *type;
    const char *text;
    const char *want;   /* after "PATH" */
};

static void test_errors(void **state)
{
    (void)state;
    static const struct errcase v[] = {
        { "texthash", "a b\n\nlonely\n", ":3: key \"lonely\" has no value; "
          "write \"key value\" on one line" },
        { "hash", "  indented value\n", ":1: line starts with whitespace but "
          "there is no line before it to continue; remove the leading whitespace" },
        { "regexp", "# c\n/ok/ x\n/(/ bad\n", ":3: bad regular expression /(/: " },
        { "pcre", "/ok/ x\n/(/ bad\n", ":2: bad regular expression /(/: missing "
          "closing parenthesis at offset 1; fix the pattern (PCRE syntax)" },
        { "regexp", "/abc def\n", ":1: no closing / after the pattern; write "
          "/pattern/flags result" },
        { "pcre", "/abc/\n", ":1: no result after the pattern; write "
          "/pattern/flags result" },
        { "regexp", "/abc/q r\n", ":1: unknown flag 'q' after the pattern; "
          "regexp flags are i, m, x" },
        { "pcre", "/abc/q r\n", ":1: unknown flag 'q' after the pattern; "
          "pcre flags are i, m, s, x, A, E, U, X" },
        { "pcre", "/x/ y\nif /a/\n/b/ c\nendif\n", ":2: if/endif blocks are not "
          "supported by postern; write one /pattern/ result line per rule" },
        { "regexp", "abc def\n", ":1: expected a /pattern/ at the start of the "
          "line; write /pattern/flags result" },
        { "pcre", "/(a)/ $2\n", ":1: $2 in the result, but the pattern has "
          "groups $1..$1 only; fix the number" },
        { "regexp", "/a/ $1\n", ":1: $1 in the result, but the pattern has no "
          "( ) group; add one or remove $1" },
        { "pcre", "/(a)/ $1x\n", ":1: \"$1x\" in the result is not a group number" },
        { "pcre", "/(a)/ ${1\n", ":1: \"${\" is not closed in the result" },
        { "pcre", "/a/ cost $\n", ":1: lone \"$\" in the result; write $$ for a "
          "literal $" },
        { "regexp", "!/(a)/ $1\n", ":1: $1 in the result of a negated pattern" },
    };
    char err[512];
    for (size_t i = 0; i < N(v); i++) {
        err[0] = '\0';
        char name[32];
        snprintf(name, sizeof name, "err%zu", i);
        struct map *m = open_map(v[i].type, name, v[i].text, 0, err, sizeof err);
        if (m)
            fail_msg("case %zu: opened", i);
        char want[600];
        snprintf(want, sizeof want, "%s/%s%s", g_dir, name, v[i].want);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, err, want);
    }

    /* unknown type, missing type, missing file, NUL byte */
    assert_null(map_open("btree:/etc/postern/x", 0, err, sizeof err));
    assert_string_equal(err, "\"btree:/etc/postern/x\": unknown map type \"btree\"; "
                        "supported types are texthash, hash, regexp, pcre, cidr");
    assert_null(map_open("/etc/postern/x", 0, err, sizeof err));
    assert_contains(err, "expected type:/path");
    assert_null(map_open("hash:", 0, err, sizeof err));
    assert_contains(err, "expected type:/path");
    char spec[300];
    snprintf(spec, sizeof spec, "hash:%s/does-not-exist", g_dir);
    assert_null(map_open(spec, 0, err, sizeof err));
    assert_contains(err, "/does-not-exist: cannot open: No such file or directory");
    snprintf(spec, sizeof spec, "hash:%s", g_dir);
    assert_null(map_open(spec, 0, err, sizeof err));
    assert_contains(err, ": not a regular file");

    const char *p = put("withnul", "a b\n", 0600);
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fwrite("x\0y z\n", 1, 6, f);
    fclose(f);
    snprintf(spec, sizeof spec, "texthash:%s", p);
    assert_null(map_open(spec, 0, err, sizeof err));
    assert_contains(err, "/withnul:2: NUL byte in the file");
}

/* A MAP_SECRET table may hold a password anywhere on a bad line (a
 * sasl_passwd line without whitespace is all key): its errors name the file
 * and line and say what to fix, and quote nothing from the line. */
static void test_secret_errors_quote_nothing(void **state)
{
    (void)state;
    static const struct errcase v[] = {
        { "hash", "# c\n\n[smtp.example.com]:465account@example.com:hunter2\n",
          ":3: no whitespace between key and value; write \"key value\" on one "
          "line, e.g. \"[smtp.example.com]:587 user:password\" (the line is not "
          "shown: the file holds passwords)" },
        { "texthash", "[a]:25 u:p\n[smtp.example.com]:465account@example.com:hunter2\n",
          ":2: no whitespace between key and value" },
        { "regexp", "/account@example.com:hunter2(/ x\n",
          ":1: bad regular expression; fix the pattern (POSIX extended syntax) "
          "(the line is not shown" },
        { "pcre", "/account@example.com:hunter2(/ x\n",
          ":1: bad regular expression; fix the pattern (PCRE syntax) (the line" },
        { "pcre", "/x/hunter2 account@example.com\n",
          ":1: unknown flag after the pattern; pcre flags are i, m, s, x, A, E, U, X "
          "(the line is not shown" },
        { "regexp", "#account@example.com:hunter2\n/x/ account@example.com:hunter2\n"
          "/x account@example.com:hunter2\n",
          ":3: no closing delimiter after the pattern; write /pattern/flags result" },
        { "pcre", "/(a)/ account@example.com:hunter2$2\n",
          ":1: a $n in the result is not a group of the pattern; fix the number" },
        { "regexp", "/a/ account@example.com:hunter2$1\n",
          ":1: a $n in the result, but the pattern has no ( ) group" },
        { "pcre", "/(a)/ account@example.com:$hunter2\n",
          ":1: a $ in the result is not followed by a group number" },
        { "pcre", "/(a)/ account@example.com:${hunter2\n",
          ":1: a \"${\" is not closed in the result" },
        { "regexp", "!/(a)/ account@example.com:hunter2$1\n",
          ":1: a $n in the result of a negated pattern (!/.../) has nothing" },
    };
    char err[512];
    for (size_t i = 0; i < N(v); i++) {
        char name[32];
        snprintf(name, sizeof name, "secret%zu", i);
        err[0] = '\0';
        struct map *m = open_map(v[i].type, name, v[i].text, MAP_SECRET, err,
                                 sizeof err);
        if (m)
            fail_msg("case %zu: opened", i);
        char want[600];
        snprintf(want, sizeof want, "%s/%s%s", g_dir, name, v[i].want);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, err, want);
        if (strstr(err, "hunter2") || strstr(err, "account@"))
            fail_msg("case %zu: the error quotes the secret line: %s", i, err);
        /* without MAP_SECRET the same line gets the detailed message */
        char pub[512];
        m = open_map(v[i].type, name, v[i].text, 0, pub, sizeof pub);
        assert_null(m);
        assert_string_not_equal(pub, err);
        assert_null(strstr(pub, "(the line is not shown"));
    }
}

static void test_db(void **state)
{
    (void)state;
    char err[512], spec[300], want[700];
    const char *p = put("sasl_passwd.db", "binary\n", 0600);
    char db[256];
    snprintf(db, sizeof db, "%s", p);
    snprintf(spec, sizeof spec, "hash:%s", db);
    assert_null(map_open(spec, 0, err, sizeof err));
    snprintf(want, sizeof want, "%s: postern reads the text file; point to it "
             "without .db (hash:%s/sasl_passwd)", db, g_dir);
    assert_string_equal(err, want);

    /* text file missing, .db present */
    snprintf(spec, sizeof spec, "hash:%s/sasl_passwd", g_dir);
    unlink(strrchr(spec, ':') + 1);
    assert_null(map_open(spec, MAP_SECRET, err, sizeof err));
    snprintf(want, sizeof want, "%s/sasl_passwd: no such file, only "
             "%s/sasl_passwd.db: postern reads the text file", g_dir, g_dir);
    assert_contains(err, want);

    /* both present: the text file is read */
    put("sasl_passwd", "k v\n", 0600);
    struct map *m = map_open(spec, MAP_SECRET, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    char *v = map_lookup(m, "K");
    assert_string_equal(v, "v");
    free(v);
    map_free(m);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    char err[512];
    struct map *m = open_map("texthash", "empty", "# nothing\n\n", 0, err, sizeof err);
    assert_non_null(m);
    assert_null(map_lookup(m, "x"));
    assert_null(map_lookup_address(m, "x@y"));
    assert_null(map_lookup(m, NULL));
    map_free(m);
    m = open_map("pcre", "empty2", "", 0, err, sizeof err);
    assert_non_null(m);
    assert_null(map_lookup_address(m, "x@y"));
    map_free(m);
    map_free(NULL);
    assert_null(map_lookup(NULL, "x"));
}

static void test_many_keys(void **state)
{
    (void)state;
    /* enough keys to grow the table several times */
    size_t n = 5000, cap = n * 40;
    char *text = malloc(cap), *p = text;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "User%zu@Example.com v%zu\n", i, i);
    char err[512];
    struct map *m = open_map("texthash", "many", text, 0, err, sizeof err);
    free(text);
    if (!m)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i += 7) {
        char k[64], want[32];
        snprintf(k, sizeof k, "user%zu@example.COM", i);
        snprintf(want, sizeof want, "v%zu", i);
        char *v = map_lookup_address(m, k);
        assert_non_null(v);
        assert_string_equal(v, want);
        free(v);
    }
    assert_null(map_lookup(m, "user5000@example.com"));
    map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texthash),
        cmocka_unit_test(test_texthash_address),
        cmocka_unit_test(test_regexp),
        cmocka_unit_test(test_pcre),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_secret_errors_quote_nothing),
        cmocka_unit_test(test_db),
        cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_many_keys),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

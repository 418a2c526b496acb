/* Unit tests for deliver/capture (Maildir), on a mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/capture.h"
#include "deliver/transport.h"

#define QID "6553F1001E240ABC"

struct fx {
    char base[64];
    char cap[128];
};

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->base, sizeof f->base, "/tmp/postern-capture-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    /* two levels that do not exist yet: mkdir -p */
    snprintf(f->cap, sizeof f->cap, "%s/a/mail", f->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A request as the queue makes one: recipient k is the message's k-th. */
struct req_fx {
    struct deliver_request req;
    struct deliver_rcpt rcpt[8];
};

static void make_req(struct req_fx *r, const char *sender,
                     const char *const *rcpts, size_t n)
{
    assert_true(n <= 8);
    memset(r, 0, sizeof *r);
    r->req.id = QID;
    r->req.arrival_sec = 1700000000;
    r->req.sender = sender;
    for (size_t i = 0; i < n; i++) {
        r->rcpt[i].addr = rcpts[i];
        r->rcpt[i].index = i;
    }
    r->req.rcpt = r->rcpt;
    r->req.nrcpt = n;
}

/* capture_deliver of r's k-th recipient with this content */
static int cap(const char *dir, const char *host, struct req_fx *r, size_t k,
               const char *content, size_t len, char *reason, size_t reasonlen)
{
    r->req.content = content;
    r->req.content_len = len;
    return capture_deliver(dir, host, &r->req, k, reason, reasonlen);
}

static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *b = malloc((size_t)st.st_size + 1);
    assert_non_null(b);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    close(fd);
    b[got] = '\0';
    *len = got;
    return b;
}

static int count_dir(const char *p)
{
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int is_dir(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------- tests ---------- */

static void test_mailbox_names(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } t[] = {
        {"user@Example.COM", "user@example.com"},
        {"User.Name+tag@EXAMPLE.org", "User.Name+tag@example.org"},
        {"../../etc@x", "%2E.%2F..%2Fetc@x"},
        {"..@x", "%2E.@x"},
        {".hidden@x", "%2Ehidden@x"},
        {"a/b@x", "a%2Fb@x"},
        {"a%b@x", "a%25b@x"},
        {"\"john doe\"@Example.com", "\"john doe\"@example.com"},
        {"\"a@b\"@EX.example", "\"a@b\"@ex.example"},
        {"\"A@B\"@EX", "\"A@B\"@ex"},
        {"张三@例子.测试", "张三@例子.测试"},
        {"Ünïcode@BÜCHER.de", "Ünïcode@bÜcher.de"},
        {"a\x01" "b\x7f@x", "a%01b%7F@x"},
        {"tab\there@x", "tab%09here@x"},
        {"Postmaster", "Postmaster"},
        {"a@b/c", "a@b%2Fc"},
        {".", "%2E"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(capture_mailbox_name(t[i].in, out, sizeof out), 0);
        assert_string_equal(out, t[i].out);
        assert_null(strchr(out, '/'));
    }
    assert_int_equal(capture_mailbox_name("", out, sizeof out), -1);
    assert_int_equal(capture_mailbox_name(NULL, out, sizeof out), -1);
    /* exact fit and one short */
    assert_int_equal(capture_mailbox_name("ab@x", out, 5), 0);
    assert_string_equal(out, "ab@x");
    assert_int_equal(capture_mailbox_name("ab@x", out, 4), -1);
    assert_int_equal(capture_mailbox_name("/", out, 4), 0);
    assert_string_equal(out, "%2F");
    assert_int_equal(capture_mailbox_name("/", out, 3), -1);
}

/* 254 bytes, the longest address smtpd takes (RFC 5321 path of 256 octets
 * with its brackets); 382 bytes encoded */
#define LONG_DOMAIN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." \
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb." \
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccc.test"
#define LONG_LOCAL "%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/%/"
#define LONG_ADDR LONG_LOCAL "@" LONG_DOMAIN
/* its mailbox: the first 189 bytes of the encoded name, "%~", SHA-256 of
 * the whole encoded name (expected values made with Python's hashlib) */
#define LONG_PREFIX "%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F" \
    "%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F" \
    "%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25%2F%25"
#define LONG_MBOX LONG_PREFIX \
    "%~24547f5ff959716f971b0b9d8307bd6bd9aa3b951d011d33592f96c0cc33fd3f"

static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *p = malloc(hl + ul * n + tl + 1);
    assert_non_null(p);
    memcpy(p, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(p + hl + i * ul, unit, ul);
    memcpy(p + hl + n * ul, tail, tl + 1);
    return p;
}

static void test_mailbox_names_long(void **state)
{
    (void)state;
    char out[CAPTURE_MAILBOX_MAX + 1];
    assert_int_equal(strlen(LONG_ADDR), 254);
    assert_int_equal(strlen(LONG_PREFIX), CAPTURE_MAILBOX_PREFIX);
    assert_int_equal(capture_mailbox_name(LONG_ADDR, out, sizeof out), 0);
    assert_string_equal(out, LONG_MBOX);
    assert_int_equal(strlen(out), CAPTURE_MAILBOX_MAX);
    /* one name however the domain is spelled */
    char *lower = strdup(LONG_ADDR);
    assert_non_null(lower);
    for (char *c = strrchr(lower, '@'); *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    assert_int_equal(capture_mailbox_name(lower, out, sizeof out), 0);
    assert_string_equal(out, LONG_MBOX);
    /* a difference past the prefix still gives another directory */
    lower[strlen(lower) - 1] = 'x';
    assert_int_equal(capture_mailbox_name(lower, out, sizeof out), 0);
    assert_int_equal(strncmp(out, LONG_PREFIX "%~", strlen(LONG_PREFIX) + 2), 0);
    assert_string_not_equal(out, LONG_MBOX);
    free(lower);
    /* the name must fit the caller's buffer, NUL included */
    assert_int_equal(capture_mailbox_name(LONG_ADDR, out, CAPTURE_MAILBOX_MAX), -1);

    /* the boundary: 255 encoded bytes stay as they are, 256 do not */
    char *a = repeat("%", "a", 248, "@b.c");
    assert_int_equal(capture_mailbox_name(a, out, sizeof out), 0);
    assert_int_equal(strlen(out), 255);
    assert_int_equal(strncmp(out, "%25aaa", 6), 0);
    assert_null(strstr(out, "%~"));
    free(a);
    a = repeat("%", "a", 249, "@b.c");
    char *want = repeat("%25", "a", 186, "%~eca2ba362b3ac7c4a046f932265e455a"
                        "e9ba488b072a0ab85c36cf99b5b837fa");
    assert_int_equal(capture_mailbox_name(a, out, sizeof out), 0);
    assert_string_equal(out, want);
    free(a);
    free(want);

    /* the prefix never ends inside a UTF-8 character ... */
    a = repeat("x", "张", 100, "@例子.测试");
    want = repeat("x", "张", 62, "%~8c246daf2d6d40c46858ca18bc83fc00e6312"
                  "7d156c5d1a23aa8eb3e92cf30fe");
    assert_int_equal(capture_mailbox_name(a, out, sizeof out), 0);
    assert_string_equal(out, want);
    free(a);
    free(want);
    /* ... nor inside a %XX escape */
    a = repeat("ab", "%", 100, "@x");
    want = repeat("ab", "%25", 62, "%~d338e409af41d80c98b6dd92ed562b09ab29"
                  "a2e489745d59e65d11edee472467");
    assert_int_equal(capture_mailbox_name(a, out, sizeof out), 0);
    assert_string_equal(out, want);
    free(a);
    free(want);
}

/* a long address is delivered into its hashed directory, not deferred */
static void test_long_address_delivered(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {LONG_ADDR};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 1);
    char reason[256] = "";
    if (cap(f->cap, "h", &env, 0, "hi\r\n", 4, reason,
                        sizeof reason) != 0)
        fail_msg("capture_deliver: %s", reason);
    char p[512];
    snprintf(p, sizeof p, "%s/%s/new/1700000000." QID "_0.h", f->cap, LONG_MBOX);
    size_t len;
    char *got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: " LONG_ADDR "\nhi\n");
    free(got);
    assert_int_equal(count_dir(f->cap), 1);
}

static void test_exact_bytes(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"Bob@Example.COM", "c@x"};
    struct req_fx env;
    make_req(&env, "alice@example.org", rcpts, 2);
    static const char content[] =
        "Received: from x\r\n\tby y\r\n"
        "Subject: hi\r\n"
        "\r\n"
        "line1\r\n"
        "bare\rcr and bare\nlf\r\n"
        "\r\r\n"
        "last line without CRLF\r";
    char reason[256] = "";
    int r = cap(f->cap, "mx.test", &env, 0, content,
                            sizeof content - 1, reason, sizeof reason);
    if (r != 0)
        fail_msg("capture_deliver: %s", reason);

    char p[512];
    snprintf(p, sizeof p, "%s/Bob@example.com/new/1700000000." QID
             "_0.mx.test", f->cap);
    size_t len;
    char *got = read_all(p, &len);
    static const char expect[] =
        "Return-Path: <alice@example.org>\n"
        "Delivered-To: Bob@Example.COM\n"
        "Received: from x\n\tby y\n"
        "Subject: hi\n"
        "\n"
        "line1\n"
        "bare\rcr and bare\nlf\n"
        "\r\n"
        "last line without CRLF\r";
    assert_int_equal(len, sizeof expect - 1);
    assert_memory_equal(got, expect, len);
    free(got);

    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char d[512];
    static const char *const sub[] = {"tmp", "new", "cur"};
    for (int i = 0; i < 3; i++) {
        snprintf(d, sizeof d, "%s/Bob@example.com/%s", f->cap, sub[i]);
        assert_true(is_dir(d));
        assert_int_equal(stat(d, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
    }
    snprintf(d, sizeof d, "%s/Bob@example.com/tmp", f->cap);
    assert_int_equal(count_dir(d), 0);
    snprintf(d, sizeof d, "%s/Bob@example.com/new", f->cap);
    assert_int_equal(count_dir(d), 1);
}

static void test_null_sender_and_hostname(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"a@x", "张三@例子.测试"};
    struct req_fx env;
    make_req(&env, "", rcpts, 2);
    char reason[256] = "";
    assert_int_equal(cap(f->cap, "host/a:b", &env, 1, "", 0,
                                     reason, sizeof reason), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/张三@例子.测试/new/1700000000." QID
             "_1.host\\057a\\072b", f->cap);
    size_t len;
    char *got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <>\nDelivered-To: 张三@例子.测试\n");
    free(got);

    /* no hostname: the system's, still one file */
    assert_int_equal(cap(f->cap, NULL, &env, 0, "x\r\n", 3,
                                     reason, sizeof reason), 0);
    snprintf(p, sizeof p, "%s/a@x/new", f->cap);
    assert_int_equal(count_dir(p), 1);
}

static void test_no_escape(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"../../etc@x", "..", "/abs@x"};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 3);
    char reason[256] = "";
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(cap(f->cap, "h", &env, i, "x\r\n", 3,
                                         reason, sizeof reason), 0);
    /* everything stayed inside capture_dir: three mailboxes there, and
     * nothing new beside it */
    assert_int_equal(count_dir(f->cap), 3);
    char p[512];
    snprintf(p, sizeof p, "%s/%%2E.%%2F..%%2Fetc@x/new/1700000000." QID "_0.h",
             f->cap);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    snprintf(p, sizeof p, "%s/%%2E./new", f->cap);
    assert_int_equal(count_dir(p), 1);
    snprintf(p, sizeof p, "%s/%%2Fabs@x/new", f->cap);
    assert_int_equal(count_dir(p), 1);
    snprintf(p, sizeof p, "%s/a", f->base);
    assert_int_equal(count_dir(p), 1);          /* only "mail" */
    assert_int_equal(count_dir(f->base), 1);    /* only "a" */
}

static void test_redelivery_once(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"a@x", "a@x"};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 2);
    char reason[256] = "";
    assert_int_equal(cap(f->cap, "h", &env, 0, "one\r\n", 5,
                                     reason, sizeof reason), 0);
    assert_int_equal(cap(f->cap, "h", &env, 0, "two\r\n", 5,
                                     reason, sizeof reason), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/a@x/new", f->cap);
    assert_int_equal(count_dir(p), 1);
    snprintf(p, sizeof p, "%s/a@x/tmp", f->cap);
    assert_int_equal(count_dir(p), 0);
    snprintf(p, sizeof p, "%s/a@x/new/1700000000." QID "_0.h", f->cap);
    size_t len;
    char *got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: a@x\ntwo\n");
    free(got);
    /* the other index is another file, even for the same address */
    assert_int_equal(cap(f->cap, "h", &env, 1, "one\r\n", 5,
                                     reason, sizeof reason), 0);
    snprintf(p, sizeof p, "%s/a@x/new", f->cap);
    assert_int_equal(count_dir(p), 2);

    /* errors come back as a reason */
    reason[0] = '\0';
    assert_int_equal(cap(f->cap, "h", &env, 2, "x", 1, reason,
                                     sizeof reason), -1);
    assert_true(reason[0] != '\0');
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/file", f->base);
    int fd = open(blocker, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(p, sizeof p, "%s/file/sub", f->base);
    reason[0] = '\0';
    assert_int_equal(cap(p, "h", &env, 0, "x", 1, reason,
                                     sizeof reason), -1);
    assert_non_null(strstr(reason, "capture"));
}

/* A batch: every copy durable in its mailbox's new/, a failing item does
 * not fail the others, the same mailbox twice shares one directory. */
static void test_batch(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"a@x", "b@x", "a@x", "c@x"};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 4);
    env.req.content = "hi\r\n";
    env.req.content_len = 4;
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/file", f->base);
    int fd = open(blocker, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/sub", blocker);
    struct capture_item it[5];
    memset(it, 0, sizeof it);
    for (size_t i = 0; i < 4; i++)
        it[i] = (struct capture_item){ f->cap, "h", &env.req, i, -2, "" };
    it[4] = (struct capture_item){ bad, "h", &env.req, 1, -2, "" };
    capture_deliver_batch(it, 5);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(it[i].rc, 0);
    assert_int_equal(it[4].rc, -1);
    assert_non_null(strstr(it[4].reason, "capture"));
    char p[512];
    snprintf(p, sizeof p, "%s/a@x/new", f->cap);
    assert_int_equal(count_dir(p), 2);
    snprintf(p, sizeof p, "%s/a@x/tmp", f->cap);
    assert_int_equal(count_dir(p), 0);
    snprintf(p, sizeof p, "%s/b@x/new", f->cap);
    assert_int_equal(count_dir(p), 1);
    snprintf(p, sizeof p, "%s/c@x/new/1700000000." QID "_3.h", f->cap);
    size_t len;
    char *got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: c@x\nhi\n");
    free(got);
    capture_deliver_batch(it, 0);           /* nothing to do */
}

static void test_large_content(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"big@x"};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 1);
    /* CRLFs land on every buffer boundary position sooner or later */
    size_t n = 300 * 1000 + 1;
    char *c = malloc(n), *want = malloc(n + 64);
    assert_non_null(c);
    assert_non_null(want);
    size_t w = (size_t)sprintf(want, "Return-Path: <s@x>\nDelivered-To: big@x\n");
    for (size_t i = 0; i < n; i++) {
        size_t k = i % 13;
        c[i] = k == 11 ? '\r' : k == 12 ? '\n' : (char)('a' + (char)k);
    }
    for (size_t i = 0; i < n; i++)
        if (!(c[i] == '\r' && i + 1 < n && c[i + 1] == '\n'))
            want[w++] = c[i];
    char reason[256] = "";
    assert_int_equal(cap(f->cap, "h", &env, 0, c, n, reason,
                                     sizeof reason), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/big@x/new/1700000000." QID "_0.h", f->cap);
    size_t len;
    char *got = read_all(p, &len);
    assert_int_equal(len, w);
    assert_memory_equal(got, want, w);
    free(got);
    free(c);
    free(want);
}

/* The temp file name is predictable (qid, index); whatever already sits at
 * tmp/<name> (a crash's left-over, or an entry planted by someone else who
 * can write the mailbox) is never written through: a hard link to another
 * file, a symlink or a FIFO is removed and the copy goes to a new file. */
static void test_tmp_entry_not_followed(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"t@x"};
    struct req_fx env;
    make_req(&env, "s@x", rcpts, 1);
    char reason[256] = "";
    char tmp[512], victim[512], path[600], p[700];
    snprintf(tmp, sizeof tmp, "%s/t@x/tmp", f->cap);
    snprintf(victim, sizeof victim, "%s/victim", f->base);
    static const char precious[] = "precious data\n";
    size_t len;

    /* the Maildir exists (an earlier delivery) */
    assert_int_equal(cap(f->cap, "h", &env, 0, "first\r\n", 7,
                                     reason, sizeof reason), 0);
    snprintf(path, sizeof path, "%s/1700000000." QID "_0.h", tmp);

    /* 1. a hard link to another file of ours */
    int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, precious, sizeof precious - 1),
                     (ssize_t)(sizeof precious - 1));
    close(fd);
    assert_int_equal(link(victim, path), 0);
    reason[0] = '\0';
    if (cap(f->cap, "h", &env, 0, "second\r\n", 8, reason,
                        sizeof reason) != 0)
        fail_msg("capture_deliver: %s", reason);
    char *got = read_all(victim, &len);
    assert_string_equal(got, precious);
    free(got);
    snprintf(p, sizeof p, "%s/t@x/new/1700000000." QID "_0.h", f->cap);
    got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: t@x\nsecond\n");
    free(got);
    assert_int_equal(count_dir(tmp), 0);

    /* 2. a symlink (to the same file) */
    assert_int_equal(symlink(victim, path), 0);
    reason[0] = '\0';
    if (cap(f->cap, "h", &env, 0, "third\r\n", 7, reason,
                        sizeof reason) != 0)
        fail_msg("capture_deliver: %s", reason);
    got = read_all(victim, &len);
    assert_string_equal(got, precious);
    free(got);
    got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: t@x\nthird\n");
    free(got);
    assert_int_equal(count_dir(tmp), 0);

    /* 3. a FIFO: opening it for writing would wait for a reader forever */
    assert_int_equal(mkfifo(path, 0600), 0);
    reason[0] = '\0';
    if (cap(f->cap, "h", &env, 0, "fourth\r\n", 8, reason,
                        sizeof reason) != 0)
        fail_msg("capture_deliver: %s", reason);
    got = read_all(p, &len);
    assert_string_equal(got, "Return-Path: <s@x>\nDelivered-To: t@x\nfourth\n");
    free(got);
    assert_int_equal(count_dir(tmp), 0);

    /* 4. an entry that cannot be removed: a clear, temporary error */
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(p, sizeof p, "%s/keep", path);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    reason[0] = '\0';
    assert_int_equal(cap(f->cap, "h", &env, 0, "fifth\r\n", 7,
                                     reason, sizeof reason), -1);
    assert_non_null(strstr(reason, "capture: remove stale t@x/tmp/1700000000."));
    assert_true(is_dir(path));
}

/* The request is all capture sees: the file name takes the recipient's
 * place in the message (rcpt[k].index), not its place in the request, and
 * an id that could leave the mailbox directory is refused. */
static void test_request_index_and_id(void **state)
{
    struct fx *f = *state;
    static const char *const rcpts[] = {"a@x", "b@x"};
    struct req_fx r;
    make_req(&r, "s@x", rcpts, 2);
    r.rcpt[0].index = 3;        /* a group: the message's 4th and 7th */
    r.rcpt[1].index = 6;
    char reason[256] = "", p[512];
    assert_int_equal(cap(f->cap, "h", &r, 1, "x\r\n", 3, reason, sizeof reason), 0);
    snprintf(p, sizeof p, "%s/b@x/new/1700000000." QID "_6.h", f->cap);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    static const char *const bad[] = {"", "../x", "a/b", ".", "..", "6553F1001E240AB\n",
        "0123456789012345678901234567890123456789012345678901234567890123X"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.req.id = bad[i];
        reason[0] = '\0';
        assert_int_equal(cap(f->cap, "h", &r, 0, "x\r\n", 3, reason, sizeof reason), -1);
        assert_string_equal(reason, "capture: invalid queue id");
    }
    r.req.id = NULL;
    assert_int_equal(cap(f->cap, "h", &r, 0, "x\r\n", 3, reason, sizeof reason), -1);
    snprintf(p, sizeof p, "%s/a@x", f->cap);
    assert_int_equal(count_dir(p), -1);         /* nothing written for a@x */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailbox_names),
        T(test_batch),
        cmocka_unit_test(test_mailbox_names_long),
        T(test_long_address_delivered),
        T(test_exact_bytes),
        T(test_null_sender_and_hostname),
        T(test_no_escape),
        T(test_redelivery_once),
        T(test_large_content),
        T(test_tmp_entry_not_followed),
        T(test_request_index_and_id),
    };
    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}

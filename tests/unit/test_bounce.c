/* Unit tests for queue/bounce: DSN composition (RFC 3464, RFC 6522). Each
 * composed bounce is also checked by tests/unit/dsn_parse.py (Python's email
 * package) through popen. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "queue/bounce.h"

#define QID "6553F1001E240ABC"
#define HOST "mail.example.net"
#define NOW 1700000000LL            /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define REASON "550 5.1.1 <bob@example.com>: Recipient address rejected: " \
               "User unknown in virtual mailbox table"

static const char ORIG[] =
    "Received: from client.example.org (client.example.org [192.0.2.7])\r\n"
    "\tby mail.example.net with ESMTPS id " QID "\r\n"
    "From: Alice Sender <sender@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: lunch\r\n"
    "Message-ID: <orig-1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n"
    "BODY-MARKER\r\n";

/* ---------- helpers ---------- */

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

struct rspec {
    const char *addr;
    enum rcpt_state state;
    const char *dsn;
    const char *reason;     /* may be NULL */
};

static void make_env(struct envelope *env, const char *sender, const struct rspec *r, size_t n)
{
    memset(env, 0, sizeof *env);
    memcpy(env->qid, QID, QID_LEN + 1);
    env->arrival_sec = NOW - 4 * 3600;
    env->arrival_usec = 5;
    env->sender = xstrdup(sender);
    env->client_addr = xstrdup("192.0.2.7");
    env->client_name = xstrdup("client.example.org");
    env->helo = xstrdup("client.example.org");
    env->protocol = xstrdup("ESMTPS");
    env->nrcpt = n;
    env->rcpt = calloc(n ? n : 1, sizeof *env->rcpt);
    assert_non_null(env->rcpt);
    for (size_t i = 0; i < n; i++) {
        env->rcpt[i].addr = xstrdup(r[i].addr);
        env->rcpt[i].state = r[i].state;
        snprintf(env->rcpt[i].dsn, sizeof env->rcpt[i].dsn, "%s", r[i].dsn);
        env->rcpt[i].reason = r[i].reason ? xstrdup(r[i].reason) : NULL;
    }
}

static struct bounce_params params(const unsigned char *include)
{
    struct bounce_params p = {
        .myhostname = HOST,
        .now = NOW,
        .size_limit = 50000,
        .kind = BOUNCE_FAILED,
        .include = include,
        .remote_mta = "mx.example.com",
        .boundary_seed = "1700000000.000042",
    };
    return p;
}

/* Every line ends in CRLF (no bare CR or LF) and is shorter than 1000
 * octets with its CRLF. */
static void assert_lines_ok(const char *s, size_t len)
{
    assert_true(len >= 2);
    assert_memory_equal(s + len - 2, "\r\n", 2);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r') {
            assert_true(i + 1 < len);
            assert_int_equal(s[i + 1], '\n');
        } else if (s[i] == '\n') {
            assert_true(i > 0);
            assert_int_equal(s[i - 1], '\r');
            assert_true(i + 1 - start < 1000);
            start = i + 1;
        }
    }
}

static const char *dsn_script(void)
{
    static char path[512];
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    snprintf(path, sizeof path, "%.*s/dsn_parse.py", slash ? (int)(slash - f) : 1,
             slash ? f : ".");
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "tests/unit/dsn_parse.py");
    return path;
}

/* Exit status of dsn_parse.py fed with buf. */
static int run_python(const char *buf, size_t len, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", dsn_script(), args ? args : "");
    fflush(stdout);
    fflush(stderr);
    FILE *f = popen(cmd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    int st = pclose(f);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* Compose, check the invariants every bounce has, return it. */
static char *compose_ok(const struct envelope *env, const char *content, size_t clen,
                        const struct bounce_params *p, size_t *outlen)
{
    /* an exact-size copy so ASan sees any read past clen */
    char *copy = malloc(clen ? clen : 1);
    assert_non_null(copy);
    memcpy(copy, content, clen);
    size_t len = 0;
    char *out = bounce_compose(env, copy, clen, p, &len);
    free(copy);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_lines_ok(out, len);
    *outlen = len;
    return out;
}

/* The boundary from the top-level Content-Type (malloc'd). */
static char *boundary_of(const char *msg)
{
    const char *b = strstr(msg, "boundary=\"");
    assert_non_null(b);
    b += strlen("boundary=\"");
    const char *e = strchr(b, '"');
    assert_non_null(e);
    assert_true(e - b > 0 && e - b <= 70);
    return strndup(b, (size_t)(e - b));
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The value of field name (first occurrence at a line start), unfolded. */
static char *field(const char *msg, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strstr(msg, pat);
    assert_non_null(p);
    p += strlen(pat);
    char *out = malloc(strlen(p) + 1);
    assert_non_null(out);
    size_t n = 0;
    for (;;) {
        if (p[0] == '\r' && p[1] == '\n') {
            if (p[2] == ' ' || p[2] == '\t') {
                p += 2;
                continue;
            }
            break;
        }
        assert_true(*p != '\0');
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

/* ---------- tests ---------- */

static void test_failed_one_of_two(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"alice@example.com", RCPT_SENT, "2.0.0", "250 2.0.0 Ok: queued as 12345"},
        {"bob@example.com", RCPT_BOUNCED, "5.1.1", REASON},
    };
    const unsigned char inc[] = {0, 1};
    struct envelope env;
    make_env(&env, "sender@example.org", r, 2);
    struct bounce_params p = params(inc);
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);

    /* top-level headers */
    assert_memory_equal(out, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", 39);
    assert_non_null(strstr(out, "\r\nFrom: MAILER-DAEMON@" HOST " (Mail Delivery System)\r\n"));
    assert_non_null(strstr(out, "\r\nSubject: Undelivered Mail Returned to Sender\r\n"));
    assert_non_null(strstr(out, "\r\nTo: sender@example.org\r\n"));
    assert_non_null(strstr(out, "\r\nAuto-Submitted: auto-replied\r\n"));
    assert_non_null(strstr(out, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(out, "\r\nContent-Type: multipart/report; "
                                "report-type=delivery-status;\r\n\tboundary=\""));
    char *mid = field(out, "Message-ID");
    assert_non_null(strstr(mid, QID));
    assert_int_equal(mid[0], '<');
    assert_non_null(strstr(mid, "@" HOST ">"));
    free(mid);
    /* headers end before the first part */
    const char *hend = strstr(out, "\r\n\r\n");
    assert_non_null(hend);
    assert_true(hend < strstr(out, "Content-Description: Notification"));

    /* part 1 */
    assert_non_null(strstr(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(out, "This is the mail system at host " HOST ".\r\n"));
    assert_non_null(strstr(out, "I'm sorry to have to inform you that your message could "
                                "not be delivered to one or more recipients."));
    assert_non_null(strstr(out, "\r\n<bob@example.com>: " REASON "\r\n"));
    assert_null(strstr(out, "<alice@example.com>"));

    /* part 2 */
    assert_non_null(strstr(out, "\r\nContent-Type: message/delivery-status\r\n\r\n"
                                "Reporting-MTA: dns; " HOST "\r\n"
                                "X-Postern-Queue-ID: " QID "\r\n"
                                "Arrival-Date: Tue, 14 Nov 2023 18:13:20 +0000\r\n"
                                "\r\n"
                                "Final-Recipient: rfc822; bob@example.com\r\n"
                                "Action: failed\r\n"
                                "Status: 5.1.1\r\n"
                                "Remote-MTA: dns; mx.example.com\r\n"
                                "Diagnostic-Code: smtp; " REASON "\r\n"
                                "Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                                "\r\n--"));
    assert_non_null(strstr(out, "Final-Recipient: rfc822; bob@example.com"));
    assert_non_null(strstr(out, "Status: 5.1.1"));
    assert_non_null(strstr(out, "Action: failed"));
    assert_non_null(strstr(out, "Diagnostic-Code: smtp; " REASON));
    assert_null(strstr(out, "Final-Recipient: rfc822; alice"));
    assert_int_equal(count(out, "Final-Recipient:"), 1);
    assert_null(strstr(out, "Will-Retry-Until"));

    /* part 3: the whole message, as is */
    assert_non_null(strstr(out, "\r\nContent-Type: message/rfc822\r\n\r\n"));
    assert_non_null(strstr(out, ORIG));
    assert_null(strstr(out, "Content-Transfer-Encoding"));

    /* structure: 3 delimiters + close, all with the same boundary */
    char *b = boundary_of(out);
    char delim[96], close[96];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", b);
    snprintf(close, sizeof close, "\r\n--%s--\r\n", b);
    assert_int_equal(count(out, delim), 3);
    assert_int_equal(count(out, close), 1);
    assert_memory_equal(out + len - strlen(close), close, strlen(close));
    assert_null(strstr(ORIG, b));
    assert_int_equal(count(out, b), 5);   /* Content-Type + 3 + close */
    free(b);

    assert_int_equal(run_python(out, len, "--action failed --recipients 1 "
                                          "--part3 message/rfc822"), 0);

    /* pure: same inputs, same bytes */
    size_t len2;
    char *again = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(out, again, len);
    free(again);
    free(out);
    envelope_free(&env);
}

/* The validator itself must reject broken reports. */
static void test_python_rejects(void **state)
{
    (void)state;
    const struct rspec r[] = {{"bob@example.com", RCPT_BOUNCED, "5.1.1", REASON}};
    struct envelope env;
    make_env(&env, "sender@example.org", r, 1);
    struct bounce_params p = params(NULL);
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_int_equal(run_python(out, len, "--action failed --recipients 1"), 0);
    assert_int_equal(run_python(out, len, "--action delayed"), 1);
    assert_int_equal(run_python(out, len, "--recipients 2"), 1);
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 1);

    /* part 2 relabelled as text/plain */
    char *bad = xstrdup(out);
    char *ct = strstr(bad, "message/delivery-status\r\n");
    assert_non_null(ct);
    memcpy(ct, "message/delivery-statuX", 23);
    assert_int_equal(run_python(bad, len, NULL), 1);
    free(bad);

    /* a recipient block without Status */
    bad = xstrdup(out);
    char *st = strstr(bad, "\r\nStatus: 5.1.1\r\n");
    assert_non_null(st);
    memcpy(st + 2, "Xtatus", 6);
    assert_int_equal(run_python(bad, len, NULL), 1);
    free(bad);

    /* a bare LF */
    bad = xstrdup(out);
    char *lf = strstr(bad, "\r\nAction:");
    assert_non_null(lf);
    lf[0] = ' ';
    assert_int_equal(run_python(bad, len, NULL), 1);
    free(bad);

    /* a lost closing delimiter and third part */
    char *b = boundary_of(out);
    char delim[96];
    snprintf(delim, sizeof delim, "\r\n--%s\r\nContent-Description: Undelivered", b);
    char *d = strstr(out, delim);
    assert_non_null(d);
    assert_int_equal(run_python(out, (size_t)(d - out) + 2, NULL), 1);
    free(b);

    free(out);
    envelope_free(&env);
}

static void test_boundary_collision(void **state)
{
    (void)state;
    const struct rspec r[] = {{"bob@example.com", RCPT_BOUNCED, "5.1.1", REASON}};
    struct envelope env;
    make_env(&env, "sender@example.org", r, 1);
    struct bounce_params p = params(NULL);
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    char *b1 = boundary_of(out);
    assert_non_null(strstr(b1, QID));
    free(out);

    /* an original that contains that very boundary, as a delimiter line */
    char orig[2048];
    int n = snprintf(orig, sizeof orig,
                     "Subject: trap\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n"
                     "\r\n--%s\r\n\r\nhello\r\n--%s--\r\n", b1, b1, b1);
    assert_true(n > 0 && (size_t)n < sizeof orig);
    out = compose_ok(&env, orig, (size_t)n, &p, &len);
    char *b2 = boundary_of(out);
    assert_string_not_equal(b1, b2);
    assert_null(strstr(orig, b2));
    assert_int_equal(run_python(out, len, "--part3 message/rfc822"), 0);
    free(out);

    /* ... and the perturbed one too, and in the headers-only variant */
    n = snprintf(orig, sizeof orig, "Subject: trap %s\r\nX-Trap: %s\r\n\r\nbody\r\n", b1, b2);
    assert_true(n > 0 && (size_t)n < sizeof orig);
    p.size_limit = 0;
    out = compose_ok(&env, orig, (size_t)n, &p, &len);
    char *b3 = boundary_of(out);
    assert_null(strstr(orig, b3));
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 0);
    free(out);

    /* a seed with characters a boundary may not hold */
    p.boundary_seed = "a b\"c<d>\r\n;e";
    out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    free(b3);
    b3 = boundary_of(out);
    assert_null(strpbrk(b3, " \"<>;\r\n"));
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);

    free(b1);
    free(b2);
    free(b3);
    envelope_free(&env);
}

static void test_size_limit(void **state)
{
    (void)state;
    const struct rspec r[] = {{"bob@example.com", RCPT_BOUNCED, "5.1.1", REASON}};
    struct envelope env;
    make_env(&env, "sender@example.org", r, 1);
    struct bounce_params p = params(NULL);
    size_t len, olen = sizeof ORIG - 1;
    const char *hdr_end = strstr(ORIG, "\r\n\r\n") + 2;   /* headers incl. last CRLF */
    size_t hlen = (size_t)(hdr_end - ORIG);

    /* exactly fits: the whole message */
    p.size_limit = (long long)olen;
    char *out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_non_null(strstr(out, "Content-Type: message/rfc822\r\n"));
    assert_null(strstr(out, "text/rfc822-headers"));
    assert_non_null(strstr(out, "BODY-MARKER"));
    assert_non_null(strstr(out, "It's attached below."));
    assert_int_equal(run_python(out, len, "--part3 message/rfc822"), 0);
    free(out);

    /* one byte short: only the header section, complete */
    p.size_limit = (long long)olen - 1;
    out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_null(strstr(out, "message/rfc822"));
    assert_non_null(strstr(out, "\r\nContent-Type: text/rfc822-headers\r\n\r\n"));
    assert_null(strstr(out, "BODY-MARKER"));
    assert_null(strstr(out, "Shall we meet"));
    {
        char *want = malloc(hlen + 8);
        assert_non_null(want);
        memcpy(want, ORIG, hlen);
        memcpy(want + hlen, "\r\n--", 5);
        assert_non_null(strstr(out, want));
        free(want);
    }
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 0);
    free(out);

    /* 0: headers only, however large */
    p.size_limit = 0;
    out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_non_null(strstr(out, "text/rfc822-headers"));
    assert_non_null(strstr(out, "Message-ID: <orig-1@example.org>\r\n"));
    assert_null(strstr(out, "BODY-MARKER"));
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 0);
    free(out);

    /* smaller than the headers: cut at a field boundary, never inside the
     * folded Received: field */
    const char *subj = strstr(ORIG, "Subject: lunch\r\n");
    p.size_limit = (long long)(subj - ORIG) + 5;   /* inside Subject: */
    out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_non_null(strstr(out, "To: bob@example.com\r\n\r\n--"));
    assert_null(strstr(out, "Subject: lunch"));
    assert_null(strstr(out, "Subject: l"));
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 0);
    free(out);

    p.size_limit = 80;   /* inside the folded Received: continuation line */
    out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_non_null(strstr(out, "\r\nContent-Type: text/rfc822-headers\r\n\r\n\r\n--"));
    assert_null(strstr(out, "Received: from client.example.org"));
    assert_null(strstr(out, "From: Alice"));
    assert_int_equal(run_python(out, len, "--part3 text/rfc822-headers"), 0);
    free(out);

    /* no header/body separator: all of it is headers */
    static const char NOSEP[] = "Subject: x\r\nX-A: y\r\n";
    p.size_limit = 0;
    out = compose_ok(&env, NOSEP, sizeof NOSEP - 1, &p, &len);
    assert_non_null(strstr(out, "\r\n\r\nSubject: x\r\nX-A: y\r\n\r\n--"));
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);

    /* empty original */
    p.size_limit = 100;
    out = compose_ok(&env, "", 0, &p, &len);
    assert_non_null(strstr(out, "Content-Type: message/rfc822\r\n"));
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);
    p.size_limit = 0;   /* 0 means headers only, even for nothing */
    out = compose_ok(&env, "", 0, &p, &len);
    assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n"));
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);

    /* a negative limit is no limit to grow past: headers only */
    p.size_limit = -1;
    out = compose_ok(&env, ORIG, olen, &p, &len);
    assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n"));
    assert_non_null(strstr(out, "Message-ID: <orig-1@example.org>\r\n"));
    assert_null(strstr(out, "BODY-MARKER"));
    free(out);

    envelope_free(&env);
}

static void test_delayed(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"carol@example.com", RCPT_DEFERRED, "4.7.1", "451 4.7.1 Greylisted, try later"},
        {"dave@example.com", RCPT_DEFERRED, "", "connect to mx.example.com: Connection refused"},
        {"erin@example.com", RCPT_BOUNCED, "5.1.1", REASON},
    };
    struct envelope env;
    make_env(&env, "sender@example.org", r, 3);
    struct bounce_params p = params(NULL);        /* by state: the deferred ones */
    p.kind = BOUNCE_DELAYED;
    p.remote_mta = NULL;
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_non_null(strstr(out, "\r\nSubject: Delayed Mail (still being retried)\r\n"));
    assert_non_null(strstr(out, "THIS IS A WARNING ONLY"));
    assert_non_null(strstr(out, "could not be delivered for 4.0 hours."));
    assert_non_null(strstr(out, "still being retried"));
    assert_null(strstr(out, "I'm sorry"));
    assert_non_null(strstr(out, "Final-Recipient: rfc822; carol@example.com\r\n"
                                "Action: delayed\r\nStatus: 4.7.1\r\n"
                                "Diagnostic-Code: smtp; 451 4.7.1 Greylisted, try later\r\n"));
    assert_non_null(strstr(out, "Final-Recipient: rfc822; dave@example.com\r\n"
                                "Action: delayed\r\nStatus: 4.0.0\r\n"
                                "Diagnostic-Code: X-Postern; connect to mx.example.com: "
                                "Connection refused\r\n"));
    assert_null(strstr(out, "erin@"));
    assert_null(strstr(out, "Action: failed"));
    assert_null(strstr(out, "Remote-MTA"));
    assert_null(strstr(out, "Will-Retry-Until"));
    assert_int_equal(run_python(out, len, "--action delayed --recipients 2"), 0);
    free(out);

    /* with the lifetime known */
    p.lifetime = 5 * 86400;
    out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_non_null(strstr(out, "until the message is 5.0 days old"));
    assert_int_equal(count(out, "Will-Retry-Until: Sun, 19 Nov 2023 18:13:20 +0000\r\n"), 2);
    assert_int_equal(run_python(out, len, "--action delayed --recipients 2"), 0);
    free(out);

    /* explicit include overrides state */
    const unsigned char inc[] = {0, 0, 1};
    p.include = inc;
    out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_non_null(strstr(out, "Final-Recipient: rfc822; erin@example.com\r\nAction: delayed\r\n"));
    assert_int_equal(count(out, "Final-Recipient:"), 1);
    free(out);
    envelope_free(&env);
}

static void test_utf8(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"jörg@bücher.example", RCPT_BOUNCED, "5.1.1", "550 5.1.1 Benutzer unbekannt: jörg"},
        {"a+b=c@example.com", RCPT_BOUNCED, "5.1.1", "550 5.1.1 no"},
    };
    struct envelope env;
    make_env(&env, "absender@例子.测试", r, 2);
    env.smtputf8 = 1;
    struct bounce_params p = params(NULL);
    static const char ORIG8[] = "From: Jörg <absender@例子.测试>\r\nSubject: grüße\r\n\r\nbody ü\r\n";
    size_t len;
    char *out = compose_ok(&env, ORIG8, sizeof ORIG8 - 1, &p, &len);
    assert_non_null(strstr(out, "\r\nFinal-Recipient: utf-8; j\\x{F6}rg@b\\x{FC}cher.example\r\n"));
    assert_non_null(strstr(out, "\r\nFinal-Recipient: rfc822; a+b=c@example.com\r\n"));
    assert_non_null(strstr(out, "\r\nDiagnostic-Code: smtp; 550 5.1.1 Benutzer unbekannt: j?rg\r\n"));
    /* the text part keeps UTF-8 and says so */
    assert_non_null(strstr(out, "\r\n<jörg@bücher.example>: 550 5.1.1 Benutzer unbekannt: jörg\r\n"));
    assert_non_null(strstr(out, "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"));
    assert_non_null(strstr(out, "\r\nTo: absender@例子.测试\r\n"));
    /* part 3 has 8-bit content */
    assert_non_null(strstr(out, "Content-Type: message/rfc822\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n\r\n"));
    assert_int_equal(run_python(out, len, "--recipients 2"), 0);
    free(out);

    /* headers only: 8bit only when the returned headers have 8-bit bytes */
    static const char ORIG7[] = "Subject: plain\r\n\r\nbody ü\r\n";
    p.size_limit = 0;
    out = compose_ok(&env, ORIG7, sizeof ORIG7 - 1, &p, &len);
    assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n\r\n"));
    assert_int_equal(count(out, "Content-Transfer-Encoding: 8bit"), 1);   /* part 1 only */
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);

    /* invalid UTF-8 in a reason never gets through */
    free(env.rcpt[1].reason);
    env.rcpt[1].reason = xstrdup("550 5.1.1 bad \xff\xc3 bytes \xc0\xaf");
    out = compose_ok(&env, ORIG7, sizeof ORIG7 - 1, &p, &len);
    assert_non_null(strstr(out, "\r\nDiagnostic-Code: smtp; 550 5.1.1 bad ?? bytes ??\r\n"));
    assert_non_null(strstr(out, "\r\n<a+b=c@example.com>: 550 5.1.1 bad ?? bytes ??\r\n"));
    assert_int_equal(run_python(out, len, NULL), 0);
    free(out);
    envelope_free(&env);
}

static void test_sanitize_reason(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"bob@example.com", RCPT_BOUNCED, "5.7.1",
         "550-5.7.1 first line\r\n550 5.7.1 second\r\nInjected: header\r\n\r\n--x\ttab\x1b[0m\x7f end\r\n"},
    };
    struct envelope env;
    make_env(&env, "sender@example.org", r, 1);
    struct bounce_params p = params(NULL);
    p.remote_mta = "mx\r\nX-Evil: 1";
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    const char *want = "550-5.7.1 first line 550 5.7.1 second Injected: header --x tab [0m end";
    char line[256];
    snprintf(line, sizeof line, "\r\nDiagnostic-Code: smtp; %s\r\n", want);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof line, "\r\n<bob@example.com>: %s\r\n", want);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\r\nRemote-MTA: dns; mx X-Evil: 1\r\n"));
    assert_null(strstr(out, "\r\nInjected:"));
    assert_null(strstr(out, "\r\nX-Evil"));
    assert_null(strstr(out, "\r\n--x"));
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x7f'));
    assert_int_equal(count(out, "\t"), 1 + count(ORIG, "\t"));   /* "\tboundary=" */
    assert_int_equal(run_python(out, len, "--recipients 1"), 0);
    free(out);
    envelope_free(&env);
}

static void test_long_reason(void **state)
{
    (void)state;
    /* 3000 octets of words, then one 2500-octet word */
    size_t n = 0, cap = 6000;
    char *reason = malloc(cap);
    assert_non_null(reason);
    n += (size_t)snprintf(reason, cap, "554 5.7.1");
    while (n < 3000)
        n += (size_t)snprintf(reason + n, cap - n, " word%zu", n);
    size_t wlen = n;
    reason[n++] = ' ';
    for (int i = 0; i < 2500; i++)
        reason[n++] = (char)('a' + i % 26);
    reason[n] = '\0';

    struct rspec r[] = {{"bob@example.com", RCPT_BOUNCED, "5.7.1", reason}};
    struct envelope env;
    make_env(&env, "sender@example.org", r, 1);
    struct bounce_params p = params(NULL);
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);   /* lines < 1000 */
    char *diag = field(out, "Diagnostic-Code");
    /* folded at spaces: unfolding restores the words; the long word may
     * carry an inserted space where it had to be broken */
    assert_memory_equal(diag, "smtp; 554 5.7.1 word", 20);
    char *tail = strstr(diag, " abcdefghij");
    assert_non_null(tail);
    assert_int_equal((size_t)(tail - diag), strlen("smtp; ") + wlen);
    assert_memory_equal(diag + 6, reason, wlen);
    size_t letters = 0;
    for (const char *c = tail; *c; c++)
        letters += (*c >= 'a' && *c <= 'z');
    assert_int_equal(letters, 2500);
    free(diag);
    assert_true(count(out, "\r\n ") >= 6);
    assert_int_equal(run_python(out, len, "--recipients 1"), 0);
    free(out);
    envelope_free(&env);
    free(reason);
}

static void test_status_defaults(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"a@example.com", RCPT_BOUNCED, "", NULL},
        {"b@example.com", RCPT_BOUNCED, "5.1", "550 bad"},
        {"c@example.com", RCPT_BOUNCED, "4.4.7", "message expired"},
        {"d@example.com", RCPT_BOUNCED, "x.1.1", "capture: mkdir /x: Permission denied"},
    };
    struct envelope env;
    make_env(&env, "", r, 4);   /* null sender: To: postmaster */
    struct bounce_params p = params(NULL);
    p.boundary_seed = NULL;
    size_t len;
    char *out = compose_ok(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_non_null(strstr(out, "Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\n"
                                "Status: 5.0.0\r\nRemote-MTA: dns; mx.example.com\r\n"
                                "Last-Attempt-Date: "));
    assert_non_null(strstr(out, "\r\n<a@example.com>: undeliverable (status 5.0.0)\r\n"));
    assert_non_null(strstr(out, "b@example.com\r\nAction: failed\r\nStatus: 5.0.0\r\n"));
    assert_non_null(strstr(out, "Diagnostic-Code: smtp; 550 bad\r\n"));
    assert_non_null(strstr(out, "c@example.com\r\nAction: failed\r\nStatus: 4.4.7\r\n"));
    assert_non_null(strstr(out, "Diagnostic-Code: X-Postern; message expired\r\n"));
    assert_non_null(strstr(out, "d@example.com\r\nAction: failed\r\nStatus: 5.0.0\r\n"));
    assert_non_null(strstr(out, "\r\nTo: postmaster@" HOST "\r\n"));
    assert_int_equal(run_python(out, len, "--recipients 4 --action failed"), 0);
    free(out);
    envelope_free(&env);
}

static void test_rejects(void **state)
{
    (void)state;
    const struct rspec r[] = {
        {"alice@example.com", RCPT_SENT, "2.0.0", "250 ok"},
        {"bob@example.com", RCPT_DEFERRED, "4.4.1", "timeout"},
    };
    struct envelope env;
    make_env(&env, "sender@example.org", r, 2);
    size_t len = 123;

    const unsigned char none[] = {0, 0};
    struct bounce_params p = params(none);
    errno = 0;
    assert_null(bounce_compose(&env, ORIG, sizeof ORIG - 1, &p, &len));
    assert_int_equal(errno, EINVAL);

    /* by state: nothing bounced */
    p = params(NULL);
    errno = 0;
    assert_null(bounce_compose(&env, ORIG, sizeof ORIG - 1, &p, &len));
    assert_int_equal(errno, EINVAL);

    const unsigned char one[] = {0, 1};
    p = params(one);
    p.myhostname = NULL;
    errno = 0;
    assert_null(bounce_compose(&env, ORIG, sizeof ORIG - 1, &p, &len));
    assert_int_equal(errno, EINVAL);
    p.myhostname = "bad host\r\n";
    assert_null(bounce_compose(&env, ORIG, sizeof ORIG - 1, &p, &len));
    p.myhostname = HOST;
    errno = 0;
    assert_null(bounce_compose(&env, NULL, 5, &p, &len));
    assert_int_equal(errno, EINVAL);
    assert_null(bounce_compose(NULL, ORIG, 5, &p, &len));
    assert_null(bounce_compose(&env, ORIG, 5, NULL, &len));
    assert_null(bounce_compose(&env, ORIG, 5, &p, NULL));

    /* and the good call still works */
    char *out = bounce_compose(&env, ORIG, sizeof ORIG - 1, &p, &len);
    assert_non_null(out);
    free(out);
    envelope_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_one_of_two),
        cmocka_unit_test(test_python_rejects),
        cmocka_unit_test(test_boundary_collision),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_delayed),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_sanitize_reason),
        cmocka_unit_test(test_long_reason),
        cmocka_unit_test(test_status_defaults),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

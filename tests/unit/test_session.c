/* Unit tests for the server session: the command table and the
 * dispatcher that obeys it (every verb's row and flags, the pure check
 * that decides whether a command may run), and whole sessions driven
 * through a bufferevent pair (an in-memory connection on an event base of
 * the test's own, stepped pass by pass): a pipelined group ends
 * at a SCF_LAST command, SCF_PRE_TLS decides what runs while TLS is
 * required, and the group commit's result is taken up on a later pass,
 * never inside the commit, with the session freed once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <ftw.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/runtime.h"
#include "fixture_runtime.h"
#include "queue/queue.h"
#include "smtp/server.h"
#include "smtp/session.h"
#include "smtp/session_cmd.h"

/* ---------- the table ---------- */

static void test_every_verb_has_a_row(void **state)
{
    (void)state;
    assert_null(session_cmd_find(CMD_UNKNOWN));
    int n = 0;
    for (int v = CMD_UNKNOWN + 1; strcmp(command_verb_name((enum smtp_verb)v), "UNKNOWN");
         v++, n++) {
        const struct session_cmd *c = session_cmd_find((enum smtp_verb)v);
        if (!c)
            fail_msg("%s has no row", command_verb_name((enum smtp_verb)v));
        assert_int_equal(c->verb, v);
        /* either a handler or a fixed reply, never both, never neither */
        if ((c->handler != NULL) == (c->reply != REPLY_NONE))
            fail_msg("%s: handler and reply", command_verb_name(c->verb));
        if (c->reply != REPLY_NONE)
            assert_non_null(reply_get(c->reply));
    }
    assert_int_equal(n, 14);
}

static void test_flags(void **state)
{
    (void)state;
    static const struct {
        enum smtp_verb v;
        unsigned flags;
    } want[] = {
        { CMD_HELO, SCF_LAST | SCF_PRE_TLS | SCF_JUNK },
        { CMD_EHLO, SCF_LAST | SCF_PRE_TLS | SCF_JUNK },
        { CMD_MAIL, SCF_NO_TX },
        { CMD_RCPT, SCF_NEED_TX },
        { CMD_DATA, SCF_LAST | SCF_NEED_TX | SCF_NEED_RCPT },
        { CMD_RSET, SCF_JUNK },
        { CMD_NOOP, SCF_LAST | SCF_PRE_TLS | SCF_JUNK },
        { CMD_QUIT, SCF_LAST | SCF_PRE_TLS },
        { CMD_HELP, SCF_JUNK },
        { CMD_VRFY, SCF_LAST | SCF_JUNK },
        { CMD_EXPN, SCF_LAST },
        { CMD_STARTTLS, SCF_LAST | SCF_PRE_TLS },
        { CMD_AUTH, SCF_LAST },
        { CMD_BDAT, 0 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct session_cmd *c = session_cmd_find(want[i].v);
        assert_non_null(c);
        if (c->flags != want[i].flags)
            fail_msg("%s: flags %#x, want %#x", command_verb_name(want[i].v), c->flags,
                     want[i].flags);
    }
    /* RFC 2920 3.1: these end a group; MAIL, RCPT and RSET must not, or
     * a pipelining client would wait a round trip per recipient */
    static const enum smtp_verb last[] = { CMD_EHLO, CMD_DATA, CMD_VRFY, CMD_EXPN,
                                           CMD_QUIT, CMD_NOOP };
    for (size_t i = 0; i < sizeof last / sizeof last[0]; i++)
        assert_true(session_cmd_find(last[i])->flags & SCF_LAST);
    assert_false(session_cmd_find(CMD_MAIL)->flags & SCF_LAST);
    assert_false(session_cmd_find(CMD_RCPT)->flags & SCF_LAST);
    assert_false(session_cmd_find(CMD_RSET)->flags & SCF_LAST);
}

static void test_help_lists_the_commands_that_work(void **state)
{
    (void)state;
    const char *help = reply_get(REPLY_HELP)->text;
    for (int v = CMD_UNKNOWN + 1; strcmp(command_verb_name((enum smtp_verb)v), "UNKNOWN");
         v++) {
        const struct session_cmd *c = session_cmd_find((enum smtp_verb)v);
        int works = c->handler != NULL || reply_get(c->reply)->code < 400;
        char word[32];
        snprintf(word, sizeof word, " %s", command_verb_name(c->verb));
        const char *p = strstr(help, word);
        int listed = p && (p[strlen(word)] == ' ' || p[strlen(word)] == '\0');
        if (works != listed)
            fail_msg("HELP %s %s", listed ? "lists" : "omits", command_verb_name(c->verb));
    }
}

static void test_check(void **state)
{
    (void)state;
    enum { NO, YES };
    static const struct {
        enum smtp_verb v;
        enum cmd_status st;
        int tls_required, tls_active, in_tx;
        size_t nrcpt;
        enum reply_id want;
    } vec[] = {
        { CMD_MAIL, CMD_OK, NO, NO, NO, 0, REPLY_NONE },
        { CMD_MAIL, CMD_OK, NO, NO, YES, 0, REPLY_NESTED_MAIL },
        { CMD_RCPT, CMD_OK, NO, NO, NO, 0, REPLY_NEED_MAIL },
        { CMD_RCPT, CMD_OK, NO, NO, YES, 0, REPLY_NONE },
        { CMD_RCPT, CMD_OK, NO, NO, YES, 3, REPLY_NONE },
        { CMD_DATA, CMD_OK, NO, NO, NO, 0, REPLY_NEED_MAIL },
        { CMD_DATA, CMD_OK, NO, NO, YES, 0, REPLY_NEED_RCPT },
        { CMD_DATA, CMD_OK, NO, NO, YES, 1, REPLY_NONE },
        { CMD_RSET, CMD_OK, NO, NO, YES, 1, REPLY_NONE },
        { CMD_EHLO, CMD_OK, NO, NO, YES, 1, REPLY_NONE },
        /* syntax before the transaction state, as before the table */
        { CMD_RCPT, CMD_ERR_ADDRESS, NO, NO, NO, 0, REPLY_BAD_RCPT },
        { CMD_RCPT, CMD_ERR_PARAM, NO, NO, YES, 0, REPLY_RCPT_PARAM },
        { CMD_RCPT, CMD_ERR_SYNTAX, NO, NO, YES, 0, REPLY_SYNTAX_RCPT },
        { CMD_MAIL, CMD_ERR_ADDRESS, NO, NO, YES, 0, REPLY_BAD_SENDER },
        { CMD_MAIL, CMD_ERR_PARAM, NO, NO, NO, 0, REPLY_MAIL_PARAM },
        { CMD_MAIL, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX_MAIL },
        { CMD_HELO, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX_HELO },
        { CMD_EHLO, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX_EHLO },
        { CMD_VRFY, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX_VRFY },
        { CMD_EXPN, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX_EXPN },
        { CMD_DATA, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX },
        { CMD_AUTH, CMD_ERR_SYNTAX, NO, NO, NO, 0, REPLY_SYNTAX },
        /* TLS required and not active: only SCF_PRE_TLS commands, and
         * nothing else of the command is looked at */
        { CMD_MAIL, CMD_OK, YES, NO, NO, 0, REPLY_MUST_STARTTLS },
        { CMD_MAIL, CMD_ERR_ADDRESS, YES, NO, NO, 0, REPLY_MUST_STARTTLS },
        { CMD_RSET, CMD_OK, YES, NO, NO, 0, REPLY_MUST_STARTTLS },
        { CMD_VRFY, CMD_OK, YES, NO, NO, 0, REPLY_MUST_STARTTLS },
        { CMD_AUTH, CMD_OK, YES, NO, NO, 0, REPLY_MUST_STARTTLS },
        { CMD_HELO, CMD_OK, YES, NO, NO, 0, REPLY_NONE },
        { CMD_EHLO, CMD_OK, YES, NO, NO, 0, REPLY_NONE },
        { CMD_NOOP, CMD_OK, YES, NO, NO, 0, REPLY_NONE },
        { CMD_QUIT, CMD_OK, YES, NO, NO, 0, REPLY_NONE },
        { CMD_STARTTLS, CMD_OK, YES, NO, NO, 0, REPLY_NONE },
        { CMD_EHLO, CMD_ERR_SYNTAX, YES, NO, NO, 0, REPLY_SYNTAX_EHLO },
        /* once TLS is active, as without it */
        { CMD_MAIL, CMD_OK, YES, YES, NO, 0, REPLY_NONE },
        { CMD_RCPT, CMD_OK, YES, YES, NO, 0, REPLY_NEED_MAIL },
        /* not required: tls_active does not matter */
        { CMD_MAIL, CMD_OK, NO, YES, NO, 0, REPLY_NONE },
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        const struct session_cmd_state ss = {
            .tls_required = vec[i].tls_required, .tls_active = vec[i].tls_active,
            .in_tx = vec[i].in_tx, .nrcpt = vec[i].nrcpt,
        };
        enum reply_id got = session_cmd_check(session_cmd_find(vec[i].v), vec[i].st, &ss);
        if (got != vec[i].want)
            fail_msg("vector %zu (%s): reply %d, want %d", i, command_verb_name(vec[i].v),
                     (int)got, (int)vec[i].want);
    }
    /* after STARTTLS, before the new EHLO: MAIL waits for it (before its
     * syntax is looked at), the rest is as usual */
    struct session_cmd_state ss = { .tls_active = 1, .need_helo = 1 };
    assert_int_equal(session_cmd_check(session_cmd_find(CMD_MAIL), CMD_OK, &ss),
                     REPLY_NEED_HELO);
    assert_int_equal(session_cmd_check(session_cmd_find(CMD_MAIL), CMD_ERR_ADDRESS, &ss),
                     REPLY_NEED_HELO);
    assert_int_equal(session_cmd_check(session_cmd_find(CMD_EHLO), CMD_OK, &ss), REPLY_NONE);
    assert_int_equal(session_cmd_check(session_cmd_find(CMD_RCPT), CMD_OK, &ss),
                     REPLY_NEED_MAIL);
    ss.need_helo = 0;
    assert_int_equal(session_cmd_check(session_cmd_find(CMD_MAIL), CMD_OK, &ss), REPLY_NONE);
}

/* ---------- sessions over a bufferevent pair ---------- */

struct fx {
    char dir[64];
    struct event_base *base;
    struct runtime *rt;
    struct cfg_source src;
    struct queue *queue;
    struct server *srv;
    struct bufferevent *pair[2];    /* [0] the session's end, [1] the client's */
    struct session *s;
    struct event *brk;              /* ends a pass of fx_step */
    unsigned long nsessions;        /* server_session_count at the start */
    char got[16384];                /* what the client read so far */
    size_t ngot;
};

static void fx_settle(struct fx *f);

static struct runtime *fx_current(void *arg)
{
    return ((struct fx *)arg)->rt;
}

static void on_break(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/postern-session-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], text[512], err[CONFIG_ERROR_MAX] = "";
    snprintf(path, sizeof path, "%s/postern.cf", f->dir);
    snprintf(text, sizeof text,
             "myhostname = mx.postern.test\n"
             "mydestination = postern.test\n"
             "queue_directory = %s/spool\n"
             "capture_directory = %s/mail\n"
             "smtpd_error_sleep_time = 0\n"
             "smtpd_hard_error_limit = 100\n",
             f->dir, f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);

    f->base = event_base_new();
    assert_non_null(f->base);
    f->brk = event_new(f->base, -1, 0, on_break, f->base);
    assert_non_null(f->brk);
    struct config_errors errs = { 0 };
    f->rt = fixture_runtime_load(path, &errs);
    if (!f->rt)
        fail_msg("config: %s", errs.n ? errs.msg[0] : "?");
    f->src = (struct cfg_source){ f, fx_current, fixture_runtime_ref, fixture_runtime_unref };
    snprintf(path, sizeof path, "%s/spool", f->dir);
    f->queue = queue_open(f->base, path, &f->src, NULL, NULL, err, sizeof err);
    if (!f->queue)
        fail_msg("queue_open: %s", err);
    /* no listener: the pair is the client */
    f->srv = server_new(f->base, f->queue, &f->src, NULL, NULL, NULL, 0, err, sizeof err);
    if (!f->srv)
        fail_msg("server_new: %s", err);

    assert_int_equal(bufferevent_pair_new(f->base, BEV_OPT_DEFER_CALLBACKS, f->pair), 0);
    bufferevent_enable(f->pair[1], EV_READ | EV_WRITE);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->nsessions = server_session_count(f->srv);
    f->s = session_new_bev(f->srv, f->pair[0], (struct sockaddr *)&sin, sizeof sin, NULL);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

/* The session was freed (it is not on the server's list, but leaves it). */
static int fx_session_gone(const struct fx *f)
{
    return server_session_count(f->srv) == f->nsessions - 1;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    if (!fx_session_gone(f))
        session_destroy(f->s);
    bufferevent_free(f->pair[1]);
    fx_settle(f);                        /* the pair is freed on the loop */
    server_free(f->srv);
    queue_free(f->queue);
    fixture_runtime_unref(f->rt);
    event_free(f->brk);
    event_base_free(f->base);
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* One pass of the loop: the callbacks due now run, those they make due
 * wait for the next pass (they queue up behind brk). */
static void fx_step(struct fx *f)
{
    event_active(f->brk, EV_TIMEOUT, 0);
    assert_true(event_base_loop(f->base, EVLOOP_NONBLOCK) >= 0);
}

/* Move what the client end received into f->got. */
static void fx_collect(struct fx *f)
{
    struct evbuffer *in = bufferevent_get_input(f->pair[1]);
    size_t n = evbuffer_get_length(in);
    assert_true(f->ngot + n < sizeof f->got);
    evbuffer_remove(in, f->got + f->ngot, n);
    f->ngot += n;
    f->got[f->ngot] = '\0';
}

/* Step until the client got text (or the session is gone, text NULL);
 * the bound is far above the few passes an in-memory exchange takes. */
static void fx_wait(struct fx *f, const char *text)
{
    for (int i = 0; i < 10000; i++) {
        fx_collect(f);
        if (text ? strstr(f->got, text) != NULL : fx_session_gone(f))
            return;
        fx_step(f);
    }
    fail_msg("waited in vain for %s; the client got:\n%s", text ? text : "the end", f->got);
}

/* Step until nothing is left to run. */
static void fx_settle(struct fx *f)
{
    for (int i = 0; i < 200; i++)
        fx_step(f);
}

static void fx_send(struct fx *f, const char *text)
{
    assert_int_equal(bufferevent_write(f->pair[1], text, strlen(text)), 0);
}

/* The replies arrived in this order (each a complete line). */
static void assert_in_order(const char *got, const char *const *lines, size_t n)
{
    const char *p = got;
    for (size_t i = 0; i < n; i++) {
        char want[300];
        snprintf(want, sizeof want, "%s\r\n", lines[i]);
        const char *q = strstr(p, want);
        if (!q)
            fail_msg("reply %zu \"%s\" missing or out of order in:\n%s", i, lines[i], got);
        p = q + strlen(want);
    }
}

/* The bytes of a bufferevent's output (its start is frozen: no copyout). */
static void peek(struct evbuffer *b, char *out, size_t outlen)
{
    struct evbuffer_iovec v[16];
    int n = evbuffer_peek(b, -1, NULL, v, 16);
    assert_true(n >= 0 && n <= 16);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        assert_true(o + v[i].iov_len < outlen);
        memcpy(out + o, v[i].iov_base, v[i].iov_len);
        o += v[i].iov_len;
    }
    out[o] = '\0';
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_pipelined_group_ends_at_last(void **state)
{
    struct fx *f = *state;
    fx_wait(f, "220 mx.postern.test");
    /* the client pipelines past EHLO (improperly) and reads nothing yet */
    bufferevent_disable(f->pair[1], EV_READ);
    fx_send(f, "EHLO client.test\r\nMAIL FROM:<a@postern.test>\r\n"
               "RCPT TO:<b@postern.test>\r\nNOOP\r\nRSET\r\n");
    fx_settle(f);
    /* the group ended at EHLO: its reply waits to be written, and MAIL
     * has not been taken from the input */
    struct evbuffer *out = bufferevent_get_output(f->pair[0]);
    struct evbuffer *in = bufferevent_get_input(f->pair[0]);
    char pending[2048] = "";
    peek(out, pending, sizeof pending);
    assert_non_null(strstr(pending, "250 SMTPUTF8\r\n"));
    assert_null(strstr(pending, "2.1.0"));
    char next[12] = "";
    evbuffer_copyout(in, next, sizeof next - 1);
    assert_string_equal(next, "MAIL FROM:<");
    assert_true(f->s->group_wait);

    /* the client reads: the rest runs, NOOP ending the next group */
    bufferevent_enable(f->pair[1], EV_READ);
    fx_wait(f, "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
    static const char *const order[] = {
        "250-mx.postern.test", "250-PIPELINING", "250 SMTPUTF8",
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok", "250 2.0.0 Ok",
    };
    assert_in_order(f->got, order, sizeof order / sizeof order[0]);
    assert_int_equal(count(f->got, "\r\n"), 1 + 6 + 4);
    fx_send(f, "QUIT\r\n");
    fx_wait(f, "221 2.0.0 Bye\r\n");
    fx_wait(f, NULL);
}

static void test_group_without_last_runs_in_one_pass(void **state)
{
    struct fx *f = *state;
    fx_wait(f, "220 ");
    fx_send(f, "EHLO client.test\r\n");
    fx_wait(f, "250 SMTPUTF8\r\n");
    /* MAIL, RCPT, RCPT, RSET: no SCF_LAST among them, all answered while
     * the client reads nothing */
    bufferevent_disable(f->pair[1], EV_READ);
    fx_send(f, "MAIL FROM:<a@postern.test>\r\nRCPT TO:<b@postern.test>\r\n"
               "RCPT TO:<c@postern.test>\r\nRSET\r\n");
    fx_settle(f);
    struct evbuffer *out = bufferevent_get_output(f->pair[0]);
    char pending[512] = "";
    peek(out, pending, sizeof pending);
    assert_string_equal(pending, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                                 "250 2.0.0 Ok\r\n");
    assert_false(f->s->group_wait);
    bufferevent_enable(f->pair[1], EV_READ);
    fx_wait(f, "250 2.0.0 Ok\r\n");
}

static void test_tls_required_allows_only_pre_tls_commands(void **state)
{
    struct fx *f = *state;
    /* what a listener with smtpd_tls_security_level = encrypt will set */
    f->s->tls_required = 1;
    fx_wait(f, "220 ");
    fx_send(f, "MAIL FROM:<a@postern.test>\r\nEHLO client.test\r\nRSET\r\nNOOP\r\n");
    fx_wait(f, "250 2.0.0 Ok\r\n");
    static const char *const order[] = {
        "530 5.7.0 Must issue a STARTTLS command first", "250 SMTPUTF8",
        "530 5.7.0 Must issue a STARTTLS command first", "250 2.0.0 Ok",
    };
    assert_in_order(f->got, order, sizeof order / sizeof order[0]);
    /* after STARTTLS (as it will set it), the rest is allowed */
    f->s->tls_active = 1;
    fx_send(f, "MAIL FROM:<a@postern.test>\r\nQUIT\r\n");
    fx_wait(f, "221 2.0.0 Bye\r\n");
    assert_non_null(strstr(f->got, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n221 2.0.0 Bye\r\n"));
    fx_wait(f, NULL);
}

static void test_transaction_state_from_the_table(void **state)
{
    struct fx *f = *state;
    fx_wait(f, "220 ");
    fx_send(f, "EHLO client.test\r\n");
    fx_wait(f, "250 SMTPUTF8\r\n");
    fx_send(f, "RCPT TO:<b@postern.test>\r\nDATA\r\n");
    fx_wait(f, "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n");
    fx_send(f, "MAIL FROM:<a@postern.test>\r\nDATA\r\n");
    fx_wait(f, "503 5.5.1 Error: need RCPT command\r\n");
    fx_send(f, "MAIL FROM:<a@postern.test>\r\nRSET\r\nMAIL FROM:<a@postern.test>\r\n");
    fx_wait(f, "503 5.5.1 Error: nested MAIL command\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n");
    /* EHLO ends the transaction too */
    fx_send(f, "EHLO again.test\r\nRCPT TO:<b@postern.test>\r\n");
    fx_wait(f, "250 SMTPUTF8\r\n503 5.5.1 Error: need MAIL command\r\n");
}

/* ---------- the group commit ---------- */

/* Bytes the session has replied so far, written or not. */
static size_t replied(struct fx *f)
{
    return f->ngot + evbuffer_get_length(bufferevent_get_input(f->pair[1])) +
           evbuffer_get_length(bufferevent_get_output(f->pair[0]));
}

/* Send a message, then after (pipelined), and hang up (EOF) if asked;
 * make the commit fail when fail is set: a file of its name in queue/
 * (the rename refuses to replace it). */
static void send_message(struct fx *f, int fail, const char *after, int hangup)
{
    fx_wait(f, "220 ");
    fx_send(f, "EHLO client.test\r\nMAIL FROM:<a@postern.test>\r\n"
               "RCPT TO:<b@postern.test>\r\nDATA\r\n");
    fx_wait(f, "354 ");
    if (fail) {
        char path[256];
        snprintf(path, sizeof path, "%s/spool/queue/%s", f->dir, f->s->tx.env.qid);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fclose(fp);
    }
    fx_send(f, "Subject: commit\r\n\r\nbody\r\n.\r\n");
    fx_send(f, after);
    if (hangup)
        bufferevent_flush(f->pair[1], EV_WRITE, BEV_FINISHED);
}

/* ... and step until the message is handed to the group commit. */
static void send_until_commit(struct fx *f, int fail, const char *after)
{
    send_message(f, fail, after, 0);
    for (int i = 0; i < 10000 && f->s->state != SS_COMMIT; i++)
        fx_step(f);
    assert_int_equal(f->s->state, SS_COMMIT);
    assert_int_equal(f->s->commit, SC_PENDING);
}

static void test_commit_result_is_taken_up_on_a_later_pass(void **state)
{
    struct fx *f = *state;
    send_until_commit(f, 1, "NOOP\r\nQUIT\r\n");
    /* step pass by pass until the commit has reported */
    int i;
    for (i = 0; i < 10000 && f->s->commit == SC_PENDING; i++) {
        size_t before = replied(f);
        fx_step(f);
        if (f->s->commit != SC_PENDING) {
            /* the pass that brought the result replied nothing and left
             * the pipelined commands alone */
            assert_int_equal(f->s->commit, SC_FAILED);
            assert_int_equal(f->s->state, SS_COMMIT);
            assert_int_equal(replied(f), before);
            char next[13] = "";
            evbuffer_copyout(bufferevent_get_input(f->pair[0]), next, sizeof next - 1);
            assert_string_equal(next, "NOOP\r\nQUIT\r\n");
        }
    }
    assert_int_equal(f->s->commit, SC_FAILED);
    /* a later pass answers the message, then what followed it */
    fx_wait(f, "221 2.0.0 Bye\r\n");
    assert_non_null(strstr(f->got, "354 End data with <CR><LF>.<CR><LF>\r\n"
                                    "451 4.3.0 Error: queue file write error\r\n"
                                    "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"));
    fx_wait(f, NULL);
}

static void test_queued_then_the_pipelined_commands(void **state)
{
    struct fx *f = *state;
    send_until_commit(f, 0, "NOOP\r\nQUIT\r\n");
    char want[128];
    snprintf(want, sizeof want, "250 2.0.0 Ok: queued as %s\r\n250 2.0.0 Ok\r\n"
             "221 2.0.0 Bye\r\n", f->s->tx.env.qid);
    fx_wait(f, want);
    fx_wait(f, NULL);
}

/* The client shuts down its sending side (EOF) while its message is with
 * the group commit: the session waits for the result, answers it (the
 * client may still read), then ends, once. */
static void eof_before_the_result(struct fx *f, int fail)
{
    send_message(f, fail, "", 1);
    int saw = 0;
    for (int i = 0; i < 10000 && !fx_session_gone(f); i++) {
        saw |= f->s->input_eof && f->s->commit == SC_PENDING;
        fx_step(f);
    }
    assert_true(fx_session_gone(f));
    assert_true(saw);
    fx_collect(f);
    assert_non_null(strstr(f->got, fail ? "\r\n451 4.3.0 Error: queue file write error\r\n"
                                        : "\r\n250 2.0.0 Ok: queued as "));
}

static void test_eof_before_the_result(void **state)
{
    eof_before_the_result(*state, 0);
}

static void test_eof_before_the_failure(void **state)
{
    eof_before_the_result(*state, 1);
}

static void test_eof_as_the_result_comes(void **state)
{
    struct fx *f = *state;
    send_until_commit(f, 0, "");
    bufferevent_flush(f->pair[1], EV_WRITE, BEV_FINISHED);
    fx_wait(f, "250 2.0.0 Ok: queued as ");
    fx_wait(f, NULL);
}

static void test_half_close_after_the_whole_dialogue(void **state)
{
    struct fx *f = *state;
    /* `postern sendmail -bs` relays a whole dialogue, then shuts down its
     * sending side and reads the replies: every command is answered */
    fx_send(f, "EHLO client\r\nMAIL FROM:<bs@postern.test>\r\nRCPT TO:<r@postern.test>\r\n"
               "DATA\r\nSubject: -bs\r\n\r\nvia stdin\r\n.\r\nQUIT\r\n");
    bufferevent_flush(f->pair[1], EV_WRITE, BEV_FINISHED);
    fx_wait(f, NULL);
    fx_collect(f);
    static const char *const order[] = {
        "220 mx.postern.test ESMTP", "250 SMTPUTF8", "250 2.1.0 Ok", "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>", "221 2.0.0 Bye",
    };
    assert_in_order(f->got, order, sizeof order / sizeof order[0]);
    assert_non_null(strstr(f->got, "\r\n250 2.0.0 Ok: queued as "));
}

static void test_eof_mid_command_line(void **state)
{
    struct fx *f = *state;
    fx_send(f, "NOOP\r\nNOO");
    bufferevent_flush(f->pair[1], EV_WRITE, BEV_FINISHED);
    fx_wait(f, NULL);
    fx_collect(f);
    assert_int_equal(count(f->got, "\r\n"), 2);
    assert_non_null(strstr(f->got, "\r\n250 2.0.0 Ok\r\n"));
}

/* A connection that breaks (an error, not an end of input) around the
 * commit: a socketpair whose client end closes with the replies unread, so
 * the session's reads and writes fail (ECONNRESET, EPIPE). */
static void test_connection_reset_around_the_commit(void **state)
{
    struct fx *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    struct session *s = session_new(f->srv, sv[0], LISTEN_SMTP, NULL, (struct sockaddr *)&sun,
                                    sizeof(sa_family_t), NULL);
    assert_non_null(s);
    unsigned long before = server_session_count(f->srv);
    static const char dialogue[] =
        "EHLO client\r\nMAIL FROM:<a@postern.test>\r\nRCPT TO:<b@postern.test>\r\n"
        "DATA\r\nSubject: broken\r\n\r\nbody\r\n.\r\n";
    assert_int_equal(write(sv[1], dialogue, sizeof dialogue - 1), (ssize_t)sizeof dialogue - 1);
    int i;
    for (i = 0; i < 10000 && s->state != SS_COMMIT; i++)
        fx_step(f);
    assert_int_equal(s->state, SS_COMMIT);
    close(sv[1]);
    for (i = 0; i < 10000 && server_session_count(f->srv) == before; i++)
        fx_step(f);
    assert_int_equal(server_session_count(f->srv), before - 1);
    f->nsessions = before - 1;          /* the fixture's session is still there */
}

static void test_connection_broken_while_committing(void **state)
{
    struct fx *f = *state;
    send_until_commit(f, 0, "");
    /* what libevent reports for a failed read (a pair cannot fail) */
    bufferevent_event_cb eventcb = NULL;
    void *arg = NULL;
    bufferevent_getcb(f->pair[0], NULL, NULL, &eventcb, &arg);
    assert_non_null(eventcb);
    eventcb(f->pair[0], BEV_EVENT_READING | BEV_EVENT_ERROR, arg);
    /* the session waits for the result, then ends without a reply */
    assert_false(fx_session_gone(f));
    assert_true(f->s->lost);
    assert_int_equal(f->s->commit, SC_PENDING);
    fx_collect(f);
    size_t before = f->ngot;
    fx_wait(f, NULL);
    fx_collect(f);
    assert_int_equal(f->ngot, before);
}

static void test_destroyed_while_committing(void **state)
{
    struct fx *f = *state;
    /* daemon exit with a commit pending: the teardown destroys the
     * session, then the server commits what it holds, for nobody */
    send_until_commit(f, 0, "QUIT\r\n");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);           /* as the daemon: EPIPE, not death */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_verb_has_a_row),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_help_lists_the_commands_that_work),
        cmocka_unit_test(test_check),
        cmocka_unit_test_setup_teardown(test_pipelined_group_ends_at_last, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_without_last_runs_in_one_pass, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_tls_required_allows_only_pre_tls_commands,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_transaction_state_from_the_table, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_result_is_taken_up_on_a_later_pass,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_queued_then_the_pipelined_commands, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_eof_before_the_result, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eof_before_the_failure, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eof_as_the_result_comes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_half_close_after_the_whole_dialogue, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_eof_mid_command_line, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_reset_around_the_commit, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_broken_while_committing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroyed_while_committing, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

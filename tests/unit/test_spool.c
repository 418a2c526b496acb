/* Unit tests for queue/spool, on a mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "queue/spool.h"

struct fx {
    char base[64];
    char dir[128];
    struct spool *sp;
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
    snprintf(f->base, sizeof f->base, "/tmp/postern-spool-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->dir, sizeof f->dir, "%s/spool", f->base);
    char err[256] = "";
    f->sp = spool_open(f->dir, err, sizeof err);
    if (!f->sp)
        fail_msg("spool_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    spool_close(f->sp);
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---------- fsync, interposed ----------
 *
 * The test binary's fsync replaces libc's for the spool code linked into
 * it: it records which directories were synced, so a test can check that a
 * removal was made durable before the function returned. */

#define FSYNC_MAX 32
static struct {
    int on, n;
    dev_t dev[FSYNC_MAX];
    ino_t ino[FSYNC_MAX];
} fsyncs;

int fsync(int fd)
{
    struct stat st;
    if (fsyncs.on && fsyncs.n < FSYNC_MAX && fstat(fd, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        fsyncs.dev[fsyncs.n] = st.st_dev;
        fsyncs.ino[fsyncs.n++] = st.st_ino;
    }
    return (int)syscall(SYS_fsync, fd);
}

static void fsync_record(void)
{
    fsyncs.on = 1;
    fsyncs.n = 0;
}

/* The same for the clock and getrandom: with fixed_id.on, every new
 * queue id is the same, as after the clock stepped back to the very
 * microsecond of an earlier message and the random part repeated. */
static struct {
    int on;
    struct timespec ts;
    uint32_t rnd;
} fixed_id;

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (fixed_id.on && clk == CLOCK_REALTIME) {
        *ts = fixed_id.ts;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, clk, ts);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    if (fixed_id.on) {
        for (size_t i = 0; i < len; i++)
            ((unsigned char *)buf)[i] = (unsigned char)(fixed_id.rnd >> (8 * (i % 4)));
        return (ssize_t)len;
    }
    return (ssize_t)syscall(SYS_getrandom, buf, len, flags);
}

/* ---------- helpers ---------- */

static char *path_of(struct fx *f, const char *sub, const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s/%s", f->dir, sub, name);
    return p[k];
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static int count_dir(struct fx *f, const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->dir, sub);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *p, const char *data, size_t n)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

static void make_env(struct envelope *env, size_t nrcpt)
{
    static const char *const r[] = {
        "alice@example.com", "\"john doe\"@example.com", "张三@例子.测试",
        "d@example.net",
    };
    memset(env, 0, sizeof *env);
    env->arrival_sec = 1700000000;
    env->arrival_usec = 42;
    env->sender = xstrdup("sender@example.org");
    env->client_addr = xstrdup("::1");
    env->client_name = xstrdup("localhost");
    env->helo = xstrdup("client.example.org");
    env->protocol = xstrdup("ESMTP");
    env->body_8bit = 1;
    env->nrcpt = nrcpt;
    env->rcpt = calloc(nrcpt, sizeof *env->rcpt);
    assert_non_null(env->rcpt);
    for (size_t i = 0; i < nrcpt; i++)
        env->rcpt[i].addr = xstrdup(r[i % 4]);
}

static char *make_content(size_t n)
{
    char *c = malloc(n);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        c[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n'
                                     : (char)('A' + (i * 7) % 26);
    return c;
}

/* create + write in uneven chunks + finish (not committed) */
static struct spool_msg *start_msg(struct fx *f, struct envelope *env,
                                   const char *content, size_t n)
{
    char err[256] = "";
    struct spool_msg *m = spool_msg_create(f->sp, env, err, sizeof err);
    if (!m)
        fail_msg("spool_msg_create: %s", err);
    assert_true(qid_valid(spool_msg_qid(m)));
    assert_string_equal(spool_msg_qid(m), env->qid);
    assert_true(exists(path_of(f, "tmp", env->qid)));
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = step < n - off ? step : n - off;
        assert_int_equal(spool_msg_write(m, content + off, k), 0);
        off += k;
        step = step * 3 + 1;       /* 1, 4, 13, ... up past 64 KiB */
    }
    assert_int_equal(spool_msg_size(m), n);
    return m;
}

/* a whole committed message; returns its qid in env->qid */
static void commit_one(struct fx *f, struct envelope *env, const char *c,
                       size_t n)
{
    struct spool_msg *m = start_msg(f, env, c, n);
    assert_int_equal(spool_msg_finish(m), 0);
    int ok = -1;
    assert_int_equal(spool_commit(f->sp, &m, 1, &ok), 1);
    assert_int_equal(ok, 1);
    assert_null(m);
}

struct seen {
    char ids[32][QID_LEN + 1];
    int n;
};

static void collect(const char *qid, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 32);
    memcpy(s->ids[s->n++], qid, QID_LEN + 1);
}

/* ---------- tests ---------- */

static void test_open_layout(void **state)
{
    struct fx *f = *state;
    static const char *const sub[] = {"", "tmp", "queue", "state",
                                      "quarantine", "hold"};
    for (size_t i = 0; i < 6; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", f->dir, sub[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
    }
    assert_string_equal(spool_path(f->sp), f->dir);
    /* opening again is fine */
    char err[256];
    struct spool *sp2 = spool_open(f->dir, err, sizeof err);
    assert_non_null(sp2);
    spool_close(sp2);
    /* a path that cannot be a directory */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/queue/x/y", f->dir);
    assert_null(spool_open(bad, err, sizeof err));
    assert_true(err[0] != '\0');
}

static void test_commit_scan_load(void **state)
{
    struct fx *f = *state;
    struct envelope env, back;
    size_t n = 200 * 1024 + 17;          /* several buffer fills */
    char *c = make_content(n);
    make_env(&env, 3);

    commit_one(f, &env, c, n);
    assert_false(exists(path_of(f, "tmp", env.qid)));
    assert_true(exists(path_of(f, "queue", env.qid)));
    struct stat st;
    assert_int_equal(stat(path_of(f, "queue", env.qid), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    struct seen s = {0};
    assert_int_equal(spool_scan(f->sp, collect, &s), 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], env.qid);

    char err[256] = "";
    const char *content = NULL;
    struct spool_map *map = spool_load(f->sp, env.qid, &back, &content, err,
                                       sizeof err);
    if (!map)
        fail_msg("spool_load: %s", err);
    assert_string_equal(back.qid, env.qid);
    assert_int_equal(back.arrival_sec, env.arrival_sec);
    assert_int_equal(back.arrival_usec, env.arrival_usec);
    assert_string_equal(back.sender, env.sender);
    assert_string_equal(back.client_addr, env.client_addr);
    assert_string_equal(back.client_name, env.client_name);
    assert_string_equal(back.helo, env.helo);
    assert_string_equal(back.protocol, env.protocol);
    assert_int_equal(back.body_8bit, 1);
    assert_int_equal(back.smtputf8, 0);
    assert_int_equal(back.nrcpt, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(back.rcpt[i].addr, env.rcpt[i].addr);
        assert_int_equal(back.rcpt[i].state, RCPT_PENDING);
    }
    assert_int_equal(back.attempts, 0);
    assert_int_equal(back.content_len, n);
    assert_memory_equal(content, c, n);
    spool_unload(map);
    envelope_free(&back);
    envelope_free(&env);
    free(c);
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct envelope env[4];
    struct spool_msg *m[4];
    int ok[4];
    char *c = make_content(1000);
    for (int i = 0; i < 4; i++) {
        make_env(&env[i], 1 + (size_t)i);
        m[i] = start_msg(f, &env[i], c, 100 * (size_t)i);
        if (i != 2)                     /* #2 never finished: must fail */
            assert_int_equal(spool_msg_finish(m[i]), 0);
    }
    assert_int_equal(spool_commit(f->sp, m, 4, ok), 3);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    assert_int_equal(ok[2], 0);
    assert_int_equal(ok[3], 1);
    for (int i = 0; i < 4; i++)
        assert_null(m[i]);
    assert_false(exists(path_of(f, "tmp", env[2].qid)));
    assert_false(exists(path_of(f, "queue", env[2].qid)));
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(count_dir(f, "queue"), 3);

    struct seen s = {0};
    assert_int_equal(spool_scan(f->sp, collect, &s), 3);
    for (int i = 1; i < s.n; i++)
        assert_true(strcmp(s.ids[i - 1], s.ids[i]) < 0);
    for (int i = 0; i < 4; i++)
        envelope_free(&env[i]);
    free(c);

    /* empty commit */
    assert_int_equal(spool_commit(f->sp, NULL, 0, NULL), 0);
}

static void test_scan_order_and_ids(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    char ids[10][QID_LEN + 1];
    for (int i = 0; i < 10; i++) {
        make_env(&env, 1);
        commit_one(f, &env, "x\r\n", 3);
        memcpy(ids[i], env.qid, sizeof ids[i]);
        envelope_free(&env);
    }
    /* ids are unique and (same clock) never go backwards */
    for (int i = 1; i < 10; i++)
        assert_true(memcmp(ids[i - 1], ids[i], 13) <= 0);
    struct seen s = {0};
    assert_int_equal(spool_scan(f->sp, collect, &s), 10);
    for (int i = 1; i < 10; i++)
        assert_true(strcmp(s.ids[i - 1], s.ids[i]) < 0);
    /* read-only listing gives the same */
    struct seen s2 = {0};
    assert_int_equal(spool_list(f->sp, collect, &s2), 10);
    assert_memory_equal(s.ids, s2.ids, sizeof s.ids);
}

static void test_tmp_leftovers(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    make_env(&env, 1);
    /* a message that was being received when we "crashed" */
    struct spool_msg *m = start_msg(f, &env, "abc", 3);
    assert_int_equal(spool_msg_finish(m), 0);
    char qid[QID_LEN + 1];
    memcpy(qid, env.qid, sizeof qid);
    write_file(path_of(f, "tmp", "junk"), "x", 1);
    write_file(path_of(f, "tmp", "0123456789ABCDEF.state"), "x", 1);

    /* spool_list touches nothing */
    assert_int_equal(spool_list(f->sp, NULL, NULL), 0);
    assert_int_equal(count_dir(f, "tmp"), 3);

    assert_int_equal(spool_scan(f->sp, NULL, NULL), 0);
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(count_dir(f, "queue"), 0);
    /* the lost message can no longer be committed */
    int ok = -1;
    assert_int_equal(spool_commit(f->sp, &m, 1, &ok), 0);
    assert_int_equal(ok, 0);
    assert_false(exists(path_of(f, "queue", qid)));
    envelope_free(&env);
}

static void test_abort(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    make_env(&env, 2);
    char *c = make_content(70000);
    struct spool_msg *m = start_msg(f, &env, c, 70000);
    spool_msg_abort(m);
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(count_dir(f, "queue"), 0);
    /* abort after finish too */
    m = start_msg(f, &env, c, 10);
    assert_int_equal(spool_msg_finish(m), 0);
    assert_int_equal(spool_msg_finish(m), -1);     /* only once */
    spool_msg_abort(m);
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(count_dir(f, "queue"), 0);
    spool_msg_abort(NULL);
    free(c);
    envelope_free(&env);
}

static void test_create_refuses_bad_envelope(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    char err[256] = "";
    make_env(&env, 1);
    free(env.helo);
    env.helo = xstrdup("a\r\nb");
    assert_null(spool_msg_create(f->sp, &env, err, sizeof err));
    assert_true(err[0] != '\0');
    assert_int_equal(count_dir(f, "tmp"), 0);
    envelope_free(&env);

    /* arrival 0 is filled from the clock */
    make_env(&env, 1);
    env.arrival_sec = 0;
    env.arrival_usec = 0;
    struct spool_msg *m = spool_msg_create(f->sp, &env, err, sizeof err);
    assert_non_null(m);
    assert_true(env.arrival_sec > 1600000000);
    char hex[9];
    snprintf(hex, sizeof hex, "%08llX", (unsigned long long)env.arrival_sec);
    assert_memory_equal(env.qid, hex, 8);
    spool_msg_abort(m);
    envelope_free(&env);
}

static void test_state_write_load(void **state)
{
    struct fx *f = *state;
    struct envelope env, back;
    char err[256] = "";
    const char *content;
    make_env(&env, 3);
    commit_one(f, &env, "hello\r\n", 7);

    struct spool_map *map = spool_load(f->sp, env.qid, &back, &content, err,
                                       sizeof err);
    assert_non_null(map);
    back.attempts = 2;
    back.next_attempt = 1700001000;
    back.rcpt[0].state = RCPT_SENT;
    strcpy(back.rcpt[0].dsn, "2.0.0");
    back.rcpt[0].reason = xstrdup("250 ok");
    back.rcpt[2].state = RCPT_DEFERRED;
    strcpy(back.rcpt[2].dsn, "4.4.1");
    back.rcpt[2].reason = xstrdup("connect\r\nrefused");
    assert_int_equal(spool_state_write(f->sp, &back), 0);
    assert_true(exists(path_of(f, "state", env.qid)));
    assert_int_equal(count_dir(f, "tmp"), 0);
    struct stat st;
    assert_int_equal(stat(path_of(f, "state", env.qid), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* rewrite: still one state file */
    back.attempts = 3;
    assert_int_equal(spool_state_write(f->sp, &back), 0);
    assert_int_equal(count_dir(f, "state"), 1);
    spool_unload(map);
    envelope_free(&back);

    map = spool_load(f->sp, env.qid, &back, &content, err, sizeof err);
    if (!map)
        fail_msg("spool_load: %s", err);
    assert_int_equal(back.attempts, 3);
    assert_int_equal(back.next_attempt, 1700001000);
    assert_int_equal(back.rcpt[0].state, RCPT_SENT);
    assert_string_equal(back.rcpt[0].dsn, "2.0.0");
    assert_string_equal(back.rcpt[0].reason, "250 ok");
    assert_int_equal(back.rcpt[1].state, RCPT_PENDING);
    assert_null(back.rcpt[1].reason);
    assert_int_equal(back.rcpt[2].state, RCPT_DEFERRED);
    assert_string_equal(back.rcpt[2].reason, "connect  refused");
    assert_memory_equal(content, "hello\r\n", 7);
    spool_unload(map);
    envelope_free(&back);

    /* scan keeps the state of a live message */
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 1);
    assert_true(exists(path_of(f, "state", env.qid)));

    /* a corrupt state file makes the message corrupt (never "all pending":
     * that would deliver to recipient 0 again) */
    write_file(path_of(f, "state", env.qid), "POSTERN-STATE 1\nattempts 1\n", 27);
    errno = 0;
    assert_null(spool_load(f->sp, env.qid, &back, &content, err, sizeof err));
    assert_int_equal(errno, EBADMSG);
    assert_null(back.rcpt);

    /* invalid qid never becomes a path */
    struct envelope bad = {0};
    memcpy(bad.qid, "../../x", 8);
    assert_int_equal(spool_state_write(f->sp, &bad), -1);
    envelope_free(&env);
}

static void test_remove(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    make_env(&env, 1);
    commit_one(f, &env, "x", 1);
    env.rcpt[0].state = RCPT_SENT;
    assert_int_equal(spool_state_write(f->sp, &env), 0);
    assert_int_equal(spool_remove(f->sp, env.qid), 0);
    assert_false(exists(path_of(f, "queue", env.qid)));
    assert_false(exists(path_of(f, "state", env.qid)));
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 0);
    /* removing again is harmless; bad ids refused */
    assert_int_equal(spool_remove(f->sp, env.qid), 0);
    assert_int_equal(spool_remove(f->sp, "../queue"), -1);

    char err[256];
    struct envelope back;
    errno = 0;
    assert_null(spool_load(f->sp, env.qid, &back, NULL, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_null(spool_load(f->sp, "../state/x", &back, NULL, err, sizeof err));
    assert_int_equal(errno, EINVAL);
    envelope_free(&env);
}

/* 1 when <spool>/<sub> was fsynced since fsync_record() */
static int dir_synced(struct fx *f, const char *sub)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", f->dir, sub);
    assert_int_equal(stat(p, &st), 0);
    for (int i = 0; i < fsyncs.n; i++)
        if (fsyncs.dev[i] == st.st_dev && fsyncs.ino[i] == st.st_ino)
            return 1;
    return 0;
}

/* `postern queue delete` of a message that has no state file yet (never
 * attempted, or only ever deferred by a transport that records nothing):
 * "deleted" must still hold after a crash, so the unlink is made durable
 * before spool_remove returns. */
static void test_remove_durable_without_state(void **state)
{
    struct fx *f = *state;
    struct envelope env, held;
    make_env(&env, 1);
    commit_one(f, &env, "x", 1);
    assert_false(exists(path_of(f, "state", env.qid)));
    fsync_record();
    assert_int_equal(spool_remove(f->sp, env.qid), 0);
    assert_false(exists(path_of(f, "queue", env.qid)));
    assert_true(dir_synced(f, "queue"));

    /* a held one: hold/ is synced */
    make_env(&held, 1);
    commit_one(f, &held, "y", 1);
    assert_int_equal(spool_hold(f->sp, held.qid), 0);
    fsync_record();
    assert_int_equal(spool_remove(f->sp, held.qid), 0);
    assert_false(exists(path_of(f, "hold", held.qid)));
    assert_true(dir_synced(f, "hold"));

    /* the delivery path's variant skips it (capture is idempotent) */
    envelope_free(&env);
    make_env(&env, 1);
    commit_one(f, &env, "z", 1);
    fsync_record();
    assert_int_equal(spool_remove_done(f->sp, env.qid), 0);
    assert_false(exists(path_of(f, "queue", env.qid)));
    assert_false(dir_synced(f, "queue"));
    fsyncs.on = 0;
    envelope_free(&env);
    envelope_free(&held);
}

/* A new queue id is never one that still lives anywhere in the spool:
 * a message on hold, a state file, a quarantined message. Otherwise the new
 * message would take over the held one's delivery state (recipients
 * "sent": never delivered), or block its release. */
static void test_create_never_reuses_an_id(void **state)
{
    struct fx *f = *state;
    static const char *const places[] = { "queue", "hold", "state", "quarantine" };
    fixed_id.on = 1;
    fixed_id.ts.tv_sec = 1700000000;
    fixed_id.ts.tv_nsec = 123456000;
    fixed_id.rnd = 0xabc;
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        struct envelope env;
        char err[256] = "";
        make_env(&env, 1);
        commit_one(f, &env, "x", 1);          /* takes the one possible id */
        assert_string_equal(env.qid, "6553F1001E240ABC");
        if (strcmp(places[i], "hold") == 0) {
            assert_int_equal(spool_hold(f->sp, env.qid), 0);
        } else if (strcmp(places[i], "state") == 0) {
            assert_int_equal(spool_state_write(f->sp, &env), 0);
            assert_int_equal(unlink(path_of(f, "queue", env.qid)), 0);
        } else if (strcmp(places[i], "quarantine") == 0) {
            assert_int_equal(spool_quarantine(f->sp, env.qid), 0);
        }
        struct envelope again;
        make_env(&again, 1);
        struct spool_msg *m = spool_msg_create(f->sp, &again, err, sizeof err);
        if (m)
            fail_msg("%s/%s exists, yet a new message got the same id %s", places[i],
                     env.qid, spool_msg_qid(m));
        assert_non_null(strstr(err, "no free queue id"));
        assert_int_equal(count_dir(f, "tmp"), 0);
        envelope_free(&again);
        /* clean up for the next place */
        unlink(path_of(f, places[i], env.qid));
        unlink(path_of(f, "state", env.qid));
        unlink(path_of(f, "queue", env.qid));
        envelope_free(&env);
    }
    fixed_id.on = 0;
}

/* Notices: staged (tmp/<X> + tmp/<X>.notice.<P>), published into queue/
 * after the parent's state names them; at start-up a staged notice is
 * published when its parent's state names it, deleted when not. */
static void test_notice_stage_publish_scan(void **state)
{
    struct fx *f = *state;
    struct envelope parent, notice;
    char x[QID_LEN + 1], name[64];
    make_env(&parent, 1);
    commit_one(f, &parent, "p", 1);

    /* staged, then published */
    make_env(&notice, 1);
    struct spool_msg *m = start_msg(f, &notice, "n", 1);
    assert_int_equal(spool_msg_finish(m), 0);
    assert_int_equal(spool_notice_stage(f->sp, m, parent.qid, x), 0);
    assert_string_equal(x, notice.qid);
    snprintf(name, sizeof name, "%s.notice.%s", x, parent.qid);
    assert_true(exists(path_of(f, "tmp", name)));
    assert_true(exists(path_of(f, "tmp", x)));            /* the id stays taken */
    assert_false(exists(path_of(f, "queue", x)));
    assert_int_equal(spool_notice_publish(f->sp, x, parent.qid), 0);
    assert_true(exists(path_of(f, "queue", x)));
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_int_equal(spool_notice_publish(f->sp, x, parent.qid), 0);  /* again: fine */
    assert_int_equal(spool_notice_publish(f->sp, x, "../../x"), -1);
    assert_int_equal(spool_remove(f->sp, x), 0);
    envelope_free(&notice);

    /* a crash before the decision: deleted at start-up */
    make_env(&notice, 1);
    m = start_msg(f, &notice, "n", 1);
    assert_int_equal(spool_msg_finish(m), 0);
    assert_int_equal(spool_notice_stage(f->sp, m, parent.qid, x), 0);
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 1);
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_false(exists(path_of(f, "queue", x)));
    envelope_free(&notice);

    /* a crash after the decision: published at start-up */
    make_env(&notice, 1);
    m = start_msg(f, &notice, "n", 1);
    assert_int_equal(spool_msg_finish(m), 0);
    assert_int_equal(spool_notice_stage(f->sp, m, parent.qid, x), 0);
    memcpy(parent.notice[0], x, sizeof x);
    parent.nnotice = 1;
    assert_int_equal(spool_state_write(f->sp, &parent), 0);
    struct seen seen = { .n = 0 };
    assert_int_equal(spool_scan(f->sp, collect, &seen), 2);
    assert_int_equal(count_dir(f, "tmp"), 0);
    assert_true(exists(path_of(f, "queue", x)));
    char err[256];
    const char *content;
    struct envelope back;
    struct spool_map *map = spool_load(f->sp, x, &back, &content, err, sizeof err);
    if (!map)
        fail_msg("published notice: %s", err);
    assert_memory_equal(content, "n", 1);
    spool_unload(map);
    envelope_free(&back);
    envelope_free(&notice);

    /* a staged notice of a parent without a state, or a bad name: deleted */
    write_file(path_of(f, "tmp", "6553F1001E240ABC.notice.6553F1001E240ABD"), "x", 1);
    write_file(path_of(f, "tmp", "6553F1001E240ABC.notice.6553f1001e240abd"), "x", 1);
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 2);
    assert_int_equal(count_dir(f, "tmp"), 0);

    /* a message that is not finished is not staged */
    make_env(&notice, 1);
    m = start_msg(f, &notice, "n", 1);
    errno = 0;
    assert_int_equal(spool_notice_stage(f->sp, m, parent.qid, x), -1);
    assert_int_equal(count_dir(f, "tmp"), 0);
    envelope_free(&notice);
    envelope_free(&parent);
}

static void test_orphan_state(void **state)
{
    struct fx *f = *state;
    /* a crash inside spool_remove: queue file gone, state left */
    write_file(path_of(f, "state", "0123456789ABCDEF"), "x", 1);
    /* a state file whose queue file was quarantined */
    write_file(path_of(f, "quarantine", "00000000000000AA"), "x", 1);
    write_file(path_of(f, "state", "00000000000000AA"), "y", 1);
    /* junk name in state/ */
    write_file(path_of(f, "state", "junk"), "z", 1);

    assert_int_equal(spool_scan(f->sp, NULL, NULL), 0);
    assert_int_equal(count_dir(f, "state"), 0);
    assert_true(exists(path_of(f, "quarantine", "00000000000000AA.state")));
    assert_true(exists(path_of(f, "quarantine", "junk")));
    assert_false(exists(path_of(f, "quarantine", "0123456789ABCDEF")));
}

static void test_quarantine_corrupt(void **state)
{
    struct fx *f = *state;
    struct envelope env, back;
    char err[256] = "";
    make_env(&env, 2);
    commit_one(f, &env, "Subject: x\r\n\r\nbody\r\n", 20);
    assert_int_equal(spool_state_write(f->sp, &env), 0);

    /* torn: cut the file short */
    char *qp = path_of(f, "queue", env.qid);
    struct stat st;
    assert_int_equal(stat(qp, &st), 0);
    assert_int_equal(truncate(qp, st.st_size - 3), 0);
    errno = 0;
    assert_null(spool_load(f->sp, env.qid, &back, NULL, err, sizeof err));
    assert_int_equal(errno, EBADMSG);
    assert_true(strstr(err, env.qid) != NULL);

    /* the caller quarantines; state goes along */
    assert_int_equal(spool_quarantine(f->sp, env.qid), 0);
    assert_false(exists(qp));
    assert_false(exists(path_of(f, "state", env.qid)));
    assert_true(exists(path_of(f, "quarantine", env.qid)));
    char sname[QID_LEN + 8];
    snprintf(sname, sizeof sname, "%s.state", env.qid);
    assert_true(exists(path_of(f, "quarantine", sname)));
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 0);
    assert_int_equal(spool_quarantine(f->sp, env.qid), -1);
    assert_int_equal(errno, ENOENT);

    /* an empty file (crash before any data reached the disk) */
    write_file(qp, "", 0);
    errno = 0;
    assert_null(spool_load(f->sp, env.qid, &back, NULL, err, sizeof err));
    assert_int_equal(errno, EBADMSG);
    /* quarantined beside the first one, never over it */
    assert_int_equal(spool_quarantine(f->sp, env.qid), 0);
    snprintf(sname, sizeof sname, "%s.1", env.qid);
    assert_true(exists(path_of(f, "quarantine", sname)));
    assert_int_equal(count_dir(f, "queue"), 0);

    /* a valid file under another valid id */
    struct envelope env2;
    make_env(&env2, 1);
    commit_one(f, &env2, "y", 1);
    char other[QID_LEN + 1] = "0000000000000001";
    assert_int_equal(link(path_of(f, "queue", env2.qid),
                          path_of(f, "queue", other)), 0);
    errno = 0;
    assert_null(spool_load(f->sp, other, &back, NULL, err, sizeof err));
    assert_int_equal(errno, EBADMSG);
    assert_int_equal(spool_quarantine(f->sp, other), 0);

    envelope_free(&env);
    envelope_free(&env2);
}

static void test_scan_quarantines_bad_names(void **state)
{
    struct fx *f = *state;
    struct envelope env;
    make_env(&env, 1);
    commit_one(f, &env, "x", 1);
    write_file(path_of(f, "queue", "bad name"), "x", 1);
    write_file(path_of(f, "queue", "0123456789abcdef"), "x", 1);
    write_file(path_of(f, "queue", ".hidden"), "x", 1);
    write_file(path_of(f, "quarantine", ".hidden"), "old", 3);

    struct seen s = {0};
    assert_int_equal(spool_scan(f->sp, collect, &s), 1);
    assert_string_equal(s.ids[0], env.qid);
    assert_int_equal(count_dir(f, "queue"), 1);
    assert_true(exists(path_of(f, "quarantine", "bad name")));
    assert_true(exists(path_of(f, "quarantine", "0123456789abcdef")));
    assert_true(exists(path_of(f, "quarantine", ".hidden.1")));
    envelope_free(&env);
}

static void test_hold_release(void **state)
{
    struct fx *f = *state;
    struct envelope env, back;
    char err[256];
    const char *content;
    make_env(&env, 2);
    commit_one(f, &env, "held\r\n", 6);
    env.rcpt[0].state = RCPT_SENT;
    assert_int_equal(spool_state_write(f->sp, &env), 0);
    assert_int_equal(spool_where(f->sp, env.qid), SPOOL_QUEUED);

    assert_int_equal(spool_hold(f->sp, env.qid), 0);
    assert_int_equal(spool_where(f->sp, env.qid), SPOOL_HELD);
    assert_false(exists(path_of(f, "queue", env.qid)));
    assert_true(exists(path_of(f, "hold", env.qid)));
    assert_true(exists(path_of(f, "state", env.qid)));
    /* holding twice: not in queue/ any more */
    errno = 0;
    assert_int_equal(spool_hold(f->sp, env.qid), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(spool_hold(f->sp, "../state/x"), -1);

    /* listed apart; the scan neither schedules it nor drops its state */
    struct seen q = {0}, h = {0};
    assert_int_equal(spool_list(f->sp, collect, &q), 0);
    assert_int_equal(spool_list_held(f->sp, collect, &h), 1);
    assert_string_equal(h.ids[0], env.qid);
    struct seen sc = {0};
    assert_int_equal(spool_scan(f->sp, collect, &sc), 0);
    assert_true(exists(path_of(f, "state", env.qid)));

    /* readable where it is, with its state; not via spool_load */
    errno = 0;
    assert_null(spool_load(f->sp, env.qid, &back, &content, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    struct spool_map *map = spool_load_held(f->sp, env.qid, &back, &content, err,
                                            sizeof err);
    if (!map)
        fail_msg("spool_load_held: %s", err);
    assert_int_equal(back.rcpt[0].state, RCPT_SENT);
    assert_memory_equal(content, "held\r\n", 6);
    spool_unload(map);
    envelope_free(&back);

    assert_int_equal(spool_release(f->sp, env.qid), 0);
    assert_int_equal(spool_where(f->sp, env.qid), SPOOL_QUEUED);
    assert_int_equal(spool_scan(f->sp, NULL, NULL), 1);
    map = spool_load(f->sp, env.qid, &back, &content, err, sizeof err);
    assert_non_null(map);
    assert_int_equal(back.rcpt[0].state, RCPT_SENT);
    spool_unload(map);
    envelope_free(&back);

    /* a held message can be removed, state and all */
    assert_int_equal(spool_hold(f->sp, env.qid), 0);
    assert_int_equal(spool_remove(f->sp, env.qid), 0);
    assert_int_equal(spool_where(f->sp, env.qid), SPOOL_ABSENT);
    assert_false(exists(path_of(f, "state", env.qid)));
    envelope_free(&env);
}

/* Loads are independent: the same message twice, another, unloaded in any
 * order; a mapping may outlive its spool handle. (Which messages are being
 * delivered is the scheduler's to know: test_scheduler.c.) */
static void test_load_twice(void **state)
{
    struct fx *f = *state;
    struct envelope a, b, back1, back2, back3;
    const char *c1, *c2, *c3;
    char err[256];
    make_env(&a, 1);
    make_env(&b, 1);
    commit_one(f, &a, "a", 1);
    commit_one(f, &b, "b", 1);
    struct spool_map *m1 = spool_load(f->sp, a.qid, &back1, &c1, err, sizeof err);
    struct spool_map *m2 = spool_load(f->sp, b.qid, &back2, &c2, err, sizeof err);
    struct spool_map *m3 = spool_load(f->sp, a.qid, &back3, &c3, err, sizeof err);
    assert_true(m1 && m2 && m3);
    spool_unload(m1);
    assert_string_equal(back3.qid, a.qid);      /* m3 still holds it */
    assert_memory_equal(c3, "a", 1);
    spool_unload(m2);
    spool_unload(m3);
    envelope_free(&back1);
    /* a mapping may outlive its spool handle */
    char err2[256];
    struct spool *sp2 = spool_open(f->dir, err2, sizeof err2);
    assert_non_null(sp2);
    m1 = spool_load(sp2, a.qid, &back1, &c1, err, sizeof err);
    assert_non_null(m1);
    spool_close(sp2);
    assert_memory_equal(c1, "a", 1);
    spool_unload(m1);
    envelope_free(&back1);
    envelope_free(&back2);
    envelope_free(&back3);
    envelope_free(&a);
    envelope_free(&b);
}

/* spool_open_existing makes nothing: no spool there is ENOENT. */
static void test_open_existing(void **state)
{
    struct fx *f = *state;
    char p[512], err[256];
    snprintf(p, sizeof p, "%s/none", f->base);
    errno = 0;
    assert_null(spool_open_existing(p, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    assert_false(exists(p));
    struct spool *sp2 = spool_open_existing(f->dir, err, sizeof err);
    assert_non_null(sp2);
    spool_close(sp2);
}

/* spool_own, as root: every part given to the owner, group/other write
 * taken away, a symbolic link refused. */
static void test_own(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    char err[512] = "", p[512];
    const uid_t uid = 65534;
    const gid_t gid = 65534;
    snprintf(p, sizeof p, "%s/hold", f->dir);
    assert_int_equal(chmod(p, 0777), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    if (spool_own(f->dir, uid, gid, err, sizeof err) < 0)
        fail_msg("spool_own: %s", err);
    static const char *const sub[] = {"", "tmp", "queue", "state", "quarantine", "hold"};
    for (size_t i = 0; i < 6; i++) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", f->dir, sub[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_gid, gid);
        assert_int_equal(st.st_mode & 0777, i == 0 ? 0711 : 0700);
    }
    /* a part that is a symbolic link: refused, nothing followed */
    char target[512];
    snprintf(target, sizeof target, "%s/elsewhere", f->base);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(p, sizeof p, "%s/quarantine", f->dir);
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(symlink(target, p), 0);
    assert_int_equal(spool_own(f->dir, uid, gid, err, sizeof err), -1);
    assert_non_null(strstr(err, "symbolic link"));
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_uid, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_layout),
        T(test_commit_scan_load),
        T(test_group_commit),
        T(test_scan_order_and_ids),
        T(test_tmp_leftovers),
        T(test_abort),
        T(test_create_refuses_bad_envelope),
        T(test_state_write_load),
        T(test_remove),
        T(test_remove_durable_without_state),
        T(test_create_never_reuses_an_id),
        T(test_notice_stage_publish_scan),
        T(test_orphan_state),
        T(test_quarantine_corrupt),
        T(test_scan_quarantines_bad_names),
        T(test_hold_release),
        T(test_load_twice),
        T(test_open_existing),
        T(test_own),
    };
    return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}

/* spool — the queue directory on disk (contract: spool.h; format and
 * procedures: docs/queue.md). Layout:
 *   <queue_directory>/tmp/<qid>         being received; removed at start-up
 *   <queue_directory>/tmp/<qid>.state   a state being written
 *   <queue_directory>/tmp/<qid>.notice.<parent>  a staged notice
 *   <queue_directory>/queue/<qid>       committed message (envelope+content)
 *   <queue_directory>/state/<qid>       per-recipient delivery state
 *   <queue_directory>/quarantine/<qid>  unreadable files moved aside, logged
 *   <queue_directory>/hold/<qid>        held: kept, not delivered; its state
 *                                       stays in state/<qid>
 * Commit: a queue/<qid> file exists only after its content was fsynced;
 * spool_commit fsyncs the queue/ directory before returning success.
 *
 * Every path operation goes through a directory fd held open from
 * spool_open (openat, renameat, unlinkat), and every name that reaches one
 * is a validated qid or was read from the directory itself. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_BUFSZ     (64 * 1024)        /* write(2) at most this often */
#define SPOOL_BUFMIN    (4 * 1024)
#define CREATE_TRIES    64

#include "envelope_codec.h"
#include "spool_internal.h"
#include "../util/errbuf.h"
#include "../util/fs.h"


void spool_close_keep_errno(int fd)
{
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
}

/* rename that never replaces an existing target: a committed message must
 * never be overwritten by another with the same id. */
int spool_rename_noreplace(int ofd, const char *oname, int nfd,
                            const char *nname)
{
    if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    /* file system without RENAME_NOREPLACE: link is atomic no-replace */
    if (linkat(ofd, oname, nfd, nname, 0) != 0)
        return -1;
    if (unlinkat(ofd, oname, 0) != 0 && errno != ENOENT) {
        int saved = errno;
        unlinkat(nfd, nname, 0);
        errno = saved;
        return -1;
    }
    return 0;
}

static uint32_t random32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, &r, sizeof r);
        close(fd);
        if (n == (ssize_t)sizeof r)
            return r;
    }
    /* weak fallback: uniqueness is still enforced by O_EXCL */
    static uint32_t ctr;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() * 2654435761u) ^
           (++ctr * 40503u);
}

/* ---------- open / close ---------- */

const char *const spool_dir_names[SPOOL_NDIRS] = {"tmp", "queue", "state", "quarantine",
                                                  "hold"};

/* A subdirectory made by root (e.g. `postern queue hold` while the daemon
 * is down) gets the owner of the queue directory, so that the daemon, which
 * runs as mail_owner, can use it. */
static int open_subdir(int dirfd, const char *name, int *created)
{
    if (mkdirat(dirfd, name, 0700) == 0) {
        *created = 1;
        struct stat st;
        if (geteuid() == 0 && fstat(dirfd, &st) == 0 && st.st_uid != 0 &&
            fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
            return -1;
    } else if (errno != EEXIST) {
        return -1;
    }
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static struct spool *open_spool(const char *dir, int create, char *err, size_t errlen)
{
    struct spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->path = strdup(dir))) {
        free(sp);
        errbuf_set(err, errlen, "spool %s: out of memory", dir);
        return NULL;
    }
    sp->dirfd = sp->tmpfd = sp->queuefd = sp->statefd = sp->quarfd = -1;
    sp->holdfd = -1;

    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        errbuf_set(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        errbuf_set(err, errlen, "open %s: %s", dir, strerror(errno));
        goto fail;
    }
    int *fds[SPOOL_NDIRS] = {&sp->tmpfd, &sp->queuefd, &sp->statefd, &sp->quarfd,
                             &sp->holdfd};
    int created = 0;
    for (size_t i = 0; i < SPOOL_NDIRS; i++) {
        *fds[i] = open_subdir(sp->dirfd, spool_dir_names[i], &created);
        if (*fds[i] < 0) {
            errbuf_set(err, errlen, "%s/%s: %s", dir, spool_dir_names[i],
                       strerror(errno));
            goto fail;
        }
    }
    if (created && fs_sync(sp->dirfd) != 0) {
        errbuf_set(err, errlen, "fsync %s: %s", dir, strerror(errno));
        goto fail;
    }
    return sp;

fail:;
    int e = errno;
    spool_close(sp);
    errno = e;
    return NULL;
}

struct spool *spool_open(const char *dir, char *err, size_t errlen)
{
    return open_spool(dir, 1, err, errlen);
}

struct spool *spool_open_existing(const char *dir, char *err, size_t errlen)
{
    return open_spool(dir, 0, err, errlen);
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    int fds[] = {sp->dirfd, sp->tmpfd, sp->queuefd, sp->statefd, sp->quarfd,
                 sp->holdfd};
    for (size_t i = 0; i < 6; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(sp->path);
    free(sp);
}

const char *spool_path(const struct spool *sp)
{
    return sp->path;
}

/* ---------- writing a message ---------- */

static int msg_flush(struct spool_msg *m)
{
    if (m->blen && fs_write_all(m->fd, m->buf, m->blen) != 0) {
        m->err = errno ? errno : EIO;
        return -1;
    }
    m->blen = 0;
    return 0;
}

/* The buffer starts small and grows to SPOOL_BUFSZ only for big messages:
 * many sessions in DATA at once should not each pin 64 KiB. */
static int msg_append(struct spool_msg *m, const char *p, size_t n)
{
    if (m->err) {
        errno = m->err;
        return -1;
    }
    if (n > m->cap - m->blen && m->cap < SPOOL_BUFSZ) {
        size_t nc = m->cap;
        while (nc < m->blen + n && nc < SPOOL_BUFSZ)
            nc *= 2;
        if (nc > SPOOL_BUFSZ)
            nc = SPOOL_BUFSZ;
        char *nb = realloc(m->buf, nc);
        if (nb) {                   /* else: carry on with the smaller one */
            m->buf = nb;
            m->cap = nc;
        }
    }
    if (n <= m->cap - m->blen) {
        memcpy(m->buf + m->blen, p, n);
        m->blen += n;
        return 0;
    }
    if (msg_flush(m) != 0)
        return -1;
    if (n >= m->cap) {
        if (fs_write_all(m->fd, p, n) != 0) {
            m->err = errno ? errno : EIO;
            return -1;
        }
        return 0;
    }
    memcpy(m->buf, p, n);
    m->blen = n;
    return 0;
}

static void msg_free(struct spool_msg *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    free(m->buf);
    free(m);
}

/* 1 when qid names anything besides tmp/<qid> (which O_EXCL just took): a
 * committed, held or quarantined message, a state file (a held message's,
 * or an orphan not yet cleaned), a state being written. A lookup error
 * other than ENOENT counts as in use. */
static int qid_in_use(struct spool *sp, const char *qid)
{
    char sname[QID_LEN + 8];
    snprintf(sname, sizeof sname, "%.16s.state", qid);
    const struct { int fd; const char *name; } where[] = {
        { sp->queuefd, qid }, { sp->holdfd, qid }, { sp->statefd, qid },
        { sp->quarfd, qid }, { sp->tmpfd, sname },
    };
    struct stat st;
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        if (fstatat(where[i].fd, where[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
            errno != ENOENT)
            return 1;
    return 0;
}

struct spool_msg *spool_msg_create(struct spool *sp, struct envelope *env,
                                   char *err, size_t errlen)
{
    struct spool_msg *m = calloc(1, sizeof *m);
    char *hdr = NULL;
    if (!m || !(m->buf = malloc(SPOOL_BUFMIN))) {
        free(m);
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    m->sp = sp;
    m->fd = -1;
    m->cap = SPOOL_BUFMIN;

    struct timespec ts = {0, 0};
    for (int tries = 0; tries < CREATE_TRIES; tries++) {
        clock_gettime(CLOCK_REALTIME, &ts);
        qid_make(m->qid, (long long)ts.tv_sec, ts.tv_nsec / 1000, random32());
        m->fd = openat(sp->tmpfd, m->qid,
                       O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                       0600);
        if (m->fd < 0) {
            if (errno == EEXIST || errno == EINTR)
                continue;
            errbuf_set(err, errlen, "create tmp/%s: %s", m->qid, strerror(errno));
            goto fail;
        }
        /* an id still in use anywhere (clock stepped back) is not reused */
        if (qid_in_use(sp, m->qid)) {
            close(m->fd);
            m->fd = -1;
            unlinkat(sp->tmpfd, m->qid, 0);
            continue;
        }
        break;
    }
    if (m->fd < 0) {
        errbuf_set(err, errlen, "create tmp file: no free queue id");
        goto fail;
    }

    memcpy(env->qid, m->qid, sizeof env->qid);
    if (env->arrival_sec == 0 && env->arrival_usec == 0) {
        env->arrival_sec = (long long)ts.tv_sec;
        env->arrival_usec = ts.tv_nsec / 1000;
    }
    size_t hlen = envelope_encode_header(env, &hdr);
    if (hlen == 0) {
        errbuf_set(err, errlen, "%s: envelope cannot be encoded (no recipient,"
                " or CR/LF in a value)", m->qid);
        goto fail_unlink;
    }
    if (msg_append(m, hdr, hlen) != 0) {
        errbuf_set(err, errlen, "write tmp/%s: %s", m->qid, strerror(errno));
        goto fail_unlink;
    }
    free(hdr);
    return m;

fail_unlink:
    free(hdr);
    unlinkat(sp->tmpfd, m->qid, 0);
fail:
    msg_free(m);
    return NULL;
}

const char *spool_msg_qid(const struct spool_msg *m)
{
    return m->qid;
}

int spool_msg_write(struct spool_msg *m, const void *buf, size_t len)
{
    if (m->finished) {
        errno = EINVAL;
        return -1;
    }
    if (msg_append(m, buf, len) != 0)
        return -1;
    m->content += len;
    return 0;
}

size_t spool_msg_size(const struct spool_msg *m)
{
    return m->content;
}

int spool_msg_finish(struct spool_msg *m)
{
    char tr[32];
    if (m->finished) {
        errno = EINVAL;
        return -1;
    }
    size_t n = envelope_encode_trailer(m->content, tr, sizeof tr);
    if (msg_append(m, tr, n) != 0 || msg_flush(m) != 0)
        return -1;
    m->finished = 1;
    free(m->buf);
    m->buf = NULL;
    m->cap = 0;
    return 0;
}

void spool_msg_abort(struct spool_msg *m)
{
    if (!m)
        return;
    if (m->fd >= 0) {
        close(m->fd);
        m->fd = -1;
    }
    unlinkat(m->sp->tmpfd, m->qid, 0);
    msg_free(m);
}

/* ---------- commit ---------- */

size_t spool_commit(struct spool *sp, struct spool_msg **msgs, size_t n,
                    int *ok)
{
    size_t committed = 0;
    unsigned char *good = n ? calloc(n, 1) : NULL;
    int nomem = n && !good;

    /* 1. per message: data to disk, close, rename into queue/ */
    for (size_t i = 0; i < n; i++) {
        struct spool_msg *m = msgs[i];
        if (!m)
            continue;
        int g = !nomem && m->finished && !m->err && m->fd >= 0 &&
                fs_sync_data(m->fd) == 0;
        if (m->fd >= 0) {
            if (close(m->fd) != 0 && errno != EINTR)
                g = 0;
            m->fd = -1;
        }
        if (g && spool_rename_noreplace(sp->tmpfd, m->qid, sp->queuefd,
                                  m->qid) != 0)
            g = 0;
        if (g) {
            good[i] = 1;
            committed++;
        } else {
            unlinkat(sp->tmpfd, m->qid, 0);
        }
    }

    /* 2. one directory fsync makes every rename durable. If it fails, the
     * renames may not survive a crash and no client was told 250: take them
     * all back so the clients retry. */
    if (committed > 0 && fs_sync(sp->queuefd) != 0) {
        for (size_t i = 0; i < n; i++)
            if (good[i]) {
                unlinkat(sp->queuefd, msgs[i]->qid, 0);
                good[i] = 0;
            }
        fs_sync(sp->queuefd);
        committed = 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (ok)
            ok[i] = good ? good[i] : 0;
        msg_free(msgs[i]);
        msgs[i] = NULL;
    }
    free(good);
    return committed;
}

/* ---------- load ---------- */

int spool_read_small_file(int dirfd, const char *name, char **out,
                           size_t *outlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        spool_close_keep_errno(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > STATE_MAX) {
        close(fd);
        errno = EBADMSG;
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (len == cap) {
            /* the file grew meanwhile: it is not ours to trust */
            free(buf);
            close(fd);
            errno = EBADMSG;
            return -1;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            spool_close_keep_errno(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    *out = buf;
    *outlen = len;
    return 0;
}

static struct spool_map *load_from(struct spool *sp, const char *dname,
                                   int dfd, const char *qid,
                                   struct envelope *env, const char **content,
                                   char *err, size_t errlen)
{
    char derr[128];
    struct spool_map *map = NULL;
    int fd = -1;

    memset(env, 0, sizeof *env);
    if (content)
        *content = NULL;
    if (!qid_valid(qid)) {
        errbuf_set(err, errlen, "invalid queue id");
        errno = EINVAL;
        return NULL;
    }
    fd = openat(dfd, qid, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        errbuf_set(err, errlen, "open %s/%s: %s", dname, qid, strerror(e));
        if (e == ELOOP)
            e = EBADMSG;                /* a symlink: not ours */
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        errbuf_set(err, errlen, "stat %s/%s: %s", dname, qid, strerror(e));
        close(fd);
        errno = e;
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (unsigned long long)st.st_size > (size_t)-1) {
        errbuf_set(err, errlen, "%s/%s: %s", dname, qid,
                S_ISREG(st.st_mode) ? (st.st_size == 0 ? "empty file (torn)"
                                                       : "file too large")
                                    : "not a regular file");
        close(fd);
        errno = EBADMSG;
        return NULL;
    }
    map = calloc(1, sizeof *map);
    if (!map) {
        errbuf_set(err, errlen, "out of memory");
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    map->len = (size_t)st.st_size;
    map->addr = mmap(NULL, map->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map->addr == MAP_FAILED) {
        int e = errno;
        errbuf_set(err, errlen, "mmap %s/%s: %s", dname, qid, strerror(e));
        close(fd);
        free(map);
        errno = e;
        return NULL;
    }
    close(fd);

    size_t content_offset = 0;
    if (envelope_decode(map->addr, map->len, env, &content_offset, derr, sizeof derr) != 0) {
        errbuf_set(err, errlen, "%s/%s: %s", dname, qid, derr);
        goto corrupt;
    }
    if (strcmp(env->qid, qid) != 0) {
        errbuf_set(err, errlen, "%s/%s: file holds id %s", dname, qid, env->qid);
        envelope_free(env);
        goto corrupt;
    }

    char *sbuf = NULL;
    size_t slen = 0;
    if (spool_read_small_file(sp->statefd, qid, &sbuf, &slen) != 0) {
        int e = errno;
        if (e != ENOENT) {
            errbuf_set(err, errlen, "state/%s: %s", qid,
                    e == EBADMSG ? "not a regular file or too large"
                                 : strerror(e));
            envelope_free(env);
            spool_unload(map);
            errno = e == ELOOP ? EBADMSG : e;
            return NULL;
        }
        /* no state yet: all pending, no attempts (as decoded) */
    } else {
        int r = envelope_decode_state(sbuf, slen, env, derr, sizeof derr);
        free(sbuf);
        if (r != 0) {
            errbuf_set(err, errlen, "state/%s: %s", qid, derr);
            envelope_free(env);
            goto corrupt;
        }
    }
    if (content)
        *content = (const char *)map->addr + content_offset;
    return map;

corrupt:
    spool_unload(map);
    errno = EBADMSG;
    return NULL;
}

struct spool_map *spool_load(struct spool *sp, const char *qid,
                             struct envelope *env, const char **content,
                             char *err, size_t errlen)
{
    return load_from(sp, "queue", sp->queuefd, qid, env, content, err, errlen);
}

struct spool_map *spool_load_held(struct spool *sp, const char *qid,
                                  struct envelope *env, const char **content,
                                  char *err, size_t errlen)
{
    return load_from(sp, "hold", sp->holdfd, qid, env, content, err, errlen);
}

void spool_unload(struct spool_map *map)
{
    if (!map)
        return;
    if (map->addr && map->addr != MAP_FAILED)
        munmap(map->addr, map->len);
    free(map);
}

/* ---------- state, remove, quarantine ---------- */

int spool_state_write(struct spool *sp, const struct envelope *env)
{
    char tname[QID_LEN + 8];
    char *buf = NULL;

    if (!qid_valid(env->qid)) {
        errno = EINVAL;
        return -1;
    }
    size_t n = envelope_encode_state(env, &buf);
    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    snprintf(tname, sizeof tname, "%.16s.state", env->qid);
    int fd = openat(sp->tmpfd, tname,
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    if (fd < 0) {
        free(buf);
        return -1;
    }
    int rc = fs_write_all(fd, buf, n);
    free(buf);
    if (rc == 0)
        rc = fs_sync_data(fd);
    if (close(fd) != 0 && rc == 0 && errno != EINTR)
        rc = -1;
    if (rc == 0 && renameat(sp->tmpfd, tname, sp->statefd, env->qid) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        unlinkat(sp->tmpfd, tname, 0);
        errno = e;
        return -1;
    }
    return fs_sync(sp->statefd);
}

/* durable == 0 skips the directory fsync when there is no state file (see
 * spool_remove_done). */
static int remove_msg(struct spool *sp, const char *qid, int durable)
{
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    /* Queue file first, made durable, then the state file: a crash in
     * between leaves an orphan state file (deleted by spool_scan), never a
     * queue file without its state (which would deliver everything again). */
    int dfd = sp->queuefd;
    if (unlinkat(sp->queuefd, qid, 0) != 0) {
        if (errno != ENOENT)
            return -1;
        /* a held message */
        if (unlinkat(sp->holdfd, qid, 0) == 0)
            dfd = sp->holdfd;
        else if (errno != ENOENT)
            return -1;
    }
    /* No state file: nothing was recorded, so a queue file that comes back
     * after a crash is simply delivered again, which spool_remove_done's
     * callers only allow for idempotent transports (capture overwrites the
     * same Maildir file; smtp writes a final state first). Skipping this
     * fsync saves one disk flush per message on the common path. */
    if (faccessat(sp->statefd, qid, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        return durable ? fs_sync(dfd) : 0;
    if (fs_sync(dfd) != 0)
        return -1;
    if (unlinkat(sp->statefd, qid, 0) != 0) {
        if (errno != ENOENT)
            return -1;
        return 0;
    }
    /* not strictly needed for safety (an orphan is cleaned at start-up) but
     * keeps the directory honest after a crash */
    return fs_sync(sp->statefd);
}

int spool_remove(struct spool *sp, const char *qid)
{
    return remove_msg(sp, qid, 1);
}

int spool_remove_done(struct spool *sp, const char *qid)
{
    return remove_msg(sp, qid, 0);
}

int spool_quarantine(struct spool *sp, const char *qid)
{
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    /* Queue file first (same reasoning as spool_remove), made durable; its
     * state file follows (spool_scan moves a straggler there as well). */
    int moved = 0;
    if (spool_quarantine_move(sp, sp->queuefd, qid, qid) == 0) {
        moved = 1;
        if (fs_sync(sp->quarfd) != 0 || fs_sync(sp->queuefd) != 0)
            return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    char base[QID_LEN + 8];
    snprintf(base, sizeof base, "%.16s.state", qid);
    if (spool_quarantine_move(sp, sp->statefd, qid, base) == 0) {
        moved = 1;
        if (fs_sync(sp->quarfd) != 0 || fs_sync(sp->statefd) != 0)
            return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    if (!moved) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

/* ---------- notices (bounces, delay warnings): see spool.h ---------- */

void spool_notice_name(char *out, const char *qid, const char *parent)
{
    snprintf(out, NOTICE_NAME_LEN + 1, "%.16s.notice.%.16s", qid, parent);
}

/* 1 when name is "<qid>.notice.<parent>" with two valid ids (copied out) */
int spool_notice_parse(const char *name, char *qid, char *parent)
{
    if (strlen(name) != NOTICE_NAME_LEN || memcmp(name + QID_LEN, ".notice.", 8) != 0)
        return 0;
    memcpy(qid, name, QID_LEN);
    qid[QID_LEN] = '\0';
    memcpy(parent, name + QID_LEN + 8, QID_LEN);
    parent[QID_LEN] = '\0';
    return qid_valid(qid) && qid_valid(parent);
}

int spool_notice_stage(struct spool *sp, struct spool_msg *m, const char *parent,
                       char *qid)
{
    char name[NOTICE_NAME_LEN + 1];
    if (!qid_valid(parent) || !m->finished || m->err || m->fd < 0) {
        errno = m->err ? m->err : EINVAL;
        goto fail;
    }
    if (fs_sync_data(m->fd) != 0)
        goto fail;
    if (close(m->fd) != 0 && errno != EINTR) {
        m->fd = -1;
        goto fail;
    }
    m->fd = -1;
    spool_notice_name(name, m->qid, parent);
    if (linkat(sp->tmpfd, m->qid, sp->tmpfd, name, 0) != 0)
        goto fail;
    /* the staged name must survive a crash that keeps the decision */
    if (fs_sync(sp->tmpfd) != 0) {
        int e = errno;
        unlinkat(sp->tmpfd, name, 0);
        errno = e;
        goto fail;
    }
    memcpy(qid, m->qid, QID_LEN + 1);
    msg_free(m);
    return 0;

fail:;
    int e = errno;
    unlinkat(sp->tmpfd, m->qid, 0);
    msg_free(m);
    errno = e;
    return -1;
}

int spool_notice_publish(struct spool *sp, const char *qid, const char *parent)
{
    char name[NOTICE_NAME_LEN + 1];
    if (!qid_valid(qid) || !qid_valid(parent)) {
        errno = EINVAL;
        return -1;
    }
    spool_notice_name(name, qid, parent);
    if (spool_rename_noreplace(sp->tmpfd, name, sp->queuefd, qid) != 0) {
        /* renamed by an earlier call whose fsync failed: sync again */
        int e = errno;
        struct stat st;
        if (e != ENOENT || fstatat(sp->queuefd, qid, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            errno = e;
            return -1;
        }
    }
    if (fs_sync(sp->queuefd) != 0)
        return -1;
    /* tmp/<qid> only kept the id taken (a leftover goes at start-up) */
    unlinkat(sp->tmpfd, qid, 0);
    return 0;
}

/* ---------- hold / release ---------- */

int spool_where(struct spool *sp, const char *qid)
{
    struct stat st;
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    if (fstatat(sp->queuefd, qid, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return SPOOL_QUEUED;
    if (errno != ENOENT)
        return -1;
    if (fstatat(sp->holdfd, qid, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return SPOOL_HELD;
    if (errno != ENOENT)
        return -1;
    return SPOOL_ABSENT;
}

/* One rename, then both directories made durable (target first: after a
 * crash the file is in one place or the other, never lost). */
static int move_between(int from, int to, const char *qid)
{
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    if (spool_rename_noreplace(from, qid, to, qid) != 0)
        return -1;
    if (fs_sync(to) != 0 || fs_sync(from) != 0)
        return -1;
    return 0;
}

int spool_hold(struct spool *sp, const char *qid)
{
    return move_between(sp->queuefd, sp->holdfd, qid);
}

int spool_release(struct spool *sp, const char *qid)
{
    return move_between(sp->holdfd, sp->queuefd, qid);
}

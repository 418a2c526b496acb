/* spool_scan — start-up: the spool given to mail_owner by root, recovery
 * (remove what was never acknowledged, quarantine what is not ours), and
 * the listings of queued and held messages in qid order. Split from
 * spool.c; same invariants (docs/queue.md). */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/fs.h"
#include "envelope_codec.h"
#include "spool_internal.h"
#include "../util/errbuf.h"

/* ---------- ownership, as root ---------- */

int spool_own(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    err[0] = '\0';
    int fd = fs_dir_open_safe(dir, uid, 0700, err, errlen);
    /* the top keeps o+x when it holds the submission socket */
    if (fd < 0 || fs_own_dir(fd, dir, uid, gid, 0711, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < SPOOL_NDIRS; i++) {
        int sfd = fs_subdir_open_safe(fd, dir, spool_dir_names[i], uid, err, errlen);
        if (sfd < 0 && errno == ENOENT && !err[0])
            continue;               /* spool_open makes it, as uid */
        if (sfd < 0)
            goto fail;
        char shown[4096];
        snprintf(shown, sizeof shown, "%s/%s", dir, spool_dir_names[i]);
        int rc = fs_own_dir(sfd, shown, uid, gid, 0700, err, errlen);
        close(sfd);
        if (rc < 0)
            goto fail;
    }
    close(fd);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---------- scan ---------- */

struct qid_list {
    char (*v)[QID_LEN + 1];
    size_t n, cap;
};

static int ql_add(struct qid_list *l, const char *qid)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        void *nv = realloc(l->v, nc * sizeof *l->v);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    memcpy(l->v[l->n++], qid, QID_LEN + 1);
    return 0;
}

static int qid_cmp(const void *a, const void *b)
{
    return memcmp(a, b, QID_LEN);
}

static int ql_has(const struct qid_list *l, const char *qid)
{
    return l->n && bsearch(qid, l->v, l->n, sizeof *l->v, qid_cmp) != NULL;
}

DIR *spool_open_dir(int parentfd, const char *name)
{
    /* a fresh fd each time: a dup would share the directory offset */
    int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        spool_close_keep_errno(fd);
    return d;
}

int spool_dot_or_dotdot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Move name out of dirfd into quarantine/<base>, <base>.1, ... without ever
 * replacing a file already there. */
int spool_quarantine_move(struct spool *sp, int dirfd, const char *name,
                           const char *base)
{
    char target[NAME_MAX + 1];
    for (int i = 0; i < QUAR_TRIES; i++) {
        int w = i == 0 ? snprintf(target, sizeof target, "%s", base)
                       : snprintf(target, sizeof target, "%.240s.%d", base, i);
        if (w < 0 || (size_t)w >= sizeof target)
            snprintf(target, sizeof target, "%.240s.%d", base, i);
        if (spool_rename_noreplace(dirfd, name, sp->quarfd, target) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

static long list_names(struct spool *sp, const char *dname, int dfd,
                       struct qid_list *l, int quarantine)
{
    DIR *d = spool_open_dir(sp->dirfd, dname);
    if (!d)
        return -1;
    int moved = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (spool_dot_or_dotdot(de->d_name))
            continue;
        if (qid_valid(de->d_name)) {
            if (ql_add(l, de->d_name) != 0) {
                closedir(d);
                errno = ENOMEM;
                return -1;
            }
        } else if (quarantine) {
            if (spool_quarantine_move(sp, dfd, de->d_name, de->d_name) == 0)
                moved = 1;
        }
    }
    closedir(d);
    if (moved) {
        fs_sync(sp->quarfd);
        fs_sync(dfd);
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, qid_cmp);
    return (long)l->n;
}

static long list_queue(struct spool *sp, struct qid_list *l, int quarantine)
{
    return list_names(sp, "queue", sp->queuefd, l, quarantine);
}

/* A staged notice whose parent's state names it was decided: it goes to
 * queue/ (a crash came between the decision and spool_notice_publish).
 * Any other one was not: deleted, with the rest of tmp/. */
static int finish_notice(struct spool *sp, const char *name, const char *qid,
                         const char *parent)
{
    char *buf = NULL;
    size_t len = 0;
    int decided = spool_read_small_file(sp->statefd, parent, &buf, &len) == 0 &&
                  envelope_state_has_notice(buf, len, qid);
    free(buf);
    return decided && spool_rename_noreplace(sp->tmpfd, name, sp->queuefd, qid) == 0;
}

static void clean_tmp(struct spool *sp)
{
    DIR *d = spool_open_dir(sp->dirfd, "tmp");
    if (!d)
        return;
    int published = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char qid[QID_LEN + 1], parent[QID_LEN + 1];
        if (spool_dot_or_dotdot(de->d_name))
            continue;
        if (spool_notice_parse(de->d_name, qid, parent) &&
            finish_notice(sp, de->d_name, qid, parent)) {
            published = 1;
            continue;
        }
        if (unlinkat(sp->tmpfd, de->d_name, 0) != 0 && errno == EISDIR)
            unlinkat(sp->tmpfd, de->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    if (published)
        fs_sync(sp->queuefd);
}

/* state/: names that are not qids go to quarantine; a state file without
 * its queue file is left over from spool_remove (queue file removed first)
 * and is deleted, or joins its queue file in quarantine. */
static void clean_state(struct spool *sp, const struct qid_list *l,
                        const struct qid_list *held)
{
    DIR *d = spool_open_dir(sp->dirfd, "state");
    if (!d)
        return;
    int changed = 0, moved = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (spool_dot_or_dotdot(nm))
            continue;
        if (!qid_valid(nm)) {
            if (spool_quarantine_move(sp, sp->statefd, nm, nm) == 0)
                changed = moved = 1;
            continue;
        }
        if (ql_has(l, nm) || ql_has(held, nm))
            continue;
        struct stat st;
        if (fstatat(sp->quarfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            char base[QID_LEN + 8];
            snprintf(base, sizeof base, "%.16s.state", nm);
            if (spool_quarantine_move(sp, sp->statefd, nm, base) == 0)
                changed = moved = 1;
        } else if (unlinkat(sp->statefd, nm, 0) == 0) {
            changed = 1;
        }
    }
    closedir(d);
    if (moved)
        fs_sync(sp->quarfd);
    if (changed)
        fs_sync(sp->statefd);
}

long spool_scan(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg)
{
    struct qid_list l = {0}, held = {0};
    clean_tmp(sp);
    long n = list_queue(sp, &l, 1);
    /* held messages keep their state files and are not scheduled */
    if (n < 0 || list_names(sp, "hold", sp->holdfd, &held, 1) < 0) {
        free(l.v);
        free(held.v);
        return -1;
    }
    clean_state(sp, &l, &held);
    for (size_t i = 0; i < l.n && cb; i++)
        cb(l.v[i], arg);
    free(l.v);
    free(held.v);
    return n;
}

static long list_readonly(struct spool *sp, const char *dname, int dfd,
                          void (*cb)(const char *qid, void *arg), void *arg)
{
    struct qid_list l = {0};
    long n = list_names(sp, dname, dfd, &l, 0);
    if (n < 0) {
        free(l.v);
        return -1;
    }
    for (size_t i = 0; i < l.n && cb; i++)
        cb(l.v[i], arg);
    free(l.v);
    return n;
}

long spool_list(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg)
{
    return list_readonly(sp, "queue", sp->queuefd, cb, arg);
}

long spool_list_held(struct spool *sp, void (*cb)(const char *qid, void *arg),
                     void *arg)
{
    return list_readonly(sp, "hold", sp->holdfd, cb, arg);
}


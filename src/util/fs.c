#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int mkdir_mode(const char *p, mode_t mode)
{
    if (mkdir(p, mode) < 0)
        return errno == EEXIST ? 0 : -1;
    /* the umask must not take what we ask for explicitly */
    return chmod(p, mode);
}

int fs_mkdir_p(const char *path, mode_t mode)
{
    return fs_mkdir_p_parents(path, 0755, mode);
}

int fs_mkdir_p_parents(const char *path, mode_t parents, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir_mode(buf, parents);
        *p = '/';
        if (rc < 0)
            return -1;
    }
    return mkdir_mode(buf, mode);
}

int fs_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int fs_sync(int fd)
{
    while (fsync(fd) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int fs_sync_data(int fd)
{
    while (fdatasync(fd) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int fs_write_temp(const char *dir, const void *data, size_t len, mode_t mode, char *tmp,
                  size_t tmplen, char *err, size_t errlen)
{
    if ((size_t)snprintf(tmp, tmplen, "%s/.postern-XXXXXX", dir) >= tmplen) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    int fd = mkstemp(tmp);      /* O_EXCL, mode 0600 from the start */
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(errno));
        return -1;
    }
    if (fs_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fs_sync(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int fs_rename_new(const char *tmp, const char *path, int replace, char *err, size_t errlen)
{
    int rc = replace ? rename(tmp, path)
                     : renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (rc < 0) {
        if (errno == EEXIST)
            snprintf(err, errlen, "%s exists; use -f to replace it", path);
        else
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int fs_sync_parent(const char *path)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int rc = fs_sync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int fs_mkdir_p_mode(const char *path, mode_t mode, char *err, size_t errlen)
{
    struct stat st;
    if (fs_mkdir_p(path, mode) < 0 || stat(path, &st) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_uid == geteuid() && (st.st_mode & 07777) != mode && chmod(path, mode) < 0) {
        snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The parts of a checked component's message: where it is and the fix. */
#define FS_LINK_FIX "postern does not follow symbolic links here while it runs as root; " \
    "use the real path, or replace the link with a directory"

/* Check what fd (the directory at shown) is: owned by root or owner. */
static int check_owner(int fd, const char *shown, uid_t owner, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", shown, strerror(errno));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != owner) {
        snprintf(err, errlen, "%s is owned by uid %lu, not by root or the mail_owner "
                 "(uid %lu): whoever owns it could redirect postern's files; "
                 "chown root %s, or move the directory",
                 shown, (unsigned long)st.st_uid, (unsigned long)owner, shown);
        return -1;
    }
    return 0;
}

/* openat(dirfd, name) without following a link; err says why not. */
static int open_component(int dirfd, const char *name, const char *shown, char *err,
                          size_t errlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    int e = errno;
    struct stat st;
    if (e == ELOOP || (e == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                       S_ISLNK(st.st_mode)))
        snprintf(err, errlen, "%s is a symbolic link: %s", shown, FS_LINK_FIX);
    else if (e == ENOTDIR)
        snprintf(err, errlen, "%s is not a directory: remove it or choose another path",
                 shown);
    else if (e != ENOENT)
        snprintf(err, errlen, "%s: %s", shown, strerror(e));
    else
        err[0] = '\0';
    errno = e;
    return -1;
}

int fs_dir_open_safe(const char *path, uid_t owner, mode_t mode, char *err, size_t errlen)
{
    char buf[4096], shown[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "%.200s: path empty or too long", path);
        return -1;
    }
    memcpy(buf, path, len + 1);
    int abs = buf[0] == '/';
    snprintf(shown, sizeof shown, "%s", abs ? "/" : ".");
    int fd = open(shown, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", shown, strerror(errno));
        return -1;
    }
    if (check_owner(fd, shown, owner, err, errlen) < 0)
        goto fail;
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, ".") == 0) {
            comp = next;
            continue;
        }
        size_t sl = strlen(shown);
        snprintf(shown + sl, sizeof shown - sl, "%s%s",
                 sl && shown[sl - 1] == '/' ? "" : "/", comp);
        if (!abs && strncmp(shown, "./", 2) == 0)
            memmove(shown, shown + 2, strlen(shown + 2) + 1);
        int sub = open_component(fd, comp, shown, err, errlen);
        if (sub < 0 && errno == ENOENT) {
            mode_t m = next ? 0755 : mode;
            if (mkdirat(fd, comp, m) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "mkdir %s: %s", shown, strerror(errno));
                goto fail;
            }
            sub = open_component(fd, comp, shown, err, errlen);
            /* the umask must not take what we ask for explicitly */
            if (sub >= 0 && fchmod(sub, m) < 0) {
                snprintf(err, errlen, "chmod %s: %s", shown, strerror(errno));
                close(sub);
                goto fail;
            }
        }
        if (sub < 0) {
            if (!err[0])
                snprintf(err, errlen, "%s: %s", shown, strerror(errno));
            goto fail;
        }
        close(fd);
        fd = sub;
        if (check_owner(fd, shown, owner, err, errlen) < 0)
            goto fail;
        comp = next;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int fs_subdir_open_safe(int dirfd, const char *dirpath, const char *name, uid_t owner,
                        char *err, size_t errlen)
{
    char shown[4096];
    snprintf(shown, sizeof shown, "%s/%s", dirpath, name);
    int fd = open_component(dirfd, name, shown, err, errlen);
    if (fd < 0)
        return -1;
    if (check_owner(fd, shown, owner, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int fs_own_dir(int fd, const char *shown, uid_t uid, gid_t gid, mode_t keep, char *err,
               size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || fchown(fd, uid, gid) < 0 ||
        fchmod(fd, (st.st_mode & keep & 07777) | 0700) < 0) {
        snprintf(err, errlen, "chown/chmod %.900s to uid %lu: %s", shown,
                 (unsigned long)uid, strerror(errno));
        return -1;
    }
    return 0;
}

int fs_read_file(const char *path, int flags, size_t max, char **text, size_t *len,
                 char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((flags & FS_READ_SECRET) && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s is %s by group or others (mode %04o): chmod 600 %s; "
                 "it holds a private key", path,
                 (st.st_mode & 044) ? "readable" : "writable",
                 (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    if ((flags & FS_READ_SECRET) && st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is owned by uid %lu: chown root %s; it holds a private "
                 "key", path, (unsigned long)st.st_uid, path);
        close(fd);
        return -1;
    }
    if ((unsigned long long)st.st_size > max) {
        snprintf(err, errlen, "%s: larger than %zu bytes; is it the right file?", path, max);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    /* the size read is the bound: a file that grows meanwhile is cut */
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int fs_free_bytes(const char *path, unsigned long long *free_bytes, int *readonly)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        return -1;
    *free_bytes = (unsigned long long)sv.f_bavail * (unsigned long long)sv.f_frsize;
    *readonly = (sv.f_flag & ST_RDONLY) != 0;
    return 0;
}

/* spool_side — small files of the queue's own beside the messages (the
 * upstream quota counts: queue/quota.h), in the queue directory itself:
 * written whole and atomically (tmp/, fdatasync, rename, fsync of the
 * directory), read back with a size cap. Owned by whoever writes them: the
 * daemon's worker, mail_owner. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_internal.h"
#include "../util/fs.h"

/* Lower-case letters and '_' only: never a queue id, never a path. */
static int side_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_'))
            return 0;
    return 1;
}

int spool_side_write(struct spool *sp, const char *name, const void *buf, size_t len)
{
    char tname[48];
    if (!side_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(tname, sizeof tname, "%s.side", name);
    int fd = openat(sp->tmpfd, tname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    if (fd < 0)
        return -1;
    int rc = fs_write_all(fd, buf, len);
    if (rc == 0)
        rc = fs_sync_data(fd);
    if (close(fd) != 0 && rc == 0 && errno != EINTR)
        rc = -1;
    if (rc == 0 && renameat(sp->tmpfd, tname, sp->dirfd, name) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        unlinkat(sp->tmpfd, tname, 0);
        errno = e;
        return -1;
    }
    return fs_sync(sp->dirfd);
}

int spool_side_read(struct spool *sp, const char *name, size_t max, char **buf, size_t *len)
{
    struct stat st;
    *buf = NULL;
    *len = 0;
    if (!side_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        int e = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        close(fd);
        errno = e;
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *p = malloc(n + 1);
    if (!p) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    p[got] = '\0';
    *buf = p;
    *len = got;
    return 0;
}

#include "unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

int unixsock_addr(const char *path, struct sockaddr_un *sun, int *dirfd)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    *dirfd = -1;
    size_t len = strlen(path);
    if (len == 0) {
        errno = ENOENT;
        return -1;
    }
    if (len < sizeof sun->sun_path) {
        memcpy(sun->sun_path, path, len + 1);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || strlen(slash + 1) > 64) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char dir[4096];
    size_t dl = (size_t)(slash - path);
    if (dl >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    snprintf(sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/%s", fd, slash + 1);
    *dirfd = fd;
    return 0;
}

int unixsock_connect(const char *path)
{
    return unixsock_connect_timeout(path, 0);
}

int unixsock_connect_timeout(const char *path, int timeout_ms)
{
    struct sockaddr_un sun;
    int dirfd;
    if (unixsock_addr(path, &sun, &dirfd) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (dirfd >= 0)
            close(dirfd);
        errno = e;
        return -1;
    }
    if (timeout_ms > 0) {
        /* a unix connect blocks while the listener's backlog is full: the
         * send timeout bounds it (Linux applies SO_SNDTIMEO to connect) */
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    while (rc < 0 && errno == EINTR);
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (rc < 0 && timeout_ms > 0 && (e == EAGAIN || e == EINPROGRESS))
        e = ETIMEDOUT;
    if (rc < 0) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* 1 when something accepts connections at sun (a live listener). */
static int unixsock_alive(const struct sockaddr_un *sun)
{
    /* a process killed a moment ago may still hold the socket: ask for up
     * to 2 s */
    for (int tries = 0;; tries++) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0)
            return 0;
        int rc = connect(probe, (const struct sockaddr *)sun, sizeof *sun);
        int e = errno;
        close(probe);
        if (rc != 0 && e != EAGAIN && e != EINPROGRESS)
            return 0;
        if (tries == 40)
            return 1;
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int unixsock_listen(const char *path, mode_t mode, int backlog, struct unixsock_id *id,
                    char *err, size_t errlen)
{
    struct sockaddr_un sun;
    int dirfd = -1, fd = -1;
    if (unixsock_addr(path, &sun, &dirfd) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; remove it", path);
            errno = EEXIST;
            goto fail;
        }
        if (unixsock_alive(&sun)) {
            snprintf(err, errlen, "%s accepts connections", path);
            errno = EADDRINUSE;
            goto fail;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "remove stale socket %s: %s", path, strerror(errno));
            goto fail;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(path, mode) < 0 ||
        listen(fd, backlog) < 0 || lstat(path, &st) < 0) {
        snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
        goto fail;
    }
    if (dirfd >= 0)
        close(dirfd);
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    return fd;

fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (dirfd >= 0)
        close(dirfd);
    errno = e;
    return -1;
}

void unixsock_unlink(const char *path, const struct unixsock_id *id)
{
    struct stat st;
    if (lstat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino)
        unlink(path);
}

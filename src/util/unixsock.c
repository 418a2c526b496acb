#include "unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    while (rc < 0 && errno == EINTR);
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (rc < 0) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

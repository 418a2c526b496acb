/* unixsock — unix-domain socket addresses for paths of any length. */
#ifndef POSTERN_UTIL_UNIXSOCK_H
#define POSTERN_UTIL_UNIXSOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* Fill *sun for path. A path too long for sun_path (108 bytes) is reached
 * as /proc/self/fd/<dirfd>/<name> with *dirfd an O_PATH descriptor of its
 * directory, to be closed after bind/connect (*dirfd is -1 otherwise).
 * -1 with errno (ENAMETOOLONG when even that does not fit). */
int unixsock_addr(const char *path, struct sockaddr_un *sun, int *dirfd);

/* A connected SOCK_STREAM socket (close-on-exec) to path, or -1 with errno
 * (ENOENT: no socket; ECONNREFUSED: nobody listens). */
int unixsock_connect(const char *path);

/* The same, the connect bounded by timeout_ms (> 0; ETIMEDOUT when a full
 * backlog holds it longer). The descriptor stays blocking. */
int unixsock_connect_timeout(const char *path, int timeout_ms);

/* Which file a listening socket is (dev, inode), to remove only our own. */
struct unixsock_id {
    dev_t dev;
    ino_t ino;
};

/* A SOCK_STREAM socket listening at path (non-blocking, close-on-exec), the
 * file set to mode. A socket file left by a process that is gone (nobody
 * accepts on it) is replaced; one that still accepts connections is not:
 * -1 with errno EADDRINUSE (asked for up to 2 s: a process killed a moment
 * ago may still hold it). Any other failure: -1 with errno and err. */
int unixsock_listen(const char *path, mode_t mode, int backlog, struct unixsock_id *id,
                    char *err, size_t errlen);

/* Remove the socket file at path if it is still the one id names. */
void unixsock_unlink(const char *path, const struct unixsock_id *id);

#endif

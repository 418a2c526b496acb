/* unixsock — unix-domain socket addresses for paths of any length. */
#ifndef POSTERN_UTIL_UNIXSOCK_H
#define POSTERN_UTIL_UNIXSOCK_H

#include <sys/socket.h>
#include <sys/un.h>

/* Fill *sun for path. A path too long for sun_path (108 bytes) is reached
 * as /proc/self/fd/<dirfd>/<name> with *dirfd an O_PATH descriptor of its
 * directory, to be closed after bind/connect (*dirfd is -1 otherwise).
 * -1 with errno (ENAMETOOLONG when even that does not fit). */
int unixsock_addr(const char *path, struct sockaddr_un *sun, int *dirfd);

/* A connected SOCK_STREAM socket (close-on-exec) to path, or -1 with errno
 * (ENOENT: no socket; ECONNREFUSED: nobody listens). */
int unixsock_connect(const char *path);

#endif

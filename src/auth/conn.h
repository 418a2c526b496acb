/* conn — a blocking connection to a backend's unix socket (saslauthd,
 * Dovecot auth) for a worker thread, with one deadline for everything: a
 * stuck backend costs a worker the timeout, never the event loop. Private
 * to src/auth/. */
#ifndef POSTERN_AUTH_CONN_H
#define POSTERN_AUTH_CONN_H

#include <stddef.h>

#define CONN_LINE_MAX 8192

struct conn {
    int fd;
    long long deadline;         /* CLOCK_MONOTONIC milliseconds */
    char buf[CONN_LINE_MAX];    /* read, not yet taken */
    size_t have;
};

/* Connect to the socket at path within timeout_ms. 0, or -1 with errno
 * (ENOENT, EACCES, ECONNREFUSED, ETIMEDOUT...). */
int conn_open(struct conn *c, const char *path, int timeout_ms);
void conn_close(struct conn *c);

/* 0, or -1 with errno (ETIMEDOUT at the deadline, EPIPE...). */
int conn_write(struct conn *c, const void *p, size_t len);

/* Exactly len bytes. 0, or -1 with errno (ECONNRESET for an early EOF). */
int conn_read_exact(struct conn *c, void *p, size_t len);

/* One line without its LF, NUL-terminated, in line (CONN_LINE_MAX bytes).
 * Its length, or -1 with errno (EMSGSIZE for a longer line, ECONNRESET for
 * EOF before a line end). */
long conn_read_line(struct conn *c, char *line);

#endif

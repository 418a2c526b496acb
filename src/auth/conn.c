/* conn — deadline-bound blocking I/O on a unix socket (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../util/unixsock.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conn_open(struct conn *c, const char *path, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->deadline = now_ms() + timeout_ms;
    int fd = unixsock_connect_timeout(path, timeout_ms);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    explicit_bzero(c->buf, sizeof c->buf);
    c->have = 0;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_for(struct conn *c, short events)
{
    for (;;) {
        long long left = c->deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = { c->fd, events, 0 };
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int conn_write(struct conn *c, const void *p, size_t len)
{
    const char *s = p;
    while (len > 0) {
        ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
        if (n > 0) {
            s += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (wait_for(c, POLLOUT) < 0)
            return -1;
    }
    return 0;
}

/* More bytes into c->buf. 0, or -1 (ECONNRESET at EOF). */
static int fill(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
        if (n > 0) {
            c->have += (size_t)n;
            return 0;
        }
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (wait_for(c, POLLIN) < 0)
            return -1;
    }
}

int conn_read_exact(struct conn *c, void *p, size_t len)
{
    char *d = p;
    while (len > 0) {
        if (c->have == 0 && fill(c) < 0)
            return -1;
        size_t k = c->have < len ? c->have : len;
        memcpy(d, c->buf, k);
        memmove(c->buf, c->buf + k, c->have - k);
        c->have -= k;
        d += k;
        len -= k;
    }
    return 0;
}

long conn_read_line(struct conn *c, char *line)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->have);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            memcpy(line, c->buf, n);
            line[n] = '\0';
            memmove(c->buf, nl + 1, c->have - n - 1);
            c->have -= n + 1;
            return (long)n;
        }
        if (c->have == sizeof c->buf) {
            errno = EMSGSIZE;
            return -1;
        }
        if (fill(c) < 0)
            return -1;
    }
}

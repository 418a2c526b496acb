/* smtpload — the bench's SMTP load generator (bench/README.md). One thread, epoll, loopback only.
 *
 * Load mode: SESS concurrent sessions send MSGS messages in total to 127.0.0.1:PORT, each session
 * in lock-step (EHLO, MAIL, RCPT, DATA, body, like smtp-source: no pipelining), reusing its
 * connection for the next message, or with -c a new connection per message. For every message it
 * measures the latency of the reply to end-of-data: from the moment the last byte of "\r\n.\r\n"
 * is handed to the kernel to the moment the complete reply is read. It prints one line
 *   sent=N failed=N elapsed=SECONDS ungreeted=N error="first error or empty"
 * where elapsed runs from the start to the last message's reply (the QUITs are not timed), and
 * ungreeted counts sessions that were still waiting for a greeting when every message was done.
 * and writes the latencies, one per line in microseconds, to the -L file.
 * Exit status 0 when every message got a 2xx reply, 1 otherwise, 2 on usage errors.
 *
 * Idle mode (-i N): opens N connections and waits (at most -t seconds) for each one's greeting,
 * prints "open=N greeted=N failed=N error=..." and then holds every connection open until
 * SIGTERM/SIGINT or -H seconds pass. Used to measure a server's memory with N idle clients.
 *
 * Every wait is bounded by -t (default 120 s). Replies are parsed with length checks: a reply line
 * longer than the session buffer is an error, not an overflow.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { ST_CONNECT, ST_GREET, ST_EHLO, ST_MAIL, ST_RCPT, ST_DATA, ST_DOT, ST_QUIT, ST_IDLE, ST_DONE };

#define RBUF 8192

struct sess {
    int fd;
    enum state st;
    const char *out;      /* pending output (not owned) */
    size_t outlen, outoff;
    char cmd[512];        /* storage for short commands */
    char rbuf[RBUF];
    size_t rlen;
    double t_dot;         /* when end-of-data was fully written */
    int want_out;         /* EPOLLOUT registered */
    int has_msg;          /* connection per message: this connection's message is reserved */
};

struct load {
    int ep;
    struct sockaddr_in addr;
    long total, issued, sent, failed;
    int conn_per_msg;
    const char *from, *rcpt;
    char *body;
    size_t bodylen;
    long *lat;            /* microseconds, one per sent message */
    char error[256];
    long open, greeted, cfailed;  /* idle mode */
    double t_last;        /* when the last message's reply arrived */
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_error(struct load *L, const char *what, const char *detail)
{
    if (L->error[0])
        return;
    snprintf(L->error, sizeof L->error, "%s: %.200s", what, detail);
    for (char *p = L->error; *p; p++)     /* one line, no quotes: the summary stays parseable */
        if (*p == '"' || *p == '\r' || *p == '\n')
            *p = ' ';
}

static int sess_open(struct load *L, struct sess *s)
{
    if (L->conn_per_msg && L->total) {  /* reserve this connection's message */
        if (L->issued >= L->total) {
            s->fd = -1;
            s->st = ST_DONE;
            return 0;
        }
        L->issued++;
        s->has_msg = 1;
    }
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        note_error(L, "socket", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->st = ST_CONNECT;
    s->rlen = 0;
    s->outlen = s->outoff = 0;
    s->want_out = 1;
    if (connect(s->fd, (struct sockaddr *)&L->addr, sizeof L->addr) < 0 && errno != EINPROGRESS) {
        note_error(L, "connect", strerror(errno));
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = s };
    if (epoll_ctl(L->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        note_error(L, "epoll_ctl", strerror(errno));
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    return 0;
}

static void sess_close(struct load *L, struct sess *s, enum state st)
{
    if (s->fd >= 0) {
        epoll_ctl(L->ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->st = st;
}

static void set_out_interest(struct load *L, struct sess *s, int want)
{
    if (s->want_out == want)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s };
    epoll_ctl(L->ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->want_out = want;
}

/* Write what is pending; returns -1 on error, 0 when more is pending, 1 when all is written. */
static int sess_flush(struct load *L, struct sess *s)
{
    while (s->outoff < s->outlen) {
        ssize_t n = send(s->fd, s->out + s->outoff, s->outlen - s->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out_interest(L, s, 1);
                return 0;
            }
            note_error(L, "send", strerror(errno));
            return -1;
        }
        s->outoff += (size_t)n;
    }
    set_out_interest(L, s, 0);
    if (s->st == ST_DOT)
        s->t_dot = now();
    return 1;
}

static int sess_send(struct load *L, struct sess *s, enum state next, const char *fmt, const char *arg)
{
    int n = snprintf(s->cmd, sizeof s->cmd, fmt, arg);
    if (n < 0 || (size_t)n >= sizeof s->cmd) {
        note_error(L, "command too long", fmt);
        return -1;
    }
    s->st = next;
    s->out = s->cmd;
    s->outlen = (size_t)n;
    s->outoff = 0;
    return sess_flush(L, s) < 0 ? -1 : 0;
}

/* Start the next message on this session or end it. */
static int sess_next(struct load *L, struct sess *s)
{
    if (L->conn_per_msg) {             /* the message was reserved when the connection opened */
        if (!s->has_msg)
            return sess_send(L, s, ST_QUIT, "QUIT\r\n%s", "");
        s->has_msg = 0;
        return sess_send(L, s, ST_MAIL, "MAIL FROM:<%s>\r\n", L->from);
    }
    if (L->issued >= L->total)
        return sess_send(L, s, ST_QUIT, "QUIT\r\n%s", "");
    L->issued++;
    return sess_send(L, s, ST_MAIL, "MAIL FROM:<%s>\r\n", L->from);
}

/* One complete reply with code `code` arrived: advance the session. -1 ends the session. */
static int sess_reply(struct load *L, struct sess *s, int code, const char *text)
{
    switch (s->st) {
    case ST_GREET:
        if (code != 220)
            break;
        return sess_send(L, s, ST_EHLO, "EHLO %s\r\n", "bench.localdomain");
    case ST_EHLO:
        if (code != 250)
            break;
        return sess_next(L, s);
    case ST_MAIL:
        if (code != 250)
            break;
        return sess_send(L, s, ST_RCPT, "RCPT TO:<%s>\r\n", L->rcpt);
    case ST_RCPT:
        if (code / 100 != 2)
            break;
        return sess_send(L, s, ST_DATA, "DATA\r\n%s", "");
    case ST_DATA:
        if (code != 354)
            break;
        s->st = ST_DOT;
        s->out = L->body;
        s->outlen = L->bodylen;
        s->outoff = 0;
        return sess_flush(L, s) < 0 ? -1 : 0;
    case ST_DOT:
        if (code / 100 != 2)
            break;
        L->t_last = now();
        L->lat[L->sent++] = (long)((L->t_last - s->t_dot) * 1e6);
        if (L->conn_per_msg) {
            if (sess_send(L, s, ST_QUIT, "QUIT\r\n%s", "") < 0)
                return -1;
            return 0;
        }
        return sess_next(L, s);
    case ST_QUIT:
        sess_close(L, s, ST_DONE);
        if (L->conn_per_msg && L->issued < L->total && sess_open(L, s) == 0)
            s->st = ST_CONNECT;
        return 0;
    default:
        break;
    }
    note_error(L, "unexpected reply", text);
    if (s->st >= ST_MAIL && s->st <= ST_DOT)
        L->failed++;
    return -1;
}

/* Parse complete replies out of the read buffer. */
static int sess_parse(struct load *L, struct sess *s)
{
    size_t start = 0;
    for (;;) {
        char *eol = memmem(s->rbuf + start, s->rlen - start, "\r\n", 2);
        if (!eol)
            break;
        size_t linelen = (size_t)(eol - (s->rbuf + start));
        const char *line = s->rbuf + start;
        if (linelen < 3 || line[0] < '2' || line[0] > '5') {
            note_error(L, "malformed reply", line);
            return -1;
        }
        if (linelen == 3 || line[3] == ' ') {     /* last line of the reply */
            int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
            char text[128];
            snprintf(text, sizeof text, "%.*s", (int)(linelen < 120 ? linelen : 120), line);
            size_t consumed = (size_t)(eol + 2 - s->rbuf);
            memmove(s->rbuf, s->rbuf + consumed, s->rlen - consumed);
            s->rlen -= consumed;
            start = 0;
            if (sess_reply(L, s, code, text) < 0)
                return -1;
            if (s->fd < 0 || s->st == ST_CONNECT)
                return 0;
            continue;
        }
        start += linelen + 2;
    }
    if (s->rlen == sizeof s->rbuf) {
        note_error(L, "reply too long", "");
        return -1;
    }
    return 0;
}

static void sess_fail(struct load *L, struct sess *s)
{
    sess_close(L, s, ST_DONE);
    /* the session is gone; messages it would have sent are not sent (like smtp-source) */
    (void)L;
}

static void sess_event(struct load *L, struct sess *s, unsigned ev)
{
    if (s->st == ST_CONNECT) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            note_error(L, "connect", strerror(err ? err : errno));
            L->cfailed++;
            sess_fail(L, s);
            return;
        }
        s->st = ST_GREET;
        L->open++;
        set_out_interest(L, s, 0);
        return;
    }
    if ((ev & EPOLLOUT) && s->outoff < s->outlen && sess_flush(L, s) < 0) {
        sess_fail(L, s);
        return;
    }
    if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    ssize_t n = recv(s->fd, s->rbuf + s->rlen, sizeof s->rbuf - s->rlen, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        enum state was = s->st;
        if (was != ST_QUIT && was != ST_IDLE)
            note_error(L, "connection closed by the server", n == 0 ? "eof" : strerror(errno));
        if (was >= ST_MAIL && was <= ST_DOT)
            L->failed++;
        sess_close(L, s, ST_DONE);
        if (was == ST_QUIT && L->conn_per_msg && L->issued < L->total)
            sess_open(L, s);
        return;
    }
    s->rlen += (size_t)n;
    if (s->st == ST_IDLE || (s->st == ST_GREET && L->total == 0)) {
        /* idle mode: the greeting is all we wait for, then we stay silent */
        if (s->st == ST_GREET && memmem(s->rbuf, s->rlen, "\r\n", 2)) {
            if (strncmp(s->rbuf, "220", 3) == 0)
                L->greeted++;
            else {
                note_error(L, "greeting", s->rbuf);
                L->cfailed++;
            }
            s->st = ST_IDLE;
        }
        s->rlen = 0;
        return;
    }
    if (sess_parse(L, s) < 0)
        sess_fail(L, s);
}

static char *make_body(const char *from, const char *rcpt, long size, size_t *len)
{
    size_t cap = (size_t)size + 1024;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    int n = snprintf(b, cap, "From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n\r\n", from, rcpt);
    size_t off = (size_t)n;
    static const char line[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "abcdefghijklmnop\r\n";
    while (off < (size_t)size) {          /* 80-byte lines up to the size, at least one */
        memcpy(b + off, line, sizeof line - 1);
        off += sizeof line - 1;
    }
    memcpy(b + off, ".\r\n", 3);
    *len = off + 3;
    return b;
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "smtpload: %s must be %ld..%ld: %s\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: smtpload -p PORT [-s SESSIONS] [-m MSGS] [-l BYTES] [-c] [-L LATFILE] [-t SECS]\n"
            "                [-f FROM] [-r RCPT]\n"
            "       smtpload -p PORT -i CONNECTIONS [-t SECS] [-H HOLDSECS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct load L = { .from = "bench@example.com", .rcpt = "sink@example.org" };
    long port = 0, sess = 1, size = 2048, timeout = 120, idle = 0, hold = 120;
    const char *latfile = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:s:m:l:cL:t:f:r:i:H:")) != -1) {
        switch (opt) {
        case 'p': port = parse_num(optarg, 1, 65535, "port"); break;
        case 's': sess = parse_num(optarg, 1, 20000, "sessions"); break;
        case 'm': L.total = parse_num(optarg, 1, 10000000, "messages"); break;
        case 'l': size = parse_num(optarg, 1, 50000000, "size"); break;
        case 'c': L.conn_per_msg = 1; break;
        case 'L': latfile = optarg; break;
        case 't': timeout = parse_num(optarg, 1, 86400, "timeout"); break;
        case 'f': L.from = optarg; break;
        case 'r': L.rcpt = optarg; break;
        case 'i': idle = parse_num(optarg, 1, 100000, "connections"); break;
        case 'H': hold = parse_num(optarg, 1, 86400, "hold"); break;
        default: usage();
        }
    }
    if (!port || optind != argc || (idle && L.total) || (!idle && !L.total))
        usage();
    if (strlen(L.from) > 256 || strlen(L.rcpt) > 256)
        usage();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    L.addr.sin_family = AF_INET;
    L.addr.sin_port = htons((unsigned short)port);
    L.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    L.ep = epoll_create1(EPOLL_CLOEXEC);
    if (L.ep < 0) {
        perror("smtpload: epoll_create1");
        return 2;
    }
    long nsess = idle ? idle : (sess < L.total ? sess : L.total);
    struct sess *S = calloc((size_t)nsess, sizeof *S);
    L.lat = calloc((size_t)(L.total ? L.total : 1), sizeof *L.lat);
    if (!S || !L.lat || (!idle && !(L.body = make_body(L.from, L.rcpt, size, &L.bodylen)))) {
        fprintf(stderr, "smtpload: out of memory\n");
        return 2;
    }
    double t0 = now(), deadline = t0 + (double)timeout;
    for (long i = 0; i < nsess; i++)
        if (sess_open(&L, &S[i]) < 0) {
            S[i].st = ST_DONE;
            L.cfailed++;
        }

    struct epoll_event evs[256];
    for (;;) {
        long active = 0;
        if (idle) {
            if (L.greeted + L.cfailed >= idle)
                break;
        } else {
            for (long i = 0; i < nsess; i++)
                active += S[i].fd >= 0;
            /* done when every message has its reply: sessions still waiting for a greeting or
             * for the reply to QUIT are not waited for (some servers delay greetings under load) */
            if (!active || (L.issued >= L.total && L.sent + L.failed >= L.total))
                break;
        }
        double left = deadline - now();
        if (left <= 0 || stop_flag) {
            note_error(&L, "timeout", idle ? "waiting for greetings" : "messages not all sent");
            for (long i = 0; i < nsess && !idle; i++)     /* what each unfinished session waits for */
                if (S[i].fd >= 0)
                    fprintf(stderr, "smtpload: session %ld still open in state %d, %zu bytes unparsed\n",
                            i, (int)S[i].st, S[i].rlen);
            break;
        }
        int n = epoll_wait(L.ep, evs, 256, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("smtpload: epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++)
            sess_event(&L, evs[i].data.ptr, evs[i].events);
    }
    double elapsed = now() - t0;

    if (idle) {
        printf("open=%ld greeted=%ld failed=%ld elapsed=%.3f error=\"%s\"\n", L.open, L.greeted,
               idle - L.greeted, elapsed, L.error);
        fflush(stdout);
        double until = now() + (double)hold;
        while (!stop_flag && now() < until) {
            /* keep reading (and discarding) so that a server's timeout reply does not pile up */
            int n = epoll_wait(L.ep, evs, 256, 200);
            for (int i = 0; i < n; i++) {
                struct sess *s = evs[i].data.ptr;
                char sink[512];
                if (s->fd >= 0 && recv(s->fd, sink, sizeof sink, 0) == 0)
                    sess_close(&L, s, ST_DONE);
            }
        }
        return L.greeted == idle ? 0 : 1;
    }

    if (latfile) {
        FILE *f = fopen(latfile, "w");
        if (!f) {
            perror(latfile);
            return 2;
        }
        for (long i = 0; i < L.sent; i++)
            fprintf(f, "%ld\n", L.lat[i]);
        if (fclose(f) != 0) {
            perror(latfile);
            return 2;
        }
    }
    long failed = L.total - L.sent, waiting = 0;
    for (long i = 0; i < nsess; i++)
        waiting += S[i].fd >= 0 && S[i].st == ST_GREET;
    printf("sent=%ld failed=%ld elapsed=%.3f ungreeted=%ld error=\"%s\"\n", L.sent, failed,
           L.sent ? L.t_last - t0 : elapsed, waiting, L.error);
    return failed ? 1 : 0;
}

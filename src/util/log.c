#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Set once at start-up (and on reload of syslog_name); not message state. */
static struct {
    const char *ident;
    int use_syslog;
    int verbose;
    int journal;            /* stderr is systemd's journal stream */
} log_ctx = { "postern", 0, 0, 0 };

/* Under systemd, stderr is a journal stream when JOURNAL_STREAM names its
 * device and inode (systemd.exec(5)); a child that redirected stderr
 * elsewhere keeps the variable but not the stream. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, const char *syslog_name, int verbose)
{
    log_ctx.ident = ident ? ident : "postern";
    log_ctx.verbose = verbose;
    log_ctx.journal = stderr_is_journal();
    if (log_ctx.use_syslog) {
        closelog();
        log_ctx.use_syslog = 0;
    }
    if (syslog_name && *syslog_name) {
        openlog(syslog_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
        log_ctx.use_syslog = 1;
    }
}

int log_verbose(void) { return log_ctx.verbose; }

static void log_emit(int prio, const char *tag, const char *fmt, va_list ap,
                     int with_errno)
{
    char msg[2048];
    int saved = errno;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (with_errno) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, ": %s", strerror(saved));
    }
    if (log_ctx.journal) {
        /* the journal stamps time, name and pid itself and reads the
         * priority from a "<N>" prefix; with syslog on, the line already
         * reaches it through /dev/log: once is enough */
        if (!log_ctx.use_syslog)
            fprintf(stderr, "<%d>%s%s\n", prio, tag, msg);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        localtime_r(&ts.tv_sec, &tm);
        char tbuf[32];
        strftime(tbuf, sizeof tbuf, "%b %e %H:%M:%S", &tm);
        fprintf(stderr, "%s %s[%ld]: %s%s\n", tbuf, log_ctx.ident, (long)getpid(),
                tag, msg);
    }
    if (log_ctx.use_syslog)
        syslog(prio, "%s%s", tag, msg);
    errno = saved;
}

#define LOG_BODY(prio, tag, en) \
    va_list ap; va_start(ap, fmt); log_emit(prio, tag, fmt, ap, en); va_end(ap)

void log_info(const char *fmt, ...) { LOG_BODY(LOG_INFO, "", 0); }
void log_warning(const char *fmt, ...) { LOG_BODY(LOG_WARNING, "warning: ", 0); }
void log_warning_errno(const char *fmt, ...) { LOG_BODY(LOG_WARNING, "warning: ", 1); }
void log_debug(const char *fmt, ...)
{
    if (!log_ctx.verbose)
        return;
    LOG_BODY(LOG_DEBUG, "debug: ", 0);
}
void log_fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "fatal: ", 0);
    exit(1);
}
void log_panic(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "panic: ", 0);
    abort();
}

/* The one escaping rule for text from outside in log lines (docs/logging.md).
 * extra: printable bytes that must be escaped as well (field delimiters). */
static int log_must_escape(unsigned char c, const char *extra)
{
    if (c < 0x20 || c > 0x7e || c == '\\')
        return 1;
    return extra && strchr(extra, c) != NULL;
}

static char *log_escape(const char *s, size_t len, const char *extra, char *out,
                        size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    if (outlen == 0)
        return out;
    size_t full = 0;
    for (size_t i = 0; i < len; i++)
        full += log_must_escape((unsigned char)s[i], extra) ? 4 : 1;
    /* too long: keep what fits before a "..." (never half an escape) */
    size_t room = full <= outlen - 1 ? full : (outlen - 1 >= 3 ? outlen - 1 - 3 : 0);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int esc = log_must_escape(c, extra);
        if (o + (esc ? 4u : 1u) > room)
            break;
        if (esc) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        } else {
            out[o++] = (char)c;
        }
    }
    if (full > outlen - 1)
        for (size_t k = 0; k < 3 && o + 1 < outlen; k++)
            out[o++] = '.';
    out[o] = '\0';
    return out;
}

char *log_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
    return log_escape(s, len, NULL, out, outlen);
}

char *log_addr(const char *addr, char *out, size_t outlen)
{
    if (!addr)
        addr = "";
    return log_escape(addr, strlen(addr), " <>,", out, outlen);
}
